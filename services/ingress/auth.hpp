#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace payorch::ingress {

// Who may post webhooks. Every mechanism that is configured must pass; an empty list switches a
// mechanism off (Cleeng's older setups neither sign nor send a token). All of these are pure
// functions of their inputs so they are table-tested without a server.

// A network in CIDR notation ("10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128).
struct Cidr {
  boost::asio::ip::address network;
  unsigned prefix_length = 0;
};

// Parses one CIDR; nullopt when it is not one (a bad prefix, host bits are allowed and ignored).
std::optional<Cidr> ParseCidr(std::string_view text);
// True when `address` lies in `cidr`. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as the
// IPv4 address, so a dual-stack listener matches IPv4 rules.
bool CidrContains(const Cidr& cidr, const boost::asio::ip::address& address);
bool AnyContains(const std::vector<Cidr>& cidrs, const boost::asio::ip::address& address);

// The address the request came from. X-Forwarded-For is believed only when the TCP peer is a
// trusted proxy: then the list is walked from the right (the hop nearest to us) over further
// trusted proxies, and the first address that is not one is the client. nullopt when the header
// must be believed but holds something that is not an address (fail closed).
std::optional<boost::asio::ip::address> ClientAddress(const boost::asio::ip::address& peer,
                                                      std::string_view forwarded_for,
                                                      const std::vector<Cidr>& trusted_proxies);

// HMAC-SHA256 of `body` under `secret`, raw 32 bytes.
std::string HmacSha256(std::string_view secret, std::string_view body);

// True when `signature_header` is the HMAC-SHA256 of `body` under any of `secrets`. The header
// holds the digest in lower- or upper-case hex or in base64 (standard or URL-safe, padding
// optional), optionally prefixed "sha256=". Digests are compared in constant time
// (CRYPTO_memcmp), every secret is tried so the time does not tell which one matched.
bool SignatureMatches(std::string_view signature_header, std::string_view body,
                      const std::vector<std::string>& secrets);

// True when `token` equals one of `tokens`. Both sides are hashed first and the digests compared
// in constant time, so neither the content nor the length of a token leaks through timing.
bool TokenMatches(std::string_view token, const std::vector<std::string>& tokens);

// The value of `name` in a query string ("a=1&token=x"), percent-decoding it; nullopt if absent.
std::optional<std::string> QueryParameter(std::string_view query, std::string_view name);

// Splits "a, b,c" into {"a","b","c"}, trimming blanks and dropping empty entries.
std::vector<std::string> SplitList(std::string_view text);

struct AuthPolicy {
  std::vector<std::string> hmac_secrets;     // empty: no signature required
  std::string signature_header = "X-Signature";
  std::vector<std::string> url_tokens;       // empty: no token required
  std::vector<Cidr> allowed_networks;        // empty: any source
  std::vector<Cidr> trusted_proxies;         // whose X-Forwarded-For is believed
};

// What Authenticate needs from one request, already taken apart by the handler.
struct AuthInput {
  boost::asio::ip::address peer;
  std::string_view forwarded_for;
  std::optional<std::string_view> signature;  // the header's value, if present
  std::optional<std::string> token;           // from the path or the query, if present
  std::string_view body;
};

enum class AuthVerdict {
  kAllowed,
  kNetworkNotAllowed,  // 403
  kBadForwardedFor,    // 403: the header from a trusted proxy is not a list of addresses
  kMissingSignature,   // 401
  kBadSignature,       // 401
  kMissingToken,       // 401
  kBadToken,           // 401
};

AuthVerdict Authenticate(const AuthPolicy& policy, const AuthInput& input);
// A stable, low-cardinality name for logs and the metric label ("bad_signature", ...).
std::string_view VerdictName(AuthVerdict verdict);

}  // namespace payorch::ingress
