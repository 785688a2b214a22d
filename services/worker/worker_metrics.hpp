#pragma once

#include <string>

#include "services/core/metrics.hpp"

namespace payorch::worker {

// The worker's process-wide metrics (names documented in services/worker/README.md), resolved
// once from the registry main owns; updates are lock-free.
class WorkerMetrics {
 public:
  explicit WorkerMetrics(core::Registry& registry);

  // A job reached a final state: succeeded (outcome approved/declined) or dead (outcome none).
  void JobFinished(const std::string& state, const std::string& outcome);

  core::Counter& rescues;            // claims of jobs whose lease had expired
  core::Counter& lease_lost;         // attempts discarded because the fence no longer matched
  core::Counter& unrouted;           // jobs made dead because no route and no default matched
  core::Counter& reloads_ok;         // SIGHUP reloads of the adapters file, applied...
  core::Counter& reloads_error;      // ...or rejected (the running configuration stays)
  core::Gauge& oldest_in_doubt;      // seconds since the job longest in doubt became so
  core::Gauge& queue_lag;            // seconds since the oldest due job became due

 private:
  core::Registry& registry_;
};

// The series of one adapter (label adapter="name"). Made again for the same name on a reload,
// which resolves to the same series: counters go on.
class AdapterMetrics {
 public:
  AdapterMetrics(core::Registry& registry, const std::string& adapter);

  // One recorded attempt, its decision (succeeded, retry, in_doubt, dead) and duration.
  void AttemptRecorded(const std::string& decision, double seconds);
  // 0 closed, 1 open, 2 half-open; and breaker_open: 1 while it refuses calls (open or
  // half-open), for simple alert rules.
  void SetBreakerState(int state);

  core::Counter& retries;            // attempts that scheduled a retry
  core::Counter& in_doubt_found;     // GetPaymentStatus resolutions by outcome
  core::Counter& in_doubt_not_found;
  core::Counter& in_doubt_failed;
  core::Counter& parked_breaker;     // jobs given back unattempted: breaker open
  core::Counter& parked_shutdown;    // jobs given back unattempted: worker stopping
  core::Counter& parked_busy;        // jobs given back unattempted: adapter at its limit too long
  core::Gauge& breaker_state;
  core::Gauge& breaker_open;
  core::Gauge& in_flight;            // calls to the adapter in flight

 private:
  core::Registry& registry_;
  std::string adapter_;
  core::Histogram& attempt_seconds_;
};

}  // namespace payorch::worker
