// `payorch-admin adapter check` (the conformance suite) as a user runs it: the real binary
// against real adapters over real gRPC. The sandbox binary and the Python example pass every
// check; deliberately broken adapters, served in-process by this test, fail exactly the checks
// that describe their flaw; an unreachable address fails; over mutual TLS the check passes only
// with the right CA and client certificate, and a refused handshake is a failing check that
// says so.

#include "services/admin/conformance.hpp"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "tests/support/process.hpp"
#include "tests/support/tls_certificates.hpp"

extern char** environ;

namespace payorch::testing {
namespace {

namespace json = boost::json;
namespace v1 = payorch::gateway::v1;
using namespace std::chrono_literals;

constexpr const char* kAdmin = "payorch-admin";
constexpr const char* kPython = "/usr/bin/python3";
constexpr auto kStartTimeout = 20s;

std::set<std::string> AllChecks() {
  const auto names = admin::ConformanceCheckNames();
  return {names.begin(), names.end()};
}

// The names of the failed checks in `adapter check --json` output; also asserts that every
// check was reported, in order.
std::set<std::string> FailedChecks(const CommandResult& run) {
  const auto document = json::parse(run.stdout_text).as_object();
  std::vector<std::string> names;
  std::set<std::string> failed;
  for (const auto& check : document.at("checks").as_array()) {
    const auto name = std::string(check.at("name").as_string());
    names.push_back(name);
    EXPECT_FALSE(check.at("reason").as_string().empty()) << name;
    if (!check.at("passed").as_bool()) failed.insert(name);
  }
  EXPECT_EQ(names, admin::ConformanceCheckNames());
  EXPECT_EQ(document.at("failed").as_int64(), static_cast<std::int64_t>(failed.size()));
  EXPECT_EQ(document.at("conformant").as_bool(), failed.empty());
  return failed;
}

CommandResult Check(const std::string& address, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"adapter", "check", address, "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunCommand(kAdmin, args);
}

// --- broken adapters ------------------------------------------------------------------------

enum class Flaw {
  kNewReferenceEveryCall,  // charges again for a repeated key; GetPaymentStatus: the last one
  kFoundForUnknownKeys,    // GetPaymentStatus answers found=true, APPROVED for any key
  kUnspecifiedTerminate,   // Terminate answers OK with an empty result (STATUS_UNSPECIFIED)
  kTransientForEmptyKey,   // an empty key is answered UNAVAILABLE instead of INVALID_ARGUMENT
};

// A PaymentGateway with one flaw and otherwise the contract's behaviour: a map of key -> first
// result. Calls whose deadline is (nearly) gone are refused with DEADLINE_EXCEEDED before any
// effect, as the Python example does, so the short-deadline check is deterministic here.
class BrokenAdapter final : public v1::PaymentGateway::Service {
 public:
  explicit BrokenAdapter(Flaw flaw) : flaw_(flaw) {}

  grpc::Status Authorize(grpc::ServerContext* context, const v1::AuthorizeRequest* request,
                         v1::PaymentResult* response) override {
    return Pay(*context, request->has_meta(), request->meta().idempotency_key(), false, *response);
  }
  grpc::Status Capture(grpc::ServerContext* context, const v1::CaptureRequest* request,
                       v1::PaymentResult* response) override {
    return Pay(*context, request->has_meta(), request->meta().idempotency_key(), false, *response);
  }
  grpc::Status Terminate(grpc::ServerContext* context, const v1::TerminateRequest* request,
                         v1::PaymentResult* response) override {
    return Pay(*context, request->has_meta(), request->meta().idempotency_key(), true, *response);
  }
  grpc::Status GetPaymentStatus(grpc::ServerContext* /*context*/,
                                const v1::GetPaymentStatusRequest* request,
                                v1::GetPaymentStatusResponse* response) override {
    std::lock_guard lock(mutex_);
    const auto found = results_.find(request->idempotency_key());
    if (found != results_.end()) {
      response->set_found(true);
      *response->mutable_result() = found->second;
    } else if (flaw_ == Flaw::kFoundForUnknownKeys) {
      response->set_found(true);
      response->mutable_result()->set_status(v1::PaymentResult::APPROVED);
      response->mutable_result()->set_gateway_reference("ghost");
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status Pay(grpc::ServerContext& context, bool has_meta, const std::string& key,
                   bool terminate, v1::PaymentResult& response) {
    if (!has_meta) return {grpc::StatusCode::INVALID_ARGUMENT, "meta is required"};
    if (key.empty()) {
      if (flaw_ == Flaw::kTransientForEmptyKey) return {grpc::StatusCode::UNAVAILABLE, "oops"};
      return {grpc::StatusCode::INVALID_ARGUMENT, "idempotency_key is required"};
    }
    if (context.deadline() < std::chrono::system_clock::now() + 50ms) {
      return {grpc::StatusCode::DEADLINE_EXCEEDED, "no time left to start"};
    }
    std::lock_guard lock(mutex_);
    if (terminate && flaw_ == Flaw::kUnspecifiedTerminate) return grpc::Status::OK;
    const auto stored = results_.find(key);
    if (stored != results_.end() && flaw_ != Flaw::kNewReferenceEveryCall) {
      response = stored->second;
      return grpc::Status::OK;
    }
    response.set_status(v1::PaymentResult::APPROVED);
    response.set_gateway_reference("brk_" + std::to_string(++effects_));
    results_[key] = response;  // the flawed one overwrites: a second charge, a new reference
    return grpc::Status::OK;
  }

  const Flaw flaw_;
  std::mutex mutex_;
  std::map<std::string, v1::PaymentResult> results_;
  int effects_ = 0;
};

// A BrokenAdapter served on 127.0.0.1 (a free port), with gRPC's built-in health service.
class BrokenServer {
 public:
  explicit BrokenServer(Flaw flaw) : service_(flaw) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) throw std::runtime_error("cannot start the broken adapter");
  }
  ~BrokenServer() { server_->Shutdown(std::chrono::system_clock::now() + 5s); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  BrokenAdapter service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// --- the Python example as a child process ----------------------------------------------------

// /usr/bin/python3 gateways/examples/python/server.py --listen 127.0.0.1:PORT, as a child process.
Process StartPythonAdapter(int port) {
  return Process(kPython, {SourceDir() + "/gateways/examples/python/server.py", "--listen",
                           "127.0.0.1:" + std::to_string(port)});
}

// --- tests ------------------------------------------------------------------------------------

TEST(AdapterConformance, TheSandboxPassesEveryCheck) {
  const int port = FreeTcpPort();
  Process sandbox("payorch-sandbox-gateway", {"--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << sandbox.Output();
  const std::string address = "127.0.0.1:" + std::to_string(port);

  const auto run = Check(address);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(FailedChecks(run), std::set<std::string>{}) << run.stdout_text;
  const auto document = json::parse(run.stdout_text).as_object();
  EXPECT_EQ(document.at("status"), "SERVING");
  EXPECT_EQ(document.at("passed").as_int64(), static_cast<std::int64_t>(AllChecks().size()));

  // The table, with a custom token (the sandbox approves tokens it has no script for).
  const auto table = RunCommand(kAdmin, {"adapter", "check", address, "--token", "tok_x"});
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.stdout_text.find("status       SERVING\n"), std::string::npos) << table.output;
  EXPECT_NE(table.stdout_text.find("idempotent_concurrent  PASS"), std::string::npos)
      << table.output;
  EXPECT_NE(table.stdout_text.find("\n12 of 12 checks passed\n"), std::string::npos)
      << table.output;

  // A token the sandbox scripts as a permanent error: the valid-request checks fail (the
  // adapter was told to refuse), proving the flag reaches the requests.
  const auto refused = Check(address, {"--token", "invalid"});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(FailedChecks(refused).count(admin::kCheckAuthorize)) << refused.stdout_text;

  // --health-only: the one-call probe of before, no payment steps.
  const auto health = Check(address, {"--health-only"});
  EXPECT_EQ(health.exit_code, 0) << health.output;
  const auto probe = json::parse(health.stdout_text).as_object();
  EXPECT_EQ(probe.at("serving"), true);
  EXPECT_FALSE(probe.contains("checks"));
}

TEST(AdapterConformance, ThePythonExamplePassesEveryCheck) {
  const int port = FreeTcpPort();
  Process adapter = StartPythonAdapter(port);
  ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << adapter.Output();
  const auto run = Check("127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(run.exit_code, 0) << run.output << adapter.Output();
  EXPECT_EQ(FailedChecks(run), std::set<std::string>{}) << run.stdout_text;
}

struct BrokenCase {
  Flaw flaw;
  std::set<std::string> failed;
};

TEST(AdapterConformance, BrokenAdaptersFailExactlyTheChecksOfTheirFlaw) {
  const std::vector<BrokenCase> cases{
      {Flaw::kNewReferenceEveryCall,
       {admin::kCheckRepeat, admin::kCheckKnownKey, admin::kCheckConcurrent}},
      {Flaw::kFoundForUnknownKeys, {admin::kCheckUnknownKey}},
      {Flaw::kUnspecifiedTerminate, {admin::kCheckTerminate, admin::kCheckErrorCodes}},
      {Flaw::kTransientForEmptyKey, {admin::kCheckEmptyKey}},
  };
  for (const auto& broken : cases) {
    SCOPED_TRACE(static_cast<int>(broken.flaw));
    BrokenServer server(broken.flaw);
    const auto run = Check(server.address());
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(FailedChecks(run), broken.failed) << run.stdout_text;
    // stderr names the failed checks on one line.
    EXPECT_NE(run.output.find("conformance checks: "), std::string::npos) << run.output;
  }
}

TEST(AdapterConformance, TheDoubleChargerIsCaughtWithAReasonNamingBothReferences) {
  BrokenServer server(Flaw::kNewReferenceEveryCall);
  const auto run = RunCommand(kAdmin, {"adapter", "check", server.address()});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.stdout_text.find("idempotent_repeat      FAIL"), std::string::npos) << run.output;
  EXPECT_NE(run.stdout_text.find("(a second effect?)"), std::string::npos) << run.output;
  EXPECT_NE(run.stdout_text.find("\n9 of 12 checks passed\n"), std::string::npos) << run.output;
}

TEST(AdapterConformance, AClosedPortFailsEveryCheckQuickly) {
  const int closed = FreeTcpPort();
  const auto run = Check("127.0.0.1:" + std::to_string(closed), {"--timeout-ms", "1000"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(FailedChecks(run), AllChecks()) << run.stdout_text;
  const auto document = json::parse(run.stdout_text).as_object();
  EXPECT_EQ(document.at("serving"), false);
  EXPECT_TRUE(document.at("status").is_null());
  EXPECT_NE(run.output.find("payorch-admin: adapter 127.0.0.1:"), std::string::npos) << run.output;
}

// --- TLS ----------------------------------------------------------------------------------------

// The sandbox binary with mutual TLS: server certificate and key, and the CA its clients'
// certificates must be signed by.
class MutualTlsSandbox {
 public:
  explicit MutualTlsSandbox(const TlsCertificates& certs)
      : port_(FreeTcpPort()),
        process_("payorch-sandbox-gateway",
                 {"--listen", address(), "--tls-cert-file", certs.server_cert, "--tls-key-file",
                  certs.server_key, "--tls-client-ca-file", certs.ca_cert}) {
    if (!WaitForTcpPort(port_, kStartTimeout)) {
      throw std::runtime_error("the sandbox did not start: " + process_.Output());
    }
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  Process process_;
};

TEST(AdapterConformance, OverMutualTlsTheRightClientCertificatePassesEveryCheck) {
  const auto certs = MakeTlsCertificates();
  MutualTlsSandbox sandbox(certs);
  const std::vector<std::string> tls{"--tls-ca-file", certs.ca_cert, "--tls-cert-file",
                                     certs.client_cert, "--tls-key-file", certs.client_key};
  const auto run = Check(sandbox.address(), tls);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(FailedChecks(run), std::set<std::string>{}) << run.stdout_text;

  auto health_only = tls;
  health_only.push_back("--health-only");
  const auto health = Check(sandbox.address(), health_only);
  EXPECT_EQ(health.exit_code, 0) << health.output;
  EXPECT_EQ(json::parse(health.stdout_text).at("serving"), true) << health.stdout_text;
}

TEST(AdapterConformance, ARefusedTlsHandshakeFailsWithAReasonThatSaysSo) {
  const auto certs = MakeTlsCertificates();
  MutualTlsSandbox sandbox(certs);
  struct Case {
    const char* name;
    std::vector<std::string> flags;
  };
  const std::vector<Case> cases{
      {"no client certificate", {"--tls-ca-file", certs.ca_cert}},
      {"a client certificate of another CA",
       {"--tls-ca-file", certs.ca_cert, "--tls-cert-file", certs.rogue_client_cert,
        "--tls-key-file", certs.rogue_client_key}},
      {"trusting the wrong CA",
       {"--tls-ca-file", certs.rogue_ca_cert, "--tls-cert-file", certs.client_cert,
        "--tls-key-file", certs.client_key}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto flags = c.flags;
    flags.insert(flags.end(), {"--timeout-ms", "2000"});
    const auto run = Check(sandbox.address(), flags);
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(FailedChecks(run), AllChecks()) << run.stdout_text;
    const auto document = json::parse(run.stdout_text).as_object();
    const auto& health = document.at("checks").as_array()[0].as_object();
    EXPECT_NE(std::string(health.at("reason").as_string()).find("TLS handshake failed"),
              std::string::npos)
        << run.stdout_text;
    const auto& later = document.at("checks").as_array()[1].as_object();
    EXPECT_NE(std::string(later.at("reason").as_string()).find("TLS handshake"),
              std::string::npos)
        << run.stdout_text;

    flags.push_back("--health-only");
    const auto probe = Check(sandbox.address(), flags);
    EXPECT_EQ(probe.exit_code, 1) << probe.output;
    EXPECT_NE(probe.output.find("TLS handshake failed"), std::string::npos) << probe.output;
  }
}

TEST(AdapterConformance, ThePythonExamplePassesOverMutualTlsOnlyWithItsClientCertificate) {
  const auto certs = MakeTlsCertificates();
  const int port = FreeTcpPort();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Process adapter(kPython, {SourceDir() + "/gateways/examples/python/server.py", "--listen",
                            address, "--tls-cert-file", certs.server_cert, "--tls-key-file",
                            certs.server_key, "--tls-client-ca-file", certs.ca_cert});
  ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << adapter.Output();
  const auto run = Check(address, {"--tls-ca-file", certs.ca_cert, "--tls-cert-file",
                                   certs.client_cert, "--tls-key-file", certs.client_key});
  EXPECT_EQ(run.exit_code, 0) << run.output << adapter.Output();
  EXPECT_EQ(FailedChecks(run), std::set<std::string>{}) << run.stdout_text;

  const auto refused = Check(address, {"--tls-ca-file", certs.ca_cert, "--health-only"});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("TLS handshake failed"), std::string::npos) << refused.output;
}

TEST(AdapterConformance, UnusableTlsFilesAreAUsageError) {
  const auto missing = Check("127.0.0.1:1", {"--tls-ca-file", "/nonexistent/ca.pem"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("/nonexistent/ca.pem"), std::string::npos) << missing.output;
  const auto certs = MakeTlsCertificates();
  const auto cert_only = Check("127.0.0.1:1", {"--tls-cert-file", certs.client_cert});
  EXPECT_EQ(cert_only.exit_code, 2) << cert_only.output;
}

}  // namespace
}  // namespace payorch::testing
