#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <thread>

#include "tests/fakes/cleeng/fake_cleeng_api.hpp"

namespace payorch::testing::fakes {

struct FakeCleengOptions {
  // Loopback only (127.0.0.1, ::1 or localhost); port 0 picks a free port.
  std::string host = "127.0.0.1";
  int port = 0;
  std::string publisher_token = "fake-publisher-token";
  // Both set: serve HTTPS with this PEM certificate chain and key (tests of the client's TLS).
  std::string tls_certificate_file;
  std::string tls_key_file;
};

// FakeCleengApi over HTTP/1.1 (Boost.Beast), for tests and the payorch-fake-cleeng binary.
// It runs its own io_context on one thread it owns (a test fake: nothing else to share it with),
// started by the constructor and joined by the destructor. Throws std::runtime_error when the
// address is not loopback or cannot be bound, or the TLS files cannot be loaded.
class FakeCleengServer {
 public:
  explicit FakeCleengServer(FakeCleengOptions options = {});
  ~FakeCleengServer();
  FakeCleengServer(const FakeCleengServer&) = delete;
  FakeCleengServer& operator=(const FakeCleengServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" (https with TLS): what payorch's --cleeng-base-url takes.
  std::string base_url() const;
  FakeCleengApi& api() { return api_; }

 private:
  FakeCleengOptions options_;
  FakeCleengApi api_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace payorch::testing::fakes
