#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "services/core/result.hpp"

namespace payorch::core {

// TLS between payorch and gateway adapters (gRPC SSL credentials). One place builds the
// credentials, so the worker, the admin's `adapter check` and the sandbox adapter read
// certificates the same way and report a missing file the same way.

// A client's side (worker -> adapter, admin -> adapter).
struct GrpcClientTls {
  bool enabled = false;      // plaintext when false (loopback and development only)
  std::string ca_file;       // PEM roots that sign the adapter's certificate; empty: system roots
  std::string cert_file;     // the client's certificate chain, for mutual TLS...
  std::string key_file;      // ...and its private key: both or neither
  std::string server_name;   // the name checked against the adapter's certificate, when it is
                             // not the host of the address (an IP address, a load balancer)
};

// A server's side (an adapter; the sandbox).
struct GrpcServerTls {
  std::string cert_file;       // TLS on when set (with key_file)
  std::string key_file;
  std::string client_ca_file;  // mutual TLS when set: a client must present a certificate that
                               // this CA signed, or the handshake fails
  bool enabled() const { return !cert_file.empty(); }
};

// Checks the combination (both or neither of cert and key; files only with TLS on) and that every
// named file can be read; the error names the setting and the file.
Result<std::shared_ptr<grpc::ChannelCredentials>, std::string> MakeChannelCredentials(
    const GrpcClientTls& tls);
Result<std::shared_ptr<grpc::ServerCredentials>, std::string> MakeServerCredentials(
    const GrpcServerTls& tls);

// A channel to `address` with `tls` (and its server-name override); `arguments` are kept.
Result<std::shared_ptr<grpc::Channel>, std::string> MakeChannel(
    const std::string& address, const GrpcClientTls& tls,
    grpc::ChannelArguments arguments = grpc::ChannelArguments());

}  // namespace payorch::core
