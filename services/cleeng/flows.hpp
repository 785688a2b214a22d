#pragma once

#include <grpcpp/support/status_code_enum.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>

#include "payorch/gateway/v1/gateway.pb.h"
#include "services/cleeng/cleeng_client.hpp"
#include "services/core/event.hpp"

namespace payorch::cleeng {

// The Cleeng round trip of one job (issue 7, docs/cleeng.md) as a step machine. Every completed
// step is a recovery point in job_steps (db/job_steps.hpp), recorded fenced by the job's fence
// before the next step starts; an attempt resumes after the last recorded step, using what the
// steps recorded (order id and amount, the gateway's answer, the Cleeng payment id).
//
//   authorisation: order_created -> adapter_decided (Authorize, the order's amount)
//                  -> payment_reported (POST /payments authorized | rejected)
//   capture:       capture_plan (the open authorisation payorch reported, if any), then either
//                  adapter_decided (Capture it) -> authorization_settled (PATCH captured|rejected)
//                  or, with none: order_created -> adapter_decided (Capture, no reference: a
//                  direct charge) -> payment_reported (POST /payments captured | rejected)
//   termination:   release_plan (the open authorisation, if any) -> adapter_decided (Terminate)
//                  -> authorization_settled (PATCH .../cancel; only with an open authorisation)
//                  -> subscription_terminated
//
// Cleeng writes go through CleengClient's Ensure* calls (look up, then create), so a crash or a
// lost reply between "Cleeng created it" and "payorch recorded it" never creates a second order
// or payment. The adapter is called with the job's idempotency key on every attempt, so a repeat
// answers the first result without a second effect.

inline constexpr std::string_view kStepOrderCreated = "order_created";
inline constexpr std::string_view kStepAdapterDecided = "adapter_decided";
inline constexpr std::string_view kStepPaymentReported = "payment_reported";
inline constexpr std::string_view kStepCapturePlan = "capture_plan";
inline constexpr std::string_view kStepReleasePlan = "release_plan";
inline constexpr std::string_view kStepAuthorizationSettled = "authorization_settled";
inline constexpr std::string_view kStepSubscriptionTerminated = "subscription_terminated";

enum class AdapterRpc { kAuthorize, kCapture, kTerminate };
std::string_view AdapterRpcName(AdapterRpc rpc);

// What the flow asks of the gateway adapter. The caller (the worker) adds what identifies the
// job: the idempotency key, job id, attempt and the event, exactly as for any adapter call.
struct AdapterRequest {
  AdapterRpc rpc = AdapterRpc::kAuthorize;
  std::optional<gateway::v1::Money> amount;  // from the Cleeng order
  std::string authorization_reference;       // Capture / Terminate; empty for a direct charge
};

struct AdapterReply {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  gateway::v1::PaymentResult result;  // when code is OK
};

// Blocking and bounded by the adapter's deadline; called on the flow's thread.
using AdapterCall = std::function<AdapterReply(const AdapterRequest&)>;

struct FlowJob {
  std::int64_t id = 0;
  std::int64_t fence = 0;
  std::string idempotency_key;
  core::CleengEvent event;  // the parsed webhook; event.topic is set
};

struct FlowResult {
  enum class Kind {
    kSucceeded,         // all steps done and reported to Cleeng: `outcome` approved | declined
    kAdapterUndecided,  // the adapter call failed or is PENDING: `adapter` holds its reply, for
                        // the worker's retry policy (retry, in doubt or dead), same key next time
    kCleengTransient,   // Cleeng gave no decision within the client's bounds: retry later
    kCleengRefused,     // Cleeng answered 4xx: the job is dead; `cleeng_error` has its answer
    kLeaseLost,         // the job's fence moved on: stop, record nothing more
    kDatabase,          // a step could not be read or recorded: retry later
    kStopped,           // FlowHooks::continue_after_step said stop: resume later
  };
  Kind kind = Kind::kDatabase;
  std::string outcome;            // approved | declined
  std::string gateway_reference;  // of the adapter call
  std::string decline_code;
  std::optional<AdapterRpc> rpc;  // the adapter call the flow involves
  AdapterReply adapter;           // kAdapterUndecided: the reply as received
  std::optional<CleengError> cleeng_error;
  std::string error;      // why, when not kSucceeded; never a secret
  std::string last_step;  // the last recorded step, "" when none
  // Ids and steps for the attempt's request summary: never the token or the email.
  std::string summary;
};
std::string_view FlowResultKindName(FlowResult::Kind kind);

struct FlowHooks {
  // Called after each step this attempt records (not for steps an earlier attempt recorded);
  // false stops the flow there with kStopped. The worker passes its shutdown and lease check;
  // tests stop after step k to simulate a crash.
  std::function<bool(std::string_view step)> continue_after_step;
};

// Runs the flow of `job.event.topic` from its last recorded step. `connection` has
// db::PrepareJobStepStatements applied and belongs to the calling thread. Never throws for
// expected failures (Cleeng, adapter, database): they are FlowResult kinds.
FlowResult RunFlow(pqxx::connection& connection, CleengClient& client, const FlowJob& job,
                   const AdapterCall& adapter, const FlowHooks& hooks = {});

}  // namespace payorch::cleeng
