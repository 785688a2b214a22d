#include "services/admin/masking.hpp"

#include <algorithm>
#include <array>

namespace payorch::admin {

namespace {

constexpr std::array<std::string_view, 2> kSecretKeys = {"token", "customerEmail"};

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return AsciiLower(x) == AsciiLower(y); });
}

}  // namespace

bool IsSecretKey(std::string_view key) {
  return std::any_of(kSecretKeys.begin(), kSecretKeys.end(),
                     [key](std::string_view secret) { return EqualsIgnoringAsciiCase(key, secret); });
}

void MaskSecrets(boost::json::value& value) {
  // Recursion depth is bounded by the parser's depth limit of the document being masked.
  if (auto* object = value.if_object()) {
    for (auto& member : *object) {
      if (IsSecretKey(member.key())) {
        member.value() = boost::json::string(kMaskedValue);
      } else {
        MaskSecrets(member.value());
      }
    }
  } else if (auto* array = value.if_array()) {
    for (auto& element : *array) MaskSecrets(element);
  }
}

std::optional<boost::json::value> MaskedRawEvent(std::string_view raw_event) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(raw_event, error);
  if (error) return std::nullopt;
  MaskSecrets(value);
  return value;
}

}  // namespace payorch::admin
