#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "services/core/result.hpp"

namespace payorch::cleeng {

// Where Cleeng is: scheme, host and port of a base URL.
struct BaseUrl {
  bool tls = true;
  std::string host;
  std::string port;
};

// Accepts http://host[:port] and https://host[:port], optionally with a trailing "/"; an error
// message for anything else (a path, a query, user info, a bad port).
core::Result<BaseUrl, std::string> ParseBaseUrl(std::string_view url);

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};
  std::string ca_file;  // empty: the system's trust store
  std::size_t max_body_bytes = 1 << 20;
};

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;  // "/3.1/orders?..."
  std::string body;    // JSON; empty for GET
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header as sent, empty when absent
};

// The exchange did not produce an answer: resolve, connect, TLS (certificate included), write or
// read failed or timed out. Whether the request reached Cleeng is unknown.
struct TransportFailure {
  std::string message;
  // False when the exchange failed before any byte of the request was written (resolve,
  // connect, TLS): Cleeng cannot have acted on it, so even a create may be repeated.
  bool request_sent = true;
};

// One HTTP/1.1 exchange per call on a fresh connection (Connection: close), TLS verified against
// the host name by default. Every phase is bounded: connect and handshake by connect_timeout,
// write and read by request_timeout, name resolution by their sum. Sends X-Publisher-Token on
// every request and never puts it in an error message. Exchange is thread-safe: each call runs
// on its own io_context on the calling thread (no thread of its own).
class HttpTransport {
 public:
  HttpTransport(BaseUrl url, std::string publisher_token, TransportOptions options);

  core::Result<HttpResponse, TransportFailure> Exchange(const HttpRequest& request) const;

 private:
  BaseUrl url_;
  std::string publisher_token_;
  TransportOptions options_;
  // Shared by all exchanges: read-only after construction, which OpenSSL allows across threads.
  mutable boost::asio::ssl::context ssl_context_;
};

}  // namespace payorch::cleeng
