#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gateways/sandbox/answer_scheduler.hpp"
#include "gateways/sandbox/script.hpp"
#include "services/core/grpc_tls.hpp"
#include "services/core/result.hpp"

namespace payorch::gateways::sandbox {

// The validated settings of payorch-sandbox-gateway (flags, with environment fallbacks).
struct SandboxConfig {
  std::string listen = "127.0.0.1:50051";  // --listen, PAYORCH_SANDBOX_LISTEN
  std::string log_level = "info";          // --log-level, PAYORCH_LOG_LEVEL
  std::string log_format = "text";         // --log-format, PAYORCH_LOG_FORMAT
  std::string state_file;                  // --state-file, PAYORCH_SANDBOX_STATE_FILE
  // /metrics and /healthz over HTTP; empty turns them off.
  std::string metrics_listen;  // --metrics-listen, PAYORCH_SANDBOX_METRICS_LISTEN (e.g. 0.0.0.0:9465)
  // TLS for the gRPC port; plaintext when tls_cert_file is empty. Mutual TLS when
  // tls_client_ca_file is set.
  std::string tls_cert_file;       // --tls-cert-file, PAYORCH_SANDBOX_TLS_CERT_FILE
  std::string tls_key_file;        // --tls-key-file, PAYORCH_SANDBOX_TLS_KEY_FILE
  std::string tls_client_ca_file;  // --tls-client-ca-file, PAYORCH_SANDBOX_TLS_CLIENT_CA_FILE
  // The process-wide script (README.md, "Rehearsing failure modes").
  std::string seed;                // --seed, PAYORCH_SANDBOX_SEED: decimal u64; empty: random
  std::string latency;             // --latency, PAYORCH_SANDBOX_LATENCY (latency.hpp)
  std::string error_rate;          // --error-rate, PAYORCH_SANDBOX_ERROR_RATE (script.hpp)
  std::string default_behaviour;   // --default-behaviour, PAYORCH_SANDBOX_DEFAULT_BEHAVIOUR
  int health_delay_ms = 0;         // --health-delay-ms, PAYORCH_SANDBOX_HEALTH_DELAY_MS
  std::string health_status = "SERVING";  // --health-status, PAYORCH_SANDBOX_HEALTH_STATUS
  // PaymentGateway calls in flight at most: 1..kMaxMaxInFlight.
  int max_in_flight = kDefaultMaxInFlight;  // --max-in-flight, PAYORCH_SANDBOX_MAX_IN_FLIGHT
};

// Pure: the Script `config` describes; its seed is `random_seed` when config.seed is empty. The
// error names the flag.
[[nodiscard]] core::Result<Script, std::string> ScriptFromConfig(const SandboxConfig& config,
                                                                 std::uint64_t random_seed);

// The TLS settings of `config`, as core::MakeServerCredentials takes them.
[[nodiscard]] core::GrpcServerTls ServerTls(const SandboxConfig& config);

// Reads the TLS files (not pure): why they are unusable, naming the flags, or nullopt.
[[nodiscard]] std::optional<std::string> CheckTlsFiles(const SandboxConfig& config);

// Pure: why `config` is unusable, or nullopt when it is fine. Listen addresses are host:port
// with a port in 0..65535 (0 = any free port); IPv6 hosts in brackets.
[[nodiscard]] std::optional<std::string> ValidateConfig(const SandboxConfig& config);

// Pure: the port of a host:port address, or nullopt when it is not one.
[[nodiscard]] std::optional<int> ListenPort(std::string_view listen);

}  // namespace payorch::gateways::sandbox
