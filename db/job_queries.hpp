#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "services/core/job_state.hpp"

namespace payorch::db {

// Read-only queries for operators (payorch-admin). Nothing here writes or locks: every function
// runs one prepared statement in a read-only transaction of its own.
//
// Timestamps are returned as ISO-8601 UTC strings formatted by PostgreSQL
// ("2026-11-29T08:50:18.123456Z"), so that the CLI prints the same instant on every machine
// whatever the session's time zone. A NULL column is an empty optional.

// Upper bound on the rows one ListJobs call returns, whatever the caller asks for.
inline constexpr int kMaxListJobsLimit = 1000;
// Upper bound on the attempts ListAttempts returns for one job (the worker's attempt limit is far
// lower; this only keeps a pathological history from exhausting memory).
inline constexpr int kMaxListedAttempts = 1000;

// What `jobs list` (and a bulk replay) selects. Every criterion is optional (empty or nullopt
// means "any"); the criteria combine with AND.
struct JobListFilter {
  // Jobs in any of these states; empty means every state.
  std::vector<core::JobState> states{};
  std::string topic{};
  // Jobs with at least one attempt through this adapter (job_attempts.adapter).
  std::string adapter{};
  std::optional<std::int64_t> broadcaster_id{};
  std::string subscription_id{};
  std::string outcome{};
  // An ILIKE pattern matched anywhere in last_error: "timeout" matches "... Timeout ..."; the
  // caller's % and _ act as wildcards.
  std::string error_text{};
  // Bounds as timestamptz literals (ISO-8601 with zone); since is inclusive, until exclusive.
  // A finished bound excludes unfinished jobs.
  std::string created_since{};
  std::string created_until{};
  std::string finished_since{};
  std::string finished_until{};
  // Keyset paging: only jobs after this job in the listing order (created_at DESC, id DESC).
  // created_at never changes, so a page boundary is stable however many jobs arrive meanwhile.
  // An unknown id (or one `jobs prune` removed meanwhile) yields an empty page.
  std::optional<std::int64_t> before_id{};
  // At most this many rows; clamped to [1, kMaxListJobsLimit].
  int limit = 50;
};

// One row of a job listing: what an operator scans for, not the whole job.
struct JobSummary {
  std::int64_t id = 0;
  std::string state{};
  std::string topic{};
  std::int64_t broadcaster_id = 0;
  std::string subscription_id{};
  std::optional<std::string> outcome{};
  int attempts = 0;
  std::optional<std::string> last_error{};
  std::string created_at{};
  std::string updated_at{};
  std::optional<std::string> finished_at{};
};

// One page of a listing. `next_before_id` is set when more jobs match after this page: pass it
// as JobListFilter::before_id to read the next one.
struct JobPage {
  std::vector<JobSummary> jobs{};
  std::optional<std::int64_t> next_before_id{};
};

// Every column of a job. `raw_event` is the body as received: it holds the gateway token and the
// customer's email, so callers must mask it before showing it to anyone.
struct JobDetail {
  std::int64_t id = 0;
  std::string event_key{};
  std::string idempotency_key{};
  std::int64_t broadcaster_id = 0;
  std::string topic{};
  std::string subscription_id{};
  std::optional<std::string> payment_gateway{};
  std::optional<std::string> payment_method_id{};
  std::optional<std::string> dunning_attempt_date{};
  std::string raw_event{};
  std::string state{};
  std::string run_after{};
  int attempts = 0;
  int attempts_at_replay = 0;  // attempts spent before the last replay (0 if never replayed)
  std::int64_t fence = 0;
  std::optional<std::string> locked_by{};
  std::optional<std::string> locked_until{};
  std::optional<std::string> outcome{};
  std::optional<std::string> gateway_reference{};
  std::optional<std::string> decline_code{};
  std::optional<std::string> last_error{};
  int deliveries = 0;
  std::string last_delivery_at{};
  std::string created_at{};
  std::string updated_at{};
  std::optional<std::string> finished_at{};
};

// One row of job_attempts as read back (db/job_queue.hpp's AttemptRecord is what a worker
// writes; this adds the row id and the computed duration, with timestamps as text).
struct AttemptDetail {
  std::int64_t id = 0;
  std::int64_t job_id = 0;
  int attempt = 0;
  std::int64_t fence = 0;
  std::string worker_id{};
  std::string adapter{};
  std::string rpc{};
  std::string request_summary{};
  std::string started_at{};
  std::string finished_at{};
  std::int64_t duration_ms = 0;  // finished_at - started_at, rounded down
  std::string grpc_status{};
  std::optional<std::string> gateway_status{};
  std::optional<std::string> gateway_reference{};
  std::optional<std::string> decline_code{};
  std::optional<std::string> error{};
  std::string decision{};
};

// Jobs matching `filter`, newest first (created_at DESC, id DESC). Throws DatabaseError.
JobPage ListJobs(pqxx::connection& connection, const JobListFilter& filter);

// The job with this id, or nullopt when there is none. Throws DatabaseError.
std::optional<JobDetail> FindJob(pqxx::connection& connection, std::int64_t job_id);

// The attempts of a job in attempt order (at most kMaxListedAttempts; empty for an unknown job).
// Throws DatabaseError.
std::vector<AttemptDetail> ListAttempts(pqxx::connection& connection, std::int64_t job_id);

// The id of the job with this event key, or nullopt. Throws DatabaseError.
std::optional<std::int64_t> FindJobIdByEventKey(pqxx::connection& connection,
                                                const std::string& event_key);

// One job_audit row (db/migrations/0003_admin_audit.sql), timestamps as text.
struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t operation_id = 0;
  std::int64_t job_id = 0;
  std::string action{};  // replay, cancel
  std::string actor{};
  std::string reason{};
  std::string previous_state{};
  std::string new_state{};
  int previous_attempts = 0;
  std::optional<std::string> previous_outcome{};
  std::optional<std::string> previous_last_error{};
  std::string created_at{};
};

// Upper bound on the audit entries ListAuditEntries returns for one job.
inline constexpr int kMaxListedAuditEntries = 1000;

// The audit entries of a job, oldest first. Throws DatabaseError.
std::vector<AuditEntry> ListAuditEntries(pqxx::connection& connection, std::int64_t job_id);

// Finished jobs in a recent window (finished_at within the last `window_seconds`).
struct FinishedWindow {
  int window_seconds = 0;
  std::int64_t succeeded = 0;
  std::int64_t dead = 0;
  std::int64_t cancelled = 0;
};

// Default and bounds of the window `stats` counts final jobs over.
inline constexpr int kDefaultStatsWindowSeconds = 24 * 3600;

// What `stats` shows, read in one REPEATABLE READ snapshot so that its numbers agree. Its cost
// follows the backlog and the window, not the history: unfinished jobs are counted exactly
// (through the partial indexes on what is due and what is running), final jobs only when they
// finished within the window (through jobs_finished_idx).
struct JobStats {
  int window_seconds = 0;  // the window of the final counts below
  // state -> jobs: queued, running, in_doubt exactly; succeeded, dead, cancelled finished within
  // the window.
  std::vector<std::pair<std::string, std::int64_t>> by_state{};
  // topic -> jobs unfinished or finished within the window.
  std::vector<std::pair<std::string, std::int64_t>> by_topic{};
  // adapter -> jobs attempted through it, among jobs unfinished or finished within the window.
  std::vector<std::pair<std::string, std::int64_t>> by_adapter{};
  // outcome -> jobs succeeded within the window.
  std::vector<std::pair<std::string, std::int64_t>> by_outcome{};
  // Seconds since the oldest due job (queued or in_doubt, run_after passed) became due; nullopt
  // when nothing is due.
  std::optional<double> oldest_due_age_seconds{};
  FinishedWindow last_5_minutes;
  FinishedWindow last_hour;
};

// The stats with final counts over the last `window_seconds` (> 0). Every statement is an index
// range scan over the backlog or the window. Throws DatabaseError.
JobStats ReadJobStats(pqxx::connection& connection,
                      int window_seconds = kDefaultStatsWindowSeconds);

}  // namespace payorch::db
