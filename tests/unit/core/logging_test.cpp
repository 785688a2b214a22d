#include "services/core/logging.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

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

namespace payorch::core {
namespace {

TEST(ParseLogMessage, SplitsFreeTextFromKeyValuePairs) {
  const auto fields = ParseLogMessage(
      R"(attempt finished job_id=7 error="gateway down: \"x\" y" rpc=Authorize)");
  EXPECT_EQ(fields.message, "attempt finished");
  ASSERT_EQ(fields.pairs.size(), 3u);
  EXPECT_EQ(fields.pairs[0], (std::pair<std::string, std::string>{"job_id", "7"}));
  EXPECT_EQ(fields.pairs[1].second, "gateway down: \"x\" y");
  EXPECT_EQ(fields.pairs[2].first, "rpc");
}

TEST(ParseLogMessage, TakesMsgPairAsTheFreeTextAndNeverFails) {
  EXPECT_EQ(ParseLogMessage(R"(msg="sandbox call" rpc=Capture)").message, "sandbox call");
  const auto odd = ParseLogMessage(R"(=x a= "unterminated b=")");
  EXPECT_FALSE(odd.message.empty());
}

TEST(RenderLogLine, ProducesLogfmtAndValidJson) {
  const auto fields = ParseLogMessage(R"(listening address=127.0.0.1:8080 note="a \"b\"")");
  EXPECT_EQ(RenderLogfmt(fields), R"(msg="listening" address=127.0.0.1:8080 note="a \"b\"")");
  const auto json = boost::json::parse("{\"ts\":1" + RenderJsonMembers(fields) + "}");
  EXPECT_EQ(json.at("msg").as_string(), "listening");
  EXPECT_EQ(json.at("note").as_string(), "a \"b\"");
}

TEST(LogFormatFromName, KnowsTextAndJson) {
  EXPECT_EQ(LogFormatFromName("json"), LogFormat::kJson);
  EXPECT_EQ(LogFormatFromName("text"), LogFormat::kText);
  EXPECT_EQ(LogFormatFromName("xml"), std::nullopt);
}

}  // namespace
}  // namespace payorch::core
