#include "services/worker/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace payorch::worker {
namespace {

using std::chrono::milliseconds;
using State = CircuitBreaker::State;
using TimePoint = CircuitBreaker::TimePoint;

// A script of events at simulated times (ms from an arbitrary origin): nothing sleeps.
struct Step {
  int at_ms;
  enum Kind { kAdmit, kSuccess, kFailure, kNoCall } kind;
  bool expect_allowed = true;     // kAdmit only
  long expect_retry_after = 0;    // kAdmit only, when refused
  State expect_state;             // after the step
};

struct Case {
  std::string name;
  BreakerPolicy policy;
  std::vector<Step> steps;
};

TimePoint At(int ms) { return TimePoint{} + std::chrono::hours(1) + milliseconds(ms); }

class CircuitBreakerTable : public ::testing::TestWithParam<Case> {};

TEST_P(CircuitBreakerTable, FollowsTheScript) {
  const Case& c = GetParam();
  CircuitBreaker breaker(c.policy);
  for (std::size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    SCOPED_TRACE("step " + std::to_string(i) + " at " + std::to_string(step.at_ms) + " ms");
    switch (step.kind) {
      case Step::kAdmit: {
        const auto admission = breaker.Admit(At(step.at_ms));
        EXPECT_EQ(admission.allowed, step.expect_allowed);
        if (!step.expect_allowed) {
          EXPECT_EQ(admission.retry_after.count(), step.expect_retry_after);
        }
        break;
      }
      case Step::kSuccess: breaker.RecordSuccess(); break;
      case Step::kFailure: breaker.RecordFailure(At(step.at_ms)); break;
      case Step::kNoCall: breaker.RecordNoCall(); break;
    }
    EXPECT_EQ(breaker.state(), step.expect_state);
  }
}

const BreakerPolicy kThreeFailures{3, milliseconds(1000)};

INSTANTIATE_TEST_SUITE_P(
    Scripts, CircuitBreakerTable,
    ::testing::Values(
        Case{"closed_admits_and_successes_keep_it_closed",
             kThreeFailures,
             {{0, Step::kAdmit, true, 0, State::kClosed},
              {1, Step::kSuccess, true, 0, State::kClosed},
              {2, Step::kFailure, true, 0, State::kClosed},
              {3, Step::kFailure, true, 0, State::kClosed},
              {4, Step::kAdmit, true, 0, State::kClosed}}},
        Case{"a_success_resets_the_consecutive_count",
             kThreeFailures,
             {{0, Step::kFailure, true, 0, State::kClosed},
              {1, Step::kFailure, true, 0, State::kClosed},
              {2, Step::kSuccess, true, 0, State::kClosed},
              {3, Step::kFailure, true, 0, State::kClosed},
              {4, Step::kFailure, true, 0, State::kClosed},
              {5, Step::kAdmit, true, 0, State::kClosed}}},
        Case{"threshold_opens_and_refuses_until_the_probe_interval",
             kThreeFailures,
             {{0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kClosed},
              {100, Step::kFailure, true, 0, State::kOpen},
              {100, Step::kAdmit, false, 1000, State::kOpen},
              {700, Step::kAdmit, false, 400, State::kOpen},
              {1099, Step::kAdmit, false, 1, State::kOpen},
              // the first admission after the interval is the probe
              {1100, Step::kAdmit, true, 0, State::kHalfOpen},
              // others are refused while the probe is out
              {1101, Step::kAdmit, false, 1000, State::kHalfOpen}}},
        Case{"successful_probe_closes",
             kThreeFailures,
             {{0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kOpen},
              {1000, Step::kAdmit, true, 0, State::kHalfOpen},
              {1010, Step::kSuccess, true, 0, State::kClosed},
              {1011, Step::kAdmit, true, 0, State::kClosed},
              // the count starts again from zero
              {1012, Step::kFailure, true, 0, State::kClosed}}},
        Case{"failed_probe_reopens_for_another_interval",
             kThreeFailures,
             {{0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kOpen},
              {1000, Step::kAdmit, true, 0, State::kHalfOpen},
              {1500, Step::kFailure, true, 0, State::kOpen},
              {2000, Step::kAdmit, false, 500, State::kOpen},
              {2500, Step::kAdmit, true, 0, State::kHalfOpen}}},
        Case{"probe_without_a_call_lets_the_next_admission_probe",
             kThreeFailures,
             {{0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kOpen},
              {1000, Step::kAdmit, true, 0, State::kHalfOpen},
              {1001, Step::kNoCall, true, 0, State::kOpen},
              {1002, Step::kAdmit, true, 0, State::kHalfOpen}}},
        Case{"late_failures_while_open_do_not_extend_it",
             kThreeFailures,
             {{0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kClosed},
              {0, Step::kFailure, true, 0, State::kOpen},
              {900, Step::kFailure, true, 0, State::kOpen},
              {1000, Step::kAdmit, true, 0, State::kHalfOpen}}},
        Case{"threshold_of_one",
             BreakerPolicy{1, milliseconds(50)},
             {{0, Step::kFailure, true, 0, State::kOpen},
              {10, Step::kAdmit, false, 40, State::kOpen},
              {50, Step::kAdmit, true, 0, State::kHalfOpen}}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(IsAdapterFailure, OnlyUnreachableOverloadedOrSlow) {
  EXPECT_TRUE(IsAdapterFailure(grpc::StatusCode::UNAVAILABLE));
  EXPECT_TRUE(IsAdapterFailure(grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_TRUE(IsAdapterFailure(grpc::StatusCode::RESOURCE_EXHAUSTED));
  for (const auto code : {grpc::StatusCode::OK, grpc::StatusCode::INVALID_ARGUMENT,
                          grpc::StatusCode::FAILED_PRECONDITION, grpc::StatusCode::UNKNOWN,
                          grpc::StatusCode::INTERNAL, grpc::StatusCode::ABORTED}) {
    EXPECT_FALSE(IsAdapterFailure(code)) << code;
  }
}

TEST(AdapterGate, RefusesWhileOpenAndCountsInFlight) {
  AdapterGate gate(2, BreakerPolicy{1, milliseconds(60000)});
  const auto first = gate.TryAcquire([] {});
  ASSERT_EQ(first.kind, AdapterGate::Entry::Kind::kAdmitted);
  EXPECT_EQ(gate.in_flight(), 1);
  gate.Release(grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(gate.in_flight(), 0);
  EXPECT_EQ(gate.state(), State::kOpen);
  const auto refused = gate.TryAcquire([] {});
  EXPECT_EQ(refused.kind, AdapterGate::Entry::Kind::kRefused);
  EXPECT_GT(refused.retry_after.count(), 0);
  EXPECT_EQ(gate.in_flight(), 0);
  EXPECT_EQ(gate.waiting(), 0);
  EXPECT_GT(gate.TimeUntilAdmission().count(), 0);
}

TEST(AdapterGate, AtTheLimitKeepsTheWaiterAndWakesItWhenACallEnds) {
  AdapterGate gate(1, BreakerPolicy{5, milliseconds(1000)});
  ASSERT_EQ(gate.TryAcquire([] {}).kind, AdapterGate::Entry::Kind::kAdmitted);
  int woken = 0;
  EXPECT_EQ(gate.TryAcquire([&] { ++woken; }).kind, AdapterGate::Entry::Kind::kFull);
  EXPECT_EQ(gate.TryAcquire([&] { woken += 10; }).kind, AdapterGate::Entry::Kind::kFull);
  EXPECT_EQ(gate.waiting(), 2);
  EXPECT_EQ(woken, 0);
  gate.Release(grpc::StatusCode::OK);  // one call ended: the first waiter, only it
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(gate.waiting(), 1);
  ASSERT_EQ(gate.TryAcquire([] {}).kind, AdapterGate::Entry::Kind::kAdmitted);  // the woken retry
  // A reload that raises the limit wakes as many waiters as there is new room.
  gate.SetLimits(2, BreakerPolicy{5, milliseconds(1000)});
  EXPECT_EQ(woken, 11);
  EXPECT_EQ(gate.waiting(), 0);
  EXPECT_EQ(gate.in_flight(), 1);
}

TEST(AdapterGate, SetLimitsKeepsTheBreakerState) {
  AdapterGate gate(4, BreakerPolicy{1, milliseconds(60000)});
  ASSERT_EQ(gate.TryAcquire([] {}).kind, AdapterGate::Entry::Kind::kAdmitted);
  gate.Release(grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_EQ(gate.state(), State::kOpen);
  gate.SetLimits(8, BreakerPolicy{3, milliseconds(1)});
  EXPECT_EQ(gate.state(), State::kOpen);
  // The new, short probe interval applies to the open breaker at once.
  std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(gate.TryAcquire([] {}).kind, AdapterGate::Entry::Kind::kAdmitted);
  EXPECT_EQ(gate.state(), State::kHalfOpen);
}

}  // namespace
}  // namespace payorch::worker
