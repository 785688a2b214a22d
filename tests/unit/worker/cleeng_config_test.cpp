// The worker's Cleeng reporting settings (docs/cleeng.md, "The worker"): off by default, the
// token from the environment only, bad settings exit 2.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "services/worker/config.hpp"

namespace payorch::worker {
namespace {

core::Result<WorkerConfig, ConfigExit> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"payorch-worker", "--database-url", "postgresql://x@127.0.0.1/db"});
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return ParseConfig(static_cast<int>(argv.size()), argv.data());
}

// Sets PAYORCH_CLEENG_PUBLISHER_TOKEN for one test.
class CleengWorkerConfig : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("PAYORCH_CLEENG_PUBLISHER_TOKEN", "tok-config-test", 1); }
  void TearDown() override {
    ::unsetenv("PAYORCH_CLEENG_PUBLISHER_TOKEN");
    ::unsetenv("PAYORCH_CLEENG_REPORTING");
  }
};

TEST_F(CleengWorkerConfig, OffByDefaultAndNothingElseIsChecked) {
  const auto config = Parse({"--cleeng-base-url", "not a url"});
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config.value().cleeng.enabled);
  EXPECT_TRUE(config.value().cleeng.publisher_token.empty());  // not even read when off
}

TEST_F(CleengWorkerConfig, FlagsAndTheTokenFromTheEnvironment) {
  const auto config =
      Parse({"--cleeng-reporting", "--cleeng-base-url", "http://127.0.0.1:8080", "--lease-ms",
             "20000", "--adapter-deadline-ms", "1000", "--cleeng-max-call-time-ms", "3000",
             "--cleeng-request-timeout-ms", "1500", "--cleeng-connect-timeout-ms", "700",
             "--cleeng-max-attempts", "3", "--cleeng-backoff-base-ms", "20",
             "--cleeng-backoff-max-ms", "400", "--cleeng-flow-threads", "5"});
  ASSERT_TRUE(config.ok());
  const auto& cleeng = config.value().cleeng;
  EXPECT_TRUE(cleeng.enabled);
  EXPECT_EQ(cleeng.base_url, "http://127.0.0.1:8080");
  EXPECT_EQ(cleeng.publisher_token, "tok-config-test");
  EXPECT_EQ(cleeng.max_call_time.count(), 3000);
  EXPECT_EQ(cleeng.request_timeout.count(), 1500);
  EXPECT_EQ(cleeng.connect_timeout.count(), 700);
  EXPECT_EQ(cleeng.max_attempts, 3);
  EXPECT_EQ(cleeng.backoff_base.count(), 20);
  EXPECT_EQ(cleeng.backoff_max.count(), 400);
  EXPECT_EQ(config.value().cleeng_flow_threads, 5);
}

TEST_F(CleengWorkerConfig, ReportingFromTheEnvironmentAndNamedBaseUrls) {
  ::setenv("PAYORCH_CLEENG_REPORTING", "true", 1);
  const auto config = Parse({"--cleeng-base-url", "production", "--lease-ms", "90000"});
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config.value().cleeng.enabled);
  EXPECT_EQ(config.value().cleeng.base_url, "https://api.cleeng.com");
}

TEST_F(CleengWorkerConfig, BadSettingsExitTwo) {
  // The lease must hold three Cleeng calls and the adapter call: 3 x 10000 + 5000 + 1000.
  auto short_lease = Parse({"--cleeng-reporting", "--lease-ms", "36000"});
  ASSERT_FALSE(short_lease.ok());
  EXPECT_EQ(short_lease.error().exit_code, 2);
  EXPECT_TRUE(Parse({"--cleeng-reporting", "--lease-ms", "36001"}).ok());
  // The defaults fit together: reporting on with the default lease starts.
  EXPECT_TRUE(Parse({"--cleeng-reporting"}).ok());
  // No token.
  ::unsetenv("PAYORCH_CLEENG_PUBLISHER_TOKEN");
  auto no_token = Parse({"--cleeng-reporting", "--lease-ms", "90000"});
  ASSERT_FALSE(no_token.ok());
  EXPECT_EQ(no_token.error().exit_code, 2);
  ::setenv("PAYORCH_CLEENG_PUBLISHER_TOKEN", "tok-config-test", 1);
  auto bad_url = Parse({"--cleeng-reporting", "--lease-ms", "90000", "--cleeng-base-url", "ftp://x"});
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.error().exit_code, 2);
  auto bad_range = Parse({"--cleeng-reporting", "--lease-ms", "90000", "--cleeng-flow-threads", "0"});
  ASSERT_FALSE(bad_range.ok());
  EXPECT_EQ(bad_range.error().exit_code, 2);
}

}  // namespace
}  // namespace payorch::worker
