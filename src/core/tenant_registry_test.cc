#include "core/tenant_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "core/sanitizer_testing.h"

namespace seccloud {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

IpAddress Addr(std::string_view text) { return IpAddress::Parse(text).value(); }
IpPrefix Prefix(std::string_view text) { return IpPrefix::Parse(text).value(); }

Tenant MakeTenant(std::string id, std::vector<std::string_view> networks,
                  std::vector<std::string_view> proxies = {},
                  std::vector<std::string> domains = {}) {
  Tenant t;
  t.id = std::move(id);
  for (auto n : networks) t.networks.push_back(Prefix(n));
  for (auto p : proxies) t.proxies.push_back(Addr(p));
  t.domains = std::move(domains);
  return t;
}

// The demo installation (shared/demo.md), plus NAT and IPv6 for ise.
std::vector<Tenant> DemoTenants() {
  std::vector<Tenant> ts;
  ts.push_back(MakeTenant("tsu", {"127.10.0.0/16"}, {"127.10.0.2"}, {"city.tsu.example"}));
  ts.push_back(
      MakeTenant("yokkaichi", {"127.20.0.0/16"}, {"127.20.0.2"}, {"city.yokkaichi.example"}));
  Tenant ise =
      MakeTenant("ise", {"127.30.0.0/16", "2001:db8:30::/48"}, {"127.30.0.2", "2001:db8:30::2"},
                 {"city.ise.example", "ise-kanko.example"});
  ise.nat.push_back({Prefix("203.0.113.0/24"), Prefix("192.168.30.0/24")});
  ise.nat.push_back({Prefix("2001:db8:ffff:30::/64"), Prefix("fd00:30::/64")});
  ts.push_back(std::move(ise));
  return ts;
}

std::shared_ptr<const TenantRegistry> Demo() {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build(DemoTenants(), &conflicts);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  EXPECT_TRUE(conflicts.empty());
  return r ? *r : nullptr;
}

std::string IdOf(const Tenant* t) { return t ? t->id : "(none)"; }

std::vector<std::string> Strings(const std::vector<TenantConflict>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(c.ToString());
  return out;
}

// ---- Build and conflicts ----

TEST(TenantRegistryBuildTest, DemoBuildsAndKeepsTenantsInOrder) {
  auto r = Demo();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->tenants().size(), 3u);
  EXPECT_EQ(r->tenants()[2].id, "ise");
  EXPECT_EQ(r->FindById("yokkaichi"), &r->tenants()[1]);
  EXPECT_EQ(r->FindById("tsu"), &r->tenants()[0]);
  EXPECT_EQ(r->FindById("TSU"), nullptr);
  EXPECT_EQ(r->FindById(""), nullptr);
  EXPECT_EQ(r->FindById("nagoya"), nullptr);
}

TEST(TenantRegistryBuildTest, EmptySetBuilds) {
  auto r = TenantRegistry::Build({}, nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->Lookup(Addr("10.0.0.1")), nullptr);
  EXPECT_EQ((*r)->OwnerOfDomain("example"), nullptr);
}

TEST(TenantRegistryBuildTest, DuplicateId) {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build(
      {MakeTenant("tsu", {"10.0.0.0/16"}), MakeTenant("tsu", {"10.1.0.0/16"})}, &conflicts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(Strings(conflicts),
              ElementsAre("tenants[1].id: tenant id \"tsu\" is already used by tenants[0]"));
  EXPECT_EQ(r.error().message, "tenants[1].id: tenant id \"tsu\" is already used by tenants[0]");
}

TEST(TenantRegistryBuildTest, NestedNetworksOfTwoTenants) {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build(
      {MakeTenant("tsu", {"10.0.0.0/8"}), MakeTenant("ise", {"192.0.2.0/24", "10.1.0.0/16"})},
      &conflicts);
  ASSERT_FALSE(r);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].tenant, 1u);
  EXPECT_EQ(conflicts[0].field, "networks");
  EXPECT_EQ(conflicts[0].item, 1u);
  EXPECT_EQ(conflicts[0].message, "\"10.1.0.0/16\" overlaps tsu's networks[0] \"10.0.0.0/8\"");
}

TEST(TenantRegistryBuildTest, LaterTenantIsBlamedEvenWhenItHoldsTheWiderPrefix) {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build(
      {MakeTenant("tsu", {"10.1.0.0/16"}), MakeTenant("ise", {"10.0.0.0/8"})}, &conflicts);
  ASSERT_FALSE(r);
  EXPECT_THAT(Strings(conflicts),
              ElementsAre("tenants[1].networks[0]: \"10.0.0.0/8\" overlaps tsu's networks[0] "
                          "\"10.1.0.0/16\""));
}

TEST(TenantRegistryBuildTest, IdenticalAndIpv6Overlaps) {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build({MakeTenant("tsu", {"2001:db8::/32", "10.0.0.0/24"}),
                                  MakeTenant("ise", {"10.0.0.0/24", "2001:db8:1::/48"})},
                                 &conflicts);
  ASSERT_FALSE(r);
  EXPECT_THAT(
      Strings(conflicts),
      ElementsAre(
          "tenants[1].networks[0]: \"10.0.0.0/24\" overlaps tsu's networks[1] \"10.0.0.0/24\"",
          "tenants[1].networks[1]: \"2001:db8:1::/48\" overlaps tsu's networks[0] "
          "\"2001:db8::/32\""));
}

TEST(TenantRegistryBuildTest, MappedPrefixOverlapsIpv4Prefix) {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build(
      {MakeTenant("tsu", {"10.0.0.0/8"}), MakeTenant("ise", {"::ffff:10.9.0.0/112"})}, &conflicts);
  ASSERT_FALSE(r);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].field, "networks");
}

TEST(TenantRegistryBuildTest, AdjacentAndOwnNestedPrefixesAreFine) {
  std::vector<TenantConflict> conflicts;
  Tenant tsu = MakeTenant("tsu", {"10.0.0.0/9", "10.0.0.0/16", "10.0.0.0/9"});
  tsu.nat.push_back({Prefix("10.0.1.0/24"), Prefix("192.168.0.0/24")});  // inside its own /16
  auto r = TenantRegistry::Build({tsu, MakeTenant("ise", {"10.128.0.0/9"})}, &conflicts);
  EXPECT_TRUE(r);
  EXPECT_TRUE(conflicts.empty()) << conflicts.front().ToString();
}

TEST(TenantRegistryBuildTest, NatTranslatedOverlapsOtherTenant) {
  std::vector<TenantConflict> conflicts;
  Tenant ise = MakeTenant("ise", {"127.30.0.0/16"});
  ise.nat.push_back({Prefix("127.10.5.0/24"), Prefix("192.168.0.0/24")});
  Tenant tsu = MakeTenant("tsu", {"127.10.0.0/16"});
  tsu.nat.push_back({Prefix("203.0.113.0/24"), Prefix("192.168.0.0/24")});  // same internal: ok
  auto r = TenantRegistry::Build({tsu, ise}, &conflicts);
  ASSERT_FALSE(r);
  EXPECT_THAT(Strings(conflicts),
              ElementsAre("tenants[1].nat[0]: translated \"127.10.5.0/24\" overlaps tsu's "
                          "networks[0] \"127.10.0.0/16\""));
}

TEST(TenantRegistryBuildTest, NetworkOverlapsOtherTenantsNatTranslated) {
  std::vector<TenantConflict> conflicts;
  Tenant tsu = MakeTenant("tsu", {"127.10.0.0/16"});
  tsu.nat.push_back({Prefix("203.0.113.0/24"), Prefix("192.168.0.0/24")});
  auto r = TenantRegistry::Build({tsu, MakeTenant("ise", {"203.0.113.128/25"})}, &conflicts);
  ASSERT_FALSE(r);
  EXPECT_THAT(Strings(conflicts),
              ElementsAre("tenants[1].networks[0]: \"203.0.113.128/25\" overlaps tsu's "
                          "nat[0].translated \"203.0.113.0/24\""));
}

TEST(TenantRegistryBuildTest, NatFamilyAndLengthMismatch) {
  std::vector<TenantConflict> conflicts;
  Tenant tsu = MakeTenant("tsu", {"127.10.0.0/16"});
  tsu.nat.push_back({Prefix("203.0.113.0/24"), Prefix("10.0.0.0/16")});
  tsu.nat.push_back({Prefix("198.51.100.0/24"), Prefix("fd00::/120")});
  tsu.nat.push_back({Prefix("192.0.2.0/24"), Prefix("10.9.9.0/24")});
  auto r = TenantRegistry::Build({tsu}, &conflicts);
  ASSERT_FALSE(r);
  EXPECT_THAT(Strings(conflicts),
              ElementsAre("tenants[0].nat[0]: translated \"203.0.113.0/24\" and internal "
                          "\"10.0.0.0/16\" differ in prefix length (/24 vs /16)",
                          "tenants[0].nat[1]: translated \"198.51.100.0/24\" and internal "
                          "\"fd00::/120\" are of different address families"));
  EXPECT_THAT(r.error().message, HasSubstr("(and 1 more conflicts)"));
}

TEST(TenantRegistryBuildTest, DomainClaimedTwiceCaseInsensitive) {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build(
      {MakeTenant("tsu", {"10.0.0.0/16"}, {}, {"city.tsu.example", "tsu.example"}),
       MakeTenant("ise", {"10.1.0.0/16"}, {}, {"city.ise.example", "City.TSU.example."}),
       MakeTenant("kameyama", {"10.2.0.0/16"}, {}, {"tsu.example.com", "kameyama.example"})},
      &conflicts);
  ASSERT_FALSE(r);
  EXPECT_THAT(Strings(conflicts),
              ElementsAre("tenants[1].domains[1]: \"City.TSU.example.\" is already claimed by "
                          "tsu's domains[0] \"city.tsu.example\""));
}

TEST(TenantRegistryBuildTest, EmptyDomainRejected) {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build({MakeTenant("tsu", {"10.0.0.0/16"}, {}, {"."})}, &conflicts);
  ASSERT_FALSE(r);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].field, "domains");
}

TEST(TenantRegistryBuildTest, ProxyOutsideOwnNetworks) {
  std::vector<TenantConflict> conflicts;
  auto r = TenantRegistry::Build(
      {MakeTenant("tsu", {"127.10.0.0/16"}, {"127.10.0.2", "127.20.0.2", "::ffff:127.10.0.3"}),
       MakeTenant("yokkaichi", {"127.20.0.0/16"}, {"127.20.0.2"})},
      &conflicts);
  ASSERT_FALSE(r);
  EXPECT_THAT(Strings(conflicts),
              ElementsAre("tenants[0].proxies[1]: proxy 127.20.0.2 is not inside any of tsu's "
                          "networks"));
}

TEST(TenantRegistryBuildTest, ReportsAllConflictsSorted) {
  std::vector<TenantConflict> conflicts;
  Tenant c = MakeTenant("tsu", {"10.0.5.0/24", "172.16.0.0/12"}, {"8.8.8.8"}, {"a.example"});
  c.nat.push_back({Prefix("203.0.113.0/24"), Prefix("10.0.0.0/8")});
  auto r = TenantRegistry::Build({MakeTenant("tsu", {"10.0.0.0/16"}, {}, {"a.example"}),
                                  MakeTenant("ise", {"172.16.1.0/24"}), c},
                                 &conflicts);
  ASSERT_FALSE(r);
  std::vector<std::string> fields;
  for (const auto& k : conflicts) fields.push_back(std::to_string(k.tenant) + k.field);
  EXPECT_THAT(fields, ElementsAre("2id", "2networks", "2networks", "2nat", "2domains", "2proxies"));
  EXPECT_EQ(conflicts[2].message, "\"172.16.0.0/12\" overlaps ise's networks[0] \"172.16.1.0/24\"");
  EXPECT_THAT(r.error().message, HasSubstr("(and 5 more conflicts)"));
}

// ---- Lookup ----

TEST(TenantRegistryLookupTest, DemoAddresses) {
  auto r = Demo();
  ASSERT_TRUE(r);
  EXPECT_EQ(IdOf(r->Lookup(Addr("127.10.0.0"))), "tsu");
  EXPECT_EQ(IdOf(r->Lookup(Addr("127.10.0.5"))), "tsu");
  EXPECT_EQ(IdOf(r->Lookup(Addr("127.10.255.255"))), "tsu");
  EXPECT_EQ(IdOf(r->Lookup(Addr("127.9.255.255"))), "(none)");
  EXPECT_EQ(IdOf(r->Lookup(Addr("127.11.0.0"))), "(none)");
  EXPECT_EQ(IdOf(r->Lookup(Addr("127.20.0.9"))), "yokkaichi");
  EXPECT_EQ(IdOf(r->Lookup(Addr("127.30.0.7"))), "ise");
  EXPECT_EQ(IdOf(r->Lookup(Addr("127.200.0.1"))), "(none)");   // "the internet"
  EXPECT_EQ(IdOf(r->Lookup(Addr("203.0.113.9"))), "ise");      // NAT translated
  EXPECT_EQ(IdOf(r->Lookup(Addr("192.168.30.9"))), "(none)");  // NAT internal: never seen
  EXPECT_EQ(IdOf(r->Lookup(Addr("2001:db8:30::1234"))), "ise");
  EXPECT_EQ(IdOf(r->Lookup(Addr("2001:db8:30:ffff:ffff:ffff:ffff:ffff"))), "ise");
  EXPECT_EQ(IdOf(r->Lookup(Addr("2001:db8:31::"))), "(none)");
  EXPECT_EQ(IdOf(r->Lookup(Addr("2001:db8:ffff:30::77"))), "ise");
  EXPECT_EQ(IdOf(r->Lookup(Addr("::ffff:127.10.0.5"))), "tsu");
  EXPECT_EQ(IdOf(r->Lookup(Addr("::ffff:127.200.0.1"))), "(none)");
}

TEST(TenantRegistryLookupTest, ConcurrentReaders) {
  auto r = Demo();
  ASSERT_TRUE(r);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (uint32_t i = 0; i < 200000; ++i) {
        if (r->Lookup(IpAddress::V4(0x7F0A0000u | (i & 0xffff))) != &r->tenants()[0]) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// 33 tenants, each owning random disjoint blocks (some nested inside its own blocks), checked
// against a linear scan over every tenant's prefixes.
TEST(TenantRegistryLookupTest, MatchesLinearScanOnRandomTenants) {
  std::mt19937_64 rng(7);
  std::vector<Tenant> tenants(33);
  for (size_t t = 0; t < tenants.size(); ++t) tenants[t].id = "t" + std::to_string(t);
  std::vector<std::pair<IpPrefix, size_t>> all;
  // Disjoint /20 slots of 10.0.0.0/8 (4096 of them) and /48 slots of 2001:db8::/32, shuffled.
  std::vector<uint32_t> slots(4096);
  for (uint32_t i = 0; i < slots.size(); ++i) slots[i] = i;
  std::shuffle(slots.begin(), slots.end(), rng);
  for (int i = 0; i < 2000; ++i) {
    const size_t t = rng() % tenants.size();
    IpPrefix p;
    if (i % 4 != 3) {
      const uint32_t base = 0x0A000000u | slots[i] << 12;
      const unsigned len = 20 + rng() % 13;
      p = IpPrefix(IpAddress::V4(base | (static_cast<uint32_t>(rng()) & 0xfff)), len);
    } else {
      std::array<uint8_t, 16> b{0x20,
                                0x01,
                                0x0d,
                                0xb8,
                                static_cast<uint8_t>(slots[i] >> 8),
                                static_cast<uint8_t>(slots[i])};
      for (int k = 6; k < 16; ++k) b[k] = static_cast<uint8_t>(rng());
      p = IpPrefix(IpAddress::V6(b), 48 + rng() % 81);
    }
    tenants[t].networks.push_back(p);
    all.push_back({p, t});
    if (rng() % 4 == 0) {  // a more specific block of the same tenant
      const IpAddress last = p.Last();
      IpPrefix inner(last,
                     std::min(p.length() + 1 + static_cast<unsigned>(rng() % 8), last.bit_width()));
      tenants[t].networks.push_back(inner);
      all.push_back({inner, t});
    }
  }
  std::vector<TenantConflict> conflicts;
  auto built = TenantRegistry::Build(tenants, &conflicts);
  ASSERT_TRUE(built) << built.error().message;
  const TenantRegistry& r = **built;
  auto brute = [&](const IpAddress& a) -> const Tenant* {
    const IpAddress u = a.Unmapped();
    int best_len = -1;
    const Tenant* best = nullptr;
    for (const auto& [p, t] : all) {
      if (p.Contains(u) && static_cast<int>(p.length()) > best_len) {
        best_len = static_cast<int>(p.length());
        best = &r.tenants()[t];
      }
    }
    return best;
  };
  // Random addresses; a sanitizer build checks a share of them.
  for (size_t i = 0; i < 100000 / test::kSanitizerStride; ++i) {
    IpAddress a;
    const auto& [p, t] = all[rng() % all.size()];
    switch (rng() % 6) {
      case 0:
        a = p.address();
        break;
      case 1:
        a = p.Last();
        break;
      case 2:
        a = p.address().is_v4() ? IpAddress::V4(p.address().v4() - 1)
                                : IpAddress::V4(static_cast<uint32_t>(rng()));
        break;
      case 3:
        a = p.address().is_v4() ? IpAddress::V4(p.Last().v4() + 1)
                                : IpAddress::V4(0x0A000000u | (rng() & 0xffffff));
        break;
      case 4: {
        std::array<uint8_t, 16> b{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10};
        for (int k = 13; k < 16; ++k) b[k] = static_cast<uint8_t>(rng());
        a = IpAddress::V6(b);  // IPv4-mapped, inside 10/8
        break;
      }
      default: {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8, 0, static_cast<uint8_t>(rng() % 8)};
        for (int k = 5; k < 16; ++k) b[k] = static_cast<uint8_t>(rng());
        a = IpAddress::V6(b);
      }
    }
    ASSERT_EQ(r.Lookup(a), brute(a)) << a.ToString();
  }
}

// ---- Domains ----

TEST(TenantRegistryDomainTest, OwnerOfDomain) {
  auto r = Demo();
  ASSERT_TRUE(r);
  EXPECT_EQ(IdOf(r->OwnerOfDomain("city.tsu.example")), "tsu");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("www.city.tsu.example")), "tsu");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("a.b.c.city.tsu.example")), "tsu");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("WWW.City.Tsu.Example.")), "tsu");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("city.tsu.example.")), "tsu");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("evilcity.tsu.example")), "(none)");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("tsu.example")), "(none)");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("city.tsu.example.evil")), "(none)");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("ise-kanko.example")), "ise");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("kanko.example")), "(none)");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("shop.ise-kanko.example")), "ise");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("")), "(none)");
  EXPECT_EQ(IdOf(r->OwnerOfDomain(".")), "(none)");
  EXPECT_EQ(IdOf(r->OwnerOfDomain("example")), "(none)");
  EXPECT_EQ(IdOf(r->OwnerOfDomain(std::string(300, 'a') + ".city.tsu.example")), "(none)");
}

TEST(TenantRegistryDomainTest, ClosestParentWins) {
  auto r = TenantRegistry::Build({MakeTenant("pref", {"10.0.0.0/16"}, {}, {"mie.example"}),
                                  MakeTenant("tsu", {"10.1.0.0/16"}, {}, {"tsu.mie.example"})},
                                 nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(IdOf((*r)->OwnerOfDomain("www.tsu.mie.example")), "tsu");
  EXPECT_EQ(IdOf((*r)->OwnerOfDomain("www.ise.mie.example")), "pref");
  EXPECT_EQ(IdOf((*r)->OwnerOfDomain("mie.example")), "pref");
}

// ---- Attribution ----

TEST(AttributionTest, MethodNames) {
  EXPECT_STREQ(AttributionMethodName(AttributionMethod::kDirect), "direct");
  EXPECT_STREQ(AttributionMethodName(AttributionMethod::kXff), "xff");
  EXPECT_STREQ(AttributionMethodName(AttributionMethod::kNat), "nat");
  EXPECT_STREQ(AttributionMethodName(AttributionMethod::kUntrustedXffIgnored),
               "untrusted-xff-ignored");
}

TEST(AttributionTest, DirectTerminal) {
  auto r = Demo();
  ASSERT_TRUE(r);
  Attribution a = r->Attribute(Addr("127.10.0.5"), "");
  EXPECT_EQ(IdOf(a.tenant), "tsu");
  EXPECT_EQ(a.client, Addr("127.10.0.5"));
  EXPECT_EQ(a.source, Addr("127.10.0.5"));
  EXPECT_EQ(a.method, AttributionMethod::kDirect);
  EXPECT_FALSE(a.suspicious);
  EXPECT_EQ(a.note, "");
}

TEST(AttributionTest, NoTenant) {
  auto r = Demo();
  ASSERT_TRUE(r);
  Attribution a = r->Attribute(Addr("127.200.0.1"), "");
  EXPECT_EQ(a.tenant, nullptr);
  EXPECT_EQ(a.source, Addr("127.200.0.1"));
  EXPECT_EQ(a.method, AttributionMethod::kDirect);
  EXPECT_FALSE(a.suspicious);
}

TEST(AttributionTest, NoTenantWithXffIsIgnored) {
  auto r = Demo();
  ASSERT_TRUE(r);
  Attribution a = r->Attribute(Addr("127.200.0.1"), "127.10.0.5");
  EXPECT_EQ(a.tenant, nullptr);
  EXPECT_EQ(a.source, Addr("127.200.0.1"));
  EXPECT_EQ(a.method, AttributionMethod::kUntrustedXffIgnored);
  EXPECT_TRUE(a.suspicious);
  EXPECT_THAT(a.note, HasSubstr("belongs to no tenant"));
}

TEST(AttributionTest, NatMapsToSameOffset) {
  auto r = Demo();
  ASSERT_TRUE(r);
  Attribution a = r->Attribute(Addr("203.0.113.77"), "");
  EXPECT_EQ(IdOf(a.tenant), "ise");
  EXPECT_EQ(a.client, Addr("203.0.113.77"));
  EXPECT_EQ(a.source, Addr("192.168.30.77"));
  EXPECT_EQ(a.method, AttributionMethod::kNat);
  EXPECT_FALSE(a.suspicious);
  EXPECT_EQ(r->Attribute(Addr("203.0.113.0"), "").source, Addr("192.168.30.0"));
  EXPECT_EQ(r->Attribute(Addr("203.0.113.255"), "").source, Addr("192.168.30.255"));
  Attribution v6 = r->Attribute(Addr("2001:db8:ffff:30:1:2:3:4"), "");
  EXPECT_EQ(v6.source, Addr("fd00:30::1:2:3:4"));
  EXPECT_EQ(v6.method, AttributionMethod::kNat);
}

TEST(AttributionTest, NatWithUnalignedLength) {
  Tenant t = MakeTenant("tsu", {"127.10.0.0/16"});
  t.nat.push_back({Prefix("198.51.100.128/25"), Prefix("10.7.7.0/25")});
  t.nat.push_back({Prefix("2001:db8:ff:8000::/49"), Prefix("fd00:1:2:0::/49")});
  auto r = TenantRegistry::Build({t}, nullptr);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->Attribute(Addr("198.51.100.200"), "").source, Addr("10.7.7.72"));
  EXPECT_EQ((*r)->Attribute(Addr("198.51.100.127"), "").tenant, nullptr);
  EXPECT_EQ((*r)->Attribute(Addr("2001:db8:ff:c001:ab::1"), "").source,
            Addr("fd00:1:2:4001:ab::1"));
}

TEST(AttributionTest, XffFromProxy) {
  auto r = Demo();
  ASSERT_TRUE(r);
  Attribution a = r->Attribute(Addr("127.10.0.2"), "127.10.0.5");
  EXPECT_EQ(IdOf(a.tenant), "tsu");
  EXPECT_EQ(a.client, Addr("127.10.0.2"));
  EXPECT_EQ(a.source, Addr("127.10.0.5"));
  EXPECT_EQ(a.method, AttributionMethod::kXff);
  EXPECT_FALSE(a.suspicious);
}

TEST(AttributionTest, XffTakesRightmostNonProxy) {
  auto r = Demo();
  ASSERT_TRUE(r);
  // The client forged the leftmost entries; our proxy appended the real one.
  Attribution a = r->Attribute(Addr("127.10.0.2"), "6.6.6.6, unknown, 127.10.0.9,127.10.0.2");
  EXPECT_EQ(a.source, Addr("127.10.0.9"));
  EXPECT_EQ(a.method, AttributionMethod::kXff);
  EXPECT_FALSE(a.suspicious);
}

TEST(AttributionTest, XffAddressForms) {
  auto r = Demo();
  ASSERT_TRUE(r);
  const IpAddress proxy = Addr("127.30.0.2");
  struct Case {
    const char* xff;
    const char* source;
  } cases[] = {
      {" 127.30.9.9 ", "127.30.9.9"},
      {"\t127.30.9.9", "127.30.9.9"},
      {"127.30.9.9:51234", "127.30.9.9"},
      {"2001:db8:30::99", "2001:db8:30::99"},
      {"[2001:db8:30::99]", "2001:db8:30::99"},
      {"[2001:db8:30::99]:443", "2001:db8:30::99"},
      {"::ffff:192.0.2.1", "192.0.2.1"},
      {"198.51.100.1,, ,", "198.51.100.1"},
      {"198.51.100.1, 2001:db8:30::2", "198.51.100.1"},  // a second, IPv6 proxy of ise
      {"10.0.0.1,198.51.100.1:80", "198.51.100.1"},
  };
  for (const Case& c : cases) {
    Attribution a = r->Attribute(proxy, c.xff);
    EXPECT_EQ(a.source, Addr(c.source)) << c.xff;
    EXPECT_EQ(a.method, AttributionMethod::kXff) << c.xff;
    EXPECT_FALSE(a.suspicious) << c.xff << ": " << a.note;
  }
}

TEST(AttributionTest, XffFromIpv6AndMappedProxies) {
  auto r = Demo();
  ASSERT_TRUE(r);
  Attribution v6 = r->Attribute(Addr("2001:db8:30::2"), "2001:db8:30::5");
  EXPECT_EQ(IdOf(v6.tenant), "ise");
  EXPECT_EQ(v6.source, Addr("2001:db8:30::5"));
  EXPECT_EQ(v6.method, AttributionMethod::kXff);
  Attribution mapped = r->Attribute(Addr("::ffff:127.10.0.2"), "127.10.0.5");
  EXPECT_EQ(IdOf(mapped.tenant), "tsu");
  EXPECT_EQ(mapped.client, Addr("::ffff:127.10.0.2"));
  EXPECT_EQ(mapped.source, Addr("127.10.0.5"));
  EXPECT_EQ(mapped.method, AttributionMethod::kXff);
}

TEST(AttributionTest, XffOfOnlyProxiesGivesLeftmost) {
  Tenant t = MakeTenant("tsu", {"127.10.0.0/16"}, {"127.10.0.2", "127.10.0.3"});
  auto r = TenantRegistry::Build({t}, nullptr);
  ASSERT_TRUE(r);
  Attribution a = (*r)->Attribute(Addr("127.10.0.2"), "127.10.0.3, 127.10.0.2");
  EXPECT_EQ(a.source, Addr("127.10.0.3"));
  EXPECT_EQ(a.method, AttributionMethod::kXff);
  EXPECT_FALSE(a.suspicious);
  // Proxy chain: the entry left of the inner proxy is the terminal.
  EXPECT_EQ((*r)->Attribute(Addr("127.10.0.2"), "127.10.0.44, 127.10.0.3").source,
            Addr("127.10.0.44"));
}

TEST(AttributionTest, XffGarbageIsNotTrusted) {
  auto r = Demo();
  ASSERT_TRUE(r);
  for (const char* xff :
       {"unknown", "_hidden", "_abc123", "127.10.0.5, unknown", "1.2.3", "01.2.3.4",
        "127.10.0.5:99999", "127.10.0.5:", "[127.10.0.5]", "[2001:db8::1", "[2001:db8::1]x",
        "2001:db8::1]", "fe80::1%eth0", "127.10.0.5 127.10.0.6", "\"127.10.0.5\"", ",", " , ",
        "for=127.10.0.5", "127.10.0.5\r\nX-Evil: 1"}) {
    Attribution a = r->Attribute(Addr("127.10.0.2"), xff);
    EXPECT_EQ(IdOf(a.tenant), "tsu") << xff;
    EXPECT_EQ(a.source, Addr("127.10.0.2")) << xff;
    EXPECT_EQ(a.method, AttributionMethod::kUntrustedXffIgnored) << xff;
    EXPECT_TRUE(a.suspicious) << xff;
    EXPECT_THAT(a.note, HasSubstr("terminal not recovered")) << xff;
    EXPECT_EQ(a.note.find('\n'), std::string::npos) << "raw control characters in the note";
  }
  EXPECT_THAT(r->Attribute(Addr("127.10.0.2"), "unknown").note,
              HasSubstr("has entry \"unknown\", not an address"));
}

TEST(AttributionTest, XffBounds) {
  auto r = Demo();
  ASSERT_TRUE(r);
  const IpAddress proxy = Addr("127.10.0.2");
  std::string entries64, entries65;
  for (int i = 0; i < 64; ++i) entries64 += (i ? "," : "") + std::string("127.10.0.7");
  entries65 = entries64 + ",127.10.0.7";
  EXPECT_EQ(r->Attribute(proxy, entries64).method, AttributionMethod::kXff);
  Attribution many = r->Attribute(proxy, entries65);
  EXPECT_TRUE(many.suspicious);
  EXPECT_EQ(many.source, proxy);
  EXPECT_THAT(many.note, HasSubstr("65 entries"));

  std::string at_limit = std::string(TenantRegistry::kMaxXffBytes - 10, ' ') + "127.10.0.7";
  ASSERT_EQ(at_limit.size(), TenantRegistry::kMaxXffBytes);
  EXPECT_EQ(r->Attribute(proxy, at_limit).source, Addr("127.10.0.7"));
  Attribution big = r->Attribute(proxy, " " + at_limit);
  EXPECT_TRUE(big.suspicious);
  EXPECT_EQ(big.source, proxy);
  EXPECT_THAT(big.note, HasSubstr("8193 bytes"));
}

TEST(AttributionTest, XffFromNonProxyIsForged) {
  auto r = Demo();
  ASSERT_TRUE(r);
  Attribution a = r->Attribute(Addr("127.10.0.5"), "127.10.0.99");
  EXPECT_EQ(IdOf(a.tenant), "tsu");
  EXPECT_EQ(a.source, Addr("127.10.0.5"));
  EXPECT_EQ(a.method, AttributionMethod::kUntrustedXffIgnored);
  EXPECT_TRUE(a.suspicious);
  EXPECT_EQ(a.note,
            "X-Forwarded-For from 127.10.0.5 ignored: not a declared proxy of tsu (possibly "
            "forged)");
  // Another tenant's proxy is not trusted for this tenant either.
  Attribution b = r->Attribute(Addr("127.10.0.5"), "127.20.0.2");
  EXPECT_EQ(b.method, AttributionMethod::kUntrustedXffIgnored);
  // Garbage from a non-proxy is also just ignored, with the same verdict.
  EXPECT_EQ(r->Attribute(Addr("127.10.0.5"), std::string(100000, ',')).source, Addr("127.10.0.5"));
}

TEST(AttributionTest, ForgedXffBehindNatStillMapsSource) {
  auto r = Demo();
  ASSERT_TRUE(r);
  Attribution a = r->Attribute(Addr("203.0.113.5"), "8.8.8.8");
  EXPECT_EQ(IdOf(a.tenant), "ise");
  EXPECT_EQ(a.source, Addr("192.168.30.5"));
  EXPECT_EQ(a.method, AttributionMethod::kUntrustedXffIgnored);
  EXPECT_TRUE(a.suspicious);
}

}  // namespace
}  // namespace seccloud
