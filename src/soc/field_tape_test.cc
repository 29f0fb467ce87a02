#include "soc/field_tape.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "soc/parse_internal.h"
#include "soc/record.h"

namespace seccloud::soc {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

// Kinds, key order and doubles bit for bit (value's operator== says 1 == 1.0 and 0.0 == -0.0).
bool SameValue(const json::value& a, const json::value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
        if (i->key() != j->key() || !SameValue(i->value(), j->value())) return false;
      }
      return true;
    }
    case json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!SameValue(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::double_: {
      const double x = a.get_double(), y = b.get_double();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    default:
      return a == b;
  }
}

// Boost's tree for `line` with ParseJsonObject's options, before its UTF-8 sanitising (the tape
// keeps bytes as they are; sanitising is the caller's, as today).
bool BoostParse(std::string_view line, json::value* out) {
  json::parse_options opt;
  opt.max_depth = kMaxParsedJsonDepth;
  opt.allow_invalid_utf8 = true;
  json::stream_parser p({}, opt);
  json::error_code ec;
  const size_t used = p.write_some(line.data(), line.size(), ec);
  if (ec || used != line.size()) return false;
  p.finish(ec);
  if (ec) return false;
  *out = p.release();
  return out->is_object();
}

// One line through both readers: the same verdict, the same error text, the same value.
struct Diff {
  size_t lines = 0, accepted = 0;
  std::vector<std::string> failures;

  void Check(std::string_view line, FieldTape& tape) {
    ++lines;
    std::string tape_error, boost_error;
    const bool tape_ok = ReadJsonTape(line, &tape, &tape_error);
    // A fresh tape (no capacity from longer lines before) must give the same.
    {
      FieldTape fresh;
      std::string fresh_error;
      const bool fresh_ok = ReadJsonTape(line, &fresh, &fresh_error);
      if (fresh_ok != tape_ok || fresh_error != tape_error ||
          (fresh_ok && !SameValue(TapeToValue(fresh, 0, {}), TapeToValue(tape, 0, {})))) {
        if (failures.size() < 20) {
          failures.push_back("fresh tape differs (" + fresh_error + ") for line " + Show(line));
        }
      }
    }
    json::object obj;
    const bool boost_ok = internal::ParseJsonObject(line, {}, &obj, &boost_error);
    auto fail = [&](std::string what) {
      if (failures.size() < 20) failures.push_back(what + " for line " + Show(line));
    };
    if (tape_ok != boost_ok) {
      return fail("verdict tape=" + std::to_string(tape_ok) + " (" + tape_error +
                  ") boost=" + std::to_string(boost_ok) + " (" + boost_error + ")");
    }
    if (!tape_ok) {
      if (tape_error != boost_error) fail("error tape=" + tape_error + " boost=" + boost_error);
      if (!tape.empty()) fail("tape not cleared after an error");
      return;
    }
    ++accepted;
    json::value want;
    if (!BoostParse(line, &want)) return fail("BoostParse refused what ParseJsonObject took");
    const json::value got = TapeToValue(tape, 0, {});
    if (!SameValue(got, want)) {
      return fail("value tape=" + json::serialize(got) + " boost=" + json::serialize(want));
    }
    // Every subtree end is consistent: the root spans the tape.
    if (tape[0].end != tape.size()) fail("root end");
  }

  static std::string Show(std::string_view s) {
    std::string out;
    for (unsigned char c : s.substr(0, 300)) {
      if (c >= 0x20 && c < 0x7f) {
        out += static_cast<char>(c);
      } else {
        char b[8];
        std::snprintf(b, sizeof b, "\\x%02x", c);
        out += b;
      }
    }
    return out;
  }
};

std::vector<std::string> Lines(const fs::path& path) {
  std::vector<std::string> out;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::string WholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Which node a lookup found, as keys from the root, so that a wrong pick between duplicates with
// equal values is seen. On the tape: the keys down to `target`, false unless every step is the
// last member of its object with that key (the one whose value Boost's object keeps).
bool TapeKeys(const FieldTape& tape, size_t target, std::vector<std::string>* keys) {
  bool last = true;
  for (size_t at = 0; at != target;) {
    size_t child = tape[at].end;
    for (size_t i = at + 1; i < tape[at].end; i = tape[i].end) {
      if (i <= target && target < tape[i].end) child = i;
    }
    if (child == tape[at].end || tape[at].kind != TapeKind::kObject) return false;
    keys->emplace_back(tape[child].key());
    for (size_t i = tape[child].end; i < tape[at].end; i = tape[i].end) {
      if (tape[i].key() == tape[child].key()) last = false;
    }
    at = child;
  }
  return last;
}

// In Boost's tree: the keys down to the value at `want` (objects only, as FindField descends).
bool BoostKeys(const json::object& obj, const json::value* want, std::vector<std::string>* keys) {
  for (const auto& kv : obj) {
    keys->emplace_back(kv.key());
    if (&kv.value() == want) return true;
    if (kv.value().is_object() && BoostKeys(kv.value().get_object(), want, keys)) return true;
    keys->pop_back();
  }
  return false;
}

// Byte lines that put `b` (a control byte, or the first byte that is not) inside a 16-byte block
// of the string scan and in its tail, alone and before and after an escape.
std::vector<std::string> ControlByteShapes() {
  std::vector<std::string> v;
  for (const char b : {'\x1e', '\x1f', '\x20', '\x00', '\x7f'}) {
    for (const std::string before : {"", "\\n"}) {
      for (const std::string after : {"", "\\n", "\\u0041"}) {
        for (int pad = 0; pad <= 33; ++pad) {
          for (int tail : {0, 1, 7, 15, 16, 17, 40}) {
            const std::string body =
                before + std::string(pad, 'y') + b + after + std::string(tail, 'z');
            v.push_back("{\"a\":\"" + body + "\"}");
            v.push_back("{\"" + body + "\":1}");
          }
        }
      }
    }
  }
  return v;
}

// Escapes straight after other escapes up to Boost's 4,096- and 8,192-byte decode buffer edges:
// `\n` k times (2k bytes) then each \u shape, so the second escape starts on either side of
// the edge.
std::vector<std::string> EscapeEdgeShapes() {
  std::vector<std::string> v;
  std::vector<int> ks;
  for (int k = 2030; k <= 2052; ++k) ks.push_back(k);
  for (int k = 4078; k <= 4100; ++k) ks.push_back(k);
  for (const int k : ks) {
    std::string run;
    for (int i = 0; i < k; ++i) run += "\\n";
    for (const char* esc : {"\\ud83d\\ude00", "\\ude00", "\\ud83dx", "\\ud83d\\u0041", "\\u12G4",
                            "\\u00e9", "\\ud83d", "\\ud83d\\", "\\ud83d\\u", "\\ud83d\\n", "\\u",
                            "\\u0", "\\n", "\\x", "\x1f"}) {
      const std::string head = "{\"a\":\"" + run + esc;
      v.push_back(head + "\"}");
      v.push_back(head + "\",\"b\":1}");
      v.push_back(head);
      v.push_back(head + "z\x1f\"}");
    }
  }
  return v;
}

// Hand-written shapes: each one a corner of Boost's grammar or number rules.
std::vector<std::string> Corners() {
  std::vector<std::string> v = {
      "{}",
      " {} ",
      "\t{}\r\n",
      "{",
      "}",
      "",
      "   ",
      "[]",
      "[1]",
      "\"s\"",
      "1",
      "1 ",
      "-",
      "tru",
      "null",
      "{} x",
      "{}{}",
      "{\"a\":1}",
      "{\"a\":1,}",
      "{,}",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\" : [1 , 2 ,3] }",
      "{\"a\":[1,]}",
      "{\"a\":[,1]}",
      "{\"a\":tru}",
      "{\"a\":nul}",
      "{\"a\":fals}",
      "{\"a\":falsy}",
      "{\"a\":nulll}",
      "{\"a\":True}",
      "{\"a\":-0}",
      "{\"a\":-0.0}",
      "{\"a\":-0e0}",
      "{\"a\":0}",
      "{\"a\":01}",
      "{\"a\":-01}",
      "{\"a\":1.}",
      "{\"a\":1.e5}",
      "{\"a\":.5}",
      "{\"a\":1e}",
      "{\"a\":1e+}",
      "{\"a\":1e-}",
      "{\"a\":1E5}",
      "{\"a\":1e400}",
      "{\"a\":-1e400}",
      "{\"a\":1e-400}",
      "{\"a\":1e2147483647}",
      "{\"a\":1e2147483648}",
      "{\"a\":1e-2147483648}",
      "{\"a\":+1}",
      "{\"a\":--1}",
      "{\"a\":9223372036854775807}",
      "{\"a\":9223372036854775808}",
      "{\"a\":-9223372036854775808}",
      "{\"a\":-9223372036854775809}",
      "{\"a\":18446744073709551615}",
      "{\"a\":18446744073709551616}",
      "{\"a\":18446744073709551614}",
      "{\"a\":9223372036854775806}",
      "{\"a\":0.1}",
      "{\"a\":0.30000000000000004}",
      "{\"a\":1.7976931348623157e308}",
      "{\"a\":2.2250738585072014e-308}",
      "{\"a\":4.9e-324}",
      "{\"a\":123456789012345678901234}",
      "{\"a\":1.23456789012345678901234}",
      "{\"a\":12345678901234567.8}",
      "{\"a\":9007199254740993}",
      "{\"a\":9007199254740993.0}",
      "{\"a\":0.000001}",
      "{\"a\":\"\\u00e9\"}",
      "{\"a\":\"\\ud83d\\ude00\"}",
      "{\"a\":\"\\ud83d\"}",
      "{\"a\":\"\\ude00\"}",
      "{\"a\":\"\\ud83dx\"}",
      "{\"a\":\"\\ud83d\\u0041\"}",
      "{\"a\":\"\\ud83d\\n\"}",
      "{\"a\":\"\\uZZZZ\"}",
      "{\"a\":\"\\u12\"}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
      "{\"a\":\"tab\there\"}",
      "{\"a\":\"\xff\xfe\"}",
      "{\"a\":\"\xc3\"}",
      "{\"\xe9\":1}",
      "\xef\xbb\xbf{}",
      "{\"a\":1,\"a\":2}",
      "{\"a\":{\"b\":1},\"a\":[2]}",
      "{\"\":1}",
      "{\"a.b\":1,\"a\":{\"b\":2}}",
      "{\"a\":[[[[]]]]}",
      "[[[[[[[[[",
      "{\"a\":[[[[[[[[",
      "[0,0,0,0,0,0",
      "{\"a\":{\"b\":{\"c\":{",
      "{\"a\":\"\\u0000\"}",
      "{\"a\":1}\n",
      "{\"a\":1}\f",
  };
  v.push_back(std::string("{\"a\":\"nul\0\"}", 12));  // a NUL inside a string
  v.push_back(std::string("{\"a\":1}\0", 8));         // a NUL after the value
  v.push_back(std::string("{\"a\":1,\0\"b\":2}", 14));
  for (int depth : {63, 64, 65, 66}) {
    v.push_back(std::string(depth, '[') + std::string(depth, ']'));
    std::string obj;
    for (int i = 0; i < depth; ++i) obj += "{\"k\":";
    obj += "1";
    for (int i = 0; i < depth; ++i) obj += "}";
    v.push_back(obj);
    v.push_back("{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}");
  }
  v.push_back("{\"a\":" + std::string(400, '7') + "}");
  v.push_back("{\"a\":-" + std::string(400, '7') + "}");
  v.push_back("{\"a\":0." + std::string(400, '3') + "}");
  v.push_back("{\"a\":" + std::string(400, '9') + "." + std::string(400, '9') + "e-300}");
  // Escapes around Boost's 4,096-byte decode buffer and its fast/slow \u paths.
  for (int pad : {4080, 4084, 4085, 4086, 4087, 4088, 4090, 4095, 4096, 8180, 8185}) {
    for (const char* esc :
         {"\\ud83d\\ude00", "\\ude00", "\\ud83dx", "\\ud83d\\u0041", "\\u12G4", "\\n"}) {
      v.push_back("{\"a\":\"\\n" + std::string(pad, 'x') + esc + "\"}");
      v.push_back("{\"a\":\"\\n" + std::string(pad, 'x') + esc + "\",\"b\":1}");
    }
  }
  return v;
}

// Short numbers and literals near the end of the line take Boost's byte-at-a-time paths; long
// ones (33+ bytes left) its 16-digit fast path: both, for each number shape.
std::vector<std::string> NumberShapes() {
  const std::vector<std::string> nums = {"0",
                                         "-0",
                                         "1",
                                         "-1",
                                         "12.5",
                                         "-12.5e3",
                                         "1.0e-5",
                                         "123456789012345678",
                                         "1234567890123456789",
                                         "12345678901234567890",
                                         "1.2345678901234567",
                                         "12.345678901234567",
                                         "1.23456789012345678",
                                         "12345678.123456789012",
                                         "0.12345678901234567890",
                                         "9007199254740991.5",
                                         "9.007199254740993",
                                         "99999999999999999999.5",
                                         "1e308",
                                         "1e309",
                                         "2e-308",
                                         "5e-324",
                                         "1.5e-323",
                                         "17976931348623157e292",
                                         "-18446744073709551616",
                                         "1.",
                                         "1.e1",
                                         "1e+",
                                         "-",
                                         "-a",
                                         "00",
                                         "0.0.0",
                                         "1ee5",
                                         "1e5.5"};
  std::vector<std::string> v;
  // 18 significant digits split so that Boost's 16-digit fast path keeps all 18 and its
  // byte-at-a-time path 17: different doubles. Each one with 0..40 bytes after it, so that the
  // 33 bytes the fast path needs are crossed exactly.
  for (const char* n :
       {"27.9141777631706690", "744.415868344978690", "8868.36625851781286", "11908.4341925412248",
        "934879.341483960306", "7749888.40235925634", "55479889.5143972981", "730724453.619839145",
        "9978579474.95364052", "95072855482.1330361", "706741714075.110045", "4047989028898.22254",
        "45216795956288.8787", "127481287182397.690"}) {
    for (const std::string sign : {"", "-"}) {
      for (int pad = 0; pad <= 40; ++pad) {
        v.push_back("{\"a\":" + sign + n + ",\"p\":\"" + std::string(pad, 'p') + "\"}");
      }
    }
  }
  for (const auto& n : nums) {
    v.push_back("{\"a\":" + n + "}");
    v.push_back("{\"a\":" + n + ",\"pad\":\"" + std::string(40, 'p') + "\"}");
    v.push_back("{\"a\":[" + n + "," + n + "]}");
    v.push_back("{\"a\":" + n);
  }
  return v;
}

// Deterministic mutations of a line: truncations, byte flips, inserted and deleted bytes.
void Mutate(const std::string& line, std::mt19937_64& rng, std::vector<std::string>* out) {
  static const char* kInserts[] = {"\"", "\\",   "{",       "}",       "[", "]", ",",
                                   ":",  "\\u",  "\\ud800", "\\udc00", "-", "0", "e",
                                   ".",  "\x80", "\xff",    "\x01",    " "};
  if (line.empty()) return;
  auto pos = [&] { return static_cast<size_t>(rng() % line.size()); };
  out->push_back(line.substr(0, pos()));
  std::string s = line;
  s[pos()] ^= static_cast<char>(1u << (rng() % 8));
  out->push_back(s);
  s = line;
  s.insert(pos(), kInserts[rng() % std::size(kInserts)]);
  out->push_back(s);
  s = line;
  s.erase(pos(), 1 + rng() % 4);
  out->push_back(s);
}

TEST(FieldTapeTest, CornersMatchBoost) {
  FieldTape tape;
  Diff diff;
  for (const auto& line : Corners()) diff.Check(line, tape);
  for (const auto& line : NumberShapes()) diff.Check(line, tape);
  for (const auto& f : diff.failures) ADD_FAILURE() << f;
  EXPECT_GT(diff.accepted, 50u);
  std::printf("corners: %zu lines, %zu accepted\n", diff.lines, diff.accepted);
}

TEST(FieldTapeTest, MutatedCornersMatchBoost) {
  FieldTape tape;
  Diff diff;
  std::mt19937_64 rng(11);
  std::vector<std::string> lines;
  for (int round = 0; round < 20; ++round) {
    for (const auto& line : Corners()) Mutate(line, rng, &lines);
    for (const auto& line : NumberShapes()) Mutate(line, rng, &lines);
  }
  for (const auto& line : lines) diff.Check(line, tape);
  for (const auto& f : diff.failures) ADD_FAILURE() << f;
  EXPECT_GT(lines.size(), 10000u);
  std::printf("mutated corners: %zu lines, %zu accepted\n", diff.lines, diff.accepted);
}

TEST(FieldTapeTest, ControlBytesMatchBoost) {
  FieldTape tape;
  Diff diff;
  for (const auto& line : ControlByteShapes()) diff.Check(line, tape);
  for (const auto& f : diff.failures) ADD_FAILURE() << f;
  EXPECT_GT(diff.accepted, 1000u);  // the 0x20 and 0x7f lines
  EXPECT_LT(diff.accepted, diff.lines);
}

TEST(FieldTapeTest, EscapesAtTheDecodeBufferEdgesMatchBoost) {
  FieldTape tape;
  Diff diff;
  for (const auto& line : EscapeEdgeShapes()) diff.Check(line, tape);
  for (const auto& f : diff.failures) ADD_FAILURE() << f;
  EXPECT_GT(diff.accepted, 100u);
  EXPECT_LT(diff.accepted, diff.lines);
}

// Every line of the bench corpus and of the Sigma regression data, as they are and mutated.
TEST(FieldTapeTest, CorpusMatchesBoost) {
  std::vector<fs::path> files;
  // bench/loggen.py's set, where the bench scripts put it (SOCBENCH_DATA overrides); the test
  // skips the files it does not find.
  const char* env = std::getenv("SOCBENCH_DATA");
  const fs::path bench = env != nullptr ? env : "/tmp/socbench-small";
  for (const char* name : {"seccloud-dns.ndjson", "seccloud-proxy.ndjson", "seccloud-scan.ndjson",
                           "eve.json", "windows.json"}) {
    if (fs::exists(bench / name)) files.push_back(bench / name);
  }
  const fs::path sigma = fs::path(SECCLOUD_SOURCE_DIR) / "../shared/data/sigma/regression_data";
  std::vector<fs::path> documents;
  if (fs::exists(sigma)) {
    for (const auto& e : fs::recursive_directory_iterator(sigma)) {
      if (e.path().extension() == ".json") documents.push_back(e.path());
    }
  }
  if (files.empty() && documents.empty()) GTEST_SKIP() << "no corpus on this machine";
  FieldTape tape;
  Diff diff;
  std::mt19937_64 rng(17);
  std::vector<std::string> mutated;
  for (const auto& f : files) {
    const auto lines = Lines(f);
    for (size_t i = 0; i < lines.size(); ++i) {
      diff.Check(lines[i], tape);
      if (i % 50 == 0) Mutate(lines[i], rng, &mutated);
    }
  }
  for (const auto& d : documents) {
    const std::string text = WholeFile(d);
    diff.Check(text, tape);  // a whole pretty-printed document is one JSON value
    Mutate(text, rng, &mutated);
    for (const auto& line : Lines(d)) diff.Check(line, tape);
  }
  for (const auto& line : mutated) diff.Check(line, tape);
  for (const auto& f : diff.failures) ADD_FAILURE() << f;
  std::printf("corpus: %zu lines, %zu accepted, %zu mutated\n", diff.lines, diff.accepted,
              mutated.size());
}

// ReadObject's compact steps (':' then the value, ',' then the next key, each taken on one bounds
// test, anything else left to the general steps) against Boost around every ':' and ',' of three
// lines: the byte after each replaced by whitespace, a control byte, a quote, a brace, a bracket,
// a letter, another separator or nothing, the same inserted after and before the separator, and
// every prefix of the lines; each read from a heap buffer of exactly its size, so that a read past
// the end is an ASan report in the debug build.
TEST(FieldTapeTest, CompactSeparatorsMatchBoost) {
  const std::vector<std::string> seeds = {
      R"({"a":"b","c":1,"d":{"e":"f","g":[1,"h",{"i":"j"}]},"k":true,"l":null,"m":-2.5e3})",
      R"({"@timestamp":"2026-10-02T00:00:23.663Z","event":{"dataset":"proxy.access",)"
      R"("category":["web","network"]},"client.ip":"10.9.250.1","destination":{"port":443}})",
      R"({"":"","a":{},"b":[],"c":"x\"y","d":"\u00e9","e":[[],{}],"f":{"g":{}}})",
  };
  std::vector<std::string> lines;
  for (const std::string& s : seeds) {
    for (size_t n = 0; n <= s.size(); ++n) lines.push_back(s.substr(0, n));
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != ':' && s[i] != ',') continue;
      for (const char* r :
           {" ", "\t", "\n", "\r", "\x01", "\"", "}", "]", "{", "[", "x", "1", ",", ":", ""}) {
        std::string replaced = s;
        replaced.replace(i + 1, 1, r);
        lines.push_back(replaced);
        std::string after = s;
        after.insert(i + 1, r);
        lines.push_back(after);
        std::string before = s;
        before.insert(i, r);
        lines.push_back(before);
      }
    }
  }
  FieldTape tape;
  Diff diff;
  for (const std::string& line : lines) {
    const std::unique_ptr<char[]> exact(new char[line.size()]);
    std::memcpy(exact.get(), line.data(), line.size());
    diff.Check(std::string_view(exact.get(), line.size()), tape);
  }
  for (const auto& f : diff.failures) ADD_FAILURE() << f;
  EXPECT_GT(diff.accepted, 300u);
  EXPECT_GT(diff.lines - diff.accepted, 1000u);
}

// The 16-digit fast path's integer part (LeadingDigits: 8 digits a load) against Boost: integers
// of 1 to 22 digits, each digit value at each place (the digit d at place i, the others random),
// plain, negative, with a fraction and with an exponent, followed by each byte class a number can
// end at, with 40 bytes of line after it (the fast path) and at the line's end (Boost's
// byte-at-a-time path).
TEST(FieldTapeTest, IntegerPartsOfEveryLengthMatchBoost) {
  std::mt19937_64 rng(20);
  FieldTape tape;
  Diff diff;
  for (int len = 1; len <= 22; ++len) {
    for (int place = 0; place < len; ++place) {
      for (char d = '0'; d <= '9'; ++d) {
        std::string digits(static_cast<size_t>(len), '0');
        for (char& c : digits) c = static_cast<char>('0' + rng() % 10);
        if (digits[0] == '0' && len > 1) digits[0] = '1';
        digits[static_cast<size_t>(place)] = d;
        for (const char* sign : {"", "-"}) {
          for (const char* tail : {"", ".5", "e3", "/", ":", " ", "x"}) {
            const std::string num = sign + digits + tail;
            diff.Check("{\"n\":" + num + ",\"pad\":\"" + std::string(40, 'p') + "\"}", tape);
            diff.Check("{\"n\":" + num + "}", tape);
            diff.Check("[" + num + "]", tape);
          }
        }
      }
    }
  }
  for (const auto& f : diff.failures) ADD_FAILURE() << f;
  EXPECT_GT(diff.accepted, 20000u);
  EXPECT_LT(diff.accepted, diff.lines);
}

TEST(FieldTapeTest, NodesAreFlatPreOrder) {
  FieldTape tape;
  std::string error;
  ASSERT_TRUE(ReadJsonTape(R"({"a":{"b":[1,"x\n"],"c":true},"d":null})", &tape, &error)) << error;
  ASSERT_EQ(tape.size(), 7u);
  EXPECT_EQ(tape[0].kind, TapeKind::kObject);
  EXPECT_EQ(tape[0].count, 2u);
  EXPECT_EQ(tape[0].end, 7u);
  EXPECT_EQ(tape[1].key(), "a");
  EXPECT_EQ(tape[1].count, 2u);
  EXPECT_EQ(tape[1].end, 6u);  // skips "b", its two elements and "c"
  EXPECT_EQ(tape[2].key(), "b");
  EXPECT_EQ(tape[2].kind, TapeKind::kArray);
  EXPECT_EQ(tape[3].i64, 1);
  EXPECT_EQ(tape[4].str(), "x\n");
  EXPECT_EQ(tape.decoded_bytes(), 2u);
  EXPECT_EQ(tape[5].key(), "c");
  EXPECT_TRUE(tape[5].boolean);
  EXPECT_EQ(tape[6].key(), "d");
  EXPECT_EQ(tape[6].kind, TapeKind::kNull);
  // A string without escapes is a view into the line itself.
  const std::string line = R"({"k":"plain"})";
  ASSERT_TRUE(ReadJsonTape(line, &tape, &error));
  EXPECT_EQ(tape[1].str().data(), line.data() + 6);
  EXPECT_EQ(tape.decoded_bytes(), 0u);
}

TEST(FieldTapeTest, ReuseKeepsCapacity) {
  FieldTape tape;
  std::string error;
  const std::string big = R"({"a":[1,2,3,4,5,6,7,8,9,10],"b":"\tescaped\t"})";
  ASSERT_TRUE(ReadJsonTape(big, &tape, &error));
  const TapeNode* nodes = tape.data();
  ASSERT_TRUE(ReadJsonTape(R"({"c":"\n"})", &tape, &error));
  EXPECT_EQ(tape.data(), nodes);  // no new node array for a shorter line
  EXPECT_EQ(tape.size(), 2u);
}

TEST(FieldTapeTest, LimitsHavePreciseErrors) {
  std::string error;
  FieldTape few({.max_depth = 2, .max_nodes = 3, .max_decoded_bytes = 4});
  EXPECT_FALSE(ReadJsonTape(R"({"a":{"b":{}}})", &few, &error));
  EXPECT_EQ(error, "JSON nested deeper than 2 levels at byte 10");
  EXPECT_FALSE(ReadJsonTape(R"({"a":1,"b":2,"c":3})", &few, &error));
  EXPECT_EQ(error, "JSON has more than 3 values at byte 17");
  EXPECT_TRUE(few.empty());
  EXPECT_TRUE(ReadJsonTape(R"({"a":"\n\n\n\n"})", &few, &error)) << error;
  EXPECT_FALSE(ReadJsonTape(R"({"a":"\n\n\n\n\n"})", &few, &error));
  EXPECT_EQ(error, "JSON strings decode to more than 4 bytes at byte 5");
}

TEST(FieldTapeTest, LimitsOutsideTheirRangeAreRefused) {
  auto make = [](FieldTape::Limits limits) { FieldTape t(limits); };
  for (const int depth : {INT_MIN, -1, 0, kMaxParsedJsonDepth + 1, 1 << 20, INT_MAX}) {
    EXPECT_THROW(make({.max_depth = depth}), std::invalid_argument) << depth;
  }
  EXPECT_THROW(make({.max_nodes = 0}), std::invalid_argument);
  EXPECT_THROW(make({.max_nodes = size_t{UINT32_MAX} + 1}), std::invalid_argument);
  // The range's ends are taken, and stop 1 MiB of '[' at their depth (no recursion past it).
  const std::string deep(1 << 20, '[');
  for (const int depth : {1, kMaxParsedJsonDepth}) {
    FieldTape tape({.max_depth = depth});
    std::string error;
    EXPECT_FALSE(ReadJsonTape(deep, &tape, &error));
    EXPECT_EQ(error, "JSON nested deeper than " + std::to_string(depth) + " levels at byte " +
                         std::to_string(depth));
  }
  FieldTape one({.max_nodes = 1});
  std::string error;
  EXPECT_TRUE(ReadJsonTape("{}", &one, &error)) << error;
  EXPECT_FALSE(ReadJsonTape("{\"a\":1}", &one, &error));
  EXPECT_EQ(error, "JSON has more than 1 values at byte 5");
}

TEST(FieldTapeTest, ShrinkToGivesBackCapacityAboveTheBound) {
  FieldTape tape;
  std::string error;
  const std::string small = R"({"a":"\n"})";
  ASSERT_TRUE(ReadJsonTape(small, &tape, &error)) << error;
  const size_t small_bytes = tape.capacity_bytes();
  EXPECT_EQ(small_bytes, (small.size() + 1) * sizeof(TapeNode) + small.size());
  const TapeNode* nodes = tape.data();
  tape.ShrinkTo(small_bytes);  // within the bound: kept
  EXPECT_TRUE(tape.empty());
  EXPECT_EQ(tape.capacity_bytes(), small_bytes);
  ASSERT_TRUE(ReadJsonTape(small, &tape, &error)) << error;
  EXPECT_EQ(tape.data(), nodes);

  const std::string big = "{\"a\":\"\\n" + std::string(64 << 10, 'x') + "\"}";
  ASSERT_TRUE(ReadJsonTape(big, &tape, &error)) << error;
  EXPECT_GE(tape.capacity_bytes(), big.size() * (sizeof(TapeNode) + 1));
  tape.ShrinkTo(64 << 10);
  EXPECT_TRUE(tape.empty());
  EXPECT_EQ(tape.capacity_bytes(), 0u);
  // The next line allocates what it needs and reads as before.
  ASSERT_TRUE(ReadJsonTape(small, &tape, &error)) << error;
  EXPECT_EQ(tape.capacity_bytes(), small_bytes);
  ASSERT_EQ(tape.size(), 2u);
  EXPECT_EQ(tape[1].str(), "\n");
  ASSERT_TRUE(ReadJsonTape(big, &tape, &error)) << error;
  EXPECT_EQ(tape[1].str().size(), (64 << 10) + 1);
}

// FindInTape chooses what FindField chooses on Boost's tree, for adversarial key shapes.
TEST(FieldTapeTest, FindInTapeMatchesFindField) {
  const std::vector<std::string> docs = {
      R"({"a.b":{"c":1},"a":{"b.c":2}})",
      R"({"a":{"b.c":2},"a.b":{"c":1}})",
      R"({"a.b.c":0,"a.b":{"c":1},"a":{"b.c":2}})",
      R"({"a.b":5,"a":{"b":{"c":3}}})",
      R"({"a":{"b":1},"a":"x"})",
      R"({"a":"x","a":{"b":1}})",
      R"({"a":{"b":1},"a":{"c":2}})",
      R"({"":1,".":2,"a.":3,"a":{"":4}})",
      R"({"a":{"b":{"c":{"d":{"e":{"f":1}}}}},"a.b.c.d.e.f":2})",
      R"({"x.y":1,"x.y":{"z":2},"x":{"y.z":3}})",
      R"({"a.b":{"c":1},"a":{"b":{"c":2}},"a.b":5})",
      R"({"a":{"b":1},"a":2,"a":{"b":3}})",
      R"({"a":{"b":{"c":1}},"a.b":{"c":2},"a.b":[],"a":{"b":{"c":4}},"a.b.c":7,"a.b.c":{}})",
      R"({"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,
          "k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19,
          "a.b":{"c":1},"a":{"b.c":2},"a":{"b":{"c":3}}})",
      // A path starting with '.' never reaches the empty key through its own dot.
      R"({".a":{},".a":1,"":{"a":{"b":1}}})",
      // Duplicates with equal values: only the node found tells a wrong pick.
      R"({"a":{"b":1},"a":{"b":1}})",
      R"({"a":{"b":1},"a.b":1,"a":{"b":1},"a.b":1})",
      R"({"a":{"b":1},"a":1,"a":{"b":1}})",
      R"({"a.b":1,"a":{"b":1},"a.b":[]})",
  };
  std::vector<std::string> paths = {"a",      "a.b",         "a.b.c", "a.b.c.d", "",
                                    ".",      "a.",          ".a",    "a..b",    "x.y",
                                    "x.y.z",  "a.b.c.d.e.f", "a.c",   "k19",     "k20",
                                    "a.b.c.", "a.b.c.d.e",   ".a.b",  ".a"};
  std::string many_dots = "a";
  for (int i = 0; i < 40; ++i) many_dots += ".a";
  paths.push_back(many_dots);
  FieldTape tape;
  for (const auto& doc : docs) {
    std::string error;
    ASSERT_TRUE(ReadJsonTape(doc, &tape, &error)) << error;
    json::object obj;
    ASSERT_TRUE(internal::ParseJsonObject(doc, {}, &obj, &error)) << error;
    for (const auto& path : paths) {
      const json::value* want = FindField(obj, path);
      const TapeNode* got = FindInTape(tape, path);
      ASSERT_EQ(want == nullptr, got == nullptr) << doc << " " << path;
      if (want != nullptr) {
        const size_t index = tape.IndexOf(got);
        EXPECT_TRUE(SameValue(TapeToValue(tape, index, {}), *want)) << doc << " " << path;
        std::vector<std::string> got_keys, want_keys;
        EXPECT_TRUE(TapeKeys(tape, index, &got_keys))
            << "not the last duplicate: " << doc << " " << path;
        ASSERT_TRUE(BoostKeys(obj, want, &want_keys));
        EXPECT_EQ(got_keys, want_keys) << doc << " " << path;
      }
    }
  }
  // A deeply nested path of 40 dots resolved through 41 objects.
  std::string deep;
  for (int i = 0; i < 41; ++i) deep += "{\"a\":";
  deep += "7";
  deep += std::string(41, '}');
  std::string error;
  ASSERT_TRUE(ReadJsonTape(deep, &tape, &error)) << error;
  const TapeNode* n = FindInTape(tape, many_dots);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->i64, 7);
}

}  // namespace
}  // namespace seccloud::soc
