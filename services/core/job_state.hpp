#pragma once

#include <optional>
#include <string_view>

namespace payorch::core {

// The lifecycle of a job (DESIGN.md, "Jobs and their lifecycle"). The names are what the
// database stores and what the CLI prints.
//   queued    - waiting for its run_after time, then claimable
//   running   - claimed by a worker whose lease has not expired
//   in_doubt  - the last call's result is unknown; the next attempt resolves it with
//               GetPaymentStatus for the same idempotency key before calling again
//   succeeded - the gateway decided (the outcome says approved or declined); final
//   dead      - payorch gave up (the reason is in last_error); final until an operator replays
//   cancelled - an operator cancelled it; final
enum class JobState { kQueued, kRunning, kInDoubt, kSucceeded, kDead, kCancelled };

constexpr std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kInDoubt: return "in_doubt";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kDead: return "dead";
    case JobState::kCancelled: return "cancelled";
  }
  return "unknown";
}

constexpr std::optional<JobState> JobStateFromName(std::string_view name) {
  for (auto state : {JobState::kQueued, JobState::kRunning, JobState::kInDoubt,
                     JobState::kSucceeded, JobState::kDead, JobState::kCancelled}) {
    if (JobStateName(state) == name) return state;
  }
  return std::nullopt;
}

constexpr bool IsFinal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kDead ||
         state == JobState::kCancelled;
}

}  // namespace payorch::core
