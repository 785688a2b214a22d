// The ingress in-process: Server + RequestHandler + JobWriter on real sockets and a real
// PostgreSQL database, posted to with a real HTTP client.
#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "db/database.hpp"
#include "db/migrator.hpp"
#include "services/ingress/job_writer.hpp"
#include "services/ingress/request_handler.hpp"
#include "services/ingress/server.hpp"
#include "tests/integration/ingress/running_ingress.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::ingress {
namespace {

using payorch::testing::HttpRequest;
using payorch::testing::HttpResponse;

std::string Authorisation(const std::string& subscription_id) {
  return R"({"broadcasterId":123,"topic":"subscriptionReadyForPaymentAuthorisation",)"
         R"("data":{"subscriptionId":")" + subscription_id +
         R"(","offerId":"S1_US","customerId":5,"dunningAttemptDate":"2019-11-04T19:55:41Z",)"
         R"("paymentMethodId":123123123,"token":"tok_en","currency":"USD"}})";
}

using testing::RunningIngress;

boost::json::value Json(const HttpResponse& response) { return boost::json::parse(response.body); }

class IngressServerTest : public ::testing::Test {
 protected:
  int Count(const std::string& sql) {
    auto connection = database_.Connect();
    pqxx::nontransaction tx(*connection);
    return tx.exec1(sql)[0].as<int>();
  }
  // Waits (at most 10 s) until the count `sql` reads `wanted`; false if it never does.
  bool CountBecomes(const std::string& sql, int wanted) {
    for (int i = 0; i < 1000; ++i) {
      if (Count(sql) == wanted) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  payorch::testing::TestDatabase database_;
};

TEST_F(IngressServerTest, WebhookBecomesOneJobAndARepeatIsADuplicate) {
  RunningIngress ingress(database_.url());
  const HttpResponse first =
      HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("332"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.headers.at("content-type"), "application/json");
  const auto job_id = Json(first).at("jobId").as_int64();
  EXPECT_FALSE(Json(first).at("duplicate").as_bool());
  // The answer came after the commit: the row is visible to another connection now.
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE id = " + std::to_string(job_id)), 1);

  const HttpResponse second =
      HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("332"));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(Json(second).at("jobId").as_int64(), job_id);
  EXPECT_TRUE(Json(second).at("duplicate").as_bool());
  EXPECT_EQ(Count("SELECT deliveries FROM jobs"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE raw_event = '" +
                  Authorisation("332") + "'"),
            1);
}

TEST_F(IngressServerTest, FiftyConcurrentIdenticalDeliveriesMakeOneJobWithFiftyDeliveries) {
  RunningIngress ingress(database_.url());
  constexpr int kRequests = 50;
  std::vector<std::future<HttpResponse>> responses;
  for (int i = 0; i < kRequests; ++i) {
    responses.push_back(std::async(std::launch::async, [&] {
      return HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("same"));
    }));
  }
  std::optional<std::int64_t> job_id;
  int fresh = 0;
  for (auto& future : responses) {
    const HttpResponse response = future.get();
    ASSERT_EQ(response.status, 200) << response.body;
    const auto id = Json(response).at("jobId").as_int64();
    if (!job_id) job_id = id;
    EXPECT_EQ(id, *job_id);
    if (!Json(response).at("duplicate").as_bool()) ++fresh;
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
  EXPECT_EQ(Count("SELECT deliveries FROM jobs"), kRequests);
}

TEST_F(IngressServerTest, BatchMaxOneCommitsEachRequestAlone) {
  RunningIngress ingress(database_.url(), {.batch_max = 1});
  std::vector<std::future<HttpResponse>> responses;
  for (int i = 0; i < 10; ++i) {
    responses.push_back(std::async(std::launch::async, [&, i] {
      return HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng",
                         Authorisation("sub-" + std::to_string(i)));
    }));
  }
  for (auto& future : responses) EXPECT_EQ(future.get().status, 200);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 10);
}

TEST_F(IngressServerTest, NewJobsGetANewPartitionBeforeTheLastOneIsFull) {
  // jobs_from_1 takes ids below 1,000,001 (migration 0013). The ingress adds the next partition
  // once the ids it hands out come within db::kJobPartitionRoom of that bound; without it the
  // job after id 1,000,000 would have no partition and its webhook would be answered 503.
  // The writer looks once a batch is answered, so the first job within that room of the bound
  // is stored before the partition is added (here, with ten ids of room, the test waits for it).
  RunningIngress ingress(database_.url());
  ASSERT_EQ(HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("0")).status,
            200);
  const std::string partitions = "SELECT count(*) FROM pg_partition_tree('jobs') WHERE isleaf";
  EXPECT_EQ(Count(partitions), 1);
  Count("SELECT setval('jobs_id_seq', 999990)::integer");
  ASSERT_EQ(HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("1")).status,
            200);
  ASSERT_TRUE(CountBecomes(partitions, 2));
  for (int i = 2; i <= 20; ++i) {
    const HttpResponse response = HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng",
                                              Authorisation(std::to_string(i)));
    ASSERT_EQ(response.status, 200) << "webhook " << i << ": " << response.body;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 21);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs_from_1000001"), 10);
  EXPECT_EQ(Count(partitions), 2);
}

// Adding a partition can wait: its ATTACH takes SHARE ROW EXCLUSIVE locks on the history tables
// that the workers write (up to a second, its lock_timeout). Webhooks must not wait with it.
TEST_F(IngressServerTest, APartitionWaitingOnTheWorkersLocksHoldsUpNoWebhook) {
  RunningIngress ingress(database_.url());
  ASSERT_EQ(HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("0")).status,
            200);
  auto worker_connection = database_.Connect();
  pqxx::work worker(*worker_connection);  // as a worker recording an attempt
  worker.exec0("LOCK TABLE job_attempts IN ROW EXCLUSIVE MODE");
  Count("SELECT setval('jobs_id_seq', 999990)::integer");
  const std::string partitions = "SELECT count(*) FROM pg_partition_tree('jobs') WHERE isleaf";
  for (int i = 1; i <= 5; ++i) {
    const auto started = std::chrono::steady_clock::now();
    const HttpResponse response = HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng",
                                              Authorisation("held-" + std::to_string(i)));
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(response.status, 200) << "webhook " << i << ": " << response.body;
    EXPECT_LT(took, std::chrono::milliseconds(500)) << "webhook " << i << " waited on the lock";
  }
  EXPECT_EQ(Count(partitions), 1);  // still waiting, or given up until the next batch
  worker.abort();
  ASSERT_EQ(
      HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("after")).status,
      200);
  EXPECT_TRUE(CountBecomes(partitions, 2));
}

TEST_F(IngressServerTest, IgnoredTopicIsAuditedAndRejectedInputStoresNothing) {
  RunningIngress ingress(database_.url());
  const HttpResponse ignored = HttpRequest(
      ingress.port(), "POST", "/v1/webhooks/cleeng",
      R"({"broadcasterId":5,"topic":"transactionCreated","data":{"x":1}})");
  EXPECT_EQ(ignored.status, 200);
  EXPECT_EQ(Json(ignored), boost::json::parse(R"({"ignored":true})"));

  EXPECT_EQ(HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", "{'a':1,}").status, 400);
  EXPECT_EQ(HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("1"),
                        "text/plain")
                .status,
            415);
  const HttpResponse big = HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng",
                                       std::string(2 * 1024 * 1024, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Json(big).at("error").at("code").as_string(), "payload_too_large");
  const HttpResponse wrong_method = HttpRequest(ingress.port(), "GET", "/v1/webhooks/cleeng");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.headers.at("allow"), "POST");
  EXPECT_EQ(HttpRequest(ingress.port(), "GET", "/nothing").status, 404);

  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM ignored_events WHERE topic = 'transactionCreated' "
                  "AND broadcaster_id = 5"),
            1);
}

TEST_F(IngressServerTest, HealthAndReadiness) {
  RunningIngress ingress(database_.url());
  EXPECT_EQ(HttpRequest(ingress.port(), "GET", "/healthz").status, 200);
  const HttpResponse ready = HttpRequest(ingress.port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
}

TEST_F(IngressServerTest, DatabaseDownIs503AndTheServerRecoversWhenItReturns) {
  // A database that does not exist yet stands for a server that is down.
  const std::string name = "payorch_ingress_recovery_" + std::to_string(::getpid());
  const std::string url = payorch::testing::TestServerUrlFor(name);
  auto admin = database_.Connect();
  {
    pqxx::nontransaction tx(*admin);
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name));
  }
  RunningIngress ingress(url);

  const HttpResponse down =
      HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("332"));
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.headers.at("retry-after"), "1");
  EXPECT_EQ(Json(down).at("error").at("code").as_string(), "database_unavailable");
  EXPECT_EQ(HttpRequest(ingress.port(), "GET", "/readyz").status, 503);
  EXPECT_EQ(HttpRequest(ingress.port(), "GET", "/healthz").status, 200);

  {
    pqxx::nontransaction tx(*admin);
    tx.exec0("CREATE DATABASE " + tx.quote_name(name));
  }
  {
    auto connection = db::Connect(url);
    db::Migrator(*connection).Migrate();
  }
  const HttpResponse up =
      HttpRequest(ingress.port(), "POST", "/v1/webhooks/cleeng", Authorisation("332"));
  EXPECT_EQ(up.status, 200) << up.body;
  EXPECT_FALSE(Json(up).at("duplicate").as_bool());
  EXPECT_EQ(HttpRequest(ingress.port(), "GET", "/readyz").status, 200);

  EXPECT_TRUE(ingress.Stop());
  pqxx::nontransaction tx(*admin);
  tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
}

TEST_F(IngressServerTest, ShutdownAnswersAcceptedRequestsAndStopsAccepting) {
  RunningIngress ingress(database_.url());
  const int port = ingress.port();
  ASSERT_EQ(HttpRequest(port, "POST", "/v1/webhooks/cleeng", Authorisation("1")).status, 200);
  EXPECT_TRUE(ingress.Stop());
  EXPECT_EQ(ingress.server().ActiveSessions(), 0u);
  EXPECT_THROW(HttpRequest(port, "GET", "/healthz"), std::exception);
}

}  // namespace
}  // namespace payorch::ingress
