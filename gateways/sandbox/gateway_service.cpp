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

void DelayGate::Wait(std::chrono::milliseconds delay, grpc::ServerContext& context) {
  const auto deadline = std::chrono::steady_clock::now() + delay;
  std::unique_lock lock(mutex_);
  while (!open_ && !context.IsCancelled()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return;
    opened_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                                         kPollInterval));
  }
}

void DelayGate::Open() {
  {
    std::lock_guard lock(mutex_);
    open_ = true;
  }
  opened_.notify_all();
}

void InFlightCalls::Enter() {
  std::lock_guard lock(mutex_);
  ++count_;
}

void InFlightCalls::Exit() {
  std::lock_guard lock(mutex_);
  if (--count_ == 0) idle_.notify_all();
}

bool InFlightCalls::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_.wait_until(lock, deadline, [this] { return count_ == 0; });
}

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

grpc::Status GatewayServiceImpl::Handle(Rpc rpc, grpc::ServerContext& context, bool has_meta,
                                        const v1::RequestMeta& meta,
                                        const v1::SubscriptionEvent& event, const v1::Money* amount,
                                        v1::PaymentResult& response) {
  const InFlightCalls::Scope in_flight(in_flight_);
  if (!has_meta || !IsValidIdempotencyKey(meta.idempotency_key())) {
    spdlog::warn("msg=\"sandbox call rejected\" rpc={} job_id={} attempt={} "
                 "result=INVALID_ARGUMENT reason=\"missing meta or bad idempotency key\"",
                 RpcName(rpc), meta.job_id(), meta.attempt());
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "meta.idempotency_key is required: 1..64 characters [A-Za-z0-9_-]"};
  }

  const CallPlan plan =
      PlanCall(script_, event.token(), meta.idempotency_key(), meta.attempt());
  EffectRequest request{rpc, meta.idempotency_key(), plan.behaviour, std::nullopt, plan.fault};
  if (amount != nullptr) request.amount = Money{amount->amount_minor(), amount->currency()};

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
    return {grpc::StatusCode::UNAVAILABLE, "the sandbox crashed after the effect"};
  }
  if (delay.count() > 0) delays_.Wait(delay, context);
  if (reply.kind != Reply::Kind::kResult) return {StatusCodeFor(reply), reply.message};
  ToProto(*reply.result, response);
  return grpc::Status::OK;
}

grpc::Status GatewayServiceImpl::Authorize(grpc::ServerContext* context,
                                           const v1::AuthorizeRequest* request,
                                           v1::PaymentResult* response) {
  return Handle(Rpc::kAuthorize, *context, request->has_meta(), request->meta(), request->event(),
                request->has_amount() ? &request->amount() : nullptr, *response);
}

grpc::Status GatewayServiceImpl::Capture(grpc::ServerContext* context,
                                         const v1::CaptureRequest* request,
                                         v1::PaymentResult* response) {
  return Handle(Rpc::kCapture, *context, request->has_meta(), request->meta(), request->event(),
                request->has_amount() ? &request->amount() : nullptr, *response);
}

grpc::Status GatewayServiceImpl::Terminate(grpc::ServerContext* context,
                                           const v1::TerminateRequest* request,
                                           v1::PaymentResult* response) {
  return Handle(Rpc::kTerminate, *context, request->has_meta(), request->meta(), request->event(),
                nullptr, *response);
}

grpc::Status GatewayServiceImpl::GetPaymentStatus(grpc::ServerContext* context,
                                                  const v1::GetPaymentStatusRequest* request,
                                                  v1::GetPaymentStatusResponse* response) {
  if (!IsValidIdempotencyKey(request->idempotency_key())) {
    spdlog::warn("msg=\"sandbox call rejected\" rpc=GetPaymentStatus result=INVALID_ARGUMENT "
                 "reason=\"bad idempotency key\"");
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "idempotency_key is required: 1..64 characters [A-Za-z0-9_-]"};
  }
  const InFlightCalls::Scope in_flight(in_flight_);
  const auto outcome = store_.Lookup(request->idempotency_key());
  response->set_found(outcome.has_value());
  if (outcome) ToProto(*outcome, *response->mutable_result());
  spdlog::info("msg=\"sandbox call\" rpc=GetPaymentStatus key={} result={}",
               request->idempotency_key(),
               outcome ? StatusName(outcome->status) : std::string_view("NOT_FOUND"));
  const auto delay = PlanStatusLatency(script_, request->idempotency_key());
  if (delay.count() > 0) delays_.Wait(delay, *context);
  return grpc::Status::OK;
}

}  // namespace payorch::gateways::sandbox
