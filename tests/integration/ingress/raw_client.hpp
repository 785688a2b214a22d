#pragma once

// A blocking HTTP client on a raw socket, for what HttpRequest cannot express: bytes that are
// not a well-formed request, several requests on one connection, pipelining, a client that
// stops mid-body. Every operation is bounded by `timeout` (run as an async operation with a
// deadline on a private io_context), so a test never hangs on a server that does not answer.
#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace payorch::ingress::testing {

using RawResponse = boost::beast::http::response<boost::beast::http::string_body>;

class RawClient {
 public:
  // Throws boost::system::system_error when the connection is refused or times out.
  explicit RawClient(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : stream_(io_context_), timeout_(timeout) {
    boost::system::error_code ec;
    stream_.expires_after(timeout_);
    stream_.async_connect({boost::asio::ip::make_address("127.0.0.1"),
                           static_cast<unsigned short>(port)},
                          [&](const boost::system::error_code& result) { ec = result; });
    RunUntilDone();
    if (ec) throw boost::system::system_error(ec, "connect");
  }

  // Sends bytes; false when the server closed or reset the connection (or did not read them in
  // time).
  bool Send(const std::string& bytes) {
    boost::system::error_code ec;
    stream_.expires_after(timeout_);
    boost::asio::async_write(stream_, boost::asio::buffer(bytes),
                             [&](const boost::system::error_code& result, std::size_t) {
                               ec = result;
                             });
    RunUntilDone();
    return !ec;
  }

  // Reads one response; throws boost::system::system_error when none comes in time. The answer
  // to a HEAD request has no body whatever its Content-Length says: `head` tells the parser.
  RawResponse Read(bool head = false) {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head);
    boost::system::error_code ec;
    stream_.expires_after(timeout_);
    boost::beast::http::async_read(stream_, buffer_, parser,
                                   [&](const boost::system::error_code& result, std::size_t) {
                                     ec = result;
                                   });
    RunUntilDone();
    if (ec) throw boost::system::system_error(ec, "read response");
    return parser.release();
  }

  // Sends `bytes` while reading the response (the server may answer and stop reading before
  // the client has sent everything: a body over the limit). Write errors are ignored.
  RawResponse SendAndRead(const std::string& bytes) {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    boost::system::error_code ec;
    stream_.expires_after(timeout_);
    boost::asio::async_write(stream_, boost::asio::buffer(bytes),
                             [](const boost::system::error_code&, std::size_t) {});
    boost::beast::http::async_read(stream_, buffer_, parser,
                                   [&](const boost::system::error_code& result, std::size_t) {
                                     ec = result;
                                   });
    RunUntilDone();
    if (ec) throw boost::system::system_error(ec, "read response");
    return parser.release();
  }

  // Sends `bytes` one byte per `interval`, as a slow client does, until the server answers (or
  // the bytes run out), and returns that answer.
  RawResponse TrickleAndRead(const std::string& bytes, std::chrono::milliseconds interval) {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    boost::asio::steady_timer timer(io_context_);
    boost::system::error_code ec;
    bool answered = false;
    std::size_t next = 0;
    std::function<void()> send_next = [&] {
      if (answered || next >= bytes.size()) return;
      boost::asio::async_write(
          stream_, boost::asio::buffer(bytes.data() + next, 1),
          [&](const boost::system::error_code& write_ec, std::size_t) {
            if (write_ec) return;
            ++next;
            timer.expires_after(interval);
            timer.async_wait([&](const boost::system::error_code& wait_ec) {
              if (!wait_ec) send_next();
            });
          });
    };
    stream_.expires_after(timeout_);
    boost::beast::http::async_read(stream_, buffer_, parser,
                                   [&](const boost::system::error_code& result, std::size_t) {
                                     ec = result;
                                     answered = true;
                                     timer.cancel();
                                   });
    send_next();
    RunUntilDone();
    if (ec) throw boost::system::system_error(ec, "read response");
    return parser.release();
  }

  // True when the server closed the connection (no further byte arrives before end of stream).
  bool ClosedByServer() {
    if (buffer_.size() > 0) return false;
    char byte = 0;
    boost::system::error_code ec;
    stream_.expires_after(timeout_);
    stream_.async_read_some(boost::asio::buffer(&byte, 1),
                            [&](const boost::system::error_code& result, std::size_t) {
                              ec = result;
                            });
    RunUntilDone();
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

  void Close() { stream_.close(); }

 private:
  void RunUntilDone() {
    io_context_.restart();
    io_context_.run();
  }

  boost::asio::io_context io_context_;
  boost::beast::tcp_stream stream_;
  std::chrono::milliseconds timeout_;
  boost::beast::flat_buffer buffer_;
};

// A complete HTTP/1.1 request as bytes.
inline std::string RawPost(const std::string& target, const std::string& body,
                           const std::string& extra_headers = "Content-Type: application/json\r\n",
                           const std::string& version = "HTTP/1.1") {
  return "POST " + target + " " + version + "\r\nHost: 127.0.0.1\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace payorch::ingress::testing
