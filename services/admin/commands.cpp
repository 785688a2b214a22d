#include "services/admin/commands.hpp"

#include <optional>
#include <random>

#include <boost/json.hpp>

#include "db/database.hpp"
#include "db/job_queries.hpp"
#include "db/migrator.hpp"
#include "services/admin/conformance.hpp"
#include "services/admin/conformance_views.hpp"
#include "services/admin/health_check.hpp"
#include "services/admin/job_views.hpp"
#include "services/admin/state_filter.hpp"
#include "services/admin/stats_views.hpp"
#include "services/admin/table.hpp"
#include "services/admin/time_bounds.hpp"

namespace payorch::admin {

std::string OneLine(std::string_view text) {
  std::string line;
  line.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      pending_space = !line.empty();
      continue;
    }
    if (pending_space && c != ' ' && line.back() != ' ') line += ' ';
    pending_space = false;
    line += c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return SanitizeCell(line);
}

void PrintError(std::ostream& err, std::string_view message) {
  err << "payorch-admin: " << OneLine(message) << '\n';
}

int RunMigrate(pqxx::connection& connection, const MigrateOptions& options, std::ostream& out,
               std::ostream& err) {
  return ReportingDatabaseErrors(err, [&] {
    db::Migrator migrator(connection);
    if (options.status_only) {
      const auto statuses = migrator.Status();
      Table table({"MIGRATION", "STATE", "APPLIED AT"});
      std::size_t pending = 0;
      for (const auto& status : statuses) {
        if (!status.applied) ++pending;
        table.AddRow({status.name, status.applied ? "applied" : "pending",
                      status.applied_at.empty() ? "-" : status.applied_at});
      }
      table.Print(out);
      out << (statuses.size() - pending) << " applied, " << pending << " pending\n";
      return kExitOk;
    }
    const auto applied = migrator.Migrate();
    if (applied.empty()) out << "database is up to date\n";
    for (const auto& name : applied) out << "applied " << name << '\n';
    return kExitOk;
  });
}

namespace {

// An opaque paging cursor is the id of the last job of the previous page, in decimal.
std::optional<std::int64_t> ParseCursor(const std::string& cursor) {
  if (cursor.empty() || cursor.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  for (char c : cursor) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value <= 0) return std::nullopt;
  return value;
}

std::string TimeOption(const char* flag, const std::string& text,
                       std::chrono::system_clock::time_point now, std::string& problem) {
  if (text.empty() || !problem.empty()) return {};
  auto time = ParseTimePoint(text, now);
  if (!time) {
    problem = std::string(flag) + ": " + time.error();
    return {};
  }
  return FormatUtc(*time);
}

}  // namespace

core::Result<db::JobListFilter, std::string> BuildJobListFilter(
    const JobFilterOptions& options, std::chrono::system_clock::time_point now) {
  db::JobListFilter filter;
  auto states = ParseStateFilter(options.states);
  if (!states) return states.error();
  filter.states = std::move(states).value();
  if (!options.outcome.empty() && options.outcome != "approved" &&
      options.outcome != "declined") {
    return "bad outcome '" + options.outcome + "': expected approved or declined";
  }
  filter.topic = options.topic;
  filter.adapter = options.adapter;
  filter.broadcaster_id = options.broadcaster_id;
  filter.subscription_id = options.subscription_id;
  filter.outcome = options.outcome;
  filter.error_text = options.error_text;
  std::string problem;
  filter.created_since = TimeOption("--since", options.since, now, problem);
  filter.created_until = TimeOption("--until", options.until, now, problem);
  filter.finished_since = TimeOption("--finished-since", options.finished_since, now, problem);
  filter.finished_until = TimeOption("--finished-until", options.finished_until, now, problem);
  if (!problem.empty()) return problem;
  return filter;
}

std::string ValidateJobsListOptions(const JobsListOptions& options) {
  if (options.limit < 1 || options.limit > db::kMaxListJobsLimit) {
    return "--limit must be between 1 and " + std::to_string(db::kMaxListJobsLimit) + ", not " +
           std::to_string(options.limit);
  }
  if (options.before_id && !options.cursor.empty()) {
    return "--before-id and --cursor both name a page: give one";
  }
  if (options.before_id && *options.before_id < 1) return "--before-id must be a job id";
  if (!options.cursor.empty() && !ParseCursor(options.cursor)) {
    return "bad --cursor '" + options.cursor + "': pass the value a previous page printed";
  }
  auto filter = BuildJobListFilter(options.filter, options.now);
  if (!filter) return filter.error();
  return {};
}

std::string ValidateJobsShowOptions(const JobsShowOptions& options) {
  const int given = (options.job_id ? 1 : 0) + (options.event_key.empty() ? 0 : 1) +
                    (options.subscription_id.empty() ? 0 : 1);
  if (given != 1) return "jobs show needs exactly one of ID, --event-key or --subscription";
  return {};
}

int RunJobsList(pqxx::connection& connection, const JobsListOptions& options, std::ostream& out,
                std::ostream& err) {
  if (const auto problem = ValidateJobsListOptions(options); !problem.empty()) {
    PrintError(err, problem);
    return kExitUsage;
  }
  db::JobListFilter filter = BuildJobListFilter(options.filter, options.now).value();
  filter.limit = options.limit;
  filter.before_id = options.before_id ? options.before_id : ParseCursor(options.cursor);
  return ReportingDatabaseErrors(err, [&] {
    const auto page = db::ListJobs(connection, filter);
    if (options.json) {
      out << boost::json::serialize(JobListDocument(page)) << '\n';
    } else {
      PrintJobListTable(page, out);
    }
    return kExitOk;
  });
}

int RunJobsShow(pqxx::connection& connection, const JobsShowOptions& options, std::ostream& out,
                std::ostream& err) {
  if (const auto problem = ValidateJobsShowOptions(options); !problem.empty()) {
    PrintError(err, problem);
    return kExitUsage;
  }
  return ReportingDatabaseErrors(err, [&] {
    if (!options.subscription_id.empty()) {
      db::JobListFilter filter;
      filter.subscription_id = options.subscription_id;
      filter.limit = db::kMaxListJobsLimit;
      const auto page = db::ListJobs(connection, filter);
      if (page.jobs.empty()) {
        PrintError(err, "no jobs for subscription " + options.subscription_id);
        return kExitFailure;
      }
      if (options.json) {
        out << boost::json::serialize(JobListDocument(page)) << '\n';
      } else {
        PrintJobListTable(page, out);
      }
      return kExitOk;
    }
    std::optional<std::int64_t> id = options.job_id;
    if (!options.event_key.empty()) {
      id = db::FindJobIdByEventKey(connection, options.event_key);
      if (!id) {
        PrintError(err, "no job with event key " + options.event_key);
        return kExitFailure;
      }
    }
    const auto job = db::FindJob(connection, *id);
    if (!job) {
      PrintError(err, "job " + std::to_string(*id) + " not found");
      return kExitFailure;
    }
    // Separate statements, separate snapshots: an attempt recorded in between shows up in the
    // list while the job row above it is older. Harmless for a read-only view.
    const auto attempts = db::ListAttempts(connection, *id);
    const auto audit = db::ListAuditEntries(connection, *id);
    if (options.json) {
      out << boost::json::serialize(JobDetailDocument(*job, attempts, audit)) << '\n';
    } else {
      PrintJobDetail(*job, attempts, audit, out);
    }
    return kExitOk;
  });
}

int RunStats(pqxx::connection& connection, const StatsOptions& options, std::ostream& out,
             std::ostream& err) {
  const auto window = ParseDuration(options.window);
  if (!window) {
    PrintError(err, "--window: " + window.error());
    return kExitUsage;
  }
  return ReportingDatabaseErrors(err, [&] {
    const auto stats = db::ReadJobStats(connection, static_cast<int>(window->count()));
    if (options.json) {
      out << boost::json::serialize(StatsDocument(stats)) << '\n';
    } else {
      PrintStats(stats, out);
    }
    return kExitOk;
  });
}

int RunAdapterCheck(const AdapterCheckOptions& options, std::ostream& out, std::ostream& err) {
  if (options.health_only) {
    const auto report = CheckAdapterHealth(options.address, options.service,
                                           std::chrono::milliseconds(options.timeout_ms),
                                           options.tls);
    if (options.json) {
      out << boost::json::serialize(HealthReportDocument(report)) << '\n';
    } else {
      PrintHealthReport(report, out);
    }
    if (report.Serving()) return kExitOk;
    PrintError(err, "adapter " + options.address + " is not serving: " +
                        (report.error.empty() ? report.serving_status
                                              : report.grpc_status + ": " + report.error));
    return kExitFailure;
  }

  ConformanceOptions conformance;
  conformance.address = options.address;
  conformance.service = options.service;
  conformance.token = options.token;
  conformance.timeout = std::chrono::milliseconds(options.timeout_ms);
  conformance.run_id = options.run_id;
  conformance.tls = options.tls;
  if (conformance.run_id.empty()) {
    std::random_device random;
    conformance.run_id = NewConformanceRunId(
        (static_cast<std::uint64_t>(random()) << 32) | static_cast<std::uint64_t>(random()));
  }
  const auto report = RunConformanceSuite(conformance);
  if (options.json) {
    out << boost::json::serialize(ConformanceReportDocument(report)) << '\n';
  } else {
    PrintConformanceReport(report, out);
  }
  if (report.AllPassed()) return kExitOk;
  std::string failed;
  for (const auto& name : report.FailedNames()) failed += (failed.empty() ? "" : ", ") + name;
  if (!report.health.Serving()) {
    PrintError(err, "adapter " + options.address + " is not serving (" +
                        (report.health.error.empty()
                             ? report.health.serving_status
                             : report.health.grpc_status + ": " + report.health.error) +
                        "); failed checks: " + failed);
  } else {
    PrintError(err, "adapter " + options.address + " failed " +
                        std::to_string(report.FailedNames().size()) + " of " +
                        std::to_string(report.checks.size()) + " conformance checks: " + failed);
  }
  return kExitFailure;
}

}  // namespace payorch::admin
