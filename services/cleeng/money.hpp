#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "services/core/result.hpp"

namespace payorch::cleeng {

// Digits after the decimal point in `currency`'s minor unit (ISO 4217): 0 for JPY, KRW, ...,
// 3 for BHD, KWD, ..., 2 for every other code.
int MinorUnitExponent(std::string_view currency);

// An amount Cleeng sent as a decimal string ("8.1300", "5", "1.5e1") in integer minor units of
// `currency`, without floating point. Refused: negative amounts, more significant fraction digits
// than the currency has ("5.255" USD), anything that is not a plain decimal, more than 15 digits.
core::Result<std::int64_t, std::string> ParseMinorUnits(std::string_view decimal,
                                                        std::string_view currency);

// The same for a JSON value: a string as above, an integer, or a number. Cleeng sends amounts
// both as numbers (5.25) and as strings ("8.1300"); a JSON number arrives as a double, which is
// converted through its shortest exact decimal representation, never by arithmetic on it.
core::Result<std::int64_t, std::string> JsonMinorUnits(const boost::json::value& amount,
                                                       std::string_view currency);

}  // namespace payorch::cleeng
