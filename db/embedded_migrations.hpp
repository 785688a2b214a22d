#pragma once

#include <span>
#include <string_view>

namespace payorch::db {

// One file of db/migrations, compiled into the binary. `name` orders migrations ("0001_jobs.sql").
struct MigrationFile {
  std::string_view name;
  std::string_view sql;
};

// Every file of db/migrations, sorted by name.
std::span<const MigrationFile> EmbeddedMigrations();

}  // namespace payorch::db
