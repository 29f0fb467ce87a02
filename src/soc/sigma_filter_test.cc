// Sigma filters (meta filter documents, sigma-filters-specification; `rules: any` of v2.2),
// applied as pySigma's SigmaFilter.apply_on_rule: the rule's condition becomes
// "(rule condition) and (filter condition)" on the base rules named (or all, for any) whose
// logsource the filter's covers. Issue 5; R18, R20.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "soc/detect.h"
#include "soc/sigma.h"
#include "soc/sigma_internal.h"
#include "soc/winlog.h"

namespace seccloud::soc {
namespace {

namespace fs = std::filesystem;

// A seccloud-product rule over dataset `service`.
std::string Rule(const std::string& id, const std::string& detection,
                 const std::string& service = "t", const std::string& extra = "") {
  return "title: rule " + id + "\nid: " + id + "\nlevel: high\nlogsource: {product: seccloud, " +
         "service: " + service + "}\n" + extra + "detection:\n" + detection;
}

std::string Filter(const std::string& rules, const std::string& body,
                   const std::string& logsource = "{product: seccloud, service: t}",
                   const std::string& id = "f1") {
  return "title: filter " + id + "\nid: " + id + "\nlogsource: " + logsource +
         "\nfilter:\n  rules: " + rules + "\n" + body;
}

Record Rec(const std::string& fields_json, const std::string& dataset = "t",
           const std::string& raw = "") {
  Record r;
  r.seq = 1;
  r.raw = raw;
  r.fields() = boost::json::parse(fields_json).as_object();
  SetField(r.fields(), "event.dataset", boost::json::string(dataset));
  return r;
}

// A Sysmon process creation (channel + EventID 1; the fields are EventData items) of rar.exe by
// `user`.
Record SysmonRarExe(const std::string& user) {
  Record r;
  r.seq = 1;
  r.fields() = boost::json::parse(R"({"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational",
      "event_id":1,"event_data":{"Image":"C:\\x\\rar.exe","User":")" +
                                  user + R"("}}})")
                   .as_object();
  return r;
}

struct Loaded {
  RuleSet set;
  LoadReport report;
  const SigmaRule& rule(const std::string& id) const {
    for (const auto& r : set.rules)
      if (r.id == id) return r;
    ADD_FAILURE() << "no rule " << id;
    return set.rules.at(0);
  }
  const SigmaFilter& filter(const std::string& id) const {
    for (const auto& f : set.filters)
      if (f.id == id) return f;
    ADD_FAILURE() << "no filter " << id;
    return set.filters.at(0);
  }
  bool Fires(const std::string& id, const Record& r) const { return RuleMatches(set, rule(id), r); }
};

Loaded Load(const std::vector<std::pair<std::string, std::string>>& files, bool clean = true) {
  Loaded l;
  l.set = LoadRulesFromStrings(files, &l.report);
  if (clean) {
    for (const auto& e : l.report.errors) ADD_FAILURE() << e.ToString();
    for (const auto& e : l.report.unsupported) ADD_FAILURE() << e.ToString();
  }
  return l;
}
Loaded Load(const std::string& yaml, bool clean = true) {
  return Load({{"rules.yml", yaml}}, clean);
}

const std::string kSel = "  selection:\n    a|contains: evil\n  condition: selection\n";
// Suppresses events whose b is "gpo" (the selection's name is the rule's own: no collision).
const std::string kNotGpo = "  selection:\n    b: gpo\n  condition: not selection\n";

TEST(SigmaFilterTest, FilteredRuleStopsFiringOnFilteredEventsOnly) {
  auto l = Load(Rule("r1", kSel) + "---\n" + Filter("[r1]", kNotGpo));
  ASSERT_EQ(l.set.filters.size(), 1u);
  EXPECT_EQ(l.report.filters_loaded, 1u);
  EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil","b":"user"})")));
  EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil"})")));
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","b":"GPO"})")));
  // The rule's own selection is not replaced by the filter's of the same name.
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"good","b":"user"})")));
  EXPECT_EQ(l.rule("r1").filters, std::vector<std::string>{"f1"});
  EXPECT_EQ(l.filter("f1").applied_to, std::vector<std::string>{"r1"});
  EXPECT_TRUE(l.filter("f1").unresolved.empty());
  EXPECT_TRUE(l.report.warnings.empty());
}

TEST(SigmaFilterTest, NoFilterNoChange) {
  auto l = Load(Rule("r1", kSel));
  EXPECT_TRUE(l.set.filters.empty());
  EXPECT_TRUE(l.rule("r1").filters.empty());
  EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil","b":"gpo"})")));
}

// The spec's example (tests/filter/filter_1.yml of SigmaHQ/sigma-specification), verbatim, with
// rules carrying the two ids it names. pySigma ANDs its condition ("selection"), so the rules then
// fire only for adm_ accounts: the loader warns that a filter without `not` narrows.
TEST(SigmaFilterTest, SpecificationExampleAppliesAsPySigma) {
  const std::string spec_filter = R"(title: Filter Administrator account
description: The valid administrator account start with adm_
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe
        - df0841c0-9846-4e9f-ad8a-7df91571771b # Login on jump host
    selection:
        User|startswith: 'adm_'
    condition: selection)";
  auto win_rule = [](const std::string& id, const std::string& category) {
    return "title: w " + id + "\nid: " + id +
           "\nlogsource: {product: windows, category: " + category +
           "}\ndetection:\n  selection:\n    Image|endswith: '\\rar.exe'\n" +
           "  condition: selection\n";
  };
  auto l =
      Load({{"rules/a.yml", win_rule("6f3e2987-db24-4c78-a860-b4f4095a7095", "process_creation")},
            {"rules/b.yml", win_rule("df0841c0-9846-4e9f-ad8a-7df91571771b", "image_load")},
            {"rules/c.yml", win_rule("0c0e0000-0000-4000-8000-000000000000", "process_creation")},
            {"filters/mf_admin.yml", spec_filter}});
  const SigmaFilter& f = l.filter("Filter Administrator account");  // no id: its title
  EXPECT_EQ(f.product, "windows");
  EXPECT_EQ(f.category, "process_creation");
  EXPECT_EQ(f.description, "The valid administrator account start with adm_");
  EXPECT_FALSE(f.any);
  EXPECT_EQ(f.refs.size(), 2u);
  EXPECT_EQ(f.line, 1);
  EXPECT_EQ(f.applied_to, std::vector<std::string>{"6f3e2987-db24-4c78-a860-b4f4095a7095"});
  // The second rule's category is image_load: not covered by process_creation.
  ASSERT_EQ(f.unresolved.size(), 1u);
  EXPECT_EQ(f.unresolved[0].first, "df0841c0-9846-4e9f-ad8a-7df91571771b");
  EXPECT_NE(f.unresolved[0].second.find("logsource"), std::string::npos);
  EXPECT_TRUE(l.rule("df0841c0-9846-4e9f-ad8a-7df91571771b").filters.empty());
  EXPECT_TRUE(l.rule("0c0e0000-0000-4000-8000-000000000000").filters.empty());
  bool narrows = false;
  for (const auto& w : l.report.warnings) {
    EXPECT_EQ(w.file, "filters/mf_admin.yml");
    narrows |= w.reason == "filter condition has no not";
  }
  EXPECT_TRUE(narrows);
  EXPECT_EQ(l.report.warnings.size(), 2u);
  const auto rec = SysmonRarExe;
  EXPECT_TRUE(l.Fires("6f3e2987-db24-4c78-a860-b4f4095a7095", rec("adm_backup")));
  EXPECT_FALSE(l.Fires("6f3e2987-db24-4c78-a860-b4f4095a7095", rec("alice")));
  EXPECT_TRUE(l.Fires("0c0e0000-0000-4000-8000-000000000000", rec("alice")));
  EXPECT_TRUE(l.Fires("df0841c0-9846-4e9f-ad8a-7df91571771b", [&] {
    Record r = rec("alice");
    SetField(r.fields(), "winlog.event_id", 7);  // image_load
    return r;
  }()));
}

// Bad filters are errors at their place; the other documents of the file keep loading and the
// rules a failed filter names run unfiltered.
TEST(SigmaFilterTest, BadFiltersAreErrorsWithTheirPlace) {
  struct Case {
    std::string text;  // a filter document, first in its file
    std::string reason, detail;
    int line;
  };
  const std::vector<Case> cases = {
      {"title: f\nfilter:\n  rules: [r1]\n  s: {b: x}\n  condition: not s\n", "bad filter",
       "logsource must be a map", 1},
      {"title: f\nlogsource: {}\nfilter:\n  rules: [r1]\n  s: {b: x}\n  condition: not s\n",
       "bad filter", "logsource must set product, category or service", 2},
      {"title: f\nlogsource: {product: [a]}\nfilter:\n  rules: [r1]\n  s: {b: x}\n"
       "  condition: not s\n",
       "bad filter", "logsource product must be a non-empty string", 2},
      {"title: f\nlogsource: {product: seccloud}\nfilter:\n  s: {b: x}\n  condition: not s\n",
       "bad filter", "filter.rules is missing", 4},
      {"title: f\nlogsource: {product: seccloud}\nfilter:\n  rules: {a: b}\n  s: {b: x}\n"
       "  condition: not s\n",
       "bad filter", "filter.rules is a rule id or name, a list of them, or any", 4},
      {"title: f\nlogsource: {product: seccloud}\nfilter:\n  rules: [r1, [x]]\n  s: {b: x}\n"
       "  condition: not s\n",
       "bad filter", "filter.rules lists rule ids or names", 4},
      {"title: f\nlogsource: {product: seccloud}\nfilter:\n  rules: [r1]\n  s: {b: x}\n"
       "  condition: [not s]\n",
       "bad filter", "a filter's condition is one string", 6},
      {"title: f\nlogsource: {product: seccloud}\nfilter:\n  rules: [r1]\n  s: {b: x}\n",
       "no condition", "filter has no condition", 4},
      {"title: f\nlogsource: {product: seccloud}\nfilter:\n  rules: [r1]\n  s: {b: x}\n"
       "  condition: not t\n",
       "condition names unknown selection", "t", 6},
      {"title: f\nlogsource: {product: seccloud}\nfilter:\n  rules: [r1]\n  s: {b|nosuch: x}\n"
       "  condition: not s\n",
       "", "", 5},
      {"logsource: {product: seccloud}\nfilter:\n  rules: [r1]\n  s: {b: x}\n  condition: not s\n",
       "no title", "every filter needs a title", 1},
      {"title: f\nlogsource: {product: seccloud}\nfilter: [r1]\n", "bad filter",
       "filter must be a map", 3},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto l = Load(c.text + "---\n" + Rule("r1", kSel) + "---\n" + Rule("r2", kSel), false);
    ASSERT_EQ(l.report.errors.size() + l.report.unsupported.size(), 1u);
    const LoadIssue& e =
        l.report.errors.empty() ? l.report.unsupported.front() : l.report.errors.front();
    if (!c.reason.empty()) EXPECT_EQ(e.reason, c.reason) << e.ToString();
    EXPECT_NE(e.detail.find(c.detail), std::string::npos) << e.ToString();
    EXPECT_EQ(e.line, c.line) << e.ToString();
    EXPECT_EQ(e.file, "rules.yml");
    EXPECT_TRUE(l.set.filters.empty());
    EXPECT_EQ(l.set.rules.size(), 2u);
    EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil","b":"x"})")));  // unfiltered
    // Nothing dropped silently: the filter document is counted, and is an issue.
    EXPECT_EQ(l.report.documents, 3u);
  }
}

TEST(SigmaFilterTest, MultiDocumentFilesAndFilesOfTheirOwn) {
  // A filter between two rules it names, in one file; a second filter in a file of its own, on
  // a rule named by its `name`.
  auto l = Load({{"a.yml", Rule("r1", kSel) + "---\n" + Filter("[r1, r2]", kNotGpo) + "---\n" +
                               Rule("r2", kSel, "t", "name: second\n")},
                 {"b.yml", Filter("second", "  s:\n    b: admin\n  condition: not s\n",
                                  "{product: seccloud}", "f2")}});
  ASSERT_EQ(l.set.filters.size(), 2u);
  EXPECT_EQ(l.report.documents, 4u);
  EXPECT_EQ(l.filter("f1").line, 10);
  EXPECT_EQ(l.filter("f1").applied_to, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(l.filter("f2").applied_to, std::vector<std::string>{"r2"});
  EXPECT_EQ(l.rule("r2").filters, (std::vector<std::string>{"f1", "f2"}));
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","b":"gpo"})")));
  EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil","b":"admin"})")));
  EXPECT_FALSE(l.Fires("r2", Rec(R"({"a":"evil","b":"gpo"})")));
  EXPECT_FALSE(l.Fires("r2", Rec(R"({"a":"evil","b":"admin"})")));
  EXPECT_TRUE(l.Fires("r2", Rec(R"({"a":"evil","b":"user"})")));
}

TEST(SigmaFilterTest, UnresolvedNamesAreWarningsNotErrors) {
  const std::string corr =
      "title: c\nid: c1\ncorrelation:\n  type: event_count\n  rules: r1\n  timespan: 5m\n"
      "  condition: {gte: 2}\n";
  const std::string unsupported = Rule("r3",
                                       "  selection:\n    a|re: '(?<=x)y'\n"
                                       "  condition: selection\n");
  const std::string titled =
      "title: only a title\nlogsource: {product: seccloud, service: t}\n"
      "detection:\n" +
      kSel;
  auto l = Load(Rule("r1", kSel) + "---\n" + Rule("r2", kSel, "u") + "---\n" + corr + "---\n" +
                    unsupported + "---\n" + titled + "---\n" +
                    Filter("[r1, nosuch, r2, c1, r3, only a title]", kNotGpo),
                false);
  EXPECT_TRUE(l.report.errors.empty());
  ASSERT_EQ(l.report.unsupported.size(), 1u);  // r3's regex, not the filter
  const SigmaFilter& f = l.filter("f1");
  EXPECT_EQ(f.applied_to, std::vector<std::string>{"r1"});
  std::map<std::string, std::string> why(f.unresolved.begin(), f.unresolved.end());
  ASSERT_EQ(why.size(), 5u);
  EXPECT_EQ(why["nosuch"], "no such rule");
  EXPECT_EQ(why["r2"], "its logsource is not covered by the filter's");
  EXPECT_EQ(why["c1"], "a correlation rule (filters apply to base rules only)");
  EXPECT_NE(why["r3"].find("did not load"), std::string::npos);
  EXPECT_EQ(why["only a title"], "no such rule");  // a title is not a reference (pySigma)
  ASSERT_EQ(l.report.warnings.size(), 5u);
  for (const auto& w : l.report.warnings) {
    EXPECT_EQ(w.reason, "filter names no rule it can apply to");
    EXPECT_EQ(w.line, 43) << w.ToString();
    EXPECT_EQ(w.rule_id, "f1");
  }
  EXPECT_TRUE(l.rule("r2").filters.empty());
  EXPECT_TRUE(l.set.correlations.at(0).rules.size() == 1);
}

TEST(SigmaFilterTest, AnyAppliesToEveryRuleItsLogsourceCovers) {
  const std::string rules =
      Rule("r1", kSel) + "---\n" + Rule("r2", kSel) + "---\n" + Rule("r3", kSel, "u") + "---\n";
  for (const std::string& any : {"any", "ALL", "[]"}) {
    SCOPED_TRACE(any);
    auto l = Load(rules + Filter(any, kNotGpo));
    EXPECT_TRUE(l.filter("f1").any);
    EXPECT_EQ(l.filter("f1").applied_to, (std::vector<std::string>{"r1", "r2"}));
    EXPECT_FALSE(l.Fires("r2", Rec(R"({"a":"evil","b":"gpo"})")));
    EXPECT_TRUE(l.Fires("r3", Rec(R"({"a":"evil","b":"gpo"})", "u")));
  }
  // product alone covers both services; a product of another case covers nothing (pySigma
  // compares the strings as they are) and says so.
  auto wide = Load(rules + Filter("any", kNotGpo, "{product: seccloud}"));
  EXPECT_EQ(wide.filter("f1").applied_to.size(), 3u);
  EXPECT_FALSE(wide.Fires("r3", Rec(R"({"a":"evil","b":"gpo"})", "u")));
  auto cased = Load(rules + Filter("any", kNotGpo, "{product: SecCloud}"));
  EXPECT_TRUE(cased.filter("f1").applied_to.empty());
  ASSERT_EQ(cased.report.warnings.size(), 1u);
  EXPECT_NE(cased.report.warnings[0].detail.find("any: "), std::string::npos);
  // A category the rules do not set is not covered (the rule's is "", not the filter's).
  auto cat = Load(rules + Filter("any", kNotGpo, "{product: seccloud, category: proxy}"));
  EXPECT_TRUE(cat.filter("f1").applied_to.empty());
}

// The filter's `1 of sel_*` / `them` mean the filter's own selections, not the rule's (the rule
// here has sel_a: were it counted, `not 1 of sel_*` would be false whenever the rule matches).
TEST(SigmaFilterTest, OneOfPatternsSeeOnlyTheFiltersSelections) {
  const std::string rule = Rule("r1", "  sel_a:\n    a|contains: evil\n  condition: 1 of sel_*\n");
  for (const std::string& cond : {"not 1 of sel_*", "not 1 of them"}) {
    SCOPED_TRACE(cond);
    auto l = Load(rule + "---\n" +
                  Filter("r1",
                         "  sel_x:\n    b: gpo\n  sel_y:\n    c|startswith: adm_\n"
                         "  condition: " +
                             cond + "\n"));
    EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil","b":"user","c":"bob"})")));
    EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","b":"gpo","c":"bob"})")));
    EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","b":"user","c":"adm_x"})")));
    EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"good","b":"user","c":"bob"})")));
  }
}

TEST(SigmaFilterTest, KeywordSelectionsInFiltersAreKeywords) {
  auto l = Load(Rule("r1", kSel) + "---\n" +
                Filter("[r1]",
                       "  keywords:\n    - scheduled backup\n    - gpo*update\n"
                       "  condition: not keywords\n"));
  Record r = Rec(R"({"a":"evil","message":"nightly Scheduled Backup run"})");
  EXPECT_FALSE(l.Fires("r1", r));
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","message":"GPO policy update"})")));
  EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil","message":"interactive"})")));
}

// The engine (logsource groups, literal scan, pair prefilter) decides a filtered rule as
// RuleMatches does, for filters that suppress (not) and that narrow (no not: the filter's
// literal becomes a necessary clause of the rule).
TEST(SigmaFilterTest, EngineAgreesWithRuleMatches) {
  const std::string rules =
      Rule("r1", kSel) + "---\n" +
      Rule("r2",
           "  sel:\n    - a|contains: [evil, bad]\n    - keyword|contains: zz\n"
           "  condition: sel\n") +
      "---\n" + Rule("r3", "  k:\n    - evil\n  condition: k\n") + "---\n";
  auto l = Load(
      rules + Filter("[r1, r2, r3]", "  s:\n    b|contains: gpo\n  condition: not s\n") + "---\n" +
      Filter("[r2, r3]", "  n:\n    c|endswith: '.corp'\n  condition: n\n", "{product: seccloud}",
             "f2") +
      "---\n" + Filter("any", "  m:\n    - quiet\n  condition: not m\n", "{service: t}", "f3"));
  auto engine = DetectionEngine::Create(l.set);
  ASSERT_TRUE(engine.has_value());
  const std::vector<std::string> as = {"evil", "xbadx", "good", "EVIL"};
  const std::vector<std::string> bs = {"", "gpo", "xGPOx", "user"};
  const std::vector<std::string> cs = {"", "h.corp", "h.org"};
  const std::vector<std::string> ms = {"", "evil quiet", "evil", "zz"};
  size_t fired = 0, checked = 0;
  uint64_t seq = 0;
  for (const auto& a : as)
    for (const auto& b : bs)
      for (const auto& c : cs)
        for (const auto& m : ms) {
          boost::json::object o;
          o["a"] = a;
          if (!b.empty()) o["b"] = b;
          if (!c.empty()) o["c"] = c;
          if (!m.empty()) o["message"] = m;
          o["keyword"] = m;
          Record r = Rec(boost::json::serialize(o));
          r.seq = ++seq;
          std::vector<Detection> out;
          (*engine)->Process(r, &out);
          for (const auto& rule : l.set.rules) {
            const bool want = RuleMatches(l.set, rule, r);
            const bool got = std::any_of(out.begin(), out.end(),
                                         [&](const Detection& d) { return d.rule_id == rule.id; });
            EXPECT_EQ(got, want) << rule.id << " on " << boost::json::serialize(o);
            fired += want;
            ++checked;
          }
        }
  EXPECT_GT(fired, 10u);
  EXPECT_LT(fired, checked / 2);
}

// Correlations are never filtered themselves, but count only their base rules' filtered matches.
TEST(SigmaFilterTest, CorrelationsSeeTheFilteredMatches) {
  auto l = Load(Rule("r1", kSel) + "---\n" +
                "title: many\nid: c1\ncorrelation:\n  type: event_count\n  rules: r1\n"
                "  group-by: [source.ip]\n  timespan: 5m\n  condition: {gte: 2}\nlevel: high\n" +
                "---\n" + Filter("[r1, c1]", kNotGpo));
  EXPECT_EQ(l.filter("f1").applied_to, std::vector<std::string>{"r1"});
  auto engine = DetectionEngine::Create(l.set);
  ASSERT_TRUE(engine.has_value());
  uint64_t seq = 0;
  auto feed = [&](const std::string& b) {
    Record r = Rec(R"({"a":"evil","source":{"ip":"10.0.0.1"},"b":")" + b + "\"}");
    r.seq = ++seq;
    r.time_ms = 1'780'000'000'000 + static_cast<int64_t>(seq) * 1000;
    std::vector<Detection> out;
    (*engine)->Process(r, &out);
    size_t corr = 0;
    for (const auto& d : out) corr += d.rule_id == "c1";
    return corr;
  };
  EXPECT_EQ(feed("gpo"), 0u);
  EXPECT_EQ(feed("gpo"), 0u);
  EXPECT_EQ(feed("gpo"), 0u);
  EXPECT_EQ(feed("user"), 0u);
  EXPECT_EQ(feed("user"), 1u);
}

TEST(SigmaFilterTest, AFilterTooLargeForItsRulesIsRefusedWhole) {
  // 40,000 values (+ 1 field test, 1 alternative, 1 selection, 2 condition nodes) on 51 rules is
  // more than kMaxFilterAppliedSize, on 49 it is not.
  std::string values;
  for (int i = 0; i < 40'000; ++i) values += "      - v" + std::to_string(i) + "\n";
  std::string rules;
  for (int i = 0; i < 51; ++i) rules += Rule("r" + std::to_string(i), kSel) + "---\n";
  auto l = Load(rules + Filter("any", "  s:\n    b:\n" + values + "  condition: not s\n"), false);
  ASSERT_EQ(l.report.errors.size(), 1u);
  EXPECT_EQ(l.report.errors[0].reason, "filter too large");
  EXPECT_GT(l.report.errors[0].line, 0);
  EXPECT_TRUE(l.set.filters.empty());
  EXPECT_TRUE(l.rule("r0").filters.empty());
  EXPECT_TRUE(l.Fires("r0", Rec(R"({"a":"evil","b":"v7"})")));
  // On 49 rules it applies.
  rules.clear();
  for (int i = 0; i < 49; ++i) rules += Rule("r" + std::to_string(i), kSel) + "---\n";
  auto ok = Load(rules + Filter("any", "  s:\n    b:\n" + values + "  condition: not s\n"));
  ASSERT_EQ(ok.set.filters.size(), 1u);
  EXPECT_FALSE(ok.Fires("r48", Rec(R"({"a":"evil","b":"v7"})")));
  // A long condition is counted too: 10,001 nodes of "not s and …" on 210 rules (its 5,000
  // selection references are under kMaxConditionRefs).
  std::string cond = "not s";
  for (int i = 0; i < 4'999; ++i) cond += " and not s";
  rules.clear();
  for (int i = 0; i < 210; ++i) rules += Rule("r" + std::to_string(i), kSel) + "---\n";
  auto long_cond =
      Load(rules + Filter("any", "  s:\n    b: x\n  condition: " + cond + "\n"), false);
  ASSERT_EQ(long_cond.report.errors.size(), 1u);
  EXPECT_EQ(long_cond.report.errors[0].reason, "filter too large");
  EXPECT_TRUE(long_cond.set.filters.empty());
}

TEST(SigmaFilterTest, ADocumentWithFilterAndDetectionIsAnError) {
  auto l = Load(Rule("r1", kSel, "t", "filter:\n  rules: any\n  s: {b: x}\n  condition: not s\n"),
                false);
  ASSERT_EQ(l.report.errors.size(), 1u);
  EXPECT_EQ(l.report.errors[0].reason, "bad filter");
  EXPECT_EQ(l.report.errors[0].line, 10);  // detection's first key
  EXPECT_TRUE(l.set.rules.empty());
  EXPECT_TRUE(l.set.filters.empty());
}

// pySigma's from_dicts reads a `filter` document without the global header's merge: its
// logsource is its own. Here the header's service u would keep the filter off r1 (service t).
TEST(SigmaFilterTest, GlobalHeaderIsNotMergedIntoAFilter) {
  auto l = Load({{"a.yml", Rule("r1", kSel)},
                 {"mf.yml", "action: global\nlogsource: {product: seccloud, service: u}\n---\n" +
                                Filter("any", kNotGpo, "{product: seccloud}") + "---\n" +
                                "title: r2\nid: r2\ndetection:\n" + kSel}});
  ASSERT_EQ(l.set.filters.size(), 1u);
  EXPECT_EQ(l.filter("f1").service, "") << "the global header's service was merged in";
  // Applied to r1 (service t) and to r2, which does get the header (service u).
  EXPECT_EQ(l.filter("f1").applied_to, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(l.rule("r2").service, "u");
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","b":"gpo"})")));
  EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil","b":"user"})")));
  EXPECT_FALSE(l.Fires("r2", Rec(R"({"a":"evil","b":"gpo"})", "u")));
}

// pySigma's from_dicts sets the rule `repeat` repeats only from plain rules: a repeat after a
// filter repeats the rule before the filter (here r2 is r1 on service u), not the filter.
TEST(SigmaFilterTest, RepeatAfterAFilterRepeatsTheRule) {
  auto l = Load(Rule("r1", kSel) + "---\n" + Filter("[r1]", kNotGpo) + "---\n" +
                "action: repeat\ntitle: r2\nid: r2\nlogsource: {product: seccloud, service: u}\n");
  ASSERT_EQ(l.set.rules.size(), 2u);
  ASSERT_EQ(l.set.filters.size(), 1u);
  EXPECT_EQ(l.report.documents, 3u);
  EXPECT_TRUE(l.Fires("r2", Rec(R"({"a":"evil","b":"gpo"})", "u")));  // not filtered: not named
  EXPECT_FALSE(l.Fires("r2", Rec(R"({"a":"good"})", "u")));
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","b":"gpo"})")));
}

// pySigma tries a reference as a UUID first (`UUID(ref)`: any case, hyphens optional, braces
// and urn:uuid: allowed); other names are compared as written.
TEST(SigmaFilterTest, UuidReferencesResolveInAnySpelling) {
  const std::string id = "6f3e2987-db24-4c78-a860-b4f4095a7095";
  for (const std::string& ref :
       {std::string("6F3E2987-DB24-4C78-A860-B4F4095A7095"),
        std::string("'{6f3e2987db244c78a860b4f4095a7095}'"),
        std::string("urn:uuid:6F3E2987-db24-4c78-a860-b4f4095a7095"), id}) {
    SCOPED_TRACE(ref);
    auto l = Load(Rule(id, kSel) + "---\n" + Filter("[" + ref + "]", kNotGpo));
    EXPECT_EQ(l.filter("f1").applied_to, std::vector<std::string>{id});
    EXPECT_TRUE(l.report.warnings.empty());
    EXPECT_FALSE(l.Fires(id, Rec(R"({"a":"evil","b":"gpo"})")));
  }
  // The rule's id in upper case, the reference in lower case.
  const std::string upper = "6F3E2987-DB24-4C78-A860-B4F4095A7095";
  auto l = Load(Rule(upper, kSel) + "---\n" + Filter("[" + id + "]", kNotGpo));
  EXPECT_EQ(l.filter("f1").applied_to, std::vector<std::string>{upper});
  // Not a UUID (31 hex digits; a name): compared as written.
  auto near = Load(Rule("r1", kSel, "t", "name: one\n") + "---\n" +
                       Filter("[6F3E2987-DB24-4C78-A860-B4F4095A709, One]", kNotGpo),
                   false);
  EXPECT_TRUE(near.filter("f1").applied_to.empty());
  EXPECT_EQ(near.report.warnings.size(), 2u);
}

// The filter's field names follow each rule's field style: a filter whose logsource is only
// {category: process_creation} (no product, so the plain style of its own) maps User to the
// Windows EventData item on a Windows rule.
TEST(SigmaFilterTest, CategoryOnlyFilterUsesTheRulesFieldStyle) {
  auto l = Load({{"a.yml",
                  "title: w\nid: w1\nlogsource: {product: windows, category: process_creation}\n"
                  "detection:\n  selection:\n    Image|endswith: '\\rar.exe'\n"
                  "  condition: selection\n"},
                 {"mf.yml",
                  "title: f\nid: f1\nlogsource: {category: process_creation}\n"
                  "filter:\n  rules: any\n  sel:\n    User|startswith: adm_\n"
                  "  condition: not sel\n"}});
  ASSERT_EQ(l.filter("f1").applied_to, std::vector<std::string>{"w1"});
  const auto rec = SysmonRarExe;
  EXPECT_FALSE(l.Fires("w1", rec("adm_backup")));
  EXPECT_TRUE(l.Fires("w1", rec("alice")));
}

// A rule named twice (by id and by name, and its id twice) gets the filter once.
TEST(SigmaFilterTest, ARuleNamedTwiceIsFilteredOnce) {
  auto l = Load(Rule("r1", kSel, "t", "name: one\n") + "---\n" + Filter("[r1, one, r1]", kNotGpo));
  EXPECT_EQ(l.filter("f1").applied_to, std::vector<std::string>{"r1"});
  EXPECT_EQ(l.rule("r1").filters, std::vector<std::string>{"f1"});
  // One filter root beside the rule's: AND(rule, filter).
  EXPECT_EQ(l.rule("r1").compiled->root.kids.size(), 2u);
  EXPECT_EQ(l.rule("r1").compiled->selections.size(), 2u);
}

// kMaxFilterRefs names load (each a warning: no such rule); one more is an error at the name.
TEST(SigmaFilterTest, MoreThanMaxFilterRefsNamesIsAnError) {
  std::string names;
  for (size_t i = 0; i < kMaxFilterRefs; ++i) names += "    - n" + std::to_string(i) + "\n";
  const std::string head = "title: f\nid: f1\nlogsource: {product: seccloud}\nfilter:\n  rules:\n";
  const std::string tail = "  s:\n    b: gpo\n  condition: not s\n";
  auto at = Load(head + names + tail, false);
  EXPECT_TRUE(at.report.errors.empty());
  ASSERT_EQ(at.set.filters.size(), 1u);
  EXPECT_EQ(at.filter("f1").refs.size(), kMaxFilterRefs);
  auto over = Load(head + names + "    - one_more\n" + tail, false);
  ASSERT_EQ(over.report.errors.size(), 1u);
  EXPECT_EQ(over.report.errors[0].reason, "bad filter");
  EXPECT_NE(over.report.errors[0].detail.find("more than 10000"), std::string::npos);
  EXPECT_EQ(over.report.errors[0].line, static_cast<int>(6 + kMaxFilterRefs));
  EXPECT_TRUE(over.set.filters.empty());
}

// However many filters a rule has, it is one copy whose root is AND(rule root, filter roots…):
// the rule's condition one level deeper, not one level per filter (nor a copy per filter).
TEST(SigmaFilterTest, ManyFiltersOnARuleAreOneFlatAnd) {
  std::string filters;
  for (int i = 0; i < 300; ++i) {
    filters +=
        "---\n" + Filter("[r1]", "  s:\n    b: v" + std::to_string(i) + "\n  condition: not s\n",
                         "{product: seccloud}", "f" + std::to_string(i));
  }
  auto l = Load(Rule("r1", kSel) + filters);
  const auto& c = *l.rule("r1").compiled;
  ASSERT_EQ(c.root.kind, sigma_internal::Node::kAnd);
  ASSERT_EQ(c.root.kids.size(), 301u);
  EXPECT_EQ(c.root.kids[0].kind, sigma_internal::Node::kSelection);  // the rule's own root
  EXPECT_EQ(c.root.kids[300].kind, sigma_internal::Node::kNot);
  EXPECT_EQ(c.selections.size(), 301u);
  EXPECT_EQ(c.selections[300].name, "filter f299: s");
  EXPECT_EQ(l.rule("r1").filters.size(), 300u);
  EXPECT_EQ(l.rule("r1").filters[299], "f299");
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","b":"v0"})")));
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"evil","b":"v299"})")));
  EXPECT_TRUE(l.Fires("r1", Rec(R"({"a":"evil","b":"v300"})")));
  EXPECT_FALSE(l.Fires("r1", Rec(R"({"a":"good","b":"v300"})")));
}

// The budget is load-wide: the sum over filters of (what one rule's copy holds) × (rules applied
// to) ≤ kMaxFilterAppliedSize. Each filter here (20,000 values + field test, alternative,
// selection, 2 condition nodes = 20,005) on 30 rules is 600,150: three fit, the fourth is refused
// at its file:line, and a small fifth still applies.
TEST(SigmaFilterTest, FiltersTogetherPastTheLoadWideBudgetAreRefused) {
  std::string values;
  for (int i = 0; i < 20'000; ++i) values += "      - v" + std::to_string(i) + "\n";
  std::string rules;
  for (int i = 0; i < 30; ++i) rules += Rule("r" + std::to_string(i), kSel) + "---\n";
  // A file each (four would pass the 1 MiB file bound together).
  std::vector<std::pair<std::string, std::string>> files = {{"r.yml", rules}};
  for (int i = 1; i <= 4; ++i) {
    files.emplace_back("s" + std::to_string(i) + ".yml",
                       "# filter " + std::to_string(i) + "\n" +
                           Filter("any", "  s:\n    b:\n" + values + "  condition: not s\n",
                                  "{product: seccloud}", "f" + std::to_string(i)));
  }
  files.emplace_back("s5.yml", Filter("any", kNotGpo, "{product: seccloud}", "f5"));
  auto l = Load(files, false);
  ASSERT_EQ(l.report.errors.size(), 1u);
  EXPECT_EQ(l.report.errors[0].reason, "filter too large");
  EXPECT_EQ(l.report.errors[0].rule_id, "f4");
  EXPECT_EQ(l.report.errors[0].file, "s4.yml");
  EXPECT_EQ(l.report.errors[0].line, 2);  // the filter's first line
  EXPECT_NE(l.report.errors[0].detail.find("with the 1800450 the filters loaded before it add"),
            std::string::npos)
      << l.report.errors[0].detail;
  ASSERT_EQ(l.set.filters.size(), 4u);
  EXPECT_EQ(l.rule("r0").filters, (std::vector<std::string>{"f1", "f2", "f3", "f5"}));
  EXPECT_FALSE(l.Fires("r29", Rec(R"({"a":"evil","b":"gpo"})")));
  EXPECT_FALSE(l.Fires("r29", Rec(R"({"a":"evil","b":"v19999"})")));
  EXPECT_TRUE(l.Fires("r29", Rec(R"({"a":"evil","b":"user"})")));
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A real SigmaHQ rule and its regression event: a filter for the account in the event silences
// the rule on it, and the same event from another account still fires.
TEST(SigmaFilterTest, RealRuleAndRegressionEvent) {
  const fs::path data = fs::path(SECCLOUD_SOURCE_DIR "/../shared/data/sigma");
  const fs::path rule_file = data /
                             "rules/windows/process_creation/"
                             "proc_creation_win_autologger_session_registry_modification.yml";
  const fs::path event_file = data /
                              "regression_data/rules/windows/process_creation/"
                              "proc_creation_win_autologger_session_registry_modification/"
                              "d7b81144-b866-48a4-9bcc-275dc69d870e.json";
  if (!fs::exists(rule_file) || !fs::exists(event_file)) GTEST_SKIP() << data << " is absent";
  const std::string id = "d7b81144-b866-48a4-9bcc-275dc69d870e";
  const std::string filter =
      "title: our EventLog tuning script\nid: mf-tuning\n"
      "logsource: {product: windows, category: process_creation}\n"
      "filter:\n  rules:\n    - " +
      id +
      "\n  selection_account:\n    User|startswith: 'swachchhanda\\'\n"
      "  selection_parent:\n    ParentCommandLine|contains: '-ep bypass'\n"
      "  condition: not all of selection_*\n";
  const std::string event = ReadFile(event_file);
  auto fired = [&](const RuleSet& set, const std::string& doc) {
    Record r;
    r.seq = 1;
    r.format = Format::kWindowsEvent;
    r.received_ms = 1'700'000'000'000;
    r.raw = doc;
    NormalizeWindowsEvent(r);
    EXPECT_TRUE(r.parsed);
    auto engine = DetectionEngine::Create(set);
    EXPECT_TRUE(engine.has_value());
    std::vector<Detection> out;
    (*engine)->Process(r, &out);
    bool hit = false;
    for (const auto& d : out) hit |= d.rule_id == id;
    EXPECT_EQ(hit, RuleMatches(set, set.rules.at(0), r));
    return hit;
  };
  auto plain = Load({{rule_file.string(), ReadFile(rule_file)}});
  auto filtered = Load({{rule_file.string(), ReadFile(rule_file)}, {"mf_tuning.yml", filter}});
  ASSERT_EQ(filtered.filter("mf-tuning").applied_to, std::vector<std::string>{id});
  const std::string other_user = [&] {
    std::string e = event;
    const std::string from = R"("User": "swachchhanda\\xodih")";
    const size_t at = e.find(from);
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) e.replace(at, from.size(), R"("User": "CORP\\mallory")");
    return e;
  }();
  EXPECT_TRUE(fired(plain.set, event));
  EXPECT_FALSE(fired(filtered.set, event));
  EXPECT_TRUE(fired(plain.set, other_user));
  EXPECT_TRUE(fired(filtered.set, other_user));
}

}  // namespace
}  // namespace seccloud::soc
