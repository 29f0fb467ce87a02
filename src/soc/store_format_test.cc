#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <set>

#include "core/hash_mix.h"
#include "soc/parse.h"
#include "soc/store_internal.h"

namespace seccloud::soc::store_internal {
namespace {

Record R(uint64_t seq, int64_t time, std::string raw, std::string tenant = "t1") {
  Record r;
  r.seq = seq;
  r.time_ms = time;
  r.received_ms = time > INT64_MAX - 250 ? time : time + 250;
  r.format = Format::kSyslog;
  r.source = "syslog-udp";
  r.peer = "192.0.2.1";
  r.tenant = std::move(tenant);
  r.raw = std::move(raw);
  return r;
}

// Parses a whole block's fixed header and meta.
bool ParseHeaderAndMeta(std::string_view block, BlockMeta* parsed, std::string* why) {
  return ParseBlockHeader(block, parsed, why) &&
         ParseBlockMeta(block.substr(kBlockHeaderBytes, parsed->meta_len), parsed, why);
}

TEST(StoreFormatTest, Crc32cKnownAnswers) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(Crc32c(""), 0u);
  std::string big(1000, 'a');
  EXPECT_EQ(
      Crc32c(std::string_view(big).substr(7)),
      Crc32c(std::string_view(big).substr(500), Crc32c(std::string_view(big).substr(7, 493))));
}

TEST(StoreFormatTest, VarintsAndReaderBounds) {
  std::string out;
  PutVarint(out, 0);
  PutVarint(out, 300);
  PutVarint(out, UINT64_MAX);
  PutZigzag(out, INT64_MIN);
  PutZigzag(out, -1);
  PutString(out, "abc");
  Reader in(out);
  uint64_t v;
  int64_t z;
  std::string_view s;
  ASSERT_TRUE(in.Varint(&v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(in.Varint(&v));
  EXPECT_EQ(v, 300u);
  ASSERT_TRUE(in.Varint(&v));
  EXPECT_EQ(v, UINT64_MAX);
  ASSERT_TRUE(in.Zigzag(&z));
  EXPECT_EQ(z, INT64_MIN);
  ASSERT_TRUE(in.Zigzag(&z));
  EXPECT_EQ(z, -1);
  ASSERT_TRUE(in.String(&s));
  EXPECT_EQ(s, "abc");
  EXPECT_FALSE(in.Varint(&v));
  Reader cut(
      std::string_view("\x05"
                       "ab",
                       3));
  EXPECT_FALSE(cut.String(&s));
  const std::string ff(11, '\xff');
  Reader endless(ff);
  EXPECT_FALSE(endless.Varint(&v));
}

TEST(StoreFormatTest, FileHeaders) {
  const std::string h = EncodeFileHeader(FileKind::kPartition);
  ASSERT_EQ(h.size(), kFileHeaderBytes);
  FileHeaderInfo info = ReadFileHeader(h, FileKind::kPartition);
  EXPECT_EQ(info.version, kFormatVersion);
  EXPECT_EQ(info.data_start, kFileHeaderBytes);
  EXPECT_FALSE(info.newer);
  EXPECT_EQ(info.problem, "");
  // Another kind, a newer version, a flipped byte, a legacy (version 1) file, a torn creation.
  EXPECT_NE(ReadFileHeader(h, FileKind::kJournal).problem, "");
  info = ReadFileHeader(EncodeFileHeader(FileKind::kJournal, 9), FileKind::kJournal);
  EXPECT_TRUE(info.newer);
  EXPECT_EQ(info.version, 9u);
  for (size_t at = 0; at < h.size(); ++at) {
    std::string bad = h;
    bad[at] = static_cast<char>(bad[at] ^ 4);
    info = ReadFileHeader(bad, FileKind::kPartition);
    EXPECT_NE(info.problem, "") << at;
    EXPECT_FALSE(info.newer) << at;
    EXPECT_EQ(info.data_start, kFileHeaderBytes);
  }
  std::string legacy;
  PutU32(legacy, kBlockMagic);
  info = ReadFileHeader(legacy + "rest of a block", FileKind::kPartition);
  EXPECT_EQ(info.version, 1u);
  EXPECT_EQ(info.data_start, 0u);
  EXPECT_EQ(info.problem, "");
  info = ReadFileHeader(h.substr(0, 7), FileKind::kPartition);
  EXPECT_EQ(info.problem, "");
  EXPECT_EQ(info.data_start, 7u);
  EXPECT_NE(ReadFileHeader("garbage", FileKind::kPartition).problem, "");
}

class StoreFormatBlockTest : public ::testing::TestWithParam<uint32_t> {};
INSTANTIATE_TEST_SUITE_P(Versions, StoreFormatBlockTest,
                         ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u, kBlockVersion));

TEST_P(StoreFormatBlockTest, BlockRoundTrip) {
  std::vector<Record> records = {R(5, 1000, "first"), R(6, -5000, "", "t2"),
                                 R(9, INT64_MAX / 2, std::string(70000 - 6000, 'x')),
                                 R(10, 1000, "\xff\x00 binary", "")};
  records[1].truncated = true;
  records[3].format = Format::kWindowsEvent;
  records[3].source = "other";
  records[1].source = "other";  // the raw texts are grouped: 0, 2 then 1, 3
  BloomBuilder bloom(64, 10);
  for (const char* t : {"first", "binary", "x"}) bloom.Insert(TokenHash(t));
  records[2].received_ms = records[1].received_ms - 7;  // out of order
  records.push_back(R(11, INT64_MIN, "earliest"));
  records.push_back(R(12, INT64_MAX, "latest"));
  records.push_back(R(13, -1, "just before the epoch"));
  records.push_back(R(14, 1'764'115'200'123, "with milliseconds"));
  BlockInput in;
  in.records = records;
  in.bloom = bloom.Finish(false);
  in.datasets = {"system.auth", "system.auth", "ids.alert"};
  in.version = GetParam();
  BlockMeta meta;
  auto bytes = EncodeBlock(in, &meta);
  ASSERT_TRUE(bytes);
  BlockMeta parsed;
  std::string why;
  ASSERT_TRUE(ParseBlockHeader(*bytes, &parsed, &why)) << why;
  ASSERT_TRUE(ParseBlockMeta(std::string_view(*bytes).substr(kBlockHeaderBytes, parsed.meta_len),
                             &parsed, &why))
      << why;
  EXPECT_EQ(parsed.version, GetParam());
  EXPECT_EQ(parsed.records, 8u);
  EXPECT_EQ(parsed.min_time, INT64_MIN);
  EXPECT_EQ(parsed.max_time, INT64_MAX);
  EXPECT_EQ(parsed.min_seq, 5u);
  EXPECT_EQ(parsed.max_seq, 14u);
  EXPECT_EQ(parsed.tenants, (std::vector<std::string>{"", "t1", "t2"}));
  EXPECT_EQ(parsed.datasets, (std::vector<std::string>{"ids.alert", "system.auth"}));
  EXPECT_EQ(parsed.sources, (std::vector<std::string>{"other", "syslog-udp"}));
  EXPECT_EQ(parsed.end(), bytes->size());
  const std::string_view bloom_bytes =
      std::string_view(*bytes).substr(parsed.bloom_offset(), parsed.bloom_len);
  EXPECT_EQ(Crc32c(bloom_bytes), parsed.bloom_crc);
  for (const char* t : {"first", "binary", "x"}) {
    const uint64_t h = TokenHash(t);
    EXPECT_TRUE(BloomLineHas(bloom_bytes.substr(BloomLineOffset(h, bloom_bytes.size()), 64), h,
                             parsed.bloom_k));
  }
  std::vector<Record> out;
  ASSERT_TRUE(DecodeBlockBody(
      std::string_view(*bytes).substr(parsed.body_offset(), parsed.body_len), parsed, &out, &why))
      << why;
  ASSERT_EQ(out.size(), records.size());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(DecodeBlockSeqs(
      std::string_view(*bytes).substr(parsed.body_offset(), parsed.body_len), parsed, &seqs, &why))
      << why;
  EXPECT_EQ(seqs, (std::vector<uint64_t>{5, 6, 9, 10, 11, 12, 13, 14}));
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].seq, records[i].seq);
    EXPECT_EQ(out[i].time_ms, records[i].time_ms);
    EXPECT_EQ(out[i].received_ms, records[i].received_ms);
    EXPECT_EQ(out[i].format, records[i].format);
    EXPECT_EQ(out[i].source, records[i].source);
    EXPECT_EQ(out[i].peer, records[i].peer);
    EXPECT_EQ(out[i].tenant, records[i].tenant);
    EXPECT_EQ(out[i].raw, records[i].raw);
    EXPECT_EQ(out[i].truncated, records[i].truncated);
  }
  // Every single flipped byte is caught by a checksum.
  for (size_t at = 0; at < bytes->size(); at += 997) {
    std::string bad = *bytes;
    bad[at] = static_cast<char>(bad[at] ^ 1);
    BlockMeta m;
    std::vector<Record> got;
    const bool ok =
        ParseBlockHeader(bad, &m, &why) &&
        ParseBlockMeta(std::string_view(bad).substr(kBlockHeaderBytes, m.meta_len), &m, &why) &&
        Crc32c(std::string_view(bad).substr(m.bloom_offset(), m.bloom_len)) == m.bloom_crc &&
        DecodeBlockBody(std::string_view(bad).substr(m.body_offset(), m.body_len), m, &got, &why);
    EXPECT_FALSE(ok) << "flip at " << at;
  }
}

// The block (header, meta, Bloom filter, body) decodes to the records' texts and metadata.
void ExpectBlockHolds(const std::string& block, const std::vector<Record>& records) {
  BlockMeta parsed;
  std::string why;
  ASSERT_TRUE(ParseHeaderAndMeta(block, &parsed, &why)) << why;
  std::vector<Record> back;
  ASSERT_TRUE(
      DecodeBlockBody(std::string_view(block).substr(parsed.body_offset()), parsed, &back, &why))
      << why;
  ASSERT_EQ(back.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(back[i].raw, records[i].raw) << i;
    EXPECT_EQ(back[i].source, records[i].source) << i;
    EXPECT_EQ(back[i].peer, records[i].peer) << i;
    EXPECT_EQ(back[i].tenant, records[i].tenant) << i;
    EXPECT_EQ(back[i].truncated, records[i].truncated) << i;
  }
}

// An open block's slim records (views into its own copies) encode to the bytes their Records
// do, at every block version and at stored, fast, default and archive levels: more than
// kDictScan distinct sources, peers and tenants (the dictionaries' table), repeats, empty and
// long strings, timestamps and counters in the texts (versions 4+), escape bytes.
TEST_P(StoreFormatBlockTest, SlimRecordsEncodeToTheBytesOfTheirRecords) {
  std::vector<Record> records;
  for (int i = 0; i < 300; ++i) {
    const int64_t time = 1'764'115'200'000 + i * 1'337;
    std::string raw = "<13>Nov 26 00:00:0" + std::to_string(i % 10) + " host app[" +
                      std::to_string(1000 + i) + "]: seq=" + std::to_string(i) + " \xff end";
    if (i % 17 == 0) raw.clear();
    if (i == 100) raw.assign(64000, 'y');  // most of a text chunk
    Record r = R(static_cast<uint64_t>(10 + i), time, std::move(raw),
                 i % 5 == 0 ? "" : "tenant-" + std::to_string(i % 13));
    r.source =
        i % 3 == 0 ? "syslog-udp" : "spool:source-with-a-long-name-" + std::to_string(i % 11);
    r.peer = i % 4 == 0 ? "" : "192.0.2." + std::to_string(i % 23);
    r.truncated = i % 7 == 0;
    r.format = i % 2 == 0 ? Format::kSyslog : Format::kJson;
    records.push_back(std::move(r));
  }
  std::vector<SlimRecord> slim;
  for (const Record& r : records) {
    slim.push_back(SlimRecord{r.seq, r.time_ms, r.received_ms, r.source, r.peer, r.tenant, r.raw,
                              r.format, r.truncated});
  }
  for (const int level : {kStoredLevel, -3, 1, 3, 19}) {
    BlockInput from_records, from_slim;
    for (BlockInput* in : {&from_records, &from_slim}) {
      BloomBuilder bloom(64, 10);
      for (const char* t : {"host", "app", "end"}) bloom.Insert(TokenHash(t));
      in->bloom = bloom.Finish(false);
      in->datasets = {"system.syslog", "other"};
      in->version = GetParam();
      in->level = level;
    }
    from_records.records = records;
    from_slim.slim = slim;
    BlockMeta meta_records, meta_slim;
    auto a = EncodeBlock(from_records, &meta_records);
    auto b = EncodeBlock(from_slim, &meta_slim);
    ASSERT_TRUE(a) << level;
    ASSERT_TRUE(b) << level;
    EXPECT_EQ(*a, *b) << "version " << GetParam() << ", level " << level;
    EXPECT_EQ(meta_records.sources, meta_slim.sources);
    EXPECT_EQ(meta_records.tenants, meta_slim.tenants);
    EXPECT_EQ(meta_records.body_raw_len, meta_slim.body_raw_len);
    // And they read back as the records.
    ExpectBlockHolds(*b, records);
  }
  // One block is records or slim records, not both.
  BlockInput both;
  both.records = records;
  both.slim = slim;
  both.bloom = BloomBuilder(1, 10).Finish(false);
  BlockMeta meta;
  EXPECT_FALSE(EncodeBlock(both, &meta));
}

// As an open block keeps them: each distinct source, peer and tenant once (OpenTexts), so equal
// values are the same bytes at the same address, which the dictionary columns find by address.
// Values that share an address but not a length (prefixes of one buffer: "tenant-1" and
// "tenant-12") are different values; more distinct values than kDictScan and than the address
// cache's slots. The bytes are those of the Records, and EncodeBlockParts' pieces are them.
TEST_P(StoreFormatBlockTest, InternedSlimRecordsEncodeToTheBytesOfTheirRecords) {
  // One buffer per family of values: every value a prefix of it.
  const std::string tenants = "tenant-1234567890";
  std::vector<std::string> sources;
  for (int s = 0; s < 90; ++s) sources.push_back("spool:source-" + std::to_string(s));
  const std::string peers = "192.0.2.1234";
  std::vector<Record> records;
  std::vector<SlimRecord> slim;
  for (int i = 0; i < 700; ++i) {
    const std::string_view tenant = std::string_view(tenants).substr(0, 7 + (i * 7) % 11);
    const std::string_view source = sources[(i * 31 + i / 50) % sources.size()];
    const std::string_view peer = std::string_view(peers).substr(0, i % 5 == 0 ? 0 : 8 + i % 5);
    Record r = R(static_cast<uint64_t>(100 + i), 1'764'115'200'000 + i * 999,
                 "line " + std::to_string(i) + " of " + std::string(source), std::string(tenant));
    r.source = std::string(source);
    r.peer = std::string(peer);
    records.push_back(std::move(r));
  }
  for (const Record& r : records) {
    // Views of the shared buffers, not of the record's own strings.
    const auto same = [](const std::string& v, const std::string& buffer) {
      return std::string_view(buffer).substr(0, v.size());
    };
    std::string_view source;
    for (const std::string& s : sources) {
      if (s == r.source) source = s;
    }
    slim.push_back(SlimRecord{r.seq, r.time_ms, r.received_ms, source, same(r.peer, peers),
                              same(r.tenant, tenants), r.raw, r.format, r.truncated});
  }
  for (const int level : {kStoredLevel, 1, 19}) {
    BlockInput from_records, from_slim;
    for (BlockInput* in : {&from_records, &from_slim}) {
      BloomBuilder bloom(64, 10);
      bloom.Insert(TokenHash("line"));
      in->bloom = bloom.Finish(false);
      in->datasets = {"other"};
      in->version = GetParam();
      in->level = level;
    }
    from_records.records = records;
    from_slim.slim = slim;
    BlockMeta meta_records, meta_slim, meta_parts;
    auto a = EncodeBlock(from_records, &meta_records);
    auto b = EncodeBlock(from_slim, &meta_slim);
    ASSERT_TRUE(a) << level;
    ASSERT_TRUE(b) << level;
    EXPECT_EQ(*a, *b) << "version " << GetParam() << ", level " << level;
    EncodedBlock parts;
    ASSERT_TRUE(EncodeBlockParts(from_slim, &meta_parts, &parts)) << level;
    EXPECT_EQ(parts.size(), b->size());
    EXPECT_EQ(
        std::string(parts.head) + std::string(parts.bloom) + parts.body + std::string(parts.texts),
        *b)
        << "version " << GetParam() << ", level " << level;
    // An ingest block's zstd texts frame stays in the thread's buffer; otherwise all is in body.
    EXPECT_EQ(parts.texts.empty(), GetParam() != kIngestBlockVersion || level == kStoredLevel);
    EXPECT_EQ(meta_parts.body_crc, meta_slim.body_crc);
    ExpectBlockHolds(*b, records);
  }
}

// Level 0 (kStoredLevel, ingest_level 0): the body's two frames are zstd frames of raw blocks.
// They decompress — with zstd's own one-shot and streaming decoders, and with the store's
// readers — to exactly the bytes a level-1 block's frames decompress to, whatever the texts'
// lengths (empty, across and exactly on the 128 KiB raw-block boundary, several blocks long).
TEST(StoreFormatTest, StoredLevelFramesHoldTheSameBytes) {
  auto frames = [](std::string_view block, BlockMeta* meta, std::string_view* columns,
                   std::string_view* texts) {
    std::string why;
    ASSERT_TRUE(ParseHeaderAndMeta(block, meta, &why)) << why;
    const std::string_view body = block.substr(meta->body_offset(), meta->body_len);
    ASSERT_GE(body.size(), 4u);
    const uint32_t c = GetU32(body.data());
    ASSERT_LE(c, body.size() - 4);
    *columns = body.substr(4, c);
    *texts = body.substr(4 + c);
  };
  auto one_shot = [](std::string_view frame) {
    const unsigned long long n = ZSTD_getFrameContentSize(frame.data(), frame.size());
    EXPECT_NE(n, ZSTD_CONTENTSIZE_ERROR);
    EXPECT_NE(n, ZSTD_CONTENTSIZE_UNKNOWN);
    std::string out(static_cast<size_t>(n), '\0');
    const size_t got = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
    EXPECT_FALSE(ZSTD_isError(got)) << ZSTD_getErrorName(got);
    EXPECT_EQ(got, n);
    return out;
  };
  auto streamed = [](std::string_view frame) {
    ZSTD_DCtx* d = ZSTD_createDCtx();
    std::string out, buf(4096, '\0');
    ZSTD_inBuffer in{frame.data(), frame.size(), 0};
    size_t rc = 1;
    while (rc != 0) {
      ZSTD_outBuffer o{buf.data(), buf.size(), 0};
      rc = ZSTD_decompressStream(d, &o, &in);
      if (ZSTD_isError(rc)) break;
      out.append(buf.data(), o.pos);
      if (rc != 0 && in.pos == in.size && o.pos == 0) break;
    }
    EXPECT_EQ(rc, 0u);
    ZSTD_freeDCtx(d);
    return out;
  };
  constexpr size_t k128 = size_t{128} << 10;
  constexpr size_t kMax = kMaxRawBytes;  // 64 KiB: two texts fill a raw block
  static_assert(2 * kMax == k128);
  const std::vector<std::vector<size_t>> cases = {
      {0},  // one empty text: a frame of one empty raw block
      {0, 0, 0},
      {5, 17},
      {kMax, kMax},         // exactly one raw block
      {kMax, kMax - 3, 3},  // the boundary between two texts
      {kMax, kMax - 3, 4},  // a text across it
      {kMax, kMax, kMax, kMax, kMax, kMax, 11, 70, 0, kMax, kMax - 1},
  };
  std::mt19937_64 rng(12);
  for (const auto& sizes : cases) {
    std::vector<Record> records;
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::string raw(sizes[i], '\0');
      for (char& c : raw) c = static_cast<char>("abc \xff\n{}0"[rng() % 10]);
      records.push_back(
          R(100 + i, 1'764'115'200'000 + 1000 * static_cast<int64_t>(i), std::move(raw)));
      if (i % 2 == 1) records.back().source = "other";
    }
    std::string block_at[2];
    BlockMeta meta_at[2];
    for (int level : {kStoredLevel, 1}) {
      BlockInput in;
      in.records = records;
      in.bloom = BloomBuilder(1, 10).Finish(false);
      in.version = kIngestBlockVersion;
      in.level = level;
      BlockMeta meta;
      auto bytes = EncodeBlock(in, &meta);
      ASSERT_TRUE(bytes);
      block_at[level] = *bytes;
    }
    std::string_view columns[2], texts[2];
    for (int level : {0, 1})
      frames(block_at[level], &meta_at[level], &columns[level], &texts[level]);
    EXPECT_EQ(meta_at[0].level, 0u);
    EXPECT_EQ(meta_at[1].level, 1u);
    EXPECT_EQ(meta_at[0].body_raw_len, meta_at[1].body_raw_len);
    EXPECT_EQ(one_shot(columns[0]), one_shot(columns[1]));
    EXPECT_EQ(one_shot(texts[0]), one_shot(texts[1]));
    EXPECT_EQ(streamed(columns[0]), one_shot(columns[1]));
    EXPECT_EQ(streamed(texts[0]), one_shot(texts[1]));
    size_t raw_total = 0;
    for (size_t n : sizes) raw_total += n;
    const size_t blocks = raw_total == 0 ? 1 : (raw_total + k128 - 1) / k128;
    EXPECT_EQ(texts[0].size(), 14 + 3 * blocks + raw_total);
    // The store's readers: every record back byte for byte, and the seq column alone.
    std::string why;
    std::vector<Record> out;
    const std::string_view body =
        std::string_view(block_at[0]).substr(meta_at[0].body_offset(), meta_at[0].body_len);
    ASSERT_TRUE(DecodeBlockBody(body, meta_at[0], &out, &why)) << why;
    ASSERT_EQ(out.size(), records.size());
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].seq, records[i].seq);
      EXPECT_EQ(out[i].time_ms, records[i].time_ms);
      EXPECT_EQ(out[i].source, records[i].source);
      EXPECT_EQ(out[i].raw, records[i].raw);
    }
    std::vector<uint64_t> seqs;
    ASSERT_TRUE(DecodeBlockSeqs(body, meta_at[0], &seqs, &why)) << why;
    EXPECT_EQ(seqs.size(), records.size());
    BlockBytes measured;
    ASSERT_TRUE(MeasureBlock(block_at[0], &measured, &why)) << why;
    EXPECT_EQ(measured.raw_alone, texts[0].size());
    // A flipped byte anywhere in the stored body is caught — by the block's body CRC32C, as for
    // a compressed body (neither kind of frame carries zstd's own checksum).
    for (size_t at = 0; at < body.size(); at += 4099) {
      std::string bad(body);
      bad[at] = static_cast<char>(bad[at] ^ 0x10);
      std::vector<Record> got;
      EXPECT_FALSE(DecodeBlockBody(bad, meta_at[0], &got, &why)) << "flip at " << at;
    }
  }
  // Levels outside -8 (zstd --fast=8: meta level 30, the most a reader takes) to 22 are refused.
  const std::vector<Record> one = {R(1, 1000, "x")};
  for (int level : {-9, 23, -100}) {
    BlockInput in;
    in.records = one;
    in.bloom = BloomBuilder(1, 10).Finish(false);
    in.level = level;
    BlockMeta meta;
    EXPECT_FALSE(EncodeBlock(in, &meta)) << level;
  }
}

// zstd's fast levels (ingest_level -1 to -8) write ordinary zstd frames; the meta records level
// -N as 22 + N, inside the 0..30 that readers since format version 2 take. Each block decodes
// to its records byte for byte (as level 1's does), MeasureBlock reads it, and a meta level of
// 31 is still refused.
TEST(StoreFormatTest, FastLevelBlocksReadBack) {
  std::vector<Record> records;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string raw = "{\"seq\":" + std::to_string(i) + ",\"host\":\"h" +
                      std::to_string(rng() % 13) + "\",\"pad\":\"" +
                      std::string(rng() % 400, "xyz"[i % 3]) + "\"}";
    records.push_back(R(10 + i, 1'764'115'200'000 + 250 * i, std::move(raw)));
    if (i % 4 == 1) records.back().source = "other";
  }
  auto encode = [&](int level, BlockMeta* meta) {
    BlockInput in;
    in.records = records;
    in.bloom = BloomBuilder(1, 10).Finish(false);
    in.version = kIngestBlockVersion;
    in.level = level;
    auto bytes = EncodeBlock(in, meta);
    EXPECT_TRUE(bytes) << level;
    return bytes ? *bytes : std::string();
  };
  BlockMeta meta1;
  const std::string at1 = encode(1, &meta1);
  std::string why;
  std::vector<Record> want;
  ASSERT_TRUE(DecodeBlockBody(std::string_view(at1).substr(meta1.body_offset(), meta1.body_len),
                              meta1, &want, &why))
      << why;
  for (int level = -1; level >= kMinFastLevel; --level) {
    BlockMeta written;
    const std::string block = encode(level, &written);
    BlockMeta m;
    ASSERT_TRUE(ParseHeaderAndMeta(block, &m, &why)) << why;
    EXPECT_EQ(m.level, static_cast<uint32_t>(22 - level));
    EXPECT_EQ(LevelOfMeta(m.level), level);
    EXPECT_EQ(m.body_raw_len, meta1.body_raw_len);
    std::vector<Record> got;
    ASSERT_TRUE(
        DecodeBlockBody(std::string_view(block).substr(m.body_offset(), m.body_len), m, &got, &why))
        << why;
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].seq, want[i].seq);
      EXPECT_EQ(got[i].time_ms, want[i].time_ms);
      EXPECT_EQ(got[i].source, want[i].source);
      EXPECT_EQ(got[i].raw, records[i].raw);
    }
    BlockBytes measured;
    ASSERT_TRUE(MeasureBlock(block, &measured, &why)) << why;
    EXPECT_EQ(measured.records, records.size());
    if (level == kMinFastLevel) {  // one more would leave what readers take
      std::string meta(block.substr(kBlockHeaderBytes, m.meta_len));
      ASSERT_EQ(static_cast<uint8_t>(meta[1]), 30u);
      meta[1] = 31;
      BlockMeta beyond = m;
      beyond.meta_crc = Crc32c(meta);
      EXPECT_FALSE(ParseBlockMeta(meta, &beyond, &why));
      EXPECT_EQ(why, "block meta values inconsistent");
    }
  }
  for (int level : {0, 1, 19, 22, -1, -8}) {
    EXPECT_EQ(LevelOfMeta(MetaLevelOf(level)), level);
  }
  EXPECT_EQ(MetaLevelOf(-1), 23u);
  EXPECT_EQ(MetaLevelOf(-8), 30u);
}

// Encodes records as one block of the given version and decodes it again.
std::vector<Record> RoundTrip(const std::vector<Record>& records, uint32_t version,
                              uint64_t* body_len = nullptr, uint64_t* body_raw_len = nullptr) {
  BlockInput in;
  in.records = records;
  BloomBuilder bloom(1, 10);
  in.bloom = bloom.Finish(false);
  in.version = version;
  BlockMeta meta;
  auto bytes = EncodeBlock(in, &meta);
  EXPECT_TRUE(bytes);
  if (!bytes) return {};
  BlockMeta parsed;
  std::string why;
  EXPECT_TRUE(ParseHeaderAndMeta(*bytes, &parsed, &why)) << why;
  std::vector<Record> out;
  EXPECT_TRUE(DecodeBlockBody(
      std::string_view(*bytes).substr(parsed.body_offset(), parsed.body_len), parsed, &out, &why))
      << why;
  if (body_len != nullptr) *body_len = parsed.body_len;
  if (body_raw_len != nullptr) *body_raw_len = parsed.body_raw_len;
  return out;
}

// Block version 4 cuts each record's timestamp out of its raw text and renders it back on read:
// every line of every source format of loggen's data set (two lines each: the first and one from
// the middle of the span) is found and comes back byte-exact, as do the same lines with invalid
// UTF-8, with the time twice, at the very end, absent, or misleading.
TEST(StoreFormatTest, TimestampsCutFromRawTextsComeBackByteExact) {
  const std::vector<std::pair<Format, std::string>>
      samples =
          {
              {Format::kSeccloudEvent,
               R"L({"@timestamp":"2026-10-02T00:00:23.663Z","event":{"dataset":"proxy.access","kind":"event","category":["web","network"],"type":["access"],"action":"allowed","outcome":"success","id":"c0103c6b4d8ab358","duration":654506866},"observer":{"name":"sc-node1","type":"proxy"},"tenant":{"id":"t09"},"client.ip":"10.9.250.1","source":{"ip":"10.9.0.245"},"seccloud":{"seq":1,"attribution":"xff","url":{"category":"news"},"tls":{"mode":"intercepted"},"verdict":{"action":"allow","layer":"common"}},"destination":{"ip":"61.43.60.52","port":443,"domain":"img.lg.jp"},"http":{"request":{"method":"GET","bytes":1923},"response":{"status_code":304,"bytes":10048}},"url":{"full":"https://img.lg.jp/api/v1/items","domain":"img.lg.jp"},"user_agent":{"original":"Go-http-client/1.1"}})L"},
              {Format::kSeccloudEvent,
               R"L({"@timestamp":"2026-10-17T00:27:40.833Z","event":{"dataset":"proxy.access","kind":"event","category":["web","network"],"type":["access"],"action":"allowed","outcome":"success","id":"c4fbcbfc2dfe6ac1","duration":180249020},"observer":{"name":"sc-node1","type":"proxy"},"tenant":{"id":"t01"},"client.ip":"10.1.250.1","source":{"ip":"10.1.24.187"},"seccloud":{"seq":13343,"attribution":"xff","url":{"category":"webmail"},"tls":{"mode":"none"},"verdict":{"action":"allow","layer":"common"}},"destination":{"ip":"110.114.44.229","port":80,"domain":"docs.go.jp"},"http":{"request":{"method":"GET","bytes":1827},"response":{"status_code":200,"bytes":60730}},"url":{"full":"http://docs.go.jp/.env","domain":"docs.go.jp"},"user_agent":{"original":"Go-http-client/1.1"}})L"},
              {Format::kSeccloudEvent,
               R"L({"@timestamp":"2026-10-02T00:01:10.592Z","event":{"dataset":"dns.query","kind":"event","category":["network"],"type":["protocol"],"action":"answered","outcome":"success","id":"0ae308497b38e3c9"},"observer":{"name":"sc-node1","type":"dns"},"tenant":{"id":"t07"},"client":{"ip":"10.7.10.36"},"source":{"ip":"10.7.14.221"},"dns":{"question":{"name":"www.gakko1536.jp","type":"AAAA"},"response_code":"NOERROR"},"seccloud":{"seq":1,"dns":{"role":"resolver"}}})L"},
              {Format::kSeccloudEvent,
               R"L({"@timestamp":"2026-10-17T05:47:03.517Z","event":{"dataset":"dns.query","kind":"event","category":["network"],"type":["protocol"],"action":"answered","outcome":"success","id":"0cbe6c5747039ffa"},"observer":{"name":"sc-node1","type":"dns"},"tenant":{"id":"t14"},"client":{"ip":"10.14.11.201"},"source":{"ip":"10.14.12.151"},"dns":{"question":{"name":"img.lg.jp","type":"AAAA"},"response_code":"NOERROR"},"seccloud":{"seq":7742,"dns":{"role":"resolver"}}})L"},
              {Format::kSeccloudEvent,
               R"L({"@timestamp":"2026-10-02T00:03:29.235Z","event":{"dataset":"scan.detection","kind":"alert","category":["malware"],"type":["info"],"action":"blocked","outcome":"success","id":"ceda5c0da4e7735e"},"observer":{"name":"sc-node1","type":"scan"},"tenant":{"id":"t11"},"source":{"ip":"10.11.29.15"},"file":{"name":"invoice.doc","size":2935154,"hash":{"sha256":"fe99eae2168db40974331e9b5175ab0bea4c389fe2657690c397b69dd479f9fe"}},"seccloud":{"seq":1,"scan":{"engine":"clamav","signature":"Eicar-Signature","db_version":"27470"}}})L"},
              {Format::kSeccloudEvent,
               R"L({"@timestamp":"2026-10-16T16:50:30.854Z","event":{"dataset":"scan.detection","kind":"alert","category":["malware"],"type":["info"],"action":"blocked","outcome":"success","id":"4e547f2076ead8a1"},"observer":{"name":"sc-node1","type":"scan"},"tenant":{"id":"t03"},"source":{"ip":"10.3.9.252"},"file":{"name":"setup.exe","size":4370036,"hash":{"sha256":"c9dd25a8973817ff40df01abd5d7e33cac513a48ef9f3cbe59ee5fe3721b0c65"}},"seccloud":{"seq":53,"scan":{"engine":"clamav","signature":"Win.Trojan.Agent-1234","db_version":"27470"}}})L"},
              {Format::kSyslog,
               R"L(Oct  2 00:00:00 srv03-t04 kernel: [4186452.320798] nft-drop IN=eth0 OUT= MAC=52:54:00:6c:de:fd:52:54:00:12:34:56:08:00 SRC=22.39.166.134 DST=10.16.200.14 LEN=289 TOS=0x00 PREC=0x00 TTL=69 ID=4630 DF PROTO=TCP SPT=23658 DPT=80 WINDOW=64240 RES=0x00 SYN URGP=0)L"},
              {Format::kSyslog,
               R"L(Oct 16 21:51:17 srv08-t02 sshd[64021]: Failed password for postgres from 129.71.105.236 port 43450 ssh2)L"},
              {Format::kAccessLog,
               R"L(68.125.243.190 - - [02/Oct/2026:00:08:54 +0000] "GET / HTTP/1.1" 200 19304 "https://www.city02.lg.jp/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")L"},
              {Format::kAccessLog,
               R"L(177.220.15.218 - - [16/Oct/2026:20:49:21 +0000] "GET /css/site.css HTTP/1.1" 200 6291 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0")L"},
              {Format::kSuricataEve,
               R"L({"timestamp":"2026-10-02T00:01:33.041287+0000","flow_id":823958375087280,"in_iface":"eth1","event_type":"dns","src_ip":"10.1.22.150","src_port":64428,"dest_ip":"10.24.0.53","dest_port":53,"proto":"UDP","dns":{"type":"query","id":2216,"rrname":"shiyakusho2766.co.jp","rrtype":"A","tx_id":0,"opcode":0}})L"},
              {Format::kSuricataEve,
               R"L({"timestamp":"2026-10-17T00:55:56.378646+0000","flow_id":1002480276051870,"in_iface":"eth1","event_type":"dns","src_ip":"10.1.20.111","src_port":1995,"dest_ip":"10.25.0.53","dest_port":53,"proto":"UDP","dns":{"type":"query","id":55537,"rrname":"mail.io","rrtype":"A","tx_id":0,"opcode":0}})L"},
              {Format::kWindowsEvent,
               R"L({"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},"EventID":4624,"Version":2,"Level":0,"Task":12544,"Keywords":"0x8020000000000000","TimeCreated":{"#attributes":{"SystemTime":"2026-10-02T00:10:04.5457085Z"}},"EventRecordID":5649708,"Channel":"Security","Computer":"PC-t04-0053.lgwan.local"},"EventData":{"SubjectUserSid":"S-1-5-18","SubjectUserName":"PC-t04-0053$","SubjectDomainName":"LGWAN","TargetUserName":"user126","TargetDomainName":"LGWAN","LogonType":10,"LogonProcessName":"User32","AuthenticationPackageName":"Kerberos","WorkstationName":"PC-t04-0053","IpAddress":"10.5.16.50","IpPort":"51564"}}})L"},
              {Format::kWindowsEvent,
               R"L({"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},"EventID":4688,"Version":2,"Level":0,"Task":12544,"Keywords":"0x8020000000000000","TimeCreated":{"#attributes":{"SystemTime":"2026-10-16T23:57:29.4876331Z"}},"EventRecordID":2511472,"Channel":"Security","Computer":"PC-t01-0019.lgwan.local"},"EventData":{"SubjectUserName":"kimura","SubjectDomainName":"LGWAN","NewProcessId":"0xca73","NewProcessName":"C:\\Windows\\System32\\notepad.exe","TokenElevationType":"%%1938","ProcessId":"0x83d3","CommandLine":"","ParentProcessName":"C:\\Windows\\explorer.exe"}}})L"},
              {Format::kText,
               R"L(261002 000047 281 INFO dfs.DataNode$DataXceiver: Receiving block blk_1159578142345113147 src: /10.250.12.118:31436 dest: /10.250.12.118:50010)L"},
              {Format::kText,
               R"L(261017 055620 39973 INFO dfs.DataNode$PacketResponder: PacketResponder 2 for block blk_-1172871686116923404 terminating)L"},
              {Format::kText,
               R"L(2026-10-02 00:02:42,940 INFO [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Recalculating schedule, headroom=<memory:6633, vCores:-3>)L"},
              {Format::kText,
               R"L(2026-10-17 02:08:43,663 INFO [AsyncDispatcher event handler] org.apache.hadoop.mapreduce.v2.app.job.impl.TaskAttemptImpl: attempt_1445144423722_0020_m_000097_0 TaskAttempt Transitioned from NEW to UNASSIGNED)L"},
              {Format::kAccessLog,
               R"L([Fri Oct 02 00:22:04 2026] [notice] jk2_init() Found child 22776 in scoreboard slot 8)L"},
              {Format::kAccessLog,
               R"L([Sat Oct 17 07:05:14 2026] [error] [client 129.42.121.68] Directory index forbidden by rule: /var/www/html/)L"},
              {Format::kSyslog,
               R"L(Oct  2 00:05:25 LabSZ sshd[3584]: Invalid user mysql from 199.119.135.147)L"},
              {Format::kSyslog,
               R"L(Oct 16 20:39:40 LabSZ sshd[9793]: Received disconnect from 108.150.123.157: 11: Bye Bye [preauth])L"},
              {Format::kSyslog,
               R"L(Oct  2 00:11:14 combo su(pam_unix)[4337]: session closed for user news)L"},
              {Format::kSyslog,
               R"L(Oct 16 12:24:34 combo su(pam_unix)[29537]: session opened for user news by (uid=0))L"},
          };
  std::vector<Record> records;
  uint64_t seq = 1;
  for (const auto& [format, line] : samples) {
    Record r;
    r.format = format;
    r.raw = line;
    r.received_ms = 1'793'491'200'000;  // the end of the span: the lines are days older
    r.source = FormatName(format);
    Normalize(r);
    ASSERT_NE(r.time_ms, r.received_ms) << "no time parsed from " << line;
    EXPECT_NE(RawTimeShape(r), 0) << "no timestamp shape found in " << line;
    r.fields() = {};
    r.seq = seq++;
    records.push_back(r);
    // Invalid UTF-8 and control bytes around it, and the time twice.
    Record bad = r;
    bad.seq = seq++;
    bad.raw = "\xff\xfe\x00" + r.raw + "\xc3";
    records.push_back(bad);
    Record twice = r;
    twice.seq = seq++;
    twice.raw = r.raw + " " + r.raw;
    records.push_back(twice);
    Record other_time = r;  // a time of another record: not cut
    other_time.seq = seq++;
    other_time.time_ms += 1000;
    EXPECT_EQ(RawTimeShape(other_time), 0) << line;
    records.push_back(other_time);
  }
  // Each shape alone, at the start, in the middle and as the whole text, around the epoch too.
  const int64_t t = 1'791'331'188'936;  // 2026-10-06T23:59:48.936Z, a Tuesday
  for (std::string text :
       {"2026-10-06T23:59:48.936", "2026-10-06T23:59:48", "Oct  6 23:59:48", "Oct 06 23:59:48",
        "06/Oct/2026:23:59:48", "Tue Oct 06 23:59:48 2026", "2026-10-06 23:59:48,936",
        "2026-10-06 23:59:48.936", "2026-10-06 23:59:48", "261006 235948"}) {
    for (const std::string& raw : {text, "x" + text + "y", "[" + text + "]" + text, text + "\n"}) {
      Record r;
      r.seq = seq++;
      r.time_ms = t;
      r.received_ms = t;
      r.source = "shapes";
      r.raw = raw;
      EXPECT_NE(RawTimeShape(r), 0) << raw;
      records.push_back(r);
    }
  }
  for (int64_t ms :
       {int64_t{-31'536'000'001}, int64_t{0}, int64_t{-1}, int64_t{253'402'300'799'999},
        int64_t{253'402'300'800'000}, INT64_MIN, INT64_MAX}) {
    Record r;
    r.seq = seq++;
    r.time_ms = ms;
    r.source = "edges";
    r.raw =
        "1968-12-31T23:59:59.999 Tue Dec 31 23:59:59 1968 1970-01-01T00:00:00.000 "
        "9999-12-31T23:59:59.999 Jan  1 00:00:00";
    records.push_back(r);
  }
  Record big;
  big.seq = seq++;
  big.time_ms = t;
  big.source = "big";
  big.raw = std::string(kMaxRawBytes - 23, 'z') + "2026-10-06T23:59:48.936";  // past the search
  records.push_back(big);
  uint64_t v3_len = 0, v4_len = 0;
  const auto v3 = RoundTrip(records, 3, nullptr, &v3_len);
  const auto v4 = RoundTrip(records, 4, nullptr, &v4_len);
  const auto v6 = RoundTrip(records, 6);  // value columns on top of the cut times
  ASSERT_EQ(v3.size(), records.size());
  ASSERT_EQ(v4.size(), records.size());
  ASSERT_EQ(v6.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(v6[i].raw, records[i].raw) << i;
    EXPECT_EQ(v4[i].raw, records[i].raw) << i;
    EXPECT_EQ(v4[i].time_ms, records[i].time_ms) << i;
    EXPECT_EQ(v3[i].raw, records[i].raw) << i;
  }
  // The times were cut (uncompressed sizes: a body holding the texts twice, as these records do,
  // compresses the repeats either way).
  EXPECT_LT(v4_len + 1000, v3_len);
}

// A body whose time shape column names an unknown shape, or a position past its text, is
// reported, not read out of bounds (the body is rebuilt with a valid checksum so that only the
// decoder can object).
TEST(StoreFormatTest, TimeShapeColumnIsChecked) {
  Record r;
  r.seq = 1;
  r.time_ms = 1'791'331'188'936;
  r.source = "s";
  r.raw = "at 2026-10-06T23:59:48.936 up";
  ASSERT_EQ(RawTimeShape(r), 1);
  BlockInput in;
  const std::vector<Record> records = {r};
  in.records = records;
  in.bloom = BloomBuilder(1, 10).Finish(false);
  in.version = 5;  // time shapes: versions 4 and later
  BlockMeta meta;
  auto bytes = EncodeBlock(in, &meta);
  ASSERT_TRUE(bytes);
  const std::string_view body = std::string_view(*bytes).substr(meta.body_offset(), meta.body_len);
  const std::string_view frame1 = body.substr(4, GetU32(body.data()));
  const std::string_view frame2 = body.substr(4 + frame1.size());
  std::string columns(ZSTD_getFrameContentSize(frame1.data(), frame1.size()), '\0');
  ASSERT_EQ(ZSTD_decompress(columns.data(), columns.size(), frame1.data(), frame1.size()),
            columns.size());
  // The columns end with the shape (1) and the position (3) of the one record.
  ASSERT_EQ(columns.substr(columns.size() - 2), std::string("\x01\x03"));
  auto decode = [&](const std::string& cols, std::string* why) {
    std::string c(ZSTD_compressBound(cols.size()), '\0');
    c.resize(ZSTD_compress(c.data(), c.size(), cols.data(), cols.size(), 1));
    std::string b(4, '\0');
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(c.size() >> (8 * i));
    b += c;
    b += frame2;
    BlockMeta m = meta;
    m.body_len = static_cast<uint32_t>(b.size());
    m.body_crc = Crc32c(b);
    std::vector<Record> out;
    const bool ok = DecodeBlockBody(b, m, &out, why);
    if (ok) {
      EXPECT_EQ(out.at(0).raw, r.raw);
    }
    return ok;
  };
  std::string why;
  EXPECT_TRUE(decode(columns, &why)) << why;
  std::string bad = columns;
  bad[bad.size() - 2] = 11;  // no such shape
  EXPECT_FALSE(decode(bad, &why));
  EXPECT_EQ(why, "block time shape column invalid");
  bad = columns;
  bad[bad.size() - 1] = 30;  // past the stored text (29 - 23 = 6 bytes)
  EXPECT_FALSE(decode(bad, &why));
  EXPECT_EQ(why, "block time cut invalid");
}

// add(source, raw) appends a record of that text at time 1,000 to `records`, seqs 1, 2, ….
auto TextRecordAdder(std::vector<Record>& records) {
  return [&records, seq = uint64_t{1}](std::string source, std::string raw) mutable {
    Record r;
    r.seq = seq++;
    r.time_ms = 1'000;
    r.source = std::move(source);
    r.raw = std::move(raw);
    records.push_back(std::move(r));
  };
}

// Block version 4 stores a number that is the one before it in the same context plus one as two
// bytes; the texts come back byte-exact whatever they hold: random texts over digits, escape
// bytes and separators, from many sources (so the counters' table collides across groups).
TEST(StoreFormatTest, CountersInRawTextsComeBackByteExact) {
  std::vector<Record> records;
  auto add = TextRecordAdder(records);
  for (int i = 0; i < 500; ++i) {
    add("spool", R"({"seq":)" + std::to_string(1000 + i) + R"(,"id":)" + std::to_string(7 * i) +
                     ",\"n\":" + std::to_string(i) + "}");
    add("syslog", "kernel: [" + std::to_string(i) + "] x=" + std::to_string(i + 1) +
                      " y=" + std::to_string(i + 2) + " \xff" + std::to_string(i + 3));
  }
  for (const char* edge : {"999999999999999998 999999999999999999", "999999999999999999",
                           "1000000000000000000 1000000000000000001", "007 008 009", "0 1 2", "1",
                           "2", "\xff\x01", "\xff", "\xff\xff\x00", "12\xff\x01", ""}) {
    add("edges", edge);
  }
  std::mt19937_64 rng(7);
  const char alphabet[] = "0123456789:= a\xff\x00\x01";
  for (int i = 0; i < 3000; ++i) {
    std::string raw;
    const size_t len = rng() % 40;
    for (size_t k = 0; k < len; ++k) raw.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
    add("random" + std::to_string(rng() % 300), raw);
  }
  const auto v4 = RoundTrip(records, 4);
  const auto v6 = RoundTrip(records, 6);
  ASSERT_EQ(v4.size(), records.size());
  ASSERT_EQ(v6.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(v4[i].raw, records[i].raw) << i;
    ASSERT_EQ(v4[i].source, records[i].source) << i;
    ASSERT_EQ(v6[i].raw, records[i].raw) << i;
  }
  // The 1,000 spool and syslog lines hold 500 × 5 counters (compressed sizes; the random texts'
  // escaped bytes grow).
  records.resize(1000);
  uint64_t v3_len = 0, v4_len = 0;
  RoundTrip(records, 3, &v3_len);
  RoundTrip(records, 4, &v4_len);
  EXPECT_LT(v4_len + 3000, v3_len);
}

// Block version 6 moves the values after `"key":` into per-key columns: texts come back
// byte-exact whatever they hold — JSON with keys reordered, repeated, escaped, nested, values
// with escaped quotes and newlines, keys too long to be one, invalid UTF-8, 64 KiB values, lines
// with no key at all, and random texts over the bytes the coding looks at — and JSON lines of
// one shape take fewer bytes than in version 5.
TEST(StoreFormatTest, ValueColumnsComeBackByteExact) {
  std::vector<Record> records;
  auto add = TextRecordAdder(records);
  for (int i = 0; i < 400; ++i) {
    add("proxy", R"({"seq":)" + std::to_string(1000 + i) + R"(,"ip":"10.1.)" +
                     std::to_string(i % 7) + "." + std::to_string(i % 250) + R"(","port":)" +
                     std::to_string(1024 + i * 37 % 5000) +
                     R"(,"ok":true,"n":null,"f":-1.5e3,"url":{"full":"https://x.jp/)" +
                     std::to_string(i * 13) + R"(","domain":"x.jp"}})");
  }
  const std::string long_key(65, 'k');
  for (const std::string& edge :
       std::vector<std::string>{R"({"b":1,"a":2})",
                                R"({"a":2,"b":1})",
                                R"({"a":1,"a":"dup","a":{"a":[1,"a"]}})",
                                R"({"s":"quote \" and \\ and \n and \u00e9","t":"x\"y":1})",
                                "{\"nl\":\"line\nbreak\",\"after\":\"x\\\n\",\"v\":1}",
                                R"({"":1,"e":"","f":""})",
                                "{\"" + long_key + "\":1,\"" + long_key.substr(1) + "\":2}",
                                R"({"k": 1,"k":[],"k":})",
                                "{\"u\":\"\xff\xfe\xc3\",\"\xff\":1,\"x\xff\":\"\xff\"}",
                                R"({"open":"never closed)",
                                R"({"a":"x"":"y"})",
                                R"("a":1)",
                                R"(":1)",
                                R"("":"")",
                                "\"a\":\xff\x02",
                                "\"a\":\xff",
                                "plain text, no keys: 1 2 3",
                                "",
                                ":",
                                "\"k\":\n",
                                "\"k\":1\n\"k\":2",
                                "{\"big\":\"" + std::string(kMaxRawBytes - 12, 'v') + "\"}"}) {
    add("edges", edge);
  }
  std::mt19937_64 rng(11);
  const char alphabet[] = "\"\"::{},ab1 \\\n\xff\x00\x01\x02";
  for (int i = 0; i < 4000; ++i) {
    std::string raw;
    const size_t len = rng() % 48;
    for (size_t k = 0; k < len; ++k) raw.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
    add("random" + std::to_string(rng() % 100), raw);
  }
  const auto v6 = RoundTrip(records, 6);
  ASSERT_EQ(v6.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(v6[i].raw, records[i].raw) << i;
    ASSERT_EQ(v6[i].source, records[i].source) << i;
  }
  records.resize(400);
  uint64_t v5_len = 0, v6_len = 0;
  RoundTrip(records, 5, &v5_len);
  RoundTrip(records, 6, &v6_len);
  EXPECT_LT(v6_len, v5_len);
}

// Damaged value columns behind a valid checksum (the texts' frame rebuilt) are reported, never
// read out of bounds: a column one value short, one too many, a marker with no key before it,
// and random changes of the decompressed texts.
TEST(StoreFormatTest, ValueColumnsAreChecked) {
  std::vector<Record> records;
  for (int i = 0; i < 50; ++i) {
    Record r;
    r.seq = static_cast<uint64_t>(i + 1);
    r.time_ms = 1'000;
    r.source = i % 2 == 0 ? "a" : "b";
    r.raw = R"({"k":)" + std::to_string(i * 7) + R"(,"s":"v)" + std::to_string(i) + R"("})";
    records.push_back(r);
  }
  BlockInput in;
  in.records = records;
  in.bloom = BloomBuilder(1, 10).Finish(false);
  in.version = 6;
  BlockMeta meta;
  auto bytes = EncodeBlock(in, &meta);
  ASSERT_TRUE(bytes);
  const std::string_view body = std::string_view(*bytes).substr(meta.body_offset(), meta.body_len);
  const std::string_view frame1 = body.substr(0, 4 + GetU32(body.data()));
  const std::string_view frame2 = body.substr(frame1.size());
  std::string texts(ZSTD_getFrameContentSize(frame2.data(), frame2.size()), '\0');
  ASSERT_EQ(ZSTD_decompress(texts.data(), texts.size(), frame2.data(), frame2.size()),
            texts.size());
  auto decode = [&](const std::string& t, std::string* why) {
    std::string c(ZSTD_compressBound(t.size()), '\0');
    c.resize(ZSTD_compress(c.data(), c.size(), t.data(), t.size(), 1));
    std::string b(frame1);
    b += c;
    BlockMeta m = meta;
    m.body_len = static_cast<uint32_t>(b.size());
    m.body_crc = Crc32c(b);
    m.body_raw_len = meta.body_raw_len - texts.size() + t.size();
    std::vector<Record> out;
    const bool ok = DecodeBlockBody(b, m, &out, why);
    if (ok && t == texts) {
      for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(out.at(i).raw, records[i].raw);
    }
    return ok;
  };
  std::string why;
  ASSERT_TRUE(decode(texts, &why)) << why;
  ASSERT_EQ(texts.back(), '\n');
  EXPECT_FALSE(decode(texts.substr(0, texts.size() - 1), &why));  // the last value unterminated
  EXPECT_EQ(why, "block value columns invalid");
  std::string merged = texts;
  merged.erase(merged.rfind('\n', merged.size() - 2), 1);  // two values made one
  EXPECT_FALSE(decode(merged, &why));
  EXPECT_EQ(why, "block value columns invalid");
  EXPECT_FALSE(decode(texts + "9\n", &why));  // one value too many
  EXPECT_EQ(why, "block value columns invalid");
  std::string bad = texts;
  const size_t colon = bad.find(':');
  ASSERT_NE(colon, std::string::npos);
  bad[colon] = ';';  // the first marker loses its key
  EXPECT_FALSE(decode(bad, &why));
  EXPECT_EQ(why, "block value columns invalid");
  std::mt19937_64 rng(5);
  for (int i = 0; i < 3000; ++i) {
    bad = texts;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
      const char bytes_of_interest[] = "\n\xff\x02\":x";
      bad[rng() % bad.size()] = bytes_of_interest[rng() % (sizeof bytes_of_interest - 1)];
    }
    decode(bad, &why);  // whatever it says, within bounds (ASan)
  }
}

TEST(StoreFormatTest, BloomFoldingKeepsEveryToken) {
  std::mt19937_64 rng(1);
  BloomBuilder builder(4096, 10);
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 5000; ++i) hashes.push_back(TokenHash("tok" + std::to_string(rng())));
  for (uint64_t h : hashes) builder.Insert(h);
  EXPECT_NEAR(builder.EstimateDistinct(), 5000, 250);
  EXPECT_FALSE(builder.Full());
  const Bloom bloom = builder.Finish(false);
  EXPECT_LE(bloom.bits.size(), 5000 * 10 / 8 * 2);  // folded to about 10 bits per token
  EXPECT_GE(bloom.bits.size() * 8, 5000u * 10);
  for (uint64_t h : hashes) {
    ASSERT_TRUE(
        BloomLineHas(std::string_view(bloom.bits).substr(BloomLineOffset(h, bloom.bits.size()), 64),
                     h, bloom.k));
  }
  int false_positives = 0;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t h = TokenHash("absent" + std::to_string(i));
    false_positives += BloomLineHas(
        std::string_view(bloom.bits).substr(BloomLineOffset(h, bloom.bits.size()), 64), h, bloom.k);
  }
  EXPECT_LT(false_positives, 300);  // ~1% expected
  BloomBuilder small(16, 10);
  for (int i = 0; i < 700; ++i) small.Insert(TokenHash(std::to_string(i)));
  EXPECT_FALSE(small.Full());  // 8192 bits hold ~800 tokens at 10 bits each
  for (int i = 700; i < 1000; ++i) small.Insert(TokenHash(std::to_string(i)));
  EXPECT_TRUE(small.Full());
}

// Append files a record's token hashes with InsertAll (lines prefetched); the filter, its fill
// estimate (counted as bits are set) and a reused builder must be exactly what Insert builds.
TEST(StoreFormatTest, BloomInsertAllAndReuseBuildTheSameFilter) {
  std::mt19937_64 rng(2);
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 3000; ++i) hashes.push_back(TokenHash("t" + std::to_string(rng() % 2000)));
  BloomBuilder one(256, 10), all(256, 10), reused(256, 10);
  for (uint64_t h : hashes) one.Insert(h);
  for (size_t i = 0; i < hashes.size(); i += 37) {
    all.InsertAll(std::span(hashes).subspan(i, std::min<size_t>(37, hashes.size() - i)));
  }
  for (int i = 0; i < 500; ++i) reused.Insert(TokenHash("other" + std::to_string(i)));
  (void)reused.Finish(/*keep_memory=*/true);
  EXPECT_EQ(reused.EstimateDistinct(), 0);
  reused.InsertAll(hashes);
  EXPECT_EQ(one.EstimateDistinct(), all.EstimateDistinct());
  EXPECT_EQ(one.EstimateDistinct(), reused.EstimateDistinct());
  const double distinct = static_cast<double>(std::set(hashes.begin(), hashes.end()).size());
  EXPECT_NEAR(one.EstimateDistinct(), distinct, distinct / 10);
  const Bloom a = one.Finish(false), b = all.Finish(false), c = reused.Finish(false);
  EXPECT_EQ(a.bits, b.bits);
  EXPECT_EQ(a.bits, c.bits);
}

// The filter's bits for every k the builder takes (KFor: 1..7), against the format's definition
// written out here (store_internal.h: hash h sets k bits of line h & (lines - 1); bit i is the
// i-th 9-bit slice of Mix64(h ^ 0x5bd1e9955bd1e995), k <= 7): the folded filter and the fill
// estimate (counted as bits are set) are exactly those of the reference filter.
TEST(StoreFormatTest, BloomBitsAreTheFormatsForEveryK) {
  std::mt19937_64 rng(3);
  for (const double bits_per_token : {1.0, 3.0, 5.0, 7.0, 8.0, 10.0, 12.0}) {
    constexpr size_t kLines = 64;
    BloomBuilder builder(kLines, bits_per_token);
    const uint32_t k = BloomBuilder::KFor(bits_per_token);
    std::string want(kLines * kBloomLineBytes, '\0');
    std::vector<uint64_t> hashes;
    for (int i = 0; i < 900; ++i) hashes.push_back(TokenHash("k" + std::to_string(rng() % 700)));
    for (uint64_t h : hashes) {
      const size_t line = (h & (kLines - 1)) * kBloomLineBytes;
      const uint64_t mixed = Mix64(h ^ 0x5bd1e9955bd1e995ULL);
      for (uint32_t i = 0; i < k; ++i) {
        const uint32_t bit = (mixed >> (9 * i)) & 511;
        want[line + bit / 8] = static_cast<char>(want[line + bit / 8] | (1 << (bit % 8)));
      }
    }
    builder.InsertAll(std::span(hashes).subspan(0, 450));
    for (size_t i = 450; i < hashes.size(); ++i) builder.Insert(hashes[i]);
    size_t set = 0;
    for (const char c : want) set += std::popcount(static_cast<unsigned char>(c));
    const double m = static_cast<double>(want.size()) * 8;
    EXPECT_EQ(builder.EstimateDistinct(), -(m / k) * std::log(1 - static_cast<double>(set) / m))
        << "k " << k;
    const Bloom bloom = builder.Finish(false);
    EXPECT_EQ(bloom.k, k);
    ASSERT_EQ(want.size() % bloom.bits.size(), 0u);
    std::string folded(bloom.bits.size(), '\0');
    for (size_t i = 0; i < want.size(); ++i) {
      folded[i % folded.size()] = static_cast<char>(folded[i % folded.size()] | want[i]);
    }
    EXPECT_EQ(bloom.bits, folded) << "k " << k;
  }
}

// Looks a hash up in a version 5 token set section as Search does: directory, then bucket.
bool SetHas(std::string_view section, const BlockMeta& meta, uint64_t h) {
  const GcsProbe probe = GcsLocate(h, meta);
  uint64_t from, to;
  if (!GcsBucketRange(section.substr(4 * probe.bucket, 8), meta, &from, &to)) return true;
  return GcsBucketHas(section.substr(from, to - from), meta.gcs_rice, probe.value);
}

BlockMeta SetMeta(const Bloom& set) {
  BlockMeta m;
  m.bloom_len = static_cast<uint32_t>(set.bits.size());
  m.gcs_tokens = set.gcs_tokens;
  m.gcs_rice = set.gcs_rice;
  m.gcs_buckets = set.gcs_buckets;
  return m;
}

// The Golomb-coded set that replaces the Bloom filter of Compact()ed blocks: every token is
// found, at 2^-7 false positives. The folded Bloom filter it replaces (8 bits per token, what
// Compact() uses) held 8.2-16 bits per token depending on where folding stopped: the set is
// smaller than a typical fold (11.7 bits) and has fewer false positives than the tightest (on
// loggen's blocks, where the filters averaged 0.95 %, it has both: bench/README.md).
TEST(StoreFormatTest, TokenSetHasEveryTokenFewerFalsePositivesAndFewerBytes) {
  std::mt19937_64 rng(5);
  TokenSetBuilder builder;
  BloomBuilder bloom_builder(32768, 8);
  std::vector<uint64_t> hashes;
  // 45,000 tokens: the Bloom filter folds to 2^19 bits, 11.7 bits per token (about what
  // compacted blocks' filters averaged on loggen's set: folding stops at a power of two).
  for (int i = 0; i < 45000; ++i) hashes.push_back(TokenHash("tok" + std::to_string(rng())));
  for (int pass = 0; pass < 2; ++pass) {  // duplicates are kept once
    for (uint64_t h : hashes) {
      builder.Insert(h);
      bloom_builder.Insert(h);
    }
  }
  EXPECT_EQ(builder.Distinct(), hashes.size());
  const uint32_t rice = GcsRiceFor(8);
  EXPECT_EQ(rice, 7u);
  const Bloom set = builder.Finish(rice);
  const Bloom bloom = bloom_builder.Finish(false);
  EXPECT_EQ(set.k, 0u);
  EXPECT_EQ(set.gcs_tokens, hashes.size());
  EXPECT_EQ(set.gcs_buckets, (hashes.size() + kGcsBucketTokens - 1) / kGcsBucketTokens);
  const BlockMeta meta = SetMeta(set);
  std::string why;
  EXPECT_TRUE(CheckTokenSet(set.bits, meta, &why)) << why;
  for (uint64_t h : hashes) ASSERT_TRUE(SetHas(set.bits, meta, h));
  // The tightest fold: 64,000 tokens in 2^19 bits (8.2 bits per token).
  BloomBuilder tight_builder(32768, 8);
  for (int i = 0; i < 64000; ++i) tight_builder.Insert(TokenHash("more" + std::to_string(i)));
  const Bloom tight = tight_builder.Finish(false);
  EXPECT_EQ(tight.bits.size(), bloom.bits.size());
  int set_fp = 0, tight_fp = 0;
  constexpr int kProbes = 200000;
  for (int i = 0; i < kProbes; ++i) {
    const uint64_t h = TokenHash("absent" + std::to_string(i));
    set_fp += SetHas(set.bits, meta, h);
    tight_fp += BloomLineHas(
        std::string_view(tight.bits).substr(BloomLineOffset(h, tight.bits.size()), 64), h, tight.k);
  }
  // 2^-7 = 0.78 % expected; 1,562 of 200,000 with a standard deviation of ~40.
  EXPECT_NEAR(set_fp, kProbes / 128, 200);
  EXPECT_LT(set_fp, tight_fp);
  const double set_bits = set.bits.size() * 8.0 / hashes.size();
  EXPECT_LT(set_bits, rice + 2.1);  // Rice codes ~rice + 1.6, directory 0.25, padding
  EXPECT_LT(set.bits.size(), bloom.bits.size());
  // The builder is empty again and reusable.
  EXPECT_EQ(builder.Distinct(), 0u);
  builder.Insert(hashes[0]);
  const Bloom one = builder.Finish(rice);
  EXPECT_EQ(one.gcs_tokens, 1u);
  EXPECT_TRUE(SetHas(one.bits, SetMeta(one), hashes[0]));
}

TEST(StoreFormatTest, TokenSetEdgeCases) {
  std::string why;
  const Bloom empty = EncodeTokenSet({}, 6);
  EXPECT_EQ(empty.gcs_buckets, 1u);
  EXPECT_EQ(empty.bits.size(), 8u);
  EXPECT_TRUE(CheckTokenSet(empty.bits, SetMeta(empty), &why)) << why;
  for (uint64_t h : {uint64_t{0}, uint64_t{1}, UINT64_MAX}) {
    EXPECT_FALSE(SetHas(empty.bits, SetMeta(empty), h));
  }
  // Hashes at the ends of the range, every Rice parameter, hashes that share a value.
  for (uint32_t rice : {1u, 6u, 31u, 32u}) {
    SCOPED_TRACE(rice);
    std::vector<uint64_t> hashes = {0, 1, 2, UINT64_MAX, UINT64_MAX - 1, uint64_t{1} << 63};
    for (int i = 0; i < 1000; ++i) hashes.push_back(TokenHash(std::to_string(i)));
    const Bloom set = EncodeTokenSet(hashes, rice);
    const BlockMeta meta = SetMeta(set);
    EXPECT_TRUE(CheckTokenSet(set.bits, meta, &why)) << why;
    for (uint64_t h : hashes) EXPECT_TRUE(SetHas(set.bits, meta, h)) << h;
  }
  // Damage with the checksum recomputed is found by the check, and lookups stay bounded.
  const Bloom set = EncodeTokenSet({TokenHash("a"), TokenHash("b"), TokenHash("c")}, 6);
  const BlockMeta meta = SetMeta(set);
  std::string bad = set.bits;
  bad[4] = 1;  // the last directory offset no longer the data's length
  EXPECT_FALSE(CheckTokenSet(bad, meta, &why));
  EXPECT_NE(why.find("directory"), std::string::npos) << why;
  bad = set.bits + '\x80';  // a one bit with no Rice bits after it: a cut code
  bad[4] = static_cast<char>(bad[4] + 1);
  BlockMeta longer = meta;
  longer.bloom_len += 1;
  EXPECT_FALSE(CheckTokenSet(bad, longer, &why));
  EXPECT_NE(why.find("malformed"), std::string::npos) << why;
  BlockMeta more = meta;
  more.gcs_tokens = 2;  // fewer tokens than codes
  EXPECT_FALSE(CheckTokenSet(set.bits, more, &why));
  EXPECT_FALSE(CheckTokenSet(std::string_view(set.bits).substr(0, 7), meta, &why));
  std::mt19937_64 rng(9);
  for (int i = 0; i < 2000; ++i) {
    std::string noise = set.bits;
    for (int j = 0; j < 3; ++j) noise[rng() % noise.size()] = static_cast<char>(rng());
    CheckTokenSet(noise, meta, &why);
    SetHas(noise, meta, rng());
  }
  // A bucket range past the section is refused, so Search treats the block as a candidate.
  std::string dir;
  PutU32(dir, 0);
  PutU32(dir, 1000);
  uint64_t from, to;
  EXPECT_FALSE(GcsBucketRange(dir, meta, &from, &to));
}

// A version 5 block with a token set: its meta carries the set's parameters, older versions
// cannot hold one, and the set is read back from the block's bytes.
TEST(StoreFormatTest, BlockWithTokenSet) {
  std::vector<Record> records = {R(1, 1000, "first line"), R(2, 2000, "second line")};
  BlockInput in;
  in.records = records;
  in.bloom = EncodeTokenSet({TokenHash("first"), TokenHash("second"), TokenHash("line")}, 6);
  in.version = 5;
  BlockMeta meta;
  auto bytes = EncodeBlock(in, &meta);
  ASSERT_TRUE(bytes);
  BlockMeta parsed;
  std::string why;
  ASSERT_TRUE(ParseHeaderAndMeta(*bytes, &parsed, &why)) << why;
  EXPECT_EQ(parsed.bloom_k, 0u);
  EXPECT_EQ(parsed.gcs_tokens, 3u);
  EXPECT_EQ(parsed.gcs_rice, 6u);
  EXPECT_EQ(parsed.gcs_buckets, 1u);
  const std::string_view section =
      std::string_view(*bytes).substr(parsed.bloom_offset(), parsed.bloom_len);
  EXPECT_TRUE(CheckTokenSet(section, parsed, &why)) << why;
  for (const char* t : {"first", "second", "line"})
    EXPECT_TRUE(SetHas(section, parsed, TokenHash(t)));
  std::vector<Record> out;
  ASSERT_TRUE(DecodeBlockBody(
      std::string_view(*bytes).substr(parsed.body_offset(), parsed.body_len), parsed, &out, &why))
      << why;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].raw, "second line");
  in.version = 4;
  EXPECT_FALSE(EncodeBlock(in, &meta));
}

// PutJournalRecord writes in place what the field-by-field encoding wrote (the journal format):
// every varint length 1..10 bytes, negative times, empty and 127/128/16,384-byte strings.
TEST(StoreFormatTest, JournalRecordBytesAreTheFieldByFieldEncoding) {
  std::mt19937_64 rng(20261131);
  const int64_t times[] = {
      0, 1, -1, 63, 64, -65, 8191, 8192, INT64_MAX, INT64_MIN, 1795000000123, -1795000000123};
  const size_t lengths[] = {0, 1, 15, 16, 127, 128, 300, 16383, 16384, 20000};
  std::string out = "prefix";
  std::string want = out;
  for (int iter = 0; iter < 400; ++iter) {
    Record r;
    r.time_ms = times[rng() % std::size(times)];
    r.received_ms = iter % 3 == 0 ? static_cast<int64_t>(rng()) : times[rng() % std::size(times)];
    r.format = static_cast<Format>(1 + rng() % 7);
    r.truncated = rng() % 2 == 0;
    r.source.assign(lengths[rng() % 6], 's');
    r.peer.assign(lengths[rng() % 6], 'p');
    r.tenant.assign(lengths[rng() % 6], 't');
    r.raw.assign(lengths[rng() % std::size(lengths)], static_cast<char>(rng()));
    const std::string cls(lengths[rng() % 5], 'c');
    PutJournalRecord(out, r, cls);
    PutZigzag(want, r.time_ms);
    PutZigzag(want, r.received_ms);
    want.push_back(static_cast<char>(r.format));
    want.push_back(r.truncated ? 1 : 0);
    for (const std::string_view s :
         {std::string_view(cls), std::string_view(r.source), std::string_view(r.peer),
          std::string_view(r.tenant), std::string_view(r.raw)}) {
      PutString(want, s);
    }
    ASSERT_EQ(out, want) << iter;
  }
  // And it reads back, record by record.
  Reader in(std::string_view(out).substr(6));
  JournalRecordView v;
  for (int iter = 0; iter < 400; ++iter) ASSERT_TRUE(ReadJournalRecord(in, &v)) << iter;
  EXPECT_EQ(in.remaining(), 0u);
}

// ReadJournalRecord as it was, through the Reader's getters: the reference the pointer-based
// reader must agree with.
bool ReferenceReadJournalRecord(Reader& in, JournalRecordView* out) {
  uint8_t format, flags;
  if (!in.Zigzag(&out->time_ms) || !in.Zigzag(&out->received_ms) || !in.Byte(&format) ||
      !in.Byte(&flags) || !in.String(&out->cls) || !in.String(&out->source) ||
      !in.String(&out->peer) || !in.String(&out->tenant) || !in.String(&out->raw) || format < 1 ||
      format > 7 || flags > 1 || out->raw.size() > kMaxRawBytes) {
    return false;
  }
  out->format = static_cast<Format>(format);
  out->truncated = flags == 1;
  return true;
}

// The pointer-based ReadJournalRecord accepts exactly what the Reader-based one did and reads
// the same values and length: every prefix of valid records (each varint cut at every byte,
// with fewer and more than 10 bytes left), single bytes flipped, varints of 10 and 11 bytes,
// formats and flags out of range, lengths past the end, and random bytes.
TEST(StoreFormatTest, JournalRecordReaderAgreesWithTheReaderGetters) {
  std::mt19937_64 rng(20261128);
  auto agree = [](std::string_view input, const std::string& what) {
    // In a buffer of exactly its size: a read past it is a heap overflow (ASan).
    const auto copy = std::make_unique_for_overwrite<char[]>(std::max<size_t>(input.size(), 1));
    if (!input.empty()) std::memcpy(copy.get(), input.data(), input.size());
    const std::string_view bytes(copy.get(), input.size());
    Reader a(bytes), b(bytes);
    JournalRecordView va, vb;
    const bool ok = ReadJournalRecord(a, &va);
    ASSERT_EQ(ok, ReferenceReadJournalRecord(b, &vb)) << what;
    if (!ok) {
      EXPECT_EQ(a.pos(), 0u) << what;  // not advanced
      return;
    }
    EXPECT_EQ(a.pos(), b.pos()) << what;
    EXPECT_EQ(va.time_ms, vb.time_ms) << what;
    EXPECT_EQ(va.received_ms, vb.received_ms) << what;
    EXPECT_EQ(va.format, vb.format) << what;
    EXPECT_EQ(va.truncated, vb.truncated) << what;
    for (auto [x, y] : {std::pair{va.cls, vb.cls},
                        {va.source, vb.source},
                        {va.peer, vb.peer},
                        {va.tenant, vb.tenant},
                        {va.raw, vb.raw}}) {
      EXPECT_EQ(x.data(), y.data()) << what;
      EXPECT_EQ(x.size(), y.size()) << what;
    }
  };
  const int64_t times[] = {0, 1, -1, 8192, INT64_MAX, INT64_MIN, 1795000000123};
  for (int iter = 0; iter < 60; ++iter) {
    Record r;
    r.time_ms = times[rng() % std::size(times)];
    r.received_ms = static_cast<int64_t>(rng());
    r.format = static_cast<Format>(1 + rng() % 7);
    r.truncated = rng() % 2 == 0;
    r.source.assign(rng() % 3 == 0 ? 0 : rng() % 200, 's');
    r.peer.assign(rng() % 20, 'p');
    r.tenant.assign(rng() % 20, 't');
    r.raw.assign(rng() % 300, 'r');
    std::string bytes;
    PutJournalRecord(bytes, r, iter % 2 == 0 ? "system" : "");
    const std::string tail = iter % 3 == 0 ? std::string(12, '\x05') : "";
    for (size_t cut = 0; cut <= bytes.size(); ++cut) {
      agree(bytes.substr(0, cut) + tail, "cut " + std::to_string(cut));
    }
    for (int flip = 0; flip < 40; ++flip) {
      std::string bad = bytes + tail;
      bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
      agree(bad, "flip " + std::to_string(iter) + "/" + std::to_string(flip));
    }
  }
  // Varints of 10 bytes (the most) and 11 (refused), formats 0 and 8, flags 2.
  std::string ten(9, '\xff');
  ten.push_back('\x01');
  std::string eleven(10, '\xff');
  eleven.push_back('\x01');
  const std::string rest = std::string("\x02\x01\x00") + '\x00' + '\x00' + '\x00' + '\x00';
  for (const std::string& v : {ten, eleven}) {
    agree(v + "\x02" + rest, "time varint " + std::to_string(v.size()));
    agree(std::string("\x02") + v + rest, "received varint " + std::to_string(v.size()));
  }
  for (const char format : {'\x00', '\x07', '\x08'}) {
    for (const char flags : {'\x00', '\x01', '\x02'}) {
      agree(std::string("\x02\x02") + format + flags + std::string(5, '\x00'), "format, flags");
    }
  }
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? rng() : rng() % 3);
    agree(bytes, "random " + std::to_string(iter));
  }
}

// ReadJournalRecord on inputs that end right before an unreadable page: a read of one byte past
// the end is a crash in any build, not only under ASan (seal21's review: a mutant that let the
// fast path run with 9 bytes left passed every release test). Each varint of 1 to 11 bytes, as
// the first field, the second, and the string lengths, cut at every byte.
TEST(StoreFormatTest, JournalRecordReaderStopsAtTheEndOfAGuardedInput) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* m = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  char* const base = static_cast<char*>(m);
  ASSERT_EQ(::mprotect(base + page, page, PROT_NONE), 0);
  for (size_t len = 1; len <= 11; ++len) {
    std::string v(len - 1, '\xff');
    v.push_back('\x01');
    const std::string inputs[] = {v, "\x02" + v, std::string("\x02\x02\x01\x00", 4) + v,
                                  std::string("\x02\x02\x01\x00\x00\x00\x00\x00", 8) + v};
    for (const std::string& input : inputs) {
      for (size_t cut = 0; cut <= input.size(); ++cut) {
        char* at = base + page - cut;
        std::memcpy(at, input.data(), cut);
        Reader a(std::string_view(at, cut)), b(std::string_view(at, cut));
        JournalRecordView va, vb;
        EXPECT_EQ(ReadJournalRecord(a, &va), ReferenceReadJournalRecord(b, &vb))
            << len << " " << cut;
      }
    }
  }
  ::munmap(m, 2 * page);
}

// A compacted block's body holds its texts: encoding one leaves no buffer of its size on the
// thread (seal21's review: an 8 MiB block left 8,995,568 bytes in use after EncodeBlock
// returned, kept for the next block). mallinfo2 counts the heap in use (ASan's allocator does
// not fill it in, so there the test checks nothing).
TEST(StoreFormatTest, ACompactedBlocksBodyIsNotKeptOnItsThread) {
  auto encode = [](size_t n, size_t len) {
    std::mt19937_64 rng(7);
    std::vector<Record> records;
    for (size_t i = 0; i < n; ++i) {
      std::string raw(len, 'a');
      for (char& c : raw) c = static_cast<char>('a' + rng() % 26);
      records.push_back(R(1 + i, 1'764'115'200'000 + static_cast<int64_t>(i), std::move(raw)));
    }
    BlockInput in;
    BloomBuilder bloom(64, 10);
    in.bloom = bloom.Finish(false);
    in.records = records;
    in.version = kBlockVersion;
    in.level = 1;
    BlockMeta meta;
    auto bytes = EncodeBlock(in, &meta);
    ASSERT_TRUE(bytes);
  };
  auto in_use = [] {
    const struct mallinfo2 mi = ::mallinfo2();
    return mi.uordblks + mi.hblkhd;
  };
  encode(64, 1024);  // the thread's zstd context
  encode(64, 1024);
  const size_t before = in_use();
  encode(8192, 1024);  // 8 MiB of raw text
  const size_t after = in_use();
  EXPECT_LT(after > before ? after - before : 0, size_t{2} << 20);
}

TEST(StoreFormatTest, JournalRoundTrip) {
  std::vector<Record> records = {R(0, 1, "a"), R(0, 2, "b")};
  const std::vector<std::string> classes = {"system", "other"};
  const std::vector<std::pair<std::string, std::string>> cps = {{"k", "v"}};
  std::string entry;
  EncodeJournalBatchEntry(entry, records, classes, cps, 42);
  EXPECT_EQ(GetU32(entry.data()), kJournalMagic);
  const std::string_view payload = std::string_view(entry).substr(kJournalHeaderBytes);
  EXPECT_EQ(GetU32(entry.data() + 8), Crc32c(payload));
  std::optional<JournalBatch> batch;
  std::optional<JournalSnapshot> snap;
  std::string why;
  ASSERT_TRUE(DecodeJournalPayload(payload, &batch, &snap, &why)) << why;
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->first_seq, 42u);
  ASSERT_EQ(batch->records.size(), 2u);
  EXPECT_EQ(batch->records[1].seq, 43u);
  EXPECT_EQ(batch->records[1].raw, "b");
  EXPECT_EQ(batch->classes[0], "system");
  EXPECT_EQ(batch->checkpoints, cps);
  const std::string s = EncodeJournalSnapshot({7, cps});
  batch.reset();
  ASSERT_TRUE(DecodeJournalPayload(s, &batch, &snap, &why));
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->next_seq, 7u);
  // Truncations and a huge claimed count are errors, not allocations.
  for (size_t n = 0; n < payload.size(); ++n) {
    std::optional<JournalBatch> b;
    std::optional<JournalSnapshot> sn;
    EXPECT_FALSE(DecodeJournalPayload(payload.substr(0, n), &b, &sn, &why)) << n;
  }
  std::string huge = "\x01\x01";
  PutVarint(huge, uint64_t{1} << 40);
  std::optional<JournalBatch> b;
  EXPECT_FALSE(DecodeJournalPayload(huge, &b, &snap, &why));
}

}  // namespace
}  // namespace seccloud::soc::store_internal
