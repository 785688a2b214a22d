#pragma once

// The ingress in-process for integration tests: Server + RequestHandler + JobWriter wired as
// main.cpp wires them, on 127.0.0.1 port 0, torn down in order.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "services/core/metrics.hpp"
#include "services/ingress/ingress_metrics.hpp"
#include "services/ingress/job_writer.hpp"
#include "services/ingress/request_handler.hpp"
#include "services/ingress/server.hpp"

namespace payorch::ingress::testing {

struct RunningIngressOptions {
  std::size_t batch_max = 256;
  int writers = 2;
  std::size_t queue_capacity = 4096;
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds statement_timeout{5000};
  AuthPolicy auth{};
  bool reject_unknown_topics = false;
};

class RunningIngress {
 public:
  explicit RunningIngress(const std::string& database_url, RunningIngressOptions options = {})
      : metrics_(registry_),
        writer_({.database_url = database_url,
                 .batch_max = options.batch_max,
                 .queue_capacity = options.queue_capacity,
                 .statement_timeout = options.statement_timeout,
                 .metrics = &metrics_}),
        handler_(writer_, {.reject_unknown_topics = options.reject_unknown_topics,
                           .auth = options.auth,
                           .metrics = &metrics_}),
        server_(io_context_, handler_,
                {.read_timeout = options.read_timeout, .metrics = &metrics_}) {
    for (int i = 0; i < options.writers; ++i) {
      writer_threads_.emplace_back([this] { writer_.Run(); });
    }
    server_.Listen({boost::asio::ip::make_address("127.0.0.1"), 0});
    server_.Start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_context_.run(); });
  }
  ~RunningIngress() { Stop(); }
  RunningIngress(const RunningIngress&) = delete;
  RunningIngress& operator=(const RunningIngress&) = delete;

  int port() const { return server_.local_endpoint().port(); }
  Server& server() { return server_; }
  core::Registry& registry() { return registry_; }

  // The SIGTERM path of main: stop accepting, wait for in-flight requests, stop.
  bool Stop() {
    if (stopped_) return true;
    stopped_ = true;
    // Waiting starts first: once the acceptor closes, the io_context may run out of work.
    auto drained = boost::asio::co_spawn(
        io_context_, server_.Drained(std::chrono::seconds(10)), boost::asio::use_future);
    server_.Shutdown();
    const bool ok = drained.get();
    io_context_.stop();
    for (auto& thread : threads_) thread.join();
    writer_.Stop();
    for (auto& thread : writer_threads_) thread.join();
    return ok;
  }

 private:
  core::Registry registry_;
  IngressMetrics metrics_;
  boost::asio::io_context io_context_;
  JobWriter writer_;
  RequestHandler handler_;
  Server server_;
  std::vector<std::thread> writer_threads_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace payorch::ingress::testing
