#include "soc/token_hash.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "soc/query_internal.h"

namespace seccloud::soc::store_internal {
namespace {

// TokenHash as first written (a byte loop for the tail), kept here as the frozen definition the
// inline one must equal: the values are persisted in every block's token index.
uint64_t ReferenceTokenHash(std::string_view token) {
  auto rotl = [](uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  auto fmix = [](uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
  };
  auto load = [&](size_t at, size_t n) {
    uint64_t w = 0;
    for (size_t i = 0; i < n; ++i) {
      w |= uint64_t{static_cast<unsigned char>(token[at + i])} << (8 * i);
    }
    return w;
  };
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (token.size() * 0x87c37b91114253d5ULL);
  size_t i = 0;
  for (; i + 8 <= token.size(); i += 8) {
    uint64_t k = load(i, 8);
    k *= 0x87c37b91114253d5ULL;
    k = rotl(k, 31);
    k *= 0x4cf5ad432745937fULL;
    h ^= k;
    h = rotl(h, 27) * 5 + 0x52dce729;
  }
  if (i < token.size()) {
    uint64_t k = load(i, token.size() - i);
    k *= 0x87c37b91114253d5ULL;
    k = rotl(k, 31);
    k *= 0x4cf5ad432745937fULL;
    h ^= k;
  }
  h = fmix(h);
  return h == 0 ? 1 : h;
}

// Values main's out-of-line TokenHash (before it was inlined) gave; fixed forever.
TEST(TokenHashTest, FrozenValues) {
  const std::pair<std::string_view, uint64_t> kFrozen[] = {
      {"", 0x9ca066f1a4ab2eeaULL},
      {"a", 0x3e6a772212b527ddULL},
      {"ab", 0xbe3bce7d4bbd002fULL},
      {"abc", 0x41cd730db2af8d63ULL},
      {"abcd", 0x5e73a858189e826cULL},
      {"abcde", 0x2f8d10e7c55dd8c3ULL},
      {"abcdef", 0x6d3b56b0c539d400ULL},
      {"abcdefg", 0x03420dd068e98c3bULL},
      {"abcdefgh", 0xec025f0842db83d9ULL},
      {"abcdefghi", 0xab5118e39574f62fULL},
      {"seccloud", 0x5e60a6cd575d43f6ULL},
      {"10.1.2.3", 0x7a322e272b423e6aULL},
      {"203.0.113.77", 0x4d92c3ec891ee718ULL},
      {"get", 0x93998a57d6638916ULL},
      {"www.example.co.jp", 0x874d4fdae1aa2480ULL},
      {"\xe6\x97\xa5\xe6\x9c\xac", 0xe50e8390faca8bf7ULL},
      {std::string_view("\xff\x00\x80", 3), 0xeb13974e60ba4b62ULL},
  };
  for (const auto& [token, value] : kFrozen) {
    EXPECT_EQ(TokenHash(token), value) << "token of " << token.size() << " bytes";
    EXPECT_EQ(ReferenceTokenHash(token), value);
  }
}

// Every length up to 80 bytes (all tail sizes, several words), every byte value, at every
// alignment of the token within its buffer.
TEST(TokenHashTest, EqualsTheByteLoopDefinition) {
  std::mt19937_64 rng(20261127);
  std::string buf(128, '\0');
  for (int round = 0; round < 4000; ++round) {
    for (char& c : buf) c = static_cast<char>(rng());
    for (size_t len = 0; len <= 80; ++len) {
      const size_t at = rng() % (buf.size() - len + 1);
      const std::string_view token(buf.data() + at, len);
      ASSERT_EQ(TokenHash(token), ReferenceTokenHash(token)) << "length " << len << " at " << at;
    }
  }
  for (int c = 0; c < 256; ++c) {
    for (size_t len = 1; len <= 9; ++len) {
      const std::string token(len, static_cast<char>(c));
      ASSERT_EQ(TokenHash(token), ReferenceTokenHash(token)) << "byte " << c << " × " << len;
    }
  }
}

TEST(TokenHashTest, PaddedEqualsTokenHash) {
  std::mt19937_64 rng(20261128);
  std::string buf(160, '\0');
  for (int round = 0; round < 4000; ++round) {
    for (char& c : buf) c = static_cast<char>(rng());
    for (size_t len = 0; len <= 80; ++len) {
      // Room for the whole 8-byte words over the token (its bytes past len are garbage).
      const size_t at = rng() % (buf.size() - (len + 7) / 8 * 8 + 1);
      const std::string_view token(buf.data() + at, len);
      ASSERT_EQ(TokenHashPadded(token.data(), len), ReferenceTokenHash(token))
          << "length " << len << " at " << at;
    }
  }
}

// The tokens the index takes from a text with every byte class (ASCII letters and digits,
// punctuation, escapes, control bytes, UTF-8, invalid bytes, long words, dotted quads) hash to
// the reference values.
TEST(TokenHashTest, IndexTokensOfEveryByteClass) {
  std::string text;
  for (int c = 0; c < 256; ++c) {
    text += "w";
    text += static_cast<char>(c);
    text += "Abc";
    text += static_cast<char>(c);
    text += "09 ";
  }
  text += " 10.0.0.1 192.168.100.200.7 \\u00e9\\\"quoted\\\" \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e ";
  text += std::string(200, 'x') + " " + std::string(64, 'Y') + " deadbeef1234 12345 1234";
  size_t tokens = 0;
  ForEachTextToken(text, [&](std::string_view t) {
    ++tokens;
    ASSERT_EQ(TokenHash(t), ReferenceTokenHash(t)) << t;
  });
  EXPECT_GT(tokens, 300u);
}

}  // namespace
}  // namespace seccloud::soc::store_internal
