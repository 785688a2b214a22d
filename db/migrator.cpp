#include "db/migrator.hpp"

#include <map>

#include "db/database.hpp"
#include "services/core/event.hpp"

namespace payorch::db {

namespace {

// Any fixed number works; it only has to be the same in every payorch process.
constexpr long long kMigrationLockId = 0x7061796f726368;  // "payorch"

constexpr const char* kCreateMigrationsTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    sha256      text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
))sql";

struct AppliedMigration {
  std::string sha256;
  std::string applied_at;
};

std::map<std::string, AppliedMigration> ReadApplied(pqxx::work& tx) {
  std::map<std::string, AppliedMigration> applied;
  const auto exists = tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>()) return applied;
  for (const auto& row : tx.exec(
           "SELECT name, sha256, to_char(applied_at AT TIME ZONE 'UTC', "
           "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM schema_migrations ORDER BY name")) {
    applied[row[0].as<std::string>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }
  return applied;
}

// Refuses (throws) when the database and this binary disagree about history: an applied file
// whose content changed, or an applied migration this binary does not have (a newer binary ran).
void CheckHistory(const std::map<std::string, AppliedMigration>& applied,
                  std::span<const MigrationFile> files) {
  std::map<std::string, std::string> known;
  for (const auto& file : files) known[std::string(file.name)] = core::Sha256Hex(file.sql);
  for (const auto& [name, migration] : applied) {
    const auto it = known.find(name);
    if (it == known.end()) {
      throw DatabaseError("migration " + name +
                          " is applied in the database but unknown to this binary "
                          "(a newer payorch migrated it); refusing to continue");
    }
    if (it->second != migration.sha256) {
      throw DatabaseError("migration " + name +
                          " changed after it was applied (checksum differs); refusing to "
                          "continue: add a new migration instead of editing an applied one");
    }
  }
}

}  // namespace

Migrator::Migrator(pqxx::connection& connection, std::span<const MigrationFile> files)
    : connection_(connection), files_(files) {}

std::vector<std::string> Migrator::Migrate() {
  return Translate("migrate", [&] {
    std::vector<std::string> done;
    // The lock is held on this session for the whole run, so two `migrate` at once serialise.
    pqxx::nontransaction(connection_).exec("SELECT pg_advisory_lock(" +
                                            std::to_string(kMigrationLockId) + ")");
    struct Unlock {
      pqxx::connection& connection;
      ~Unlock() {
        try {
          pqxx::nontransaction(connection).exec("SELECT pg_advisory_unlock(" +
                                                 std::to_string(kMigrationLockId) + ")");
        } catch (const std::exception&) {
          // The session is gone, and its lock with it.
        }
      }
    } unlock{connection_};
    {
      pqxx::work tx(connection_);
      tx.exec0(kCreateMigrationsTable);
      CheckHistory(ReadApplied(tx), files_);
      tx.commit();
    }
    for (const auto& file : files_) {
      pqxx::work tx(connection_);
      if (ReadApplied(tx).count(std::string(file.name)) != 0) continue;
      tx.exec(std::string(file.sql));
      tx.exec_params0("INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
                      std::string(file.name), core::Sha256Hex(file.sql));
      tx.commit();
      done.emplace_back(file.name);
    }
    return done;
  });
}

std::vector<MigrationStatus> Migrator::Status() {
  return Translate("migration status", [&] {
    pqxx::work tx(connection_);
    const auto applied = ReadApplied(tx);
    CheckHistory(applied, files_);
    std::vector<MigrationStatus> status;
    for (const auto& file : files_) {
      const auto it = applied.find(std::string(file.name));
      status.push_back({std::string(file.name), it != applied.end(),
                        it != applied.end() ? it->second.applied_at : std::string()});
    }
    return status;
  });
}

bool Migrator::IsCurrent() {
  // Readiness: every migration this binary knows is applied, unchanged. Migrations it does not
  // know are fine here: a newer version applied them, and migrations are written to be safe for
  // the binaries still running (docs/operations.md, "Upgrading"); only `migrate` refuses them.
  try {
    return Translate("migration status", [&] {
      pqxx::work tx(connection_);
      const auto applied = ReadApplied(tx);
      for (const auto& file : files_) {
        const auto it = applied.find(std::string(file.name));
        if (it == applied.end() || it->second.sha256 != core::Sha256Hex(file.sql)) return false;
      }
      return true;
    });
  } catch (const DatabaseError&) {
    return false;
  }
}

}  // namespace payorch::db
