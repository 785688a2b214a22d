#include "gateways/sandbox/behaviour.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

namespace payorch::gateways::sandbox {
namespace {

// gRPC's status codes by number (grpc::StatusCode; the sandbox's logic is transport-free).
constexpr int kMaxStatusCode = 16;
constexpr std::array<std::string_view, kMaxStatusCode + 1> kStatusCodeNames = {
    "OK",           "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED", "NOT_FOUND",     "ALREADY_EXISTS",    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",    "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",          "UNAVAILABLE",       "DATA_LOSS",
    "UNAUTHENTICATED"};

// Plain decimal digits only (no sign, no spaces), within [0, max].
std::optional<long long> ParseBoundedCount(std::string_view text, long long max) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

bool IsValidDeclineCode(std::string_view code) {
  if (code.empty() || code.size() > kMaxDeclineCodeLength) return false;
  return std::all_of(code.begin(), code.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

// The part after "prefix:" when `token` starts with it.
std::optional<std::string_view> Argument(std::string_view token, std::string_view prefix) {
  if (token.size() <= prefix.size() || !token.starts_with(prefix) || token[prefix.size()] != ':') {
    return std::nullopt;
  }
  return token.substr(prefix.size() + 1);
}

}  // namespace

std::optional<Behaviour> ParseScriptedBehaviour(std::string_view token) {
  Behaviour behaviour;
  if (token == "approve") {
    return behaviour;
  } else if (token == "decline") {
    behaviour.kind = Behaviour::Kind::kDecline;
    behaviour.decline_code = std::string(kDefaultDeclineCode);
  } else if (token == "lost") {
    behaviour.kind = Behaviour::Kind::kLost;
  } else if (token == "invalid") {
    behaviour.kind = Behaviour::Kind::kInvalid;
  } else if (token == "crash-after-effect") {
    behaviour.kind = Behaviour::Kind::kCrashAfterEffect;
  } else if (const auto code = Argument(token, "decline")) {
    if (!IsValidDeclineCode(*code)) return std::nullopt;
    behaviour.kind = Behaviour::Kind::kDecline;
    behaviour.decline_code = std::string(*code);
  } else if (const auto count = Argument(token, "unavailable")) {
    const auto n = ParseBoundedCount(*count, kMaxUnavailableCalls);
    if (!n) return std::nullopt;
    behaviour.kind = Behaviour::Kind::kUnavailable;
    behaviour.unavailable_calls = static_cast<int>(*n);
  } else if (const auto millis = Argument(token, "slow")) {
    const auto ms = ParseBoundedCount(*millis, kMaxSlowDelay.count());
    if (!ms) return std::nullopt;
    behaviour.kind = Behaviour::Kind::kSlow;
    behaviour.delay = std::chrono::milliseconds(*ms);
  } else if (const auto spec = Argument(token, "latency")) {
    const auto latency = ParseLatency(*spec);
    if (!latency || latency->kind == LatencySpec::Kind::kNone) return std::nullopt;
    behaviour.kind = Behaviour::Kind::kLatency;
    behaviour.latency = *latency;
  } else if (const auto error = Argument(token, "error")) {
    // STATUS or STATUS:N
    const auto colon = error->find(':');
    const auto status = StatusCodeFromName(error->substr(0, colon));
    if (!status) return std::nullopt;
    behaviour.kind = Behaviour::Kind::kError;
    behaviour.status_code = *status;
    behaviour.unavailable_calls = -1;
    if (colon != std::string_view::npos) {
      const auto n = ParseBoundedCount(error->substr(colon + 1), kMaxUnavailableCalls);
      if (!n) return std::nullopt;
      behaviour.unavailable_calls = static_cast<int>(*n);
    }
  } else {
    return std::nullopt;
  }
  return behaviour;
}

Behaviour ParseBehaviour(std::string_view token) {
  return ParseScriptedBehaviour(token).value_or(Behaviour{});
}

std::optional<int> StatusCodeFromName(std::string_view name) {
  for (int code = 1; code <= kMaxStatusCode; ++code) {
    if (kStatusCodeNames[code] == name) return code;
  }
  return std::nullopt;
}

std::string StatusCodeName(int code) {
  if (code < 0 || code > kMaxStatusCode) return "CODE_" + std::to_string(code);
  return std::string(kStatusCodeNames[code]);
}

std::string_view KindName(Behaviour::Kind kind) {
  switch (kind) {
    case Behaviour::Kind::kApprove: return "approve";
    case Behaviour::Kind::kDecline: return "decline";
    case Behaviour::Kind::kUnavailable: return "unavailable";
    case Behaviour::Kind::kSlow: return "slow";
    case Behaviour::Kind::kLost: return "lost";
    case Behaviour::Kind::kInvalid: return "invalid";
    case Behaviour::Kind::kError: return "error";
    case Behaviour::Kind::kLatency: return "latency";
    case Behaviour::Kind::kCrashAfterEffect: return "crash-after-effect";
  }
  return "unknown";
}

}  // namespace payorch::gateways::sandbox
