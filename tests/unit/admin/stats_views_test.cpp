#include "services/admin/stats_views.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace payorch::admin {
namespace {

db::JobStats Stats() {
  db::JobStats stats;
  stats.by_state = {{"dead", 2}, {"succeeded", 6}};
  stats.by_topic = {{"subscriptionReadyForPaymentAuthorisation", 8}};
  stats.by_adapter = {{"sandbox", 7}};
  stats.by_outcome = {{"approved", 5}, {"declined", 1}};
  stats.oldest_due_age_seconds = 12.5;
  stats.window_seconds = 86400;
  stats.last_5_minutes = {.window_seconds = 300, .succeeded = 3, .dead = 1, .cancelled = 1};
  stats.last_hour = {.window_seconds = 3600, .succeeded = 0, .dead = 0, .cancelled = 0};
  return stats;
}

TEST(StatsViewsTest, ThroughputAndFailureRate) {
  const db::FinishedWindow window{.window_seconds = 300, .succeeded = 3, .dead = 1, .cancelled = 1};
  EXPECT_DOUBLE_EQ(ThroughputPerMinute(window), 1.0);
  EXPECT_DOUBLE_EQ(*FailureRate(window), 0.25);
  // Cancelled jobs are no failure, and nothing decided means no rate.
  EXPECT_FALSE(FailureRate({.window_seconds = 300, .succeeded = 0, .dead = 0, .cancelled = 4}));
  EXPECT_DOUBLE_EQ(
      ThroughputPerMinute({.window_seconds = 0, .succeeded = 1, .dead = 0, .cancelled = 0}), 0.0);
}

TEST(StatsViewsTest, DocumentHasTheDocumentedShapeWithEveryState) {
  const auto document = StatsDocument(Stats());
  EXPECT_EQ(document.size(), 7u);
  EXPECT_EQ(document.at("window_seconds"), 86400);
  const auto& by_state = document.at("by_state").as_object();
  EXPECT_EQ(by_state.size(), 6u);
  EXPECT_EQ(by_state.at("dead"), 2);
  EXPECT_EQ(by_state.at("queued"), 0);
  EXPECT_EQ(document.at("by_topic").at("subscriptionReadyForPaymentAuthorisation"), 8);
  EXPECT_EQ(document.at("by_adapter").at("sandbox"), 7);
  EXPECT_EQ(document.at("by_outcome").at("declined"), 1);
  EXPECT_EQ(document.at("oldest_due_age_seconds").as_double(), 12.5);
  const auto& windows = document.at("windows").as_array();
  ASSERT_EQ(windows.size(), 2u);
  EXPECT_EQ(windows[0].at("name"), "5m");
  EXPECT_EQ(windows[0].at("seconds"), 300);
  EXPECT_EQ(windows[0].at("finished"), 5);
  EXPECT_EQ(windows[0].at("failure_rate").as_double(), 0.25);
  EXPECT_EQ(windows[0].at("throughput_per_minute").as_double(), 1.0);
  EXPECT_EQ(windows[1].at("name"), "1h");
  EXPECT_TRUE(windows[1].at("failure_rate").is_null());
}

TEST(StatsViewsTest, TablesShowEveryStateAndTheWindows) {
  std::ostringstream out;
  PrintStats(Stats(), out);
  const auto text = out.str();
  EXPECT_NE(text.find("queued     0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dead       2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("oldest due job: 12.5 s waiting\n"), std::string::npos) << text;
  EXPECT_NE(text.find("last 5m  5         3          1     1          1.00        25.0%\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("last 1h  0         0          0     0          0.00        -\n"),
            std::string::npos)
      << text;
}

TEST(StatsViewsTest, HealthReportDocument) {
  HealthReport report;
  report.address = "127.0.0.1:1";
  report.grpc_status = "UNAVAILABLE";
  report.error = "connection refused";
  report.latency_ms = 3;
  const auto document = HealthReportDocument(report);
  EXPECT_EQ(document.size(), 7u);
  EXPECT_TRUE(document.at("status").is_null());
  EXPECT_EQ(document.at("serving"), false);
  EXPECT_EQ(document.at("error"), "connection refused");
  report.serving_status = "SERVING";
  report.error.clear();
  EXPECT_EQ(HealthReportDocument(report).at("serving"), true);
  EXPECT_EQ(GrpcStatusName(14), "UNAVAILABLE");
  EXPECT_EQ(GrpcStatusName(99), "CODE_99");
}

}  // namespace
}  // namespace payorch::admin
