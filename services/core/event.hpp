#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "services/core/result.hpp"

namespace payorch::core {

// The Cleeng topics payorch acts on (DOMAIN.md). Every other topic is "ignored": answered and
// kept for audit, never a job.
enum class Topic { kAuthorisation, kCapture, kTermination };

inline constexpr std::string_view kTopicAuthorisation = "subscriptionReadyForPaymentAuthorisation";
inline constexpr std::string_view kTopicCapture = "subscriptionReadyForPaymentCapture";
inline constexpr std::string_view kTopicTermination = "subscriptionReadyForTermination";

std::string_view TopicName(Topic topic);
std::optional<Topic> TopicFromName(std::string_view name);

// A Cleeng webhook after validation and normalisation. Identifiers are strings whatever JSON type
// Cleeng used (subscriptionId is a string in one Cleeng example and an integer in another).
// Fields Cleeng did not send are empty. `token` is the gateway's secret recurring token and
// `customer_email` personal data: neither may reach a log line.
struct CleengEvent {
  std::int64_t broadcaster_id = 0;
  std::string topic_name;       // exactly as sent
  std::optional<Topic> topic;   // empty for a topic payorch does not act on

  std::string subscription_id;  // non-empty when `topic` is set
  std::string offer_id;
  std::string customer_id;
  std::string customer_email;
  std::string payment_details_id;
  std::string payment_method_id;
  std::string payment_gateway;
  std::string currency;
  std::string payment_country;
  std::string dunning_status;
  std::string token;
  // As sent, and normalised to UTC "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" when present.
  std::string dunning_attempt_date;
  std::string dunning_attempt_date_utc;
  std::string expiration_date;
  std::string expiration_date_utc;
  // The `data` object serialised with its keys sorted and ids normalised: equal for two
  // deliveries of the same content whatever their key order or id types. Set only when both
  // dates are absent, the one case in which the event's identity is its content.
  std::string canonical_data;
};

// Why a webhook body was refused: the HTTP status to answer, a stable machine-readable code and
// a message for the sender. Nothing is stored for a rejected body.
struct Rejection {
  int http_status = 400;
  std::string code;
  std::string message;
};

// Parses and validates a webhook body (the Cleeng envelope: broadcasterId, topic, data).
//   400 malformed_json  - not strict JSON (Cleeng's own doc examples with single quotes and
//                         trailing commas land here), invalid UTF-8, nested deeper than 32 levels.
//   422 invalid_field / missing_field - the envelope or a named field has the wrong shape.
// Unknown extra fields are accepted and kept in the raw body. A topic payorch does not act on
// only needs a valid envelope.
Result<CleengEvent, Rejection> ParseWebhook(std::string_view body);

// The identity of one logical event (DOMAIN.md, "Idempotency"). Cleeng sends no event id, so:
//   (broadcasterId, topic, subscriptionId, dunningAttemptDate), else
//   (broadcasterId, topic, subscriptionId, expirationDate), else
//   (broadcasterId, topic, subscriptionId, SHA-256 of the canonical `data`).
// Dates are compared as instants (UTC-normalised), so "…T19:55:41Z" and "…T21:55:41+02:00"
// are one event. `idempotency_key` is derived from `event_key` alone, so it is identical on
// every delivery, retry, replay and crash recovery: "po1_" followed by 48 hex digits of SHA-256.
struct EventIdentity {
  std::string event_key;
  std::string idempotency_key;
};

EventIdentity DeriveEventIdentity(const CleengEvent& event);

// Normalises a Cleeng timestamp to UTC "YYYY-MM-DDTHH:MM:SS[.fraction]Z". Accepts RFC 3339 with
// "Z" or a numeric offset, the same with a space for "T", and no zone (taken as UTC).
std::optional<std::string> NormaliseTimestamp(std::string_view text);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace payorch::core
