#pragma once
// A cache of recent field values' hashes for the store's index (EmbeddedStore::Prepare): the
// same values come back record after record (datasets, categories, host names, actions,
// addresses), and a hit costs a compare of a few words instead of LoweredTokenHash's lowering
// and mixing. Exact: a slot holds its value's bytes (in an injective form, with the size) and is
// used only when both are equal; values longer than kLoweredKeyBytes are hashed as before. One
// direct-mapped table, replaced on a miss. The raw text's words are not looked up here: a word
// of up to 8 bytes hashes in about as many instructions as the lookup took (tried: Prepare
// +41 M on the bench set with a 16-byte-key table for them; src/soc/README.md).
// A memo is not thread-safe: one per thread (ThreadTokenHashMemo). index_tokens_memo_test.cc
// compares it with LoweredTokenHash on the bench set's values, on every length around the key's
// words and on values made to share a slot.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "soc/index_tokens.h"
#include "soc/token_hash.h"

namespace seccloud::soc::index_tokens {

class TokenHashMemo {
 public:
  static constexpr unsigned kLoweredBits = 14;  // 16,384 slots of 48 bytes: 768 KiB
  static constexpr size_t kLoweredKeyBytes = 32;

  // LoweredTokenHash(s).
  [[gnu::always_inline]] uint64_t Lowered(std::string_view s) {
    if constexpr (std::endian::native != std::endian::little) return LoweredTokenHash(s);
    const char* p = s.data();
    const size_t n = s.size();
    // The key: s's bytes in four words, read with whole-word loads of s's own bytes only,
    // overlapping where n is not a multiple of 8 (with n, the words give back every byte: an
    // injective form, not the hash's), zero where s has no more bytes.
    auto load = [p](size_t i) {
      uint64_t k;
      std::memcpy(&k, p + i, 8);
      return k;
    };
    uint64_t w0, w1 = 0, w2 = 0, w3 = 0;
    if (n <= 8) {
      w0 = store_internal::token_hash_detail::LoadLe64(p, n);
    } else if (n <= 16) {
      w0 = load(0);
      w1 = load(n - 8);
    } else if (n <= kLoweredKeyBytes) {
      w0 = load(0);
      w1 = load(8);
      w2 = load(n - 16);
      w3 = load(n - 8);
    } else {
      return LoweredTokenHash(s);
    }
    // The slot: a multiply of the words' sum (one instruction a word; a cache needs no more).
    LoweredSlot& slot =
        lowered_[((w0 + w1 + w2 + w3 + n) * 0x9E3779B97F4A7C15ULL) >> (64 - kLoweredBits)];
    if (((slot.key[0] ^ w0) | (slot.key[1] ^ w1) | (slot.key[2] ^ w2) | (slot.key[3] ^ w3) |
         (slot.size ^ n)) == 0) [[likely]] {
      return slot.hash;
    }
    return Fill(slot, s, w0, w1, w2, w3);
  }

 private:
  // size kNoSize: an empty slot (no key is that long).
  static constexpr uint64_t kNoSize = ~uint64_t{0};
  struct LoweredSlot {
    uint64_t key[4] = {0, 0, 0, 0};
    uint64_t size = kNoSize;
    uint64_t hash = 0;
  };
  // A miss: the hash computed and kept in slot (out of line: Lowered's hit path then needs
  // few registers).
  [[gnu::noinline]] static uint64_t Fill(LoweredSlot& slot, std::string_view s, uint64_t w0,
                                         uint64_t w1, uint64_t w2, uint64_t w3) {
    const uint64_t h = LoweredTokenHash(s);
    slot.key[0] = w0;
    slot.key[1] = w1;
    slot.key[2] = w2;
    slot.key[3] = w3;
    slot.size = s.size();
    slot.hash = h;
    return h;
  }
  LoweredSlot lowered_[size_t{1} << kLoweredBits];
};

// The calling thread's memo (made at its first use: 768 KiB a thread that indexes records).
inline TokenHashMemo& ThreadTokenHashMemo() {
  thread_local const std::unique_ptr<TokenHashMemo> memo = std::make_unique<TokenHashMemo>();
  return *memo;
}

}  // namespace seccloud::soc::index_tokens
