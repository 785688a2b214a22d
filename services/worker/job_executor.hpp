#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "db/job_queue.hpp"
#include "services/core/event.hpp"
#include "services/worker/adapter_client.hpp"
#include "services/worker/retry_policy.hpp"

namespace payorch::worker {

// The call to make for a topic.
enum class Rpc { kAuthorize, kCapture, kTerminate };
std::string_view RpcName(Rpc rpc);
Rpc RpcForTopic(core::Topic topic);

// The contract's SubscriptionEvent for a parsed webhook; `raw_event` is the body as received.
gateway_v1::SubscriptionEvent BuildSubscriptionEvent(const core::CleengEvent& event,
                                                     const std::string& raw_event);

// The identity of an adapter call: the job's idempotency key (never a new one), id and attempt.
void FillMeta(gateway_v1::RequestMeta* meta, const db::ClaimedJob& job);
GatewayStatus FromProto(gateway_v1::PaymentResult::Status status);
// A call's end as the retry policy sees it.
CallOutcome ToOutcome(const CallResult& call);
std::optional<std::string> NonEmpty(const std::string& text);
// The attempt row's identity, started now.
db::AttemptRecord StartRecord(const db::ClaimedJob& job, const std::string& worker_id,
                              const std::string& adapter);
// The job's transition for a decision (`gateway_reference` kept when it succeeded).
db::JobTransition TransitionFor(const Decision& decision,
                                const std::optional<std::string>& gateway_reference);

// What one attempt produced: the row to append, the job's transition, and the decision behind
// both. Built without touching the database; the caller records it.
struct AttemptPlan {
  db::AttemptRecord record;
  db::JobTransition transition;
  Decision decision;
  // For a job claimed in doubt: how its GetPaymentStatus ended ("found", "not_found" then the
  // payment call was made again with the same key, or "failed"); empty when none was asked.
  std::string status_lookup;
  // The gRPC code of the attempt's last call (UNKNOWN when no call was made): what the adapter's
  // circuit breaker is told.
  grpc::StatusCode last_code = grpc::StatusCode::OK;
  bool called = false;
};

// The plan of an attempt that ends the job dead without any call (`reason` becomes last_error and
// the attempt's error): an event payorch cannot act on, or one that routes to no adapter.
AttemptPlan DeadWithoutCall(const db::ClaimedJob& job, const std::string& worker_id,
                            const std::string& adapter, std::string reason);

// Runs one attempt of a claimed job against the adapter:
//   - a job claimed from in doubt first asks GetPaymentStatus for its idempotency key; a found
//     result is the attempt's result, a not-found key is called again with the same key;
//   - otherwise calls the topic's RPC with the job's idempotency key (never a new one);
//   - the retry policy turns the outcome into a decision. A job that was in doubt stays in doubt
//     on a transient failure, so its next attempt asks for the status again.
// A job whose stored event no longer parses, or whose topic is not one payorch acts on, is dead
// without a call.
class JobExecutor {
 public:
  JobExecutor(AdapterClient& client, std::string adapter_name, std::string worker_id,
              RetryPolicy policy)
      : client_(client),
        adapter_name_(std::move(adapter_name)),
        worker_id_(std::move(worker_id)),
        policy_(policy) {}

  // `authorization_reference`: for Capture and Terminate, the reference of the subscription's
  // approved authorisation (FindAuthorizationReference), if any. `jitter` is a draw in [0, 1).
  // Starts the attempt and returns at once; `done` receives the plan exactly once, on the calling
  // thread (no call needed) or on a gRPC thread (after the call or calls). The executor and its
  // client must outlive every attempt started.
  void Execute(const db::ClaimedJob& job, const std::optional<std::string>& authorization_reference,
               double jitter, std::function<void(AttemptPlan)> done);

 private:
  struct Attempt;
  void Call(const std::shared_ptr<Attempt>& attempt);
  void Finish(const std::shared_ptr<Attempt>& attempt, const CallResult& call,
              bool resolved_by_status);

  AdapterClient& client_;
  std::string adapter_name_;
  std::string worker_id_;
  RetryPolicy policy_;
};

}  // namespace payorch::worker
