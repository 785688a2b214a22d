#include "services/admin/time_bounds.hpp"

#include <gtest/gtest.h>

namespace payorch::admin {
namespace {

using namespace std::chrono;

// 2026-11-29T12:00:00Z, pinned.
const system_clock::time_point kNow = sys_days{year{2026} / 11 / 29} + hours{12};

TEST(ParseDurationTest, AcceptsEveryUnitAndCompounds) {
  const struct {
    const char* text;
    seconds expected;
  } cases[] = {
      {"90s", seconds{90}},
      {"15m", minutes{15}},
      {"2h", hours{2}},
      {"7d", hours{24 * 7}},
      {"1w", hours{24 * 7}},
      {"1h30m", minutes{90}},
      {"1d2h3m4s", seconds{86400 + 7200 + 180 + 4}},
  };
  for (const auto& c : cases) {
    auto duration = ParseDuration(c.text);
    ASSERT_TRUE(duration.ok()) << c.text << ": " << duration.error();
    EXPECT_EQ(*duration, c.expected) << c.text;
  }
}

TEST(ParseDurationTest, RejectsMalformedZeroAndHugeValues) {
  for (const char* text : {"", "h", "2", "2x", "-2h", "2 h", "2H", "1.5h", "h2", "2hh", "0s",
                           "0h0m", "99999999d", "9999999999999h"}) {
    auto duration = ParseDuration(text);
    EXPECT_FALSE(duration.ok()) << text;
    if (!duration.ok()) {
      EXPECT_NE(duration.error().find('\''), std::string::npos) << text;
    }
  }
  EXPECT_EQ(ParseDuration("2x").error(),
            "bad duration '2x': expected <number><unit> parts with units s, m, h, d, w, such as "
            "2h or 1h30m");
}

TEST(ParseTimePointTest, DurationsCountBackFromNow) {
  EXPECT_EQ(*ParseTimePoint("2h", kNow), kNow - hours{2});
  EXPECT_EQ(*ParseTimePoint("30m", kNow), kNow - minutes{30});
  EXPECT_EQ(*ParseTimePoint("1w", kNow), kNow - hours{24 * 7});
}

TEST(ParseTimePointTest, IsoDatesAndTimesAreUtcUnlessTheyNameAZone) {
  const auto midnight = sys_days{year{2026} / 11 / 29};
  const struct {
    const char* text;
    system_clock::time_point expected;
  } cases[] = {
      {"2026-11-29", midnight},
      {"2026-11-29T10:15", midnight + hours{10} + minutes{15}},
      {"2026-11-29 10:15:30", midnight + hours{10} + minutes{15} + seconds{30}},
      {"2026-11-29T10:15:30Z", midnight + hours{10} + minutes{15} + seconds{30}},
      {"2026-11-29T10:15:30.25Z", midnight + hours{10} + minutes{15} + milliseconds{30250}},
      {"2026-11-29T10:15:30.1234567Z", midnight + hours{10} + minutes{15} + microseconds{30123456}},
      {"2026-11-29T10:15+01:00", midnight + hours{9} + minutes{15}},
      {"2026-11-29T10:15:00-0530", midnight + hours{15} + minutes{45}},
      {"2024-02-29", sys_days{year{2024} / 2 / 29}},
  };
  for (const auto& c : cases) {
    auto time = ParseTimePoint(c.text, kNow);
    ASSERT_TRUE(time.ok()) << c.text << ": " << time.error();
    EXPECT_EQ(*time, c.expected) << c.text;
  }
}

TEST(ParseTimePointTest, RejectsImpossibleOrMalformedDates) {
  for (const char* text :
       {"", "yesterday", "2026-02-30", "2025-02-29", "2026-13-01", "2026-11-29T24:00",
        "2026-11-29T10:60", "2026-11-29T10:15:61", "2026-11-29T10", "2026-11-29T10:15Zjunk",
        "2026-11-29T10:15+25:00", "26-11-29", "2026/11/29", "2026-11-29T10:15:30.", "2x"}) {
    auto time = ParseTimePoint(text, kNow);
    EXPECT_FALSE(time.ok()) << text;
  }
  EXPECT_EQ(ParseTimePoint("2026-02-30", kNow).error(),
            "bad time '2026-02-30': expected a duration such as 2h, 30m, 7d or an ISO date such "
            "as 2026-11-29 or 2026-11-29T10:15:00Z");
}

TEST(FormatUtcTest, IsATimestamptzLiteralWithMicroseconds) {
  EXPECT_EQ(FormatUtc(kNow), "2026-11-29T12:00:00.000000Z");
  EXPECT_EQ(FormatUtc(kNow + microseconds{1234567}), "2026-11-29T12:00:01.234567Z");
  EXPECT_EQ(FormatUtc(sys_days{year{1999} / 12 / 31} + hours{23} + minutes{59}),
            "1999-12-31T23:59:00.000000Z");
}

TEST(FormatUtcTest, RoundTripsThroughParseTimePoint) {
  const auto time = kNow + microseconds{987654};
  EXPECT_EQ(*ParseTimePoint(FormatUtc(time), kNow), time);
}

}  // namespace
}  // namespace payorch::admin
