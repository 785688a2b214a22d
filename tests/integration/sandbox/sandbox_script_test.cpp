// The sandbox's rehearsal behaviours over real gRPC (an in-process SandboxServer): error:STATUS,
// latency:SPEC, crash-after-effect, the process-wide default behaviour, error rates, latency
// and health script. Each keeps the idempotency rule (one effect per key, whatever happens), and
// every random decision repeats exactly with the same seed.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateways/sandbox/sandbox_server.hpp"
#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "sandbox_control.grpc.pb.h"
#include "services/admin/health_check.hpp"

namespace payorch::gateways::sandbox {
namespace {

namespace v1 = payorch::gateway::v1;
namespace sv1 = payorch::sandbox::v1;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{10'000};

// A client of one in-process sandbox.
class Client {
 public:
  explicit Client(const SandboxServer& sandbox)
      : channel_(grpc::CreateChannel(sandbox.address(), grpc::InsecureChannelCredentials())),
        gateway_(v1::PaymentGateway::NewStub(channel_)),
        control_(sv1::SandboxControl::NewStub(channel_)) {}

  grpc::Status Authorize(const std::string& key, const std::string& token,
                         v1::PaymentResult& result, std::int64_t attempt = 1,
                         milliseconds deadline = kDeadline) {
    v1::AuthorizeRequest request;
    request.mutable_meta()->set_idempotency_key(key);
    request.mutable_meta()->set_attempt(attempt);
    request.mutable_event()->set_token(token);
    request.mutable_amount()->set_amount_minor(500);
    request.mutable_amount()->set_currency("EUR");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    return gateway_->Authorize(&context, request, &result);
  }
  grpc::StatusCode Code(const std::string& key, const std::string& token,
                        std::int64_t attempt = 1) {
    v1::PaymentResult result;
    return Authorize(key, token, result, attempt).error_code();
  }

  grpc::Status Status(const std::string& key, v1::GetPaymentStatusResponse& response,
                      milliseconds deadline = kDeadline) {
    v1::GetPaymentStatusRequest request;
    request.set_idempotency_key(key);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    return gateway_->GetPaymentStatus(&context, request, &response);
  }

  grpc::Status SetHealth(bool not_serving, int delay_ms) {
    sv1::SetHealthRequest request;
    request.set_not_serving(not_serving);
    request.set_delay_ms(delay_ms);
    sv1::SetHealthResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kDeadline);
    return control_->SetHealth(&context, request, &response);
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PaymentGateway::Stub> gateway_;
  std::unique_ptr<sv1::SandboxControl::Stub> control_;
};

std::int64_t Effects(SandboxServer& sandbox, const std::string& key) {
  const auto record = sandbox.store().Find(key);
  return record ? record->effects : 0;
}

SandboxOptions WithScript(Script script) {
  SandboxOptions options;
  options.script = std::move(script);
  return options;
}

Script WithFaults(std::uint64_t seed, std::string_view rates) {
  Script script;
  script.seed = seed;
  script.faults = ParseFaultRates(rates).value();
  return script;
}

TEST(SandboxScriptTest, ErrorTokenAnswersTheStatusWithoutEffectThenApproves) {
  SandboxServer sandbox;
  Client client(sandbox);
  for (int call = 1; call <= 2; ++call) {
    EXPECT_EQ(client.Code("err-1", "error:FAILED_PRECONDITION:2"),
              grpc::StatusCode::FAILED_PRECONDITION)
        << call;
    EXPECT_EQ(Effects(sandbox, "err-1"), 0) << call;
  }
  EXPECT_EQ(client.Code("err-1", "error:FAILED_PRECONDITION:2"), grpc::StatusCode::OK);
  EXPECT_EQ(Effects(sandbox, "err-1"), 1);

  // Without a count: every call, never an effect.
  for (int call = 1; call <= 3; ++call) {
    EXPECT_EQ(client.Code("err-2", "error:PERMISSION_DENIED"),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(Effects(sandbox, "err-2"), 0);
  EXPECT_EQ(sandbox.store().Find("err-2")->calls, 3);
}

TEST(SandboxScriptTest, LatencyTokenAppliesTheEffectThenAnswersLate) {
  SandboxServer sandbox;
  Client client(sandbox);
  v1::PaymentResult result;
  EXPECT_EQ(client.Authorize("lat-1", "latency:20000-30000", result, 1, milliseconds(200))
                .error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  v1::GetPaymentStatusResponse status;
  ASSERT_TRUE(client.Status("lat-1", status).ok());
  EXPECT_TRUE(status.found());
  // The retry answers the stored result at once: one effect.
  ASSERT_TRUE(client.Authorize("lat-1", "latency:20000-30000", result, 2).ok());
  EXPECT_EQ(result.gateway_reference(), status.result().gateway_reference());
  EXPECT_EQ(Effects(sandbox, "lat-1"), 1);
}

TEST(SandboxScriptTest, CrashAfterEffectRecordsTheEffectAndCrashesOnlyOnce) {
  std::atomic<int> crashes{0};
  SandboxOptions options;
  options.crash = [&crashes] { ++crashes; };
  SandboxServer sandbox(options);
  Client client(sandbox);

  EXPECT_EQ(client.Code("crash-1", "crash-after-effect"), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(crashes.load(), 1);
  EXPECT_EQ(Effects(sandbox, "crash-1"), 1);

  // The retry finds the effect: answered, no second crash, no second effect.
  v1::PaymentResult result;
  ASSERT_TRUE(client.Authorize("crash-1", "crash-after-effect", result, 2).ok());
  EXPECT_EQ(result.status(), v1::PaymentResult::APPROVED);
  EXPECT_EQ(crashes.load(), 1);
  EXPECT_EQ(Effects(sandbox, "crash-1"), 1);
}

TEST(SandboxScriptTest, DefaultBehaviourAppliesToTokensThatScriptNothing) {
  Script script;
  script.default_behaviour = ParseScriptedBehaviour("decline:do_not_honor");
  SandboxServer sandbox(WithScript(script));
  Client client(sandbox);

  v1::PaymentResult real_token;
  ASSERT_TRUE(client.Authorize("def-1", "tok_visa_4242", real_token).ok());
  EXPECT_EQ(real_token.status(), v1::PaymentResult::DECLINED);
  EXPECT_EQ(real_token.decline_code(), "do_not_honor");

  v1::PaymentResult approve;
  ASSERT_TRUE(client.Authorize("def-2", "approve", approve).ok());
  EXPECT_EQ(approve.status(), v1::PaymentResult::APPROVED);

  EXPECT_EQ(client.Code("def-3", "unavailable:1"), grpc::StatusCode::UNAVAILABLE);
}

// Calls every key with increasing attempt numbers until one answers OK (at most 8 attempts);
// the codes seen, per key.
std::map<std::string, std::vector<grpc::StatusCode>> Rehearse(SandboxServer& sandbox,
                                                              int keys) {
  Client client(sandbox);
  std::map<std::string, std::vector<grpc::StatusCode>> seen;
  for (int k = 0; k < keys; ++k) {
    const std::string key = "rate-" + std::to_string(k);
    for (int attempt = 1; attempt <= 8; ++attempt) {
      const auto code = client.Code(key, "tok_real", attempt);
      seen[key].push_back(code);
      if (code == grpc::StatusCode::OK) break;
    }
  }
  return seen;
}

TEST(SandboxScriptTest, ErrorRatesRepeatExactlyWithTheSeedAndKeepOneEffectPerKey) {
  constexpr int kKeys = 40;
  const auto script = WithFaults(42, "UNAVAILABLE=0.3,DEADLINE_EXCEEDED=0.1,lost=0.2");
  std::map<std::string, std::vector<grpc::StatusCode>> first;
  {
    SandboxServer sandbox(WithScript(script));
    first = Rehearse(sandbox, kKeys);
    int unavailable = 0, deadline = 0, lost = 0;
    for (const auto& [key, codes] : first) {
      for (const auto code : codes) {
        unavailable += code == grpc::StatusCode::UNAVAILABLE;
        deadline += code == grpc::StatusCode::DEADLINE_EXCEEDED;
        lost += code == grpc::StatusCode::UNKNOWN;
      }
      // Injected UNAVAILABLE and DEADLINE_EXCEEDED come before any effect; lost after one; a
      // key has at most one effect however many attempts it took.
      EXPECT_LE(Effects(sandbox, key), 1) << key;
      if (codes.back() == grpc::StatusCode::OK) {
        EXPECT_EQ(Effects(sandbox, key), 1) << key;
      }
    }
    EXPECT_GT(unavailable, 0);
    EXPECT_GT(deadline, 0);
    EXPECT_GT(lost, 0);
  }
  {
    SandboxServer same_seed(WithScript(script));
    EXPECT_EQ(Rehearse(same_seed, kKeys), first);
  }
  {
    SandboxServer other_seed(WithScript(WithFaults(43, "UNAVAILABLE=0.3,DEADLINE_EXCEEDED=0.1,lost=0.2")));
    EXPECT_NE(Rehearse(other_seed, kKeys), first);
  }
}

TEST(SandboxScriptTest, CrashRateCrashesReplaysWithoutASecondEffect) {
  std::atomic<int> crashes{0};
  SandboxOptions options = WithScript(WithFaults(1, "crash=1"));
  options.crash = [&crashes] { ++crashes; };
  SandboxServer sandbox(options);
  Client client(sandbox);
  EXPECT_EQ(client.Code("crash-rate", "approve", 1), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(client.Code("crash-rate", "approve", 2), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(crashes.load(), 2);
  EXPECT_EQ(Effects(sandbox, "crash-rate"), 1);
  EXPECT_EQ(sandbox.store().Find("crash-rate")->calls, 2);
}

TEST(SandboxScriptTest, ProcessWideLatencyDelaysEveryAnswer) {
  Script script;
  script.latency = *ParseLatency("p50=20s,p99=40s");
  SandboxServer sandbox(WithScript(script));
  Client client(sandbox);
  v1::PaymentResult result;
  EXPECT_EQ(client.Authorize("slowall-1", "approve", result, 1, milliseconds(200)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  v1::GetPaymentStatusResponse status;
  EXPECT_EQ(client.Status("slowall-1", status, milliseconds(200)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The effect happened before the wait.
  EXPECT_EQ(Effects(sandbox, "slowall-1"), 1);
}

TEST(SandboxScriptTest, HealthCanBeSlowOrNotServingOnDemand) {
  SandboxOptions options;
  options.health_delay = milliseconds(20'000);
  SandboxServer sandbox(options);
  Client client(sandbox);

  // A probe with a short deadline sees the slow health as DEADLINE_EXCEEDED, within its bound.
  const auto slow = admin::CheckAdapterHealth(sandbox.address(), "", milliseconds(300));
  EXPECT_EQ(slow.grpc_status, "DEADLINE_EXCEEDED");

  ASSERT_TRUE(client.SetHealth(true, 0).ok());
  const auto down = admin::CheckAdapterHealth(sandbox.address(), "", kDeadline);
  EXPECT_EQ(down.serving_status, "NOT_SERVING");
  const auto gateway = admin::CheckAdapterHealth(
      sandbox.address(), "payorch.gateway.v1.PaymentGateway", kDeadline);
  EXPECT_EQ(gateway.serving_status, "NOT_SERVING");
  // Effect calls are not affected.
  EXPECT_EQ(client.Code("health-1", "approve"), grpc::StatusCode::OK);

  ASSERT_TRUE(client.SetHealth(false, 0).ok());
  EXPECT_TRUE(admin::CheckAdapterHealth(sandbox.address(), "", kDeadline).Serving());
  EXPECT_EQ(admin::CheckAdapterHealth(sandbox.address(), "no.such.Service", kDeadline).grpc_status,
            "NOT_FOUND");
  EXPECT_EQ(client.SetHealth(false, 60'001).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace payorch::gateways::sandbox
