#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "gateways/sandbox/control_service.hpp"
#include "gateways/sandbox/gateway_service.hpp"
#include "gateways/sandbox/health_service.hpp"
#include "gateways/sandbox/key_store.hpp"
#include "gateways/sandbox/state_file.hpp"
#include "services/core/grpc_tls.hpp"

namespace payorch::gateways::sandbox {

struct SandboxOptions {
  // host:port; port 0 picks a free port (see SandboxServer::port()).
  std::string listen = "127.0.0.1:0";
  // Empty: keys live in memory only. Otherwise the append-only effect log (see StateFile).
  std::string state_file;
  // PaymentGateway calls in flight at most (slow ones included); beyond it a call is answered
  // RESOURCE_EXHAUSTED before any effect. PaymentGateway uses gRPC's callback API, so no thread
  // is held while a call waits out its delay: this bound, not a thread pool, limits the memory
  // that calls in flight use.
  int max_in_flight = kDefaultMaxInFlight;
  // The thread cap of the synchronous services (grpc.health.v1.Health, SandboxControl): a slow
  // health check holds one thread. PaymentGateway does not use these threads.
  int max_threads = 256;
  // TLS (and mutual TLS when tls.client_ca_file is set) for every service on the port:
  // PaymentGateway, SandboxControl and grpc.health.v1.Health. Plaintext when tls.cert_file is
  // empty.
  core::GrpcServerTls tls;
  // The process-wide script: seed, latency, error rates, default behaviour (script.hpp).
  Script script;
  // What grpc.health.v1.Health/Check answers at start, and after how long (changeable later:
  // health()).
  bool health_serving = true;
  std::chrono::milliseconds health_delay{0};
  // Called after a crash-after-effect effect is recorded; empty: end the process at once
  // (SIGKILL). In-process tests set their own.
  std::function<void()> crash;
};

// Ends the process at once, as kill -9 would: no destructor, no flush, no answer to any call.
[[noreturn]] void CrashNow();

// The sandbox gateway adapter, running: PaymentGateway, SandboxControl and grpc.health.v1.Health
// on one port. Used by main.cpp and by tests that want a real adapter in-process:
//
//   payorch::gateways::sandbox::SandboxServer sandbox;           // 127.0.0.1, a free port
//   auto channel = grpc::CreateChannel(sandbox.address(), grpc::InsecureChannelCredentials());
//   ... sandbox.store().Find("key")->effects ...
//
// The constructor starts serving (threads owned by gRPC) and throws std::runtime_error when the
// address cannot be bound, the TLS files cannot be used or the state file cannot be read; the
// destructor shuts down.
class SandboxServer {
 public:
  explicit SandboxServer(std::string listen = "127.0.0.1:0");
  explicit SandboxServer(SandboxOptions options);
  ~SandboxServer();
  SandboxServer(const SandboxServer&) = delete;
  SandboxServer& operator=(const SandboxServer&) = delete;

  // The bound port (the selected one when listening on port 0).
  int port() const { return port_; }
  // "host:port" to dial, with the bound port.
  std::string address() const;

  // Direct access to the key records (same data as SandboxControl), for in-process tests.
  KeyStore& store() { return *store_; }
  // What the health service answers (SandboxControl.SetHealth changes the same state).
  HealthState& health() { return health_; }

  // Ends scripted delays (pending delayed calls are answered at once, and so are calls that
  // arrive later), waits up to `grace` for PaymentGateway calls in flight to be answered, then
  // stops the server (cancelling whatever still runs). Idempotent; thread-safe.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // Blocks until the server has shut down (after Shutdown from another thread).
  void Wait();

 private:
  // How long Shutdown lets gRPC send the answers of calls that have just returned.
  static constexpr std::chrono::milliseconds kAnswerFlush{1000};

  SandboxOptions options_;
  std::unique_ptr<StateFile> state_file_;
  std::unique_ptr<KeyStore> store_;
  DelayGate delays_;  // health checks
  InFlightCalls in_flight_;
  // Before the services and the server, so that it outlives every call it answers.
  AnswerScheduler answers_;
  HealthState health_;
  std::unique_ptr<GatewayServiceImpl> gateway_service_;
  std::unique_ptr<HealthServiceImpl> health_service_;
  std::unique_ptr<ControlServiceImpl> control_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex shutdown_mutex_;
  bool shut_down_ = false;
};

}  // namespace payorch::gateways::sandbox
