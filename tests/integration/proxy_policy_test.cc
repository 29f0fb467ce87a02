// R9/R10: the proxy's URL filter and TLS inspection end to end, against a real nginx origin
// (HTTP, and HTTPS with certificates from tests/tls/make-test-pki.sh: a good chain and the
// badssl.com-style broken ones) and curl as the terminal. Each test starts `seccloud proxy` with
// one configuration (common and tenant lists, UT1-style categories imported with `seccloud policy
// import-categories`, a force-block list, a threat feed directory, an interception CA made with
// `seccloud ca init`) and checks what the terminal gets and what the access event says.
// Loopback addresses are taken per process (from the pid), so tests run in parallel.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "proxy_fixture.h"

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
using integration::kProxyPort;
using integration::NginxTlsServer;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint16_t kHttpPort = 8080;

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

class ProxyPolicyTest : public integration::ProxyFixture {
 protected:
  // The proxy's admin endpoint is 19601.
  ProxyPolicyTest() : ProxyFixture("policy", 81, 82, 19600) {}

  void SetUp() override {
    ProxyFixture::SetUp();
    // The origins' PKI (badssl.com's catalogue, one root the proxy is told to trust).
    ASSERT_NO_FATAL_FAILURE(MakeTestPki());
    std::vector<NginxTlsServer> tls;
    for (const TlsOrigin& o : kTlsOrigins)
      tls.push_back({o.port, dir_ / "pki" / (std::string(o.pki_name) + ".pem"),
                     dir_ / "pki" / (std::string(o.pki_name) + ".key")});
    ASSERT_NO_FATAL_FAILURE(StartOrigin(kHttpPort, std::move(tls)));

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
    ASSERT_NO_FATAL_FAILURE(InitCa());
  }

  static void WriteFile(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

  // The configuration every test starts from; `tenant_tsu_extra` adds keys to tsu's policy layer
  // (indented for it), `no_decrypt` is proxy.tls.no_decrypt_domains.
  std::string Config(const std::string& tenant_tsu_extra = "",
                     const std::string& no_decrypt = "[]") const {
    integration::ProxyConfigParts parts{
        .tenants =
            std::string("  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: [") +
            kTsuProxy +
            "]}\n"
            "  - {id: ise, name: 伊勢市, networks: [127.30.0.0/16], proxies: [127.30.0.2]}\n",
        .proxy =
            "  block_page_language: ja\n"
            "  tls:\n"
            "    intercept: true\n"
            "    ca_dir: ca\n"
            "    no_decrypt_domains: " +
            no_decrypt +
            "\n"
            "    extra_trust: [pki/bundle.pem]\n",
        .rest =
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
            "    - {name: test-threats, source: feed, interval: 10s}\n",
    };
    for (const char* h : kHttpHosts) parts.hosts.emplace_back(h, "");
    for (const TlsOrigin& o : kTlsOrigins) parts.hosts.emplace_back(o.host, "");
    return RenderConfig(parts);
  }

  using ProxyFixture::StartProxy;
  void StartProxy() { StartProxy(Config()); }

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
  CommandResult Curl(const std::vector<std::string>& args,
                     const std::string& source = kTsuTerminal) {
    return ProxyFixture::Curl(args,
                              {.source = source, .max_time_s = 30, .trust_interception_ca = true});
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
  // Finish sets the outcome only when it is not what Event::Make set, "success" (review of
  // proxy20: a mutant logging every allowed request as a failure passed every other test).
  EXPECT_EQ(Str(e, "event.outcome"), "success");
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

// R3: bodies inside an intercepted tunnel arrive byte-exact whatever their size (a small one
// with its header, larger ones read straight into the relay's chunk), one after another on one
// tunnel and one origin connection, which each body leaves ready for the next request.
TEST_F(ProxyPolicyTest, InterceptedBodiesOfEverySizeAreByteExactOnOneOriginConnection) {
  StartProxy();
  const TlsOrigin& good = kTlsOrigins[0];
  std::vector<std::string> args;
  for (const auto& f : integration::NginxOrigin::kFiles) {
    args.push_back("-o");
    args.push_back((dir_ / ("tls-" + std::string(f.name))).string());
    args.push_back(Https(good, "/" + std::string(f.name) + "?tls"));
  }
  auto r = ProxyFixture::Curl(args, {.source = kTsuTerminal,
                                     .trust_interception_ca = true,
                                     .write_out = "status=%{http_code} size=%{size_download}\\n"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::set<uint64_t> connections;
  for (const auto& f : integration::NginxOrigin::kFiles) {
    SCOPED_TRACE(f.name);
    EXPECT_THAT(r.output, HasSubstr("status=200 size=" + std::to_string(f.size)));
    EXPECT_TRUE(ReadFile(dir_ / ("tls-" + std::string(f.name))) == origin_->File(f.name));
    json::object e = EventFor(Https(good, "/" + std::string(f.name) + "?tls"));
    EXPECT_EQ(Str(e, "seccloud.tls.mode"), "intercepted");
    EXPECT_EQ(Int(e, "http.response.bytes"), static_cast<int64_t>(f.size));
    for (const auto& l : origin_->AccessLog())
      if (l.uri == "/" + std::string(f.name)) connections.insert(l.connection);
  }
  EXPECT_EQ(connections.size(), 1u) << "the origin connection was not reused after a body";
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
  // An allowed site, and a feed entry that stays in every version: their verdicts never change,
  // so any other answer is a request the swap broke.
  integration::BrowsingLoad load(
      ip_, "127.10.1.", 4, Http("www.origin.example", "/1k.bin"),
      [](int i) { return Http("feed-old.example", "/healthz?l" + std::to_string(i)); });
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
  load.Stop();
  EXPECT_TRUE(swapped) << "feed-new.example was never blocked\n" << ProxyOutput();
  EXPECT_GT(load.done(), 200) << "too little load to mean anything";
  const auto failures = load.failures();
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << load.done()
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
