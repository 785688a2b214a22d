#include "tests/support/test_database.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <regex>
#include <stdexcept>

#include <gtest/gtest.h>

#include "db/database.hpp"
#include "db/migrator.hpp"

namespace payorch::testing {

namespace {

std::string ServerUrl() {
  const char* url = std::getenv("PAYORCH_TEST_DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    // Never skip: a suite that silently runs nothing would look green. scripts/test sets it.
    throw std::runtime_error(
        "PAYORCH_TEST_DATABASE_URL is not set: run the tests through scripts/test, which starts "
        "a throwaway PostgreSQL");
  }
  return url;
}

}  // namespace

std::string TestServerUrlFor(const std::string& database) {
  // Replace the path of postgresql://user@host:port/db[?params] with `database`.
  const std::string server = ServerUrl();
  const auto scheme_end = server.find("://");
  const auto path_start = server.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  const auto query_start = server.find('?');
  std::string url = server.substr(0, path_start) + "/" + database;
  if (query_start != std::string::npos) url += server.substr(query_start);
  return url;
}

TestDatabase::TestDatabase() : server_url_(ServerUrl()) {
  static std::atomic<int> counter{0};
  name_ = "payorch_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  url_ = TestServerUrlFor(name_);
  {
    auto server = db::Connect(server_url_);
    pqxx::nontransaction tx(*server);
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_));
    tx.exec0("CREATE DATABASE " + tx.quote_name(name_));
  }
  auto connection = db::Connect(url_);
  db::Migrator(*connection).Migrate();
}

TestDatabase::~TestDatabase() {
  try {
    auto server = db::Connect(server_url_);
    pqxx::nontransaction tx(*server);
    // WITH (FORCE) ends connections a test left open (a killed child process's, say).
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "could not drop test database " << name_ << ": " << e.what();
  }
}

std::unique_ptr<pqxx::connection> TestDatabase::Connect() const { return db::Connect(url_); }

std::string PlanText(const pqxx::result& plan) {
  std::string text;
  for (const auto& row : plan) text += row[0].as<std::string>() + "\n";
  return text;
}

bool PlanReadsJobsIndex(const std::string& plan, const std::string& jobs_index) {
  const std::string prefix = "jobs";
  if (jobs_index.rfind(prefix, 0) != 0) throw std::invalid_argument(jobs_index + ": not of jobs");
  const std::regex partition_index("\\bjobs_(from_[0-9]+|before_partitioning)" +
                                   jobs_index.substr(prefix.size()) + "\\b");
  return std::regex_search(plan, partition_index);
}

std::string JobsPartitionNames(pqxx::transaction_base& tx) {
  return tx
      .exec1("SELECT coalesce(string_agg(relid::text, ' ' ORDER BY relid::text), '') "
             "FROM pg_partition_tree('jobs') WHERE isleaf")[0]
      .as<std::string>();
}

std::string FreshJobsPartition(pqxx::transaction_base& tx) {
  const auto leaves = tx.exec("SELECT relid::text FROM pg_partition_tree('jobs') WHERE isleaf");
  EXPECT_EQ(leaves.size(), 1u) << "a fresh database has one partition of jobs";
  if (leaves.empty()) throw std::runtime_error("jobs has no partition");
  return leaves[0][0].as<std::string>();
}

void InsertFinishedJobs(pqxx::transaction_base& tx, int count) {
  tx.exec_params0(
      "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
      "raw_event, state, attempts, fence, outcome, gateway_reference, finished_at) "
      "SELECT 'old|' || g, 'po1_old_' || g, 123, 'subscriptionReadyForPaymentAuthorisation', "
      "'sub-old-' || g, repeat('x', 800), 'succeeded', 1, 1, 'approved', 'psp_' || g, now() "
      "FROM generate_series(1, $1) AS g",
      count);
}

}  // namespace payorch::testing
