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
      {"subscription_id", job.subscription_id},
      {"outcome", OrNull(job.outcome)},
      {"attempts", job.attempts},
      {"last_error", OrNull(job.last_error)},
      {"created_at", job.created_at},
      {"updated_at", job.updated_at},
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

boost::json::object JobListDocument(const std::vector<db::JobSummary>& jobs) {
  boost::json::array items;
  items.reserve(jobs.size());
  for (const auto& job : jobs) items.push_back(JobSummaryToJson(job));
  return {{"jobs", std::move(items)}};
}

boost::json::object JobDetailDocument(const db::JobDetail& job,
                                      const std::vector<db::AttemptDetail>& attempts) {
  boost::json::array items;
  items.reserve(attempts.size());
  for (const auto& attempt : attempts) items.push_back(AttemptToJson(attempt));
  return {{"job", JobToJson(job)}, {"attempts", std::move(items)}};
}

void PrintJobListTable(const std::vector<db::JobSummary>& jobs, std::ostream& out) {
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
}

void PrintJobDetail(const db::JobDetail& job, const std::vector<db::AttemptDetail>& attempts,
                    std::ostream& out) {
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
    return;
  }
  Table table({"ATTEMPT", "WORKER", "ADAPTER", "RPC", "STARTED", "DURATION", "GRPC STATUS",
               "GATEWAY STATUS", "REFERENCE", "DECLINE CODE", "ERROR", "DECISION"});
  for (const auto& attempt : attempts) {
    table.AddRow({std::to_string(attempt.attempt), Cell(attempt.worker_id), Cell(attempt.adapter),
                  attempt.rpc, ShortTimestamp(attempt.started_at),
                  std::to_string(attempt.duration_ms) + " ms", attempt.grpc_status,
                  Cell(attempt.gateway_status), Cell(attempt.gateway_reference),
                  Cell(attempt.decline_code), Cell(attempt.error, kLastErrorWidth),
                  attempt.decision});
  }
  table.Print(out);
}

}  // namespace payorch::admin
