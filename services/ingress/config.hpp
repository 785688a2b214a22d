#pragma once

#include <cstddef>
#include <string>
#include <variant>

#include <boost/asio/ip/tcp.hpp>

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
  std::string log_level = "info";         // --log-level / PAYORCH_LOG_LEVEL
};

// "host:port" or "[v6]:port" with a numeric host. Empty optional-like result on error: returns
// false and leaves `out` untouched.
bool ParseListenAddress(const std::string& text, boost::asio::ip::tcp::endpoint& out);

// Parses the command line (and environment). Returns the config, or the exit code main must
// return: 0 after --help, 2 for a bad setting (with the reason printed on stderr).
std::variant<IngressConfig, int> ParseConfig(int argc, char** argv);

}  // namespace payorch::ingress
