// The real payorch-sandbox-gateway binary: --check-config over every setting; a scripted crash
// after the effect kills the process, and the restart from the state file honours the key with
// exactly one effect; a slow or NOT_SERVING health is what `payorch-admin adapter check
// --health-only` reports, within its bound.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "sandbox_control.grpc.pb.h"
#include "tests/support/process.hpp"
#include "tests/support/tls_certificates.hpp"

namespace payorch::testing {
namespace {

namespace v1 = payorch::gateway::v1;
namespace sv1 = payorch::sandbox::v1;
using namespace std::chrono_literals;

constexpr const char* kSandbox = "payorch-sandbox-gateway";
constexpr auto kStartTimeout = 20s;

std::string Address(int port) { return "127.0.0.1:" + std::to_string(port); }

std::string TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "payorch-sandbox-e2e-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

grpc::Status Authorize(const std::string& address, const std::string& key,
                       const std::string& token, v1::PaymentResult& result) {
  auto stub = v1::PaymentGateway::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::AuthorizeRequest request;
  request.mutable_meta()->set_idempotency_key(key);
  request.mutable_meta()->set_attempt(1);
  request.mutable_event()->set_token(token);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  return stub->Authorize(&context, request, &result);
}

sv1::GetEffectsResponse Effects(const std::string& address, const std::string& key) {
  auto stub = sv1::SandboxControl::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  sv1::GetEffectsRequest request;
  request.set_idempotency_key(key);
  sv1::GetEffectsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  EXPECT_TRUE(stub->GetEffects(&context, request, &response).ok());
  return response;
}

TEST(SandboxProcess, CheckConfigValidatesEveryScriptAndTlsSetting) {
  const auto certs = MakeTlsCertificates();
  const auto valid = RunCommand(
      kSandbox, {"--check-config", "--seed", "7", "--latency", "p50=20ms,p99=200ms",
                 "--error-rate", "UNAVAILABLE=0.05,DEADLINE_EXCEEDED=0.01,lost=0.01,crash=0",
                 "--default-behaviour", "unavailable:2", "--health-delay-ms", "100",
                 "--health-status", "NOT_SERVING", "--tls-cert-file", certs.server_cert,
                 "--tls-key-file", certs.server_key, "--tls-client-ca-file", certs.ca_cert});
  EXPECT_EQ(valid.exit_code, 0) << valid.output;

  struct Bad {
    std::vector<std::string> args;
    std::string named;  // what the message must name
  };
  const std::vector<Bad> bad{
      {{"--seed", "-1"}, "--seed"},
      {{"--latency", "50-10"}, "--latency"},
      {{"--error-rate", "UNAVAILABLE=0.7,ABORTED=0.7"}, "--error-rate"},
      {{"--error-rate", "OK=0.1"}, "--error-rate"},
      {{"--default-behaviour", "tok_visa"}, "--default-behaviour"},
      {{"--health-delay-ms", "60001"}, "--health-delay-ms"},
      {{"--health-status", "DOWN"}, "--health-status"},
      {{"--max-in-flight", "0"}, "--max-in-flight"},
      {{"--tls-cert-file", certs.dir + "/missing.pem", "--tls-key-file", certs.server_key},
       "missing.pem"},
      {{"--tls-key-file", certs.server_key}, "--tls-cert-file"},
  };
  for (const auto& b : bad) {
    auto args = b.args;
    args.insert(args.begin(), "--check-config");
    const auto run = RunCommand(kSandbox, args);
    EXPECT_EQ(run.exit_code, 2) << b.named << ": " << run.output;
    EXPECT_NE(run.output.find(b.named), std::string::npos) << run.output;
  }
  // Environment fallbacks are validated the same way.
  const auto env = RunCommand(kSandbox, {"--check-config"},
                              {{"PAYORCH_SANDBOX_ERROR_RATE", "UNAVAILABLE=2"}});
  EXPECT_EQ(env.exit_code, 2) << env.output;
  const auto env_tls = RunCommand(kSandbox, {"--check-config"},
                                  {{"PAYORCH_SANDBOX_TLS_CERT_FILE", certs.server_cert},
                                   {"PAYORCH_SANDBOX_TLS_KEY_FILE", certs.server_key},
                                   {"PAYORCH_SANDBOX_TLS_CLIENT_CA_FILE", certs.ca_cert}});
  EXPECT_EQ(env_tls.exit_code, 0) << env_tls.output;
}

TEST(SandboxProcess, CrashAfterEffectKillsTheProcessAndTheRestartHasTheEffectOnce) {
  const std::string dir = TempDir();
  const std::string state_file = dir + "/effects.jsonl";
  const int port = FreeTcpPort();
  const std::vector<std::string> args{"--listen", Address(port), "--state-file", state_file};
  {
    Process sandbox(kSandbox, args);
    ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << sandbox.Output();
    v1::PaymentResult result;
    const auto status = Authorize(Address(port), "crash-e2e-1", "crash-after-effect", result);
    // The call is never answered: the client sees the connection go.
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    const auto exit_code = sandbox.Wait(10s);
    ASSERT_TRUE(exit_code.has_value()) << "the sandbox did not die";
    EXPECT_EQ(*exit_code, 128 + SIGKILL) << sandbox.Output();
  }
  {
    Process restarted(kSandbox, args);
    ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << restarted.Output();
    // The retry (same key, same token) finds the effect: answered, no crash, no second effect.
    v1::PaymentResult result;
    const auto status = Authorize(Address(port), "crash-e2e-1", "crash-after-effect", result);
    ASSERT_TRUE(status.ok()) << status.error_message() << restarted.Output();
    EXPECT_EQ(result.status(), v1::PaymentResult::APPROVED);
    const auto effects = Effects(Address(port), "crash-e2e-1");
    EXPECT_EQ(effects.effects(), 1);
    EXPECT_TRUE(restarted.Running());
  }
  std::ifstream in(state_file);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) lines += line.find("crash-e2e-1") != std::string::npos;
  EXPECT_EQ(lines, 1);
  std::filesystem::remove_all(dir);
}

// `payorch-admin adapter check ADDRESS --health-only --json` with a deadline.
CommandResult HealthOnly(const std::string& address, int timeout_ms) {
  return RunCommand("payorch-admin", {"adapter", "check", address, "--health-only", "--json",
                                      "--timeout-ms", std::to_string(timeout_ms)});
}

TEST(SandboxProcess, SlowOrNotServingHealthIsSeenByTheAdminProbeWithinItsBound) {
  const int port = FreeTcpPort();
  Process slow(kSandbox, {"--listen", Address(port), "--health-delay-ms", "30000"});
  ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << slow.Output();
  // RunCommand's own bound (60 s by default) is far above what the probe may take; the probe
  // gives up at its 500 ms deadline instead of waiting out the 30 s delay.
  const auto probe = RunCommand("payorch-admin",
                                {"adapter", "check", Address(port), "--health-only", "--json",
                                 "--timeout-ms", "500"},
                                {}, 20s);
  EXPECT_EQ(probe.exit_code, 1) << probe.output;
  const auto document = boost::json::parse(probe.stdout_text).as_object();
  EXPECT_EQ(document.at("grpc_status"), "DEADLINE_EXCEEDED") << probe.stdout_text;
  EXPECT_EQ(document.at("serving"), false);

  // NOT_SERVING on demand: SIGUSR1 flips the status, and back.
  const int other_port = FreeTcpPort();
  Process flipping(kSandbox, {"--listen", Address(other_port)});
  ASSERT_TRUE(WaitForTcpPort(other_port, kStartTimeout)) << flipping.Output();
  EXPECT_EQ(HealthOnly(Address(other_port), 2000).exit_code, 0);
  flipping.Signal(SIGUSR1);
  ASSERT_TRUE(Eventually(
      [&] { return HealthOnly(Address(other_port), 2000).stdout_text.find("NOT_SERVING") !=
                   std::string::npos; },
      10s))
      << flipping.Output();
  EXPECT_EQ(HealthOnly(Address(other_port), 2000).exit_code, 1);
  flipping.Signal(SIGUSR1);
  ASSERT_TRUE(Eventually([&] { return HealthOnly(Address(other_port), 2000).exit_code == 0; },
                         10s))
      << flipping.Output();
}

}  // namespace
}  // namespace payorch::testing
