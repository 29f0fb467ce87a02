#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "soc/alert.h"
#include "soc/record.h"

namespace seccloud::soc {
namespace {

constexpr int64_t kT0 = 1'780'000'000'000;  // 2026-05-28
constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 24 * 3600'000;

class AlertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/seccloud-alerts-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.path = (dir_ / "alerts.db").string();
    options_.clock_ms = [this] { return now_; };
    options_.policy.critical_tenants = {"bank"};
    options_.policy.critical_assets = {"10.99.0.0/16", "192.0.2.1"};
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    store_.reset();
    auto s = OpenAlertStore(options_);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }

  static Detection Det(std::string rule, std::string entity, std::string tenant = "acme",
                       int64_t t = kT0, Level level = Level::kMedium) {
    Detection d;
    d.rule_id = std::move(rule);
    d.rule_title = "Title of " + d.rule_id;
    d.ruleset = "sigma";
    d.level = level;
    d.tags = {"attack.execution", "attack.t1059.001"};
    d.time_ms = t;
    d.tenant = std::move(tenant);
    d.entity = "source.ip=" + entity;
    d.terminal = entity;
    return d;
  }

  IngestOutcome AddOk(const Detection& d) {
    auto r = store_->Add(d);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : IngestOutcome{};
  }

  Alert GetOk(int64_t id, const std::optional<std::string>& tenant = {}) {
    auto r = store_->GetAlert(id, tenant);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : Alert{};
  }

  SuppressionSpec Spec(std::string rule, int64_t expires) {
    SuppressionSpec s;
    s.tenant = "acme";
    s.rule_pattern = std::move(rule);
    s.reason = "known scanner";
    s.created_by = "analyst1";
    s.expires_ms = expires;
    return s;
  }

  std::filesystem::path dir_;
  int64_t now_ = kT0;
  AlertStoreOptions options_;
  std::unique_ptr<AlertStore> store_;
};

using Kind = IngestOutcome::Kind;

TEST_F(AlertStoreTest, NewAlertThenGroupedIntoIt) {
  Detection d = Det("r1", "10.0.0.1");
  d.evidence = {11, 12};
  boost::json::object ctx;
  SetField(ctx, "process.command_line", "powershell -enc AAAA");
  d.context = ctx;
  const auto first = AddOk(d);
  EXPECT_EQ(first.kind, Kind::kNewAlert);
  EXPECT_GT(first.alert_id, 0);
  Detection again = Det("r1", "10.0.0.1", "acme", kT0 + 5 * kMinute);
  again.evidence = {12, 13};
  const auto second = AddOk(again);
  EXPECT_EQ(second.kind, Kind::kGrouped);
  EXPECT_EQ(second.alert_id, first.alert_id);

  const Alert a = GetOk(first.alert_id);
  EXPECT_EQ(a.rule_id, "r1");
  EXPECT_EQ(a.rule_title, "Title of r1");
  EXPECT_EQ(a.ruleset, "sigma");
  EXPECT_EQ(a.tags, (std::vector<std::string>{"attack.execution", "attack.t1059.001"}));
  EXPECT_EQ(a.tenant, "acme");
  EXPECT_EQ(a.entity, "source.ip=10.0.0.1");
  EXPECT_EQ(a.terminal, "10.0.0.1");
  EXPECT_EQ(a.count, 2);
  EXPECT_EQ(a.first_seen_ms, kT0);
  EXPECT_EQ(a.last_seen_ms, kT0 + 5 * kMinute);
  EXPECT_EQ(a.status, AlertStatus::kOpen);
  EXPECT_EQ(a.evidence, (std::vector<uint64_t>{11, 12, 13}));
  EXPECT_EQ(a.evidence_count, 4);
  EXPECT_EQ(a.severity, Level::kMedium);
  EXPECT_EQ(a.severity_reason, "level medium");
  const auto* cmd = FindField(a.context, "process.command_line");
  ASSERT_TRUE(cmd && cmd->is_string());
  EXPECT_EQ(cmd->as_string(), "powershell -enc AAAA");
}

TEST_F(AlertStoreTest, GroupingWindowEdgeIsInclusive) {
  const int64_t w = options_.group_window_ms;
  const auto a = AddOk(Det("r1", "10.0.0.1", "acme", kT0));
  // Exactly one window after the last detection: still the same alert (the window slides).
  const auto b = AddOk(Det("r1", "10.0.0.1", "acme", kT0 + w));
  EXPECT_EQ(b.kind, Kind::kGrouped);
  EXPECT_EQ(b.alert_id, a.alert_id);
  // One millisecond past the window after the newest detection: a new alert.
  const auto c = AddOk(Det("r1", "10.0.0.1", "acme", kT0 + 2 * w + 1));
  EXPECT_EQ(c.kind, Kind::kNewAlert);
  EXPECT_NE(c.alert_id, a.alert_id);
  // Later detections group into the newest alert.
  const auto d = AddOk(Det("r1", "10.0.0.1", "acme", kT0 + 2 * w + 2));
  EXPECT_EQ(d.alert_id, c.alert_id);
  EXPECT_EQ(GetOk(a.alert_id).count, 2);
  EXPECT_EQ(GetOk(c.alert_id).count, 2);
}

TEST_F(AlertStoreTest, DifferentEntityTenantOrRuleIsAnotherAlert) {
  const auto base = AddOk(Det("r1", "10.0.0.1", "acme"));
  const auto other_entity = AddOk(Det("r1", "10.0.0.2", "acme"));
  const auto other_tenant = AddOk(Det("r1", "10.0.0.1", "globex"));
  const auto other_rule = AddOk(Det("r2", "10.0.0.1", "acme"));
  const auto no_tenant = AddOk(Det("r1", "10.0.0.1", ""));
  std::set<int64_t> ids{base.alert_id, other_entity.alert_id, other_tenant.alert_id,
                        other_rule.alert_id, no_tenant.alert_id};
  EXPECT_EQ(ids.size(), 5u);
  for (const auto& o : {other_entity, other_tenant, other_rule, no_tenant}) {
    EXPECT_EQ(o.kind, Kind::kNewAlert);
  }
}

TEST_F(AlertStoreTest, ClosedAlertStartsANewOneAcknowledgedKeepsGrouping) {
  const auto a = AddOk(Det("r1", "10.0.0.1"));
  ASSERT_TRUE(store_->Acknowledge(a.alert_id, "ana", "looking"));
  const auto b = AddOk(Det("r1", "10.0.0.1", "acme", kT0 + kMinute));
  EXPECT_EQ(b.kind, Kind::kGrouped);
  EXPECT_EQ(b.alert_id, a.alert_id);
  ASSERT_TRUE(store_->Close(a.alert_id, "ana", "benign admin script"));
  const auto c = AddOk(Det("r1", "10.0.0.1", "acme", kT0 + 2 * kMinute));
  EXPECT_EQ(c.kind, Kind::kNewAlert);
  EXPECT_NE(c.alert_id, a.alert_id);
  const Alert closed = GetOk(a.alert_id);
  EXPECT_EQ(closed.status, AlertStatus::kClosed);
  EXPECT_EQ(closed.assignee, "ana");
  EXPECT_EQ(closed.count, 2);
  // A closed alert stays closed.
  auto again = store_->Close(a.alert_id, "ana", "twice");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(store_->Acknowledge(a.alert_id, "bob", ""));
  EXPECT_FALSE(store_->Close(c.alert_id, "ana", ""));  // a reason is required
  EXPECT_EQ(store_->Acknowledge(9999, "ana", "").error().code, Errc::kNotFound);
}

TEST_F(AlertStoreTest, SuppressionCountsHitsCreatesNoAlertAndExpires) {
  auto sid = store_->Suppress(Spec("r1", kT0 + kDay));
  ASSERT_TRUE(sid) << sid.error().ToString();
  const auto s1 = AddOk(Det("r1", "10.0.0.1"));
  EXPECT_EQ(s1.kind, Kind::kSuppressed);
  EXPECT_EQ(s1.suppression_id, *sid);
  EXPECT_EQ(s1.alert_id, 0);
  EXPECT_EQ(AddOk(Det("r1", "10.0.0.2")).kind, Kind::kSuppressed);
  // Another tenant, another rule: not suppressed.
  EXPECT_EQ(AddOk(Det("r1", "10.0.0.1", "globex")).kind, Kind::kNewAlert);
  EXPECT_EQ(AddOk(Det("r2", "10.0.0.1")).kind, Kind::kNewAlert);
  AlertFilter acme;
  acme.tenant = "acme";
  EXPECT_EQ(store_->ListAlerts(acme)->size(), 1u);  // only r2

  auto list = store_->ListSuppressions();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].hits, 2);
  EXPECT_EQ((*list)[0].state, "active");
  EXPECT_EQ((*list)[0].created_by, "analyst1");

  // One millisecond before expiry it still holds; at expiry it no longer does.
  now_ = kT0 + kDay - 1;
  EXPECT_EQ(AddOk(Det("r1", "10.0.0.3", "acme", now_)).kind, Kind::kSuppressed);
  now_ = kT0 + kDay;
  EXPECT_EQ(AddOk(Det("r1", "10.0.0.3", "acme", now_)).kind, Kind::kNewAlert);
  list = store_->ListSuppressions();
  EXPECT_TRUE(list->empty());
  list = store_->ListSuppressions({}, /*include_inactive=*/true);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].state, "expired");
  EXPECT_EQ((*list)[0].hits, 3);

  AuditFilter f;
  f.suppression_id = *sid;
  auto audit = store_->ListAudit(f);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].action, "suppression.expire");
  EXPECT_EQ((*audit)[0].who, "system");
  EXPECT_EQ((*audit)[1].action, "suppression.create");
  EXPECT_EQ((*audit)[1].who, "analyst1");
  EXPECT_EQ((*audit)[1].tenant, "acme");
  EXPECT_EQ((*audit)[1].details.at("reason").as_string(), "known scanner");
}

TEST_F(AlertStoreTest, SuppressionPatternsEntityAndField) {
  SuppressionSpec all_tenants = Spec("intel:*", kT0 + kDay);
  all_tenants.tenant.reset();
  all_tenants.field = "threat.indicator.value";
  all_tenants.field_value = "cdn.example";
  ASSERT_TRUE(store_->Suppress(all_tenants));
  SuppressionSpec by_entity = Spec("*", kT0 + kDay);
  by_entity.entity_pattern = "source.ip=10.5.*";
  ASSERT_TRUE(store_->Suppress(by_entity));

  Detection intel = Det("intel:c2", "10.0.0.1", "globex");
  intel.ruleset = "intel";
  SetField(intel.context, "threat.indicator.value", "cdn.example");
  EXPECT_EQ(AddOk(intel).kind, Kind::kSuppressed);
  SetField(intel.context, "threat.indicator.value", "evil.example");
  EXPECT_EQ(AddOk(intel).kind, Kind::kNewAlert);
  EXPECT_EQ(AddOk(Det("anything", "10.5.1.2")).kind, Kind::kSuppressed);
  EXPECT_EQ(AddOk(Det("anything", "10.5.1.2", "globex")).kind, Kind::kNewAlert);
  EXPECT_EQ(AddOk(Det("anything", "10.6.1.2")).kind, Kind::kNewAlert);
}

TEST_F(AlertStoreTest, SuppressionNeedsReasonExpiryAndBoundedLifetime) {
  auto code = [&](const SuppressionSpec& s) {
    auto r = store_->Suppress(s);
    return r ? std::string("ok") : std::string(ErrcName(r.error().code));
  };
  SuppressionSpec s = Spec("r1", kT0 + kDay);
  s.reason.clear();
  EXPECT_EQ(code(s), ErrcName(Errc::kInvalidArgument));
  s = Spec("r1", 0);
  EXPECT_EQ(code(s), ErrcName(Errc::kInvalidArgument));
  s = Spec("r1", kT0 - 1);
  EXPECT_EQ(code(s), ErrcName(Errc::kInvalidArgument));
  s = Spec("", kT0 + kDay);
  EXPECT_EQ(code(s), ErrcName(Errc::kInvalidArgument));
  s = Spec("r1", kT0 + 90 * kDay + 1);
  EXPECT_EQ(code(s), ErrcName(Errc::kInvalidArgument));
  s = Spec("r1", kT0 + 90 * kDay);
  EXPECT_EQ(code(s), "ok");
  s = Spec("r1", kT0 + 365 * kDay);
  s.allow_beyond_max = true;
  EXPECT_EQ(code(s), "ok");
  s = Spec("r1", kT0 + kDay);
  s.created_by.clear();
  EXPECT_EQ(code(s), ErrcName(Errc::kInvalidArgument));
}

TEST_F(AlertStoreTest, DeleteSuppressionIsAuditedAndEndsIt) {
  auto sid = store_->Suppress(Spec("r1", kT0 + kDay));
  ASSERT_TRUE(sid);
  EXPECT_EQ(AddOk(Det("r1", "10.0.0.1")).kind, Kind::kSuppressed);
  // Another tenant cannot see or delete it.
  EXPECT_EQ(store_->DeleteSuppression(*sid, "mallory", std::string("globex")).error().code,
            Errc::kNotFound);
  EXPECT_TRUE(store_->ListSuppressions(std::string("globex"))->empty());
  ASSERT_TRUE(store_->DeleteSuppression(*sid, "analyst2", std::string("acme")));
  EXPECT_EQ(AddOk(Det("r1", "10.0.0.1")).kind, Kind::kNewAlert);
  EXPECT_FALSE(store_->DeleteSuppression(*sid, "analyst2"));
  AuditFilter f;
  f.suppression_id = *sid;
  auto audit = store_->ListAudit(f);
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].action, "suppression.delete");
  EXPECT_EQ((*audit)[0].who, "analyst2");
  // Survives a reopen: the suppression is not re-activated.
  Open();
  EXPECT_EQ(AddOk(Det("r1", "10.0.0.9")).kind, Kind::kNewAlert);
}

TEST_F(AlertStoreTest, SeverityRaisedForIntelCriticalTenantAndAssetCapped) {
  Detection intel = Det("intel:c2-iocs", "10.0.0.1", "acme", kT0, Level::kHigh);
  intel.ruleset = "intel";
  SetField(intel.context, "threat.indicator.provider", "c2-iocs");
  auto a = GetOk(AddOk(intel).alert_id);
  EXPECT_EQ(a.severity, Level::kCritical);
  EXPECT_EQ(a.severity_reason, "level high; +1 threat intel c2-iocs");

  // A Sigma rule whose context carries an indicator counts too.
  Detection sigma = Det("r-ti", "10.0.0.1", "acme", kT0, Level::kLow);
  SetField(sigma.context, "threat.indicator.value", "1.2.3.4");
  a = GetOk(AddOk(sigma).alert_id);
  EXPECT_EQ(a.severity, Level::kMedium);
  EXPECT_EQ(a.severity_reason, "level low; +1 threat intel r-ti");

  a = GetOk(AddOk(Det("r1", "10.0.0.1", "bank", kT0, Level::kLow)).alert_id);
  EXPECT_EQ(a.severity, Level::kMedium);
  EXPECT_EQ(a.severity_reason, "level low; +1 critical tenant bank");

  a = GetOk(AddOk(Det("r1", "10.99.3.4", "acme", kT0, Level::kMedium)).alert_id);
  EXPECT_EQ(a.severity, Level::kHigh);
  EXPECT_EQ(a.severity_reason, "level medium; +1 critical asset 10.99.0.0/16 (10.99.3.4)");

  // Tenant and asset both critical: still one step for that reason.
  a = GetOk(AddOk(Det("r1", "192.0.2.1", "bank", kT0, Level::kInformational)).alert_id);
  EXPECT_EQ(a.severity, Level::kLow);
  EXPECT_EQ(a.severity_reason,
            "level informational; +1 critical tenant bank, critical asset 192.0.2.1");

  Detection both = intel;
  both.tenant = "bank";
  both.level = Level::kCritical;
  a = GetOk(AddOk(both).alert_id);
  EXPECT_EQ(a.severity, Level::kCritical);
  EXPECT_EQ(a.severity_reason,
            "level critical; +1 threat intel c2-iocs; +1 critical tenant bank; capped at "
            "critical");

  // A grouped detection that rates higher raises the alert.
  const auto low = AddOk(Det("r9", "10.0.0.7", "acme", kT0, Level::kLow));
  Detection higher = Det("r9", "10.0.0.7", "acme", kT0 + kMinute, Level::kHigh);
  const auto grouped = AddOk(higher);
  EXPECT_EQ(grouped.alert_id, low.alert_id);
  EXPECT_EQ(grouped.severity, Level::kHigh);
  a = GetOk(low.alert_id);
  EXPECT_EQ(a.severity, Level::kHigh);
  EXPECT_EQ(a.level, Level::kHigh);
  EXPECT_EQ(a.severity_reason, "level high");

  AlertPolicy bad;
  bad.critical_assets = {"10.0.0.0/33"};
  auto r = RateSeverity(intel, bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("critical_assets[0]"), std::string::npos);
  options_.policy = bad;
  EXPECT_FALSE(OpenAlertStore(options_));
}

TEST_F(AlertStoreTest, TenantsNeverSeeEachOther) {
  const auto acme = AddOk(Det("r1", "10.0.0.1", "acme"));
  const auto globex = AddOk(Det("r1", "10.0.0.1", "globex"));
  const std::optional<std::string> as_acme = "acme", as_globex = "globex";
  AlertFilter f;
  f.tenant = as_acme;
  auto list = store_->ListAlerts(f);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, acme.alert_id);
  EXPECT_EQ(store_->GetAlert(globex.alert_id, as_acme).error().code, Errc::kNotFound);
  EXPECT_TRUE(store_->GetAlert(globex.alert_id, as_globex));
  EXPECT_EQ(store_->Acknowledge(globex.alert_id, "acme-analyst", "", as_acme).error().code,
            Errc::kNotFound);
  EXPECT_EQ(store_->Close(globex.alert_id, "acme-analyst", "x", as_acme).error().code,
            Errc::kNotFound);
  EXPECT_EQ(GetOk(globex.alert_id).status, AlertStatus::kOpen);
  // A tenant cannot suppress another tenant's or every tenant's detections.
  SuppressionSpec s = Spec("r1", kT0 + kDay);
  s.tenant = "globex";
  EXPECT_EQ(store_->Suppress(s, as_acme).error().code, Errc::kPermissionDenied);
  s.tenant.reset();
  EXPECT_EQ(store_->Suppress(s, as_acme).error().code, Errc::kPermissionDenied);
  s.tenant = "acme";
  ASSERT_TRUE(store_->Suppress(s, as_acme));
  EXPECT_EQ(AddOk(Det("r1", "10.0.0.2", "globex")).kind, Kind::kNewAlert);
  // Audit entries are scoped too.
  ASSERT_TRUE(store_->Acknowledge(globex.alert_id, "globex-analyst", "", as_globex));
  AuditFilter af;
  af.tenant = as_acme;
  auto audit = store_->ListAudit(af);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].action, "suppression.create");
  af.tenant = as_globex;
  audit = store_->ListAudit(af);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].action, "alert.acknowledge");
  EXPECT_EQ(store_->ListAudit({})->size(), 2u);
}

TEST_F(AlertStoreTest, AcknowledgeAndCloseAreAudited) {
  const auto a = AddOk(Det("r1", "10.0.0.1"));
  now_ = kT0 + kMinute;
  ASSERT_TRUE(store_->Acknowledge(a.alert_id, "ana", "on it"));
  now_ = kT0 + 2 * kMinute;
  ASSERT_TRUE(store_->Acknowledge(a.alert_id, "bob", "taking over"));
  now_ = kT0 + 3 * kMinute;
  ASSERT_TRUE(store_->Close(a.alert_id, "bob", "false positive: backup job"));
  AuditFilter f;
  f.alert_id = a.alert_id;
  auto audit = store_->ListAudit(f);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 3u);
  EXPECT_EQ((*audit)[2].action, "alert.acknowledge");
  EXPECT_EQ((*audit)[2].who, "ana");
  EXPECT_EQ((*audit)[2].at_ms, kT0 + kMinute);
  EXPECT_EQ((*audit)[2].details.at("note").as_string(), "on it");
  EXPECT_EQ((*audit)[1].details.at("previous_assignee").as_string(), "ana");
  EXPECT_EQ((*audit)[0].action, "alert.close");
  EXPECT_EQ((*audit)[0].details.at("from").as_string(), "acknowledged");
  EXPECT_EQ((*audit)[0].details.at("reason").as_string(), "false positive: backup job");
  EXPECT_EQ((*audit)[0].tenant, "acme");
  const Alert closed = GetOk(a.alert_id);
  EXPECT_EQ(closed.assignee, "bob");
  EXPECT_EQ(closed.updated_ms, kT0 + 3 * kMinute);
}

TEST_F(AlertStoreTest, ListFiltersAndNewestFirst) {
  for (int i = 0; i < 10; ++i) {
    Detection d = Det(i % 2 ? "odd" : "even", "10.0.0." + std::to_string(i), "acme",
                      kT0 + i * kMinute, i < 5 ? Level::kLow : Level::kHigh);
    AddOk(d);
  }
  AlertFilter f;
  auto all = store_->ListAlerts(f);
  ASSERT_EQ(all->size(), 10u);
  for (size_t i = 1; i < all->size(); ++i) {
    EXPECT_GT((*all)[i - 1].last_seen_ms, (*all)[i].last_seen_ms);
  }
  f.min_severity = Level::kHigh;
  EXPECT_EQ(store_->ListAlerts(f)->size(), 5u);
  f.rule_id = "odd";
  EXPECT_EQ(store_->ListAlerts(f)->size(), 3u);  // 5, 7, 9
  f = {};
  f.since_ms = kT0 + 3 * kMinute;
  f.until_ms = kT0 + 6 * kMinute;
  EXPECT_EQ(store_->ListAlerts(f)->size(), 4u);
  f = {};
  f.limit = 3;
  f.offset = 2;
  auto page = store_->ListAlerts(f);
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].last_seen_ms, kT0 + 7 * kMinute);
  ASSERT_TRUE(store_->Close((*all)[0].id, "ana", "done"));
  f = {};
  f.status = AlertStatus::kClosed;
  EXPECT_EQ(store_->ListAlerts(f)->size(), 1u);
  f.status = AlertStatus::kOpen;
  EXPECT_EQ(store_->ListAlerts(f)->size(), 9u);
}

TEST_F(AlertStoreTest, EvidenceIsBoundedButCounted) {
  options_.max_evidence_per_alert = 5;
  Open();
  Detection d = Det("r1", "10.0.0.1");
  d.evidence = {1, 2, 3};
  const auto a = AddOk(d);
  d.evidence = {3, 4, 5, 6, 7, 8};
  AddOk(d);
  const Alert alert = GetOk(a.alert_id);
  EXPECT_EQ(alert.evidence, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(alert.evidence_count, 9);
  EXPECT_EQ(alert.count, 2);
}

TEST_F(AlertStoreTest, InvalidDetectionsRejectedAndAddAllIsAtomic) {
  Detection no_rule = Det("", "10.0.0.1");
  EXPECT_EQ(store_->Add(no_rule).error().code, Errc::kInvalidArgument);
  Detection long_entity = Det("r1", std::string(5000, 'x'));
  EXPECT_EQ(store_->Add(long_entity).error().code, Errc::kInvalidArgument);
  std::vector<Detection> batch = {Det("r1", "10.0.0.1"), Det("r2", "10.0.0.2"), no_rule};
  EXPECT_FALSE(store_->AddAll(batch));
  EXPECT_TRUE(store_->ListAlerts({})->empty());
  batch.pop_back();
  auto ok = store_->AddAll(batch);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ(store_->ListAlerts({})->size(), 2u);
  // An over-large context is replaced by a note rather than stored or lost silently.
  Detection big = Det("r3", "10.0.0.3");
  SetField(big.context, "x", boost::json::string(std::string(70'000, 'a')));
  const Alert a = GetOk(AddOk(big).alert_id);
  EXPECT_NE(FindField(a.context, "seccloud.context_dropped"), nullptr);
}

TEST_F(AlertStoreTest, SchemaVersionedAndReopenKeepsData) {
  const auto a = AddOk(Det("r1", "10.0.0.1"));
  store_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(s, 0), kAlertSchemaVersion);
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  Open();
  EXPECT_EQ(GetOk(a.alert_id).rule_id, "r1");
  store_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto newer = OpenAlertStore(options_);
  ASSERT_FALSE(newer);
  EXPECT_NE(newer.error().message.find("schema version 99 is newer"), std::string::npos);
  // Not a database at all.
  const std::string junk = (dir_ / "junk.db").string();
  FILE* f = fopen(junk.c_str(), "w");
  fputs("this is not sqlite, just text long enough to have a header of sorts......", f);
  fclose(f);
  options_.path = junk;
  EXPECT_FALSE(OpenAlertStore(options_));
  options_.path = "/nonexistent-dir/x/alerts.db";
  EXPECT_FALSE(OpenAlertStore(options_));
}

// Every Add that returned before the process was killed is there after reopening, and the file
// passes integrity_check.
TEST_F(AlertStoreTest, DurableAcrossSigkillDuringAdds) {
  store_.reset();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string path = options_.path;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    AlertStoreOptions o;
    o.path = path;
    auto store = OpenAlertStore(o);
    if (!store) _exit(2);
    for (int i = 0;; ++i) {
      // Alternate new alerts and grouped updates.
      Detection d =
          Det("kill", "10.1." + std::to_string(i / 2 % 250) + "." + std::to_string(i / 500 % 250));
      d.time_ms = 0;
      d.evidence = {static_cast<uint64_t>(i + 1)};
      auto r = (*store)->Add(d);
      if (!r) _exit(3);
      int64_t msg[2] = {r->alert_id, i + 1};
      if (write(fds[1], msg, sizeof msg) != sizeof msg) _exit(4);
    }
  }
  close(fds[1]);
  std::vector<std::pair<int64_t, int64_t>> acked;
  int64_t msg[2];
  while (acked.size() < 300 && read(fds[0], msg, sizeof msg) == sizeof msg) {
    acked.push_back({msg[0], msg[1]});
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  while (read(fds[0], msg, sizeof msg) == sizeof msg) acked.push_back({msg[0], msg[1]});
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_GE(acked.size(), 300u);

  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "ok");
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  Open();
  for (const auto& [id, seq] : acked) {
    auto a = store_->GetAlert(id);
    ASSERT_TRUE(a) << "acknowledged alert " << id << " lost";
    EXPECT_TRUE(std::find(a->evidence.begin(), a->evidence.end(), static_cast<uint64_t>(seq)) !=
                a->evidence.end())
        << "evidence " << seq << " of alert " << id << " lost";
  }
  std::printf("%zu acknowledged adds survived SIGKILL\n", acked.size());
}

TEST_F(AlertStoreTest, AddRates) {
  std::vector<Detection> batch;
  for (int i = 0; i < 20'000; ++i) {
    Detection d = Det("rule" + std::to_string(i % 20),
                      "10.2." + std::to_string(i / 250 % 250) + "." + std::to_string(i % 250),
                      i % 3 ? "acme" : "globex", kT0 + i);
    d.evidence = {static_cast<uint64_t>(i + 1)};
    batch.push_back(std::move(d));
  }
  auto start = std::chrono::steady_clock::now();
  auto r = store_->AddAll(batch);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r);
  std::printf("AddAll: %zu detections in %.3f s: %.0f adds/s\n", batch.size(), secs,
              batch.size() / secs);
  // Same again: every detection now groups into an existing alert.
  start = std::chrono::steady_clock::now();
  r = store_->AddAll(batch);
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r);
  EXPECT_TRUE(std::all_of(r->begin(), r->end(),
                          [](const IngestOutcome& o) { return o.kind == Kind::kGrouped; }));
  std::printf("AddAll (grouping): %.0f adds/s\n", batch.size() / secs);
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store_->Add(batch[i]));
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("Add (one transaction, fsync each): %.0f adds/s\n", 200 / secs);
}

}  // namespace
}  // namespace seccloud::soc
