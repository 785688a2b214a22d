#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateways/sandbox/behaviour.hpp"
#include "gateways/sandbox/latency.hpp"
#include "services/core/result.hpp"

namespace payorch::gateways::sandbox {

// The process-wide script of the sandbox: what happens to calls whose token scripts nothing, and
// the faults and latency every call may meet, so that the real worker can rehearse failure modes
// with real tokens. Transport-free and pure; the randomness is a function of a seed (see Draw),
// so a run can be repeated exactly.

// A fault injected into one Authorize/Capture/Terminate call.
struct Fault {
  enum class Kind {
    kStatus,  // answer `status_code` before anything happens (no effect; replays included)
    kLost,    // handle the call as usual (effect or replay), then answer UNKNOWN
    kCrash,   // handle the call as usual (effect or replay), then the process dies
  };
  Kind kind = Kind::kStatus;
  int status_code = 0;  // kStatus: gRPC status code 1..16
  bool operator==(const Fault&) const = default;
};

struct FaultRate {
  Fault fault;
  double rate = 0;  // in [0, 1]; the rates of a script sum to at most 1
  bool operator==(const FaultRate&) const = default;
};

// `--error-rate`: comma-separated NAME=RATE, NAME a gRPC status name (UNAVAILABLE,
// DEADLINE_EXCEEDED, ...; not OK), `lost` or `crash`; RATE a decimal in [0, 1]; each name at most
// once; the rates sum to at most 1. "" is no faults. The error names the offending part.
[[nodiscard]] core::Result<std::vector<FaultRate>, std::string> ParseFaultRates(
    std::string_view text);

// "UNAVAILABLE", "lost", "crash".
[[nodiscard]] std::string FaultName(const Fault& fault);

struct Script {
  std::uint64_t seed = 0;
  // Added to the answer of every PaymentGateway call (GetPaymentStatus included).
  LatencySpec latency;
  // At most one fault per Authorize/Capture/Terminate call, drawn from these rates.
  std::vector<FaultRate> faults;
  // The behaviour of calls whose token scripts none; approve when unset.
  std::optional<Behaviour> default_behaviour;
};

// What one Authorize/Capture/Terminate call meets.
struct CallPlan {
  Behaviour behaviour;  // the token's, the default, or approve; a kLatency delay is sampled
  std::optional<Fault> fault;
  std::chrono::milliseconds latency{0};  // the process-wide latency of this call
};

// Pure: a uniform number in [0, 1) determined by (seed, key, attempt, purpose) alone. The same
// inputs give the same number in every process and on every platform (splitmix64 over FNV-1a).
[[nodiscard]] double Draw(std::uint64_t seed, std::string_view key, std::int64_t attempt,
                          std::string_view purpose);

// Pure: the plan for a call with `token` and `key` at `attempt` (RequestMeta.attempt). Calls with
// the same key and attempt get the same plan for a given seed, so a failing rehearsal repeats
// with the same --seed; the worker's retries carry a new attempt number and draw again.
[[nodiscard]] CallPlan PlanCall(const Script& script, std::string_view token,
                                std::string_view key, std::int64_t attempt);

// Pure: the process-wide latency of a GetPaymentStatus call for `key` (faults do not apply).
[[nodiscard]] std::chrono::milliseconds PlanStatusLatency(const Script& script,
                                                          std::string_view key);

}  // namespace payorch::gateways::sandbox
