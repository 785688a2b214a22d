#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace payorch::gateways::sandbox {

// The validated settings of payorch-sandbox-gateway (flags, with environment fallbacks).
struct SandboxConfig {
  std::string listen = "127.0.0.1:50051";  // --listen, PAYORCH_SANDBOX_LISTEN
  std::string log_level = "info";          // --log-level, PAYORCH_LOG_LEVEL
  std::string log_format = "text";         // --log-format, PAYORCH_LOG_FORMAT
  std::string state_file;                  // --state-file, PAYORCH_SANDBOX_STATE_FILE
  // /metrics and /healthz over HTTP; empty turns them off.
  std::string metrics_listen;  // --metrics-listen, PAYORCH_SANDBOX_METRICS_LISTEN (e.g. 0.0.0.0:9465)
};

// Pure: why `config` is unusable, or nullopt when it is fine. Listen addresses are host:port
// with a port in 0..65535 (0 = any free port); IPv6 hosts in brackets.
[[nodiscard]] std::optional<std::string> ValidateConfig(const SandboxConfig& config);

// Pure: the port of a host:port address, or nullopt when it is not one.
[[nodiscard]] std::optional<int> ListenPort(std::string_view listen);

}  // namespace payorch::gateways::sandbox
