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

// 0008 moves the event key's uniqueness into job_event_keys: the jobs a database already holds
// keep their keys, and their events stay deduplicated after the upgrade.
TEST(Migrator, EventKeysMigrationKeepsTheKeysOfExistingJobs) {
  testing::TestDatabase database;
  auto connection = database.Connect();
  {
    pqxx::work tx(*connection);
    tx.exec0("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    tx.commit();
  }
  const auto all = EmbeddedMigrations();
  const auto before = std::find_if(all.begin(), all.end(), [](const MigrationFile& file) {
    return std::string_view(file.name) == "0008_event_keys.sql";
  });
  ASSERT_NE(before, all.end());
  Migrator(*connection, std::span<const MigrationFile>(all.begin(), before)).Migrate();
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

}  // namespace
}  // namespace payorch::db
