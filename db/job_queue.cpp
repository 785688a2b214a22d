#include "db/job_queue.hpp"

#include <algorithm>
#include <utility>

#include "db/database.hpp"

namespace payorch::db {
namespace {

constexpr const char* kClaimDueJobs = "job_queue_claim_due_jobs";
constexpr const char* kFindAuthorizationReference = "job_queue_find_authorization_reference";
constexpr const char* kFinishJobSucceeded = "job_queue_finish_job_succeeded";
constexpr const char* kRescheduleJob = "job_queue_reschedule_job";
constexpr const char* kFinishJobDead = "job_queue_finish_job_dead";
constexpr const char* kInsertAttempt = "job_queue_insert_attempt";

// $1 worker id, $2 lease in ms, $3 batch size.
// The `due` CTE locks the batch and keeps each row's state before the claim (RETURNING only sees
// the new row). The `expired` CTE appends the attempt row of a rescued job whose worker vanished;
// ON CONFLICT covers the impossible-in-practice case of that row existing already, so a rescue can
// never fail the whole claim. Both CTEs and the UPDATE run on one snapshot in one statement.
constexpr const char* kClaimDueJobsSql = R"sql(
WITH due AS (
  SELECT id, state AS previous_state, attempts AS previous_attempts, fence AS previous_fence,
         locked_by AS previous_locked_by, locked_until AS previous_locked_until,
         updated_at AS previous_updated_at
  FROM jobs
  WHERE (state IN ('queued', 'in_doubt') AND run_after <= now())
     OR (state = 'running' AND locked_until < now())
  ORDER BY run_after, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), expired AS (
  INSERT INTO job_attempts (job_id, attempt, fence, worker_id, adapter, rpc, request_summary,
                            started_at, finished_at, grpc_status, error, decision)
  SELECT id, previous_attempts, previous_fence, previous_locked_by, 'unknown', 'unknown', '',
         previous_updated_at, now(), 'UNKNOWN',
         'lease expired at ' || previous_locked_until || ' before the worker recorded the attempt',
         'lease_expired'
  FROM due
  WHERE previous_state = 'running' AND previous_attempts >= 1
  ON CONFLICT (job_id, attempt) DO NOTHING
)
UPDATE jobs AS j
SET state = 'running',
    locked_by = $1,
    locked_until = now() + $2::double precision * interval '1 millisecond',
    fence = j.fence + 1,
    attempts = j.attempts + 1,
    updated_at = now()
FROM due
WHERE j.id = due.id
RETURNING j.id, j.fence, j.attempts, due.previous_state, j.idempotency_key, j.broadcaster_id,
          j.topic, j.subscription_id, j.payment_gateway, j.payment_method_id, j.raw_event,
          extract(epoch FROM j.run_after) AS run_after_epoch
)sql";

constexpr const char* kFindAuthorizationReferenceSql = R"sql(
SELECT gateway_reference
FROM jobs
WHERE subscription_id = $2 AND broadcaster_id = $1
  AND topic = 'subscriptionReadyForPaymentAuthorisation'
  AND state = 'succeeded' AND outcome = 'approved' AND gateway_reference IS NOT NULL
ORDER BY id DESC
LIMIT 1
)sql";

// The transitions: each a compare-and-set on (id, fence, running), so a worker whose lease was
// lost changes nothing. $1 id, $2 fence.
constexpr const char* kFinishJobSucceededSql = R"sql(
UPDATE jobs
SET state = 'succeeded', outcome = $3, gateway_reference = $4, decline_code = $5,
    finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL
WHERE id = $1 AND fence = $2 AND state = 'running'
)sql";

// $3 is 'queued' (retry) or 'in_doubt'; $4 delay in ms; $5 the error that caused it.
constexpr const char* kRescheduleJobSql = R"sql(
UPDATE jobs
SET state = $3, run_after = now() + $4::double precision * interval '1 millisecond',
    last_error = $5, updated_at = now(), locked_by = NULL, locked_until = NULL
WHERE id = $1 AND fence = $2 AND state = 'running'
)sql";

constexpr const char* kFinishJobDeadSql = R"sql(
UPDATE jobs
SET state = 'dead', last_error = $3, finished_at = now(), updated_at = now(),
    locked_by = NULL, locked_until = NULL
WHERE id = $1 AND fence = $2 AND state = 'running'
)sql";

// Times are microseconds since the Unix epoch, taken by the worker around the call.
constexpr const char* kInsertAttemptSql = R"sql(
INSERT INTO job_attempts (job_id, attempt, fence, worker_id, adapter, rpc, request_summary,
                          started_at, finished_at, grpc_status, gateway_status,
                          gateway_reference, decline_code, error, decision)
VALUES ($1, $2, $3, $4, $5, $6, $7,
        to_timestamp($8::double precision / 1000000), to_timestamp($9::double precision / 1000000),
        $10, $11, $12, $13, $14, $15)
)sql";

// libpqxx 6.4 sends a null `const char*` as SQL NULL.
const char* Nullable(const std::optional<std::string>& value) {
  return value ? value->c_str() : nullptr;
}

std::optional<std::string> OptionalText(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

long long EpochMicros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

}  // namespace

void PrepareJobQueueStatements(pqxx::connection& connection) {
  Translate("prepare job queue statements", [&] {
    connection.prepare(kClaimDueJobs, kClaimDueJobsSql);
    connection.prepare(kFindAuthorizationReference, kFindAuthorizationReferenceSql);
    connection.prepare(kFinishJobSucceeded, kFinishJobSucceededSql);
    connection.prepare(kRescheduleJob, kRescheduleJobSql);
    connection.prepare(kFinishJobDead, kFinishJobDeadSql);
    connection.prepare(kInsertAttempt, kInsertAttemptSql);
  });
}

std::vector<ClaimedJob> ClaimDueJobs(pqxx::connection& connection, const std::string& worker_id,
                                     std::chrono::milliseconds lease, int limit) {
  return Translate("claim due jobs", [&] {
    pqxx::work txn(connection);
    const pqxx::result rows =
        txn.exec_prepared(kClaimDueJobs, worker_id, static_cast<long long>(lease.count()), limit);
    txn.commit();
    // RETURNING has no order: restore the claim's (run_after, id) so jobs start in that order.
    std::vector<std::pair<double, ClaimedJob>> claimed;
    claimed.reserve(rows.size());
    for (const auto& row : rows) {
      ClaimedJob job;
      job.id = row["id"].as<std::int64_t>();
      job.fence = row["fence"].as<std::int64_t>();
      job.attempt = row["attempts"].as<int>();
      const auto previous_state = row["previous_state"].as<std::string>();
      job.lease_expired = previous_state == "running";
      job.was_in_doubt = previous_state == "in_doubt" || job.lease_expired;
      job.idempotency_key = row["idempotency_key"].as<std::string>();
      job.broadcaster_id = row["broadcaster_id"].as<std::int64_t>();
      job.topic = row["topic"].as<std::string>();
      job.subscription_id = row["subscription_id"].as<std::string>();
      job.payment_gateway = OptionalText(row["payment_gateway"]);
      job.payment_method_id = OptionalText(row["payment_method_id"]);
      job.raw_event = row["raw_event"].as<std::string>();
      claimed.emplace_back(row["run_after_epoch"].as<double>(), std::move(job));
    }
    std::sort(claimed.begin(), claimed.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.id < b.second.id;
    });
    std::vector<ClaimedJob> jobs;
    jobs.reserve(claimed.size());
    for (auto& entry : claimed) jobs.push_back(std::move(entry.second));
    return jobs;
  });
}

std::optional<std::string> FindAuthorizationReference(pqxx::connection& connection,
                                                      std::int64_t broadcaster_id,
                                                      const std::string& subscription_id) {
  return Translate("find authorization reference", [&]() -> std::optional<std::string> {
    pqxx::read_transaction txn(connection);
    const pqxx::result rows =
        txn.exec_prepared(kFindAuthorizationReference, broadcaster_id, subscription_id);
    txn.commit();
    if (rows.empty()) return std::nullopt;
    return rows[0][0].as<std::string>();
  });
}

bool RecordAttempt(pqxx::connection& connection, const AttemptRecord& attempt,
                   const JobTransition& transition) {
  return Translate("record attempt", [&] {
    pqxx::work txn(connection);
    // The CAS first: when it misses, the attempt row is not written either (a newer owner may
    // already have recorded its own row for this job).
    pqxx::result updated;
    switch (transition.kind) {
      case JobTransition::Kind::kSucceeded:
        updated = txn.exec_prepared(kFinishJobSucceeded, attempt.job_id, attempt.fence,
                                    transition.outcome, Nullable(transition.gateway_reference),
                                    Nullable(transition.decline_code));
        break;
      case JobTransition::Kind::kRetry:
      case JobTransition::Kind::kInDoubt:
        updated = txn.exec_prepared(
            kRescheduleJob, attempt.job_id, attempt.fence,
            transition.kind == JobTransition::Kind::kRetry ? "queued" : "in_doubt",
            static_cast<long long>(transition.delay.count()), Nullable(transition.error));
        break;
      case JobTransition::Kind::kDead:
        updated = txn.exec_prepared(kFinishJobDead, attempt.job_id, attempt.fence,
                                    transition.error.value_or("dead"));
        break;
    }
    if (updated.affected_rows() == 0) {
      txn.abort();
      return false;
    }
    txn.exec_prepared(kInsertAttempt, attempt.job_id, attempt.attempt, attempt.fence,
                      attempt.worker_id, attempt.adapter, attempt.rpc, attempt.request_summary,
                      EpochMicros(attempt.started_at), EpochMicros(attempt.finished_at),
                      attempt.grpc_status, Nullable(attempt.gateway_status),
                      Nullable(attempt.gateway_reference), Nullable(attempt.decline_code),
                      Nullable(attempt.error), attempt.decision);
    txn.commit();
    return true;
  });
}

class JobWakeups::Receiver : public pqxx::notification_receiver {
 public:
  explicit Receiver(pqxx::connection& connection)
      : pqxx::notification_receiver(connection, "payorch_jobs") {}
  void operator()(const std::string& /*payload*/, int /*backend_pid*/) override { notified = true; }
  bool notified = false;
};

JobWakeups::JobWakeups(pqxx::connection& connection) : connection_(connection) {
  // Registering the receiver issues LISTEN on the connection.
  Translate("listen for job inserts", [&] { receiver_ = std::make_unique<Receiver>(connection_); });
}

JobWakeups::~JobWakeups() {
  try {
    receiver_.reset();  // UNLISTEN; may fail on a broken connection, which is being dropped anyway
  } catch (const std::exception&) {
  }
}

bool JobWakeups::Await(std::chrono::milliseconds timeout) {
  return Translate("wait for job inserts", [&] {
    if (!receiver_->notified) {
      connection_.get_notifs();
    }
    if (!receiver_->notified && timeout.count() > 0) {
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
      connection_.await_notification(static_cast<long>(micros / 1000000),
                                     static_cast<long>(micros % 1000000));
    }
    const bool notified = receiver_->notified;
    receiver_->notified = false;
    return notified;
  });
}

}  // namespace payorch::db
