#include "services/admin/cli.hpp"

#include <memory>
#include <regex>

#include <CLI/CLI.hpp>

#include "db/database.hpp"
#include "db/job_queries.hpp"
#include "services/admin/commands.hpp"
#include "services/admin/prune_command.hpp"
#include "services/admin/state_filter.hpp"
#include "services/core/logging.hpp"

namespace payorch::admin {

namespace {

constexpr const char* kProgram = "payorch-admin";

// kJobsMissing / kAdapterMissing: "jobs" or "adapter" without a subcommand.
enum class Command {
  kNone,
  kMigrate,
  kJobsMissing,
  kJobsList,
  kJobsShow,
  kJobsReplay,
  kJobsCancel,
  kJobsPrune,
  kStats,
  kAdapterMissing,
  kAdapterCheck
};

// Everything the command line asked for, filled by CLI11.
struct Invocation {
  AdminConfig config;
  Command command = Command::kNone;
  MigrateOptions migrate;
  JobsListOptions list;
  JobsShowOptions show;
  JobsReplayOptions replay;
  JobsCancelOptions cancel;
  JobsPruneOptions prune;
  StatsOptions stats;
  AdapterCheckOptions adapter_check;
  // Options whose absence matters (CLI11 2.1 has no std::optional binding): read after parsing.
  std::int64_t list_broadcaster = 0;
  CLI::Option* list_broadcaster_option = nullptr;
  std::int64_t list_before_id = 0;
  CLI::Option* list_before_id_option = nullptr;
  std::int64_t replay_broadcaster = 0;
  CLI::Option* replay_broadcaster_option = nullptr;
  std::int64_t show_id = 0;
  CLI::Option* show_id_option = nullptr;
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

CLI::Validator StateValidator() {
  return CLI::Validator(
      [](std::string& value) {
        auto states = ParseStateFilter({value});
        return states ? std::string() : states.error();
      },
      "", "state");
}

// The filter flags shared by `jobs list` and `jobs replay --filter`.
CLI::Option* AddFilterOptions(CLI::App* command, JobFilterOptions& filter,
                              std::int64_t& broadcaster, const std::string& state_help) {
  command->add_option("--state", filter.states, state_help)->type_name("STATE")->check(
      StateValidator());
  command->add_option("--topic", filter.topic, "Only jobs of this Cleeng topic")
      ->type_name("TOPIC");
  command->add_option("--adapter", filter.adapter,
                      "Only jobs with at least one attempt through this adapter")
      ->type_name("NAME");
  auto* broadcaster_option =
      command->add_option("--broadcaster", broadcaster, "Only jobs of this broadcaster id")
          ->type_name("ID");
  command->add_option("--subscription", filter.subscription_id,
                      "Only jobs of this subscription id")
      ->type_name("ID");
  command->add_option("--outcome", filter.outcome, "Only succeeded jobs with this outcome")
      ->type_name("approved|declined");
  command->add_option("--error", filter.error_text,
                      "Only jobs whose last error contains TEXT (case-insensitive; % and _ are "
                      "wildcards)")
      ->type_name("TEXT");
  const char* time_help =
      " (a duration back from now: 90s, 30m, 2h, 7d, 1w, 1h30m; or an ISO date/time, UTC unless "
      "it has a zone: 2026-11-29, 2026-11-29T10:15:00Z, 2026-11-29T10:15+01:00)";
  command->add_option("--since", filter.since, std::string("Created at or after TIME") + time_help)
      ->type_name("TIME");
  command->add_option("--until", filter.until, "Created before TIME")->type_name("TIME");
  command->add_option("--finished-since", filter.finished_since, "Finished at or after TIME")
      ->type_name("TIME");
  command->add_option("--finished-until", filter.finished_until, "Finished before TIME")
      ->type_name("TIME");
  return broadcaster_option;
}

void BuildApp(CLI::App& app, Invocation& invocation) {
  app.description(
      "payorch-admin: operator CLI for payorch (migrations, finding, replaying and cancelling "
      "jobs, stats, adapter conformance).");
  app.footer(
      "Examples:\n"
      "  PAYORCH_DATABASE_URL=postgresql://payorch@localhost/payorch payorch-admin migrate\n"
      "  payorch-admin jobs list --state dead --since 2h --limit 20\n"
      "  payorch-admin jobs show 42 --json\n"
      "  payorch-admin jobs replay 42 43 --reason 'adapter outage INC-123'\n"
      "  payorch-admin stats\n"
      "  payorch-admin adapter check 127.0.0.1:50051\n"
      "Exit codes: 0 done, 1 operation failed, 2 bad usage or bad input.");
  // No require_subcommand(): CLI11 would report a missing subcommand before an unknown flag;
  // RunAdminCli checks for a command after parsing instead.
  // Global options may also follow the subcommand ("payorch-admin jobs list --database-url ...").
  app.fallthrough();
  app.add_option("--database-url", invocation.config.database_url,
                 "PostgreSQL URL (libpq form); required by every command but adapter check")
      ->envname("PAYORCH_DATABASE_URL");

  auto* migrate = app.add_subcommand("migrate", "Apply pending database migrations (or --status)");
  migrate->footer("Example:\n  payorch-admin migrate --status");
  migrate->add_flag("--status", invocation.migrate.status_only,
                    "Only show each migration and whether it is applied; change nothing");
  migrate->callback([&invocation] { invocation.command = Command::kMigrate; });

  auto* jobs = app.add_subcommand("jobs", "Find, inspect, replay and cancel jobs");
  jobs->footer(
      "Examples:\n"
      "  payorch-admin jobs list --state dead\n"
      "  payorch-admin jobs show 42\n"
      "  payorch-admin jobs replay 42 --reason 'adapter fixed'\n"
      "  payorch-admin jobs cancel 43 --reason 'duplicate subscription'");
  jobs->callback([&invocation] {
    if (invocation.command == Command::kNone) invocation.command = Command::kJobsMissing;
  });

  auto* list = jobs->add_subcommand("list", "List jobs matching filters, newest first, one page");
  list->footer(
      "Examples:\n"
      "  payorch-admin jobs list --state dead --state in_doubt --limit 100 --json\n"
      "  payorch-admin jobs list --adapter sandbox --error timeout --since 2h\n"
      "  payorch-admin jobs list --finished-since 2026-11-29 --finished-until 2026-11-30 "
      "--outcome declined\n"
      "  payorch-admin jobs list --state dead --cursor 1234      (the next page)\n"
      "Filters combine with AND. Paging is by keyset: the last line (or \"next_cursor\" in JSON) "
      "names the next page, which stays stable however many jobs arrive meanwhile.\n"
      "JSON: {\"jobs\":[{\"id\",\"state\",\"topic\",\"broadcaster_id\",\"subscription_id\","
      "\"outcome\",\"attempts\",\"last_error\",\"created_at\",\"updated_at\",\"finished_at\"}, "
      "...],\"next_cursor\":\"N\"|null}");
  invocation.list_broadcaster_option =
      AddFilterOptions(list, invocation.list.filter, invocation.list_broadcaster,
                       "Only jobs in this state (repeatable, or comma-separated): " +
                           ValidStateNames());
  list->add_option("--limit", invocation.list.limit, "At most this many jobs")
      ->check(CLI::Range(1, db::kMaxListJobsLimit))
      ->capture_default_str();
  invocation.list_before_id_option =
      list->add_option("--before-id", invocation.list_before_id,
                       "The page of jobs listed after job ID (older than it)")
          ->type_name("ID");
  list->add_option("--cursor", invocation.list.cursor,
                   "The next page, as printed at the end of the previous one")
      ->type_name("CURSOR");
  list->add_flag("--json", invocation.list.json, "One JSON document instead of a table");
  list->callback([&invocation] { invocation.command = Command::kJobsList; });

  auto* show = jobs->add_subcommand(
      "show", "Show one job (by ID or --event-key) with its attempts and audit, or a "
              "subscription's jobs");
  show->footer(
      "Examples:\n"
      "  payorch-admin jobs show 42 --json\n"
      "  payorch-admin jobs show --event-key 'po1:...'\n"
      "  payorch-admin jobs show --subscription 332332332\n"
      "The raw event is shown with the values of token and customerEmail replaced by \"***\".\n"
      "JSON: {\"job\":{...},\"attempts\":[...],\"audit\":[...]} (by subscription: the jobs list "
      "shape); see services/admin/README.md.");
  invocation.show_id_option = show->add_option("id", invocation.show_id, "Job id");
  show->add_option("--event-key", invocation.show.event_key, "The job of this event key")
      ->type_name("KEY");
  show->add_option("--subscription", invocation.show.subscription_id,
                   "List every job of this subscription id instead")
      ->type_name("ID");
  show->add_flag("--json", invocation.show.json, "One JSON document instead of text");
  show->callback([&invocation] { invocation.command = Command::kJobsShow; });

  auto* replay = jobs->add_subcommand(
      "replay", "Queue final jobs again (dead by default), keeping key and history; audited");
  replay->footer(
      "Examples:\n"
      "  payorch-admin jobs replay 42 43 --reason 'adapter outage INC-123'\n"
      "  payorch-admin jobs replay --filter --adapter sandbox --since 2h --dry-run --reason x\n"
      "  payorch-admin jobs replay --filter --error UNAVAILABLE --max-jobs 500 --rate 10 "
      "--reason 'INC-123'\n"
      "A replayed job becomes queued and due now with the same idempotency key, so the gateway "
      "sees the same request again; its attempt history stays (attempt numbers continue) and "
      "the attempts spent so far are recorded as attempts_at_replay, where its new attempt "
      "budget starts. Only dead jobs are replayed unless --allow-state says otherwise; queued, running "
      "and in_doubt jobs never are. Replaying a job that is no longer dead (a second replay, or "
      "one racing another operator) changes nothing. Each job changes in one transaction with "
      "its audit row (actor, time, reason, state before).\n"
      "--allow-state succeeded: the adapter answers a repeated key with the stored result, so "
      "this is safe but normally pointless; use it only when a gateway lost a result.\n"
      "JSON (--json): {\"action\":\"replay\",\"dry_run\",\"operation_id\",\"actor\",\"reason\","
      "\"jobs\":[{\"id\",\"result\":\"replayed|would_replay|skipped|not_found\",\"state\"}],"
      "\"changed\",\"skipped\",\"not_found\"}\n"
      "Exit: 0 done (skipped jobs included), 1 a job id does not exist or the database failed, "
      "2 bad input or more matches than --max-jobs (nothing changed).");
  replay->add_option("ids", invocation.replay.job_ids, "Job ids to replay")->type_name("ID...");
  replay->add_flag("--filter", invocation.replay.use_filter,
                   "Replay the jobs matching the filter options below instead of ids");
  invocation.replay_broadcaster_option = AddFilterOptions(
      replay, invocation.replay.filter, invocation.replay_broadcaster,
      "With --filter: only jobs in this state (default: every replayable state)");
  replay->add_option("--allow-state", invocation.replay.allow_states,
                     "Also replay jobs in this final state: cancelled or succeeded (repeatable)")
      ->type_name("STATE");
  replay->add_flag("--dry-run", invocation.replay.dry_run,
                   "Only list what would be replayed; change nothing");
  replay->add_option("--reason", invocation.replay.reason, "Why (required; stored in the audit)")
      ->type_name("TEXT");
  replay->add_option("--actor", invocation.replay.actor, "Who (default: the OS user)")
      ->type_name("NAME")
      ->envname("PAYORCH_ADMIN_ACTOR");
  replay->add_option("--max-jobs", invocation.replay.max_jobs,
                     "Refuse (changing nothing) when more jobs than this would be replayed")
      ->capture_default_str();
  replay->add_option("--rate", invocation.replay.rate, "At most this many replays per second")
      ->capture_default_str();
  replay->add_flag("--json", invocation.replay.json, "One JSON document instead of text");
  replay->callback([&invocation] { invocation.command = Command::kJobsReplay; });

  auto* cancel = jobs->add_subcommand("cancel", "Cancel queued jobs; audited");
  cancel->footer(
      "Examples:\n"
      "  payorch-admin jobs cancel 42 --reason 'customer refunded by support'\n"
      "  payorch-admin jobs cancel 42 --allow-in-doubt --reason 'confirmed with the gateway'\n"
      "Only queued jobs are cancelled (in_doubt ones with --allow-in-doubt: their last call may "
      "have charged the customer, check with the gateway first); running and final jobs never "
      "are. Each job changes in one transaction with its audit row.\n"
      "JSON (--json): the jobs replay shape with \"action\":\"cancel\" and results "
      "cancelled|would_cancel|skipped|not_found.");
  cancel->add_option("ids", invocation.cancel.job_ids, "Job ids to cancel")->type_name("ID...");
  cancel->add_flag("--allow-in-doubt", invocation.cancel.allow_in_doubt,
                   "Also cancel in_doubt jobs");
  cancel->add_flag("--dry-run", invocation.cancel.dry_run,
                   "Only list what would be cancelled; change nothing");
  cancel->add_option("--reason", invocation.cancel.reason, "Why (required; stored in the audit)")
      ->type_name("TEXT");
  cancel->add_option("--actor", invocation.cancel.actor, "Who (default: the OS user)")
      ->type_name("NAME")
      ->envname("PAYORCH_ADMIN_ACTOR");
  cancel->add_flag("--json", invocation.cancel.json, "One JSON document instead of text");
  cancel->callback([&invocation] { invocation.command = Command::kJobsCancel; });

  // jobs prune (retention; prune_command.hpp).
  auto* prune = jobs->add_subcommand(
      "prune", "Delete finished jobs (with their attempts and audit rows) and ignored events "
               "older than a bound, in small batches; once or on a schedule");
  prune->footer(
      "Examples:\n"
      "  payorch-admin jobs prune --finished-before 400d --dry-run\n"
      "  payorch-admin jobs prune --finished-before 2025-10-01 --batch-size 500 --max-batches 100\n"
      "  payorch-admin jobs prune --finished-before 400d --every 1h --json   (until SIGTERM)\n"
      "Deletes jobs that are succeeded, dead or cancelled and finished before the bound, their "
      "job_attempts and job_audit rows, and ignored events received before it. Each batch is one "
      "short transaction that skips (never waits for) jobs another transaction holds; queued, "
      "running and in_doubt jobs, and a job replayed meanwhile, are never touched. Finished jobs "
      "are the payment audit trail: keep them as long as reconciliation and disputes need.\n"
      "JSON (--json, one line per run): {\"dry_run\",\"finished_before\",\"jobs\",\"attempts\","
      "\"audit_rows\",\"ignored_events\",\"batches\",\"seconds\",\"complete\"}\n"
      "Exit: 0 done (--every: stopped by SIGTERM or SIGINT), 1 the database failed, 2 bad usage "
      "(nothing changed).");
  prune->add_option("--finished-before", invocation.prune.finished_before,
                    "Prune what finished before TIME: a duration back from now (30d, 13w) or an "
                    "ISO date/time (required)")
      ->type_name("TIME")
      ->envname("PAYORCH_PRUNE_FINISHED_BEFORE");
  prune->add_option("--batch-size", invocation.prune.batch_size, "Jobs per transaction")
      ->check(CLI::Range(1, db::kMaxPruneBatchSize))
      ->capture_default_str()
      ->envname("PAYORCH_PRUNE_BATCH_SIZE");
  prune->add_option("--max-batches", invocation.prune.max_batches,
                    "At most this many batches per run (0: no limit but --max-duration)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->envname("PAYORCH_PRUNE_MAX_BATCHES");
  prune->add_option("--max-duration", invocation.prune.max_duration,
                    "Stop a run after this long (a duration); the next run continues")
      ->type_name("DURATION")
      ->capture_default_str()
      ->envname("PAYORCH_PRUNE_MAX_DURATION");
  prune->add_option("--every", invocation.prune.every,
                    "Keep running: prune, then again every DURATION, until SIGTERM/SIGINT")
      ->type_name("DURATION")
      ->envname("PAYORCH_PRUNE_EVERY");
  prune->add_flag("--dry-run", invocation.prune.dry_run, "Only count what would be pruned");
  prune->add_flag("--json", invocation.prune.json, "One JSON document per run instead of text");
  prune->callback([&invocation] { invocation.command = Command::kJobsPrune; });

  auto* stats = app.add_subcommand(
      "stats", "Job counts by state, topic, adapter, outcome; due backlog; recent throughput");
  stats->footer(
      "Example:\n"
      "  payorch-admin stats --window 7d --json\n"
      "Unfinished jobs (queued, running, in_doubt) are all counted; final ones (succeeded, dead, "
      "cancelled, outcomes) only when they finished within --window, so that the cost follows "
      "the backlog, not the history. Throughput and failure rate (dead / (succeeded + dead)) "
      "cover jobs finished in the last 5 minutes and the last hour. JSON shape: see "
      "services/admin/README.md.");
  stats->add_option("--window", invocation.stats.window,
                    "Count final jobs finished within this DURATION (e.g. 24h, 7d)")
      ->type_name("DURATION")
      ->capture_default_str();
  stats->add_flag("--json", invocation.stats.json, "One JSON document instead of tables");
  stats->callback([&invocation] { invocation.command = Command::kStats; });

  auto* adapter = app.add_subcommand("adapter", "Check gateway adapters");
  adapter->footer("Example:\n  payorch-admin adapter check 127.0.0.1:50051");
  adapter->callback([&invocation] {
    if (invocation.command == Command::kNone) invocation.command = Command::kAdapterMissing;
  });
  auto* check = adapter->add_subcommand(
      "check", "Run the conformance suite against a live adapter (or only its health check)");
  check->footer(
      "Examples:\n"
      "  payorch-admin adapter check 127.0.0.1:50051\n"
      "  payorch-admin adapter check adapter.internal:50051 --timeout-ms 500 --json\n"
      "  payorch-admin adapter check 127.0.0.1:50051 --health-only     (container health)\n"
      "  payorch-admin adapter check adapter.internal:50051 --tls-ca-file ca.pem \\\n"
      "      --tls-cert-file client.pem --tls-key-file client-key.pem     (mutual TLS)\n"
      "Checks, in order: health, authorize_valid, capture_valid, terminate_valid,\n"
      "invalid_missing_meta, invalid_empty_key, idempotent_repeat, status_known_key,\n"
      "idempotent_concurrent, status_unknown_key, short_deadline, error_code_mapping.\n"
      "The valid requests are real payment steps (fresh keys conf_<random>_<n>, amount 100 USD, "
      "token --token): run it against a test account, not from a health probe.\n"
      "Exit: 0 every check passed (--health-only: SERVING), 1 any failed (unreachable "
      "included), 2 bad usage.\n"
      "JSON: {\"address\",\"service\",\"status\",\"grpc_status\",\"error\",\"latency_ms\","
      "\"serving\",\"checks\":[{\"name\",\"passed\",\"reason\"}],\"passed\",\"failed\","
      "\"conformant\"} (--health-only: without the last four)");
  check->add_option("address", invocation.adapter_check.address, "host:port of the adapter")
      ->required();
  check->add_option("--service", invocation.adapter_check.service,
                    "Health of this service name (default: the whole server)");
  check->add_option("--timeout-ms", invocation.adapter_check.timeout_ms, "Deadline of each call")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  check->add_option("--token", invocation.adapter_check.token,
                    "SubscriptionEvent.token of the valid requests (the adapter must approve it)")
      ->check(CLI::Validator(
          [](std::string& value) {
            return value.empty() || value.size() > 256 ? std::string("1..256 characters")
                                                       : std::string();
          },
          "", "token"))
      ->capture_default_str();
  check->add_flag("--health-only", invocation.adapter_check.health_only,
                  "Only the grpc.health.v1 Health/Check call: no payment steps");
  check->add_flag("--json", invocation.adapter_check.json, "One JSON document instead of text");
  auto& tls = invocation.adapter_check.tls;
  check->add_flag("--tls", tls.enabled,
                  "Connect with TLS (implied by the other --tls-* options; default: plaintext)");
  check->add_option("--tls-ca-file", tls.ca_file,
                    "PEM CA that signed the adapter's certificate (default: system roots)");
  check->add_option("--tls-cert-file", tls.cert_file,
                    "PEM client certificate, for adapters that require mutual TLS");
  check->add_option("--tls-key-file", tls.key_file, "PEM private key of --tls-cert-file");
  check->add_option("--tls-server-name", tls.server_name,
                    "Name to verify in the adapter's certificate (default: the address's host)");
  check->callback([&invocation] {
    invocation.command = Command::kAdapterCheck;
    auto& tls = invocation.adapter_check.tls;
    tls.enabled = tls.enabled || !tls.ca_file.empty() || !tls.cert_file.empty() ||
                  !tls.key_file.empty() || !tls.server_name.empty();
    // Files are read now, so that a missing or foreign file is a usage error (exit 2), not a
    // failed check.
    if (const auto credentials = core::MakeChannelCredentials(tls); !credentials) {
      // core names the settings ca_file, cert_file, key_file: say which flag that is.
      std::string message = credentials.error();
      for (const auto& [setting, flag] :
           {std::pair<std::string, std::string>{"ca_file:", "--tls-ca-file:"},
            {"cert_file:", "--tls-cert-file:"}, {"key_file:", "--tls-key-file:"}}) {
        if (message.starts_with(setting)) message = flag + message.substr(setting.size());
      }
      throw CLI::ValidationError("TLS options", message);
    }
  });
}

// Copies the options whose absence matters into the command options.
void ResolveOptionalOptions(Invocation& invocation) {
  if (invocation.list_broadcaster_option->count() > 0) {
    invocation.list.filter.broadcaster_id = invocation.list_broadcaster;
  }
  if (invocation.list_before_id_option->count() > 0) {
    invocation.list.before_id = invocation.list_before_id;
  }
  if (invocation.replay_broadcaster_option->count() > 0) {
    invocation.replay.filter.broadcaster_id = invocation.replay_broadcaster;
  }
  if (invocation.show_id_option->count() > 0) invocation.show.job_id = invocation.show_id;
}

// The one-line usage problem of the parsed request, or empty.
std::string Validate(const Invocation& invocation) {
  switch (invocation.command) {
    case Command::kJobsList: return ValidateJobsListOptions(invocation.list);
    case Command::kJobsShow: return ValidateJobsShowOptions(invocation.show);
    case Command::kJobsReplay: return ValidateJobsReplayOptions(invocation.replay);
    case Command::kJobsCancel: return ValidateJobsCancelOptions(invocation.cancel);
    case Command::kJobsPrune: return ValidateJobsPruneOptions(invocation.prune);
    default: return {};
  }
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

  ResolveOptionalOptions(invocation);

  if (invocation.command == Command::kNone) {
    PrintError(err, std::string("a command is required: migrate, jobs, stats or adapter (see ") +
                        kProgram + " --help)");
    return kExitUsage;
  }
  if (invocation.command == Command::kJobsMissing) {
    PrintError(err, std::string("jobs needs a subcommand: list, show, replay, cancel or prune (see ") +
                        kProgram + " jobs --help)");
    return kExitUsage;
  }
  if (invocation.command == Command::kAdapterMissing) {
    PrintError(err, std::string("adapter needs a subcommand: check (see ") + kProgram +
                        " adapter --help)");
    return kExitUsage;
  }
  // Usage errors before the connection: a bad request is exit 2 even when the database is down.
  if (auto problem = Validate(invocation); !problem.empty()) {
    PrintError(err, problem);
    return kExitUsage;
  }
  if (invocation.command == Command::kAdapterCheck) {
    return RunAdapterCheck(invocation.adapter_check, out, err);
  }
  if (invocation.config.database_url.empty()) {
    PrintError(err, "--database-url (or PAYORCH_DATABASE_URL) is required");
    return kExitUsage;
  }

  auto connection = ConnectOrReport(invocation.config, err);
  if (!connection) return kExitFailure;
  switch (invocation.command) {
    case Command::kMigrate: return RunMigrate(*connection, invocation.migrate, out, err);
    case Command::kJobsList: return RunJobsList(*connection, invocation.list, out, err);
    case Command::kJobsShow: return RunJobsShow(*connection, invocation.show, out, err);
    case Command::kJobsReplay: return RunJobsReplay(*connection, invocation.replay, out, err);
    case Command::kJobsCancel: return RunJobsCancel(*connection, invocation.cancel, out, err);
    case Command::kJobsPrune: return RunJobsPrune(*connection, invocation.prune, out, err);
    case Command::kStats: return RunStats(*connection, invocation.stats, out, err);
    case Command::kNone:
    case Command::kJobsMissing:
    case Command::kAdapterMissing:
    case Command::kAdapterCheck: break;
  }
  // All were answered above; say so rather than exit 0 silently.
  PrintError(err, "no command given");
  return kExitUsage;
}

}  // namespace payorch::admin
