#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/test_database.hpp"

namespace payorch::testing {

// What end-to-end tests post and check: Cleeng webhooks, and the jobs they became.

// A Cleeng webhook body with realistic data (DOMAIN.md): the payment token selects the adapter's
// behaviour; renewals carry `date` as dunningAttemptDate, a termination as expirationDate. The
// customer e-mail is one every test can look for in logs, where it must never appear.
inline constexpr std::string_view kCustomerEmail = "customer@example.com";
std::string CleengWebhook(std::string_view topic, const std::string& subscription,
                          const std::string& token,
                          const std::string& date = "2026-11-29T10:00:00Z");

// A name no other test or process uses: prefix-pid-counter.
std::string UniqueName(const std::string& prefix);

struct JobRow {
  std::string state;
  std::string outcome;
  std::string decline_code;
  std::string gateway_reference;
  std::string last_error;
  std::string idempotency_key;
  int attempts = 0;
  int deliveries = 0;
};

JobRow ReadJob(const TestDatabase& database, std::int64_t id);
// The job once it is succeeded, dead or cancelled; as it is when `timeout` passes otherwise.
JobRow WaitForFinalState(const TestDatabase& database, std::int64_t id,
                         std::chrono::milliseconds timeout);
// The decision of each attempt, in attempt order.
std::vector<std::string> AttemptDecisions(const TestDatabase& database, std::int64_t id);

}  // namespace payorch::testing
