// UpstreamTls against a real nginx serving badssl.com-style origins from
// tests/tls/make-test-pki.sh.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <thread>

#include "core/process.h"
#include "net/tls.h"
#include "net/tls_testing.h"

namespace seccloud::net {
namespace {

namespace asio = boost::asio;
using P = UpstreamCertProblem;

struct Origin {
  const char* name;  // file stem in the PKI directory
  const char* host;  // the name the proxy would connect to
};
// The IP-literal origin ("good-ip") is addressed by the loopback address itself.
constexpr Origin kOrigins[] = {
    {"good", "good.seccloud.test"},
    {"good-ip", nullptr},
    {"expired", "expired.seccloud.test"},
    {"not-yet-valid", "future.seccloud.test"},
    {"wrong-host", "wrong-host.seccloud.test"},
    {"self-signed", "self-signed.seccloud.test"},
    {"untrusted-root", "untrusted-root.seccloud.test"},
    {"untrusted-intermediate", "untrusted-int.seccloud.test"},
    {"incomplete-chain", "incomplete.seccloud.test"},
    {"revoked", "revoked.seccloud.test"},
};

// One nginx per test process on its own loopback address, one port per origin.
class NginxOrigins {
 public:
  NginxOrigins() : ip_(testing::PerProcessLoopback()) {}
  ~NginxOrigins() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }

  // Builds the PKI and starts nginx; returns an error text, empty on success.
  std::string Start() {
    const fs::path dir = dir_.path();
    std::string out;
    if (testing::RunShell(
            testing::ShellQuote((testing::SourceDir() / "tests/tls/make-test-pki.sh").string()) +
                " " + testing::ShellQuote((dir / "pki").string()) + " " + ip_,
            &out) != 0)
      return "make-test-pki.sh failed: " + out;
    fs::create_directories(dir / "tmp");
    std::ofstream conf(dir / "nginx.conf");
    conf << "master_process off;\npid " << (dir / "nginx.pid").string() << ";\nerror_log "
         << (dir / "error.log").string() << " warn;\nevents { worker_connections 64; }\nhttp {\n"
         << "  access_log off;\n  default_type text/plain;\n";
    for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
      conf << "  " << t << "_temp_path " << (dir / "tmp" / t).string() << ";\n";
    for (size_t i = 0; i < std::size(kOrigins); ++i) {
      const uint16_t port = static_cast<uint16_t>(kFirstPort + i);
      conf << "  server {\n    listen " << ip_ << ":" << port << " ssl;\n"
           << "    ssl_certificate " << (dir / "pki" / kOrigins[i].name).string() << ".pem;\n"
           << "    ssl_certificate_key " << (dir / "pki" / kOrigins[i].name).string() << ".key;\n"
           << "    location / { return 200 \"origin " << kOrigins[i].name << "\\n\"; }\n  }\n";
    }
    conf << "}\n";
    conf.close();
    // setpriv --pdeathsig: nginx dies with the test process even if that crashes.
    auto pid = Spawn(SpawnOptions{.argv = {"setpriv", "--pdeathsig", "KILL", "nginx", "-p",
                                           dir.string(), "-c", (dir / "nginx.conf").string(), "-e",
                                           (dir / "error.log").string(), "-g", "daemon off;"},
                                  .environment = {},
                                  .working_dir = {},
                                  .output = dir / "nginx.out"});
    if (!pid) return "nginx: " + pid.error().message;
    pid_ = *pid;
    // Ready when the last port accepts.
    for (int i = 0; i < 100; ++i) {
      asio::io_context io;
      asio::ip::tcp::socket s(io);
      boost::system::error_code ec;
      s.connect(Endpoint(std::size(kOrigins) - 1), ec);
      if (!ec) return {};
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        std::ifstream log(dir / "error.log");
        return "nginx exited: " + std::string(std::istreambuf_iterator<char>(log), {});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "nginx did not start listening";
  }

  asio::ip::tcp::endpoint Endpoint(size_t origin) const {
    return {asio::ip::make_address(ip_), static_cast<uint16_t>(kFirstPort + origin)};
  }
  const std::string& ip() const { return ip_; }
  fs::path Pki(const std::string& file) const { return dir_.path() / "pki" / file; }

 private:
  static constexpr uint16_t kFirstPort = 9443;
  testing::TempDir dir_;
  std::string ip_;
  pid_t pid_ = -1;
};

class UpstreamTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    origins_ = new NginxOrigins();
    error_ = new std::string(origins_->Start());
  }
  static void TearDownTestSuite() {
    delete origins_;
    delete error_;
  }
  void SetUp() override { ASSERT_EQ(*error_, "") << "origin fixture"; }

  static size_t IndexOf(std::string_view name) {
    for (size_t i = 0; i < std::size(kOrigins); ++i)
      if (name == kOrigins[i].name) return i;
    ADD_FAILURE() << "no origin " << name;
    return 0;
  }

  UpstreamTlsOptions TestTrust() const {
    UpstreamTlsOptions o;
    o.use_system_trust_store = false;
    o.extra_ca_files = {origins_->Pki("bundle.pem")};
    return o;
  }

  // Connects to origin `name` and runs the handshake for `host` (default: the origin's host).
  // Connections live on io_, which outlives them (declared before them in every test).
  Result<UpstreamConnection> Connect(UpstreamTls& tls, std::string_view name,
                                     std::string host = {}) {
    const size_t i = IndexOf(name);
    if (host.empty()) host = kOrigins[i].host ? kOrigins[i].host : origins_->ip();
    asio::io_context& io = io_;
    io.restart();
    asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect(origins_->Endpoint(i), ec);
    if (ec) return MakeError(Errc::kUnavailable, ec.message());
    Result<UpstreamConnection> out = MakeError(Errc::kInternal, "did not run");
    asio::co_spawn(io, tls.Handshake(std::move(socket), host),
                   [&](std::exception_ptr e, Result<UpstreamConnection> r) {
                     if (e)
                       out = MakeError(Errc::kInternal, "exception");
                     else
                       out = std::move(r);
                   });
    io.run();
    return out;
  }

  // GET / over a stream the verdict released; returns the body.
  static std::string Get(UpstreamConnection::Stream& stream, const std::string& host) {
    const std::string req = "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
    boost::system::error_code ec;
    asio::write(stream, asio::buffer(req), ec);
    if (ec) return "write: " + ec.message();
    std::string resp;
    char buf[4096];
    for (;;) {
      size_t n = stream.read_some(asio::buffer(buf), ec);
      resp.append(buf, n);
      if (ec || resp.size() > 65536) break;
    }
    auto body = resp.find("\r\n\r\n");
    return body == std::string::npos ? resp : resp.substr(body + 4);
  }

  static NginxOrigins* origins_;
  static std::string* error_;
  asio::io_context io_;
};
NginxOrigins* UpstreamTlsTest::origins_ = nullptr;
std::string* UpstreamTlsTest::error_ = nullptr;

TEST_F(UpstreamTlsTest, GoodOriginVerifiesAndReportsItsIssuer) {
  auto tls = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(tls) << tls.error().message;
  auto conn = Connect(**tls, "good");
  ASSERT_TRUE(conn) << conn.error().message;
  const UpstreamCertReport& r = conn->report();
  EXPECT_EQ(r.problem, P::kNone) << r.Sentence();
  EXPECT_TRUE(r.all.empty());
  EXPECT_EQ(r.issuer, "CN=seccloud test intermediate");
  EXPECT_EQ(r.subject, "CN=good.seccloud.test");
  EXPECT_EQ(r.host, "good.seccloud.test");
  EXPECT_EQ(conn->negotiated_alpn(), "http/1.1");
  auto stream = conn->Trusted();
  ASSERT_TRUE(stream) << stream.error().message;
  EXPECT_EQ(Get(**stream, "good.seccloud.test"), "origin good\n");
}

TEST_F(UpstreamTlsTest, IpLiteralOriginIsVerifiedAgainstItsIpSubjectAltName) {
  auto tls = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(tls);
  auto conn = Connect(**tls, "good-ip");
  ASSERT_TRUE(conn) << conn.error().message;
  EXPECT_EQ(conn->report().problem, P::kNone) << conn->report().Sentence();
  // The same certificate reached under a host name is the wrong host.
  auto by_name = Connect(**tls, "good-ip", "good.seccloud.test");
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->report().problem, P::kWrongHost);
}

TEST_F(UpstreamTlsTest, EachBrokenOriginGetsItsExactProblem) {
  auto tls = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(tls);
  const std::pair<const char*, P> cases[] = {
      {"expired", P::kExpired},
      {"not-yet-valid", P::kNotYetValid},
      {"wrong-host", P::kWrongHost},
      {"self-signed", P::kSelfSigned},
      {"untrusted-root", P::kUntrustedRoot},
      {"untrusted-intermediate", P::kUntrustedRoot},
      {"incomplete-chain", P::kIncompleteChain},
  };
  for (const auto& [name, want] : cases) {
    SCOPED_TRACE(name);
    auto conn = Connect(**tls, name);
    ASSERT_TRUE(conn) << conn.error().message;
    const UpstreamCertReport& r = conn->report();
    EXPECT_EQ(r.problem, want) << UpstreamCertProblemName(r.problem) << ": " << r.Sentence();
    EXPECT_EQ(r.all, std::vector<P>{want});
    EXPECT_FALSE(r.issuer.empty());
    // The caller cannot get at the stream without acting on the problem.
    auto refused = conn->Trusted();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::kPermissionDenied);
    EXPECT_NE(refused.error().message.find(r.host), std::string::npos) << refused.error().message;
    const P other = want == P::kExpired ? P::kWrongHost : P::kExpired;
    EXPECT_FALSE(conn->AcceptDespite(std::vector<P>{other}));
    auto accepted = conn->AcceptDespite(std::vector<P>{want});
    ASSERT_TRUE(accepted) << accepted.error().message;
    EXPECT_EQ(Get(**accepted, r.host), std::string("origin ") + name + "\n");
  }
}

TEST_F(UpstreamTlsTest, SentencesNameTheProblem) {
  auto tls = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(tls);
  auto expired = Connect(**tls, "expired");
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->report().Sentence(),
            "The certificate of expired.seccloud.test has expired (certificate has expired).");
  auto wrong = Connect(**tls, "wrong-host");
  ASSERT_TRUE(wrong);
  EXPECT_NE(wrong->report().Sentence().find("CN=other.seccloud.test"), std::string::npos)
      << wrong->report().Sentence();
  EXPECT_EQ(wrong->report().x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
  auto incomplete = Connect(**tls, "incomplete-chain");
  ASSERT_TRUE(incomplete);
  EXPECT_NE(incomplete->report().Sentence().find("intermediate"), std::string::npos);
}

TEST_F(UpstreamTlsTest, RevocationIsReportedWhenACrlIsLoaded) {
  auto without = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(without);
  auto plain = Connect(**without, "revoked");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->report().problem, P::kNone);  // no CRL, no OCSP: nothing to say it is revoked

  UpstreamTlsOptions o = TestTrust();
  o.crl_files = {origins_->Pki("intermediate.crl.pem")};
  auto with = UpstreamTls::Create(o);
  ASSERT_TRUE(with) << with.error().message;
  auto revoked = Connect(**with, "revoked");
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->report().problem, P::kRevoked) << revoked->report().Sentence();
  EXPECT_FALSE(revoked->Trusted());
  auto good = Connect(**with, "good");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->report().problem, P::kNone) << good->report().Sentence();
  // An issuer without a CRL (the other root's chain) is not failed for lack of one.
  auto other = Connect(**with, "untrusted-intermediate");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->report().problem, P::kUntrustedRoot);
}

TEST_F(UpstreamTlsTest, SystemTrustStoreDoesNotTrustTheTestRoot) {
  auto tls = UpstreamTls::Create();  // /etc/ssl/certs only
  ASSERT_TRUE(tls) << tls.error().message;
  auto conn = Connect(**tls, "good");
  ASSERT_TRUE(conn) << conn.error().message;
  EXPECT_EQ(conn->report().problem, P::kUntrustedRoot) << conn->report().Sentence();
}

TEST_F(UpstreamTlsTest, BadConfigurationAndBadHostsAreErrors) {
  UpstreamTlsOptions o;
  o.extra_ca_files = {"/nonexistent/bundle.pem"};
  EXPECT_FALSE(UpstreamTls::Create(o));
  auto tls = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(tls);
  auto bad = Connect(**tls, "good", "good.seccloud.test\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
}

TEST_F(UpstreamTlsTest, SilentServerHitsTheHandshakeDeadline) {
  uint16_t port = 0;
  int listen_fd = testing::ListenOn(origins_->ip(), &port);
  ASSERT_GE(listen_fd, 0);
  UpstreamTlsOptions o = TestTrust();
  o.handshake_timeout = std::chrono::milliseconds(200);
  auto tls = UpstreamTls::Create(o);
  ASSERT_TRUE(tls);
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address(origins_->ip()), port});  // the backlog accepts it
  Result<UpstreamConnection> out = MakeError(Errc::kInternal, "did not run");
  const auto t0 = std::chrono::steady_clock::now();
  asio::co_spawn(io, (*tls)->Handshake(std::move(socket), "silent.seccloud.test"),
                 [&](std::exception_ptr, Result<UpstreamConnection> r) { out = std::move(r); });
  io.run();
  const auto took = std::chrono::steady_clock::now() - t0;
  ::close(listen_fd);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Errc::kDeadlineExceeded) << out.error().message;
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_F(UpstreamTlsTest, ResumesAVerifiedSessionWithTheSameReport) {
  auto tls = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(tls);
  auto first = Connect(**tls, "good");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->report().resumed);
  auto stream = first->Trusted();
  ASSERT_TRUE(stream);
  // TLS 1.3 tickets arrive after the handshake, with the first response.
  EXPECT_EQ(Get(**stream, "good.seccloud.test"), "origin good\n");
  EXPECT_GE((*tls)->session_stats().stored, 1u);

  auto second = Connect(**tls, "good");
  ASSERT_TRUE(second) << second.error().message;
  const UpstreamCertReport& r = second->report();
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(r.problem, P::kNone) << r.Sentence();
  EXPECT_EQ(r.issuer, "CN=seccloud test intermediate");
  EXPECT_EQ(r.subject, "CN=good.seccloud.test");
  auto again = second->Trusted();
  ASSERT_TRUE(again);
  EXPECT_EQ(Get(**again, "good.seccloud.test"), "origin good\n");
  const auto stats = (*tls)->session_stats();
  EXPECT_EQ(stats.full, 1u);
  EXPECT_EQ(stats.resumed, 1u);

  // Connections opened together, none reading the tickets of its own handshake: once the
  // unused sessions are taken, the newest is offered again instead of a full handshake.
  std::vector<UpstreamConnection> parallel;
  for (int i = 0; i < 5; ++i) {
    auto c = Connect(**tls, "good");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->report().resumed) << i;
    EXPECT_EQ(c->report().problem, P::kNone);
    parallel.push_back(std::move(*c));
  }
  EXPECT_EQ((*tls)->session_stats().full, 1u);
}

TEST_F(UpstreamTlsTest, ResumesTls12SessionsToo) {
  auto tls = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(tls);
  SSL_CTX_set_max_proto_version((*tls)->native_context(), TLS1_2_VERSION);
  auto first = Connect(**tls, "good");
  ASSERT_TRUE(first);
  EXPECT_EQ((*tls)->session_stats().stored, 1u);  // complete with the handshake in TLS 1.2
  auto second = Connect(**tls, "good");
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->report().resumed);
  EXPECT_EQ(second->report().problem, P::kNone);
  auto stream = second->Trusted();
  ASSERT_TRUE(stream);
  EXPECT_EQ(Get(**stream, "good.seccloud.test"), "origin good\n");
}

// The proxy closes origin connections without a close_notify. OpenSSL invalidates the session
// of an SSL freed that way unless told the close was ours; a later connection must still resume
// (found through the proxy against nginx: every origin handshake was full).
TEST_F(UpstreamTlsTest, ResumesAfterAConnectionClosedWithoutCloseNotify) {
  for (bool tls12 : {false, true}) {
    SCOPED_TRACE(tls12 ? "TLS 1.2" : "TLS 1.3");
    auto tls = UpstreamTls::Create(TestTrust());
    ASSERT_TRUE(tls);
    if (tls12) SSL_CTX_set_max_proto_version((*tls)->native_context(), TLS1_2_VERSION);
    for (int i = 0; i < 3; ++i) {
      auto conn = Connect(**tls, "good");  // used, then destroyed: no SSL_shutdown
      ASSERT_TRUE(conn) << conn.error().message;
      EXPECT_EQ(conn->report().resumed, i > 0) << i;
      auto stream = conn->Trusted();
      ASSERT_TRUE(stream);
      EXPECT_EQ(Get(**stream, "good.seccloud.test"), "origin good\n");
    }
    EXPECT_EQ((*tls)->session_stats().full, 1u);
    EXPECT_EQ((*tls)->session_stats().resumed, 2u);
  }
}

// A session from a connection that did not verify is never kept, even when the caller accepted
// the problem and used the connection: every later connection is verified again in full.
TEST_F(UpstreamTlsTest, BrokenCertificatesAreNeverResumed) {
  for (bool tls12 : {false, true}) {
    auto tls = UpstreamTls::Create(TestTrust());
    ASSERT_TRUE(tls);
    if (tls12) SSL_CTX_set_max_proto_version((*tls)->native_context(), TLS1_2_VERSION);
    for (const auto& [name, want] :
         {std::pair{"expired", P::kExpired}, std::pair{"wrong-host", P::kWrongHost},
          std::pair{"self-signed", P::kSelfSigned}}) {
      SCOPED_TRACE(std::string(name) + (tls12 ? " TLS 1.2" : " TLS 1.3"));
      for (int round = 0; round < 2; ++round) {
        auto conn = Connect(**tls, name);
        ASSERT_TRUE(conn);
        EXPECT_FALSE(conn->report().resumed);
        EXPECT_EQ(conn->report().problem, want);
        EXPECT_FALSE(conn->Trusted());
        auto accepted = conn->AcceptDespite(std::vector<P>{want});
        ASSERT_TRUE(accepted);
        EXPECT_EQ(Get(**accepted, conn->report().host), std::string("origin ") + name + "\n");
      }
    }
    EXPECT_EQ((*tls)->session_stats().stored, 0u);
    EXPECT_EQ((*tls)->session_stats().resumed, 0u);
  }
}

// The origin serving an IP-literal certificate is verified once by its address; the same
// server reached by a host name is not resumed from that session and fails as the wrong host.
TEST_F(UpstreamTlsTest, SessionsAreBoundToTheVerifiedName) {
  auto tls = UpstreamTls::Create(TestTrust());
  ASSERT_TRUE(tls);
  auto by_ip = Connect(**tls, "good-ip");
  ASSERT_TRUE(by_ip);
  ASSERT_EQ(by_ip->report().problem, P::kNone);
  auto stream = by_ip->Trusted();
  ASSERT_TRUE(stream);
  EXPECT_EQ(Get(**stream, origins_->ip()), "origin good-ip\n");
  ASSERT_GE((*tls)->session_stats().stored, 1u);
  auto by_name = Connect(**tls, "good-ip", "good.seccloud.test");
  ASSERT_TRUE(by_name);
  EXPECT_FALSE(by_name->report().resumed);
  EXPECT_EQ(by_name->report().problem, P::kWrongHost);
  auto by_ip_again = Connect(**tls, "good-ip");
  ASSERT_TRUE(by_ip_again);
  EXPECT_TRUE(by_ip_again->report().resumed);
  EXPECT_EQ(by_ip_again->report().problem, P::kNone);
}

TEST_F(UpstreamTlsTest, SessionsExpireAndTheCacheCanBeTurnedOff) {
  auto offset = std::make_shared<std::chrono::seconds>(0);
  UpstreamTlsOptions o = TestTrust();
  o.session_lifetime = std::chrono::seconds(60);
  o.clock = [offset] { return std::chrono::system_clock::now() + *offset; };
  auto tls = UpstreamTls::Create(o);
  ASSERT_TRUE(tls);
  auto first = Connect(**tls, "good");
  ASSERT_TRUE(first);
  auto stream = first->Trusted();
  ASSERT_TRUE(stream);
  EXPECT_EQ(Get(**stream, "good.seccloud.test"), "origin good\n");
  ASSERT_GE((*tls)->session_stats().stored, 1u);
  *offset = std::chrono::seconds(61);
  auto late = Connect(**tls, "good");
  ASSERT_TRUE(late);
  EXPECT_FALSE(late->report().resumed);
  EXPECT_EQ(late->report().problem, P::kNone);

  o.session_cache_size = 0;
  auto off = UpstreamTls::Create(o);
  ASSERT_TRUE(off);
  for (int i = 0; i < 2; ++i) {
    auto conn = Connect(**off, "good");
    ASSERT_TRUE(conn);
    EXPECT_FALSE(conn->report().resumed);
    auto s = conn->Trusted();
    ASSERT_TRUE(s);
    EXPECT_EQ(Get(**s, "good.seccloud.test"), "origin good\n");
  }
  EXPECT_EQ((*off)->session_stats().stored, 0u);
}

TEST(UpstreamCertProblemTest, ClassifiesVerifyErrors) {
  EXPECT_EQ(ClassifyVerifyError(X509_V_OK, 0), P::kNone);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_CERT_HAS_EXPIRED, 0), P::kExpired);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_CERT_HAS_EXPIRED, 1), P::kExpired);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_CERT_NOT_YET_VALID, 0), P::kNotYetValid);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, 0), P::kSelfSigned);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, 2), P::kUntrustedRoot);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
            P::kIncompleteChain);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, 0),
            P::kIncompleteChain);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 1),
            P::kUntrustedRoot);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_HOSTNAME_MISMATCH, 0), P::kWrongHost);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_IP_ADDRESS_MISMATCH, 0), P::kWrongHost);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_CERT_REVOKED, 0), P::kRevoked);
  EXPECT_EQ(ClassifyVerifyError(X509_V_ERR_CERT_SIGNATURE_FAILURE, 0), P::kOther);
  EXPECT_STREQ(UpstreamCertProblemName(P::kIncompleteChain), "incomplete_chain");
  EXPECT_STREQ(UpstreamCertProblemName(P::kWrongHost), "wrong_host");
}

}  // namespace
}  // namespace seccloud::net
