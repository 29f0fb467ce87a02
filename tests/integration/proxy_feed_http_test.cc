// R10 auto-maintenance against a live server: the proxy polls a threat feed from an http:// URL
// that a real nginx serves (the proxy's own fetcher, nothing injected). The first version is
// loaded at start; a changed version is swapped in while terminals browse, with no failed
// request; a broken version (not a blocklist, then gone: 404) keeps the old data and writes a
// feed-rejected event each time.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/process.h"
#include "core/spool_reader.h"
#include "net/http.h"
#include "nginx_origin.h"
#include "test_util.h"

namespace seccloud {
namespace {

using integration::CanConnect;
using integration::NginxOrigin;
using integration::ReadFile;
using integration::Str;
using integration::WaitFor;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr uint16_t kHttpPort = 8080;
constexpr uint16_t kProxyPort = 3128;
constexpr int kAdminPort = 19900;  // the proxy's admin endpoint is this + 1

// One GET through the proxy on a fresh connection from `source`; the status code, or -1 with
// *error. Thread-safe.
int Get(const std::string& source, const std::string& proxy_ip, const std::string& url,
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
  const std::string req = "GET " + url + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string got;
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[16384];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    if (n < 0) *error = url + ": recv: " + strerror(errno);
  } else {
    *error = url + ": send: " + strerror(errno);
  }
  close(fd);
  if (!error->empty()) return -1;
  if (got.rfind("HTTP/1.1 ", 0) != 0 || got.size() < 12) {
    *error = url + ": not an HTTP response: " + got.substr(0, 200);
    return -1;
  }
  return std::stoi(got.substr(9, 3));
}

class ProxyFeedHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = SECCLOUD_BINARY;
    dir_ = integration::FreshTestDir("feedhttp");
    const std::string tail = integration::PidAddressTail();
    ip_ = "127.89." + tail;
    origin_ip_ = "127.90." + tail;
    auto origin = NginxOrigin::Start(dir_ / "origin", origin_ip_, kHttpPort);
    ASSERT_TRUE(origin) << origin.error().ToString();
    origin_ = std::move(*origin);
  }

  void TearDown() override {
    if (proxy_pid_ > 0) {
      int status = 0;
      EXPECT_EQ(waitpid(proxy_pid_, &status, WNOHANG), 0) << "the proxy died during the test:\n"
                                                          << ReadFile(dir_ / "proxy.out");
      kill(proxy_pid_, SIGTERM);
      if (!WaitFor([&] { return waitpid(proxy_pid_, &status, WNOHANG) == proxy_pid_; }, 5s)) {
        kill(-proxy_pid_, SIGKILL);
        waitpid(proxy_pid_, &status, 0);
      }
    }
    origin_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The feed as nginx serves it: written beside and renamed over, so nginx never serves half.
  void PublishFeed(const std::string& text) {
    const fs::path target = origin_->FilePath("threats.txt");
    const fs::path next = origin_->FilePath(".threats.next");
    std::ofstream(next, std::ios::binary) << text;
    fs::permissions(next, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
    fs::rename(next, target);
  }

  std::string FeedUrl() const {
    return "http://" + origin_ip_ + ":" + std::to_string(kHttpPort) + "/threats.txt";
  }

  void StartProxy() {
    std::string hosts;
    for (const char* h : {"www.origin.example", "feed-old.example", "feed-new.example"})
      hosts += "    " + std::string(h) + ": [" + origin_ip_ + "]\n";
    std::ofstream(dir_ / "seccloud.yaml")
        << "node: {name: test-gw, state_dir: state}\n"
           "events: {spool_dir: spool}\n"
           "supervisor: {admin: '"
        << ip_ << ":" << kAdminPort
        << "', drain_timeout: 1s}\n"
           "tenants:\n"
           "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: []}\n"
           "proxy:\n"
           "  listen: ['"
        << ip_ << ":" << kProxyPort
        << "']\n"
           "  workers: 2\n"
           "  system_resolver: false\n"
           "  hosts:\n"
        << hosts
        << "policy:\n"
           "  feeds:\n"
           "    - {name: http-threats, source: '"
        << FeedUrl() << "', interval: 10s}\n";
    auto pid = Spawn(SpawnOptions{{binary_, "proxy", "--config", (dir_ / "seccloud.yaml").string()},
                                  {},
                                  {},
                                  dir_ / "proxy.out"});
    ASSERT_TRUE(pid) << pid.error().ToString();
    proxy_pid_ = *pid;
    ASSERT_TRUE(WaitFor([&] { return CanConnect(ip_, kProxyPort) && Healthy(); }, 10s))
        << ReadFile(dir_ / "proxy.out");
  }

  bool Healthy() { return !Health().empty(); }
  // /healthz's body when it answers 200, else empty.
  std::string Health() {
    auto r = net::HttpRequestSync(
        Endpoint{*IpAddress::Parse(ip_), static_cast<uint16_t>(kAdminPort + 1)}, "GET", "/healthz",
        "", 1s);
    return r && r->status == 200 ? r->body : "";
  }

  static std::string Http(const std::string& host, const std::string& path = "/healthz") {
    return "http://" + host + ":" + std::to_string(kHttpPort) + path;
  }

  int Status(const std::string& url) {
    std::string error;
    const int s = Get("127.10.0.5", ip_, url, &error);
    EXPECT_TRUE(error.empty()) << error;
    return s;
  }

  // The feed-rejected events so far (dataset policy.feed), their messages.
  std::vector<std::string> Rejections() {
    std::vector<std::string> out;
    auto reader = SpoolReader::Open(dir_ / "spool" / "proxy", "proxy");
    if (!reader) return out;
    while (true) {
      auto record = (*reader)->Next();
      if (!record || !*record) break;
      const json::object& e = (*record)->event;
      if (Str(e, "event.dataset") == "policy.feed" && Str(e, "event.action") == "feed-rejected") {
        EXPECT_EQ(Str(e, "rule.name"), "http-threats");
        EXPECT_EQ(Str(e, "seccloud.feed.source"), FeedUrl());
        out.push_back(Str(e, "message"));
      }
    }
    return out;
  }

  size_t FeedFetches() {
    size_t n = 0;
    for (const auto& l : origin_->AccessLog()) n += l.uri == "/threats.txt" && l.status == 200;
    return n;
  }

  std::string binary_;
  fs::path dir_;
  std::string ip_;
  std::string origin_ip_;
  std::unique_ptr<NginxOrigin> origin_;
  pid_t proxy_pid_ = 0;
};

TEST_F(ProxyFeedHttpTest, PolledFromNginxSwappedUnderLoadAndABrokenVersionKeepsTheOld) {
  PublishFeed("# v1\nfeed-old.example\nfeed-other.example\n");
  StartProxy();
  // First load, at start, from nginx.
  EXPECT_GE(FeedFetches(), 1u) << "nginx never served the feed";
  EXPECT_EQ(Status(Http("feed-old.example", "/healthz?v1")), 403);
  EXPECT_EQ(Status(Http("feed-new.example", "/healthz?v1")), 200);

  // Terminals browse throughout: an allowed site and an entry of every version; any other
  // answer is a request a swap (or a refused version) broke.
  std::atomic<bool> stop = false;
  std::atomic<int> done = 0;
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      const std::string source = "127.10.2." + std::to_string(t + 1);
      for (int i = 0; !stop; ++i) {
        const bool blocked = i % 2 == 1;
        const std::string url = blocked ? Http("feed-old.example", "/healthz?l" + std::to_string(i))
                                        : Http("www.origin.example", "/1k.bin");
        std::string error;
        const int status = Get(source, ip_, url, &error);
        if (status != (blocked ? 403 : 200)) {
          std::lock_guard lock(mu);
          failures.push_back(error.empty() ? url + ": status " + std::to_string(status) : error);
        }
        ++done;
      }
    });
  }

  // Swap on change: the feed is due every 10 s (the minimum interval).
  PublishFeed("# v2\nfeed-old.example\nfeed-other.example\nfeed-new.example\n");
  EXPECT_TRUE(WaitFor([&] { return Status(Http("feed-new.example", "/healthz?v2")) == 403; }, 25s))
      << "the new version was never swapped in\n"
      << ReadFile(dir_ / "proxy.out");

  // Not a blocklist (an error page served with 200): refused, the old data stays.
  PublishFeed(
      "<html>\n<head><title>Maintenance</title></head>\n<body>\n<p>Back soon</p>\n"
      "</body>\n</html>\n");
  EXPECT_TRUE(WaitFor([&] { return Rejections().size() >= 1; }, 25s)) << "no feed-rejected event";
  // Gone (nginx answers 404): refused too.
  fs::remove(origin_->FilePath("threats.txt"));
  EXPECT_TRUE(WaitFor([&] { return Rejections().size() >= 2; }, 25s)) << "no second rejection";
  EXPECT_EQ(Status(Http("feed-new.example", "/healthz?kept")), 403) << "the old data was dropped";
  EXPECT_EQ(Status(Http("feed-old.example", "/healthz?kept")), 403);
  EXPECT_THAT(Health(), ::testing::HasSubstr("answered HTTP 404")) << "health names the problem";
  stop = true;
  for (auto& th : load) th.join();

  const auto rejections = Rejections();
  ASSERT_GE(rejections.size(), 2u);
  EXPECT_THAT(rejections[0], ::testing::HasSubstr("lines are not indicators"));
  EXPECT_THAT(rejections[1], ::testing::HasSubstr("answered HTTP 404"));
  EXPECT_GT(done.load(), 100) << "too little load to mean anything";
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << done.load()
                                << " requests failed; first: " << failures.front();
}

}  // namespace
}  // namespace seccloud
