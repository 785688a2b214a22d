#include "services/admin/commands.hpp"

#include <boost/json.hpp>

#include "db/database.hpp"
#include "db/job_queries.hpp"
#include "db/migrator.hpp"
#include "services/admin/job_views.hpp"
#include "services/admin/state_filter.hpp"
#include "services/admin/table.hpp"

namespace payorch::admin {

namespace {

// Runs a command body, turning the database layer's exception into exit code 1. Anything else
// escaping is a bug and is left to terminate the process loudly.
template <typename Fn>
int ReportingDatabaseErrors(std::ostream& err, Fn&& body) {
  try {
    return body();
  } catch (const db::DatabaseError& e) {
    PrintError(err, e.what());
    return kExitFailure;
  }
}

}  // namespace

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

std::string ValidateJobsListOptions(const JobsListOptions& options) {
  if (options.limit < 1 || options.limit > db::kMaxListJobsLimit) {
    return "--limit must be between 1 and " + std::to_string(db::kMaxListJobsLimit) + ", not " +
           std::to_string(options.limit);
  }
  auto states = ParseStateFilter(options.states);
  if (!states) return states.error();
  return {};
}

int RunJobsList(pqxx::connection& connection, const JobsListOptions& options, std::ostream& out,
                std::ostream& err) {
  if (const auto problem = ValidateJobsListOptions(options); !problem.empty()) {
    PrintError(err, problem);
    return kExitUsage;
  }
  db::JobListFilter filter;
  filter.states = ParseStateFilter(options.states).value();
  filter.limit = options.limit;
  return ReportingDatabaseErrors(err, [&] {
    const auto jobs = db::ListJobs(connection, filter);
    if (options.json) {
      out << boost::json::serialize(JobListDocument(jobs)) << '\n';
    } else {
      PrintJobListTable(jobs, out);
    }
    return kExitOk;
  });
}

int RunJobsShow(pqxx::connection& connection, const JobsShowOptions& options, std::ostream& out,
                std::ostream& err) {
  return ReportingDatabaseErrors(err, [&] {
    const auto job = db::FindJob(connection, options.job_id);
    if (!job) {
      PrintError(err, "job " + std::to_string(options.job_id) + " not found");
      return kExitFailure;
    }
    // Two statements, two snapshots: an attempt recorded in between shows up in the list
    // while the job row above it is older. Harmless for a read-only view.
    const auto attempts = db::ListAttempts(connection, options.job_id);
    if (options.json) {
      out << boost::json::serialize(JobDetailDocument(*job, attempts)) << '\n';
    } else {
      PrintJobDetail(*job, attempts, out);
    }
    return kExitOk;
  });
}

}  // namespace payorch::admin
