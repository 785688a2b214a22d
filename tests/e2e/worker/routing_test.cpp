// Routing to several adapters from --adapters-config (issue 6): the real payorch-worker, two real
// sandbox adapters, real PostgreSQL. Jobs land at the adapter their payment gateway / method id
// routes to; an unrouted job is dead with the missing route named and is replayed once the file
// is fixed and reloaded (SIGHUP); an invalid file on SIGHUP keeps the running routes; a reload
// while slow calls are in flight loses none of them; mutual TLS to an adapter works with the
// right client certificate and is refused with a rogue one, without any effect.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "sandbox_control.grpc.pb.h"
#include "services/core/grpc_tls.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/tls_certificates.hpp"

namespace payorch::testing {
namespace {

using namespace std::chrono_literals;
namespace control = payorch::sandbox::v1;

// A sandbox adapter process; `tls_flags` are its --tls-* flags, `client_tls` how the test's
// own control client reaches it.
class Sandbox {
 public:
  explicit Sandbox(std::vector<std::string> tls_flags = {}, core::GrpcClientTls client_tls = {})
      : port_(FreeTcpPort()) {
    std::vector<std::string> args = {"--listen", address(), "--log-level", "warn"};
    args.insert(args.end(), tls_flags.begin(), tls_flags.end());
    process_ = std::make_unique<Process>("payorch-sandbox-gateway", args);
    auto channel = core::MakeChannel(address(), client_tls);
    if (channel.ok()) control_ = control::SandboxControl::NewStub(channel.value());
  }
  ~Sandbox() {
    process_->Signal(SIGTERM);
    process_->Wait(10s);
  }
  bool Ready() { return WaitForTcpPort(port_, 20s); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Output() const { return process_->Output(); }

  // Effects the sandbox applied for `key` (0 when it never saw the key; -1 when unreachable).
  std::int64_t Effects(const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    control::GetEffectsRequest request;
    request.set_idempotency_key(key);
    control::GetEffectsResponse response;
    if (!control_ || !control_->GetEffects(&context, request, &response).ok()) return -1;
    return response.found() ? response.effects() : 0;
  }
  std::int64_t TotalEffects() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    control::ListEffectsRequest request;
    control::ListEffectsResponse response;
    if (!control_ || !control_->ListEffects(&context, request, &response).ok()) return -1;
    return response.total_effects();
  }

 private:
  int port_;
  std::unique_ptr<Process> process_;
  std::unique_ptr<control::SandboxControl::Stub> control_;
};

std::string Event(const std::string& subscription_id, const std::string& token) {
  return R"({"broadcasterId": 9, "topic": "subscriptionReadyForPaymentAuthorisation", )"
         R"("data": {"subscriptionId": ")" +
         subscription_id +
         R"(", "offerId": "S1", "customerId": 1, "paymentDetailsId": 2, )"
         R"("dunningAttemptDate": "2024-01-01T00:00:00Z", "currency": "EUR", "token": ")" +
         token + R"("}})";
}

class RoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/payorch-routing-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    config_path_ = dir_ + "/adapters.yaml";
  }
  void TearDown() override {
    if (worker_) {
      worker_->Signal(SIGTERM);
      EXPECT_EQ(worker_->Wait(15s), std::optional<int>(0)) << worker_->Output();
    }
    std::filesystem::remove_all(dir_);
  }

  // Replaced in one rename, so a reload never reads half a file.
  void WriteConfig(const std::string& text) {
    const std::string temporary = config_path_ + ".new";
    std::ofstream(temporary) << text;
    std::filesystem::rename(temporary, config_path_);
  }

  void StartWorker() {
    metrics_port_ = FreeTcpPort();
    worker_ = std::make_unique<Process>(
        "payorch-worker",
        std::vector<std::string>{"--database-url", database_.url(), "--adapters-config",
                                 config_path_, "--lease-ms", "20000", "--poll-interval-ms", "100",
                                 "--concurrency", "8", "--claim-batch", "8",
                                 "--shutdown-timeout-ms", "8000", "--metrics-listen",
                                 "127.0.0.1:" + std::to_string(metrics_port_), "--worker-id",
                                 "routing-worker"});
    ASSERT_TRUE(WaitForTcpPort(metrics_port_, 20s)) << worker_->Output();
  }

  // Waits until the worker has counted `count` reloads with `result` (ok or error).
  bool ReloadCounted(const std::string& result, int count) {
    const std::string series = "payorch_worker_config_reloads_total{result=\"" + result + "\"}";
    return Eventually([&] { return Metric(series) == count; }, 10s);
  }
  std::string Metrics() { return HttpRequest(metrics_port_, "GET", "/metrics").body; }
  // The value of one series ("name{labels}" exactly as rendered); -1 when it is not there.
  double Metric(const std::string& series) {
    const std::string body = Metrics();
    const auto at = body.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(body.substr(at + series.size() + 2));
  }

  std::int64_t InsertJob(const std::string& key, const std::string& gateway,
                         const std::string& method,
                         const std::string& token = "approve") {
    pqxx::work tx(*connection_);
    const auto row = tx.exec_params1(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "payment_gateway, payment_method_id, raw_event) VALUES ($1, $2, 9, "
        "'subscriptionReadyForPaymentAuthorisation', $3, $4, $5, $6) RETURNING id",
        "routing|" + key, key, "sub-" + key, gateway, method, Event("sub-" + key, token));
    tx.commit();
    return row[0].as<std::int64_t>();
  }
  std::string Field(std::int64_t id, const std::string& column) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec_params1("SELECT coalesce(" + column + "::text, '') FROM jobs WHERE id = $1",
                           id)[0]
        .as<std::string>();
  }
  bool BecomesState(std::int64_t id, const std::string& state,
                    std::chrono::milliseconds timeout = 20s) {
    return Eventually([&] { return Field(id, "state") == state; }, timeout);
  }
  // "adapter rpc grpc_status decision" of each attempt, in order.
  std::vector<std::string> Attempts(std::int64_t id) {
    pqxx::nontransaction tx(*connection_);
    std::vector<std::string> out;
    for (const auto& row : tx.exec_params(
             "SELECT adapter || ' ' || rpc || ' ' || grpc_status || ' ' || decision FROM "
             "job_attempts WHERE job_id = $1 ORDER BY attempt",
             id)) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  }
  int Count(const std::string& sql) {
    pqxx::nontransaction tx(*connection_);
    return tx.exec1(sql)[0].as<int>();
  }

  TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_ = database_.Connect();
  std::string dir_;
  std::string config_path_;
  int metrics_port_ = 0;
  std::unique_ptr<Process> worker_;
};

constexpr const char* kRetry = "retry: {max_attempts: 2, backoff_base_ms: 50, backoff_max_ms: 100}";

std::string TwoAdapters(const std::string& alpha, const std::string& beta,
                        const std::string& rest) {
  return std::string("adapters:\n") + "  alpha: {address: " + alpha + ", deadline_ms: 3000, " +
         kRetry + "}\n" + "  beta: {address: " + beta + ", deadline_ms: 3000, " + kRetry + "}\n" +
         rest;
}

TEST_F(RoutingTest, RoutesByGatewayAndMethodUnroutedIsDeadThenReplayedAfterReload) {
  Sandbox alpha, beta;
  ASSERT_TRUE(alpha.Ready()) << alpha.Output();
  ASSERT_TRUE(beta.Ready()) << beta.Output();
  const std::string routes =
      "routes:\n"
      "  - {payment_gateway: adyen, adapter: alpha}\n"
      "  - {payment_gateway: adyen, payment_method_id: '77', adapter: beta}\n"
      "  - {payment_method_id: '88', adapter: beta}\n";
  WriteConfig(TwoAdapters(alpha.address(), beta.address(), routes));
  StartWorker();

  const auto by_gateway = InsertJob("k-gateway", "adyen", "1");
  const auto by_both = InsertJob("k-both", "adyen", "77");
  const auto by_method = InsertJob("k-method", "stripe", "88");
  const auto unrouted = InsertJob("k-unrouted", "stripe", "5");
  for (const auto id : {by_gateway, by_both, by_method}) {
    ASSERT_TRUE(BecomesState(id, "succeeded")) << id << "\n" << worker_->Output();
  }
  ASSERT_TRUE(BecomesState(unrouted, "dead")) << worker_->Output();

  // Each effect at the adapter its route names, none at the other.
  EXPECT_EQ(alpha.Effects("k-gateway"), 1);
  EXPECT_EQ(beta.Effects("k-gateway"), 0);
  EXPECT_EQ(beta.Effects("k-both"), 1);
  EXPECT_EQ(alpha.Effects("k-both"), 0);
  EXPECT_EQ(beta.Effects("k-method"), 1);
  EXPECT_EQ(alpha.Effects("k-method"), 0);
  EXPECT_EQ(Attempts(by_gateway), std::vector<std::string>{"alpha Authorize OK succeeded"});
  EXPECT_EQ(Attempts(by_both), std::vector<std::string>{"beta Authorize OK succeeded"});
  EXPECT_EQ(Attempts(by_method), std::vector<std::string>{"beta Authorize OK succeeded"});

  // The unrouted job: no call anywhere, one attempt recorded, the missing route named.
  const std::string reason =
      "no route: payment_gateway=stripe payment_method_id=5 and no default_adapter";
  EXPECT_EQ(Field(unrouted, "last_error"), reason);
  EXPECT_EQ(Attempts(unrouted), std::vector<std::string>{"none none NONE dead"});
  EXPECT_EQ(alpha.Effects("k-unrouted"), 0);
  EXPECT_EQ(beta.Effects("k-unrouted"), 0);
  EXPECT_EQ(Metric("payorch_worker_unrouted_total"), 1) << Metrics();

  // An invalid file on SIGHUP: rejected, counted, logged with the key; the old routes stay.
  WriteConfig(TwoAdapters(alpha.address(), beta.address(),
                          routes + "  - {payment_gateway: stripe, adapter: alpha, weight: 2}\n"));
  worker_->Signal(SIGHUP);
  ASSERT_TRUE(ReloadCounted("error", 1)) << worker_->Output();
  EXPECT_NE(worker_->Output().find("routes[3].weight"), std::string::npos) << worker_->Output();
  const auto still_unrouted = InsertJob("k-still", "stripe", "6");
  ASSERT_TRUE(BecomesState(still_unrouted, "dead")) << worker_->Output();
  EXPECT_NE(Field(still_unrouted, "last_error").find("no route: payment_gateway=stripe"),
            std::string::npos);
  const auto kept = InsertJob("k-kept", "adyen", "2");
  ASSERT_TRUE(BecomesState(kept, "succeeded")) << worker_->Output();
  EXPECT_EQ(alpha.Effects("k-kept"), 1);

  // Fixed (a default adapter), reloaded, replayed: the dead job succeeds at the default.
  WriteConfig(TwoAdapters(alpha.address(), beta.address(), routes + "default_adapter: beta\n"));
  worker_->Signal(SIGHUP);
  ASSERT_TRUE(ReloadCounted("ok", 1)) << worker_->Output();
  const auto replay = RunCommand("payorch-admin",
                                 {"jobs", "replay", std::to_string(unrouted), "--reason",
                                  "route added", "--database-url", database_.url()});
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  ASSERT_TRUE(BecomesState(unrouted, "succeeded")) << worker_->Output();
  EXPECT_EQ(beta.Effects("k-unrouted"), 1);
  EXPECT_EQ(alpha.Effects("k-unrouted"), 0);
  EXPECT_EQ(Attempts(unrouted),
            (std::vector<std::string>{"none none NONE dead", "beta Authorize OK succeeded"}));
}

TEST_F(RoutingTest, ReloadWhileSlowCallsAreInFlightLosesNone) {
  Sandbox alpha, beta;
  ASSERT_TRUE(alpha.Ready()) << alpha.Output();
  ASSERT_TRUE(beta.Ready()) << beta.Output();
  WriteConfig(TwoAdapters(alpha.address(), beta.address(),
                          "routes:\n  - {payment_gateway: adyen, adapter: alpha}\n"));
  StartWorker();

  // Six calls of 1.5 s each, all in flight at once (8 slots); `slow:` applies the effect when
  // the call arrives, so six effects mean six calls in flight.
  constexpr int kSlow = 6;
  std::vector<std::int64_t> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(InsertJob("k-slow" + std::to_string(i), "adyen", "1", "slow:1500"));
  }
  ASSERT_TRUE(Eventually([&] { return alpha.TotalEffects() == kSlow; }, 20s)) << worker_->Output();

  // The reload removes alpha altogether and sends adyen to beta.
  WriteConfig("adapters:\n  beta: {address: " + beta.address() + ", deadline_ms: 3000}\n" +
              "routes:\n  - {payment_gateway: adyen, adapter: beta}\n");
  worker_->Signal(SIGHUP);
  ASSERT_TRUE(ReloadCounted("ok", 1)) << worker_->Output();
  std::vector<std::int64_t> after;
  for (int i = 0; i < 3; ++i) after.push_back(InsertJob("k-after" + std::to_string(i), "adyen", "1"));

  for (const auto id : slow) ASSERT_TRUE(BecomesState(id, "succeeded")) << worker_->Output();
  for (const auto id : after) ASSERT_TRUE(BecomesState(id, "succeeded")) << worker_->Output();
  // Every call in flight at the reload was recorded on the adapter it started on, once.
  for (const auto id : slow) {
    EXPECT_EQ(Attempts(id), std::vector<std::string>{"alpha Authorize OK succeeded"});
  }
  for (const auto id : after) {
    EXPECT_EQ(Attempts(id), std::vector<std::string>{"beta Authorize OK succeeded"});
  }
  EXPECT_EQ(alpha.TotalEffects(), kSlow);
  EXPECT_EQ(beta.TotalEffects(), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM job_attempts"), kSlow + 3);
}

TEST_F(RoutingTest, MutualTlsRightCertificateSucceedsRogueIsRefusedWithoutEffect) {
  const auto certs = MakeTlsCertificates();
  core::GrpcClientTls control_tls;
  control_tls.enabled = true;
  control_tls.ca_file = certs.ca_cert;
  control_tls.cert_file = certs.client_cert;
  control_tls.key_file = certs.client_key;
  Sandbox secure({"--tls-cert-file", certs.server_cert, "--tls-key-file", certs.server_key,
                  "--tls-client-ca-file", certs.ca_cert},
                 control_tls);
  ASSERT_TRUE(secure.Ready()) << secure.Output();
  // Two adapters, one server: "trusted" presents the client certificate the server's CA signed,
  // "rogue" one from another CA. Rogue's breaker opens at its second failure and stays open for
  // a minute, far longer than this test.
  const std::string tls = "ca_file: " + certs.ca_cert;
  WriteConfig("adapters:\n"
              "  trusted:\n    address: " + secure.address() + "\n    deadline_ms: 3000\n    " +
              kRetry + "\n    tls: {" + tls + ", cert_file: " + certs.client_cert +
              ", key_file: " + certs.client_key + "}\n" +
              "  rogue:\n    address: " + secure.address() + "\n    deadline_ms: 3000\n    " +
              kRetry + "\n    breaker: {failures: 2, probe_ms: 60000}\n    tls: {" + tls +
              ", cert_file: " + certs.rogue_client_cert + ", key_file: " +
              certs.rogue_client_key + "}\n" +
              "routes:\n  - {payment_gateway: good, adapter: trusted}\n"
              "  - {payment_gateway: bad, adapter: rogue}\n");
  const auto check = RunCommand("payorch-worker", {"--check-config", "--database-url",
                                                   database_.url(), "--adapters-config",
                                                   config_path_});
  ASSERT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("tls=mutual"), std::string::npos) << check.output;
  StartWorker();

  const auto refused = InsertJob("k-rogue", "bad", "1");
  ASSERT_TRUE(BecomesState(refused, "dead")) << worker_->Output();
  // Both attempts failed in the handshake: UNAVAILABLE, nothing reached the adapter.
  EXPECT_EQ(Attempts(refused), (std::vector<std::string>{"rogue Authorize UNAVAILABLE retry",
                                                         "rogue Authorize UNAVAILABLE dead"}));
  EXPECT_EQ(secure.Effects("k-rogue"), 0);
  // Rogue's breaker is now open. Its next job is parked without an attempt, while the trusted
  // adapter's job runs: the worker does not stop claiming for one adapter's breaker.
  ASSERT_TRUE(Eventually(
      [&] { return Metric("payorch_worker_breaker_open{adapter=\"rogue\"}") == 1; }, 10s))
      << Metrics();
  const auto parked = InsertJob("k-rogue-2", "bad", "2");
  const auto trusted = InsertJob("k-trusted", "good", "1");
  ASSERT_TRUE(BecomesState(trusted, "succeeded")) << worker_->Output();
  EXPECT_EQ(secure.Effects("k-trusted"), 1);
  EXPECT_EQ(Attempts(trusted), std::vector<std::string>{"trusted Authorize OK succeeded"});
  ASSERT_TRUE(Eventually(
      [&] {
        return Metric("payorch_worker_parked_total{adapter=\"rogue\",reason=\"breaker_open\"}") >=
               1;
      },
      10s))
      << Metrics();
  EXPECT_TRUE(Attempts(parked).empty());
  EXPECT_EQ(Field(parked, "attempts"), "0");
  EXPECT_EQ(secure.Effects("k-rogue-2"), 0);
}

TEST(WorkerRoutingConfig, CheckConfigRejectsBadFilesAndFlagMixes) {
  char pattern[] = "/tmp/payorch-routing-check-XXXXXX";
  const std::string dir = ::mkdtemp(pattern);
  const std::string path = dir + "/adapters.yaml";
  const std::string db = "postgresql://nobody@127.0.0.1:1/none";
  std::ofstream(path) << "adapters:\n  a: {address: 127.0.0.1:1, max_in_flight: many}\n";
  const auto bad = RunCommand("payorch-worker", {"--check-config", "--database-url", db,
                                                 "--adapters-config", path});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("adapters.a.max_in_flight (line 2): must be an integer"),
            std::string::npos)
      << bad.output;

  std::ofstream(path) << "adapters:\n  a: {address: 127.0.0.1:1}\ndefault_adapter: a\n";
  const auto ok = RunCommand("payorch-worker", {"--check-config"},
                             {{"PAYORCH_DATABASE_URL", db}, {"PAYORCH_ADAPTERS_CONFIG", path}});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("adapter a address=127.0.0.1:1 tls=off"), std::string::npos)
      << ok.output;
  const auto both = RunCommand("payorch-worker", {"--check-config", "--database-url", db,
                                                  "--adapters-config", path,
                                                  "--adapter-address", "127.0.0.1:2"});
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_NE(both.output.find("--adapters-config and --adapter-address"), std::string::npos)
      << both.output;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace payorch::testing
