#pragma once
// Private to core: the machinery that turns YAML into typed config structs with precise errors.
// Each section's parser is a member of ConfigParser; the sections of services live in their own
// files (config_<section>.cc) so that a service's config grows without touching the others.

#include <pwd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/event_writer.h"
#include "core/tenant_registry.h"
#include "core/text.h"

namespace seccloud::config_internal {

namespace fs = std::filesystem;

// Bounds on hostile or broken input: the YAML parser recurses per nesting level, aliases can
// make a small document expand exponentially, and includes can loop.
constexpr size_t kMaxFileBytes = 16u << 20;
constexpr int kMaxIncludeDepth = 8;
constexpr int kMaxIncludes = 1024;
constexpr int kMaxNesting = 64;
constexpr size_t kMaxNodes = 2'000'000;
constexpr size_t kMaxErrors = 200;

struct SourceFile {
  std::string display;  // as the user will recognise it: relative to where they pointed us
  fs::path dir;         // includes resolve relative to this
};

// A YAML node together with the file it came from.
struct Located {
  YAML::Node node;
  std::shared_ptr<const SourceFile> file;
};

struct Mark {
  std::string file;
  int line = 0;
  int column = 0;
};

// Rejects nesting deeper than kMaxNesting before yaml-cpp sees the text (its parser recurses per
// level). Counts flow brackets outside quotes and block indentation.
inline std::optional<std::string> CheckNesting(const std::string& text) {
  int depth = 0;
  char quote = 0;
  bool comment = false;
  size_t indent = 0;
  bool line_start = true;
  for (char c : text) {
    if (c == '\n') {
      comment = false;
      line_start = true;
      indent = 0;
      continue;
    }
    if (line_start) {
      if (c == ' ') {
        if (++indent > 4u * kMaxNesting) return "indentation nests deeper than allowed";
        continue;
      }
      line_start = false;
    }
    if (comment) continue;
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    switch (c) {
      case '#':
        comment = true;
        break;
      case '"':
      case '\'':
        quote = c;
        break;
      case '[':
      case '{':
        if (++depth > kMaxNesting) return "flow collections nest deeper than allowed";
        break;
      case ']':
      case '}':
        depth = std::max(0, depth - 1);
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

class ConfigParser {
 public:
  explicit ConfigParser(LoadOptions options) : options_(options) {}

  std::vector<ConfigError> TakeErrors() { return std::move(errors_); }
  bool has_errors() const { return !errors_.empty(); }

  std::optional<Located> ParseText(const std::string& text, std::shared_ptr<const SourceFile> f) {
    if (text.size() > kMaxFileBytes) {
      AddError(Mark{f->display, 0, 0}, "", "file is larger than 16 MiB");
      return std::nullopt;
    }
    if (auto why = CheckNesting(text)) {
      AddError(Mark{f->display, 0, 0}, "", *why);
      return std::nullopt;
    }
    try {
      return Located{YAML::Load(text), std::move(f)};
    } catch (const YAML::Exception& e) {
      AddError(Mark{f->display, e.mark.line + 1, e.mark.column + 1}, "",
               "YAML syntax error: " + e.msg);
      return std::nullopt;
    }
  }

  std::optional<Located> ParseFile(const fs::path& path, const std::string& display,
                                   const Mark& included_from, const std::string& yaml_path) {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      const int err = errno;
      AddError(
          included_from, yaml_path,
          "cannot read " + Quote(display) + (err ? std::string(": ") + std::strerror(err) : ""));
      return std::nullopt;
    }
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      text.append(buf, static_cast<size_t>(in.gcount()));
      if (text.size() > kMaxFileBytes) break;
    }
    auto f = std::make_shared<SourceFile>();
    f->display = display;
    f->dir = path.parent_path();
    return ParseText(text, std::move(f));
  }

  // ---- the document ----------------------------------------------------------------------

  void ParseRoot(const Located& root, Config& cfg) {
    if (!root.node.IsDefined() || root.node.IsNull()) {
      AddError(MarkOf(root), "", "the configuration is empty");
      return;
    }
    if (!ExpectMap(
            root, "",
            {"node", "events", "supervisor", "tenants", "programs", "proxy", "policy", "scan",
             "soc"}))
      return;
    if (auto n = Required(root, "", "node")) ParseNode(*n, "node", cfg.node);
    if (auto n = Required(root, "", "events")) ParseEvents(*n, "events", cfg.events);
    if (auto n = Required(root, "", "supervisor"))
      ParseSupervisor(*n, "supervisor", cfg.supervisor);
    if (auto n = Field(root, "", "tenants")) {
      ForEachItem(*n, "tenants", [&](const Located& item, const std::string& path) {
        tenant_paths_.push_back(path);
        cfg.tenants.push_back(ParseTenant(item, path));
      });
    }
    if (auto n = Field(root, "", "proxy")) ParseProxy(*n, "proxy", cfg.proxy);
    if (auto n = Field(root, "", "scan")) ParseScan(*n, "scan", cfg.scan);
    if (auto n = Field(root, "", "soc")) {
      ParseSoc(*n, "soc", cfg.soc);
      CheckSocTenants(cfg);
    }
    if (auto n = Field(root, "", "programs")) {
      std::set<std::string> names;
      ForEachItem(*n, "programs", [&](const Located& item, const std::string& path) {
        ProgramConfig p = ParseProgram(item, path);
        if (!p.name.empty() && !names.insert(p.name).second)
          AddError(MarkAt(path + ".name"), path + ".name",
                   "program \"" + p.name + "\" is defined twice");
        cfg.programs.push_back(std::move(p));
      });
    }
    // After tenants: the policy names tenant ids that must exist.
    if (auto n = Field(root, "", "policy")) {
      ParsePolicy(*n, "policy", cfg.policy);
      CheckPolicyTenants(cfg);
    }
  }

  // Sections of the services, each in config_<section>.cc.
  void ParseProxy(const Located& n, const std::string& path, ProxyConfig& out);
  // config_policy.cc (R10)
  void ParsePolicy(const Located& n, const std::string& path, PolicyConfig& out);
  void CheckPolicyTenants(const Config& cfg);
  void ParsePolicyLayer(const Located& n, const std::string& path, bool common,
                        PolicyLayerConfig& out);
  void ParseUrlLists(const Located& n, const std::string& path, std::vector<UrlListConfig>& out);
  void ParseUrlEntries(const Located& n, const std::string& path, std::vector<UrlRuleConfig>& out);
  std::optional<UrlRuleConfig> UrlRule(const Located& n, const std::string& path);
  void ParseCategoryActions(const Located& n, const std::string& path, bool common,
                            std::map<std::string, CategoryAction>& out);
  std::vector<std::string> CategoryNames(const Located& n, const std::string& path);
  void CheckCategory(const Located& n, const std::string& path, const std::string& name);
  FeedConfig ParseFeed(const Located& n, const std::string& path);
  void ParseScan(const Located& n, const std::string& path, ScanConfig& out);
  // config_soc.cc (R18–R20)
  void ParseSoc(const Located& n, const std::string& path, SocConfig& out);
  SocInputConfig ParseSocInput(const Located& n, const std::string& path);
  void CheckSocTenants(const Config& cfg);

  void ParseNode(const Located& n, const std::string& path, NodeConfig& out) {
    if (!ExpectMap(n, path, {"name", "state_dir", "user"})) return;
    if (auto v = Required(n, path, "name")) out.name = Identifier(*v, path + ".name");
    if (auto v = Required(n, path, "state_dir")) out.state_dir = Path(*v, path + ".state_dir");
    if (auto v = Field(n, path, "user")) {
      std::string user = String(*v, path + ".user");
      if (!user.empty()) {
        if (getpwnam(user.c_str()) == nullptr)
          AddError(MarkOf(*v), path + ".user", "no such user \"" + user + "\" on this machine");
        out.user = user;
      }
    }
  }

  void ParseEvents(const Located& n, const std::string& path, EventsConfig& out) {
    if (!ExpectMap(n, path, {"spool_dir", "rotate_size"})) return;
    if (auto v = Required(n, path, "spool_dir")) out.spool_dir = Path(*v, path + ".spool_dir");
    if (auto v = Field(n, path, "rotate_size"))
      out.rotate_bytes = Size(*v, path + ".rotate_size", 64u << 10, 16ull << 30);
  }

  void ParseSupervisor(const Located& n, const std::string& path, SupervisorConfig& out) {
    if (!ExpectMap(
            n, path,
            {"admin", "restart_backoff", "stable_after", "drain_timeout", "health_interval"}))
      return;
    if (auto v = Required(n, path, "admin")) out.admin = EndpointValue(*v, path + ".admin");
    if (auto v = Field(n, path, "restart_backoff")) {
      const std::string p = path + ".restart_backoff";
      if (ExpectMap(*v, p, {"initial", "max"})) {
        if (auto x = Field(*v, p, "initial"))
          out.restart_backoff_initial = Duration(*x, p + ".initial", 10, 600'000);
        if (auto x = Field(*v, p, "max"))
          out.restart_backoff_max = Duration(*x, p + ".max", 10, 3'600'000);
        if (out.restart_backoff_max < out.restart_backoff_initial)
          AddError(MarkOf(*v), p, "max is shorter than initial");
      }
    }
    if (auto v = Field(n, path, "stable_after"))
      out.stable_after = Duration(*v, path + ".stable_after", 100, 86'400'000);
    if (auto v = Field(n, path, "drain_timeout"))
      out.drain_timeout = Duration(*v, path + ".drain_timeout", 100, 600'000);
    if (auto v = Field(n, path, "health_interval"))
      out.health_interval = Duration(*v, path + ".health_interval", 100, 600'000);
  }

  Tenant ParseTenant(const Located& n, const std::string& path) {
    Tenant t;
    if (!ExpectMap(n, path, {"id", "name", "networks", "proxies", "nat", "domains", "contacts"}))
      return t;
    if (auto v = Required(n, path, "id")) t.id = Identifier(*v, path + ".id");
    if (auto v = Required(n, path, "name")) {
      t.display_name = String(*v, path + ".name");
      if (t.display_name.empty() || t.display_name.size() > 256)
        AddError(MarkOf(*v), path + ".name", "must be 1 to 256 bytes of UTF-8");
    }
    if (auto v = Required(n, path, "networks")) {
      ForEachItem(*v, path + ".networks", [&](const Located& item, const std::string& p) {
        if (auto prefix = Prefix(item, p)) t.networks.push_back(*prefix);
      });
      if (IsSequence(*v) && v->node.size() == 0)
        AddError(MarkOf(*v), path + ".networks", "a tenant needs at least one network");
    }
    if (auto v = Field(n, path, "proxies")) {
      ForEachItem(*v, path + ".proxies", [&](const Located& item, const std::string& p) {
        if (auto a = Address(item, p)) t.proxies.push_back(*a);
      });
    }
    if (auto v = Field(n, path, "nat")) {
      ForEachItem(*v, path + ".nat", [&](const Located& item, const std::string& p) {
        if (!ExpectMap(item, p, {"translated", "internal"})) return;
        NatMapping m;
        auto tr = Required(item, p, "translated");
        auto in = Required(item, p, "internal");
        std::optional<IpPrefix> a, b;
        if (tr) a = Prefix(*tr, p + ".translated");
        if (in) b = Prefix(*in, p + ".internal");
        if (a && b) t.nat.push_back(NatMapping{*a, *b});
      });
    }
    if (auto v = Field(n, path, "domains")) {
      ForEachItem(*v, path + ".domains", [&](const Located& item, const std::string& p) {
        std::string d = String(item, p);
        if (d.empty() && !IsScalar(item)) return;
        std::string why;
        if (auto norm = NormalizeDomainName(d, &why))
          t.domains.push_back(*norm);
        else
          AddError(MarkOf(item), p, Quote(d) + " " + why);
      });
    }
    if (auto v = Field(n, path, "contacts")) {
      ForEachItem(*v, path + ".contacts", [&](const Located& item, const std::string& p) {
        if (!ExpectMap(item, p, {"name", "email", "phone", "role"})) return;
        Contact c;
        if (auto x = Required(item, p, "name")) c.name = String(*x, p + ".name");
        if (auto x = Field(item, p, "email")) {
          c.email = String(*x, p + ".email");
          if (!IsPlausibleEmail(c.email))
            AddError(MarkOf(*x), p + ".email", Quote(c.email) + " is not an e-mail address");
        }
        if (auto x = Field(item, p, "phone")) c.phone = String(*x, p + ".phone");
        if (auto x = Field(item, p, "role")) c.role = String(*x, p + ".role");
        if (c.email.empty() && c.phone.empty())
          AddError(MarkOf(item), p, "a contact needs an email or a phone");
        t.contacts.push_back(std::move(c));
      });
    }
    return t;
  }

  ProgramConfig ParseProgram(const Located& n, const std::string& path) {
    ProgramConfig p;
    if (!ExpectMap(n, path,
                   {"name", "command", "working_dir", "environment", "health_url", "enabled"}))
      return p;
    if (auto v = Required(n, path, "name")) p.name = Identifier(*v, path + ".name");
    if (auto v = Required(n, path, "command")) {
      ForEachItem(*v, path + ".command", [&](const Located& item, const std::string& ip) {
        std::string arg = String(item, ip);
        if (arg.find('\0') != std::string::npos) AddError(MarkOf(item), ip, "contains a NUL byte");
        p.command.push_back(std::move(arg));
      });
      if (IsSequence(*v) && v->node.size() == 0)
        AddError(MarkOf(*v), path + ".command", "needs at least the program to run");
      else if (!p.command.empty() && p.command[0].empty())
        AddError(MarkOf(*v), path + ".command[0]", "is empty");
    }
    if (auto v = Field(n, path, "working_dir")) p.working_dir = Path(*v, path + ".working_dir");
    if (auto v = Field(n, path, "environment")) {
      if (IsMap(*v, path + ".environment")) {
        for (auto it = v->node.begin(); it != v->node.end(); ++it) {
          Located key{it->first, v->file};
          std::string k = String(key, path + ".environment");
          std::string val = String(Located{it->second, v->file}, path + ".environment." + k);
          if (k.empty() || k.find('=') != std::string::npos)
            AddError(MarkOf(key), path + ".environment", Quote(k) + " is not a variable name");
          else if (!p.environment.emplace(k, val).second)
            AddError(MarkOf(key), path + ".environment." + k, "duplicate key");
        }
      }
    }
    if (auto v = Field(n, path, "health_url")) {
      p.health_url = String(*v, path + ".health_url");
      std::string why;
      if (!ParseHttpUrl(p.health_url, &why))
        AddError(MarkOf(*v), path + ".health_url", Quote(p.health_url) + " " + why);
    }
    if (auto v = Field(n, path, "enabled")) p.enabled = Bool(*v, path + ".enabled");
    return p;
  }

  // ---- semantic checks across the document -----------------------------------------------

  void CheckProxyScan(const Config& cfg) {
    if (cfg.proxy.scan.enabled && (!cfg.scan.enabled || cfg.scan.socket.empty()))
      AddError(MarkAt("proxy.scan"), "proxy.scan",
               "scanning needs the scan service: add an enabled `scan:` section with a socket");
  }

  void BuildRegistry(Config& cfg) {
    std::vector<TenantConflict> conflicts;
    auto registry = TenantRegistry::Build(cfg.tenants, &conflicts);
    if (registry) {
      cfg.registry = *registry;
      return;
    }
    if (conflicts.empty()) {
      AddError(Mark{root_file_, 0, 0}, "tenants", registry.error().ToString());
      return;
    }
    for (const TenantConflict& c : conflicts) {
      std::string path = c.tenant < tenant_paths_.size() ? tenant_paths_[c.tenant] : "tenants";
      path += "." + c.field;
      if (c.field != "id") path += "[" + std::to_string(c.item) + "]";
      AddError(MarkAt(path), path, c.message);
    }
  }

  void CheckDirectories(const Config& cfg) {
    if (!options_.check_directories) return;
    auto check = [&](const fs::path& dir, const std::string& path) {
      if (dir.empty()) return;
      if (auto st = CheckWritable(dir); !st) AddError(MarkAt(path), path, st.error().ToString());
    };
    check(cfg.node.state_dir, "node.state_dir");
    check(cfg.events.spool_dir, "events.spool_dir");
  }

  void set_root_file(std::string f) { root_file_ = std::move(f); }

  void AddError(const Mark& m, const std::string& path, std::string message) {
    if (errors_.size() == kMaxErrors) {
      errors_.push_back(ConfigError{m.file, m.line, m.column, path,
                                    "too many errors; stopped reporting after this one"});
    }
    if (errors_.size() > kMaxErrors) return;
    errors_.push_back(ConfigError{m.file, m.line, m.column, path, std::move(message)});
  }

  // ---- structural helpers ----------------------------------------------------------------

  Mark MarkOf(const Located& n) {
    YAML::Mark m = n.node.Mark();
    if (m.line < 0) return Mark{n.file->display, 0, 0};
    return Mark{n.file->display, m.line + 1, m.column + 1};
  }
  Mark MarkAt(const std::string& path) {
    auto it = marks_.find(path);
    return it != marks_.end() ? it->second : Mark{root_file_, 0, 0};
  }

  bool Count() {
    if (++nodes_ <= kMaxNodes) return true;
    if (nodes_ == kMaxNodes + 1)
      AddError(Mark{root_file_, 0, 0}, "",
               "the document expands to more than 2,000,000 nodes (aliases?)");
    return false;
  }

  // Follows `!include path` (relative to the including file), up to kMaxIncludeDepth deep.
  std::optional<Located> Resolve(const Located& n, const std::string& path, int depth = 0) {
    if (n.node.Tag() != "!include") return n;
    if (!n.node.IsScalar()) {
      AddError(MarkOf(n), path, "!include takes a file name");
      return std::nullopt;
    }
    if (depth >= kMaxIncludeDepth || ++includes_ > kMaxIncludes) {
      AddError(MarkOf(n), path, "includes nest too deep or are too many (a loop?)");
      return std::nullopt;
    }
    const std::string name = n.node.Scalar();
    fs::path target = fs::path(name).is_absolute() ? fs::path(name) : n.file->dir / name;
    fs::path display = fs::path(n.file->display).parent_path() / name;
    auto doc = ParseFile(target, display.lexically_normal().string(), MarkOf(n), path);
    if (!doc) return std::nullopt;
    return Resolve(*doc, path, depth + 1);
  }

  bool ExpectMap(const Located& n, const std::string& path,
                 std::initializer_list<std::string_view> keys) {
    if (!IsMap(n, path)) return false;
    std::set<std::string> seen;
    for (auto it = n.node.begin(); it != n.node.end(); ++it) {
      Located key{it->first, n.file};
      if (!it->first.IsScalar()) {
        AddError(MarkOf(key), path, "keys must be plain strings");
        continue;
      }
      const std::string& k = it->first.Scalar();
      const std::string child = path.empty() ? k : path + "." + k;
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        std::string expected;
        for (auto e : keys) expected += (expected.empty() ? "" : ", ") + std::string(e);
        AddError(MarkOf(key), child, "unknown key (expected one of: " + expected + ")");
      } else if (!seen.insert(k).second) {
        AddError(MarkOf(key), child, "duplicate key");
      }
    }
    return true;
  }

  bool IsMap(const Located& n, const std::string& path) {
    if (n.node.IsMap()) return true;
    AddError(MarkOf(n), path, "expected a mapping, got " + Kind(n));
    return false;
  }
  bool IsSequence(const Located& n) { return n.node.IsSequence(); }
  bool IsScalar(const Located& n) { return n.node.IsScalar(); }

  static std::string Kind(const Located& n) {
    switch (n.node.Type()) {
      case YAML::NodeType::Null:
        return "nothing";
      case YAML::NodeType::Scalar:
        return "the scalar " + Quote(n.node.Scalar());
      case YAML::NodeType::Sequence:
        return "a sequence";
      case YAML::NodeType::Map:
        return "a mapping";
      default:
        return "nothing";
    }
  }

  // The value under `key` (includes followed); records its mark under its path.
  static std::string Join(const std::string& map_path, std::string_view key) {
    return map_path.empty() ? std::string(key) : map_path + "." + std::string(key);
  }

  std::optional<Located> Field(const Located& map, const std::string& map_path,
                               std::string_view key) {
    for (auto it = map.node.begin(); it != map.node.end(); ++it) {
      if (!it->first.IsScalar() || it->first.Scalar() != key) continue;
      if (!Count()) return std::nullopt;
      const std::string path = Join(map_path, key);
      auto r = Resolve(Located{it->second, map.file}, path);
      if (r) marks_.emplace(path, MarkOf(*r));
      return r;
    }
    return std::nullopt;
  }

  std::optional<Located> Required(const Located& map, const std::string& path,
                                  std::string_view key) {
    auto v = Field(map, path, key);
    if (!v) {
      bool present = false;
      for (auto it = map.node.begin(); it != map.node.end(); ++it)
        if (it->first.IsScalar() && it->first.Scalar() == key) present = true;
      if (!present)
        AddError(MarkOf(map), path.empty() ? std::string(key) : path,
                 "missing required key \"" + std::string(key) + "\"");
      return std::nullopt;
    }
    if (v->node.IsNull()) {
      AddError(MarkOf(*v), Join(path, key), "must not be empty");
      return std::nullopt;
    }
    return v;
  }

  // Calls fn(item, "path[i]") for each item of a sequence; an item tagged !include whose file
  // holds a sequence contributes all of that sequence's items.
  template <class Fn>
  void ForEachItem(const Located& seq, const std::string& path, Fn&& fn) {
    if (!seq.node.IsSequence()) {
      AddError(MarkOf(seq), path, "expected a sequence, got " + Kind(seq));
      return;
    }
    size_t index = 0;
    for (auto it = seq.node.begin(); it != seq.node.end(); ++it) {
      if (!Count()) return;
      Located raw{*it, seq.file};
      const bool included = it->Tag() == "!include";
      auto item = Resolve(raw, path + "[" + std::to_string(index) + "]");
      if (!item) {
        ++index;
        continue;
      }
      if (included && item->node.IsSequence()) {
        for (auto jt = item->node.begin(); jt != item->node.end(); ++jt) {
          if (!Count()) return;
          VisitItem(Located{*jt, item->file}, path, index++, fn);
        }
      } else {
        VisitItem(*item, path, index++, fn);
      }
    }
  }

  template <class Fn>
  void VisitItem(const Located& item, const std::string& path, size_t index, Fn& fn) {
    const std::string p = path + "[" + std::to_string(index) + "]";
    marks_.emplace(p, MarkOf(item));
    fn(item, p);
  }

  // ---- scalars -----------------------------------------------------------------------------

  std::string String(const Located& n, const std::string& path) {
    if (!n.node.IsScalar()) {
      AddError(MarkOf(n), path, "expected a string, got " + Kind(n));
      return {};
    }
    const std::string& s = n.node.Scalar();
    if (!IsValidUtf8(s)) {
      AddError(MarkOf(n), path, "is not valid UTF-8");
      return {};
    }
    return s;
  }

  std::string Identifier(const Located& n, const std::string& path) {
    std::string s = String(n, path);
    if (!n.node.IsScalar()) return s;
    if (!IsIdentifier(s))
      AddError(MarkOf(n), path,
               Quote(s) +
                   " is not an identifier (1 to 32 of a-z, 0-9 and '-', starting with a "
                   "letter or digit)");
    return s;
  }

  fs::path Path(const Located& n, const std::string& path) {
    std::string s = String(n, path);
    if (s.empty()) {
      if (n.node.IsScalar()) AddError(MarkOf(n), path, "must not be empty");
      return {};
    }
    fs::path p(s);
    if (p.is_relative()) p = n.file->dir / p;
    return p.lexically_normal();
  }

  bool Bool(const Located& n, const std::string& path) {
    std::string s = String(n, path);
    if (s == "true") return true;
    if (s == "false") return false;
    if (n.node.IsScalar()) AddError(MarkOf(n), path, Quote(s) + " is not true or false");
    return false;
  }

  std::optional<IpPrefix> Prefix(const Located& n, const std::string& path) {
    std::string s = String(n, path);
    if (!n.node.IsScalar()) return std::nullopt;
    std::string why;
    auto p = IpPrefix::Parse(s, &why);
    if (!p) AddError(MarkOf(n), path, Quote(s) + " is not a CIDR: it " + why);
    return p;
  }

  std::optional<IpAddress> Address(const Located& n, const std::string& path) {
    std::string s = String(n, path);
    if (!n.node.IsScalar()) return std::nullopt;
    auto a = IpAddress::Parse(s);
    if (!a) AddError(MarkOf(n), path, Quote(s) + " is not an IPv4 or IPv6 address");
    return a;
  }

  Endpoint EndpointValue(const Located& n, const std::string& path) {
    std::string s = String(n, path);
    if (!n.node.IsScalar()) return {};
    auto e = Endpoint::Parse(s);
    if (!e)
      AddError(MarkOf(n), path, Quote(s) + " is not an address:port (\"[v6]:port\" for IPv6)");
    return e.value_or(Endpoint{});
  }

  // A whole number in [min, max], written in decimal digits (no unit, sign or suffix). `unit`
  // names what it counts ("workers") in the range error, as Size's says "bytes".
  uint64_t Whole(const Located& n, const std::string& path, uint64_t min, uint64_t max,
                 std::string_view unit = {}) {
    std::string s = String(n, path);
    if (!n.node.IsScalar()) return min;
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      AddError(MarkOf(n), path, Quote(s) + " is not a whole number");
      return min;
    }
    if (v < min || v > max) {
      AddError(MarkOf(n), path,
               Quote(s) + " is out of range (" + std::to_string(min) + " to " +
                   std::to_string(max) + (unit.empty() ? "" : " ") + std::string(unit) + ")");
      return std::clamp(v, min, max);
    }
    return v;
  }

  // A signed whole number in [min, max] (Whole's is unsigned: its error for "-1" is that it is
  // not a whole number).
  int64_t Integer(const Located& n, const std::string& path, int64_t min, int64_t max) {
    std::string s = String(n, path);
    if (!n.node.IsScalar()) return min;
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      AddError(MarkOf(n), path, Quote(s) + " is not an integer");
      return min;
    }
    if (v < min || v > max) {
      AddError(MarkOf(n), path,
               Quote(s) + " is out of range (" + std::to_string(min) + " to " +
                   std::to_string(max) + ")");
      return std::clamp(v, min, max);
    }
    return v;
  }

  uint64_t Size(const Located& n, const std::string& path, uint64_t min, uint64_t max) {
    std::string s = String(n, path);
    if (!n.node.IsScalar()) return min;
    auto v = ParseByteSize(s);
    if (!v) {
      AddError(MarkOf(n), path, Quote(s) + " is not a size (e.g. 65536, 512KiB, 64MiB, 1GiB)");
      return min;
    }
    if (*v < min || *v > max) {
      AddError(MarkOf(n), path,
               Quote(s) + " is out of range (" + std::to_string(min) + " to " +
                   std::to_string(max) + " bytes)");
      return std::clamp(*v, min, max);
    }
    return *v;
  }

  std::chrono::milliseconds Duration(const Located& n, const std::string& path, int64_t min_ms,
                                     int64_t max_ms) {
    std::string s = String(n, path);
    if (!n.node.IsScalar()) return std::chrono::milliseconds(min_ms);
    auto v = ParseDuration(s);
    if (!v) {
      AddError(MarkOf(n), path, Quote(s) + " is not a duration (e.g. 250ms, 30s, 5m, 1h, 30d)");
      return std::chrono::milliseconds(min_ms);
    }
    if (v->count() < min_ms || v->count() > max_ms) {
      AddError(MarkOf(n), path,
               Quote(s) + " is out of range (" + std::to_string(min_ms) + "ms to " +
                   std::to_string(max_ms) + "ms)");
      return std::chrono::milliseconds(std::clamp<int64_t>(v->count(), min_ms, max_ms));
    }
    return *v;
  }

  LoadOptions options_;
  std::vector<ConfigError> errors_;
  std::map<std::string, Mark> marks_;
  std::vector<std::string> tenant_paths_;
  // Names in policy.category_db, once read; unset when there is no database to check against.
  std::optional<std::set<std::string>> category_names_;
  bool category_db_given_ = false;
  std::vector<std::pair<std::string, std::string>> policy_tenant_paths_;  // id, path
  std::vector<std::pair<std::string, std::string>> soc_tenant_paths_;     // id, path
  std::string root_file_;
  size_t nodes_ = 0;
  int includes_ = 0;
};

}  // namespace seccloud::config_internal
