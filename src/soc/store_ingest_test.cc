// The store's ingest-path helpers rewritten for speed (R18) against their plain definitions.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>
#include <random>
#include <string>

#include "soc/index_tokens.h"
#include "soc/query_internal.h"
#include "soc/store_internal.h"

namespace seccloud::soc::store_internal {
namespace {

TEST(StoreIngestTest, LowerAsciiIntoEqualsLowerAsciiPerByte) {
  std::mt19937_64 rng(7);
  std::string src(300, '\0'), dst(300, '\0');
  for (int round = 0; round < 2000; ++round) {
    for (char& c : src) c = static_cast<char>(rng());
    const size_t n = rng() % 280, at = rng() % 16;
    index_tokens::LowerAsciiInto(src.data() + at, n, dst.data());
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(dst[i], LowerAscii(src[at + i])) << "byte " << i << " of " << n;
    }
  }
  // Every byte value at every position of a word, and the boundaries '@' 'A' 'Z' '[' 0x7f 0x80.
  for (int c = 0; c < 256; ++c) {
    for (size_t pos = 0; pos < 8; ++pos) {
      std::string s(16, 'Q');
      s[pos] = static_cast<char>(c);
      s[pos + 8] = static_cast<char>(c);
      std::string out(16, '\0');
      index_tokens::LowerAsciiInto(s.data(), s.size(), out.data());
      for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(out[i], LowerAscii(s[i])) << c;
    }
  }
}

// Seal's Finish(false) folds the filter in place and hands its buffer over; Finish(true) copies.
// Both must give the filter the fold gave before, for every fold depth: the CRC-32C of the
// filters main's builder (at 435871b: one Insert each, the fold through a scratch copy) made
// of the same tokens, taken with a program linked against that build.
TEST(StoreIngestTest, BloomFinishInPlaceEqualsCopy) {
  struct Frozen {
    int tokens;
    size_t bytes;
    uint32_t crc;
  };
  for (const Frozen& frozen :
       {Frozen{1, 64, 0x323daa6au}, Frozen{10, 64, 0x8b0b59a9u}, Frozen{100, 128, 0x6aa7a888u},
        Frozen{1000, 2048, 0x681301ecu}, Frozen{5000, 8192, 0xd652b28eu},
        Frozen{20000, 32768, 0x957f104du}}) {
    const int tokens = frozen.tokens;
    BloomBuilder keep(1024, 10), drop(1024, 10), reference(1024, 10);
    std::vector<uint64_t> hashes;
    for (int i = 0; i < tokens; ++i) hashes.push_back(TokenHash("x" + std::to_string(i)));
    keep.InsertAll(hashes);
    drop.InsertAll(hashes);
    for (uint64_t h : hashes) reference.Insert(h);
    const Bloom a = keep.Finish(/*keep_memory=*/true);
    const Bloom b = drop.Finish(/*keep_memory=*/false);
    EXPECT_EQ(a.bits, b.bits) << tokens;
    EXPECT_EQ(a.k, b.k);
    EXPECT_EQ(a.bits.size(), frozen.bytes) << tokens;
    EXPECT_EQ(Crc32c(a.bits), frozen.crc) << tokens;
    // The kept builder starts over empty and builds the same filter again.
    keep.InsertAll(hashes);
    EXPECT_EQ(keep.Finish(false).bits, a.bits) << tokens;
    EXPECT_EQ(reference.Finish(false).bits, a.bits) << tokens;
  }
}

TEST(StoreIngestTest, VarintRoundTripsAtEveryLength) {
  std::string out;
  std::vector<uint64_t> values = {0, 1, 0x7f, 0x80, 0x3fff, 0x4000, UINT64_MAX};
  for (int shift = 0; shift < 64; ++shift) {
    values.push_back(uint64_t{1} << shift);
    values.push_back((uint64_t{1} << shift) - 1);
  }
  for (uint64_t v : values) PutVarint(out, v);
  Reader in(out);
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(in.Varint(&got));
    EXPECT_EQ(got, v);
  }
  EXPECT_EQ(in.remaining(), 0u);
  std::string one;
  PutVarint(one, 300);
  EXPECT_EQ(one, std::string("\xac\x02", 2));
}

// Numbers are indexed as before integers were decided without a conversion to double: the
// decimal text of a value whose double is an integer of magnitude below 10,000.
TEST(StoreIngestTest, NumberTokensEqualTheDoubleRule) {
  boost::json::array values = {-10001, -10000, -9999, -1,    0,         1,
                               42,     9999,   10000, 10001, INT64_MIN, INT64_MAX};
  for (uint64_t u : {uint64_t{0}, uint64_t{9999}, uint64_t{10000}, UINT64_MAX}) {
    values.emplace_back(u);
  }
  for (double d :
       {-0.0, 0.5, -9999.0, 9999.0, 9999.5, 10000.0, 1e300,
        std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    values.emplace_back(d);
  }
  for (const auto& v : values) {
    std::vector<std::string> got, want;
    auto collect = [&](std::string_view t) { got.emplace_back(t); };
    index_tokens::ValueTokens(v, /*text_field=*/false, 0, collect);
    const double d = v.to_number<double>();
    if (IsIndexedInteger(d)) want.push_back(std::to_string(static_cast<int64_t>(d)));
    EXPECT_EQ(got, want) << boost::json::serialize(v);
  }
}

}  // namespace
}  // namespace seccloud::soc::store_internal
