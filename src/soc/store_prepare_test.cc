// LogStore::Prepare / AppendPrepared (R18, R19): the token hashes taken right after Normalize
// must be exactly those Append computes itself, so a store fed either way writes the same
// blocks (same Bloom filters) and answers the same searches.

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <set>

#include "soc/parse.h"
#include "soc/query_internal.h"
#include "soc/store.h"
#include "soc/store_internal.h"
#include "soc/store_test_fixture.h"
#include "soc/store_testing_internal.h"

namespace seccloud::soc {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kT0 = 1'764'115'200'000;  // 2025-11-26T00:00:00Z

// Lines of every format and of the token rules' corner cases: dotted quads (joined and not),
// long hex runs, 5+ digit numbers, words at the length limit, nested objects and arrays,
// numbers that are and are not indexed integers, booleans, non-ASCII bytes, text fields.
std::vector<Record> VariedRecords(size_t n) {
  const std::vector<std::pair<Format, std::string>> shapes = {
      {Format::kSyslog,
       "<38>Nov 26 10:00:01 web01 sshd[4242]: Failed password for root from 203.0.113.7 port "
       "52211 ssh2"},
      {Format::kSyslog,
       "<86>1 2025-11-26T10:00:02.123Z host-b sudo - - - alice : TTY=pts/0 ; "
       "PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id"},
      {Format::kAccessLog,
       R"(198.51.100.20 - - [26/Nov/2025:10:00:03 +0000] "GET /wp-login.php?x=1.2.3.4.5 HTTP/1.1" 404 153 "-" "curl/8.0")"},
      {Format::kJson,
       R"({"event":{"dataset":"proxy.access","action":"blocked"},"source":{"ip":"10.1.2.3","port":51515},"url":{"full":"http://evil.example/a?b=DEADBEEF00112233"},"tags":["x","y",{"deep":{"k":"v"}},[1,2]],"n":12.5,"m":-7,"big":12345678901,"ok":true,"message":"user Émile logged in from 192.0.2.1.5"})"},
      {Format::kSuricataEve,
       R"({"timestamp":"2025-11-26T10:00:04.000000+0000","event_type":"alert","src_ip":"192.0.2.44","dest_ip":"10.0.0.9","src_port":4444,"dest_port":80,"proto":"TCP","alert":{"signature":"ET POLICY curl User-Agent","signature_id":2013028,"severity":3}})"},
      {Format::kWindowsEvent,
       R"({"Event":{"System":{"EventID":4625,"Computer":"DC01.corp.example","TimeCreated":{"SystemTime":"2025-11-26T10:00:05.000Z"}},"EventData":{"Data":[{"Name":"TargetUserName","#text":"administrator"},{"Name":"IpAddress","#text":"172.16.5.5"}]}}})"},
      {Format::kText,
       "081109 203615 148 INFO dfs.DataNode$PacketResponder: Received block "
       "blk_-1608999687919862906 of size 91178 from /10.250.19.102"},
      {Format::kText, std::string(300, 'a') + " " + std::string(70, 'b') + " 1.2.3 9.8.7.6.5.4"},
  };
  std::vector<Record> out;
  std::mt19937 rng(7);
  for (size_t i = 0; i < n; ++i) {
    const auto& [format, raw] = shapes[i % shapes.size()];
    Record r;
    r.format = format;
    // Several days and classes, so records go to many partitions and blocks.
    r.time_ms = kT0 + static_cast<int64_t>(i % 3) * 86'400'000 + static_cast<int64_t>(i) * 1000;
    r.received_ms = r.time_ms + 5;
    r.source = "file:" + std::to_string(i % 5);
    r.peer = "192.0.2." + std::to_string(i % 7);
    r.tenant = i % 4 == 0 ? "" : "tenant" + std::to_string(i % 3);
    // A unique token per record, and a random number, so blocks differ.
    r.raw = raw + " uniq" + std::to_string(i) + " r" + std::to_string(rng() % 100000);
    if (format == Format::kJson) r.raw = raw;  // stays JSON: its fields vary through Normalize
    out.push_back(std::move(r));
  }
  return out;
}

class StorePrepareTest : public StoreDirTest {
 protected:
  StorePrepareTest() : StoreDirTest("soc_store_prepare") {}

  EmbeddedStoreOptions Options(const fs::path& dir) {
    EmbeddedStoreOptions o;
    o.directory = dir;
    o.normalize = Normalize;
    o.block_records = 50;  // several sealed blocks per partition, sealed inside a batch
    o.sync = false;
    return o;
  }
};

TEST_F(StorePrepareTest, PrepareYieldsTheHashesOfEveryIndexToken) {
  OpenStore(Options(dir_));
  for (Record r : VariedRecords(64)) {
    Normalize(r);
    std::vector<uint64_t> want;
    ForEachRecordToken(r.raw, r.fields(),
                       [&](std::string_view t) { want.push_back(store_internal::TokenHash(t)); });
    PreparedBatch prepared;
    store_->Prepare(r, &prepared);
    ASSERT_EQ(prepared.ends.size(), 1u);
    EXPECT_EQ(prepared.ends[0], prepared.hashes.size());
    // As sets (the Bloom filter's bits depend on the set only): Prepare skips a text field
    // whose words raw has (a syslog message), and values hash in another order of work.
    EXPECT_EQ(std::set<uint64_t>(prepared.hashes.begin(), prepared.hashes.end()),
              std::set<uint64_t>(want.begin(), want.end()))
        << r.raw;
    EXPECT_LE(prepared.hashes.size(), want.size());
    ASSERT_EQ(prepared.dataset_of.size(), 1u);
    const auto* dataset = FindField(r.fields(), "event.dataset");
    ASSERT_NE(dataset, nullptr);
    EXPECT_EQ(prepared.datasets.at(prepared.dataset_of[0]),
              std::string_view(dataset->get_string()));
    EXPECT_FALSE(want.empty());
  }
}

// A text record of `raw`, normalised: the token hashes Prepare takes for it, and the hashes of
// every index token ForEachRecordToken yields for it (what they must equal).
std::pair<std::set<uint64_t>, std::set<uint64_t>> PreparedAndIndexTokenHashes(
    const LogStore& store, const std::string& raw) {
  Record r;
  r.format = Format::kText;
  r.time_ms = kT0;
  r.received_ms = kT0;
  r.source = "file:dense";
  r.raw = raw;
  Normalize(r);
  std::set<uint64_t> want;
  ForEachRecordToken(r.raw, r.fields(),
                     [&](std::string_view t) { want.insert(store_internal::TokenHash(t)); });
  PreparedBatch prepared;
  store.Prepare(r, &prepared);
  return {std::set<uint64_t>(prepared.hashes.begin(), prepared.hashes.end()), want};
}

// The store writes a raw text's token hashes into a buffer of raw.size() + 1 (on the stack up to
// 1,024): texts with the most tokens per byte TextTokens allows (two-byte words, dotted quads of
// them, each word also a token), short and past the stack buffer, must still give every token
// (under ASan an overrun of the buffer fails here too).
TEST_F(StorePrepareTest, PrepareHashesTextsDenseWithTokensShortAndLong) {
  OpenStore(Options(dir_));
  std::vector<std::string> raws = {"", "a", "ab", "1.2.3.4", "12.34.56.78.90"};
  for (size_t n : {size_t{1023}, size_t{1024}, size_t{1025}, size_t{5000}}) {
    std::string quads, words;
    for (size_t i = 0; quads.size() < n; ++i) quads += std::to_string(10 + i % 90) + ".";
    for (size_t i = 0; words.size() < n; ++i) words += std::string(1, 'a' + i % 26) + "z ";
    raws.push_back(quads.substr(0, n));
    raws.push_back(words.substr(0, n));
  }
  for (const std::string& raw : raws) {
    const auto [got, want] = PreparedAndIndexTokenHashes(*store_, raw);
    EXPECT_EQ(got, want) << raw.size() << " bytes: " << raw.substr(0, 40);
  }
}

// Every token of a raw text past the stack buffer (1,024 hashes) reaches Prepare's hashes (the
// review of prep19): the dense test above repeats its tokens every 78 / 270 bytes, so a tail lost
// past the buffer does not show there; here every word is unique and a marker ends the text.
TEST_F(StorePrepareTest, PrepareKeepsUniqueTokensPastTheStackBuffer) {
  OpenStore(Options(dir_));
  for (size_t n : {size_t{1000}, size_t{1023}, size_t{1024}, size_t{1025}, size_t{1600},
                   size_t{3100}, size_t{5000}}) {
    for (int kind = 0; kind < 3; ++kind) {
      std::string raw;
      for (size_t i = 0; raw.size() < n; ++i) {
        if (kind == 0) raw += "w" + std::to_string(i) + " ";      // unique words
        if (kind == 1) raw += std::to_string(10 + i % 90) + ".";  // dotted quads, dense
        if (kind == 2) raw += std::string(1, static_cast<char>('a' + i % 26)) + "z ";
      }
      raw.resize(n);
      const std::string tail = "tail" + std::to_string(n) + "x" + std::to_string(kind);
      raw += " " + tail;
      const auto [got, want] = PreparedAndIndexTokenHashes(*store_, raw);
      EXPECT_EQ(got, want) << n << " kind " << kind;
      EXPECT_EQ(got.count(store_internal::TokenHash(tail)), 1u) << n << " kind " << kind;
    }
  }
}

std::map<std::string, std::string> FilesUnder(const fs::path& dir, const fs::path& base) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out[fs::relative(e.path(), base).string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

std::map<std::string, std::string> StoredBlocks(const fs::path& dir) {
  return FilesUnder(dir / "data", dir);
}

TEST_F(StorePrepareTest, PreparedAndUnpreparedAppendsWriteTheSameBlocks) {
  const fs::path plain_dir = dir_ / "plain", prepared_dir = dir_ / "prepared";
  auto plain = OpenEmbeddedStore(Options(plain_dir));
  ASSERT_TRUE(plain) << plain.error().message;
  OpenStore(Options(prepared_dir));
  std::vector<Record> all = VariedRecords(1000);
  for (size_t from = 0; from < all.size(); from += 137) {
    std::vector<Record> a(all.begin() + from, all.begin() + std::min(all.size(), from + 137));
    std::vector<Record> b = a;
    PreparedBatch prepared;
    for (size_t i = 0; i < a.size(); ++i) {
      Normalize(a[i]);
      Normalize(b[i]);
      // Every 10th record reaches AppendPrepared without fields: normalised and hashed there.
      if (i % 10 == 3) b[i].fields() = {};
      // And every 10th is prepared without fields but normalised before AppendPrepared (as a
      // retry after a failed Append finds it): hashed there too, not with Prepare's hashes.
      if (i % 10 == 7) b[i].fields() = {};
      store_->Prepare(b[i], &prepared);
      if (i % 10 == 7) Normalize(b[i]);
    }
    const std::vector<Checkpoint> cps = {{"k", std::to_string(from)}};
    ASSERT_TRUE((*plain)->Append(a, cps));
    ASSERT_TRUE(store_->AppendPrepared(b, cps, prepared));
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].seq, b[i].seq);
  }
  ASSERT_TRUE((*plain)->Flush());
  ASSERT_TRUE(store_->Flush());
  const auto want = StoredBlocks(plain_dir);
  const auto got = StoredBlocks(prepared_dir);
  EXPECT_GT(want.size(), 3u);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [path, bytes] : want) {
    ASSERT_TRUE(got.contains(path)) << path;
    EXPECT_TRUE(got.at(path) == bytes) << path << " differs";
  }
  EXPECT_GT((*plain)->Stats().blocks, 10u);
  // And the searches agree, through the Bloom filters and the open blocks.
  for (const char* q : {"uniq997", "203.0.113.7", "event.action:blocked", "administrator",
                        "blk_-1608999687919862906", "uniq13", "nosuchtoken"}) {
    auto query = ParseQuery(q);
    ASSERT_TRUE(query) << q;
    std::vector<uint64_t> seqs[2];
    LogStore* stores[2] = {plain->get(), store_.get()};
    for (int s = 0; s < 2; ++s) {
      auto st = stores[s]->Search(*query, {}, [&](const Record& r) {
        seqs[s].push_back(r.seq);
        return true;
      });
      ASSERT_TRUE(st);
    }
    EXPECT_EQ(seqs[0], seqs[1]) << q;
    if (std::string_view(q) != "nosuchtoken") {
      EXPECT_FALSE(seqs[1].empty()) << q;
    }
  }
}

// Every record prepared (so AppendPrepared writes the journal from the bytes Prepare took and
// files the open blocks from them): the journal segments and the blocks are byte for byte those
// of plain Appends, and a store reopened from that journal alone finds every record.
TEST_F(StorePrepareTest, PreparedRecordBytesWriteTheSameJournalAndBlocks) {
  const fs::path plain_dir = dir_ / "plain", prepared_dir = dir_ / "prepared";
  auto plain = OpenEmbeddedStore(Options(plain_dir));
  ASSERT_TRUE(plain) << plain.error().message;
  OpenStore(Options(prepared_dir));
  std::vector<Record> all = VariedRecords(1000);
  for (size_t i = 0; i < all.size(); i += 9) all[i].truncated = true;
  size_t appended = 0;
  for (size_t from = 0; from < all.size(); from += 137) {
    std::vector<Record> a(all.begin() + from, all.begin() + std::min(all.size(), from + 137));
    std::vector<Record> b = a;
    PreparedBatch prepared;
    for (size_t i = 0; i < a.size(); ++i) {
      Normalize(a[i]);
      Normalize(b[i]);
      store_->Prepare(b[i], &prepared);
    }
    ASSERT_EQ(prepared.record_ends.size(), b.size());
    // Two prepared halves joined (as socd joins its batches into one group).
    PreparedBatch first, second;
    for (size_t i = 0; i < b.size(); ++i)
      store_->Prepare(b[i], i < b.size() / 2 ? &first : &second);
    first.Append(std::move(second));
    EXPECT_EQ(first.records, prepared.records);
    EXPECT_EQ(first.record_ends, prepared.record_ends);
    EXPECT_EQ(first.hashes, prepared.hashes);
    const std::vector<Checkpoint> cps = {{"k", std::to_string(from)}, {"file:x", "12"}};
    ASSERT_TRUE((*plain)->Append(a, cps));
    ASSERT_TRUE(store_->AppendPrepared(b, cps, first));
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].seq, b[i].seq);
    appended += a.size();
  }
  const auto want_journal = FilesUnder(plain_dir / "journal", plain_dir);
  const auto got_journal = FilesUnder(prepared_dir / "journal", prepared_dir);
  ASSERT_FALSE(want_journal.empty());
  ASSERT_EQ(got_journal.size(), want_journal.size());
  size_t journal_bytes = 0;
  for (const auto& [path, bytes] : want_journal) {
    ASSERT_TRUE(got_journal.contains(path)) << path;
    EXPECT_TRUE(got_journal.at(path) == bytes) << path << " differs";
    journal_bytes += bytes.size();
  }
  EXPECT_GT(journal_bytes, 100'000u);
  const auto want = StoredBlocks(plain_dir);
  const auto got = StoredBlocks(prepared_dir);
  EXPECT_GE(want.size(), 1u);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [path, bytes] : want) {
    ASSERT_TRUE(got.contains(path)) << path;
    EXPECT_TRUE(got.at(path) == bytes) << path << " differs";
  }
  // A copy as a crash would leave it (sealed blocks, and the journal holding the rest).
  const fs::path replay_dir = dir_ / "replay";
  fs::copy(prepared_dir, replay_dir, fs::copy_options::recursive);
  ASSERT_TRUE((*plain)->Flush());
  ASSERT_TRUE(store_->Flush());
  const auto want_flushed = StoredBlocks(plain_dir);
  const auto got_flushed = StoredBlocks(prepared_dir);
  EXPECT_GT(want_flushed.size(), 3u);
  ASSERT_EQ(got_flushed.size(), want_flushed.size());
  for (const auto& [path, bytes] : want_flushed) {
    ASSERT_TRUE(got_flushed.contains(path)) << path;
    EXPECT_TRUE(got_flushed.at(path) == bytes) << path << " differs";
  }
  // Reopened from the copy: the journal's records are all there, and found.
  OpenStore(Options(replay_dir));
  EXPECT_EQ(store_->Stats().records, appended);
  for (const char* q : {"uniq997", "uniq13", "administrator", "203.0.113.7"}) {
    auto query = ParseQuery(q);
    ASSERT_TRUE(query) << q;
    std::vector<uint64_t> seqs[2];
    LogStore* stores[2] = {plain->get(), store_.get()};
    for (int s = 0; s < 2; ++s) {
      ASSERT_TRUE(stores[s]->Search(*query, {}, [&](const Record& r) {
        seqs[s].push_back(r.seq);
        return true;
      }));
    }
    EXPECT_EQ(seqs[0], seqs[1]) << q;
    EXPECT_FALSE(seqs[1].empty()) << q;
  }
}

// A record changed between Prepare and AppendPrepared (its times, format, flags or tenant, the
// length of its source, peer or raw text), or prepared bytes that do not parse, are refused
// before anything is written.
TEST_F(StorePrepareTest, RecordsChangedAfterPrepareAreRefused) {
  OpenStore(Options(dir_));
  std::vector<Record> records = VariedRecords(4);
  const std::vector<Checkpoint> cps = {{"k", "v"}};
  PreparedBatch prepared;
  for (auto& r : records) {
    Normalize(r);
    store_->Prepare(r, &prepared);
  }
  auto refused = [&](const std::vector<Record>& rs, const PreparedBatch& p) {
    std::vector<Record> copy = rs;
    auto s = store_->AppendPrepared(copy, cps, p);
    return !s && s.error().code == Errc::kInvalidArgument;
  };
  std::vector<Record> changed = records;
  changed[1].tenant = "someone-else";
  EXPECT_TRUE(refused(changed, prepared));
  changed = records;
  changed[2].raw += "x";
  EXPECT_TRUE(refused(changed, prepared));
  changed = records;
  changed[0].time_ms += 1;
  EXPECT_TRUE(refused(changed, prepared));
  changed = records;
  changed[3].truncated = !changed[3].truncated;
  EXPECT_TRUE(refused(changed, prepared));
  changed = records;
  changed[0].source = "file:other";
  EXPECT_TRUE(refused(changed, prepared));
  changed = records;
  changed[1].peer += ".1";
  EXPECT_TRUE(refused(changed, prepared));
  PreparedBatch garbage = prepared;
  for (size_t i = 0; i < garbage.records.size(); i += 7) garbage.records[i] = '\xff';
  EXPECT_TRUE(refused(records, garbage));
  PreparedBatch cut = prepared;
  cut.records.pop_back();
  EXPECT_TRUE(refused(records, cut));
  cut.record_ends.back() = static_cast<uint32_t>(cut.records.size());
  EXPECT_TRUE(refused(records, cut));
  PreparedBatch short_ends = prepared;
  short_ends.record_ends.pop_back();
  EXPECT_TRUE(refused(records, short_ends));
  PreparedBatch decreasing = prepared;
  decreasing.record_ends[0] = decreasing.record_ends[1] + 1;
  EXPECT_TRUE(refused(records, decreasing));
  EXPECT_EQ(store_->Stats().records, 0u);
  EXPECT_TRUE(store_->LoadCheckpoints()->empty());
  // A batch prepared without the records' bytes is still taken (from the records).
  PreparedBatch no_bytes = prepared;
  no_bytes.records.clear();
  no_bytes.record_ends.clear();
  std::vector<Record> copy = records;
  ASSERT_TRUE(store_->AppendPrepared(copy, cps, no_bytes));
  copy = records;
  ASSERT_TRUE(store_->AppendPrepared(copy, cps, prepared));
  EXPECT_EQ(store_->Stats().records, 8u);
}

TEST_F(StorePrepareTest, MismatchedPreparedBatchIsRefusedAndStoresNothing) {
  OpenStore(Options(dir_));
  std::vector<Record> records = VariedRecords(3);
  const std::vector<Checkpoint> cps = {{"k", "v"}};
  PreparedBatch prepared;
  for (auto& r : records) {
    Normalize(r);
    store_->Prepare(r, &prepared);
  }
  PreparedBatch short_batch = prepared;
  short_batch.ends.pop_back();
  auto s = store_->AppendPrepared(records, cps, short_batch);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
  PreparedBatch past_end = prepared;
  past_end.ends.back() = static_cast<uint32_t>(past_end.hashes.size() + 1);
  EXPECT_FALSE(store_->AppendPrepared(records, cps, past_end));
  PreparedBatch decreasing = prepared;
  decreasing.ends[0] = decreasing.ends[1] + 1;
  EXPECT_FALSE(store_->AppendPrepared(records, cps, decreasing));
  PreparedBatch extra_hash = prepared;
  extra_hash.hashes.push_back(1);
  EXPECT_FALSE(store_->AppendPrepared(records, cps, extra_hash));
  PreparedBatch no_dataset = prepared;
  no_dataset.dataset_of.back() = static_cast<uint32_t>(no_dataset.datasets.size());
  EXPECT_FALSE(store_->AppendPrepared(records, cps, no_dataset));
  PreparedBatch long_dataset = prepared;
  long_dataset.datasets[0].assign(129, 'x');
  EXPECT_FALSE(store_->AppendPrepared(records, cps, long_dataset));
  EXPECT_EQ(store_->Stats().records, 0u);
  EXPECT_TRUE(store_->LoadCheckpoints()->empty());
  // The right one is taken.
  ASSERT_TRUE(store_->AppendPrepared(records, cps, prepared));
  EXPECT_EQ(store_->Stats().records, 3u);
}

}  // namespace
}  // namespace seccloud::soc
