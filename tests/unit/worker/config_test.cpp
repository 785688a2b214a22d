#include "services/worker/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
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
  EXPECT_EQ(config.value().statement_timeout.count(), 10000);
  EXPECT_FALSE(config.value().check_config);
}

TEST(WorkerConfig, StatementTimeoutFromFlagOrEnvironment) {
  const auto flag = Parse({"--database-url", "postgresql://x@127.0.0.1/db",
                           "--database-statement-timeout-ms", "2500"});
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag.value().statement_timeout.count(), 2500);
  ::setenv("PAYORCH_DATABASE_STATEMENT_TIMEOUT_MS", "4000", 1);
  const auto env = Parse({"--database-url", "postgresql://x@127.0.0.1/db"});
  ::unsetenv("PAYORCH_DATABASE_STATEMENT_TIMEOUT_MS");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env.value().statement_timeout.count(), 4000);
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
      {"--database-url", "postgresql://x@127.0.0.1/db", "--database-statement-timeout-ms", "0"},
      {"--database-url", "postgresql://x@127.0.0.1/db", "--database-statement-timeout-ms", "x"},
  };
  for (const auto& args : bad) {
    const auto config = Parse(args);
    ASSERT_FALSE(config.ok()) << args.back();
    EXPECT_EQ(config.error().exit_code, 2) << args.back();
  }
}

// A file of the test's own, removed at the end.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char pattern[] = "/tmp/payorch-adapters-XXXXXX";
    const int fd = ::mkstemp(pattern);
    path_ = pattern;
    std::ofstream(path_) << text;
    ::close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(WorkerConfig, SingleAdapterFlagsAreADefaultRoute) {
  const auto config = Parse({"--database-url", "postgresql://x@127.0.0.1/db", "--adapter-name",
                             "solo", "--adapter-address", "127.0.0.1:7", "--max-attempts", "4"});
  ASSERT_TRUE(config.ok());
  const AdaptersConfig adapters = EffectiveAdapters(config.value());
  ASSERT_EQ(adapters.adapters.size(), 1u);
  EXPECT_EQ(adapters.adapters.at("solo").address, "127.0.0.1:7");
  EXPECT_EQ(adapters.adapters.at("solo").retry.max_attempts, 4);
  EXPECT_TRUE(adapters.routes.empty());
  EXPECT_EQ(adapters.default_adapter, std::optional<std::string>("solo"));
}

TEST(WorkerConfig, AdaptersFileFromFlagOrEnvironment) {
  TempFile file("adapters:\n  a: {address: 127.0.0.1:1, deadline_ms: 100}\n"
                "routes:\n  - {payment_gateway: adyen, adapter: a}\n");
  const auto by_flag = Parse({"--database-url", "postgresql://x@127.0.0.1/db", "--adapters-config",
                              file.path()});
  ASSERT_TRUE(by_flag.ok());
  ASSERT_TRUE(by_flag.value().adapters);
  EXPECT_EQ(EffectiveAdapters(by_flag.value()).routes.size(), 1u);
  EXPECT_FALSE(EffectiveAdapters(by_flag.value()).default_adapter);

  ::setenv("PAYORCH_ADAPTERS_CONFIG", file.path().c_str(), 1);
  const auto by_env = Parse({"--database-url", "postgresql://x@127.0.0.1/db"});
  ::unsetenv("PAYORCH_ADAPTERS_CONFIG");
  ASSERT_TRUE(by_env.ok());
  EXPECT_EQ(by_env.value().adapters_config_path, file.path());
  EXPECT_EQ(EffectiveAdapters(by_env.value()).adapters.at("a").deadline.count(), 100);
}

TEST(WorkerConfig, AdaptersFileWithAdapterFlagsOrBadContentExitsTwo) {
  TempFile file("adapters:\n  a: {address: 127.0.0.1:1, deadline_ms: 3000}\n");
  const std::string db = "postgresql://x@127.0.0.1/db";
  const std::vector<std::vector<std::string>> bad = {
      {"--database-url", db, "--adapters-config", file.path(), "--adapter-address", "x:1"},
      {"--database-url", db, "--adapters-config", file.path(), "--max-attempts", "3"},
      {"--database-url", db, "--adapters-config", file.path(), "--breaker-failures", "3"},
      // lease 5000 does not exceed twice the file's 3000 ms deadline
      {"--database-url", db, "--adapters-config", file.path(), "--lease-ms", "5000"},
      {"--database-url", db, "--adapters-config", "/nonexistent/adapters.yaml"},
  };
  for (const auto& args : bad) {
    const auto config = Parse(args);
    ASSERT_FALSE(config.ok()) << args[4];
    EXPECT_EQ(config.error().exit_code, 2) << args[4];
  }
  ::setenv("PAYORCH_ADAPTER_ADDRESS", "127.0.0.1:9", 1);
  const auto env_conflict = Parse({"--database-url", db, "--adapters-config", file.path()});
  ::unsetenv("PAYORCH_ADAPTER_ADDRESS");
  EXPECT_FALSE(env_conflict.ok());
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
