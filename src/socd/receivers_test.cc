// R18: the network receivers' memory is bounded by what senders do — an idle connection holds a
// small read buffer, a busy one a big buffer from a per-input ration, and gives it back when it
// stops filling reads — while every line still arrives, in order.
#include "socd/receivers.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/socket_testing.h"

namespace seccloud::socd {
namespace {

constexpr int64_t kSmall = 16 * 1024;
constexpr int64_t kBig = 256 * 1024;
constexpr int64_t kBigPerInput = 64;

// The receivers of one tcp input (newline framing) on an io_context of their own thread.
class ReceiversTest : public ::testing::Test {
 protected:
  void Start(size_t queue_capacity) {
    queue_ = std::make_unique<IngestQueue>(queue_capacity);
    SocInputConfig c;
    c.name = "lines";
    c.protocol = SocInputConfig::Protocol::kTcp;
    c.listen = *Endpoint::Parse("127.0.0.1:0");
    c.format = "text";
    c.framing = "lines";
    c.tenant = "tsu";
    auto r = Receivers::Start(io_, {c}, *queue_, metrics_, [](const auto&, const auto&) {});
    ASSERT_TRUE(r) << r.error().ToString();
    receivers_ = std::move(*r);
    port_ = receivers_->Port("lines");
    ASSERT_NE(port_, 0);
    EXPECT_EQ(receivers_->Port("no such input"), 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    if (queue_) queue_->Close();  // wakes readers waiting for room
    if (receivers_) receivers_->Stop();
    work_.reset();
    // Connections end when their peers are gone or the service has stopped; give them a moment
    // to see it, then stop the loop.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    io_.stop();
    if (thread_.joinable()) thread_.join();
    receivers_.reset();
  }

  int Connect() {
    const int fd = test::ConnectLoopback(port_);
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return fd;
  }
  static void SendAll(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      done += static_cast<size_t>(n);
    }
  }
  double BufferBytes() {
    return metrics_.GetGauge("seccloud_soc_read_buffer_bytes", "", "source=\"lines\"").value();
  }
  // Polls until pred holds (true) or 20 s pass (false).
  static bool Eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 2000; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }
  // Pops everything until `want` records arrived in all (or 20 s pass); returns their texts.
  std::vector<std::string> Drain(size_t want) {
    std::vector<std::string> got;
    std::vector<IngestItem> batch;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (got.size() < want && std::chrono::steady_clock::now() < until) {
      queue_->PopBatch(&batch, 4096, std::chrono::milliseconds(20));
      for (auto& item : batch) got.push_back(std::move(item.record.raw));
    }
    return got;
  }
  static std::string Lines(int from, int count) {
    std::string s;
    for (int i = from; i < from + count; ++i)
      s += "line " + std::to_string(i) + " of a busy sender, padded to look like a log record\n";
    return s;
  }

  // Declared before the io_context: connections' coroutine frames, destroyed with it, update
  // the gauge.
  MetricsRegistry metrics_;
  std::unique_ptr<IngestQueue> queue_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::unique_ptr<Receivers> receivers_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<int> fds_;
};

TEST_F(ReceiversTest, IdleConnectionsHoldOnlySmallReadBuffers) {
  Start(10'000);
  constexpr int kConnections = 300;
  for (int i = 0; i < kConnections; ++i) SendAll(Connect(), "hello " + std::to_string(i) + "\n");
  EXPECT_EQ(Drain(kConnections).size(), kConnections);
  // 300 connections that sent a line each: 4.7 MiB of buffers, where 256 KiB each was 75 MiB.
  EXPECT_TRUE(Eventually([&] { return BufferBytes() == kConnections * kSmall; })) << BufferBytes();
  for (int fd : fds_) ::close(fd);
  fds_.clear();
  EXPECT_TRUE(Eventually([&] { return BufferBytes() == 0; })) << BufferBytes();
}

TEST_F(ReceiversTest, BigReadBuffersAreRationedPerInput) {
  // Nothing is popped: each connection reads once (its small buffer fills, the sender has more),
  // asks for a big buffer, then waits for room in the queue — holding what it got.
  Start(1);
  constexpr int kConnections = kBigPerInput + 6;
  for (int i = 0; i < kConnections; ++i) SendAll(Connect(), Lines(0, 1000));  // ~77 KiB each
  const double want = kBigPerInput * kBig + (kConnections - kBigPerInput) * kSmall;
  EXPECT_TRUE(Eventually([&] { return BufferBytes() == want; }))
      << BufferBytes() << " bytes, want " << want;
}

TEST_F(ReceiversTest, ABusySenderGetsABigBufferAndGivesItBackWhenItSlowsDown) {
  Start(64);
  const int fd = Connect();
  constexpr int kLines = 20'000;  // ~1.5 MiB: more than the queue and a small read can take
  std::thread writer([&] { SendAll(fd, Lines(0, kLines)); });
  // The queue is full and the sender has a backlog: the connection's read filled 16 KiB.
  EXPECT_TRUE(Eventually([&] { return BufferBytes() == kBig; })) << BufferBytes();
  std::vector<std::string> got = Drain(kLines);
  writer.join();
  ASSERT_EQ(got.size(), kLines);
  for (int i = 0; i < kLines; i += 997) EXPECT_EQ(got[i] + "\n", Lines(i, 1)) << i;
  EXPECT_EQ(got.back() + "\n", Lines(kLines - 1, 1));
  // A lone line afterwards is a read far under 16 KiB: the big buffer goes back.
  SendAll(fd, "the last line\n");
  got = Drain(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "the last line");
  EXPECT_TRUE(Eventually([&] { return BufferBytes() == kSmall; })) << BufferBytes();
}

}  // namespace
}  // namespace seccloud::socd
