#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "services/admin/health_check.hpp"

namespace payorch::admin {

// The conformance suite of `adapter check`: a fixed list of checks run against a live adapter
// over gRPC (plaintext, TLS or mutual TLS: ConformanceOptions::tls), through payorch.gateway.v1.PaymentGateway and grpc.health.v1.Health.
//
// What it can observe from outside, and what it cannot: it sees answers only. It cannot count
// the effects an adapter causes at its gateway, so "one effect per key" is checked through what
// an effect leaves visible: the same key must always answer the same status and
// gateway_reference (repeated and concurrent), and GetPaymentStatus must report that result.
// An adapter that charged twice but answered with the first reference would pass. It cannot
// tell either which codes an adapter would use for a real gateway outage, or whether declines
// are answered as DECLINED: it checks only the answers it provokes (valid requests with a
// neutral token, invalid requests, a short deadline) plus that every answer's code is one the
// contract documents and that no OK answer says STATUS_UNSPECIFIED.
//
// Every check uses fresh idempotency keys "conf_<run id>_<n>", so runs never collide and the
// suite can be run against a live adapter; each valid request is a real payment step at the
// adapter's gateway (use a test account): six keys per run cause effects.

// The check names, in the order the suite runs them.
inline constexpr const char* kCheckHealth = "health";
inline constexpr const char* kCheckAuthorize = "authorize_valid";
inline constexpr const char* kCheckCapture = "capture_valid";
inline constexpr const char* kCheckTerminate = "terminate_valid";
inline constexpr const char* kCheckMissingMeta = "invalid_missing_meta";
inline constexpr const char* kCheckEmptyKey = "invalid_empty_key";
inline constexpr const char* kCheckRepeat = "idempotent_repeat";
inline constexpr const char* kCheckKnownKey = "status_known_key";
inline constexpr const char* kCheckConcurrent = "idempotent_concurrent";
inline constexpr const char* kCheckUnknownKey = "status_unknown_key";
inline constexpr const char* kCheckShortDeadline = "short_deadline";
inline constexpr const char* kCheckErrorCodes = "error_code_mapping";

// Every check name, in order.
std::vector<std::string> ConformanceCheckNames();

inline constexpr const char* kDefaultConformanceToken = "conformance";
inline constexpr int kConcurrentCalls = 10;
inline constexpr std::chrono::milliseconds kShortDeadline{1};

struct ConformanceOptions {
  std::string address;  // host:port
  std::string service;  // grpc.health.v1 service name asked about; empty = the whole server
  // SubscriptionEvent.token of every valid request: adapters approve a token they have no
  // script for (the sandbox and the Python example do).
  std::string token = kDefaultConformanceToken;
  std::chrono::milliseconds timeout{2000};  // the deadline of each call
  // The middle part of every key: 1..32 characters [A-Za-z0-9]; see NewConformanceRunId.
  std::string run_id;
  // How to reach the adapter: plaintext by default; TLS, with a client certificate for mutual
  // TLS (core::MakeChannel). A failed handshake fails the health check with a reason that says
  // so, and the other checks are not run.
  core::GrpcClientTls tls;
};

struct CheckResult {
  std::string name;
  bool passed = false;
  std::string reason;  // why it failed, or what was seen when it passed
};

struct ConformanceReport {
  HealthReport health;
  std::vector<CheckResult> checks;  // every check of ConformanceCheckNames, in order
  bool AllPassed() const;
  std::vector<std::string> FailedNames() const;
};

// A run id from a random number (16 lower-case hex digits). The caller owns the randomness.
std::string NewConformanceRunId(std::uint64_t random);

// "conf_<run_id>_<n>": the n-th key of a run.
std::string ConformanceKey(std::string_view run_id, int n);

// The contract's key rule: 1..64 characters of [A-Za-z0-9_-].
bool IsValidIdempotencyKeyFormat(std::string_view key);

// How gateway.proto classifies gRPC codes. Documented: every code the contract names (all but
// DATA_LOSS and numbers outside 0..16). Transient: UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED
// (retried with backoff). In doubt: DEADLINE_EXCEEDED, UNKNOWN, INTERNAL, CANCELLED.
bool IsDocumentedCode(int code);
bool IsTransientCode(int code);
bool IsInDoubtCode(int code);

// Runs every check against options.address. Never throws for anything the adapter does; blocks
// for at most about 20 x timeout (19 calls one after another, one of them a batch of
// kConcurrentCalls at once). When the health call cannot reach the adapter at all (UNAVAILABLE
// or DEADLINE_EXCEEDED, a failed TLS handshake included), the other checks are not run and fail
// with that reason.
ConformanceReport RunConformanceSuite(const ConformanceOptions& options);

}  // namespace payorch::admin
