#include "services/ingress/config.hpp"

#include "services/core/logging.hpp"

#include <charconv>
#include <iostream>
#include <tuple>

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
  app.add_option("--read-timeout-ms", config.read_timeout_ms,
                 "a client must send a whole request within this time, else 408 and close")
      ->envname("PAYORCH_INGRESS_READ_TIMEOUT_MS")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  app.add_option("--writers", config.writers,
                 "database writer threads, each with its own connection (one batch commits while "
                 "the next gathers)")
      ->envname("PAYORCH_INGRESS_WRITERS")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  app.add_option("--db-timeout-ms", config.db_timeout_ms,
                 "statement timeout of the writers' connections: a slower database answers 503")
      ->envname("PAYORCH_INGRESS_DB_TIMEOUT_MS")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  // Secrets: comma-separated lists so that a new secret can be added before the old one is
  // removed (rotation). Prefer the environment: flags are visible in the process list.
  std::string hmac_secrets;
  std::string url_tokens;
  std::string allow_cidrs;
  std::string trusted_proxies;
  app.add_option("--hmac-secrets", hmac_secrets,
                 "comma-separated HMAC-SHA256 secrets; when set, every webhook must be signed")
      ->envname("PAYORCH_INGRESS_HMAC_SECRETS");
  app.add_option("--signature-header", config.auth.signature_header,
                 "header holding the body's HMAC-SHA256 (hex or base64, optional sha256=)")
      ->envname("PAYORCH_INGRESS_SIGNATURE_HEADER")
      ->capture_default_str();
  app.add_option("--url-tokens", url_tokens,
                 "comma-separated secret tokens; when set, webhooks must post to "
                 "/v1/webhooks/cleeng/TOKEN or add ?token=TOKEN")
      ->envname("PAYORCH_INGRESS_URL_TOKENS");
  app.add_option("--allow-cidrs", allow_cidrs,
                 "comma-separated source networks allowed to post webhooks (empty: any)")
      ->envname("PAYORCH_INGRESS_ALLOW_CIDRS");
  app.add_option("--trusted-proxies", trusted_proxies,
                 "comma-separated networks of proxies whose X-Forwarded-For is believed")
      ->envname("PAYORCH_INGRESS_TRUSTED_PROXIES");
  app.add_flag("--check-config", config.check_only,
               "validate the configuration (flags and environment) and exit 0 without starting");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn or error")
      ->envname("PAYORCH_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "text (logfmt) or json (one object a line)")
      ->envname("PAYORCH_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
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
  config.log_format = *core::LogFormatFromName(log_format);
  config.auth.hmac_secrets = SplitList(hmac_secrets);
  config.auth.url_tokens = SplitList(url_tokens);
  for (const auto& [flag, text, out] :
       {std::tuple{"--allow-cidrs", &allow_cidrs, &config.auth.allowed_networks},
        std::tuple{"--trusted-proxies", &trusted_proxies, &config.auth.trusted_proxies}}) {
    for (const auto& entry : SplitList(*text)) {
      const auto cidr = ParseCidr(entry);
      if (!cidr) {
        std::cerr << flag << ": expected a network like 10.0.0.0/8 or 2001:db8::/32, got \""
                  << entry << "\"\n";
        return 2;
      }
      out->push_back(*cidr);
    }
  }
  for (const auto& token : config.auth.url_tokens) {
    // A token travels in a URL path segment: keep it to characters that need no escaping.
    if (token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_.~") != std::string::npos) {
      std::cerr << "--url-tokens: tokens may hold only letters, digits and -_.~\n";
      return 2;
    }
  }
  if (config.auth.signature_header.empty() ||
      config.auth.signature_header.find_first_of(" \t:\r\n") != std::string::npos) {
    std::cerr << "--signature-header: expected an HTTP header name\n";
    return 2;
  }
  return config;
}

}  // namespace payorch::ingress
