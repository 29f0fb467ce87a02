#include "soc/attribution.h"

#include <string_view>

#include "core/ip.h"
#include "soc/parse_internal.h"  // ParseCanonicalIpv4

namespace seccloud::soc {
namespace {

// IpAddress::Parse(text), a dotted quad read without it: Parse copies the text, looks for a NUL and
// a ':' and calls inet_pton (~450 instructions an address, 0.2 k a record of soc_store_bench's
// set). internal::ParseCanonicalIpv4 is the IPv4 grammar Parse accepts (parse_test.cc compares
// them); any other text goes to Parse as before.
std::optional<IpAddress> AddressOf(std::string_view text) {
  uint8_t o[4];
  if (internal::ParseCanonicalIpv4(text, o)) {
    return IpAddress::V4(uint32_t{o[0]} << 24 | uint32_t{o[1]} << 16 | uint32_t{o[2]} << 8 | o[3]);
  }
  return IpAddress::Parse(text);
}

}  // namespace

void Attributor::Attribute(Record& r, const std::shared_ptr<const TenantRegistry>& registry) {
  if (!r.tenant.empty()) return;
  const TenantRegistry& tenants = *registry;
  fields_.Reset(r);
  if (const FieldRef t = fields_.Find("tenant.id"); t.is_string()) {
    const std::string_view id = t.str();
    if (tenants.FindById(id)) r.tenant.assign(id);
    return;
  }
  if (!r.peer.empty()) {
    if (peer_registry_ != registry || r.peer != peer_) {
      peer_registry_ = registry;
      peer_ = r.peer;
      auto a = IpAddress::Parse(r.peer);
      peer_owner_ = a ? tenants.Lookup(*a) : nullptr;
    }
    if (peer_owner_ != nullptr) r.tenant = peer_owner_->id;
  }
  if (r.tenant.empty()) {
    for (const char* path : {"source.ip", "client.ip", "destination.ip"}) {
      const FieldRef v = fields_.Find(path);
      if (!v.is_string()) continue;
      auto a = AddressOf(v.str());
      if (!a) continue;
      if (const Tenant* owner = tenants.Lookup(*a)) {
        r.tenant = owner->id;
        break;
      }
    }
  }
  // A pending record stays so (record.h): its tenant joins the metadata of the tree to build.
  SetTenantField(r);
}

}  // namespace seccloud::soc
