#include "gateways/sandbox/state_file.hpp"

#include <gtest/gtest.h>

namespace payorch::gateways::sandbox {
namespace {

TEST(StateFileLineTest, RoundTripsEveryField) {
  const PersistedEffect with_amount{
      "key-1", Rpc::kCapture,
      PaymentOutcome{PaymentOutcome::Status::kApproved, "sbx_00ff", "", "approved \"quoted\"",
                     Money{-5, "JPY"}}};
  const PersistedEffect without_amount{
      "key-2", Rpc::kTerminate,
      PaymentOutcome{PaymentOutcome::Status::kDeclined, "sbx_1", "05", "declined", std::nullopt}};
  for (const auto& effect : {with_amount, without_amount}) {
    const std::string line = StateFile::EncodeLine(effect);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(StateFile::DecodeLine(line), effect) << line;
  }
}

TEST(StateFileLineTest, RejectsTornAndForeignLines) {
  const std::string good = StateFile::EncodeLine(PersistedEffect{
      "k", Rpc::kAuthorize, PaymentOutcome{PaymentOutcome::Status::kApproved, "r", "", "m", {}}});
  ASSERT_TRUE(StateFile::DecodeLine(good).has_value());
  EXPECT_FALSE(StateFile::DecodeLine(good.substr(0, good.size() / 2)).has_value());
  EXPECT_FALSE(StateFile::DecodeLine("").has_value());
  EXPECT_FALSE(StateFile::DecodeLine("[]").has_value());
  EXPECT_FALSE(StateFile::DecodeLine(R"({"v":2,"key":"k"})").has_value());
  // Unknown method or status names: a line of a newer format, not guessed at.
  const std::string tail = R"(,"gateway_reference":"r","decline_code":"","message":""})";
  EXPECT_FALSE(
      StateFile::DecodeLine(R"({"v":1,"key":"k","rpc":"Refund","status":"APPROVED")" + tail)
          .has_value());
  EXPECT_FALSE(
      StateFile::DecodeLine(R"({"v":1,"key":"k","rpc":"Authorize","status":"PENDING")" + tail)
          .has_value());
  EXPECT_TRUE(
      StateFile::DecodeLine(R"({"v":1,"key":"k","rpc":"Authorize","status":"APPROVED")" + tail)
          .has_value());
}

}  // namespace
}  // namespace payorch::gateways::sandbox
