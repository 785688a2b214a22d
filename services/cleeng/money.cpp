#include "services/cleeng/money.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace payorch::cleeng {
namespace {

constexpr std::array<std::string_view, 16> kZeroDecimal = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                                           "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                                           "VND", "VUV", "XAF", "XOF"};
constexpr std::array<std::string_view, 7> kThreeDecimal = {"BHD", "IQD", "JOD", "KWD",
                                                           "LYD", "OMR", "TND"};
// 15 digits stay far below 2^63 whatever the exponent applied.
constexpr std::size_t kMaxDigits = 15;

bool AllDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

int MinorUnitExponent(std::string_view currency) {
  if (std::find(kZeroDecimal.begin(), kZeroDecimal.end(), currency) != kZeroDecimal.end()) return 0;
  if (std::find(kThreeDecimal.begin(), kThreeDecimal.end(), currency) != kThreeDecimal.end()) {
    return 3;
  }
  return 2;
}

core::Result<std::int64_t, std::string> ParseMinorUnits(std::string_view decimal,
                                                        std::string_view currency) {
  const std::string shown = "amount \"" + std::string(decimal.substr(0, 40)) + "\"";
  std::string_view text = decimal;
  // Exponent part (a JSON number may arrive as "5.25E0").
  int exponent = 0;
  if (const auto e = text.find_first_of("eE"); e != std::string_view::npos) {
    std::string_view exp_text = text.substr(e + 1);
    if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
    const auto [end, ec] =
        std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
    if (exp_text.empty() || ec != std::errc() || end != exp_text.data() + exp_text.size() ||
        exponent < -30 || exponent > 30) {
      return shown + " has an invalid exponent";
    }
    text = text.substr(0, e);
  }
  if (!text.empty() && text.front() == '-') return shown + " is negative";
  const auto dot = text.find('.');
  std::string integral(text.substr(0, dot));
  std::string fraction(dot == std::string_view::npos ? "" : text.substr(dot + 1));
  if ((integral.empty() && fraction.empty()) || !AllDigits(integral) || !AllDigits(fraction)) {
    return shown + " is not a decimal number";
  }
  // digits * 10^(exponent - fraction digits) is the value; scale it to minor units.
  std::string digits = integral + fraction;
  int scale = exponent - static_cast<int>(fraction.size()) + MinorUnitExponent(currency);
  while (scale < 0) {
    if (digits.empty() || digits.back() != '0') {
      return shown + " has more fraction digits than " + std::string(currency) + " allows";
    }
    digits.pop_back();
    ++scale;
  }
  digits.append(static_cast<std::size_t>(scale), '0');
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.empty()) return std::int64_t{0};
  if (digits.size() > kMaxDigits) return shown + " is too large";
  std::int64_t value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

core::Result<std::int64_t, std::string> JsonMinorUnits(const boost::json::value& amount,
                                                       std::string_view currency) {
  if (amount.is_string()) return ParseMinorUnits(amount.get_string(), currency);
  if (amount.is_int64()) return ParseMinorUnits(std::to_string(amount.get_int64()), currency);
  if (amount.is_uint64()) return ParseMinorUnits(std::to_string(amount.get_uint64()), currency);
  if (amount.is_double()) {
    // Shortest representation that reads back as the same double: "5.25" arrives as 5.25E0.
    std::array<char, 64> buffer{};
    const auto [end, ec] =
        std::to_chars(buffer.data(), buffer.data() + buffer.size(), amount.get_double());
    if (ec != std::errc()) return std::string("amount is not a finite number");
    return ParseMinorUnits(std::string_view(buffer.data(), end - buffer.data()), currency);
  }
  return std::string("amount is neither a number nor a decimal string");
}

}  // namespace payorch::cleeng
