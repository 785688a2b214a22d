#include "db/job_retention.hpp"

#include <algorithm>
#include <string>

#include "db/database.hpp"
#include "db/event_key_index.hpp"

namespace payorch::db {
namespace {

// The states a prune may delete; the same list is in history_delete_allowed() (0006).
#define PAYORCH_FINAL_STATES "('succeeded', 'dead', 'cancelled')"

// $1 bound, $2 batch size. Walks jobs_finished_idx oldest first and locks the batch; SKIP LOCKED
// so that a prune never waits on (nor blocks long) a worker or an operator holding a job. The
// ids come back as one array literal, handed to the deletes below.
constexpr const char* kLockPrunableBatch = "job_retention_lock_prunable_batch";
constexpr const char* kLockPrunableBatchSql = R"sql(
WITH batch AS (
  SELECT id FROM jobs
  WHERE finished_at < $1::timestamptz AND state IN )sql" PAYORCH_FINAL_STATES R"sql(
  ORDER BY finished_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
SELECT count(*), coalesce(array_agg(id), '{}')::text FROM batch
)sql";

// Opens the append-only triggers' door for this transaction only (SET LOCAL semantics).
constexpr const char* kEnablePruning = "job_retention_enable_pruning";
constexpr const char* kEnablePruningSql = "SELECT set_config('payorch.pruning', 'on', true)";

// $1 ids (bigint[]), $2 bound. Each delete re-checks the job's state and finish time, so a job
// that is not (or no longer) prunable keeps every row even if it was in the batch.
// `table` is job_attempts or job_audit (both have job_id).
std::string DeleteHistorySql(const char* table) {
  return std::string("DELETE FROM ") + table +
         " AS h USING jobs AS j"
         " WHERE h.job_id = j.id AND j.id = ANY($1::bigint[])"
         "   AND j.state IN " PAYORCH_FINAL_STATES " AND j.finished_at < $2::timestamptz";
}
constexpr const char* kDeleteAttempts = "job_retention_delete_attempts";
constexpr const char* kDeleteAuditRows = "job_retention_delete_audit_rows";

// Partitions of jobs (migration 0013) whose ids all lie below the next id and that have no pages
// (a vacuum truncated them after the prune emptied them). jobs_partition_upper_bound: migration
// 0015.
constexpr const char* kEmptyJobPartitionsSql = R"sql(
SELECT c.relname
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'jobs'::regclass
  AND jobs_partition_upper_bound(c.oid)
      <= (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM jobs_id_seq)
  AND pg_relation_size(c.oid) = 0
ORDER BY c.relname
)sql";

// The event keys go with their jobs (migration 0008): a delivery of a pruned event after this is
// stored as a new job, exactly as before the keys had their own table.
constexpr const char* kDeleteJobs = "job_retention_delete_jobs";
constexpr const char* kDeleteJobsSql = R"sql(
WITH deleted AS (
  DELETE FROM jobs
  WHERE id = ANY($1::bigint[])
    AND state IN )sql" PAYORCH_FINAL_STATES R"sql( AND finished_at < $2::timestamptz
  RETURNING id, event_key
), deleted_keys AS (
  DELETE FROM job_event_keys k USING deleted d
  WHERE )sql" PAYORCH_EVENT_KEY_MATCHES("k.event_key", "d.event_key") R"sql( AND k.job_id = d.id
)
SELECT count(*) FROM deleted
)sql";

// $1 bound, $2 batch size; ignored_events_received_idx (0006).
constexpr const char* kDeleteIgnoredEvents = "job_retention_delete_ignored_events";
constexpr const char* kDeleteIgnoredEventsSql = R"sql(
DELETE FROM ignored_events
WHERE id IN (SELECT id FROM ignored_events
             WHERE received_at < $1::timestamptz
             ORDER BY received_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
)sql";

// $1 bound. One statement, so one snapshot: the four counts agree with each other.
constexpr const char* kCountPrunable = "job_retention_count_prunable";
constexpr const char* kCountPrunableSql = R"sql(
WITH prunable AS (
  SELECT id FROM jobs
  WHERE finished_at < $1::timestamptz AND state IN )sql" PAYORCH_FINAL_STATES R"sql(
)
SELECT (SELECT count(*) FROM prunable),
       (SELECT count(*) FROM job_attempts a JOIN prunable p ON p.id = a.job_id),
       (SELECT count(*) FROM job_audit a JOIN prunable p ON p.id = a.job_id),
       (SELECT count(*) FROM ignored_events WHERE received_at < $1::timestamptz)
)sql";

#undef PAYORCH_FINAL_STATES

int ClampBatch(int batch_size) { return std::clamp(batch_size, 1, kMaxPruneBatchSize); }

}  // namespace

PruneCounts PruneFinishedJobsBatch(pqxx::connection& connection,
                                   const std::string& finished_before, int batch_size) {
  return Translate("prune finished jobs", [&] {
    connection.prepare(kLockPrunableBatch, kLockPrunableBatchSql);
    connection.prepare(kEnablePruning, kEnablePruningSql);
    connection.prepare(kDeleteAttempts, DeleteHistorySql("job_attempts"));
    connection.prepare(kDeleteAuditRows, DeleteHistorySql("job_audit"));
    connection.prepare(kDeleteJobs, kDeleteJobsSql);
    pqxx::work txn(connection);
    PruneCounts counts;
    const auto batch =
        txn.exec_prepared1(kLockPrunableBatch, finished_before, ClampBatch(batch_size));
    if (batch[0].as<std::int64_t>() == 0) {
      txn.commit();
      return counts;
    }
    const auto ids = batch[1].as<std::string>();
    txn.exec_prepared(kEnablePruning);
    // Children first: job_attempts and job_audit reference jobs.
    counts.attempts = txn.exec_prepared(kDeleteAttempts, ids, finished_before).affected_rows();
    counts.audit_rows = txn.exec_prepared(kDeleteAuditRows, ids, finished_before).affected_rows();
    counts.jobs = txn.exec_prepared1(kDeleteJobs, ids, finished_before)[0].as<std::int64_t>();
    txn.commit();
    return counts;
  });
}

std::int64_t PruneIgnoredEventsBatch(pqxx::connection& connection,
                                     const std::string& received_before, int batch_size) {
  return Translate("prune ignored events", [&] {
    connection.prepare(kDeleteIgnoredEvents, kDeleteIgnoredEventsSql);
    pqxx::work txn(connection);
    const auto deleted =
        txn.exec_prepared(kDeleteIgnoredEvents, received_before, ClampBatch(batch_size))
            .affected_rows();
    txn.commit();
    return static_cast<std::int64_t>(deleted);
  });
}

PruneCounts CountPrunable(pqxx::connection& connection, const std::string& finished_before) {
  return Translate("count prunable history", [&] {
    connection.prepare(kCountPrunable, kCountPrunableSql);
    pqxx::read_transaction txn(connection);
    const auto row = txn.exec_prepared1(kCountPrunable, finished_before);
    txn.commit();
    PruneCounts counts;
    counts.jobs = row[0].as<std::int64_t>();
    counts.attempts = row[1].as<std::int64_t>();
    counts.audit_rows = row[2].as<std::int64_t>();
    counts.ignored_events = row[3].as<std::int64_t>();
    return counts;
  });
}

std::vector<std::string> DropEmptyJobPartitions(pqxx::connection& connection) {
  return Translate("drop empty job partitions", [&] {
    // Candidates: partitions below the next id with no pages. A prune's deletes leave dead rows
    // until a vacuum truncates the emptied partition; until then it stays, and checking it under
    // the lock below would mean reading all of it while jobs is locked.
    std::vector<std::string> candidates;
    {
      pqxx::nontransaction tx(connection);
      for (const auto& row : tx.exec(kEmptyJobPartitionsSql)) {
        candidates.push_back(row[0].as<std::string>());
      }
    }
    std::vector<std::string> dropped;
    for (const auto& partition : candidates) {
      pqxx::work tx(connection);
      tx.exec0("SET LOCAL lock_timeout = '1s'");
      const std::string name = tx.quote_name(partition);
      try {
        tx.exec0("ALTER TABLE jobs DETACH PARTITION " + name);
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() == "55P03") continue;  // lock not available: the next run tries again
        throw;
      }
      if (tx.exec1("SELECT EXISTS (SELECT 1 FROM " + name + ")")[0].as<bool>()) continue;
      tx.exec0("DROP TABLE " + name);
      tx.commit();
      dropped.push_back(partition);
    }
    return dropped;
  });
}

std::vector<std::string> SealFinishedJobPartitions(pqxx::connection& connection) {
  return Translate("seal finished job partitions", [&] {
    std::vector<std::string> candidates;
    {
      pqxx::nontransaction tx(connection);
      for (const auto& row : tx.exec("SELECT jobs_partitions_to_seal()")) {
        candidates.push_back(row[0].as<std::string>());
      }
    }
    std::vector<std::string> sealed;
    for (const auto& partition : candidates) {
      {
        pqxx::work tx(connection);
        tx.exec0("SET LOCAL lock_timeout = '1s'");
        try {
          if (!tx.exec_params1("SELECT jobs_seal_partition($1::regclass)", partition)[0]
                   .as<bool>()) {
            continue;  // it holds an unfinished job
          }
          tx.commit();
        } catch (const pqxx::sql_error& e) {
          if (e.sqlstate() == "55P03") continue;  // lock not available: the next run tries again
          // 42710: a concurrent prune added the constraint while this one waited for the lock.
          if (e.sqlstate() != "42710") throw;
        }
      }
      try {
        pqxx::work tx(connection);
        tx.exec_params("SELECT jobs_validate_partition_seal($1::regclass)", partition);
        tx.commit();
      } catch (const pqxx::sql_error& e) {
        // 42704: a replay dropped the constraint since (it unseals its job's partition).
        if (e.sqlstate() == "42704") continue;
        throw;
      }
      sealed.push_back(partition);
    }
    return sealed;
  });
}

}  // namespace payorch::db
