#include "gateways/sandbox/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "services/core/logging.hpp"

namespace payorch::gateways::sandbox {

std::optional<int> ListenPort(std::string_view listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);
  // An unbracketed host with a colon is an IPv6 address without brackets: ambiguous.
  if (host.find(':') != std::string_view::npos && !(host.front() == '[' && host.back() == ']')) {
    return std::nullopt;
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int port = 0;
  std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port > 65535) return std::nullopt;
  return port;
}

core::GrpcServerTls ServerTls(const SandboxConfig& config) {
  return {config.tls_cert_file, config.tls_key_file, config.tls_client_ca_file};
}

std::optional<std::string> CheckTlsFiles(const SandboxConfig& config) {
  const auto credentials = core::MakeServerCredentials(ServerTls(config));
  if (credentials) return std::nullopt;
  return "TLS settings (--tls-cert-file, --tls-key-file, --tls-client-ca-file): " +
         credentials.error();
}

core::Result<Script, std::string> ScriptFromConfig(const SandboxConfig& config,
                                                   std::uint64_t random_seed) {
  Script script;
  script.seed = random_seed;
  if (!config.seed.empty()) {
    const auto& text = config.seed;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), script.seed);
    if (error != std::errc() || end != text.data() + text.size() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return "--seed must be a decimal number in 0..18446744073709551615, got \"" + text + "\"";
    }
  }
  const auto latency = ParseLatency(config.latency);
  if (!latency) {
    return "--latency must be MS, MIN-MAX or p50=MS,p99=MS (values like 20, 20ms or 2s, at most "
           "60s; p99 >= p50 > 0), got \"" + config.latency + "\"";
  }
  script.latency = *latency;
  auto faults = ParseFaultRates(config.error_rate);
  if (!faults) return "--error-rate: " + faults.error();
  script.faults = std::move(faults).value();
  if (!config.default_behaviour.empty()) {
    script.default_behaviour = ParseScriptedBehaviour(config.default_behaviour);
    if (!script.default_behaviour) {
      return "--default-behaviour must be a scripted token (approve, decline[:CODE], "
             "unavailable:N, error:STATUS[:N], slow:MS, latency:SPEC, lost, crash-after-effect, "
             "invalid), got \"" + config.default_behaviour + "\"";
    }
  }
  return script;
}

std::optional<std::string> ValidateConfig(const SandboxConfig& config) {
  if (!ListenPort(config.listen)) {
    return "--listen must be host:port with a port in 0..65535, got \"" + config.listen + "\"";
  }
  constexpr std::array<std::string_view, 6> kLevels = {"trace", "debug", "info",
                                                       "warn",  "error", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), config.log_level) == kLevels.end()) {
    return "--log-level must be one of trace, debug, info, warn, error, off; got \"" +
           config.log_level + "\"";
  }
  if (!config.metrics_listen.empty() && !ListenPort(config.metrics_listen)) {
    return "--metrics-listen must be host:port (or empty to turn it off), got \"" +
           config.metrics_listen + "\"";
  }
  if (!core::LogFormatFromName(config.log_format)) {
    return "--log-format must be text or json; got \"" + config.log_format + "\"";
  }
  if (auto script = ScriptFromConfig(config, 0); !script) return script.error();
  if (config.health_delay_ms < 0 || config.health_delay_ms > kMaxLatency.count()) {
    return "--health-delay-ms must be in 0.." + std::to_string(kMaxLatency.count()) + ", got " +
           std::to_string(config.health_delay_ms);
  }
  if (config.health_status != "SERVING" && config.health_status != "NOT_SERVING") {
    return "--health-status must be SERVING or NOT_SERVING, got \"" + config.health_status + "\"";
  }
  if (config.max_in_flight < 1 || config.max_in_flight > kMaxMaxInFlight) {
    return "--max-in-flight must be in 1.." + std::to_string(kMaxMaxInFlight) + ", got " +
           std::to_string(config.max_in_flight);
  }
  return std::nullopt;
}

}  // namespace payorch::gateways::sandbox
