#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "services/core/grpc_tls.hpp"
#include "services/core/result.hpp"
#include "services/worker/circuit_breaker.hpp"
#include "services/worker/retry_policy.hpp"

namespace payorch::worker {

// One named gateway adapter and everything the worker applies to calls to it.
struct AdapterSettings {
  std::string name;     // letters, digits, '_', '-', '.': recorded on attempts, `adapter` label
  std::string address;  // host:port (gRPC target)
  std::chrono::milliseconds deadline{5000};
  int max_in_flight = 0;  // 0: the worker's --concurrency
  RetryPolicy retry;
  BreakerPolicy breaker;
  core::GrpcClientTls tls;  // tls.enabled false: plaintext
  // The contents of the TLS files when they were read: a certificate rotated under the same path
  // is a different connection.
  std::string tls_material;
};

// True when two settings reach the adapter the same way (address, TLS settings and the contents
// of the TLS files): a reload keeps the channel and the gate (in-flight count, breaker) of such an
// adapter.
[[nodiscard]] bool SameConnection(const AdapterSettings& a, const AdapterSettings& b);

// A route matches a job when every field it sets equals the job's field; at least one is set.
struct Route {
  std::optional<std::string> payment_gateway;
  std::optional<std::string> payment_method_id;
  std::string adapter;
};

// The adapters and routes of a worker: from --adapters-config FILE (see docs/routing.md), or
// built from the single-adapter flags (one adapter, no routes, it is the default).
struct AdaptersConfig {
  std::map<std::string, AdapterSettings> adapters;
  std::vector<Route> routes;
  std::optional<std::string> default_adapter;
};

// Parses and validates the YAML text of an adapters file. Every error names the file (`source`),
// the path of the offending key (adapters.sandbox.retry.max_attempts) and its line. Rejects
// unknown and repeated keys at every level, wrong types and out-of-range values, an adapter without
// an address, a route naming an unknown adapter or matching nothing, two routes with the same
// match, a TLS certificate without its key (and unreadable TLS files), and any adapter deadline
// the lease does not outlast twice (lease > 2 x deadline: an in-doubt attempt makes two calls).
// Relative TLS file paths are taken from `base_dir` (the file's folder).
core::Result<AdaptersConfig, std::string> ParseAdaptersConfig(const std::string& text,
                                                              const std::string& source,
                                                              const std::string& base_dir,
                                                              std::chrono::milliseconds lease);

// Reads `path` and parses it as above.
core::Result<AdaptersConfig, std::string> LoadAdaptersConfig(const std::string& path,
                                                              std::chrono::milliseconds lease);

// "payment_gateway=adyen payment_method_id=123" (fields the route sets).
std::string DescribeRoute(const Route& route);

// A summary for --check-config, one line per adapter, route and default ("max_in_flight=-" for
// the worker's concurrency). Names no secret: files are paths.
std::string DescribeAdapters(const AdaptersConfig& config);

// Which adapter a job goes to, from its payment gateway and payment method id (columns of the
// job; absent when the event had none):
//   1. the route setting both fields, when both match;
//   2. else the route setting only payment_method_id, when it matches;
//   3. else the route setting only payment_gateway, when it matches;
//   4. else default_adapter;
// and none otherwise. A method id is the more specific key: it names one stored payment method,
// a gateway names many. Validation forbids two routes with the same match, so the choice is unique.
struct RouteChoice {
  std::optional<std::string> adapter;  // nullopt: routes nowhere
  std::string reason;                  // when nullopt: names the missing route (for last_error)
};
RouteChoice ChooseAdapter(const AdaptersConfig& config,
                          const std::optional<std::string>& payment_gateway,
                          const std::optional<std::string>& payment_method_id);

}  // namespace payorch::worker
