#include "services/core/event.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <vector>

#include <boost/json.hpp>

namespace payorch::core {

namespace json = boost::json;

namespace {

// Cleeng ids and free-text fields are short; anything longer is not a Cleeng value.
constexpr std::size_t kMaxFieldLength = 256;
constexpr std::size_t kMaxJsonDepth = 32;

Rejection Invalid(std::string message) {
  return Rejection{422, "invalid_field", std::move(message)};
}

Rejection Missing(std::string message) {
  return Rejection{422, "missing_field", std::move(message)};
}

// Normalises an identifier-like scalar: a string as is, an integer in decimal. Anything else
// (a float, a bool, an object) has no unambiguous text form and is refused.
std::optional<std::string> ScalarText(const json::value& value) {
  switch (value.kind()) {
    case json::kind::string: return std::string(value.get_string());
    case json::kind::int64: return std::to_string(value.get_int64());
    case json::kind::uint64: return std::to_string(value.get_uint64());
    default: return std::nullopt;
  }
}

// Reads an optional scalar field of `data` into `out`. Absent and null leave it empty.
std::optional<Rejection> ReadOptionalField(const json::object& data, std::string_view name,
                                           std::string& out) {
  const auto* value = data.if_contains(name);
  if (value == nullptr || value->is_null()) return std::nullopt;
  auto text = ScalarText(*value);
  if (!text) return Invalid("data." + std::string(name) + " must be a string or an integer");
  if (text->size() > kMaxFieldLength) {
    return Invalid("data." + std::string(name) + " is longer than " +
                   std::to_string(kMaxFieldLength) + " characters");
  }
  out = std::move(*text);
  return std::nullopt;
}

// Serialises `value` with object keys in byte order at every level, so that two deliveries of the
// same content serialise identically whatever their key order.
void WriteCanonical(const json::value& value, std::string& out) {
  switch (value.kind()) {
    case json::kind::object: {
      const auto& object = value.get_object();
      std::vector<const json::key_value_pair*> members;
      members.reserve(object.size());
      for (const auto& member : object) members.push_back(&member);
      std::sort(members.begin(), members.end(),
                [](const auto* a, const auto* b) { return a->key() < b->key(); });
      out += '{';
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += ',';
        out += json::serialize(json::string_view(members[i]->key()));
        out += ':';
        WriteCanonical(members[i]->value(), out);
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value.get_array()) {
        if (!first) out += ',';
        first = false;
        WriteCanonical(element, out);
      }
      out += ']';
      return;
    }
    default:
      out += json::serialize(value);
      return;
  }
}

// Parses exactly `width` decimal digits at `text[pos]`.
bool ReadDigits(std::string_view text, std::size_t pos, std::size_t width, int& out) {
  if (pos + width > text.size()) return false;
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - static_cast<int>(era * 400);
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsValidDate(int y, int m, int d) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

std::string FormatUtc(std::int64_t epoch_seconds, std::string_view fraction) {
  const std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(buffer);
  // Trailing zeros carry no information: ".500" and ".5" are one instant.
  auto trimmed = fraction;
  while (!trimmed.empty() && trimmed.back() == '0') trimmed.remove_suffix(1);
  if (!trimmed.empty()) {
    out += '.';
    out += trimmed;
  }
  out += 'Z';
  return out;
}

// Reads a date field that may be an RFC 3339 string or an integer of Unix seconds (Cleeng uses
// both styles across its APIs) into its raw text and its UTC normal form.
std::optional<Rejection> ReadDateField(const json::object& data, std::string_view name,
                                       std::string& raw, std::string& utc) {
  const auto* value = data.if_contains(name);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (value->is_int64() || value->is_uint64()) {
    const auto seconds = value->is_int64() ? value->get_int64()
                                           : static_cast<std::int64_t>(value->get_uint64());
    if (seconds < 0 || seconds > 253402300799) {  // up to 9999-12-31T23:59:59Z
      return Invalid("data." + std::string(name) + " is out of range");
    }
    raw = std::to_string(seconds);
    utc = FormatUtc(seconds, "");
    return std::nullopt;
  }
  if (!value->is_string()) {
    return Invalid("data." + std::string(name) + " must be an RFC 3339 date string");
  }
  raw = std::string(value->get_string());
  auto normalised = NormaliseTimestamp(raw);
  if (!normalised) {
    return Invalid("data." + std::string(name) + " is not an RFC 3339 date: \"" +
                   raw.substr(0, 64) + "\"");
  }
  utc = std::move(*normalised);
  return std::nullopt;
}

}  // namespace

std::string_view TopicName(Topic topic) {
  switch (topic) {
    case Topic::kAuthorisation: return kTopicAuthorisation;
    case Topic::kCapture: return kTopicCapture;
    case Topic::kTermination: return kTopicTermination;
  }
  return {};
}

std::optional<Topic> TopicFromName(std::string_view name) {
  for (auto topic : {Topic::kAuthorisation, Topic::kCapture, Topic::kTermination}) {
    if (TopicName(topic) == name) return topic;
  }
  return std::nullopt;
}

std::optional<std::string> NormaliseTimestamp(std::string_view text) {
  // YYYY-MM-DD(T| )HH:MM:SS[.fraction][Z|z|±HH:MM|±HHMM]
  int year, month, day, hour, minute, second;
  if (text.size() < 19 || !ReadDigits(text, 0, 4, year) || text[4] != '-' ||
      !ReadDigits(text, 5, 2, month) || text[7] != '-' || !ReadDigits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !ReadDigits(text, 11, 2, hour) ||
      text[13] != ':' || !ReadDigits(text, 14, 2, minute) || text[16] != ':' ||
      !ReadDigits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (!IsValidDate(year, month, day) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::string_view fraction;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start || pos - start > 9) return std::nullopt;
    fraction = text.substr(start, pos - start);
  }
  int offset_seconds = 0;
  const auto zone = text.substr(pos);
  if (zone == "Z" || zone == "z" || zone.empty()) {
    offset_seconds = 0;
  } else if (zone[0] == '+' || zone[0] == '-') {
    int offset_hours, offset_minutes;
    const bool with_colon = zone.size() == 6 && zone[3] == ':';
    const bool without_colon = zone.size() == 5;
    if ((!with_colon && !without_colon) || !ReadDigits(zone, 1, 2, offset_hours) ||
        !ReadDigits(zone, with_colon ? 4 : 3, 2, offset_minutes) || offset_hours > 23 ||
        offset_minutes > 59) {
      return std::nullopt;
    }
    offset_seconds = (offset_hours * 3600 + offset_minutes * 60) * (zone[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  // A leap second (":60") is folded into the next second's instant.
  const std::int64_t local = DaysFromCivil(year, month, day) * 86400 + hour * 3600 +
                             minute * 60 + second;
  return FormatUtc(local - offset_seconds, fraction);
}

std::string Sha256Hex(std::string_view data) {
  // OpenSSL 3 looks EVP_sha256() up in its provider tables at every use (an "implicit fetch",
  // under a lock); fetched once, the digest is shared by every call and thread. The ingress runs
  // this for every webhook (the idempotency key).
  static const EVP_MD* const sha256 = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, sha256, nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

Result<CleengEvent, Rejection> ParseWebhook(std::string_view body) {
  if (body.empty()) return Rejection{400, "malformed_json", "the request body is empty"};

  json::parse_options options;
  options.max_depth = kMaxJsonDepth;  // strict JSON otherwise: no comments, no trailing commas
  // The parsed tree lives only in this call: a monotonic arena (the first 4 KiB on the stack, a
  // webhook's usual size) replaces a malloc and free per node.
  unsigned char arena[4096];
  json::monotonic_resource resource(arena, sizeof arena);
  std::error_code ec;
  json::value root = json::parse(body, ec, &resource, options);
  if (ec) {
    return Rejection{400, "malformed_json", "the body is not valid JSON: " + ec.message()};
  }
  if (!root.is_object()) return Invalid("the body must be a JSON object");
  const auto& envelope = root.get_object();

  CleengEvent event;

  const auto* broadcaster = envelope.if_contains("broadcasterId");
  if (broadcaster == nullptr || broadcaster->is_null()) return Missing("broadcasterId is required");
  if (broadcaster->is_int64() && broadcaster->get_int64() >= 0) {
    event.broadcaster_id = broadcaster->get_int64();
  } else if (broadcaster->is_string()) {
    const auto text = broadcaster->get_string();
    const auto* end = text.data() + text.size();
    auto [ptr, error] = std::from_chars(text.data(), end, event.broadcaster_id);
    if (text.empty() || error != std::errc() || ptr != end || event.broadcaster_id < 0) {
      return Invalid("broadcasterId must be a non-negative integer");
    }
  } else {
    return Invalid("broadcasterId must be a non-negative integer");
  }

  const auto* topic = envelope.if_contains("topic");
  if (topic == nullptr || topic->is_null()) return Missing("topic is required");
  if (!topic->is_string() || topic->get_string().empty()) {
    return Invalid("topic must be a non-empty string");
  }
  if (topic->get_string().size() > kMaxFieldLength) return Invalid("topic is too long");
  event.topic_name = std::string(topic->get_string());
  event.topic = TopicFromName(event.topic_name);

  const auto* data_value = envelope.if_contains("data");
  if (data_value == nullptr || data_value->is_null()) return Missing("data is required");
  if (!data_value->is_object()) return Invalid("data must be a JSON object");
  const auto& data = data_value->get_object();

  if (!event.topic) return event;  // an ignored topic needs nothing more than the envelope

  if (auto rejection = ReadOptionalField(data, "subscriptionId", event.subscription_id)) {
    return *rejection;
  }
  if (event.subscription_id.empty()) return Missing("data.subscriptionId is required");

  const std::pair<std::string_view, std::string*> fields[] = {
      {"offerId", &event.offer_id},
      {"customerId", &event.customer_id},
      {"customerEmail", &event.customer_email},
      {"paymentDetailsId", &event.payment_details_id},
      {"paymentMethodId", &event.payment_method_id},
      {"paymentGateway", &event.payment_gateway},
      {"currency", &event.currency},
      {"paymentCountry", &event.payment_country},
      {"dunningStatus", &event.dunning_status},
      {"token", &event.token},
  };
  for (const auto& [name, out] : fields) {
    if (auto rejection = ReadOptionalField(data, name, *out)) return *rejection;
  }
  if (auto rejection = ReadDateField(data, "dunningAttemptDate", event.dunning_attempt_date,
                                     event.dunning_attempt_date_utc)) {
    return *rejection;
  }
  if (auto rejection = ReadDateField(data, "expirationDate", event.expiration_date,
                                     event.expiration_date_utc)) {
    return *rejection;
  }

  // Only an event without either date is identified by its content (DeriveEventIdentity), and
  // only then is the canonical form worth its deep copy and serialisation: renewals carry a
  // dunning date and terminations an expiration date, so the common webhook skips it.
  if (event.dunning_attempt_date_utc.empty() && event.expiration_date_utc.empty()) {
    // Ids written as integers or as strings are one value: canonicalise them as strings.
    json::value normalised = data;
    for (std::string_view name :
         {"subscriptionId", "offerId", "customerId", "paymentDetailsId", "paymentMethodId"}) {
      auto* id = normalised.get_object().if_contains(name);
      if (id != nullptr && (id->is_int64() || id->is_uint64())) *id = *ScalarText(*id);
    }
    WriteCanonical(normalised, event.canonical_data);
  }
  return event;
}

EventIdentity DeriveEventIdentity(const CleengEvent& event) {
  // Fields are joined with '|', which ids may contain; each field is length-prefixed so that no
  // two different tuples can produce the same key.
  auto field = [](std::string_view value) {
    return std::to_string(value.size()) + ":" + std::string(value);
  };
  std::string key = "cleeng/v1|" + std::to_string(event.broadcaster_id) + "|" +
                    field(event.topic_name) + "|" + field(event.subscription_id) + "|";
  if (!event.dunning_attempt_date_utc.empty()) {
    key += "dunning=" + event.dunning_attempt_date_utc;
  } else if (!event.expiration_date_utc.empty()) {
    key += "expiration=" + event.expiration_date_utc;
  } else {
    key += "data-sha256=" + Sha256Hex(event.canonical_data);
  }
  return EventIdentity{key, "po1_" + Sha256Hex(key).substr(0, 48)};
}

}  // namespace payorch::core
