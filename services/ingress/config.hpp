#pragma once

#include "services/core/logging.hpp"

#include <cstddef>
#include <string>
#include <variant>

#include <boost/asio/ip/tcp.hpp>

#include "services/ingress/auth.hpp"

namespace payorch::ingress {

// Everything payorch-ingress can be told, validated. Flags win over environment variables.
struct IngressConfig {
  boost::asio::ip::tcp::endpoint listen;  // --listen / PAYORCH_LISTEN, default 127.0.0.1:8080
  std::string listen_text;
  std::string database_url;               // --database-url / PAYORCH_DATABASE_URL (required)
  int threads = 2;                        // --threads / PAYORCH_INGRESS_THREADS, 1..64
  std::size_t body_limit_bytes = 1024 * 1024;  // --body-limit-bytes / PAYORCH_BODY_LIMIT_BYTES
  std::size_t batch_max = 256;            // --batch-max / PAYORCH_INGRESS_BATCH_MAX, 1..10000
  std::size_t queue_capacity = 4096;      // --queue-capacity / PAYORCH_INGRESS_QUEUE_CAPACITY
  bool reject_unknown_topics = false;     // --reject-unknown-topics / PAYORCH_REJECT_UNKNOWN_TOPICS
  int shutdown_timeout_seconds = 10;      // --shutdown-timeout-seconds
  int read_timeout_ms = 15000;            // --read-timeout-ms / PAYORCH_INGRESS_READ_TIMEOUT_MS
  int writers = 2;                        // --writers / PAYORCH_INGRESS_WRITERS, 1..16
  int db_timeout_ms = 5000;               // --db-timeout-ms / PAYORCH_INGRESS_DB_TIMEOUT_MS
  AuthPolicy auth;                        // --hmac-secrets, --signature-header, --url-tokens,
                                          // --allow-cidrs, --trusted-proxies (+ PAYORCH_INGRESS_*)
  bool check_only = false;                // --check-config: validate, print a summary, exit 0
  std::string log_level = "info";         // --log-level / PAYORCH_LOG_LEVEL
  core::LogFormat log_format = core::LogFormat::kText;  // --log-format / PAYORCH_LOG_FORMAT
};

// "host:port" or "[v6]:port" with a numeric host. Empty optional-like result on error: returns
// false and leaves `out` untouched.
bool ParseListenAddress(const std::string& text, boost::asio::ip::tcp::endpoint& out);

// Parses the command line (and environment). Returns the config, or the exit code main must
// return: 0 after --help, 2 for a bad setting (with the reason printed on stderr).
std::variant<IngressConfig, int> ParseConfig(int argc, char** argv);

}  // namespace payorch::ingress
