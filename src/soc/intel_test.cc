#include "soc/intel.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/sanitizer_testing.h"
#include "core/text.h"
#include "soc/field_view.h"
#include "soc/parse.h"

namespace seccloud::soc {
namespace {

std::shared_ptr<const IntelSet> Build(std::vector<IntelFeedText> feeds,
                                      IntelLoadReport* report = nullptr) {
  auto set = BuildIntel(feeds, report);
  EXPECT_TRUE(set) << (set ? "" : set.error().ToString());
  return set ? *set : nullptr;
}

IntelFeed Feed(std::string name, IntelFormat format = IntelFormat::kSeccloud,
               Level level = Level::kHigh) {
  IntelFeed f;
  f.name = std::move(name);
  f.format = format;
  f.level = level;
  return f;
}

std::vector<std::string> Values(const IntelSet& set, std::vector<const IntelEntry*> entries) {
  std::vector<std::string> out;
  for (const auto* e : entries) out.push_back(set.feeds()[e->feed].name + ":" + e->value);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Domain(const IntelSet& set, std::string_view d) {
  std::vector<const IntelEntry*> out;
  set.LookupDomain(d, &out);
  return Values(set, out);
}
std::vector<std::string> Ip(const IntelSet& set, std::string_view d) {
  std::vector<const IntelEntry*> out;
  set.LookupIp(d, &out);
  return Values(set, out);
}
std::vector<std::string> Url(const IntelSet& set, std::string_view d) {
  std::vector<const IntelEntry*> out;
  set.LookupUrl(d, &out);
  return Values(set, out);
}
std::vector<std::string> Hash(const IntelSet& set, std::string_view d) {
  std::vector<const IntelEntry*> out;
  set.LookupHash(d, &out);
  return Values(set, out);
}
using V = std::vector<std::string>;

constexpr std::string_view kSeccloudFeed =
    "# seccloud test feed\n"
    "evil.example   # C2 of campaign X\n"
    "*.wild.example\n"
    "203.0.113.7\n"
    "198.51.100.0/24 # bulletproof hoster\n"
    "2001:db8:bad::/48\n"
    "2001:db8::66\n"
    "HTTP://Download.Example:80/payload.exe#frag\n"
    "https://secure.example:8443/login?x=1\n"
    "44d88612fea8a8f36de82e1278abb02f\n"
    "3395856ce81f2b7382dee72602f798b642f14140\n"
    "275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F  # EICAR\n"
    "\n"
    "not_a*domain\n"
    "10.0.0.0/33\n"
    "com\n"
    "two values here\n";

TEST(IntelLoad, SeccloudFormatEveryIndicatorTypeAndBadLinesWithLineNumbers) {
  IntelLoadReport report;
  IntelFeed feed = Feed("local");
  feed.path = "local.txt";
  auto set = Build({{feed, kSeccloudFeed}}, &report);
  ASSERT_TRUE(set);
  ASSERT_EQ(report.feeds.size(), 1u);
  const auto& s = report.feeds[0];
  EXPECT_EQ(s.lines, 17u);
  EXPECT_EQ(s.indicators, 11u);
  EXPECT_EQ(s.bad_lines, 4u);
  EXPECT_EQ(report.bad_lines, 4u);
  EXPECT_EQ(s.by_type[static_cast<int>(IndicatorType::kDomain)], 2u);
  EXPECT_EQ(s.by_type[static_cast<int>(IndicatorType::kIpv4)], 1u);
  EXPECT_EQ(s.by_type[static_cast<int>(IndicatorType::kIpv6)], 1u);
  EXPECT_EQ(s.by_type[static_cast<int>(IndicatorType::kCidr)], 2u);
  EXPECT_EQ(s.by_type[static_cast<int>(IndicatorType::kUrl)], 2u);
  EXPECT_EQ(s.by_type[static_cast<int>(IndicatorType::kMd5)], 1u);
  EXPECT_EQ(s.by_type[static_cast<int>(IndicatorType::kSha1)], 1u);
  EXPECT_EQ(s.by_type[static_cast<int>(IndicatorType::kSha256)], 1u);
  ASSERT_EQ(report.problems.size(), 4u);
  EXPECT_TRUE(report.problems[0].starts_with("local.txt:14: ")) << report.problems[0];
  EXPECT_TRUE(report.problems[1].starts_with("local.txt:15: ")) << report.problems[1];
  EXPECT_NE(report.problems[1].find("not a CIDR"), std::string::npos) << report.problems[1];
  EXPECT_TRUE(report.problems[2].starts_with("local.txt:16: ")) << report.problems[2];
  EXPECT_NE(report.problems[2].find("single-label"), std::string::npos);
  EXPECT_TRUE(report.problems[3].starts_with("local.txt:17: ")) << report.problems[3];
  EXPECT_EQ(set->size(), 11u);
  EXPECT_GT(report.memory_bytes, 0u);
}

TEST(IntelMatch, DomainMatchesItselfAndSubdomainsButNotLookalikes) {
  auto set = Build({{Feed("f"), kSeccloudFeed}});
  ASSERT_TRUE(set);
  EXPECT_EQ(Domain(*set, "evil.example"), V{"f:evil.example"});
  EXPECT_EQ(Domain(*set, "a.b.evil.example"), V{"f:evil.example"});
  EXPECT_EQ(Domain(*set, "A.B.EVIL.Example."), V{"f:evil.example"});
  EXPECT_EQ(Domain(*set, "x.wild.example"), V{"f:wild.example"});
  EXPECT_EQ(Domain(*set, "wild.example"), V{"f:wild.example"});
  EXPECT_TRUE(Domain(*set, "notevil.example").empty());
  EXPECT_TRUE(Domain(*set, "evil.example.com").empty());
  EXPECT_TRUE(Domain(*set, "example").empty());
  EXPECT_TRUE(Domain(*set, "").empty());
  EXPECT_TRUE(Domain(*set, std::string(300, 'a')).empty());
  // An address in a host field is looked up as an address.
  EXPECT_EQ(Domain(*set, "203.0.113.7"), V{"f:203.0.113.7"});
  EXPECT_EQ(Domain(*set, "[2001:db8::66]"), V{"f:2001:db8::66"});
}

TEST(IntelMatch, IpsExactAndByCidrBothFamilies) {
  auto set = Build({{Feed("f"), kSeccloudFeed}});
  ASSERT_TRUE(set);
  EXPECT_EQ(Ip(*set, "203.0.113.7"), V{"f:203.0.113.7"});
  EXPECT_TRUE(Ip(*set, "203.0.113.8").empty());
  EXPECT_EQ(Ip(*set, "::ffff:203.0.113.7"), V{"f:203.0.113.7"});
  EXPECT_EQ(Ip(*set, "198.51.100.0"), V{"f:198.51.100.0/24"});
  EXPECT_EQ(Ip(*set, "198.51.100.255"), V{"f:198.51.100.0/24"});
  EXPECT_TRUE(Ip(*set, "198.51.101.1").empty());
  EXPECT_EQ(Ip(*set, "2001:db8:bad:1::2"), V{"f:2001:db8:bad::/48"});
  EXPECT_TRUE(Ip(*set, "2001:db8:bae::1").empty());
  EXPECT_EQ(Ip(*set, "2001:DB8::66"), V{"f:2001:db8::66"});
  EXPECT_TRUE(Ip(*set, "not an ip").empty());
}

TEST(IntelMatch, NestedCidrsAndSeveralFeedsAllReported) {
  auto set =
      Build({{Feed("a"), "10.0.0.0/8\n10.1.0.0/16\n10.1.2.3\n"}, {Feed("b"), "10.1.0.0/16\n"}});
  ASSERT_TRUE(set);
  EXPECT_EQ(Ip(*set, "10.1.2.3"),
            (V{"a:10.0.0.0/8", "a:10.1.0.0/16", "a:10.1.2.3", "b:10.1.0.0/16"}));
  EXPECT_EQ(Ip(*set, "10.2.0.1"), V{"a:10.0.0.0/8"});
}

TEST(IntelMatch, UrlsNormalisedSchemeHostCaseDefaultPortFragment) {
  auto set = Build({{Feed("f"), kSeccloudFeed}});
  ASSERT_TRUE(set);
  const V payload{"f:download.example/payload.exe"};
  EXPECT_EQ(Url(*set, "http://download.example/payload.exe"), payload);
  EXPECT_EQ(Url(*set, "HTTP://DOWNLOAD.EXAMPLE:80/payload.exe"), payload);
  EXPECT_EQ(Url(*set, "http://user:pw@download.example./payload.exe#x"), payload);
  // The path is case-sensitive; a different path or a non-default port is another URL.
  EXPECT_TRUE(Url(*set, "http://download.example/PAYLOAD.exe").empty());
  EXPECT_TRUE(Url(*set, "http://download.example:8080/payload.exe").empty());
  EXPECT_TRUE(Url(*set, "http://download.example/payload.exe?x").empty());
  const V login{"f:secure.example:8443/login?x=1"};
  EXPECT_EQ(Url(*set, "https://Secure.Example:8443/login?x=1"), login);
  EXPECT_TRUE(Url(*set, "https://secure.example/login?x=1").empty());

  std::string key;
  std::string_view host;
  ASSERT_TRUE(NormalizeUrlKey("https://Example.COM:443", &key, &host));
  EXPECT_EQ(key, "example.com/");
  EXPECT_EQ(host, "example.com");
  ASSERT_TRUE(NormalizeUrlKey("http://[2001:DB8::1]:8080/a", &key, &host));
  EXPECT_EQ(key, "[2001:db8::1]:8080/a");
  EXPECT_EQ(host, "2001:db8::1");
  ASSERT_TRUE(NormalizeUrlKey("evil.example?q", &key));
  EXPECT_EQ(key, "evil.example/?q");
  // A "://" inside the path is not a scheme (found by soc_intel_fuzz: keys must be a fixed point).
  ASSERT_TRUE(NormalizeUrlKey("HOST:/p/q://x", &key));
  EXPECT_EQ(key, "host/p/q://x");
  std::string again;
  ASSERT_TRUE(NormalizeUrlKey(key, &again));
  EXPECT_EQ(again, key);
  EXPECT_FALSE(NormalizeUrlKey("a..b.example/", &key));  // empty label
  EXPECT_FALSE(NormalizeUrlKey("http://a..b/", &key));
  EXPECT_FALSE(NormalizeUrlKey("http:///path", &key));
  EXPECT_FALSE(NormalizeUrlKey("http://bad host/", &key));
  EXPECT_FALSE(NormalizeUrlKey("http://h:99999/", &key));
  EXPECT_FALSE(NormalizeUrlKey("http://[::1/", &key));
}

TEST(IntelMatch, HashesAnyCase) {
  auto set = Build({{Feed("f"), kSeccloudFeed}});
  ASSERT_TRUE(set);
  EXPECT_EQ(Hash(*set, "44D88612FEA8A8F36DE82E1278ABB02F"),
            V{"f:44d88612fea8a8f36de82e1278abb02f"});
  EXPECT_EQ(Hash(*set, "3395856ce81f2b7382dee72602f798b642f14140"),
            V{"f:3395856ce81f2b7382dee72602f798b642f14140"});
  EXPECT_EQ(Hash(*set, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"),
            V{"f:275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"});
  EXPECT_TRUE(Hash(*set, "44d88612fea8a8f36de82e1278abb02e").empty());
  EXPECT_TRUE(Hash(*set, "44d886").empty());
}

TEST(IntelLoad, ThirdPartyFormats) {
  IntelLoadReport report;
  auto set =
      Build({{Feed("loki", IntelFormat::kLokiC2),
              "# FORMAT ---\n#\n\n# Operation Foo https://report.example\nfoo-c2.example\n"
              "192.0.2.10;65\n192.0.2.11;x\n"},
             {Feed("domains", IntelFormat::kDomainList),
              "# Title: x\n! also comment\nbad-domain.example\n192.0.2.20\nhas space.example\n"},
             {Feed("hosts", IntelFormat::kHosts),
              "# hosts\n127.0.0.1 localhost\n0.0.0.0 hosted.example other.example # c\n"
              "hosted2.example\n"},
             {Feed("adblock", IntelFormat::kAdblock),
              "[Adblock Plus 2.0]\n! Title\n||ab.example^\n||ab2.example/dl/x.bin^$all\n"
              "plain.example\n@@||good.example^\n||a*b.example^\n||*.star.example^\n"
              "||ab3.example/?u=script^$all\n"}},
            &report);
  ASSERT_TRUE(set);
  ASSERT_EQ(report.feeds.size(), 4u);
  EXPECT_EQ(report.feeds[0].indicators, 2u);
  EXPECT_EQ(report.feeds[0].bad_lines, 1u);
  EXPECT_EQ(report.feeds[1].indicators, 2u);
  EXPECT_EQ(report.feeds[1].bad_lines, 1u);
  EXPECT_EQ(report.feeds[2].indicators, 2u);
  EXPECT_EQ(report.feeds[2].skipped, 1u);
  EXPECT_EQ(report.feeds[2].bad_lines, 1u);
  EXPECT_EQ(report.feeds[3].indicators, 5u);
  EXPECT_EQ(report.feeds[3].bad_lines, 2u);
  EXPECT_EQ(report.bad_lines, 5u);

  EXPECT_EQ(Domain(*set, "x.foo-c2.example"), V{"loki:foo-c2.example"});
  std::vector<const IntelEntry*> out;
  ASSERT_EQ(set->LookupDomain("foo-c2.example", &out), 1u);
  EXPECT_EQ(set->descriptions()[out[0]->description], "Operation Foo https://report.example");
  EXPECT_EQ(Ip(*set, "192.0.2.10"), V{"loki:192.0.2.10"});
  EXPECT_EQ(Ip(*set, "192.0.2.20"), V{"domains:192.0.2.20"});
  EXPECT_EQ(Domain(*set, "other.example"), V{"hosts:other.example"});
  EXPECT_EQ(Domain(*set, "sub.ab.example"), V{"adblock:ab.example"});
  EXPECT_EQ(Domain(*set, "star.example"), V{"adblock:star.example"});
  EXPECT_EQ(Url(*set, "https://ab2.example/dl/x.bin"), V{"adblock:ab2.example/dl/x.bin"});
  EXPECT_EQ(Url(*set, "http://ab3.example/?u=script"), V{"adblock:ab3.example/?u=script"});
  EXPECT_TRUE(Domain(*set, "ab2.example").empty());  // only the URL is listed
  EXPECT_TRUE(Domain(*set, "good.example").empty());
}

TEST(IntelLoad, DuplicatesCountedOnce) {
  IntelLoadReport report;
  auto set = Build({{Feed("f"), "a.example\nA.example.\n1.2.3.4\n1.2.3.4\n"}}, &report);
  ASSERT_TRUE(set);
  EXPECT_EQ(report.feeds[0].indicators, 2u);
  EXPECT_EQ(report.feeds[0].duplicates, 2u);
  EXPECT_EQ(set->size(), 2u);
}

TEST(IntelLoad, ConfigurationErrorsAreErrors) {
  auto bad_name =
      BuildIntel(std::vector<IntelFeedText>{{Feed("has space"), "a.example\n"}}, nullptr);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, Errc::kInvalidArgument);
  auto twice = BuildIntel(std::vector<IntelFeedText>{{Feed("f"), ""}, {Feed("f"), ""}}, nullptr);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, Errc::kAlreadyExists);
  IntelFeed missing = Feed("missing");
  missing.path = "/nonexistent/seccloud/feed.txt";
  auto loaded = LoadIntel({missing}, nullptr);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, Errc::kNotFound);
  EXPECT_NE(loaded.error().message.find("/nonexistent/seccloud/feed.txt"), std::string::npos);
}

TEST(IntelLoad, LongLinesAreBadNotFatal) {
  IntelLoadReport report;
  std::string text = std::string(kMaxIntelLineBytes + 1, 'a') + "\nok.example\n";
  auto set = Build({{Feed("f"), text}}, &report);
  ASSERT_TRUE(set);
  EXPECT_EQ(report.feeds[0].bad_lines, 1u);
  EXPECT_EQ(report.feeds[0].indicators, 1u);
  EXPECT_TRUE(report.problems[0].starts_with("f:1: line longer than"));
}

Record MakeRecord() {
  Record r;
  r.seq = 42;
  r.time_ms = 1'700'000'000'000;
  r.tenant = "acme";
  SetField(r.fields(), "tenant.id", "acme");
  SetField(r.fields(), "source.ip", "10.1.2.3");
  return r;
}

// MatchRecord looks a path up only through the top-level keys of its first segment: keys spelled
// with dots ("destination.ip"), as objects ("dns": {"question.name": …}), segments sharing a first
// byte ("dns", "destination") and keys that only start like a segment ("destinationx") must be
// told apart exactly as FindField finds them.
TEST(IntelMatch, TopLevelKeysOfEverySpellingAreLookedUp) {
  auto set = Build({{Feed("c2"), kSeccloudFeed}});
  ASSERT_TRUE(set);
  struct Case {
    const char* fields;
    size_t hits;
  };
  const Case kCases[] = {
      {R"({"destination.ip":"203.0.113.7"})", 1},
      {R"({"destination":{"ip":"203.0.113.7"}})", 1},
      {R"({"destinationx":{"ip":"203.0.113.7"}})", 0},
      {R"({"destinationx.ip":"203.0.113.7","d":1,"":2,".":3})", 0},
      {R"({"Destination.ip":"203.0.113.7"})", 0},
      {R"({"d":{"ip":"203.0.113.7"},"dns.question.name":"www.evil.example"})", 1},
      {R"({"dns":{"question.name":"www.evil.example"},"destination.domain":"a.wild.example"})", 2},
      {R"({"tls.client.server_name":"evil.example","client":{"ip":"2001:db8::66"}})", 2},
      {R"({"related.ip":["203.0.113.7"],"related":{"hosts":["x.evil.example"]}})", 2},
      {R"({"url.full":"http://download.example/payload.exe",)"
       R"("file.hash":{"md5":"44d88612fea8a8f36de82e1278abb02f"}})",
       2},
      {R"({"process":{"hash.sha1":"3395856ce81f2b7382dee72602f798b642f14140"},)"
       R"("source.ip":"198.51.100.1"})",
       2},
  };
  for (const Case& c : kCases) {
    Record r;
    r.seq = 1;
    r.fields() = boost::json::parse(c.fields).as_object();
    std::vector<Detection> out;
    MatchRecord(*set, r, &out);
    EXPECT_EQ(out.size(), c.hits) << c.fields;
  }
}

// MatchRecord's first step into the record chooses among the top-level keys of the path's first
// segment, which must be FindField's choice: the longest key that is the path or a prefix of it
// whose value is an object, whatever other keys the record has.
TEST(IntelMatch, TopLevelKeyChoiceIsFindFieldsChoice) {
  auto set = Build({{Feed("c2"), kSeccloudFeed}});
  ASSERT_TRUE(set);
  struct Case {
    const char* fields;
    const char* atomic;  // seccloud.intel.atomic of the one detection; "" when none
  };
  const Case kCases[] = {
      // "source.ip" is longer than "source": it wins, whichever comes first.
      {R"({"source":{"ip":"203.0.113.7"},"source.ip":"198.51.99.1"})", ""},
      {R"({"source.ip":"198.51.99.1","source":{"ip":"203.0.113.7"}})", ""},
      {R"({"source":{"ip":"198.51.99.1"},"source.ip":"203.0.113.7"})", "203.0.113.7"},
      // A prefix whose value is not an object is passed over for a shorter one.
      {R"({"source":{"ip":"203.0.113.7"},"source.ip":1})", ""},
      {R"({"url":{"domain":"x.evil.example"},"url.domain.extra":"x"})", "x.evil.example"},
      {R"({"url.domain":{"a":1},"url":{"domain":"x.evil.example"}})", ""},
      {R"({"dns.question":"x","dns":{"question":{"name":"x.evil.example"}}})", "x.evil.example"},
      {R"({"dns.question":{"name":"x.evil.example"},"dns":7})", "x.evil.example"},
      // More keys in one segment than MatchRecord sorts: FindField itself decides.
      {R"({"url":{"full":"http://a.example/"},"url.original":"/x","url.zz":1,)"
       R"("url.domain":"x.evil.example"})",
       "x.evil.example"},
      {R"({"destination":{"port":1},"destination.port":2,"destination.x":3,)"
       R"("destination.ip":"203.0.113.7"})",
       "203.0.113.7"},
      // Keys that only start like a segment, or sit deeper, are not top-level candidates.
      {R"({"sourcey":{"ip":"203.0.113.7"},"x":{"source.ip":"203.0.113.7"}})", ""},
  };
  for (const Case& c : kCases) {
    Record r;
    r.seq = 1;
    r.fields() = boost::json::parse(c.fields).as_object();
    std::vector<Detection> out;
    MatchRecord(*set, r, &out);
    if (*c.atomic == '\0') {
      EXPECT_TRUE(out.empty()) << c.fields;
      continue;
    }
    ASSERT_EQ(out.size(), 1u) << c.fields;
    const auto* atomic = FindField(out[0].context, "seccloud.intel.atomic");
    ASSERT_NE(atomic, nullptr);
    EXPECT_EQ(atomic->as_string(), c.atomic) << c.fields;
  }
}

// LookupIp reads IPv4 text itself; it must accept exactly what IpAddress::Parse accepts. With
// 0.0.0.0/0 and ::/0 in the feed every address hits, so a hit says the text was parsed.
TEST(IntelMatch, IpTextParsedExactlyAsIpAddressParse) {
  auto set = Build({{Feed("all"), "0.0.0.0/0\n::/0\n"}});
  ASSERT_TRUE(set);
  auto check = [&](const std::string& text) {
    std::vector<const IntelEntry*> out;
    const bool hit = set->LookupIp(text, &out) > 0;
    EXPECT_EQ(hit, IpAddress::Parse(text).has_value()) << Quote(text);
  };
  for (const char* text :
       {"1.2.3.4",    "0.0.0.0",    "255.255.255.255",  "256.1.1.1",  "1.2.3",
        "1.2.3.4.",   ".1.2.3.4",   "01.2.3.4",         "1.02.3.4",   "1.2.3.00",
        "1.2.3.0",    "10.0.0.10",  "1..2.3",           "1.2.3.4 ",   " 1.2.3.4",
        "1.2.3.4a",   "1.2.3.1000", "1000.2.3.4",       "99.999.9.9", "1.2.3.-4",
        "+1.2.3.4",   "",           "1234567890123456", "1.2.3.4\t",  "::ffff:1.2.3.4",
        "2001:db8::1"}) {
    check(text);
  }
  // Zone ids, non-ASCII digits and bytes, IPv4 with a zone or port.
  for (const char* text : {"fe80::1%eth0", "1.2.3.4%eth0", "1.2.3.4:80", "\xef\xbc\x91.2.3.4",
                           "1.2.3.\xff", "\xb9.2.3.4", "1.2.3.4\xc2\xa0", "[1.2.3.4]"}) {
    check(text);
  }
  check(std::string("1.2.3.4\0", 8));
  check(std::string("1.2\0.3.4", 8));
  // Every short string over the characters that matter, from a fixed seed.
  uint64_t x = 0x9E3779B97F4A7C15ull;
  constexpr std::string_view kAlphabet = "0123456789.:0125.";
  for (int i = 0; i < 200'000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::string text;
    const size_t len = x % 18;
    uint64_t y = x;
    for (size_t k = 0; k < len; ++k) {
      y = y * 6364136223846793005ull + 1442695040888963407ull;
      text.push_back(kAlphabet[(y >> 33) % kAlphabet.size()]);
    }
    check(text);
  }
}

// LookupIp's IPv4 text is read by internal::ParseCanonicalIpv4 (corr30: the parsers' grammar, in
// place of intel.cc's own third parser): every quad of octets that are valid, too large, or
// written with a leading zero must find exactly the entries IpAddress::Parse's address finds —
// here one exact indicator for each of the 2,401 valid quads, so a wrong octet or order shows.
TEST(IntelMatch, IpTextFindsTheEntriesOfItsParsedAddress) {
  const std::vector<std::string> valid = {"0", "1", "9", "10", "99", "100", "255"};
  std::string feed;
  for (const auto& a : valid)
    for (const auto& b : valid)
      for (const auto& c : valid)
        for (const auto& d : valid) feed += a + "." + b + "." + c + "." + d + "\n";
  auto set = Build({{Feed("q"), feed}});
  ASSERT_TRUE(set);
  std::vector<std::string> octets = valid;
  for (const char* bad : {"256", "01", "000", "1000", "-1"}) octets.push_back(bad);
  size_t hits = 0;
  for (const auto& a : octets)
    for (const auto& b : octets)
      for (const auto& c : octets)
        for (const auto& d : octets) {
          const std::string text = a + "." + b + "." + c + "." + d;
          std::vector<const IntelEntry*> want;
          if (const auto address = IpAddress::Parse(text)) set->LookupIp(*address, &want);
          const auto got = Ip(*set, text);
          ASSERT_EQ(got, Values(*set, want)) << text;
          hits += !got.empty();
        }
  EXPECT_EQ(hits, 2401u);
}

TEST(IntelMatch, RecordDetectionsCarryEcsContextEntityAndEvidence) {
  IntelFeed c2 = Feed("c2", IntelFormat::kSeccloud, Level::kHigh);
  c2.confidence = "Medium";
  IntelFeed urls = Feed("urls", IntelFormat::kAdblock, Level::kMedium);
  urls.description = "URLhaus malware URL";
  auto set = Build({{c2, kSeccloudFeed}, {urls, "||download.example/payload.exe^$all\n"}});
  ASSERT_TRUE(set);

  Record r = MakeRecord();
  SetField(r.fields(), "destination.ip", "198.51.100.9");
  SetField(r.fields(), "url.full", "http://DOWNLOAD.example/payload.exe");
  SetField(r.fields(), "url.domain", "download.example");
  SetField(r.fields(), "dns.question.name", "www.evil.example");
  SetField(r.fields(), "file.hash.md5", "44D88612FEA8A8F36DE82E1278ABB02F");
  boost::json::array related{"203.0.113.7", "198.51.100.9"};
  SetField(r.fields(), "related.ip", related);
  std::vector<Detection> out;
  MatchRecord(*set, r, &out);
  // c2: 198.51.100.0/24 (destination.ip, also in related.ip: once), 203.0.113.7 (related.ip),
  // evil.example, the URL, the md5; urls: the URL.
  ASSERT_EQ(out.size(), 6u);
  std::map<std::string, const Detection*> by_value;
  for (const auto& d : out) {
    EXPECT_EQ(d.ruleset, "intel");
    EXPECT_EQ(d.tenant, "acme");
    EXPECT_EQ(d.entity, "source.ip=10.1.2.3");
    EXPECT_EQ(d.terminal, "10.1.2.3");
    EXPECT_EQ(d.evidence, std::vector<uint64_t>{42});
    EXPECT_EQ(d.time_ms, r.time_ms);
    const auto* provider = FindField(d.context, "threat.indicator.provider");
    ASSERT_TRUE(provider && provider->is_string());
    const auto* value = FindField(d.context, "threat.indicator.value");
    ASSERT_TRUE(value && value->is_string());
    by_value[std::string(provider->as_string()) + ":" + std::string(value->as_string())] = &d;
  }
  ASSERT_EQ(by_value.size(), 6u);
  const Detection* cidr = by_value.at("c2:198.51.100.0/24");
  EXPECT_EQ(cidr->rule_id, "intel:c2");
  EXPECT_EQ(cidr->level, Level::kHigh);
  EXPECT_EQ(FindField(cidr->context, "threat.indicator.type")->as_string(), "ipv4-addr");
  EXPECT_EQ(FindField(cidr->context, "threat.indicator.description")->as_string(),
            "bulletproof hoster");
  EXPECT_EQ(FindField(cidr->context, "threat.indicator.confidence")->as_string(), "Medium");
  EXPECT_EQ(FindField(cidr->context, "seccloud.intel.field")->as_string(), "destination.ip");
  EXPECT_EQ(FindField(cidr->context, "seccloud.intel.atomic")->as_string(), "198.51.100.9");
  EXPECT_EQ(FindField(by_value.at("c2:203.0.113.7")->context, "seccloud.intel.field")->as_string(),
            "related.ip");
  const Detection* domain = by_value.at("c2:evil.example");
  EXPECT_EQ(FindField(domain->context, "threat.indicator.type")->as_string(), "domain-name");
  EXPECT_EQ(FindField(domain->context, "threat.indicator.description")->as_string(),
            "C2 of campaign X");
  const Detection* url = by_value.at("urls:download.example/payload.exe");
  EXPECT_EQ(url->rule_id, "intel:urls");
  EXPECT_EQ(url->level, Level::kMedium);
  EXPECT_EQ(FindField(url->context, "threat.indicator.type")->as_string(), "url");
  EXPECT_EQ(FindField(url->context, "threat.indicator.description")->as_string(),
            "URLhaus malware URL");
  EXPECT_TRUE(by_value.count("c2:download.example/payload.exe"));
  const Detection* md5 = by_value.at("c2:44d88612fea8a8f36de82e1278abb02f");
  EXPECT_EQ(FindField(md5->context, "threat.indicator.type")->as_string(), "file");
  EXPECT_EQ(FindField(md5->context, "threat.indicator.file.hash.md5")->as_string(),
            "44d88612fea8a8f36de82e1278abb02f");
}

TEST(IntelMatch, UrlHostMatchesDomainFeedAndAccessLogPathJoinsUrlDomain) {
  auto set = Build({{Feed("hosts", IntelFormat::kHosts), "0.0.0.0 bad-host.example\n"},
                    {Feed("urls", IntelFormat::kAdblock), "||site.example/x/evil.php^$all\n"}});
  ASSERT_TRUE(set);
  Record r = MakeRecord();
  SetField(r.fields(), "url.full", "https://cdn.bad-host.example/anything");
  std::vector<Detection> out;
  MatchRecord(*set, r, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule_id, "intel:hosts");
  EXPECT_EQ(FindField(out[0].context, "seccloud.intel.atomic")->as_string(),
            "cdn.bad-host.example");

  Record access = MakeRecord();
  SetField(access.fields(), "url.original", "/x/evil.php");
  SetField(access.fields(), "url.domain", "Site.Example");
  out.clear();
  MatchRecord(*set, access, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule_id, "intel:urls");

  Record clean = MakeRecord();
  SetField(clean.fields(), "url.full", "https://notbad-host.example/x/evil.php");
  SetField(clean.fields(), "tls.client.server_name", "bad-host.example.org");
  out.clear();
  MatchRecord(*set, clean, &out);
  EXPECT_TRUE(out.empty());
}

// url.full and url.original both hitting by their hosts: each Detection names its own host (the
// second URL's key must not overwrite the first one's, which the first hit still points into).
TEST(IntelMatch, TwoUrlFieldsEachKeepTheirOwnAtomic) {
  auto set = Build({{Feed("hosts", IntelFormat::kHosts),
                     "0.0.0.0 first-bad-host.example\n0.0.0.0 second-bad-host.example\n"}});
  ASSERT_TRUE(set);
  Record r = MakeRecord();
  SetField(r.fields(), "url.full",
           boost::json::string("https://a.first-bad-host.example/" + std::string(64, 'p')));
  SetField(r.fields(), "url.original",
           boost::json::string("https://b.second-bad-host.example/" + std::string(64, 'q')));
  std::vector<Detection> out;
  MatchRecord(*set, r, &out);
  ASSERT_EQ(out.size(), 2u);
  std::vector<std::string> atomics;
  for (const auto& d : out) {
    atomics.emplace_back(FindField(d.context, "seccloud.intel.atomic")->as_string());
  }
  std::sort(atomics.begin(), atomics.end());
  EXPECT_EQ(atomics,
            (std::vector<std::string>{"a.first-bad-host.example", "b.second-bad-host.example"}));
}

// The lookup filters (one per index) never turn away a loaded indicator: every indicator of every
// type is found, and paths under a dotted top-level key ({"source.ip": …}) are still read.
TEST(IntelMatch, FiltersKeepEveryIndicator) {
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    text += "d" + std::to_string(i) + ".bad.example\n";
    text += "198.51." + std::to_string(i / 250) + "." + std::to_string(i % 250) + "\n";
  }
  text += "203.0.113.0/24\n2001:db8:77::/48\n";
  auto set = Build({{Feed("f"), text}});
  ASSERT_TRUE(set);
  std::vector<const IntelEntry*> out;
  for (int i = 0; i < 3000; ++i) {
    out.clear();
    ASSERT_EQ(set->LookupDomain("x.d" + std::to_string(i) + ".bad.example", &out), 1u) << i;
    out.clear();
    ASSERT_EQ(
        set->LookupIp("198.51." + std::to_string(i / 250) + "." + std::to_string(i % 250), &out),
        1u)
        << i;
  }
  out.clear();
  EXPECT_EQ(set->LookupIp("203.0.113.200", &out), 1u);
  EXPECT_EQ(set->LookupIp("2001:db8:77:1::5", &out), 1u);
  EXPECT_EQ(set->LookupIp("203.0.114.1", &out), 0u);
  Record dotted = MakeRecord();
  dotted.fields()["destination.ip"] = "198.51.0.7";
  std::vector<Detection> found;
  MatchRecord(*set, dotted, &found);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(FindField(found[0].context, "seccloud.intel.field")->as_string(), "destination.ip");
}

TEST(IntelMatch, EntityFallsBackToClientIpThenHostName) {
  auto set = Build({{Feed("f"), "evil.example\n"}});
  ASSERT_TRUE(set);
  Record r;
  SetField(r.fields(), "dns.question.name", "evil.example");
  SetField(r.fields(), "host.name", "web-01");
  std::vector<Detection> out;
  MatchRecord(*set, r, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].entity, "host.name=web-01");
  EXPECT_EQ(out[0].terminal, "web-01");
  EXPECT_TRUE(out[0].evidence.empty());  // seq 0: not stored yet
  SetField(r.fields(), "client.ip", "192.0.2.1");
  out.clear();
  MatchRecord(*set, r, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].entity, "client.ip=192.0.2.1");
  // Non-string values are ignored, not misread.
  Record odd;
  SetField(odd.fields(), "dns.question.name", 12);
  SetField(odd.fields(), "related.ip", "evil.example");
  out.clear();
  MatchRecord(*set, odd, &out);
  EXPECT_TRUE(out.empty());
}

// MatchRecord's detections, described, on a pending record and on the same record (`built`, a
// second normalisation of it) with its tree built; *hits counts the latter's.
std::pair<std::string, std::string> PendingAndBuiltMatches(const IntelSet& set,
                                                           const Record& pending, Record built,
                                                           size_t* hits) {
  auto describe = [](const std::vector<Detection>& ds) {
    std::string out;
    for (const Detection& d : ds) {
      out += d.rule_id + "|" + d.entity + "|" + d.terminal + "|" +
             boost::json::serialize(d.context) + "\n";
    }
    return out;
  };
  std::vector<Detection> on_pending, on_built;
  MatchRecord(set, pending, &on_pending);
  built.fields();  // built
  MatchRecord(set, built, &on_built);
  *hits += on_built.size();
  return {describe(on_pending), describe(on_built)};
}

// MatchRecord on a pending record (a seccloud event whose tree Normalize has not built: it reads
// the tape through a FieldView, and skips the paths whose segment no root key has) finds what it
// finds on the same record with its tree built: every spelling of every segment MatchRecord
// reads, values of other kinds, duplicate keys, an IPv6 address the finishing step rewrites,
// the entity's fallbacks, and segments present only under other roots or as prefixes of keys.
TEST(IntelMatch, PendingRecordsMatchAsTheirTrees) {
  auto set = Build({{Feed("c2"), kSeccloudFeed}, {Feed("x"), "10.1.2.3\n2001:db8::66\n"}});
  ASSERT_TRUE(set);
  const char* kKeys[] = {
      R"("destination.ip":"203.0.113.7")",
      R"("destination":{"ip":"203.0.113.7","domain":"a.wild.example"})",
      R"("destinationx":{"ip":"203.0.113.7"},"x":{"source.ip":"203.0.113.7"})",
      R"("source":{"ip":"203.0.113.7"},"source.ip":"198.51.99.1")",
      R"("source.ip":"198.51.99.1","source":{"ip":"203.0.113.7"})",
      R"("source":{"ip":"2001:0db8:0:0:0:0:0:66"})",
      R"("source":{"ip":"2001:0db8::0066","port":1},"source.ip":"10.1.2.3")",
      R"("source":{"ip":1},"client":{"ip":"10.1.2.3"},"host":{"name":"h1"})",
      R"("client.ip":"10.1.2.3","host.name":"h2","dns":{"question":{"name":"x.evil.example"}})",
      R"("dns":{"question.name":"www.evil.example"},"dns.question":{"name":"evil.example"})",
      R"("dns.question":"x","dns":{"question":{"name":"x.evil.example"}})",
      R"("tls.client.server_name":"evil.example","client":{"ip":"2001:db8::66"})",
      R"("tls":{"client":{"server_name":7}},"related":{"ip":["203.0.113.7",1,"10.1.2.3"]})",
      R"("related.ip":["203.0.113.7"],"related":{"hosts":["x.evil.example",null]})",
      R"("related":{"hosts":"evil.example"},"related.ip":"203.0.113.7")",
      R"("url.full":"http://download.example/payload.exe","file.hash":{"md5":"44d88612fea8a8f36de82e1278abb02f"})",
      R"("url":{"original":"/payload.exe","domain":"download.example"})",
      R"("url":{"original":"//evil.example/x","full":"HTTPS://Secure.Example:8443/login?x=1"})",
      R"("url.domain":{"a":1},"url":{"domain":"x.evil.example"},"url.zz":1)",
      R"("file":{"hash":{"sha1":"3395856CE81F2B7382DEE72602F798B642F14140"}},"file.hash":3)",
      R"("process":{"hash.sha1":"3395856ce81f2b7382dee72602f798b642f14140"},"source.ip":"198.51.100.1")",
      R"("process.hash":{"sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},"process":1)",
      R"("Destination.ip":"203.0.113.7","urls":{"full":"http://evil.example/"},"d":1,"":2,".":3)",
      R"("seccloud":{"url":{"full":"http://evil.example/"}},"observer":{"ip":"203.0.113.7"})",
  };
  size_t pending = 0, hits = 0;
  for (const char* keys : kKeys) {
    for (const char* dataset : {"proxy.access", "dns.query"}) {
      const std::string line = std::string(R"({"@timestamp":"2026-10-02T00:00:23.663Z",)") +
                               R"("event":{"dataset":")" + dataset + R"("},)" +
                               R"("tenant":{"id":"t01"},)" + keys + "}";
      auto normalized = [&] {
        Record r;
        r.format = Format::kSeccloudEvent;
        r.raw = line;
        r.received_ms = 1790899200123;
        r.source = "spool:test";
        r.seq = 3;
        Normalize(r);
        return r;
      };
      Record r = normalized();
      pending += r.fields_pending();
      const auto [on_tape, on_tree] = PendingAndBuiltMatches(*set, r, normalized(), &hits);
      EXPECT_EQ(on_tape, on_tree) << line;
    }
  }
  EXPECT_EQ(pending, 2 * std::size(kKeys));  // every line was read on its tape
  EXPECT_GE(hits, 30u);
}

// The same for the text formats kept as an overlay (text15: syslog, access logs, text): intel's
// segment filter takes the overlay's root bits (ovidx16: worked out when the path was compiled,
// SinkPath) — a hit on a pending overlay is the
// hit on the built tree, with and without a tenant set after Normalize.
TEST(IntelMatch, PendingOverlayRecordsMatchAsTheirTrees) {
  auto set = Build({{Feed("c2"), kSeccloudFeed}, {Feed("x"), "10.1.2.3\n2001:db8::66\n"}});
  ASSERT_TRUE(set);
  const std::pair<Format, const char*> kLines[] = {
      {Format::kAccessLog,
       R"(203.0.113.7 - - [02/Oct/2026:00:00:23 +0000] "GET http://x.evil.example/payload.exe HTTP/1.1" 200 123 "-" "curl/8.0")"},
      {Format::kAccessLog,
       R"(10.9.9.9 - - [02/Oct/2026:00:00:23 +0000] "GET /payload.exe HTTP/1.1" 404 0 "http://evil.example/" "x")"},
      {Format::kAccessLog,
       R"(2001:0db8:0:0:0:0:0:66 - - [02/Oct/2026:00:00:23 +0000] "CONNECT secure.example:443 HTTP/1.1" 200 0 "-" "-")"},
      {Format::kSyslog,
       "<38>Oct  2 00:00:23 bastion sshd[123]: Failed password for root from 10.1.2.3 port "
       "2222 ssh2"},
      {Format::kSyslog,
       "<38>Oct  2 00:00:23 bastion sshd[123]: Accepted publickey for admin from 2001:db8::66 "
       "port 50000 ssh2"},
      {Format::kSyslog,
       "<4>Oct  2 00:00:23 fw kernel: [123.456] DROP IN=eth0 OUT= SRC=203.0.113.7 DST=10.1.2.3 "
       "LEN=60 PROTO=TCP SPT=4444 DPT=22"},
      {Format::kSyslog, "<13>Oct  2 00:00:23 host app: nothing here 198.51.100.9"},
      {Format::kText, "2026-10-02 00:00:23 INFO connect to 203.0.113.7 failed"},
      {Format::kText, "Oct  2 00:00:23 host sshd[1]: Invalid user x from 198.51.100.4 port 22"},
  };
  size_t overlay = 0, hits = 0;
  for (const auto& [format, line] : kLines) {
    for (const bool tenant : {false, true}) {
      auto normalized = [&] {
        Record r;
        r.format = format;
        r.raw = line;
        r.received_ms = 1790899200123;
        r.source = "syslog:udp";
        r.peer = "192.0.2.10";
        r.seq = 3;
        Normalize(r);
        if (tenant) {
          r.tenant = "t01";
          SetTenantField(r);
        }
        return r;
      };
      Record r = normalized();
      if (r.fields_pending()) {
        FieldView view(r);
        overlay += view.on_overlay();
      }
      const auto [pending, built] = PendingAndBuiltMatches(*set, r, normalized(), &hits);
      EXPECT_EQ(pending, built) << line;
    }
  }
  EXPECT_EQ(overlay, 2 * std::size(kLines));  // every line was read on its overlay
  EXPECT_GE(hits, 10u);
}

// A set with indicators of one kind only reads the fields of that kind (MatchRecord skips the
// others: IntelSet::has_ips() …); each kind alone still matches, including an address in a domain
// field or a URL's host when the set has IPs only, and a URL's host when it has domains only.
TEST(IntelMatch, EachKindAloneIsMatched) {
  struct Case {
    const char* feed;
    const char* path;
    const char* value;
    const char* field;  // seccloud.intel.field of the one detection
  };
  const Case kCases[] = {
      {"203.0.113.7\n", "source.ip", "203.0.113.7", "source.ip"},
      {"198.51.100.0/24\n", "related.ip", "198.51.100.9", "related.ip"},
      {"203.0.113.7\n", "url.domain", "203.0.113.7", "url.domain"},
      {"203.0.113.7\n", "related.hosts", "203.0.113.7", "related.hosts"},
      {"203.0.113.7\n", "url.full", "http://203.0.113.7/x", "url.full"},
      {"evil.example\n", "dns.question.name", "a.evil.example", "dns.question.name"},
      {"evil.example\n", "url.full", "http://a.evil.example/x", "url.full"},
      {"evil.example/x\n", "url.original", "http://evil.example/x", "url.original"},
      {"44d88612fea8a8f36de82e1278abb02f\n", "file.hash.md5", "44d88612fea8a8f36de82e1278abb02f",
       "file.hash.md5"},
      {"3395856ce81f2b7382dee72602f798b642f14140\n", "process.hash.sha1",
       "3395856CE81F2B7382DEE72602F798B642F14140", "process.hash.sha1"},
  };
  for (const Case& c : kCases) {
    auto set = Build({{Feed("one"), c.feed}});
    ASSERT_TRUE(set);
    Record r;
    if (std::string_view(c.path).starts_with("related.")) {
      boost::json::array a;
      a.emplace_back(c.value);
      SetField(r.fields(), c.path, std::move(a));
    } else {
      SetField(r.fields(), c.path, c.value);
    }
    std::vector<Detection> out;
    MatchRecord(*set, r, &out);
    EXPECT_EQ(out.size(), 1u) << c.feed << " " << c.path;
    if (out.size() != 1) continue;
    EXPECT_EQ(FindField(out[0].context, "seccloud.intel.field")->as_string(), c.field);
  }
}

// LookupDomain's suffix walk (one filter hash per parent domain, taken from the name's end)
// against its definition: the lower-cased name, then every suffix after a dot that still has a
// dot, each looked up exactly. Hostile names: up to 300 bytes (past the 253 limit), empty labels,
// leading and trailing dots, upper case, bytes ≥ 0x80.
TEST(IntelMatch, DomainSuffixWalkIsEverySuffixOfHostileNames) {
  const std::vector<std::string> kIndicators = {"ab.ba", "b.ba", "a-b.a", "ba.b",    "_a.b",
                                                "a.a",   "aa.a", "b.a.a", "bb.ab.ba"};
  std::string text;
  for (const auto& d : kIndicators) text += d + "\n";
  auto set = Build({{Feed("d"), text}});
  ASSERT_TRUE(set);
  auto expected = [&](std::string name) {
    std::vector<std::string> out;
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name.empty() || name.size() > 253) return out;
    for (char& c : name) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    auto add = [&](std::string_view s) {
      if (std::find(kIndicators.begin(), kIndicators.end(), s) != kIndicators.end()) {
        out.push_back("d:" + std::string(s));
      }
    };
    if (name.find('.') == std::string::npos) return out;
    add(name);
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '.' && name.find('.', i + 1) != std::string::npos) add(name.substr(i + 1));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  constexpr std::string_view kAlphabet = "aabbAB...._-\xc3\x80";
  uint64_t x = 0x2545F4914F6CDD1Dull;
  size_t hits = 0;
  for (int i = 0; i < 100'000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const size_t len = i % 50 == 0 ? 240 + x % 60 : x % 14;
    std::string name;
    uint64_t y = x;
    for (size_t k = 0; k < len; ++k) {
      y = y * 6364136223846793005ull + 1442695040888963407ull;
      name.push_back(kAlphabet[(y >> 33) % kAlphabet.size()]);
    }
    const auto want = expected(name);
    hits += !want.empty();
    ASSERT_EQ(Domain(*set, name), want) << Quote(name);
  }
  EXPECT_GT(hits, 500u);
  // The longest names: 253 bytes hit through their last labels, 254 never.
  std::string long_name;
  while (long_name.size() < 248) long_name += "a.";
  long_name += "ab.ba";
  ASSERT_EQ(long_name.size(), 253u);
  EXPECT_EQ(Domain(*set, long_name), V({"d:ab.ba"}));
  EXPECT_EQ(Domain(*set, long_name + "."), V({"d:ab.ba"}));
  EXPECT_EQ(Domain(*set, "b" + long_name), V{});
}

std::vector<std::string> ReadLines(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// Every line of the bench set (bench/loggen.py's, /tmp/socbench-small; SOCBENCH_DATA overrides)
// matched on its pending record and on the same record with its tree built, against a feed taken
// from the data (every 5th address, its /24 for every 7th, every 3rd name and its parent, every
// 4th URL and hash of the built trees: intel fires on a large share of the records), and against
// an IPs-only feed (the kinds MatchRecord skips). Both must describe the same detections.
TEST(IntelMatch, BenchSetPendingMatchesBuiltTree) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("SOCBENCH_DATA");
  const fs::path bench = env != nullptr ? env : "/tmp/socbench-small";
  if (!fs::exists(bench / "manifest.json")) GTEST_SKIP() << "no " << bench;
  std::ifstream in(bench / "manifest.json");
  const std::string manifest((std::istreambuf_iterator<char>(in)), {});
  const boost::json::value m = boost::json::parse(manifest);
  struct Line {
    Format format;
    std::string text;
  };
  std::vector<Line> lines;
  for (const auto& f : m.at("files").as_array()) {
    Format format;
    ASSERT_TRUE(ParseFormatName(std::string(f.at("format").as_string()), &format));
    for (auto& l : ReadLines(bench / std::string(f.at("path").as_string()))) {
      lines.push_back({format, std::move(l)});
    }
  }
  ASSERT_GT(lines.size(), 100'000u);
  auto normalized = [](const Line& l) {
    Record r;
    r.format = l.format;
    r.raw = l.text;
    r.received_ms = 1790899200123;
    r.source = "spool:test";
    r.peer = "192.0.2.10";
    r.seq = 3;
    Normalize(r);
    return r;
  };
  // The feed, from the built trees.
  std::string feed, ips;
  size_t n_ip = 0, n_name = 0, n_url = 0, n_hash = 0;
  for (size_t i = 0; i < lines.size(); i += 3) {
    Record r = normalized(lines[i]);
    const auto& fields = r.fields();
    auto str = [&](const char* path) -> std::string {
      const auto* v = FindField(fields, path);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    for (const char* p : {"source.ip", "destination.ip", "client.ip"}) {
      const std::string ip = str(p);
      if (ip.empty() || ++n_ip % 5 != 0) continue;
      ips += ip + "\n";
      const size_t dot = ip.rfind('.');
      if (n_ip % 7 == 0 && dot != std::string::npos && ip.find(':') == std::string::npos) {
        ips += ip.substr(0, dot) + ".0/24\n";
      }
    }
    for (const char* p : {"dns.question.name", "url.domain", "destination.domain"}) {
      const std::string name = str(p);
      if (name.empty() || ++n_name % 3 != 0) continue;
      feed += name + "\n";
      const size_t dot = name.find('.');
      if (dot != std::string::npos && name.find('.', dot + 1) != std::string::npos) {
        feed += name.substr(dot + 1) + "\n";
      }
    }
    for (const char* p : {"url.full", "url.original"}) {
      const std::string url = str(p);
      if (url.find("://") != std::string::npos && ++n_url % 4 == 0) feed += url + "\n";
    }
    for (const char* p : {"file.hash.sha256", "file.hash.md5", "process.hash.sha256"}) {
      const std::string hash = str(p);
      if (!hash.empty() && ++n_hash % 4 == 0) feed += hash + "\n";
    }
  }
  IntelLoadReport report;
  auto all = Build({{Feed("data"), feed + ips}}, &report);
  auto ips_only = Build({{Feed("ips"), ips}});
  ASSERT_TRUE(all && ips_only);
  ASSERT_GT(report.indicators, 1000u);
  size_t hits = 0, ip_hits = 0, pending = 0, checked = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!test::RunsInThisBuild(i)) continue;
    ++checked;
    Record r = normalized(lines[i]);
    pending += r.fields_pending();
    const auto [on_pending, on_built] =
        PendingAndBuiltMatches(*all, r, normalized(lines[i]), &hits);
    ASSERT_EQ(on_pending, on_built) << lines[i].text;
    const auto [ip_pending, ip_built] =
        PendingAndBuiltMatches(*ips_only, r, normalized(lines[i]), &ip_hits);
    ASSERT_EQ(ip_pending, ip_built) << lines[i].text;
  }
  EXPECT_GT(pending, checked / 2);
  EXPECT_GT(hits, checked / 4);
  EXPECT_GT(ip_hits, checked / 20);
  std::printf("%zu lines, %zu pending, %zu detections (IPs only: %zu), %zu indicators\n", checked,
              pending, hits, ip_hits, static_cast<size_t>(report.indicators));
}

std::string DataDir() { return SECCLOUD_SOURCE_DIR "/../shared/data/threat-intel"; }

std::vector<IntelFeed> RealFeeds() {
  std::vector<IntelFeed> feeds;
  IntelFeed c2 = Feed("c2-iocs", IntelFormat::kLokiC2, Level::kHigh);
  c2.path = DataDir() + "/signature-base/c2-iocs.txt";
  IntelFeed domains = Feed("urlhaus-domains", IntelFormat::kDomainList, Level::kMedium);
  domains.path = DataDir() + "/urlhaus/urlhaus-filter-domains.txt";
  IntelFeed hosts = Feed("urlhaus-hosts", IntelFormat::kHosts, Level::kMedium);
  hosts.path = DataDir() + "/urlhaus/urlhaus-filter-hosts.txt";
  IntelFeed urls = Feed("urlhaus", IntelFormat::kAdblock, Level::kMedium);
  urls.path = DataDir() + "/urlhaus/urlhaus-filter.txt";
  return {c2, domains, hosts, urls};
}

TEST(IntelRealFeeds, LoadCountsMemoryAndLookupRate) {
  if (!std::filesystem::exists(DataDir())) {
    GTEST_SKIP() << "no threat-intel data at " << DataDir() << " (shared data not installed)";
  }
  // In use: small chunks plus mmapped ones (bucket arrays are large enough to be mmapped).
  auto heap = [] {
    const auto m = mallinfo2();
    return m.uordblks + m.hblkhd;
  };
  const size_t heap_before = heap();
  IntelLoadReport report;
  auto loaded = LoadIntel(RealFeeds(), &report);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  const auto& set = **loaded;
  const size_t heap_after = heap();
  for (const auto& f : report.feeds) {
    std::printf("feed %-16s lines %7llu indicators %7llu dup %5llu bad %3llu skipped %llu\n",
                f.name.c_str(), (unsigned long long)f.lines, (unsigned long long)f.indicators,
                (unsigned long long)f.duplicates, (unsigned long long)f.bad_lines,
                (unsigned long long)f.skipped);
  }
  for (const auto& p : report.problems) std::printf("  %s\n", p.c_str());
  std::printf(
      "total %llu indicators, %llu bad lines, load %lld ms, estimate %.1f MiB, heap %.1f "
      "MiB\n",
      (unsigned long long)report.indicators, (unsigned long long)report.bad_lines,
      (long long)report.load_ms, report.memory_bytes / 1048576.0,
      (heap_after - heap_before) / 1048576.0);
#ifndef __SANITIZE_ADDRESS__  // ASan's allocator does not report through mallinfo2
  EXPECT_GT(report.memory_bytes, (heap_after - heap_before) / 2);
  EXPECT_LT(report.memory_bytes, (heap_after - heap_before) * 2);
#endif
  EXPECT_GT(report.feeds[0].indicators, 1700u);   // c2-iocs: 1,844 lines, 71 repeated
  EXPECT_GT(report.feeds[1].indicators, 25000u);  // urlhaus domains: ~25,800
  EXPECT_GT(report.feeds[2].indicators, 2600u);   // urlhaus hosts: ~2,700
  EXPECT_GT(report.feeds[3].indicators, 31000u);  // urlhaus adblock: ~31,800
  EXPECT_LT(report.bad_lines, 10u);

  EXPECT_EQ(Domain(set, "www.suroot.com"), V{"c2-iocs:suroot.com"});
  EXPECT_EQ(Ip(set, "192.119.99.42"), V{"c2-iocs:192.119.99.42"});
  EXPECT_EQ(Domain(set, "x.0daydreams.net"),
            (V{"urlhaus-domains:0daydreams.net", "urlhaus-hosts:0daydreams.net",
               "urlhaus:0daydreams.net"}));
  EXPECT_EQ(Url(set, "https://0x0.st/8ics.py"), V{"urlhaus:0x0.st/8ics.py"});
  EXPECT_TRUE(Domain(set, "example.com").empty());

  // Lookup rate over a mix of misses and hits, each record field kind.
  std::vector<std::string> domains, ips, urls;
  for (int i = 0; i < 1000; ++i) {
    domains.push_back("host" + std::to_string(i) + ".sub.example.org");
    ips.push_back("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250));
    urls.push_back("http://site" + std::to_string(i) + ".example/p?q=" + std::to_string(i));
  }
  domains.push_back("a.b.suroot.com");
  ips.push_back("192.119.99.42");
  std::vector<const IntelEntry*> out;
  out.reserve(64);
  size_t lookups = 0, hits = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 200; ++round) {
    for (const auto& d : domains) hits += set.LookupDomain(d, &out), ++lookups;
    for (const auto& ip : ips) hits += set.LookupIp(ip, &out), ++lookups;
    for (const auto& u : urls) hits += set.LookupUrl(u, &out), ++lookups;
    out.clear();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = lookups / secs;
  std::printf("%zu lookups (%zu hits) in %.3f s: %.2f M lookups/s\n", lookups, hits, secs,
              rate / 1e6);
  // The rate is printed, not asserted: timings are benchmark figures (bench/README.md), never
  // pass/fail thresholds on a shared machine.
  EXPECT_EQ(hits, 400u);
}

TEST(IntelRealFeeds, MatchRecordRate) {
  if (!std::filesystem::exists(DataDir())) {
    GTEST_SKIP() << "no threat-intel data at " << DataDir() << " (shared data not installed)";
  }
  auto loaded = LoadIntel(RealFeeds(), nullptr);
  ASSERT_TRUE(loaded);
  std::vector<Record> records;
  for (int i = 0; i < 1000; ++i) {
    Record r = MakeRecord();
    SetField(r.fields(), "destination.ip",
             boost::json::string("198.18.0." + std::to_string(i % 250)));
    SetField(r.fields(), "url.full",
             boost::json::string("http://www" + std::to_string(i) + ".example.net/index.html"));
    SetField(r.fields(), "url.domain",
             boost::json::string("www" + std::to_string(i) + ".example.net"));
    records.push_back(std::move(r));
  }
  SetField(records[7].fields(), "url.domain", "x.suroot.com");
  std::vector<Detection> out;
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 50; ++round) {
    for (const auto& r : records) MatchRecord(**loaded, r, &out);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("MatchRecord: %.0f records/s (5 lookups each)\n", 50'000 / secs);
  EXPECT_EQ(out.size(), 50u);
}

}  // namespace
}  // namespace seccloud::soc
