#include "db/job_queries.hpp"

#include <algorithm>
#include <string>

#include "db/database.hpp"

namespace payorch::db {

namespace {

// Timestamps leave the database as ISO-8601 UTC text (to_char of the UTC wall-clock time), so
// the output does not depend on the session's time zone.
std::string Utc(const char* column) {
  return std::string("to_char(") + column +
         " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
}

// Statement names are prefixed with this file's name so that they never collide with another
// repository file's statements on a shared connection.
constexpr const char* kListJobs = "job_queries_list_jobs";
const std::string& ListJobsSql() {
  static const std::string sql =
      "SELECT id, state, topic, subscription_id, outcome, attempts, last_error, " +
      Utc("created_at") + ", " + Utc("updated_at") +
      " FROM jobs"
      // $1 is a text[] of state names; an empty array means no state filter.
      " WHERE cardinality($1::text[]) = 0 OR state = ANY($1::text[])"
      " ORDER BY created_at DESC, id DESC"
      " LIMIT $2";
  return sql;
}

constexpr const char* kFindJob = "job_queries_find_job";
const std::string& FindJobSql() {
  static const std::string sql =
      "SELECT id, event_key, idempotency_key, broadcaster_id, topic, subscription_id,"
      " payment_gateway, payment_method_id, " + Utc("dunning_attempt_date") + ", raw_event,"
      " state, " + Utc("run_after") + ", attempts, fence, locked_by, " + Utc("locked_until") +
      ", outcome, gateway_reference, decline_code, last_error, deliveries, " +
      Utc("last_delivery_at") + ", " + Utc("created_at") + ", " + Utc("updated_at") + ", " +
      Utc("finished_at") + " FROM jobs WHERE id = $1";
  return sql;
}

constexpr const char* kListAttempts = "job_queries_list_attempts";
const std::string& ListAttemptsSql() {
  static const std::string sql =
      "SELECT id, job_id, attempt, fence, worker_id, adapter, rpc, request_summary, " +
      Utc("started_at") + ", " + Utc("finished_at") +
      ", floor(extract(epoch FROM finished_at - started_at) * 1000)::bigint,"
      " grpc_status, gateway_status, gateway_reference, decline_code, error, decision"
      " FROM job_attempts WHERE job_id = $1"
      " ORDER BY attempt, id"
      " LIMIT $2";
  return sql;
}

// A PostgreSQL array literal of state names. The names come from core::JobStateName, so they
// never need quoting.
std::string StateArrayLiteral(const std::vector<core::JobState>& states) {
  std::string literal = "{";
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (i > 0) literal += ',';
    literal += core::JobStateName(states[i]);
  }
  literal += '}';
  return literal;
}

std::optional<std::string> Nullable(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

}  // namespace

std::vector<JobSummary> ListJobs(pqxx::connection& connection, const JobListFilter& filter) {
  return Translate("list jobs", [&] {
    const int limit = std::clamp(filter.limit, 1, kMaxListJobsLimit);
    connection.prepare(kListJobs, ListJobsSql());
    pqxx::read_transaction txn(connection);
    const pqxx::result rows = txn.exec_prepared(kListJobs, StateArrayLiteral(filter.states), limit);
    txn.commit();

    std::vector<JobSummary> jobs;
    jobs.reserve(rows.size());
    for (const auto& row : rows) {
      JobSummary job;
      job.id = row[0].as<std::int64_t>();
      job.state = row[1].as<std::string>();
      job.topic = row[2].as<std::string>();
      job.subscription_id = row[3].as<std::string>();
      job.outcome = Nullable(row[4]);
      job.attempts = row[5].as<int>();
      job.last_error = Nullable(row[6]);
      job.created_at = row[7].as<std::string>();
      job.updated_at = row[8].as<std::string>();
      jobs.push_back(std::move(job));
    }
    return jobs;
  });
}

std::optional<JobDetail> FindJob(pqxx::connection& connection, std::int64_t job_id) {
  return Translate("find job", [&]() -> std::optional<JobDetail> {
    connection.prepare(kFindJob, FindJobSql());
    pqxx::read_transaction txn(connection);
    const pqxx::result rows = txn.exec_prepared(kFindJob, job_id);
    txn.commit();
    if (rows.empty()) return std::nullopt;

    const auto& row = rows[0];
    JobDetail job;
    job.id = row[0].as<std::int64_t>();
    job.event_key = row[1].as<std::string>();
    job.idempotency_key = row[2].as<std::string>();
    job.broadcaster_id = row[3].as<std::int64_t>();
    job.topic = row[4].as<std::string>();
    job.subscription_id = row[5].as<std::string>();
    job.payment_gateway = Nullable(row[6]);
    job.payment_method_id = Nullable(row[7]);
    job.dunning_attempt_date = Nullable(row[8]);
    job.raw_event = row[9].as<std::string>();
    job.state = row[10].as<std::string>();
    job.run_after = row[11].as<std::string>();
    job.attempts = row[12].as<int>();
    job.fence = row[13].as<std::int64_t>();
    job.locked_by = Nullable(row[14]);
    job.locked_until = Nullable(row[15]);
    job.outcome = Nullable(row[16]);
    job.gateway_reference = Nullable(row[17]);
    job.decline_code = Nullable(row[18]);
    job.last_error = Nullable(row[19]);
    job.deliveries = row[20].as<int>();
    job.last_delivery_at = row[21].as<std::string>();
    job.created_at = row[22].as<std::string>();
    job.updated_at = row[23].as<std::string>();
    job.finished_at = Nullable(row[24]);
    return job;
  });
}

std::vector<AttemptDetail> ListAttempts(pqxx::connection& connection, std::int64_t job_id) {
  return Translate("list attempts", [&] {
    connection.prepare(kListAttempts, ListAttemptsSql());
    pqxx::read_transaction txn(connection);
    const pqxx::result rows = txn.exec_prepared(kListAttempts, job_id, kMaxListedAttempts);
    txn.commit();

    std::vector<AttemptDetail> attempts;
    attempts.reserve(rows.size());
    for (const auto& row : rows) {
      AttemptDetail attempt;
      attempt.id = row[0].as<std::int64_t>();
      attempt.job_id = row[1].as<std::int64_t>();
      attempt.attempt = row[2].as<int>();
      attempt.fence = row[3].as<std::int64_t>();
      attempt.worker_id = row[4].as<std::string>();
      attempt.adapter = row[5].as<std::string>();
      attempt.rpc = row[6].as<std::string>();
      attempt.request_summary = row[7].as<std::string>();
      attempt.started_at = row[8].as<std::string>();
      attempt.finished_at = row[9].as<std::string>();
      attempt.duration_ms = row[10].as<std::int64_t>();
      attempt.grpc_status = row[11].as<std::string>();
      attempt.gateway_status = Nullable(row[12]);
      attempt.gateway_reference = Nullable(row[13]);
      attempt.decline_code = Nullable(row[14]);
      attempt.error = Nullable(row[15]);
      attempt.decision = row[16].as<std::string>();
      attempts.push_back(std::move(attempt));
    }
    return attempts;
  });
}

}  // namespace payorch::db
