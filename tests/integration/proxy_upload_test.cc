// R8: uploads (request bodies) through the proxy are scanned by the real scand before anything
// of them goes upstream. A real nginx origin keeps every body it receives (/keep), so a test can
// prove that an infected upload never arrived and that a clean one arrived byte for byte; curl
// and raw sockets are the terminal, over plain HTTP and intercepted HTTPS.
// Loopback addresses are taken per process (from the pid), so tests run in parallel.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "proxy_fixture.h"

namespace seccloud {
namespace {

using integration::CommandResult;
using integration::Int;
using integration::kProxyPort;
using integration::NginxTlsServer;
using integration::ReadFile;
using integration::Str;
using integration::WaitFor;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint16_t kHttpPort = 8080;
constexpr uint16_t kHttpsPort = 8443;
constexpr const char* kTerminal = "127.10.0.5";
constexpr const char* kEicar =
    R"(X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*)";
// proxy.scan.max_size in these tests: a 5 MiB upload is held, a 7 MiB one is not.
constexpr uint64_t kMaxSize = 6 << 20;

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class ProxyUploadTest : public integration::ProxyFixture {
 protected:
  // The proxy's admin endpoint is 19701, scand's 19702.
  ProxyUploadTest() : ProxyFixture("upload", 84, 85, 19700) {}

  void SetUp() override {
    ProxyFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(MakeTestPki());
    ASSERT_NO_FATAL_FAILURE(StartOrigin(
        kHttpPort, {{kHttpsPort, dir_ / "pki" / "good.pem", dir_ / "pki" / "good.key"}}));
    std::ofstream(ConfigPath()) << Config();
    ASSERT_NO_FATAL_FAILURE(InitCa());
    WriteFile(dir_ / "eicar.com", kEicar);
  }

  void StopServices() override { StopProcess(scand_pid_, "scand"); }

  static void WriteFile(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
  }

  std::string Config() const {
    return RenderConfig({
        .tenants = "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [127.10.0.2]}\n",
        .hosts = {{"www.origin.example", ""},
                  {"uploads.bypass.example", ""},
                  {"good.seccloud.test", ""}},
        .proxy = "  timeouts: {body_idle: 3s}\n"
                 "  tls: {intercept: true, ca_dir: ca, extra_trust: [pki/bundle.pem]}\n"
                 "  scan:\n"
                 "    max_size: " +
                 std::to_string(kMaxSize) +
                 "\n"
                 "    bypass_content_types: [video/]\n"
                 "    bypass_domains: [bypass.example]\n"
                 "    on_error: block\n",
        .rest = "scan:\n"
                "  socket: scand.sock\n"
                "  workers: 2\n"
                "  clamav: {database: " +
                std::string(SECCLOUD_SOURCE_DIR) + "/etc/signatures/clamav}\n",
    });
  }

  void StartScand() {
    ASSERT_NO_FATAL_FAILURE(Launch("scand", "scand", &scand_pid_));
    ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ / "scand.sock"); }, 20s))
        << ReadFile(dir_ / "scand.out");
  }

  void StartProxy() { ProxyFixture::StartProxy(Config()); }

  void StartBoth() {
    StartScand();
    StartProxy();
  }

  static std::string Http(const std::string& path, const std::string& host = "www.origin.example") {
    return "http://" + host + ":" + std::to_string(kHttpPort) + path;
  }
  static std::string Https(const std::string& path) {
    return "https://good.seccloud.test:" + std::to_string(kHttpsPort) + path;
  }

  // curl through the proxy from the terminal, trusting only the interception CA; the body (or
  // curl's error) is followed by "status=<code>".
  CommandResult Curl(const std::vector<std::string>& args) {
    return ProxyFixture::Curl(args, {.source = kTerminal, .trust_interception_ca = true});
  }

  // Nothing of any upload reached the origin: no request to /keep in its log, no body on disk.
  void ExpectOriginReceivedNoUpload() {
    for (const auto& l : origin_->AccessLog())
      EXPECT_NE(l.uri, "/keep") << "the origin received a " << l.method << " of "
                                << l.request_length << " bytes";
    EXPECT_TRUE(origin_->KeptBodies().empty());
  }

  // An infected upload was answered with the block page naming the signature, its event says
  // so, and the origin got none of it.
  void ExpectWithheld(const CommandResult& r, const std::string& url, const std::string& signature,
                      const std::string& tls_mode) {
    EXPECT_THAT(r.output, HasSubstr("status=403")) << r.output;
    EXPECT_THAT(r.output, HasSubstr(signature)) << r.output;
    EXPECT_THAT(r.output, HasSubstr("malware was found in the upload")) << r.output;
    json::object e = EventFor(url);
    EXPECT_EQ(Str(e, "event.action"), "blocked");
    EXPECT_EQ(Str(e, "event.kind"), "alert");
    EXPECT_EQ(Int(e, "http.response.status_code"), 403);
    EXPECT_EQ(Str(e, "http.request.method"), "POST");
    EXPECT_EQ(Str(e, "seccloud.scan.upload.result"), "infected");
    // ClamAV names a signature from an unofficial database "<name>.UNOFFICIAL".
    EXPECT_THAT(Str(e, "seccloud.scan.upload.signature"), StartsWith(signature));
    EXPECT_EQ(Str(e, "seccloud.scan.result"), "infected");
    EXPECT_THAT(Str(e, "rule.name"), StartsWith(signature));
    EXPECT_EQ(Str(e, "rule.ruleset"), "clamav");
    EXPECT_EQ(Str(e, "seccloud.tls.mode"), tls_mode);
    EXPECT_EQ(Str(e, "tenant.id"), "tsu");
    EXPECT_EQ(Str(e, "source.ip"), kTerminal);
    ExpectOriginReceivedNoUpload();
  }

  pid_t scand_pid_ = 0;
};

TEST_F(ProxyUploadTest, EicarPostedOverHttpIsNeverDelivered) {
  StartBoth();
  const std::string eicar = "@" + (dir_ / "eicar.com").string();
  // As the body itself.
  auto r = Curl({"--data-binary", eicar, Http("/keep?plain")});
  ExpectWithheld(r, Http("/keep?plain"), "Eicar-Test-Signature", "none");
  // As a file in a multipart form, beside an ordinary field.
  r = Curl(
      {"-F", "comment=hello", "-F", "file=" + eicar + ";filename=report.pdf", Http("/keep?form")});
  ExpectWithheld(r, Http("/keep?form"), "Eicar-Test-Signature", "none");
  // Chunked.
  r = Curl({"-H", "Transfer-Encoding: chunked", "--data-binary", eicar, Http("/keep?chunked")});
  ExpectWithheld(r, Http("/keep?chunked"), "Eicar-Test-Signature", "none");
  EXPECT_EQ(Metric("seccloud_proxy_malware_uploads_blocked_total"), 3);
  EXPECT_EQ(Metric("seccloud_proxy_malware_blocked_total"), 0) << "responses are counted apart";
}

TEST_F(ProxyUploadTest, EicarPostedOverInterceptedHttpsIsNeverDelivered) {
  StartBoth();
  const std::string eicar = "@" + (dir_ / "eicar.com").string();
  auto r = Curl({"--data-binary", eicar, Https("/keep?plain")});
  ExpectWithheld(r, Https("/keep?plain"), "Eicar-Test-Signature", "intercepted");
  r = Curl({"-F", "file=" + eicar, Https("/keep?form")});
  ExpectWithheld(r, Https("/keep?form"), "Eicar-Test-Signature", "intercepted");
  r = Curl({"-H", "Transfer-Encoding: chunked", "--data-binary", eicar, Https("/keep?chunked")});
  ExpectWithheld(r, Https("/keep?chunked"), "Eicar-Test-Signature", "intercepted");
  // The tunnel's origin still serves what is clean.
  r = Curl({"--data-binary", "clean words", Https("/keep?clean")});
  EXPECT_THAT(r.output, HasSubstr("11status=200")) << r.output;
}

// clam.exe is known to the test signatures only by its MD5 (seccloud-test.hdb): the form that
// carries it has another hash, so only the form's file scanned on its own finds it.
TEST_F(ProxyUploadTest, AFileKnownByItsHashIsFoundInsideAForm) {
  const fs::path clam = "/usr/share/clamav-testfiles/clam.exe";
  if (!fs::exists(clam)) GTEST_SKIP() << clam << " is missing (Debian package clamav-testfiles)";
  StartBoth();
  auto r = Curl({"-F", "note=quarterly", "-F", "upload=@" + clam.string() + ";filename=setup.exe",
                 Http("/keep?form")});
  ExpectWithheld(r, Http("/keep?form"), "ClamAV-Test-File", "none");
  EXPECT_THAT(r.output, HasSubstr("setup.exe")) << "the page names the file";
  json::object e = EventFor(Http("/keep?form"));
  EXPECT_EQ(Str(e, "file.name"), "setup.exe");
}

TEST_F(ProxyUploadTest, ACleanFiveMiBUploadIsDeliveredByteExact) {
  StartBoth();
  const std::string body = RandomBytes(5 << 20, 5);
  WriteFile(dir_ / "5m.bin", body);
  const std::string at = "@" + (dir_ / "5m.bin").string();
  // Content-Length, with curl's "Expect: 100-continue" (sent for bodies over 1 MiB).
  auto r = Curl({"-v", "--expect100-timeout", "30", "--data-binary", at, Http("/keep?cl")});
  EXPECT_THAT(r.output, HasSubstr("Expect: 100-continue"));
  EXPECT_THAT(r.output, HasSubstr("HTTP/1.1 100 Continue")) << "the proxy answers the expectation";
  EXPECT_THAT(r.output, HasSubstr(std::to_string(body.size()) + "status=200"));
  // Chunked: forwarded with a Content-Length, as it was held whole.
  r = Curl({"-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary", at,
            Http("/keep?chunked")});
  EXPECT_THAT(r.output, HasSubstr(std::to_string(body.size()) + "status=200")) << r.output;
  // Over intercepted HTTPS.
  r = Curl({"-H", "Expect:", "--data-binary", at, Https("/keep?tls")});
  EXPECT_THAT(r.output, HasSubstr(std::to_string(body.size()) + "status=200")) << r.output;
  const auto kept = origin_->KeptBodies();
  ASSERT_EQ(kept.size(), 3u);
  for (const std::string& k : kept) EXPECT_TRUE(k == body) << "a body of " << k.size() << " bytes";
  for (const std::string& url : {Http("/keep?cl"), Http("/keep?chunked"), Https("/keep?tls")}) {
    json::object e = EventFor(url);
    EXPECT_EQ(Str(e, "event.action"), "allowed") << url;
    EXPECT_EQ(Str(e, "seccloud.scan.upload.result"), "clean") << url;
    EXPECT_EQ(Int(e, "http.request.bytes"), static_cast<int64_t>(body.size())) << url;
  }
}

// Nothing to hold: an empty chunked body and a form without files pass (scanned, clean).
TEST_F(ProxyUploadTest, EmptyAndFieldOnlyUploadsPass) {
  StartBoth();
  auto r = Curl({"-H", "Transfer-Encoding: chunked", "--data-binary", "", Http("/keep?empty")});
  EXPECT_THAT(r.output, HasSubstr("0status=200")) << r.output;
  r = Curl({"-F", "comment=hello", Http("/keep?fields")});
  EXPECT_THAT(r.output, HasSubstr("status=200")) << r.output;
  EXPECT_EQ(Str(EventFor(Http("/keep?fields")), "seccloud.scan.upload.result"), "clean");
  EXPECT_EQ(origin_->KeptBodies().size(), 2u);
}

// Per policy (the response path's): a body larger than max_size, a bypassed media type and a
// bypassed domain stream through unscanned, and the event says so.
TEST_F(ProxyUploadTest, OverLimitAndBypassedUploadsStreamUnscannedAndSaySo) {
  StartBoth();
  // 7 MiB that start with EICAR: delivered whole, because nothing of it was scanned.
  const std::string big = std::string(kEicar) + RandomBytes((7 << 20) - 68, 7);
  WriteFile(dir_ / "7m.bin", big);
  const std::string at = "@" + (dir_ / "7m.bin").string();
  auto r = Curl({"-H", "Expect:", "--data-binary", at, Http("/keep?cl")});
  EXPECT_THAT(r.output, HasSubstr(std::to_string(big.size()) + "status=200")) << r.output;
  // Chunked: the proxy holds max_size, finds it is more, sends what it held and streams the rest.
  r = Curl({"-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary", at,
            Http("/keep?chunked")});
  EXPECT_THAT(r.output, HasSubstr(std::to_string(big.size()) + "status=200")) << r.output;
  for (const std::string& url : {Http("/keep?cl"), Http("/keep?chunked")}) {
    json::object e = EventFor(url);
    EXPECT_EQ(Str(e, "seccloud.scan.upload.result"), "skipped") << url;
    EXPECT_EQ(Str(e, "seccloud.scan.upload.note"),
              "larger than proxy.scan.max_size (" + std::to_string(kMaxSize) + " bytes)");
    EXPECT_EQ(Int(e, "http.request.bytes"), static_cast<int64_t>(big.size())) << url;
  }
  const std::string eicar = "@" + (dir_ / "eicar.com").string();
  r = Curl({"-H", "Content-Type: video/mp4", "--data-binary", eicar, Http("/keep?video")});
  EXPECT_THAT(r.output, HasSubstr("68status=200")) << r.output;
  EXPECT_EQ(Str(EventFor(Http("/keep?video")), "seccloud.scan.upload.note"),
            "bypassed: media type video/");
  r = Curl({"--data-binary", eicar, Http("/keep?domain", "uploads.bypass.example")});
  EXPECT_THAT(r.output, HasSubstr("68status=200")) << r.output;
  json::object e = EventFor(Http("/keep?domain", "uploads.bypass.example"));
  EXPECT_EQ(Str(e, "seccloud.scan.upload.result"), "bypassed");
  EXPECT_EQ(Str(e, "seccloud.scan.upload.note"), "bypassed: domain bypass.example");
  const auto kept = origin_->KeptBodies();
  ASSERT_EQ(kept.size(), 4u);
  size_t whole_big = 0;
  for (const std::string& k : kept) whole_big += k == big;
  EXPECT_EQ(whole_big, 2u) << "both 7 MiB bodies arrived byte for byte";
}

TEST_F(ProxyUploadTest, WithoutScandAnUploadIsWithheld) {
  StartProxy();  // scand is not running: the scan cannot run, on_error is block
  auto r = Curl({"--data-binary", "harmless words", Http("/keep?noscand")});
  EXPECT_THAT(r.output, HasSubstr("status=403")) << r.output;
  EXPECT_THAT(r.output, HasSubstr("the upload could not be scanned, so it was withheld"));
  json::object e = EventFor(Http("/keep?noscand"));
  EXPECT_EQ(Str(e, "seccloud.scan.upload.result"), "error");
  EXPECT_EQ(Str(e, "event.action"), "blocked");
  ExpectOriginReceivedNoUpload();
  // Responses fail closed the same way.
  r = Curl({"-o", "/dev/null", Http("/1k.bin")});
  EXPECT_THAT(r.output, HasSubstr("status=403")) << r.output;
}

TEST_F(ProxyUploadTest, AClientVanishingMidUploadLeavesNothingBehind) {
  StartBoth();
  for (int round = 0; round < 3; ++round) {
    std::string error;
    const int fd = integration::ConnectFrom(kTerminal, ip_, kProxyPort, &error);
    ASSERT_GE(fd, 0) << error;
    // Content-Length and chunked alike; the last one stops inside a chunk.
    const std::string url = Http("/keep?vanish" + std::to_string(round));
    std::string request = "POST " + url + " HTTP/1.1\r\nHost: www.origin.example\r\n";
    if (round == 2)
      request += "Transfer-Encoding: chunked\r\n\r\n100000\r\n" + std::string(1000, 'v');
    else
      request += "Content-Length: 5242880\r\n\r\n" + std::string(1 << 20, 'v');
    ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::this_thread::sleep_for(200ms);
    if (round == 1) {
      linger l{1, 0};  // a reset rather than a FIN
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd);
    json::object e = EventFor(url);
    EXPECT_EQ(Str(e, "event.action"), "failed");
    EXPECT_THAT(Str(e, "error.message"), HasSubstr("reading the upload from the client failed"));
  }
  EXPECT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_connections_active") == 0; }, 10s))
      << "a connection is left open";
  ExpectOriginReceivedNoUpload();
  // Still serving, and scanning.
  auto r = Curl({"--data-binary", "after the vanishing", Http("/keep?after")});
  EXPECT_THAT(r.output, HasSubstr("19status=200")) << r.output;
}

}  // namespace
}  // namespace seccloud
