// The commands that change jobs: replay and cancel. Each job's change is one transaction with
// its audit row (db/job_admin.hpp); the checks that make them safe live here.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <set>
#include <thread>

#include "db/database.hpp"
#include "db/job_admin.hpp"
#include "services/admin/commands.hpp"
#include "services/admin/state_filter.hpp"

namespace payorch::admin {

namespace {

// Bounds for what is stored in the audit row.
constexpr std::size_t kMaxReasonLength = 1000;
constexpr std::size_t kMaxActorLength = 200;

std::string Trimmed(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::string ValidateReasonAndActor(const std::string& reason, const std::string& actor) {
  if (Trimmed(reason).empty()) return "--reason is required: say why, it goes into the audit";
  if (reason.size() > kMaxReasonLength) {
    return "--reason is longer than " + std::to_string(kMaxReasonLength) + " characters";
  }
  if (actor.size() > kMaxActorLength) {
    return "--actor is longer than " + std::to_string(kMaxActorLength) + " characters";
  }
  return {};
}

std::string StateNames(const std::vector<core::JobState>& states) {
  std::string text;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (i > 0) text += states.size() == 2 ? " or " : (i + 1 == states.size() ? " or " : ", ");
    text += core::JobStateName(states[i]);
  }
  return text;
}

// One job's line in the result.
struct JobResult {
  std::int64_t id = 0;
  std::string result;  // replayed / would_replay / cancelled / would_cancel / skipped / not_found
  std::string state;   // before the change; the current state when skipped; empty if not found
};

struct Totals {
  int changed = 0;
  int skipped = 0;
  int not_found = 0;
};

Totals Count(const std::vector<JobResult>& results) {
  Totals totals;
  for (const auto& r : results) {
    if (r.result == "skipped") {
      ++totals.skipped;
    } else if (r.result == "not_found") {
      ++totals.not_found;
    } else {
      ++totals.changed;
    }
  }
  return totals;
}

// Prints the outcome of a replay or cancel, as a table-ish text or one JSON document.
void PrintResults(const char* action, const char* past, const char* new_state, bool dry_run,
                  std::optional<std::int64_t> operation_id, const std::string& actor,
                  const std::string& reason, const std::vector<core::JobState>& allowed,
                  const std::vector<JobResult>& results, bool json, std::ostream& out) {
  const Totals totals = Count(results);
  if (json) {
    boost::json::array jobs;
    for (const auto& r : results) {
      boost::json::value state = nullptr;
      if (!r.state.empty()) state = boost::json::string(r.state);
      jobs.push_back(boost::json::object{{"id", r.id}, {"result", r.result}, {"state", state}});
    }
    boost::json::value operation = nullptr;
    if (operation_id) operation = *operation_id;
    out << boost::json::serialize(boost::json::object{
               {"action", action},
               {"dry_run", dry_run},
               {"operation_id", std::move(operation)},
               {"actor", actor},
               {"reason", reason},
               {"jobs", std::move(jobs)},
               {"changed", totals.changed},
               {"skipped", totals.skipped},
               {"not_found", totals.not_found},
           })
        << '\n';
    return;
  }
  for (const auto& r : results) {
    if (r.result == "not_found") {
      out << "job " << r.id << ": not found\n";
    } else if (r.result == "skipped") {
      out << "job " << r.id << ": skipped, it is " << r.state << " (" << action << " needs "
          << StateNames(allowed) << ")\n";
    } else {
      out << "job " << r.id << ": " << (dry_run ? "would be " : "") << past << " (" << r.state
          << " -> " << new_state << ")\n";
    }
  }
  out << (dry_run ? "dry run, nothing changed: " : "") << totals.changed << ' '
      << (dry_run ? std::string("to be ") + past : std::string(past)) << ", " << totals.skipped
      << " skipped, " << totals.not_found << " not found";
  if (operation_id) out << " (audit operation " << *operation_id << ")";
  out << '\n';
}

bool Contains(const std::vector<core::JobState>& states, const std::string& name) {
  return std::any_of(states.begin(), states.end(),
                     [&](core::JobState s) { return core::JobStateName(s) == name; });
}

// The ids, in the order given, without repeats.
std::vector<std::int64_t> Distinct(const std::vector<std::int64_t>& ids) {
  std::vector<std::int64_t> distinct;
  std::set<std::int64_t> seen;
  for (auto id : ids) {
    if (seen.insert(id).second) distinct.push_back(id);
  }
  return distinct;
}

}  // namespace

std::string DefaultActor() {
  if (const passwd* entry = ::getpwuid(::geteuid()); entry && entry->pw_name && *entry->pw_name) {
    return entry->pw_name;
  }
  if (const char* user = std::getenv("USER"); user && *user) return user;
  return "uid:" + std::to_string(::geteuid());
}

core::Result<std::vector<core::JobState>, std::string> ReplayableStates(
    const std::vector<std::string>& allow_states) {
  auto extra = ParseStateFilter(allow_states);
  if (!extra) return extra.error();
  std::vector<core::JobState> states{core::JobState::kDead};
  for (auto state : *extra) {
    switch (state) {
      case core::JobState::kQueued:
      case core::JobState::kRunning:
      case core::JobState::kInDoubt:
        return "--allow-state " + std::string(core::JobStateName(state)) +
               " is refused: only final jobs (dead, cancelled, succeeded) can be replayed; a " +
               std::string(core::JobStateName(state)) + " job is still owned by the workers";
      case core::JobState::kDead: break;
      case core::JobState::kSucceeded:
      case core::JobState::kCancelled:
        if (std::find(states.begin(), states.end(), state) == states.end()) {
          states.push_back(state);
        }
        break;
    }
  }
  return states;
}

std::string ValidateJobsReplayOptions(const JobsReplayOptions& options) {
  if (options.use_filter == !options.job_ids.empty()) {
    return "jobs replay needs job ids or --filter with filter options, not both";
  }
  if (auto problem = ValidateReasonAndActor(options.reason, options.actor); !problem.empty()) {
    return problem;
  }
  if (options.max_jobs < 1 || options.max_jobs > kMaxReplayJobs) {
    return "--max-jobs must be between 1 and " + std::to_string(kMaxReplayJobs);
  }
  if (!(options.rate > 0.0) || options.rate > kMaxReplayRate) {
    return "--rate must be above 0 and at most " +
           std::to_string(static_cast<int>(kMaxReplayRate)) + " jobs per second";
  }
  if (static_cast<int>(Distinct(options.job_ids).size()) > options.max_jobs) {
    return std::to_string(options.job_ids.size()) + " job ids given, more than --max-jobs " +
           std::to_string(options.max_jobs);
  }
  for (auto id : options.job_ids) {
    if (id < 1) return "bad job id " + std::to_string(id);
  }
  auto allowed = ReplayableStates(options.allow_states);
  if (!allowed) return allowed.error();
  if (options.use_filter) {
    auto filter = BuildJobListFilter(options.filter, options.now);
    if (!filter) return filter.error();
    for (auto state : filter->states) {
      if (!Contains(*allowed, std::string(core::JobStateName(state)))) {
        return "--state " + std::string(core::JobStateName(state)) +
               " is not replayable here: replay takes " + StateNames(*allowed) +
               " (see --allow-state)";
      }
    }
  }
  return {};
}

int RunJobsReplay(pqxx::connection& connection, const JobsReplayOptions& options, std::ostream& out,
                  std::ostream& err) {
  if (const auto problem = ValidateJobsReplayOptions(options); !problem.empty()) {
    PrintError(err, problem);
    return kExitUsage;
  }
  const auto allowed = ReplayableStates(options.allow_states).value();
  const std::string actor = options.actor.empty() ? DefaultActor() : options.actor;
  const auto sleep = options.sleep ? options.sleep : [](std::chrono::nanoseconds d) {
    std::this_thread::sleep_for(d);
  };
  const auto pause =
      std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(1e9 / options.rate)));

  return ReportingDatabaseErrors(err, [&] {
    std::vector<std::int64_t> ids = Distinct(options.job_ids);
    if (options.use_filter) {
      db::JobListFilter filter = BuildJobListFilter(options.filter, options.now).value();
      if (filter.states.empty()) filter.states = allowed;
      filter.limit = options.max_jobs;
      const auto page = db::ListJobs(connection, filter);
      if (page.next_before_id) {
        PrintError(err, "more than --max-jobs " + std::to_string(options.max_jobs) +
                            " jobs match: narrow the filter or raise --max-jobs; nothing changed");
        return kExitUsage;
      }
      ids.clear();
      // Oldest first: the order the jobs originally arrived in.
      for (auto it = page.jobs.rbegin(); it != page.jobs.rend(); ++it) ids.push_back(it->id);
    }

    std::vector<JobResult> results;
    std::optional<std::int64_t> operation_id;
    if (options.dry_run) {
      for (auto id : ids) {
        const auto state = db::FindJobState(connection, id);
        if (!state) {
          results.push_back({id, "not_found", ""});
        } else if (Contains(allowed, *state)) {
          results.push_back({id, "would_replay", *state});
        } else {
          results.push_back({id, "skipped", *state});
        }
      }
    } else if (!ids.empty()) {
      operation_id = db::NextAuditOperation(connection);
      const db::AuditContext audit{*operation_id, actor, options.reason};
      for (std::size_t i = 0; i < ids.size(); ++i) {
        // The rate cap: bulk replays reach the adapter as a trickle, not a wave.
        if (i > 0) sleep(pause);
        const auto change = db::ReplayJob(connection, ids[i], allowed, audit);
        if (change.changed) {
          results.push_back({ids[i], "replayed", change.previous_state});
        } else if (change.previous_state.empty()) {
          results.push_back({ids[i], "not_found", ""});
        } else {
          results.push_back({ids[i], "skipped", change.previous_state});
        }
      }
    }
    if (ids.empty() && !options.json) out << "no jobs match\n";
    PrintResults("replay", "replayed", "queued", options.dry_run, operation_id, actor,
                 options.reason, allowed, results, options.json, out);
    const Totals totals = Count(results);
    if (totals.not_found > 0) {
      PrintError(err, std::to_string(totals.not_found) + " job(s) not found");
      return kExitFailure;
    }
    return kExitOk;
  });
}

std::string ValidateJobsCancelOptions(const JobsCancelOptions& options) {
  if (options.job_ids.empty()) return "jobs cancel needs at least one job id";
  if (static_cast<int>(options.job_ids.size()) > kMaxReplayJobs) {
    return "at most " + std::to_string(kMaxReplayJobs) + " job ids per cancel";
  }
  for (auto id : options.job_ids) {
    if (id < 1) return "bad job id " + std::to_string(id);
  }
  return ValidateReasonAndActor(options.reason, options.actor);
}

int RunJobsCancel(pqxx::connection& connection, const JobsCancelOptions& options, std::ostream& out,
                  std::ostream& err) {
  if (const auto problem = ValidateJobsCancelOptions(options); !problem.empty()) {
    PrintError(err, problem);
    return kExitUsage;
  }
  std::vector<core::JobState> allowed{core::JobState::kQueued};
  if (options.allow_in_doubt) allowed.push_back(core::JobState::kInDoubt);
  const std::string actor = options.actor.empty() ? DefaultActor() : options.actor;
  return ReportingDatabaseErrors(err, [&] {
    const auto ids = Distinct(options.job_ids);
    std::vector<JobResult> results;
    std::optional<std::int64_t> operation_id;
    if (!options.dry_run) {
      operation_id = db::NextAuditOperation(connection);
    }
    for (auto id : ids) {
      if (options.dry_run) {
        const auto state = db::FindJobState(connection, id);
        if (!state) {
          results.push_back({id, "not_found", ""});
        } else {
          results.push_back({id, Contains(allowed, *state) ? "would_cancel" : "skipped", *state});
        }
        continue;
      }
      const auto change = db::CancelJob(connection, id, allowed,
                                        db::AuditContext{*operation_id, actor, options.reason});
      if (change.changed) {
        results.push_back({id, "cancelled", change.previous_state});
      } else if (change.previous_state.empty()) {
        results.push_back({id, "not_found", ""});
      } else {
        results.push_back({id, "skipped", change.previous_state});
      }
    }
    PrintResults("cancel", "cancelled", "cancelled", options.dry_run, operation_id, actor,
                 options.reason, allowed, results, options.json, out);
    const Totals totals = Count(results);
    if (totals.not_found > 0) {
      PrintError(err, std::to_string(totals.not_found) + " job(s) not found");
      return kExitFailure;
    }
    return kExitOk;
  });
}

}  // namespace payorch::admin
