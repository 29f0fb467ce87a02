#include "soc/sigma.h"

#include <gtest/gtest.h>
#include <yaml-cpp/exceptions.h>

#include <boost/json.hpp>
#include <filesystem>
#include <iostream>
#include <random>

#include "soc/detect.h"
#include "soc/sigma_internal.h"

namespace seccloud::soc {
namespace {

// A seccloud-product rule over dataset "t" with the given detection block.
std::string Rule(const std::string& detection, const std::string& extra = "") {
  return "title: T\nid: r1\nlevel: high\nlogsource: {product: seccloud, service: t}\n" + extra +
         "detection:\n" + detection;
}

Record Rec(const std::string& fields_json, const std::string& raw = "") {
  Record r;
  r.seq = 7;
  r.raw = raw;
  r.fields() = boost::json::parse(fields_json).as_object();
  SetField(r.fields(), "event.dataset", "t");
  return r;
}

// Loads one rule, asserting it loads.
RuleSet One(const std::string& yaml) {
  LoadReport report;
  RuleSet set = LoadRulesFromString(yaml, "test.yml", &report);
  for (const auto& i : report.errors) ADD_FAILURE() << i.ToString();
  for (const auto& i : report.unsupported) ADD_FAILURE() << i.ToString();
  EXPECT_EQ(set.rules.size(), 1u);
  return set;
}

bool Fires(const RuleSet& set, const Record& r) { return RuleMatches(set, set.rules.at(0), r); }

TEST(SigmaTest, PlainValuesAreCaseInsensitiveExactMatches) {
  auto set = One(Rule("  sel:\n    a: Hello\n  condition: sel\n"));
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"hello"})")));
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"HELLO"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"hello world"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"b":"hello"})")));
}

TEST(SigmaTest, LogsourceGatesRecords) {
  auto set = One(Rule("  sel:\n    a: x\n  condition: sel\n"));
  Record r = Rec(R"({"a":"x"})");
  SetField(r.fields(), "event.dataset", "other");
  EXPECT_FALSE(Fires(set, r));
}

TEST(SigmaTest, ContainsStartsWithEndsWithAll) {
  auto set =
      One(Rule("  sel:\n    a|contains: MID\n    b|startswith: pre\n    c|endswith: '\\x.exe'\n"
               "    d|contains|all: [one, two]\n  condition: sel\n"));
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"aMIDb","b":"prefix","c":"C:\\X.EXE","d":"two and one"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"aMIDb","b":"prefix","c":"C:\\X.EXE","d":"two only"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"aMIDb","b":"xprefix","c":"C:\\X.EXE","d":"two one"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"aMIDb","b":"prefix","c":"C:\\X.EXEs","d":"two one"})")));
}

TEST(SigmaTest, ListsOfValuesAreOrAndListsOfMapsAreOr) {
  auto set = One(Rule("  sel:\n    - a: [x, y]\n    - b: z\n  condition: sel\n"));
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"y"})")));
  EXPECT_TRUE(Fires(set, Rec(R"({"b":"z"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"z"})")));
}

TEST(SigmaTest, WildcardsAndEscapes) {
  auto set = One(Rule("  sel:\n    a: 'ab*c?e'\n    b: 'lit\\*star'\n  condition: sel\n"));
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"abXXXcde","b":"lit*star"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"abXXXcdde","b":"lit*star"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"abXXXcde","b":"litXstar"})")));
  // A backslash before anything else is literal (Windows paths).
  auto path = One(Rule("  sel:\n    a: 'C:\\Windows\\sys*'\n  condition: sel\n"));
  EXPECT_TRUE(Fires(path, Rec(R"({"a":"c:\\windows\\system32"})")));
}

TEST(SigmaTest, RegexWithFlags) {
  auto set = One(Rule("  sel:\n    a|re: '^ab+c$'\n  condition: sel\n"));
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"abbbc"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"ABBC"})")));  // |re is case-sensitive
  auto ci = One(Rule("  sel:\n    a|re|i: '^ab+c$'\n  condition: sel\n"));
  EXPECT_TRUE(Fires(ci, Rec(R"({"a":"ABBC"})")));
  auto ml = One(Rule("  sel:\n    a|re|m: '^second$'\n  condition: sel\n"));
  EXPECT_TRUE(Fires(ml, Rec(R"({"a":"first\nsecond"})")));
  auto dot = One(Rule("  sel:\n    a|re|s: 'a.b'\n  condition: sel\n"));
  EXPECT_TRUE(Fires(dot, Rec(R"({"a":"a\nb"})")));
}

TEST(SigmaTest, RegexRe2CannotCompileIsUnsupportedWithReason) {
  LoadReport report;
  auto set = LoadRulesFromString(Rule("  sel:\n    a|re: '(?<=x)y'\n  condition: sel\n"), "f.yml",
                                 &report);
  EXPECT_TRUE(set.rules.empty());
  ASSERT_EQ(report.unsupported.size(), 1u);
  EXPECT_EQ(report.unsupported[0].reason, "regex not supported by RE2");
  EXPECT_EQ(report.unsupported[0].file, "f.yml");
  EXPECT_GT(report.unsupported[0].line, 0);
}

TEST(SigmaTest, Cidr) {
  auto set = One(Rule("  sel:\n    ip|cidr: ['10.0.0.0/8', 'fd00::/8']\n  condition: sel\n"));
  EXPECT_TRUE(Fires(set, Rec(R"({"ip":"10.20.30.40"})")));
  EXPECT_TRUE(Fires(set, Rec(R"({"ip":"fd12::1"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"ip":"11.0.0.1"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"ip":"not an ip"})")));
}

TEST(SigmaTest, Base64AndBase64OffsetAndWide) {
  // base64("secret") = c2VjcmV0
  auto b = One(Rule("  sel:\n    a|base64: secret\n  condition: sel\n"));
  EXPECT_TRUE(Fires(b, Rec(R"({"a":"c2VjcmV0"})")));
  EXPECT_FALSE(Fires(b, Rec(R"({"a":"C2VJCMV0"})")));  // base64 is case-sensitive
  auto off = One(Rule("  sel:\n    a|base64offset|contains: secret\n  condition: sel\n"));
  // The value at offsets 0, 1, 2 inside a longer base64 text.
  EXPECT_TRUE(Fires(off, Rec(R"({"a":"xxc2VjcmV0xx"})")));  // "secret…"
  EXPECT_TRUE(Fires(off, Rec(R"({"a":"QXNlY3JldA=="})")));  // "Asecret"
  EXPECT_TRUE(Fires(off, Rec(R"({"a":"QUFzZWNyZXQ="})")));  // "AAsecret"
  EXPECT_FALSE(Fires(off, Rec(R"({"a":"QUFBQQ=="})")));
  // utf16le "ab" = 61 00 62 00 → YQBiAA==
  auto wide = One(Rule("  sel:\n    a|wide|base64: ab\n  condition: sel\n"));
  EXPECT_TRUE(Fires(wide, Rec(R"({"a":"YQBiAA=="})")));
  auto be = One(Rule("  sel:\n    a|utf16be|base64: ab\n  condition: sel\n"));
  EXPECT_TRUE(Fires(be, Rec(R"({"a":"AGEAYg=="})")));
  auto bom = One(Rule("  sel:\n    a|utf16|base64: ab\n  condition: sel\n"));
  EXPECT_TRUE(Fires(bom, Rec(R"({"a":"//5hAGIA"})")));
}

TEST(SigmaTest, Windash) {
  auto set = One(Rule("  sel:\n    a|windash|contains: ' -enc '\n  condition: sel\n"));
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"powershell -enc AAA"})")));
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"powershell /enc AAA"})")));
  EXPECT_TRUE(Fires(set, Rec("{\"a\":\"powershell \xE2\x80\x93"
                             "enc AAA\"}")));
  EXPECT_TRUE(Fires(set, Rec("{\"a\":\"powershell \xE2\x80\x94"
                             "enc AAA\"}")));
  EXPECT_TRUE(Fires(set, Rec("{\"a\":\"powershell \xE2\x80\x95"
                             "enc AAA\"}")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"powershell +enc AAA"})")));
}

TEST(SigmaTest, ExistsNullAndNumbers) {
  auto ex = One(Rule("  sel:\n    a|exists: true\n    b|exists: false\n  condition: sel\n"));
  EXPECT_TRUE(Fires(ex, Rec(R"({"a":1})")));
  EXPECT_FALSE(Fires(ex, Rec(R"({"a":1,"b":2})")));
  auto null = One(Rule("  sel:\n    a: null\n  condition: sel\n"));
  EXPECT_TRUE(Fires(null, Rec(R"({"b":1})")));
  EXPECT_TRUE(Fires(null, Rec(R"({"a":""})")));
  EXPECT_FALSE(Fires(null, Rec(R"({"a":"x"})")));
  auto cmp = One(Rule("  sel:\n    n|gt: 90\n    m|lte: 5\n  condition: sel\n"));
  EXPECT_TRUE(Fires(cmp, Rec(R"({"n":91,"m":"5"})")));
  EXPECT_FALSE(Fires(cmp, Rec(R"({"n":90,"m":5})")));
  auto gte = One(Rule("  sel:\n    n|gte: 90\n    m|lt: 5\n  condition: sel\n"));
  EXPECT_TRUE(Fires(gte, Rec(R"({"n":90.0,"m":4})")));
  auto num = One(Rule("  sel:\n    EventID: 4688\n  condition: sel\n"));
  EXPECT_TRUE(Fires(num, Rec(R"({"EventID":4688})")));
  EXPECT_TRUE(Fires(num, Rec(R"({"EventID":"4688"})")));
}

TEST(SigmaTest, CasedAndFieldref) {
  auto cased = One(Rule("  sel:\n    a|cased: Hello\n  condition: sel\n"));
  EXPECT_TRUE(Fires(cased, Rec(R"({"a":"Hello"})")));
  EXPECT_FALSE(Fires(cased, Rec(R"({"a":"hello"})")));
  auto ref = One(Rule("  sel:\n    a|fieldref: b\n  condition: sel\n"));
  EXPECT_TRUE(Fires(ref, Rec(R"({"a":"X","b":"x"})")));
  EXPECT_FALSE(Fires(ref, Rec(R"({"a":"X","b":"y"})")));
  EXPECT_FALSE(Fires(ref, Rec(R"({"a":"X"})")));
}

TEST(SigmaTest, UnmappedExpandAndUnknownModifiersAreUnsupported) {
  LoadReport report;
  LoadRulesFromString(Rule("  sel:\n    a|expand: '%admins%'\n  condition: sel\n"), "e.yml",
                      &report);
  LoadRulesFromString(Rule("  sel:\n    a|frobnicate: x\n  condition: sel\n"), "u.yml", &report);
  ASSERT_EQ(report.unsupported.size(), 2u);
  EXPECT_EQ(report.unsupported[0].reason, "placeholder not mapped");  // sigma_front_test.cc
  EXPECT_EQ(report.unsupported[1].reason, "unknown modifier");
}

// |neq is pySigma's SigmaNegateModifier: NOT around the whole detection item. So it matches
// as the item would (case-insensitive, wildcards, contains…) and negates that: an absent or
// null field matches, a list (OR) must differ from every value, a list with |all from one.
TEST(SigmaTest, NeqNegatesTheWholeItem) {
  auto s = One(Rule("  sel:\n    a|neq: Hello\n  condition: sel\n"));
  EXPECT_TRUE(Fires(s, Rec(R"({"a":"bye"})")));
  EXPECT_FALSE(Fires(s, Rec(R"({"a":"hello"})")));
  EXPECT_FALSE(Fires(s, Rec(R"({"a":"HELLO"})")));
  EXPECT_TRUE(Fires(s, Rec(R"({"a":"hello world"})")));
  EXPECT_TRUE(Fires(s, Rec(R"({"b":"hello"})")));  // absent: NOT(a = hello) holds
  EXPECT_TRUE(Fires(s, Rec(R"({"a":null})")));
  auto n = One(Rule("  sel:\n    n|neq: 5\n  condition: sel\n"));
  EXPECT_FALSE(Fires(n, Rec(R"({"n":5})")));
  EXPECT_FALSE(Fires(n, Rec(R"({"n":"5"})")));
  EXPECT_TRUE(Fires(n, Rec(R"({"n":6})")));
  EXPECT_TRUE(Fires(n, Rec(R"({"n":50})")));
  auto w = One(Rule("  sel:\n    a|neq: 'ad*'\n    b|neq: 'x\\*'\n  condition: sel\n"));
  EXPECT_FALSE(Fires(w, Rec(R"({"a":"Admin","b":"y"})")));
  EXPECT_TRUE(Fires(w, Rec(R"({"a":"root","b":"y"})")));
  EXPECT_FALSE(Fires(w, Rec(R"({"a":"root","b":"x*"})")));
  EXPECT_TRUE(Fires(w, Rec(R"({"a":"root","b":"xy"})")));  // \* is a literal star
  auto list = One(Rule("  sel:\n    a|neq: [x, y]\n  condition: sel\n"));
  EXPECT_FALSE(Fires(list, Rec(R"({"a":"x"})")));
  EXPECT_FALSE(Fires(list, Rec(R"({"a":"Y"})")));
  EXPECT_TRUE(Fires(list, Rec(R"({"a":"z"})")));
  auto all = One(Rule("  sel:\n    a|contains|all|neq: [one, two]\n  condition: sel\n"));
  EXPECT_FALSE(Fires(all, Rec(R"({"a":"two and one"})")));
  EXPECT_TRUE(Fires(all, Rec(R"({"a":"one"})")));
  EXPECT_TRUE(Fires(all, Rec(R"({"a":"three"})")));
  auto cased = One(Rule("  sel:\n    a|cased|neq: Hello\n  condition: sel\n"));
  EXPECT_FALSE(Fires(cased, Rec(R"({"a":"Hello"})")));
  EXPECT_TRUE(Fires(cased, Rec(R"({"a":"hello"})")));
  auto ex = One(Rule("  sel:\n    a|exists|neq: true\n  condition: sel\n"));
  EXPECT_TRUE(Fires(ex, Rec(R"({"b":1})")));
  EXPECT_FALSE(Fires(ex, Rec(R"({"a":1})")));
  auto gt = One(Rule("  sel:\n    n|gt|neq: 10\n  condition: sel\n"));
  EXPECT_TRUE(Fires(gt, Rec(R"({"n":10})")));
  EXPECT_FALSE(Fires(gt, Rec(R"({"n":11})")));
  // With another item of the selection: each item is negated on its own.
  auto two = One(Rule("  sel:\n    a: x\n    b|neq: y\n  condition: sel\n"));
  EXPECT_TRUE(Fires(two, Rec(R"({"a":"x","b":"z"})")));
  EXPECT_FALSE(Fires(two, Rec(R"({"a":"x","b":"y"})")));
  EXPECT_FALSE(Fires(two, Rec(R"({"a":"w","b":"z"})")));
  // Keywords (a map key of modifiers only keeps the value's own anchoring): NOT(the message or
  // the raw text holds it).
  auto kw = One(Rule("  sel:\n    '|contains|neq': secret\n  condition: sel\n"));
  EXPECT_TRUE(Fires(kw, Rec(R"({"message":"nothing here"})")));
  EXPECT_FALSE(Fires(kw, Rec(R"({"message":"a SECRET here"})")));
  // "not" in the condition cancels it out.
  auto twice = One(Rule("  sel:\n    a|neq: x\n  condition: not sel\n"));
  EXPECT_TRUE(Fires(twice, Rec(R"({"a":"x"})")));
  EXPECT_FALSE(Fires(twice, Rec(R"({"a":"y"})")));
  EXPECT_FALSE(Fires(twice, Rec(R"({"b":"x"})")));
}

// |fieldref|neq (v2.1: "can be combined with the neq modifier"): two fields of one event differ;
// NOT(a = b), so true when either is absent, as pySigma's ConditionNOT of the field reference.
TEST(SigmaTest, FieldrefNeq) {
  auto s = One(Rule("  sel:\n    a|fieldref|neq: b\n  condition: sel\n"));
  EXPECT_TRUE(Fires(s, Rec(R"({"a":"X","b":"y"})")));
  EXPECT_FALSE(Fires(s, Rec(R"({"a":"X","b":"x"})")));
  EXPECT_TRUE(Fires(s, Rec(R"({"a":"X"})")));
  EXPECT_TRUE(Fires(s, Rec(R"({"b":"X"})")));
  auto c = One(Rule("  sel:\n    a|fieldref|cased|neq: b\n  condition: sel\n"));
  EXPECT_TRUE(Fires(c, Rec(R"({"a":"X","b":"x"})")));
  EXPECT_FALSE(Fires(c, Rec(R"({"a":"x","b":"x"})")));
  auto sw = One(Rule("  sel:\n    a|fieldref|startswith|neq: b\n  condition: sel\n"));
  EXPECT_FALSE(Fires(sw, Rec(R"({"a":"abc","b":"AB"})")));
  EXPECT_TRUE(Fires(sw, Rec(R"({"a":"abc","b":"bc"})")));
}

TEST(SigmaTest, DatePartsOfEveryAcceptedForm) {
  using sigma_internal::DatePart;
  using sigma_internal::TimePart;
  struct Row {
    const char* text;
    int minute, hour, day, week, month, year;
  };
  const Row kRows[] = {
      // Windows UtcTime, EVE, ECS @timestamp, RFC 3339 with an offset (taken as written).
      {"2024-03-01 12:34:56.789", 34, 12, 1, 9, 3, 2024},
      {"2024-03-01T12:34:56.789012+0000", 34, 12, 1, 9, 3, 2024},
      {"2024-03-01T12:34:56.789Z", 34, 12, 1, 9, 3, 2024},
      {"2024-03-01T23:05:00+09:00", 5, 23, 1, 9, 3, 2024},
      {"2024-03-01T23:05:00-05", 5, 23, 1, 9, 3, 2024},
      {"2024-03-01t00:00z", 0, 0, 1, 9, 3, 2024},
      {"2024-03-01T12:34:56,5", 34, 12, 1, 9, 3, 2024},
      {"2016-12-31T23:59:60Z", 59, 23, 31, 52, 12, 2016},  // a leap second
      {"2024-02-29 23:59:59", 59, 23, 29, 9, 2, 2024},
      {"2024-03-01", -1, -1, 1, 9, 3, 2024},  // a date only: no hour nor minute
      // ISO weeks at the years' edges.
      {"2021-01-03", -1, -1, 3, 53, 1, 2021},  // Sunday: week 53 of 2020
      {"2021-01-04", -1, -1, 4, 1, 1, 2021},
      {"2020-12-31", -1, -1, 31, 53, 12, 2020},
      {"2024-12-30", -1, -1, 30, 1, 12, 2024},  // Monday: week 1 of 2025
      {"2026-12-31", -1, -1, 31, 53, 12, 2026},
      {"2027-01-01", -1, -1, 1, 53, 1, 2027},
      {"2025-12-28", -1, -1, 28, 52, 12, 2025},
      {"2023-01-01", -1, -1, 1, 52, 1, 2023},
      {"0001-01-01", -1, -1, 1, 1, 1, 1},
      {"9999-12-31", -1, -1, 31, 52, 12, 9999},
  };
  for (const Row& r : kRows) {
    SCOPED_TRACE(r.text);
    EXPECT_EQ(DatePart(r.text, TimePart::kMinute), r.minute);
    EXPECT_EQ(DatePart(r.text, TimePart::kHour), r.hour);
    EXPECT_EQ(DatePart(r.text, TimePart::kDay), r.day);
    EXPECT_EQ(DatePart(r.text, TimePart::kWeek), r.week);
    EXPECT_EQ(DatePart(r.text, TimePart::kMonth), r.month);
    EXPECT_EQ(DatePart(r.text, TimePart::kYear), r.year);
  }
  for (const char* bad : {"",
                          "2024",
                          "2024-03-0",
                          "2024-3-01",
                          "24-03-01",
                          "2024/03/01",
                          "20240301T123456Z",
                          "2024-13-01",
                          "2024-00-10",
                          "2024-03-00",
                          "2024-03-32",
                          "2023-02-29",
                          "2100-02-29",
                          "0000-01-01",
                          "2024-03-01 ",
                          "2024-03-01T",
                          "2024-03-01T1:00",
                          "2024-03-01T24:00",
                          "2024-03-01T12:60",
                          "2024-03-01T12:34:61",
                          "2024-03-01T12:34:5",
                          "2024-03-01T12:34:56.",
                          "2024-03-01T12:34:56.1234567890",
                          "2024-03-01T12:34+5",
                          "2024-03-01T12:34+05:",
                          "2024-03-01T12:34+24:00",
                          "2024-03-01T12:34+05:60",
                          "2024-03-01T12:34:56Zjunk",
                          "2024-03-01T12:34:56 UTC",
                          "2024-03-01X12:34",
                          " 2024-03-01",
                          "1709296496",
                          "2024-03-01T12:34.5",
                          "２０２４-03-01"}) {
    SCOPED_TRACE(bad);
    for (auto part : {TimePart::kMinute, TimePart::kHour, TimePart::kDay, TimePart::kWeek,
                      TimePart::kMonth, TimePart::kYear}) {
      EXPECT_EQ(DatePart(bad, part), -1);
    }
  }
}

TEST(SigmaTest, TimeModifiersCompareTheDatePartWithTheValue) {
  auto s = One(Rule("  sel:\n    t|hour: 3\n  condition: sel\n"));
  EXPECT_TRUE(Fires(s, Rec(R"({"t":"2024-03-01T03:59:59Z"})")));
  EXPECT_TRUE(Fires(s, Rec(R"({"t":"2024-03-01 03:00:00+09:00"})")));  // no zone conversion
  EXPECT_FALSE(Fires(s, Rec(R"({"t":"2024-03-01T04:00:00Z"})")));
  EXPECT_FALSE(Fires(s, Rec(R"({"t":"2024-03-01"})")));
  EXPECT_FALSE(Fires(s, Rec(R"({"t":"2024-03-01T03:00:00 junk"})")));
  EXPECT_FALSE(Fires(s, Rec(R"({"t":3})")));  // a number is not a date
  EXPECT_FALSE(Fires(s, Rec(R"({"t":null})")));
  EXPECT_FALSE(Fires(s, Rec(R"({"u":"2024-03-01T03:00:00Z"})")));
  auto night = One(Rule("  sel:\n    t|hour: [22, 23, 0]\n  condition: sel\n"));
  EXPECT_TRUE(Fires(night, Rec(R"({"t":"2024-03-01T00:10:00Z"})")));
  EXPECT_TRUE(Fires(night, Rec(R"({"t":"2024-03-01T22:10:00Z"})")));
  EXPECT_FALSE(Fires(night, Rec(R"({"t":"2024-03-01T21:59:00Z"})")));
  auto off = One(Rule("  sel:\n    t|hour|neq: [9, 10, 11]\n  condition: sel\n"));
  EXPECT_FALSE(Fires(off, Rec(R"({"t":"2024-03-01T10:00:00Z"})")));
  EXPECT_TRUE(Fires(off, Rec(R"({"t":"2024-03-01T12:00:00Z"})")));
  EXPECT_TRUE(Fires(off, Rec(R"({"t":"not a date"})")));  // NOT(a part that is not there)
  auto parts =
      One(Rule("  sel:\n    t|minute: 59\n    t|day: 31\n    t|week: 1\n    t|month: 12\n"
               "    t|year: 2024\n  condition: sel\n"));
  EXPECT_TRUE(Fires(parts, Rec(R"({"t":"2024-12-31T05:59:00Z"})")));
  EXPECT_FALSE(Fires(parts, Rec(R"({"t":"2024-12-31T05:58:00Z"})")));
  EXPECT_FALSE(Fires(parts, Rec(R"({"t":"2023-12-31T05:59:00Z"})")));  // week 52
  auto all = One(Rule("  sel:\n    t|minute|all: [0, 1]\n  condition: sel\n"));
  EXPECT_FALSE(Fires(all, Rec(R"({"t":"2024-12-31T05:00:00Z"})")));
}

// pySigma compares a date part with gt/gte/lt/lte written after the time modifier
// (SigmaTimestampPart is a SigmaNumber); an office day without listing its hours.
TEST(SigmaTest, TimePartsCompareWithGtGteLtLte) {
  auto late = One(Rule("  sel:\n    t|hour|gte: 18\n  condition: sel\n"));
  EXPECT_TRUE(Fires(late, Rec(R"({"t":"2024-03-01T18:00:00Z"})")));
  EXPECT_TRUE(Fires(late, Rec(R"({"t":"2024-03-01T23:59:00Z"})")));
  EXPECT_FALSE(Fires(late, Rec(R"({"t":"2024-03-01T17:59:59Z"})")));
  EXPECT_FALSE(Fires(late, Rec(R"({"t":"2024-03-01"})")));  // no hour: not a match
  EXPECT_FALSE(Fires(late, Rec(R"({"t":"late"})")));
  auto gt = One(Rule("  sel:\n    t|minute|gt: 30\n  condition: sel\n"));
  EXPECT_FALSE(Fires(gt, Rec(R"({"t":"2024-03-01T10:30:00Z"})")));
  EXPECT_TRUE(Fires(gt, Rec(R"({"t":"2024-03-01T10:31:00Z"})")));
  auto lt = One(Rule("  sel:\n    t|month|lt: 4\n  condition: sel\n"));
  EXPECT_TRUE(Fires(lt, Rec(R"({"t":"2024-03-31"})")));
  EXPECT_FALSE(Fires(lt, Rec(R"({"t":"2024-04-01"})")));
  auto lte = One(Rule("  sel:\n    t|day|lte: 1\n  condition: sel\n"));
  EXPECT_TRUE(Fires(lte, Rec(R"({"t":"2024-04-01"})")));
  EXPECT_FALSE(Fires(lte, Rec(R"({"t":"2024-04-02"})")));
  // Outside 08:00–18:59 (UTC hours as written): both sides, and their negation.
  auto office =
      One(Rule("  early:\n    t|hour|lt: 8\n  late:\n    t|hour|gte: 19\n"
               "  condition: early or late\n"));
  EXPECT_TRUE(Fires(office, Rec(R"({"t":"2024-03-01 07:59:00"})")));
  EXPECT_FALSE(Fires(office, Rec(R"({"t":"2024-03-01 08:00:00"})")));
  EXPECT_FALSE(Fires(office, Rec(R"({"t":"2024-03-01 18:59:00"})")));
  EXPECT_TRUE(Fires(office, Rec(R"({"t":"2024-03-01 19:00:00"})")));
  auto inside = One(Rule("  sel:\n    t|hour|lt|neq: 8\n  condition: sel\n"));
  EXPECT_FALSE(Fires(inside, Rec(R"({"t":"2024-03-01 07:00:00"})")));
  EXPECT_TRUE(Fires(inside, Rec(R"({"t":"2024-03-01 08:00:00"})")));
}

// The century rule of leap years: 2000 was one (2100 will not be).
TEST(SigmaTest, DatePartsOfTheLeapDayOf2000) {
  using sigma_internal::DatePart;
  using sigma_internal::TimePart;
  EXPECT_EQ(DatePart("2000-02-29", TimePart::kDay), 29);
  EXPECT_EQ(DatePart("2000-02-29T10:00:00Z", TimePart::kWeek), 9);
  EXPECT_EQ(DatePart("2000-12-31", TimePart::kWeek), 52);
  EXPECT_EQ(DatePart("2100-02-29", TimePart::kDay), -1);
}

// Every modifier of the v2.1 appendix and the combinations of them: each loads and is honoured,
// or is reported unsupported or an error with its reason and line — never silently ignored.
TEST(SigmaTest, EveryAppendixModifierAndCombinationIsHonouredOrReported) {
  enum Outcome { kLoads, kUnsupported, kError };
  struct Row {
    const char* key;
    const char* value;
    Outcome outcome;
    const char* reason;  // kUnsupported or kError: the issue's reason
  };
  const Row kRows[] = {
      // Generic.
      {"a|all", "[x, y]", kLoads, ""},
      {"a|startswith", "x", kLoads, ""},
      {"a|endswith", "x", kLoads, ""},
      {"a|contains", "x", kLoads, ""},
      {"a|exists", "true", kLoads, ""},
      {"a|cased", "x", kLoads, ""},
      {"a|neq", "x", kLoads, ""},
      {"a|neq", "5", kLoads, ""},
      // String.
      {"a|windash", "-x", kLoads, ""},
      {"a|re", "x+", kLoads, ""},
      {"a|re|i", "x+", kLoads, ""},
      {"a|re|ignorecase", "x+", kLoads, ""},
      {"a|re|m", "^x", kLoads, ""},
      {"a|re|multiline", "^x", kLoads, ""},
      {"a|re|s", "x.y", kLoads, ""},
      {"a|re|dotall", "x.y", kLoads, ""},
      {"a|i", "x", kError, "regex flag without |re"},
      {"a|base64", "x", kLoads, ""},
      {"a|base64offset", "x", kLoads, ""},
      {"a|base64|utf16le", "x", kLoads, ""},
      {"a|base64offset|utf16be", "x", kLoads, ""},
      {"a|base64|utf16", "x", kLoads, ""},
      {"a|base64offset|wide", "x", kLoads, ""},
      {"a|utf16le", "x", kUnsupported, "utf16/wide without base64"},
      {"a|wide", "x", kUnsupported, "utf16/wide without base64"},
      {"a|utf16be", "x", kUnsupported, "utf16/wide without base64"},
      {"a|utf16", "x", kUnsupported, "utf16/wide without base64"},
      // Numeric.
      {"a|lt", "5", kLoads, ""},
      {"a|lte", "5", kLoads, ""},
      {"a|gt", "5", kLoads, ""},
      {"a|gte", "5", kLoads, ""},
      {"a|gt", "x", kError, "bad value"},
      // Time.
      {"a|minute", "59", kLoads, ""},
      {"a|hour", "23", kLoads, ""},
      {"a|day", "31", kLoads, ""},
      {"a|week", "53", kLoads, ""},
      {"a|month", "12", kLoads, ""},
      {"a|year", "2024", kLoads, ""},
      {"a|minute", "60", kError, "bad value"},
      {"a|hour|gt", "5", kLoads, ""},
      {"a|hour|gte|neq", "18", kLoads, ""},
      {"a|week|lte", "53", kLoads, ""},
      {"a|hour|lt", "24", kError, "bad value"},
      {"a|hour|gt|lt", "5", kError, "conflicting modifiers"},
      {"a|hour", "24", kError, "bad value"},
      {"a|hour", "-1", kError, "bad value"},
      {"a|day", "0", kError, "bad value"},
      {"a|week", "54", kError, "bad value"},
      {"a|month", "13", kError, "bad value"},
      {"a|year", "0", kError, "bad value"},
      {"a|hour", "8.5", kError, "bad value"},
      {"a|hour", "eight", kError, "bad value"},
      {"a|hour", "null", kError, "bad value"},
      {"a|hour", "''", kError, "bad value"},
      // IP.
      {"a|cidr", "10.0.0.0/8", kLoads, ""},
      {"a|cidr", "10.0.0.0/33", kError, "bad value"},
      // Specific.
      {"a|fieldref", "b", kLoads, ""},
      {"a|expand", "'%unmapped%'", kUnsupported, "placeholder not mapped"},
      // Combinations that are honoured.
      {"a|contains|all", "[x, y]", kLoads, ""},
      {"a|contains|windash", "-x", kLoads, ""},
      {"a|windash|contains|cased", "-X", kLoads, ""},
      {"a|base64offset|contains", "x", kLoads, ""},
      {"a|base64|startswith", "x", kLoads, ""},
      {"a|re|contains", "x", kLoads, ""},
      {"a|re|startswith", "x", kLoads, ""},
      {"a|re|endswith", "x", kLoads, ""},
      {"a|re|all", "[x, y]", kLoads, ""},
      {"a|re|i|neq", "x", kLoads, ""},
      {"a|cidr|neq", "10.0.0.0/8", kLoads, ""},
      {"a|cidr|all", "[10.0.0.0/8, 10.1.0.0/16]", kLoads, ""},
      {"a|gte|neq", "5", kLoads, ""},
      {"a|exists|neq", "true", kLoads, ""},
      {"a|hour|neq", "[9, 10]", kLoads, ""},
      {"a|hour|all", "[9, 10]", kLoads, ""},
      {"a|fieldref|neq", "b", kLoads, ""},
      {"a|fieldref|contains", "b", kLoads, ""},
      {"a|fieldref|endswith|neq", "b", kLoads, ""},
      {"a|fieldref|cased", "b", kLoads, ""},
      {"a|contains|neq|all", "[x, y]", kLoads, ""},
      {"a|neq|contains", "x", kLoads, ""},
      {"a|startswith|endswith", "x", kLoads, ""},
      // Combinations pySigma refuses (a modifier given a value type it does not take).
      {"a|lte|hour", "5", kError, "conflicting modifiers"},
      {"a|gte|hour|neq", "5", kError, "conflicting modifiers"},
      {"a|hour|minute", "5", kError, "conflicting modifiers"},
      {"a|hour|contains", "5", kError, "conflicting modifiers"},
      {"a|hour|cased", "5", kError, "conflicting modifiers"},
      {"a|year|fieldref", "b", kError, "conflicting modifiers"},
      {"a|gt|lt", "5", kError, "conflicting modifiers"},
      {"a|gt|contains", "5", kError, "conflicting modifiers"},
      {"a|exists|contains", "true", kError, "conflicting modifiers"},
      {"a|exists|hour", "true", kError, "conflicting modifiers"},
      {"a|contains|re", "x", kError, "conflicting modifiers"},
      {"a|re|cased", "x", kError, "conflicting modifiers"},
      {"a|re|windash", "x", kError, "conflicting modifiers"},
      {"a|re|base64", "x", kError, "conflicting modifiers"},
      {"a|re|cidr", "x", kError, "conflicting modifiers"},
      {"a|cidr|contains", "10.0.0.0/8", kError, "conflicting modifiers"},
      {"a|cidr|cased", "10.0.0.0/8", kError, "conflicting modifiers"},
      {"a|fieldref|windash", "b", kError, "conflicting modifiers"},
      {"a|fieldref|base64", "b", kError, "conflicting modifiers"},
      {"a|fieldref|re", "b", kError, "conflicting modifiers"},
      {"a|fieldref|contains|endswith", "b", kError, "conflicting modifiers"},
      {"a|base64|base64offset", "x", kError, "conflicting modifiers"},
      {"a|base64|utf16le|utf16be", "x", kError, "conflicting modifiers"},
      {"|exists", "true", kError, "conflicting modifiers"},
      {"|hour", "5", kError, "conflicting modifiers"},
      {"|fieldref", "b", kError, "conflicting modifiers"},
      {"a|frobnicate", "x", kUnsupported, "unknown modifier"},
      {"a|expand|neq", "'%unmapped%'", kUnsupported, "placeholder not mapped"},
  };
  for (const Row& r : kRows) {
    const std::string key = r.key;
    SCOPED_TRACE(key + ": " + r.value);
    LoadReport report;
    const RuleSet set = LoadRulesFromString(
        Rule("  sel:\n    '" + key + "': " + r.value + "\n  condition: sel\n"), "m.yml", &report);
    switch (r.outcome) {
      case kLoads:
        EXPECT_EQ(set.rules.size(), 1u);
        EXPECT_TRUE(report.unsupported.empty() && report.errors.empty())
            << (report.errors.empty() ? "" : report.errors[0].ToString())
            << (report.unsupported.empty() ? "" : report.unsupported[0].ToString());
        break;
      case kUnsupported:
        EXPECT_TRUE(set.rules.empty());
        ASSERT_EQ(report.unsupported.size(), 1u);
        EXPECT_EQ(report.unsupported[0].reason, r.reason);
        EXPECT_EQ(report.unsupported[0].line, 7);  // the key's line
        EXPECT_FALSE(report.unsupported[0].detail.empty());
        break;
      case kError:
        EXPECT_TRUE(set.rules.empty());
        ASSERT_EQ(report.errors.size(), 1u);
        EXPECT_EQ(report.errors[0].reason, r.reason) << report.errors[0].ToString();
        EXPECT_EQ(report.errors[0].line, 7);  // the key's or the value's line
        EXPECT_FALSE(report.errors[0].detail.empty());
        break;
    }
  }
}

TEST(SigmaTest, KeywordsSearchMessageAndRaw) {
  auto set =
      One(Rule("  keywords:\n    - 'Failed password'\n    - 'bad*user'\n  condition: keywords\n"));
  EXPECT_TRUE(Fires(set, Rec(R"({"message":"sshd: failed PASSWORD for root"})")));
  EXPECT_TRUE(Fires(set, Rec(R"({})", "raw line: bad  user here")));
  EXPECT_FALSE(Fires(set, Rec(R"({"message":"accepted"})", "accepted")));
}

TEST(SigmaTest, KeywordMapsSearchAnywhereAsKeywordLists) {
  // SigmaHQ writes keywords that must all occur as a map: '|all': [grep, password].
  auto all =
      One(Rule("  keywords:\n    '|all':\n      - grep\n      - password\n"
               "  condition: keywords\n"));
  EXPECT_TRUE(Fires(all, Rec(R"({"message":"grep -ri db PASSWORD /etc"})")));
  EXPECT_TRUE(Fires(all, Rec(R"({"message":"grep -ri db"})", "x password y")));
  EXPECT_FALSE(Fires(all, Rec(R"({"message":"grep -ri db /etc"})", "grep -ri db /etc")));
  // A keyword map with its own anchoring keeps it.
  auto starts = One(Rule("  keywords:\n    '|startswith': sudo\n  condition: keywords\n"));
  EXPECT_TRUE(Fires(starts, Rec(R"({"message":"sudo id"})", "sudo id")));
  EXPECT_FALSE(Fires(starts, Rec(R"({"message":"x sudo id"})", "x sudo id")));
}

TEST(SigmaTest, ConditionForms) {
  const std::string sels =
      "  selection_a:\n    a: 1\n  selection_b:\n    b: 1\n  filter:\n    c: 1\n";
  auto one_of = One(Rule(sels + "  condition: 1 of selection_* and not filter\n"));
  EXPECT_TRUE(Fires(one_of, Rec(R"({"b":1})")));
  EXPECT_FALSE(Fires(one_of, Rec(R"({"b":1,"c":1})")));
  auto all_of = One(Rule(sels + "  condition: all of selection_*\n"));
  EXPECT_FALSE(Fires(all_of, Rec(R"({"b":1})")));
  EXPECT_TRUE(Fires(all_of, Rec(R"({"a":1,"b":1})")));
  auto them = One(Rule(sels + "  condition: 1 of them\n"));
  EXPECT_TRUE(Fires(them, Rec(R"({"c":1})")));
  auto all_them = One(Rule(sels + "  condition: all of them\n"));
  EXPECT_FALSE(Fires(all_them, Rec(R"({"a":1,"b":1})")));
  EXPECT_TRUE(Fires(all_them, Rec(R"({"a":1,"b":1,"c":1})")));
  auto parens = One(Rule(sels + "  condition: (selection_a or selection_b) and not (filter)\n"));
  EXPECT_TRUE(Fires(parens, Rec(R"({"a":1})")));
  EXPECT_FALSE(Fires(parens, Rec(R"({"a":1,"c":1})")));
  // and binds tighter than or.
  auto prec = One(Rule(sels + "  condition: selection_a or selection_b and filter\n"));
  EXPECT_TRUE(Fires(prec, Rec(R"({"a":1})")));
  EXPECT_FALSE(Fires(prec, Rec(R"({"b":1})")));
  auto nn = One(Rule(sels + "  condition: not not selection_a\n"));
  EXPECT_TRUE(Fires(nn, Rec(R"({"a":1})")));
}

TEST(SigmaTest, BadConditionsAreErrorsWithLine) {
  LoadReport report;
  LoadRulesFromString(Rule("  sel:\n    a: 1\n  condition: sel and\n"), "a.yml", &report);
  LoadRulesFromString(Rule("  sel:\n    a: 1\n  condition: nosuch\n"), "b.yml", &report);
  LoadRulesFromString(Rule("  sel:\n    a: 1\n  condition: (sel\n"), "c.yml", &report);
  LoadRulesFromString(Rule("  sel:\n    a: 1\n  condition: sel | count() > 5\n"), "d.yml", &report);
  ASSERT_EQ(report.errors.size(), 3u);
  for (const auto& e : report.errors) {
    EXPECT_EQ(e.line, 8) << e.ToString();  // the condition's line
  }
  ASSERT_EQ(report.unsupported.size(), 1u);
  EXPECT_NE(report.unsupported[0].reason.find("aggregation"), std::string::npos);
}

TEST(SigmaTest, YamlSyntaxErrorsCarryLineAndDoNotStopOtherFiles) {
  LoadReport report;
  auto set = LoadRulesFromStrings({{"bad.yml", "title: x\ndetection: [unclosed\n"},
                                   {"good.yml", Rule("  sel:\n    a: 1\n  condition: sel\n")}},
                                  &report);
  EXPECT_EQ(set.rules.size(), 1u);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].file, "bad.yml");
  EXPECT_GT(report.errors[0].line, 0);
}

TEST(SigmaTest, HostileYamlIsRefusedBeforeYamlCpp) {
  LoadReport report;
  LoadRulesFromString(std::string(100000, '['), "deep.yml", &report);
  LoadRulesFromString(std::string(kMaxRuleFileBytes + 1, 'a'), "big.yml", &report);
  EXPECT_EQ(report.errors.size(), 2u);
  // Aliases would make a document visit the same nodes again and again: bounded.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'k'; ++c, ++prev) {
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
  }
  bomb = "action: global\n" + bomb +
         "---\ntitle: t\nlogsource: {product: seccloud, service: t}\ndetection:\n  sel:\n"
         "    a: 1\n  condition: sel\n";
  LoadReport r2;
  LoadRulesFromString(bomb, "bomb.yml", &r2);
  ASSERT_EQ(r2.errors.size(), 1u);
  EXPECT_EQ(r2.errors[0].reason, "document too large");
}

// yaml-cpp 0.7's LoadAll never returns on a document that starts with a token no node begins
// with (found by soc_sigma_fuzz: a rule file whose mutated text had a block-level ','). Each
// such file is a YAML syntax error with its line; the good file beside it still loads.
TEST(SigmaTest, YamlThatWouldLoopYamlCppIsASyntaxError) {
  const std::string good = Rule("  sel:\n    a: 1\n  condition: sel\n");
  for (const std::string& text : std::vector<std::string>{
           ",", "!!str ,", "- a\n,", "title: x\n---\n,", good + "---\n,,,,\nlevel: high\n",
           "- {source.ip: 10.1.2.3, user forget: 7d\nlevel: high\n,\n"}) {
    SCOPED_TRACE(text);
    LoadReport report;
    auto set = LoadRulesFromStrings({{"loop.yml", text}, {"good.yml", good}}, &report);
    EXPECT_EQ(set.rules.size(), 1u);
    ASSERT_EQ(report.errors.size(), 1u);
    EXPECT_EQ(report.errors[0].file, "loop.yml");
    EXPECT_EQ(report.errors[0].reason, "YAML syntax");
    EXPECT_GT(report.errors[0].line, 0);
  }
}

// The loader skips the guard pass on texts YamlMayStall clears; over every text of up to 4 bytes
// of YAML's indicators, blanks and name bytes, each text the guard refuses must be flagged.
TEST(SigmaTest, YamlMayStallFlagsEveryTextTheGuardRefuses) {
  // With '\r' (a name byte to yaml-cpp, not a break) and NUL (UTF-16/32 text).
  static constexpr char kAlphabet[] = ",a-:?*&! \n[]{\"'#|\r";
  const std::string alphabet = std::string(kAlphabet, sizeof kAlphabet - 1) + '\0';
  std::vector<std::string> texts = {""};
  size_t refused = 0, flagged = 0, checked = 0;
  const auto check = [&](const std::string& t) {
    ++checked;
    const bool may_stall = sigma_internal::YamlMayStall(t);
    flagged += may_stall;
    try {
      sigma_internal::GuardYamlProgress(t);
    } catch (const YAML::Exception& e) {
      if (e.msg == "unexpected token where a document should start" ||
          e.msg == "more YAML events than the text can hold") {
        ++refused;
        if (!may_stall) ADD_FAILURE() << "not flagged: \"" << t << "\": " << e.msg;
      }
    }
  };
  for (int len = 1; len <= 4; ++len) {
    std::vector<std::string> longer;
    for (const auto& t : texts) {
      for (char c : alphabet) longer.push_back(t + c);
    }
    texts = std::move(longer);
    for (const auto& t : texts) check(t);
  }
  // Random longer texts over the same bytes (fixed seed).
  std::mt19937 rng(20261127);
  for (int n = 0; n < 100000; ++n) {
    std::string t(6 + rng() % 10, ' ');
    for (char& c : t) c = alphabet[rng() % alphabet.size()];
    check(t);
  }
  EXPECT_GT(refused, 1000u);  // the alphabet does reach the stall
  EXPECT_LT(flagged, checked);
  // Texts with ',' that the loader still parses once.
  for (const char* ok : {"a: b, c?", "- x,y", "a: 'p, q'", "a: [1, 2]", "a: {b: 1, c: 2}"}) {
    EXPECT_FALSE(sigma_internal::YamlMayStall(ok)) << ok;
  }
  // Linear: a bound-sized text of "a?" pairs (no ',' or '?' after a non-name byte).
  std::string pairs;
  for (size_t i = 0; i < kMaxRuleFileBytes / 2; ++i) pairs += "a?";
  EXPECT_FALSE(sigma_internal::YamlMayStall(pairs));
  for (const char* stall : {",", "a\n,", "&a,", "*a,", "!t,", "- 'x',", "[a],", "a ,", "?",
                            "!|\n? ", "&\ra,", "&a\rb,"}) {
    EXPECT_TRUE(sigma_internal::YamlMayStall(stall)) << stall;
  }
  // UTF-16LE "&\u4120," (bytes 26 00 20 41 2C 00): an anchor and a ',' to yaml-cpp, while the
  // byte before the ',' is 'A'; with and without a BOM. The guard refuses both.
  for (const std::string& stall :
       {std::string("&\0 A,\0", 6), std::string("\xff\xfe&\0 A,\0", 8)}) {
    EXPECT_TRUE(sigma_internal::YamlMayStall(stall));
    EXPECT_THROW(sigma_internal::GuardYamlProgress(stall), YAML::Exception);
  }
}

TEST(SigmaTest, ExpansionByModifiersIsBounded) {
  // windash turns a value with 3 dashes into 125: 1,000 such values would be 125,000 tests.
  std::string values;
  for (int i = 0; i < 1000; ++i) values += "      - ' -a" + std::to_string(i) + " -b -c'\n";
  LoadReport report;
  LoadRulesFromString(Rule("  sel:\n    a|windash|contains:\n" + values + "  condition: sel\n"),
                      "w.yml", &report);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].reason, "document too large");
}

// A rule of `selections` selections whose condition is `1 of s*` `refs` times: each `of` copies
// every selection into the condition (and the engine), selections × refs copies in all.
std::string OfEverySelectionRule(int selections, int refs) {
  std::string s = "title: t\nlogsource: {product: windows}\ndetection:\n";
  for (int i = 0; i < selections; ++i) s += "  s" + std::to_string(i) + ": {a: x}\n";
  s += "  condition: ";
  for (int k = 0; k < refs; ++k) s += k ? " or 1 of s*" : "1 of s*";
  return s + "\n";
}

// A rule whose one selection holds `values` values and whose condition names it `refs` times.
std::string NamedOftenRule(int values, int refs) {
  std::string s = "title: t\nlogsource: {product: windows}\ndetection:\n  big:\n    a:\n";
  for (int i = 0; i < values; ++i) s += "      - v" + std::to_string(i) + "\n";
  s += "  condition: big";
  for (int k = 1; k < refs; ++k) s += " or big";
  return s + "\n";
}

// The two condition bounds of a file, the same shape each: a document past the bound is an error
// at its condition's line (each such document of the file) and the other file loads; a document
// just under it loads; documents each under it are refused once their file's sum would pass it,
// the first loading.
TEST(SigmaTest, ConditionExpansionIsBoundedPerFile) {
  const std::string good = Rule("  sel:\n    a: 1\n  condition: sel\n");
  const struct {
    std::string over;   // one document past the bound
    size_t over_line;   // its condition's line
    std::string under;  // one just under it
    std::string half;   // under it alone, not twice
    int halves;         // documents of `half` in one file
    std::string detail;
  } cases[] = {
      // References: 1,600 × 1,600 (42 KB) would be 2,560,000; 99 × 101 = 9,999; 95 × 95 = 9,025.
      {OfEverySelectionRule(1600, 1600), 3 + 1600 + 1, OfEverySelectionRule(99, 101),
       OfEverySelectionRule(95, 95), 12,
       "more than " + std::to_string(kMaxConditionRefs) + " selection references"},
      // Copied tests: 20,000 values (+1 field test) named 50 times, 1,000,050; 49 times, 980,049;
      // 30 times, 600,030.
      {NamedOftenRule(20000, 50), 5 + 20000 + 1, NamedOftenRule(20000, 49),
       NamedOftenRule(20000, 30), 2,
       "more than " + std::to_string(kMaxConditionValueRefs) + " field and value tests"},
  };
  for (const auto& c : cases) {
    LoadReport r1;
    auto s1 =
        LoadRulesFromStrings({{"over.yml", c.over + "---\n" + c.over}, {"good.yml", good}}, &r1);
    EXPECT_EQ(s1.rules.size(), 1u) << c.detail;
    ASSERT_EQ(r1.errors.size(), 2u) << c.detail;
    for (const auto& e : r1.errors) {
      EXPECT_EQ(e.file, "over.yml");
      EXPECT_EQ(e.reason, "document too large");
      EXPECT_NE(e.detail.find(c.detail), std::string::npos) << e.detail;
    }
    EXPECT_EQ(r1.errors[0].line, c.over_line);

    LoadReport r2;
    auto s2 = LoadRulesFromStrings({{"under.yml", c.under}}, &r2);
    for (const auto& e : r2.errors) ADD_FAILURE() << e.ToString();
    EXPECT_EQ(s2.rules.size(), 1u) << c.detail;

    std::string halves;
    for (int k = 0; k < c.halves; ++k) halves += (k ? "---\n" : "") + c.half;
    LoadReport r3;
    auto s3 = LoadRulesFromStrings({{"halves.yml", halves}, {"good.yml", good}}, &r3);
    EXPECT_EQ(s3.rules.size(), 2u) << c.detail;
    EXPECT_EQ(r3.errors.size(), static_cast<size_t>(c.halves - 1)) << c.detail;
    for (const auto& e : r3.errors) EXPECT_EQ(e.reason, "document too large") << e.ToString();
  }
}

// A refused document charges nothing to its file's (or the load's) condition budget: the
// document after it in its file has the whole budget. base30 refused it when the first was
// oversized (the failed charge spent the file's budget) or refused for its logsource after its
// condition was charged.
TEST(SigmaTest, ARefusedDocumentChargesNothing) {
  const std::string fits = OfEverySelectionRule(95, 95);  // 9,025 references of 10,000
  std::string unmapped = fits;
  unmapped.replace(unmapped.find("windows"), 7, "no-such-product");
  const struct {
    std::string first, second;
    const char* reason;
  } cases[] = {
      {OfEverySelectionRule(200, 200), fits, "document too large"},  // 40,000 references
      {unmapped, fits, "logsource not collected: no-such-product"},
      // 1,001 tests named 1,000 and 999 times: past and just under kMaxConditionValueRefs.
      {NamedOftenRule(1000, 1000), NamedOftenRule(1000, 999), "document too large"},
  };
  for (const auto& c : cases) {
    LoadReport report;
    auto set = LoadRulesFromStrings({{"two.yml", c.first + "---\n" + c.second}}, &report);
    EXPECT_EQ(set.rules.size(), 1u) << c.reason;
    std::vector<LoadIssue> issues = report.errors;
    issues.insert(issues.end(), report.unsupported.begin(), report.unsupported.end());
    ASSERT_EQ(issues.size(), 1u) << c.reason;
    EXPECT_EQ(issues[0].reason, c.reason);
    EXPECT_EQ(issues[0].file, "two.yml");
    EXPECT_LE(issues[0].line, static_cast<size_t>(std::count(c.first.begin(), c.first.end(), '\n')))
        << c.reason;  // in the first document
  }
}

// The condition bounds hold for the load too (kMaxLoadConditionRefs, kMaxLoadConditionValueRefs):
// files each under their own bound are refused, "load too large" at their condition's
// file:line, once the load's sum would pass it; the files after them still load what fits.
// base30 bounded files only, so any number of them each had a fresh budget.
TEST(SigmaTest, ConditionExpansionIsBoundedLoadWide) {
  const std::string good = Rule("  sel:\n    a: 1\n  condition: sel\n");
  const struct {
    std::string file;       // under the file's bounds
    size_t refs, values;    // what it expands to
    size_t bound, charged;  // the load's bound it reaches, and its charge to it
    const char* detail;
  } cases[] = {
      // 95 references of 95 selections (a field test and a value each).
      {OfEverySelectionRule(95, 95), 95 * 95, 95 * 95 * 2, kMaxLoadConditionRefs, 95 * 95,
       " selection references the rules of one load may expand to together"},
      // 1,001 tests (1,000 values and their field) named 999 times.
      {NamedOftenRule(1000, 999), 999, 1001 * 999, kMaxLoadConditionValueRefs, 1001 * 999,
       " field and value tests the rules of one load may copy together"},
  };
  for (const auto& c : cases) {
    const size_t fit = c.bound / c.charged;
    std::vector<std::pair<std::string, std::string>> files;
    for (size_t i = 0; i < fit + 2; ++i)
      files.emplace_back("f" + std::to_string(i) + ".yml", c.file);
    files.emplace_back("good.yml", good);
    LoadReport report;
    auto set = LoadRulesFromStrings(files, &report);
    EXPECT_EQ(set.rules.size(), fit + 1) << c.detail;
    ASSERT_EQ(report.errors.size(), 2u) << c.detail;
    for (size_t k = 0; k < 2; ++k) {
      const LoadIssue& e = report.errors[k];
      EXPECT_EQ(e.file, "f" + std::to_string(fit + k) + ".yml");
      EXPECT_EQ(e.reason, "load too large");
      EXPECT_NE(e.detail.find(std::to_string(c.bound) + c.detail), std::string::npos) << e.detail;
      EXPECT_EQ(e.line, static_cast<size_t>(std::count(c.file.begin(), c.file.end(), '\n')));
    }
    EXPECT_EQ(report.condition_refs, fit * c.refs + 1) << c.detail;
    EXPECT_EQ(report.condition_value_refs, fit * c.values + 2) << c.detail;
  }
}

// A filter is not charged to its file's condition budget: beside an oversized document of its
// file, and compiled for its own style and its rule's, it still applies (the final read of stop 29:
// refused, its rules ran unfiltered).
TEST(SigmaTest, AFilterIsNotRefusedByItsFilesConditionBudget) {
  const std::string rule =
      "title: r\nid: r1\nlevel: high\nlogsource: {product: windows, category: process_creation}\n"
      "detection:\n  selection:\n    a|contains: evil\n  condition: selection\n";
  auto filter = [](const std::string& condition, const std::string& logsource) {
    return "title: f\nid: f1\nlogsource: " + logsource +
           "\nfilter:\n  rules: any\n  s:\n    b: gpo\n" + "  condition: " + condition + "\n";
  };
  LoadReport r1;
  auto s1 = LoadRulesFromStrings({{"f.yml", filter("not s", "{category: process_creation}") +
                                                "---\n" + OfEverySelectionRule(200, 200)},
                                  {"r.yml", rule}},
                                 &r1);
  ASSERT_EQ(r1.errors.size(), 1u);  // the oversized document alone
  EXPECT_EQ(r1.errors[0].reason, "document too large");
  EXPECT_EQ(s1.filters.size(), 1u);
  ASSERT_EQ(s1.rules.size(), 1u);
  EXPECT_EQ(s1.rules[0].filters.size(), 1u);
  // 6,000 references, under kMaxConditionRefs, compiled for its own style and the rule's.
  std::string condition = "not s";
  for (int i = 1; i < 6000; ++i) condition += " and not s";
  LoadReport r2;
  auto s2 = LoadRulesFromStrings(
      {{"f.yml", filter(condition, "{category: process_creation}")}, {"r.yml", rule}}, &r2);
  for (const auto& e : r2.errors) ADD_FAILURE() << e.ToString();
  EXPECT_EQ(s2.filters.size(), 1u);
  ASSERT_EQ(s2.rules.size(), 1u);
  EXPECT_EQ(s2.rules[0].filters.size(), 1u);
}

// A condition naming the last kMaxConditionRefs of 20,000 selections once each finds each
// selection with about one name comparison (the loader's name → selection map counts them,
// sigma_internal::condition_name_comparisons), not a scan per name (10,000 × 15,000
// comparisons); and each name finds its own selection. (Stop 29's version checked only the
// second, which the scan it replaced passed too.)
TEST(SigmaTest, ConditionNamesFindTheirSelectionsWithOneComparisonEach) {
  constexpr size_t kSelections = 20000;
  constexpr size_t kFirstNamed = kSelections - kMaxConditionRefs;
  std::string text = "title: t\nlogsource: {product: windows}\ndetection:\n";
  for (size_t i = 0; i < kSelections; ++i) {
    text += "  s" + std::to_string(i) + ": {a: x" + std::to_string(i) + "}\n";
  }
  text += "  condition: s" + std::to_string(kFirstNamed);
  for (size_t i = kFirstNamed + 1; i < kSelections; ++i) text += " or s" + std::to_string(i);
  text += "\n";
  LoadReport report;
  sigma_internal::condition_name_comparisons = 0;
  auto set = LoadRulesFromString(text, "names.yml", &report);
  const uint64_t comparisons = sigma_internal::condition_name_comparisons;
  EXPECT_GE(comparisons, kMaxConditionRefs);      // every name resolved through the map
  EXPECT_LE(comparisons, 2 * kMaxConditionRefs);  // and none by a scan
  for (const auto& e : report.errors) ADD_FAILURE() << e.ToString();
  ASSERT_EQ(set.rules.size(), 1u);
  const auto& rule = *set.rules[0].compiled;
  ASSERT_EQ(rule.root.kids.size(), kMaxConditionRefs);
  for (size_t k = 0; k < kMaxConditionRefs; k += 997) {
    EXPECT_EQ(rule.selections[static_cast<size_t>(rule.root.kids[k].selection)].name,
              "s" + std::to_string(kFirstNamed + k));
  }
}

TEST(SigmaTest, GlobalAndRepeatDocuments) {
  const std::string yaml =
      "action: global\ntitle: G\nlevel: low\nlogsource: {product: seccloud, service: t}\n"
      "detection:\n  condition: sel\n---\nid: one\ndetection:\n  sel:\n    a: 1\n---\n"
      "action: repeat\nid: two\ndetection:\n  sel:\n    a: 2\n";
  LoadReport report;
  auto set = LoadRulesFromString(yaml, "multi.yml", &report);
  for (const auto& e : report.errors) ADD_FAILURE() << e.ToString();
  ASSERT_EQ(set.rules.size(), 2u);
  EXPECT_EQ(set.rules[0].id, "one");
  EXPECT_EQ(set.rules[1].id, "two");
  EXPECT_EQ(set.rules[1].level, Level::kLow);
  EXPECT_TRUE(RuleMatches(set, set.rules[0], Rec(R"({"a":1})")));
  EXPECT_TRUE(RuleMatches(set, set.rules[1], Rec(R"({"a":2})")));
  EXPECT_FALSE(RuleMatches(set, set.rules[1], Rec(R"({"a":1})")));
}

TEST(SigmaTest, WindowsAndProxyFieldNamesMapToRecordPaths) {
  const std::string win =
      "title: W\nid: w\nlogsource: {product: windows, category: process_creation}\n"
      "detection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n    EventID: 1\n  condition: sel\n";
  auto set = One(win);
  Record r;
  r.fields() =
      boost::json::parse(
          R"({"event":{"dataset":"windows.sysmon"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"event_data":{"Image":"C:\\Windows\\cmd.exe"}}})")
          .as_object();
  EXPECT_TRUE(Fires(set, r));
  SetField(r.fields(), "winlog.event_id", 3);
  EXPECT_FALSE(Fires(set, r));  // network_connection, not process_creation
  const std::string proxy =
      "title: P\nid: p\nlogsource: {category: proxy}\n"
      "detection:\n  sel:\n    c-uri|contains: '/evil'\n    cs-host: bad.example\n"
      "  condition: sel\n";
  auto pset = One(proxy);
  Record p;
  p.fields() =
      boost::json::parse(
          R"({"event":{"dataset":"proxy.access"},"url":{"full":"http://bad.example/evil.exe","domain":"bad.example"}})")
          .as_object();
  EXPECT_TRUE(Fires(pset, p));
}

TEST(SigmaTest, UnmappedLogsourcesAreUnsupportedWithTheirName) {
  LoadReport report;
  LoadRulesFromString(
      "title: L\nlogsource: {product: linux, category: image_load}\ndetection:\n  sel:\n"
      "    a: 1\n  condition: sel\n",
      "l.yml", &report);
  ASSERT_EQ(report.unsupported.size(), 1u);
  EXPECT_NE(report.unsupported[0].detail.find("linux category image_load"), std::string::npos);
}

// Base rules the specification's correlation examples refer to by name.
constexpr const char* kSpecBases = R"(title: website access
name: website_access
logsource: {product: seccloud, service: proxy.access}
detection: {s: {event.action: allowed}, condition: s}
---
title: rule a
name: rule_a_id
logsource: {product: seccloud, service: proxy.access}
detection: {s: {event.action: allowed}, condition: s}
---
title: process creation
name: process_creation
logsource: {category: process_creation, product: windows}
detection: {s: {Image|endswith: .exe}, condition: s}
---
title: recon a
name: recon_cmd_a
logsource: {category: process_creation, product: windows}
detection: {s: {CommandLine|contains: whoami}, condition: s}
---
title: recon b
name: recon_cmd_b
logsource: {category: process_creation, product: windows}
detection: {s: {CommandLine|contains: ipconfig}, condition: s}
---
title: recon c
name: recon_cmd_c
logsource: {category: process_creation, product: windows}
detection: {s: {CommandLine|contains: net user}, condition: s}
)";

// The specification's tests/ examples (SigmaHQ/sigma-specification, tests/correlation/value_*.yml
// and tests/schema/correlation/*.yml), as written there.
TEST(SigmaCorrelationLoadTest, TheSpecificationsExamplesLoad) {
  LoadReport report;
  RuleSet set = LoadRulesFromStrings(
      {{"bases.yml", kSpecBases},
       {"value_sum.yml", R"(title: Possible Exfiltration to Website
correlation:
    type: value_sum
    rules:
        - website_access
    group-by:
        - SourceIP
        - User
    timespan: 1h
    condition:
        field: bytes_sent
        gt: 1000000)"},
       {"value_avg.yml", R"(title: Suspicious average network traffic
correlation:
    type: value_avg
    rules: 
        - rule_a_id
    group-by:
        - SourceIP
        - User
    timespan: 24h
    condition:
        field: BytesOut
        gt: 500)"},
       {"temporal_condition.yml", R"(title: Recon
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
    condition: recon_cmd_a AND recon_cmd_b AND recon_cmd_c
)"},
       {"temporal_ordered_condition.yml", R"(title: Recon ordered
correlation:
    type: temporal_ordered
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
    condition: recon_cmd_a AND recon_cmd_b AND recon_cmd_c
)"},
       {"value_percentile.yml",
        R"(title: A computer spawned a processes name in the last 24h than 1% of all the processes.
correlation:
    type: value_percentile
    rules: 
        - process_creation
    group-by:
        - ComputerName
    timespan: 24h
    condition:
        field: image
        lte: 1)"}},
      &report);
  for (const auto& e : report.errors) ADD_FAILURE() << e.ToString();
  ASSERT_EQ(set.correlations.size(), 4u);
  const auto& sum = set.correlations[0];
  EXPECT_EQ(sum.type, CorrelationType::kValueSum);
  EXPECT_EQ(sum.value_field, "bytes_sent");
  EXPECT_EQ(sum.op, CompareOp::kGt);
  EXPECT_EQ(sum.threshold, 1'000'000 * kMetricScale);
  EXPECT_EQ(sum.timespan_ms, 3'600'000);
  EXPECT_EQ(set.correlations[1].type, CorrelationType::kValueAvg);
  EXPECT_EQ(set.correlations[1].threshold, 500 * kMetricScale);
  for (size_t i : {2, 3}) {
    EXPECT_EQ(set.correlations[i].rule_condition, (std::vector<uint64_t>{0b111})) << i;
    EXPECT_EQ(set.correlations[i].rule_condition_text,
              "recon_cmd_a AND recon_cmd_b AND recon_cmd_c");
  }
  EXPECT_EQ(set.correlations[3].type, CorrelationType::kTemporalOrdered);
  // value_percentile without condition.percentile: which percentile is meant is not said.
  ASSERT_EQ(report.unsupported.size(), 1u);
  EXPECT_EQ(report.unsupported[0].reason, "value_percentile without condition.percentile");
  EXPECT_EQ(report.unsupported[0].file, "value_percentile.yml");
  EXPECT_EQ(report.unsupported[0].line, 10);  // the condition map
}

TEST(SigmaCorrelationLoadTest, MetricConditions) {
  auto load = [](const std::string& type, const std::string& condition, LoadReport* report) {
    return LoadRulesFromStrings(
        {{"bases.yml", kSpecBases},
         {"c.yml", "title: c\ncorrelation:\n  type: " + type +
                       "\n  rules: website_access\n  group-by: [source.ip]\n  timespan: 1h\n"
                       "  condition: " +
                       condition + "\n"}},
        report);
  };
  LoadReport ok;
  RuleSet set = load("value_percentile", "{field: b, percentile: 95, lte: -0.25}", &ok);
  ASSERT_EQ(set.correlations.size(), 1u) << (ok.errors.empty() ? "" : ok.errors[0].ToString());
  EXPECT_EQ(set.correlations[0].percentile, 95);
  EXPECT_EQ(set.correlations[0].threshold, -250'000);
  set = load("value_median", "{field: b, neq: 3}", &ok);
  ASSERT_EQ(set.correlations.size(), 1u);
  EXPECT_EQ(set.correlations[0].op, CompareOp::kNeq);
  EXPECT_TRUE(ok.errors.empty() && ok.unsupported.empty());

  struct Bad {
    const char* type;
    const char* condition;
    const char* detail;  // a part of the error's detail
  };
  for (const Bad& b : std::initializer_list<Bad>{
           {"value_sum", "{gt: 5}", "value_sum needs condition.field"},
           {"value_median", "{field: b}", "no operator"},
           {"value_avg", "{field: b, gt: 0.0000001}", "at most 6 decimals"},
           {"value_avg", "{field: b, gt: 1e13}", "within ±9.2e12"},
           {"value_avg", "{field: b, gt: lots}", "gt needs a number"},
           {"value_sum", "{field: b, percentile: 5, gt: 1}", "percentile applies"},
           {"value_percentile", "{field: b, percentile: 101, gt: 1}", "0…100"},
           {"value_percentile", "{field: b, percentile: 9.5, gt: 1}", "0…100"},
           {"event_count", "{gt: 1.5}", "integer"},
           {"value_sum", "website_access", "temporal and temporal_ordered only"},
       }) {
    LoadReport report;
    EXPECT_TRUE(load(b.type, b.condition, &report).correlations.empty()) << b.condition;
    ASSERT_EQ(report.errors.size(), 1u) << b.type << " " << b.condition;
    EXPECT_NE(report.errors[0].detail.find(b.detail), std::string::npos)
        << report.errors[0].ToString();
    EXPECT_EQ(report.errors[0].file, "c.yml");
    EXPECT_GT(report.errors[0].line, 0);
  }
  LoadReport range;
  EXPECT_TRUE(load("value_sum", "{field: b, gt: 1, lte: 5}", &range).correlations.empty());
  ASSERT_EQ(range.unsupported.size(), 1u);
  EXPECT_EQ(range.unsupported[0].reason, "correlation condition with a range");
}

TEST(SigmaCorrelationLoadTest, TemporalConditionExpressions) {
  auto load = [](const std::string& type, const std::string& rules, const std::string& condition,
                 LoadReport* report) {
    return LoadRulesFromStrings(
        {{"bases.yml", kSpecBases},
         {"t.yml", "title: t\ncorrelation:\n  type: " + type + "\n" + rules +
                       "  group-by: [host.name]\n  timespan: 5m\n  condition: " + condition +
                       "\n"}},
        report);
  };
  const std::string abc = "  rules: [recon_cmd_a, recon_cmd_b, recon_cmd_c]\n";
  LoadReport ok;
  // Precedence: and binds tighter than or; parentheses; the normal form is minimal.
  RuleSet set = load("temporal", abc, "recon_cmd_a or recon_cmd_b and recon_cmd_c", &ok);
  ASSERT_EQ(set.correlations.size(), 1u);
  EXPECT_EQ(set.correlations[0].rule_condition, (std::vector<uint64_t>{0b001, 0b110}));
  set = load("temporal", abc, "(recon_cmd_a or recon_cmd_b) and recon_cmd_c", &ok);
  EXPECT_EQ(set.correlations[0].rule_condition, (std::vector<uint64_t>{0b101, 0b110}));
  set = load("temporal_ordered", abc,
             "recon_cmd_a and (recon_cmd_a or recon_cmd_b) and recon_cmd_c", &ok);
  EXPECT_EQ(set.correlations[0].rule_condition, (std::vector<uint64_t>{0b101}));
  // pySigma: without `rules`, the rules are the names of the expression, in order.
  set = load("temporal", "", "recon_cmd_c and recon_cmd_a", &ok);
  ASSERT_EQ(set.correlations.size(), 1u);
  ASSERT_EQ(set.correlations[0].rules.size(), 2u);
  EXPECT_EQ(set.rules[set.correlations[0].rules[0]].name, "recon_cmd_c");
  EXPECT_EQ(set.rules[set.correlations[0].rules[1]].name, "recon_cmd_a");
  set = load("temporal", "  rules: []\n", "recon_cmd_b or recon_cmd_a", &ok);
  ASSERT_EQ(set.correlations.size(), 1u);
  EXPECT_EQ(set.correlations[0].rules.size(), 2u);
  // `rules: ~` (null) is a missing list too (review finding F6: it was a load error).
  for (const char* null_rules : {"  rules: ~\n", "  rules: null\n", "  rules:\n"}) {
    set = load("temporal_ordered", null_rules, "recon_cmd_b and recon_cmd_a", &ok);
    ASSERT_EQ(set.correlations.size(), 1u) << null_rules;
    ASSERT_EQ(set.correlations[0].rules.size(), 2u) << null_rules;
    EXPECT_EQ(set.rules[set.correlations[0].rules[0]].name, "recon_cmd_b") << null_rules;
  }
  EXPECT_TRUE(ok.errors.empty() && ok.unsupported.empty());

  for (const auto& [condition, detail] : std::initializer_list<std::pair<const char*, const char*>>{
           {"recon_cmd_a and recon_cmd_b and nosuch and recon_cmd_c", "\"nosuch\" is not in rules"},
           {"recon_cmd_a and recon_cmd_b", "recon_cmd_c is in rules but not in the condition"},
           {"recon_cmd_a and and recon_cmd_b and recon_cmd_c",
            "expected a rule name at character 17"},
           {"(recon_cmd_a and recon_cmd_b and recon_cmd_c", "expected )"},
           {"recon_cmd_a and recon_cmd_b and recon_cmd_c)", "unexpected text"},
           {"recon_cmd_a recon_cmd_b recon_cmd_c", "unexpected text"},
           {"recon-cmd-a and recon_cmd_b and recon_cmd_c", "\"recon\" is not in rules"},
           {"''", "expected a rule name"},
       }) {
    LoadReport report;
    EXPECT_TRUE(load("temporal", abc, condition, &report).correlations.empty()) << condition;
    ASSERT_EQ(report.errors.size(), 1u) << condition;
    EXPECT_NE(report.errors[0].detail.find(detail), std::string::npos)
        << report.errors[0].ToString();
    EXPECT_EQ(report.errors[0].line, 7) << report.errors[0].ToString();  // the condition's
  }
  LoadReport negated;
  EXPECT_TRUE(load("temporal", abc, "recon_cmd_a and recon_cmd_b and not recon_cmd_c", &negated)
                  .correlations.empty());
  ASSERT_EQ(negated.unsupported.size(), 1u);
  EXPECT_EQ(negated.unsupported[0].reason, "temporal condition with not");
  // Bounded: nesting, length, and the expanded normal form.
  LoadReport deep;
  load(
      "temporal", abc,
      std::string(100, '(') + "recon_cmd_a and recon_cmd_b and recon_cmd_c" + std::string(100, ')'),
      &deep);
  ASSERT_EQ(deep.errors.size(), 1u);
  EXPECT_NE(deep.errors[0].detail.find("nested too deeply"), std::string::npos);
  LoadReport longer;
  std::string many = "recon_cmd_a and recon_cmd_b and recon_cmd_c";
  while (many.size() <= kMaxRuleConditionBytes) many += " or recon_cmd_a";
  load("temporal", abc, many, &longer);
  ASSERT_EQ(longer.errors.size(), 1u);
  EXPECT_NE(longer.errors[0].detail.find("longer than"), std::string::npos);
  // (a1 or b1) and (a2 or b2) and … over 7 pairs: 2^7 = 128 alternatives.
  std::string pairs_rules = "  rules: [";
  std::string product;
  std::string bases;
  for (int i = 0; i < 7; ++i) {
    for (const char* side : {"x", "y"}) {
      const std::string n = std::string(side) + std::to_string(i);
      bases += "---\ntitle: " + n + "\nname: " + n +
               "\nlogsource: {product: seccloud, service: t}\ndetection: {s: {a: " + n +
               "}, condition: s}\n";
      pairs_rules += n + ",";
    }
    product += std::string(i ? " and " : "") + "(x" + std::to_string(i) + " or y" +
               std::to_string(i) + ")";
  }
  pairs_rules.back() = ']';
  LoadReport complex;
  LoadRulesFromStrings(
      {{"b.yml", bases},
       {"t.yml", "title: t\ncorrelation:\n  type: temporal\n" + pairs_rules +
                     "\n  group-by: [host.name]\n  timespan: 5m\n  condition: " + product + "\n"}},
      &complex);
  ASSERT_EQ(complex.unsupported.size(), 1u);
  EXPECT_EQ(complex.unsupported[0].reason, "temporal condition too complex");
  // An expression is for temporal types only.
  LoadReport count;
  load("event_count", abc, "recon_cmd_a", &count);
  ASSERT_EQ(count.errors.size(), 1u);
}

}  // namespace
}  // namespace seccloud::soc
