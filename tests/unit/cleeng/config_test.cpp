#include "services/cleeng/config.hpp"

#include <gtest/gtest.h>

#include "services/cleeng/http_transport.hpp"

namespace payorch::cleeng {
namespace {

CleengConfig Enabled() {
  CleengConfig config;
  config.enabled = true;
  config.publisher_token = "token-123";
  return config;
}

TEST(CleengConfigTest, DisabledIsAlwaysValidAndEnabledNeedsAToken) {
  CleengConfig disabled;
  disabled.base_url = "nonsense";
  EXPECT_EQ(Validate(disabled), std::nullopt);
  EXPECT_EQ(Validate(Enabled()), std::nullopt);
  CleengConfig no_token = Enabled();
  no_token.publisher_token.clear();
  ASSERT_TRUE(Validate(no_token));
  EXPECT_NE(Validate(no_token)->find("PAYORCH_CLEENG_PUBLISHER_TOKEN"), std::string::npos);
}

TEST(CleengConfigTest, BadSettingsAreNamedWithoutTheToken) {
  std::vector<CleengConfig> bad(8, Enabled());
  bad[0].base_url = "ftp://cleeng";
  bad[1].base_url = "https://api.cleeng.com/3.1";
  bad[2].connect_timeout = std::chrono::milliseconds(0);
  bad[3].max_attempts = 0;
  bad[4].backoff_max = std::chrono::milliseconds(1);
  bad[5].max_call_time = std::chrono::milliseconds(10);
  bad[6].ca_file = "/nonexistent/ca.pem";
  bad[7].publisher_token = "token with space";
  for (const CleengConfig& config : bad) {
    const auto problem = Validate(config);
    ASSERT_TRUE(problem) << config.base_url;
    EXPECT_EQ(problem->find("token-123"), std::string::npos);
  }
}

TEST(CleengConfigTest, BaseUrlsNameSandboxProductionOrAnyHost) {
  EXPECT_EQ(ResolveBaseUrl("sandbox"), kSandboxBaseUrl);
  EXPECT_EQ(ResolveBaseUrl("production"), kProductionBaseUrl);
  auto sandbox = ParseBaseUrl(ResolveBaseUrl("sandbox"));
  ASSERT_TRUE(sandbox.ok());
  EXPECT_TRUE(sandbox.value().tls);
  EXPECT_EQ(sandbox.value().host, "api.sandbox.cleeng.com");
  EXPECT_EQ(sandbox.value().port, "443");
  auto fake = ParseBaseUrl("http://127.0.0.1:8089/");
  ASSERT_TRUE(fake.ok());
  EXPECT_FALSE(fake.value().tls);
  EXPECT_EQ(fake.value().port, "8089");
  EXPECT_FALSE(ParseBaseUrl("http://host:0").ok());
  EXPECT_FALSE(ParseBaseUrl("http://host:99999").ok());
  EXPECT_FALSE(ParseBaseUrl("https://user@host").ok());
  EXPECT_FALSE(ParseBaseUrl("https://").ok());
}

}  // namespace
}  // namespace payorch::cleeng
