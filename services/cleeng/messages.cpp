#include "services/cleeng/messages.hpp"

#include <boost/json.hpp>

#include "services/cleeng/money.hpp"

namespace payorch::cleeng {
namespace {

namespace json = boost::json;

// Sets `key` only when `value` is non-empty: Cleeng validates absent and empty differently, and
// payorch never sends a field it does not know.
void SetIfPresent(json::object& object, std::string_view key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

std::string Text(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return {};
  if (value->is_string()) return std::string(value->get_string());
  if (value->is_int64()) return std::to_string(value->get_int64());
  if (value->is_uint64()) return std::to_string(value->get_uint64());
  return {};
}

// The object or array an answer carries: responseData when present.
core::Result<json::value, std::string> Payload(std::string_view body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) return "answer is not JSON: " + ec.message();
  if (value.is_object()) {
    if (const json::value* data = value.as_object().if_contains("responseData")) {
      return *data;
    }
  }
  return value;
}

core::Result<Order, std::string> OrderFrom(const json::value& value) {
  if (!value.is_object()) return std::string("order is not an object");
  const json::object& object = value.as_object();
  Order order;
  order.id = Text(object, "id");
  if (order.id.empty()) order.id = Text(object, "orderId");
  order.currency = Text(object, "currency");
  order.external_order_id = Text(object, "externalOrderId");
  if (order.id.empty()) return std::string("order has no id");
  if (order.currency.empty()) return std::string("order has no currency");
  const json::value* price = object.if_contains("totalPrice");
  if (price == nullptr) return std::string("order has no totalPrice");
  auto amount = JsonMinorUnits(*price, order.currency);
  if (!amount.ok()) return "order totalPrice: " + amount.error();
  order.amount_minor = amount.value();
  return order;
}

core::Result<Payment, std::string> PaymentFrom(const json::value& value) {
  if (!value.is_object()) return std::string("payment is not an object");
  const json::object& object = value.as_object();
  Payment payment;
  payment.id = Text(object, "id");
  if (payment.id.empty()) payment.id = Text(object, "paymentId");
  payment.order_id = Text(object, "orderId");
  payment.status = Text(object, "status");
  payment.external_payment_id = Text(object, "externalPaymentId");
  if (payment.id.empty()) return std::string("payment has no id");
  return payment;
}

template <typename T, typename From>
core::Result<std::vector<T>, std::string> ListFrom(std::string_view body, From from) {
  auto payload = Payload(body);
  if (!payload.ok()) return payload.error();
  const json::value* items = &payload.value();
  if (items->is_object()) items = items->as_object().if_contains("items");
  if (items == nullptr || !items->is_array()) return std::string("list answer has no items");
  std::vector<T> out;
  for (const json::value& item : items->as_array()) {
    auto parsed = from(item);
    if (!parsed.ok()) return parsed.error();
    out.push_back(std::move(parsed.value()));
  }
  return out;
}

}  // namespace

std::string_view PaymentStatusName(PaymentStatus status) {
  switch (status) {
    case PaymentStatus::kAuthorized: return "authorized";
    case PaymentStatus::kCaptured: return "captured";
    case PaymentStatus::kRejected: return "rejected";
    case PaymentStatus::kCancelled: return "cancelled";
  }
  return "rejected";
}

std::optional<PaymentStatus> PaymentStatusFromName(std::string_view name) {
  if (name == "authorized" || name == "authorised") return PaymentStatus::kAuthorized;
  if (name == "captured") return PaymentStatus::kCaptured;
  if (name == "rejected") return PaymentStatus::kRejected;
  if (name == "cancelled" || name == "canceled") return PaymentStatus::kCancelled;
  return std::nullopt;
}

std::string OrderRequestJson(const OrderRequest& order) {
  json::object object;
  SetIfPresent(object, "customerId", order.customer_id);
  SetIfPresent(object, "offerId", order.offer_id);
  SetIfPresent(object, "currency", order.currency);
  SetIfPresent(object, "country", order.country);
  SetIfPresent(object, "paymentMethodId", order.payment_method_id);
  SetIfPresent(object, "externalOrderId", order.external_order_id);
  object["paymentOperation"] = kRecurringPayment;
  object["subscriptionId"] = order.subscription_id;
  return json::serialize(object);
}

std::string PaymentRequestJson(const PaymentRequest& payment) {
  json::object object;
  object["orderId"] = payment.order_id;
  object["status"] = PaymentStatusName(payment.status);
  object["paymentOperation"] = kRecurringPayment;
  SetIfPresent(object, "paymentDetailsId", payment.payment_details_id);
  SetIfPresent(object, "paymentMethodId", payment.payment_method_id);
  SetIfPresent(object, "externalPaymentId", payment.external_payment_id);
  object["subscriptionId"] = payment.subscription_id;
  if (payment.status == PaymentStatus::kRejected) {
    object["rejectedReason"] =
        payment.rejected_reason.empty() ? "declined" : payment.rejected_reason;
  }
  return json::serialize(object);
}

std::string PaymentStatusJson(PaymentStatus status, const std::string& rejected_reason) {
  json::object object;
  object["status"] = PaymentStatusName(status);
  if (status == PaymentStatus::kRejected) {
    object["rejectedReason"] = rejected_reason.empty() ? "declined" : rejected_reason;
  }
  return json::serialize(object);
}

std::string TerminationJson() {
  return R"({"status":"terminated"})";
}

core::Result<Order, std::string> ParseOrder(std::string_view body) {
  auto payload = Payload(body);
  if (!payload.ok()) return payload.error();
  return OrderFrom(payload.value());
}

core::Result<Payment, std::string> ParsePayment(std::string_view body) {
  auto payload = Payload(body);
  if (!payload.ok()) return payload.error();
  return PaymentFrom(payload.value());
}

core::Result<std::vector<Order>, std::string> ParseOrders(std::string_view body) {
  return ListFrom<Order>(body, OrderFrom);
}

core::Result<std::vector<Payment>, std::string> ParsePayments(std::string_view body) {
  return ListFrom<Payment>(body, PaymentFrom);
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

}  // namespace payorch::cleeng
