#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateways/sandbox/behaviour.hpp"
#include "gateways/sandbox/records.hpp"
#include "gateways/sandbox/script.hpp"

namespace payorch::gateways::sandbox {

class StateFile;

// One effect-causing call, transport-free.
struct EffectRequest {
  Rpc rpc = Rpc::kAuthorize;
  std::string idempotency_key;  // validated by the caller (IsValidIdempotencyKey)
  Behaviour behaviour;
  std::optional<Money> amount;  // echoed in an APPROVED result
  std::optional<Fault> fault{};  // a process-wide fault drawn for this call (script.hpp)
};

// How to answer a call; the gRPC layer maps `kind` to a status code.
struct Reply {
  enum class Kind {
    kResult,              // OK with `result`
    kUnavailable,         // UNAVAILABLE: nothing happened
    kUnknownAfterEffect,  // UNKNOWN: the effect happened, the answer is "lost"
    kInvalidArgument,     // INVALID_ARGUMENT: nothing happened
    kResourceExhausted,   // RESOURCE_EXHAUSTED: the store is full, nothing happened
    kStatus,              // `status_code` (error:STATUS, --error-rate): nothing happened
  };
  Kind kind = Kind::kResult;
  std::optional<PaymentOutcome> result;  // set for kResult and kUnknownAfterEffect
  // How long to wait before answering (slow:MS on the call that applied the effect).
  std::chrono::milliseconds delay{0};
  // True when the stored result of an earlier call answers this one (no effect now).
  bool replayed = false;
  std::int64_t effects = 0;  // the key's effect count after this call, for logs
  std::string message;       // the status message for error kinds
  int status_code = 0;       // kStatus: the gRPC status code
  // The process must die right after this call's effect (crash-after-effect, --error-rate
  // crash): the effect is recorded (and durable with a state file) but never answered.
  bool crash = false;
};

struct EffectTotals {
  std::int64_t keys = 0;
  std::int64_t effects = 0;
  std::int64_t calls = 0;
};

// The sandbox's memory of idempotency keys: decides, per call, whether an effect happens, and
// keeps the honest count of calls and effects per key.
//
// Concurrency: calls with the same key are serialised by the key's own mutex, so concurrent
// first calls cause one effect; calls with different keys do not wait for each other. The map
// mutex is held only to find or insert an entry. No lock is held while a caller sleeps: the
// slow:MS delay is returned in the Reply and waited out by the caller after the effect is
// recorded, so a concurrent call with the same key answers the stored result at once.
// Lock order: map mutex, then an entry mutex; never the reverse.
class KeyStore {
 public:
  // Bounds the number of keys kept in memory; beyond it new keys answer RESOURCE_EXHAUSTED.
  static constexpr std::size_t kDefaultMaxKeys = 1'000'000;

  // `state_file` (optional, not owned, must outlive the store) receives every applied effect
  // before the call is answered.
  explicit KeyStore(StateFile* state_file = nullptr, std::size_t max_keys = kDefaultMaxKeys);
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Restores effects read from a state file (at startup, before serving). A key that appears
  // more than once keeps its first result and counts every line as an effect (honest counting).
  void Restore(const std::vector<PersistedEffect>& effects);

  // Decides and records one Authorize/Capture/Terminate call. Applies at most one effect per key
  // over the store's lifetime.
  [[nodiscard]] Reply Execute(const EffectRequest& request);

  // GetPaymentStatus: the stored result for `key`, never an effect. Counts a status query on a
  // known key.
  [[nodiscard]] std::optional<PaymentOutcome> Lookup(const std::string& key);

  // Snapshots for the control service.
  [[nodiscard]] std::optional<KeyRecord> Find(const std::string& key) const;
  // Records sorted by key, at most `limit`; totals over every record.
  [[nodiscard]] std::vector<KeyRecord> List(std::size_t limit, EffectTotals& totals) const;

 private:
  struct Entry {
    std::mutex mutex;  // serialises calls with this key
    KeyRecord record;
    int unavailable_answered = 0;  // error answers given for unavailable:N and error:STATUS:N
  };

  // Execute's decision for a key without a stored result, under the entry's lock.
  Reply Decide(const EffectRequest& request, Entry& entry);

  // The entry for `key`, created when `create`; nullptr when absent or the store is full.
  Entry* GetEntry(const std::string& key, Rpc rpc, bool create);

  StateFile* state_file_;
  std::size_t max_keys_;
  mutable std::mutex map_mutex_;
  // Entries are never erased, so pointers to them stay valid for the store's lifetime.
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
};

// The contract's key syntax: 1..64 ASCII characters [A-Za-z0-9_-].
[[nodiscard]] bool IsValidIdempotencyKey(std::string_view key);

// "sbx_" + 16 hex digits of a stable (FNV-1a 64) hash of the key: the same key gives the same
// reference in every process, also after a restart.
[[nodiscard]] std::string GatewayReferenceFor(std::string_view key);

}  // namespace payorch::gateways::sandbox
