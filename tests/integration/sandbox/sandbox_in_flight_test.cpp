// The sandbox's PaymentGateway on gRPC's callback API, over real gRPC on loopback: many slow calls
// in flight at once (more than the 256 threads the synchronous server had), shutdown answering
// pending delayed calls, the explicit bound on calls in flight, and a cancelled slow call giving
// its place back at once. Bounded waits only; nothing here asserts on timing.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "gateways/sandbox/sandbox_server.hpp"
#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "tests/support/process.hpp"

namespace payorch::gateways::sandbox {
namespace {

namespace v1 = payorch::gateway::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

v1::AuthorizeRequest Authorize(const std::string& key, const std::string& token) {
  v1::AuthorizeRequest request;
  request.mutable_meta()->set_idempotency_key(key);
  request.mutable_meta()->set_job_id(7);
  request.mutable_meta()->set_attempt(1);
  request.mutable_event()->set_token(token);
  request.mutable_amount()->set_amount_minor(500);
  request.mutable_amount()->set_currency("EUR");
  return request;
}

// Authorize calls started without waiting (gRPC's client callback API: no thread per call), and
// their outcomes once they are answered.
class AsyncCalls {
 public:
  explicit AsyncCalls(v1::PaymentGateway::Stub& stub) : stub_(stub) {}

  // Starts one call; its answer lands in statuses()/results() at the same index.
  void Start(const v1::AuthorizeRequest& request, milliseconds deadline) {
    auto& call = calls_.emplace_back();
    call.request = request;
    call.context.set_deadline(std::chrono::system_clock::now() + deadline);
    stub_.async()->Authorize(&call.context, &call.request, &call.result,
                             [this, &call](grpc::Status status) {
                               std::lock_guard lock(mutex_);
                               call.status = std::move(status);
                               call.answered = true;
                               ++answered_;
                               all_answered_.notify_all();
                             });
  }

  // True when every started call has been answered within `timeout`.
  bool WaitAll(milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return all_answered_.wait_for(lock, timeout, [this] { return answered_ == calls_.size(); });
  }

  struct Call {
    v1::AuthorizeRequest request;
    grpc::ClientContext context;
    v1::PaymentResult result;
    grpc::Status status;
    bool answered = false;
  };
  // Read after WaitAll returned true.
  const std::deque<Call>& calls() const { return calls_; }

  // Every call must be answered before the contexts go: a test that failed early still waits.
  ~AsyncCalls() { WaitAll(seconds(90)); }

 private:
  v1::PaymentGateway::Stub& stub_;
  std::deque<Call> calls_;  // stable addresses: gRPC holds pointers into them
  std::mutex mutex_;
  std::condition_variable all_answered_;
  std::size_t answered_ = 0;
};

class SandboxInFlightTest : public ::testing::Test {
 protected:
  explicit SandboxInFlightTest(SandboxOptions options = {})
      : sandbox_(std::move(options)),
        channel_(grpc::CreateChannel(sandbox_.address(), grpc::InsecureChannelCredentials())),
        gateway_(v1::PaymentGateway::NewStub(channel_)) {}

  grpc::Status CallAuthorize(const v1::AuthorizeRequest& request, milliseconds deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::PaymentResult result;
    return gateway_->Authorize(&context, request, &result);
  }

  // True once the sandbox has recorded the effect of each of keys prefix0..prefix{count-1}.
  bool AllRecorded(const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) {
      if (!sandbox_.store().Find(prefix + std::to_string(i))) return false;
    }
    return true;
  }

  SandboxServer sandbox_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PaymentGateway::Stub> gateway_;
};

TEST_F(SandboxInFlightTest, SixHundredSlowCallsInFlightAllSucceedWithOneEffectEach) {
  // More than the synchronous server's 256 threads, which answered the rest RESOURCE_EXHAUSTED.
  constexpr int kCalls = 600;
  AsyncCalls calls(*gateway_);
  for (int i = 0; i < kCalls; ++i) {
    calls.Start(Authorize("many-" + std::to_string(i), "slow:200"), seconds(60));
  }
  ASSERT_TRUE(calls.WaitAll(seconds(60)));

  int i = 0;
  for (const auto& call : calls.calls()) {
    const std::string key = "many-" + std::to_string(i++);
    ASSERT_TRUE(call.status.ok()) << key << ": " << call.status.error_code() << " "
                                  << call.status.error_message();
    EXPECT_EQ(call.result.status(), v1::PaymentResult::APPROVED) << key;
    EXPECT_EQ(call.result.gateway_reference(), GatewayReferenceFor(key)) << key;
    const auto record = sandbox_.store().Find(key);
    ASSERT_TRUE(record.has_value()) << key;
    EXPECT_EQ(record->effects, 1) << key;
  }
  EffectTotals totals;
  (void)sandbox_.store().List(0, totals);
  EXPECT_EQ(totals.keys, kCalls);
  EXPECT_EQ(totals.effects, kCalls);
}

TEST_F(SandboxInFlightTest, ShutdownAnswersFiftyPendingSlowCallsAtOnce) {
  constexpr int kCalls = 50;
  AsyncCalls calls(*gateway_);
  for (int i = 0; i < kCalls; ++i) {
    calls.Start(Authorize("pending-" + std::to_string(i), "slow:60000"), seconds(60));
  }
  // Every call has recorded its effect and waits out its delay.
  ASSERT_TRUE(payorch::testing::Eventually([&] { return AllRecorded("pending-", kCalls); },
                                           seconds(20)));

  // Answered by the scheduler, not cancelled when the grace runs out (that would be CANCELLED or
  // UNAVAILABLE at the client).
  sandbox_.Shutdown(seconds(5));
  ASSERT_TRUE(calls.WaitAll(seconds(30)));
  for (const auto& call : calls.calls()) {
    ASSERT_TRUE(call.status.ok()) << call.request.meta().idempotency_key() << ": "
                                  << call.status.error_code() << " "
                                  << call.status.error_message();
    EXPECT_EQ(call.result.status(), v1::PaymentResult::APPROVED);
  }
}

SandboxOptions WithMaxInFlight(int max_in_flight) {
  SandboxOptions options;
  options.max_in_flight = max_in_flight;
  return options;
}

class SandboxInFlightLimitTest : public SandboxInFlightTest {
 protected:
  SandboxInFlightLimitTest() : SandboxInFlightTest(WithMaxInFlight(3)) {}
};

TEST_F(SandboxInFlightLimitTest, CallsBeyondTheLimitAreResourceExhaustedWithoutAnEffect) {
  AsyncCalls calls(*gateway_);
  for (int i = 0; i < 3; ++i) {
    calls.Start(Authorize("held-" + std::to_string(i), "slow:60000"), seconds(60));
  }
  ASSERT_TRUE(
      payorch::testing::Eventually([&] { return AllRecorded("held-", 3); }, seconds(20)));

  const grpc::Status refused = CallAuthorize(Authorize("refused-1", "approve"), seconds(10));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message();
  EXPECT_FALSE(sandbox_.store().Find("refused-1").has_value());

  sandbox_.Shutdown(seconds(5));
  ASSERT_TRUE(calls.WaitAll(seconds(30)));
  for (const auto& call : calls.calls()) {
    EXPECT_TRUE(call.status.ok()) << call.status.error_message();
  }
}

class SandboxOneCallTest : public SandboxInFlightTest {
 protected:
  SandboxOneCallTest() : SandboxInFlightTest(WithMaxInFlight(1)) {}
};

TEST_F(SandboxOneCallTest, ACallWhoseClientGaveUpIsAnsweredAndFreesItsPlace) {
  // The client's deadline passes long before the 60 s delay: the sandbox answers the call then
  // (OnCancel), so its one place is free again for the next call.
  const grpc::Status gave_up =
      CallAuthorize(Authorize("gave-up-1", "slow:60000"), milliseconds(200));
  EXPECT_EQ(gave_up.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(sandbox_.store().Find("gave-up-1").has_value());  // the effect stays

  grpc::Status next;
  ASSERT_TRUE(payorch::testing::Eventually(
      [&] {
        next = CallAuthorize(Authorize("next-1", "approve"), seconds(5));
        return next.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED;
      },
      seconds(10)))
      << "the given-up call still holds the only place";
  EXPECT_TRUE(next.ok()) << next.error_message();
}

}  // namespace
}  // namespace payorch::gateways::sandbox
