#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>

#include "db/job_queue.hpp"
#include "services/core/metrics.hpp"
#include "services/worker/adapter_client.hpp"
#include "services/worker/circuit_breaker.hpp"
#include "services/worker/config.hpp"
#include "services/worker/job_executor.hpp"
#include "services/worker/worker_metrics.hpp"

namespace payorch::worker {

// The worker: one claim loop hands claimed jobs to dispatcher threads (RunSlot), which look up
// what a job needs, pass the adapter's gate and start its call asynchronously (gRPC callback API:
// no thread waits for a call); each call's end hands the attempt to the recorder, which records
// attempts in batches (one transaction for many). The caller owns the threads: it runs
// RunClaimLoop on one thread, RunSlot on a few (kDispatchers in main) and RunRecorder on one,
// calls Stop from anywhere, and joins them. config.concurrency bounds the jobs held at once, and
// so the calls in flight. Every thread that touches PostgreSQL has its own connection, reconnecting with
// backoff after a failure, so a database outage slows the worker down but never stops it.
//
// Claims are bounded by `concurrency` jobs held at once (queued for a slot, in a call, or waiting
// for the recorder): the worker never holds a lease on a job it is not about to run. Every call passes the adapter's gate (in-flight limit, circuit breaker); a job the gate
// refuses is released unattempted (db::ReleaseClaim) to be claimed after the probe interval, and
// the claim loop claims nothing while the breaker refuses.
//
// On Stop the claim loop stops claiming; jobs claimed but not yet started are released
// unattempted; calls in flight finish (bounded by the adapter deadline) and are recorded, with
// database retries bounded by config.shutdown_timeout from the Stop.
class Worker {
 public:
  Worker(const WorkerConfig& config, core::Registry& registry);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void RunClaimLoop();
  // A dispatcher thread (see above); returns once the claim loop has ended and the queue is empty.
  void RunSlot();
  // Records finished attempts in batches until the claim loop has ended and every job this
  // worker held is recorded, released or abandoned.
  void RunRecorder();
  void Stop();

  // The adapter's gate, for the metrics sampler and tests.
  AdapterGate& gate() { return gate_; }

 private:
  struct Claimed {
    db::ClaimedJob job;
    std::chrono::steady_clock::time_point lease_end;  // by this process's clock, conservative
  };

  // Blocks until a slot is free or the worker stops; the number of free slots (0 when stopping).
  int WaitForFreeSlots();
  // Sleeps up to `duration`, returning early on Stop.
  void SleepUnlessStopping(std::chrono::milliseconds duration);
  // Runs one attempt; true when it was handed to the recorder (which ends the job's hold), false
  // when the job was released or abandoned here.
  bool HandleJob(const Claimed& claimed, std::unique_ptr<pqxx::connection>& connection,
                 std::mt19937_64& random);
  // Metrics and the log line of an attempt the recorder recorded (or found its lease lost).
  void AfterRecord(const Claimed& claimed, const AttemptPlan& plan, bool recorded);
  // Ends `count` holds: frees room for claims and lets the recorder notice the end.
  void EndHolds(int count);
  // Runs `operation` on a connection, reconnecting and retrying with backoff after a database
  // error until `give_up_at`; false when it never succeeded.
  template <typename Operation>
  bool WithDatabase(std::unique_ptr<pqxx::connection>& connection,
                    std::chrono::steady_clock::time_point give_up_at, const char* what,
                    std::int64_t job_id, Operation&& operation);

  // Gives a claimed job back unattempted (breaker open or stopping); logs when it cannot.
  void Release(const Claimed& claimed, std::unique_ptr<pqxx::connection>& connection,
               std::chrono::milliseconds delay, const char* reason);
  // The latest time a slot keeps retrying a database step of `claimed`.
  std::chrono::steady_clock::time_point GiveUpAt(const Claimed& claimed);
  // The latest time a slot keeps retrying the record of an attempt: the lease, or the shutdown
  // bound once stopping.
  std::chrono::steady_clock::time_point RecordUntil(const Claimed& claimed);

  const WorkerConfig config_;
  AdapterClient client_;
  JobExecutor executor_;
  AdapterGate gate_;
  WorkerMetrics metrics_;
  std::chrono::steady_clock::time_point stop_deadline_ =
      std::chrono::steady_clock::time_point::max();  // guarded by mutex_

  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable jobs_ready_;  // a job was queued, or the claim loop ended
  std::condition_variable slot_freed_;  // a slot finished a job, or Stop was called
  std::deque<Claimed> queue_;           // claimed, not yet picked up; bounded by free slots
  struct PendingRecord {
    Claimed claimed;
    AttemptPlan plan;
  };
  std::deque<PendingRecord> records_;   // attempts waiting for the recorder; bounded by busy_
  std::condition_variable records_ready_;
  int busy_ = 0;                        // jobs held: queued, in a call, or waiting to be recorded
  bool claim_loop_done_ = false;
};

}  // namespace payorch::worker
