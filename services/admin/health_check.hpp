#pragma once

#include <chrono>
#include <string>

namespace payorch::admin {

// The first version of `adapter check`: one grpc.health.v1.Health/Check call (plaintext, as the
// worker connects to adapters) and how long it took. The full conformance check is another issue.
struct HealthReport {
  std::string address;
  std::string service;  // the service name asked about; empty = the server as a whole
  // SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN; empty when the call failed.
  std::string serving_status;
  std::string grpc_status;  // OK, UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED, ...
  std::string error;        // the call's error message, empty when OK
  std::int64_t latency_ms = 0;
  bool Serving() const { return serving_status == "SERVING"; }
};

// Calls Health/Check on `address` ("host:port") with `deadline`. Never throws: a failed call is
// reported in the result. Blocks for at most about `deadline`.
HealthReport CheckAdapterHealth(const std::string& address, const std::string& service,
                                std::chrono::milliseconds deadline);

// The name of a gRPC status code ("UNAVAILABLE"), as the worker records it.
std::string GrpcStatusName(int code);

}  // namespace payorch::admin
