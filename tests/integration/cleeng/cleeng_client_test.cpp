// CleengClient against the fake Cleeng API over loopback (plain HTTP, and HTTPS with
// certificates made by the openssl CLI): retries, backoff, Retry-After, 4xx, timeouts, lost
// replies, TLS verification.
#include "services/cleeng/cleeng_client.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "tests/fakes/cleeng/fake_cleeng_server.hpp"
#include "tests/support/tls_certificates.hpp"

namespace payorch::cleeng {
namespace {

using std::chrono::milliseconds;
using testing::fakes::FakeCleengApi;
using testing::fakes::FakeCleengServer;
using Fault = FakeCleengApi::Fault;
using FaultKind = FakeCleengApi::FaultKind;

constexpr const char* kToken = "client-test-token";

OrderRequest Order(const std::string& reference) {
  return OrderRequest{"123321123", "S123123123_US", "USD", "BY", "332332332", "", reference};
}

class CleengClientTest : public ::testing::Test {
 protected:
  CleengConfig Config(const std::string& base_url) {
    CleengConfig config;
    config.enabled = true;
    config.base_url = base_url;
    config.publisher_token = kToken;
    config.connect_timeout = milliseconds(1000);
    config.request_timeout = milliseconds(1000);
    config.max_attempts = 4;
    config.max_call_time = milliseconds(60000);
    config.backoff_base = milliseconds(100);
    config.backoff_max = milliseconds(400);
    return config;
  }
  // Time is injected: the client "sleeps" by recording the delay, so tests never wait on backoff.
  ClientEnvironment Environment() {
    ClientEnvironment environment;
    environment.sleep = [this](milliseconds delay) {
      std::lock_guard lock(mutex_);
      delays_.push_back(delay);
    };
    environment.jitter = [] { return 0.0; };
    return environment;
  }
  std::vector<milliseconds> Delays() {
    std::lock_guard lock(mutex_);
    return delays_;
  }

  FakeCleengServer fake_{{"127.0.0.1", 0, kToken, "", ""}};
  std::mutex mutex_;
  std::vector<milliseconds> delays_;
};

TEST_F(CleengClientTest, CreatesAndFindsAnOrderWithItsAmount) {
  fake_.api().SetOfferPrice("S123123123_US", "8.1300", true);
  CleengClient client(Config(fake_.base_url()), Environment());
  auto order = client.CreateOrder(Order("po1_one"));
  ASSERT_TRUE(order.ok()) << order.error().Describe();
  EXPECT_EQ(order.value().amount_minor, 813);
  EXPECT_EQ(order.value().currency, "USD");
  auto found = client.FindOrder("po1_one");
  ASSERT_TRUE(found.ok()) << found.error().Describe();
  ASSERT_TRUE(found.value().has_value());
  EXPECT_EQ(found.value()->id, order.value().id);
  auto missing = client.FindOrder("po1_other");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing.value().has_value());
  EXPECT_TRUE(Delays().empty());
}

TEST_F(CleengClientTest, ServerErrorsAreRetriedWithExponentialBackoff) {
  fake_.api().InjectFault({FaultKind::kStatus500, 3, "GET", "/3.1/orders", 0, {}});
  CleengClient client(Config(fake_.base_url()), Environment());
  auto found = client.FindOrder("po1_x");
  ASSERT_TRUE(found.ok()) << found.error().Describe();
  // base 100, equal jitter with jitter 0: 50, 100, 200.
  EXPECT_EQ(Delays(),
            (std::vector<milliseconds>{milliseconds(50), milliseconds(100), milliseconds(200)}));
  EXPECT_EQ(fake_.api().State().faults_applied, 3);
}

TEST_F(CleengClientTest, RateLimitHonoursRetryAfterAndIsRepeatedEvenForACreate) {
  fake_.api().InjectFault({FaultKind::kStatus429, 1, "POST", "/3.1/orders", 2, {}});
  CleengClient client(Config(fake_.base_url()), Environment());
  auto order = client.CreateOrder(Order("po1_rl"));
  ASSERT_TRUE(order.ok()) << order.error().Describe();
  EXPECT_EQ(Delays(), std::vector<milliseconds>{milliseconds(2000)});
  EXPECT_EQ(fake_.api().State().orders.size(), 1u);
}

TEST_F(CleengClientTest, AttemptsAreBoundedAndEndTransient) {
  fake_.api().InjectFault({FaultKind::kStatus500, 10, "", "", 0, {}});
  CleengClient client(Config(fake_.base_url()), Environment());
  auto found = client.FindPayments("1");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().kind, CleengError::Kind::kTransient);
  EXPECT_EQ(found.error().http_status, 500);
  EXPECT_EQ(fake_.api().State().faults_applied, 4);  // max_attempts
  EXPECT_EQ(Delays().size(), 3u);
}

TEST_F(CleengClientTest, TheCallTimeBoundStopsRetriesEarly) {
  fake_.api().InjectFault({FaultKind::kStatus429, 10, "", "", 30, {}});
  CleengConfig config = Config(fake_.base_url());
  config.max_call_time = milliseconds(10000);  // a 30 s Retry-After does not fit
  CleengClient client(config, Environment());
  auto found = client.FindOrder("po1_t");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().kind, CleengError::Kind::kTransient);
  EXPECT_EQ(found.error().http_status, 429);
  EXPECT_TRUE(Delays().empty());
  EXPECT_EQ(fake_.api().State().faults_applied, 1);
}

TEST_F(CleengClientTest, AFourHundredIsPermanentAtOnceWithCleengsAnswer) {
  CleengClient client(Config(fake_.base_url()), Environment());
  OrderRequest order = Order("po1_bad");
  order.offer_id.clear();
  auto created = client.CreateOrder(order);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().kind, CleengError::Kind::kPermanent);
  EXPECT_EQ(created.error().http_status, 422);
  EXPECT_NE(created.error().answer.find("offerId is required"), std::string::npos);
  EXPECT_NE(created.error().Describe().find("POST /3.1/orders answered 422"), std::string::npos);
  EXPECT_TRUE(Delays().empty());
}

TEST_F(CleengClientTest, AWrongTokenIsRefusedAndNeverShownInTheError) {
  CleengConfig config = Config(fake_.base_url());
  config.publisher_token = "not-the-right-token";
  CleengClient client(config, Environment());
  auto found = client.FindOrder("po1_x");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().http_status, 401);
  EXPECT_EQ(found.error().Describe().find("not-the-right-token"), std::string::npos);
}

TEST_F(CleengClientTest, AHungRequestTimesOutAndIsRetried) {
  fake_.api().InjectFault({FaultKind::kHang, 1, "GET", "", 0, milliseconds(3000)});
  CleengConfig config = Config(fake_.base_url());
  config.request_timeout = milliseconds(300);
  CleengClient client(config, Environment());
  auto found = client.FindOrder("po1_h");
  ASSERT_TRUE(found.ok()) << found.error().Describe();
  EXPECT_EQ(Delays().size(), 1u);
}

TEST_F(CleengClientTest, ACreateWhoseReplyIsLostIsNotRepeatedButEnsureFindsIt) {
  fake_.api().InjectFault({FaultKind::kDropAfterWrite, 1, "POST", "/3.1/orders", 0, {}});
  CleengClient client(Config(fake_.base_url()), Environment());
  auto created = client.CreateOrder(Order("po1_lost"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().kind, CleengError::Kind::kTransient);
  EXPECT_NE(created.error().message.find("may have been applied"), std::string::npos);
  EXPECT_EQ(fake_.api().State().orders.size(), 1u);  // written once, not repeated

  fake_.api().InjectFault({FaultKind::kDropAfterWrite, 1, "POST", "/3.1/orders", 0, {}});
  auto ensured = client.EnsureOrder(Order("po1_lost2"));
  ASSERT_TRUE(ensured.ok()) << ensured.error().Describe();
  const auto state = fake_.api().State();
  ASSERT_EQ(state.orders.size(), 2u);  // one per reference
  EXPECT_EQ(state.orders[1].id, ensured.value().id);
  auto again = client.EnsureOrder(Order("po1_lost2"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().id, ensured.value().id);
  EXPECT_EQ(fake_.api().State().orders.size(), 2u);
}

TEST_F(CleengClientTest, APaymentStatusChangeWhoseReplyIsLostIsNotRefusedOnTheRetry) {
  CleengClient client(Config(fake_.base_url()), Environment());
  auto order = client.EnsureOrder(Order("po1_pay"));
  ASSERT_TRUE(order.ok());
  PaymentRequest request;
  request.order_id = order.value().id;
  request.status = PaymentStatus::kAuthorized;
  request.external_payment_id = "sbx_1";
  request.subscription_id = "332332332";
  auto payment = client.EnsurePayment(request);
  ASSERT_TRUE(payment.ok()) << payment.error().Describe();
  fake_.api().InjectFault({FaultKind::kDropAfterWrite, 1, "PATCH", "/3.1/payments/", 0, {}});
  auto captured = client.EnsurePaymentStatus(order.value().id, payment.value().id,
                                             PaymentStatus::kCaptured, "");
  ASSERT_TRUE(captured.ok()) << captured.error().Describe();
  const auto state = fake_.api().State();
  ASSERT_EQ(state.payments.size(), 1u);
  EXPECT_EQ(state.payments[0].history, (std::vector<std::string>{"authorized", "captured"}));
  // A raw PATCH now is refused: Cleeng moves payments only from authorized.
  auto again = client.UpdatePaymentStatus(payment.value().id, PaymentStatus::kCaptured, "");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, CleengError::Kind::kPermanent);
}

TEST_F(CleengClientTest, HttpsVerifiesTheServerAgainstTheConfiguredCa) {
  const auto certificates = testing::MakeTlsCertificates();
  FakeCleengServer tls_fake(
      {"127.0.0.1", 0, kToken, certificates.server_cert, certificates.server_key});
  ASSERT_EQ(tls_fake.base_url().rfind("https://", 0), 0u);

  CleengConfig trusted = Config(tls_fake.base_url());
  trusted.ca_file = certificates.ca_cert;
  CleengClient client(trusted, Environment());
  auto order = client.EnsureOrder(Order("po1_tls"));
  ASSERT_TRUE(order.ok()) << order.error().Describe();
  EXPECT_EQ(tls_fake.api().State().orders.size(), 1u);

  // A CA that did not sign the server's certificate: the handshake fails, nothing is sent.
  CleengConfig rogue = trusted;
  rogue.ca_file = certificates.rogue_ca_cert;
  rogue.max_attempts = 1;
  CleengClient refused(rogue, Environment());
  auto failed = refused.FindOrder("po1_tls");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().http_status, 0);
  EXPECT_NE(failed.error().message.find("tls handshake"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(tls_fake.api().State().requests, 2);  // the lookup and the create above only
}

}  // namespace
}  // namespace payorch::cleeng
