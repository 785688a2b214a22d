#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "gateways/sandbox/latency.hpp"
#include "grpc/health/v1/health.grpc.pb.h"

namespace payorch::gateways::sandbox {

// Where health checks wait out HealthState's delay before answering. A wait ends early when the
// client has gone (its deadline passed or it cancelled) or when the server stops, so that
// shutdown never waits for a scripted delay. (The health service is synchronous: it is not hot,
// and a slow health check holds one of the sync server's threads. PaymentGateway's delays do not
// wait here: see AnswerScheduler.)
class DelayGate {
 public:
  // Waits up to `delay`; polls the call's cancellation every kPollInterval (gRPC's sync API has
  // no cancellation callback).
  void Wait(std::chrono::milliseconds delay, grpc::ServerContext& context);
  // Ends every current and future wait.
  void Open();

 private:
  static constexpr std::chrono::milliseconds kPollInterval{20};
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

// What the sandbox's health service answers, changeable while it runs (SandboxControl.SetHealth,
// SIGUSR1 in the binary), so that a rehearsal can make the adapter look down or slow to the
// worker's and the orchestrator's probes. Thread-safe.
class HealthState {
 public:
  static constexpr std::chrono::milliseconds kMaxDelay = kMaxLatency;

  HealthState(bool serving, std::chrono::milliseconds delay) { Set(serving, delay); }

  bool serving() const { return serving_.load(); }
  std::chrono::milliseconds delay() const { return std::chrono::milliseconds(delay_ms_.load()); }
  // `delay` is capped at kMaxDelay.
  void Set(bool serving, std::chrono::milliseconds delay);
  // Flips SERVING / NOT_SERVING; the new state.
  bool ToggleServing();

 private:
  std::atomic<bool> serving_{true};
  std::atomic<long long> delay_ms_{0};
};

// grpc.health.v1.Health/Check for the whole server ("") and for
// "payorch.gateway.v1.PaymentGateway": SERVING or NOT_SERVING as HealthState says, answered after
// HealthState's delay (which ends early when the caller gives up or the server stops). Other
// service names: NOT_FOUND, as gRPC's own health service answers. Watch is not served
// (UNIMPLEMENTED): payorch's worker and `payorch-admin adapter check` use Check, as do
// grpc_health_probe and Kubernetes' gRPC probes.
class HealthServiceImpl final : public grpc::health::v1::Health::Service {
 public:
  HealthServiceImpl(const HealthState& state, DelayGate& delays)
      : state_(state), delays_(delays) {}

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;

 private:
  const HealthState& state_;
  DelayGate& delays_;
};

}  // namespace payorch::gateways::sandbox
