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
#include "services/core/metrics.hpp"
#include "services/ingress/config.hpp"
#include "services/ingress/ingress_metrics.hpp"
#include "services/ingress/job_writer.hpp"
#include "services/ingress/request_handler.hpp"
#include "services/ingress/server.hpp"

namespace asio = boost::asio;
using namespace payorch;

int main(int argc, char** argv) {
  auto parsed = ingress::ParseConfig(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const ingress::IngressConfig& config = std::get<ingress::IngressConfig>(parsed);
  if (!core::InitLogging("ingress", config.log_level, config.log_format)) return 2;
  if (config.check_only) {
    // Secrets are counted, never printed.
    spdlog::info("configuration valid listen={} database={} threads={} writers={} batch_max={} "
                 "hmac_secrets={} url_tokens={} allow_cidrs={} trusted_proxies={}",
                 config.listen_text, core::RedactDatabaseUrl(config.database_url),
                 config.threads, config.writers, config.batch_max,
                 config.auth.hmac_secrets.size(), config.auth.url_tokens.size(),
                 config.auth.allowed_networks.size(), config.auth.trusted_proxies.size());
    return EXIT_SUCCESS;
  }

  // The one metrics registry of the process, rendered by GET /metrics.
  core::Registry registry;
  ingress::IngressMetrics metrics(registry);

  // HTTP sessions run on this io_context's threads (below); they never block.
  asio::io_context io_context(config.threads);

  // The threads that talk to PostgreSQL (libpqxx blocks), each owning one connection: with two
  // or more, one batch commits (waits for fsync) while the next one gathers.
  ingress::JobWriter writer({.database_url = config.database_url,
                             .batch_max = config.batch_max,
                             .queue_capacity = config.queue_capacity,
                             .statement_timeout = std::chrono::milliseconds(config.db_timeout_ms),
                             .metrics = &metrics});
  std::vector<std::thread> writer_threads;
  for (int i = 0; i < config.writers; ++i) writer_threads.emplace_back([&writer] { writer.Run(); });
  const auto stop_writers = [&] {
    writer.Stop();
    for (auto& thread : writer_threads) thread.join();
  };

  ingress::RequestHandler handler(writer, {.body_limit_bytes = config.body_limit_bytes,
                                           .reject_unknown_topics = config.reject_unknown_topics,
                                           .auth = config.auth,
                                           .metrics = &metrics});
  ingress::Server server(io_context, handler,
                         {.body_limit_bytes = config.body_limit_bytes,
                          .read_timeout = std::chrono::milliseconds(config.read_timeout_ms),
                          .metrics = &metrics});
  try {
    server.Listen(config.listen);
  } catch (const std::exception& e) {
    spdlog::error("cannot listen address={} error=\"{}\"", config.listen_text, e.what());
    stop_writers();
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
  spdlog::info("listening address={} database={} batch_max={} threads={} writers={} "
               "hmac_secrets={} url_tokens={} allow_cidrs={}",
               server.local_endpoint().address().to_string() + ":" +
                   std::to_string(server.local_endpoint().port()),
               core::RedactDatabaseUrl(config.database_url), config.batch_max, config.threads,
               config.writers, config.auth.hmac_secrets.size(), config.auth.url_tokens.size(),
               config.auth.allowed_networks.size());

  std::vector<std::thread> http_threads;
  for (int i = 1; i < config.threads; ++i) http_threads.emplace_back([&] { io_context.run(); });
  io_context.run();
  for (auto& thread : http_threads) thread.join();

  // Whatever reached the queue is still committed before exit.
  stop_writers();
  spdlog::info("stopped");
  return EXIT_SUCCESS;
}
