#pragma once
// A tenant (構成団体): one member organisation sharing seccloud (R0, R26). Plain data, validated
// by the config loader; the TenantRegistry answers questions about all of them.

#include <string>
#include <vector>

#include "core/ip.h"

namespace seccloud {

// A static 1:1 NAT done by the tenant before its traffic reaches seccloud: seccloud sees
// addresses in `translated`; the terminal's real address is the same offset inside `internal`.
// Both prefixes have the same family and length (validated).
struct NatMapping {
  IpPrefix translated;
  IpPrefix internal;
};

struct Contact {
  std::string name;
  std::string email;
  std::string phone;
  std::string role;  // e.g. "CSIRT", "情報政策課"
};

struct Tenant {
  std::string id;            // [a-z0-9-]{1,32}, stable: it appears in every event as tenant.id
  std::string display_name;  // UTF-8, e.g. "津市"
  std::vector<IpPrefix> networks;  // source addresses seccloud sees from this tenant
  std::vector<IpAddress> proxies;  // the only hops whose X-Forwarded-For is believed
  std::vector<NatMapping> nat;
  std::vector<std::string> domains;  // lower-case, no trailing dot
  std::vector<Contact> contacts;
};

}  // namespace seccloud
