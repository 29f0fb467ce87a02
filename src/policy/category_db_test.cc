// R10: the category database: import of UT1-style trees, mapped lookup, corruption rejected,
// atomic replacement while readers keep using the old mapping.
#include "policy/category_db.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/category_db_format.h"
#include "policy/test_util.h"

namespace seccloud::policy {
namespace {

using testing::TempDir;

std::vector<std::string> Names(const CategoryDb& db, std::optional<CategoryHit> hit) {
  std::vector<std::string> out;
  if (!hit) return out;
  for (uint8_t id : hit->category_ids) out.emplace_back(db.category_name(id));
  return out;
}

std::vector<std::string> HostCategories(const CategoryDb& db, std::string_view host) {
  CategoryHits hits;
  db.LookupHost(host, hits);
  std::vector<std::string> out;
  for (size_t i = 0; i < hits.count; ++i)
    for (uint8_t id : hits.hits[i].category_ids) out.emplace_back(db.category_name(id));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> UrlCategories(const CategoryDb& db, std::string_view host,
                                       std::string_view path) {
  CategoryHits hits;
  db.LookupUrl(host, path, hits);
  std::vector<std::string> out;
  for (size_t i = 0; i < hits.count; ++i)
    for (uint8_t id : hits.hits[i].category_ids) out.emplace_back(db.category_name(id));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void WriteFixture(const TempDir& t) {
  t.Write("ut1/gambling/domains", "casino.example\n# comment\n\nPoker.Example.\n");
  t.Write("ut1/gambling/urls", "news.example/sports/betting/\n");
  t.Write("ut1/malware/domains", "evil.example\ncasino.example\n*.wild.example\nbad line!\n");
  t.Write("ut1/webmail/domains", "mail.example\n192.0.2.7\n");
  t.Write("ut1/ads", "publicite\n");  // a UT1 alias file: not a category
}

TEST(CategoryDbTest, ImportsFixtureAndLooksUpHostsAndParents) {
  TempDir t;
  WriteFixture(t);
  auto stats = ImportUt1(t.path() / "ut1", t.path() / "cat.db");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->categories, 3u);
  EXPECT_EQ(stats->domains, 6u);  // casino (twice, deduplicated), poker, evil, wild, mail, ip
  EXPECT_EQ(stats->urls, 1u);
  EXPECT_EQ(stats->rejected_lines, 1u);

  auto db = CategoryDb::Open(t.path() / "cat.db");
  ASSERT_TRUE(db) << db.error().ToString();
  EXPECT_EQ((*db)->category_count(), 3u);
  EXPECT_EQ((*db)->FindCategory("malware"), std::optional<uint8_t>(1));
  EXPECT_FALSE((*db)->FindCategory("ads"));
  using V = std::vector<std::string>;
  EXPECT_EQ(Names(**db, (*db)->Find("casino.example")), (V{"gambling", "malware"}));
  EXPECT_EQ(HostCategories(**db, "www.casino.example"), (V{"gambling", "malware"}));
  EXPECT_EQ(HostCategories(**db, "poker.example"), (V{"gambling"}));
  EXPECT_EQ(HostCategories(**db, "a.b.wild.example"), (V{"malware"}));
  EXPECT_EQ(HostCategories(**db, "192.0.2.7"), (V{"webmail"}));
  EXPECT_TRUE(HostCategories(**db, "notcasino.example").empty());  // lookalike, not a subdomain
  EXPECT_TRUE(HostCategories(**db, "example").empty());
  EXPECT_EQ(UrlCategories(**db, "news.example", "/sports/betting/today?x=1"), (V{"gambling"}));
  EXPECT_EQ(UrlCategories(**db, "www.news.example", "/sports/betting"), (V{"gambling"}));
  EXPECT_TRUE(UrlCategories(**db, "news.example", "/sports/bettingx").empty());
  EXPECT_TRUE(UrlCategories(**db, "news.example", "/sports").empty());
}

TEST(CategoryDbTest, RejectsEveryCorruption) {
  TempDir t;
  WriteFixture(t);
  ASSERT_TRUE(ImportUt1(t.path() / "ut1", t.path() / "cat.db"));
  std::ifstream in(t.path() / "cat.db", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string good = ss.str();
  ASSERT_TRUE(CategoryDb::FromBytes(good));
  // Flip each byte in turn: the checksum (or a bounds check) must refuse every variant.
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    EXPECT_FALSE(CategoryDb::FromBytes(bad)) << "byte " << i;
  }
  EXPECT_FALSE(CategoryDb::FromBytes(good.substr(0, good.size() - 1)));
  EXPECT_FALSE(CategoryDb::FromBytes(good + "x"));
  EXPECT_FALSE(CategoryDb::FromBytes(""));
  auto missing = CategoryDb::Open(t.path() / "nope.db");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("nope.db"), std::string::npos);
}

TEST(CategoryDbTest, AtomicReplacementWhileReadersKeepTheirMapping) {
  TempDir t;
  t.Write("v1/games/domains", "old.example\n");
  t.Write("v2/games/domains", "new.example\n");
  const auto db_path = t.path() / "cat.db";
  ASSERT_TRUE(ImportUt1(t.path() / "v1", db_path));
  auto old_db = CategoryDb::Open(db_path);
  ASSERT_TRUE(old_db);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0}, wrong{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&, db = *old_db] {
      while (!stop.load()) {
        if (!db->Find("old.example") || db->Find("new.example")) ++wrong;
        ++lookups;
      }
    });
  }
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(ImportUt1(t.path() / (round % 2 ? "v1" : "v2"), db_path));
    auto reopened = CategoryDb::Open(db_path);  // never sees a half-written file
    ASSERT_TRUE(reopened) << reopened.error().ToString();
  }
  ASSERT_TRUE(ImportUt1(t.path() / "v2", db_path));
  while (lookups.load() < 10000) std::this_thread::yield();
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0u);
  auto fresh = CategoryDb::Open(db_path);
  ASSERT_TRUE(fresh);
  EXPECT_TRUE((*fresh)->Find("new.example"));
  EXPECT_FALSE((*fresh)->Find("old.example"));
  // No temporary files are left beside the database.
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(t.path()))
    files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
}

TEST(CategoryDbTest, ConfigLoaderReadsTheNames) {
  TempDir t;
  WriteFixture(t);
  ASSERT_TRUE(ImportUt1(t.path() / "ut1", t.path() / "cat.db"));
  auto names = ReadCategoryDbNames(t.path() / "cat.db");
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"gambling", "malware", "webmail"}));
}

// The real UT1 lists (Université Toulouse 1 Capitole, CC BY-SA 4.0), all categories.
TEST(CategoryDbTest, ImportsRealUt1) {
  TempDir t;
  SECCLOUD_SHARED_DATA_OR_SKIP(shared);
  const auto ut1 = shared / "url-categories" / "ut1";
  auto stats = ImportUt1(ut1, t.path() / "ut1.db");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_GE(stats->categories, 60u);
  // 883,652 domain lines and 43,341 URL lines hold 558,728 distinct hosts (many sites are in
  // several categories) and about 23,000 distinct URLs.
  EXPECT_EQ(stats->domains, 558'728u);
  EXPECT_GT(stats->urls, 22'000u);
  EXPECT_LT(stats->rejected_lines, stats->lines / 100);
  auto db = CategoryDb::Open(t.path() / "ut1.db");
  ASSERT_TRUE(db) << db.error().ToString();
  using V = std::vector<std::string>;
  EXPECT_EQ(HostCategories(**db, "www.paypal.com"), (V{"bank"}));
  EXPECT_EQ(HostCategories(**db, "pokerstars.com"), (V{"gambling"}));
  EXPECT_EQ(HostCategories(**db, "gmail.com"), (V{"webmail"}));
  EXPECT_EQ(HostCategories(**db, "facebook.com"), (V{"blog", "forums", "social_networks"}));
  EXPECT_EQ(HostCategories(**db, "0001-5cf.pages.dev"), (V{"webhosting"}));
  EXPECT_EQ(UrlCategories(**db, "0001-5cf.pages.dev", "/ar/about/privacy"),
            (V{"malware", "phishing"}));
  EXPECT_TRUE(HostCategories(**db, "seccloud-no-such-host.invalid").empty());

  // The URL filter asks with the host's suffixes already hashed (LookupUrl(HostSuffixes)): the
  // same keys, in the same order, as the host form, for every URL key of the data (its host,
  // with "www." added and, where it has one, taken away; its path, a longer and a shorter one,
  // and with a query) and for hosts that are not in it.
  auto keys = [](const CategoryHits& hits) {
    std::vector<std::string> out;
    for (size_t i = 0; i < hits.count; ++i) out.emplace_back(hits.hits[i].key);
    return out;
  };
  size_t compared = 0, found = 0;
  auto compare = [&](std::string_view host, std::string_view path) {
    HostSuffixes suffixes;
    HostSuffixes::Compute(host, false, suffixes);
    CategoryHits by_host, by_suffixes;
    (*db)->LookupUrl(host, path, by_host);
    (*db)->LookupUrl(suffixes, path, by_suffixes);
    ASSERT_EQ(keys(by_suffixes), keys(by_host)) << host << path;
    ++compared;
    found += by_host.count > 0;
  };
  for (const auto& dir : std::filesystem::directory_iterator(ut1)) {
    std::ifstream in(dir.path() / "urls");
    std::string line;
    while (std::getline(in, line)) {
      const size_t slash = line.find('/');
      if (slash == std::string::npos || slash == 0) continue;
      const std::string host = line.substr(0, slash), path = line.substr(slash);
      for (const std::string& h :
           {host, "www." + host, host.rfind("www.", 0) == 0 ? host.substr(4) : "w." + host}) {
        compare(h, path);
        compare(h, path + "/more?q=1");
        compare(h, path.substr(0, path.rfind('/') + 1));
        if (HasFatalFailure()) return;
      }
    }
  }
  compare("www.", "/");
  compare("www.www.example", "/a");
  compare("seccloud-no-such-host.invalid", "/x");
  EXPECT_GT(compared, 250'000u);
  EXPECT_GT(found, 40'000u);
}

}  // namespace
}  // namespace seccloud::policy
