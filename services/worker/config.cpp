#include "services/worker/config.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <algorithm>
#include <array>
#include <cstdint>
#include <iostream>

namespace payorch::worker {
namespace {

// What a flow's lease must hold beyond its calls' bounds (database steps, scheduling).
constexpr std::chrono::milliseconds kFlowLeaseMargin{1000};

std::string DefaultWorkerId() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  const std::string name = host[0] != '\0' ? host.data() : "worker";
  return name + ":" + std::to_string(getpid());
}

// The Cleeng flags. `millis`: connect, request, max call time, backoff base, backoff max.
void AddCleengOptions(CLI::App& app, WorkerConfig& config, std::string& base_url,
                      const std::array<std::int64_t*, 5>& millis) {
  const auto range = CLI::Range(std::int64_t{1}, std::int64_t{600000});
  app.add_flag("--cleeng-reporting", config.cleeng.enabled,
               "Run the Cleeng flows: create orders and report payments to Cleeng "
               "(token from PAYORCH_CLEENG_PUBLISHER_TOKEN)")
      ->envname("PAYORCH_CLEENG_REPORTING");
  app.add_option("--cleeng-base-url", base_url, "sandbox, production, or http(s)://host[:port]")
      ->envname("PAYORCH_CLEENG_BASE_URL");
  app.add_option("--cleeng-connect-timeout-ms", *millis[0], "TCP connect + TLS handshake bound")
      ->envname("PAYORCH_CLEENG_CONNECT_TIMEOUT_MS")
      ->check(range);
  app.add_option("--cleeng-request-timeout-ms", *millis[1], "Bound of one request and its answer")
      ->envname("PAYORCH_CLEENG_REQUEST_TIMEOUT_MS")
      ->check(range);
  app.add_option("--cleeng-max-call-time-ms", *millis[2], "Bound of one call, retries included")
      ->envname("PAYORCH_CLEENG_MAX_CALL_TIME_MS")
      ->check(range);
  app.add_option("--cleeng-backoff-base-ms", *millis[3], "First delay between a call's retries")
      ->envname("PAYORCH_CLEENG_BACKOFF_BASE_MS")
      ->check(range);
  app.add_option("--cleeng-backoff-max-ms", *millis[4], "Longest delay between a call's retries")
      ->envname("PAYORCH_CLEENG_BACKOFF_MAX_MS")
      ->check(range);
  app.add_option("--cleeng-max-attempts", config.cleeng.max_attempts,
                 "Requests per Cleeng call (429, 5xx and transport failures are retried)")
      ->envname("PAYORCH_CLEENG_MAX_ATTEMPTS")
      ->check(CLI::Range(1, 100));
  app.add_option("--cleeng-ca-file", config.cleeng.ca_file,
                 "PEM bundle of CAs trusted for Cleeng (default: the system's)")
      ->envname("PAYORCH_CLEENG_CA_FILE");
  app.add_option("--cleeng-flow-threads", config.cleeng_flow_threads,
                 "Threads running Cleeng flows (each blocks for its Cleeng calls)")
      ->envname("PAYORCH_CLEENG_FLOW_THREADS")
      ->check(CLI::Range(1, 1024));
}

}  // namespace

std::optional<std::pair<std::string, unsigned short>> ParseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return std::nullopt;
  const std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const int port = std::stoi(port_text);
  if (port > 65535) return std::nullopt;
  boost::system::error_code error;
  boost::asio::ip::make_address_v4(host, error);
  if (error && host != "localhost") return std::nullopt;
  return std::make_pair(host == "localhost" ? std::string("127.0.0.1") : host,
                        static_cast<unsigned short>(port));
}

AdaptersConfig EffectiveAdapters(const WorkerConfig& config) {
  if (config.adapters) return *config.adapters;
  AdaptersConfig adapters;
  AdapterSettings settings;
  settings.name = config.adapter_name;
  settings.address = config.adapter_address;
  settings.deadline = config.adapter_deadline;
  settings.max_in_flight = config.adapter_max_in_flight;
  settings.retry = config.retry;
  settings.breaker = config.breaker;
  adapters.adapters.emplace(settings.name, settings);
  adapters.default_adapter = settings.name;
  return adapters;
}

core::Result<WorkerConfig, ConfigExit> ParseConfig(int argc, const char* const* argv) {
  WorkerConfig config;
  std::int64_t deadline_ms = config.adapter_deadline.count();
  std::int64_t base_ms = config.retry.base_delay.count();
  std::int64_t max_ms = config.retry.max_delay.count();
  std::int64_t lease_ms = config.lease.count();
  std::int64_t poll_ms = config.poll_interval.count();
  std::int64_t statement_timeout_ms = config.statement_timeout.count();
  std::int64_t probe_ms = config.breaker.probe_interval.count();
  std::int64_t shutdown_ms = config.shutdown_timeout.count();

  std::int64_t cleeng_connect_ms = config.cleeng.connect_timeout.count();
  std::int64_t cleeng_request_ms = config.cleeng.request_timeout.count();
  std::int64_t cleeng_call_ms = config.cleeng.max_call_time.count();
  std::int64_t cleeng_base_ms = config.cleeng.backoff_base.count();
  std::int64_t cleeng_max_ms = config.cleeng.backoff_max.count();
  std::string cleeng_base_url = "sandbox";

  CLI::App app{"payorch-worker: claims due jobs, calls the gateway adapter, records the outcome"};
  app.option_defaults()->always_capture_default();
  app.add_option("--database-url", config.database_url, "PostgreSQL URL")
      ->envname("PAYORCH_DATABASE_URL")
      ->required();
  app.add_option("--database-statement-timeout-ms", statement_timeout_ms,
                 "Bound of every database statement of the worker")
      ->envname("PAYORCH_DATABASE_STATEMENT_TIMEOUT_MS")
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{600000}));
  app.add_option("--adapters-config", config.adapters_config_path,
                 "YAML file of adapters and routes (docs/routing.md); reloaded on SIGHUP")
      ->envname("PAYORCH_ADAPTERS_CONFIG");
  app.add_option("--adapter-name", config.adapter_name, "Name recorded for the adapter")
      ->envname("PAYORCH_ADAPTER_NAME");
  app.add_option("--adapter-address", config.adapter_address, "host:port of the gRPC adapter")
      ->envname("PAYORCH_ADAPTER_ADDRESS");
  app.add_option("--adapter-deadline-ms", deadline_ms, "Deadline of each adapter call")
      ->envname("PAYORCH_ADAPTER_DEADLINE_MS")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{600000}));
  app.add_option("--max-attempts", config.retry.max_attempts, "Attempts before a job is dead")
      ->envname("PAYORCH_MAX_ATTEMPTS")
      ->check(CLI::Range(1, 1000));
  app.add_option("--backoff-base-ms", base_ms, "Delay after the first failed attempt")
      ->envname("PAYORCH_BACKOFF_BASE_MS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{86400000}));
  app.add_option("--backoff-max-ms", max_ms, "Longest delay between attempts")
      ->envname("PAYORCH_BACKOFF_MAX_MS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{86400000}));
  app.add_option("--lease-ms", lease_ms, "How long a claim owns a job (> 2 x deadline)")
      ->envname("PAYORCH_LEASE_MS")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86400000}));
  app.add_option("--poll-interval-ms", poll_ms, "Claim at least this often without a NOTIFY")
      ->envname("PAYORCH_POLL_INTERVAL_MS")
      ->check(CLI::Range(std::int64_t{10}, std::int64_t{3600000}));
  app.add_option("--concurrency", config.concurrency, "Jobs held at once (calls in flight at most this many)")
      ->envname("PAYORCH_CONCURRENCY")
      ->check(CLI::Range(1, 10000));
  app.add_option("--claim-batch", config.claim_batch, "Most jobs claimed per statement")
      ->envname("PAYORCH_CLAIM_BATCH")
      ->check(CLI::Range(1, 1000));
  app.add_option("--worker-id", config.worker_id, "Recorded as the owner of claimed jobs")
      ->envname("PAYORCH_WORKER_ID");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn or error")
      ->envname("PAYORCH_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--log-format", config.log_format, "text (logfmt) or json (one object a line)")
      ->envname("PAYORCH_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}));

  app.add_option("--adapter-max-in-flight", config.adapter_max_in_flight,
                 "Most calls in flight to the adapter (0: --concurrency)")
      ->envname("PAYORCH_ADAPTER_MAX_IN_FLIGHT")
      ->check(CLI::Range(0, 100000));
  app.add_option("--breaker-failures", config.breaker.failure_threshold,
                 "Consecutive adapter failures that open the circuit breaker")
      ->envname("PAYORCH_BREAKER_FAILURES")
      ->check(CLI::Range(1, 100000));
  app.add_option("--breaker-probe-ms", probe_ms,
                 "How long an open breaker waits before a probe call (parked jobs wait as long)")
      ->envname("PAYORCH_BREAKER_PROBE_MS")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600000}));
  app.add_option("--shutdown-timeout-ms", shutdown_ms,
                 "After SIGTERM, longest wait for in-flight jobs to finish and be recorded")
      ->envname("PAYORCH_SHUTDOWN_TIMEOUT_MS")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600000}));
  app.add_option("--metrics-listen", config.metrics_listen,
                 "host:port of the /metrics and /healthz HTTP server")
      ->envname("PAYORCH_WORKER_METRICS_LISTEN");
  AddCleengOptions(app, config, cleeng_base_url,
                   {&cleeng_connect_ms, &cleeng_request_ms, &cleeng_call_ms, &cleeng_base_ms,
                    &cleeng_max_ms});
  app.add_flag("--check-config", config.check_config,
               "Validate the configuration (flags and environment), then exit 0");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, or the error and a usage hint
    return ConfigExit{code == 0 ? 0 : 2};
  }

  auto fail = [](const std::string& message) {
    std::cerr << "payorch-worker: " << message << "\n";
    return ConfigExit{2};
  };
  if (config.database_url.empty()) return fail("--database-url must not be empty");
  // The single-adapter flags are a shorthand for a one-adapter file: both at once would leave it
  // unclear which settings apply.
  if (!config.adapters_config_path.empty()) {
    for (const char* flag :
         {"--adapter-name", "--adapter-address", "--adapter-deadline-ms", "--max-attempts",
          "--backoff-base-ms", "--backoff-max-ms", "--adapter-max-in-flight", "--breaker-failures",
          "--breaker-probe-ms"}) {
      if (app.count(flag) > 0) {
        return fail(std::string("--adapters-config and ") + flag +
                    " (or its environment variable) are both set: the adapters file holds every "
                    "adapter setting; use one or the other");
      }
    }
  }
  if (config.adapter_address.empty()) return fail("--adapter-address must not be empty");
  if (config.adapter_name.empty()) return fail("--adapter-name must not be empty");
  if (max_ms < base_ms) return fail("--backoff-max-ms must be at least --backoff-base-ms");
  // An attempt on an in-doubt job makes up to two calls (GetPaymentStatus, then the payment
  // call), each bounded by the deadline; the lease must outlast both, or a live worker's job would
  // be rescued by another while its call is still running.
  if (config.adapters_config_path.empty() && lease_ms <= 2 * deadline_ms) {
    return fail("--lease-ms (" + std::to_string(lease_ms) +
                ") must exceed twice --adapter-deadline-ms (" + std::to_string(deadline_ms) + ")");
  }
  if (!ParseListen(config.metrics_listen)) {
    return fail("--metrics-listen must be host:port (IPv4 host, port 0..65535), got \"" +
                config.metrics_listen + "\"");
  }
  if (config.adapter_max_in_flight == 0) config.adapter_max_in_flight = config.concurrency;
  if (config.worker_id.empty()) config.worker_id = DefaultWorkerId();
  config.breaker.probe_interval = std::chrono::milliseconds(probe_ms);
  config.shutdown_timeout = std::chrono::milliseconds(shutdown_ms);

  config.adapter_deadline = std::chrono::milliseconds(deadline_ms);
  config.retry.base_delay = std::chrono::milliseconds(base_ms);
  config.retry.max_delay = std::chrono::milliseconds(max_ms);
  config.lease = std::chrono::milliseconds(lease_ms);
  config.poll_interval = std::chrono::milliseconds(poll_ms);
  config.statement_timeout = std::chrono::milliseconds(statement_timeout_ms);
  if (!config.adapters_config_path.empty()) {
    auto adapters = LoadAdaptersConfig(config.adapters_config_path, config.lease);
    if (!adapters.ok()) return fail(adapters.error());
    config.adapters = std::move(adapters.value());
  }

  config.cleeng.base_url = cleeng::ResolveBaseUrl(cleeng_base_url);
  config.cleeng.connect_timeout = std::chrono::milliseconds(cleeng_connect_ms);
  config.cleeng.request_timeout = std::chrono::milliseconds(cleeng_request_ms);
  config.cleeng.max_call_time = std::chrono::milliseconds(cleeng_call_ms);
  config.cleeng.backoff_base = std::chrono::milliseconds(cleeng_base_ms);
  config.cleeng.backoff_max = std::chrono::milliseconds(cleeng_max_ms);
  if (config.cleeng.enabled) {
    config.cleeng.publisher_token = cleeng::PublisherTokenFromEnvironment();
    if (const auto problem = cleeng::Validate(config.cleeng)) return fail(*problem);
    auto longest_deadline = std::chrono::milliseconds(0);
    for (const auto& [name, adapter] : EffectiveAdapters(config).adapters) {
      longest_deadline = std::max(longest_deadline, adapter.deadline);
    }
    const auto needed = 3 * config.cleeng.max_call_time + longest_deadline + kFlowLeaseMargin;
    if (config.lease <= needed) {
      return fail("--lease-ms (" + std::to_string(lease_ms) + ") must exceed " +
                  std::to_string(needed.count()) +
                  " with --cleeng-reporting: 3 x --cleeng-max-call-time-ms + the longest adapter "
                  "deadline + " + std::to_string(kFlowLeaseMargin.count()) +
                  " ms (a flow makes up to three Cleeng calls and one adapter call per lease)");
    }
  }
  return config;
}

}  // namespace payorch::worker
