#include "services/admin/job_views.hpp"

#include <sstream>

#include <gtest/gtest.h>

namespace payorch::admin {
namespace {

db::JobSummary Summary(std::int64_t id, std::string state) {
  db::JobSummary job;
  job.id = id;
  job.state = std::move(state);
  job.topic = "subscriptionReadyForPaymentCapture";
  job.subscription_id = "332332332";
  job.attempts = 2;
  job.created_at = "2026-11-29T08:50:18.123456Z";
  job.updated_at = "2026-11-29T08:51:00.000001Z";
  return job;
}

db::JobDetail Record() {
  db::JobDetail job;
  job.id = 7;
  job.event_key = "ek";
  job.idempotency_key = "po1_abc";
  job.broadcaster_id = 123;
  job.topic = "subscriptionReadyForPaymentAuthorisation";
  job.subscription_id = "332332332";
  job.payment_gateway = "adyen";
  job.raw_event = R"({"data":{"token":"tok_en","customerEmail":"jane@example.com","offerId":"S1"}})";
  job.state = "succeeded";
  job.run_after = "2026-11-29T08:50:18.000000Z";
  job.attempts = 1;
  job.fence = 1;
  job.outcome = "approved";
  job.deliveries = 1;
  job.last_delivery_at = job.created_at = job.updated_at = "2026-11-29T08:50:18.000000Z";
  job.finished_at = "2026-11-29T08:50:19.000000Z";
  return job;
}

db::AttemptDetail Attempt(int number) {
  db::AttemptDetail attempt;
  attempt.job_id = 7;
  attempt.attempt = number;
  attempt.fence = number;
  attempt.worker_id = "worker-a";
  attempt.adapter = "sandbox";
  attempt.rpc = "Authorize";
  attempt.started_at = "2026-11-29T08:50:18.000000Z";
  attempt.finished_at = "2026-11-29T08:50:18.250000Z";
  attempt.duration_ms = 250;
  attempt.grpc_status = number == 1 ? "UNAVAILABLE" : "OK";
  if (number == 1) attempt.error = "connection refused";
  if (number == 2) attempt.gateway_status = "APPROVED";
  attempt.decision = number == 1 ? "retry" : "succeeded";
  return attempt;
}

db::AuditEntry Audit() {
  db::AuditEntry entry;
  entry.id = 1;
  entry.operation_id = 9;
  entry.job_id = 7;
  entry.action = "replay";
  entry.actor = "alice";
  entry.reason = "adapter fixed";
  entry.previous_state = "dead";
  entry.new_state = "queued";
  entry.previous_attempts = 3;
  entry.previous_last_error = "UNAVAILABLE";
  entry.created_at = "2026-11-29T09:00:00.000000Z";
  return entry;
}

TEST(JobViewsTest, ListDocumentHasTheDocumentedShape) {
  auto job = Summary(7, "dead");
  job.last_error = "UNAVAILABLE: down";
  const auto document = JobListDocument({.jobs = {job, Summary(6, "queued")}, .next_before_id = 6});
  const auto& jobs = document.at("jobs").as_array();
  ASSERT_EQ(jobs.size(), 2u);
  const auto& first = jobs[0].as_object();
  EXPECT_EQ(document.at("next_cursor"), "6");
  EXPECT_EQ(first.size(), 11u);
  EXPECT_EQ(first.at("broadcaster_id"), 0);
  EXPECT_TRUE(first.at("finished_at").is_null());
  EXPECT_EQ(first.at("id"), 7);
  EXPECT_EQ(first.at("state"), "dead");
  EXPECT_EQ(first.at("topic"), "subscriptionReadyForPaymentCapture");
  EXPECT_EQ(first.at("subscription_id"), "332332332");
  EXPECT_TRUE(first.at("outcome").is_null());
  EXPECT_EQ(first.at("attempts"), 2);
  EXPECT_EQ(first.at("last_error"), "UNAVAILABLE: down");
  EXPECT_EQ(first.at("created_at"), "2026-11-29T08:50:18.123456Z");
  EXPECT_EQ(first.at("updated_at"), "2026-11-29T08:51:00.000001Z");
  EXPECT_EQ(jobs[1].at("id"), 6);
}

TEST(JobViewsTest, DetailDocumentMasksTheRawEventAndListsAttempts) {
  const auto document = JobDetailDocument(Record(), {Attempt(1), Attempt(2)}, {Audit()});
  const auto& job = document.at("job").as_object();
  EXPECT_EQ(job.size(), 26u);
  EXPECT_EQ(job.at("attempts_at_replay"), 0);
  EXPECT_EQ(job.at("id"), 7);
  EXPECT_EQ(job.at("payment_gateway"), "adyen");
  EXPECT_TRUE(job.at("payment_method_id").is_null());
  EXPECT_EQ(job.at("outcome"), "approved");
  EXPECT_EQ(job.at("raw_event").at("data").at("token"), "***");
  EXPECT_EQ(job.at("raw_event").at("data").at("customerEmail"), "***");
  EXPECT_EQ(job.at("raw_event").at("data").at("offerId"), "S1");
  const auto& attempts = document.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].as_object().size(), 15u);
  EXPECT_EQ(attempts[0].at("attempt"), 1);
  EXPECT_EQ(attempts[0].at("grpc_status"), "UNAVAILABLE");
  EXPECT_EQ(attempts[0].at("error"), "connection refused");
  EXPECT_TRUE(attempts[0].at("gateway_status").is_null());
  EXPECT_EQ(attempts[1].at("gateway_status"), "APPROVED");
  EXPECT_EQ(attempts[1].at("duration_ms"), 250);
  const auto& audit = document.at("audit").as_array();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].as_object().size(), 11u);
  EXPECT_EQ(audit[0].at("action"), "replay");
  EXPECT_EQ(audit[0].at("actor"), "alice");
  EXPECT_EQ(audit[0].at("reason"), "adapter fixed");
  EXPECT_EQ(audit[0].at("previous_state"), "dead");
  EXPECT_EQ(audit[0].at("new_state"), "queued");
  EXPECT_EQ(audit[0].at("previous_attempts"), 3);
  EXPECT_EQ(audit[0].at("previous_last_error"), "UNAVAILABLE");
  EXPECT_TRUE(audit[0].at("previous_outcome").is_null());
  const std::string text = boost::json::serialize(document);
  EXPECT_EQ(text.find("tok_en"), std::string::npos);
  EXPECT_EQ(text.find("jane@example.com"), std::string::npos);
}

TEST(JobViewsTest, DetailDocumentOmitsARawEventThatIsNotJson) {
  auto job = Record();
  job.raw_event = "token=tok_en";
  const auto document = JobDetailDocument(job, {}, {});
  EXPECT_TRUE(document.at("job").at("raw_event").is_null());
  EXPECT_TRUE(document.at("attempts").as_array().empty());
}

TEST(JobViewsTest, ListTableShowsOneRowPerJobWithTruncatedLastError) {
  auto job = Summary(7, "dead");
  job.last_error = std::string(100, 'e');
  std::ostringstream out;
  PrintJobListTable({.jobs = {job}}, out);
  const std::string text = out.str();
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "ID  STATE  TOPIC                               SUBSCRIPTION  OUTCOME  ATTEMPTS  "
            "CREATED               LAST ERROR");
  EXPECT_NE(text.find("7   dead   subscriptionReadyForPaymentCapture  332332332     -        2"
                      "         2026-11-29T08:50:18Z  " +
                      std::string(kLastErrorWidth - 3, 'e') + "...\n"),
            std::string::npos)
      << text;
}

TEST(JobViewsTest, EmptyListSaysSo) {
  std::ostringstream out;
  PrintJobListTable({}, out);
  EXPECT_EQ(out.str(), "no jobs found\n");
}

TEST(JobViewsTest, DetailTableShowsFieldsMaskedEventAndAttempts) {
  std::ostringstream out;
  PrintJobDetail(Record(), {Attempt(1), Attempt(2)}, {Audit()}, out);
  const std::string text = out.str();
  EXPECT_NE(text.find("state              succeeded\n"), std::string::npos) << text;
  EXPECT_NE(text.find("payment method     -\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(raw event          {"data":{"token":"***","customerEmail":"***")"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("tok_en"), std::string::npos);
  EXPECT_EQ(text.find("jane@example.com"), std::string::npos);
  EXPECT_NE(text.find("attempts (2):\nATTEMPT  WORKER    ADAPTER  RPC        STARTED"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("1        worker-a  sandbox  Authorize  2026-11-29T08:50:18Z  250 ms"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("connection refused  retry\n"), std::string::npos) << text;
  EXPECT_NE(text.find("audit (1):\nWHEN"), std::string::npos) << text;
  EXPECT_NE(text.find("2026-11-29T09:00:00Z  replay  alice  dead  queued  3         adapter fixed"),
            std::string::npos)
      << text;
}

TEST(JobViewsTest, ListTableEndsWithTheNextCursorWhenMoreFollow) {
  std::ostringstream out;
  PrintJobListTable({.jobs = {Summary(7, "dead")}, .next_before_id = 7}, out);
  EXPECT_NE(out.str().find("\nnext page: --cursor 7\n"), std::string::npos) << out.str();
  std::ostringstream last;
  PrintJobListTable({.jobs = {Summary(7, "dead")}}, last);
  EXPECT_EQ(last.str().find("next page"), std::string::npos) << last.str();
}

TEST(JobViewsTest, ShortTimestampCutsToSeconds) {
  EXPECT_EQ(ShortTimestamp("2026-11-29T08:50:18.123456Z"), "2026-11-29T08:50:18Z");
  EXPECT_EQ(ShortTimestamp("2026-11-29T08:50:18Z"), "2026-11-29T08:50:18Z");
  EXPECT_EQ(ShortTimestamp("odd"), "odd");
}

}  // namespace
}  // namespace payorch::admin
