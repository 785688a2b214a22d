// payorch-worker: claims due jobs, calls the gateway adapter, records attempts and outcomes.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "services/core/grpc_runtime.hpp"
#include "services/core/logging.hpp"
#include "services/core/metrics.hpp"
#include "services/worker/config.hpp"
#include "services/core/status_server.hpp"
#include "services/worker/worker.hpp"

int main(int argc, char** argv) {
  // SIGTERM and SIGINT are blocked in every thread (threads inherit the mask) and taken by
  // sigwait below, so shutdown runs as ordinary code on the main thread, not in a handler.
  // Blocked first of all: a signal that arrives while the worker starts (before any thread
  // exists, gRPC's included) waits for sigwait instead of killing the process. The fault test
  // once sent SIGTERM to a worker it had just restarted, and it died of the signal (exit 143).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reload the adapters file
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  payorch::core::ConfigureGrpcRuntime();
  auto parsed = payorch::worker::ParseConfig(argc, argv);
  if (!parsed.ok()) return parsed.error().exit_code;
  const payorch::worker::WorkerConfig& config = parsed.value();
  if (config.check_config) {
    std::cout << "payorch-worker: configuration ok (database="
              << payorch::core::RedactDatabaseUrl(config.database_url)
              << " metrics_listen=" << config.metrics_listen << " cleeng_reporting="
              << (config.cleeng.enabled ? "on cleeng_base_url=" + config.cleeng.base_url : "off")
              << ")\n"
              << payorch::worker::DescribeAdapters(payorch::worker::EffectiveAdapters(config));
    return 0;
  }
  if (!payorch::core::InitLogging("worker", config.log_level,
                                  *payorch::core::LogFormatFromName(config.log_format))) return 2;

  spdlog::info(
      "starting worker_id={} database={} adapters_config={} lease_ms={} concurrency={} "
      "claim_batch={} metrics_listen={} cleeng_reporting={} cleeng_base_url={} "
      "cleeng_flow_threads={}",
      config.worker_id, payorch::core::RedactDatabaseUrl(config.database_url),
      config.adapters_config_path.empty() ? "-" : config.adapters_config_path,
      config.lease.count(), config.concurrency, config.claim_batch, config.metrics_listen,
      config.cleeng.enabled ? "on" : "off", config.cleeng.enabled ? config.cleeng.base_url : "-",
      config.cleeng.enabled ? config.cleeng_flow_threads : 0);

  payorch::core::Registry registry;
  std::unique_ptr<payorch::worker::Worker> worker_owner;
  try {
    worker_owner = std::make_unique<payorch::worker::Worker>(config, registry);
  } catch (const std::runtime_error& e) {
    spdlog::error("cannot start: {}", e.what());
    return 2;
  }
  payorch::worker::Worker& worker = *worker_owner;
  spdlog::info("adapters\n{}",
               payorch::worker::DescribeAdapters(payorch::worker::EffectiveAdapters(config)));

  // The status server's io_context runs on one thread of its own: /metrics and /healthz must
  // answer even while every slot is blocked in a call.
  boost::asio::io_context status_io(1);
  auto status_work = boost::asio::make_work_guard(status_io);
  std::unique_ptr<payorch::core::StatusServer> status_server;
  const auto listen = payorch::worker::ParseListen(config.metrics_listen);
  try {
    status_server = std::make_unique<payorch::core::StatusServer>(
        status_io, listen->first, listen->second, [&registry] { return registry.Render(); });
  } catch (const std::exception& e) {
    // Not fatal: jobs matter more than their metrics (and several workers on one host with the
    // default port must still run). The error line is what an operator alerts on.
    spdlog::error("metrics server disabled: cannot listen metrics_listen={} error=\"{}\"",
                  config.metrics_listen, e.what());
  }
  if (status_server) {
    spdlog::info("metrics listening address={}:{}", listen->first, status_server->port());
  }
  std::thread status_thread([&] { status_io.run(); });

  // The worker threads, all owned here:
  //  - one claim thread: it holds the LISTEN connection and blocks in libpq waiting for NOTIFY
  //    or the poll interval, then claims as many jobs as there are free slots;
  //  - kDispatchers dispatcher threads, each with its own database connection (the authorisation
  //    reference lookup, releases): they start calls asynchronously, so calls in flight (up to
  //    --concurrency) cost no thread; gRPC's own threads run the completions;
  //  - one recorder thread with its own connection: records finished attempts in batches.
  std::mutex done_mutex;
  std::condition_variable done_changed;
  constexpr int kDispatchers = 2;
  const int dispatchers = std::min(kDispatchers, config.concurrency);
  //  - with Cleeng reporting, --cleeng-flow-threads flow threads (a flow blocks for its calls).
  const int flow_threads = config.cleeng.enabled ? config.cleeng_flow_threads : 0;
  int running = dispatchers + flow_threads + 2;
  auto finished = [&] {
    {
      std::lock_guard lock(done_mutex);
      --running;
    }
    done_changed.notify_all();
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(dispatchers + flow_threads) + 2);
  threads.emplace_back([&] {
    worker.RunRecorder();
    finished();
  });
  threads.emplace_back([&] {
    worker.RunClaimLoop();
    finished();
  });
  for (int i = 0; i < dispatchers; ++i) {
    threads.emplace_back([&] {
      worker.RunSlot();
      finished();
    });
  }
  for (int i = 0; i < flow_threads; ++i) {
    threads.emplace_back([&] {
      worker.RunFlowThread();
      finished();
    });
  }

  int received = 0;
  while (true) {
    sigwait(&signals, &received);
    if (received != SIGHUP) break;
    if (config.adapters_config_path.empty()) {
      spdlog::warn("SIGHUP ignored: no --adapters-config to reload");
      continue;
    }
    // Invalid: the running configuration stays, and the error says why.
    auto reloaded = payorch::worker::LoadAdaptersConfig(config.adapters_config_path, config.lease);
    if (!reloaded.ok()) {
      worker.CountRejectedReload();
      spdlog::error("adapters config reload rejected, keeping the running configuration "
                    "error=\"{}\"", reloaded.error());
      continue;
    }
    if (const auto error = worker.Reload(reloaded.value())) {
      spdlog::error("adapters config reload rejected, keeping the running configuration "
                    "error=\"{}\"", *error);
      continue;
    }
    spdlog::info("adapters config reloaded path={} adapters={} routes={}",
                 config.adapters_config_path, reloaded.value().adapters.size(),
                 reloaded.value().routes.size());
  }
  spdlog::info("stopping signal={} (releasing claimed jobs, finishing calls in flight)",
               received == SIGTERM ? "SIGTERM" : "SIGINT");
  worker.Stop();
  // Bounded: calls end within the adapter deadline, database retries within the shutdown
  // timeout; a small margin covers the last record's round trip.
  bool clean = false;
  {
    std::unique_lock lock(done_mutex);
    clean = done_changed.wait_for(lock, config.shutdown_timeout + std::chrono::seconds(2),
                                  [&] { return running == 0; });
  }
  if (status_server) status_server->Stop();
  status_work.reset();
  status_thread.join();
  if (!clean) {
    // Leases of the jobs still held expire and other workers rescue them as in doubt.
    spdlog::error("stop timed out worker_id={} (leases left to expire)", config.worker_id);
    spdlog::shutdown();
    std::_Exit(1);
  }
  for (auto& thread : threads) thread.join();
  spdlog::info("stopped worker_id={}", config.worker_id);
  return 0;
}
