// R26: TenantRegistry::Lookup must answer at least 10 million lookups per second per core with
// 10,000 prefixes. This measures that figure on a synthetic tenant set; there is no peer program
// to compare with (see bench/README.md).

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/tenant_registry.h"

namespace seccloud {
namespace {

using U128 = unsigned __int128;

constexpr int kTenants = 33;
constexpr int kV4Prefixes = 9000;
constexpr int kV6Prefixes = 1000;
constexpr size_t kAddresses = 1 << 20;  // a power of two, indexed by mask

// Disjoint inclusive intervals, for rejecting random prefixes that overlap accepted ones.
template <class K>
bool Claim(std::map<K, K>& taken, K start, K end) {
  auto next = taken.upper_bound(start);
  if (next != taken.end() && next->first <= end) return false;
  if (next != taken.begin() && std::prev(next)->second >= start) return false;
  taken.emplace(start, end);
  return true;
}

U128 ToU128(const IpAddress& a) {
  U128 x = 0;
  for (uint8_t b : a.bytes()) x = x << 8 | b;
  return x;
}

IpAddress FromU128(U128 x) {
  std::array<uint8_t, 16> b;
  for (int i = 15; i >= 0; --i, x >>= 8) b[i] = static_cast<uint8_t>(x);
  return IpAddress::V6(b);
}

struct Fixture {
  std::shared_ptr<const TenantRegistry> registry;
  std::vector<IpPrefix> prefixes;
  std::vector<IpAddress> v4_addresses;     // 90% inside a tenant prefix
  std::vector<IpAddress> v6_addresses;     // 90% inside a tenant prefix
  std::vector<IpAddress> mixed_addresses;  // 80% IPv4, 20% IPv6
  size_t hits = 0;

  Fixture() {
    std::mt19937_64 rng(42);
    std::vector<Tenant> tenants(kTenants);
    for (int t = 0; t < kTenants; ++t) tenants[t].id = "tenant-" + std::to_string(t);
    std::map<uint32_t, uint32_t> taken4;
    std::map<U128, U128> taken6;
    int v4 = 0, v6 = 0;
    while (v4 < kV4Prefixes) {
      const unsigned len = 16 + rng() % 15;  // /16 .. /30
      const IpPrefix p(IpAddress::V4(static_cast<uint32_t>(rng())), len);
      if (!Claim(taken4, p.address().v4(), p.Last().v4())) continue;
      tenants[rng() % kTenants].networks.push_back(p);
      prefixes.push_back(p);
      ++v4;
    }
    while (v6 < kV6Prefixes) {
      const unsigned len = 48 + rng() % 17;  // /48 .. /64 inside 2001:db8::/32
      const U128 x = U128{0x20010db8} << 96 | (U128{rng()} << 64 | rng()) >> 32;
      const IpPrefix p(FromU128(x), len);
      if (!Claim(taken6, ToU128(p.address()), ToU128(p.Last()))) continue;
      tenants[rng() % kTenants].networks.push_back(p);
      prefixes.push_back(p);
      ++v6;
    }
    // One proxy per tenant, for the attribution benchmark.
    for (auto& t : tenants) {
      for (const IpPrefix& n : t.networks) {
        if (n.address().is_v4()) {
          t.proxies.push_back(IpAddress::V4(n.address().v4() + 1));
          break;
        }
      }
    }
    std::vector<TenantConflict> conflicts;
    auto built = TenantRegistry::Build(std::move(tenants), &conflicts);
    if (!built) {
      std::fprintf(stderr, "registry: %s\n", built.error().message.c_str());
      std::abort();
    }
    registry = *built;

    auto inside = [&](const IpPrefix& p) {
      if (p.address().is_v4()) {
        const uint32_t span = p.Last().v4() - p.address().v4();
        return IpAddress::V4(p.address().v4() +
                             static_cast<uint32_t>(rng() % (uint64_t{span} + 1)));
      }
      const U128 span = ToU128(p.Last()) - ToU128(p.address());
      return FromU128(ToU128(p.address()) + ((U128{rng()} << 64 | rng()) & span));
    };
    for (size_t i = 0; i < kAddresses; ++i) {
      const bool hit = rng() % 10 != 0;
      v4_addresses.push_back(hit ? inside(prefixes[rng() % kV4Prefixes])
                                 : IpAddress::V4(static_cast<uint32_t>(rng())));
      v6_addresses.push_back(
          hit ? inside(prefixes[kV4Prefixes + rng() % kV6Prefixes])
              : FromU128(U128{0x20010db8} << 96 | (U128{rng()} << 64 | rng()) >> 32));
      mixed_addresses.push_back(rng() % 5 == 0 ? v6_addresses.back() : v4_addresses.back());
    }
    for (const auto& a : mixed_addresses) hits += registry->Lookup(a) != nullptr;
  }
};

const Fixture& GetFixture() {
  static const Fixture* fixture = new Fixture();
  return *fixture;
}

void RunLookups(benchmark::State& state, const std::vector<IpAddress>& addresses) {
  const TenantRegistry& r = *GetFixture().registry;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(r.Lookup(addresses[i++ & (kAddresses - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_LookupV4(benchmark::State& state) { RunLookups(state, GetFixture().v4_addresses); }
void BM_LookupV6(benchmark::State& state) { RunLookups(state, GetFixture().v6_addresses); }
void BM_LookupMixed(benchmark::State& state) {
  const Fixture& f = GetFixture();
  state.counters["prefixes"] = static_cast<double>(f.prefixes.size());
  state.counters["hit_ratio"] = static_cast<double>(f.hits) / kAddresses;
  RunLookups(state, f.mixed_addresses);
}

// The proxy path: peer is a tenant proxy, X-Forwarded-For holds one terminal address.
void BM_AttributeXff(benchmark::State& state) {
  const Fixture& f = GetFixture();
  const TenantRegistry& r = *f.registry;
  struct Request {
    IpAddress peer;
    std::string xff;
  };
  std::vector<Request> requests;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 4096; ++i) {
    const Tenant& t = r.tenants()[rng() % r.tenants().size()];
    const IpAddress& terminal = f.v4_addresses[rng() % kAddresses];
    requests.push_back({t.proxies.at(0), terminal.ToString()});
  }
  size_t i = 0;
  benchmark::IterationCount xff = 0;
  for (auto _ : state) {
    const Request& q = requests[i++ & 4095];
    Attribution a = r.Attribute(q.peer, q.xff);
    xff += a.method == AttributionMethod::kXff;
    benchmark::DoNotOptimize(a);
  }
  if (xff != state.iterations()) state.SkipWithError("an XFF was not attributed");
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_LookupV4);
BENCHMARK(BM_LookupV6);
BENCHMARK(BM_LookupMixed);
BENCHMARK(BM_AttributeXff);

}  // namespace
}  // namespace seccloud
