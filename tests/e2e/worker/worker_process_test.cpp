// The real payorch-worker binary: --check-config, /metrics and /healthz, and SIGTERM (stop
// claiming, finish the calls in flight, release the rest, exit 0), against the real sandbox and
// a real PostgreSQL.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include <grpcpp/grpcpp.h>

#include "sandbox_control.grpc.pb.h"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::testing {
namespace {

using namespace std::chrono_literals;

std::string Event(const std::string& subscription_id, const std::string& token) {
  return R"({"broadcasterId": 123, "topic": "subscriptionReadyForPaymentAuthorisation", )"
         R"("data": {"subscriptionId": ")" +
         subscription_id +
         R"(", "offerId": "S1_US", "customerId": 77, "customerEmail": "c@example.com", )"
         R"("paymentDetailsId": 5, "dunningAttemptDate": "2019-11-04T19:55:41Z", )"
         R"("currency": "USD", "token": ")" +
         token + R"("}})";
}

void InsertJobs(pqxx::connection& connection, const std::string& prefix, int count,
                const std::string& token) {
  pqxx::work tx(connection);
  for (int i = 0; i < count; ++i) {
    const std::string key = prefix + std::to_string(i);
    tx.exec_params(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "raw_event) VALUES ($1, $2, 123, 'subscriptionReadyForPaymentAuthorisation', $3, $4)",
        "e2e|" + key, key, "sub-" + key, Event("sub-" + key, token));
  }
  tx.commit();
}

int Count(pqxx::connection& connection, const std::string& where) {
  pqxx::nontransaction tx(connection);
  return tx.exec1("SELECT count(*) FROM jobs WHERE " + where)[0].as<int>();
}

TEST(WorkerProcess, CheckConfigValidatesWithoutStarting) {
  // Nothing listens on port 1: --check-config must not try to connect.
  const auto ok = RunCommand("payorch-worker", {"--check-config", "--database-url",
                                                "postgresql://nobody@127.0.0.1:1/none"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  const auto env_ok = RunCommand("payorch-worker", {"--check-config"},
                                 {{"PAYORCH_DATABASE_URL", "postgresql://u:secret@127.0.0.1:1/x"},
                                  {"PAYORCH_WORKER_METRICS_LISTEN", "127.0.0.1:0"}});
  EXPECT_EQ(env_ok.exit_code, 0) << env_ok.output;
  EXPECT_EQ(env_ok.output.find("secret"), std::string::npos) << env_ok.output;
  const auto bad = RunCommand("payorch-worker", {"--check-config", "--database-url",
                                                 "postgresql://x@127.0.0.1:1/x",
                                                 "--metrics-listen", "nonsense"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--metrics-listen"), std::string::npos) << bad.output;
}

class WorkerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_port_ = FreeTcpPort();
    sandbox_ = std::make_unique<Process>(
        "payorch-sandbox-gateway", std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(sandbox_port_)});
    ASSERT_TRUE(WaitForTcpPort(sandbox_port_, 20s)) << sandbox_->Output();
  }
  void TearDown() override {
    if (sandbox_) sandbox_->Signal(SIGTERM);
    if (sandbox_) sandbox_->Wait(10s);
  }

  std::unique_ptr<Process> StartWorker(int metrics_port, const std::string& deadline_ms) {
    return std::make_unique<Process>(
        "payorch-worker",
        std::vector<std::string>{"--database-url", database_.url(), "--adapter-address",
         "127.0.0.1:" + std::to_string(sandbox_port_), "--adapter-deadline-ms", deadline_ms,
         "--lease-ms", "20000", "--poll-interval-ms", "100", "--concurrency", "4",
         "--claim-batch", "4", "--shutdown-timeout-ms", "8000", "--metrics-listen",
         "127.0.0.1:" + std::to_string(metrics_port), "--worker-id", "e2e-worker"});
  }

  TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_ = database_.Connect();
  int sandbox_port_ = 0;
  std::unique_ptr<Process> sandbox_;
};

TEST_F(WorkerProcessTest, ServesMetricsAndHealth) {
  InsertJobs(*connection_, "m", 5, "approve");
  const int metrics_port = FreeTcpPort();
  auto worker = StartWorker(metrics_port, "2000");
  ASSERT_TRUE(WaitForTcpPort(metrics_port, 20s)) << worker->Output();
  ASSERT_TRUE(Eventually([&] { return Count(*connection_, "state = 'succeeded'") == 5; }, 20s))
      << worker->Output();

  const auto health = HttpRequest(metrics_port, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  // Counters are bumped after the commit that the poll above saw: wait for them too.
  HttpResponse metrics;
  ASSERT_TRUE(Eventually(
      [&] {
        metrics = HttpRequest(metrics_port, "GET", "/metrics");
        return metrics.body.find(
                   "payorch_worker_jobs_finished_total{state=\"succeeded\",outcome=\"approved\"} 5") !=
               std::string::npos;
      },
      10s))
      << metrics.body;
  EXPECT_EQ(metrics.status, 200);
  for (const char* name :
       {"payorch_worker_attempt_duration_seconds_bucket", "payorch_worker_attempts_total",
        "payorch_worker_breaker_state", "payorch_worker_queue_lag_seconds",
        "payorch_worker_retries_total", "payorch_worker_rescues_total",
        "payorch_worker_in_doubt_resolutions_total"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name << "\n" << metrics.body;
  }
  EXPECT_EQ(HttpRequest(metrics_port, "GET", "/nope").status, 404);

  worker->Signal(SIGTERM);
  EXPECT_EQ(worker->Wait(15s), std::optional<int>(0)) << worker->Output();
}

TEST_F(WorkerProcessTest, SigtermFinishesCallsInFlightReleasesTheRestAndExitsZero) {
  // 4 slots, 12 jobs whose calls take 1.5 s (under the 5 s deadline): 4 are in flight when
  // SIGTERM arrives; they finish and are recorded, nothing else is started.
  InsertJobs(*connection_, "t", 12, "slow:1500");
  auto worker = StartWorker(FreeTcpPort(), "5000");
  // `slow:` applies the effect when the call arrives: 4 effects = 4 calls in flight.
  auto control = payorch::sandbox::v1::SandboxControl::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(sandbox_port_), grpc::InsecureChannelCredentials()));
  auto effects = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    payorch::sandbox::v1::ListEffectsRequest request;
    payorch::sandbox::v1::ListEffectsResponse response;
    return control->ListEffects(&context, request, &response).ok() ? response.total_effects() : -1;
  };
  ASSERT_TRUE(Eventually([&] { return effects() == 4; }, 20s)) << worker->Output();
  const auto signalled = std::chrono::steady_clock::now();
  worker->Signal(SIGTERM);
  // Bounded: the calls in flight end within their 1.5 s, far inside the shutdown timeout.
  EXPECT_EQ(worker->Wait(15s), std::optional<int>(0)) << worker->Output();
  const auto took = std::chrono::steady_clock::now() - signalled;
  std::cout << "[ worker  ] SIGTERM to exit: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";

  EXPECT_EQ(Count(*connection_, "state = 'running'"), 0) << worker->Output();
  EXPECT_EQ(Count(*connection_, "state = 'succeeded'"), 4) << worker->Output();
  // The rest are queued and unattempted: nothing spent, claimable by the next worker.
  EXPECT_EQ(Count(*connection_, "state = 'queued' AND attempts = 0"), 8) << worker->Output();
  {
    pqxx::nontransaction tx(*connection_);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM job_attempts")[0].as<int>(), 4);
  }

  // A new worker picks the rest up.
  auto next = StartWorker(FreeTcpPort(), "5000");
  ASSERT_TRUE(Eventually([&] { return Count(*connection_, "state = 'succeeded'") == 12; }, 30s))
      << next->Output();
  next->Signal(SIGTERM);
  EXPECT_EQ(next->Wait(15s), std::optional<int>(0)) << next->Output();
}

}  // namespace
}  // namespace payorch::testing
