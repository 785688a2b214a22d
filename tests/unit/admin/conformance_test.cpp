// The pure parts of `adapter check`'s conformance suite: key format, code classification, and
// how a report is shown; plus the CLI's usage errors for its flags.

#include "services/admin/conformance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "services/admin/cli.hpp"
#include "services/admin/commands.hpp"
#include "services/admin/conformance_views.hpp"

namespace payorch::admin {
namespace {

TEST(ConformanceKeyTest, KeysAreFreshValidAndWithinTheContractsLimit) {
  const auto run_id = NewConformanceRunId(0xffffffffffffffffULL);
  EXPECT_EQ(run_id, "ffffffffffffffff");
  EXPECT_EQ(NewConformanceRunId(1), "0000000000000001");
  std::set<std::string> keys;
  for (int n = 1; n <= 1000; ++n) {
    const auto key = ConformanceKey(run_id, n);
    EXPECT_TRUE(IsValidIdempotencyKeyFormat(key)) << key;
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 1000u);
  EXPECT_EQ(ConformanceKey("ab12", 7), "conf_ab12_7");
  // Two runs never share a key.
  EXPECT_NE(ConformanceKey(NewConformanceRunId(1), 12), ConformanceKey(NewConformanceRunId(11), 2));
}

TEST(ConformanceKeyTest, KeyFormatIsTheContractsRule) {
  EXPECT_TRUE(IsValidIdempotencyKeyFormat("a"));
  EXPECT_TRUE(IsValidIdempotencyKeyFormat(std::string(64, 'Z')));
  EXPECT_TRUE(IsValidIdempotencyKeyFormat("po1_A-b_9"));
  EXPECT_FALSE(IsValidIdempotencyKeyFormat(""));
  EXPECT_FALSE(IsValidIdempotencyKeyFormat(std::string(65, 'a')));
  EXPECT_FALSE(IsValidIdempotencyKeyFormat("a b"));
  EXPECT_FALSE(IsValidIdempotencyKeyFormat("a.b"));
  EXPECT_FALSE(IsValidIdempotencyKeyFormat("caf\xc3\xa9"));
}

TEST(ConformanceCodesTest, ClassifiesCodesAsGatewayProtoDoes) {
  // 0 OK ... 16 UNAUTHENTICATED; 15 DATA_LOSS is the one code the contract does not name.
  for (int code = 0; code <= 16; ++code) EXPECT_EQ(IsDocumentedCode(code), code != 15) << code;
  EXPECT_FALSE(IsDocumentedCode(17));
  EXPECT_FALSE(IsDocumentedCode(-1));
  std::vector<int> transient, in_doubt;
  for (int code = 0; code <= 16; ++code) {
    if (IsTransientCode(code)) transient.push_back(code);
    if (IsInDoubtCode(code)) in_doubt.push_back(code);
  }
  EXPECT_EQ(transient, (std::vector<int>{8, 10, 14}));   // RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE
  EXPECT_EQ(in_doubt, (std::vector<int>{1, 2, 4, 13}));  // CANCELLED, UNKNOWN, DEADLINE, INTERNAL
}

TEST(ConformanceCheckNamesTest, AreUniqueAndStartWithHealth) {
  const auto names = ConformanceCheckNames();
  EXPECT_EQ(names.size(), 12u);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  EXPECT_EQ(names.front(), kCheckHealth);
  EXPECT_EQ(names.back(), kCheckErrorCodes);
}

ConformanceReport SampleReport() {
  ConformanceReport report;
  report.health.address = "127.0.0.1:5";
  report.health.serving_status = "SERVING";
  report.health.grpc_status = "OK";
  report.health.latency_ms = 3;
  report.checks = {{kCheckHealth, true, "SERVING"},
                   {kCheckRepeat, false, "key conf_x_1 answered APPROVED reference a, then b"},
                   {kCheckErrorCodes, true, "fine"}};
  return report;
}

TEST(ConformanceViewsTest, JsonKeepsTheHealthKeysAndAddsTheChecks) {
  const auto document = ConformanceReportDocument(SampleReport());
  EXPECT_EQ(document.at("address"), "127.0.0.1:5");
  EXPECT_EQ(document.at("status"), "SERVING");
  EXPECT_EQ(document.at("grpc_status"), "OK");
  EXPECT_TRUE(document.at("error").is_null());
  EXPECT_EQ(document.at("serving"), true);
  EXPECT_EQ(document.at("passed").as_uint64(), 2u);
  EXPECT_EQ(document.at("failed").as_uint64(), 1u);
  EXPECT_EQ(document.at("conformant"), false);
  const auto& checks = document.at("checks").as_array();
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[1].at("name"), kCheckRepeat);
  EXPECT_EQ(checks[1].at("passed"), false);
  EXPECT_EQ(checks[1].at("reason"), "key conf_x_1 answered APPROVED reference a, then b");
}

TEST(ConformanceViewsTest, TableHasTheHealthLinesOneRowPerCheckAndASummary) {
  std::ostringstream out;
  PrintConformanceReport(SampleReport(), out);
  const auto text = out.str();
  EXPECT_NE(text.find("status       SERVING\n"), std::string::npos) << text;
  // The name column is as wide as error_code_mapping (18) plus two spaces.
  EXPECT_NE(text.find("check               result  reason\n"), std::string::npos) << text;
  EXPECT_NE(text.find("idempotent_repeat   FAIL    key conf_x_1"), std::string::npos) << text;
  EXPECT_NE(text.find("health              PASS    SERVING\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n2 of 3 checks passed\n"), std::string::npos) << text;
}

TEST(ConformanceReportTest, PassesOnlyWhenEveryCheckPassed) {
  auto report = SampleReport();
  EXPECT_FALSE(report.AllPassed());
  EXPECT_EQ(report.FailedNames(), std::vector<std::string>{kCheckRepeat});
  report.checks[1].passed = true;
  EXPECT_TRUE(report.AllPassed());
  EXPECT_FALSE(ConformanceReport{}.AllPassed());  // no checks run is no conformance
}

TEST(ConformanceCliTest, BadFlagsAreUsageErrorsBeforeAnyCall) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"adapter", "check", "127.0.0.1:1", "--token", ""},
           {"adapter", "check", "127.0.0.1:1", "--token", std::string(257, 't')},
           {"adapter", "check", "127.0.0.1:1", "--timeout-ms", "60001"},
           {"adapter", "check", "127.0.0.1:1", "--health-only=maybe"},
           {"adapter", "check", "127.0.0.1:1", "--bogus"}}) {
    std::vector<const char*> argv{"payorch-admin"};
    for (const auto& arg : args) argv.push_back(arg.c_str());
    std::ostringstream out, err;
    EXPECT_EQ(RunAdminCli(static_cast<int>(argv.size()), argv.data(), out, err), kExitUsage)
        << args.back() << err.str();
    const auto text = err.str();
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
    EXPECT_TRUE(out.str().empty()) << out.str();
  }
}

TEST(ConformanceCliTest, HelpNamesEveryCheckAndFlag) {
  std::vector<const char*> argv{"payorch-admin", "adapter", "check", "--help"};
  std::ostringstream out, err;
  EXPECT_EQ(RunAdminCli(static_cast<int>(argv.size()), argv.data(), out, err), kExitOk);
  for (const auto& name : ConformanceCheckNames()) {
    EXPECT_NE(out.str().find(name), std::string::npos) << name;
  }
  for (const char* flag : {"--token", "--health-only", "--timeout-ms", "--service", "--json"}) {
    EXPECT_NE(out.str().find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace payorch::admin
