#pragma once

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "services/ingress/ingress_metrics.hpp"
#include "services/ingress/job_store.hpp"

namespace payorch::ingress {

struct JobWriterOptions {
  std::string database_url;
  // Most items written in one transaction (group commit); 1 commits each request alone.
  std::size_t batch_max = 256;
  // Items waiting for the writer; beyond this Submit answers kOverloaded at once.
  std::size_t queue_capacity = 4096;
  // Bound on every statement, so a stalled server becomes a 503 instead of a hung request.
  std::chrono::milliseconds statement_timeout{5000};
  // Batch sizes, commit times and queue depth; null: not counted.
  IngressMetrics* metrics = nullptr;
};

// Makes intake durable in PostgreSQL. libpqxx blocks, so connections live on the threads that
// call Run() (main starts --writers of them), never on an Asio thread; each Run() has its own
// connection, so one batch can gather while another commits. Requests arrive through one
// bounded queue; a Run() takes up to batch_max of them at a time and writes them with one
// multi-row statement in one transaction (group commit), then completes each one. When the
// database fails, every item of the batch is completed kUnavailable and the connection is
// dropped; the next batch connects again, so the writer recovers by itself.
class JobWriter final : public JobStore {
 public:
  explicit JobWriter(JobWriterOptions options);
  ~JobWriter() override;
  JobWriter(const JobWriter&) = delete;
  JobWriter& operator=(const JobWriter&) = delete;

  // Thread-safe. After Stop() every item is refused with kUnavailable.
  void Submit(IntakeItem item, Completion done) override;

  // Writes batches until Stop() is called and the queue is empty. May run on several threads.
  void Run();
  // Thread-safe: Run() finishes what is queued, then returns.
  void Stop();

 private:
  struct Pending {
    IntakeItem item;
    Completion done;
  };

  // One Run()'s connection, touched by that thread only.
  using ConnectionSlot = std::unique_ptr<pqxx::connection>;

  // Stores and answers the batch; true when it held new jobs (stored or not).
  bool WriteBatch(ConnectionSlot& slot, std::vector<Pending>& batch);
  // Adds a partition to jobs when the ids of new jobs come near the last one's bound; a failure
  // is logged and tried again after the next batch (db::kJobPartitionRoom). Called after a
  // batch was answered and no longer counts as in flight, by one writer at a time: creating the
  // partition takes 10-50 ms, and its ATTACH can wait up to a second for the workers' locks on
  // the history tables, so the requests of that batch, and of the other writers' batches
  // meanwhile, must not wait for it. Half a partition of ids is left when it first runs.
  void MakeRoomForJobs(ConnectionSlot& slot);
  void AnswerProbes(ConnectionSlot& slot, std::vector<Pending>& probes);
  pqxx::connection& Connection(ConnectionSlot& slot);  // connects when needed; throws
  void DropConnection(ConnectionSlot& slot, const std::exception& error);

  const JobWriterOptions options_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;  // guarded by mutex_
  bool stopping_ = false;      // guarded by mutex_
  // Batches being written by other Run()s, and the size of the last one taken: a writer starts
  // a batch beside them only once it has as many items (see Run).
  std::size_t batches_in_flight_ = 0;  // guarded by mutex_
  std::size_t last_batch_size_ = 0;    // guarded by mutex_

  // The highest id given to a new job, and the bound below which jobs has a partition (0 until
  // the first batch asks the database).
  std::atomic<std::int64_t> highest_job_id_{0};
  std::atomic<std::int64_t> partition_bound_{0};
  std::atomic<bool> adding_partitions_{false};  // a writer is in MakeRoomForJobs

  // One log line when the database goes away and one when it returns, whatever the writers.
  std::atomic<bool> database_down_logged_{false};
};

}  // namespace payorch::ingress
