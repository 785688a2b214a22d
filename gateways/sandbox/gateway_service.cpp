#include "gateways/sandbox/gateway_service.hpp"

#include <spdlog/spdlog.h>

namespace payorch::gateways::sandbox {
namespace {

namespace v1 = payorch::gateway::v1;

std::string ReplyName(const Reply& reply) {
  switch (reply.kind) {
    case Reply::Kind::kResult: return std::string(StatusName(reply.result->status));
    case Reply::Kind::kStatus: return StatusCodeName(reply.status_code);
    case Reply::Kind::kUnavailable: return "UNAVAILABLE";
    case Reply::Kind::kUnknownAfterEffect: return "UNKNOWN";
    case Reply::Kind::kInvalidArgument: return "INVALID_ARGUMENT";
    case Reply::Kind::kResourceExhausted: return "RESOURCE_EXHAUSTED";
  }
  return "?";
}

grpc::StatusCode StatusCodeFor(const Reply& reply) {
  switch (reply.kind) {
    case Reply::Kind::kStatus: return static_cast<grpc::StatusCode>(reply.status_code);
    case Reply::Kind::kResult: return grpc::StatusCode::OK;
    case Reply::Kind::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case Reply::Kind::kUnknownAfterEffect: return grpc::StatusCode::UNKNOWN;
    case Reply::Kind::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case Reply::Kind::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  return grpc::StatusCode::INTERNAL;
}

}  // namespace

void ToProto(const PaymentOutcome& outcome, v1::PaymentResult& result) {
  result.set_status(outcome.status == PaymentOutcome::Status::kApproved
                        ? v1::PaymentResult::APPROVED
                        : v1::PaymentResult::DECLINED);
  result.set_gateway_reference(outcome.gateway_reference);
  result.set_decline_code(outcome.decline_code);
  result.set_message(outcome.message);
  if (outcome.amount) {
    result.mutable_amount()->set_amount_minor(outcome.amount->amount_minor);
    result.mutable_amount()->set_currency(outcome.amount->currency);
  }
}

template <class Decide>
grpc::ServerUnaryReactor* GatewayServiceImpl::Serve(grpc::CallbackServerContext& context,
                                                    std::string_view rpc, Decide decide) {
  if (!in_flight_.TryEnter()) {
    // Before any effect: the client may retry safely.
    spdlog::warn("msg=\"sandbox call rejected\" rpc={} result=RESOURCE_EXHAUSTED "
                 "reason=\"too many calls in flight\" max_in_flight={}",
                 rpc, in_flight_.limit());
    grpc::ServerUnaryReactor* reactor = context.DefaultReactor();
    reactor->Finish({grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "the sandbox has too many calls in flight; retry later"});
    return reactor;
  }
  Answer answer = decide();
  if (answer.delay.count() <= 0) {
    grpc::ServerUnaryReactor* reactor = context.DefaultReactor();
    reactor->Finish(std::move(answer.status));
    in_flight_.Exit();
    return reactor;
  }
  auto* call = new ScheduledAnswer(answers_, in_flight_, std::move(answer.status));
  answers_.Schedule(call, std::chrono::steady_clock::now() + answer.delay);
  return call;
}

GatewayServiceImpl::Answer GatewayServiceImpl::Handle(Rpc rpc, bool has_meta,
                                                      const v1::RequestMeta& meta,
                                                      const v1::SubscriptionEvent& event,
                                                      const v1::Money* amount,
                                                      v1::PaymentResult& response) {
  if (!has_meta || !IsValidIdempotencyKey(meta.idempotency_key())) {
    spdlog::warn("msg=\"sandbox call rejected\" rpc={} job_id={} attempt={} "
                 "result=INVALID_ARGUMENT reason=\"missing meta or bad idempotency key\"",
                 RpcName(rpc), meta.job_id(), meta.attempt());
    return {{grpc::StatusCode::INVALID_ARGUMENT,
             "meta.idempotency_key is required: 1..64 characters [A-Za-z0-9_-]"}};
  }

  const CallPlan plan =
      PlanCall(script_, event.token(), meta.idempotency_key(), meta.attempt());
  EffectRequest request{rpc, meta.idempotency_key(), plan.behaviour, std::nullopt, plan.fault};
  if (amount != nullptr) request.amount = Money{amount->amount_minor(), amount->currency()};

  // The effect is recorded now, before any delay: a client that gives up during the delay finds
  // it with GetPaymentStatus or a retry.
  const Reply reply = store_.Execute(request);
  const auto delay = reply.delay + plan.latency;
  spdlog::info("msg=\"sandbox call\" rpc={} job_id={} attempt={} key={} behaviour={} fault={} "
               "result={} replayed={} effects={} delay_ms={}",
               RpcName(rpc), meta.job_id(), meta.attempt(), meta.idempotency_key(),
               KindName(plan.behaviour.kind), plan.fault ? FaultName(*plan.fault) : "none",
               ReplyName(reply), reply.replayed, reply.effects, delay.count());

  if (reply.crash) {
    spdlog::critical("msg=\"sandbox crashing after the effect, as scripted\" key={} effects={}",
                     meta.idempotency_key(), reply.effects);
    spdlog::default_logger()->flush();
    crash_();
    return {{grpc::StatusCode::UNAVAILABLE, "the sandbox crashed after the effect"}};
  }
  if (reply.kind != Reply::Kind::kResult) return {{StatusCodeFor(reply), reply.message}, delay};
  ToProto(*reply.result, response);
  return {grpc::Status::OK, delay};
}

GatewayServiceImpl::Answer GatewayServiceImpl::HandleStatus(
    const v1::GetPaymentStatusRequest& request, v1::GetPaymentStatusResponse& response) {
  if (!IsValidIdempotencyKey(request.idempotency_key())) {
    spdlog::warn("msg=\"sandbox call rejected\" rpc=GetPaymentStatus result=INVALID_ARGUMENT "
                 "reason=\"bad idempotency key\"");
    return {{grpc::StatusCode::INVALID_ARGUMENT,
             "idempotency_key is required: 1..64 characters [A-Za-z0-9_-]"}};
  }
  const auto outcome = store_.Lookup(request.idempotency_key());
  response.set_found(outcome.has_value());
  if (outcome) ToProto(*outcome, *response.mutable_result());
  spdlog::info("msg=\"sandbox call\" rpc=GetPaymentStatus key={} result={}",
               request.idempotency_key(),
               outcome ? StatusName(outcome->status) : std::string_view("NOT_FOUND"));
  return {grpc::Status::OK, PlanStatusLatency(script_, request.idempotency_key())};
}

template <class Request>
grpc::ServerUnaryReactor* GatewayServiceImpl::ServeEffect(grpc::CallbackServerContext& context,
                                                          Rpc rpc, const Request& request,
                                                          v1::PaymentResult& response) {
  return Serve(context, RpcName(rpc), [&] {
    const v1::Money* amount = nullptr;
    if constexpr (requires { request.amount(); }) {
      if (request.has_amount()) amount = &request.amount();
    }
    return Handle(rpc, request.has_meta(), request.meta(), request.event(), amount, response);
  });
}

grpc::ServerUnaryReactor* GatewayServiceImpl::Authorize(grpc::CallbackServerContext* context,
                                                        const v1::AuthorizeRequest* request,
                                                        v1::PaymentResult* response) {
  return ServeEffect(*context, Rpc::kAuthorize, *request, *response);
}

grpc::ServerUnaryReactor* GatewayServiceImpl::Capture(grpc::CallbackServerContext* context,
                                                      const v1::CaptureRequest* request,
                                                      v1::PaymentResult* response) {
  return ServeEffect(*context, Rpc::kCapture, *request, *response);
}

grpc::ServerUnaryReactor* GatewayServiceImpl::Terminate(grpc::CallbackServerContext* context,
                                                        const v1::TerminateRequest* request,
                                                        v1::PaymentResult* response) {
  return ServeEffect(*context, Rpc::kTerminate, *request, *response);
}

grpc::ServerUnaryReactor* GatewayServiceImpl::GetPaymentStatus(
    grpc::CallbackServerContext* context, const v1::GetPaymentStatusRequest* request,
    v1::GetPaymentStatusResponse* response) {
  return Serve(*context, "GetPaymentStatus", [&] { return HandleStatus(*request, *response); });
}

}  // namespace payorch::gateways::sandbox
