// The worker's fault test (issue 4): two real payorch-worker processes, the real sandbox adapter
// with a state file, and a PostgreSQL cluster of the test's own. While ~2,000 jobs of mixed
// behaviour run, the test kills a worker with SIGKILL again and again and restarts it, kills and
// restarts the adapter, and restarts PostgreSQL once. Then it asserts the promises: every job
// final; at most one effect per idempotency key and exactly one for every job that succeeded;
// no job with two successful attempts; every job's attempt history complete (1..attempts, no
// gap); jobs of one subscription never overlapping. Bounded: about a minute, two at most.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "db/migrator.hpp"
#include "sandbox_control.grpc.pb.h"
#include "tests/support/process.hpp"

namespace payorch::testing {
namespace {

using namespace std::chrono_literals;
namespace control = payorch::sandbox::v1;

constexpr int kWaves = 10;
constexpr int kJobsPerWave = 220;  // 2,200 jobs
constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

// Runs a shell command (the PostgreSQL tools), bounded by their own -t timeouts.
int Shell(const std::string& command) { return std::system(command.c_str()); }

// A private PostgreSQL cluster on a free port (as scripts/lib/pg.sh makes them). As root the
// cluster belongs to the `postgres` user, since initdb refuses to run as root.
class OwnCluster {
 public:
  OwnCluster() {
    char pattern[] = "/tmp/payorch-fault-pg-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    data_ = dir_ + "/data";
    port_ = FreeTcpPort();
    as_owner_ = ::geteuid() == 0 ? "runuser -u postgres -- " : "";
    if (::geteuid() == 0) Shell("chown postgres: " + dir_);
    const int initdb = Shell(as_owner_ + kPgBin + "/initdb -D " + data_ +
                             " -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 > " +
                             dir_ + "/initdb.log 2>&1");
    if (initdb != 0) throw std::runtime_error("initdb failed, see " + dir_ + "/initdb.log");
    Start();
  }
  ~OwnCluster() {
    Shell(as_owner_ + kPgBin + "/pg_ctl -D " + data_ + " -m immediate -w -t 30 stop >/dev/null 2>&1");
    std::filesystem::remove_all(dir_);
  }

  bool Start() {
    // fsync off: a test cluster; an immediate stop (a crash of PostgreSQL, not of the machine)
    // still loses nothing committed.
    return Shell(as_owner_ + kPgBin + "/pg_ctl -D " + data_ + " -l " + data_ +
                 "/server.log -w -t 30 start -o \"-p " + std::to_string(port_) + " -k " + data_ +
                 " -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off\" >/dev/null") == 0;
  }
  // Immediate: like a crash of the server; clients' connections break mid-transaction.
  bool Restart() {
    return Shell(as_owner_ + kPgBin + "/pg_ctl -D " + data_ +
                 " -m immediate -w -t 30 stop >/dev/null") == 0 &&
           Start();
  }
  std::string url() const { return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres"; }

 private:
  std::string dir_;
  std::string data_;
  std::string as_owner_;
  int port_ = 0;
};

std::string TokenFor(int i) {
  // approve, decline, transient failures, slow past the 500 ms deadline (effect at once), answer
  // lost after the effect, a slow-but-in-time call (to keep calls in flight when a worker dies).
  switch (i % 10) {
    case 0: case 1: case 2: return "approve";
    case 3: return "decline";
    case 4: case 5: return "unavailable:2";
    case 6: return "slow:900";
    case 7: return "lost";
    default: return "slow:150";
  }
}

// Pairs of jobs share a subscription (an authorisation, then its capture a day later), so the
// per-subscription order is exercised under the same faults.
void InsertWave(const std::string& url, int wave) {
  pqxx::connection connection(url);
  pqxx::work tx(connection);
  for (int n = 0; n < kJobsPerWave; ++n) {
    const int i = wave * kJobsPerWave + n;
    const std::string key = "fault-" + std::to_string(i);
    const std::string subscription = "fs-" + std::to_string(i / 2);
    const bool capture = i % 2 == 1;
    const std::string topic =
        capture ? "subscriptionReadyForPaymentCapture" : "subscriptionReadyForPaymentAuthorisation";
    const std::string date = capture ? "2024-01-02T00:00:00Z" : "2024-01-01T00:00:00Z";
    const std::string raw = R"({"broadcasterId": 7, "topic": ")" + topic +
                            R"(", "data": {"subscriptionId": ")" + subscription +
                            R"(", "offerId": "S1", "customerId": 1, "paymentDetailsId": 2, )"
                            R"("dunningAttemptDate": ")" + date + R"(", "currency": "EUR", "token": ")" +
                            TokenFor(i) + R"("}})";
    tx.exec_params(
        "INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, subscription_id, "
        "dunning_attempt_date, raw_event) VALUES ($1, $2, 7, $3, $4, $5::timestamptz, $6)",
        "fault|" + key, key, topic, subscription, date, raw);
  }
  tx.commit();
}

TEST(WorkerFault, KillsRestartsAndOutagesKeepEveryPromise) {
  OwnCluster cluster;
  {
    pqxx::connection connection(cluster.url());
    db::Migrator(connection).Migrate();
  }
  char pattern[] = "/tmp/payorch-fault-sandbox-XXXXXX";
  const std::string sandbox_dir = ::mkdtemp(pattern);
  const std::string state_file = sandbox_dir + "/effects.jsonl";
  const int sandbox_port = FreeTcpPort();
  auto start_sandbox = [&] {
    return std::make_unique<Process>(
        "payorch-sandbox-gateway",
        std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(sandbox_port),
                                 "--state-file", state_file, "--log-level", "warn"});
  };
  auto sandbox = start_sandbox();
  ASSERT_TRUE(WaitForTcpPort(sandbox_port, 20s)) << sandbox->Output();

  int worker_starts = 0;
  auto start_worker = [&](const std::string& name) {
    ++worker_starts;
    return std::make_unique<Process>(
        "payorch-worker",
        std::vector<std::string>{
            "--database-url", cluster.url(), "--adapter-address",
            "127.0.0.1:" + std::to_string(sandbox_port), "--adapter-deadline-ms", "500",
            "--lease-ms", "1500", "--max-attempts", "12", "--backoff-base-ms", "50",
            "--backoff-max-ms", "400", "--poll-interval-ms", "100", "--concurrency", "24",
            "--claim-batch", "24", "--breaker-failures", "30", "--breaker-probe-ms", "200",
            "--shutdown-timeout-ms", "3000", "--metrics-listen", "127.0.0.1:0",
            "--worker-id", name + "-" + std::to_string(worker_starts), "--log-level", "warn"});
  };
  std::unique_ptr<Process> workers[2] = {start_worker("a"), start_worker("b")};

  int kills = 0;
  int sandbox_restarts = 0;
  int postgres_restarts = 0;
  for (int step = 0; step < kWaves + 4; ++step) {
    if (step < kWaves) {
      // Inserting may meet the PostgreSQL restart: retry the wave (it is one transaction).
      bool inserted = false;
      for (int tries = 0; tries < 50 && !inserted; ++tries) {
        try {
          InsertWave(cluster.url(), step);
          inserted = true;
        } catch (const std::exception&) {
          std::this_thread::sleep_for(200ms);
        }
      }
      ASSERT_TRUE(inserted) << "wave " << step;
    }
    // Fault pacing, not synchronisation: let the wave get into flight before the next fault.
    std::this_thread::sleep_for(700ms);
    auto& victim = workers[step % 2];
    victim->Signal(SIGKILL);
    victim->Wait(10s);
    ++kills;
    victim = start_worker(step % 2 == 0 ? "a" : "b");
    if (step == 3 || step == 9) {
      sandbox->Signal(SIGKILL);
      sandbox->Wait(10s);
      std::this_thread::sleep_for(300ms);  // an outage, not just a reconnect
      sandbox = start_sandbox();
      ASSERT_TRUE(WaitForTcpPort(sandbox_port, 20s)) << sandbox->Output();
      ++sandbox_restarts;
    }
    if (step == 6) {
      ASSERT_TRUE(cluster.Restart());
      ++postgres_restarts;
    }
  }

  // Drain: every job final. Bounded; the workers' backoffs and leases are short.
  pqxx::connection connection(cluster.url());
  auto count = [&](const std::string& sql) {
    pqxx::nontransaction tx(connection);
    return tx.exec1(sql)[0].as<long long>();
  };
  const bool all_final = Eventually(
      [&] {
        return count("SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded', 'dead', "
                     "'cancelled')") == 0;
      },
      90s);
  // The last step restarted a worker moments ago. A SIGTERM before its main() blocks the signal
  // (while the loader maps its libraries) would kill it whatever the worker does, so give it
  // time to start: pacing, as above.
  std::this_thread::sleep_for(1s);
  for (auto& worker : workers) {
    worker->Signal(SIGTERM);
    EXPECT_EQ(worker->Wait(20s), std::optional<int>(0)) << worker->Output();
  }
  ASSERT_TRUE(all_final) << count("SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded', "
                                  "'dead', 'cancelled')")
                         << " jobs not final";

  const long long total = count("SELECT count(*) FROM jobs");
  ASSERT_EQ(total, kWaves * kJobsPerWave);

  // Effects as the adapter saw them.
  auto stub = control::SandboxControl::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(sandbox_port), grpc::InsecureChannelCredentials()));
  control::ListEffectsRequest request;
  request.set_limit(10000);
  control::ListEffectsResponse effects;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  ASSERT_TRUE(stub->ListEffects(&context, request, &effects).ok());
  ASSERT_FALSE(effects.truncated());
  std::map<std::string, long long> effects_by_key;
  long long over_one = 0;
  for (const auto& record : effects.records()) {
    effects_by_key[record.idempotency_key()] = record.effects();
    if (record.effects() > 1) ++over_one;
  }
  EXPECT_EQ(over_one, 0) << "keys with more than one effect";

  // Every succeeded job (approved or declined: both are effects) has exactly one effect.
  long long succeeded = 0;
  long long succeeded_without_one_effect = 0;
  long long dead_with_effect = 0;  // an effect the job's record does not show: must not happen

  std::map<std::string, long long> by_outcome;
  {
    pqxx::nontransaction tx(connection);
    for (const auto& row : tx.exec("SELECT idempotency_key, state, coalesce(outcome, '-') FROM jobs")) {
      const auto key = row[0].as<std::string>();
      const auto state = row[1].as<std::string>();
      ++by_outcome[state + "/" + row[2].as<std::string>()];
      if (state == "dead" && effects_by_key[key] > 0) ++dead_with_effect;
      if (state != "succeeded") continue;
      ++succeeded;
      if (effects_by_key[key] != 1) ++succeeded_without_one_effect;
    }
  }
  EXPECT_EQ(succeeded_without_one_effect, 0);
  EXPECT_EQ(dead_with_effect, 0);

  const long long two_successes = count(
      "SELECT count(*) FROM (SELECT job_id FROM job_attempts WHERE decision = 'succeeded' "
      "GROUP BY job_id HAVING count(*) > 1) x");
  EXPECT_EQ(two_successes, 0);
  // History complete: rows numbered exactly 1..attempts (attempt is unique per job).
  const long long incomplete = count(
      "SELECT count(*) FROM jobs j LEFT JOIN (SELECT job_id, count(*) AS n, min(attempt) AS lo, "
      "max(attempt) AS hi FROM job_attempts GROUP BY job_id) a ON a.job_id = j.id "
      "WHERE coalesce(a.n, 0) <> j.attempts OR (j.attempts > 0 AND (a.lo <> 1 OR a.hi <> j.attempts))");
  EXPECT_EQ(incomplete, 0);
  // A succeeded or dead job's last attempt says so.
  const long long final_without_row = count(
      "SELECT count(*) FROM jobs j WHERE j.state IN ('succeeded', 'dead') AND NOT EXISTS ("
      "SELECT 1 FROM job_attempts a WHERE a.job_id = j.id AND a.attempt = j.attempts AND "
      "a.decision = j.state)");
  EXPECT_EQ(final_without_row, 0);
  // Order: no attempt of a capture started before its authorisation's last attempt ended.
  const long long overlaps = count(
      "SELECT count(*) FROM jobs auth JOIN jobs cap ON cap.broadcaster_id = auth.broadcaster_id "
      "AND cap.subscription_id = auth.subscription_id AND cap.id > auth.id "
      "WHERE (SELECT min(started_at) FROM job_attempts WHERE job_id = cap.id) < "
      "(SELECT max(finished_at) FROM job_attempts WHERE job_id = auth.id)");
  EXPECT_EQ(overlaps, 0);
  const long long rescued = count("SELECT count(*) FROM job_attempts WHERE decision = 'lease_expired'");
  const long long in_doubt_attempts = count("SELECT count(*) FROM job_attempts WHERE decision = 'in_doubt'");
  const long long status_lookups = count("SELECT count(*) FROM job_attempts WHERE rpc = 'GetPaymentStatus'");
  const long long attempts = count("SELECT count(*) FROM job_attempts");

  std::cout << "[ fault   ] jobs=" << total << " succeeded=" << succeeded;
  for (const auto& [key, n] : by_outcome) std::cout << " " << key << "=" << n;
  std::cout << "\n[ fault   ] attempts=" << attempts << " lease_expired=" << rescued
            << " in_doubt=" << in_doubt_attempts << " status_lookups=" << status_lookups
            << " sandbox_keys=" << effects.total_keys() << " sandbox_effects="
            << effects.total_effects() << " keys_over_one_effect=" << over_one << " dead_with_effect=" << dead_with_effect
            << " two_successes=" << two_successes << " incomplete_histories=" << incomplete
            << " order_overlaps=" << overlaps << "\n[ fault   ] worker_kills=" << kills
            << " worker_starts=" << worker_starts << " sandbox_restarts=" << sandbox_restarts
            << " postgres_restarts=" << postgres_restarts << "\n";
  sandbox->Signal(SIGTERM);
  sandbox->Wait(10s);
  std::filesystem::remove_all(sandbox_dir);
}

}  // namespace
}  // namespace payorch::testing
