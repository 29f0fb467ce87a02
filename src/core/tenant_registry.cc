#include "core/tenant_registry.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <utility>

namespace seccloud {
namespace {

using U128 = unsigned __int128;

U128 ToU128(const IpAddress& a) {
  U128 x = 0;
  for (uint8_t byte : a.bytes()) x = x << 8 | byte;
  return x;
}

std::string Quoted(const IpPrefix& p) { return "\"" + p.ToString() + "\""; }

// Domains compare in ASCII lower case without the root's trailing dot. Internationalised names
// arrive as A-labels (punycode), so ASCII folding is enough.
std::string NormalizeDomain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int FieldRank(const std::string& field) {
  static constexpr const char* kOrder[] = {"id", "networks", "nat", "domains", "proxies"};
  for (int i = 0; i < 5; ++i) {
    if (field == kOrder[i]) return i;
  }
  return 5;
}

// A prefix seen by seccloud: a tenant's network or the translated side of its NAT.
struct Claim {
  int family;  // 4 or 6
  U128 start;
  U128 end;
  size_t tenant;
  const char* field;  // "networks" or "nat"
  size_t item;
  IpPrefix prefix;  // as configured, for messages
};

std::string Describe(const Claim& c, const std::vector<Tenant>& tenants, bool with_owner) {
  std::string s;
  if (with_owner) s = tenants[c.tenant].id + "'s ";
  s += c.field;
  s += "[" + std::to_string(c.item) + "]";
  if (std::string_view(c.field) == "nat") s += ".translated";
  return s + " " + Quoted(c.prefix);
}

// Every pair of claims by different tenants that overlap. Prefixes are nested or disjoint, so
// after sorting by start (enclosing first) each claim overlaps exactly the claims still open.
void FindOverlaps(std::vector<Claim> claims, const std::vector<Tenant>& tenants,
                  std::vector<TenantConflict>* out) {
  std::sort(claims.begin(), claims.end(), [](const Claim& a, const Claim& b) {
    if (a.family != b.family) return a.family < b.family;
    if (a.start != b.start) return a.start < b.start;
    if (a.end != b.end) return a.end > b.end;
    return a.tenant < b.tenant;
  });
  std::vector<const Claim*> open;
  for (const Claim& c : claims) {
    while (!open.empty() && (open.back()->family != c.family || open.back()->end < c.start)) {
      open.pop_back();
    }
    for (const Claim* o : open) {
      if (o->tenant == c.tenant) continue;
      // Reported on the later tenant in the configuration: usually the one just added.
      const Claim& later = o->tenant > c.tenant ? *o : c;
      const Claim& earlier = o->tenant > c.tenant ? c : *o;
      std::string what = std::string_view(later.field) == "nat" ? "translated " : "";
      out->push_back(TenantConflict{
          later.tenant, later.field, later.item,
          what + Quoted(later.prefix) + " overlaps " + Describe(earlier, tenants, true)});
    }
    open.push_back(&c);
  }
}

// Sets host bits of `to` (a prefix of `length` bits) from `from`: the same offset in another
// prefix of equal length.
IpAddress SameOffset(const IpAddress& from, const IpPrefix& to) {
  std::array<uint8_t, 16> b = to.address().bytes();
  const auto& f = from.bytes();
  const unsigned width = to.address().bit_width();
  for (unsigned i = to.length(); i < width;) {
    if (i % 8 == 0) {
      b[i / 8] = f[i / 8];
      i += 8;
    } else {
      const uint8_t host_mask = static_cast<uint8_t>(0xff >> (i % 8));
      b[i / 8] = static_cast<uint8_t>((b[i / 8] & ~host_mask) | (f[i / 8] & host_mask));
      i += 8 - i % 8;
    }
  }
  if (to.address().is_v4())
    return IpAddress::V4(uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3]);
  return IpAddress::V6(b);
}

bool IsOws(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

bool IsPort(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc() && end == s.data() + s.size() && port <= 65535;
}

// One X-Forwarded-For element: "192.0.2.1", "192.0.2.1:5000", "2001:db8::1", "[2001:db8::1]"
// or "[2001:db8::1]:5000". Anything else ("unknown", RFC 7239 obfuscated "_hidden", garbage) is
// not an address.
std::optional<IpAddress> ParseXffEntry(std::string_view e) {
  if (e.front() == '[') {
    const size_t close = e.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = e.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !IsPort(rest.substr(1)))) return std::nullopt;
    auto a = IpAddress::Parse(e.substr(1, close - 1));
    if (!a || a->is_v4()) return std::nullopt;
    return a;
  }
  const size_t colon = e.find(':');
  if (colon != std::string_view::npos && e.find(':', colon + 1) == std::string_view::npos) {
    if (!IsPort(e.substr(colon + 1))) return std::nullopt;
    auto a = IpAddress::Parse(e.substr(0, colon));
    if (!a || !a->is_v4()) return std::nullopt;
    return a;
  }
  return IpAddress::Parse(e);
}

// Untrusted text made safe for a log line: printable ASCII only, bounded.
std::string Printable(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const unsigned char c = s[i];
    out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? static_cast<char>(c) : '?';
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

}  // namespace

std::string TenantConflict::ToString() const {
  std::string where = "tenants[" + std::to_string(tenant) + "]." + field;
  if (field != "id") where += "[" + std::to_string(item) + "]";
  return where + ": " + message;
}

const char* AttributionMethodName(AttributionMethod method) {
  switch (method) {
    case AttributionMethod::kDirect:
      return "direct";
    case AttributionMethod::kXff:
      return "xff";
    case AttributionMethod::kNat:
      return "nat";
    case AttributionMethod::kUntrustedXffIgnored:
      return "untrusted-xff-ignored";
  }
  return "unknown";
}

Result<std::shared_ptr<const TenantRegistry>> TenantRegistry::Build(
    std::vector<Tenant> tenants, std::vector<TenantConflict>* conflicts) {
  std::vector<TenantConflict> found;
  std::shared_ptr<TenantRegistry> r(new TenantRegistry());
  r->proxies_.resize(tenants.size());
  r->nat_.resize(tenants.size());
  std::vector<Claim> claims;
  std::vector<PrefixTable::Entry> entries;

  for (size_t t = 0; t < tenants.size(); ++t) {
    const Tenant& tenant = tenants[t];
    auto [id_it, id_new] = r->by_id_.try_emplace(tenant.id, t);
    if (!id_new) {
      found.push_back({t, "id", 0,
                       "tenant id \"" + tenant.id + "\" is already used by tenants[" +
                           std::to_string(id_it->second) + "]"});
    }

    std::vector<IpPrefix> networks;
    for (size_t i = 0; i < tenant.networks.size(); ++i) {
      const IpPrefix p = UnmappedPrefix(tenant.networks[i]);
      networks.push_back(p);
      claims.push_back({p.address().is_v4() ? 4 : 6, ToU128(p.address()), ToU128(p.Last()), t,
                        "networks", i, tenant.networks[i]});
      entries.push_back({p, static_cast<int32_t>(t)});
    }

    for (size_t i = 0; i < tenant.nat.size(); ++i) {
      const NatMapping m{UnmappedPrefix(tenant.nat[i].translated),
                         UnmappedPrefix(tenant.nat[i].internal)};
      r->nat_[t].push_back(m);
      claims.push_back({m.translated.address().is_v4() ? 4 : 6, ToU128(m.translated.address()),
                        ToU128(m.translated.Last()), t, "nat", i, tenant.nat[i].translated});
      entries.push_back({m.translated, static_cast<int32_t>(t)});
      const std::string pair = "translated " + Quoted(tenant.nat[i].translated) + " and internal " +
                               Quoted(tenant.nat[i].internal);
      if (m.translated.address().family() != m.internal.address().family()) {
        found.push_back({t, "nat", i, pair + " are of different address families"});
      } else if (m.translated.length() != m.internal.length()) {
        found.push_back({t, "nat", i,
                         pair + " differ in prefix length (/" +
                             std::to_string(m.translated.length()) + " vs /" +
                             std::to_string(m.internal.length()) + ")"});
      }
    }

    for (size_t i = 0; i < tenant.domains.size(); ++i) {
      std::string d = NormalizeDomain(tenant.domains[i]);
      if (d.empty() || d.front() == '.') {
        found.push_back({t, "domains", i, "\"" + tenant.domains[i] + "\" is not a domain name"});
        continue;
      }
      auto [it, is_new] = r->by_domain_.try_emplace(d, t);
      if (is_new || it->second == t) continue;  // listed twice by one tenant: harmless
      const Tenant& owner = tenants[it->second];
      size_t j = 0;
      while (j < owner.domains.size() && NormalizeDomain(owner.domains[j]) != d) ++j;
      found.push_back({t, "domains", i,
                       "\"" + tenant.domains[i] + "\" is already claimed by " + owner.id +
                           "'s domains[" + std::to_string(j) + "] \"" + owner.domains[j] + "\""});
    }

    for (size_t i = 0; i < tenant.proxies.size(); ++i) {
      const IpAddress a = tenant.proxies[i].Unmapped();
      r->proxies_[t].push_back(a);
      const bool inside = std::any_of(networks.begin(), networks.end(),
                                      [&](const IpPrefix& n) { return n.Contains(a); });
      if (!inside) {
        found.push_back({t, "proxies", i,
                         "proxy " + tenant.proxies[i].ToString() + " is not inside any of " +
                             tenant.id + "'s networks"});
      }
    }
  }
  FindOverlaps(std::move(claims), tenants, &found);

  std::stable_sort(found.begin(), found.end(),
                   [](const TenantConflict& a, const TenantConflict& b) {
                     if (a.tenant != b.tenant) return a.tenant < b.tenant;
                     const int fa = FieldRank(a.field), fb = FieldRank(b.field);
                     if (fa != fb) return fa < fb;
                     return a.item < b.item;
                   });
  if (conflicts) *conflicts = found;
  if (!found.empty()) {
    std::string message = found.front().ToString();
    if (found.size() > 1)
      message += " (and " + std::to_string(found.size() - 1) + " more conflicts)";
    return MakeError(Errc::kInvalidArgument, std::move(message));
  }

  r->table_ = PrefixTable::Build(entries);
  r->tenants_ = std::move(tenants);
  return std::shared_ptr<const TenantRegistry>(std::move(r));
}

const Tenant* TenantRegistry::FindById(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tenants_[it->second];
}

const Tenant* TenantRegistry::OwnerOfDomain(std::string_view name) const {
  constexpr size_t kMaxName = 254;  // 253 plus the root's dot
  if (name.empty() || name.size() > kMaxName) return nullptr;
  char buf[kMaxName];
  if (name.back() == '.') name.remove_suffix(1);
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view n(buf, name.size());
  while (!n.empty()) {
    auto it = by_domain_.find(n);
    if (it != by_domain_.end()) return &tenants_[it->second];
    const size_t dot = n.find('.');
    if (dot == std::string_view::npos) break;
    n.remove_prefix(dot + 1);
  }
  return nullptr;
}

bool TenantRegistry::IsProxy(size_t tenant, const IpAddress& unmapped) const {
  const auto& proxies = proxies_[tenant];
  return std::find(proxies.begin(), proxies.end(), unmapped) != proxies.end();
}

bool TenantRegistry::ApplyNat(size_t tenant, Attribution& a) const {
  for (const NatMapping& m : nat_[tenant]) {
    if (m.translated.Contains(a.source)) {
      a.source = SameOffset(a.source, m.internal);
      return true;
    }
  }
  return false;
}

Attribution TenantRegistry::Attribute(const IpAddress& peer,
                                      std::string_view x_forwarded_for) const {
  Attribution a;
  a.client = peer;
  a.source = peer.Unmapped();
  a.tenant = Lookup(a.source);
  if (a.tenant == nullptr) {
    if (!x_forwarded_for.empty()) {
      a.method = AttributionMethod::kUntrustedXffIgnored;
      a.suspicious = true;
      a.note = "X-Forwarded-For from " + a.source.ToString() +
               ", which belongs to no tenant, ignored (possibly forged)";
    }
    return a;
  }
  const size_t t = static_cast<size_t>(a.tenant - tenants_.data());

  if (x_forwarded_for.empty()) {
    if (ApplyNat(t, a)) a.method = AttributionMethod::kNat;
    return a;
  }
  const IpAddress peer_v = a.source;
  if (!IsProxy(t, peer_v)) {
    a.method = AttributionMethod::kUntrustedXffIgnored;
    a.suspicious = true;
    a.note = "X-Forwarded-For from " + peer_v.ToString() + " ignored: not a declared proxy of " +
             a.tenant->id + " (possibly forged)";
    ApplyNat(t, a);
    return a;
  }

  // From here on the peer is a trusted proxy; a header we cannot use leaves source = peer.
  auto distrust = [&](std::string why) {
    a.source = peer_v;
    a.method = AttributionMethod::kUntrustedXffIgnored;
    a.suspicious = true;
    a.note = "X-Forwarded-For from proxy " + peer_v.ToString() + " of " + a.tenant->id + " " +
             std::move(why) + "; terminal not recovered";
    return a;
  };
  if (x_forwarded_for.size() > kMaxXffBytes) {
    return distrust("is " + std::to_string(x_forwarded_for.size()) + " bytes, over the limit of " +
                    std::to_string(kMaxXffBytes));
  }
  const size_t entries = 1 + std::count(x_forwarded_for.begin(), x_forwarded_for.end(), ',');
  if (entries > kMaxXffEntries) {
    return distrust("has " + std::to_string(entries) + " entries, over the limit of " +
                    std::to_string(kMaxXffEntries));
  }

  // Walk from the right: each trusted proxy appended the address it received from; the first
  // address that is not one of the tenant's proxies is the terminal. Entries further left were
  // written by the terminal itself and mean nothing.
  std::optional<IpAddress> leftmost_proxy;
  size_t end = x_forwarded_for.size();
  while (true) {
    const size_t comma = end == 0 ? std::string_view::npos : x_forwarded_for.rfind(',', end - 1);
    const size_t begin = comma == std::string_view::npos ? 0 : comma + 1;
    // Empty list elements are allowed by RFC 9110 section 5.6.1 and skipped.
    const std::string_view entry = Trim(x_forwarded_for.substr(begin, end - begin));
    if (!entry.empty()) {
      const auto address = ParseXffEntry(entry);
      if (!address) return distrust("has entry " + Printable(entry) + ", not an address");
      const IpAddress hop = address->Unmapped();
      if (!IsProxy(t, hop)) {
        a.source = hop;
        a.method = AttributionMethod::kXff;
        return a;
      }
      leftmost_proxy = hop;
    }
    if (comma == std::string_view::npos) break;
    end = comma;
  }
  if (!leftmost_proxy) return distrust("has no address");
  // Only proxies in the chain: the request started at the leftmost of them (e.g. a health check).
  a.source = *leftmost_proxy;
  a.method = AttributionMethod::kXff;
  return a;
}

}  // namespace seccloud
