// payorch-ingress: receives Cleeng webhooks and stores one job per distinct event.
#include <csignal>
#include <cstdlib>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "services/core/logging.hpp"
#include "services/ingress/config.hpp"
#include "services/ingress/job_writer.hpp"
#include "services/ingress/request_handler.hpp"
#include "services/ingress/server.hpp"

namespace asio = boost::asio;
using namespace payorch;

int main(int argc, char** argv) {
  auto parsed = ingress::ParseConfig(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const ingress::IngressConfig& config = std::get<ingress::IngressConfig>(parsed);
  if (!core::InitLogging("ingress", config.log_level)) return 2;

  // HTTP sessions run on this io_context's threads (below); they never block.
  asio::io_context io_context(config.threads);

  // The one thread that talks to PostgreSQL (libpqxx blocks): it owns the writer's connection.
  ingress::JobWriter writer({.database_url = config.database_url,
                             .batch_max = config.batch_max,
                             .queue_capacity = config.queue_capacity});
  std::thread writer_thread([&writer] { writer.Run(); });

  ingress::RequestHandler handler(writer, {.body_limit_bytes = config.body_limit_bytes,
                                           .reject_unknown_topics = config.reject_unknown_topics});
  ingress::Server server(io_context, handler, {.body_limit_bytes = config.body_limit_bytes});
  try {
    server.Listen(config.listen);
  } catch (const std::exception& e) {
    spdlog::error("cannot listen address={} error=\"{}\"", config.listen_text, e.what());
    writer.Stop();
    writer_thread.join();
    return 1;
  }

  asio::signal_set signals(io_context, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    spdlog::info("stopping signal={} in_flight_connections={}", signal_number,
                 server.ActiveSessions());
    server.Shutdown();
    asio::co_spawn(
        io_context,
        [&]() -> asio::awaitable<void> {
          const bool drained =
              co_await server.Drained(std::chrono::seconds(config.shutdown_timeout_seconds));
          if (!drained) {
            spdlog::warn("shutdown timeout, closing connections={}", server.ActiveSessions());
          }
          io_context.stop();
        },
        asio::detached);
  });

  server.Start();
  spdlog::info("listening address={} database={} batch_max={} threads={}",
               server.local_endpoint().address().to_string() + ":" +
                   std::to_string(server.local_endpoint().port()),
               core::RedactDatabaseUrl(config.database_url), config.batch_max, config.threads);

  std::vector<std::thread> http_threads;
  for (int i = 1; i < config.threads; ++i) http_threads.emplace_back([&] { io_context.run(); });
  io_context.run();
  for (auto& thread : http_threads) thread.join();

  // Whatever reached the queue is still committed before exit.
  writer.Stop();
  writer_thread.join();
  spdlog::info("stopped");
  return EXIT_SUCCESS;
}
