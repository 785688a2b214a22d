#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "services/core/result.hpp"

namespace payorch::admin {

// How operators write times on the command line (`--since 2h`, `--until 2026-11-29T10:00Z`).
// Pure functions: "now" is passed in, so tests pin it.

// Upper bound on a relative duration: ten years, so that arithmetic on time points cannot
// overflow and a typo ("--since 99999999d") is reported instead of silently meaning "ever".
inline constexpr std::chrono::hours kMaxDuration{24 * 3660};

// A duration of one or more <positive integer><unit> parts, units s, m, h, d, w (seconds,
// minutes, hours, days, weeks): "90s", "15m", "2h", "7d", "1h30m". No sign, no blanks, no bare
// number; at most kMaxDuration. The error is one line naming the value.
core::Result<std::chrono::seconds, std::string> ParseDuration(std::string_view text);

// A point in time: either a duration as above, meaning that long before `now`, or an ISO-8601
// date or date-time in UTC unless it names an offset:
//   2026-11-29                     midnight UTC
//   2026-11-29T10:15 / 10:15:30 / 10:15:30.250   (a space works instead of T)
//   ...Z, ...+02:00, ...-0530      with a zone
// Fields are range-checked (2026-02-30 and 24:00 are errors).
core::Result<std::chrono::system_clock::time_point, std::string> ParseTimePoint(
    std::string_view text, std::chrono::system_clock::time_point now);

// `time` as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, microseconds): a timestamptz literal.
std::string FormatUtc(std::chrono::system_clock::time_point time);

}  // namespace payorch::admin
