// The sandbox adapter over real gRPC: an in-process SandboxServer on a free port, and the
// generated client stubs of the contract and of SandboxControl.
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateways/sandbox/sandbox_server.hpp"
#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "sandbox_control.grpc.pb.h"
#include "tests/support/process.hpp"

namespace payorch::gateways::sandbox {
namespace {

namespace v1 = payorch::gateway::v1;
namespace sv1 = payorch::sandbox::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kCallDeadline{10'000};

v1::AuthorizeRequest Authorize(const std::string& key, const std::string& token,
                               std::int64_t amount_minor = 1299) {
  v1::AuthorizeRequest request;
  request.mutable_meta()->set_idempotency_key(key);
  request.mutable_meta()->set_job_id(42);
  request.mutable_meta()->set_attempt(1);
  request.mutable_event()->set_token(token);
  request.mutable_event()->set_topic("subscriptionReadyForPaymentAuthorisation");
  request.mutable_amount()->set_amount_minor(amount_minor);
  request.mutable_amount()->set_currency("USD");
  return request;
}

class SandboxGrpcTest : public ::testing::Test {
 protected:
  SandboxGrpcTest()
      : channel_(grpc::CreateChannel(sandbox_.address(), grpc::InsecureChannelCredentials())),
        gateway_(v1::PaymentGateway::NewStub(channel_)),
        control_(sv1::SandboxControl::NewStub(channel_)) {}

  grpc::Status CallAuthorize(const v1::AuthorizeRequest& request, v1::PaymentResult& result,
                             milliseconds deadline = kCallDeadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    return gateway_->Authorize(&context, request, &result);
  }

  v1::GetPaymentStatusResponse Status(const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    v1::GetPaymentStatusRequest request;
    request.set_idempotency_key(key);
    v1::GetPaymentStatusResponse response;
    const grpc::Status status = gateway_->GetPaymentStatus(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  sv1::GetEffectsResponse Effects(const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    sv1::GetEffectsRequest request;
    request.set_idempotency_key(key);
    sv1::GetEffectsResponse response;
    const grpc::Status status = control_->GetEffects(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  SandboxServer sandbox_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PaymentGateway::Stub> gateway_;
  std::unique_ptr<sv1::SandboxControl::Stub> control_;
};

TEST_F(SandboxGrpcTest, ListensOnTheSelectedPort) {
  EXPECT_GT(sandbox_.port(), 0);
  EXPECT_EQ(sandbox_.address(), "127.0.0.1:" + std::to_string(sandbox_.port()));
}

TEST_F(SandboxGrpcTest, ApproveEchoesTheAmountWithAStableReference) {
  v1::PaymentResult result;
  ASSERT_TRUE(CallAuthorize(Authorize("approve-1", "approve"), result).ok());
  EXPECT_EQ(result.status(), v1::PaymentResult::APPROVED);
  EXPECT_EQ(result.gateway_reference(), GatewayReferenceFor("approve-1"));
  EXPECT_EQ(result.gateway_reference().rfind("sbx_", 0), 0u);
  EXPECT_EQ(result.amount().amount_minor(), 1299);
  EXPECT_EQ(result.amount().currency(), "USD");

  // Any unscripted token (a real card token, say) approves too.
  v1::PaymentResult other;
  ASSERT_TRUE(CallAuthorize(Authorize("approve-2", "tok_visa_4242"), other).ok());
  EXPECT_EQ(other.status(), v1::PaymentResult::APPROVED);
  EXPECT_NE(other.gateway_reference(), result.gateway_reference());
}

TEST_F(SandboxGrpcTest, DeclineWithDefaultAndScriptedCodes) {
  v1::PaymentResult plain;
  ASSERT_TRUE(CallAuthorize(Authorize("decline-1", "decline"), plain).ok());
  EXPECT_EQ(plain.status(), v1::PaymentResult::DECLINED);
  EXPECT_EQ(plain.decline_code(), "card_declined");

  v1::PaymentResult coded;
  ASSERT_TRUE(CallAuthorize(Authorize("decline-2", "decline:insufficient_funds"), coded).ok());
  EXPECT_EQ(coded.status(), v1::PaymentResult::DECLINED);
  EXPECT_EQ(coded.decline_code(), "insufficient_funds");
  EXPECT_EQ(Effects("decline-2").effects(), 1);
}

TEST_F(SandboxGrpcTest, UnavailableTwiceThenApprovesWithExactlyOneEffect) {
  const auto request = Authorize("unavail-1", "unavailable:2");
  for (int call = 1; call <= 2; ++call) {
    v1::PaymentResult result;
    const grpc::Status status = CallAuthorize(request, result);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << "call " << call;
    EXPECT_FALSE(Status("unavail-1").found()) << "nothing happened after call " << call;
  }
  v1::PaymentResult result;
  ASSERT_TRUE(CallAuthorize(request, result).ok());
  EXPECT_EQ(result.status(), v1::PaymentResult::APPROVED);

  const auto effects = Effects("unavail-1");
  EXPECT_TRUE(effects.found());
  EXPECT_EQ(effects.rpc(), "Authorize");
  EXPECT_EQ(effects.effects(), 1);
  EXPECT_EQ(effects.calls(), 3);
}

TEST_F(SandboxGrpcTest, SlowAnswerMissesTheDeadlineButTheEffectExists) {
  v1::PaymentResult result;
  const grpc::Status status =
      CallAuthorize(Authorize("slow-1", "slow:5000"), result, milliseconds(200));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  const auto found = Status("slow-1");
  ASSERT_TRUE(found.found());
  EXPECT_EQ(found.result().status(), v1::PaymentResult::APPROVED);
  EXPECT_EQ(found.result().gateway_reference(), GatewayReferenceFor("slow-1"));

  // The retry with the same key answers the stored result at once, without a second effect.
  v1::PaymentResult retry;
  ASSERT_TRUE(CallAuthorize(Authorize("slow-1", "slow:5000"), retry, milliseconds(2000)).ok());
  EXPECT_EQ(retry.gateway_reference(), found.result().gateway_reference());
  const auto effects = Effects("slow-1");
  EXPECT_EQ(effects.effects(), 1);
  EXPECT_EQ(effects.calls(), 2);
  EXPECT_EQ(effects.status_queries(), 1);
}

TEST_F(SandboxGrpcTest, LostAnswersUnknownAfterTheEffect) {
  v1::PaymentResult result;
  EXPECT_EQ(CallAuthorize(Authorize("lost-1", "lost"), result).error_code(),
            grpc::StatusCode::UNKNOWN);
  EXPECT_TRUE(Status("lost-1").found());

  v1::PaymentResult retry;
  ASSERT_TRUE(CallAuthorize(Authorize("lost-1", "lost"), retry).ok());
  EXPECT_EQ(retry.status(), v1::PaymentResult::APPROVED);
  EXPECT_EQ(Effects("lost-1").effects(), 1);
  EXPECT_EQ(Effects("lost-1").calls(), 2);
}

TEST_F(SandboxGrpcTest, InvalidIsAPermanentErrorWithoutEffect) {
  v1::PaymentResult result;
  EXPECT_EQ(CallAuthorize(Authorize("invalid-1", "invalid"), result).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(Status("invalid-1").found());
  const auto effects = Effects("invalid-1");
  EXPECT_TRUE(effects.found());
  EXPECT_EQ(effects.effects(), 0);
  EXPECT_EQ(effects.calls(), 1);
}

TEST_F(SandboxGrpcTest, MissingMetaOrBadKeyIsInvalidArgument) {
  v1::AuthorizeRequest no_meta = Authorize("x", "approve");
  no_meta.clear_meta();
  v1::PaymentResult result;
  EXPECT_EQ(CallAuthorize(no_meta, result).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CallAuthorize(Authorize("", "approve"), result).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CallAuthorize(Authorize(std::string(65, 'k'), "approve"), result).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext context;
  v1::GetPaymentStatusRequest empty_key;
  v1::GetPaymentStatusResponse response;
  EXPECT_EQ(gateway_->GetPaymentStatus(&context, empty_key, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  EffectTotals totals;
  EXPECT_TRUE(sandbox_.store().List(10, totals).empty());
}

TEST_F(SandboxGrpcTest, GetPaymentStatusOfAnUnknownKeyIsNotFound) {
  EXPECT_FALSE(Status("never-sent").found());
  EXPECT_FALSE(Effects("never-sent").found());
}

TEST_F(SandboxGrpcTest, EveryMethodWithTheSameKeyAnswersTheFirstResult) {
  v1::PaymentResult first;
  ASSERT_TRUE(CallAuthorize(Authorize("shared-1", "decline:05"), first).ok());

  v1::CaptureRequest capture;
  capture.mutable_meta()->set_idempotency_key("shared-1");
  capture.mutable_event()->set_token("approve");
  v1::PaymentResult captured;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(gateway_->Capture(&context, capture, &captured).ok());
  }
  v1::TerminateRequest terminate;
  terminate.mutable_meta()->set_idempotency_key("shared-1");
  v1::PaymentResult terminated;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(gateway_->Terminate(&context, terminate, &terminated).ok());
  }
  for (const auto* later : {&captured, &terminated}) {
    EXPECT_EQ(later->status(), v1::PaymentResult::DECLINED);
    EXPECT_EQ(later->decline_code(), "05");
    EXPECT_EQ(later->gateway_reference(), first.gateway_reference());
  }
  const auto effects = Effects("shared-1");
  EXPECT_EQ(effects.rpc(), "Authorize");
  EXPECT_EQ(effects.effects(), 1);
  EXPECT_EQ(effects.calls(), 3);
}

TEST_F(SandboxGrpcTest, TwentyConcurrentCallsWithOneKeyCauseOneEffect) {
  constexpr int kCalls = 20;
  // slow: keeps the first call in flight while the others arrive.
  const auto request = Authorize("concurrent-1", "slow:300");
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<v1::PaymentResult> results(kCalls);
  std::vector<std::thread> callers;
  callers.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] { statuses[i] = CallAuthorize(request, results[i]); });
  }
  for (auto& caller : callers) caller.join();

  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(results[i].status(), v1::PaymentResult::APPROVED) << i;
    EXPECT_EQ(results[i].gateway_reference(), GatewayReferenceFor("concurrent-1")) << i;
  }
  const auto effects = Effects("concurrent-1");
  EXPECT_EQ(effects.effects(), 1);
  EXPECT_EQ(effects.calls(), kCalls);
}

TEST_F(SandboxGrpcTest, ListEffectsReportsRecordsAndTotals) {
  v1::PaymentResult result;
  ASSERT_TRUE(CallAuthorize(Authorize("list-a", "approve"), result).ok());
  ASSERT_TRUE(CallAuthorize(Authorize("list-a", "approve"), result).ok());
  ASSERT_TRUE(CallAuthorize(Authorize("list-b", "decline"), result).ok());
  EXPECT_FALSE(CallAuthorize(Authorize("list-c", "unavailable:1"), result).ok());

  grpc::ClientContext context;
  sv1::ListEffectsRequest request;
  sv1::ListEffectsResponse response;
  ASSERT_TRUE(control_->ListEffects(&context, request, &response).ok());
  ASSERT_EQ(response.records_size(), 3);
  EXPECT_EQ(response.records(0).idempotency_key(), "list-a");
  EXPECT_EQ(response.records(0).calls(), 2);
  EXPECT_EQ(response.records(0).result_status(), "APPROVED");
  EXPECT_EQ(response.records(1).result_status(), "DECLINED");
  EXPECT_EQ(response.records(1).decline_code(), "card_declined");
  EXPECT_EQ(response.records(2).effects(), 0);
  EXPECT_EQ(response.records(2).result_status(), "");
  EXPECT_EQ(response.total_keys(), 3);
  EXPECT_EQ(response.total_effects(), 2);
  EXPECT_EQ(response.total_calls(), 4);
  EXPECT_FALSE(response.truncated());

  grpc::ClientContext limited_context;
  sv1::ListEffectsRequest limited;
  limited.set_limit(1);
  sv1::ListEffectsResponse limited_response;
  ASSERT_TRUE(control_->ListEffects(&limited_context, limited, &limited_response).ok());
  EXPECT_EQ(limited_response.records_size(), 1);
  EXPECT_TRUE(limited_response.truncated());
  EXPECT_EQ(limited_response.total_effects(), 2);
}

TEST_F(SandboxGrpcTest, ServesTheStandardHealthService) {
  // grpc.health.v1.Health/Check with an empty HealthCheckRequest (service ""); the answer
  // HealthCheckResponse{status: SERVING} is the two bytes 08 01. The generic stub spares the
  // tests a copy of health.proto.
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  // An empty message is one empty slice (a default ByteBuffer is "no message").
  grpc::Slice empty_message(std::string{});
  const grpc::ByteBuffer request(&empty_message, 1);
  grpc::ByteBuffer response;
  std::mutex mutex;
  std::condition_variable done;
  std::optional<grpc::Status> status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   std::lock_guard lock(mutex);
                   status = std::move(s);
                   done.notify_all();
                 });
  std::unique_lock lock(mutex);
  ASSERT_TRUE(done.wait_for(lock, kCallDeadline + seconds(1), [&] { return status.has_value(); }));
  ASSERT_TRUE(status->ok()) << status->error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(SandboxGrpcTest, ShutdownEndsAScriptedDelayAndAnswersTheCall) {
  grpc::Status status;
  v1::PaymentResult result;
  std::thread caller([&] {
    status = CallAuthorize(Authorize("shutdown-1", "slow:60000"), result, seconds(30));
  });
  ASSERT_TRUE(payorch::testing::Eventually(
      [&] { return sandbox_.store().Lookup("shutdown-1").has_value(); }, seconds(10)));
  sandbox_.Shutdown(seconds(5));
  caller.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(result.status(), v1::PaymentResult::APPROVED);
}

}  // namespace
}  // namespace payorch::gateways::sandbox
