#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "services/core/job_state.hpp"

namespace payorch::db {

// The repository layer's one exception type for callers: the operation did not happen (or its
// outcome is unknown, when `in_doubt` is set: the connection broke during COMMIT). The message
// never holds a password. Callers translate it to their own answer (503, retry, exit code 1).
class DatabaseError : public std::runtime_error {
 public:
  DatabaseError(const std::string& message, bool in_doubt = false)
      : std::runtime_error(message), in_doubt_(in_doubt) {}
  bool in_doubt() const { return in_doubt_; }

 private:
  bool in_doubt_;
};

// Opens a connection. Throws DatabaseError (with the URL's password redacted) when it cannot.
std::unique_ptr<pqxx::connection> Connect(const std::string& database_url);

// Makes PostgreSQL plan this session's prepared statements once, generically, instead of anew at
// each execution. Why: jobs is partitioned (migration 0013), and PostgreSQL prefers a custom plan
// for a statement that names one job, since a generic one keeps every partition (pruning them only
// when it runs) and so looks dearer; a custom plan is then made at every execution, over every
// partition. That is how the foreign-key check of each attempt, audit row or step inserted is
// run: one record of 256 attempts spent 28-42 ms in those checks, and 4.6 ms with generic plans.
// Only for sessions whose statements are written and tested for generic plans (the worker's:
// tests/integration/worker plan them both ways); the admin CLI's state filters need custom plans
// (db/job_queries.cpp). Throws DatabaseError.
void UseGenericPlans(pqxx::connection_base& connection);

// A PostgreSQL text[] literal of state names, for `state = ANY($n::text[])`. The names come from
// core::JobStateName, so they never need quoting.
std::string StateArrayLiteral(const std::vector<core::JobState>& states);

// Runs `fn` and converts any libpqxx or libpq failure into DatabaseError. Every public function
// of the repository layer goes through it, so nothing above this layer sees pqxx exceptions.
template <typename Fn>
auto Translate(const char* operation, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::in_doubt_error& e) {
    throw DatabaseError(std::string(operation) + ": commit outcome unknown: " + e.what(), true);
  } catch (const DatabaseError&) {
    throw;
  } catch (const std::exception& e) {
    throw DatabaseError(std::string(operation) + ": " + e.what());
  }
}

}  // namespace payorch::db
