#include "core/event.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <set>
#include <string>

namespace seccloud {
namespace {

using std::chrono::system_clock;

// The string at `v`, or a description of what is there instead.
std::string S(const boost::json::value& v) {
  return v.is_string() ? std::string(v.get_string())
                       : "<not a string: " + boost::json::serialize(v) + ">";
}
std::string S(const boost::json::value* v) { return v ? S(*v) : "<absent>"; }

boost::json::value ParseLine(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "more than one line";
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << line;
  return v;
}

// 2026-11-26T03:20:22.123Z
system_clock::time_point FixedTime() {
  return system_clock::time_point(std::chrono::milliseconds(1795663222123LL));
}

TEST(EventTest, SetByDottedPathCreatesNestedObjects) {
  Event e;
  e.Set("source.ip", "127.10.0.5")
      .Set("source.port", 443)
      .Set("destination.port", uint16_t{8080})
      .Set("http.response.bytes", uint64_t{18446744073709551615ULL})
      .Set("seccloud.scan.score", 0.5)
      .Set("seccloud.tls.intercepted", true)
      .Set("tenant.id", std::string("tsu-city"))
      .Set("dns.answers", boost::json::value(boost::json::array{"a", "b"}));
  ASSERT_FALSE(e.error());
  const boost::json::value v = ParseLine(e.ToJsonLine());
  EXPECT_EQ(S(v.at("source").at("ip")), "127.10.0.5");
  EXPECT_EQ(v.at("source").at("port").as_int64(), 443);
  EXPECT_EQ(v.at("destination").at("port").to_number<uint64_t>(), 8080u);
  EXPECT_EQ(v.at("http").at("response").at("bytes").as_uint64(), 18446744073709551615ULL);
  EXPECT_DOUBLE_EQ(v.at("seccloud").at("scan").at("score").as_double(), 0.5);
  EXPECT_EQ(v.at("seccloud").at("tls").at("intercepted").as_bool(), true);
  EXPECT_EQ(S(v.at("tenant").at("id")), "tsu-city");
  EXPECT_EQ(v.at("dns").at("answers").as_array().size(), 2u);
  // Nested objects, never dotted keys.
  EXPECT_EQ(v.as_object().count("source.ip"), 0u);
  EXPECT_EQ(v.at("source").as_object().size(), 2u);
}

TEST(EventTest, SetReplacesExistingValue) {
  Event e;
  e.Set("url.domain", "a.example").Set("url.domain", "b.example");
  EXPECT_EQ(S(e.Find("url.domain")), "b.example");
  EXPECT_EQ(e.json().at("url").as_object().size(), 1u);
}

TEST(EventTest, MalformedPathsAreRecordedNotApplied) {
  for (const char* bad : {"", ".a", "a.", "a..b"}) {
    Event e;
    e.Set(bad, 1);
    ASSERT_TRUE(e.error()) << "path \"" << bad << "\"";
    EXPECT_EQ(e.error()->code, Errc::kInvalidArgument);
    EXPECT_TRUE(e.json().empty());
  }
  Event deep;
  deep.Set("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q", 1);  // 17 levels
  ASSERT_TRUE(deep.error());
  EXPECT_NE(deep.error()->message.find("deeper than 16"), std::string::npos);

  Event conflict;
  conflict.Set("source", "x").Set("source.ip", "127.0.0.1");
  ASSERT_TRUE(conflict.error());
  EXPECT_EQ(conflict.error()->message,
            "field path \"source.ip\" runs through \"source\", which is not an object");
  EXPECT_EQ(S(conflict.Find("source")), "x");  // not silently replaced
}

TEST(EventTest, MakeFillsCommonFieldsFromInjectedClock) {
  const Event e = Event::Make("proxy.access", "event", "blocked", Outcome::kFailure,
                              [] { return FixedTime(); });
  ASSERT_FALSE(e.error());
  const boost::json::value v = ParseLine(e.ToJsonLine());
  EXPECT_EQ(S(v.at("@timestamp")), "2026-11-26T03:20:22.123Z");
  EXPECT_EQ(S(v.at("event").at("dataset")), "proxy.access");
  EXPECT_EQ(S(v.at("event").at("kind")), "event");
  EXPECT_EQ(S(v.at("event").at("action")), "blocked");
  EXPECT_EQ(S(v.at("event").at("outcome")), "failure");
  const std::string id(v.at("event").at("id").as_string());
  ASSERT_EQ(id.size(), 36u) << id;
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
}

TEST(EventTest, TimestampFormat) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  EXPECT_EQ(FormatEventTimestamp(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  // Sub-millisecond parts are truncated, not rounded up into the next second.
  EXPECT_EQ(FormatEventTimestamp(system_clock::time_point(microseconds(999999))),
            "1970-01-01T00:00:00.999Z");
  EXPECT_EQ(FormatEventTimestamp(system_clock::time_point(milliseconds(951782400007LL))),
            "2000-02-29T00:00:00.007Z");
  EXPECT_EQ(FormatEventTimestamp(system_clock::time_point(milliseconds(4102444799999LL))),
            "2099-12-31T23:59:59.999Z");
}

TEST(EventTest, EventIdsAreUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 100000; ++i) ids.insert(NewEventId());
  EXPECT_EQ(ids.size(), 100000u);
}

TEST(EventTest, SanitizeUtf8KeepsValidText) {
  const std::string valid = "津市 proxy ✓ 😀 \x7f";
  EXPECT_EQ(SanitizeUtf8(valid), valid);
  EXPECT_EQ(SanitizeUtf8(""), "");
  EXPECT_EQ(SanitizeUtf8("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");  // U+10FFFF
}

TEST(EventTest, SanitizeUtf8ReplacesMaximalSubparts) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(SanitizeUtf8("a\xFF"
                         "b"),
            "a" + r + "b");
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), r + r);                  // overlong '/'
  EXPECT_EQ(SanitizeUtf8("\xE0\x80\xAF"), r + r + r);          // overlong, 3 bytes
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), r + r + r);          // surrogate U+D800
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(SanitizeUtf8("\xE6\x97"), r);                      // truncated 3-byte: one subpart
  EXPECT_EQ(SanitizeUtf8("\xE6\x97"
                         "x"),
            r + "x");
  EXPECT_EQ(SanitizeUtf8("\xF0\x9F\x98"), r);  // truncated emoji
  EXPECT_EQ(SanitizeUtf8("\x80\x80"), r + r);  // lone continuation bytes
  // The example from Unicode 15 §3.9, Table 3-8.
  EXPECT_EQ(SanitizeUtf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + r + r + r + "b" + r + "c" + r + r + "d");
}

TEST(EventTest, HostileStringsComeOutAsValidUtf8Json) {
  Event e;
  const std::string hostile =
      std::string("GET /\xC3\x28\xA0\xA1 \"quoted\" \n\r\t\\ ") + std::string(1, '\0') + "\x01 end";
  boost::json::object nested;
  nested["k\xFF"] = "v\xFE";
  e.Set("url.original", hostile)
      .Set("user_agent.original", "\xFF\xFE")
      .Set("seccloud.raw", boost::json::value(std::move(nested)))
      .Set("bad\xFFkey.x", 1);
  ASSERT_FALSE(e.error());
  const std::string line = e.ToJsonLine();
  EXPECT_EQ(SanitizeUtf8(line), line) << "output is not valid UTF-8";
  const boost::json::value v = ParseLine(line);
  EXPECT_EQ(S(v.at("url").at("original")),
            std::string("GET /\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD \"quoted\" \n\r\t\\ ") +
                std::string(1, '\0') + "\x01 end");
  EXPECT_EQ(S(v.at("user_agent").at("original")), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(S(v.at("seccloud").at("raw").at("k\xEF\xBF\xBD")), "v\xEF\xBF\xBD");
  EXPECT_EQ(v.at("bad\xEF\xBF\xBDkey").at("x").as_int64(), 1);
}

TEST(EventTest, NonFiniteDoublesBecomeNull) {
  Event e;
  e.Set("a", std::numeric_limits<double>::quiet_NaN())
      .Set("b", std::numeric_limits<double>::infinity());
  const boost::json::value v = ParseLine(e.ToJsonLine());
  EXPECT_TRUE(v.at("a").is_null());
  EXPECT_TRUE(v.at("b").is_null());
}

}  // namespace
}  // namespace seccloud
