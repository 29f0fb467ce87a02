// R10: URL normalisation before matching.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "policy/url_filter.h"
#include "policy/url_normalize_reference.h"

namespace seccloud::policy {
namespace {

std::string Norm(std::string_view url) {
  std::string why;
  auto u = NormalizeUrl(url, &why);
  return u ? u->full : "ERROR: " + why;
}

TEST(NormalizeUrlTest, CanonicalForms) {
  EXPECT_EQ(Norm("HTTP://WWW.Example.COM./"), "http://www.example.com/");
  EXPECT_EQ(Norm("https://example.com:443/a"), "https://example.com/a");
  EXPECT_EQ(Norm("http://example.com:80"), "http://example.com/");
  EXPECT_EQ(Norm("http://example.com:8080/x"), "http://example.com:8080/x");
  EXPECT_EQ(Norm("http://example.com/%7Euser/%41%2f%2F"), "http://example.com/~user/A%2F%2F");
  EXPECT_EQ(Norm("http://example.com/a/./b/../../c/"), "http://example.com/c/");
  EXPECT_EQ(Norm("http://example.com/a/%2E%2E/b"), "http://example.com/b");
  EXPECT_EQ(Norm("http://example.com/../../x"), "http://example.com/x");
  EXPECT_EQ(Norm("http://example.com/a b?q=1 2#frag"), "http://example.com/a%20b?q=1%202");
  EXPECT_EQ(Norm("http://example.com/%zz%"), "http://example.com/%25zz%25");
  EXPECT_EQ(Norm("http://user:pw@Example.com/"), "http://example.com/");
  EXPECT_EQ(Norm("http://[2001:DB8::1]:8080/"), "http://[2001:db8::1]:8080/");
  EXPECT_EQ(Norm("http://[::ffff:192.0.2.1]/"), "http://192.0.2.1/");
  EXPECT_EQ(Norm("http://xn--eckwd4c7c.xn--zckzah/"), "http://xn--eckwd4c7c.xn--zckzah/");
  auto u = NormalizeUrl("https", "Example.com.", 0, "/p?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->path, "/p?q");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_FALSE(u->host_is_ip);
}

TEST(NormalizeUrlTest, RefusesWhatCannotBeJudged) {
  EXPECT_EQ(Norm("ftp://example.com/"), "ERROR: has a scheme other than http or https");
  EXPECT_EQ(Norm("http://例え.jp/"), "ERROR: has a non-ASCII host (IDN hosts must be punycode)");
  EXPECT_EQ(Norm("http://a..b/"), "ERROR: has an empty label in its host");
  EXPECT_EQ(Norm("http://exampl../b"), "ERROR: has an empty label in its host");  // fuzzer
  EXPECT_EQ(Norm("http:///x"), "ERROR: has an empty or over-long host");
  EXPECT_EQ(Norm("http://example.com:99999/"), "ERROR: has a bad port");
  EXPECT_EQ(Norm("http://[::1/"), "ERROR: has an unterminated IPv6 literal");
  EXPECT_EQ(Norm("http://example.com/" + std::string(9000, 'a')), "ERROR: is longer than 8 KiB");
  // Escaping can triple a path; the result is bounded too.
  EXPECT_EQ(Norm("http://example.com/" + std::string(4000, ' ')), "ERROR: is longer than 8 KiB");
}

// What a NormalizeUrl call gives, in one comparable string: every field, or the error.
std::string Outcome(const std::optional<NormalizedUrl>& u, const std::string& why) {
  if (!u) return "ERROR: " + why;
  return u->full + " | " + std::string(u->scheme) + " | " + std::string(u->host) + " | " +
         std::string(u->path) + " | " + std::to_string(u->port) + " | " +
         (u->host_is_ip ? "ip" : "name") + " | " + std::to_string(u->host.data() - u->full.data()) +
         " | " + std::to_string(u->path.data() - u->full.data());
}

void ExpectSameAsReference(std::string_view scheme, std::string_view host, uint16_t port,
                           std::string_view path) {
  std::string why, ref_why;
  const auto got = NormalizeUrl(scheme, host, port, path, &why);
  const auto want = reference::NormalizeUrl(scheme, host, port, path, &ref_why);
  ASSERT_EQ(Outcome(got, why), Outcome(want, ref_why))
      << "scheme=" << scheme << " host=" << host << " port=" << port << " path=" << path;
}

// The single-buffer NormalizeUrl against the byte-at-a-time form it replaced
// (url_normalize_reference.h): the same URL, views, port, IP flag, or the same error, for the
// shapes each step distinguishes and for random mixes of hostile pieces.
TEST(NormalizeUrlTest, SameAsTheReferenceForEveryShape) {
  const std::vector<std::string> schemes = {"http", "https", "HTTP",  "HtTpS",    "ftp",
                                            "",     "httpx", "http:", "h\x00ttp", "ＨＴＴＰ"};
  std::vector<std::string> hosts = {"example.com",
                                    "EXAMPLE.com.",
                                    "www.Example.CO.JP",
                                    "a",
                                    "a.",
                                    "a..",
                                    ".a",
                                    "a..b",
                                    "exampl../b",
                                    "-a-.b_c",
                                    "1.2.3.4",
                                    "01.2.3.4",
                                    "1.2.3",
                                    "1.2.3.4.",
                                    "256.1.1.1",
                                    "[2001:DB8::1]",
                                    "[::ffff:192.0.2.1]",
                                    "::1",
                                    "[::1",
                                    "[]",
                                    "[",
                                    "]",
                                    "[1.2.3.4]",
                                    "2001:db8::1",
                                    "1::",
                                    "fe80::1%eth0",
                                    "a:b",
                                    "例え.jp",
                                    "xn--eckwd4c7c.xn--zckzah",
                                    "host with space",
                                    "tab\tx",
                                    std::string("nul\0x", 5),
                                    "",
                                    ".",
                                    "..",
                                    "1.2.3.4x",
                                    "123",
                                    "0x7f.1",
                                    std::string(63, 'a') + ".com",
                                    std::string(64, 'b') + ".com",
                                    std::string(253, 'c'),
                                    std::string(254, 'd'),
                                    std::string(120, '1'),
                                    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.example"};
  const std::vector<std::string> paths = {"",
                                          "/",
                                          "/index.html",
                                          "/a/./b/../../c/",
                                          "/a/%2E%2E/b",
                                          "/../../x",
                                          "/a b?q=1 2#frag",
                                          "/%zz%",
                                          "/%7Euser/%41%2f%2F",
                                          "?q",
                                          "#f",
                                          "/p?q#f",
                                          "/p?a=%41%zz&b=%e3%81%82",
                                          "x/y",
                                          "/.",
                                          "/..",
                                          "/./",
                                          "/a/.",
                                          "/a/..",
                                          "/a/.b",
                                          "/a/..b/",
                                          "/?",
                                          "/?#",
                                          "/\x01\x7f\xff",
                                          "/日本?語",
                                          "/" + std::string(200, '%'),
                                          "/" + std::string(3000, ' '),
                                          "/" + std::string(9000, 'a'),
                                          "/q?" + std::string(3000, 'z')};
  const std::vector<uint16_t> ports = {0, 80, 443, 8080, 1, 65535};
  for (const auto& s : schemes)
    for (const auto& h : hosts)
      for (const auto& p : paths)
        for (uint16_t port : ports) ExpectSameAsReference(s, h, port, p);

  // Random mixes of hostile bytes and the pieces above.
  std::mt19937_64 rng(24);
  const std::string alphabet = std::string("aZ09.-_:[]%/?#. \t\0\x7f", 19) +
                               "\x80"
                               "\xe3"
                               "AFaf2E";
  auto noise = [&](size_t max) {
    std::string out;
    const size_t n = rng() % (max + 1);
    for (size_t i = 0; i < n; ++i) out += alphabet[rng() % alphabet.size()];
    return out;
  };
  for (int i = 0; i < 200000; ++i) {
    std::string host = rng() % 2 ? hosts[rng() % hosts.size()] : noise(24);
    if (rng() % 4 == 0) host += noise(6);
    std::string path = rng() % 2 ? paths[rng() % paths.size()] : "/" + noise(40);
    if (rng() % 3 == 0) path += noise(12);
    ExpectSameAsReference(schemes[rng() % 4], host, ports[rng() % ports.size()], path);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace seccloud::policy
