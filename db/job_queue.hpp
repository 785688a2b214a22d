#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace payorch::db {

// The worker's side of the jobs table: claim due jobs under a lease and a fencing token, and
// record how each attempt ended. Every function throws DatabaseError (db/database.hpp) and
// nothing else. Call PrepareJobQueueStatements once on every connection before using the others.

void PrepareJobQueueStatements(pqxx::connection& connection);

// A job as the worker receives it from a claim. `fence` and `attempt` identify this claim: every
// later write for it must present them (RecordAttempt does).
struct ClaimedJob {
  std::int64_t id = 0;
  std::int64_t fence = 0;
  // 1 for the first claim; counts every claim, including claims whose worker vanished.
  int attempt = 0;
  // Attempts since the last operator replay (equal to `attempt` for a job never replayed): what
  // the retry policy counts against its maximum, so a replayed job gets a fresh budget while
  // its attempt numbers, and history, go on.
  int budget_attempt = 0;
  // The state before this claim. True when the previous call's result is unknown: the job was
  // in_doubt, or it was running and its lease expired (its worker died or hung). Such a job must be
  // resolved with GetPaymentStatus before any new call, with the same idempotency key.
  bool was_in_doubt = false;
  bool lease_expired = false;
  std::string idempotency_key;
  std::int64_t broadcaster_id = 0;
  std::string topic;
  std::string subscription_id;
  std::optional<std::string> payment_gateway;
  std::optional<std::string> payment_method_id;
  // The webhook body as received. Holds the token and personal data: never log it.
  std::string raw_event;
};

// Claims up to `limit` due jobs in one statement and commits: queued or in_doubt jobs whose
// run_after has passed, and running jobs whose lease expired (the rescue; an append-only attempt
// row with decision 'lease_expired' records the vanished attempt). Ordered by run_after, id;
// rows another worker holds are skipped (FOR UPDATE SKIP LOCKED), so two workers never receive
// the same job. Each claimed job becomes running, owned by `worker_id` until now() + `lease`, with
// its fence and attempts bumped by one.
[[nodiscard]] std::vector<ClaimedJob> ClaimDueJobs(pqxx::connection& connection,
                                                   const std::string& worker_id,
                                                   std::chrono::milliseconds lease, int limit);

// The gateway_reference of the latest succeeded, approved authorisation job of the subscription,
// for Capture and Terminate; nullopt when there is none. Read-only, commits before returning so
// that no network call ever runs inside its transaction.
[[nodiscard]] std::optional<std::string> FindAuthorizationReference(
    pqxx::connection& connection, std::int64_t broadcaster_id, const std::string& subscription_id);

// One execution of a job, as the append-only job_attempts row stores it. No secrets: the request
// summary names ids, never the token or the customer's email.
struct AttemptRecord {
  std::int64_t job_id = 0;
  std::int64_t fence = 0;
  int attempt = 0;
  std::string worker_id;
  std::string adapter;
  std::string rpc;
  std::string request_summary;
  std::chrono::system_clock::time_point started_at;
  std::chrono::system_clock::time_point finished_at;
  std::string grpc_status;  // status code name: OK, UNAVAILABLE, ...
  std::optional<std::string> gateway_status;
  std::optional<std::string> gateway_reference;
  std::optional<std::string> decline_code;
  std::optional<std::string> error;
  std::string decision;  // succeeded, retry, in_doubt, dead
};

// What the attempt does to the job.
struct JobTransition {
  enum class Kind {
    kSucceeded,  // final, with `outcome` (approved, declined) and the gateway's reference/code
    kRetry,      // back to queued, claimable after `delay`
    kInDoubt,    // in_doubt, claimable after `delay`; the next claim resolves it first
    kDead,       // final, `error` is the reason
  };
  Kind kind = Kind::kDead;
  std::string outcome;
  std::optional<std::string> gateway_reference;
  std::optional<std::string> decline_code;
  std::chrono::milliseconds delay{0};
  std::optional<std::string> error;
};

// In one transaction: moves the job as `transition` says, compare-and-set on (id, fence,
// state = 'running'), and appends the attempt row. Returns false, having changed nothing, when
// the CAS matches no row: this worker's lease was lost (the job was rescued and claimed again, or
// cancelled), and the newer owner's records must stand.
[[nodiscard]] bool RecordAttempt(pqxx::connection& connection, const AttemptRecord& attempt,
                                 const JobTransition& transition);

// Gives a claimed job back without an attempt, for a job the worker decided not to call (its
// adapter's circuit breaker is open, or the worker is stopping): compare-and-set on (id, fence,
// running), the job returns to the state it was claimed from (in_doubt when job.was_in_doubt,
// else queued), claimable after `delay`, with the claim's attempt taken back so that parking
// never spends the job's attempts. No attempt row is written (no call was made). False, having
// changed nothing, when the lease was lost.
[[nodiscard]] bool ReleaseClaim(pqxx::connection& connection, const ClaimedJob& job,
                                std::chrono::milliseconds delay);

// Queue lag: seconds since the oldest due (queued or in-doubt, run_after passed) job became due;
// 0 when nothing is due. One index probe, cheap enough to sample every few seconds.
[[nodiscard]] double OldestDueJobAgeSeconds(pqxx::connection& connection);

// RecordAttempt for many attempts in ONE statement and one commit (instead of one transaction per
// job): each is its own compare-and-set, and a CAS that misses skips that attempt's row only. Element i of
// the result says whether attempts[i] was recorded. On an error nothing is recorded (the
// transaction rolls back) and the caller may retry the whole batch: an attempt already recorded
// by a commit whose outcome was unknown then simply misses its CAS.
struct AttemptToRecord {
  AttemptRecord attempt;
  JobTransition transition;
};
[[nodiscard]] std::vector<bool> RecordAttempts(pqxx::connection& connection,
                                               const std::vector<AttemptToRecord>& attempts);

// Seconds since the job longest in doubt became in doubt; 0 when none is.
[[nodiscard]] double OldestInDoubtJobAgeSeconds(pqxx::connection& connection);

// LISTENs on the channel the jobs insert trigger NOTIFYs (payorch_jobs) for as long as it lives.
// It must die before its connection. Not thread-safe: one per claiming connection.
class JobWakeups {
 public:
  explicit JobWakeups(pqxx::connection& connection);
  ~JobWakeups();
  JobWakeups(const JobWakeups&) = delete;
  JobWakeups& operator=(const JobWakeups&) = delete;

  // Waits up to `timeout` for a notification (one already received counts). True when jobs were
  // inserted since the last call. Throws DatabaseError when the connection broke.
  [[nodiscard]] bool Await(std::chrono::milliseconds timeout);

 private:
  class Receiver;
  pqxx::connection& connection_;
  std::unique_ptr<Receiver> receiver_;
};

}  // namespace payorch::db
