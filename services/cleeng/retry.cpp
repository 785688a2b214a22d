#include "services/cleeng/retry.hpp"

#include <algorithm>
#include <charconv>

namespace payorch::cleeng {

using std::chrono::milliseconds;

Verdict Classify(int http_status) {
  if (http_status >= 200 && http_status < 300) return Verdict::kSuccess;
  if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status < 600)) {
    return Verdict::kRetry;
  }
  return Verdict::kPermanent;
}

std::optional<milliseconds> ParseRetryAfter(std::string_view header) {
  constexpr long long kMaxSeconds = 3600;
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  long long seconds = 0;
  const auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (header.empty() || ec != std::errc() || end != header.data() + header.size() || seconds < 0) {
    return std::nullopt;
  }
  return milliseconds(std::min(seconds, kMaxSeconds) * 1000);
}

milliseconds RetryDelay(int retry, milliseconds base, milliseconds max, double jitter,
                        std::optional<milliseconds> retry_after) {
  if (retry_after) return *retry_after;
  milliseconds delay = base;
  for (int i = 1; i < retry && delay < max; ++i) delay *= 2;
  delay = std::min(delay, max);
  const double scaled = static_cast<double>(delay.count()) / 2.0 * std::clamp(jitter, 0.0, 1.0);
  return delay / 2 + milliseconds(static_cast<long long>(scaled));
}

}  // namespace payorch::cleeng
