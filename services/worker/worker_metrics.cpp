#include "services/worker/worker_metrics.hpp"

namespace payorch::worker {

WorkerMetrics::WorkerMetrics(core::Registry& registry, const std::string& adapter)
    : retries(registry.GetCounter("payorch_worker_retries_total",
                                  "Attempts that ended in a retry with backoff",
                                  {{"adapter", adapter}})),
      rescues(registry.GetCounter("payorch_worker_rescues_total",
                                  "Jobs claimed after their previous worker's lease expired")),
      in_doubt_found(registry.GetCounter("payorch_worker_in_doubt_resolutions_total",
                                         "GetPaymentStatus lookups for jobs claimed in doubt",
                                         {{"adapter", adapter}, {"result", "found"}})),
      in_doubt_not_found(registry.GetCounter("payorch_worker_in_doubt_resolutions_total",
                                             "GetPaymentStatus lookups for jobs claimed in doubt",
                                             {{"adapter", adapter}, {"result", "not_found"}})),
      in_doubt_failed(registry.GetCounter("payorch_worker_in_doubt_resolutions_total",
                                          "GetPaymentStatus lookups for jobs claimed in doubt",
                                          {{"adapter", adapter}, {"result", "failed"}})),
      parked_breaker(registry.GetCounter("payorch_worker_parked_total",
                                         "Claimed jobs given back without an attempt",
                                         {{"adapter", adapter}, {"reason", "breaker_open"}})),
      parked_shutdown(registry.GetCounter("payorch_worker_parked_total",
                                          "Claimed jobs given back without an attempt",
                                          {{"adapter", adapter}, {"reason", "shutdown"}})),
      lease_lost(registry.GetCounter("payorch_worker_lease_lost_total",
                                     "Attempts discarded because a newer claim owns the job")),
      breaker_state(registry.GetGauge("payorch_worker_breaker_state",
                                      "Circuit breaker of the adapter: 0 closed, 1 open, 2 half-open",
                                      {{"adapter", adapter}})),
      breaker_open(registry.GetGauge("payorch_worker_breaker_open",
                                     "1 while the adapter's circuit breaker refuses calls",
                                     {{"adapter", adapter}})),
      oldest_in_doubt(registry.GetGauge("payorch_worker_oldest_in_doubt_seconds",
                                        "Age of the job longest in doubt (0 when none is)")),
      in_flight(registry.GetGauge("payorch_worker_adapter_in_flight",
                                  "Calls to the adapter in flight", {{"adapter", adapter}})),
      queue_lag(registry.GetGauge("payorch_worker_queue_lag_seconds",
                                  "Age of the oldest due job (0 when none is due)")),
      registry_(registry),
      adapter_(adapter),
      attempt_seconds_(registry.GetHistogram("payorch_worker_attempt_duration_seconds",
                                             "Duration of an attempt's adapter calls",
                                             {{"adapter", adapter}})) {}

void WorkerMetrics::SetBreakerState(int state) {
  breaker_state.Set(state);
  breaker_open.Set(state == 0 ? 0 : 1);
}

void WorkerMetrics::JobFinished(const std::string& state, const std::string& outcome) {
  // Getting a series takes the registry's lock; there are only a handful of (state, outcome).
  registry_
      .GetCounter("payorch_worker_jobs_finished_total", "Jobs this worker moved to a final state",
                  {{"state", state}, {"outcome", outcome}})
      .Increment();
}

void WorkerMetrics::AttemptRecorded(const std::string& decision, double seconds) {
  registry_
      .GetCounter("payorch_worker_attempts_total", "Attempts recorded, by decision",
                  {{"adapter", adapter_}, {"decision", decision}})
      .Increment();
  attempt_seconds_.Observe(seconds);
}

}  // namespace payorch::worker
