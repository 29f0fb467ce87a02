// The search's raw-text prefilter over Compact()ed blocks (block version 7): records are rejected
// on their raw text before they are normalised only when they provably cannot match, so every
// query finds what it finds without the prefilter (before compaction, when every record of an
// ingest block is normalised).

#include <gtest/gtest.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>

#include "core/ip.h"
#include "soc/query.h"
#include "soc/store.h"
#include "soc/store_internal.h"
#include "soc/store_test_fixture.h"
#include "soc/store_testing_internal.h"

namespace seccloud::soc {
namespace {

namespace fs = std::filesystem;
namespace si = store_internal;
constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'764'115'200'000;  // 2025-11-26T00:00:00Z

// A normaliser whose fields are not all verbatim in the raw text, as the real parsers' are: a
// constant category on every record; "v6", an IPv6 address in any spelling, becomes
// destination.ip in canonical form; "hex", an IPv4 address as 8 hex digits, becomes source.ip
// dotted (a value present only after normalisation); "n" is copied as a number + 1000.
void DerivingNormalize(Record& r) {
  TestNormalize(r);
  SetField(r.fields(), "event.category", "network");
  if (const auto* v = FindField(r.fields(), "v6"); v != nullptr && v->is_string()) {
    if (auto ip = IpAddress::Parse(v->get_string())) {
      SetField(r.fields(), "destination.ip", boost::json::string(ip->ToString()));
    }
  }
  if (const auto* h = FindField(r.fields(), "hex"); h != nullptr && h->is_string()) {
    const std::string_view s = h->get_string();
    uint32_t n = 0;
    if (s.size() == 8 && std::from_chars(s.data(), s.data() + 8, n, 16).ptr == s.data() + 8) {
      SetField(r.fields(), "source.ip", boost::json::string(IpAddress::V4(n).ToString()));
    }
  }
  if (const auto* n = FindField(r.fields(), "n"); n != nullptr && n->is_int64()) {
    SetField(r.fields(), "shifted", n->get_int64() + 1000);
  }
}

Record Raw(int64_t time_ms, std::string raw, std::string tenant = "t1") {
  Record r;
  r.time_ms = time_ms;
  r.received_ms = time_ms + 1000;
  r.format = Format::kJson;
  r.source = "spool:Test";
  r.peer = "192.0.2.10";
  r.tenant = std::move(tenant);
  r.raw = std::move(raw);
  DerivingNormalize(r);
  return r;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class StoreSearchTest : public StoreDirTest {
 protected:
  StoreSearchTest() : StoreDirTest("soc_store_search") {}
  EmbeddedStoreOptions Options() {
    EmbeddedStoreOptions o;
    o.directory = dir_;
    o.normalize = DerivingNormalize;
    o.block_records = 64;
    o.sync = false;
    return o;
  }
  void Open() { OpenStore(Options()); }
  std::vector<uint64_t> Find(std::string_view q, SearchStats* stats_out = nullptr) {
    auto query = ParseQuery(q);
    EXPECT_TRUE(query) << q;
    std::vector<uint64_t> out;
    if (!query) return out;
    SearchOptions opts;
    opts.limit = 100000;
    auto stats = store_->Search(*query, opts, [&](const Record& r) {
      out.push_back(r.seq);
      return true;
    });
    EXPECT_TRUE(stats) << q << ": " << (stats ? "" : stats.error().message);
    if (stats && stats_out != nullptr) *stats_out = *stats;
    return out;
  }
  // The meta of the first block of the only partition file.
  si::BlockMeta FirstMeta(fs::path* file) {
    std::vector<fs::path> blk;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file() && e.path().extension() == ".blk") blk.push_back(e.path());
    }
    EXPECT_EQ(blk.size(), 1u);
    si::BlockMeta m;
    if (blk.size() != 1) return m;
    *file = blk[0];
    const std::string bytes = ReadAll(blk[0]);
    std::string why;
    EXPECT_TRUE(
        si::ParseBlockHeader(std::string_view(bytes).substr(si::kFileHeaderBytes), &m, &why));
    EXPECT_TRUE(si::ParseBlockMeta(
        std::string_view(bytes).substr(si::kFileHeaderBytes + si::kBlockHeaderBytes, m.meta_len),
        &m, &why))
        << why;
    return m;
  }
};

// 300 ordinary records, then the special ones: every query's results after Compact() (records
// rejected on their raw text) equal those before it (every record normalised).
TEST_F(StoreSearchTest, RawTextPrefilterRejectsOnlyWhatCannotMatch) {
  Open();
  std::vector<Record> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(Raw(kT0 + i, R"({"source":{"ip":"10.0.)" + std::to_string(i % 7) + "." +
                                     std::to_string(i) + R"("},"n":)" + std::to_string(i) +
                                     R"(,"note":"word)" + std::to_string(i % 10) + R"("})"));
  }
  const std::vector<std::string> special = {
      // The address verbatim in a field.
      R"({"source":{"ip":"203.0.113.77"},"note":"verbatim"})",
      // The address only after normalisation (hex), nowhere in the raw text.
      R"({"hex":"cb00714d","note":"hexonly"})",
      // An IPv6 address written in a non-canonical form, upper case.
      R"({"v6":"2001:DB8:0:0:0:0:0:77","note":"sixer"})",
      // The address as text in an unrelated field (full text finds it, source.ip does not).
      R"({"source":{"ip":"10.9.9.9"},"note":"seen 203.0.113.77 once"})",
      // JSON escapes: the address and a word spelled differently in the raw text.
      R"({"source":{"ip":"203.0.113.\u0037\u0037"},"note":"esc\u0061ped"})",
      // A near miss: the address as part of a longer one.
      R"({"source":{"ip":"203.0.113.770"},"note":"longer"})",
  };
  for (size_t i = 0; i < special.size(); ++i) batch.push_back(Raw(kT0 + 1000 + i, special[i]));
  batch.push_back(Raw(kT0 + 2000, R"({"note":"other tenant 203.0.113.77"})", "t2"));
  ASSERT_TRUE(store_->Append(batch, {}));
  const std::vector<std::string> queries = {
      "203.0.113.77",
      "source.ip:203.0.113.77",
      "source.ip:203.0.113.0/24",
      "source.ip:203.0.113.*",
      "event.category:network",
      "event.category:network AND NOT source.ip:10.0.0.0/8",
      "source.ip:203.0.113.77 OR note:sixer",
      "note:verbatim OR hexonly",
      "shifted:[1100 TO 1105]",
      "shifted:1250",
      "n:[5 TO 7] AND note:word6",
      "destination.ip:\"2001:db8::77\"",
      "\"2001:db8::77\"",
      "escaped",
      "note:escaped",
      "tenant.id:t2 AND 203.0.113.77",
      "test",
      "seccloud.soc.source:\"spool:Test\"",
      "NOT source.ip:203.0.113.77 AND note:longer",
      "word3 AND source.ip:10.0.3.10",
  };
  std::vector<std::vector<uint64_t>> before;
  for (const auto& q : queries) before.push_back(Find(q));
  // Sanity: the special records are found by what only their normalised fields hold.
  EXPECT_EQ(before[0].size(), 3u);  // the raw texts: verbatim, text, other tenant
  EXPECT_EQ(before[1].size(), 3u);  // the fields: verbatim, hex, escaped
  EXPECT_EQ(before[4].size(), 307u);
  EXPECT_EQ(before[11].size(), 1u);
  EXPECT_EQ(before[14].size(), 1u);
  EXPECT_EQ(before[17].size(), 307u);

  ASSERT_TRUE(store_->Compact(kT0 + kDay));
  fs::path file;
  const si::BlockMeta m = FirstMeta(&file);
  EXPECT_EQ(m.version, 7u);
  EXPECT_EQ(m.bloom_k, 0u);
  EXPECT_EQ(m.records, 307u);
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ(Find(queries[i]), before[i]) << queries[i];
  }
  // No record is flagged (the category is in none of their raw texts), and the hex and escaped
  // records put the address among the block's field-only tokens: every record is normalised.
  SearchStats stats;
  EXPECT_EQ(Find("source.ip:203.0.113.77", &stats).size(), 3u);
  EXPECT_EQ(stats.records_scanned, 307u);
  // As full text, the query also requires the words 203, 113 and 77, which no field holds
  // outside its raw text: only records whose raw text holds all three are normalised (the
  // verbatim, text, other tenant and longer ones).
  EXPECT_EQ(Find("203.0.113.77", &stats).size(), 3u);
  EXPECT_EQ(stats.records_scanned, 4u);
  EXPECT_EQ(stats.records_rejected_raw, 303u);
  // A token no field holds outside its raw text: records without it are not normalised.
  EXPECT_EQ(Find("word3", &stats).size(), 30u);
  EXPECT_EQ(stats.records_scanned, 30u);
  // A token only fields hold: every record is normalised.
  EXPECT_EQ(Find("event.category:network", &stats).size(), 307u);
  EXPECT_EQ(stats.records_scanned, 307u);
  auto report = store_->Verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->problems.empty()) << report->problems[0];
}

// A block holding the address only in raw texts: records without it are rejected unnormalised
// although none carries kFlagFieldsInRaw; the same block read as version 6 (whose token sets
// hold no field-only tokens) normalises every record and finds the same.
TEST_F(StoreSearchTest, VersionSevenBlocksPrefilterUnflaggedRecords) {
  Open();
  std::vector<Record> batch;
  for (int i = 0; i < 200; ++i) {
    batch.push_back(Raw(kT0 + i, R"({"source":{"ip":"10.1.0.)" + std::to_string(i) + R"("}})"));
  }
  batch.push_back(Raw(kT0 + 500, R"({"source":{"ip":"203.0.113.77"}})"));
  batch.push_back(Raw(kT0 + 501, R"({"message":"from 203.0.113.77"})"));
  ASSERT_TRUE(store_->Append(batch, {}));
  ASSERT_TRUE(store_->Compact(kT0 + kDay));
  SearchStats stats;
  EXPECT_EQ(Find("203.0.113.77", &stats).size(), 2u);
  EXPECT_EQ(stats.records_scanned, 2u);
  EXPECT_EQ(Find("source.ip:203.0.113.77", &stats).size(), 1u);
  EXPECT_EQ(stats.records_scanned, 2u);
  EXPECT_EQ(Find("event.category:network AND source.ip:203.0.113.77", &stats).size(), 1u);
  EXPECT_EQ(stats.records_scanned, 2u);
  EXPECT_EQ(Find("event.category:network", &stats).size(), 202u);
  EXPECT_EQ(stats.records_scanned, 202u);

  // Rewrite the block's meta version to 6 (checksums mended): the field-only tokens it holds
  // then prove nothing, so no unflagged record may be rejected on its raw text.
  store_.reset();
  fs::path file;
  const si::BlockMeta m = FirstMeta(&file);
  ASSERT_EQ(m.version, 7u);
  std::string bytes = ReadAll(file);
  const size_t meta_at = si::kFileHeaderBytes + si::kBlockHeaderBytes;
  ASSERT_EQ(bytes[meta_at], 7);
  bytes[meta_at] = 6;
  std::string crc;
  si::PutU32(crc, si::Crc32c(std::string_view(bytes).substr(meta_at, m.meta_len)));
  bytes.replace(si::kFileHeaderBytes + 16, 4, crc);
  crc.clear();
  si::PutU32(crc, si::Crc32c(std::string_view(bytes).substr(si::kFileHeaderBytes, 28)));
  bytes.replace(si::kFileHeaderBytes + 28, 4, crc);
  {
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  Open();
  EXPECT_EQ(FirstMeta(&file).version, 6u);
  EXPECT_EQ(Find("203.0.113.77", &stats).size(), 2u);
  EXPECT_EQ(stats.records_scanned, 202u);
  EXPECT_EQ(Find("source.ip:203.0.113.77", &stats).size(), 1u);
  EXPECT_EQ(stats.records_scanned, 202u);
}

// With the archive level equal to the ingest level, a partition of one sealed ingest block is
// still Compact()ed: its Bloom filter becomes a token set and its records get their flags.
TEST_F(StoreSearchTest, IngestBlockAtTheArchiveLevelIsCompacted) {
  auto o = Options();
  o.block_records = 1000;
  o.archive_level = o.ingest_level;
  store_.reset();
  auto opened = OpenEmbeddedStore(o);
  ASSERT_TRUE(opened) << opened.error().message;
  store_ = std::move(*opened);
  std::vector<Record> batch;
  for (int i = 0; i < 100; ++i) {
    batch.push_back(Raw(kT0 + i, R"({"source":{"ip":"10.3.0.)" + std::to_string(i) + R"("}})"));
  }
  ASSERT_TRUE(store_->Append(batch, {}));
  ASSERT_TRUE(store_->Flush());
  fs::path file;
  EXPECT_NE(FirstMeta(&file).bloom_k, 0u);
  SearchStats stats;
  EXPECT_EQ(Find("source.ip:10.3.0.7", &stats).size(), 1u);
  EXPECT_EQ(stats.records_scanned, 100u);
  ASSERT_TRUE(store_->Compact(kT0 + kDay));
  const si::BlockMeta m = FirstMeta(&file);
  EXPECT_EQ(m.bloom_k, 0u);
  EXPECT_EQ(m.version, 7u);
  EXPECT_EQ(m.level, static_cast<uint32_t>(o.archive_level));
  EXPECT_EQ(Find("source.ip:10.3.0.7", &stats).size(), 1u);
  EXPECT_EQ(stats.records_scanned, 11u);  // the raw texts holding 10.3.0.7, 10.3.0.70-79
}

}  // namespace
}  // namespace seccloud::soc
