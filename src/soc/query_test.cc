#include "soc/query.h"

#include <gtest/gtest.h>

#include <set>

#include "soc/query_internal.h"
#include "soc/store_testing_internal.h"

namespace seccloud::soc {
namespace {

Record MakeRecord(std::string raw, Format format = Format::kJson) {
  Record r;
  r.time_ms = 1'764'000'000'000;
  r.received_ms = r.time_ms + 5;
  r.format = format;
  r.source = "spool:proxy";
  r.tenant = "t1";
  r.raw = std::move(raw);
  TestNormalize(r);
  return r;
}

const Record& Proxy() {
  static const Record r = MakeRecord(
      R"({"event":{"dataset":"proxy.access","action":"blocked","category":["web","network"]},)"
      R"("source":{"ip":"10.1.2.3","port":51234},"destination":{"ip":"2001:db8::1"},)"
      R"("url":{"full":"https://evil.example.com/a/b?x=1","domain":"evil.example.com"},)"
      R"("http":{"response":{"status_code":404,"bytes":1536.5}},"user":{"name":"Alice"},)"
      R"("seccloud":{"verified":true},"message":"Blocked download of EICAR from evil.example.com",)"
      R"("size":"300"})");
  return r;
}

const Record& Sshd() {
  static const Record r = MakeRecord(
      "Nov 26 03:20:22 gw1 sshd[4242]: Failed password for root from 192.0.2.77 port 22 ssh2",
      Format::kSyslog);
  return r;
}

bool M(std::string_view q, const Record& r) {
  auto parsed = ParseQuery(q);
  EXPECT_TRUE(parsed) << q << ": " << (parsed ? "" : parsed.error().message);
  return parsed && parsed->Matches(r);
}

std::string Err(std::string_view q) {
  auto parsed = ParseQuery(q);
  EXPECT_FALSE(parsed) << q << " parsed as " << (parsed ? parsed->ToString() : "");
  return parsed ? "" : parsed.error().message;
}

std::set<std::string> Req(std::string_view q) {
  auto parsed = ParseQuery(q);
  EXPECT_TRUE(parsed) << q;
  if (!parsed) return {};
  return {parsed->required_tokens().begin(), parsed->required_tokens().end()};
}

TEST(QueryParseTest, CanonicalForms) {
  EXPECT_EQ(ParseQuery("")->ToString(), "*");
  EXPECT_EQ(ParseQuery("  * ")->ToString(), "*");
  EXPECT_EQ(ParseQuery("source.ip:10.1.2.3 AND event.action:blocked")->ToString(),
            R"((AND source.ip="10.1.2.3" event.action="blocked"))");
  EXPECT_EQ(ParseQuery("a b OR c")->ToString(), R"((OR (AND "a" "b") "c"))");
  EXPECT_EQ(ParseQuery("a and (b or not c)")->ToString(), R"((AND "a" (OR "b" (NOT "c"))))");
  EXPECT_EQ(ParseQuery("-a !b")->ToString(), R"((AND (NOT "a") (NOT "b")))");
  EXPECT_EQ(ParseQuery("a && b || c")->ToString(), R"((OR (AND "a" "b") "c"))");
  EXPECT_EQ(ParseQuery(R"(f:"x y" g:pre* h:* i:10.0.0.0/8)")->ToString(),
            R"((AND f="x y" g~pre* h:* i in 10.0.0.0/8))");
  EXPECT_EQ(ParseQuery("n:[100 TO 500} m:>=4 s:{a TO *]")->ToString(),
            "(AND n:num[100 TO 500} m:num[4 TO *} s:str{a TO *})");
  EXPECT_EQ(ParseQuery("f:(a OR b*)")->ToString(), R"((OR f="a" f~b*))");
  EXPECT_EQ(ParseQuery(R"(f:a\:b\*)")->ToString(), R"(f="a:b*")");
  EXPECT_EQ(ParseQuery(R"("Failed Password" fail*)")->ToString(),
            R"((AND "failed password" "fail"*))");
  EXPECT_EQ(ParseQuery("source.ip: 10.1.2.3")->ToString(), R"(source.ip="10.1.2.3")");
}

TEST(QueryParseTest, ErrorsNamePositionAndExpectation) {
  EXPECT_EQ(Err("event.action:x AND source.ip:"), "at 29: expected a value after \"source.ip:\"");
  EXPECT_EQ(Err("(a OR b"), "at 7: expected \")\" to close the \"(\" at 0");
  EXPECT_EQ(Err("a)"), "at 1: unbalanced \")\"");
  EXPECT_EQ(Err("a AND"), "at 5: expected a term after AND");
  EXPECT_EQ(Err("a OR"), "at 4: expected a term after OR");
  EXPECT_EQ(Err("NOT"), "at 3: expected a term after NOT");
  EXPECT_EQ(Err("AND a"), "at 0: expected a term before AND");
  EXPECT_EQ(Err(R"(f:"abc)"), "at 6: expected a closing '\"' for the quote at 2");
  EXPECT_EQ(Err("n:[1 TO"), "at 7: expected a range bound");
  EXPECT_EQ(Err("n:[1 2]"), "at 5: expected \"TO\" in the range opened at 2");
  EXPECT_EQ(Err("n:[1 TO 2"), "at 9: expected \"]\" or \"}\" to close the range opened at 2");
  EXPECT_EQ(Err("ip:10.0.0.1/8").substr(0, 5), "at 3:");
  EXPECT_EQ(Err(":x"), "at 0: expected a field name before \":\"");
  EXPECT_EQ(Err("f*:x"), "at 0: a field name cannot contain \"*\"");
  EXPECT_EQ(Err("n:>"), "at 3: expected a value after \">\"");
  EXPECT_EQ(Err("()"), "at 1: expected a term inside \"()\"");
  EXPECT_EQ(Err("a \\"), "at 2: expected a character after \"\\\"");
}

TEST(QueryParseTest, Bounds) {
  EXPECT_NE(Err(std::string(kMaxQueryBytes + 1, 'a')).find("longer than 8 KiB"), std::string::npos);
  EXPECT_TRUE(ParseQuery(std::string(kMaxQueryBytes, 'a')));
  std::string deep = std::string(32, '(') + "a" + std::string(32, ')');
  EXPECT_TRUE(ParseQuery(deep));
  deep = std::string(33, '(') + "a" + std::string(33, ')');
  EXPECT_NE(Err(deep).find("deeper than 32"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 40; ++i) nots += "NOT ";
  EXPECT_NE(Err(nots + "a").find("deeper than 32"), std::string::npos);
  std::string terms;
  for (int i = 0; i < 256; ++i) terms += "w" + std::to_string(i) + " ";
  EXPECT_TRUE(ParseQuery(terms));
  EXPECT_NE(Err(terms + "extra").find("more than 256 terms"), std::string::npos);
}

TEST(QueryMatchTest, FieldEquality) {
  EXPECT_TRUE(M("source.ip:10.1.2.3", Proxy()));
  EXPECT_FALSE(M("source.ip:10.1.2.30", Proxy()));
  EXPECT_TRUE(M("event.action:blocked", Proxy()));
  EXPECT_FALSE(M("event.action:Blocked", Proxy()));  // keyword: case-sensitive
  EXPECT_TRUE(M(R"(user.name:"Alice")", Proxy()));
  EXPECT_FALSE(M("user.name:alice", Proxy()));
  EXPECT_TRUE(M("event.category:network", Proxy()));  // any array element
  EXPECT_FALSE(M("event.category:host", Proxy()));
  EXPECT_TRUE(M("http.response.status_code:404", Proxy()));  // number
  EXPECT_TRUE(M("http.response.status_code:404.0", Proxy()));
  EXPECT_FALSE(M("http.response.status_code:405", Proxy()));
  EXPECT_TRUE(M("seccloud.verified:true", Proxy()));
  EXPECT_FALSE(M("seccloud.verified:false", Proxy()));
  EXPECT_TRUE(M("destination.ip:2001:db8:0:0::1", Proxy()));  // any IPv6 spelling
  EXPECT_FALSE(M("destination.ip:2001:db8::2", Proxy()));
  EXPECT_TRUE(M("tenant.id:t1", Proxy()));
  EXPECT_TRUE(M("event.dataset:proxy.access", Proxy()));
  EXPECT_FALSE(M("no.such.field:x", Proxy()));
  EXPECT_FALSE(M("event:blocked", Proxy()));  // an object matches only field:*
}

TEST(QueryMatchTest, WildcardsCidrExists) {
  EXPECT_TRUE(M("url.domain:evil.*", Proxy()));
  EXPECT_TRUE(M("url.domain:*.example.com", Proxy()));
  EXPECT_TRUE(M("url.domain:e?il.example.co?", Proxy()));
  EXPECT_FALSE(M("url.domain:evil", Proxy()));
  EXPECT_FALSE(M("url.domain:Evil*", Proxy()));
  EXPECT_TRUE(M(R"(url.full:https\://evil*)", Proxy()));
  EXPECT_TRUE(M("source.ip:10.0.0.0/8", Proxy()));
  EXPECT_TRUE(M("source.ip:10.1.2.3/32", Proxy()));
  EXPECT_FALSE(M("source.ip:192.168.0.0/16", Proxy()));
  EXPECT_TRUE(M("destination.ip:2001:db8::/32", Proxy()));
  EXPECT_FALSE(M("url.domain:10.0.0.0/8", Proxy()));  // not an IP
  EXPECT_TRUE(M("user.name:*", Proxy()));
  EXPECT_TRUE(M("event:*", Proxy()));
  EXPECT_FALSE(M("user.id:*", Proxy()));
  EXPECT_TRUE(M("source.port:[* TO *]", Proxy()));
}

TEST(QueryMatchTest, Ranges) {
  EXPECT_TRUE(M("http.response.status_code:[400 TO 499]", Proxy()));
  EXPECT_TRUE(M("http.response.status_code:[404 TO 404]", Proxy()));
  EXPECT_FALSE(M("http.response.status_code:{404 TO 500]", Proxy()));
  EXPECT_FALSE(M("http.response.status_code:[100 TO 404}", Proxy()));
  EXPECT_TRUE(M("http.response.status_code:>=400", Proxy()));
  EXPECT_TRUE(M("http.response.status_code:>403", Proxy()));
  EXPECT_FALSE(M("http.response.status_code:>404", Proxy()));
  EXPECT_TRUE(M("http.response.status_code:<=404", Proxy()));
  EXPECT_FALSE(M("http.response.status_code:<404", Proxy()));
  EXPECT_TRUE(M("http.response.bytes:[1536 TO 1537]", Proxy()));
  EXPECT_TRUE(M("size:[250 TO 500]", Proxy()));  // a string holding a number
  EXPECT_FALSE(M("size:>300", Proxy()));
  EXPECT_TRUE(M("source.port:[50000 TO *]", Proxy()));
  EXPECT_FALSE(M("user.name:[100 TO 200]", Proxy()));                       // not a number
  EXPECT_TRUE(M(R"(@timestamp:["2025-11-24" TO "2025-11-25"])", Proxy()));  // by bytes
  EXPECT_FALSE(M(R"(@timestamp:>"2025-11-25")", Proxy()));
  EXPECT_TRUE(M("url.domain:[evil TO f]", Proxy()));
}

TEST(QueryMatchTest, FullText) {
  EXPECT_TRUE(M("eicar", Proxy()));  // message, case-insensitive
  EXPECT_TRUE(M("EICAR", Proxy()));
  EXPECT_FALSE(M("eica", Proxy()));  // whole words only
  EXPECT_TRUE(M("eica*", Proxy()));
  EXPECT_TRUE(M("\"download of eicar\"", Proxy()));
  EXPECT_FALSE(M("\"download eicar\"", Proxy()));
  EXPECT_TRUE(M("evil.example.com", Proxy()));
  EXPECT_TRUE(M("evil", Proxy()));  // "evil.example.com" has the word "evil"
  EXPECT_TRUE(M("failed password", Sshd()));
  EXPECT_TRUE(M("\"Failed password for root\"", Sshd()));
  EXPECT_TRUE(M("192.0.2.77", Sshd()));
  EXPECT_FALSE(M("192.0.2.7", Sshd()));
  EXPECT_FALSE(M("92.0.2.77", Sshd()));
  EXPECT_TRUE(M("sshd AND NOT sudo", Sshd()));
  EXPECT_FALSE(M("sshd AND sudo", Sshd()));
  EXPECT_TRUE(M("sudo OR sshd", Sshd()));
  EXPECT_TRUE(M("message:password", Sshd()));  // a text field matches by word
  EXPECT_TRUE(M("message:pass*", Sshd()));
  EXPECT_FALSE(M("message:pass", Sshd()));
  EXPECT_TRUE(M("\"and\"", MakeRecord("this and that", Format::kText)));
  EXPECT_TRUE(M("*", Sshd()));
  EXPECT_TRUE(M("", Sshd()));
}

TEST(QueryMatchTest, BooleanStructure) {
  EXPECT_TRUE(M("(source.ip:10.1.2.3 OR source.ip:10.9.9.9) AND NOT user.name:bob", Proxy()));
  EXPECT_FALSE(M("(source.ip:10.1.2.4 OR source.ip:10.9.9.9) AND NOT user.name:bob", Proxy()));
  EXPECT_FALSE(M("source.ip:10.1.2.3 -user.name:Alice", Proxy()));
  EXPECT_TRUE(M("source.ip:(10.9.9.9 OR 10.1.2.3)", Proxy()));
  EXPECT_TRUE(M("NOT NOT source.ip:10.1.2.3", Proxy()));
}

TEST(QueryTokensTest, RequiredTokens) {
  EXPECT_EQ(Req("source.ip:10.1.2.3"), (std::set<std::string>{"10.1.2.3"}));
  EXPECT_EQ(Req("user.name:Alice AND eicar"), (std::set<std::string>{"alice", "eicar"}));
  EXPECT_EQ(Req("a1 OR b1"), (std::set<std::string>{}));
  EXPECT_EQ(Req("(x1 y1) OR (x1 z1)"), (std::set<std::string>{"x1"}));
  EXPECT_EQ(Req("NOT foo"), (std::set<std::string>{}));
  EXPECT_EQ(Req("\"failed password\""), (std::set<std::string>{"failed", "password"}));
  EXPECT_EQ(Req("fail*"), (std::set<std::string>{}));
  EXPECT_EQ(Req("\"from 192.0.2.77\""), (std::set<std::string>{"from", "192", "77", "192.0.2.77"}));
  EXPECT_EQ(Req("status:404"), (std::set<std::string>{"404"}));
  EXPECT_EQ(Req("status:404.0"), (std::set<std::string>{}));
  EXPECT_EQ(Req("bytes:1234567"), (std::set<std::string>{}));
  EXPECT_EQ(Req("source.port:51234"), (std::set<std::string>{}));
  EXPECT_EQ(Req("destination.port:8080"), (std::set<std::string>{"8080"}));
  EXPECT_EQ(Req("url.domain:evil*"), (std::set<std::string>{}));
  EXPECT_EQ(Req("@timestamp:x"), (std::set<std::string>{}));
  EXPECT_EQ(Req("destination.ip:2001:db8::1"), (std::set<std::string>{}));
  EXPECT_EQ(Req("message:\"Failed password\""), (std::set<std::string>{"failed", "password"}));
}

// The contract the store relies on: every token a query requires is among the tokens the store
// indexes for any record the query matches.
TEST(QueryTokensTest, RequiredTokensAreIndexedForMatchingRecords) {
  const std::vector<Record> records = {
      Proxy(), Sshd(),
      MakeRecord("x=10.1.2.3.4 host-192.0.2.1:80 user@Example.ORG 0a1b2c3d4e5f6a7b deadbeef99",
                 Format::kText),
      MakeRecord(R"({"message":"A\u00e9b \u65e5\u672c Z","n":[1,2,{"k":"V"}],"t":true})")};
  const std::vector<std::string> queries = {"source.ip:10.1.2.3",
                                            "eicar",
                                            "\"failed password\"",
                                            "192.0.2.77",
                                            "10.1.2.3",
                                            "\"2.3.4\"",
                                            "192.0.2.1",
                                            "user@example.org",
                                            "example.org",
                                            "http.response.status_code:404",
                                            "user.name:Alice",
                                            "url.domain:evil.example.com",
                                            "\"from evil.example.com\"",
                                            "seccloud.verified:true",
                                            "event.category:web",
                                            "n.k:V",
                                            "t:true",
                                            "n:1",
                                            "\u65e5\u672c",
                                            "message:\"a\u00e9b\"",
                                            "deadbeef99",
                                            "0a1b2c3d4e5f6a7b",
                                            "host"};
  for (const auto& q : queries) {
    auto parsed = ParseQuery(q);
    ASSERT_TRUE(parsed) << q;
    for (const Record& r : records) {
      if (!parsed->Matches(r)) continue;
      std::set<std::string> indexed;
      ForEachRecordToken(r.raw, r.fields(), [&](std::string_view t) { indexed.emplace(t); });
      for (const auto& t : parsed->required_tokens()) {
        EXPECT_TRUE(indexed.contains(t)) << q << " requires " << t << " not indexed for " << r.raw;
      }
    }
  }
  // And they are selective where it matters.
  EXPECT_FALSE(Req("192.0.2.77").empty());
}

TEST(QueryTokensTest, TextTokens) {
  std::vector<std::string> got;
  ForEachTextToken("GET /A-b_c 10.1.2.3.4 x 123456 12345 1234 deadbeef01 ab",
                   [&](std::string_view t) { got.emplace_back(t); });
  EXPECT_EQ(got,
            (std::vector<std::string>{"get", "b_c", "10", "10.1.2.3", "1.2.3.4", "1234", "ab"}));
}

}  // namespace
}  // namespace seccloud::soc
