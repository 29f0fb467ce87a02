// seccloud-absence rules (R19 "a service down"): loading, firing on the wall-clock tick, recovery,
// bounds, reload and restart. The clock is injected: records carry their arrival time and
// Flush() is given "now".
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "soc/alert.h"
#include "soc/correlation.h"
#include "soc/detect.h"
#include "soc/sigma_testing.h"

namespace seccloud::soc {
namespace {

constexpr int64_t kT0 = 1'780'000'000'000;
constexpr int64_t kMin = 60'000;

constexpr const char* kSilentSyslog = R"(
title: any syslog message
name: syslog_heartbeat
logsource: {product: linux, service: syslog}
detection:
  selection:
    host.hostname|exists: true
  condition: selection
level: informational
---
title: tenant server silent
id: 0b7e2a44-0000-4000-8000-00000000a001
correlation:
  type: seccloud-absence
  rules: syslog_heartbeat
  group-by: host.hostname
  timespan: 15m
  expected:
    - host.hostname: ad01
      tenant: tenant-a
level: high
)";

class AbsenceTest : public ::testing::Test {
 protected:
  void Load(const std::string& yaml, DetectionEngineOptions options = {}) {
    engine_ = sigma_testing::CleanEngine(yaml, "absence.yml", options);
    ASSERT_NE(engine_, nullptr);
  }

  std::vector<Detection> Syslog(const std::string& host, int64_t arrived,
                                const std::string& tenant = "tenant-a") {
    Record r;
    r.seq = ++seq_;
    r.time_ms = arrived - 5'000;  // the sender's clock is off: arrival is what counts
    r.received_ms = arrived;
    r.tenant = tenant;
    r.fields() = boost::json::object{{"event", {{"dataset", "system.syslog"}}},
                                     {"host", {{"hostname", host}}},
                                     {"message", "tick"}};
    std::vector<Detection> out;
    engine_->Process(r, &out);
    return out;
  }

  std::vector<Detection> Tick(int64_t now) {
    std::vector<Detection> out;
    engine_->Flush(now, &out);
    return out;
  }

  std::unique_ptr<DetectionEngine> engine_;
  uint64_t seq_ = 0;
};

TEST_F(AbsenceTest, LearnedEntityFiresOnceAfterSilenceAndRecovers) {
  Load(kSilentSyslog);
  EXPECT_TRUE(Syslog("web01", kT0 + 1 * kMin).empty());
  EXPECT_TRUE(Syslog("web01", kT0 + 2 * kMin).empty());
  const uint64_t last = seq_;
  EXPECT_TRUE(Tick(kT0 + 2 * kMin).empty()) << "the first tick starts ad01's clock";
  EXPECT_TRUE(Tick(kT0 + 16 * kMin).empty()) << "both silent 14 min";
  auto fired = Tick(kT0 + 17 * kMin);
  ASSERT_EQ(fired.size(), 2u);  // web01 (learned) and ad01 (listed, never heard of)
  const Detection* web = nullptr;
  const Detection* ad = nullptr;
  for (const auto& d : fired) (d.entity == "host.hostname=web01" ? web : ad) = &d;
  ASSERT_NE(web, nullptr);
  ASSERT_NE(ad, nullptr);
  EXPECT_EQ(ad->entity, "host.hostname=ad01");
  EXPECT_EQ(web->ruleset, "absence");
  EXPECT_EQ(web->rule_id, "0b7e2a44-0000-4000-8000-00000000a001");
  EXPECT_EQ(web->level, Level::kHigh);
  EXPECT_EQ(web->tenant, "tenant-a");
  EXPECT_EQ(web->terminal, "web01");
  EXPECT_EQ(web->evidence, std::vector<uint64_t>{last});
  EXPECT_EQ(web->context.at("absence.silent_ms").as_int64(), 15 * kMin);
  EXPECT_EQ(web->context.at("absence.expected").as_string(), "learned");
  EXPECT_EQ(ad->context.at("absence.expected").as_string(), "listed");
  EXPECT_TRUE(ad->evidence.empty());
  EXPECT_FALSE(web->resolves);

  EXPECT_TRUE(Tick(kT0 + 30 * kMin).empty()) << "an outage is reported once";
  auto back = Syslog("web01", kT0 + 31 * kMin);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0].resolves);
  EXPECT_EQ(back[0].entity, "host.hostname=web01");
  EXPECT_EQ(back[0].evidence, std::vector<uint64_t>{seq_});
  EXPECT_EQ(back[0].context.at("absence.state").as_string(), "recovered");
  EXPECT_EQ(back[0].context.at("absence.silent_ms").as_int64(), 29 * kMin);
  EXPECT_TRUE(Syslog("web01", kT0 + 32 * kMin).empty()) << "recovered once";
  // Down again after another silence.
  auto again = Tick(kT0 + 48 * kMin);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].entity, "host.hostname=web01");
}

TEST_F(AbsenceTest, TenantsAreSeparateEntities) {
  Load(kSilentSyslog);
  Tick(kT0);
  Syslog("srv", kT0, "tenant-a");
  Syslog("srv", kT0 + 10 * kMin, "tenant-b");
  auto fired = Tick(kT0 + 16 * kMin);
  std::vector<std::string> tenants;
  for (const auto& d : fired)
    if (d.entity == "host.hostname=srv") tenants.push_back(d.tenant);
  EXPECT_EQ(tenants, std::vector<std::string>{"tenant-a"});
}

TEST_F(AbsenceTest, ListedOnlyRuleIgnoresOthers) {
  Load(R"(
title: hb
name: hb
logsource: {product: linux, service: syslog}
detection:
  selection: {host.hostname|exists: true}
  condition: selection
---
title: listed only
correlation:
  type: seccloud-absence
  rules: hb
  group-by: host.hostname
  timespan: 5m
  learn: false
  expected: [dc01]
)");
  Tick(kT0);
  Syslog("other", kT0 + kMin, "");
  Syslog("dc01", kT0 + kMin, "");
  auto fired = Tick(kT0 + 7 * kMin);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].entity, "host.hostname=dc01");
}

TEST_F(AbsenceTest, EntitiesAreBoundedAndForgotten) {
  DetectionEngineOptions o;
  o.correlation.max_absence_entities = 3;
  Load(R"(
title: hb
name: hb
logsource: {product: linux, service: syslog}
detection:
  selection: {host.hostname|exists: true}
  condition: selection
---
title: silent
correlation:
  type: seccloud-absence
  rules: hb
  group-by: host.hostname
  timespan: 10m
  forget: 1h
)",
       o);
  Tick(kT0);
  for (int i = 0; i < 5; ++i) Syslog("h" + std::to_string(i), kT0, "");
  EXPECT_EQ(engine_->correlation_stats().absence_refused, 2u);
  EXPECT_EQ(Tick(kT0 + 11 * kMin).size(), 3u);
  EXPECT_TRUE(Tick(kT0 + 61 * kMin).empty());
  EXPECT_EQ(engine_->correlation_stats().absence_forgotten, 3u);
  auto gone = engine_->TakeAbsenceChanges();
  size_t forgotten = 0;
  for (const auto& e : gone) forgotten += e.forget;
  EXPECT_EQ(forgotten, 3u);
  // Room again.
  Syslog("h9", kT0 + 62 * kMin, "");
  EXPECT_EQ(Tick(kT0 + 73 * kMin).size(), 1u);
}

TEST_F(AbsenceTest, BadRulesAreReported) {
  struct Case {
    const char* correlation;
    const char* want;
  } cases[] = {
      {"type: seccloud-absence\n  rules: hb\n  timespan: 5m", "1 to 4 group-by"},
      {"type: seccloud-absence\n  rules: hb\n  group-by: h\n  timespan: 5m\n  condition: {gte: 1}",
       "no condition"},
      {"type: seccloud-absence\n  rules: hb\n  group-by: h\n  timespan: 5m\n  learn: maybe",
       "learn is true or false"},
      {"type: seccloud-absence\n  rules: hb\n  group-by: h\n  timespan: 5m\n  learn: false",
       "could never fire"},
      {"type: seccloud-absence\n  rules: hb\n  group-by: h\n  timespan: 1h\n  forget: 5m",
       "forget must not be shorter"},
      {"type: seccloud-absence\n  rules: hb\n  group-by: h\n  timespan: 5m\n  expected: [{x: 1}]",
       "not a group-by field"},
      {"type: event_count\n  rules: hb\n  group-by: h\n  timespan: 5m\n  condition: {gte: 2}\n  "
       "learn: true",
       "applies to seccloud-absence"},
  };
  for (const auto& c : cases) {
    const std::string yaml = std::string(R"(
title: hb
name: hb
logsource: {product: linux, service: syslog}
detection:
  selection: {host.hostname|exists: true}
  condition: selection
---
title: bad
correlation:
  )") + c.correlation + "\n";
    LoadReport report;
    RuleSet set = LoadRulesFromString(yaml, "bad.yml", &report);
    EXPECT_EQ(set.correlations.size(), 0u) << c.correlation;
    ASSERT_EQ(report.errors.size(), 1u) << c.correlation;
    EXPECT_NE(report.errors[0].ToString().find(c.want), std::string::npos)
        << report.errors[0].ToString();
    EXPECT_GT(report.errors[0].line, 0);
  }
}

TEST_F(AbsenceTest, ReloadCarriesEntitiesOver) {
  Load(kSilentSyslog);
  Tick(kT0);
  Syslog("web01", kT0);
  auto state = engine_->TakeState();
  Load(kSilentSyslog);
  engine_->RestoreState(std::move(state));
  auto fired = Tick(kT0 + 16 * kMin);
  ASSERT_EQ(fired.size(), 2u);
}

// The pack's rule (etc/soc/rules/server_silent.yml): a syslog host silent for 15 minutes.
TEST_F(AbsenceTest, RulePackServerSilent) {
  LoadReport report;
  auto set = LoadRules({std::filesystem::path(SECCLOUD_SOURCE_DIR) / "etc/soc/rules"}, &report);
  ASSERT_TRUE(set.has_value());
  ASSERT_TRUE(report.errors.empty()) << report.errors[0].ToString();
  engine_ = std::move(*DetectionEngine::Create(std::move(*set)));
  Syslog("fileserver", kT0);
  Syslog("fileserver", kT0 + 5 * kMin);
  EXPECT_TRUE(Tick(kT0 + 19 * kMin).empty());
  auto fired = Tick(kT0 + 20 * kMin);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].rule_title, "server silent for 15 minutes (no syslog)");
  EXPECT_EQ(fired[0].entity, "host.hostname=fileserver");
  EXPECT_EQ(fired[0].level, Level::kHigh);
  EXPECT_EQ(fired[0].tenant, "tenant-a");
}

class AbsencePersistTest : public AbsenceTest {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("absence_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<AlertStore> Open() {
    AlertStoreOptions o;
    o.path = (dir_ / "alerts.db").string();
    o.clock_ms = [this] { return now_; };
    auto s = OpenAlertStore(o);
    EXPECT_TRUE(s.has_value());
    return s ? std::move(*s) : nullptr;
  }
  std::filesystem::path dir_;
  int64_t now_ = kT0;
};

TEST_F(AbsencePersistTest, RestartKeepsLastSeenAndDownState) {
  {
    auto alerts = Open();
    Load(kSilentSyslog);
    Tick(kT0);
    Syslog("web01", kT0 + kMin);
    Syslog("web02", kT0 + kMin);
    now_ = kT0 + 17 * kMin;
    auto fired = Tick(now_);
    ASSERT_EQ(fired.size(), 3u);
    ASSERT_TRUE(alerts->AddAll(fired).has_value());
    ASSERT_TRUE(alerts->SaveAbsence(engine_->TakeAbsenceChanges()));
    Syslog("web02", kT0 + 18 * kMin);  // web02 back; the change is saved at shutdown
    ASSERT_TRUE(alerts->SaveAbsence(engine_->TakeAbsenceChanges(true)));
  }
  auto alerts = Open();
  auto loaded = alerts->LoadAbsence();
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->size(), 3u);
  Load(kSilentSyslog);
  engine_->RestoreAbsence(*loaded);
  // Already reported: not again after the restart. web02 is up, and silent again 15 min later.
  EXPECT_TRUE(Tick(kT0 + 20 * kMin).empty());
  auto fired = Tick(kT0 + 33 * kMin);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].entity, "host.hostname=web02");
  // web01 recovering after the restart closes its alert.
  auto back = Syslog("web01", kT0 + 34 * kMin);
  ASSERT_EQ(back.size(), 1u);
  now_ = kT0 + 34 * kMin;
  auto outcomes = alerts->AddAll(back);
  ASSERT_TRUE(outcomes.has_value());
  ASSERT_EQ((*outcomes)[0].kind, IngestOutcome::Kind::kResolved);
  ASSERT_NE((*outcomes)[0].alert_id, 0);
  auto alert = alerts->GetAlert((*outcomes)[0].alert_id);
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->status, AlertStatus::kClosed);
  EXPECT_EQ(alert->entity, "host.hostname=web01");
  EXPECT_TRUE(alert->context.contains("absence.recovered"));
  EXPECT_EQ(alert->evidence.back(), seq_);
  AuditFilter f;
  f.alert_id = alert->id;
  auto audit = alerts->ListAudit(f);
  ASSERT_TRUE(audit.has_value());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].action, "alert.recover");
  EXPECT_EQ((*audit)[0].who, "system");
  // A recovery with no open alert changes nothing.
  auto none = alerts->AddAll(back);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ((*none)[0].kind, IngestOutcome::Kind::kResolved);
  EXPECT_EQ((*none)[0].alert_id, 0);
}

TEST_F(AbsencePersistTest, DamagedRowsAreSkipped) {
  auto alerts = Open();
  ASSERT_TRUE(alerts->SaveAbsence({AbsenceEntity{"r", "t", {"a"}, kT0, 1, false, false}}));
  EXPECT_FALSE(alerts->SaveAbsence({AbsenceEntity{"r", "t", {}, kT0, 1, false, false}}));
  auto loaded = alerts->LoadAbsence();
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].values, std::vector<std::string>{"a"});
  ASSERT_TRUE(alerts->SaveAbsence({AbsenceEntity{"r", "t", {"a"}, 0, 0, false, true}}));
  EXPECT_TRUE(alerts->LoadAbsence()->empty());
}

}  // namespace
}  // namespace seccloud::soc
