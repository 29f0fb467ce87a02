#include "scan/scan_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "scan/client.h"
#include "scan/protocol.h"
#include "scan/test_util.h"

namespace seccloud::scan {
namespace {

using namespace seccloud::scan::testing;
namespace fs = std::filesystem;

class ScanServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ScanConfig c;
    c.enabled = true;
    c.clamav_database = fs::path(SECCLOUD_SOURCE_DIR) / "etc/signatures/clamav";
    c.yara_rules = {fs::path(SECCLOUD_SOURCE_DIR) / "etc/signatures/yara"};
    auto e = ScanEngine::Create(c);
    ASSERT_TRUE(e) << e.error().ToString();
    engine_ = std::move(*e);
  }
  static void TearDownTestSuite() { engine_.reset(); }

  void SetUp() override {
    socket_ = fs::temp_directory_path() / ("scand-test-" + std::to_string(::getpid()) + ".sock");
    ServerOptions o;
    o.socket = socket_;
    o.workers = 3;
    o.max_stream_bytes = 1 << 20;
    o.spill_bytes = 64 << 10;
    o.io_timeout = std::chrono::milliseconds(2000);
    auto s = ScanServer::Start(
        o, engine_, [this](const Verdict& v, const ScanContext& c, std::span<const uint8_t> data) {
          std::lock_guard lock(mu_);
          observed_.push_back({v, c.file_name, data.size()});
        });
    ASSERT_TRUE(s) << s.error().ToString();
    server_ = std::move(*s);
  }
  void TearDown() override { server_->Stop(); }

  int RawConnect() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, socket_.c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  }
  static std::string ReadAll(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

  struct Observed {
    Verdict verdict;
    std::string name;
    size_t size;
  };
  static std::shared_ptr<ScanEngine> engine_;
  fs::path socket_;
  std::unique_ptr<ScanServer> server_;
  std::mutex mu_;
  std::vector<Observed> observed_;
};
std::shared_ptr<ScanEngine> ScanServerTest::engine_;

TEST_F(ScanServerTest, PingAndVerdicts) {
  auto pong = Ping(socket_);
  ASSERT_TRUE(pong) << pong.error().ToString();
  EXPECT_EQ(*pong, "PONG");
  ScanContext c;
  c.file_name = "eicar.com";
  c.tenant_id = "tsu";
  auto v = ScanStream(socket_, ToBytes(kEicar), c);
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ(v->result, Verdict::kInfected);
  ASSERT_FALSE(v->signatures.empty());
  EXPECT_EQ(v->signatures[0].rfind("Eicar-Test-Signature", 0), 0u);
  EXPECT_EQ(v->action, "block");
  auto clean = ScanStream(socket_, ToBytes("hello"), {});
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->result, Verdict::kClean);
  // The observer runs after the answer is sent.
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mu_);
      if (observed_.size() == 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard lock(mu_);
  ASSERT_EQ(observed_.size(), 2u);
  EXPECT_EQ(observed_[0].name, "eicar.com");
  EXPECT_EQ(observed_[0].size, kEicar.size());
}

TEST_F(ScanServerTest, LargeStreamSpillsToAFileAndIsScanned) {
  // 600 KiB (above the 64 KiB spill size) with EICAR at the end, in a ZIP.
  ZipWriter w;
  Bytes filler(600 << 10);
  for (size_t i = 0; i < filler.size(); ++i) filler[i] = static_cast<uint8_t>(i * 7919 >> 3);
  w.Add("data.bin", filler, false);
  w.Add("eicar.com", ToBytes(kEicar));
  auto v = ScanStream(socket_, w.Finish(), {});
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ(v->result, Verdict::kInfected) << v->error;
}

TEST_F(ScanServerTest, OversizedStreamIsCappedWithAnErrorVerdict) {
  Bytes big(3 << 20, 'x');
  auto v = ScanStream(socket_, big, {});
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ(v->result, Verdict::kError);
  EXPECT_NE(v->error.find("exceeds the limit"), std::string::npos) << v->error;
  EXPECT_EQ(server_->counters().capped.load(), 1u);
  // The server goes on serving.
  auto after = ScanStream(socket_, ToBytes(kEicar), {});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->result, Verdict::kInfected);
}

TEST_F(ScanServerTest, GarbageLengthPrefixAndBadCommands) {
  int fd = RawConnect();
  const char req[] = "SCAN\n\xff\xff\xff\xf0garbage";
  ASSERT_GT(::write(fd, req, sizeof req - 1), 0);
  std::string answer = ReadAll(fd);
  ::close(fd);
  auto v = VerdictFromJson(answer.substr(0, answer.find('\n')));
  ASSERT_TRUE(v) << answer;
  EXPECT_EQ(v->result, Verdict::kError);
  EXPECT_NE(v->error.find("exceeds 65536"), std::string::npos) << v->error;

  fd = RawConnect();
  ASSERT_GT(::write(fd, "RM -RF /\n", 9), 0);
  answer = ReadAll(fd);
  ::close(fd);
  EXPECT_NE(answer.find("unknown command"), std::string::npos) << answer;

  fd = RawConnect();
  std::string long_line(10000, 'A');
  (void)::write(fd, long_line.data(), long_line.size());
  answer = ReadAll(fd);
  ::close(fd);
  EXPECT_NE(answer.find("longer than 4096"), std::string::npos) << answer;
  EXPECT_EQ(server_->counters().protocol_errors.load(), 3u);
  EXPECT_TRUE(Ping(socket_));
}

TEST_F(ScanServerTest, ClientVanishingMidStreamOrStallingFreesTheWorker) {
  for (int i = 0; i < 5; ++i) {
    int fd = RawConnect();
    uint8_t prefix[4];
    PutChunkLength(1000, prefix);
    ASSERT_GT(::write(fd, "SCAN\n", 5), 0);
    ASSERT_GT(::write(fd, prefix, 4), 0);
    ASSERT_GT(::write(fd, "partial", 7), 0);
    ::close(fd);
  }
  // Stalling clients (no bytes after the command) hold a worker only until the I/O deadline.
  std::vector<int> stalled;
  for (int i = 0; i < 3; ++i) {
    stalled.push_back(RawConnect());
    ASSERT_GT(::write(stalled.back(), "SCAN\n", 5), 0);
  }
  const auto start = std::chrono::steady_clock::now();
  auto v = ScanStream(socket_, ToBytes(kEicar), {});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ(v->result, Verdict::kInfected);
  EXPECT_LT(took, std::chrono::seconds(5));
  for (int fd : stalled) ::close(fd);
  EXPECT_GE(server_->counters().aborted.load(), 5u);
}

TEST_F(ScanServerTest, ConcurrentClients) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const bool bad = (i + t) % 2 == 0;
        auto v = ScanStream(socket_, bad ? ToBytes(kEicar) : ToBytes("clean text"), {});
        if (!v || v->result != (bad ? Verdict::kInfected : Verdict::kClean)) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(server_->counters().scans.load(), 120u);
}

TEST(ScanProtocol, RequestLinesAndVerdictJsonRoundTrip) {
  auto r = ParseRequestLine("SCAN {\"name\":\"a.zip\",\"tenant\":\"tsu\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->context.file_name, "a.zip");
  EXPECT_EQ(r->context.tenant_id, "tsu");
  EXPECT_FALSE(ParseRequestLine("SCAN {\"name\":3}"));
  EXPECT_FALSE(ParseRequestLine("SCAN {\"evil\":\"x\"}"));
  EXPECT_FALSE(ParseRequestLine("SCANX"));
  EXPECT_EQ(ParseRequestLine("PING")->command, ScanRequest::kPing);
  ScanRequest req;
  req.context.file_name = "請求書.zip";
  auto back = ParseRequestLine(FormatRequestLine(req).substr(0, FormatRequestLine(req).size() - 1));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->context.file_name, "請求書.zip");
  Verdict v;
  v.result = Verdict::kSuspicious;
  v.signatures = {"Heuristics.Encrypted.Zip"};
  v.engine = "clamav";
  v.action = "quarantine";
  auto parsed = VerdictFromJson(VerdictToJsonLine(v));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->result, Verdict::kSuspicious);
  EXPECT_EQ(parsed->signatures, v.signatures);
  EXPECT_EQ(parsed->action, "quarantine");
  EXPECT_FALSE(VerdictFromJson("{\"result\":\"maybe\"}"));
}

}  // namespace
}  // namespace seccloud::scan
