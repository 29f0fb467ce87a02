#pragma once
// The on-disk format of the URL category database (R10). The policy module writes and maps it
// (policy/category_db.h); core only reads its category names, so that the config loader can
// reject an unknown category with the place it was written. All integers little-endian.
//
//   header (72 bytes) | slots | names | sets | keys
//
//   slots: 2^slot_bits × {u64 hash, u32 key_offset, u32 set_offset}; an open-addressing table
//          (linear probing) keyed by CategoryKeyHash(key); hash 0 marks an empty slot.
//   names: category_count NUL-terminated category names, in id order (ids 0..254).
//   sets:  deduplicated category sets: u8 count, then count u8 ids.
//   keys:  u16 length, then the key: a host ("example.com") or host + path ("example.com/a/b").
//          Keys are stored in sorted order, each once.
//   checksum: CategoryDbChecksum over the whole file with the checksum field read as zero.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash_mix.h"
#include "core/result.h"

namespace seccloud {

inline constexpr char kCategoryDbMagic[8] = {'S', 'C', 'C', 'A', 'T', 'D', 'B', '1'};
inline constexpr uint32_t kCategoryDbVersion = 1;
inline constexpr uint32_t kMaxCategories = 255;
inline constexpr uint32_t kMaxCategoryDbBytes = 1u << 30;
inline constexpr size_t kMaxCategoryKeyBytes = 1024;

struct CategoryDbHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_size;  // sizeof(CategoryDbHeader)
  uint32_t file_size;
  uint32_t category_count;
  uint32_t domain_count;  // keys without '/'
  uint32_t url_count;     // keys with '/'
  uint32_t slots_offset;
  uint32_t slot_bits;
  uint32_t names_offset;
  uint32_t names_size;
  uint32_t sets_offset;
  uint32_t sets_size;
  uint32_t keys_offset;
  uint32_t keys_size;
  uint64_t checksum;
};
static_assert(sizeof(CategoryDbHeader) == 72);

struct CategoryDbSlot {
  uint64_t hash;
  uint32_t key_offset;
  uint32_t set_offset;
};
static_assert(sizeof(CategoryDbSlot) == 16);

inline uint64_t CategoryMix64(uint64_t h) { return Mix64(h); }

// FNV-1a over the key's bytes from last to first, finalised; never 0 (0 marks an empty slot).
// Hashing from the end lets a reader get the hash of every parent domain of a host in one pass:
// the state after the bytes of "example.com" is the state "www.example.com" continues from.
inline constexpr uint64_t kCategoryHashSeed = 0xcbf29ce484222325ULL;
inline uint64_t CategoryHashStep(uint64_t state, unsigned char c) {
  return (state ^ c) * 0x100000001b3ULL;
}
inline uint64_t CategoryHashFinish(uint64_t state) {
  const uint64_t h = CategoryMix64(state);
  return h == 0 ? 1 : h;
}
inline uint64_t CategoryKeyHash(std::string_view key) {
  uint64_t h = kCategoryHashSeed;
  for (size_t i = key.size(); i-- > 0;) h = CategoryHashStep(h, static_cast<unsigned char>(key[i]));
  return CategoryHashFinish(h);
}

// The checksum of a whole database file (the header's checksum field read as zero): a fast 64-bit
// hash that detects corruption, not tampering. 0 when `size` is shorter than the header.
uint64_t CategoryDbChecksum(const uint8_t* data, size_t size);

// The category names of the database at `path`, in id order. Checks the header, the bounds and
// the checksum; errors name the file and what is wrong.
Result<std::vector<std::string>> ReadCategoryDbNames(const std::filesystem::path& path);
// The same over bytes in memory.
Result<std::vector<std::string>> ParseCategoryDbNames(std::string_view bytes);

}  // namespace seccloud
