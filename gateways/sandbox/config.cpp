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
  return std::nullopt;
}

}  // namespace payorch::gateways::sandbox
