#include "services/cleeng/http_transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

namespace payorch::cleeng {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr int kHttp11 = 11;

using ExchangeResult = core::Result<HttpResponse, TransportFailure>;

TransportFailure Failure(std::string_view phase, const boost::system::error_code& ec,
                         bool request_sent = false) {
  std::string message(phase);
  message += ": ";
  message += ec == beast::error::timeout ? "timed out" : ec.message();
  return TransportFailure{std::move(message), request_sent};
}

http::request<http::string_body> BuildRequest(const BaseUrl& url, const std::string& token,
                                              const HttpRequest& request) {
  http::request<http::string_body> out{request.method, request.target, kHttp11};
  out.set(http::field::host, url.host);
  out.set(http::field::user_agent, "payorch");
  out.set(http::field::accept, "application/json");
  out.set(http::field::connection, "close");
  out.set("X-Publisher-Token", token);
  if (!request.body.empty() || request.method != http::verb::get) {
    out.set(http::field::content_type, "application/json");
    out.body() = request.body;
  }
  out.prepare_payload();
  return out;
}

// Writes the request and reads the answer on a connected (and, for TLS, handshaken) stream.
template <typename Stream>
asio::awaitable<ExchangeResult> WriteAndRead(Stream& stream, http::request<http::string_body> req,
                                             const TransportOptions& options) {
  beast::get_lowest_layer(stream).expires_after(options.request_timeout);
  auto [write_ec, written] = co_await http::async_write(stream, req, kUseTuple);
  (void)written;
  if (write_ec) co_return Failure("write", write_ec, true);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  (void)read;
  if (read_ec) co_return Failure("read", read_ec, true);
  auto response = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(response.result_int());
  out.body = std::move(response.body());
  if (auto it = response.find(http::field::retry_after); it != response.end()) {
    out.retry_after = std::string(it->value());
  }
  co_return out;
}

asio::awaitable<ExchangeResult> Exchange(const BaseUrl& url, const std::string& token,
                                         const TransportOptions& options, ssl::context& ssl_context,
                                         const HttpRequest& request) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(url.host, url.port, kUseTuple);
  if (resolve_ec) co_return Failure("resolve", resolve_ec);
  auto req = BuildRequest(url, token, request);

  if (!url.tls) {
    beast::tcp_stream stream(executor);
    stream.expires_after(options.connect_timeout);
    auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, kUseTuple);
    (void)endpoint;
    if (connect_ec) co_return Failure("connect", connect_ec);
    co_return co_await WriteAndRead(stream, std::move(req), options);
  }

  beast::ssl_stream<beast::tcp_stream> stream(executor, ssl_context);
  // SNI, and the certificate must name the host (or its IP address).
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
    co_return TransportFailure{"tls: cannot set the server name", false};
  }
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(url.host));
  beast::get_lowest_layer(stream).expires_after(options.connect_timeout);
  auto [connect_ec, endpoint] =
      co_await beast::get_lowest_layer(stream).async_connect(endpoints, kUseTuple);
  (void)endpoint;
  if (connect_ec) co_return Failure("connect", connect_ec);
  beast::get_lowest_layer(stream).expires_after(options.connect_timeout);
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, kUseTuple);
  if (handshake_ec) co_return Failure("tls handshake", handshake_ec);
  co_return co_await WriteAndRead(stream, std::move(req), options);
}

// co_spawn needs a default-constructible result; ExchangeResult is not, so it goes into `out`.
asio::awaitable<void> Run(const BaseUrl& url, const std::string& token,
                          const TransportOptions& options, ssl::context& ssl_context,
                          const HttpRequest& request, std::optional<ExchangeResult>& out) {
  out.emplace(co_await Exchange(url, token, options, ssl_context, request));
}

}  // namespace

core::Result<BaseUrl, std::string> ParseBaseUrl(std::string_view url) {
  BaseUrl out;
  if (url.starts_with("https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    out.tls = false;
    url.remove_prefix(7);
  } else {
    return std::string("must start with http:// or https://");
  }
  if (url.ends_with("/")) url.remove_suffix(1);
  if (url.empty()) return std::string("has no host");
  if (url.find_first_of("/?#@ ") != std::string_view::npos) {
    return std::string("must be scheme://host[:port] without path, query or user info");
  }
  const auto colon = url.rfind(':');
  out.host = std::string(url.substr(0, colon));
  out.port = out.tls ? "443" : "80";
  if (colon != std::string_view::npos) {
    const std::string_view port = url.substr(colon + 1);
    int value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return std::string("has an invalid port");
    }
    out.port = std::string(port);
  }
  if (out.host.empty()) return std::string("has no host");
  return out;
}

HttpTransport::HttpTransport(BaseUrl url, std::string publisher_token, TransportOptions options)
    : url_(std::move(url)),
      publisher_token_(std::move(publisher_token)),
      options_(std::move(options)),
      ssl_context_(ssl::context::tls_client) {
  ssl_context_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1);
  if (options_.ca_file.empty()) {
    ssl_context_.set_default_verify_paths();
  } else {
    ssl_context_.load_verify_file(options_.ca_file);  // throws at startup when unreadable
  }
}

core::Result<HttpResponse, TransportFailure> HttpTransport::Exchange(
    const HttpRequest& request) const {
  asio::io_context io;
  std::optional<ExchangeResult> result;
  asio::co_spawn(io, Run(url_, publisher_token_, options_, ssl_context_, request, result),
                 [&](std::exception_ptr error) {
                   if (error) result.emplace(TransportFailure{"unexpected transport error"});
                 });
  // The per-phase timeouts end every phase but name resolution; this bounds the whole exchange.
  io.run_for(options_.connect_timeout * 2 + options_.request_timeout);
  if (!result) return TransportFailure{"exchange timed out"};
  return std::move(*result);
}

}  // namespace payorch::cleeng
