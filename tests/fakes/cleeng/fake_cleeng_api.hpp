#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace payorch::testing::fakes {

// A faithful stand-in for the part of Cleeng's Payment API 3.1 payorch uses (DOMAIN.md,
// "Reporting back to Cleeng"; docs/cleeng.md lists the assumed lookups), for tests only. Socket
// free: FakeCleengServer feeds it requests. Thread-safe. Rules enforced:
//   - every /3.1 request needs X-Publisher-Token equal to the configured token (401 otherwise);
//   - bodies must be JSON objects (400); required fields present and non-empty (422);
//   - paymentOperation and subscriptionId come as a pair, paymentOperation "recurring-payment";
//   - payment statuses: POST authorized | captured | rejected (rejectedReason required with
//     rejected, externalPaymentId otherwise), an existing orderId (404 otherwise);
//   - PATCH moves a payment to captured | rejected, and /cancel to cancelled, only from
//     authorized (422 otherwise);
//   - PATCH /3.1/subscriptions/{id} {"status":"terminated"} (and the newer
//     POST .../terminate) terminate the subscription; repeating it is harmless.
// It keeps everything it was sent (State) and fails on demand (InjectFault).
class FakeCleengApi {
 public:
  enum class FaultKind {
    kStatus500,       // answer 500 without acting
    kStatus429,       // answer 429 with Retry-After, without acting
    kHang,            // hold the request for `hang` without acting, then close without answering
    kDropAfterWrite,  // act on the request, then close without answering (the reply is lost)
  };
  struct Fault {
    FaultKind kind = FaultKind::kStatus500;
    int count = 1;                // how many matching requests it hits
    std::string method;           // "" any, else "POST", "GET", "PATCH"
    std::string path_prefix;      // "" any, else e.g. "/3.1/orders"
    int retry_after_seconds = 0;  // kStatus429
    std::chrono::milliseconds hang{0};
  };

  struct Request {
    std::string method;
    std::string target;  // path and query
    std::string publisher_token;
    std::string body;
  };
  struct Response {
    enum class Action { kAnswer, kDrop, kHang };
    Action action = Action::kAnswer;
    int status = 200;
    std::string body;
    std::string retry_after;
    std::chrono::milliseconds hang{0};
  };

  struct Order {
    std::string id;
    std::string customer_id, offer_id, currency, country, subscription_id, payment_method_id;
    std::string external_order_id;
    std::string total_price;  // decimal text
  };
  struct Payment {
    std::string id, order_id, status, payment_operation, payment_details_id, payment_method_id;
    std::string external_payment_id, subscription_id, rejected_reason;
    std::vector<std::string> history;  // every status it had, in order
  };
  struct Subscription {
    std::string status;
    int termination_requests = 0;
  };
  struct Snapshot {
    std::vector<Order> orders;
    std::vector<Payment> payments;
    std::map<std::string, Subscription> subscriptions;
    int requests = 0;        // /3.1 requests received
    int faults_applied = 0;  // requests a fault hit
  };

  explicit FakeCleengApi(std::string publisher_token);

  Response Handle(const Request& request);

  void InjectFault(const Fault& fault);
  // The price of an offer's orders (decimal text), and whether it is sent as a JSON number
  // (5.25) or a string ("8.1300"): Cleeng does both. Default "12.99" as a number.
  void SetOfferPrice(const std::string& offer_id, const std::string& price, bool as_string);
  Snapshot State() const;
  std::string StateJson() const;

 private:
  Response Api(const Request& request);  // with mutex_ held
  Response CreateOrder(const std::string& body);
  Response CreatePayment(const std::string& body);
  Response UpdatePayment(const std::string& id, const std::string& body, bool cancel);
  Response Terminate(const std::string& id, const std::string& body, bool newer_endpoint);
  Response Control(const Request& request);
  std::string OrderJson(const Order& order) const;
  std::string StateJsonLocked() const;

  const std::string publisher_token_;
  mutable std::mutex mutex_;
  std::deque<Fault> faults_;
  std::map<std::string, std::pair<std::string, bool>> prices_;
  std::vector<Order> orders_;
  std::vector<Payment> payments_;
  std::map<std::string, Subscription> subscriptions_;
  int requests_ = 0;
  int faults_applied_ = 0;
  std::int64_t next_id_ = 700000001;
};

}  // namespace payorch::testing::fakes
