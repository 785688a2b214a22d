#include "gateways/sandbox/behaviour.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace payorch::gateways::sandbox {
namespace {

using Kind = Behaviour::Kind;
using std::chrono::milliseconds;

Behaviour Approve() { return Behaviour{}; }
Behaviour Decline(std::string code) { return Behaviour{Kind::kDecline, std::move(code), 0, {}}; }
Behaviour Unavailable(int n) { return Behaviour{Kind::kUnavailable, "", n, {}}; }
Behaviour Slow(int ms) { return Behaviour{Kind::kSlow, "", 0, milliseconds(ms)}; }
Behaviour Of(Kind kind) { return Behaviour{kind, "", 0, {}}; }

struct Case {
  std::string token;
  Behaviour expected;
};

TEST(ParseBehaviourTest, TokensScriptTheDocumentedBehaviours) {
  const std::vector<Case> cases = {
      // Plain words.
      {"approve", Approve()},
      {"decline", Decline("card_declined")},
      {"lost", Of(Kind::kLost)},
      {"invalid", Of(Kind::kInvalid)},
      // decline:CODE
      {"decline:insufficient_funds", Decline("insufficient_funds")},
      {"decline:05", Decline("05")},
      {"decline:do-not.honor", Decline("do-not.honor")},
      {"decline:" + std::string(64, 'x'), Decline(std::string(64, 'x'))},
      // unavailable:N
      {"unavailable:0", Unavailable(0)},
      {"unavailable:2", Unavailable(2)},
      {"unavailable:1000", Unavailable(1000)},
      // slow:MS
      {"slow:0", Slow(0)},
      {"slow:1500", Slow(1500)},
      {"slow:60000", Slow(60000)},
      // Anything else approves: real tokens, empty, case differences.
      {"", Approve()},
      {"tok_4242424242424242", Approve()},
      {"APPROVE", Approve()},
      {"Decline", Approve()},
      {"declined", Approve()},
      {"lost:1", Approve()},
      {"invalid:x", Approve()},
      {" decline", Approve()},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ParseBehaviour(c.token), c.expected) << "token: \"" << c.token << "\"";
  }
}

TEST(ParseBehaviourTest, MalformedScriptedTokensApprove) {
  const std::vector<std::string> malformed = {
      "unavailable",         // no count
      "unavailable:",        // empty count
      "unavailable:x",       // not a number
      "unavailable:-1",      // negative
      "unavailable:+2",      // sign
      "unavailable: 2",      // space
      "unavailable:2x",      // trailing garbage
      "unavailable:1001",    // above kMaxUnavailableCalls
      "unavailable:99999999999999999999",  // overflow
      "slow",                // no delay
      "slow:",               // empty delay
      "slow:-1",             // negative
      "slow:1.5",            // not an integer
      "slow:60001",          // above kMaxSlowDelay
      "slow:abc",            // not a number
      "decline:",            // empty code
      "decline:bad code",    // space in code
      "decline:caf\xc3\xa9",  // non-ASCII
      "decline:" + std::string(65, 'x'),  // too long
      "decline::",           // colon in code
  };
  for (const auto& token : malformed) {
    EXPECT_EQ(ParseBehaviour(token), Approve()) << "token: \"" << token << "\"";
  }
}

TEST(ParseBehaviourTest, KindNamesAreStable) {
  EXPECT_EQ(KindName(Kind::kApprove), "approve");
  EXPECT_EQ(KindName(Kind::kDecline), "decline");
  EXPECT_EQ(KindName(Kind::kUnavailable), "unavailable");
  EXPECT_EQ(KindName(Kind::kSlow), "slow");
  EXPECT_EQ(KindName(Kind::kLost), "lost");
  EXPECT_EQ(KindName(Kind::kInvalid), "invalid");
}

}  // namespace
}  // namespace payorch::gateways::sandbox
