// Fuzzes the parsers that see untrusted text per connection: IpAddress/IpPrefix parsing and
// TenantRegistry::Attribute (X-Forwarded-For), plus OwnerOfDomain. Input: "<peer>\n<xff>".

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/tenant_registry.h"

namespace {

using seccloud::IpAddress;
using seccloud::IpPrefix;
using seccloud::Tenant;
using seccloud::TenantRegistry;

IpAddress Addr(std::string_view s) { return IpAddress::Parse(s).value(); }
IpPrefix Prefix(std::string_view s) { return IpPrefix::Parse(s).value(); }

// The demo tenants (shared/demo.md) with an IPv6 network and NAT, so every branch is reachable.
const TenantRegistry& Registry() {
  static const auto* registry = [] {
    std::vector<Tenant> ts(3);
    ts[0].id = "tsu";
    ts[0].networks = {Prefix("127.10.0.0/16")};
    ts[0].proxies = {Addr("127.10.0.2")};
    ts[0].domains = {"city.tsu.example"};
    ts[1].id = "yokkaichi";
    ts[1].networks = {Prefix("127.20.0.0/16"), Prefix("127.20.5.0/24")};
    ts[1].proxies = {Addr("127.20.0.2"), Addr("127.20.5.1")};
    ts[1].domains = {"city.yokkaichi.example"};
    ts[2].id = "ise";
    ts[2].networks = {Prefix("127.30.0.0/16"), Prefix("2001:db8:30::/48")};
    ts[2].proxies = {Addr("127.30.0.2"), Addr("2001:db8:30::2")};
    ts[2].nat = {{Prefix("203.0.113.0/24"), Prefix("192.168.30.0/24")},
                 {Prefix("2001:db8:ffff:30::/64"), Prefix("fd00:30::/64")}};
    ts[2].domains = {"city.ise.example", "ise-kanko.example"};
    auto r = TenantRegistry::Build(std::move(ts), nullptr);
    if (!r) std::abort();
    return new std::shared_ptr<const TenantRegistry>(*r);
  }();
  return **registry;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view peer_text = input.substr(0, newline);
  const std::string_view xff =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  const TenantRegistry& r = Registry();

  std::string why;
  if (auto p = IpPrefix::Parse(peer_text, &why)) {
    // A parsed prefix must print back to something that parses to the same prefix.
    if (IpPrefix::Parse(p->ToString()) != p) std::abort();
    if (!p->Contains(p->address()) || !p->Contains(p->Last())) std::abort();
  } else if (why.empty()) {
    std::abort();  // every refusal says why
  }
  (void)r.OwnerOfDomain(peer_text);

  auto peer = IpAddress::Parse(peer_text);
  if (!peer) peer = Addr("127.10.0.2");  // still exercise the XFF parser from a trusted proxy
  if (IpAddress::Parse(peer->ToString()) != peer) std::abort();
  const seccloud::Attribution a = r.Attribute(*peer, xff);
  if (a.client != *peer) std::abort();
  if (a.tenant != r.Lookup(*peer)) std::abort();
  if (a.suspicious && a.note.empty()) std::abort();
  if (a.note.find_first_of("\r\n") != std::string::npos) std::abort();  // log injection
  if (a.method == seccloud::AttributionMethod::kXff && a.suspicious) std::abort();
  if (xff.empty() && a.method != seccloud::AttributionMethod::kDirect &&
      a.method != seccloud::AttributionMethod::kNat)
    std::abort();
  return 0;
}
