#pragma once
// The URL category database (R10): UT1-style category lists compiled into one memory-mapped file
// (format: core/category_db_format.h) and looked up without allocation.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/result.h"

namespace seccloud::policy {

struct ImportStats {
  size_t categories = 0;
  size_t domains = 0;         // distinct host keys
  size_t urls = 0;            // distinct host/path keys
  size_t lines = 0;           // lines read (comments and blanks included)
  size_t rejected_lines = 0;  // malformed or over-long lines, skipped
  size_t file_bytes = 0;      // size of the written database
};

// Compiles a UT1-style tree (<dir>/<category>/domains and /urls; a category is a directory; plain
// files at the top, such as UT1's alias files "ads" → "publicite", are ignored) into `out`,
// atomically: the new file is written beside `out`, fsync'd and renamed over it, so a process
// that mapped the old file keeps reading it until it drops it.
Result<ImportStats> ImportUt1(const std::filesystem::path& dir, const std::filesystem::path& out);

// One key of the database that matched, with its categories.
struct CategoryHit {
  std::string_view key;                   // "example.com" or "example.com/path"
  std::span<const uint8_t> category_ids;  // ascending
};

// N slots of a trivially destructible T that are not initialised when made: the result arrays
// below are made for every URL verdict and are kilobytes long (zeroing CategoryHits' 160 views
// and spans cost more than the lookups that fill a few of them). Only slots that were written
// may be read; each holder says which by its count.
template <typename T, size_t N>
class UninitializedSlots {
  static_assert(std::is_trivially_destructible_v<T>);

 public:
  UninitializedSlots() {}  // NOLINT: leaves the slots unwritten on purpose
  T& operator[](size_t i) { return slots_[i].value; }
  const T& operator[](size_t i) const { return slots_[i].value; }

 private:
  union Slot {
    Slot() {}  // NOLINT: no member initialised
    T value;
  };
  std::array<Slot, N> slots_;
};

// Bounded: a host has at most 127 labels and we probe at most 16 path prefixes.
struct CategoryHits {
  static constexpr size_t kMax = 160;
  UninitializedSlots<CategoryHit, kMax> hits;  // [0, count) written
  size_t count = 0;
  void Add(CategoryHit h) {
    if (count < kMax) hits[count++] = h;
  }
};

// A host and each of its parent domains with their key hashes, computed in one pass
// ("a.b.example.com", "b.example.com", "example.com", "com"); an IP literal only itself.
struct HostSuffixes {
  static constexpr size_t kMax = 128;
  UninitializedSlots<std::string_view, kMax> names;  // [0, count) written
  std::array<uint64_t, kMax> hashes;                 // [0, count) written
  size_t count = 0;
  static void Compute(std::string_view host, bool is_ip, HostSuffixes& out);
};

// A blocked Bloom filter over key hashes: one 64-bit word per probe, so a miss costs one cache
// access instead of a walk into the (much larger) slot table.
class HashFilter {
 public:
  void Init(size_t keys);
  void Add(uint64_t h) { words_[(h >> 40) & mask_] |= Bits(h); }
  bool MayContain(uint64_t h) const {
    const uint64_t b = Bits(h);
    return words_.empty() || (words_[(h >> 40) & mask_] & b) == b;
  }
  size_t bytes() const { return words_.size() * 8; }

 private:
  static uint64_t Bits(uint64_t h) {
    return (uint64_t{1} << (h & 63)) | (uint64_t{1} << ((h >> 6) & 63)) |
           (uint64_t{1} << ((h >> 12) & 63));
  }
  std::vector<uint64_t> words_;
  uint64_t mask_ = 0;
};

// Immutable after Open; safe for concurrent readers. Holds its mapping until destroyed, so an
// importer that renames a new file over the path does not disturb it.
class CategoryDb {
 public:
  // Maps and fully validates the file (header, checksum, every offset and id): a corrupt file is
  // an error, never a crash at lookup time.
  static Result<std::shared_ptr<const CategoryDb>> Open(const std::filesystem::path& path);
  // The same over bytes in memory (tests, fuzzing); the bytes are copied.
  static Result<std::shared_ptr<const CategoryDb>> FromBytes(std::string_view bytes);

  ~CategoryDb();
  CategoryDb(const CategoryDb&) = delete;
  CategoryDb& operator=(const CategoryDb&) = delete;

  size_t category_count() const { return names_.size(); }
  std::string_view category_name(uint8_t id) const {
    return id < names_.size() ? std::string_view(names_[id]) : std::string_view();
  }
  std::optional<uint8_t> FindCategory(std::string_view name) const;
  size_t domain_count() const { return domain_count_; }
  size_t url_count() const { return url_count_; }

  // Keys matching `host` (lower-case, no trailing dot) and each parent domain.
  void LookupHost(std::string_view host, CategoryHits& out) const;
  void LookupHost(const HostSuffixes& host, CategoryHits& out) const;
  // Keys of the `urls` lists matching host + path: the path ("/a/b?q", query ignored) and each of
  // its prefixes ending before a '/', for the host and for the host without "www.".
  void LookupUrl(std::string_view host, std::string_view path, CategoryHits& out) const;
  // The same for a host whose suffixes are already computed (names[0] is the host itself).
  void LookupUrl(const HostSuffixes& host, std::string_view path, CategoryHits& out) const;
  // The categories of one exact key, or an empty span.
  std::optional<CategoryHit> Find(std::string_view key) const {
    return Find(key, CategoryKeyHashOf(key));
  }
  std::optional<CategoryHit> Find(std::string_view key, uint64_t hash) const;

  size_t mapped_bytes() const { return size_; }
  // Bytes of the mapping currently in RAM (mincore); what the database costs in resident memory.
  size_t resident_bytes() const;
  // Bytes of the in-memory filters built at Open (not part of the mapping).
  size_t filter_bytes() const { return keys_filter_.bytes() + url_hosts_filter_.bytes(); }

 private:
  CategoryDb() = default;
  static Result<std::shared_ptr<const CategoryDb>> Validate(std::shared_ptr<CategoryDb> db);

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::string owned_;  // FromBytes
  const uint8_t* slots_ = nullptr;
  uint64_t slot_mask_ = 0;
  const uint8_t* sets_ = nullptr;
  const uint8_t* keys_ = nullptr;
  size_t domain_count_ = 0;
  size_t url_count_ = 0;
  std::vector<std::string> names_;
  HashFilter keys_filter_;       // every key
  HashFilter url_hosts_filter_;  // hosts that have `urls` keys

  static uint64_t CategoryKeyHashOf(std::string_view key);
  // LookupUrl's work once the host's key hash (and that of the host without "www.", when it has
  // one: www_hash is then nonzero) are known.
  void LookupUrlHashed(std::string_view host, uint64_t host_hash, uint64_t www_hash,
                       std::string_view path, CategoryHits& out) const;
};

}  // namespace seccloud::policy
