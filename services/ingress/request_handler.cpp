#include "services/ingress/request_handler.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "services/core/event.hpp"

namespace payorch::ingress {

namespace http = boost::beast::http;

namespace {

Response JsonResponse(unsigned version, int status, std::string body) {
  Response response{static_cast<http::status>(status), version};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response JsonResponse(unsigned version, int status, const boost::json::value& body) {
  return JsonResponse(version, status, boost::json::serialize(body));
}

Response Unavailable(unsigned version, std::string_view code, std::string_view message) {
  Response response = JsonError(version, 503, code, message);
  // Cleeng (or any sender) may retry at once: the event is idempotent by key.
  response.set(http::field::retry_after, "1");
  return response;
}

Response MethodNotAllowed(unsigned version, std::string_view allow) {
  Response response = JsonError(version, 405, "method_not_allowed",
                                "method not allowed; allowed: " + std::string(allow));
  response.set(http::field::allow, allow);
  return response;
}

std::string_view PathOf(std::string_view target) {
  // The query string does not select a resource.
  return target.substr(0, target.find('?'));
}

bool IsJsonMediaType(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  const auto begin = media.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return false;
  const auto end = media.find_last_not_of(" \t");
  const std::string_view trimmed = media.substr(begin, end - begin + 1);
  constexpr std::string_view kJson = "application/json";
  return std::equal(trimmed.begin(), trimmed.end(), kJson.begin(), kJson.end(),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) == b;
                    });
}


IntakeItem WithoutRawEvent(const IntakeItem& item) {
  if (const auto* job = std::get_if<db::NewJob>(&item)) {
    db::NewJob copy;
    copy.topic = job->topic;
    return copy;
  }
  if (const auto* ignored = std::get_if<db::IgnoredEvent>(&item)) {
    db::IgnoredEvent copy;
    copy.topic = ignored->topic;
    return copy;
  }
  return item;
}

}  // namespace

db::NewJob ToNewJob(const core::CleengEvent& event, std::string_view raw_body) {
  core::EventIdentity identity = core::DeriveEventIdentity(event);
  db::NewJob job;
  job.event_key = std::move(identity.event_key);
  job.idempotency_key = std::move(identity.idempotency_key);
  job.broadcaster_id = event.broadcaster_id;
  job.topic = event.topic_name;
  job.subscription_id = event.subscription_id;
  job.payment_gateway = event.payment_gateway;
  job.payment_method_id = event.payment_method_id;
  job.dunning_attempt_date = event.dunning_attempt_date_utc;
  job.raw_event = std::string(raw_body);
  return job;
}

Response JsonError(unsigned version, int status, std::string_view code, std::string_view message) {
  boost::json::object error;
  error["code"] = code;
  error["message"] = message;
  boost::json::object body;
  body["error"] = std::move(error);
  return JsonResponse(version, status, body);
}

RequestHandler::RequestHandler(JobStore& store, HandlerOptions options)
    : store_(store), options_(options) {}

Route RouteOf(std::string_view target) {
  const std::string_view path = PathOf(target);
  if (path == kWebhookPath) return Route::kWebhook;
  if (path.size() > kWebhookPath.size() + 1 && path.substr(0, kWebhookPath.size()) == kWebhookPath &&
      path[kWebhookPath.size()] == '/' &&
      path.find('/', kWebhookPath.size() + 1) == std::string_view::npos) {
    return Route::kWebhook;
  }
  if (path == "/healthz") return Route::kHealthz;
  if (path == "/readyz") return Route::kReadyz;
  if (path == "/metrics") return Route::kMetrics;
  return Route::kOther;
}

Response RequestHandler::Reject(unsigned version, int status, std::string_view code,
                                std::string_view message) const {
  if (options_.metrics != nullptr) options_.metrics->CountReject(code);
  return JsonError(version, status, code, message);
}

Decision RequestHandler::Decide(const Request& request, const RequestContext& context) const {
  const unsigned version = request.version();
  const std::string_view target = request.target();
  const std::string_view path = PathOf(target);
  const http::verb method = request.method();
  const bool get_or_head = method == http::verb::get || method == http::verb::head;
  const auto not_allowed = [&](std::string_view allow) {
    if (options_.metrics != nullptr) options_.metrics->CountReject("method_not_allowed");
    return MethodNotAllowed(version, allow);
  };

  switch (RouteOf(target)) {
    case Route::kWebhook: {
      std::optional<std::string> path_token;
      if (path.size() > kWebhookPath.size()) {
        // A token segment is only an address when tokens are configured.
        if (options_.auth.url_tokens.empty()) {
          return Reject(version, 404, "not_found", "no such resource");
        }
        path_token = std::string(path.substr(kWebhookPath.size() + 1));
      }
      if (method != http::verb::post) return not_allowed("POST");
      return DecideWebhook(request, context, std::move(path_token));
    }
    case Route::kHealthz:
      if (!get_or_head) return not_allowed("GET, HEAD");
      return JsonResponse(version, 200, {{"status", "ok"}});
    case Route::kReadyz:
      if (!get_or_head) return not_allowed("GET, HEAD");
      return IntakeItem{ReadinessProbe{}};
    case Route::kMetrics: {
      if (options_.metrics == nullptr) break;
      if (!get_or_head) return not_allowed("GET, HEAD");
      Response response{http::status::ok, version};
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.set(http::field::cache_control, "no-store");
      response.body() = options_.metrics->registry().Render();
      response.prepare_payload();
      return response;
    }
    case Route::kOther:
    case Route::kNone:
      break;
  }
  return Reject(version, 404, "not_found", "no such resource");
}

Decision RequestHandler::DecideWebhook(const Request& request, const RequestContext& context,
                                       std::optional<std::string> path_token) const {
  const unsigned version = request.version();
  // Without Content-Length or chunked framing a request has no body (RFC 9112 6.3).
  if (!request.has_content_length() && !request.chunked()) {
    return Reject(version, 411, "length_required",
                  "a webhook needs Content-Length or chunked transfer encoding");
  }
  if (request.body().size() > options_.body_limit_bytes) {
    return Reject(version, 413, "payload_too_large",
                  "body larger than " + std::to_string(options_.body_limit_bytes) + " bytes");
  }

  // Authentication comes before anything that looks at the content, so an unauthenticated
  // sender learns nothing about what would be accepted.
  const AuthPolicy& auth = options_.auth;
  if (!auth.allowed_networks.empty() || !auth.url_tokens.empty() || !auth.hmac_secrets.empty()) {
    AuthInput input;
    input.peer = context.peer;
    input.forwarded_for = request["X-Forwarded-For"];
    if (const auto it = request.find(auth.signature_header); it != request.end()) {
      input.signature = it->value();
    }
    input.token = std::move(path_token);
    if (!input.token) {
      const std::string_view target = request.target();
      if (const auto question = target.find('?'); question != std::string_view::npos) {
        input.token = QueryParameter(target.substr(question + 1), "token");
      }
    }
    input.body = request.body();
    const AuthVerdict verdict = Authenticate(auth, input);
    if (verdict != AuthVerdict::kAllowed) {
      const std::string_view reason = VerdictName(verdict);
      if (options_.metrics != nullptr) options_.metrics->CountAuthFailure(reason);
      // The peer is logged, never the token or the signature.
      spdlog::warn("webhook refused by authentication reason={} peer={}", reason,
                   context.peer.to_string());
      const bool network = verdict == AuthVerdict::kNetworkNotAllowed ||
                           verdict == AuthVerdict::kBadForwardedFor;
      if (network) {
        return Reject(version, 403, reason, "this source may not post webhooks");
      }
      return Reject(version, 401, reason, "missing or wrong webhook credentials");
    }
  }

  const auto content_type = request[http::field::content_type];
  if (!IsJsonMediaType(content_type)) {
    return Reject(version, 415, "unsupported_media_type", "Content-Type must be application/json");
  }

  auto parsed = core::ParseWebhook(request.body());
  if (!parsed) {
    const core::Rejection& rejection = parsed.error();
    spdlog::info("webhook rejected status={} code={}", rejection.http_status, rejection.code);
    return Reject(version, rejection.http_status, rejection.code, rejection.message);
  }
  const core::CleengEvent& event = *parsed;
  if (event.topic) return IntakeItem{ToNewJob(event, request.body())};

  if (options_.reject_unknown_topics) {
    spdlog::info("webhook rejected status=422 code=unsupported_topic broadcaster_id={}",
                 event.broadcaster_id);
    return Reject(version, 422, "unsupported_topic",
                  "topic " + event.topic_name + " is not handled by this endpoint");
  }
  db::IgnoredEvent ignored;
  ignored.broadcaster_id = event.broadcaster_id;
  ignored.topic = event.topic_name;
  ignored.raw_event = request.body();
  return IntakeItem{std::move(ignored)};
}

Response RequestHandler::Answer(const Request& request, const IntakeItem& item,
                                StoreOutcome outcome) {
  const unsigned version = request.version();
  using Kind = StoreOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kOverloaded:
      return Unavailable(version, "overloaded", "too many requests waiting for the database");
    case Kind::kUnavailable:
      return Unavailable(version, "database_unavailable", "the database is not available");
    case Kind::kNotReady:
      return Unavailable(version, "migrations_pending",
                         "the database schema is not at this binary's version");
    case Kind::kReady:
      return JsonResponse(version, 200, {{"status", "ready"}});
    case Kind::kStored:
      break;
  }
  if (const auto* job = std::get_if<db::NewJob>(&item)) {
    // debug: at thousands of webhooks a second a line each would cost more than the request.
    spdlog::debug("webhook stored job_id={} duplicate={} topic={}", outcome.job_id,
                 outcome.duplicate, job->topic);
    // Written directly: this is the answer to every stored webhook, and a boost::json object
    // built and serialised for it costs several allocations per request.
    return JsonResponse(version, 200,
                        "{\"jobId\":" + std::to_string(outcome.job_id) + ",\"duplicate\":" +
                            (outcome.duplicate ? "true}" : "false}"));
  }
  if (const auto* ignored = std::get_if<db::IgnoredEvent>(&item)) {
    spdlog::debug("webhook ignored topic={}", ignored->topic);
    return JsonResponse(version, 200, {{"ignored", true}});
  }
  // A probe never comes back as kStored.
  return Unavailable(version, "internal", "unexpected store outcome");
}

boost::asio::awaitable<Response> RequestHandler::Handle(Request request, RequestContext context) {
  Decision decision = Decide(request, context);
  if (auto* response = std::get_if<Response>(&decision)) co_return std::move(*response);
  IntakeItem& item = std::get<IntakeItem>(decision);
  // The store consumes the item; the answer needs only its kind and names, not the body.
  const IntakeItem summary = WithoutRawEvent(item);
  const StoreOutcome outcome =
      co_await AsyncSubmit(store_, std::move(item), boost::asio::use_awaitable);
  co_return Answer(request, summary, outcome);
}

}  // namespace payorch::ingress
