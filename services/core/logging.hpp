#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace payorch::core {

enum class LogFormat { kText, kJson };

// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> LogFormatFromName(std::string_view name);

// Sets spdlog's default logger for a process: one line per event on stderr.
// Call sites write a short message followed by key=value pairs (values with spaces quoted):
//   spdlog::info("attempt finished job_id={} attempt={} error=\"{}\"", ...)
// and the line comes out as logfmt (text) or as one JSON object (json):
//   ts=2026-11-29T08:50:18.123Z level=info service=worker msg="attempt finished" job_id=7 ...
//   {"ts":"2026-11-29T08:50:18.123Z","level":"info","service":"worker","msg":"attempt finished","job_id":"7",...}
// Never log tokens, emails or passwords: log ids (job_id, attempt, adapter) and redacted URLs.
// `level` is one of trace, debug, info, warn, error, off; returns false for an unknown level.
[[nodiscard]] bool InitLogging(std::string_view service, const std::string& level,
                               LogFormat format = LogFormat::kText);

// A log message split into its free-text part and its key=value pairs (see InitLogging).
// A `msg="..."` pair is taken as the free text. Never fails: what does not parse as a pair is
// free text.
struct LogFields {
  std::string message;
  std::vector<std::pair<std::string, std::string>> pairs;
};
LogFields ParseLogMessage(std::string_view payload);

// The line body (after ts, level and service) in each format.
std::string RenderLogfmt(const LogFields& fields);
std::string RenderJsonMembers(const LogFields& fields);  // ,"msg":"...","k":"v"...

// A database URL or libpq connection string with any password replaced by "***", for logs and
// error messages.
std::string RedactDatabaseUrl(std::string_view url);

}  // namespace payorch::core
