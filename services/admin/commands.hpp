#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace payorch::admin {

// The exit codes of payorch-admin (DESIGN.md, "Admin CLI").
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed: unknown id, database down, ...
inline constexpr int kExitUsage = 2;    // bad usage or bad input; nothing was done

inline constexpr int kDefaultListLimit = 50;

struct MigrateOptions {
  bool status_only = false;  // --status: report, change nothing
};

struct JobsListOptions {
  std::vector<std::string> states;  // --state values, as typed (see ParseStateFilter)
  int limit = kDefaultListLimit;    // 1..db::kMaxListJobsLimit
  bool json = false;
};

struct JobsShowOptions {
  std::int64_t job_id = 0;
  bool json = false;
};

// The commands of payorch-admin, as plain functions of a connection: what they print goes to
// `out` (the result: a table or one JSON document) and `err` (one line per problem, prefixed
// "payorch-admin: "); they return the process's exit code. They never throw for an expected
// failure: a DatabaseError becomes exit code 1 with its (password-free) message on one line.

// `migrate`: applies pending migrations and prints "applied NAME" per migration, or "database is
// up to date". With --status, prints every known migration and whether it is applied.
int RunMigrate(pqxx::connection& connection, const MigrateOptions& options, std::ostream& out,
               std::ostream& err);

// `jobs list`: newest first. Exit 2 for an unknown state or a limit out of range.
int RunJobsList(pqxx::connection& connection, const JobsListOptions& options, std::ostream& out,
                std::ostream& err);

// `jobs show ID`: the job and its attempts. Exit 1 "job ID not found" for an unknown id.
int RunJobsShow(pqxx::connection& connection, const JobsShowOptions& options, std::ostream& out,
                std::ostream& err);

// Checks a `jobs list` request before anything is done; the one-line problem, or empty.
std::string ValidateJobsListOptions(const JobsListOptions& options);

// `text` on one line: runs of line breaks and tabs become a single space, ends trimmed (libpq's
// messages span several lines).
std::string OneLine(std::string_view text);

// Prints "payorch-admin: <message>" on one line to `err`.
void PrintError(std::ostream& err, std::string_view message);

}  // namespace payorch::admin
