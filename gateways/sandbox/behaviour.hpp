#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "gateways/sandbox/latency.hpp"

namespace payorch::gateways::sandbox {

// What the sandbox does for a request, scripted by the event's `token` (see README.md):
//   approve / anything not matching below   APPROVED
//   decline                                 DECLINED, decline_code "card_declined"
//   decline:CODE                            DECLINED, decline_code CODE
//   unavailable:N                           the first N calls for the key answer UNAVAILABLE
//   error:STATUS[:N]                        the first N calls for the key (every call without
//                                           N) answer gRPC STATUS (e.g. FAILED_PRECONDITION)
//   slow:MS                                 effect at once, answer after MS milliseconds
//   latency:SPEC                            effect at once, answer after a delay drawn from SPEC
//                                           (latency.hpp: "10-50", "p50=20ms,p99=200ms")
//   lost                                    effect, then answer UNKNOWN
//   crash-after-effect                      effect (durable with a state file), then the process
//                                           dies at once, as kill -9 would end it
//   invalid                                 INVALID_ARGUMENT, no effect
// A malformed scripted token (a bad or out-of-range number, a bad decline code) is not an error:
// like any unknown token it approves. Tokens are case-sensitive.
struct Behaviour {
  enum class Kind {
    kApprove,
    kDecline,
    kUnavailable,
    kSlow,
    kLost,
    kInvalid,
    kError,
    kLatency,
    kCrashAfterEffect
  };

  Kind kind = Kind::kApprove;
  std::string decline_code;            // kDecline only
  int unavailable_calls = 0;           // kUnavailable; kError: how many calls (-1: every call)
  std::chrono::milliseconds delay{0};  // kSlow; kLatency once sampled (see PlanCall)
  int status_code = 0;                 // kError: the gRPC status code (1..16)
  LatencySpec latency{};               // kLatency only

  bool operator==(const Behaviour&) const = default;
};

inline constexpr std::string_view kDefaultDeclineCode = "card_declined";
// Bounds on scripted numbers, so that a token can neither park a server thread for long nor make
// a key unusable.
inline constexpr int kMaxUnavailableCalls = 1000;
inline constexpr std::chrono::milliseconds kMaxSlowDelay{60'000};
// A decline code is 1..64 characters of [A-Za-z0-9_.-].
inline constexpr std::size_t kMaxDeclineCodeLength = 64;

// Pure: the behaviour scripted by `token`. Never fails (see the rules above).
[[nodiscard]] Behaviour ParseBehaviour(std::string_view token);

// Pure: the behaviour `token` scripts, or nullopt when it scripts none (an unknown or malformed
// token, which approves unless the sandbox has a --default-behaviour). "approve" is scripted.
[[nodiscard]] std::optional<Behaviour> ParseScriptedBehaviour(std::string_view token);

// The gRPC status code a name stands for ("UNAVAILABLE" -> 14), 1..16 only (OK is no error).
[[nodiscard]] std::optional<int> StatusCodeFromName(std::string_view name);
// "UNAVAILABLE" for 14; "CODE_<n>" outside 0..16.
[[nodiscard]] std::string StatusCodeName(int code);

// "approve", "decline", ... for logs and test names.
[[nodiscard]] std::string_view KindName(Behaviour::Kind kind);

}  // namespace payorch::gateways::sandbox
