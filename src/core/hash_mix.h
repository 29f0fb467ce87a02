#pragma once
// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit. One definition for
// the hashes seccloud persists (the category database's slots, the SOC store's token hashes and
// Bloom bits): their on-disk values depend on it, so it never changes.

#include <cstdint>

namespace seccloud {

inline uint64_t Mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace seccloud
