#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "services/ingress/request_handler.hpp"

namespace payorch::ingress {

struct ServerOptions {
  std::size_t body_limit_bytes = 1024 * 1024;
  // A client must send each request (header and body) within this time once it started it, else
  // it gets 408 and the connection is closed. An idle keep-alive connection is closed silently
  // after the same time.
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds write_timeout{15000};
  // Requests by route and status, latency; null: not counted.
  IngressMetrics* metrics = nullptr;
};

// The HTTP transport: accepts connections and runs one session per connection (HTTP/1.1
// keep-alive, one request at a time, a read timeout and a body limit on every request). Each
// session runs on its own strand of the io_context; the decisions belong to RequestHandler.
class Server {
 public:
  Server(boost::asio::io_context& io_context, RequestHandler& handler, ServerOptions options);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Throws boost::system::system_error when the address cannot be used.
  void Listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // The bound address (the real port after listening on port 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Starts accepting on the io_context.
  void Start();

  // Thread-safe. Stops accepting, closes connections waiting for a request, and makes busy ones
  // close after their response; requests already read are answered.
  void Shutdown();
  // Completes when no session is left or `timeout` passed; true when none is left.
  boost::asio::awaitable<bool> Drained(std::chrono::milliseconds timeout);
  std::size_t ActiveSessions() const;

 private:
  struct Session;

  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Serve(std::shared_ptr<Session> session);
  void Unregister(const std::shared_ptr<Session>& session);
  void ArmReadTimer(const std::shared_ptr<Session>& session);
  void Count(Route route, int status, std::chrono::steady_clock::time_point started);

  boost::asio::io_context& io_context_;
  RequestHandler& handler_;
  const ServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;

  std::atomic<bool> shutting_down_{false};
  mutable std::mutex mutex_;
  std::list<std::shared_ptr<Session>> sessions_;  // guarded by mutex_
};

}  // namespace payorch::ingress
