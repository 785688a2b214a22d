// FlowResult -> attempt record mapping (services/worker/flow_attempt.hpp).
#include "services/worker/flow_attempt.hpp"

#include <gtest/gtest.h>

namespace payorch::worker {
namespace {

using Kind = cleeng::FlowResult::Kind;

class FlowAttemptTest : public ::testing::Test {
 protected:
  FlowAttemptTest() {
    job_.id = 7;
    job_.fence = 3;
    job_.attempt = 1;
    job_.budget_attempt = 1;
    policy_.max_attempts = 3;
    policy_.base_delay = std::chrono::milliseconds(100);
    policy_.max_delay = std::chrono::milliseconds(1000);
  }
  AttemptPlan Plan(const cleeng::FlowResult& result,
                   std::optional<grpc::StatusCode> code = grpc::StatusCode::OK) {
    auto plan = FlowAttemptPlan(job_, result, code, "w1", "sandbox", policy_, 0.5,
                                std::chrono::system_clock::now());
    EXPECT_TRUE(plan.has_value());
    return plan.value_or(AttemptPlan{});
  }
  db::ClaimedJob job_;
  RetryPolicy policy_;
};

TEST_F(FlowAttemptTest, SucceededCarriesOutcomeReferenceAndDeclineCode) {
  cleeng::FlowResult result;
  result.kind = Kind::kSucceeded;
  result.outcome = "declined";
  result.decline_code = "05";
  result.gateway_reference = "gw-1";
  result.rpc = cleeng::AdapterRpc::kCapture;
  result.summary = "flow=x steps=order_created:1";
  const AttemptPlan plan = Plan(result);
  EXPECT_EQ(plan.record.rpc, "Flow:Capture");
  EXPECT_EQ(plan.record.request_summary, "flow=x steps=order_created:1");
  EXPECT_EQ(plan.record.decision, "succeeded");
  EXPECT_EQ(plan.record.grpc_status, "OK");
  EXPECT_EQ(plan.record.gateway_status, std::optional<std::string>("DECLINED"));
  EXPECT_EQ(plan.transition.kind, db::JobTransition::Kind::kSucceeded);
  EXPECT_EQ(plan.transition.outcome, "declined");
  EXPECT_EQ(plan.transition.decline_code, std::optional<std::string>("05"));
  EXPECT_EQ(plan.transition.gateway_reference, std::optional<std::string>("gw-1"));
  EXPECT_TRUE(plan.called);
}

TEST_F(FlowAttemptTest, NoAdapterCallThisAttemptRecordsNone) {
  cleeng::FlowResult result;
  result.kind = Kind::kSucceeded;
  result.outcome = "approved";
  const AttemptPlan plan = Plan(result, std::nullopt);
  EXPECT_EQ(plan.record.grpc_status, "NONE");
  EXPECT_FALSE(plan.called);
}

TEST_F(FlowAttemptTest, AnUndecidedAdapterFollowsTheRetryPolicyAndInDoubtStaysInDoubt) {
  cleeng::FlowResult result;
  result.kind = Kind::kAdapterUndecided;
  result.adapter.code = grpc::StatusCode::UNAVAILABLE;
  result.adapter.message = "down";
  EXPECT_EQ(Plan(result, grpc::StatusCode::UNAVAILABLE).transition.kind,
            db::JobTransition::Kind::kRetry);
  result.adapter.code = grpc::StatusCode::DEADLINE_EXCEEDED;
  EXPECT_EQ(Plan(result, grpc::StatusCode::DEADLINE_EXCEEDED).transition.kind,
            db::JobTransition::Kind::kInDoubt);
  job_.was_in_doubt = true;
  result.adapter.code = grpc::StatusCode::UNAVAILABLE;
  EXPECT_EQ(Plan(result, grpc::StatusCode::UNAVAILABLE).transition.kind,
            db::JobTransition::Kind::kInDoubt);
}

TEST_F(FlowAttemptTest, CleengTransientRetriesWithItsErrorThenIsDeadAtTheBudget) {
  cleeng::FlowResult result;
  result.kind = Kind::kCleengTransient;
  result.error = "POST /3.1/orders: HTTP 500";
  const AttemptPlan retry = Plan(result);
  EXPECT_EQ(retry.transition.kind, db::JobTransition::Kind::kRetry);
  EXPECT_EQ(retry.transition.error, std::optional<std::string>("POST /3.1/orders: HTTP 500"));
  EXPECT_GT(retry.transition.delay.count(), 0);
  job_.budget_attempt = 3;
  const AttemptPlan dead = Plan(result);
  EXPECT_EQ(dead.transition.kind, db::JobTransition::Kind::kDead);
  EXPECT_NE(dead.transition.error.value_or("").find("HTTP 500"), std::string::npos)
      << dead.transition.error.value_or("");
}

TEST_F(FlowAttemptTest, RefusedIsDeadWithCleengsAnswerStoppedRetriesAtOnceLeaseLostIsNothing) {
  cleeng::FlowResult result;
  result.kind = Kind::kCleengRefused;
  result.error = "POST /3.1/orders: HTTP 422 {\"code\":\"missing_field\"}";
  const AttemptPlan dead = Plan(result, std::nullopt);
  EXPECT_EQ(dead.transition.kind, db::JobTransition::Kind::kDead);
  EXPECT_EQ(dead.transition.error, std::optional<std::string>(result.error));
  EXPECT_EQ(dead.record.error, std::optional<std::string>(result.error));

  result.kind = Kind::kStopped;
  result.error = "stopped after step order_created";
  const AttemptPlan stopped = Plan(result, std::nullopt);
  EXPECT_EQ(stopped.transition.kind, db::JobTransition::Kind::kRetry);
  EXPECT_EQ(stopped.transition.delay.count(), 0);

  result.kind = Kind::kLeaseLost;
  EXPECT_FALSE(FlowAttemptPlan(job_, result, std::nullopt, "w1", "sandbox", policy_, 0.5,
                               std::chrono::system_clock::now())
                   .has_value());
}

}  // namespace
}  // namespace payorch::worker
