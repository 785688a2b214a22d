#include "gateways/sandbox/behaviour.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace payorch::gateways::sandbox {
namespace {

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

Behaviour ParseBehaviour(std::string_view token) {
  Behaviour behaviour;
  if (token == "decline") {
    behaviour.kind = Behaviour::Kind::kDecline;
    behaviour.decline_code = std::string(kDefaultDeclineCode);
  } else if (token == "lost") {
    behaviour.kind = Behaviour::Kind::kLost;
  } else if (token == "invalid") {
    behaviour.kind = Behaviour::Kind::kInvalid;
  } else if (const auto code = Argument(token, "decline")) {
    if (IsValidDeclineCode(*code)) {
      behaviour.kind = Behaviour::Kind::kDecline;
      behaviour.decline_code = std::string(*code);
    }
  } else if (const auto count = Argument(token, "unavailable")) {
    if (const auto n = ParseBoundedCount(*count, kMaxUnavailableCalls)) {
      behaviour.kind = Behaviour::Kind::kUnavailable;
      behaviour.unavailable_calls = static_cast<int>(*n);
    }
  } else if (const auto millis = Argument(token, "slow")) {
    if (const auto ms = ParseBoundedCount(*millis, kMaxSlowDelay.count())) {
      behaviour.kind = Behaviour::Kind::kSlow;
      behaviour.delay = std::chrono::milliseconds(*ms);
    }
  }
  return behaviour;
}

std::string_view KindName(Behaviour::Kind kind) {
  switch (kind) {
    case Behaviour::Kind::kApprove: return "approve";
    case Behaviour::Kind::kDecline: return "decline";
    case Behaviour::Kind::kUnavailable: return "unavailable";
    case Behaviour::Kind::kSlow: return "slow";
    case Behaviour::Kind::kLost: return "lost";
    case Behaviour::Kind::kInvalid: return "invalid";
  }
  return "unknown";
}

}  // namespace payorch::gateways::sandbox
