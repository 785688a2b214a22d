#include "db/database.hpp"

#include "services/core/logging.hpp"

namespace payorch::db {

namespace {

// libpq waits for the operating system's TCP timeout (minutes) on a host that drops packets;
// a payments service would rather fail fast and retry. An explicit setting in the URL wins.
constexpr const char* kDefaultConnectTimeoutSeconds = "5";

std::string WithConnectTimeout(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  const bool is_uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!is_uri) return url + " connect_timeout=" + kDefaultConnectTimeoutSeconds;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" +
         kDefaultConnectTimeoutSeconds;
}

}  // namespace

std::unique_ptr<pqxx::connection> Connect(const std::string& database_url) {
  try {
    return std::make_unique<pqxx::connection>(WithConnectTimeout(database_url));
  } catch (const std::exception& e) {
    // libpq's message names host and port, not the password; say which URL, redacted.
    throw DatabaseError("cannot connect to " + core::RedactDatabaseUrl(database_url) + ": " +
                        e.what());
  }
}

void UseGenericPlans(pqxx::connection_base& connection) {
  Translate("use generic plans",
            [&] { connection.set_variable("plan_cache_mode", "force_generic_plan"); });
}

std::string StateArrayLiteral(const std::vector<core::JobState>& states) {
  std::string literal = "{";
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (i > 0) literal += ',';
    literal += core::JobStateName(states[i]);
  }
  literal += '}';
  return literal;
}

}  // namespace payorch::db
