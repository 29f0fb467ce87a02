// R18–R20: the `soc:` section — inputs, store, retention, rules, intel, alerting — and its errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/config.h"

namespace seccloud {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const char kBase[] =
    "node: {name: gw1, state_dir: /tmp/x/state}\n"
    "events: {spool_dir: /tmp/x/spool}\n"
    "supervisor: {admin: 127.0.0.1:0}\n"
    "tenants:\n"
    "  - {id: tsu, name: 津市, networks: [10.1.0.0/16]}\n";

ConfigResult Load(const std::string& soc) {
  LoadOptions o;
  o.check_directories = false;
  return LoadConfigFromString(std::string(kBase) + soc, "seccloud.yaml", "/etc/seccloud", o);
}

std::string Errors(const ConfigResult& r) { return r ? "" : r.error().ToString(); }

TEST(ConfigSocTest, FullSection) {
  auto r = Load(
      "soc:\n"
      "  store: soc/store\n"
      "  alerts: soc/alerts.db\n"
      "  api: 127.0.0.1:9000\n"
      "  spools: [proxy, scand]\n"
      "  inputs:\n"
      "    - {name: syslog-udp, protocol: udp, listen: 127.0.0.1:5514, format: syslog}\n"
      "    - {name: syslog-tcp, protocol: tcp, listen: 127.0.0.1:5514}\n"
      "    - {name: json, protocol: tcp, listen: 127.0.0.1:5515, framing: lines, tenant: tsu}\n"
      "    - {name: syslog-tls, protocol: tls, listen: 127.0.0.1:6514,\n"
      "       tls: {certificate: pki/soc.pem, key: pki/soc.key}}\n"
      "    - {name: eve, protocol: file, path: /var/log/suricata/eve.json, format: eve}\n"
      "  rules: [soc/rules]\n"
      "  intel: [{name: c2, path: intel/c2-iocs.txt, format: c2-iocs, level: critical}]\n"
      "  retention: {default: 1826d, proxy: 400d}\n"
      "  alerting: {group_window: 10m, critical_tenants: [tsu], critical_assets: [10.1.9.0/24]}\n"
      "  queue_records: 50000\n"
      "  ingest_level: 0\n");
  ASSERT_TRUE(r) << Errors(r);
  const SocConfig& s = (*r)->soc;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.store_dir, fs::path("/etc/seccloud/soc/store"));
  EXPECT_EQ(s.api.ToString(), "127.0.0.1:9000");
  EXPECT_FALSE(s.all_spools);
  EXPECT_EQ(s.spools, (std::vector<std::string>{"proxy", "scand"}));
  ASSERT_EQ(s.inputs.size(), 5u);
  EXPECT_EQ(s.inputs[0].protocol, SocInputConfig::Protocol::kUdp);
  EXPECT_EQ(s.inputs[0].format, "syslog");
  EXPECT_EQ(s.inputs[1].format, "auto");
  EXPECT_EQ(s.inputs[2].framing, "lines");
  EXPECT_EQ(s.inputs[2].tenant, "tsu");
  EXPECT_EQ(s.inputs[3].tls_key, fs::path("/etc/seccloud/pki/soc.key"));
  EXPECT_EQ(s.inputs[4].path, fs::path("/var/log/suricata/eve.json"));
  ASSERT_EQ(s.intel.size(), 1u);
  EXPECT_EQ(s.intel[0].level, "critical");
  EXPECT_EQ(s.retention_default_days, 1826u);
  EXPECT_EQ(s.retention_days.at("proxy"), 400u);
  EXPECT_EQ(s.group_window, std::chrono::minutes(10));
  EXPECT_EQ(s.critical_tenants, (std::vector<std::string>{"tsu"}));
  ASSERT_EQ(s.critical_assets.size(), 1u);
  EXPECT_EQ(s.queue_records, 50000u);
  EXPECT_EQ(s.ingest_level, 0);
}

TEST(ConfigSocTest, AbsentSectionIsDisabledAndDefaultsToAllSpools) {
  auto r = Load("");
  ASSERT_TRUE(r) << Errors(r);
  EXPECT_FALSE((*r)->soc.enabled);
  auto m = Load("soc: {store: s, alerts: a.db, api: 127.0.0.1:9000}\n");
  ASSERT_TRUE(m) << Errors(m);
  EXPECT_TRUE((*m)->soc.all_spools);
  EXPECT_EQ((*m)->soc.retention_default_days, 1826u);
}

TEST(ConfigSocTest, EveryMistakeHasItsPlace) {
  auto r = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: a.db\n"
      "  api: 10.0.0.1:9000\n"
      "  spools: [proxy, proxy]\n"
      "  inputs:\n"
      "    - {name: a, protocol: sctp, listen: 127.0.0.1:1}\n"
      "    - {name: b, protocol: udp, listen: 127.0.0.1:5514, format: cef}\n"
      "    - {name: c, protocol: udp, listen: 127.0.0.1:5514}\n"
      "    - {name: b, protocol: file, listen: 127.0.0.1:2, path: /x}\n"
      "    - {name: d, protocol: tcp, listen: 127.0.0.1:3, tenant: nowhere, framing: octets}\n"
      "    - {name: e, protocol: tls, listen: 127.0.0.1:4}\n"
      "  intel: [{name: x, path: p, format: f, level: severe}]\n"
      "  retention: {proxy: 12h, Bad Class: 30d}\n"
      "  ingest_level: 23\n"
      "  colour: blue\n");
  ASSERT_FALSE(r);
  const std::string e = Errors(r);
  EXPECT_THAT(e, HasSubstr("seccloud.yaml:9:8: soc.api: the API speaks plain HTTP"));
  EXPECT_THAT(e, HasSubstr("soc.spools[1]: \"proxy\" is listed twice"));
  EXPECT_THAT(e, HasSubstr("soc.inputs[0].protocol: \"sctp\" is not udp, tcp, tls or file"));
  EXPECT_THAT(e, HasSubstr("soc.inputs[1].format: \"cef\" is not auto"));
  EXPECT_THAT(e, HasSubstr("soc.inputs[2].listen: input \"b\" already listens on 127.0.0.1:5514"));
  EXPECT_THAT(e, HasSubstr("soc.inputs[3].name: input \"b\" is defined twice"));
  EXPECT_THAT(e, HasSubstr("soc.inputs[3].listen: a file input has a path"));
  EXPECT_THAT(e, HasSubstr("soc.inputs[4].tenant: no tenant has the id \"nowhere\""));
  EXPECT_THAT(e, HasSubstr("soc.inputs[4].framing: \"octets\" is not auto or lines"));
  EXPECT_THAT(e, HasSubstr("soc.inputs[5]: missing required key \"tls\""));
  EXPECT_THAT(e, HasSubstr("soc.intel[0].level: \"severe\" is not informational"));
  EXPECT_THAT(e, HasSubstr("soc.retention.proxy: \"12h\" is out of range"));
  EXPECT_THAT(e, HasSubstr("\"Bad Class\" is not a data class"));
  EXPECT_THAT(e, HasSubstr("soc.ingest_level: \"23\" is out of range (-8 to 22)"));
  EXPECT_THAT(e, HasSubstr("soc.colour: unknown key"));
}

TEST(ConfigSocTest, ApiTokensAndPlaceholders) {
  auto r = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: soc/a.db\n"
      "  api: {listen: 127.0.0.1:9000, tokens: soc/api-tokens}\n"
      "  placeholders: {Admins: [root, administrator]}\n"
      "  tenant_placeholders: {tsu: {Admins: [tsu-admin], Servers: [dc01]}}\n");
  ASSERT_TRUE(r) << Errors(r);
  const SocConfig& s = (*r)->soc;
  EXPECT_EQ(s.api.ToString(), "127.0.0.1:9000");
  EXPECT_EQ(s.api_tokens, fs::path("/etc/seccloud/soc/api-tokens"));
  EXPECT_EQ(s.api_cli_token, fs::path("/etc/seccloud/soc/api-cli.token")) << "the default";
  EXPECT_EQ(s.placeholders.at("Admins"), (std::vector<std::string>{"root", "administrator"}));
  EXPECT_EQ(s.tenant_placeholders.at("tsu").at("Servers"), (std::vector<std::string>{"dc01"}));
  auto c = Load("soc: {store: s, alerts: a.db, api: {listen: 127.0.0.1:1, cli_token: /run/t}}\n");
  ASSERT_TRUE(c) << Errors(c);
  EXPECT_EQ((*c)->soc.api_cli_token, fs::path("/run/t"));

  auto bad = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: a.db\n"
      "  api: {listen: 10.0.0.1:9000, token: x}\n"
      "  placeholders: {\"%x%\": [a]}\n"
      "  tenant_placeholders: {nowhere: {A: [b]}}\n");
  ASSERT_FALSE(bad);
  const std::string e = Errors(bad);
  EXPECT_THAT(e, HasSubstr("soc.api.token: unknown key"));
  EXPECT_THAT(e, HasSubstr("a placeholder name is 1 to 128 characters without %"));
  EXPECT_THAT(e, HasSubstr("no tenant has the id \"nowhere\""));
  auto remote = Load("soc: {store: s, alerts: a.db, api: {listen: 10.0.0.1:9000}}\n");
  EXPECT_THAT(Errors(remote), HasSubstr("soc.api.listen: the API speaks plain HTTP"));
}

TEST(ConfigSocTest, ApiBeyondLoopbackNeedsTls) {
  auto r = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: a.db\n"
      "  api:\n"
      "    listen: 0.0.0.0:9443\n"
      "    tls: {certificate: soc/api.pem, key: soc/api.key}\n");
  ASSERT_TRUE(r) << Errors(r);
  EXPECT_EQ((*r)->soc.api_tls_certificate, fs::path("/etc/seccloud/soc/api.pem"));
  EXPECT_EQ((*r)->soc.api_tls_key, fs::path("/etc/seccloud/soc/api.key"));
  // TLS on loopback is fine too.
  EXPECT_TRUE(
      Load("soc: {store: s, alerts: a.db, api: {listen: 127.0.0.1:9443, "
           "tls: {certificate: c.pem, key: k.pem}}}\n"));
  auto plain = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: a.db\n"
      "  api: {listen: \"[2001:db8::1]:9000\"}\n");
  EXPECT_THAT(Errors(plain),
              HasSubstr("seccloud.yaml:9:17: soc.api.listen: the API speaks plain HTTP without "
                        "soc.api.tls"));
  auto half = Load("soc: {store: s, alerts: a.db, api: {listen: 0.0.0.0:9443, tls: {key: k}}}\n");
  EXPECT_THAT(Errors(half), HasSubstr("soc.api.tls: missing required key \"certificate\""));
  auto extra = Load(
      "soc: {store: s, alerts: a.db, api: {listen: 127.0.0.1:1, tls: {certificate: c, key: k, "
      "ciphers: x}}}\n");
  EXPECT_THAT(Errors(extra), HasSubstr("soc.api.tls.ciphers: unknown key"));
}

TEST(ConfigSocTest, ExpectedSystemsPerTenant) {
  auto r = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: a.db\n"
      "  api: 127.0.0.1:9000\n"
      "  rules: [soc/rules]\n"
      "  expected:\n"
      "    tsu:\n"
      "      server_syslog_silent: [ad01, {host.hostname: dc02}]\n");
  ASSERT_TRUE(r) << Errors(r);
  const auto& e = (*r)->soc.expected;
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].tenant, "tsu");
  EXPECT_EQ(e[0].rule, "server_syslog_silent");
  EXPECT_EQ(e[0].fields, (std::map<std::string, std::string>{{"", "ad01"}}));
  EXPECT_EQ(e[0].where, "soc.expected.tsu.server_syslog_silent[0]");
  EXPECT_EQ(e[1].fields, (std::map<std::string, std::string>{{"host.hostname", "dc02"}}));

  auto bad = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: a.db\n"
      "  api: 127.0.0.1:9000\n"
      "  expected:\n"
      "    nowhere: {r: [a]}\n"
      "    tsu:\n"
      "      r: [\"\", [x], {a: 1, b: 2, c: 3, d: 4, e: 5}]\n"
      "      q: ad01\n");
  const std::string errors = Errors(bad);
  EXPECT_THAT(errors, HasSubstr("soc.expected.nowhere: no tenant has the id \"nowhere\""));
  EXPECT_THAT(errors, HasSubstr("soc.expected.tsu.r[0]: a value is 1 to 1024 bytes"));
  EXPECT_THAT(errors, HasSubstr("soc.expected.tsu.r[1]: an expected entity is one value"));
  EXPECT_THAT(errors, HasSubstr("soc.expected.tsu.r[2]: an expected entity is one value"));
  EXPECT_THAT(errors, HasSubstr("soc.expected.tsu.q: expected a sequence"));
}

TEST(ConfigSocTest, IngestLevelIsAnIntegerFromMinus8To22) {
  auto r = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: a.db\n"
      "  api: 127.0.0.1:9000\n"
      "  ingest_level: 1MiB\n");
  ASSERT_FALSE(r);
  EXPECT_THAT(Errors(r), HasSubstr("soc.ingest_level: \"1MiB\" is not an integer"));
  auto d = Load(
      "soc:\n"
      "  store: s\n"
      "  alerts: a.db\n"
      "  api: 127.0.0.1:9000\n");
  ASSERT_TRUE(d) << Errors(d);
  EXPECT_EQ((*d)->soc.ingest_level, 1);
  // zstd's fast levels: -1 to -8 (the store records them in its block metas as 23 to 30).
  for (const char* level : {"-1", "-8"}) {
    auto f = Load(std::string("soc:\n  store: s\n  alerts: a.db\n  api: 127.0.0.1:9000\n") +
                  "  ingest_level: " + level + "\n");
    ASSERT_TRUE(f) << Errors(f);
    EXPECT_EQ((*f)->soc.ingest_level, std::stoi(level));
  }
  for (const char* level : {"-9", "-0x1", "1.5", "--1"}) {
    auto f = Load(std::string("soc:\n  store: s\n  alerts: a.db\n  api: 127.0.0.1:9000\n") +
                  "  ingest_level: " + level + "\n");
    ASSERT_FALSE(f) << level;
    EXPECT_THAT(Errors(f), HasSubstr("soc.ingest_level: \"" + std::string(level) + "\" is "))
        << level;
  }
  auto too_low =
      Load("soc:\n  store: s\n  alerts: a.db\n  api: 127.0.0.1:9000\n  ingest_level: -9\n");
  EXPECT_THAT(Errors(too_low), HasSubstr("soc.ingest_level: \"-9\" is out of range (-8 to 22)"));
}

}  // namespace
}  // namespace seccloud
