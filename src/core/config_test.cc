// R0, R26: the configuration is validated whole, every error is reported with its place, and
// nothing half-valid is ever returned.
#include "core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/tenant_registry.h"

namespace seccloud {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("seccloud-config-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name) << text;
  }

  // A valid document; tests append or replace parts of it.
  std::string Base(const std::string& tenants = kTenants, const std::string& extra = "") {
    return "node:\n  name: gw1\n  state_dir: state\n"
           "events:\n  spool_dir: spool\n"
           "supervisor:\n  admin: 127.0.0.1:0\n" +
           extra + tenants;
  }

  ConfigResult Load(const std::string& text) {
    Write("seccloud.yaml", text);
    return LoadConfig(dir_ / "seccloud.yaml");
  }

  std::vector<std::string> Errors(const std::string& text) {
    auto r = Load(text);
    std::vector<std::string> out;
    if (r) return out;
    for (const auto& e : r.error().errors) out.push_back(e.ToString());
    return out;
  }

  static constexpr const char* kTenants =
      "tenants:\n"
      "  - id: tsu\n"
      "    name: 津市\n"
      "    networks: [127.10.0.0/16, 'fd00:10::/48']\n"
      "    proxies: [127.10.0.2]\n"
      "    nat:\n"
      "      - {translated: 100.64.1.0/24, internal: 10.1.0.0/24}\n"
      "    domains: [City.Tsu.Example.]\n"
      "    contacts:\n"
      "      - {name: 情報政策課, email: joho@city.tsu.example}\n"
      "  - id: ise\n"
      "    name: 伊勢市\n"
      "    networks: [127.30.0.0/16]\n"
      "    domains: [city.ise.example, ise-kanko.example]\n";

  fs::path dir_;
};

TEST_F(ConfigTest, LoadsAValidDocumentIntoTypedStructs) {
  auto r = Load(Base());
  ASSERT_TRUE(r) << r.error().ToString();
  const Config& c = **r;
  EXPECT_EQ(c.node.name, "gw1");
  EXPECT_EQ(c.node.state_dir, dir_ / "state");  // relative to the file, not the cwd
  EXPECT_EQ(c.events.spool_dir, dir_ / "spool");
  EXPECT_EQ(c.events.rotate_bytes, 64u << 20);
  ASSERT_EQ(c.tenants.size(), 2u);
  EXPECT_EQ(c.tenants[0].display_name, "津市");
  EXPECT_EQ(c.tenants[0].networks.size(), 2u);
  EXPECT_EQ(c.tenants[0].domains[0], "city.tsu.example");  // normalised
  EXPECT_EQ(c.tenants[0].nat[0].internal.ToString(), "10.1.0.0/24");
  ASSERT_NE(c.registry, nullptr);
  const Tenant* t = c.registry->Lookup(*IpAddress::Parse("127.30.9.9"));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->id, "ise");
  EXPECT_TRUE(fs::is_directory(dir_ / "spool"));
}

TEST_F(ConfigTest, ReportsEveryErrorWithFileLineColumnAndPath) {
  auto errors =
      Errors(Base("tenants:\n"
                  "  - id: tsu\n"
                  "    name: 津市\n"
                  "    networks: [10.0.0.0/33, 10.1.0.1/16]\n"
                  "    colour: blue\n"
                  "  - id: Bad_Id\n"
                  "    name: x\n"
                  "    networks: [192.0.2.0/24]\n"
                  "    domains: [例え.jp]\n"
                  "    contacts: [{name: a, email: not-an-address}]\n"));
  ASSERT_EQ(errors.size(), 6u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("seccloud.yaml:11:16: tenants[0].networks[0]: \"10.0.0.0/33\" "
                                   "is not a CIDR: it has a prefix length above 32"));
  EXPECT_THAT(errors[1], HasSubstr(":11:29: tenants[0].networks[1]: \"10.1.0.1/16\" is not a CIDR: "
                                   "it has host bits set"));
  EXPECT_THAT(errors[2], HasSubstr(":12:5: tenants[0].colour: unknown key"));
  EXPECT_THAT(errors[3], HasSubstr(":13:9: tenants[1].id: \"Bad_Id\" is not an identifier"));
  EXPECT_THAT(errors[4], HasSubstr("tenants[1].domains[0]: \"例え.jp\" is not an ASCII domain"));
  EXPECT_THAT(errors[5], HasSubstr(":17:33: tenants[1].contacts[0].email: \"not-an-address\""));
  EXPECT_FALSE(fs::exists(dir_ / "spool"));  // nothing was started or created half-way
}

TEST_F(ConfigTest, ContactErrorsAreReportedToo) {
  auto errors =
      Errors(Base("tenants:\n  - id: a\n    name: A\n    networks: [192.0.2.0/24]\n"
                  "    contacts: [{name: a, email: not-an-address}, {name: b}]\n"));
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("tenants[0].contacts[0].email: \"not-an-address\" is not an"));
  EXPECT_THAT(errors[1], HasSubstr("tenants[0].contacts[1]: a contact needs an email or a phone"));
}

TEST_F(ConfigTest, MalformedYamlNamesThePlace) {
  auto errors = Errors("node: {name: gw1\nevents: [\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("seccloud.yaml:"));
  EXPECT_THAT(errors[0], HasSubstr("YAML syntax error"));
}

TEST_F(ConfigTest, WrongTypesAndRangesAreErrors) {
  auto errors = Errors(Base(kTenants,
                            "programs:\n"
                            "  - name: web\n"
                            "    command: nginx\n"
                            "    enabled: maybe\n"
                            "    health_url: https://example/\n") +
                       "");
  EXPECT_THAT(::testing::PrintToString(errors),
              HasSubstr("programs[0].command: expected a sequence"));
  EXPECT_THAT(::testing::PrintToString(errors), HasSubstr("\\\"maybe\\\" is not true or false"));
  EXPECT_THAT(::testing::PrintToString(errors), HasSubstr("is not an http:// URL"));

  auto errors2 = Errors(
      "node: {name: gw1, state_dir: s}\n"
      "events: {spool_dir: sp, rotate_size: 10}\n"
      "supervisor:\n  admin: 127.0.0.1:99999\n  drain_timeout: 1 hour\n"
      "  restart_backoff: {initial: 5s, max: 1s}\n");
  std::string all = ::testing::PrintToString(errors2);
  EXPECT_THAT(all, HasSubstr("events.rotate_size: \\\"10\\\" is out of range"));
  EXPECT_THAT(all, HasSubstr("supervisor.admin: \\\"127.0.0.1:99999\\\" is not an address:port"));
  EXPECT_THAT(all, HasSubstr("supervisor.drain_timeout: \\\"1 hour\\\" is not a duration"));
  EXPECT_THAT(all, HasSubstr("supervisor.restart_backoff: max is shorter than initial"));
}

// proxy.scan.hold_budget (proxy16, issue 3): the bytes all held uploads may take at once. A size,
// at least max_size (else no upload of max_size could ever be held), with its place in errors;
// by default 256 MiB, or max_size when that is larger.
TEST_F(ConfigTest, TheScansHoldBudgetIsASizeOfAtLeastMaxSize) {
  const std::string proxy = "proxy:\n  listen: [127.0.0.1:3128]\n";
  const std::string scand = "scan:\n  socket: scand.sock\n  clamav: {database: db}\n";
  std::string all = ::testing::PrintToString(
      Errors(Base(kTenants, proxy + "  scan: {max_size: 1MiB, hold_budget: 512KiB}\n")));
  EXPECT_THAT(all, HasSubstr("seccloud.yaml:10:39: proxy.scan.hold_budget: \\\"512KiB\\\" is less "
                             "than max_size (1048576 bytes)"));
  all = ::testing::PrintToString(Errors(Base(kTenants, proxy + "  scan: {hold_budget: lots}\n")));
  EXPECT_THAT(all, HasSubstr("seccloud.yaml:10:23: proxy.scan.hold_budget: \\\"lots\\\" is not a "
                             "size"));
  // One error for a value that is not a size (the review of proxy16 found a second one, "less
  // than max_size", comparing Size's stand-in answer).
  EXPECT_THAT(all, ::testing::Not(HasSubstr("less than max_size"))) << all;

  auto r = Load(Base(kTenants, proxy + "  scan: {max_size: 1MiB, hold_budget: 3MiB}\n" + scand));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ((*r)->proxy.scan.hold_budget, 3u << 20);
  r = Load(Base(kTenants, proxy + "  scan: {max_size: 1MiB}\n" + scand));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ((*r)->proxy.scan.hold_budget, 256u << 20);
  r = Load(Base(kTenants, proxy + "  scan: {max_size: 1GiB}\n" + scand));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ((*r)->proxy.scan.hold_budget, 1u << 30);
}

// Counts (workers, fields, connections, certificates, levels, files) are whole numbers whose
// range error names what they count; before proxy13 they went through the size reader, which
// took "1KiB" as 1024 workers and said "(0 to 256 bytes)".
TEST_F(ConfigTest, CountsAreWholeNumbersAndTheirRangeErrorsSayWhatTheyCount) {
  const std::string all = ::testing::PrintToString(
      Errors(Base(kTenants,
                  "proxy:\n  listen: [127.0.0.1:3128]\n  workers: 300\n  max_headers: 2000\n"
                  "  pool: {max_idle_per_host: 2048}\n  tls: {leaf_cache_size: 8}\n"
                  "scan:\n  socket: scand.sock\n  workers: 257\n"
                  "  limits: {max_recursion: 65, max_files: 0}\n")));
  EXPECT_THAT(all, HasSubstr("proxy.workers: \\\"300\\\" is out of range (0 to 256 workers)"));
  EXPECT_THAT(all, HasSubstr("proxy.max_headers: \\\"2000\\\" is out of range (8 to 1000 fields)"));
  EXPECT_THAT(all, HasSubstr("proxy.pool.max_idle_per_host: \\\"2048\\\" is out of range (0 to "
                             "1024 connections)"));
  EXPECT_THAT(all, HasSubstr("proxy.tls.leaf_cache_size: \\\"8\\\" is out of range (16 to "
                             "1000000 certificates)"));
  EXPECT_THAT(all, HasSubstr("scan.workers: \\\"257\\\" is out of range (0 to 256 workers)"));
  EXPECT_THAT(all, HasSubstr("scan.limits.max_recursion: \\\"65\\\" is out of range (1 to 64 "
                             "levels)"));
  EXPECT_THAT(all,
              HasSubstr("scan.limits.max_files: \\\"0\\\" is out of range (1 to 1000000 files)"));
  EXPECT_THAT(all, ::testing::Not(HasSubstr("bytes)"))) << all;

  const std::string units =
      ::testing::PrintToString(Errors(Base(kTenants,
                                           "proxy:\n  listen: [127.0.0.1:3128]\n  workers: 1KiB\n"
                                           "scan:\n  socket: scand.sock\n  workers: -1\n")));
  EXPECT_THAT(units, HasSubstr("proxy.workers: \\\"1KiB\\\" is not a whole number"));
  EXPECT_THAT(units, HasSubstr("scan.workers: \\\"-1\\\" is not a whole number"));

  auto r = Load(Base(kTenants, "proxy:\n  listen: [127.0.0.1:3128]\n  workers: 4\n"));
  ASSERT_TRUE(r) << r.error().errors.front().ToString();
  EXPECT_EQ((*r)->proxy.workers, 4u);
}

TEST_F(ConfigTest, MissingAndDuplicateKeys) {
  auto errors = Errors("node: {name: gw1, name: gw2, state_dir: s}\nevents: {}\n");
  std::string all = ::testing::PrintToString(errors);
  EXPECT_THAT(all, HasSubstr("node.name: duplicate key"));
  EXPECT_THAT(all, HasSubstr("events: missing required key \\\"spool_dir\\\""));
  EXPECT_THAT(all, HasSubstr("missing required key \\\"supervisor\\\""));
}

TEST_F(ConfigTest, OverlappingTenantRangesAndSharedDomainsAreRefused) {
  auto errors = Errors(Base(
      "tenants:\n"
      "  - id: tsu\n    name: 津市\n    networks: [10.0.0.0/8]\n    domains: [city.tsu.example]\n"
      "  - id: ise\n    name: 伊勢市\n    networks: [10.1.0.0/16]\n"
      "    domains: [CITY.TSU.EXAMPLE]\n"
      "  - id: tsu\n    name: again\n    networks: [192.0.2.0/24]\n"));
  std::string all = ::testing::PrintToString(errors);
  EXPECT_THAT(all, HasSubstr("tenants[1].networks[0]"));
  EXPECT_THAT(all, HasSubstr("overlaps"));
  EXPECT_THAT(all, HasSubstr("tenants[1].domains[0]"));
  EXPECT_THAT(all, HasSubstr("tenants[2].id"));
  // Each conflict points at the line of the offending item.
  EXPECT_THAT(all, HasSubstr("seccloud.yaml:15:16: tenants[1].networks[0]"));
}

TEST_F(ConfigTest, IncludesSpliceSequencesAndReportErrorsInTheIncludedFile) {
  Write("tenants/all.yaml",
        "- id: tsu\n  name: 津市\n  networks: [127.10.0.0/16]\n"
        "- !include ise.yaml\n");
  Write("tenants/ise.yaml", "id: ise\nname: 伊勢市\nnetworks: [127.30.0.0/35]\n");
  auto errors = Errors(Base("tenants: !include tenants/all.yaml\n"));
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("tenants/ise.yaml:3:12: tenants[1].networks[0]"));

  Write("tenants/ise.yaml", "id: ise\nname: 伊勢市\nnetworks: [127.30.0.0/16]\n");
  auto r = Load(Base("tenants: !include tenants/all.yaml\n"));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ((*r)->tenants.size(), 2u);
}

TEST_F(ConfigTest, IncludeLoopsAndMissingFilesAreErrors) {
  Write("a.yaml", "!include b.yaml\n");
  Write("b.yaml", "!include a.yaml\n");
  std::string all = ::testing::PrintToString(Errors(Base("tenants: !include a.yaml\n")));
  EXPECT_THAT(all, HasSubstr("includes nest too deep"));
  all = ::testing::PrintToString(Errors(Base("tenants: !include nope.yaml\n")));
  EXPECT_THAT(all, HasSubstr("nope.yaml\\\": No such file or directory"));
}

TEST_F(ConfigTest, HostileDocumentsAreBounded) {
  // Deep nesting would recurse in the YAML parser; alias expansion would explode.
  std::string deep = Base() + "x: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  auto errors = Errors(deep);
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(errors[0], HasSubstr("nest deeper than allowed"));

  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'h'; ++c, ++prev)
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
  bomb += "tenants: [*h]\n";  // 10^8 nodes if expanded
  errors = Errors(Base("", bomb));
  EXPECT_FALSE(errors.empty());
}

TEST_F(ConfigTest, SpoolDirectoryThatCannotBeWrittenIsAnError) {
  Write("blocker", "a file where a directory should be\n");
  auto errors = Errors(
      "node: {name: gw1, state_dir: state}\nevents: {spool_dir: blocker/spool}\n"
      "supervisor: {admin: '127.0.0.1:0'}\n");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("events.spool_dir: "));
  EXPECT_THAT(errors[0], HasSubstr("blocker/spool"));
}

TEST_F(ConfigTest, EmptyAndNonMappingDocuments) {
  EXPECT_THAT(::testing::PrintToString(Errors("")), HasSubstr("the configuration is empty"));
  EXPECT_THAT(::testing::PrintToString(Errors("- a\n- b\n")), HasSubstr("expected a mapping"));
}

TEST_F(ConfigTest, NatMappingsMustBeOneToOne) {
  auto errors =
      Errors(Base("tenants:\n  - id: a\n    name: A\n    networks: [192.0.2.0/24]\n"
                  "    nat: [{translated: 192.0.2.0/24, internal: 10.0.0.0/16}]\n"));
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("tenants[0].nat[0]"));
}

}  // namespace
}  // namespace seccloud
