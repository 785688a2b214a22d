// --state-file: a restarted sandbox still honours the keys it has seen, in-process and as the
// real binary stopped with SIGTERM.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "gateways/sandbox/sandbox_server.hpp"
#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "sandbox_control.grpc.pb.h"
#include "tests/support/process.hpp"

namespace payorch::gateways::sandbox {
namespace {

namespace v1 = payorch::gateway::v1;
namespace sv1 = payorch::sandbox::v1;
using std::chrono::seconds;

// A fresh directory for one test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "payorch-sandbox-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Clients of one running sandbox, whichever way it was started.
struct Client {
  explicit Client(const std::string& address)
      : channel(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        gateway(v1::PaymentGateway::NewStub(channel)),
        control(sv1::SandboxControl::NewStub(channel)) {}

  grpc::Status Authorize(const std::string& key, const std::string& token,
                         v1::PaymentResult& result) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(10));
    v1::AuthorizeRequest request;
    request.mutable_meta()->set_idempotency_key(key);
    request.mutable_meta()->set_job_id(7);
    request.mutable_meta()->set_attempt(1);
    request.mutable_event()->set_token(token);
    return gateway->Authorize(&context, request, &result);
  }

  v1::GetPaymentStatusResponse Status(const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(10));
    v1::GetPaymentStatusRequest request;
    request.set_idempotency_key(key);
    v1::GetPaymentStatusResponse response;
    EXPECT_TRUE(gateway->GetPaymentStatus(&context, request, &response).ok());
    return response;
  }

  sv1::GetEffectsResponse Effects(const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(10));
    sv1::GetEffectsRequest request;
    request.set_idempotency_key(key);
    sv1::GetEffectsResponse response;
    EXPECT_TRUE(control->GetEffects(&context, request, &response).ok());
    return response;
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::PaymentGateway::Stub> gateway;
  std::unique_ptr<sv1::SandboxControl::Stub> control;
};

SandboxOptions WithStateFile(const std::string& path) {
  SandboxOptions options;
  options.state_file = path;
  return options;
}

TEST(SandboxStateFileTest, ARestartedSandboxHonoursKnownKeys) {
  const TempDir dir;
  const std::string state = dir.File("effects.jsonl");
  std::string approved_reference;
  {
    SandboxServer sandbox(WithStateFile(state));
    Client client(sandbox.address());
    v1::PaymentResult result;
    ASSERT_TRUE(client.Authorize("key-approved", "approve", result).ok());
    approved_reference = result.gateway_reference();
    ASSERT_TRUE(client.Authorize("key-declined", "decline:05", result).ok());
    EXPECT_EQ(client.Authorize("key-unavailable", "unavailable:1", result).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    SandboxServer sandbox(WithStateFile(state));
    Client client(sandbox.address());
    const auto approved = client.Status("key-approved");
    ASSERT_TRUE(approved.found());
    EXPECT_EQ(approved.result().gateway_reference(), approved_reference);
    const auto declined = client.Status("key-declined");
    ASSERT_TRUE(declined.found());
    EXPECT_EQ(declined.result().decline_code(), "05");
    EXPECT_FALSE(client.Status("key-unavailable").found());

    // A repeated key after the restart answers the stored result, with no second effect.
    v1::PaymentResult again;
    ASSERT_TRUE(client.Authorize("key-approved", "decline", again).ok());
    EXPECT_EQ(again.status(), v1::PaymentResult::APPROVED);
    const auto effects = client.Effects("key-approved");
    EXPECT_EQ(effects.effects(), 1);
    EXPECT_EQ(effects.calls(), 1);  // calls count since this process started
  }
  const std::string text = ReadAll(state);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
}

TEST(SandboxStateFileTest, ATornLastLineIsSkippedAndLaterLinesStayReadable) {
  const TempDir dir;
  const std::string state = dir.File("effects.jsonl");
  const std::string good = StateFile::EncodeLine(PersistedEffect{
      "key-good", Rpc::kAuthorize,
      PaymentOutcome{PaymentOutcome::Status::kApproved, "sbx_x", "", "ok", std::nullopt}});
  {
    std::ofstream out(state, std::ios::binary);
    out << good << "\n" << good.substr(0, good.size() / 2);  // a crash mid-append
  }
  {
    SandboxServer sandbox(WithStateFile(state));
    Client client(sandbox.address());
    EXPECT_TRUE(client.Status("key-good").found());
    v1::PaymentResult result;
    ASSERT_TRUE(client.Authorize("key-new", "approve", result).ok());
  }
  StateFile::Loaded loaded;
  const auto reopened = StateFile::Open(state, loaded);
  ASSERT_EQ(loaded.effects.size(), 2u);
  EXPECT_EQ(loaded.effects[0].idempotency_key, "key-good");
  EXPECT_EQ(loaded.effects[1].idempotency_key, "key-new");
  EXPECT_EQ(loaded.skipped_lines, 1u);
}

TEST(SandboxStateFileTest, AnUnopenableStateFileStopsStartup) {
  EXPECT_THROW(SandboxServer(WithStateFile("/nonexistent-dir/effects.jsonl")), std::runtime_error);
}

// The real binary: SIGTERM stops it with exit code 0, and a restart on the same state file still
// knows the key. Its log never holds the token.
TEST(SandboxBinaryTest, SigtermExitsZeroAndARestartKeepsTheKeys) {
  const TempDir dir;
  const std::string state = dir.File("effects.jsonl");
  const std::string secret_token = "tok_secret_do_not_log_9f3a";
  const int port = payorch::testing::FreeTcpPort();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const std::vector<std::string> args = {"--listen", address, "--state-file", state};
  {
    payorch::testing::Process sandbox("payorch-sandbox-gateway", args);
    ASSERT_TRUE(payorch::testing::WaitForTcpPort(port, seconds(20))) << sandbox.Output();
    Client client(address);
    v1::PaymentResult result;
    ASSERT_TRUE(client.Authorize("binary-key", secret_token, result).ok());
    EXPECT_EQ(result.status(), v1::PaymentResult::APPROVED);
    sandbox.Signal(SIGTERM);
    EXPECT_EQ(sandbox.Wait(seconds(20)), 0) << sandbox.Output();
    const std::string output = sandbox.Output();
    EXPECT_NE(output.find("key=binary-key"), std::string::npos) << output;
    EXPECT_EQ(output.find(secret_token), std::string::npos) << output;
  }
  {
    payorch::testing::Process sandbox("payorch-sandbox-gateway", args);
    ASSERT_TRUE(payorch::testing::WaitForTcpPort(port, seconds(20))) << sandbox.Output();
    Client client(address);
    EXPECT_TRUE(client.Status("binary-key").found());
    EXPECT_EQ(client.Effects("binary-key").effects(), 1);
    sandbox.Signal(SIGINT);
    EXPECT_EQ(sandbox.Wait(seconds(20)), 0) << sandbox.Output();
  }
}

TEST(SandboxBinaryTest, BadSettingsExitTwo) {
  const auto bad_listen = payorch::testing::RunCommand("payorch-sandbox-gateway",
                                                       {"--listen", "no-port"}, {}, seconds(20));
  EXPECT_EQ(bad_listen.exit_code, 2) << bad_listen.output;
  EXPECT_NE(bad_listen.output.find("--listen"), std::string::npos) << bad_listen.output;
  const auto bad_level = payorch::testing::RunCommand(
      "payorch-sandbox-gateway", {}, {{"PAYORCH_LOG_LEVEL", "loud"}}, seconds(20));
  EXPECT_EQ(bad_level.exit_code, 2) << bad_level.output;
}

}  // namespace
}  // namespace payorch::gateways::sandbox
