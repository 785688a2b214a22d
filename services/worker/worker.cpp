#include "services/worker/worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <stdexcept>
#include <thread>

#include "db/database.hpp"
#include "db/job_intake.hpp"
#include "db/job_steps.hpp"
#include "services/worker/flow_attempt.hpp"

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
// A job whose adapter is at its in-flight limit while too many jobs already wait for it is given
// back for this long, so that one slow adapter cannot hold every slot of the worker.
constexpr milliseconds kAdapterBusyDelay{200};
// The adapter recorded on the attempt of a job that routed nowhere.
constexpr const char* kNoAdapter = "none";
// Beyond the adapter's deadline, how long a flow thread waits for gRPC to report the call's end
// (gRPC always does, at the deadline at the latest).
constexpr milliseconds kAdapterWaitMargin{1000};
// A flow goes on to its next step only while its lease outlasts that step's bound (a Cleeng call
// or the adapter's deadline) by this much; else it stops and the next attempt resumes.
constexpr milliseconds kFlowStepMargin{1000};

}  // namespace

Worker::Worker(const WorkerConfig& config, core::Registry& registry)
    : config_(config), registry_(registry), metrics_(registry) {
  auto table = BuildRoutingTable(EffectiveAdapters(config), nullptr, config.concurrency,
                                 config.worker_id, registry);
  // Validation read every TLS file already; this fails only if one vanished since.
  if (!table.ok()) throw std::runtime_error(table.error());
  table_ = table.value();
  // Validated by ParseConfig; the token stays inside the client.
  if (config.cleeng.enabled) cleeng_ = std::make_unique<cleeng::CleengClient>(config.cleeng);
}

std::shared_ptr<const RoutingTable> Worker::Table() {
  std::lock_guard lock(table_mutex_);
  return table_;
}

std::shared_ptr<AdapterGate> Worker::Gate(const std::string& adapter) {
  const auto table = Table();
  const auto found = table->adapters.find(adapter);
  return found == table->adapters.end() ? nullptr : found->second->gate;
}

void Worker::CountRejectedReload() { metrics_.reloads_error.Increment(); }

std::optional<std::string> Worker::Reload(const AdaptersConfig& adapters) {
  std::lock_guard reload_lock(reload_mutex_);
  const auto previous = Table();
  auto table = BuildRoutingTable(adapters, previous.get(), config_.concurrency, config_.worker_id,
                                 registry_);
  if (!table.ok()) {
    metrics_.reloads_error.Increment();
    return table.error();
  }
  {
    std::lock_guard lock(table_mutex_);
    table_ = table.value();
  }
  metrics_.reloads_ok.Increment();
  for (const auto& [name, runtime] : table.value()->adapters) {
    const auto old = previous->adapters.find(name);
    const char* change = old == previous->adapters.end()                ? "added"
                         : old->second->channel == runtime->channel ? "kept_connection"
                                                                        : "new_connection";
    spdlog::info("adapter configured adapter={} address={} tls={} deadline_ms={} max_in_flight={} "
                 "max_attempts={} change={}",
                 name, runtime->settings.address, runtime->settings.tls.enabled,
                 runtime->settings.deadline.count(), runtime->settings.max_in_flight,
                 runtime->settings.retry.max_attempts, change);
  }
  for (const auto& [name, runtime] : previous->adapters) {
    if (table.value()->adapters.count(name) == 0) {
      spdlog::info("adapter removed adapter={} (its calls in flight finish)", name);
    }
  }
  return std::nullopt;
}

void Worker::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) stop_deadline_ = steady_clock::now() + config_.shutdown_timeout;
    stopping_ = true;
  }
  slot_freed_.notify_all();
  jobs_ready_.notify_all();
  records_ready_.notify_all();
  flows_ready_.notify_all();
}

void Worker::EndHolds(int count) {
  {
    std::lock_guard lock(mutex_);
    busy_ -= count;
  }
  slot_freed_.notify_all();
  records_ready_.notify_all();
  flows_ready_.notify_all();
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
        connection = ConnectDatabase();
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
    // Breakers move from open to half-open by time alone: show it without waiting for a call.
    // A refusing breaker does not stop claims: jobs of other adapters must go on, and a job of
    // the refusing one is released unattempted by its dispatcher.
    for (const auto& [name, runtime] : Table()->adapters) {
      runtime->metrics.SetBreakerState(static_cast<int>(runtime->gate->state()));
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
            spdlog::warn("rescued job with expired lease job_id={} attempt={}", job.id,
                         job.attempt);
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
  flows_ready_.notify_all();
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
      // Jobs waiting in a full adapter's gate come back to the queue when one of its calls ends.
      jobs_ready_.wait(lock,
                       [&] { return !queue_.empty() || (claim_loop_done_ && waiting_ == 0); });
      if (queue_.empty()) break;
      claimed = std::move(queue_.front());
      queue_.pop_front();
    }
    bool handed_to_recorder = false;
    if (stopping_) {
      // Not started yet: give it back rather than start a call during shutdown.
      std::string no_route;
      const auto runtime =
          Table()->Route(claimed.job.payment_gateway, claimed.job.payment_method_id, no_route);
      Release(claimed, connection, milliseconds(0), "shutdown", runtime.get());
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
      AfterRecord(pending, recorded[i]);
    }
    EndHolds(static_cast<int>(batch.size()));
  }
  spdlog::info("recorder stopped worker_id={}", config_.worker_id);
}

std::unique_ptr<pqxx::connection> Worker::ConnectDatabase() {
  auto connection = db::Connect(config_.database_url);
  db::SetStatementTimeout(*connection, static_cast<int>(config_.statement_timeout.count()));
  db::UseGenericPlans(*connection);
  db::PrepareJobQueueStatements(*connection);
  if (cleeng_) db::PrepareJobStepStatements(*connection);
  return connection;
}

template <typename Operation>
bool Worker::WithDatabase(std::unique_ptr<pqxx::connection>& connection,
                          steady_clock::time_point give_up_at, const char* what,
                          std::int64_t job_id, Operation&& operation) {
  milliseconds delay = kReconnectInitial;
  while (true) {
    try {
      if (!connection) connection = ConnectDatabase();
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
                     milliseconds delay, const char* reason, AdapterRuntime* runtime) {
  const db::ClaimedJob& job = claimed.job;
  bool released = false;
  const bool reached = WithDatabase(connection, GiveUpAt(claimed), "release claim", job.id,
                                    [&](pqxx::connection& c) {
                                      released = db::ReleaseClaim(c, job, delay);
                                    });
  if (!reached || !released) {
    // Either way nothing is lost: the lease expires and the job is rescued (as in doubt).
    spdlog::warn("claim not released job_id={} attempt={} adapter={} reason={} lease_lost={}",
                 job.id, job.attempt, runtime ? runtime->settings.name : "-", reason,
                 reached && !released);
    return;
  }
  if (runtime != nullptr) {
    const std::string_view why(reason);
    (why == "breaker_open" ? runtime->metrics.parked_breaker
     : why == "shutdown"   ? runtime->metrics.parked_shutdown
                           : runtime->metrics.parked_busy)
        .Increment();
  }
  spdlog::info("job parked without an attempt job_id={} attempt={} adapter={} reason={} "
               "retry_in_ms={}",
               job.id, job.attempt, runtime ? runtime->settings.name : "-", reason,
               delay.count());
}

bool Worker::HandleJob(const Claimed& claimed, std::unique_ptr<pqxx::connection>& connection,
                       std::mt19937_64& random) {
  const db::ClaimedJob& job = claimed.job;

  // Routed now, with the table of this moment: a reload applies to every job dispatched after it.
  std::string no_route;
  std::shared_ptr<AdapterRuntime> runtime =
      Table()->Route(job.payment_gateway, job.payment_method_id, no_route);
  if (!runtime) {
    // Dead without a call; an operator fixes the file, reloads, and replays the job.
    QueueRecord(claimed, DeadWithoutCall(job, config_.worker_id, kNoAdapter, no_route), nullptr);
    return true;
  }
  const std::string& adapter = runtime->settings.name;

  std::optional<std::string> authorization_reference;
  const auto topic = core::TopicFromName(job.topic);
  // With Cleeng reporting every topic payorch acts on runs its flow, which finds the open
  // authorisation in job_steps itself.
  const bool flow = cleeng_ != nullptr && topic.has_value();
  if (topic && *topic != core::Topic::kAuthorisation && !flow) {
    const bool found = WithDatabase(
        connection, GiveUpAt(claimed), "authorization reference lookup", job.id,
        [&](pqxx::connection& c) {
          authorization_reference =
              db::FindAuthorizationReference(c, job.broadcaster_id, job.subscription_id);
        });
    if (!found) {
      // No call without the reference it needs; the lease expires and the job is rescued.
      spdlog::error("job abandoned before the call job_id={} attempt={} adapter={}", job.id,
                    job.attempt, adapter);
      return false;
    }
  }

  // The adapter's limits. Too many jobs already waiting for it: give this one back for a moment
  // (an adapter may hold its in-flight limit plus an equal share of the slots).
  const int most_waiting =
      std::max(runtime->settings.max_in_flight,
               config_.concurrency / static_cast<int>(Table()->adapters.size()));
  if (runtime->gate->waiting() >= most_waiting) {
    Release(claimed, connection, kAdapterBusyDelay, "adapter_busy", runtime.get());
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    ++waiting_;  // before TryAcquire: the wake-up may run before it returns
  }
  const auto entry = runtime->gate->TryAcquire([this, claimed] {
    // Room at the adapter (a call ended): the job goes back to the front of the queue and is
    // routed again (a reload may have moved it meanwhile).
    {
      std::lock_guard lock(mutex_);
      --waiting_;
      queue_.push_front(claimed);
    }
    jobs_ready_.notify_one();
  });
  if (entry.kind != AdapterGate::Entry::Kind::kFull) {
    std::lock_guard lock(mutex_);
    --waiting_;
  }
  runtime->metrics.SetBreakerState(static_cast<int>(runtime->gate->state()));
  switch (entry.kind) {
    case AdapterGate::Entry::Kind::kFull: return true;  // still held, by the gate's wake-up
    case AdapterGate::Entry::Kind::kRefused:
      Release(claimed, connection, entry.retry_after, "breaker_open", runtime.get());
      return false;
    case AdapterGate::Entry::Kind::kAdmitted: break;
  }

  runtime->metrics.in_flight.Add(1);
  if (flow) {
    // Blocking work (Cleeng calls): a flow thread runs it; the hold goes on until recorded.
    {
      std::lock_guard lock(mutex_);
      flows_.push_back(FlowTask{claimed, std::move(runtime)});
    }
    flows_ready_.notify_one();
    return true;
  }
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  AdapterRuntime& used = *runtime;
  // The call runs without this thread: its end (on a gRPC thread) tells the gate and hands the
  // attempt to the recorder, which ends the job's hold. The callback owns the runtime until then,
  // so a reload meanwhile cannot take the client or gate from under the call.
  used.executor.Execute(
      job, authorization_reference, jitter(random),
      [this, claimed, runtime = std::move(runtime)](AttemptPlan plan) mutable {
        runtime->metrics.in_flight.Add(-1);
        if (plan.called) {
          runtime->gate->Release(plan.last_code);
        } else {
          runtime->gate->ReleaseWithoutCall();  // a job dead before any call tells the breaker nothing
        }
        runtime->metrics.SetBreakerState(static_cast<int>(runtime->gate->state()));
        if (plan.status_lookup == "found") runtime->metrics.in_doubt_found.Increment();
        if (plan.status_lookup == "not_found") runtime->metrics.in_doubt_not_found.Increment();
        if (plan.status_lookup == "failed") runtime->metrics.in_doubt_failed.Increment();
        QueueRecord(claimed, std::move(plan), std::move(runtime));
      });
  return true;
}

void Worker::RunFlowThread() {
  std::unique_ptr<pqxx::connection> connection;
  std::mt19937_64 random(std::random_device{}());
  while (true) {
    FlowTask task;
    {
      std::unique_lock lock(mutex_);
      // Every job that may still become a flow is held (busy_), so once none is held after the
      // claim loop ended, none will come.
      flows_ready_.wait(lock, [&] { return !flows_.empty() || (claim_loop_done_ && busy_ == 0); });
      if (flows_.empty()) break;
      task = std::move(flows_.front());
      flows_.pop_front();
    }
    if (stopping_) {
      // Not started: give it back with its gate slot, as a dispatcher does.
      task.runtime->metrics.in_flight.Add(-1);
      task.runtime->gate->ReleaseWithoutCall();
      Release(task.claimed, connection, milliseconds(0), "shutdown", task.runtime.get());
      EndHolds(1);
      continue;
    }
    RunFlowJob(task, connection, random);
  }
  spdlog::info("cleeng flow thread stopped worker_id={}", config_.worker_id);
}

cleeng::AdapterReply Worker::CallAdapter(AdapterRuntime& runtime, const db::ClaimedJob& job,
                                         const core::CleengEvent& event,
                                         const cleeng::AdapterRequest& request,
                                         std::string& status_lookup) {
  const auto wait = [&](const std::function<void(AdapterClient::Done)>& start) {
    auto promise = std::make_shared<std::promise<CallResult>>();
    auto future = promise->get_future();
    start([promise](CallResult call) { promise->set_value(std::move(call)); });
    if (future.wait_for(runtime.settings.deadline + kAdapterWaitMargin) !=
        std::future_status::ready) {
      CallResult late;
      late.code = grpc::StatusCode::DEADLINE_EXCEEDED;
      late.message = "the adapter call did not end within its deadline";
      return late;
    }
    return future.get();
  };
  const auto reply_of = [](const CallResult& call) {
    cleeng::AdapterReply reply;
    reply.code = call.code;
    reply.message = call.message;
    reply.result = call.result;
    return reply;
  };

  if (job.was_in_doubt && status_lookup.empty()) {
    const CallResult status = wait([&](AdapterClient::Done done) {
      runtime.client.GetPaymentStatus(job.idempotency_key, std::move(done));
    });
    if (status.code != grpc::StatusCode::OK || status.found) {
      status_lookup = status.code == grpc::StatusCode::OK ? "found" : "failed";
      return reply_of(status);
    }
    status_lookup = "not_found";  // nothing happened under the key: call it again
  }

  const CallResult call = wait([&](AdapterClient::Done done) {
    switch (request.rpc) {
      case cleeng::AdapterRpc::kAuthorize: {
        gateway_v1::AuthorizeRequest proto;
        FillMeta(proto.mutable_meta(), job);
        *proto.mutable_event() = BuildSubscriptionEvent(event, job.raw_event);
        if (request.amount) *proto.mutable_amount() = *request.amount;
        runtime.client.Authorize(std::move(proto), std::move(done));
        return;
      }
      case cleeng::AdapterRpc::kCapture: {
        gateway_v1::CaptureRequest proto;
        FillMeta(proto.mutable_meta(), job);
        *proto.mutable_event() = BuildSubscriptionEvent(event, job.raw_event);
        if (request.amount) *proto.mutable_amount() = *request.amount;
        proto.set_authorization_reference(request.authorization_reference);
        runtime.client.Capture(std::move(proto), std::move(done));
        return;
      }
      case cleeng::AdapterRpc::kTerminate: {
        gateway_v1::TerminateRequest proto;
        FillMeta(proto.mutable_meta(), job);
        *proto.mutable_event() = BuildSubscriptionEvent(event, job.raw_event);
        proto.set_authorization_reference(request.authorization_reference);
        runtime.client.Terminate(std::move(proto), std::move(done));
        return;
      }
    }
  });
  return reply_of(call);
}

void Worker::RunFlowJob(const FlowTask& task, std::unique_ptr<pqxx::connection>& connection,
                        std::mt19937_64& random) {
  const db::ClaimedJob& job = task.claimed.job;
  AdapterRuntime& runtime = *task.runtime;
  const auto started_at = std::chrono::system_clock::now();
  std::optional<grpc::StatusCode> adapter_code;
  std::string status_lookup;
  std::optional<AttemptPlan> plan;
  std::string kind = "dead_without_call";
  cleeng::FlowResult result;

  auto parsed = core::ParseWebhook(job.raw_event);
  if (!parsed.ok()) {
    plan = DeadWithoutCall(job, config_.worker_id, runtime.settings.name,
                           "stored event does not parse: " + parsed.error().code + ": " +
                               parsed.error().message);
  } else {
    const cleeng::FlowJob flow_job{job.id, job.fence, job.idempotency_key,
                                   std::move(parsed.value())};
    const cleeng::AdapterCall adapter = [&](const cleeng::AdapterRequest& request) {
      cleeng::AdapterReply reply = CallAdapter(runtime, job, flow_job.event, request,
                                               status_lookup);
      adapter_code = reply.code;
      return reply;
    };
    const milliseconds step_bound =
        std::max(config_.cleeng.max_call_time, runtime.settings.deadline) + kFlowStepMargin;
    cleeng::FlowHooks hooks;
    hooks.continue_after_step = [&](std::string_view) {
      return !stopping_ && steady_clock::now() + step_bound < task.claimed.lease_end;
    };
    const bool connected = WithDatabase(connection, GiveUpAt(task.claimed), "flow connection",
                                        job.id, [](pqxx::connection&) {});
    if (connected) {
      result = cleeng::RunFlow(*connection, *cleeng_, flow_job, adapter, hooks);
    } else {
      result.kind = cleeng::FlowResult::Kind::kDatabase;
      result.error = "the database is unreachable";
    }
    // The step that failed may have broken the connection: the next flow makes a new one.
    if (result.kind == cleeng::FlowResult::Kind::kDatabase) connection.reset();
    kind = std::string(cleeng::FlowResultKindName(result.kind));
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    plan = FlowAttemptPlan(job, result, adapter_code, config_.worker_id, runtime.settings.name,
                           runtime.settings.retry, jitter(random), started_at);
  }

  runtime.metrics.in_flight.Add(-1);
  if (adapter_code) {
    runtime.gate->Release(*adapter_code);
  } else {
    runtime.gate->ReleaseWithoutCall();
  }
  runtime.metrics.SetBreakerState(static_cast<int>(runtime.gate->state()));
  if (status_lookup == "found") runtime.metrics.in_doubt_found.Increment();
  if (status_lookup == "not_found") runtime.metrics.in_doubt_not_found.Increment();
  if (status_lookup == "failed") runtime.metrics.in_doubt_failed.Increment();
  registry_
      .GetCounter("payorch_cleeng_flow_results_total", "Attempts of Cleeng flows, by how they ended",
                  {{"kind", kind}})
      .Increment();
  spdlog::info("cleeng flow ended job_id={} attempt={} adapter={} kind={} last_step={}{}{}",
               job.id, job.attempt, runtime.settings.name, kind,
               result.last_step.empty() ? "-" : result.last_step,
               result.error.empty() ? "" : " error=",
               result.error.empty() ? "" : "\"" + result.error + "\"");
  if (!plan) {
    // Another claim owns the job now: it records; this attempt records nothing.
    metrics_.lease_lost.Increment();
    EndHolds(1);
    return;
  }
  plan->status_lookup = status_lookup;
  QueueRecord(task.claimed, std::move(*plan), task.runtime);
}

void Worker::QueueRecord(const Claimed& claimed, AttemptPlan plan,
                         std::shared_ptr<AdapterRuntime> runtime) {
  // Notified under the lock: once it is released the caller no longer touches the worker, which
  // may then finish and be destroyed.
  std::lock_guard lock(mutex_);
  records_.push_back(PendingRecord{claimed, std::move(plan), std::move(runtime)});
  records_ready_.notify_one();
}

void Worker::AfterRecord(const PendingRecord& pending, bool recorded) {
  const db::ClaimedJob& job = pending.claimed.job;
  const AttemptPlan& plan = pending.plan;
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
  if (pending.runtime) {
    pending.runtime->metrics.AttemptRecorded(
        record.decision,
        std::chrono::duration<double>(record.finished_at - record.started_at).count());
  } else {
    metrics_.unrouted.Increment();
  }
  switch (plan.transition.kind) {
    case db::JobTransition::Kind::kSucceeded:
      metrics_.JobFinished("succeeded", plan.transition.outcome);
      break;
    case db::JobTransition::Kind::kDead: metrics_.JobFinished("dead", "none"); break;
    case db::JobTransition::Kind::kRetry:
      if (pending.runtime) pending.runtime->metrics.retries.Increment();
      break;
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
