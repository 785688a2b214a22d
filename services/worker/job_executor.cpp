#include "services/worker/job_executor.hpp"

#include <chrono>

namespace payorch::worker {

void FillMeta(gateway_v1::RequestMeta* meta, const db::ClaimedJob& job) {
  meta->set_idempotency_key(job.idempotency_key);
  meta->set_job_id(job.id);
  meta->set_attempt(job.attempt);
}

GatewayStatus FromProto(gateway_v1::PaymentResult::Status status) {
  switch (status) {
    case gateway_v1::PaymentResult::APPROVED: return GatewayStatus::kApproved;
    case gateway_v1::PaymentResult::DECLINED: return GatewayStatus::kDeclined;
    case gateway_v1::PaymentResult::PENDING: return GatewayStatus::kPending;
    default: return GatewayStatus::kUnspecified;
  }
}

CallOutcome ToOutcome(const CallResult& call) {
  CallOutcome outcome;
  outcome.code = call.code;
  outcome.message = call.message;
  if (call.code == grpc::StatusCode::OK) {
    outcome.gateway_status = FromProto(call.result.status());
    outcome.decline_code = call.result.decline_code();
  }
  return outcome;
}

std::optional<std::string> NonEmpty(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

db::AttemptRecord StartRecord(const db::ClaimedJob& job, const std::string& worker_id,
                              const std::string& adapter) {
  db::AttemptRecord record;
  record.job_id = job.id;
  record.fence = job.fence;
  record.attempt = job.attempt;
  record.worker_id = worker_id;
  record.adapter = adapter;
  record.started_at = std::chrono::system_clock::now();
  return record;
}

db::JobTransition TransitionFor(const Decision& decision,
                                const std::optional<std::string>& gateway_reference) {
  db::JobTransition transition;
  switch (decision.kind) {
    case DecisionKind::kSucceeded:
      transition.kind = db::JobTransition::Kind::kSucceeded;
      transition.outcome = std::string(OutcomeName(decision.outcome));
      transition.gateway_reference = gateway_reference;
      transition.decline_code = NonEmpty(decision.decline_code);
      break;
    case DecisionKind::kRetry:
      transition.kind = db::JobTransition::Kind::kRetry;
      transition.delay = decision.delay;
      transition.error = decision.reason;
      break;
    case DecisionKind::kInDoubt:
      transition.kind = db::JobTransition::Kind::kInDoubt;
      transition.delay = decision.delay;
      transition.error = decision.reason;
      break;
    case DecisionKind::kDead:
      transition.kind = db::JobTransition::Kind::kDead;
      transition.error = decision.reason;
      break;
  }
  return transition;
}

std::string_view RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kAuthorize: return "Authorize";
    case Rpc::kCapture: return "Capture";
    case Rpc::kTerminate: return "Terminate";
  }
  return "Authorize";
}

Rpc RpcForTopic(core::Topic topic) {
  switch (topic) {
    case core::Topic::kAuthorisation: return Rpc::kAuthorize;
    case core::Topic::kCapture: return Rpc::kCapture;
    case core::Topic::kTermination: return Rpc::kTerminate;
  }
  return Rpc::kAuthorize;
}

gateway_v1::SubscriptionEvent BuildSubscriptionEvent(const core::CleengEvent& event,
                                                     const std::string& raw_event) {
  gateway_v1::SubscriptionEvent out;
  out.set_broadcaster_id(event.broadcaster_id);
  out.set_topic(event.topic_name);
  out.set_subscription_id(event.subscription_id);
  out.set_offer_id(event.offer_id);
  out.set_customer_id(event.customer_id);
  out.set_payment_details_id(event.payment_details_id);
  out.set_payment_method_id(event.payment_method_id);
  out.set_payment_gateway(event.payment_gateway);
  out.set_currency(event.currency);
  out.set_payment_country(event.payment_country);
  out.set_dunning_attempt_date(event.dunning_attempt_date);
  out.set_expiration_date(event.expiration_date);
  out.set_token(event.token);
  out.set_raw_event_json(raw_event);
  return out;
}

AttemptPlan DeadWithoutCall(const db::ClaimedJob& job, const std::string& worker_id,
                            const std::string& adapter, std::string reason) {
  AttemptPlan plan;
  db::AttemptRecord& record = plan.record;
  record = StartRecord(job, worker_id, adapter);
  record.rpc = "none";
  record.grpc_status = "NONE";
  record.error = reason;
  record.decision = "dead";
  record.finished_at = record.started_at;
  plan.decision.kind = DecisionKind::kDead;
  plan.decision.reason = reason;
  plan.transition.kind = db::JobTransition::Kind::kDead;
  plan.transition.error = std::move(reason);
  return plan;
}

// One attempt in progress: everything its continuations need.
struct JobExecutor::Attempt {
  db::ClaimedJob job;
  core::CleengEvent event;
  Rpc rpc = Rpc::kAuthorize;
  std::optional<std::string> authorization_reference;
  std::string summary;
  double jitter = 0;
  AttemptPlan plan;
  std::function<void(AttemptPlan)> done;
};

void JobExecutor::Call(const std::shared_ptr<Attempt>& attempt) {
  // Amounts are not known in this version (they come from the Cleeng order): left unset, as the
  // contract allows.
  auto finish = [this, attempt](CallResult call) { Finish(attempt, call, false); };
  const db::ClaimedJob& job = attempt->job;
  switch (attempt->rpc) {
    case Rpc::kAuthorize: {
      gateway_v1::AuthorizeRequest request;
      FillMeta(request.mutable_meta(), job);
      *request.mutable_event() = BuildSubscriptionEvent(attempt->event, job.raw_event);
      client_.Authorize(std::move(request), std::move(finish));
      return;
    }
    case Rpc::kCapture: {
      gateway_v1::CaptureRequest request;
      FillMeta(request.mutable_meta(), job);
      *request.mutable_event() = BuildSubscriptionEvent(attempt->event, job.raw_event);
      request.set_authorization_reference(attempt->authorization_reference.value_or(""));
      client_.Capture(std::move(request), std::move(finish));
      return;
    }
    case Rpc::kTerminate: {
      gateway_v1::TerminateRequest request;
      FillMeta(request.mutable_meta(), job);
      *request.mutable_event() = BuildSubscriptionEvent(attempt->event, job.raw_event);
      request.set_authorization_reference(attempt->authorization_reference.value_or(""));
      client_.Terminate(std::move(request), std::move(finish));
      return;
    }
  }
}

void JobExecutor::Execute(const db::ClaimedJob& job,
                          const std::optional<std::string>& authorization_reference, double jitter,
                          std::function<void(AttemptPlan)> done) {
  auto attempt = std::make_shared<Attempt>();
  attempt->job = job;
  attempt->authorization_reference = authorization_reference;
  attempt->jitter = jitter;
  attempt->done = std::move(done);
  attempt->plan.record = StartRecord(job, worker_id_, adapter_name_);

  auto dead_without_call = [&](std::string reason) {
    attempt->done(DeadWithoutCall(job, worker_id_, adapter_name_, std::move(reason)));
  };

  const auto topic = core::TopicFromName(job.topic);
  if (!topic) return dead_without_call("topic " + job.topic + " is not one payorch acts on");
  auto parsed = core::ParseWebhook(job.raw_event);
  if (!parsed.ok()) {
    return dead_without_call("stored event does not parse: " + parsed.error().code + ": " +
                             parsed.error().message);
  }
  attempt->event = std::move(parsed.value());
  attempt->rpc = RpcForTopic(*topic);

  // The summary names ids only: never the token, the email or the raw body.
  attempt->summary = "topic=" + job.topic + " subscription_id=" + job.subscription_id;
  if (attempt->rpc != Rpc::kAuthorize) {
    attempt->summary += " authorization_reference=" + authorization_reference.value_or("");
  }

  if (!job.was_in_doubt) {
    Call(attempt);
    return;
  }
  client_.GetPaymentStatus(job.idempotency_key, [this, attempt](CallResult call) {
    if (call.code != grpc::StatusCode::OK || call.found) {
      attempt->plan.status_lookup = call.code == grpc::StatusCode::OK ? "found" : "failed";
      attempt->summary += " status_lookup=" + attempt->plan.status_lookup;
      Finish(attempt, call, true);
      return;
    }
    attempt->plan.status_lookup = "not_found";
    attempt->summary += " status_lookup=not_found";
    Call(attempt);  // the same key again: nothing happened under it
  });
}

void JobExecutor::Finish(const std::shared_ptr<Attempt>& attempt, const CallResult& call,
                         bool resolved_by_status) {
  const db::ClaimedJob& job = attempt->job;
  AttemptPlan& plan = attempt->plan;
  db::AttemptRecord& record = plan.record;
  record.finished_at = std::chrono::system_clock::now();
  record.rpc = resolved_by_status ? "GetPaymentStatus" : std::string(RpcName(attempt->rpc));
  record.request_summary = attempt->summary;

  Decision decision = Decide(ToOutcome(call), job.budget_attempt, policy_, attempt->jitter);
  // A transient failure leaves an in-doubt job in doubt: its earlier call may still have had an
  // effect, so the next attempt must ask for the status first.
  if (decision.kind == DecisionKind::kRetry && job.was_in_doubt) {
    decision.kind = DecisionKind::kInDoubt;
  }

  plan.called = true;
  plan.last_code = call.code;
  record.grpc_status = StatusCodeName(call.code);
  if (call.code == grpc::StatusCode::OK) {
    record.gateway_status = std::string(GatewayStatusName(FromProto(call.result.status())));
    record.gateway_reference = NonEmpty(call.result.gateway_reference());
    record.decline_code = NonEmpty(call.result.decline_code());
    if (!call.result.message().empty()) record.error = call.result.message();
  } else {
    record.error = call.message;
  }
  record.decision = std::string(DecisionKindName(decision.kind));

  plan.transition = TransitionFor(decision, NonEmpty(call.result.gateway_reference()));
  plan.decision = std::move(decision);
  attempt->done(std::move(plan));
}

}  // namespace payorch::worker
