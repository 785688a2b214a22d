#include "services/cleeng/cleeng_client.hpp"

#include <spdlog/spdlog.h>

#include <random>
#include <stdexcept>
#include <thread>

#include "services/cleeng/retry.hpp"

namespace payorch::cleeng {
namespace {

namespace http = boost::beast::http;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::string_view VerbName(http::verb verb) {
  return http::to_string(verb);
}

std::string Operation(http::verb verb, std::string_view path) {
  return std::string(VerbName(verb)) + " " + std::string(path);
}

ClientEnvironment WithDefaults(ClientEnvironment environment) {
  if (!environment.sleep) {
    environment.sleep = [](milliseconds delay) { std::this_thread::sleep_for(delay); };
  }
  if (!environment.jitter) {
    // One generator per client, guarded: jitter is drawn once per retry, never on a hot path.
    auto random = std::make_shared<std::pair<std::mutex, std::mt19937_64>>();
    random->second.seed(std::random_device{}());
    environment.jitter = [random] {
      std::lock_guard lock(random->first);
      return std::uniform_real_distribution<double>(0.0, 1.0)(random->second);
    };
  }
  if (!environment.now) environment.now = [] { return steady_clock::now(); };
  return environment;
}

HttpTransport MakeTransport(const CleengConfig& config) {
  if (auto problem = Validate(config)) throw std::invalid_argument(*problem);
  auto url = ParseBaseUrl(ResolveBaseUrl(config.base_url));
  return HttpTransport(url.value(), config.publisher_token,
                       TransportOptions{config.connect_timeout, config.request_timeout,
                                        config.ca_file, config.max_body_bytes});
}

// payorch creates at most one order per reference: the first of the list is it.
core::Result<std::optional<Order>, std::string> FirstOrder(std::string_view body) {
  auto orders = ParseOrders(body);
  if (!orders.ok()) return orders.error();
  if (orders.value().empty()) return std::optional<Order>{};
  return std::optional<Order>{orders.value().front()};
}

std::string Bounded(std::string text) {
  if (text.size() > kMaxRecordedAnswer) text.resize(kMaxRecordedAnswer);
  return text;
}

}  // namespace

std::string CleengError::Describe() const {
  std::string out = "cleeng " + operation;
  if (http_status != 0) out += " answered " + std::to_string(http_status);
  if (!message.empty()) out += ": " + message;
  if (!answer.empty()) out += " answer=" + answer;
  return out;
}

struct CleengClient::Reply {
  std::optional<HttpResponse> response;  // set when an answer arrived
  TransportFailure failure;              // otherwise
};

template <typename T>
struct CleengClient::Round {
  std::optional<CleengResult<T>> finished;
  // When not finished: why the round failed, for the error once the bounds are reached.
  CleengError failure;
  std::optional<milliseconds> retry_after;

  static Round Done(CleengResult<T> result) { return Round{std::move(result), {}, std::nullopt}; }
};

template <typename T, typename U>
std::optional<CleengClient::Round<T>> CleengClient::Carry(const Round<U>& found) {
  if (!found.finished) return Round<T>{std::nullopt, found.failure, found.retry_after};
  if (!found.finished->ok()) return Round<T>::Done(found.finished->error());
  return std::nullopt;
}

CleengClient::CleengClient(const CleengConfig& config, ClientEnvironment environment)
    : config_(config),
      environment_(WithDefaults(std::move(environment))),
      transport_(MakeTransport(config)) {}

CleengClient::Reply CleengClient::Send(const HttpRequest& request) const {
  auto result = transport_.Exchange(request);
  if (!result.ok()) return Reply{std::nullopt, result.error()};
  return Reply{std::move(result.value()), {}};
}

// Turns one exchange into a round: success parsed, 4xx permanent, 408/429/5xx and transport
// failures retried. A `repeatable` request (a read, a state set) is repeated after anything
// retryable; a create only when Cleeng cannot have acted on it (429 or nothing sent), otherwise
// it ends as a transient error for the caller to resolve by looking up (Ensure*).
template <typename T, typename Parse>
CleengClient::Round<T> CleengClient::Interpret(const std::string& operation, const Reply& reply,
                                               Parse&& parse, bool repeatable) const {
  CleengError error;
  error.operation = operation;
  if (!reply.response) {
    error.kind = CleengError::Kind::kTransient;
    error.message = reply.failure.message;
    if (repeatable || !reply.failure.request_sent)
      return Round<T>{std::nullopt, error, std::nullopt};
    error.message += " (the request may have been applied)";
    return Round<T>::Done(error);
  }
  const HttpResponse& response = *reply.response;
  error.http_status = response.status;
  error.answer = Bounded(response.body);
  switch (Classify(response.status)) {
    case Verdict::kSuccess: {
      auto parsed = parse(response.body);
      if (parsed.ok()) return Round<T>::Done(std::move(parsed.value()));
      // Cleeng said yes in a shape payorch does not understand: repeating will not help.
      error.kind = CleengError::Kind::kPermanent;
      error.message = "unexpected answer: " + parsed.error();
      return Round<T>::Done(error);
    }
    case Verdict::kRetry: {
      error.kind = CleengError::Kind::kTransient;
      error.message = "not processed";
      auto retry_after = ParseRetryAfter(response.retry_after);
      if (repeatable || response.status == 429) return Round<T>{std::nullopt, error, retry_after};
      error.message = "failed; the request may have been applied";
      return Round<T>::Done(error);
    }
    case Verdict::kPermanent:
      error.kind = CleengError::Kind::kPermanent;
      error.message = "refused";
      return Round<T>::Done(error);
  }
  return Round<T>::Done(error);
}

template <typename T, typename Fn>
CleengResult<T> CleengClient::WithRetries(const std::string& operation, Fn&& round) {
  const auto give_up_at = environment_.now() + config_.max_call_time;
  for (int attempt = 1;; ++attempt) {
    Round<T> result = round();
    if (result.finished) return std::move(*result.finished);
    CleengError& error = result.failure;
    if (attempt >= config_.max_attempts) {
      error.message += " (gave up after " + std::to_string(attempt) + " attempts)";
      return error;
    }
    const milliseconds delay = RetryDelay(attempt, config_.backoff_base, config_.backoff_max,
                                          environment_.jitter(), result.retry_after);
    // Another attempt must fit in the call's bound, its own exchange included.
    if (environment_.now() + delay + config_.request_timeout > give_up_at) {
      error.message += " (gave up after " + std::to_string(attempt) +
                       " attempts: the next would end past the call's time bound)";
      return error;
    }
    spdlog::warn(
        "cleeng call retry operation=\"{}\" attempt={} http_status={} delay_ms={} "
        "error=\"{}\"",
        operation, attempt, error.http_status, delay.count(), error.message);
    environment_.sleep(delay);
  }
}

CleengResult<Order> CleengClient::CreateOrder(const OrderRequest& order) {
  const HttpRequest request{http::verb::post, "/3.1/orders", OrderRequestJson(order)};
  const std::string operation = Operation(request.method, "/3.1/orders");
  return WithRetries<Order>(
      operation, [&] { return Interpret<Order>(operation, Send(request), ParseOrder, false); });
}

CleengResult<Payment> CleengClient::CreatePayment(const PaymentRequest& payment) {
  const HttpRequest request{http::verb::post, "/3.1/payments", PaymentRequestJson(payment)};
  const std::string operation = Operation(request.method, "/3.1/payments");
  return WithRetries<Payment>(
      operation, [&] { return Interpret<Payment>(operation, Send(request), ParsePayment, false); });
}

CleengResult<std::optional<Order>> CleengClient::FindOrder(const std::string& external_order_id) {
  const HttpRequest request{http::verb::get,
                            "/3.1/orders?externalOrderId=" + UrlEncode(external_order_id), ""};
  const std::string operation = Operation(request.method, "/3.1/orders?externalOrderId=");
  return WithRetries<std::optional<Order>>(operation, [&] {
    return Interpret<std::optional<Order>>(operation, Send(request), FirstOrder, true);
  });
}

CleengResult<std::vector<Payment>> CleengClient::FindPayments(const std::string& order_id) {
  const HttpRequest request{http::verb::get, "/3.1/payments?orderId=" + UrlEncode(order_id), ""};
  const std::string operation = Operation(request.method, "/3.1/payments?orderId=");
  return WithRetries<std::vector<Payment>>(operation, [&] {
    return Interpret<std::vector<Payment>>(operation, Send(request), ParsePayments, true);
  });
}

CleengResult<Payment> CleengClient::UpdatePaymentStatus(const std::string& payment_id,
                                                        PaymentStatus status,
                                                        const std::string& rejected_reason) {
  const bool cancel = status == PaymentStatus::kCancelled;
  const std::string path = "/3.1/payments/" + UrlEncode(payment_id) + (cancel ? "/cancel" : "");
  const HttpRequest request{
      http::verb::patch, path,
      cancel ? std::string("{}") : PaymentStatusJson(status, rejected_reason)};
  const std::string operation = Operation(request.method, path);
  // Not repeated blindly: a PATCH that was applied but whose reply was lost is refused the second
  // time (Cleeng moves payments only from authorized); EnsurePaymentStatus checks first.
  return WithRetries<Payment>(
      operation, [&] { return Interpret<Payment>(operation, Send(request), ParsePayment, false); });
}

CleengResult<Payment> CleengClient::CancelPayment(const std::string& payment_id) {
  return UpdatePaymentStatus(payment_id, PaymentStatus::kCancelled, "");
}

CleengResult<std::monostate> CleengClient::TerminateSubscription(
    const std::string& subscription_id) {
  const std::string path = "/3.1/subscriptions/" + UrlEncode(subscription_id);
  const HttpRequest request{http::verb::patch, path, TerminationJson()};
  const std::string operation = Operation(request.method, path);
  auto accept = [](std::string_view) -> core::Result<std::monostate, std::string> {
    return std::monostate{};
  };
  return WithRetries<std::monostate>(
      operation, [&] { return Interpret<std::monostate>(operation, Send(request), accept, true); });
}

CleengResult<Order> CleengClient::EnsureOrder(const OrderRequest& order) {
  const std::string operation = "ensure order";
  const HttpRequest lookup{http::verb::get,
                           "/3.1/orders?externalOrderId=" + UrlEncode(order.external_order_id), ""};
  const HttpRequest create{http::verb::post, "/3.1/orders", OrderRequestJson(order)};
  return WithRetries<Order>(operation, [&]() -> Round<Order> {
    auto found = Interpret<std::optional<Order>>("GET /3.1/orders?externalOrderId=", Send(lookup),
                                                 FirstOrder, true);
    if (auto failed = Carry<Order>(found)) return std::move(*failed);
    if (found.finished->value()) return Round<Order>::Done(*found.finished->value());
    // Nothing there: create; any failure but a refusal goes round again, looking up first.
    return Interpret<Order>("POST /3.1/orders", Send(create), ParseOrder, true);
  });
}

CleengResult<Payment> CleengClient::EnsurePayment(const PaymentRequest& payment) {
  const std::string operation = "ensure payment";
  const HttpRequest lookup{http::verb::get, "/3.1/payments?orderId=" + UrlEncode(payment.order_id),
                           ""};
  const HttpRequest create{http::verb::post, "/3.1/payments", PaymentRequestJson(payment)};
  return WithRetries<Payment>(operation, [&]() -> Round<Payment> {
    auto found = Interpret<std::vector<Payment>>("GET /3.1/payments?orderId=", Send(lookup),
                                                 ParsePayments, true);
    if (auto failed = Carry<Payment>(found)) return std::move(*failed);
    if (!found.finished->value().empty()) {
      return Round<Payment>::Done(found.finished->value().front());
    }
    return Interpret<Payment>("POST /3.1/payments", Send(create), ParsePayment, true);
  });
}

CleengResult<Payment> CleengClient::EnsurePaymentStatus(const std::string& order_id,
                                                        const std::string& payment_id,
                                                        PaymentStatus status,
                                                        const std::string& rejected_reason) {
  const std::string operation = "ensure payment status";
  const bool cancel = status == PaymentStatus::kCancelled;
  const std::string path = "/3.1/payments/" + UrlEncode(payment_id) + (cancel ? "/cancel" : "");
  const HttpRequest lookup{http::verb::get, "/3.1/payments?orderId=" + UrlEncode(order_id), ""};
  const HttpRequest update{http::verb::patch, path,
                           cancel ? std::string("{}") : PaymentStatusJson(status, rejected_reason)};
  return WithRetries<Payment>(operation, [&]() -> Round<Payment> {
    auto found = Interpret<std::vector<Payment>>("GET /3.1/payments?orderId=", Send(lookup),
                                                 ParsePayments, true);
    if (auto failed = Carry<Payment>(found)) return std::move(*failed);
    for (const Payment& existing : found.finished->value()) {
      if (existing.id == payment_id && PaymentStatusFromName(existing.status) == status) {
        return Round<Payment>::Done(existing);
      }
    }
    return Interpret<Payment>(Operation(update.method, path), Send(update), ParsePayment, true);
  });
}

}  // namespace payorch::cleeng
