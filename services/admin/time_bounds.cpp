#include "services/admin/time_bounds.hpp"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <optional>

namespace payorch::admin {

namespace {

using std::chrono::system_clock;

bool IsDigit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// Reads exactly `count` digits at `pos`, advancing it; nullopt when they are not all digits.
std::optional<int> Digits(std::string_view text, std::size_t& pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (!IsDigit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return value;
}

bool Consume(std::string_view text, std::size_t& pos, char expected) {
  if (pos < text.size() && text[pos] == expected) {
    ++pos;
    return true;
  }
  return false;
}

std::string BadTime(std::string_view text) {
  return "bad time '" + std::string(text) +
         "': expected a duration such as 2h, 30m, 7d or an ISO date such as 2026-11-29 or "
         "2026-11-29T10:15:00Z";
}

// The ISO-8601 forms documented in the header; nullopt when `text` is not one of them.
std::optional<system_clock::time_point> ParseIso(std::string_view text) {
  using namespace std::chrono;
  std::size_t pos = 0;
  const auto year = Digits(text, pos, 4);
  if (!year || !Consume(text, pos, '-')) return std::nullopt;
  const auto month = Digits(text, pos, 2);
  if (!month || !Consume(text, pos, '-')) return std::nullopt;
  const auto day = Digits(text, pos, 2);
  if (!day) return std::nullopt;
  const year_month_day date{std::chrono::year{*year},
                            std::chrono::month{static_cast<unsigned>(*month)},
                            std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  system_clock::time_point time = sys_days{date};
  if (pos == text.size()) return time;

  if (!Consume(text, pos, 'T') && !Consume(text, pos, 't') && !Consume(text, pos, ' ')) {
    return std::nullopt;
  }
  const auto hour = Digits(text, pos, 2);
  if (!hour || *hour > 23 || !Consume(text, pos, ':')) return std::nullopt;
  const auto minute = Digits(text, pos, 2);
  if (!minute || *minute > 59) return std::nullopt;
  time += hours{*hour} + minutes{*minute};
  if (Consume(text, pos, ':')) {
    const auto second = Digits(text, pos, 2);
    if (!second || *second > 59) return std::nullopt;
    time += seconds{*second};
    if (Consume(text, pos, '.')) {
      // Up to microseconds; further digits are accepted and ignored.
      std::int64_t micros = 0;
      std::size_t digits = 0;
      while (pos < text.size() && IsDigit(text[pos])) {
        if (digits < 6) micros = micros * 10 + (text[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (std::size_t i = digits; i < 6; ++i) micros *= 10;
      time += microseconds{micros};
    }
  }
  if (pos == text.size()) return time;
  if (Consume(text, pos, 'Z') || Consume(text, pos, 'z')) {
    return pos == text.size() ? std::optional(time) : std::nullopt;
  }
  const bool east = Consume(text, pos, '+');
  if (!east && !Consume(text, pos, '-')) return std::nullopt;
  const auto offset_hours = Digits(text, pos, 2);
  if (!offset_hours || *offset_hours > 23) return std::nullopt;
  Consume(text, pos, ':');
  const auto offset_minutes = Digits(text, pos, 2);
  if (!offset_minutes || *offset_minutes > 59 || pos != text.size()) return std::nullopt;
  const auto offset = hours{*offset_hours} + minutes{*offset_minutes};
  // Local time = UTC + offset for zones east of Greenwich.
  return east ? time - offset : time + offset;
}

}  // namespace

core::Result<std::chrono::seconds, std::string> ParseDuration(std::string_view text) {
  const auto bad = [&] {
    return "bad duration '" + std::string(text) +
           "': expected <number><unit> parts with units s, m, h, d, w, such as 2h or 1h30m";
  };
  if (text.empty()) return bad();
  std::chrono::seconds total{0};
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::int64_t number = 0;
    std::size_t digits = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      number = number * 10 + (text[pos] - '0');
      if (++digits > 12) return bad();  // far beyond kMaxDuration in any unit
      ++pos;
    }
    if (digits == 0 || pos == text.size()) return bad();
    std::int64_t unit_seconds = 0;
    switch (text[pos]) {
      case 's': unit_seconds = 1; break;
      case 'm': unit_seconds = 60; break;
      case 'h': unit_seconds = 3600; break;
      case 'd': unit_seconds = 86400; break;
      case 'w': unit_seconds = 7 * 86400; break;
      default: return bad();
    }
    ++pos;
    total += std::chrono::seconds{number * unit_seconds};
    if (total > kMaxDuration) {
      return "duration '" + std::string(text) + "' is longer than ten years";
    }
  }
  if (total.count() == 0) return "duration '" + std::string(text) + "' is zero";
  return total;
}

core::Result<std::chrono::system_clock::time_point, std::string> ParseTimePoint(
    std::string_view text, std::chrono::system_clock::time_point now) {
  if (!text.empty() && IsDigit(text.front()) && !IsDigit(text.back())) {
    // Ends in a unit letter: a duration ("2h"), unless it is a date-time ending in a zone.
    const char last = text.back();
    if (last == 's' || last == 'm' || last == 'h' || last == 'd' || last == 'w') {
      auto duration = ParseDuration(text);
      if (!duration) return duration.error();
      return now - *duration;
    }
  }
  if (auto time = ParseIso(text)) return *time;
  return BadTime(text);
}

std::string FormatUtc(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto micros = floor<microseconds>(time);
  const auto day = floor<days>(micros);
  const year_month_day date{day};
  const hh_mm_ss clock{micros - day};
  char buffer[40];
  std::snprintf(
      buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
      static_cast<int>(clock.seconds().count()), static_cast<int>(clock.subseconds().count()));
  return buffer;
}

}  // namespace payorch::admin
