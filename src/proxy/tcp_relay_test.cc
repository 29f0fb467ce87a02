// R3: the spliced-tunnel relay passes bytes intact both ways, passes each end of stream on as a
// half-close, counts what it wrote, and gives up on an idle tunnel.
#include "proxy/tcp_relay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace seccloud::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Two connected pairs on loopback: `a_peer` ↔ `a` and `b` ↔ `b_peer`. The relay runs between
// `a` and `b` on `io`; the test drives the peers with blocking calls from another thread.
// With `small_buffers`, the relay's sockets send and the peers receive through the smallest
// buffers the kernel allows, so a relay write waits for the peer after a few KiB.
struct Tunnel {
  asio::io_context io{1};
  asio::io_context peers_io{1};
  tcp::socket a{io}, b{io};
  tcp::socket a_peer{peers_io}, b_peer{peers_io};

  explicit Tunnel(bool small_buffers = false) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    if (small_buffers) {
      // The receive buffer before connecting: the window scale is agreed in the handshake.
      for (tcp::socket* peer : {&a_peer, &b_peer}) {
        peer->open(tcp::v4());
        peer->set_option(asio::socket_base::receive_buffer_size(4096));
      }
    }
    a_peer.connect(acceptor.local_endpoint());
    acceptor.accept(a);
    b_peer.connect(acceptor.local_endpoint());
    acceptor.accept(b);
    if (small_buffers) {
      a.set_option(asio::socket_base::send_buffer_size(4096));
      b.set_option(asio::socket_base::send_buffer_size(4096));
    }
  }

  RelayTotals Run(std::chrono::milliseconds idle) {
    std::optional<RelayTotals> totals;
    asio::co_spawn(io, RelayTcp(a, b, idle), [&](std::exception_ptr e, RelayTotals t) {
      if (e) std::rethrow_exception(e);
      totals = t;
    });
    io.run();
    EXPECT_TRUE(totals.has_value());
    return totals.value_or(RelayTotals{});
  }
};

std::string ReadToEnd(tcp::socket& s) {
  std::string out;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(out), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  return out;
}

// The first peer (a's or b's) sends `hello` and ends its stream; the second sees the data, then
// that end (passed on as a half-close), and can still answer with `answer` and end its own.
void ExpectExchangeWithHalfClose(bool a_first, const std::string& hello,
                                 const std::string& answer) {
  Tunnel t;
  tcp::socket& first = a_first ? t.a_peer : t.b_peer;
  tcp::socket& second = a_first ? t.b_peer : t.a_peer;
  std::string at_second, at_first;
  std::thread peers([&] {
    asio::write(first, asio::buffer(hello));
    first.shutdown(tcp::socket::shutdown_send);
    at_second = ReadToEnd(second);
    asio::write(second, asio::buffer(answer));
    second.shutdown(tcp::socket::shutdown_send);
    at_first = ReadToEnd(first);
  });
  const RelayTotals totals = t.Run(std::chrono::seconds(10));
  peers.join();
  EXPECT_EQ(at_second, hello);
  EXPECT_EQ(at_first, answer);
  EXPECT_EQ(a_first ? totals.a_to_b : totals.b_to_a, hello.size());
  EXPECT_EQ(a_first ? totals.b_to_a : totals.a_to_b, answer.size());
  EXPECT_FALSE(totals.idle_timeout);
}

TEST(TcpRelayTest, BytesBothWaysAndHalfClose) {
  ExpectExchangeWithHalfClose(/*a_first=*/true, "hello from a", "answer from b");
}

TEST(TcpRelayTest, HalfCloseFromTheOtherSideFirst) {
  ExpectExchangeWithHalfClose(/*a_first=*/false, "first from b", "then a, after b's end");
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// Messages keep arriving on both sides while the relay's writes in both directions wait for
// peers that do not read yet: each direction's read readiness comes while that direction is
// suspended in a write. The last message, after which nothing else arrives, must still be
// relayed (a lost readiness edge would leave it in the socket until the idle timeout).
TEST(TcpRelayTest, MessagesThatArriveWhileTheRelayWaitsToWriteAreNotLeftBehind) {
  Tunnel t(/*small_buffers=*/true);
  constexpr size_t kMessage = 1000;
  constexpr int kMessages = 60;  // 60,000 bytes: less than a relay chunk, so no splice(2)
  const std::string up = RandomBytes(kMessage * kMessages, 11);
  const std::string down = RandomBytes(kMessage * kMessages, 12);
  std::string got_up, got_down;
  std::atomic<int> sent{0};
  auto send_slowly = [&](tcp::socket& s, const std::string& bytes) {
    for (int i = 0; i < kMessages; ++i) {
      asio::write(s, asio::buffer(bytes.data() + i * kMessage, kMessage));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ++sent;
  };
  // Reads only once both sides sent everything, then exactly what was sent.
  auto read_later = [&](tcp::socket& s, std::string& into, size_t n) {
    while (sent.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    into.resize(n);
    boost::system::error_code ec;
    into.resize(asio::read(s, asio::buffer(into), ec));
  };
  std::thread writer_a([&] { send_slowly(t.a_peer, up); });
  std::thread writer_b([&] { send_slowly(t.b_peer, down); });
  std::thread reader_b([&] {
    read_later(t.b_peer, got_up, up.size());
    t.b_peer.shutdown(tcp::socket::shutdown_send);
  });
  std::thread reader_a([&] {
    read_later(t.a_peer, got_down, down.size());
    t.a_peer.shutdown(tcp::socket::shutdown_send);
  });
  // A stuck relay ends at the idle timeout instead of hanging the test.
  const RelayTotals totals = t.Run(std::chrono::seconds(5));
  // If the relay ended early, a reader could still be waiting: closing ends its read.
  t.a.close();
  t.b.close();
  for (auto* th : {&writer_a, &writer_b, &reader_a, &reader_b}) th->join();
  EXPECT_FALSE(totals.idle_timeout);
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size() << " bytes";
  EXPECT_TRUE(got_down == down) << got_down.size() << " of " << down.size() << " bytes";
  EXPECT_EQ(totals.a_to_b, up.size());
  EXPECT_EQ(totals.b_to_a, down.size());
}

// Request and answer, one at a time, many times over: each message is read short and waited
// for afresh, and none is lost or merged away.
TEST(TcpRelayTest, ManySmallMessagesPingPongExactly) {
  Tunnel t;
  constexpr int kRounds = 2000;
  constexpr size_t kPing = 100, kPong = 37;
  int rounds = 0;
  std::thread peers([&] {
    std::string ping(kPing, 'p'), pong(kPong, 'q'), got;
    for (int i = 0; i < kRounds; ++i) {
      ping[0] = static_cast<char>(i);
      pong[0] = static_cast<char>(i + 1);
      asio::write(t.a_peer, asio::buffer(ping));
      got.resize(kPing);
      asio::read(t.b_peer, asio::buffer(got));
      if (got != ping) break;
      asio::write(t.b_peer, asio::buffer(pong));
      got.resize(kPong);
      asio::read(t.a_peer, asio::buffer(got));
      if (got != pong) break;
      ++rounds;
    }
    t.a_peer.shutdown(tcp::socket::shutdown_send);
    t.b_peer.shutdown(tcp::socket::shutdown_send);
    EXPECT_EQ(ReadToEnd(t.a_peer), "");
    EXPECT_EQ(ReadToEnd(t.b_peer), "");
  });
  const RelayTotals totals = t.Run(std::chrono::seconds(10));
  peers.join();
  EXPECT_EQ(rounds, kRounds);
  EXPECT_EQ(totals.a_to_b, kRounds * kPing);
  EXPECT_EQ(totals.b_to_a, kRounds * kPong);
  EXPECT_FALSE(totals.idle_timeout);
}

TEST(TcpRelayTest, LargeTransferArrivesIntactInBothDirectionsAtOnce) {
  Tunnel t;
  std::mt19937 rng(7);
  std::string up(3 * 1024 * 1024 + 17, '\0'), down(2 * 1024 * 1024 + 5, '\0');
  for (char& c : up) c = static_cast<char>(rng());
  for (char& c : down) c = static_cast<char>(rng());
  std::string got_up, got_down;
  // Each peer writes and reads at the same time, so neither direction can wait for the other.
  std::thread writer_a([&] {
    asio::write(t.a_peer, asio::buffer(up));
    t.a_peer.shutdown(tcp::socket::shutdown_send);
  });
  std::thread writer_b([&] {
    asio::write(t.b_peer, asio::buffer(down));
    t.b_peer.shutdown(tcp::socket::shutdown_send);
  });
  std::thread reader_b([&] { got_up = ReadToEnd(t.b_peer); });
  std::thread reader_a([&] { got_down = ReadToEnd(t.a_peer); });
  const RelayTotals totals = t.Run(std::chrono::seconds(10));
  for (auto* th : {&writer_a, &writer_b, &reader_a, &reader_b}) th->join();
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size() << " bytes";
  EXPECT_TRUE(got_down == down) << got_down.size() << " of " << down.size() << " bytes";
  EXPECT_EQ(totals.a_to_b, up.size());
  EXPECT_EQ(totals.b_to_a, down.size());
}

// One direction goes bulk (spliced after a read fills a chunk), then pauses between bursts of
// every size — a few bytes, exactly a pipe's worth, more than one — so that splices come back
// short or empty and the relay must wait for the next burst instead of missing it; the other
// direction answers each burst. Ends with a half-close right after a short burst.
TEST(TcpRelayTest, BurstsAfterTheTunnelWentBulkAreRelayedExactly) {
  Tunnel t;
  const std::vector<size_t> bursts = {200 * 1024,     1, 10, 64 * 1024, 64 * 1024 + 1, 3 * 1024,
                                      256 * 1024 + 7, 5};
  size_t sent_up = 0;
  for (size_t n : bursts) sent_up += n;
  const std::string up = RandomBytes(sent_up, 21);
  std::string got_up, got_down;
  std::thread a_side([&] {
    size_t at = 0;
    for (size_t n : bursts) {
      asio::write(t.a_peer, asio::buffer(up.data() + at, n));
      at += n;
      char ack = 0;  // b's answer: the burst arrived whole, then the next one goes
      asio::read(t.a_peer, asio::buffer(&ack, 1));
      got_down.push_back(ack);
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    t.a_peer.shutdown(tcp::socket::shutdown_send);
    got_down += ReadToEnd(t.a_peer);
  });
  std::thread b_side([&] {
    for (size_t n : bursts) {
      const size_t before = got_up.size();
      got_up.resize(before + n);
      asio::read(t.b_peer, asio::buffer(got_up.data() + before, n));
      asio::write(t.b_peer, asio::buffer(std::string("k")));
    }
    got_up += ReadToEnd(t.b_peer);
    t.b_peer.shutdown(tcp::socket::shutdown_send);
  });
  const RelayTotals totals = t.Run(std::chrono::seconds(10));
  a_side.join();
  b_side.join();
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size() << " bytes";
  EXPECT_EQ(got_down, std::string(bursts.size(), 'k'));
  EXPECT_EQ(totals.a_to_b, up.size());
  EXPECT_EQ(totals.b_to_a, bursts.size());
  EXPECT_FALSE(totals.idle_timeout);
}

// A spliced direction whose reader is slow: the relay's splices into the far socket fill its
// small buffers and wait for room again and again; every byte arrives, in order, counted once.
TEST(TcpRelayTest, SplicedBytesWaitForASlowReaderAndArriveExactly) {
  Tunnel t(/*small_buffers=*/true);
  const std::string up = RandomBytes(1024 * 1024 + 3, 31);
  std::string got_up;
  std::thread writer([&] {
    asio::write(t.a_peer, asio::buffer(up));
    t.a_peer.shutdown(tcp::socket::shutdown_send);
  });
  std::thread reader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    char piece[1500];
    boost::system::error_code ec;
    while (true) {
      const size_t n = t.b_peer.read_some(asio::buffer(piece), ec);
      got_up.append(piece, n);
      if (ec) break;
      if (got_up.size() % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    EXPECT_EQ(ec, asio::error::eof) << ec.message();
    t.b_peer.shutdown(tcp::socket::shutdown_send);
  });
  const RelayTotals totals = t.Run(std::chrono::seconds(10));
  writer.join();
  reader.join();
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size() << " bytes";
  EXPECT_EQ(totals.a_to_b, up.size());
  EXPECT_EQ(totals.b_to_a, 0u);
  EXPECT_FALSE(totals.idle_timeout);
  EXPECT_EQ(ReadToEnd(t.a_peer), "");
}

// The idle watchdog counts spliced writes too: a reader slower than the pipe drains (256 KiB at
// 4 KiB per 10 ms takes 0.64 s, longer than the idle time here) keeps the tunnel alive, and every
// byte arrives (review of proxy8: the tunnel was cut after ~370 of 600 KiB).
TEST(TcpRelayTest, ASlowReaderDrainingAFullPipeIsNotIdle) {
  Tunnel t(/*small_buffers=*/true);
  const std::string up = RandomBytes(600 * 1024, 41);
  std::string got_up;
  std::thread writer([&] {
    asio::write(t.a_peer, asio::buffer(up));
    t.a_peer.shutdown(tcp::socket::shutdown_send);
  });
  std::thread reader([&] {
    char piece[4096];
    boost::system::error_code ec;
    while (true) {
      const size_t n = asio::read(t.b_peer, asio::buffer(piece), ec);
      got_up.append(piece, n);
      if (ec) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(ec, asio::error::eof) << ec.message();
    t.b_peer.shutdown(tcp::socket::shutdown_send);
  });
  const RelayTotals totals = t.Run(std::chrono::milliseconds(400));
  writer.join();
  reader.join();
  EXPECT_FALSE(totals.idle_timeout);
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size() << " bytes";
  EXPECT_EQ(totals.a_to_b, up.size());
}

// An urgent byte (MSG_OOB) in a spliced direction: splice stops at its mark, so the direction is
// copied from there (recv reads past the mark; the urgent byte itself is out of band, not in the
// stream). Every byte of the stream arrives, nothing waits for the idle time (the relay spun
// until the FIN and then ended the stream at the mark, losing what followed).
TEST(TcpRelayTest, AnUrgentByteInASplicedDirectionLosesNothing) {
  Tunnel t;
  const std::string before = RandomBytes(200 * 1024, 43), after = RandomBytes(1000, 47);
  std::string got_up;
  std::thread writer([&] {
    asio::write(t.a_peer, asio::buffer(before));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // spliced by now
    t.a_peer.send(asio::buffer("!", 1), tcp::socket::message_out_of_band);
    asio::write(t.a_peer, asio::buffer(after));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    t.a_peer.shutdown(tcp::socket::shutdown_send);
  });
  std::thread reader([&] {
    got_up = ReadToEnd(t.b_peer);
    t.b_peer.shutdown(tcp::socket::shutdown_send);
  });
  const RelayTotals totals = t.Run(std::chrono::seconds(10));
  writer.join();
  reader.join();
  EXPECT_FALSE(totals.idle_timeout);
  EXPECT_TRUE(got_up == before + after) << got_up.size() << " of " << before.size() + after.size();
  EXPECT_EQ(totals.a_to_b, before.size() + after.size());
  EXPECT_EQ(ReadToEnd(t.a_peer), "");
}

// Spliced directions share the thread's pipes: one whose far side went away while bytes sat in
// its pipe must not hand that pipe on, or the next tunnel's reader would get the stale bytes
// first. Then tunnels one after another on the same thread each get exactly their own bytes.
TEST(TcpRelayTest, APipeLeftWithBytesIsNotReusedAndReusedPipesCarryExactBytes) {
  {
    Tunnel t(/*small_buffers=*/true);
    const std::string up = RandomBytes(2 * 1024 * 1024, 41);
    std::thread writer([&] {
      boost::system::error_code ec;
      asio::write(t.a_peer, asio::buffer(up), ec);  // fails once the relay gave up
    });
    std::thread reader([&] {
      // Enough for the direction to go bulk (a read that fills a relay chunk), then no more:
      // the relay's splice into b waits with bytes in its pipe.
      std::string piece(300 * 1024, '\0');
      asio::read(t.b_peer, asio::buffer(piece));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      t.b_peer.set_option(asio::socket_base::linger(true, 0));
      t.b_peer.close();  // a reset with bytes still on their way
    });
    const RelayTotals totals = t.Run(std::chrono::seconds(10));
    t.a.close();
    t.b.close();
    writer.join();
    reader.join();
    EXPECT_FALSE(totals.idle_timeout);
    EXPECT_LT(totals.a_to_b, up.size());
  }
  for (int round = 0; round < 3; ++round) {
    Tunnel t;
    const std::string up = RandomBytes(300 * 1024 + round, 50 + round);
    const std::string down = RandomBytes(200 * 1024 + round, 60 + round);
    std::string got_up, got_down;
    std::thread writer_a([&] {
      asio::write(t.a_peer, asio::buffer(up));
      t.a_peer.shutdown(tcp::socket::shutdown_send);
    });
    std::thread writer_b([&] {
      asio::write(t.b_peer, asio::buffer(down));
      t.b_peer.shutdown(tcp::socket::shutdown_send);
    });
    std::thread reader_b([&] { got_up = ReadToEnd(t.b_peer); });
    std::thread reader_a([&] { got_down = ReadToEnd(t.a_peer); });
    const RelayTotals totals = t.Run(std::chrono::seconds(10));
    for (auto* th : {&writer_a, &writer_b, &reader_a, &reader_b}) th->join();
    EXPECT_TRUE(got_up == up) << "round " << round << ": " << got_up.size() << " of " << up.size();
    EXPECT_TRUE(got_down == down) << "round " << round << ": " << got_down.size() << " of "
                                  << down.size();
    EXPECT_EQ(totals.a_to_b, up.size());
    EXPECT_EQ(totals.b_to_a, down.size());
  }
}

TEST(TcpRelayTest, IdleTunnelEndsAfterTheIdleTime) {
  Tunnel t;
  std::string at_b;
  std::thread peers([&] {
    asio::write(t.a_peer, asio::buffer(std::string("x")));
    char c;
    asio::read(t.b_peer, asio::buffer(&c, 1));
    at_b.assign(1, c);
  });
  const auto start = std::chrono::steady_clock::now();
  const RelayTotals totals = t.Run(std::chrono::milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - start;
  peers.join();
  EXPECT_EQ(at_b, "x");
  EXPECT_TRUE(totals.idle_timeout);
  EXPECT_EQ(totals.a_to_b, 1u);
  // Contract: between idle and 1.25 × idle after the last byte moved (plus scheduling slack).
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(TcpRelayTest, AResetEndsTheRelayWithoutAnIdleWait) {
  Tunnel t;
  std::thread peers([&] {
    // An abortive close (RST) of one end; the other peer sees its tunnel end.
    t.a_peer.set_option(asio::socket_base::linger(true, 0));
    t.a_peer.close();
    std::string rest;
    boost::system::error_code ec;
    asio::read(t.b_peer, asio::dynamic_buffer(rest), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    t.b_peer.close();
  });
  const RelayTotals totals = t.Run(std::chrono::seconds(30));
  peers.join();
  EXPECT_FALSE(totals.idle_timeout);
}

}  // namespace
}  // namespace seccloud::proxy
