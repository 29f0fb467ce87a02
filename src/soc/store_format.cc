// Codecs of the embedded store's on-disk format (store_internal.h describes the format).

#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <numbers>
#include <unordered_map>
#include <utility>

#include "core/civil_date.h"
#include "soc/store_internal.h"

namespace seccloud::soc::store_internal {
namespace {

// CRC32C, reflected polynomial 0x82F63B78.
struct Crc32cTable {
  uint32_t t[8][256];
  Crc32cTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};

uint32_t Crc32cSoftware(const unsigned char* p, size_t n, uint32_t crc) {
  static const Crc32cTable table;
  crc = ~crc;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= crc;
    crc = table.t[7][w & 0xff] ^ table.t[6][(w >> 8) & 0xff] ^ table.t[5][(w >> 16) & 0xff] ^
          table.t[4][(w >> 24) & 0xff] ^ table.t[3][(w >> 32) & 0xff] ^
          table.t[2][(w >> 40) & 0xff] ^ table.t[1][(w >> 48) & 0xff] ^ table.t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ table.t[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(const unsigned char* p, size_t n,
                                                          uint32_t crc) {
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = __builtin_ia32_crc32di(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
#endif

using token_hash_detail::Fmix;
using token_hash_detail::LoadLe64;

// The bit positions within a 512-bit line: 9-bit slices of a second mix of the hash.
uint32_t BitOf(uint64_t mixed, uint32_t i) {
  return static_cast<uint32_t>((mixed >> (9 * (i % 7))) + (i / 7) * 97) & 511;
}

constexpr uint32_t kBloomMaxK = 7;

int64_t FloorDiv1000(int64_t t) { return t / 1000 - (t % 1000 < 0 ? 1 : 0); }

size_t VarintBytes(uint64_t v) { return (static_cast<size_t>(std::bit_width(v | 1)) + 6) / 7; }
char* PutVarintAt(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
uint64_t ZigzagOf(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
}  // namespace

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) return Crc32cHardware(p, data.size(), crc);
#endif
  return Crc32cSoftware(p, data.size(), crc);
}

void PutVarint(std::string& out, uint64_t v) {
  if (v < 0x80) {
    out.push_back(static_cast<char>(v));
    return;
  }
  // One append instead of a push_back per byte (the columns and the journal put several per
  // record).
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}
void PutZigzag(std::string& out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}
void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t GetU32(const char* p) { return static_cast<uint32_t>(LoadLe64(p, 4)); }

std::string EncodeFileHeader(FileKind kind, uint32_t version) {
  std::string out;
  PutU32(out, kFileMagic);
  PutU32(out, version);
  PutU32(out, static_cast<uint32_t>(kind));
  PutU32(out, Crc32c(out));
  return out;
}

FileHeaderInfo ReadFileHeader(std::string_view head, FileKind kind) {
  FileHeaderInfo info;
  const uint32_t legacy_magic = kind == FileKind::kPartition ? kBlockMagic : kJournalMagic;
  if (head.size() >= 4 && GetU32(head.data()) == legacy_magic) {
    info.version = 1;  // version 1 files have no header
    return info;
  }
  if (head.size() < kFileHeaderBytes) {
    // An interrupted creation leaves a prefix of the header (or nothing).
    const std::string whole = EncodeFileHeader(kind);
    if (whole.compare(0, head.size(), head) == 0) {
      info.data_start = head.size();
      return info;
    }
    info.problem = "a file header cut short";
    info.data_start = head.size();
    return info;
  }
  info.data_start = kFileHeaderBytes;
  if (GetU32(head.data()) != kFileMagic) {
    info.problem = "no file header magic";
    return info;
  }
  if (Crc32c(head.substr(0, 12)) != GetU32(head.data() + 12)) {
    info.problem = "file header checksum mismatch";
    return info;
  }
  const uint32_t version = GetU32(head.data() + 4);
  if (GetU32(head.data() + 8) != static_cast<uint32_t>(kind)) {
    info.problem =
        "file header names another kind of file (" + std::to_string(GetU32(head.data() + 8)) + ")";
    return info;
  }
  if (version > kFormatVersion) {
    info.version = version;
    info.newer = true;
    return info;
  }
  if (version < 2) {
    info.problem =
        "file header names format version " + std::to_string(version) + ", which had no header";
    return info;
  }
  info.version = version;
  return info;
}

size_t BloomLineOffset(uint64_t hash, size_t bloom_bytes) {
  const uint64_t lines = bloom_bytes / kBloomLineBytes;  // a power of two
  return static_cast<size_t>(hash & (lines - 1)) * kBloomLineBytes;
}

namespace {
uint64_t BitsMix(uint64_t hash) { return Fmix(hash ^ 0x5bd1e9955bd1e995ULL); }
}  // namespace

bool BloomLineHas(std::string_view line, uint64_t hash, uint32_t k) {
  const uint64_t mixed = BitsMix(hash);
  for (uint32_t i = 0; i < k; ++i) {
    const uint32_t bit = BitOf(mixed, i);
    if ((static_cast<unsigned char>(line[bit / 8]) & (1u << (bit % 8))) == 0) return false;
  }
  return true;
}

uint32_t BloomBuilder::KFor(double bits_per_token) {
  // ln2 × bits per token is optimal for a plain filter; a blocked one wants it a bit lower.
  return static_cast<uint32_t>(
      std::clamp(std::lround(bits_per_token * 0.6), long{1}, static_cast<long>(kBloomMaxK)));
}

BloomBuilder::BloomBuilder(size_t max_lines, double bits_per_token)
    : max_lines_(
          std::bit_floor(std::clamp<size_t>(max_lines, 1, kMaxBloomBytes / kBloomLineBytes))),
      bits_per_token_(bits_per_token),
      k_(KFor(bits_per_token)) {}

namespace {

// Sets bit `bit` (0..511) of a 64-byte line; returns 1 when it was 0. Bit b of the line is bit
// b % 8 of byte b / 8, which on a little-endian machine is bit b % 64 of the 64-bit word at byte
// 8 * (b / 64): set a word at a time.
inline uint64_t SetLineBit(char* line, uint32_t bit) {
  if constexpr (std::endian::native == std::endian::little) {
    char* const at = line + 8 * (bit / 64);
    uint64_t word;
    std::memcpy(&word, at, 8);
    const uint64_t set = word | uint64_t{1} << (bit % 64);
    std::memcpy(at, &set, 8);
    return set != word;
  } else {
    const auto old = static_cast<unsigned char>(line[bit / 8]);
    const auto set = static_cast<unsigned char>(old | 1u << (bit % 8));
    line[bit / 8] = static_cast<char>(set);
    return set != old;
  }
}

// Sets the bits of slices I... (9 bits each) in line, in that order; returns how many were 0.
template <uint32_t... I>
inline uint64_t SetSliceBits(char* line, uint64_t slices, std::integer_sequence<uint32_t, I...>) {
  uint64_t added = 0;
  ((added += SetLineBit(line, static_cast<uint32_t>(slices >> (9 * I)) & 511)), ...);
  return added;
}

// Sets each hash's K bits in its line of the filter bits[0, bloom_bytes); returns how many were 0.
// BitOf(mixed, i) for i < kBloomMaxK (7; KFor never gives more) is the i-th 9-bit slice: with K a
// constant the slices are constant shifts and the K bits straight-line code (callgrind,
// soc_store_bench, k = 6: 126 instructions a hash, ~15 a bit, against the loop over k's 145).
template <uint32_t K>
uint64_t SetLineBitsOf(char* bits, size_t bloom_bytes, const uint64_t* hashes, size_t n) {
  static_assert(K >= 1 && K <= 7);
  uint64_t added = 0;
  for (size_t j = 0; j < n; ++j) {
    char* const line = bits + BloomLineOffset(hashes[j], bloom_bytes);
    added += SetSliceBits(line, BitsMix(hashes[j]), std::make_integer_sequence<uint32_t, K>{});
  }
  return added;
}

}  // namespace

uint64_t BloomBuilder::SetBitsOf(const uint64_t* hashes, size_t n) {
  static_assert(kBloomMaxK == 7, "SetBitsOf has a case for each k up to kBloomMaxK");
  char* const bits = bits_.data();
  const size_t bytes = bits_.size();
  switch (k_) {  // KFor's range: 1..kBloomMaxK
    case 1:
      return SetLineBitsOf<1>(bits, bytes, hashes, n);
    case 2:
      return SetLineBitsOf<2>(bits, bytes, hashes, n);
    case 3:
      return SetLineBitsOf<3>(bits, bytes, hashes, n);
    case 4:
      return SetLineBitsOf<4>(bits, bytes, hashes, n);
    case 5:
      return SetLineBitsOf<5>(bits, bytes, hashes, n);
    case 6:
      return SetLineBitsOf<6>(bits, bytes, hashes, n);
    default:
      return SetLineBitsOf<7>(bits, bytes, hashes, n);
  }
}

void BloomBuilder::Insert(uint64_t hash) {
  if (bits_.empty()) {
    bits_.assign(max_lines_ * kBloomLineBytes, '\0');
    recent_.assign(kRecentSlots, 0);
  }
  uint64_t& seen = recent_[(hash >> 40) & (kRecentSlots - 1)];
  if (seen == hash) return;
  seen = hash;
  set_bits_ += SetBitsOf(&hash, 1);
}

void BloomBuilder::InsertAll(std::span<const uint64_t> hashes) {
  if (hashes.empty()) return;
  if (bits_.empty()) {
    bits_.assign(max_lines_ * kBloomLineBytes, '\0');
    recent_.assign(kRecentSlots, 0);
  }
  // Most of a record's tokens repeat those of the records before it (measured on loggen's set:
  // 92 % of them are in recent_), so recent_ is consulted first, for all of them, and only the
  // new ones touch the filter. The filter is larger than the L2 cache and a token's line is
  // random: their lines are prefetched as they are found, so the misses overlap. recent_ is
  // updated in the same order as one Insert per hash would, so the filter is the same.
  // (The buffers' addresses are locals: a store into recent_ may alias the string's length, a
  // 64-bit integer too, which the compiler would otherwise load again per hash.)
  constexpr size_t kChunk = 256;
  uint64_t fresh[kChunk];
  uint64_t* const recent = recent_.data();
  const char* const bits = bits_.data();
  const size_t bloom_bytes = bits_.size();
  for (size_t from = 0; from < hashes.size(); from += kChunk) {
    const size_t to = std::min(hashes.size(), from + kChunk);
    size_t n = 0;
    // Unrolled: most hashes take the first test only, and the loop's own count and compare were
    // ~3 of its ~10 instructions a hash.
#pragma GCC unroll 4
    for (size_t i = from; i < to; ++i) {
      const uint64_t hash = hashes[i];
      uint64_t& seen = recent[(hash >> 40) & (kRecentSlots - 1)];
      if (seen == hash) continue;
      seen = hash;
      __builtin_prefetch(bits + BloomLineOffset(hash, bloom_bytes), 1);
      fresh[n++] = hash;
    }
    set_bits_ += SetBitsOf(fresh, n);
  }
}

double BloomBuilder::EstimateDistinct() const {
  if (bits_.empty()) return 0;
  // Counted as the bits are set: Append checks the fill every 1,024 records per open block, and
  // a popcount over the whole filter each time cost more than the inserts.
  const uint64_t set = set_bits_;
  const double m = static_cast<double>(bits_.size()) * 8;
  const double x = std::min(static_cast<double>(set), m - 1);
  return -(m / k_) * std::log(1 - x / m);
}

bool BloomBuilder::Full() const {
  return EstimateDistinct() * bits_per_token_ >= static_cast<double>(bits_.size()) * 8;
}

Bloom BloomBuilder::Finish(bool keep_memory) {
  Bloom bloom;
  bloom.k = k_;
  if (bits_.empty()) {
    bloom.bits.assign(kBloomLineBytes, '\0');
    return bloom;
  }
  const double want_bits = std::max(1.0, EstimateDistinct() * bits_per_token_);
  const size_t max_lines = bits_.size() / kBloomLineBytes;
  size_t lines = max_lines;
  while (lines > 1 && static_cast<double>(lines / 2) * kBloomLineBytes * 8 >= want_bits) lines /= 2;
  // Folding in one pass: line j of the result is the OR of every line i with i % lines == j,
  // ORed into the first `lines` lines of bits_ themselves (no scratch allocation: Finish runs
  // once per block, and Flush seals every open block at once).
  const size_t words = lines * kBloomLineBytes / 8;
  char* const first = bits_.data();
  for (size_t off = words * 8; off < bits_.size(); off += words * 8) {
    for (size_t w = 0; w < words; ++w) {
      uint64_t a, v;
      std::memcpy(&a, first + w * 8, 8);
      std::memcpy(&v, first + off + w * 8, 8);
      a |= v;
      std::memcpy(first + w * 8, &a, 8);
    }
  }
  set_bits_ = 0;
  if (keep_memory) {
    bloom.bits.assign(first, words * 8);
    std::fill(bits_.begin(), bits_.end(), '\0');
    std::fill(recent_.begin(), recent_.end(), 0);
  } else {
    // The filter's own buffer becomes the folded filter (its spare capacity goes with it: the
    // Bloom lives only until its block is written).
    bits_.resize(words * 8);
    bloom.bits = std::move(bits_);
    bits_ = std::string();
    recent_ = std::vector<uint64_t>();
  }
  return bloom;
}

uint32_t GcsRiceFor(double bits_per_token) {
  return static_cast<uint32_t>(std::clamp(std::ceil(bits_per_token * std::numbers::ln2) + 1, 1.0,
                                          static_cast<double>(kGcsMaxRice)));
}

namespace {

uint64_t MulHi(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
}

// The set's value range n·2^rice and its bucket width.
struct GcsGeometry {
  uint64_t range = 0, width = 1;
};
GcsGeometry GcsGeometryOf(uint64_t tokens, uint32_t rice, uint64_t buckets) {
  GcsGeometry g;
  g.range = tokens << rice;
  g.width = std::max<uint64_t>(1, (g.range + buckets - 1) / std::max<uint64_t>(buckets, 1));
  return g;
}

class BitWriter {
 public:
  explicit BitWriter(std::string& out) : out_(out) {}
  void Bit(bool one) {
    if (used_ == 0) out_.push_back('\0');
    if (one) out_.back() = static_cast<char>(out_.back() | (1u << used_));
    used_ = (used_ + 1) % 8;
  }
  void Bits(uint64_t v, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) Bit((v >> i) & 1);
  }
  void AlignToByte() { used_ = 0; }

 private:
  std::string& out_;
  uint32_t used_ = 0;  // bits used in out_.back(); 0: none (or a whole byte)
};

// Calls value(v) for each value of a bucket in order (a gap's quotient, a one bit, rice low
// bits); stops early when value returns false. Returns false when the bucket ends inside a code
// (a one bit without its rice bits, or nonzero padding); *end_bits: where the last code ended.
template <typename F>
bool DecodeGcsBucket(std::string_view bucket, uint32_t rice, F&& value, size_t* end_bits) {
  const size_t total = bucket.size() * 8;
  auto bit = [&](size_t i) { return (static_cast<unsigned char>(bucket[i / 8]) >> (i % 8)) & 1; };
  size_t pos = 0;
  uint64_t acc = 0;
  *end_bits = 0;
  while (pos < total) {
    size_t q = 0;
    while (pos < total && bit(pos) == 0) {
      ++pos;
      ++q;
    }
    if (pos == total) return true;  // zero padding: the bucket's end
    ++pos;                          // the one bit ending the quotient
    if (total - pos < rice) return false;
    uint64_t low = 0;
    for (uint32_t i = 0; i < rice; ++i) low |= static_cast<uint64_t>(bit(pos + i)) << i;
    pos += rice;
    acc += (static_cast<uint64_t>(q) << rice) | low;  // q < 2^19 (64 KiB), rice <= 32: no overflow
    *end_bits = pos;
    if (!value(acc)) return true;
  }
  return true;
}

// Lookups read at most this much of a bucket: a writer never makes one this long (~150 bytes
// expected); a longer one (damage, or hashes crafted to collide) is treated as holding anything.
constexpr uint64_t kGcsMaxBucketBytes = 64 << 10;

Bloom EncodeSortedTokenSet(std::span<const uint64_t> hashes, uint32_t rice) {
  Bloom set;
  set.k = 0;
  set.gcs_rice = std::clamp<uint32_t>(rice, 1, kGcsMaxRice);
  set.gcs_tokens = hashes.size();
  set.gcs_buckets =
      std::max<uint64_t>(1, (hashes.size() + kGcsBucketTokens - 1) / kGcsBucketTokens);
  const GcsGeometry g = GcsGeometryOf(set.gcs_tokens, set.gcs_rice, set.gcs_buckets);
  std::string data;
  std::vector<uint32_t> offsets;
  offsets.reserve(set.gcs_buckets + 1);
  BitWriter bits(data);
  size_t i = 0;
  for (uint64_t b = 0; b < set.gcs_buckets; ++b) {
    offsets.push_back(static_cast<uint32_t>(data.size()));
    bits.AlignToByte();
    uint64_t last = 0;
    bool first = true;
    for (; i < hashes.size(); ++i) {
      const uint64_t v = MulHi(hashes[i], g.range);
      if (v / g.width != b) break;
      const uint64_t value = v - b * g.width;
      if (value == last && !first) continue;  // two hashes on one value: one code
      first = false;
      const uint64_t gap = value - last;
      for (uint64_t q = gap >> set.gcs_rice; q > 0; --q) bits.Bit(false);
      bits.Bit(true);
      bits.Bits(gap, set.gcs_rice);
      last = value;
    }
  }
  offsets.push_back(static_cast<uint32_t>(data.size()));
  set.bits.reserve(offsets.size() * 4 + data.size());
  for (uint32_t o : offsets) PutU32(set.bits, o);
  set.bits += data;
  return set;
}

}  // namespace

Bloom EncodeTokenSet(std::vector<uint64_t> hashes, uint32_t rice) {
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  return EncodeSortedTokenSet(hashes, rice);
}

GcsProbe GcsLocate(uint64_t hash, const BlockMeta& meta) {
  const GcsGeometry g = GcsGeometryOf(meta.gcs_tokens, meta.gcs_rice, meta.gcs_buckets);
  const uint64_t v = MulHi(hash, g.range);
  GcsProbe p;
  p.bucket = std::min(v / g.width, meta.gcs_buckets - 1);
  p.value = v - p.bucket * g.width;
  return p;
}

bool GcsBucketRange(std::string_view directory8, const BlockMeta& meta, uint64_t* from,
                    uint64_t* to) {
  if (directory8.size() < 8) return false;
  const uint64_t data_start = 4 * (meta.gcs_buckets + 1);
  *from = data_start + GetU32(directory8.data());
  *to = data_start + GetU32(directory8.data() + 4);
  return *from <= *to && *to <= meta.bloom_len && *to - *from <= kGcsMaxBucketBytes;
}

bool GcsBucketHas(std::string_view bucket, uint32_t rice, uint64_t value) {
  bool found = false;
  size_t end_bits;
  DecodeGcsBucket(
      bucket, rice,
      [&](uint64_t v) {
        found = v == value;
        return v < value;
      },
      &end_bits);
  return found;
}

bool CheckTokenSet(std::string_view section, const BlockMeta& meta, std::string* why) {
  const uint64_t data_start = 4 * (meta.gcs_buckets + 1);
  if (section.size() < data_start) {
    *why = "token index shorter than its directory";
    return false;
  }
  const GcsGeometry g = GcsGeometryOf(meta.gcs_tokens, meta.gcs_rice, meta.gcs_buckets);
  const std::string_view data = section.substr(data_start);
  uint64_t tokens = 0;
  for (uint64_t b = 0; b < meta.gcs_buckets; ++b) {
    const uint32_t from = GetU32(section.data() + 4 * b), to = GetU32(section.data() + 4 * b + 4);
    if ((b == 0 && from != 0) || from > to || to > data.size() ||
        (b + 1 == meta.gcs_buckets && to != data.size())) {
      *why = "token index directory inconsistent at bucket " + std::to_string(b);
      return false;
    }
    bool ordered = true;
    uint64_t last = 0, count = 0;
    size_t end_bits;
    const std::string_view bucket = data.substr(from, to - from);
    const bool whole = DecodeGcsBucket(
        bucket, meta.gcs_rice,
        [&](uint64_t v) {
          ordered = v < g.width && (count == 0 || v > last);
          last = v;
          ++count;
          return ordered;
        },
        &end_bits);
    if (!whole || !ordered || bucket.size() * 8 - end_bits >= 8) {
      *why = "token index bucket " + std::to_string(b) + " malformed";
      return false;
    }
    tokens += count;
  }
  // Two tokens whose hashes map to one value share a code: there may be fewer codes.
  if (tokens > meta.gcs_tokens) {
    *why = "token index holds " + std::to_string(tokens) + " values, its meta says " +
           std::to_string(meta.gcs_tokens);
    return false;
  }
  return true;
}

void TokenSetBuilder::Insert(uint64_t hash) {
  uint64_t& seen = recent_[(hash >> 40) & 4095];
  if (seen == hash) return;
  seen = hash;
  hashes_.push_back(hash);
  if (hashes_.size() - sorted_ >= (size_t{1} << 20)) Distinct();
}

size_t TokenSetBuilder::Distinct() {
  if (sorted_ < hashes_.size()) {
    std::sort(hashes_.begin() + static_cast<std::ptrdiff_t>(sorted_), hashes_.end());
    std::inplace_merge(hashes_.begin(), hashes_.begin() + static_cast<std::ptrdiff_t>(sorted_),
                       hashes_.end());
    hashes_.erase(std::unique(hashes_.begin(), hashes_.end()), hashes_.end());
    sorted_ = hashes_.size();
  }
  return sorted_;
}

Bloom TokenSetBuilder::Finish(uint32_t rice) {
  Distinct();
  Bloom set = EncodeSortedTokenSet(hashes_, rice);
  hashes_.clear();
  sorted_ = 0;
  std::fill(recent_.begin(), recent_.end(), 0);
  return set;
}

namespace {

// Level 0 (kStoredLevel): a zstd frame of raw blocks (RFC 8878 section 3.1.1.2, Block_Type 0),
// written here without the compressor. Any zstd decoder reads it: the bytes as they are,
// behind a 14-byte frame header (magic, a descriptor naming an 8-byte content size and no
// checksum, a 128 KiB window) and a 3-byte header per block of up to 128 KiB.
class StoredFrame {
 public:
  static constexpr size_t kBlockBytes = size_t{128} << 10;
  static constexpr size_t kHeaderBytes = 14;
  static size_t Size(uint64_t content) {
    const uint64_t blocks = content == 0 ? 1 : (content + kBlockBytes - 1) / kBlockBytes;
    return kHeaderBytes + 3 * blocks + content;
  }
  StoredFrame(std::string& out, uint64_t content) : out_(out), left_(content) {
    out_.reserve(out_.size() + Size(content));
    PutU32(out_, 0xFD2FB528);                         // the frame magic
    out_.push_back(static_cast<char>(0xC0));          // 8-byte content size; not single-segment
    out_.push_back(static_cast<char>(17 - 10) << 3);  // window 2^17: one block
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(content >> (8 * i)));
    if (content == 0) PutBlockHeader(0, true);
  }
  // Appends n of the content's bytes (the caller gives exactly the content size in all).
  void Append(const char* p, size_t n) {
    while (n > 0 && left_ > 0) {
      if (room_ == 0) {
        room_ = static_cast<size_t>(std::min<uint64_t>(left_, kBlockBytes));
        PutBlockHeader(room_, room_ == left_);
      }
      const size_t c = std::min(n, room_);
      out_.append(p, c);
      p += c;
      n -= c;
      room_ -= c;
      left_ -= c;
    }
    overrun_ = overrun_ || n > 0;
  }
  // Every byte of the content given, and no more.
  bool Done() const { return left_ == 0 && !overrun_; }

 private:
  void PutBlockHeader(size_t size, bool last) {
    const uint32_t h = (static_cast<uint32_t>(size) << 3) | (last ? 1u : 0u);  // type 0: raw
    for (int i = 0; i < 3; ++i) out_.push_back(static_cast<char>(h >> (8 * i)));
  }
  std::string& out_;
  uint64_t left_;
  size_t room_ = 0;
  bool overrun_ = false;
};

// A dictionary column: distinct values in first-seen order, then one index per record (also
// returned in *ids_out when given). Returns the distinct values (views into records): the
// block's meta lists them as its sets.
// Appends a block's column values to out through a pointer (a std::string's push_back checks
// its capacity and rewrites its terminator per byte): out grows once, by the most the values
// can take (max_bytes), and is cut to what they took when the writer goes.
class ColumnWriter {
 public:
  ColumnWriter(std::string& out, size_t max_bytes) : out_(out) {
    const size_t at = out.size();
    out.resize(at + max_bytes);
    p_ = out.data() + at;
    end_ = out.data() + out.size();
  }
  ~ColumnWriter() { out_.resize(static_cast<size_t>(p_ - out_.data())); }
  ColumnWriter(const ColumnWriter&) = delete;
  ColumnWriter& operator=(const ColumnWriter&) = delete;
  // (The bounds are the callers' arithmetic: a varint takes at most 10 bytes.)
  void Varint(uint64_t v) {
    assert(end_ - p_ >= 10);
    p_ = PutVarintAt(p_, v);
  }
  void Zigzag(int64_t v) { Varint(ZigzagOf(v)); }
  void Byte(uint8_t b) {
    assert(p_ < end_);
    *p_++ = static_cast<char>(b);
  }

 private:
  std::string& out_;
  char* p_;
  char* end_;
};

constexpr size_t kDictScan = 8;
// (R: Record or SlimRecord; member: one of their strings.)
template <typename R, typename S>
std::vector<std::string_view> PutDictColumn(std::string& out, std::span<const R> records,
                                            const S R::*member,
                                            std::vector<uint64_t>* ids_out = nullptr) {
  std::unordered_map<std::string_view, uint64_t> index;
  std::vector<std::string_view> dict;
  std::vector<uint64_t> ids;
  ids.reserve(records.size());
  // The values seen before by where they are: an open block keeps each distinct value once
  // (OpenTexts), so its records' equal values are the same bytes, found here by their address
  // and length without hashing or comparing them. Only a hint: the same address and length
  // are the same value; another address is looked for by its bytes below (Records: always).
  struct Seen {
    const char* data = nullptr;
    size_t size = 0;
    uint64_t id = 0;
  };
  constexpr size_t kSeenSlots = 64;
  std::array<Seen, kSeenSlots> seen{};
  auto slot_of = [](const char* p) { return (reinterpret_cast<uintptr_t>(p) >> 3) % kSeenSlots; };
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string_view v = records[i].*member;
    // Most records repeat the value of the record before (one source, peer, tenant in a row):
    // a comparison instead of a hash and a table probe.
    if (i > 0 && v == std::string_view(records[i - 1].*member)) {
      ids.push_back(ids.back());
      continue;
    }
    Seen& s = seen[slot_of(v.data())];
    if (s.data == v.data() && s.size == v.size() && s.data != nullptr) {
      ids.push_back(s.id);
      continue;
    }
    s = {v.data(), v.size(), 0};  // its id below
    // A block's dictionaries are mostly a handful of values (its sources interleave): those are
    // looked for by comparison, the table is built only once there are more.
    if (dict.size() <= kDictScan) {
      const auto at = std::find(dict.begin(), dict.end(), v);
      if (at != dict.end()) {
        s.id = static_cast<uint64_t>(at - dict.begin());
        ids.push_back(s.id);
        continue;
      }
      s.id = dict.size();
      ids.push_back(s.id);
      dict.push_back(v);
      if (dict.size() > kDictScan) {
        for (size_t d = 0; d < dict.size(); ++d) index.emplace(dict[d], d);
      }
      continue;
    }
    auto [it, added] = index.emplace(v, dict.size());
    if (added) dict.push_back(v);
    s.id = it->second;
    ids.push_back(s.id);
  }
  PutVarint(out, dict.size());
  for (auto v : dict) PutString(out, v);
  ColumnWriter col(out, ids.size() * 10);
  for (uint64_t id : ids) col.Varint(id);
  if (ids_out != nullptr) *ids_out = std::move(ids);
  return dict;
}

// A meta set: the distinct values of a dictionary column, sorted.
std::vector<std::string> SortedSet(std::vector<std::string_view> dict) {
  std::sort(dict.begin(), dict.end());
  return std::vector<std::string>(dict.begin(), dict.end());
}

bool GetDictColumn(Reader& in, std::vector<Record>& records, size_t first,
                   std::string Record::*member, uint64_t* dict_size = nullptr,
                   std::vector<uint64_t>* ids_out = nullptr) {
  uint64_t n;
  if (!in.Varint(&n) || n > in.remaining()) return false;
  if (n > in.remaining()) return false;
  std::vector<std::string_view> dict(n);
  for (auto& v : dict) {
    if (!in.String(&v)) return false;
  }
  for (size_t i = first; i < records.size(); ++i) {
    uint64_t id;
    if (!in.Varint(&id) || id >= n) return false;
    records[i].*member = std::string(dict[id]);
    if (ids_out != nullptr) ids_out->push_back(id);
  }
  if (dict_size != nullptr) *dict_size = n;
  return true;
}

// Timestamps lifted out of raw texts (block version 4). A log line's own timestamp is the
// costliest part of it to compress (measured with zstd -19 on loggen's proxy and DNS events:
// 6.7 bytes per line, 12 % and 19 % of the compressed files), yet the record's time column
// already holds it. Each shape below renders a time_ms the way a log format writes it; when a
// record's raw text contains its rendering, the block stores the text without it, the shape and
// where it was. Reading renders it again from the record's time and puts it back: byte-exact by
// construction (the encoder only removes a substring equal to what the decoder will render).
enum TimeShape : uint8_t {
  kNoTime = 0,
  kIsoMs = 1,     // 2026-10-02T00:01:33.041 (seccloud, EVE's µs, Windows' 100 ns prefix)
  kIsoSec = 2,    // 2026-10-02T00:01:33
  kSyslog = 3,    // Oct  2 00:01:33 (RFC 3164, day space-padded)
  kSyslog0 = 4,   // Oct 02 00:01:33
  kClf = 5,       // 02/Oct/2026:00:01:33 (access logs)
  kCtime = 6,     // Fri Oct 02 00:01:33 2026 (Apache error log)
  kCommaMs = 7,   // 2026-10-02 00:01:33,041 (log4j: Hadoop)
  kSpaceMs = 8,   // 2026-10-02 00:01:33.041
  kSpaceSec = 9,  // 2026-10-02 00:01:33
  kCompact = 10,  // 261002 000133 (HDFS)
  kLastShape = 10,
};
constexpr int kShapeCount = kLastShape + 1;
constexpr size_t kTimeSearchBytes = 4096;  // only this prefix of a raw text is searched

constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
constexpr char kWeekdays[] = "ThuFriSatSunMonTueWed";  // 1970-01-01 was a Thursday

char* Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}
char* Put3(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 100);
  return Put2(p + 1, v % 100);
}
char* Put4(char* p, unsigned v) { return Put2(Put2(p, v / 100), v % 100); }
char* PutChars(char* p, const char* s, size_t n) {
  std::memcpy(p, s, n);
  return p + n;
}

// Renders ms in shape into out (at least 32 bytes); returns the length, 0 when the shape cannot
// render it (years outside 1..9999).
size_t RenderTime(int shape, int64_t ms, char* out) {
  // 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: nothing below can overflow.
  if (ms < -62'135'596'800'000 || ms > 253'402'300'799'999) return 0;
  const int64_t secs = FloorDiv1000(ms);
  const auto milli = static_cast<unsigned>(ms - secs * 1000);
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  const unsigned m = date.month, d = date.day;
  const auto year = static_cast<unsigned>(date.year);
  const auto hh = static_cast<unsigned>(sod / 3600), mi = static_cast<unsigned>(sod / 60 % 60),
             ss = static_cast<unsigned>(sod % 60);
  const char* month = kMonths + 3 * (m - 1);
  char* p = out;
  auto ymd = [&](char sep) {
    p = Put4(p, year);
    *p++ = sep;
    p = Put2(p, m);
    *p++ = sep;
    p = Put2(p, d);
  };
  auto hms = [&] {
    p = Put2(p, hh);
    *p++ = ':';
    p = Put2(p, mi);
    *p++ = ':';
    p = Put2(p, ss);
  };
  switch (shape) {
    case kIsoMs:
    case kIsoSec:
    case kCommaMs:
    case kSpaceMs:
    case kSpaceSec:
      ymd('-');
      *p++ = shape == kIsoMs || shape == kIsoSec ? 'T' : ' ';
      hms();
      if (shape == kIsoMs || shape == kCommaMs || shape == kSpaceMs) {
        *p++ = shape == kCommaMs ? ',' : '.';
        p = Put3(p, milli);
      }
      break;
    case kSyslog:
    case kSyslog0:
      p = PutChars(p, month, 3);
      *p++ = ' ';
      if (shape == kSyslog && d < 10) {
        *p++ = ' ';
        *p++ = static_cast<char>('0' + d);
      } else {
        p = Put2(p, d);
      }
      *p++ = ' ';
      hms();
      break;
    case kClf:
      p = Put2(p, d);
      *p++ = '/';
      p = PutChars(p, month, 3);
      *p++ = '/';
      p = Put4(p, year);
      *p++ = ':';
      hms();
      break;
    case kCtime: {
      const int64_t wd = ((days % 7) + 7) % 7;
      p = PutChars(p, kWeekdays + 3 * wd, 3);
      *p++ = ' ';
      p = PutChars(p, month, 3);
      *p++ = ' ';
      p = Put2(p, d);
      *p++ = ' ';
      hms();
      *p++ = ' ';
      p = Put4(p, year);
      break;
    }
    case kCompact:
      p = Put2(p, year % 100);
      p = Put2(p, m);
      p = Put2(p, d);
      *p++ = ' ';
      p = Put2(p, hh);
      p = Put2(p, mi);
      p = Put2(p, ss);
      break;
    default:
      return 0;
  }
  return static_cast<size_t>(p - out);
}

struct TimeCut {
  uint8_t shape = kNoTime;
  uint32_t pos = 0;  // where the rendering began in the raw text
  uint32_t len = 0;  // its length
};

// Finds the record's time in its raw text, trying `hint` (the shape that matched the record
// before in the same source) first.
TimeCut FindTime(std::string_view record_raw, int64_t time_ms, uint8_t hint) {
  const std::string_view raw = record_raw.substr(0, kTimeSearchBytes);
  char buf[32];
  auto attempt = [&](int shape, TimeCut* cut) {
    const size_t n = RenderTime(shape, time_ms, buf);
    if (n == 0) return false;
    const size_t at = raw.find(std::string_view(buf, n));
    if (at == std::string_view::npos) return false;
    *cut =
        TimeCut{static_cast<uint8_t>(shape), static_cast<uint32_t>(at), static_cast<uint32_t>(n)};
    return true;
  };
  TimeCut cut;
  if (hint != kNoTime && attempt(hint, &cut)) return cut;
  for (int shape = 1; shape <= kLastShape; ++shape) {
    if (shape != hint && attempt(shape, &cut)) return cut;
  }
  return cut;
}

// Counters (block version 4): a number that is the number before it in the same context plus
// one — a sender's sequence number ("seq":1234), an event record id — costs zstd ~3 bytes a line
// (measured on loggen's proxy events with zstd -19: 6 % of the file), because zstd cannot add.
// The texts of a source group are coded in order; each decimal run (1 to 18 digits, no leading
// zero) is keyed by the up to 8 non-digit bytes before it, and a run equal to the last value under
// its key plus one is stored as kEscape kEscNext. A literal kEscape byte is stored as kEscape
// kEscLiteral. Encoder and decoder update a direct-mapped table of the same size in the same order
// (group by group, records in seq order), so collisions cost compression, never correctness.
constexpr char kEscape = '\xff';
constexpr char kEscLiteral = 0, kEscNext = 1;
constexpr size_t kMaxCounterDigits = 18;

constexpr bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

class CounterTable {
 public:
  CounterTable() : slots_(kSlots) {}
  void Reset() { std::fill(slots_.begin(), slots_.end(), Slot{}); }
  // The key of a run: its group and the up to 8 non-digit bytes right before it (stopping at a
  // digit, so that the field name is the context and not the value before it).
  static uint64_t Key(uint64_t group, std::string_view before) {
    size_t n = 0;
    while (n < 8 && n < before.size() && !IsAsciiDigit(before[before.size() - 1 - n])) ++n;
    const uint64_t w = LoadLe64(before.data() + before.size() - n, n);
    return Fmix(w ^ Fmix((group << 4) | n)) | 1;  // 0 marks an empty slot
  }
  bool Get(uint64_t key, uint64_t* v) const {
    const Slot& s = slots_[key & (kSlots - 1)];
    if (s.key != key) return false;
    *v = s.value;
    return true;
  }
  void Set(uint64_t key, uint64_t v) { slots_[key & (kSlots - 1)] = Slot{key, v}; }

 private:
  static constexpr size_t kSlots = 4096;
  struct Slot {
    uint64_t key = 0, value = 0;
  };
  std::vector<Slot> slots_;
};

// The value of a digit run, when it is one a counter can stand for.
bool CounterValue(std::string_view run, uint64_t* v) {
  if (run.empty() || run.size() > kMaxCounterDigits || (run.size() > 1 && run[0] == '0')) {
    return false;
  }
  uint64_t x = 0;
  for (char c : run) x = x * 10 + static_cast<uint64_t>(c - '0');
  *v = x;
  return true;
}

void PutCountedText(std::string_view text, uint64_t group, CounterTable& table, std::string& out) {
  size_t i = 0;
  while (i < text.size()) {
    // Copy the stretch up to the next digit or escape byte at once.
    size_t j = i;
    while (j < text.size() && !IsAsciiDigit(text[j]) && text[j] != kEscape) ++j;
    out.append(text.data() + i, j - i);
    i = j;
    if (i == text.size()) break;
    if (text[i] == kEscape) {
      out.push_back(kEscape);
      out.push_back(kEscLiteral);
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < text.size() && IsAsciiDigit(text[end])) ++end;
    const std::string_view run = text.substr(i, end - i);
    uint64_t v, last;
    if (CounterValue(run, &v)) {
      const uint64_t key = CounterTable::Key(group, text.substr(0, i));
      if (table.Get(key, &last) && last + 1 == v) {
        out.push_back(kEscape);
        out.push_back(kEscNext);
      } else {
        out.append(run);
      }
      table.Set(key, v);
    } else {
      out.append(run);
    }
    i = end;
  }
}

// The inverse of PutCountedText: appends the text to *out (empty on entry).
bool GetCountedText(std::string_view stored, uint64_t group, CounterTable& table,
                    std::string* out) {
  size_t run_start = std::string::npos;  // in *out, of the digit run being copied
  auto end_run = [&] {
    if (run_start == std::string::npos) return;
    uint64_t v;
    const std::string_view run = std::string_view(*out).substr(run_start);
    if (CounterValue(run, &v)) {
      table.Set(CounterTable::Key(group, std::string_view(*out).substr(0, run_start)), v);
    }
    run_start = std::string::npos;
  };
  out->reserve(stored.size() + 32);
  for (size_t i = 0; i < stored.size(); ++i) {
    const char c = stored[i];
    if (IsAsciiDigit(c)) {
      if (run_start == std::string::npos) run_start = out->size();
      size_t j = i + 1;
      while (j < stored.size() && IsAsciiDigit(stored[j])) ++j;
      out->append(stored.data() + i, j - i);
      i = j - 1;
      continue;
    }
    end_run();
    if (c != kEscape) {
      size_t j = i + 1;
      while (j < stored.size() && !IsAsciiDigit(stored[j]) && stored[j] != kEscape) ++j;
      out->append(stored.data() + i, j - i);
      i = j - 1;
      continue;
    }
    if (++i == stored.size()) return false;
    if (stored[i] == kEscLiteral) {
      out->push_back(kEscape);
    } else if (stored[i] == kEscNext) {
      // The encoder only wrote this for a whole run: the byte before is not a digit.
      if (!out->empty() && IsAsciiDigit(out->back())) return false;
      const uint64_t key = CounterTable::Key(group, *out);
      uint64_t last;
      if (!table.Get(key, &last) || last + 1 >= uint64_t{1'000'000'000'000'000'000}) return false;
      const std::string digits = std::to_string(last + 1);
      out->append(digits);
      table.Set(key, last + 1);
      // The run ends here: the encoder's runs are maximal, so a digit next is an error.
      if (i + 1 < stored.size() && IsAsciiDigit(stored[i + 1])) return false;
    } else {
      return false;
    }
    if (out->size() > kMaxRawBytes) return false;
  }
  end_run();
  return out->size() <= kMaxRawBytes;
}

// A buffer a thread keeps between blocks, grown to the largest asked for (not zero-filled).
struct Scratch {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;
  char* Get(size_t n) {
    if (n > capacity) {
      data = std::make_unique_for_overwrite<char[]>(n);
      capacity = n;
    }
    return data.get();
  }
};
// An ingest block's texts gathered in group order, and their compressed frame: the frame stays
// here until Seal has written it (EncodedBlock::texts views it).
thread_local Scratch gathered, compressed_texts;
// A block's body before compression (an ingest block's columns; a compacted block's columns and
// texts), kept between blocks like them: a fresh one per block was a malloc searching a heap
// that sealed blocks had just fragmented (Flush seals every open block at once).
thread_local std::string body_scratch;

// EncodeBlock over input's records (R = Record) or its slim records (R = SlimRecord): the same
// bytes for the same records.
template <typename R>
Status EncodeBlockOf(const BlockInput& input, std::span<const R> records, BlockMeta* meta,
                     EncodedBlock* parts) {
  if (records.empty()) return MakeError(Errc::kInternal, "an empty block");
  std::string& body = body_scratch;
  body.clear();
  size_t raw_total = 0;
  for (const R& r : records) raw_total += r.raw.size();
  // Ingest blocks (version 3) keep the texts as they are: the compressor reads them from the
  // records in group order (compress_texts_into below), copied once, not twice.
  const bool stream_texts = input.version == kIngestBlockVersion;
  // The fixed columns' bound (ColumnWriter below) and ~4 bytes a record for the rest.
  body.reserve((stream_texts ? 0 : raw_total) + records.size() * 48 + 64);
  // Older versions are written only by tests of reading them.
  if (input.version < 1 || input.version > kBlockVersion) {
    return MakeError(Errc::kInternal, "an unknown block version to write");
  }
  if (input.level < kMinFastLevel || input.level > kMaxLevel) {
    return MakeError(Errc::kInternal, "a zstd level outside -8 to 22 to write");
  }
  const bool v1 = input.version == 1;
  const bool split_time = input.version >= 3, two_frames = input.version >= 3;
  {
    // The count, the seqs, the times (one or two varints a record), the received times (one),
    // the formats and the flags (a byte each).
    ColumnWriter col(body, 10 + records.size() * (10 + 20 + 10 + 2));
    col.Varint(records.size());
    col.Varint(records[0].seq);
    for (size_t i = 1; i < records.size(); ++i) col.Varint(records[i].seq - records[i - 1].seq);
    if (!split_time) {
      col.Zigzag(records[0].time_ms);
      for (size_t i = 1; i < records.size(); ++i) {
        col.Zigzag(static_cast<int64_t>(static_cast<uint64_t>(records[i].time_ms) -
                                        static_cast<uint64_t>(records[i - 1].time_ms)));
      }
    } else {
      // Seconds (delta-coded) and milliseconds apart: many formats have whole seconds only, and
      // their millisecond column is all zeros.
      int64_t prev = 0;
      for (size_t i = 0; i < records.size(); ++i) {
        const int64_t sec = FloorDiv1000(records[i].time_ms);
        col.Zigzag(static_cast<int64_t>(static_cast<uint64_t>(sec) - static_cast<uint64_t>(prev)));
        prev = sec;
      }
      for (const R& r : records) {
        // Unsigned: exact (mod 2^64) even where seconds × 1000 leaves the int64 range.
        col.Varint(static_cast<uint64_t>(r.time_ms) -
                   static_cast<uint64_t>(FloorDiv1000(r.time_ms)) * 1000);
      }
    }
    // Received times: the first relative to its record's time, then each relative to the one
    // before (records arrive in batches that share a receive time, and in seq order).
    for (size_t i = 0; i < records.size(); ++i) {
      const int64_t base = v1 || i == 0 ? records[i].time_ms : records[i - 1].received_ms;
      col.Zigzag(static_cast<int64_t>(static_cast<uint64_t>(records[i].received_ms) -
                                      static_cast<uint64_t>(base)));
    }
    for (const R& r : records) col.Byte(static_cast<uint8_t>(r.format));
    for (size_t i = 0; i < records.size(); ++i) {
      uint8_t f = records[i].truncated ? kFlagTruncated : 0;
      if (!input.extra_flags.empty()) f |= input.extra_flags[i] & kFlagFieldsInRaw;
      col.Byte(f);
    }
  }
  std::vector<uint64_t> source_ids;
  std::vector<std::string> source_set =
      SortedSet(PutDictColumn(body, records, &R::source, &source_ids));
  PutDictColumn(body, records, &R::peer);
  std::vector<std::string> tenant_set = SortedSet(PutDictColumn(body, records, &R::tenant));
  // The raw texts grouped by source (each group in seq order): lines of one shape side by side
  // compress better than the interleaved stream of several sources.
  std::vector<std::vector<uint32_t>> groups;
  for (size_t i = 0; i < records.size(); ++i) {
    const uint64_t g = v1 ? 0 : source_ids[i];
    if (g >= groups.size()) groups.resize(g + 1);
    groups[g].push_back(static_cast<uint32_t>(i));
  }
  // Version 4: each record's timestamp is cut out of its raw text where found (TimeCut), then
  // counters are coded (PutCountedText); the lengths column holds the lengths as stored.
  const bool cut_texts = input.version >= 4;
  std::vector<TimeCut> cuts(cut_texts ? records.size() : 0);
  std::vector<size_t> stored_sizes(records.size());
  std::string texts;
  if (!stream_texts) texts.reserve(raw_total);
  std::unique_ptr<CounterTable> counters;
  if (cut_texts) counters = std::make_unique<CounterTable>();
  std::string cut;
  // Version 6: the counted texts split into skeletons (here) and value columns (after them).
  const bool split_values = input.version >= 6;
  ValueSplitter splitter;
  std::string counted;
  for (size_t g = 0; g < groups.size() && !stream_texts; ++g) {
    uint8_t last_shape = kNoTime;
    for (uint32_t i : groups[g]) {
      const std::string_view raw = records[i].raw;
      const size_t at = texts.size();
      if (!cut_texts) {
        texts.append(raw);
      } else {
        cuts[i] = FindTime(raw, records[i].time_ms, last_shape);
        std::string_view text = raw;
        if (cuts[i].shape != kNoTime) {
          last_shape = cuts[i].shape;
          cut.assign(raw, 0, cuts[i].pos);
          cut.append(raw, cuts[i].pos + cuts[i].len);
          text = cut;
        }
        if (!split_values) {
          PutCountedText(text, g, *counters, texts);
        } else {
          counted.clear();
          PutCountedText(text, g, *counters, counted);
          splitter.Split(counted, g, &texts);
        }
      }
      stored_sizes[i] = texts.size() - at;
    }
  }
  if (stream_texts) {
    for (size_t i = 0; i < records.size(); ++i) stored_sizes[i] = records[i].raw.size();
  }
  {
    ColumnWriter col(body, records.size() * 10);
    for (size_t n : stored_sizes) col.Varint(n);
  }
  if (cut_texts) {
    for (const TimeCut& c : cuts) body.push_back(static_cast<char>(c.shape));
    for (const TimeCut& c : cuts) {
      if (c.shape != kNoTime) PutVarint(body, c.pos);
    }
  }
  if (split_values) splitter.Finish(&texts);
  const size_t columns_len = body.size();
  const uint64_t body_raw_len = columns_len + (stream_texts ? raw_total : texts.size());
  if (!stream_texts) body += texts;
  texts = std::string();

  // One compression context per thread, reused: creating one per block costs more than
  // compressing a small block.
  struct CctxFree {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_CCtx, CctxFree> cctx(ZSTD_createCCtx());
  if (!cctx) return MakeError(Errc::kResourceExhausted, "zstd: no compression context");
  auto compress = [&](std::string_view part, std::string& out) -> Status {
    if (input.level == kStoredLevel) {
      StoredFrame frame(out, part.size());
      frame.Append(part.data(), part.size());
      if (!frame.Done()) return MakeError(Errc::kInternal, "a stored frame of the wrong size");
      return {};
    }
    const size_t at = out.size();
    out.resize(at + ZSTD_compressBound(part.size()));
    ZSTD_CCtx_reset(cctx.get(), ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, input.level);
    if (input.level >= 19) {
      // Archive blocks are large: let matches reach across the whole block (decoders accept
      // windows up to 2^27 by default).
      ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, 25);
      ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_enableLongDistanceMatching, 1);
    }
    const size_t n =
        ZSTD_compress2(cctx.get(), out.data() + at, out.size() - at, part.data(), part.size());
    if (ZSTD_isError(n)) {
      return MakeError(Errc::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
    }
    out.resize(at + n);
    return {};
  };
  // The texts frame of an ingest block: the texts are gathered in group order into a buffer
  // this thread keeps, and compressed one-shot into another (a std::string would zero-fill
  // ZSTD_compressBound bytes per block). Feeding zstd's streaming API record by record instead
  // measured slower: a call per record (~430 bytes) costs more than the copy it saves.
  // texts_out: the frame, or (zstd) null, and *in_scratch views it in this thread's buffer
  // (Seal writes it from there: no copy into the body).
  auto compress_texts_into = [&](std::string* texts_out, std::string_view* in_scratch) -> Status {
    if (texts_out != nullptr) {  // stored frames: each text copied once, into the frame
      std::string& out = *texts_out;
      StoredFrame frame(out, raw_total);
      for (const auto& group : groups) {
        for (uint32_t i : group) frame.Append(records[i].raw.data(), records[i].raw.size());
      }
      if (!frame.Done()) return MakeError(Errc::kInternal, "a stored frame of the wrong size");
      return {};
    }
    char* in = gathered.Get(std::max<size_t>(raw_total, 1));
    size_t at = 0;
    for (const auto& group : groups) {
      for (uint32_t i : group) {
        if (!records[i].raw.empty()) {
          std::memcpy(in + at, records[i].raw.data(), records[i].raw.size());
        }
        at += records[i].raw.size();
      }
    }
    const size_t bound = ZSTD_compressBound(raw_total);
    char* dst = compressed_texts.Get(bound);
    ZSTD_CCtx_reset(cctx.get(), ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, input.level);
    const size_t n = ZSTD_compress2(cctx.get(), dst, bound, in, raw_total);
    if (ZSTD_isError(n)) {
      return MakeError(Errc::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
    }
    *in_scratch = std::string_view(dst, n);
    return {};
  };
  std::string compressed;
  std::string_view texts_frame;  // in compressed_texts (zstd texts of an ingest block)
  if (!two_frames) {
    RETURN_IF_ERROR(compress(body, compressed));
  } else {
    // Two frames: the columns, then the raw texts. Compressed together, the column bytes
    // disturb the texts' statistics (measured: 2 % more than apart).
    compressed.assign(4, '\0');
    RETURN_IF_ERROR(compress(std::string_view(body).substr(0, columns_len), compressed));
    const uint32_t first =
        static_cast<uint32_t>(std::min<size_t>(compressed.size() - 4, UINT32_MAX));
    for (int i = 0; i < 4; ++i) compressed[i] = static_cast<char>(first >> (8 * i));
    if (stream_texts) {
      RETURN_IF_ERROR(
          compress_texts_into(input.level == kStoredLevel ? &compressed : nullptr, &texts_frame));
    } else {
      RETURN_IF_ERROR(compress(std::string_view(body).substr(columns_len), compressed));
    }
  }
  const size_t body_len = compressed.size() + texts_frame.size();
  if (body_len > kMaxBodyBytes) {
    return MakeError(Errc::kResourceExhausted, "a block over 1 GiB");
  }

  const Bloom& bloom = input.bloom;
  const size_t lines = bloom.bits.size() / kBloomLineBytes;
  if (bloom.k == 0) {
    if (input.version < 5 || bloom.gcs_rice < 1 || bloom.gcs_rice > kGcsMaxRice ||
        bloom.gcs_buckets < 1 || bloom.gcs_tokens > kGcsMaxTokens ||
        bloom.bits.size() < 4 * (bloom.gcs_buckets + 1) || bloom.bits.size() > kMaxBloomBytes) {
      return MakeError(Errc::kInternal, "a malformed token set");
    }
  } else if (bloom.bits.empty() || bloom.bits.size() % kBloomLineBytes != 0 ||
             !std::has_single_bit(lines) || bloom.bits.size() > kMaxBloomBytes ||
             bloom.k > kBloomMaxK) {
    return MakeError(Errc::kInternal, "a malformed Bloom filter");
  }

  BlockMeta m;
  m.level = MetaLevelOf(input.level);
  m.records = records.size();
  m.min_time = INT64_MAX;
  m.max_time = INT64_MIN;
  for (const R& r : records) {
    m.min_time = std::min(m.min_time, r.time_ms);
    m.max_time = std::max(m.max_time, r.time_ms);
  }
  // The dictionaries' values: each distinct value once (gathering every change of value and
  // sorting them all cost ~500 instructions a record when sources interleave).
  m.tenants = std::move(tenant_set);
  m.sources = std::move(source_set);
  m.datasets = input.datasets;
  std::sort(m.datasets.begin(), m.datasets.end());
  m.datasets.erase(std::unique(m.datasets.begin(), m.datasets.end()), m.datasets.end());
  m.min_seq = records.front().seq;
  m.max_seq = records.back().seq;
  m.raw_bytes = raw_total;
  m.body_raw_len = body_raw_len;
  m.bloom_k = bloom.k;
  if (bloom.k == 0) {
    m.gcs_tokens = bloom.gcs_tokens;
    m.gcs_rice = bloom.gcs_rice;
    m.gcs_buckets = bloom.gcs_buckets;
  }

  m.version = input.version;
  std::string meta_bytes;
  PutVarint(meta_bytes, input.version);
  PutVarint(meta_bytes, m.level);
  PutVarint(meta_bytes, m.records);
  PutZigzag(meta_bytes, m.min_time);
  PutZigzag(meta_bytes, m.max_time);
  PutVarint(meta_bytes, m.min_seq);
  PutVarint(meta_bytes, m.max_seq);
  PutVarint(meta_bytes, m.raw_bytes);
  PutVarint(meta_bytes, m.body_raw_len);
  PutVarint(meta_bytes, m.bloom_k);
  if (m.bloom_k == 0) {
    PutVarint(meta_bytes, m.gcs_tokens);
    PutVarint(meta_bytes, m.gcs_rice);
    PutVarint(meta_bytes, m.gcs_buckets);
  }
  PutVarint(meta_bytes, m.tenants.size());
  for (const auto& t : m.tenants) PutString(meta_bytes, t);
  PutVarint(meta_bytes, m.datasets.size());
  for (const auto& d : m.datasets) PutString(meta_bytes, d);
  PutVarint(meta_bytes, m.sources.size());
  for (const auto& d : m.sources) PutString(meta_bytes, d);
  if (meta_bytes.size() > kMaxMetaBytes) {
    return MakeError(Errc::kResourceExhausted, "a block's tenant and dataset sets exceed 1 MiB");
  }

  m.meta_len = static_cast<uint32_t>(meta_bytes.size());
  m.bloom_len = static_cast<uint32_t>(bloom.bits.size());
  m.body_len = static_cast<uint32_t>(body_len);
  m.meta_crc = Crc32c(meta_bytes);
  m.bloom_crc = Crc32c(bloom.bits);
  m.body_crc = Crc32c(texts_frame, Crc32c(compressed));

  std::string& out = parts->head;
  out.clear();
  out.reserve(kBlockHeaderBytes + meta_bytes.size());
  PutU32(out, kBlockMagic);
  PutU32(out, m.meta_len);
  PutU32(out, m.bloom_len);
  PutU32(out, m.body_len);
  PutU32(out, m.meta_crc);
  PutU32(out, m.bloom_crc);
  PutU32(out, m.body_crc);
  PutU32(out, Crc32c(out));
  out += meta_bytes;
  parts->bloom = bloom.bits;
  parts->body = std::move(compressed);
  parts->texts = texts_frame;
  *meta = std::move(m);
  return {};
}

}  // namespace

Status EncodeBlockParts(const BlockInput& input, BlockMeta* meta, EncodedBlock* out) {
  if (!input.records.empty() && !input.slim.empty()) {
    return MakeError(Errc::kInternal, "a block of both records and slim records");
  }
  if (!input.slim.empty()) return EncodeBlockOf(input, input.slim, meta, out);
  return EncodeBlockOf(input, input.records, meta, out);
}

void ReleaseLargeBlockScratch() {
  constexpr size_t kLarge = size_t{16} << 20;
  if (gathered.capacity > kLarge || compressed_texts.capacity > kLarge) {
    gathered = {};
    compressed_texts = {};
  }
  if (body_scratch.capacity() > kLarge) std::string().swap(body_scratch);
}

Result<std::string> EncodeBlock(const BlockInput& input, BlockMeta* meta) {
  // A compacted block's body holds its texts (up to 16 MiB): not kept on a thread that compacts,
  // whether the block was made or failed (seal21's review: an archive block's 8 MiB body stayed
  // there until the thread ended).
  auto release = [&input] {
    if (input.version != kIngestBlockVersion) std::string().swap(body_scratch);
    ReleaseLargeBlockScratch();
  };
  EncodedBlock parts;
  if (Status st = EncodeBlockParts(input, meta, &parts); !st) {
    release();
    return st.error();
  }
  std::string out;
  out.reserve(parts.size());
  out += parts.head;
  out += parts.bloom;
  out += parts.body;
  out += parts.texts;
  release();
  return out;
}

bool ParseBlockHeader(std::string_view h, BlockMeta* meta, std::string* why) {
  if (h.size() < kBlockHeaderBytes) {
    *why = "a block header cut short";
    return false;
  }
  if (GetU32(h.data()) != kBlockMagic) {
    *why = "no block magic";
    return false;
  }
  if (Crc32c(h.substr(0, 28)) != GetU32(h.data() + 28)) {
    *why = "block header checksum mismatch";
    return false;
  }
  meta->meta_len = GetU32(h.data() + 4);
  meta->bloom_len = GetU32(h.data() + 8);
  meta->body_len = GetU32(h.data() + 12);
  meta->meta_crc = GetU32(h.data() + 16);
  meta->bloom_crc = GetU32(h.data() + 20);
  meta->body_crc = GetU32(h.data() + 24);
  // A Bloom filter's length (a power of two of lines) is checked with the meta, which says
  // whether the section is one (a version 5 token set has any length).
  if (meta->meta_len > kMaxMetaBytes || meta->bloom_len > kMaxBloomBytes ||
      meta->body_len > kMaxBodyBytes) {
    *why = "block header lengths out of range";
    return false;
  }
  return true;
}

bool ParseBlockMeta(std::string_view bytes, BlockMeta* meta, std::string* why) {
  if (Crc32c(bytes) != meta->meta_crc) {
    *why = "block meta checksum mismatch";
    return false;
  }
  Reader in(bytes);
  uint64_t version, level, records, min_seq, max_seq, raw_bytes, body_raw_len, k, n;
  int64_t min_time, max_time;
  if (!in.Varint(&version) || version == 0) {
    *why = "block meta version missing";
    return false;
  }
  meta->version = static_cast<uint32_t>(std::min<uint64_t>(version, UINT32_MAX));
  if (version > kBlockVersion) {
    *why = "block format version " + std::to_string(version) + " is newer than this build reads (" +
           std::to_string(kBlockVersion) + ")";
    return false;
  }
  if (!in.Varint(&level) || !in.Varint(&records) || !in.Zigzag(&min_time) ||
      !in.Zigzag(&max_time) || !in.Varint(&min_seq) || !in.Varint(&max_seq) ||
      !in.Varint(&raw_bytes) || !in.Varint(&body_raw_len) || !in.Varint(&k)) {
    *why = "block meta cut short";
    return false;
  }
  if (records == 0 || min_time > max_time || min_seq > max_seq || max_seq - min_seq + 1 < records ||
      body_raw_len > kMaxBodyRawBytes || (k == 0 && version < 5) || k > kBloomMaxK || level > 30) {
    *why = "block meta values inconsistent";
    return false;
  }
  meta->gcs_tokens = meta->gcs_buckets = meta->gcs_rice = 0;
  if (k == 0) {
    uint64_t tokens, rice, buckets;
    if (!in.Varint(&tokens) || !in.Varint(&rice) || !in.Varint(&buckets)) {
      *why = "block meta cut short";
      return false;
    }
    if (tokens > kGcsMaxTokens || rice < 1 || rice > kGcsMaxRice || buckets < 1 ||
        buckets > meta->bloom_len / 4 || 4 * (buckets + 1) > meta->bloom_len) {
      *why = "block token index parameters inconsistent";
      return false;
    }
    meta->gcs_tokens = tokens;
    meta->gcs_rice = static_cast<uint32_t>(rice);
    meta->gcs_buckets = buckets;
  } else if (meta->bloom_len % kBloomLineBytes != 0 ||
             !std::has_single_bit(meta->bloom_len / kBloomLineBytes)) {
    *why = "block Bloom filter length not a power of two of lines";
    return false;
  }
  meta->level = static_cast<uint32_t>(level);
  meta->records = records;
  meta->min_time = min_time;
  meta->max_time = max_time;
  meta->min_seq = min_seq;
  meta->max_seq = max_seq;
  meta->raw_bytes = raw_bytes;
  meta->body_raw_len = body_raw_len;
  meta->bloom_k = static_cast<uint32_t>(k);
  for (auto* set : {&meta->tenants, &meta->datasets, &meta->sources}) {
    set->clear();
    if (!in.Varint(&n) || n > in.remaining()) {
      *why = "block meta sets cut short";
      return false;
    }
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view s;
      if (!in.String(&s)) {
        *why = "block meta sets cut short";
        return false;
      }
      set->emplace_back(s);
    }
  }
  if (in.remaining() != 0) {
    *why = "trailing bytes in block meta";
    return false;
  }
  return true;
}

namespace {

// The zstd frames of a body: one (versions 1, 2), or the columns' and the raw texts' (version 3:
// u32 length of the first, then both).
bool BodyFrames(std::string_view body, const BlockMeta& meta, std::string_view* columns,
                std::string_view* texts, std::string* why) {
  if (meta.version < 3) {
    *columns = body;
    *texts = {};
    return true;
  }
  if (body.size() < 4 || GetU32(body.data()) > body.size() - 4) {
    *why = "block body frames malformed";
    return false;
  }
  *columns = body.substr(4, GetU32(body.data()));
  *texts = body.substr(4 + columns->size());
  return true;
}

// Decompresses a whole body (checksum checked first) into *plain.
bool DecompressBody(std::string_view body, const BlockMeta& meta, std::string* plain,
                    std::string* why) {
  if (Crc32c(body) != meta.body_crc) {
    *why = "block body checksum mismatch";
    return false;
  }
  std::string_view frames[2];
  if (!BodyFrames(body, meta, &frames[0], &frames[1], why)) return false;
  unsigned long long sizes[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    if (i == 1 && meta.version < 3) break;
    sizes[i] = ZSTD_getFrameContentSize(frames[i].data(), frames[i].size());
    if (sizes[i] == ZSTD_CONTENTSIZE_ERROR || sizes[i] == ZSTD_CONTENTSIZE_UNKNOWN ||
        sizes[i] > meta.body_raw_len) {
      *why = "block body size differs from its meta";
      return false;
    }
  }
  if (sizes[0] + sizes[1] != meta.body_raw_len) {
    *why = "block body size differs from its meta";
    return false;
  }
  plain->assign(meta.body_raw_len, '\0');
  size_t at = 0;
  for (int i = 0; i < 2; ++i) {
    if (i == 1 && meta.version < 3) break;
    const size_t got =
        ZSTD_decompress(plain->data() + at, sizes[i], frames[i].data(), frames[i].size());
    if (ZSTD_isError(got) || got != sizes[i]) {
      *why = "block body does not decompress";
      return false;
    }
    at += got;
  }
  return true;
}

}  // namespace

bool DecodeBlockBody(std::string_view body, const BlockMeta& meta, std::vector<Record>* out,
                     std::string* why, std::vector<uint8_t>* flags) {
  std::string raw;
  if (!DecompressBody(body, meta, &raw, why)) return false;
  Reader in(raw);
  uint64_t n;
  // Every record takes at least 9 bytes of columns: a bound before allocating.
  if (!in.Varint(&n) || n != meta.records || n > in.remaining() / 9) {
    *why = "block record count differs from its meta";
    return false;
  }
  const size_t first = out->size();
  out->resize(first + n);
  const size_t flags_first = flags != nullptr ? flags->size() : 0;
  auto fail = [&](const char* what) {
    out->resize(first);
    if (flags != nullptr) flags->resize(flags_first);
    *why = what;
    return false;
  };
  uint64_t seq = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t d;
    if (!in.Varint(&d)) return fail("block seq column cut short");
    seq = i == 0 ? d : seq + d;
    (*out)[first + i].seq = seq;
  }
  int64_t t = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t d;
    if (!in.Zigzag(&d)) return fail("block time column cut short");
    t = i == 0 && meta.version < 3
            ? d
            : static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(d));
    (*out)[first + i].time_ms = t;  // version 3: seconds, until the milliseconds are added
  }
  if (meta.version >= 3) {
    for (size_t i = 0; i < n; ++i) {
      uint64_t ms;
      if (!in.Varint(&ms) || ms > 999) return fail("block millisecond column invalid");
      int64_t& tm = (*out)[first + i].time_ms;
      tm = static_cast<int64_t>(static_cast<uint64_t>(tm) * 1000 + ms);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    int64_t d;
    if (!in.Zigzag(&d)) return fail("block received column cut short");
    Record& r = (*out)[first + i];
    // Version 1: every received time relative to its record's time; version 2: the first so,
    // the others relative to the record before.
    const int64_t base =
        meta.version == 1 || i == 0 ? r.time_ms : (*out)[first + i - 1].received_ms;
    r.received_ms = static_cast<int64_t>(static_cast<uint64_t>(base) + static_cast<uint64_t>(d));
  }
  for (size_t i = 0; i < n; ++i) {
    uint8_t b;
    if (!in.Byte(&b) || b < 1 || b > 7) return fail("block format column invalid");
    (*out)[first + i].format = static_cast<Format>(b);
  }
  for (size_t i = 0; i < n; ++i) {
    uint8_t b;
    if (!in.Byte(&b) || b > (kFlagTruncated | kFlagFieldsInRaw)) {
      return fail("block flags column invalid");
    }
    (*out)[first + i].truncated = (b & kFlagTruncated) != 0;
    if (flags != nullptr) flags->push_back(b);
  }
  uint64_t source_count = 0;
  std::vector<uint64_t> source_ids;
  source_ids.reserve(n);
  if (!GetDictColumn(in, *out, first, &Record::source, &source_count, &source_ids) ||
      !GetDictColumn(in, *out, first, &Record::peer) ||
      !GetDictColumn(in, *out, first, &Record::tenant)) {
    return fail("block dictionary column invalid");
  }
  std::vector<uint64_t> sizes(n);
  uint64_t total = 0;
  for (auto& s : sizes) {
    if (!in.Varint(&s) || s > kMaxRawBytes) return fail("block raw length column invalid");
    total += s;
  }
  // Version 4: the time shapes, then the positions of the cut timestamps.
  std::vector<uint8_t> shapes;
  std::vector<uint32_t> cut_at;
  if (meta.version >= 4) {
    shapes.resize(n);
    cut_at.resize(n, 0);
    for (size_t i = 0; i < n; ++i) {
      if (!in.Byte(&shapes[i]) || shapes[i] > kLastShape) {
        return fail("block time shape column invalid");
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (shapes[i] == kNoTime) continue;
      uint64_t pos;
      if (!in.Varint(&pos) || pos > kMaxRawBytes) {
        return fail("block time position column invalid");
      }
      cut_at[i] = static_cast<uint32_t>(pos);
    }
  }
  // Version 6: the value columns follow the skeletons.
  if (meta.version >= 6 ? total > in.remaining() : total != in.remaining()) {
    return fail("block raw bytes differ from their lengths");
  }
  // Record i's text as stored, with its timestamp put back (version 4).
  auto set_raw = [&](size_t i, std::string_view stored) {
    std::string& dst = (*out)[first + i].raw;
    if (shapes.empty() || shapes[i] == kNoTime) {
      dst.assign(stored);
      return true;
    }
    if (cut_at[i] > stored.size()) return false;
    char buf[32];
    const size_t len = RenderTime(shapes[i], (*out)[first + i].time_ms, buf);
    if (len == 0 || stored.size() + len > kMaxRawBytes) return false;
    dst.reserve(stored.size() + len);
    dst.assign(stored.substr(0, cut_at[i]));
    dst.append(buf, len);
    dst.append(stored.substr(cut_at[i]));
    return true;
  };
  if (meta.version == 1) {  // raw texts in seq order
    for (size_t i = 0; i < n; ++i) {
      std::string_view s;
      in.Bytes(static_cast<size_t>(sizes[i]), &s);
      (*out)[first + i].raw.assign(s);
    }
  } else {  // grouped by source: each group starts after the groups of the sources before it
    std::vector<uint64_t> group_at(source_count + 1, 0);
    for (size_t i = 0; i < n; ++i) group_at[source_ids[i] + 1] += sizes[i];
    for (size_t g = 1; g < group_at.size(); ++g) group_at[g] += group_at[g - 1];
    const std::string_view rest = std::string_view(raw).substr(in.pos());
    if (meta.version < 4) {
      for (size_t i = 0; i < n; ++i) {
        uint64_t& at = group_at[source_ids[i]];
        (*out)[first + i].raw.assign(
            rest.substr(static_cast<size_t>(at), static_cast<size_t>(sizes[i])));
        at += sizes[i];
      }
    } else {
      // Group by group, each in seq order: the counters' table evolves as when it was encoded.
      std::vector<std::vector<uint32_t>> members(source_count);
      for (size_t i = 0; i < n; ++i) members[source_ids[i]].push_back(static_cast<uint32_t>(i));
      CounterTable counters;
      std::string text, joined;
      // Version 6: every skeleton scanned for its values' columns first, then joined.
      ValueJoiner joiner;
      if (meta.version >= 6) {
        uint64_t at = 0;
        for (size_t g = 0; g < members.size(); ++g) {
          for (uint32_t i : members[g]) {
            if (!joiner.Scan(rest.substr(static_cast<size_t>(at), static_cast<size_t>(sizes[i])),
                             g)) {
              return fail("block value columns invalid");
            }
            at += sizes[i];
          }
        }
        if (!joiner.Prepare(rest.substr(static_cast<size_t>(total)))) {
          return fail("block value columns invalid");
        }
      }
      for (size_t g = 0; g < members.size(); ++g) {
        for (uint32_t i : members[g]) {
          uint64_t& at = group_at[g];
          text.clear();
          std::string_view stored =
              rest.substr(static_cast<size_t>(at), static_cast<size_t>(sizes[i]));
          if (meta.version >= 6) {
            joined.clear();
            if (!joiner.Join(stored, &joined)) return fail("block value columns invalid");
            stored = joined;
          }
          if (!GetCountedText(stored, g, counters, &text)) {
            return fail("block raw text coding invalid");
          }
          if (!set_raw(i, text)) return fail("block time cut invalid");
          at += sizes[i];
        }
      }
      if (meta.version >= 6 && !joiner.Done()) return fail("block value columns invalid");
    }
  }
  const Record& lo = (*out)[first];
  const Record& hi = (*out)[first + n - 1];
  if (lo.seq != meta.min_seq || hi.seq != meta.max_seq) return fail("block seqs differ from meta");
  for (size_t i = first; i < out->size(); ++i) {
    if ((*out)[i].time_ms < meta.min_time || (*out)[i].time_ms > meta.max_time) {
      return fail("block record time outside its meta range");
    }
  }
  return true;
}

int RawTimeShape(const Record& record) {
  return FindTime(record.raw, record.time_ms, kNoTime).shape;
}

bool DecodeBlockSeqs(std::string_view body, const BlockMeta& meta, std::vector<uint64_t>* seqs,
                     std::string* why) {
  if (Crc32c(body) != meta.body_crc) {
    *why = "block body checksum mismatch";
    return false;
  }
  // The count and the seq column take at most 10 bytes per varint.
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(meta.body_raw_len, 10 * (meta.records + 1)));
  std::string prefix(want, '\0');
  struct DctxFree {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  std::unique_ptr<ZSTD_DCtx, DctxFree> dctx(ZSTD_createDCtx());
  if (!dctx) {
    *why = "zstd: no decompression context";
    return false;
  }
  std::string_view columns, texts;
  if (!BodyFrames(body, meta, &columns, &texts, why)) return false;
  ZSTD_inBuffer in{columns.data(), columns.size(), 0};
  ZSTD_outBuffer out{prefix.data(), prefix.size(), 0};
  while (out.pos < out.size) {
    const size_t rc = ZSTD_decompressStream(dctx.get(), &out, &in);
    if (ZSTD_isError(rc)) {
      *why = "block body does not decompress";
      return false;
    }
    if (rc == 0 || (in.pos == in.size && out.pos < out.size)) break;
  }
  prefix.resize(out.pos);
  Reader r(prefix);
  uint64_t n;
  if (!r.Varint(&n) || n != meta.records) {
    *why = "block record count differs from its meta";
    return false;
  }
  uint64_t seq = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t d;
    if (!r.Varint(&d)) {
      *why = "block seq column cut short";
      return false;
    }
    seq = i == 0 ? d : seq + d;
    seqs->push_back(seq);
  }
  return true;
}

bool MeasureBlock(std::string_view block, BlockBytes* out, std::string* why) {
  BlockMeta m;
  if (!ParseBlockHeader(block, &m, why)) return false;
  if (m.end() > block.size()) {
    *why = "a block cut short";
    return false;
  }
  if (!ParseBlockMeta(block.substr(kBlockHeaderBytes, m.meta_len), &m, why)) return false;
  const std::string_view body = block.substr(m.body_offset(), m.body_len);
  std::vector<Record> records;
  if (!DecodeBlockBody(body, m, &records, why)) return false;
  std::string plain;
  if (!DecompressBody(body, m, &plain, why)) return false;
  uint64_t raw = 0;
  for (const Record& r : records) raw += r.raw.size();
  auto compressed_size = [&](std::string_view part) -> uint64_t {
    if (part.empty()) return 0;
    if (m.level == kStoredLevel) return StoredFrame::Size(part.size());
    std::string dst(ZSTD_compressBound(part.size()), '\0');
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, LevelOfMeta(m.level));
    if (LevelOfMeta(m.level) >= 19) {
      ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 25);
      ZSTD_CCtx_setParameter(c, ZSTD_c_enableLongDistanceMatching, 1);
    }
    const size_t n = ZSTD_compress2(c, dst.data(), dst.size(), part.data(), part.size());
    ZSTD_freeCCtx(c);
    return ZSTD_isError(n) ? 0 : n;
  };
  out->records += m.records;
  out->header_and_meta += kBlockHeaderBytes + m.meta_len;
  out->bloom += m.bloom_len;
  if (m.bloom_k == 0) {
    out->token_sets += m.bloom_len;
    out->token_set_tokens += m.gcs_tokens;
  }
  out->body += m.body_len;
  if (m.version >= 3) {  // the two frames are the parts compressed apart
    std::string_view columns, texts;
    if (!BodyFrames(body, m, &columns, &texts, why)) return false;
    // Version 4 texts are stored shorter than the records' raw texts (times cut, counters).
    const unsigned long long texts_plain = ZSTD_getFrameContentSize(texts.data(), texts.size());
    if (texts_plain > plain.size()) {
      *why = "block body size differs from its meta";
      return false;
    }
    out->columns_plain += plain.size() - texts_plain;
    out->raw_plain += texts_plain;
    out->columns_alone += columns.size();
    out->raw_alone += texts.size();
  } else {
    out->columns_plain += plain.size() - raw;
    out->raw_plain += raw;
    out->columns_alone += compressed_size(std::string_view(plain).substr(0, plain.size() - raw));
    out->raw_alone += compressed_size(std::string_view(plain).substr(plain.size() - raw));
  }
  return true;
}

std::string EncodeJournalSnapshot(const JournalSnapshot& snapshot) {
  std::string out;
  out.push_back(2);
  PutVarint(out, snapshot.next_seq);
  PutVarint(out, snapshot.checkpoints.size());
  for (const auto& [k, v] : snapshot.checkpoints) {
    PutString(out, k);
    PutString(out, v);
  }
  return out;
}

// PutZigzag, PutZigzag, two bytes, five PutStrings: the same bytes, sized first and written in
// place (Prepare puts one per record, where it made nine appends, each a capacity check).
void PutJournalRecord(std::string& out, const Record& r, std::string_view cls) {
  const uint64_t time = ZigzagOf(r.time_ms), received = ZigzagOf(r.received_ms);
  const std::string_view strings[5] = {cls, r.source, r.peer, r.tenant, r.raw};
  size_t size = VarintBytes(time) + VarintBytes(received) + 2;
  for (const std::string_view s : strings) size += VarintBytes(s.size()) + s.size();
  const size_t at = out.size();
  out.resize(at + size);
  char* p = out.data() + at;
  p = PutVarintAt(p, time);
  p = PutVarintAt(p, received);
  *p++ = static_cast<char>(r.format);
  *p++ = r.truncated ? 1 : 0;
  for (const std::string_view s : strings) {
    p = PutVarintAt(p, s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
}

namespace {
// The varint at p, as Reader::Varint reads it (at most 10 bytes, bits past 64 dropped); the byte
// after it, or null when it runs past end or over 10 bytes. With 10 bytes left, no bound is
// checked per byte.
inline const unsigned char* GetVarintAt(const unsigned char* p, const unsigned char* end,
                                        uint64_t* v) {
  uint64_t r = 0;
  const bool room = end - p >= 10;
  for (int shift = 0; shift < 64; shift += 7) {
    if (!room && p == end) return nullptr;
    const uint64_t b = *p++;
    r |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = r;
      return p;
    }
  }
  return nullptr;
}
int64_t Unzigzag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }
}  // namespace

// Read through a pointer (AppendBatch reads every prepared record with it: the Reader's calls
// and per-byte bounds were ~525 instructions a record); accepts and refuses what the Reader's
// getters did, and advances in only on success (every caller gives up on a failure).
bool ReadJournalRecord(Reader& in, JournalRecordView* out) {
  const std::string_view rest = in.rest();
  const auto* const begin = reinterpret_cast<const unsigned char*>(rest.data());
  const auto* const end = begin + rest.size();
  const unsigned char* p = begin;
  uint64_t time, received;
  if ((p = GetVarintAt(p, end, &time)) == nullptr ||
      (p = GetVarintAt(p, end, &received)) == nullptr || end - p < 2) {
    return false;
  }
  const uint8_t format = p[0], flags = p[1];
  p += 2;
  std::string_view* const strings[5] = {&out->cls, &out->source, &out->peer, &out->tenant,
                                        &out->raw};
  for (std::string_view* str : strings) {
    uint64_t n;
    if ((p = GetVarintAt(p, end, &n)) == nullptr || n > static_cast<uint64_t>(end - p)) {
      return false;
    }
    *str = std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    p += n;
  }
  if (format < 1 || format > 7 || flags > 1 || out->raw.size() > kMaxRawBytes) return false;
  out->time_ms = Unzigzag(time);
  out->received_ms = Unzigzag(received);
  out->format = static_cast<Format>(format);
  out->truncated = flags == 1;
  in.Skip(static_cast<size_t>(p - begin));
  return true;
}

void PutJournalBatchHead(std::string& out, uint64_t first_seq, size_t records) {
  out.append(kJournalHeaderBytes, '\0');
  out.push_back(1);
  PutVarint(out, first_seq);
  PutVarint(out, records);
}

void PutJournalBatchTail(std::string& out,
                         std::span<const std::pair<std::string, std::string>> checkpoints) {
  PutVarint(out, checkpoints.size());
  for (const auto& [k, v] : checkpoints) {
    PutString(out, k);
    PutString(out, v);
  }
}

void FinishJournalEntryHeader(char* header16, uint32_t payload_len, uint32_t payload_crc) {
  std::string header;
  PutU32(header, kJournalMagic);
  PutU32(header, payload_len);
  PutU32(header, payload_crc);
  PutU32(header, Crc32c(header));
  std::memcpy(header16, header.data(), kJournalHeaderBytes);
}

void EncodeJournalBatchEntry(std::string& out, std::span<const Record> records,
                             std::span<const std::string> classes,
                             std::span<const std::pair<std::string, std::string>> checkpoints,
                             uint64_t first_seq) {
  out.clear();
  PutJournalBatchHead(out, first_seq, records.size());
  for (size_t i = 0; i < records.size(); ++i) PutJournalRecord(out, records[i], classes[i]);
  PutJournalBatchTail(out, checkpoints);
  const std::string_view payload = std::string_view(out).substr(kJournalHeaderBytes);
  FinishJournalEntryHeader(out.data(), static_cast<uint32_t>(payload.size()), Crc32c(payload));
}

std::string FrameJournalEntry(std::string_view payload) {
  std::string out;
  out.reserve(kJournalHeaderBytes + payload.size());
  PutU32(out, kJournalMagic);
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, Crc32c(payload));
  PutU32(out, Crc32c(out));
  out.append(payload);
  return out;
}

namespace {
bool GetCheckpoints(Reader& in, std::vector<std::pair<std::string, std::string>>* out) {
  uint64_t n;
  if (!in.Varint(&n) || n > in.remaining()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view k, v;
    if (!in.String(&k) || !in.String(&v)) return false;
    out->emplace_back(k, v);
  }
  return true;
}
}  // namespace

bool DecodeJournalPayload(std::string_view payload, std::optional<JournalBatch>* batch,
                          std::optional<JournalSnapshot>* snapshot, std::string* why) {
  Reader in(payload);
  uint8_t type;
  if (!in.Byte(&type)) {
    *why = "empty journal entry";
    return false;
  }
  if (type == 2) {
    JournalSnapshot s;
    if (!in.Varint(&s.next_seq) || !GetCheckpoints(in, &s.checkpoints) || in.remaining() != 0) {
      *why = "journal snapshot malformed";
      return false;
    }
    *snapshot = std::move(s);
    return true;
  }
  if (type != 1) {
    *why = "unknown journal entry type";
    return false;
  }
  JournalBatch b;
  uint64_t n;
  // Every record takes at least 9 bytes: a bound before allocating.
  if (!in.Varint(&b.first_seq) || !in.Varint(&n) || n > in.remaining() / 9 ||
      b.first_seq + n < b.first_seq) {
    *why = "journal batch header malformed";
    return false;
  }
  b.records.resize(n);
  b.classes.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    Record& r = b.records[i];
    JournalRecordView v;
    if (!ReadJournalRecord(in, &v)) {
      *why = "journal record malformed";
      return false;
    }
    r.seq = b.first_seq + i;
    r.time_ms = v.time_ms;
    r.received_ms = v.received_ms;
    r.format = v.format;
    r.truncated = v.truncated;
    b.classes[i].assign(v.cls);
    r.source.assign(v.source);
    r.peer.assign(v.peer);
    r.tenant.assign(v.tenant);
    r.raw.assign(v.raw);
  }
  if (!GetCheckpoints(in, &b.checkpoints) || in.remaining() != 0) {
    *why = "journal checkpoints malformed";
    return false;
  }
  *batch = std::move(b);
  return true;
}

}  // namespace seccloud::soc::store_internal
