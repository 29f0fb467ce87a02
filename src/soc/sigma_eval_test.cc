// The DetectionEngine's predicate programs and prefilter (sigma_eval.h) against the reference
// matcher (MatchContext::Admits + Matches, the tree walk RuleMatches uses): over SigmaHQ's rule
// corpus and regression events, and over near-miss variants of those events, the engine must
// fire exactly the emitting rules the reference finds.

#include "soc/sigma_eval.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "core/sanitizer_testing.h"
#include "soc/detect.h"
#include "soc/parse.h"
#include "soc/parse_testing.h"
#include "soc/sigma.h"
#include "soc/sigma_internal.h"
#include "soc/winlog.h"

namespace seccloud::soc {
namespace {

namespace fs = std::filesystem;

const fs::path kSigmaData = fs::path(SECCLOUD_SOURCE_DIR "/../shared/data/sigma");

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs every record through the engine and the reference; returns how many (record, rule) pairs
// matched, and adds a failure per disagreement.
size_t ExpectAgreement(const RuleSet& set, const std::vector<Record>& records) {
  auto engine = DetectionEngine::Create(set);
  EXPECT_TRUE(engine.has_value());
  if (!engine) return 0;
  sigma_internal::MatchContext ref(set.fields.get());
  size_t matched = 0;
  for (const Record& r : records) {
    std::vector<Detection> out;
    (*engine)->Process(r, &out);
    std::multiset<std::string> got;
    for (const auto& d : out) got.insert(d.rule_id);
    std::multiset<std::string> want;
    ref.Reset(r);
    for (const auto& rule : set.rules) {
      if (!rule.emit) continue;
      if (ref.Admits(rule.compiled->logsource) && ref.Matches(*rule.compiled)) {
        want.insert(rule.id);
      }
    }
    matched += want.size();
    EXPECT_EQ(got, want) << r.raw.substr(0, 400);
  }
  return matched;
}

// The string values of an object, as dotted paths (for mutating one of them).
void StringPaths(const boost::json::object& o, const std::string& prefix,
                 std::vector<std::string>* out) {
  for (const auto& kv : o) {
    const std::string path = prefix + std::string(kv.key());
    if (kv.value().is_string()) out->push_back(path);
    if (kv.value().is_object()) StringPaths(kv.value().get_object(), path + ".", out);
  }
}

// Near misses and near hits of a record's matches: one string field changed at an edge (where
// startswith/endswith/equals differ from contains) or in case.
std::vector<Record> Variants(const Record& r, std::mt19937* rng) {
  std::vector<std::string> paths;
  StringPaths(r.fields(), "", &paths);
  std::vector<Record> out;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!test::RunsInThisBuild(i)) continue;  // a sanitizer build varies a share of the paths
    const std::string& path = paths[i];
    const auto* v = FindField(r.fields(), path);
    const std::string s(v->get_string());
    std::vector<std::string> edits = {"x" + s, s + "x", s.empty() ? s : s.substr(1),
                                      s.empty() ? s : s.substr(0, s.size() - 1), ""};
    std::string upper = s;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    edits.push_back(upper);
    std::string doubled = s + " " + s;
    edits.push_back(doubled);
    const std::string& e = edits[(*rng)() % edits.size()];
    Record copy = r;
    SetField(copy.fields(), path, boost::json::string(e));
    out.push_back(std::move(copy));
  }
  return out;
}

TEST(SigmaEvalTest, EngineAgreesWithReferenceOnRegressionEventsAndVariants) {
  const fs::path reg = kSigmaData / "regression_data";
  if (!fs::is_directory(reg) || !fs::is_directory(kSigmaData / "rules")) {
    GTEST_SKIP() << reg << " is absent (SigmaHQ regression data is test data, not in the repo)";
  }
  LoadReport report;
  auto set = LoadRules({kSigmaData / "rules"}, &report);
  ASSERT_TRUE(set.has_value());
  std::vector<Record> records;
  std::mt19937 rng(5);
  uint64_t seq = 0;
  for (const auto& e : fs::recursive_directory_iterator(reg)) {
    if (e.path().extension() != ".json") continue;
    for (std::string& doc : parse_testing::SplitJsonDocuments(ReadFile(e.path()))) {
      Record r;
      r.seq = ++seq;
      r.format = Format::kWindowsEvent;
      r.received_ms = 1'700'000'000'000;
      r.source = "test";
      r.raw = std::move(doc);
      NormalizeWindowsEvent(r);
      for (auto& v : Variants(r, &rng)) records.push_back(std::move(v));
      records.push_back(std::move(r));
    }
  }
  // Other sources the rules see: syslog (sshd, sudo), web and proxy logs, EVE.
  const std::pair<Format, const char*> kLines[] = {
      {Format::kSyslog,
       "<38>Nov  3 10:00:01 web1 sshd[811]: Failed password for invalid user admin from "
       "203.0.113.9 port 52311 ssh2"},
      {Format::kSyslog,
       "<85>Nov  3 10:00:02 web1 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
       "COMMAND=/bin/cat /etc/shadow"},
      {Format::kAccessLog,
       "10.1.2.3 - - [03/Nov/2026:10:00:03 +0000] \"GET /cgi-bin/../../etc/passwd HTTP/1.1\" 404 "
       "153 \"-\" \"sqlmap/1.7\""},
      {Format::kAccessLog,
       "10.1.2.3 - - [03/Nov/2026:10:00:03 +0000] \"GET /index.php?cmd=whoami;cat%20/etc/passwd "
       "HTTP/1.1\" 200 153 \"-\" \"curl/8.0\""},
      {Format::kSuricataEve,
       R"({"timestamp":"2026-11-03T10:00:04.000000+0000","event_type":"dns","src_ip":"10.1.2.3",)"
       R"("dest_ip":"10.0.0.53","proto":"UDP","dns":{"type":"query","rrname":"x.ngrok.io"}})"},
  };
  for (const auto& [format, line] : kLines) {
    Record r;
    r.seq = ++seq;
    r.format = format;
    r.received_ms = 1'790'000'000'000;
    r.source = "test";
    r.raw = line;
    Normalize(r);
    for (auto& v : Variants(r, &rng)) records.push_back(std::move(v));
    records.push_back(std::move(r));
  }
  const size_t matched = ExpectAgreement(*set, records);
  std::cout << records.size() << " records, " << matched << " (record, rule) matches\n";
  EXPECT_GT(matched, 90u);  // the regression events fire their rules
}

// The same agreement over bench/loggen.py's mixed stream (the benchmark's records: seccloud
// events, syslog, web, EVE, Windows Security and Sysmon events, Loghub-style text), so the gate
// scans and the prefilter are checked on the data their speed is measured on.
TEST(SigmaEvalTest, EngineAgreesWithReferenceOnLoggenRecords) {
  const fs::path loggen = fs::path(SECCLOUD_SOURCE_DIR) / "bench" / "loggen.py";
  if (!fs::is_directory(kSigmaData / "rules")) {
    GTEST_SKIP() << kSigmaData / "rules"
                 << " is absent (SigmaHQ rules are test data)";
  }
  if (!fs::exists(loggen) || std::system("python3 -c '' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 or " << loggen << " is not available";
  }
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("sigma_loggen_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string cmd = "python3 '" + loggen.string() + "' --out '" + dir.string() +
                          "' --records 8000 --seed 7 >/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  LoadReport report;
  auto set = LoadRules({kSigmaData / "rules"}, &report);
  ASSERT_TRUE(set.has_value());
  const auto manifest = boost::json::parse(ReadFile(dir / "manifest.json")).as_object();
  std::vector<Record> records;
  std::mt19937 rng(11);
  uint64_t seq = 0;
  size_t windows = 0;
  for (const auto& f : manifest.at("files").as_array()) {
    Format format;
    ASSERT_TRUE(ParseFormatName(std::string(f.at("format").as_string()), &format));
    std::ifstream in(dir / std::string(f.at("path").as_string()));
    std::string line;
    while (std::getline(in, line)) {
      windows += format == Format::kWindowsEvent;
      if (!test::RunsInThisBuild(seq++)) continue;  // a sanitizer build takes a share
      Record r;
      r.seq = seq;
      r.format = format;
      r.received_ms = 1'800'000'000'000;
      r.source = "loggen";
      r.raw = line;
      Normalize(r);
      // Near misses for a sample, the records as they are for all.
      if (seq / test::kSanitizerStride % 100 == 0) {
        for (auto& v : Variants(r, &rng)) records.push_back(std::move(v));
      }
      records.push_back(std::move(r));
    }
  }
  fs::remove_all(dir);
  ASSERT_GT(windows, 300u);
  const size_t matched = ExpectAgreement(*set, records);
  std::cout << records.size() << " loggen records (" << windows << " Windows events), " << matched
            << " (record, rule) matches\n";
  EXPECT_GT(matched, 100u / test::kSanitizerStride);  // loggen's Sysmon process events fire rules
}

// A test rule for seccloud's proxy.access records: its title (after `prefix`), id and detection
// block's lines.
struct ProxyRule {
  const char* title;
  const char* id;
  const char* detection;
};

// Loads the rules as one file; every one must load.
RuleSet LoadProxyRules(const std::vector<ProxyRule>& rows, const std::string& prefix) {
  std::string rules;
  for (const ProxyRule& r : rows) {
    rules += std::string(rules.empty() ? "" : "---\n") + "title: " + prefix + r.title +
             "\nid: " + r.id +
             "\nlogsource: {product: seccloud, service: proxy.access}\ndetection:\n" + r.detection;
  }
  LoadReport report;
  RuleSet set = LoadRulesFromString(rules, "rules.yml", &report);
  EXPECT_EQ(set.rules.size(), rows.size())
      << (report.errors.empty() ? "" : report.errors[0].ToString());
  return set;
}

// Hand-made rules at the predicates' edges: equals/startswith/endswith against where the literal
// occurs, repeated literals, |all, keywords in message and raw, |cased, globs, not, 1 of.
TEST(SigmaEvalTest, PredicatesAtTheEdges) {
  const std::vector<ProxyRule> kEdgeRules = {
      {"equals", "r-equals",
       "  sel: {url.path: '/a/b'}\n"
       "  condition: sel\n"},
      {"startswith", "r-starts",
       "  sel: {url.path|startswith: '/ab'}\n"
       "  condition: sel\n"},
      {"endswith", "r-ends",
       "  sel: {url.path|endswith: 'ab/'}\n"
       "  condition: sel\n"},
      {"contains all", "r-all",
       "  sel: {url.path|contains|all: ['abc', 'xyz']}\n"
       "  condition: sel\n"},
      {"not", "r-not",
       "  sel: {url.path|contains: 'abc'}\n"
       "  filter: {url.path|endswith: '.png'}\n"
       "  condition: sel and not filter\n"},
      {"keywords", "r-kw",
       "  keywords: ['evil-marker', 'other-marker']\n"
       "  condition: keywords\n"},
      {"cased", "r-cased",
       "  sel: {url.path|contains|cased: 'MiXeD'}\n"
       "  condition: sel\n"},
      {"glob", "r-glob",
       "  sel: {url.path: '/adm?n/*/conf*'}\n"
       "  condition: sel\n"},
      {"one of", "r-oneof",
       "  sel_a: {url.path|startswith: '/one'}\n"
       "  sel_b: {url.path|endswith: 'two'}\n"
       "  condition: 1 of sel_*\n"},
      {"only not", "r-onlynot",
       "  filter: {url.path|contains: 'zzz'}\n"
       "  condition: not filter\n"},
  };
  const RuleSet set = LoadProxyRules(kEdgeRules, "edges ");
  ASSERT_EQ(set.rules.size(), kEdgeRules.size());
  std::vector<Record> records;
  for (const char* path : {"/a/b",         "/a/b/",    "x/a/b",           "/ab",
                           "/abab/",       "ab/",      "/ab/ab/",         "abc",
                           "xyzabc",       "abcxyz",   "/abc.png",        "/abc.png.x",
                           "/MiXeD",       "/mixed",   "/admin/x/config", "/adm_n//conf",
                           "/admn/x/conf", "/one/two", "/onetwo",         "/two",
                           "zzz",          "",         "/ABAB/",          "/A/B"}) {
    for (const char* message : {"", "an evil-marker here", "EVIL-MARKER"}) {
      Record r;
      r.seq = records.size() + 1;
      r.time_ms = 1'790'000'000'000;
      r.raw = std::string("raw ") + path + (std::string(message).empty() ? " other-marker" : "");
      SetField(r.fields(), "event.dataset", boost::json::string("proxy.access"));
      SetField(r.fields(), "url.path", boost::json::string(path));
      if (*message) SetField(r.fields(), "message", boost::json::string(message));
      records.push_back(std::move(r));
    }
  }
  Record absent;  // the field absent altogether
  absent.seq = 1000;
  SetField(absent.fields(), "event.dataset", boost::json::string("proxy.access"));
  records.push_back(std::move(absent));
  Record number;  // a number where the rules expect text
  number.seq = 1001;
  SetField(number.fields(), "event.dataset", boost::json::string("proxy.access"));
  SetField(number.fields(), "url.path", boost::json::value(12345));
  records.push_back(std::move(number));
  EXPECT_GT(ExpectAgreement(set, records), 40u);
}

// |neq and the time modifiers through the engine: a |neq item adds no prefilter clause (a rule of
// only |neq items is evaluated for every record of its logsource, the field present or not), and
// a rule mixing a positive test and a |neq is still found by its positive one.
TEST(SigmaEvalTest, NeqAndTimePartsAgreeWithReference) {
  const std::vector<ProxyRule> kRules = {
      {"only neq", "r-neq", "  sel: {url.path|neq: '/a/b'}\n  condition: sel\n"},
      {"neq list", "r-neq-list", "  sel: {url.path|neq: ['/a/b', '/ab']}\n  condition: sel\n"},
      {"neq contains all", "r-neq-all",
       "  sel: {url.path|contains|all|neq: ['abc', 'xyz']}\n  condition: sel\n"},
      {"positive and neq", "r-pos-neq",
       "  sel:\n    url.path|startswith: '/ab'\n    url.path|endswith|neq: '/'\n"
       "  condition: sel\n"},
      {"not neq", "r-not-neq", "  sel: {url.path|neq: 'abc'}\n  condition: not sel\n"},
      {"neq keyword", "r-neq-kw", "  sel: {'|contains|neq': 'evil-marker'}\n  condition: sel\n"},
      {"fieldref neq", "r-ref-neq",
       "  sel: {url.path|fieldref|neq: url.query}\n  condition: sel\n"},
      {"hour", "r-hour", "  sel: {t|hour: [22, 23, 0]}\n  condition: sel\n"},
      {"hour neq and path", "r-hour-neq",
       "  sel:\n    url.path|contains: 'ab'\n    t|hour|neq: [9, 10, 11]\n  condition: sel\n"},
      {"week month year", "r-wmy",
       "  sel: {t|week: 1, t|month: 12, t|year: 2024}\n  condition: sel\n"},
  };
  const RuleSet set = LoadProxyRules(kRules, "neq ");
  ASSERT_EQ(set.rules.size(), kRules.size());
  std::vector<Record> records;
  for (const char* path : {"/a/b", "/ab", "/ab/", "/abc", "abcxyz", "xyzabc", "abc", "", "/A/B"}) {
    for (const char* t :
         {"2024-12-30T23:00:00Z", "2024-12-30 10:30:00.5", "2024-06-01", "not a date", ""}) {
      for (const char* query : {"", "/ab"}) {
        Record r;
        r.seq = records.size() + 1;
        r.raw = std::string("raw ") + path + (records.size() % 3 == 0 ? " evil-marker" : "");
        SetField(r.fields(), "event.dataset", boost::json::string("proxy.access"));
        SetField(r.fields(), "url.path", boost::json::string(path));
        if (*t) SetField(r.fields(), "t", boost::json::string(t));
        if (*query) SetField(r.fields(), "url.query", boost::json::string(query));
        records.push_back(std::move(r));
      }
    }
  }
  Record bare;  // every field absent: the |neq rules hold
  bare.seq = 1000;
  SetField(bare.fields(), "event.dataset", boost::json::string("proxy.access"));
  records.push_back(bare);
  EXPECT_GT(ExpectAgreement(set, records), 200u);
  // And in absolute terms: the engine fires the |neq-only rules on the bare record.
  auto engine = DetectionEngine::Create(set);
  ASSERT_TRUE(engine.has_value());
  std::vector<Detection> out;
  (*engine)->Process(bare, &out);
  std::set<std::string> fired;
  for (const auto& d : out) fired.insert(d.rule_id);
  EXPECT_EQ(fired,
            (std::set<std::string>{"r-neq", "r-neq-list", "r-neq-all", "r-neq-kw", "r-ref-neq"}));
}

// A municipal rule on a Windows (Sysmon) event in the regression data's shape: an admin tool run
// outside office hours. UtcTime is UTC and taken as written, so Japan's 08:00–18:59 JST office
// day is written as UTC hours 23 and 0–9; the rule names the other hours.
TEST(SigmaEvalTest, AdminToolOutsideOfficeHoursFiresOnASysmonEvent) {
  const std::string rule =
      "title: Admin tool outside office hours\nid: 5d6f0c2e-0000-4000-8000-000000000028\n"
      "level: medium\nlogsource: {product: windows, category: process_creation}\n"
      "detection:\n  sel:\n    Image|endswith: ['\\net.exe', '\\net1.exe', '\\whoami.exe']\n"
      "    UtcTime|hour: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]\n"
      "  filter_system:\n    User|neq: 'NT AUTHORITY\\SYSTEM'\n"
      "  condition: sel and filter_system\n";
  LoadReport report;
  const RuleSet set = LoadRulesFromString(rule, "office_hours.yml", &report);
  ASSERT_EQ(set.rules.size(), 1u) << (report.errors.empty() ? "" : report.errors[0].ToString());
  auto event = [](const std::string& utc, const std::string& user) {
    Record r;
    r.seq = 1;
    r.format = Format::kWindowsEvent;
    r.received_ms = 1'700'000'000'000;
    r.source = "test";
    r.raw = R"({"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},)"
            R"("EventID":1,"TimeCreated":{"#attributes":{"SystemTime":")" +
            utc.substr(0, 10) + "T" + utc.substr(11) +
            R"(Z"}},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"pc-0128"},)"
            R"("EventData":{"UtcTime":")" +
            utc +
            R"(","Image":"C:\\Windows\\System32\\net.exe",)"
            R"("CommandLine":"net user /domain","User":")" +
            user + R"("}}})";
    NormalizeWindowsEvent(r);
    return r;
  };
  auto engine = DetectionEngine::Create(set);
  ASSERT_TRUE(engine.has_value());
  auto fires = [&](const Record& r) {
    std::vector<Detection> out;
    (*engine)->Process(r, &out);
    EXPECT_EQ(out.size() == 1, RuleMatches(set, set.rules[0], r)) << r.raw;
    return out.size() == 1;
  };
  EXPECT_TRUE(fires(event("2025-11-27 13:05:10.132", "PC-0128\\\\tanaka")));   // 22:05 JST
  EXPECT_TRUE(fires(event("2025-11-27 22:59:59.999", "PC-0128\\\\tanaka")));   // 07:59 JST
  EXPECT_FALSE(fires(event("2025-11-27 23:00:00.000", "PC-0128\\\\tanaka")));  // 08:00 JST
  EXPECT_FALSE(fires(event("2025-11-27 02:40:10.132", "PC-0128\\\\tanaka")));  // 11:40 JST
  EXPECT_FALSE(fires(event("2025-11-27 09:59:59.000", "PC-0128\\\\tanaka")));  // 18:59 JST
  EXPECT_TRUE(fires(event("2025-11-27 10:00:00.000", "PC-0128\\\\tanaka")));   // 19:00 JST
  EXPECT_FALSE(fires(event("2025-11-27 13:05:10.132", "NT AUTHORITY\\\\SYSTEM")));
  EXPECT_TRUE(fires(event("2025-11-27 13:05", "PC-0128\\\\tanaka")));      // no seconds: a date
  EXPECT_FALSE(fires(event("2025/11/27 13:05:10", "PC-0128\\\\tanaka")));  // not a date
}

// Keywords look in the message and the raw text; when the message is a piece of the raw text the
// engine scans the raw text once and takes the message's occurrences from inside its copy. The
// edges of that window (a literal at the message's start or end, across its border, a message
// found twice or not at all) must decide as two separate scans would.
TEST(SigmaEvalTest, KeywordsInAMessageInsideTheRawText) {
  // Field-less map keys are keyword tests with modifiers: they keep their own anchoring.
  const std::vector<ProxyRule> kRules = {
      {"contains", "k-contains", "  keywords: ['mark']\n  condition: keywords\n"},
      {"starts", "k-starts", "  sel: {'|startswith': 'mark'}\n  condition: sel\n"},
      {"ends", "k-ends", "  sel: {'|endswith': 'mark'}\n  condition: sel\n"},
      {"equals", "k-equals", "  sel: {'': 'mark'}\n  condition: sel\n"},
      {"cased", "k-cased", "  sel: {'|contains|cased': 'MarK'}\n  condition: sel\n"},
      {"across", "k-across", "  keywords: ['x: ma']\n  condition: keywords\n"},
  };
  const RuleSet set = LoadProxyRules(kRules, "keyword ");
  ASSERT_EQ(set.rules.size(), kRules.size());
  std::vector<Record> records;
  const std::vector<std::pair<std::string, std::string>> kCases = {
      {"<13>host x: mark", "mark"},
      {"<13>host x: mark", "x: mark"},
      {"mark <13>host x: y", "mark"},
      {"<13>host x: marked", "mark"},
      {"<13>host x: remark", "remark"},
      {"<13>host x: remark", "rem"},
      {"mark mark", "mark"},
      {"a mark b", "mark b"},
      {"<13>host x: MarK", "MarK"},
      {"<13>host x: MarK", "x: MarK"},
      {"<13>host x: y", "mark"},
      {"<13>host", "<13>host"},
      {"mar", "mar"},
      {"kmark", "k"},
      {"markmark", "mark"},
      {"x: mark x: mark", "x: mark"},
      {"", ""},
      {"mark", ""},
      {"x: mark", "mar"},
      {"x: mark", "ark"},
      {"x: marky", "x: mar"},
      {"ma mark", "ma"},
      // The message at the tail and earlier too: the window is the tail, the hits the same.
      {"mark x: mark", "mark"},
      {"x: ma x: ma", "x: ma"},
      {"MarK mark", "mark"},
      {"markmark", "markmark"},
  };
  for (const auto& [raw, message] : kCases) {
    Record r;
    r.seq = records.size() + 1;
    r.time_ms = 1'790'000'000'000;
    r.raw = raw;
    SetField(r.fields(), "event.dataset", boost::json::string("proxy.access"));
    SetField(r.fields(), "message", boost::json::string(message));
    records.push_back(std::move(r));
  }
  EXPECT_GT(ExpectAgreement(set, records), 20u);
}

// The keyword scans' window: an occurrence of the message in the raw text (the tail when it is
// one), npos exactly when memmem finds none; over every pair of short texts of a small alphabet.
TEST(SigmaEvalTest, MessageInRawIsAnOccurrence) {
  std::vector<std::string> texts = {""};
  for (size_t len = 1; len <= 5; ++len) {
    const size_t before = texts.size();
    for (size_t i = 0; i < before; ++i) {
      if (texts[i].size() + 1 != len) continue;
      for (char c : {'a', 'b', '\0'}) texts.push_back(texts[i] + c);
    }
  }
  size_t found = 0, tails = 0, earlier = 0;  // earlier: the tail, and memmem's is before it
  for (const std::string& raw : texts) {
    for (const std::string& message : texts) {
      if (message.size() > 3) continue;
      const size_t at = sigma_internal::MessageInRaw(raw, message);
      const bool present =
          ::memmem(raw.data(), raw.size(), message.data(), message.size()) != nullptr;
      ASSERT_EQ(at != std::string_view::npos, present) << raw << " / " << message;
      if (at == std::string_view::npos) continue;
      ++found;
      ASSERT_LE(at + message.size(), raw.size());
      EXPECT_EQ(std::string_view(raw).substr(at, message.size()), message);
      if (message.empty()) {
        EXPECT_EQ(at, 0u);
      } else if (std::string_view(raw).ends_with(message)) {
        EXPECT_EQ(at, raw.size() - message.size());
        ++tails;
        const void* first = ::memmem(raw.data(), raw.size(), message.data(), message.size());
        if (static_cast<const char*>(first) - raw.data() < static_cast<ptrdiff_t>(at)) ++earlier;
      }
    }
  }
  EXPECT_GT(found, 3'000u);
  EXPECT_GT(tails, 1'000u);
  EXPECT_GT(earlier, 100u);
  EXPECT_LT(tails, found);
}

// MatchContext skips FindField for paths its presence set says the record lacks: the values it
// finds must be exactly FindField's, whatever dotted spellings the keys use.
TEST(SigmaEvalTest, FieldLookupAgreesWithFindField) {
  std::mt19937 rng(11);
  const std::vector<std::string> names = {
      "a", "b", "a.b", "b.c", "a.b.c", "c", "winlog", "event_data", "winlog.event_data", "Image"};
  sigma_internal::FieldTable table;
  std::vector<std::vector<std::string>> candidates;
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> paths;
    const size_t n = 1 + rng() % 2;
    for (size_t k = 0; k < n; ++k) {
      paths.push_back(parse_testing::RandomDottedPath(rng, names));
    }
    table.Intern(paths);
  }
  sigma_internal::MatchContext ctx(&table);
  size_t present = 0;
  for (int round = 0; round < 3000; ++round) {
    Record r;
    r.fields() = parse_testing::RandomDottedObject(rng, names);
    ctx.Reset(r);
    for (size_t f = 0; f < table.paths.size(); ++f) {
      const boost::json::value* want = nullptr;
      for (const auto& p : table.paths[f]) {
        want = FindField(r.fields(), p);
        if (want != nullptr) break;
      }
      const auto& v = ctx.Get(static_cast<int>(f));
      EXPECT_EQ(v.ref.tree(), want)
          << table.paths[f][0] << " in " << boost::json::serialize(r.fields());
      present += want != nullptr;
    }
  }
  EXPECT_GT(present, 1000u);
}

TEST(SigmaEvalTest, SharedTestsAreOnePredicateAndClausesAreBounded) {
  std::string yaml;
  for (int i = 0; i < 50; ++i) {
    yaml += "title: r" + std::to_string(i) + "\nid: r" + std::to_string(i) +
            "\nlogsource: {product: windows, category: process_creation}\n"
            "detection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains|all:\n";
    for (int k = 0; k < 40; ++k) yaml += "      - 'arg" + std::to_string(i * 40 + k) + "x'\n";
    yaml += "  condition: sel\n---\n";
  }
  LoadReport report;
  RuleSet set = LoadRulesFromString(yaml, "many.yml", &report);
  ASSERT_EQ(set.rules.size(), 50u);
  std::vector<bool> wanted(set.rules.size(), true);
  const auto ps = sigma_internal::ProgramSet::Build(set, wanted);
  EXPECT_EQ(ps.preds.size(), 1u + 50 * 40);  // '\cmd.exe' is one predicate for the 50 rules
  for (const auto& prog : ps.programs) {
    EXPECT_TRUE(prog.wanted);
    EXPECT_EQ(prog.clause_count, sigma_internal::kMaxClausesPerRule);
  }
}

// GlobMatch as it was before its literal after a star was found with memchr (ingest29): the
// walk that tries each text position in turn. The two must agree on every input.
bool ReferenceGlobMatch(std::string_view text, std::string_view lit, std::string_view mask) {
  size_t t = 0, p = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < lit.size() && mask[p] == '*') {
      star_p = p++;
      star_t = t;
    } else if (p < lit.size() && (mask[p] == '?' || lit[p] == text[t])) {
      ++p;
      ++t;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < lit.size() && mask[p] == '*') ++p;
  return p == lit.size();
}

TEST(SigmaGlobTest, AgreesWithTheWalkOnEveryShortPatternAndText) {
  // Pattern pieces: a literal 'a' or 'b', the wildcards, and a literal '*' and '?' (an escaped
  // one: its mask byte is not a wildcard's).
  struct Piece {
    char lit, mask;
  };
  constexpr Piece kPieces[] = {{'a', ' '}, {'b', ' '}, {'*', '*'},
                               {'?', '?'}, {'*', ' '}, {'?', ' '}};
  constexpr char kText[] = {'a', 'b', '*', '?'};
  std::vector<std::string> texts{""};
  for (size_t from = 0, len = 0; len < 6; ++len) {
    const size_t to = texts.size();
    for (size_t i = from; i < to; ++i) {
      for (char c : kText) texts.push_back(texts[i] + c);
    }
    from = to;
  }
  size_t checked = 0, matched = 0;
  std::vector<std::pair<std::string, std::string>> patterns{{"", ""}};
  for (size_t from = 0, len = 0; len < 4; ++len) {
    const size_t to = patterns.size();
    for (size_t i = from; i < to; ++i) {
      for (const Piece& q : kPieces) {
        patterns.push_back({patterns[i].first + q.lit, patterns[i].second + q.mask});
      }
    }
    from = to;
  }
  for (const auto& [lit, mask] : patterns) {
    for (const std::string& text : texts) {
      const bool want = ReferenceGlobMatch(text, lit, mask);
      ASSERT_EQ(sigma_internal::GlobMatch(text, lit, mask), want)
          << "text \"" << text << "\" pattern \"" << lit << "\" mask \"" << mask << "\"";
      ++checked;
      matched += want;
    }
  }
  EXPECT_GT(matched, checked / 50);  // both outcomes are exercised
  EXPECT_LT(matched, checked / 2);
}

TEST(SigmaGlobTest, AgreesWithTheWalkOnLongRandomTexts) {
  // Command-line-like texts of up to 300 bytes over a small alphabet (so that literals recur and
  // stars backtrack), against patterns of literals and stars taken partly from the text.
  std::mt19937_64 rng(29);
  const std::string alphabet = "abc\\.-";
  size_t matched = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text(rng() % 300, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    std::string lit, mask;
    const int pieces = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < pieces; ++k) {
      switch (rng() % 4) {
        case 0:
          lit += '*', mask += '*';
          break;
        case 1:
          lit += '?', mask += '?';
          break;
        default: {
          const size_t n = 1 + rng() % 4;
          const size_t at = text.empty() ? 0 : rng() % text.size();
          std::string piece = text.substr(at, n);
          if (piece.empty() || rng() % 5 == 0) piece = alphabet.substr(rng() % 3, 1);
          lit += piece;
          mask += std::string(piece.size(), ' ');
        }
      }
    }
    const bool want = ReferenceGlobMatch(text, lit, mask);
    ASSERT_EQ(sigma_internal::GlobMatch(text, lit, mask), want)
        << "text \"" << text << "\" pattern \"" << lit << "\" mask \"" << mask << "\"";
    matched += want;
  }
  EXPECT_GT(matched, 1000u);
  EXPECT_LT(matched, 19000u);
}

TEST(SigmaLowerTest, LowerIntoLowersExactlyTheAsciiCapitals) {
  // Every byte value at every position of texts of every length up to 40, into a buffer that
  // held a longer text before (as a Value's lower_buf does): only 'A'..'Z' change, by 0x20.
  std::string out(100, 'Q');
  for (size_t n = 0; n <= 40; ++n) {
    for (int b = 0; b < 256; ++b) {
      for (size_t at = 0; at < std::max<size_t>(n, 1); ++at) {
        std::string in(n, 'X');
        for (size_t i = 0; i < n; ++i) in[i] = static_cast<char>('A' + (i * 7) % 58);
        if (n != 0) in[at] = static_cast<char>(b);
        std::string want = in;
        for (char& c : want) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        }
        sigma_internal::LowerInto(in, &out);
        ASSERT_EQ(out, want) << "length " << n << ", byte " << b << " at " << at;
      }
    }
  }
}

// IpInCidr as it was before its IPv4 parse was its own (ingest29): inet_pton on a C string copy.
bool ReferenceIpInCidr(std::string_view ip, const sigma_internal::ValueTest& cidr) {
  char buf[64];
  if (ip.empty() || ip.size() >= sizeof buf) return false;
  std::memcpy(buf, ip.data(), ip.size());
  buf[ip.size()] = '\0';
  std::array<uint8_t, 16> a{};
  if (inet_pton(cidr.v6 ? AF_INET6 : AF_INET, buf, a.data()) != 1) return false;
  const int full = cidr.prefix_bits / 8, rest = cidr.prefix_bits % 8;
  if (std::memcmp(a.data(), cidr.net.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const uint8_t m = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & m) == (cidr.net[full] & m);
}

// A value of 64 bytes or more is refused whole, as the C string copy refused it, even when it
// holds an address before a NUL (review of ingest29: the IPv4 parse stops at the NUL and would
// take it without IpInCidr's own length check).
TEST(SigmaCidrTest, ALongValueWithANulIsRefusedAsBefore) {
  sigma_internal::ValueTest vt;
  ASSERT_TRUE(sigma_internal::ParseCidr("1.2.3.0/24", &vt));
  const std::string t = std::string("1.2.3.4\0", 8) + std::string(60, 'x');  // 68 bytes
  EXPECT_EQ(sigma_internal::IpInCidr(t, vt), ReferenceIpInCidr(t, vt));
  EXPECT_FALSE(sigma_internal::IpInCidr(t, vt));
  const std::string short_text = std::string("1.2.3.4\0", 8) + "xx";  // the NUL ends it, as strlen
  EXPECT_TRUE(sigma_internal::IpInCidr(short_text, vt));
  EXPECT_EQ(sigma_internal::IpInCidr(short_text, vt), ReferenceIpInCidr(short_text, vt));
}

TEST(SigmaCidrTest, IpInCidrAgreesWithInetPton) {
  std::vector<sigma_internal::ValueTest> cidrs;
  for (const char* c :
       {"0.0.0.0/0", "10.0.0.0/8", "192.168.1.0/24", "1.2.3.4/32", "1.2.3.4", "172.16.0.0/12",
        "255.255.255.254/31", "1.2.3.0/25", "::/0", "2001:db8::/32", "::ffff:1.2.3.4/128"}) {
    sigma_internal::ValueTest vt;
    ASSERT_TRUE(sigma_internal::ParseCidr(c, &vt)) << c;
    cidrs.push_back(vt);
  }
  std::vector<std::string> texts = {"",
                                    "1.2.3.4",
                                    "01.2.3.4",
                                    "1.2.3.04",
                                    "0.0.0.0",
                                    "1.2.3",
                                    "1.2.3.4.",
                                    ".1.2.3.4",
                                    "1..2.3",
                                    "256.1.1.1",
                                    "255.255.255.255",
                                    "1.2.3.4 ",
                                    " 1.2.3.4",
                                    "1.2.3.4/8",
                                    "10.1.2.3",
                                    "192.168.1.77",
                                    "1.2.3.999",
                                    "1.2.3.4.5",
                                    "00.1.2.3",
                                    "1.2.3.0",
                                    std::string("1.2.3.4\0junk", 12),
                                    std::string("\0", 1),
                                    "::ffff:1.2.3.4",
                                    "2001:db8::1",
                                    "1.2.3.4" + std::string(60, '0'),
                                    std::string(63, '1'),
                                    "172.31.255.255",
                                    "172.32.0.0"};
  std::mt19937_64 rng(29);
  constexpr char kAlphabet[] = "0123456789...:\0a ";  // a NUL among them
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);
  for (int i = 0; i < 200000; ++i) {
    std::string t(rng() % 18, ' ');
    for (char& c : t) c = alphabet[rng() % alphabet.size()];
    texts.push_back(t);
  }
  constexpr char kHex[] = "0123456789abcdef::.";  // IPv6 texts, some of them valid
  for (int i = 0; i < 50000; ++i) {
    std::string t(rng() % 24, ' ');
    for (char& c : t) c = kHex[rng() % (sizeof kHex - 1)];
    texts.push_back(t);
  }
  for (const char* t :
       {"::", "::1", "1::", "2001:db8::", "2001:db8:0:0:0:0:0:1", "::1.2.3.4", "fe80::1%eth0",
        "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", ":::", "1.2.3.4::"}) {
    texts.push_back(t);
  }
  for (int i = 0; i < 20000; ++i) {  // well-formed addresses, some of them in the nets
    std::string t;
    for (int k = 0; k < 4; ++k) {
      if (k != 0) t += '.';
      t += std::to_string(k == 0 && rng() % 2 ? std::array{1, 10, 172, 192, 255}[rng() % 5]
                                              : static_cast<int>(rng() % 300));
    }
    texts.push_back(t);
  }
  size_t in = 0;
  for (const std::string& t : texts) {
    for (const auto& c : cidrs) {
      const bool want = ReferenceIpInCidr(t, c);
      ASSERT_EQ(sigma_internal::IpInCidr(t, c), want)
          << "\"" << t << "\" (" << t.size() << " bytes)";
      in += want;
    }
  }
  EXPECT_GT(in, 5000u);  // addresses in the nets, not only refusals
}

}  // namespace
}  // namespace seccloud::soc
