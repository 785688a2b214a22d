// The Cleeng round trip end to end (issue 7): the real payorch-ingress, payorch-worker with
// --cleeng-reporting, payorch-sandbox-gateway and payorch-fake-cleeng processes against a real
// PostgreSQL. Webhooks go in over HTTP; what Cleeng was told is read from the fake's state
// (GET /_fake/state), what payorch recorded from the jobs table. Covers the split flow, the direct
// charge, termination with and without an open authorisation, a decline, Cleeng failing and
// recovering, a Cleeng refusal, and the worker killed (SIGKILL) mid-flow and restarted.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "services/core/event.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/job_fixtures.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

constexpr auto kStartTimeout = 20s;
constexpr auto kJobTimeout = 20s;
// Never a flag: the worker reads it from its environment, and it must reach no log line.
constexpr const char* kPublisherToken = "pub_tok_e2e_4c1d9b";
constexpr std::string_view kAuthorisation = core::kTopicAuthorisation;
constexpr std::string_view kCapture = core::kTopicCapture;
constexpr std::string_view kTermination = core::kTopicTermination;
constexpr const char* kAuthDate = "2026-11-29T10:00:00Z";
constexpr const char* kCaptureDate = "2026-11-29T11:00:00Z";
constexpr const char* kTerminationDate = "2026-12-29T10:00:00Z";

// One system for the suite; every test uses its own subscriptions.
class CleengRoundTrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    database_ = new TestDatabase();
    sandbox_port_ = FreeTcpPort();
    fake_port_ = FreeTcpPort();
    http_port_ = FreeTcpPort();
    metrics_port_ = FreeTcpPort();
    sandbox_ = new Process("payorch-sandbox-gateway",
                           {"--listen", "127.0.0.1:" + std::to_string(sandbox_port_)});
    fake_ = new Process("payorch-fake-cleeng",
                        {"--listen", "127.0.0.1:" + std::to_string(fake_port_)},
                        {{"PAYORCH_CLEENG_PUBLISHER_TOKEN", kPublisherToken}});
    ingress_ = new Process("payorch-ingress", {"--database-url", database_->url(), "--listen",
                                               "127.0.0.1:" + std::to_string(http_port_)});
    ASSERT_TRUE(WaitForTcpPort(sandbox_port_, kStartTimeout)) << sandbox_->Output();
    ASSERT_TRUE(WaitForTcpPort(fake_port_, kStartTimeout)) << fake_->Output();
    ASSERT_TRUE(WaitForTcpPort(http_port_, kStartTimeout)) << ingress_->Output();
    StartWorker();
  }

  static void TearDownTestSuite() {
    for (auto* process : {ingress_, worker_, sandbox_, fake_}) {
      if (process == nullptr) continue;
      process->Signal(SIGTERM);
      EXPECT_EQ(process->Wait(15s), std::optional<int>(0)) << process->Output();
    }
    if (worker_ != nullptr) earlier_worker_logs_ += worker_->Output();
    // The publisher token and personal data never reach a log line.
    for (const std::string& log :
         {earlier_worker_logs_, ingress_ ? ingress_->Output() : std::string()}) {
      for (const char* secret : {kPublisherToken, "customer@example.com"}) {
        EXPECT_EQ(log.find(secret), std::string::npos) << "a log contains " << secret;
      }
    }
    EXPECT_NE(earlier_worker_logs_.find("cleeng flow ended"), std::string::npos);
    delete ingress_;
    delete worker_;
    delete sandbox_;
    delete fake_;
    delete database_;
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- worker log ---\n" << worker_->Output() << "--- fake cleeng log ---\n"
                << fake_->Output();
    }
  }

  // Starts (or, after a kill, restarts) the worker with Cleeng reporting to the fake. Bounds:
  // lease 6000 > 3 x 1000 (Cleeng call) + 1000 (adapter deadline) + 1000.
  static void StartWorker() {
    worker_ = new Process(
        "payorch-worker",
        {"--database-url", database_->url(), "--adapter-address",
         "127.0.0.1:" + std::to_string(sandbox_port_), "--adapter-deadline-ms", "1000",
         "--max-attempts", "5", "--backoff-base-ms", "50", "--backoff-max-ms", "200",
         "--poll-interval-ms", "100", "--lease-ms", "6000", "--shutdown-timeout-ms", "5000",
         "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port_), "--cleeng-reporting",
         "--cleeng-base-url", "http://127.0.0.1:" + std::to_string(fake_port_),
         "--cleeng-connect-timeout-ms", "500", "--cleeng-request-timeout-ms", "500",
         "--cleeng-max-call-time-ms", "1000", "--cleeng-max-attempts", "2",
         "--cleeng-backoff-base-ms", "10", "--cleeng-backoff-max-ms", "50",
         "--cleeng-flow-threads", "4"},
        {{"PAYORCH_CLEENG_PUBLISHER_TOKEN", kPublisherToken}});
    ASSERT_TRUE(WaitForTcpPort(metrics_port_, kStartTimeout)) << worker_->Output();
  }

  static void KillAndRestartWorker() {
    worker_->Signal(SIGKILL);
    ASSERT_EQ(worker_->Wait(10s), std::optional<int>(128 + SIGKILL));
    earlier_worker_logs_ += worker_->Output();
    delete worker_;
    worker_ = nullptr;
    StartWorker();
  }

  std::int64_t Post(const std::string& body) {
    const auto response = HttpRequest(http_port_, "POST", "/v1/webhooks/cleeng", body);
    EXPECT_EQ(response.status, 200) << response.body;
    std::error_code ec;
    const auto parsed = json::parse(response.body, ec);
    if (ec || !parsed.is_object() || !parsed.as_object().contains("jobId")) {
      ADD_FAILURE() << "no jobId in " << response.body;
      return 0;
    }
    return parsed.at("jobId").to_number<std::int64_t>();
  }
  std::int64_t PostEvent(std::string_view topic, const std::string& subscription,
                         const std::string& token, const std::string& date) {
    return Post(CleengWebhook(topic, subscription, token, date));
  }
  // Posts the event and waits for its job's final state, which must be `succeeded`.
  JobRow RunEvent(std::string_view topic, const std::string& subscription,
                  const std::string& token, const std::string& date) {
    const std::int64_t id = PostEvent(topic, subscription, token, date);
    const JobRow job = WaitForFinalState(*database_, id, kJobTimeout);
    EXPECT_EQ(job.state, "succeeded") << topic << " " << subscription << ": " << job.last_error;
    return job;
  }

  static json::object FakeState() {
    const auto response = HttpRequest(fake_port_, "GET", "/_fake/state");
    EXPECT_EQ(response.status, 200);
    std::error_code ec;
    const auto parsed = json::parse(response.body, ec);
    return !ec && parsed.is_object() ? parsed.as_object() : json::object{};
  }
  static std::vector<json::object> Of(const char* collection, const std::string& subscription) {
    std::vector<json::object> out;
    const json::object state = FakeState();
    if (!state.contains(collection)) return out;
    for (const auto& item : state.at(collection).as_array()) {
      const auto& object = item.as_object();
      const auto* id = object.if_contains("subscriptionId");
      if (id != nullptr && id->is_string() && id->as_string() == subscription) {
        out.push_back(object);
      }
    }
    return out;
  }
  static std::vector<json::object> Orders(const std::string& subscription) {
    return Of("orders", subscription);
  }
  static std::vector<json::object> Payments(const std::string& subscription) {
    return Of("payments", subscription);
  }
  static Strings History(const json::object& payment) {
    Strings out;
    for (const auto& status : payment.at("history").as_array()) {
      out.emplace_back(status.as_string().c_str());
    }
    return out;
  }
  static std::string SubscriptionStatus(const std::string& subscription) {
    const json::object state = FakeState();
    const auto* found = state.at("subscriptions").as_object().if_contains(subscription);
    return found == nullptr ? "" : std::string(found->at("status").as_string().c_str());
  }
  static int FaultsApplied() {
    const json::object state = FakeState();
    return state.contains("faultsApplied") ? static_cast<int>(state.at("faultsApplied").as_int64())
                                           : -1;
  }
  static void InjectFault(const std::string& fault_json) {
    ASSERT_EQ(HttpRequest(fake_port_, "POST", "/_fake/faults", fault_json).status, 200);
  }
  // The value of one metric series as rendered; -1 when absent.
  static double Metric(const std::string& series) {
    const std::string body = HttpRequest(metrics_port_, "GET", "/metrics").body;
    const auto at = body.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(body.substr(at + series.size() + 2));
  }

  static TestDatabase* database_;
  static Process* sandbox_;
  static Process* fake_;
  static Process* ingress_;
  static Process* worker_;
  static std::string earlier_worker_logs_;
  static int sandbox_port_, fake_port_, http_port_, metrics_port_;
};

TestDatabase* CleengRoundTrip::database_ = nullptr;
Process* CleengRoundTrip::sandbox_ = nullptr;
Process* CleengRoundTrip::fake_ = nullptr;
Process* CleengRoundTrip::ingress_ = nullptr;
Process* CleengRoundTrip::worker_ = nullptr;
std::string CleengRoundTrip::earlier_worker_logs_;
int CleengRoundTrip::sandbox_port_ = 0;
int CleengRoundTrip::fake_port_ = 0;
int CleengRoundTrip::http_port_ = 0;
int CleengRoundTrip::metrics_port_ = 0;

TEST_F(CleengRoundTrip, SplitFlowAuthorisesThenCapturesOneOrderOnePayment) {
  const std::string sub = UniqueName("cl-split");
  const JobRow authorised = RunEvent(kAuthorisation, sub, "approve", kAuthDate);
  EXPECT_EQ(authorised.outcome, "approved");
  ASSERT_EQ(Payments(sub).size(), 1u);
  EXPECT_EQ(History(Payments(sub)[0]), Strings{"authorized"});

  const JobRow captured = RunEvent(kCapture, sub, "approve", kCaptureDate);
  EXPECT_EQ(captured.outcome, "approved");
  EXPECT_EQ(Orders(sub).size(), 1u);
  const auto payments = Payments(sub);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(History(payments[0]), (Strings{"authorized", "captured"}));
  EXPECT_EQ(payments[0].at("externalPaymentId").as_string(), authorised.gateway_reference);
  EXPECT_GE(Metric("payorch_cleeng_flow_results_total{kind=\"succeeded\"}"), 2);
}

TEST_F(CleengRoundTrip, DirectChargeCreatesTheOrderAndACapturedPayment) {
  const std::string sub = UniqueName("cl-direct");
  const JobRow job = RunEvent(kCapture, sub, "approve", kCaptureDate);
  EXPECT_EQ(job.outcome, "approved");
  EXPECT_EQ(Orders(sub).size(), 1u);
  const auto payments = Payments(sub);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(History(payments[0]), Strings{"captured"});
}

TEST_F(CleengRoundTrip, TerminationCancelsAnOpenAuthorisationAndTerminates) {
  const std::string open = UniqueName("cl-term-open");
  RunEvent(kAuthorisation, open, "approve", kAuthDate);
  RunEvent(kTermination, open, "approve", kTerminationDate);
  EXPECT_EQ(Orders(open).size(), 1u);
  const auto payments = Payments(open);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(History(payments[0]), (Strings{"authorized", "cancelled"}));
  EXPECT_EQ(SubscriptionStatus(open), "terminated");

  const std::string bare = UniqueName("cl-term-bare");
  RunEvent(kTermination, bare, "approve", kTerminationDate);
  EXPECT_TRUE(Orders(bare).empty());
  EXPECT_TRUE(Payments(bare).empty());
  EXPECT_EQ(SubscriptionStatus(bare), "terminated");
}

TEST_F(CleengRoundTrip, ADeclineIsReportedRejectedWithTheReason) {
  const std::string sub = UniqueName("cl-decline");
  const JobRow job = RunEvent(kAuthorisation, sub, "decline:insufficient_funds", kAuthDate);
  EXPECT_EQ(job.outcome, "declined");
  EXPECT_EQ(job.decline_code, "insufficient_funds");
  const auto payments = Payments(sub);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].at("status").as_string(), "rejected");
  EXPECT_EQ(payments[0].at("rejectedReason").as_string(), "insufficient_funds");
}

TEST_F(CleengRoundTrip, CleengFailingThenRecoveringRetriesTheJobWithOneOrderAndPayment) {
  const std::string sub = UniqueName("cl-flaky");
  // More 500s than one call's two requests: the first attempt gives up, a later one succeeds.
  InjectFault(R"({"kind":"500","count":3,"method":"POST","pathPrefix":"/3.1/orders"})");
  const JobRow job = RunEvent(kAuthorisation, sub, "approve", kAuthDate);
  EXPECT_EQ(job.outcome, "approved");
  const auto decisions = AttemptDecisions(*database_, [&] {
    auto connection = database_->Connect();
    pqxx::nontransaction tx(*connection);
    return tx.exec_params1("SELECT id FROM jobs WHERE subscription_id = $1", sub)[0]
        .as<std::int64_t>();
  }());
  ASSERT_GE(decisions.size(), 2u);
  EXPECT_EQ(decisions.front(), "retry");
  EXPECT_EQ(decisions.back(), "succeeded");
  EXPECT_EQ(Orders(sub).size(), 1u);
  ASSERT_EQ(Payments(sub).size(), 1u);
  EXPECT_EQ(History(Payments(sub)[0]), Strings{"authorized"});
}

TEST_F(CleengRoundTrip, ACleengRefusalMakesTheJobDeadWithCleengsAnswer) {
  const std::string sub = UniqueName("cl-refused");
  // No currency: the ingress accepts it (optional in the webhook), Cleeng refuses the order.
  json::value body = json::parse(CleengWebhook(kAuthorisation, sub, "approve", kAuthDate));
  body.at("data").as_object().erase("currency");
  const std::int64_t id = Post(json::serialize(body));
  const JobRow job = WaitForFinalState(*database_, id, kJobTimeout);
  EXPECT_EQ(job.state, "dead");
  EXPECT_NE(job.last_error.find("422"), std::string::npos) << job.last_error;
  EXPECT_NE(job.last_error.find("currency"), std::string::npos) << job.last_error;
  EXPECT_EQ(AttemptDecisions(*database_, id), Strings{"dead"});
  EXPECT_TRUE(Orders(sub).empty());
  EXPECT_TRUE(Payments(sub).empty());
}

// The worker is killed (SIGKILL) while a Cleeng request hangs, between two steps of a flow,
// restarted, and the rescued job resumes from its last recorded step. Kill points: split flow
// after adapter_decided (authorisation and capture), direct charge after capture_plan (before
// the order), termination after authorization_settled (before the subscription is terminated).
TEST_F(CleengRoundTrip, AWorkerKilledMidFlowResumesWithOneOrderAndOnePayment) {
  // `steps_before_kill`: the steps the killed attempt recorded (sorted, comma-separated); the
  // rest must be recorded by the rescuing attempt (a later fence).
  const auto kill_during = [&](std::string_view topic, const std::string& sub, const char* date,
                               const char* method, const char* path_prefix,
                               const char* steps_before_kill) {
    const int faults_before = FaultsApplied();
    InjectFault(std::string(R"({"kind":"hang","count":1,"hangMs":2000,"method":")") + method +
                R"(","pathPrefix":")" + path_prefix + R"("})");
    const std::int64_t id = PostEvent(topic, sub, "approve", date);
    // The request is hanging at the fake: the worker is inside the flow, between steps.
    ASSERT_TRUE(Eventually([&] { return FaultsApplied() > faults_before; }, 10s));
    KillAndRestartWorker();
    const JobRow job = WaitForFinalState(*database_, id, kJobTimeout);
    EXPECT_EQ(job.state, "succeeded") << topic << ": " << job.last_error;
    EXPECT_EQ(job.outcome, "approved");
    // The killed attempt recorded nothing: the job was rescued and claimed again.
    EXPECT_GE(job.attempts, 2) << topic;
    auto connection = database_->Connect();
    pqxx::nontransaction tx(*connection);
    const auto fences = tx.exec_params1(
        "SELECT count(DISTINCT fence), string_agg(step, ',' ORDER BY step) FILTER (WHERE fence = "
        "(SELECT min(fence) FROM job_steps WHERE job_id = $1)) FROM job_steps WHERE job_id = $1",
        id);
    EXPECT_EQ(fences[0].as<int>(), 2) << topic;
    EXPECT_EQ(fences[1].as<std::string>(""), steps_before_kill) << topic;
  };

  const std::string split = UniqueName("cl-kill-split");
  kill_during(kAuthorisation, split, kAuthDate, "POST", "/3.1/payments",
              "adapter_decided,order_created");
  kill_during(kCapture, split, kCaptureDate, "PATCH", "/3.1/payments",
              "adapter_decided,capture_plan");
  EXPECT_EQ(Orders(split).size(), 1u);
  auto payments = Payments(split);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(History(payments[0]), (Strings{"authorized", "captured"}));

  const std::string direct = UniqueName("cl-kill-direct");
  kill_during(kCapture, direct, kCaptureDate, "POST", "/3.1/orders", "capture_plan");
  EXPECT_EQ(Orders(direct).size(), 1u);
  payments = Payments(direct);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(History(payments[0]), Strings{"captured"});

  const std::string terminated = UniqueName("cl-kill-term");
  RunEvent(kAuthorisation, terminated, "approve", kAuthDate);
  kill_during(kTermination, terminated, kTerminationDate, "PATCH", "/3.1/subscriptions",
              "adapter_decided,authorization_settled,release_plan");
  EXPECT_EQ(Orders(terminated).size(), 1u);
  payments = Payments(terminated);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(History(payments[0]), (Strings{"authorized", "cancelled"}));
  EXPECT_EQ(SubscriptionStatus(terminated), "terminated");

  // Every job of the system is final.
  auto connection = database_->Connect();
  pqxx::nontransaction tx(*connection);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM jobs WHERE state NOT IN "
                     "('succeeded', 'dead', 'cancelled')")[0]
                .as<int>(),
            0);
}

}  // namespace
}  // namespace payorch::testing
