#include "db/job_queries.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "db/database.hpp"
#include "db/event_key_index.hpp"
#include "db/subscription_jobs.hpp"

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

// A bound of a range literal: double-quoted (a timestamp holds spaces), empty when unbounded.
std::string Quoted(const std::string& bound) {
  if (bound.empty()) return bound;
  std::string quoted = "\"";
  for (const char c : bound) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return quoted + '"';
}

// `jobs list` has one prepared statement per combination of present criteria, its WHERE clause
// naming only those, each value a parameter. A single statement with "($n = '' OR column = $n)"
// for every criterion is fine while PostgreSQL plans it with the values (a custom plan folds the
// ORs away), but a generic plan cannot take an index condition from such an OR: measured on 2
// million jobs it is a sequential scan, 3 to 4.5 s for --state dead or --subscription. PostgreSQL
// may go generic after five executions on one connection (a bulk replay paging through jobs),
// and does always under plan_cache_mode = force_generic_plan. With only the present criteria,
// even a generic plan uses the indexes they select on (jobs_finished_subscription_idx and
// jobs_subscription_unfinished_idx, jobs_created_idx, jobs_finished_idx; the partial state indexes
// need the states as values: custom plans).
struct ListCriterion {
  const char* sql;  // the condition, with $N where the value goes
  bool (*present)(const JobListFilter&);
  std::string (*value)(const JobListFilter&);
};

constexpr ListCriterion kListCriteria[] = {
    // A text[] of state names (PostgreSQL array literal).
    {"state = ANY($N::text[])", [](const JobListFilter& f) { return !f.states.empty(); },
     [](const JobListFilter& f) { return StateArrayLiteral(f.states); }},
    {"topic = $N", [](const JobListFilter& f) { return !f.topic.empty(); },
     [](const JobListFilter& f) { return f.topic; }},
    {"EXISTS (SELECT 1 FROM job_attempts a WHERE a.job_id = jobs.id AND a.adapter = $N)",
     [](const JobListFilter& f) { return !f.adapter.empty(); },
     [](const JobListFilter& f) { return f.adapter; }},
    {"broadcaster_id = $N::bigint",
     [](const JobListFilter& f) { return f.broadcaster_id.has_value(); },
     [](const JobListFilter& f) { return std::to_string(f.broadcaster_id.value_or(0)); }},
    // $N twice: the subscription's finished and unfinished jobs, each through its index.
    {"id IN (" PAYORCH_SUBSCRIPTION_JOBS("id", "subscription_id = $N") ")",
     [](const JobListFilter& f) { return !f.subscription_id.empty(); },
     [](const JobListFilter& f) { return f.subscription_id; }},
    {"outcome = $N", [](const JobListFilter& f) { return !f.outcome.empty(); },
     [](const JobListFilter& f) { return f.outcome; }},
    {"last_error ILIKE '%' || $N || '%'",
     [](const JobListFilter& f) { return !f.error_text.empty(); },
     [](const JobListFilter& f) { return f.error_text; }},
    {"created_at >= $N::timestamptz", [](const JobListFilter& f) { return !f.created_since.empty(); },
     [](const JobListFilter& f) { return f.created_since; }},
    {"created_at < $N::timestamptz", [](const JobListFilter& f) { return !f.created_until.empty(); },
     [](const JobListFilter& f) { return f.created_until; }},
    {"finished_at >= $N::timestamptz",
     [](const JobListFilter& f) { return !f.finished_since.empty(); },
     [](const JobListFilter& f) { return f.finished_since; }},
    {"finished_at < $N::timestamptz",
     [](const JobListFilter& f) { return !f.finished_until.empty(); },
     [](const JobListFilter& f) { return f.finished_until; }},
    // Keyset paging on the ordering key; the page boundary's own row is looked up by id (an
    // unknown id makes the comparison NULL: an empty page).
    {"(created_at, id) < (SELECT b.created_at, b.id FROM jobs b WHERE b.id = $N::bigint)",
     [](const JobListFilter& f) { return f.before_id.has_value(); },
     [](const JobListFilter& f) { return std::to_string(f.before_id.value_or(0)); }},
};

// One bit per kListCriteria entry: which criteria a filter uses.
unsigned PresentCriteria(const JobListFilter& filter) {
  unsigned mask = 0;
  for (std::size_t i = 0; i < std::size(kListCriteria); ++i) {
    if (kListCriteria[i].present(filter)) mask |= 1u << i;
  }
  return mask;
}

bool FiltersOnFinishedAt(const JobListFilter& filter) {
  return !filter.finished_since.empty() || !filter.finished_until.empty();
}

// With a bound on finished_at, the listing reads only the partitions of jobs that hold a job
// finished in that range: jobs_finished_id_bounds (migration 0014 says why and measures it)
// gives their lowest and highest id, and the listing takes them as two more parameters, planned
// with their values so that the other partitions are pruned at planning and the estimates are
// the partitions' own. Bounds computed inside the listing statement (an InitPlan) prune as well,
// but PostgreSQL estimates an id range of unknown bounds as a handful of rows and sorted every
// match instead: 2.9 s for --finished-since 30d on the bench history, against milliseconds.
constexpr const char* kFinishedIdBoundsSql =
    "SELECT low, high FROM jobs_finished_id_bounds($1::tstzrange)";

// [since, until) as a range literal, either side empty when unbounded.
std::string FinishedRange(const JobListFilter& filter) {
  return "[" + Quoted(filter.finished_since) + "," + Quoted(filter.finished_until) + ")";
}

// The listing statement for these criteria; parameters are numbered in kListCriteria order, then
// come the finished jobs' id bounds (when FiltersOnFinishedAt) and last the row limit.
std::string ListJobsSql(unsigned mask, bool finished_id_bounds) {
  std::string sql =
      "SELECT id, state, topic, broadcaster_id, subscription_id, outcome, attempts, last_error, " +
      Utc("created_at") + ", " + Utc("updated_at") + ", " + Utc("finished_at") + " FROM jobs";
  int parameter = 0;
  for (std::size_t i = 0; i < std::size(kListCriteria); ++i) {
    if ((mask & (1u << i)) == 0) continue;
    std::string condition = kListCriteria[i].sql;
    const std::string placeholder = "$" + std::to_string(++parameter);
    for (auto at = condition.find("$N"); at != std::string::npos; at = condition.find("$N", at)) {
      condition.replace(at, 2, placeholder);
    }
    sql += parameter == 1 ? " WHERE " : " AND ";
    sql += condition;
  }
  if (finished_id_bounds) {
    sql += " AND id BETWEEN $" + std::to_string(parameter + 1) + "::bigint AND $" +
           std::to_string(parameter + 2) + "::bigint";
    parameter += 2;
  }
  sql += " ORDER BY created_at DESC, id DESC LIMIT $" + std::to_string(++parameter) + "::integer";
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
constexpr const char* kFindJobIdByEventKeySql =
    "SELECT job_id FROM job_event_keys WHERE " PAYORCH_EVENT_KEY_MATCHES("event_key", "$1");

constexpr const char* kListAuditEntries = "job_queries_list_audit_entries";
const std::string& ListAuditEntriesSql() {
  static const std::string sql =
      "SELECT id, operation_id, job_id, action, actor, reason, previous_state, new_state,"
      " previous_attempts, previous_outcome, previous_last_error, " + Utc("created_at") +
      " FROM job_audit WHERE job_id = $1 ORDER BY id LIMIT $2";
  return sql;
}

// The stats statements. None reads the history beyond the window: the unfinished jobs come
// through the partial indexes whose predicates these WHERE clauses repeat (jobs_due_idx,
// jobs_running_lease_idx), the final ones through jobs_finished_idx (a range on finished_at).
// $1 is the window in seconds.
constexpr const char* kCountLiveAndRecent = "job_queries_count_live_and_recent";
constexpr const char* kCountLiveAndRecentSql =
    "SELECT state, outcome, topic, count(*) FROM jobs WHERE state IN ('queued', 'in_doubt')"
    " GROUP BY state, outcome, topic"
    " UNION ALL SELECT state, outcome, topic, count(*) FROM jobs WHERE state = 'running'"
    " GROUP BY state, outcome, topic"
    " UNION ALL SELECT state, outcome, topic, count(*) FROM jobs"
    " WHERE finished_at >= now() - $1::integer * interval '1 second'"
    " GROUP BY state, outcome, topic";
constexpr const char* kCountRecentByAdapter = "job_queries_count_recent_by_adapter";
// The same jobs, each looked up in job_attempts by its (job_id, attempt) key: a LATERAL
// subquery keeps this a nested loop over the backlog and the window (a plain join lets the
// planner hash-join all of job_attempts once the window holds some ten thousand jobs: 1.3 s on
// 2 million jobs for a 7-day window, against 0.2 s this way). A job counts once per adapter it
// used. 'unknown' is the adapter of rescue rows (an attempt whose worker vanished), not an
// adapter.
constexpr const char* kCountRecentByAdapterSql =
    "WITH recent AS ("
    "  SELECT id FROM jobs WHERE state IN ('queued', 'in_doubt')"
    "  UNION ALL SELECT id FROM jobs WHERE state = 'running'"
    "  UNION ALL SELECT id FROM jobs WHERE finished_at >= now() - $1::integer * interval '1 second')"
    " SELECT used.adapter, count(*) FROM recent CROSS JOIN LATERAL"
    "  (SELECT DISTINCT a.adapter FROM job_attempts a"
    "   WHERE a.job_id = recent.id AND a.adapter <> 'unknown') used"
    " GROUP BY used.adapter ORDER BY used.adapter";
constexpr const char* kOldestDueAge = "job_queries_oldest_due_age";
constexpr const char* kOldestDueAgeSql =
    "SELECT extract(epoch FROM now() - min(run_after))::double precision FROM jobs"
    " WHERE state IN ('queued', 'in_doubt') AND run_after <= now()";
constexpr const char* kFinishedWithin = "job_queries_finished_within";
constexpr const char* kFinishedWithinSql =
    "SELECT count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'dead'),"
    " count(*) FILTER (WHERE state = 'cancelled')"
    " FROM jobs WHERE finished_at >= now() - $1::integer * interval '1 second'";

std::optional<std::string> Nullable(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

}  // namespace

JobPage ListJobs(pqxx::connection& connection, const JobListFilter& filter) {
  return Translate("list jobs", [&] {
    const int limit = std::clamp(filter.limit, 1, kMaxListJobsLimit);
    const unsigned mask = PresentCriteria(filter);
    const bool finished = FiltersOnFinishedAt(filter);
    const std::string statement = "job_queries_list_jobs_" + std::to_string(mask);
    // Prepared once per connection and shape (a bulk replay reuses one for every page).
    connection.prepare(statement, ListJobsSql(mask, finished));
    std::vector<std::string> parameters;
    for (std::size_t i = 0; i < std::size(kListCriteria); ++i) {
      if ((mask & (1u << i)) != 0) parameters.push_back(kListCriteria[i].value(filter));
    }
    // Repeatable read: the bounds and the listing read one snapshot.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> txn(connection);
    JobPage page;
    if (finished) {
      const pqxx::row bounds = txn.exec_params1(kFinishedIdBoundsSql, FinishedRange(filter));
      if (bounds[0].is_null()) return page;  // no job finished in the range
      parameters.push_back(bounds[0].as<std::string>());
      parameters.push_back(bounds[1].as<std::string>());
      txn.exec0("SET LOCAL plan_cache_mode = force_custom_plan");
    }
    // One row more than asked tells whether another page follows.
    parameters.push_back(std::to_string(limit + 1));
    const pqxx::result rows =
        txn.exec_prepared(statement, pqxx::prepare::make_dynamic_params(parameters));
    txn.commit();

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

JobStats ReadJobStats(pqxx::connection& connection, int window_seconds) {
  return Translate("read job stats", [&] {
    connection.prepare(kCountLiveAndRecent, kCountLiveAndRecentSql);
    connection.prepare(kCountRecentByAdapter, kCountRecentByAdapterSql);
    connection.prepare(kOldestDueAge, kOldestDueAgeSql);
    connection.prepare(kFinishedWithin, kFinishedWithinSql);
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> txn(connection);
    JobStats stats;
    stats.window_seconds = window_seconds;
    // Rows are (state, outcome, topic, jobs); summed here into the three views, in key order.
    std::map<std::string, std::int64_t> by_state, by_topic, by_outcome;
    for (const auto& row : txn.exec_prepared(kCountLiveAndRecent, window_seconds)) {
      const auto state = row[0].as<std::string>();
      const auto jobs = row[3].as<std::int64_t>();
      by_state[state] += jobs;
      by_topic[row[2].as<std::string>()] += jobs;
      if (state == core::JobStateName(core::JobState::kSucceeded) && !row[1].is_null()) {
        by_outcome[row[1].as<std::string>()] += jobs;
      }
    }
    stats.by_state.assign(by_state.begin(), by_state.end());
    stats.by_topic.assign(by_topic.begin(), by_topic.end());
    stats.by_outcome.assign(by_outcome.begin(), by_outcome.end());
    for (const auto& row : txn.exec_prepared(kCountRecentByAdapter, window_seconds)) {
      stats.by_adapter.emplace_back(row[0].as<std::string>(), row[1].as<std::int64_t>());
    }
    const auto age = txn.exec_prepared1(kOldestDueAge);
    if (!age[0].is_null()) stats.oldest_due_age_seconds = age[0].as<double>();
    stats.last_5_minutes = ReadFinishedWindow(txn, 5 * 60);
    stats.last_hour = ReadFinishedWindow(txn, 60 * 60);
    txn.commit();
    return stats;
  });
}

}  // namespace payorch::db
