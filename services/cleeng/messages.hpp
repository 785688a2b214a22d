#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/core/result.hpp"

namespace payorch::cleeng {

// The documents of Cleeng's Payment API 3.1 as payorch sends and reads them (DOMAIN.md,
// "Reporting back to Cleeng"; docs/cleeng.md lists what is assumed beyond it). Answers are
// read from `responseData` when present (Cleeng's envelope), else from the top-level object;
// ids arrive as numbers or strings and become strings.

// Payment statuses, in the API reference's spelling ("authorized"); the one place that maps
// Cleeng's other spelling ("authorised").
enum class PaymentStatus { kAuthorized, kCaptured, kRejected, kCancelled };
std::string_view PaymentStatusName(PaymentStatus status);
std::optional<PaymentStatus> PaymentStatusFromName(std::string_view name);

inline constexpr std::string_view kRecurringPayment = "recurring-payment";

struct OrderRequest {
  std::string customer_id;
  std::string offer_id;
  std::string currency;
  std::string country;
  std::string subscription_id;    // with paymentOperation "recurring-payment", always as a pair
  std::string payment_method_id;  // sent when known
  // payorch's reference for the order (the job's idempotency key): what a retry finds it by.
  std::string external_order_id;
};

struct Order {
  std::string id;
  std::int64_t amount_minor = 0;  // totalPrice in minor units of `currency`
  std::string currency;
  std::string external_order_id;
};

struct PaymentRequest {
  std::string order_id;
  PaymentStatus status = PaymentStatus::kAuthorized;
  std::string payment_details_id;
  std::string payment_method_id;
  std::string external_payment_id;  // the gateway's reference; refunds need it
  std::string subscription_id;
  std::string rejected_reason;  // sent with status rejected
};

struct Payment {
  std::string id;
  std::string order_id;
  std::string status;  // as Cleeng sent it
  std::string external_payment_id;
};

std::string OrderRequestJson(const OrderRequest& order);
std::string PaymentRequestJson(const PaymentRequest& payment);
// PATCH /3.1/payments/{id}: {"status": ..., "rejectedReason": ... when rejected}.
std::string PaymentStatusJson(PaymentStatus status, const std::string& rejected_reason);
// PATCH /3.1/subscriptions/{id}: {"status": "terminated"}.
std::string TerminationJson();

core::Result<Order, std::string> ParseOrder(std::string_view body);
core::Result<Payment, std::string> ParsePayment(std::string_view body);
// A list answer: responseData.items (or a top-level array).
core::Result<std::vector<Order>, std::string> ParseOrders(std::string_view body);
core::Result<std::vector<Payment>, std::string> ParsePayments(std::string_view body);

// `text` percent-encoded for a URL path segment or query value (RFC 3986 unreserved kept).
std::string UrlEncode(std::string_view text);

}  // namespace payorch::cleeng
