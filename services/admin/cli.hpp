#pragma once

#include <ostream>
#include <string>
#include <string_view>

namespace payorch::admin {

// The settings every payorch-admin command shares, loaded once from flags and environment.
struct AdminConfig {
  std::string database_url;  // --database-url, else PAYORCH_DATABASE_URL; required by DB commands
};

// Parses the command line, connects when the command needs the database, runs the command and
// returns the process's exit code (see commands.hpp). Usage errors (unknown flags, bad values,
// missing subcommand or database URL) print one line to `err` and return 2; --help prints the
// command's help, with an example in its footer, to `out` and returns 0.
int RunAdminCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// `message` with the password of `database_url` (URL or key=value form) replaced by "***"
// wherever it occurs, for error messages that may quote a connection string.
std::string ScrubPassword(std::string_view message, std::string_view database_url);

}  // namespace payorch::admin
