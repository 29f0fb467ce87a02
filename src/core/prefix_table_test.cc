#include "core/prefix_table.h"

#include <gtest/gtest.h>

#include <random>

#include "core/sanitizer_testing.h"

namespace seccloud {
namespace {

IpAddress Addr(std::string_view text) { return IpAddress::Parse(text).value(); }
IpPrefix Prefix(std::string_view text) { return IpPrefix::Parse(text).value(); }

TEST(PrefixTableTest, EmptyTableFindsNothing) {
  PrefixTable empty;
  EXPECT_EQ(empty.Lookup(Addr("0.0.0.0")), PrefixTable::kNone);
  EXPECT_EQ(empty.Lookup(Addr("255.255.255.255")), PrefixTable::kNone);
  EXPECT_EQ(empty.Lookup(Addr("::")), PrefixTable::kNone);
  PrefixTable built = PrefixTable::Build({});
  EXPECT_EQ(built.Lookup(Addr("10.0.0.1")), PrefixTable::kNone);
  EXPECT_EQ(built.Lookup(Addr("2001:db8::1")), PrefixTable::kNone);
}

TEST(PrefixTableTest, MostSpecificWinsAtEveryBoundary) {
  PrefixTable t = PrefixTable::Build({{Prefix("10.0.0.0/8"), 1},
                                      {Prefix("10.1.0.0/16"), 2},
                                      {Prefix("10.1.2.0/24"), 3},
                                      {Prefix("10.1.2.3/32"), 4},
                                      {Prefix("10.255.255.0/24"), 5}});
  EXPECT_EQ(t.Lookup(Addr("9.255.255.255")), PrefixTable::kNone);
  EXPECT_EQ(t.Lookup(Addr("10.0.0.0")), 1);
  EXPECT_EQ(t.Lookup(Addr("10.0.255.255")), 1);
  EXPECT_EQ(t.Lookup(Addr("10.1.0.0")), 2);
  EXPECT_EQ(t.Lookup(Addr("10.1.2.2")), 3);
  EXPECT_EQ(t.Lookup(Addr("10.1.2.3")), 4);
  EXPECT_EQ(t.Lookup(Addr("10.1.2.4")), 3);
  EXPECT_EQ(t.Lookup(Addr("10.1.2.255")), 3);
  EXPECT_EQ(t.Lookup(Addr("10.1.3.0")), 2);
  EXPECT_EQ(t.Lookup(Addr("10.1.255.255")), 2);
  EXPECT_EQ(t.Lookup(Addr("10.2.0.0")), 1);
  EXPECT_EQ(t.Lookup(Addr("10.255.254.255")), 1);
  EXPECT_EQ(t.Lookup(Addr("10.255.255.0")), 5);
  EXPECT_EQ(t.Lookup(Addr("10.255.255.255")), 5);
  EXPECT_EQ(t.Lookup(Addr("11.0.0.0")), PrefixTable::kNone);
}

TEST(PrefixTableTest, EndsOfTheAddressSpace) {
  PrefixTable t = PrefixTable::Build({{Prefix("0.0.0.0/0"), 0},
                                      {Prefix("255.255.255.255/32"), 1},
                                      {Prefix("0.0.0.0/32"), 2},
                                      {Prefix("::/0"), 3},
                                      {Prefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124"), 4},
                                      {Prefix("::/128"), 5}});
  EXPECT_EQ(t.Lookup(Addr("0.0.0.0")), 2);
  EXPECT_EQ(t.Lookup(Addr("0.0.0.1")), 0);
  EXPECT_EQ(t.Lookup(Addr("255.255.255.254")), 0);
  EXPECT_EQ(t.Lookup(Addr("255.255.255.255")), 1);
  EXPECT_EQ(t.Lookup(Addr("::")), 5);
  EXPECT_EQ(t.Lookup(Addr("::1")), 3);
  EXPECT_EQ(t.Lookup(Addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffef")), 3);
  EXPECT_EQ(t.Lookup(Addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0")), 4);
  EXPECT_EQ(t.Lookup(Addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), 4);
}

TEST(PrefixTableTest, IdenticalPrefixesFirstListedWins) {
  PrefixTable t = PrefixTable::Build({{Prefix("10.0.0.0/8"), 7}, {Prefix("10.0.0.0/8"), 8}});
  EXPECT_EQ(t.Lookup(Addr("10.9.9.9")), 7);
}

TEST(PrefixTableTest, Ipv4MappedAddressesAndPrefixesAreIpv4) {
  PrefixTable t = PrefixTable::Build({{Prefix("127.10.0.0/16"), 1},
                                      {Prefix("::ffff:127.20.0.0/112"), 2},
                                      {Prefix("2001:db8::/32"), 3}});
  EXPECT_EQ(t.Lookup(Addr("::ffff:127.10.0.5")), 1);
  EXPECT_EQ(t.Lookup(Addr("127.20.3.4")), 2);
  EXPECT_EQ(t.Lookup(Addr("::ffff:127.20.3.4")), 2);
  EXPECT_EQ(t.Lookup(Addr("::127.10.0.5")), PrefixTable::kNone);  // IPv4-compatible: not mapped
  EXPECT_EQ(t.Lookup(Addr("2001:db8:1::1")), 3);
  EXPECT_EQ(t.Lookup(Addr("2001:db9::")), PrefixTable::kNone);
  EXPECT_EQ(t.Lookup(Addr("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff")), PrefixTable::kNone);
}

TEST(PrefixTableTest, AdjacentSameValueSegmentsMerge) {
  PrefixTable t = PrefixTable::Build({{Prefix("10.0.0.0/9"), 1}, {Prefix("10.128.0.0/9"), 1}});
  EXPECT_EQ(t.v4_segments(), 3u);  // gap, 10/8 as one segment, gap
  EXPECT_EQ(t.Lookup(Addr("10.127.255.255")), 1);
  EXPECT_EQ(t.Lookup(Addr("10.128.0.0")), 1);
}

// Longest match by linear scan; identical prefixes resolve to the first listed.
int32_t BruteForce(const std::vector<PrefixTable::Entry>& entries, const IpAddress& a) {
  int32_t best = PrefixTable::kNone;
  int best_len = -1;
  const IpAddress u = a.Unmapped();
  for (const auto& e : entries) {
    if (e.prefix.Contains(u) && static_cast<int>(e.prefix.length()) > best_len) {
      best = e.value;
      best_len = static_cast<int>(e.prefix.length());
    }
  }
  return best;
}

TEST(PrefixTableTest, MatchesLinearScanOnRandomNestedPrefixes) {
  std::mt19937_64 rng(20240526);
  std::vector<PrefixTable::Entry> entries;
  // Clustered in a few /8s and one /32 of IPv6 so that nesting is frequent.
  const uint32_t v4_bases[] = {0x0A000000, 0x7F000000, 0xC0A80000, 0x00000000, 0xFF000000};
  for (int i = 0; i < 2000; ++i) {
    if (i % 5 != 4) {
      const uint32_t base = v4_bases[rng() % 5];
      const unsigned len = 8 + rng() % 25;
      const uint32_t addr = base | (static_cast<uint32_t>(rng()) & 0x00ffffff);
      entries.push_back({IpPrefix(IpAddress::V4(addr), len), static_cast<int32_t>(i)});
    } else {
      std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
      for (int k = 4; k < 16; ++k) b[k] = static_cast<uint8_t>(rng());
      if (rng() % 2) b[4] = b[5] = 0;  // crowd a /48
      const unsigned len = 32 + rng() % 97;
      entries.push_back({IpPrefix(IpAddress::V6(b), len), static_cast<int32_t>(i)});
    }
  }
  PrefixTable t = PrefixTable::Build(entries);
  // Random addresses; a sanitizer build checks a share of them.
  for (size_t i = 0; i < 100000 / test::kSanitizerStride; ++i) {
    IpAddress a;
    const int kind = static_cast<int>(rng() % 10);
    if (kind < 6) {
      // Near a random prefix: its first, last or a random inside address, or just outside.
      const IpPrefix& p = entries[rng() % entries.size()].prefix;
      switch (rng() % 4) {
        case 0:
          a = p.address();
          break;
        case 1:
          a = p.Last();
          break;
        default: {
          auto b = p.address().bytes();
          const unsigned width = p.address().bit_width();
          for (unsigned bit = p.length(); bit < width; ++bit) {
            if (rng() & 1) b[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
          }
          a = p.address().is_v4() ? IpAddress::V4(uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 |
                                                  uint32_t{b[2]} << 8 | b[3])
                                  : IpAddress::V6(b);
        }
      }
      if (a.is_v4() && rng() % 8 == 0) a = IpAddress::V4(a.v4() + (rng() % 2 ? 1 : -1));
    } else if (kind < 9) {
      a = IpAddress::V4(static_cast<uint32_t>(rng()));
    } else {
      std::array<uint8_t, 16> b{};
      for (auto& x : b) x = static_cast<uint8_t>(rng());
      if (rng() % 2) b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8;
      if (rng() % 4 == 0) {  // IPv4-mapped
        for (int k = 0; k < 10; ++k) b[k] = 0;
        b[10] = b[11] = 0xff;
      }
      a = IpAddress::V6(b);
    }
    ASSERT_EQ(t.Lookup(a), BruteForce(entries, a)) << a.ToString();
  }
}

}  // namespace
}  // namespace seccloud
