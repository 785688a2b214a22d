#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "db/database.hpp"
#include "db/job_queries.hpp"
#include "services/core/grpc_tls.hpp"
#include "services/core/job_state.hpp"
#include "services/core/result.hpp"

namespace payorch::admin {

// The exit codes of payorch-admin (DESIGN.md, "Admin CLI").
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed: unknown id, database down, ...
inline constexpr int kExitUsage = 2;    // bad usage or bad input; nothing was done

inline constexpr int kDefaultListLimit = 50;
// Bulk replay caps: at most this many jobs per command unless --max-jobs says otherwise (never
// above kMaxReplayJobs), paced at --rate jobs per second.
inline constexpr int kDefaultReplayMaxJobs = 100;
inline constexpr int kMaxReplayJobs = 1000;
inline constexpr double kDefaultReplayRate = 20.0;
inline constexpr double kMaxReplayRate = 1000.0;

struct MigrateOptions {
  bool status_only = false;  // --status: report, change nothing
};

// The job filter as typed on the command line (jobs list; jobs replay --filter). Empty means
// "any"; BuildJobListFilter checks and converts it.
struct JobFilterOptions {
  std::vector<std::string> states{};  // --state values, as typed (see ParseStateFilter)
  std::string topic{};
  std::string adapter{};
  std::optional<std::int64_t> broadcaster_id{};
  std::string subscription_id{};
  std::string outcome{};  // approved or declined
  std::string error_text{};
  std::string since{};  // created since/until, finished since/until: see ParseTimePoint
  std::string until{};
  std::string finished_since{};
  std::string finished_until{};
};

struct JobsListOptions {
  JobFilterOptions filter{};
  int limit = kDefaultListLimit;  // 1..db::kMaxListJobsLimit
  // The page after this job (--before-id), or the same given as the opaque --cursor printed
  // with the previous page. At most one of the two.
  std::optional<std::int64_t> before_id{};
  std::string cursor{};
  bool json = false;
  // What relative times ("2h") count back from.
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// Exactly one of job_id, event_key, subscription_id.
struct JobsShowOptions {
  std::optional<std::int64_t> job_id{};
  std::string event_key{};
  std::string subscription_id{};  // lists the subscription's jobs
  bool json = false;
};

struct JobsReplayOptions {
  std::vector<std::int64_t> job_ids{};  // replay these, or (with use_filter) the filter's matches
  bool use_filter = false;
  JobFilterOptions filter{};
  // States replayable besides dead: cancelled, succeeded (never queued, running, in_doubt).
  std::vector<std::string> allow_states{};
  bool dry_run = false;
  std::string reason{};
  std::string actor{};  // empty: the OS user (DefaultActor)
  int max_jobs = kDefaultReplayMaxJobs;
  double rate = kDefaultReplayRate;  // jobs per second
  bool json = false;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  // How the pacing waits; tests pass a recorder. Null means std::this_thread::sleep_for.
  std::function<void(std::chrono::nanoseconds)> sleep{};
};

struct JobsCancelOptions {
  std::vector<std::int64_t> job_ids{};
  bool allow_in_doubt = false;
  bool dry_run = false;
  std::string reason{};
  std::string actor{};
  bool json = false;
};

struct StatsOptions {
  // Final jobs (succeeded, dead, cancelled) count when they finished within this DURATION
  // (time_bounds.hpp); unfinished jobs always count.
  std::string window = "24h";
  bool json = false;
};

struct AdapterCheckOptions {
  std::string address{};
  std::string service{};
  int timeout_ms = 2000;  // the deadline of each call
  bool json = false;
  // Only the grpc.health.v1 probe (one call, no payment steps): for container health checks.
  bool health_only = false;
  std::string token = "conformance";  // SubscriptionEvent.token of the suite's valid requests
  // The middle of the suite's idempotency keys; empty: a random one (std::random_device).
  std::string run_id{};
  // Plaintext by default; --tls, --tls-ca-file, --tls-cert-file, --tls-key-file,
  // --tls-server-name.
  core::GrpcClientTls tls{};
};

// The commands of payorch-admin, as plain functions of a connection: what they print goes to
// `out` (the result: a table or one JSON document) and `err` (one line per problem, prefixed
// "payorch-admin: "); they return the process's exit code. They never throw for an expected
// failure: a DatabaseError becomes exit code 1 with its (password-free) message on one line.

// `migrate`: applies pending migrations and prints "applied NAME" per migration, or "database is
// up to date". With --status, prints every known migration and whether it is applied.
int RunMigrate(pqxx::connection& connection, const MigrateOptions& options, std::ostream& out,
               std::ostream& err);

// `jobs list`: newest first, one page; the cursor of the next page is printed last ("next page:
// --cursor N") or as "next_cursor" in JSON. Exit 2 for any bad filter or limit.
int RunJobsList(pqxx::connection& connection, const JobsListOptions& options, std::ostream& out,
                std::ostream& err);

// `jobs show`: the job, its attempts and audit entries (or, by subscription, the subscription's
// jobs as a listing). Exit 1 "job ... not found" when there is none.
int RunJobsShow(pqxx::connection& connection, const JobsShowOptions& options, std::ostream& out,
                std::ostream& err);

// `jobs replay`: see operator_commands.cpp. Exit 1 when a named job does not exist or the
// database fails; exit 2 for bad input or when more jobs match than --max-jobs (nothing done).
int RunJobsReplay(pqxx::connection& connection, const JobsReplayOptions& options,
                  std::ostream& out, std::ostream& err);

// `jobs cancel`: queued jobs (and in_doubt with allow_in_doubt) become cancelled, audited.
int RunJobsCancel(pqxx::connection& connection, const JobsCancelOptions& options,
                  std::ostream& out, std::ostream& err);

// `stats`: exit 2 for a bad --window.
int RunStats(pqxx::connection& connection, const StatsOptions& options, std::ostream& out,
             std::ostream& err);

// `adapter check`: the conformance suite (conformance.hpp); exit 0 when every check passes, 1
// when any fails. With health_only, the one health call: exit 0 when SERVING, 1 otherwise.
int RunAdapterCheck(const AdapterCheckOptions& options, std::ostream& out, std::ostream& err);

// The filter a request describes, or the one-line problem (bad state, bad time, bad outcome).
core::Result<db::JobListFilter, std::string> BuildJobListFilter(
    const JobFilterOptions& options, std::chrono::system_clock::time_point now);

// Checks a `jobs list` request before anything is done; the one-line problem, or empty.
std::string ValidateJobsListOptions(const JobsListOptions& options);
std::string ValidateJobsShowOptions(const JobsShowOptions& options);
std::string ValidateJobsReplayOptions(const JobsReplayOptions& options);
std::string ValidateJobsCancelOptions(const JobsCancelOptions& options);

// The states a replay may move to queued: dead, plus the allowed extra ones. Errors for a state
// that must never be replayed (queued, running, in_doubt) or an unknown name.
core::Result<std::vector<core::JobState>, std::string> ReplayableStates(
    const std::vector<std::string>& allow_states);

// The OS user running the command (getpwuid of the effective uid, else $USER, else "uid:N").
std::string DefaultActor();

// `text` on one line: runs of line breaks and tabs become a single space, ends trimmed (libpq's
// messages span several lines).
std::string OneLine(std::string_view text);

// Prints "payorch-admin: <message>" on one line to `err`.
void PrintError(std::ostream& err, std::string_view message);

// Runs a command body, turning the database layer's exception into exit code 1 with its message.
// Anything else escaping is a bug and is left to terminate the process loudly.
template <typename Fn>
int ReportingDatabaseErrors(std::ostream& err, Fn&& body) {
  try {
    return body();
  } catch (const db::DatabaseError& e) {
    PrintError(err, e.what());
    return kExitFailure;
  }
}

}  // namespace payorch::admin
