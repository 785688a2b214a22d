#include "gateways/sandbox/script.hpp"

#include <charconv>
#include <set>

namespace payorch::gateways::sandbox {
namespace {

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t Fnv1a(std::uint64_t hash, std::string_view text) {
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

// A decimal in [0, 1]: "0", "1", "0.05", ".5".
std::optional<double> ParseRate(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  double value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (error != std::errc() || end != text.data() + text.size() || !(value >= 0 && value <= 1)) {
    return std::nullopt;
  }
  return value;
}

std::optional<Fault> ParseFault(std::string_view name) {
  if (name == "lost") return Fault{Fault::Kind::kLost, 0};
  if (name == "crash") return Fault{Fault::Kind::kCrash, 0};
  if (const auto code = StatusCodeFromName(name)) return Fault{Fault::Kind::kStatus, *code};
  return std::nullopt;
}

std::optional<Fault> PickFault(const std::vector<FaultRate>& faults, double u) {
  double cumulative = 0;
  for (const auto& fault : faults) {
    cumulative += fault.rate;
    if (u < cumulative) return fault.fault;
  }
  return std::nullopt;
}

}  // namespace

core::Result<std::vector<FaultRate>, std::string> ParseFaultRates(std::string_view text) {
  std::vector<FaultRate> faults;
  std::set<std::string> seen;
  double total = 0;
  for (bool more = !text.empty(); more;) {
    const auto comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    more = comma != std::string_view::npos;
    if (more) text.remove_prefix(comma + 1);
    const auto equals = part.find('=');
    if (equals == std::string_view::npos) {
      return "\"" + std::string(part) + "\" is not NAME=RATE";
    }
    const auto name = part.substr(0, equals);
    const auto fault = ParseFault(name);
    if (!fault) {
      return "\"" + std::string(name) +
             "\" is not a gRPC status name (UNAVAILABLE, DEADLINE_EXCEEDED, ...), lost or crash";
    }
    const auto rate = ParseRate(part.substr(equals + 1));
    if (!rate) return "the rate of " + std::string(name) + " must be a decimal in [0, 1]";
    if (!seen.insert(std::string(name)).second) return std::string(name) + " is named twice";
    total += *rate;
    faults.push_back({*fault, *rate});
  }
  if (total > 1.0 + 1e-9) return std::string("the rates sum to more than 1");
  return faults;
}

std::string FaultName(const Fault& fault) {
  switch (fault.kind) {
    case Fault::Kind::kStatus: return StatusCodeName(fault.status_code);
    case Fault::Kind::kLost: return "lost";
    case Fault::Kind::kCrash: return "crash";
  }
  return "?";
}

double Draw(std::uint64_t seed, std::string_view key, std::int64_t attempt,
            std::string_view purpose) {
  std::uint64_t hash = Fnv1a(14695981039346656037ULL, key);
  hash = Fnv1a(hash ^ 0xff, purpose);
  const std::uint64_t mixed =
      SplitMix64(SplitMix64(seed ^ hash) ^ static_cast<std::uint64_t>(attempt));
  // The top 53 bits: every double in [0, 1) with that spacing is equally likely.
  return static_cast<double>(mixed >> 11) * 0x1.0p-53;
}

CallPlan PlanCall(const Script& script, std::string_view token, std::string_view key,
                  std::int64_t attempt) {
  CallPlan plan;
  if (auto scripted = ParseScriptedBehaviour(token)) {
    plan.behaviour = std::move(*scripted);
  } else if (script.default_behaviour) {
    plan.behaviour = *script.default_behaviour;
  }
  if (plan.behaviour.kind == Behaviour::Kind::kLatency) {
    plan.behaviour.delay =
        SampleLatency(plan.behaviour.latency, Draw(script.seed, key, attempt, "token-latency-1"),
                      Draw(script.seed, key, attempt, "token-latency-2"));
  }
  plan.fault = PickFault(script.faults, Draw(script.seed, key, attempt, "fault"));
  plan.latency = SampleLatency(script.latency, Draw(script.seed, key, attempt, "latency-1"),
                               Draw(script.seed, key, attempt, "latency-2"));
  return plan;
}

std::chrono::milliseconds PlanStatusLatency(const Script& script, std::string_view key) {
  return SampleLatency(script.latency, Draw(script.seed, key, 0, "status-latency-1"),
                       Draw(script.seed, key, 0, "status-latency-2"));
}

}  // namespace payorch::gateways::sandbox
