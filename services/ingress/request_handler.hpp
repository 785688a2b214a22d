#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "services/core/event.hpp"
#include "services/ingress/auth.hpp"
#include "services/ingress/ingress_metrics.hpp"
#include "services/ingress/job_store.hpp"

namespace payorch::ingress {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

inline constexpr std::string_view kWebhookPath = "/v1/webhooks/cleeng";

struct HandlerOptions {
  std::size_t body_limit_bytes = 1024 * 1024;
  // Answer 422 (and store nothing) for topics payorch does not act on, instead of 200 ignored.
  bool reject_unknown_topics = false;
  // Who may post webhooks (no mechanism configured: anyone, as Cleeng's older setups need).
  AuthPolicy auth{};
  // Where rejects and authentication failures are counted, and what GET /metrics renders;
  // null in tests that do not look at metrics (GET /metrics is then 404).
  IngressMetrics* metrics = nullptr;
};

// What the transport knows about a request beyond its bytes.
struct RequestContext {
  boost::asio::ip::address peer = boost::asio::ip::make_address_v4("127.0.0.1");
};

// What the ingress stores for an event payorch acts on (`event.topic` set): its identity, the
// envelope fields the worker needs, and the body exactly as received.
db::NewJob ToNewJob(const core::CleengEvent& event, std::string_view raw_body);

// The route of a target, for metrics (a token in the path is not part of the label).
Route RouteOf(std::string_view target);

// What the handler decided without the store: either the final answer, or an item to store (or
// a readiness probe) whose outcome decides the answer.
using Decision = std::variant<Response, IntakeItem>;

// The HTTP semantics of the ingress, free of sockets (the session owns those):
//   POST /v1/webhooks/cleeng[/TOKEN][?token=TOKEN]
//                             401/403 when authentication is configured and fails
//                             200 {"jobId":N,"duplicate":B} after commit | 200 {"ignored":true}
//                             400/422 (ParseWebhook), 411, 413, 415, 422 unsupported_topic,
//                             503 + Retry-After: 1 when the store cannot commit
//   GET  /healthz             200 {"status":"ok"}
//   GET  /readyz              200 {"status":"ready"} | 503
//   GET  /metrics             200 Prometheus text format
//   other paths 404, other methods 405 with Allow. Every error body is
//   {"error":{"code":"...","message":"..."}}.
class RequestHandler {
 public:
  RequestHandler(JobStore& store, HandlerOptions options);

  // Answers one request. Never throws for anything a client can send.
  boost::asio::awaitable<Response> Handle(Request request, RequestContext context = {});

  // The part of Handle that needs no store.
  Decision Decide(const Request& request, const RequestContext& context = {}) const;
  // The answer for a stored item (or probe) given the store's outcome.
  static Response Answer(const Request& request, const IntakeItem& item, StoreOutcome outcome);

 private:
  Decision DecideWebhook(const Request& request, const RequestContext& context,
                         std::optional<std::string> path_token) const;
  Response Reject(unsigned version, int status, std::string_view code,
                  std::string_view message) const;

  JobStore& store_;
  const HandlerOptions options_;
};

// {"error":{"code":...,"message":...}} with `status`, for the session's own errors too (a header
// the parser refused, a body over the limit).
Response JsonError(unsigned version, int status, std::string_view code, std::string_view message);

// Adapts JobStore::Submit to an Asio async operation: the completion runs on the initiating
// coroutine's executor, and the executor counts as busy while the store works.
template <typename CompletionToken>
auto AsyncSubmit(JobStore& store, IntakeItem item, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(StoreOutcome)>(
      [&store](auto handler, IntakeItem item) {
        auto executor = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                            boost::asio::execution::outstanding_work.tracked);
        // std::function needs a copyable callable; the handler is move-only and called once.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        store.Submit(std::move(item), [shared, executor](StoreOutcome outcome) {
          boost::asio::post(executor, [shared, outcome] { std::move (*shared)(outcome); });
        });
      },
      token, std::move(item));
}

}  // namespace payorch::ingress
