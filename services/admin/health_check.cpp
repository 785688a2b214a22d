#include "services/admin/health_check.hpp"

#include <grpcpp/grpcpp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

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
                                std::chrono::milliseconds deadline,
                                const core::GrpcClientTls& tls) {
  HealthReport report;
  report.address = address;
  report.service = service;
  // A channel of its own: this is a one-shot probe, and connection set-up (the TLS handshake
  // included) is part of what the latency measures, as a worker's first call after a restart
  // would see it.
  auto channel = core::MakeChannel(address, tls);
  if (!channel) {
    report.grpc_status = GrpcStatusName(static_cast<int>(grpc::StatusCode::UNAVAILABLE));
    report.error = "TLS settings: " + channel.error();
    return report;
  }
  auto stub = grpc::health::v1::Health::NewStub(channel.value());
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
    // gRPC reports a refused handshake like a refused connection (UNAVAILABLE, and with TLS 1.3
    // a client certificate the server refuses shows only as a closed connection). Telling them
    // apart is what an operator needs: a TCP connect that succeeds means the TLS part failed.
    if (tls.enabled && status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        PortAcceptsConnections(address, deadline)) {
      report.tls_handshake_failed = true;
      report.error = "TLS handshake failed (the port accepts TCP connections; check the CA, "
                     "the server name and the client certificate): " + report.error;
    }
    return report;
  }
  report.serving_status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  return report;
}

bool PortAcceptsConnections(const std::string& address, std::chrono::milliseconds timeout) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  boost::asio::ip::tcp::socket socket(io);
  bool connected = false;
  resolver.async_resolve(
      host, address.substr(colon + 1),
      [&](const boost::system::error_code& error,
          const boost::asio::ip::tcp::resolver::results_type& endpoints) {
        if (error) return;
        boost::asio::async_connect(
            socket, endpoints,
            [&](const boost::system::error_code& connect_error,
                const boost::asio::ip::tcp::endpoint&) { connected = !connect_error; });
      });
  // Bounded: whatever is still pending at the timeout is abandoned with the io_context.
  io.run_for(timeout);
  return connected;
}

}  // namespace payorch::admin
