// R3: ReadWatch, the deadline of a plain socket's read (a plain client's wait between kept-alive
// requests, an upstream's response header), on a real loopback socket pair with an io_context
// the test runs by hand, so the order of the completions is the one the test sets up.
#include "proxy/read_watch.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace seccloud::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Pair {
  asio::io_context io{1};
  tcp::socket sock{io}, peer{io};
  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    peer.connect(acceptor.local_endpoint());
    acceptor.accept(sock);
  }
  // Runs handlers until `done` or `limit` has passed; returns how long it took.
  milliseconds RunUntil(const bool& done, milliseconds limit) {
    const auto start = Clock::now();
    while (!done && Clock::now() - start < limit) io.run_one_for(milliseconds(10));
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  }
};

// A composed read as Beast's async_read_header is one: read_some after read_some, 4 bytes at a
// time, until the peer's "!" or an error; under the watch from the first read to the end.
struct Reader {
  bool done = false;
  boost::system::error_code ec;
  std::string got;
};

asio::awaitable<void> ReadUntilBang(tcp::socket& sock, ReadWatch& watch, milliseconds span,
                                    Reader& r) {
  watch.Begin(sock, span);
  std::array<char, 4> buf;
  for (;;) {
    auto [ec, n] =
        co_await sock.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    r.got.append(buf.data(), n);
    if (ec) {
      r.ec = ec;
      break;
    }
    if (r.got.find('!') != std::string::npos) break;
  }
  watch.End();
  r.done = true;
}

TEST(ReadWatchTest, AReadThatSeesNothingEndsAtItsDeadline) {
  Pair p;
  ReadWatch watch(p.io);
  Reader r;
  asio::co_spawn(p.io, ReadUntilBang(p.sock, watch, milliseconds(100), r), asio::detached);
  const milliseconds took = p.RunUntil(r.done, milliseconds(5000));
  ASSERT_TRUE(r.done);
  EXPECT_TRUE(watch.TimedOut(r.ec)) << r.ec.message();
  EXPECT_GE(took.count(), 90);
  EXPECT_LT(took.count(), 3000);
}

TEST(ReadWatchTest, AReadThatEndsInTimeIsNotCancelledAndTheNextGetsItsOwnDeadline) {
  Pair p;
  ReadWatch watch(p.io);
  Reader r;
  asio::co_spawn(p.io, ReadUntilBang(p.sock, watch, milliseconds(300), r), asio::detached);
  p.io.poll();
  asio::write(p.peer, asio::buffer(std::string("hello!")));
  p.RunUntil(r.done, milliseconds(5000));
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.got, "hello!");
  // The watch's timer outlives the first read; a second read, begun later, is cancelled at its
  // own deadline, not at the first's.
  Reader r2;
  const auto start = Clock::now();
  asio::co_spawn(p.io, ReadUntilBang(p.sock, watch, milliseconds(300), r2), asio::detached);
  p.RunUntil(r2.done, milliseconds(5000));
  ASSERT_TRUE(r2.done);
  EXPECT_TRUE(watch.TimedOut(r2.ec)) << r2.ec.message();
  EXPECT_GE(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 290);
}

// The race of df60f1f: the deadline passes while bytes are on their way. One turn of the
// reactor then sees both the socket readable and the timer due; the socket's operation runs
// first (Asio's epoll reactor queues descriptors before timers): the first read_some takes 4 of
// the 8 bytes and the reader starts its next read_some, which finds the other 4 at once — its
// completion is queued behind the timer's. The watch's cancel then finds no read in progress;
// the reader's third read_some starts after it, and the peer sends nothing more. A watch that
// cancelled once left that read without a deadline (this test then waits its 3 s and fails);
// the watch keeps cancelling until End(), so the read ends at the next turn.
TEST(ReadWatchTest, AReadStartedAfterTheCancelIsCancelledToo) {
  Pair p;
  ReadWatch watch(p.io);
  Reader r;
  asio::co_spawn(p.io, ReadUntilBang(p.sock, watch, milliseconds(20), r), asio::detached);
  p.io.poll();  // the watch waits on its timer, the first read_some on the socket
  ASSERT_FALSE(r.done);
  asio::write(p.peer, asio::buffer(std::string("12345678")));
  std::this_thread::sleep_for(milliseconds(100));  // past the deadline, the io_context idle
  const milliseconds took = p.RunUntil(r.done, milliseconds(3000));
  ASSERT_TRUE(r.done) << "the read went on past its deadline; read so far: " << r.got;
  EXPECT_TRUE(watch.TimedOut(r.ec)) << r.ec.message();
  EXPECT_EQ(r.got, "12345678");  // both read_some calls were made: the race did happen
  EXPECT_LT(took.count(), 1000);
}

TEST(ReadWatchTest, AWatchGoneBeforeItsTimerLeavesNothingRunning) {
  Pair p;
  {
    ReadWatch watch(p.io);
    watch.Begin(p.sock, milliseconds(60000));
    watch.End();
    p.io.poll();
  }
  // The watch's coroutine ends once its owner has gone: the io_context runs out of work.
  p.sock.close();
  p.peer.close();
  const auto start = Clock::now();
  p.io.run_for(milliseconds(2000));
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 1000);
}

}  // namespace
}  // namespace seccloud::proxy
