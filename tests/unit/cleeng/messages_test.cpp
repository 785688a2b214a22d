#include "services/cleeng/messages.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace payorch::cleeng {
namespace {

namespace json = boost::json;

TEST(CleengMessagesTest, OrderRequestSendsTheRenewalPairAndOurReference) {
  OrderRequest order{"123321123", "S123123123_US", "USD", "BY", "332332332", "", "po1_abc"};
  const json::object body = json::parse(OrderRequestJson(order)).as_object();
  EXPECT_EQ(body.at("paymentOperation"), "recurring-payment");
  EXPECT_EQ(body.at("subscriptionId"), "332332332");
  EXPECT_EQ(body.at("customerId"), "123321123");
  EXPECT_EQ(body.at("country"), "BY");
  EXPECT_EQ(body.at("externalOrderId"), "po1_abc");
  EXPECT_FALSE(body.contains("paymentMethodId"));  // empty fields are not sent
}

TEST(CleengMessagesTest, RejectedPaymentCarriesAReason) {
  PaymentRequest payment;
  payment.order_id = "7";
  payment.status = PaymentStatus::kRejected;
  payment.subscription_id = "9";
  payment.rejected_reason = "card_declined";
  const json::object body = json::parse(PaymentRequestJson(payment)).as_object();
  EXPECT_EQ(body.at("status"), "rejected");
  EXPECT_EQ(body.at("rejectedReason"), "card_declined");
  EXPECT_FALSE(body.contains("externalPaymentId"));
  payment.status = PaymentStatus::kAuthorized;
  payment.external_payment_id = "sbx_1";
  const json::object authorized = json::parse(PaymentRequestJson(payment)).as_object();
  EXPECT_EQ(authorized.at("status"), "authorized");
  EXPECT_FALSE(authorized.contains("rejectedReason"));
  EXPECT_EQ(json::parse(PaymentStatusJson(PaymentStatus::kCaptured, "")).at("status"), "captured");
}

TEST(CleengMessagesTest, OrdersParseFromCleengsEnvelopeWithEitherIdAndPriceType) {
  auto order = ParseOrder(
      R"({"responseData":{"id":700000001,"totalPrice":"8.1300","currency":"USD"},"errors":[]})");
  ASSERT_TRUE(order.ok()) << order.error();
  EXPECT_EQ(order.value().id, "700000001");
  EXPECT_EQ(order.value().amount_minor, 813);
  auto bare = ParseOrder(R"({"orderId":"42","totalPrice":5.25,"currency":"EUR"})");
  ASSERT_TRUE(bare.ok()) << bare.error();
  EXPECT_EQ(bare.value().id, "42");
  EXPECT_EQ(bare.value().amount_minor, 525);
  EXPECT_FALSE(ParseOrder(R"({"responseData":{"id":1,"currency":"USD"}})").ok());
  EXPECT_FALSE(ParseOrder("not json").ok());
  auto list = ParseOrders(R"({"responseData":{"items":[],"totalCount":0}})");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list.value().empty());
  auto payments =
      ParsePayments(R"({"responseData":{"items":[{"id":5,"orderId":"4","status":"authorised"}]}})");
  ASSERT_TRUE(payments.ok()) << payments.error();
  EXPECT_EQ(PaymentStatusFromName(payments.value().at(0).status), PaymentStatus::kAuthorized);
}

TEST(CleengMessagesTest, StatusSpellingsMapInOnePlace) {
  EXPECT_EQ(PaymentStatusName(PaymentStatus::kAuthorized), "authorized");
  EXPECT_EQ(PaymentStatusFromName("authorised"), PaymentStatus::kAuthorized);
  EXPECT_EQ(PaymentStatusFromName("canceled"), PaymentStatus::kCancelled);
  EXPECT_EQ(PaymentStatusFromName("refunded"), std::nullopt);
}

TEST(CleengMessagesTest, UrlEncodingKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UrlEncode("po1_AZaz09-.~"), "po1_AZaz09-.~");
  EXPECT_EQ(UrlEncode("a b/&?="), "a%20b%2F%26%3F%3D");
}

}  // namespace
}  // namespace payorch::cleeng
