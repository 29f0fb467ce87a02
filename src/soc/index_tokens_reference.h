#pragma once
// The index token rules of TextTokens written the plain way — a class-table lookup and a lowered
// copy per byte — as first written: the definition the mask-based TextTokens (index_tokens.h)
// must equal, token for token and in order. Its tokens are what every stored block's token index
// holds and what queries require. For tests and the fuzz target only (it allocates per token).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "soc/index_tokens.h"
#include "soc/token_hash.h"

namespace seccloud::soc::index_tokens {

// TextTokens as first written (a class-table lookup and a lowered copy per byte), kept here as
// the definition the mask-based one must equal: its tokens are what every stored block's token
// index holds and what queries require.
inline std::vector<std::string> ReferenceTextTokens(std::string_view text) {
  std::vector<std::string> out;
  struct Word {
    size_t start = 0, size = 0;
  };
  Word last[4];
  int have = 0;
  const size_t n = text.size();
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  char buf[kMaxIndexedWordBytes];
  while (i < n) {
    if ((kBytes.cls[bytes[i]] & kWord) == 0) {
      ++i;
      continue;
    }
    const size_t start = i;
    uint8_t all = kWord | kDigit | kHexLetter;
    uint8_t any = 0;
    while (i < n) {
      const uint8_t c = kBytes.cls[bytes[i]];
      if ((c & kWord) == 0) break;
      all &= static_cast<uint8_t>(c | ((c & kDigit) ? kHexLetter : 0));
      any |= c;
      if (i - start < kMaxIndexedWordBytes) buf[i - start] = kBytes.lower[bytes[i]];
      ++i;
    }
    const size_t size = i - start;
    const bool all_digits = (all & kDigit) != 0;
    if (size >= 2 && size <= kMaxIndexedWordBytes && !(all_digits && size >= 5) &&
        !(size >= 8 && (all & kHexLetter) && (any & kDigit) && (any & kHexLetter))) {
      out.emplace_back(buf, size);
    }
    if (all_digits && size <= 3) {
      const bool joined = have > 0 &&
                          last[(have - 1) % 4].start + last[(have - 1) % 4].size + 1 == start &&
                          text[start - 1] == '.';
      if (!joined) have = 0;
      last[have % 4] = Word{start, size};
      ++have;
      if (have >= 4) {
        const Word& first = last[(have - 4) % 4];
        out.emplace_back(text.substr(first.start, start + size - first.start));
      }
    } else {
      have = 0;
    }
  }
  return out;
}

// TokenHash of each of ReferenceTextTokens(text), in order: what the store's index holds.
inline std::vector<uint64_t> ReferenceTextTokenHashes(std::string_view text) {
  std::vector<uint64_t> out;
  for (const std::string& t : ReferenceTextTokens(text)) out.push_back(store_internal::TokenHash(t));
  return out;
}

}  // namespace seccloud::soc::index_tokens
