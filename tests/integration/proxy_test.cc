// R3: the forward proxy against a real origin (nginx) and real clients (curl, raw sockets):
// byte-exact bodies of every size, streamed uploads, keep-alive on both sides, hop-by-hop rules,
// X-Forwarded-For attribution, refusals with pages, CONNECT, one access-log event per request,
// bad input that must never crash it, and a restart under `seccloud run` after kill -9.
// Each test process takes loopback addresses of its own (from its pid), so tests run in parallel.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "net/http.h"
#include "proxy_fixture.h"
#include "tls_peers.h"

namespace seccloud {
namespace {

using integration::AcceptOriginTls;
using integration::CanConnect;
using integration::CommandResult;
using integration::Count;
using integration::Field;
using integration::Int;
using integration::InterceptedTerminal;
using integration::ReadFile;
using integration::RunCommand;
using integration::Str;
using integration::WaitFor;

namespace fs = std::filesystem;
namespace json = boost::json;
namespace http = boost::beast::http;
using integration::kProxyPort;
using integration::NginxOrigin;
using integration::OriginTls;
using integration::ReadConnectAnswer;
using integration::ReadTlsHeader;
using integration::SendAll;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Response = http::response<http::string_body>;

constexpr const char* kOriginName = "www.origin.example";
constexpr uint16_t kOriginPort = 8080;
constexpr uint16_t kAdminPort = 19500;  // the supervisor's; the proxy's admin endpoint is this + 1

// A client socket under the test's exact control: bound to a chosen source address, raw bytes
// out, responses parsed with Beast's parser (so framing errors of the proxy show as errors here).
class RawClient {
 public:
  RawClient(const std::string& source, const std::string& ip, uint16_t port) {
    fd_ = integration::ConnectFrom(source, ip, port, &error_);
  }
  ~RawClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }
  // Closes with an RST (SO_LINGER 0): the proxy's next write to this connection fails at once.
  void Reset() {
    if (fd_ < 0) return;
    const linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd_);
    fd_ = -1;
  }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        error_ = std::string("send: ") + strerror(errno);
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One response; nullopt (with error()) on a close before a complete response, a timeout or a
  // response Beast cannot parse. Bytes after the response stay for the next call.
  std::optional<Response> ReadResponse(bool head = false, std::chrono::milliseconds timeout = 15s) {
    http::response_parser<http::string_body> p;
    p.body_limit(64 << 20);
    p.eager(true);
    if (head) p.skip(true);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!p.is_done()) {
      if (!pending_.empty()) {
        boost::system::error_code ec;
        const size_t used = p.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec && ec != http::error::need_more) {
          error_ = "parse: " + ec.message();
          return std::nullopt;
        }
        if (p.is_done()) break;
        if (used > 0 && !pending_.empty()) continue;
      }
      const int got = ReadSome(deadline);
      if (got < 0) return std::nullopt;
      if (got == 0) {
        // Beast completes a parser that got no bytes at all on EOF (an empty "200 OK").
        if (!p.got_some()) {
          error_ = "closed without a response";
          return std::nullopt;
        }
        boost::system::error_code ec;
        p.put_eof(ec);
        if (ec) {
          error_ = "closed before a complete response: " + ec.message();
          return std::nullopt;
        }
      }
    }
    return p.release();
  }

  // Waits for the peer to close; true if it did within `timeout` (bytes it sent meanwhile are
  // appended to pending()).
  bool WaitClosed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const int got = ReadSome(deadline);
      if (got == 0) return true;
      if (got < 0) return error_.find("reset") != std::string::npos;
    }
  }

  // Reads until pending() holds `needle`; false on a close, an error or the timeout.
  bool WaitFor(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pending_.find(needle) == std::string::npos) {
      if (ReadSome(deadline) <= 0) return false;
    }
    return true;
  }

  const std::string& pending() const { return pending_; }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

 private:
  // >0 bytes read, 0 closed, -1 error or deadline.
  int ReadSome(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error_ = "timed out";
      return -1;
    }
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) != 1) {
      error_ = "timed out";
      return -1;
    }
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      error_ = std::string("recv: ") + strerror(errno);  // "Connection reset by peer"
      return -1;
    }
    pending_.append(buf, static_cast<size_t>(n));
    return static_cast<int>(n);
  }

  int fd_ = -1;
  std::string error_;
  std::string pending_;
};

// The scan section every test with a hold uses (no scand runs: on_error allow lets a held body
// go on as "error").
std::string ScanSection() {
  return "scan:\n  socket: scand.sock\n  clamav: {database: " + std::string(SECCLOUD_SOURCE_DIR) +
         "/etc/signatures/clamav}\n";
}

// Adds `more` ("body_idle: 1s") to the timeouts of ProxyTest's Config(); false when they are not
// there.
bool WithTimeouts(std::string& config, const std::string& more) {
  const std::string timeouts = "timeouts: {client_header: 1s}";
  const size_t at = config.find(timeouts);
  if (at == std::string::npos) return false;
  config.replace(at, timeouts.size(), "timeouts: {client_header: 1s, " + more + "}");
  return true;
}

class ProxyTest : public integration::ProxyFixture {
 protected:
  // Loopback addresses of this process's own: the proxy in 127.77/16, the origin in 127.78/16
  // (neither belongs to a tenant).
  ProxyTest() : ProxyFixture("proxy", 77, 78, kAdminPort) {}

  void SetUp() override {
    ProxyFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(StartOrigin(kOriginPort));
  }

  void StopServices() override { StopProcess(supervisor_pid_, "supervisor", false); }

  // `rest`: top-level sections after `proxy:` (scan: for the malware step).
  std::string Config(const std::string& proxy_extra = "", const std::string& rest = "") const {
    return RenderConfig({
        .supervisor = "  restart_backoff: {initial: 100ms, max: 400ms}\n"
                      "  stable_after: 30s\n"
                      "  health_interval: 200ms\n",
        .tenants = "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [127.10.0.2]}\n"
                   "  - {id: yokkaichi, name: 四日市市, networks: [127.20.0.0/16], proxies: "
                   "[127.20.0.2]}\n",
        .hosts = {{kOriginName, ""}, {"v6.origin.example", "::1"}},
        .proxy = "  max_header_size: 8192\n"
                 "  max_headers: 30\n"
                 "  timeouts: {client_header: 1s}\n" +
                 proxy_extra,
        .rest = rest,
    });
  }

  void StartProxy(const std::string& proxy_extra = "") {
    ProxyFixture::StartProxy(Config(proxy_extra));
  }

  // Config() with bodies held for the scan up to `max_size` bytes each; no scand runs (on_error
  // allow: a held body goes on as "error").
  std::string ScanConfig(uint64_t max_size = 1048576) const {
    return Config("  scan: {max_size: " + std::to_string(max_size) + ", on_error: allow}\n",
                  ScanSection());
  }

  // Bodies held for the scan up to `max_size` bytes each, `hold_budget` for all at once; no
  // scand runs (on_error allow: a held body goes on as "error").
  void StartProxyWithHoldBudget(uint64_t hold_budget, uint64_t max_size = 100000) {
    ProxyFixture::StartProxy(Config("  scan: {max_size: " + std::to_string(max_size) +
                                        ", hold_budget: " + std::to_string(hold_budget) +
                                        ", on_error: allow}\n",
                                    ScanSection()));
  }

  std::string Url(const std::string& path) const {
    return std::string("http://") + kOriginName + ":" + std::to_string(kOriginPort) + path;
  }

  // curl through the proxy from `source`; -w prints "status=<code> size=<bytes>" at the end.
  CommandResult Curl(const std::vector<std::string>& args,
                     const std::string& source = "127.10.0.5") {
    return ProxyFixture::Curl(
        args, {.source = source, .write_out = "status=%{http_code} size=%{size_download}\\n"});
  }

  std::unique_ptr<RawClient> Raw(const std::string& source = "127.10.0.5") {
    auto c = std::make_unique<RawClient>(source, ip_, kProxyPort);
    EXPECT_TRUE(c->ok()) << c->error();
    return c;
  }

  // Sends one request on a fresh connection and reads the response (nullopt: closed/garbled).
  std::optional<Response> Exchange(const std::string& request,
                                   const std::string& source = "127.10.0.5", bool head = false) {
    auto c = Raw(source);
    if (!c->ok() || !c->Send(request)) return std::nullopt;
    return c->ReadResponse(head);
  }

  // The request-body failures (ExpectRequestBodyFailuresAnswered, below) for uploads through a
  // proxy started with `config` and body_idle 1 s.
  void ExpectUploadFailuresAnswered(const std::string& config);

  // The proxy still serves an ordinary request, and its process is alive.
  void ExpectStillServes() {
    int status = 0;
    ASSERT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << "the proxy died:\n" << ProxyOutput();
    auto r = Curl({"-o", (dir_ / "check.bin").string(), Url("/1k.bin")});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("status=200 size=1024"));
    EXPECT_EQ(ReadFile(dir_ / "check.bin"), origin_->File("1k.bin"));
  }

  pid_t supervisor_pid_ = 0;
};

// ---- bodies -------------------------------------------------------------------------------

TEST_F(ProxyTest, GetBodiesOfEverySizeAreByteExact) {
  StartProxy();
  for (const auto& f : NginxOrigin::kFiles) {
    for (const std::string prefix : {"/", "/chunked/"}) {
      SCOPED_TRACE(prefix + f.name);
      const fs::path out = dir_ / "download.bin";
      fs::remove(out);
      auto r = Curl({"-o", out.string(), Url(prefix + f.name)});
      ASSERT_EQ(r.exit_code, 0) << r.output;
      EXPECT_THAT(r.output, HasSubstr("status=200 size=" + std::to_string(f.size)));
      auto sums = RunCommand({"sha256sum", out.string(), origin_->FilePath(f.name).string()}, dir_);
      ASSERT_EQ(sums.exit_code, 0) << sums.output;
      const std::string first = sums.output.substr(0, 64);
      EXPECT_EQ(Count(sums.output, first), 2u) << "sha256 differs:\n" << sums.output;
      EXPECT_TRUE(ReadFile(out) == origin_->File(f.name));
      json::object e = EventFor(Url(prefix + f.name));
      EXPECT_EQ(Int(e, "http.response.status_code"), 200);
      EXPECT_EQ(Int(e, "http.response.bytes"), static_cast<int64_t>(f.size));
    }
  }
  // The chunked variants really were chunked upstream (else this test would not cover it).
  auto r = RunCommand({"curl", "-sS", "-D", "-", "-o", "/dev/null",
                       "http://" + origin_->authority() + "/chunked/1k.bin"},
                      dir_);
  EXPECT_THAT(r.output, HasSubstr("Transfer-Encoding: chunked"));
}

TEST_F(ProxyTest, A50MiBChunkedUploadIsStreamedToTheOrigin) {
  StartProxy();
  constexpr size_t kSize = 50u << 20;
  {
    std::ofstream big(dir_ / "upload.bin", std::ios::binary);
    std::mt19937 rng(7);
    std::string block(1 << 20, '\0');
    for (size_t i = 0; i < kSize; i += block.size()) {
      for (char& c : block) c = static_cast<char>(rng());
      big.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  auto r = Curl({"-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary",
                 "@" + (dir_ / "upload.bin").string(), Url("/upload")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(std::to_string(kSize) + "status=200"))
      << "the origin reports the body length it received";
  // The same with a Content-Length.
  r = Curl(
      {"-H", "Expect:", "--data-binary", "@" + (dir_ / "upload.bin").string(), Url("/upload?cl")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(std::to_string(kSize) + "status=200"));
  json::object e = EventFor(Url("/upload"));
  EXPECT_EQ(Int(e, "http.request.bytes"), static_cast<int64_t>(kSize));
  EXPECT_EQ(Str(e, "http.request.method"), "POST");
  // Streamed, not buffered: the proxy's peak resident memory stays far below the body size.
  std::ifstream status("/proc/" + std::to_string(proxy_pid_) + "/status");
  std::string line;
  int64_t hwm_kib = -1;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) hwm_kib = std::stoll(line.substr(6));
  ASSERT_GT(hwm_kib, 0);
#if defined(__SANITIZE_THREAD__)
  // The proxy is built with the same flags: ThreadSanitizer's shadow memory and per-thread
  // history make its RSS no measure of buffering (49 MiB seen with nothing buffered).
  GTEST_SKIP() << "peak RSS bound not checked under ThreadSanitizer (" << hwm_kib << " KiB)";
#elif defined(__SANITIZE_ADDRESS__)
  // The same under AddressSanitizer (the debug preset): its shadow memory and the quarantine of
  // freed blocks make the RSS no measure of buffering either (~300 MiB seen, proxy18).
  GTEST_SKIP() << "peak RSS bound not checked under AddressSanitizer (" << hwm_kib << " KiB)";
#endif
  EXPECT_LT(hwm_kib, 40 * 1024) << "peak RSS " << hwm_kib << " KiB for a 50 MiB body";
}

// curl sends "Expect: 100-continue" before any body over 1 MiB and waits up to 1 s for the
// 100 before sending the body anyway.
TEST_F(ProxyTest, AnExpectContinueUploadIsNotHeldBack) {
  StartProxy();
  {
    std::ofstream f(dir_ / "2m.bin", std::ios::binary);
    f << std::string(2 << 20, 'e');
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = Curl({"-v", "--expect100-timeout", "5", "--data-binary",
                 "@" + (dir_ / "2m.bin").string(), Url("/upload?expect")});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Expect: 100-continue"));
  EXPECT_THAT(r.output, HasSubstr(std::to_string(2 << 20) + "status=200"));
  EXPECT_THAT(r.output, HasSubstr("HTTP/1.1 100 Continue")) << r.output;
  EXPECT_LT(took, 3s) << "the upload waited for curl's expect timeout";
}

// ---- connections ----------------------------------------------------------------------------

TEST_F(ProxyTest, ClientKeepAliveAndUpstreamPooling) {
  StartProxy();
  const double reused_before = Metric("seccloud_proxy_upstream_reused_total");
  ASSERT_GE(reused_before, 0);
  std::vector<std::string> args = {"-v",        "-o", "/dev/null", "-o", "/dev/null", "-o",
                                   "/dev/null", "-o", "/dev/null", "-o", "/dev/null"};
  for (int i = 0; i < 5; ++i) args.push_back(Url("/1k.bin?ka=" + std::to_string(i)));
  auto r = Curl(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Count(r.output, "status=200 size=1024"), 5u) << r.output;
  EXPECT_EQ(Count(r.output, "Re-using existing connection"), 4u) << r.output;
  EXPECT_EQ(Count(r.output, "Connected to " + ip_), 1u) << r.output;

  EXPECT_GE(Metric("seccloud_proxy_upstream_reused_total") - reused_before, 4) << "pool unused";
  // The origin saw the five requests on one connection.
  std::set<uint64_t> connections;
  int seen = 0;
  for (const auto& l : origin_->AccessLog())
    if (l.uri == "/1k.bin") {
      ++seen;
      connections.insert(l.connection);
    }
  EXPECT_EQ(seen, 5);
  EXPECT_EQ(connections.size(), 1u);
}

TEST_F(ProxyTest, HeadNoContentAndNotModifiedCarryNoBody) {
  StartProxy();
  // All on one client connection: a body the proxy wrongly expected or sent would corrupt the
  // next response.
  auto c = Raw();
  const std::string host = "Host: " + std::string(kOriginName) + ":8080\r\n";
  ASSERT_TRUE(c->Send("HEAD " + Url("/1k.bin") + " HTTP/1.1\r\n" + host + "\r\n"));
  auto head = c->ReadResponse(/*head=*/true);
  ASSERT_TRUE(head) << c->error();
  EXPECT_EQ(head->result_int(), 200u);
  EXPECT_EQ((*head)[http::field::content_length], "1024");
  const std::string etag((*head)[http::field::etag]);
  ASSERT_FALSE(etag.empty());

  ASSERT_TRUE(c->Send("GET " + Url("/204") + " HTTP/1.1\r\n" + host + "\r\n"));
  auto no_content = c->ReadResponse();
  ASSERT_TRUE(no_content) << c->error();
  EXPECT_EQ(no_content->result_int(), 204u);
  EXPECT_TRUE(no_content->body().empty());

  // A 200 with Content-Length: 0 (the review of proxy9 found the proxy sent nothing at all).
  ASSERT_TRUE(c->Send("GET " + Url("/empty") + " HTTP/1.1\r\n" + host + "\r\n"));
  auto empty = c->ReadResponse();
  ASSERT_TRUE(empty) << c->error();
  EXPECT_EQ(empty->result_int(), 200u);
  EXPECT_EQ((*empty)[http::field::content_length], "0");
  EXPECT_TRUE(empty->body().empty());

  ASSERT_TRUE(c->Send("GET " + Url("/1k.bin") + " HTTP/1.1\r\n" + host + "If-None-Match: " + etag +
                      "\r\n\r\n"));
  auto not_modified = c->ReadResponse();
  ASSERT_TRUE(not_modified) << c->error();
  EXPECT_EQ(not_modified->result_int(), 304u);
  EXPECT_TRUE(not_modified->body().empty());

  ASSERT_TRUE(c->Send("GET " + Url("/1k.bin") + " HTTP/1.1\r\n" + host + "\r\n"));
  auto full = c->ReadResponse();
  ASSERT_TRUE(full) << c->error();
  EXPECT_EQ(full->result_int(), 200u);
  EXPECT_TRUE(full->body() == origin_->File("1k.bin"));
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(c->pending().empty()) << "stray bytes after the responses: " << c->pending().size();
}

// ---- a header larger than the kernel takes at once ----------------------------------------
//
// The proxy writes a header with a non-waiting send first and awaits only what the kernel did not
// take. Before 80f2f03 a header taken only in part then went out again from its first byte (the
// part already sent was not consumed from the serializer): a peer with a small receive buffer
// that reads late got the start of the header twice. These tests are such peers, in both
// directions, with a header of 300 KB (far more than a socket's send buffer holds at first) in
// six fields of 50 KiB (a field of Beast's holds less than 64 KiB).

constexpr uint16_t kSlowPeerPort = 8081;  // the test's own origin (nginx has kOriginPort)
constexpr int kSmallReceiveBuffer = 4096;
constexpr auto kReadLate = 500ms;  // the peer reads nothing for this long

constexpr int kBigFields = 6;

// The value of field X-Big-<k>: 50 KiB whose bytes depend on their position and on k, so a
// repeated or misplaced part shows.
std::string BigFieldValue(int k) {
  std::string v(50 * 1024, ' ');
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>('a' + (i + i / 26 + k) % 26);
  return v;
}

// The fields X-Big-0 … X-Big-5, each line ending in CRLF.
std::string BigFields() {
  std::string lines;
  for (int k = 0; k < kBigFields; ++k)
    lines += "X-Big-" + std::to_string(k) + ": " + BigFieldValue(k) + "\r\n";
  return lines;
}

// A TCP socket whose receive buffer is `bytes` and whose segments are small, both set before
// connect or listen (accepted sockets inherit them): the window it offers is small from the start,
// and the small MSS it announces keeps the peer's send buffer small too — Linux sizes a new
// connection's send buffer by its MSS, and loopback's 64 KiB MSS would give it megabytes, enough
// to take any header at once. -1 on failure.
int SlowPeerSocket(int bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int mss = 1000;
  if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0 ||
                  setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

// The smallest receive buffer the kernel gives (it rounds 1 up to its minimum, ~2 KiB): an
// error page cannot all be in flight to a client that is not reading.
constexpr int kTinyReceiveBuffer = 1;
// A client that keeps sending after its request was refused: 1 KiB every kDripEvery, for
// kDripPieces pieces (2.5 s, longer than the 2 s the intercepted leg's close waited for the
// terminal's close_notify before proxy15).
constexpr int kDripPieces = 125;
constexpr auto kDripEvery = 20ms;

// The whole response in `got` (what a client read until the close), or nullopt when it is not
// all there (a page cut by a reset).
std::optional<Response> WholeResponse(const std::string& got) {
  http::response_parser<http::string_body> p;
  p.eager(true);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(got), ec);
  if (!p.is_done()) return std::nullopt;
  return p.release();
}

bool BindTo(int fd, const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  return inet_pton(AF_INET, ip.c_str(), &a.sin_addr) == 1 &&
         bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

// A terminal (127.10.0.5) connected to the proxy at `proxy_ip` through a SlowPeerSocket of
// `receive_buffer` bytes (what the proxy sends waits in its own send buffer until it is read),
// reads waiting at most `read_timeout` (none: 0); -1 with *error ("socket: …", "connect: …").
int ConnectSlowPeer(const std::string& proxy_ip, int receive_buffer,
                    std::chrono::seconds read_timeout, std::string* error) {
  const int fd = SlowPeerSocket(receive_buffer);
  if (fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  sockaddr_in proxy{};
  proxy.sin_family = AF_INET;
  proxy.sin_port = htons(kProxyPort);
  inet_pton(AF_INET, proxy_ip.c_str(), &proxy.sin_addr);
  if (read_timeout.count() > 0) {
    const timeval timeout{static_cast<time_t>(read_timeout.count()), 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  if (!BindTo(fd, "127.10.0.5", 0) ||
      connect(fd, reinterpret_cast<sockaddr*>(&proxy), sizeof proxy) != 0) {
    *error = std::string("connect: ") + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

// Reads from `fd` until the bytes read hold a blank line (the end of a header), then for as long
// as more bytes keep coming within 300 ms (a header sent twice would bring more); at most 4 MiB
// and 15 s. The bytes, or an error text starting with "error: ".
std::string ReadHeaderBytes(int fd) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  bool ended = false;
  while (got.size() < (4u << 20)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!ended && left.count() <= 0) return "error: no complete header in 15 s";
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, ended ? 300 : static_cast<int>(left.count())) != 1) {
      if (ended) return got;
      continue;
    }
    char buf[65536];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) return std::string("error: recv: ") + strerror(errno);
    if (n == 0) return ended ? got : "error: closed before the end of the header";
    got.append(buf, static_cast<size_t>(n));
    ended = got.find("\r\n\r\n") != std::string::npos;
  }
  return "error: more than 4 MiB";
}

// Empty when `bytes` is exactly one header (nothing before or after it) with the fields of
// BigFields() once each; what is wrong otherwise.
template <bool isRequest>
std::string OneHeaderWithBigFields(const std::string& bytes) {
  if (bytes.starts_with("error: ")) return bytes;
  http::parser<isRequest, http::empty_body> p;
  p.header_limit(8u << 20);
  p.eager(true);
  if constexpr (!isRequest) p.skip(true);  // the answer to a HEAD
  boost::system::error_code ec;
  const size_t used = p.put(boost::asio::buffer(bytes), ec);
  if (ec)
    return "not one valid header (" + ec.message() + ") in " + std::to_string(bytes.size()) +
           " bytes";
  if (!p.is_header_done()) return "an incomplete header";
  if (used != bytes.size())
    return std::to_string(bytes.size() - used) + " bytes after the header of " +
           std::to_string(used);
  const auto& fields = p.get().base();
  for (int k = 0; k < kBigFields; ++k) {
    const std::string name = "X-Big-" + std::to_string(k);
    const auto count = std::count_if(fields.begin(), fields.end(),
                                     [&](const auto& f) { return f.name_string() == name; });
    if (count != 1) return std::to_string(count) + " " + name + " fields, not 1";
    const std::string got(fields[name]);
    const std::string sent = BigFieldValue(k);
    if (got != sent) {
      const auto at = std::mismatch(got.begin(), got.end(), sent.begin(), sent.end());
      return name + " differs from what was sent at byte " +
             std::to_string(at.first - got.begin()) + " (" + std::to_string(got.size()) +
             " bytes, " + std::to_string(sent.size()) + " sent)";
    }
  }
  return "";
}

class ProxyBigHeaderTest : public ProxyTest {
 protected:
  void StartProxyTakingBigHeaders() {
    std::string config = Config();
    const std::string limit = "max_header_size: 8192";
    config.replace(config.find(limit), limit.size(), "max_header_size: 1048576");
    ProxyFixture::StartProxy(config);
  }
  std::string SlowPeerUrl(const std::string& path) const {
    return std::string("http://") + kOriginName + ":" + std::to_string(kSlowPeerPort) + path;
  }
  std::string SlowPeerHost() const {
    return std::string("Host: ") + kOriginName + ":" + std::to_string(kSlowPeerPort) + "\r\n";
  }
  // The test's origin on origin_ip_:kSlowPeerPort: accepts one connection (within 15 s) and runs
  // `serve` on it on a thread of its own — `connections` of them, one after the other. `serve`
  // may use the members below: the thread is joined before they go (it is declared after them).
  void StartSlowPeerOrigin(int receive_buffer, std::function<void(int)> serve,
                           int connections = 1) {
    const int lfd = SlowPeerSocket(receive_buffer);
    ASSERT_GE(lfd, 0) << strerror(errno);
    const int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!BindTo(lfd, origin_ip_, kSlowPeerPort) || listen(lfd, 4) != 0) {
      const int err = errno;
      close(lfd);
      FAIL() << origin_ip_ << ":" << kSlowPeerPort << ": " << strerror(err);
    }
    origin_thread_ = std::jthread([lfd, serve = std::move(serve), connections] {
      for (int i = 0; i < connections; ++i) {
        pollfd pfd{lfd, POLLIN, 0};
        const int fd =
            poll(&pfd, 1, 15000) == 1 ? accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC) : -1;
        if (fd < 0) break;
        serve(fd);
        close(fd);
      }
      close(lfd);
    });
  }

  // What a client gets for a GET of `path` from the test's origin, which reads the request's
  // header and answers `response` (128 KiB of receive buffer).
  std::optional<Response> AnswerOfSlowPeer(const std::string& path, const std::string& response) {
    StartSlowPeerOrigin(128 * 1024, [this, response](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      SendAll(fd, response);
    });
    if (!origin_thread_.joinable()) return std::nullopt;
    auto c = Raw();
    std::optional<Response> r;
    if (c->Send("GET " + SlowPeerUrl(path) + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"))
      r = c->ReadResponse();
    origin_thread_.join();
    return r;
  }

  const std::string big_fields_ = BigFields();
  std::string origin_read_;  // what the origin read, written by its thread
  std::jthread origin_thread_;
};

TEST_F(ProxyBigHeaderTest, ARequestHeaderTheOriginReadsLateGoesOutOnce) {
  StartProxyTakingBigHeaders();
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(kSmallReceiveBuffer, [this](int fd) {
    std::this_thread::sleep_for(kReadLate);  // the proxy's send fills the small window meanwhile
    origin_read_ = ReadHeaderBytes(fd);
    const std::string_view res =
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    SendAll(fd, res);
  }));
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + SlowPeerUrl("/big-request") + " HTTP/1.1\r\n" + SlowPeerHost() +
                      big_fields_ + "\r\n"))
      << c->error();
  auto r = c->ReadResponse();
  origin_thread_.join();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), "ok");
  EXPECT_EQ(OneHeaderWithBigFields<true>(origin_read_), "");
  ExpectStillServes();
}

TEST_F(ProxyBigHeaderTest, AResponseHeaderTheClientReadsLateGoesOutOnce) {
  StartProxyTakingBigHeaders();
  // A HEAD's answer is a header alone, which the proxy writes as such.
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(64 * 1024, [this](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    const std::string res =
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n" + big_fields_ + "\r\n";
    SendAll(fd, res);
  }));
  std::string error;
  const int fd = ConnectSlowPeer(ip_, kSmallReceiveBuffer, 0s, &error);
  ASSERT_GE(fd, 0) << error;
  const std::string req =
      "HEAD " + SlowPeerUrl("/big-response") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n";
  const bool sent =
      send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  std::this_thread::sleep_for(kReadLate);  // the proxy's send fills the small window meanwhile
  const std::string at_client = sent ? ReadHeaderBytes(fd) : "error: the request was not sent";
  close(fd);
  origin_thread_.join();
  EXPECT_THAT(origin_read_, HasSubstr("HEAD /big-response HTTP/1.1\r\n"));
  EXPECT_EQ(OneHeaderWithBigFields<false>(at_client), "");
  ExpectStillServes();
}

// A field longer than Beast's fields can hold (64 KiB) within a larger max_header_size: Beast
// threw from inside the read's handler and the worker stopped ("worker stopped: field value too
// large"); now the request is refused as an oversized header is, and an origin's response with
// such a field is a 502.
TEST_F(ProxyBigHeaderTest, AFieldOfMoreThan64KiBIsRefusedInBothDirections) {
  StartProxyTakingBigHeaders();
  const std::string long_value(70 * 1024, 'v');
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + Url("/1k.bin?long-field") +
                      " HTTP/1.1\r\nHost: x\r\nX-Long: " + long_value + "\r\n\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 431u);
  const auto r2 = AnswerOfSlowPeer("/long-response-field",
                                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Long: " + long_value +
                                       "\r\nConnection: close\r\n\r\nok");
  ASSERT_TRUE(r2) << "no response";
  EXPECT_EQ(r2->result_int(), 502u);
  // Still served, on either of the fixture's two workers (SO_REUSEPORT spreads connections).
  for (int i = 0; i < 4; ++i) ExpectStillServes();
  EXPECT_THAT(ProxyOutput(), ::testing::Not(HasSubstr("worker stopped")));
}

// A Via the parser let through (65,520 bytes, under the 65,533 a field may hold) to which the
// proxy's own entry is added: Beast's fields::set threw "field value too large" out of the
// session, and the client was dropped with no answer and no access event. Now the request is
// refused with a 431 and an origin's response with such a Via is a 502, each with its event.
TEST_F(ProxyBigHeaderTest, AViaTheProxysEntryWouldOverfillIsRefusedInBothDirections) {
  StartProxyTakingBigHeaders();
  const std::string long_via(65520, 'v');
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + Url("/1k.bin?long-via") +
                      " HTTP/1.1\r\nHost: x\r\nVia: " + long_via + "\r\n\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 431u);
  json::object e = EventFor(Url("/1k.bin?long-via"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 431);
  EXPECT_THAT(Str(e, "seccloud.verdict.reason"), HasSubstr("Via"));

  const auto r2 = AnswerOfSlowPeer("/long-via-response",
                                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nVia: " + long_via +
                                       "\r\nConnection: close\r\n\r\nok");
  ASSERT_TRUE(r2) << "no response";
  EXPECT_EQ(r2->result_int(), 502u);
  json::object e2 = EventFor(SlowPeerUrl("/long-via-response"));
  EXPECT_EQ(Int(e2, "http.response.status_code"), 502);
  EXPECT_THAT(Str(e2, "error.message"), HasSubstr("Via"));
  for (int i = 0; i < 4; ++i) ExpectStillServes();
  EXPECT_THAT(ProxyOutput(), ::testing::Not(HasSubstr("worker stopped")));
  EXPECT_THAT(ProxyOutput(), ::testing::Not(HasSubstr("field value too large")));
}

// One field too long for Beast's fields is told apart from a header too large as a whole.
TEST_F(ProxyBigHeaderTest, ALongFieldIsLoggedAsSuch) {
  StartProxyTakingBigHeaders();
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + Url("/1k.bin?one-long-field") + " HTTP/1.1\r\nHost: x\r\nX-Long: " +
                      std::string(70 * 1024, 'v') + "\r\n\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 431u);
  // A header that was not read whole has no URL in its event: found by its reason.
  const std::string reason = "a header field longer than 65,533 bytes";
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : Events())
          if (Str(e, "seccloud.verdict.reason") == reason) return true;
        return false;
      },
      10s))
      << DescribeEvents();
  for (const auto& e : Events())
    EXPECT_NE(Str(e, "seccloud.verdict.reason"), "the request header is larger than allowed");
}

// A chunked request body whose trailer is `trailer` (field lines, each ending in CRLF).
std::string ChunkedPostWithTrailer(const std::string& url, const std::string& trailer) {
  return "POST " + url + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
         "5\r\nhello\r\n0\r\n" + trailer + "\r\n";
}

// Beast 1.81 passes trailer fields through on_field_impl without its header_limit: with the
// DEFAULT config (no max_header_size above 64 KiB) a 70 KiB trailer field threw inside the body
// relay's read, out of the worker. Trailers as a whole had no bound at all.
TEST_F(ProxyTest, TrailersTooLongAreRefusedWithTheDefaultConfig) {
  std::string config = Config();  // without max_header_size: the default, 64 KiB
  const std::string limit = "  max_header_size: 8192\n";
  ASSERT_NE(config.find(limit), std::string::npos);
  config.erase(config.find(limit), limit.size());
  ProxyFixture::StartProxy(config);
  {
    auto c = Raw();
    ASSERT_TRUE(c->Send(ChunkedPostWithTrailer(
        Url("/upload?long-trailer-field"), "X-Trailer: " + std::string(70 * 1024, 't') + "\r\n")));
    auto r = c->ReadResponse();
    ASSERT_TRUE(r) << c->error();
    EXPECT_EQ(r->result_int(), 431u);
    json::object e = EventFor(Url("/upload?long-trailer-field"));
    EXPECT_EQ(Int(e, "http.response.status_code"), 431);
    EXPECT_THAT(Str(e, "error.message"), HasSubstr("trailer"));
  }
  {
    // 400 KiB of short trailer fields, each well within the limit.
    std::string trailer;
    for (int i = 0; trailer.size() < 400 * 1024; ++i)
      trailer += "X-T" + std::to_string(i) + ": " + std::string(1000, 'a' + i % 26) + "\r\n";
    auto c = Raw();
    ASSERT_TRUE(c->Send(ChunkedPostWithTrailer(Url("/upload?many-trailer-fields"), trailer)));
    auto r = c->ReadResponse();
    ASSERT_TRUE(r) << c->error();
    EXPECT_EQ(r->result_int(), 431u);
    json::object e = EventFor(Url("/upload?many-trailer-fields"));
    EXPECT_THAT(Str(e, "error.message"),
                HasSubstr("trailer fields are larger than max_header_size"));
  }
  {
    // Within the limit, trailers are no reason to refuse.
    auto c = Raw();
    ASSERT_TRUE(c->Send(ChunkedPostWithTrailer(Url("/upload?short-trailer"), "X-Sum: 1234\r\n")));
    auto r = c->ReadResponse();
    ASSERT_TRUE(r) << c->error();
    EXPECT_EQ(r->result_int(), 200u);
  }
  for (int i = 0; i < 4; ++i) ExpectStillServes();
  EXPECT_THAT(ProxyOutput(), ::testing::Not(HasSubstr("worker stopped")));
}

// timeouts.upstream_header is kept on a plain upstream by one watch per client connection
// (ReadWatch), not by Beast's timer per read: an origin that never answers still gets its 504
// at the deadline — not before it, also on a pooled connection after an answered request whose
// watch was still armed for an earlier deadline — and the event says why.
TEST_F(ProxyBigHeaderTest, AnOriginThatNeverAnswersTimesOutAtTheDeadline) {
  std::string config = Config();
  ASSERT_TRUE(WithTimeouts(config, "upstream_header: 1500ms"));
  ProxyFixture::StartProxy(config);
  // Shared: the origin thread may outlive this body when an assertion returns early.
  auto origin_saw_close = std::make_shared<std::atomic<bool>>(false);
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(64 * 1024, [this, origin_saw_close](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    origin_read_ += ReadHeaderBytes(fd);  // the second request, never answered
    pollfd pfd{fd, POLLIN, 0};
    char c;
    *origin_saw_close = poll(&pfd, 1, 15000) == 1 && recv(fd, &c, 1, 0) <= 0;
  }));
  auto c = Raw();
  ASSERT_TRUE(
      c->Send("GET " + SlowPeerUrl("/answered") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 200u);
  std::this_thread::sleep_for(1s);  // within the first read's span: its watch is still armed
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      c->Send("GET " + SlowPeerUrl("/never-answered") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
  auto r2 = c->ReadResponse(false, 20s);
  const auto waited = std::chrono::steady_clock::now() - sent;
  origin_thread_.join();
  ASSERT_TRUE(r2) << c->error();
  EXPECT_EQ(r2->result_int(), 504u);
  EXPECT_GE(waited, 1400ms) << "the 504 came before the deadline";
  EXPECT_LT(waited, 15s);
  EXPECT_THAT(origin_read_, HasSubstr("GET /never-answered HTTP/1.1"));
  EXPECT_TRUE(*origin_saw_close) << "the proxy kept the unanswered upstream connection open";
  json::object e = EventFor(SlowPeerUrl("/never-answered"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 504);
  EXPECT_EQ(Str(e, "error.message"), "the upstream sent no response in time");
  for (int i = 0; i < 4; ++i) ExpectStillServes();
}

// An origin that answers with an interim response (103 Early Hints) every 400 ms and never with a
// final one. Before stop 17 each interim response started the wait for the header again, so the
// exchange never ended while the origin kept sending them; one deadline now covers them all (R3:
// a deadline on every stage).
TEST_F(ProxyBigHeaderTest, InterimResponsesDoNotExtendTheHeaderDeadline) {
  std::string config = Config();
  ASSERT_TRUE(WithTimeouts(config, "upstream_header: 1500ms"));
  ProxyFixture::StartProxy(config);
  // Shared: the origin thread may outlive this body when an assertion returns early.
  auto origin_saw_close = std::make_shared<std::atomic<bool>>(false);
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(64 * 1024, [this, origin_saw_close](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    const std::string hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
    for (int i = 0; i < 50; ++i) {  // 20 s at most
      if (::send(fd, hints.data(), hints.size(), MSG_NOSIGNAL) <= 0) break;
      pollfd pfd{fd, POLLIN, 0};
      char c;
      if (poll(&pfd, 1, 400) == 1 && recv(fd, &c, 1, 0) <= 0) {
        *origin_saw_close = true;
        return;
      }
    }
  }));
  auto c = Raw();
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      c->Send("GET " + SlowPeerUrl("/hints-forever") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
  unsigned status = 0;
  int interim = 0;
  while (true) {
    auto r = c->ReadResponse(false, 30s);
    ASSERT_TRUE(r) << c->error();
    status = r->result_int();
    if (status != 103) break;
    ++interim;
  }
  const auto waited = std::chrono::steady_clock::now() - sent;
  origin_thread_.join();
  EXPECT_EQ(status, 504u);
  EXPECT_GE(interim, 1) << "the interim responses reach the client";
  EXPECT_GE(waited, 1400ms) << "the 504 came before the deadline";
  EXPECT_LT(waited, 10s) << "each interim response started the wait again";
  EXPECT_TRUE(*origin_saw_close) << "the proxy kept the upstream connection open";
  json::object e = EventFor(SlowPeerUrl("/hints-forever"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 504);
  EXPECT_EQ(Str(e, "error.message"), "the upstream sent no response in time");
  for (int i = 0; i < 2; ++i) ExpectStillServes();
}

// An origin that sends interim responses without end, quickly (within the header's deadline):
// the proxy passes on 16 and then answers 502, the event says why, and it drops the upstream
// connection. Before the cap all of them went to the client (40 here) and the final 200 too.
TEST_F(ProxyBigHeaderTest, InterimResponsesPastTheCapEndTheExchangeWith502) {
  ProxyFixture::StartProxy(Config());
  auto origin_saw_close = std::make_shared<std::atomic<bool>>(false);
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(64 * 1024, [this, origin_saw_close](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    const std::string hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
    std::string all;
    for (int i = 0; i < 40; ++i) all += hints;
    SendAll(fd, all + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    pollfd pfd{fd, POLLIN, 0};
    char c;
    *origin_saw_close = poll(&pfd, 1, 5000) == 1 && recv(fd, &c, 1, 0) <= 0;
  }));
  auto c = Raw();
  ASSERT_TRUE(
      c->Send("GET " + SlowPeerUrl("/hints-many") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
  unsigned status = 0;
  int interim = 0;
  while (true) {
    auto r = c->ReadResponse(false, 15s);
    ASSERT_TRUE(r) << c->error();
    status = r->result_int();
    if (status != 103) break;
    ++interim;
  }
  origin_thread_.join();
  EXPECT_EQ(interim, 16);
  EXPECT_EQ(status, 502u);
  EXPECT_TRUE(*origin_saw_close) << "the proxy kept the upstream connection open";
  json::object e = EventFor(SlowPeerUrl("/hints-many"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 502);
  EXPECT_EQ(Str(e, "error.message"), "the upstream sent more than 16 interim (1xx) responses");
  for (int i = 0; i < 2; ++i) ExpectStillServes();
}

// A client that is gone when its interim response is written: the proxy stops there, says so in
// the event and drops the upstream connection without waiting for the final response. Before,
// the write's error was ignored and the proxy waited for the origin's final response (here held
// back 3 s) only to fail writing that too.
TEST_F(ProxyBigHeaderTest, AnInterimResponseTheClientCannotTakeEndsTheExchange) {
  ProxyFixture::StartProxy(Config());
  auto origin_saw_close = std::make_shared<std::atomic<bool>>(false);
  auto client_gone = std::make_shared<std::atomic<bool>>(false);
  ASSERT_NO_FATAL_FAILURE(
      StartSlowPeerOrigin(64 * 1024, [this, origin_saw_close, client_gone](int fd) {
        origin_read_ = ReadHeaderBytes(fd);
        for (int i = 0; i < 100 && !*client_gone; ++i) std::this_thread::sleep_for(20ms);
        std::this_thread::sleep_for(200ms);  // the reset reaches the proxy's socket
        SendAll(fd, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
        pollfd pfd{fd, POLLIN, 0};
        char c;
        *origin_saw_close = poll(&pfd, 1, 3000) == 1 && recv(fd, &c, 1, 0) <= 0;
        SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      }));
  {
    auto c = Raw();
    ASSERT_TRUE(
        c->Send("GET " + SlowPeerUrl("/hints-gone") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    std::this_thread::sleep_for(300ms);  // the request reaches the origin
    c->Reset();                          // an RST: the proxy's next write fails at once
    *client_gone = true;
  }
  origin_thread_.join();
  EXPECT_TRUE(*origin_saw_close) << "the proxy waited for the final response";
  json::object e = EventFor(SlowPeerUrl("/hints-gone"));
  // No final response and no interim one reached the client: no status (before proxy13 the
  // event said 103, the status of the write that failed).
  EXPECT_EQ(Str(e, "http.response.status_code"), "<absent>");
  EXPECT_THAT(Str(e, "error.message"),
              HasSubstr("the exchange ended without a final response: writing an interim (103) "
                        "response to the client failed: "));
  for (int i = 0; i < 2; ++i) ExpectStillServes();
}

// The cap on interim responses is one per exchange: an origin that sends 10 interim responses
// on a pooled connection and closes is not asked again on a fresh one (it had the request; a
// retry would send it twice and pass up to twice the cap). Before proxy13 the proxy retried and
// the client got 10 + 10 interim responses and the second connection's 200.
TEST_F(ProxyBigHeaderTest, AnExchangeWithInterimResponsesIsNotRetriedOnAFreshConnection) {
  ProxyFixture::StartProxy(Config());
  auto served = std::make_shared<std::atomic<int>>(0);
  const std::string hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += hints;
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(
      64 * 1024,
      [this, served, ten](int fd) {
        if (++*served == 1) {
          // The first connection answers one request (it goes back to the pool), then sends
          // the second request 10 interim responses and closes.
          origin_read_ = ReadHeaderBytes(fd);
          SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          origin_read_ += ReadHeaderBytes(fd);
          SendAll(fd, ten);
        } else {
          origin_read_ += ReadHeaderBytes(fd);  // a retry
          SendAll(fd, ten + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
      },
      2));
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + SlowPeerUrl("/pooled") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 200u);
  ASSERT_TRUE(c->Send("GET " + SlowPeerUrl("/hints-then-close") + " HTTP/1.1\r\n" + SlowPeerHost() +
                      "\r\n"));
  unsigned status = 0;
  int interim = 0;
  while (true) {
    auto r2 = c->ReadResponse(false, 15s);
    ASSERT_TRUE(r2) << c->error();
    status = r2->result_int();
    if (status != 103) break;
    ++interim;
  }
  EXPECT_EQ(interim, 10);
  EXPECT_EQ(status, 502u);
  json::object e = EventFor(SlowPeerUrl("/hints-then-close"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 502);
  EXPECT_EQ(Str(e, "error.message"),
            "the upstream closed the connection after 10 interim (1xx) responses, before a final "
            "one");
  c.reset();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(*served, 1) << "the request was sent again on a fresh connection";
  // The origin's thread waits for a second connection: one that closes at once ends it.
  if (*served == 1) {
    std::string error;
    const int fd = integration::ConnectFrom("127.10.0.5", origin_ip_, kSlowPeerPort, &error);
    if (fd >= 0) close(fd);
  }
  origin_thread_.join();
  for (int i = 0; i < 2; ++i) ExpectStillServes();
}

// A body the origin cut short (its Content-Length, or chunked without the last chunk) towards an
// HTTP/1.0 client: the access event says it was cut. The client sees the sized cut by its
// Content-Length (fewer bytes than promised); the chunked one is de-chunked for it and read to
// the close, the cut invisible to it (before proxyfix12 it got nothing at all: the relay held
// the first chunk that came with the header).
TEST_F(ProxyBigHeaderTest, ABodyCutShortForAnHttp10ClientIsSaidCutInTheEvent) {
  ProxyFixture::StartProxy(Config());
  struct Case {
    std::string path;
    std::string response;
    std::string length;  // the Content-Length the client is told, "" for none
    std::string body;    // what the client reads to the close
    std::string why;     // the event's error.message after "... from the origin failed: "
  };
  const std::vector<Case> cases = {
      {"/cut-sized-10",
       "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(30000, 'x'), "100000",
       std::string(30000, 'x'),
       "the origin closed the connection after 30000 of 100000 body bytes"},
      {"/cut-chunked-10",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n", "",
       "0123456789abcdef",
       "the origin closed the connection after 16 body bytes, before the chunked body's end"},
  };
  for (const auto& [path, response, length, body, why] : cases) {
    SCOPED_TRACE(path);
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this, response](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      SendAll(fd, response);
    }));
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl(path) + " HTTP/1.0\r\n" + SlowPeerHost() + "\r\n"));
    EXPECT_TRUE(c->WaitClosed(15s)) << c->error();
    origin_thread_.join();
    // The client's bytes: the header, then the body as far as it came, then the close.
    const std::string& got = c->pending();
    const size_t end = got.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << "no header in: " << got.substr(0, 200);
    const std::string header = got.substr(0, end + 2);
    EXPECT_TRUE(header.starts_with("HTTP/1.0 200 OK\r\n") ||
                header.starts_with("HTTP/1.1 200 OK\r\n"))
        << header;
    EXPECT_THAT(header, ::testing::Not(HasSubstr("chunked"))) << "chunked to an HTTP/1.0 client";
    if (length.empty())
      EXPECT_THAT(header, ::testing::Not(HasSubstr("Content-Length"))) << header;
    else
      EXPECT_THAT(header, HasSubstr("Content-Length: " + length + "\r\n")) << header;
    EXPECT_EQ(got.substr(end + 4), body);
    json::object e = EventFor(SlowPeerUrl(path));
    // One text names the cut on both paths (ProxySlowInterceptedPeerTest.ABodyCutShortIsSaidSo
    // has the TLS one); before proxy13 the sized cut read "End of file" here and "stream
    // truncated" on TLS.
    EXPECT_EQ(Str(e, "error.message"), "reading the response body from the origin failed: " + why);
  }
}

// A streamed chunked response (server-sent events, long polling): the first chunk came with the
// header and goes out at once, not after the origin's next chunk 3 s later (before proxyfix12
// the relay held it until its buffer filled or the message ended).
TEST_F(ProxyBigHeaderTest, AStreamedChunkedResponsesFirstChunkGoesOutBeforeTheRest) {
  ProxyFixture::StartProxy(Config());
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    std::this_thread::sleep_for(3s);
    SendAll(fd, "6\r\n world\r\n0\r\n\r\n");
  }));
  auto c = Raw();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->Send("GET " + SlowPeerUrl("/stream") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
  EXPECT_TRUE(c->WaitFor("hello", 1500ms))
      << c->error() << " after " << c->pending().size() << " bytes: " << c->pending();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  auto r = c->ReadResponse(false, 15s);
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), "hello world");
  origin_thread_.join();
  json::object e = EventFor(SlowPeerUrl("/stream"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 200);
  EXPECT_EQ(Str(e, "error.message"), "<absent>");
}

// A response header that comes alone, its body 3 s later (server-sent events, long polling, a
// slow generator): the client has the header at once — for a chunked, an until-close and a
// sized body — and then the body. Before proxy13 the header waited for the first body bytes
// (the serializer of a buffer_body without data writes nothing, not even the header).
TEST_F(ProxyBigHeaderTest, AResponseHeaderThatComesAloneGoesOutAtOnce) {
  ProxyFixture::StartProxy(Config());
  struct Case {
    std::string path;
    std::string header;  // the origin sends this, waits 3 s, sends `body` and closes
    std::string body;
  };
  const std::vector<Case> cases = {
      {"/alone-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       "5\r\nhello\r\n0\r\n\r\n"},
      {"/alone-until-close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "hello"},
      {"/alone-sized", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "hello"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.path);
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this, k](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      SendAll(fd, k.header);
      std::this_thread::sleep_for(3s);
      SendAll(fd, k.body);
    }));
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl(k.path) + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    const auto sent = std::chrono::steady_clock::now();
    // The origin answers ~0.3 s after the request (ReadHeaderBytes waits for more bytes).
    EXPECT_TRUE(c->WaitFor("\r\n\r\n", 1500ms))
        << c->error() << " after " << c->pending().size() << " bytes: " << c->pending();
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 2s) << "the header waited for the body";
    EXPECT_THAT(c->pending(), ::testing::Not(HasSubstr("hello")));
    auto r = c->ReadResponse(false, 15s);
    origin_thread_.join();
    ASSERT_TRUE(r) << c->error();
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_EQ(r->body(), "hello");
    json::object e = EventFor(SlowPeerUrl(k.path));
    EXPECT_EQ(Int(e, "http.response.status_code"), 200);
    EXPECT_EQ(Str(e, "error.message"), "<absent>");
  }
  for (int i = 0; i < 2; ++i) ExpectStillServes();
}

// A streamed chunk that comes after a header that came alone, with its closing CRLF and nothing
// more, goes out at once; and when the origin then closes, the client has it and the event counts
// it. Before the review of proxy13 Beast's eager parse (left on by the buffered read) read on for
// the next chunk's size line: the chunk waited for the origin's next one, was lost when none came,
// and the event said the origin had sent nothing of the body.
TEST_F(ProxyBigHeaderTest, AStreamedChunkAfterAHeaderAloneGoesOutAtOnce) {
  ProxyFixture::StartProxy(Config());
  {
    SCOPED_TRACE("streamed");
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      std::this_thread::sleep_for(1s);
      SendAll(fd, "5\r\nhello\r\n");
      std::this_thread::sleep_for(3s);
      SendAll(fd, "6\r\n world\r\n0\r\n\r\n");
    }));
    auto c = Raw();
    const auto sent = std::chrono::steady_clock::now();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl("/sse") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    // The origin answers ~0.3 s after the request, the chunk 1 s later; the next one 3 s after.
    EXPECT_TRUE(c->WaitFor("hello", 2500ms))
        << c->error() << " after " << c->pending().size() << " bytes: " << c->pending();
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 3s) << "the chunk waited for the next one";
    auto r = c->ReadResponse(false, 15s);
    origin_thread_.join();
    ASSERT_TRUE(r) << c->error();
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_EQ(r->body(), "hello world");
    json::object e = EventFor(SlowPeerUrl("/sse"));
    EXPECT_EQ(Str(e, "error.message"), "<absent>");
  }
  {
    SCOPED_TRACE("cut after the chunk");
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      std::this_thread::sleep_for(1s);
      SendAll(fd, "5\r\nhello\r\n");
    }));
    auto c = Raw();
    ASSERT_TRUE(
        c->Send("GET " + SlowPeerUrl("/sse-cut") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    EXPECT_TRUE(c->WaitClosed(15s)) << c->error();
    origin_thread_.join();
    http::response_parser<http::string_body> p;
    p.eager(true);
    boost::system::error_code ec;
    p.put(boost::asio::buffer(c->pending()), ec);
    ASSERT_TRUE(p.is_header_done()) << ec.message() << " in: " << c->pending();
    EXPECT_EQ(p.get().body(), "hello");
    EXPECT_FALSE(p.is_done()) << "the response ended as if whole: " << c->pending();
    json::object e = EventFor(SlowPeerUrl("/sse-cut"));
    EXPECT_EQ(Str(e, "error.message"),
              "reading the response body from the origin failed: the origin closed the connection "
              "after 5 body bytes, before the chunked body's end");
  }
  for (int i = 0; i < 2; ++i) ExpectStillServes();
}

// An origin that sends the header and one chunk and closes: the client gets the header and the
// chunk, then the connection is cut without the last chunk; the event says why (before
// proxyfix12 the client got nothing at all and the event said 200 with no error).
TEST_F(ProxyBigHeaderTest, AChunkedResponseCutAfterItsFirstChunkReachesTheClientCut) {
  ProxyFixture::StartProxy(Config());
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  }));
  auto c = Raw();
  ASSERT_TRUE(
      c->Send("GET " + SlowPeerUrl("/cut-chunked") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
  EXPECT_TRUE(c->WaitClosed(15s)) << c->error();
  origin_thread_.join();
  http::response_parser<http::string_body> p;
  p.eager(true);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(c->pending()), ec);
  ASSERT_TRUE(p.is_header_done()) << ec.message() << " in: " << c->pending();
  EXPECT_EQ(p.get().result_int(), 200u);
  EXPECT_EQ(p.get().body(), "hello");
  EXPECT_FALSE(p.is_done()) << "the response ended as if whole: " << c->pending();
  EXPECT_EQ(ec, http::error::need_more) << ec.message();
  json::object e = EventFor(SlowPeerUrl("/cut-chunked"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 200);
  EXPECT_EQ(Str(e, "error.message"),
            "reading the response body from the origin failed: the origin closed the connection "
            "after 5 body bytes, before the chunked body's end");
  for (int i = 0; i < 2; ++i) ExpectStillServes();
}

// A relay's failure names its side: a terminal that stops reading while the origin streams
// 64 KiB chunks is the client's (body_idle 1s: the write to it did not move), an origin that
// stalls mid-body (sized or chunked) is the origin's. Before proxy13 both read "the body did not
// move for timeouts.body_idle (the upstream sent none, or the client took none)".
TEST_F(ProxyBigHeaderTest, ARelaysFailureNamesTheSideThatFailed) {
  std::string config = Config();
  ASSERT_TRUE(WithTimeouts(config, "body_idle: 1s"));
  ProxyFixture::StartProxy(config);
  {
    SCOPED_TRACE("the client stops reading");
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      const timeval timeout{20, 0};  // the proxy never closing must not hang the test
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      std::ostringstream size;
      size << std::hex << 65536;
      const std::string chunk = size.str() + "\r\n" + std::string(65536, 'z') + "\r\n";
      SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (int i = 0; i < 4096; ++i) {  // 256 MiB at most: the proxy stops reading long before
        std::string_view left = chunk;
        while (!left.empty()) {
          const ssize_t n = send(fd, left.data(), left.size(), MSG_NOSIGNAL);
          if (n <= 0) return;  // the proxy closed the upstream connection
          left.remove_prefix(static_cast<size_t>(n));
        }
      }
    }));
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl("/client-stalls") + " HTTP/1.1\r\n" + SlowPeerHost() +
                        "\r\n"));
    json::object e = EventFor(SlowPeerUrl("/client-stalls"));  // the client reads nothing
    EXPECT_EQ(Int(e, "http.response.status_code"), 200);
    EXPECT_EQ(Str(e, "error.message"),
              "writing the response to the client failed: the client took nothing for "
              "timeouts.body_idle");
    c.reset();
    origin_thread_.join();
  }
  const std::vector<std::pair<std::string, std::string>> stalls = {
      {"/origin-stalls-sized", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc"},
      {"/origin-stalls-chunked",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"},
  };
  for (const auto& [path, response] : stalls) {
    SCOPED_TRACE(path);
    auto origin_saw_close = std::make_shared<std::atomic<bool>>(false);
    ASSERT_NO_FATAL_FAILURE(
        StartSlowPeerOrigin(256 * 1024, [this, response, origin_saw_close](int fd) {
          origin_read_ = ReadHeaderBytes(fd);
          SendAll(fd, response);
          pollfd pfd{fd, POLLIN, 0};
          char c;
          *origin_saw_close = poll(&pfd, 1, 10000) == 1 && recv(fd, &c, 1, 0) <= 0;
        }));
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl(path) + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    EXPECT_TRUE(c->WaitClosed(15s)) << c->error();
    origin_thread_.join();
    EXPECT_TRUE(*origin_saw_close) << "the proxy kept the stalled upstream connection";
    EXPECT_THAT(c->pending(), HasSubstr("abc")) << "what came went out before the stall";
    json::object e = EventFor(SlowPeerUrl(path));
    EXPECT_EQ(Int(e, "http.response.status_code"), 200);
    EXPECT_EQ(Str(e, "error.message"),
              "reading the response body from the origin failed: the origin sent nothing of the "
              "body for timeouts.body_idle");
  }
  for (int i = 0; i < 2; ++i) ExpectStillServes();
}

// A chunked response (until close) whose one chunk is `body` and whose trailer is `trailer`
// (field lines, each ending in CRLF).
std::string ChunkedResponseWithTrailer(const std::string& body, const std::string& trailer) {
  std::ostringstream size;
  size << std::hex << body.size();
  return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + size.str() +
         "\r\n" + body + "\r\n0\r\n" + trailer + "\r\n";
}

// 400 KiB of short trailer fields, each well within the limit.
std::string ManyTrailerFields() {
  std::string trailer;
  for (int i = 0; trailer.size() < 400 * 1024; ++i)
    trailer += "X-T" + std::to_string(i) + ": " + std::string(1000, 'a' + i % 26) + "\r\n";
  return trailer;
}

// The response side of TrailersTooLongAreRefusedWithTheDefaultConfig, from the test's own origin
// (nginx sends no trailers), with the default max_header_size. Before proxy10's mends a 70 KiB
// trailer field stopped the worker (Beast's fields threw out of io_context::run()) and 400 KiB of
// trailer fields went through unbounded (the response completed). Now: a trailer refused after
// the header and (part of) the body went out ends the response cut (no last chunk) with the
// connection closed. Since proxyfix12 that is also the short body's case: "hello" goes out as
// soon as it is read, before the trailer (larger than one read) is whole and refused — until
// then the relay held it and the client got a 502. Each access event says why, and the worker
// serves on.
TEST_F(ProxyBigHeaderTest, AResponsesTrailersTooLongAreRefusedWithTheDefaultConfig) {
  std::string config = Config();  // without max_header_size: the default, 64 KiB
  const std::string limit = "  max_header_size: 8192\n";
  ASSERT_NE(config.find(limit), std::string::npos);
  config.erase(config.find(limit), limit.size());
  ProxyFixture::StartProxy(config);
  const std::string long_field = "X-Trailer: " + std::string(70 * 1024, 't') + "\r\n";
  const std::string many_fields = ManyTrailerFields();
  struct Case {
    std::string path;
    std::string body;
    std::string trailer;
    std::string why;  // in the event's error.message
  };
  const std::vector<Case> refused = {
      {"/long-trailer-field", "hello", long_field, "a trailer field is longer than 65,533 bytes"},
      {"/many-trailer-fields", "hello", many_fields,
       "the chunked body's trailer fields are larger than max_header_size"},
  };
  for (const Case& k : refused) {
    SCOPED_TRACE(k.path);
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this, k](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      SendAll(fd, ChunkedResponseWithTrailer(k.body, k.trailer));
    }));
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl(k.path) + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    EXPECT_TRUE(c->WaitClosed(15s)) << c->error();
    origin_thread_.join();
    http::response_parser<http::string_body> p;
    p.eager(true);
    boost::system::error_code ec;
    p.put(boost::asio::buffer(c->pending()), ec);
    if (!p.is_header_done()) {  // not ASSERT: the other cases still run
      ADD_FAILURE() << "no header: " << ec.message() << " in: " << c->pending().substr(0, 200);
      continue;
    }
    EXPECT_EQ(p.get().result_int(), 200u);
    EXPECT_EQ(p.get().body(), k.body);
    EXPECT_FALSE(p.is_done()) << "the response ended as if whole";
    EXPECT_EQ(ec, http::error::need_more) << ec.message();
    json::object e = EventFor(SlowPeerUrl(k.path));
    EXPECT_EQ(Int(e, "http.response.status_code"), 200);
    EXPECT_THAT(Str(e, "error.message"), HasSubstr(k.why));
  }

  // 256 KiB of body first: the header and most of the body are out when the trailer is refused.
  std::string body(256 * 1024, ' ');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i + i / 26) % 26);
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this, body, many_fields](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    SendAll(fd, ChunkedResponseWithTrailer(body, many_fields));
  }));
  auto c = Raw();
  ASSERT_TRUE(
      c->Send("GET " + SlowPeerUrl("/cut-after-body") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
  EXPECT_TRUE(c->WaitClosed(15s)) << c->error();
  origin_thread_.join();
  http::response_parser<http::string_body> p;
  p.body_limit(8 << 20);
  p.eager(true);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(c->pending()), ec);
  ASSERT_TRUE(p.is_header_done()) << ec.message() << " in " << c->pending().size() << " bytes";
  EXPECT_EQ(p.get().result_int(), 200u);
  EXPECT_FALSE(p.is_done()) << "the response ended as if whole";
  EXPECT_EQ(ec, http::error::need_more) << ec.message();
  const std::string& got = p.get().body();
  EXPECT_GT(got.size(), 0u);
  EXPECT_LE(got.size(), body.size());
  EXPECT_TRUE(body.starts_with(got)) << "the part relayed differs from the origin's";
  json::object e = EventFor(SlowPeerUrl("/cut-after-body"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 200);
  EXPECT_THAT(Str(e, "error.message"),
              HasSubstr("the chunked body's trailer fields are larger than max_header_size"));

  for (int i = 0; i < 4; ++i) ExpectStillServes();
  EXPECT_THAT(ProxyOutput(), ::testing::Not(HasSubstr("worker stopped")));
}

// The scanning path (proxy.scan on, a body below max_size): the body is held for the scan
// before anything of the response goes to the client, so a failure of its read is answered with
// a 502 and the reason, not with the connection closed on nothing. No scand runs: none of these
// bodies is read whole, so no scan is asked for (on_error: allow lets the checks afterwards
// through unscanned). Before the mend only the refused trailers got their 502 (086b444); a bad
// chunk size and an origin closing mid-body closed the client's connection with nothing sent.
// An origin that stalls mid-body (body_idle 1s) gets a 504, the event naming the origin (before
// proxy13 it named neither side).
TEST_F(ProxyBigHeaderTest, BodyReadFailuresOnTheScanningPathAreAnswered502) {
  std::string config = ScanConfig();
  ASSERT_TRUE(WithTimeouts(config, "body_idle: 1s"));
  // The default max_header_size, 64 KiB, as in the plain path's trailer test.
  const std::string limit = "  max_header_size: 8192\n";
  ASSERT_NE(config.find(limit), std::string::npos);
  config.erase(config.find(limit), limit.size());
  ProxyFixture::StartProxy(config);
  const std::string head_chunked =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
  struct Case {
    std::string path;
    std::string response;  // the origin sends this, then closes
    std::string why;       // in the event's error.message and on the page
    unsigned status = 502;
    bool stall = false;  // the origin waits 3 s (past body_idle) before it closes
  };
  const std::vector<Case> cases = {
      {"/scan-long-trailer-field",
       ChunkedResponseWithTrailer("hello", "X-Trailer: " + std::string(70 * 1024, 't') + "\r\n"),
       "a trailer field is longer than 65,533 bytes"},
      {"/scan-many-trailer-fields", ChunkedResponseWithTrailer("hello", ManyTrailerFields()),
       "the chunked body's trailer fields are larger than max_header_size"},
      {"/scan-bad-chunk-size", head_chunked + "5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n",
       "reading the response body from the origin failed: the origin's chunked body is not valid"},
      {"/scan-closed-mid-body",
       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n" +
           std::string(30000, 'x'),
       "reading the response body from the origin failed: the origin closed the connection after "
       "30000 of 100000 body bytes"},
      {"/scan-closed-mid-chunk", head_chunked + "1000\r\n" + std::string(2000, 'y'),
       "reading the response body from the origin failed: the origin closed the connection after "
       "2000 body bytes, before the chunked body's end"},
      {"/scan-stalls",
       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nabc",
       "reading the response body from the origin failed: the origin sent nothing of the body for "
       "timeouts.body_idle",
       504, true},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.path);
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this, k](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      SendAll(fd, k.response);
      if (k.stall) std::this_thread::sleep_for(3s);
    }));
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl(k.path) + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    auto r = c->ReadResponse();
    origin_thread_.join();
    if (!r) {  // not ASSERT: the other cases still run
      ADD_FAILURE() << "no response: " << c->error();
      continue;
    }
    EXPECT_EQ(r->result_int(), k.status);
    // The page gives the reason (HTML-escaped: the part after an apostrophe is compared).
    const size_t quote = k.why.rfind('\'');
    EXPECT_THAT(r->body(), HasSubstr(quote == std::string::npos ? k.why : k.why.substr(quote + 1)));
    EXPECT_THAT(r->body(), ::testing::Not(HasSubstr("hello")));
    EXPECT_FALSE(r->keep_alive());
    json::object e = EventFor(SlowPeerUrl(k.path));
    EXPECT_EQ(Int(e, "http.response.status_code"), k.status);
    EXPECT_EQ(Str(e, "event.action"), "failed");
    EXPECT_THAT(Str(e, "error.message"), HasSubstr(k.why));
  }
  for (int i = 0; i < 2; ++i) ExpectStillServes();
  EXPECT_THAT(ProxyOutput(), ::testing::Not(HasSubstr("worker stopped")));
}

// On the plain (non-scanning) relay, a response body whose read fails before the header went
// out — a bad first chunk that came with the header, an origin that closed right after its
// header (the header and the FIN in one segment: TCP_CORK, then close) — is answered 502 with
// the reason, not a connection closed on nothing: the client has had no byte of the response.
TEST_F(ProxyBigHeaderTest, AnOriginFailingBeforeTheHeaderWentOutGets502OnThePlainRelay) {
  ProxyFixture::StartProxy(Config());
  struct Case {
    std::string path;
    std::string response;  // sent corked, then the connection is closed
    std::string why;
  };
  const std::vector<Case> cases = {
      {"/bad-first-chunk",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
       "reading the response body from the origin failed: the origin's chunked body is not valid"},
      {"/closed-before-a-sized-body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
       "reading the response body from the origin failed: the origin closed the connection after "
       "0 of 100 body bytes"},
      {"/closed-before-a-chunked-body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       "reading the response body from the origin failed: the origin closed the connection after "
       "0 body bytes, before the chunked body's end"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.path);
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this, k](int fd) {
      origin_read_ = ReadHeaderBytes(fd);
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
      SendAll(fd, k.response);
    }));  // closed after `serve`: the corked bytes go with the FIN
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl(k.path) + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    auto r = c->ReadResponse();
    origin_thread_.join();
    if (!r) {  // not ASSERT: the other cases still run
      ADD_FAILURE() << "no response: " << c->error();
      continue;
    }
    EXPECT_EQ(r->result_int(), 502u);
    EXPECT_FALSE(r->keep_alive());
    const size_t quote = k.why.rfind('\'');
    EXPECT_THAT(r->body(), HasSubstr(quote == std::string::npos ? k.why : k.why.substr(quote + 1)));
    json::object e = EventFor(SlowPeerUrl(k.path));
    EXPECT_EQ(Int(e, "http.response.status_code"), 502);
    EXPECT_THAT(Str(e, "error.message"), HasSubstr(k.why));
  }
  ExpectStillServes();
}

// A request body the client fails to deliver, on either upload path (streamed to the origin,
// or held for proxy.scan): its header and `body` go out, then the client waits (`half_close`
// false) or shuts its sending side. The status it must read, and what the event's
// error.message must say.
struct RequestBodyFailure {
  std::string name;
  std::string framing;  // the header's framing field line, CRLF-terminated
  std::string body;
  bool half_close = false;
  unsigned status = 0;
  std::string why;
};

std::vector<RequestBodyFailure> RequestBodyFailures() {
  return {
      {"stall", "Content-Length: 1000\r\n", "0123456789", false, 408,
       "the client sent nothing of the body for timeouts.body_idle"},
      {"bad-chunk", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\nzz\r\nworld\r\n", false, 400,
       "the client's chunked body is not valid"},
      {"half-close-sized", "Content-Length: 1000\r\n", "0123456789", true, 400,
       "the client closed the request body after 10 of 1000 bytes"},
      {"half-close-chunked", "Transfer-Encoding: chunked\r\n", "a\r\n0123456789\r\n", true, 400,
       "the client closed the request body after 10 bytes, before the chunked body's end"},
      {"trailer-too-large", "Transfer-Encoding: chunked\r\n",
       "5\r\nhello\r\n0\r\nX-Trailer: " + std::string(20000, 't') + "\r\n\r\n", false, 431,
       "the chunked body's trailer fields are larger than max_header_size"},
  };
}

// Sends each of RequestBodyFailures() on a connection of its own (the proxy's body_idle: 1s)
// to `url_of(name)` and checks the answer the client reads and the access event.
void ExpectRequestBodyFailuresAnswered(
    const std::function<std::unique_ptr<RawClient>()>& connect,
    const std::function<std::string(const std::string&)>& url_of,
    const std::function<json::object(const std::string&)>& event_for) {
  for (const RequestBodyFailure& k : RequestBodyFailures()) {
    SCOPED_TRACE(k.name);
    const std::string url = url_of(k.name);
    auto c = connect();
    ASSERT_TRUE(c->Send("POST " + url + " HTTP/1.1\r\nHost: www.origin.example\r\n" +
                        "Content-Type: text/plain\r\n" + k.framing + "\r\n" + k.body));
    if (k.half_close) c->ShutdownWrite();
    auto r = c->ReadResponse(false, 10s);
    if (!r) {  // not ASSERT: the other cases still run
      ADD_FAILURE() << "no response: " << c->error();
      continue;
    }
    EXPECT_EQ(r->result_int(), k.status);
    EXPECT_FALSE(r->keep_alive()) << "the page goes with Connection: close";
    json::object e = event_for(url);
    EXPECT_EQ(Int(e, "http.response.status_code"), k.status);
    EXPECT_EQ(Str(e, "event.action"), "failed");
    EXPECT_THAT(Str(e, "error.message"), HasSubstr(k.why));
  }
}

std::string WithBodyIdle1s(std::string config) {
  WithTimeouts(config, "body_idle: 1s");
  return config;
}

// ExpectRequestBodyFailuresAnswered for uploads to nginx's /upload through a proxy started with
// `config` and body_idle 1 s, which then still serves.
void ProxyTest::ExpectUploadFailuresAnswered(const std::string& config) {
  const std::string with_idle = WithBodyIdle1s(config);
  ASSERT_NE(with_idle.find("body_idle: 1s"), std::string::npos);
  ProxyFixture::StartProxy(with_idle);
  ExpectRequestBodyFailuresAnswered([this] { return Raw(); },
                                    [this](const std::string& n) { return Url("/upload?" + n); },
                                    [this](const std::string& u) { return EventFor(u); });
  ExpectStillServes();
}

// The request-body failures streamed to the origin (no scanning): a stall is answered 408
// (before proxy14 Beast's stream timer closed the socket at body_idle, so the 408 page could
// not be written: the client saw the connection closed, the event "the 408 page could not be
// written to the client"), a client that half-closes mid-body 400 (was 502), bad chunk framing
// 400, a trailer too large 431.
TEST_F(ProxyTest, RequestBodyFailuresAreAnsweredWhenStreamed) {
  ExpectUploadFailuresAnswered(Config());
}

// The same failures on the upload-scan path (the body held for proxy.scan before any upstream
// is involved) get the same answers (before proxy14 bad chunk framing and a half-close got no
// answer at all: the connection was closed).
TEST_F(ProxyTest, RequestBodyFailuresAreAnsweredWhenHeldForTheScan) {
  ExpectUploadFailuresAnswered(ScanConfig());
}

// A scanned upload's body_idle is about progress, as the streamed path's: 1 KiB every 250 ms
// (body_idle 1s) over 2 s. Before proxy15 HoldUpload's deadline covered a whole async_read,
// which reads on until its 64 KiB chunk is full or the body ends: this upload got 408 after 1 s.
TEST_F(ProxyTest, AScannedUploadSlowButSteadyIsNotCutByBodyIdle) {
  const std::string config = WithBodyIdle1s(ScanConfig());
  ASSERT_NE(config.find("body_idle: 1s"), std::string::npos);
  ProxyFixture::StartProxy(config);
  constexpr int kPieces = 8;
  const std::string url = Url("/upload?steady");
  auto c = Raw();
  ASSERT_TRUE(c->Send("POST " + url +
                      " HTTP/1.1\r\nHost: www.origin.example\r\nContent-Type: text/plain\r\n"
                      "Content-Length: " +
                      std::to_string(kPieces * 1024) + "\r\n\r\n"))
      << c->error();
  for (int i = 0; i < kPieces; ++i) {
    std::this_thread::sleep_for(250ms);
    ASSERT_TRUE(c->Send(std::string(1024, static_cast<char>('a' + i)))) << "piece " << i;
  }
  auto r = c->ReadResponse(false, 10s);
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 200u) << r->body();
  EXPECT_EQ(r->body(), std::to_string(kPieces * 1024)) << "the origin got the whole body";
  json::object e = EventFor(url);
  EXPECT_EQ(Int(e, "http.response.status_code"), 200);
  // This fixture runs no scand: on_error: allow lets the held body go on after the scan failed,
  // and the upload's scan result says it was held for the scan.
  EXPECT_EQ(Str(e, "seccloud.scan.upload.result"), "error");
  ExpectStillServes();
}

// ... but a byte per body_idle does not hold an upload (up to scan.max_size of memory) for ever:
// the hold has a deadline of its own, one body_idle plus one per 64 KiB read it may take (here
// max_size 64 KiB: 3 s). A client sending one byte every 300 ms gets 408 after ~3 s, and the
// event says why (from the review of proxy15: without it the hold lasted as long as the drip).
TEST_F(ProxyTest, AScannedUploadDrippingAByteAtATimeIsRefusedAtItsHoldDeadline) {
  const std::string config = WithBodyIdle1s(ScanConfig(65536));
  ASSERT_NE(config.find("body_idle: 1s"), std::string::npos);
  ProxyFixture::StartProxy(config);
  const std::string url = Url("/upload?drip");
  auto c = Raw();
  ASSERT_TRUE(c->Send("POST " + url +
                      " HTTP/1.1\r\nHost: www.origin.example\r\nContent-Type: text/plain\r\n"
                      "Content-Length: 2000\r\n\r\n"))
      << c->error();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 15; ++i) {  // 4.5 s of drip, each byte within body_idle of the last
    std::this_thread::sleep_for(300ms);
    if (!c->Send("x")) break;  // the proxy may have answered and shut its side already
  }
  auto r = c->ReadResponse(false, 10s);
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 408u) << r->body();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 9s);
  json::object e = EventFor(url);
  EXPECT_EQ(Int(e, "http.response.status_code"), 408);
  EXPECT_NE(Str(e, "error.message").find("took longer than 3000 ms"), std::string::npos)
      << Str(e, "error.message");
  ExpectStillServes();
}

// nginx's lingering_close: an error page answering a client that is still sending reaches it
// whole. The client (a tiny receive buffer, so most of the page waits in the proxy's send
// buffer) sends a request the proxy refuses (400: a header field without a colon), then keeps
// sending body bytes for 2.5 s before it reads. Before proxy15 the proxy closed the socket
// with the client's bytes unread: the kernel sent a RST and threw the unsent page away, and the
// client read a piece of it, then a reset.
TEST_F(ProxyTest, AnErrorPageReachesAClientThatIsStillSending) {
  StartProxy();
  std::string error;
  const int fd = ConnectSlowPeer(ip_, kTinyReceiveBuffer, 15s, &error);
  ASSERT_GE(fd, 0) << error;
  const std::string url = Url("/upload?still-sending");
  SendAll(fd, "POST " + url + " HTTP/1.1\r\nHost: www.origin.example\r\nNo Colon Here\r\n" +
                  "Content-Length: 1000000\r\n\r\n");
  const std::string piece(1024, 'b');
  for (int i = 0; i < kDripPieces; ++i) {
    SendAll(fd, piece);  // errors ignored: before proxy15 the connection was reset
    std::this_thread::sleep_for(kDripEvery);
  }
  std::string got;
  char buf[16384];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
  const int err = n < 0 ? errno : 0;
  close(fd);
  const auto r = WholeResponse(got);
  ASSERT_TRUE(r) << "read " << got.size() << " bytes, then " << (err ? strerror(err) : "EOF");
  EXPECT_EQ(r->result_int(), 400u);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_THAT(r->body(), HasSubstr("400"));
  EXPECT_EQ(err, 0) << "the page ends with the proxy's FIN, not a reset: " << strerror(err);
  ExpectStillServes();
}

std::pair<std::string, std::string> ReadToEnd(int fd, std::chrono::seconds timeout);

// The socket's look alone decides the linger (proxy17, issue 3): the request was read whole and
// nothing of the client's is buffered in the proxy, but while the proxy waited for the origin
// the client sent more — a pipelined second request and garbage — which wait unread in the
// socket. The page (502: the origin answers garbage) must reach the client whole and end with
// the proxy's FIN: MayStillSend sees the bytes with its MSG_PEEK and the close lingers. Without
// that look (a mutant returning false for a request read whole and an empty buffer) the proxy
// closed with those bytes unread: the kernel's RST threw away what of the page the client (a
// receive buffer of one byte) had not taken.
TEST_F(ProxyBigHeaderTest, BytesWaitingOnlyInTheSocketMakeTheCloseLinger) {
  StartProxy();
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(64 * 1024, [this](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    std::this_thread::sleep_for(600ms);  // the client sends its second request meanwhile
    SendAll(fd, "this is not HTTP\r\n\r\n");
  }));
  std::string error;
  const int fd = ConnectSlowPeer(ip_, kTinyReceiveBuffer, 15s, &error);
  ASSERT_GE(fd, 0) << error;
  SendAll(fd, "GET " + SlowPeerUrl("/first") + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n");
  std::this_thread::sleep_for(200ms);  // the proxy has read the request and waits for the origin
  SendAll(fd, "GET " + SlowPeerUrl("/second") + " HTTP/1.1\r\n" + SlowPeerHost() +
                  "\r\n\x01\x02 garbage after the requests");
  std::this_thread::sleep_for(1500ms);  // the page waits in the proxy's send buffer meanwhile
  const auto [got, end] = ReadToEnd(fd, 15s);
  close(fd);
  origin_thread_.join();
  EXPECT_THAT(origin_read_, HasSubstr("GET /first HTTP/1.1"));
  EXPECT_THAT(origin_read_, ::testing::Not(HasSubstr("/second")));
  const auto r = WholeResponse(got);
  ASSERT_TRUE(r) << "read " << got.size() << " bytes, then " << end;
  EXPECT_EQ(r->result_int(), 502u);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_EQ(end, "EOF") << "the page ends with the proxy's FIN, not a reset";
  ExpectStillServes();
}

// Sends `piece` every `pause` (none: as fast as it goes) until a send fails or 30 s passed: whether
// the connection was cut, the bytes sent before, and how long it took.
struct EndlessSend {
  bool cut = false;
  size_t sent = 0;
  std::chrono::steady_clock::duration took{};
};
EndlessSend SendWithoutEnd(RawClient& c, const std::string& piece,
                           std::chrono::milliseconds pause) {
  EndlessSend out;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 30s) {
    if (!c.Send(piece)) {
      out.cut = true;
      break;
    }
    out.sent += piece.size();
    if (pause > 0ms) std::this_thread::sleep_for(pause);
  }
  out.took = std::chrono::steady_clock::now() - start;
  return out;
}

// The lingering close is bounded: a client that sends on without end after its refused request
// (not reading the page) is cut off once the proxy drained kLingerBytes (512 KiB) or kLingerTime
// (5 s) passed, not held open for as long as it sends.
TEST_F(ProxyTest, AClientThatNeverStopsSendingIsCutOffAfterTheErrorPage) {
  StartProxy();
  auto c = Raw();
  ASSERT_TRUE(c->Send("POST " + Url("/upload?endless") +
                      " HTTP/1.1\r\nHost: www.origin.example\r\nNo Colon Here\r\n"
                      "Content-Length: 100000000\r\n\r\n"));
  const EndlessSend e = SendWithoutEnd(*c, std::string(64 * 1024, 'e'), 0ms);
  EXPECT_TRUE(e.cut) << "the proxy still took bytes after 30 s";
  EXPECT_LT(e.took, 8s);
  ExpectStillServes();
}

// proxy.scan.hold_budget (proxy16, issue 3): the bytes all uploads held for the scan take at
// once are bounded, process-wide, and charged as they come. max_size 100,000, budget 250,000:
// of eight uploads declaring 100,000 bytes that stall after 90,000, two are held (180,000) and
// each of the six others gets 503 with Retry-After at the read that would pass the budget
// (nothing of them reaches the origin), its own bytes given back when it ends; a chunked upload
// that would pass the budget gets 503 too. Killing the held clients mid-hold gives their bytes
// back (/metrics), and the next upload is held and goes through. On base16 the key is unknown
// (the configuration is refused), and without it all eight were held: up to 8 × max_size of
// memory for as long as their HoldDeadline.
TEST_F(ProxyTest, UploadsHeldForTheScanStayWithinTheHoldBudget) {
  StartProxyWithHoldBudget(250000);
  constexpr int kUploads = 8;
  constexpr int64_t kSent = 90000;
  std::vector<std::unique_ptr<RawClient>> clients;
  std::vector<int> held;
  for (int i = 0; i < kUploads; ++i) {
    clients.push_back(Raw());
    RawClient& c = *clients.back();
    ASSERT_TRUE(c.Send("POST " + Url("/upload?budget-" + std::to_string(i)) +
                       " HTTP/1.1\r\nHost: www.origin.example\r\n"
                       "Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n" +
                       std::string(kSent, 'u')))
        << c.error();
    if (i < 2) {  // these fit: held, waiting for the rest of their body
      ASSERT_TRUE(
          WaitFor([&] { return Metric("seccloud_proxy_scan_held_bytes") == kSent * (i + 1); }, 10s))
          << Metric("seccloud_proxy_scan_held_bytes");
      held.push_back(i);
      continue;
    }
    auto r = c.ReadResponse(false, 10s);
    ASSERT_TRUE(r) << "upload " << i << ": " << c.error();
    EXPECT_EQ(r->result_int(), 503u) << r->body();
    EXPECT_EQ((*r)[http::field::retry_after], "10");
    EXPECT_FALSE(r->keep_alive());
    EXPECT_THAT(r->body(), HasSubstr("proxy.scan.hold_budget"));
    json::object e = EventFor(Url("/upload?budget-" + std::to_string(i)));
    EXPECT_EQ(Int(e, "http.response.status_code"), 503);
    EXPECT_EQ(Str(e, "seccloud.scan.upload.result"), "refused");
    EXPECT_THAT(Str(e, "error.message"),
                HasSubstr("other uploads and responses being scanned hold 180000 of the 250000 "
                          "bytes of "
                          "proxy.scan.hold_budget, and this one needs "));
    EXPECT_THAT(Str(e, "error.message"),
                HasSubstr("; nothing of it was sent to www.origin.example"));
    // What the refused hold took before the read that did not fit goes back when it ends.
    ASSERT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_scan_held_bytes") == 2 * kSent; }, 10s))
        << Metric("seccloud_proxy_scan_held_bytes");
  }
  EXPECT_EQ(Metric("seccloud_proxy_upload_holds_refused_total"), kUploads - 2);
  for (int i : held) {
    EXPECT_FALSE(clients[i]->ReadResponse(false, 200ms)) << "upload " << i << " was answered";
  }

  // A chunked upload takes its bytes as they come: 80,000 do not fit in the 70,000 left.
  {
    auto c = Raw();
    std::ostringstream size;
    size << std::hex << 80000;
    ASSERT_TRUE(c->Send("POST " + Url("/upload?budget-chunked") +
                        " HTTP/1.1\r\nHost: www.origin.example\r\nTransfer-Encoding: chunked\r\n"
                        "\r\n" +
                        size.str() + "\r\n" + std::string(80000, 'c') + "\r\n"))
        << c->error();
    auto r = c->ReadResponse(false, 10s);
    ASSERT_TRUE(r) << c->error();
    EXPECT_EQ(r->result_int(), 503u) << r->body();
    EXPECT_EQ((*r)[http::field::retry_after], "10");
    json::object e = EventFor(Url("/upload?budget-chunked"));
    EXPECT_EQ(Str(e, "seccloud.scan.upload.result"), "refused");
    EXPECT_THAT(Str(e, "error.message"), HasSubstr("of proxy.scan.hold_budget"));
  }
  // What the chunked hold took went back when it ended.
  EXPECT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_scan_held_bytes") == 2 * kSent; }, 5s))
      << Metric("seccloud_proxy_scan_held_bytes");

  // The held clients are killed mid-hold (a reset): their bytes go back.
  for (int i : held) clients[i]->Reset();
  EXPECT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_scan_held_bytes") == 0; }, 5s))
      << Metric("seccloud_proxy_scan_held_bytes");
  auto r = Exchange("POST " + Url("/upload?budget-after") +
                    " HTTP/1.1\r\nHost: www.origin.example\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 100000\r\n\r\n" +
                    std::string(100000, 'a'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u) << r->body();
  EXPECT_EQ(r->body(), "100000") << "the origin got the whole body";
  EXPECT_EQ(Str(EventFor(Url("/upload?budget-after")), "seccloud.scan.upload.result"), "error")
      << "held for the scan (no scand runs here: on_error allow)";
  EXPECT_EQ(Metric("seccloud_proxy_upload_holds_refused_total"), kUploads - 2 + 1);
  EXPECT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_scan_held_bytes") == 0; }, 5s));
  ExpectStillServes();
}

// A budget of max_size (the least the parser takes) still lets a chunked upload larger than
// max_size stream unscanned, as scan.max_size says: only its bytes up to max_size must fit, and
// the read that passes it ends the hold. Before the budget took only those, such an upload got
// 503 at that read.
TEST_F(ProxyTest, AHoldBudgetOfMaxSizeStillStreamsALargerChunkedUpload) {
  StartProxyWithHoldBudget(100000);
  std::ostringstream size;
  size << std::hex << 150000;
  auto r = Exchange("POST " + Url("/upload?budget-larger") +
                    " HTTP/1.1\r\nHost: www.origin.example\r\nTransfer-Encoding: chunked\r\n"
                    "\r\n" +
                    size.str() + "\r\n" + std::string(150000, 'l') + "\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u) << r->body();
  EXPECT_EQ(r->body(), "150000") << "the origin got the whole body";
  EXPECT_EQ(Str(EventFor(Url("/upload?budget-larger")), "seccloud.scan.upload.result"), "skipped");
  EXPECT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_scan_held_bytes") == 0; }, 5s));
}

// Response bodies held for the scan (proxy17, issue 3) take their bytes from the same
// proxy.scan.hold_budget as uploads, as they come. max_size and budget 150,000; nginx's
// /slow/100k.bin sends 60,000 bytes of its response at once, then 64 a second, so each hold keeps
// about 60,000 bytes for minutes: two responses are held, each of the next two passes the budget
// at a read and gets 503 with Retry-After and nothing of the body, its event
// seccloud.scan.result "refused", the counter; an upload that needs the budget is refused too
// (one budget). The held clients vanish — a reset, then a plain close — and their bytes go back
// within a read of the origin; the next response is held and delivered whole. On base17 the held
// responses are not counted (the gauge stays 0) and the third is held too (no 503).
TEST_F(ProxyTest, ResponsesHeldForTheScanStayWithinTheHoldBudget) {
  constexpr uint64_t kBudget = 150000;
  StartProxyWithHoldBudget(kBudget, kBudget);
  constexpr double kHeldEach = 59000;  // at least each slow body's first bytes, header taken out
  const auto held = [&] { return Metric("seccloud_proxy_scan_held_bytes"); };
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 2; ++i) {
    clients.push_back(Raw());
    ASSERT_TRUE(clients.back()->Send("GET " + Url("/slow/100k.bin?held-" + std::to_string(i)) +
                                     " HTTP/1.1\r\nHost: www.origin.example\r\n\r\n"));
    ASSERT_TRUE(WaitFor([&] { return held() >= kHeldEach * (i + 1); }, 10s)) << held();
  }
  for (int i = 0; i < 2; ++i) {
    const std::string url = Url("/slow/100k.bin?refused-" + std::to_string(i));
    auto r = Exchange("GET " + url + " HTTP/1.1\r\nHost: www.origin.example\r\n\r\n");
    ASSERT_TRUE(r) << "no answer: the response was held past the budget";
    EXPECT_EQ(r->result_int(), 503u) << r->body();
    EXPECT_EQ((*r)[http::field::retry_after], "10");
    EXPECT_FALSE(r->keep_alive());
    EXPECT_THAT(r->body(), HasSubstr("the response cannot be held for the malware scan now"));
    EXPECT_THAT(r->body(), HasSubstr("要求を処理できませんでした"));
    json::object e = EventFor(url);
    EXPECT_EQ(Int(e, "http.response.status_code"), 503);
    EXPECT_EQ(Str(e, "seccloud.scan.result"), "refused");
    EXPECT_THAT(Str(e, "error.message"),
                HasSubstr("other uploads and responses being scanned hold "));
    EXPECT_THAT(Str(e, "error.message"),
                HasSubstr(" of the 150000 bytes of proxy.scan.hold_budget, and this one needs "));
    EXPECT_THAT(Str(e, "error.message"), HasSubstr("; nothing of it was sent to the client"));
    EXPECT_LE(held(), static_cast<double>(kBudget));
  }
  EXPECT_EQ(Metric("seccloud_proxy_response_holds_refused_total"), 2);
  // One budget: an upload that would pass it is refused as well.
  auto u = Exchange("POST " + Url("/upload?budget-response") +
                    " HTTP/1.1\r\nHost: www.origin.example\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 100000\r\n\r\n" +
                    std::string(100000, 'u'));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->result_int(), 503u) << u->body();
  EXPECT_EQ(Metric("seccloud_proxy_upload_holds_refused_total"), 1);
  for (auto& c : clients)
    EXPECT_FALSE(c->ReadResponse(false, 200ms)) << "a held response reached its client";

  // The held clients vanish mid-response: a reset, then a close. Each hold sees it at its next
  // read of the origin (nginx sends a few bytes a second) and gives its bytes back.
  clients[0]->Reset();
  EXPECT_TRUE(WaitFor([&] { return held() < kHeldEach * 2; }, 10s)) << held();
  clients[1].reset();
  EXPECT_TRUE(WaitFor([&] { return held() == 0; }, 10s)) << held();
  const json::object gone = EventFor(Url("/slow/100k.bin?held-0"));
  EXPECT_THAT(Str(gone, "error.message"),
              HasSubstr("the client closed the connection while the response was held for the "
                        "malware scan"));
  EXPECT_EQ(Int(gone, "http.response.status_code"), -1) << "no status: nothing reached it";

  auto r = Exchange("GET " + Url("/100k.bin") + " HTTP/1.1\r\nHost: www.origin.example\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_TRUE(r->body() == origin_->File("100k.bin")) << "the body is not the origin's";
  EXPECT_EQ(Str(EventFor(Url("/100k.bin")), "seccloud.scan.result"), "error")
      << "held for the scan (no scand runs here: on_error allow)";
  EXPECT_TRUE(WaitFor([&] { return held() == 0; }, 5s)) << held();
  ExpectStillServes();
}

// Reads from the blocking socket `fd` until EOF, a reset or `timeout`: what came, and how it
// ended ("EOF", "timeout", or the error).
std::pair<std::string, std::string> ReadToEnd(int fd, std::chrono::seconds timeout) {
  const timeval tv{static_cast<time_t>(timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[16384];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return {got, "EOF"};
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {got, "timeout"};
    return {got, strerror(errno)};
  }
}

// A page that answers a request read whole — no body (a GET), or a body read to its end (an
// upload held for the scan, then 502: nothing listens on the origin's port) — with nothing more
// sent is followed by the close at once, as nginx does: the client has nothing left to send, so
// closing leaves nothing unread to make a reset. The client reads the page to the proxy's FIN
// and keeps its socket open: the proxy no longer holds the connection (its
// seccloud_proxy_connections_active falls to 0). Before proxy16 every page lingered: the proxy
// shut its side (the FIN) and went on reading for kLingerTime (5 s), holding the connection.
TEST_F(ProxyTest, APageAfterAWholeRequestClosesAtOnce) {
  ProxyFixture::StartProxy(ScanConfig(100000));
  const std::string nowhere = std::string("http://") + kOriginName + ":8449";
  const std::vector<std::string> requests = {
      "GET " + nowhere + "/no-body HTTP/1.1\r\nHost: www.origin.example:8449\r\n\r\n",
      "POST " + nowhere +
          "/body-read-whole HTTP/1.1\r\nHost: www.origin.example:8449\r\n"
          "Content-Length: 5000\r\n\r\n" +
          std::string(5000, 'w'),
  };
  for (const std::string& request : requests) {
    SCOPED_TRACE(request.substr(0, request.find('\r')));
    auto c = Raw();
    ASSERT_TRUE(c->Send(request)) << c->error();
    const auto [got, end] = ReadToEnd(c->fd(), 3s);
    EXPECT_EQ(end, "EOF");
    EXPECT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_connections_active") == 0; }, 3s))
        << "the proxy still holds the connection 3 s after its page";
    const auto r = WholeResponse(got);
    ASSERT_TRUE(r) << got;
    EXPECT_EQ(r->result_int(), 502u);
    EXPECT_FALSE(r->keep_alive());
  }
  EXPECT_EQ(Str(EventFor(nowhere + "/body-read-whole"), "seccloud.scan.upload.result"), "error")
      << "the body was held (read whole) before the 502";
  ExpectStillServes();
}

// The lingering close's time bound alone: a client that sends slowly but without end after its
// refused request (1 KiB every 50 ms: ~100 KiB in 5 s, far below kLingerBytes, 512 KiB) is cut
// once kLingerTime (5 s) passed. AClientThatNeverStopsSendingIsCutOffAfterTheErrorPage sends
// fast enough to reach the byte bound first; this pins the time bound (it holds on base16 too).
TEST_F(ProxyTest, AClientSendingSlowlyWithoutEndIsCutAtTheLingerTime) {
  StartProxy();
  auto c = Raw();
  ASSERT_TRUE(c->Send("POST " + Url("/upload?slow-endless") +
                      " HTTP/1.1\r\nHost: www.origin.example\r\nNo Colon Here\r\n"
                      "Content-Length: 100000000\r\n\r\n"));
  const EndlessSend e = SendWithoutEnd(*c, std::string(1024, 's'), 50ms);
  EXPECT_TRUE(e.cut) << "the proxy still took bytes after 30 s";
  EXPECT_LT(e.sent, 512u * 1024) << "the byte bound, not the time bound, cut it";
  EXPECT_GE(e.took, 4s) << "cut before kLingerTime";
  // Not a timing threshold: a bound far above kLingerTime that a lingering close of 20 s (a
  // mutant the review of proxy16 found every test let pass) fails.
  EXPECT_LT(e.took, 12s) << "not cut at kLingerTime";
  ExpectStillServes();
}

// A page that answers a request whose body was not read (the origin's port is closed: 502
// before any of the declared body came) lingers although nothing waits in the socket yet when
// the page goes out: the client may still send its body (nginx's rule). The review of proxy16
// found no test of the "request not read whole" flag on the plain path (a mutant clearing it
// passed every test: the other tests' bytes already waited in the socket).
TEST_F(ProxyTest, APageBeforeAnUnsentBodyStillLingers) {
  StartProxy();
  const std::string nowhere = std::string("http://") + kOriginName + ":8449";
  auto c = Raw();
  ASSERT_TRUE(c->Send("POST " + nowhere +
                      "/body-later HTTP/1.1\r\nHost: www.origin.example:8449\r\n"
                      "Content-Length: 50000\r\n\r\n"))
      << c->error();
  auto r = c->ReadResponse(false, 5s);
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 502u);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Metric("seccloud_proxy_connections_active"), 1)
      << "the proxy closed at once although the request's body was not read";
  c->Send(std::string(50000, 'b'));
  EXPECT_EQ(ReadToEnd(c->fd(), 7s).second, "EOF");
}

// A chunked upload larger than max_size is held for its first max_size bytes, which go upstream,
// then streams unscanned: the hold's memory and its bytes of the budget go back when the held part
// went out, not when the request ends (review of proxy16: a streaming upload kept them, and
// uploads that fitted got 503 while nothing was held for the scan).
TEST_F(ProxyTest, AnUploadStreamingPastMaxSizeGivesItsHoldBack) {
  StartProxyWithHoldBudget(250000);
  auto streaming = Raw();
  std::ostringstream size;
  size << std::hex << 1000000;
  ASSERT_TRUE(streaming->Send("POST " + Url("/upload?streaming") +
                              " HTTP/1.1\r\nHost: www.origin.example\r\nTransfer-Encoding: "
                              "chunked\r\n\r\n" +
                              size.str() + "\r\n" + std::string(200000, 's')));
  EXPECT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_scan_held_bytes") == 0; }, 10s))
      << "an upload streaming unscanned still counts as held: "
      << Metric("seccloud_proxy_scan_held_bytes");
  auto held = Raw();
  ASSERT_TRUE(held->Send("POST " + Url("/upload?held") +
                         " HTTP/1.1\r\nHost: www.origin.example\r\nContent-Length: 100000\r\n\r\n" +
                         std::string(1000, 'h')));
  auto r = Exchange("POST " + Url("/upload?fits") +
                    " HTTP/1.1\r\nHost: www.origin.example\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 100000\r\n\r\n" +
                    std::string(100000, 'a'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u) << r->body();
}

// Reads the decrypted stream until the peer's close_notify (or an error): the page.
std::string ReadUntilCloseNotify(SSL* ssl) {
  std::string got;
  char buf[16384];
  while (true) {
    const int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) {
      ERR_clear_error();
      return got;
    }
    got.append(buf, static_cast<size_t>(n));
  }
}

// The intercepted leg writes what the kernel takes at once (TlsStream::write_some_now) and
// awaits only the rest. A terminal with a 4 KiB receive buffer and a 1000-byte MSS that reads
// late leaves most of a 1 MiB body pending: it must arrive whole, byte-exact and once.
class ProxySlowInterceptedPeerTest : public ProxyBigHeaderTest {
 protected:
  static constexpr uint16_t kHttpsPort = 8443;
  static constexpr const char* kTlsOrigin = "good.seccloud.test";

  void SetUp() override {
    integration::ProxyFixture::SetUp();  // not ProxyTest's: this origin serves TLS too
    ASSERT_NO_FATAL_FAILURE(MakeTestPki());
    std::vector<integration::NginxTlsServer> tls;
    for (const auto& [port, name] : TlsServers())
      tls.push_back({port, dir_ / "pki" / (name + ".pem"), dir_ / "pki" / (name + ".key")});
    ASSERT_NO_FATAL_FAILURE(StartOrigin(kOriginPort, std::move(tls)));
    std::ofstream(ConfigPath()) << SetUpConfig();
    ASSERT_NO_FATAL_FAILURE(InitCa());
  }
  // The origin's TLS servers: each port with the test PKI's certificate of that name.
  virtual std::vector<std::pair<uint16_t, std::string>> TlsServers() const {
    return {{kHttpsPort, "good"}};
  }
  // The configuration SetUp writes (InitCa reads it).
  virtual std::string SetUpConfig() const { return InterceptConfig(); }

  // What a slow-peer origin speaking TLS runs on its accepted socket `fd`: the TLS handshake as
  // good.seccloud.test (the test PKI's certificate), the request header read, then
  // `answer(ssl)`. Returns early (nothing answered) when any of it fails.
  static void ServeTls(int fd, const std::filesystem::path& pki,
                       const std::function<void(SSL*)>& answer) {
    const OriginTls tls = AcceptOriginTls(fd, pki / "good.pem", pki / "good.key", 15s);
    SSL* ssl = tls.ssl.get();
    if (ssl != nullptr && ReadTlsHeader(ssl)) answer(ssl);
  }

  std::string InterceptConfig() const {
    return RenderConfig({
        .tenants = "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [127.10.0.2]}\n",
        .hosts = {{kOriginName, ""}, {kTlsOrigin, ""}},
        .proxy = "  tls: {intercept: true, ca_dir: ca, extra_trust: [pki/bundle.pem]}\n",
    });
  }

  // A terminal inside a tunnel: its socket, and TLS to the proxy's interception over it.
  struct TunnelTerminal {
    TunnelTerminal() = default;
    TunnelTerminal(const TunnelTerminal&) = delete;
    TunnelTerminal& operator=(const TunnelTerminal&) = delete;
    ~TunnelTerminal() {
      ssl.reset();
      if (fd >= 0) close(fd);
    }
    int fd = -1;
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{nullptr, SSL_CTX_free};
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl{nullptr, SSL_free};
  };
  // Opens `t`: a socket with a receive buffer of `receive_buffer` and a small MSS
  // (ConnectSlowPeer, from 127.10.0.5) sends CONNECT `authority`, speaks TLS to the proxy's
  // interception trusting only its CA, and writes `request`. Empty on success, else a text
  // starting with "error: ".
  std::string OpenTunnelTerminal(const std::string& authority, int receive_buffer,
                                 const std::string& request, TunnelTerminal& t) {
    std::string error;
    t.fd = ConnectSlowPeer(ip_, receive_buffer, 20s, &error);
    if (t.fd < 0) return "error: " + error;
    SendAll(t.fd, "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    const std::string answer = ReadConnectAnswer(t.fd);
    if (!answer.starts_with("HTTP/1.1 200")) return "error: CONNECT answered: " + answer;
    const std::string host = authority.substr(0, authority.rfind(':'));
    t.ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (t.ctx && SSL_CTX_load_verify_locations(t.ctx.get(), CaPem().c_str(), nullptr) == 1) {
      SSL_CTX_set_verify(t.ctx.get(), SSL_VERIFY_PEER, nullptr);
      t.ssl.reset(SSL_new(t.ctx.get()));
    }
    if (!t.ssl) return "error: no TLS context";
    SSL* ssl = t.ssl.get();
    SSL_set_fd(ssl, t.fd);
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
    if (SSL_connect(ssl) != 1) return "error: TLS handshake with the proxy failed";
    if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) !=
        static_cast<int>(request.size()))
      return "error: the request was not sent";
    return "";
  }

  // A terminal of OpenTunnelTerminal with a small receive buffer (kSmallReceiveBuffer) writes
  // `request` (which should ask the origin to close), reads nothing for kReadLate (the proxy's
  // sends fill the small window meanwhile), then reads until the close: at most `limit` bytes,
  // each wait at most 20 s. What it read, or a text starting with "error: ". With `header_after`
  // it reads at once instead (no kReadLate) and sets it to the time from the request's write to
  // the first read that completed the response header (-1 ms: none did).
  std::string SlowInterceptedExchange(const std::string& authority, const std::string& request,
                                      size_t limit,
                                      std::chrono::milliseconds* header_after = nullptr) {
    TunnelTerminal t;
    if (std::string e = OpenTunnelTerminal(authority, kSmallReceiveBuffer, request, t); !e.empty())
      return e;
    std::string got;
    const auto sent = std::chrono::steady_clock::now();
    if (header_after == nullptr)
      std::this_thread::sleep_for(kReadLate);
    else
      *header_after = -1ms;
    char buf[16384];
    while (got.size() < limit) {
      const int n = SSL_read(t.ssl.get(), buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      if (header_after != nullptr && *header_after < 0ms &&
          got.find("\r\n\r\n") != std::string::npos)
        *header_after = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - sent);
    }
    return got;
  }

  // A terminal of OpenTunnelTerminal (a receive buffer of `receive_buffer`) that writes
  // `request`, then runs `then(ssl, fd)` (sends more, closes its sending side), then reads until
  // the close (each wait at most 20 s). What it read (*read_error: how the reading ended, "" for
  // a close_notify or a FIN), or a text starting with "error: ".
  std::string InterceptedExchangeThen(const std::string& authority, const std::string& request,
                                      int receive_buffer,
                                      const std::function<void(SSL*, int)>& then,
                                      std::string* read_error) {
    TunnelTerminal t;
    if (std::string e = OpenTunnelTerminal(authority, receive_buffer, request, t); !e.empty())
      return e;
    SSL* ssl = t.ssl.get();
    then(ssl, t.fd);
    std::string got;
    char buf[16384];
    while (true) {
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      const int e = SSL_get_error(ssl, n);
      if (read_error != nullptr)
        *read_error = e == SSL_ERROR_ZERO_RETURN ? ""
                      : e == SSL_ERROR_SYSCALL && errno == 0
                          ? ""
                          : "SSL error " + std::to_string(e) + " (" + strerror(errno) + ")";
      ERR_clear_error();
      break;
    }
    return got;
  }

  // Kills the proxy (SIGKILL), as a crash or an OOM kill would.
  void KillProxy() {
    kill(proxy_pid_, SIGKILL);
    int status = 0;
    waitpid(proxy_pid_, &status, 0);
    proxy_pid_ = 0;
  }

  // What a terminal saw of a page inside a tunnel and whether the proxy was lingering after it.
  struct LingeredPage {
    std::string rest;  // InterceptedExchangeThen's answer: starts with "error: " when it failed
    std::string page;  // up to the proxy's close_notify
    bool lingering = false;
  };
  // A terminal inside a tunnel to `authority` posts to `path` declaring a body of 1,000,000
  // bytes it does not send first, reads the page up to the close_notify, then sends 50 KiB of the
  // body over about a second (the terminal may still be sending: the close lingers) and the proxy
  // is killed (KillProxy) during the linger.
  LingeredPage PageThenKillDuringLinger(const std::string& authority, const std::string& path) {
    LingeredPage out;
    std::string read_error;
    out.rest = InterceptedExchangeThen(
        authority,
        "POST " + path + " HTTP/1.1\r\nHost: " + authority + "\r\nContent-Length: 1000000\r\n\r\n",
        64 * 1024,
        [&](SSL* ssl, int fd) {
          out.page = ReadUntilCloseNotify(ssl);
          const std::string piece(1024, 'b');  // the body goes on: the proxy lingers
          for (int i = 0; i < 50; ++i) {
            if (send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) <= 0) break;
            std::this_thread::sleep_for(20ms);
          }
          out.lingering = Metric("seccloud_proxy_connections_active") == 1;
          KillProxy();
        },
        &read_error);
    return out;
  }

  // The test's own TLS origin for kTlsOrigin on origin_ip_:kSlowPeerPort (the test PKI's "good"
  // certificate, which the proxy trusts through extra_trust): accepts one connection, reads a
  // request header into origin_read_ and answers `response` (and `later` after `pause`), then
  // closes — after a close_notify, or (`close_notify` false) with the TCP connection alone.
  void StartTlsSlowPeerOrigin(std::string response, std::string later = "",
                              std::chrono::milliseconds pause = 0ms, bool close_notify = true) {
    const std::string cert = (dir_ / "pki" / "good.pem").string();
    const std::string key = (dir_ / "pki" / "good.key").string();
    origin_read_.clear();  // the thread of an earlier call was joined
    StartSlowPeerOrigin(64 * 1024, [this, cert, key, response = std::move(response),
                                    later = std::move(later), pause, close_notify](int fd) {
      std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                            SSL_CTX_free);
      if (!ctx || SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
        origin_read_ = "error: the origin's certificate did not load";
        return;
      }
      const timeval timeout{15, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) != 1) {
        origin_read_ = "error: the origin's TLS handshake failed";
        return;
      }
      char buf[16384];
      while (origin_read_.find("\r\n\r\n") == std::string::npos && origin_read_.size() < 65536) {
        const int n = SSL_read(ssl.get(), buf, sizeof buf);
        if (n <= 0) break;
        origin_read_.append(buf, static_cast<size_t>(n));
      }
      if (SSL_write(ssl.get(), response.data(), static_cast<int>(response.size())) <= 0) return;
      if (!later.empty()) {
        std::this_thread::sleep_for(pause);
        if (SSL_write(ssl.get(), later.data(), static_cast<int>(later.size())) <= 0) return;
      }
      if (close_notify) SSL_shutdown(ssl.get());
    });
  }
};

// A pooled TLS connection the origin closed while idle without a close_notify (as many servers
// close an idle keep-alive connection) is retried on a fresh connection, as a plain one closed
// with a FIN or a reset is: before proxy14 the read of the response header ended in
// stream_truncated, which was not retried, and the terminal got a 502.
TEST_F(ProxySlowInterceptedPeerTest, APooledConnectionClosedWithoutCloseNotifyIsRetried) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  auto served = std::make_shared<std::atomic<int>>(0);
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(
      64 * 1024,
      [pki = dir_ / "pki", served](int fd) {
        ServeTls(fd, pki, [&](SSL* ssl) {
          const int nth = ++*served;
          // The first connection answers keep-alive, then closes while idle, without a
          // close_notify (SSL_free, then close); the second answers the retried request.
          const std::string res =
              nth == 1 ? "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
                       : "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecond";
          SSL_write(ssl, res.data(), static_cast<int>(res.size()));
          if (nth == 1)
            std::this_thread::sleep_for(300ms);
          else
            SSL_shutdown(ssl);
        });
      },
      2));
  InterceptedTerminal t;
  ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
  ASSERT_TRUE(t.Send("GET /first HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
  const std::string first = t.ReadUntil("first");
  ASSERT_THAT(first, HasSubstr("HTTP/1.1 200 OK")) << first;
  std::this_thread::sleep_for(1s);  // the origin closes the pooled connection meanwhile
  ASSERT_TRUE(
      t.Send("GET /second HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n"));
  const std::string second = t.ReadUntil("");
  origin_thread_.join();
  EXPECT_TRUE(second.starts_with("HTTP/1.1 200 OK\r\n")) << second.substr(0, 300);
  EXPECT_THAT(second, HasSubstr("second"));
  EXPECT_EQ(served->load(), 2);
  json::object e = EventFor("https://" + authority + "/second");
  EXPECT_EQ(Int(e, "http.response.status_code"), 200);
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// A TLS origin that answers /first keep-alive, then for the next request
// either sends `partial` (part of a response header) or nothing, and closes without a
// close_notify. Counts connections and what each read.
namespace truncate_after_first {
void ServeThenTruncate(int fd, const std::string& cert, const std::string& key,
                       std::shared_ptr<std::atomic<int>> served,
                       std::shared_ptr<std::atomic<int>> posts, std::string partial) {
  const OriginTls tls = AcceptOriginTls(fd, cert, key, 5s);
  SSL* ssl = tls.ssl.get();
  if (ssl == nullptr) return;
  const int nth = ++*served;
  for (int req = 0; req < 2; ++req) {
    const std::optional<std::string> read = ReadTlsHeader(ssl);
    if (!read) return;
    if (read->starts_with("POST")) ++*posts;
    if (nth == 1 && req == 0) {
      const std::string res = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
      SSL_write(ssl, res.data(), static_cast<int>(res.size()));
      continue;
    }
    if (nth == 1) {  // the second request on the first connection: truncate
      if (!partial.empty()) SSL_write(ssl, partial.data(), static_cast<int>(partial.size()));
      std::this_thread::sleep_for(100ms);
      return;  // SSL_free then close: no close_notify
    }
    const std::string res =
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecond";
    SSL_write(ssl, res.data(), static_cast<int>(res.size()));
    SSL_shutdown(ssl);
    return;
  }
}
}  // namespace truncate_after_first

// A request is not replayed on a fresh connection when the origin may have acted on it or began
// to answer (found by the review of proxy14); each case's terminal gets the 502, one connection
// served:
// - a GET whose origin sent part of a response header ("HTTP/1.1 20": Beast's parser takes whole
//   lines, so it used none of it), then closed without a close_notify;
// - a POST (non-idempotent, no body) the origin read, then closed without a close_notify: RFC
//   9110 9.2.2, a proxy must not retry it automatically (the origin may have applied it).
TEST_F(ProxySlowInterceptedPeerTest, ARequestTheOriginMayHaveActedOnIsNotReplayed) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  const std::string cert = (dir_ / "pki" / "good.pem").string();
  const std::string key = (dir_ / "pki" / "good.key").string();
  struct Case {
    const char* partial;
    const char* second;
  };
  for (const Case& c : {Case{"HTTP/1.1 20", "GET /second HTTP/1.1\r\n"},
                        Case{"", "POST /second HTTP/1.1\r\nContent-Length: 0\r\n"}}) {
    SCOPED_TRACE(c.second);
    auto served = std::make_shared<std::atomic<int>>(0);
    auto posts = std::make_shared<std::atomic<int>>(0);
    const std::string partial = c.partial;
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(
        64 * 1024,
        [cert, key, served, posts, partial](int fd) {
          truncate_after_first::ServeThenTruncate(fd, cert, key, served, posts, partial);
        },
        2));
    InterceptedTerminal t;
    ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
    ASSERT_TRUE(t.Send("GET /first HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
    ASSERT_THAT(t.ReadUntil("first"), HasSubstr("HTTP/1.1 200 OK"));
    ASSERT_TRUE(
        t.Send(std::string(c.second) + "Host: " + authority + "\r\nConnection: close\r\n\r\n"));
    const std::string second = t.ReadUntil("");
    origin_thread_.join();
    EXPECT_EQ(served->load(), 1) << "the request was replayed on a second connection";
    EXPECT_EQ(posts->load(), partial.empty() ? 1 : 0);
    EXPECT_TRUE(second.starts_with("HTTP/1.1 502")) << second.substr(0, 200);
  }
}

TEST_F(ProxySlowInterceptedPeerTest, ABodyTheTerminalReadsLateArrivesWholeAndOnce) {
  ProxyFixture::StartProxy(InterceptConfig());
  // 1 MiB of the origin's 10 MiB file, as a 206 with a length.
  constexpr size_t kBody = 1 << 20;
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kHttpsPort);
  const std::string got = SlowInterceptedExchange(
      authority,
      "GET /10m.bin HTTP/1.1\r\nHost: " + authority + "\r\nRange: bytes=0-" +
          std::to_string(kBody - 1) + "\r\nConnection: close\r\n\r\n",
      4 * kBody);
  ASSERT_FALSE(got.starts_with("error: ")) << got;

  http::response_parser<http::string_body> p;
  p.body_limit(8 * kBody);
  p.eager(true);
  boost::system::error_code ec;
  const size_t used = p.put(boost::asio::buffer(got), ec);
  ASSERT_FALSE(ec) << ec.message() << " in " << got.size() << " bytes";
  ASSERT_TRUE(p.is_done()) << "an incomplete response in " << got.size() << " bytes";
  EXPECT_EQ(used, got.size()) << "bytes after the response";
  EXPECT_EQ(p.get().result_int(), 206u);
  const std::string& body = p.get().body();
  const std::string sent = origin_->File("10m.bin").substr(0, kBody);
  ASSERT_EQ(body.size(), sent.size());
  EXPECT_TRUE(body == sent) << "differs at byte "
                            << std::mismatch(body.begin(), body.end(), sent.begin()).first -
                                   body.begin();
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// The intercepted counterpart of ProxyBigHeaderTest.AResponseHeaderTheClientReadsLateGoesOutOnce:
// a 300 KB response header (BigFields) from a TLS origin, written by the proxy on the intercepted
// leg (TlsStream::write_some_now, then async_flush for what the kernel refused) to a terminal
// with a small receive buffer that reads late — the header arrives once and whole, then the body;
// and for a HEAD, the header alone (no body follows, though the origin names a length).
TEST_F(ProxySlowInterceptedPeerTest, AResponseHeaderTheTerminalReadsLateGoesOutOnce) {
  std::string config = InterceptConfig();
  const std::string tls_line = "  tls: {intercept: true";
  ASSERT_NE(config.find(tls_line), std::string::npos);
  config.insert(config.find(tls_line), "  max_header_size: 1048576\n");
  ProxyFixture::StartProxy(config);
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  for (const bool head : {false, true}) {
    SCOPED_TRACE(head ? "HEAD" : "GET");
    const std::string method = head ? "HEAD" : "GET";
    ASSERT_NO_FATAL_FAILURE(
        StartTlsSlowPeerOrigin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n" +
                               big_fields_ + "\r\n" + (head ? "" : "ok")));
    const std::string got = SlowInterceptedExchange(
        authority,
        method + " /big-response HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n",
        4u << 20);
    origin_thread_.join();
    EXPECT_THAT(origin_read_, ::testing::StartsWith(method + " /big-response HTTP/1.1\r\n"));
    ASSERT_FALSE(got.starts_with("error: ")) << got;
    const size_t end = got.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << "no whole header in " << got.size() << " bytes";
    // One header with every big field once and unchanged (the parser skips any body) ...
    EXPECT_EQ(OneHeaderWithBigFields<false>(got.substr(0, end + 4)), "");
    // ... and after it exactly the body: "ok", or nothing at all for the HEAD.
    EXPECT_EQ(got.substr(end + 4), head ? "" : "ok");
  }
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// The intercepted counterpart of ProxyBigHeaderTest.AResponseHeaderThatComesAloneGoesOutAtOnce:
// a TLS origin sends the header, then the body 3 s later; the terminal has the header at once.
TEST_F(ProxySlowInterceptedPeerTest, AResponseHeaderThatComesAloneGoesOutAtOnce) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  struct Case {
    std::string path;
    std::string header;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"/alone-chunked",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
       "5\r\nhello\r\n0\r\n\r\n"},
      {"/alone-sized", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
       "hello"},
      // Until the close (close_notify): chunked for the HTTP/1.1 terminal.
      {"/alone-until-close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "hello"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.path);
    ASSERT_NO_FATAL_FAILURE(StartTlsSlowPeerOrigin(k.header, k.body, 3s));
    std::chrono::milliseconds header_after{};
    const std::string got = SlowInterceptedExchange(
        authority,
        "GET " + k.path + " HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n",
        1 << 20, &header_after);
    origin_thread_.join();
    ASSERT_FALSE(got.starts_with("error: ")) << got;
    EXPECT_GE(header_after, 0ms) << "no header in: " << got;
    EXPECT_LT(header_after, 1500ms) << "the header waited for the body";
    http::response_parser<http::string_body> p;
    p.eager(true);
    boost::system::error_code ec;
    p.put(boost::asio::buffer(got), ec);
    ASSERT_TRUE(p.is_done()) << ec.message() << " in: " << got;
    EXPECT_EQ(p.get().result_int(), 200u);
    EXPECT_EQ(p.get().body(), "hello");
  }
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// A body the TLS origin cuts short is told as on the plain path
// (ProxyBigHeaderTest.ABodyCutShortForAnHttp10ClientIsSaidCutInTheEvent): before proxy13 a sized
// cut read "stream truncated" (no close_notify) or "End of file" (after one), "End of file" on
// plain TCP.
TEST_F(ProxySlowInterceptedPeerTest, ABodyCutShortIsSaidSo) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  const std::string sized =
      "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(30000, 'x');
  struct Case {
    std::string path;
    std::string response;
    bool close_notify;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"/cut-sized-notify", sized, true,
       "the origin closed the connection after 30000 of 100000 body bytes"},
      {"/cut-sized-truncated", sized, false,
       "the origin closed the connection after 30000 of 100000 body bytes"},
      {"/cut-chunked-truncated",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", false,
       "the origin closed the connection after 5 body bytes, before the chunked body's end"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.path);
    ASSERT_NO_FATAL_FAILURE(StartTlsSlowPeerOrigin(k.response, "", 0ms, k.close_notify));
    std::chrono::milliseconds header_after{};
    const std::string got = SlowInterceptedExchange(
        authority, "GET " + k.path + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n", 1 << 20,
        &header_after);
    origin_thread_.join();
    ASSERT_FALSE(got.starts_with("error: ")) << got;
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got.substr(0, 200);
    json::object e = EventFor("https://" + authority + k.path);
    EXPECT_EQ(Int(e, "http.response.status_code"), 200);
    EXPECT_EQ(Str(e, "error.message"),
              "reading the response body from the origin failed: " + k.why);
  }
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// A stalled upload inside an intercepted tunnel is answered 408 too: the read's deadline
// cancels the read and leaves the TLS connection whole for the page (before proxy14 Beast's
// timer closed the transport beneath the TLS stream).
TEST_F(ProxySlowInterceptedPeerTest, AStalledUploadIsAnswered408) {
  std::string config = InterceptConfig();
  config.replace(config.find("  tls: {"), 0, "  timeouts: {body_idle: 1s}\n");
  ProxyFixture::StartProxy(config);
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kHttpsPort);
  std::chrono::milliseconds header_after{};
  const std::string got =
      SlowInterceptedExchange(authority,
                              "POST /upload?stall HTTP/1.1\r\nHost: " + authority +
                                  "\r\nContent-Length: 1000\r\n\r\n0123456789",
                              1 << 20, &header_after);
  ASSERT_FALSE(got.starts_with("error: ")) << got;
  http::response_parser<http::string_body> p;
  p.eager(true);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(got), ec);
  ASSERT_TRUE(p.is_done()) << ec.message() << " in: " << got.substr(0, 300);
  EXPECT_EQ(p.get().result_int(), 408u);
  EXPECT_FALSE(p.get().keep_alive());
  json::object e = EventFor("https://" + authority + "/upload?stall");
  EXPECT_EQ(Int(e, "http.response.status_code"), 408);
  EXPECT_THAT(Str(e, "error.message"),
              HasSubstr("the client sent nothing of the body for timeouts.body_idle"));
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// The intercepted form of AnErrorPageReachesAClientThatIsStillSending: the page, then the
// close_notify alone, and the transport drained until the terminal closes. Before proxy15 the
// close waited 2 s for the terminal's close_notify, then closed with its bytes unread (a RST):
// the page's unsent part was lost.
TEST_F(ProxySlowInterceptedPeerTest, AnErrorPageReachesATerminalThatIsStillSending) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kHttpsPort);
  std::string read_error;
  const std::string got = InterceptedExchangeThen(
      authority,
      "POST /upload?still-sending HTTP/1.1\r\nHost: " + authority +
          "\r\nNo Colon Here\r\nContent-Length: 1000000\r\n\r\n",
      kTinyReceiveBuffer,
      [](SSL* ssl, int) {
        const std::string piece(1024, 'b');
        for (int i = 0; i < kDripPieces; ++i) {
          if (SSL_write(ssl, piece.data(), static_cast<int>(piece.size())) <= 0) {
            ERR_clear_error();  // before proxy15 the connection was reset
            break;
          }
          std::this_thread::sleep_for(kDripEvery);
        }
      },
      &read_error);
  ASSERT_FALSE(got.starts_with("error: ")) << got;
  const auto r = WholeResponse(got);
  ASSERT_TRUE(r) << "read " << got.size() << " bytes, then " << read_error;
  EXPECT_EQ(r->result_int(), 400u);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_EQ(read_error, "") << "the page ends with a close_notify or a FIN, not a reset";
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// A page shown inside an intercepted tunnel before any origin answered (here 502: nothing listens
// on the origin's port; block and warn pages take the same path) reaches a terminal still sending
// its upload whole and ends with a close_notify, as the plain error pages do (from the review of
// proxy15: before 3863de5 the terminal read 0 bytes of it, then an SSL error — and without the
// drip the page came whole but with no close_notify).
TEST_F(ProxySlowInterceptedPeerTest, AnInterceptedPendingPageReachesATerminalThatIsStillSending) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":8449";  // nothing listens: 502
  for (const int pieces : {kDripPieces, 0}) {
    std::string read_error;
    const std::string got = InterceptedExchangeThen(
        authority,
        "POST /upload?pending HTTP/1.1\r\nHost: " + authority +
            "\r\nContent-Length: 1000000\r\n\r\n",
        kTinyReceiveBuffer,
        [pieces](SSL* ssl, int) {
          const std::string piece(1024, 'b');
          for (int i = 0; i < pieces; ++i) {
            if (SSL_write(ssl, piece.data(), static_cast<int>(piece.size())) <= 0) {
              ERR_clear_error();
              break;
            }
            std::this_thread::sleep_for(kDripEvery);
          }
        },
        &read_error);
    ASSERT_FALSE(got.starts_with("error: ")) << got;
    const auto r = WholeResponse(got);
    ASSERT_TRUE(r) << pieces << " pieces: read " << got.size() << " bytes, then " << read_error;
    EXPECT_EQ(r->result_int(), 502u);
    EXPECT_EQ(read_error, "") << pieces << " pieces: the page ends with a close_notify or a FIN";
  }
}

// The intercepted form of ProxyTest.APageAfterAWholeRequestClosesAtOnce: a page inside the tunnel
// (502: nothing listens on the origin's port) answering a GET read whole is followed by the
// close_notify and the TCP close at once: with the terminal's socket still open, the proxy holds
// the connection no more. Before proxy16 the close_notify came, then the transport lingered for
// kLingerTime (5 s).
TEST_F(ProxySlowInterceptedPeerTest, AnInterceptedPageAfterAWholeRequestClosesAtOnce) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":8449";
  std::string page;
  std::string transport_end;
  bool released = false;
  std::string read_error;
  const std::string rest = InterceptedExchangeThen(
      authority, "GET /no-body HTTP/1.1\r\nHost: " + authority + "\r\n\r\n", 64 * 1024,
      [&](SSL* ssl, int fd) {
        page = ReadUntilCloseNotify(ssl);
        transport_end = ReadToEnd(fd, 3s).second;
        released = WaitFor([&] { return Metric("seccloud_proxy_connections_active") == 0; }, 3s);
      },
      &read_error);
  ASSERT_FALSE(rest.starts_with("error: ")) << rest;
  const auto r = WholeResponse(page);
  ASSERT_TRUE(r) << page;
  EXPECT_EQ(r->result_int(), 502u);
  EXPECT_EQ(transport_end, "EOF");
  EXPECT_TRUE(released) << "the proxy still holds the connection 3 s after its close_notify";
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// An intercepted tunnel's CONNECT has its event written once the exchange's outcome is known,
// before its page's lingering close: the terminal's upload body was not read, so the proxy
// lingers while the terminal goes on sending, and is killed (SIGKILL) a second into it; the
// CONNECT's event is in the spool, as the page's is. Before proxy16 it was written after the
// linger (up to 7 s after the page) and lost with the process.
TEST_F(ProxySlowInterceptedPeerTest, AnInterceptedConnectsEventIsWrittenBeforeItsPagesLinger) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":8449";
  const LingeredPage t = PageThenKillDuringLinger(authority, "/upload?connect-event");
  ASSERT_FALSE(t.rest.starts_with("error: ")) << t.rest;
  const auto r = WholeResponse(t.page);
  ASSERT_TRUE(r) << t.page;
  EXPECT_EQ(r->result_int(), 502u);
  EXPECT_TRUE(t.lingering) << "the proxy had closed before it was killed: nothing was tested";
  int connects = 0;
  for (const json::object& e : Events()) {
    if (Str(e, "http.request.method") != "CONNECT" || Str(e, "url.domain") != kTlsOrigin) continue;
    ++connects;
    EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted");
  }
  EXPECT_EQ(connects, 1) << DescribeEvents();
  EXPECT_EQ(EventsFor("https://" + authority + "/upload?connect-event").size(), 1u)
      << DescribeEvents();
}

// A terminal that closes its sending side mid-body inside an intercepted tunnel (a half-close:
// it still reads) gets the 400 page there, whether it sent a close_notify first or shut the TCP
// connection's sending side alone (the proxy's read ends in stream_truncated).
TEST_F(ProxySlowInterceptedPeerTest, AnUploadTheTerminalClosesMidBodyIsAnswered400) {
  ProxyFixture::StartProxy(InterceptConfig());
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kHttpsPort);
  for (const bool close_notify : {true, false}) {
    SCOPED_TRACE(close_notify ? "with close_notify" : "without close_notify");
    const std::string path =
        close_notify ? "/upload?half-close-notify" : "/upload?half-close-transport";
    std::string read_error;
    const std::string got = InterceptedExchangeThen(
        authority,
        "POST " + path + " HTTP/1.1\r\nHost: " + authority +
            "\r\nContent-Length: 1000\r\n\r\n0123456789",
        64 * 1024,
        [close_notify](SSL* ssl, int fd) {
          std::this_thread::sleep_for(200ms);  // the proxy is waiting for the rest of the body
          if (close_notify)
            SSL_shutdown(ssl);  // sends the close_notify; reading goes on (TLS 1.3 half-close)
          else
            shutdown(fd, SHUT_WR);
        },
        &read_error);
    ASSERT_FALSE(got.starts_with("error: ")) << got;
    const auto r = WholeResponse(got);
    if (!r) {  // not ASSERT: the other case still runs
      ADD_FAILURE() << "no whole response: read " << got.size() << " bytes, then " << read_error;
      continue;
    }
    EXPECT_EQ(r->result_int(), 400u);
    EXPECT_FALSE(r->keep_alive());
    json::object e = EventFor("https://" + authority + path);
    EXPECT_EQ(Int(e, "http.response.status_code"), 400);
    EXPECT_THAT(Str(e, "error.message"),
                HasSubstr("the client closed the request body after 10 of 1000 bytes"));
  }
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << ProxyOutput();
}

// Inside an intercepted tunnel the wait between kept-alive requests and a TLS origin's response
// header are kept by the session's ReadWatch, not Beast's timer (proxy20): a terminal idling
// past client_idle is still closed at the deadline, not before, and — as when Beast's timeout
// closed the socket — without a close_notify.
TEST_F(ProxySlowInterceptedPeerTest,
       AnInterceptedKeptAliveTerminalIsClosedAfterClientIdleNotBefore) {
  ProxyFixture::StartProxy(InterceptConfig() + "  timeouts: {client_idle: 1s}\n");
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kHttpsPort);
  InterceptedTerminal t;
  ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(t.Send("GET /healthz HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")) << i;
    const std::string got = t.ReadUntil("ok\n");
    ASSERT_TRUE(got.starts_with("HTTP/1.1 200")) << i << ": " << got.substr(0, 200);
    if (i < 3) std::this_thread::sleep_for(600ms);  // 0.6 s idle each, 1.8 s in all
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string rest = t.ReadUntil("");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(rest, "");
  EXPECT_GE(took, 900ms) << "cut before client_idle";
  EXPECT_LT(took, 3s) << "still open 3 s into a 1 s client_idle";
  EXPECT_NE(t.last_error(), SSL_ERROR_ZERO_RETURN) << "a close_notify came";
}

// An intercepted origin that answers one request and never the next: the 504 comes at
// timeouts.upstream_header (not before), the upstream connection is closed, the event says why.
TEST_F(ProxySlowInterceptedPeerTest, AnInterceptedOriginThatNeverAnswersTimesOutAtTheDeadline) {
  ProxyFixture::StartProxy(InterceptConfig() + "  timeouts: {upstream_header: 1500ms}\n");
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  auto origin_saw_close = std::make_shared<std::atomic<bool>>(false);
  ASSERT_NO_FATAL_FAILURE(
      StartSlowPeerOrigin(64 * 1024, [pki = dir_ / "pki", origin_saw_close](int fd) {
        ServeTls(fd, pki, [&](SSL* ssl) {
          const std::string res = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
          SSL_write(ssl, res.data(), static_cast<int>(res.size()));
          if (!ReadTlsHeader(ssl)) return;  // the second request, never answered
          char c;
          *origin_saw_close = SSL_read(ssl, &c, 1) <= 0;  // the fixture's socket timeout: 15 s
        });
      }));
  InterceptedTerminal t;
  ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
  ASSERT_TRUE(t.Send("GET /first HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
  ASSERT_THAT(t.ReadUntil("first"), HasSubstr("HTTP/1.1 200 OK"));
  std::this_thread::sleep_for(1s);  // within the first read's span: its watch is still armed
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(t.Send("GET /never-answered HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
  const std::string second = t.ReadUntil("\r\n\r\n");
  const auto waited = std::chrono::steady_clock::now() - sent;
  origin_thread_.join();
  EXPECT_TRUE(second.starts_with("HTTP/1.1 504")) << second.substr(0, 200);
  EXPECT_GE(waited, 1400ms) << "the 504 came before the deadline";
  EXPECT_LT(waited, 15s);
  EXPECT_TRUE(*origin_saw_close) << "the proxy kept the unanswered upstream connection open";
  json::object e = EventFor("https://" + authority + "/never-answered");
  EXPECT_EQ(Int(e, "http.response.status_code"), 504);
  EXPECT_EQ(Str(e, "error.message"), "the upstream sent no response in time");
}

// body_idle shorter than client_idle: the response's write leaves body_idle on the terminal's
// tcp_stream; the wait between intercepted kept-alive requests is cut by client_idle only (the
// deadline is taken off before the watched read — review of proxy20: a mutant without it closed
// the tunnel at body_idle and passed every other test).
TEST_F(ProxySlowInterceptedPeerTest, AnInterceptedWaitIsNotCutByALeftoverBodyIdle) {
  ProxyFixture::StartProxy(InterceptConfig() + "  timeouts: {client_idle: 4s, body_idle: 500ms}\n");
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kHttpsPort);
  // A tunnel the proxy closed makes the second write fail: EPIPE, not a SIGPIPE ending the binary.
  struct sigaction ignore {
  }, before{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &before);
  InterceptedTerminal t;
  ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(t.Send("GET /healthz HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")) << i;
    const std::string got = t.ReadUntil("ok\n");
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200")) << i << ": " << got.substr(0, 200);
    if (i == 0) std::this_thread::sleep_for(1500ms);  // > body_idle, < client_idle
  }
  sigaction(SIGPIPE, &before, nullptr);
}

// body_idle shorter than upstream_header: the request's write leaves body_idle on the TLS
// origin's tcp_stream; an origin answering after 1.2 s, within upstream_header, gets its answer
// through (review of proxy20: a mutant without the NoDeadline before the watched header read gave
// a 502 and passed every other test).
TEST_F(ProxySlowInterceptedPeerTest, AnInterceptedOriginsHeaderIsNotCutByALeftoverBodyIdle) {
  ProxyFixture::StartProxy(InterceptConfig() +
                           "  timeouts: {upstream_header: 4s, body_idle: 500ms}\n");
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(64 * 1024, [pki = dir_ / "pki"](int fd) {
    ServeTls(fd, pki, [&](SSL* ssl) {
      std::this_thread::sleep_for(1200ms);
      const std::string res = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate";
      SSL_write(ssl, res.data(), static_cast<int>(res.size()));
      char c;
      SSL_read(ssl, &c, 1);  // until the proxy closes
    });
  }));
  InterceptedTerminal t;
  ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
  ASSERT_TRUE(t.Send("GET /late HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
  const std::string got = t.ReadUntil("late");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200")) << got.substr(0, 300);
  t.Reset();
  origin_thread_.join();
}

TEST_F(ProxyTest, AnHttp10ClientGetsHttp10AndAnUntilCloseBody) {
  StartProxy();
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + Url("/chunked/100k.bin") + " HTTP/1.0\r\n\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->version(), 10u);
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->find(http::field::transfer_encoding), r->end()) << "no chunking for HTTP/1.0";
  EXPECT_TRUE(r->body() == origin_->File("100k.bin")) << r->body().size();
  EXPECT_TRUE(c->WaitClosed(5s));

  // With a length and no keep-alive asked for, the proxy closes after the response.
  auto c2 = Raw();
  ASSERT_TRUE(c2->Send("GET " + Url("/1k.bin") + " HTTP/1.0\r\n\r\n"));
  auto r2 = c2->ReadResponse();
  ASSERT_TRUE(r2) << c2->error();
  EXPECT_EQ(r2->version(), 10u);
  EXPECT_EQ((*r2)[http::field::content_length], "1024");
  EXPECT_TRUE(r2->body() == origin_->File("1k.bin"));
  EXPECT_TRUE(c2->WaitClosed(5s));
}

TEST_F(ProxyTest, AnUntilCloseBodyReachesAnHttp11ClientChunked) {
  StartProxy();
  // The origin really ends this body by closing (else the test would not cover the case).
  {
    RawClient direct("127.0.0.1", origin_ip_, kOriginPort);
    ASSERT_TRUE(direct.ok()) << direct.error();
    ASSERT_TRUE(direct.Send("GET /until-close/1k.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = direct.ReadResponse();
    ASSERT_TRUE(r) << direct.error();
    EXPECT_EQ(r->find(http::field::content_length), r->end());
    EXPECT_EQ(r->find(http::field::transfer_encoding), r->end());
  }
  auto c = Raw();
  for (int i = 0; i < 2; ++i) {  // the client connection survives the upstream's close
    ASSERT_TRUE(c->Send("GET " + Url("/until-close/100k.bin?" + std::to_string(i)) +
                        " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c->ReadResponse();
    ASSERT_TRUE(r) << c->error();
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_TRUE(r->chunked());
    EXPECT_TRUE(r->keep_alive());
    EXPECT_TRUE(r->body() == origin_->File("100k.bin")) << r->body().size();
  }
}

// ---- headers ----------------------------------------------------------------------------------

TEST_F(ProxyTest, ViaIsAddedAndHopByHopHeadersStayBehind) {
  StartProxy();
  auto r = Exchange("GET " + Url("/echo") +
                    " HTTP/1.1\r\n"
                    "Host: " +
                    kOriginName +
                    ":8080\r\n"
                    "Connection: X-Secret, keep-alive\r\n"
                    "X-Secret: 1\r\n"
                    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
                    "Proxy-Connection: keep-alive\r\n"
                    "Keep-Alive: timeout=5\r\n"
                    "TE: trailers\r\n"
                    "X-Forwarded-For: 127.10.9.9\r\n"
                    "\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  const std::string& seen = r->body();
  EXPECT_THAT(seen, HasSubstr("via=1.1 seccloud|"));
  EXPECT_THAT(seen, HasSubstr("host=www.origin.example:8080|"));
  EXPECT_THAT(seen, HasSubstr("x-secret=|"));
  EXPECT_THAT(seen, HasSubstr("proxy-authorization=|"));
  EXPECT_THAT(seen, HasSubstr("proxy-connection=|"));
  EXPECT_THAT(seen, HasSubstr("te=|"));
  EXPECT_THAT(seen, HasSubstr("keep-alive=|"));
  EXPECT_THAT(seen, HasSubstr("xff=|")) << "X-Forwarded-For is deleted by default";
  EXPECT_THAT(std::string((*r)[http::field::via]), HasSubstr("seccloud"));
}

TEST_F(ProxyTest, XffFromTheTenantProxyNamesTheTerminalAndIsIgnoredFromAnyoneElse) {
  StartProxy();
  auto ask = [&](const std::string& source, const std::string& tag, const std::string& xff) {
    auto r = Exchange("GET " + Url("/echo?" + tag) + " HTTP/1.1\r\nHost: x\r\n" +
                          (xff.empty() ? "" : "X-Forwarded-For: " + xff + "\r\n") + "\r\n",
                      source);
    EXPECT_TRUE(r);
    if (r) {
      EXPECT_THAT(r->body(), HasSubstr("xff=|"));
    }
    return EventFor(Url("/echo?" + tag));
  };
  json::object e = ask("127.10.0.2", "trusted", "127.10.5.7");
  EXPECT_EQ(Str(e, "tenant.id"), "tsu");
  EXPECT_EQ(Str(e, "client.ip"), "127.10.0.2");
  EXPECT_EQ(Str(e, "source.ip"), "127.10.5.7");
  EXPECT_EQ(Str(e, "seccloud.attribution"), "xff");

  e = ask("127.10.0.9", "forged", "127.10.5.7");
  EXPECT_EQ(Str(e, "tenant.id"), "tsu");
  EXPECT_EQ(Str(e, "client.ip"), "127.10.0.9");
  EXPECT_EQ(Str(e, "source.ip"), "127.10.0.9");
  EXPECT_EQ(Str(e, "seccloud.attribution"), "untrusted-xff-ignored");
  EXPECT_EQ(Metric("seccloud_proxy_untrusted_xff_total"), 1);

  e = ask("127.20.0.33", "direct", "");
  EXPECT_EQ(Str(e, "tenant.id"), "yokkaichi");
  EXPECT_EQ(Str(e, "source.ip"), "127.20.0.33");
  EXPECT_EQ(Str(e, "seccloud.attribution"), "direct");
}

// ---- refusals and failures -----------------------------------------------------------------

TEST_F(ProxyTest, ASourceOfNoTenantIsDeniedWithAPageAndAnEvent) {
  StartProxy();
  auto r =
      Exchange("GET " + Url("/1k.bin?outsider") + " HTTP/1.1\r\nHost: x\r\n\r\n", "127.200.0.5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 403u);
  const std::string ref((*r)["X-Seccloud-Reference"]);
  ASSERT_FALSE(ref.empty());
  EXPECT_THAT(r->body(), HasSubstr(ref));
  EXPECT_THAT(r->body(), HasSubstr("127.200.0.5"));
  json::object e = EventFor(Url("/1k.bin?outsider"));
  EXPECT_EQ(Str(e, "event.action"), "denied");
  EXPECT_EQ(Str(e, "event.outcome"), "failure");
  EXPECT_EQ(Str(e, "event.id"), ref);
  EXPECT_EQ(Str(e, "source.ip"), "127.200.0.5");
  EXPECT_EQ(Field(e, "tenant.id"), nullptr);
  EXPECT_EQ(Int(e, "http.response.status_code"), 403);
  for (const auto& l : origin_->AccessLog()) EXPECT_EQ(l.uri, "/healthz") << "reached the origin";
}

TEST_F(ProxyTest, UnresolvableNamesAndClosedPortsGet502Pages) {
  StartProxy();
  const std::string unknown = "http://no-such-host.example/";
  auto r = Exchange("GET " + unknown + " HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 502u);
  EXPECT_THAT(r->body(), HasSubstr("no-such-host.example could not be resolved"));
  EXPECT_THAT(r->body(), HasSubstr(std::string((*r)["X-Seccloud-Reference"])));
  json::object e = EventFor(unknown);
  EXPECT_EQ(Int(e, "http.response.status_code"), 502);
  EXPECT_EQ(Str(e, "event.action"), "failed");

  const std::string closed = "http://" + origin_ip_ + ":9/";
  r = Exchange("GET " + closed + " HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 502u);
  EXPECT_THAT(r->body(), HasSubstr("cannot connect"));
  e = EventFor(closed);
  EXPECT_EQ(Int(e, "http.response.status_code"), 502);
  ExpectStillServes();
}

// ---- CONNECT ------------------------------------------------------------------------------

TEST_F(ProxyTest, ConnectTunnelsToTheOrigin) {
  StartProxy();
  {
    auto c = Raw();
    ASSERT_TRUE(c->Send(std::string("CONNECT ") + kOriginName +
                        ":8080 HTTP/1.1\r\nHost: " + kOriginName + ":8080\r\n\r\n"));
    auto ok = c->ReadResponse(/*head=*/true);  // a 2xx to CONNECT has no body
    ASSERT_TRUE(ok) << c->error();
    EXPECT_EQ(ok->result_int(), 200u);
    // Plain HTTP inside the tunnel, origin-form, as to the origin itself.
    ASSERT_TRUE(c->Send("GET /100k.bin HTTP/1.1\r\nHost: www.origin.example\r\n\r\n"));
    auto inner = c->ReadResponse();
    ASSERT_TRUE(inner) << c->error();
    EXPECT_EQ(inner->result_int(), 200u);
    EXPECT_TRUE(inner->body() == origin_->File("100k.bin"));
    EXPECT_EQ(inner->find(http::field::via), inner->end()) << "the proxy does not touch a tunnel";
  }
  json::object e = EventFor("www.origin.example:8080");
  EXPECT_EQ(Str(e, "http.request.method"), "CONNECT");
  EXPECT_EQ(Int(e, "http.response.status_code"), 200);
  EXPECT_GT(Int(e, "http.response.bytes"), 100 * 1024);

  for (const std::string bad : {"www.origin.example", "http://www.origin.example:8080/",
                                "www.origin.example:0", "[::1:8080"}) {
    SCOPED_TRACE(bad);
    auto r = Exchange("CONNECT " + bad + " HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 400u);
  }
  ExpectStillServes();
}

// ---- events -----------------------------------------------------------------------------

TEST_F(ProxyTest, EveryRequestHasExactlyOneAccessEvent) {
  StartProxy();
  struct Case {
    std::vector<std::string> args;
    std::string path;
    std::string method;
    int status;
    int64_t bytes;
  };
  std::vector<Case> cases = {
      {{}, "/1k.bin?ev=1", "GET", 200, 1024},
      {{}, "/100k.bin?ev=2", "GET", 200, 100 * 1024},
      {{"-I"}, "/1k.bin?ev=3", "HEAD", 200, 0},
      {{}, "/204?ev=4", "GET", 204, 0},
      {{}, "/missing?ev=5", "GET", 404, -1},
      {{"--data-binary", "hello"}, "/upload?ev=6", "POST", 200, 1},
  };
  for (auto& c : cases) {
    auto args = c.args;
    args.insert(args.end(), {"-o", "/dev/null", Url(c.path)});
    auto r = Curl(args, "127.10.3.4");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  ASSERT_TRUE(WaitFor([&] { return Events().size() >= cases.size(); }, 10s));
  std::this_thread::sleep_for(300ms);
  auto all = Events();
  EXPECT_EQ(all.size(), cases.size()) << "one event per request, no more";
  for (auto& c : cases) {
    SCOPED_TRACE(c.path);
    auto events = EventsFor(Url(c.path));
    ASSERT_EQ(events.size(), 1u);
    const json::object& e = events[0];
    EXPECT_EQ(Str(e, "event.dataset"), "proxy.access");
    EXPECT_EQ(Str(e, "tenant.id"), "tsu");
    EXPECT_EQ(Str(e, "source.ip"), "127.10.3.4");
    EXPECT_EQ(Str(e, "client.ip"), "127.10.3.4");
    EXPECT_EQ(Str(e, "url.domain"), kOriginName);
    EXPECT_EQ(Str(e, "http.request.method"), c.method);
    EXPECT_EQ(Int(e, "http.response.status_code"), c.status);
    if (c.bytes >= 0) {
      EXPECT_EQ(Int(e, "http.response.bytes"), c.bytes);
    } else {
      EXPECT_GT(Int(e, "http.response.bytes"), 0);
    }
    EXPECT_THAT(Str(e, "user_agent.original"), HasSubstr("curl/"));
    EXPECT_NE(Field(e, "event.id"), nullptr);
    EXPECT_GE(Int(e, "event.duration"), 0);
  }
  EXPECT_EQ(Int(EventsFor(Url("/upload?ev=6"))[0], "http.request.bytes"), 5);
}

// ---- IPv6 ---------------------------------------------------------------------------------

TEST_F(ProxyTest, AnOriginOnIpv6Loopback) {
  if (!CanConnect("::1", 1) &&
      RunCommand({"sh", "-c", "ip -6 addr show lo | grep -q ::1"}, dir_).exit_code != 0)
    GTEST_SKIP() << "no ::1 here";
  // ::1 is shared by every test process: a port from our pid.
  const uint16_t port = static_cast<uint16_t>(20000 + getpid() % 20000);
  auto v6 = NginxOrigin::Start(dir_ / "origin6", "::1", port);
  if (!v6) GTEST_SKIP() << v6.error().ToString();
  StartProxy();
  for (const std::string& url :
       {"http://[::1]:" + std::to_string(port) + "/100k.bin",
        "http://v6.origin.example:" + std::to_string(port) + "/100k.bin"}) {
    SCOPED_TRACE(url);
    auto r = Exchange("GET " + url + " HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_TRUE(r->body() == (*v6)->File("100k.bin"));
    EXPECT_EQ(Str(EventFor(url), "destination.ip"), "::1");
  }
}

// ---- bad input: a 4xx or a close, never a crash, and the proxy serves on -----------------------

// Sends `bytes` and expects either a response with `status` or the connection closed.
void ExpectRefusedOrClosed(RawClient& c, const std::string& bytes, unsigned status) {
  ASSERT_TRUE(c.Send(bytes) || c.error().find("reset") != std::string::npos) << c.error();
  auto r = c.ReadResponse(false, 5s);
  if (r) {
    EXPECT_EQ(r->result_int(), status);
    EXPECT_TRUE(c.WaitClosed(5s)) << "the connection stays open after a refusal";
  } else {
    EXPECT_THAT(c.error(), ::testing::AnyOf(HasSubstr("closed"), HasSubstr("reset")))
        << "neither a response nor a close";
  }
}

TEST_F(ProxyTest, MalformedRequestLinesGet400) {
  StartProxy();
  for (const std::string bad :
       {"GET\r\n\r\n", "GET http://www.origin.example:8080/ HTTP/1.1 x\r\nHost: x\r\n\r\n",
        "GET http://www.origin.example:8080/ HTTP/9.9\r\nHost: x\r\n\r\n",
        "G@T http://www.origin.example:8080/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://www.origin.example:8080/a b HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://www.origin.example:8080/\x01 HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    SCOPED_TRACE(bad);
    auto c = Raw();
    ExpectRefusedOrClosed(*c, bad, 400);
  }
  ExpectStillServes();
}

TEST_F(ProxyTest, AnOriginFormRequestGets400) {
  StartProxy();
  auto r = Exchange("GET / HTTP/1.1\r\nHost: www.origin.example:8080\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 400u);
  EXPECT_THAT(r->body(), HasSubstr("absolute URL"));
  for (const auto& l : origin_->AccessLog()) EXPECT_NE(l.uri, "/");
  ExpectStillServes();
}

TEST_F(ProxyTest, OversizedHeaderGets431) {
  StartProxy();
  auto c = Raw();
  ExpectRefusedOrClosed(*c,
                        "GET " + Url("/1k.bin") + " HTTP/1.1\r\nHost: x\r\nX-Big: " +
                            std::string(10000, 'a') + "\r\n\r\n",
                        431);
  EXPECT_GE(Metric("seccloud_proxy_bad_requests_total"), 1);
  // Refused before it could be parsed, it still has its access event.
  ASSERT_TRUE(WaitFor([&] { return !Events().empty(); }, 5s)) << "no event for the 431";
  std::this_thread::sleep_for(300ms);
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(Int(events[0], "http.response.status_code"), 431);
  EXPECT_EQ(Str(events[0], "event.action"), "failed");
  EXPECT_EQ(Str(events[0], "tenant.id"), "tsu");
  EXPECT_EQ(Str(events[0], "source.ip"), "127.10.0.5");
  ExpectStillServes();
}

TEST_F(ProxyTest, TooManyHeadersGet431) {
  StartProxy();
  std::string req = "GET " + Url("/1k.bin?many") + " HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 40; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
  auto c = Raw();
  ExpectRefusedOrClosed(*c, req + "\r\n", 431);
  for (const auto& l : origin_->AccessLog()) EXPECT_NE(l.uri, "/1k.bin");
  json::object e = EventFor(Url("/1k.bin?many"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 431);
  EXPECT_EQ(Str(e, "tenant.id"), "tsu");
  EXPECT_EQ(Str(e, "source.ip"), "127.10.0.5");
  ExpectStillServes();
}

TEST_F(ProxyTest, SlowlorisIsCutOffByTheHeaderDeadline) {
  StartProxy();  // timeouts.client_header: 1s
  auto c = Raw();
  const std::string req = "GET " + Url("/1k.bin") + " HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (size_t i = 0; i < 50 && !closed; ++i) {
    if (!c->Send(std::string(1, req[i % req.size()]))) {
      closed = true;  // reset while sending
      break;
    }
    closed = c->WaitClosed(200ms);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closed) << "still open after " << std::chrono::duration<double>(took).count() << " s";
  EXPECT_LT(took, 2500ms);
  ExpectStillServes();
}

// The header deadline holds for every request of a connection, not only the first: otherwise one
// good request buys a slowloris client_idle (60 s) per header.
TEST_F(ProxyTest, SlowlorisAfterAGoodRequestIsCutOffToo) {
  StartProxy();  // timeouts.client_header: 1s, client_idle: 60s (default)
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + Url("/1k.bin") + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r) << c->error();
  ASSERT_EQ(r->result_int(), 200u);
  const std::string req = "GET " + Url("/1k.bin") + " HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (size_t i = 0; i < 50 && !closed; ++i) {
    if (!c->Send(std::string(1, req[i % req.size()]))) break;
    closed = c->WaitClosed(200ms);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closed) << "still open after " << std::chrono::duration<double>(took).count() << " s";
  EXPECT_LT(took, 2500ms);
  ExpectStillServes();
}

// Between kept-alive requests a client may idle for client_idle and no longer — the deadline of
// each wait counts from that wait's start (requests that keep coming keep the connection past
// several spans) — and the connection is not cut before it.
TEST_F(ProxyTest, AKeptAliveConnectionIsClosedAfterClientIdleNotBefore) {
  std::string config = Config();
  ASSERT_TRUE(WithTimeouts(config, "client_idle: 1s"));
  ProxyFixture::StartProxy(config);
  auto c = Raw();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c->Send("GET " + Url("/1k.bin") + " HTTP/1.1\r\nHost: x\r\n\r\n")) << i;
    auto r = c->ReadResponse();
    ASSERT_TRUE(r) << i << ": " << c->error();
    ASSERT_EQ(r->result_int(), 200u) << i;
    if (i < 4) std::this_thread::sleep_for(600ms);  // 0.6 s idle each, 2.4 s in all
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c->WaitClosed(700ms)) << "cut before client_idle";
  EXPECT_TRUE(c->WaitClosed(2500ms)) << "still open 3 s into a 1 s client_idle";
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 900ms);
  ExpectStillServes();
}

TEST_F(ProxyTest, AClientVanishingMidUploadLeavesNothingBehind) {
  StartProxy();
  {
    auto c = Raw();
    ASSERT_TRUE(c->Send("POST " + Url("/upload?vanish") +
                        " HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n"));
    ASSERT_TRUE(c->Send(std::string(1 << 20, 'u')));
    std::this_thread::sleep_for(200ms);
  }  // closed with 9 MiB still owed
  ASSERT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_connections_active") == 0; }, 10s))
      << "a connection is left open";
  json::object e = EventFor(Url("/upload?vanish"));
  EXPECT_NE(Int(e, "http.response.status_code"), 200);
  // The origin never answered 200 to a partial body.
  for (const auto& l : origin_->AccessLog())
    if (l.uri == "/sink") {
      EXPECT_NE(l.status, 200);
    }
  ExpectStillServes();
}

TEST_F(ProxyTest, GarbageBytesGet400OrAClose) {
  StartProxy();
  std::mt19937 rng(42);
  for (int round = 0; round < 5; ++round) {
    std::string junk(4096, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    auto c = Raw();
    ExpectRefusedOrClosed(*c, junk, 400);
  }
  ExpectStillServes();
}

TEST_F(ProxyTest, RequestSmugglingAttemptsGet400) {
  StartProxy();
  const std::string smuggled = "GET " + Url("/smuggled") + " HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string cl_te = "POST " + Url("/upload") +
                            " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                            smuggled;
  const std::string te_cl = "POST " + Url("/upload") +
                            " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                            "Content-Length: 5\r\n\r\n0\r\n\r\n" +
                            smuggled;
  const std::string two_cl = "POST " + Url("/upload") +
                             " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                             "Content-Length: 40\r\n\r\nhello" +
                             smuggled;
  const std::string te_obfuscated = "POST " + Url("/upload") +
                                    " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    "Transfer-Encoding: xchunked\r\n\r\nhello" +
                                    smuggled;
  // Chunked not the final coding: the length cannot be known (RFC 9112 §6.3: 400 and close).
  const std::string te_unknown = "POST " + Url("/upload") +
                                 " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"
                                 "5\r\nhello\r\n0\r\n\r\n" +
                                 smuggled;
  for (const std::string& bad : {cl_te, te_cl, two_cl, te_obfuscated, te_unknown}) {
    SCOPED_TRACE(bad);
    auto c = Raw();
    ASSERT_TRUE(c->Send(bad));
    auto r = c->ReadResponse();
    ASSERT_TRUE(r) << c->error();
    EXPECT_EQ(r->result_int(), 400u);
    EXPECT_TRUE(c->WaitClosed(5s)) << "nothing may follow on this connection";
  }
  std::this_thread::sleep_for(300ms);
  for (const auto& l : origin_->AccessLog()) {
    EXPECT_NE(l.uri, "/smuggled");
    EXPECT_NE(l.uri, "/sink") << "a refused request reached the origin";
  }
  ExpectStillServes();
}

// ---- under the supervisor -------------------------------------------------------------------

TEST_F(ProxyTest, UnderSeccloudRunAKilledProxyIsRestarted) {
  std::ofstream(ConfigPath()) << Config();
  ASSERT_NO_FATAL_FAILURE(Launch("run", "supervisor", &supervisor_pid_));
  auto proxy = [&]() -> json::object {
    Endpoint admin{*IpAddress::Parse(ip_), static_cast<uint16_t>(kAdminPort)};
    auto r = net::HttpRequestSync(admin, "GET", "/status", "", 2s);
    if (!r || r->status != 200) return {};
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object()) return {};
    if (auto* services = v.as_object().if_contains("services"); services && services->is_array())
      for (auto& s : services->as_array())
        if (s.as_object().at("name").as_string() == "proxy") return s.as_object();
    return {};
  };
  auto running = [&](pid_t not_pid) {
    json::object s = proxy();
    return !s.empty() && s.at("state").as_string() == "running" &&
           s.at("health").as_string() == "healthy" && s.at("pid").as_int64() != not_pid;
  };
  ASSERT_TRUE(WaitFor([&] { return running(0); })) << ReadFile(dir_ / "supervisor.out");
  auto r = Curl({"-o", "/dev/null", Url("/1k.bin")});
  EXPECT_THAT(r.output, HasSubstr("status=200 size=1024"));

  const pid_t first = static_cast<pid_t>(proxy().at("pid").as_int64());
  ASSERT_EQ(kill(first, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return running(first); })) << ReadFile(dir_ / "supervisor.out");
  EXPECT_GE(proxy().at("restarts").to_number<int64_t>(), 1);
  r = Curl({"-o", (dir_ / "after.bin").string(), Url("/100k.bin")});
  EXPECT_THAT(r.output, HasSubstr("status=200 size=102400")) << r.output;
  EXPECT_TRUE(ReadFile(dir_ / "after.bin") == origin_->File("100k.bin"));
}

// The hold budget on intercepted HTTPS (proxy17, issue 3): max_size and budget 150,000, nginx's
// TLS /slow/100k.bin held by two terminals inside their tunnels (about 60,000 bytes each for
// minutes); a third gets the 503 page inside its tunnel, "refused" in its event; the two
// terminals reset their connections and the budget goes back to 0. On base17 the held responses
// are not counted and the third is held too.
TEST_F(ProxySlowInterceptedPeerTest, InterceptedResponsesHeldForTheScanStayWithinTheHoldBudget) {
  ProxyFixture::StartProxy(RenderConfig({
      .tenants = "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [127.10.0.2]}\n",
      .hosts = {{kOriginName, ""}, {kTlsOrigin, ""}},
      .proxy = "  tls: {intercept: true, ca_dir: ca, extra_trust: [pki/bundle.pem]}\n"
               "  scan: {max_size: 150000, hold_budget: 150000, on_error: allow}\n",
      .rest = ScanSection(),
  }));
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kHttpsPort);
  const auto held = [&] { return Metric("seccloud_proxy_scan_held_bytes"); };
  std::vector<std::unique_ptr<InterceptedTerminal>> terminals;
  for (int i = 0; i < 2; ++i) {
    terminals.push_back(std::make_unique<InterceptedTerminal>());
    InterceptedTerminal& t = *terminals.back();
    ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
    ASSERT_TRUE(t.Send("GET /slow/100k.bin?held-" + std::to_string(i) +
                       " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
    ASSERT_TRUE(WaitFor([&] { return held() >= 59000.0 * (i + 1); }, 10s)) << held();
  }
  {
    InterceptedTerminal t;
    ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
    ASSERT_TRUE(t.Send("GET /slow/100k.bin?refused HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
    const auto r = WholeResponse(t.ReadUntil(""));
    ASSERT_TRUE(r) << "no whole answer inside the tunnel";
    EXPECT_EQ(r->result_int(), 503u) << r->body();
    EXPECT_EQ((*r)[http::field::retry_after], "10");
    EXPECT_THAT(r->body(), HasSubstr("the response cannot be held for the malware scan now"));
  }
  const json::object e = EventFor("https://" + authority + "/slow/100k.bin?refused");
  EXPECT_EQ(Int(e, "http.response.status_code"), 503);
  EXPECT_EQ(Str(e, "seccloud.scan.result"), "refused");
  EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted");
  EXPECT_EQ(Metric("seccloud_proxy_response_holds_refused_total"), 1);
  EXPECT_LE(held(), 150000.0);
  for (auto& t : terminals) t->Reset();
  EXPECT_TRUE(WaitFor([&] { return held() == 0; }, 10s)) << held();
}

// The early CONNECT event on the paths AnInterceptedConnectsEventIsWrittenBeforeItsPagesLinger
// does not take (proxy17, issue 3): a CONNECT blocked with 403 to the CONNECT itself (a
// blacklisted no-decrypt domain: no tunnel to show a page in), and a certificate-error page
// inside an intercepted tunnel (an origin whose certificate expired). In both the terminal goes
// on sending after its request, so the close lingers; the proxy is killed (SIGKILL) during the
// linger, and the CONNECT's event must already be in the spool.
class ProxyConnectEventTest : public ProxySlowInterceptedPeerTest {
 protected:
  static constexpr uint16_t kExpiredPort = 8444;
  static constexpr const char* kExpiredOrigin = "expired.seccloud.test";

  std::vector<std::pair<uint16_t, std::string>> TlsServers() const override {
    return {{kExpiredPort, "expired"}};
  }
  std::string SetUpConfig() const override { return EventConfig(); }

  std::string EventConfig() const {
    return RenderConfig({
        .tenants = "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [127.10.0.2]}\n",
        .hosts = {{kOriginName, ""}, {kExpiredOrigin, ""}, {"listed.example", ""}},
        .proxy = "  tls:\n    intercept: true\n    ca_dir: ca\n"
                 "    no_decrypt_domains: [listed.example]\n"
                 "    extra_trust: [pki/bundle.pem]\n",
        .rest = "policy:\n  common:\n"
                "    blacklist: [{name: common-deny, entries: [listed.example]}]\n",
    });
  }

  // The CONNECT events for `host`.
  std::vector<json::object> ConnectEvents(const std::string& host) {
    std::vector<json::object> out;
    for (const json::object& e : Events())
      if (Str(e, "http.request.method") == "CONNECT" && Str(e, "url.domain") == host)
        out.push_back(e);
    return out;
  }
};

TEST_F(ProxyConnectEventTest, ABlockedConnectsEventIsWrittenBeforeIts403Lingers) {
  ProxyFixture::StartProxy(EventConfig());
  auto c = std::make_unique<RawClient>("127.10.0.5", ip_, kProxyPort);
  ASSERT_TRUE(c->ok()) << c->error();
  // A browser sends its ClientHello right after the CONNECT; here bytes standing for it, and
  // more while the page is read.
  ASSERT_TRUE(c->Send("CONNECT listed.example:8443 HTTP/1.1\r\nHost: listed.example:8443\r\n\r\n" +
                      std::string(512, 'h')));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 403u) << r->body();
  const std::string piece(1024, 'b');
  for (int i = 0; i < 20; ++i) {
    if (!c->Send(piece)) break;
    std::this_thread::sleep_for(20ms);
  }
  // The terminal may still send (bytes came after the CONNECT): the close lingers.
  const bool lingering = Metric("seccloud_proxy_connections_active") == 1;
  KillProxy();
  EXPECT_TRUE(lingering) << "the proxy had closed before it was killed: nothing was tested";
  const auto events = ConnectEvents("listed.example");
  ASSERT_EQ(events.size(), 1u) << DescribeEvents();
  EXPECT_EQ(Int(events[0], "http.response.status_code"), 403);
  EXPECT_EQ(Str(events[0], "seccloud.verdict.action"), "block");
  EXPECT_EQ(Str(events[0], "rule.id"), "common-deny:listed.example");
}

TEST_F(ProxyConnectEventTest, ACertificateErrorPagesConnectEventIsWrittenBeforeItLingers) {
  ProxyFixture::StartProxy(EventConfig());
  const std::string authority = std::string(kExpiredOrigin) + ":" + std::to_string(kExpiredPort);
  const LingeredPage t = PageThenKillDuringLinger(authority, "/upload?cert-error");
  ASSERT_FALSE(t.rest.starts_with("error: ")) << t.rest;
  const auto r = WholeResponse(t.page);
  ASSERT_TRUE(r) << t.page;
  EXPECT_EQ(r->result_int(), 502u);
  EXPECT_THAT(r->body(), HasSubstr("tls: expired"));
  EXPECT_TRUE(t.lingering) << "the proxy had closed before it was killed: nothing was tested";
  const auto events = ConnectEvents(kExpiredOrigin);
  ASSERT_EQ(events.size(), 1u) << DescribeEvents();
  EXPECT_EQ(Str(events[0], "seccloud.tls.mode"), "intercepted");
  EXPECT_EQ(Str(events[0], "seccloud.tls.upstream_problem"), "expired");
  EXPECT_EQ(EventsFor("https://" + authority + "/upload?cert-error").size(), 1u)
      << DescribeEvents();
}

// From the review of proxy17: a request's own complete upload hold (kept for a resend until the
// request ends) and its response hold are charged to the same budget: with a budget of max_size
// (the least the parser allows, and what it sets when max_size > 256MiB) a POST of 60,000 bytes
// whose answer is 60,000 bytes was refused with 503 + Retry-After though nothing else was held —
// and every retry the same way (base17 delivers it). The upload is now released once the final
// response header came.
TEST_F(ProxyBigHeaderTest, ARequestIsNotRefusedForItsOwnUploadsBytes) {
  StartProxyWithHoldBudget(100000, 100000);
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [this](int fd) {
    origin_read_ = ReadHeaderBytes(fd);
    SendAll(fd,
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 60000\r\n"
            "Connection: close\r\n\r\n" +
                std::string(60000, 'r'));
  }));
  const std::string url = SlowPeerUrl("/post-with-answer");
  auto r = Exchange("POST " + url + " HTTP/1.1\r\n" + SlowPeerHost() +
                    "Content-Type: text/plain\r\nContent-Length: 60000\r\n\r\n" +
                    std::string(60000, 'u'));
  origin_thread_.join();
  EXPECT_THAT(origin_read_, HasSubstr("POST /post-with-answer"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u) << r->body().substr(0, 2000);
  EXPECT_EQ(r->body().size(), 60000u);
  EXPECT_TRUE(WaitFor([&] { return Metric("seccloud_proxy_scan_held_bytes") == 0; }, 5s));
}

// From the review of proxy17: a response too large to scan gives its hold back as soon as its held
// part went out (README: "for a body too large to scan as soon as its held part went out"):
// max_size and budget 50,000; /slow/100k.bin passes max_size at its first read and streams the rest
// at 64 bytes a second; meanwhile the gauge is 0 and another scanned response is held, not refused.
TEST_F(ProxyTest, AResponseTooLargeToScanGivesItsHoldBackWhileItStreams) {
  StartProxyWithHoldBudget(50000, 50000);
  auto streaming = Raw();
  ASSERT_TRUE(streaming->Send("GET " + Url("/slow/100k.bin?too-large") +
                              " HTTP/1.1\r\nHost: www.origin.example\r\n\r\n"));
  std::this_thread::sleep_for(1500ms);  // its first 60,000 bytes went out; the rest trickles
  EXPECT_EQ(Metric("seccloud_proxy_scan_held_bytes"), 0);
  auto r = Exchange("GET " + Url("/1k.bin?while-streaming") +
                    " HTTP/1.1\r\nHost: www.origin.example\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u) << r->body().substr(0, 2000);
}

// From the review of proxy17: the response hold's HoldDeadline (new in proxy17, ScanAndRelay's
// hold_end). body_idle 3 s, max_size 65,536: HoldDeadline 9 s. /slow/100k.bin's
// trickle keeps each read within body_idle, so only the hold's deadline ends it: 504 after ~9 s,
// the event names the hold's deadline.
TEST_F(ProxyTest, AResponseTricklingPastTheHoldDeadlineGets504) {
  std::string config = WithBodyIdle1s(ScanConfig(65536));
  config.replace(config.find("body_idle: 1s"), 13, "body_idle: 3s");  // HoldDeadline 9 s
  ProxyFixture::StartProxy(config);
  // 60,000 bytes at once, then 64 bytes a second: still below max_size, so the hold keeps reading.
  const std::string url = Url("/slow/100k.bin?deadline");
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + url + " HTTP/1.1\r\nHost: www.origin.example\r\n\r\n"));
  const auto start = std::chrono::steady_clock::now();
  auto r = c->ReadResponse(false, 40s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r) << "no answer within 40 s: the hold has no deadline";
  EXPECT_EQ(r->result_int(), 504u);
  EXPECT_LT(took, 16s);
  EXPECT_THAT(Str(EventFor(url), "error.message"), HasSubstr("the hold's deadline"));
}

// ---- a held response's client gone while the origin is silent (proxy18, issue 3) -------------

// Waits (at most 40 s) until the peer of `read_some` closes the connection or resets it: true if
// it did. `read_some` reads what comes and returns recv's result (0 on EOF).
bool PeerClosedWithin40s(int fd, const std::function<ssize_t()>& read_some) {
  const auto deadline = std::chrono::steady_clock::now() + 40s;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) != 1) return false;
    if (read_some() <= 0) return true;
  }
}

// What the silent origins send: the header of a 100,000-byte body and its first 30,000 bytes.
const std::string kSilentOriginHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n";
constexpr size_t kSilentOriginSent = 30000;

// A client gone while the origin sends nothing (proxy18): the origin sends 30,000 bytes of a
// 100,000-byte scanned body, then nothing; the client resets (then, second case, closes).
// body_idle is 60 s, so only the watch on the client's socket can end the hold within seconds:
// the gauge goes back to 0 within 5 s, the origin sees its connection dropped (not pooled: the
// response was not read whole), the event says the client closed and that it was seen while the
// origin sent nothing. On base18 (a look at the client only after each read from the origin) the
// hold stays until body_idle: the gauge stays at 30,000 and the origin's connection open.
TEST_F(ProxyBigHeaderTest, AHeldResponsesClientGoneWhileTheOriginIsSilentEndsTheHold) {
  std::string config = WithBodyIdle1s(ScanConfig());
  config.replace(config.find("body_idle: 1s"), 13, "body_idle: 60s");
  ProxyFixture::StartProxy(config);
  const auto held = [&] { return Metric("seccloud_proxy_scan_held_bytes"); };
  for (const bool reset : {true, false}) {
    SCOPED_TRACE(reset ? "the client resets" : "the client closes");
    const std::string path = reset ? "/silent-then-reset" : "/silent-then-close";
    std::atomic<bool> dropped{false};
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [&dropped](int fd) {
      ReadHeaderBytes(fd);
      SendAll(fd, kSilentOriginHead + std::string(kSilentOriginSent, 's'));
      char buf[4096];
      dropped = PeerClosedWithin40s(fd, [&] { return recv(fd, buf, sizeof buf, 0); });
    }));
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl(path) + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    ASSERT_TRUE(WaitFor([&] { return held() >= kSilentOriginSent; }, 10s)) << held();
    std::this_thread::sleep_for(300ms);  // the origin has been silent for a while
    EXPECT_EQ(held(), kSilentOriginSent) << "the origin sent more than it should";
    if (reset)
      c->Reset();
    else
      c.reset();
    EXPECT_TRUE(WaitFor([&] { return held() == 0; }, 5s))
        << "the hold outlived its client: " << held() << " bytes held";
    origin_thread_.join();
    EXPECT_TRUE(dropped) << "the proxy kept the origin's connection";
    const json::object e = EventFor(SlowPeerUrl(path));
    EXPECT_THAT(Str(e, "error.message"),
                HasSubstr("the client closed the connection while the response was held for the "
                          "malware scan (after 30000 body bytes from the origin; seen while the "
                          "origin sent nothing)"));
    EXPECT_EQ(Int(e, "http.response.status_code"), -1) << "no status: nothing reached it";
  }
  ExpectStillServes();
}

// User + system CPU seconds a process has used so far (/proc/PID/stat fields 14 and 15).
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));  // field 3 onwards
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (in >> field); ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A client that sends more while its response is held (a pipelined request) is not gone: the
// watch wakes for its bytes, looks, and stops; the response is delivered whole when the silent
// origin goes on, then the pipelined request is answered. Holds on base18 too (it pins that the
// watch does not take bytes for a close).
TEST_F(ProxyBigHeaderTest, AHeldResponsesClientThatSendsMoreIsNotGone) {
  ProxyFixture::StartProxy(ScanConfig());
  const auto held = [&] { return Metric("seccloud_proxy_scan_held_bytes"); };
  std::atomic<bool> go_on{false};
  ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [&go_on](int fd) {
    ReadHeaderBytes(fd);
    SendAll(fd, kSilentOriginHead + std::string(kSilentOriginSent, 'p'));
    WaitFor([&] { return go_on.load(); }, 20s);
    SendAll(fd, std::string(100000 - kSilentOriginSent, 'q'));
  }));
  auto c = Raw();
  ASSERT_TRUE(c->Send("GET " + SlowPeerUrl("/held-then-pipelined") + " HTTP/1.1\r\n" +
                      SlowPeerHost() + "\r\n"));
  ASSERT_TRUE(WaitFor([&] { return held() >= kSilentOriginSent; }, 10s)) << held();
  ASSERT_TRUE(c->Send("GET " + Url("/1k.bin") + " HTTP/1.1\r\nHost: www.origin.example\r\n\r\n"));
  std::this_thread::sleep_for(500ms);  // the watch saw the bytes meanwhile
  EXPECT_EQ(held(), kSilentOriginSent) << "the hold ended for a client that only sent more";
  // The socket stays readable: a watch that waited again would wake at once, again and again
  // (the review of proxy18's mutant). Over a second of the held response, an idle proxy takes a
  // few milliseconds of CPU; a spinning worker takes its core (under heavy load still ~0.3 s).
  const double cpu_before = ProcessCpuSeconds(proxy_pid_);
  std::this_thread::sleep_for(1s);
  EXPECT_LT(ProcessCpuSeconds(proxy_pid_) - cpu_before, 0.2)
      << "the proxy spun while the response was held for a client that sent more";
  go_on = true;
  auto r = c->ReadResponse();
  origin_thread_.join();
  ASSERT_TRUE(r) << c->error();
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), std::string(kSilentOriginSent, 'p') + std::string(70000, 'q'));
  auto r2 = c->ReadResponse();
  ASSERT_TRUE(r2) << c->error();
  EXPECT_EQ(r2->result_int(), 200u);
  EXPECT_EQ(r2->body(), origin_->File("1k.bin"));
  EXPECT_TRUE(WaitFor([&] { return held() == 0; }, 5s)) << held();
}

// The same inside an intercepted tunnel: the origin is the test's own TLS server (the test PKI's
// good.seccloud.test certificate) that sends 30,000 bytes of a 100,000-byte body, then nothing.
// The terminal resets its TCP connection (then, second case, closes it with a FIN and no
// close_notify): the hold ends within 5 s although body_idle is 60 s. A terminal ending with a
// close_notify sends a TLS record, which the watch cannot tell from a pipelined request without
// decrypting it: it stops there, and that close is seen when the hold ends (README, Known limits).
TEST_F(ProxySlowInterceptedPeerTest, AnInterceptedTerminalGoneWhileTheOriginIsSilentEndsTheHold) {
  ProxyFixture::StartProxy(RenderConfig({
      .tenants = "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [127.10.0.2]}\n",
      .hosts = {{kOriginName, ""}, {kTlsOrigin, ""}},
      .proxy = "  tls: {intercept: true, ca_dir: ca, extra_trust: [pki/bundle.pem]}\n"
               "  timeouts: {body_idle: 60s}\n"
               "  scan: {max_size: 1048576, on_error: allow}\n",
      .rest = ScanSection(),
  }));
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  const auto held = [&] { return Metric("seccloud_proxy_scan_held_bytes"); };
  for (const bool reset : {true, false}) {
    SCOPED_TRACE(reset ? "the terminal resets" : "the terminal closes");
    const std::string path = reset ? "/silent-then-reset" : "/silent-then-close";
    std::atomic<bool> dropped{false};
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [&dropped, pki = dir_ / "pki"](int fd) {
      ServeTls(fd, pki, [&](SSL* ssl) {
        const std::string out = kSilentOriginHead + std::string(kSilentOriginSent, 't');
        if (SSL_write(ssl, out.data(), static_cast<int>(out.size())) !=
            static_cast<int>(out.size()))
          return;
        char buf[4096];
        dropped = PeerClosedWithin40s(fd, [&] { return SSL_read(ssl, buf, sizeof buf); });
      });
    }));
    auto t = std::make_unique<InterceptedTerminal>();
    ASSERT_EQ(t->Open(ip_, authority, CaPem()), "");
    ASSERT_TRUE(t->Send("GET " + path + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
    ASSERT_TRUE(WaitFor([&] { return held() >= kSilentOriginSent; }, 10s)) << held();
    std::this_thread::sleep_for(300ms);
    if (reset)
      t->Reset();
    else  // a FIN and no close_notify (the review of proxy18: a plain close() sent an RST here)
      ASSERT_TRUE(t->CloseWithFin()) << "unread bytes would have made the close a reset";
    EXPECT_TRUE(WaitFor([&] { return held() == 0; }, 5s))
        << "the hold outlived its terminal: " << held() << " bytes held";
    origin_thread_.join();
    EXPECT_TRUE(dropped) << "the proxy kept the origin's connection";
    const json::object e = EventFor("https://" + authority + path);
    EXPECT_THAT(Str(e, "error.message"),
                HasSubstr("the client closed the connection while the response was held for the "
                          "malware scan (after 30000 body bytes from the origin; seen while the "
                          "origin sent nothing)"));
    EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted");
  }
}

// The two cases of the half-closed client tests (plain and intercepted): a response held for the
// scan, and one bypassed by its Content-Type; the origin's answer for each.
struct HalfCloseCase {
  const char* path;
  const char* content_type;
  bool delivered;
};
constexpr HalfCloseCase kHalfCloseCases[] = {{"/half-closed-held", "text/plain", false},
                                             {"/half-closed-bypassed", "video/mp4", true}};
const std::string kHalfCloseBody(5000, 'h');
std::string HalfCloseAnswer(const HalfCloseCase& k) {
  return std::string("HTTP/1.1 200 OK\r\nContent-Type: ") + k.content_type +
         "\r\nContent-Length: 5000\r\n\r\n" + kHalfCloseBody;
}

// A client that half-closes after its request (shutdown(SHUT_WR), `nc -N`) gets nothing when its
// response is held for the scan — its EOF with nothing before it is taken for a client gone, as
// nginx's upstream module does without proxy_ignore_client_abort and Squid with its default
// half_closed_clients off — while a bypassed (unscanned) response still reaches it. Both cases
// pin what the README says since proxy17 (they hold on base18 too: there the EOF was seen after
// the origin's read, here by the watch as well).
TEST_F(ProxyBigHeaderTest, AHalfClosedClientGetsNothingHeldButItsBypassedResponse) {
  ProxyFixture::StartProxy(
      Config("  scan: {max_size: 1048576, on_error: allow, bypass_content_types: [video/]}\n",
             ScanSection()));
  for (const HalfCloseCase& k : kHalfCloseCases) {
    SCOPED_TRACE(k.path);
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [&](int fd) {
      ReadHeaderBytes(fd);
      SendAll(fd, HalfCloseAnswer(k));
    }));
    auto c = Raw();
    ASSERT_TRUE(c->Send("GET " + SlowPeerUrl(k.path) + " HTTP/1.1\r\n" + SlowPeerHost() + "\r\n"));
    c->ShutdownWrite();
    auto r = c->ReadResponse(false, 10s);
    origin_thread_.join();
    const json::object e = EventFor(SlowPeerUrl(k.path));
    if (k.delivered) {
      ASSERT_TRUE(r) << c->error();
      EXPECT_EQ(r->result_int(), 200u);
      EXPECT_EQ(r->body(), kHalfCloseBody);
      EXPECT_EQ(Str(e, "seccloud.scan.result"), "bypassed");
      EXPECT_EQ(Int(e, "http.response.status_code"), 200);
    } else {
      EXPECT_FALSE(r) << "a held response reached a half-closed client";
      EXPECT_EQ(c->pending(), "") << "nothing at all reaches it";
      EXPECT_THAT(Str(e, "error.message"),
                  HasSubstr("the client closed the connection while the response was held for "
                            "the malware scan"));
      EXPECT_EQ(Int(e, "http.response.status_code"), -1);
    }
  }
  ExpectStillServes();
}

// The intercepted twin of the test above (proxy19): a terminal inside an intercepted tunnel that
// half-closes after its request — a TCP FIN after its TLS records, no close_notify — is taken
// for gone when its response is held for the scan (the FIN is its socket's EOF with nothing
// before it, as for a plain client), and gets nothing of it: the tunnel ends with the proxy's
// close_notify alone. A bypassed (unscanned) response still reaches it whole. The same rule as
// on plain HTTP (README, "Responses").
TEST_F(ProxySlowInterceptedPeerTest,
       AnInterceptedHalfClosedTerminalGetsNothingHeldButItsBypassedResponse) {
  ProxyFixture::StartProxy(RenderConfig({
      .tenants = "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [127.10.0.2]}\n",
      .hosts = {{kOriginName, ""}, {kTlsOrigin, ""}},
      .proxy = "  tls: {intercept: true, ca_dir: ca, extra_trust: [pki/bundle.pem]}\n"
               "  scan: {max_size: 1048576, on_error: allow, bypass_content_types: [video/]}\n",
      .rest = ScanSection(),
  }));
  const std::string authority = std::string(kTlsOrigin) + ":" + std::to_string(kSlowPeerPort);
  for (const HalfCloseCase& k : kHalfCloseCases) {
    SCOPED_TRACE(k.path);
    ASSERT_NO_FATAL_FAILURE(StartSlowPeerOrigin(256 * 1024, [&, pki = dir_ / "pki"](int fd) {
      ServeTls(fd, pki, [&](SSL* ssl) {
        // The held case answers once the terminal's FIN has long reached the proxy, so that the
        // hold meets it while the origin is silent (the watch's case). Answered at once, the
        // held response was delivered whole in 4 of 40 runs under load: the FIN was not seen
        // before a response that came in one read was scanned and released (README "Known
        // limits").
        if (!k.delivered) std::this_thread::sleep_for(500ms);
        const std::string out = HalfCloseAnswer(k);
        SSL_write(ssl, out.data(), static_cast<int>(out.size()));
      });
    }));
    InterceptedTerminal t;
    ASSERT_EQ(t.Open(ip_, authority, CaPem()), "");
    ASSERT_TRUE(
        t.Send(std::string("GET ") + k.path + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
    ASSERT_TRUE(t.ShutdownWrite());
    // An alert OpenSSL writes when a read fails goes to a socket shut for writing: EPIPE, and
    // SIGPIPE would end the whole test binary instead of failing this test (review of proxy19).
    struct sigaction ignore {
    }, before{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &before);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string got = t.ReadUntil("");  // until the proxy's close_notify
    const auto took = std::chrono::steady_clock::now() - t0;
    const int ended = t.last_error();
    sigaction(SIGPIPE, &before, nullptr);
    EXPECT_EQ(ended, SSL_ERROR_ZERO_RETURN) << "the tunnel ends with the proxy's close_notify";
    EXPECT_LT(took, std::chrono::seconds(10)) << "ended by the proxy, not the read timeout";
    origin_thread_.join();
    const json::object e = EventFor("https://" + authority + k.path);
    EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted");
    if (k.delivered) {
      EXPECT_THAT(got, ::testing::StartsWith("HTTP/1.1 200"));
      EXPECT_THAT(got, ::testing::EndsWith("\r\n\r\n" + kHalfCloseBody))
          << "the bypassed response, whole";
      EXPECT_EQ(Str(e, "seccloud.scan.result"), "bypassed");
      EXPECT_EQ(Int(e, "http.response.status_code"), 200);
    } else {
      EXPECT_EQ(got, "") << "a held response reached a half-closed terminal";
      EXPECT_THAT(Str(e, "error.message"),
                  HasSubstr("the client closed the connection while the response was held for "
                            "the malware scan"));
      EXPECT_EQ(Int(e, "http.response.status_code"), -1);
    }
  }
  ExpectStillServes();
}

}  // namespace
}  // namespace seccloud
