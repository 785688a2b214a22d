// The fake Cleeng API's rules (socket-free): what tests of payorch rely on it to refuse.
#include "tests/fakes/cleeng/fake_cleeng_api.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace payorch::testing::fakes {
namespace {

namespace json = boost::json;
using Response = FakeCleengApi::Response;

constexpr const char* kToken = "secret-token";
constexpr const char* kOrder =
    R"({"customerId":"1","offerId":"S1_US","currency":"USD","country":"US",)"
    R"("paymentOperation":"recurring-payment","subscriptionId":"9"})";

class FakeCleengApiTest : public ::testing::Test {
 protected:
  Response Call(const std::string& method, const std::string& target, const std::string& body,
                const std::string& token = kToken) {
    return api_.Handle({method, target, token, body});
  }
  std::string CreateOrder() {
    const Response response = Call("POST", "/3.1/orders", kOrder);
    EXPECT_EQ(response.status, 200) << response.body;
    return std::to_string(json::parse(response.body).at("responseData").at("id").as_int64());
  }
  std::string CreatePayment(const std::string& order_id, const std::string& status) {
    const Response response =
        Call("POST", "/3.1/payments",
             R"({"orderId":")" + order_id + R"(","status":")" + status +
                 R"(","paymentOperation":"recurring-payment","subscriptionId":"9",)"
                 R"("externalPaymentId":"sbx_1"})");
    EXPECT_EQ(response.status, 200) << response.body;
    return std::string(json::parse(response.body).at("responseData").at("id").as_string());
  }

  FakeCleengApi api_{kToken};
};

TEST_F(FakeCleengApiTest, ThePublisherTokenIsRequired) {
  EXPECT_EQ(Call("POST", "/3.1/orders", kOrder, "").status, 401);
  EXPECT_EQ(Call("POST", "/3.1/orders", kOrder, "wrong").status, 401);
  EXPECT_TRUE(api_.State().orders.empty());
}

TEST_F(FakeCleengApiTest, OrdersNeedTheirFieldsAndTheOperationPair) {
  EXPECT_EQ(Call("POST", "/3.1/orders", "{'bad': json,}").status, 400);
  EXPECT_EQ(
      Call("POST", "/3.1/orders", R"({"offerId":"S1","currency":"USD","country":"US"})").status,
      422);
  EXPECT_EQ(Call("POST", "/3.1/orders",
                 R"({"customerId":"1","offerId":"S1","currency":"USD","country":"US",)"
                 R"("paymentOperation":"recurring-payment"})")
                .status,
            422);
  EXPECT_EQ(Call("POST", "/3.1/orders",
                 R"({"customerId":"1","offerId":"S1","currency":"USD","country":"US",)"
                 R"("subscriptionId":"9"})")
                .status,
            422);
  EXPECT_TRUE(api_.State().orders.empty());
  CreateOrder();
  EXPECT_EQ(api_.State().orders.size(), 1u);
}

TEST_F(FakeCleengApiTest, PaymentsFollowTheAllowedStatusesAndTransitions) {
  const std::string order_id = CreateOrder();
  EXPECT_EQ(Call("POST", "/3.1/payments",
                 R"({"orderId":")" + order_id +
                     R"(","status":"paid","paymentOperation":"recurring-payment",)"
                     R"("subscriptionId":"9","externalPaymentId":"x"})")
                .status,
            422);
  EXPECT_EQ(Call("POST", "/3.1/payments",
                 R"({"orderId":")" + order_id +
                     R"(","status":"rejected","paymentOperation":"recurring-payment",)"
                     R"("subscriptionId":"9"})")
                .status,
            422);  // no rejectedReason
  EXPECT_EQ(Call("POST", "/3.1/payments",
                 R"({"orderId":"404","status":"captured","paymentOperation":"recurring-payment",)"
                 R"("subscriptionId":"9","externalPaymentId":"x"})")
                .status,
            404);
  const std::string captured = CreatePayment(order_id, "captured");
  EXPECT_EQ(Call("PATCH", "/3.1/payments/" + captured, R"({"status":"rejected"})").status, 422);
  const std::string authorized = CreatePayment(order_id, "authorized");
  EXPECT_EQ(Call("PATCH", "/3.1/payments/" + authorized, R"({"status":"cancelled"})").status, 422);
  EXPECT_EQ(Call("PATCH", "/3.1/payments/" + authorized, R"({"status":"captured"})").status, 200);
  EXPECT_EQ(Call("PATCH", "/3.1/payments/" + authorized + "/cancel", "").status, 422);
  const auto state = api_.State();
  ASSERT_EQ(state.payments.size(), 2u);
  EXPECT_EQ(state.payments[1].history, (std::vector<std::string>{"authorized", "captured"}));
}

TEST_F(FakeCleengApiTest, LookupsFindByReferenceAndOrder) {
  const std::string order_id = CreateOrder();
  CreatePayment(order_id, "authorized");
  Call("POST", "/3.1/orders",
       R"({"customerId":"1","offerId":"S1","currency":"USD","country":"US",)"
       R"("externalOrderId":"po1_x y"})");
  const Response orders = Call("GET", "/3.1/orders?externalOrderId=po1_x%20y", "");
  EXPECT_EQ(json::parse(orders.body).at("responseData").at("items").as_array().size(), 1u);
  const Response none = Call("GET", "/3.1/orders?externalOrderId=other", "");
  EXPECT_TRUE(json::parse(none.body).at("responseData").at("items").as_array().empty());
  const Response payments = Call("GET", "/3.1/payments?orderId=" + order_id, "");
  EXPECT_EQ(json::parse(payments.body).at("responseData").at("items").as_array().size(), 1u);
}

TEST_F(FakeCleengApiTest, FaultsHitMatchingRequestsThenWearOff) {
  api_.InjectFault({FakeCleengApi::FaultKind::kStatus429, 1, "POST", "/3.1/orders", 7, {}});
  api_.InjectFault({FakeCleengApi::FaultKind::kDropAfterWrite, 1, "POST", "/3.1/orders", 0, {}});
  EXPECT_EQ(Call("GET", "/3.1/payments?orderId=1", "").status, 200);  // does not match
  const Response limited = Call("POST", "/3.1/orders", kOrder);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.retry_after, "7");
  EXPECT_TRUE(api_.State().orders.empty());
  EXPECT_EQ(Call("POST", "/3.1/orders", kOrder).action, Response::Action::kDrop);
  EXPECT_EQ(api_.State().orders.size(), 1u);  // written, reply dropped
  EXPECT_EQ(Call("POST", "/3.1/orders", kOrder).action, Response::Action::kAnswer);
  EXPECT_EQ(api_.State().faults_applied, 2);
}

TEST_F(FakeCleengApiTest, TerminationIsASetState) {
  EXPECT_EQ(Call("PATCH", "/3.1/subscriptions/9", R"({"status":"active"})").status, 422);
  EXPECT_EQ(Call("PATCH", "/3.1/subscriptions/9", R"({"status":"terminated"})").status, 200);
  EXPECT_EQ(Call("POST", "/3.1/subscriptions/9/terminate", "").status, 200);
  EXPECT_EQ(api_.State().subscriptions.at("9").status, "terminated");
  EXPECT_EQ(api_.State().subscriptions.at("9").termination_requests, 2);
}

}  // namespace
}  // namespace payorch::testing::fakes
