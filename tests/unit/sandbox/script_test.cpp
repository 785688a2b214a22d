// The sandbox's process-wide script as pure functions: latency specs and their samples, error
// rates, the new scripted tokens, and the seeded draws that make every decision repeatable.
#include "gateways/sandbox/script.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gateways/sandbox/key_store.hpp"

namespace payorch::gateways::sandbox {
namespace {

using std::chrono::milliseconds;
using LatencyKind = LatencySpec::Kind;

TEST(LatencySpecTest, ParsesEveryDocumentedForm) {
  const std::vector<std::pair<std::string, LatencySpec>> cases = {
      {"", LatencySpec{}},
      {"20", {LatencyKind::kFixed, milliseconds(20), milliseconds(20)}},
      {"20ms", {LatencyKind::kFixed, milliseconds(20), milliseconds(20)}},
      {"2s", {LatencyKind::kFixed, milliseconds(2000), milliseconds(2000)}},
      {"10-50", {LatencyKind::kUniform, milliseconds(10), milliseconds(50)}},
      {"10ms-2s", {LatencyKind::kUniform, milliseconds(10), milliseconds(2000)}},
      {"5-5", {LatencyKind::kUniform, milliseconds(5), milliseconds(5)}},
      {"p50=20ms,p99=200ms", {LatencyKind::kLogNormal, milliseconds(20), milliseconds(200)}},
      {"p99=200,p50=20", {LatencyKind::kLogNormal, milliseconds(20), milliseconds(200)}},
      {"60s", {LatencyKind::kFixed, milliseconds(60'000), milliseconds(60'000)}},
  };
  for (const auto& [text, spec] : cases) {
    const auto parsed = ParseLatency(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(*parsed, spec) << text;
  }
  for (const std::string bad : {"abc", "50-10", "61s", "60001", "-5", "1.5", "10-", "-10",
                                "p50=20", "p50=0,p99=10", "p50=200,p99=20", "p50=20,p50=30",
                                "p50=20,p99=200,p90=50", "20 ms", "20m"}) {
    EXPECT_FALSE(ParseLatency(bad).has_value()) << bad;
  }
}

TEST(LatencySpecTest, SamplesStayInTheirRange) {
  const auto uniform = *ParseLatency("10-50");
  EXPECT_EQ(SampleLatency(uniform, 0.0, 0.5), milliseconds(10));
  EXPECT_EQ(SampleLatency(uniform, 0.999999, 0.5), milliseconds(50));
  std::map<long long, int> seen;
  for (int i = 0; i < 4100; ++i) {
    const auto sample = SampleLatency(uniform, Draw(1, "k" + std::to_string(i), 1, "u"), 0);
    ASSERT_GE(sample, milliseconds(10));
    ASSERT_LE(sample, milliseconds(50));
    ++seen[sample.count()];
  }
  EXPECT_EQ(seen.size(), 41u);  // every millisecond of the range occurs
  EXPECT_EQ(SampleLatency(*ParseLatency("20"), 0.3, 0.7), milliseconds(20));
  EXPECT_EQ(SampleLatency(LatencySpec{}, 0.3, 0.7), milliseconds(0));
}

TEST(LatencySpecTest, LogNormalHasTheRequestedMedianAndTail) {
  const auto spec = *ParseLatency("p50=20ms,p99=200ms");
  // cos(2 pi * 0.25) = 0: the median itself.
  EXPECT_EQ(SampleLatency(spec, 0.5, 0.25), milliseconds(20));
  constexpr int kSamples = 20'000;
  std::vector<long long> samples;
  for (int i = 0; i < kSamples; ++i) {
    const std::string key = "k" + std::to_string(i);
    samples.push_back(SampleLatency(spec, Draw(9, key, 1, "a"), Draw(9, key, 1, "b")).count());
  }
  std::sort(samples.begin(), samples.end());
  // Deterministic draws; the bounds leave room for sampling error of 20000 draws.
  EXPECT_NEAR(static_cast<double>(samples[kSamples / 2]), 20.0, 2.0);
  EXPECT_NEAR(static_cast<double>(samples[kSamples * 99 / 100]), 200.0, 40.0);
  EXPECT_LE(samples.back(), kMaxLatency.count());
}

TEST(FaultRatesTest, ParsesNamesAndRates) {
  const auto faults = ParseFaultRates("UNAVAILABLE=0.05,DEADLINE_EXCEEDED=0.01,lost=.5,crash=0");
  ASSERT_TRUE(faults.ok()) << faults.error();
  const std::vector<FaultRate> expected = {
      {{Fault::Kind::kStatus, 14}, 0.05},
      {{Fault::Kind::kStatus, 4}, 0.01},
      {{Fault::Kind::kLost, 0}, 0.5},
      {{Fault::Kind::kCrash, 0}, 0.0},
  };
  EXPECT_EQ(faults.value(), expected);
  EXPECT_TRUE(ParseFaultRates("").value().empty());
  EXPECT_EQ(FaultName(expected[1].fault), "DEADLINE_EXCEEDED");
  EXPECT_EQ(FaultName(expected[3].fault), "crash");
}

TEST(FaultRatesTest, RejectsMalformedSpecsWithAReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"UNAVAILABLE", "NAME=RATE"},
      {"OK=0.1", "OK"},
      {"unavailable=0.1", "unavailable"},
      {"NOPE=0.1", "NOPE"},
      {"UNAVAILABLE=1.5", "[0, 1]"},
      {"UNAVAILABLE=-0.1", "[0, 1]"},
      {"UNAVAILABLE=abc", "[0, 1]"},
      {"UNAVAILABLE=0.1,UNAVAILABLE=0.1", "twice"},
      {"UNAVAILABLE=0.6,ABORTED=0.6", "more than 1"},
      {"UNAVAILABLE=0.1,", "NAME=RATE"},
  };
  for (const auto& [text, reason] : cases) {
    const auto faults = ParseFaultRates(text);
    ASSERT_FALSE(faults.ok()) << text;
    EXPECT_NE(faults.error().find(reason), std::string::npos) << text << ": " << faults.error();
  }
}

TEST(ScriptedTokensTest, NewTokensAndTheirMalformedForms) {
  const auto error = ParseScriptedBehaviour("error:FAILED_PRECONDITION");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind, Behaviour::Kind::kError);
  EXPECT_EQ(error->status_code, 9);
  EXPECT_EQ(error->unavailable_calls, -1);
  const auto counted = ParseScriptedBehaviour("error:UNAVAILABLE:3");
  ASSERT_TRUE(counted.has_value());
  EXPECT_EQ(counted->status_code, 14);
  EXPECT_EQ(counted->unavailable_calls, 3);
  const auto latency = ParseScriptedBehaviour("latency:10-50");
  ASSERT_TRUE(latency.has_value());
  EXPECT_EQ(latency->kind, Behaviour::Kind::kLatency);
  EXPECT_EQ(latency->latency, *ParseLatency("10-50"));
  EXPECT_EQ(ParseScriptedBehaviour("crash-after-effect")->kind,
            Behaviour::Kind::kCrashAfterEffect);
  EXPECT_EQ(ParseScriptedBehaviour("approve")->kind, Behaviour::Kind::kApprove);

  for (const std::string unscripted :
       {"tok_visa", "", "error:OK", "error:NOPE", "error:", "error:UNAVAILABLE:x",
        "error:UNAVAILABLE:1001", "latency:", "latency:abc", "crash", "Approve"}) {
    EXPECT_FALSE(ParseScriptedBehaviour(unscripted).has_value()) << unscripted;
    EXPECT_EQ(ParseBehaviour(unscripted).kind, Behaviour::Kind::kApprove) << unscripted;
  }
  EXPECT_EQ(StatusCodeFromName("UNAUTHENTICATED"), 16);
  EXPECT_FALSE(StatusCodeFromName("OK").has_value());
  EXPECT_EQ(StatusCodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(99), "CODE_99");
}

TEST(DrawTest, IsAFunctionOfSeedKeyAttemptAndPurpose) {
  EXPECT_EQ(Draw(1, "key", 1, "fault"), Draw(1, "key", 1, "fault"));
  EXPECT_NE(Draw(1, "key", 1, "fault"), Draw(2, "key", 1, "fault"));
  EXPECT_NE(Draw(1, "key", 1, "fault"), Draw(1, "key", 2, "fault"));
  EXPECT_NE(Draw(1, "key", 1, "fault"), Draw(1, "kex", 1, "fault"));
  EXPECT_NE(Draw(1, "key", 1, "fault"), Draw(1, "key", 1, "latency"));
  double sum = 0;
  for (int i = 0; i < 10'000; ++i) {
    const double u = Draw(5, "k" + std::to_string(i), 1, "fault");
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10'000, 0.5, 0.02);
}

TEST(PlanCallTest, DefaultBehaviourFaultsAndLatencyFollowTheScript) {
  Script script;
  script.seed = 11;
  script.default_behaviour = ParseScriptedBehaviour("decline:05");
  script.faults = ParseFaultRates("UNAVAILABLE=0.2,lost=0.1").value();
  script.latency = *ParseLatency("10-20");

  EXPECT_EQ(PlanCall(script, "tok_real", "k", 1).behaviour.decline_code, "05");
  EXPECT_EQ(PlanCall(script, "approve", "k", 1).behaviour.kind, Behaviour::Kind::kApprove);

  int unavailable = 0, lost = 0;
  constexpr int kCalls = 10'000;
  for (int i = 0; i < kCalls; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const auto plan = PlanCall(script, "tok", key, 1);
    const auto again = PlanCall(script, "tok", key, 1);
    ASSERT_EQ(plan.fault, again.fault);
    ASSERT_EQ(plan.latency, again.latency);
    ASSERT_GE(plan.latency, milliseconds(10));
    ASSERT_LE(plan.latency, milliseconds(20));
    if (plan.fault) {
      unavailable += plan.fault->kind == Fault::Kind::kStatus;
      lost += plan.fault->kind == Fault::Kind::kLost;
    }
  }
  EXPECT_NEAR(unavailable / double(kCalls), 0.2, 0.02);
  EXPECT_NEAR(lost / double(kCalls), 0.1, 0.02);

  // A token's latency is sampled per call, reproducibly.
  const auto latency = PlanCall(script, "latency:100-200", "k", 3).behaviour.delay;
  EXPECT_GE(latency, milliseconds(100));
  EXPECT_LE(latency, milliseconds(200));
  EXPECT_EQ(PlanCall(script, "latency:100-200", "k", 3).behaviour.delay, latency);
}

TEST(KeyStoreFaultTest, FaultsNeverMakeASecondEffect) {
  KeyStore store;
  auto request = [](std::optional<Fault> fault) {
    return EffectRequest{Rpc::kAuthorize, "key", Behaviour{}, Money{100, "EUR"}, fault};
  };
  const Fault unavailable{Fault::Kind::kStatus, 14};
  const auto refused = store.Execute(request(unavailable));
  EXPECT_EQ(refused.kind, Reply::Kind::kStatus);
  EXPECT_EQ(refused.status_code, 14);
  EXPECT_EQ(store.Find("key")->effects, 0);

  const auto lost = store.Execute(request(Fault{Fault::Kind::kLost, 0}));
  EXPECT_EQ(lost.kind, Reply::Kind::kUnknownAfterEffect);
  EXPECT_FALSE(lost.replayed);
  const auto crash = store.Execute(request(Fault{Fault::Kind::kCrash, 0}));
  EXPECT_TRUE(crash.crash);
  EXPECT_TRUE(crash.replayed);
  // An injected status answers even a key with a result, without touching it.
  EXPECT_EQ(store.Execute(request(unavailable)).kind, Reply::Kind::kStatus);
  EXPECT_EQ(store.Execute(request(std::nullopt)).kind, Reply::Kind::kResult);
  EXPECT_EQ(store.Find("key")->effects, 1);
  EXPECT_EQ(store.Find("key")->calls, 5);
}

}  // namespace
}  // namespace payorch::gateways::sandbox
