#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "gateways/sandbox/answer_scheduler.hpp"
#include "gateways/sandbox/key_store.hpp"
#include "gateways/sandbox/script.hpp"
#include "payorch/gateway/v1/gateway.grpc.pb.h"

namespace payorch::gateways::sandbox {

// payorch.gateway.v1.PaymentGateway over the KeyStore: validates requests, plans each call from
// its token and the process-wide Script (behaviour, fault, latency), and maps the store's Reply to
// a gRPC status. Logs one line per call (never the token or the raw event).
//
// A call whose Reply says `crash` calls `crash` after its effect is recorded and before it is
// answered; in the binary that ends the process (SIGKILL). When `crash` returns (in-process
// tests), the call answers UNAVAILABLE, as a client of a dead process sees it.
//
// The callback API: a handler records the effect and decides the answer at once; a call with a
// delay (slow:MS, latency:SPEC, --latency, the status latency) is answered later by the
// AnswerScheduler's timer thread, so no gRPC thread waits out a delay and the number of slow
// calls in flight is bounded by InFlightCalls' limit (RESOURCE_EXHAUSTED beyond it, before any
// effect), not by threads. A call whose client cancels or whose deadline passes is answered at
// once (its answer goes nowhere).
class GatewayServiceImpl final : public payorch::gateway::v1::PaymentGateway::CallbackService {
 public:
  GatewayServiceImpl(KeyStore& store, AnswerScheduler& answers, InFlightCalls& in_flight,
                     Script script, std::function<void()> crash)
      : store_(store),
        answers_(answers),
        in_flight_(in_flight),
        script_(std::move(script)),
        crash_(std::move(crash)) {}

  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const payorch::gateway::v1::AuthorizeRequest* request,
                                      payorch::gateway::v1::PaymentResult* response) override;
  grpc::ServerUnaryReactor* Capture(grpc::CallbackServerContext* context,
                                    const payorch::gateway::v1::CaptureRequest* request,
                                    payorch::gateway::v1::PaymentResult* response) override;
  grpc::ServerUnaryReactor* Terminate(grpc::CallbackServerContext* context,
                                      const payorch::gateway::v1::TerminateRequest* request,
                                      payorch::gateway::v1::PaymentResult* response) override;
  grpc::ServerUnaryReactor* GetPaymentStatus(
      grpc::CallbackServerContext* context,
      const payorch::gateway::v1::GetPaymentStatusRequest* request,
      payorch::gateway::v1::GetPaymentStatusResponse* response) override;

 private:
  // What a handler decided: the status, and how long the answer waits.
  struct Answer {
    grpc::Status status;
    std::chrono::milliseconds delay{0};
  };

  // Counts the call in flight (or answers RESOURCE_EXHAUSTED when the limit is reached), runs
  // `decide` and answers what it decided, at once or through the scheduler.
  template <class Decide>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext& context, std::string_view rpc,
                                  Decide decide);
  // Serve for Authorize, Capture and Terminate (a request with meta, event and maybe amount).
  template <class Request>
  grpc::ServerUnaryReactor* ServeEffect(grpc::CallbackServerContext& context, Rpc rpc,
                                        const Request& request,
                                        payorch::gateway::v1::PaymentResult& response);
  Answer Handle(Rpc rpc, bool has_meta, const payorch::gateway::v1::RequestMeta& meta,
                const payorch::gateway::v1::SubscriptionEvent& event,
                const payorch::gateway::v1::Money* amount,
                payorch::gateway::v1::PaymentResult& response);
  Answer HandleStatus(const payorch::gateway::v1::GetPaymentStatusRequest& request,
                      payorch::gateway::v1::GetPaymentStatusResponse& response);

  KeyStore& store_;
  AnswerScheduler& answers_;
  InFlightCalls& in_flight_;
  const Script script_;
  const std::function<void()> crash_;
};

// Copies a stored outcome into the contract's message.
void ToProto(const PaymentOutcome& outcome, payorch::gateway::v1::PaymentResult& result);

}  // namespace payorch::gateways::sandbox
