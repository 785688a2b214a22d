#include "db/job_steps.hpp"

#include "db/database.hpp"
#include "db/subscription_jobs.hpp"

namespace payorch::db {
namespace {

constexpr const char* kLoadJobSteps = "job_steps_load";
constexpr const char* kRecordJobStep = "job_steps_record";
constexpr const char* kFindOpenAuthorization = "job_steps_find_open_authorization";

constexpr const char* kLoadJobStepsSql = R"sql(
SELECT step, result::text FROM job_steps WHERE job_id = $1
)sql";

// $1 job id, $2 fence, $3 step, $4 result. `owner` is the fence check: the insert reads from it,
// so a stale attempt inserts nothing; the two counts tell a lost lease from a step that exists.
constexpr const char* kRecordJobStepSql = R"sql(
WITH owner AS (
  SELECT id FROM jobs WHERE id = $1 AND fence = $2 AND state = 'running'
), inserted AS (
  INSERT INTO job_steps (job_id, step, fence, result)
  SELECT id, $3, $2, $4::jsonb FROM owner
  ON CONFLICT (job_id, step) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM owner) AS owned, (SELECT count(*) FROM inserted) AS inserted
)sql";

// $1 broadcaster, $2 subscription, $3 reported step, $4 settled step. The subscription's jobs,
// finished and unfinished, come from their two partial indexes (db/subscription_jobs.hpp),
// materialised once for both uses; each job's steps through the primary key.
constexpr const char* kFindOpenAuthorizationSql =
    "WITH subscription_jobs AS MATERIALIZED ("
    PAYORCH_SUBSCRIPTION_JOBS("id, topic", "subscription_id = $2 AND broadcaster_id = $1")
    ")" R"sql(
SELECT s.job_id, s.result::text
FROM subscription_jobs AS j
JOIN job_steps AS s ON s.job_id = j.id AND s.step = $3
WHERE j.topic = 'subscriptionReadyForPaymentAuthorisation'
  AND s.result->>'status' = 'authorized'
  AND NOT EXISTS (
    SELECT 1
    FROM subscription_jobs AS o
    JOIN job_steps AS c ON c.job_id = o.id AND c.step = $4
    WHERE c.result->>'paymentId' = s.result->>'paymentId')
ORDER BY j.id DESC
LIMIT 1
)sql";

}  // namespace

void PrepareJobStepStatements(pqxx::connection& connection) {
  Translate("prepare job step statements", [&] {
    connection.prepare(kLoadJobSteps, kLoadJobStepsSql);
    connection.prepare(kRecordJobStep, kRecordJobStepSql);
    connection.prepare(kFindOpenAuthorization, kFindOpenAuthorizationSql);
  });
}

std::map<std::string, std::string> LoadJobSteps(pqxx::connection& connection, std::int64_t job_id) {
  return Translate("load job steps", [&] {
    pqxx::read_transaction txn(connection);
    const pqxx::result rows = txn.exec_prepared(kLoadJobSteps, job_id);
    txn.commit();
    std::map<std::string, std::string> steps;
    for (const auto& row : rows) steps.emplace(row[0].as<std::string>(), row[1].as<std::string>());
    return steps;
  });
}

StepWrite RecordJobStep(pqxx::connection& connection, std::int64_t job_id, std::int64_t fence,
                        std::string_view step, const std::string& result_json) {
  return Translate("record job step", [&] {
    pqxx::work txn(connection);
    const pqxx::row row =
        txn.exec_prepared1(kRecordJobStep, job_id, fence, std::string(step), result_json);
    txn.commit();
    if (row[0].as<long long>() == 0) return StepWrite::kLeaseLost;
    return row[1].as<long long>() == 1 ? StepWrite::kRecorded : StepWrite::kAlreadyRecorded;
  });
}

std::optional<OpenAuthorization> FindOpenAuthorization(pqxx::connection& connection,
                                                       std::int64_t broadcaster_id,
                                                       const std::string& subscription_id,
                                                       std::string_view reported_step,
                                                       std::string_view settled_step) {
  return Translate("find open authorization", [&] {
    pqxx::read_transaction txn(connection);
    const pqxx::result rows =
        txn.exec_prepared(kFindOpenAuthorization, broadcaster_id, subscription_id,
                          std::string(reported_step), std::string(settled_step));
    txn.commit();
    if (rows.empty()) return std::optional<OpenAuthorization>{};
    return std::optional<OpenAuthorization>{
        OpenAuthorization{rows[0][0].as<std::int64_t>(), rows[0][1].as<std::string>()}};
  });
}

}  // namespace payorch::db
