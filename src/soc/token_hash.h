#pragma once
// TokenHash, inline: the store hashes every token of every record it indexes (LogStore::Prepare,
// Append, Compact), and an out-of-line call per token with a byte loop for the tail cost a good
// part of Prepare. The values are persisted (Bloom filters, Golomb-coded token sets): never
// change them. token_hash_test.cc checks them against the original byte-at-a-time definition.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/hash_mix.h"

namespace seccloud::soc::store_internal {
namespace token_hash_detail {

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t Fmix(uint64_t k) { return Mix64(k); }

// The first n (<= 8) bytes at p as a little-endian number (bytes past n are 0).
inline uint64_t LoadLe64(const char* p, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    // Whole-word loads instead of a loop per byte; two overlapping loads cover 4..8 bytes (the
    // overlapped bytes are the same bytes at the same positions, so OR-ing them is exact).
    if (n >= 4) {
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      return uint64_t{lo} | (uint64_t{hi} << (8 * (n - 4)));
    }
    if (n == 0) return 0;
    const auto b = [p](size_t i) { return uint64_t{static_cast<unsigned char>(p[i])}; };
    // 1..3 bytes: byte 0, byte n/2 and byte n-1 (repeats OR in identically).
    return b(0) | (b(n / 2) << (8 * (n / 2))) | (b(n - 1) << (8 * (n - 1)));
  }
  uint64_t w = 0;
  for (size_t i = 0; i < n; ++i) w |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return w;
}

}  // namespace token_hash_detail

// TokenHash of n bytes given as little-endian words: word(i) is the eight bytes at i (i + 8 <= n),
// tail(i) the n - i (1..7) bytes at i with the rest 0. The one definition of the mixing:
// TokenHash reads a plain string through it, other callers the token's bytes in another form
// (padded, or still to be lowered); token_hash_test.cc checks the values against the original
// byte-at-a-time definition.
template <typename Word, typename Tail>
inline uint64_t TokenHashOfWords(size_t n, Word word, Tail tail) {
  using token_hash_detail::Fmix;
  using token_hash_detail::Rotl;
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0x87c37b91114253d5ULL);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k = word(i);
    k *= 0x87c37b91114253d5ULL;
    k = Rotl(k, 31);
    k *= 0x4cf5ad432745937fULL;
    h ^= k;
    h = Rotl(h, 27) * 5 + 0x52dce729;
  }
  if (i < n) {
    uint64_t k = tail(i);
    k *= 0x87c37b91114253d5ULL;
    k = Rotl(k, 31);
    k *= 0x4cf5ad432745937fULL;
    h ^= k;
  }
  h = Fmix(h);
  return h == 0 ? 1 : h;
}

// A fixed 64-bit hash of a token (persisted in Bloom filters and token sets: never change it).
// MurmurHash3-style, one 64-bit lane, little-endian words; never 0.
inline uint64_t TokenHash(std::string_view token) {
  const char* p = token.data();
  const size_t n = token.size();
  auto word = [p](size_t i) {
    if constexpr (std::endian::native != std::endian::little) {
      return token_hash_detail::LoadLe64(p + i, 8);
    }
    uint64_t k;
    std::memcpy(&k, p + i, 8);
    return k;
  };
  auto tail = [p, n](size_t i) { return token_hash_detail::LoadLe64(p + i, n - i); };
  return TokenHashOfWords(n, word, tail);
}

// TokenHash(std::string_view(p, n)) where the bytes up to p + n rounded up to whole 8-byte words
// from p are readable and initialised (the tokenizer's lowered text is padded so): the tail word
// is one load and a mask, not LoadLe64's branches by length.
inline uint64_t TokenHashPadded(const char* p, size_t n) {
  if constexpr (std::endian::native != std::endian::little) {
    return TokenHash(std::string_view(p, n));
  }
  auto load = [p](size_t i) {
    uint64_t k;
    std::memcpy(&k, p + i, 8);
    return k;
  };
  // n - i in 1..7: its bytes, the rest 0.
  auto tail = [&](size_t i) { return load(i) & (~uint64_t{0} >> (64 - 8 * (n - i))); };
  return TokenHashOfWords(n, load, tail);
}

}  // namespace seccloud::soc::store_internal
