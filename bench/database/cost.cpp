// payorch-bench-database-cost: what PostgreSQL alone spends per webhook and per job on payorch's
// hot statements, with nothing else running: no HTTP, no gRPC, no worker threads, one connection,
// one statement at a time.
//
// The end-to-end benchmarks (bench/ingress, bench/worker) measure the whole system on two shared
// cores, where every process takes CPU from the others. This tool answers the question they
// cannot: how much of the budget the database's own work takes. It runs the exact statements the
// services run (db::StoreIntakeBatch, db::ClaimDueJobs, db::RecordAttempts) and reads the CPU
// time of its own backend process from /proc (the database must run on this machine).
//
//   1. intake: stores --jobs distinct webhooks, shaped like bench/ingress/webhooks.lua's, in
//      group-commit batches of --intake-batch (what the ingress does under load);
//   2. queue: claims them --claim-batch at a time and records each as approved (what the worker
//      does with an adapter that answers at once), until none is left.
//
// It prints one line per phase: rows/s of the serial loop, and the backend's CPU microseconds per
// webhook or job (user + system). Use a fresh database (bench/database/run makes one), or one
// with a history to see what the history costs the database alone.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "db/job_intake.hpp"
#include "db/job_queue.hpp"
#include "services/core/event.hpp"
#include "services/ingress/request_handler.hpp"

namespace {

using payorch::db::AttemptToRecord;
using payorch::db::JobTransition;
using payorch::db::NewJob;
using Clock = std::chrono::steady_clock;

// CPU seconds (user + system) process `pid` has used, from /proc/PID/stat fields 14 and 15.
double ProcessCpuSeconds(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos) {
    throw std::runtime_error("cannot read /proc/" + std::to_string(pid) +
                             "/stat: is the database on this machine?");
  }
  std::istringstream fields(stat.substr(name_end + 2));
  std::string field;
  long long user_ticks = 0;
  long long system_ticks = 0;
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    if (number == 14) user_ticks = std::stoll(field);
    if (number == 15) system_ticks = std::stoll(field);
  }
  return static_cast<double>(user_ticks + system_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Wall and backend CPU time of one phase.
class PhaseMeter {
 public:
  explicit PhaseMeter(int backend_pid) : backend_pid_(backend_pid) {}
  void Start() {
    wall_start_ = Clock::now();
    cpu_start_ = ProcessCpuSeconds(backend_pid_);
  }
  void Stop() {
    wall_seconds_ += std::chrono::duration<double>(Clock::now() - wall_start_).count();
    cpu_seconds_ += ProcessCpuSeconds(backend_pid_) - cpu_start_;
  }
  void Print(const char* phase, long long rows, const char* unit) const {
    std::printf("RESULT phase=%s %s=%lld rows_per_s=%.0f backend_cpu_us_per_row=%.1f\n", phase,
                unit, rows, rows > 0 ? static_cast<double>(rows) / wall_seconds_ : 0.0,
                rows > 0 ? cpu_seconds_ * 1e6 / static_cast<double>(rows) : 0.0);
  }

 private:
  int backend_pid_;
  Clock::time_point wall_start_;
  double cpu_start_ = 0;
  double wall_seconds_ = 0;
  double cpu_seconds_ = 0;
};

// Webhook number `n` of this run, as bench/ingress/webhooks.lua makes them: authorisations and
// captures alternately, for the 3,000,000 subscriptions bench/history seeds (so that with a
// history the new keys land among the old ones), distinct by their dunning date.
std::string Webhook(long long n, std::time_t run_base) {
  static const char* const kTopics[] = {"subscriptionReadyForPaymentAuthorisation",
                                        "subscriptionReadyForPaymentCapture"};
  static const char* const kGateways[] = {"adyen", "stripe", "checkout"};
  const long long subscription = 100000000 + (1000003 + n * 7919) % 3000000;
  const std::time_t dunning = run_base + static_cast<std::time_t>(n) * 16;
  std::tm utc{};
  gmtime_r(&dunning, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  char body[1024];
  std::snprintf(body, sizeof body,
                R"({"broadcasterId":123456789,"topic":"%s","data":{"subscriptionId":"%lld",)"
                R"("offerId":"S531234647_US","customerId":%lld,"customerEmail":"user%lld@example.com",)"
                R"("paymentDetailsId":%lld,"paymentMethodId":123123123,"paymentGateway":"%s",)"
                R"("dunningAttemptDate":"%s","dunningStatus":"pending","currency":"USD",)"
                R"("paymentCountry":"US","token":"tok_%lld"}})",
                kTopics[n % 2], subscription, 900000000 + n, n, 700000 + n, kGateways[n % 3], date,
                n);
  return body;
}

// What the ingress stores for the webhook.
NewJob ToNewJob(const std::string& body) {
  auto parsed = payorch::core::ParseWebhook(body);
  if (!parsed.ok()) throw std::runtime_error("generated webhook rejected: " + parsed.error().message);
  return payorch::ingress::ToNewJob(parsed.value(), body);
}

// An approved Authorize, as the worker records it.
AttemptToRecord ApprovedAttempt(const payorch::db::ClaimedJob& job) {
  const auto now = std::chrono::system_clock::now();
  AttemptToRecord record;
  record.attempt.job_id = job.id;
  record.attempt.fence = job.fence;
  record.attempt.attempt = job.attempt;
  record.attempt.worker_id = "bench-database-cost";
  record.attempt.adapter = "sandbox";
  record.attempt.rpc = "Authorize";
  record.attempt.request_summary = "subscription_id=" + job.subscription_id;
  record.attempt.started_at = now;
  record.attempt.finished_at = now;
  record.attempt.grpc_status = "OK";
  record.attempt.gateway_status = "APPROVED";
  record.attempt.gateway_reference = "sbx_" + std::to_string(job.id);
  record.attempt.decision = "succeeded";
  record.transition.kind = JobTransition::Kind::kSucceeded;
  record.transition.outcome = "approved";
  record.transition.gateway_reference = record.attempt.gateway_reference;
  return record;
}

}  // namespace

int main(int argc, char** argv) {
  std::string database_url;
  long long jobs = 50000;
  int intake_batch = 64;
  int claim_batch = 256;
  int lease_ms = 30000;
  CLI::App app{"payorch-bench-database-cost: PostgreSQL's CPU per webhook and per job, alone"};
  app.add_option("--database-url", database_url, "a migrated database on this machine")
      ->required();
  app.add_option("--jobs", jobs, "webhooks to store, then jobs to run")
      ->check(CLI::Range(1LL, 1000000LL));
  app.add_option("--intake-batch", intake_batch, "webhooks per intake transaction")
      ->check(CLI::Range(1, 4096));
  app.add_option("--claim-batch", claim_batch, "jobs per claim (and per record)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--lease-ms", lease_ms, "the claims' lease (bench/worker/run uses 30000)")
      ->check(CLI::Range(1, 3600000));
  CLI11_PARSE(app, argc, argv);

  try {
    pqxx::connection connection(database_url);
    payorch::db::UseGenericPlans(connection);  // as the worker's sessions (services/worker)
    payorch::db::PrepareJobQueueStatements(connection);
    const int backend_pid =
        pqxx::nontransaction(connection).exec1("SELECT pg_backend_pid()")[0].as<int>();
    // Dates unique to this run (several runs share a database with a history).
    const std::time_t run_base = 1830297600 + (std::time(nullptr) % 100000) * 10000;

    PhaseMeter intake(backend_pid);
    long long stored = 0;
    for (long long first = 0; first < jobs; first += intake_batch) {
      std::vector<NewJob> batch;
      for (long long n = first; n < std::min(jobs, first + intake_batch); ++n) {
        batch.push_back(ToNewJob(Webhook(n, run_base)));
      }
      intake.Start();
      const auto inserted = payorch::db::StoreIntakeBatch(connection, batch, {});
      intake.Stop();
      for (const auto& job : inserted) stored += job.duplicate ? 0 : 1;
    }
    intake.Print("intake", stored, "webhooks");

    PhaseMeter claim(backend_pid);
    PhaseMeter record(backend_pid);
    long long claimed = 0;
    long long recorded = 0;
    // Bounded: every pass claims at least one job or ends the loop. Besides this run's `stored`
    // jobs it claims whatever else is due (a benchmark database may hold leftovers): up to
    // kMaxOtherJobs more.
    constexpr long long kMaxOtherJobs = 1000000;
    for (long long pass = 0; pass <= (stored + kMaxOtherJobs) / claim_batch + 1; ++pass) {
      claim.Start();
      const auto due = payorch::db::ClaimDueJobs(connection, "bench-database-cost",
                                                 std::chrono::milliseconds(lease_ms), claim_batch);
      claim.Stop();
      if (due.empty()) break;
      claimed += static_cast<long long>(due.size());
      std::vector<AttemptToRecord> attempts;
      attempts.reserve(due.size());
      for (const auto& job : due) attempts.push_back(ApprovedAttempt(job));
      record.Start();
      const auto done = payorch::db::RecordAttempts(connection, attempts);
      record.Stop();
      for (bool ok : done) recorded += ok ? 1 : 0;
    }
    claim.Print("claim", claimed, "jobs");
    record.Print("record", recorded, "jobs");
    if (recorded != claimed) {
      std::fprintf(stderr, "recorded %lld of %lld claimed jobs\n", recorded, claimed);
      return 1;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "payorch-bench-database-cost: %s\n", error.what());
    return 1;
  }
  return 0;
}
