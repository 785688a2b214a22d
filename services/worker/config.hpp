#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "services/cleeng/config.hpp"
#include "services/core/result.hpp"
#include "services/worker/adapters_config.hpp"
#include "services/worker/circuit_breaker.hpp"
#include "services/worker/retry_policy.hpp"

namespace payorch::worker {

// Everything payorch-worker is configured with, validated once at start (see ParseConfig for the
// flags and their environment variables).
struct WorkerConfig {
  std::string database_url;
  // --adapters-config: the adapters file (several adapters, routes; reloaded on SIGHUP). When set,
  // `adapters` holds its parsed content and the single-adapter fields below are unused.
  std::string adapters_config_path;
  std::optional<AdaptersConfig> adapters;
  // The single-adapter settings (flags): shorthand for a file with one adapter as the default.
  std::string adapter_name = "default";
  std::string adapter_address = "127.0.0.1:50051";
  std::chrono::milliseconds adapter_deadline{5000};
  RetryPolicy retry;
  std::chrono::milliseconds lease{60000};
  std::chrono::milliseconds poll_interval{500};
  // Bound of every statement on the worker's database connections. A statement past it fails
  // (the claim or record is retried, fences keep that safe) instead of holding the worker without
  // a sign: a claim once ran for minutes under statistics taken with an empty queue.
  std::chrono::milliseconds statement_timeout{10000};
  int concurrency = 16;
  int claim_batch = 16;
  std::string worker_id;  // hostname:pid unless set
  std::string log_level = "info";
  std::string log_format = "text";  // text or json (core::LogFormatFromName)
  // Per-adapter limits: calls in flight at once (0 at parse time means `concurrency`), breaker.
  int adapter_max_in_flight = 0;
  BreakerPolicy breaker;
  // After SIGTERM: how long in-flight jobs may take to finish and be recorded before the process
  // gives up on them (their leases expire and another worker rescues them).
  std::chrono::milliseconds shutdown_timeout{15000};
  // host:port of the /metrics and /healthz HTTP server.
  std::string metrics_listen = "127.0.0.1:9464";
  // Cleeng reporting (docs/cleeng.md): off by default, and then nothing else here is used. The
  // publisher token comes only from PAYORCH_CLEENG_PUBLISHER_TOKEN.
  cleeng::CleengConfig cleeng;
  // Threads that run Cleeng flows (each flow blocks its thread for its Cleeng calls).
  int cleeng_flow_threads = 16;
  // --check-config: validate everything, print a summary, exit 0 without starting.
  bool check_config = false;
};

// Why ParseConfig did not return a config: the process should exit with `exit_code` (0 after
// --help, 2 for bad settings) having printed the message CLI11 or the validation wrote.
struct ConfigExit {
  int exit_code = 2;
};

// The adapters a worker runs with: `adapters` when a file was given, else one adapter made of
// the single-adapter fields, with no routes and itself as the default.
AdaptersConfig EffectiveAdapters(const WorkerConfig& config);

// Parses flags with environment fallbacks:
//   --database-url         PAYORCH_DATABASE_URL        required
//   --adapters-config      PAYORCH_ADAPTERS_CONFIG     (none) excludes every adapter flag below
//   --adapter-name         PAYORCH_ADAPTER_NAME        "default"
//   --adapter-address      PAYORCH_ADAPTER_ADDRESS     127.0.0.1:50051
//   --adapter-deadline-ms  PAYORCH_ADAPTER_DEADLINE_MS 5000
//   --max-attempts         PAYORCH_MAX_ATTEMPTS        8
//   --backoff-base-ms      PAYORCH_BACKOFF_BASE_MS     1000
//   --backoff-max-ms       PAYORCH_BACKOFF_MAX_MS      300000
//   --lease-ms             PAYORCH_LEASE_MS            60000 (> 2 x the adapter deadline)
//   --poll-interval-ms     PAYORCH_POLL_INTERVAL_MS    500
//   --concurrency          PAYORCH_CONCURRENCY         16
//   --claim-batch          PAYORCH_CLAIM_BATCH         16
//   --worker-id            PAYORCH_WORKER_ID           hostname:pid
//   --log-level            PAYORCH_LOG_LEVEL           info
//   --adapter-max-in-flight PAYORCH_ADAPTER_MAX_IN_FLIGHT  concurrency
//   --breaker-failures     PAYORCH_BREAKER_FAILURES    5
//   --breaker-probe-ms     PAYORCH_BREAKER_PROBE_MS    2000
//   --shutdown-timeout-ms  PAYORCH_SHUTDOWN_TIMEOUT_MS 15000
//   --metrics-listen       PAYORCH_WORKER_METRICS_LISTEN 127.0.0.1:9464
//   --check-config         (flag)
//   --cleeng-reporting     PAYORCH_CLEENG_REPORTING    off: run the Cleeng flows (docs/cleeng.md)
//   --cleeng-base-url      PAYORCH_CLEENG_BASE_URL     sandbox | production | http(s)://host[:port]
//   --cleeng-connect-timeout-ms, --cleeng-request-timeout-ms, --cleeng-max-attempts,
//   --cleeng-max-call-time-ms, --cleeng-backoff-base-ms, --cleeng-backoff-max-ms,
//   --cleeng-ca-file, --cleeng-flow-threads (PAYORCH_CLEENG_<NAME>)
//   token: PAYORCH_CLEENG_PUBLISHER_TOKEN only (never a flag: it would show in `ps`)
// With reporting on, the lease must exceed 3 x --cleeng-max-call-time-ms + the longest adapter
// deadline + 1 s: a flow makes up to three Cleeng calls and one adapter call under one lease.
// "host:port" with an IPv4 host (or localhost) and a port in 0..65535; nullopt otherwise.
std::optional<std::pair<std::string, unsigned short>> ParseListen(const std::string& listen);

core::Result<WorkerConfig, ConfigExit> ParseConfig(int argc, const char* const* argv);

}  // namespace payorch::worker
