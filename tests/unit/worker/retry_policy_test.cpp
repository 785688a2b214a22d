#include "services/worker/retry_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace payorch::worker {
namespace {

using std::chrono::milliseconds;

RetryPolicy Policy() {
  RetryPolicy policy;
  policy.max_attempts = 5;
  policy.base_delay = milliseconds(1000);
  policy.max_delay = milliseconds(10000);
  return policy;
}

CallOutcome Status(grpc::StatusCode code, std::string message = "") {
  CallOutcome outcome;
  outcome.code = code;
  outcome.message = std::move(message);
  return outcome;
}

CallOutcome Answer(GatewayStatus status, std::string decline_code = "") {
  CallOutcome outcome;
  outcome.code = grpc::StatusCode::OK;
  outcome.gateway_status = status;
  outcome.decline_code = std::move(decline_code);
  return outcome;
}

struct DecideCase {
  std::string name;
  CallOutcome outcome;
  DecisionKind expected;
};

TEST(RetryPolicyTest, ClassifiesEveryStatusOnAnEarlyAttempt) {
  const std::vector<DecideCase> cases = {
      {"approved", Answer(GatewayStatus::kApproved), DecisionKind::kSucceeded},
      {"declined", Answer(GatewayStatus::kDeclined, "05"), DecisionKind::kSucceeded},
      {"pending", Answer(GatewayStatus::kPending), DecisionKind::kInDoubt},
      {"unspecified", Answer(GatewayStatus::kUnspecified), DecisionKind::kDead},
      {"unavailable", Status(grpc::StatusCode::UNAVAILABLE), DecisionKind::kRetry},
      {"resource_exhausted", Status(grpc::StatusCode::RESOURCE_EXHAUSTED), DecisionKind::kRetry},
      {"aborted", Status(grpc::StatusCode::ABORTED), DecisionKind::kRetry},
      {"deadline_exceeded", Status(grpc::StatusCode::DEADLINE_EXCEEDED), DecisionKind::kInDoubt},
      {"unknown", Status(grpc::StatusCode::UNKNOWN), DecisionKind::kInDoubt},
      {"internal", Status(grpc::StatusCode::INTERNAL), DecisionKind::kInDoubt},
      {"cancelled", Status(grpc::StatusCode::CANCELLED), DecisionKind::kInDoubt},
      {"invalid_argument", Status(grpc::StatusCode::INVALID_ARGUMENT), DecisionKind::kDead},
      {"failed_precondition", Status(grpc::StatusCode::FAILED_PRECONDITION), DecisionKind::kDead},
      {"not_found", Status(grpc::StatusCode::NOT_FOUND), DecisionKind::kDead},
      {"already_exists", Status(grpc::StatusCode::ALREADY_EXISTS), DecisionKind::kDead},
      {"permission_denied", Status(grpc::StatusCode::PERMISSION_DENIED), DecisionKind::kDead},
      {"unauthenticated", Status(grpc::StatusCode::UNAUTHENTICATED), DecisionKind::kDead},
      {"unimplemented", Status(grpc::StatusCode::UNIMPLEMENTED), DecisionKind::kDead},
      {"out_of_range", Status(grpc::StatusCode::OUT_OF_RANGE), DecisionKind::kDead},
      {"data_loss", Status(grpc::StatusCode::DATA_LOSS), DecisionKind::kDead},
      {"unknown_code", Status(static_cast<grpc::StatusCode>(42)), DecisionKind::kDead},
  };
  for (const auto& c : cases) {
    const Decision decision = Decide(c.outcome, 1, Policy(), 0.0);
    EXPECT_EQ(decision.kind, c.expected) << c.name;
    if (decision.kind == DecisionKind::kRetry || decision.kind == DecisionKind::kInDoubt) {
      EXPECT_EQ(decision.delay, milliseconds(500)) << c.name;  // half of base at jitter 0
      EXPECT_FALSE(decision.reason.empty()) << c.name;
    }
    if (decision.kind == DecisionKind::kDead) {
      EXPECT_FALSE(decision.reason.empty()) << c.name;
    }
  }
}

TEST(RetryPolicyTest, SucceededCarriesOutcomeAndDeclineCode) {
  const Decision approved = Decide(Answer(GatewayStatus::kApproved), 3, Policy(), 0.5);
  EXPECT_EQ(approved.kind, DecisionKind::kSucceeded);
  EXPECT_EQ(approved.outcome, Outcome::kApproved);
  EXPECT_EQ(OutcomeName(approved.outcome), "approved");

  const Decision declined =
      Decide(Answer(GatewayStatus::kDeclined, "insufficient_funds"), 1, Policy(), 0.5);
  EXPECT_EQ(declined.kind, DecisionKind::kSucceeded);
  EXPECT_EQ(declined.outcome, Outcome::kDeclined);
  EXPECT_EQ(declined.decline_code, "insufficient_funds");
  EXPECT_EQ(OutcomeName(declined.outcome), "declined");
}

TEST(RetryPolicyTest, FinalOutcomesDoNotDependOnTheAttemptNumber) {
  // Even on the last allowed attempt, an answer is an answer.
  EXPECT_EQ(Decide(Answer(GatewayStatus::kApproved), 5, Policy(), 0.0).kind,
            DecisionKind::kSucceeded);
  EXPECT_EQ(Decide(Answer(GatewayStatus::kDeclined), 99, Policy(), 0.0).kind,
            DecisionKind::kSucceeded);
}

TEST(RetryPolicyTest, TransientBecomesDeadWhenAttemptsAreSpent) {
  const struct {
    CallOutcome outcome;
    std::string status_text;
  } cases[] = {
      {Status(grpc::StatusCode::UNAVAILABLE, "connection refused"),
       "UNAVAILABLE: connection refused"},
      {Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"),
       "DEADLINE_EXCEEDED: Deadline Exceeded"},
      {Answer(GatewayStatus::kPending), "OK/PENDING"},
  };
  for (const auto& c : cases) {
    const Decision before_last = Decide(c.outcome, 4, Policy(), 0.0);
    EXPECT_NE(before_last.kind, DecisionKind::kDead) << c.status_text;
    for (int attempt : {5, 6}) {
      const Decision last = Decide(c.outcome, attempt, Policy(), 0.0);
      EXPECT_EQ(last.kind, DecisionKind::kDead) << c.status_text;
      EXPECT_EQ(last.reason, "gave up after " + std::to_string(attempt) +
                                 " attempts; last status " + c.status_text);
    }
  }
}

TEST(RetryPolicyTest, PermanentReasonNamesTheStatus) {
  const Decision decision =
      Decide(Status(grpc::StatusCode::INVALID_ARGUMENT, "bad currency"), 1, Policy(), 0.0);
  EXPECT_EQ(decision.kind, DecisionKind::kDead);
  EXPECT_EQ(decision.reason, "permanent status INVALID_ARGUMENT: bad currency");
}

TEST(RetryPolicyTest, OneAttemptPolicyNeverRetries) {
  RetryPolicy policy = Policy();
  policy.max_attempts = 1;
  EXPECT_EQ(Decide(Status(grpc::StatusCode::UNAVAILABLE), 1, policy, 0.0).kind,
            DecisionKind::kDead);
}

TEST(RetryPolicyTest, RetryDelayFollowsTheBackoffSchedule) {
  RetryPolicy policy = Policy();
  policy.max_attempts = 100;
  for (int attempt = 1; attempt <= 10; ++attempt) {
    for (double jitter : {0.0, 0.25, 0.999}) {
      EXPECT_EQ(Decide(Status(grpc::StatusCode::UNAVAILABLE), attempt, policy, jitter).delay,
                BackoffDelay(attempt, policy, jitter))
          << "attempt " << attempt << " jitter " << jitter;
    }
  }
}

struct BackoffCase {
  int attempt;
  double jitter;
  long long expected_ms;
};

TEST(BackoffScheduleTest, ExponentialCappedWithEqualJitter) {
  // base 1000 ms, cap 10000 ms: scheduled 1000, 2000, 4000, 8000, 10000, 10000 ...;
  // delay = scheduled/2 + jitter * scheduled/2.
  const std::vector<BackoffCase> cases = {
      {1, 0.0, 500},   {1, 0.5, 750},  {1, 0.999, 999}, {2, 0.0, 1000},    {2, 0.5, 1500},
      {3, 0.0, 2000},  {3, 0.5, 3000}, {4, 0.0, 4000},  {4, 0.75, 7000},   {5, 0.0, 5000},
      {5, 0.5, 7500},  {6, 0.0, 5000}, {20, 0.5, 7500}, {1000, 0.0, 5000}, {1000, 0.999, 9995},
      {0, 0.0, 500},   {-3, 0.0, 500},  // attempt below 1 counts as the first
      {2, -1.0, 1000}, {2, 7.0, 2000},  // jitter clamped to [0, 1]
  };
  for (const auto& c : cases) {
    EXPECT_EQ(BackoffDelay(c.attempt, Policy(), c.jitter).count(), c.expected_ms)
        << "attempt " << c.attempt << " jitter " << c.jitter;
  }
}

TEST(BackoffScheduleTest, NeverExceedsTheCapNorFallsBelowHalfTheSchedule) {
  RetryPolicy policy;
  policy.base_delay = milliseconds(250);
  policy.max_delay = milliseconds(300000);
  for (int attempt = 1; attempt <= 64; ++attempt) {
    const long long scheduled =
        attempt > 20 ? 300000 : std::min<long long>(300000, 250LL << (attempt - 1));
    const auto low = BackoffDelay(attempt, policy, 0.0).count();
    const auto high = BackoffDelay(attempt, policy, 0.9999).count();
    EXPECT_EQ(low, scheduled / 2) << attempt;
    EXPECT_LE(high, 300000) << attempt;
    EXPECT_GE(high, low) << attempt;
  }
}

TEST(BackoffScheduleTest, ZeroBaseMeansNoDelay) {
  RetryPolicy policy;
  policy.base_delay = milliseconds(0);
  policy.max_delay = milliseconds(0);
  EXPECT_EQ(BackoffDelay(3, policy, 0.7).count(), 0);
}

TEST(StatusNamesTest, NamesMatchGrpc) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAVAILABLE), "UNAVAILABLE");
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(42)), "CODE_42");
  EXPECT_EQ(DecisionKindName(DecisionKind::kInDoubt), "in_doubt");
  EXPECT_EQ(GatewayStatusName(GatewayStatus::kPending), "PENDING");
}

}  // namespace
}  // namespace payorch::worker
