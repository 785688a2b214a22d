#include "db/migrator.hpp"

#include <gtest/gtest.h>

#include "db/database.hpp"
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

}  // namespace
}  // namespace payorch::db
