// The worker end to end inside one process: real PostgreSQL, a real gRPC server on 127.0.0.1:0
// implementing the adapter contract with scripted behaviour, the real claim loop and slots.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "db/database.hpp"
#include "db/migrator.hpp"
#include "services/worker/worker.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::worker {
namespace {

using std::chrono::milliseconds;

// A tiny adapter: the event's token picks the behaviour.
//   approve            APPROVED, reference "ref-<key>"
//   decline            DECLINED with code "insufficient_funds"
//   flaky              UNAVAILABLE on the first two calls of a key, then approves
//   down               always UNAVAILABLE
//   invalid            INVALID_ARGUMENT
//   slow               records the effect (approved), then answers after 600 ms (past the deadline)
// Like a real adapter it keeps THE IDEMPOTENCY RULE: a key's first effect is remembered, later
// calls with the key answer it without a second effect.
class ScriptedGateway final : public gateway::v1::PaymentGateway::Service {
 public:
  struct Call {
    std::string rpc;
    std::string idempotency_key;
    int attempt = 0;
    std::string authorization_reference;
    std::string token;
  };

  grpc::Status Authorize(grpc::ServerContext*, const gateway::v1::AuthorizeRequest* request,
                         gateway::v1::PaymentResult* result) override {
    return Handle("Authorize", request->meta(), request->event(), "", result);
  }
  grpc::Status Capture(grpc::ServerContext*, const gateway::v1::CaptureRequest* request,
                       gateway::v1::PaymentResult* result) override {
    return Handle("Capture", request->meta(), request->event(), request->authorization_reference(),
                  result);
  }
  grpc::Status Terminate(grpc::ServerContext*, const gateway::v1::TerminateRequest* request,
                         gateway::v1::PaymentResult* result) override {
    return Handle("Terminate", request->meta(), request->event(),
                  request->authorization_reference(), result);
  }
  grpc::Status GetPaymentStatus(grpc::ServerContext*,
                                const gateway::v1::GetPaymentStatusRequest* request,
                                gateway::v1::GetPaymentStatusResponse* response) override {
    std::lock_guard lock(mutex_);
    calls_.push_back(Call{"GetPaymentStatus", request->idempotency_key(), 0, "", ""});
    const auto it = results_.find(request->idempotency_key());
    response->set_found(it != results_.end());
    if (it != results_.end()) *response->mutable_result() = it->second;
    return grpc::Status::OK;
  }

  void Remember(const std::string& key, gateway::v1::PaymentResult result) {
    std::lock_guard lock(mutex_);
    results_[key] = std::move(result);
    ++effects_[key];
  }
  int Effects(const std::string& key) {
    std::lock_guard lock(mutex_);
    return effects_[key];
  }
  std::vector<Call> Calls(const std::string& key) {
    std::lock_guard lock(mutex_);
    std::vector<Call> out;
    for (const auto& call : calls_) {
      if (call.idempotency_key == key) out.push_back(call);
    }
    return out;
  }

 private:
  grpc::Status Handle(const std::string& rpc, const gateway::v1::RequestMeta& meta,
                      const gateway::v1::SubscriptionEvent& event,
                      const std::string& authorization_reference,
                      gateway::v1::PaymentResult* result) {
    const std::string& key = meta.idempotency_key();
    bool slow = false;
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(Call{rpc, key, meta.attempt(), authorization_reference, event.token()});
      const auto known = results_.find(key);
      if (known != results_.end()) {
        *result = known->second;
        return grpc::Status::OK;
      }
      const std::string& token = event.token();
      if (token == "down") return grpc::Status(grpc::StatusCode::UNAVAILABLE, "gateway down");
      if (token == "invalid") {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unsupported currency");
      }
      if (token == "flaky" && ++failures_[key] <= 2) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
      }
      gateway::v1::PaymentResult first;
      if (token == "decline") {
        first.set_status(gateway::v1::PaymentResult::DECLINED);
        first.set_decline_code("insufficient_funds");
        first.set_message("not enough money");
      } else {
        first.set_status(gateway::v1::PaymentResult::APPROVED);
        first.set_gateway_reference(rpc + "-ref-" + key);
      }
      results_[key] = first;
      ++effects_[key];
      *result = first;
      slow = token == "slow";
    }
    // The effect happened; the answer arrives after the worker's deadline.
    if (slow) std::this_thread::sleep_for(milliseconds(600));
    return grpc::Status::OK;
  }

  std::mutex mutex_;
  std::vector<Call> calls_;
  std::map<std::string, gateway::v1::PaymentResult> results_;
  std::map<std::string, int> effects_;
  std::map<std::string, int> failures_;
};

std::string Event(const std::string& topic, const std::string& subscription_id,
                  const std::string& token) {
  return R"({"broadcasterId": 123, "topic": ")" + topic + R"(", "data": {"subscriptionId": ")" +
         subscription_id +
         R"(", "offerId": "S1_US", "customerId": 77, "customerEmail": "c@example.com", )"
         R"("paymentDetailsId": 5, "dunningAttemptDate": "2019-11-04T19:55:41Z", )"
         R"("currency": "USD", "token": ")" +
         token + R"("}})";
}

constexpr const char* kAuthorisation = "subscriptionReadyForPaymentAuthorisation";
constexpr const char* kCapture = "subscriptionReadyForPaymentCapture";
constexpr const char* kTermination = "subscriptionReadyForTermination";

class WorkerLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&gateway_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);

    config_.database_url = database_.url();
    config_.adapter_address = "127.0.0.1:" + std::to_string(port_);
    config_.adapter_deadline = milliseconds(300);
    config_.lease = milliseconds(5000);
    config_.poll_interval = milliseconds(50);
    config_.concurrency = 4;
    config_.claim_batch = 4;
    config_.retry.max_attempts = 3;
    config_.retry.base_delay = milliseconds(10);
    config_.retry.max_delay = milliseconds(40);
    config_.worker_id = "test-worker";
  }

  void TearDown() override {
    StopWorker();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + milliseconds(2000));
  }

  void StartWorker() {
    worker_ = std::make_unique<Worker>(config_, registry_);
    threads_.emplace_back([this] { worker_->RunClaimLoop(); });
    threads_.emplace_back([this] { worker_->RunRecorder(); });
    for (int i = 0; i < config_.concurrency; ++i) {
      threads_.emplace_back([this] { worker_->RunSlot(); });
    }
  }

  void StopWorker() {
    if (!worker_) return;
    worker_->Stop();
    threads_.clear();  // joins; bounded by the adapter deadline of in-flight calls
    worker_.reset();
  }

  std::int64_t InsertJob(const std::string& key, const std::string& topic,
                         const std::string& subscription_id, const std::string& token,
                         const std::string& state = "queued") {
    pqxx::work tx(*connection_);
    const auto row = tx.exec_params1(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "raw_event, state) VALUES ($1, $2, 123, $3, $4, $5, $6) RETURNING id",
        "test|" + key, key, topic, subscription_id, Event(topic, subscription_id, token), state);
    tx.commit();
    return row[0].as<std::int64_t>();
  }

  std::string State(std::int64_t id) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec_params1("SELECT state FROM jobs WHERE id = $1", id)[0].as<std::string>();
  }

  bool BecomesFinal(std::int64_t id) {
    return testing::Eventually(
        [&] {
          const auto state = State(id);
          return state == "succeeded" || state == "dead";
        },
        milliseconds(15000));
  }

  pqxx::row Job(std::int64_t id) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec_params1(
        "SELECT state, outcome, gateway_reference, decline_code, last_error, attempts, "
        "locked_by IS NULL FROM jobs WHERE id = $1",
        id);
  }

  std::vector<std::string> Decisions(std::int64_t id) {
    pqxx::nontransaction tx(*connection_);
    std::vector<std::string> out;
    for (const auto& row :
         tx.exec_params("SELECT rpc || ':' || grpc_status || ':' || decision FROM job_attempts "
                        "WHERE job_id = $1 ORDER BY attempt",
                        id)) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  }

  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_ = database_.Connect();
  ScriptedGateway gateway_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  WorkerConfig config_;
  core::Registry registry_;
  std::unique_ptr<Worker> worker_;
  std::vector<std::jthread> threads_;
};

TEST_F(WorkerLoopTest, RunsEachTopicWithTheJobsKeyAndTheAuthorizationReference) {
  StartWorker();
  const auto auth = InsertJob("key-auth", kAuthorisation, "sub-1", "approve");
  ASSERT_TRUE(BecomesFinal(auth));
  auto row = Job(auth);
  EXPECT_EQ(row[0].as<std::string>(), "succeeded");
  EXPECT_EQ(row[1].as<std::string>(), "approved");
  EXPECT_EQ(row[2].as<std::string>(), "Authorize-ref-key-auth");
  EXPECT_TRUE(row[6].as<bool>());
  EXPECT_EQ(Decisions(auth), std::vector<std::string>{"Authorize:OK:succeeded"});

  const auto capture = InsertJob("key-capture", kCapture, "sub-1", "approve");
  const auto terminate = InsertJob("key-terminate", kTermination, "sub-1", "approve");
  const auto direct = InsertJob("key-direct", kCapture, "sub-2", "approve");
  ASSERT_TRUE(BecomesFinal(capture));
  ASSERT_TRUE(BecomesFinal(terminate));
  ASSERT_TRUE(BecomesFinal(direct));
  EXPECT_EQ(Decisions(capture), std::vector<std::string>{"Capture:OK:succeeded"});
  EXPECT_EQ(Decisions(terminate), std::vector<std::string>{"Terminate:OK:succeeded"});

  const auto auth_calls = gateway_.Calls("key-auth");
  ASSERT_EQ(auth_calls.size(), 1u);
  EXPECT_EQ(auth_calls[0].attempt, 1);
  EXPECT_EQ(auth_calls[0].token, "approve");
  const auto capture_calls = gateway_.Calls("key-capture");
  ASSERT_EQ(capture_calls.size(), 1u);
  EXPECT_EQ(capture_calls[0].authorization_reference, "Authorize-ref-key-auth");
  const auto terminate_calls = gateway_.Calls("key-terminate");
  ASSERT_EQ(terminate_calls.size(), 1u);
  EXPECT_EQ(terminate_calls[0].authorization_reference, "Authorize-ref-key-auth");
  // Another subscription has no authorisation: a direct charge.
  const auto direct_calls = gateway_.Calls("key-direct");
  ASSERT_EQ(direct_calls.size(), 1u);
  EXPECT_EQ(direct_calls[0].authorization_reference, "");
}

TEST_F(WorkerLoopTest, ADeclineIsASucceededJobWithOutcomeDeclined) {
  StartWorker();
  const auto id = InsertJob("key-decline", kAuthorisation, "sub-1", "decline");
  ASSERT_TRUE(BecomesFinal(id));
  const auto row = Job(id);
  EXPECT_EQ(row[0].as<std::string>(), "succeeded");
  EXPECT_EQ(row[1].as<std::string>(), "declined");
  EXPECT_EQ(row[3].as<std::string>(), "insufficient_funds");
  EXPECT_EQ(Decisions(id), std::vector<std::string>{"Authorize:OK:succeeded"});
}

TEST_F(WorkerLoopTest, TransientFailuresAreRetriedWithTheSameKeyUntilTheySucceed) {
  StartWorker();
  const auto id = InsertJob("key-flaky", kAuthorisation, "sub-1", "flaky");
  ASSERT_TRUE(BecomesFinal(id));
  const auto row = Job(id);
  EXPECT_EQ(row[0].as<std::string>(), "succeeded");
  EXPECT_EQ(row[1].as<std::string>(), "approved");
  EXPECT_EQ(row[5].as<int>(), 3);
  EXPECT_EQ(Decisions(id),
            (std::vector<std::string>{"Authorize:UNAVAILABLE:retry", "Authorize:UNAVAILABLE:retry",
                                      "Authorize:OK:succeeded"}));
  const auto calls = gateway_.Calls("key-flaky");
  ASSERT_EQ(calls.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(calls[i].attempt, i + 1);
  EXPECT_EQ(gateway_.Effects("key-flaky"), 1);
}

TEST_F(WorkerLoopTest, AJobThatExhaustsItsAttemptsIsDeadWithTheReason) {
  StartWorker();
  const auto down = InsertJob("key-down", kAuthorisation, "sub-1", "down");
  const auto invalid = InsertJob("key-invalid", kAuthorisation, "sub-2", "invalid");
  ASSERT_TRUE(BecomesFinal(down));
  ASSERT_TRUE(BecomesFinal(invalid));

  auto row = Job(down);
  EXPECT_EQ(row[0].as<std::string>(), "dead");
  EXPECT_EQ(row[4].as<std::string>(),
            "gave up after 3 attempts; last status UNAVAILABLE: gateway down");
  EXPECT_EQ(Decisions(down),
            (std::vector<std::string>{"Authorize:UNAVAILABLE:retry", "Authorize:UNAVAILABLE:retry",
                                      "Authorize:UNAVAILABLE:dead"}));
  row = Job(invalid);
  EXPECT_EQ(row[0].as<std::string>(), "dead");
  EXPECT_EQ(row[4].as<std::string>(), "permanent status INVALID_ARGUMENT: unsupported currency");
  EXPECT_EQ(Decisions(invalid), std::vector<std::string>{"Authorize:INVALID_ARGUMENT:dead"});
}

TEST_F(WorkerLoopTest, InDoubtJobsAreResolvedByStatusBeforeAnyNewCall) {
  // One key the adapter already acted on (the earlier call's answer was lost), one it never saw.
  gateway::v1::PaymentResult earlier;
  earlier.set_status(gateway::v1::PaymentResult::APPROVED);
  earlier.set_gateway_reference("earlier-ref");
  gateway_.Remember("key-known", earlier);
  const auto known = InsertJob("key-known", kAuthorisation, "sub-1", "approve", "in_doubt");
  const auto unknown = InsertJob("key-unknown", kAuthorisation, "sub-2", "approve", "in_doubt");
  StartWorker();
  ASSERT_TRUE(BecomesFinal(known));
  ASSERT_TRUE(BecomesFinal(unknown));

  EXPECT_EQ(Job(known)[2].as<std::string>(), "earlier-ref");
  EXPECT_EQ(Decisions(known), std::vector<std::string>{"GetPaymentStatus:OK:succeeded"});
  const auto known_calls = gateway_.Calls("key-known");
  ASSERT_EQ(known_calls.size(), 1u);
  EXPECT_EQ(known_calls[0].rpc, "GetPaymentStatus");
  EXPECT_EQ(gateway_.Effects("key-known"), 1);

  EXPECT_EQ(Decisions(unknown), std::vector<std::string>{"Authorize:OK:succeeded"});
  const auto unknown_calls = gateway_.Calls("key-unknown");
  ASSERT_EQ(unknown_calls.size(), 2u);
  EXPECT_EQ(unknown_calls[0].rpc, "GetPaymentStatus");
  EXPECT_EQ(unknown_calls[1].rpc, "Authorize");
  EXPECT_EQ(gateway_.Effects("key-unknown"), 1);
}

TEST_F(WorkerLoopTest, ACallPastTheDeadlineIsInDoubtThenResolvedWithoutASecondEffect) {
  StartWorker();
  const auto id = InsertJob("key-slow", kAuthorisation, "sub-1", "slow");
  ASSERT_TRUE(BecomesFinal(id));
  EXPECT_EQ(Job(id)[0].as<std::string>(), "succeeded");
  EXPECT_EQ(Decisions(id), (std::vector<std::string>{"Authorize:DEADLINE_EXCEEDED:in_doubt",
                                                     "GetPaymentStatus:OK:succeeded"}));
  EXPECT_EQ(gateway_.Effects("key-slow"), 1);
}

TEST_F(WorkerLoopTest, StopFinishesAndRecordsTheCallInFlight) {
  StartWorker();
  const auto id = InsertJob("key-inflight", kAuthorisation, "sub-1", "slow");
  ASSERT_TRUE(testing::Eventually([&] { return !gateway_.Calls("key-inflight").empty(); },
                                  milliseconds(10000)));
  StopWorker();  // returns once the in-flight call ended (deadline) and was recorded
  EXPECT_EQ(State(id), "in_doubt");
  EXPECT_EQ(Decisions(id), std::vector<std::string>{"Authorize:DEADLINE_EXCEEDED:in_doubt"});
}

TEST_F(WorkerLoopTest, KeepsRetryingUntilTheDatabaseAppearsThenWorks) {
  // The worker starts against a database that does not exist yet: it must neither crash nor
  // give up, and must work once the database is there.
  const std::string name = "payorch_worker_late_" + std::to_string(::getpid());
  const std::string server_url = testing::TestServerUrlFor("postgres");
  auto admin = db::Connect(server_url);
  auto drop = [&] {
    pqxx::nontransaction tx(*admin);
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
  };
  drop();
  config_.database_url = testing::TestServerUrlFor(name);
  StartWorker();
  {
    pqxx::nontransaction tx(*admin);
    tx.exec0("CREATE DATABASE " + tx.quote_name(name));
  }
  {
    auto late = db::Connect(config_.database_url);
    // The worker is already querying each table as soon as it exists, so a migration's DDL can
    // lose a deadlock against it; migrations are idempotent, and running them again is the
    // operator's remedy too.
    bool migrated = false;
    for (int tries = 0; tries < 5 && !migrated; ++tries) {
      try {
        db::Migrator(*late).Migrate();
        migrated = true;
      } catch (const std::exception& e) {
        if (std::string(e.what()).find("deadlock") == std::string::npos) throw;
        late = db::Connect(config_.database_url);
      }
    }
    ASSERT_TRUE(migrated);
    pqxx::work tx(*late);
    tx.exec_params0(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "raw_event) VALUES ('late', 'key-late', 123, $1, 'sub-1', $2)",
        kAuthorisation, Event(kAuthorisation, "sub-1", "approve"));
    tx.commit();
  }
  EXPECT_TRUE(
      testing::Eventually([&] { return gateway_.Effects("key-late") == 1; }, milliseconds(20000)));
  auto late = db::Connect(config_.database_url);
  EXPECT_TRUE(testing::Eventually(
      [&] {
        pqxx::nontransaction tx(*late);
        return tx.exec1("SELECT state FROM jobs WHERE idempotency_key = 'key-late'")[0]
                   .as<std::string>() == "succeeded";
      },
      milliseconds(10000)));
  late.reset();
  StopWorker();
  drop();
}

}  // namespace
}  // namespace payorch::worker
