#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace payorch::db {

// One delivery of an event payorch acts on, as the ingress stores it (DOMAIN.md, "Idempotency").
// Optional fields are NULL in the database when empty.
struct NewJob {
  std::string event_key;
  std::string idempotency_key;
  std::int64_t broadcaster_id = 0;
  std::string topic;
  std::string subscription_id;
  std::string payment_gateway;        // empty -> NULL
  std::string payment_method_id;      // empty -> NULL
  std::string dunning_attempt_date;   // UTC RFC 3339 ("...Z"); empty -> NULL
  std::string raw_event;              // the body exactly as received
};

// What happened to one NewJob: the job that holds its event, and whether that job existed
// already (an earlier delivery, or an earlier entry of the same batch).
struct InsertedJob {
  std::int64_t job_id = 0;
  bool duplicate = false;
};

// One delivery of an event payorch does not act on, kept for audit.
struct IgnoredEvent {
  std::optional<std::int64_t> broadcaster_id;
  std::string topic;
  std::string raw_event;
};

// Inserts one job per distinct event key with one statement, whatever the batch size, and its key
// into job_event_keys. A key that already has a job is not inserted again: a second statement,
// run only then, grows that job's `deliveries` by the number of deliveries and sets
// `last_delivery_at` to now(). Entries with the same key inside `jobs` are merged and all get the
// same job id; the first entry of a new key is the non-duplicate one. Result i belongs to jobs[i].
// Keys are written and jobs locked in event-key order so that concurrent batches never deadlock.
// Runs inside `tx`; the caller commits. Throws DatabaseError.
std::vector<InsertedJob> InsertJobs(pqxx::transaction_base& tx, std::span<const NewJob> jobs);

// Appends the events to ignored_events with one statement. Runs inside `tx`. Throws DatabaseError.
void RecordIgnoredEvents(pqxx::transaction_base& tx, std::span<const IgnoredEvent> events);

// The ingress's unit of group commit: both of the above in one transaction, committed before it
// returns. It first assumes every key is new (a cheaper statement); a key that has a job makes
// that transaction fail and roll back, and the batch is stored again as InsertJobs stores it.
// When it throws, nothing of the batch is stored, or (DatabaseError::in_doubt) the outcome is
// unknown; either way nobody may be told "stored". Throws DatabaseError.
std::vector<InsertedJob> StoreIntakeBatch(pqxx::connection_base& connection,
                                          std::span<const NewJob> jobs,
                                          std::span<const IgnoredEvent> ignored);

// Convenience for callers with jobs only (tests, tools): one transaction, committed.
std::vector<InsertedJob> InsertJobs(pqxx::connection_base& connection,
                                    std::span<const NewJob> jobs);

// jobs is partitioned by ranges of a million ids (migration 0013). Creates the next partition
// when fewer than a million ids of room remain above the next id, and returns the bound below
// which ids have a partition. One short transaction of its own; concurrent callers are
// serialised by the database. Throws DatabaseError (also when a lock is not granted within a
// second: callers try again later, while the room left still takes new jobs).
std::int64_t AddJobPartitions(pqxx::connection_base& connection);

// Ids of room above the last new job below which the ingress calls AddJobPartitions: half a
// partition, so a call creates a partition about once per million jobs and new jobs still have
// half a million ids of room when it fails.
inline constexpr std::int64_t kJobPartitionRoom = 500000;

// Readiness probe: a round trip to the server. Throws DatabaseError when it is not reachable.
void Ping(pqxx::connection_base& connection);

// Bounds every statement of this session so a stalled server turns into an error instead of
// requests waiting forever. Call once per new connection.
void SetStatementTimeout(pqxx::connection_base& connection, int milliseconds);

}  // namespace payorch::db
