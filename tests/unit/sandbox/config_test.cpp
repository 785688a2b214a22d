#include "gateways/sandbox/config.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace payorch::gateways::sandbox {
namespace {

TEST(SandboxConfigTest, ListenPortParsesHostPort) {
  const std::vector<std::pair<std::string, std::optional<int>>> cases = {
      {"127.0.0.1:50051", 50051}, {"0.0.0.0:0", 0},      {"localhost:65535", 65535},
      {"[::1]:8080", 8080},       {"[::]:1", 1},         {"127.0.0.1", std::nullopt},
      {":50051", std::nullopt},   {"host:", std::nullopt}, {"host:65536", std::nullopt},
      {"host:-1", std::nullopt},  {"host:12a", std::nullopt}, {"::1:80", std::nullopt},
      {"host:123456", std::nullopt}, {"", std::nullopt},
  };
  for (const auto& [listen, port] : cases) {
    EXPECT_EQ(ListenPort(listen), port) << "listen: \"" << listen << "\"";
  }
}

TEST(SandboxConfigTest, DefaultsAreValid) {
  EXPECT_EQ(ValidateConfig(SandboxConfig{}), std::nullopt);
}

TEST(SandboxConfigTest, BadSettingsAreNamed) {
  SandboxConfig bad_listen;
  bad_listen.listen = "nowhere";
  const auto listen_problem = ValidateConfig(bad_listen);
  ASSERT_TRUE(listen_problem.has_value());
  EXPECT_NE(listen_problem->find("--listen"), std::string::npos);

  SandboxConfig bad_level;
  bad_level.log_level = "loud";
  const auto level_problem = ValidateConfig(bad_level);
  ASSERT_TRUE(level_problem.has_value());
  EXPECT_NE(level_problem->find("--log-level"), std::string::npos);

  SandboxConfig bad_metrics;
  bad_metrics.metrics_listen = "9465";
  const auto metrics_problem = ValidateConfig(bad_metrics);
  ASSERT_TRUE(metrics_problem.has_value());
  EXPECT_NE(metrics_problem->find("--metrics-listen"), std::string::npos);

  SandboxConfig bad_format;
  bad_format.log_format = "xml";
  const auto format_problem = ValidateConfig(bad_format);
  ASSERT_TRUE(format_problem.has_value());
  EXPECT_NE(format_problem->find("--log-format"), std::string::npos);
}

TEST(SandboxConfigTest, MaxInFlightIsBetweenOneAndTheLimit) {
  for (const int bad : {0, -1, kMaxMaxInFlight + 1}) {
    SandboxConfig config;
    config.max_in_flight = bad;
    const auto problem = ValidateConfig(config);
    ASSERT_TRUE(problem.has_value()) << bad;
    EXPECT_NE(problem->find("--max-in-flight"), std::string::npos) << *problem;
  }
  for (const int good : {1, kDefaultMaxInFlight, kMaxMaxInFlight}) {
    SandboxConfig config;
    config.max_in_flight = good;
    EXPECT_EQ(ValidateConfig(config), std::nullopt) << good;
  }
}

}  // namespace
}  // namespace payorch::gateways::sandbox
