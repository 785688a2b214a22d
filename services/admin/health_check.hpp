#pragma once

#include <chrono>
#include <string>

#include "services/core/grpc_tls.hpp"

namespace payorch::admin {

// `adapter check --health-only`, and the first check of the conformance suite: one
// grpc.health.v1.Health/Check call (plaintext, TLS or mutual TLS) and how long it took.
struct HealthReport {
  std::string address;
  std::string service;  // the service name asked about; empty = the server as a whole
  // SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN; empty when the call failed.
  std::string serving_status;
  std::string grpc_status;  // OK, UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED, ...
  std::string error;        // the call's error message, empty when OK
  std::int64_t latency_ms = 0;
  // With TLS: the call failed although the port accepts TCP connections, so the TLS handshake
  // (or the TLS session) is what failed: wrong CA, server name, or client certificate. `error`
  // then starts with "TLS handshake failed".
  bool tls_handshake_failed = false;
  bool Serving() const { return serving_status == "SERVING"; }
};

// Calls Health/Check on `address` ("host:port") with `deadline`, over `tls` (core::MakeChannel;
// plaintext by default). Never throws: a failed call is reported in the result, and unusable TLS
// settings as UNAVAILABLE with the reason (callers validate them first). Blocks for at most
// about 2 x `deadline` (the call, then, after a failed TLS call, a TCP connect probe).
HealthReport CheckAdapterHealth(const std::string& address, const std::string& service,
                                std::chrono::milliseconds deadline,
                                const core::GrpcClientTls& tls = {});

// True when a TCP connection to `address` ("host:port", "[v6]:port") succeeds within `timeout`.
bool PortAcceptsConnections(const std::string& address, std::chrono::milliseconds timeout);

// The name of a gRPC status code ("UNAVAILABLE"), as the worker records it.
std::string GrpcStatusName(int code);

}  // namespace payorch::admin
