#include "services/ingress/auth.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace payorch::ingress {

namespace ip = boost::asio::ip;

namespace {

constexpr std::size_t kDigestBytes = 32;

std::string_view Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

std::optional<std::string> DecodeHex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = HexValue(text[2 * i]);
    const int low = HexValue(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<char>(high * 16 + low);
  }
  return out;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int value = Base64Value(c);
    if (value < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

std::string Sha256(std::string_view data) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

std::optional<ip::address> ParseAddress(std::string_view text) {
  text = Trim(text);
  // "[v6]" and "v4:port" forms some proxies write.
  if (text.size() > 2 && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    text = text.substr(1, close - 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    text = text.substr(0, text.find(':'));
  }
  boost::system::error_code ec;
  const auto address = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return address;
}

ip::address Unmapped(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

std::optional<Cidr> ParseCidr(std::string_view text) {
  text = Trim(text);
  const auto slash = text.find('/');
  boost::system::error_code ec;
  const auto address = ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  const unsigned max_prefix = address.is_v4() ? 32 : 128;
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view prefix_text = text.substr(slash + 1);
    const auto [end, parse_ec] =
        std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
    if (parse_ec != std::errc() || end != prefix_text.data() + prefix_text.size() ||
        prefix_text.empty() || prefix > max_prefix) {
      return std::nullopt;
    }
  }
  return Cidr{address, prefix};
}

bool CidrContains(const Cidr& cidr, const ip::address& raw_address) {
  const ip::address address = Unmapped(raw_address);
  const ip::address network = Unmapped(cidr.network);
  unsigned prefix = cidr.prefix_length;
  if (cidr.network.is_v6() && network.is_v4()) prefix = prefix >= 96 ? prefix - 96 : 0;
  if (address.is_v4() != network.is_v4()) return false;
  std::array<unsigned char, 16> a{};
  std::array<unsigned char, 16> n{};
  std::size_t size = 0;
  if (address.is_v4()) {
    const auto a4 = address.to_v4().to_bytes();
    const auto n4 = network.to_v4().to_bytes();
    std::copy(a4.begin(), a4.end(), a.begin());
    std::copy(n4.begin(), n4.end(), n.begin());
    size = 4;
  } else {
    a = address.to_v6().to_bytes();
    n = network.to_v6().to_bytes();
    size = 16;
  }
  unsigned remaining = prefix;
  for (std::size_t i = 0; i < size && remaining > 0; ++i) {
    const unsigned bits = std::min(remaining, 8u);
    const auto mask = static_cast<unsigned char>(0xFF << (8 - bits));
    if ((a[i] & mask) != (n[i] & mask)) return false;
    remaining -= bits;
  }
  return true;
}

bool AnyContains(const std::vector<Cidr>& cidrs, const ip::address& address) {
  for (const auto& cidr : cidrs) {
    if (CidrContains(cidr, address)) return true;
  }
  return false;
}

std::optional<ip::address> ClientAddress(const ip::address& peer, std::string_view forwarded_for,
                                         const std::vector<Cidr>& trusted_proxies) {
  if (!AnyContains(trusted_proxies, peer) || Trim(forwarded_for).empty()) return peer;
  std::optional<ip::address> client = peer;
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    const std::string_view entry =
        comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (Trim(entry).empty()) continue;
    const auto address = ParseAddress(entry);
    if (!address) return std::nullopt;
    client = address;
    if (!AnyContains(trusted_proxies, *address)) return client;
  }
  return client;  // every hop was a trusted proxy: the leftmost is the origin
}

std::string HmacSha256(std::string_view secret, std::string_view body) {
  std::string digest(EVP_MAX_MD_SIZE, '\0');
  unsigned length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(),
       reinterpret_cast<unsigned char*>(digest.data()), &length);
  digest.resize(length);
  return digest;
}

bool SignatureMatches(std::string_view signature_header, std::string_view body,
                      const std::vector<std::string>& secrets) {
  std::string_view text = Trim(signature_header);
  if (text.size() > 7 && (text.substr(0, 7) == "sha256=" || text.substr(0, 7) == "SHA256=")) {
    text.remove_prefix(7);
  }
  std::optional<std::string> claimed;
  if (text.size() == 2 * kDigestBytes) claimed = DecodeHex(text);
  if (!claimed) claimed = DecodeBase64(text);
  if (!claimed || claimed->size() != kDigestBytes) return false;
  bool matched = false;
  for (const auto& secret : secrets) {
    const std::string expected = HmacSha256(secret, body);
    matched |= CRYPTO_memcmp(expected.data(), claimed->data(), kDigestBytes) == 0;
  }
  return matched;
}

bool TokenMatches(std::string_view token, const std::vector<std::string>& tokens) {
  const std::string claimed = Sha256(token);
  bool matched = false;
  for (const auto& candidate : tokens) {
    const std::string expected = Sha256(candidate);
    matched |= CRYPTO_memcmp(expected.data(), claimed.data(), expected.size()) == 0;
  }
  return matched;
}

std::optional<std::string> QueryParameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto equals = pair.find('=');
    if (pair.substr(0, equals) != name) continue;
    const std::string_view raw =
        equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
    std::string value;
    value.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value.push_back(' ');
      } else if (raw[i] == '%' && i + 2 < raw.size() && HexValue(raw[i + 1]) >= 0 &&
                 HexValue(raw[i + 2]) >= 0) {
        value.push_back(static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2])));
        i += 2;
      } else {
        value.push_back(raw[i]);
      }
    }
    return value;
  }
  return std::nullopt;
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view entry = Trim(text.substr(0, comma));
    if (!entry.empty()) out.emplace_back(entry);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

AuthVerdict Authenticate(const AuthPolicy& policy, const AuthInput& input) {
  if (!policy.allowed_networks.empty()) {
    const auto client = ClientAddress(input.peer, input.forwarded_for, policy.trusted_proxies);
    if (!client) return AuthVerdict::kBadForwardedFor;
    if (!AnyContains(policy.allowed_networks, *client)) return AuthVerdict::kNetworkNotAllowed;
  }
  if (!policy.url_tokens.empty()) {
    if (!input.token || input.token->empty()) return AuthVerdict::kMissingToken;
    if (!TokenMatches(*input.token, policy.url_tokens)) return AuthVerdict::kBadToken;
  }
  if (!policy.hmac_secrets.empty()) {
    if (!input.signature || Trim(*input.signature).empty()) return AuthVerdict::kMissingSignature;
    if (!SignatureMatches(*input.signature, input.body, policy.hmac_secrets)) {
      return AuthVerdict::kBadSignature;
    }
  }
  return AuthVerdict::kAllowed;
}

std::string_view VerdictName(AuthVerdict verdict) {
  switch (verdict) {
    case AuthVerdict::kAllowed: return "allowed";
    case AuthVerdict::kNetworkNotAllowed: return "network_not_allowed";
    case AuthVerdict::kBadForwardedFor: return "bad_forwarded_for";
    case AuthVerdict::kMissingSignature: return "missing_signature";
    case AuthVerdict::kBadSignature: return "bad_signature";
    case AuthVerdict::kMissingToken: return "missing_token";
    case AuthVerdict::kBadToken: return "bad_token";
  }
  return "unknown";
}

}  // namespace payorch::ingress
