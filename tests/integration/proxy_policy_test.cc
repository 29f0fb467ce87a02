// R9/R10: the proxy's URL filter and TLS inspection end to end, against a real nginx origin
// (HTTP, and HTTPS with certificates from tests/tls/make-test-pki.sh: a good chain and the
// badssl.com-style broken ones) and curl as the terminal. Each test starts `seccloud proxy` with
// one configuration (common and tenant lists, UT1-style categories imported with `seccloud policy
// import-categories`, a force-block list, a threat feed directory, an interception CA made with
// `seccloud ca init`) and checks what the terminal gets and what the access event says.
// Loopback addresses are taken per process (from the pid), so tests run in parallel.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "core/process.h"
#include "core/spool_reader.h"
#include "net/http.h"
#include "nginx_origin.h"
#include "test_util.h"

namespace seccloud {
namespace {

using integration::CommandResult;
using integration::Count;
using integration::Field;
using integration::Int;
using integration::ReadFile;
using integration::RunCommand;
using integration::Str;
using integration::WaitFor;

namespace fs = std::filesystem;
namespace json = boost::json;
using integration::CanConnect;
using integration::NginxOrigin;
using integration::NginxTlsServer;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint16_t kHttpPort = 8080;
constexpr uint16_t kProxyPort = 3128;
constexpr int kAdminPort = 19600;  // the proxy's admin endpoint is this + 1

// Terminals: tsu (127.10/16, its proxy 127.10.0.2) and ise (127.30/16, its proxy 127.30.0.2).
constexpr const char* kTsuTerminal = "127.10.0.5";
constexpr const char* kTsuOtherTerminal = "127.10.0.6";
constexpr const char* kTsuProxy = "127.10.0.2";
constexpr const char* kIseTerminal = "127.30.0.5";

// The HTTPS origins: a make-test-pki.sh certificate each, on a port each.
struct TlsOrigin {
  const char* pki_name;  // OUTDIR/<pki_name>.pem and .key
  const char* host;      // the name the terminal asks for
  uint16_t port;
  const char* problem;  // seccloud.tls.upstream_problem; empty for the good one
};
constexpr TlsOrigin kTlsOrigins[] = {
    {"good", "good.seccloud.test", 8443, ""},
    {"expired", "expired.seccloud.test", 8444, "expired"},
    {"wrong-host", "wrong-host.seccloud.test", 8445, "wrong_host"},
    {"self-signed", "self-signed.seccloud.test", 8446, "self_signed"},
    {"untrusted-root", "untrusted-root.seccloud.test", 8447, "untrusted_root"},
    {"incomplete-chain", "incomplete.seccloud.test", 8448, "incomplete_chain"},
};

// Names the proxy resolves to the origin (besides the TLS origins').
constexpr const char* kHttpHosts[] = {
    "www.origin.example",     // common whitelist; ise blacklists it
    "listed.example",         // common blacklist
    "casino.example",         // category gambling: block
    "games.example",          // category games: warn
    "upload.origin.example",  // common posting restriction
    "evil.example",           // force_block list; tsu whitelists it
    "feed-old.example",       // in the threat feed from the start; tsu whitelists it
    "feed-new.example",       // added to the threat feed during a test
    "news.example",           // category news: no action
};

constexpr const char* kBlockedJa =
    "このページへのアクセスは、セキュリティポリシーによりブロックされました。";
constexpr const char* kWarnJa = "このページは注意が必要なサイトに分類されています。";

// One HTTP/1.1 GET through the proxy on a fresh connection from `source`, read to the close; the
// status code, or -1 (with *error) when the exchange failed. Thread-safe, no child process.
int RawGet(const std::string& source, const std::string& proxy_ip, const std::string& url,
           std::string* error) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(kProxyPort);
  inet_pton(AF_INET, proxy_ip.c_str(), &dst.sin_addr);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    *error = url + ": connect: " + strerror(errno);
    close(fd);
    return -1;
  }
  const std::string host = url.substr(7, url.find('/', 7) - 7);
  const std::string req =
      "GET " + url + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    *error = url + ": send: " + strerror(errno);
    close(fd);
    return -1;
  }
  std::string got;
  char buf[16384];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      *error = url + ": recv: " + strerror(errno);
      close(fd);
      return -1;
    }
    if (n == 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  // "HTTP/1.1 200 OK\r\n…", and a body complete by its Content-Length.
  const size_t head_end = got.find("\r\n\r\n");
  if (got.rfind("HTTP/1.1 ", 0) != 0 || got.size() < 12 || head_end == std::string::npos) {
    *error = url + ": not an HTTP response: " + got.substr(0, 200);
    return -1;
  }
  static const std::regex kLength("\r\n[Cc]ontent-[Ll]ength: *([0-9]+)\r\n");
  std::smatch m;
  const std::string head = got.substr(0, head_end + 2);
  if (!std::regex_search(head, m, kLength) || got.size() - head_end - 4 != std::stoul(m[1].str())) {
    *error = url + ": truncated or unframed response: " + head;
    return -1;
  }
  return std::stoi(got.substr(9, 3));
}

class ProxyPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = SECCLOUD_BINARY;
    dir_ = integration::FreshTestDir("policy");
    const std::string tail = integration::PidAddressTail();
    ip_ = "127.81." + tail;
    origin_ip_ = "127.82." + tail;

    // The origins' PKI (badssl.com's catalogue, one root the proxy is told to trust).
    auto pki = RunCommand(
        {std::string(SECCLOUD_SOURCE_DIR) + "/tests/tls/make-test-pki.sh", (dir_ / "pki").string()},
        dir_);
    ASSERT_EQ(pki.exit_code, 0) << pki.output;
    std::vector<NginxTlsServer> tls;
    for (const TlsOrigin& o : kTlsOrigins)
      tls.push_back({o.port, dir_ / "pki" / (std::string(o.pki_name) + ".pem"),
                     dir_ / "pki" / (std::string(o.pki_name) + ".key")});
    auto origin = NginxOrigin::Start(dir_ / "origin", origin_ip_, kHttpPort, std::move(tls));
    ASSERT_TRUE(origin) << origin.error().ToString();
    origin_ = std::move(*origin);

    // UT1-style categories: <category>/domains, one host per line.
    WriteFile(dir_ / "ut1" / "gambling" / "domains", "casino.example\n");
    WriteFile(dir_ / "ut1" / "games" / "domains", "games.example\n");
    WriteFile(dir_ / "ut1" / "news" / "domains", "news.example\n");
    auto import = RunCommand({binary_, "policy", "import-categories", (dir_ / "ut1").string(),
                              (dir_ / "categories.db").string()},
                             dir_);
    ASSERT_EQ(import.exit_code, 0) << import.output;

    // The threat feed: a directory whose files are swapped in while the proxy runs.
    WriteFile(dir_ / "feed" / "threats.txt", "feed-old.example\nfeed-other.example\n");

    std::ofstream(ConfigPath()) << Config();
    auto ca = RunCommand({binary_, "ca", "init", "--config", ConfigPath()}, dir_);
    ASSERT_EQ(ca.exit_code, 0) << ca.output;
    ASSERT_TRUE(fs::exists(CaPem())) << ca.output;
  }

  void TearDown() override {
    if (proxy_pid_ > 0) {
      int status = 0;
      EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << "the proxy died during the test:\n"
                                                          << ProxyOutput();
      kill(proxy_pid_, SIGTERM);
      if (!WaitFor([&] { return waitpid(proxy_pid_, &status, WNOHANG) == proxy_pid_; }, 5s)) {
        kill(-proxy_pid_, SIGKILL);
        waitpid(proxy_pid_, &status, 0);
      }
    }
    origin_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  static void WriteFile(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

  // The configuration every test starts from; `tenant_tsu_extra` adds keys to tsu's policy layer
  // (indented for it), `no_decrypt` is proxy.tls.no_decrypt_domains.
  std::string Config(const std::string& tenant_tsu_extra = "",
                     const std::string& no_decrypt = "[]") const {
    std::string hosts;
    for (const char* h : kHttpHosts) hosts += "    " + std::string(h) + ": [" + origin_ip_ + "]\n";
    for (const TlsOrigin& o : kTlsOrigins)
      hosts += "    " + std::string(o.host) + ": [" + origin_ip_ + "]\n";
    return "node: {name: test-gw, state_dir: state}\n"
           "events: {spool_dir: spool}\n"
           "supervisor:\n"
           "  admin: " +
           ip_ + ":" + std::to_string(kAdminPort) +
           "\n"
           "  drain_timeout: 1s\n"
           "tenants:\n"
           "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [" +
           kTsuProxy +
           "]}\n"
           "  - {id: ise, name: 伊勢市, networks: [127.30.0.0/16], proxies: [127.30.0.2]}\n"
           "proxy:\n"
           "  listen: [" +
           ip_ + ":" + std::to_string(kProxyPort) +
           "]\n"
           "  workers: 2\n"
           "  system_resolver: false\n"
           "  block_page_language: ja\n"
           "  hosts:\n" +
           hosts +
           "  tls:\n"
           "    intercept: true\n"
           "    ca_dir: ca\n"
           "    no_decrypt_domains: " +
           no_decrypt +
           "\n"
           "    extra_trust: [pki/bundle.pem]\n"
           "policy:\n"
           "  category_db: categories.db\n"
           "  force_block:\n"
           "    - {name: incident-response, entries: [evil.example]}\n"
           "  common:\n"
           "    whitelist: [{name: common-allow, entries: [www.origin.example]}]\n"
           "    blacklist: [{name: common-deny, entries: [listed.example]}]\n"
           "    categories: {gambling: block, games: warn}\n"
           "    posting: {name: no-upload, entries: [upload.origin.example]}\n"
           "  tenants:\n"
           "    tsu:\n"
           "      whitelist: [{name: tsu-allow, entries: [evil.example, feed-old.example]}]\n" +
           tenant_tsu_extra +
           "    ise:\n"
           "      blacklist: [{name: ise-bl, entries: [www.origin.example]}]\n"
           "  feeds:\n"
           "    - {name: test-threats, source: feed, interval: 10s}\n";
  }

  std::string ConfigPath() const { return (dir_ / "seccloud.yaml").string(); }
  std::string CaPem() const { return (dir_ / "ca" / "ca.pem").string(); }

  void StartProxy(const std::string& config) {
    std::ofstream(ConfigPath()) << config;
    auto pid = Spawn(
        SpawnOptions{{binary_, "proxy", "--config", ConfigPath()}, {}, {}, dir_ / "proxy.out"});
    ASSERT_TRUE(pid) << pid.error().ToString();
    proxy_pid_ = *pid;
    ASSERT_TRUE(WaitFor([&] { return CanConnect(ip_, kProxyPort) && Healthy(); }, 10s))
        << ProxyOutput();
  }
  void StartProxy() { StartProxy(Config()); }

  bool Healthy() {
    auto r = net::HttpRequestSync(
        Endpoint{*IpAddress::Parse(ip_), static_cast<uint16_t>(kAdminPort + 1)}, "GET", "/healthz",
        "", 1s);
    return r && r->status == 200;
  }

  std::string ProxyOutput() const { return ReadFile(dir_ / "proxy.out"); }

  static std::string Http(const std::string& host, const std::string& path = "/healthz") {
    return "http://" + host + ":" + std::to_string(kHttpPort) + path;
  }
  static std::string Https(const TlsOrigin& o, const std::string& path = "/healthz") {
    return "https://" + std::string(o.host) + ":" + std::to_string(o.port) + path;
  }
  static std::string Https(const std::string& host, const std::string& path = "/healthz") {
    return "https://" + host + ":8443" + path;
  }

  // curl through the proxy from `source`, trusting only the interception CA; the body (or curl's
  // error) is followed by "status=<code>".
  CommandResult Curl(std::vector<std::string> args, const std::string& source = kTsuTerminal) {
    std::vector<std::string> argv = {
        "curl",        "-sS",     "--max-time",
        "30",          "--proxy", "http://" + ip_ + ":" + std::to_string(kProxyPort),
        "--interface", source,    "--cacert",
        CaPem(),       "-w",      "status=%{http_code}\\n"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, dir_);
  }

  // Every proxy.access event so far, verifying the spool has no sequence gap.
  std::vector<json::object> Events() {
    std::vector<json::object> out;
    auto reader = SpoolReader::Open(dir_ / "spool" / "proxy", "proxy");
    if (!reader) return out;
    while (true) {
      auto record = (*reader)->Next();
      EXPECT_TRUE(record) << record.error().ToString();
      if (!record || !*record) break;
      if (Str((*record)->event, "event.dataset") == "proxy.access") out.push_back((*record)->event);
    }
    return out;
  }

  std::string DescribeEvents() {
    std::string s;
    for (const auto& e : Events()) s += json::serialize(e) + "\n";
    return s;
  }

  // The one event for `url` (the request's url.full), waited for.
  json::object EventFor(const std::string& url) {
    auto find = [&]() -> std::vector<json::object> {
      std::vector<json::object> out;
      for (auto& e : Events())
        if (Str(e, "url.full") == url) out.push_back(e);
      return out;
    };
    EXPECT_TRUE(WaitFor([&] { return !find().empty(); }, 10s))
        << "no event for " << url << "; events:\n"
        << DescribeEvents();
    std::this_thread::sleep_for(200ms);
    auto events = find();
    EXPECT_EQ(events.size(), 1u) << url << "\n" << DescribeEvents();
    return events.empty() ? json::object{} : events[0];
  }

  // The href of the warning page's continue link, unescaped.
  static std::string ContinueLink(const std::string& page) {
    static const std::regex kLink("class=\"continue\" href=\"([^\"]+)\"");
    std::smatch m;
    if (!std::regex_search(page, m, kLink)) return "";
    std::string href = m[1].str();
    for (size_t at = href.find("&amp;"); at != std::string::npos; at = href.find("&amp;", at + 1))
      href.replace(at, 5, "&");
    return href;
  }

  std::string binary_;
  fs::path dir_;
  std::string ip_;
  std::string origin_ip_;
  std::unique_ptr<NginxOrigin> origin_;
  pid_t proxy_pid_ = 0;
};

// ---- verdicts over plain HTTP ----------------------------------------------------------------

TEST_F(ProxyPolicyTest, AnAllowedSitePasses) {
  StartProxy();
  auto r = Curl({Http("www.origin.example", "/healthz?allow")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "ok\nstatus=200\n");
  json::object e = EventFor(Http("www.origin.example", "/healthz?allow"));
  EXPECT_EQ(Str(e, "seccloud.verdict.action"), "allow");
  EXPECT_EQ(Str(e, "event.action"), "allowed");
  EXPECT_EQ(Str(e, "tenant.id"), "tsu");
  EXPECT_EQ(Str(e, "source.ip"), kTsuTerminal);
  EXPECT_EQ(Str(e, "seccloud.tls.mode"), "none");
  EXPECT_EQ(Int(e, "http.response.status_code"), 200);
  // The common whitelist decided it.
  EXPECT_EQ(Str(e, "rule.id"), "common-allow:www.origin.example");
}

TEST_F(ProxyPolicyTest, AListedSiteIsBlockedWithAPageNamingListAndEntry) {
  StartProxy();
  const std::string url = Http("listed.example", "/healthz?list");
  auto r = Curl({"-D", "-", url});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("status=403"));
  EXPECT_THAT(r.output, HasSubstr(kBlockedJa));
  EXPECT_THAT(r.output, HasSubstr("common-deny: listed.example"));
  EXPECT_THAT(r.output, Not(HasSubstr("ok\n"))) << "the origin's body reached the terminal";
  json::object e = EventFor(url);
  EXPECT_EQ(Str(e, "seccloud.verdict.action"), "block");
  EXPECT_EQ(Str(e, "seccloud.verdict.layer"), "common");
  EXPECT_EQ(Str(e, "rule.ruleset"), "common");
  EXPECT_EQ(Str(e, "rule.name"), "listed.example");
  EXPECT_EQ(Str(e, "rule.id"), "common-deny:listed.example");
  EXPECT_EQ(Str(e, "event.kind"), "event");
  EXPECT_EQ(Int(e, "http.response.status_code"), 403);
  // The page's reference id is the event's id.
  EXPECT_THAT(r.output, HasSubstr("X-Seccloud-Reference: " + Str(e, "event.id")));
  EXPECT_THAT(r.output, HasSubstr("<code>" + Str(e, "event.id") + "</code>"));
  EXPECT_TRUE(origin_->AccessLog().empty()) << "a blocked request reached the origin";
}

TEST_F(ProxyPolicyTest, AnImportedCategoryIsBlocked) {
  StartProxy();
  const std::string url = Http("casino.example", "/healthz?category");
  auto r = Curl({url});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("status=403"));
  EXPECT_THAT(r.output, HasSubstr(kBlockedJa));
  EXPECT_THAT(r.output, HasSubstr("gambling"));
  json::object e = EventFor(url);
  EXPECT_EQ(Str(e, "seccloud.verdict.action"), "block");
  EXPECT_EQ(Str(e, "seccloud.verdict.layer"), "common");
  EXPECT_EQ(Str(e, "seccloud.url.category"), "gambling");
  // A site of a category with no action (news) passes.
  auto allowed = Curl({Http("news.example", "/healthz?news")});
  EXPECT_EQ(allowed.output, "ok\nstatus=200\n");
}

TEST_F(ProxyPolicyTest, AWarningIsLiftedForTheTerminalThatContinuesOnly) {
  StartProxy();
  const std::string url = Http("games.example", "/healthz?warn");
  auto r = Curl({url});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("status=403"));
  EXPECT_THAT(r.output, HasSubstr(kWarnJa));
  const std::string link = ContinueLink(r.output);
  ASSERT_THAT(link, HasSubstr("http://seccloud.invalid/continue?")) << r.output;
  json::object e = EventFor(url);
  EXPECT_EQ(Str(e, "seccloud.verdict.action"), "warn");
  EXPECT_EQ(Str(e, "seccloud.url.category"), "games");

  // Another terminal cannot use this terminal's link.
  auto stolen = Curl({"-D", "-", link}, kTsuOtherTerminal);
  EXPECT_THAT(stolen.output, Not(HasSubstr("status=302"))) << stolen.output;

  // The terminal follows the link: 302 back to the page it wanted.
  auto c = Curl({"-D", "-", link});
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_THAT(c.output, HasSubstr("status=302"));
  EXPECT_THAT(c.output, HasSubstr("Location: " + url + "\r\n"));
  auto again = Curl({url});
  EXPECT_EQ(again.output, "ok\nstatus=200\n");
  auto other_path = Curl({Http("games.example", "/1k.bin"), "-o", "/dev/null"});
  EXPECT_EQ(other_path.output, "status=200\n") << "the grant covers the host";

  // Another terminal of the same tenant still gets the warning.
  auto other = Curl({url}, kTsuOtherTerminal);
  EXPECT_THAT(other.output, HasSubstr("status=403"));
  EXPECT_THAT(other.output, HasSubstr(kWarnJa));
}

TEST_F(ProxyPolicyTest, ATenantBlacklistBlocksACommonlyAllowedSite) {
  StartProxy();
  const std::string url = Http("www.origin.example", "/healthz?ise");
  auto r = Curl({url}, kIseTerminal);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("status=403"));
  EXPECT_THAT(r.output, HasSubstr("ise-bl: www.origin.example"));
  json::object e = EventFor(url);
  EXPECT_EQ(Str(e, "tenant.id"), "ise");
  EXPECT_EQ(Str(e, "seccloud.verdict.layer"), "tenant");
  EXPECT_EQ(Str(e, "rule.id"), "ise-bl:www.origin.example");
  // tsu's terminals still reach it.
  auto tsu = Curl({Http("www.origin.example", "/healthz?tsu")});
  EXPECT_EQ(tsu.output, "ok\nstatus=200\n");
}

TEST_F(ProxyPolicyTest, ATenantWhitelistCannotLiftAForceBlock) {
  StartProxy();
  // The force_block list: tsu's whitelist names evil.example, and it stays blocked.
  const std::string url = Http("evil.example", "/healthz?force");
  auto r = Curl({url});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("status=403"));
  EXPECT_THAT(r.output, HasSubstr("incident-response: evil.example"));
  json::object e = EventFor(url);
  EXPECT_EQ(Str(e, "rule.ruleset"), "force-block");
  EXPECT_EQ(Str(e, "seccloud.verdict.layer"), "common");
  EXPECT_EQ(Str(e, "rule.id"), "incident-response:evil.example");

  // A threat feed entry: blocked despite tsu's whitelist, and the event is an alert.
  const std::string feed_url = Http("feed-old.example", "/healthz?feed");
  auto f = Curl({feed_url});
  ASSERT_EQ(f.exit_code, 0) << f.output;
  EXPECT_THAT(f.output, HasSubstr("status=403"));
  json::object fe = EventFor(feed_url);
  EXPECT_EQ(Str(fe, "event.kind"), "alert");
  EXPECT_EQ(Str(fe, "rule.ruleset"), "force-block");
  EXPECT_EQ(Str(fe, "threat.indicator.provider"), "test-threats");
  EXPECT_EQ(Str(fe, "threat.indicator.name"), "feed-old.example");
  EXPECT_TRUE(origin_->AccessLog().empty()) << "a force-blocked request reached the origin";
}

TEST_F(ProxyPolicyTest, PostingIsBlockedWhileGetPasses) {
  StartProxy();
  auto get = Curl({Http("upload.origin.example", "/healthz?get")});
  EXPECT_EQ(get.output, "ok\nstatus=200\n");
  const std::string url = Http("upload.origin.example", "/upload?post");
  auto post = Curl({"--data-binary", "secret document", url});
  ASSERT_EQ(post.exit_code, 0) << post.output;
  EXPECT_THAT(post.output, HasSubstr("status=403"));
  EXPECT_THAT(post.output, HasSubstr("no-upload: upload.origin.example"));
  json::object e = EventFor(url);
  EXPECT_EQ(Str(e, "http.request.method"), "POST");
  EXPECT_EQ(Str(e, "seccloud.verdict.action"), "block");
  EXPECT_EQ(Str(e, "rule.id"), "no-upload:upload.origin.example");
  for (const auto& line : origin_->AccessLog())
    EXPECT_NE(line.method, "POST") << "the blocked upload reached the origin";
  // Posting elsewhere is not restricted.
  auto elsewhere = Curl({"--data-binary", "0123456789", Http("www.origin.example", "/upload")});
  EXPECT_EQ(elsewhere.output, "10status=200\n");
}

// ---- TLS inspection ------------------------------------------------------------------------

TEST_F(ProxyPolicyTest, AGoodHttpsOriginIsInterceptedWithALeafFromTheInterceptionCa) {
  StartProxy();
  const TlsOrigin& good = kTlsOrigins[0];
  auto r = Curl({"-v", Https(good, "/healthz?good")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ok\nstatus=200\n"));
  // The leaf the terminal sees names the requested host and is issued by the interception CA.
  const std::string ca_subject =
      RunCommand({"openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", CaPem()},
                 dir_)
          .output;
  ASSERT_THAT(ca_subject, HasSubstr("CN=")) << ca_subject;
  const std::string ca_cn = ca_subject.substr(
      ca_subject.find("CN=") + 3,
      ca_subject.find_first_of(",\n", ca_subject.find("CN=")) - ca_subject.find("CN=") - 3);
  EXPECT_THAT(r.output, HasSubstr("subject: CN=good.seccloud.test"));
  EXPECT_THAT(r.output, HasSubstr(ca_cn)) << "issuer is not the interception CA";
  EXPECT_THAT(r.output, Not(HasSubstr("seccloud test intermediate")));
  // Trusting only the origin's real root, the terminal rejects the minted leaf.
  auto strict = RunCommand(
      {"curl", "-sS", "--max-time", "30", "--proxy",
       "http://" + ip_ + ":" + std::to_string(kProxyPort), "--interface", kTsuTerminal, "--cacert",
       (dir_ / "pki" / "bundle.pem").string(), Https(good, "/healthz?strict")},
      dir_);
  EXPECT_EQ(strict.exit_code, 60) << strict.output;

  json::object e = EventFor(Https(good, "/healthz?good"));
  EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted");
  EXPECT_EQ(Str(e, "tls.client.server_name"), "good.seccloud.test");
  EXPECT_THAT(Str(e, "tls.server.issuer"), HasSubstr("seccloud test intermediate"));
  EXPECT_EQ(Int(e, "http.response.status_code"), 200);
  EXPECT_EQ(Str(e, "seccloud.verdict.action"), "allow");
}

TEST_F(ProxyPolicyTest, EveryBrokenOriginCertificateGetsA502PageInsideTls) {
  StartProxy();
  for (const TlsOrigin& o : kTlsOrigins) {
    if (!*o.problem) continue;
    SCOPED_TRACE(o.host);
    const std::string url = Https(o, "/healthz?broken");
    auto r = Curl({url});
    // curl accepted the minted leaf (exit 0): the page came inside the intercepted TLS.
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("status=502"));
    EXPECT_THAT(r.output, Not(HasSubstr("ok\n")));
    EXPECT_THAT(r.output, HasSubstr("tls: " + std::string(o.problem)));
    EXPECT_THAT(r.output, HasSubstr("<h1>502 Bad Gateway</h1>"));
    // The request's own event names the problem.
    json::object e = EventFor(url);
    EXPECT_EQ(Int(e, "http.response.status_code"), 502);
    EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted");
    EXPECT_EQ(Str(e, "seccloud.tls.upstream_problem"), o.problem);
    EXPECT_NE(Str(e, "event.action"), "allowed");
  }
  for (const auto& line : origin_->AccessLog())
    EXPECT_NE(line.uri, "/healthz") << "a request reached an origin whose certificate is bad";
}

TEST_F(ProxyPolicyTest, ANoDecryptDomainIsSplicedAndTheTerminalSeesTheOriginsCertificate) {
  StartProxy(Config("", "[good.seccloud.test]"));
  const TlsOrigin& good = kTlsOrigins[0];
  // Trusting the origin's root only: the certificate is the origin's own, end to end.
  auto r = RunCommand({"curl", "-sS", "-v", "--max-time", "30", "--proxy",
                       "http://" + ip_ + ":" + std::to_string(kProxyPort), "--interface",
                       kTsuTerminal, "--cacert", (dir_ / "pki" / "bundle.pem").string(), "-w",
                       "status=%{http_code}\\n", Https(good, "/healthz?splice")},
                      dir_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ok\nstatus=200\n"));
  EXPECT_THAT(r.output, HasSubstr("issuer: CN=seccloud test intermediate"));
  // With the interception CA only, it fails: nothing was minted.
  auto minted = Curl({Https(good, "/healthz?splice2")});
  EXPECT_EQ(minted.exit_code, 60) << minted.output;

  std::vector<json::object> spliced;
  ASSERT_TRUE(WaitFor(
      [&] {
        spliced.clear();
        for (auto& e : Events())
          if (Str(e, "seccloud.tls.mode") == "spliced") spliced.push_back(e);
        return spliced.size() >= 2;
      },
      10s))
      << DescribeEvents();
  for (const auto& e : spliced) {
    EXPECT_EQ(Str(e, "tls.client.server_name"), "good.seccloud.test");
    EXPECT_EQ(Str(e, "http.request.method"), "CONNECT");
    EXPECT_EQ(Str(e, "tenant.id"), "tsu");
  }
  for (auto& e : Events()) EXPECT_NE(Str(e, "seccloud.tls.mode"), "intercepted");
}

TEST_F(ProxyPolicyTest, ABlockedCategoryOverHttpsGetsThePageInsideTls) {
  StartProxy();
  const std::string url = Https("casino.example", "/healthz?tls");
  auto r = Curl({"-v", url});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("status=403"));
  EXPECT_THAT(r.output, HasSubstr(kBlockedJa));
  EXPECT_THAT(r.output, HasSubstr("gambling"));
  EXPECT_THAT(r.output, HasSubstr("subject: CN=casino.example"));
  json::object e = EventFor(url);
  EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted");
  EXPECT_EQ(Str(e, "seccloud.url.category"), "gambling");
  EXPECT_EQ(Str(e, "seccloud.verdict.action"), "block");
  EXPECT_EQ(Int(e, "http.response.status_code"), 403);
}

TEST_F(ProxyPolicyTest, XffOnAConnectIsBelievedFromTheDeclaredProxyOnly) {
  StartProxy();
  const TlsOrigin& good = kTlsOrigins[0];
  // Two requests in one intercepted tunnel from the tenant's declared proxy.
  const std::string a = Https(good, "/healthz?xff-a"), b = Https(good, "/healthz?xff-b");
  auto r = Curl({"--proxy-header", "X-Forwarded-For: 127.10.0.77", a, b}, kTsuProxy);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "ok\nstatus=200\nok\nstatus=200\n");
  for (const std::string& url : {a, b}) {
    json::object e = EventFor(url);
    EXPECT_EQ(Str(e, "source.ip"), "127.10.0.77") << url;
    EXPECT_EQ(Str(e, "client.ip"), kTsuProxy) << url;
    EXPECT_EQ(Str(e, "seccloud.attribution"), "xff") << url;
    EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted") << url;
  }
  // The same header from a terminal is not believed.
  const std::string c = Https(good, "/healthz?xff-c");
  auto forged = Curl({"--proxy-header", "X-Forwarded-For: 127.10.0.77", c}, kTsuTerminal);
  ASSERT_EQ(forged.exit_code, 0) << forged.output;
  json::object e = EventFor(c);
  EXPECT_EQ(Str(e, "source.ip"), kTsuTerminal);
  EXPECT_EQ(Str(e, "seccloud.attribution"), "untrusted-xff-ignored");
}

// ---- changes while running -----------------------------------------------------------------

TEST_F(ProxyPolicyTest, AReloadedTenantRuleTakesEffectWithoutARestart) {
  StartProxy();
  auto before = Curl({Http("www.origin.example", "/healthz?before")});
  ASSERT_EQ(before.output, "ok\nstatus=200\n");
  std::ofstream(ConfigPath()) << Config(
      "      blacklist: [{name: tsu-reloaded, entries: [=www.origin.example]}]\n");
  ASSERT_EQ(kill(proxy_pid_, SIGHUP), 0);
  int n = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = Curl({Http("www.origin.example", "/healthz?after" + std::to_string(++n))});
        return r.output.find("status=403") != std::string::npos &&
               r.output.find("tsu-reloaded: =www.origin.example") != std::string::npos;
      },
      10s))
      << ProxyOutput();
  int status = 0;
  EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << "the proxy exited";
  // ise's rules were not touched by tsu's change; the other tenant still gets its own verdict.
  auto ise = Curl({Http("www.origin.example", "/healthz?ise")}, kIseTerminal);
  EXPECT_THAT(ise.output, HasSubstr("ise-bl"));
}

TEST_F(ProxyPolicyTest, AFeedSwappedUnderLoadLosesNoRequestAndBlocksItsNewEntry) {
  StartProxy();
  ASSERT_EQ(Curl({Http("feed-new.example", "/healthz?before")}).output, "ok\nstatus=200\n");
  std::atomic<bool> stop = false;
  std::atomic<int> done = 0;
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      const std::string source = "127.10.1." + std::to_string(t + 1);
      for (int i = 0; !stop; ++i) {
        // An allowed site, and a feed entry that stays in every version: their verdicts never
        // change, so any other answer is a request the swap broke.
        const bool blocked = i % 2 == 1;
        const std::string url = blocked ? Http("feed-old.example", "/healthz?l" + std::to_string(i))
                                        : Http("www.origin.example", "/1k.bin");
        std::string error;
        const int status = RawGet(source, ip_, url, &error);
        if (status != (blocked ? 403 : 200)) {
          std::lock_guard lock(mu);
          failures.push_back(error.empty() ? url + ": status " + std::to_string(status) : error);
        }
        ++done;
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  // The new version is written beside the directory and renamed into it: one atomic replace.
  WriteFile(dir_ / "threats.next", "feed-old.example\nfeed-other.example\nfeed-new.example\n");
  fs::rename(dir_ / "threats.next", dir_ / "feed" / "threats.txt");
  // The feed is due every 10 s (the minimum interval) and the proxy looks every second.
  int n = 0;
  const bool swapped = WaitFor(
      [&] {
        auto r = Curl({Http("feed-new.example", "/healthz?after" + std::to_string(++n))});
        return r.output.find("status=403") != std::string::npos;
      },
      20s);
  std::this_thread::sleep_for(1s);
  stop = true;
  for (auto& th : load) th.join();
  EXPECT_TRUE(swapped) << "feed-new.example was never blocked\n" << ProxyOutput();
  EXPECT_GT(done.load(), 200) << "too little load to mean anything";
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << done.load()
                                << " requests failed; first: " << failures.front();
  if (swapped) {
    auto r = Curl({Http("feed-new.example", "/healthz?final")});
    EXPECT_THAT(r.output, HasSubstr("status=403"));
    json::object e = EventFor(Http("feed-new.example", "/healthz?final"));
    EXPECT_EQ(Str(e, "event.kind"), "alert");
    EXPECT_EQ(Str(e, "threat.indicator.name"), "feed-new.example");
  }
}

}  // namespace
}  // namespace seccloud
