#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace payorch::gateways::sandbox {

// A latency distribution, as `--latency` and the `latency:SPEC` token write it:
//   ""                    none (0 ms)
//   MS                    fixed, e.g. "20" or "20ms" or "2s"
//   MIN-MAX               uniform over [MIN, MAX], e.g. "10-50" or "10ms-2s"
//   p50=MS,p99=MS         log-normal with that median and 99th percentile (p99 >= p50 > 0),
//                         e.g. "p50=20ms,p99=200ms": the long tail real gateways have
// Every value is at most kMaxLatency; a sample is capped there too.
struct LatencySpec {
  enum class Kind { kNone, kFixed, kUniform, kLogNormal };
  Kind kind = Kind::kNone;
  std::chrono::milliseconds low{0};   // fixed: the value; uniform: MIN; log-normal: p50
  std::chrono::milliseconds high{0};  // uniform: MAX; log-normal: p99

  bool operator==(const LatencySpec&) const = default;
};

inline constexpr std::chrono::milliseconds kMaxLatency{60'000};

// Pure: the spec `text` writes, or nullopt when it is malformed or out of range.
[[nodiscard]] std::optional<LatencySpec> ParseLatency(std::string_view text);

// Pure: a sample of `spec` from two independent uniform numbers in [0, 1) (the caller owns the
// randomness, so a sample is reproducible). Within [0, kMaxLatency].
[[nodiscard]] std::chrono::milliseconds SampleLatency(const LatencySpec& spec, double u1,
                                                      double u2);

// "none", "20ms", "10ms-50ms", "p50=20ms,p99=200ms": for logs.
[[nodiscard]] std::string LatencyText(const LatencySpec& spec);

}  // namespace payorch::gateways::sandbox
