// R18: socd's pipeline commits in groups that grow with the load (one Append for everything
// parsed while the previous commit ran), keeps the records' order and the sources' newest
// positions, and loses nothing.
#include "socd/pipeline.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "core/temp_dir_testing.h"
#include "soc/intel.h"
#include "soc/parse.h"
#include "soc/query.h"
#include "soc/sigma_testing.h"

namespace seccloud::socd {
namespace {

// Forwards to a real store; its first Append waits until released, so that whatever is queued
// meanwhile has to be committed in the next group. Records the size of every Append.
// Prepare and AppendPrepared go to the real store too, so a group made of several prepared
// batches reaches the store's index as the pipeline merged it.
class GatedStore final : public soc::LogStore {
 public:
  explicit GatedStore(std::unique_ptr<soc::LogStore> inner) : inner_(std::move(inner)) {}
  Status Append(std::span<soc::Record> records,
                std::span<const soc::Checkpoint> checkpoints) override {
    Gate(records.size());
    return inner_->Append(records, checkpoints);
  }
  void Prepare(const soc::Record& record, soc::PreparedBatch* out) const override {
    inner_->Prepare(record, out);
  }
  Status AppendPrepared(std::span<soc::Record> records,
                        std::span<const soc::Checkpoint> checkpoints,
                        const soc::PreparedBatch& prepared) override {
    Gate(records.size());
    return inner_->AppendPrepared(records, checkpoints, prepared);
  }
  Result<std::map<std::string, std::string>> LoadCheckpoints() override {
    return inner_->LoadCheckpoints();
  }
  Result<soc::SearchStats> Search(const soc::Query& query, const soc::SearchOptions& options,
                                  const std::function<bool(const soc::Record&)>& sink) override {
    return inner_->Search(query, options, sink);
  }
  Result<std::vector<soc::Record>> GetBySeq(std::span<const uint64_t> seqs) override {
    return inner_->GetBySeq(seqs);
  }
  Result<soc::VerifyReport> Verify() override { return inner_->Verify(); }
  Result<soc::RetentionReport> EnforceRetention(int64_t now_ms) override {
    return inner_->EnforceRetention(now_ms);
  }
  soc::StoreStats Stats() override { return inner_->Stats(); }
  Status Flush() override { return inner_->Flush(); }
  Status Compact(int64_t before_ms) override { return inner_->Compact(before_ms); }

  void WaitEntered() {
    std::unique_lock lock(mu_);
    entered_cv_.wait(lock, [&] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  void Gate(size_t records) {
    std::unique_lock lock(mu_);
    entered_ = true;
    entered_cv_.notify_all();
    released_cv_.wait(lock, [&] { return released_; });
    sizes_.push_back(records);
  }

  std::unique_ptr<soc::LogStore> inner_;
  std::mutex mu_;
  std::condition_variable entered_cv_, released_cv_;
  bool entered_ = false, released_ = false;
  std::vector<size_t> sizes_;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    soc::AlertStoreOptions ao;
    ao.path = (dir_.path() / "alerts.db").string();
    auto alerts = soc::OpenAlertStore(ao);
    ASSERT_TRUE(alerts) << alerts.error().ToString();
    alerts_ = std::move(*alerts);
    soc::EmbeddedStoreOptions so;
    so.directory = dir_.path() / "store";
    so.normalize = soc::Normalize;
    auto s = soc::OpenEmbeddedStore(std::move(so));
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::make_unique<GatedStore>(std::move(*s));
    pipeline_ =
        std::make_unique<Pipeline>(queue_, *store_, *alerts_, nullptr, metrics_, nullptr, nullptr);
  }
  void TearDown() override {
    if (store_) store_->Release();  // a test that failed midway must not leave the commit held
    pipeline_.reset();
    store_.reset();
  }

  // A syslog line numbered `n`, with the position "n" of source "src".
  static IngestItem Item(int n) {
    IngestItem item;
    item.record.format = soc::Format::kSyslog;
    item.record.source = "test";
    item.record.received_ms = 1'780'000'000'000;
    item.record.raw = "<13>Nov 26 03:20:22 host app: line " + std::to_string(n);
    item.checkpoint_key = "src";
    item.checkpoint_value = std::to_string(n);
    return item;
  }

  // The correlation tests' engine: proxy.access transfers ("allowed") and a value_median of
  // destination.bytes per source.ip, keeping at most 2 events a group (so a third is dropped).
  // Null, with the test failed, when the rules do not load or the engine is not built.
  static std::unique_ptr<Detectors> MedianTransferDetectors() {
    soc::DetectionEngineOptions options;
    options.correlation.max_events_per_group = 2;
    auto engine = soc::sigma_testing::CleanEngine(
        soc::sigma_testing::TransferMetricRules("value_median",
                                                "{field: destination.bytes, gte: 1000}", "1h"),
        "m.yml", options);
    if (engine == nullptr) return nullptr;  // CleanEngine named the failure
    auto detectors = std::make_unique<Detectors>();
    detectors->engine = std::move(engine);
    return detectors;
  }

  // A proxy.access event of MedianTransferDetectors' rules: an allowed transfer from `ip` of
  // `bytes` (JSON: a number, or anything else to test a non-numeric value).
  static IngestItem TransferItem(std::string_view ip, std::string_view bytes) {
    IngestItem item;
    item.record.format = soc::Format::kSeccloudEvent;
    item.record.source = "spool";
    item.record.received_ms = 1'780'000'000'000;
    item.record.raw =
        R"({"@timestamp":"2026-06-01T00:00:00.000Z","event":{"dataset":"proxy.access","kind":"event","action":"allowed"},"source":{"ip":")" +
        std::string(ip) + R"("},"destination":{"bytes":)" + std::string(bytes) + "}}";
    return item;
  }

  test::TempDir dir_{"socd-pipeline-test"};  // first: removed after everything using it
  std::unique_ptr<soc::AlertStore> alerts_;
  MetricsRegistry metrics_;
  IngestQueue queue_{200'000};
  std::unique_ptr<GatedStore> store_;
  std::unique_ptr<Pipeline> pipeline_;
};

TEST_F(PipelineTest, RecordsQueuedDuringACommitGoIntoOneGroupInOrder) {
  GatedStore& store = *store_;
  IngestQueue& queue = queue_;
  Pipeline& pipeline = *pipeline_;
  pipeline.Start();
  // The first record is committed alone (nothing else waits); the store holds that commit.
  IngestItem first = Item(0);
  ASSERT_TRUE(queue.TryPush(first));
  store.WaitEntered();
  // Meanwhile 8,000 more arrive: two of the prepare stage's batches, one group.
  constexpr int kMore = 8'000;
  std::vector<IngestItem> items;
  for (int i = 1; i <= kMore; ++i) items.push_back(Item(i));
  size_t next = 0;
  ASSERT_TRUE(queue.PushSome(items, &next));
  ASSERT_EQ(next, items.size());
  // Until the prepare stage has parsed them all and handed them over (nothing is stored yet).
  for (int i = 0; i < 6000 && pipeline.counters().prepared.load() < kMore + 1u; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(pipeline.counters().prepared.load(), kMore + 1u);
  store.Release();
  queue.Close();
  pipeline.Join();

  EXPECT_EQ(pipeline.counters().records.load(), kMore + 1u);
  const std::vector<size_t> sizes = store.sizes();
  ASSERT_GE(sizes.size(), 2u);
  EXPECT_EQ(sizes[0], 1u);
  EXPECT_EQ(sizes[1], static_cast<size_t>(kMore)) << "the waiting records were not one group";
  auto cps = store.LoadCheckpoints();
  ASSERT_TRUE(cps) << cps.error().ToString();
  EXPECT_EQ((*cps)["src"], std::to_string(kMore));  // the newest position of the group
  // Stored in arrival order: seq i is line i.
  std::vector<uint64_t> seqs;
  for (uint64_t s = 1; s <= kMore + 1u; ++s) seqs.push_back(s);
  auto got = store.GetBySeq(seqs);
  ASSERT_TRUE(got) << got.error().ToString();
  ASSERT_EQ(got->size(), kMore + 1u);
  for (size_t i = 0; i < got->size(); ++i) {
    ASSERT_TRUE((*got)[i].raw.ends_with(" line " + std::to_string(i)))
        << "seq " << (*got)[i].seq << ": " << (*got)[i].raw;
  }
  // The group's token hashes were prepared in two batches and merged: once the block is sealed
  // (searched through its token index), a word of a record from either batch is found, once.
  ASSERT_TRUE(store.Flush());
  for (const int n : {7, 4000, 4100, kMore}) {
    auto query = soc::ParseQuery(std::to_string(n));
    ASSERT_TRUE(query);
    std::vector<std::string> found;
    auto stats = store.Search(*query, soc::SearchOptions{}, [&](const soc::Record& r) {
      found.push_back(r.raw);
      return true;
    });
    ASSERT_TRUE(stats) << stats.error().ToString();
    ASSERT_EQ(found.size(), 1u) << n;
    EXPECT_TRUE(found[0].ends_with(" line " + std::to_string(n))) << found[0];
    EXPECT_GE(stats->blocks_read, 1u) << n;
  }
}

TEST_F(PipelineTest, AGroupStaysWithinItsRecordLimit) {
  GatedStore& store = *store_;
  IngestQueue& queue = queue_;
  Pipeline& pipeline = *pipeline_;
  // Everything is queued before the pipeline starts; the store is open from the beginning.
  constexpr int kRecords = 50'000;
  std::vector<IngestItem> items;
  for (int i = 0; i < kRecords; ++i) items.push_back(Item(i));
  size_t next = 0;
  ASSERT_TRUE(queue.PushSome(items, &next));
  store.Release();
  pipeline.Start();
  queue.Close();
  pipeline.Join();
  EXPECT_EQ(pipeline.counters().records.load(), static_cast<uint64_t>(kRecords));
  size_t total = 0;
  for (size_t s : store.sizes()) {
    EXPECT_LE(s, 16'384u);
    total += s;
  }
  EXPECT_EQ(total, static_cast<size_t>(kRecords));
  auto cps = store.LoadCheckpoints();
  ASSERT_TRUE(cps) << cps.error().ToString();
  EXPECT_EQ((*cps)["src"], std::to_string(kRecords - 1));
}

// The prepared hand-over is bounded by what the normalised records hold (Record::MemoryBytes),
// not by their raw bytes: ~8 KiB Windows events whose JSON is an array of zeros hold ~170 KiB
// each once normalised, so 500 of them (4 MiB raw, ~85 MiB normalised) fill the 64 MiB bound
// and the next record waits until the commit stage takes them; counting raw bytes, it would be
// handed over at once (4 MiB + 8 KiB is far from 64 MiB, 502 records from 8,192).
TEST_F(PipelineTest, PreparedRecordsAreBoundedByWhatTheyHoldNotByTheirRawBytes) {
  GatedStore& store = *store_;
  IngestQueue& queue = queue_;
  Pipeline& pipeline = *pipeline_;
  auto hostile = [](int n) {
    IngestItem item;
    item.record.format = soc::Format::kWindowsEvent;
    item.record.source = "test";
    item.record.received_ms = 1'780'000'000'000;
    std::string& raw = item.record.raw;
    // The array is in EventData, which the normaliser builds as a tree in the record's arena
    // (an unused key's is no longer built: winlog.cc reads the document from a tape).
    raw = R"({"Event":{"System":{"EventID":4624,"EventRecordID":)" + std::to_string(n) +
          R"(},"EventData":{"A":"1","Unused":[0)";
    while (raw.size() + 6 <= (size_t{8} << 10)) raw += ",0";
    raw += "]}}}";
    return item;
  };
  {
    soc::Record probe = hostile(0).record;
    soc::Normalize(probe);
    ASSERT_TRUE(probe.parsed);
    ASSERT_GE(probe.MemoryBytes(), size_t{150} << 10) << "the records no longer test the bound";
    ASSERT_LE(probe.MemoryBytes(), size_t{250} << 10) << "a batch of them no longer fits alone";
  }
  // Two batches of 1,000: each alone is under the 256 MiB of the hand-over (so the first goes in
  // even after idle ticks), both together are over it; their raw text is 16 MiB in all. Built
  // before the pipeline starts, so that nothing waits on the test's own work.
  constexpr int kEach = 1000;
  std::vector<IngestItem> first_batch, second_batch;
  for (int i = 1; i <= kEach; ++i) first_batch.push_back(hostile(i));
  for (int i = 1; i <= kEach; ++i) second_batch.push_back(hostile(kEach + i));
  pipeline.Start();
  IngestItem first = Item(0);
  ASSERT_TRUE(queue.TryPush(first));  // committed alone; the store holds that commit
  store.WaitEntered();
  size_t next = 0;
  ASSERT_TRUE(queue.PushSome(first_batch, &next));  // one batch: pushed at once, popped at once
  ASSERT_EQ(next, first_batch.size());
  for (int i = 0; i < 20000 && pipeline.counters().prepared.load() < kEach + 1u; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(pipeline.counters().prepared.load(), kEach + 1u);
  next = 0;
  ASSERT_TRUE(queue.PushSome(second_batch, &next));
  ASSERT_EQ(next, second_batch.size());
  for (int i = 0; i < 200 && pipeline.counters().prepared.load() < 2 * kEach + 1u; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(pipeline.counters().prepared.load(), kEach + 1u)
      << "the hand-over took a batch past 256 MiB of normalised records";
  constexpr int kMany = 2 * kEach;
  // Released, everything is stored, the held record included.
  store.Release();
  queue.Close();
  pipeline.Join();
  EXPECT_EQ(pipeline.counters().prepared.load(), kMany + 1u);
  EXPECT_EQ(pipeline.counters().records.load(), kMany + 1u);
}

// Detection skips the SOC's own events (an alert that comes back through socd's spool would feed
// back into detection): of two records that both hold an intel indicator, only the one whose
// event.dataset is not soc.* is detected (final read of stop 26: a mutant of the check, now
// through FieldView::Dataset, passed every socd test).
TEST_F(PipelineTest, TheSocsOwnEventsAreNotDetectedAgain) {
  soc::IntelFeed feed;
  feed.name = "test-feed";
  const std::vector<soc::IntelFeedText> feeds{{feed, "203.0.113.7\n"}};
  auto intel = soc::BuildIntel(feeds, nullptr);
  ASSERT_TRUE(intel) << intel.error().ToString();
  auto detectors = std::make_unique<Detectors>();
  detectors->intel = *intel;
  pipeline_->SetDetectors(std::move(detectors));
  store_->Release();
  pipeline_->Start();
  auto event = [](std::string_view dataset) {
    IngestItem item;
    item.record.format = soc::Format::kSeccloudEvent;
    item.record.source = "spool";
    item.record.received_ms = 1'780'000'000'000;
    item.record.raw = R"({"@timestamp":"2026-06-01T00:00:00.000Z","event":{"dataset":")" +
                      std::string(dataset) + R"(","kind":"event"},"source":{"ip":"203.0.113.7"}})";
    return item;
  };
  for (const std::string_view dataset : {"soc.alert", "proxy.access", "soc.health"}) {
    IngestItem item = event(dataset);
    ASSERT_TRUE(queue_.TryPush(item)) << dataset;
  }
  queue_.Close();
  pipeline_->Join();
  EXPECT_EQ(pipeline_->counters().records.load(), 3u);
  EXPECT_EQ(pipeline_->counters().detections.load(), 1u) << "only proxy.access is detected";
}

// The counters that explain a quiet correlation reach PipelineCounters (and so /api/v1/stats,
// `seccloud soc stats` and the seccloud_soc_correlation_* metrics): a median that could not keep
// every value (max_events_per_group 2, three values) and a value that is not a number.
TEST_F(PipelineTest, CorrelationDropsAndNonNumericValuesAreCounted) {
  auto detectors = MedianTransferDetectors();
  ASSERT_NE(detectors, nullptr);
  pipeline_->SetDetectors(std::move(detectors));
  store_->Release();
  pipeline_->Start();
  for (const char* bytes : {"1", "2", "3", R"("many")"}) {
    IngestItem item = TransferItem("10.0.0.1", bytes);
    ASSERT_TRUE(queue_.TryPush(item)) << bytes;
  }
  queue_.Close();
  pipeline_->Join();
  EXPECT_EQ(pipeline_->counters().records.load(), 4u);
  EXPECT_EQ(pipeline_->counters().correlation_events_dropped.load(), 1u);
  EXPECT_EQ(pipeline_->counters().correlation_non_numeric_values.load(), 1u);
  EXPECT_EQ(pipeline_->counters().detections.load(), 0u);
}

// The correlation counters add up across a reload (the new engine's own counts start at 0).
TEST_F(PipelineTest, CorrelationCountersAddUpAcrossAReload) {
  auto detectors = MedianTransferDetectors();
  ASSERT_NE(detectors, nullptr);
  pipeline_->SetDetectors(std::move(detectors));
  store_->Release();
  pipeline_->Start();
  for (const char* b : {"1", "2", "3"}) {
    IngestItem item = TransferItem("10.0.0.1", b);
    ASSERT_TRUE(queue_.TryPush(item)) << b;
  }
  for (int i = 0; i < 500 && pipeline_->counters().correlation_events_dropped.load() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(pipeline_->counters().correlation_events_dropped.load(), 1u);
  detectors = MedianTransferDetectors();  // a reload; the windows carry over by fingerprint
  ASSERT_NE(detectors, nullptr);
  pipeline_->SetDetectors(std::move(detectors));
  for (const char* b : {"4", "5", "6"}) {
    IngestItem item = TransferItem("10.0.0.2", b);
    ASSERT_TRUE(queue_.TryPush(item)) << b;
  }
  queue_.Close();
  pipeline_->Join();
  EXPECT_EQ(pipeline_->counters().correlation_events_dropped.load(), 2u);
}

// cmem30: groups evicted for the correlation state's byte budget reach PipelineCounters (and so
// /api/v1/stats and seccloud_soc_correlation_groups_evicted_for_memory_total): with a budget of
// one byte every new group evicts the one before (never the group being updated).
TEST_F(PipelineTest, CorrelationGroupsEvictedForMemoryAreCounted) {
  soc::DetectionEngineOptions options;
  options.correlation.max_state_bytes = 1;
  auto engine = soc::sigma_testing::CleanEngine(
      soc::sigma_testing::TransferMetricRules("value_median",
                                              "{field: destination.bytes, gte: 1000}", "1h"),
      "m.yml", options);
  ASSERT_NE(engine, nullptr);
  auto detectors = std::make_unique<Detectors>();
  detectors->engine = std::move(engine);
  pipeline_->SetDetectors(std::move(detectors));
  store_->Release();
  pipeline_->Start();
  for (const char* ip : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
    IngestItem item = TransferItem(ip, "1");
    ASSERT_TRUE(queue_.TryPush(item)) << ip;
  }
  queue_.Close();
  pipeline_->Join();
  EXPECT_EQ(pipeline_->counters().records.load(), 3u);
  EXPECT_EQ(pipeline_->counters().correlation_groups_evicted_for_memory.load(), 2u);
  EXPECT_EQ(pipeline_->counters().correlation_groups_evicted.load(), 0u);
}

}  // namespace
}  // namespace seccloud::socd
