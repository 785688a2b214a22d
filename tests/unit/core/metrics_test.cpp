#include "services/core/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace payorch::core {
namespace {

TEST(Registry, RendersCountersGaugesAndHistogramsInPrometheusTextFormat) {
  Registry registry;
  registry.GetCounter("payorch_requests_total", "Requests.", {{"route", "/x"}, {"status", "200"}})
      .Increment(3);
  registry.GetGauge("payorch_queue_depth", "Queued.").Set(7);
  auto& latency = registry.GetHistogram("payorch_latency_seconds", "Latency.", {{"route", "/x"}},
                                        {0.1, 1});
  latency.Observe(0.05);
  latency.Observe(0.5);
  latency.Observe(5);

  EXPECT_EQ(registry.Render(),
            "# HELP payorch_latency_seconds Latency.\n"
            "# TYPE payorch_latency_seconds histogram\n"
            "payorch_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"
            "payorch_latency_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
            "payorch_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
            "payorch_latency_seconds_sum{route=\"/x\"} 5.55\n"
            "payorch_latency_seconds_count{route=\"/x\"} 3\n"
            "# HELP payorch_queue_depth Queued.\n"
            "# TYPE payorch_queue_depth gauge\n"
            "payorch_queue_depth 7\n"
            "# HELP payorch_requests_total Requests.\n"
            "# TYPE payorch_requests_total counter\n"
            "payorch_requests_total{route=\"/x\",status=\"200\"} 3\n");
}

TEST(Registry, ReturnsTheSameSeriesForTheSameLabels) {
  Registry registry;
  auto& a = registry.GetCounter("c_total", "C.", {{"k", "v"}});
  auto& b = registry.GetCounter("c_total", "C.", {{"k", "v"}});
  auto& other = registry.GetCounter("c_total", "C.", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  EXPECT_THROW(registry.GetGauge("c_total", "C."), std::logic_error);
}

TEST(Registry, EscapesLabelValues) {
  Registry registry;
  registry.GetCounter("c_total", "C.", {{"error", "a \"b\"\\\n"}}).Increment();
  EXPECT_NE(registry.Render().find(R"(c_total{error="a \"b\"\\\n"} 1)"), std::string::npos);
}

TEST(Counter, CountsEveryIncrementFromManyThreads) {
  Registry registry;
  auto& counter = registry.GetCounter("c_total", "C.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) counter.Increment();
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 40000u);
}

}  // namespace
}  // namespace payorch::core
