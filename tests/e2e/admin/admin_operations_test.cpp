// The real payorch-admin binary against a real PostgreSQL for every command added for on-call
// work: every jobs list filter and paging, jobs show by id / event key / subscription, replay
// and cancel with their audit rows, dry runs, concurrent replays by two processes, stats, adapter
// check against the real sandbox adapter, and a replayed job finished by a real worker.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "db/job_intake.hpp"
#include "services/core/event.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace payorch::testing {
namespace {

namespace json = boost::json;

constexpr const char* kAdmin = "payorch-admin";
constexpr const char* kAuthorisation = "subscriptionReadyForPaymentAuthorisation";
constexpr const char* kCapture = "subscriptionReadyForPaymentCapture";
constexpr const char* kRawEvent =
    R"({"broadcasterId":1,"topic":"t","data":{"token":"tok_secret","customerEmail":"a@b.c"}})";

class AdminOperations : public ::testing::Test {
 protected:
  AdminOperations() : connection_(database_.Connect()) {}

  struct JobSpec {
    std::string key{};
    std::string state = "dead";
    std::string topic = kAuthorisation;
    std::int64_t broadcaster = 1;
    std::string subscription = "sub-1";
    std::string created_at = "2026-01-01 10:00:00Z";
    std::string finished_at{};  // empty: now() for final states
    std::string outcome{};      // succeeded only
    std::string last_error{};
    std::vector<std::string> adapters{};  // one attempt per adapter
  };

  // Inserts a job with plain SQL, consistent with the schema's checks. Returns its id.
  std::int64_t Insert(const JobSpec& spec) {
    pqxx::work tx(*connection_);
    const bool final_state =
        spec.state == "succeeded" || spec.state == "dead" || spec.state == "cancelled";
    const auto id =
        tx.exec_params1(
              "WITH job AS ("
              "  INSERT INTO jobs (event_key, idempotency_key, broadcaster_id, topic, "
              "    subscription_id, raw_event, state, created_at, finished_at, locked_by, "
              "    locked_until, outcome, last_error, attempts) "
              "  VALUES ($1, 'po1_' || $1, $2, $3, $4, $5, $6, $7::timestamptz, "
              "    CASE WHEN $8 THEN COALESCE(NULLIF($9, '')::timestamptz, now()) END, "
              "    CASE WHEN $6 = 'running' THEN 'worker-1' END, "
              "    CASE WHEN $6 = 'running' THEN now() + interval '30 s' END, "
              "    NULLIF($10, ''), NULLIF($11, ''), $12) RETURNING id, event_key), "
              "key AS (INSERT INTO job_event_keys (event_key, job_id) "
              "        SELECT event_key, id FROM job) "
              "SELECT id FROM job",
              spec.key, spec.broadcaster, spec.topic, spec.subscription, kRawEvent, spec.state,
              spec.created_at, final_state, spec.finished_at, spec.outcome, spec.last_error,
              static_cast<int>(spec.adapters.size()))[0]
            .as<std::int64_t>();
    int attempt = 0;
    for (const auto& adapter : spec.adapters) {
      ++attempt;
      tx.exec_params0(
          "INSERT INTO job_attempts (job_id, attempt, fence, worker_id, adapter, rpc, "
          "  started_at, finished_at, grpc_status, decision) "
          "VALUES ($1, $2::int, $2::int, 'worker-1', $3, 'Authorize', now(), now(), 'UNAVAILABLE', "
          "  'retry')",
          id, attempt, adapter);
    }
    tx.commit();
    return id;
  }

  CommandResult Admin(std::vector<std::string> args) {
    args.push_back("--database-url");
    args.push_back(database_.url());
    return RunCommand(kAdmin, args);
  }

  // The ids of `jobs list ARGS --json`, in output order; the cursor in *cursor.
  std::vector<std::int64_t> Listed(std::vector<std::string> args, std::string* cursor = nullptr) {
    args.insert(args.begin(), {"jobs", "list", "--json"});
    const auto run = Admin(args);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    std::vector<std::int64_t> ids;
    if (run.exit_code != 0) return ids;
    const auto document = json::parse(run.stdout_text).as_object();
    for (const auto& job : document.at("jobs").as_array()) ids.push_back(job.at("id").as_int64());
    if (cursor) {
      const auto& next = document.at("next_cursor");
      *cursor = next.is_null() ? "" : std::string(next.as_string());
    }
    return ids;
  }

  std::string Scalar(const std::string& sql) {
    pqxx::nontransaction tx(*connection_);
    const auto field = tx.exec1(sql)[0];
    return field.is_null() ? "NULL" : field.as<std::string>();
  }

  TestDatabase database_;
  std::unique_ptr<pqxx::connection> connection_;
};

using Ids = std::vector<std::int64_t>;

TEST_F(AdminOperations, EveryListFilterSelectsWhatItSays) {
  const auto j1 = Insert({.key = "j1",
                          .state = "dead",
                          .topic = kAuthorisation,
                          .broadcaster = 1,
                          .subscription = "s1",
                          .created_at = "2026-01-01 10:00:00Z",
                          .finished_at = "2026-01-01 11:00:00Z",
                          .last_error = "UNAVAILABLE: connection refused",
                          .adapters = {"sandbox", "sandbox"}});
  const auto j2 = Insert({.key = "j2",
                          .state = "succeeded",
                          .topic = kCapture,
                          .broadcaster = 2,
                          .subscription = "s2",
                          .created_at = "2026-01-02 10:00:00Z",
                          .finished_at = "2026-01-02 12:00:00Z",
                          .outcome = "approved",
                          .adapters = {"stripe"}});
  const auto j3 = Insert({.key = "j3",
                          .state = "succeeded",
                          .topic = kAuthorisation,
                          .broadcaster = 1,
                          .subscription = "s2",
                          .created_at = "2026-01-03 10:00:00Z",
                          .finished_at = "2026-01-03 12:00:00Z",
                          .outcome = "declined",
                          .adapters = {"sandbox", "stripe"}});
  const auto j4 = Insert({.key = "j4",
                          .state = "queued",
                          .topic = kCapture,
                          .broadcaster = 2,
                          .subscription = "s4",
                          .created_at = "now"});

  EXPECT_EQ(Listed({}), (Ids{j4, j3, j2, j1}));
  EXPECT_EQ(Listed({"--state", "succeeded"}), (Ids{j3, j2}));
  EXPECT_EQ(Listed({"--state", "dead,queued"}), (Ids{j4, j1}));
  EXPECT_EQ(Listed({"--topic", kAuthorisation}), (Ids{j3, j1}));
  EXPECT_EQ(Listed({"--adapter", "sandbox"}), (Ids{j3, j1}));
  EXPECT_EQ(Listed({"--adapter", "stripe"}), (Ids{j3, j2}));
  EXPECT_EQ(Listed({"--adapter", "none"}), Ids{});
  EXPECT_EQ(Listed({"--broadcaster", "2"}), (Ids{j4, j2}));
  EXPECT_EQ(Listed({"--subscription", "s2"}), (Ids{j3, j2}));
  EXPECT_EQ(Listed({"--outcome", "declined"}), (Ids{j3}));
  EXPECT_EQ(Listed({"--outcome", "approved"}), (Ids{j2}));
  EXPECT_EQ(Listed({"--error", "CONNECTION"}), (Ids{j1}));
  EXPECT_EQ(Listed({"--error", "unavail%refused"}), (Ids{j1}));
  EXPECT_EQ(Listed({"--error", "timeout"}), Ids{});
  EXPECT_EQ(Listed({"--since", "2026-01-02"}), (Ids{j4, j3, j2}));
  EXPECT_EQ(Listed({"--until", "2026-01-02T10:00:00Z"}), (Ids{j1}));
  EXPECT_EQ(Listed({"--since", "2026-01-02", "--until", "2026-01-03"}), (Ids{j2}));
  EXPECT_EQ(Listed({"--since", "2h"}), (Ids{j4}));
  EXPECT_EQ(Listed({"--since", "2026-01-02T11:00:00+01:00"}), (Ids{j4, j3, j2}));
  EXPECT_EQ(Listed({"--finished-since", "2026-01-02"}), (Ids{j3, j2}));
  EXPECT_EQ(Listed({"--finished-until", "2026-01-02T00:00Z"}), (Ids{j1}));
  EXPECT_EQ(Listed({"--finished-since", "1h"}), Ids{});
  EXPECT_EQ(Listed({"--state", "succeeded", "--topic", kAuthorisation, "--adapter", "stripe",
                    "--broadcaster", "1", "--subscription", "s2", "--outcome", "declined"}),
            (Ids{j3}));
}

TEST_F(AdminOperations, PagingIsStableWhileJobsArrive) {
  Ids ids;
  for (int i = 1; i <= 5; ++i) {
    ids.push_back(Insert({.key = "p" + std::to_string(i),
                          .created_at = "2026-01-0" + std::to_string(i) + " 10:00:00Z"}));
  }
  std::string cursor;
  EXPECT_EQ(Listed({"--limit", "2"}, &cursor), (Ids{ids[4], ids[3]}));
  ASSERT_EQ(cursor, std::to_string(ids[3]));
  // A newer job arriving between pages does not shift the next page.
  Insert({.key = "newer", .created_at = "2026-02-01 10:00:00Z"});
  EXPECT_EQ(Listed({"--limit", "2", "--cursor", cursor}, &cursor), (Ids{ids[2], ids[1]}));
  EXPECT_EQ(Listed({"--limit", "2", "--cursor", cursor}, &cursor), (Ids{ids[0]}));
  EXPECT_EQ(cursor, "");
  // --before-id is the same page by its documented name; an exact last page has no cursor.
  EXPECT_EQ(Listed({"--limit", "3", "--before-id", std::to_string(ids[3])}, &cursor),
            (Ids{ids[2], ids[1], ids[0]}));
  EXPECT_EQ(cursor, "");

  const auto table = Admin({"jobs", "list", "--limit", "2"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.stdout_text.find("next page: --cursor "), std::string::npos) << table.stdout_text;
}

TEST_F(AdminOperations, ShowByEventKeyAndBySubscription) {
  const auto a = Insert({.key = "ka", .subscription = "s9", .adapters = {"sandbox"}});
  const auto b = Insert({.key = "kb", .subscription = "s9", .created_at = "2026-01-02 10:00Z"});
  Insert({.key = "kc", .subscription = "other"});

  const auto by_key = Admin({"jobs", "show", "--event-key", "ka", "--json"});
  ASSERT_EQ(by_key.exit_code, 0) << by_key.output;
  const auto shown = json::parse(by_key.stdout_text).as_object();
  EXPECT_EQ(shown.at("job").at("id").as_int64(), a);
  EXPECT_EQ(shown.at("attempts").as_array().size(), 1u);
  EXPECT_EQ(shown.at("job").at("deliveries"), 1);
  EXPECT_TRUE(shown.at("job").at("last_delivery_at").is_string());
  EXPECT_EQ(by_key.stdout_text.find("tok_secret"), std::string::npos);
  EXPECT_EQ(by_key.stdout_text.find("a@b.c"), std::string::npos);

  const auto by_subscription = Admin({"jobs", "show", "--subscription", "s9", "--json"});
  ASSERT_EQ(by_subscription.exit_code, 0) << by_subscription.output;
  Ids ids;
  const auto listing = json::parse(by_subscription.stdout_text);
  for (const auto& job : listing.at("jobs").as_array()) {
    ids.push_back(job.at("id").as_int64());
  }
  EXPECT_EQ(ids, (Ids{b, a}));

  const auto table = Admin({"jobs", "show", "--event-key", "ka"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.stdout_text.find("audit (0):\nno operator actions\n"), std::string::npos)
      << table.stdout_text;

  const auto unknown_key = Admin({"jobs", "show", "--event-key", "nope"});
  EXPECT_EQ(unknown_key.exit_code, 1);
  EXPECT_EQ(unknown_key.output, "payorch-admin: no job with event key nope\n");
  EXPECT_EQ(Admin({"jobs", "show", "--subscription", "nope"}).exit_code, 1);
  EXPECT_EQ(Admin({"jobs", "show", "999999"}).exit_code, 1);
}

TEST_F(AdminOperations, ReplayQueuesADeadJobKeepingKeyAndHistoryWithItsAuditRow) {
  const auto id = Insert({.key = "r1",
                          .state = "dead",
                          .last_error = "gave up after 2 attempts",
                          .adapters = {"sandbox", "sandbox"}});
  const auto replay = Admin({"jobs", "replay", std::to_string(id), "--reason", "adapter fixed",
                             "--actor", "alice", "--json"});
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  const auto result = json::parse(replay.stdout_text).as_object();
  EXPECT_EQ(result.size(), 9u);
  EXPECT_EQ(result.at("action"), "replay");
  EXPECT_EQ(result.at("dry_run"), false);
  EXPECT_TRUE(result.at("operation_id").is_int64());
  EXPECT_EQ(result.at("actor"), "alice");
  EXPECT_EQ(result.at("changed"), 1);
  EXPECT_EQ(result.at("skipped"), 0);
  EXPECT_EQ(result.at("not_found"), 0);
  ASSERT_EQ(result.at("jobs").as_array().size(), 1u);
  EXPECT_EQ(result.at("jobs").as_array()[0],
            (json::object{{"id", id}, {"result", "replayed"}, {"state", "dead"}}));

  EXPECT_EQ(Scalar("SELECT state || ' ' || attempts || ' ' || attempts_at_replay || ' ' || "
                   "(finished_at IS NULL)::text || ' ' || (last_error IS NULL)::text || ' ' || "
                   "(run_after <= now())::text || ' ' || idempotency_key FROM jobs WHERE id = " +
                   std::to_string(id)),
            "queued 2 2 true true true po1_r1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_attempts WHERE job_id = " + std::to_string(id)), "2");
  EXPECT_EQ(Scalar("SELECT actor || '|' || reason || '|' || action || '|' || previous_state || "
                   "'|' || new_state || '|' || previous_attempts || '|' || previous_last_error || "
                   "'|' || operation_id FROM job_audit WHERE job_id = " +
                   std::to_string(id)),
            "alice|adapter fixed|replay|dead|queued|2|gave up after 2 attempts|" +
                std::to_string(result.at("operation_id").as_int64()));

  // The second identical replay is a no-op: the job is no longer dead.
  const auto again = Admin({"jobs", "replay", std::to_string(id), "--reason", "adapter fixed"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.stdout_text.find("job " + std::to_string(id) +
                                   ": skipped, it is queued (replay needs dead)"),
            std::string::npos)
      << again.stdout_text;
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_audit"), "1");

  // jobs show lists the audit entry.
  const auto show = Admin({"jobs", "show", std::to_string(id), "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  const auto shown = json::parse(show.stdout_text);
  const auto& audit = shown.at("audit").as_array();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].at("actor"), "alice");
  EXPECT_EQ(shown.at("job").at("attempts_at_replay"), 2);
}

TEST_F(AdminOperations, ReplayDefaultsTheActorToTheOsUser) {
  const auto id = Insert({.key = "r2"});
  const auto replay = Admin({"jobs", "replay", std::to_string(id), "--reason", "x"});
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  const passwd* user = ::getpwuid(::geteuid());
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(Scalar("SELECT actor FROM job_audit"), user->pw_name);
}

TEST_F(AdminOperations, ReplayTouchesOnlyAllowedStates) {
  const auto dead = Insert({.key = "d"});
  const auto succeeded = Insert({.key = "s", .state = "succeeded", .outcome = "approved"});
  const auto cancelled = Insert({.key = "c", .state = "cancelled"});
  const auto running = Insert({.key = "r", .state = "running"});
  const auto queued = Insert({.key = "q", .state = "queued"});
  const auto in_doubt = Insert({.key = "i", .state = "in_doubt"});
  const auto all = std::vector<std::string>{std::to_string(dead),      std::to_string(succeeded),
                                            std::to_string(cancelled), std::to_string(running),
                                            std::to_string(queued),    std::to_string(in_doubt)};

  auto args = std::vector<std::string>{"jobs", "replay"};
  args.insert(args.end(), all.begin(), all.end());
  args.insert(args.end(), {"--reason", "x", "--json"});
  const auto replay = Admin(args);
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  const auto result = json::parse(replay.stdout_text);
  EXPECT_EQ(result.at("changed"), 1);
  EXPECT_EQ(result.at("skipped"), 5);
  EXPECT_EQ(Scalar("SELECT string_agg(state, ',' ORDER BY id) FROM jobs"),
            "queued,succeeded,cancelled,running,queued,in_doubt");

  // Explicitly allowed final states are replayed; the previous outcome goes into the audit.
  const auto allowed = Admin({"jobs", "replay", std::to_string(succeeded),
                              std::to_string(cancelled), "--allow-state", "succeeded",
                              "--allow-state", "cancelled", "--reason", "gateway lost results"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.output;
  EXPECT_EQ(Scalar("SELECT string_agg(state, ',' ORDER BY id) FROM jobs"),
            "queued,queued,queued,running,queued,in_doubt");
  EXPECT_EQ(
      Scalar("SELECT previous_outcome FROM job_audit WHERE job_id = " + std::to_string(succeeded)),
      "approved");
  EXPECT_EQ(Scalar("SELECT outcome FROM jobs WHERE id = " + std::to_string(succeeded)), "NULL");

  // Unknown ids: exit 1, the known ones still done.
  const auto unknown = Admin({"jobs", "replay", "999999", "--reason", "x"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.stdout_text.find("job 999999: not found"), std::string::npos) << unknown.output;
}

TEST_F(AdminOperations, DryRunChangesNothing) {
  const auto dead = Insert({.key = "d", .last_error = "boom"});
  const auto queued = Insert({.key = "q", .state = "queued"});
  const auto before = Scalar("SELECT string_agg(row(jobs.*)::text, ';' ORDER BY id) FROM jobs");
  const auto replay = Admin({"jobs", "replay", std::to_string(dead), std::to_string(queued),
                             "--reason", "x", "--dry-run"});
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_NE(replay.stdout_text.find("job " + std::to_string(dead) +
                                    ": would be replayed (dead -> queued)"),
            std::string::npos)
      << replay.stdout_text;
  EXPECT_NE(replay.stdout_text.find("dry run, nothing changed: 1 to be replayed, 1 skipped"),
            std::string::npos)
      << replay.stdout_text;
  const auto filter = Admin({"jobs", "replay", "--filter", "--reason", "x", "--dry-run", "--json"});
  ASSERT_EQ(filter.exit_code, 0) << filter.output;
  EXPECT_EQ(json::parse(filter.stdout_text).at("jobs").as_array()[0].at("result"), "would_replay");
  EXPECT_TRUE(json::parse(filter.stdout_text).at("operation_id").is_null());
  const auto cancel =
      Admin({"jobs", "cancel", std::to_string(queued), "--reason", "x", "--dry-run"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_NE(cancel.stdout_text.find("would be cancelled (queued -> cancelled)"), std::string::npos)
      << cancel.stdout_text;

  EXPECT_EQ(Scalar("SELECT string_agg(row(jobs.*)::text, ';' ORDER BY id) FROM jobs"), before);
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_audit"), "0");
}

TEST_F(AdminOperations, BulkReplayByFilterWithinTheCap) {
  const auto a = Insert({.key = "a", .last_error = "UNAVAILABLE", .adapters = {"sandbox"}});
  const auto b = Insert({.key = "b", .last_error = "UNAVAILABLE", .adapters = {"sandbox"}});
  const auto c = Insert({.key = "c", .last_error = "UNAVAILABLE", .adapters = {"stripe"}});
  const auto done = Insert({.key = "s", .state = "succeeded", .adapters = {"sandbox"}});

  // More matches than --max-jobs: refused, nothing changed.
  const auto capped = Admin(
      {"jobs", "replay", "--filter", "--adapter", "sandbox", "--reason", "x", "--max-jobs", "1"});
  EXPECT_EQ(capped.exit_code, 2) << capped.output;
  EXPECT_NE(capped.output.find("more than --max-jobs 1 jobs match"), std::string::npos)
      << capped.output;
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs WHERE state = 'queued'"), "0");

  const auto replay = Admin({"jobs", "replay", "--filter", "--adapter", "sandbox", "--error",
                             "unavailable", "--reason", "INC-1", "--rate", "1000", "--json"});
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  const auto result = json::parse(replay.stdout_text);
  Ids replayed;
  for (const auto& job : result.at("jobs").as_array()) replayed.push_back(job.at("id").as_int64());
  EXPECT_EQ(replayed, (Ids{a, b}));  // oldest first
  EXPECT_EQ(Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM jobs WHERE state = "
                   "'queued'"),
            std::to_string(a) + "," + std::to_string(b));
  // One operation id groups the command's audit rows.
  EXPECT_EQ(Scalar("SELECT count(DISTINCT operation_id) || '/' || count(*) FROM job_audit"), "1/2");
  (void)c;
  (void)done;
}

TEST_F(AdminOperations, ConcurrentReplaysByTwoOperatorsReplayEachJobOnce) {
  std::vector<std::string> args{"jobs", "replay"};
  constexpr int kJobs = 30;
  for (int i = 0; i < kJobs; ++i) {
    args.push_back(std::to_string(Insert({.key = "c" + std::to_string(i)})));
  }
  args.insert(args.end(),
              {"--reason", "race", "--rate", "1000", "--json", "--database-url", database_.url()});
  auto first_args = args;
  first_args.insert(first_args.end(), {"--actor", "alice"});
  auto second_args = args;
  second_args.insert(second_args.end(), {"--actor", "bob"});
  Process first(kAdmin, first_args);
  Process second(kAdmin, second_args);
  ASSERT_EQ(first.Wait(std::chrono::seconds(60)), 0) << first.Output();
  ASSERT_EQ(second.Wait(std::chrono::seconds(60)), 0) << second.Output();

  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs WHERE state = 'queued'"), std::to_string(kJobs));
  // Exactly one audit row per job, whoever won it.
  EXPECT_EQ(Scalar("SELECT count(*) || '/' || count(DISTINCT job_id) FROM job_audit"),
            std::to_string(kJobs) + "/" + std::to_string(kJobs));
}

TEST_F(AdminOperations, CancelOnlyQueuedJobsAndInDoubtWhenAllowed) {
  const auto queued = Insert({.key = "q", .state = "queued"});
  const auto running = Insert({.key = "r", .state = "running"});
  const auto in_doubt = Insert({.key = "i", .state = "in_doubt"});
  const auto dead = Insert({.key = "d"});
  const auto cancel = Admin({"jobs", "cancel", std::to_string(queued), std::to_string(running),
                             std::to_string(in_doubt), std::to_string(dead), "--reason",
                             "customer left", "--actor", "carol", "--json"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.output;
  const auto result = json::parse(cancel.stdout_text);
  EXPECT_EQ(result.at("action"), "cancel");
  EXPECT_EQ(result.at("changed"), 1);
  EXPECT_EQ(result.at("skipped"), 3);
  EXPECT_EQ(Scalar("SELECT string_agg(state, ',' ORDER BY id) FROM jobs"),
            "cancelled,running,in_doubt,dead");
  EXPECT_EQ(Scalar("SELECT finished_at IS NOT NULL FROM jobs WHERE id = " + std::to_string(queued)),
            "t");
  EXPECT_EQ(Scalar("SELECT actor || '|' || reason || '|' || action || '|' || previous_state "
                   "FROM job_audit"),
            "carol|customer left|cancel|queued");

  const auto doubt = Admin({"jobs", "cancel", std::to_string(in_doubt), "--allow-in-doubt",
                            "--reason", "checked with the gateway"});
  ASSERT_EQ(doubt.exit_code, 0) << doubt.output;
  EXPECT_EQ(Scalar("SELECT state FROM jobs WHERE id = " + std::to_string(in_doubt)), "cancelled");

  EXPECT_EQ(Admin({"jobs", "cancel", "999999", "--reason", "x"}).exit_code, 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM job_audit"), "2");
}

TEST_F(AdminOperations, AuditRowsCannotBeRewritten) {
  const auto id = Insert({.key = "a"});
  ASSERT_EQ(Admin({"jobs", "replay", std::to_string(id), "--reason", "x"}).exit_code, 0);
  pqxx::work tx(*connection_);
  EXPECT_THROW(tx.exec0("UPDATE job_audit SET reason = 'other'"), pqxx::sql_error);
}

TEST_F(AdminOperations, StatsCountsTheBacklogAndTheWindowAndTheRecentWindows) {
  Insert({.key = "a", .state = "succeeded", .outcome = "approved", .adapters = {"sandbox"}});
  Insert({.key = "b", .state = "succeeded", .outcome = "declined", .adapters = {"sandbox"}});
  Insert({.key = "c",
          .state = "dead",
          .topic = kCapture,
          .finished_at = "2026-01-01 00:00Z",
          .adapters = {"stripe"}});
  Insert({.key = "d", .state = "dead", .adapters = {"stripe", "sandbox"}});
  Insert({.key = "e", .state = "queued", .topic = kCapture});
  {
    pqxx::work tx(*connection_);
    tx.exec0("UPDATE jobs SET run_after = now() - interval '90 seconds' WHERE event_key = 'e'");
    tx.commit();
  }
  const auto stats = Admin({"stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  const auto document = json::parse(stats.stdout_text).as_object();
  // Job c finished long before the default 24h window: not counted.
  EXPECT_EQ(document.at("by_state"), (json::object{{"queued", 1},
                                                   {"running", 0},
                                                   {"in_doubt", 0},
                                                   {"succeeded", 2},
                                                   {"dead", 1},
                                                   {"cancelled", 0}}));
  EXPECT_EQ(document.at("by_topic"), (json::object{{kAuthorisation, 3}, {kCapture, 1}}));
  EXPECT_EQ(document.at("by_adapter"), (json::object{{"sandbox", 3}, {"stripe", 1}}));
  EXPECT_EQ(document.at("by_outcome"), (json::object{{"approved", 1}, {"declined", 1}}));
  EXPECT_GE(document.at("oldest_due_age_seconds").as_double(), 89.0);
  const auto& windows = document.at("windows").as_array();
  ASSERT_EQ(windows.size(), 2u);
  for (const auto& window : windows) {
    EXPECT_EQ(window.at("finished"), 3);  // job c finished long ago
    EXPECT_EQ(window.at("succeeded"), 2);
    EXPECT_EQ(window.at("dead"), 1);
    EXPECT_NEAR(window.at("failure_rate").as_double(), 1.0 / 3.0, 1e-9);
  }
  EXPECT_NEAR(windows[0].at("throughput_per_minute").as_double(), 3.0 / 5.0, 1e-9);

  const auto wide = Admin({"stats", "--window", "3000d", "--json"});
  ASSERT_EQ(wide.exit_code, 0) << wide.output;
  const auto wide_document = json::parse(wide.stdout_text).as_object();
  EXPECT_EQ(wide_document.at("by_state").at("dead"), 2);
  EXPECT_EQ(wide_document.at("by_topic"), (json::object{{kAuthorisation, 3}, {kCapture, 2}}));
  EXPECT_EQ(wide_document.at("by_adapter"), (json::object{{"sandbox", 3}, {"stripe", 2}}));
  EXPECT_EQ(Admin({"stats", "--window", "forever"}).exit_code, 2);

  const auto table = Admin({"stats"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.stdout_text.find("jobs by state:\n"), std::string::npos) << table.stdout_text;
  EXPECT_NE(table.stdout_text.find("finished in the last 24h (--window)"), std::string::npos)
      << table.stdout_text;
  EXPECT_NE(table.stdout_text.find("last 5m"), std::string::npos) << table.stdout_text;
}

TEST_F(AdminOperations, DatabaseDownExitsOneForEveryDatabaseCommand) {
  const std::string down = "postgresql://postgres@127.0.0.1:" + std::to_string(FreeTcpPort()) +
                           "/none?connect_timeout=2";
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"jobs", "list"},
                                             {"jobs", "show", "1"},
                                             {"jobs", "replay", "1", "--reason", "x"},
                                             {"jobs", "cancel", "1", "--reason", "x"},
                                             {"stats"}}) {
    auto with_url = args;
    with_url.insert(with_url.end(), {"--database-url", down});
    const auto run = RunCommand(kAdmin, with_url);
    EXPECT_EQ(run.exit_code, 1) << args[0] << " " << args.back() << ": " << run.output;
    EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
  }
}

TEST(AdminAdapterCheck, ReportsTheSandboxServingAndAClosedPortNot) {
  const int port = FreeTcpPort();
  Process sandbox("payorch-sandbox-gateway", {"--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(WaitForTcpPort(port, std::chrono::seconds(10))) << sandbox.Output();
  const std::string address = "127.0.0.1:" + std::to_string(port);

  const auto check = RunCommand(kAdmin, {"adapter", "check", address, "--json"});
  ASSERT_EQ(check.exit_code, 0) << check.output;
  const auto report = json::parse(check.stdout_text).as_object();
  EXPECT_EQ(report.at("address").as_string(), address);
  EXPECT_EQ(report.at("status"), "SERVING");
  EXPECT_EQ(report.at("grpc_status"), "OK");
  EXPECT_EQ(report.at("serving"), true);
  EXPECT_TRUE(report.at("error").is_null());
  EXPECT_GE(report.at("latency_ms").as_int64(), 0);

  const auto table = RunCommand(kAdmin, {"adapter", "check", address});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.stdout_text.find("status       SERVING\n"), std::string::npos)
      << table.stdout_text;

  const int closed = FreeTcpPort();
  const auto down = RunCommand(kAdmin, {"adapter", "check", "127.0.0.1:" + std::to_string(closed),
                                        "--timeout-ms", "1000", "--json"});
  EXPECT_EQ(down.exit_code, 1) << down.output;
  const auto down_report = json::parse(down.stdout_text).as_object();
  EXPECT_EQ(down_report.at("serving"), false);
  EXPECT_TRUE(down_report.at("status").is_null());
  EXPECT_NE(down.output.find("payorch-admin: adapter 127.0.0.1:"), std::string::npos)
      << down.output;
}

// The whole repair loop with real processes: a job dies after --max-attempts while the adapter
// is unavailable, an operator replays it, and the running worker picks it up and finishes it
// with the same idempotency key, its attempt history continuing.
TEST(AdminReplayWithWorker, AReplayedDeadJobIsFinishedByARunningWorker) {
  TestDatabase database;
  const int sandbox_port = FreeTcpPort();
  Process sandbox("payorch-sandbox-gateway",
                  {"--listen", "127.0.0.1:" + std::to_string(sandbox_port)});
  ASSERT_TRUE(WaitForTcpPort(sandbox_port, std::chrono::seconds(10))) << sandbox.Output();
  Process worker("payorch-worker",
                 {"--database-url", database.url(), "--adapter-address",
                  "127.0.0.1:" + std::to_string(sandbox_port), "--adapter-deadline-ms", "400",
                  "--max-attempts", "2", "--backoff-base-ms", "50", "--backoff-max-ms", "200",
                  "--poll-interval-ms", "100", "--lease-ms", "5000"});

  // The sandbox answers UNAVAILABLE to the first three calls with this key, then approves: with
  // --max-attempts 2 the job dies after two; the replay gives it a fresh budget of two, so the
  // third call fails again and is retried (it would be dead at once without the fresh budget),
  // and the fourth succeeds.
  json::object data{{"subscriptionId", "admin-replay-1"},
                    {"offerId", "S1_US"},
                    {"customerId", 1},
                    {"customerEmail", "c@example.com"},
                    {"paymentDetailsId", 2},
                    {"currency", "USD"},
                    {"paymentCountry", "BY"},
                    {"paymentMethodId", 3},
                    {"token", "unavailable:3"},
                    {"dunningAttemptDate", "2026-11-29T10:00:00Z"}};
  const std::string body = json::serialize(
      json::object{{"broadcasterId", 7}, {"topic", kAuthorisation}, {"data", data}});
  auto event = core::ParseWebhook(body);
  ASSERT_TRUE(event.ok());
  const auto identity = core::DeriveEventIdentity(*event);
  db::NewJob job{.event_key = identity.event_key,
                 .idempotency_key = identity.idempotency_key,
                 .broadcaster_id = event->broadcaster_id,
                 .topic = event->topic_name,
                 .subscription_id = event->subscription_id,
                 .payment_gateway = event->payment_gateway,
                 .payment_method_id = event->payment_method_id,
                 .dunning_attempt_date = event->dunning_attempt_date_utc,
                 .raw_event = body};
  auto connection = database.Connect();
  const auto inserted = db::InsertJobs(*connection, std::span<const db::NewJob>(&job, 1));
  ASSERT_EQ(inserted.size(), 1u);
  const auto id = std::to_string(inserted[0].job_id);

  auto state = [&] {
    pqxx::nontransaction tx(*connection);
    return tx.exec1("SELECT state FROM jobs WHERE id = " + id)[0].as<std::string>();
  };
  ASSERT_TRUE(Eventually([&] { return state() == "dead"; }, std::chrono::seconds(20)))
      << state() << "\n"
      << worker.Output();

  const auto replay = RunCommand(
      kAdmin, {"jobs", "replay", id, "--reason", "adapter back", "--database-url", database.url()});
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  ASSERT_TRUE(Eventually([&] { return state() == "succeeded"; }, std::chrono::seconds(20)))
      << state() << "\n"
      << worker.Output();

  pqxx::nontransaction tx(*connection);
  const auto row = tx.exec1(
      "SELECT outcome, idempotency_key, attempts, attempts_at_replay, "
      "  (SELECT string_agg(attempt || ':' || decision, ',' ORDER BY attempt)"
      "   FROM job_attempts WHERE job_id = jobs.id) "
      "FROM jobs WHERE id = " +
      id);
  EXPECT_EQ(row[0].as<std::string>(), "approved");
  EXPECT_EQ(row[1].as<std::string>(), identity.idempotency_key);
  EXPECT_EQ(row[2].as<int>(), 4);
  EXPECT_EQ(row[3].as<int>(), 2);
  EXPECT_EQ(row[4].as<std::string>(), "1:retry,2:dead,3:retry,4:succeeded");
}

}  // namespace
}  // namespace payorch::testing
