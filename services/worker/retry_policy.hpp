#pragma once

#include <grpcpp/support/status_code_enum.h>

#include <chrono>
#include <string>
#include <string_view>

namespace payorch::worker {

// How many times a job may be attempted and how long to wait between attempts.
struct RetryPolicy {
  int max_attempts = 8;
  std::chrono::milliseconds base_delay{1000};
  std::chrono::milliseconds max_delay{300000};
};

// The business status an adapter answered with (PaymentResult.Status of the contract), meaningful
// only when the gRPC status is OK.
enum class GatewayStatus { kUnspecified, kApproved, kDeclined, kPending };

std::string_view GatewayStatusName(GatewayStatus status);
// The canonical gRPC name of a status code ("OK", "UNAVAILABLE", ...); "CODE_<n>" for others.
std::string StatusCodeName(grpc::StatusCode code);

// How one call ended, as far as the retry decision needs it.
struct CallOutcome {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;  // the gRPC status message (never holds secrets: adapters answer ids)
  GatewayStatus gateway_status = GatewayStatus::kUnspecified;
  std::string decline_code;
};

enum class DecisionKind { kSucceeded, kRetry, kInDoubt, kDead };
enum class Outcome { kApproved, kDeclined };

// The names job_attempts.decision and jobs.outcome store.
std::string_view DecisionKindName(DecisionKind kind);
std::string_view OutcomeName(Outcome outcome);

struct Decision {
  DecisionKind kind = DecisionKind::kDead;
  Outcome outcome = Outcome::kApproved;  // for kSucceeded
  std::string decline_code;              // for kSucceeded with kDeclined
  std::chrono::milliseconds delay{0};    // for kRetry and kInDoubt
  std::string reason;                    // for everything but kSucceeded: the error, or why dead
};

// The delay before attempt `attempt` + 1: equal jitter over an exponential schedule,
//   d = min(max_delay, base_delay * 2^(attempt - 1)),  delay = d/2 + jitter * d/2,
// so a delay never falls below half the schedule (no hot loop) and never exceeds max_delay.
// `jitter` is a draw from [0, 1) (out-of-range values are clamped); attempt < 1 counts as 1.
std::chrono::milliseconds BackoffDelay(int attempt, const RetryPolicy& policy, double jitter);

// The retry policy of the contract (protos/payorch/gateway/v1/gateway.proto, "GRPC STATUS CODES"),
// a pure function of its inputs:
//   OK + APPROVED / DECLINED        succeeded (with the outcome; the decline code for DECLINED)
//   OK + PENDING                    in_doubt after the backoff (GetPaymentStatus polls it later)
//   OK + STATUS_UNSPECIFIED         dead: a broken adapter
//   UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED        retry after the backoff (nothing happened)
//   DEADLINE_EXCEEDED, UNKNOWN, INTERNAL, CANCELLED in_doubt after the backoff (it may have)
//   every other code (INVALID_ARGUMENT, FAILED_PRECONDITION, ...)   dead at once
// `attempt` is the number of the attempt that just ended (1 for the first). When it has reached
// policy.max_attempts, retry and in_doubt become dead, with a reason naming the attempts and the
// last status.
Decision Decide(const CallOutcome& outcome, int attempt, const RetryPolicy& policy, double jitter);

}  // namespace payorch::worker
