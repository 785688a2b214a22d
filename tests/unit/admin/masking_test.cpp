#include "services/admin/masking.hpp"

#include <gtest/gtest.h>

namespace payorch::admin {
namespace {

TEST(MaskingTest, MasksTokenAndCustomerEmailInACleengEvent) {
  const auto masked = MaskedRawEvent(R"({
    "broadcasterId": 123,
    "topic": "subscriptionReadyForPaymentAuthorisation",
    "data": {"subscriptionId": "332332332", "customerEmail": "jane@example.com",
             "token": "tok_en", "currency": "USD", "paymentMethodId": 123123123}
  })");
  ASSERT_TRUE(masked.has_value());
  const auto& data = masked->at("data").as_object();
  EXPECT_EQ(data.at("token"), "***");
  EXPECT_EQ(data.at("customerEmail"), "***");
  // Everything else is kept as it was.
  EXPECT_EQ(data.at("subscriptionId"), "332332332");
  EXPECT_EQ(data.at("currency"), "USD");
  EXPECT_EQ(data.at("paymentMethodId"), 123123123);
  EXPECT_EQ(masked->at("broadcasterId"), 123);
  const std::string text = boost::json::serialize(*masked);
  EXPECT_EQ(text.find("tok_en"), std::string::npos);
  EXPECT_EQ(text.find("jane@example.com"), std::string::npos);
}

TEST(MaskingTest, MasksAtAnyDepthAndInsideArrays) {
  auto masked = MaskedRawEvent(
      R"({"token":"top","a":{"b":{"token":"deep"}},"list":[{"customerEmail":"x@y.z"},[{"token":1}]]})");
  ASSERT_TRUE(masked.has_value());
  EXPECT_EQ(boost::json::serialize(*masked),
            R"({"token":"***","a":{"b":{"token":"***"}},"list":[{"customerEmail":"***"},[{"token":"***"}]]})");
}

TEST(MaskingTest, MasksValuesOfAnyTypeAndKeysInAnyCase) {
  auto masked = MaskedRawEvent(
      R"({"Token":{"nested":"secret"},"CUSTOMEREMAIL":["a@b.c"],"token_type":"kept","email":"kept"})");
  ASSERT_TRUE(masked.has_value());
  EXPECT_EQ(masked->at("Token"), "***");
  EXPECT_EQ(masked->at("CUSTOMEREMAIL"), "***");
  // Only the exact names are secret; similar names are not.
  EXPECT_EQ(masked->at("token_type"), "kept");
  EXPECT_EQ(masked->at("email"), "kept");
}

TEST(MaskingTest, InvalidJsonIsNotShownAtAll) {
  EXPECT_FALSE(MaskedRawEvent(R"({"token":"tok_en",)").has_value());
  EXPECT_FALSE(MaskedRawEvent("{'token': 'tok_en'}").has_value());
  EXPECT_FALSE(MaskedRawEvent("").has_value());
}

TEST(MaskingTest, ScalarsAndEventsWithoutSecretsAreUnchanged) {
  auto scalar = MaskedRawEvent("42");
  ASSERT_TRUE(scalar.has_value());
  EXPECT_EQ(*scalar, 42);
  auto plain = MaskedRawEvent(R"({"topic":"x","data":{"subscriptionId":"1"}})");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(boost::json::serialize(*plain), R"({"topic":"x","data":{"subscriptionId":"1"}})");
}

TEST(MaskingTest, IsSecretKeyMatchesOnlyTheSecretNames) {
  EXPECT_TRUE(IsSecretKey("token"));
  EXPECT_TRUE(IsSecretKey("customerEmail"));
  EXPECT_TRUE(IsSecretKey("customeremail"));
  EXPECT_FALSE(IsSecretKey("tokens"));
  EXPECT_FALSE(IsSecretKey("customerId"));
  EXPECT_FALSE(IsSecretKey(""));
}

}  // namespace
}  // namespace payorch::admin
