#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "payorch/gateway/v1/gateway.grpc.pb.h"

namespace payorch::worker {

namespace gateway_v1 = ::payorch::gateway::v1;

// How one unary call ended: the gRPC status, and the adapter's answer when the status is OK.
struct CallResult {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  gateway_v1::PaymentResult result;  // meaningful when code == OK
  bool found = true;                 // GetPaymentStatus only: false when the key is unknown
};

// A thin, synchronous client of one adapter (the PaymentGateway service of the contract). Every
// call carries the configured deadline. Thread-safe: slots share one channel, which multiplexes
// their calls over one HTTP/2 connection.
class AdapterClient {
 public:
  AdapterClient(const std::string& address, std::chrono::milliseconds deadline);

  CallResult Authorize(const gateway_v1::AuthorizeRequest& request);
  CallResult Capture(const gateway_v1::CaptureRequest& request);
  CallResult Terminate(const gateway_v1::TerminateRequest& request);
  CallResult GetPaymentStatus(const std::string& idempotency_key);

 private:
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  std::chrono::milliseconds deadline_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<gateway_v1::PaymentGateway::Stub> stub_;
};

}  // namespace payorch::worker
