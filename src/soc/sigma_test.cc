#include "soc/sigma.h"

#include <gtest/gtest.h>
#include <yaml-cpp/exceptions.h>

#include <boost/json.hpp>
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

}  // namespace
}  // namespace seccloud::soc
