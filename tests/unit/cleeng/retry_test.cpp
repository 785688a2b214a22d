#include "services/cleeng/retry.hpp"

#include <gtest/gtest.h>

namespace payorch::cleeng {
namespace {

using std::chrono::milliseconds;

TEST(CleengRetryTest, StatusesAreClassified) {
  const std::pair<int, Verdict> cases[] = {
      {200, Verdict::kSuccess},   {201, Verdict::kSuccess},   {204, Verdict::kSuccess},
      {400, Verdict::kPermanent}, {401, Verdict::kPermanent}, {404, Verdict::kPermanent},
      {409, Verdict::kPermanent}, {422, Verdict::kPermanent}, {302, Verdict::kPermanent},
      {408, Verdict::kRetry},     {429, Verdict::kRetry},     {500, Verdict::kRetry},
      {502, Verdict::kRetry},     {503, Verdict::kRetry},     {504, Verdict::kRetry},
  };
  for (const auto& [status, verdict] : cases) EXPECT_EQ(Classify(status), verdict) << status;
}

TEST(CleengRetryTest, RetryAfterInSecondsIsHonouredAndCapped) {
  EXPECT_EQ(ParseRetryAfter("3"), milliseconds(3000));
  EXPECT_EQ(ParseRetryAfter(" 0 "), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("99999"), milliseconds(3600 * 1000));
  EXPECT_EQ(ParseRetryAfter(""), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-1"), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
}

TEST(CleengRetryTest, BackoffDoublesUpToTheCapWithEqualJitter) {
  const milliseconds base(100), max(1000);
  EXPECT_EQ(RetryDelay(1, base, max, 0.0, std::nullopt), milliseconds(50));
  EXPECT_EQ(RetryDelay(1, base, max, 0.999, std::nullopt), milliseconds(99));
  EXPECT_EQ(RetryDelay(2, base, max, 0.0, std::nullopt), milliseconds(100));
  EXPECT_EQ(RetryDelay(3, base, max, 0.0, std::nullopt), milliseconds(200));
  EXPECT_EQ(RetryDelay(10, base, max, 0.0, std::nullopt), milliseconds(500));
  EXPECT_EQ(RetryDelay(60, base, max, 0.5, std::nullopt), milliseconds(750));
  EXPECT_EQ(RetryDelay(1, base, max, 0.3, milliseconds(4000)), milliseconds(4000));
}

}  // namespace
}  // namespace payorch::cleeng
