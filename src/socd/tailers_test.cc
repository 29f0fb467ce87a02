// R18: the file-based receivers — a spool followed from a checkpoint neither repeats nor loses a
// line; a log file is followed across rotation and truncation; over-long lines are cut, not lost.
#include "socd/tailers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/event.h"
#include "core/event_writer.h"
#include "socd/api.h"

namespace seccloud::socd {
namespace {

namespace fs = std::filesystem;

class TailersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("seccloud-socd-tailers-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Pops until `n` items arrived or 5 s passed.
  std::vector<IngestItem> Take(IngestQueue& q, size_t n) {
    std::vector<IngestItem> out, batch;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      q.PopBatch(&batch, 1000, std::chrono::milliseconds(50));
      for (auto& i : batch) out.push_back(std::move(i));
    }
    return out;
  }

  fs::path dir_;
  MetricsRegistry metrics_;
  std::vector<std::string> problems_;
  ProblemSink sink_ = [this](const std::string& s, const std::string& m) {
    problems_.push_back(s + ": " + m);
  };
};

TEST_F(TailersTest, SpoolResumesExactlyAfterTheCheckpoint) {
  EventWriterOptions wo;
  wo.directory = dir_ / "spool" / "proxy";
  wo.name = "gw1/proxy";
  auto writer = EventWriter::Open(wo);
  ASSERT_TRUE(writer) << writer.error().ToString();
  for (int i = 0; i < 10; ++i) {
    Event e = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess);
    e.Set("n", i);
    ASSERT_TRUE((*writer)->Append(e));
  }
  IngestQueue q(100);
  SpoolTailOptions o;
  o.spool_dir = dir_ / "spool";
  o.poll = std::chrono::milliseconds(10);
  std::string checkpoint;
  {
    SpoolTailer t(o, {}, q, metrics_, sink_);
    t.Start();
    auto items = Take(q, 10);
    t.Stop();
    ASSERT_EQ(items.size(), 10u);
    EXPECT_EQ(items[0].record.source, "spool:proxy");
    EXPECT_EQ(items[0].record.format, soc::Format::kSeccloudEvent);
    EXPECT_EQ(items[3].checkpoint_key, "spool:proxy");
    checkpoint = items[3].checkpoint_value;  // as if only the first four were stored
  }
  for (int i = 10; i < 12; ++i) {
    Event e = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess);
    e.Set("n", i);
    ASSERT_TRUE((*writer)->Append(e));
  }
  SpoolTailer t(o, {{"spool:proxy", checkpoint}}, q, metrics_, sink_);
  t.Start();
  auto items = Take(q, 8);
  t.Stop();
  ASSERT_EQ(items.size(), 8u);
  EXPECT_NE(items.front().record.raw.find("\"n\":4"), std::string::npos)
      << items.front().record.raw;
  EXPECT_NE(items.back().record.raw.find("\"n\":11"), std::string::npos) << items.back().record.raw;
  EXPECT_TRUE(problems_.empty()) << problems_.front();
}

// Review of socd10: a spool line with seq 2^64−1 made the expected seq wrap to 0 ("accept any"),
// so the checkpoint after it resumed without a check. Now the line is refused and reported, the
// gap after it is found, and a restart from the checkpoint before it finds the same.
TEST_F(TailersTest, SpoolLineWithTheLargestSeqIsReportedAndTheGapAfterItFound) {
  auto line = [](const std::string& seq) {
    return R"({"event":{"dataset":"proxy.access"},"seccloud":{"seq":)" + seq + "}}\n";
  };
  fs::create_directories(dir_ / "spool" / "proxy");
  std::ofstream(dir_ / "spool" / "proxy" / SpoolFileName("proxy", 1))
      << line("1") + line("2") + line("18446744073709551615") + line("4");
  IngestQueue q(100);
  SpoolTailOptions o;
  o.spool_dir = dir_ / "spool";
  o.poll = std::chrono::milliseconds(10);
  const std::vector<std::string> want_problems = {
      "spool:proxy: " + (dir_ / "spool" / "proxy" / SpoolFileName("proxy", 1)).string() + ":" +
          std::to_string(2 * line("1").size()) +
          ": seccloud.seq 18446744073709551615 is the largest seq, which no line can follow; "
          "skipped",
      "spool:proxy: " + (dir_ / "spool" / "proxy" / SpoolFileName("proxy", 1)).string() + ":" +
          std::to_string(2 * line("1").size() + line("18446744073709551615").size()) +
          ": seq gap: expected 3, got 4"};
  std::string before_it;
  {
    SpoolTailer t(o, {}, q, metrics_, sink_);
    t.Start();
    auto items = Take(q, 3);
    t.Stop();
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[2].record.raw + "\n", line("4"));
    EXPECT_EQ(items[1].checkpoint_value, "1:" + std::to_string(2 * line("1").size()) + ":3");
    EXPECT_EQ(
        items[2].checkpoint_value,
        "1:" + std::to_string(3 * line("1").size() + line("18446744073709551615").size()) + ":5");
    before_it = items[1].checkpoint_value;
  }
  EXPECT_EQ(problems_, want_problems);
  problems_.clear();
  // As if only the first two were stored: the same line is refused, the same gap found, and the
  // record after it arrives once.
  SpoolTailer t(o, {{"spool:proxy", before_it}}, q, metrics_, sink_);
  t.Start();
  auto items = Take(q, 1);
  t.Stop();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].record.raw + "\n", line("4"));
  EXPECT_EQ(problems_, want_problems);
  const std::string labels = "source=\"spool:proxy\"";
  EXPECT_EQ(metrics_.GetCounter("seccloud_soc_spool_errors_total", "", labels).value(), 2u);
  EXPECT_EQ(metrics_.GetCounter("seccloud_soc_spool_gaps_total", "", labels).value(), 2u);
}

// Review of socd11: a spool file named with first seq 0 was read, and a position in it ("0:off:n")
// read as "from the start", so a restart read the oldest file again: its records duplicated.
// The writer counts from 1; such a file is skipped and reported once.
TEST_F(TailersTest, SpoolFileNamedWithFirstSeqZeroIsSkippedAndReported) {
  auto line = [](int seq) {
    return R"({"event":{"dataset":"proxy.access"},"seccloud":{"seq":)" + std::to_string(seq) +
           "}}\n";
  };
  const fs::path proxy = dir_ / "spool" / "proxy";
  fs::create_directories(proxy);
  std::ofstream(proxy / SpoolFileName("proxy", 0)) << line(1) + line(2);
  std::ofstream(proxy / SpoolFileName("proxy", 3)) << line(3) + line(4);
  IngestQueue q(100);
  SpoolTailOptions o;
  o.spool_dir = dir_ / "spool";
  o.poll = std::chrono::milliseconds(10);
  const std::vector<std::string> want_problems = {
      "spool:proxy: " + (proxy / SpoolFileName("proxy", 0)).string() +
      ": ignored: a spool file's first seq is never 0 (the writer counts from 1)"};
  std::string checkpoint;
  {
    SpoolTailer t(o, {}, q, metrics_, sink_);
    t.Start();
    auto items = Take(q, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // another discovery round
    t.Stop();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].record.raw + "\n", line(3));
    EXPECT_EQ(items[1].record.raw + "\n", line(4));
    EXPECT_EQ(items[0].checkpoint_value, "3:" + std::to_string(line(3).size()) + ":4");
    checkpoint = items[0].checkpoint_value;
    EXPECT_EQ(q.size(), 0u);
  }
  EXPECT_EQ(problems_, want_problems);
  problems_.clear();
  SpoolTailer t(o, {{"spool:proxy", checkpoint}}, q, metrics_, sink_);
  t.Start();
  auto items = Take(q, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  t.Stop();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].record.raw + "\n", line(4));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(problems_, want_problems);
}

TEST_F(TailersTest, FileFollowedAcrossRotationAndTruncation) {
  const fs::path log = dir_ / "eve.json";
  std::ofstream(log) << "one\ntwo\nthr";  // the last line is still being written
  IngestQueue q(100);
  FileTailOptions o;
  o.name = "eve";
  o.path = log;
  o.format = soc::Format::kSuricataEve;
  o.sniff = false;
  o.tenant = "tsu";
  o.poll = std::chrono::milliseconds(10);
  FileTailer t(o, {}, q, metrics_, sink_);
  t.Start();
  auto items = Take(q, 2);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].record.raw, "one");
  EXPECT_EQ(items[1].record.raw, "two");
  EXPECT_EQ(items[1].record.tenant, "tsu");
  EXPECT_EQ(items[1].record.format, soc::Format::kSuricataEve);
  EXPECT_EQ(items[1].checkpoint_key, "file:eve");
  // Rotation: the writer finishes its line, the file is renamed and a new one starts.
  std::ofstream(log, std::ios::app) << "ee\n";
  fs::rename(log, dir_ / "eve.json.1");
  std::ofstream(log) << "four\r\n";
  items = Take(q, 2);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].record.raw, "three");
  EXPECT_EQ(items[1].record.raw, "four");
  // Truncation in place: read again from the start.
  std::ofstream(log, std::ios::trunc) << "five\n";
  items = Take(q, 1);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].record.raw, "five");
  t.Stop();
}

TEST_F(TailersTest, FileResumesFromItsCheckpointAndCutsOverlongLines) {
  const fs::path log = dir_ / "access.log";
  const std::string huge(soc::kMaxRawBytes + 1000, 'x');
  std::ofstream(log) << "a\nb\n" << huge << "\nc\n";
  IngestQueue q(100);
  FileTailOptions o;
  o.name = "web";
  o.path = log;
  o.poll = std::chrono::milliseconds(10);
  std::string after_a;
  {
    FileTailer t(o, {}, q, metrics_, sink_);
    t.Start();
    auto items = Take(q, 4);
    t.Stop();
    ASSERT_EQ(items.size(), 4u);
    EXPECT_TRUE(items[0].sniff_format);
    EXPECT_EQ(items[2].record.raw.size(), soc::kMaxRawBytes);
    EXPECT_TRUE(items[2].record.truncated);
    EXPECT_EQ(items[3].record.raw, "c");
    after_a = items[0].checkpoint_value;
  }
  FileTailer t(o, {{"file:web", after_a}}, q, metrics_, sink_);
  t.Start();
  auto items = Take(q, 3);
  t.Stop();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].record.raw, "b");
}

TEST(IngestQueueTest, PushWaitsForRoomAndKeepsTheItemWhenFull) {
  IngestQueue q(2);
  IngestItem a, b, c;
  a.record.raw = "a";
  b.record.raw = "b";
  c.record.raw = "c";
  ASSERT_TRUE(q.TryPush(a));
  ASSERT_TRUE(q.TryPush(b));
  EXPECT_FALSE(q.Push(c, std::chrono::milliseconds(20)));
  EXPECT_EQ(c.record.raw, "c");  // not moved from: the caller can retry
  std::vector<IngestItem> out;
  ASSERT_TRUE(q.PopBatch(&out, 10, std::chrono::milliseconds(0)));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(q.TryPush(c));
  q.Close();
  EXPECT_TRUE(q.PopBatch(&out, 10, std::chrono::milliseconds(0)));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(q.PopBatch(&out, 10, std::chrono::milliseconds(0)));
  EXPECT_FALSE(q.TryPush(a));
}

TEST(IngestQueueTest, PushSomeTakesWhatFitsInOrderAndWaitsOnlyWhenFull) {
  IngestQueue q(3);
  std::vector<IngestItem> items(5);
  for (size_t i = 0; i < items.size(); ++i) items[i].record.raw = std::to_string(i);
  size_t next = 0;
  ASSERT_TRUE(q.PushSome(items, &next));
  EXPECT_EQ(next, 3u);
  EXPECT_EQ(items[3].record.raw, "3");  // the rest is untouched, for the caller's retry
  // Full: a timed attempt takes nothing and returns after its timeout.
  ASSERT_TRUE(q.PushSome(items, &next, std::chrono::milliseconds(20)));
  EXPECT_EQ(next, 3u);
  std::vector<IngestItem> out;
  ASSERT_TRUE(q.PopBatch(&out, 2, std::chrono::milliseconds(0)));
  ASSERT_TRUE(q.PushSome(items, &next, std::chrono::milliseconds(20)));
  EXPECT_EQ(next, 5u);
  std::vector<std::string> order;
  for (auto& i : out) order.push_back(i.record.raw);
  ASSERT_TRUE(q.PopBatch(&out, 10, std::chrono::milliseconds(0)));
  for (auto& i : out) order.push_back(i.record.raw);
  EXPECT_EQ(order, (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  q.Close();
  next = 0;
  EXPECT_FALSE(q.PushSome(items, &next));
}

TEST(IngestQueueTest, WaitingProducersAreBoundedByBytesDatagramsOnlyByRecords) {
  std::vector<IngestItem> items(4);
  for (auto& i : items) i.record.raw.assign(1000, 'x');
  const size_t one = IngestQueue::Bytes(items[0]);
  IngestQueue q(100, 2 * one + one / 2);  // room for two of these records, not three
  size_t next = 0;
  ASSERT_TRUE(q.PushSome(items, &next));
  EXPECT_EQ(next, 2u);
  EXPECT_EQ(q.bytes(), 2 * one);
  IngestItem big;
  big.record.raw.assign(1000, 'y');
  EXPECT_FALSE(q.Push(big, std::chrono::milliseconds(10)));  // a waiting producer waits
  EXPECT_EQ(big.record.raw.size(), 1000u);                   // and keeps its item
  EXPECT_TRUE(q.TryPush(big));  // a datagram does not count against the waiting ones' bound
  EXPECT_EQ(q.bytes(), 3 * one);
  std::vector<IngestItem> out;
  ASSERT_TRUE(q.PopBatch(&out, 10, std::chrono::milliseconds(0)));
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(q.bytes(), 0u);
  // A record larger than the whole bound still goes into an empty queue, alone.
  IngestItem huge;
  huge.record.raw.assign(10 * one, 'z');
  EXPECT_TRUE(q.Push(huge, std::chrono::milliseconds(0)));
  ASSERT_TRUE(q.PushSome(items, &next));
  EXPECT_EQ(next, 2u);
  ASSERT_TRUE(q.PopBatch(&out, 10, std::chrono::milliseconds(0)));
  EXPECT_EQ(out.size(), 1u);
  ASSERT_TRUE(q.PushSome(items, &next));
  EXPECT_EQ(next, 4u);
}

// Review of socd10: datagrams' bytes once counted against the waiting producers' bound, so a UDP
// flood shut TCP, TLS and the spool out of the queue while datagrams still got in.
TEST(IngestQueueTest, DatagramsBytesDoNotHoldWaitingProducersBack) {
  IngestItem probe;
  probe.record.raw.assign(1000, 'x');
  const size_t one = IngestQueue::Bytes(probe);
  IngestQueue q(100, 2 * one + one / 2);
  for (int i = 0; i < 10; ++i) {  // ten datagrams: four times the byte bound
    IngestItem d;
    d.record.raw.assign(1000, 'd');
    ASSERT_TRUE(q.TryPush(d));
  }
  EXPECT_EQ(q.bytes(), 10 * one);
  IngestItem tcp;
  tcp.record.raw.assign(1000, 't');
  EXPECT_TRUE(q.Push(tcp, std::chrono::milliseconds(0)));  // failed when datagrams counted
  IngestItem tcp2;
  tcp2.record.raw.assign(1000, 't');
  EXPECT_TRUE(q.Push(tcp2, std::chrono::milliseconds(0)));
  IngestItem tcp3;
  tcp3.record.raw.assign(1000, 't');
  EXPECT_FALSE(q.Push(tcp3, std::chrono::milliseconds(0)));  // its own bound still holds
  std::vector<IngestItem> out;
  ASSERT_TRUE(q.PopBatch(&out, 100, std::chrono::milliseconds(0)));
  EXPECT_EQ(out.size(), 12u);
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_TRUE(q.Push(tcp3, std::chrono::milliseconds(0)));
}

// Review of socd10: datagrams were bounded by the record count alone (soc.queue_records of 64 KiB
// datagrams: ~12 GiB at 200,000).
TEST(IngestQueueTest, DatagramsAreBoundedByTheirOwnBytes) {
  IngestItem probe;
  probe.record.raw.assign(1000, 'x');
  const size_t one = IngestQueue::Bytes(probe);
  IngestQueue q(100, 2 * one + one / 2, 3 * one + one / 2);
  int queued = 0;
  DatagramRefusal why = DatagramRefusal::kNone;
  for (int i = 0; i < 10; ++i) {
    IngestItem d;
    d.record.raw.assign(1000, 'd');
    if (q.TryPush(d, &why)) {
      ++queued;
      EXPECT_EQ(why, DatagramRefusal::kNone);
    } else {
      EXPECT_EQ(why, DatagramRefusal::kBytes);
      EXPECT_EQ(d.record.raw.size(), 1000u);  // not moved from
    }
    EXPECT_LE(q.datagram_bytes(), 3 * one + one / 2);
  }
  EXPECT_EQ(queued, 3);
  EXPECT_EQ(q.datagram_bytes(), 3 * one);
  // The waiting producers keep their own bound beside the datagrams.
  for (int i = 0; i < 2; ++i) {
    IngestItem tcp;
    tcp.record.raw.assign(1000, 't');
    EXPECT_TRUE(q.Push(tcp, std::chrono::milliseconds(0)));
  }
  EXPECT_EQ(q.bytes(), 5 * one);
  // The record count still refuses first when it is the smaller bound.
  IngestQueue small(2, SIZE_MAX, 100 * one);
  IngestItem a, b, c;
  a.record.raw = b.record.raw = c.record.raw = "abc";
  EXPECT_TRUE(small.TryPush(a));
  EXPECT_TRUE(small.TryPush(b));
  EXPECT_FALSE(small.TryPush(c, &why));
  EXPECT_EQ(why, DatagramRefusal::kRecords);
  // A datagram larger than the whole bound still enters when no datagram is queued.
  IngestQueue tiny(100, SIZE_MAX, one / 2);
  IngestItem big;
  big.record.raw.assign(1000, 'b');
  EXPECT_TRUE(tiny.TryPush(big));
  IngestItem next;
  next.record.raw = "n";
  EXPECT_FALSE(tiny.TryPush(next, &why));
  EXPECT_EQ(why, DatagramRefusal::kBytes);
  std::vector<IngestItem> out;
  ASSERT_TRUE(q.PopBatch(&out, 100, std::chrono::milliseconds(0)));
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(q.datagram_bytes(), 0u);
  q.Close();
  EXPECT_FALSE(q.TryPush(next, &why));
  EXPECT_EQ(why, DatagramRefusal::kClosed);
}

// R18, issue 5: the UDP receiver drops what DatagramRefusalHint refuses without making an item
// of it; the hint refuses only what TryPush would refuse in the same state (it counts less than
// an item takes), and follows pushes, pops and Close.
TEST(IngestQueueTest, TheDatagramHintRefusesOnlyWhatTryPushWould) {
  IngestItem probe;
  probe.record.raw.assign(1000, 'x');
  const size_t one = IngestQueue::Bytes(probe);
  IngestQueue q(3, SIZE_MAX, 2 * one);
  EXPECT_EQ(q.DatagramRefusalHint(60'000), DatagramRefusal::kNone);  // none queued: it fits
  IngestItem d;
  d.record.raw.assign(1000, 'd');
  ASSERT_TRUE(q.TryPush(d));
  EXPECT_EQ(q.DatagramRefusalHint(1000), DatagramRefusal::kNone);  // exactly at the bound
  EXPECT_EQ(q.DatagramRefusalHint(one + 1 - sizeof(IngestItem)), DatagramRefusal::kBytes);
  IngestItem over;
  over.record.raw.assign(one + 1 - sizeof(IngestItem), 'o');
  DatagramRefusal why = DatagramRefusal::kNone;
  EXPECT_FALSE(q.TryPush(over, &why));
  EXPECT_EQ(why, DatagramRefusal::kBytes);
  IngestItem t1, t2;
  t1.record.raw = t2.record.raw = "t";
  ASSERT_TRUE(q.Push(t1, std::chrono::milliseconds(0)));
  ASSERT_TRUE(q.Push(t2, std::chrono::milliseconds(0)));
  EXPECT_EQ(q.DatagramRefusalHint(1), DatagramRefusal::kRecords);
  std::vector<IngestItem> out;
  ASSERT_TRUE(q.PopBatch(&out, 1, std::chrono::milliseconds(0)));
  EXPECT_EQ(q.DatagramRefusalHint(60'000), DatagramRefusal::kNone);  // the datagram went
  q.Close();
  EXPECT_EQ(q.DatagramRefusalHint(1), DatagramRefusal::kClosed);
}

// R18, issue 5: with soc.queue_records set low, a spool tailer catching up (or a TCP sender with
// a backlog) filled every record slot, so every UDP datagram was dropped until it caught up.
// With a reserve, the waiting producers stop short of it and datagrams still get in.
TEST(IngestQueueTest, WaitingProducersLeaveTheDatagramsReserveFree) {
  IngestQueue q(1000, SIZE_MAX, SIZE_MAX, 250);
  EXPECT_EQ(q.waiting_capacity(), 750u);
  std::vector<IngestItem> spool(1000);
  for (auto& item : spool) item.record.raw = "spool line";
  size_t next = 0;
  ASSERT_TRUE(q.PushSome(spool, &next));
  EXPECT_EQ(next, 750u);
  IngestItem waiting;
  waiting.record.raw = "tcp line";
  EXPECT_FALSE(q.Push(waiting, std::chrono::milliseconds(0)));
  int datagrams = 0;
  DatagramRefusal why = DatagramRefusal::kNone;
  for (int i = 0; i < 300; ++i) {
    IngestItem d;
    d.record.raw = "datagram";
    if (q.TryPush(d, &why)) ++datagrams;
  }
  EXPECT_EQ(datagrams, 250);
  EXPECT_EQ(why, DatagramRefusal::kRecords);
  // Popping datagrams does not let the waiting producers past their share; popping theirs does.
  std::vector<IngestItem> out;
  ASSERT_TRUE(q.PopBatch(&out, 760, std::chrono::milliseconds(0)));  // 750 spool, 10 datagrams
  ASSERT_TRUE(q.PushSome(spool, &next));
  EXPECT_EQ(next, 1000u);
  EXPECT_EQ(q.size(), 240u + 250u);
  // Datagrams may take every slot.
  IngestQueue all(10, SIZE_MAX, SIZE_MAX, 3);
  for (int i = 0; i < 10; ++i) {
    IngestItem d;
    d.record.raw = "datagram";
    EXPECT_TRUE(all.TryPush(d)) << i;
  }
  // A reserve of the whole capacity still leaves the waiting producers one slot.
  IngestQueue tiny(4, SIZE_MAX, SIZE_MAX, 10);
  EXPECT_EQ(tiny.waiting_capacity(), 1u);
}

// Review of socd12: Push and PushSome kept an incoming item's `datagram` flag (a reused
// IngestItem), and popping such an item took its bytes off the datagrams' count and never gave
// its slot back to the waiting producers. Only TryPush makes a datagram.
TEST(IngestQueueTest, PushAndPushSomeNeverTakeAnItemAsADatagram) {
  IngestQueue q(10, SIZE_MAX, SIZE_MAX, 8);  // the waiting producers hold 2 records
  ASSERT_EQ(q.waiting_capacity(), 2u);
  IngestItem one;
  one.record.raw = "tcp line";
  one.datagram = true;
  ASSERT_TRUE(q.Push(one, std::chrono::milliseconds(0)));
  const size_t one_item = q.bytes();
  EXPECT_NE(one_item, 0u);
  std::vector<IngestItem> more(3);
  for (auto& item : more) {
    item.record.raw = "tcp line";
    item.datagram = true;
  }
  size_t next = 0;
  ASSERT_TRUE(q.PushSome(more, &next));
  EXPECT_EQ(next, 1u);  // the waiting producers' 2 are taken
  EXPECT_EQ(q.datagram_bytes(), 0u);
  EXPECT_EQ(q.bytes(), 2 * one_item);
  std::vector<IngestItem> out;
  ASSERT_TRUE(q.PopBatch(&out, 1, std::chrono::milliseconds(0)));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].datagram);
  // The popped item gave its bytes and its slot back to the waiting producers.
  EXPECT_EQ(q.bytes(), one_item);
  IngestItem another;
  another.record.raw = "tcp line";
  another.datagram = true;
  EXPECT_TRUE(q.Push(another, std::chrono::milliseconds(0)));
  ASSERT_TRUE(q.PopBatch(&out, 10, std::chrono::milliseconds(0)));
  ASSERT_EQ(out.size(), 2u);
  for (const auto& item : out) EXPECT_FALSE(item.datagram);
}

// The queue's FIFO is chunked (64 items a chunk): order and counts hold across chunk boundaries,
// with pushes and pops interleaved, and an emptied queue takes items again.
TEST(IngestQueueTest, KeepsOrderAcrossChunks) {
  IngestFifo fifo;
  int pushed = 0, popped = 0;
  for (int round = 0; round < 40; ++round) {
    const int pushes = (round * 37) % 150, pops = (round * 53) % 160;
    for (int i = 0; i < pushes; ++i) {
      IngestItem item;
      item.record.raw = std::to_string(pushed++);
      fifo.push_back(std::move(item));
    }
    for (int i = 0; i < pops && !fifo.empty(); ++i) {
      ASSERT_EQ(fifo.front().record.raw, std::to_string(popped)) << round;
      ++popped;
      fifo.pop_front();
    }
    ASSERT_EQ(fifo.size(), static_cast<size_t>(pushed - popped));
  }
  while (!fifo.empty()) {
    ASSERT_EQ(fifo.front().record.raw, std::to_string(popped++));
    fifo.pop_front();
  }
  EXPECT_EQ(popped, pushed);
  IngestItem again;
  again.record.raw = "again";
  fifo.push_back(std::move(again));
  ASSERT_EQ(fifo.size(), 1u);
  EXPECT_EQ(fifo.front().record.raw, "again");
}

TEST(ApiTest, TimeBounds) {
  int64_t t = 0;
  const int64_t now = 1'000'000'000'000;
  ASSERT_TRUE(ParseTimeBound("30d", now, &t));
  EXPECT_EQ(t, now - 30 * 86'400'000LL);
  ASSERT_TRUE(ParseTimeBound("15m", now, &t));
  EXPECT_EQ(t, now - 900'000);
  ASSERT_TRUE(ParseTimeBound("2026-11-26T00:00:00Z", now, &t));
  EXPECT_EQ(t, 1'795'651'200'000);
  EXPECT_FALSE(ParseTimeBound("yesterday", now, &t));
  EXPECT_FALSE(ParseTimeBound("", now, &t));
}

}  // namespace
}  // namespace seccloud::socd
