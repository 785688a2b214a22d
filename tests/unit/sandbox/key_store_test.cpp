#include "gateways/sandbox/key_store.hpp"

#include <gtest/gtest.h>

#include <string>

namespace payorch::gateways::sandbox {
namespace {

EffectRequest Request(std::string key, std::string_view token, Rpc rpc = Rpc::kAuthorize) {
  return EffectRequest{rpc, std::move(key), ParseBehaviour(token), Money{1299, "USD"}};
}

TEST(KeyStoreTest, ApproveStoresOneEffectAndEchoesTheAmount) {
  KeyStore store;
  const Reply reply = store.Execute(Request("k1", "approve"));
  ASSERT_EQ(reply.kind, Reply::Kind::kResult);
  EXPECT_EQ(reply.result->status, PaymentOutcome::Status::kApproved);
  EXPECT_EQ(reply.result->gateway_reference, GatewayReferenceFor("k1"));
  EXPECT_EQ(reply.result->amount, (Money{1299, "USD"}));
  EXPECT_FALSE(reply.replayed);
  const auto record = store.Find("k1");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->effects, 1);
  EXPECT_EQ(record->calls, 1);
}

TEST(KeyStoreTest, LaterCallsReplayTheFirstResultWhateverTheirTokenOrMethod) {
  KeyStore store;
  const Reply first = store.Execute(Request("k1", "decline:05"));
  ASSERT_EQ(first.kind, Reply::Kind::kResult);
  for (const char* token : {"approve", "invalid", "lost", "slow:5000", "unavailable:3"}) {
    const Reply later = store.Execute(Request("k1", token, Rpc::kCapture));
    ASSERT_EQ(later.kind, Reply::Kind::kResult) << token;
    EXPECT_TRUE(later.replayed) << token;
    EXPECT_EQ(later.delay.count(), 0) << token;
    EXPECT_EQ(later.result, first.result) << token;
  }
  const auto record = store.Find("k1");
  EXPECT_EQ(record->effects, 1);
  EXPECT_EQ(record->calls, 6);
  EXPECT_EQ(record->rpc, Rpc::kAuthorize);
}

TEST(KeyStoreTest, UnavailableAnswersNTimesWithoutEffectThenApproves) {
  KeyStore store;
  EXPECT_EQ(store.Execute(Request("k", "unavailable:2")).kind, Reply::Kind::kUnavailable);
  EXPECT_FALSE(store.Lookup("k").has_value());
  EXPECT_EQ(store.Execute(Request("k", "unavailable:2")).kind, Reply::Kind::kUnavailable);
  const Reply third = store.Execute(Request("k", "unavailable:2"));
  ASSERT_EQ(third.kind, Reply::Kind::kResult);
  EXPECT_EQ(third.result->status, PaymentOutcome::Status::kApproved);
  const auto record = store.Find("k");
  EXPECT_EQ(record->effects, 1);
  EXPECT_EQ(record->calls, 3);
}

TEST(KeyStoreTest, SlowAppliesTheEffectAtOnceAndAsksForTheDelay) {
  KeyStore store;
  const Reply reply = store.Execute(Request("k", "slow:250"));
  EXPECT_EQ(reply.kind, Reply::Kind::kResult);
  EXPECT_EQ(reply.delay, std::chrono::milliseconds(250));
  EXPECT_TRUE(store.Lookup("k").has_value());
}

TEST(KeyStoreTest, LostAppliesTheEffectAndAnswersUnknown) {
  KeyStore store;
  EXPECT_EQ(store.Execute(Request("k", "lost")).kind, Reply::Kind::kUnknownAfterEffect);
  const Reply retry = store.Execute(Request("k", "lost"));
  EXPECT_EQ(retry.kind, Reply::Kind::kResult);
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(store.Find("k")->effects, 1);
}

TEST(KeyStoreTest, InvalidCausesNoEffectButIsCounted) {
  KeyStore store;
  EXPECT_EQ(store.Execute(Request("k", "invalid")).kind, Reply::Kind::kInvalidArgument);
  EXPECT_FALSE(store.Lookup("k").has_value());
  const auto record = store.Find("k");
  EXPECT_EQ(record->effects, 0);
  EXPECT_EQ(record->calls, 1);
}

TEST(KeyStoreTest, LookupOfAnUnknownKeyCreatesNothing) {
  KeyStore store;
  EXPECT_FALSE(store.Lookup("never-seen").has_value());
  EXPECT_FALSE(store.Find("never-seen").has_value());
}

TEST(KeyStoreTest, AFullStoreRefusesNewKeysButServesKnownOnes) {
  KeyStore store(nullptr, /*max_keys=*/1);
  ASSERT_EQ(store.Execute(Request("a", "approve")).kind, Reply::Kind::kResult);
  EXPECT_EQ(store.Execute(Request("b", "approve")).kind, Reply::Kind::kResourceExhausted);
  EXPECT_EQ(store.Execute(Request("a", "approve")).kind, Reply::Kind::kResult);
}

TEST(KeyStoreTest, RestoreKeepsTheFirstResultAndCountsEveryEffect) {
  KeyStore store;
  const PaymentOutcome approved{PaymentOutcome::Status::kApproved, "sbx_1", "", "ok",
                                Money{5, "EUR"}};
  const PaymentOutcome declined{PaymentOutcome::Status::kDeclined, "sbx_1", "05", "no", {}};
  store.Restore({{"k", Rpc::kCapture, approved}, {"k", Rpc::kAuthorize, declined}});
  const auto record = store.Find("k");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->effects, 2);
  EXPECT_EQ(record->calls, 0);
  EXPECT_EQ(record->rpc, Rpc::kCapture);
  EXPECT_EQ(store.Lookup("k"), approved);
}

TEST(KeyStoreTest, ListSortsLimitsAndTotals) {
  KeyStore store;
  (void)store.Execute(Request("c", "approve"));
  (void)store.Execute(Request("a", "unavailable:1"));
  (void)store.Execute(Request("b", "decline"));
  (void)store.Execute(Request("b", "decline"));
  EffectTotals totals;
  const auto records = store.List(2, totals);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].idempotency_key, "a");
  EXPECT_EQ(records[1].idempotency_key, "b");
  EXPECT_EQ(totals.keys, 3);
  EXPECT_EQ(totals.effects, 2);
  EXPECT_EQ(totals.calls, 4);
}

TEST(IdempotencyKeyTest, FollowsTheContractSyntax) {
  EXPECT_TRUE(IsValidIdempotencyKey("job-42_attempt"));
  EXPECT_TRUE(IsValidIdempotencyKey(std::string(64, 'a')));
  EXPECT_FALSE(IsValidIdempotencyKey(""));
  EXPECT_FALSE(IsValidIdempotencyKey(std::string(65, 'a')));
  EXPECT_FALSE(IsValidIdempotencyKey("has space"));
  EXPECT_FALSE(IsValidIdempotencyKey("semi;colon"));
}

TEST(GatewayReferenceTest, IsStableAndDistinctPerKey) {
  EXPECT_EQ(GatewayReferenceFor("abc"), GatewayReferenceFor("abc"));
  EXPECT_NE(GatewayReferenceFor("abc"), GatewayReferenceFor("abd"));
  // FNV-1a 64 of "a": a fixed value, so references survive restarts and rebuilds.
  EXPECT_EQ(GatewayReferenceFor("a"), "sbx_af63dc4c8601ec8c");
}

}  // namespace
}  // namespace payorch::gateways::sandbox
