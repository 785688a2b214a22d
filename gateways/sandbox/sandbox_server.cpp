#include "gateways/sandbox/sandbox_server.hpp"

#include <algorithm>
#include <stdexcept>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/resource_quota.h>
#include <spdlog/spdlog.h>

namespace payorch::gateways::sandbox {

namespace {

SandboxOptions OptionsListeningOn(std::string listen) {
  SandboxOptions options;
  options.listen = std::move(listen);
  return options;
}

}  // namespace

SandboxServer::SandboxServer(std::string listen)
    : SandboxServer(OptionsListeningOn(std::move(listen))) {}

void CrashNow() {
  ::kill(::getpid(), SIGKILL);
  std::_Exit(128 + SIGKILL);  // not reached: SIGKILL cannot be blocked or handled
}

SandboxServer::SandboxServer(SandboxOptions options)
    : options_(std::move(options)),
      in_flight_(options_.max_in_flight),
      health_(options_.health_serving, options_.health_delay) {
  if (options_.max_threads < 2) throw std::runtime_error("max_threads must be at least 2");
  if (options_.max_in_flight < 1) throw std::runtime_error("max_in_flight must be at least 1");
  // Before anything else: a TLS mistake is a startup failure, not a server that no client can
  // reach.
  auto credentials = core::MakeServerCredentials(options_.tls);
  if (!credentials) throw std::runtime_error("TLS: " + credentials.error());

  StateFile::Loaded loaded;
  if (!options_.state_file.empty()) {
    state_file_ = StateFile::Open(options_.state_file, loaded);
    if (loaded.skipped_lines > 0) {
      spdlog::warn("msg=\"state file has unreadable lines\" path={} skipped={}",
                   options_.state_file, loaded.skipped_lines);
    }
  }
  store_ = std::make_unique<KeyStore>(state_file_.get());
  store_->Restore(loaded.effects);
  if (state_file_) {
    spdlog::info("msg=\"state file loaded\" path={} effects={}", options_.state_file,
                 loaded.effects.size());
  }

  std::function<void()> crash = options_.crash;
  if (!crash) crash = [] { CrashNow(); };
  gateway_service_ = std::make_unique<GatewayServiceImpl>(*store_, answers_, in_flight_,
                                                          options_.script, std::move(crash));
  control_service_ = std::make_unique<ControlServiceImpl>(*store_, health_);
  health_service_ = std::make_unique<HealthServiceImpl>(health_, delays_);

  grpc::ServerBuilder builder;
  // The sandbox serves grpc.health.v1.Health itself (scriptable status and delay), so gRPC's
  // built-in health service, if a process has switched it on, must not claim the name too.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  // PaymentGateway uses the callback API (no thread per call; InFlightCalls bounds the calls in
  // flight). Health and SandboxControl are synchronous, on gRPC's sync thread pool: one thread
  // per call in flight, capped by the quota so that a flood of slow health checks gets
  // RESOURCE_EXHAUSTED instead of exhausting the process. gRPC dispatches each method to its own
  // API, so both kinds share the server and the port.
  grpc::ResourceQuota quota("payorch-sandbox-gateway");
  quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  builder.AddListeningPort(options_.listen, credentials.value(), &port_);
  builder.RegisterService(gateway_service_.get());
  builder.RegisterService(control_service_.get());
  builder.RegisterService(health_service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    throw std::runtime_error("cannot listen on " + options_.listen);
  }
}

SandboxServer::~SandboxServer() {
  Shutdown(std::chrono::seconds(1));
  server_->Wait();
}

std::string SandboxServer::address() const {
  const auto colon = options_.listen.rfind(':');
  std::string host = options_.listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return host + ":" + std::to_string(port_);
}

void SandboxServer::Shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(shutdown_mutex_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  delays_.Open();
  answers_.AnswerAllNow();
  if (!in_flight_.WaitIdle(std::chrono::steady_clock::now() + grace)) {
    spdlog::warn("msg=\"sandbox shutdown grace expired with calls in flight\" grace_ms={}",
                 grace.count());
  }
  // Every Finish has been issued; gRPC sends the answers right after. Give that a short bound
  // rather than the whole grace: past the deadline gRPC cancels what is left, and until then it
  // also waits for idle client connections, which notice the GOAWAY only at their next poll.
  // A call cancelled here is one its client treats as in doubt and asks about again.
  server_->Shutdown(std::chrono::system_clock::now() + std::min(grace, kAnswerFlush));
}

void SandboxServer::Wait() { server_->Wait(); }

}  // namespace payorch::gateways::sandbox
