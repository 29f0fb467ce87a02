#include "soc/index_tokens_memo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "soc/query_internal.h"
#include "soc/token_hash.h"

namespace seccloud::soc::index_tokens {
namespace {

// The definition: TokenHash of the value lower-cased byte by byte (not LoweredTokenHash, which
// the memo calls on a miss).
uint64_t Expected(std::string_view s) {
  std::string lowered(s);
  for (char& c : lowered) c = LowerAscii(c);
  return store_internal::TokenHash(lowered);
}

// A value in a heap block of exactly its size, so that a read past it is the sanitizer's.
class ExactValue {
 public:
  explicit ExactValue(std::string_view s)
      : bytes_(std::make_unique_for_overwrite<char[]>(s.size())), size_(s.size()) {
    if (!s.empty()) std::copy(s.begin(), s.end(), bytes_.get());
  }
  std::string_view view() const { return {bytes_.get(), size_}; }

 private:
  std::unique_ptr<char[]> bytes_;
  size_t size_;
};

// Looks every value up in a shuffled order, several rounds (a value's first lookup fills its
// slot, a later one may hit it, or find another value's there), each against the definition.
void ExpectMemoEqualsDefinition(const std::vector<std::string>& values, int rounds, uint32_t seed) {
  std::vector<ExactValue> exact;
  std::vector<uint64_t> expected;
  for (const std::string& v : values) {
    exact.emplace_back(v);
    expected.push_back(Expected(v));
  }
  auto memo = std::make_unique<TokenHashMemo>();
  std::mt19937 rng(seed);
  std::vector<size_t> order(values.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int r = 0; r < rounds; ++r) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i : order) {
      ASSERT_EQ(memo->Lowered(exact[i].view()), expected[i])
          << "round " << r << ", value of " << values[i].size() << " bytes";
    }
  }
}

TEST(TokenHashMemoTest, KnownValues) {
  auto memo = std::make_unique<TokenHashMemo>();
  for (int round = 0; round < 2; ++round) {
    for (std::string_view s : {"", "a", "A", "GET", "get", "proxy.access", "Proxy.Access",
                               "192.168.10.20", "www.example.co.jp/index.html?q=1",
                               "a very long value that is longer than the memo's key bytes"}) {
      EXPECT_EQ(memo->Lowered(s), Expected(s)) << s;
      EXPECT_EQ(memo->Lowered(s), LoweredTokenHash(s)) << s;
    }
  }
}

// Every length from 0 to past the key's 32 bytes, over every byte value (upper case, NUL,
// bytes >= 0x80), each value looked up again after others filled the table.
TEST(TokenHashMemoTest, EveryLengthAndByteValue) {
  std::mt19937 rng(7);
  std::vector<std::string> values;
  for (size_t n = 0; n <= TokenHashMemo::kLoweredKeyBytes + 9; ++n) {
    for (int k = 0; k < 64; ++k) {
      std::string v(n, '\0');
      for (char& c : v) c = static_cast<char>(rng() & 0xff);
      values.push_back(v);
    }
    // Each byte value at each position of an otherwise fixed value.
    for (size_t at = 0; at < n; ++at) {
      for (int b = 0; b < 256; b += 37) {
        std::string v(n, 'Q');
        v[at] = static_cast<char>(b);
        values.push_back(v);
      }
    }
  }
  ExpectMemoEqualsDefinition(values, 3, 11);
}

// Values that differ only in one of the key's words (the overlapping tail loads included), or
// only in their size (trailing NULs, which a word holds as zeros): enough of them that many share
// a slot, looked up interleaved. A memo that leaves a word or the size out of its compare returns
// another value's hash here.
TEST(TokenHashMemoTest, ValuesThatShareSlotsKeepTheirOwnHashes) {
  std::mt19937 rng(13);
  std::vector<std::string> values;
  for (size_t n = 1; n <= TokenHashMemo::kLoweredKeyBytes; ++n) {
    std::string base(n, '\0');
    for (char& c : base) c = static_cast<char>('a' + rng() % 26);
    // Vary one byte position at a time: each of the key's words in turn.
    for (size_t at = 0; at < n; ++at) {
      for (int k = 0; k < 40; ++k) {
        std::string v = base;
        v[at] = static_cast<char>(rng() & 0xff);
        values.push_back(v);
      }
    }
  }
  // The same bytes with 0..8 NULs after them.
  for (int k = 0; k < 4000; ++k) {
    std::string v(1 + rng() % 20, '\0');
    for (char& c : v) c = static_cast<char>('a' + rng() % 26);
    for (int z = 0; z <= 8; ++z) values.push_back(v + std::string(z, '\0'));
  }
  // Swapped halves: the same sum of words, the same size.
  for (int k = 0; k < 2000; ++k) {
    std::string a(8, '\0'), b(8, '\0');
    for (char& c : a) c = static_cast<char>(rng() & 0xff);
    for (char& c : b) c = static_cast<char>(rng() & 0xff);
    values.push_back(a + b);
    values.push_back(b + a);
    values.push_back(a + b + a + b);
    values.push_back(b + a + b + a);
    values.push_back(a + a + b + b);
  }
  ASSERT_GT(values.size(), size_t{1} << TokenHashMemo::kLoweredBits);
  ExpectMemoEqualsDefinition(values, 4, 17);
}

// The bench set's lines cut at the separators of JSON, syslog and access logs (what the
// normalisers' values look like), each piece looked up in the order of the lines.
TEST(TokenHashMemoTest, BenchLinePiecesGiveTheDefinitionsHashes) {
  const char* env = std::getenv("SOCBENCH_DATA");
  const std::filesystem::path dir = env != nullptr ? env : "/tmp/socbench-small";
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().filename() != "manifest.json") files.push_back(e.path());
  }
  if (files.empty()) GTEST_SKIP() << "no bench data under " << dir;
  std::sort(files.begin(), files.end());
  auto memo = std::make_unique<TokenHashMemo>();
  size_t pieces = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string line;
    for (int l = 0; l < 4000 && std::getline(in, line); ++l) {
      size_t start = 0;
      for (size_t i = 0; i <= line.size(); ++i) {
        const bool sep = i == line.size() || line[i] == '"' || line[i] == ',' || line[i] == ' ' ||
                         line[i] == '[' || line[i] == ']' || line[i] == '{' || line[i] == '}';
        if (!sep) continue;
        if (i - start <= kMaxIndexedValueBytes) {
          const ExactValue v(std::string_view(line).substr(start, i - start));
          ASSERT_EQ(memo->Lowered(v.view()), Expected(v.view())) << f << ": " << v.view();
          ++pieces;
        }
        start = i + 1;
      }
    }
  }
  EXPECT_GT(pieces, size_t{100000});
}

TEST(TokenHashMemoTest, EachThreadHasItsOwnMemo) {
  TokenHashMemo* mine = &ThreadTokenHashMemo();
  EXPECT_EQ(mine, &ThreadTokenHashMemo());
  TokenHashMemo* other = nullptr;
  std::thread([&] { other = &ThreadTokenHashMemo(); }).join();
  EXPECT_NE(mine, other);
}

}  // namespace
}  // namespace seccloud::soc::index_tokens
