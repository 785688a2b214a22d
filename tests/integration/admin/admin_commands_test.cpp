// payorch-admin's commands against a real PostgreSQL: rows are inserted with plain SQL, the
// commands are called as functions, and their output is parsed back.
#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "db/database.hpp"
#include "db/job_intake.hpp"
#include "db/job_queries.hpp"
#include "services/admin/commands.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::admin {
namespace {

constexpr const char* kAuthorisation = "subscriptionReadyForPaymentAuthorisation";
constexpr const char* kRawEvent =
    R"({"broadcasterId":123,"topic":"subscriptionReadyForPaymentAuthorisation",)"
    R"("data":{"subscriptionId":"332332332","customerEmail":"jane@example.com",)"
    R"("token":"tok_secret_value","currency":"USD"}})";

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class AdminCommandsTest : public ::testing::Test {
 protected:
  AdminCommandsTest() : connection_(database_.Connect()) {}

  // A job in `state` created at `created_at` (a timestamptz literal); the columns the schema's
  // checks tie to the state are filled in. Returns its id.
  std::int64_t InsertJob(const std::string& key, const std::string& state,
                         const std::string& created_at,
                         const std::string& raw_event = kRawEvent) {
    pqxx::work tx(*connection_);
    const auto id = tx.exec_params1(
        "WITH job AS ("
        "  INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "    raw_event, state, created_at, finished_at, locked_by, locked_until, last_error) "
        "  VALUES ($1, 'po1_' || $1, 123, $2, 'sub-' || $1, $3, $4, $5::timestamptz, "
        "    CASE WHEN $4 IN ('succeeded', 'dead', 'cancelled') THEN now() END, "
        "    CASE WHEN $4 = 'running' THEN 'worker-1' END, "
        "    CASE WHEN $4 = 'running' THEN now() + interval '30 s' END, "
        "    CASE WHEN $4 = 'dead' THEN 'UNAVAILABLE: adapter down' END) "
        "  RETURNING id, event_key), "
        "key AS (INSERT INTO job_event_keys (event_key, job_id) SELECT event_key, id FROM job) "
        "SELECT id FROM job",
        key, kAuthorisation, raw_event, state, created_at)[0].as<std::int64_t>();
    tx.commit();
    return id;
  }

  void InsertAttempt(std::int64_t job_id, int attempt, const std::string& grpc_status,
                     const std::string& decision) {
    pqxx::work tx(*connection_);
    tx.exec_params0(
        "INSERT INTO job_attempts (job_id, attempt, fence, worker_id, adapter, rpc, "
        "  request_summary, started_at, finished_at, grpc_status, gateway_status, "
        "  gateway_reference, error, decision) "
        "VALUES ($1, $2::int, $2::int, 'worker-1', 'sandbox', 'Authorize', 'amount=1000 USD', "
        "  timestamptz '2026-01-01 10:00:00Z' + $2::int * interval '1 min', "
        "  timestamptz '2026-01-01 10:00:00.250Z' + $2::int * interval '1 min', $3, "
        "  CASE WHEN $3 = 'OK' THEN 'APPROVED' END, CASE WHEN $3 = 'OK' THEN 'ref-1' END, "
        "  CASE WHEN $3 <> 'OK' THEN 'connection refused' END, $4)",
        job_id, attempt, grpc_status, decision);
    tx.commit();
  }

  Output List(JobsListOptions options) {
    Output output;
    std::ostringstream out, err;
    output.exit_code = RunJobsList(*connection_, options, out, err);
    output.out = out.str();
    output.err = err.str();
    return output;
  }

  Output Show(std::int64_t id, bool json) {
    Output output;
    std::ostringstream out, err;
    output.exit_code = RunJobsShow(*connection_, JobsShowOptions{.job_id = id, .json = json}, out, err);
    output.out = out.str();
    output.err = err.str();
    return output;
  }

  // Every page of the listing, following next_before_id (at most 10 pages).
  std::vector<std::int64_t> ListedIdsPageByPage(db::JobListFilter filter) {
    std::vector<std::int64_t> listed;
    for (int page = 0; page < 10; ++page) {
      const auto result = db::ListJobs(*connection_, filter);
      for (const auto& job : result.jobs) listed.push_back(job.id);
      if (!result.next_before_id) break;
      filter.before_id = result.next_before_id;
    }
    return listed;
  }

  // The ids of a `jobs list --json` run, in output order.
  std::vector<std::int64_t> ListedIds(JobsListOptions options) {
    options.json = true;
    const auto output = List(options);
    EXPECT_EQ(output.exit_code, kExitOk) << output.err;
    std::vector<std::int64_t> ids;
    const auto document = boost::json::parse(output.out);
    for (const auto& job : document.at("jobs").as_array()) {
      ids.push_back(job.at("id").as_int64());
    }
    return ids;
  }

  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_;
};

TEST_F(AdminCommandsTest, ListsNewestFirstBreakingTiesByIdDescending) {
  const auto oldest = InsertJob("a", "queued", "2026-01-01 10:00:00Z");
  const auto newest = InsertJob("b", "queued", "2026-01-03 10:00:00Z");
  const auto tie_low = InsertJob("c", "queued", "2026-01-02 10:00:00Z");
  const auto tie_high = InsertJob("d", "queued", "2026-01-02 10:00:00Z");
  EXPECT_EQ(ListedIds({}),
            (std::vector<std::int64_t>{newest, tie_high, tie_low, oldest}));
}

TEST_F(AdminCommandsTest, FiltersByOneOrSeveralStates) {
  const auto queued = InsertJob("q", "queued", "2026-01-01 10:00:00Z");
  const auto dead = InsertJob("d", "dead", "2026-01-02 10:00:00Z");
  const auto succeeded = InsertJob("s", "succeeded", "2026-01-03 10:00:00Z");
  const auto running = InsertJob("r", "running", "2026-01-04 10:00:00Z");
  EXPECT_EQ(ListedIds({.filter = {.states = {"dead"}}}), (std::vector<std::int64_t>{dead}));
  EXPECT_EQ(ListedIds({.filter = {.states = {"dead", "queued"}}}),
            (std::vector<std::int64_t>{dead, queued}));
  EXPECT_EQ(ListedIds({.filter = {.states = {"running,succeeded"}}}),
            (std::vector<std::int64_t>{running, succeeded}));
  EXPECT_TRUE(ListedIds({.filter = {.states = {"cancelled"}}}).empty());
  EXPECT_EQ(ListedIds({}).size(), 4u);
}

TEST_F(AdminCommandsTest, ListBySubscriptionFindsItsJobsInEveryStateOnce) {
  // Migration 0010: no index holds every job by subscription. Finished jobs are in one partial
  // index and unfinished ones in another, and the listing reads both: every state must appear,
  // and each job once. Paged one job at a time, more than the five executions after which
  // PostgreSQL may plan the statement generically.
  std::vector<std::int64_t> expected;
  const char* states[] = {"queued", "running", "in_doubt", "succeeded", "dead", "cancelled"};
  for (int day = 1; day <= 6; ++day) {
    const auto id = InsertJob("s" + std::to_string(day), states[day - 1],
                              "2026-01-0" + std::to_string(day) + " 10:00:00Z");
    expected.insert(expected.begin(), id);
  }
  InsertJob("other", "succeeded", "2026-01-07 10:00:00Z");
  {
    pqxx::work tx(*connection_);
    tx.exec0("UPDATE jobs SET subscription_id = 'sub-all' WHERE event_key LIKE 's_'");
    tx.commit();
  }
  EXPECT_EQ(ListedIdsPageByPage({.subscription_id = "sub-all", .limit = 1}), expected);
}

TEST_F(AdminCommandsTest, LimitKeepsTheNewestJobs) {
  std::vector<std::int64_t> ids;
  for (int day = 1; day <= 5; ++day) {
    ids.push_back(InsertJob("k" + std::to_string(day), "queued",
                            "2026-01-0" + std::to_string(day) + " 10:00:00Z"));
  }
  EXPECT_EQ(ListedIds({.limit = 2}), (std::vector<std::int64_t>{ids[4], ids[3]}));
  EXPECT_EQ(ListedIds({.limit = 1000}).size(), 5u);
}

TEST_F(AdminCommandsTest, ListJsonHasTheDocumentedShape) {
  const auto id = InsertJob("a", "dead", "2026-01-02 03:04:05.678Z");
  const auto output = List({.json = true});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_TRUE(output.err.empty());
  // One JSON document on one line.
  EXPECT_EQ(output.out.find('\n'), output.out.size() - 1);
  const auto document = boost::json::parse(output.out).as_object();
  ASSERT_EQ(document.size(), 2u);
  EXPECT_TRUE(document.at("next_cursor").is_null());
  const auto& jobs = document.at("jobs").as_array();
  ASSERT_EQ(jobs.size(), 1u);
  const auto& job = jobs[0].as_object();
  EXPECT_EQ(job.at("id").as_int64(), id);
  EXPECT_EQ(job.at("state"), "dead");
  EXPECT_EQ(job.at("topic"), kAuthorisation);
  EXPECT_EQ(job.at("subscription_id"), "sub-a");
  EXPECT_TRUE(job.at("outcome").is_null());
  EXPECT_EQ(job.at("attempts"), 0);
  EXPECT_EQ(job.at("last_error"), "UNAVAILABLE: adapter down");
  EXPECT_EQ(job.at("created_at"), "2026-01-02T03:04:05.678000Z");
  EXPECT_TRUE(job.at("updated_at").is_string());
}

TEST_F(AdminCommandsTest, TimestampsAreUtcWhateverTheSessionTimeZone) {
  InsertJob("a", "queued", "2026-01-02 03:04:05Z");
  {
    pqxx::nontransaction tx(*connection_);
    tx.exec0("SET TIME ZONE 'Asia/Tokyo'");
  }
  const auto jobs = db::ListJobs(*connection_, {}).jobs;
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].created_at, "2026-01-02T03:04:05.000000Z");
}

TEST_F(AdminCommandsTest, ListTableShowsTheJobs) {
  const auto id = InsertJob("a", "dead", "2026-01-02 03:04:05Z");
  const auto output = List({});
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_EQ(output.out.rfind("ID  STATE  TOPIC", 0), 0u) << output.out;
  EXPECT_NE(output.out.find(std::to_string(id) + "   dead   " + kAuthorisation + "  sub-a"),
            std::string::npos)
      << output.out;
  EXPECT_NE(output.out.find("2026-01-02T03:04:05Z  UNAVAILABLE: adapter down\n"),
            std::string::npos)
      << output.out;
}

TEST_F(AdminCommandsTest, BadStateExitsTwoAndNamesTheValidStates) {
  InsertJob("a", "queued", "2026-01-01 10:00:00Z");
  const auto output = List({.filter = {.states = {"queued", "failed"}}});
  EXPECT_EQ(output.exit_code, kExitUsage);
  EXPECT_TRUE(output.out.empty());
  EXPECT_EQ(output.err,
            "payorch-admin: unknown job state \"failed\" (valid states: queued, running, "
            "in_doubt, succeeded, dead, cancelled)\n");
}

TEST_F(AdminCommandsTest, LimitOutOfRangeExitsTwo) {
  EXPECT_EQ(List({.limit = 0}).exit_code, kExitUsage);
  EXPECT_EQ(List({.limit = db::kMaxListJobsLimit + 1}).exit_code, kExitUsage);
}

TEST_F(AdminCommandsTest, ShowJsonHasTheJobMaskedAndItsAttemptsInOrder) {
  const auto id = InsertJob("a", "running", "2026-01-02 03:04:05Z");
  // Recorded out of order: the output is still in attempt order.
  InsertAttempt(id, 2, "OK", "succeeded");
  InsertAttempt(id, 1, "UNAVAILABLE", "retry");
  const auto other = InsertJob("b", "queued", "2026-01-02 03:04:05Z");
  InsertAttempt(other, 1, "OK", "succeeded");

  const auto output = Show(id, /*json=*/true);
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_EQ(output.out.find("tok_secret_value"), std::string::npos);
  EXPECT_EQ(output.out.find("jane@example.com"), std::string::npos);

  const auto document = boost::json::parse(output.out).as_object();
  ASSERT_EQ(document.size(), 3u);
  EXPECT_TRUE(document.at("audit").as_array().empty());
  const auto& job = document.at("job").as_object();
  EXPECT_EQ(job.at("id").as_int64(), id);
  EXPECT_EQ(job.at("event_key"), "a");
  EXPECT_EQ(job.at("idempotency_key"), "po1_a");
  EXPECT_EQ(job.at("broadcaster_id"), 123);
  EXPECT_EQ(job.at("state"), "running");
  EXPECT_EQ(job.at("locked_by"), "worker-1");
  EXPECT_TRUE(job.at("locked_until").is_string());
  EXPECT_TRUE(job.at("finished_at").is_null());
  EXPECT_EQ(job.at("created_at"), "2026-01-02T03:04:05.000000Z");
  EXPECT_EQ(job.at("raw_event").at("data").at("token"), "***");
  EXPECT_EQ(job.at("raw_event").at("data").at("customerEmail"), "***");
  EXPECT_EQ(job.at("raw_event").at("data").at("subscriptionId"), "332332332");

  const auto& attempts = document.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].at("attempt"), 1);
  EXPECT_EQ(attempts[0].at("grpc_status"), "UNAVAILABLE");
  EXPECT_EQ(attempts[0].at("error"), "connection refused");
  EXPECT_EQ(attempts[0].at("decision"), "retry");
  EXPECT_EQ(attempts[0].at("started_at"), "2026-01-01T10:01:00.000000Z");
  EXPECT_EQ(attempts[0].at("duration_ms"), 250);
  EXPECT_EQ(attempts[1].at("attempt"), 2);
  EXPECT_EQ(attempts[1].at("gateway_status"), "APPROVED");
  EXPECT_EQ(attempts[1].at("gateway_reference"), "ref-1");
  EXPECT_EQ(attempts[1].at("request_summary"), "amount=1000 USD");
}

TEST_F(AdminCommandsTest, ShowTableHasTheJobAndEveryAttemptWithoutSecrets) {
  const auto id = InsertJob("a", "dead", "2026-01-02 03:04:05Z");
  InsertAttempt(id, 1, "UNAVAILABLE", "retry");
  InsertAttempt(id, 2, "UNAVAILABLE", "dead");
  const auto output = Show(id, /*json=*/false);
  ASSERT_EQ(output.exit_code, kExitOk) << output.err;
  EXPECT_NE(output.out.find("state              dead\n"), std::string::npos) << output.out;
  EXPECT_NE(output.out.find("last error         UNAVAILABLE: adapter down\n"), std::string::npos)
      << output.out;
  EXPECT_NE(output.out.find(R"("token":"***")"), std::string::npos) << output.out;
  EXPECT_EQ(output.out.find("tok_secret_value"), std::string::npos);
  EXPECT_EQ(output.out.find("jane@example.com"), std::string::npos);
  EXPECT_NE(output.out.find("attempts (2):\n"), std::string::npos) << output.out;
  EXPECT_NE(output.out.find("\n1        worker-1  sandbox  Authorize"), std::string::npos)
      << output.out;
  EXPECT_NE(output.out.find("\n2        worker-1  sandbox  Authorize"), std::string::npos)
      << output.out;
}

TEST_F(AdminCommandsTest, ShowUnknownIdExitsOne) {
  InsertJob("a", "queued", "2026-01-02 03:04:05Z");
  const auto output = Show(999999, /*json=*/false);
  EXPECT_EQ(output.exit_code, kExitFailure);
  EXPECT_TRUE(output.out.empty());
  EXPECT_EQ(output.err, "payorch-admin: job 999999 not found\n");
  EXPECT_EQ(Show(999999, /*json=*/true).exit_code, kExitFailure);
}

TEST_F(AdminCommandsTest, RepositoryAnswersEmptyForUnknownJobs) {
  EXPECT_FALSE(db::FindJob(*connection_, 42).has_value());
  EXPECT_TRUE(db::ListAttempts(*connection_, 42).empty());
  EXPECT_TRUE(db::ListJobs(*connection_, {}).jobs.empty());
}

TEST_F(AdminCommandsTest, RepositoryClampsTheLimit) {
  InsertJob("a", "queued", "2026-01-01 10:00:00Z");
  InsertJob("b", "queued", "2026-01-02 10:00:00Z");
  // Out-of-range limits are clamped into [1, kMaxListJobsLimit], never passed through.
  EXPECT_EQ(db::ListJobs(*connection_, {.limit = 0}).jobs.size(), 1u);
  EXPECT_EQ(db::ListJobs(*connection_, {.limit = -5}).jobs.size(), 1u);
  EXPECT_EQ(db::ListJobs(*connection_, {.limit = 1'000'000}).jobs.size(), 2u);
}

TEST_F(AdminCommandsTest, CombinedFiltersPageTheSameOnceThePlanIsGeneric) {
  // Keyset pages of 1 through dead and cancelled jobs of one subscription created since a time:
  // more than the five executions after which PostgreSQL may plan a prepared statement
  // generically, so a wrong generic plan would show as a wrong page.
  std::vector<std::int64_t> expected;
  for (int day = 1; day <= 9; ++day) {
    const auto state = day % 3 == 0 ? "queued" : (day % 3 == 1 ? "dead" : "cancelled");
    const auto id = InsertJob("p" + std::to_string(day), state,
                              "2026-01-0" + std::to_string(day) + " 10:00:00Z");
    if (day >= 2 && day % 3 != 0) expected.insert(expected.begin(), id);
  }
  {
    pqxx::work tx(*connection_);
    tx.exec0("UPDATE jobs SET subscription_id = 'sub-shared' WHERE event_key <> 'p8'");
    tx.commit();
  }
  expected.erase(std::find(expected.begin(), expected.end(),
                           db::FindJobIdByEventKey(*connection_, "p8").value()));
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(ListedIdsPageByPage(
                  {.states = {core::JobState::kDead, core::JobState::kCancelled},
                   .subscription_id = "sub-shared",
                   .created_since = "2026-01-02T00:00:00Z",
                   .limit = 1}),
              expected)
        << "round " << round;
  }
}

TEST_F(AdminCommandsTest, FinishedRangesListTheirJobsFromEveryPartitionThatHoldsOne) {
  // Four partitions of jobs (migration 0013: a million ids each). The listing reads only the
  // partitions that hold a job finished in the range (migration 0014); this checks that those
  // bounds never hide one, including an old job replayed and finished again lately, in the
  // oldest partition, and that the keyset pages agree once the plan could be generic.
  auto finished = [&](const std::string& key, const std::string& created_days_ago,
                      const std::string& finished_ago) {
    const auto id = InsertJob(key, "succeeded", "2026-01-01T00:00:00Z");
    pqxx::work tx(*connection_);
    tx.exec_params0(
        "UPDATE jobs SET created_at = now() - $2::integer * interval '1 day', "
        "finished_at = now() - $3::interval WHERE id = $1",
        id, created_days_ago, finished_ago);
    tx.commit();
    return id;
  };
  auto next_partition = [&](int millions) {
    pqxx::nontransaction(*connection_)
        .exec_params("SELECT setval('jobs_id_seq', $1::bigint)", millions * 1'000'000LL);
    db::AddJobPartitions(*connection_);
  };
  const auto old_in_first = finished("a", "50", "40 days");
  const auto replayed_in_first = finished("b", "49", "1 hour");
  next_partition(1);
  const auto old_in_second = finished("c", "45", "40 days");
  const auto recent_in_second = finished("d", "4", "2 days");
  next_partition(2);
  const auto old_in_third = finished("e", "41", "35 days");
  InsertJob("f", "queued", "2026-01-01T00:00:00Z");
  next_partition(3);
  const auto recent_in_fourth = finished("g", "1", "1 hour");

  // A time as the database prints it ("2026-11-30 06:19:29.156997+00": a space inside).
  auto at = [&](const std::string& interval) {
    return pqxx::read_transaction(*connection_)
        .exec_params1("SELECT (now() + $1::interval)::text", interval)[0]
        .as<std::string>();
  };
  EXPECT_EQ(ListedIdsPageByPage({.finished_since = at("-3 days"), .limit = 1}),
            (std::vector<std::int64_t>{recent_in_fourth, recent_in_second, replayed_in_first}));
  EXPECT_EQ(ListedIdsPageByPage({.finished_until = at("-30 days"), .limit = 1}),
            (std::vector<std::int64_t>{old_in_third, old_in_second, old_in_first}));
  EXPECT_EQ(ListedIdsPageByPage({.finished_since = at("-3 days"), .finished_until = at("-1 day")}),
            std::vector<std::int64_t>{recent_in_second});
  EXPECT_TRUE(ListedIdsPageByPage({.finished_since = at("1 hour")}).empty());
  // Through the command, with its relative times.
  EXPECT_EQ(ListedIds({.filter = {.finished_since = "3d"}}),
            (std::vector<std::int64_t>{recent_in_fourth, recent_in_second, replayed_in_first}));
}

class StatsTest : public AdminCommandsTest {
 protected:
  // `stats --json` with this window, parsed.
  boost::json::object Stats(const std::string& window) {
    std::ostringstream out, err;
    EXPECT_EQ(RunStats(*connection_, {.window = window, .json = true}, out, err), kExitOk)
        << err.str();
    return boost::json::parse(out.str()).as_object();
  }

  // Moves a final job's finish (and its creation) `age` into the past (an interval literal).
  void FinishedAgo(std::int64_t id, const std::string& age) {
    pqxx::work tx(*connection_);
    tx.exec_params0(
        "UPDATE jobs SET finished_at = now() - $2::interval, created_at = now() - $2::interval "
        "- interval '1 min', outcome = CASE WHEN state = 'succeeded' THEN 'approved' END "
        "WHERE id = $1",
        id, age);
    tx.commit();
  }
};

TEST_F(StatsTest, CountsTheBacklogExactlyAndFinalJobsOnlyWithinTheWindow) {
  InsertJob("q1", "queued", "2020-01-01 10:00:00Z");  // unfinished: counted however old
  InsertJob("q2", "queued", "2026-01-01 10:00:00Z");
  InsertJob("r", "running", "2026-01-01 10:00:00Z");
  const auto doubt = InsertJob("i", "in_doubt", "2026-01-01 10:00:00Z");
  InsertAttempt(doubt, 1, "DEADLINE_EXCEEDED", "in_doubt");
  const auto recent = InsertJob("s1", "succeeded", "2026-01-01 10:00:00Z");
  FinishedAgo(recent, "2 hours");
  InsertAttempt(recent, 1, "OK", "succeeded");
  const auto older = InsertJob("s2", "succeeded", "2026-01-01 10:00:00Z");
  FinishedAgo(older, "3 days");
  InsertAttempt(older, 1, "OK", "succeeded");
  FinishedAgo(InsertJob("d", "dead", "2026-01-01 10:00:00Z"), "30 days");

  const auto day = Stats("24h");
  EXPECT_EQ(day.at("by_state"), (boost::json::object{{"queued", 2},
                                                     {"running", 1},
                                                     {"in_doubt", 1},
                                                     {"succeeded", 1},
                                                     {"dead", 0},
                                                     {"cancelled", 0}}));
  EXPECT_EQ(day.at("by_topic"), (boost::json::object{{kAuthorisation, 5}}));
  EXPECT_EQ(day.at("by_adapter"), (boost::json::object{{"sandbox", 2}}));  // in_doubt + s1
  EXPECT_EQ(day.at("by_outcome"), (boost::json::object{{"approved", 1}}));

  const auto week = Stats("7d");
  EXPECT_EQ(week.at("by_state").at("succeeded"), 2);
  EXPECT_EQ(week.at("by_state").at("dead"), 0);
  EXPECT_EQ(week.at("by_state").at("queued"), 2);
  EXPECT_EQ(week.at("by_adapter"), (boost::json::object{{"sandbox", 3}}));
  EXPECT_EQ(week.at("by_outcome"), (boost::json::object{{"approved", 2}}));

  EXPECT_EQ(Stats("60d").at("by_state").at("dead"), 1);
}

TEST_F(StatsTest, TableSaysWhichWindowTheFinalCountsCover) {
  std::ostringstream out, err;
  ASSERT_EQ(RunStats(*connection_, {.window = "7d"}, out, err), kExitOk) << err.str();
  EXPECT_NE(out.str().find("only when they finished in the last 7d (--window)"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("jobs succeeded in the last 7d by outcome:\n"), std::string::npos)
      << out.str();
}

TEST_F(StatsTest, BadWindowExitsTwo) {
  for (const char* window : {"", "0s", "24", "-1h", "soon"}) {
    std::ostringstream out, err;
    EXPECT_EQ(RunStats(*connection_, {.window = window}, out, err), kExitUsage) << window;
    EXPECT_NE(err.str().find("--window"), std::string::npos) << err.str();
    EXPECT_TRUE(out.str().empty());
  }
}

// The line of `migrate --status` output that starts with `name`, or empty.
std::string MigrationLine(const std::string& status, const std::string& name) {
  const auto at = status.find("\n" + name + " ");
  if (at == std::string::npos) return {};
  return status.substr(at + 1, status.find('\n', at + 1) - at - 1);
}

TEST_F(AdminCommandsTest, BulkReplayIsPacedAtTheRate) {
  for (const char* key : {"a", "b", "c"}) InsertJob(key, "dead", "2026-01-01 10:00:00Z");
  std::vector<std::chrono::nanoseconds> pauses;
  JobsReplayOptions options;
  options.use_filter = true;
  options.reason = "paced";
  options.actor = "tester";
  options.rate = 4.0;
  options.sleep = [&pauses](std::chrono::nanoseconds pause) { pauses.push_back(pause); };
  std::ostringstream out, err;
  ASSERT_EQ(RunJobsReplay(*connection_, options, out, err), kExitOk) << err.str();
  // Three replays, a quarter of a second apart: two pauses, none before the first.
  EXPECT_EQ(pauses, (std::vector<std::chrono::nanoseconds>{std::chrono::milliseconds(250),
                                                           std::chrono::milliseconds(250)}));
  EXPECT_NE(out.str().find("3 replayed, 0 skipped, 0 not found (audit operation "),
            std::string::npos)
      << out.str();
}

TEST_F(AdminCommandsTest, MigrateOnACurrentDatabaseIsANoOp) {
  std::ostringstream out, err;
  EXPECT_EQ(RunMigrate(*connection_, {}, out, err), kExitOk) << err.str();
  EXPECT_EQ(out.str(), "database is up to date\n");

  std::ostringstream status_out, status_err;
  EXPECT_EQ(RunMigrate(*connection_, {.status_only = true}, status_out, status_err), kExitOk);
  // Column widths follow the longest migration name, which other components' migrations set.
  EXPECT_EQ(status_out.str().rfind("MIGRATION ", 0), 0u) << status_out.str();
  EXPECT_NE(MigrationLine(status_out.str(), "0001_jobs.sql").find(" applied "), std::string::npos)
      << status_out.str();
  EXPECT_NE(MigrationLine(status_out.str(), "0003_admin_audit.sql").find(" applied "),
            std::string::npos)
      << status_out.str();
  EXPECT_NE(status_out.str().find(" applied, 0 pending\n"), std::string::npos);
}

TEST_F(AdminCommandsTest, MigrateAppliesWhatIsPending) {
  {
    // An empty database: drop everything the fixture applied.
    pqxx::work tx(*connection_);
    tx.exec0("DROP SCHEMA public CASCADE");
    tx.exec0("CREATE SCHEMA public");
    tx.commit();
  }
  std::ostringstream status_out, status_err;
  EXPECT_EQ(RunMigrate(*connection_, {.status_only = true}, status_out, status_err), kExitOk)
      << status_err.str();
  EXPECT_NE(MigrationLine(status_out.str(), "0001_jobs.sql").find(" pending  -"),
            std::string::npos)
      << status_out.str();

  std::ostringstream out, err;
  EXPECT_EQ(RunMigrate(*connection_, {}, out, err), kExitOk) << err.str();
  EXPECT_NE(out.str().find("applied 0001_jobs.sql\n"), std::string::npos) << out.str();
  EXPECT_TRUE(db::ListJobs(*connection_, {}).jobs.empty());
}

}  // namespace
}  // namespace payorch::admin
