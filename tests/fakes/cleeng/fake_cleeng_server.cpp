#include "tests/fakes/cleeng/fake_cleeng_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

namespace payorch::testing::fakes {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kIdleTimeout{30};
constexpr std::size_t kMaxBody = 1 << 20;

template <typename Stream>
asio::awaitable<void> Serve(Stream& stream, FakeCleengApi& api) {
  beast::flat_buffer buffer;
  while (true) {
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    (void)read;
    if (read_ec) co_return;
    auto request = parser.release();
    FakeCleengApi::Response response;
    try {
      response = api.Handle(FakeCleengApi::Request{
          std::string(request.method_string()), std::string(request.target()),
          std::string(request["X-Publisher-Token"]), request.body()});
    } catch (const std::exception& e) {
      response.status = 400;
      response.body = std::string(R"({"errors":[{"code":"bad_request","message":"malformed"}]})");
    }
    if (response.action == FakeCleengApi::Response::Action::kDrop) co_return;
    if (response.action == FakeCleengApi::Response::Action::kHang) {
      asio::steady_timer timer(co_await asio::this_coro::executor, response.hang);
      co_await timer.async_wait(kUseTuple);
      co_return;
    }
    http::response<http::string_body> answer{static_cast<http::status>(response.status),
                                             request.version()};
    answer.set(http::field::content_type, "application/json");
    if (!response.retry_after.empty()) answer.set(http::field::retry_after, response.retry_after);
    answer.body() = std::move(response.body);
    answer.keep_alive(request.keep_alive());
    answer.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    auto [write_ec, written] = co_await http::async_write(stream, answer, kUseTuple);
    (void)written;
    if (write_ec || !answer.keep_alive()) co_return;
  }
}

asio::awaitable<void> Session(tcp::socket socket, FakeCleengApi& api, ssl::context* tls) {
  beast::tcp_stream tcp_stream(std::move(socket));
  if (tls == nullptr) {
    co_await Serve(tcp_stream, api);
    boost::system::error_code ignored;
    tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), *tls);
  beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
  if (handshake_ec) co_return;
  co_await Serve(stream, api);
}

asio::awaitable<void> Accept(tcp::acceptor& acceptor, FakeCleengApi& api, ssl::context* tls) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(), Session(std::move(socket), api, tls), asio::detached);
  }
}

}  // namespace

FakeCleengServer::FakeCleengServer(FakeCleengOptions options)
    : options_(std::move(options)), api_(options_.publisher_token), acceptor_(io_) {
  if (options_.host == "localhost") options_.host = "127.0.0.1";
  const auto address = asio::ip::make_address(options_.host);
  if (!address.is_loopback()) {
    throw std::runtime_error("the fake Cleeng API listens on loopback only, not " + options_.host);
  }
  if (!options_.tls_certificate_file.empty() || !options_.tls_key_file.empty()) {
    tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
    tls_->use_certificate_chain_file(options_.tls_certificate_file);
    tls_->use_private_key_file(options_.tls_key_file, ssl::context::pem);
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, Accept(acceptor_, api_, tls_.get()), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

FakeCleengServer::~FakeCleengServer() {
  // Sessions still open (a hang in progress) are abandoned with the io_context.
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    io_.stop();
  });
  thread_.join();
}

std::string FakeCleengServer::base_url() const {
  return std::string(tls_ ? "https://" : "http://") + options_.host + ":" + std::to_string(port_);
}

}  // namespace payorch::testing::fakes
