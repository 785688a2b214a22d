#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace payorch::gateways::sandbox {

// The effect-causing methods of payorch.gateway.v1.PaymentGateway.
enum class Rpc { kAuthorize, kCapture, kTerminate };

// "Authorize", "Capture", "Terminate": the gRPC method names.
[[nodiscard]] std::string_view RpcName(Rpc rpc);
[[nodiscard]] std::optional<Rpc> RpcFromName(std::string_view name);

// Integer minor units and an ISO-4217 code; never floating point.
struct Money {
  std::int64_t amount_minor = 0;
  std::string currency;
  bool operator==(const Money&) const = default;
};

// The business result the sandbox stores for a key when the effect happens; every later call
// with the key answers it.
struct PaymentOutcome {
  enum class Status { kApproved, kDeclined };

  Status status = Status::kApproved;
  std::string gateway_reference;
  std::string decline_code;
  std::string message;
  std::optional<Money> amount;

  bool operator==(const PaymentOutcome&) const = default;
};

[[nodiscard]] std::string_view StatusName(PaymentOutcome::Status status);  // "APPROVED", ...
[[nodiscard]] std::optional<PaymentOutcome::Status> StatusFromName(std::string_view name);

// What the sandbox knows about one idempotency key: the honest count of calls and effects.
struct KeyRecord {
  std::string idempotency_key;
  // The method that caused the effect; before any effect, the method of the first call.
  Rpc rpc = Rpc::kAuthorize;
  std::int64_t effects = 0;
  std::int64_t calls = 0;
  std::int64_t status_queries = 0;
  std::optional<PaymentOutcome> result;
};

// One applied effect, as the state file stores it.
struct PersistedEffect {
  std::string idempotency_key;
  Rpc rpc = Rpc::kAuthorize;
  PaymentOutcome outcome;
  bool operator==(const PersistedEffect&) const = default;
};

}  // namespace payorch::gateways::sandbox
