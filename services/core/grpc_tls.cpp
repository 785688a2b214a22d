#include "services/core/grpc_tls.hpp"

#include <fstream>
#include <sstream>

namespace payorch::core {
namespace {

// Reads a PEM file into `pem`; false with `error` naming the setting it came from otherwise.
bool ReadPem(const std::string& setting, const std::string& path, std::string& pem,
             std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = setting + ": cannot read " + path;
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  pem = text.str();
  if (pem.find("-----BEGIN") == std::string::npos) {
    error = setting + ": " + path + " is not a PEM file";
    return false;
  }
  return true;
}

}  // namespace

Result<std::shared_ptr<grpc::ChannelCredentials>, std::string> MakeChannelCredentials(
    const GrpcClientTls& tls) {
  if (!tls.enabled) {
    if (!tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty()) {
      return std::string("TLS files are set but TLS is off");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return std::string("a client certificate needs its key, and a key its certificate");
  }
  grpc::SslCredentialsOptions options;
  std::string error;
  if (!tls.ca_file.empty()) {
    if (!ReadPem("ca_file", tls.ca_file, options.pem_root_certs, error)) return error;
  }
  if (!tls.cert_file.empty()) {
    if (!ReadPem("cert_file", tls.cert_file, options.pem_cert_chain, error) ||
        !ReadPem("key_file", tls.key_file, options.pem_private_key, error)) {
      return error;
    }
  }
  return grpc::SslCredentials(options);
}

Result<std::shared_ptr<grpc::ServerCredentials>, std::string> MakeServerCredentials(
    const GrpcServerTls& tls) {
  if (!tls.enabled()) {
    if (!tls.key_file.empty() || !tls.client_ca_file.empty()) {
      return std::string("a TLS key or client CA is set without a certificate");
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.key_file.empty()) return std::string("a TLS certificate needs its key");
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  std::string error;
  if (!ReadPem("cert_file", tls.cert_file, pair.cert_chain, error) ||
      !ReadPem("key_file", tls.key_file, pair.private_key, error)) {
    return error;
  }
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back(pair);
  if (!tls.client_ca_file.empty()) {
    if (!ReadPem("client_ca_file", tls.client_ca_file, options.pem_root_certs, error)) {
      return error;
    }
    // Mutual TLS: no certificate, or one the CA did not sign, ends the handshake.
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

Result<std::shared_ptr<grpc::Channel>, std::string> MakeChannel(const std::string& address,
                                                                const GrpcClientTls& tls,
                                                                grpc::ChannelArguments arguments) {
  auto credentials = MakeChannelCredentials(tls);
  if (!credentials) return credentials.error();
  if (tls.enabled && !tls.server_name.empty()) {
    arguments.SetSslTargetNameOverride(tls.server_name);
  }
  return grpc::CreateCustomChannel(address, credentials.value(), arguments);
}

}  // namespace payorch::core
