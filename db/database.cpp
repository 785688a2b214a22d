#include "db/database.hpp"

#include "services/core/logging.hpp"

namespace payorch::db {

std::unique_ptr<pqxx::connection> Connect(const std::string& database_url) {
  try {
    return std::make_unique<pqxx::connection>(database_url);
  } catch (const std::exception& e) {
    // libpq's message names host and port, not the password; say which URL, redacted.
    throw DatabaseError("cannot connect to " + core::RedactDatabaseUrl(database_url) + ": " +
                        e.what());
  }
}

}  // namespace payorch::db
