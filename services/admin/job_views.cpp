#include "services/admin/job_views.hpp"

#include <string>

#include "services/admin/masking.hpp"
#include "services/admin/table.hpp"

namespace payorch::admin {

namespace {

constexpr std::string_view kNone = "-";

boost::json::value OrNull(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  return boost::json::string(*text);
}

std::string Cell(const std::string& text, std::size_t width = kMaxCellWidth) {
  return Truncate(text, width);
}

std::string Cell(const std::optional<std::string>& text, std::size_t width = kMaxCellWidth) {
  return text ? Truncate(*text, width) : std::string(kNone);
}

}  // namespace

std::string ShortTimestamp(std::string_view iso_timestamp) {
  // "YYYY-MM-DDTHH:MM:SS" is 19 characters; anything else is shown as it is.
  constexpr std::size_t kToSeconds = 19;
  if (iso_timestamp.size() > kToSeconds && iso_timestamp.back() == 'Z') {
    return std::string(iso_timestamp.substr(0, kToSeconds)) + "Z";
  }
  return std::string(iso_timestamp);
}

boost::json::object JobSummaryToJson(const db::JobSummary& job) {
  return {
      {"id", job.id},
      {"state", job.state},
      {"topic", job.topic},
      {"broadcaster_id", job.broadcaster_id},
      {"subscription_id", job.subscription_id},
      {"outcome", OrNull(job.outcome)},
      {"attempts", job.attempts},
      {"last_error", OrNull(job.last_error)},
      {"created_at", job.created_at},
      {"updated_at", job.updated_at},
      {"finished_at", OrNull(job.finished_at)},
  };
}

boost::json::object JobToJson(const db::JobDetail& job) {
  boost::json::value raw_event = nullptr;
  if (auto masked = MaskedRawEvent(job.raw_event)) raw_event = std::move(*masked);
  return {
      {"id", job.id},
      {"event_key", job.event_key},
      {"idempotency_key", job.idempotency_key},
      {"broadcaster_id", job.broadcaster_id},
      {"topic", job.topic},
      {"subscription_id", job.subscription_id},
      {"payment_gateway", OrNull(job.payment_gateway)},
      {"payment_method_id", OrNull(job.payment_method_id)},
      {"dunning_attempt_date", OrNull(job.dunning_attempt_date)},
      {"state", job.state},
      {"run_after", job.run_after},
      {"attempts", job.attempts},
      {"attempts_at_replay", job.attempts_at_replay},
      {"fence", job.fence},
      {"locked_by", OrNull(job.locked_by)},
      {"locked_until", OrNull(job.locked_until)},
      {"outcome", OrNull(job.outcome)},
      {"gateway_reference", OrNull(job.gateway_reference)},
      {"decline_code", OrNull(job.decline_code)},
      {"last_error", OrNull(job.last_error)},
      {"deliveries", job.deliveries},
      {"last_delivery_at", job.last_delivery_at},
      {"created_at", job.created_at},
      {"updated_at", job.updated_at},
      {"finished_at", OrNull(job.finished_at)},
      {"raw_event", std::move(raw_event)},
  };
}

boost::json::object AttemptToJson(const db::AttemptDetail& attempt) {
  return {
      {"attempt", attempt.attempt},
      {"fence", attempt.fence},
      {"worker_id", attempt.worker_id},
      {"adapter", attempt.adapter},
      {"rpc", attempt.rpc},
      {"request_summary", attempt.request_summary},
      {"started_at", attempt.started_at},
      {"finished_at", attempt.finished_at},
      {"duration_ms", attempt.duration_ms},
      {"grpc_status", attempt.grpc_status},
      {"gateway_status", OrNull(attempt.gateway_status)},
      {"gateway_reference", OrNull(attempt.gateway_reference)},
      {"decline_code", OrNull(attempt.decline_code)},
      {"error", OrNull(attempt.error)},
      {"decision", attempt.decision},
  };
}

boost::json::object AuditEntryToJson(const db::AuditEntry& entry) {
  return {
      {"id", entry.id},
      {"operation_id", entry.operation_id},
      {"action", entry.action},
      {"actor", entry.actor},
      {"reason", entry.reason},
      {"previous_state", entry.previous_state},
      {"new_state", entry.new_state},
      {"previous_attempts", entry.previous_attempts},
      {"previous_outcome", OrNull(entry.previous_outcome)},
      {"previous_last_error", OrNull(entry.previous_last_error)},
      {"created_at", entry.created_at},
  };
}

boost::json::object JobListDocument(const db::JobPage& page) {
  boost::json::array items;
  items.reserve(page.jobs.size());
  for (const auto& job : page.jobs) items.push_back(JobSummaryToJson(job));
  boost::json::value cursor = nullptr;
  if (page.next_before_id) cursor = boost::json::string(std::to_string(*page.next_before_id));
  return {{"jobs", std::move(items)}, {"next_cursor", std::move(cursor)}};
}

boost::json::object JobDetailDocument(const db::JobDetail& job,
                                      const std::vector<db::AttemptDetail>& attempts,
                                      const std::vector<db::AuditEntry>& audit) {
  boost::json::array attempt_items;
  attempt_items.reserve(attempts.size());
  for (const auto& attempt : attempts) attempt_items.push_back(AttemptToJson(attempt));
  boost::json::array audit_items;
  audit_items.reserve(audit.size());
  for (const auto& entry : audit) audit_items.push_back(AuditEntryToJson(entry));
  return {{"job", JobToJson(job)},
          {"attempts", std::move(attempt_items)},
          {"audit", std::move(audit_items)}};
}

void PrintJobListTable(const db::JobPage& page, std::ostream& out) {
  const auto& jobs = page.jobs;
  if (jobs.empty()) {
    out << "no jobs found\n";
    return;
  }
  Table table({"ID", "STATE", "TOPIC", "SUBSCRIPTION", "OUTCOME", "ATTEMPTS", "CREATED",
               "LAST ERROR"});
  for (const auto& job : jobs) {
    table.AddRow({std::to_string(job.id), job.state, Cell(job.topic), Cell(job.subscription_id),
                  Cell(job.outcome), std::to_string(job.attempts),
                  ShortTimestamp(job.created_at), Cell(job.last_error, kLastErrorWidth)});
  }
  table.Print(out);
  if (page.next_before_id) out << "next page: --cursor " << *page.next_before_id << '\n';
}

void PrintJobDetail(const db::JobDetail& job, const std::vector<db::AttemptDetail>& attempts,
                    const std::vector<db::AuditEntry>& audit, std::ostream& out) {
  std::string raw_event = "(not valid JSON: not shown)";
  if (auto masked = MaskedRawEvent(job.raw_event)) raw_event = boost::json::serialize(*masked);

  // Full values here (no truncation): this is the view an operator reads to act on one job.
  Table fields({"", ""});
  auto add = [&fields](std::string name, const std::optional<std::string>& value) {
    fields.AddRow({std::move(name), value ? *value : std::string(kNone)});
  };
  add("id", std::to_string(job.id));
  add("state", job.state);
  add("topic", job.topic);
  add("subscription", job.subscription_id);
  add("broadcaster", std::to_string(job.broadcaster_id));
  add("payment gateway", job.payment_gateway);
  add("payment method", job.payment_method_id);
  add("dunning date", job.dunning_attempt_date);
  add("outcome", job.outcome);
  add("gateway reference", job.gateway_reference);
  add("decline code", job.decline_code);
  add("last error", job.last_error);
  add("attempts", std::to_string(job.attempts));
  // The attempts spent before the last replay: the worker's attempt budget counts from there.
  add("replayed after", job.attempts_at_replay > 0
                            ? std::optional<std::string>(std::to_string(job.attempts_at_replay) +
                                                         " attempts")
                            : std::nullopt);
  add("run after", job.run_after);
  add("locked by", job.locked_by);
  add("locked until", job.locked_until);
  add("fence", std::to_string(job.fence));
  add("deliveries", std::to_string(job.deliveries));
  add("last delivery", job.last_delivery_at);
  add("created", job.created_at);
  add("updated", job.updated_at);
  add("finished", job.finished_at);
  add("event key", job.event_key);
  add("idempotency key", job.idempotency_key);
  add("raw event", raw_event);
  fields.Print(out);

  out << "\nattempts (" << attempts.size() << "):\n";
  if (attempts.empty()) {
    out << "no attempts yet\n";
  } else {
    Table table({"ATTEMPT", "WORKER", "ADAPTER", "RPC", "STARTED", "DURATION", "GRPC STATUS",
                 "GATEWAY STATUS", "REFERENCE", "DECLINE CODE", "ERROR", "DECISION"});
    for (const auto& attempt : attempts) {
      table.AddRow({std::to_string(attempt.attempt), Cell(attempt.worker_id),
                    Cell(attempt.adapter), attempt.rpc, ShortTimestamp(attempt.started_at),
                    std::to_string(attempt.duration_ms) + " ms", attempt.grpc_status,
                    Cell(attempt.gateway_status), Cell(attempt.gateway_reference),
                    Cell(attempt.decline_code), Cell(attempt.error, kLastErrorWidth),
                    attempt.decision});
    }
    table.Print(out);
  }

  out << "\naudit (" << audit.size() << "):\n";
  if (audit.empty()) {
    out << "no operator actions\n";
    return;
  }
  Table table({"WHEN", "ACTION", "ACTOR", "FROM", "TO", "ATTEMPTS", "REASON", "PREVIOUS ERROR"});
  for (const auto& entry : audit) {
    table.AddRow({ShortTimestamp(entry.created_at), entry.action, Cell(entry.actor),
                  entry.previous_state, entry.new_state, std::to_string(entry.previous_attempts),
                  Cell(entry.reason), Cell(entry.previous_last_error, kLastErrorWidth)});
  }
  table.Print(out);
}

}  // namespace payorch::admin
