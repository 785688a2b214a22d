#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace payorch::cleeng {

inline constexpr const char* kSandboxBaseUrl = "https://api.sandbox.cleeng.com";
inline constexpr const char* kProductionBaseUrl = "https://api.cleeng.com";
// Where the publisher token comes from: never a flag (it would show in `ps`).
inline constexpr const char* kPublisherTokenEnv = "PAYORCH_CLEENG_PUBLISHER_TOKEN";

// How payorch talks to Cleeng's Payment API. With `enabled` false nothing is reported: outcomes
// are only recorded in PostgreSQL, and the rest of the struct is not checked.
struct CleengConfig {
  bool enabled = false;
  // "sandbox", "production", or any http(s)://host[:port] (a fake in tests). No path, no query.
  std::string base_url = kSandboxBaseUrl;
  // X-Publisher-Token. Secret: never logged, never part of an error message.
  std::string publisher_token;
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{5000};  // write the request + read the whole answer
  // Bounds of one logical call (its retries included): whichever is reached first ends it.
  int max_attempts = 4;
  // 10 s: with the default 60 s lease, three calls and a 5 s adapter deadline fit in one lease,
  // and a call in progress at SIGTERM ends within the worker's 15 s shutdown bound.
  std::chrono::milliseconds max_call_time{10000};
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_max{5000};
  // PEM bundle of trusted CAs; empty: the system's default trust store.
  std::string ca_file;
  // Largest answer body read from Cleeng.
  std::size_t max_body_bytes = 1 << 20;
};

// "sandbox" and "production" become their URLs; anything else is returned unchanged.
std::string ResolveBaseUrl(const std::string& name_or_url);

// The first thing wrong with the configuration, as a message for the operator (never holding
// the token); nullopt when it is usable. A disabled configuration is always valid.
std::optional<std::string> Validate(const CleengConfig& config);

// The publisher token from PAYORCH_CLEENG_PUBLISHER_TOKEN, empty when unset.
std::string PublisherTokenFromEnvironment();

}  // namespace payorch::cleeng
