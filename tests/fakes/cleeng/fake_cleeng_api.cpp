#include "tests/fakes/cleeng/fake_cleeng_api.hpp"

#include <boost/json.hpp>
#include <charconv>

namespace payorch::testing::fakes {
namespace {

namespace json = boost::json;
using Response = FakeCleengApi::Response;

constexpr std::size_t kMaxRecords = 100000;  // bounds a long-running fake's memory

Response Answer(int status, const json::value& data) {
  json::object envelope;
  envelope["responseData"] = data;
  envelope["errors"] = json::array();
  return Response{Response::Action::kAnswer, status, json::serialize(envelope), "", {}};
}

// A list answer: the items and their count.
Response AnswerList(json::array items) {
  json::object data;
  data["totalCount"] = items.size();
  data["items"] = std::move(items);
  return Answer(200, data);
}

Response Error(int status, std::string_view code, std::string_view message) {
  json::object error;
  error["code"] = code;
  error["message"] = message;
  json::object envelope;
  envelope["responseData"] = json::object();
  envelope["errors"] = json::array{error};
  return Response{Response::Action::kAnswer, status, json::serialize(envelope), "", {}};
}

// A field as text: strings as they are, integers (Cleeng's ids) in decimal; "" when absent.
std::string Text(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return {};
  if (value->is_string()) return std::string(value->get_string());
  if (value->is_int64()) return std::to_string(value->get_int64());
  if (value->is_uint64()) return std::to_string(value->get_uint64());
  return {};
}

std::optional<json::object> ParseObject(const std::string& body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return value.as_object();
}

// The first required field that is missing or empty, or "".
std::string MissingField(const json::object& object, std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    if (Text(object, key).empty()) return std::string(key);
  }
  return {};
}

// paymentOperation and subscriptionId: both or neither, and a known operation.
std::optional<Response> CheckOperationPair(const json::object& body) {
  const bool has_operation = !Text(body, "paymentOperation").empty();
  const bool has_subscription = !Text(body, "subscriptionId").empty();
  if (has_operation != has_subscription) {
    return Error(422, "invalid_request",
                 "paymentOperation and subscriptionId must be sent together");
  }
  if (has_operation && Text(body, "paymentOperation") != "recurring-payment" &&
      Text(body, "paymentOperation") != "initial-payment") {
    return Error(422, "invalid_request", "unknown paymentOperation");
  }
  return std::nullopt;
}

// "/3.1/orders?externalOrderId=x" -> value of `key` ("" when absent), percent-decoded.
std::string QueryValue(std::string_view target, std::string_view key) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key && eq != std::string_view::npos) {
      std::string out;
      const std::string_view raw = pair.substr(eq + 1);
      for (std::size_t i = 0; i < raw.size(); ++i) {
        int byte = 0;
        if (raw[i] == '%' && i + 2 < raw.size() &&
            std::from_chars(raw.data() + i + 1, raw.data() + i + 3, byte, 16).ec == std::errc()) {
          out += static_cast<char>(byte);
          i += 2;
        } else {
          out += raw[i];
        }
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

json::object PaymentObject(const FakeCleengApi::Payment& payment) {
  json::object out;
  out["id"] = payment.id;
  out["orderId"] = payment.order_id;
  out["status"] = payment.status;
  out["paymentOperation"] = payment.payment_operation;
  out["paymentDetailsId"] = payment.payment_details_id;
  out["externalPaymentId"] = payment.external_payment_id;
  out["subscriptionId"] = payment.subscription_id;
  if (!payment.rejected_reason.empty()) out["rejectedReason"] = payment.rejected_reason;
  json::array history;
  for (const auto& status : payment.history) history.emplace_back(status);
  out["history"] = std::move(history);
  return out;
}

FakeCleengApi::FaultKind FaultKindFromName(std::string_view name) {
  if (name == "429") return FakeCleengApi::FaultKind::kStatus429;
  if (name == "hang") return FakeCleengApi::FaultKind::kHang;
  if (name == "drop") return FakeCleengApi::FaultKind::kDropAfterWrite;
  return FakeCleengApi::FaultKind::kStatus500;
}

}  // namespace

FakeCleengApi::FakeCleengApi(std::string publisher_token)
    : publisher_token_(std::move(publisher_token)) {}

void FakeCleengApi::InjectFault(const Fault& fault) {
  std::lock_guard lock(mutex_);
  faults_.push_back(fault);
}

void FakeCleengApi::SetOfferPrice(const std::string& offer_id, const std::string& price,
                                  bool as_string) {
  std::lock_guard lock(mutex_);
  prices_[offer_id] = {price, as_string};
}

FakeCleengApi::Snapshot FakeCleengApi::State() const {
  std::lock_guard lock(mutex_);
  return Snapshot{orders_, payments_, subscriptions_, requests_, faults_applied_};
}

Response FakeCleengApi::Handle(const Request& request) {
  std::lock_guard lock(mutex_);
  if (request.target.starts_with("/_fake/")) return Control(request);
  ++requests_;
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((!it->method.empty() && it->method != request.method) ||
        !request.target.starts_with(it->path_prefix)) {
      continue;
    }
    const Fault fault = *it;
    if (--it->count <= 0) faults_.erase(it);
    ++faults_applied_;
    switch (fault.kind) {
      case FaultKind::kStatus500: return Error(500, "internal_error", "injected failure");
      case FaultKind::kStatus429: {
        Response response = Error(429, "too_many_requests", "injected rate limit");
        response.retry_after = std::to_string(fault.retry_after_seconds);
        return response;
      }
      case FaultKind::kHang: return Response{Response::Action::kHang, 0, "", "", fault.hang};
      case FaultKind::kDropAfterWrite: {
        Response response = Api(request);
        response.action = Response::Action::kDrop;
        return response;
      }
    }
  }
  return Api(request);
}

Response FakeCleengApi::Api(const Request& request) {
  if (request.publisher_token.empty() || request.publisher_token != publisher_token_) {
    return Error(401, "unauthorized", "invalid or missing X-Publisher-Token");
  }
  if (orders_.size() + payments_.size() >= kMaxRecords) {
    return Error(507, "full", "the fake keeps at most 100000 records");
  }
  const std::string& m = request.method;
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/3.1/orders") {
    if (m == "POST") return CreateOrder(request.body);
    if (m == "GET") {
      const std::string reference = QueryValue(request.target, "externalOrderId");
      json::array items;
      for (const Order& order : orders_) {
        if (!reference.empty() && order.external_order_id == reference) {
          items.push_back(json::parse(OrderJson(order)));
        }
      }
      return AnswerList(std::move(items));
    }
    return Error(405, "method_not_allowed", "method not allowed");
  }
  if (path == "/3.1/payments") {
    if (m == "POST") return CreatePayment(request.body);
    if (m == "GET") {
      const std::string order_id = QueryValue(request.target, "orderId");
      json::array items;
      for (const Payment& payment : payments_) {
        if (!order_id.empty() && payment.order_id == order_id)
          items.push_back(PaymentObject(payment));
      }
      return AnswerList(std::move(items));
    }
    return Error(405, "method_not_allowed", "method not allowed");
  }
  constexpr std::string_view kPayments = "/3.1/payments/";
  constexpr std::string_view kSubscriptions = "/3.1/subscriptions/";
  if (path.starts_with(kPayments) && m == "PATCH") {
    std::string id = path.substr(kPayments.size());
    const bool cancel = id.ends_with("/cancel");
    if (cancel) id.resize(id.size() - 7);
    return UpdatePayment(id, request.body, cancel);
  }
  if (path.starts_with(kSubscriptions)) {
    std::string id = path.substr(kSubscriptions.size());
    if (m == "PATCH" && id.find('/') == std::string::npos)
      return Terminate(id, request.body, false);
    if (m == "POST" && id.ends_with("/terminate")) {
      id.resize(id.size() - 10);
      return Terminate(id, request.body, true);
    }
  }
  return Error(404, "not_found", "no such endpoint");
}

Response FakeCleengApi::CreateOrder(const std::string& text) {
  const auto body = ParseObject(text);
  if (!body) return Error(400, "invalid_json", "body is not a JSON object");
  if (auto missing = MissingField(*body, {"customerId", "offerId", "currency", "country"});
      !missing.empty()) {
    return Error(422, "missing_field", missing + " is required");
  }
  if (auto problem = CheckOperationPair(*body)) return *problem;
  Order order;
  order.id = std::to_string(next_id_++);
  order.customer_id = Text(*body, "customerId");
  order.offer_id = Text(*body, "offerId");
  order.currency = Text(*body, "currency");
  order.country = Text(*body, "country");
  order.subscription_id = Text(*body, "subscriptionId");
  order.payment_method_id = Text(*body, "paymentMethodId");
  order.external_order_id = Text(*body, "externalOrderId");
  const auto price = prices_.find(order.offer_id);
  order.total_price = price == prices_.end() ? "12.99" : price->second.first;
  orders_.push_back(order);
  return Answer(200, json::parse(OrderJson(order)));
}

std::string FakeCleengApi::OrderJson(const Order& order) const {
  json::object out;
  out["id"] = std::stoll(order.id);  // Cleeng's ids are integers
  out["customerId"] = order.customer_id;
  out["offerId"] = order.offer_id;
  out["currency"] = order.currency;
  out["country"] = order.country;
  if (!order.subscription_id.empty()) {
    out["subscriptionId"] = order.subscription_id;
    out["paymentOperation"] = "recurring-payment";
  }
  if (!order.external_order_id.empty()) out["externalOrderId"] = order.external_order_id;
  const auto price = prices_.find(order.offer_id);
  const bool as_string = price != prices_.end() && price->second.second;
  if (as_string) {
    out["totalPrice"] = order.total_price;
  } else {
    out["totalPrice"] = json::parse(order.total_price);
  }
  return json::serialize(out);
}

Response FakeCleengApi::CreatePayment(const std::string& text) {
  const auto body = ParseObject(text);
  if (!body) return Error(400, "invalid_json", "body is not a JSON object");
  if (auto missing = MissingField(*body, {"orderId", "status", "paymentOperation"});
      !missing.empty()) {
    return Error(422, "missing_field", missing + " is required");
  }
  if (auto problem = CheckOperationPair(*body)) return *problem;
  const std::string status = Text(*body, "status");
  if (status != "authorized" && status != "captured" && status != "rejected") {
    return Error(422, "invalid_status", "status must be authorized, captured or rejected");
  }
  if (status == "rejected" && Text(*body, "rejectedReason").empty()) {
    return Error(422, "missing_field", "rejectedReason is required with status rejected");
  }
  if (status != "rejected" && Text(*body, "externalPaymentId").empty()) {
    return Error(422, "missing_field", "externalPaymentId is required");
  }
  const std::string order_id = Text(*body, "orderId");
  bool known = false;
  for (const Order& order : orders_) known = known || order.id == order_id;
  if (!known) return Error(404, "order_not_found", "no order " + order_id);
  Payment payment;
  payment.id = std::to_string(next_id_++);
  payment.order_id = order_id;
  payment.status = status;
  payment.payment_operation = Text(*body, "paymentOperation");
  payment.payment_details_id = Text(*body, "paymentDetailsId");
  payment.payment_method_id = Text(*body, "paymentMethodId");
  payment.external_payment_id = Text(*body, "externalPaymentId");
  payment.subscription_id = Text(*body, "subscriptionId");
  payment.rejected_reason = Text(*body, "rejectedReason");
  payment.history.push_back(status);
  payments_.push_back(payment);
  return Answer(200, PaymentObject(payment));
}

Response FakeCleengApi::UpdatePayment(const std::string& id, const std::string& text, bool cancel) {
  const auto body = ParseObject(text.empty() ? "{}" : text);
  if (!body) return Error(400, "invalid_json", "body is not a JSON object");
  for (Payment& payment : payments_) {
    if (payment.id != id) continue;
    const std::string status = cancel ? "cancelled" : Text(*body, "status");
    if (!cancel && status != "captured" && status != "rejected") {
      return Error(422, "invalid_status", "status must be captured or rejected");
    }
    if (payment.status != "authorized") {
      return Error(422, "invalid_transition",
                   "payment is " + payment.status + "; only an authorized payment can change");
    }
    payment.status = status;
    if (status == "rejected") payment.rejected_reason = Text(*body, "rejectedReason");
    payment.history.push_back(status);
    return Answer(200, PaymentObject(payment));
  }
  return Error(404, "payment_not_found", "no payment " + id);
}

Response FakeCleengApi::Terminate(const std::string& id, const std::string& text,
                                  bool newer_endpoint) {
  const auto body = ParseObject(text.empty() ? "{}" : text);
  if (!body) return Error(400, "invalid_json", "body is not a JSON object");
  if (!newer_endpoint && Text(*body, "status") != "terminated") {
    return Error(422, "invalid_status", "status must be terminated");
  }
  if (id.empty()) return Error(404, "not_found", "no subscription id");
  Subscription& subscription = subscriptions_[id];
  subscription.status = "terminated";
  ++subscription.termination_requests;
  json::object data;
  data["subscriptionId"] = id;
  data["status"] = "terminated";
  return Answer(200, data);
}

Response FakeCleengApi::Control(const Request& request) {
  if (request.target == "/_fake/state" && request.method == "GET") {
    return Response{Response::Action::kAnswer, 200, StateJsonLocked(), "", {}};
  }
  const auto body = ParseObject(request.body);
  if (!body) return Error(400, "invalid_json", "body is not a JSON object");
  if (request.target == "/_fake/faults" && request.method == "POST") {
    Fault fault;
    fault.kind = FaultKindFromName(Text(*body, "kind"));
    const std::string count = Text(*body, "count");
    fault.count = count.empty() ? 1 : std::stoi(count);
    fault.method = Text(*body, "method");
    fault.path_prefix = Text(*body, "pathPrefix");
    const std::string retry_after = Text(*body, "retryAfterSeconds");
    fault.retry_after_seconds = retry_after.empty() ? 0 : std::stoi(retry_after);
    const std::string hang = Text(*body, "hangMs");
    fault.hang = std::chrono::milliseconds(hang.empty() ? 0 : std::stoll(hang));
    faults_.push_back(fault);
    return Answer(200, json::object());
  }
  if (request.target == "/_fake/prices" && request.method == "POST") {
    prices_[Text(*body, "offerId")] = {Text(*body, "price"), Text(*body, "asString") == "true"};
    return Answer(200, json::object());
  }
  return Error(404, "not_found", "no such control endpoint");
}

std::string FakeCleengApi::StateJson() const {
  std::lock_guard lock(mutex_);
  return StateJsonLocked();
}

std::string FakeCleengApi::StateJsonLocked() const {
  json::array orders;
  for (const Order& order : orders_) orders.push_back(json::parse(OrderJson(order)));
  json::array payments;
  for (const Payment& payment : payments_) payments.push_back(PaymentObject(payment));
  json::object subscriptions;
  for (const auto& [id, subscription] : subscriptions_) {
    json::object item;
    item["status"] = subscription.status;
    item["terminationRequests"] = subscription.termination_requests;
    subscriptions[id] = std::move(item);
  }
  json::object out;
  out["orders"] = std::move(orders);
  out["payments"] = std::move(payments);
  out["subscriptions"] = std::move(subscriptions);
  out["requests"] = requests_;
  out["faultsApplied"] = faults_applied_;
  return json::serialize(out);
}

}  // namespace payorch::testing::fakes
