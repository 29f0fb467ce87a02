// The engine's Aho–Corasick matcher: every occurrence of every pattern, with its end offset, the
// same from the dense table and the sparse automaton, and case folding equal to scanning the
// lower-cased text.

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "soc/detect_internal.h"

namespace seccloud::soc::detect_internal {
namespace {

using Hits = std::set<std::pair<uint32_t, size_t>>;  // (pattern id, end)

Hits Naive(const std::vector<std::string>& patterns, const std::vector<uint32_t>& ids,
           std::string_view text) {
  Hits out;
  for (size_t p = 0; p < patterns.size(); ++p) {
    for (size_t pos = text.find(patterns[p]); pos != std::string_view::npos;
         pos = text.find(patterns[p], pos + 1)) {
      out.insert({ids[p], pos + patterns[p].size()});
    }
  }
  return out;
}

Hits Scanned(const LiteralMatcher& m, std::string_view text) {
  Hits out;
  m.Scan(text, [&](uint32_t id, size_t end) { out.insert({id, end}); });
  return out;
}

std::string Lowered(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return s;
}

TEST(LiteralMatcherTest, DenseAndSparseFindEveryOccurrence) {
  std::mt19937 rng(7);
  const std::string alphabet = "abcAB\\.- \xc3\xa9";
  auto random_string = [&](size_t max_len) {
    std::string s;
    const size_t n = rng() % max_len;
    for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  int partial = 0;
  for (int round = 0; round < 200; ++round) {
    const bool fold = round % 2 == 1;
    std::vector<std::string> patterns;
    std::vector<uint32_t> ids;
    LiteralMatcher dense, sparse, hybrid;
    const size_t count = 1 + rng() % 30;
    for (size_t i = 0; i < count; ++i) {
      std::string p = random_string(6);
      if (p.empty()) p = "a";
      if (fold) p = Lowered(p);  // folded matchers take lower-case patterns
      const uint32_t id = dense.Add(p);
      ASSERT_EQ(sparse.Add(p), id);
      ASSERT_EQ(hybrid.Add(p), id);
      patterns.push_back(p);
      ids.push_back(id);
    }
    dense.Build(fold);
    sparse.Build(fold, /*max_dense_cells=*/0, /*max_hybrid_cells=*/0);
    // Full rows for anywhere from the root alone to every state (the alphabet has 11 bytes: at
    // most 12 cells a row).
    hybrid.Build(fold, /*max_dense_cells=*/0, /*max_hybrid_cells=*/12 + rng() % 200);
    EXPECT_TRUE(dense.dense());
    EXPECT_FALSE(sparse.dense());
    EXPECT_EQ(sparse.dense_states(), 0u);
    EXPECT_GE(hybrid.dense_states(), 1u);
    if (hybrid.dense_states() < hybrid.states()) ++partial;
    for (int t = 0; t < 20; ++t) {
      const std::string text = random_string(60);
      const Hits want = Naive(patterns, ids, fold ? Lowered(text) : text);
      EXPECT_EQ(Scanned(dense, text), want) << text;
      EXPECT_EQ(Scanned(sparse, text), want) << text;
      EXPECT_EQ(Scanned(hybrid, text), want) << text;
    }
  }
  EXPECT_GT(partial, 100);  // most rounds had deeper states without rows
}

// The hybrid form on patterns like a rule set's CommandLine literals: long, sharing prefixes,
// with bytes outside every pattern and upper-case text, at every row budget.
TEST(LiteralMatcherTest, HybridRowsAgreeWithTheFullTable) {
  std::mt19937 rng(11);
  const std::vector<std::string> words = {"\\windows\\", "system32", "cmd.exe", " /c ",
                                          "powershell", "-enc", "rundll32", ".dll,", "\\temp\\",
                                          "http://", "whoami", "net user", "\xe3\x81\x82"};
  auto phrase = [&](size_t parts) {
    std::string s;
    for (size_t i = 0; i < parts; ++i) {
      const std::string& w = words[rng() % words.size()];
      const size_t from = rng() % w.size();
      s += w.substr(from, 1 + rng() % (w.size() - from));
      if (rng() % 4 == 0) s += static_cast<char>(rng() % 256);
    }
    return s;
  };
  LiteralMatcher full;
  std::vector<std::string> patterns;
  std::vector<uint32_t> ids;
  for (int i = 0; i < 400; ++i) {
    std::string p = Lowered(phrase(1 + rng() % 3));
    if (p.empty()) continue;
    patterns.push_back(p);
    ids.push_back(full.Add(p));
  }
  full.Build(true, /*max_dense_cells=*/size_t{1} << 24);
  ASSERT_TRUE(full.dense());
  for (size_t budget : {size_t{0}, size_t{1}, size_t{64}, size_t{1000}, size_t{20000}}) {
    LiteralMatcher m;
    for (size_t i = 0; i < patterns.size(); ++i) ASSERT_EQ(m.Add(patterns[i]), ids[i]);
    m.Build(true, /*max_dense_cells=*/0, budget);
    EXPECT_FALSE(m.dense());
    EXPECT_LT(m.dense_states(), m.states());
    for (int t = 0; t < 200; ++t) {
      std::string text = phrase(rng() % 12);
      if (t % 3 == 0) {
        for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      const Hits want = Naive(patterns, ids, Lowered(text));
      ASSERT_EQ(Scanned(full, text), want) << text;
      ASSERT_EQ(Scanned(m, text), want) << "budget " << budget << ": " << text;
    }
  }
}

TEST(LiteralMatcherTest, OverlappingAndNestedPatterns) {
  LiteralMatcher m;
  const uint32_t he = m.Add("he"), she = m.Add("she"), his = m.Add("his"), hers = m.Add("hers");
  EXPECT_EQ(m.Add("he"), he);
  m.Build();
  const Hits want = {{she, 4}, {he, 4}, {hers, 6}, {his, 11}};
  EXPECT_EQ(Scanned(m, "ushers, his"), want);
  EXPECT_TRUE(Scanned(m, "").empty());
  EXPECT_TRUE(Scanned(m, "HERS").empty());  // no folding asked for
}

}  // namespace
}  // namespace seccloud::soc::detect_internal
