// The real payorch-admin binary against a real PostgreSQL: exit codes, output streams, and that
// no password reaches the terminal.
#include <algorithm>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::testing {
namespace {

constexpr const char* kAdmin = "payorch-admin";

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(AdminCliE2e, MigrateAppliesOnceThenIsANoOp) {
  TestDatabase database;
  {
    // Start from an empty database: drop what the fixture applied.
    auto connection = database.Connect();
    pqxx::work tx(*connection);
    tx.exec0("DROP SCHEMA public CASCADE");
    tx.exec0("CREATE SCHEMA public");
    tx.commit();
  }
  const auto first = RunCommand(kAdmin, {"migrate", "--database-url", database.url()});
  EXPECT_EQ(first.exit_code, 0) << first.output;
  // Every migration in order, one line each (other components add theirs).
  EXPECT_EQ(first.stdout_text.rfind("applied 0001_jobs.sql\n", 0), 0u) << first.stdout_text;
  EXPECT_NE(first.stdout_text.find("applied 0003_admin_audit.sql\n"), std::string::npos)
      << first.stdout_text;

  // The URL from the environment works as well as the flag.
  const auto second = RunCommand(kAdmin, {"migrate"}, {{"PAYORCH_DATABASE_URL", database.url()}});
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.stdout_text, "database is up to date\n");

  const auto status = RunCommand(kAdmin, {"--database-url", database.url(), "migrate", "--status"});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.stdout_text.find("\n0001_jobs.sql "), std::string::npos)
      << status.stdout_text;
}

TEST(AdminCliE2e, HelpExitsZeroWithExamples) {
  const auto top = RunCommand(kAdmin, {"--help"});
  EXPECT_EQ(top.exit_code, 0) << top.output;
  EXPECT_NE(top.stdout_text.find("Usage: payorch-admin"), std::string::npos) << top.stdout_text;
  EXPECT_NE(top.stdout_text.find("Examples:"), std::string::npos) << top.stdout_text;
  EXPECT_NE(top.stdout_text.find("PAYORCH_DATABASE_URL"), std::string::npos);

  const auto show = RunCommand(kAdmin, {"jobs", "show", "--help"});
  EXPECT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.stdout_text.find("payorch-admin jobs show 42"), std::string::npos)
      << show.stdout_text;
}

TEST(AdminCliE2e, UnknownFlagExitsTwoWithOneLine) {
  const auto run = RunCommand(kAdmin, {"jobs", "list", "--frobnicate"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(run.stdout_text.empty()) << run.stdout_text;
  EXPECT_EQ(CountLines(run.output), 1) << run.output;
  EXPECT_NE(run.output.find("--frobnicate"), std::string::npos) << run.output;
}

TEST(AdminCliE2e, BadStateExitsTwo) {
  TestDatabase database;
  const auto run = RunCommand(kAdmin,
                              {"jobs", "list", "--state", "bogus", "--database-url", database.url()});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_EQ(CountLines(run.output), 1) << run.output;
  EXPECT_NE(run.output.find("valid states: queued"), std::string::npos) << run.output;
}

TEST(AdminCliE2e, ShowUnknownJobExitsOne) {
  TestDatabase database;
  const auto run = RunCommand(kAdmin, {"jobs", "show", "999", "--database-url", database.url()});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(run.stdout_text.empty()) << run.stdout_text;
  EXPECT_EQ(run.output, "payorch-admin: job 999 not found\n");
}

TEST(AdminCliE2e, ListJsonIsOneDocumentOnStdout) {
  TestDatabase database;
  {
    auto connection = database.Connect();
    pqxx::work tx(*connection);
    tx.exec0(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "raw_event) VALUES ('k', 'po1_k', 1, 'subscriptionReadyForPaymentCapture', 's1', '{}')");
    tx.commit();
  }
  const auto run =
      RunCommand(kAdmin, {"jobs", "list", "--json", "--database-url", database.url()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const auto document = boost::json::parse(run.stdout_text);
  const auto& jobs = document.at("jobs").as_array();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].at("state"), "queued");
  EXPECT_EQ(jobs[0].at("subscription_id"), "s1");
}

TEST(AdminCliE2e, DatabaseDownExitsOneWithoutThePassword) {
  // Nothing listens on a port that was free a moment ago.
  const std::string url = "postgresql://payorch:pw-that-must-not-leak@127.0.0.1:" +
                          std::to_string(FreeTcpPort()) + "/payorch";
  const auto run = RunCommand(kAdmin, {"jobs", "list", "--database-url", url});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(run.stdout_text.empty()) << run.stdout_text;
  EXPECT_EQ(CountLines(run.output), 1) << run.output;
  EXPECT_NE(run.output.find("cannot connect"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("payorch:***@127.0.0.1"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("pw-that-must-not-leak"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace payorch::testing
