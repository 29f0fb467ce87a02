// Web server logs (R18): combined/common access logs, Apache and nginx error logs.
// "Loghub" lines are from logpai/loghub (Apache), used with attribution.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <random>
#include <string>
#include <string_view>

#include "soc/parse.h"
#include "soc/parse_testing.h"

namespace seccloud::soc {
namespace {

using parse_testing::Ms;
using parse_testing::ParseAs;
using parse_testing::Str;

Record Parse(std::string raw) {
  return ParseAs(Format::kAccessLog, std::move(raw), "file:/var/log/nginx/access.log");
}

TEST(ParseWebTest, CombinedLogFormat) {
  const Record r = Parse(
      R"x(1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08 [en] (Win98; I ;Nav)")x");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(r.time_ms, Ms("2000-10-10T20:55:36Z"));
  EXPECT_EQ(Str(r, "event.dataset"), "web.access");
  EXPECT_EQ(Str(r, "source.ip"), "1.2.3.4");
  EXPECT_EQ(Str(r, "user.name"), "frank");
  EXPECT_EQ(Str(r, "http.request.method"), "GET");
  EXPECT_EQ(Str(r, "url.original"), "/a.gif?x=1");
  EXPECT_EQ(Str(r, "url.path"), "/a.gif");
  EXPECT_EQ(Str(r, "url.query"), "x=1");
  EXPECT_EQ(Str(r, "http.version"), "1.0");
  EXPECT_EQ(Str(r, "http.response.status_code"), "200");
  EXPECT_EQ(Str(r, "http.response.body.bytes"), "2326");
  EXPECT_EQ(Str(r, "http.request.referrer"), "http://ref/");
  EXPECT_EQ(Str(r, "user_agent.original"), "Mozilla/4.08 [en] (Win98; I ;Nav)");
  EXPECT_EQ(Str(r, "event.outcome"), "success");
}

TEST(ParseWebTest, CommonLogFormatWithDashSizeAndIpv6) {
  const Record r =
      Parse(R"(2001:DB8::0:1 - - [10/Oct/2000:13:55:36 +0000] "HEAD / HTTP/1.1" 304 -)");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(Str(r, "source.ip"), "2001:db8::1");
  EXPECT_EQ(Str(r, "user.name"), "<absent>");
  EXPECT_EQ(Str(r, "http.response.status_code"), "304");
  EXPECT_EQ(Str(r, "http.response.body.bytes"), "<absent>");
  EXPECT_EQ(Str(r, "http.request.referrer"), "<absent>");
}

TEST(ParseWebTest, EscapedQuotesInRequestAndAgent) {
  const Record r = Parse(
      R"(10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /search?q=\"x\" HTTP/1.1" 404 12 "-" "sqlmap \"1.7\" \\o/")");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(Str(r, "url.original"), "/search?q=\"x\"");
  EXPECT_EQ(Str(r, "user_agent.original"), "sqlmap \"1.7\" \\o/");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
}

// The quoted fields as the byte-by-byte reader read them (before they became views of the line
// when they hold no backslash): the reference for the generated lines below.
bool ReferenceQuoted(std::string_view s, size_t* pos, std::string* out) {
  size_t p = *pos + 1;
  out->clear();
  while (p < s.size()) {
    const char c = s[p];
    if (c == '\\' && p + 1 < s.size() && (s[p + 1] == '"' || s[p + 1] == '\\')) {
      out->push_back(s[p + 1]);
      p += 2;
    } else if (c == '"') {
      *pos = p + 1;
      return true;
    } else {
      out->push_back(c);
      ++p;
    }
  }
  return false;
}

TEST(ParseWebTest, QuotedFieldsMatchTheByteByByteReader) {
  // Referrer and agent of quotes, backslashes, blanks and letters in every mix (a backslash
  // before a quote, before a backslash, before a letter, last on the line; fields left open):
  // each is absent or holds what the reference reader takes.
  std::mt19937 rng(14);
  static constexpr char kAlphabet[] = {'"', '\\', ' ', 'a', '-', 'x'};
  const std::string head = R"(10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 )";
  size_t with_backslash = 0, open = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string tail;
    const size_t n = rng() % 14;
    for (size_t k = 0; k < n; ++k) tail += kAlphabet[rng() % sizeof(kAlphabet)];
    const std::string line = head + "\"" + tail;
    with_backslash += tail.find('\\') != std::string::npos;
    const Record r = Parse(line);
    ASSERT_TRUE(r.parsed) << line;
    std::string referrer = "<absent>", agent = "<absent>", quoted;
    size_t pos = head.size();
    if (ReferenceQuoted(line, &pos, &quoted)) {
      if (quoted != "-") referrer = quoted;
      while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
      if (pos < line.size() && line[pos] == '"' && ReferenceQuoted(line, &pos, &quoted) &&
          quoted != "-") {
        agent = quoted;
      }
    } else {
      ++open;
    }
    EXPECT_EQ(Str(r, "http.request.referrer"), referrer) << line;
    EXPECT_EQ(Str(r, "user_agent.original"), agent) << line;
  }
  EXPECT_GT(with_backslash, 1000u);
  EXPECT_GT(open, 100u);
}

TEST(ParseWebTest, RequestLineLeftOpenIsAnError) {
  // Without a backslash (the fast path) and with one before the only quote (the escaping path).
  for (const std::string request :
       {R"("GET /a HTTP/1.1 200 5)", R"("GET /a\" HTTP/1.1 200 5)", R"("GET /a HTTP/1.1\)"}) {
    const Record r = Parse("10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] " + request);
    EXPECT_FALSE(r.parsed) << request;
    EXPECT_EQ(Str(r, "seccloud.soc.parse_error"),
              "access-log: unterminated quoted request line starting at byte 42")
        << request;
  }
  // A backslash before a letter is kept as written, and the field still ends at its quote.
  const Record r =
      Parse(R"(10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a\x22b HTTP/1.1" 200 5 "r\\" "\"")");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(Str(r, "url.original"), "/a\\x22b");
  EXPECT_EQ(Str(r, "http.request.referrer"), "r\\");
  EXPECT_EQ(Str(r, "user_agent.original"), "\"");
}

TEST(ParseWebTest, VirtualHostFirstAndJunkRequest) {
  Record r = Parse(
      R"(www.example.org:443 192.0.2.7 - - [10/Oct/2000:13:55:36 +0900] "POST /login HTTP/2.0" 302 0 "-" "curl/8.5.0")");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(Str(r, "url.domain"), "www.example.org");
  EXPECT_EQ(Str(r, "destination.port"), "443");
  EXPECT_EQ(Str(r, "source.ip"), "192.0.2.7");
  EXPECT_EQ(r.time_ms, Ms("2000-10-10T04:55:36Z"));
  // A TLS handshake sent to port 80 is logged as escaped bytes; it is kept, not parsed as HTTP.
  r = Parse(
      R"(192.0.2.9 - - [10/Oct/2000:13:55:36 +0000] "\x16\x03\x01\x02\x00\x01" 400 157 "-" "-")");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "seccloud.http.request_line"), R"(\x16\x03\x01\x02\x00\x01)");
  EXPECT_EQ(Str(r, "http.request.method"), "<absent>");
  EXPECT_EQ(Str(r, "user_agent.original"), "<absent>");
}

TEST(ParseWebTest, ApacheErrorLogs) {
  // Loghub Apache.
  Record r = Parse(
      "[Sun Dec 04 04:47:44 2005] [error] [client 222.166.160.184] Directory index "
      "forbidden by rule: /var/www/html/");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(Str(r, "event.dataset"), "web.error");
  EXPECT_EQ(r.time_ms, Ms("2005-12-04T04:47:44Z"));
  EXPECT_EQ(Str(r, "log.level"), "error");
  EXPECT_EQ(Str(r, "source.ip"), "222.166.160.184");
  EXPECT_EQ(Str(r, "message"), "Directory index forbidden by rule: /var/www/html/");

  r = Parse(
      "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok "
      "/etc/httpd/conf/workers2.properties");
  EXPECT_EQ(Str(r, "log.level"), "notice");
  EXPECT_EQ(Str(r, "source.ip"), "<absent>");

  // Apache 2.4.
  r = Parse(
      "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client "
      "1.2.3.4:50000] AH00124: Request exceeded the limit of 10 internal redirects");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, Ms("2000-10-11T14:32:52.123Z"));
  EXPECT_EQ(Str(r, "log.level"), "error");
  EXPECT_EQ(Str(r, "log.logger"), "core");
  EXPECT_EQ(Str(r, "process.pid"), "35708");
  EXPECT_EQ(Str(r, "source.ip"), "1.2.3.4");
  EXPECT_EQ(Str(r, "source.port"), "50000");
  EXPECT_EQ(Str(r, "message"), "AH00124: Request exceeded the limit of 10 internal redirects");
}

TEST(ParseWebTest, NginxErrorLog) {
  const Record r = Parse(
      R"(2024/01/02 03:04:05 [error] 123#0: *1 open() "/usr/share/nginx/html/x" failed (2: No such file or directory), client: 1.2.3.4, server: example.com, request: "GET /x HTTP/1.1", host: "example.com")");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(Str(r, "event.dataset"), "web.error");
  EXPECT_EQ(r.time_ms, Ms("2024-01-02T03:04:05Z"));
  EXPECT_EQ(Str(r, "log.level"), "error");
  EXPECT_EQ(Str(r, "process.pid"), "123");
  EXPECT_EQ(Str(r, "source.ip"), "1.2.3.4");
  EXPECT_EQ(Str(r, "url.domain"), "example.com");
}

TEST(ParseWebTest, NotAWebLogGivesPreciseErrors) {
  struct Case {
    std::string raw, error;
  };
  const Case cases[] = {
      {"hello world",
       "access-log: expected \"client ident user [time]\" (optionally after a virtual host) at "
       "the start of an access log line, found \"hello world\""},
      {R"(1.2.3.4 - - [10/Oct/2000 13:55:36] "GET / HTTP/1.1" 200 1)",
       "access-log: expected a time like \"10/Oct/2000:13:55:36 -0700\" at byte 13, found "
       "\"10/Oct/2000 13:55:36] \\\"GET / HTTP/1.1\\\" 2\""},
      {R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] GET / 200 1)",
       "access-log: expected the quoted request line at byte 41"},
      {R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1 200 1)",
       "access-log: unterminated quoted request line starting at byte 41"},
      {R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" OK 1)",
       "access-log: expected a three-digit status at byte 58, found \"OK\""},
      {R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 lots)",
       "access-log: expected the response size or \"-\" at byte 62, found \"lots\""},
      {"[not a date] something",
       "access-log: expected an Apache error log line (\"[Www Mmm dd hh:mm:ss yyyy] [level] …\"), "
       "found \"[not a date] something\""},
  };
  for (const auto& c : cases) {
    const Record r = Parse(c.raw);
    EXPECT_FALSE(r.parsed) << c.raw;
    EXPECT_EQ(Str(r, "seccloud.soc.parse_error"), c.error) << c.raw;
    EXPECT_EQ(Str(r, "message"), c.raw);
  }
}

}  // namespace
}  // namespace seccloud::soc
