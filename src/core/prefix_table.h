#pragma once
// PrefixTable: longest-prefix match from IPv4/IPv6 addresses to small integer values, built once
// and then read-only (R26). The TenantRegistry uses it to find a connection's tenant; it is kept
// separate so that nesting can be tested with arbitrary values, which a valid tenant set never has.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/ip.h"

namespace seccloud {

// An IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/96 and longer) as the IPv4 prefix it denotes; any
// other prefix unchanged.
IpPrefix UnmappedPrefix(const IpPrefix& p);

class PrefixTable {
 public:
  static constexpr int32_t kNone = -1;

  struct Entry {
    IpPrefix prefix;
    int32_t value = kNone;  // >= 0
  };

  PrefixTable();

  // The most specific prefix wins; among identical prefixes, the one listed first. IPv4-mapped
  // IPv6 prefixes (::ffff:0:0/96 and longer) are stored as the IPv4 prefixes they denote.
  static PrefixTable Build(const std::vector<Entry>& entries);

  // The value of the longest prefix containing `a`, or kNone. IPv4-mapped IPv6 addresses are
  // looked up as IPv4. Safe for concurrent callers; no allocation.
  int32_t Lookup(const IpAddress& a) const {
    if (a.is_v4()) return LookupV4(a.v4());
    const auto& b = a.bytes();
    uint64_t high = 0, low = 0;
    for (int i = 0; i < 8; ++i) high = high << 8 | b[i];
    for (int i = 8; i < 16; ++i) low = low << 8 | b[i];
    if (high == 0 && (low >> 32) == 0xffff) return LookupV4(static_cast<uint32_t>(low));
    return LookupV6(static_cast<unsigned __int128>(high) << 64 | low);
  }

  int32_t LookupV4(uint32_t a) const {
    // Segments touching the /16 of `a` lie between the segments holding its first and its last
    // address; the index keeps the binary search to that handful.
    const uint32_t top = a >> 16;
    const uint32_t* base = v4_starts_.data() + v4_index_[top];
    size_t n = v4_index_[top + 1] - v4_index_[top] + 1;
    // Branch-free: the outcome of each comparison is random, a mispredicted branch costs more
    // than the conditional move.
    while (n > 1) {
      const size_t half = n / 2;
      base = base[half] <= a ? base + half : base;
      n -= half;
    }
    return v4_values_[base - v4_starts_.data()];
  }

  int32_t LookupV6(unsigned __int128 a) const;

  // Number of disjoint segments (including unowned gaps); for tests and sizing.
  size_t v4_segments() const { return v4_starts_.size(); }
  size_t v6_segments() const { return v6_starts_.size(); }

 private:
  // Each family's address space is cut into disjoint segments: segment i covers
  // [starts[i], starts[i + 1]) and maps to values[i] (kNone for gaps). starts[0] is always 0.
  std::vector<uint32_t> v4_starts_;
  std::vector<int32_t> v4_values_;
  // v4_index_[t] is the segment holding address t << 16; entry 65536 is the last segment.
  std::vector<uint32_t> v4_index_;
  std::vector<unsigned __int128> v6_starts_;
  std::vector<int32_t> v6_values_;
};

}  // namespace seccloud
