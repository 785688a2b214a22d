#include "gateways/sandbox/health_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace payorch::gateways::sandbox {

void DelayGate::Wait(std::chrono::milliseconds delay, grpc::ServerContext& context) {
  const auto deadline = std::chrono::steady_clock::now() + delay;
  std::unique_lock lock(mutex_);
  while (!open_ && !context.IsCancelled()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return;
    opened_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                                         kPollInterval));
  }
}

void DelayGate::Open() {
  {
    std::lock_guard lock(mutex_);
    open_ = true;
  }
  opened_.notify_all();
}

void HealthState::Set(bool serving, std::chrono::milliseconds delay) {
  serving_.store(serving);
  delay_ms_.store(std::clamp<long long>(delay.count(), 0, kMaxDelay.count()));
}

bool HealthState::ToggleServing() {
  bool before = serving_.load();
  while (!serving_.compare_exchange_weak(before, !before)) {
  }
  return !before;
}

grpc::Status HealthServiceImpl::Check(grpc::ServerContext* context,
                                      const grpc::health::v1::HealthCheckRequest* request,
                                      grpc::health::v1::HealthCheckResponse* response) {
  const std::string& service = request->service();
  if (!service.empty() && service != "payorch.gateway.v1.PaymentGateway") {
    return {grpc::StatusCode::NOT_FOUND, "unknown service"};
  }
  if (const auto delay = state_.delay(); delay.count() > 0) delays_.Wait(delay, *context);
  const bool serving = state_.serving();
  response->set_status(serving ? grpc::health::v1::HealthCheckResponse::SERVING
                               : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  spdlog::debug("msg=\"sandbox health\" service=\"{}\" status={}", service,
                serving ? "SERVING" : "NOT_SERVING");
  return grpc::Status::OK;
}

}  // namespace payorch::gateways::sandbox
