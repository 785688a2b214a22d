#include "services/ingress/auth.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace payorch::ingress {
namespace {

namespace ip = boost::asio::ip;

std::string Hex(const std::string& bytes, bool upper = false) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string Base64(const std::string& bytes, bool url_safe = false, bool pad = true) {
  const std::string alphabet =
      url_safe ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (6 - bits)) & 63]);
  while (pad && out.size() % 4 != 0) out.push_back('=');
  return out;
}

TEST(HmacTest, KnownVectorRfc4231Case2) {
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(SignatureMatchesTest, AcceptsEveryEncodingOfTheRightDigest) {
  const std::string body = R"({"broadcasterId":1})";
  const std::vector<std::string> secrets = {"old-secret", "new-secret"};
  const std::string digest = HmacSha256("new-secret", body);
  for (const std::string& header :
       {Hex(digest), Hex(digest, true), "sha256=" + Hex(digest), Base64(digest),
        Base64(digest, true), Base64(digest, false, false), " " + Hex(digest) + " "}) {
    EXPECT_TRUE(SignatureMatches(header, body, secrets)) << header;
  }
  // Either secret of a rotation is accepted.
  EXPECT_TRUE(SignatureMatches(Hex(HmacSha256("old-secret", body)), body, secrets));
}

TEST(SignatureMatchesTest, RefusesWrongOrMalformedSignatures) {
  const std::string body = R"({"broadcasterId":1})";
  const std::vector<std::string> secrets = {"secret"};
  const std::string digest = HmacSha256("secret", body);
  std::string flipped = digest;
  flipped[31] = static_cast<char>(flipped[31] ^ 1);
  for (const std::string& header :
       {std::string(), Hex(flipped), Hex(HmacSha256("other", body)),
        Hex(digest).substr(0, 63), Hex(digest) + "00", Hex(digest).replace(0, 1, "g"),
        Base64(digest).substr(0, 20), std::string("not a signature at all"),
        Hex(HmacSha256("secret", body + " "))}) {
    EXPECT_FALSE(SignatureMatches(header, body, secrets)) << header;
  }
  EXPECT_FALSE(SignatureMatches(Hex(digest), body, {}));
}

TEST(TokenMatchesTest, ExactTokensOnly) {
  const std::vector<std::string> tokens = {"tok-A", "tok-B"};
  EXPECT_TRUE(TokenMatches("tok-A", tokens));
  EXPECT_TRUE(TokenMatches("tok-B", tokens));
  for (const char* bad : {"", "tok-", "tok-AA", "TOK-A", "tok-C"}) {
    EXPECT_FALSE(TokenMatches(bad, tokens)) << bad;
  }
}

TEST(CidrTest, ParsesAndMatches) {
  struct Case {
    const char* cidr;
    const char* address;
    bool contains;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.255.1.2", true},    {"10.0.0.0/8", "11.0.0.1", false},
      {"192.168.1.0/24", "192.168.1.77", true}, {"192.168.1.0/24", "192.168.2.1", false},
      {"192.168.1.5", "192.168.1.5", true},  {"192.168.1.5", "192.168.1.6", false},
      {"0.0.0.0/0", "8.8.8.8", true},         {"10.1.2.3/31", "10.1.2.2", true},
      {"10.0.0.0/8", "::ffff:10.1.1.1", true}, {"2001:db8::/32", "2001:db8:1::1", true},
      {"2001:db8::/32", "2001:db9::1", false}, {"10.0.0.0/8", "2001:db8::1", false},
      {"::ffff:10.0.0.0/104", "10.3.3.3", true},
  };
  for (const auto& c : cases) {
    const auto cidr = ParseCidr(c.cidr);
    ASSERT_TRUE(cidr) << c.cidr;
    EXPECT_EQ(CidrContains(*cidr, ip::make_address(c.address)), c.contains)
        << c.cidr << " " << c.address;
  }
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "host/8", "::/129",
                          "10.0.0.0/8x", "10.0.0.0/-1"}) {
    EXPECT_FALSE(ParseCidr(bad)) << bad;
  }
}

TEST(ClientAddressTest, BelievesForwardedForOnlyFromTrustedProxies) {
  const std::vector<Cidr> proxies = {*ParseCidr("10.0.0.0/8")};
  const auto peer_proxy = ip::make_address("10.0.0.5");
  const auto peer_direct = ip::make_address("203.0.113.9");
  struct Case {
    ip::address peer;
    const char* forwarded_for;
    std::optional<const char*> client;  // nullopt: refused
  };
  const Case cases[] = {
      {peer_direct, "", "203.0.113.9"},
      {peer_direct, "1.2.3.4", "203.0.113.9"},  // not from a proxy: the header is ignored
      {peer_proxy, "", "10.0.0.5"},
      {peer_proxy, "1.2.3.4", "1.2.3.4"},
      {peer_proxy, "6.6.6.6, 1.2.3.4", "1.2.3.4"},   // a client cannot forge hops to its left
      {peer_proxy, "1.2.3.4, 10.9.9.9", "1.2.3.4"},  // inner trusted proxies are skipped
      {peer_proxy, "10.1.1.1, 10.2.2.2", "10.1.1.1"},
      {peer_proxy, "1.2.3.4:5555", "1.2.3.4"},
      {peer_proxy, "[2001:db8::1]", "2001:db8::1"},
      {peer_proxy, "garbage", std::nullopt},
  };
  for (const auto& c : cases) {
    const auto client = ClientAddress(c.peer, c.forwarded_for, proxies);
    if (!c.client) {
      EXPECT_FALSE(client) << c.forwarded_for;
    } else {
      ASSERT_TRUE(client) << c.forwarded_for;
      EXPECT_EQ(client->to_string(), *c.client) << c.forwarded_for;
    }
  }
}

TEST(QueryParameterTest, FindsAndDecodes) {
  EXPECT_EQ(QueryParameter("token=abc", "token"), "abc");
  EXPECT_EQ(QueryParameter("a=1&token=a%2Db+c", "token"), "a-b c");
  EXPECT_EQ(QueryParameter("tokens=1&token=", "token"), "");
  EXPECT_FALSE(QueryParameter("a=1&tokenx=2", "token"));
  EXPECT_FALSE(QueryParameter("", "token"));
}

TEST(SplitListTest, TrimsAndDropsEmpties) {
  EXPECT_EQ(SplitList(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SplitList("").empty());
  EXPECT_TRUE(SplitList(" , ").empty());
}

TEST(AuthenticateTest, EveryConfiguredMechanismMustPass) {
  AuthPolicy policy;
  policy.hmac_secrets = {"s1"};
  policy.url_tokens = {"t1"};
  policy.allowed_networks = {*ParseCidr("127.0.0.0/8")};
  const std::string body = "{}";
  const std::string signature = Hex(HmacSha256("s1", body));
  AuthInput good;
  good.peer = ip::make_address("127.0.0.1");
  good.signature = signature;
  good.token = "t1";
  good.body = body;
  EXPECT_EQ(Authenticate(policy, good), AuthVerdict::kAllowed);
  EXPECT_EQ(Authenticate(AuthPolicy{}, AuthInput{}), AuthVerdict::kAllowed);

  struct Case {
    void (*change)(AuthInput&);
    AuthVerdict verdict;
  };
  const Case cases[] = {
      {[](AuthInput& in) { in.peer = ip::make_address("192.0.2.1"); },
       AuthVerdict::kNetworkNotAllowed},
      {[](AuthInput& in) { in.token.reset(); }, AuthVerdict::kMissingToken},
      {[](AuthInput& in) { in.token = "t2"; }, AuthVerdict::kBadToken},
      {[](AuthInput& in) { in.signature.reset(); }, AuthVerdict::kMissingSignature},
      {[](AuthInput& in) { in.body = "{ }"; }, AuthVerdict::kBadSignature},
  };
  for (const auto& c : cases) {
    AuthInput input = good;
    c.change(input);
    EXPECT_EQ(Authenticate(policy, input), c.verdict) << VerdictName(c.verdict);
  }

  AuthPolicy behind_proxy;
  behind_proxy.allowed_networks = {*ParseCidr("198.51.100.0/24")};
  behind_proxy.trusted_proxies = {*ParseCidr("127.0.0.1")};
  AuthInput via_proxy;
  via_proxy.peer = ip::make_address("127.0.0.1");
  via_proxy.forwarded_for = "198.51.100.7";
  EXPECT_EQ(Authenticate(behind_proxy, via_proxy), AuthVerdict::kAllowed);
  via_proxy.forwarded_for = "192.0.2.1";
  EXPECT_EQ(Authenticate(behind_proxy, via_proxy), AuthVerdict::kNetworkNotAllowed);
  via_proxy.forwarded_for = "nonsense";
  EXPECT_EQ(Authenticate(behind_proxy, via_proxy), AuthVerdict::kBadForwardedFor);
}

}  // namespace
}  // namespace payorch::ingress
