// Sigma front-end features beyond the first loader (issue 5, item 4): |expand placeholders from
// the configuration (global and per tenant), |fieldref with contains/startswith/endswith.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "soc/detect.h"
#include "soc/sigma.h"

namespace seccloud::soc {
namespace {

std::string Rule(const std::string& detection) {
  return "title: T\nid: r1\nlevel: high\nlogsource: {product: seccloud, service: t}\n"
         "detection:\n" +
         detection;
}

Record Rec(const std::string& fields_json, const std::string& tenant = "") {
  Record r;
  r.seq = 7;
  r.tenant = tenant;
  r.fields() = boost::json::parse(fields_json).as_object();
  SetField(r.fields(), "event.dataset", "t");
  if (!tenant.empty()) SetField(r.fields(), "tenant.id", boost::json::string(tenant));
  return r;
}

RuleSet Load(const std::string& yaml, const RuleLoadOptions& options, LoadReport* report) {
  return LoadRulesFromStrings({{"test.yml", yaml}}, report, options);
}

bool Fires(const RuleSet& set, const Record& r) { return RuleMatches(set, set.rules.at(0), r); }

// |re|expand: the placeholder's values are regular expressions (the combination check lets
// |expand follow |re).
TEST(SigmaFrontTest, AnExpandedRegexLoadsAndMatches) {
  RuleLoadOptions o;
  o.placeholders["P"] = {"ab+c"};
  LoadReport report;
  RuleSet set = Load(Rule("  sel:\n    a|re|expand: '%P%'\n  condition: sel\n"), o, &report);
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  ASSERT_TRUE(report.unsupported.empty()) << report.unsupported[0].ToString();
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_TRUE(Fires(set, Rec(R"({"a":"xabbbcx"})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"a":"xacx"})")));
}

// |expand|neq: NOT(the value among the placeholder's values), each tenant's values being the
// global ones and its own; a tenant (or the global map) without values: NOT(among none) holds.
TEST(SigmaFrontTest, ExpandNeqUsesEachTenantsWholeList) {
  RuleLoadOptions o;
  o.placeholders["Admins"] = {"root", "administrator"};
  o.tenant_placeholders["tsu"]["Admins"] = {"tsu-admin"};
  o.tenant_placeholders["ise"]["Servers"] = {"dc01"};
  LoadReport report;
  // The reference matcher's answer, checked against the engine's (the tenant guard is a |neq
  // item over tenant.id, the tenant without values a |neq item over no values).
  auto fires = [](const RuleSet& s, const Record& r) {
    auto engine = DetectionEngine::Create(s);
    EXPECT_TRUE(engine.has_value());
    std::vector<Detection> out;
    if (engine) (*engine)->Process(r, &out);
    const bool want = Fires(s, r);
    EXPECT_EQ(out.size() == 1, want) << r.raw;
    return want;
  };
  RuleSet set =
      Load(Rule("  sel:\n    user.name|expand|neq: '%Admins%'\n  condition: sel\n"), o, &report);
  ASSERT_TRUE(report.unsupported.empty()) << report.unsupported[0].ToString();
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_TRUE(fires(set, Rec(R"({"user":{"name":"alice"}})")));
  EXPECT_FALSE(fires(set, Rec(R"({"user":{"name":"Root"}})")));
  EXPECT_FALSE(fires(set, Rec(R"({"user":{"name":"root"}})", "tsu")));
  EXPECT_FALSE(fires(set, Rec(R"({"user":{"name":"tsu-admin"}})", "tsu")))
      << "tsu's own admin is among tsu's values";
  EXPECT_TRUE(fires(set, Rec(R"({"user":{"name":"tsu-admin"}})", "ise")));
  EXPECT_TRUE(fires(set, Rec(R"({"user":{"name":"tsu-admin"}})")));
  EXPECT_TRUE(fires(set, Rec(R"({"user":{"name":"alice"}})", "tsu")));
  EXPECT_TRUE(fires(set, Rec(R"({})", "tsu")));

  RuleSet servers = Load(Rule("  sel:\n    host.name|expand|neq: '%Servers%'\n"
                              "    event.action: logon\n  condition: sel\n"),
                         o, &report);
  ASSERT_EQ(servers.rules.size(), 1u);
  EXPECT_FALSE(
      fires(servers, Rec(R"({"host":{"name":"DC01"},"event":{"action":"logon"}})", "ise")));
  EXPECT_TRUE(fires(servers, Rec(R"({"host":{"name":"web"},"event":{"action":"logon"}})", "ise")));
  EXPECT_TRUE(fires(servers, Rec(R"({"host":{"name":"dc01"},"event":{"action":"logon"}})", "tsu")));
  EXPECT_TRUE(fires(servers, Rec(R"({"host":{"name":"dc01"},"event":{"action":"logon"}})")));
  EXPECT_FALSE(
      fires(servers, Rec(R"({"host":{"name":"web"},"event":{"action":"logoff"}})", "tsu")));
}

TEST(SigmaFrontTest, ExpandUsesGlobalAndTenantPlaceholders) {
  RuleLoadOptions o;
  o.placeholders["Admins"] = {"root", "administrator"};
  o.tenant_placeholders["tsu"]["Admins"] = {"tsu-admin"};
  o.tenant_placeholders["ise"]["Servers"] = {"dc01"};
  LoadReport report;
  RuleSet set =
      Load(Rule("  sel:\n    user.name|expand: '%Admins%'\n  condition: sel\n"), o, &report);
  ASSERT_TRUE(report.unsupported.empty()) << report.unsupported[0].ToString();
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_TRUE(Fires(set, Rec(R"({"user":{"name":"Administrator"}})")));
  EXPECT_TRUE(Fires(set, Rec(R"({"user":{"name":"root"}})", "ise")));
  EXPECT_TRUE(Fires(set, Rec(R"({"user":{"name":"tsu-admin"}})", "tsu")));
  EXPECT_FALSE(Fires(set, Rec(R"({"user":{"name":"tsu-admin"}})", "ise")))
      << "a tenant's values apply to its own records only";
  EXPECT_FALSE(Fires(set, Rec(R"({"user":{"name":"tsu-admin"}})")));
  EXPECT_FALSE(Fires(set, Rec(R"({"user":{"name":"alice"}})", "tsu")));

  // Only a tenant maps it: only that tenant's records can match; with other tests in the map.
  RuleSet servers = Load(Rule("  sel:\n    host.name|expand|startswith: '%Servers%.'\n"
                              "    event.action: logon\n  condition: sel\n"),
                         o, &report);
  ASSERT_EQ(servers.rules.size(), 1u);
  EXPECT_TRUE(Fires(
      servers, Rec(R"({"host":{"name":"DC01.ise.local"},"event":{"action":"logon"}})", "ise")));
  EXPECT_FALSE(Fires(
      servers, Rec(R"({"host":{"name":"dc01.ise.local"},"event":{"action":"logoff"}})", "ise")));
  EXPECT_FALSE(Fires(
      servers, Rec(R"({"host":{"name":"dc01.ise.local"},"event":{"action":"logon"}})", "tsu")));
}

TEST(SigmaFrontTest, UnmappedPlaceholdersAreReported) {
  RuleLoadOptions o;
  o.placeholders["Admins"] = {"root"};
  LoadReport report;
  RuleSet set = Load(Rule("  sel:\n    user.name|expand:\n      - '%Admins%'\n      - '%Nobody%'\n"
                          "  condition: sel\n"),
                     o, &report);
  EXPECT_TRUE(set.rules.empty());
  ASSERT_EQ(report.unsupported.size(), 1u);
  EXPECT_EQ(report.unsupported[0].reason, "placeholder not mapped");
  EXPECT_NE(report.unsupported[0].detail.find("%Nobody%"), std::string::npos);
  EXPECT_GT(report.unsupported[0].line, 0);
  Load(Rule("  sel:\n    user.name|expand: 'no placeholder'\n  condition: sel\n"), o, &report);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].ToString().find("%placeholder%"), std::string::npos);
}

TEST(SigmaFrontTest, FieldrefWithContainsStartswithEndswith) {
  LoadReport report;
  auto one = [&](const std::string& mods) {
    RuleSet s = Load(Rule("  sel:\n    a|fieldref" + mods + ": b\n  condition: sel\n"),
                     RuleLoadOptions{}, &report);
    EXPECT_EQ(s.rules.size(), 1u) << mods;
    return s;
  };
  auto contains = one("|contains");
  EXPECT_TRUE(Fires(contains, Rec(R"({"a":"C:\\Users\\Bob\\x.exe","b":"bob"})")));
  EXPECT_FALSE(Fires(contains, Rec(R"({"a":"C:\\Users\\Ann\\x.exe","b":"bob"})")));
  EXPECT_FALSE(Fires(contains, Rec(R"({"a":"x"})")));
  auto starts = one("|startswith");
  EXPECT_TRUE(Fires(starts, Rec(R"({"a":"bob.local","b":"BOB"})")));
  EXPECT_FALSE(Fires(starts, Rec(R"({"a":"x.bob","b":"bob"})")));
  auto ends = one("|endswith");
  EXPECT_TRUE(Fires(ends, Rec(R"({"a":"x.bob","b":"bob"})")));
  EXPECT_FALSE(Fires(ends, Rec(R"({"a":"bob.x","b":"bob"})")));
  auto cased = one("|contains|cased");
  EXPECT_FALSE(Fires(cased, Rec(R"({"a":"xBOBx","b":"bob"})")));
  EXPECT_TRUE(Fires(cased, Rec(R"({"a":"xbobx","b":"bob"})")));
  EXPECT_TRUE(report.unsupported.empty());
  Load(Rule("  sel:\n    a|fieldref|contains|endswith: b\n  condition: sel\n"), RuleLoadOptions{},
       &report);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].reason, "conflicting modifiers");
}

constexpr const char* kNested = R"(
title: failed login
name: failed
logsource: {product: seccloud, service: t}
detection:
  sel: {event.outcome: failure}
  condition: sel
---
title: burst of failed logins
name: burst
correlation:
  type: event_count
  rules: failed
  group-by: source.ip
  timespan: 5m
  condition: {gte: 3}
level: medium
---
title: repeated bursts
id: outer-1
correlation:
  type: event_count
  rules: burst
  group-by: source.ip
  timespan: 1h
  condition: {gte: 2}
  GENERATE
level: high
)";

std::vector<Detection> FeedBursts(DetectionEngine& engine, int bursts, int64_t* t, uint64_t* seq) {
  std::vector<Detection> out;
  for (int b = 0; b < bursts; ++b) {
    for (int i = 0; i < 3; ++i) {
      Record r = Rec(R"({"event":{"outcome":"failure"},"source":{"ip":"10.1.2.3"}})", "tsu");
      r.seq = ++*seq;
      r.time_ms = *t;
      *t += 1000;
      engine.Process(r, &out);
    }
    *t += 10 * 60'000;
  }
  return out;
}

std::string Without(std::string text, const std::string& what) {
  text.replace(text.find(what), what.size(), "");
  return text;
}

TEST(SigmaFrontTest, CorrelationOfCorrelations) {
  LoadReport report;
  RuleSet set = Load(Without(kNested, "GENERATE"), RuleLoadOptions{}, &report);
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  ASSERT_TRUE(report.unsupported.empty()) << report.unsupported[0].ToString();
  ASSERT_EQ(set.correlations.size(), 2u);
  EXPECT_EQ(set.correlations[0].name, "burst") << "inner first";
  EXPECT_FALSE(set.correlations[0].emit);
  auto engine = std::move(*DetectionEngine::Create(std::move(set)));
  int64_t t = 1'780'000'000'000;
  uint64_t seq = 0;
  EXPECT_TRUE(FeedBursts(*engine, 1, &t, &seq).empty()) << "one burst: the inner fires, unseen";
  auto out = FeedBursts(*engine, 1, &t, &seq);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule_id, "outer-1");
  EXPECT_EQ(out[0].entity, "source.ip=10.1.2.3");
  EXPECT_EQ(out[0].tenant, "tsu");
  EXPECT_EQ(out[0].context.at("correlation.rules").as_array()[0].as_string(), "burst");

  // generate: the inner's own detections are emitted too.
  std::string with_generate = kNested;
  with_generate.replace(with_generate.find("GENERATE"), 8, "generate: true");
  RuleSet g = Load(with_generate, RuleLoadOptions{}, &report);
  ASSERT_EQ(g.correlations.size(), 2u);
  EXPECT_TRUE(g.correlations[0].emit);
  auto e2 = std::move(*DetectionEngine::Create(std::move(g)));
  auto both = FeedBursts(*e2, 2, &t, &seq);
  ASSERT_EQ(both.size(), 3u);  // burst, burst, repeated bursts
}

TEST(SigmaFrontTest, CorrelationCyclesAndAbsenceInputsAreReported) {
  LoadReport report;
  Load(R"(
title: a
name: a
correlation: {type: event_count, rules: b, group-by: x, timespan: 5m, condition: {gte: 1}}
---
title: b
name: b
correlation: {type: event_count, rules: a, group-by: x, timespan: 5m, condition: {gte: 1}}
)",
       RuleLoadOptions{}, &report);
  ASSERT_GE(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].reason, "correlation cycle");
  LoadReport r2;
  Load(R"(
title: hb
name: hb
logsource: {product: seccloud, service: t}
detection: {sel: {a: 1}, condition: sel}
---
title: silent
name: silent
correlation: {type: seccloud-absence, rules: hb, group-by: x, timespan: 5m}
---
title: outer
correlation: {type: event_count, rules: silent, group-by: x, timespan: 1h, condition: {gte: 2}}
)",
       RuleLoadOptions{}, &r2);
  ASSERT_EQ(r2.unsupported.size(), 1u);
  EXPECT_EQ(r2.unsupported[0].reason, "correlation of a seccloud-absence rule");
}

}  // namespace
}  // namespace seccloud::soc
