// R10: threat-intelligence feeds: formats, validation, and the FeedUpdater that swaps versions in
// without a restart and keeps the old data when a new version is refused.
#include "policy/feed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/event_writer.h"
#include "policy/test_util.h"
#include "policy/url_filter.h"

namespace seccloud::policy {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

TEST(FeedTest, ParsesEveryFormatOfTheSharedFeeds) {
  FeedData d;
  ParseFeedText(
      "# c2\n! adblock header\n; rpz comment\n\nevil.example\n198.51.100.1;65\n"
      "0.0.0.0 hosts.example\n||ad.example^\n||files.example/a/b.exe^$all\n"
      "rpz.example CNAME .\n$TTL 30\n@ IN SOA localhost. root.localhost. 1 2 3 4 5\n NS "
      "localhost.\n"
      "2001:db8::1\nnot a feed line at all\nhttp://u.example/x\n",
      d);
  ASSERT_EQ(d.entries.size(), 8u);
  EXPECT_EQ(d.bad_lines, 1u);
  using K = UrlRuleConfig::Kind;
  auto at = [&](size_t i) { return std::pair(d.entries[i].kind, d.entries[i].value); };
  EXPECT_EQ(at(0), std::pair(K::kDomain, std::string("evil.example")));
  EXPECT_EQ(at(1), std::pair(K::kExactHost, std::string("198.51.100.1")));
  EXPECT_EQ(at(2), std::pair(K::kExactHost, std::string("hosts.example")));
  EXPECT_EQ(at(3), std::pair(K::kDomain, std::string("ad.example")));
  EXPECT_EQ(at(4), std::pair(K::kUrlPrefix, std::string("//files.example/a/b.exe")));
  EXPECT_EQ(at(5), std::pair(K::kDomain, std::string("rpz.example")));
  EXPECT_EQ(at(6), std::pair(K::kExactHost, std::string("2001:db8::1")));
  EXPECT_EQ(at(7), std::pair(K::kUrlPrefix, std::string("//u.example/x")));
}

TEST(FeedTest, LoadsTheRealFeeds) {
  SECCLOUD_SHARED_DATA_OR_SKIP(shared);
  const auto ti = shared / "threat-intel";
  auto fetcher = MakeDefaultFeedFetcher();
  FeedConfig urlhaus{.name = "urlhaus", .source = (ti / "urlhaus").string()};
  auto u = LoadFeed(urlhaus, *fetcher);
  ASSERT_TRUE(u) << u.error().ToString();
  EXPECT_GT((*u)->entries.size(), 60'000u);  // four files, the RPZ zone included
  EXPECT_EQ((*u)->bad_lines, 0u);
  FeedConfig c2{.name = "c2", .source = (ti / "signature-base" / "c2-iocs.txt").string()};
  auto c = LoadFeed(c2, *fetcher);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_GT((*c)->entries.size(), 1'500u);
  EXPECT_EQ((*c)->bad_lines, 0u);
}

// Serves whatever the test put in `content`, and counts fetches.
class FakeFetcher : public FeedFetcher {
 public:
  Result<std::vector<FeedFile>> Fetch(const std::string& source) override {
    ++fetches;
    auto it = content.find(source);
    if (it == content.end()) return MakeError(Errc::kUnavailable, source + " is down");
    return std::vector<FeedFile>{FeedFile{source.substr(source.rfind('/') + 1), it->second}};
  }
  std::map<std::string, std::string> content;
  int fetches = 0;
};

std::string Lines(int n, const std::string& prefix) {
  std::string s;
  for (int i = 0; i < n; ++i) s += prefix + std::to_string(i) + ".example\n";
  return s;
}

TEST(FeedTest, ValidationRefusesBadVersions) {
  FakeFetcher f;
  FeedConfig c{.name = "ti", .source = "http://192.0.2.1:8080/list.txt"};
  c.max_shrink = 0.5;
  f.content[c.source] = Lines(100, "a");
  auto v1 = LoadFeed(c, f);
  ASSERT_TRUE(v1);
  f.content[c.source] = Lines(49, "b");
  auto shrunk = LoadFeed(c, f, v1->get());
  ASSERT_FALSE(shrunk);
  EXPECT_THAT(shrunk.error().message, HasSubstr("shrank from 100 to 49"));
  f.content[c.source] = Lines(50, "b");
  EXPECT_TRUE(LoadFeed(c, f, v1->get()));
  f.content[c.source] = "";
  EXPECT_THAT(LoadFeed(c, f).error().message, HasSubstr("empty"));
  f.content[c.source] = "<html><body>maintenance</body></html>\n" + Lines(10, "c");
  EXPECT_THAT(LoadFeed(c, f).error().message, HasSubstr("not a blocklist"));
  f.content.clear();
  EXPECT_THAT(LoadFeed(c, f).error().message, HasSubstr("is down"));
  // Checksums: a manifest in sha256sum format.
  c.checksum = "http://192.0.2.1:8080/SHA256SUMS";
  f.content[c.source] = "x.example\n";
  f.content[c.checksum] =
      "a9a4d3a5e1b4ae3a1b62f8a47b89ba3e5b2b3ce5d1b6a94ad2b1ecdb6b0fb0d0  list.txt\n";
  EXPECT_THAT(LoadFeed(c, f).error().message, HasSubstr("does not match its SHA-256"));
  auto real = LoadFeed(FeedConfig{.name = "ti", .source = c.source}, f);
  ASSERT_TRUE(real);
  f.content[c.checksum] = (*real)->sha256 + "  list.txt\n";
  EXPECT_TRUE(LoadFeed(c, f)) << "the manifest holds the file's real digest";
  f.content[c.checksum] = (*real)->sha256 + "  other.txt\n";
  EXPECT_THAT(LoadFeed(c, f).error().message, HasSubstr("not listed"));
}

class FeedUpdaterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.feeds.push_back(FeedConfig{.name = "ti",
                                       .source = "http://192.0.2.1:8080/list.txt",
                                       .interval = std::chrono::minutes(10)});
    fetcher_.content[config_.feeds[0].source] = "evil.example\n" + Lines(20, "x");
    auto f = UrlFilter::Build(config_, UrlFilterInputs{.fetcher = &fetcher_});
    ASSERT_TRUE(f) << f.error().ToString();
    handle_ = std::make_unique<UrlFilterHandle>(*f);
    auto w = EventWriter::Open(
        EventWriterOptions{.directory = t_.path() / "spool", .name = "gw1/policy"});
    ASSERT_TRUE(w) << w.error().ToString();
    events_ = std::move(*w);
    updater_ = std::make_unique<FeedUpdater>(
        *handle_,
        FeedUpdater::Options{
            .fetcher = &fetcher_, .clock = [this] { return now_; }, .events = events_.get()});
  }

  Verdict Get(std::string_view host) const {
    UrlRequest r;
    r.scheme = "https";
    r.host = host;
    r.path = "/";
    return handle_->Evaluate(r, "tsu");
  }

  std::string SpoolText() const {
    std::string all;
    for (auto& e : std::filesystem::directory_iterator(t_.path() / "spool")) {
      if (e.path().extension() != ".ndjson") continue;
      std::ifstream in(e.path());
      std::stringstream ss;
      ss << in.rdbuf();
      all += ss.str();
    }
    return all;
  }

  TempDir t_;
  PolicyConfig config_;
  FakeFetcher fetcher_;
  std::unique_ptr<UrlFilterHandle> handle_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<FeedUpdater> updater_;
  std::chrono::steady_clock::time_point now_{};
};

TEST_F(FeedUpdaterTest, SwapsInANewVersionOnSchedule) {
  EXPECT_TRUE(Get("evil.example").alert);
  fetcher_.content[config_.feeds[0].source] = "worse.example\n" + Lines(20, "x");
  EXPECT_EQ(updater_->Poll(), 0u);  // schedules the first fetch one interval ahead
  now_ += std::chrono::minutes(9);
  EXPECT_EQ(updater_->Poll(), 0u);
  EXPECT_EQ(updater_->stats().fetches, 0u);
  now_ += std::chrono::minutes(1);
  EXPECT_EQ(updater_->Poll(), 1u);
  EXPECT_TRUE(Get("worse.example").alert);
  EXPECT_EQ(Get("evil.example").action, Action::kAllow);
  // Same bytes again: nothing rebuilt.
  now_ += std::chrono::minutes(10);
  EXPECT_EQ(updater_->Poll(), 0u);
  EXPECT_EQ(updater_->stats().unchanged, 1u);
}

TEST_F(FeedUpdaterTest, RejectedVersionKeepsOldDataAndWritesAnEvent) {
  auto before = handle_->Get();
  updater_->Poll();
  now_ += std::chrono::minutes(10);
  fetcher_.content[config_.feeds[0].source] = "only.example\n";  // shrank from 21 to 1
  EXPECT_EQ(updater_->Poll(), 0u);
  EXPECT_EQ(handle_->Get(), before);
  EXPECT_TRUE(Get("evil.example").alert);
  EXPECT_EQ(Get("only.example").action, Action::kAllow);
  EXPECT_EQ(updater_->stats().rejected, 1u);
  EXPECT_THAT(updater_->last_errors().at("ti"), HasSubstr("shrank"));
  const std::string spool = SpoolText();
  EXPECT_THAT(spool, HasSubstr("\"dataset\":\"policy.feed\""));
  EXPECT_THAT(spool, HasSubstr("\"action\":\"feed-rejected\""));
  EXPECT_THAT(spool, HasSubstr("\"outcome\":\"failure\""));
  EXPECT_THAT(spool, HasSubstr("shrank from 21 to 1"));
  // The source going away is refused the same way.
  now_ += std::chrono::minutes(10);
  fetcher_.content.clear();
  EXPECT_EQ(updater_->Poll(), 0u);
  EXPECT_TRUE(Get("evil.example").alert);
  EXPECT_EQ(updater_->stats().rejected, 2u);
}

TEST_F(FeedUpdaterTest, ReopensAReplacedCategoryDatabase) {
  t_.Write("v1/games/domains", "play.example\n");
  t_.Write("v2/games/domains", "other.example\n");
  const auto db = t_.path() / "cat.db";
  ASSERT_TRUE(ImportUt1(t_.path() / "v1", db));
  PolicyConfig p = config_;
  p.category_db = db;
  p.common.categories["games"] = CategoryAction::kBlock;
  auto f = UrlFilter::Build(p, UrlFilterInputs{.fetcher = &fetcher_});
  ASSERT_TRUE(f);
  handle_->Set(*f);
  FeedUpdater updater(*handle_,
                      FeedUpdater::Options{.fetcher = &fetcher_, .clock = [this] { return now_; }});
  EXPECT_EQ(updater.Poll(), 0u);
  EXPECT_EQ(Get("play.example").action, Action::kBlock);
  auto old_snapshot = handle_->Get();
  ASSERT_TRUE(ImportUt1(t_.path() / "v2", db));
  EXPECT_EQ(updater.Poll(), 1u);
  EXPECT_EQ(Get("play.example").action, Action::kAllow);
  EXPECT_EQ(Get("other.example").action, Action::kBlock);
  // A reader still holding the old snapshot keeps its old mapping.
  UrlRequest r{.scheme = "https", .host = "play.example", .path = "/"};
  EXPECT_EQ(old_snapshot->Evaluate(r, "").action, Action::kBlock);
}

}  // namespace
}  // namespace seccloud::policy
