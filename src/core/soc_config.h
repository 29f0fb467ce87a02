#pragma once
// Configuration of the SOC service (R18–R20): `soc:` in the config file — where logs come in, where
// they are kept and for how long, which rules and threat intelligence run over them, and where
// alerts are kept and served.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/ip.h"

namespace seccloud {

// One way logs reach the SOC besides seccloud's own spools.
struct SocInputConfig {
  enum class Protocol { kUdp, kTcp, kTls, kFile };
  std::string name;  // unique; recorded with every record as seccloud.soc.source
  Protocol protocol = Protocol::kUdp;
  Endpoint listen;             // udp, tcp, tls
  std::filesystem::path path;  // file: followed like `tail -F`, position checkpointed
  // How a record is read: "auto" (sniffed per record), "syslog", "json", "eve", "access-log",
  // "windows-event", "text", "seccloud-event".
  std::string format = "auto";
  // TCP and TLS framing: "auto" detects RFC 6587 octet counting or newlines per frame; "lines"
  // takes newline framing only (JSON lines).
  std::string framing = "auto";
  std::string tenant;  // every record of this input belongs to this tenant; else by sender address
  std::filesystem::path tls_certificate;  // tls: PEM chain and key
  std::filesystem::path tls_key;
  bool operator==(const SocInputConfig&) const = default;
};

struct SocIntelFeedConfig {
  std::string name;
  std::filesystem::path path;
  std::string format;          // see soc/intel.h (checked when the SOC loads the feed)
  std::string level = "high";  // Sigma level of a match
  bool operator==(const SocIntelFeedConfig&) const = default;
};

// A system that must keep reporting (R19 "a service down", R20 liveness of monitored systems):
// one entity of a seccloud-absence rule, expected from socd's start even if it never reported.
struct SocExpectedEntity {
  std::string tenant;  // the tenant id it belongs to
  std::string rule;    // the seccloud-absence rule's name or id
  // The entity: group-by field → value, or one value under the key "" for a rule with one
  // group-by field.
  std::map<std::string, std::string> fields;
  std::string where;  // "soc.expected.tsu.server_syslog_silent[0]", for errors found with the rules
  bool operator==(const SocExpectedEntity&) const = default;
};

struct SocConfig {
  bool enabled = false;
  std::filesystem::path store_dir;  // the log store
  std::filesystem::path alerts_db;  // SQLite: alerts, suppressions, audit
  Endpoint api;                     // the HTTP JSON API (demo 127.0.0.1:9000)
  // Bearer tokens of the API (soc/api_token.h): a file of token hashes and scopes; "" none.
  std::filesystem::path api_tokens;
  // The local CLI's token: socd creates it (mode 0600, every tenant) when absent and accepts it;
  // `seccloud soc` reads it. Defaults to api-cli.token beside the alerts database.
  std::filesystem::path api_cli_token;
  // soc.api.tls: the API speaks HTTPS (TLS 1.2+) with this PEM certificate chain and key. Required
  // when the API listens beyond loopback (tokens must not travel in clear).
  std::filesystem::path api_tls_certificate;
  std::filesystem::path api_tls_key;
  // seccloud's own event spools tailed from events.spool_dir: every service's when `spools` is
  // absent, else the listed services only.
  bool all_spools = true;
  std::vector<std::string> spools;
  std::vector<SocInputConfig> inputs;
  std::vector<std::filesystem::path> rules;  // Sigma rule files or directories
  // Sigma placeholders (`|expand '%name%'`): name → values, and per tenant id (added to the
  // global values for that tenant's records).
  std::map<std::string, std::vector<std::string>> placeholders;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> tenant_placeholders;
  std::vector<SocIntelFeedConfig> intel;
  // soc.expected: tenant → absence rule → entities; merged into the rules' own expected lists.
  std::vector<SocExpectedEntity> expected;
  // Retention by data class (the first part of event.dataset), in days; deletion happens only here.
  uint32_t retention_default_days = 1826;
  std::map<std::string, uint32_t> retention_days;
  std::chrono::milliseconds group_window{15 * 60'000};  // alerts of one rule and entity merge
  std::vector<std::string> critical_tenants;            // severity +1
  std::vector<IpPrefix> critical_assets;                // severity +1
  uint32_t queue_records = 200'000;  // records buffered between receivers and the store
  // zstd level of the store's ingest blocks, -8 to 22: 0 stored, below 0 zstd's fast levels
  // (Compact redoes them).
  int ingest_level = 1;
  bool operator==(const SocConfig&) const = default;
};

}  // namespace seccloud
