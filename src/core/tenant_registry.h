#pragma once
// TenantRegistry (R26, R3): all tenants of the shared gateway, indexed for the questions every
// service asks per connection: whose address is this, whose domain is this, and which terminal
// is really behind this connection (X-Forwarded-For from a tenant proxy, static NAT).
//
// A registry is immutable once built and safe for concurrent use from any number of threads;
// share it as std::shared_ptr<const TenantRegistry> and swap the pointer on reload.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/ip.h"
#include "core/prefix_table.h"
#include "core/result.h"
#include "core/tenant.h"

namespace seccloud {

// One reason a tenant set cannot be used, located at tenants[tenant].<field>[item].
struct TenantConflict {
  size_t tenant = 0;
  std::string field;  // "id", "networks", "nat", "domains" or "proxies"
  size_t item = 0;    // index within that list (0 for "id")
  std::string message;

  // "tenants[1].networks[0]: \"10.1.0.0/16\" overlaps tsu's networks[0] \"10.0.0.0/8\""
  std::string ToString() const;
};

// How Attribution::source was found; the names are the values of `seccloud.attribution`.
enum class AttributionMethod { kDirect, kXff, kNat, kUntrustedXffIgnored };
const char* AttributionMethodName(AttributionMethod method);

struct Attribution {
  const Tenant* tenant = nullptr;  // owner of `client`, or null; points into the registry
  IpAddress client;                // the peer that connected, as given
  IpAddress source;                // the terminal; IPv4-mapped addresses are given as IPv4
  AttributionMethod method = AttributionMethod::kDirect;
  bool suspicious = false;  // a forged or malformed X-Forwarded-For; `note` says which
  std::string note;         // empty unless there is something to explain
};

class TenantRegistry {
 public:
  // Limits on X-Forwarded-For; a longer header is treated as malformed, not truncated.
  static constexpr size_t kMaxXffBytes = 8192;
  static constexpr size_t kMaxXffEntries = 64;

  // Checks the whole set and reports every conflict into `conflicts` (if not null), sorted by
  // tenant, field and item: duplicate ids; a network or NAT translated prefix overlapping (or
  // nesting with) one of another tenant; a domain claimed by two tenants; a NAT mapping whose
  // prefixes differ in family or length; a proxy outside the tenant's own networks. Any conflict
  // makes Build fail with kInvalidArgument naming the first one.
  static Result<std::shared_ptr<const TenantRegistry>> Build(
      std::vector<Tenant> tenants, std::vector<TenantConflict>* conflicts);

  // The tenant whose network or NAT translated prefix is the longest match for `a`.
  const Tenant* Lookup(const IpAddress& a) const {
    const int32_t i = table_.Lookup(a);
    return i == PrefixTable::kNone ? nullptr : &tenants_[i];
  }

  const Tenant* FindById(std::string_view id) const;

  // The tenant owning `name` or its closest owned parent domain; case-insensitive, a trailing
  // dot ignored. "www.city.tsu.example" matches city.tsu.example, "evilcity.tsu.example" not.
  const Tenant* OwnerOfDomain(std::string_view name) const;

  const std::vector<Tenant>& tenants() const { return tenants_; }

  // Who is really behind a connection from `peer` carrying `x_forwarded_for` (several header
  // lines joined with ","; empty when absent). The header is believed only from one of the
  // peer's tenant's declared proxies; the terminal is then the rightmost entry that is not such
  // a proxy. Never fails: anything doubtful leaves source = peer and sets `suspicious`.
  Attribution Attribute(const IpAddress& peer, std::string_view x_forwarded_for) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Index = std::unordered_map<std::string, size_t, StringHash, std::equal_to<>>;

  TenantRegistry() = default;
  bool IsProxy(size_t tenant, const IpAddress& unmapped) const;
  // Rewrites a.source through the tenant's NAT; true if a mapping applied.
  bool ApplyNat(size_t tenant, Attribution& a) const;

  std::vector<Tenant> tenants_;
  PrefixTable table_;
  Index by_id_;
  Index by_domain_;                              // normalised domain -> tenant
  std::vector<std::vector<IpAddress>> proxies_;  // per tenant, unmapped
  std::vector<std::vector<NatMapping>> nat_;     // per tenant, IPv4-mapped prefixes unmapped
};

}  // namespace seccloud
