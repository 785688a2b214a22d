#pragma once

#include <map>
#include <memory>
#include <string>

#include "services/core/metrics.hpp"
#include "services/core/result.hpp"
#include "services/worker/adapter_client.hpp"
#include "services/worker/adapters_config.hpp"
#include "services/worker/circuit_breaker.hpp"
#include "services/worker/job_executor.hpp"
#include "services/worker/worker_metrics.hpp"

namespace payorch::worker {

// One adapter as one configuration generation uses it. Shared: the routing table holds it, and
// so does every call started through it, so a call in flight when a reload replaces the table
// finishes (and is recorded) with the client, retry policy and gate it started with.
struct AdapterRuntime {
  AdapterRuntime(AdapterSettings settings_in, std::shared_ptr<grpc::Channel> channel_in,
                 std::shared_ptr<AdapterGate> gate_in, const std::string& worker_id,
                 core::Registry& registry);

  const AdapterSettings settings;  // max_in_flight resolved (never 0)
  // Kept across reloads while the address and TLS stay the same (SameConnection).
  const std::shared_ptr<grpc::Channel> channel;
  const std::shared_ptr<AdapterGate> gate;
  AdapterClient client;
  JobExecutor executor;
  AdapterMetrics metrics;
};

// A configuration generation: the routes, and a runtime per adapter.
struct RoutingTable {
  AdaptersConfig config;
  std::map<std::string, std::shared_ptr<AdapterRuntime>> adapters;

  // The runtime a job goes to, or nullptr with `reason` naming the missing route.
  std::shared_ptr<AdapterRuntime> Route(const std::optional<std::string>& payment_gateway,
                                        const std::optional<std::string>& payment_method_id,
                                        std::string& reason) const;
};

// Builds the runtimes of `config`. An adapter of `previous` with the same name and connection
// (SameConnection) lends its channel and its gate (whose limits are set to the new ones); every
// other adapter gets a new channel (TLS per its settings) and a new gate. `default_max_in_flight`
// replaces an unset max_in_flight. Fails when a channel cannot be made (a TLS file unreadable).
core::Result<std::shared_ptr<const RoutingTable>, std::string> BuildRoutingTable(
    const AdaptersConfig& config, const RoutingTable* previous, int default_max_in_flight,
    const std::string& worker_id, core::Registry& registry);

}  // namespace payorch::worker
