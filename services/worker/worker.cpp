#include "services/worker/worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "db/database.hpp"

namespace payorch::worker {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kReconnectInitial{100};
constexpr milliseconds kReconnectMax{5000};
// How long a slot keeps retrying a failed database step of one job (the authorisation lookup, the
// attempt record); never past the job's lease, after which another worker rescues it anyway.
constexpr milliseconds kJobDatabaseRetryBudget{10000};
// Most attempts recorded in one transaction.
constexpr std::size_t kRecordBatch = 512;
// The claim loop wakes at least this often while waiting, to notice Stop.
constexpr milliseconds kStopCheckInterval{100};
// How often the claim loop samples the queue lag (one cheap index probe).
constexpr milliseconds kQueueLagInterval{2000};

}  // namespace

Worker::Worker(const WorkerConfig& config, core::Registry& registry)
    : config_(config),
      client_(config.adapter_address, config.adapter_deadline),
      executor_(client_, config.adapter_name, config.worker_id, config.retry),
      gate_(config.adapter_max_in_flight > 0 ? config.adapter_max_in_flight : config.concurrency,
            config.breaker),
      metrics_(registry, config.adapter_name) {}

void Worker::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) stop_deadline_ = steady_clock::now() + config_.shutdown_timeout;
    stopping_ = true;
  }
  slot_freed_.notify_all();
  jobs_ready_.notify_all();
  records_ready_.notify_all();
}

void Worker::EndHolds(int count) {
  {
    std::lock_guard lock(mutex_);
    busy_ -= count;
  }
  slot_freed_.notify_all();
  records_ready_.notify_all();
}

void Worker::SleepUnlessStopping(milliseconds duration) {
  std::unique_lock lock(mutex_);
  slot_freed_.wait_for(lock, duration, [&] { return stopping_.load(); });
}

int Worker::WaitForFreeSlots() {
  std::unique_lock lock(mutex_);
  slot_freed_.wait(lock, [&] { return stopping_ || busy_ < config_.concurrency; });
  return stopping_ ? 0 : config_.concurrency - busy_;
}

void Worker::RunClaimLoop() {
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<db::JobWakeups> wakeups;
  milliseconds reconnect_delay = kReconnectInitial;
  auto next_lag_sample = steady_clock::now();
  auto drop_connection = [&] {
    wakeups.reset();  // before its connection
    connection.reset();
  };

  while (!stopping_) {
    if (!connection) {
      try {
        connection = db::Connect(config_.database_url);
        db::PrepareJobQueueStatements(*connection);
        wakeups = std::make_unique<db::JobWakeups>(*connection);
        spdlog::info("claim loop connected worker_id={}", config_.worker_id);
      } catch (const db::DatabaseError& e) {
        spdlog::warn("claim loop cannot reach the database retry_in_ms={} error=\"{}\"",
                     reconnect_delay.count(), e.what());
        drop_connection();
        SleepUnlessStopping(reconnect_delay);
        reconnect_delay = std::min(reconnect_delay * 2, kReconnectMax);
        continue;
      }
    }

    if (steady_clock::now() >= next_lag_sample) {
      next_lag_sample = steady_clock::now() + kQueueLagInterval;
      try {
        metrics_.queue_lag.Set(db::OldestDueJobAgeSeconds(*connection));
        metrics_.oldest_in_doubt.Set(db::OldestInDoubtJobAgeSeconds(*connection));
      } catch (const db::DatabaseError& e) {
        // Only a metric: a broken connection shows in the claim below, which reconnects.
        spdlog::warn("queue lag sample failed error=\"{}\"", e.what());
      }
    }
    metrics_.SetBreakerState(static_cast<int>(gate_.state()));

    // An adapter whose breaker refuses calls gets no claims: they would only be parked again.
    const milliseconds refusing = gate_.TimeUntilAdmission();
    if (refusing.count() > 0) {
      SleepUnlessStopping(std::min(refusing, kStopCheckInterval));
      continue;
    }

    const int free_slots = WaitForFreeSlots();
    if (free_slots == 0) break;
    const int wanted = std::min(free_slots, config_.claim_batch);
    std::vector<db::ClaimedJob> jobs;
    try {
      jobs = db::ClaimDueJobs(*connection, config_.worker_id, config_.lease, wanted);
    } catch (const db::DatabaseError& e) {
      // A claim whose commit is in doubt may have claimed jobs: their leases expire and any
      // worker rescues them as in doubt, so nothing is lost.
      spdlog::warn("claim failed retry_in_ms={} error=\"{}\"", reconnect_delay.count(),
                   e.what());
      drop_connection();
      SleepUnlessStopping(reconnect_delay);
      reconnect_delay = std::min(reconnect_delay * 2, kReconnectMax);
      continue;
    }
    reconnect_delay = kReconnectInitial;  // the database answers again
    const auto claimed_at = steady_clock::now();
    if (!jobs.empty()) {
      {
        std::lock_guard lock(mutex_);
        for (auto& job : jobs) {
          if (job.lease_expired) {
            metrics_.rescues.Increment();
            spdlog::warn("rescued job with expired lease job_id={} attempt={} adapter={}", job.id,
                         job.attempt, config_.adapter_name);
          }
          queue_.push_back(Claimed{std::move(job), claimed_at + config_.lease});
          ++busy_;
        }
      }
      jobs_ready_.notify_all();
    }
    if (static_cast<int>(jobs.size()) == wanted) continue;  // there may be more due right now

    // Nothing more is due: wait for a NOTIFY, or the poll interval (jobs whose run_after passes
    // raise no notification), in short steps so that Stop is noticed.
    try {
      const auto poll_until = steady_clock::now() + config_.poll_interval;
      while (!stopping_) {
        const auto left =
            std::chrono::duration_cast<milliseconds>(poll_until - steady_clock::now());
        if (left.count() <= 0) break;
        if (wakeups->Await(std::min(left, kStopCheckInterval))) break;
      }
    } catch (const db::DatabaseError& e) {
      spdlog::warn("listen connection failed error=\"{}\"", e.what());
      drop_connection();
    }
  }

  drop_connection();
  {
    std::lock_guard lock(mutex_);
    claim_loop_done_ = true;
  }
  jobs_ready_.notify_all();
  records_ready_.notify_all();
  spdlog::info("claim loop stopped worker_id={}", config_.worker_id);
}

void Worker::RunSlot() {
  // A dispatcher: it does a job's database lookups and starts its call, then takes the next job
  // (the call goes on without it). Each dispatcher has its own connection (libpqxx connections
  // are not shared between threads) and its own jitter source.
  std::unique_ptr<pqxx::connection> connection;
  std::mt19937_64 random(std::random_device{}());
  while (true) {
    Claimed claimed;
    {
      std::unique_lock lock(mutex_);
      // Leave only once the claim loop has ended and every claimed job has been taken: a job
      // claimed just before Stop must still run, or it would sit leased until rescued.
      jobs_ready_.wait(lock, [&] { return !queue_.empty() || claim_loop_done_; });
      if (queue_.empty()) break;
      claimed = std::move(queue_.front());
      queue_.pop_front();
    }
    bool handed_to_recorder = false;
    if (stopping_) {
      // Not started yet: give it back rather than start a call during shutdown.
      Release(claimed, connection, milliseconds(0), "shutdown");
    } else {
      handed_to_recorder = HandleJob(claimed, connection, random);
    }
    if (!handed_to_recorder) EndHolds(1);
  }
}

void Worker::RunRecorder() {
  // Its own connection; one transaction per batch, so the commit cost is shared by every attempt
  // that finished while the previous batch was being written.
  std::unique_ptr<pqxx::connection> connection;
  std::vector<PendingRecord> batch;
  std::vector<db::AttemptToRecord> rows;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      records_ready_.wait(lock, [&] {
        return !records_.empty() || (claim_loop_done_ && busy_ == 0);
      });
      if (records_.empty()) break;
      batch.clear();
      while (!records_.empty() && batch.size() < kRecordBatch) {
        batch.push_back(std::move(records_.front()));
        records_.pop_front();
      }
    }
    rows.clear();
    auto record_until = steady_clock::time_point::max();
    for (const auto& pending : batch) {
      rows.push_back(db::AttemptToRecord{pending.plan.record, pending.plan.transition});
      record_until = std::min(record_until, RecordUntil(pending.claimed));
    }
    std::vector<bool> recorded;
    const bool reached = WithDatabase(connection, record_until, "record attempts",
                                      batch.front().claimed.job.id, [&](pqxx::connection& c) {
                                        recorded = db::RecordAttempts(c, rows);
                                      });
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& pending = batch[i];
      if (!reached) {
        const auto& record = pending.plan.record;
        spdlog::error(
            "attempt not recorded job_id={} attempt={} adapter={} rpc={} grpc_status={} "
            "decision={} (the lease will expire and the job be rescued as in doubt)",
            record.job_id, record.attempt, record.adapter, record.rpc, record.grpc_status,
            record.decision);
        continue;
      }
      AfterRecord(pending.claimed, pending.plan, recorded[i]);
    }
    EndHolds(static_cast<int>(batch.size()));
  }
  spdlog::info("recorder stopped worker_id={}", config_.worker_id);
}

template <typename Operation>
bool Worker::WithDatabase(std::unique_ptr<pqxx::connection>& connection,
                          steady_clock::time_point give_up_at, const char* what,
                          std::int64_t job_id, Operation&& operation) {
  milliseconds delay = kReconnectInitial;
  while (true) {
    try {
      if (!connection) {
        connection = db::Connect(config_.database_url);
        db::PrepareJobQueueStatements(*connection);
      }
      operation(*connection);
      return true;
    } catch (const db::DatabaseError& e) {
      connection.reset();
      if (steady_clock::now() + delay >= give_up_at) {
        spdlog::error("{} failed, giving up job_id={} error=\"{}\"", what, job_id, e.what());
        return false;
      }
      spdlog::warn("{} failed, retrying job_id={} retry_in_ms={} error=\"{}\"", what, job_id,
                   delay.count(), e.what());
      // Not SleepUnlessStopping: the job is claimed and should still be recorded during shutdown.
      std::this_thread::sleep_for(delay);
      delay = std::min(delay * 2, kReconnectMax);
    }
  }
}

steady_clock::time_point Worker::GiveUpAt(const Claimed& claimed) {
  std::lock_guard lock(mutex_);
  return std::min({claimed.lease_end, steady_clock::now() + kJobDatabaseRetryBudget,
                   stop_deadline_});
}

steady_clock::time_point Worker::RecordUntil(const Claimed& claimed) {
  std::lock_guard lock(mutex_);
  return std::min(claimed.lease_end, stop_deadline_);
}

void Worker::Release(const Claimed& claimed, std::unique_ptr<pqxx::connection>& connection,
                     milliseconds delay, const char* reason) {
  const db::ClaimedJob& job = claimed.job;
  bool released = false;
  const bool reached = WithDatabase(connection, GiveUpAt(claimed), "release claim", job.id,
                                    [&](pqxx::connection& c) {
                                      released = db::ReleaseClaim(c, job, delay);
                                    });
  if (!reached || !released) {
    // Either way nothing is lost: the lease expires and the job is rescued (as in doubt).
    spdlog::warn("claim not released job_id={} attempt={} adapter={} reason={} lease_lost={}",
                 job.id, job.attempt, config_.adapter_name, reason, reached && !released);
    return;
  }
  (std::string_view(reason) == "shutdown" ? metrics_.parked_shutdown : metrics_.parked_breaker)
      .Increment();
  spdlog::info("job parked without an attempt job_id={} attempt={} adapter={} reason={} "
               "retry_in_ms={}",
               job.id, job.attempt, config_.adapter_name, reason, delay.count());
}

bool Worker::HandleJob(const Claimed& claimed, std::unique_ptr<pqxx::connection>& connection,
                       std::mt19937_64& random) {
  const db::ClaimedJob& job = claimed.job;
  const auto give_up_at = GiveUpAt(claimed);

  std::optional<std::string> authorization_reference;
  const auto topic = core::TopicFromName(job.topic);
  if (topic && *topic != core::Topic::kAuthorisation) {
    const bool found = WithDatabase(
        connection, give_up_at, "authorization reference lookup", job.id, [&](pqxx::connection& c) {
          authorization_reference =
              db::FindAuthorizationReference(c, job.broadcaster_id, job.subscription_id);
        });
    if (!found) {
      // No call without the reference it needs; the lease expires and the job is rescued.
      spdlog::error("job abandoned before the call job_id={} attempt={} adapter={}", job.id,
                    job.attempt, config_.adapter_name);
      return false;
    }
  }

  // The adapter's limits: wait for an in-flight slot; a refusing breaker parks the job unattempted.
  const auto admission = gate_.Acquire();
  metrics_.SetBreakerState(static_cast<int>(gate_.state()));
  if (!admission.allowed) {
    Release(claimed, connection, admission.retry_after, "breaker_open");
    return false;
  }
  metrics_.in_flight.Add(1);
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  // The call runs without this thread: its end (on a gRPC thread) tells the gate and hands the
  // attempt to the recorder, which ends the job's hold.
  executor_.Execute(job, authorization_reference, jitter(random), [this, claimed](AttemptPlan plan) {
    metrics_.in_flight.Add(-1);
    if (plan.called) {
      gate_.Release(plan.last_code);
    } else {
      gate_.ReleaseWithoutCall();  // a job dead before any call tells the breaker nothing
    }
    metrics_.SetBreakerState(static_cast<int>(gate_.state()));
    if (plan.status_lookup == "found") metrics_.in_doubt_found.Increment();
    if (plan.status_lookup == "not_found") metrics_.in_doubt_not_found.Increment();
    if (plan.status_lookup == "failed") metrics_.in_doubt_failed.Increment();
    // Notified under the lock: once it is released this callback no longer touches the worker,
    // which may then finish and be destroyed.
    std::lock_guard lock(mutex_);
    records_.push_back(PendingRecord{claimed, std::move(plan)});
    records_ready_.notify_one();
  });
  return true;
}

void Worker::AfterRecord(const Claimed& claimed, const AttemptPlan& plan, bool recorded) {
  const db::ClaimedJob& job = claimed.job;
  const auto& record = plan.record;
  if (!recorded) {
    metrics_.lease_lost.Increment();
    spdlog::warn(
        "lease lost, attempt discarded job_id={} attempt={} fence={} adapter={} rpc={} "
        "grpc_status={} decision={}",
        job.id, job.attempt, job.fence, record.adapter, record.rpc, record.grpc_status,
        record.decision);
    return;
  }
  const auto duration =
      std::chrono::duration_cast<milliseconds>(record.finished_at - record.started_at);
  metrics_.AttemptRecorded(record.decision,
                           std::chrono::duration<double>(record.finished_at - record.started_at)
                               .count());
  switch (plan.transition.kind) {
    case db::JobTransition::Kind::kSucceeded:
      metrics_.JobFinished("succeeded", plan.transition.outcome);
      break;
    case db::JobTransition::Kind::kDead: metrics_.JobFinished("dead", "none"); break;
    case db::JobTransition::Kind::kRetry: metrics_.retries.Increment(); break;
    case db::JobTransition::Kind::kInDoubt: break;
  }
  spdlog::info(
      "attempt job_id={} attempt={} adapter={} rpc={} grpc_status={} gateway_status={} "
      "decision={} delay_ms={} duration_ms={}{}{}",
      job.id, job.attempt, record.adapter, record.rpc, record.grpc_status,
      record.gateway_status.value_or("-"), record.decision, plan.decision.delay.count(),
      duration.count(), plan.decision.reason.empty() ? "" : " reason=",
      plan.decision.reason.empty() ? "" : "\"" + plan.decision.reason + "\"");
}

}  // namespace payorch::worker
