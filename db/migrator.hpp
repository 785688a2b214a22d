#pragma once

#include <span>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "db/embedded_migrations.hpp"

namespace payorch::db {

struct MigrationStatus {
  std::string name;
  bool applied = false;
  std::string applied_at;  // empty when pending
};

// Applies db/migrations in name order, each in its own transaction together with its row in
// schema_migrations (name, SHA-256 of the file, time). Safe to run twice and from two processes
// at once (an advisory lock serialises them). Refuses, changing nothing, when a file that was
// applied has changed since, or when the database has a migration this binary does not know.
class Migrator {
 public:
  explicit Migrator(pqxx::connection& connection,
                    std::span<const MigrationFile> files = EmbeddedMigrations());

  // Applies what is pending; returns the names it applied. Throws DatabaseError on refusal.
  std::vector<std::string> Migrate();
  // Every known migration with whether it is applied. Throws DatabaseError on a changed file.
  std::vector<MigrationStatus> Status();
  // True when every migration this binary knows is applied and unchanged (for readiness checks;
  // migrations applied by a newer version do not make an older binary unready).
  bool IsCurrent();

 private:
  pqxx::connection& connection_;
  std::span<const MigrationFile> files_;
};

}  // namespace payorch::db
