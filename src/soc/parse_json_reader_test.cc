// ReadPlainJsonObject (parse_json_reader.cc) against Boost.JSON's parser (R18): whenever the
// reader takes a document, the object must be exactly boost::json::parse's — the same kinds
// (int64 is not uint64 is not double), values and member order — and everything it declines
// goes to Boost.JSON, whose errors stay what they were.
#include <gtest/gtest.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/text.h"
#include "soc/parse_internal.h"

namespace seccloud::soc::internal {
namespace {

namespace json = boost::json;

// Equal including kinds and member order (json::value's == ignores order and compares numbers
// across kinds).
bool Same(const json::value& a, const json::value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      auto i = x.begin();
      auto j = y.begin();
      for (; i != x.end(); ++i, ++j) {
        if (i->key() != j->key() || !Same(i->value(), j->value())) return false;
      }
      return true;
    }
    case json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t k = 0; k < x.size(); ++k) {
        if (!Same(x[k], y[k])) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

enum class Outcome { kRead, kDeclined };

// Runs both parsers on `text`; fails the test if the reader took a document Boost.JSON builds
// differently (or refuses). Returns what the reader did.
Outcome Compare(std::string_view text, int max_depth = kMaxParsedJsonDepth) {
  json::monotonic_resource arena;
  const json::storage_ptr sp(&arena);
  json::object fast(sp);
  // The reader's contract: valid UTF-8 only (its callers check, and take Boost.JSON otherwise).
  const bool read = IsValidUtf8(text) && ReadPlainJsonObject(text, sp, max_depth, &fast);
  json::parse_options opt;
  opt.max_depth = max_depth;
  boost::system::error_code ec;
  const json::value slow = json::parse(text, ec, {}, opt);
  if (read) {
    EXPECT_FALSE(ec) << "the reader took what Boost.JSON refuses (" << ec.message()
                     << "): " << text;
    EXPECT_TRUE(!ec && Same(slow, json::value(fast)))
        << "reader: " << json::serialize(fast) << "\nboost:  " << json::serialize(slow)
        << "\ntext:   " << text;
    EXPECT_EQ(fast.storage().get(), sp.get());
  }
  return read ? Outcome::kRead : Outcome::kDeclined;
}

TEST(JsonReaderTest, ReadsTheCommonShapes) {
  for (std::string_view text : {
           R"({})",
           R"( {"a":1} )",
           "\t{\"a\" : [ 1 , -2 , 0 , true , false , null , \"x\" , { } , [ ] ] }\r\n",
           R"({"@timestamp":"2026-10-02T00:00:23.663Z","event":{"dataset":"proxy.access",)"
           R"("category":["web","network"],"duration":654506866},"client.ip":"10.9.250.1"})",
           R"({"s":"C:\\Windows\\System32\\cmd.exe \"/c\" \/ \b\f\n\r\t"})",
           R"({"u":"\u00e9\u65E5\u672c \ud83d\ude00 \u0000 \u001f","k":"é日本"})",
           R"({"max":999999999999999999,"min":-999999999999999999,"z":0})",
           R"({"a short one":"0123456789abc","a long one":"0123456789abcdefghijklmnopqrstuvwxyz"})",
       }) {
    EXPECT_EQ(Compare(text), Outcome::kRead) << text;
  }
}

TEST(JsonReaderTest, DeclinesWhatItDoesNotBuildLikeBoost) {
  for (std::string_view text : {
           // Not an object, not JSON, or more than one value.
           "",
           " ",
           "[]",
           "\"x\"",
           "1",
           "null",
           "{",
           "{\"a\"",
           "{\"a\":",
           "{\"a\":1",
           "{\"a\":1,}",
           "{,}",
           "{\"a\" 1}",
           "{a:1}",
           "{'a':1}",
           "{\"a\":1}{}",
           "{\"a\":1} x",
           "{\"a\":[1,]}",
           "{\"a\":[1 2]}",
           "{\"a\":tru}",
           "{\"a\":nul}",
           "{\"a\":True}",
           "{\"a\":1}\f",
           "{/*c*/\"a\":1}",
           "{\"a\":1}//",
           // Numbers other than plain integers of up to 18 digits.
           "{\"n\":1.5}",
           "{\"n\":1e5}",
           "{\"n\":1E+5}",
           "{\"n\":-0}",
           "{\"n\":-0.0}",
           "{\"n\":01}",
           "{\"n\":+1}",
           "{\"n\":.5}",
           "{\"n\":1.}",
           "{\"n\":-}",
           "{\"n\":0x10}",
           "{\"n\":1234567890123456789}",
           "{\"n\":18446744073709551615}",
           "{\"n\":18446744073709551616}",
           "{\"n\":-9223372036854775808}",
           "{\"n\":99999999999999999999999}",
           // Duplicate and escaped keys.
           "{\"a\":1,\"a\":2}",
           "{\"a\":1,\"b\":{},\"a\":[3]}",
           "{\"\\u0061\":1}",
           "{\"a\\\"b\":1}",
           // Strings Boost.JSON refuses or must decide.
           "{\"s\":\"\\ud800\"}",
           "{\"s\":\"\\udc00\"}",
           "{\"s\":\"\\ud800\\u0041\"}",
           "{\"s\":\"\\ud800x\"}",
           "{\"s\":\"\\x41\"}",
           "{\"s\":\"\\u12\"}",
           "{\"s\":\"\\u12G4\"}",
           "{\"s\":\"a\tb\"}",
           "{\"s\":\"a\nb\"}",
           "{\"s\":\"\x01\"}",
           "{\"s\":\"abc",
           "{\"s\":\"abc\\",
           "{\"s\":\"abc\\\"}",
       }) {
    EXPECT_EQ(Compare(text), Outcome::kDeclined) << text;
  }
}

TEST(JsonReaderTest, DuplicateKeysInLargeObjectsAreDeclined) {
  std::string text = "{";
  for (int i = 0; i < 40; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_EQ(Compare(text + "\"k40\":40}"), Outcome::kRead);  // past Boost's small-object size
  EXPECT_EQ(Compare(text + "\"k7\":40}"), Outcome::kDeclined);
}

TEST(JsonReaderTest, NestingNearTheLimitIsLeftToBoost) {
  for (int levels : {1, 2, 10, 62, 63, 64, 65, 200}) {
    std::string objects, arrays = "{\"a\":";
    for (int i = 0; i < levels; ++i) objects += "{\"a\":";
    objects += "1";
    for (int i = 0; i < levels; ++i) objects += "}";
    for (int i = 1; i < levels; ++i) arrays += "[";
    arrays += "1";
    for (int i = 1; i < levels; ++i) arrays += "]";
    arrays += "}";
    const Outcome expected = levels < kMaxParsedJsonDepth ? Outcome::kRead : Outcome::kDeclined;
    EXPECT_EQ(Compare(objects), expected) << levels;
    EXPECT_EQ(Compare(arrays), expected) << levels;
    EXPECT_EQ(Compare(objects, 8), levels < 8 ? Outcome::kRead : Outcome::kDeclined) << levels;
  }
}

// Random documents in JSON's corners (and just past them): whatever the reader takes must be
// Boost.JSON's object exactly.
class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : rng_(seed) {}

  std::string Document() {
    std::string out;
    Space(out);
    if (Pick(40) == 0) {
      Value(out, 0);
    } else {
      Object(out, 0);
    }
    Space(out);
    if (Pick(30) == 0) out += Pick(2) ? "x" : "{}";
    if (Pick(30) == 0 && !out.empty()) out.resize(Pick(static_cast<uint32_t>(out.size())));
    return out;
  }

 private:
  uint32_t Pick(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }

  void Space(std::string& out) {
    static constexpr const char* kSpaces[] = {"", "", "", "", " ", "\t", "\r\n", "  ", "\f"};
    out += kSpaces[Pick(Pick(50) == 0 ? 9 : 8)];
  }

  void Key(std::string& out) {
    static constexpr const char* kKeys[] = {
        "a", "b",        "event", "source.ip",
        "",  "k\\u0041", "日本",  "long key with spaces and more than 14"};
    out += '"';
    out += kKeys[Pick(20) == 0 ? Pick(8) : Pick(4)];
    if (Pick(4) == 0) out += std::to_string(Pick(30));
    out += '"';
  }

  void String(std::string& out) {
    static constexpr const char* kPieces[] = {
        "a",
        "hello world",
        "0123456789abcdef",
        "\\\"",
        "\\\\",
        "\\/",
        "\\n",
        "\\t",
        "\\b\\f\\r",
        "é",
        "日本語",
        "\\u00e9",
        "\\u65E5",
        "\\ud83d\\ude00",
        "\\u0000",
        "\\u007F",
        "\x7f",
        "\\ud800",
        "\\udc00",
        "\\ud800\\u0041",
        "\\x",
        "\t",
        "\x01",
        "\xff",
        "\xed\xa0\x80",
        "\xc0\x80",
        "\xf4\x90\x80\x80",
        "\\u12",
        "\\uZZZZ",
    };
    out += '"';
    const uint32_t n = Pick(6);
    for (uint32_t i = 0; i < n; ++i) {
      out += kPieces[Pick(10) == 0 ? Pick(29) : Pick(17)];
    }
    out += '"';
  }

  void Number(std::string& out) {
    static constexpr const char* kNumbers[] = {"0",
                                               "7",
                                               "-12",
                                               "654506866",
                                               "999999999999999999",
                                               "-999999999999999999",
                                               "1.5",
                                               "-0.0",
                                               "1e5",
                                               "2E-3",
                                               "1234567890123456789",
                                               "18446744073709551615",
                                               "18446744073709551616",
                                               "-9223372036854775808",
                                               "-9223372036854775809",
                                               "-0",
                                               "01",
                                               "+1",
                                               ".5",
                                               "1.",
                                               "-",
                                               "1e",
                                               "0x1f",
                                               "1.7976931348623157e309"};
    out += kNumbers[Pick(8) == 0 ? Pick(24) : Pick(6)];
  }

  void Value(std::string& out, int depth) {
    switch (Pick(depth > 70 ? 5 : 8)) {
      case 0:
      case 1:
        return String(out);
      case 2:
        return Number(out);
      case 3: {
        static constexpr const char* kWords[] = {"true", "false", "null", "tru", "nul", "True"};
        out += kWords[Pick(20) == 0 ? Pick(6) : Pick(3)];
        return;
      }
      case 4:
        return String(out);
      case 5:
      case 6:
        return Object(out, depth + 1);
      default:
        return Array(out, depth + 1);
    }
  }

  void Object(std::string& out, int depth) {
    out += '{';
    // Now and then a long chain, to cross the depth limit.
    const uint32_t n = depth > 3 && Pick(3) != 0 ? 1 : Pick(Pick(10) == 0 ? 40 : 6);
    for (uint32_t i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      Space(out);
      Key(out);
      Space(out);
      out += ':';
      Space(out);
      Value(out, depth);
      Space(out);
    }
    if (n > 0 && Pick(40) == 0) out += ',';
    out += '}';
  }

  void Array(std::string& out, int depth) {
    out += '[';
    const uint32_t n = depth > 3 && Pick(3) != 0 ? 1 : Pick(6);
    for (uint32_t i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      Space(out);
      Value(out, depth);
      Space(out);
    }
    if (n > 0 && Pick(40) == 0) out += ',';
    out += ']';
  }

  std::mt19937 rng_;
};

TEST(JsonReaderTest, AgreesWithBoostOnRandomDocuments) {
  RandomJson gen(20261127);
  size_t read = 0, declined = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string text = gen.Document();
    (Compare(text) == Outcome::kRead ? read : declined)++;
    if (HasFailure()) break;
  }
  // Both sides exercised: the generator is tuned so neither dominates.
  EXPECT_GT(read, 2000u);
  EXPECT_GT(declined, 2000u);
}

TEST(JsonReaderTest, AgreesWithBoostOnMutatedLines) {
  const std::string lines[] = {
      R"({"@timestamp":"2026-10-02T00:00:23.663Z","event":{"dataset":"proxy.access","kind":"event","category":["web","network"],"duration":654506866},"client.ip":"10.9.250.1","http":{"request":{"method":"GET","bytes":1923}}})",
      R"({"timestamp":"2026-10-02T00:01:33.041287+0000","flow_id":823958375087280,"event_type":"dns","src_ip":"10.1.22.150","dns":{"type":"query","id":2216,"rrname":"x.co.jp"}})",
      R"({"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"Keywords":"0x8020000000000000"},"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c \"echo \u00e9\""}}})",
  };
  static constexpr char kBytes[] = "{}[]\":,\\ 0123456789-+.eEtfnu\x01\x7f\xc3\xa9\xff";
  std::mt19937 rng(7);
  size_t read = 0, declined = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string text = lines[rng() % 3];
    for (uint32_t m = 0, n = 1 + rng() % 3; m < n; ++m) {
      const size_t at = rng() % text.size();
      const char c = kBytes[rng() % (sizeof kBytes - 1)];
      switch (rng() % 3) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(at, 1, c);
          break;
        default:
          text.erase(at, 1);
      }
    }
    (Compare(text) == Outcome::kRead ? read : declined)++;
    if (HasFailure()) break;
  }
  EXPECT_GT(read, 1000u);
  EXPECT_GT(declined, 1000u);
}

}  // namespace
}  // namespace seccloud::soc::internal
