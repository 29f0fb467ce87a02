// TlsStream (R3, R9): the stream the proxy's intercepted connections use on both legs. A client
// and a server TlsStream over loopback TCP, plus raw sockets playing a hostile peer.

#include "net/tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "net/tls.h"
#include "net/tls_testing.h"

namespace seccloud::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
const auto kServer = asio::ssl::stream_base::server;
const auto kClient = asio::ssl::stream_base::client;

std::string Pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + i / 977) & 0xff);
  return s;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = testing::MakeCa(dir_.path(), "stream");
    ASSERT_TRUE(ca) << ca.error().message;
    auto cache = LeafCertCache::Create(*ca);
    ASSERT_TRUE(cache) << cache.error().message;
    auto ctx = (*cache)->ServerContextFor("stream.test");
    ASSERT_TRUE(ctx) << ctx.error().message;
    server_ctx_ = *ctx;
    cache_ = std::move(*cache);
    client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
    ASSERT_TRUE(client_ctx_);
    SSL_CTX_set_verify(client_ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ASSERT_EQ(SSL_CTX_load_verify_locations(client_ctx_.get(), (dir_.path() / kCaCertFile).c_str(),
                                            nullptr),
              1);
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
  }

  // A connected pair of plain sockets: the accepted one and the connecting one.
  std::pair<tcp::socket, tcp::socket> Pair() {
    tcp::socket client(io_);
    client.connect(acceptor_.local_endpoint());
    tcp::socket server = acceptor_.accept();
    return {std::move(server), std::move(client)};
  }

  void Run(asio::awaitable<void> a) {
    bool done = false;
    std::string failure;
    asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e) {
      done = true;
      if (e) failure = "exception";
    });
    io_.run_for(std::chrono::seconds(30));
    io_.restart();
    EXPECT_TRUE(done) << "the test's coroutine did not finish";
    EXPECT_EQ(failure, "");
  }

  testing::TempDir dir_;
  std::unique_ptr<LeafCertCache> cache_;
  std::shared_ptr<SSL_CTX> server_ctx_;
  SslCtxPtr client_ctx_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
};

asio::awaitable<error_code> Handshake(TlsStream& s, TlsStream::handshake_type type) {
  auto [ec] = co_await s.async_handshake(type, kTuple);
  co_return ec;
}

asio::awaitable<error_code> Shutdown(TlsStream& s) {
  auto [ec] = co_await s.async_shutdown(kTuple);
  co_return ec;
}

asio::awaitable<void> HandshakeBoth(TlsStream& server, TlsStream& client, error_code& sec,
                                    error_code& cec) {
  using namespace asio::experimental::awaitable_operators;
  std::tie(sec, cec) = co_await (Handshake(server, kServer) && Handshake(client, kClient));
}

// Reads until `n` bytes came or the stream ended; returns what came.
asio::awaitable<std::string> ReadN(TlsStream& s, size_t n, error_code& ec) {
  std::string got;
  std::vector<char> buf(48 * 1024);
  while (got.size() < n) {
    auto [rec, rn] = co_await s.async_read_some(asio::buffer(buf), kTuple);
    got.append(buf.data(), rn);
    if (rec) {
      ec = rec;
      break;
    }
  }
  co_return got;
}

// The server echoes what it reads; reads and writes overlap on the same stream.
asio::awaitable<void> Echo(TlsStream& s, size_t n) {
  std::vector<char> buf(32 * 1024);
  size_t done = 0;
  while (done < n) {
    auto [rec, rn] = co_await s.async_read_some(asio::buffer(buf), kTuple);
    if (rn > 0) {
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf.data(), rn), kTuple);
      if (wec) co_return;
      done += wn;
    }
    if (rec) co_return;
  }
}

TEST_F(TlsStreamTest, EchoesMegabytesWithReadsAndWritesInFlightTogether) {
  auto [ss, cs] = Pair();
  TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
  TlsStream client(beast::tcp_stream(std::move(cs)), client_ctx_.get());
  SSL_set_tlsext_host_name(client.native_handle(), "stream.test");
  SSL_set1_host(client.native_handle(), "stream.test");
  const std::string data = Pattern(3 * 1024 * 1024 + 12345, 1);
  std::string echoed;
  error_code sec, cec, rec, wec;
  Run([&]() -> asio::awaitable<void> {
    co_await HandshakeBoth(server, client, sec, cec);
    if (sec || cec) co_return;
    using namespace asio::experimental::awaitable_operators;
    auto writer = [&]() -> asio::awaitable<void> {
      auto [ec, n] = co_await asio::async_write(client, asio::buffer(data), kTuple);
      wec = ec;
    };
    co_await (Echo(server, data.size()) && writer() && [&]() -> asio::awaitable<void> {
      echoed = co_await ReadN(client, data.size(), rec);
    }());
  }());
  ASSERT_FALSE(sec) << sec.message();
  ASSERT_FALSE(cec) << cec.message();
  EXPECT_FALSE(wec) << wec.message();
  EXPECT_FALSE(rec) << rec.message();
  ASSERT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data);
  EXPECT_STREQ(SSL_get_cipher_name(server.native_handle()), "TLS_AES_128_GCM_SHA256");
}

TEST_F(TlsStreamTest, GatheredSmallBuffersArriveWholeAndInOrder) {
  auto [ss, cs] = Pair();
  TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
  TlsStream client(beast::tcp_stream(std::move(cs)), client_ctx_.get());
  std::vector<std::string> parts;
  std::vector<asio::const_buffer> buffers;
  std::string expected;
  for (size_t i = 0; i < 40; ++i)
    parts.push_back(Pattern(1 + i * 97 % 3000, static_cast<unsigned>(i)));
  parts.push_back(Pattern(70 * 1024, 99));  // larger than a record and than one write takes
  parts.push_back("tail");
  for (const std::string& p : parts) {
    buffers.push_back(asio::buffer(p));
    expected += p;
  }
  std::string got;
  error_code sec, cec, rec, wec;
  Run([&]() -> asio::awaitable<void> {
    co_await HandshakeBoth(server, client, sec, cec);
    if (sec || cec) co_return;
    auto [ec, n] = co_await asio::async_write(client, buffers, kTuple);
    wec = ec;
    got = co_await ReadN(server, expected.size(), rec);
  }());
  ASSERT_FALSE(sec || cec);
  EXPECT_FALSE(wec) << wec.message();
  EXPECT_FALSE(rec) << rec.message();
  EXPECT_TRUE(got == expected) << got.size() << " of " << expected.size() << " bytes";
}

// write_some_now takes what the kernel takes at once; the tail of records a full send buffer
// refused goes first with async_flush, before what is written after it, and nothing is taken
// while it is pending.
TEST_F(TlsStreamTest, WritesNowUntilTheKernelRefusesAndTheRestFollowsInOrder) {
  auto [ss, cs] = Pair();
  cs.set_option(asio::socket_base::send_buffer_size(64 * 1024));
  TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
  TlsStream client(beast::tcp_stream(std::move(cs)), client_ctx_.get());
  const std::string data = Pattern(4 * 1024 * 1024 + 777, 5);
  size_t taken = 0;
  size_t calls = 0;
  size_t pending_at_refusal = 0;
  size_t taken_while_pending = 0;
  std::string got;
  error_code sec, cec, now_ec, fec, wec, rec;
  size_t flushed = 1;
  Run([&]() -> asio::awaitable<void> {
    co_await HandshakeBoth(server, client, sec, cec);
    if (sec || cec) co_return;
    // The server reads nothing yet: the client's writes fill both sockets' buffers.
    while (taken < data.size()) {
      ++calls;
      const size_t n = client.write_some_now(
          asio::buffer(data.data() + taken, std::min<size_t>(20000, data.size() - taken)), now_ec);
      taken += n;
      if (now_ec) break;
    }
    pending_at_refusal = client.output_pending();
    if (pending_at_refusal > 0) {
      error_code again;
      taken_while_pending = client.write_some_now(asio::buffer(data.data() + taken, 100), again);
      if (again != asio::error::would_block) now_ec = again;
    }
    using namespace asio::experimental::awaitable_operators;
    auto writer = [&]() -> asio::awaitable<void> {
      auto [f, fn] = co_await client.async_flush(kTuple);
      fec = f;
      flushed = client.output_pending();
      auto [w, wn] = co_await asio::async_write(
          client, asio::buffer(data.data() + taken, data.size() - taken), kTuple);
      wec = w;
    };
    co_await (writer() && [&]() -> asio::awaitable<void> {
      got = co_await ReadN(server, data.size(), rec);
    }());
  }());
  ASSERT_FALSE(sec || cec);
  EXPECT_EQ(now_ec, asio::error::would_block) << now_ec.message();
  EXPECT_GT(calls, 1u);
  EXPECT_GT(taken, 0u);
  EXPECT_LT(taken, data.size());
  EXPECT_GT(pending_at_refusal, 0u)
      << "no record was left pending: the test did not fill the buffer";
  EXPECT_EQ(taken_while_pending, 0u);
  EXPECT_FALSE(fec) << fec.message();
  EXPECT_EQ(flushed, 0u);
  EXPECT_FALSE(wec) << wec.message();
  EXPECT_FALSE(rec) << rec.message();
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

// A send of pending records cancelled part way (the proxy's ReadWatch cancels the socket's
// operations at a request body's deadline, which may find a read sending a key update's answer,
// or a tail that write_some_now left) keeps what was not sent pending: the next write follows
// whole records, and the peer reads all of it. Until proxy15 the unsent tail was dropped, and
// the next write (the 408 page) followed half a record.
TEST_F(TlsStreamTest, ASendCancelledPartWayKeepsItsTailForTheNextWrite) {
  auto [ss, cs] = Pair();
  cs.set_option(asio::socket_base::send_buffer_size(32 * 1024));
  ss.set_option(asio::socket_base::receive_buffer_size(16 * 1024));
  TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
  TlsStream client(beast::tcp_stream(std::move(cs)), client_ctx_.get());
  const std::string data = Pattern(2 * 1024 * 1024, 9);
  const std::string after = "after the cancel";
  size_t taken = 0;
  size_t pending_at_refusal = 0;
  std::string got;
  error_code sec, cec, now_ec, fec, wec, rec;
  Run([&]() -> asio::awaitable<void> {
    co_await HandshakeBoth(server, client, sec, cec);
    if (sec || cec) co_return;
    // The server reads nothing yet: a tail of a record stays pending. Filled again after a
    // pause until nothing more goes (loopback moves what the first refusal left meanwhile).
    asio::steady_timer pause(io_);
    for (int round = 0; round < 20; ++round) {
      size_t this_round = 0;
      while (taken < data.size()) {
        const size_t n = client.write_some_now(
            asio::buffer(data.data() + taken, std::min<size_t>(20000, data.size() - taken)),
            now_ec);
        taken += n;
        this_round += n;
        if (now_ec) break;
      }
      if (now_ec != asio::error::would_block) co_return;
      if (round > 0 && this_round == 0) break;
      pause.expires_after(std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
    }
    pending_at_refusal = client.output_pending();
    if (pending_at_refusal == 0) co_return;
    // Its send waits for room, and is cancelled there (as ReadWatch cancels a read).
    asio::steady_timer cancel(io_);
    cancel.expires_after(std::chrono::milliseconds(100));
    cancel.async_wait([&](error_code) { beast::get_lowest_layer(client).socket().cancel(); });
    auto [f, fn] = co_await client.async_flush(kTuple);
    fec = f;
    using namespace asio::experimental::awaitable_operators;
    auto writer = [&]() -> asio::awaitable<void> {
      auto [w, wn] = co_await asio::async_write(client, asio::buffer(after), kTuple);
      wec = w;
    };
    co_await (writer() && [&]() -> asio::awaitable<void> {
      got = co_await ReadN(server, taken + after.size(), rec);
    }());
  }());
  ASSERT_FALSE(sec || cec);
  ASSERT_GT(pending_at_refusal, 0u)
      << "no record was left pending: the test did not fill the buffer";
  EXPECT_EQ(fec, asio::error::operation_aborted) << fec.message();
  EXPECT_FALSE(wec) << wec.message();
  EXPECT_FALSE(rec) << "the peer's read failed: " << rec.message();
  ASSERT_EQ(got.size(), taken + after.size());
  EXPECT_TRUE(got.substr(0, taken) == data.substr(0, taken));
  EXPECT_EQ(got.substr(taken), after);
}

// A write that does not wait, to a peer that has gone, fails with the transport's error (no
// SIGPIPE, no crash) and takes nothing.
TEST_F(TlsStreamTest, AWriteNowToAClosedPeerFails) {
  auto [ss, cs] = Pair();
  TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
  TlsStream client(beast::tcp_stream(std::move(cs)), client_ctx_.get());
  error_code sec, cec;
  Run([&]() -> asio::awaitable<void> { co_await HandshakeBoth(server, client, sec, cec); }());
  ASSERT_FALSE(sec || cec);
  server.next_layer().socket().set_option(asio::socket_base::linger(true, 0));
  server.next_layer().socket().close();  // a reset
  const std::string data = Pattern(1000, 3);
  error_code ec;
  size_t n = 0;
  for (int i = 0; i < 100 && !ec; ++i) {
    n = client.write_some_now(asio::buffer(data), ec);
    if (!ec) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(ec) << "100 writes to a reset connection succeeded";
  EXPECT_TRUE(ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
      << ec.message();
  EXPECT_EQ(n, 0u);
}

// A bulk transfer's end (300 KiB in the kernel, then the peer's FIN): a close_notify before the
// transport's end is eof, the transport's end alone stream_truncated. A stream that recv's into
// OpenSSL's buffer itself (tls30's 0a6e054) must keep this.
TEST_F(TlsStreamTest, ABulkTransfersEndIsEofAfterCloseNotifyAndTruncationWithout) {
  for (bool notify : {true, false}) {
    SCOPED_TRACE(notify ? "close_notify" : "FIN alone");
    auto [ss, cs] = Pair();
    ss.set_option(asio::socket_base::receive_buffer_size(1 << 20));
    cs.set_option(asio::socket_base::send_buffer_size(1 << 20));
    TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
    TlsStream client(beast::tcp_stream(std::move(cs)), client_ctx_.get());
    const std::string data = Pattern(300 * 1024 + 5, 6);
    std::string got;
    error_code sec, cec, wec, fec, rec;
    Run([&]() -> asio::awaitable<void> {
      co_await HandshakeBoth(server, client, sec, cec);
      if (sec || cec) co_return;
      auto [w, wn] = co_await asio::async_write(client, asio::buffer(data), kTuple);
      wec = w;
      if (notify) {
        ERR_clear_error();
        SSL_shutdown(client.native_handle());  // the close_notify, not waiting for the server's
        auto [f, fn] = co_await client.async_flush(kTuple);
        fec = f;
      }
      client.next_layer().socket().shutdown(tcp::socket::shutdown_send);
      got = co_await ReadN(server, 1 << 22, rec);
    }());
    ASSERT_FALSE(sec || cec);
    EXPECT_FALSE(wec) << wec.message();
    EXPECT_FALSE(fec) << fec.message();
    ASSERT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
    if (notify)
      EXPECT_EQ(rec, asio::error::eof) << rec.message();
    else
      EXPECT_EQ(rec, asio::ssl::error::stream_truncated) << rec.message();
  }
}

// Records a peer sent after what was read, received with the same transport read, are counted
// by input_pending() and not yet decrypted — wherever the stream keeps them (its own input
// buffer here; OpenSSL's record buffer with read-ahead): the tunnel's reuse check (an origin's
// bytes after a response) and the lingering close rely on it.
TEST_F(TlsStreamTest, RecordsReceivedAfterWhatWasReadCountAsPending) {
  auto [ss, cs] = Pair();
  TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
  TlsStream client(beast::tcp_stream(std::move(cs)), client_ctx_.get());
  const std::string response = "the response";
  const std::string forged = "HTTP/1.1 200 forged";
  std::string got;
  size_t pending_after = 0;
  int decrypted_after = -1;
  size_t pending_at_end = 1;
  error_code sec, cec, w1, w2, rec, rec2;
  Run([&]() -> asio::awaitable<void> {
    co_await HandshakeBoth(server, client, sec, cec);
    if (sec || cec) co_return;
    // Two records (two writes), in the kernel together before the client reads.
    auto [e1, n1] = co_await asio::async_write(server, asio::buffer(response), kTuple);
    auto [e2, n2] = co_await asio::async_write(server, asio::buffer(forged), kTuple);
    w1 = e1;
    w2 = e2;
    asio::steady_timer pause(io_);
    pause.expires_after(std::chrono::milliseconds(50));
    co_await pause.async_wait(kTuple);
    std::vector<char> buf(response.size());
    auto [r, rn] = co_await client.async_read_some(asio::buffer(buf), kTuple);
    rec = r;
    got.assign(buf.data(), rn);
    pending_after = client.input_pending();
    decrypted_after = SSL_pending(client.native_handle());
    std::vector<char> rest(256);
    auto [r2, rn2] = co_await client.async_read_some(asio::buffer(rest), kTuple);
    rec2 = r2;
    got.append(rest.data(), rn2);
    pending_at_end = client.input_pending();
  }());
  ASSERT_FALSE(sec || cec);
  EXPECT_FALSE(w1 || w2);
  EXPECT_FALSE(rec || rec2);
  EXPECT_EQ(got, response + forged);
  EXPECT_EQ(decrypted_after, 0) << "the second record was decrypted already";
  EXPECT_GT(pending_after, 0u) << "the second record, received, was not counted";
  EXPECT_EQ(pending_at_end, 0u);
}

// A peer whose bytes come one TCP segment per byte — every record, the handshake's included,
// arrives in pieces — and who asks for a TLS 1.3 key update midway; the other way the server's
// records (its session tickets, its key update, the echo) pass as they come. Every record is
// read whole however it is cut.
TEST_F(TlsStreamTest, RecordsArrivingAByteAtATimeWithAKeyUpdateReadWhole) {
  auto to_client = Pair();  // the relay's side (accepted), the client's
  auto to_server = Pair();  // the server's side (accepted), the relay's
  tcp::socket relay_in = std::move(to_client.first);
  tcp::socket relay_out = std::move(to_server.second);
  tcp::socket client_socket = std::move(to_client.second);
  tcp::socket server_socket = std::move(to_server.first);
  relay_out.set_option(tcp::no_delay(true));
  TlsStream server(beast::tcp_stream(std::move(server_socket)), server_ctx_.get());
  TlsStream client(beast::tcp_stream(std::move(client_socket)), client_ctx_.get());
  auto dribble = [](tcp::socket& from, tcp::socket& to, bool byte_at_a_time) {
    return [&from, &to, byte_at_a_time]() -> asio::awaitable<void> {
      std::vector<char> b(8192);
      for (;;) {
        auto [ec, n] = co_await from.async_read_some(asio::buffer(b), kTuple);
        if (ec) break;
        const size_t step = byte_at_a_time ? 1 : n;
        for (size_t i = 0; i < n; i += step) {
          auto [wec, wn] = co_await asio::async_write(to, asio::buffer(&b[i], step), kTuple);
          if (wec) co_return;
        }
      }
      error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
    };
  };
  asio::co_spawn(io_, dribble(relay_in, relay_out, true), asio::detached);
  asio::co_spawn(io_, dribble(relay_out, relay_in, false), asio::detached);
  const std::string data = Pattern(3000, 8);
  std::string at_server, echoed;
  error_code sec, cec, w1, w2, rec, erec;
  Run([&]() -> asio::awaitable<void> {
    co_await HandshakeBoth(server, client, sec, cec);
    if (!sec && !cec) {
      using namespace asio::experimental::awaitable_operators;
      auto writer = [&]() -> asio::awaitable<void> {
        auto [e1, n1] = co_await asio::async_write(client, asio::buffer(data.data(), 1000), kTuple);
        w1 = e1;
        if (SSL_key_update(client.native_handle(), SSL_KEY_UPDATE_REQUESTED) != 1)
          w1 = asio::error::invalid_argument;
        auto [e2, n2] =
            co_await asio::async_write(client, asio::buffer(data.data() + 1000, 2000), kTuple);
        w2 = e2;
      };
      auto echo = [&]() -> asio::awaitable<void> {
        at_server = co_await ReadN(server, data.size(), rec);
        auto [e, n] = co_await asio::async_write(server, asio::buffer(at_server), kTuple);
        if (e) rec = e;
      };
      co_await (writer() && echo() && [&]() -> asio::awaitable<void> {
        echoed = co_await ReadN(client, data.size(), erec);
      }());
    }
    relay_in.close();
    relay_out.close();
  }());
  ASSERT_FALSE(sec) << sec.message();
  ASSERT_FALSE(cec) << cec.message();
  EXPECT_EQ(SSL_version(server.native_handle()), TLS1_3_VERSION);
  EXPECT_FALSE(w1) << w1.message();
  EXPECT_FALSE(w2) << w2.message();
  EXPECT_FALSE(rec) << rec.message();
  EXPECT_FALSE(erec) << erec.message();
  EXPECT_TRUE(at_server == data) << at_server.size() << " of " << data.size() << " bytes";
  EXPECT_TRUE(echoed == data) << echoed.size() << " of " << data.size() << " bytes";
}

TEST_F(TlsStreamTest, CloseNotifyIsEofAndABareTransportCloseIsTruncation) {
  for (bool notify : {true, false}) {
    auto [ss, cs] = Pair();
    TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
    auto client = std::make_unique<TlsStream>(beast::tcp_stream(std::move(cs)), client_ctx_.get());
    error_code sec, cec, rec, shut;
    std::string got;
    Run([&]() -> asio::awaitable<void> {
      co_await HandshakeBoth(server, *client, sec, cec);
      if (sec || cec) co_return;
      co_await asio::async_write(*client, asio::buffer("last words", 10), kTuple);
      if (notify) {
        using namespace asio::experimental::awaitable_operators;
        // The client's shutdown waits for the server's close_notify, sent once it read EOF.
        auto [s, g] = co_await (Shutdown(*client) && [&]() -> asio::awaitable<std::string> {
          std::string r = co_await ReadN(server, 1 << 20, rec);
          co_await server.async_shutdown(kTuple);
          co_return r;
        }());
        shut = s;
        got = g;
      } else {
        // The transport ends (FIN) without a close_notify. (Closing the socket instead would
        // make the kernel answer with a reset: the client left the server's tickets unread.)
        client->next_layer().socket().shutdown(tcp::socket::shutdown_send);
        got = co_await ReadN(server, 1 << 20, rec);
      }
    }());
    ASSERT_FALSE(sec || cec);
    EXPECT_EQ(got, "last words");
    if (notify) {
      EXPECT_EQ(rec, asio::error::eof) << rec.message();
      EXPECT_FALSE(shut) << shut.message();
    } else {
      EXPECT_EQ(rec, asio::ssl::error::stream_truncated) << rec.message();
    }
  }
}

// A client that handshakes properly, then hands its socket to the test, which sends the server
// bytes no TLS library would; or a client that sends no TLS at all.
TEST_F(TlsStreamTest, HostileBytesAreErrorsNotCrashesOrHangs) {
  struct Case {
    std::string name;
    std::string bytes;  // sent after the handshake, or instead of it when !handshake
    bool handshake;
  };
  std::string oversized("\x17\x03\x03\x48\x01", 5);  // an application record of 18,433 bytes
  oversized += std::string(0x4801, 'x');
  std::string cut("\x17\x03\x03\x03\xe8", 5);  // announces 1,000 bytes; 10 come, then the end
  cut += std::string(10, 'y');
  const std::vector<Case> cases = {
      {"plain HTTP instead of a ClientHello", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
      {"random bytes instead of a ClientHello", Pattern(3000, 5), false},
      {"an oversized record", oversized, true},
      {"a record that does not decrypt", std::string("\x17\x03\x03\x00\x20", 5) + Pattern(32, 9),
       true},
      {"a client vanishing mid-record", cut, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto [ss, cs] = Pair();
    TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
    tcp::socket raw = std::move(cs);
    error_code sec, cec, rec;
    std::string got = "not read";
    std::unique_ptr<TlsStream> client;
    Run([&]() -> asio::awaitable<void> {
      if (c.handshake) {
        client = std::make_unique<TlsStream>(beast::tcp_stream(std::move(raw)), client_ctx_.get());
        co_await HandshakeBoth(server, *client, sec, cec);
        if (sec || cec) co_return;
        tcp::socket& socket = client->next_layer().socket();
        co_await asio::async_write(socket, asio::buffer(c.bytes), kTuple);
        socket.shutdown(tcp::socket::shutdown_send);
        got = co_await ReadN(server, 1 << 20, rec);
      } else {
        co_await asio::async_write(raw, asio::buffer(c.bytes), kTuple);
        raw.shutdown(tcp::socket::shutdown_send);
        auto [hec] = co_await server.async_handshake(kServer, kTuple);
        sec = hec;
      }
    }());
    if (!c.handshake) {
      EXPECT_TRUE(sec) << "the handshake succeeded";
      continue;
    }
    ASSERT_FALSE(sec) << sec.message();
    ASSERT_FALSE(cec) << cec.message();
    EXPECT_EQ(got, "");
    if (c.name == "a client vanishing mid-record")
      EXPECT_EQ(rec, asio::ssl::error::stream_truncated) << rec.message();
    else
      EXPECT_EQ(rec.category(), asio::error::get_ssl_category()) << rec.message();
  }
}

TEST_F(TlsStreamTest, ASilentPeerHitsTheDeadline) {
  auto [ss, cs] = Pair();
  TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
  error_code sec;
  Run([&]() -> asio::awaitable<void> {
    server.next_layer().expires_after(std::chrono::milliseconds(100));
    auto [hec] = co_await server.async_handshake(kServer, kTuple);
    sec = hec;
  }());
  EXPECT_EQ(sec, beast::error::timeout) << sec.message();
}

TEST_F(TlsStreamTest, RenegotiationIsRefused) {
  auto [ss, cs] = Pair();
  TlsStream server(beast::tcp_stream(std::move(ss)), server_ctx_.get());
  TlsStream client(beast::tcp_stream(std::move(cs)), client_ctx_.get());
  SSL_set_max_proto_version(client.native_handle(), TLS1_2_VERSION);  // TLS 1.3 has none
  error_code sec, cec, rec, crec;
  std::string got;
  Run([&]() -> asio::awaitable<void> {
    co_await HandshakeBoth(server, client, sec, cec);
    if (sec || cec) co_return;
    // The client asks for a new handshake, then sends data; the server must not renegotiate.
    if (SSL_renegotiate(client.native_handle()) != 1) co_return;
    using namespace asio::experimental::awaitable_operators;
    // The client's write starts the new handshake and waits for the server's answer, so the
    // server reads at the same time.
    auto [s, c] = co_await (ReadN(server, 5, rec) && [&]() -> asio::awaitable<std::string> {
      client.next_layer().expires_after(std::chrono::seconds(5));
      auto [wec, wn] = co_await asio::async_write(client, asio::buffer("after", 5), kTuple);
      crec = wec;
      co_return std::string();
    }());
    got = s;
  }());
  ASSERT_FALSE(sec || cec);
  EXPECT_EQ(SSL_version(server.native_handle()), TLS1_2_VERSION);
  EXPECT_EQ(SSL_renegotiate_pending(client.native_handle()), 1) << "a renegotiation completed";
  // The server answered the renegotiation request with a no_renegotiation alert, which the
  // client treats as fatal (RFC 5246 7.2.2 leaves it to the client), and the server then gets
  // the client's fatal alert: no data passes either way, nobody hangs.
  EXPECT_TRUE(crec) << "the client's write went through a renegotiation";
  EXPECT_NE(crec, beast::error::timeout) << "the server did not answer the renegotiation";
  EXPECT_EQ(got, "");
  EXPECT_EQ(rec.category(), asio::error::get_ssl_category()) << rec.message();
}

}  // namespace
}  // namespace seccloud::net
