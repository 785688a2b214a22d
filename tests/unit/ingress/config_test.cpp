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
