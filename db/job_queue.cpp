#include "db/job_queue.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "db/array_parameters.hpp"
#include "db/database.hpp"

namespace payorch::db {
namespace {

constexpr const char* kClaimDueJobs = "job_queue_claim_due_jobs";
constexpr const char* kFindAuthorizationReference = "job_queue_find_authorization_reference";
constexpr const char* kFinishJobSucceeded = "job_queue_finish_job_succeeded";
constexpr const char* kRescheduleJob = "job_queue_reschedule_job";
constexpr const char* kFinishJobDead = "job_queue_finish_job_dead";
constexpr const char* kInsertAttempt = "job_queue_insert_attempt";
constexpr const char* kReleaseClaim = "job_queue_release_claim";
constexpr const char* kOldestDueJobAge = "job_queue_oldest_due_job_age";
constexpr const char* kRecordAttemptsBatch = "job_queue_record_attempts_batch";
constexpr const char* kOldestInDoubtJobAge = "job_queue_oldest_in_doubt_job_age";

// $1 worker id, $2 lease in ms, $3 batch size.
// Rescues (expired leases) and ready jobs are two CTEs, each on its own partial index
// (jobs_running_lease_idx, jobs_due_idx) that it walks in order and leaves after $3 rows; one
// WHERE with an OR of both would scan the whole table.
// Per-subscription order: a queued or in-doubt job is claimable only when no other job of its
// subscription is running and none that is earlier by (coalesce(dunning date, created_at), id) is
// unfinished (jobs_subscription_unfinished_idx of migration 0002 answers that with one probe).
// Since only the earliest unfinished job of a subscription is ever claimable, and a claimed job
// is running, two jobs of one subscription never run at once. A job whose lease expired is
// rescued regardless: it was already the one running, and it must be resumed (in doubt) before
// anything later can go. Residual race, by design of READ COMMITTED: a job inserted with an
// EARLIER order key than a job another worker is claiming in the same instant can be claimed by
// a concurrent claim statement whose snapshot does not yet see the other as running. Events of
// one subscription arrive days apart in dunning order, so this needs an out-of-order delivery
// racing a claim within milliseconds.
// The `ready` CTE is shaped so that no statistics can make it read much more than it claims.
// Statistics taken while no job was unfinished (an idle night: analysed or vacuumed with an empty
// queue) make the partial indexes count 0 rows, and then every plan looks equally cheap. A
// burst of webhooks that changes fewer rows than autoanalyze waits for (30,000 renewals) kept
// such statistics, and PostgreSQL turned the NOT EXISTS into a join whose inner side read every
// unfinished job for every candidate: minutes per claim, so the worker claimed nothing and
// nothing changed to bring autoanalyze. Hence:
//   * the NOT EXISTS has OFFSET 0, which keeps it a probe per candidate (a SubPlan whose index
//     condition is the candidate's subscription) instead of a join;
//   * the candidates come in claim order from a subquery that locks them, and the probe and the
//     LIMIT apply above it, so the probes stop at $3 claimable jobs even when the plan sorts the
//     due jobs instead of walking jobs_due_idx (a sort of every due job is cheap; a probe of
//     each is not). A blocked job it passes stays locked until this statement commits, as
//     unclaimable as before.
// Measured with those statistics: OFFSET 0 alone took a claim of 256 jobs among 30,000 due from
// minutes to 180 ms; claiming from the ordered subquery took a sorted plan among 20,000 due from
// 67.7 to 31.3 ms (256 probes instead of 20,000). The next analyze brings back the plan that
// walks jobs_due_idx in order.
// tests/integration/worker/job_queue_test.cpp reproduces the statistics.
// The `due` CTE locks the batch and keeps each row's state before the claim (RETURNING only sees
// the new row). The `expired` CTE appends the attempt row of a rescued job whose worker vanished;
// ON CONFLICT covers the impossible-in-practice case of that row existing already, so a rescue can
// never fail the whole claim. Both CTEs and the UPDATE run on one snapshot in one statement.
constexpr const char* kClaimDueJobsSql = R"sql(
WITH rescue AS (
  SELECT id, state AS previous_state, attempts AS previous_attempts, fence AS previous_fence,
         locked_by AS previous_locked_by, locked_until AS previous_locked_until,
         updated_at AS previous_updated_at, run_after
  FROM jobs
  WHERE state = 'running' AND locked_until < now()
  ORDER BY locked_until
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), ready AS (
  SELECT j.id, j.previous_state, j.previous_attempts, j.previous_fence, j.previous_locked_by,
         j.previous_locked_until, j.previous_updated_at, j.run_after
  FROM (SELECT id, state AS previous_state, attempts AS previous_attempts,
               fence AS previous_fence, locked_by AS previous_locked_by,
               locked_until AS previous_locked_until, updated_at AS previous_updated_at,
               run_after, broadcaster_id, subscription_id,
               coalesce(dunning_attempt_date, created_at) AS order_key
        FROM jobs
        WHERE state IN ('queued', 'in_doubt') AND run_after <= now()
        ORDER BY run_after, id
        FOR UPDATE SKIP LOCKED) AS j
  WHERE NOT EXISTS (
      SELECT 1 FROM jobs AS e
      WHERE e.broadcaster_id = j.broadcaster_id AND e.subscription_id = j.subscription_id
        AND e.state IN ('queued', 'running', 'in_doubt') AND e.id <> j.id
        AND (e.state = 'running'
             OR (coalesce(e.dunning_attempt_date, e.created_at), e.id) < (j.order_key, j.id))
      OFFSET 0)
  LIMIT $3
), due AS (
  SELECT * FROM rescue
  UNION ALL
  SELECT * FROM ready
  LIMIT $3
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
RETURNING j.id, j.fence, j.attempts, j.attempts - j.attempts_at_replay AS budget_attempt,
          due.previous_state, j.idempotency_key, j.broadcaster_id,
          j.topic, j.subscription_id, j.payment_gateway, j.payment_method_id, j.raw_event,
          extract(epoch FROM j.run_after) AS run_after_epoch
)sql";

// A succeeded job: jobs_finished_subscription_idx (0010) holds it, its predicate implied by
// the state.
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

// Gives a claimed job back unattempted: the claim bumped attempts by one, so the release takes
// that one back (the fence stays bumped: fences only grow). $1 id, $2 fence, $3 'queued' or
// 'in_doubt' (the state before the claim, so an in-doubt job is still resolved first), $4 delay ms.
constexpr const char* kReleaseClaimSql = R"sql(
UPDATE jobs
SET state = $3, run_after = now() + $4::double precision * interval '1 millisecond',
    attempts = attempts - 1, updated_at = now(), locked_by = NULL, locked_until = NULL
WHERE id = $1 AND fence = $2 AND state = 'running' AND attempts >= 1
)sql";

// Seconds since the oldest due job became due (0 when none is due). Uses jobs_due_idx: the first
// row of (run_after, id) among queued and in-doubt jobs.
constexpr const char* kOldestDueJobAgeSql = R"sql(
SELECT coalesce(extract(epoch FROM now() - min(run_after)), 0)::double precision
FROM jobs
WHERE state IN ('queued', 'in_doubt') AND run_after <= now()
)sql";

// RecordAttempts in one statement: the compare-and-set transitions of a whole batch, and the
// attempt rows of exactly those whose CAS matched. Parameters are parallel arrays, one element
// per attempt (a job appears at most once per batch: the worker holds a job until its attempt is
// recorded). new_state: succeeded | queued | in_doubt | dead.
// The plan must reach each job by primary key from the input (a nested loop over the batch):
// written as `j.state = 'running'`, the CAS lets the planner start from jobs_running_lease_idx
// instead, and when the statistics are older than the current leases (they say "no job is
// running" right after a burst of claims) it then rescans the whole input for every running job,
// which took 190 ms for a batch of 256 instead of 2 ms. So the expected state comes from the
// materialised input, where the planner cannot see it is a constant.
constexpr const char* kRecordAttemptsBatchSql = R"sql(
WITH input AS MATERIALIZED (
  SELECT *, 'running'::text AS expected_state
  FROM unnest($1::bigint[], $2::bigint[], $3::integer[], $4::text[], $5::text[],
              $6::text[], $7::text[], $8::double precision[], $9::text[], $10::text[],
              $11::text[], $12::text[], $13::text[], $14::double precision[],
              $15::double precision[], $16::text[], $17::text[], $18::text[],
              $19::text[], $20::text[], $21::text[])
    AS i(job_id, fence, attempt, new_state, outcome, gateway_reference, decline_code, delay_ms,
         last_error, worker_id, adapter, rpc, request_summary, started_us, finished_us,
         grpc_status, gateway_status, attempt_reference, attempt_decline_code, error, decision)
), updated AS (
  UPDATE jobs AS j
  SET state = i.new_state,
      outcome = CASE WHEN i.new_state = 'succeeded' THEN i.outcome ELSE j.outcome END,
      gateway_reference = CASE WHEN i.new_state = 'succeeded' THEN i.gateway_reference
                               ELSE j.gateway_reference END,
      decline_code = CASE WHEN i.new_state = 'succeeded' THEN i.decline_code
                          ELSE j.decline_code END,
      run_after = CASE WHEN i.new_state IN ('queued', 'in_doubt')
                       THEN now() + i.delay_ms * interval '1 millisecond' ELSE j.run_after END,
      last_error = CASE WHEN i.new_state = 'succeeded' THEN j.last_error ELSE i.last_error END,
      finished_at = CASE WHEN i.new_state IN ('succeeded', 'dead') THEN now() END,
      updated_at = now(), locked_by = NULL, locked_until = NULL
  FROM input AS i
  WHERE j.id = i.job_id AND j.fence = i.fence AND j.state = i.expected_state
  RETURNING j.id
)
INSERT INTO job_attempts (job_id, attempt, fence, worker_id, adapter, rpc, request_summary,
                          started_at, finished_at, grpc_status, gateway_status,
                          gateway_reference, decline_code, error, decision)
SELECT i.job_id, i.attempt, i.fence, i.worker_id, i.adapter, i.rpc, i.request_summary,
       to_timestamp(i.started_us / 1000000), to_timestamp(i.finished_us / 1000000),
       i.grpc_status, i.gateway_status, i.attempt_reference, i.attempt_decline_code, i.error,
       i.decision
FROM input AS i JOIN updated AS u ON u.id = i.job_id
RETURNING job_id
)sql";

// Seconds since the job longest in doubt became so (0 when none is): an adapter that cannot
// answer GetPaymentStatus leaves jobs there. In-doubt jobs are few; jobs_exceptional_created_idx
// (migration 0005) holds only them and the dead and cancelled ones.
constexpr const char* kOldestInDoubtJobAgeSql = R"sql(
SELECT coalesce(extract(epoch FROM now() - min(updated_at)), 0)::double precision
FROM jobs
WHERE state = 'in_doubt'
)sql";

// For the functions whose work is ONE statement (the claim, the batch record, the release, the
// authorisation lookup): the statement runs in autocommit, which is its own transaction, with the
// same atomicity and durability (the result arrives after the commit), in one round trip instead
// of three (BEGIN, the statement, COMMIT on a pqxx::work). A connection lost during it leaves the
// outcome unknown exactly as a lost COMMIT would; every caller already treats a failed claim or
// record that way (leases expire, fences reject a stale record).
using SingleStatement = pqxx::nontransaction;

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
    connection.prepare(kReleaseClaim, kReleaseClaimSql);
    connection.prepare(kOldestDueJobAge, kOldestDueJobAgeSql);
    connection.prepare(kRecordAttemptsBatch, kRecordAttemptsBatchSql);
    connection.prepare(kOldestInDoubtJobAge, kOldestInDoubtJobAgeSql);
  });
}

std::vector<ClaimedJob> ClaimDueJobs(pqxx::connection& connection, const std::string& worker_id,
                                     std::chrono::milliseconds lease, int limit) {
  return Translate("claim due jobs", [&] {
    SingleStatement txn(connection);
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
      job.budget_attempt = row["budget_attempt"].as<int>();
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
    SingleStatement txn(connection);
    const pqxx::result rows =
        txn.exec_prepared(kFindAuthorizationReference, broadcaster_id, subscription_id);
    txn.commit();
    if (rows.empty()) return std::nullopt;
    return rows[0][0].as<std::string>();
  });
}

namespace {

// The CAS and, when it matched, the attempt row, inside the caller's transaction.
bool RecordInTransaction(pqxx::work& txn, const AttemptRecord& attempt,
                         const JobTransition& transition) {
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
  if (updated.affected_rows() == 0) return false;
  txn.exec_prepared(kInsertAttempt, attempt.job_id, attempt.attempt, attempt.fence,
                    attempt.worker_id, attempt.adapter, attempt.rpc, attempt.request_summary,
                    EpochMicros(attempt.started_at), EpochMicros(attempt.finished_at),
                    attempt.grpc_status, Nullable(attempt.gateway_status),
                    Nullable(attempt.gateway_reference), Nullable(attempt.decline_code),
                    Nullable(attempt.error), attempt.decision);
  return true;
}

}  // namespace

bool RecordAttempt(pqxx::connection& connection, const AttemptRecord& attempt,
                   const JobTransition& transition) {
  return Translate("record attempt", [&] {
    pqxx::work txn(connection);
    const bool recorded = RecordInTransaction(txn, attempt, transition);
    txn.commit();
    return recorded;
  });
}

namespace {

const char* NewState(JobTransition::Kind kind) {
  switch (kind) {
    case JobTransition::Kind::kSucceeded: return "succeeded";
    case JobTransition::Kind::kRetry: return "queued";
    case JobTransition::Kind::kInDoubt: return "in_doubt";
    case JobTransition::Kind::kDead: return "dead";
  }
  return "dead";
}

}  // namespace

std::vector<bool> RecordAttempts(pqxx::connection& connection,
                                 const std::vector<AttemptToRecord>& attempts) {
  return Translate("record attempts", [&] {
    if (attempts.empty()) return std::vector<bool>{};
    ArrayLiteral job_id, fence, attempt_no, new_state, outcome, gateway_reference, decline_code,
        delay_ms, last_error, worker_id, adapter, rpc, request_summary, started_us, finished_us,
        grpc_status, gateway_status, attempt_reference, attempt_decline_code, error, decision;
    for (const auto& item : attempts) {
      const AttemptRecord& a = item.attempt;
      const JobTransition& t = item.transition;
      const bool succeeded = t.kind == JobTransition::Kind::kSucceeded;
      job_id.AddInteger(a.job_id);
      fence.AddInteger(a.fence);
      attempt_no.AddInteger(a.attempt);
      new_state.AddText(NewState(t.kind));
      outcome.AddOptionalText(succeeded ? std::optional<std::string>(t.outcome) : std::nullopt);
      gateway_reference.AddOptionalText(t.gateway_reference);
      decline_code.AddOptionalText(t.decline_code);
      delay_ms.AddInteger(static_cast<long long>(t.delay.count()));
      last_error.AddOptionalText(t.kind == JobTransition::Kind::kDead
                                     ? std::optional<std::string>(t.error.value_or("dead"))
                                     : t.error);
      worker_id.AddText(a.worker_id);
      adapter.AddText(a.adapter);
      rpc.AddText(a.rpc);
      request_summary.AddText(a.request_summary);
      started_us.AddInteger(EpochMicros(a.started_at));
      finished_us.AddInteger(EpochMicros(a.finished_at));
      grpc_status.AddText(a.grpc_status);
      gateway_status.AddOptionalText(a.gateway_status);
      attempt_reference.AddOptionalText(a.gateway_reference);
      attempt_decline_code.AddOptionalText(a.decline_code);
      error.AddOptionalText(a.error);
      decision.AddText(a.decision);
    }
    SingleStatement txn(connection);
    const pqxx::result rows = txn.exec_prepared(
        kRecordAttemptsBatch, job_id.Finish(), fence.Finish(), attempt_no.Finish(),
        new_state.Finish(), outcome.Finish(), gateway_reference.Finish(), decline_code.Finish(),
        delay_ms.Finish(), last_error.Finish(), worker_id.Finish(), adapter.Finish(), rpc.Finish(),
        request_summary.Finish(), started_us.Finish(), finished_us.Finish(), grpc_status.Finish(),
        gateway_status.Finish(), attempt_reference.Finish(), attempt_decline_code.Finish(),
        error.Finish(), decision.Finish());
    txn.commit();
    std::set<std::int64_t> recorded_ids;
    for (const auto& row : rows) recorded_ids.insert(row[0].as<std::int64_t>());
    std::vector<bool> recorded;
    recorded.reserve(attempts.size());
    for (const auto& item : attempts) {
      recorded.push_back(recorded_ids.count(item.attempt.job_id) == 1);
    }
    return recorded;
  });
}

bool ReleaseClaim(pqxx::connection& connection, const ClaimedJob& job,
                  std::chrono::milliseconds delay) {
  return Translate("release claim", [&] {
    SingleStatement txn(connection);
    const pqxx::result updated =
        txn.exec_prepared(kReleaseClaim, job.id, job.fence, job.was_in_doubt ? "in_doubt" : "queued",
                          static_cast<long long>(delay.count()));
    txn.commit();
    return updated.affected_rows() == 1;
  });
}

double OldestDueJobAgeSeconds(pqxx::connection& connection) {
  return Translate("oldest due job age", [&] {
    pqxx::read_transaction txn(connection);
    const pqxx::row row = txn.exec_prepared1(kOldestDueJobAge);
    txn.commit();
    return row[0].as<double>();
  });
}

double OldestInDoubtJobAgeSeconds(pqxx::connection& connection) {
  return Translate("oldest in-doubt job age", [&] {
    pqxx::read_transaction txn(connection);
    const pqxx::row row = txn.exec_prepared1(kOldestInDoubtJobAge);
    txn.commit();
    return row[0].as<double>();
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
