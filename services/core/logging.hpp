#pragma once

#include <string>
#include <string_view>

namespace payorch::core {

// Sets spdlog's default logger for a process: one line per event on stderr, as
//   ts=2026-11-29T08:50:18.123Z level=info service=worker msg="..." key=value ...
// Call sites write key=value pairs after a short message. Never log tokens, emails or passwords:
// log ids (job_id, attempt, adapter) and redacted URLs instead.
// `level` is one of trace, debug, info, warn, error; returns false for an unknown level.
[[nodiscard]] bool InitLogging(std::string_view service, const std::string& level);

// A database URL or libpq connection string with any password replaced by "***", for logs and
// error messages.
std::string RedactDatabaseUrl(std::string_view url);

}  // namespace payorch::core
