#include "db/job_admin.hpp"

#include <string>

#include "db/database.hpp"

namespace payorch::db {
namespace {

constexpr const char* kNextAuditOperation = "job_admin_next_audit_operation";
constexpr const char* kNextAuditOperationSql = "SELECT nextval('job_audit_operation_seq')";

constexpr const char* kFindJobState = "job_admin_find_job_state";
constexpr const char* kFindJobStateSql = "SELECT state FROM jobs WHERE id = $1";

// $1 job id, $2 allowed previous states (text[]), $3 operation id, $4 actor, $5 reason.
// `target` locks the row and keeps its values before the change (RETURNING sees only the new
// row). Under READ COMMITTED a second replay blocked on the lock re-checks `state = ANY($2)`
// against the committed row, finds queued, and matches nothing: the compare-and-set.
constexpr const char* kReplayJob = "job_admin_replay_job";
constexpr const char* kReplayJobSql = R"sql(
WITH target AS (
  SELECT id, state, attempts, outcome, last_error
  FROM jobs
  WHERE id = $1 AND state = ANY($2::text[])
  FOR UPDATE
), replayed AS (
  UPDATE jobs AS j
  SET state = 'queued', run_after = now(), finished_at = NULL, locked_by = NULL,
      locked_until = NULL, outcome = NULL, gateway_reference = NULL, decline_code = NULL,
      last_error = NULL, attempts_at_replay = j.attempts, updated_at = now()
  FROM target
  WHERE j.id = target.id
  RETURNING j.id
)
INSERT INTO job_audit (operation_id, job_id, action, actor, reason, previous_state, new_state,
                       previous_attempts, previous_outcome, previous_last_error)
SELECT $3, target.id, 'replay', $4, $5, target.state, 'queued', target.attempts, target.outcome,
       target.last_error
FROM target JOIN replayed ON replayed.id = target.id
RETURNING previous_state
)sql";

// The same shape for a cancel: $1 job id, $2 allowed states, $3 operation, $4 actor, $5 reason.
constexpr const char* kCancelJob = "job_admin_cancel_job";
constexpr const char* kCancelJobSql = R"sql(
WITH target AS (
  SELECT id, state, attempts, outcome, last_error
  FROM jobs
  WHERE id = $1 AND state = ANY($2::text[])
  FOR UPDATE
), cancelled AS (
  UPDATE jobs AS j
  SET state = 'cancelled', finished_at = now(), locked_by = NULL, locked_until = NULL,
      updated_at = now()
  FROM target
  WHERE j.id = target.id
  RETURNING j.id
)
INSERT INTO job_audit (operation_id, job_id, action, actor, reason, previous_state, new_state,
                       previous_attempts, previous_outcome, previous_last_error)
SELECT $3, target.id, 'cancel', $4, $5, target.state, 'cancelled', target.attempts,
       target.outcome, target.last_error
FROM target JOIN cancelled ON cancelled.id = target.id
RETURNING previous_state
)sql";

// A replayed job may lie in a sealed partition (migration 0015), which refuses unfinished jobs.
constexpr const char* kUnsealPartitionOf = "job_admin_unseal_partition_of";
constexpr const char* kUnsealPartitionOfSql = "SELECT jobs_unseal_partition_of($1)";

// Wakes LISTENing workers at commit (the insert trigger does this for new jobs).
constexpr const char* kNotifyJobs = "job_admin_notify_jobs";
constexpr const char* kNotifyJobsSql = "SELECT pg_notify('payorch_jobs', '')";

std::optional<std::string> CurrentState(pqxx::transaction_base& txn, std::int64_t job_id) {
  const pqxx::result rows = txn.exec_prepared(kFindJobState, job_id);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

// Runs one audited change statement; on no match, reports the job's current state instead.
// `unfinishes`: the change makes the job unfinished again (a replay).
JobChange RunAuditedChange(pqxx::connection& connection, const char* statement, const char* sql,
                           bool unfinishes, std::int64_t job_id,
                           const std::vector<core::JobState>& allowed_states,
                           const AuditContext& audit) {
  const bool notify = unfinishes;
  connection.prepare(statement, sql);
  connection.prepare(kFindJobState, kFindJobStateSql);
  if (notify) connection.prepare(kNotifyJobs, kNotifyJobsSql);
  if (unfinishes) connection.prepare(kUnsealPartitionOf, kUnsealPartitionOfSql);
  pqxx::work txn(connection);
  if (unfinishes) txn.exec_prepared(kUnsealPartitionOf, job_id);
  const pqxx::result rows = txn.exec_prepared(statement, job_id, StateArrayLiteral(allowed_states),
                                              audit.operation_id, audit.actor, audit.reason);
  JobChange change;
  if (rows.empty()) {
    change.previous_state = CurrentState(txn, job_id).value_or("");
  } else {
    change.changed = true;
    change.previous_state = rows[0][0].as<std::string>();
    if (notify) txn.exec_prepared(kNotifyJobs);
  }
  txn.commit();
  return change;
}

}  // namespace

std::int64_t NextAuditOperation(pqxx::connection& connection) {
  return Translate("next audit operation", [&] {
    connection.prepare(kNextAuditOperation, kNextAuditOperationSql);
    pqxx::work txn(connection);
    const auto id = txn.exec_prepared1(kNextAuditOperation)[0].as<std::int64_t>();
    txn.commit();
    return id;
  });
}

JobChange ReplayJob(pqxx::connection& connection, std::int64_t job_id,
                    const std::vector<core::JobState>& allowed_states, const AuditContext& audit) {
  return Translate("replay job", [&] {
    return RunAuditedChange(connection, kReplayJob, kReplayJobSql, /*unfinishes=*/true, job_id,
                            allowed_states, audit);
  });
}

JobChange CancelJob(pqxx::connection& connection, std::int64_t job_id,
                    const std::vector<core::JobState>& allowed_states, const AuditContext& audit) {
  return Translate("cancel job", [&] {
    return RunAuditedChange(connection, kCancelJob, kCancelJobSql, /*unfinishes=*/false, job_id,
                            allowed_states, audit);
  });
}

std::optional<std::string> FindJobState(pqxx::connection& connection, std::int64_t job_id) {
  return Translate("find job state", [&] {
    connection.prepare(kFindJobState, kFindJobStateSql);
    pqxx::read_transaction txn(connection);
    auto state = CurrentState(txn, job_id);
    txn.commit();
    return state;
  });
}

}  // namespace payorch::db
