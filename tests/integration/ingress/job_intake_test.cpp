#include "db/job_intake.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <utility>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "db/database.hpp"
#include "db/job_queries.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::db {
namespace {

NewJob Job(const std::string& key) {
  NewJob job;
  job.event_key = "test|" + key;
  job.idempotency_key = "po1_" + key;
  job.broadcaster_id = 123;
  job.topic = "subscriptionReadyForPaymentCapture";
  job.subscription_id = "sub-" + key;
  job.payment_gateway = "adyen";
  job.dunning_attempt_date = "2019-11-04T19:55:41Z";
  job.raw_event = R"({"broadcasterId":123, "note":"kept as sent", "key":")" + key + "\"}";
  return job;
}

class JobIntakeTest : public ::testing::Test {
 protected:
  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_ = database_.Connect();

  int Count(const std::string& sql) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec1(sql)[0].as<int>();
  }
};

TEST_F(JobIntakeTest, InsertsARowWithTheGivenFields) {
  NewJob job = Job("a");
  const auto inserted = InsertJobs(*connection_, std::vector{job});
  ASSERT_EQ(inserted.size(), 1u);
  EXPECT_FALSE(inserted[0].duplicate);

  pqxx::nontransaction tx(*connection_);
  const auto row = tx.exec_params1(
      "SELECT event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
      "payment_gateway, payment_method_id IS NULL, "
      "dunning_attempt_date = '2019-11-04T19:55:41Z'::timestamptz, raw_event, state, deliveries "
      "FROM jobs WHERE id = $1",
      inserted[0].job_id);
  EXPECT_EQ(row[0].as<std::string>(), job.event_key);
  EXPECT_EQ(row[1].as<std::string>(), job.idempotency_key);
  EXPECT_EQ(row[2].as<std::int64_t>(), 123);
  EXPECT_EQ(row[3].as<std::string>(), job.topic);
  EXPECT_EQ(row[4].as<std::string>(), job.subscription_id);
  EXPECT_EQ(row[5].as<std::string>(), "adyen");
  EXPECT_TRUE(row[6].as<bool>());  // empty payment_method_id is NULL
  EXPECT_TRUE(row[7].as<bool>());
  EXPECT_EQ(row[8].as<std::string>(), job.raw_event);
  EXPECT_EQ(row[9].as<std::string>(), "queued");
  EXPECT_EQ(row[10].as<int>(), 1);
  // The event key's uniqueness lives in job_event_keys (migration 0008), written with the job.
  EXPECT_EQ(tx.exec_params1("SELECT job_id FROM job_event_keys WHERE event_key = $1",
                            job.event_key)[0]
                .as<std::int64_t>(),
            inserted[0].job_id);
}

// Values travel as array parameters, the text columns in PostgreSQL's binary array format and
// the others as array literals: whatever they hold must come back byte for byte.
TEST_F(JobIntakeTest, ValuesWithQuotesBackslashesBracesAndNullWordsRoundTrip) {
  std::vector<NewJob> jobs;
  const std::vector<std::string> awkward = {
      R"({"a":"say \"hi\"","b":"c:\\path","c":[1,{"d":null}]})",
      "line one\nline two\ttab, comma {brace} \"quote\"",
      "NULL", "null", " spaced ", "caf\u00e9 \xe2\x82\xac \xf0\x9f\x92\xb3", "\\", "\"", ",", "{}"};
  for (std::size_t i = 0; i < awkward.size(); ++i) {
    NewJob job = Job("awkward-" + std::to_string(i));
    job.raw_event = awkward[i];
    job.subscription_id = awkward[i];
    job.payment_method_id = awkward[i];
    jobs.push_back(job);
  }
  const auto inserted = InsertJobs(*connection_, jobs);
  ASSERT_EQ(inserted.size(), jobs.size());
  pqxx::nontransaction tx(*connection_);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto row = tx.exec_params1(
        "SELECT raw_event, subscription_id, payment_method_id FROM jobs WHERE id = $1",
        inserted[i].job_id);
    EXPECT_EQ(row[0].as<std::string>(), awkward[i]) << i;
    EXPECT_EQ(row[1].as<std::string>(), awkward[i]) << i;
    EXPECT_EQ(row[2].as<std::string>(), awkward[i]) << i;
  }
}

TEST_F(JobIntakeTest, EmptyDunningDateIsNull) {
  NewJob job = Job("b");
  job.dunning_attempt_date.clear();
  const auto inserted = InsertJobs(*connection_, std::vector{job});
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE dunning_attempt_date IS NULL AND id = " +
                  std::to_string(inserted.at(0).job_id)),
            1);
}

// In the binary arrays a NULL is a length of -1 among the values of the other rows.
TEST_F(JobIntakeTest, EmptyOptionalTextsAreNullBesideRowsThatHaveThem) {
  NewJob with = Job("with-gateway");
  with.payment_method_id = "pm-1";
  NewJob without = Job("without-gateway");
  without.payment_gateway.clear();
  without.payment_method_id.clear();
  const auto inserted = InsertJobs(*connection_, std::vector{with, without});
  ASSERT_EQ(inserted.size(), 2u);
  pqxx::nontransaction tx(*connection_);
  const auto first = tx.exec_params1(
      "SELECT payment_gateway, payment_method_id, subscription_id FROM jobs WHERE id = $1",
      inserted[0].job_id);
  EXPECT_EQ(first[0].as<std::string>(), with.payment_gateway);
  EXPECT_EQ(first[1].as<std::string>(), with.payment_method_id);
  const auto second = tx.exec_params1(
      "SELECT payment_gateway IS NULL, payment_method_id IS NULL, subscription_id FROM jobs "
      "WHERE id = $1",
      inserted[1].job_id);
  EXPECT_TRUE(second[0].as<bool>());
  EXPECT_TRUE(second[1].as<bool>());
  EXPECT_EQ(second[2].as<std::string>(), without.subscription_id);
}

TEST_F(JobIntakeTest, SecondDeliveryReturnsTheSameJobAndCountsIt) {
  const auto first = InsertJobs(*connection_, std::vector{Job("a")});
  const auto second = InsertJobs(*connection_, std::vector{Job("a")});
  EXPECT_EQ(second.at(0).job_id, first.at(0).job_id);
  EXPECT_FALSE(first.at(0).duplicate);
  EXPECT_TRUE(second.at(0).duplicate);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE last_delivery_at > created_at"), 1);
}

// The unique index orders keys by their last '|' field first (migration 0008); uniqueness must
// hold for every shape of key, including those whose last field is not a date.
TEST_F(JobIntakeTest, KeysOfEveryShapeAreDeliveredOnceAndCountedAfter) {
  const std::vector<std::string> keys = {
      "cleeng/v1|1|3:abc|5:s|1|2|dunning=2026-01-01T00:00:00Z",
      "cleeng/v1|1|3:abc|5:s|1|2|expiration=2026-01-01T00:00:00Z",
      "cleeng/v1|1|3:abc|5:s|1|2|data-sha256=00ff",
      "no separator at all",
      "ends with a separator|",
  };
  std::vector<NewJob> batch;
  for (const auto& key : keys) {
    NewJob job = Job("shape");
    job.event_key = key;
    batch.push_back(job);
  }
  const auto first = InsertJobs(*connection_, batch);
  const auto second = InsertJobs(*connection_, batch);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_FALSE(first[i].duplicate) << keys[i];
    EXPECT_TRUE(second[i].duplicate) << keys[i];
    EXPECT_EQ(second[i].job_id, first[i].job_id) << keys[i];
    EXPECT_EQ(FindJobIdByEventKey(*connection_, keys[i]), first[i].job_id) << keys[i];
  }
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), static_cast<int>(keys.size()));
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE deliveries = 2"), static_cast<int>(keys.size()));
}

TEST_F(JobIntakeTest, BatchWithTheSameKeyTwiceGivesBothTheSameJob) {
  const std::vector<NewJob> batch = {Job("z"), Job("a"), Job("z"), Job("m")};
  const auto inserted = InsertJobs(*connection_, batch);
  ASSERT_EQ(inserted.size(), 4u);
  EXPECT_EQ(inserted[0].job_id, inserted[2].job_id);
  EXPECT_FALSE(inserted[0].duplicate);
  EXPECT_TRUE(inserted[2].duplicate);
  EXPECT_FALSE(inserted[1].duplicate);
  EXPECT_FALSE(inserted[3].duplicate);
  EXPECT_EQ(std::set<std::int64_t>({inserted[0].job_id, inserted[1].job_id, inserted[3].job_id})
                .size(),
            3u);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 3);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs WHERE event_key = 'test|z'"), 2);

  // The same batch again: every entry is a duplicate of the job it got the first time.
  const auto again = InsertJobs(*connection_, batch);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(again[i].job_id, inserted[i].job_id);
    EXPECT_TRUE(again[i].duplicate);
  }
  EXPECT_EQ(Count("SELECT deliveries FROM jobs WHERE event_key = 'test|z'"), 4);
}

TEST_F(JobIntakeTest, ConcurrentDeliveriesOfOneEventMakeOneJob) {
  constexpr int kThreads = 20;
  std::vector<InsertedJob> results(kThreads);
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        try {
          auto connection = database_.Connect();
          results[i] = InsertJobs(*connection, std::vector{Job("same")}).at(0);
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          ++failures;
        }
      });
    }
  }
  ASSERT_EQ(failures, 0);
  int fresh = 0;
  for (const auto& result : results) {
    EXPECT_EQ(result.job_id, results[0].job_id);
    if (!result.duplicate) ++fresh;
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs"), kThreads);
}

// A delivery whose first delivery is still being stored by another transaction waits on the key,
// and then either counts on that job (it committed) or becomes the job (it rolled back). The
// committed case is the one a single statement cannot see: its snapshot predates that commit.
class ConcurrentFirstDeliveryTest : public JobIntakeTest {
 protected:
  // Inserts Job("raced") in an open transaction, starts InsertJobs of the same event on another
  // connection, waits (bounded) until that one blocks on the key, then ends the first
  // transaction. Returns the first job's id and what the second delivery got.
  std::pair<std::int64_t, InsertedJob> Race(bool commit_first) {
    auto first_connection = database_.Connect();
    pqxx::work first(*first_connection);
    const auto first_id = InsertJobs(first, std::vector{Job("raced")}).at(0).job_id;

    auto second_connection = database_.Connect();
    const int second_pid = second_connection->backendpid();
    std::optional<InsertedJob> second;
    std::string error;
    std::jthread thread([&] {
      try {
        second = InsertJobs(*second_connection, std::vector{Job("raced")}).at(0);
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    bool waiting = false;
    for (int i = 0; i < 500 && !waiting; ++i) {  // at most 5 s
      waiting = Count("SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                      std::to_string(second_pid) + " AND wait_event_type = 'Lock'") == 1;
      if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(waiting) << "the second delivery never waited on the first";
    if (commit_first) {
      first.commit();
    } else {
      first.abort();
    }
    thread.join();
    EXPECT_EQ(error, "");
    return {first_id, second.value_or(InsertedJob{})};
  }
};

TEST_F(ConcurrentFirstDeliveryTest, CountsOnTheJobTheOtherTransactionCommitted) {
  const auto [first_id, second] = Race(/*commit_first=*/true);
  EXPECT_EQ(second.job_id, first_id);
  EXPECT_TRUE(second.duplicate);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM job_event_keys"), 1);
}

TEST_F(ConcurrentFirstDeliveryTest, BecomesTheJobWhenTheOtherTransactionRolledBack) {
  const auto [first_id, second] = Race(/*commit_first=*/false);
  EXPECT_NE(second.job_id, first_id);
  EXPECT_FALSE(second.duplicate);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM job_event_keys k JOIN jobs j ON j.id = k.job_id"), 1);
}

// Under autocommit, a batch's new jobs are committed by its first statement; when counting the
// deliveries of known events then fails, nobody may be told "stored", and the failure must say
// that part of the batch may be stored (in doubt), not that nothing was.
TEST_F(JobIntakeTest, FailureWhileCountingKnownEventsIsInDoubtAndKeepsTheNewJobs) {
  const auto known = InsertJobs(*connection_, std::vector{Job("known")}).at(0).job_id;
  // Another transaction holds the known job's row, so counting on it waits until the timeout.
  auto holder_connection = database_.Connect();
  pqxx::work holder(*holder_connection);
  holder.exec_params("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", known);
  SetStatementTimeout(*connection_, 300);
  try {
    StoreIntakeBatch(*connection_, std::vector{Job("new"), Job("known")}, {});
    FAIL() << "stored while the known job was locked";
  } catch (const DatabaseError& e) {
    EXPECT_TRUE(e.in_doubt()) << e.what();
  }
  holder.abort();
  SetStatementTimeout(*connection_, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE event_key = 'test|new'"), 1);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs WHERE event_key = 'test|known'"), 1);
  // The sender's resend finds the new job stored and counts both.
  const auto resent = StoreIntakeBatch(*connection_, std::vector{Job("new"), Job("known")}, {});
  EXPECT_TRUE(resent.at(0).duplicate);
  EXPECT_TRUE(resent.at(1).duplicate);
  EXPECT_EQ(resent.at(1).job_id, known);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs WHERE event_key = 'test|known'"), 2);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs WHERE event_key = 'test|new'"), 2);
}

TEST_F(JobIntakeTest, IgnoredEventsAndJobsCommitTogether) {
  IgnoredEvent ignored{std::nullopt, "customerRegistered", R"({"topic":"customerRegistered"})"};
  IgnoredEvent with_broadcaster{7, "transactionCreated", "{}"};
  const auto inserted = StoreIntakeBatch(*connection_, std::vector{Job("a")},
                                         std::vector{ignored, with_broadcaster});
  EXPECT_EQ(inserted.size(), 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM ignored_events"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM ignored_events WHERE broadcaster_id IS NULL AND "
                  "raw_event = '{\"topic\":\"customerRegistered\"}'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
}

// A batch is first stored with the statement that takes new keys only; a known key fails it, and
// the batch is stored again with the one that counts deliveries. The failed attempt must leave
// nothing behind: no job, key or ignored event twice, and the known job counted once.
TEST_F(JobIntakeTest, BatchOfNewAndKnownEventsIsStoredOnceWithItsIgnoredEvents) {
  const auto known = InsertJobs(*connection_, std::vector{Job("known")}).at(0).job_id;
  const auto inserted =
      StoreIntakeBatch(*connection_, std::vector{Job("new-1"), Job("known"), Job("new-2")},
                       std::vector{IgnoredEvent{1, "customerRegistered", "{}"}});
  ASSERT_EQ(inserted.size(), 3u);
  EXPECT_FALSE(inserted[0].duplicate);
  EXPECT_TRUE(inserted[1].duplicate);
  EXPECT_EQ(inserted[1].job_id, known);
  EXPECT_FALSE(inserted[2].duplicate);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM job_event_keys k JOIN jobs j ON j.id = k.job_id"), 3);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs WHERE event_key = 'test|known'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE deliveries = 1"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM ignored_events"), 1);
}

// Batches of new events, nearly all of them, take the statement without ON CONFLICT (cheaper,
// see db/job_intake.cpp); only a batch with a known key prepares the other. A connection's
// prepared statements tell which ones it ran.
TEST_F(JobIntakeTest, OnlyABatchWithAKnownKeyRunsTheStatementThatCountsDeliveries) {
  const auto prepared = [&] {
    pqxx::nontransaction tx(*connection_);
    std::set<std::string> names;
    for (const auto& row : tx.exec("SELECT name FROM pg_prepared_statements")) {
      names.insert(row[0].as<std::string>());
    }
    return names;
  };
  InsertJobs(*connection_, std::vector{Job("a"), Job("b")});
  StoreIntakeBatch(*connection_, std::vector{Job("c")}, std::vector{IgnoredEvent{1, "x", "{}"}});
  EXPECT_EQ(prepared().count("payorch_insert_new_jobs"), 1u);
  EXPECT_EQ(prepared().count("payorch_insert_jobs"), 0u);
  InsertJobs(*connection_, std::vector{Job("d"), Job("a")});
  EXPECT_EQ(prepared().count("payorch_insert_jobs"), 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 4);
}

TEST_F(JobIntakeTest, FailedBatchStoresNothing) {
  NewJob bad = Job("bad");
  bad.dunning_attempt_date = "not a date";
  EXPECT_THROW(StoreIntakeBatch(*connection_, std::vector{Job("a"), bad},
                                std::vector{IgnoredEvent{1, "x", "{}"}}),
               DatabaseError);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM ignored_events"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM job_event_keys"), 0);
  // The connection is usable again, and the prepared statement is reused.
  EXPECT_EQ(InsertJobs(*connection_, std::vector{Job("a")}).size(), 1u);
}

// Migration 0011: pages of finished jobs keep a remainder that a new, smaller queued row fits;
// at fillfactor 100 the free space map handed each remainder to the next insert, and every new
// job took a different old page (bench/ingress/run against a 10-million-job history: 69,521
// webhooks on 69,521 pages). `table_fillfactor` is the setting the new jobs are written under:
// the migrations' own (empty), or 100 as the control that shows the old pages do have room for
// one new row each, so that the expectation on the migrations' setting can fail.
struct NewJobPlacement {
  int new_jobs = 0;
  int on_old_pages = 0;  // new jobs placed on a page full of finished jobs
  int pages = 0;         // distinct pages the new jobs took
};

NewJobPlacement PlaceNewJobsBesideFinishedOnes(const std::string& table_fillfactor) {
  testing::TestDatabase database;
  auto connection = database.Connect();  // the ingress's, for InsertJobs
  auto inspector = database.Connect();
  pqxx::nontransaction tx(*inspector);
  // Storage settings belong to the partition the jobs go to (migration 0013 gives it 0011's).
  const std::string partition = testing::FreshJobsPartition(tx);
  const auto migrated = tx.exec_params1("SELECT coalesce(array_to_string(reloptions, ','), '') "
                                        "FROM pg_class WHERE oid = $1::regclass",
                                        partition)[0]
                            .as<std::string>();
  // 70 finished jobs of about 1,020 bytes written to full pages, as the history of a table
  // written before 0011 (or bulk-loaded) is: 7 to a page, with about 970 bytes left on each (the
  // last page, not full, is not counted as an old page below).
  tx.exec0("ALTER TABLE " + partition + " SET (fillfactor = 100)");
  testing::InsertFinishedJobs(tx, 70);
  const std::string setting =
      !table_fillfactor.empty() ? "fillfactor = " + table_fillfactor : migrated;
  tx.exec0(setting.empty() ? "ALTER TABLE " + partition + " RESET (fillfactor)"
                           : "ALTER TABLE " + partition + " SET (" + setting + ")");
  tx.exec0("VACUUM jobs");  // records each page's remainder in the free space map

  // 30 new jobs of about 790 bytes each, stored as the ingress stores a batch.
  std::vector<NewJob> jobs;
  for (int i = 0; i < 30; ++i) {
    NewJob job = Job("new-" + std::to_string(i));
    job.raw_event = R"({"pad":")" + std::string(600, 'y') + R"("})";
    jobs.push_back(std::move(job));
  }
  EXPECT_EQ(InsertJobs(*connection, jobs).size(), jobs.size());

  const auto row = tx.exec1(
      "WITH placed AS (SELECT (ctid::text::point)[0] AS page, event_key FROM jobs) "
      "SELECT count(*) FILTER (WHERE n.event_key LIKE 'test|new-%'), "
      "       count(*) FILTER (WHERE n.event_key LIKE 'test|new-%' AND n.page IN ("
      "         SELECT page FROM placed WHERE event_key LIKE 'old|%' GROUP BY page "
      "         HAVING count(*) >= 7)), "
      "       count(DISTINCT n.page) FILTER (WHERE n.event_key LIKE 'test|new-%') "
      "FROM placed AS n");
  return {row[0].as<int>(), row[1].as<int>(), row[2].as<int>()};
}

TEST(JobPlacementTest, NewJobsFillFreshPagesNotTheRemaindersOfFinishedOnes) {
  const NewJobPlacement control = PlaceNewJobsBesideFinishedOnes("100");
  ASSERT_EQ(control.new_jobs, 30);
  EXPECT_GE(control.on_old_pages, 8) << "the old pages must have room for a new row each";
  EXPECT_GE(control.pages, 12);

  const NewJobPlacement migrated = PlaceNewJobsBesideFinishedOnes("");
  ASSERT_EQ(migrated.new_jobs, 30);
  EXPECT_EQ(migrated.on_old_pages, 0);
  // About 9 to a page: 4 fresh pages, and possibly the old rows' last page, which is not full.
  EXPECT_LE(migrated.pages, 5) << "the control took " << control.pages;
}

TEST_F(JobIntakeTest, AddJobPartitionsKeepsAPartitionOfRoomAboveTheNextId) {
  const std::string partitions = "SELECT count(*) FROM pg_partition_tree('jobs') WHERE isleaf";
  // A fresh database: jobs_from_1 has a million ids of room.
  EXPECT_EQ(AddJobPartitions(*connection_), 1000001);
  EXPECT_EQ(Count(partitions), 1);

  // Less than a partition of room left: one new partition, however many callers ask at once.
  Count("SELECT setval('jobs_id_seq', 600000)::integer");
  std::vector<std::thread> callers;
  std::vector<std::int64_t> bounds(4);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    callers.emplace_back([&, i] {
      auto connection = database_.Connect();
      bounds[i] = AddJobPartitions(*connection);
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(bounds, std::vector<std::int64_t>(4, 2000001));
  EXPECT_EQ(Count(partitions), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_indexes WHERE tablename = 'jobs_from_1000001' "
                  "AND indexname LIKE 'jobs_from_1000001\\_%\\_idx'"),
            7);

  // Jobs on both sides of the bound between them land in their partitions; the next insert
  // past the last bound has none and fails, storing nothing.
  Count("SELECT setval('jobs_id_seq', 999999)::integer");
  const auto inserted = InsertJobs(*connection_, std::vector{Job("below"), Job("above")});
  EXPECT_EQ(std::set<std::int64_t>({inserted[0].job_id, inserted[1].job_id}),
            std::set<std::int64_t>({1000000, 1000001}));
  EXPECT_EQ(Count("SELECT count(*) FROM jobs_from_1000001"), 1);
  Count("SELECT setval('jobs_id_seq', 2000000)::integer");
  EXPECT_THROW(InsertJobs(*connection_, std::vector{Job("beyond")}), DatabaseError);
  EXPECT_EQ(Count("SELECT count(*) FROM job_event_keys WHERE event_key LIKE '%beyond%'"), 0);
  // The ids the sequence handed out past the last bound were never stored: the next partition
  // starts at the next id.
  EXPECT_EQ(AddJobPartitions(*connection_), 3000002);
  EXPECT_EQ(InsertJobs(*connection_, std::vector{Job("beyond")})[0].job_id, 2000002);
}

TEST_F(JobIntakeTest, UnreachableServerIsADatabaseError) {
  EXPECT_THROW(Connect("postgresql://postgres@127.0.0.1:1/none"), DatabaseError);
}

}  // namespace
}  // namespace payorch::db
