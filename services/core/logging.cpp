#include "services/core/logging.hpp"

#include <regex>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace payorch::core {

bool InitLogging(std::string_view service, const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str answers "off" for anything it does not know; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_logger_mt(std::string(service));
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l service=%n %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return true;
}

std::string RedactDatabaseUrl(std::string_view url) {
  // URL form: scheme://user:password@host/...; key/value form: password=secret.
  static const std::regex kUrlPassword(R"(^([a-z]+://[^:/@]*):[^@]*@)");
  static const std::regex kKeyValuePassword(R"((password\s*=\s*)('[^']*'|\S+))");
  std::string text(url);
  text = std::regex_replace(text, kUrlPassword, "$1:***@");
  return std::regex_replace(text, kKeyValuePassword, "$1***");
}

}  // namespace payorch::core
