#include "db/job_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "db/database.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::db {
namespace {

using std::chrono::milliseconds;
using testing::PlanText;

// Jobs are inserted with plain SQL: the worker's queue is tested apart from the ingress.
std::int64_t InsertJob(pqxx::connection& connection, const std::string& key,
                       const std::string& topic = "subscriptionReadyForPaymentAuthorisation",
                       const std::string& subscription_id = "",
                       const std::string& state = "queued", int run_after_offset_s = 0) {
  pqxx::work tx(connection);
  const auto row = tx.exec_params1(
      "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
      "raw_event, state, run_after, finished_at) "
      "VALUES ($1, $2, 123, $3, $4, '{\"raw\":true}', $5::text, now() + $6 * interval '1 second', "
      "CASE WHEN $5::text IN ('succeeded', 'dead', 'cancelled') THEN now() END) "
      "RETURNING id",
      "test|" + key, "po1_" + key, topic,
      // By default every job is its own subscription, so that per-subscription order does not
      // hold back the jobs a test claims together.
      subscription_id.empty() ? "sub-" + key : subscription_id, state, run_after_offset_s);
  tx.commit();
  return row[0].as<std::int64_t>();
}

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { PrepareJobQueueStatements(*connection_); }

  pqxx::row Job(std::int64_t id) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec_params1(
        "SELECT state, fence, attempts, locked_by, locked_until IS NOT NULL, outcome, "
        "gateway_reference, decline_code, last_error, finished_at IS NOT NULL, "
        "extract(epoch FROM run_after - now()) "
        "FROM jobs WHERE id = $1",
        id);
  }

  int AttemptRows(std::int64_t id) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec_params1("SELECT count(*) FROM job_attempts WHERE job_id = $1", id)[0].as<int>();
  }

  AttemptRecord Attempt(const ClaimedJob& job, const std::string& decision) {
    AttemptRecord record;
    record.job_id = job.id;
    record.fence = job.fence;
    record.attempt = job.attempt;
    record.worker_id = "worker-a";
    record.adapter = "default";
    record.rpc = "Authorize";
    record.request_summary = "topic=x subscription_id=sub-1";
    record.started_at = std::chrono::system_clock::now() - milliseconds(20);
    record.finished_at = std::chrono::system_clock::now();
    record.grpc_status = "OK";
    record.decision = decision;
    return record;
  }

  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_ = database_.Connect();
};

TEST_F(JobQueueTest, ClaimTakesDueJobsInOrderAndLeasesThem) {
  const auto first = InsertJob(*connection_, "a");
  const auto second = InsertJob(*connection_, "b", "subscriptionReadyForPaymentCapture", "sub-2");
  InsertJob(*connection_, "future", "subscriptionReadyForPaymentAuthorisation", "sub-3", "queued",
            3600);
  InsertJob(*connection_, "done", "subscriptionReadyForPaymentAuthorisation", "sub-4", "cancelled");

  const auto jobs = ClaimDueJobs(*connection_, "worker-a", milliseconds(60000), 10);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, first);
  EXPECT_EQ(jobs[1].id, second);
  EXPECT_EQ(jobs[0].fence, 1);
  EXPECT_EQ(jobs[0].attempt, 1);
  EXPECT_FALSE(jobs[0].was_in_doubt);
  EXPECT_FALSE(jobs[0].lease_expired);
  EXPECT_EQ(jobs[0].idempotency_key, "po1_a");
  EXPECT_EQ(jobs[0].broadcaster_id, 123);
  EXPECT_EQ(jobs[1].topic, "subscriptionReadyForPaymentCapture");
  EXPECT_EQ(jobs[1].subscription_id, "sub-2");
  EXPECT_EQ(jobs[0].raw_event, "{\"raw\":true}");
  EXPECT_FALSE(jobs[0].payment_gateway.has_value());

  const auto row = Job(first);
  EXPECT_EQ(row[0].as<std::string>(), "running");
  EXPECT_EQ(row[3].as<std::string>(), "worker-a");
  EXPECT_TRUE(row[4].as<bool>());

  // Running jobs with a live lease, future and final jobs are not claimable.
  EXPECT_TRUE(ClaimDueJobs(*connection_, "worker-b", milliseconds(60000), 10).empty());
}

TEST_F(JobQueueTest, ClaimRespectsTheBatchLimit) {
  for (int i = 0; i < 5; ++i) InsertJob(*connection_, "k" + std::to_string(i));
  EXPECT_EQ(ClaimDueJobs(*connection_, "w", milliseconds(60000), 3).size(), 3u);
  EXPECT_EQ(ClaimDueJobs(*connection_, "w", milliseconds(60000), 3).size(), 2u);
  EXPECT_EQ(ClaimDueJobs(*connection_, "w", milliseconds(60000), 3).size(), 0u);
}

TEST_F(JobQueueTest, InDoubtJobIsClaimedAsInDoubt) {
  const auto id = InsertJob(*connection_, "doubt", "subscriptionReadyForPaymentAuthorisation",
                            "sub-1", "in_doubt");
  const auto jobs = ClaimDueJobs(*connection_, "w", milliseconds(60000), 10);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, id);
  EXPECT_TRUE(jobs[0].was_in_doubt);
  EXPECT_FALSE(jobs[0].lease_expired);
}

TEST_F(JobQueueTest, TwoConnectionsClaimingConcurrentlyNeverShareAJob) {
  constexpr int kJobs = 200;
  std::set<std::int64_t> inserted;
  for (int i = 0; i < kJobs; ++i) inserted.insert(InsertJob(*connection_, "c" + std::to_string(i)));

  auto claim_all = [&](const std::string& worker_id, std::vector<std::int64_t>& out) {
    auto connection = database_.Connect();
    PrepareJobQueueStatements(*connection);
    for (int round = 0; round < kJobs; ++round) {  // bounded: each round claims at least one
      const auto jobs = ClaimDueJobs(*connection, worker_id, milliseconds(60000), 7);
      if (jobs.empty()) break;
      for (const auto& job : jobs) out.push_back(job.id);
    }
  };
  std::vector<std::int64_t> claimed_a;
  std::vector<std::int64_t> claimed_b;
  {
    std::jthread a(claim_all, "worker-a", std::ref(claimed_a));
    std::jthread b(claim_all, "worker-b", std::ref(claimed_b));
  }

  std::vector<std::int64_t> all = claimed_a;
  all.insert(all.end(), claimed_b.begin(), claimed_b.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kJobs));
  const std::set<std::int64_t> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.size(), all.size()) << "a job was handed to both workers";
  EXPECT_EQ(distinct, inserted);

  // The database agrees on who owns what.
  pqxx::nontransaction tx(*connection_);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM jobs WHERE locked_by = 'worker-a'")[0].as<std::size_t>(),
            claimed_a.size());
  EXPECT_EQ(
      tx.exec1("SELECT count(*) FROM jobs WHERE state = 'running' AND fence = 1")[0].as<int>(),
      kJobs);
}

TEST_F(JobQueueTest, RecordWithAStaleFenceChangesNothing) {
  const auto id = InsertJob(*connection_, "stale");
  const auto jobs = ClaimDueJobs(*connection_, "worker-a", milliseconds(60000), 1);
  ASSERT_EQ(jobs.size(), 1u);
  ClaimedJob stale = jobs[0];
  stale.fence -= 1;

  JobTransition transition;
  transition.kind = JobTransition::Kind::kSucceeded;
  transition.outcome = "approved";
  transition.gateway_reference = "ref-1";
  EXPECT_FALSE(RecordAttempt(*connection_, Attempt(stale, "succeeded"), transition));

  const auto row = Job(id);
  EXPECT_EQ(row[0].as<std::string>(), "running");
  EXPECT_EQ(row[1].as<std::int64_t>(), 1);
  EXPECT_TRUE(row[5].is_null());
  EXPECT_EQ(AttemptRows(id), 0);

  // The current fence still records.
  EXPECT_TRUE(RecordAttempt(*connection_, Attempt(jobs[0], "succeeded"), transition));
  EXPECT_EQ(Job(id)[0].as<std::string>(), "succeeded");
  // And a second record of the same claim is a lost CAS (the job is no longer running).
  EXPECT_FALSE(RecordAttempt(*connection_, Attempt(jobs[0], "succeeded"), transition));
  EXPECT_EQ(AttemptRows(id), 1);
}

TEST_F(JobQueueTest, ExpiredLeaseIsRescuedAsInDoubtWithABumpedFence) {
  const auto id = InsertJob(*connection_, "rescue");
  const auto first = ClaimDueJobs(*connection_, "worker-dead", milliseconds(60000), 1);
  ASSERT_EQ(first.size(), 1u);
  // The lease is live: nobody else may take the job.
  EXPECT_TRUE(ClaimDueJobs(*connection_, "worker-b", milliseconds(60000), 1).empty());
  {
    pqxx::work tx(*connection_);
    tx.exec_params0("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = $1", id);
    tx.commit();
  }

  const auto rescued = ClaimDueJobs(*connection_, "worker-b", milliseconds(60000), 1);
  ASSERT_EQ(rescued.size(), 1u);
  EXPECT_EQ(rescued[0].id, id);
  EXPECT_EQ(rescued[0].fence, first[0].fence + 1);
  EXPECT_EQ(rescued[0].attempt, 2);
  EXPECT_TRUE(rescued[0].lease_expired);
  EXPECT_TRUE(rescued[0].was_in_doubt);
  EXPECT_EQ(Job(id)[3].as<std::string>(), "worker-b");

  {
    pqxx::nontransaction tx(*connection_);
    const auto attempt = tx.exec_params1(
        "SELECT attempt, fence, worker_id, decision FROM job_attempts WHERE job_id = $1", id);
    EXPECT_EQ(attempt[0].as<int>(), 1);
    EXPECT_EQ(attempt[1].as<std::int64_t>(), first[0].fence);
    EXPECT_EQ(attempt[2].as<std::string>(), "worker-dead");
    EXPECT_EQ(attempt[3].as<std::string>(), "lease_expired");
  }

  // The vanished worker comes back: its write is refused, the new owner's stands.
  JobTransition dead;
  dead.kind = JobTransition::Kind::kDead;
  dead.error = "late";
  EXPECT_FALSE(RecordAttempt(*connection_, Attempt(first[0], "dead"), dead));
  JobTransition ok;
  ok.kind = JobTransition::Kind::kSucceeded;
  ok.outcome = "approved";
  EXPECT_TRUE(RecordAttempt(*connection_, Attempt(rescued[0], "succeeded"), ok));
  EXPECT_EQ(Job(id)[0].as<std::string>(), "succeeded");
  EXPECT_EQ(AttemptRows(id), 2);
}

TEST_F(JobQueueTest, FinishTransitions) {
  const auto succeeded_id =
      InsertJob(*connection_, "s", "subscriptionReadyForPaymentAuthorisation", "s1");
  const auto declined_id =
      InsertJob(*connection_, "d", "subscriptionReadyForPaymentAuthorisation", "s2");
  const auto retry_id =
      InsertJob(*connection_, "r", "subscriptionReadyForPaymentAuthorisation", "s3");
  const auto doubt_id =
      InsertJob(*connection_, "i", "subscriptionReadyForPaymentAuthorisation", "s4");
  const auto dead_id =
      InsertJob(*connection_, "x", "subscriptionReadyForPaymentAuthorisation", "s5");
  const auto jobs = ClaimDueJobs(*connection_, "worker-a", milliseconds(60000), 10);
  ASSERT_EQ(jobs.size(), 5u);
  auto claimed = [&](std::int64_t id) {
    return *std::find_if(jobs.begin(), jobs.end(), [&](const ClaimedJob& j) { return j.id == id; });
  };

  JobTransition succeeded;
  succeeded.kind = JobTransition::Kind::kSucceeded;
  succeeded.outcome = "approved";
  succeeded.gateway_reference = "psp-1";
  AttemptRecord record = Attempt(claimed(succeeded_id), "succeeded");
  record.gateway_status = "APPROVED";
  record.gateway_reference = "psp-1";
  ASSERT_TRUE(RecordAttempt(*connection_, record, succeeded));
  auto row = Job(succeeded_id);
  EXPECT_EQ(row[0].as<std::string>(), "succeeded");
  EXPECT_TRUE(row[3].is_null());
  EXPECT_FALSE(row[4].as<bool>());
  EXPECT_EQ(row[5].as<std::string>(), "approved");
  EXPECT_EQ(row[6].as<std::string>(), "psp-1");
  EXPECT_TRUE(row[9].as<bool>());

  JobTransition declined;
  declined.kind = JobTransition::Kind::kSucceeded;
  declined.outcome = "declined";
  declined.decline_code = "05";
  ASSERT_TRUE(RecordAttempt(*connection_, Attempt(claimed(declined_id), "succeeded"), declined));
  row = Job(declined_id);
  EXPECT_EQ(row[5].as<std::string>(), "declined");
  EXPECT_EQ(row[7].as<std::string>(), "05");
  EXPECT_TRUE(row[6].is_null());

  JobTransition retry;
  retry.kind = JobTransition::Kind::kRetry;
  retry.delay = milliseconds(30000);
  retry.error = "UNAVAILABLE: connection refused";
  ASSERT_TRUE(RecordAttempt(*connection_, Attempt(claimed(retry_id), "retry"), retry));
  row = Job(retry_id);
  EXPECT_EQ(row[0].as<std::string>(), "queued");
  EXPECT_TRUE(row[3].is_null());
  EXPECT_EQ(row[8].as<std::string>(), "UNAVAILABLE: connection refused");
  EXPECT_FALSE(row[9].as<bool>());
  EXPECT_GT(row[10].as<double>(), 25.0);
  EXPECT_LE(row[10].as<double>(), 30.0);

  JobTransition doubt;
  doubt.kind = JobTransition::Kind::kInDoubt;
  doubt.delay = milliseconds(0);
  doubt.error = "DEADLINE_EXCEEDED";
  ASSERT_TRUE(RecordAttempt(*connection_, Attempt(claimed(doubt_id), "in_doubt"), doubt));
  EXPECT_EQ(Job(doubt_id)[0].as<std::string>(), "in_doubt");

  JobTransition dead;
  dead.kind = JobTransition::Kind::kDead;
  dead.error = "permanent status INVALID_ARGUMENT: bad";
  ASSERT_TRUE(RecordAttempt(*connection_, Attempt(claimed(dead_id), "dead"), dead));
  row = Job(dead_id);
  EXPECT_EQ(row[0].as<std::string>(), "dead");
  EXPECT_EQ(row[8].as<std::string>(), "permanent status INVALID_ARGUMENT: bad");
  EXPECT_TRUE(row[9].as<bool>());

  // The in-doubt job (delay 0) is due again, and comes back marked in doubt; the retry is not due.
  const auto again = ClaimDueJobs(*connection_, "worker-b", milliseconds(60000), 10);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, doubt_id);
  EXPECT_TRUE(again[0].was_in_doubt);
  EXPECT_EQ(again[0].attempt, 2);

  // Every recorded attempt is one append-only row with what the worker saw.
  pqxx::nontransaction tx(*connection_);
  const auto attempt = tx.exec_params1(
      "SELECT attempt, fence, worker_id, adapter, rpc, grpc_status, gateway_status, "
      "gateway_reference, decision, finished_at >= started_at FROM job_attempts WHERE job_id = $1",
      succeeded_id);
  EXPECT_EQ(attempt[0].as<int>(), 1);
  EXPECT_EQ(attempt[1].as<std::int64_t>(), 1);
  EXPECT_EQ(attempt[2].as<std::string>(), "worker-a");
  EXPECT_EQ(attempt[3].as<std::string>(), "default");
  EXPECT_EQ(attempt[4].as<std::string>(), "Authorize");
  EXPECT_EQ(attempt[5].as<std::string>(), "OK");
  EXPECT_EQ(attempt[6].as<std::string>(), "APPROVED");
  EXPECT_EQ(attempt[7].as<std::string>(), "psp-1");
  EXPECT_EQ(attempt[8].as<std::string>(), "succeeded");
  EXPECT_TRUE(attempt[9].as<bool>());
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM job_attempts")[0].as<int>(), 5);
}

TEST_F(JobQueueTest, FindsTheLatestApprovedAuthorizationOfTheSubscription) {
  EXPECT_FALSE(FindAuthorizationReference(*connection_, 123, "sub-9").has_value());
  const auto older =
      InsertJob(*connection_, "auth-1", "subscriptionReadyForPaymentAuthorisation", "sub-9");
  const auto newer =
      InsertJob(*connection_, "auth-2", "subscriptionReadyForPaymentAuthorisation", "sub-9");
  const auto declined =
      InsertJob(*connection_, "auth-3", "subscriptionReadyForPaymentAuthorisation", "sub-9");
  InsertJob(*connection_, "other", "subscriptionReadyForPaymentAuthorisation", "sub-10");
  {
    pqxx::work tx(*connection_);
    tx.exec_params0(
        "UPDATE jobs SET state = 'succeeded', finished_at = now(), outcome = 'approved', "
        "gateway_reference = 'ref-' || id WHERE id IN ($1, $2)",
        older, newer);
    tx.exec_params0(
        "UPDATE jobs SET state = 'succeeded', finished_at = now(), outcome = 'declined', "
        "gateway_reference = 'declined-ref' WHERE id = $1",
        declined);
    tx.commit();
  }
  EXPECT_EQ(FindAuthorizationReference(*connection_, 123, "sub-9"), "ref-" + std::to_string(newer));
  EXPECT_FALSE(FindAuthorizationReference(*connection_, 123, "sub-10").has_value());
  EXPECT_FALSE(FindAuthorizationReference(*connection_, 999, "sub-9").has_value());
}

TEST_F(JobQueueTest, BatchRecordReachesJobsByPrimaryKeyWhateverTheStatisticsSay) {
  // Statistics taken while nothing runs say "no job is running", as right after a burst of
  // claims. A plan that trusted them and started from the running jobs rescanned the whole batch
  // for every one of them; the record must go from its input to each job by primary key.
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(InsertJob(*connection_, "stats-" + std::to_string(i)));
  pqxx::nontransaction(*connection_).exec0("ANALYZE jobs");
  const auto jobs = ClaimDueJobs(*connection_, "worker-a", milliseconds(60000), 40);
  ASSERT_EQ(jobs.size(), 40u);
  std::vector<AttemptToRecord> batch;
  for (const auto& job : jobs) {
    JobTransition transition;
    transition.kind = JobTransition::Kind::kSucceeded;
    transition.outcome = "approved";
    transition.gateway_reference = "ref-" + std::to_string(job.id);
    batch.push_back({Attempt(job, "succeeded"), transition});
  }
  const auto recorded = RecordAttempts(*connection_, batch);
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), true), 40);
  for (const auto id : ids) {
    EXPECT_EQ(Job(id)[0].as<std::string>(), "succeeded");
    EXPECT_EQ(AttemptRows(id), 1);
  }

  // The same prepared statement (RecordAttempts prepared it on this connection), planned both
  // ways PostgreSQL plans it: custom (first executions) and generic (later ones).
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    pqxx::nontransaction tx(*connection_);
    tx.exec0(std::string("SET plan_cache_mode = ") + mode);
    // As on a large table, where reading all of jobs is never the cheap way (on this tiny one a
    // sequential scan and a hash join are, and are harmless).
    tx.exec0("SET enable_seqscan = off");
    const auto plan = PlanText(tx.exec(
        "EXPLAIN EXECUTE job_queue_record_attempts_batch('{1}', '{1}', '{1}', '{succeeded}', "
        "'{approved}', '{r}', '{NULL}', '{0}', '{NULL}', '{w}', '{a}', '{Authorize}', '{s}', "
        "'{0}', '{0}', '{OK}', '{APPROVED}', '{r}', '{NULL}', '{NULL}', '{succeeded}')"));
    tx.exec0("RESET plan_cache_mode");
    tx.exec0("RESET enable_seqscan");
    EXPECT_TRUE(std::regex_search(
        plan, std::regex("Index Scan using jobs_from_1_pkey on jobs_from_1 j(_1)?\\b")))
        << mode << "\n" << plan;
    EXPECT_FALSE(testing::PlanReadsJobsIndex(plan, "jobs_running_lease_idx"))
        << mode << "\n" << plan;
  }
}

TEST_F(JobQueueTest, ExceptionalJobsAreFoundByTheirOwnIndex) {
  // Migration 0005 replaced the index of every job by state with one of the in-doubt, dead and
  // cancelled jobs only: the worker's oldest-in-doubt gauge and an operator's list of dead jobs
  // must still be index probes, whatever the size of the history.
  InsertJob(*connection_, "doubt", "subscriptionReadyForPaymentAuthorisation", "", "in_doubt");
  InsertJob(*connection_, "dead", "subscriptionReadyForPaymentAuthorisation", "", "dead");
  pqxx::nontransaction tx(*connection_);
  tx.exec0("SET enable_seqscan = off");
  // In-doubt jobs are also in jobs_due_idx; either index serves, never a scan of the table.
  const auto in_doubt = PlanText(tx.exec(
      "EXPLAIN SELECT min(updated_at) FROM jobs WHERE state = 'in_doubt'"));
  EXPECT_NE(in_doubt.find("Index"), std::string::npos) << in_doubt;
  EXPECT_EQ(in_doubt.find("Seq Scan"), std::string::npos) << in_doubt;
  const auto dead = PlanText(tx.exec(
      "EXPLAIN SELECT id FROM jobs WHERE state = ANY('{dead}'::text[]) "
      "ORDER BY created_at DESC, id DESC LIMIT 50"));
  EXPECT_TRUE(testing::PlanReadsJobsIndex(dead, "jobs_exceptional_created_idx")) << dead;
  tx.exec0("RESET enable_seqscan");
}

// Rows the executor handled in a plan from EXPLAIN (ANALYZE, FORMAT JSON): every node's output
// rows and the rows its filters removed, over all its loops. The work a statement did, in a unit
// that does not depend on the machine's speed.
double RowsHandled(const boost::json::value& node) {
  const auto& plan = node.as_object();
  auto number = [&](const char* key) {
    const auto* value = plan.if_contains(key);
    return value ? value->to_number<double>() : 0.0;
  };
  double rows = (number("Actual Rows") + number("Rows Removed by Filter") +
                 number("Rows Removed by Join Filter")) *
                number("Actual Loops");
  if (const auto* children = plan.if_contains("Plans")) {
    for (const auto& child : children->as_array()) rows += RowsHandled(child);
  }
  return rows;
}

TEST_F(JobQueueTest, ClaimStaysOneProbePerDueJobWhenStatisticsSayNothingIsDue) {
  // The statistics of an idle night: analysed while every job was finished, so the partial
  // indexes of unfinished jobs count 0 rows. Then a burst arrives that changes fewer rows than
  // autoanalyze waits for. The per-subscription check once became a join whose inner side read
  // every unfinished job for every candidate (minutes per claim at 30,000 due jobs). Autovacuum
  // is off for this table so that nothing corrects the statistics during the test.
  constexpr int kDue = 2000;
  {
    pqxx::work tx(*connection_);
    tx.exec0("ALTER TABLE " + testing::FreshJobsPartition(tx) + " SET (autovacuum_enabled = false)");
    tx.exec0(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "raw_event, state, finished_at) "
        "SELECT 'test|old-' || g, 'po1_old-' || g, 123, 'subscriptionReadyForPaymentAuthorisation', "
        "'sub-' || (g % 100), '{}', 'succeeded', now() FROM generate_series(1, 500) AS g");
    tx.commit();
  }
  pqxx::nontransaction(*connection_).exec0("ANALYZE jobs");
  {
    pqxx::work tx(*connection_);
    tx.exec0(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "raw_event) "
        "SELECT 'test|new-' || g, 'po1_new-' || g, 123, 'subscriptionReadyForPaymentAuthorisation', "
        "'burst-' || g, '{}' FROM generate_series(1, " + std::to_string(kDue) + ") AS g");
    tx.commit();
  }
  // Prepares the statement on this connection (and claims one job, as a worker would).
  ASSERT_EQ(ClaimDueJobs(*connection_, "worker-a", milliseconds(60000), 1).size(), 1u);

  // The claim of 100 jobs, planned both ways PostgreSQL plans it, executed and rolled back.
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    pqxx::work tx(*connection_);
    tx.exec0(std::string("SET LOCAL plan_cache_mode = ") + mode);
    const auto explained = tx.exec1(
        "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE job_queue_claim_due_jobs('worker-b', 60000, 100)");
    const auto plan = boost::json::parse(explained[0].as<std::string>()).as_array().at(0);
    EXPECT_EQ(plan.at("Plan").at("Actual Rows").to_number<double>(), 100) << mode;
    // One probe per due job at worst is a few rows per due job; the join read kDue rows per
    // candidate (at least 100 x kDue).
    EXPECT_LT(RowsHandled(plan.at("Plan")), 10.0 * kDue) << mode << "\n" << explained[0].c_str();
    tx.abort();
  }
}

// Migration 0012: a vacuum removes the claim's dead index entries even when they are on a small
// share of a large table's pages (PostgreSQL skips the index pass under 2%). Here 3,000 finished
// jobs fill about 430 pages and the claimed and finished jobs leave their dead versions on a few.
TEST_F(JobQueueTest, VacuumLeavesNoDeadEntriesInTheDueIndexOfALargeTable) {
  auto inspector = database_.Connect();
  pqxx::nontransaction tx(*inspector);
  tx.exec0("CREATE EXTENSION pageinspect");
  testing::InsertFinishedJobs(tx, 3000);
  for (int i = 0; i < 20; ++i) InsertJob(*connection_, "due-" + std::to_string(i));
  tx.exec0("VACUUM jobs");

  const auto jobs = ClaimDueJobs(*connection_, "worker-a", milliseconds(60000), 20);
  ASSERT_EQ(jobs.size(), 20u);
  JobTransition succeeded;
  succeeded.kind = JobTransition::Kind::kSucceeded;
  succeeded.outcome = "approved";
  for (const auto& job : jobs) {
    ASSERT_TRUE(RecordAttempt(*connection_, Attempt(job, "succeeded"), succeeded));
  }
  tx.exec0("VACUUM jobs");  // as autovacuum runs it: the table's own settings apply

  // Index tuples on the due index's leaf pages (live or marked dead): none, since no job is due.
  const std::string partition = testing::FreshJobsPartition(tx);
  const auto entries = tx.exec_params1(
      "SELECT coalesce(sum(s.live_items + s.dead_items), 0) "
      "FROM generate_series(1, pg_relation_size($1::regclass) / 8192 - 1) AS b, "
      "     bt_page_stats($1::text, b::integer) AS s WHERE s.type = 'l'",
      partition + "_due_idx")[0].as<int>();
  EXPECT_EQ(entries, 0);
  EXPECT_GT(tx.exec_params1("SELECT pg_relation_size($1) / 8192", partition)[0].as<int>(), 100);
}

TEST_F(JobQueueTest, WakeupsSeeInsertsFromOtherConnections) {
  auto listener = database_.Connect();
  JobWakeups wakeups(*listener);
  EXPECT_FALSE(wakeups.Await(milliseconds(50)));
  InsertJob(*connection_, "wake");
  EXPECT_TRUE(wakeups.Await(milliseconds(5000)));
  EXPECT_FALSE(wakeups.Await(milliseconds(0)));  // consumed
}

}  // namespace
}  // namespace payorch::db
