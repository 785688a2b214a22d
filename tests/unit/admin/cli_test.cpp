#include "services/admin/cli.hpp"

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

}  // namespace
}  // namespace payorch::admin
