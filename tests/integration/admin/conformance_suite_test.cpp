// The conformance suite in-process against the sandbox adapter in-process: the sandbox counts
// the effects each key really caused, which the suite cannot see from outside. Proves what the
// suite's checks stand for: its keys are the documented fresh ones, the repeated and the
// concurrent keys caused one effect each, and the unknown-key lookups caused none.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>
#include <string>

#include "gateways/sandbox/sandbox_server.hpp"
#include "services/admin/commands.hpp"
#include "services/admin/conformance.hpp"

namespace payorch::admin {
namespace {

TEST(ConformanceSuite, TheSandboxPassesAndEachKeyCausedAtMostOneEffect) {
  gateways::sandbox::SandboxServer sandbox;
  ConformanceOptions options;
  options.address = sandbox.address();
  options.run_id = "it0123456789abcd";
  const auto report = RunConformanceSuite(options);
  ASSERT_TRUE(report.AllPassed()) << [&] {
    std::string text;
    for (const auto& check : report.checks) text += check.name + ": " + check.reason + "\n";
    return text;
  }();
  ASSERT_EQ(report.checks.size(), ConformanceCheckNames().size());

  // The suite's keys, in order: 1 authorize, 2 capture, 3 terminate, 4 repeat, 5 concurrent,
  // 6 unknown (looked up only), 7 short deadline.
  auto& store = sandbox.store();
  for (int n : {1, 2, 3, 4, 5, 7}) {
    const auto record = store.Find(ConformanceKey(options.run_id, n));
    ASSERT_TRUE(record.has_value()) << n;
    EXPECT_EQ(record->effects, 1) << n;
  }
  EXPECT_EQ(store.Find(ConformanceKey(options.run_id, 4))->calls, 2);
  EXPECT_EQ(store.Find(ConformanceKey(options.run_id, 5))->calls, kConcurrentCalls);
  EXPECT_FALSE(store.Find(ConformanceKey(options.run_id, 6)).has_value());
  EXPECT_FALSE(store.Find(ConformanceKey(options.run_id, 8)).has_value());
  // The invalid requests (empty key, no meta) left nothing behind.
  EXPECT_FALSE(store.Find("").has_value());

  // A second run with its own run id does not collide with the first.
  options.run_id = "it0123456789abce";
  EXPECT_TRUE(RunConformanceSuite(options).AllPassed());
  EXPECT_EQ(store.Find(ConformanceKey(options.run_id, 4))->effects, 1);
}

TEST(ConformanceSuite, RunAdapterCheckPicksAFreshRunIdEachTime) {
  gateways::sandbox::SandboxServer sandbox;
  AdapterCheckOptions options;
  options.address = sandbox.address();
  options.json = true;
  std::string first_reference;
  for (int run = 0; run < 2; ++run) {
    std::ostringstream out, err;
    ASSERT_EQ(RunAdapterCheck(options, out, err), kExitOk) << out.str() << err.str();
    EXPECT_TRUE(err.str().empty()) << err.str();
    const auto document = boost::json::parse(out.str()).as_object();
    // authorize_valid's reason quotes the reference, a hash of the key: a new key, a new one.
    const std::string reason(document.at("checks").as_array()[1].at("reason").as_string());
    EXPECT_NE(reason, first_reference);
    first_reference = reason;
  }
}

}  // namespace
}  // namespace payorch::admin
