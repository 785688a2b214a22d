// Per-subscription order (DESIGN.md promise 4) and parking without spending attempts: the claim
// statement against a real PostgreSQL, then the real worker with a real gRPC adapter whose
// Authorize blocks until the test lets it go.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "db/job_queue.hpp"
#include "services/worker/worker.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::worker {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr const char* kAuthorisation = "subscriptionReadyForPaymentAuthorisation";
constexpr const char* kCapture = "subscriptionReadyForPaymentCapture";
constexpr const char* kTermination = "subscriptionReadyForTermination";

std::string Event(const std::string& topic, const std::string& subscription_id,
                  const std::string& token) {
  return R"({"broadcasterId": 123, "topic": ")" + topic + R"(", "data": {"subscriptionId": ")" +
         subscription_id +
         R"(", "offerId": "S1_US", "customerId": 77, "customerEmail": "c@example.com", )"
         R"("paymentDetailsId": 5, "dunningAttemptDate": "2019-11-04T19:55:41Z", )"
         R"("currency": "USD", "token": ")" +
         token + R"("}})";
}

// Inserts a job; `dunning` is an SQL timestamptz literal or "" for NULL (terminations).
std::int64_t Insert(pqxx::connection& connection, const std::string& key, const std::string& topic,
                    const std::string& subscription_id, const std::string& dunning,
                    const std::string& token = "approve", std::int64_t broadcaster_id = 123) {
  pqxx::work tx(connection);
  const auto row = tx.exec_params1(
      "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
      "dunning_attempt_date, raw_event) VALUES ($1, $2, $3, $4, $5, "
      "CASE WHEN $6 = '' THEN NULL ELSE $6::timestamptz END, $7) RETURNING id",
      "test|" + key, key, broadcaster_id, topic, subscription_id, dunning,
      Event(topic, subscription_id, token));
  tx.commit();
  return row[0].as<std::int64_t>();
}

std::vector<std::int64_t> ClaimIds(pqxx::connection& connection, int limit = 100) {
  std::vector<std::int64_t> ids;
  for (const auto& job : db::ClaimDueJobs(connection, "w", 60s, limit)) ids.push_back(job.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

class SubscriptionOrderClaim : public ::testing::Test {
 protected:
  void SetUp() override { db::PrepareJobQueueStatements(*connection_); }

  std::string State(std::int64_t id) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec_params1("SELECT state FROM jobs WHERE id = $1", id)[0].as<std::string>();
  }
  void Finish(std::int64_t id) {
    pqxx::work tx(*connection_);
    tx.exec_params("UPDATE jobs SET state = 'succeeded', finished_at = now(), locked_by = NULL, "
                   "locked_until = NULL WHERE id = $1",
                   id);
    tx.commit();
  }

  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_ = database_.Connect();
};

TEST_F(SubscriptionOrderClaim, OnlyTheEarliestUnfinishedJobOfASubscriptionIsClaimable) {
  // Inserted out of dunning order: the capture (later date) first.
  const auto capture = Insert(*connection_, "c", kCapture, "s1", "2024-01-02T00:00:00Z");
  const auto auth = Insert(*connection_, "a", kAuthorisation, "s1", "2024-01-01T00:00:00Z");
  const auto other = Insert(*connection_, "o", kAuthorisation, "s2", "2024-01-05T00:00:00Z");
  // Same subscription id under another broadcaster: a different subscription.
  const auto foreign = Insert(*connection_, "f", kCapture, "s1", "2024-01-09T00:00:00Z", "approve", 999);

  EXPECT_EQ(ClaimIds(*connection_), (std::vector<std::int64_t>{auth, other, foreign}));
  EXPECT_EQ(State(capture), "queued");
  // The authorisation is running: still nothing for s1.
  EXPECT_TRUE(ClaimIds(*connection_).empty());
  Finish(auth);
  EXPECT_EQ(ClaimIds(*connection_), (std::vector<std::int64_t>{capture}));
}

TEST_F(SubscriptionOrderClaim, ARunningJobBlocksEvenAnEarlierOneInsertedLater) {
  const auto later = Insert(*connection_, "l", kCapture, "s1", "2024-01-02T00:00:00Z");
  EXPECT_EQ(ClaimIds(*connection_), (std::vector<std::int64_t>{later}));
  const auto earlier = Insert(*connection_, "e", kAuthorisation, "s1", "2024-01-01T00:00:00Z");
  EXPECT_TRUE(ClaimIds(*connection_).empty()) << "two jobs of one subscription would run at once";
  Finish(later);
  EXPECT_EQ(ClaimIds(*connection_), (std::vector<std::int64_t>{earlier}));
}

TEST_F(SubscriptionOrderClaim, TerminationWithoutDunningDateGoesByArrival) {
  // A termination has no dunning date: ordered by created_at, after renewals dated in the past.
  const auto auth = Insert(*connection_, "a", kAuthorisation, "s1", "2024-01-01T00:00:00Z");
  const auto terminate = Insert(*connection_, "t", kTermination, "s1", "");
  EXPECT_EQ(ClaimIds(*connection_), (std::vector<std::int64_t>{auth}));
  Finish(auth);
  EXPECT_EQ(ClaimIds(*connection_), (std::vector<std::int64_t>{terminate}));
}

TEST_F(SubscriptionOrderClaim, EqualDatesGoByIdAndFinalJobsDoNotBlock) {
  const auto first = Insert(*connection_, "1", kAuthorisation, "s1", "2024-01-01T00:00:00Z");
  const auto second = Insert(*connection_, "2", kCapture, "s1", "2024-01-01T00:00:00Z");
  Finish(first);
  EXPECT_EQ(ClaimIds(*connection_), (std::vector<std::int64_t>{second}));
}

TEST_F(SubscriptionOrderClaim, ClaimUsesTheUnfinishedSubscriptionIndex) {
  pqxx::nontransaction tx(*connection_);
  tx.exec("SET enable_seqscan = off");
  const auto plan = tx.exec(
      "EXPLAIN SELECT 1 FROM jobs e WHERE e.broadcaster_id = 1 AND e.subscription_id = 's' "
      "AND e.state IN ('queued', 'running', 'in_doubt') AND e.id <> 5 AND (e.state = 'running' OR "
      "(coalesce(e.dunning_attempt_date, e.created_at), e.id) < (now(), 5))");
  const std::string text = testing::PlanText(plan);
  // A probe of the unfinished jobs by subscription, never a scan of the table.
  EXPECT_TRUE(testing::PlanReadsJobsIndex(text, "jobs_subscription_unfinished_idx")) << text;
}

TEST_F(SubscriptionOrderClaim, ReleaseGivesTheAttemptBackAndKeepsInDoubt) {
  const auto queued = Insert(*connection_, "q", kAuthorisation, "s1", "2024-01-01T00:00:00Z");
  const auto doubt = Insert(*connection_, "d", kAuthorisation, "s2", "2024-01-01T00:00:00Z");
  {
    pqxx::work tx(*connection_);
    tx.exec_params("UPDATE jobs SET state = 'in_doubt', attempts = 2, fence = 2 WHERE id = $1",
                   doubt);
    tx.commit();
  }
  auto jobs = db::ClaimDueJobs(*connection_, "w", 60s, 10);
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) {
    EXPECT_TRUE(db::ReleaseClaim(*connection_, job, 0ms));
    // A second release with the same fence finds the job no longer running: a no-op.
    EXPECT_FALSE(db::ReleaseClaim(*connection_, job, 0ms));
  }
  pqxx::nontransaction tx(*connection_);
  const auto q = tx.exec_params1("SELECT state, attempts, fence FROM jobs WHERE id = $1", queued);
  EXPECT_EQ(q[0].as<std::string>(), "queued");
  EXPECT_EQ(q[1].as<int>(), 0);
  EXPECT_EQ(q[2].as<int>(), 1);
  const auto d = tx.exec_params1("SELECT state, attempts, fence FROM jobs WHERE id = $1", doubt);
  EXPECT_EQ(d[0].as<std::string>(), "in_doubt");
  EXPECT_EQ(d[1].as<int>(), 2);
  EXPECT_EQ(d[2].as<int>(), 3);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM job_attempts")[0].as<int>(), 0);
}

TEST_F(SubscriptionOrderClaim, RecordAttemptsWritesABatchInOneStatementAndSkipsLostLeases) {
  Insert(*connection_, "r1", kAuthorisation, "s1", "2024-01-01T00:00:00Z");
  Insert(*connection_, "r2", kAuthorisation, "s2", "2024-01-01T00:00:00Z");
  Insert(*connection_, "r3", kAuthorisation, "s3", "2024-01-01T00:00:00Z");
  auto jobs = db::ClaimDueJobs(*connection_, "w", 60s, 10);
  ASSERT_EQ(jobs.size(), 3u);
  const std::string nasty = "say \"no\", {a,b} \\ back\\slash NULL ' quote \u00e9";
  std::vector<db::AttemptToRecord> batch;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    db::AttemptToRecord item;
    item.attempt.job_id = jobs[i].id;
    item.attempt.fence = jobs[i].fence + (i == 2 ? 7 : 0);  // the third lost its lease
    item.attempt.attempt = jobs[i].attempt;
    item.attempt.worker_id = "w";
    item.attempt.adapter = "default";
    item.attempt.rpc = "Authorize";
    item.attempt.request_summary = nasty;
    item.attempt.started_at = std::chrono::system_clock::now();
    item.attempt.finished_at = item.attempt.started_at;
    item.attempt.grpc_status = i == 0 ? "OK" : "UNAVAILABLE";
    if (i == 0) item.attempt.gateway_status = "APPROVED";
    item.attempt.error = i == 0 ? std::nullopt : std::optional<std::string>(nasty);
    item.attempt.decision = i == 0 ? "succeeded" : "retry";
    item.transition.kind =
        i == 0 ? db::JobTransition::Kind::kSucceeded : db::JobTransition::Kind::kRetry;
    item.transition.outcome = "approved";
    if (i == 0) item.transition.gateway_reference = "ref-1";
    item.transition.delay = 5000ms;
    if (i != 0) item.transition.error = nasty;
    batch.push_back(item);
  }
  const auto recorded = db::RecordAttempts(*connection_, batch);
  EXPECT_EQ(recorded, (std::vector<bool>{true, true, false}));
  pqxx::nontransaction tx(*connection_);
  const auto first = tx.exec_params1(
      "SELECT state, outcome, gateway_reference, finished_at IS NOT NULL, locked_by IS NULL "
      "FROM jobs WHERE id = $1", jobs[0].id);
  EXPECT_EQ(first[0].as<std::string>(), "succeeded");
  EXPECT_EQ(first[1].as<std::string>(), "approved");
  EXPECT_EQ(first[2].as<std::string>(), "ref-1");
  EXPECT_TRUE(first[3].as<bool>());
  EXPECT_TRUE(first[4].as<bool>());
  const auto second = tx.exec_params1(
      "SELECT state, last_error, run_after > now() + interval '3 seconds', finished_at IS NULL "
      "FROM jobs WHERE id = $1", jobs[1].id);
  EXPECT_EQ(second[0].as<std::string>(), "queued");
  EXPECT_EQ(second[1].as<std::string>(), nasty);
  EXPECT_TRUE(second[2].as<bool>());
  EXPECT_TRUE(second[3].as<bool>());
  EXPECT_EQ(tx.exec_params1("SELECT state FROM jobs WHERE id = $1", jobs[2].id)[0].as<std::string>(),
            "running");
  const auto rows = tx.exec("SELECT job_id, request_summary, error IS NULL, gateway_status "
                            "FROM job_attempts ORDER BY job_id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1].as<std::string>(), nasty);
  EXPECT_TRUE(rows[0][2].as<bool>());
  EXPECT_EQ(rows[0][3].as<std::string>(), "APPROVED");
  EXPECT_TRUE(rows[1][3].is_null());
}

// The adapter: Authorize for tokens "hold" blocks until Open(); every call is logged in order.
class HoldingGateway final : public gateway::v1::PaymentGateway::Service {
 public:
  struct Call {
    std::string rpc;
    std::string key;
    std::string authorization_reference;
  };

  grpc::Status Authorize(grpc::ServerContext*, const gateway::v1::AuthorizeRequest* request,
                         gateway::v1::PaymentResult* result) override {
    std::unique_lock lock(mutex_);
    calls_.push_back({"Authorize:start", request->meta().idempotency_key(), ""});
    changed_.notify_all();
    if (request->event().token() == "hold") {
      changed_.wait_for(lock, 20s, [&] { return open_; });
    }
    calls_.push_back({"Authorize:end", request->meta().idempotency_key(), ""});
    result->set_status(gateway::v1::PaymentResult::APPROVED);
    result->set_gateway_reference("auth-ref-" + request->meta().idempotency_key());
    return grpc::Status::OK;
  }
  grpc::Status Capture(grpc::ServerContext*, const gateway::v1::CaptureRequest* request,
                       gateway::v1::PaymentResult* result) override {
    std::lock_guard lock(mutex_);
    calls_.push_back(
        {"Capture", request->meta().idempotency_key(), request->authorization_reference()});
    result->set_status(gateway::v1::PaymentResult::APPROVED);
    result->set_gateway_reference("cap-ref");
    return grpc::Status::OK;
  }
  grpc::Status GetPaymentStatus(grpc::ServerContext*, const gateway::v1::GetPaymentStatusRequest*,
                                gateway::v1::GetPaymentStatusResponse* response) override {
    response->set_found(false);
    return grpc::Status::OK;
  }

  bool AwaitStarted(const std::string& key) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] {
      for (const auto& call : calls_) {
        if (call.rpc == "Authorize:start" && call.key == key) return true;
      }
      return false;
    });
  }
  void Open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  std::vector<Call> Calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  std::vector<Call> calls_;
};

// Serves `gateway` in process on a free loopback port (written to `port`); nullptr on failure.
std::unique_ptr<grpc::Server> ServeOnLoopback(grpc::Service& gateway, int& port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&gateway);
  return builder.BuildAndStart();
}

TEST(SubscriptionOrderWorker, CapturePostedBeforeItsAuthorisationFinishedRunsAfterIt) {
  HoldingGateway gateway;
  int port = 0;
  auto server = ServeOnLoopback(gateway, port);
  ASSERT_NE(server, nullptr);

  testing::TestDatabase database;
  auto connection = database.Connect();
  WorkerConfig config;
  config.database_url = database.url();
  config.adapter_address = "127.0.0.1:" + std::to_string(port);
  config.adapter_deadline = 15s;
  config.lease = 40s;
  config.poll_interval = 50ms;
  config.concurrency = 4;
  config.claim_batch = 4;
  config.adapter_max_in_flight = 4;
  config.worker_id = "order-worker";
  core::Registry registry;
  auto worker = std::make_unique<Worker>(config, registry);
  std::vector<std::jthread> threads;
  threads.emplace_back([&] { worker->RunClaimLoop(); });
  threads.emplace_back([&] { worker->RunRecorder(); });
  for (int i = 0; i < config.concurrency; ++i) threads.emplace_back([&] { worker->RunSlot(); });

  const auto auth =
      Insert(*connection, "key-auth", kAuthorisation, "sub-o", "2024-01-01T00:00:00Z", "hold");
  ASSERT_TRUE(gateway.AwaitStarted("key-auth"));
  // The authorisation is in flight. Post its capture, then an unrelated job: once the unrelated
  // one has succeeded, the worker has claimed after the capture was inserted, and passed it over.
  const auto capture =
      Insert(*connection, "key-capture", kCapture, "sub-o", "2024-01-02T00:00:00Z");
  const auto unrelated =
      Insert(*connection, "key-unrelated", kAuthorisation, "sub-u", "2024-01-03T00:00:00Z");
  auto state = [&](std::int64_t id) {
    pqxx::nontransaction tx(*connection);
    return tx.exec_params1("SELECT state FROM jobs WHERE id = $1", id)[0].as<std::string>();
  };
  ASSERT_TRUE(testing::Eventually([&] { return state(unrelated) == "succeeded"; }, 10s));
  EXPECT_EQ(state(capture), "queued");
  EXPECT_EQ(state(auth), "running");
  for (const auto& call : gateway.Calls()) EXPECT_NE(call.rpc, "Capture");

  gateway.Open();
  ASSERT_TRUE(testing::Eventually([&] { return state(capture) == "succeeded"; }, 10s));
  EXPECT_EQ(state(auth), "succeeded");

  // Order of the adapter's calls: the capture started after the authorisation answered, and it
  // carried the authorisation's reference.
  const auto calls = gateway.Calls();
  int auth_end = -1;
  int capture_at = -1;
  for (int i = 0; i < static_cast<int>(calls.size()); ++i) {
    if (calls[i].rpc == "Authorize:end" && calls[i].key == "key-auth") auth_end = i;
    if (calls[i].rpc == "Capture" && calls[i].key == "key-capture") {
      capture_at = i;
      EXPECT_EQ(calls[i].authorization_reference, "auth-ref-key-auth");
    }
  }
  ASSERT_GE(auth_end, 0);
  ASSERT_GE(capture_at, 0);
  EXPECT_LT(auth_end, capture_at);

  worker->Stop();
  threads.clear();
  server->Shutdown(std::chrono::system_clock::now() + 2s);
}

// A down adapter opens the breaker; the jobs it parks keep their attempts; after the adapter
// recovers a probe closes the breaker and every job succeeds on its first recorded attempt.
class FlippingGateway final : public gateway::v1::PaymentGateway::Service {
 public:
  grpc::Status Authorize(grpc::ServerContext*, const gateway::v1::AuthorizeRequest*,
                         gateway::v1::PaymentResult* result) override {
    calls_.fetch_add(1);
    if (down_.load()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
    result->set_status(gateway::v1::PaymentResult::APPROVED);
    result->set_gateway_reference("ref");
    return grpc::Status::OK;
  }
  std::atomic<bool> down_{true};
  std::atomic<int> calls_{0};
};

TEST(AdapterBreakerWorker, ParksJobsWithoutSpendingAttemptsThenResumes) {
  FlippingGateway gateway;
  int port = 0;
  auto server = ServeOnLoopback(gateway, port);
  ASSERT_NE(server, nullptr);

  testing::TestDatabase database;
  auto connection = database.Connect();
  WorkerConfig config;
  config.database_url = database.url();
  config.adapter_address = "127.0.0.1:" + std::to_string(port);
  config.adapter_deadline = 1s;
  config.lease = 10s;
  config.poll_interval = 50ms;
  config.concurrency = 2;
  config.claim_batch = 2;
  config.adapter_max_in_flight = 2;
  // Probes are real calls and spend attempts of the job they run; enough attempts that probes
  // while the adapter is down cannot exhaust a job.
  config.retry.max_attempts = 20;
  config.retry.base_delay = 10ms;
  config.retry.max_delay = 20ms;
  config.breaker.failure_threshold = 2;
  config.breaker.probe_interval = 300ms;
  config.worker_id = "breaker-worker";
  core::Registry registry;

  constexpr int kJobs = 12;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < kJobs; ++i) {
    ids.push_back(Insert(*connection, "key-b" + std::to_string(i), kAuthorisation,
                         "sub-b" + std::to_string(i), "2024-01-01T00:00:00Z"));
  }
  auto worker = std::make_unique<Worker>(config, registry);
  std::vector<std::jthread> threads;
  threads.emplace_back([&] { worker->RunClaimLoop(); });
  threads.emplace_back([&] { worker->RunRecorder(); });
  for (int i = 0; i < config.concurrency; ++i) threads.emplace_back([&] { worker->RunSlot(); });

  // The breaker opens after two failures.
  ASSERT_TRUE(testing::Eventually(
      [&] { return worker->Gate("default")->state() != CircuitBreaker::State::kClosed; }, 10s));
  // While down nothing may die: parked jobs spend no attempt,
  // and only the (few) calls actually made count. Let at least two probes fail.
  const int calls_when_open = gateway.calls_.load();
  ASSERT_TRUE(testing::Eventually([&] { return gateway.calls_.load() >= calls_when_open + 2; },
                                  10s));
  {
    pqxx::nontransaction tx(*connection);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM jobs WHERE state = 'dead'")[0].as<int>(), 0);
    // attempts on the job rows equal the attempt rows written: parking wrote none and spent none
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM jobs j WHERE attempts <> (SELECT count(*) FROM "
                       "job_attempts a WHERE a.job_id = j.id) AND state <> 'running'")[0]
                  .as<int>(),
              0);
  }
  gateway.down_ = false;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        pqxx::nontransaction tx(*connection);
        return tx.exec1("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0].as<int>() ==
               kJobs;
      },
      20s));
  EXPECT_EQ(worker->Gate("default")->state(), CircuitBreaker::State::kClosed);
  // Parked jobs were never called while the adapter was down.
  {
    pqxx::nontransaction tx(*connection);
    EXPECT_GT(tx.exec1("SELECT count(*) FROM jobs WHERE attempts = 1")[0].as<int>(), kJobs / 2);
  }
  const std::string metrics = registry.Render();
  EXPECT_NE(metrics.find("payorch_worker_parked_total{adapter=\"default\",reason=\"breaker_open\"}"),
            std::string::npos)
      << metrics;
  worker->Stop();
  threads.clear();
  server->Shutdown(std::chrono::system_clock::now() + 2s);
}

}  // namespace
}  // namespace payorch::worker
