#pragma once

#include <optional>
#include <string_view>

#include <boost/json.hpp>

namespace payorch::admin {

// What a masked value is replaced by.
inline constexpr std::string_view kMaskedValue = "***";

// True for the keys whose values are secret or personal: the gateway's recurring `token` and the
// `customerEmail` (DOMAIN.md). Compared ignoring ASCII case, so "Token" or "customeremail" sent
// by a careless client are masked too.
bool IsSecretKey(std::string_view key);

// Replaces, in place and at any depth (objects inside objects and arrays), the value of every
// secret key by "***", whatever the value's type.
void MaskSecrets(boost::json::value& value);

// The raw webhook body with its secrets masked, or nullopt when it is not valid JSON (then
// nothing of it may be shown: a secret could sit anywhere in it). Parsing is bounded by
// Boost.JSON's default depth limit.
std::optional<boost::json::value> MaskedRawEvent(std::string_view raw_event);

}  // namespace payorch::admin
