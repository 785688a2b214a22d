#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "services/core/grpc_tls.hpp"
#include "services/core/result.hpp"

namespace payorch::worker {

namespace gateway_v1 = ::payorch::gateway::v1;

// A channel to an adapter with the worker's reconnect settings and `tls` (core::MakeChannel);
// the error names the TLS setting that failed.
core::Result<std::shared_ptr<grpc::Channel>, std::string> MakeAdapterChannel(
    const std::string& address, const core::GrpcClientTls& tls);

// How one unary call ended: the gRPC status, and the adapter's answer when the status is OK.
struct CallResult {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  gateway_v1::PaymentResult result;  // meaningful when code == OK
  bool found = true;                 // GetPaymentStatus only: false when the key is unknown
};

// A thin asynchronous client of one adapter (the PaymentGateway service of the contract), on
// gRPC's callback API: a call costs no thread while it waits, so many can be in flight at once.
// Every call carries the configured deadline and ends by calling `done` exactly once, on a gRPC
// thread (keep it short; never block in it). Thread-safe: calls share one channel, which
// multiplexes them over one HTTP/2 connection.
class AdapterClient {
 public:
  using Done = std::function<void(CallResult)>;

  // `channel` may be shared with other clients of the same adapter (a reload that changes only
  // the deadline keeps the connection).
  AdapterClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline);

  void Authorize(gateway_v1::AuthorizeRequest request, Done done);
  void Capture(gateway_v1::CaptureRequest request, Done done);
  void Terminate(gateway_v1::TerminateRequest request, Done done);
  void GetPaymentStatus(const std::string& idempotency_key, Done done);

 private:
  std::chrono::system_clock::time_point Deadline() const;

  std::chrono::milliseconds deadline_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<gateway_v1::PaymentGateway::Stub> stub_;
};

}  // namespace payorch::worker
