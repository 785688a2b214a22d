#include "services/core/status_server.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>

namespace payorch::core {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr std::chrono::seconds kReadTimeout{5};
constexpr std::size_t kRequestLimit = 8 * 1024;

http::response<http::string_body> Respond(const http::request<http::string_body>& request,
                                          const std::function<std::string()>& render_metrics) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(false);
  if (request.method() != http::verb::get) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::content_type, "text/plain");
    response.body() = "method not allowed\n";
  } else if (request.target() == "/metrics") {
    response.result(http::status::ok);
    response.set(http::field::content_type, "text/plain; version=0.0.4");
    response.body() = render_metrics();
  } else if (request.target() == "/healthz") {
    response.result(http::status::ok);
    response.set(http::field::content_type, "text/plain");
    response.body() = "ok\n";
  } else {
    response.result(http::status::not_found);
    response.set(http::field::content_type, "text/plain");
    response.body() = "not found\n";
  }
  response.prepare_payload();
  return response;
}

// One connection: read a request (bounded in time and size), answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const std::function<std::string()>& render_metrics)
      : stream_(std::move(socket)), render_metrics_(render_metrics) {
    parser_.body_limit(kRequestLimit);
    parser_.header_limit(kRequestLimit);
  }

  void Start() {
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (error) return;  // timeout, reset, malformed: just close
                       self->response_ = Respond(self->parser_.get(), self->render_metrics_);
                       self->stream_.expires_after(kReadTimeout);
                       http::async_write(self->stream_, self->response_,
                                         [self](beast::error_code, std::size_t) {
                                           beast::error_code ignored;
                                           self->stream_.socket().shutdown(
                                               tcp::socket::shutdown_send, ignored);
                                         });
                     });
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
  const std::function<std::string()>& render_metrics_;
};

}  // namespace

StatusServer::StatusServer(boost::asio::io_context& io, const std::string& host,
                           unsigned short port, std::function<std::string()> render_metrics)
    : io_(io), acceptor_(io), render_metrics_(std::move(render_metrics)) {
  const tcp::endpoint endpoint(boost::asio::ip::make_address(host), port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);  // throws boost::system::system_error: main reports it
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  Accept();
}

void StatusServer::Accept() {
  acceptor_.async_accept([this](beast::error_code error, tcp::socket socket) {
    if (error == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!error) std::make_shared<Session>(std::move(socket), render_metrics_)->Start();
    Accept();
  });
}

void StatusServer::Stop() {
  boost::asio::post(io_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

}  // namespace payorch::core
