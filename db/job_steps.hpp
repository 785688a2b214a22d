#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>

namespace payorch::db {

// The recovery points of multi-step jobs (the Cleeng flows, services/cleeng/flows.hpp): one row
// per completed step of a job, table job_steps (migration 0007). Every function throws
// DatabaseError and nothing else, and commits before returning, so that no network call ever
// runs inside one of its transactions. Call PrepareJobStepStatements once per connection.

void PrepareJobStepStatements(pqxx::connection& connection);

// The steps a job recorded so far: step name -> its result (a JSON object, as text).
[[nodiscard]] std::map<std::string, std::string> LoadJobSteps(pqxx::connection& connection,
                                                              std::int64_t job_id);

enum class StepWrite {
  kRecorded,         // the row is written and committed
  kAlreadyRecorded,  // the job already has this step (the earlier row stands, unchanged)
  kLeaseLost,        // the job is not running under `fence` any more: nothing written
};

// Records that `step` of the job completed with `result_json` (a JSON object), fenced: written
// only while the job is running under `fence`, so an attempt whose lease expired (and whose job
// another worker now owns) cannot record anything.
[[nodiscard]] StepWrite RecordJobStep(pqxx::connection& connection, std::int64_t job_id,
                                      std::int64_t fence, std::string_view step,
                                      const std::string& result_json);

// An authorisation payorch reported to Cleeng for a subscription and nobody settled since.
struct OpenAuthorization {
  std::int64_t job_id = 0;    // the authorisation job
  std::string reported_json;  // the result of its `reported_step`
};

// The latest authorisation job of the subscription whose step `reported_step` recorded
// {"status": "authorized", "paymentId": ...}, unless a job of the same subscription recorded a
// step `settled_step` with the same paymentId (captured, rejected or cancelled since). Read-only.
[[nodiscard]] std::optional<OpenAuthorization> FindOpenAuthorization(
    pqxx::connection& connection, std::int64_t broadcaster_id, const std::string& subscription_id,
    std::string_view reported_step, std::string_view settled_step);

}  // namespace payorch::db
