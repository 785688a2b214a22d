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

// The worker: one claim loop hands claimed jobs to a bounded number of slots, each of which runs
// one job at a time (call the adapter, record the attempt). The caller owns the threads: it runs
// RunClaimLoop on one thread and RunSlot on config.concurrency threads, calls Stop from anywhere,
// and joins them. Every thread that touches PostgreSQL has its own connection, reconnecting with
// backoff after a failure, so a database outage slows the worker down but never stops it.
//
// Claims are bounded by the free slots: the worker never holds a lease on a job it is not about
// to run. Every call passes the adapter's gate (in-flight limit, circuit breaker); a job the gate
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
  void RunSlot();
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
  void HandleJob(const Claimed& claimed, std::unique_ptr<pqxx::connection>& connection,
                 std::mt19937_64& random);
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
  int busy_ = 0;                        // jobs queued or running
  bool claim_loop_done_ = false;
};

}  // namespace payorch::worker
