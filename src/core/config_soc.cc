// The `soc:` section (R18–R20): inputs, store, retention, rules, threat intelligence, alerting.
#include <optional>

#include "core/config_parser.h"

namespace seccloud::config_internal {

namespace {

bool IsLoopback(const IpAddress& a) {
  const std::string s = a.ToString();
  return s.starts_with("127.") || s == "::1";
}

constexpr const char* kFormats[] = {"auto",       "syslog",        "json", "eve",
                                    "access-log", "windows-event", "text", "seccloud-event"};

}  // namespace

SocInputConfig ConfigParser::ParseSocInput(const Located& n, const std::string& path) {
  SocInputConfig in;
  if (!ExpectMap(n, path,
                 {"name", "protocol", "listen", "path", "format", "framing", "tenant", "tls"}))
    return in;
  if (auto v = Required(n, path, "name")) in.name = Identifier(*v, path + ".name");
  if (auto v = Required(n, path, "protocol")) {
    const std::string s = String(*v, path + ".protocol");
    if (s == "udp") {
      in.protocol = SocInputConfig::Protocol::kUdp;
    } else if (s == "tcp") {
      in.protocol = SocInputConfig::Protocol::kTcp;
    } else if (s == "tls") {
      in.protocol = SocInputConfig::Protocol::kTls;
    } else if (s == "file") {
      in.protocol = SocInputConfig::Protocol::kFile;
    } else if (v->node.IsScalar()) {
      AddError(MarkOf(*v), path + ".protocol", Quote(s) + " is not udp, tcp, tls or file");
    }
  }
  const bool file = in.protocol == SocInputConfig::Protocol::kFile;
  if (file) {
    if (auto v = Required(n, path, "path")) in.path = Path(*v, path + ".path");
    if (auto v = Field(n, path, "listen"))
      AddError(MarkOf(*v), path + ".listen", "a file input has a path, not a listen address");
  } else {
    if (auto v = Required(n, path, "listen")) in.listen = EndpointValue(*v, path + ".listen");
    if (auto v = Field(n, path, "path"))
      AddError(MarkOf(*v), path + ".path", "only a file input has a path");
  }
  if (auto v = Field(n, path, "format")) {
    in.format = String(*v, path + ".format");
    if (v->node.IsScalar() &&
        std::find(std::begin(kFormats), std::end(kFormats), in.format) == std::end(kFormats))
      AddError(MarkOf(*v), path + ".format",
               Quote(in.format) +
                   " is not auto, syslog, json, eve, access-log, windows-event, text or "
                   "seccloud-event");
  }
  if (auto v = Field(n, path, "framing")) {
    in.framing = String(*v, path + ".framing");
    if (v->node.IsScalar() && in.framing != "auto" && in.framing != "lines")
      AddError(MarkOf(*v), path + ".framing", Quote(in.framing) + " is not auto or lines");
    if (in.protocol != SocInputConfig::Protocol::kTcp &&
        in.protocol != SocInputConfig::Protocol::kTls)
      AddError(MarkOf(*v), path + ".framing", "framing applies to tcp and tls inputs only");
  }
  if (auto v = Field(n, path, "tenant")) {
    in.tenant = Identifier(*v, path + ".tenant");
    if (!in.tenant.empty()) soc_tenant_paths_.emplace_back(in.tenant, path + ".tenant");
  }
  if (in.protocol == SocInputConfig::Protocol::kTls) {
    if (auto v = Required(n, path, "tls")) {
      const std::string p = path + ".tls";
      if (ExpectMap(*v, p, {"certificate", "key"})) {
        if (auto x = Required(*v, p, "certificate"))
          in.tls_certificate = Path(*x, p + ".certificate");
        if (auto x = Required(*v, p, "key")) in.tls_key = Path(*x, p + ".key");
      }
    }
  } else if (auto v = Field(n, path, "tls")) {
    AddError(MarkOf(*v), path + ".tls", "only a tls input has certificates");
  }
  return in;
}

void ConfigParser::ParseSoc(const Located& n, const std::string& path, SocConfig& out) {
  if (!ExpectMap(n, path,
                 {"enabled", "store", "alerts", "api", "spools", "inputs", "rules", "intel",
                  "retention", "alerting", "queue_records", "ingest_level", "placeholders",
                  "tenant_placeholders", "expected"}))
    return;
  out.enabled = true;
  if (auto v = Field(n, path, "enabled")) out.enabled = Bool(*v, path + ".enabled");
  if (auto v = Required(n, path, "store")) out.store_dir = Path(*v, path + ".store");
  if (auto v = Required(n, path, "alerts")) out.alerts_db = Path(*v, path + ".alerts");
  if (auto v = Required(n, path, "api")) {
    // A scalar is the listen address; a map adds the tokens and TLS.
    std::optional<Located> listen = *v;
    std::optional<Located> tls;
    const std::string p = path + ".api";
    if (v->node.IsMap()) {
      listen.reset();
      if (ExpectMap(*v, p, {"listen", "tokens", "cli_token", "tls"})) {
        listen = Required(*v, p, "listen");
        if (auto x = Field(*v, p, "tokens")) out.api_tokens = Path(*x, p + ".tokens");
        if (auto x = Field(*v, p, "cli_token")) out.api_cli_token = Path(*x, p + ".cli_token");
        if ((tls = Field(*v, p, "tls"))) {
          const std::string tp = p + ".tls";
          if (ExpectMap(*tls, tp, {"certificate", "key"})) {
            if (auto x = Required(*tls, tp, "certificate"))
              out.api_tls_certificate = Path(*x, tp + ".certificate");
            if (auto x = Required(*tls, tp, "key")) out.api_tls_key = Path(*x, tp + ".key");
          }
        }
      }
    }
    if (listen) {
      const std::string lp = v->node.IsMap() ? p + ".listen" : p;
      out.api = EndpointValue(*listen, lp);
      // Bearer tokens must not travel in clear beyond this machine: without soc.api.tls the API
      // listens on loopback only.
      if (listen->node.IsScalar() && out.api.port != 0 && !IsLoopback(out.api.address) && !tls)
        AddError(MarkOf(*listen), lp,
                 "the API speaks plain HTTP without soc.api.tls, so it listens on a loopback "
                 "address only (add soc.api.tls {certificate, key} to serve remote consoles)");
    }
  }
  if (auto v = Field(n, path, "spools")) {
    out.all_spools = false;
    std::set<std::string> seen;
    ForEachItem(*v, path + ".spools", [&](const Located& item, const std::string& ip) {
      std::string s = Identifier(item, ip);
      if (!s.empty() && !seen.insert(s).second)
        AddError(MarkOf(item), ip, Quote(s) + " is listed twice");
      if (!s.empty()) out.spools.push_back(std::move(s));
    });
  }
  if (auto v = Field(n, path, "inputs")) {
    std::set<std::string> names;
    ForEachItem(*v, path + ".inputs", [&](const Located& item, const std::string& ip) {
      SocInputConfig in = ParseSocInput(item, ip);
      if (!in.name.empty() && !names.insert(in.name).second)
        AddError(MarkAt(ip + ".name"), ip + ".name", "input \"" + in.name + "\" is defined twice");
      if (in.protocol != SocInputConfig::Protocol::kFile && in.listen.port != 0) {
        const bool udp = in.protocol == SocInputConfig::Protocol::kUdp;
        for (const SocInputConfig& other : out.inputs) {
          const bool other_udp = other.protocol == SocInputConfig::Protocol::kUdp;
          if (other.protocol != SocInputConfig::Protocol::kFile && udp == other_udp &&
              other.listen == in.listen)
            AddError(MarkAt(ip + ".listen"), ip + ".listen",
                     "input \"" + other.name + "\" already listens on " + in.listen.ToString());
        }
      }
      out.inputs.push_back(std::move(in));
    });
  }
  if (auto v = Field(n, path, "rules")) {
    ForEachItem(*v, path + ".rules", [&](const Located& item, const std::string& ip) {
      fs::path r = Path(item, ip);
      if (!r.empty()) out.rules.push_back(std::move(r));
    });
  }
  // name → [values]; names as Sigma writes them between % signs.
  auto placeholder_map = [&](const Located& m, const std::string& mp,
                             std::map<std::string, std::vector<std::string>>& into) {
    if (!IsMap(m, mp)) return;
    for (const auto& kv : m.node) {
      const std::string name = kv.first.as<std::string>("");
      const std::string np = Join(mp, name);
      Located value{kv.second, m.file};
      if (name.empty() || name.size() > 128 || name.find('%') != std::string::npos) {
        AddError(MarkOf(value), np, "a placeholder name is 1 to 128 characters without %");
        continue;
      }
      std::vector<std::string>& values = into[name];
      ForEachItem(value, np, [&](const Located& item, const std::string& ip) {
        std::string s = String(item, ip);
        if (values.size() >= 10'000)
          AddError(MarkOf(item), ip, "more than 10000 values");
        else
          values.push_back(std::move(s));
      });
    }
  };
  if (auto v = Field(n, path, "placeholders"))
    placeholder_map(*v, path + ".placeholders", out.placeholders);
  if (auto v = Field(n, path, "tenant_placeholders")) {
    const std::string p = path + ".tenant_placeholders";
    if (IsMap(*v, p)) {
      for (const auto& kv : v->node) {
        const std::string tenant = kv.first.as<std::string>("");
        const std::string tp = Join(p, tenant);
        soc_tenant_paths_.emplace_back(tenant, tp);
        placeholder_map(Located{kv.second, v->file}, tp, out.tenant_placeholders[tenant]);
      }
    }
  }
  // soc.expected: {tenant: {rule: [entity, …]}}; an entity is one value or a map of the rule's
  // group-by fields. Which rules exist and what they group by is checked when the rules load.
  if (auto v = Field(n, path, "expected")) {
    const std::string p = path + ".expected";
    size_t total = 0;
    if (IsMap(*v, p)) {
      for (const auto& tk : v->node) {
        const std::string tenant = tk.first.as<std::string>("");
        const std::string tp = Join(p, tenant);
        soc_tenant_paths_.emplace_back(tenant, tp);
        Located rules{tk.second, v->file};
        if (!IsMap(rules, tp)) continue;
        for (const auto& rk : rules.node) {
          const std::string rule = rk.first.as<std::string>("");
          const std::string rp = Join(tp, rule);
          Located list{rk.second, v->file};
          if (rule.empty() || rule.size() > 256) {
            AddError(MarkOf(list), rp, "a rule name or id is 1 to 256 characters");
            continue;
          }
          ForEachItem(list, rp, [&](const Located& item, const std::string& ip) {
            if (++total > 10'000) {
              if (total == 10'001) AddError(MarkOf(item), ip, "more than 10000 expected entities");
              return;
            }
            SocExpectedEntity e{tenant, rule, {}, ip};
            auto value = [&](const Located& x, const std::string& xp) {
              std::string s = String(x, xp);
              if (x.node.IsScalar() && (s.empty() || s.size() > 1024))
                AddError(MarkOf(x), xp, "a value is 1 to 1024 bytes");
              return s;
            };
            if (item.node.IsScalar()) {
              e.fields[""] = value(item, ip);
            } else if (item.node.IsMap() && item.node.size() >= 1 && item.node.size() <= 4) {
              for (const auto& fk : item.node) {
                const std::string field = fk.first.as<std::string>("");
                if (field.empty() || field.size() > 128) {
                  AddError(MarkOf(item), ip, "a field name is 1 to 128 characters");
                  continue;
                }
                e.fields[field] = value(Located{fk.second, item.file}, Join(ip, field));
              }
            } else {
              AddError(MarkOf(item), ip,
                       "an expected entity is one value, or a map of 1 to 4 group-by fields "
                       "(host.hostname: ad01)");
              return;
            }
            out.expected.push_back(std::move(e));
          });
        }
      }
    }
  }
  if (auto v = Field(n, path, "intel")) {
    std::set<std::string> names;
    ForEachItem(*v, path + ".intel", [&](const Located& item, const std::string& ip) {
      SocIntelFeedConfig f;
      if (!ExpectMap(item, ip, {"name", "path", "format", "level"})) return;
      if (auto x = Required(item, ip, "name")) f.name = Identifier(*x, ip + ".name");
      if (auto x = Required(item, ip, "path")) f.path = Path(*x, ip + ".path");
      if (auto x = Required(item, ip, "format")) f.format = String(*x, ip + ".format");
      if (auto x = Field(item, ip, "level")) {
        f.level = String(*x, ip + ".level");
        static const std::set<std::string> kLevels = {"informational", "low", "medium", "high",
                                                      "critical"};
        if (x->node.IsScalar() && !kLevels.contains(f.level))
          AddError(MarkOf(*x), ip + ".level",
                   Quote(f.level) + " is not informational, low, medium, high or critical");
      }
      if (!f.name.empty() && !names.insert(f.name).second)
        AddError(MarkAt(ip + ".name"), ip + ".name", "feed \"" + f.name + "\" is defined twice");
      out.intel.push_back(std::move(f));
    });
  }
  if (auto v = Field(n, path, "retention")) {
    const std::string p = path + ".retention";
    if (IsMap(*v, p)) {
      for (const auto& kv : v->node) {
        const std::string cls = kv.first.as<std::string>("");
        const std::string cp = Join(p, cls);
        Located value{kv.second, v->file};
        if (cls != "default" && !IsIdentifier(cls)) {
          AddError(MarkOf(value), cp,
                   Quote(cls) +
                       " is not a data class (the first part of event.dataset: proxy, "
                       "mail, dns, ids, firewall, system, windows, web, …) or default");
          continue;
        }
        const auto ms = Duration(value, cp, 86'400'000, 36'500ll * 86'400'000);
        const auto days = static_cast<uint32_t>(ms.count() / 86'400'000);
        if (ms.count() % 86'400'000 != 0)
          AddError(MarkOf(value), cp, "retention is given in whole days (e.g. 1826d)");
        if (cls == "default") {
          out.retention_default_days = days;
        } else {
          out.retention_days[cls] = days;
        }
      }
    }
  }
  if (auto v = Field(n, path, "alerting")) {
    const std::string p = path + ".alerting";
    if (ExpectMap(*v, p, {"group_window", "critical_tenants", "critical_assets"})) {
      if (auto x = Field(*v, p, "group_window"))
        out.group_window = Duration(*x, p + ".group_window", 1'000, 7 * 86'400'000ll);
      if (auto x = Field(*v, p, "critical_tenants"))
        ForEachItem(*x, p + ".critical_tenants", [&](const Located& item, const std::string& ip) {
          std::string t = Identifier(item, ip);
          if (!t.empty()) {
            soc_tenant_paths_.emplace_back(t, ip);
            out.critical_tenants.push_back(std::move(t));
          }
        });
      if (auto x = Field(*v, p, "critical_assets"))
        ForEachItem(*x, p + ".critical_assets", [&](const Located& item, const std::string& ip) {
          if (auto pr = Prefix(item, ip)) out.critical_assets.push_back(*pr);
        });
    }
  }
  if (out.api_cli_token.empty() && !out.alerts_db.empty())
    out.api_cli_token = out.alerts_db.parent_path() / "api-cli.token";
  if (auto v = Field(n, path, "ingest_level"))
    out.ingest_level = static_cast<int>(Integer(*v, path + ".ingest_level", -8, 22));
  if (auto v = Field(n, path, "queue_records"))
    out.queue_records = static_cast<uint32_t>(Size(*v, path + ".queue_records", 1'000, 10'000'000));
}

void ConfigParser::CheckSocTenants(const Config& cfg) {
  std::set<std::string> ids;
  for (const Tenant& t : cfg.tenants) ids.insert(t.id);
  for (const auto& [id, p] : soc_tenant_paths_)
    if (!ids.contains(id)) AddError(MarkAt(p), p, "no tenant has the id " + Quote(id));
}

}  // namespace seccloud::config_internal
