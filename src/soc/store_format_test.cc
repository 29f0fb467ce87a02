#include <gtest/gtest.h>

#include <random>

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

TEST(StoreFormatTest, Crc32cKnownAnswers) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(Crc32c(""), 0u);
  std::string big(1000, 'a');
  EXPECT_EQ(
      Crc32c(std::string_view(big).substr(7)),
      Crc32c(std::string_view(big).substr(500), Crc32c(std::string_view(big).substr(7, 493))));
}

TEST(StoreFormatTest, TokenHashIsFixed) {
  // Persisted in every Bloom filter: these values must never change.
  EXPECT_EQ(TokenHash("10.1.2.3"), TokenHash("10.1.2.3"));
  EXPECT_NE(TokenHash("a"), TokenHash("b"));
  EXPECT_NE(TokenHash(""), 0u);
  static const uint64_t kFrozen = TokenHash("seccloud");
  EXPECT_EQ(TokenHash(std::string("seccloud")), kFrozen);
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
INSTANTIATE_TEST_SUITE_P(Versions, StoreFormatBlockTest, ::testing::Values(1u, 2u, kBlockVersion));

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
