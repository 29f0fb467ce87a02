// R10: warn-and-continue grants only the terminal and host the page was shown for, and expires.
#include "proxy/warn_override.h"

#include <gtest/gtest.h>

namespace seccloud::proxy {
namespace {

std::string QueryOf(const std::string& url) { return url.substr(url.find('?') + 1); }

TEST(WarnOverridesTest, ContinueGrantsThatTerminalAndHostOnly) {
  WarnOverrides w(std::chrono::hours(1), std::chrono::minutes(30));
  const auto t0 = WarnOverrides::Clock::now();
  std::string url =
      w.ContinueUrl("tsu", "10.1.2.3", "games.example", "http://games.example/a?b=c", t0);
  EXPECT_EQ(url.rfind("http://seccloud.invalid/continue?", 0), 0u);
  EXPECT_FALSE(w.Granted("tsu", "10.1.2.3", "games.example", t0));
  std::string why;
  // Another terminal cannot use it.
  EXPECT_FALSE(w.Accept(QueryOf(url), "tsu", "10.1.2.4", &why, t0));
  EXPECT_NE(why.find("not made for this terminal"), std::string::npos);
  auto c = w.Accept(QueryOf(url), "tsu", "10.1.2.3", &why, t0);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->url, "http://games.example/a?b=c");
  EXPECT_TRUE(w.Granted("tsu", "10.1.2.3", "games.example", t0));
  EXPECT_FALSE(w.Granted("tsu", "10.1.2.3", "other.example", t0));
  EXPECT_FALSE(w.Granted("ise", "10.1.2.3", "games.example", t0));
  EXPECT_FALSE(w.Granted("tsu", "10.1.2.3", "games.example", t0 + std::chrono::hours(2)));
}

TEST(WarnOverridesTest, AlteredOrExpiredLinksAreRefused) {
  WarnOverrides w;
  const auto t0 = WarnOverrides::Clock::now();
  std::string q = QueryOf(w.ContinueUrl("tsu", "10.1.2.3", "a.example", "http://a.example/", t0));
  std::string why;
  std::string altered = q;
  altered.replace(altered.find("h=a.example"), 11, "h=b.example");
  EXPECT_FALSE(w.Accept(altered, "tsu", "10.1.2.3", &why, t0));
  EXPECT_FALSE(w.Accept(q, "tsu", "10.1.2.3", &why, t0 + std::chrono::hours(1)));
  EXPECT_NE(why.find("expired"), std::string::npos);
  EXPECT_FALSE(w.Accept("h=a.example", "tsu", "10.1.2.3", &why, t0));
  EXPECT_FALSE(w.Accept("", "tsu", "10.1.2.3", &why, t0));
}

TEST(PercentTest, RoundTripsAnyBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  EXPECT_EQ(PercentDecode(PercentEncode(all)), all);
  EXPECT_FALSE(PercentDecode("%4"));
  EXPECT_FALSE(PercentDecode("%zz"));
}

}  // namespace
}  // namespace seccloud::proxy
