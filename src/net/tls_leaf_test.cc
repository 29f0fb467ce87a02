#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "net/tls.h"
#include "net/tls_testing.h"

namespace seccloud::net {
namespace {

using testing::TempDir;

class LeafCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = testing::MakeCa(dir_.path(), "test");
    ASSERT_TRUE(ca) << ca.error().message;
    ca_ = *ca;
  }

  // X509_verify_cert with only the interception CA as trust anchor, for the TLS server purpose,
  // checking the host name or IP. Returns X509_V_OK or the verify error.
  long Verify(X509* leaf, const std::string& name, bool is_ip) {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                  X509_STORE_free);
    X509_STORE_add_cert(store.get(), ca_->certificate());
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                        X509_STORE_CTX_free);
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (is_ip)
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    const int ok = X509_verify_cert(ctx.get());
    const long err = X509_STORE_CTX_get_error(ctx.get());
    return ok == 1 ? X509_V_OK : (err == X509_V_OK ? X509_V_ERR_UNSPECIFIED : err);
  }

  static X509* LeafOf(const std::shared_ptr<SSL_CTX>& ctx) {
    return SSL_CTX_get0_certificate(ctx.get());
  }

  TempDir dir_;
  std::shared_ptr<const InterceptionCa> ca_;
};

TEST(CanonicalServerNameTest, AcceptsHostNamesAndIpLiterals) {
  EXPECT_EQ(CanonicalServerName("WWW.City.Example.JP").value(), "www.city.example.jp");
  EXPECT_EQ(CanonicalServerName("localhost").value(), "localhost");
  EXPECT_EQ(CanonicalServerName("xn--wgv71a119e.jp").value(), "xn--wgv71a119e.jp");
  EXPECT_EQ(CanonicalServerName("a-b.c0").value(), "a-b.c0");
  EXPECT_EQ(CanonicalServerName("192.0.2.1").value(), "192.0.2.1");
  EXPECT_EQ(CanonicalServerName("2001:DB8::1").value(), "2001:db8::1");
  EXPECT_EQ(CanonicalServerName("[2001:db8::1]").value(), "2001:db8::1");
  const std::string label63(63, 'a');
  const std::string longest = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_TRUE(CanonicalServerName(longest));
}

TEST(CanonicalServerNameTest, RefusesHostileNames) {
  const std::string label63(63, 'a');
  for (std::string bad : {std::string(""),
                          std::string("."),
                          std::string("a..b"),
                          std::string("example.jp."),
                          std::string(".example.jp"),
                          std::string("-a.jp"),
                          std::string("a-.jp"),
                          std::string("a_b.jp"),
                          std::string("*.example.jp"),
                          std::string("a b.jp"),
                          std::string("a,DNS:evil.jp"),
                          std::string("a:b"),
                          std::string("é.jp"),
                          std::string("a\0b.jp", 6),
                          std::string("host\n.jp"),
                          std::string(64, 'a') + ".jp",
                          std::string("1.2.3"),
                          std::string("999.1.1.1"),
                          std::string("01.2.3.4"),
                          label63 + "." + label63 + "." + label63 + "." + std::string(62, 'b'),
                          std::string(10000, 'a'),
                          std::string("[example.jp]")}) {
    auto r = CanonicalServerName(bad);
    EXPECT_FALSE(r) << "accepted: " << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    }
  }
}

TEST_F(LeafCertTest, LeafForHostNameVerifiesAgainstTheCa) {
  auto cache = LeafCertCache::Create(ca_);
  ASSERT_TRUE(cache);
  auto ctx = (*cache)->ServerContextFor("WWW.Example.JP");
  ASSERT_TRUE(ctx) << ctx.error().message;
  X509* leaf = LeafOf(*ctx);
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(Verify(leaf, "www.example.jp", false), X509_V_OK);
  EXPECT_EQ(Verify(leaf, "other.example.jp", false), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(SubjectLine(leaf), "CN=www.example.jp");
  EXPECT_EQ(IssuerLine(leaf), ca_->SubjectName());

  // Extensions: leaf, serverAuth, AKI = CA's SKI, 128-bit positive random serial.
  EXPECT_FALSE(X509_get_extension_flags(leaf) & EXFLAG_CA);
  EXPECT_TRUE(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
  ASSERT_NE(X509_get0_authority_key_id(leaf), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
                                  X509_get0_subject_key_id(ca_->certificate())),
            0);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf);
  EXPECT_EQ(serial->length, 16);
  EXPECT_EQ(serial->type, V_ASN1_INTEGER);
  // Validity: from an hour ago to 397 days on.
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf), X509_get0_notAfter(leaf));
  EXPECT_EQ(days, 397);
  EXPECT_EQ(secs, 3600);
  EXPECT_LE(X509_cmp_current_time(X509_get0_notBefore(leaf)), 0);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)), EVP_PKEY_EC);
  // TLS 1.2 minimum.
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->get()), TLS1_2_VERSION);
}

TEST_F(LeafCertTest, LeafForIpLiteralCarriesAnIpSubjectAltName) {
  auto cache = LeafCertCache::Create(ca_);
  ASSERT_TRUE(cache);
  for (std::string ip : {"192.0.2.10", "2001:db8::10"}) {
    auto ctx = (*cache)->ServerContextFor(ip);
    ASSERT_TRUE(ctx) << ctx.error().message;
    EXPECT_EQ(Verify(LeafOf(*ctx), ip, true), X509_V_OK) << ip;
    EXPECT_EQ(Verify(LeafOf(*ctx), ip == "192.0.2.10" ? "192.0.2.11" : "2001:db8::11", true),
              X509_V_ERR_IP_ADDRESS_MISMATCH);
    // An IP SAN does not satisfy a DNS name check.
    EXPECT_NE(Verify(LeafOf(*ctx), "example.jp", false), X509_V_OK);
  }
}

TEST_F(LeafCertTest, LeafNeverOutlivesTheCa) {
  TempDir short_dir;
  ASSERT_TRUE(InitCa(short_dir.path(), CaOptions{.validity = std::chrono::days(10)}));
  auto ca = InterceptionCa::Load(short_dir.path());
  ASSERT_TRUE(ca);
  auto cache = LeafCertCache::Create(*ca);
  auto ctx = (*cache)->ServerContextFor("example.jp");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(
      ASN1_TIME_compare(X509_get0_notAfter(LeafOf(*ctx)), X509_get0_notAfter((*ca)->certificate())),
      0);
  // A leaf minted when the CA is about to expire would be refused.
  auto late =
      MintLeafCertificate(**ca, X509_get0_pubkey((*ca)->certificate()), "example.jp",
                          (*ca)->not_after() - std::chrono::minutes(30), std::chrono::days(397));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Errc::kUnavailable);
}

TEST_F(LeafCertTest, HostileSniIsRefusedAndMintsNothing) {
  auto cache = LeafCertCache::Create(ca_);
  ASSERT_TRUE(cache);
  for (std::string bad : {std::string("evil.jp,DNS:bank.jp"), std::string("a\0b", 3),
                          std::string(300, 'a'), std::string("*.bank.jp"), std::string("")}) {
    auto r = (*cache)->ServerContextFor(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
  EXPECT_EQ((*cache)->stats().misses, 0u);
  EXPECT_EQ((*cache)->stats().entries, 0u);
}

TEST_F(LeafCertTest, CacheHitsReturnTheSameContextAndTheLruBoundHolds) {
  auto cache = LeafCertCache::Create(ca_, LeafCacheOptions{.max_entries = 3});
  ASSERT_TRUE(cache);
  LeafCertCache& c = **cache;
  auto a = c.ServerContextFor("a.jp").value();
  auto b = c.ServerContextFor("b.jp").value();
  EXPECT_EQ(c.ServerContextFor("A.JP").value(), a);  // canonical name is the key
  EXPECT_EQ(c.stats().hits, 1u);
  EXPECT_EQ(c.stats().misses, 2u);
  c.ServerContextFor("c.jp").value();
  EXPECT_EQ(c.ServerContextFor("a.jp").value(), a);  // a is now the most recent
  c.ServerContextFor("d.jp").value();                // evicts b, the least recent
  EXPECT_EQ(c.stats().entries, 3u);
  EXPECT_EQ(c.stats().evictions, 1u);
  EXPECT_EQ(c.ServerContextFor("a.jp").value(), a);
  auto b2 = c.ServerContextFor("b.jp").value();  // minted again
  EXPECT_NE(b2, b);
  EXPECT_EQ(c.stats().entries, 3u);
  // The evicted context stays usable for whoever holds it.
  EXPECT_NE(SSL_CTX_get0_certificate(b.get()), nullptr);
  for (int i = 0; i < 100; ++i) c.ServerContextFor("h" + std::to_string(i) + ".jp").value();
  EXPECT_EQ(c.stats().entries, 3u);
  EXPECT_EQ(c.stats().evictions, 2u + 100u);
}

TEST_F(LeafCertTest, ExpiringLeafIsReplaced) {
  auto now = std::chrono::system_clock::now();
  std::atomic<int64_t> offset_days{0};
  auto cache = LeafCertCache::Create(
      ca_, LeafCacheOptions{.max_validity = std::chrono::days(2),
                            .clock = [&] { return now + std::chrono::days(offset_days.load()); }});
  ASSERT_TRUE(cache);
  auto first = (*cache)->ServerContextFor("a.jp").value();
  offset_days = 1;
  EXPECT_EQ((*cache)->ServerContextFor("a.jp").value(), first);
  offset_days = 2;  // within the last hour of the leaf's validity (it was minted at now + 0)
  auto second = (*cache)->ServerContextFor("a.jp").value();
  EXPECT_NE(second, first);
  EXPECT_EQ((*cache)->stats().misses, 2u);
}

TEST_F(LeafCertTest, ConcurrentLookupsAreSafe) {
  auto cache = LeafCertCache::Create(ca_, LeafCacheOptions{.max_entries = 16});
  ASSERT_TRUE(cache);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto r = (*cache)->ServerContextFor("h" + std::to_string((i * 7 + t) % 24) + ".jp");
        if (!r || SSL_CTX_get0_certificate(r->get()) == nullptr) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto s = (*cache)->stats();
  EXPECT_LE(s.entries, 16u);
  EXPECT_EQ(s.hits + s.misses, 800u);
}

// A TLS server that does what the proxy will do: peek the ClientHello, pick the minted context
// for its SNI (or, without SNI, for the address the client connected to), then serve one
// HTTP/1.1 response. Serves `connections` connections, then stops.
class MintingServer {
 public:
  MintingServer(LeafCertCache& cache, const std::string& ip, int connections)
      : cache_(cache), ip_(ip) {
    listen_fd_ = testing::ListenOn(ip, &port_);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) {
        int fd = testing::AcceptWithin(listen_fd_, 10'000);
        if (fd < 0) return;
        Serve(fd);
        ::close(fd);
      }
    });
  }
  ~MintingServer() {
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> names_served() const { return names_; }

 private:
  void Serve(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::vector<uint8_t> buf(16 * 1024);
    std::string name = ip_;
    for (int tries = 0; tries < 50; ++tries) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_PEEK);
      if (n <= 0) return;
      auto peek = PeekClientHello(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
      if (!peek) return;
      if (peek->need_more) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (peek->info.server_name) name = *peek->info.server_name;
      break;
    }
    auto ctx = cache_.ServerContextFor(name);
    if (!ctx) return;
    names_.push_back(name);
    SSL* ssl = SSL_new(ctx->get());
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      char req[4096];
      std::string got;
      while (got.find("\r\n\r\n") == std::string::npos && got.size() < 8192) {
        int n = SSL_read(ssl, req, sizeof req);
        if (n <= 0) break;
        got.append(req, n);
      }
      const std::string body = "minted for " + name + "\n";
      const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                               "\r\nConnection: close\r\n\r\n" + body;
      SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ERR_clear_error();
  }

  LeafCertCache& cache_;
  std::string ip_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::string> names_;
};

TEST_F(LeafCertTest, RealClientsVerifyMintedLeaves) {
  auto cache = LeafCertCache::Create(ca_);
  ASSERT_TRUE(cache);
  const std::string ca_pem = (dir_.path() / kCaCertFile).string();
  const std::string ip = testing::PerProcessLoopback();
  MintingServer server(**cache, ip, 5);
  ASSERT_NE(server.port(), 0);
  const std::string port = std::to_string(server.port());
  std::string out;

  // curl with a host name (SNI) and with the IP literal (no SNI, IP SAN).
  int rc = testing::RunShell("curl -sS --max-time 10 --cacert " + ca_pem +
                                 " --resolve www.city.example.jp:" + port + ":" + ip +
                                 " https://www.city.example.jp:" + port + "/",
                             &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "minted for www.city.example.jp\n");
  rc = testing::RunShell(
      "curl -sS --max-time 10 --cacert " + ca_pem + " https://" + ip + ":" + port + "/", &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "minted for " + ip + "\n");

  // openssl s_client with strict verification, ALPN offering h2 first: we answer http/1.1.
  const std::string s_client = "openssl s_client -connect " + ip + ":" + port +
                               " -verify_return_error -CAfile " + ca_pem +
                               " -alpn h2,http/1.1 </dev/null";
  rc = testing::RunShell(s_client + " -servername mail.example.jp -verify_hostname mail.example.jp",
                         &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Verify return code: 0 (ok)"), std::string::npos) << out;
  EXPECT_NE(out.find("ALPN protocol: http/1.1"), std::string::npos) << out;

  // Controls: the same tools must fail when the name or the trust anchor is wrong.
  rc = testing::RunShell(
      s_client + " -servername mail.example.jp -verify_hostname other.example.jp", &out);
  EXPECT_NE(rc, 0) << out;
  rc = testing::RunShell("curl -sS --max-time 10 --resolve www.city.example.jp:" + port + ":" + ip +
                             " https://www.city.example.jp:" + port + "/",
                         &out);
  EXPECT_NE(rc, 0) << "curl accepted the minted leaf with only the system trust store: " << out;
}

TEST_F(LeafCertTest, MintingAndLookupRates) {
  auto cache = LeafCertCache::Create(ca_);
  ASSERT_TRUE(cache);
  constexpr int kMints = 300;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kMints; ++i)
    ASSERT_TRUE((*cache)->ServerContextFor("host" + std::to_string(i) + ".example.jp"));
  auto t1 = std::chrono::steady_clock::now();
  constexpr int kLookups = 200'000;
  for (int i = 0; i < kLookups; ++i)
    ASSERT_TRUE((*cache)->ServerContextFor("host" + std::to_string(i % kMints) + ".example.jp"));
  auto t2 = std::chrono::steady_clock::now();
  const double mint_s = std::chrono::duration<double>(t1 - t0).count();
  const double look_s = std::chrono::duration<double>(t2 - t1).count();
  const double mints_per_s = kMints / mint_s, lookups_per_s = kLookups / look_s;
  std::printf("leaf minting (cert + SSL_CTX, ECDSA P-256 CA): %.0f/s; cache hits: %.0f lookups/s\n",
              mints_per_s, lookups_per_s);
  RecordProperty("mints_per_second", static_cast<int>(mints_per_s));
  RecordProperty("lookups_per_second", static_cast<int>(lookups_per_s));
  EXPECT_EQ((*cache)->stats().misses, static_cast<uint64_t>(kMints));
  EXPECT_EQ((*cache)->stats().hits, static_cast<uint64_t>(kLookups));
  // Generous floors so a loaded CI machine passes, while an accidental re-mint on hit would not.
  EXPECT_GT(lookups_per_s, 20 * mints_per_s);
}

}  // namespace
}  // namespace seccloud::net
