#include "services/worker/worker_metrics.hpp"

namespace payorch::worker {
namespace {

constexpr const char* kResolutionsHelp = "GetPaymentStatus lookups for jobs claimed in doubt";
constexpr const char* kParkedHelp = "Claimed jobs given back without an attempt";
constexpr const char* kReloadsHelp = "SIGHUP reloads of the adapters file, by result";

}  // namespace

WorkerMetrics::WorkerMetrics(core::Registry& registry)
    : rescues(registry.GetCounter("payorch_worker_rescues_total",
                                  "Jobs claimed after their previous worker's lease expired")),
      lease_lost(registry.GetCounter("payorch_worker_lease_lost_total",
                                     "Attempts discarded because a newer claim owns the job")),
      unrouted(registry.GetCounter("payorch_worker_unrouted_total",
                                   "Jobs made dead because no route or default adapter matched")),
      reloads_ok(registry.GetCounter("payorch_worker_config_reloads_total", kReloadsHelp,
                                     {{"result", "ok"}})),
      reloads_error(registry.GetCounter("payorch_worker_config_reloads_total", kReloadsHelp,
                                        {{"result", "error"}})),
      oldest_in_doubt(registry.GetGauge("payorch_worker_oldest_in_doubt_seconds",
                                        "Age of the job longest in doubt (0 when none is)")),
      queue_lag(registry.GetGauge("payorch_worker_queue_lag_seconds",
                                  "Age of the oldest due job (0 when none is due)")),
      registry_(registry) {}

void WorkerMetrics::JobFinished(const std::string& state, const std::string& outcome) {
  // Getting a series takes the registry's lock; there are only a handful of (state, outcome).
  registry_
      .GetCounter("payorch_worker_jobs_finished_total", "Jobs this worker moved to a final state",
                  {{"state", state}, {"outcome", outcome}})
      .Increment();
}

AdapterMetrics::AdapterMetrics(core::Registry& registry, const std::string& adapter)
    : retries(registry.GetCounter("payorch_worker_retries_total",
                                  "Attempts that ended in a retry with backoff",
                                  {{"adapter", adapter}})),
      in_doubt_found(registry.GetCounter("payorch_worker_in_doubt_resolutions_total",
                                         kResolutionsHelp,
                                         {{"adapter", adapter}, {"result", "found"}})),
      in_doubt_not_found(registry.GetCounter("payorch_worker_in_doubt_resolutions_total",
                                             kResolutionsHelp,
                                             {{"adapter", adapter}, {"result", "not_found"}})),
      in_doubt_failed(registry.GetCounter("payorch_worker_in_doubt_resolutions_total",
                                          kResolutionsHelp,
                                          {{"adapter", adapter}, {"result", "failed"}})),
      parked_breaker(registry.GetCounter("payorch_worker_parked_total", kParkedHelp,
                                         {{"adapter", adapter}, {"reason", "breaker_open"}})),
      parked_shutdown(registry.GetCounter("payorch_worker_parked_total", kParkedHelp,
                                          {{"adapter", adapter}, {"reason", "shutdown"}})),
      parked_busy(registry.GetCounter("payorch_worker_parked_total", kParkedHelp,
                                      {{"adapter", adapter}, {"reason", "adapter_busy"}})),
      breaker_state(registry.GetGauge("payorch_worker_breaker_state",
                                      "Circuit breaker of the adapter: 0 closed, 1 open, 2 half-open",
                                      {{"adapter", adapter}})),
      breaker_open(registry.GetGauge("payorch_worker_breaker_open",
                                     "1 while the adapter's circuit breaker refuses calls",
                                     {{"adapter", adapter}})),
      in_flight(registry.GetGauge("payorch_worker_adapter_in_flight",
                                  "Calls to the adapter in flight", {{"adapter", adapter}})),
      registry_(registry),
      adapter_(adapter),
      attempt_seconds_(registry.GetHistogram("payorch_worker_attempt_duration_seconds",
                                             "Duration of an attempt's adapter calls",
                                             {{"adapter", adapter}})) {}

void AdapterMetrics::SetBreakerState(int state) {
  breaker_state.Set(state);
  breaker_open.Set(state == 0 ? 0 : 1);
}

void AdapterMetrics::AttemptRecorded(const std::string& decision, double seconds) {
  registry_
      .GetCounter("payorch_worker_attempts_total", "Attempts recorded, by decision",
                  {{"adapter", adapter_}, {"decision", decision}})
      .Increment();
  attempt_seconds_.Observe(seconds);
}

}  // namespace payorch::worker
