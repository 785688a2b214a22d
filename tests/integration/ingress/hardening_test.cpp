// The ingress against bad input, on real sockets and a real PostgreSQL: each case gets a precise
// status and a JSON error body, the connection is handled correctly afterwards (kept when the
// request was framed, closed when it was not), and nothing is stored.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "services/ingress/auth.hpp"
#include "tests/integration/ingress/raw_client.hpp"
#include "tests/integration/ingress/running_ingress.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::ingress {
namespace {

using testing::RawClient;
using testing::RawPost;
using testing::RawResponse;
using testing::RunningIngress;

constexpr const char* kWebhook = "/v1/webhooks/cleeng";

std::string Authorisation(const std::string& subscription_id) {
  return R"({"broadcasterId":123,"topic":"subscriptionReadyForPaymentAuthorisation",)"
         R"("data":{"subscriptionId":")" + subscription_id +
         R"(","offerId":"S1_US","customerId":5,"dunningAttemptDate":"2019-11-04T19:55:41Z",)"
         R"("paymentMethodId":123123123,"token":"tok_en","currency":"USD"}})";
}

std::string ErrorCode(const RawResponse& response) {
  const auto body = boost::json::parse(response.body());
  return std::string(body.at("error").at("code").as_string());
}

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

class IngressHardeningTest : public ::testing::Test {
 protected:
  int Count(const std::string& sql) {
    auto connection = database_.Connect();
    pqxx::nontransaction tx(*connection);
    return tx.exec1(sql)[0].as<int>();
  }
  int StoredRows() {
    return Count("SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM ignored_events)");
  }
  payorch::testing::TestDatabase database_;
};

struct BadRequestCase {
  const char* name;
  std::string request;  // raw bytes of one complete request
  int status;
  const char* code;
};

std::string Nested(int depth) {
  return R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentAuthorisation","data":)" +
         std::string(depth, '[') + std::string(depth, ']') + "}";
}

// Every request here is well framed, so the server answers it and keeps the connection: the
// whole table runs on one keep-alive connection, and a good request at the end still works.
TEST_F(IngressHardeningTest, BadRequestsGetPreciseStatusJsonErrorAndStoreNothing) {
  RunningIngress ingress(database_.url());
  const std::string ok = "Content-Type: application/json\r\n";
  const std::vector<BadRequestCase> cases = {
      {"cleeng doc single quotes",
       RawPost(kWebhook, "{'broadcasterId': 123, 'topic': 'subscriptionReadyForPaymentCapture', "
                         "'data': {'subscriptionId': 332332332,},}"),
       400, "malformed_json"},
      {"trailing comma",
       RawPost(kWebhook, R"({"broadcasterId":123,"topic":"subscriptionReadyForPaymentCapture",)"
                         R"("data":{"subscriptionId":"1",},})"),
       400, "malformed_json"},
      {"not json", RawPost(kWebhook, "subscriptionId=1"), 400, "malformed_json"},
      {"truncated json", RawPost(kWebhook, R"({"broadcasterId":1,"topic":)"), 400,
       "malformed_json"},
      {"empty body", RawPost(kWebhook, ""), 400, "malformed_json"},
      {"invalid utf-8",
       RawPost(kWebhook, "{\"broadcasterId\":1,\"topic\":\"subscription\xff\xfe\",\"data\":{}}"),
       400, "malformed_json"},
      {"deep nesting", RawPost(kWebhook, Nested(100)), 400, "malformed_json"},
      {"very deep nesting", RawPost(kWebhook, Nested(100000)), 400, "malformed_json"},
      {"array body", RawPost(kWebhook, "[1,2,3]"), 422, "invalid_field"},
      {"broadcasterId a word",
       RawPost(kWebhook, R"({"broadcasterId":"abc","topic":"x","data":{}})"), 422,
       "invalid_field"},
      {"broadcasterId a bool",
       RawPost(kWebhook, R"({"broadcasterId":true,"topic":"x","data":{}})"), 422,
       "invalid_field"},
      {"topic a number", RawPost(kWebhook, R"({"broadcasterId":1,"topic":5,"data":{}})"), 422,
       "invalid_field"},
      {"missing data",
       RawPost(kWebhook,
               R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentAuthorisation"})"),
       422, "missing_field"},
      {"data a string",
       RawPost(kWebhook,
               R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentAuthorisation","data":"x"})"),
       422, "invalid_field"},
      {"missing subscriptionId",
       RawPost(kWebhook,
               R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentAuthorisation","data":{}})"),
       422, "missing_field"},
      {"subscriptionId an object",
       RawPost(kWebhook, R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentAuthorisation",)"
                         R"("data":{"subscriptionId":{"id":1}}})"),
       422, "invalid_field"},
      {"subscriptionId a fraction",
       RawPost(kWebhook, R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentAuthorisation",)"
                         R"("data":{"subscriptionId":1.5}})"),
       422, "invalid_field"},
      {"subscriptionId an array",
       RawPost(kWebhook, R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentAuthorisation",)"
                         R"("data":{"subscriptionId":[1]}})"),
       422, "invalid_field"},
      {"wrong content type", RawPost(kWebhook, Authorisation("1"), "Content-Type: text/plain\r\n"),
       415, "unsupported_media_type"},
      {"form content type",
       RawPost(kWebhook, Authorisation("1"),
               "Content-Type: application/x-www-form-urlencoded\r\n"),
       415, "unsupported_media_type"},
      {"missing content type", RawPost(kWebhook, Authorisation("1"), ""), 415,
       "unsupported_media_type"},
      {"no length", "POST /v1/webhooks/cleeng HTTP/1.1\r\nHost: x\r\n" + ok + "\r\n", 411,
       "length_required"},
      {"unknown path", RawPost("/v1/webhooks/other", Authorisation("1")), 404, "not_found"},
      {"token path without tokens configured", RawPost("/v1/webhooks/cleeng/abc", "{}"), 404,
       "not_found"},
      {"unknown get", "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"},
      {"get on webhook", "GET /v1/webhooks/cleeng HTTP/1.1\r\nHost: x\r\n\r\n", 405,
       "method_not_allowed"},
      {"unknown method", "BREW /v1/webhooks/cleeng HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
       405, "method_not_allowed"},
      {"delete healthz", "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405,
       "method_not_allowed"},
  };
  RawClient client(ingress.port());
  for (const auto& c : cases) {
    ASSERT_TRUE(client.Send(c.request)) << c.name;
    const RawResponse response = client.Read();
    EXPECT_EQ(response.result_int(), c.status) << c.name << ": " << response.body();
    EXPECT_EQ(response[boost::beast::http::field::content_type], "application/json") << c.name;
    EXPECT_EQ(ErrorCode(response), c.code) << c.name;
    EXPECT_TRUE(response.keep_alive()) << c.name;
  }
  EXPECT_EQ(StoredRows(), 0);

  // The same connection still serves a good request.
  ASSERT_TRUE(client.Send(RawPost(kWebhook, Authorisation("after"))));
  const RawResponse good = client.Read();
  EXPECT_EQ(good.result_int(), 200) << good.body();
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
}

TEST_F(IngressHardeningTest, UnknownTopicIs422WhenConfiguredAndNothingIsStored) {
  RunningIngress ingress(database_.url(), {.reject_unknown_topics = true});
  RawClient client(ingress.port());
  ASSERT_TRUE(client.Send(
      RawPost(kWebhook, R"({"broadcasterId":5,"topic":"customerRegistered","data":{"x":1}})")));
  const RawResponse response = client.Read();
  EXPECT_EQ(response.result_int(), 422);
  EXPECT_EQ(ErrorCode(response), "unsupported_topic");
  EXPECT_EQ(StoredRows(), 0);
}

TEST_F(IngressHardeningTest, TenMegabyteBodyIs413AndTheConnectionIsClosedCleanly) {
  RunningIngress ingress(database_.url());
  {
    // The declared length alone is refused, before the body is read.
    RawClient client(ingress.port());
    ASSERT_TRUE(client.Send("POST /v1/webhooks/cleeng HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"));
    const RawResponse response = client.Read();
    EXPECT_EQ(response.result_int(), 413);
    EXPECT_EQ(ErrorCode(response), "payload_too_large");
    EXPECT_FALSE(response.keep_alive());
  }
  {
    // A client that sends all 10 MB anyway still reads the answer (the server drains what it
    // sends rather than resetting the connection under it).
    RawClient client(ingress.port());
    const std::string body(10 * 1024 * 1024, 'x');
    const RawResponse response = client.SendAndRead(RawPost(kWebhook, body));
    EXPECT_EQ(response.result_int(), 413);
    EXPECT_EQ(ErrorCode(response), "payload_too_large");
  }
  // A chunked body over the limit is refused too.
  {
    RawClient client(ingress.port());
    std::string request =
        "POST /v1/webhooks/cleeng HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    const std::string chunk(512 * 1024, 'x');
    for (int i = 0; i < 3; ++i) request += "80000\r\n" + chunk + "\r\n";
    request += "0\r\n\r\n";
    const RawResponse response = client.SendAndRead(request);
    EXPECT_EQ(response.result_int(), 413);
  }
  RawClient after(ingress.port());
  ASSERT_TRUE(after.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(after.Read().result_int(), 200);
  EXPECT_EQ(StoredRows(), 0);
}

TEST_F(IngressHardeningTest, GarbageThatIsNotHttpIs400AndClosed) {
  RunningIngress ingress(database_.url());
  RawClient client(ingress.port());
  ASSERT_TRUE(client.Send("HELLO\x01\x02 world\r\n\r\n"));
  const RawResponse response = client.Read();
  EXPECT_EQ(response.result_int(), 400);
  EXPECT_EQ(ErrorCode(response), "malformed_request");
  EXPECT_TRUE(client.ClosedByServer());
}

TEST_F(IngressHardeningTest, SlowClientSendingOneByteASecondGets408) {
  RunningIngress ingress(database_.url(), {.read_timeout = std::chrono::milliseconds(1500)});
  RawClient client(ingress.port());
  const std::string request = RawPost(kWebhook, Authorisation("slow"));
  const RawResponse response = client.TrickleAndRead(request, std::chrono::seconds(1));
  EXPECT_EQ(response.result_int(), 408);
  EXPECT_EQ(ErrorCode(response), "request_timeout");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(payorch::testing::Eventually(
      [&] { return ingress.server().ActiveSessions() == 0; }, std::chrono::seconds(5)));
  EXPECT_EQ(StoredRows(), 0);
}

TEST_F(IngressHardeningTest, IdleKeepAliveConnectionIsClosedWithoutAnAnswer) {
  RunningIngress ingress(database_.url(), {.read_timeout = std::chrono::milliseconds(300)});
  RawClient client(ingress.port());
  ASSERT_TRUE(client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(client.Read().result_int(), 200);
  EXPECT_TRUE(client.ClosedByServer());  // nothing but the close: no 408 to a silent client
}

TEST_F(IngressHardeningTest, ClientDisconnectingMidBodyStoresNothingAndFreesItsSession) {
  RunningIngress ingress(database_.url());
  {
    RawClient client(ingress.port());
    const std::string request = RawPost(kWebhook, Authorisation("cut"));
    ASSERT_TRUE(client.Send(request.substr(0, request.size() - 20)));
    EXPECT_TRUE(payorch::testing::Eventually(
        [&] { return ingress.server().ActiveSessions() == 1; }, std::chrono::seconds(5)));
    client.Close();
  }
  EXPECT_TRUE(payorch::testing::Eventually(
      [&] { return ingress.server().ActiveSessions() == 0; }, std::chrono::seconds(5)));
  EXPECT_EQ(StoredRows(), 0);
  RawClient next(ingress.port());
  ASSERT_TRUE(next.Send(RawPost(kWebhook, Authorisation("whole"))));
  EXPECT_EQ(next.Read().result_int(), 200);
}

TEST_F(IngressHardeningTest, PipelinedRequestsAreAnsweredInOrder) {
  RunningIngress ingress(database_.url());
  RawClient client(ingress.port());
  ASSERT_TRUE(client.Send(RawPost(kWebhook, Authorisation("p1")) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" +
                          RawPost(kWebhook, Authorisation("p2")) +
                          RawPost(kWebhook, Authorisation("p1")) +
                          RawPost(kWebhook, "{'bad':1}")));
  const RawResponse first = client.Read();
  const RawResponse health = client.Read();
  const RawResponse second = client.Read();
  const RawResponse repeat = client.Read();
  const RawResponse bad = client.Read();
  ASSERT_EQ(first.result_int(), 200) << first.body();
  EXPECT_EQ(health.body(), R"({"status":"ok"})");
  ASSERT_EQ(second.result_int(), 200);
  ASSERT_EQ(repeat.result_int(), 200);
  EXPECT_EQ(bad.result_int(), 400);
  const auto first_json = boost::json::parse(first.body());
  const auto repeat_json = boost::json::parse(repeat.body());
  EXPECT_EQ(first_json.at("jobId"), repeat_json.at("jobId"));
  EXPECT_FALSE(first_json.at("duplicate").as_bool());
  EXPECT_TRUE(repeat_json.at("duplicate").as_bool());
  EXPECT_NE(boost::json::parse(second.body()).at("jobId"), first_json.at("jobId"));
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 2);
}

TEST_F(IngressHardeningTest, Http10WithoutKeepAliveIsAnsweredThenClosed) {
  RunningIngress ingress(database_.url());
  RawClient client(ingress.port());
  ASSERT_TRUE(client.Send(RawPost(kWebhook, Authorisation("h10"),
                                  "Content-Type: application/json\r\n", "HTTP/1.0")));
  const RawResponse response = client.Read();
  EXPECT_EQ(response.result_int(), 200) << response.body();
  EXPECT_EQ(response.version(), 10u);
  EXPECT_TRUE(client.ClosedByServer());
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
}

// The ingress writes its responses itself (server.cpp, Serialize): a HEAD answer must carry the
// GET body's Content-Length and no body, or the next response on the connection is misread.
TEST_F(IngressHardeningTest, HeadIsAnsweredWithoutABodyAndTheConnectionGoesOn) {
  RunningIngress ingress(database_.url());
  RawClient client(ingress.port());
  ASSERT_TRUE(client.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const RawResponse head = client.Read(/*head=*/true);
  const RawResponse get = client.Read();
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(head.body(), "");
  EXPECT_EQ(get.result_int(), 200);
  EXPECT_EQ(get.body(), R"({"status":"ok"})");
  EXPECT_EQ(head[boost::beast::http::field::content_length],
            std::to_string(get.body().size()));
  EXPECT_EQ(head[boost::beast::http::field::content_type], "application/json");
  EXPECT_EQ(get.reason(), "OK");
}

TEST_F(IngressHardeningTest, SlowDatabaseIs503WithRetryAfterAndRecovers) {
  RunningIngress ingress(database_.url(),
                         {.writers = 1, .statement_timeout = std::chrono::milliseconds(300)});
  auto locker = database_.Connect();
  {
    pqxx::work tx(*locker);
    // The table is locked for longer than the writer's statement timeout.
    tx.exec0("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE");
    RawClient client(ingress.port());
    ASSERT_TRUE(client.Send(RawPost(kWebhook, Authorisation("slow-db"))));
    const RawResponse response = client.Read();
    EXPECT_EQ(response.result_int(), 503) << response.body();
    EXPECT_EQ(response[boost::beast::http::field::retry_after], "1");
    EXPECT_EQ(ErrorCode(response), "database_unavailable");
    tx.abort();
  }
  RawClient client(ingress.port());
  ASSERT_TRUE(client.Send(RawPost(kWebhook, Authorisation("slow-db"))));
  const RawResponse response = client.Read();
  EXPECT_EQ(response.result_int(), 200) << response.body();
  EXPECT_FALSE(boost::json::parse(response.body()).at("duplicate").as_bool());
}

TEST_F(IngressHardeningTest, FullQueueAnswers503AtOnceInsteadOfGrowing) {
  RunningIngress ingress(database_.url(), {.writers = 1,
                                           .queue_capacity = 1,
                                           .statement_timeout = std::chrono::seconds(20)});
  auto locker = database_.Connect();
  pqxx::work lock_tx(*locker);
  lock_tx.exec0("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE");

  // The first webhook occupies the only writer (it waits for the lock), the second fills the
  // queue, the third finds it full.
  RawClient first(ingress.port());
  ASSERT_TRUE(first.Send(RawPost(kWebhook, Authorisation("q1"))));
  ASSERT_TRUE(payorch::testing::Eventually(
      [&] {
        return Count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND datname = current_database()") == 1;
      },
      std::chrono::seconds(10)));
  RawClient second(ingress.port());
  ASSERT_TRUE(second.Send(RawPost(kWebhook, Authorisation("q2"))));
  ASSERT_TRUE(payorch::testing::Eventually(
      [&] {
        return ingress.registry().Render().find("payorch_ingress_queue_depth 1\n") !=
               std::string::npos;
      },
      std::chrono::seconds(10)));
  RawClient third(ingress.port());
  ASSERT_TRUE(third.Send(RawPost(kWebhook, Authorisation("q3"))));
  const RawResponse overloaded = third.Read();
  EXPECT_EQ(overloaded.result_int(), 503);
  EXPECT_EQ(overloaded[boost::beast::http::field::retry_after], "1");
  EXPECT_EQ(ErrorCode(overloaded), "overloaded");

  lock_tx.abort();
  EXPECT_EQ(first.Read().result_int(), 200);
  EXPECT_EQ(second.Read().result_int(), 200);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 2);
}

// ---- Authentication ----

TEST_F(IngressHardeningTest, HmacSignaturesWithRotationAreCheckedAndFailuresCounted) {
  AuthPolicy auth;
  auth.hmac_secrets = {"old-secret", "new-secret"};
  auth.signature_header = "X-Cleeng-Signature";
  RunningIngress ingress(database_.url(), {.auth = auth});
  RawClient client(ingress.port());
  const std::string body = Authorisation("signed");
  const auto post = [&](const std::string& signature_header) {
    EXPECT_TRUE(client.Send(RawPost(
        kWebhook, body, "Content-Type: application/json\r\n" + signature_header)));
    return client.Read();
  };
  const RawResponse unsigned_response = post("");
  EXPECT_EQ(unsigned_response.result_int(), 401);
  EXPECT_EQ(ErrorCode(unsigned_response), "missing_signature");
  const RawResponse wrong = post("X-Cleeng-Signature: " + Hex(HmacSha256("guess", body)) + "\r\n");
  EXPECT_EQ(wrong.result_int(), 401);
  EXPECT_EQ(ErrorCode(wrong), "bad_signature");
  // The signature covers the raw body: another body's signature does not fit.
  const RawResponse other_body =
      post("X-Cleeng-Signature: " + Hex(HmacSha256("new-secret", body + " ")) + "\r\n");
  EXPECT_EQ(other_body.result_int(), 401);
  EXPECT_EQ(StoredRows(), 0);

  const RawResponse with_old =
      post("X-Cleeng-Signature: " + Hex(HmacSha256("old-secret", body)) + "\r\n");
  EXPECT_EQ(with_old.result_int(), 200) << with_old.body();
  const RawResponse with_new =
      post("x-cleeng-signature: sha256=" + Hex(HmacSha256("new-secret", body)) + "\r\n");
  EXPECT_EQ(with_new.result_int(), 200) << with_new.body();
  EXPECT_EQ(Count("SELECT deliveries FROM jobs"), 2);

  const std::string metrics = ingress.registry().Render();
  EXPECT_NE(metrics.find(R"(payorch_ingress_auth_failures_total{reason="bad_signature"} 2)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(payorch_ingress_auth_failures_total{reason="missing_signature"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(payorch_ingress_requests_total{route="webhook",status="401"} 3)"),
            std::string::npos);
}

TEST_F(IngressHardeningTest, UrlTokenInThePathOrTheQuery) {
  AuthPolicy auth;
  auth.url_tokens = {"tok-current", "tok-next"};
  RunningIngress ingress(database_.url(), {.auth = auth});
  RawClient client(ingress.port());
  const auto post = [&](const std::string& target, const std::string& sub) {
    EXPECT_TRUE(client.Send(RawPost(target, Authorisation(sub))));
    return client.Read();
  };
  EXPECT_EQ(ErrorCode(post(kWebhook, "a")), "missing_token");
  const RawResponse bad = post(std::string(kWebhook) + "/tok-wrong", "a");
  EXPECT_EQ(bad.result_int(), 401);
  EXPECT_EQ(ErrorCode(bad), "bad_token");
  EXPECT_EQ(post(std::string(kWebhook) + "?token=tok-currentX", "a").result_int(), 401);
  EXPECT_EQ(post(std::string(kWebhook) + "/tok-current/more", "a").result_int(), 404);
  EXPECT_EQ(StoredRows(), 0);

  EXPECT_EQ(post(std::string(kWebhook) + "/tok-current", "a").result_int(), 200);
  EXPECT_EQ(post(std::string(kWebhook) + "?token=tok-next", "b").result_int(), 200);
  EXPECT_EQ(post(std::string(kWebhook) + "?x=1&token=tok-current", "c").result_int(), 200);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 3);
  EXPECT_NE(ingress.registry().Render().find(
                R"(payorch_ingress_auth_failures_total{reason="bad_token"} 2)"),
            std::string::npos);
}

TEST_F(IngressHardeningTest, AllowListBelievesForwardedForOnlyFromTrustedProxies) {
  AuthPolicy direct;
  direct.allowed_networks = {*ParseCidr("198.51.100.0/24")};
  {
    // No trusted proxy: the peer (127.0.0.1) is the client, whatever the header claims.
    RunningIngress ingress(database_.url(), {.auth = direct});
    RawClient client(ingress.port());
    ASSERT_TRUE(client.Send(RawPost(kWebhook, Authorisation("x"),
                                    "Content-Type: application/json\r\n"
                                    "X-Forwarded-For: 198.51.100.7\r\n")));
    const RawResponse response = client.Read();
    EXPECT_EQ(response.result_int(), 403);
    EXPECT_EQ(ErrorCode(response), "network_not_allowed");
  }
  AuthPolicy proxied = direct;
  proxied.trusted_proxies = {*ParseCidr("127.0.0.1/32")};
  RunningIngress ingress(database_.url(), {.auth = proxied});
  RawClient client(ingress.port());
  const auto post = [&](const std::string& forwarded_for, const std::string& sub) {
    EXPECT_TRUE(client.Send(RawPost(
        kWebhook, Authorisation(sub),
        "Content-Type: application/json\r\nX-Forwarded-For: " + forwarded_for + "\r\n")));
    return client.Read();
  };
  EXPECT_EQ(post("192.0.2.1", "a").result_int(), 403);
  EXPECT_EQ(post("198.51.100.7, 192.0.2.1", "a").result_int(), 403);  // forged left hop
  EXPECT_EQ(ErrorCode(post("not-an-address", "a")), "bad_forwarded_for");
  EXPECT_EQ(StoredRows(), 0);
  EXPECT_EQ(post("192.0.2.1, 198.51.100.7", "a").result_int(), 200);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs"), 1);
}

// ---- Metrics ----

TEST_F(IngressHardeningTest, MetricsEndpointServesThePrometheusText) {
  RunningIngress ingress(database_.url());
  RawClient client(ingress.port());
  ASSERT_TRUE(client.Send(RawPost(kWebhook, Authorisation("m1"))));
  ASSERT_EQ(client.Read().result_int(), 200);
  ASSERT_TRUE(client.Send(RawPost(kWebhook, "{")));
  ASSERT_EQ(client.Read().result_int(), 400);
  ASSERT_TRUE(client.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  const RawResponse metrics = client.Read();
  ASSERT_EQ(metrics.result_int(), 200);
  EXPECT_EQ(metrics[boost::beast::http::field::content_type],
            "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics.body();
  for (const char* expected : {
           R"(payorch_ingress_requests_total{route="webhook",status="200"} 1)",
           R"(payorch_ingress_requests_total{route="webhook",status="400"} 1)",
           R"(payorch_ingress_rejects_total{reason="malformed_json"} 1)",
           R"(payorch_ingress_commits_total{result="committed"} 1)",
           "payorch_ingress_commit_batch_size_count 1",
           "payorch_ingress_request_duration_seconds_bucket{route=\"webhook\",le=\"+Inf\"} 2",
           "payorch_ingress_queue_depth 0",
           "payorch_ingress_commit_duration_seconds_count 1",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
}

}  // namespace
}  // namespace payorch::ingress
