// R3: the spliced-tunnel relay passes bytes intact both ways, passes each end of stream on as a
// half-close, counts what it wrote, and gives up on an idle tunnel.
#include "proxy/tcp_relay.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>

namespace seccloud::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Two connected pairs on loopback: `a_peer` ↔ `a` and `b` ↔ `b_peer`. The relay runs between
// `a` and `b` on `io`; the test drives the peers with blocking calls from another thread.
struct Tunnel {
  asio::io_context io{1};
  asio::io_context peers_io{1};
  tcp::socket a{io}, b{io};
  tcp::socket a_peer{peers_io}, b_peer{peers_io};

  Tunnel() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a_peer.connect(acceptor.local_endpoint());
    acceptor.accept(a);
    b_peer.connect(acceptor.local_endpoint());
    acceptor.accept(b);
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

TEST(TcpRelayTest, BytesBothWaysAndHalfClose) {
  Tunnel t;
  std::string at_b, at_a;
  std::thread peers([&] {
    asio::write(t.a_peer, asio::buffer(std::string("hello from a")));
    t.a_peer.shutdown(tcp::socket::shutdown_send);
    // b's side sees a's data, then a's end of stream, and can still answer.
    at_b = ReadToEnd(t.b_peer);
    asio::write(t.b_peer, asio::buffer(std::string("answer from b")));
    t.b_peer.shutdown(tcp::socket::shutdown_send);
    at_a = ReadToEnd(t.a_peer);
  });
  const RelayTotals totals = t.Run(std::chrono::seconds(10));
  peers.join();
  EXPECT_EQ(at_b, "hello from a");
  EXPECT_EQ(at_a, "answer from b");
  EXPECT_EQ(totals.a_to_b, 12u);
  EXPECT_EQ(totals.b_to_a, 13u);
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
