// The `proxy:` section (R3, R9, R10).
#include <cctype>

#include "core/config_parser.h"

namespace seccloud::config_internal {

void ConfigParser::ParseProxy(const Located& n, const std::string& path, ProxyConfig& out) {
  if (!ExpectMap(n, path,
                 {"enabled", "listen", "workers", "max_header_size", "max_headers", "timeouts",
                  "pool", "hosts", "system_resolver", "forward_x_forwarded_for",
                  "block_page_language", "via", "tls", "scan"}))
    return;
  out.enabled = true;
  if (auto v = Field(n, path, "enabled")) out.enabled = Bool(*v, path + ".enabled");
  if (auto v = Required(n, path, "listen")) {
    ForEachItem(*v, path + ".listen", [&](const Located& item, const std::string& p) {
      Endpoint e = EndpointValue(item, p);
      if (e.port != 0 || item.node.IsScalar()) out.listen.push_back(e);
    });
    if (v->node.IsSequence() && v->node.size() == 0)
      AddError(MarkOf(*v), path + ".listen", "needs at least one address:port");
  }
  if (auto v = Field(n, path, "workers"))
    out.workers = static_cast<unsigned>(Whole(*v, path + ".workers", 0, 256, "workers"));
  if (auto v = Field(n, path, "max_header_size"))
    out.max_header_bytes = Size(*v, path + ".max_header_size", 4096, 1 << 20);
  if (auto v = Field(n, path, "max_headers"))
    out.max_headers = static_cast<unsigned>(Whole(*v, path + ".max_headers", 8, 1000, "fields"));
  if (auto v = Field(n, path, "timeouts")) {
    const std::string p = path + ".timeouts";
    if (ExpectMap(*v, p,
                  {"client_header", "client_idle", "connect", "upstream_header", "body_idle",
                   "tunnel_idle"})) {
      auto& t = out.timeouts;
      struct Item {
        const char* key;
        std::chrono::milliseconds* out;
      } items[] = {{"client_header", &t.client_header},
                   {"client_idle", &t.client_idle},
                   {"connect", &t.connect},
                   {"upstream_header", &t.upstream_header},
                   {"body_idle", &t.body_idle},
                   {"tunnel_idle", &t.tunnel_idle}};
      for (const Item& i : items)
        if (auto x = Field(*v, p, i.key)) *i.out = Duration(*x, p + "." + i.key, 100, 86'400'000);
    }
  }
  if (auto v = Field(n, path, "pool")) {
    const std::string p = path + ".pool";
    if (ExpectMap(*v, p, {"max_idle_per_host", "idle_timeout"})) {
      if (auto x = Field(*v, p, "max_idle_per_host"))
        out.pool_max_idle_per_host =
            static_cast<unsigned>(Whole(*x, p + ".max_idle_per_host", 0, 1024, "connections"));
      if (auto x = Field(*v, p, "idle_timeout"))
        out.pool_idle_timeout = Duration(*x, p + ".idle_timeout", 100, 3'600'000);
    }
  }
  if (auto v = Field(n, path, "hosts")) {
    const std::string p = path + ".hosts";
    if (IsMap(*v, p)) {
      for (auto it = v->node.begin(); it != v->node.end(); ++it) {
        Located key{it->first, v->file};
        std::string name = String(key, p);
        std::string why;
        auto norm = NormalizeDomainName(name, &why);
        if (!norm) {
          AddError(MarkOf(key), p, Quote(name) + " " + why);
          continue;
        }
        const std::string item_path = p + "." + *norm;
        if (out.hosts.count(*norm)) {
          AddError(MarkOf(key), item_path, "duplicate key");
          continue;
        }
        std::vector<IpAddress> addresses;
        ForEachItem(Located{it->second, v->file}, item_path,
                    [&](const Located& a, const std::string& ap) {
                      if (auto ip = Address(a, ap)) addresses.push_back(*ip);
                    });
        out.hosts[*norm] = std::move(addresses);
      }
    }
  }
  if (auto v = Field(n, path, "system_resolver"))
    out.system_resolver = Bool(*v, path + ".system_resolver");
  if (auto v = Field(n, path, "forward_x_forwarded_for")) {
    std::string s = String(*v, path + ".forward_x_forwarded_for");
    if (s == "delete")
      out.forward_xff = false;
    else if (s == "keep")
      out.forward_xff = true;
    else if (v->node.IsScalar())
      AddError(MarkOf(*v), path + ".forward_x_forwarded_for", Quote(s) + " is not delete or keep");
  }
  if (auto v = Field(n, path, "block_page_language")) {
    out.block_page_language = String(*v, path + ".block_page_language");
    if (out.block_page_language != "ja" && out.block_page_language != "en")
      AddError(MarkOf(*v), path + ".block_page_language",
               Quote(out.block_page_language) + " is not ja or en");
  }
  if (auto v = Field(n, path, "tls")) {
    const std::string p = path + ".tls";
    ProxyTlsConfig& t = out.tls;
    if (ExpectMap(
            *v, p,
            {"intercept", "ca_dir", "no_decrypt_domains", "extra_trust", "leaf_cache_size"})) {
      if (auto x = Field(*v, p, "intercept")) t.intercept = Bool(*x, p + ".intercept");
      if (auto x = Field(*v, p, "ca_dir")) t.ca_dir = Path(*x, p + ".ca_dir");
      if (t.intercept && t.ca_dir.empty())
        AddError(MarkOf(*v), p, "intercept needs ca_dir (create it with `seccloud ca init`)");
      if (auto x = Field(*v, p, "no_decrypt_domains")) {
        ForEachItem(*x, p + ".no_decrypt_domains", [&](const Located& item, const std::string& ip) {
          std::string d = String(item, ip);
          std::string why;
          if (auto norm = NormalizeDomainName(d, &why))
            t.no_decrypt_domains.push_back(*norm);
          else if (item.node.IsScalar())
            AddError(MarkOf(item), ip, Quote(d) + " " + why);
        });
      }
      if (auto x = Field(*v, p, "extra_trust")) {
        ForEachItem(*x, p + ".extra_trust", [&](const Located& item, const std::string& ip) {
          fs::path f = Path(item, ip);
          std::error_code ec;
          if (!f.empty() && !fs::is_regular_file(f, ec))
            AddError(MarkOf(item), ip, Quote(f.string()) + " is not a readable file");
          else if (!f.empty())
            t.extra_trust.push_back(f);
        });
      }
      if (auto x = Field(*v, p, "leaf_cache_size"))
        t.leaf_cache_size = Whole(*x, p + ".leaf_cache_size", 16, 1'000'000, "certificates");
    }
  }
  if (auto v = Field(n, path, "scan")) {
    const std::string p = path + ".scan";
    ProxyScanConfig& sc = out.scan;
    if (ExpectMap(*v, p,
                  {"enabled", "max_size", "bypass_content_types", "bypass_domains", "on_error",
                   "timeout", "hold_budget"})) {
      sc.enabled = true;
      if (auto x = Field(*v, p, "enabled")) sc.enabled = Bool(*x, p + ".enabled");
      if (auto x = Field(*v, p, "max_size"))
        sc.max_size = Size(*x, p + ".max_size", 1024, 1ull << 30);
      if (auto x = Field(*v, p, "bypass_content_types")) {
        ForEachItem(
            *x, p + ".bypass_content_types", [&](const Located& item, const std::string& ip) {
              std::string t = String(item, ip);
              for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
              if (t.empty() || t.size() > 128 || t.find_first_of(" ;,") != std::string::npos)
                AddError(MarkOf(item), ip, Quote(t) + " is not a media type prefix (e.g. video/)");
              else
                sc.bypass_content_types.push_back(t);
            });
      }
      if (auto x = Field(*v, p, "bypass_domains")) {
        ForEachItem(*x, p + ".bypass_domains", [&](const Located& item, const std::string& ip) {
          std::string d = String(item, ip);
          std::string why;
          if (auto norm = NormalizeDomainName(d, &why))
            sc.bypass_domains.push_back(*norm);
          else if (item.node.IsScalar())
            AddError(MarkOf(item), ip, Quote(d) + " " + why);
        });
      }
      if (auto x = Field(*v, p, "on_error")) {
        std::string e = String(*x, p + ".on_error");
        if (e == "block")
          sc.block_on_error = true;
        else if (e == "allow")
          sc.block_on_error = false;
        else if (x->node.IsScalar())
          AddError(MarkOf(*x), p + ".on_error", Quote(e) + " is not block or allow");
      }
      if (auto x = Field(*v, p, "timeout")) sc.timeout = Duration(*x, p + ".timeout", 100, 600'000);
      if (auto x = Field(*v, p, "hold_budget")) {
        const size_t errors_before = errors_.size();
        sc.hold_budget = Size(*x, p + ".hold_budget", 1024, 1ull << 40);
        // A budget below max_size would refuse every upload the scan is meant to take. (Not said
        // of a value Size refused: its answer is then only a stand-in.)
        if (sc.hold_budget < sc.max_size && errors_.size() == errors_before)
          AddError(MarkOf(*x), p + ".hold_budget",
                   Quote(String(*x, p + ".hold_budget")) + " is less than max_size (" +
                       std::to_string(sc.max_size) +
                       " bytes): no upload of max_size could be held");
      } else if (sc.hold_budget < sc.max_size) {
        sc.hold_budget = sc.max_size;  // the default budget, for a max_size above it
      }
    }
  }
  if (auto v = Field(n, path, "via")) {
    out.via_name = String(*v, path + ".via");
    bool ok = !out.via_name.empty() && out.via_name.size() <= 64;
    for (char c : out.via_name)
      if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) ok = false;
    if (!ok)
      AddError(MarkOf(*v), path + ".via",
               Quote(out.via_name) + " is not a token (letters, digits, . - _)");
  }
}

}  // namespace seccloud::config_internal
