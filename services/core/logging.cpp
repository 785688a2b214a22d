#include "services/core/logging.hpp"

#include <cctype>
#include <memory>
#include <regex>

#include <boost/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace payorch::core {

namespace {

bool IsKeyStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

std::string Quote(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Renders the message part of each record (spdlog's %v) in the chosen format.
class FieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  explicit FieldsFlag(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto fields =
        ParseLogMessage(std::string_view(msg.payload.data(), msg.payload.size()));
    const auto text = format_ == LogFormat::kJson ? RenderJsonMembers(fields)
                                                  : RenderLogfmt(fields);
    dest.append(text.data(), text.data() + text.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<FieldsFlag>(format_);
  }

 private:
  LogFormat format_;
};

}  // namespace

std::optional<LogFormat> LogFormatFromName(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

LogFields ParseLogMessage(std::string_view payload) {
  LogFields fields;
  std::string free_text;
  std::size_t i = 0;
  const std::size_t n = payload.size();
  while (i < n) {
    while (i < n && payload[i] == ' ') ++i;
    if (i >= n) break;
    // key=value?
    std::size_t key_end = i;
    if (IsKeyStart(payload[i])) {
      while (key_end < n && IsKeyChar(payload[key_end])) ++key_end;
    }
    if (key_end > i && key_end < n && payload[key_end] == '=') {
      std::string key(payload.substr(i, key_end - i));
      std::size_t j = key_end + 1;
      std::string value;
      if (j < n && payload[j] == '"') {
        // Quoted: up to the closing quote that ends the token (followed by space or the end).
        ++j;
        while (j < n) {
          if (payload[j] == '\\' && j + 1 < n) {
            value += payload[j + 1];
            j += 2;
            continue;
          }
          if (payload[j] == '"' && (j + 1 == n || payload[j + 1] == ' ')) {
            ++j;
            break;
          }
          value += payload[j++];
        }
      } else {
        while (j < n && payload[j] != ' ') value += payload[j++];
      }
      if (key == "msg") {
        if (!free_text.empty()) free_text += ' ';
        free_text += value;
      } else {
        fields.pairs.emplace_back(std::move(key), std::move(value));
      }
      i = j;
      continue;
    }
    std::size_t word_end = i;
    while (word_end < n && payload[word_end] != ' ') ++word_end;
    if (!free_text.empty()) free_text += ' ';
    free_text += payload.substr(i, word_end - i);
    i = word_end;
  }
  fields.message = std::move(free_text);
  return fields;
}

std::string RenderLogfmt(const LogFields& fields) {
  std::string out = "msg=" + Quote(fields.message);
  for (const auto& [key, value] : fields.pairs) {
    out += ' ' + key + '=' + (NeedsQuotes(value) ? Quote(value) : value);
  }
  return out;
}

std::string RenderJsonMembers(const LogFields& fields) {
  std::string out = ",\"msg\":" + boost::json::serialize(boost::json::string(fields.message));
  for (const auto& [key, value] : fields.pairs) {
    out += ',' + boost::json::serialize(boost::json::string(key)) + ':' +
           boost::json::serialize(boost::json::string(value));
  }
  return out;
}

bool InitLogging(std::string_view service, const std::string& level, LogFormat format) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str answers "off" for anything it does not know; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_logger_mt(std::string(service));
  auto formatter = std::make_unique<spdlog::pattern_formatter>(
      spdlog::pattern_time_type::utc, spdlog::details::os::default_eol);
  formatter->add_flag<FieldsFlag>('*', format);
  formatter->set_pattern(format == LogFormat::kJson
                             ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","service":"%n"%*})"
                             : "ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l service=%n %*");
  logger->set_formatter(std::move(formatter));
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
