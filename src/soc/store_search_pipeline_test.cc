// R18: a search decodes its candidate blocks on several threads (OrderedPipeline) and merges
// them on its own: the records, their order, the limit, the cursor, newest-first, cancellation,
// the stats and the report of a damaged block are the same as with one thread.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "soc/ordered_pipeline.h"
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

TEST(OrderedPipelineTest, ResultsComeInOrderWithinTheWindow) {
  for (size_t threads : {0, 1, 2, 5}) {
    SCOPED_TRACE(threads);
    constexpr size_t kN = 200, kWindow = 3;
    std::atomic<size_t> taken{0};
    std::atomic<bool> beyond_window{false};
    OrderedPipeline<std::vector<int>> p(kN, threads, kWindow, [&](size_t i, std::vector<int>* out) {
      if (i >= taken.load() + kWindow) beyond_window = true;  // Take(i) lets below i + window start
      // Uneven work, so that later items often finish first.
      if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      out->assign(i % 5 + 1, static_cast<int>(i));
    });
    for (size_t i = 0; i < kN; ++i) {
      const std::vector<int> got = p.Take(i);
      ASSERT_EQ(got, std::vector<int>(i % 5 + 1, static_cast<int>(i)));
      taken = i + 1;
    }
    EXPECT_FALSE(beyond_window.load());
  }
}

TEST(OrderedPipelineTest, StopsEarlyWithoutWaitingForTheRest) {
  std::atomic<size_t> started{0};
  {
    OrderedPipeline<int> p(100000, 2, 2, [&](size_t i, int* out) {
      ++started;
      *out = static_cast<int>(i);
    });
    EXPECT_EQ(p.Take(0), 0);
    EXPECT_EQ(p.Take(1), 1);
  }                               // destroyed with items left: joins at once
  EXPECT_LE(started.load(), 3u);  // items 0, 1 (first Take: two threads), 2 (second, window 2)
}

// An exception a worker's item throws reaches the consumer at Take of that item (as it would with
// no workers), the items around it are unaffected, and the pipeline is destroyed cleanly.
TEST(OrderedPipelineTest, AnItemsExceptionIsRethrownByItsTake) {
  for (size_t threads : {0, 1, 2}) {
    SCOPED_TRACE(threads);
    OrderedPipeline<int> p(10, threads, 3, [&](size_t i, int* out) {
      if (i == 3) throw std::runtime_error("item 3");
      *out = static_cast<int>(i);
    });
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(p.Take(i), static_cast<int>(i));
    EXPECT_THROW(p.Take(3), std::runtime_error);
    EXPECT_EQ(p.Take(4), 4);
  }
}

// first_window 1: nothing but the first item starts before it is taken, whatever the threads.
TEST(OrderedPipelineTest, FirstWindowOfOneStartsOnlyTheFirstItem) {
  for (size_t threads : {1, 2, 4}) {
    std::atomic<size_t> started{0};
    {
      OrderedPipeline<int> p(
          100, threads, threads + 1,
          [&](size_t i, int* out) {
            ++started;
            *out = static_cast<int>(i);
          },
          /*first_window=*/1);
      EXPECT_EQ(p.Take(0), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(started.load(), 1u) << threads;
  }
}

// A consumer that takes only the first item (a search whose first block fills its limit) has
// had only the items its threads started beside it worked on.
TEST(OrderedPipelineTest, FirstItemAloneStartsOnlyOnePerThread) {
  for (size_t threads : {1, 2, 3}) {
    std::atomic<size_t> started{0};
    {
      OrderedPipeline<int> p(100, threads, threads + 1, [&](size_t i, int* out) {
        ++started;
        *out = static_cast<int>(i);
      });
      EXPECT_EQ(p.Take(0), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_LE(started.load(), threads) << threads;
  }
}

// A store of many small blocks: two days Compact()ed into blocks of 150 records (version 7, token
// sets), a third day in ingest blocks of 40 (Bloom filters), and records still in memory. Many
// records share their millisecond; the needle is in every 37th record's raw text, "word<k>" in
// each, and three tenants take turns.
class SearchPipelineTest : public StoreDirTest {
 protected:
  SearchPipelineTest() : StoreDirTest("soc_search_pipeline") {}

  EmbeddedStoreOptions Options(size_t threads) {
    EmbeddedStoreOptions o;
    o.directory = dir_;
    o.normalize = TestNormalize;
    o.block_records = 40;
    o.archive_block_records = 150;
    o.archive_level = 1;
    o.sync = false;
    o.search_threads = threads;
    return o;
  }
  static Record Make(int i, int64_t time_ms) {
    Record r;
    r.time_ms = time_ms;
    r.received_ms = time_ms + 5;
    r.format = Format::kJson;
    r.source = "spool:Test";
    r.peer = "192.0.2.10";
    r.tenant = "t" + std::to_string(i % 3);
    const std::string ip = i % 37 == 0 ? "203.0.113.77" : "10.0." + std::to_string(i % 200) + ".1";
    r.raw = R"({"source":{"ip":")" + ip + R"("},"note":"word)" + std::to_string(i % 11) + R"("})";
    return r;
  }
  void Fill() {
    OpenStore(Options(1));
    int i = 0;
    for (int day = 0; day < 3; ++day) {
      std::vector<Record> batch;
      for (int k = 0; k < 1500; ++k, ++i) batch.push_back(Make(i, kT0 + day * kDay + k / 3 * 1000));
      ASSERT_TRUE(store_->Append(batch, {}));
      ASSERT_TRUE(store_->Flush());
      if (day == 1) ASSERT_TRUE(store_->Compact(kT0 + 2 * kDay));
    }
    std::vector<Record> batch;
    for (int k = 0; k < 25; ++k, ++i) batch.push_back(Make(i, kT0 + 2 * kDay + 600'000 + k));
    ASSERT_TRUE(store_->Append(batch, {}));
    records_ = i;
  }

  struct Answer {
    std::vector<std::pair<int64_t, uint64_t>> keys;  // (time, seq) as delivered
    SearchStats stats;
  };
  Answer Run(std::string_view q, const SearchOptions& opts,
             const std::function<bool(const Record&)>& also = nullptr) {
    Answer a;
    auto query = ParseQuery(q);
    EXPECT_TRUE(query) << q;
    if (!query) return a;
    auto stats = store_->Search(*query, opts, [&](const Record& r) {
      a.keys.emplace_back(r.time_ms, r.seq);
      return also ? also(r) : true;
    });
    EXPECT_TRUE(stats) << q << ": " << (stats ? "" : stats.error().message);
    if (stats) a.stats = *stats;
    return a;
  }
  static void ExpectSameStats(const SearchStats& a, const SearchStats& b) {
    EXPECT_EQ(a.blocks_total, b.blocks_total);
    EXPECT_EQ(a.blocks_read, b.blocks_read);
    EXPECT_EQ(a.blocks_ruled_out, b.blocks_ruled_out);
    EXPECT_EQ(a.blocks_corrupt, b.blocks_corrupt);
    EXPECT_EQ(a.records_scanned, b.records_scanned);
    EXPECT_EQ(a.records_rejected_raw, b.records_rejected_raw);
    EXPECT_EQ(a.records_matched, b.records_matched);
    EXPECT_EQ(a.truncated, b.truncated);
    EXPECT_EQ(a.cancelled, b.cancelled);
    EXPECT_EQ(a.problems, b.problems);
  }
  // The searches compared: queries × limits × cursors × order × tenants × time ranges.
  struct Case {
    std::string query;
    SearchOptions opts;
  };
  std::vector<Case> Cases(const std::vector<std::string>& queries) {
    std::vector<Case> cases;
    for (const auto& q : queries) {
      for (bool newest : {false, true}) {
        for (size_t limit : {size_t{1}, size_t{7}, size_t{150}, size_t{100000}}) {
          for (int variant = 0; variant < 4; ++variant) {
            Case c{q, {}};
            c.opts.newest_first = newest;
            c.opts.limit = limit;
            if (variant == 1) c.opts.tenants = {"t1", "t2"};
            if (variant == 2) {
              c.opts.since_ms = kT0 + 100'000;
              c.opts.until_ms = kT0 + 2 * kDay + 300'000;
            }
            if (variant == 3) {  // resume inside a millisecond several records share
              c.opts.after = SearchCursor{kT0 + kDay + 250'000, 0};
            }
            cases.push_back(std::move(c));
          }
        }
      }
    }
    return cases;
  }

  int records_ = 0;
};

TEST_F(SearchPipelineTest, ManyBlocksSameAnswersAsOneThread) {
  Fill();
  OpenStore(Options(1));  // as every later opening finds the store (the journal replayed)
  const std::vector<std::string> queries = {"203.0.113.77", "source.ip:203.0.113.77", "word3",
                                            "word3 AND tenant.id:t1", "*"};
  // The full answers, one thread, oldest first: what every limit and cursor must cut from.
  std::vector<Answer> full;
  for (const auto& q : queries) {
    SearchOptions o;
    o.limit = 100000;
    full.push_back(Run(q, o));
  }
  EXPECT_EQ(full[0].keys.size(), static_cast<size_t>((records_ + 36) / 37));
  EXPECT_EQ(full[4].keys.size(), static_cast<size_t>(records_));
  EXPECT_GT(full[0].stats.blocks_ruled_out, 0u);
  EXPECT_GT(full[0].stats.records_rejected_raw, 0u);  // the threads' raw-text path is exercised
  const auto cases = Cases(queries);
  std::vector<Answer> one;
  for (const auto& c : cases) one.push_back(Run(c.query, c.opts));
  for (size_t threads : {2, 3}) {
    OpenStore(Options(threads));
    for (size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      SCOPED_TRACE(c.query + " threads " + std::to_string(threads) + " case " + std::to_string(i));
      const Answer got = Run(c.query, c.opts);
      EXPECT_EQ(got.keys, one[i].keys);
      ExpectSameStats(got.stats, one[i].stats);
      if (!c.opts.tenants.empty() || c.opts.since_ms != INT64_MIN) continue;
      // Without tenants or a time range: the full answer, in the order asked, after the cursor,
      // cut at the limit.
      const size_t q = std::find(queries.begin(), queries.end(), c.query) - queries.begin();
      auto all = full[q].keys;
      if (c.opts.newest_first) std::reverse(all.begin(), all.end());
      std::vector<std::pair<int64_t, uint64_t>> want;
      for (const auto& k : all) {
        if (c.opts.after) {
          const std::pair<int64_t, uint64_t> at{c.opts.after->time_ms, c.opts.after->seq};
          if (c.opts.newest_first ? !(k < at) : !(at < k)) continue;
        }
        if (want.size() < c.opts.limit) want.push_back(k);
      }
      EXPECT_EQ(got.keys, want);
    }
  }
}

TEST_F(SearchPipelineTest, SinkStopAndCancelAsWithOneThread) {
  Fill();
  std::atomic<bool> cancel{false};
  auto run_all = [&](size_t threads) {
    OpenStore(Options(threads));
    std::vector<Answer> out;
    SearchOptions o;
    o.limit = 100000;
    // The sink stops after 5 records.
    size_t n = 0;
    out.push_back(Run("word3", o, [&](const Record&) { return ++n < 5; }));
    EXPECT_EQ(out.back().keys.size(), 5u);
    EXPECT_TRUE(out.back().stats.truncated);
    // Cancelled before it starts: nothing delivered.
    cancel = true;
    o.cancel = &cancel;
    out.push_back(Run("*", o));
    EXPECT_TRUE(out.back().keys.empty());
    EXPECT_TRUE(out.back().stats.cancelled);
    // Cancelled by the first record delivered: nothing after the records already merged.
    cancel = false;
    out.push_back(Run("*", o, [&](const Record&) {
      cancel = true;
      return true;
    }));
    EXPECT_TRUE(out.back().stats.cancelled);
    EXPECT_LT(out.back().keys.size(), static_cast<size_t>(records_));
    cancel = false;
    return out;
  };
  const auto one = run_all(1);
  const auto three = run_all(3);
  ASSERT_EQ(one.size(), three.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(three[i].keys, one[i].keys) << i;
    EXPECT_EQ(three[i].stats.cancelled, one[i].stats.cancelled) << i;
    EXPECT_EQ(three[i].stats.truncated, one[i].stats.truncated) << i;
  }
}

// A damaged body in the middle of a Compact()ed partition: reported once, its records missing,
// every other block's delivered in order — as with one thread.
TEST_F(SearchPipelineTest, DamagedBlockReportedOnce) {
  Fill();
  store_.reset();
  std::vector<fs::path> blk;
  for (const auto& e : fs::recursive_directory_iterator(dir_)) {
    if (e.is_regular_file() && e.path().extension() == ".blk") blk.push_back(e.path());
  }
  std::sort(blk.begin(), blk.end());
  ASSERT_FALSE(blk.empty());
  // The third block of the first (Compact()ed, day one) partition file.
  std::string bytes;
  {
    std::ifstream in(blk[0], std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t at = si::kFileHeaderBytes;
  si::BlockMeta m;
  for (int b = 0; b < 3; ++b) {
    std::string why;
    ASSERT_LT(at + si::kBlockHeaderBytes, bytes.size());
    ASSERT_TRUE(si::ParseBlockHeader(std::string_view(bytes).substr(at), &m, &why)) << why;
    if (b < 2) at += si::kBlockHeaderBytes + m.meta_len + m.bloom_len + m.body_len;
  }
  std::string why;
  ASSERT_TRUE(si::ParseBlockMeta(
      std::string_view(bytes).substr(at + si::kBlockHeaderBytes, m.meta_len), &m, &why))
      << why;
  ASSERT_GT(m.records, 0u);
  const uint64_t flip = at + si::kBlockHeaderBytes + m.meta_len + m.bloom_len + 10;
  ASSERT_LT(flip, bytes.size());
  bytes[flip] = static_cast<char>(bytes[flip] ^ 0x55);
  {
    std::ofstream f(blk[0], std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::vector<Answer> answers;
  for (size_t threads : {1, 3}) {
    OpenStore(Options(threads));
    SearchOptions o;
    o.limit = 100000;
    answers.push_back(Run("*", o));
    const Answer& a = answers.back();
    EXPECT_EQ(a.stats.blocks_corrupt, 1u);
    ASSERT_EQ(a.stats.problems.size(), 1u);
    EXPECT_NE(a.stats.problems[0].find(blk[0].string() + " at offset " + std::to_string(at)),
              std::string::npos)
        << a.stats.problems[0];
    EXPECT_EQ(a.keys.size(), static_cast<size_t>(records_) - m.records);
    EXPECT_TRUE(std::is_sorted(a.keys.begin(), a.keys.end()));
  }
  EXPECT_EQ(answers[0].keys, answers[1].keys);
  ExpectSameStats(answers[0].stats, answers[1].stats);
}

}  // namespace
}  // namespace seccloud::soc
