// Tenant attribution of an ingested record (R18, R26): which municipality a log line belongs to.
// One rule for socd's pipeline and the benches that time it (soc_store_bench), so a bench figure
// is the service's cost.

#pragma once

#include <memory>
#include <string>

#include "core/tenant_registry.h"
#include "soc/field_view.h"
#include "soc/record.h"

namespace seccloud::soc {

// Gives a record without a tenant its tenant, in the order an analyst would trust them: a
// seccloud event's own `tenant.id` when it names a tenant of the registry (an unknown id leaves
// the record unattributed), else the owner of the sender's address (`Record::peer`), else the
// owner of source.ip, client.ip or destination.ip. A record that has a tenant is left alone.
// Values are read through a FieldView, so a pending record's tree is not built, and a pending
// record stays pending (`SetTenantField`).
//
// One Attributor per thread: it keeps one FieldView, reset per record (a view made per record
// allocated its member list and byte groups each time: +13.5 % instructions, the review of
// sigma16), and the last sender's owner — a connection's records share their sender, so its
// address is parsed and looked up once rather than per record. Holding the registry the owner
// was found in keeps that Tenant alive; a new registry (a reload) looks the sender up again.
class Attributor {
 public:
  void Attribute(Record& r, const std::shared_ptr<const TenantRegistry>& registry);

 private:
  FieldView fields_;
  std::shared_ptr<const TenantRegistry> peer_registry_;
  std::string peer_;
  const Tenant* peer_owner_ = nullptr;
};

}  // namespace seccloud::soc
