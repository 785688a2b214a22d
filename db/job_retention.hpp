#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace payorch::db {

// Retention: deleting the history of finished jobs (payorch-admin jobs prune). Every function
// throws DatabaseError.
//
// A job is prunable when it is final (succeeded, dead or cancelled) and finished before the
// bound. Its job_attempts and job_audit rows go with it; they are append-only except for this
// (db/migrations/0006_retention.sql: a DELETE passes their triggers only inside a transaction
// that set payorch.pruning and only for rows of a final job).
//
// Bounds are timestamptz literals (ISO-8601 with a zone, admin::FormatUtc).

// Upper bound on one batch, whatever the caller asks: a batch is one transaction holding row
// locks on its jobs, which must stay short.
inline constexpr int kMaxPruneBatchSize = 10000;

// What one batch (or a whole run) deleted.
struct PruneCounts {
  std::int64_t jobs = 0;
  std::int64_t attempts = 0;
  std::int64_t audit_rows = 0;
  std::int64_t ignored_events = 0;

  PruneCounts& operator+=(const PruneCounts& other) {
    jobs += other.jobs;
    attempts += other.attempts;
    audit_rows += other.audit_rows;
    ignored_events += other.ignored_events;
    return *this;
  }
};

// Deletes up to `batch_size` (clamped to [1, kMaxPruneBatchSize]) prunable jobs finished before
// `finished_before`, oldest first, with their attempts and audit rows, in one short transaction.
// The batch is chosen with FOR UPDATE SKIP LOCKED: a job whose row another transaction holds (a
// worker recording it, an operator replaying it) is skipped, never waited for, and stays for a
// later run. Every DELETE re-checks that the job is final and finished before the bound, under
// the row lock, so a job replayed after it was chosen keeps its history. Returns the rows
// deleted (ignored_events is 0); fewer jobs than `batch_size` means nothing more was
// prunable at the time (or the rest was locked).
[[nodiscard]] PruneCounts PruneFinishedJobsBatch(pqxx::connection& connection,
                                                 const std::string& finished_before,
                                                 int batch_size);

// Deletes up to `batch_size` ignored events received before `received_before`, oldest first, in
// one transaction. Returns how many.
[[nodiscard]] std::int64_t PruneIgnoredEventsBatch(pqxx::connection& connection,
                                                   const std::string& received_before,
                                                   int batch_size);

// jobs is partitioned by ranges of ids (migration 0013) and new jobs take ids from a sequence
// that only grows, so a partition whose range lies wholly below the next id never receives a new
// job. Once pruning has emptied one (and a vacuum has truncated it to no pages), this detaches
// and drops it: the number of partitions, which every claim probes and every plan opens, then
// follows the retained history instead of the years the system has run. Each partition is one
// short transaction: DETACH takes an ACCESS EXCLUSIVE lock on jobs, which waits for the
// statements using jobs and holds new ones behind it, so it gives up after a second (lock
// timeout) and the partition is left for the next run. Under that lock the partition is checked
// again, so a job still being stored with an older id (an intake that drew its id before a later
// one committed) keeps its partition. Returns the names of the partitions dropped.
[[nodiscard]] std::vector<std::string> DropEmptyJobPartitions(pqxx::connection& connection);

// Seals each partition of jobs that the next id has passed by a whole partition and that holds
// only finished jobs (migration 0015): a CHECK constraint, added and then validated in two short
// transactions, after which the plans that ask for unfinished jobs (every claim) leave the
// partition out. A partition holding an unfinished job is left for a later run, as is one whose
// lock is not granted within a second. Returns the names of the partitions sealed.
[[nodiscard]] std::vector<std::string> SealFinishedJobPartitions(pqxx::connection& connection);

// What a prune with this bound would delete now, without deleting anything (one read-only
// snapshot; counts every prunable row, so it costs a scan of the prunable part of the history).
[[nodiscard]] PruneCounts CountPrunable(pqxx::connection& connection,
                                        const std::string& finished_before);

}  // namespace payorch::db
