// The real payorch-admin binary running `jobs prune` against a real PostgreSQL: one run with
// its JSON report and its log line, the schedule (--every) pruning what becomes old while it
// runs and stopping on SIGTERM and SIGINT with exit 0, and bad flags (exit 2, nothing changed).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::testing {
namespace {

constexpr const char* kAdmin = "payorch-admin";

class PruneE2e : public ::testing::Test {
 protected:
  PruneE2e() : connection_(database_.Connect()) {}

  // A final job finished `age` ago with one attempt and one audit row.
  void InsertFinishedJob(const std::string& key, const std::string& age) {
    pqxx::work tx(*connection_);
    const auto id = tx.exec_params1(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "  raw_event, state, attempts, created_at, finished_at) "
        "VALUES ($1, 'po1_' || $1, 1, 'subscriptionReadyForPaymentAuthorisation', 'sub', '{}', "
        "  'succeeded', 1, now() - $2::interval, now() - $2::interval) RETURNING id",
        key, age)[0].as<std::int64_t>();
    tx.exec_params0(
        "INSERT INTO job_attempts (job_id, attempt, fence, worker_id, adapter, rpc, started_at, "
        "  finished_at, grpc_status, decision) "
        "VALUES ($1, 1, 1, 'w', 'sandbox', 'Authorize', now(), now(), 'OK', 'succeeded')",
        id);
    tx.exec_params0(
        "INSERT INTO job_audit (operation_id, job_id, action, actor, reason, previous_state, "
        "  new_state, previous_attempts) VALUES (1, $1, 'replay', 'ops', 'x', 'dead', 'queued', 1)",
        id);
    tx.commit();
  }

  void InsertQueuedJob(const std::string& key) {
    pqxx::work tx(*connection_);
    tx.exec_params0(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "  raw_event, created_at) "
        "VALUES ($1, 'po1_' || $1, 1, 'subscriptionReadyForPaymentAuthorisation', 'sub', '{}', "
        "  now() - interval '90 days')",
        key);
    tx.commit();
  }

  std::int64_t Count(const std::string& table) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec1("SELECT count(*) FROM " + table)[0].as<std::int64_t>();
  }

  CommandResult Admin(std::vector<std::string> args) {
    args.push_back("--database-url");
    args.push_back(database_.url());
    return RunCommand(kAdmin, args);
  }

  // Starts `jobs prune --every 1s --json`, waits for two runs, makes a job old enough to prune
  // while it runs, sees it pruned by a later run, then stops it with `signal_number`.
  void RunScheduleAndStopWith(int signal_number) {
    InsertFinishedJob("old-1", "40 days");
    InsertQueuedJob("queued");
    Process prune(kAdmin, {"jobs", "prune", "--finished-before", "30d", "--every", "1s",
                           "--json", "--database-url", database_.url()});
    const auto runs = [&] {
      const auto output = prune.Output();
      return std::count(output.begin(), output.end(), '{');
    };
    ASSERT_TRUE(Eventually([&] { return runs() >= 2; }, std::chrono::seconds(20)))
        << prune.Output();
    EXPECT_EQ(Count("jobs"), 1);
    InsertFinishedJob("old-2", "31 days");
    ASSERT_TRUE(Eventually([&] { return Count("jobs") == 1; }, std::chrono::seconds(20)))
        << prune.Output();
    EXPECT_TRUE(prune.Running());
    prune.Signal(signal_number);
    EXPECT_EQ(prune.Wait(std::chrono::seconds(20)), std::optional<int>(0)) << prune.Output();
    EXPECT_EQ(Count("job_attempts"), 0);
    EXPECT_EQ(Count("job_audit"), 0);
    // One log line per run, and one for the stop.
    EXPECT_NE(prune.Output().find("prune run"), std::string::npos) << prune.Output();
    EXPECT_NE(prune.Output().find("prune schedule stopped"), std::string::npos) << prune.Output();
  }

  TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_;
};

TEST_F(PruneE2e, OneRunReportsWhatItRemovedAndLogsOneLine) {
  InsertFinishedJob("old", "40 days");
  InsertFinishedJob("recent", "2 days");
  InsertQueuedJob("queued");
  const auto run = Admin({"jobs", "prune", "--finished-before", "30d", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto report = boost::json::parse(run.stdout_text).as_object();
  EXPECT_EQ(report.at("jobs").as_int64(), 1);
  EXPECT_EQ(report.at("attempts").as_int64(), 1);
  EXPECT_EQ(report.at("audit_rows").as_int64(), 1);
  EXPECT_EQ(report.at("batches").as_int64(), 1);
  EXPECT_EQ(Count("jobs"), 2);
  EXPECT_NE(run.output.find("msg=\"prune run\" dry_run=false"), std::string::npos) << run.output;

  const auto text = Admin({"jobs", "prune", "--finished-before", "1d", "--dry-run"});
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.stdout_text.find("dry run, nothing changed: would prune 1 jobs, 1 attempts"),
            std::string::npos)
      << text.stdout_text;
  EXPECT_EQ(Count("jobs"), 2);
}

TEST_F(PruneE2e, ScheduleStopsOnSigtermWithExitZero) { RunScheduleAndStopWith(SIGTERM); }

TEST_F(PruneE2e, ScheduleStopsOnSigintWithExitZero) { RunScheduleAndStopWith(SIGINT); }

TEST_F(PruneE2e, BadFlagsExitTwoAndChangeNothing) {
  InsertFinishedJob("old", "40 days");
  const std::vector<std::vector<std::string>> bad = {
      {"jobs", "prune"},
      {"jobs", "prune", "--finished-before", "someday"},
      {"jobs", "prune", "--finished-before", "30d", "--batch-size", "0"},
      {"jobs", "prune", "--finished-before", "30d", "--batch-size", "many"},
      {"jobs", "prune", "--finished-before", "30d", "--max-batches", "-3"},
      {"jobs", "prune", "--finished-before", "30d", "--every", "soon"},
      {"jobs", "prune", "--finished-before", "30d", "--no-such-flag"},
  };
  for (const auto& args : bad) {
    const auto run = Admin(args);
    EXPECT_EQ(run.exit_code, 2) << args.back() << ": " << run.output;
    EXPECT_NE(run.output.find("payorch-admin: "), std::string::npos) << run.output;
  }
  EXPECT_EQ(Count("jobs"), 1);
  EXPECT_EQ(Count("job_attempts"), 1);
}

}  // namespace
}  // namespace payorch::testing
