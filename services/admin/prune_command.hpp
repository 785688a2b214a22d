#pragma once

#include <chrono>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "db/job_retention.hpp"

namespace payorch::admin {

// `payorch-admin jobs prune`: deletes the history of finished jobs (db/job_retention.hpp) in
// bounded batches, once or on a schedule.

inline constexpr int kDefaultPruneBatchSize = 1000;
// One run stops after this long even with prunable rows left (the next run continues).
inline constexpr const char* kDefaultPruneMaxDuration = "1h";
// --every: the shortest schedule accepted.
inline constexpr std::chrono::seconds kMinPruneEvery{1};

struct JobsPruneOptions {
  // Required: a duration back from now ("30d") or an ISO date/time (time_bounds.hpp). Jobs
  // finished before it, and ignored events received before it, are deleted.
  std::string finished_before{};
  int batch_size = kDefaultPruneBatchSize;  // 1..db::kMaxPruneBatchSize jobs per transaction
  int max_batches = 0;                      // per run; 0: only --max-duration bounds the run
  std::string max_duration = kDefaultPruneMaxDuration;  // per run, a duration (ParseDuration)
  bool dry_run = false;                                 // count only
  bool json = false;
  // Empty: one run. Otherwise a duration: run, wait this long, run again... until stopped;
  // --finished-before must then be a duration (a fixed date would prune nothing new).
  std::string every{};
  // Time and stopping are injected: the bound is computed from clock() at each run; the
  // schedule waits with sleep() (in short steps) and ends once stop_requested() is true. Null
  // means the system clock, std::this_thread::sleep_for, and SIGTERM/SIGINT (installed by
  // RunJobsPrune when `every` is set).
  std::function<std::chrono::system_clock::time_point()> clock{};
  std::function<void(std::chrono::milliseconds)> sleep{};
  std::function<bool()> stop_requested{};
};

// The one-line usage problem, or empty.
std::string ValidateJobsPruneOptions(const JobsPruneOptions& options);

// What one run did.
struct PruneReport {
  std::string finished_before{};  // the bound, UTC
  bool dry_run = false;
  db::PruneCounts removed{};  // with dry_run: what would be removed
  int batches = 0;            // transactions that deleted (jobs and ignored events)
  double seconds = 0;
  // False when --max-batches or --max-duration ended the run with prunable rows possibly left.
  bool complete = true;
  // Partitions of jobs that earlier prunes emptied, dropped by this run (not by a dry run):
  // db::DropEmptyJobPartitions.
  std::vector<std::string> partitions_dropped{};
  // Partitions of jobs sealed by this run (not by a dry run): db::SealFinishedJobPartitions.
  std::vector<std::string> partitions_sealed{};
};

// One prune run against `bound` (a timestamptz literal), bounded by the options; throws
// db::DatabaseError.
PruneReport PruneOnce(pqxx::connection& connection, const JobsPruneOptions& options,
                      const std::string& bound, const std::function<bool()>& stop_requested);

// The report as one line of text, or as one JSON document on one line:
//   {"dry_run":false,"finished_before":"...Z","jobs":N,"attempts":N,"audit_rows":N,
//    "ignored_events":N,"batches":N,"seconds":1.25,"complete":true}
void PrintPruneReport(const PruneReport& report, bool json, std::ostream& out);

// The command: exit 0 done (with --every: stopped by a signal), 1 the database failed (a single
// run; with --every a failed run is reported and the schedule goes on), 2 bad usage.
int RunJobsPrune(pqxx::connection& connection, const JobsPruneOptions& options, std::ostream& out,
                 std::ostream& err);

}  // namespace payorch::admin
