// The adapters file (--adapters-config): every kind of bad file fails with a message naming the
// key, and the routing function picks the most specific route, then the default, then none.
#include "services/worker/adapters_config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/tls_certificates.hpp"

namespace payorch::worker {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kLease{60000};

core::Result<AdaptersConfig, std::string> Parse(const std::string& text,
                                                milliseconds lease = kLease) {
  return ParseAdaptersConfig(text, "adapters.yaml", "/etc/payorch", lease);
}

TEST(AdaptersConfig, FullFileWithDefaults) {
  const auto parsed = Parse(R"(
adapters:
  sandbox:
    address: 127.0.0.1:50051
    deadline_ms: 4000
    max_in_flight: 64
    retry: {max_attempts: 3, backoff_base_ms: 50, backoff_max_ms: 200}
    breaker: {failures: 7, probe_ms: 900}
  other:
    address: adapter.internal:443
routes:
  - {payment_gateway: adyen, adapter: sandbox}
  - {payment_gateway: adyen, payment_method_id: 123, adapter: other}
default_adapter: sandbox
)");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const AdaptersConfig& config = parsed.value();
  ASSERT_EQ(config.adapters.size(), 2u);
  const AdapterSettings& sandbox = config.adapters.at("sandbox");
  EXPECT_EQ(sandbox.name, "sandbox");
  EXPECT_EQ(sandbox.address, "127.0.0.1:50051");
  EXPECT_EQ(sandbox.deadline.count(), 4000);
  EXPECT_EQ(sandbox.max_in_flight, 64);
  EXPECT_EQ(sandbox.retry.max_attempts, 3);
  EXPECT_EQ(sandbox.retry.base_delay.count(), 50);
  EXPECT_EQ(sandbox.retry.max_delay.count(), 200);
  EXPECT_EQ(sandbox.breaker.failure_threshold, 7);
  EXPECT_EQ(sandbox.breaker.probe_interval.count(), 900);
  EXPECT_FALSE(sandbox.tls.enabled);
  // Unset keys take the flags' defaults; max_in_flight 0 means the worker's concurrency.
  const AdapterSettings& other = config.adapters.at("other");
  EXPECT_EQ(other.deadline.count(), 5000);
  EXPECT_EQ(other.max_in_flight, 0);
  EXPECT_EQ(other.retry.max_attempts, 8);
  EXPECT_EQ(other.breaker.failure_threshold, 5);
  ASSERT_EQ(config.routes.size(), 2u);
  EXPECT_EQ(config.routes[1].payment_method_id, std::optional<std::string>("123"));  // a number
  EXPECT_EQ(DescribeRoute(config.routes[1]), "payment_gateway=adyen payment_method_id=123");
  EXPECT_EQ(config.default_adapter, std::optional<std::string>("sandbox"));
  const std::string summary = DescribeAdapters(config);
  EXPECT_NE(summary.find("route payment_gateway=adyen -> sandbox"), std::string::npos) << summary;
  EXPECT_NE(summary.find("default_adapter sandbox"), std::string::npos) << summary;
}

struct BadFile {
  const char* what;
  std::string text;
  std::string message;  // a part of the error
  milliseconds lease = kLease;
};

TEST(AdaptersConfig, BadFilesFailWithTheKeyAndTheProblem) {
  const std::string ok_adapter = "adapters:\n  a: {address: 127.0.0.1:1}\n";
  const std::vector<BadFile> bad = {
      {"not YAML", "adapters: [a, b", "not valid YAML"},
      {"empty file", "", "top level: must be a mapping"},
      {"unknown top key", ok_adapter + "route: []\n",
       "route (line 3): unknown key (known: adapters, routes, default_adapter)"},
      {"no adapters", "routes: []\n", "adapters (line 1): is missing (at least one adapter)"},
      {"adapters not a map", "adapters: [a]\n", "adapters (line 1): must be a mapping"},
      {"bad adapter name", "adapters:\n  'a b': {address: x:1}\n",
       "adapters.a b (line 2): adapter names are"},
      {"unknown adapter key", "adapters:\n  a: {address: x:1, adress: y}\n",
       "adapters.a.adress (line 2): unknown key (known: address, deadline_ms"},
      {"unknown retry key",
       "adapters:\n  a:\n    address: x:1\n    retry: {max_attemps: 3}\n",
       "adapters.a.retry.max_attemps (line 4): unknown key"},
      {"unknown breaker key", "adapters:\n  a: {address: x:1, breaker: {probe: 1}}\n",
       "adapters.a.breaker.probe (line 2): unknown key (known: failures, probe_ms)"},
      {"unknown tls key", "adapters:\n  a: {address: x:1, tls: {ca: x}}\n",
       "adapters.a.tls.ca (line 2): unknown key"},
      {"repeated key", "adapters:\n  a: {address: x:1, address: y:2}\n",
       "adapters.a.address (line 2): repeated key"},
      {"missing address", "adapters:\n  a: {deadline_ms: 100}\n",
       "adapters.a (line 2): address is missing"},
      {"address not a string", "adapters:\n  a: {address: [x]}\n",
       "adapters.a.address (line 2): must be a non-empty string"},
      {"deadline not a number", "adapters:\n  a: {address: x:1, deadline_ms: soon}\n",
       "adapters.a.deadline_ms (line 2): must be an integer from 1 to 600000, got \"soon\""},
      {"deadline out of range", "adapters:\n  a: {address: x:1, deadline_ms: 0}\n",
       "adapters.a.deadline_ms (line 2): must be an integer from 1 to 600000"},
      {"max_in_flight a fraction", "adapters:\n  a: {address: x:1, max_in_flight: 1.5}\n",
       "adapters.a.max_in_flight (line 2): must be an integer"},
      {"retry not a map", "adapters:\n  a: {address: x:1, retry: 3}\n",
       "adapters.a.retry (line 2): must be a mapping"},
      {"backoff max below base",
       "adapters:\n  a: {address: x:1, retry: {backoff_base_ms: 100, backoff_max_ms: 10}}\n",
       "backoff_max_ms (10) must be at least backoff_base_ms (100)"},
      {"lease not above twice the deadline", "adapters:\n  a: {address: x:1, deadline_ms: 3000}\n",
       "adapters.a.deadline_ms (line 2): the worker's lease (--lease-ms 6000) must exceed twice "
       "this deadline (3000)",
       milliseconds(6000)},
      {"tls cert without key", "adapters:\n  a: {address: x:1, tls: {cert_file: c.pem}}\n",
       "adapters.a.tls (line 2): cert_file is set without key_file"},
      {"tls key without cert", "adapters:\n  a: {address: x:1, tls: {key_file: k.pem}}\n",
       "adapters.a.tls (line 2): key_file is set without cert_file"},
      {"tls file missing", "adapters:\n  a: {address: x:1, tls: {ca_file: nowhere.pem}}\n",
       "adapters.a.tls (line 2): ca_file: cannot read /etc/payorch/nowhere.pem"},
      {"tls empty value", "adapters:\n  a: {address: x:1, tls: }\n",
       "adapters.a.tls (line 2): must be a mapping"},
      {"routes not a list", ok_adapter + "routes: {payment_gateway: adyen}\n",
       "routes (line 3): must be a list of routes"},
      {"route to an unknown adapter", ok_adapter + "routes:\n  - {payment_gateway: adyen, adapter: b}\n",
       "routes[0].adapter (line 4): no adapter named \"b\""},
      {"route without adapter", ok_adapter + "routes:\n  - {payment_gateway: adyen}\n",
       "routes[0] (line 4): adapter is missing"},
      {"route matching nothing", ok_adapter + "routes:\n  - {adapter: a}\n",
       "routes[0] (line 4): a route needs payment_gateway and/or payment_method_id"},
      {"unknown route key", ok_adapter + "routes:\n  - {gateway: adyen, adapter: a}\n",
       "routes[0].gateway (line 4): unknown key (known: payment_gateway, payment_method_id, "
       "adapter)"},
      {"two routes with the same match",
       ok_adapter +
           "routes:\n  - {payment_gateway: adyen, adapter: a}\n"
           "  - {payment_method_id: '1', adapter: a}\n  - {payment_gateway: adyen, adapter: a}\n",
       "routes[2] (line 6): same match as routes[0] (payment_gateway=adyen)"},
      {"default names an unknown adapter", ok_adapter + "default_adapter: b\n",
       "default_adapter (line 3): no adapter named \"b\""},
  };
  for (const auto& file : bad) {
    const auto parsed = Parse(file.text, file.lease);
    ASSERT_FALSE(parsed.ok()) << file.what;
    EXPECT_EQ(parsed.error().rfind("adapters.yaml: ", 0), 0u) << file.what << ": " << parsed.error();
    EXPECT_NE(parsed.error().find(file.message), std::string::npos)
        << file.what << "\n  got:  " << parsed.error() << "\n  want: " << file.message;
  }
}

TEST(AdaptersConfig, TlsFilesRelativeToTheFileAndReadable) {
  const auto certs = testing::MakeTlsCertificates();
  const std::string path = certs.dir + "/adapters.yaml";
  {
    std::ofstream out(path);
    out << "adapters:\n  a:\n    address: 127.0.0.1:1\n    tls:\n"
        << "      ca_file: " << std::filesystem::path(certs.ca_cert).filename().string() << "\n"
        << "      cert_file: " << certs.client_cert << "\n"
        << "      key_file: " << certs.client_key << "\n"
        << "      server_name: adapter.test\n";
  }
  const auto parsed = LoadAdaptersConfig(path, kLease);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const auto& tls = parsed.value().adapters.at("a").tls;
  EXPECT_TRUE(tls.enabled);
  // The relative ca_file was taken from the file's folder.
  EXPECT_TRUE(std::filesystem::path(tls.ca_file).is_absolute()) << tls.ca_file;
  EXPECT_TRUE(std::filesystem::equivalent(tls.ca_file, certs.ca_cert)) << tls.ca_file;
  EXPECT_EQ(tls.cert_file, certs.client_cert);
  EXPECT_EQ(tls.server_name, "adapter.test");

  const auto missing = LoadAdaptersConfig(certs.dir + "/absent.yaml", kLease);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("cannot read"), std::string::npos) << missing.error();
}

TEST(AdaptersConfig, SameConnectionComparesAddressAndTlsOnly) {
  AdapterSettings a;
  a.address = "127.0.0.1:1";
  AdapterSettings b = a;
  b.deadline = milliseconds(1);
  b.retry.max_attempts = 1;
  b.max_in_flight = 3;
  EXPECT_TRUE(SameConnection(a, b));
  b.tls.enabled = true;
  EXPECT_FALSE(SameConnection(a, b));
  b = a;
  b.address = "127.0.0.1:2";
  EXPECT_FALSE(SameConnection(a, b));
}

AdaptersConfig RoutingExample(bool with_default) {
  AdaptersConfig config;
  for (const char* name : {"by_gateway", "by_method", "by_both", "fallback"}) {
    AdapterSettings settings;
    settings.name = name;
    settings.address = "127.0.0.1:1";
    config.adapters.emplace(name, settings);
  }
  config.routes = {Route{"adyen", std::nullopt, "by_gateway"},
                   Route{std::nullopt, "123", "by_method"},
                   Route{"adyen", "123", "by_both"}};
  if (with_default) config.default_adapter = "fallback";
  return config;
}

TEST(ChooseAdapter, MostSpecificRouteThenDefaultThenNone) {
  const auto config = RoutingExample(true);
  struct Case {
    std::optional<std::string> gateway, method;
    std::string adapter;
  };
  const std::vector<Case> cases = {
      {"adyen", "123", "by_both"},         // both fields beat either alone
      {"adyen", "999", "by_gateway"},      // method differs: the gateway route
      {"adyen", std::nullopt, "by_gateway"},
      {"stripe", "123", "by_method"},      // a method route matches any gateway
      {std::nullopt, "123", "by_method"},
      {"stripe", "999", "fallback"},
      {std::nullopt, std::nullopt, "fallback"},
      {"Adyen", std::nullopt, "fallback"},  // exact match: case counts
  };
  for (const auto& c : cases) {
    const auto choice = ChooseAdapter(config, c.gateway, c.method);
    EXPECT_EQ(choice.adapter, std::optional<std::string>(c.adapter))
        << c.gateway.value_or("-") << "/" << c.method.value_or("-");
  }
}

TEST(ChooseAdapter, NoRouteAndNoDefaultNamesTheMissingRoute) {
  const auto config = RoutingExample(false);
  EXPECT_EQ(ChooseAdapter(config, "adyen", "123").adapter, std::optional<std::string>("by_both"));
  const auto none = ChooseAdapter(config, "stripe", "999");
  EXPECT_FALSE(none.adapter);
  EXPECT_EQ(none.reason, "no route: payment_gateway=stripe payment_method_id=999 and no default_adapter");
  const auto blank = ChooseAdapter(config, std::nullopt, std::nullopt);
  EXPECT_EQ(blank.reason,
            "no route: payment_gateway=(none) payment_method_id=(none) and no default_adapter");
}

}  // namespace
}  // namespace payorch::worker
