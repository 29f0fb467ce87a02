#include "soc/attribution.h"

#include <string_view>

#include "core/ip.h"

namespace seccloud::soc {

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
      auto a = IpAddress::Parse(v.str());
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
