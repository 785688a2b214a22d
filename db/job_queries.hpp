#pragma once

#include <cstdint>
#include <optional>
#include <string>
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

struct JobListFilter {
  // Jobs in any of these states; empty means every state.
  std::vector<core::JobState> states;
  // At most this many rows; clamped to [1, kMaxListJobsLimit].
  int limit = 50;
};

// One row of a job listing: what an operator scans for, not the whole job.
struct JobSummary {
  std::int64_t id = 0;
  std::string state;
  std::string topic;
  std::string subscription_id;
  std::optional<std::string> outcome;
  int attempts = 0;
  std::optional<std::string> last_error;
  std::string created_at;
  std::string updated_at;
};

// Every column of a job. `raw_event` is the body as received: it holds the gateway token and the
// customer's email, so callers must mask it before showing it to anyone.
struct JobDetail {
  std::int64_t id = 0;
  std::string event_key;
  std::string idempotency_key;
  std::int64_t broadcaster_id = 0;
  std::string topic;
  std::string subscription_id;
  std::optional<std::string> payment_gateway;
  std::optional<std::string> payment_method_id;
  std::optional<std::string> dunning_attempt_date;
  std::string raw_event;
  std::string state;
  std::string run_after;
  int attempts = 0;
  std::int64_t fence = 0;
  std::optional<std::string> locked_by;
  std::optional<std::string> locked_until;
  std::optional<std::string> outcome;
  std::optional<std::string> gateway_reference;
  std::optional<std::string> decline_code;
  std::optional<std::string> last_error;
  int deliveries = 0;
  std::string last_delivery_at;
  std::string created_at;
  std::string updated_at;
  std::optional<std::string> finished_at;
};

// One row of job_attempts as read back (db/job_queue.hpp's AttemptRecord is what a worker
// writes; this adds the row id and the computed duration, with timestamps as text).
struct AttemptDetail {
  std::int64_t id = 0;
  std::int64_t job_id = 0;
  int attempt = 0;
  std::int64_t fence = 0;
  std::string worker_id;
  std::string adapter;
  std::string rpc;
  std::string request_summary;
  std::string started_at;
  std::string finished_at;
  std::int64_t duration_ms = 0;  // finished_at - started_at, rounded down
  std::string grpc_status;
  std::optional<std::string> gateway_status;
  std::optional<std::string> gateway_reference;
  std::optional<std::string> decline_code;
  std::optional<std::string> error;
  std::string decision;
};

// Jobs matching `filter`, newest first (created_at DESC, id DESC). Throws DatabaseError.
std::vector<JobSummary> ListJobs(pqxx::connection& connection, const JobListFilter& filter);

// The job with this id, or nullopt when there is none. Throws DatabaseError.
std::optional<JobDetail> FindJob(pqxx::connection& connection, std::int64_t job_id);

// The attempts of a job in attempt order (at most kMaxListedAttempts; empty for an unknown job).
// Throws DatabaseError.
std::vector<AttemptDetail> ListAttempts(pqxx::connection& connection, std::int64_t job_id);

}  // namespace payorch::db
