// payorch-ingress as a real process under faults: kill -9 and SIGTERM under load, PostgreSQL
// stopped and restarted under load, and --check-config. The promise checked each time: every
// event answered 200 is in the database.
#include <signal.h>

#include <chrono>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "db/database.hpp"
#include "db/migrator.hpp"
#include "tests/e2e/ingress/ingress_e2e_support.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::ingress {
namespace {

using payorch::testing::Eventually;
using payorch::testing::FreeTcpPort;
using payorch::testing::Process;
using payorch::testing::RunCommand;
using payorch::testing::WaitForTcpPort;
using testing::LoadClient;
using testing::RawClient;
using testing::RawPost;
using testing::StoredSubscriptions;

constexpr auto kStartTimeout = std::chrono::seconds(15);
constexpr auto kLoadTimeout = std::chrono::seconds(30);
constexpr int kConnections = 8;

std::vector<std::string> IngressArgs(const std::string& url, int port) {
  return {"--database-url", url, "--listen", "127.0.0.1:" + std::to_string(port),
          "--db-timeout-ms", "1000", "--log-level", "warn"};
}

// Every acknowledged key must be stored; the report names a few that are not.
void ExpectAllStored(const std::set<std::string>& acknowledged, const std::string& url) {
  const std::set<std::string> stored = StoredSubscriptions(url);
  std::size_t missing = 0;
  std::string examples;
  for (const auto& key : acknowledged) {
    if (stored.count(key) == 0) {
      if (++missing <= 5) examples += key + " ";
    }
  }
  EXPECT_EQ(missing, 0u) << "acknowledged but not stored: " << examples;
}

TEST(IngressFaultsTest, KillNineUnderLoadLosesNoAcknowledgedEvent) {
  payorch::testing::TestDatabase database;
  const int port = FreeTcpPort();
  Process ingress("payorch-ingress", IngressArgs(database.url(), port));
  ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << ingress.Output();

  LoadClient load(port, kConnections);
  ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 500; }, kLoadTimeout))
      << "acknowledged " << load.acknowledged() << "\n" << ingress.Output();
  ingress.Signal(SIGKILL);
  ASSERT_TRUE(ingress.Wait(std::chrono::seconds(10)));
  load.Stop();

  EXPECT_EQ(load.other_statuses(), 0u);
  ExpectAllStored(load.AcknowledgedKeys(), database.url());
}

TEST(IngressFaultsTest, SigtermFinishesInFlightRequestsStopsAcceptingAndExitsZero) {
  payorch::testing::TestDatabase database;
  const int port = FreeTcpPort();
  Process ingress("payorch-ingress", IngressArgs(database.url(), port));
  ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << ingress.Output();

  // One request is in flight when the signal comes: its header and half its body are sent.
  RawClient in_flight(port);
  const std::string request = RawPost("/v1/webhooks/cleeng", testing::AuthorisationFor("last"));
  ASSERT_TRUE(in_flight.Send(request.substr(0, request.size() / 2)));

  LoadClient load(port, kConnections);
  ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 200; }, kLoadTimeout))
      << ingress.Output();
  ingress.Signal(SIGTERM);
  // It stops accepting: new connections are refused while the in-flight request is open.
  EXPECT_TRUE(Eventually(
      [&] {
        try {
          RawClient probe(port);
          return false;
        } catch (const std::exception&) {
          return true;
        }
      },
      std::chrono::seconds(10)));
  ASSERT_TRUE(in_flight.Send(request.substr(request.size() / 2)));
  const auto response = in_flight.Read();
  EXPECT_EQ(response.result_int(), 200) << response.body();
  EXPECT_FALSE(response.keep_alive());

  const auto exit_code = ingress.Wait(std::chrono::seconds(15));
  ASSERT_TRUE(exit_code) << "still running 15 s after SIGTERM\n" << ingress.Output();
  EXPECT_EQ(*exit_code, 0) << ingress.Output();
  load.Stop();
  EXPECT_EQ(load.other_statuses(), 0u);
  auto keys = load.AcknowledgedKeys();
  keys.insert("last");
  ExpectAllStored(keys, database.url());
}

TEST(IngressFaultsTest, PostgresStoppedUnderLoadGives503ThenRecoversByItself) {
  testing::ThrowawayCluster cluster(FreeTcpPort());
  {
    auto connection = db::Connect(cluster.url());
    db::Migrator(*connection).Migrate();
  }
  const int port = FreeTcpPort();
  Process ingress("payorch-ingress", IngressArgs(cluster.url(), port));
  ASSERT_TRUE(WaitForTcpPort(port, kStartTimeout)) << ingress.Output();

  LoadClient load(port, kConnections);
  ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 200; }, kLoadTimeout))
      << ingress.Output();

  cluster.Stop();
  const std::size_t unavailable_before = load.unavailable();
  ASSERT_TRUE(Eventually([&] { return load.unavailable() >= unavailable_before + 50; },
                         kLoadTimeout))
      << ingress.Output();
  EXPECT_EQ(payorch::testing::HttpRequest(port, "GET", "/readyz").status, 503);
  EXPECT_EQ(payorch::testing::HttpRequest(port, "GET", "/healthz").status, 200);

  cluster.Start();
  const std::size_t acknowledged_while_down = load.acknowledged();
  ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= acknowledged_while_down + 200; },
                         kLoadTimeout))
      << ingress.Output();
  EXPECT_EQ(payorch::testing::HttpRequest(port, "GET", "/readyz").status, 200);
  load.Stop();

  EXPECT_TRUE(ingress.Running());
  EXPECT_EQ(load.other_statuses(), 0u);  // only 200 and 503 with Retry-After
  ExpectAllStored(load.AcknowledgedKeys(), cluster.url());
  ingress.Signal(SIGTERM);
  EXPECT_EQ(ingress.Wait(std::chrono::seconds(15)), 0);
}

TEST(IngressFaultsTest, CheckConfigValidatesWithoutStartingAndNeverPrintsSecrets) {
  const std::string port = std::to_string(FreeTcpPort());
  const auto ok = RunCommand(
      "payorch-ingress",
      {"--check-config", "--database-url", "postgresql://u:pw-secret@127.0.0.1:1/db", "--listen",
       "127.0.0.1:" + port},
      {{"PAYORCH_INGRESS_HMAC_SECRETS", "hmac-secret-1,hmac-secret-2"},
       {"PAYORCH_INGRESS_URL_TOKENS", "url-token-1"},
       {"PAYORCH_INGRESS_ALLOW_CIDRS", "10.0.0.0/8"}},
      std::chrono::seconds(10));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("hmac_secrets=2"), std::string::npos) << ok.output;
  for (const char* secret : {"pw-secret", "hmac-secret", "url-token-1"}) {
    EXPECT_EQ(ok.output.find(secret), std::string::npos) << secret << " in " << ok.output;
  }

  const auto bad = RunCommand("payorch-ingress",
                              {"--check-config", "--database-url", "postgresql://x@127.0.0.1/db"},
                              {{"PAYORCH_INGRESS_ALLOW_CIDRS", "10.0.0.0/99"}},
                              std::chrono::seconds(10));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--allow-cidrs"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace payorch::ingress
