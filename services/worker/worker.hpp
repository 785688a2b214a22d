#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>

#include "db/job_queue.hpp"
#include "services/cleeng/cleeng_client.hpp"
#include "services/cleeng/flows.hpp"
#include "services/core/metrics.hpp"
#include "services/worker/adapter_pool.hpp"
#include "services/worker/config.hpp"
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
// Claims are bounded by `concurrency` jobs held at once (queued for a slot, waiting for its
// adapter, in a call, or waiting for the recorder): the worker never holds a lease on a job it is
// not about to run.
//
// Routing: when a dispatcher takes a job, the current routing table (EffectiveAdapters, replaced
// by Reload) picks its adapter from the job's payment_gateway and payment_method_id; a job that
// routes nowhere is dead without a call, its last_error naming the missing route. Every call
// passes its adapter's gate: a refusing breaker releases the job unattempted (db::ReleaseClaim)
// to be claimed after the probe interval; an adapter at its in-flight limit keeps the job waiting
// (no thread waits) until one of its calls ends, or, when too many already wait for it, releases
// it for a moment. Jobs of other adapters go on meanwhile: the claim loop never stops for one
// adapter.
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
  // A Cleeng flow thread (only with config.cleeng.enabled; main runs
  // config.cleeng_flow_threads of them): runs the flows dispatchers queue, each blocking this
  // thread for its Cleeng and adapter calls, and hands each attempt to the recorder. Returns
  // once the claim loop has ended and no job is held.
  void RunFlowThread();
  void Stop();

  // Replaces the routing table: jobs dispatched from now on use `adapters`; calls in flight end
  // on the runtime they started with. Adapters whose address and TLS did not change keep their
  // channel and gate. The error (nothing changed) when a channel cannot be made.
  std::optional<std::string> Reload(const AdaptersConfig& adapters);
  // Counts a reload that failed before Reload (the file did not validate).
  void CountRejectedReload();

  // The gate of a configured adapter (nullptr when there is none by that name), for tests.
  std::shared_ptr<AdapterGate> Gate(const std::string& adapter);

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
  // Hands an attempt to the recorder (`runtime` null for a job that routed nowhere).
  void QueueRecord(const Claimed& claimed, AttemptPlan plan,
                   std::shared_ptr<AdapterRuntime> runtime);
  // The current routing table.
  std::shared_ptr<const RoutingTable> Table();
  struct PendingRecord;
  // A job whose Cleeng flow is to run, with the adapter (and gate slot) it was admitted to.
  struct FlowTask {
    Claimed claimed;
    std::shared_ptr<AdapterRuntime> runtime;
  };
  // Runs one attempt of a flow on the calling flow thread and hands it to the recorder (or ends
  // its hold when the lease was lost).
  void RunFlowJob(const FlowTask& task, std::unique_ptr<pqxx::connection>& connection,
                  std::mt19937_64& random);
  // The flow's adapter call, blocking, bounded by the adapter's deadline; a job claimed in doubt
  // first asks GetPaymentStatus for its key (`status_lookup` says how that ended).
  cleeng::AdapterReply CallAdapter(AdapterRuntime& runtime, const db::ClaimedJob& job,
                                   const core::CleengEvent& event,
                                   const cleeng::AdapterRequest& request,
                                   std::string& status_lookup);
  // Metrics and the log line of an attempt the recorder recorded (or found its lease lost).
  void AfterRecord(const PendingRecord& pending, bool recorded);
  // Ends `count` holds: frees room for claims and lets the recorder notice the end.
  void EndHolds(int count);
  // A new database connection with the statement timeout set and the statements prepared.
  // Throws db::DatabaseError.
  std::unique_ptr<pqxx::connection> ConnectDatabase();
  // Runs `operation` on a connection, reconnecting and retrying with backoff after a database
  // error until `give_up_at`; false when it never succeeded.
  template <typename Operation>
  bool WithDatabase(std::unique_ptr<pqxx::connection>& connection,
                    std::chrono::steady_clock::time_point give_up_at, const char* what,
                    std::int64_t job_id, Operation&& operation);

  // Gives a claimed job back unattempted (breaker open or stopping); logs when it cannot.
  void Release(const Claimed& claimed, std::unique_ptr<pqxx::connection>& connection,
               std::chrono::milliseconds delay, const char* reason, AdapterRuntime* runtime);
  // The latest time a slot keeps retrying a database step of `claimed`.
  std::chrono::steady_clock::time_point GiveUpAt(const Claimed& claimed);
  // The latest time a slot keeps retrying the record of an attempt: the lease, or the shutdown
  // bound once stopping.
  std::chrono::steady_clock::time_point RecordUntil(const Claimed& claimed);

  const WorkerConfig config_;
  core::Registry& registry_;
  WorkerMetrics metrics_;
  std::mutex table_mutex_;                     // guards table_ (the pointer, not the table)
  std::shared_ptr<const RoutingTable> table_;  // immutable once published
  std::mutex reload_mutex_;                    // one Reload at a time
  std::chrono::steady_clock::time_point stop_deadline_ =
      std::chrono::steady_clock::time_point::max();  // guarded by mutex_

  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable jobs_ready_;  // a job was queued, or the claim loop ended
  std::condition_variable slot_freed_;  // a slot finished a job, or Stop was called
  std::deque<Claimed> queue_;           // claimed, not yet picked up; bounded by free slots
  int waiting_ = 0;                     // jobs waiting in a full adapter's gate (part of busy_)
  struct PendingRecord {
    Claimed claimed;
    AttemptPlan plan;
    std::shared_ptr<AdapterRuntime> runtime;  // null: the job routed nowhere
  };
  // Cleeng reporting: the client (thread-safe, shared by the flow threads), null when off, and
  // the flows waiting for a flow thread (bounded by busy_, hence by config.concurrency).
  std::unique_ptr<cleeng::CleengClient> cleeng_;
  std::deque<FlowTask> flows_;
  std::condition_variable flows_ready_;  // a flow was queued, or a hold ended, or Stop
  std::deque<PendingRecord> records_;   // attempts waiting for the recorder; bounded by busy_
  std::condition_variable records_ready_;
  int busy_ = 0;                        // jobs held: queued, in a call, or waiting to be recorded
  bool claim_loop_done_ = false;
};

}  // namespace payorch::worker
