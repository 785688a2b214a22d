// End to end: the real payorch-ingress, payorch-worker and payorch-sandbox-gateway processes
// against a real PostgreSQL, driven over real HTTP, checked in the database and through the
// sandbox's control service (how many effects each idempotency key caused).

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "sandbox_control.grpc.pb.h"
#include "tests/support/http_client.hpp"
#include "tests/support/job_fixtures.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
namespace control = payorch::sandbox::v1;

constexpr auto kStartTimeout = 20s;
constexpr auto kJobTimeout = 30s;
constexpr int kMaxAttempts = 3;
// The sandbox approves any token it has no script for; this one is easy to find in a log.
constexpr const char* kApproveToken = "tok_e2e_secret_7f3a";

// One system for the whole suite: every test uses its own subscription ids, so their events
// and jobs never meet.
class WebhookToOutcome : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    database_ = new TestDatabase();
    sandbox_port_ = FreeTcpPort();
    http_port_ = FreeTcpPort();
    sandbox_ = new Process("payorch-sandbox-gateway",
                           {"--listen", "127.0.0.1:" + std::to_string(sandbox_port_)});
    ASSERT_TRUE(WaitForTcpPort(sandbox_port_, kStartTimeout)) << sandbox_->Output();
    worker_ = new Process(
        "payorch-worker",
        {"--database-url", database_->url(), "--adapter-address",
         "127.0.0.1:" + std::to_string(sandbox_port_), "--adapter-deadline-ms", "400",
         "--max-attempts", std::to_string(kMaxAttempts), "--backoff-base-ms", "50",
         "--backoff-max-ms", "200", "--poll-interval-ms", "100", "--lease-ms", "5000",
         "--metrics-listen", "127.0.0.1:0", "--log-format", "json"});
    ingress_ = new Process("payorch-ingress", {"--database-url", database_->url(), "--listen",
                                               "127.0.0.1:" + std::to_string(http_port_)});
    ASSERT_TRUE(WaitForTcpPort(http_port_, kStartTimeout)) << ingress_->Output();
    control_ = control::SandboxControl::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(sandbox_port_), grpc::InsecureChannelCredentials()))
                   .release();
  }

  static void TearDownTestSuite() {
    // Graceful stops must work: SIGTERM, then each process exits 0 on its own.
    for (auto* process : {ingress_, worker_, sandbox_}) {
      if (process == nullptr) continue;
      process->Signal(SIGTERM);
      const auto code = process->Wait(15s);
      EXPECT_EQ(code, std::optional<int>(0)) << process->Output();
      // Tokens and personal data never reach a log line, whatever happened to the job.
      const auto log = process->Output();
      for (const char* secret : {kApproveToken, "customer@example.com", "unavailable:", "slow:"}) {
        EXPECT_EQ(log.find(secret), std::string::npos) << "a log contains " << secret;
      }
    }
    delete control_;
    delete ingress_;
    delete worker_;
    delete sandbox_;
    delete database_;
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- ingress log ---\n" << ingress_->Output() << "--- worker log ---\n"
                << worker_->Output() << "--- sandbox log ---\n" << sandbox_->Output();
    }
  }

  static std::string Event(std::string_view topic, const std::string& subscription,
                           const std::string& token,
                           const std::string& dunning_date = "2026-11-29T10:00:00Z") {
    return CleengWebhook(topic, subscription, token, dunning_date);
  }
  static std::string UniqueSubscription() { return UniqueName("e2e"); }

  struct Posted {
    int status;
    json::object body;
  };

  Posted Post(const std::string& body) {
    const auto response = HttpRequest(http_port_, "POST", "/v1/webhooks/cleeng", body);
    std::error_code ec;
    auto parsed = json::parse(response.body, ec);
    EXPECT_FALSE(ec) << "response body is not JSON: " << response.body;
    EXPECT_TRUE(!ec && parsed.is_object()) << response.body;
    return {response.status, !ec && parsed.is_object() ? parsed.get_object() : json::object{}};
  }

  std::int64_t PostNewJob(const std::string& body) {
    const auto posted = Post(body);
    EXPECT_EQ(posted.status, 200) << json::serialize(posted.body);
    EXPECT_EQ(posted.body.if_contains("duplicate") != nullptr &&
                  posted.body.at("duplicate").as_bool(),
              false);
    return posted.body.at("jobId").to_number<std::int64_t>();
  }

  static JobRow ReadJob(std::int64_t id) { return testing::ReadJob(*database_, id); }
  static JobRow WaitForFinalState(std::int64_t id) {
    return testing::WaitForFinalState(*database_, id, kJobTimeout);
  }
  static std::vector<std::string> AttemptDecisions(std::int64_t id) {
    return testing::AttemptDecisions(*database_, id);
  }

  static std::int64_t CountRows(const std::string& table) {
    auto connection = database_->Connect();
    pqxx::work tx(*connection);
    return tx.exec1("SELECT count(*) FROM " + tx.quote_name(table))[0].as<std::int64_t>();
  }

  static control::GetEffectsResponse Effects(const std::string& idempotency_key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    control::GetEffectsRequest request;
    request.set_idempotency_key(idempotency_key);
    control::GetEffectsResponse response;
    const auto status = control_->GetEffects(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  static inline TestDatabase* database_ = nullptr;
  static inline Process* sandbox_ = nullptr;
  static inline Process* worker_ = nullptr;
  static inline Process* ingress_ = nullptr;
  static inline control::SandboxControl::Stub* control_ = nullptr;
  static inline int sandbox_port_ = 0;
  static inline int http_port_ = 0;
};

TEST_F(WebhookToOutcome, EachTopicSucceedsWithTheSandboxResult) {
  const auto subscription = UniqueSubscription();
  for (std::string_view topic :
       {"subscriptionReadyForPaymentAuthorisation", "subscriptionReadyForPaymentCapture",
        "subscriptionReadyForTermination"}) {
    const auto id = PostNewJob(Event(topic, subscription, kApproveToken));
    const auto job = WaitForFinalState(id);
    EXPECT_EQ(job.state, "succeeded") << topic << ": " << job.last_error;
    EXPECT_EQ(job.outcome, "approved") << topic;
    EXPECT_EQ(job.gateway_reference.rfind("sbx_", 0), 0u) << job.gateway_reference;
    EXPECT_EQ(job.attempts, 1) << topic;
    EXPECT_EQ(AttemptDecisions(id), std::vector<std::string>{"succeeded"}) << topic;
    const auto effects = Effects(job.idempotency_key);
    EXPECT_TRUE(effects.found()) << topic;
    EXPECT_EQ(effects.effects(), 1) << topic;
  }
}

TEST_F(WebhookToOutcome, TwentyConcurrentDeliveriesMakeOneJobAndOneEffect) {
  const auto body = Event("subscriptionReadyForPaymentAuthorisation", UniqueSubscription(),
                          kApproveToken);
  constexpr int kDeliveries = 20;
  std::vector<std::thread> senders;
  std::vector<int> statuses(kDeliveries);
  std::vector<std::int64_t> job_ids(kDeliveries);
  std::vector<bool> duplicates(kDeliveries);
  for (int i = 0; i < kDeliveries; ++i) {
    senders.emplace_back([&, i] {
      const auto response = HttpRequest(http_port_, "POST", "/v1/webhooks/cleeng", body);
      statuses[i] = response.status;
      const auto parsed = json::parse(response.body).as_object();
      job_ids[i] = parsed.at("jobId").to_number<std::int64_t>();
      duplicates[i] = parsed.at("duplicate").as_bool();
    });
  }
  for (auto& sender : senders) sender.join();

  EXPECT_EQ(std::set<int>(statuses.begin(), statuses.end()), std::set<int>{200});
  EXPECT_EQ(std::set<std::int64_t>(job_ids.begin(), job_ids.end()).size(), 1u);
  EXPECT_EQ(std::count(duplicates.begin(), duplicates.end(), false), 1);

  const auto job = WaitForFinalState(job_ids[0]);
  EXPECT_EQ(job.state, "succeeded");
  EXPECT_EQ(job.deliveries, kDeliveries);
  EXPECT_EQ(Effects(job.idempotency_key).effects(), 1);
}

TEST_F(WebhookToOutcome, ADeclineIsASucceededJobWithOutcomeDeclined) {
  const auto id = PostNewJob(Event("subscriptionReadyForPaymentCapture", UniqueSubscription(),
                                   "decline:insufficient_funds"));
  const auto job = WaitForFinalState(id);
  EXPECT_EQ(job.state, "succeeded");
  EXPECT_EQ(job.outcome, "declined");
  EXPECT_EQ(job.decline_code, "insufficient_funds");
  EXPECT_EQ(job.attempts, 1);
}

TEST_F(WebhookToOutcome, ATransientFailureIsRetriedWithTheSameKeyUntilItSucceeds) {
  const auto id = PostNewJob(Event("subscriptionReadyForPaymentAuthorisation",
                                   UniqueSubscription(), "unavailable:2"));
  const auto job = WaitForFinalState(id);
  EXPECT_EQ(job.state, "succeeded") << job.last_error;
  EXPECT_EQ(job.outcome, "approved");
  EXPECT_EQ(job.attempts, 3);
  EXPECT_EQ(AttemptDecisions(id), (std::vector<std::string>{"retry", "retry", "succeeded"}));
  const auto effects = Effects(job.idempotency_key);
  EXPECT_EQ(effects.calls(), 3);  // all three calls carried the job's one key
  EXPECT_EQ(effects.effects(), 1);
}

TEST_F(WebhookToOutcome, AJobThatExhaustsItsAttemptsIsDeadWithItsReason) {
  const auto id = PostNewJob(Event("subscriptionReadyForPaymentAuthorisation",
                                   UniqueSubscription(), "unavailable:100"));
  const auto job = WaitForFinalState(id);
  EXPECT_EQ(job.state, "dead");
  EXPECT_EQ(job.attempts, kMaxAttempts);
  EXPECT_NE(job.last_error.find("UNAVAILABLE"), std::string::npos) << job.last_error;
  const auto decisions = AttemptDecisions(id);
  ASSERT_EQ(decisions.size(), static_cast<std::size_t>(kMaxAttempts));
  EXPECT_EQ(decisions.back(), "dead");
  EXPECT_EQ(Effects(job.idempotency_key).effects(), 0);
}

TEST_F(WebhookToOutcome, AnAnswerLostAfterTheEffectIsResolvedWithoutASecondEffect) {
  // The sandbox charges, then answers only after the worker's 400 ms deadline: the worker must
  // treat the call as in doubt and resolve it with the same key, never charge again.
  const auto id = PostNewJob(Event("subscriptionReadyForPaymentAuthorisation",
                                   UniqueSubscription(), "slow:1500"));
  const auto job = WaitForFinalState(id);
  EXPECT_EQ(job.state, "succeeded") << job.last_error;
  EXPECT_EQ(job.outcome, "approved");
  const auto decisions = AttemptDecisions(id);
  ASSERT_GE(decisions.size(), 2u);
  EXPECT_EQ(decisions.front(), "in_doubt");
  EXPECT_EQ(decisions.back(), "succeeded");
  EXPECT_EQ(Effects(job.idempotency_key).effects(), 1);
}

TEST_F(WebhookToOutcome, APermanentAdapterErrorIsDeadAtOnce) {
  const auto id = PostNewJob(Event("subscriptionReadyForPaymentAuthorisation",
                                   UniqueSubscription(), "invalid"));
  const auto job = WaitForFinalState(id);
  EXPECT_EQ(job.state, "dead");
  EXPECT_EQ(job.attempts, 1);
  EXPECT_NE(job.last_error.find("INVALID_ARGUMENT"), std::string::npos) << job.last_error;
}

TEST_F(WebhookToOutcome, RejectedInputGetsAClearAnswerAndStoresNothing) {
  const auto jobs_before = CountRows("jobs");
  const auto ignored_before = CountRows("ignored_events");

  const auto malformed = Post("{'broadcasterId': 1, 'topic': 'x', 'data': {},}");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_TRUE(malformed.body.contains("error"));

  const auto missing = Post(R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentCapture","data":{}})");
  EXPECT_EQ(missing.status, 422);
  EXPECT_TRUE(missing.body.contains("error"));

  EXPECT_EQ(CountRows("jobs"), jobs_before);
  EXPECT_EQ(CountRows("ignored_events"), ignored_before);

  // A topic payorch does not act on: 200 ignored, kept for audit, never a job.
  const auto ignored = Post(R"({"broadcasterId":1,"topic":"customerRegistered","data":{"customerId":5}})");
  EXPECT_EQ(ignored.status, 200);
  EXPECT_EQ(ignored.body.at("ignored").as_bool(), true);
  EXPECT_EQ(CountRows("jobs"), jobs_before);
  EXPECT_EQ(CountRows("ignored_events"), ignored_before + 1);
}

TEST_F(WebhookToOutcome, TheAdminCliShowsADeadJobAndItsAttempts) {
  const auto id = PostNewJob(Event("subscriptionReadyForPaymentAuthorisation",
                                   UniqueSubscription(), "unavailable:100"));
  ASSERT_EQ(WaitForFinalState(id).state, "dead");

  const auto list = RunCommand("payorch-admin",
                               {"jobs", "list", "--state", "dead", "--json", "--database-url",
                                database_->url()});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  bool listed = false;
  const auto listed_jobs = json::parse(list.stdout_text);
  for (const auto& job : listed_jobs.at("jobs").as_array()) {
    EXPECT_EQ(job.at("state").as_string(), "dead");
    listed = listed || job.at("id").to_number<std::int64_t>() == id;
  }
  EXPECT_TRUE(listed) << list.stdout_text;

  const auto show = RunCommand("payorch-admin", {"jobs", "show", std::to_string(id), "--json",
                                                 "--database-url", database_->url()});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  const auto shown = json::parse(show.stdout_text).as_object();
  EXPECT_EQ(shown.at("attempts").as_array().size(), static_cast<std::size_t>(kMaxAttempts));
  // Secrets and personal data never leave through the CLI.
  EXPECT_EQ(show.stdout_text.find("customer@example.com"), std::string::npos);
  EXPECT_EQ(show.stdout_text.find("unavailable:100"), std::string::npos);
}

}  // namespace
}  // namespace payorch::testing
