#include "services/admin/health_check.hpp"

#include <grpcpp/grpcpp.h>

#include "grpc/health/v1/health.grpc.pb.h"

namespace payorch::admin {

std::string GrpcStatusName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) {
    return "CODE_" + std::to_string(code);
  }
  return kNames[code];
}

HealthReport CheckAdapterHealth(const std::string& address, const std::string& service,
                                std::chrono::milliseconds deadline) {
  HealthReport report;
  report.address = address;
  report.service = service;
  // A channel of its own: this is a one-shot probe, and connection set-up is part of what the
  // latency measures (as a worker's first call after a restart would see it).
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const auto started = std::chrono::steady_clock::now();
  const grpc::Status status = stub->Check(&context, request, &response);
  report.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  report.grpc_status = GrpcStatusName(status.error_code());
  if (!status.ok()) {
    report.error = status.error_message();
    return report;
  }
  report.serving_status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  return report;
}

}  // namespace payorch::admin
