#include "db/job_intake.hpp"

#include <algorithm>
#include <map>
#include <string_view>

#include <boost/json.hpp>

#include "db/database.hpp"

namespace payorch::db {

namespace {

// A batch travels as one jsonb parameter (an array of row objects) unpacked by
// jsonb_to_recordset: one prepared statement serves every batch size, and no value is ever
// spliced into SQL text. `ord` keeps the event-key order chosen by the caller, so concurrent
// batches lock conflicting rows in the same order.
constexpr const char* kInsertJobsName = "payorch_insert_jobs";
constexpr const char* kInsertJobsSql = R"sql(
INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id,
                  payment_gateway, payment_method_id, dunning_attempt_date, raw_event,
                  deliveries)
SELECT r.event_key, r.idempotency_key, r.broadcaster_id, r.topic, r.subscription_id,
       r.payment_gateway, r.payment_method_id, r.dunning_attempt_date, r.raw_event,
       r.deliveries
FROM jsonb_to_recordset($1::jsonb) AS r(
       ord bigint, event_key text, idempotency_key text, broadcaster_id bigint, topic text,
       subscription_id text, payment_gateway text, payment_method_id text,
       dunning_attempt_date timestamptz, raw_event text, deliveries integer)
ORDER BY r.ord
ON CONFLICT (event_key) DO UPDATE
  SET deliveries = jobs.deliveries + EXCLUDED.deliveries,
      last_delivery_at = now()
RETURNING event_key, id, (xmax = 0) AS inserted)sql";

constexpr const char* kRecordIgnoredEventsName = "payorch_record_ignored_events";
constexpr const char* kRecordIgnoredEventsSql = R"sql(
INSERT INTO ignored_events (broadcaster_id, topic, raw_event)
SELECT r.broadcaster_id, r.topic, r.raw_event
FROM jsonb_to_recordset($1::jsonb) AS r(broadcaster_id bigint, topic text, raw_event text))sql";

constexpr const char* kPingName = "payorch_ping";
constexpr const char* kPingSql = "SELECT 1";

boost::json::value TextOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  return boost::json::string(text);
}

// `prepare` registers the statement with the connection (the server sees it on first use);
// registering the same name with the same text again is a no-op in libpqxx 6.
void Prepare(pqxx::connection_base& connection, const char* name, const char* sql) {
  connection.prepare(name, sql);
}

std::vector<InsertedJob> InsertJobsUnchecked(pqxx::transaction_base& tx,
                                             std::span<const NewJob> jobs) {
  if (jobs.empty()) return {};
  // Merge entries with the same key: one row per key, carrying how many deliveries it stands for.
  std::map<std::string_view, std::vector<std::size_t>> by_key;
  for (std::size_t i = 0; i < jobs.size(); ++i) by_key[jobs[i].event_key].push_back(i);

  boost::json::array rows;
  rows.reserve(by_key.size());
  std::int64_t ord = 0;
  for (const auto& [key, indexes] : by_key) {  // std::map: event-key order
    const NewJob& job = jobs[indexes.front()];
    boost::json::object row;
    row["ord"] = ord++;
    row["event_key"] = job.event_key;
    row["idempotency_key"] = job.idempotency_key;
    row["broadcaster_id"] = job.broadcaster_id;
    row["topic"] = job.topic;
    row["subscription_id"] = job.subscription_id;
    row["payment_gateway"] = TextOrNull(job.payment_gateway);
    row["payment_method_id"] = TextOrNull(job.payment_method_id);
    row["dunning_attempt_date"] = TextOrNull(job.dunning_attempt_date);
    row["raw_event"] = job.raw_event;
    row["deliveries"] = static_cast<std::int64_t>(indexes.size());
    rows.emplace_back(std::move(row));
  }

  Prepare(tx.conn(), kInsertJobsName, kInsertJobsSql);
  const pqxx::result result = tx.exec_prepared(kInsertJobsName, boost::json::serialize(rows));
  if (result.size() != by_key.size()) {
    throw DatabaseError("insert jobs: expected " + std::to_string(by_key.size()) +
                        " rows back, got " + std::to_string(result.size()));
  }

  std::vector<InsertedJob> inserted(jobs.size());
  for (const auto& row : result) {
    const auto key = row[0].as<std::string>();
    const auto it = by_key.find(key);
    if (it == by_key.end()) throw DatabaseError("insert jobs: unexpected event key returned");
    const auto job_id = row[1].as<std::int64_t>();
    const bool new_row = row[2].as<bool>();
    bool first = true;
    for (std::size_t index : it->second) {
      inserted[index] = InsertedJob{job_id, !(first && new_row)};
      first = false;
    }
  }
  return inserted;
}

void RecordIgnoredEventsUnchecked(pqxx::transaction_base& tx,
                                  std::span<const IgnoredEvent> events) {
  if (events.empty()) return;
  boost::json::array rows;
  rows.reserve(events.size());
  for (const auto& event : events) {
    boost::json::object row;
    if (event.broadcaster_id) {
      row["broadcaster_id"] = *event.broadcaster_id;
    } else {
      row["broadcaster_id"] = nullptr;
    }
    row["topic"] = event.topic;
    row["raw_event"] = event.raw_event;
    rows.emplace_back(std::move(row));
  }
  Prepare(tx.conn(), kRecordIgnoredEventsName, kRecordIgnoredEventsSql);
  tx.exec_prepared(kRecordIgnoredEventsName, boost::json::serialize(rows));
}

}  // namespace

std::vector<InsertedJob> InsertJobs(pqxx::transaction_base& tx, std::span<const NewJob> jobs) {
  return Translate("insert jobs", [&] { return InsertJobsUnchecked(tx, jobs); });
}

void RecordIgnoredEvents(pqxx::transaction_base& tx, std::span<const IgnoredEvent> events) {
  Translate("record ignored events", [&] { RecordIgnoredEventsUnchecked(tx, events); });
}

std::vector<InsertedJob> StoreIntakeBatch(pqxx::connection_base& connection,
                                          std::span<const NewJob> jobs,
                                          std::span<const IgnoredEvent> ignored) {
  return Translate("store intake batch", [&] {
    pqxx::work tx(connection);
    auto inserted = InsertJobsUnchecked(tx, jobs);
    RecordIgnoredEventsUnchecked(tx, ignored);
    tx.commit();
    return inserted;
  });
}

std::vector<InsertedJob> InsertJobs(pqxx::connection_base& connection,
                                    std::span<const NewJob> jobs) {
  return StoreIntakeBatch(connection, jobs, {});
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
