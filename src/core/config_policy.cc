// The `policy:` section (R10): URL lists per layer, category actions, posting restrictions and
// threat-intelligence feeds. See core/policy_config.h for the meaning of each field.
#include <re2/re2.h>

#include "core/category_db_format.h"
#include "core/config_parser.h"
#include "core/policy_config.h"

namespace seccloud {

const char* CategoryActionName(CategoryAction a) {
  switch (a) {
    case CategoryAction::kAllow:
      return "allow";
    case CategoryAction::kWarn:
      return "warn";
    case CategoryAction::kBlock:
      return "block";
    case CategoryAction::kForceBlock:
      return "force-block";
  }
  return "allow";
}

namespace config_internal {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// "https://Example.com:8443/a/b" → "https://example.com:8443/a/b"; nullopt with *why otherwise.
std::optional<std::string> NormalizeUrlPrefix(std::string_view s, std::string* why) {
  if (s.size() > 2048) {
    *why = "is longer than 2048 bytes";
    return std::nullopt;
  }
  const size_t sep = s.find("://");
  const std::string scheme = Lower(s.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    *why = "is not an http:// or https:// URL";
    return std::nullopt;
  }
  std::string_view rest = s.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    *why = "has user information; write the host only";
    return std::nullopt;
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *why = "has an unterminated IPv6 literal";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        *why = "has text after the IPv6 literal";
        return std::nullopt;
      }
      port = after.substr(1);
    }
    if (!IpAddress::Parse(host) || IpAddress::Parse(host)->is_v4()) {
      *why = "has a bad IPv6 literal";
      return std::nullopt;
    }
  } else if (const size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  std::string norm_host;
  if (authority.front() == '[') {
    norm_host = "[" + IpAddress::Parse(host)->ToString() + "]";
  } else if (auto ip = IpAddress::Parse(host)) {
    norm_host = ip->ToString();
  } else {
    std::string host_why;
    auto h = NormalizeDomainName(host, &host_why);
    if (!h) {
      *why = "has a bad host: " + host_why;
      return std::nullopt;
    }
    norm_host = *h;
  }
  std::string out = scheme + "://" + norm_host;
  if (!port.empty() || authority.back() == ':') {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535) {
      *why = "has a bad port";
      return std::nullopt;
    }
    if (!((scheme == "http" && value == 80) || (scheme == "https" && value == 443)))
      out += ":" + std::to_string(value);
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      *why = "has a blank or control character in its path";
      return std::nullopt;
    }
  }
  return out + std::string(path);
}

}  // namespace

std::optional<UrlRuleConfig> ConfigParser::UrlRule(const Located& n, const std::string& path) {
  std::string s = String(n, path);
  if (!n.node.IsScalar()) return std::nullopt;
  UrlRuleConfig r;
  r.text = s;
  if (s.empty()) {
    AddError(MarkOf(n), path, "is empty");
    return std::nullopt;
  }
  if (s.front() == '~') {
    r.kind = UrlRuleConfig::Kind::kRegex;
    r.value = s.substr(1);
    if (r.value.empty() || r.value.size() > kMaxPolicyRegexBytes) {
      AddError(MarkOf(n), path,
               Quote(s) + " is not a regular expression of 1 to " +
                   std::to_string(kMaxPolicyRegexBytes) + " bytes");
      return std::nullopt;
    }
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(1 << 20);
    RE2 re(r.value, options);
    if (!re.ok()) {
      AddError(MarkOf(n), path, Quote(s) + " is not a valid RE2 expression: " + re.error());
      return std::nullopt;
    }
    if (re.ProgramSize() > 4000) {
      AddError(MarkOf(n), path,
               Quote(s) + " is too complex (RE2 program size " + std::to_string(re.ProgramSize()) +
                   ", limit 4000)");
      return std::nullopt;
    }
    return r;
  }
  if (s.front() == '=') {
    r.kind = UrlRuleConfig::Kind::kExactHost;
    std::string why;
    if (auto ip = IpAddress::Parse(std::string_view(s).substr(1))) {
      r.value = ip->ToString();
      return r;
    }
    auto h = NormalizeDomainName(std::string_view(s).substr(1), &why);
    if (!h) {
      AddError(MarkOf(n), path, Quote(s) + " is not \"=\" and a host name: " + why);
      return std::nullopt;
    }
    r.value = *h;
    return r;
  }
  if (s.find("://") != std::string::npos) {
    r.kind = UrlRuleConfig::Kind::kUrlPrefix;
    std::string why;
    auto u = NormalizeUrlPrefix(s, &why);
    if (!u) {
      AddError(MarkOf(n), path, Quote(s) + " " + why);
      return std::nullopt;
    }
    r.value = *u;
    return r;
  }
  const bool looks_ip = s.find(':') != std::string::npos || s.find('/') != std::string::npos ||
                        s.find_first_not_of("0123456789./") == std::string::npos;
  if (looks_ip) {
    std::string why;
    auto p = IpPrefix::Parse(s, &why);
    if (!p) {
      AddError(MarkOf(n), path, Quote(s) + " is not a CIDR: it " + why);
      return std::nullopt;
    }
    r.kind = UrlRuleConfig::Kind::kCidr;
    r.prefix = *p;
    return r;
  }
  std::string why;
  auto h = NormalizeDomainName(s, &why);
  if (!h) {
    AddError(MarkOf(n), path,
             Quote(s) + " is not a domain (" + why +
                 "); write =host, http(s)://host/path, ~regex or an IP/CIDR for other kinds");
    return std::nullopt;
  }
  r.kind = UrlRuleConfig::Kind::kDomain;
  r.value = *h;
  return r;
}

void ConfigParser::ParseUrlEntries(const Located& n, const std::string& path,
                                   std::vector<UrlRuleConfig>& out) {
  size_t regexes = 0;
  ForEachItem(n, path, [&](const Located& item, const std::string& p) {
    if (out.size() == kMaxPolicyEntriesPerList) {
      AddError(MarkOf(item), p,
               "more than " + std::to_string(kMaxPolicyEntriesPerList) + " entries in one list");
    }
    if (out.size() >= kMaxPolicyEntriesPerList) return;
    auto r = UrlRule(item, p);
    if (!r) return;
    if (r->kind == UrlRuleConfig::Kind::kRegex && ++regexes > kMaxPolicyRegexesPerList) {
      AddError(MarkOf(item), p,
               "more than " + std::to_string(kMaxPolicyRegexesPerList) +
                   " regular expressions in one list");
      return;
    }
    out.push_back(std::move(*r));
  });
}

void ConfigParser::ParseUrlLists(const Located& n, const std::string& path,
                                 std::vector<UrlListConfig>& out) {
  std::set<std::string> names;
  ForEachItem(n, path, [&](const Located& item, const std::string& p) {
    if (out.size() == kMaxPolicyListsPerLayer) {
      AddError(MarkOf(item), p,
               "more than " + std::to_string(kMaxPolicyListsPerLayer) + " lists in one place");
      return;
    }
    UrlListConfig list;
    if (!ExpectMap(item, p, {"name", "entries"})) return;
    if (auto v = Required(item, p, "name")) {
      list.name = Identifier(*v, p + ".name");
      if (!list.name.empty() && !names.insert(list.name).second)
        AddError(MarkOf(*v), p + ".name", "list \"" + list.name + "\" is defined twice here");
    }
    if (auto v = Required(item, p, "entries")) ParseUrlEntries(*v, p + ".entries", list.entries);
    out.push_back(std::move(list));
  });
}

void ConfigParser::CheckCategory(const Located& n, const std::string& path,
                                 const std::string& name) {
  if (!category_names_) return;
  if (category_names_->count(name)) return;
  std::string examples;
  for (const std::string& c : *category_names_) {
    if (examples.size() > 40) break;
    examples += (examples.empty() ? "" : ", ") + c;
  }
  AddError(MarkOf(n), path,
           Quote(name) + " is not a category of the category database (" +
               std::to_string(category_names_->size()) + " categories, e.g. " + examples + ")");
}

void ConfigParser::ParseCategoryActions(const Located& n, const std::string& path, bool common,
                                        std::map<std::string, CategoryAction>& out) {
  if (!IsMap(n, path)) return;
  for (auto it = n.node.begin(); it != n.node.end(); ++it) {
    if (!Count()) return;
    Located key{it->first, n.file};
    std::string name = String(key, path);
    const std::string p = path + "." + name;
    Located value{it->second, n.file};
    marks_.emplace(p, MarkOf(value));
    if (name.empty()) continue;
    CheckCategory(key, p, name);
    if (!category_names_ && !category_db_given_)
      AddError(MarkOf(key), p, "category actions need policy.category_db");
    std::string a = String(value, p);
    CategoryAction action = CategoryAction::kAllow;
    if (a == "allow") {
      action = CategoryAction::kAllow;
    } else if (a == "warn") {
      action = CategoryAction::kWarn;
    } else if (a == "block") {
      action = CategoryAction::kBlock;
    } else if (a == "force-block" && common) {
      action = CategoryAction::kForceBlock;
    } else {
      if (value.node.IsScalar())
        AddError(MarkOf(value), p,
                 Quote(a) + (a == "force-block"
                                 ? " is for the common layer only: a tenant cannot force-block"
                             : common ? " is not allow, warn, block or force-block"
                                      : " is not allow, warn or block"));
      continue;
    }
    if (!out.emplace(name, action).second) AddError(MarkOf(key), p, "duplicate category");
  }
}

std::vector<std::string> ConfigParser::CategoryNames(const Located& n, const std::string& path) {
  std::vector<std::string> out;
  ForEachItem(n, path, [&](const Located& item, const std::string& p) {
    std::string name = String(item, p);
    if (name.empty()) return;
    if (!category_names_ && !category_db_given_)
      AddError(MarkOf(item), p, "categories need policy.category_db");
    CheckCategory(item, p, name);
    out.push_back(std::move(name));
  });
  return out;
}

void ConfigParser::ParsePolicyLayer(const Located& n, const std::string& path, bool common,
                                    PolicyLayerConfig& out) {
  if (!ExpectMap(n, path, {"whitelist", "blacklist", "categories", "posting"})) return;
  if (auto v = Field(n, path, "whitelist")) ParseUrlLists(*v, path + ".whitelist", out.whitelists);
  if (auto v = Field(n, path, "blacklist")) ParseUrlLists(*v, path + ".blacklist", out.blacklists);
  if (auto v = Field(n, path, "categories"))
    ParseCategoryActions(*v, path + ".categories", common, out.categories);
  if (auto v = Field(n, path, "posting")) {
    const std::string p = path + ".posting";
    if (ExpectMap(*v, p, {"name", "entries", "categories"})) {
      if (auto x = Field(*v, p, "name")) out.posting.name = Identifier(*x, p + ".name");
      if (auto x = Field(*v, p, "entries"))
        ParseUrlEntries(*x, p + ".entries", out.posting.entries);
      if (auto x = Field(*v, p, "categories"))
        out.posting.categories = CategoryNames(*x, p + ".categories");
    }
  }
}

FeedConfig ConfigParser::ParseFeed(const Located& n, const std::string& path) {
  FeedConfig f;
  if (!ExpectMap(n, path, {"name", "source", "checksum", "interval", "max_shrink", "min_entries"}))
    return f;
  auto source = [&](const Located& v, const std::string& p) -> std::string {
    std::string s = String(v, p);
    if (s.rfind("http://", 0) == 0) {
      std::string why;
      if (!ParseHttpUrl(s, &why)) AddError(MarkOf(v), p, Quote(s) + " " + why);
      return s;
    }
    if (s.find("://") != std::string::npos) {
      AddError(MarkOf(v), p, Quote(s) + " is neither a path nor an http://<IP>:<port>/ URL");
      return s;
    }
    fs::path fp = Path(v, p);
    std::error_code ec;
    if (!fp.empty() && !fs::exists(fp, ec))
      AddError(MarkOf(v), p, Quote(fp.string()) + " does not exist");
    return fp.string();
  };
  if (auto v = Required(n, path, "name")) f.name = Identifier(*v, path + ".name");
  if (auto v = Required(n, path, "source")) f.source = source(*v, path + ".source");
  if (auto v = Field(n, path, "checksum")) f.checksum = source(*v, path + ".checksum");
  if (auto v = Field(n, path, "interval"))
    f.interval = Duration(*v, path + ".interval", 10'000, 7 * 86'400'000LL);
  if (auto v = Field(n, path, "max_shrink")) {
    std::string s = String(*v, path + ".max_shrink");
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !(d >= 0.0 && d <= 1.0))
      AddError(MarkOf(*v), path + ".max_shrink", Quote(s) + " is not a fraction from 0 to 1");
    else
      f.max_shrink = d;
  }
  if (auto v = Field(n, path, "min_entries")) {
    std::string s = String(*v, path + ".min_entries");
    uint64_t value = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || p != s.data() + s.size() || value < 1 ||
        value > kMaxPolicyEntriesPerList)
      AddError(MarkOf(*v), path + ".min_entries", Quote(s) + " is not a count from 1 to 1000000");
    else
      f.min_entries = value;
  }
  return f;
}

void ConfigParser::ParsePolicy(const Located& n, const std::string& path, PolicyConfig& out) {
  if (n.node.IsNull()) return;
  if (!ExpectMap(n, path, {"category_db", "force_block", "common", "tenants", "feeds"})) return;
  if (auto v = Field(n, path, "category_db")) {
    out.category_db = Path(*v, path + ".category_db");
    category_db_given_ = true;
    if (!out.category_db.empty()) {
      auto names = ReadCategoryDbNames(out.category_db);
      if (names) {
        category_names_.emplace(names->begin(), names->end());
      } else {
        AddError(MarkOf(*v), path + ".category_db",
                 names.error().message +
                     " (build it with: seccloud policy import-categories <ut1-dir> <file>)");
      }
    }
  }
  if (auto v = Field(n, path, "force_block"))
    ParseUrlLists(*v, path + ".force_block", out.force_block);
  if (auto v = Field(n, path, "common")) ParsePolicyLayer(*v, path + ".common", true, out.common);
  if (auto v = Field(n, path, "tenants")) {
    const std::string p = path + ".tenants";
    if (IsMap(*v, p)) {
      for (auto it = v->node.begin(); it != v->node.end(); ++it) {
        if (!Count()) return;
        Located key{it->first, v->file};
        std::string id = Identifier(key, p);
        const std::string tp = p + "." + id;
        marks_.emplace(tp, MarkOf(key));
        if (id.empty()) continue;
        if (out.tenants.count(id)) {
          AddError(MarkOf(key), tp, "duplicate tenant");
          continue;
        }
        policy_tenant_paths_.emplace_back(id, tp);
        auto value = Resolve(Located{it->second, v->file}, tp);
        if (!value) continue;
        ParsePolicyLayer(*value, tp, false, out.tenants[id]);
      }
    }
  }
  if (auto v = Field(n, path, "feeds")) {
    std::set<std::string> names;
    ForEachItem(*v, path + ".feeds", [&](const Located& item, const std::string& p) {
      if (out.feeds.size() == kMaxPolicyFeeds) {
        AddError(MarkOf(item), p, "more than " + std::to_string(kMaxPolicyFeeds) + " feeds");
        return;
      }
      FeedConfig f = ParseFeed(item, p);
      if (!f.name.empty() && !names.insert(f.name).second)
        AddError(MarkAt(p + ".name"), p + ".name", "feed \"" + f.name + "\" is defined twice");
      out.feeds.push_back(std::move(f));
    });
  }
}

void ConfigParser::CheckPolicyTenants(const Config& cfg) {
  std::set<std::string> ids;
  for (const Tenant& t : cfg.tenants) ids.insert(t.id);
  for (const auto& [id, path] : policy_tenant_paths_) {
    if (!ids.count(id))
      AddError(MarkAt(path), path,
               "tenant \"" + id + "\" does not exist (it is not among the ids under tenants:)");
  }
}

}  // namespace config_internal
}  // namespace seccloud
