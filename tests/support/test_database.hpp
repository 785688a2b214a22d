#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace payorch::testing {

// A fresh PostgreSQL database with every migration applied, dropped when the object dies.
// The server comes from PAYORCH_TEST_DATABASE_URL (scripts/test starts a throwaway cluster and
// sets it); without it the constructor fails the test with a message saying so, never skips.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // libpq URL of the fresh database, for the code under test and for child processes.
  const std::string& url() const { return url_; }
  // A new connection to it, for assertions.
  std::unique_ptr<pqxx::connection> Connect() const;

 private:
  std::string server_url_;  // the server's maintenance database, to create and drop ours
  std::string name_;
  std::string url_;
};

// The URL of `database` on the server named by PAYORCH_TEST_DATABASE_URL.
std::string TestServerUrlFor(const std::string& database);

// The lines of an EXPLAIN's result joined, for EXPECTs on which index a statement uses.
std::string PlanText(const pqxx::result& plan);

// jobs is partitioned by ranges of ids (migration 0013), and each partition has its own copy of
// each index of jobs, named after the partition: jobs_due_idx of jobs_from_1 is
// jobs_from_1_due_idx. Whether `plan` reads `jobs_index` (a name like jobs_due_idx) in any
// partition.
bool PlanReadsJobsIndex(const std::string& plan, const std::string& jobs_index);

// The names of jobs' partitions in name order, separated by spaces ("jobs_from_1 jobs_from_...").
std::string JobsPartitionNames(pqxx::transaction_base& tx);

// The partition of jobs that a fresh database's jobs go to (its only one, jobs_from_1), for
// storage settings, sizes and index pages, which belong to partitions. Fails the test if the
// database has more partitions.
std::string FreshJobsPartition(pqxx::transaction_base& tx);

// Inserts `count` finished (succeeded) jobs of about 1,020 bytes each, keys 'old|1'..'old|N',
// written as one statement: a stand-in for a history of finished jobs (migrations 0011, 0012).
void InsertFinishedJobs(pqxx::transaction_base& tx, int count);

}  // namespace payorch::testing
