#include "services/worker/retry_policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace payorch::worker {

std::string_view GatewayStatusName(GatewayStatus status) {
  switch (status) {
    case GatewayStatus::kUnspecified: return "STATUS_UNSPECIFIED";
    case GatewayStatus::kApproved: return "APPROVED";
    case GatewayStatus::kDeclined: return "DECLINED";
    case GatewayStatus::kPending: return "PENDING";
  }
  return "STATUS_UNSPECIFIED";
}

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    default: break;
  }
  return "CODE_" + std::to_string(static_cast<int>(code));
}

std::string_view DecisionKindName(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::kSucceeded: return "succeeded";
    case DecisionKind::kRetry: return "retry";
    case DecisionKind::kInDoubt: return "in_doubt";
    case DecisionKind::kDead: return "dead";
  }
  return "dead";
}

std::string_view OutcomeName(Outcome outcome) {
  return outcome == Outcome::kApproved ? "approved" : "declined";
}

std::chrono::milliseconds BackoffDelay(int attempt, const RetryPolicy& policy, double jitter) {
  const int exponent = std::clamp(attempt, 1, 63) - 1;
  const double base = static_cast<double>(std::max<std::int64_t>(policy.base_delay.count(), 0));
  const double cap = static_cast<double>(std::max<std::int64_t>(policy.max_delay.count(), 0));
  // In doubles, so that 2^62 * base saturates at the cap instead of overflowing.
  const double scheduled = std::min(cap, base * std::ldexp(1.0, exponent));
  const double draw = std::isnan(jitter) ? 0.0 : std::clamp(jitter, 0.0, 1.0);
  const double delay = scheduled / 2.0 + draw * scheduled / 2.0;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(delay, cap)));
}

namespace {

std::string LastStatus(const CallOutcome& outcome) {
  std::string text = StatusCodeName(outcome.code);
  if (outcome.code == grpc::StatusCode::OK) {
    text += "/";
    text += GatewayStatusName(outcome.gateway_status);
  }
  if (!outcome.message.empty()) text += ": " + outcome.message;
  return text;
}

// A transient decision (retry or in_doubt), or dead when the attempts are spent.
Decision Transient(DecisionKind kind, const CallOutcome& outcome, int attempt,
                   const RetryPolicy& policy, double jitter) {
  Decision decision;
  if (attempt >= policy.max_attempts) {
    decision.kind = DecisionKind::kDead;
    decision.reason = "gave up after " + std::to_string(attempt) + " attempts; last status " +
                      LastStatus(outcome);
    return decision;
  }
  decision.kind = kind;
  decision.delay = BackoffDelay(attempt, policy, jitter);
  decision.reason = LastStatus(outcome);
  return decision;
}

Decision Dead(std::string reason) {
  Decision decision;
  decision.kind = DecisionKind::kDead;
  decision.reason = std::move(reason);
  return decision;
}

}  // namespace

Decision Decide(const CallOutcome& outcome, int attempt, const RetryPolicy& policy, double jitter) {
  switch (outcome.code) {
    case grpc::StatusCode::OK:
      switch (outcome.gateway_status) {
        case GatewayStatus::kApproved: {
          Decision decision;
          decision.kind = DecisionKind::kSucceeded;
          decision.outcome = Outcome::kApproved;
          return decision;
        }
        case GatewayStatus::kDeclined: {
          Decision decision;
          decision.kind = DecisionKind::kSucceeded;
          decision.outcome = Outcome::kDeclined;
          decision.decline_code = outcome.decline_code;
          return decision;
        }
        case GatewayStatus::kPending:
          return Transient(DecisionKind::kInDoubt, outcome, attempt, policy, jitter);
        case GatewayStatus::kUnspecified: break;
      }
      return Dead("adapter answered OK without a payment status (broken adapter)");
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
      return Transient(DecisionKind::kRetry, outcome, attempt, policy, jitter);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::CANCELLED:
      return Transient(DecisionKind::kInDoubt, outcome, attempt, policy, jitter);
    default:
      // Permanent codes, and codes this version does not know: an operator must act.
      return Dead("permanent status " + LastStatus(outcome));
  }
}

}  // namespace payorch::worker
