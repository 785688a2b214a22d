#include "services/ingress/config.hpp"

#include <charconv>
#include <iostream>

#include <CLI/CLI.hpp>

namespace payorch::ingress {

bool ParseListenAddress(const std::string& text, boost::asio::ip::tcp::endpoint& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return false;
  }
  boost::system::error_code address_ec;
  const auto address = boost::asio::ip::make_address(host, address_ec);
  if (address_ec) return false;
  out = boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
  return true;
}

std::variant<IngressConfig, int> ParseConfig(int argc, char** argv) {
  IngressConfig config;
  CLI::App app{"payorch-ingress: receives Cleeng webhooks and stores one job per event"};
  std::string listen = "127.0.0.1:8080";
  app.add_option("--listen", listen, "address:port to listen on (numeric host)")
      ->envname("PAYORCH_LISTEN")
      ->capture_default_str();
  app.add_option("--database-url", config.database_url, "PostgreSQL URL (libpq)")
      ->envname("PAYORCH_DATABASE_URL")
      ->required();
  app.add_option("--threads", config.threads, "HTTP (Asio) threads")
      ->envname("PAYORCH_INGRESS_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--body-limit-bytes", config.body_limit_bytes, "largest accepted webhook body")
      ->envname("PAYORCH_BODY_LIMIT_BYTES")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64} * 1024 * 1024))
      ->capture_default_str();
  app.add_option("--batch-max", config.batch_max,
                 "most webhooks committed in one transaction (1 = one commit per request)")
      ->envname("PAYORCH_INGRESS_BATCH_MAX")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000}))
      ->capture_default_str();
  app.add_option("--queue-capacity", config.queue_capacity,
                 "webhooks waiting for the database before answering 503")
      ->envname("PAYORCH_INGRESS_QUEUE_CAPACITY")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))
      ->capture_default_str();
  app.add_flag("--reject-unknown-topics", config.reject_unknown_topics,
               "answer 422 to topics payorch does not act on instead of 200 ignored")
      ->envname("PAYORCH_REJECT_UNKNOWN_TOPICS");
  app.add_option("--shutdown-timeout-seconds", config.shutdown_timeout_seconds,
                 "on SIGTERM, how long in-flight requests may take")
      ->envname("PAYORCH_INGRESS_SHUTDOWN_TIMEOUT_SECONDS")
      ->check(CLI::Range(0, 300))
      ->capture_default_str();
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn or error")
      ->envname("PAYORCH_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (!ParseListenAddress(listen, config.listen)) {
    std::cerr << "--listen: expected HOST:PORT with a numeric host, got \"" << listen << "\"\n";
    return 2;
  }
  config.listen_text = listen;
  return config;
}

}  // namespace payorch::ingress
