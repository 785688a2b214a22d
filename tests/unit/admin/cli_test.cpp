#include "services/admin/cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "services/admin/commands.hpp"

namespace payorch::admin {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the CLI in-process with no PAYORCH_DATABASE_URL in the environment. None of these cases
// reaches the database: they all stop at parsing or validation.
CliRun RunCli(std::vector<std::string> args) {
  ::unsetenv("PAYORCH_DATABASE_URL");
  args.insert(args.begin(), "payorch-admin");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  CliRun run;
  run.exit_code = RunAdminCli(static_cast<int>(argv.size()), argv.data(), out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

// Exactly one line, prefixed with the program name.
void ExpectOneErrorLine(const CliRun& run) {
  ASSERT_FALSE(run.err.empty());
  EXPECT_EQ(run.err.rfind("payorch-admin: ", 0), 0u) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << run.err;
}

TEST(AdminCliTest, HelpOnEveryCommandExitsZeroWithAnExample) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"migrate", "--help"}, {"jobs", "--help"}, {"jobs", "list", "--help"},
           {"jobs", "show", "--help"}}) {
    const auto run = RunCli(args);
    EXPECT_EQ(run.exit_code, kExitOk) << args.back();
    EXPECT_NE(run.out.find("Usage: payorch-admin"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("Example"), std::string::npos) << run.out;
    EXPECT_TRUE(run.err.empty()) << run.err;
  }
  EXPECT_NE(RunCli({"jobs", "list", "--help"}).out.find("--state"), std::string::npos);
  EXPECT_NE(RunCli({"migrate", "--help"}).out.find("--status"), std::string::npos);
}

TEST(AdminCliTest, ParseErrorsExitTwoWithOneLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"--bogus"},
           {"frobnicate"},
           {"jobs"},
           {"jobs", "list", "--bogus"},
           {"jobs", "list", "--limit", "0"},
           {"jobs", "list", "--limit", "1001"},
           {"jobs", "list", "--limit", "many"},
           {"jobs", "show"},
           {"jobs", "show", "abc"},
           {"migrate", "extra"}}) {
    const auto run = RunCli(args);
    EXPECT_EQ(run.exit_code, kExitUsage) << (args.empty() ? "(none)" : args.back());
    ExpectOneErrorLine(run);
    EXPECT_TRUE(run.out.empty());
  }
}

TEST(AdminCliTest, UnknownFlagIsNamed) {
  const auto run = RunCli({"jobs", "list", "--bogus"});
  EXPECT_NE(run.err.find("--bogus"), std::string::npos) << run.err;
}

TEST(AdminCliTest, BadStateExitsTwoNamingTheValidStatesBeforeConnecting) {
  // The URL points nowhere: a bad request must be reported as such, not as a connection failure.
  const auto run = RunCli({"jobs", "list", "--state", "failed", "--database-url",
                        "postgresql://u:pw@127.0.0.1:1/none"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  ExpectOneErrorLine(run);
  EXPECT_NE(run.err.find("failed"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("queued, running, in_doubt, succeeded, dead, cancelled"),
            std::string::npos)
      << run.err;
}

TEST(AdminCliTest, MissingDatabaseUrlExitsTwo) {
  const auto run = RunCli({"jobs", "list"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  ExpectOneErrorLine(run);
  EXPECT_NE(run.err.find("PAYORCH_DATABASE_URL"), std::string::npos) << run.err;
}

TEST(ScrubPasswordTest, RemovesTheUrlPasswordWhereverItAppears) {
  EXPECT_EQ(ScrubPassword("cannot connect to postgresql://u:s3cret@h/db: auth s3cret failed",
                          "postgresql://u:s3cret@h/db"),
            "cannot connect to postgresql://u:***@h/db: auth *** failed");
}

TEST(ScrubPasswordTest, RemovesAKeyValuePassword) {
  EXPECT_EQ(ScrubPassword("bad option near 's3cret'", "host=h password='s3cret' dbname=x"),
            "bad option near '***'");
  EXPECT_EQ(ScrubPassword("near s3cret", "host=h password=s3cret"), "near ***");
}

TEST(ScrubPasswordTest, LeavesMessagesAloneWithoutAPassword) {
  EXPECT_EQ(ScrubPassword("connection refused", "postgresql://u@h/db"), "connection refused");
}

TEST(OneLineTest, JoinsLibpqMultiLineMessages) {
  EXPECT_EQ(OneLine("connection refused\n\tIs the server running?\n"),
            "connection refused Is the server running?");
  EXPECT_EQ(OneLine("a\r\nb"), "a b");
  EXPECT_EQ(OneLine("escape \x1b[2J"), "escape  [2J");
}

// Every bad request below must exit 2 with one line, before any connection is tried (the URL
// points at a closed port, so reaching the database would exit 1 instead).
TEST(AdminCliTest, BadRequestsOfEveryCommandExitTwoBeforeConnecting) {
  const std::string url = "postgresql://u:pw@127.0.0.1:1/none";
  const std::vector<std::vector<std::string>> requests = {
      {"jobs", "list", "--since", "yesterday"},
      {"jobs", "list", "--until", "2026-02-30"},
      {"jobs", "list", "--finished-since", "2x"},
      {"jobs", "list", "--finished-until", "-1h"},
      {"jobs", "list", "--outcome", "maybe"},
      {"jobs", "list", "--broadcaster", "abc"},
      {"jobs", "list", "--cursor", "abc"},
      {"jobs", "list", "--cursor", "5", "--before-id", "6"},
      {"jobs", "list", "--limit", "0"},
      {"jobs", "show"},
      {"jobs", "show", "5", "--event-key", "k"},
      {"jobs", "show", "abc"},
      {"jobs", "replay", "5"},
      {"jobs", "replay", "5", "--reason", "  "},
      {"jobs", "replay", "--reason", "x"},
      {"jobs", "replay", "5", "--filter", "--reason", "x"},
      {"jobs", "replay", "5", "--reason", "x", "--allow-state", "running"},
      {"jobs", "replay", "5", "--reason", "x", "--allow-state", "in_doubt"},
      {"jobs", "replay", "5", "--reason", "x", "--allow-state", "queued"},
      {"jobs", "replay", "5", "--reason", "x", "--allow-state", "bogus"},
      {"jobs", "replay", "--filter", "--state", "succeeded", "--reason", "x"},
      {"jobs", "replay", "--filter", "--since", "soon", "--reason", "x"},
      {"jobs", "replay", "5", "--reason", "x", "--max-jobs", "0"},
      {"jobs", "replay", "5", "6", "7", "--reason", "x", "--max-jobs", "2"},
      {"jobs", "replay", "5", "--reason", "x", "--rate", "0"},
      {"jobs", "cancel", "--reason", "x"},
      {"jobs", "cancel", "5"},
      {"jobs", "cancel", "0", "--reason", "x"},
      {"stats", "--bogus"},
      {"adapter"},
      {"adapter", "check"},
      {"adapter", "check", "127.0.0.1:1", "--timeout-ms", "0"},
  };
  for (auto args : requests) {
    args.push_back("--database-url");
    args.push_back(url);
    const auto run = RunCli(args);
    std::string joined;
    for (const auto& arg : args) joined += arg + " ";
    EXPECT_EQ(run.exit_code, kExitUsage) << joined << "\n" << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << joined << "\n" << run.err;
    EXPECT_EQ(run.err.find("connect"), std::string::npos) << joined << "\n" << run.err;
  }
}

TEST(AdminCliTest, EveryCommandHasHelpWithAnExample) {
  for (const auto& command : std::vector<std::vector<std::string>>{
           {"migrate"}, {"jobs"}, {"jobs", "list"}, {"jobs", "show"}, {"jobs", "replay"},
           {"jobs", "cancel"}, {"stats"}, {"adapter"}, {"adapter", "check"}}) {
    auto args = command;
    args.push_back("--help");
    const auto run = RunCli(args);
    EXPECT_EQ(run.exit_code, kExitOk) << command.back();
    EXPECT_NE(run.out.find("Example"), std::string::npos) << command.back() << run.out;
    EXPECT_NE(run.out.find("payorch-admin " + command.front()), std::string::npos) << run.out;
  }
}

TEST(AdminCliTest, ReplayRefusesUnsafeStatesNamingWhy) {
  const auto run = RunCli({"jobs", "replay", "5", "--reason", "x", "--allow-state", "running",
                           "--database-url", "postgresql://u@127.0.0.1:1/none"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_NE(run.err.find("--allow-state running is refused"), std::string::npos) << run.err;
}

TEST(ReplayableStatesTest, DeadAlwaysAndOnlyFinalStatesOnRequest) {
  using core::JobState;
  EXPECT_EQ(*ReplayableStates({}), (std::vector<JobState>{JobState::kDead}));
  EXPECT_EQ(*ReplayableStates({"succeeded", "cancelled,dead", "succeeded"}),
            (std::vector<JobState>{JobState::kDead, JobState::kSucceeded, JobState::kCancelled}));
  for (const char* state : {"queued", "running", "in_doubt", "nope"}) {
    EXPECT_FALSE(ReplayableStates({state}).ok()) << state;
  }
}

TEST(BuildJobListFilterTest, ConvertsEveryCriterion) {
  using namespace std::chrono;
  const system_clock::time_point now = sys_days{year{2026} / 11 / 29} + hours{12};
  JobFilterOptions options;
  options.states = {"dead,in_doubt"};
  options.topic = "t";
  options.adapter = "sandbox";
  options.broadcaster_id = 5;
  options.subscription_id = "s";
  options.outcome = "declined";
  options.error_text = "timeout";
  options.since = "2h";
  options.until = "2026-11-29T11:30Z";
  options.finished_since = "2026-11-28";
  options.finished_until = "1m";
  const auto filter = BuildJobListFilter(options, now);
  ASSERT_TRUE(filter.ok()) << filter.error();
  EXPECT_EQ(filter->states,
            (std::vector<core::JobState>{core::JobState::kDead, core::JobState::kInDoubt}));
  EXPECT_EQ(filter->topic, "t");
  EXPECT_EQ(filter->adapter, "sandbox");
  EXPECT_EQ(filter->broadcaster_id, 5);
  EXPECT_EQ(filter->subscription_id, "s");
  EXPECT_EQ(filter->outcome, "declined");
  EXPECT_EQ(filter->error_text, "timeout");
  EXPECT_EQ(filter->created_since, "2026-11-29T10:00:00.000000Z");
  EXPECT_EQ(filter->created_until, "2026-11-29T11:30:00.000000Z");
  EXPECT_EQ(filter->finished_since, "2026-11-28T00:00:00.000000Z");
  EXPECT_EQ(filter->finished_until, "2026-11-29T11:59:00.000000Z");

  EXPECT_EQ(BuildJobListFilter({.since = "later"}, now).error().rfind("--since: bad time", 0),
            0u);
  EXPECT_EQ(BuildJobListFilter({.outcome = "ok"}, now).error(),
            "bad outcome 'ok': expected approved or declined");
}

}  // namespace
}  // namespace payorch::admin
