#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace payorch::cleeng {

// What an HTTP status from Cleeng means for the call that got it.
enum class Verdict {
  kSuccess,    // 2xx
  kRetry,      // 408, 429, 5xx: Cleeng did not decide; try again later
  kPermanent,  // any other status (4xx, unexpected 1xx/3xx): Cleeng refused; repeating won't help
};
Verdict Classify(int http_status);

// A Retry-After header given in seconds ("120"), capped at one hour; nullopt for an absent,
// malformed or HTTP-date value (then the backoff applies).
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view header);

// The wait before retry number `retry` (1 for the first retry): Retry-After when Cleeng sent
// one, else exponential backoff base * 2^(retry-1) capped at `max`, with equal jitter (half
// fixed, half scaled by `jitter` in [0, 1)) so that many workers do not retry in step.
std::chrono::milliseconds RetryDelay(int retry, std::chrono::milliseconds base,
                                     std::chrono::milliseconds max, double jitter,
                                     std::optional<std::chrono::milliseconds> retry_after);

}  // namespace payorch::cleeng
