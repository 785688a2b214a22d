// payorch-sandbox-gateway: the reference gateway adapter with scripted behaviour (README.md).
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "gateways/sandbox/config.hpp"
#include "gateways/sandbox/sandbox_server.hpp"
#include "services/core/logging.hpp"

namespace {

using payorch::gateways::sandbox::SandboxConfig;
using payorch::gateways::sandbox::SandboxServer;

constexpr int kExitBadUsage = 2;
// How long calls in flight get to finish at SIGTERM before they are cancelled.
constexpr std::chrono::seconds kShutdownGrace{5};

}  // namespace

int main(int argc, char** argv) {
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
  app.add_option("--state-file", config.state_file,
                 "append-only file of applied effects, reloaded at start (empty: memory only)")
      ->envname("PAYORCH_SANDBOX_STATE_FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitBadUsage;
  }
  if (const auto problem = ValidateConfig(config)) {
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

  // Block SIGTERM/SIGINT before any thread exists, so that every thread (gRPC's included)
  // inherits the mask and only the signal thread below receives them, via sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  payorch::gateways::sandbox::SandboxOptions options;
  options.listen = config.listen;
  options.state_file = config.state_file;
  std::unique_ptr<SandboxServer> server;
  try {
    server = std::make_unique<SandboxServer>(options);
  } catch (const std::exception& error) {
    spdlog::error("msg=\"sandbox cannot start\" error=\"{}\"", error.what());
    return EXIT_FAILURE;
  }
  spdlog::info("msg=\"sandbox listening\" listen={} port={} state_file={}", config.listen,
               server->port(), config.state_file.empty() ? "none" : config.state_file);

  // The one extra thread: turns SIGTERM/SIGINT into a graceful shutdown (no work in a handler).
  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("msg=\"sandbox stopping\" signal={}", received);
    server->Shutdown(kShutdownGrace);
  });

  server->Wait();
  signal_thread.join();
  server.reset();
  spdlog::info("msg=\"sandbox stopped\"");
  return EXIT_SUCCESS;
}
