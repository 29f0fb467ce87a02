#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "net/tls.h"
#include "net/tls_testing.h"

namespace seccloud::net {
namespace {

using Bytes = std::vector<uint8_t>;

// Runs `client_command` (which connects to 127.0.0.1:PORT, PORT substituted) and returns the
// bytes it sent before it expected an answer: its ClientHello.
Bytes CaptureClientHello(const std::string& client_command) {
  uint16_t port = 0;
  int listen_fd = testing::ListenOn("127.0.0.1", &port);
  EXPECT_GE(listen_fd, 0);
  if (listen_fd < 0) return {};
  std::string cmd = client_command;
  for (size_t at; (at = cmd.find("PORT")) != std::string::npos;)
    cmd.replace(at, 4, std::to_string(port));
  std::string client_output;
  std::thread client([&] { testing::RunShell("timeout 10 " + cmd, &client_output); });
  Bytes got;
  int fd = testing::AcceptWithin(listen_fd, 10'000);
  if (fd >= 0) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t buf[4096];
    while (got.size() < 65536) {
      auto peek = PeekClientHello(got);
      if (peek && !peek->need_more) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.insert(got.end(), buf, buf + n);
    }
    ::close(fd);
  }
  client.join();
  ::close(listen_fd);
  EXPECT_FALSE(got.empty()) << client_output;
  return got;
}

void ExpectNeedMoreForEveryPrefix(const Bytes& hello) {
  for (size_t n = 0; n < hello.size(); ++n) {
    auto peek = PeekClientHello(std::span<const uint8_t>(hello.data(), n));
    ASSERT_TRUE(peek) << "prefix " << n << ": " << peek.error().message;
    ASSERT_TRUE(peek->need_more) << "prefix " << n;
    auto sni = ParseClientHelloSni(std::span<const uint8_t>(hello.data(), n));
    ASSERT_FALSE(sni);
    EXPECT_EQ(sni.error().code, Errc::kUnavailable);
  }
}

// Splits the handshake message of a single-record ClientHello into records of `size` bytes.
Bytes Refragment(const Bytes& hello, size_t size) {
  const size_t len = static_cast<size_t>(hello[3]) << 8 | hello[4];
  Bytes out;
  for (size_t at = 5; at < 5 + len; at += size) {
    const size_t n = std::min(size, 5 + len - at);
    out.insert(out.end(),
               {22, hello[1], hello[2], static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
    out.insert(out.end(), hello.begin() + at, hello.begin() + at + n);
  }
  return out;
}

// A minimal well-formed ClientHello with the given extensions (type, data) in one record.
Bytes BuildHello(const std::vector<std::pair<uint16_t, Bytes>>& extensions) {
  Bytes body = {3, 3};
  body.insert(body.end(), 32, 0xab);            // random
  body.insert(body.end(), {0});                 // session_id
  body.insert(body.end(), {0, 2, 0x13, 0x01});  // cipher_suites
  body.insert(body.end(), {1, 0});              // compression
  Bytes ext;
  for (const auto& [type, data] : extensions) {
    ext.insert(ext.end(),
               {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type),
                static_cast<uint8_t>(data.size() >> 8), static_cast<uint8_t>(data.size())});
    ext.insert(ext.end(), data.begin(), data.end());
  }
  body.insert(body.end(),
              {static_cast<uint8_t>(ext.size() >> 8), static_cast<uint8_t>(ext.size())});
  body.insert(body.end(), ext.begin(), ext.end());
  Bytes hs = {1, static_cast<uint8_t>(body.size() >> 16), static_cast<uint8_t>(body.size() >> 8),
              static_cast<uint8_t>(body.size())};
  hs.insert(hs.end(), body.begin(), body.end());
  Bytes rec = {22, 3, 1, static_cast<uint8_t>(hs.size() >> 8), static_cast<uint8_t>(hs.size())};
  rec.insert(rec.end(), hs.begin(), hs.end());
  return rec;
}

Bytes SniExt(const std::string& name) {
  const size_t entry = 3 + name.size();
  Bytes d = {static_cast<uint8_t>(entry >> 8), static_cast<uint8_t>(entry), 0,
             static_cast<uint8_t>(name.size() >> 8), static_cast<uint8_t>(name.size())};
  for (char c : name) d.push_back(static_cast<uint8_t>(c));
  return d;
}

TEST(ClientHelloTest, OpenSslClientHelloWithSniAndAlpn) {
  Bytes hello = CaptureClientHello(
      "openssl s_client -connect 127.0.0.1:PORT -servername WWW.Pref.Example.JP "
      "-alpn h2,http/1.1 </dev/null");
  ASSERT_FALSE(hello.empty());
  auto peek = PeekClientHello(hello);
  ASSERT_TRUE(peek) << peek.error().message;
  ASSERT_FALSE(peek->need_more);
  EXPECT_EQ(peek->info.server_name, "www.pref.example.jp");
  EXPECT_EQ(peek->info.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(peek->info.legacy_version, 0x0303);
  EXPECT_EQ(ParseClientHelloSni(hello).value(), "www.pref.example.jp");
  ExpectNeedMoreForEveryPrefix(hello);
  // The same message split over many small records.
  for (size_t size : {1u, 7u, 100u}) {
    Bytes split = Refragment(hello, size);
    auto p = PeekClientHello(split);
    ASSERT_TRUE(p) << size << ": " << p.error().message;
    ASSERT_FALSE(p->need_more);
    EXPECT_EQ(p->info.server_name, "www.pref.example.jp");
    EXPECT_EQ(p->info.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  }
  ExpectNeedMoreForEveryPrefix(Refragment(hello, 50));
}

TEST(ClientHelloTest, CurlClientHello) {
  Bytes hello = CaptureClientHello(
      "curl -s --max-time 5 --resolve portal.city.example.jp:PORT:127.0.0.1 "
      "https://portal.city.example.jp:PORT/");
  ASSERT_FALSE(hello.empty());
  auto peek = PeekClientHello(hello);
  ASSERT_TRUE(peek) << peek.error().message;
  ASSERT_FALSE(peek->need_more);
  EXPECT_EQ(peek->info.server_name, "portal.city.example.jp");
  ASSERT_FALSE(peek->info.alpn.empty());
  EXPECT_EQ(peek->info.alpn.back(), "http/1.1");
  ExpectNeedMoreForEveryPrefix(hello);
}

TEST(ClientHelloTest, NoServerName) {
  Bytes hello =
      CaptureClientHello("openssl s_client -connect 127.0.0.1:PORT -noservername </dev/null");
  ASSERT_FALSE(hello.empty());
  auto sni = ParseClientHelloSni(hello);
  ASSERT_TRUE(sni) << sni.error().message;
  EXPECT_FALSE(sni->has_value());
}

TEST(ClientHelloTest, GarbageIsMalformedNotNeedMore) {
  const std::string http = "GET / HTTP/1.1\r\nHost: example.jp\r\n\r\n";
  for (const Bytes& bad :
       {Bytes(http.begin(), http.end()), Bytes{0x80, 0x2e, 0x01, 0x03, 0x01},  // SSLv2 hello
        Bytes{22, 2, 0}, Bytes{23, 3, 3, 0, 5, 1, 2, 3, 4, 5},                 // not handshake
        Bytes{22, 3, 1, 0, 0},                                                 // empty record
        Bytes{22, 3, 1, 0x50, 0x00},                                           // record too long
        Bytes{22, 3, 1, 0, 4, 2, 0, 0, 0},                                     // ServerHello
        Bytes{22, 3, 1, 0, 4, 1, 0x01, 0x00, 0x01},  // ClientHello over 64 KiB
        Bytes{22, 3, 1, 0, 4, 1, 0, 0, 10}}) {       // too short to be a ClientHello
    auto r = PeekClientHello(bad);
    ASSERT_FALSE(r) << "accepted " << bad.size() << " bytes";
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    Bytes random(rng() % 600);
    for (auto& b : random) b = static_cast<uint8_t>(rng());
    auto r = PeekClientHello(random);  // must neither crash nor read out of bounds
    if (r && !r->need_more) {
      EXPECT_LE(r->info.alpn.size(), 32u);
    }
  }
}

TEST(ClientHelloTest, InnerLengthsAreChecked) {
  const Bytes good = BuildHello({{0, SniExt("example.jp")}, {16, {0, 3, 2, 'h', '2'}}});
  auto ok = PeekClientHello(good);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->info.server_name, "example.jp");
  EXPECT_EQ(ok->info.alpn, std::vector<std::string>{"h2"});
  // Every single-byte corruption of every length field is either refused or still parses into
  // something bounded; here we check the specific ones that must be refused.
  Bytes bad_ext_len = good;
  bad_ext_len[5 + 4 + 2 + 32 + 1 + 4 + 2 + 1] += 1;  // extensions length one too long
  EXPECT_FALSE(PeekClientHello(bad_ext_len));
  EXPECT_FALSE(PeekClientHello(BuildHello({{0, SniExt("example.jp")}, {0, SniExt("b.jp")}})))
      << "duplicate extension";
  Bytes two_names = SniExt("a.jp");
  Bytes second = SniExt("b.jp");
  two_names.insert(two_names.end(), second.begin() + 2, second.end());
  two_names[1] = static_cast<uint8_t>(two_names.size() - 2);
  EXPECT_FALSE(PeekClientHello(BuildHello({{0, two_names}}))) << "two host names";
  EXPECT_FALSE(PeekClientHello(BuildHello({{16, {0, 3, 0, 'h', '2'}}}))) << "empty ALPN entry";
  EXPECT_FALSE(PeekClientHello(BuildHello({{16, {0, 4, 2, 'h', '2'}}}))) << "ALPN list overrun";
  EXPECT_FALSE(PeekClientHello(BuildHello({{0, {}}}))) << "empty server_name";
  Bytes many_alpn = {0, 0};
  for (int i = 0; i < 33; ++i) many_alpn.insert(many_alpn.end(), {1, 'x'});
  many_alpn[1] = static_cast<uint8_t>(many_alpn.size() - 2);
  EXPECT_FALSE(PeekClientHello(BuildHello({{16, many_alpn}}))) << "33 ALPN protocols";
}

TEST(ClientHelloTest, HostileServerNamesAreRefused) {
  for (const std::string& name :
       {std::string("evil.jp\0.bank.jp", 16), std::string("a b.jp"), std::string(254, 'a'),
        std::string("*.bank.jp"), std::string("bank.jp."), std::string("\xe3\x81\x82.jp")}) {
    auto r = ParseClientHelloSni(BuildHello({{0, SniExt(name)}}));
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find("server_name refused"), std::string::npos);
  }
  EXPECT_EQ(ParseClientHelloSni(BuildHello({{0, SniExt("Ok.Example.JP")}})).value(),
            "ok.example.jp");
}

}  // namespace
}  // namespace seccloud::net
