// db/job_admin against a real PostgreSQL: the compare-and-set of replay and cancel under
// concurrency (threads with a connection each), and that change and audit row commit together.
#include "db/job_admin.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "db/database.hpp"
#include "db/job_queries.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::db {
namespace {

class JobAdminTest : public ::testing::Test {
 protected:
  JobAdminTest() : connection_(database_.Connect()) {}

  std::int64_t InsertJob(const std::string& key, const std::string& state) {
    pqxx::work tx(*connection_);
    const auto id =
        tx.exec_params1(
              "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, "
              "subscription_id, "
              "  raw_event, state, finished_at, attempts, last_error) "
              "VALUES ($1, 'po1_' || $1, 1, 'subscriptionReadyForPaymentAuthorisation', 's', '{}', "
              "$2, "
              "  CASE WHEN $2 IN ('succeeded', 'dead', 'cancelled') THEN now() END, 3, 'boom') "
              "RETURNING id",
              key, state)[0]
            .as<std::int64_t>();
    tx.commit();
    return id;
  }

  std::int64_t Count(const std::string& sql) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec1(sql)[0].as<std::int64_t>();
  }

  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_;
};

TEST_F(JobAdminTest, TwoThreadsReplayingTheSameJobsReplayEachOnce) {
  constexpr int kJobs = 40;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < kJobs; ++i) ids.push_back(InsertJob("k" + std::to_string(i), "dead"));

  std::atomic<int> changed{0};
  auto replay_all = [&](const std::string& actor) {
    auto connection = database_.Connect();
    const AuditContext audit{NextAuditOperation(*connection), actor, "race"};
    for (auto id : ids) {
      if (ReplayJob(*connection, id, {core::JobState::kDead}, audit).changed) ++changed;
    }
  };
  std::thread alice(replay_all, "alice");
  std::thread bob(replay_all, "bob");
  alice.join();
  bob.join();

  EXPECT_EQ(changed.load(), kJobs);
  EXPECT_EQ(Count("SELECT count(*) FROM job_audit"), kJobs);
  EXPECT_EQ(Count("SELECT count(DISTINCT job_id) FROM job_audit"), kJobs);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE state = 'queued' AND attempts = 3 AND "
                  "attempts_at_replay = 3 AND finished_at IS NULL AND last_error IS NULL"),
            kJobs);
}

TEST_F(JobAdminTest, ReplayAndCancelRacingOnAQueuedJobCannotBothWin) {
  // A replayed job is queued; a cancel of it and a second replay race: the cancel may win, the
  // replay never (queued is not replayable), and each change has exactly its audit row.
  const auto id = InsertJob("k", "dead");
  const AuditContext audit{NextAuditOperation(*connection_), "alice", "x"};
  ASSERT_TRUE(ReplayJob(*connection_, id, {core::JobState::kDead}, audit).changed);
  auto other = database_.Connect();
  std::atomic<int> changes{0};
  std::thread cancel([&] {
    if (CancelJob(*other, id, {core::JobState::kQueued}, audit).changed) ++changes;
  });
  if (ReplayJob(*connection_, id, {core::JobState::kDead}, audit).changed) ++changes;
  cancel.join();
  EXPECT_EQ(changes.load(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM job_audit"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE state = 'cancelled'"), 1);
}

TEST_F(JobAdminTest, NoChangeReportsTheCurrentStateOrNothingForAnUnknownJob) {
  const auto running_id = [&] {
    pqxx::work tx(*connection_);
    const auto id = tx.exec1(
                          "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, "
                          "subscription_id, "
                          "  raw_event, state, locked_by, locked_until) VALUES ('r', 'po1_r', 1, "
                          "'t', 's', '{}', "
                          "  'running', 'w', now() + interval '1 min') RETURNING id")[0]
                        .as<std::int64_t>();
    tx.commit();
    return id;
  }();
  const AuditContext audit{NextAuditOperation(*connection_), "alice", "x"};
  const auto replay = ReplayJob(*connection_, running_id, {core::JobState::kDead}, audit);
  EXPECT_FALSE(replay.changed);
  EXPECT_EQ(replay.previous_state, "running");
  const auto cancel = CancelJob(*connection_, running_id, {core::JobState::kQueued}, audit);
  EXPECT_FALSE(cancel.changed);
  EXPECT_EQ(cancel.previous_state, "running");
  const auto unknown = ReplayJob(*connection_, 999999, {core::JobState::kDead}, audit);
  EXPECT_FALSE(unknown.changed);
  EXPECT_EQ(unknown.previous_state, "");
  EXPECT_EQ(FindJobState(*connection_, 999999), std::nullopt);
  EXPECT_EQ(Count("SELECT count(*) FROM job_audit"), 0);
}

TEST_F(JobAdminTest, AFailedAuditInsertLeavesTheJobUnchanged) {
  // The schema refuses an empty reason: the statement fails as a whole, so the job stays dead.
  const auto id = InsertJob("k", "dead");
  EXPECT_THROW((void)ReplayJob(*connection_, id, {core::JobState::kDead},
                               AuditContext{NextAuditOperation(*connection_), "alice", ""}),
               DatabaseError);
  EXPECT_EQ(FindJobState(*connection_, id), "dead");
  EXPECT_EQ(Count("SELECT count(*) FROM job_audit"), 0);
}

TEST_F(JobAdminTest, AReplayWakesListeningWorkers) {
  const auto id = InsertJob("k", "dead");
  auto listener = database_.Connect();
  {
    pqxx::nontransaction tx(*listener);
    tx.exec0("LISTEN payorch_jobs");
  }
  const AuditContext audit{NextAuditOperation(*connection_), "alice", "x"};
  ASSERT_TRUE(ReplayJob(*connection_, id, {core::JobState::kDead}, audit).changed);
  // The NOTIFY was committed with the replay; await_notification bounds the wait.
  EXPECT_GE(listener->await_notification(5, 0), 1);
}

}  // namespace
}  // namespace payorch::db
