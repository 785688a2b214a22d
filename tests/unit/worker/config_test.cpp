#include "services/worker/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

namespace payorch::worker {
namespace {

core::Result<WorkerConfig, ConfigExit> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "payorch-worker");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return ParseConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(WorkerConfig, DefaultsForTheNewSettings) {
  const auto config = Parse({"--database-url", "postgresql://x@127.0.0.1/db", "--concurrency", "7"});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config.value().adapter_max_in_flight, 7);  // follows --concurrency
  EXPECT_EQ(config.value().breaker.failure_threshold, 5);
  EXPECT_EQ(config.value().breaker.probe_interval.count(), 2000);
  EXPECT_EQ(config.value().shutdown_timeout.count(), 15000);
  EXPECT_EQ(config.value().metrics_listen, "127.0.0.1:9464");
  EXPECT_FALSE(config.value().check_config);
}

TEST(WorkerConfig, FlagsForLimitsBreakerShutdownAndMetrics) {
  const auto config =
      Parse({"--database-url", "postgresql://x@127.0.0.1/db", "--adapter-max-in-flight", "3",
             "--breaker-failures", "9", "--breaker-probe-ms", "250", "--shutdown-timeout-ms",
             "4000", "--metrics-listen", "127.0.0.1:0", "--check-config"});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config.value().adapter_max_in_flight, 3);
  EXPECT_EQ(config.value().breaker.failure_threshold, 9);
  EXPECT_EQ(config.value().breaker.probe_interval.count(), 250);
  EXPECT_EQ(config.value().shutdown_timeout.count(), 4000);
  EXPECT_EQ(config.value().metrics_listen, "127.0.0.1:0");
  EXPECT_TRUE(config.value().check_config);
}

TEST(WorkerConfig, EnvironmentFallbackForMetricsListen) {
  ::setenv("PAYORCH_WORKER_METRICS_LISTEN", "127.0.0.1:19464", 1);
  const auto config = Parse({"--database-url", "postgresql://x@127.0.0.1/db"});
  ::unsetenv("PAYORCH_WORKER_METRICS_LISTEN");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config.value().metrics_listen, "127.0.0.1:19464");
}

TEST(WorkerConfig, BadSettingsExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"--database-url", "postgresql://x@127.0.0.1/db", "--metrics-listen", "nohost"},
      {"--database-url", "postgresql://x@127.0.0.1/db", "--metrics-listen", "127.0.0.1:70000"},
      {"--database-url", "postgresql://x@127.0.0.1/db", "--metrics-listen", "example.com:80"},
      {"--database-url", "postgresql://x@127.0.0.1/db", "--breaker-failures", "0"},
      {"--database-url", "postgresql://x@127.0.0.1/db", "--breaker-probe-ms", "0"},
      {"--database-url", "postgresql://x@127.0.0.1/db", "--shutdown-timeout-ms", "-1"},
      {"--database-url", "postgresql://x@127.0.0.1/db", "--adapter-max-in-flight", "-2"},
  };
  for (const auto& args : bad) {
    const auto config = Parse(args);
    ASSERT_FALSE(config.ok()) << args.back();
    EXPECT_EQ(config.error().exit_code, 2) << args.back();
  }
}

TEST(ParseListen, HostAndPort) {
  EXPECT_EQ(ParseListen("127.0.0.1:9464"), std::make_optional(std::make_pair(std::string("127.0.0.1"), static_cast<unsigned short>(9464))));
  EXPECT_EQ(ParseListen("localhost:0")->first, "127.0.0.1");
  EXPECT_FALSE(ParseListen(":80"));
  EXPECT_FALSE(ParseListen("127.0.0.1:"));
  EXPECT_FALSE(ParseListen("127.0.0.1:x"));
}

}  // namespace
}  // namespace payorch::worker
