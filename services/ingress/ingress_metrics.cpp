#include "services/ingress/ingress_metrics.hpp"

#include <string>

namespace payorch::ingress {

namespace {

constexpr const char* kRequests = "payorch_ingress_requests_total";
constexpr const char* kRequestsHelp = "HTTP requests answered, by route and status";

std::vector<double> BatchBuckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
}

}  // namespace

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kWebhook: return "webhook";
    case Route::kHealthz: return "healthz";
    case Route::kReadyz: return "readyz";
    case Route::kMetrics: return "metrics";
    case Route::kOther: return "other";
    case Route::kNone: return "none";
  }
  return "none";
}

IngressMetrics::IngressMetrics(core::Registry& registry)
    : registry_(registry),
      batch_sizes_(registry.GetHistogram("payorch_ingress_commit_batch_size",
                                         "items written by one group commit", {},
                                         BatchBuckets())),
      commit_seconds_(registry.GetHistogram("payorch_ingress_commit_duration_seconds",
                                            "time of one group commit (insert and commit)")),
      commits_ok_(registry.GetCounter("payorch_ingress_commits_total",
                                      "group commits, by result", {{"result", "committed"}})),
      commits_failed_(registry.GetCounter("payorch_ingress_commits_total",
                                          "group commits, by result", {{"result", "failed"}})),
      queue_depth_(registry.GetGauge("payorch_ingress_queue_depth",
                                     "items waiting for a database writer")) {
  for (std::size_t route = 0; route < kRoutes; ++route) {
    latency_[route] = &registry.GetHistogram(
        "payorch_ingress_request_duration_seconds",
        "time from a complete request to its answer, by route",
        {{"route", std::string(RouteName(static_cast<Route>(route)))}});
  }
}

void IngressMetrics::CountRequest(Route route, int status, double seconds) {
  const auto route_index = static_cast<std::size_t>(route);
  latency_[route_index]->Observe(seconds);
  std::size_t status_index = kStatuses.size();
  for (std::size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) {
      status_index = i;
      break;
    }
  }
  const core::Labels labels = {{"route", std::string(RouteName(route))},
                               {"status", std::to_string(status)}};
  if (status_index == kStatuses.size()) {  // a status we do not expect: slow path, still counted
    registry_.GetCounter(kRequests, kRequestsHelp, labels).Increment();
    return;
  }
  auto& slot = requests_[route_index][status_index];
  core::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // The registry returns the same series to racing threads; storing it twice is harmless.
    counter = &registry_.GetCounter(kRequests, kRequestsHelp, labels);
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
}

void IngressMetrics::CountReject(std::string_view reason) {
  registry_
      .GetCounter("payorch_ingress_rejects_total", "requests refused with a 4xx, by reason",
                  {{"reason", std::string(reason)}})
      .Increment();
}

void IngressMetrics::CountAuthFailure(std::string_view reason) {
  registry_
      .GetCounter("payorch_ingress_auth_failures_total",
                  "webhooks refused by authentication (401/403), by reason",
                  {{"reason", std::string(reason)}})
      .Increment();
}

void IngressMetrics::ObserveCommit(std::size_t size, double seconds, bool committed) {
  batch_sizes_.Observe(static_cast<double>(size));
  commit_seconds_.Observe(seconds);
  (committed ? commits_ok_ : commits_failed_).Increment();
}

void IngressMetrics::SetQueueDepth(std::size_t depth) {
  queue_depth_.Set(static_cast<double>(depth));
}

}  // namespace payorch::ingress
