#include "soc/correlation.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "soc/detect.h"

namespace seccloud::soc {
namespace {

constexpr int64_t kT0 = 1'780'000'000'000;
constexpr int64_t kMin = 60'000;

// Three base rules over three sources and a temporal correlation grouped by source.ip.
constexpr const char* kCrossSource = R"(
title: malware download blocked
name: blocked_malware_download
logsource: {product: seccloud, service: proxy.access}
detection:
  selection:
    event.action: blocked
    rule.ruleset: [clamav, yara]
  condition: selection
level: medium
---
title: lookup of a C2 domain
name: c2_lookup
logsource: {category: dns}
detection:
  selection:
    query|endswith: '.c2.example'
  condition: selection
level: medium
---
title: IDS alert
name: ids_alert
logsource: {product: seccloud, service: ids.alert}
detection:
  selection:
    rule.id|exists: true
  condition: selection
level: low
---
title: infected terminal - blocked download, C2 lookup and IDS alert
id: 3c1e7f0a-0000-4000-8000-000000000001
correlation:
  type: temporal
  rules: [blocked_malware_download, c2_lookup, ids_alert]
  group-by: [source.ip]
  timespan: 10m
level: critical
)";

class CorrelationTest : public ::testing::Test {
 protected:
  void Load(const std::string& yaml, DetectionEngineOptions options = {}) {
    LoadReport report;
    RuleSet set = LoadRulesFromString(yaml, "corr.yml", &report);
    for (const auto& e : report.errors) ADD_FAILURE() << e.ToString();
    for (const auto& e : report.unsupported) ADD_FAILURE() << e.ToString();
    auto engine = DetectionEngine::Create(std::move(set), options);
    ASSERT_TRUE(engine.has_value());
    engine_ = std::move(*engine);
  }

  std::vector<Detection> Feed(const std::string& dataset, const std::string& fields, int64_t t,
                              const std::string& tenant = "") {
    Record r;
    r.seq = ++seq_;
    r.time_ms = t;
    r.tenant = tenant;
    r.fields() = boost::json::parse(fields).as_object();
    SetField(r.fields(), "event.dataset", boost::json::string(dataset));
    std::vector<Detection> out;
    engine_->Process(r, &out);
    return out;
  }

  std::vector<Detection> Proxy(const std::string& ip, int64_t t) {
    return Feed("proxy.access",
                R"({"source":{"ip":")" + ip +
                    R"("},"event":{"action":"blocked"},"rule":{"ruleset":"clamav"}})",
                t);
  }
  std::vector<Detection> Dns(const std::string& ip, int64_t t) {
    return Feed("dns.query",
                R"({"source":{"ip":")" + ip + R"("},"dns":{"question":{"name":"x.c2.example"}}})",
                t);
  }
  std::vector<Detection> Ids(const std::string& ip, int64_t t) {
    return Feed("ids.alert", R"({"source":{"ip":")" + ip + R"("},"rule":{"id":"2024001"}})", t);
  }

  std::unique_ptr<DetectionEngine> engine_;
  uint64_t seq_ = 0;
};

TEST_F(CorrelationTest, TemporalAcrossThreeSourcesFiresOncePerTerminal) {
  Load(kCrossSource);
  std::vector<Detection> all;
  auto take = [&](std::vector<Detection> d) { all.insert(all.end(), d.begin(), d.end()); };
  // 10.0.0.1 does all three within 10 minutes (out of order by source).
  take(Dns("10.0.0.1", kT0));
  take(Proxy("10.0.0.2", kT0 + kMin));  // another terminal: only two of the three
  take(Ids("10.0.0.1", kT0 + 2 * kMin));
  take(Dns("10.0.0.2", kT0 + 3 * kMin));
  take(Proxy("10.0.0.1", kT0 + 9 * kMin));
  // A third terminal does all three, but over 11 minutes.
  take(Proxy("10.0.0.3", kT0));
  take(Dns("10.0.0.3", kT0 + 5 * kMin));
  take(Ids("10.0.0.3", kT0 + 11 * kMin));
  // More events of the first terminal do not make it fire again.
  take(Ids("10.0.0.1", kT0 + 9 * kMin + 1));
  ASSERT_EQ(all.size(), 1u);  // base rules do not emit (generate: false)
  const Detection& d = all[0];
  EXPECT_EQ(d.rule_id, "3c1e7f0a-0000-4000-8000-000000000001");
  EXPECT_EQ(d.ruleset, "sigma-correlation");
  EXPECT_EQ(d.level, Level::kCritical);
  EXPECT_EQ(d.terminal, "10.0.0.1");
  EXPECT_EQ(d.entity, "source.ip=10.0.0.1");
  EXPECT_EQ(d.evidence, (std::vector<uint64_t>{1, 3, 5}));
  EXPECT_EQ(d.time_ms, kT0 + 9 * kMin);
}

TEST_F(CorrelationTest, TenantsNeverShareAGroup) {
  Load(kCrossSource);
  std::vector<Detection> all = Proxy("10.0.0.1", kT0);
  auto dns = Dns("10.0.0.1", kT0);
  all.insert(all.end(), dns.begin(), dns.end());
  auto d = Feed("ids.alert", R"({"source":{"ip":"10.0.0.1"},"rule":{"id":"1"}})", kT0, "other");
  EXPECT_TRUE(all.empty());
  EXPECT_TRUE(d.empty());
}

constexpr const char* kBase = R"(
title: fail
name: fail
logsource: {product: seccloud, service: t}
detection:
  selection:
    event.outcome: failure
  condition: selection
level: low
---
)";

TEST_F(CorrelationTest, EventCountFiresOncePerWindow) {
  Load(std::string(kBase) + R"(
title: many failures
id: many
correlation:
  type: event_count
  rules: fail
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3}
level: high
)");
  const std::string ev = R"({"source":{"ip":"1.2.3.4"},"event":{"outcome":"failure"}})";
  EXPECT_TRUE(Feed("t", ev, kT0).empty());
  EXPECT_TRUE(Feed("t", ev, kT0 + 1000).empty());
  auto d = Feed("t", ev, kT0 + 2000);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].evidence.size(), 3u);
  EXPECT_EQ(d[0].context.at("correlation.value").as_int64(), 3);
  EXPECT_TRUE(Feed("t", ev, kT0 + 3000).empty());  // not once per extra event
  EXPECT_TRUE(Feed("t", ev, kT0 + 4000).empty());
  EXPECT_EQ(Feed("t", ev, kT0 + 5000).size(), 1u);  // three fresh events: a new window
  // A record without the group-by field is not counted.
  EXPECT_TRUE(Feed("t", R"({"event":{"outcome":"failure"}})", kT0 + 6000).empty());
  EXPECT_EQ(engine_->correlation_stats().ungrouped_events, 1u);
}

TEST_F(CorrelationTest, EventCountRespectsTheTimespanAndLateEvents) {
  Load(std::string(kBase) + R"(
title: many failures
id: many
correlation:
  type: event_count
  rules: fail
  group-by: [source.ip]
  timespan: 1m
  condition: {gt: 2}
level: high
)");
  const std::string ev = R"({"source":{"ip":"1.2.3.4"},"event":{"outcome":"failure"}})";
  EXPECT_TRUE(Feed("t", ev, kT0).empty());
  EXPECT_TRUE(Feed("t", ev, kT0 + 50'000).empty());
  EXPECT_TRUE(Feed("t", ev, kT0 + 120'000).empty());  // the first two expired
  EXPECT_TRUE(Feed("t", ev, kT0 + 10'000).empty());   // late: older than newest - timespan
  EXPECT_EQ(engine_->correlation_stats().late_events, 1u);
  EXPECT_TRUE(Feed("t", ev, kT0 + 100'000).empty());  // out of order but within the window
  EXPECT_EQ(Feed("t", ev, kT0 + 121'000).size(), 1u);
}

TEST_F(CorrelationTest, ValueCountCountsDistinctValues) {
  Load(std::string(kBase) + R"(
title: spraying
id: spray
correlation:
  type: value_count
  rules: fail
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 3, field: user.name}
level: high
)");
  auto ev = [](const std::string& user) {
    return R"({"source":{"ip":"5.6.7.8"},"user":{"name":")" + user +
           R"("},"event":{"outcome":"failure"}})";
  };
  EXPECT_TRUE(Feed("t", ev("a"), kT0).empty());
  EXPECT_TRUE(Feed("t", ev("a"), kT0 + 1).empty());
  EXPECT_TRUE(Feed("t", ev("b"), kT0 + 2).empty());
  auto d = Feed("t", ev("c"), kT0 + 3);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].context.at("correlation.value").as_int64(), 3);
  EXPECT_EQ(d[0].terminal, "5.6.7.8");
}

TEST_F(CorrelationTest, TemporalOrderedNeedsTheOrder) {
  Load(R"(
title: a
name: a
logsource: {product: seccloud, service: t}
detection: {s: {k: a}, condition: s}
---
title: b
name: b
logsource: {product: seccloud, service: t}
detection: {s: {k: b}, condition: s}
---
title: a then b
id: ab
correlation:
  type: temporal_ordered
  rules: [a, b]
  group-by: [host.name]
  timespan: 1m
level: high
)");
  auto ev = [](const std::string& host, const std::string& k) {
    return R"({"host":{"name":")" + host + R"("},"k":")" + k + "\"}";
  };
  EXPECT_TRUE(Feed("t", ev("h1", "b"), kT0).empty());
  EXPECT_TRUE(Feed("t", ev("h1", "a"), kT0 + 1000).empty());  // b before a: no
  auto d = Feed("t", ev("h1", "b"), kT0 + 2000);              // a then b: yes
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].terminal, "h1");
  EXPECT_EQ(d[0].entity, "host.name=h1");
}

TEST_F(CorrelationTest, LtIsJudgedWhenTheWindowCloses) {
  Load(std::string(kBase) + R"(
title: too few
id: few
correlation:
  type: event_count
  rules: fail
  group-by: [source.ip]
  timespan: 1m
  condition: {lt: 3}
level: low
)");
  const std::string ev = R"({"source":{"ip":"1.1.1.1"},"event":{"outcome":"failure"}})";
  EXPECT_TRUE(Feed("t", ev, kT0).empty());
  EXPECT_TRUE(Feed("t", ev, kT0 + 1000).empty());
  std::vector<Detection> out;
  engine_->Flush(kT0 + 30'000, &out);
  EXPECT_TRUE(out.empty());  // the window is still open
  engine_->Flush(kT0 + 60'000, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].context.at("correlation.value").as_int64(), 2);
  // A window closed by a later event of the group.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Feed("t", ev, kT0 + 100'000 + i).empty());
  EXPECT_TRUE(Feed("t", ev, kT0 + 200'000).empty());  // 3 in the closed window: not < 3
}

TEST_F(CorrelationTest, GroupsAreBoundedAndEvictionsCounted) {
  DetectionEngineOptions options;
  options.correlation.max_groups = 10;
  Load(std::string(kBase) + R"(
title: many failures
id: many
correlation:
  type: event_count
  rules: fail
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 2}
level: high
)",
       options);
  for (int i = 0; i < 100; ++i) {
    Feed("t",
         R"({"source":{"ip":"10.0.0.)" + std::to_string(i) + R"("},"event":{"outcome":"failure"}})",
         kT0 + i);
  }
  EXPECT_EQ(engine_->correlation_stats().groups_evicted, 90u);
}

TEST_F(CorrelationTest, StateCarriesOverToAReloadedEngine) {
  const std::string yaml = std::string(kBase) + R"(
title: many failures
id: many
correlation:
  type: event_count
  rules: fail
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 3}
level: high
)";
  Load(yaml);
  const std::string ev = R"({"source":{"ip":"1.2.3.4"},"event":{"outcome":"failure"}})";
  Feed("t", ev, kT0);
  Feed("t", ev, kT0 + 1);
  auto state = engine_->TakeState();
  Load(yaml);  // a reload: new engine from (the same) rules
  engine_->RestoreState(std::move(state));
  EXPECT_EQ(Feed("t", ev, kT0 + 2).size(), 1u);
}

}  // namespace
}  // namespace seccloud::soc

namespace seccloud::soc {
namespace {

TEST_F(CorrelationTest, AliasesGroupDifferentFieldNames) {
  Load(R"(
title: proxy hit
name: proxy_hit
logsource: {product: seccloud, service: proxy.access}
detection: {s: {event.action: blocked}, condition: s}
---
title: resolver query
name: resolver_query
logsource: {product: seccloud, service: dns.query}
detection: {s: {dns.question.name|endswith: .bad.example}, condition: s}
---
title: both by address
id: both
correlation:
  type: temporal
  rules: [proxy_hit, resolver_query]
  group-by: [ip]
  aliases:
    ip:
      proxy_hit: source.ip
      resolver_query: client.ip
  timespan: 5m
level: high
)");
  EXPECT_TRUE(
      Feed("proxy.access", R"({"source":{"ip":"10.9.9.9"},"event":{"action":"blocked"}})", kT0)
          .empty());
  auto d = Feed("dns.query",
                R"({"client":{"ip":"10.9.9.9"},"dns":{"question":{"name":"a.bad.example"}}})",
                kT0 + 1000);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].entity, "ip=10.9.9.9");
  EXPECT_EQ(d[0].terminal, "10.9.9.9");  // the alias maps to source.ip for the first rule
}

}  // namespace
}  // namespace seccloud::soc
