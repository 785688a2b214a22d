#pragma once

#include <boost/json.hpp>
#include <optional>
#include <ostream>

#include "db/job_queries.hpp"
#include "services/admin/health_check.hpp"

namespace payorch::admin {

// How `stats` and `adapter check` look. Pure functions of their records.
//
// stats --json (unfinished jobs counted exactly; final ones only when they finished within the
// stats window, JobStats::window_seconds, `--window`):
//   {"by_state": {"queued": 3, "running": 0, "in_doubt": 0, "succeeded": 10, "dead": 1,
//                 "cancelled": 0},                     every state, zeros included
//    "by_topic": {"<topic>": n, ...}, "by_adapter": {"<adapter>": jobs attempted, ...},
//                                                      jobs unfinished or finished in the window
//    "by_outcome": {"approved": n, "declined": n},     jobs succeeded in the window
//    "oldest_due_age_seconds": 12.5 or null,           null when nothing is due
//    "windows": [{"name": "5m", "seconds": 300, "finished": n, "succeeded": n, "dead": n,
//                 "cancelled": n, "throughput_per_minute": 1.5,
//                 "failure_rate": 0.25 or null},       dead / (succeeded + dead)
//                {"name": "1h", "seconds": 3600, ...}]}
//
// adapter check --json:
//   {"address": "127.0.0.1:50051", "service": "", "status": "SERVING" or null,
//    "grpc_status": "OK", "error": null or "...", "latency_ms": 3, "serving": true}

// Finished jobs per minute over the window (0 for an empty window).
double ThroughputPerMinute(const db::FinishedWindow& window);
// dead / (succeeded + dead); nullopt when neither happened. Cancelled jobs are an operator's
// choice, not a failure, and count in neither.
std::optional<double> FailureRate(const db::FinishedWindow& window);

boost::json::object StatsDocument(const db::JobStats& stats);
void PrintStats(const db::JobStats& stats, std::ostream& out);

boost::json::object HealthReportDocument(const HealthReport& report);
void PrintHealthReport(const HealthReport& report, std::ostream& out);

}  // namespace payorch::admin
