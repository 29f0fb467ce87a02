// R10: the `policy:` section: typed structs, and precise errors for every kind of mistake.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/category_db_format.h"
#include "core/config.h"

namespace seccloud {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ConfigPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("seccloud-config-policy-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A database with categories and no entries, in the format of core/category_db_format.h (the
  // policy module's importer is tested in policy_test).
  void WriteCategoryDb(const std::vector<std::string>& names) {
    std::string name_table;
    for (const auto& n : names) name_table += n + '\0';
    CategoryDbHeader h{};
    std::memcpy(h.magic, kCategoryDbMagic, 8);
    h.version = kCategoryDbVersion;
    h.header_size = sizeof h;
    h.category_count = static_cast<uint32_t>(names.size());
    h.slots_offset = sizeof h;
    h.slot_bits = 1;
    h.names_offset = sizeof h + 32;
    h.names_size = static_cast<uint32_t>(name_table.size());
    h.sets_offset = h.names_offset + h.names_size;
    h.sets_size = 1;
    h.keys_offset = h.sets_offset + 1;
    h.keys_size = 0;
    h.file_size = h.keys_offset;
    std::string bytes(h.file_size, '\0');
    std::memcpy(bytes.data() + h.names_offset, name_table.data(), name_table.size());
    std::memcpy(bytes.data(), &h, sizeof h);
    h.checksum = CategoryDbChecksum(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    std::memcpy(bytes.data(), &h, sizeof h);
    std::ofstream(dir_ / "cat.db", std::ios::binary) << bytes;
  }

  ConfigResult Load(const std::string& policy) {
    std::ofstream(dir_ / "seccloud.yaml")
        << "node:\n  name: gw1\n  state_dir: state\n"
           "events:\n  spool_dir: spool\n"
           "supervisor:\n  admin: 127.0.0.1:0\n"
           "tenants:\n"
           "  - id: tsu\n    name: 津市\n    networks: [10.1.0.0/16]\n"
           "  - id: ise\n    name: 伊勢市\n    networks: [10.2.0.0/16]\n"
        << policy;
    return LoadConfig(dir_ / "seccloud.yaml", LoadOptions{.check_directories = false});
  }

  std::vector<std::string> Errors(const std::string& policy) {
    auto r = Load(policy);
    std::vector<std::string> out;
    if (r) return out;
    for (const auto& e : r.error().errors) out.push_back(e.ToString());
    return out;
  }

  fs::path dir_;
};

TEST_F(ConfigPolicyTest, AbsentSectionIsEmpty) {
  auto r = Load("");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE((*r)->policy.force_block.empty());
  EXPECT_TRUE((*r)->policy.category_db.empty());
}

TEST_F(ConfigPolicyTest, LoadsEveryPartIntoTypedStructs) {
  WriteCategoryDb({"gambling", "malware", "social_networks", "webmail"});
  std::ofstream(dir_ / "feed.txt") << "evil.example\n";
  std::ofstream(dir_ / "gov.yaml") << "[go.jp, lg.jp]\n";
  auto r = Load(R"(policy:
  category_db: cat.db
  force_block:
    - name: legal
      entries: [Bad.Example., "=WWW.exact.example", "https://Example.com:443/p/", "~^http://x/", 192.0.2.0/24, "2001:db8::1"]
  common:
    whitelist:
      - name: gov
        entries: !include gov.yaml
    categories: {malware: force-block, gambling: block, webmail: warn}
    posting: {name: no-upload, entries: [pastebin.example], categories: [social_networks]}
  tenants:
    tsu:
      blacklist: [{name: tsu-bl, entries: [news.example]}]
      categories: {webmail: allow}
  feeds:
    - name: urlhaus
      source: feed.txt
      interval: 30m
      max_shrink: 0.25
      min_entries: 1
    - name: mirror
      source: http://192.0.2.10:8080/urlhaus.txt
      checksum: http://192.0.2.10:8080/SHA256SUMS
)");
  ASSERT_TRUE(r) << r.error().ToString();
  const PolicyConfig& p = (*r)->policy;
  EXPECT_EQ(p.category_db, dir_ / "cat.db");
  ASSERT_EQ(p.force_block.size(), 1u);
  const auto& e = p.force_block[0].entries;
  ASSERT_EQ(e.size(), 6u);
  using K = UrlRuleConfig::Kind;
  EXPECT_EQ(e[0].kind, K::kDomain);
  EXPECT_EQ(e[0].value, "bad.example");
  EXPECT_EQ(e[0].text, "Bad.Example.");
  EXPECT_EQ(e[1].kind, K::kExactHost);
  EXPECT_EQ(e[1].value, "www.exact.example");
  EXPECT_EQ(e[2].kind, K::kUrlPrefix);
  EXPECT_EQ(e[2].value, "https://example.com/p/");
  EXPECT_EQ(e[3].kind, K::kRegex);
  EXPECT_EQ(e[3].value, "^http://x/");
  EXPECT_EQ(e[4].kind, K::kCidr);
  EXPECT_EQ(e[4].prefix.ToString(), "192.0.2.0/24");
  EXPECT_EQ(e[5].kind, K::kCidr);
  ASSERT_EQ(p.common.whitelists.size(), 1u);
  EXPECT_EQ(p.common.whitelists[0].entries.size(), 2u);
  EXPECT_EQ(p.common.categories.at("malware"), CategoryAction::kForceBlock);
  EXPECT_EQ(p.common.categories.at("webmail"), CategoryAction::kWarn);
  EXPECT_EQ(p.common.posting.name, "no-upload");
  EXPECT_THAT(p.common.posting.categories, ElementsAre("social_networks"));
  ASSERT_EQ(p.tenants.count("tsu"), 1u);
  EXPECT_EQ(p.tenants.at("tsu").categories.at("webmail"), CategoryAction::kAllow);
  EXPECT_EQ(p.tenants.at("tsu").blacklists[0].name, "tsu-bl");
  ASSERT_EQ(p.feeds.size(), 2u);
  EXPECT_EQ(p.feeds[0].source, (dir_ / "feed.txt").string());
  EXPECT_EQ(p.feeds[0].interval, std::chrono::minutes(30));
  EXPECT_EQ(p.feeds[0].max_shrink, 0.25);
  EXPECT_EQ(p.feeds[1].checksum, "http://192.0.2.10:8080/SHA256SUMS");
}

TEST_F(ConfigPolicyTest, ReportsEveryMistakeWithItsPlace) {
  WriteCategoryDb({"gambling", "malware"});
  auto errors = Errors(R"(policy:
  category_db: cat.db
  force_block:
    - name: legal
      entries: [10.0.0.0/33, "~a(b", "=", "ftp://x.example/", "bad_domain!", 10.0.0.1/8]
  common:
    categories: {gambling: block, casinos: block, malware: explode}
    posting: {categories: [nonsense]}
  tenants:
    tsu:
      categories: {malware: force-block}
    nara:
      blacklist: [{name: x, entries: [a.example]}]
  feeds:
    - name: f
      source: missing.txt
      interval: 1s
      max_shrink: 2
    - name: g
      source: https://feeds.example/x
)");
  ASSERT_EQ(errors.size(), 15u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("seccloud.yaml:19:17: policy.force_block[0].entries[0]: "
                                   "\"10.0.0.0/33\" is not a CIDR"));
  EXPECT_THAT(errors[1], HasSubstr(":19:30: policy.force_block[0].entries[1]: \"~a(b\" is not a "
                                   "valid RE2 expression: missing )"));
  EXPECT_THAT(errors[2], HasSubstr("policy.force_block[0].entries[2]: \"=\" is not \"=\" and a "
                                   "host name"));
  EXPECT_THAT(errors[3], HasSubstr("entries[3]: \"ftp://x.example/\" is not an http:// or "
                                   "https:// URL"));
  EXPECT_THAT(errors[4], HasSubstr("entries[4]: \"bad_domain!\" is not a domain"));
  EXPECT_THAT(errors[5], HasSubstr("entries[5]: \"10.0.0.1/8\" is not a CIDR"));
  EXPECT_THAT(
      errors[6],
      HasSubstr(":21:35: policy.common.categories.casinos: \"casinos\" is not "
                "a category of the category database (2 categories, e.g. gambling, malware)"));
  EXPECT_THAT(errors[7], HasSubstr(":21:60: policy.common.categories.malware: \"explode\" is not "
                                   "allow, warn, block or force-block"));
  EXPECT_THAT(errors[8], HasSubstr(":22:28: policy.common.posting.categories[0]: \"nonsense\""));
  EXPECT_THAT(errors[9], HasSubstr(":25:29: policy.tenants.tsu.categories.malware: "
                                   "\"force-block\" is for the common layer only"));
  EXPECT_THAT(errors[10], HasSubstr(":26:5: policy.tenants.nara: tenant \"nara\" does not exist"));
  EXPECT_THAT(errors[11], HasSubstr(":30:15: policy.feeds[0].source: "));
  EXPECT_THAT(errors[11], HasSubstr("missing.txt\" does not exist"));
  EXPECT_THAT(errors[12], HasSubstr(":31:17: policy.feeds[0].interval: \"1s\" is out of range"));
  EXPECT_THAT(errors[13], HasSubstr(":32:19: policy.feeds[0].max_shrink: \"2\" is not a fraction"));
  EXPECT_THAT(errors[14],
              HasSubstr(":34:15: policy.feeds[1].source: \"https://feeds.example/x\" is "
                        "neither a path nor an http://<IP>:<port>/ URL"));
}

TEST_F(ConfigPolicyTest, CategoriesNeedADatabaseAndAReadableOne) {
  auto errors = Errors("policy:\n  common:\n    categories: {gambling: block}\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("policy.common.categories.gambling: category actions need "
                                   "policy.category_db"));
  std::ofstream(dir_ / "cat.db") << "not a database";
  errors = Errors("policy:\n  category_db: cat.db\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr(":16:16: policy.category_db: "));
  EXPECT_THAT(errors[0], HasSubstr("is too short to be a category database"));
  EXPECT_THAT(errors[0], HasSubstr("seccloud policy import-categories"));
}

TEST_F(ConfigPolicyTest, DuplicateNamesAndLimits) {
  auto errors = Errors(R"(policy:
  common:
    blacklist:
      - {name: a, entries: [x.example]}
      - {name: a, entries: [y.example]}
  feeds:
    - {name: f, source: http://192.0.2.1:80/a}
    - {name: f, source: http://192.0.2.1:80/b}
)");
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("policy.common.blacklist[1].name: list \"a\" is defined twice"));
  EXPECT_THAT(errors[1], HasSubstr("policy.feeds[1].name: feed \"f\" is defined twice"));
}

}  // namespace
}  // namespace seccloud
