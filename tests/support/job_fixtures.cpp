#include "tests/support/job_fixtures.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>

#include "tests/support/process.hpp"

namespace payorch::testing {

namespace json = boost::json;

std::string CleengWebhook(std::string_view topic, const std::string& subscription,
                          const std::string& token, const std::string& date) {
  json::object data{{"subscriptionId", subscription},
                    {"offerId", "S123123123_US"},
                    {"customerId", 123321123},
                    {"customerEmail", kCustomerEmail},
                    {"paymentDetailsId", 665665665},
                    {"currency", "USD"},
                    {"paymentCountry", "BY"},
                    {"paymentMethodId", 123123123},
                    {"token", token}};
  data[topic == "subscriptionReadyForTermination" ? "expirationDate" : "dunningAttemptDate"] = date;
  return json::serialize(
      json::object{{"broadcasterId", 123456789}, {"topic", topic}, {"data", data}});
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

JobRow ReadJob(const TestDatabase& database, std::int64_t id) {
  auto connection = database.Connect();
  pqxx::work tx(*connection);
  const auto row = tx.exec_params1(
      "SELECT state, coalesce(outcome, ''), coalesce(decline_code, ''), "
      "coalesce(gateway_reference, ''), coalesce(last_error, ''), idempotency_key, attempts, "
      "deliveries FROM jobs WHERE id = $1",
      id);
  return {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
          row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
          row[6].as<int>(),         row[7].as<int>()};
}

JobRow WaitForFinalState(const TestDatabase& database, std::int64_t id,
                         std::chrono::milliseconds timeout) {
  JobRow job;
  Eventually(
      [&] {
        job = ReadJob(database, id);
        return job.state == "succeeded" || job.state == "dead" || job.state == "cancelled";
      },
      timeout);
  return job;
}

std::vector<std::string> AttemptDecisions(const TestDatabase& database, std::int64_t id) {
  auto connection = database.Connect();
  pqxx::work tx(*connection);
  std::vector<std::string> decisions;
  for (const auto& row :
       tx.exec_params("SELECT decision FROM job_attempts WHERE job_id = $1 ORDER BY attempt", id)) {
    decisions.push_back(row[0].as<std::string>());
  }
  return decisions;
}

}  // namespace payorch::testing
