#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "db/job_queue.hpp"
#include "services/cleeng/flows.hpp"
#include "services/worker/job_executor.hpp"
#include "services/worker/retry_policy.hpp"

namespace payorch::worker {

// The attempt of a job whose Cleeng flow (services/cleeng/flows.hpp) ran, as the recorder records
// it (docs/cleeng.md, "The worker"):
//   kSucceeded        succeeded with the outcome, the gateway's reference and decline code;
//   kAdapterUndecided the retry policy on the adapter's reply (in doubt stays in doubt);
//   kCleengTransient, kDatabase   retry after the backoff, dead at the attempt budget;
//   kCleengRefused    dead, last_error = Cleeng's answer (operation, HTTP status, body);
//   kStopped          retry at once (the next attempt resumes after the last step);
//   kLeaseLost        nothing: callers record no attempt (nullopt).
// `adapter_code` is the code of the adapter call this attempt made (nullopt when it made none:
// an earlier attempt's answer was recorded as a step). `jitter` is a draw in [0, 1).
std::optional<AttemptPlan> FlowAttemptPlan(const db::ClaimedJob& job,
                                           const cleeng::FlowResult& result,
                                           std::optional<grpc::StatusCode> adapter_code,
                                           const std::string& worker_id,
                                           const std::string& adapter, const RetryPolicy& policy,
                                           double jitter,
                                           std::chrono::system_clock::time_point started_at);

}  // namespace payorch::worker
