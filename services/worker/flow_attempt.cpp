#include "services/worker/flow_attempt.hpp"

namespace payorch::worker {

using Kind = cleeng::FlowResult::Kind;

std::optional<AttemptPlan> FlowAttemptPlan(const db::ClaimedJob& job,
                                           const cleeng::FlowResult& result,
                                           std::optional<grpc::StatusCode> adapter_code,
                                           const std::string& worker_id,
                                           const std::string& adapter, const RetryPolicy& policy,
                                           double jitter,
                                           std::chrono::system_clock::time_point started_at) {
  if (result.kind == Kind::kLeaseLost) return std::nullopt;
  AttemptPlan plan;
  db::AttemptRecord& record = plan.record;
  record = StartRecord(job, worker_id, adapter);
  record.started_at = started_at;
  record.finished_at = std::chrono::system_clock::now();
  record.rpc = "Flow:" + std::string(cleeng::AdapterRpcName(
                             result.rpc.value_or(cleeng::AdapterRpc::kAuthorize)));
  record.request_summary = result.summary;
  record.grpc_status = adapter_code ? StatusCodeName(*adapter_code) : "NONE";
  plan.called = adapter_code.has_value();
  plan.last_code = adapter_code.value_or(grpc::StatusCode::UNKNOWN);
  if (!result.outcome.empty()) {
    record.gateway_status = std::string(GatewayStatusName(
        result.outcome == "approved" ? GatewayStatus::kApproved : GatewayStatus::kDeclined));
  }
  record.gateway_reference = NonEmpty(result.gateway_reference);
  record.decline_code = NonEmpty(result.decline_code);

  Decision decision;
  switch (result.kind) {
    case Kind::kSucceeded:
      decision.kind = DecisionKind::kSucceeded;
      decision.outcome = result.outcome == "approved" ? Outcome::kApproved : Outcome::kDeclined;
      decision.decline_code = result.decline_code;
      break;
    case Kind::kAdapterUndecided: {
      CallResult call;
      call.code = result.adapter.code;
      call.message = result.adapter.message;
      call.result = result.adapter.result;
      decision = Decide(ToOutcome(call), job.budget_attempt, policy, jitter);
      // As for a single call: an in-doubt job's earlier call may have had an effect, so its next
      // attempt asks for the status first.
      if (decision.kind == DecisionKind::kRetry && job.was_in_doubt) {
        decision.kind = DecisionKind::kInDoubt;
      }
      break;
    }
    case Kind::kCleengTransient:
    case Kind::kDatabase: {
      CallOutcome unavailable;
      unavailable.code = grpc::StatusCode::UNAVAILABLE;
      unavailable.message = result.error;
      decision = Decide(unavailable, job.budget_attempt, policy, jitter);
      if (decision.kind == DecisionKind::kRetry) decision.reason = result.error;
      break;
    }
    case Kind::kCleengRefused:
      decision.kind = DecisionKind::kDead;
      decision.reason = result.error;
      break;
    case Kind::kStopped:
      decision.kind = DecisionKind::kRetry;
      decision.delay = std::chrono::milliseconds(0);
      decision.reason = result.error;
      break;
    case Kind::kLeaseLost: break;  // returned above
  }
  if (decision.kind != DecisionKind::kSucceeded) record.error = NonEmpty(decision.reason);
  record.decision = std::string(DecisionKindName(decision.kind));
  plan.transition = TransitionFor(decision, NonEmpty(result.gateway_reference));
  plan.decision = std::move(decision);
  return plan;
}

}  // namespace payorch::worker
