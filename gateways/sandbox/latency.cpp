#include "gateways/sandbox/latency.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>

namespace payorch::gateways::sandbox {
namespace {

using std::chrono::milliseconds;

// The standard normal's 99th percentile: p99 = p50 * exp(sigma * kZ99).
constexpr double kZ99 = 2.3263478740408408;

// "20", "20ms" or "2s": plain decimal digits and an optional unit, within [0, kMaxLatency].
std::optional<milliseconds> ParseDuration(std::string_view text) {
  long long scale = 1;
  if (text.ends_with("ms")) {
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
    scale = 1000;
  }
  if (text.empty() || text.size() > 6 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  long long value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  value *= scale;
  if (value > kMaxLatency.count()) return std::nullopt;
  return milliseconds(value);
}

// "p50=20ms,p99=200ms" (either order).
std::optional<LatencySpec> ParsePercentiles(std::string_view text) {
  const auto comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::optional<milliseconds> p50, p99;
  for (const auto part : {text.substr(0, comma), text.substr(comma + 1)}) {
    if (part.starts_with("p50=") && !p50) {
      p50 = ParseDuration(part.substr(4));
      if (!p50) return std::nullopt;
    } else if (part.starts_with("p99=") && !p99) {
      p99 = ParseDuration(part.substr(4));
      if (!p99) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (p50->count() <= 0 || *p99 < *p50) return std::nullopt;
  return LatencySpec{LatencySpec::Kind::kLogNormal, *p50, *p99};
}

std::string MillisText(milliseconds value) { return std::to_string(value.count()) + "ms"; }

}  // namespace

std::optional<LatencySpec> ParseLatency(std::string_view text) {
  if (text.empty()) return LatencySpec{};
  if (text.starts_with("p")) return ParsePercentiles(text);
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    const auto low = ParseDuration(text.substr(0, dash));
    const auto high = ParseDuration(text.substr(dash + 1));
    if (!low || !high || *high < *low) return std::nullopt;
    return LatencySpec{LatencySpec::Kind::kUniform, *low, *high};
  }
  const auto fixed = ParseDuration(text);
  if (!fixed) return std::nullopt;
  return LatencySpec{LatencySpec::Kind::kFixed, *fixed, *fixed};
}

milliseconds SampleLatency(const LatencySpec& spec, double u1, double u2) {
  switch (spec.kind) {
    case LatencySpec::Kind::kNone: return milliseconds(0);
    case LatencySpec::Kind::kFixed: return spec.low;
    case LatencySpec::Kind::kUniform: {
      const auto span = static_cast<double>((spec.high - spec.low).count() + 1);
      const auto offset = static_cast<long long>(std::floor(std::clamp(u1, 0.0, 1.0) * span));
      return std::min(spec.low + milliseconds(offset), spec.high);
    }
    case LatencySpec::Kind::kLogNormal: {
      // Box-Muller: a standard normal from two uniforms; 1 - u1 is in (0, 1], so log is finite.
      const double z = std::sqrt(-2.0 * std::log(1.0 - std::clamp(u1, 0.0, 0.999999999))) *
                       std::cos(2.0 * std::numbers::pi * u2);
      const double median = static_cast<double>(spec.low.count());
      const double sigma = std::log(static_cast<double>(spec.high.count()) / median) / kZ99;
      const double value = median * std::exp(sigma * z);
      return milliseconds(static_cast<long long>(
          std::clamp(std::round(value), 0.0, static_cast<double>(kMaxLatency.count()))));
    }
  }
  return milliseconds(0);
}

std::string LatencyText(const LatencySpec& spec) {
  switch (spec.kind) {
    case LatencySpec::Kind::kNone: return "none";
    case LatencySpec::Kind::kFixed: return MillisText(spec.low);
    case LatencySpec::Kind::kUniform: return MillisText(spec.low) + "-" + MillisText(spec.high);
    case LatencySpec::Kind::kLogNormal:
      return "p50=" + MillisText(spec.low) + ",p99=" + MillisText(spec.high);
  }
  return "?";
}

}  // namespace payorch::gateways::sandbox
