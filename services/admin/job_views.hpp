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
//   jobs list --json (and jobs show --subscription S --json):
//     {"jobs": [{"id": 7, "state": "dead", "topic": "subscriptionReadyForPaymentCapture",
//                "broadcaster_id": 123, "subscription_id": "332332332", "outcome": null,
//                "attempts": 5, "last_error": "UNAVAILABLE: ...", "created_at": "...Z",
//                "updated_at": "...Z", "finished_at": "...Z" or null},
//               ...],                                  newest first
//      "next_cursor": "7" or null}    pass as --cursor for the next page; null on the last page
//
//   jobs show ID --json (or --event-key KEY):
//     {"job": {"id", "event_key", "idempotency_key", "broadcaster_id", "topic",
//              "subscription_id", "payment_gateway", "payment_method_id",
//              "dunning_attempt_date", "state", "run_after", "attempts", "attempts_at_replay",
//              "fence", "locked_by", "locked_until", "outcome", "gateway_reference",
//              "decline_code", "last_error", "deliveries", "last_delivery_at", "created_at",
//              "updated_at", "finished_at",
//              "raw_event": <the webhook body as a JSON value, with the values of "token" and
//                            "customerEmail" replaced by "***"; null if it is not valid JSON>},
//      "attempts": [{"attempt", "fence", "worker_id", "adapter", "rpc", "request_summary",
//                    "started_at", "finished_at", "duration_ms", "grpc_status",
//                    "gateway_status", "gateway_reference", "decline_code", "error",
//                    "decision"}, ...],                 in attempt order
//      "audit": [{"id", "operation_id", "action", "actor", "reason", "previous_state",
//                 "new_state", "previous_attempts", "previous_outcome", "previous_last_error",
//                 "created_at"}, ...]}                  oldest first

// Width, in code points, at which long cells are cut in tables.
inline constexpr std::size_t kLastErrorWidth = 60;
inline constexpr std::size_t kMaxCellWidth = 64;

boost::json::object JobSummaryToJson(const db::JobSummary& job);
boost::json::object JobToJson(const db::JobDetail& job);
boost::json::object AttemptToJson(const db::AttemptDetail& attempt);
boost::json::object AuditEntryToJson(const db::AuditEntry& entry);

// {"jobs":[...],"next_cursor":...}
boost::json::object JobListDocument(const db::JobPage& page);
// {"job":{...},"attempts":[...],"audit":[...]}
boost::json::object JobDetailDocument(const db::JobDetail& job,
                                      const std::vector<db::AttemptDetail>& attempts,
                                      const std::vector<db::AuditEntry>& audit);

// A table of jobs, or "no jobs found" when there are none; then "next page: --cursor N" when
// another page follows.
void PrintJobListTable(const db::JobPage& page, std::ostream& out);
// The job as "field  value" lines (the raw event masked, on one line), then its attempts and
// audit tables.
void PrintJobDetail(const db::JobDetail& job, const std::vector<db::AttemptDetail>& attempts,
                    const std::vector<db::AuditEntry>& audit, std::ostream& out);

// A timestamp as tables show it: to the second ("2026-11-29T08:50:18Z").
std::string ShortTimestamp(std::string_view iso_timestamp);

}  // namespace payorch::admin
