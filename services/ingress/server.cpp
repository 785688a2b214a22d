#include "services/ingress/server.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace payorch::ingress {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Bytes a connection reads at a time while reading a request: a webhook with its headers fits.
constexpr std::size_t kReadBufferBytes = 4096;

bool IsQuietClose(const boost::system::error_code& ec) {
  // The client went away, timed out, or we cancelled the read for shutdown: nothing to answer.
  return ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::connection_reset ||
         ec == asio::error::eof || ec == http::error::partial_message;
}

bool ExpectsContinue(const Request& request) {
  const auto expect = request[http::field::expect];
  return beast::iequals(expect, "100-continue");
}

// The response as it goes on the wire: status line, fields as set, blank line, body. Beast's
// serializer does the same through a cascade of buffer-sequence views that callgrind counted at a
// fifth of the ingress's instructions per webhook; a response here is a few short fields and a
// small JSON body (no chunking, no trailers), so one string and one write do.
std::string Serialize(const Response& response) {
  const std::string_view reason = response.reason();
  std::string wire;
  wire.reserve(64 + reason.size() + response.body().size() + 48 * 4);
  wire += response.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  wire += std::to_string(response.result_int());
  wire += ' ';
  wire += reason;
  wire += "\r\n";
  for (const auto& field : response) {
    wire += field.name_string();
    wire += ": ";
    wire += field.value();
    wire += "\r\n";
  }
  wire += "\r\n";
  wire += response.body();
  return wire;
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> Write(
    beast::tcp_stream& stream, const Response& response) {
  const std::string wire = Serialize(response);
  co_return co_await asio::async_write(stream, asio::buffer(wire), kUseTuple);
}

// Completion of a detached coroutine: an exception that escaped it is a bug worth a log line.
void LogEscapedException(const char* what, std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("{} ended by an exception error=\"{}\"", what, e.what());
  }
}

// After answering a request we will not read (413, 400), the client may still be sending its
// body; closing at once would reset the connection before it reads our answer. So stop sending,
// then read and drop what it still sends, bounded in bytes and time, before closing.
asio::awaitable<void> DiscardUnread(beast::tcp_stream& stream) {
  constexpr std::size_t kMaxDiscardBytes = 16 * 1024 * 1024;
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(2));
  std::array<char, 16 * 1024> sink;
  std::size_t discarded = 0;
  while (discarded < kMaxDiscardBytes) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
    if (ec) break;
    discarded += n;
  }
}

}  // namespace

// One connection. `stream` and `waiting_for_request` are touched only on the session's strand
// (the socket's executor), including by Shutdown, which posts there.
struct Server::Session {
  explicit Session(tcp::socket socket)
      : stream(std::move(socket)), read_timer(stream.get_executor()) {}
  beast::tcp_stream stream;
  bool waiting_for_request = false;
  // The read deadline. Unlike tcp_stream's own timeout, which closes the socket, expiry only
  // cancels the read, so the session can still answer 408. `read_generation` tells a stale
  // expiry (queued just as its read completed) from the current one.
  asio::steady_timer read_timer;
  std::uint64_t read_generation = 0;
  bool read_timed_out = false;
};

Server::Server(asio::io_context& io_context, RequestHandler& handler, ServerOptions options)
    : io_context_(io_context),
      handler_(handler),
      options_(options),
      acceptor_(asio::make_strand(io_context)) {}

void Server::Listen(const tcp::endpoint& endpoint) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

tcp::endpoint Server::local_endpoint() const { return acceptor_.local_endpoint(); }

void Server::Start() {
  asio::co_spawn(acceptor_.get_executor(), Accept(),
                 [](std::exception_ptr error) { LogEscapedException("accept loop", error); });
}

std::size_t Server::ActiveSessions() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void Server::Shutdown() {
  if (shutting_down_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  std::lock_guard lock(mutex_);
  for (const auto& session : sessions_) {
    asio::post(session->stream.get_executor(), [session] {
      // A request whose first bytes already arrived is in flight, not idle: let it finish.
      boost::system::error_code ec;
      const std::size_t unread = session->stream.socket().available(ec);
      if (session->waiting_for_request && (ec || unread == 0)) session->stream.cancel();
    });
  }
}

asio::awaitable<bool> Server::Drained(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Shutdown posts the acceptor's close; the caller may stop the io_context as soon as this
  // returns, so close it here too (idempotent) rather than leave a listening socket behind.
  co_await asio::post(acceptor_.get_executor(), asio::use_awaitable);
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (ActiveSessions() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(kUseTuple);
  }
  co_return ActiveSessions() == 0;
}

void Server::Unregister(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mutex_);
  sessions_.remove(session);
}

asio::awaitable<void> Server::Accept() {
  while (!shutting_down_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_context_), kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      // Out of descriptors and the like: log and keep serving the connections we have.
      spdlog::warn("accept failed error=\"{}\"", ec.message());
      continue;
    }
    auto session = std::make_shared<Session>(std::move(socket));
    {
      std::lock_guard lock(mutex_);
      if (shutting_down_) break;
      sessions_.push_back(session);
    }
    asio::co_spawn(session->stream.get_executor(), Serve(session),
                   [](std::exception_ptr error) { LogEscapedException("session", error); });
  }
}

void Server::ArmReadTimer(const std::shared_ptr<Session>& session) {
  const std::uint64_t generation = ++session->read_generation;
  session->read_timed_out = false;
  session->read_timer.expires_after(options_.read_timeout);
  session->read_timer.async_wait(
      [session, generation](const boost::system::error_code& ec) {
        if (ec || generation != session->read_generation) return;
        session->read_timed_out = true;
        boost::system::error_code ignored;
        session->stream.socket().cancel(ignored);
      });
}

void Server::Count(Route route, int status, std::chrono::steady_clock::time_point started) {
  if (options_.metrics == nullptr) return;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  options_.metrics->CountRequest(route, status, elapsed.count());
}

asio::awaitable<void> Server::Serve(std::shared_ptr<Session> session) {
  beast::tcp_stream& stream = session->stream;
  beast::flat_buffer buffer;
  // Beast reads max(512, free capacity) bytes at a time, and a buffer that starts empty never
  // grows past 512 when each request is consumed before the next read. A typical webhook (half a
  // kilobyte of JSON and its headers) then took two recv calls and two passes through the read
  // machinery; with room for one, it takes one.
  buffer.reserve(kReadBufferBytes);
  boost::system::error_code peer_ec;
  const RequestContext context{stream.socket().remote_endpoint(peer_ec).address()};
  try {
    while (!shutting_down_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.body_limit_bytes);
      // Only a connection with nothing of a next request buffered is idle and may be closed by
      // Shutdown; a partly received request is given its read timeout.
      session->waiting_for_request = buffer.size() == 0;
      stream.expires_never();
      ArmReadTimer(session);
      auto [read_ec, header_bytes] = co_await http::async_read_header(stream, buffer, parser,
                                                                     kUseTuple);
      session->waiting_for_request = false;
      if (!read_ec && !parser.is_done()) {
        if (ExpectsContinue(parser.get())) {
          http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
          stream.expires_after(options_.write_timeout);
          auto [continue_ec, continue_bytes] = co_await http::async_write(stream, go_on, kUseTuple);
          if (continue_ec) break;
          stream.expires_never();
        }
        std::tie(read_ec, header_bytes) =
            co_await http::async_read(stream, buffer, parser, kUseTuple);
      }
      ++session->read_generation;  // whatever the timer does now is stale
      session->read_timer.cancel();
      const auto started = std::chrono::steady_clock::now();
      if (read_ec) {
        const bool timed_out = session->read_timed_out && read_ec == asio::error::operation_aborted;
        // A timeout before the first byte of a request is an idle keep-alive connection ending.
        if (timed_out && !parser.got_some() && buffer.size() == 0) break;
        if (!timed_out && IsQuietClose(read_ec)) break;
        // The request cannot be completed or framed: answer once and close, the stream is out
        // of sync.
        Response error;
        if (timed_out) {
          error = JsonError(11, 408, "request_timeout",
                            "the request was not received within " +
                                std::to_string(options_.read_timeout.count()) + " ms");
        } else if (read_ec == http::error::body_limit) {
          error = JsonError(11, 413, "payload_too_large",
                            "body larger than " + std::to_string(options_.body_limit_bytes) +
                                " bytes");
        } else if (read_ec == http::error::header_limit) {
          error = JsonError(11, 431, "header_too_large", "request header too large");
        } else {
          error = JsonError(11, 400, "malformed_request", "malformed HTTP request");
        }
        error.keep_alive(false);
        const int status = error.result_int();
        if (options_.metrics != nullptr) {
          const auto reason =
              timed_out ? "request_timeout"
                        : (status == 413 ? "payload_too_large"
                                         : (status == 431 ? "header_too_large" : "malformed_request"));
          options_.metrics->CountReject(reason);
        }
        const Route route = parser.is_header_done() ? RouteOf(parser.get().target()) : Route::kNone;
        stream.expires_after(options_.write_timeout);
        auto [error_ec, error_bytes] = co_await Write(stream, error);
        Count(route, status, started);
        if (!error_ec) co_await DiscardUnread(stream);
        break;
      }

      Request request = parser.release();
      const bool keep_alive = request.keep_alive();
      const bool head = request.method() == http::verb::head;
      const Route route = RouteOf(request.target());
      Response response = co_await handler_.Handle(std::move(request), context);
      response.keep_alive(keep_alive && !shutting_down_);
      if (head) response.body().clear();  // Content-Length still tells the size of the GET body
      stream.expires_after(options_.write_timeout);
      auto [write_ec, written] = co_await Write(stream, response);
      Count(route, response.result_int(), started);
      if (write_ec || !response.keep_alive()) break;
    }
  } catch (const std::exception& e) {
    spdlog::error("session failed error=\"{}\"", e.what());
  }
  ++session->read_generation;
  session->read_timer.cancel();
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
  Unregister(session);
}

}  // namespace payorch::ingress
