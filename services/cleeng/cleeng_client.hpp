#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "services/cleeng/config.hpp"
#include "services/cleeng/http_transport.hpp"
#include "services/cleeng/messages.hpp"
#include "services/core/result.hpp"

namespace payorch::cleeng {

// Why a Cleeng call ended without the answer it wanted.
struct CleengError {
  enum class Kind {
    kPermanent,  // Cleeng answered 4xx: it refused; the job is dead with `answer` recorded
    kTransient,  // no decision within the call's bounds (5xx, 429, transport): try again later
  };
  Kind kind = Kind::kTransient;
  std::string operation;  // "POST /3.1/orders"
  int http_status = 0;    // 0 when no answer arrived
  std::string answer;     // Cleeng's answer body (at most kMaxRecordedAnswer bytes)
  std::string message;    // what went wrong, for logs and the job's error; never the token
  // One line for the job's error: operation, status, message and Cleeng's answer.
  std::string Describe() const;
};

template <typename T>
using CleengResult = core::Result<T, CleengError>;

inline constexpr std::size_t kMaxRecordedAnswer = 4096;

// What the client needs from its environment, injected so tests advance time instead of waiting.
struct ClientEnvironment {
  std::function<void(std::chrono::milliseconds)> sleep;        // default: this thread sleeps
  std::function<double()> jitter;                              // default: uniform [0, 1)
  std::function<std::chrono::steady_clock::time_point()> now;  // default: steady_clock
};

// Cleeng's Payment API 3.1 (DOMAIN.md), synchronous and bounded: every call returns within
// about config.max_call_time (each exchange bounded by the connect and request timeouts), making
// at most config.max_attempts attempts. 429 (honouring Retry-After), 5xx and transport failures
// are retried with exponential backoff and jitter; a 4xx ends the call at once as kPermanent
// with Cleeng's answer. Thread-safe: the worker may run calls from many threads at once.
//
// Creating is not idempotent at Cleeng, so a create is repeated only when Cleeng cannot have
// acted on the first request (429, or the request was never sent). The Ensure* calls are the
// safe form the flows use: each round first looks for what an earlier round (or an earlier
// attempt of the job, before a crash) may have created, and only creates when nothing is there,
// so a reply lost after the write never makes a second order or payment.
class CleengClient {
 public:
  // Throws std::invalid_argument when config is not Validate()-clean.
  explicit CleengClient(const CleengConfig& config, ClientEnvironment environment = {});

  // Single requests.
  CleengResult<Order> CreateOrder(const OrderRequest& order);
  CleengResult<Payment> CreatePayment(const PaymentRequest& payment);
  // GET /3.1/orders?externalOrderId=... : the order payorch created under that reference.
  CleengResult<std::optional<Order>> FindOrder(const std::string& external_order_id);
  // GET /3.1/payments?orderId=... : the payments reported for an order.
  CleengResult<std::vector<Payment>> FindPayments(const std::string& order_id);
  // PATCH /3.1/payments/{id} to captured or rejected (from authorized).
  CleengResult<Payment> UpdatePaymentStatus(const std::string& payment_id, PaymentStatus status,
                                            const std::string& rejected_reason);
  // PATCH /3.1/payments/{id}/cancel: an authorisation never captured.
  CleengResult<Payment> CancelPayment(const std::string& payment_id);
  // PATCH /3.1/subscriptions/{id} {"status": "terminated"}: setting a state, so repeating it
  // is harmless and it is retried like a read.
  CleengResult<std::monostate> TerminateSubscription(const std::string& subscription_id);

  // Idempotent forms (see above).
  CleengResult<Order> EnsureOrder(const OrderRequest& order);
  // The payment of `payment.order_id` (payorch reports one payment per order), else creates it.
  CleengResult<Payment> EnsurePayment(const PaymentRequest& payment);
  // Moves the payment to `status` unless the order's payment already has it.
  CleengResult<Payment> EnsurePaymentStatus(const std::string& order_id,
                                            const std::string& payment_id, PaymentStatus status,
                                            const std::string& rejected_reason);

 private:
  // The outcome of one round of a call: finished (with a value or an error), or to be retried.
  template <typename T>
  struct Round;
  struct Reply;

  Reply Send(const HttpRequest& request) const;
  template <typename T, typename Fn>
  CleengResult<T> WithRetries(const std::string& operation, Fn&& round);
  // A lookup round as a round of T: nullopt when it produced its value, else its failure.
  template <typename T, typename U>
  static std::optional<Round<T>> Carry(const Round<U>& found);
  template <typename T, typename Parse>
  Round<T> Interpret(const std::string& operation, const Reply& reply, Parse&& parse,
                     bool repeatable) const;

  CleengConfig config_;
  ClientEnvironment environment_;
  HttpTransport transport_;
};

}  // namespace payorch::cleeng
