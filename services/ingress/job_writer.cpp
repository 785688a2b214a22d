#include "services/ingress/job_writer.hpp"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "db/database.hpp"
#include "db/job_intake.hpp"
#include "db/migrator.hpp"
#include "services/core/logging.hpp"

namespace payorch::ingress {

JobWriter::JobWriter(JobWriterOptions options) : options_(std::move(options)) {}

JobWriter::~JobWriter() {
  // Whatever Run() did not take (Run never started, or returned) is answered, not dropped: each
  // completion resumes a waiting request.
  std::deque<Pending> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& pending : left) pending.done(StoreOutcome{StoreOutcome::Kind::kUnavailable});
}

void JobWriter::Submit(IntakeItem item, Completion done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < options_.queue_capacity) {
      queue_.push_back(Pending{std::move(item), std::move(done)});
      if (options_.metrics != nullptr) options_.metrics->SetQueueDepth(queue_.size());
      wake_.notify_one();
      return;
    }
  }
  StoreOutcome outcome;
  outcome.kind = StoreOutcome::Kind::kOverloaded;
  done(outcome);
}

void JobWriter::Stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
}

void JobWriter::Run() {
  const std::size_t batch_max = std::max<std::size_t>(options_.batch_max, 1);
  std::vector<Pending> batch;
  batch.reserve(batch_max);
  ConnectionSlot connection;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Whatever arrived while the previous batch was committing forms the next one: under load
      // batches grow by themselves, an idle server commits a lone request at once. While another
      // writer's batch is in flight, a writer waits until it has as many items as the last batch
      // taken (or the others finish). Starting at once with the few that came in meanwhile would
      // halve the batches, and PostgreSQL spends about as much per statement and commit as on 13
      // rows (payorch-bench-database-cost --intake-batch 1, 4, 32, 128: README "Performance"), so
      // on a busy machine two small batches cost more than one large one; the second writer
      // still overlaps one batch's commit with the next one's statement.
      wake_.wait(lock, [this] {
        return stopping_ || (!queue_.empty() && (batches_in_flight_ == 0 ||
                                                 queue_.size() >= last_batch_size_));
      });
      if (queue_.empty()) return;  // stopping, and everything queued was written
      while (!queue_.empty() && batch.size() < batch_max) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++batches_in_flight_;
      last_batch_size_ = batch.size();
      if (options_.metrics != nullptr) options_.metrics->SetQueueDepth(queue_.size());
    }
    const bool had_jobs = WriteBatch(connection, batch);
    batch.clear();
    {
      std::lock_guard lock(mutex_);
      --batches_in_flight_;
    }
    wake_.notify_all();  // a writer waiting for a fuller batch may start now
    if (had_jobs) MakeRoomForJobs(connection);
  }
}

bool JobWriter::WriteBatch(ConnectionSlot& slot, std::vector<Pending>& batch) {
  std::vector<db::NewJob> jobs;
  std::vector<std::size_t> job_index;  // batch position of jobs[i]
  std::vector<db::IgnoredEvent> ignored;
  std::vector<std::size_t> ignored_index;
  std::vector<Pending> probes;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (auto* job = std::get_if<db::NewJob>(&batch[i].item)) {
      jobs.push_back(std::move(*job));
      job_index.push_back(i);
    } else if (auto* event = std::get_if<db::IgnoredEvent>(&batch[i].item)) {
      ignored.push_back(std::move(*event));
      ignored_index.push_back(i);
    } else {
      probes.push_back(std::move(batch[i]));
    }
  }

  if (!jobs.empty() || !ignored.empty()) {
    std::vector<db::InsertedJob> inserted;
    bool stored = false;
    const auto started = std::chrono::steady_clock::now();
    try {
      inserted = db::StoreIntakeBatch(Connection(slot), jobs, ignored);
      stored = true;
      std::int64_t batch_highest = 0;
      for (const auto& job : inserted) batch_highest = std::max(batch_highest, job.job_id);
      auto highest = highest_job_id_.load();
      while (batch_highest > highest &&
             !highest_job_id_.compare_exchange_weak(highest, batch_highest)) {
      }
    } catch (const db::DatabaseError& e) {
      spdlog::warn("intake batch not stored jobs={} ignored={} in_doubt={} error=\"{}\"",
                   jobs.size(), ignored.size(), e.in_doubt(), e.what());
      DropConnection(slot, e);
    }
    if (options_.metrics != nullptr) {
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
      options_.metrics->ObserveCommit(jobs.size() + ignored.size(), elapsed.count(), stored);
    }
    if (stored) {
      spdlog::debug("intake batch committed jobs={} ignored={}", jobs.size(), ignored.size());
    }
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      StoreOutcome outcome;
      if (stored) {
        outcome.kind = StoreOutcome::Kind::kStored;
        outcome.job_id = inserted[i].job_id;
        outcome.duplicate = inserted[i].duplicate;
      }
      batch[job_index[i]].done(outcome);
    }
    for (std::size_t i = 0; i < ignored.size(); ++i) {
      StoreOutcome outcome;
      if (stored) outcome.kind = StoreOutcome::Kind::kStored;
      batch[ignored_index[i]].done(outcome);
    }
  }
  AnswerProbes(slot, probes);
  return !jobs.empty();
}

void JobWriter::MakeRoomForJobs(ConnectionSlot& slot) {
  if (highest_job_id_.load() + db::kJobPartitionRoom < partition_bound_.load()) return;
  if (adding_partitions_.exchange(true)) return;  // another writer is at it
  try {
    const auto bound = db::AddJobPartitions(Connection(slot));
    if (partition_bound_.exchange(bound) != bound) {
      spdlog::info("jobs has partitions for ids below {} (highest stored {})", bound,
                   highest_job_id_.load());
    }
  } catch (const db::DatabaseError& e) {
    // Half a partition of ids is still free (db::kJobPartitionRoom): the next batch tries again.
    // While the database is away, the batches' own errors say so.
    if (!database_down_logged_.load()) {
      spdlog::warn("could not add a partition to jobs, trying again after the next batch "
                   "error=\"{}\"", e.what());
    }
  }
  adding_partitions_ = false;
}

void JobWriter::AnswerProbes(ConnectionSlot& slot, std::vector<Pending>& probes) {
  if (probes.empty()) return;
  StoreOutcome outcome;
  try {
    auto& connection = Connection(slot);
    db::Ping(connection);
    outcome.kind = db::Migrator(connection).IsCurrent() ? StoreOutcome::Kind::kReady
                                                         : StoreOutcome::Kind::kNotReady;
  } catch (const db::DatabaseError& e) {
    DropConnection(slot, e);
    outcome.kind = StoreOutcome::Kind::kUnavailable;
  }
  for (auto& probe : probes) probe.done(outcome);
}

pqxx::connection& JobWriter::Connection(ConnectionSlot& slot) {
  if (slot && slot->is_open()) return *slot;
  slot.reset();
  auto connection = db::Connect(options_.database_url);
  db::SetStatementTimeout(*connection, static_cast<int>(options_.statement_timeout.count()));
  slot = std::move(connection);
  if (database_down_logged_.exchange(false)) {
    spdlog::info("database reachable again url={}",
                 core::RedactDatabaseUrl(options_.database_url));
  }
  return *slot;
}

void JobWriter::DropConnection(ConnectionSlot& slot, const std::exception& error) {
  // A connection that saw an error may be broken or mid-transaction: start afresh next batch.
  slot.reset();
  if (!database_down_logged_.exchange(true)) {
    spdlog::error("database unavailable, answering 503 until it returns error=\"{}\"",
                  error.what());
  }
}

}  // namespace payorch::ingress
