#include "db/job_intake.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "db/array_parameters.hpp"
#include "db/database.hpp"
#include "db/event_key_index.hpp"

namespace payorch::db {

namespace {

// A batch travels as one array parameter per column, unpacked by unnest: one prepared statement
// serves every batch size, no value is ever spliced into SQL text, and PostgreSQL parses flat
// array literals, which costs it less than a jsonb document holding the same rows (the raw
// events are JSON themselves and would be escaped and lexed twice). `ord` keeps the event-key
// order chosen by the caller, so concurrent batches lock conflicting keys in the same order.
//
// The event key's uniqueness lives in job_event_keys (migration 0008 says why). The keys go in
// with a job id each, drawn from the jobs' identity sequence, and the jobs with them. Keys are
// matched through db/event_key_index.hpp.
#define PAYORCH_INTAKE_ROWS                                                                  \
  "WITH r AS ("                                                                              \
  "  SELECT r.*, nextval('jobs_id_seq') AS id"                                               \
  "  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],"  \
  "              $7::text[], $8::timestamptz[], $9::text[], $10::integer[]) WITH ORDINALITY" \
  "       AS r(event_key, idempotency_key, broadcaster_id, topic, subscription_id,"          \
  "            payment_gateway, payment_method_id, dunning_attempt_date, raw_event,"         \
  "            deliveries, ord)"                                                             \
  ")"
#define PAYORCH_INSERT_JOBS_FROM_ROWS                                                        \
  "INSERT INTO jobs (id, event_key, idempotency_key, broadcaster_id, topic, subscription_id," \
  "                  payment_gateway, payment_method_id, dunning_attempt_date, raw_event,"    \
  "                  deliveries) "                                                           \
  "OVERRIDING SYSTEM VALUE "                                                                 \
  "SELECT r.id, r.event_key, r.idempotency_key, r.broadcaster_id, r.topic, r.subscription_id," \
  "       r.payment_gateway, r.payment_method_id, r.dunning_attempt_date, r.raw_event,"       \
  "       r.deliveries "                                                                     \
  "FROM r "

// The common case: every key is new. A plain insert of the keys makes their unique index check
// each key as it adds it. Under ON CONFLICT (below) PostgreSQL instead probes the index first,
// inserts the row as speculative, adds the index entry and then confirms the row, one more WAL
// record per key; the statement also needs the semi-join that keeps conflicting keys' jobs out.
// pgbench of 26-row batches, fresh database each run, synchronous_commit off: 0.70-0.76 ms per
// batch against 0.77-1.03 ms for the statement below (4 runs each, alternated). A key that has a
// job (a resend), or that a concurrent batch commits while this statement waits on it, fails the
// statement with a unique violation; nothing of it is stored, and the batch is stored again with
// kInsertJobsSql (StoreIntakeBatch).
constexpr const char* kInsertNewJobsName = "payorch_insert_new_jobs";
constexpr const char* kInsertNewJobsSql = PAYORCH_INTAKE_ROWS R"sql(, new_keys AS (
  INSERT INTO job_event_keys (event_key, job_id)
  SELECT r.event_key, r.id FROM r ORDER BY r.ord
)
)sql" PAYORCH_INSERT_JOBS_FROM_ROWS "RETURNING event_key, id";

// Any batch: a key that conflicts is a delivery of an event payorch already has (possibly
// committed by a concurrent batch while this statement waited on the key): kCountDeliveriesSql
// counts it. Only the keys that were new become jobs; returns those jobs.
constexpr const char* kInsertJobsName = "payorch_insert_jobs";
constexpr const char* kInsertJobsSql = PAYORCH_INTAKE_ROWS R"sql(, new_keys AS (
  INSERT INTO job_event_keys (event_key, job_id)
  SELECT r.event_key, r.id FROM r ORDER BY r.ord
  ON CONFLICT )sql" PAYORCH_EVENT_KEY_CONFLICT_TARGET R"sql( DO NOTHING
  RETURNING job_id
), new_jobs AS (
  )sql" PAYORCH_INSERT_JOBS_FROM_ROWS R"sql(
  WHERE r.id IN (SELECT job_id FROM new_keys)
  RETURNING event_key, id
)
SELECT event_key, id FROM new_jobs)sql";
#undef PAYORCH_INTAKE_ROWS
#undef PAYORCH_INSERT_JOBS_FROM_ROWS

// $1 event keys that already had a job, $2 how many deliveries of each this batch holds, in the
// caller's key order: the jobs are locked in that order (FOR UPDATE below the sort) so that
// concurrent batches counting the same events never deadlock. A new statement, so a new snapshot:
// it sees the jobs of keys that concurrent batches committed after kInsertJobsSql's snapshot.
constexpr const char* kCountDeliveriesName = "payorch_count_deliveries";
constexpr const char* kCountDeliveriesSql = R"sql(
WITH target AS (
  SELECT j.id, d.event_key, d.deliveries
  FROM unnest($1::text[], $2::integer[]) WITH ORDINALITY AS d(event_key, deliveries, ord)
  JOIN job_event_keys k ON )sql" PAYORCH_EVENT_KEY_MATCHES("k.event_key", "d.event_key") R"sql(
  JOIN jobs j ON j.id = k.job_id
  ORDER BY d.ord
  FOR UPDATE OF j
)
UPDATE jobs SET deliveries = jobs.deliveries + t.deliveries, last_delivery_at = now()
FROM target t
WHERE jobs.id = t.id
RETURNING t.event_key, jobs.id)sql";

constexpr const char* kRecordIgnoredEventsName = "payorch_record_ignored_events";
constexpr const char* kRecordIgnoredEventsSql = R"sql(
INSERT INTO ignored_events (broadcaster_id, topic, raw_event)
SELECT r.broadcaster_id, r.topic, r.raw_event
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS r(broadcaster_id, topic, raw_event))sql";

constexpr const char* kPingName = "payorch_ping";
constexpr const char* kPingSql = "SELECT 1";

// `prepare` registers the statement with the connection (the server sees it on first use);
// registering the same name with the same text again is a no-op in libpqxx 6.
void Prepare(pqxx::connection_base& connection, const char* name, const char* sql) {
  connection.prepare(name, sql);
}

// Which statement stores a batch's keys: kInsertNewJobsSql, which fails with
// pqxx::unique_violation when a key has a job, or kInsertJobsSql, which takes any key.
enum class Keys { kAllNew, kAny };

// `wrote_jobs` is set once the statement that inserts the new jobs has returned: under autocommit
// they are committed from then on, whatever happens to the rest of the batch.
std::vector<InsertedJob> InsertJobsUnchecked(pqxx::transaction_base& tx,
                                             std::span<const NewJob> jobs, Keys keys,
                                             bool& wrote_jobs) {
  if (jobs.empty()) return {};
  // Entries in event-key order (stable: the first delivery of a key stays first), so that
  // entries with the same key are adjacent and merge into one row carrying how many deliveries it
  // stands for. A sorted index instead of a map of vectors: two allocations per batch, not per
  // entry (this runs for every webhook).
  std::vector<std::uint32_t> order(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return jobs[a].event_key < jobs[b].event_key;
  });
  // rows[r] = the first position in `order` of the r-th distinct key.
  std::vector<std::uint32_t> rows;
  rows.reserve(order.size());
  std::size_t raw_bytes = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || jobs[order[i]].event_key != jobs[order[i - 1]].event_key) {
      rows.push_back(static_cast<std::uint32_t>(i));
      raw_bytes += jobs[order[i]].raw_event.size();
    }
  }
  const std::size_t row_count = rows.size();
  const auto deliveries_of = [&](std::size_t r) {
    const std::size_t end = r + 1 < row_count ? rows[r + 1] : order.size();
    return end - rows[r];
  };

  // Text columns in binary (above); numbers and timestamps as text literals, which need no
  // escaping and are parsed by their own types' input functions.
  BinaryTextArray event_keys(row_count * 84), idempotency_keys(row_count * 84),
      topics(row_count * 52), subscription_ids(row_count * 28), payment_gateways(row_count * 20),
      payment_method_ids(row_count * 20), raw_events(raw_bytes + row_count * 4);
  ArrayLiteral broadcaster_ids(row_count * 12), dunning_dates(row_count * 24),
      deliveries(row_count * 2);
  for (std::size_t r = 0; r < row_count; ++r) {
    const NewJob& job = jobs[order[rows[r]]];
    event_keys.AddText(job.event_key);
    idempotency_keys.AddText(job.idempotency_key);
    broadcaster_ids.AddInteger(job.broadcaster_id);
    topics.AddText(job.topic);
    subscription_ids.AddText(job.subscription_id);
    payment_gateways.AddTextOrNull(job.payment_gateway);
    payment_method_ids.AddTextOrNull(job.payment_method_id);
    dunning_dates.AddTextOrNull(job.dunning_attempt_date);
    raw_events.AddText(job.raw_event);
    deliveries.AddInteger(static_cast<std::int64_t>(deliveries_of(r)));
  }

  const char* const statement = keys == Keys::kAllNew ? kInsertNewJobsName : kInsertJobsName;
  Prepare(tx.conn(), statement, keys == Keys::kAllNew ? kInsertNewJobsSql : kInsertJobsSql);
  const pqxx::result new_jobs = tx.exec_prepared(
      statement, event_keys.Finish(), idempotency_keys.Finish(), broadcaster_ids.Finish(),
      topics.Finish(), subscription_ids.Finish(), payment_gateways.Finish(),
      payment_method_ids.Finish(), dunning_dates.Finish(), raw_events.Finish(),
      deliveries.Finish());
  wrote_jobs = true;

  std::vector<InsertedJob> inserted(jobs.size());
  std::vector<bool> answered(row_count, false);
  // Records (key, job id) from a RETURNING, which has no order: the key's row is found by binary
  // search over the distinct keys.
  const auto answer = [&](const pqxx::result& result, bool new_job) {
    for (const auto& row : result) {
      const std::string_view key(row[0].c_str(), row[0].size());
      const auto it = std::lower_bound(rows.begin(), rows.end(), key,
                                       [&](std::uint32_t first, std::string_view wanted) {
                                         return std::string_view(jobs[order[first]].event_key) <
                                                wanted;
                                       });
      if (it == rows.end() || jobs[order[*it]].event_key != key) {
        throw DatabaseError("insert jobs: unexpected event key returned");
      }
      const std::size_t r = static_cast<std::size_t>(it - rows.begin());
      if (answered[r]) throw DatabaseError("insert jobs: an event key returned twice");
      answered[r] = true;
      const auto job_id = row[1].as<std::int64_t>();
      const std::size_t end = rows[r] + deliveries_of(r);
      for (std::size_t i = rows[r]; i < end; ++i) {
        inserted[order[i]] = InsertedJob{job_id, !(i == rows[r] && new_job)};
      }
    }
  };
  answer(new_jobs, /*new_job=*/true);
  if (new_jobs.size() == row_count) return inserted;

  // Deliveries of events that have a job already: the rare path (Cleeng's resends).
  ArrayLiteral known_keys, known_deliveries;
  std::size_t known_count = 0;
  for (std::size_t r = 0; r < row_count; ++r) {
    if (answered[r]) continue;
    known_keys.AddText(jobs[order[rows[r]]].event_key);
    known_deliveries.AddInteger(static_cast<std::int64_t>(deliveries_of(r)));
    ++known_count;
  }
  Prepare(tx.conn(), kCountDeliveriesName, kCountDeliveriesSql);
  const pqxx::result counted =
      tx.exec_prepared(kCountDeliveriesName, known_keys.Finish(), known_deliveries.Finish());
  answer(counted, /*new_job=*/false);
  if (counted.size() != known_count) {
    // The key's job vanished between the two statements: only a prune of that finished job can
    // do that. The sender's retry will find the key gone and store the event as a new job.
    throw DatabaseError("insert jobs: " + std::to_string(known_count - counted.size()) +
                        " event keys have no job (pruned meanwhile); retry");
  }
  return inserted;
}

void RecordIgnoredEventsUnchecked(pqxx::transaction_base& tx,
                                  std::span<const IgnoredEvent> events) {
  if (events.empty()) return;
  ArrayLiteral broadcaster_ids, topics, raw_events;
  for (const auto& event : events) {
    if (event.broadcaster_id) {
      broadcaster_ids.AddInteger(*event.broadcaster_id);
    } else {
      broadcaster_ids.AddNull();
    }
    topics.AddText(event.topic);
    raw_events.AddText(event.raw_event);
  }
  Prepare(tx.conn(), kRecordIgnoredEventsName, kRecordIgnoredEventsSql);
  tx.exec_prepared(kRecordIgnoredEventsName, broadcaster_ids.Finish(), topics.Finish(),
                   raw_events.Finish());
}

// Stores the batch with one transaction (see StoreIntakeBatch), `keys` choosing the statement.
std::vector<InsertedJob> StoreIntakeBatchUnchecked(pqxx::connection_base& connection,
                                                   std::span<const NewJob> jobs,
                                                   std::span<const IgnoredEvent> ignored,
                                                   Keys keys) {
  bool wrote_jobs = false;
  if (jobs.empty() || ignored.empty()) {
    // One statement: autocommit makes it its own transaction, committed before the result
    // arrives, in one round trip instead of three (BEGIN, statement, COMMIT). (A batch with
    // deliveries of known events takes a second statement, which counts them.)
    // A connection lost during it leaves the outcome unknown, as a lost COMMIT would, and so
    // does any failure after the new jobs were committed.
    try {
      pqxx::nontransaction tx(connection);
      auto inserted = InsertJobsUnchecked(tx, jobs, keys, wrote_jobs);
      RecordIgnoredEventsUnchecked(tx, ignored);
      return inserted;
    } catch (const pqxx::broken_connection& e) {
      throw DatabaseError(std::string("store intake batch: outcome unknown: ") + e.what(),
                          /*in_doubt=*/true);
    } catch (const std::exception& e) {
      if (!wrote_jobs) throw;
      throw DatabaseError(
          std::string("store intake batch: new jobs stored, deliveries not counted: ") +
              e.what(),
          /*in_doubt=*/true);
    }
  }
  pqxx::work tx(connection);
  auto inserted = InsertJobsUnchecked(tx, jobs, keys, wrote_jobs);
  RecordIgnoredEventsUnchecked(tx, ignored);
  tx.commit();
  return inserted;
}

}  // namespace

// Inside the caller's transaction a failed statement would abort it, so this takes any key at
// once.
std::vector<InsertedJob> InsertJobs(pqxx::transaction_base& tx, std::span<const NewJob> jobs) {
  bool wrote_jobs = false;
  return Translate("insert jobs",
                   [&] { return InsertJobsUnchecked(tx, jobs, Keys::kAny, wrote_jobs); });
}

void RecordIgnoredEvents(pqxx::transaction_base& tx, std::span<const IgnoredEvent> events) {
  Translate("record ignored events", [&] { RecordIgnoredEventsUnchecked(tx, events); });
}

std::vector<InsertedJob> StoreIntakeBatch(pqxx::connection_base& connection,
                                          std::span<const NewJob> jobs,
                                          std::span<const IgnoredEvent> ignored) {
  return Translate("store intake batch", [&] {
    try {
      return StoreIntakeBatchUnchecked(connection, jobs, ignored, Keys::kAllNew);
    } catch (const pqxx::unique_violation&) {
      // A key of the batch has a job: a resend, or a delivery that a concurrent batch stored
      // first. The failed statement rolled its transaction back, so nothing of the batch is
      // stored yet; store it again with the statement that counts such deliveries.
      return StoreIntakeBatchUnchecked(connection, jobs, ignored, Keys::kAny);
    }
  });
}

std::vector<InsertedJob> InsertJobs(pqxx::connection_base& connection,
                                    std::span<const NewJob> jobs) {
  return StoreIntakeBatch(connection, jobs, {});
}

std::int64_t AddJobPartitions(pqxx::connection_base& connection) {
  return Translate("add job partitions", [&] {
    pqxx::work tx(connection);
    const auto bound = tx.exec1("SELECT jobs_add_partitions()")[0].as<std::int64_t>();
    tx.commit();
    return bound;
  });
}

void Ping(pqxx::connection_base& connection) {
  Translate("ping", [&] {
    Prepare(connection, kPingName, kPingSql);
    pqxx::nontransaction tx(connection);
    tx.exec_prepared(kPingName);
  });
}

void SetStatementTimeout(pqxx::connection_base& connection, int milliseconds) {
  Translate("set statement timeout", [&] {
    connection.set_variable("statement_timeout", std::to_string(milliseconds));
  });
}

}  // namespace payorch::db
