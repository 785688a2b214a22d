#pragma once

#include <ostream>
#include <vector>

#include <boost/json.hpp>

#include "db/job_queries.hpp"

namespace payorch::admin {

// How jobs look to people (tables) and to scripts (JSON). Pure functions of the records, so the
// output format is unit-tested without a database.
//
// JSON shapes (keys are the database's column names; absent values are null; timestamps are
// ISO-8601 UTC strings such as "2026-11-29T08:50:18.123456Z"):
//
//   jobs list --json:
//     {"jobs": [{"id": 7, "state": "dead", "topic": "subscriptionReadyForPaymentCapture",
//                "subscription_id": "332332332", "outcome": null, "attempts": 5,
//                "last_error": "UNAVAILABLE: ...", "created_at": "...Z", "updated_at": "...Z"},
//               ...]}                                   newest first
//
//   jobs show ID --json:
//     {"job": {"id", "event_key", "idempotency_key", "broadcaster_id", "topic",
//              "subscription_id", "payment_gateway", "payment_method_id",
//              "dunning_attempt_date", "state", "run_after", "attempts", "fence", "locked_by",
//              "locked_until", "outcome", "gateway_reference", "decline_code", "last_error",
//              "deliveries", "last_delivery_at", "created_at", "updated_at", "finished_at",
//              "raw_event": <the webhook body as a JSON value, with the values of "token" and
//                            "customerEmail" replaced by "***"; null if it is not valid JSON>},
//      "attempts": [{"attempt", "fence", "worker_id", "adapter", "rpc", "request_summary",
//                    "started_at", "finished_at", "duration_ms", "grpc_status",
//                    "gateway_status", "gateway_reference", "decline_code", "error",
//                    "decision"}, ...]}                  in attempt order

// Width, in code points, at which long cells are cut in tables.
inline constexpr std::size_t kLastErrorWidth = 60;
inline constexpr std::size_t kMaxCellWidth = 64;

boost::json::object JobSummaryToJson(const db::JobSummary& job);
boost::json::object JobToJson(const db::JobDetail& job);
boost::json::object AttemptToJson(const db::AttemptDetail& attempt);

// {"jobs":[...]}
boost::json::object JobListDocument(const std::vector<db::JobSummary>& jobs);
// {"job":{...},"attempts":[...]}
boost::json::object JobDetailDocument(const db::JobDetail& job,
                                      const std::vector<db::AttemptDetail>& attempts);

// A table of jobs, or "no jobs found" when there are none.
void PrintJobListTable(const std::vector<db::JobSummary>& jobs, std::ostream& out);
// The job as "field  value" lines (the raw event masked, on one line), then its attempts table.
void PrintJobDetail(const db::JobDetail& job, const std::vector<db::AttemptDetail>& attempts,
                    std::ostream& out);

// A timestamp as tables show it: to the second ("2026-11-29T08:50:18Z").
std::string ShortTimestamp(std::string_view iso_timestamp);

}  // namespace payorch::admin
