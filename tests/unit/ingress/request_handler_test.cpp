#include "services/ingress/request_handler.hpp"

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace payorch::ingress {
namespace {

namespace http = boost::beast::http;

constexpr const char* kAuthorisation =
    R"({"broadcasterId":123,"topic":"subscriptionReadyForPaymentAuthorisation",)"
    R"("data":{"subscriptionId":332332332,"offerId":"S1_US","customerId":5,)"
    R"("dunningAttemptDate":"2019-11-04T21:55:41+02:00","paymentMethodId":"",)"
    R"("paymentGateway":"adyen","token":"tok_en","currency":"USD"}})";

// An in-memory JobStore: records what the handler submitted and answers with a fixed outcome.
// (The PostgreSQL store is covered by tests/integration/ingress.)
class RecordingStore : public JobStore {
 public:
  void Submit(IntakeItem item, Completion done) override {
    submitted.push_back(std::move(item));
    done(outcome);
  }
  StoreOutcome outcome{StoreOutcome::Kind::kStored, 41, false};
  std::vector<IntakeItem> submitted;
};

Request Post(std::string body, std::string content_type = "application/json",
             std::string target = std::string(kWebhookPath)) {
  Request request{http::verb::post, target, 11};
  if (!content_type.empty()) request.set(http::field::content_type, content_type);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

Request Get(std::string target) { return Request{http::verb::get, target, 11}; }

class RequestHandlerTest : public ::testing::Test {
 protected:
  Response Handle(Request request, HandlerOptions options = {}) {
    RequestHandler handler(store_, options);
    boost::asio::io_context io_context;
    auto future = boost::asio::co_spawn(io_context, handler.Handle(std::move(request)),
                                        boost::asio::use_future);
    io_context.run();
    return future.get();
  }

  static std::string ErrorCode(const Response& response) {
    return boost::json::value_to<std::string>(
        boost::json::parse(response.body()).at("error").at("code"));
  }

  RecordingStore store_;
};

TEST_F(RequestHandlerTest, StoredEventAnswersJobIdAfterTheStoreCommitted) {
  const Response response = Handle(Post(kAuthorisation));
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[http::field::content_type], "application/json");
  EXPECT_EQ(boost::json::parse(response.body()),
            boost::json::parse(R"({"jobId":41,"duplicate":false})"));
  ASSERT_EQ(store_.submitted.size(), 1u);
  const auto& job = std::get<db::NewJob>(store_.submitted[0]);
  EXPECT_EQ(job.raw_event, kAuthorisation);  // stored exactly as received
  EXPECT_EQ(job.broadcaster_id, 123);
  EXPECT_EQ(job.topic, "subscriptionReadyForPaymentAuthorisation");
  EXPECT_EQ(job.subscription_id, "332332332");
  EXPECT_EQ(job.payment_gateway, "adyen");
  EXPECT_EQ(job.payment_method_id, "");
  EXPECT_EQ(job.dunning_attempt_date, "2019-11-04T19:55:41Z");
  EXPECT_FALSE(job.event_key.empty());
  EXPECT_EQ(job.idempotency_key.rfind("po1_", 0), 0u);
}

TEST_F(RequestHandlerTest, DuplicateIsReportedAsSuch) {
  store_.outcome = {StoreOutcome::Kind::kStored, 7, true};
  const Response response = Handle(Post(kAuthorisation));
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(boost::json::parse(response.body()),
            boost::json::parse(R"({"jobId":7,"duplicate":true})"));
}

TEST_F(RequestHandlerTest, CharsetParameterIsAccepted) {
  EXPECT_EQ(Handle(Post(kAuthorisation, "Application/JSON; charset=utf-8")).result_int(), 200);
}

TEST_F(RequestHandlerTest, UnknownTopicIsStoredForAuditAndAnsweredIgnored) {
  const std::string body = R"({"broadcasterId":9,"topic":"customerRegistered","data":{}})";
  const Response response = Handle(Post(body));
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(boost::json::parse(response.body()), boost::json::parse(R"({"ignored":true})"));
  ASSERT_EQ(store_.submitted.size(), 1u);
  const auto& ignored = std::get<db::IgnoredEvent>(store_.submitted[0]);
  EXPECT_EQ(ignored.topic, "customerRegistered");
  EXPECT_EQ(ignored.broadcaster_id, 9);
  EXPECT_EQ(ignored.raw_event, body);
}

TEST_F(RequestHandlerTest, UnknownTopicIs422AndNotStoredWhenConfigured) {
  const Response response =
      Handle(Post(R"({"broadcasterId":9,"topic":"customerRegistered","data":{}})"),
             {.reject_unknown_topics = true});
  EXPECT_EQ(response.result_int(), 422);
  EXPECT_EQ(ErrorCode(response), "unsupported_topic");
  EXPECT_TRUE(store_.submitted.empty());
}

struct RejectionCase {
  const char* name;
  Request request;
  int status;
  const char* code;
};

TEST_F(RequestHandlerTest, RejectionsHaveTheirStatusAJsonErrorAndStoreNothing) {
  Request no_length{http::verb::post, std::string(kWebhookPath), 11};
  no_length.set(http::field::content_type, "application/json");
  const std::vector<RejectionCase> cases = {
      {"malformed json", Post("{'broadcasterId': 1,}"), 400, "malformed_json"},
      {"missing topic", Post(R"({"broadcasterId":1,"data":{}})"), 422, nullptr},
      {"no content type", Post(kAuthorisation, ""), 415, "unsupported_media_type"},
      {"text/plain", Post(kAuthorisation, "text/plain"), 415, "unsupported_media_type"},
      {"json prefix only", Post(kAuthorisation, "application/jsonx"), 415,
       "unsupported_media_type"},
      {"no length", no_length, 411, "length_required"},
      {"unknown path", Post(kAuthorisation, "application/json", "/v1/webhooks/other"), 404,
       "not_found"},
      {"GET webhook", Get(std::string(kWebhookPath)), 405, "method_not_allowed"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Response response = Handle(c.request);
    EXPECT_EQ(response.result_int(), c.status);
    EXPECT_EQ(response[http::field::content_type], "application/json");
    const std::string code = ErrorCode(response);  // every error body has error.code
    if (c.code != nullptr) {
      EXPECT_EQ(code, c.code);
    }
  }
  EXPECT_TRUE(store_.submitted.empty());
}

TEST_F(RequestHandlerTest, BodyOverTheLimitIs413) {
  const Response response = Handle(Post(kAuthorisation), {.body_limit_bytes = 10});
  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(ErrorCode(response), "payload_too_large");
  EXPECT_TRUE(store_.submitted.empty());
}

TEST_F(RequestHandlerTest, WrongMethodNamesTheAllowedOnes) {
  Response response = Handle(Get(std::string(kWebhookPath)));
  EXPECT_EQ(response[http::field::allow], "POST");
  response = Handle(Post("{}", "application/json", "/healthz"));
  EXPECT_EQ(response.result_int(), 405);
  EXPECT_EQ(response[http::field::allow], "GET, HEAD");
}

TEST_F(RequestHandlerTest, StoreFailureIs503WithRetryAfterNever200) {
  for (auto kind : {StoreOutcome::Kind::kUnavailable, StoreOutcome::Kind::kOverloaded}) {
    store_.outcome = {kind, 0, false};
    const Response response = Handle(Post(kAuthorisation));
    EXPECT_EQ(response.result_int(), 503);
    EXPECT_EQ(response[http::field::retry_after], "1");
    EXPECT_FALSE(ErrorCode(response).empty());
  }
}

TEST_F(RequestHandlerTest, HealthzNeedsNoStore) {
  const Response response = Handle(Get("/healthz"));
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_TRUE(store_.submitted.empty());
}

TEST_F(RequestHandlerTest, ReadyzFollowsTheStoreProbe) {
  store_.outcome = {StoreOutcome::Kind::kReady, 0, false};
  EXPECT_EQ(Handle(Get("/readyz")).result_int(), 200);
  store_.outcome = {StoreOutcome::Kind::kNotReady, 0, false};
  EXPECT_EQ(Handle(Get("/readyz")).result_int(), 503);
  store_.outcome = {StoreOutcome::Kind::kUnavailable, 0, false};
  EXPECT_EQ(Handle(Get("/readyz")).result_int(), 503);
  ASSERT_EQ(store_.submitted.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<ReadinessProbe>(store_.submitted[0]));
}

}  // namespace
}  // namespace payorch::ingress
