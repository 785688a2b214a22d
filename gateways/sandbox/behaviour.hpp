#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace payorch::gateways::sandbox {

// What the sandbox does for a request, scripted by the event's `token` (see README.md):
//   approve / anything not matching below   APPROVED
//   decline                                 DECLINED, decline_code "card_declined"
//   decline:CODE                            DECLINED, decline_code CODE
//   unavailable:N                           the first N calls for the key answer UNAVAILABLE
//   slow:MS                                 effect at once, answer after MS milliseconds
//   lost                                    effect, then answer UNKNOWN
//   invalid                                 INVALID_ARGUMENT, no effect
// A malformed scripted token (a bad or out-of-range number, a bad decline code) is not an error:
// like any unknown token it approves. Tokens are case-sensitive.
struct Behaviour {
  enum class Kind { kApprove, kDecline, kUnavailable, kSlow, kLost, kInvalid };

  Kind kind = Kind::kApprove;
  std::string decline_code;            // kDecline only
  int unavailable_calls = 0;           // kUnavailable only
  std::chrono::milliseconds delay{0};  // kSlow only

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

// "approve", "decline", ... for logs and test names.
[[nodiscard]] std::string_view KindName(Behaviour::Kind kind);

}  // namespace payorch::gateways::sandbox
