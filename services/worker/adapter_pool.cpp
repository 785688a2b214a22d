#include "services/worker/adapter_pool.hpp"

#include <utility>
#include <vector>

namespace payorch::worker {

AdapterRuntime::AdapterRuntime(AdapterSettings settings_in,
                               std::shared_ptr<grpc::Channel> channel_in,
                               std::shared_ptr<AdapterGate> gate_in, const std::string& worker_id,
                               core::Registry& registry)
    : settings(std::move(settings_in)),
      channel(std::move(channel_in)),
      gate(std::move(gate_in)),
      client(channel, settings.deadline),
      executor(client, settings.name, worker_id, settings.retry),
      metrics(registry, settings.name) {}

std::shared_ptr<AdapterRuntime> RoutingTable::Route(
    const std::optional<std::string>& payment_gateway,
    const std::optional<std::string>& payment_method_id, std::string& reason) const {
  const RouteChoice choice = ChooseAdapter(config, payment_gateway, payment_method_id);
  if (!choice.adapter) {
    reason = choice.reason;
    return nullptr;
  }
  return adapters.at(*choice.adapter);  // validation guarantees every routed name exists
}

core::Result<std::shared_ptr<const RoutingTable>, std::string> BuildRoutingTable(
    const AdaptersConfig& config, const RoutingTable* previous, int default_max_in_flight,
    const std::string& worker_id, core::Registry& registry) {
  auto table = std::make_shared<RoutingTable>();
  table->config = config;
  // Limits of kept gates change only once the whole table is built: a failed build (a reload
  // rejected) leaves the running adapters exactly as they were.
  std::vector<std::pair<std::shared_ptr<AdapterGate>, AdapterSettings>> kept;
  for (const auto& [name, configured] : config.adapters) {
    AdapterSettings settings = configured;
    if (settings.max_in_flight <= 0) settings.max_in_flight = default_max_in_flight;
    std::shared_ptr<grpc::Channel> channel;
    std::shared_ptr<AdapterGate> gate;
    if (previous != nullptr) {
      const auto old = previous->adapters.find(name);
      if (old != previous->adapters.end() && SameConnection(old->second->settings, settings)) {
        channel = old->second->channel;
        gate = old->second->gate;
        kept.emplace_back(gate, settings);
      }
    }
    if (!channel) {
      auto made = MakeAdapterChannel(settings.address, settings.tls);
      if (!made.ok()) return "adapter " + name + ": " + made.error();
      channel = made.value();
      gate = std::make_shared<AdapterGate>(settings.max_in_flight, settings.breaker);
    }
    table->adapters.emplace(name, std::make_shared<AdapterRuntime>(std::move(settings), channel,
                                                                   gate, worker_id, registry));
  }
  for (const auto& [gate, settings] : kept) gate->SetLimits(settings.max_in_flight, settings.breaker);
  return std::shared_ptr<const RoutingTable>(std::move(table));
}

}  // namespace payorch::worker
