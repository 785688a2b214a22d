#include "services/cleeng/config.hpp"

#include <cstdlib>
#include <fstream>

#include "services/cleeng/http_transport.hpp"

namespace payorch::cleeng {

std::string ResolveBaseUrl(const std::string& name_or_url) {
  if (name_or_url == "sandbox") return kSandboxBaseUrl;
  if (name_or_url == "production") return kProductionBaseUrl;
  return name_or_url;
}

std::optional<std::string> Validate(const CleengConfig& config) {
  if (!config.enabled) return std::nullopt;
  auto url = ParseBaseUrl(ResolveBaseUrl(config.base_url));
  if (!url.ok()) return "cleeng base URL: " + url.error();
  if (config.publisher_token.empty()) {
    return std::string("cleeng reporting is enabled but ") + kPublisherTokenEnv + " is not set";
  }
  for (const char c : config.publisher_token) {
    // It goes into an HTTP header verbatim: no control characters, no spaces.
    if (c <= ' ' || c == 0x7f)
      return "the cleeng publisher token holds a space or control character";
  }
  if (config.connect_timeout.count() < 1 || config.connect_timeout.count() > 60000) {
    return "cleeng connect timeout must be 1..60000 ms";
  }
  if (config.request_timeout.count() < 1 || config.request_timeout.count() > 120000) {
    return "cleeng request timeout must be 1..120000 ms";
  }
  if (config.max_attempts < 1 || config.max_attempts > 20) {
    return "cleeng max attempts must be 1..20";
  }
  if (config.max_call_time < config.request_timeout || config.max_call_time.count() > 600000) {
    return "cleeng max call time must be at least the request timeout and at most 600000 ms";
  }
  if (config.backoff_base.count() < 1 || config.backoff_max < config.backoff_base ||
      config.backoff_max.count() > 300000) {
    return "cleeng backoff must satisfy 1 <= base <= max <= 300000 ms";
  }
  if (config.max_body_bytes < 1024 || config.max_body_bytes > (64u << 20)) {
    return "cleeng max body must be 1 KiB..64 MiB";
  }
  if (!config.ca_file.empty() && !std::ifstream(config.ca_file).good()) {
    return "cleeng CA file cannot be read: " + config.ca_file;
  }
  return std::nullopt;
}

std::string PublisherTokenFromEnvironment() {
  const char* value = std::getenv(kPublisherTokenEnv);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace payorch::cleeng
