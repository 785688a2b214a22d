// The Cleeng flows end to end at the library level: real PostgreSQL (job_steps), the sandbox
// adapter over real gRPC, the fake Cleeng API over loopback.
#include <gtest/gtest.h>

#include "tests/integration/cleeng/flow_fixture.hpp"

namespace payorch::cleeng {
namespace {

using Kind = FlowResult::Kind;
using testing::fakes::FakeCleengApi;
using FaultKind = FakeCleengApi::FaultKind;
using Strings = std::vector<std::string>;

constexpr const char* kAuthDate = "2026-01-01T10:00:00Z";
constexpr const char* kCaptureDate = "2026-01-02T10:00:00Z";
constexpr const char* kTerminationDate = "2026-01-03T10:00:00Z";

class CleengFlowTest : public CleengFlowFixture {};

TEST_F(CleengFlowTest, AuthorisationReportsAnAuthorizedPaymentForTheOrdersAmount) {
  fake_.api().SetOfferPrice("S123123123_US", "8.1300", true);
  CleengClient client(Config());
  const db::ClaimedJob job = Claim(Insert(kAuthorisation, "sub-a1", "approve", kAuthDate));
  const FlowResult result = Run(job, client);
  ASSERT_EQ(result.kind, Kind::kSucceeded) << result.error;
  EXPECT_EQ(result.outcome, "approved");
  EXPECT_EQ(result.gateway_reference, gateways::sandbox::GatewayReferenceFor(job.idempotency_key));
  EXPECT_EQ(result.last_step, kStepPaymentReported);

  const auto orders = OrdersOf("sub-a1");
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].external_order_id, job.idempotency_key);
  const auto payments = PaymentsOf("sub-a1");
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].order_id, orders[0].id);
  EXPECT_EQ(payments[0].status, "authorized");
  EXPECT_EQ(payments[0].external_payment_id, result.gateway_reference);
  EXPECT_EQ(payments[0].payment_details_id, "665665665");
  // The adapter was asked for the order's amount, in minor units.
  const auto requests = AdapterRequests();
  ASSERT_EQ(requests.size(), 1u);
  ASSERT_TRUE(requests[0].amount.has_value());
  EXPECT_EQ(requests[0].amount->amount_minor(), 813);
  EXPECT_EQ(requests[0].amount->currency(), "USD");
  EXPECT_EQ(db::LoadJobSteps(*connection_, job.id).size(), 3u);
}

TEST_F(CleengFlowTest, ADeclinedAuthorisationIsReportedRejectedWithTheReason) {
  CleengClient client(Config());
  const db::ClaimedJob job =
      Claim(Insert(kAuthorisation, "sub-d1", "decline:insufficient_funds", kAuthDate));
  const FlowResult result = Run(job, client);
  ASSERT_EQ(result.kind, Kind::kSucceeded) << result.error;
  EXPECT_EQ(result.outcome, "declined");
  EXPECT_EQ(result.decline_code, "insufficient_funds");
  const auto payments = PaymentsOf("sub-d1");
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].status, "rejected");
  EXPECT_EQ(payments[0].rejected_reason, "insufficient_funds");
}

TEST_F(CleengFlowTest, SplitFlowCapturesTheAuthorisationPayorchReported) {
  CleengClient client(Config());
  RunToEnd(Insert(kAuthorisation, "sub-s1", "approve", kAuthDate), client);
  const db::ClaimedJob capture = Claim(Insert(kCapture, "sub-s1", "approve", kCaptureDate));
  const FlowResult result = Run(capture, client);
  ASSERT_EQ(result.kind, Kind::kSucceeded) << result.error;
  EXPECT_EQ(result.outcome, "approved");
  EXPECT_EQ(OrdersOf("sub-s1").size(), 1u);  // the capture made no order of its own
  const auto payments = PaymentsOf("sub-s1");
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].history, (Strings{"authorized", "captured"}));
  // The capture carried the authorisation's reference and amount (12.99 by default).
  const auto requests = AdapterRequests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].rpc, AdapterRpc::kCapture);
  EXPECT_EQ(requests[1].authorization_reference, payments[0].external_payment_id);
  EXPECT_EQ(requests[1].amount->amount_minor(), 1299);
}

TEST_F(CleengFlowTest, ADeclinedCaptureRejectsTheAuthorisedPayment) {
  CleengClient client(Config());
  RunToEnd(Insert(kAuthorisation, "sub-s2", "approve", kAuthDate), client);
  // The sandbox answers a key's first result: a capture under a new key declines on its token.
  const FlowResult result =
      RunToEnd(Insert(kCapture, "sub-s2", "decline:expired_card", kCaptureDate), client);
  EXPECT_EQ(result.outcome, "declined");
  const auto payments = PaymentsOf("sub-s2");
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].history, (Strings{"authorized", "rejected"}));
  EXPECT_EQ(payments[0].rejected_reason, "expired_card");
}

TEST_F(CleengFlowTest, CaptureWithoutAnAuthorisationIsADirectCharge) {
  CleengClient client(Config());
  const db::ClaimedJob job = Claim(Insert(kCapture, "sub-c1", "approve", kCaptureDate));
  const FlowResult result = Run(job, client);
  ASSERT_EQ(result.kind, Kind::kSucceeded) << result.error;
  ASSERT_EQ(OrdersOf("sub-c1").size(), 1u);
  const auto payments = PaymentsOf("sub-c1");
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].history, Strings{"captured"});
  const auto requests = AdapterRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].authorization_reference.empty());
  EXPECT_EQ(requests[0].amount->amount_minor(), 1299);
}

TEST_F(CleengFlowTest, TerminationCancelsAnOpenAuthorisationThenTerminates) {
  CleengClient client(Config());
  RunToEnd(Insert(kAuthorisation, "sub-t1", "approve", kAuthDate), client);
  const FlowResult result =
      RunToEnd(Insert(kTermination, "sub-t1", "approve", kTerminationDate), client);
  EXPECT_EQ(result.last_step, kStepSubscriptionTerminated);
  const auto payments = PaymentsOf("sub-t1");
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].history, (Strings{"authorized", "cancelled"}));
  const auto requests = AdapterRequests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].rpc, AdapterRpc::kTerminate);
  EXPECT_EQ(requests[1].authorization_reference, payments[0].external_payment_id);
  EXPECT_EQ(fake_.api().State().subscriptions.at("sub-t1").status, "terminated");
}

TEST_F(CleengFlowTest, TerminationAfterACaptureHasNothingToCancel) {
  CleengClient client(Config());
  RunToEnd(Insert(kAuthorisation, "sub-t2", "approve", kAuthDate), client);
  RunToEnd(Insert(kCapture, "sub-t2", "approve", kCaptureDate), client);
  RunToEnd(Insert(kTermination, "sub-t2", "approve", kTerminationDate), client);
  const auto payments = PaymentsOf("sub-t2");
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].history, (Strings{"authorized", "captured"}));
  EXPECT_TRUE(AdapterRequests().back().authorization_reference.empty());
  EXPECT_EQ(fake_.api().State().subscriptions.at("sub-t2").termination_requests, 1);
}

TEST_F(CleengFlowTest, TerminationWithoutAnAuthorisationOnlyTerminates) {
  CleengClient client(Config());
  RunToEnd(Insert(kTermination, "sub-t3", "approve", kTerminationDate), client);
  EXPECT_TRUE(PaymentsOf("sub-t3").empty());
  EXPECT_TRUE(OrdersOf("sub-t3").empty());
  EXPECT_EQ(fake_.api().State().subscriptions.at("sub-t3").status, "terminated");
}

TEST_F(CleengFlowTest, CleengFailingThenRecoveringCompletesTheFlowWithOneOrderAndPayment) {
  fake_.api().InjectFault({FaultKind::kStatus500, 2, "POST", "/3.1/orders", 0, {}});
  fake_.api().InjectFault({FaultKind::kStatus429, 1, "POST", "/3.1/payments", 0, {}});
  fake_.api().InjectFault({FaultKind::kStatus500, 1, "GET", "/3.1/payments", 0, {}});
  CleengClient client(Config());
  const FlowResult result =
      RunToEnd(Insert(kAuthorisation, "sub-f1", "approve", kAuthDate), client);
  EXPECT_EQ(result.outcome, "approved");
  EXPECT_EQ(fake_.api().State().faults_applied, 4);
  EXPECT_EQ(OrdersOf("sub-f1").size(), 1u);
  ASSERT_EQ(PaymentsOf("sub-f1").size(), 1u);
  EXPECT_EQ(PaymentsOf("sub-f1")[0].status, "authorized");
}

TEST_F(CleengFlowTest, CleengDownBeyondTheBoundsEndsTransientThenTheRetryCompletes) {
  fake_.api().InjectFault({FaultKind::kStatus500, 5, "", "/3.1/payments", 0, {}});
  CleengClient client(Config(2));
  const db::ClaimedJob job = Claim(Insert(kAuthorisation, "sub-f2", "approve", kAuthDate));
  const FlowResult first = Run(job, client);
  ASSERT_EQ(first.kind, Kind::kCleengTransient) << first.error;
  EXPECT_EQ(first.last_step, kStepAdapterDecided);
  ASSERT_TRUE(first.cleeng_error.has_value());
  EXPECT_EQ(first.cleeng_error->http_status, 500);
  // The next attempt, with a client whose bounds outlast the three failures left, resumes
  // after the adapter step: no second order, no second authorisation.
  CleengClient healthy(Config(6));
  const db::ClaimedJob retry = CrashAndReclaim(job);
  FlowResult second = Run(retry, healthy);
  ASSERT_EQ(second.kind, Kind::kSucceeded) << second.error;
  EXPECT_EQ(OrdersOf("sub-f2").size(), 1u);
  EXPECT_EQ(PaymentsOf("sub-f2").size(), 1u);
  EXPECT_EQ(Effects(retry), 1);
}

TEST_F(CleengFlowTest, AReplyLostAfterTheWriteNeverMakesASecondOrderOrPayment) {
  // With one attempt per call, the lost reply ends the run after Cleeng wrote; the next attempt
  // (new fence) must find what was written instead of writing again.
  fake_.api().InjectFault({FaultKind::kDropAfterWrite, 1, "POST", "/3.1/orders", 0, {}});
  fake_.api().InjectFault({FaultKind::kDropAfterWrite, 1, "POST", "/3.1/payments", 0, {}});
  CleengClient client(Config(1));
  db::ClaimedJob job = Claim(Insert(kAuthorisation, "sub-l1", "approve", kAuthDate));
  FlowResult result = Run(job, client);
  EXPECT_EQ(result.kind, Kind::kCleengTransient) << result.error;
  EXPECT_EQ(OrdersOf("sub-l1").size(), 1u);
  job = CrashAndReclaim(job);
  result = Run(job, client);
  EXPECT_EQ(result.kind, Kind::kCleengTransient) << result.error;
  EXPECT_EQ(PaymentsOf("sub-l1").size(), 1u);
  job = CrashAndReclaim(job);
  result = Run(job, client);
  ASSERT_EQ(result.kind, Kind::kSucceeded) << result.error;
  EXPECT_EQ(OrdersOf("sub-l1").size(), 1u);
  EXPECT_EQ(PaymentsOf("sub-l1").size(), 1u);
  EXPECT_EQ(PaymentsOf("sub-l1")[0].order_id, OrdersOf("sub-l1")[0].id);
  EXPECT_EQ(Effects(job), 1);
}

// A worker killed after each recorded step (simulated by stopping the flow there), the job
// rescued with a new fence and run again: exactly one order and one payment per flow, the right
// statuses, one adapter effect per key.
TEST_F(CleengFlowTest, ACrashAfterAnyStepResumesWithoutDuplicates) {
  CleengClient client(Config());
  auto run_crashing_after = [&](const db::ClaimedJob& job, int k) {
    int recorded = 0;
    FlowHooks hooks;
    hooks.continue_after_step = [&](std::string_view) { return ++recorded < k; };
    const FlowResult stopped = Run(job, client, hooks);
    EXPECT_EQ(stopped.kind, Kind::kStopped) << "k=" << k << " " << stopped.error;
    const db::ClaimedJob rescued = CrashAndReclaim(job);
    FlowResult resumed = Run(rescued, client);
    EXPECT_EQ(resumed.kind, Kind::kSucceeded) << "k=" << k << " " << resumed.error;
    Finish(rescued, resumed);
    EXPECT_EQ(Effects(rescued), 1) << "k=" << k;
    return resumed;
  };

  for (int k = 1; k <= 3; ++k) {  // authorisation: 3 steps
    const std::string sub = "sub-ca-" + std::to_string(k);
    run_crashing_after(Claim(Insert(kAuthorisation, sub, "approve", kAuthDate)), k);
    EXPECT_EQ(OrdersOf(sub).size(), 1u) << sub;
    ASSERT_EQ(PaymentsOf(sub).size(), 1u) << sub;
    EXPECT_EQ(PaymentsOf(sub)[0].history, Strings{"authorized"}) << sub;
  }
  for (int k = 1; k <= 3; ++k) {  // split capture: 3 steps
    const std::string sub = "sub-cs-" + std::to_string(k);
    RunToEnd(Insert(kAuthorisation, sub, "approve", kAuthDate), client);
    run_crashing_after(Claim(Insert(kCapture, sub, "approve", kCaptureDate)), k);
    EXPECT_EQ(OrdersOf(sub).size(), 1u) << sub;
    ASSERT_EQ(PaymentsOf(sub).size(), 1u) << sub;
    EXPECT_EQ(PaymentsOf(sub)[0].history, (Strings{"authorized", "captured"})) << sub;
  }
  for (int k = 1; k <= 4; ++k) {  // direct charge: 4 steps
    const std::string sub = "sub-cc-" + std::to_string(k);
    run_crashing_after(Claim(Insert(kCapture, sub, "approve", kCaptureDate)), k);
    EXPECT_EQ(OrdersOf(sub).size(), 1u) << sub;
    ASSERT_EQ(PaymentsOf(sub).size(), 1u) << sub;
    EXPECT_EQ(PaymentsOf(sub)[0].history, Strings{"captured"}) << sub;
  }
  for (int k = 1; k <= 4; ++k) {  // termination with an open authorisation: 4 steps
    const std::string sub = "sub-ct-" + std::to_string(k);
    RunToEnd(Insert(kAuthorisation, sub, "approve", kAuthDate), client);
    run_crashing_after(Claim(Insert(kTermination, sub, "approve", kTerminationDate)), k);
    EXPECT_EQ(OrdersOf(sub).size(), 1u) << sub;
    ASSERT_EQ(PaymentsOf(sub).size(), 1u) << sub;
    EXPECT_EQ(PaymentsOf(sub)[0].history, (Strings{"authorized", "cancelled"})) << sub;
    EXPECT_EQ(fake_.api().State().subscriptions.at(sub).status, "terminated") << sub;
  }
}

TEST_F(CleengFlowTest, ACleengRefusalEndsTheFlowWithCleengsAnswer) {
  CleengConfig config = Config();
  config.publisher_token = "revoked-token";
  CleengClient client(config);
  const db::ClaimedJob job = Claim(Insert(kAuthorisation, "sub-r1", "approve", kAuthDate));
  const FlowResult result = Run(job, client);
  ASSERT_EQ(result.kind, Kind::kCleengRefused) << result.error;
  ASSERT_TRUE(result.cleeng_error.has_value());
  EXPECT_EQ(result.cleeng_error->http_status, 401);
  EXPECT_NE(result.error.find("X-Publisher-Token"), std::string::npos) << result.error;
  EXPECT_EQ(result.error.find("revoked-token"), std::string::npos);
  EXPECT_TRUE(AdapterRequests().empty());  // no order, no authorisation
}

TEST_F(CleengFlowTest, AnUndecidedAdapterCallIsRepeatedWithTheSameKeyAndOneOrder) {
  CleengClient client(Config());
  db::ClaimedJob job = Claim(Insert(kAuthorisation, "sub-u1", "unavailable:1", kAuthDate));
  const FlowResult first = Run(job, client);
  ASSERT_EQ(first.kind, Kind::kAdapterUndecided) << first.error;
  EXPECT_EQ(first.adapter.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(first.last_step, kStepOrderCreated);
  job = CrashAndReclaim(job);
  const FlowResult second = Run(job, client);
  ASSERT_EQ(second.kind, Kind::kSucceeded) << second.error;
  EXPECT_EQ(OrdersOf("sub-u1").size(), 1u);
  EXPECT_EQ(PaymentsOf("sub-u1").size(), 1u);
  const auto requests = AdapterRequests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].amount->amount_minor(), requests[1].amount->amount_minor());
}

TEST_F(CleengFlowTest, AnAttemptWhoseLeaseWasLostRecordsNoStep) {
  CleengClient client(Config());
  const db::ClaimedJob stale = Claim(Insert(kAuthorisation, "sub-x1", "approve", kAuthDate));
  const db::ClaimedJob current = CrashAndReclaim(stale);
  const FlowResult result = Run(stale, client);
  EXPECT_EQ(result.kind, Kind::kLeaseLost) << result.error;
  EXPECT_TRUE(db::LoadJobSteps(*connection_, stale.id).empty());
  // The current owner finds the order the stale attempt made and goes on with it.
  const FlowResult owner = Run(current, client);
  ASSERT_EQ(owner.kind, Kind::kSucceeded) << owner.error;
  EXPECT_EQ(OrdersOf("sub-x1").size(), 1u);
  EXPECT_EQ(PaymentsOf("sub-x1").size(), 1u);
}

}  // namespace
}  // namespace payorch::cleeng
