#pragma once

#include <string>

#include "services/core/metrics.hpp"

namespace payorch::worker {

// The worker's metrics (names documented in services/worker/README.md), resolved once from the
// registry main owns; updates are lock-free. One adapter per worker process, so the per-adapter
// series carry its name as the `adapter` label.
class WorkerMetrics {
 public:
  WorkerMetrics(core::Registry& registry, const std::string& adapter);

  // A job reached a final state: succeeded (outcome approved/declined) or dead (outcome none).
  void JobFinished(const std::string& state, const std::string& outcome);
  // One recorded attempt, its decision (succeeded, retry, in_doubt, dead) and duration.
  void AttemptRecorded(const std::string& decision, double seconds);

  core::Counter& retries;            // attempts that scheduled a retry
  core::Counter& rescues;            // claims of jobs whose lease had expired
  core::Counter& in_doubt_found;     // GetPaymentStatus resolutions by outcome
  core::Counter& in_doubt_not_found;
  core::Counter& in_doubt_failed;
  core::Counter& parked_breaker;     // jobs given back unattempted: breaker open
  core::Counter& parked_shutdown;    // jobs given back unattempted: worker stopping
  core::Counter& lease_lost;         // attempts discarded because the fence no longer matched
  // 0 closed, 1 open, 2 half-open; and breaker_open: 1 while it refuses calls (open or
  // half-open), for simple alert rules.
  void SetBreakerState(int state);
  core::Gauge& breaker_state;
  core::Gauge& breaker_open;
  core::Gauge& oldest_in_doubt;      // seconds since the job longest in doubt became so
  core::Gauge& in_flight;            // calls to the adapter in flight
  core::Gauge& queue_lag;            // seconds since the oldest due job became due

 private:
  core::Registry& registry_;
  std::string adapter_;
  core::Histogram& attempt_seconds_;
};

}  // namespace payorch::worker
