#include "services/admin/stats_views.hpp"

#include <cstdio>
#include <string>

#include "services/admin/table.hpp"
#include "services/core/job_state.hpp"

namespace payorch::admin {

namespace {

constexpr std::size_t kStatsKeyWidth = 64;

constexpr core::JobState kAllStates[] = {core::JobState::kQueued,  core::JobState::kRunning,
                                         core::JobState::kInDoubt, core::JobState::kSucceeded,
                                         core::JobState::kDead,    core::JobState::kCancelled};

std::string WindowName(int seconds) {
  constexpr int kDay = 24 * 3600;
  // "24h" reads better than "1d"; "7d" better than "168h".
  if (seconds > kDay && seconds % kDay == 0) return std::to_string(seconds / kDay) + "d";
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

std::int64_t Finished(const db::FinishedWindow& window) {
  return window.succeeded + window.dead + window.cancelled;
}

boost::json::object CountsToJson(const std::vector<std::pair<std::string, std::int64_t>>& counts) {
  boost::json::object object;
  for (const auto& [key, count] : counts) object[key] = count;
  return object;
}

std::string Fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

void PrintCounts(const std::string& title, const char* key_header,
                 const std::vector<std::pair<std::string, std::int64_t>>& counts,
                 std::ostream& out) {
  out << title << ":\n";
  if (counts.empty()) {
    out << "none\n";
    return;
  }
  Table table({key_header, "JOBS"});
  for (const auto& [key, count] : counts)
    table.AddRow({Truncate(key, kStatsKeyWidth), std::to_string(count)});
  table.Print(out);
}

}  // namespace

double ThroughputPerMinute(const db::FinishedWindow& window) {
  if (window.window_seconds <= 0) return 0.0;
  return static_cast<double>(Finished(window)) * 60.0 / window.window_seconds;
}

std::optional<double> FailureRate(const db::FinishedWindow& window) {
  const auto decided = window.succeeded + window.dead;
  if (decided == 0) return std::nullopt;
  return static_cast<double>(window.dead) / static_cast<double>(decided);
}

boost::json::object StatsDocument(const db::JobStats& stats) {
  boost::json::object by_state;
  for (auto state : kAllStates) by_state[core::JobStateName(state)] = 0;
  for (const auto& [state, count] : stats.by_state) by_state[state] = count;

  boost::json::array windows;
  for (const auto* window : {&stats.last_5_minutes, &stats.last_hour}) {
    boost::json::value failure_rate = nullptr;
    if (auto rate = FailureRate(*window)) failure_rate = *rate;
    windows.push_back(boost::json::object{
        {"name", WindowName(window->window_seconds)},
        {"seconds", window->window_seconds},
        {"finished", Finished(*window)},
        {"succeeded", window->succeeded},
        {"dead", window->dead},
        {"cancelled", window->cancelled},
        {"throughput_per_minute", ThroughputPerMinute(*window)},
        {"failure_rate", std::move(failure_rate)},
    });
  }
  boost::json::value oldest = nullptr;
  if (stats.oldest_due_age_seconds) oldest = *stats.oldest_due_age_seconds;
  return {
      {"by_state", std::move(by_state)},
      // by_state's final states, by_topic, by_adapter and by_outcome count unfinished jobs and
      // jobs finished within this many seconds (stats --window), not the whole history.
      {"window_seconds", stats.window_seconds},
      {"by_topic", CountsToJson(stats.by_topic)},
      {"by_adapter", CountsToJson(stats.by_adapter)},
      {"by_outcome", CountsToJson(stats.by_outcome)},
      {"oldest_due_age_seconds", std::move(oldest)},
      {"windows", std::move(windows)},
  };
}

void PrintStats(const db::JobStats& stats, std::ostream& out) {
  std::vector<std::pair<std::string, std::int64_t>> by_state;
  for (auto state : kAllStates) {
    std::int64_t count = 0;
    for (const auto& [name, n] : stats.by_state) {
      if (name == core::JobStateName(state)) count = n;
    }
    by_state.emplace_back(std::string(core::JobStateName(state)), count);
  }
  // Final counts would otherwise read as totals since the beginning: say which window they cover.
  const std::string window = "the last " + WindowName(stats.window_seconds);
  out << "unfinished jobs (queued, running, in_doubt) are all counted; final ones (succeeded, "
         "dead, cancelled) only when they finished in "
      << window << " (--window)\n\n";
  PrintCounts("jobs by state", "STATE", by_state, out);
  out << '\n';
  PrintCounts(("jobs by topic (unfinished, or finished in " + window + ")").c_str(), "TOPIC",
              stats.by_topic, out);
  out << '\n';
  PrintCounts(("jobs by adapter (attempted; unfinished, or finished in " + window + ")").c_str(),
              "ADAPTER", stats.by_adapter, out);
  out << '\n';
  PrintCounts(("jobs succeeded in " + window + " by outcome").c_str(), "OUTCOME",
              stats.by_outcome, out);
  out << "\noldest due job: "
      << (stats.oldest_due_age_seconds ? Fixed(*stats.oldest_due_age_seconds, 1) + " s waiting"
                                       : std::string("none due"))
      << "\n\nfinished jobs:\n";
  Table table(
      {"WINDOW", "FINISHED", "SUCCEEDED", "DEAD", "CANCELLED", "PER MINUTE", "FAILURE RATE"});
  for (const auto* window : {&stats.last_5_minutes, &stats.last_hour}) {
    const auto rate = FailureRate(*window);
    table.AddRow({"last " + WindowName(window->window_seconds), std::to_string(Finished(*window)),
                  std::to_string(window->succeeded), std::to_string(window->dead),
                  std::to_string(window->cancelled), Fixed(ThroughputPerMinute(*window), 2),
                  rate ? Fixed(*rate * 100.0, 1) + "%" : std::string("-")});
  }
  table.Print(out);
}

boost::json::object HealthReportDocument(const HealthReport& report) {
  boost::json::value status = nullptr;
  if (!report.serving_status.empty()) status = boost::json::string(report.serving_status);
  boost::json::value error = nullptr;
  if (!report.error.empty()) error = boost::json::string(report.error);
  return {
      {"address", report.address},   {"service", report.service},
      {"status", std::move(status)}, {"grpc_status", report.grpc_status},
      {"error", std::move(error)},   {"latency_ms", report.latency_ms},
      {"serving", report.Serving()},
  };
}

void PrintHealthReport(const HealthReport& report, std::ostream& out) {
  Table table({"", ""});
  table.AddRow({"address", report.address});
  table.AddRow({"service", report.service.empty() ? "(server)" : report.service});
  table.AddRow({"status", report.serving_status.empty() ? "-" : report.serving_status});
  table.AddRow({"grpc status", report.grpc_status});
  if (!report.error.empty()) table.AddRow({"error", report.error});
  table.AddRow({"latency", std::to_string(report.latency_ms) + " ms"});
  table.Print(out);
}

}  // namespace payorch::admin
