// payorch-admin jobs prune against a real PostgreSQL: what it deletes (exactly the final jobs
// finished before the bound, with their attempts and audit rows, and old ignored events), what
// it never deletes (unfinished jobs, replayed jobs, a job another transaction holds), its bounds
// and dry run, and the append-only triggers' one exception (db/migrations/0006_retention.sql).
#include <algorithm>
#include <chrono>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "db/database.hpp"
#include "db/job_admin.hpp"
#include "db/job_intake.hpp"
#include "db/job_queue.hpp"
#include "db/job_retention.hpp"
#include "services/admin/commands.hpp"
#include "services/admin/prune_command.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::admin {
namespace {

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Row counts of the four tables a prune touches.
struct Counts {
  std::int64_t jobs = 0;
  std::int64_t attempts = 0;
  std::int64_t audit = 0;
  std::int64_t ignored = 0;
  bool operator==(const Counts&) const = default;
};

class PruneTest : public ::testing::Test {
 protected:
  PruneTest() : connection_(database_.Connect()) {}

  // A job in `state` created and (when final) finished `age` ago (a PostgreSQL interval), with
  // `attempts` attempt rows and `audit_rows` audit rows. Returns its id.
  std::int64_t InsertJob(const std::string& key, const std::string& state, const std::string& age,
                         int attempts = 1, int audit_rows = 0) {
    pqxx::work tx(*connection_);
    const auto id = tx.exec_params1(
        "WITH job AS ("
        "  INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "    raw_event, state, attempts, created_at, finished_at, locked_by, locked_until) "
        "  VALUES ($1, 'po1_' || $1, 1, 'subscriptionReadyForPaymentAuthorisation', 'sub-' || $1, "
        "    '{}', $2, $3, now() - $4::interval, "
        "    CASE WHEN $2 IN ('succeeded', 'dead', 'cancelled') THEN now() - $4::interval END, "
        "    CASE WHEN $2 = 'running' THEN 'worker-1' END, "
        "    CASE WHEN $2 = 'running' THEN now() + interval '30 s' END) "
        "  RETURNING id, event_key), "
        "key AS (INSERT INTO job_event_keys (event_key, job_id) SELECT event_key, id FROM job) "
        "SELECT id FROM job",
        key, state, attempts, age)[0].as<std::int64_t>();
    for (int attempt = 1; attempt <= attempts; ++attempt) {
      tx.exec_params0(
          "INSERT INTO job_attempts (job_id, attempt, fence, worker_id, adapter, rpc, started_at, "
          "  finished_at, grpc_status, decision) "
          "VALUES ($1, $2::int, $2::int, 'worker-1', 'sandbox', 'Authorize', now(), now(), 'UNAVAILABLE', "
          "  'retry')",
          id, attempt);
    }
    for (int i = 0; i < audit_rows; ++i) {
      tx.exec_params0(
          "INSERT INTO job_audit (operation_id, job_id, action, actor, reason, previous_state, "
          "  new_state, previous_attempts) "
          "VALUES (1, $1, 'replay', 'ops', 'test', 'dead', 'queued', 1)",
          id);
    }
    tx.commit();
    return id;
  }

  void InsertIgnoredEvent(const std::string& age) {
    pqxx::work tx(*connection_);
    tx.exec_params0(
        "INSERT INTO ignored_events (broadcaster_id, topic, raw_event, received_at) "
        "VALUES (1, 'customerRegistered', '{}', now() - $1::interval)",
        age);
    tx.commit();
  }

  std::set<std::int64_t> JobIds() {
    pqxx::read_transaction tx(*connection_);
    std::set<std::int64_t> ids;
    for (const auto& row : tx.exec("SELECT id FROM jobs")) ids.insert(row[0].as<std::int64_t>());
    return ids;
  }

  std::int64_t Scalar(const std::string& sql) {
    pqxx::read_transaction tx(*connection_);
    return tx.exec1(sql)[0].as<std::int64_t>();
  }

  Counts TableCounts() {
    return {Scalar("SELECT count(*) FROM jobs"), Scalar("SELECT count(*) FROM job_attempts"),
            Scalar("SELECT count(*) FROM job_audit"),
            Scalar("SELECT count(*) FROM ignored_events")};
  }

  Output Prune(JobsPruneOptions options) {
    options.json = true;
    Output output;
    std::ostringstream out, err;
    output.exit_code = RunJobsPrune(*connection_, options, out, err);
    output.out = out.str();
    output.err = err.str();
    return output;
  }

  static boost::json::object Report(const Output& output) {
    return boost::json::parse(output.out).as_object();
  }

  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_;
};

TEST_F(PruneTest, DeletesExactlyTheFinalJobsFinishedBeforeTheBoundWithTheirHistory) {
  const auto old_succeeded = InsertJob("old-succeeded", "succeeded", "40 days", 2, 1);
  const auto old_dead = InsertJob("old-dead", "dead", "31 days", 3);
  const auto old_cancelled = InsertJob("old-cancelled", "cancelled", "90 days", 0, 1);
  const auto recent = InsertJob("recent", "succeeded", "29 days", 1, 1);
  // Unfinished jobs created long ago: never pruned, whatever their age.
  const auto queued = InsertJob("queued", "queued", "100 days", 0);
  const auto running = InsertJob("running", "running", "100 days", 1);
  const auto in_doubt = InsertJob("in-doubt", "in_doubt", "100 days", 2);
  InsertIgnoredEvent("45 days");
  InsertIgnoredEvent("31 days");
  InsertIgnoredEvent("1 day");

  const auto output = Prune({.finished_before = "30d", .batch_size = 2});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  const auto report = Report(output);
  EXPECT_EQ(report.at("jobs").as_int64(), 3);
  EXPECT_EQ(report.at("attempts").as_int64(), 5);
  EXPECT_EQ(report.at("audit_rows").as_int64(), 2);
  EXPECT_EQ(report.at("ignored_events").as_int64(), 2);
  EXPECT_EQ(report.at("batches").as_int64(), 3);  // 2 + 1 jobs, then 2 ignored events
  EXPECT_TRUE(report.at("complete").as_bool());
  EXPECT_FALSE(report.at("dry_run").as_bool());

  EXPECT_EQ(JobIds(), (std::set<std::int64_t>{recent, queued, running, in_doubt}));
  for (const auto id : {old_succeeded, old_dead, old_cancelled}) {
    EXPECT_EQ(Scalar("SELECT count(*) FROM job_attempts WHERE job_id = " + std::to_string(id)), 0);
    EXPECT_EQ(Scalar("SELECT count(*) FROM job_audit WHERE job_id = " + std::to_string(id)), 0);
  }
  // The pruned jobs' event keys went with them; the kept jobs keep theirs.
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_event_keys k JOIN jobs j ON j.id = k.job_id"), 4);
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_event_keys"), 4);
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_attempts"), 1 + 1 + 2);  // recent, running, in_doubt
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_audit"), 1);             // recent's
  EXPECT_EQ(Scalar("SELECT count(*) FROM ignored_events"), 1);
}

TEST_F(PruneTest, DropsThePartitionsOfJobsItEmptiedOnceAVacuumHasTruncatedThem) {
  // Migration 0013: jobs_from_1 takes ids below 1,000,001. Three partitions: the first with old
  // finished jobs only, the second with one and a queued job, the third taking the next id.
  InsertJob("old-1", "succeeded", "40 days");
  InsertJob("old-2", "dead", "40 days", 3);
  pqxx::nontransaction(*connection_).exec("SELECT setval('jobs_id_seq', 1000000)");
  db::AddJobPartitions(*connection_);
  InsertJob("old-3", "succeeded", "40 days");
  const auto queued = InsertJob("queued", "queued", "100 days", 0);
  pqxx::nontransaction(*connection_).exec("SELECT setval('jobs_id_seq', 2000000)");
  db::AddJobPartitions(*connection_);
  InsertJob("old-4", "succeeded", "40 days");
  auto partitions = [&] {
    pqxx::read_transaction tx(*connection_);
    return testing::JobsPartitionNames(tx);
  };
  ASSERT_EQ(partitions(), "jobs_from_1 jobs_from_1000001 jobs_from_2000001");

  // The prune empties jobs_from_1, but its pages hold the dead rows until a vacuum: it stays.
  auto output = Prune({.finished_before = "30d"});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_EQ(Report(output).at("jobs").as_int64(), 4);
  EXPECT_TRUE(Report(output).at("partitions_dropped").as_array().empty());
  EXPECT_EQ(partitions(), "jobs_from_1 jobs_from_1000001 jobs_from_2000001");

  // After the vacuum, the next run drops it. jobs_from_1000001 keeps its queued job, and
  // jobs_from_2000001, empty too, takes the next id.
  pqxx::nontransaction(*connection_).exec0("VACUUM jobs");
  output = Prune({.finished_before = "30d"});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_EQ(Report(output).at("jobs").as_int64(), 0);
  EXPECT_EQ(Report(output).at("partitions_dropped").as_array(), boost::json::array{"jobs_from_1"});
  EXPECT_EQ(partitions(), "jobs_from_1000001 jobs_from_2000001");
  EXPECT_EQ(JobIds(), std::set<std::int64_t>{queued});
}

// Migration 0015. Three partitions below the newest: the first holds finished jobs only, the
// second a queued job too, and the third lies within a partition of the next id. Only the first
// is sealed, and then every plan that asks for unfinished jobs leaves it out.
class SealTest : public PruneTest {
 protected:
  void SetNextId(std::int64_t next) {
    pqxx::nontransaction(*connection_).exec_params("SELECT setval('jobs_id_seq', $1::bigint)",
                                                   next - 1);
    db::AddJobPartitions(*connection_);
  }

  // The partitions the generic plan of a lookup of unfinished jobs reads, as its text.
  std::string UnfinishedJobsPlan() {
    pqxx::work tx(*connection_);
    tx.exec0("SET LOCAL plan_cache_mode = force_generic_plan");
    tx.exec0("PREPARE unfinished(text) AS SELECT id FROM jobs "
             "WHERE subscription_id = $1 AND state IN ('queued', 'running', 'in_doubt')");
    return testing::PlanText(tx.exec("EXPLAIN EXECUTE unfinished('sub-x')"));
  }

  bool Sealed(const std::string& partition) {
    return Scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'jobs_partition_sealed' "
                  "AND convalidated AND conrelid = '" + partition + "'::regclass") == 1;
  }
};

TEST_F(SealTest, SealsOnlyPartitionsTheIdsLeftThatHoldNoUnfinishedJob) {
  InsertJob("first-done", "succeeded", "1 day");
  InsertJob("first-dead", "dead", "1 day");
  SetNextId(1'000'001);
  InsertJob("second-done", "succeeded", "1 day");
  InsertJob("second-queued", "queued", "1 day", 0);
  SetNextId(2'000'001);
  InsertJob("third-done", "succeeded", "1 day");
  SetNextId(3'000'001);
  InsertJob("newest-queued", "queued", "1 day", 0);
  SetNextId(3'000'100);

  const auto output = Prune({.finished_before = "30d"});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_EQ(Report(output).at("partitions_sealed").as_array(), boost::json::array{"jobs_from_1"});
  EXPECT_TRUE(Sealed("jobs_from_1"));
  EXPECT_FALSE(Sealed("jobs_from_1000001"));  // its queued job
  EXPECT_FALSE(Sealed("jobs_from_2000001"));  // the next id is not a partition past it
  const auto plan = UnfinishedJobsPlan();
  EXPECT_EQ(plan.find(" on jobs_from_1 "), std::string::npos) << plan;
  EXPECT_NE(plan.find(" on jobs_from_1000001 "), std::string::npos) << plan;
  EXPECT_NE(plan.find(" on jobs_from_3000001 "), std::string::npos) << plan;

  // PostgreSQL itself refuses an unfinished job in the sealed partition.
  try {
    pqxx::work tx(*connection_);
    tx.exec0("UPDATE jobs SET state = 'queued', finished_at = NULL WHERE event_key = 'first-dead'");
    tx.commit();
    ADD_FAILURE() << "an unfinished job was stored in a sealed partition";
  } catch (const pqxx::sql_error& e) {
    EXPECT_EQ(e.sqlstate(), "23514") << e.what();  // check_violation
  }

  // The next run seals nothing more; a dry run seals nothing.
  EXPECT_TRUE(Report(Prune({.finished_before = "30d"})).at("partitions_sealed").as_array().empty());
  SetNextId(4'000'100);
  EXPECT_TRUE(Report(Prune({.finished_before = "30d", .dry_run = true}))
                  .at("partitions_sealed")
                  .as_array()
                  .empty());
  EXPECT_FALSE(Sealed("jobs_from_2000001"));
}

TEST_F(SealTest, AReplayUnsealsItsPartitionAndTheClaimKeepsTheSubscriptionsOrder) {
  // A dead renewal of sub-shared in the oldest partition, sealed; a later job of the same
  // subscription queued in the newest one. The worker's generic claim plan is made while the
  // seal holds. After the replay, that plan must see the replayed job again: it is the earlier
  // one, so it runs first and the later one waits (DESIGN.md promise 4).
  const auto dead = InsertJob("old-renewal", "dead", "2 days");
  SetNextId(2'000'001);
  const auto later = InsertJob("termination", "queued", "1 hour", 0);
  {
    pqxx::work tx(*connection_);
    tx.exec0("UPDATE jobs SET subscription_id = 'sub-shared'");
    tx.exec_params0("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE id = $1", later);
    tx.commit();
  }
  SetNextId(2'000'100);
  ASSERT_EQ(Report(Prune({.finished_before = "30d"})).at("partitions_sealed").as_array(),
            boost::json::array{"jobs_from_1"});

  auto worker = database_.Connect();
  db::UseGenericPlans(*worker);
  db::PrepareJobQueueStatements(*worker);
  EXPECT_TRUE(db::ClaimDueJobs(*worker, "w1", std::chrono::seconds(30), 10).empty());

  const auto replay = db::ReplayJob(*connection_, dead, {core::JobState::kDead},
                                    {.operation_id = 1, .actor = "ops", .reason = "test"});
  ASSERT_TRUE(replay.changed);
  EXPECT_FALSE(Sealed("jobs_from_1"));
  {
    pqxx::work tx(*connection_);
    tx.exec_params0("UPDATE jobs SET run_after = now() WHERE id = $1", later);
    tx.commit();
  }
  const auto claimed = db::ClaimDueJobs(*worker, "w1", std::chrono::seconds(30), 10);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, dead);
}

TEST_F(PruneTest, AcceptsAnIsoDateAsTheBound) {
  InsertJob("ancient", "succeeded", "3000 days");
  const auto kept = InsertJob("newer", "succeeded", "2 days");
  const auto output = Prune({.finished_before = "2020-01-01"});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_EQ(Report(output).at("finished_before").as_string(), "2020-01-01T00:00:00.000000Z");
  EXPECT_EQ(JobIds(), (std::set<std::int64_t>{kept}));
}

TEST_F(PruneTest, NeverDeletesAReplayedJobOrItsHistory) {
  // Finished long ago, then replayed by an operator: queued again, history kept.
  const auto replayed = InsertJob("replayed", "dead", "60 days", 3, 0);
  {
    pqxx::work tx(*connection_);
    tx.exec_params0(
        "UPDATE jobs SET state = 'queued', finished_at = NULL, attempts_at_replay = attempts "
        "WHERE id = $1",
        replayed);
    tx.exec_params0(
        "INSERT INTO job_audit (operation_id, job_id, action, actor, reason, previous_state, "
        "  new_state, previous_attempts) VALUES (1, $1, 'replay', 'ops', 'x', 'dead', 'queued', 3)",
        replayed);
    tx.commit();
  }
  const auto output = Prune({.finished_before = "1d"});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_EQ(Report(output).at("jobs").as_int64(), 0);
  EXPECT_EQ(JobIds(), (std::set<std::int64_t>{replayed}));
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_attempts"), 3);
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_audit"), 1);
}

TEST_F(PruneTest, SkipsAJobAnotherTransactionHoldsWithoutWaitingAndKeepsItWhenReplayed) {
  const auto held = InsertJob("held", "dead", "60 days", 2);
  InsertJob("free", "dead", "60 days", 1);
  // An operator's replay in progress: the row is locked, and it will be queued at commit.
  auto other = database_.Connect();
  pqxx::work replay(*other);
  replay.exec_params1("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", held);

  // The prune runs on its own connection, bounded: if it waited on the lock this would time out.
  auto prune_connection = database_.Connect();
  auto pruned = std::async(std::launch::async, [&] {
    return db::PruneFinishedJobsBatch(*prune_connection, "2100-01-01T00:00:00Z", 100);
  });
  ASSERT_EQ(pruned.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the prune waited on a locked job";
  const auto counts = pruned.get();
  EXPECT_EQ(counts.jobs, 1);
  EXPECT_EQ(counts.attempts, 1);

  replay.exec_params0(
      "UPDATE jobs SET state = 'queued', finished_at = NULL, attempts_at_replay = attempts "
      "WHERE id = $1",
      held);
  replay.commit();

  const auto output = Prune({.finished_before = "1d"});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_EQ(Report(output).at("jobs").as_int64(), 0);
  EXPECT_EQ(JobIds(), (std::set<std::int64_t>{held}));
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_attempts WHERE job_id = " + std::to_string(held)), 2);
}

TEST_F(PruneTest, BatchesAreBoundedByMaxBatchesAndTheNextRunContinues) {
  for (int i = 0; i < 5; ++i) InsertJob("j" + std::to_string(i), "succeeded", "60 days");
  auto first = Prune({.finished_before = "30d", .batch_size = 2, .max_batches = 2});
  ASSERT_EQ(first.exit_code, kExitOk) << first.err;
  EXPECT_EQ(Report(first).at("jobs").as_int64(), 4);
  EXPECT_EQ(Report(first).at("batches").as_int64(), 2);
  EXPECT_FALSE(Report(first).at("complete").as_bool());
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs"), 1);

  auto second = Prune({.finished_before = "30d", .batch_size = 2, .max_batches = 2});
  ASSERT_EQ(second.exit_code, kExitOk) << second.err;
  EXPECT_EQ(Report(second).at("jobs").as_int64(), 1);
  EXPECT_TRUE(Report(second).at("complete").as_bool());
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs"), 0);
}

TEST_F(PruneTest, OneBatchNeverExceedsTheBatchSize) {
  for (int i = 0; i < 7; ++i) InsertJob("j" + std::to_string(i), "succeeded", "60 days", 2);
  const auto counts = db::PruneFinishedJobsBatch(*connection_, "2100-01-01T00:00:00Z", 3);
  EXPECT_EQ(counts.jobs, 3);
  EXPECT_EQ(counts.attempts, 6);
  // The oldest-first order is by finish time; all are equal here, so only the count is checked.
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs"), 4);
}

TEST_F(PruneTest, DryRunCountsAndChangesNothing) {
  InsertJob("old", "succeeded", "60 days", 2, 1);
  InsertJob("old-dead", "dead", "60 days", 3);
  InsertJob("recent", "succeeded", "1 day", 1);
  InsertJob("queued", "queued", "60 days", 0);
  InsertIgnoredEvent("60 days");
  const auto before = TableCounts();
  const auto output = Prune({.finished_before = "30d", .dry_run = true});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  const auto report = Report(output);
  EXPECT_TRUE(report.at("dry_run").as_bool());
  EXPECT_EQ(report.at("jobs").as_int64(), 2);
  EXPECT_EQ(report.at("attempts").as_int64(), 5);
  EXPECT_EQ(report.at("audit_rows").as_int64(), 1);
  EXPECT_EQ(report.at("ignored_events").as_int64(), 1);
  EXPECT_EQ(report.at("batches").as_int64(), 0);
  EXPECT_EQ(TableCounts(), before);
}

TEST_F(PruneTest, BadOptionsExitTwoAndChangeNothing) {
  InsertJob("old", "succeeded", "60 days");
  InsertIgnoredEvent("60 days");
  const auto before = TableCounts();
  const std::vector<JobsPruneOptions> bad = {
      {},                                                      // no bound
      {.finished_before = "yesterday"},                        // not a time
      {.finished_before = "2100-01-01"},                       // in the future
      {.finished_before = "0d"},                               // zero duration
      {.finished_before = "30d", .batch_size = 0},             //
      {.finished_before = "30d", .batch_size = db::kMaxPruneBatchSize + 1},
      {.finished_before = "30d", .max_batches = -1},           //
      {.finished_before = "30d", .max_duration = "forever"},   //
      {.finished_before = "30d", .every = "0s"},               //
      {.finished_before = "30d", .every = "often"},            //
      {.finished_before = "2020-01-01", .every = "1h"},        // a fixed bound on a schedule
  };
  for (const auto& options : bad) {
    const auto output = Prune(options);
    EXPECT_EQ(output.exit_code, kExitUsage) << options.finished_before << " " << output.out;
    EXPECT_NE(output.err.find("payorch-admin: "), std::string::npos) << output.err;
    EXPECT_TRUE(output.out.empty()) << output.out;
  }
  EXPECT_EQ(TableCounts(), before);
}

TEST_F(PruneTest, TheScheduleRunsUntilStoppedAndExitsZero) {
  // Three runs, an old job inserted between the first and the second: the second removes it.
  int runs = 0;
  std::ostringstream out, err;
  JobsPruneOptions options{.finished_before = "30d", .json = true, .every = "1s"};
  options.stop_requested = [&] {
    const std::string text = out.str();
    runs = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    return runs >= 3;
  };
  bool inserted = false;
  options.sleep = [&](std::chrono::milliseconds step) {
    if (!inserted) {
      inserted = true;
      InsertJob("late", "succeeded", "60 days", 1);
    }
    std::this_thread::sleep_for(step);
  };
  InsertJob("first", "succeeded", "60 days", 1);
  EXPECT_EQ(RunJobsPrune(*connection_, options, out, err), kExitOk) << err.str();
  EXPECT_EQ(runs, 3);
  std::istringstream lines(out.str());
  std::vector<std::int64_t> pruned;
  for (std::string line; std::getline(lines, line);) {
    pruned.push_back(boost::json::parse(line).at("jobs").as_int64());
  }
  EXPECT_EQ(pruned, (std::vector<std::int64_t>{1, 1, 0}));
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs"), 0);
}

TEST_F(PruneTest, HistoryStaysAppendOnlyOutsideAPrune) {
  const auto finished = InsertJob("finished", "dead", "60 days", 1, 1);
  const auto queued = InsertJob("queued", "queued", "60 days", 1, 1);
  const auto attempt_of = [](std::int64_t id) {
    return "DELETE FROM job_attempts WHERE job_id = " + std::to_string(id);
  };
  const auto expect_rejected = [&](const std::string& setup, const std::string& statement) {
    pqxx::work tx(*connection_);
    if (!setup.empty()) tx.exec(setup);
    EXPECT_THROW(tx.exec(statement), pqxx::sql_error) << setup << "; " << statement;
  };
  // Without the setting: no DELETE, even of a final job's rows.
  expect_rejected("", attempt_of(finished));
  expect_rejected("", "DELETE FROM job_audit WHERE job_id = " + std::to_string(finished));
  // With it: still no DELETE of an unfinished job's rows, and never an UPDATE.
  expect_rejected("SET LOCAL payorch.pruning = 'on'", attempt_of(queued));
  expect_rejected("SET LOCAL payorch.pruning = 'on'",
                  "DELETE FROM job_audit WHERE job_id = " + std::to_string(queued));
  expect_rejected("SET LOCAL payorch.pruning = 'on'",
                  "UPDATE job_attempts SET error = 'x' WHERE job_id = " + std::to_string(finished));
  // The setting ends with its transaction.
  {
    pqxx::work tx(*connection_);
    tx.exec("SET LOCAL payorch.pruning = 'on'");
    tx.commit();
  }
  expect_rejected("", attempt_of(finished));
  // The documented exception: the setting and a final job.
  {
    pqxx::work tx(*connection_);
    tx.exec("SET LOCAL payorch.pruning = 'on'");
    EXPECT_EQ(tx.exec(attempt_of(finished)).affected_rows(), 1U);
    tx.abort();
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_attempts"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_audit"), 2);
}

}  // namespace
}  // namespace payorch::admin
