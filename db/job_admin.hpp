#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "services/core/job_state.hpp"

namespace payorch::db {

// The write side of payorch-admin: operator actions on jobs. Each change is one statement that
// moves the job (compare-and-set on its state) and appends its job_audit row, so the change and
// its audit record commit together or not at all. Every function throws DatabaseError.

// Who did it and why, for the audit row. Both must be non-empty (the schema checks it too).
struct AuditContext {
  std::int64_t operation_id = 0;  // from NextAuditOperation: groups one command's rows
  std::string actor;
  std::string reason;
};

// A fresh operation id for one admin command (job_audit_operation_seq).
[[nodiscard]] std::int64_t NextAuditOperation(pqxx::connection& connection);

// What an operator action did to one job.
struct JobChange {
  bool changed = false;
  // The job's state before the action when it changed; when it did not, its current state, or
  // empty when there is no such job.
  std::string previous_state;
};

// Replays a job: when (and only when) its state is one of `allowed_states`, in one transaction
// it becomes queued, due now, unlocked and unfinished (outcome, references and last_error
// cleared: the audit row keeps the previous outcome and error), attempts_at_replay = attempts
// (a fresh attempt budget; the attempt numbers and history stay), and workers are woken by a
// NOTIFY on payorch_jobs. The idempotency key never changes. The state check and the update are
// one compare-and-set under a row lock, so two concurrent replays change the job once; a replay
// of a job that is no longer in an allowed state changes nothing. `allowed_states` must not
// contain queued, running or in_doubt (asserted by the caller's validation).
[[nodiscard]] JobChange ReplayJob(pqxx::connection& connection, std::int64_t job_id,
                                  const std::vector<core::JobState>& allowed_states,
                                  const AuditContext& audit);

// Cancels a job when its state is one of `allowed_states` (queued, and in_doubt only if the
// caller allows it; never running, never a final state): it becomes cancelled and finished, with
// its audit row, in one compare-and-set statement. A worker claim racing with it either sees the
// cancelled job (and skips it) or has already made it running (and the cancel changes nothing).
[[nodiscard]] JobChange CancelJob(pqxx::connection& connection, std::int64_t job_id,
                                  const std::vector<core::JobState>& allowed_states,
                                  const AuditContext& audit);

// The current state of a job, or nullopt when there is none (for dry runs and messages).
[[nodiscard]] std::optional<std::string> FindJobState(pqxx::connection& connection,
                                                      std::int64_t job_id);

}  // namespace payorch::db
