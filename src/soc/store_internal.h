#pragma once
// Private to the embedded store: its on-disk format and the codecs for it.
//
// ON-DISK FORMAT (version 2). All integers little-endian; "varint" is LEB128, "zz" a zigzag
// varint; "str" is a varint length and the bytes. Checksums are CRC32C (Castagnoli), computed by
// Crc32c() below (SSE4.2 instruction when present, else a table).
//
// <directory>/
//   LOCK                         flock()ed by the open store; empty
//   data/<class>/<YYYY-MM-DD>.blk one partition: the records of one data class (first dot-component
//                                of event.dataset) whose time_ms falls on that UTC day; nothing
//                                but whole blocks, appended and fdatasync'd one at a time
//   data/<class>/<day>.idx       the partition index: the heads (fixed header + meta) of a durable
//                                prefix of <day>.blk's blocks, so open reads them in one piece
//                                (store_partition_index.h); optional, rebuilt when missing
//   data/<class>/<day>.blk.tmp   a Compact() rewrite in progress; removed on open
//   data/<class>/<day>.idx.tmp   a partition index being written; removed on open
//   data/<class>/<day>.blk.torn-<offset>  bytes cut from a torn tail on open, kept for inspection
//   journal/<16 hex digits>.wal  the write-ahead journal segments, in order; each begins with a
//                                snapshot entry; every Append is one batch entry, fdatasync'd
//
// File header (16 bytes), at offset 0 of every .blk and .wal file since format version 2:
//   u32 magic "SCSF" | u32 format version | u32 kind (1 partition, 2 journal segment) |
//   u32 crc(the 12 bytes before)
//   A file written by a newer format version than this build reads (kFormatVersion) makes
//   OpenEmbeddedStore refuse the whole store, naming the file and its version, before anything is
//   changed on disk. Version 1 files had no header: a file that begins with a block magic (.blk) or
//   a journal entry magic (.wal) is read as version 1, its data starting at offset 0. A header
//   whose checksum fails is reported (Verify) and the file read as the current version.
//
// Block (in a .blk file):
//   fixed header, 32 bytes:
//     u32 magic "SCB1" | u32 meta_len | u32 bloom_len | u32 body_len |
//     u32 crc(meta) | u32 crc(bloom) | u32 crc(body) | u32 crc(the 28 bytes before)
//   meta (meta_len bytes): varint version (kBlockVersion: 7; 1 to 6 are read too) | varint zstd
//   level (0: the frames are stored, kStoredLevel; 23 to 30: the fast levels -1 to -8,
//   MetaLevelOf) | varint records |
//     zz min_time | zz max_time | varint min_seq | varint max_seq | varint raw_bytes |
//     varint body_raw_len | varint bloom_k | versions 5-7 with bloom_k 0 only: varint gcs_tokens |
//     varint gcs_rice | varint gcs_buckets | varint n, n × str tenant | varint n, n × str dataset |
//     varint n, n × str source (the exact sets of the block's tenants, event.datasets and sources)
//   bloom (bloom_len bytes, a power of two of 64-byte lines): a blocked Bloom filter over the
//     block's tokens (IndexRecordTokens, query_internal.h); token hash h = TokenHash(token) sets
//     bloom_k bits in line h & (lines - 1) (BloomLineHas), so a lookup reads 64 bytes; version 5
//     with bloom_k 0 (what Compact() writes): a Golomb-coded set of the same token hashes
//     (kGcsBucketTokens below), any length
//     Version 7 (laid out as versions 5 and 6): a Compact()ed block's set also holds
//     FieldOnlyTokenHash(t) for each token t a record's fields yield outside its raw text.
//   body (body_len bytes): version 5 as version 4, version 7 as version 6; version 3: u32 c | c
//   bytes: a zstd frame of the columns | a zstd frame
//     of the raw texts (versions 1, 2: one zstd frame of both); decompressed and concatenated
//     (body_raw_len bytes), column by column:
//     varint n | seq: varint first, n-1 × varint delta | time: version 3: n × zz delta of
//     floor(time_ms / 1000) from the record before (the first from 0), then n × varint
//     (time_ms mod 1000); versions 1, 2: zz first time_ms, n-1 × zz delta |
//     received: zz (received_ms - time_ms) of the first, n-1 × zz delta from the record before
//     (version 1: n × zz (received_ms - time_ms)) | n × u8 format | n × u8 flags (bit 0:
//     truncated; bit 1: the field tokens occur in raw, kFlagFieldsInRaw) |
//     source, peer, tenant: each varint dict size, dict × str, n × varint index |
//     n × varint raw length (version 4: of the text as stored) | version 4 only: n × u8 time
//     shape (0 none, 1..10 the shapes of RawTimeShape), then for each record with a shape a
//     varint position | the raw bytes: grouped by source index (all of source 0's records in seq
//     order, then source 1's, …; version 1: in seq order), concatenated.
//     Version 4 texts as stored: the raw text with its timestamp (time_ms rendered in the
//     record's shape) removed at the position, then counter-coded: byte 0xff is written 0xff 0x00;
//     a decimal run (1-18 digits, no leading zero) equal to 1 + the last run of its group under
//     the same key (the up to 8 non-digit bytes before it; a 4096-slot direct-mapped table,
//     updated by every such run in group order) is written 0xff 0x01. Reading reverses both.
//     Versions 6 and 7 (7 is what Compact() writes): each counter-coded text is split
//     further into a skeleton, whose length the lengths column holds, and values (ValueSplitter
//     below); the raw bytes are every skeleton (grouped as above), then the value columns.
//   Records in a block are in seq order; min/max_time bound their times (late records make
//   blocks' time ranges overlap; Search merges).
//
// Journal entry (in a .wal file):
//   u32 magic "SCJ1" | u32 payload_len | u32 crc(payload) | u32 crc(the 12 bytes before) | payload
//   payload: u8 type, then
//     type 1, batch:    varint first_seq | varint n | n × record | varint c | c × (str key, str
//     value)
//       record:         zz time_ms | zz received_ms | u8 format | u8 flags | str class |
//                       str source | str peer | str tenant | str raw
//     type 2, snapshot: varint next_seq | varint c | c × (str key, str value)   (all checkpoints)
//   A batch's records get seqs first_seq … first_seq+n-1. An entry is committed once it is whole
//   and its checksums hold; a torn last entry is cut on open.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "soc/record.h"
#include "soc/token_hash.h"

namespace seccloud::soc::store_internal {

// The format version this build writes, and the newest it reads.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kFileMagic = 0x46534353;  // "SCSF"
inline constexpr size_t kFileHeaderBytes = 16;
// kPartitionIndex: data/<class>/<day>.idx, store_partition_index.h.
enum class FileKind : uint32_t { kPartition = 1, kJournal = 2, kPartitionIndex = 3 };
inline constexpr uint32_t kBlockMagic = 0x31424353;    // "SCB1"
inline constexpr uint32_t kJournalMagic = 0x314a4353;  // "SCJ1"
inline constexpr size_t kBlockHeaderBytes = 32;
inline constexpr size_t kJournalHeaderBytes = 16;
inline constexpr uint32_t kMaxMetaBytes = 1 << 20;
inline constexpr uint32_t kMaxBloomBytes = 64 << 20;
inline constexpr uint32_t kMaxBodyBytes = 1u << 30;
inline constexpr uint64_t kMaxBodyRawBytes = uint64_t{256} << 20;  // > any block written
inline constexpr uint32_t kMaxJournalPayload = 1u << 30;
inline constexpr size_t kBloomLineBytes = 64;

uint32_t Crc32c(std::string_view data, uint32_t crc = 0);
// TokenHash(token): token_hash.h (inline; persisted in Bloom filters: never change it).
// Block version 7: a Compact()ed block's token set also holds, for every token some record's
// fields yield that occurs neither in that record's raw text (lower-cased) nor among its
// metadata values (ForEachFieldTokenNotIn, query_internal.h), this second hash of it. When a
// required token's second hash is absent, a record of the block holds the token only in its raw
// text or its metadata, so Search rejects records on the raw text without normalising them,
// whether or not they carry kFlagFieldsInRaw. A false positive only costs normalising. Persisted:
// never change it.
inline uint64_t FieldOnlyTokenHash(std::string_view token) {
  uint64_t h = TokenHash(token) + 0x6a09e667f3bcc909ULL;  // splitmix64's finaliser
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

void PutVarint(std::string& out, uint64_t v);
void PutZigzag(std::string& out, int64_t v);
void PutString(std::string& out, std::string_view s);
void PutU32(std::string& out, uint32_t v);
uint32_t GetU32(const char* p);

// Reads from a bounded buffer; every getter fails (returns false) rather than read past the end.
// Inline: AppendPrepared reads every prepared record's bytes with it (nine reads a record).
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool Varint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      r |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool Zigzag(int64_t* v) {
    uint64_t u;
    if (!Varint(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool String(std::string_view* s) {
    uint64_t n;
    return Varint(&n) && n <= remaining() && Bytes(static_cast<size_t>(n), s);
  }
  bool Byte(uint8_t* b) {
    if (pos_ >= data_.size()) return false;
    *b = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Bytes(size_t n, std::string_view* s) {
    if (n > remaining()) return false;
    *s = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }
  size_t pos() const { return pos_; }
  // What is left, and (n <= remaining()) past n bytes of it: for a reader that parses through a
  // pointer (ReadJournalRecord).
  std::string_view rest() const { return data_.substr(pos_); }
  void Skip(size_t n) { pos_ += std::min(n, remaining()); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// The header every new file begins with.
std::string EncodeFileHeader(FileKind kind, uint32_t version = kFormatVersion);

// What the first bytes of a file say about its format.
struct FileHeaderInfo {
  uint32_t version = kFormatVersion;
  uint64_t data_start = 0;  // where the first block or journal entry is
  bool newer = false;       // written by a format version this build does not read
  std::string problem;      // non-empty: a damaged header (the file is read as kFormatVersion)
};
// head: the file's first min(size, kFileHeaderBytes) bytes. A file shorter than a header whose
// bytes are a prefix of a valid one (an interrupted creation) has data_start = its size.
FileHeaderInfo ReadFileHeader(std::string_view head, FileKind kind);

// A block's token index section: a blocked Bloom filter (k >= 1), or (k == 0, block version 5,
// Compact()ed blocks) a Golomb-coded set built by EncodeTokenSet.
struct Bloom {
  std::string bits;  // Bloom: a power-of-two number of kBloomLineBytes lines
  uint32_t k = 0;
  uint64_t gcs_tokens = 0, gcs_buckets = 0;  // k == 0 only
  uint32_t gcs_rice = 0;
};

// Builds a block's Bloom filter while its records arrive: the filter starts at its largest size
// (fast inserts, no token set to keep) and is folded in half (line i OR line i + n/2, which is
// the filter the smaller size would have built, since a token's line is hash & (lines - 1))
// until it holds about bits_per_token bits per distinct token, estimated from its fill.
class BloomBuilder {
 public:
  BloomBuilder(size_t max_lines, double bits_per_token);
  void Insert(uint64_t hash);
  // Insert for each, with the filter lines fetched ahead (the same filter as one Insert each).
  void InsertAll(std::span<const uint64_t> hashes);
  // Distinct tokens inserted, estimated from the fraction of bits set.
  double EstimateDistinct() const;
  // True when the filter has no room left for more tokens at bits_per_token.
  bool Full() const;
  // The folded filter; the builder is empty afterwards (keep_memory: for the next block).
  Bloom Finish(bool keep_memory);
  static uint32_t KFor(double bits_per_token);

 private:
  size_t max_lines_;
  double bits_per_token_;
  uint32_t k_;
  std::string bits_;
  uint64_t set_bits_ = 0;  // bits of bits_ that are 1
  // The hashes inserted last, direct-mapped: most tokens of a record (JSON keys, host names)
  // repeat those of the records before it, and a hit here costs no cache miss in bits_.
  std::vector<uint64_t> recent_;
  static constexpr size_t kRecentSlots = 4096;
  // Sets the bits of hashes[0, n) in their lines (recent_ not consulted); returns how many of
  // them were 0.
  uint64_t SetBitsOf(const uint64_t* hashes, size_t n);
};

// The byte offset of the 64-byte line a token's bits are in.
size_t BloomLineOffset(uint64_t hash, size_t bloom_bytes);
bool BloomLineHas(std::string_view line, uint64_t hash, uint32_t k);

// The block meta version this build writes, and the newest it reads.
inline constexpr uint32_t kBlockVersion = 7;
// What ingest seals write: block version 3 — byte-exact raw texts, without version 4's timestamp
// cutting and counter coding or version 6's value columns, which cost a good part of
// EncodeBlock's time and are worth their bytes only at the archive level. Compact() rewrites
// these blocks at kBlockVersion; until then they are transient (and decode faster for searches
// of recent data).
inline constexpr uint32_t kIngestBlockVersion = 3;
// The block meta's zstd level 0: the body's frames are stored, not compressed — zstd frames of
// raw blocks, which every zstd decoder (and every reader of blocks) reads like any other frame.
// EmbeddedStoreOptions::ingest_level 0 writes them: the compressor's work per ingested byte
// traded for transient disk bytes until Compact() (which recompresses every block whose level
// is not the archive level).
inline constexpr int kStoredLevel = 0;
// zstd's fast levels (negative, `zstd --fast=N`: less matching for less work per byte) for
// ingest blocks, down to kMinFastLevel. The meta's level is a varint that every reader since
// format version 2 bounds to 30, and no zstd level exceeds 22, so a fast level -N is recorded
// as 22 + N (23 to 30): blocks written at a fast level read (decode, Verify, Compact) with
// readers that predate fast levels, which only look at the level to tell archive blocks from
// ingest ones.
inline constexpr int kMinFastLevel = -8;
inline constexpr int kMaxLevel = 22;
inline constexpr uint32_t MetaLevelOf(int level) {
  return static_cast<uint32_t>(level >= 0 ? level : kMaxLevel - level);
}
inline constexpr int LevelOfMeta(uint32_t meta_level) {
  return meta_level > static_cast<uint32_t>(kMaxLevel) ? kMaxLevel - static_cast<int>(meta_level)
                                                       : static_cast<int>(meta_level);
}
struct BlockMeta;

// The token index of Compact()ed blocks (version 5, meta bloom_k 0): a Golomb-coded set. Each
// distinct token hash maps to v = (hash × n·2^rice) >> 64 in [0, n·2^rice) (n distinct tokens);
// a lookup of a token that is not in the set finds its v with probability about 2^-rice. The
// range is cut into `buckets` equal parts of width W = ceil(n·2^rice / buckets) (about
// kGcsBucketTokens tokens each); a bucket holds its values minus bucket·W, sorted, as
// Golomb–Rice codes of the gaps (the first from 0): q = gap >> rice as q zero bits and a one
// bit, then the low rice bits, least significant bit first, bits filled from each byte's bit 0.
// Buckets start on a byte; the padding after the last code is zero bits (an unterminated
// quotient ends the bucket). Section: (buckets + 1) × u32 byte offsets of the buckets in the data
// that follows (the first 0, non-decreasing, the last the data's length), then the data. A
// lookup reads 8 directory bytes and one bucket (~160 bytes), where a Bloom line is 64; the set
// takes about rice + 1.9 bits per token, where the Bloom filter it replaces took 8-16.
inline constexpr uint64_t kGcsBucketTokens = 128;
inline constexpr uint32_t kGcsMaxRice = 32;
inline constexpr uint64_t kGcsMaxTokens = uint64_t{1} << 28;
// The Rice parameter for the archive's bits per token: ceil(bits × ln 2) + 1, one more than an
// optimal plain Bloom filter at bits_per_token would need (0.6185^bits), because the blocked
// filters Compact() wrote before held more than that (folding stops at a power of two: 1-2×
// bits per token) and measured 0.95 % false positives at 8 bits on loggen's set; 7 (8 bits per
// token) gives 2^-7 = 0.78 %.
uint32_t GcsRiceFor(double bits_per_token);
// Builds the index over hashes (sorted and deduplicated here). An empty set gets one bucket.
Bloom EncodeTokenSet(std::vector<uint64_t> hashes, uint32_t rice);
// Where a lookup of hash goes: its bucket, and its value inside the bucket.
struct GcsProbe {
  uint64_t bucket = 0;
  uint64_t value = 0;
};
GcsProbe GcsLocate(uint64_t hash, const BlockMeta& meta);
// The byte range [*from, *to) of a bucket in the section, from the 8 directory bytes at
// 4 × bucket; false when they are inconsistent with the section's length (bloom_len).
bool GcsBucketRange(std::string_view directory8, const BlockMeta& meta, uint64_t* from,
                    uint64_t* to);
// Whether a bucket's codes hold value. Bounded by the bucket's length, whatever its bytes.
bool GcsBucketHas(std::string_view bucket, uint32_t rice, uint64_t value);
// Decodes the whole section and checks it (directory order, codes within their buckets, every
// value inside its bucket's range, the token count): for Verify. False with *why.
bool CheckTokenSet(std::string_view section, const BlockMeta& meta, std::string* why);
// Collects a Compact()ed block's token hashes while its records arrive. Not thread-safe.
class TokenSetBuilder {
 public:
  void Insert(uint64_t hash);
  // Distinct hashes so far (sorts and deduplicates what arrived since the last call).
  size_t Distinct();
  // The index; the builder is empty afterwards and keeps its memory.
  Bloom Finish(uint32_t rice);

 private:
  std::vector<uint64_t> hashes_;
  size_t sorted_ = 0;  // hashes_[0, sorted_) are sorted and distinct
  std::vector<uint64_t> recent_ = std::vector<uint64_t>(4096, 0);
};

struct BlockMeta {
  uint64_t offset = 0;   // of the block in its file
  uint32_t version = 0;  // set by ParseBlockMeta even when it fails for a newer version
  uint32_t meta_len = 0, bloom_len = 0, body_len = 0;
  uint32_t meta_crc = 0, bloom_crc = 0, body_crc = 0;
  uint32_t level = 0;  // as in the meta: LevelOfMeta gives the zstd level
  uint64_t records = 0;
  int64_t min_time = 0, max_time = 0;
  uint64_t min_seq = 0, max_seq = 0;
  uint64_t raw_bytes = 0, body_raw_len = 0;
  uint32_t bloom_k = 0;  // 0 (version 5): the section is a Golomb-coded set (gcs_*)
  uint64_t gcs_tokens = 0, gcs_buckets = 0;
  uint32_t gcs_rice = 0;
  std::vector<std::string> tenants, datasets, sources;  // exact sets, sorted

  uint64_t bloom_offset() const { return offset + kBlockHeaderBytes + meta_len; }
  uint64_t body_offset() const { return bloom_offset() + bloom_len; }
  uint64_t end() const { return body_offset() + body_len; }
};

// A record of an open (ingest) block as Seal encodes it: a Record without fields, whose strings
// are views into storage its open block owns (an allocation per up to 64 KiB of raw text, not
// one per record, and no Record to build, move and destroy per record). EncodeBlock writes the
// same bytes from these as from the Records they were made of.
struct SlimRecord {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  int64_t received_ms = 0;
  std::string_view source, peer, tenant, raw;
  Format format = Format::kText;
  bool truncated = false;
};

// A block's records, without fields (rebuilt by the Normalizer).
struct BlockInput {
  std::span<const Record> records;       // in seq order
  std::span<const SlimRecord> slim;      // or these instead (records empty), in seq order
  std::span<const uint8_t> extra_flags;  // empty, or one per record, ORed into its flags
  Bloom bloom;
  std::vector<std::string> datasets;
  int level = 3;  // kMinFastLevel to kMaxLevel; kStoredLevel: stored frames
  uint32_t version = kIngestBlockVersion;  // kBlockVersion: Compact(); others only in tests
};
// Encodes a whole block (header, meta, bloom, body); meta gets its fields (offset left 0).
Result<std::string> EncodeBlock(const BlockInput& input, BlockMeta* meta);
// The same block as the pieces it is written from, in order: head (the fixed header and the
// meta), bloom (input.bloom's bits), body (its first frame, or all of it) and texts (an ingest
// block's raw-text frame: a view of a buffer this thread keeps, valid until this thread encodes
// the next block; empty otherwise). Seal writes them with one pwritev instead of copying them
// into one string (EncodeBlock's bytes are their concatenation).
struct EncodedBlock {
  std::string head;
  std::string_view bloom;  // input.bloom.bits: the input must outlive the pieces
  std::string body;
  std::string_view texts;
  size_t size() const { return head.size() + bloom.size() + body.size() + texts.size(); }
};
Status EncodeBlockParts(const BlockInput& input, BlockMeta* meta, EncodedBlock* out);
// Gives back this thread's texts buffers when a block far larger than usual (over 16 MiB: a
// Compact()-sized one in a test) grew them; call once the pieces are written (EncodeBlock does).
void ReleaseLargeBlockScratch();

// Parses and checks a fixed header; false with *why on failure.
bool ParseBlockHeader(std::string_view header32, BlockMeta* meta, std::string* why);
// Parses meta (already length-checked) into *meta; checks its CRC.
bool ParseBlockMeta(std::string_view meta_bytes, BlockMeta* meta, std::string* why);
// Checks the body CRC, decompresses and decodes; appends to *out (and each record's flags byte
// to *flags when given).
bool DecodeBlockBody(std::string_view body, const BlockMeta& meta, std::vector<Record>* out,
                     std::string* why, std::vector<uint8_t>* flags = nullptr);
// Record flags (the body's flags column).
inline constexpr uint8_t kFlagTruncated = 1;
// Every token the record's fields yield for the index, other than the values of
// event.dataset, tenant.id, seccloud.soc.source and seccloud.soc.format, occurs in its raw text
// (compared lower-cased): a search may then reject the record on its raw text, unnormalised.
inline constexpr uint8_t kFlagFieldsInRaw = 2;

// Block version 4 cuts each record's own timestamp out of its raw text when the text holds it,
// rendered from time_ms, in one of the shapes the store knows (ISO 8601 with milliseconds or
// seconds, RFC 3164, access-log, ctime, log4j, HDFS); reading renders it again. The shape a
// record's text holds (0: none found), for tests and measurements.
int RawTimeShape(const Record& record);

// Block versions 6 and 7 (Compact()ed blocks): after time cutting and counter coding, each stored
// text is split into a skeleton and values. A value is what follows `"KEY":` (KEY 1 to 64 bytes
// without `"` or 0xff, found in the skeleton written so far, so the decoder finds the same key):
// a string literal with its quotes (backslash escapes skipped) or a run of [0-9A-Za-z.+-], never
// holding a newline. The skeleton has 0xff 0x02 in its place; the value goes to the column of
// (source group, KEY). Columns are numbered in first-use order (groups in order, each group's
// records in seq order) and stored after all skeletons, column by column, each value followed
// by '\n'. JSON records (proxy, DNS, EVE, Windows) thus store their keys and structure once per
// shape and their values side by side with the same key's values (measured with the zstd CLI on
// loggen's one-day pieces: 9-20 % smaller than the texts whole).
inline constexpr size_t kMaxValueColumns = 1 << 16;
class ValueSplitter {
 public:
  // Appends the skeleton of text (a counter-coded text: every 0xff starts a pair) to *skeleton.
  void Split(std::string_view text, uint64_t group, std::string* skeleton);
  // Appends the columns to *out; the splitter is empty afterwards.
  void Finish(std::string* out);

 private:
  std::unordered_map<std::string, size_t> ids_;  // group (8 bytes) + key -> column
  std::vector<std::string> columns_;
};
// The decoder: Scan every skeleton in the encoder's order, Prepare with the values, then Join
// every skeleton again in the same order. Any inconsistency fails (returns false).
class ValueJoiner {
 public:
  // The skeletons must stay where they are until Prepare.
  bool Scan(std::string_view skeleton, uint64_t group);
  bool Prepare(std::string_view values);
  // Appends the text (skeleton with its values put back) to *out.
  bool Join(std::string_view skeleton, std::string* out);
  bool Done() const { return next_mark_ == marks_.size(); }

 private:
  uint64_t group_ = 0;
  std::unordered_map<std::string_view, size_t> ids_;       // the group's key -> column
  std::vector<std::pair<std::string_view, size_t>> prev_;  // the last skeleton's keys
  std::vector<uint64_t> counts_;                           // values per column
  std::vector<uint32_t> marks_;                            // the column of each value, in order
  std::vector<size_t> cursors_;  // the next value of each column, in values_
  std::string_view values_;
  size_t next_mark_ = 0;
};

// Checks the body CRC and decodes only the seq column (a prefix of the decompressed body).
bool DecodeBlockSeqs(std::string_view body, const BlockMeta& meta, std::vector<uint64_t>* seqs,
                     std::string* why);

// For measurements (soc_store_bench): where a whole block's bytes (header onwards) go, with the
// body's two parts — every per-record column, and the raw texts — compressed apart (version 3:
// the body's two frames; older blocks: each part compressed again alone at the block's level).
struct BlockBytes {
  uint64_t records = 0;
  uint64_t header_and_meta = 0, bloom = 0, body = 0;  // bloom: every token index section
  uint64_t token_sets = 0, token_set_tokens = 0;      // the Golomb-coded sets among them
  uint64_t columns_plain = 0, raw_plain = 0;          // decompressed sizes
  uint64_t columns_alone = 0, raw_alone = 0;          // compressed apart
};
bool MeasureBlock(std::string_view block, BlockBytes* out, std::string* why);

// The journal.
struct JournalBatch {
  uint64_t first_seq = 0;
  std::vector<Record> records;       // seq assigned, no fields
  std::vector<std::string> classes;  // the partition class of each record
  std::vector<std::pair<std::string, std::string>> checkpoints;
};
struct JournalSnapshot {
  uint64_t next_seq = 0;
  std::vector<std::pair<std::string, std::string>> checkpoints;
};
std::string EncodeJournalSnapshot(const JournalSnapshot& snapshot);
// The same batch as a whole entry (header and payload) in out, reusing out's capacity.
void EncodeJournalBatchEntry(std::string& out, std::span<const Record> records,
                             std::span<const std::string> classes,
                             std::span<const std::pair<std::string, std::string>> checkpoints,
                             uint64_t first_seq);
// The pieces of a batch entry, for a writer that keeps its records' bytes apart (LogStore::Prepare
// takes them while the record is warm): the entry is PutJournalBatchHead's bytes (the 16 header
// bytes left zero, then the payload's start), every record's PutJournalRecord bytes, and
// PutJournalBatchTail's; FinishJournalEntryHeader fills the header in from the payload's length
// and CRC32C. EncodeJournalBatchEntry is exactly these.
void PutJournalBatchHead(std::string& out, uint64_t first_seq, size_t records);
void PutJournalRecord(std::string& out, const Record& r, std::string_view cls);
void PutJournalBatchTail(std::string& out,
                         std::span<const std::pair<std::string, std::string>> checkpoints);
void FinishJournalEntryHeader(char* header16, uint32_t payload_len, uint32_t payload_crc);
// One record of a batch entry, read in place (bounded by in; false when malformed: the checks
// DecodeJournalPayload makes).
struct JournalRecordView {
  int64_t time_ms = 0, received_ms = 0;
  Format format = Format::kText;
  bool truncated = false;
  std::string_view cls, source, peer, tenant, raw;
};
bool ReadJournalRecord(Reader& in, JournalRecordView* out);
// Wraps a payload in an entry header.
std::string FrameJournalEntry(std::string_view payload);
// Decodes one payload: exactly one of *batch, *snapshot is filled (by type).
bool DecodeJournalPayload(std::string_view payload, std::optional<JournalBatch>* batch,
                          std::optional<JournalSnapshot>* snapshot, std::string* why);

}  // namespace seccloud::soc::store_internal
