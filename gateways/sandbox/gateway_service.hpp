#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "gateways/sandbox/key_store.hpp"
#include "gateways/sandbox/script.hpp"
#include "payorch/gateway/v1/gateway.grpc.pb.h"

namespace payorch::gateways::sandbox {

// Where slow:MS calls wait before answering. A wait ends early when the client has gone (its
// deadline passed or it cancelled) or when the server stops, so that shutdown never waits for a
// scripted delay.
class DelayGate {
 public:
  // Waits up to `delay`; polls the call's cancellation every kPollInterval (gRPC's sync API has
  // no cancellation callback).
  void Wait(std::chrono::milliseconds delay, grpc::ServerContext& context);
  // Ends every current and future wait.
  void Open();

 private:
  static constexpr std::chrono::milliseconds kPollInterval{20};
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

// Counts the PaymentGateway calls in flight, so that shutdown can wait for them and then close
// at once. (gRPC's Shutdown(deadline) otherwise also waits out the deadline for idle client
// connections, which only notice the GOAWAY at their next poll.)
class InFlightCalls {
 public:
  // Marks one call in flight for its lifetime.
  class Scope {
   public:
    explicit Scope(InFlightCalls& calls) : calls_(calls) { calls_.Enter(); }
    ~Scope() { calls_.Exit(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    InFlightCalls& calls_;
  };

  // True when no call is in flight, false when some still are at `deadline`.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);

 private:
  void Enter();
  void Exit();

  std::mutex mutex_;
  std::condition_variable idle_;
  int count_ = 0;
};

// payorch.gateway.v1.PaymentGateway over the KeyStore: validates requests, plans each call from
// its token and the process-wide Script (behaviour, fault, latency), and maps the store's Reply to
// a gRPC status. Logs one line per call (never the token or the raw event).
//
// A call whose Reply says `crash` calls `crash` after its effect is recorded and before it is
// answered; in the binary that ends the process (SIGKILL). When `crash` returns (in-process
// tests), the call answers UNAVAILABLE, as a client of a dead process sees it.
//
// This is the synchronous API: each call holds a server thread for its whole duration, including
// a slow:MS delay; the thread cap (SandboxServer) bounds how many calls can be in flight. An
// asynchronous (callback) server is the later step if the sandbox must hold thousands of slow
// calls.
class GatewayServiceImpl final : public payorch::gateway::v1::PaymentGateway::Service {
 public:
  GatewayServiceImpl(KeyStore& store, DelayGate& delays, InFlightCalls& in_flight, Script script,
                     std::function<void()> crash)
      : store_(store),
        delays_(delays),
        in_flight_(in_flight),
        script_(std::move(script)),
        crash_(std::move(crash)) {}

  grpc::Status Authorize(grpc::ServerContext* context,
                         const payorch::gateway::v1::AuthorizeRequest* request,
                         payorch::gateway::v1::PaymentResult* response) override;
  grpc::Status Capture(grpc::ServerContext* context,
                       const payorch::gateway::v1::CaptureRequest* request,
                       payorch::gateway::v1::PaymentResult* response) override;
  grpc::Status Terminate(grpc::ServerContext* context,
                         const payorch::gateway::v1::TerminateRequest* request,
                         payorch::gateway::v1::PaymentResult* response) override;
  grpc::Status GetPaymentStatus(grpc::ServerContext* context,
                                const payorch::gateway::v1::GetPaymentStatusRequest* request,
                                payorch::gateway::v1::GetPaymentStatusResponse* response) override;

 private:
  grpc::Status Handle(Rpc rpc, grpc::ServerContext& context, bool has_meta,
                      const payorch::gateway::v1::RequestMeta& meta,
                      const payorch::gateway::v1::SubscriptionEvent& event,
                      const payorch::gateway::v1::Money* amount,
                      payorch::gateway::v1::PaymentResult& response);

  KeyStore& store_;
  DelayGate& delays_;
  InFlightCalls& in_flight_;
  const Script script_;
  const std::function<void()> crash_;
};

// Copies a stored outcome into the contract's message.
void ToProto(const PaymentOutcome& outcome, payorch::gateway::v1::PaymentResult& result);

}  // namespace payorch::gateways::sandbox
