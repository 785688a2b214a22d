// db/job_steps.hpp against a real PostgreSQL: fencing, and which authorisation is open.
#include "db/job_steps.hpp"

#include <gtest/gtest.h>

#include "tests/integration/cleeng/flow_fixture.hpp"

namespace payorch::cleeng {
namespace {

class JobStepsTest : public CleengFlowFixture {};

TEST_F(JobStepsTest, StepsAreRecordedOnceAndOnlyUnderTheCurrentFence) {
  const db::ClaimedJob first =
      Claim(Insert(kAuthorisation, "sub-j1", "approve", "2026-01-01T10:00:00Z"));
  EXPECT_EQ(
      db::RecordJobStep(*connection_, first.id, first.fence, "order_created", R"({"orderId":"1"})"),
      db::StepWrite::kRecorded);
  EXPECT_EQ(
      db::RecordJobStep(*connection_, first.id, first.fence, "order_created", R"({"orderId":"2"})"),
      db::StepWrite::kAlreadyRecorded);
  const db::ClaimedJob second = CrashAndReclaim(first);
  EXPECT_EQ(db::RecordJobStep(*connection_, first.id, first.fence, "adapter_decided", "{}"),
            db::StepWrite::kLeaseLost);
  EXPECT_EQ(db::RecordJobStep(*connection_, second.id, second.fence, "adapter_decided",
                              R"({"status":"approved"})"),
            db::StepWrite::kRecorded);
  const auto steps = db::LoadJobSteps(*connection_, first.id);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps.at("order_created"), R"({"orderId": "1"})");
}

TEST_F(JobStepsTest, AnAuthorisationIsOpenUntilAJobOfTheSubscriptionSettlesIt) {
  const db::ClaimedJob auth =
      Claim(Insert(kAuthorisation, "sub-j2", "approve", "2026-01-01T10:00:00Z"));
  ASSERT_EQ(db::RecordJobStep(*connection_, auth.id, auth.fence, "payment_reported",
                              R"({"paymentId":"p1","status":"authorized"})"),
            db::StepWrite::kRecorded);
  auto open = db::FindOpenAuthorization(*connection_, auth.broadcaster_id, "sub-j2",
                                        "payment_reported", "authorization_settled");
  ASSERT_TRUE(open.has_value());
  EXPECT_EQ(open->job_id, auth.id);
  EXPECT_FALSE(db::FindOpenAuthorization(*connection_, auth.broadcaster_id, "sub-other",
                                         "payment_reported", "authorization_settled"));
  EXPECT_FALSE(db::FindOpenAuthorization(*connection_, auth.broadcaster_id + 1, "sub-j2",
                                         "payment_reported", "authorization_settled"));
  FlowResult done;
  done.kind = FlowResult::Kind::kSucceeded;
  done.outcome = "approved";
  Finish(auth, done);
  const db::ClaimedJob capture =
      Claim(Insert(kCapture, "sub-j2", "approve", "2026-01-02T10:00:00Z"));
  ASSERT_EQ(db::RecordJobStep(*connection_, capture.id, capture.fence, "authorization_settled",
                              R"({"paymentId":"p1","status":"captured"})"),
            db::StepWrite::kRecorded);
  EXPECT_FALSE(db::FindOpenAuthorization(*connection_, auth.broadcaster_id, "sub-j2",
                                         "payment_reported", "authorization_settled"));
}

TEST_F(JobStepsTest, OpenAuthorisationReadsTheSubscriptionsJobsThroughTheirTwoIndexes) {
  // Migration 0010: finished jobs by subscription are in jobs_finished_subscription_idx,
  // unfinished ones in jobs_subscription_unfinished_idx. The lookup must be able to use both, in
  // the plans PostgreSQL makes with the values (custom) and without them (generic, after five
  // executions on one connection), or with a large history it reads the whole table.
  EXPECT_FALSE(db::FindOpenAuthorization(*connection_, 1, "sub-plan", "payment_reported",
                                         "authorization_settled"));
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    pqxx::nontransaction tx(*connection_);
    tx.exec0(std::string("SET plan_cache_mode = ") + mode);
    tx.exec0("SET enable_seqscan = off");
    const std::string plan = testing::PlanText(
        tx.exec("EXPLAIN EXECUTE job_steps_find_open_authorization("
                "1, 'sub-plan', 'payment_reported', 'authorization_settled')"));
    tx.exec0("RESET plan_cache_mode");
    tx.exec0("RESET enable_seqscan");
    EXPECT_TRUE(testing::PlanReadsJobsIndex(plan, "jobs_finished_subscription_idx")) << mode << plan;
    EXPECT_TRUE(testing::PlanReadsJobsIndex(plan, "jobs_subscription_unfinished_idx"))
        << mode << plan;
    EXPECT_EQ(plan.find("Seq Scan on jobs"), std::string::npos) << mode << plan;
  }
}

}  // namespace
}  // namespace payorch::cleeng
