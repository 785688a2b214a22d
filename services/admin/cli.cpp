#include "services/admin/cli.hpp"

#include <memory>
#include <regex>

#include <CLI/CLI.hpp>

#include "db/database.hpp"
#include "db/job_queries.hpp"
#include "services/admin/commands.hpp"
#include "services/admin/state_filter.hpp"
#include "services/core/logging.hpp"

namespace payorch::admin {

namespace {

constexpr const char* kProgram = "payorch-admin";

// kJobsMissing: "jobs" without list or show.
enum class Command { kNone, kMigrate, kJobsMissing, kJobsList, kJobsShow };

// Everything the command line asked for, filled by CLI11.
struct Invocation {
  AdminConfig config;
  Command command = Command::kNone;
  MigrateOptions migrate;
  JobsListOptions list;
  JobsShowOptions show;
};

// Connects, or prints why not (password redacted) and returns null.
std::unique_ptr<pqxx::connection> ConnectOrReport(const AdminConfig& config, std::ostream& err) {
  try {
    return db::Connect(config.database_url);
  } catch (const db::DatabaseError& e) {
    PrintError(err, ScrubPassword(e.what(), config.database_url));
    return nullptr;
  }
}

void BuildApp(CLI::App& app, Invocation& invocation) {
  app.description("payorch-admin: operator CLI for payorch (migrations, jobs).");
  app.footer(
      "Examples:\n"
      "  PAYORCH_DATABASE_URL=postgresql://payorch@localhost/payorch payorch-admin migrate\n"
      "  payorch-admin jobs list --state dead --limit 20\n"
      "  payorch-admin jobs show 42 --json\n"
      "Exit codes: 0 done, 1 operation failed, 2 bad usage or bad input.");
  // No require_subcommand(): CLI11 would report a missing subcommand before an unknown flag;
  // RunAdminCli checks for a command after parsing instead.
  // Global options may also follow the subcommand ("payorch-admin jobs list --database-url ...").
  app.fallthrough();
  app.add_option("--database-url", invocation.config.database_url,
                 "PostgreSQL URL (libpq form); required by every command here")
      ->envname("PAYORCH_DATABASE_URL");

  auto* migrate = app.add_subcommand("migrate", "Apply pending database migrations (or --status)");
  migrate->footer("Example:\n  payorch-admin migrate --status");
  migrate->add_flag("--status", invocation.migrate.status_only,
                    "Only show each migration and whether it is applied; change nothing");
  migrate->callback([&invocation] { invocation.command = Command::kMigrate; });

  auto* jobs = app.add_subcommand("jobs", "Inspect jobs");
  jobs->footer("Example:\n  payorch-admin jobs list --state dead");
  jobs->callback([&invocation] {
    if (invocation.command == Command::kNone) invocation.command = Command::kJobsMissing;
  });

  auto* list = jobs->add_subcommand("list", "List jobs, newest first");
  list->footer(
      "Example:\n"
      "  payorch-admin jobs list --state dead --state in_doubt --limit 100 --json\n"
      "JSON: {\"jobs\":[{\"id\",\"state\",\"topic\",\"subscription_id\",\"outcome\",\"attempts\","
      "\"last_error\",\"created_at\",\"updated_at\"}, ...]}");
  list->add_option("--state", invocation.list.states,
                   "Only jobs in this state (repeatable, or comma-separated): " +
                       ValidStateNames())
      ->type_name("STATE")
      ->check(CLI::Validator(
          [](std::string& value) {
            auto states = ParseStateFilter({value});
            return states ? std::string() : states.error();
          },
          "", "state"));
  list->add_option("--limit", invocation.list.limit, "At most this many jobs")
      ->check(CLI::Range(1, db::kMaxListJobsLimit))
      ->capture_default_str();
  list->add_flag("--json", invocation.list.json, "One JSON document instead of a table");
  list->callback([&invocation] { invocation.command = Command::kJobsList; });

  auto* show = jobs->add_subcommand("show", "Show one job with all its attempts");
  show->footer(
      "Example:\n"
      "  payorch-admin jobs show 42 --json\n"
      "The raw event is shown with the values of token and customerEmail replaced by \"***\".");
  show->add_option("id", invocation.show.job_id, "Job id")->required();
  show->add_flag("--json", invocation.show.json,
                 "One JSON document: {\"job\":{...},\"attempts\":[...]}");
  show->callback([&invocation] { invocation.command = Command::kJobsShow; });
}

}  // namespace

std::string ScrubPassword(std::string_view message, std::string_view database_url) {
  static const std::regex kUrlPassword(R"(^[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:([^@]*)@)");
  static const std::regex kKeyValuePassword(R"(password\s*=\s*('([^']*)'|(\S+)))");
  const std::string url(database_url);
  std::string password;
  std::smatch match;
  if (std::regex_search(url, match, kUrlPassword)) {
    password = match[1];
  } else if (std::regex_search(url, match, kKeyValuePassword)) {
    password = match[2].matched ? match[2] : match[3];
  }
  std::string text = core::RedactDatabaseUrl(message);
  if (password.empty()) return text;
  for (auto at = text.find(password); at != std::string::npos;
       at = text.find(password, at + 3)) {
    text.replace(at, password.size(), "***");
  }
  return text;
}

int RunAdminCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Invocation invocation;
  CLI::App app{"", kProgram};
  BuildApp(app, invocation);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    // One line, whatever CLI11 would print, and exit code 2 for every kind of parse error.
    PrintError(err, std::string(e.what()) + " (see " + kProgram + " --help)");
    return kExitUsage;
  }

  if (invocation.command == Command::kNone) {
    PrintError(err, std::string("a command is required: migrate or jobs (see ") + kProgram +
                        " --help)");
    return kExitUsage;
  }
  if (invocation.command == Command::kJobsMissing) {
    PrintError(err, std::string("jobs needs a subcommand: list or show (see ") + kProgram +
                        " jobs --help)");
    return kExitUsage;
  }
  if (invocation.config.database_url.empty()) {
    PrintError(err, "--database-url (or PAYORCH_DATABASE_URL) is required");
    return kExitUsage;
  }
  // Usage errors before the connection: a bad request is exit 2 even when the database is down.
  if (invocation.command == Command::kJobsList) {
    if (auto problem = ValidateJobsListOptions(invocation.list); !problem.empty()) {
      PrintError(err, problem);
      return kExitUsage;
    }
  }

  auto connection = ConnectOrReport(invocation.config, err);
  if (!connection) return kExitFailure;
  switch (invocation.command) {
    case Command::kMigrate: return RunMigrate(*connection, invocation.migrate, out, err);
    case Command::kJobsList: return RunJobsList(*connection, invocation.list, out, err);
    case Command::kJobsShow: return RunJobsShow(*connection, invocation.show, out, err);
    case Command::kNone:
    case Command::kJobsMissing: break;
  }
  // Both were answered above; say so rather than exit 0 silently.
  PrintError(err, "no command given");
  return kExitUsage;
}

}  // namespace payorch::admin
