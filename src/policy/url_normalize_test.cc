// R10: URL normalisation before matching.
#include <gtest/gtest.h>

#include "policy/url_filter.h"

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

}  // namespace
}  // namespace seccloud::policy
