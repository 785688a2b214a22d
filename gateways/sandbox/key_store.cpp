#include "gateways/sandbox/key_store.hpp"

#include <algorithm>
#include <cstdio>

#include "gateways/sandbox/state_file.hpp"

namespace payorch::gateways::sandbox {
namespace {

constexpr std::size_t kMaxIdempotencyKeyLength = 64;

Reply ErrorReply(Reply::Kind kind, std::int64_t effects, std::string message) {
  Reply reply;
  reply.kind = kind;
  reply.effects = effects;
  reply.message = std::move(message);
  return reply;
}

Reply ResultReply(PaymentOutcome outcome, std::int64_t effects, bool replayed) {
  Reply reply;
  reply.result = std::move(outcome);
  reply.effects = effects;
  reply.replayed = replayed;
  return reply;
}

PaymentOutcome DecideOutcome(const EffectRequest& request) {
  PaymentOutcome outcome;
  outcome.gateway_reference = GatewayReferenceFor(request.idempotency_key);
  if (request.behaviour.kind == Behaviour::Kind::kDecline) {
    outcome.status = PaymentOutcome::Status::kDeclined;
    outcome.decline_code = request.behaviour.decline_code;
    outcome.message = "declined by the sandbox";
  } else {
    outcome.status = PaymentOutcome::Status::kApproved;
    outcome.message = "approved by the sandbox";
    outcome.amount = request.amount;
  }
  return outcome;
}

}  // namespace

bool IsValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyLength) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

std::string GatewayReferenceFor(std::string_view key) {
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  for (const char c : key) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;  // FNV-1a 64 prime
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::string("sbx_") + hex;
}

KeyStore::KeyStore(StateFile* state_file, std::size_t max_keys)
    : state_file_(state_file), max_keys_(max_keys) {}

KeyStore::~KeyStore() = default;

KeyStore::Entry* KeyStore::GetEntry(const std::string& key, Rpc rpc, bool create) {
  std::lock_guard lock(map_mutex_);
  if (const auto it = entries_.find(key); it != entries_.end()) return it->second.get();
  if (!create || entries_.size() >= max_keys_) return nullptr;
  auto entry = std::make_unique<Entry>();
  entry->record.idempotency_key = key;
  entry->record.rpc = rpc;
  return entries_.emplace(key, std::move(entry)).first->second.get();
}

void KeyStore::Restore(const std::vector<PersistedEffect>& effects) {
  for (const auto& effect : effects) {
    // Restoring ignores max_keys_: the file's keys were all honoured before.
    Entry* entry = nullptr;
    {
      std::lock_guard lock(map_mutex_);
      auto& slot = entries_[effect.idempotency_key];
      if (!slot) {
        slot = std::make_unique<Entry>();
        slot->record.idempotency_key = effect.idempotency_key;
        slot->record.rpc = effect.rpc;
      }
      entry = slot.get();
    }
    std::lock_guard lock(entry->mutex);
    ++entry->record.effects;
    if (!entry->record.result) {
      entry->record.rpc = effect.rpc;
      entry->record.result = effect.outcome;
    }
  }
}

Reply KeyStore::Execute(const EffectRequest& request) {
  Entry* entry = GetEntry(request.idempotency_key, request.rpc, /*create=*/true);
  if (entry == nullptr) {
    return ErrorReply(Reply::Kind::kResourceExhausted, 0, "sandbox key store is full");
  }

  // Held while deciding and applying (including the state file's fsync), never while sleeping.
  std::lock_guard lock(entry->mutex);
  KeyRecord& record = entry->record;
  ++record.calls;

  const auto& fault = request.fault;
  if (fault && fault->kind == Fault::Kind::kStatus) {
    Reply reply = ErrorReply(Reply::Kind::kStatus, record.effects,
                             "the sandbox was scripted to fail this call (--error-rate)");
    reply.status_code = fault->status_code;
    return reply;
  }
  Reply reply = record.result ? ResultReply(*record.result, record.effects, /*replayed=*/true)
                              : Decide(request, *entry);
  if (fault && fault->kind == Fault::Kind::kLost && reply.kind == Reply::Kind::kResult) {
    reply.kind = Reply::Kind::kUnknownAfterEffect;
    reply.message = "the sandbox lost the answer (--error-rate lost)";
  }
  if (fault && fault->kind == Fault::Kind::kCrash) reply.crash = true;
  return reply;
}

Reply KeyStore::Decide(const EffectRequest& request, Entry& entry) {
  KeyRecord& record = entry.record;
  const Behaviour& behaviour = request.behaviour;
  if (behaviour.kind == Behaviour::Kind::kInvalid) {
    return ErrorReply(Reply::Kind::kInvalidArgument, record.effects,
                      "the sandbox was scripted to reject this request");
  }
  if (behaviour.kind == Behaviour::Kind::kUnavailable &&
      entry.unavailable_answered < behaviour.unavailable_calls) {
    ++entry.unavailable_answered;
    return ErrorReply(Reply::Kind::kUnavailable, record.effects,
                      "the sandbox was scripted to be unavailable");
  }
  if (behaviour.kind == Behaviour::Kind::kError &&
      (behaviour.unavailable_calls < 0 ||
       entry.unavailable_answered < behaviour.unavailable_calls)) {
    ++entry.unavailable_answered;
    Reply reply = ErrorReply(Reply::Kind::kStatus, record.effects,
                             "the sandbox was scripted to answer this error");
    reply.status_code = behaviour.status_code;
    return reply;
  }

  // The effect: durable first (when a state file is configured), then visible.
  PaymentOutcome outcome = DecideOutcome(request);
  if (state_file_ != nullptr &&
      !state_file_->Append(PersistedEffect{request.idempotency_key, request.rpc, outcome})) {
    return ErrorReply(Reply::Kind::kUnavailable, record.effects,
                      "the sandbox could not record the effect");
  }
  ++record.effects;
  record.rpc = request.rpc;
  record.result = outcome;

  Reply reply = ResultReply(std::move(outcome), record.effects, /*replayed=*/false);
  if (behaviour.kind == Behaviour::Kind::kSlow || behaviour.kind == Behaviour::Kind::kLatency) {
    reply.delay = behaviour.delay;
  }
  if (behaviour.kind == Behaviour::Kind::kLost) {
    reply.kind = Reply::Kind::kUnknownAfterEffect;
    reply.message = "the sandbox applied the effect and lost the answer";
  }
  if (behaviour.kind == Behaviour::Kind::kCrashAfterEffect) reply.crash = true;
  return reply;
}

std::optional<PaymentOutcome> KeyStore::Lookup(const std::string& key) {
  Entry* entry = GetEntry(key, Rpc::kAuthorize, /*create=*/false);
  if (entry == nullptr) return std::nullopt;
  std::lock_guard lock(entry->mutex);
  if (!entry->record.result) return std::nullopt;
  ++entry->record.status_queries;
  return entry->record.result;
}

std::optional<KeyRecord> KeyStore::Find(const std::string& key) const {
  std::lock_guard map_lock(map_mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  std::lock_guard lock(it->second->mutex);
  return it->second->record;
}

std::vector<KeyRecord> KeyStore::List(std::size_t limit, EffectTotals& totals) const {
  std::vector<KeyRecord> records;
  totals = EffectTotals{};
  {
    std::lock_guard map_lock(map_mutex_);
    records.reserve(entries_.size());
    for (const auto& [key, entry] : entries_) {
      std::lock_guard lock(entry->mutex);
      records.push_back(entry->record);
    }
  }
  for (const auto& record : records) {
    ++totals.keys;
    totals.effects += record.effects;
    totals.calls += record.calls;
  }
  std::sort(records.begin(), records.end(), [](const KeyRecord& a, const KeyRecord& b) {
    return a.idempotency_key < b.idempotency_key;
  });
  if (records.size() > limit) records.resize(limit);
  return records;
}

}  // namespace payorch::gateways::sandbox
