// R3: what the proxy's streams do without waiting (non_waiting_io.h), over loopback pairs: a
// read that gives what an intercepted leg's TLS stream holds, and the flush it must first do.

#include "proxy/non_waiting_io.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "net/tls.h"
#include "net/tls_stream.h"
#include "net/tls_testing.h"

namespace seccloud::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// The proxy's side of an intercepted client leg (a server TlsStream) and a terminal (a client
// TlsStream) that writes but never reads.
class NonWaitingTlsReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = net::testing::MakeCa(dir_.path(), "nonwaiting");
    ASSERT_TRUE(ca) << ca.error().message;
    auto cache = net::LeafCertCache::Create(*ca);
    ASSERT_TRUE(cache) << cache.error().message;
    auto ctx = (*cache)->ServerContextFor("nonwaiting.test");
    ASSERT_TRUE(ctx) << ctx.error().message;
    server_ctx_ = *ctx;
    cache_ = std::move(*cache);
    client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
    ASSERT_TRUE(client_ctx_);
    SSL_CTX_set_verify(client_ctx_.get(), SSL_VERIFY_NONE, nullptr);
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
  }

  // The terminal has sent "first", a TLS 1.3 KeyUpdate asking for the proxy's, and "second";
  // the proxy's stream read "f" (the rest of those records is in its input buffer) and then
  // wrote without waiting until the kernel refused (the terminal reads nothing: a tail of
  // records stays pending). `read_now` is then run on the proxy's stream, with a write deadline
  // of 500 ms: it must end at that deadline (the flush of the pending records and of the
  // KeyUpdate's answer cannot go), not wait without end. What it returned, and how long it took.
  struct Outcome {
    bool setup_ok = false;
    bool done = false;
    error_code ec;
    std::string read;
    std::chrono::milliseconds took{};
  };
  template <class ReadNowCall>
  Outcome FlushToAPeerThatDoesNotRead(ReadNowCall read_now) {
    Outcome out;
    tcp::socket peer_socket(io_);
    peer_socket.connect(acceptor_.local_endpoint());
    tcp::socket proxy_socket = acceptor_.accept();
    proxy_socket.set_option(asio::socket_base::send_buffer_size(32 * 1024));
    peer_socket.set_option(asio::socket_base::receive_buffer_size(8 * 1024));
    net::TlsStream proxy(beast::tcp_stream(std::move(proxy_socket)), server_ctx_.get());
    net::TlsStream peer(beast::tcp_stream(std::move(peer_socket)), client_ctx_.get());
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          using namespace asio::experimental::awaitable_operators;
          auto hs = [](net::TlsStream& s,
                       net::TlsStream::handshake_type t) -> asio::awaitable<error_code> {
            auto [ec] = co_await s.async_handshake(t, kTuple);
            co_return ec;
          };
          auto [sec, cec] = co_await (hs(proxy, asio::ssl::stream_base::server) &&
                                      hs(peer, asio::ssl::stream_base::client));
          if (sec || cec) co_return;
          if (SSL_version(peer.native_handle()) != TLS1_3_VERSION) co_return;
          auto [w1, n1] = co_await asio::async_write(peer, asio::buffer("first", 5), kTuple);
          if (w1 || SSL_key_update(peer.native_handle(), SSL_KEY_UPDATE_REQUESTED) != 1) co_return;
          auto [w2, n2] = co_await asio::async_write(peer, asio::buffer("second", 6), kTuple);
          if (w2) co_return;
          asio::steady_timer settle(io_);
          settle.expires_after(100ms);  // every record of the terminal's is in the socket
          co_await settle.async_wait(kTuple);
          char f = 0;
          auto [rec, rn] = co_await proxy.async_read_some(asio::buffer(&f, 1), kTuple);
          if (rec || rn != 1 || f != 'f') co_return;
          const std::string fill(16 * 1024, 'x');
          error_code wec;
          for (int i = 0; i < 4096 && !wec; ++i) proxy.write_some_now(asio::buffer(fill), wec);
          if (wec != asio::error::would_block || proxy.output_pending() == 0) co_return;
          out.setup_ok = true;
          const auto start = std::chrono::steady_clock::now();
          std::tie(out.ec, out.read) = co_await read_now(proxy);
          out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - start);
          out.done = true;
        },
        asio::detached);
    io_.run_for(8s);  // without a deadline of its own the flush waits for ever
    io_.stop();
    io_.restart();
    return out;
  }

  net::testing::TempDir dir_;
  std::unique_ptr<net::LeafCertCache> cache_;
  std::shared_ptr<SSL_CTX> server_ctx_;
  net::SslCtxPtr client_ctx_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
};

// Before proxy14 the flush inside the non-waiting reads had no deadline of its own: it waited
// under whatever deadline the stream's last operation had left (none, here), for ever.
TEST_F(NonWaitingTlsReadTest, ReadNowsFlushToAPeerThatDoesNotReadEndsAtTheWriteDeadline) {
  const Outcome o = FlushToAPeerThatDoesNotRead(
      [](net::TlsStream& s) -> asio::awaitable<std::pair<error_code, std::string>> {
        char buf[64];
        auto [ec, n] = co_await nonwaiting::ReadNow(s, asio::buffer(buf), 500ms);
        co_return std::make_pair(ec, std::string(buf, n));
      });
  ASSERT_TRUE(o.setup_ok) << "the test did not reach the read (no TLS 1.3, or no full buffer)";
  ASSERT_TRUE(o.done) << "the flush waited without end";
  // The peer not reading, not beast's timeout: the callers take that for the peer not sending
  // (until proxy15 a request body's read reported "the client sent nothing of the body").
  EXPECT_EQ(o.ec, nonwaiting::Error::kPeerNotReading) << o.ec.message();
  EXPECT_EQ(o.read, "irstsecond");
  EXPECT_GE(o.took, 400ms);
  EXPECT_LT(o.took, 5s);
}

TEST_F(NonWaitingTlsReadTest, ReadSomeNowsFlushToAPeerThatDoesNotReadEndsAtTheWriteDeadline) {
  const Outcome o = FlushToAPeerThatDoesNotRead(
      [](net::TlsStream& s) -> asio::awaitable<std::pair<error_code, std::string>> {
        // A response body read until the close: the parser is past its header.
        http::response_parser<http::buffer_body> p;
        beast::flat_buffer buf;
        const std::string_view head = "HTTP/1.1 200 OK\r\n\r\n";
        error_code hec;
        p.put(asio::buffer(head.data(), head.size()), hec);
        char body[64];
        p.get().body().data = body;
        p.get().body().size = sizeof body;
        auto ec = co_await nonwaiting::ReadSomeNow(s, buf, p, 500ms);
        co_return std::make_pair(ec, std::string(body, sizeof body - p.get().body().size));
      });
  ASSERT_TRUE(o.setup_ok) << "the test did not reach the read (no TLS 1.3, or no full buffer)";
  ASSERT_TRUE(o.done) << "the flush waited without end";
  // The peer not reading, not beast's timeout: the callers take that for the peer not sending
  // (until proxy15 a request body's read reported "the client sent nothing of the body").
  EXPECT_EQ(o.ec, nonwaiting::Error::kPeerNotReading) << o.ec.message();
  EXPECT_EQ(o.read, "irstsecond");
  EXPECT_GE(o.took, 400ms);
  EXPECT_LT(o.took, 5s);
}

}  // namespace
}  // namespace seccloud::proxy
