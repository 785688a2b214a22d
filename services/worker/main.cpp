// payorch-worker: claims due jobs, calls the gateway adapter, records attempts and outcomes.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

#include "services/core/logging.hpp"
#include "services/worker/config.hpp"
#include "services/worker/worker.hpp"

int main(int argc, char** argv) {
  auto parsed = payorch::worker::ParseConfig(argc, argv);
  if (!parsed.ok()) return parsed.error().exit_code;
  const payorch::worker::WorkerConfig& config = parsed.value();
  if (!payorch::core::InitLogging("worker", config.log_level)) return 2;

  // SIGTERM and SIGINT are blocked in every thread (threads inherit the mask) and taken by
  // sigwait below, so shutdown runs as ordinary code on the main thread, not in a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  spdlog::info(
      "starting worker_id={} database={} adapter={} adapter_address={} deadline_ms={} "
      "lease_ms={} concurrency={} claim_batch={} max_attempts={}",
      config.worker_id, payorch::core::RedactDatabaseUrl(config.database_url), config.adapter_name,
      config.adapter_address, config.adapter_deadline.count(), config.lease.count(),
      config.concurrency, config.claim_batch, config.retry.max_attempts);

  payorch::worker::Worker worker(config);
  // The threads, all owned here:
  //  - one claim thread: it holds the LISTEN connection and blocks in libpq waiting for NOTIFY
  //    or the poll interval, then claims as many jobs as there are free slots;
  //  - `concurrency` slot threads: each runs one job at a time with a synchronous gRPC call
  //    (bounded by the adapter deadline) and its own database connection. Blocking threads keep
  //    this version simple; the number of in-flight calls is the number of slots.
  std::vector<std::jthread> threads;
  threads.reserve(static_cast<std::size_t>(config.concurrency) + 1);
  threads.emplace_back([&] { worker.RunClaimLoop(); });
  for (int i = 0; i < config.concurrency; ++i) threads.emplace_back([&] { worker.RunSlot(); });

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("stopping signal={} (finishing in-flight jobs)",
               received == SIGTERM ? "SIGTERM" : "SIGINT");
  worker.Stop();
  threads.clear();  // joins: in-flight calls end within the adapter deadline, then are recorded
  spdlog::info("stopped worker_id={}", config.worker_id);
  return 0;
}
