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
