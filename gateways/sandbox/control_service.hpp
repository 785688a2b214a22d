#pragma once

#include <grpcpp/grpcpp.h>

#include "gateways/sandbox/health_service.hpp"
#include "gateways/sandbox/key_store.hpp"
#include "sandbox_control.grpc.pb.h"

namespace payorch::gateways::sandbox {

// payorch.sandbox.v1.SandboxControl: the test/rehearsal view of the KeyStore (how many calls and
// effects each key had), and the switch of the health service's answer. It never causes an
// effect.
class ControlServiceImpl final : public payorch::sandbox::v1::SandboxControl::Service {
 public:
  // ListEffects returns at most this many records per call.
  static constexpr int kMaxListedRecords = 10'000;

  ControlServiceImpl(const KeyStore& store, HealthState& health) : store_(store), health_(health) {}

  grpc::Status GetEffects(grpc::ServerContext* context,
                          const payorch::sandbox::v1::GetEffectsRequest* request,
                          payorch::sandbox::v1::GetEffectsResponse* response) override;
  grpc::Status ListEffects(grpc::ServerContext* context,
                           const payorch::sandbox::v1::ListEffectsRequest* request,
                           payorch::sandbox::v1::ListEffectsResponse* response) override;
  grpc::Status SetHealth(grpc::ServerContext* context,
                         const payorch::sandbox::v1::SetHealthRequest* request,
                         payorch::sandbox::v1::SetHealthResponse* response) override;

 private:
  const KeyStore& store_;
  HealthState& health_;
};

}  // namespace payorch::gateways::sandbox
