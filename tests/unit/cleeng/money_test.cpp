#include "services/cleeng/money.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace payorch::cleeng {
namespace {

struct Case {
  const char* text;
  const char* currency;
  std::int64_t minor;  // -1: refused
};

TEST(MoneyTest, DecimalStringsBecomeMinorUnitsWithoutFloatingPoint) {
  const Case cases[] = {
      {"8.1300", "USD", 813},
      {"5.25", "EUR", 525},
      {"5", "USD", 500},
      {"0.10", "USD", 10},
      {"1.5e1", "USD", 1500},
      {"1250", "JPY", 1250},
      {"1250.00", "JPY", 1250},
      {"1.234", "KWD", 1234},
      {"0", "USD", 0},
      {"12345678901.99", "USD", 1234567890199},
      {"5.255", "USD", -1},
      {"12.5", "JPY", -1},
      {"-1.00", "USD", -1},
      {"", "USD", -1},
      {"1,00", "EUR", -1},
      {"abc", "USD", -1},
      {".", "USD", -1},
      {"1e99", "USD", -1},
      {"9999999999999999", "USD", -1},
  };
  for (const Case& c : cases) {
    auto parsed = ParseMinorUnits(c.text, c.currency);
    if (c.minor < 0) {
      EXPECT_FALSE(parsed.ok()) << c.text << " " << c.currency;
    } else {
      ASSERT_TRUE(parsed.ok()) << c.text << " " << c.currency << ": " << parsed.error();
      EXPECT_EQ(parsed.value(), c.minor) << c.text << " " << c.currency;
    }
  }
}

TEST(MoneyTest, JsonNumbersAndStringsGiveTheSameAmount) {
  EXPECT_EQ(JsonMinorUnits(boost::json::parse("5.25"), "USD").value(), 525);
  EXPECT_EQ(JsonMinorUnits(boost::json::parse("0.07"), "USD").value(), 7);
  EXPECT_EQ(JsonMinorUnits(boost::json::parse("19.99"), "USD").value(), 1999);
  EXPECT_EQ(JsonMinorUnits(boost::json::parse("\"8.1300\""), "USD").value(), 813);
  EXPECT_EQ(JsonMinorUnits(boost::json::parse("12"), "USD").value(), 1200);
  EXPECT_FALSE(JsonMinorUnits(boost::json::parse("true"), "USD").ok());
  EXPECT_FALSE(JsonMinorUnits(boost::json::parse("-3.5"), "USD").ok());
}

TEST(MoneyTest, MinorUnitExponentFollowsIso4217) {
  EXPECT_EQ(MinorUnitExponent("USD"), 2);
  EXPECT_EQ(MinorUnitExponent("JPY"), 0);
  EXPECT_EQ(MinorUnitExponent("KWD"), 3);
}

}  // namespace
}  // namespace payorch::cleeng
