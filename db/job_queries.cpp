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
  // Every optional criterion is a text parameter where '' means "any", so that one prepared
  // statement serves every combination (NULLIF turns '' into NULL before a cast could fail).
  static const std::string sql =
      "SELECT id, state, topic, broadcaster_id, subscription_id, outcome, attempts, last_error, " +
      Utc("created_at") + ", " + Utc("updated_at") + ", " + Utc("finished_at") +
      " FROM jobs"
      // $1 is a text[] of state names; an empty array means no state filter.
      " WHERE (cardinality($1::text[]) = 0 OR state = ANY($1::text[]))"
      "   AND ($2 = '' OR topic = $2)"
      "   AND ($3 = '' OR EXISTS (SELECT 1 FROM job_attempts a"
      "                           WHERE a.job_id = jobs.id AND a.adapter = $3))"
      "   AND ($4 = '' OR broadcaster_id = NULLIF($4, '')::bigint)"
      "   AND ($5 = '' OR subscription_id = $5)"
      "   AND ($6 = '' OR outcome = $6)"
      "   AND ($7 = '' OR last_error ILIKE '%' || $7 || '%')"
      "   AND ($8 = '' OR created_at >= NULLIF($8, '')::timestamptz)"
      "   AND ($9 = '' OR created_at < NULLIF($9, '')::timestamptz)"
      "   AND ($10 = '' OR finished_at >= NULLIF($10, '')::timestamptz)"
      "   AND ($11 = '' OR finished_at < NULLIF($11, '')::timestamptz)"
      // Keyset paging on the ordering key; the page boundary's own row is looked up by id.
      "   AND ($12::bigint = 0 OR (created_at, id) <"
      "        (SELECT b.created_at, b.id FROM jobs b WHERE b.id = $12::bigint))"
      " ORDER BY created_at DESC, id DESC"
      " LIMIT $13";
  return sql;
}

constexpr const char* kFindJob = "job_queries_find_job";
const std::string& FindJobSql() {
  static const std::string sql =
      "SELECT id, event_key, idempotency_key, broadcaster_id, topic, subscription_id,"
      " payment_gateway, payment_method_id, " + Utc("dunning_attempt_date") + ", raw_event,"
      " state, " + Utc("run_after") + ", attempts, attempts_at_replay, fence, locked_by, " + Utc("locked_until") +
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

constexpr const char* kFindJobIdByEventKey = "job_queries_find_job_id_by_event_key";
constexpr const char* kFindJobIdByEventKeySql = "SELECT id FROM jobs WHERE event_key = $1";

constexpr const char* kListAuditEntries = "job_queries_list_audit_entries";
const std::string& ListAuditEntriesSql() {
  static const std::string sql =
      "SELECT id, operation_id, job_id, action, actor, reason, previous_state, new_state,"
      " previous_attempts, previous_outcome, previous_last_error, " + Utc("created_at") +
      " FROM job_audit WHERE job_id = $1 ORDER BY id LIMIT $2";
  return sql;
}

// The stats statements: each returns (key, count) rows, except the due age and the windows.
constexpr const char* kCountByState = "job_queries_count_by_state";
constexpr const char* kCountByStateSql =
    "SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state";
constexpr const char* kCountByTopic = "job_queries_count_by_topic";
constexpr const char* kCountByTopicSql =
    "SELECT topic, count(*) FROM jobs GROUP BY topic ORDER BY topic";
constexpr const char* kCountByAdapter = "job_queries_count_by_adapter";
// 'unknown' is the adapter of rescue rows (an attempt whose worker vanished), not an adapter.
constexpr const char* kCountByAdapterSql =
    "SELECT adapter, count(DISTINCT job_id) FROM job_attempts WHERE adapter <> 'unknown'"
    " GROUP BY adapter ORDER BY adapter";
constexpr const char* kCountByOutcome = "job_queries_count_by_outcome";
constexpr const char* kCountByOutcomeSql =
    "SELECT outcome, count(*) FROM jobs WHERE outcome IS NOT NULL GROUP BY outcome"
    " ORDER BY outcome";
constexpr const char* kOldestDueAge = "job_queries_oldest_due_age";
constexpr const char* kOldestDueAgeSql =
    "SELECT extract(epoch FROM now() - min(run_after))::double precision FROM jobs"
    " WHERE state IN ('queued', 'in_doubt') AND run_after <= now()";
constexpr const char* kFinishedWithin = "job_queries_finished_within";
constexpr const char* kFinishedWithinSql =
    "SELECT count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'dead'),"
    " count(*) FILTER (WHERE state = 'cancelled')"
    " FROM jobs WHERE finished_at >= now() - $1::integer * interval '1 second'";

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

JobPage ListJobs(pqxx::connection& connection, const JobListFilter& filter) {
  return Translate("list jobs", [&] {
    const int limit = std::clamp(filter.limit, 1, kMaxListJobsLimit);
    connection.prepare(kListJobs, ListJobsSql());
    pqxx::read_transaction txn(connection);
    // One row more than asked tells whether another page follows.
    const pqxx::result rows = txn.exec_prepared(
        kListJobs, StateArrayLiteral(filter.states), filter.topic, filter.adapter,
        filter.broadcaster_id ? std::to_string(*filter.broadcaster_id) : std::string(),
        filter.subscription_id, filter.outcome, filter.error_text, filter.created_since,
        filter.created_until, filter.finished_since, filter.finished_until,
        filter.before_id.value_or(0), limit + 1);
    txn.commit();

    JobPage page;
    page.jobs.reserve(rows.size());
    for (const auto& row : rows) {
      if (static_cast<int>(page.jobs.size()) == limit) {
        page.next_before_id = page.jobs.back().id;
        break;
      }
      JobSummary job;
      job.id = row[0].as<std::int64_t>();
      job.state = row[1].as<std::string>();
      job.topic = row[2].as<std::string>();
      job.broadcaster_id = row[3].as<std::int64_t>();
      job.subscription_id = row[4].as<std::string>();
      job.outcome = Nullable(row[5]);
      job.attempts = row[6].as<int>();
      job.last_error = Nullable(row[7]);
      job.created_at = row[8].as<std::string>();
      job.updated_at = row[9].as<std::string>();
      job.finished_at = Nullable(row[10]);
      page.jobs.push_back(std::move(job));
    }
    return page;
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
    job.attempts_at_replay = row[13].as<int>();
    job.fence = row[14].as<std::int64_t>();
    job.locked_by = Nullable(row[15]);
    job.locked_until = Nullable(row[16]);
    job.outcome = Nullable(row[17]);
    job.gateway_reference = Nullable(row[18]);
    job.decline_code = Nullable(row[19]);
    job.last_error = Nullable(row[20]);
    job.deliveries = row[21].as<int>();
    job.last_delivery_at = row[22].as<std::string>();
    job.created_at = row[23].as<std::string>();
    job.updated_at = row[24].as<std::string>();
    job.finished_at = Nullable(row[25]);
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

std::optional<std::int64_t> FindJobIdByEventKey(pqxx::connection& connection,
                                                const std::string& event_key) {
  return Translate("find job by event key", [&]() -> std::optional<std::int64_t> {
    connection.prepare(kFindJobIdByEventKey, kFindJobIdByEventKeySql);
    pqxx::read_transaction txn(connection);
    const pqxx::result rows = txn.exec_prepared(kFindJobIdByEventKey, event_key);
    txn.commit();
    if (rows.empty()) return std::nullopt;
    return rows[0][0].as<std::int64_t>();
  });
}

std::vector<AuditEntry> ListAuditEntries(pqxx::connection& connection, std::int64_t job_id) {
  return Translate("list audit entries", [&] {
    connection.prepare(kListAuditEntries, ListAuditEntriesSql());
    pqxx::read_transaction txn(connection);
    const pqxx::result rows = txn.exec_prepared(kListAuditEntries, job_id, kMaxListedAuditEntries);
    txn.commit();
    std::vector<AuditEntry> entries;
    entries.reserve(rows.size());
    for (const auto& row : rows) {
      AuditEntry entry;
      entry.id = row[0].as<std::int64_t>();
      entry.operation_id = row[1].as<std::int64_t>();
      entry.job_id = row[2].as<std::int64_t>();
      entry.action = row[3].as<std::string>();
      entry.actor = row[4].as<std::string>();
      entry.reason = row[5].as<std::string>();
      entry.previous_state = row[6].as<std::string>();
      entry.new_state = row[7].as<std::string>();
      entry.previous_attempts = row[8].as<int>();
      entry.previous_outcome = Nullable(row[9]);
      entry.previous_last_error = Nullable(row[10]);
      entry.created_at = row[11].as<std::string>();
      entries.push_back(std::move(entry));
    }
    return entries;
  });
}

namespace {

std::vector<std::pair<std::string, std::int64_t>> Counts(pqxx::transaction_base& txn,
                                                         const char* statement) {
  std::vector<std::pair<std::string, std::int64_t>> counts;
  for (const auto& row : txn.exec_prepared(statement)) {
    counts.emplace_back(row[0].as<std::string>(), row[1].as<std::int64_t>());
  }
  return counts;
}

FinishedWindow ReadFinishedWindow(pqxx::transaction_base& txn, int window_seconds) {
  const auto row = txn.exec_prepared1(kFinishedWithin, window_seconds);
  FinishedWindow window;
  window.window_seconds = window_seconds;
  window.succeeded = row[0].as<std::int64_t>();
  window.dead = row[1].as<std::int64_t>();
  window.cancelled = row[2].as<std::int64_t>();
  return window;
}

}  // namespace

JobStats ReadJobStats(pqxx::connection& connection) {
  return Translate("read job stats", [&] {
    connection.prepare(kCountByState, kCountByStateSql);
    connection.prepare(kCountByTopic, kCountByTopicSql);
    connection.prepare(kCountByAdapter, kCountByAdapterSql);
    connection.prepare(kCountByOutcome, kCountByOutcomeSql);
    connection.prepare(kOldestDueAge, kOldestDueAgeSql);
    connection.prepare(kFinishedWithin, kFinishedWithinSql);
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> txn(connection);
    JobStats stats;
    stats.by_state = Counts(txn, kCountByState);
    stats.by_topic = Counts(txn, kCountByTopic);
    stats.by_adapter = Counts(txn, kCountByAdapter);
    stats.by_outcome = Counts(txn, kCountByOutcome);
    const auto age = txn.exec_prepared1(kOldestDueAge);
    if (!age[0].is_null()) stats.oldest_due_age_seconds = age[0].as<double>();
    stats.last_5_minutes = ReadFinishedWindow(txn, 5 * 60);
    stats.last_hour = ReadFinishedWindow(txn, 60 * 60);
    txn.commit();
    return stats;
  });
}

}  // namespace payorch::db
