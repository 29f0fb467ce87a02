#include "core/event.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace seccloud {
namespace {

using std::chrono::system_clock;

// The string at `v`, or a description of what is there instead.
std::string S(const boost::json::value& v) {
  return v.is_string() ? std::string(v.get_string())
                       : "<not a string: " + boost::json::serialize(v) + ">";
}
std::string S(const std::optional<boost::json::value>& v) { return v ? S(*v) : "<absent>"; }

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

// ---- the direct JSON writer against boost::json ----------------------------------------------

// The semantics Event had when it kept a boost::json object tree (before it wrote JSON directly):
// the reference the direct writer must agree with, key order included.
struct TreeEvent {
  boost::json::object fields;
  std::optional<std::string> error;

  void Set(std::string_view path, boost::json::value value) {
    std::vector<std::string> segments;
    size_t start = 0;
    while (true) {
      const size_t dot = path.find('.', start);
      segments.push_back(SanitizeUtf8(path.substr(
          start, dot == std::string_view::npos ? std::string_view::npos : dot - start)));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    boost::json::object* object = &fields;
    std::string through;
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
      through += (i ? "." : "") + segments[i];
      auto it = object->find(segments[i]);
      if (it == object->end()) {
        object = &(*object)[segments[i]].emplace_object();
      } else if (it->value().is_object()) {
        object = &it->value().get_object();
      } else {
        if (!error) {
          error = "field path \"" + SanitizeUtf8(path) + "\" runs through \"" + through +
                  "\", which is not an object";
        }
        return;
      }
    }
    (*object)[segments.back()] = std::move(value);
  }
};

// Fails the test unless `a` and `b` have the same keys in the same order, at every level.
void ExpectSameKeyOrder(const boost::json::value& a, const boost::json::value& b,
                        const std::string& where) {
  if (a.is_object() && b.is_object()) {
    std::vector<std::string> ka, kb;
    for (const auto& kv : a.get_object()) ka.emplace_back(kv.key());
    for (const auto& kv : b.get_object()) kb.emplace_back(kv.key());
    ASSERT_EQ(ka, kb) << "key order at " << where;
    for (const auto& kv : a.get_object())
      ExpectSameKeyOrder(kv.value(), b.get_object().at(kv.key()),
                         where + "." + std::string(kv.key()));
  } else if (a.is_array() && b.is_array() && a.get_array().size() == b.get_array().size()) {
    for (size_t i = 0; i < a.get_array().size(); ++i)
      ExpectSameKeyOrder(a.get_array()[i], b.get_array()[i], where + "[]");
  }
}

// The event's line must be one line of valid UTF-8 JSON equal to what boost::json makes of the
// reference tree (numbers normalised through boost::json's own serialiser), in the same order.
void ExpectSameAsTree(const Event& e, const TreeEvent& tree) {
  const std::string line = e.ToJsonLine();
  ASSERT_EQ(SanitizeUtf8(line), line) << "output is not valid UTF-8";
  const boost::json::value got = ParseLine(line);
  const boost::json::value want = boost::json::parse(boost::json::serialize(tree.fields));
  ASSERT_EQ(got, want) << "got  " << line << "want " << boost::json::serialize(want);
  ExpectSameKeyOrder(got, want, "");
}

// Every byte value, quotes, backslashes, DEL and each kind of ill-formed UTF-8.
std::vector<std::string> HostileStrings() {
  std::vector<std::string> v;
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  v.push_back(all_bytes);
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls += std::string("<") + static_cast<char>(c) + ">";
  v.push_back(controls);
  v.push_back(std::string("\0", 1));
  v.push_back("\"\\/\x7f\b\f\n\r\t\"\"\\\\");
  v.push_back("\xC0\xAF\xE0\x80\xAF\xED\xA0\x80\xF4\x90\x80\x80\xE6\x97\xF0\x9F\x98\x80\x80");
  v.push_back("津市 ✓ 😀 \xEF\xBF\xBD \xF4\x8F\xBF\xBF");
  v.push_back("");
  v.push_back("\\u0000 is not an escape here");
  return v;
}

TEST(EventJsonTest, HostileValuesAndKeysMatchBoostJson) {
  Event e;
  TreeEvent tree;
  const std::vector<std::string> hostile = HostileStrings();
  for (size_t i = 0; i < hostile.size(); ++i) {
    const std::string path = "seccloud.hostile.v" + std::to_string(i);
    e.Set(path, hostile[i]);
    tree.Set(path, boost::json::string(SanitizeUtf8(hostile[i])));
    // The same bytes as a key segment (without dots, which separate segments).
    std::string key = hostile[i].substr(0, 200);  // a path is at most 256 bytes
    std::replace(key.begin(), key.end(), '.', '_');
    if (key.empty()) continue;
    const std::string key_path = "seccloud.keys." + key;
    e.Set(key_path, static_cast<int64_t>(i));
    tree.Set(key_path, static_cast<int64_t>(i));
  }
  const boost::json::array arr{"a\xFF", boost::json::object{{"k\x01\xFE", "v\"\n"}}, nullptr, -1.5};
  e.Set("seccloud.array", boost::json::value(arr));
  tree.Set("seccloud.array",
           boost::json::parse(R"(["a\ufffd", {"k\u0001\ufffd": "v\"\n"}, null, -1.5])"));
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  e.Set("n.min", kMin).Set("n.max", kMax).Set("n.zero", uint16_t{0}).Set("n.neg", -7);
  tree.Set("n.min", kMin);
  tree.Set("n.max", kMax);
  tree.Set("n.zero", uint64_t{0});
  tree.Set("n.neg", -7);
  int i = 0;
  for (double d : {0.1, -0.0, 3.0, 1e15, 1e300, 5e-324, 123456789.125, -2.5e-10}) {
    const std::string path = "d.v" + std::to_string(i++);
    e.Set(path, d);
    tree.Set(path, d);
  }
  e.Set("b.t", true).Set("b.f", false);
  tree.Set("b.t", true);
  tree.Set("b.f", false);
  ASSERT_FALSE(e.error()) << e.error()->message;
  ExpectSameAsTree(e, tree);
  EXPECT_EQ(e.FindString("seccloud.hostile.v2"), std::string_view("\0", 1));
  EXPECT_EQ(e.FindString("seccloud.hostile.v4"),
            SanitizeUtf8("\xC0\xAF\xE0\x80\xAF\xED\xA0\x80\xF4\x90\x80\x80\xE6\x97\xF0\x9F\x98"
                         "\x80\x80"));
  EXPECT_FALSE(e.FindString("n.min"));             // a number, not a string
  EXPECT_FALSE(e.FindString("seccloud.hostile"));  // an object
  EXPECT_TRUE(e.Has("seccloud.hostile"));
  EXPECT_FALSE(e.Has("seccloud.hostil"));
}

TEST(EventJsonTest, HugeStringsRoundTrip) {
  std::mt19937_64 rng(7);
  std::string random_bytes(3 << 20, '\0');
  for (char& c : random_bytes) c = static_cast<char>(rng());
  const std::string quotes(1 << 20, '"');
  Event e;
  e.Set("a.random", random_bytes).Set("a.quotes", quotes).Set("a.after", "x");
  const boost::json::value v = ParseLine(e.ToJsonLine());
  EXPECT_EQ(S(v.at("a").at("random")), SanitizeUtf8(random_bytes));
  EXPECT_EQ(S(v.at("a").at("quotes")), quotes);
  EXPECT_EQ(S(v.at("a").at("after")), "x");
}

TEST(EventJsonTest, NestingAndPathBounds) {
  auto nested = [](int levels) {
    boost::json::value v = "leaf";
    for (int i = 0; i < levels; ++i) v = boost::json::array{std::move(v)};
    return v;
  };
  Event ok;
  ok.Set("deep", nested(60));
  ASSERT_FALSE(ok.error());
  boost::json::parse_options deep_parse;
  deep_parse.max_depth = 100;  // boost::json's default stops at 32
  EXPECT_EQ(boost::json::parse(ok.ToJsonLine(), {}, deep_parse).at("deep"), nested(60));
  EXPECT_EQ(ok.Find("deep"), nested(60));
  Event too_deep;
  too_deep.Set("deep", nested(70)).Set("after", 1);
  ASSERT_TRUE(too_deep.error());
  EXPECT_NE(too_deep.error()->message.find("nested deeper than 64"), std::string::npos);
  EXPECT_FALSE(too_deep.Has("deep"));
  EXPECT_TRUE(too_deep.Has("after"));

  std::string sixteen = "a";
  for (int i = 1; i < 16; ++i) sixteen += ".a";
  Event path_ok;
  path_ok.Set(sixteen, 1);
  ASSERT_FALSE(path_ok.error());
  boost::json::value v = ParseLine(path_ok.ToJsonLine());
  for (int i = 0; i < 16; ++i) v = boost::json::value(v.at("a"));
  EXPECT_EQ(v.as_int64(), 1);
  const std::string longest(kMaxFieldPathBytes, 'k');
  Event long_ok;
  long_ok.Set(longest, "\xFF");  // 256 bytes: accepted
  EXPECT_FALSE(long_ok.error());
  EXPECT_EQ(long_ok.FindString(longest), "\xEF\xBF\xBD");
  Event too_long;
  too_long.Set(longest + "k", 1);
  EXPECT_TRUE(too_long.error());
  // A path of 256 ill-formed bytes sanitises to three times its length.
  Event wide;
  wide.Set(std::string(kMaxFieldPathBytes, '\xFF'), 1);
  ASSERT_FALSE(wide.error());
  EXPECT_EQ(ParseLine(wide.ToJsonLine()).as_object().begin()->key().size(), 3 * kMaxFieldPathBytes);
}

TEST(EventJsonTest, ObjectReplacedByValueKeepsItsPlace) {
  Event e;
  TreeEvent tree;
  for (const char* p : {"a.x", "b", "a.y.z", "c.d", "a.w"}) {
    e.Set(p, p);
    tree.Set(p, p);
  }
  e.Set("a", 5);
  tree.Set("a", 5);
  e.Set("c.d", "again");
  tree.Set("c.d", "again");
  ASSERT_FALSE(e.error());
  ExpectSameAsTree(e, tree);
  EXPECT_EQ(e.ToJsonLine(), "{\"a\":5,\"b\":\"b\",\"c\":{\"d\":\"again\"}}\n");
  // An object set as one value is a value: paths do not run into it.
  Event whole;
  whole.Set("x", boost::json::value(boost::json::object{{"y", 1}})).Set("x.z", 2);
  ASSERT_TRUE(whole.error());
  EXPECT_EQ(whole.error()->message,
            "field path \"x.z\" runs through \"x\", which was set as a whole value");
  EXPECT_EQ(whole.ToJsonLine(), "{\"x\":{\"y\":1}}\n");
}

// A path of one to four segments drawn from `segs`.
std::string RandomPath(std::mt19937& rng, const std::vector<std::string>& segs) {
  const int depth = 1 + static_cast<int>(rng() % 4);
  std::string path;
  for (int d = 0; d < depth; ++d) {
    if (d) path += '.';
    path += segs[rng() % segs.size()];
  }
  return path;
}

// Random sequences of Set calls over a small set of path segments (so that paths collide,
// replace each other and run through each other), compared with the boost::json tree: the same
// fields, values, key order and first error.
TEST(EventJsonTest, RandomSetSequencesMatchBoostJsonTree) {
  std::mt19937 rng(2026);
  const std::vector<std::string> segs = {"a", "b", "event", "\xFF", "q\"", "\xC3\xA9", "x\n"};
  for (int round = 0; round < 3000; ++round) {
    Event e;
    TreeEvent tree;
    const int sets = 1 + static_cast<int>(rng() % 30);
    for (int s = 0; s < sets; ++s) {
      const std::string path = RandomPath(rng, segs);
      switch (rng() % 5) {
        case 0: {
          const std::string value = segs[rng() % segs.size()] + "\x80";
          e.Set(path, value);
          tree.Set(path, boost::json::string(SanitizeUtf8(value)));
          break;
        }
        case 1: {
          const int64_t n = static_cast<int64_t>(rng()) - (int64_t{1} << 31);
          e.Set(path, n);
          tree.Set(path, n);
          break;
        }
        case 2: {
          const double d = static_cast<double>(rng()) / 7.0;
          e.Set(path, d);
          tree.Set(path, d);
          break;
        }
        case 3: {
          const bool b = rng() % 2 == 0;
          e.Set(path, b);
          tree.Set(path, b);
          break;
        }
        default:
          e.Set(path, boost::json::value(boost::json::array{1, "\xFE"}));
          tree.Set(path, boost::json::array{1, "\xEF\xBF\xBD"});
          break;
      }
    }
    ASSERT_EQ(e.error().has_value(), tree.error.has_value()) << "round " << round;
    if (tree.error) {
      ASSERT_EQ(e.error()->message, *tree.error) << "round " << round;
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsTree(e, tree)) << "round " << round;
  }
}

// Path validation reads eight bytes at a time: dots at every offset around those boundaries.
TEST(EventJsonTest, PathShapesAcrossWordBoundaries) {
  for (size_t len = 1; len <= 20; ++len) {
    for (size_t at = 0; at < len; ++at) {
      std::string path(len, 'k');
      path[at] = '.';
      Event e;
      e.Set(path, 1);
      const bool valid = at != 0 && at + 1 != len;
      EXPECT_EQ(e.error().has_value(), !valid) << path;
      if (at + 1 < len) {
        path[at + 1] = '.';  // two dots in a row: an empty segment
        Event twice;
        twice.Set(path, 1);
        EXPECT_TRUE(twice.error().has_value()) << path;
      }
    }
  }
  std::string deep = "a";
  for (size_t d = 1; d < kMaxFieldPathDepth; ++d) deep += ".a";
  Event ok;
  ok.Set(deep, 1);
  EXPECT_FALSE(ok.error().has_value());
  // "a":{ per level, "a":1 at the bottom, the closing braces, {, } and \n.
  EXPECT_EQ(ok.ToJsonLine().size(), 5 * kMaxFieldPathDepth + (kMaxFieldPathDepth - 1) + 3);
  Event too_deep;
  too_deep.Set(deep + ".a", 1);
  EXPECT_TRUE(too_deep.error().has_value());
  Event longest, too_long;
  longest.Set(std::string(kMaxFieldPathBytes, 'x'), 1);
  too_long.Set(std::string(kMaxFieldPathBytes + 1, 'x'), 1);
  EXPECT_FALSE(longest.error().has_value());
  EXPECT_TRUE(too_long.error().has_value());
  // Non-ASCII segments sharing a prefix: sanitised bytes, same nesting.
  Event wide;
  wide.Set("\xFF\xFF.a", 1).Set("\xFF\xFF.b", 2).Set("\xFF.c", 3);
  EXPECT_EQ(wide.ToJsonLine(),
            "{\"\xEF\xBF\xBD\xEF\xBF\xBD\":{\"a\":1,\"b\":2},\"\xEF\xBF\xBD\":{\"c\":3}}\n");
}

// ---- FieldPath: paths checked when compiled ---------------------------------------------------

static_assert(FieldPath{"a"}.shape().depth == 1);
static_assert(FieldPath{"http.response.status_code"}.shape().depth == 3);
static_assert(FieldPath{"http.response.status_code"}.shape().dots[1] == 13);
static_assert(!FieldPath{"user agent.original"}.shape().escape);
// (A malformed one — "", "a..b", ".a", "a.", 17 segments, 257 bytes, a quote, a backslash, a
// control or non-ASCII byte — is a compile error, so it cannot be tested here.)

// The value at a sanitised dotted path of the reference tree, or null.
const boost::json::value* TreeFind(const TreeEvent& tree, std::string_view path) {
  const boost::json::object* object = &tree.fields;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string_view segment =
        path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const auto* v = object->if_contains(boost::json::string_view(segment.data(), segment.size()));
    if (v == nullptr || dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    object = &v->get_object();
    start = dot + 1;
  }
}

// An object replaced by a value drops its fields from its key's group too: nothing of it is
// found afterwards, whether its key is the last one set or not (evt21's review: a mutant that left
// the group's count unchanged passed every other test).
TEST(EventJsonTest, AnObjectReplacedByAValueLeavesNoFieldBehind) {
  for (const bool another_key_after : {false, true}) {
    Event e;
    e.Set("a.b", int64_t{1});
    e.Set("a.c", int64_t{2});
    e.Set("a.d", "x");
    if (another_key_after) e.Set("z", int64_t{9});
    e.Set("a", int64_t{3});
    EXPECT_FALSE(e.Has("a.c")) << another_key_after;
    EXPECT_FALSE(e.Has("a.d")) << another_key_after;
    EXPECT_FALSE(e.FindString("a.d").has_value()) << another_key_after;
    e.Set("a", int64_t{4});
    EXPECT_FALSE(e.error().has_value()) << another_key_after;
    EXPECT_EQ(e.ToJsonLine(), another_key_after ? "{\"a\":4,\"z\":9}\n" : "{\"a\":4}\n");
  }
}

// Paths whose top-level keys share their first eight bytes or differ only in their size, that
// run through and below each other, are 16 segments deep, or are around the 64 bytes up to which
// a field keeps its dots as a mask: set through FieldPath and through the same string, in random
// order, they give the same line, the same first error and the same answers to Has and
// FindString as each other and as the reference tree.
TEST(EventJsonTest, FieldPathsSetTheSameLinesAsStrings) {
  static constexpr FieldPath kPaths[] = {
      FieldPath{"a"},
      FieldPath{"a.b"},
      FieldPath{"a.b.c"},
      FieldPath{"a.bc"},
      FieldPath{"ab.c"},
      FieldPath{"b"},
      FieldPath{"k1234567"},
      FieldPath{"k1234567.x"},
      FieldPath{"k12345678.y"},
      FieldPath{"k12345679.y"},
      FieldPath{"k12345678.y.z"},
      FieldPath{"event.category"},
      FieldPath{"event.kind"},
      FieldPath{"seccloud.seq"},
      FieldPath{"seccloud.tls.mode"},
      FieldPath{"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p"},
      FieldPath{"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.q"},
      // 63, 64 and 65 bytes, dots near the end.
      FieldPath{"long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b.c"},
      FieldPath{"long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b.cd"},
      FieldPath{"long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b.c.d"},
      FieldPath{"long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b.cde"},
      FieldPath{"long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bb"},
      FieldPath{"long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.z"},
      FieldPath{"x y.1"},
  };
  static_assert(kPaths[17].view().size() == 63 && kPaths[18].view().size() == 64 &&
                kPaths[19].view().size() == 65);
  const size_t n = std::size(kPaths);
  std::mt19937 rng(21);
  for (int round = 0; round < 3000; ++round) {
    Event checked, strings;
    TreeEvent tree;
    const int sets = 1 + static_cast<int>(rng() % 24);
    for (int s = 0; s < sets; ++s) {
      const FieldPath& path = kPaths[rng() % n];
      if (rng() % 2) {
        const std::string value = "v" + std::to_string(rng() % 100) + (rng() % 4 ? "" : "\"\x01");
        checked.Set(path, value);
        strings.Set(path.view(), value);
        tree.Set(path.view(), boost::json::string(value));
      } else {
        const int64_t value = static_cast<int64_t>(rng() % 1000);
        checked.Set(path, value);
        strings.Set(path.view(), value);
        tree.Set(path.view(), value);
      }
    }
    ASSERT_EQ(checked.ToJsonLine(), strings.ToJsonLine()) << "round " << round;
    ASSERT_EQ(checked.error().has_value(), tree.error.has_value()) << "round " << round;
    ASSERT_EQ(strings.error().has_value(), tree.error.has_value()) << "round " << round;
    if (tree.error) {
      ASSERT_EQ(checked.error()->message, *tree.error) << "round " << round;
      ASSERT_EQ(strings.error()->message, *tree.error) << "round " << round;
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsTree(checked, tree)) << "round " << round;
    for (size_t k = 0; k < n; ++k) {
      const std::string_view path = kPaths[k].view();
      const boost::json::value* want = TreeFind(tree, path);
      ASSERT_EQ(checked.Has(path), want != nullptr) << path << ", round " << round;
      const auto got = checked.FindString(path);
      ASSERT_EQ(got.has_value(), want != nullptr && want->is_string()) << path;
      if (got) {
        ASSERT_EQ(*got, std::string_view(want->get_string())) << path;
      }
    }
    // Prefixes that are no field's path: "k123456" against "k1234567", "lon" against "long".
    ASSERT_FALSE(checked.Has("k123456"));
    ASSERT_FALSE(checked.Has("lon"));
    ASSERT_FALSE(checked.Has(""));
  }
}

// ---- byte identity of the written line --------------------------------------------------------

// A proxy.access event as ClientSession::Finish builds it, with the request's own bytes (URL,
// user agent, host) taken from `odd`.
Event AccessEvent(std::mt19937& rng, const std::vector<std::string>& odd, bool checked = false) {
  auto pick = [&]() -> const std::string& { return odd[rng() % odd.size()]; };
  Event e = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess, FixedTime);
  // Each field through a FieldPath (as the proxy sets them) or its string (as before FieldPath).
  auto set = [&](const FieldPath& path, const auto& value) {
    if (checked) {
      e.Set(path, value);
    } else {
      e.Set(path.view(), value);
    }
  };
  set(FieldPath{"event.id"}, "0b5f2a51-7c2e-4d3b-9a61-2f0e4c8d1b7a");  // replaced in place
  const bool success = rng() % 4 != 0;
  set(FieldPath{"event.action"}, success ? "allowed" : "blocked");
  set(FieldPath{"event.outcome"}, success ? "success" : "failure");
  set(FieldPath{"event.category"}, "web");
  set(FieldPath{"event.type"}, success ? "access" : "denied");
  set(FieldPath{"event.duration"}, static_cast<int64_t>(rng()));
  if (rng() % 8) set(FieldPath{"tenant.id"}, "tsu-city");
  set(FieldPath{"client.ip"}, "192.0.2.17");
  set(FieldPath{"source.ip"}, "2001:db8::1");
  set(FieldPath{"seccloud.attribution"}, "source");
  if (rng() % 5 == 0) set(FieldPath{"seccloud.attribution_note"}, pick());
  set(FieldPath{"http.request.method"}, rng() % 2 ? "GET" : pick());
  // Each rng() call its own statement: the order of a call's operands is unspecified.
  const std::string& url_host = pick();
  const std::string& url_query = pick();
  set(FieldPath{"url.full"}, "http://" + url_host + "/p?q=" + url_query);
  set(FieldPath{"url.domain"}, pick());
  set(FieldPath{"http.response.status_code"}, static_cast<int64_t>(200 + rng() % 400));
  set(FieldPath{"http.request.bytes"}, static_cast<uint64_t>(rng()));
  const uint64_t high = rng();
  set(FieldPath{"http.response.bytes"}, (high << 32) | rng());
  if (rng() % 3) set(FieldPath{"user_agent.original"}, pick());
  set(FieldPath{"seccloud.tls.mode"}, rng() % 2 ? "none" : "intercepted");
  if (rng() % 2) set(FieldPath{"tls.client.server_name"}, pick());
  if (rng() % 4 == 0) set(FieldPath{"tls.server.issuer"}, pick());
  set(FieldPath{"seccloud.verdict.action"}, "allow");
  if (rng() % 3 == 0) {
    set(FieldPath{"seccloud.verdict.layer"}, "common");
    set(FieldPath{"rule.ruleset"}, "ut1");
    set(FieldPath{"rule.name"}, pick());
    set(FieldPath{"rule.id"}, "ut1:" + pick());
  }
  if (rng() % 3 == 0) set(FieldPath{"seccloud.url.category"}, pick());
  if (rng() % 4 == 0) {
    set(FieldPath{"seccloud.scan.result"}, "infected");
    set(FieldPath{"seccloud.scan.signature"}, pick());
    set(FieldPath{"event.kind"}, "alert");
    set(FieldPath{"event.category"}, boost::json::value(boost::json::array{"web", "malware"}));
  }
  if (rng() % 5 == 0) set(FieldPath{"seccloud.verdict.reason"}, pick());
  if (rng() % 5 == 0) set(FieldPath{"error.message"}, pick());
  if (rng() % 6 == 0) set(FieldPath{"destination.port"}, static_cast<int64_t>(rng() % 65536));
  if (rng() % 6 == 0) set(FieldPath{"seccloud.ratio"}, static_cast<double>(rng()) / 3.0);
  if (rng() % 6 == 0) set(FieldPath{"seccloud.flag"}, rng() % 2 == 0);
  return e;
}

// FNV-1a, 64 bits: a fingerprint of many lines, compared with the one the previous writer made.
uint64_t Fnv1a(uint64_t h, std::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The bytes of every line must stay exactly what they were when this test was written (the
// writer of main at 635d8a9, before lines were built from fields escaped when set): the SOC, the
// spool and the tests of other services read them. The fingerprint covers proxy.access events
// with odd bytes in every request-derived field (every byte value, control characters, quotes,
// backslashes, ill-formed and well-formed UTF-8, long values) and random Set sequences that
// replace, nest and run paths through each other, each written by ToJsonLine and appended to a
// buffer that already holds text.
TEST(EventJsonTest, LinesAreByteIdenticalToThePreviousWriter) {
  // The same bytes whether the proxy.access fields are set through FieldPath or strings.
  for (const bool checked : {false, true}) {
    SCOPED_TRACE(checked ? "FieldPath" : "string paths");
    std::vector<std::string> odd = HostileStrings();
    odd.push_back("example.jp");
    odd.push_back("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0");
    odd.push_back(std::string(3000, 'a') + "\\x\"" + std::string(100, '\x1f'));
    odd.push_back("%E6%B4%A5 \xE6\xB4\xA5\xE5\xB8\x82 tab\there cr\rlf\n");
    odd.push_back("1234567\"");
    odd.push_back("12345678\\");
    odd.push_back("abcdefg\x7f\x80");
    std::mt19937 rng(635);
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t bytes = 0;
    std::string batch = "prefix\n";
    for (int i = 0; i < 2000; ++i) {
      const Event e = AccessEvent(rng, odd, checked);
      ASSERT_FALSE(e.error().has_value()) << e.error()->message;
      const std::string line = e.ToJsonLine();
      h = Fnv1a(h, line);
      bytes += line.size();
      e.AppendJsonLine(batch);
    }
    const std::vector<std::string> segs = {"a",        "b",   "event", "\xFF", "q\"",
                                           "\xC3\xA9", "x\n", "k\\",   "\x01"};
    for (int round = 0; round < 2000; ++round) {
      Event e;
      const int sets = 1 + static_cast<int>(rng() % 30);
      for (int s = 0; s < sets; ++s) {
        const std::string path = RandomPath(rng, segs);
        switch (rng() % 6) {
          case 0: {
            const std::string& head = segs[rng() % segs.size()];
            e.Set(path, head + odd[rng() % odd.size()].substr(0, 40));
            break;
          }
          case 1:
            e.Set(path, static_cast<int64_t>(rng()) - (int64_t{1} << 31));
            break;
          case 2:
            e.Set(path, static_cast<double>(rng()) / 7.0);
            break;
          case 3:
            e.Set(path, rng() % 2 == 0);
            break;
          case 4:
            e.Set(path, boost::json::value(boost::json::object{{"k\"", "v\x01"}, {"n", 1}}));
            break;
          default:
            e.Set(path, boost::json::value(boost::json::array{1, "\xFE", "\\"}));
            break;
        }
      }
      const std::string line = e.ToJsonLine();
      h = Fnv1a(h, line);
      bytes += line.size();
      e.AppendJsonLine(batch);
    }
    h = Fnv1a(h, batch);
    // A readable sample of the same contract.
    Event sample = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess, FixedTime);
    sample.Set("event.id", "id");
    sample.Set("url.full", "http://x/\"\\\x01\xFF\xE6\xB4\xA5");
    sample.Set("http.response.bytes", uint64_t{1024});
    sample.Set("a\"b.c", true);
    EXPECT_EQ(
        sample.ToJsonLine(),
        "{\"@timestamp\":\"2026-11-26T03:20:22.123Z\",\"event\":{\"dataset\":\"proxy.access\","
        "\"kind\":\"event\",\"action\":\"allowed\",\"outcome\":\"success\",\"id\":\"id\"},"
        "\"url\":{\"full\":\"http://x/\\\"\\\\\\u0001\xEF\xBF\xBD\xE6\xB4\xA5\"},"
        "\"http\":{\"response\":{\"bytes\":1024}},\"a\\\"b\":{\"c\":true}}\n");
    EXPECT_EQ(bytes, 6045331u) << "fingerprint " << std::hex << h;
    EXPECT_EQ(h, 0x23547ba76661b1a9u) << "bytes " << bytes;
  }
}

}  // namespace
}  // namespace seccloud
