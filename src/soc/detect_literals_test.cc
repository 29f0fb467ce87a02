// The engine's Aho–Corasick matcher: every occurrence of every pattern, with its end offset, the
// same from the dense table and the sparse automaton, and case folding equal to scanning the
// lower-cased text.

#include <gtest/gtest.h>

#include <algorithm>
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
  for (int round = 0; round < 200; ++round) {
    const bool fold = round % 2 == 1;
    std::vector<std::string> patterns;
    std::vector<uint32_t> ids;
    LiteralMatcher dense, sparse;
    const size_t count = 1 + rng() % 30;
    for (size_t i = 0; i < count; ++i) {
      std::string p = random_string(6);
      if (p.empty()) p = "a";
      if (fold) p = Lowered(p);  // folded matchers take lower-case patterns
      const uint32_t id = dense.Add(p);
      ASSERT_EQ(sparse.Add(p), id);
      patterns.push_back(p);
      ids.push_back(id);
    }
    dense.Build(fold);
    sparse.Build(fold, /*max_dense_cells=*/0);
    EXPECT_TRUE(dense.dense());
    EXPECT_FALSE(sparse.dense());
    for (int t = 0; t < 20; ++t) {
      const std::string text = random_string(60);
      const Hits want = Naive(patterns, ids, fold ? Lowered(text) : text);
      EXPECT_EQ(Scanned(dense, text), want) << text;
      EXPECT_EQ(Scanned(sparse, text), want) << text;
    }
  }
}

// The dense table's rows: a state with outputs has its row one cell on, so each class count (odd
// and even strides) and a pattern ending in each class (the row's last cell) must keep the rows
// apart. Patterns and texts over all 256 byte values, with hostile texts (runs of one pattern's
// bytes, every byte value), against the sparse automaton and a naive search.
TEST(LiteralMatcherTest, DenseRowsOfEveryClassCountFindEveryOccurrence) {
  std::mt19937 rng(17);
  for (int classes = 1; classes <= 48; ++classes) {
    for (int fold = 0; fold < 2; ++fold) {
      // The bytes patterns use: `classes` distinct ones (folded: lower-case or other).
      std::vector<unsigned char> bytes;
      for (int b = 0; b < 256 && bytes.size() < static_cast<size_t>(classes); ++b) {
        const unsigned char c = static_cast<unsigned char>((b * 97 + classes) & 255);
        if (fold == 1 && c >= 'A' && c <= 'Z') continue;
        if (std::find(bytes.begin(), bytes.end(), c) == bytes.end()) bytes.push_back(c);
      }
      std::vector<std::string> patterns;
      std::vector<uint32_t> ids;
      LiteralMatcher dense, sparse;
      auto add = [&](const std::string& p) {
        const uint32_t id = dense.Add(p);
        ASSERT_EQ(sparse.Add(p), id);
        patterns.push_back(p);
        ids.push_back(id);
      };
      for (unsigned char c : bytes) add(std::string(1, static_cast<char>(c)) + "\x01");
      const size_t count = 5 + rng() % 60;
      for (size_t i = 0; i < count; ++i) {
        std::string p;
        const size_t len = 1 + rng() % 7;
        for (size_t k = 0; k < len; ++k) p += static_cast<char>(bytes[rng() % bytes.size()]);
        add(p);
      }
      dense.Build(fold == 1);
      sparse.Build(fold == 1, /*max_dense_cells=*/0);
      ASSERT_TRUE(dense.dense());
      for (int t = 0; t < 40; ++t) {
        std::string text;
        const size_t len = rng() % 90;
        for (size_t k = 0; k < len; ++k) {
          const uint32_t r = rng();
          if (t % 4 == 0) {
            text += static_cast<char>(r & 255);  // any byte
          } else if (t % 4 == 1 && !patterns.empty()) {
            text += patterns[r % patterns.size()];  // runs of patterns
          } else {
            unsigned char c = bytes[r % bytes.size()];
            if (fold == 1 && c >= 'a' && c <= 'z' && (r & 256) != 0)
              c = static_cast<unsigned char>(c - 32);
            text += static_cast<char>(c);
          }
        }
        const Hits want = Naive(patterns, ids, fold == 1 ? Lowered(text) : text);
        ASSERT_EQ(Scanned(dense, text), want) << "classes " << classes << " fold " << fold;
        ASSERT_EQ(Scanned(sparse, text), want) << "classes " << classes << " fold " << fold;
      }
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

// From the review of sigma17: the dense table's bound counts stride cells (classes + 1 rounded
// up to even), not classes: "abc" has 4 states and 4 classes (0, a, b, c), so a stride of 6 and
// 24 cells — dense at a bound of 24, sparse at 23, and the same matches either way.
TEST(LiteralMatcherTest, DenseBoundCountsStrideCells) {
  for (size_t max : {size_t{23}, size_t{24}}) {
    LiteralMatcher m;
    m.Add("abc");
    m.Build(false, max);
    EXPECT_EQ(m.dense(), max >= 24) << max;
    std::vector<size_t> ends;
    m.Scan("xabcabc", [&](uint32_t, size_t end) { ends.push_back(end); });
    EXPECT_EQ(ends, (std::vector<size_t>{4, 7})) << max;
  }
}

// The pair prefilter (sigma19): a matcher built with it finds exactly what the same patterns
// built without it find, on texts long enough for it to act, for pattern sets with and without
// prefilter pairs, folded and not, dense and sparse: random texts over a small alphabet (pairs
// met and not), texts with one pattern planted at every offset around the 16-byte blocks and at
// the very end (the scalar tail), in upper case when folding. The test requires that the
// prefilter both skipped texts (MayOccur false) and let through texts with matches.
TEST(LiteralMatcherTest, PairPrefilterFindsWhatTheFullScanFinds) {
  std::mt19937 rng(19);
  const std::string alphabet = "abcxyzAB:.\\- \"\xc3\xa9";
  size_t skipped = 0, passed_with_hits = 0, with_pairs = 0;
  for (int round = 0; round < 400; ++round) {
    const bool fold = round % 2 == 1;
    const bool sparse = round % 4 >= 2;
    LiteralMatcher with, without;
    std::vector<std::string> patterns;
    const size_t count = 1 + rng() % 12;
    for (size_t i = 0; i < count; ++i) {
      std::string p;
      const size_t len = 1 + rng() % 6;
      for (size_t k = 0; k < len; ++k) p += alphabet[rng() % alphabet.size()];
      if (round % 8 == 0 && i == 0) p = "::";  // a pair shared by many patterns
      if (round % 8 == 0) p = "::" + p;
      if (fold) p = Lowered(p);
      ASSERT_EQ(with.Add(p), without.Add(p));
      patterns.push_back(p);
    }
    with.Build(fold, sparse ? 0 : LiteralMatcher::kMaxDenseCells);
    without.Build(fold, sparse ? 0 : LiteralMatcher::kMaxDenseCells, /*prefilter=*/false);
    ASSERT_EQ(without.prefilter_pairs(), 0u);
    if (with.prefilter_pairs() > 0) ++with_pairs;
    for (int t = 0; t < 30; ++t) {
      std::string text;
      const size_t len = LiteralMatcher::kPrefilterMinText + rng() % 100;
      // Texts without the rarer bytes most of the time, so that some hold no pair.
      const size_t span = t % 3 == 0 ? alphabet.size() : 4;
      for (size_t k = 0; k < len; ++k) text += alphabet[rng() % span];
      if (t % 5 == 1) {  // one pattern planted at an offset around the blocks, or at the end
        const std::string& p = patterns[rng() % patterns.size()];
        std::string q = p;
        if (fold && (rng() & 1) != 0) {
          for (char& c : q) {
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
          }
        }
        const size_t offsets[] = {0, 14, 15, 16, 17, 31, 32, 33, text.size() - q.size()};
        const size_t at = offsets[rng() % std::size(offsets)];
        text.replace(at, q.size(), q);
      }
      const Hits want = Scanned(without, text);
      ASSERT_EQ(Scanned(with, text), want) << "round " << round << " text " << text;
      if (!with.MayOccur(text)) {
        ++skipped;
        ASSERT_TRUE(want.empty());
      } else if (with.prefilter_pairs() > 0 && !want.empty()) {
        ++passed_with_hits;
      }
    }
  }
  EXPECT_GT(with_pairs, 100u);
  EXPECT_GT(skipped, 500u);
  EXPECT_GT(passed_with_hits, 500u);
}

// Mimikatz's keywords (the Windows raw-text keyword scan with 1,000 rules): one pair serves the
// fifteen with "::"; a Windows event's JSON without them is skipped; each keyword planted in it,
// as is and in upper case, is found at its offset, also as the text's last bytes.
TEST(LiteralMatcherTest, PairPrefilterOnMimikatzKeywords) {
  const std::vector<std::string> keywords = {
      "dpapi::masterkey",  "eo.oe.kiwi",           "event::clear",       "event::drop",
      "gentilkiwi.com",    "kerberos::golden",     "kerberos::ptc",      "kerberos::ptt",
      "kerberos::tgt",     "kiwi legit printer",   "lsadump::",          "mimidrv.sys",
      "\\mimilib.dll",     "misc::printnightmare", "misc::shadowcopies", "misc::skeleton",
      "privilege::backup", "privilege::debug",     "privilege::driver",  "sekurlsa::"};
  LiteralMatcher m;
  for (const auto& k : keywords) m.Add(k);
  m.Build(/*fold_ascii_case=*/true);
  EXPECT_GT(m.prefilter_pairs(), 0u);
  EXPECT_LE(m.prefilter_pairs(), 5u);
  const std::string event =
      R"({"winlog":{"channel":"Security","event_id":4624,"computer_name":"WS-0042.city.local",)"
      R"("event_data":{"TargetUserName":"tanaka","LogonType":"3","IpAddress":"10.1.2.3",)"
      R"("ProcessName":"C:\\Windows\\System32\\lsass.exe","WorkstationName":"WS-0042"}},)"
      R"("@timestamp":"2026-11-28T10:00:00Z","message":"An account was successfully logged on."})";
  EXPECT_FALSE(m.MayOccur(event));
  EXPECT_TRUE(Scanned(m, event).empty());
  for (size_t i = 0; i < keywords.size(); ++i) {
    for (int upper = 0; upper < 2; ++upper) {
      std::string k = keywords[i];
      if (upper == 1) {
        for (char& c : k) {
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        }
      }
      for (size_t at : {size_t{0}, size_t{40}, event.size()}) {
        std::string text = event;
        text.insert(at, k);
        EXPECT_TRUE(m.MayOccur(text)) << k;
        EXPECT_TRUE(Scanned(m, text).count({static_cast<uint32_t>(i), at + k.size()}) == 1)
            << k << " at " << at;
      }
    }
  }
}

}  // namespace
}  // namespace seccloud::soc::detect_internal
