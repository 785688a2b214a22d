#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>

#include "db/job_queue.hpp"
#include "services/worker/adapter_client.hpp"
#include "services/worker/config.hpp"
#include "services/worker/job_executor.hpp"

namespace payorch::worker {

// The worker: one claim loop hands claimed jobs to a bounded number of slots, each of which runs
// one job at a time (call the adapter, record the attempt). The caller owns the threads: it runs
// RunClaimLoop on one thread and RunSlot on config.concurrency threads, calls Stop from anywhere,
// and joins them. Every thread that touches PostgreSQL has its own connection, reconnecting with
// backoff after a failure, so a database outage slows the worker down but never stops it.
//
// Claims are bounded by the free slots: the worker never holds a lease on a job it is not about
// to run. On Stop the claim loop stops claiming, and the slots finish every job already claimed
// (each call bounded by the adapter deadline), record it, and return.
class Worker {
 public:
  explicit Worker(const WorkerConfig& config);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void RunClaimLoop();
  void RunSlot();
  void Stop();

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

  const WorkerConfig config_;
  AdapterClient client_;
  JobExecutor executor_;

  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable jobs_ready_;  // a job was queued, or the claim loop ended
  std::condition_variable slot_freed_;  // a slot finished a job, or Stop was called
  std::deque<Claimed> queue_;           // claimed, not yet picked up; bounded by free slots
  int busy_ = 0;                        // jobs queued or running
  bool claim_loop_done_ = false;
};

}  // namespace payorch::worker
