#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <string_view>

#include "services/core/metrics.hpp"

namespace payorch::ingress {

// The routes the ingress serves, as metric labels (never the raw target: a URL token is a secret
// and targets are unbounded).
enum class Route { kWebhook, kHealthz, kReadyz, kMetrics, kOther, kNone };
std::string_view RouteName(Route route);

// Every metric of the ingress (names payorch_ingress_*; see services/ingress/README.md), on the
// Registry main creates. Series are created on first use and then kept, so the hot path
// (a request counted, a latency observed) takes no lock after warm-up. Thread-safe.
class IngressMetrics {
 public:
  explicit IngressMetrics(core::Registry& registry);

  // One answered request.
  void CountRequest(Route route, int status, double seconds);
  // A request answered 4xx, by its error code (malformed_json, payload_too_large, ...).
  void CountReject(std::string_view reason);
  // A request refused by authentication, by verdict (bad_signature, ...).
  void CountAuthFailure(std::string_view reason);
  // A group commit of `size` items that took `seconds`, committed or not.
  void ObserveCommit(std::size_t size, double seconds, bool committed);
  void SetQueueDepth(std::size_t depth);

  core::Registry& registry() { return registry_; }

 private:
  static constexpr std::size_t kRoutes = 6;
  static constexpr std::array<int, 16> kStatuses = {200, 400, 401, 403, 404, 405, 408, 411,
                                                    413, 415, 422, 431, 500, 503, 100, 0};

  core::Registry& registry_;
  std::array<std::array<std::atomic<core::Counter*>, kStatuses.size()>, kRoutes> requests_{};
  std::array<core::Histogram*, kRoutes> latency_{};
  core::Histogram& batch_sizes_;
  core::Histogram& commit_seconds_;
  core::Counter& commits_ok_;
  core::Counter& commits_failed_;
  core::Gauge& queue_depth_;
};

}  // namespace payorch::ingress
