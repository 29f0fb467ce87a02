// R3: what terminals ask the proxy for is parsed strictly; every refusal says why.
#include "proxy/request_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proxy/block_page.h"
#include "proxy/hop_by_hop.h"

namespace seccloud::proxy {
namespace {

using ::testing::HasSubstr;

TEST(AbsoluteFormTest, ParsesHostPortAndPath) {
  std::string why;
  auto t = ParseAbsoluteForm("http://WWW.Example.COM:8080/a/b?c=d", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->host, "www.example.com");
  EXPECT_EQ(t->port, 8080);
  EXPECT_EQ(t->path, "/a/b?c=d");
  EXPECT_EQ(t->authority(), "www.example.com:8080");
  EXPECT_EQ(t->url(), "http://www.example.com:8080/a/b?c=d");

  t = ParseAbsoluteForm("http://example.com", &why);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->port, 80);
  EXPECT_EQ(t->path, "/");
  EXPECT_EQ(t->authority(), "example.com");

  t = ParseAbsoluteForm("HTTP://example.com?q", &why);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/?q");

  t = ParseAbsoluteForm("http://[2001:db8::1]:81/x", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_TRUE(t->host_is_ip);
  EXPECT_EQ(t->host, "2001:db8::1");
  EXPECT_EQ(t->authority(), "[2001:db8::1]:81");

  t = ParseAbsoluteForm("http://192.0.2.10:8080/1k", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_TRUE(t->host_is_ip);
  EXPECT_EQ(t->host, "192.0.2.10");
  EXPECT_EQ(t->url(), "http://192.0.2.10:8080/1k");

  t = ParseAbsoluteForm("http://192.0.2.7/", &why);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->host_is_ip);
}

TEST(AbsoluteFormTest, RefusesWhatAProxyMustNotForward) {
  struct Case {
    const char* target;
    const char* reason;
  } cases[] = {
      {"/index.html", "needs an absolute URL"},
      {"https://example.com/", "go through CONNECT"},
      {"ftp://example.com/", "only http://"},
      {"http://user:pw@example.com/", "user information"},
      {"http://example.com/#frag", "fragment"},
      {"http://exa mple.com/", "a blank or a control character"},
      {"http://example.com/\x7f", "a control character"},
      {"http://\xe8\xa1\xa8.example/", "host"},
      {"http://example.com:0/", "port is not a number"},
      {"http://example.com:65536/", "port is not a number"},
      {"http://example.com:80a/", "port is not a number"},
      {"http://2001:db8::1/", "must be written in brackets"},
      {"http://[2001:db8::1/", "lacks its ']'"},
      {"http://[192.0.2.1]/", "IPv6 literal is not valid"},
      {"http:///path", "no host"},
      {"http://-bad-.example/", "label starting with '-'"},
      {"http://intranet/", "needs at least two labels"},
  };
  for (const Case& c : cases) {
    std::string why;
    EXPECT_FALSE(ParseAbsoluteForm(c.target, &why)) << c.target;
    EXPECT_THAT(why, HasSubstr(c.reason)) << c.target;
  }
  std::string why;
  EXPECT_FALSE(ParseAbsoluteForm("http://example.com/" + std::string(9000, 'a'), &why));
  EXPECT_THAT(why, HasSubstr("longer than 8 KiB"));
}

// Raw bytes beyond ASCII in the path and query (UTF-8, Shift_JIS with its 0x5C trail byte) are
// kept as they came: forwarded so, judged by the URL filter in their percent-encoded form.
TEST(AbsoluteFormTest, KeepsRawNonAsciiBytesOfThePathAndQuery) {
  std::string why;
  auto t = ParseAbsoluteForm("http://docs.example/a/\xe8\xa1\xa8\xe7\xa4\xba.txt", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->path, "/a/\xe8\xa1\xa8\xe7\xa4\xba.txt");
  t = ParseAbsoluteForm("http://docs.example/a?q=\x95\x5c\x8e\xa6", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->path, "/a?q=\x95\x5c\x8e\xa6");
}

TEST(AuthorityFormTest, ParsesConnectTargets) {
  std::string why;
  auto t = ParseAuthorityForm("www.example.com:443", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->host, "www.example.com");
  EXPECT_EQ(t->port, 443);
  EXPECT_EQ(t->authority(), "www.example.com:443");
  t = ParseAuthorityForm("[::1]:8443", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->host, "::1");
  for (const char* bad : {"www.example.com", "www.example.com:", "example.com:0",
                          "http://example.com:443", "example.com:443/x", "::1:443", ":443"}) {
    EXPECT_FALSE(ParseAuthorityForm(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}

TEST(HopByHopTest, RemovesConnectionFieldsAndWhatConnectionNames) {
  boost::beast::http::fields f;
  f.set("Connection", "keep-alive, X-Secret");
  f.insert("Connection", "Upgrade");
  f.set("X-Secret", "1");
  f.set("Keep-Alive", "timeout=5");
  f.set("Proxy-Connection", "keep-alive");
  f.set("Proxy-Authorization", "Basic eA==");
  f.set("TE", "trailers");
  f.set("Transfer-Encoding", "chunked");
  f.set("Upgrade", "websocket");
  f.set("Accept", "*/*");
  HopByHopResult r = StripHopByHop(f);
  EXPECT_TRUE(r.upgrade_requested);
  EXPECT_EQ(r.upgrade, "websocket");
  for (const char* gone : {"Connection", "X-Secret", "Keep-Alive", "Proxy-Connection",
                           "Proxy-Authorization", "TE", "Transfer-Encoding", "Upgrade"})
    EXPECT_EQ(f.count(gone), 0u) << gone;
  EXPECT_EQ(f.count("Accept"), 1u);
  EXPECT_EQ(CountFields(f), 1u);
}

TEST(HopByHopTest, NamedFieldsGoInAnyCaseAndEveryOccurrenceWhileOthersKeepTheirOrder) {
  boost::beast::http::fields f;
  f.insert("Accept", "*/*");
  f.insert("x-hop", "1");
  f.insert("Connection", " , X-HOP ,, Cookie2,");
  f.insert("Host", "a.example");
  f.insert("X-Hop", "2");
  f.insert("cookie2", "c");
  f.insert("X-Kept", "k");
  f.insert("Accept", "text/html");
  HopByHopResult r = StripHopByHop(f);
  EXPECT_FALSE(r.upgrade_requested);
  std::string left;
  for (const auto& field : f)
    left += std::string(field.name_string()) + "=" + std::string(field.value()) + ";";
  // (Beast keeps fields of one name together, in the order they came.)
  EXPECT_EQ(left, "Accept=*/*;Accept=text/html;Host=a.example;X-Kept=k;");
  // "Connection: upgrade" without an Upgrade field is no upgrade.
  boost::beast::http::fields g;
  g.insert("Connection", "Upgrade");
  EXPECT_FALSE(StripHopByHop(g).upgrade_requested);
  EXPECT_EQ(CountFields(g), 0u);
}

TEST(HopByHopTest, ViaKeepsEveryEarlierHop) {
  boost::beast::http::fields f;
  f.insert("Via", "1.0 fred");
  f.insert("Via", "1.1 tenant-proxy");
  EXPECT_TRUE(AddVia(f, 11, "seccloud"));
  EXPECT_EQ(f["Via"], "1.0 fred, 1.1 tenant-proxy, 1.1 seccloud");
  boost::beast::http::fields g;
  EXPECT_TRUE(AddVia(g, 10, "seccloud"));
  EXPECT_EQ(g["Via"], "1.0 seccloud");
}

// A Via the parser let through (each field up to kMaxFieldBytes) whose joined value, with the
// proxy's entry, would not fit: Beast's set() threw "field value too large" out of the session.
TEST(HopByHopTest, AViaThatWouldNotFitIsRefusedAndLeftAlone) {
  const std::string entry = ", 1.1 seccloud";
  boost::beast::http::fields exact;
  exact.insert("Via", std::string(kMaxFieldBytes - entry.size(), 'v'));
  EXPECT_TRUE(AddVia(exact, 11, "seccloud"));
  EXPECT_EQ(exact["Via"].size(), kMaxFieldBytes);

  const std::string long_value(kMaxFieldBytes - entry.size() + 1, 'v');
  boost::beast::http::fields one;
  one.insert("Via", long_value);
  EXPECT_FALSE(AddVia(one, 11, "seccloud"));
  EXPECT_EQ(one["Via"], long_value);

  boost::beast::http::fields many;  // each short, together too long
  for (int i = 0; i < 3; ++i) many.insert("Via", std::string(30000, 'a' + i));
  EXPECT_FALSE(AddVia(many, 11, "seccloud"));
  EXPECT_EQ(CountFields(many), 3u);
}

TEST(HopByHopTest, OnlyChunkedTakesChunkedAloneInAnyCaseAndSpacing) {
  namespace http = boost::beast::http;
  auto te = [](std::initializer_list<const char*> values) {
    http::fields f;
    for (const char* v : values) f.insert(http::field::transfer_encoding, v);
    return OnlyChunked(f);
  };
  EXPECT_TRUE(te({"chunked"}));
  EXPECT_TRUE(te({"ChUnKeD"}));
  EXPECT_TRUE(te({" \tchunked\t "}));
  EXPECT_TRUE(te({", chunked,"}));  // empty list elements name nothing (RFC 9110 §5.6.1)
  EXPECT_FALSE(te({}));
  EXPECT_FALSE(te({"gzip, chunked"}));
  EXPECT_FALSE(te({"gzip", "chunked"}));
  EXPECT_FALSE(te({"chunked", "chunked"}));
  EXPECT_FALSE(te({"chunked, chunked"}));
  EXPECT_FALSE(te({"identity"}));
  EXPECT_FALSE(te({"xchunked"}));
  EXPECT_FALSE(te({""}));
}

TEST(HopByHopTest, MaxForwardsIsOneNumberOrNothing) {
  namespace http = boost::beast::http;
  auto mf = [](std::initializer_list<const char*> values) {
    http::fields f;
    for (const char* v : values) f.insert(http::field::max_forwards, v);
    return MaxForwards(f);
  };
  EXPECT_EQ(mf({"0"}), 0u);
  EXPECT_EQ(mf({" 7 "}), 7u);
  EXPECT_EQ(mf({"00010"}), 10u);
  EXPECT_EQ(mf({"99999999999999999999999"}), uint64_t{1} << 32);
  EXPECT_EQ(mf({}), std::nullopt);
  EXPECT_EQ(mf({""}), std::nullopt);
  EXPECT_EQ(mf({"-1"}), std::nullopt);
  EXPECT_EQ(mf({"+1"}), std::nullopt);
  EXPECT_EQ(mf({"1, 2"}), std::nullopt);
  EXPECT_EQ(mf({"1", "1"}), std::nullopt);
}

TEST(BlockPageTest, EscapesEverythingAndNamesTheReferenceAndContacts) {
  Tenant t;
  t.id = "tsu";
  t.contacts.push_back(Contact{"情報政策課", "joho@city.tsu.example", "", "CSIRT"});
  PageInfo p;
  p.title_ja = "ブロック";
  p.title_en = "Blocked";
  p.url = "http://evil.example/<script>alert(1)</script>";
  p.reason = "listed as \"malware\"";
  p.reference_id = "0d9c-ref";
  p.rule = "urlhaus: evil.example";
  p.tenant = &t;
  std::string html = RenderPage(p);
  EXPECT_THAT(html, ::testing::Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;"));
  EXPECT_THAT(html, HasSubstr("&quot;malware&quot;"));
  EXPECT_THAT(html, HasSubstr("0d9c-ref"));
  EXPECT_THAT(html, HasSubstr("joho@city.tsu.example"));
  EXPECT_THAT(html, HasSubstr("参照番号"));
  EXPECT_THAT(html, HasSubstr("Reference id"));
  EXPECT_LT(html.find("lang=\"ja\""), html.find("lang=\"en\""));
}

}  // namespace
}  // namespace seccloud::proxy
