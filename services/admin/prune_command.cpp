// `jobs prune`: retention of finished jobs. The deleting is db/job_retention.cpp; here are the
// bounds (batch size, batches, duration), the schedule and the report.
#include "services/admin/prune_command.hpp"

#include <atomic>
#include <csignal>
#include <thread>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "db/database.hpp"
#include "services/admin/commands.hpp"
#include "services/admin/time_bounds.hpp"

namespace payorch::admin {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using std::chrono::system_clock;

// The schedule's wait is cut in steps this long, so that a stop is noticed promptly.
constexpr milliseconds kStopPollStep{100};

// Set by SIGTERM/SIGINT while `jobs prune --every` runs (a lock-free atomic is signal-safe).
std::atomic<bool> stop_signal{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void OnStopSignal(int /*signal*/) { stop_signal.store(true); }

void InstallStopHandlers() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
}

bool IsDurationForm(const std::string& text) {
  return ParseDuration(text).ok();
}

system_clock::time_point Now(const JobsPruneOptions& options) {
  return options.clock ? options.clock() : system_clock::now();
}

}  // namespace

std::string ValidateJobsPruneOptions(const JobsPruneOptions& options) {
  if (options.finished_before.empty()) {
    return "--finished-before is required (a duration such as 30d, or an ISO date)";
  }
  const auto now = Now(options);
  const auto bound = ParseTimePoint(options.finished_before, now);
  if (!bound) return "--finished-before: " + bound.error();
  if (*bound > now) return "--finished-before " + options.finished_before + " is in the future";
  if (options.batch_size < 1 || options.batch_size > db::kMaxPruneBatchSize) {
    return "--batch-size must be between 1 and " + std::to_string(db::kMaxPruneBatchSize);
  }
  if (options.max_batches < 0) return "--max-batches must be 0 (no limit) or more";
  if (auto duration = ParseDuration(options.max_duration); !duration) {
    return "--max-duration: " + duration.error();
  }
  if (!options.every.empty()) {
    const auto every = ParseDuration(options.every);
    if (!every) return "--every: " + every.error();
    if (*every < kMinPruneEvery) return "--every must be at least 1s";
    if (!IsDurationForm(options.finished_before)) {
      return "--every needs --finished-before as a duration (such as 30d): a fixed date would "
             "prune nothing new after the first run";
    }
  }
  return {};
}

PruneReport PruneOnce(pqxx::connection& connection, const JobsPruneOptions& options,
                      const std::string& bound, const std::function<bool()>& stop_requested) {
  PruneReport report;
  report.finished_before = bound;
  report.dry_run = options.dry_run;
  const auto started = steady_clock::now();
  const auto max_duration = ParseDuration(options.max_duration).value();
  // True when the run must end before another batch; `complete` says whether work was left.
  const auto out_of_budget = [&] {
    return (options.max_batches > 0 && report.batches >= options.max_batches) ||
           steady_clock::now() - started >= max_duration || stop_requested();
  };
  if (options.dry_run) {
    report.removed = db::CountPrunable(connection, bound);
  } else {
    // Jobs first, then ignored events; each batch is its own transaction. A short batch means
    // nothing more was prunable (or the rest was locked: the next run takes it).
    bool jobs_left = true;
    while (jobs_left) {
      if (out_of_budget()) {
        report.complete = false;
        break;
      }
      const auto batch = db::PruneFinishedJobsBatch(connection, bound, options.batch_size);
      if (batch.jobs > 0) ++report.batches;
      report.removed += batch;
      jobs_left = batch.jobs == options.batch_size;
    }
    bool events_left = report.complete;
    while (events_left) {
      if (out_of_budget()) {
        report.complete = false;
        break;
      }
      const auto deleted = db::PruneIgnoredEventsBatch(connection, bound, options.batch_size);
      if (deleted > 0) ++report.batches;
      report.removed.ignored_events += deleted;
      events_left = deleted == options.batch_size;
    }
    report.partitions_dropped = db::DropEmptyJobPartitions(connection);
    report.partitions_sealed = db::SealFinishedJobPartitions(connection);
  }
  report.seconds = std::chrono::duration<double>(steady_clock::now() - started).count();
  return report;
}

void PrintPruneReport(const PruneReport& report, bool json, std::ostream& out) {
  const auto& r = report.removed;
  if (json) {
    out << boost::json::serialize(boost::json::object{
               {"dry_run", report.dry_run},
               {"finished_before", report.finished_before},
               {"jobs", r.jobs},
               {"attempts", r.attempts},
               {"audit_rows", r.audit_rows},
               {"ignored_events", r.ignored_events},
               {"batches", report.batches},
               {"seconds", report.seconds},
               {"complete", report.complete},
               {"partitions_dropped", boost::json::array(report.partitions_dropped.begin(),
                                                         report.partitions_dropped.end())},
               {"partitions_sealed", boost::json::array(report.partitions_sealed.begin(),
                                                        report.partitions_sealed.end())},
           })
        << '\n'
        << std::flush;  // --every: each run's line is visible when it is printed
    return;
  }
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", report.seconds);
  out << (report.dry_run ? "dry run, nothing changed: would prune " : "pruned ") << r.jobs
      << " jobs, " << r.attempts << " attempts, " << r.audit_rows << " audit rows, "
      << r.ignored_events << " ignored events finished before " << report.finished_before;
  if (!report.dry_run) out << " in " << report.batches << " batches";
  out << ", " << seconds << " s";
  if (!report.partitions_dropped.empty()) {
    out << "; dropped the emptied partitions of jobs";
    for (const auto& name : report.partitions_dropped) out << ' ' << name;
  }
  if (!report.partitions_sealed.empty()) {
    out << "; sealed the finished partitions of jobs";
    for (const auto& name : report.partitions_sealed) out << ' ' << name;
  }
  if (!report.complete) out << " (stopped by --max-batches or --max-duration: more remains)";
  out << '\n' << std::flush;
}

int RunJobsPrune(pqxx::connection& connection, const JobsPruneOptions& options, std::ostream& out,
                 std::ostream& err) {
  if (const auto problem = ValidateJobsPruneOptions(options); !problem.empty()) {
    PrintError(err, problem);
    return kExitUsage;
  }
  const bool scheduled = !options.every.empty();
  std::function<bool()> stop_requested = options.stop_requested;
  if (!stop_requested) {
    if (scheduled) InstallStopHandlers();
    stop_requested = [] { return stop_signal.load(); };
  }
  const auto sleep = options.sleep ? options.sleep : [](milliseconds d) {
    std::this_thread::sleep_for(d);
  };
  // The log line of each run is the prune's record (a prune is maintenance, not an operator
  // action on a job, so it has no job_audit rows); payorch-admin logs only warnings otherwise.
  if (spdlog::get_level() > spdlog::level::info) spdlog::set_level(spdlog::level::info);

  const auto every = scheduled ? ParseDuration(options.every).value() : std::chrono::seconds(0);
  while (true) {
    const auto started = steady_clock::now();
    const std::string bound = FormatUtc(ParseTimePoint(options.finished_before, Now(options)).value());
    try {
      const auto report = PruneOnce(connection, options, bound, stop_requested);
      PrintPruneReport(report, options.json, out);
      const auto& r = report.removed;
      spdlog::info(
          "prune run dry_run={} finished_before={} jobs={} attempts={} audit_rows={} "
          "ignored_events={} batches={} duration_ms={} complete={} partitions_dropped={} "
          "partitions_sealed={}",
          report.dry_run, report.finished_before, r.jobs, r.attempts, r.audit_rows,
          r.ignored_events, report.batches, static_cast<std::int64_t>(report.seconds * 1000),
          report.complete, report.partitions_dropped.size(), report.partitions_sealed.size());
    } catch (const db::DatabaseError& e) {
      spdlog::error("prune run failed finished_before={} error=\"{}\"", bound, OneLine(e.what()));
      PrintError(err, e.what());
      if (!scheduled) return kExitFailure;
    }
    if (!scheduled) return kExitOk;
    // Next run `every` after this one started (not after it ended), stopping on a signal.
    const auto next = started + every;
    while (!stop_requested() && steady_clock::now() < next) {
      sleep(std::min(kStopPollStep, std::chrono::duration_cast<milliseconds>(
                                        next - steady_clock::now()) + milliseconds(1)));
    }
    if (stop_requested()) {
      spdlog::info("prune schedule stopped");
      return kExitOk;
    }
  }
}

}  // namespace payorch::admin
