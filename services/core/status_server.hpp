#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>

namespace payorch::core {

// A small HTTP/1.1 server for operators: GET /metrics (Prometheus text from `render_metrics`) and
// GET /healthz (200 "ok" while the process runs); anything else 404. One request per connection,
// every read bounded by a timeout and the request size by a limit. It runs on the io_context the
// caller owns (and runs on a thread of its own); Stop closes the acceptor.
// Used by the worker and the sandbox; it knows nothing about either.
class StatusServer {
 public:
  StatusServer(boost::asio::io_context& io, const std::string& host, unsigned short port,
               std::function<std::string()> render_metrics);

  // The bound port (useful with port 0).
  unsigned short port() const { return port_; }
  void Stop();

 private:
  void Accept();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::function<std::string()> render_metrics_;
  unsigned short port_ = 0;
};

}  // namespace payorch::core
