#include "core/event_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/spool_reader.h"
#include "core/temp_dir_testing.h"

namespace seccloud {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

Event TestEvent(size_t padding = 0) {
  Event e = Event::Make("system.service", "event", "started", Outcome::kSuccess);
  if (padding) e.Set("message", std::string(padding, 'x'));
  return e;
}

std::unique_ptr<EventWriter> MustOpen(const fs::path& dir, uint64_t rotate_bytes = 64 << 20) {
  auto w = EventWriter::Open({.directory = dir, .name = "gw1/proxy", .rotate_bytes = rotate_bytes});
  EXPECT_TRUE(w) << w.error().ToString();
  return w ? std::move(*w) : nullptr;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Reads the whole spool; fails the test on any reader error. Returns the seqs in file order.
std::vector<uint64_t> ReadAllSeqs(const fs::path& dir, std::vector<std::string>* errors = nullptr) {
  auto reader = SpoolReader::Open(dir, "proxy");
  EXPECT_TRUE(reader) << reader.error().ToString();
  std::vector<uint64_t> seqs;
  if (!reader) return seqs;
  while (true) {
    auto r = (*reader)->Next();
    if (!r) {
      if (errors) {
        errors->push_back(r.error().ToString());
        continue;
      }
      ADD_FAILURE() << r.error().ToString();
      break;
    }
    if (!*r) break;
    seqs.push_back((*r)->seq);
  }
  return seqs;
}

std::vector<uint64_t> Iota(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t s = first; s <= last; ++s) v.push_back(s);
  return v;
}

TEST(EventWriterTest, AppendAssignsSeqAndObserverAndIsReadable) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "spool" / "proxy";  // created, with parents
  auto w = MustOpen(dir);
  ASSERT_TRUE(w);
  for (uint64_t i = 1; i <= 3; ++i) {
    Event e = TestEvent();
    auto seq = w->Append(e);
    ASSERT_TRUE(seq) << seq.error().ToString();
    EXPECT_EQ(*seq, i);
    EXPECT_EQ(e.Find("seccloud.seq")->to_number<uint64_t>(), i);
  }
  Event own_observer = TestEvent();
  own_observer.Set("observer.name", "other");
  ASSERT_TRUE(w->Append(own_observer));

  const fs::path file = dir / "proxy-00000000000000000001.ndjson";
  ASSERT_TRUE(fs::exists(file));
  auto reader = SpoolReader::Open(dir, "proxy");
  ASSERT_TRUE(reader);
  for (uint64_t i = 1; i <= 4; ++i) {
    auto r = (*reader)->Next();
    ASSERT_TRUE(r && *r) << (r ? "end of spool" : r.error().ToString());
    EXPECT_EQ((*r)->seq, i);
    EXPECT_EQ((*r)->event.at("observer").at("name").as_string(), i == 4 ? "other" : "gw1");
    EXPECT_EQ((*r)->event.at("observer").at("type").as_string(), "proxy");
  }
  auto end = (*reader)->Next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
  const EventWriterStats st = w->stats();
  EXPECT_EQ(st.appended, 4u);
  EXPECT_EQ(st.bytes, fs::file_size(file));
  EXPECT_EQ(st.fsyncs, 4u);
  EXPECT_EQ(st.failures, 0u);
  EXPECT_TRUE(w->healthy());
}

TEST(EventWriterTest, RejectsBadOptions) {
  TempDir tmp;
  for (const char* name :
       {"", "proxy", "gw1/", "/proxy", "gw1/pro/xy", "gw1/.proxy", "gw 1/proxy", "gw1/proxy\xff"}) {
    auto w = EventWriter::Open({.directory = tmp.path(), .name = name});
    ASSERT_FALSE(w) << name;
    EXPECT_EQ(w.error().code, Errc::kInvalidArgument);
  }
  auto w = EventWriter::Open({.directory = tmp.path(), .name = "gw1/proxy", .rotate_bytes = 0});
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message, "event writer rotate_bytes must be positive");
}

TEST(EventWriterTest, SecondWriterOnSameSpoolIsRefused) {
  TempDir tmp;
  auto first = MustOpen(tmp.path());
  auto second = EventWriter::Open({.directory = tmp.path(), .name = "gw2/proxy"});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kUnavailable);
  first.reset();
  EXPECT_TRUE(MustOpen(tmp.path()));
}

TEST(EventWriterTest, RotatesAndNamesFilesByFirstSeq) {
  TempDir tmp;
  auto w = MustOpen(tmp.path(), /*rotate_bytes=*/2000);
  for (int i = 0; i < 40; ++i) {
    Event e = TestEvent(200);
    ASSERT_TRUE(w->Append(e));
  }
  auto files = ListSpoolFiles(tmp.path(), "proxy");
  ASSERT_TRUE(files);
  ASSERT_GT(files->size(), 3u);
  EXPECT_EQ(w->stats().rotations, files->size() - 1);
  EXPECT_EQ(files->front().first_seq, 1u);
  for (const SpoolFile& f : *files) {
    EXPECT_LE(fs::file_size(f.path), 2000u) << f.path;
    const std::string content = ReadFile(f.path);
    ASSERT_FALSE(content.empty());
    EXPECT_EQ(content.back(), '\n');
    // The first line of every file carries the seq in the file's name.
    const std::string needle = "\"seq\":" + std::to_string(f.first_seq) + "}";
    EXPECT_NE(content.substr(0, content.find('\n')).find(needle), std::string::npos) << f.path;
  }
  EXPECT_EQ(ReadAllSeqs(tmp.path()), Iota(1, 40));
}

// Review of socd11: a file named with first seq 0 was listed first, and a reader's position in
// it ("0:off:n") read as "from the start". The writer counts from 1, so the file is not its own:
// ListSpoolFiles leaves it out and names it, and the writer starts its own file 1 beside it.
TEST(EventWriterTest, AFileNamedWithFirstSeqZeroIsLeftOutAndNamed) {
  TempDir tmp;
  const std::string stray = R"({"seccloud":{"seq":7}})"
                            "\n";
  std::ofstream(tmp.path() / SpoolFileName("proxy", 0)) << stray;
  std::vector<fs::path> ignored;
  auto files = ListSpoolFiles(tmp.path(), "proxy", &ignored);
  ASSERT_TRUE(files);
  EXPECT_TRUE(files->empty());
  EXPECT_EQ(ignored, std::vector<fs::path>{tmp.path() / SpoolFileName("proxy", 0)});
  auto w = MustOpen(tmp.path());
  ASSERT_TRUE(w);
  Event e = TestEvent();
  auto seq = w->Append(e);
  ASSERT_TRUE(seq) << seq.error().ToString();
  EXPECT_EQ(*seq, 1u);
  EXPECT_EQ(ReadAllSeqs(tmp.path()), Iota(1, 1));
  EXPECT_EQ(ReadFile(tmp.path() / SpoolFileName("proxy", 0)), stray);  // left as it was
}

TEST(EventWriterTest, SeqContinuesAcrossReopen) {
  TempDir tmp;
  for (int round = 0; round < 3; ++round) {
    auto w = MustOpen(tmp.path(), 1500);
    EXPECT_EQ(w->next_seq(), round * 10u + 1);
    for (int i = 0; i < 10; ++i) {
      Event e = TestEvent(100);
      auto seq = w->Append(e);
      ASSERT_TRUE(seq);
      EXPECT_EQ(*seq, round * 10u + i + 1);
    }
  }
  EXPECT_EQ(ReadAllSeqs(tmp.path()), Iota(1, 30));
}

TEST(EventWriterTest, TornTailIsTruncatedOnOpen) {
  TempDir tmp;
  {
    auto w = MustOpen(tmp.path());
    for (int i = 0; i < 3; ++i) {
      Event e = TestEvent();
      ASSERT_TRUE(w->Append(e));
    }
  }
  const fs::path file = tmp.path() / "proxy-00000000000000000001.ndjson";
  const uintmax_t clean_size = fs::file_size(file);
  const std::string partial =
      R"({"@timestamp":"2026-11-26T03:20:22.123Z","seccloud":{"seq":4},"mess)";
  { std::ofstream(file, std::ios::app | std::ios::binary) << partial; }
  ASSERT_EQ(fs::file_size(file), clean_size + partial.size());
  // While the torn line is there, a reader yields only the complete lines.
  EXPECT_EQ(ReadAllSeqs(tmp.path()), Iota(1, 3));

  auto w = MustOpen(tmp.path());
  EXPECT_EQ(w->truncated_on_open(), partial.size());
  EXPECT_EQ(fs::file_size(file), clean_size);
  Event e = TestEvent();
  auto seq = w->Append(e);
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, 4u);
  EXPECT_EQ(ReadAllSeqs(tmp.path()), Iota(1, 4));
}

TEST(EventWriterTest, TornOnlyLineInNewestFileContinuesFromItsName) {
  TempDir tmp;
  {
    auto w = MustOpen(tmp.path());
    for (int i = 0; i < 5; ++i) {
      Event e = TestEvent();
      ASSERT_TRUE(w->Append(e));
    }
  }
  // A crash right after a rotation, in the middle of the new file's first line.
  const fs::path torn = tmp.path() / "proxy-00000000000000000006.ndjson";
  { std::ofstream(torn, std::ios::binary) << R"({"seccloud":{"se)"; }
  auto w = MustOpen(tmp.path());
  EXPECT_EQ(w->truncated_on_open(), 16u);
  EXPECT_EQ(fs::file_size(torn), 0u);
  Event e = TestEvent();
  auto seq = w->Append(e);
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, 6u);
  EXPECT_EQ(ReadAllSeqs(tmp.path()), Iota(1, 6));
}

TEST(EventWriterTest, CorruptLastCompleteLineRefusesToOpen) {
  TempDir tmp;
  { std::ofstream(tmp.path() / "proxy-00000000000000000001.ndjson") << "not json\n"; }
  auto w = EventWriter::Open({.directory = tmp.path(), .name = "gw1/proxy"});
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("is not an event with seccloud.seq"), std::string::npos)
      << w.error().message;
}

TEST(EventWriterTest, OversizedAndInvalidEventsAreRefusedWithoutGap) {
  TempDir tmp;
  auto w = MustOpen(tmp.path());
  Event ok1 = TestEvent();
  ASSERT_EQ(*w->Append(ok1), 1u);

  Event big = TestEvent(kMaxEventBytes);
  auto r = w->Append(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find("exceeds the 1048576-byte limit (event.dataset system.service"),
            std::string::npos)
      << r.error().message;

  Event bad = TestEvent();
  bad.Set("a..b", 1);
  r = w->Append(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "event refused: field path \"a..b\" has an empty segment");

  // Just under the limit is accepted.
  Event near = TestEvent();
  near.Set("message", std::string(kMaxEventBytes - near.ToJsonLine().size() - 200, 'y'));
  auto near_seq = w->Append(near);
  ASSERT_TRUE(near_seq) << near_seq.error().ToString();
  EXPECT_EQ(*near_seq, 2u);

  EXPECT_TRUE(w->healthy());  // the disk is fine; the caller's events were wrong
  EXPECT_EQ(w->stats().failures, 2u);
  EXPECT_EQ(w->stats().appended, 2u);
  EXPECT_EQ(ReadAllSeqs(tmp.path()), Iota(1, 2));
}

TEST(EventWriterTest, ConcurrentAppendsGetEverySeqExactlyOnce) {
  TempDir tmp;
  auto w = MustOpen(tmp.path(), 256 * 1024);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 400;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Event e = TestEvent(static_cast<size_t>(i % 7) * 50);
        e.Set("thread", t);
        auto seq = w->Append(e);
        ASSERT_TRUE(seq) << seq.error().ToString();
        got[t].push_back(*seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<uint64_t> all;
  for (const auto& v : got) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));  // one thread's appends stay in order
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, Iota(1, kThreads * kPerThread));
  EXPECT_EQ(ReadAllSeqs(tmp.path()), Iota(1, kThreads * kPerThread));
  const EventWriterStats st = w->stats();
  EXPECT_EQ(st.appended, uint64_t{kThreads * kPerThread});
  // Group commit: concurrent appends shared fdatasync calls.
  EXPECT_LT(st.fsyncs, st.appended);
  RecordProperty("fsyncs", std::to_string(st.fsyncs));
}

TEST(EventWriterTest, CheckWritable) {
  TempDir tmp;
  EXPECT_TRUE(CheckWritable(tmp.path() / "a" / "b"));
  EXPECT_TRUE(fs::is_directory(tmp.path() / "a" / "b"));
  EXPECT_TRUE(fs::is_empty(tmp.path() / "a" / "b"));  // the probe file is gone
  { std::ofstream(tmp.path() / "plain-file") << "x"; }
  Status s = CheckWritable(tmp.path() / "plain-file" / "spool");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("plain-file/spool cannot be created"), std::string::npos)
      << s.error().message;
}

// Mounts a small tmpfs for the lifetime of the object.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const fs::path& where) : where_(where) {
    fs::create_directories(where_);
    if (::mount("tmpfs", where_.c_str(), "tmpfs", 0, "size=256k") == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount(where_.c_str());
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  fs::path where_;
  bool mounted_ = false;
  std::string error_;
};

TEST(EventWriterTest, FullDiskFailsLoudlyLeavesOnlyCompleteLinesAndRecovers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a 256 KiB tmpfs";
  TempDir tmp;
  const fs::path mnt = tmp.path() / "mnt";
  SmallTmpfs tmpfs(mnt);
  if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount tmpfs: " << tmpfs.error();
  const fs::path filler = mnt / "filler";
  { std::ofstream(filler, std::ios::binary) << std::string(64 * 1024, 'f'); }
  const fs::path dir = mnt / "spool";
  {
    auto w = MustOpen(dir);
    ASSERT_TRUE(w);
    uint64_t last_ok = 0;
    Result<uint64_t> r = uint64_t{0};
    for (int i = 0; i < 10000; ++i) {
      Event e = TestEvent(1000 + static_cast<size_t>(i % 5) * 700);  // lines cross page borders
      r = w->Append(e);
      if (!r) break;
      EXPECT_EQ(*r, last_ok + 1);
      last_ok = *r;
    }
    ASSERT_FALSE(r) << "the 256 KiB disk never filled";
    EXPECT_EQ(r.error().code, Errc::kResourceExhausted) << r.error().ToString();
    EXPECT_FALSE(w->healthy());
    EXPECT_NE(w->last_error().find("No space left on device"), std::string::npos)
        << w->last_error();
    EXPECT_GT(w->stats().failures, 0u);
    EXPECT_GT(last_ok, 10u);

    // Still full: fails again, the same seq stays free.
    Event again = TestEvent(3000);
    EXPECT_FALSE(w->Append(again));
    // Only complete, parseable, gap-free lines; the file holds exactly the acknowledged bytes.
    EXPECT_EQ(ReadAllSeqs(dir), Iota(1, last_ok));
    EXPECT_EQ(fs::file_size(dir / "proxy-00000000000000000001.ndjson"), w->stats().bytes);

    fs::remove(filler);
    Event after = TestEvent(1000);
    auto seq = w->Append(after);
    ASSERT_TRUE(seq) << seq.error().ToString();
    EXPECT_EQ(*seq, last_ok + 1);
    EXPECT_TRUE(w->healthy());
    EXPECT_EQ(ReadAllSeqs(dir), Iota(1, last_ok + 1));
  }
}

// The child side of the kill -9 test: appends from three threads until killed, reporting each
// acknowledged seq on `ack_fd`. Never returns.
[[noreturn]] void AppendUntilKilled(const fs::path& dir, int ack_fd, unsigned seed) {
  auto w = EventWriter::Open({.directory = dir, .name = "gw1/proxy", .rotate_bytes = 200 * 1024});
  if (!w) ::_exit(2);
  EventWriter* writer = w->get();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 3; ++t) {
    threads.emplace_back([writer, ack_fd, seed, t] {
      std::mt19937 rng(seed * 31 + t);
      while (true) {
        // Mostly small events, sometimes large ones, so that SIGKILL can land inside a write.
        const size_t padding = rng() % 10 == 0 ? 20000 + rng() % 100000 : rng() % 500;
        Event e = Event::Make("system.service", "event", "started", Outcome::kSuccess);
        e.Set("message", std::string(padding, 'k'));
        auto seq = writer->Append(e);
        if (!seq) ::_exit(3);
        const uint64_t s = *seq;
        if (::write(ack_fd, &s, sizeof(s)) != sizeof(s)) ::_exit(4);
      }
    });
  }
  for (auto& th : threads) th.join();
  ::_exit(5);
}

TEST(EventWriterTest, KillDash9NeverLosesAcknowledgedEvents) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "spool";
  std::mt19937 rng(std::random_device{}());
  std::set<uint64_t> acknowledged;
  int torn_tails = 0;
  constexpr int kRounds = 25;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const unsigned seed = rng();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      AppendUntilKilled(dir, fds[1], seed);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50001));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    uint64_t seq;
    // Reads until the child's end of the pipe is closed by its death.
    while (true) {
      ssize_t n = ::read(fds[0], &seq, sizeof(seq));
      if (n == sizeof(seq)) {
        EXPECT_TRUE(acknowledged.insert(seq).second) << "seq " << seq << " acknowledged twice";
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      ASSERT_EQ(n, 0) << "partial seq on the pipe";
      break;
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child exited by itself, status " << status << " (2: open failed, 3: append failed)";
    auto files = ListSpoolFiles(dir, "proxy");
    if (files && !files->empty()) {
      const std::string last = ReadFile(files->back().path);
      if (!last.empty() && last.back() != '\n') ++torn_tails;
    }
  }
  // One more open repairs the last round's tail, as a restarted service would.
  ASSERT_TRUE(MustOpen(dir));

  std::vector<std::string> errors;
  const std::vector<uint64_t> seqs = ReadAllSeqs(dir, &errors);
  EXPECT_TRUE(errors.empty()) << errors.size() << " reader errors, first: " << errors.front();
  ASSERT_FALSE(seqs.empty());
  EXPECT_EQ(seqs, Iota(1, seqs.back())) << "not strictly increasing by 1";
  EXPECT_FALSE(acknowledged.empty());
  for (uint64_t s : acknowledged) EXPECT_LE(s, seqs.back()) << "acknowledged seq " << s << " lost";
  RecordProperty("acknowledged", std::to_string(acknowledged.size()));
  RecordProperty("torn_tails", std::to_string(torn_tails));
  std::printf("kill -9: %d rounds, %zu acknowledged, %zu in spool, %d torn tails repaired\n",
              kRounds, acknowledged.size(), seqs.size(), torn_tails);
}

// A measurement, not a check: run with --gtest_also_run_disabled_tests
// --gtest_filter='*Throughput*'. Set SECCLOUD_BENCH_DIR to measure on another file system.
TEST(EventWriterTest, DISABLED_Throughput) {
  TempDir tmp;
  const char* env = std::getenv("SECCLOUD_BENCH_DIR");
  const fs::path dir = env ? fs::path(env) / "seccloud-bench-spool" : tmp.path() / "spool";
  fs::remove_all(dir);
  for (int threads : {1, 8}) {
    fs::remove_all(dir);
    auto w = MustOpen(dir);
    ASSERT_TRUE(w);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    std::vector<std::thread> workers;
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        while (std::chrono::steady_clock::now() < deadline) {
          Event e = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess);
          e.Set("url.full", "https://www.example.jp/some/path?q=1")
              .Set("source.ip", "10.1.2.3")
              .Set("http.response.status_code", 200)
              .Set("user_agent.original", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)");
          ASSERT_TRUE(w->Append(e));
        }
      });
    }
    for (auto& th : workers) th.join();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const EventWriterStats st = w->stats();
    std::printf(
        "%d thread(s): %.0f appends/s, %.0f fdatasync/s, %.1f events per fdatasync, %.0f "
        "bytes/event\n",
        threads, st.appended / secs, st.fsyncs / secs, static_cast<double>(st.appended) / st.fsyncs,
        static_cast<double>(st.bytes) / st.appended);
    EXPECT_EQ(ReadAllSeqs(dir), Iota(1, st.appended));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace seccloud
