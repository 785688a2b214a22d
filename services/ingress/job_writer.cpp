#include "services/ingress/job_writer.hpp"

#include <utility>

#include <spdlog/spdlog.h>

#include "db/database.hpp"
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
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued was written
      // Whatever arrived while the previous batch was committing forms the next one: under load
      // batches grow by themselves, an idle server commits a lone request at once.
      while (!queue_.empty() && batch.size() < batch_max) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    WriteBatch(batch);
    batch.clear();
  }
}

void JobWriter::WriteBatch(std::vector<Pending>& batch) {
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
    try {
      inserted = db::StoreIntakeBatch(Connection(), jobs, ignored);
      stored = true;
    } catch (const db::DatabaseError& e) {
      spdlog::warn("intake batch not stored jobs={} ignored={} in_doubt={} error=\"{}\"",
                   jobs.size(), ignored.size(), e.in_doubt(), e.what());
      DropConnection(e);
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
  AnswerProbes(probes);
}

void JobWriter::AnswerProbes(std::vector<Pending>& probes) {
  if (probes.empty()) return;
  StoreOutcome outcome;
  try {
    auto& connection = Connection();
    db::Ping(connection);
    outcome.kind = db::Migrator(connection).IsCurrent() ? StoreOutcome::Kind::kReady
                                                         : StoreOutcome::Kind::kNotReady;
  } catch (const db::DatabaseError& e) {
    DropConnection(e);
    outcome.kind = StoreOutcome::Kind::kUnavailable;
  }
  for (auto& probe : probes) probe.done(outcome);
}

pqxx::connection& JobWriter::Connection() {
  if (connection_ && connection_->is_open()) return *connection_;
  connection_.reset();
  auto connection = db::Connect(options_.database_url);
  db::SetStatementTimeout(*connection, static_cast<int>(options_.statement_timeout.count()));
  connection_ = std::move(connection);
  if (database_down_logged_) {
    spdlog::info("database reachable again url={}",
                 core::RedactDatabaseUrl(options_.database_url));
    database_down_logged_ = false;
  }
  return *connection_;
}

void JobWriter::DropConnection(const std::exception& error) {
  // A connection that saw an error may be broken or mid-transaction: start afresh next batch.
  connection_.reset();
  if (!database_down_logged_) {
    spdlog::error("database unavailable, answering 503 until it returns error=\"{}\"",
                  error.what());
    database_down_logged_ = true;
  }
}

}  // namespace payorch::ingress
