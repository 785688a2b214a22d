// payorch-fake-cleeng as a process, the way end-to-end tests start it: loopback only, control
// endpoints over HTTP, clean exit on SIGTERM.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace payorch::testing {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

TEST(FakeCleengBinaryTest, ServesTheApiAndItsControlEndpointsAndStopsOnSigterm) {
  const int port = FreeTcpPort();
  Process fake("payorch-fake-cleeng",
               {"--listen", "127.0.0.1:" + std::to_string(port), "--publisher-token", "t0k"});
  ASSERT_TRUE(WaitForTcpPort(port, seconds(10))) << fake.Output();

  // No X-Publisher-Token: refused, nothing stored.
  const auto refused = HttpRequest(port, "POST", "/3.1/orders",
                                   R"({"customerId":"1","offerId":"S1","currency":"USD",)"
                                   R"("country":"US"})");
  EXPECT_EQ(refused.status, 401);
  // A fault injected over HTTP hits the next request.
  EXPECT_EQ(HttpRequest(port, "POST", "/_fake/faults",
                        R"({"kind":"429","count":1,"retryAfterSeconds":3})")
                .status,
            200);
  const auto limited = HttpRequest(port, "GET", "/3.1/orders?externalOrderId=x");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers.at("retry-after"), "3");

  const auto state = HttpRequest(port, "GET", "/_fake/state");
  ASSERT_EQ(state.status, 200);
  const json::object parsed = json::parse(state.body).as_object();
  EXPECT_EQ(parsed.at("requests").as_int64(), 2);
  EXPECT_EQ(parsed.at("faultsApplied").as_int64(), 1);
  EXPECT_TRUE(parsed.at("orders").as_array().empty());

  fake.Signal(SIGTERM);
  EXPECT_EQ(fake.Wait(seconds(10)), 0);
}

TEST(FakeCleengBinaryTest, RefusesToListenBeyondLoopback) {
  const auto result = RunCommand("payorch-fake-cleeng", {"--listen", "0.0.0.0:0"}, {}, seconds(10));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("loopback only"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace payorch::testing
