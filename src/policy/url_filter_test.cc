// R10: verdicts of the URL filter: every precedence rule, entry kinds, categories, posting
// restrictions, threat-intelligence alerts, snapshot swaps under load.
#include "policy/url_filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/config.h"
#include "policy/test_util.h"

namespace seccloud::policy {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr const char* kBase =
    "node:\n  name: gw1\n  state_dir: state\n"
    "events:\n  spool_dir: spool\n"
    "supervisor:\n  admin: 127.0.0.1:0\n"
    "tenants:\n"
    "  - id: tsu\n    name: Tsu\n    networks: [10.1.0.0/16]\n"
    "  - id: ise\n    name: Ise\n    networks: [10.2.0.0/16]\n";

class UrlFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_.Write("ut1/gambling/domains", "casino.example\n");
    t_.Write("ut1/games/domains", "play.example\n");
    t_.Write("ut1/webmail/domains", "mail.example\n");
    t_.Write("ut1/malware/domains", "dropper.example\n");
    t_.Write("ut1/malware/urls", "files.example/payload/\n");
    t_.Write("ut1/social_networks/domains", "sns.example\n");
    ASSERT_TRUE(ImportUt1(t_.path() / "ut1", t_.path() / "cat.db"));
    t_.Write("feeds/urlhaus/domains.txt", "# comment\nc2.example\n198.51.100.9\n");
    t_.Write("feeds/urlhaus/urls.txt", "! adblock\n||share.example/evil.exe^$all\n");
  }

  std::shared_ptr<const UrlFilter> Build(const std::string& policy) {
    LoadOptions o;
    o.check_directories = false;
    auto cfg = LoadConfigFromString(std::string(kBase) + policy, "seccloud.yaml", t_.path(), o);
    EXPECT_TRUE(cfg) << (cfg ? "" : cfg.error().ToString());
    if (!cfg) return nullptr;
    auto f = UrlFilter::Build((*cfg)->policy);
    EXPECT_TRUE(f) << (f ? "" : f.error().ToString());
    return f ? *f : nullptr;
  }

  static Verdict Get(const UrlFilter& f, std::string_view url, std::string_view tenant = "tsu",
                     bool upload = false) {
    auto u = NormalizeUrl(url);
    EXPECT_TRUE(u) << url;
    UrlRequest r;
    r.method = upload ? "POST" : "GET";
    r.scheme = u->scheme;
    r.host = u->host;
    r.port = u->port;
    r.path = u->path;
    r.is_upload = upload;
    return f.Evaluate(r, tenant);
  }

  TempDir t_;
};

// A policy exercising every layer. The tenant "tsu" has rules of its own; "ise" has none.
constexpr const char* kPolicy = R"(policy:
  category_db: cat.db
  feeds:
    - name: urlhaus
      source: feeds/urlhaus
  force_block:
    - name: legal-order
      entries: [forbidden.example, "=exact.example", 203.0.113.0/24]
  common:
    whitelist:
      - name: gov
        entries: [lg.jp, forbidden.example, casino.example]
    blacklist:
      - name: common-bl
        entries: [annoying.example, "https://docs.example/private/", "~^http://[^/]+/wp-login\\.php", 192.0.2.0/28]
    categories: {malware: force-block, gambling: block, webmail: warn, games: block}
    posting:
      name: common-posting
      entries: [pastebin.example, play.example]
      categories: [social_networks]
  tenants:
    tsu:
      whitelist:
        - name: tsu-ok
          entries: [annoying.example, c2.example, dropper.example, play.example]
      blacklist:
        - name: tsu-bl
          entries: [news.example, lg.jp]
      categories: {webmail: allow, games: allow, gambling: warn}
      posting:
        name: tsu-posting
        entries: [upload.example]
)";

TEST_F(UrlFilterTest, ForceBlockWinsAndNoTenantCanLiftIt) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  for (const char* tenant : {"tsu", "ise", "unknown", ""}) {
    Verdict v = Get(*f, "http://www.forbidden.example/", tenant);
    EXPECT_EQ(v.action, Action::kBlock) << tenant;
    EXPECT_EQ(v.layer, "force-block");
    EXPECT_EQ(v.list, "legal-order");
    EXPECT_EQ(v.entry, "forbidden.example");
    EXPECT_FALSE(v.alert);
  }
  // The common whitelist also names forbidden.example: force-block still wins.
  EXPECT_EQ(Get(*f, "https://exact.example/x").layer, "force-block");
  EXPECT_EQ(Get(*f, "https://exact.example/x").entry, "=exact.example");
  EXPECT_EQ(Get(*f, "https://sub.exact.example/x").action, Action::kAllow);  // exact only
  EXPECT_EQ(Get(*f, "http://203.0.113.77/").entry, "203.0.113.0/24");
}

TEST_F(UrlFilterTest, TenantWhitelistCannotLiftThreatIntelOrForcedCategory) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  Verdict v = Get(*f, "https://c2.example/gate.php");  // tsu whitelists c2.example
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.layer, "force-block");
  EXPECT_EQ(v.list, "urlhaus");
  EXPECT_EQ(v.entry, "c2.example");
  EXPECT_TRUE(v.alert);
  v = Get(*f, "http://198.51.100.9/x", "ise");
  EXPECT_TRUE(v.alert);
  EXPECT_EQ(v.entry, "198.51.100.9");
  v = Get(*f, "https://share.example/evil.exe?dl=1");
  EXPECT_TRUE(v.alert);
  EXPECT_EQ(v.entry, "||share.example/evil.exe^$all");
  EXPECT_EQ(Get(*f, "https://share.example/fine.txt").action, Action::kAllow);
  // malware is force-blocked by category; tsu whitelists dropper.example in vain.
  v = Get(*f, "http://dropper.example/");
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.layer, "force-block");
  EXPECT_EQ(v.list, "categories");
  EXPECT_EQ(v.category, "malware");
  EXPECT_EQ(v.entry, "dropper.example");
  EXPECT_FALSE(v.alert);
  // A category URL entry, only when the full URL is visible.
  EXPECT_EQ(Get(*f, "http://files.example/payload/x.bin").category, "malware");
  EXPECT_EQ(Get(*f, "http://files.example/other").action, Action::kAllow);
}

TEST_F(UrlFilterTest, TenantWhitelistLiftsCommonBlacklistAndCategory) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  Verdict v = Get(*f, "http://annoying.example/");
  EXPECT_EQ(v.action, Action::kAllow);
  EXPECT_EQ(v.layer, "tenant");
  EXPECT_EQ(v.list, "tsu-ok");
  v = Get(*f, "http://annoying.example/", "ise");
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.layer, "common");
  EXPECT_EQ(v.list, "common-bl");
  EXPECT_EQ(v.entry, "annoying.example");
  // games: blocked by the common layer, whitelisted by tsu by name and allowed by category.
  EXPECT_EQ(Get(*f, "http://play.example/").action, Action::kAllow);
  EXPECT_EQ(Get(*f, "http://play.example/", "ise").action, Action::kBlock);
  EXPECT_EQ(Get(*f, "http://play.example/", "ise").category, "games");
}

TEST_F(UrlFilterTest, TenantBlocksWhatCommonAllows) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  Verdict v = Get(*f, "https://news.example/today");
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.layer, "tenant");
  EXPECT_EQ(v.list, "tsu-bl");
  EXPECT_EQ(v.entry, "news.example");
  EXPECT_EQ(Get(*f, "https://news.example/today", "ise").action, Action::kAllow);
  // Tenant blacklist beats the common whitelist.
  v = Get(*f, "https://www.city.tsu.lg.jp/");
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.list, "tsu-bl");
  v = Get(*f, "https://www.city.ise.lg.jp/", "ise");
  EXPECT_EQ(v.action, Action::kAllow);
  EXPECT_EQ(v.layer, "common");
  EXPECT_EQ(v.list, "gov");
  EXPECT_EQ(v.entry, "lg.jp");
}

TEST_F(UrlFilterTest, CategoryActionsAndWarn) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  Verdict v = Get(*f, "https://mail.example/inbox", "ise");
  EXPECT_EQ(v.action, Action::kWarn);
  EXPECT_EQ(v.layer, "common");
  EXPECT_EQ(v.list, "categories");
  EXPECT_EQ(v.category, "webmail");
  EXPECT_THAT(v.reason, HasSubstr("webmail"));
  v = Get(*f, "https://mail.example/inbox", "tsu");  // tsu allows webmail
  EXPECT_EQ(v.action, Action::kAllow);
  EXPECT_EQ(v.layer, "tenant");
  // gambling: common block, but casino.example is on the common whitelist (before the common
  // category action) ...
  EXPECT_EQ(Get(*f, "http://casino.example/", "ise").action, Action::kAllow);
  EXPECT_EQ(Get(*f, "http://casino.example/", "ise").list, "gov");
  // ... while tsu's own category action (warn) comes before the common whitelist.
  v = Get(*f, "http://casino.example/", "tsu");
  EXPECT_EQ(v.action, Action::kWarn);
  EXPECT_EQ(v.layer, "tenant");
  EXPECT_EQ(v.category, "gambling");
  v = Get(*f, "http://unlisted.example/", "tsu");
  EXPECT_EQ(v.action, Action::kAllow);
  EXPECT_EQ(v.layer, "");
  EXPECT_EQ(v.list, "");
}

TEST_F(UrlFilterTest, EntryKinds) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  // Domain with subdomains, not lookalikes.
  EXPECT_EQ(Get(*f, "http://a.b.annoying.example/", "ise").action, Action::kBlock);
  EXPECT_EQ(Get(*f, "http://notannoying.example/", "ise").action, Action::kAllow);
  EXPECT_EQ(Get(*f, "http://annoying.example.evil/", "ise").action, Action::kAllow);
  // URL prefix: scheme, host and path prefix, after normalisation.
  EXPECT_EQ(Get(*f, "https://docs.example/private/a.pdf", "ise").entry,
            "https://docs.example/private/");
  EXPECT_EQ(Get(*f, "https://DOCS.example/public/../%70rivate/a", "ise").action, Action::kBlock);
  EXPECT_EQ(Get(*f, "http://docs.example/private/a.pdf", "ise").action, Action::kAllow);
  EXPECT_EQ(Get(*f, "https://docs.example/privateer", "ise").action, Action::kAllow);
  EXPECT_EQ(Get(*f, "https://www.docs.example/private/", "ise").action, Action::kAllow);
  // Regex over the normalised URL.
  Verdict v = Get(*f, "http://blog.example/wp-login.php?x", "ise");
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.entry, "~^http://[^/]+/wp-login\\.php");
  EXPECT_EQ(Get(*f, "https://blog.example/wp-login.php", "ise").action, Action::kAllow);
  // CIDR on IP-literal hosts only.
  EXPECT_EQ(Get(*f, "http://192.0.2.15/", "ise").entry, "192.0.2.0/28");
  EXPECT_EQ(Get(*f, "http://192.0.2.16/", "ise").action, Action::kAllow);
}

TEST_F(UrlFilterTest, HostOnlyRequestsSkipWhatNeedsTheFullUrl) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  UrlRequest r;
  r.method = "CONNECT";
  r.scheme = "https";
  r.host = "docs.example";
  r.port = 443;
  r.path = "/private/secret";  // not visible: must be ignored
  r.full_url_visible = false;
  EXPECT_EQ(f->Evaluate(r, "ise").action, Action::kAllow);
  r.host = "annoying.example";
  EXPECT_EQ(f->Evaluate(r, "ise").action, Action::kBlock);
  r.host = "files.example";  // only a category URL entry: unknown without the path
  EXPECT_EQ(f->Evaluate(r, "ise").action, Action::kAllow);
}

TEST_F(UrlFilterTest, PostingRestriction) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  EXPECT_EQ(Get(*f, "https://pastebin.example/new", "ise", false).action, Action::kAllow);
  Verdict v = Get(*f, "https://pastebin.example/new", "ise", true);
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_TRUE(v.posting_restricted);
  EXPECT_EQ(v.layer, "common");
  EXPECT_EQ(v.list, "common-posting");
  EXPECT_EQ(v.entry, "pastebin.example");
  // By category.
  v = Get(*f, "https://www.sns.example/post", "tsu", true);
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.category, "social_networks");
  EXPECT_EQ(Get(*f, "https://www.sns.example/post", "tsu", false).action, Action::kAllow);
  // A tenant's own restriction applies to that tenant only.
  EXPECT_EQ(Get(*f, "https://upload.example/", "tsu", true).list, "tsu-posting");
  EXPECT_EQ(Get(*f, "https://upload.example/", "ise", true).action, Action::kAllow);
  // A whitelist does not lift a posting restriction: tsu whitelists play.example.
  EXPECT_EQ(Get(*f, "https://play.example/", "tsu", false).action, Action::kAllow);
  v = Get(*f, "https://play.example/", "tsu", true);
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_TRUE(v.posting_restricted);
  EXPECT_EQ(v.list, "common-posting");
}

TEST_F(UrlFilterTest, MalformedRequestsAreBlocked) {
  auto f = Build(kPolicy);
  ASSERT_TRUE(f);
  UrlRequest r;
  r.scheme = "http";
  r.host = "bad host";
  r.path = "/";
  Verdict v = f->Evaluate(r, "tsu");
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.list, "malformed");
}

TEST_F(UrlFilterTest, UnknownCategoryIsRefusedWhenBuilding) {
  PolicyConfig p;
  p.category_db = t_.path() / "cat.db";
  p.common.categories["no-such-category"] = CategoryAction::kBlock;
  auto f = UrlFilter::Build(p);
  ASSERT_FALSE(f);
  EXPECT_THAT(f.error().message, HasSubstr("policy.common.categories.no-such-category"));
}

TEST_F(UrlFilterTest, SnapshotSwapWhileReadersEvaluate) {
  auto f1 = Build(kPolicy);
  auto f2 = Build(R"(policy:
  force_block:
    - name: v2
      entries: [news.example]
)");
  ASSERT_TRUE(f1 && f2);
  UrlFilterHandle handle(f1);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> evaluations{0}, bad{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      UrlRequest r;
      r.scheme = "https";
      r.host = "news.example";
      r.path = "/";
      while (!stop.load(std::memory_order_relaxed)) {
        Verdict v = handle.Evaluate(r, "tsu");
        // Either snapshot, never a mixture: v1 blocks by tsu-bl, v2 by force-block list v2.
        const bool v1 = v.list == "tsu-bl" && v.layer == "tenant";
        const bool v2 = v.list == "v2" && v.layer == "force-block";
        if (v.action != Action::kBlock || !(v1 || v2)) ++bad;
        ++evaluations;
      }
    });
  }
  for (int i = 0; i < 200; ++i) handle.Set(i % 2 ? f1 : f2);
  while (evaluations.load() < 20000) std::this_thread::yield();
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0u);
}

// The full data sets: all UT1 categories, URLhaus and the signature-base C2 list.
TEST_F(UrlFilterTest, RealDataSets) {
  SECCLOUD_SHARED_DATA_OR_SKIP(data);
  ASSERT_TRUE(ImportUt1(data / "url-categories" / "ut1", t_.path() / "ut1.db"));
  auto f = Build(
      "policy:\n  category_db: ut1.db\n  feeds:\n"
      "    - name: urlhaus\n      source: " +
      (data / "threat-intel" / "urlhaus").string() + "\n    - name: c2-iocs\n      source: " +
      (data / "threat-intel" / "signature-base" / "c2-iocs.txt").string() +
      "\n  common:\n    categories: {gambling: block, webmail: warn}\n");
  ASSERT_TRUE(f);
  EXPECT_GT(f->rule_count(), 25'000u);
  Verdict v = Get(*f, "http://suroot.com/");
  EXPECT_TRUE(v.alert);
  EXPECT_EQ(v.list, "c2-iocs");
  v = Get(*f, "http://58.64.143.244/x");
  EXPECT_EQ(v.list, "c2-iocs");
  v = Get(*f, "http://176.123.5.126/");  // "ip;score" lines
  EXPECT_EQ(v.entry, "176.123.5.126;65");
  v = Get(*f, "https://0daydreams.net/");
  EXPECT_TRUE(v.alert);
  EXPECT_EQ(v.list, "urlhaus");
  v = Get(*f, "https://0x0.st/8ics.py");
  EXPECT_TRUE(v.alert);
  EXPECT_EQ(v.entry, "||0x0.st/8ics.py^$all");
  EXPECT_FALSE(Get(*f, "https://0x0.st/").alert);
  EXPECT_EQ(Get(*f, "https://www.pokerstars.com/").category, "gambling");
  EXPECT_EQ(Get(*f, "https://www.pokerstars.com/").action, Action::kBlock);
  EXPECT_EQ(Get(*f, "https://gmail.com/").action, Action::kWarn);
  EXPECT_EQ(Get(*f, "https://www.paypal.com/").action, Action::kAllow);
  EXPECT_EQ(Get(*f, "https://www.paypal.com/").category, "bank");
}

}  // namespace
}  // namespace seccloud::policy
