// JobWriter's batching against a real PostgreSQL, with two writer threads as the ingress runs
// them. A batch is held in flight by an uncommitted row of the test's own that holds one of the
// batch's event keys: the writer's insert waits on that row until the test rolls it back.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "db/job_intake.hpp"
#include "services/ingress/job_writer.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::ingress {
namespace {

db::NewJob Job(const std::string& key) {
  db::NewJob job;
  job.event_key = "writer-test|" + key;
  job.idempotency_key = "po1_" + key;
  job.broadcaster_id = 123;
  job.topic = "subscriptionReadyForPaymentCapture";
  job.subscription_id = "sub-" + key;
  job.raw_event = R"({"key":")" + key + "\"}";
  return job;
}

class JobWriterTest : public ::testing::Test {
 protected:
  JobWriterTest() {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { writer_.Run(); });
  }
  ~JobWriterTest() override {
    writer_.Stop();
    for (auto& thread : threads_) thread.join();
  }

  // Submits a job; the future holds its outcome.
  std::future<StoreOutcome> Submit(const std::string& key) {
    auto promise = std::make_shared<std::promise<StoreOutcome>>();
    auto future = promise->get_future();
    writer_.Submit(Job(key), [promise](StoreOutcome outcome) { promise->set_value(outcome); });
    return future;
  }

  // Opens a transaction that holds `key` uncommitted: a batch with that key waits on it.
  std::unique_ptr<pqxx::work> Hold(pqxx::connection& connection, const std::string& key) {
    auto tx = std::make_unique<pqxx::work>(connection);
    tx->exec_params("INSERT INTO job_event_keys (event_key, job_id) VALUES ($1, -1)",
                    "writer-test|" + key);
    return tx;
  }

  // Waits (bounded) until `n` writer statements wait on the test's held keys.
  void AwaitWaitingWriters(int n) {
    for (int i = 0; i < 500; ++i) {
      pqxx::nontransaction tx(*observer_);
      if (tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND query LIKE '%job_event_keys%'")[0]
              .as<int>() == n) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << n << " writers never waited on a held key";
  }

  // The transaction start of each stored job: one batch is one transaction.
  std::string BatchOf(std::int64_t job_id) {
    pqxx::nontransaction tx(*observer_);
    return tx.exec_params1("SELECT created_at::text FROM jobs WHERE id = $1", job_id)[0]
        .as<std::string>();
  }

  testing::TestDatabase database_;
  std::unique_ptr<pqxx::connection> observer_ = database_.Connect();
  JobWriter writer_{{.database_url = database_.url()}};
  std::vector<std::thread> threads_;
};

constexpr auto kStored = StoreOutcome::Kind::kStored;

// PostgreSQL spends about as much per statement and commit as on a dozen rows: while a batch is
// in flight, the other writer does not start one with fewer items than the last batch taken. It
// waits for more, or for the batch in flight to end, and then takes everything queued at once.
// With nothing in flight, nothing waits.
TEST_F(JobWriterTest, BesideABatchInFlightTheOtherWriterWaitsForAsManyItems) {
  auto held_a = database_.Connect();
  auto held_b = database_.Connect();
  auto held_c = database_.Connect();
  auto hold_a = Hold(*held_a, "a");
  auto hold_b = Hold(*held_b, "b");
  // Both writers stuck on one-item batches: everything submitted next queues.
  auto a = Submit("a");
  AwaitWaitingWriters(1);
  auto b = Submit("b");
  AwaitWaitingWriters(2);
  auto hold_c = Hold(*held_c, "c");
  std::vector<std::future<StoreOutcome>> big;
  big.push_back(Submit("c"));
  for (int i = 0; i < 9; ++i) big.push_back(Submit("big-" + std::to_string(i)));
  // Freeing "a" frees one writer, which takes the ten queued items and waits on "c": a batch of
  // ten in flight.
  hold_a->abort();
  ASSERT_EQ(a.get().kind, kStored);
  AwaitWaitingWriters(2);
  // Freeing "b" frees the other writer. Three items come: fewer than the ten in flight.
  hold_b->abort();
  ASSERT_EQ(b.get().kind, kStored);
  std::vector<std::future<StoreOutcome>> late;
  for (int i = 0; i < 3; ++i) late.push_back(Submit("late-" + std::to_string(i)));
  for (auto& item : late) {
    EXPECT_EQ(item.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
        << "a writer started a batch of " << late.size() << " beside a batch of 10 in flight";
  }
  // The batch in flight ends; the three are written then, together.
  hold_c->abort();
  std::vector<std::int64_t> big_ids;
  for (auto& item : big) {
    const auto outcome = item.get();
    ASSERT_EQ(outcome.kind, kStored);
    big_ids.push_back(outcome.job_id);
  }
  std::vector<std::string> late_batches;
  for (auto& item : late) {
    ASSERT_EQ(item.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const auto outcome = item.get();
    ASSERT_EQ(outcome.kind, kStored);
    late_batches.push_back(BatchOf(outcome.job_id));
  }
  for (const auto id : big_ids) EXPECT_EQ(BatchOf(id), BatchOf(big_ids.front()));
  EXPECT_EQ(late_batches[1], late_batches[0]);
  EXPECT_EQ(late_batches[2], late_batches[0]);
  EXPECT_NE(late_batches[0], BatchOf(big_ids.front()));
  // With no batch in flight nothing waits: a lone item goes at once, though the last batch had 3.
  auto lone = Submit("lone");
  ASSERT_EQ(lone.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(lone.get().kind, kStored);
}

}  // namespace
}  // namespace payorch::ingress
