// R20/R27: the SOC API's token file and bearer authentication.
#include "soc/api_token.h"

#include <gtest/gtest.h>

namespace seccloud::soc {
namespace {

TEST(ApiTokenTest, ParsesScopesAndAuthenticates) {
  const std::string a = *MintApiToken(), b = *MintApiToken();
  EXPECT_EQ(a.size(), 68u);
  EXPECT_NE(a, b);
  const std::string text = "# comment\n\n" + ApiTokenLine("soc", a, true, {}) +
                           ApiTokenLine("csirt", b, false, {"tsu", "ise", "tsu"});
  auto set = ParseApiTokens(text, "tokens");
  ASSERT_TRUE(set.has_value()) << set.error().ToString();
  ASSERT_EQ(set->tokens.size(), 2u);
  EXPECT_TRUE(set->tokens[0].all_tenants);
  EXPECT_EQ(set->tokens[1].tenants, (std::vector<std::string>{"ise", "tsu"}));
  EXPECT_TRUE(set->tokens[1].Covers("tsu"));
  EXPECT_FALSE(set->tokens[1].Covers("kuwana"));
  EXPECT_TRUE(set->tokens[0].Covers("kuwana"));

  EXPECT_EQ(Authenticate(*set, "Bearer " + a)->id, "soc");
  EXPECT_EQ(Authenticate(*set, "bearer  " + b + " ")->id, "csirt");
  EXPECT_EQ(Authenticate(*set, "Bearer " + a + "0"), nullptr);
  EXPECT_EQ(Authenticate(*set, a), nullptr);
  EXPECT_EQ(Authenticate(*set, "Bearer "), nullptr);
  EXPECT_EQ(Authenticate(*set, "Basic " + a), nullptr);
  EXPECT_EQ(Authenticate(*set, "Bearer " + std::string(10000, 'a')), nullptr);
  // The file holds hashes only.
  EXPECT_EQ(text.find(a), std::string::npos);
  EXPECT_EQ(Hex(Sha256("abc").data(), 32),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiTokenTest, BadLinesAreErrorsWithTheirLine) {
  const std::string h(64, 'a');
  struct Case {
    std::string text;
    std::string want;
  } cases[] = {
      {"x " + h + "\n", "tokens:1: want: id sha256-hex scope"},
      {"# ok\nx " + h.substr(1) + " *\n", "tokens:2: the hash must be 64 hex digits"},
      {"x " + std::string(64, 'g') + " *\n", "the hash must be 64 hex digits"},
      {"bad/id " + h + " *\n", "token id must be"},
      {"x " + h + " tsu,,ise\n", "scope: * or tenant ids"},
      {"x " + h + " *\ny " + h + " *\n", "tokens:2: the same token is listed twice"},
      {"x " + h + " *\nx " + std::string(64, 'b') + " *\n", "token id x is used twice"},
      {"x " + h + " * extra\n", "want: id sha256-hex scope"},
  };
  for (const auto& c : cases) {
    auto r = ParseApiTokens(c.text, "tokens");
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_NE(r.error().message.find(c.want), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(ParseApiTokens(std::string(kMaxTokenFileBytes + 1, '#'), "tokens").has_value());
}

}  // namespace
}  // namespace seccloud::soc
