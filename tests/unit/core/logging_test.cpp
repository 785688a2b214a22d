#include "services/core/logging.hpp"

#include <gtest/gtest.h>

namespace payorch::core {
namespace {

TEST(RedactDatabaseUrl, HidesThePasswordOfUrlsAndKeyValueStrings) {
  struct Case {
    const char* input;
    const char* expected;
  };
  const Case cases[] = {
      {"postgresql://payorch:s3cret@db:5432/payorch", "postgresql://payorch:***@db:5432/payorch"},
      {"postgres://u:p%40ss@host/db?sslmode=require", "postgres://u:***@host/db?sslmode=require"},
      {"postgresql://payorch@db/payorch", "postgresql://payorch@db/payorch"},
      {"host=db user=payorch password=s3cret dbname=x", "host=db user=payorch password=*** dbname=x"},
      {"host=db password = 'a b c' dbname=x", "host=db password = *** dbname=x"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(RedactDatabaseUrl(c.input), c.expected) << c.input;
  }
}

TEST(InitLogging, RefusesAnUnknownLevel) {
  EXPECT_FALSE(InitLogging("test", "loud"));
  EXPECT_TRUE(InitLogging("test-ok", "warn"));
}

}  // namespace
}  // namespace payorch::core
