// SigmaHQ's rule corpus and regression events (data: /work/shared/data/sigma, SigmaHQ/sigma,
// Detection Rule License 1.1). Skipped when the data is absent.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "soc/detect.h"
#include "soc/parse_testing.h"
#include "soc/sigma.h"
#include "soc/winlog.h"

namespace seccloud::soc {
namespace {

namespace fs = std::filesystem;

const fs::path kSigmaData = fs::path(SECCLOUD_SOURCE_DIR "/../shared/data/sigma");

std::vector<fs::path> CorpusDirs() {
  std::vector<fs::path> dirs;
  for (const char* d : {"rules", "rules-emerging-threats", "rules-threat-hunting"}) {
    if (fs::is_directory(kSigmaData / d)) dirs.push_back(kSigmaData / d);
  }
  return dirs;
}

size_t CountYamlFiles(const std::vector<fs::path>& dirs) {
  size_t n = 0;
  for (const auto& d : dirs) {
    for (const auto& e : fs::recursive_directory_iterator(d)) {
      if (e.is_regular_file() &&
          (e.path().extension() == ".yml" || e.path().extension() == ".yaml")) {
        ++n;
      }
    }
  }
  return n;
}

const RuleSet& Corpus(LoadReport* report_out = nullptr) {
  static LoadReport report;
  static RuleSet set = [] {
    auto r = LoadRules(CorpusDirs(), &report);
    EXPECT_TRUE(r.has_value());
    return r ? std::move(*r) : RuleSet{};
  }();
  if (report_out != nullptr) *report_out = report;
  return set;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SigmaCorpusTest, EveryRuleLoadsOrIsReportedWithAReason) {
  if (!fs::is_directory(kSigmaData / "rules")) {
    GTEST_SKIP() << kSigmaData << " is absent (SigmaHQ rules are test data, not in the repo)";
  }
  LoadReport report;
  const RuleSet& set = Corpus(&report);
  const size_t files = CountYamlFiles(CorpusDirs());
  std::cout << "files " << files << ", documents " << report.documents << ", rules loaded "
            << report.rules_loaded << ", correlations " << report.correlations_loaded
            << ", unsupported " << report.unsupported.size() << ", errors " << report.errors.size()
            << "\n";
  for (const auto& [reason, n] : report.CountByReason())
    std::cout << "  " << n << "  " << reason << "\n";
  for (const auto& e : report.errors) std::cout << "  error: " << e.ToString() << "\n";
  EXPECT_EQ(report.files, files);
  // Nothing silently dropped: every document is a loaded rule, a correlation, a filter, or an
  // issue.
  EXPECT_EQ(report.documents + report.file_issues,
            set.rules.size() + set.correlations.size() + set.filters.size() +
                report.unsupported.size() + report.errors.size());
  for (const auto& i : report.unsupported) {
    EXPECT_FALSE(i.reason.empty()) << i.ToString();
    EXPECT_FALSE(i.file.empty());
  }
  for (const auto& i : report.errors) {
    EXPECT_FALSE(i.reason.empty()) << i.ToString();
    EXPECT_GT(i.line, 0) << i.ToString();
  }
  EXPECT_GT(set.rules.size(), 2000u);
}

// Regression events whose rule is known not to fire here, with the reason.
const std::map<std::string, std::string>& KnownRegressionLimits() {
  static const std::map<std::string, std::string> limits = {};
  return limits;
}

TEST(SigmaCorpusTest, RegressionEventsFireTheirRules) {
  const fs::path reg = kSigmaData / "regression_data";
  if (!fs::is_directory(reg) || !fs::is_directory(kSigmaData / "rules")) {
    GTEST_SKIP() << reg << " is absent (SigmaHQ regression data is test data, not in the repo)";
  }
  const RuleSet& set = Corpus();
  std::map<std::string, const SigmaRule*> by_id;
  for (const auto& r : set.rules) by_id[r.id] = &r;
  LoadReport report;
  Corpus(&report);
  std::map<std::string, std::string> unsupported;
  for (const auto& i : report.unsupported) unsupported[i.rule_id] = i.reason + ": " + i.detail;
  for (const auto& i : report.errors) unsupported[i.rule_id] = i.reason + ": " + i.detail;

  auto engine = DetectionEngine::Create(set);
  ASSERT_TRUE(engine.has_value());
  size_t cases = 0, passed = 0, not_in_corpus = 0, known = 0;
  std::vector<std::string> failures;
  for (const auto& e : fs::recursive_directory_iterator(reg)) {
    if (e.path().filename() != "info.yml") continue;
    ++cases;
    const YAML::Node info = YAML::LoadFile(e.path().string());
    const std::string id = info["rule_metadata"][0]["id"].as<std::string>();
    const std::string title = info["rule_metadata"][0]["title"].as<std::string>();
    std::vector<fs::path> jsons;
    for (const auto& f : fs::directory_iterator(e.path().parent_path())) {
      if (f.path().extension() == ".json") jsons.push_back(f.path());
    }
    if (jsons.empty()) {
      ++known;  // e.g. cisco/aaa: a raw CLI log, no Windows event to normalise
      std::cout << "  known limit: " << id << " " << title << ": no .json event in the case\n";
      continue;
    }
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      if (unsupported.count(id)) {
        failures.push_back(id + " " + title + ": rule did not load: " + unsupported[id]);
      } else {
        ++not_in_corpus;  // rules-emerging-threats / rules-threat-hunting are not in the data set
        std::cout << "  not in the rule corpus: " << id << " " << title << "\n";
      }
      continue;
    }
    bool fired = false;
    Level level{};
    uint64_t seq = 0;
    for (const auto& j : jsons) {
      for (const auto& doc : parse_testing::SplitJsonDocuments(ReadFile(j))) {
        Record r;
        r.seq = ++seq;
        r.format = Format::kWindowsEvent;
        r.received_ms = 1'700'000'000'000;
        r.source = "test";
        r.raw = doc;
        NormalizeWindowsEvent(r);
        EXPECT_TRUE(r.parsed) << j << ": " << boost::json::serialize(r.fields());
        std::vector<Detection> out;
        (*engine)->Process(r, &out);
        for (const auto& d : out) {
          if (d.rule_id == id) {
            fired = true;
            level = d.level;
            EXPECT_EQ(d.evidence, std::vector<uint64_t>{r.seq});
          }
        }
      }
    }
    if (fired) {
      EXPECT_EQ(level, it->second->level) << id;
      ++passed;
    } else if (KnownRegressionLimits().count(id)) {
      ++known;
      std::cout << "  known limit: " << id << ": " << KnownRegressionLimits().at(id) << "\n";
    } else {
      failures.push_back(id + " " + title + " (" + it->second->file + ")");
    }
  }
  std::cout << "regression cases " << cases << ": fired " << passed << ", known limits " << known
            << ", rule not in the corpus " << not_in_corpus << ", failed " << failures.size()
            << "\n";
  for (const auto& f : failures) ADD_FAILURE() << "did not fire: " << f;
  EXPECT_GT(cases, 90u);
}

// What SigmaHQ's rules (test data, not in the repository) expand to together, against the
// load-wide condition bounds set from it (sigma.h): a municipality's own rules have the room above.
TEST(SigmaCorpusTest, TheCorpusLeavesTheLoadWideConditionBoundsRoom) {
  if (!fs::is_directory(kSigmaData / "rules")) GTEST_SKIP() << kSigmaData << " is absent";
  LoadReport report;
  const RuleSet& set = Corpus(&report);
  std::cout << "[ corpus   ] " << report.files << " files, " << set.rules.size()
            << " rules: conditions expand to " << report.condition_refs
            << " selection references copying " << report.condition_value_refs
            << " field and value tests\n";
  EXPECT_EQ(report.CountByReason().count("error: load too large"), 0u);
  EXPECT_LE(report.condition_refs * 10, kMaxLoadConditionRefs);
  EXPECT_LE(report.condition_value_refs * 10, kMaxLoadConditionValueRefs);
}

}  // namespace
}  // namespace seccloud::soc
