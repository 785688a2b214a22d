// End to end with the Python example adapter (gateways/examples/python): the real
// payorch-ingress and payorch-worker processes route webhooks to it over real gRPC, against a real
// PostgreSQL; the test also calls the adapter directly with the C++ stub of the same contract.
// Proves that an adapter written in a second language from the documented contract works with
// payorch, and that the example keeps the idempotency rule it teaches.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <future>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "tests/support/http_client.hpp"
#include "tests/support/job_fixtures.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::testing {
namespace {

namespace json = boost::json;
namespace gateway_v1 = payorch::gateway::v1;
using namespace std::chrono_literals;

constexpr auto kStartTimeout = 20s;
constexpr auto kJobTimeout = 30s;
constexpr auto kExitTimeout = 15s;
// The example adapter approves any token it has no script for; this one is easy to find in a log.
constexpr const char* kApproveToken = "tok_pyex_secret_91c2";
// Debian's interpreter: it has python3-grpcio and python3-protobuf (a pyenv python3 on PATH has
// not).
constexpr const char* kPython = "/usr/bin/python3";

std::string AdapterScript() {
  return SourceDir() + "/gateways/examples/python/server.py";
}

// The adapter as a child process: Debian's python3 running the example's server.py.
Process* StartAdapter(const std::vector<std::string>& args) {
  std::vector<std::string> argv{AdapterScript()};
  argv.insert(argv.end(), args.begin(), args.end());
  return new Process(kPython, argv);
}

// How many lines of `log` contain every one of `parts`.
int CountLines(const std::string& log, const std::vector<std::string>& parts) {
  std::istringstream lines(log);
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    bool all = true;
    for (const auto& part : parts) all = all && line.find(part) != std::string::npos;
    count += all ? 1 : 0;
  }
  return count;
}

// One system for the whole suite; every test uses its own subscription ids or keys.
class PythonAdapter : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    database_ = new TestDatabase();
    adapter_port_ = FreeTcpPort();
    http_port_ = FreeTcpPort();
    const int metrics_port = FreeTcpPort();
    // No --stubs-dir: the adapter generates its stubs at start, as a user running it would.
    adapter_ = StartAdapter({"--listen", "127.0.0.1:" + std::to_string(adapter_port_)});
    ASSERT_TRUE(WaitForTcpPort(adapter_port_, kStartTimeout)) << adapter_->Output();
    worker_ = new Process(
        "payorch-worker",
        {"--database-url", database_->url(), "--adapter-address",
         "127.0.0.1:" + std::to_string(adapter_port_), "--adapter-deadline-ms", "2000",
         "--max-attempts", "3", "--backoff-base-ms", "50", "--backoff-max-ms", "200",
         "--poll-interval-ms", "100", "--lease-ms", "10000",
         // ctest runs tests in parallel, each with its own system: no fixed metrics port.
         "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)});
    // The worker listens for metrics once its signal handling is set up: from then on SIGTERM
    // is a graceful stop, which TearDownTestSuite checks.
    ASSERT_TRUE(WaitForTcpPort(metrics_port, kStartTimeout)) << worker_->Output();
    ingress_ = new Process("payorch-ingress", {"--database-url", database_->url(), "--listen",
                                               "127.0.0.1:" + std::to_string(http_port_)});
    ASSERT_TRUE(WaitForTcpPort(http_port_, kStartTimeout)) << ingress_->Output();
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(adapter_port_), grpc::InsecureChannelCredentials()));
    stub_ = gateway_v1::PaymentGateway::NewStub(*channel_).release();
  }

  static void TearDownTestSuite() {
    // SIGTERM is a graceful stop for every process, the example adapter included.
    if (ingress_ != nullptr) ingress_->Signal(SIGTERM);
    if (worker_ != nullptr) worker_->Signal(SIGTERM);
    for (auto* process : {ingress_, worker_}) {
      if (process == nullptr) continue;
      EXPECT_EQ(process->Wait(kExitTimeout), std::optional<int>(0)) << process->Output();
    }
    if (adapter_ != nullptr) {
      adapter_->Signal(SIGTERM);
      EXPECT_EQ(adapter_->Wait(kExitTimeout), std::optional<int>(0)) << adapter_->Output();
      // The example must teach good manners: no token or personal data in its log.
      const auto log = adapter_->Output();
      for (const char* secret : {kApproveToken, "customer@example.com", "unavailable:"}) {
        EXPECT_EQ(log.find(secret), std::string::npos) << "the adapter log contains " << secret;
      }
    }
    delete stub_;
    delete channel_;
    delete ingress_;
    delete worker_;
    delete adapter_;
    delete database_;
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- ingress log ---\n"
                << ingress_->Output() << "--- worker log ---\n"
                << worker_->Output() << "--- python adapter log ---\n"
                << adapter_->Output();
    }
  }

  static std::string Event(std::string_view topic, const std::string& subscription,
                           const std::string& token) {
    return CleengWebhook(topic, subscription, token);
  }

  std::int64_t PostNewJob(const std::string& body) {
    const auto response = HttpRequest(http_port_, "POST", "/v1/webhooks/cleeng", body);
    EXPECT_EQ(response.status, 200) << response.body;
    std::error_code ec;
    const auto parsed = json::parse(response.body, ec);
    if (ec || !parsed.is_object() || !parsed.as_object().contains("jobId")) {
      ADD_FAILURE() << "unexpected answer: " << response.body;
      return -1;
    }
    return parsed.at("jobId").to_number<std::int64_t>();
  }

  static JobRow ReadJob(std::int64_t id) { return testing::ReadJob(*database_, id); }
  static JobRow WaitForFinalState(std::int64_t id) {
    return testing::WaitForFinalState(*database_, id, kJobTimeout);
  }
  static std::vector<std::string> AttemptDecisions(std::int64_t id) {
    return testing::AttemptDecisions(*database_, id);
  }

  // How many effects the adapter logged for `key` (one `msg=effect` line each).
  static int LoggedEffects(const std::string& key) {
    return CountLines(adapter_->Output(), {"msg=effect", " key=" + key + " "});
  }

  static grpc::Status Authorize(const std::string& key, const std::string& token,
                                gateway_v1::PaymentResult* result) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    gateway_v1::AuthorizeRequest request;
    request.mutable_meta()->set_idempotency_key(key);
    request.mutable_meta()->set_job_id(1);
    request.mutable_meta()->set_attempt(1);
    request.mutable_event()->set_token(token);
    return stub_->Authorize(&context, request, result);
  }

  static gateway_v1::GetPaymentStatusResponse PaymentStatus(const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    gateway_v1::GetPaymentStatusRequest request;
    request.set_idempotency_key(key);
    gateway_v1::GetPaymentStatusResponse response;
    const auto status = stub_->GetPaymentStatus(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // grpc.health.v1.Health/Check through a generic stub, with hand-encoded protobuf bytes, so the
  // test needs no generated health code: the request is field 1 (service, a string); the answer
  // SERVING is field 1 (status, an enum) = 1, i.e. the bytes 08 01.
  static grpc::Status HealthCheck(const std::string& service, std::string* answer) {
    std::string request_bytes;
    if (!service.empty()) {
      request_bytes = std::string{'\x0a', static_cast<char>(service.size())} + service;
    }
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    grpc::GenericStub generic(*channel_);
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                      &response, [&done](grpc::Status status) { done.set_value(status); });
    const auto status = done.get_future().get();
    std::vector<grpc::Slice> slices;
    answer->clear();
    if (status.ok() && response.Dump(&slices).ok()) {
      for (const auto& part : slices) {
        answer->append(reinterpret_cast<const char*>(part.begin()), part.size());
      }
    }
    return status;
  }

  static inline TestDatabase* database_ = nullptr;
  static inline Process* adapter_ = nullptr;
  static inline Process* worker_ = nullptr;
  static inline Process* ingress_ = nullptr;
  static inline std::shared_ptr<grpc::Channel>* channel_ = nullptr;
  static inline gateway_v1::PaymentGateway::Stub* stub_ = nullptr;
  static inline int adapter_port_ = 0;
  static inline int http_port_ = 0;
};

TEST_F(PythonAdapter, AnApprovedJobSucceedsWithTheAdaptersReference) {
  const auto subscription = UniqueName("pyex");
  for (std::string_view topic :
       {"subscriptionReadyForPaymentAuthorisation", "subscriptionReadyForPaymentCapture",
        "subscriptionReadyForTermination"}) {
    const auto id = PostNewJob(Event(topic, subscription, kApproveToken));
    const auto job = WaitForFinalState(id);
    EXPECT_EQ(job.state, "succeeded") << topic << ": " << job.last_error;
    EXPECT_EQ(job.outcome, "approved") << topic;
    EXPECT_EQ(job.gateway_reference.rfind("pyex_", 0), 0u) << job.gateway_reference;
    EXPECT_EQ(job.attempts, 1) << topic;
    // The adapter's own record agrees with payorch's, and there was one effect.
    const auto status = PaymentStatus(job.idempotency_key);
    EXPECT_TRUE(status.found()) << topic;
    EXPECT_EQ(status.result().status(), gateway_v1::PaymentResult::APPROVED) << topic;
    EXPECT_EQ(status.result().gateway_reference(), job.gateway_reference) << topic;
    EXPECT_EQ(LoggedEffects(job.idempotency_key), 1) << topic;
  }
}

TEST_F(PythonAdapter, ADeclineIsASucceededJobWithOutcomeDeclined) {
  const auto id = PostNewJob(Event("subscriptionReadyForPaymentCapture", UniqueName("pyex"),
                                   "decline:insufficient_funds"));
  const auto job = WaitForFinalState(id);
  EXPECT_EQ(job.state, "succeeded") << job.last_error;
  EXPECT_EQ(job.outcome, "declined");
  EXPECT_EQ(job.decline_code, "insufficient_funds");
  EXPECT_EQ(job.attempts, 1);
}

TEST_F(PythonAdapter, UnavailableTwiceSucceedsOnTheThirdAttemptWithOneEffect) {
  const auto id = PostNewJob(
      Event("subscriptionReadyForPaymentAuthorisation", UniqueName("pyex"), "unavailable:2"));
  const auto job = WaitForFinalState(id);
  EXPECT_EQ(job.state, "succeeded") << job.last_error;
  EXPECT_EQ(job.outcome, "approved");
  EXPECT_EQ(job.attempts, 3);
  EXPECT_EQ(AttemptDecisions(id), (std::vector<std::string>{"retry", "retry", "succeeded"}));
  // All three calls carried the job's one key; only the last caused an effect.
  EXPECT_EQ(
      CountLines(adapter_->Output(), {"msg=call", "rpc=Authorize", " key=" + job.idempotency_key + " "}), 3);
  EXPECT_EQ(LoggedEffects(job.idempotency_key), 1);
}

TEST_F(PythonAdapter, TwentyConcurrentCallsWithOneKeyCauseOneEffect) {
  const auto key = UniqueName("pyex-key");
  constexpr int kCalls = 20;
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<gateway_v1::PaymentResult> results(kCalls);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] { statuses[i] = Authorize(key, kApproveToken, &results[i]); });
  }
  for (auto& caller : callers) caller.join();

  std::set<std::string> references;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(results[i].status(), gateway_v1::PaymentResult::APPROVED);
    references.insert(results[i].gateway_reference());
  }
  EXPECT_EQ(references.size(), 1u);  // every call answered with the first effect's result
  EXPECT_EQ(LoggedEffects(key), 1);
  EXPECT_EQ(PaymentStatus(key).result().gateway_reference(), *references.begin());
}

TEST_F(PythonAdapter, AnswersTheContractsStatusCodes) {
  gateway_v1::PaymentResult result;
  EXPECT_EQ(Authorize("bad key!", kApproveToken, &result).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const auto outage = UniqueName("pyex-outage");
  EXPECT_EQ(Authorize(outage, "unavailable", &result).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(PaymentStatus(outage).found());  // nothing happened
  EXPECT_FALSE(PaymentStatus(UniqueName("pyex-never-seen")).found());
  EXPECT_EQ(LoggedEffects(outage), 0);
}

TEST_F(PythonAdapter, ServesTheStandardHealthService) {
  std::string answer;
  ASSERT_TRUE(HealthCheck("", &answer).ok());
  EXPECT_EQ(answer, std::string("\x08\x01"));  // SERVING
  ASSERT_TRUE(HealthCheck("payorch.gateway.v1.PaymentGateway", &answer).ok());
  EXPECT_EQ(answer, std::string("\x08\x01"));
  EXPECT_EQ(HealthCheck("no.such.Service", &answer).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(PythonAdapterConfig, CheckConfigAcceptsGoodSettingsAndBadOnesExitTwo) {
  auto run = [](const std::vector<std::string>& args) {
    std::vector<std::string> argv{AdapterScript()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(kPython, argv, {}, kExitTimeout);
  };
  const auto good = run({"--check-config", "--listen", "127.0.0.1:50061"});
  EXPECT_EQ(good.exit_code, 0) << good.output;
  const auto bad_listen = run({"--check-config", "--listen", "no-port"});
  EXPECT_EQ(bad_listen.exit_code, 2) << bad_listen.output;
  const auto bad_state = run({"--check-config", "--state-file", "/nonexistent-dir/state.jsonl"});
  EXPECT_EQ(bad_state.exit_code, 2) << bad_state.output;
}

}  // namespace
}  // namespace payorch::testing
