// R19/R20: soc.expected — systems an operator names per tenant are watched by the
// seccloud-absence rules from socd's start, so one that never reported at all is reported too.
#include "socd/detectors.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/temp_dir_testing.h"
#include "soc/parse.h"
#include "socd/pipeline.h"

namespace seccloud::socd {
namespace {

constexpr int64_t kStart = 1'780'000'000'000;
constexpr int64_t kMinute = 60'000;

SocConfig WithRules() {
  SocConfig c;
  c.rules.push_back(std::filesystem::path(SECCLOUD_SOURCE_DIR) / "etc/soc/rules/server_silent.yml");
  return c;
}

SocExpectedEntity Expect(std::string tenant, std::string rule,
                         std::map<std::string, std::string> fields) {
  return SocExpectedEntity{tenant, rule, std::move(fields),
                           "soc.expected." + tenant + "." + rule + "[0]"};
}

TEST(SocExpectedTest, AListedSystemThatNeverReportedIsReportedSilent) {
  SocConfig c = WithRules();
  c.expected.push_back(Expect("tsu", "server_syslog_silent", {{"", "ad01"}}));
  c.expected.push_back(Expect("ise", "ff6c1139-6022-4f4f-b612-33529e160427",
                              {{"host.hostname", "dc02"}}));  // by id, as a map
  DetectorsReport report;
  auto d = BuildDetectors(c, &report);
  ASSERT_TRUE(d.has_value()) << d.error().ToString();
  ASSERT_NE((*d)->engine, nullptr);
  std::vector<soc::Detection> out;
  (*d)->engine->Flush(kStart, &out);  // socd's first tick: the silence counts from here
  EXPECT_TRUE(out.empty());
  (*d)->engine->Flush(kStart + 14 * kMinute, &out);
  EXPECT_TRUE(out.empty()) << "not silent for 15 minutes yet";
  (*d)->engine->Flush(kStart + 16 * kMinute, &out);
  ASSERT_EQ(out.size(), 2u);
  std::map<std::string, const soc::Detection*> by_tenant;
  for (const auto& x : out) by_tenant[x.tenant] = &x;
  ASSERT_TRUE(by_tenant.contains("tsu") && by_tenant.contains("ise"));
  EXPECT_EQ(by_tenant["tsu"]->entity, "host.hostname=ad01");
  EXPECT_EQ(by_tenant["ise"]->entity, "host.hostname=dc02");
  EXPECT_EQ(by_tenant["tsu"]->ruleset, "absence");
  EXPECT_EQ(by_tenant["tsu"]->context.at("absence.expected").as_string(), "listed");
  out.clear();
  (*d)->engine->Flush(kStart + 30 * kMinute, &out);
  EXPECT_TRUE(out.empty()) << "reported once";

  // The system reports at last: recovered. Another tenant's host of the same name is not it.
  soc::Record r;
  r.format = soc::Format::kSyslog;
  r.received_ms = kStart + 31 * kMinute;
  r.tenant = "tsu";
  r.source = "syslog-udp";
  r.raw = "<13>Nov 26 12:00:00 ad01 app[1]: hello";
  soc::Normalize(r);
  r.seq = 7;
  (*d)->engine->Process(r, &out);
  ASSERT_EQ(out.size(), 1u) << "the base rule is informational and feeds the silence rule only: "
                            << boost::json::serialize(r.fields());
  EXPECT_TRUE(out[0].resolves);
  EXPECT_EQ(out[0].tenant, "tsu");
}

TEST(SocExpectedTest, MistakesAreNamedWithTheirPlace) {
  auto error_of = [](SocExpectedEntity e) {
    SocConfig c = WithRules();
    c.expected.push_back(std::move(e));
    DetectorsReport report;
    auto d = BuildDetectors(c, &report);
    return d ? std::string() : d.error().message;
  };
  EXPECT_EQ(error_of(Expect("tsu", "nope", {{"", "ad01"}})),
            "soc.expected.tsu.nope[0]: no loaded seccloud-absence rule has the name or id \"nope\" "
            "(see soc.rules and the rule errors)");
  EXPECT_NE(error_of(Expect("tsu", "syslog_from_host", {{"", "ad01"}})).find("no loaded"),
            std::string::npos)
      << "a base rule is no absence rule";
  EXPECT_EQ(error_of(Expect("tsu", "server_syslog_silent", {{"host.name", "ad01"}})),
            "soc.expected.tsu.server_syslog_silent[0]: \"host.name\" is not a group-by field of "
            "rule \"server_syslog_silent\" (host.hostname)");
  SocConfig none;
  none.expected.push_back(Expect("tsu", "server_syslog_silent", {{"", "ad01"}}));
  DetectorsReport report;
  auto d = BuildDetectors(none, &report);
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.error().message.find("soc.rules names none"), std::string::npos);
}

// Reload (socd's OnReload builds its detectors as here): a filter file added to soc.rules takes
// effect on the next build; an invalid one is reported and leaves the rules running unfiltered.
TEST(SocFilterReloadTest, AFilterFileTakesEffectOnReloadAndABadOneIsReported) {
  test::TempDir dir("socd-filter-reload");
  dir.Write("rules/login.yml", R"(title: root login
id: 6b1f0000-0000-4000-8000-000000000001
logsource: {product: linux, service: syslog}
detection:
  keywords: [rootlogin]
  condition: keywords
level: high
)");
  SocConfig c;
  c.rules.push_back(dir.path() / "rules");
  auto fires = [](const Detectors& d, const std::string& line) {
    soc::Record r;
    r.format = soc::Format::kSyslog;
    r.received_ms = kStart;
    r.source = "syslog-udp";
    r.raw = "<13>Nov 26 12:00:00 h1 app[1]: " + line;
    soc::Normalize(r);
    r.seq = 1;
    std::vector<soc::Detection> out;
    d.engine->Process(r, &out);
    return out.size();
  };
  DetectorsReport before;
  auto d0 = BuildDetectors(c, &before);
  ASSERT_TRUE(d0.has_value()) << d0.error().ToString();
  EXPECT_EQ(fires(**d0, "rootlogin by backup job"), 1u);
  EXPECT_EQ(before.Summary().find("filters"), std::string::npos);

  dir.Write("rules/mf_backup.yml", R"(title: the nightly backup logs in as root
id: mf-backup
logsource: {product: linux}
filter:
  rules: [6b1f0000-0000-4000-8000-000000000001]
  job:
    - backup job
  condition: not job
)");
  DetectorsReport after;
  auto d1 = BuildDetectors(c, &after);
  ASSERT_TRUE(d1.has_value()) << d1.error().ToString();
  EXPECT_EQ(after.rules.filters_loaded, 1u);
  EXPECT_NE(after.Summary().find("1 filters"), std::string::npos) << after.Summary();
  EXPECT_EQ(fires(**d1, "rootlogin by backup job"), 0u);
  EXPECT_EQ(fires(**d1, "rootlogin by alice"), 1u);
  EXPECT_EQ((*d1)->engine->rules().rules.at(0).filters, std::vector<std::string>{"mf-backup"});

  dir.Write("rules/mf_backup.yml", R"(title: broken
logsource: {product: linux}
filter:
  rules: [6b1f0000-0000-4000-8000-000000000001]
  job: [backup job]
  condition: not jb
)");
  DetectorsReport broken;
  auto d2 = BuildDetectors(c, &broken);
  ASSERT_TRUE(d2.has_value()) << d2.error().ToString();
  ASSERT_EQ(broken.rules.errors.size(), 1u);
  EXPECT_EQ(broken.rules.errors[0].ToString(),
            (dir.path() / "rules/mf_backup.yml").string() +
                ":6:14: condition names unknown selection: jb (rule broken)");
  EXPECT_EQ(fires(**d2, "rootlogin by backup job"), 1u) << "the rule runs, unfiltered";
}

}  // namespace
}  // namespace seccloud::socd
