#include "db/migrator.hpp"

#include <algorithm>
#include <span>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "db/database.hpp"
#include "db/job_intake.hpp"
#include "db/job_queries.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::db {
namespace {

TEST(Migrator, AppliesEveryMigrationOnceAndIsANoOpTheSecondTime) {
  testing::TestDatabase database;  // already migrated by the fixture
  auto connection = database.Connect();
  Migrator migrator(*connection);
  EXPECT_TRUE(migrator.Migrate().empty());
  EXPECT_TRUE(migrator.IsCurrent());
  const auto status = migrator.Status();
  ASSERT_EQ(status.size(), EmbeddedMigrations().size());
  for (const auto& migration : status) {
    EXPECT_TRUE(migration.applied) << migration.name;
    EXPECT_FALSE(migration.applied_at.empty());
  }
  pqxx::work tx(*connection);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<std::size_t>(),
            EmbeddedMigrations().size());
}

TEST(Migrator, AppliesOnlyWhatIsPendingInNameOrder) {
  testing::TestDatabase database;
  auto connection = database.Connect();
  const MigrationFile files_v1[] = {{"0001_a.sql", "CREATE TABLE a (x int)"}};
  const MigrationFile files_v2[] = {{"0001_a.sql", "CREATE TABLE a (x int)"},
                                    {"0002_b.sql", "CREATE TABLE b (y int REFERENCES a_pk (x))"
                                                   "; SELECT 1"}};
  // A fresh database that knows nothing of the real schema: drop what the fixture applied.
  {
    pqxx::work tx(*connection);
    tx.exec0("DROP TABLE schema_migrations");
    tx.commit();
  }
  EXPECT_EQ(Migrator(*connection, files_v1).Migrate(), std::vector<std::string>{"0001_a.sql"});
  // 0002 fails (no table a_pk): it changes nothing and stays pending.
  EXPECT_THROW(Migrator(*connection, files_v2).Migrate(), DatabaseError);
  const auto status = Migrator(*connection, files_v2).Status();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_TRUE(status[0].applied);
  EXPECT_FALSE(status[1].applied);
  pqxx::work tx(*connection);
  EXPECT_TRUE(tx.exec1("SELECT to_regclass('b') IS NULL")[0].as<bool>());
}

TEST(Migrator, RefusesWhenAnAppliedFileChanged) {
  testing::TestDatabase database;
  auto connection = database.Connect();
  auto files = std::vector<MigrationFile>(EmbeddedMigrations().begin(), EmbeddedMigrations().end());
  const std::string edited = std::string(files[0].sql) + "\n-- edited";
  files[0].sql = edited;
  Migrator migrator(*connection, files);
  EXPECT_THROW(migrator.Migrate(), DatabaseError);
  EXPECT_THROW(migrator.Status(), DatabaseError);
  EXPECT_FALSE(migrator.IsCurrent());
}

TEST(Migrator, RefusesWhenTheDatabaseIsNewerThanTheBinary) {
  testing::TestDatabase database;
  auto connection = database.Connect();
  {
    pqxx::work tx(*connection);
    tx.exec0("INSERT INTO schema_migrations (name, sha256) VALUES ('9999_future.sql', 'x')");
    tx.commit();
  }
  Migrator migrator(*connection);
  // An older binary stays ready while a newer one has migrated (rolling upgrades)...
  EXPECT_TRUE(migrator.IsCurrent());
  // ...but refuses to migrate.
  try {
    migrator.Migrate();
    FAIL() << "migrated a database that is newer than the binary";
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("9999_future.sql"), std::string::npos);
  }
}

// Empties the database's schema and applies the migrations before `migration` only: the schema an
// upgrade to it starts from.
void MigrateUpTo(pqxx::connection& connection, std::string_view migration) {
  {
    pqxx::work tx(connection);
    tx.exec0("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    tx.commit();
  }
  const auto all = EmbeddedMigrations();
  const auto before = std::find_if(all.begin(), all.end(), [&](const MigrationFile& file) {
    return std::string_view(file.name) == migration;
  });
  ASSERT_NE(before, all.end()) << migration;
  Migrator(connection, std::span<const MigrationFile>(all.begin(), before)).Migrate();
}

// A capture event with `key`, as the ingress would store it.
NewJob CaptureJob(const std::string& key) {
  NewJob job;
  job.event_key = key;
  job.idempotency_key = "po1_" + key;
  job.broadcaster_id = 1;
  job.topic = "subscriptionReadyForPaymentCapture";
  job.subscription_id = "sub-" + key;
  job.raw_event = "{}";
  return job;
}

// 0008 moves the event key's uniqueness into job_event_keys: the jobs a database already holds
// keep their keys, and their events stay deduplicated after the upgrade.
TEST(Migrator, EventKeysMigrationKeepsTheKeysOfExistingJobs) {
  testing::TestDatabase database;
  auto connection = database.Connect();
  ASSERT_NO_FATAL_FAILURE(MigrateUpTo(*connection, "0008_event_keys.sql"));
  std::int64_t old_job = 0;
  {
    pqxx::work tx(*connection);
    old_job = tx.exec1(
                    "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, "
                    "  subscription_id, raw_event) "
                    "VALUES ('old|key', 'po1_old', 1, 'subscriptionReadyForPaymentCapture', "
                    "  'sub-old', '{}') RETURNING id")[0]
                  .as<std::int64_t>();
    tx.commit();
  }

  Migrator(*connection).Migrate();
  EXPECT_EQ(FindJobIdByEventKey(*connection, "old|key"), old_job);
  NewJob again;
  again.event_key = "old|key";
  again.idempotency_key = "po1_old";
  again.broadcaster_id = 1;
  again.topic = "subscriptionReadyForPaymentCapture";
  again.subscription_id = "sub-old";
  again.raw_event = "{}";
  const auto inserted = InsertJobs(*connection, std::vector{again});
  EXPECT_EQ(inserted.at(0).job_id, old_job);
  EXPECT_TRUE(inserted.at(0).duplicate);
  pqxx::work tx(*connection);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM jobs")[0].as<int>(), 1);
  EXPECT_EQ(tx.exec1("SELECT deliveries FROM jobs")[0].as<int>(), 2);
  // The job ids the intake takes from the sequence continue after the old ones.
  NewJob fresh = again;
  fresh.event_key = "new|key";
  tx.abort();
  EXPECT_GT(InsertJobs(*connection, std::vector{fresh}).at(0).job_id, old_job);
}

// 0013 turns jobs into a partitioned table: the existing jobs become its first partition with
// their indexes (adopted, not rebuilt), their history keeps its foreign keys, and new ids
// continue after the old ones in a partition of their own.
TEST(Migrator, PartitioningKeepsTheJobsTheirHistoryAndTheirIds) {
  testing::TestDatabase database;
  auto connection = database.Connect();
  ASSERT_NO_FATAL_FAILURE(MigrateUpTo(*connection, "0013_jobs_partitioned_by_id.sql"));
  {
    pqxx::work tx(*connection);
    testing::InsertFinishedJobs(tx, 30);
    tx.exec0(
        "INSERT INTO job_event_keys (event_key, job_id) SELECT event_key, id FROM jobs;"
        "INSERT INTO job_attempts (job_id, attempt, fence, worker_id, adapter, rpc, started_at, "
        "  finished_at, grpc_status, decision) "
        "SELECT id, 1, 1, 'w', 'sandbox', 'Authorize', now(), now(), 'OK', 'succeeded' FROM jobs;"
        "INSERT INTO job_steps (job_id, step, fence, result) SELECT id, 'order', 1, '{}' FROM jobs");
    tx.commit();
  }

  Migrator(*connection).Migrate();
  pqxx::work tx(*connection);
  EXPECT_EQ(testing::JobsPartitionNames(tx), "jobs_before_partitioning jobs_from_31");
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM jobs_before_partitioning")[0].as<int>(), 30);
  // Its eight indexes were adopted under their new names: none was built a second time.
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM pg_indexes WHERE tablename = 'jobs_before_partitioning'")[0]
                .as<int>(),
            8);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM pg_indexes "
                     "WHERE indexname LIKE 'jobs_before_partitioning\\_%'")[0]
                .as<int>(),
            8);
  tx.commit();
  // The history still refers to existing jobs only, and its cascade still works.
  {
    pqxx::work orphan(*connection);
    EXPECT_THROW(orphan.exec0("INSERT INTO job_attempts (job_id, attempt, fence, worker_id, "
                              "adapter, rpc, started_at, finished_at, grpc_status, decision) "
                              "VALUES (31, 1, 1, 'w', 'a', 'r', now(), now(), 'OK', 'x')"),
                 pqxx::foreign_key_violation);
  }
  {
    pqxx::work prune(*connection);
    prune.exec("SELECT set_config('payorch.pruning', 'on', true)");
    prune.exec0("DELETE FROM job_attempts WHERE job_id = 1");
    prune.exec0("DELETE FROM jobs WHERE id = 1");
    EXPECT_EQ(prune.exec1("SELECT count(*) FROM job_steps")[0].as<int>(), 29);
    prune.commit();
  }

  // New jobs take the next ids, in the new partition.
  EXPECT_EQ(InsertJobs(*connection, std::vector{CaptureJob("new")}).at(0).job_id, 31);
  pqxx::work check(*connection);
  EXPECT_EQ(check.exec1("SELECT count(*) FROM jobs_from_31")[0].as<int>(), 1);
}

// With generic plans, a statement that names one job by id is planned once for every
// partition and prunes them when it runs ("Subplans Removed"); a custom plan names the one
// partition and is made anew at each execution (db::UseGenericPlans says why that matters).
TEST(Database, UseGenericPlansPlansStatementsByIdOnceForEveryPartition) {
  testing::TestDatabase database;
  auto connection = database.Connect();
  AddJobPartitions(*connection);
  pqxx::nontransaction(*connection).exec("SELECT setval('jobs_id_seq', 600000)");
  AddJobPartitions(*connection);  // a second partition
  const auto plan = [&] {
    pqxx::nontransaction tx(*connection);
    return testing::PlanText(tx.exec("EXPLAIN EXECUTE job_by_id(5)"));
  };
  pqxx::nontransaction(*connection).exec0("PREPARE job_by_id(bigint) AS "
                                          "SELECT state FROM jobs WHERE id = $1");
  EXPECT_EQ(plan().find("Subplans Removed"), std::string::npos) << plan();
  UseGenericPlans(*connection);
  EXPECT_NE(plan().find("Subplans Removed: 1"), std::string::npos) << plan();
}

}  // namespace
}  // namespace payorch::db
