#include "services/core/event.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace payorch::core {
namespace {

// Cleeng's documented authorisation example, as strict JSON.
constexpr std::string_view kAuthorisation = R"({
  "broadcasterId": 123456789,
  "topic": "subscriptionReadyForPaymentAuthorisation",
  "data": {
    "subscriptionId": "332332332",
    "offerId": "S123123123_US",
    "customerId": 123321123,
    "customerEmail": "customer@example.com",
    "paymentDetailsId": 665665665,
    "active": true,
    "dunningAttemptDate": "2019-11-04T19:55:41Z",
    "dunningStatus": "authorize",
    "expirationDate": "2019-11-07T19:55:41Z",
    "currency": "USD",
    "paymentCountry": "BY",
    "paymentMethodId": 123123123,
    "token": "tok_en"
  }
})";

CleengEvent Parse(std::string_view body) {
  auto parsed = ParseWebhook(body);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? parsed.value() : CleengEvent{};
}

Rejection Reject(std::string_view body) {
  auto parsed = ParseWebhook(body);
  EXPECT_FALSE(parsed.ok()) << "accepted: " << body;
  return parsed.ok() ? Rejection{} : parsed.error();
}

TEST(ParseWebhook, NormalisesTheDocumentedAuthorisationExample) {
  const auto event = Parse(kAuthorisation);
  EXPECT_EQ(event.broadcaster_id, 123456789);
  ASSERT_TRUE(event.topic.has_value());
  EXPECT_EQ(*event.topic, Topic::kAuthorisation);
  EXPECT_EQ(event.subscription_id, "332332332");
  EXPECT_EQ(event.customer_id, "123321123");
  EXPECT_EQ(event.payment_details_id, "665665665");
  EXPECT_EQ(event.payment_method_id, "123123123");
  EXPECT_EQ(event.payment_gateway, "");
  EXPECT_EQ(event.token, "tok_en");
  EXPECT_EQ(event.customer_email, "customer@example.com");
  EXPECT_EQ(event.dunning_attempt_date_utc, "2019-11-04T19:55:41Z");
  EXPECT_EQ(event.expiration_date_utc, "2019-11-07T19:55:41Z");
}

TEST(ParseWebhook, AcceptsIdsAsStringsOrIntegers) {
  const auto as_int = Parse(
      R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentCapture","data":{"subscriptionId":332332332}})");
  const auto as_string = Parse(
      R"({"broadcasterId":"1","topic":"subscriptionReadyForPaymentCapture","data":{"subscriptionId":"332332332"}})");
  EXPECT_EQ(as_int.subscription_id, "332332332");
  EXPECT_EQ(as_string.subscription_id, "332332332");
  EXPECT_EQ(as_string.broadcaster_id, 1);
}

TEST(ParseWebhook, RejectsWhatIsNotStrictJsonWith400) {
  const std::string_view cases[] = {
      "",
      "{",
      // Cleeng's own documentation examples: single quotes and trailing commas.
      "{'broadcasterId': 1, 'topic': 'x', 'data': {}}",
      R"({"broadcasterId": 1, "topic": "x", "data": {},})",
      "\xff\xfe{}",
      R"({"broadcasterId": 1, "topic": "x", "data": {"a": "\xc3\x28"}})",
  };
  for (auto body : cases) {
    const auto rejection = Reject(body);
    EXPECT_EQ(rejection.http_status, 400) << body;
    EXPECT_EQ(rejection.code, "malformed_json") << body;
  }
}

TEST(ParseWebhook, RejectsDeepNestingWith400) {
  std::string body = R"({"broadcasterId":1,"topic":"x","data":)";
  for (int i = 0; i < 100; ++i) body += "{\"a\":";
  body += "1";
  for (int i = 0; i < 100; ++i) body += "}";
  body += "}";
  EXPECT_EQ(Reject(body).http_status, 400);
}

TEST(ParseWebhook, RejectsBadEnvelopesWith422) {
  struct Case {
    std::string_view body;
    std::string_view code;
  };
  const Case cases[] = {
      {R"([1,2])", "invalid_field"},
      {R"({"topic":"subscriptionReadyForTermination","data":{"subscriptionId":"1"}})", "missing_field"},
      {R"({"broadcasterId":1.5,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":"1"}})", "invalid_field"},
      {R"({"broadcasterId":-1,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":"1"}})", "invalid_field"},
      {R"({"broadcasterId":1,"data":{"subscriptionId":"1"}})", "missing_field"},
      {R"({"broadcasterId":1,"topic":7,"data":{"subscriptionId":"1"}})", "invalid_field"},
      {R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination"})", "missing_field"},
      {R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":[]})", "invalid_field"},
      {R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{}})", "missing_field"},
      {R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":""}})", "missing_field"},
      {R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":1.5}})", "invalid_field"},
      {R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":{"id":1}}})", "invalid_field"},
      {R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":"1","token":["a"]}})", "invalid_field"},
      {R"({"broadcasterId":1,"topic":"subscriptionReadyForPaymentCapture","data":{"subscriptionId":"1","dunningAttemptDate":"next tuesday"}})", "invalid_field"},
  };
  for (const auto& c : cases) {
    const auto rejection = Reject(c.body);
    EXPECT_EQ(rejection.http_status, 422) << c.body;
    EXPECT_EQ(rejection.code, c.code) << c.body;
    EXPECT_FALSE(rejection.message.empty());
  }
}

TEST(ParseWebhook, AnUnknownTopicNeedsOnlyAValidEnvelope) {
  const auto event = Parse(R"({"broadcasterId":1,"topic":"customerRegistered","data":{}})");
  EXPECT_FALSE(event.topic.has_value());
  EXPECT_EQ(event.topic_name, "customerRegistered");
}

TEST(ParseWebhook, KeepsUnknownFieldsAndNullsAsAbsent) {
  const auto event = Parse(
      R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","extra":1,
          "data":{"subscriptionId":"9","paymentGateway":null,"somethingNew":{"x":[1,2]}}})");
  EXPECT_EQ(event.subscription_id, "9");
  EXPECT_EQ(event.payment_gateway, "");
}

TEST(NormaliseTimestamp, AcceptsRfc3339VariantsAsOneInstant) {
  EXPECT_EQ(NormaliseTimestamp("2019-11-04T19:55:41Z"), "2019-11-04T19:55:41Z");
  EXPECT_EQ(NormaliseTimestamp("2019-11-04T21:55:41+02:00"), "2019-11-04T19:55:41Z");
  EXPECT_EQ(NormaliseTimestamp("2019-11-04T14:55:41-0500"), "2019-11-04T19:55:41Z");
  EXPECT_EQ(NormaliseTimestamp("2019-11-04 19:55:41"), "2019-11-04T19:55:41Z");
  EXPECT_EQ(NormaliseTimestamp("2019-11-04T19:55:41.500Z"), "2019-11-04T19:55:41.5Z");
  EXPECT_EQ(NormaliseTimestamp("2019-11-04T19:55:41.000Z"), "2019-11-04T19:55:41Z");
  EXPECT_EQ(NormaliseTimestamp("2020-01-01T00:30:00+01:00"), "2019-12-31T23:30:00Z");
  EXPECT_EQ(NormaliseTimestamp("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00Z");
}

TEST(NormaliseTimestamp, RefusesWhatIsNotADate) {
  for (auto text : {"", "2019-11-04", "2019-13-04T19:55:41Z", "2019-02-29T00:00:00Z",
                    "2019-11-04T24:00:00Z", "2019-11-04T19:55:41 UTC", "2019-11-04T19:55:41+2",
                    "2019-11-04T19:55:41.Z", "x019-11-04T19:55:41Z"}) {
    EXPECT_FALSE(NormaliseTimestamp(text).has_value()) << text;
  }
}

std::string KeyOf(std::string_view body) { return DeriveEventIdentity(Parse(body)).event_key; }

TEST(DeriveEventIdentity, IgnoresFieldOrderIdTypesExtraFieldsAndTimeZones) {
  const auto base = KeyOf(kAuthorisation);
  EXPECT_EQ(base, KeyOf(R"({"data":{"dunningAttemptDate":"2019-11-04T21:55:41+02:00",
      "subscriptionId":332332332,"somethingNew":true},
      "topic":"subscriptionReadyForPaymentAuthorisation","broadcasterId":"123456789"})"));
}

TEST(DeriveEventIdentity, DistinguishesEachPartOfTheIdentity) {
  auto body = [](std::string_view broadcaster, std::string_view topic, std::string_view sub,
                 std::string_view date) {
    return "{\"broadcasterId\":" + std::string(broadcaster) + ",\"topic\":\"" +
           std::string(topic) + "\",\"data\":{\"subscriptionId\":\"" + std::string(sub) +
           "\",\"dunningAttemptDate\":\"" + std::string(date) + "\"}}";
  };
  const std::set<std::string> keys = {
      KeyOf(body("1", kTopicAuthorisation, "10", "2019-11-04T19:55:41Z")),
      KeyOf(body("2", kTopicAuthorisation, "10", "2019-11-04T19:55:41Z")),
      KeyOf(body("1", kTopicCapture, "10", "2019-11-04T19:55:41Z")),
      KeyOf(body("1", kTopicAuthorisation, "11", "2019-11-04T19:55:41Z")),
      KeyOf(body("1", kTopicAuthorisation, "10", "2019-11-05T19:55:41Z")),
      // Ids containing the separator cannot collide with other tuples.
      KeyOf(body("1", kTopicAuthorisation, "10|dunning=x", "2019-11-04T19:55:41Z")),
  };
  EXPECT_EQ(keys.size(), 6u);
}

TEST(DeriveEventIdentity, FallsBackToExpirationDateThenToThePayloadHash) {
  const auto termination = DeriveEventIdentity(Parse(
      R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":"5","expirationDate":"2019-11-07T19:55:41Z"}})"));
  EXPECT_NE(termination.event_key.find("expiration=2019-11-07T19:55:41Z"), std::string::npos);

  const auto bare_a = DeriveEventIdentity(Parse(
      R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":"5","offerId":"A","customerId":7}})"));
  const auto bare_a_reordered = DeriveEventIdentity(Parse(
      R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{"customerId":"7","offerId":"A","subscriptionId":5}})"));
  const auto bare_b = DeriveEventIdentity(Parse(
      R"({"broadcasterId":1,"topic":"subscriptionReadyForTermination","data":{"subscriptionId":"5","offerId":"B"}})"));
  // Stored keys must stay equal across versions, or a resend after an upgrade becomes a second
  // job: the digest is of {"customerId":"7","offerId":"A","subscriptionId":"5"} (keys sorted,
  // ids as strings), computed outside this code (Python's hashlib).
  EXPECT_EQ(bare_a.event_key,
            "cleeng/v1|1|31:subscriptionReadyForTermination|1:5|data-sha256="
            "b8c3af7e60a5e3cbdf8e3f85e71767ad3262aebb1385b994fb6743686ec7748b");
  EXPECT_EQ(bare_a.event_key, bare_a_reordered.event_key);
  EXPECT_NE(bare_a.event_key, bare_b.event_key);
}

TEST(DeriveEventIdentity, IdempotencyKeyIsStableShortAndGatewaySafe) {
  const auto identity = DeriveEventIdentity(Parse(kAuthorisation));
  EXPECT_EQ(identity.idempotency_key, DeriveEventIdentity(Parse(kAuthorisation)).idempotency_key);
  EXPECT_EQ(identity.idempotency_key.rfind("po1_", 0), 0u);
  EXPECT_EQ(identity.idempotency_key.size(), 52u);
  for (char c : identity.idempotency_key) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_') << c;
  }
}

TEST(Sha256Hex, MatchesTheKnownDigestOfTheEmptyString) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace payorch::core
