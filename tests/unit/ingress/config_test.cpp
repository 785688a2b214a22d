#include "services/ingress/config.hpp"

#include <gtest/gtest.h>

namespace payorch::ingress {
namespace {

TEST(ParseListenAddressTest, AcceptsNumericHostsAndPorts) {
  boost::asio::ip::tcp::endpoint endpoint;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:8080", endpoint));
  EXPECT_EQ(endpoint.port(), 8080);
  EXPECT_EQ(endpoint.address().to_string(), "127.0.0.1");
  ASSERT_TRUE(ParseListenAddress("[::1]:0", endpoint));
  EXPECT_TRUE(endpoint.address().is_v6());
  EXPECT_EQ(endpoint.port(), 0);
}

TEST(ParseListenAddressTest, RefusesWhatIsNotHostColonPort) {
  boost::asio::ip::tcp::endpoint endpoint;
  for (const char* bad : {"", "8080", ":8080", "127.0.0.1:", "127.0.0.1:65536",
                          "127.0.0.1:80x", "localhost:8080"}) {
    EXPECT_FALSE(ParseListenAddress(bad, endpoint)) << bad;
  }
}

}  // namespace
}  // namespace payorch::ingress

namespace payorch::ingress {
namespace {

std::variant<IngressConfig, int> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "payorch-ingress");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  return ParseConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(ParseConfigTest, ReadsHardeningFlags) {
  const auto parsed =
      Parse({"--database-url", "postgresql://x@127.0.0.1/db", "--hmac-secrets", "new, old",
             "--signature-header", "X-Cleeng-Signature", "--url-tokens", "tok1",
             "--allow-cidrs", "10.0.0.0/8,192.0.2.1", "--trusted-proxies", "127.0.0.1/32",
             "--read-timeout-ms", "500", "--writers", "3", "--db-timeout-ms", "2000",
             "--check-config"});
  ASSERT_TRUE(std::holds_alternative<IngressConfig>(parsed));
  const auto& config = std::get<IngressConfig>(parsed);
  EXPECT_EQ(config.auth.hmac_secrets, (std::vector<std::string>{"new", "old"}));
  EXPECT_EQ(config.auth.signature_header, "X-Cleeng-Signature");
  EXPECT_EQ(config.auth.url_tokens, (std::vector<std::string>{"tok1"}));
  EXPECT_EQ(config.auth.allowed_networks.size(), 2u);
  EXPECT_EQ(config.auth.trusted_proxies.size(), 1u);
  EXPECT_EQ(config.read_timeout_ms, 500);
  EXPECT_EQ(config.writers, 3);
  EXPECT_EQ(config.db_timeout_ms, 2000);
  EXPECT_TRUE(config.check_only);
}

TEST(ParseConfigTest, BadSettingsExitTwo) {
  const std::string url = "postgresql://x@127.0.0.1/db";
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--database-url", url, "--allow-cidrs", "10.0.0.0/40"},
           {"--database-url", url, "--trusted-proxies", "proxy.example"},
           {"--database-url", url, "--url-tokens", "has/slash"},
           {"--database-url", url, "--writers", "0"},
           {"--database-url", url, "--read-timeout-ms", "1"},
           {"--database-url", url, "--signature-header", "Bad Header"},
           {"--database-url", url, "--listen", "nohost"},
           {"--no-such-flag"}}) {
    const auto parsed = Parse(bad);
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << bad[bad.size() - 1];
    EXPECT_EQ(std::get<int>(parsed), 2) << bad[bad.size() - 1];
  }
}

}  // namespace
}  // namespace payorch::ingress
