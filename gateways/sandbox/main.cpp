// payorch-sandbox-gateway: the reference gateway adapter with scripted behaviour (README.md).
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <random>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "gateways/sandbox/config.hpp"
#include "gateways/sandbox/sandbox_server.hpp"
#include "services/core/grpc_runtime.hpp"
#include "services/core/logging.hpp"
#include "services/core/metrics.hpp"
#include "services/core/status_server.hpp"

namespace {

using payorch::gateways::sandbox::SandboxConfig;
using payorch::gateways::sandbox::SandboxServer;
using payorch::gateways::sandbox::ListenPort;
using payorch::gateways::sandbox::CheckTlsFiles;
using payorch::gateways::sandbox::ServerTls;
using payorch::gateways::sandbox::ScriptFromConfig;

constexpr int kExitBadUsage = 2;
// How long calls in flight get to finish at SIGTERM before they are cancelled.
constexpr std::chrono::seconds kShutdownGrace{5};

}  // namespace

int main(int argc, char** argv) {
  payorch::core::ConfigureGrpcRuntime();
  SandboxConfig config;
  CLI::App app{"payorch-sandbox-gateway: reference gateway adapter with scripted behaviour"};
  app.add_option("--listen", config.listen, "host:port to serve gRPC on (port 0: any free port)")
      ->envname("PAYORCH_SANDBOX_LISTEN");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error or off")
      ->envname("PAYORCH_LOG_LEVEL");
  app.add_option("--log-format", config.log_format, "text (logfmt) or json (one object a line)")
      ->envname("PAYORCH_LOG_FORMAT");
  bool check_config = false;
  app.add_flag("--check-config", check_config,
               "validate the configuration (flags and environment) and exit without serving");
  // A sandbox flag "--some-name" falls back to the environment variable PAYORCH_SANDBOX_SOME_NAME.
  const auto sandbox_option = [&app](const std::string& flag, auto& target, const char* help) {
    std::string env = "PAYORCH_SANDBOX_" + flag.substr(2);
    std::replace(env.begin(), env.end(), '-', '_');
    std::transform(env.begin(), env.end(), env.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    app.add_option(flag, target, help)->envname(env);
  };
  sandbox_option("--metrics-listen", config.metrics_listen,
                 "host:port for GET /metrics and /healthz over HTTP (empty: off)");
  sandbox_option("--state-file", config.state_file,
                 "append-only file of applied effects, reloaded at start (empty: memory only)");
  sandbox_option("--tls-cert-file", config.tls_cert_file,
                 "PEM certificate chain: serve TLS on the gRPC port (empty: plaintext)");
  sandbox_option("--tls-key-file", config.tls_key_file, "PEM private key of --tls-cert-file");
  sandbox_option("--tls-client-ca-file", config.tls_client_ca_file,
                 "PEM CA: require client certificates it signed (mutual TLS)");
  sandbox_option("--seed", config.seed,
                 "decimal u64 seeding every random decision (same seed, key and attempt: same "
                 "decision); empty: a random seed, logged at start");
  sandbox_option("--latency", config.latency,
                 "added to every answer: MS, MIN-MAX (uniform) or p50=MS,p99=MS (log-normal)");
  sandbox_option("--error-rate", config.error_rate,
                 "faults per call: NAME=RATE,... with NAME a gRPC status (UNAVAILABLE, "
                 "DEADLINE_EXCEEDED, ...), lost or crash; RATE in [0,1]");
  sandbox_option("--default-behaviour", config.default_behaviour,
                 "scripted token applied to calls whose token scripts nothing (default: approve)");
  sandbox_option("--health-delay-ms", config.health_delay_ms,
                 "grpc.health.v1 Check answers after this many ms (0..60000)");
  sandbox_option("--health-status", config.health_status,
                 "SERVING or NOT_SERVING at start (SIGUSR1 flips it)");
  sandbox_option("--max-in-flight", config.max_in_flight,
                 "PaymentGateway calls in flight at most (slow ones included); beyond it calls "
                 "are answered RESOURCE_EXHAUSTED before any effect");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitBadUsage;
  }
  // The pure checks first, then the TLS files (read, not only named).
  auto problem = ValidateConfig(config);
  if (!problem) problem = CheckTlsFiles(config);
  if (problem) {
    std::cerr << "payorch-sandbox-gateway: " << *problem << "\n";
    return kExitBadUsage;
  }
  if (check_config) {
    std::cout << "payorch-sandbox-gateway: configuration is valid\n";
    return EXIT_SUCCESS;
  }
  if (!payorch::core::InitLogging("sandbox", config.log_level,
                                  *payorch::core::LogFormatFromName(config.log_format))) {
    std::cerr << "payorch-sandbox-gateway: bad --log-level " << config.log_level << "\n";
    return kExitBadUsage;
  }

  // Block SIGTERM/SIGINT/SIGUSR1 before any thread exists, so that every thread (gRPC's
  // included) inherits the mask and only the signal thread below receives them, via sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  payorch::gateways::sandbox::SandboxOptions options;
  options.listen = config.listen;
  options.state_file = config.state_file;
  options.tls = ServerTls(config);
  // Validated above; a random seed when none is given, logged so that the run can be repeated.
  std::random_device random_device;
  options.script = ScriptFromConfig(config, (static_cast<std::uint64_t>(random_device()) << 32) |
                                                random_device())
                       .value();
  options.health_serving = config.health_status == "SERVING";
  options.health_delay = std::chrono::milliseconds(config.health_delay_ms);
  options.max_in_flight = config.max_in_flight;
  std::unique_ptr<SandboxServer> server;
  try {
    server = std::make_unique<SandboxServer>(options);
  } catch (const std::exception& error) {
    spdlog::error("msg=\"sandbox cannot start\" error=\"{}\"", error.what());
    return EXIT_FAILURE;
  }
  spdlog::info("msg=\"sandbox listening\" listen={} port={} state_file={} tls={}", config.listen,
               server->port(), config.state_file.empty() ? "none" : config.state_file,
               config.tls_client_ca_file.empty() ? (config.tls_cert_file.empty() ? "off" : "on")
                                                 : "mutual");
  spdlog::info("msg=\"sandbox script\" seed={} latency={} error_rate=\"{}\" "
               "default_behaviour={} health_status={} health_delay_ms={} max_in_flight={}",
               options.script.seed, payorch::gateways::sandbox::LatencyText(options.script.latency),
               config.error_rate,
               config.default_behaviour.empty() ? "approve" : config.default_behaviour,
               config.health_status, config.health_delay_ms, config.max_in_flight);

  // Metrics are read from the key store at scrape time: nothing on the call path changes.
  payorch::core::Registry registry;
  auto& keys = registry.GetGauge("payorch_sandbox_keys", "Idempotency keys the sandbox has seen.");
  auto& effects = registry.GetGauge("payorch_sandbox_effects",
                                    "Effects (charges, authorisations, releases) applied.");
  auto& calls = registry.GetGauge("payorch_sandbox_calls",
                                  "Authorize, Capture and Terminate calls since start.");
  auto render_metrics = [&] {
    payorch::gateways::sandbox::EffectTotals totals;
    (void)server->store().List(0, totals);
    keys.Set(static_cast<double>(totals.keys));
    effects.Set(static_cast<double>(totals.effects));
    calls.Set(static_cast<double>(totals.calls));
    return registry.Render();
  };
  // A thread of its own for /metrics and /healthz, so they answer while gRPC threads are busy.
  boost::asio::io_context status_io(1);
  auto status_work = boost::asio::make_work_guard(status_io);
  std::unique_ptr<payorch::core::StatusServer> status_server;
  if (!config.metrics_listen.empty()) {
    const auto colon = config.metrics_listen.rfind(':');
    std::string host = config.metrics_listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    try {
      status_server = std::make_unique<payorch::core::StatusServer>(
          status_io, host,
          static_cast<unsigned short>(*ListenPort(config.metrics_listen)), render_metrics);
      spdlog::info("msg=\"sandbox metrics listening\" address={}:{}", host, status_server->port());
    } catch (const std::exception& error) {
      // Not fatal: the adapter matters more than its metrics.
      spdlog::error("msg=\"sandbox metrics disabled\" metrics_listen={} error=\"{}\"",
                    config.metrics_listen, error.what());
    }
  }
  std::thread status_thread([&] { status_io.run(); });

  // The one extra thread: turns SIGTERM/SIGINT into a graceful shutdown and SIGUSR1 into a flip
  // of the health status (no work in a handler).
  std::thread signal_thread([&] {
    int received = 0;
    while (sigwait(&signals, &received) == 0 && received == SIGUSR1) {
      const bool serving = server->health().ToggleServing();
      spdlog::info("msg=\"sandbox health flipped\" signal=SIGUSR1 status={}",
                   serving ? "SERVING" : "NOT_SERVING");
    }
    spdlog::info("msg=\"sandbox stopping\" signal={}", received);
    server->Shutdown(kShutdownGrace);
  });

  server->Wait();
  signal_thread.join();
  if (status_server) status_server->Stop();
  status_work.reset();
  status_io.stop();
  status_thread.join();
  server.reset();
  spdlog::info("msg=\"sandbox stopped\"");
  return EXIT_SUCCESS;
}
