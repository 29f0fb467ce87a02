// R10 auto-maintenance against a live server: the proxy polls a threat feed from an http:// URL
// that a real nginx serves (the proxy's own fetcher, nothing injected). The first version is
// loaded at start; a changed version is swapped in while terminals browse, with no failed
// request; a broken version (not a blocklist, then gone: 404) keeps the old data and writes a
// feed-rejected event each time.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "proxy_fixture.h"

namespace seccloud {
namespace {

using integration::RawGet;
using integration::ReadFile;
using integration::Str;
using integration::WaitFor;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr uint16_t kHttpPort = 8080;

class ProxyFeedHttpTest : public integration::ProxyFixture {
 protected:
  // The proxy's admin endpoint is 19901.
  ProxyFeedHttpTest() : ProxyFixture("feedhttp", 89, 90, 19900) {}

  void SetUp() override {
    ProxyFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(StartOrigin(kHttpPort));
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
    ProxyFixture::StartProxy(RenderConfig({
        .tenants = "  - {id: tsu, name: 津市, networks: [127.10.0.0/16], proxies: []}\n",
        .hosts = {{"www.origin.example", ""}, {"feed-old.example", ""}, {"feed-new.example", ""}},
        .rest = "policy:\n"
                "  feeds:\n"
                "    - {name: http-threats, source: '" +
                FeedUrl() + "', interval: 10s}\n",
    }));
  }

  static std::string Http(const std::string& host, const std::string& path = "/healthz") {
    return "http://" + host + ":" + std::to_string(kHttpPort) + path;
  }

  int Status(const std::string& url) {
    std::string error;
    const int s = RawGet("127.10.0.5", ip_, url, &error);
    EXPECT_TRUE(error.empty()) << error;
    return s;
  }

  // The feed-rejected events so far (dataset policy.feed), their messages.
  std::vector<std::string> Rejections() {
    std::vector<std::string> out;
    for (const json::object& e : Events("policy.feed")) {
      if (Str(e, "event.action") == "feed-rejected") {
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
  integration::BrowsingLoad load(
      ip_, "127.10.2.", 4, Http("www.origin.example", "/1k.bin"),
      [](int i) { return Http("feed-old.example", "/healthz?l" + std::to_string(i)); });

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
  EXPECT_THAT(Health().value_or(""), ::testing::HasSubstr("answered HTTP 404"))
      << "health names the problem";
  load.Stop();

  const auto rejections = Rejections();
  ASSERT_GE(rejections.size(), 2u);
  EXPECT_THAT(rejections[0], ::testing::HasSubstr("lines are not indicators"));
  EXPECT_THAT(rejections[1], ::testing::HasSubstr("answered HTTP 404"));
  EXPECT_GT(load.done(), 100) << "too little load to mean anything";
  const auto failures = load.failures();
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << load.done()
                                << " requests failed; first: " << failures.front();
}

}  // namespace
}  // namespace seccloud
