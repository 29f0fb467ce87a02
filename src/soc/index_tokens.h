#pragma once
// The index token rules of query_internal.h (ForEachTextToken, ForEachRecordToken) as templates
// over the callback, so the store's ingest path inlines its per-token work (hash, Bloom insert)
// instead of paying a std::function call per token. query_tokens.cc's std::function entry points
// are these templates; there is one definition of the rules. Private to the query language and
// the store.

#include <algorithm>
#include <bit>
#include <boost/json/object.hpp>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "soc/query_internal.h"
#include "soc/token_hash.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SECCLOUD_INDEX_TOKENS_AVX2 1
#endif

namespace seccloud::soc::index_tokens {

// Byte classes for the tokenizer's inner loop: one table lookup per byte.
enum : uint8_t { kWord = 1, kDigit = 2, kHexLetter = 4 };
struct ByteClasses {
  uint8_t cls[256];
  char lower[256];
  constexpr ByteClasses() : cls(), lower() {
    for (int c = 0; c < 256; ++c) {
      const auto u = static_cast<unsigned char>(c);
      const auto l = static_cast<unsigned char>(LowerAscii(static_cast<char>(c)));
      const bool digit = u >= '0' && u <= '9';
      const bool hex_letter = l >= 'a' && l <= 'f';
      cls[c] = static_cast<uint8_t>((IsWordByte(u) ? kWord : 0) | (digit ? kDigit : 0) |
                                    (hex_letter ? kHexLetter : 0));
      lower[c] = LowerAscii(static_cast<char>(c));
    }
  }
};
inline constexpr ByteClasses kBytes;

// LowerAscii of each of the eight bytes of w.
inline uint64_t Lower8(uint64_t w) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  // Per byte, without carries between bytes: its low seven bits plus 0x3f reach 0x80 when they
  // are >= 'A', plus 0x25 when they are > 'Z'; bytes >= 0x80 are not ASCII letters. 0x80 >> 2
  // is 0x20, the case bit.
  const uint64_t low7 = w & ~kHigh;
  const uint64_t upper =
      (low7 + 0x3f3f3f3f3f3f3f3fULL) & ~(low7 + 0x2525252525252525ULL) & ~w & kHigh;
  return w | (upper >> 2);
}

// dst[i] = LowerAscii(src[i]) for i < n, eight bytes at a time (a field value is lowered whole
// for its token, and a byte at a time with a branch per byte cost more than hashing it).
inline void LowerAsciiInto(const char* src, size_t n, char* dst) {
  auto lower8 = [](uint64_t w) { return Lower8(w); };
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, src + i, 8);
      w = lower8(w);
      std::memcpy(dst + i, &w, 8);
    }
    if (n % 8 != 0) {
      // The last eight bytes again (lowering is idempotent, and src is read, not dst).
      uint64_t w;
      std::memcpy(&w, src + n - 8, 8);
      w = lower8(w);
      std::memcpy(dst + n - 8, &w, 8);
    }
    return;
  }
  if (n >= 4) {
    // Two overlapping four-byte words, in the low half of one (no carries cross bytes).
    uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    a = static_cast<uint32_t>(lower8(a));
    b = static_cast<uint32_t>(lower8(b));
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
    return;
  }
  for (size_t i = 0; i < n; ++i) dst[i] = kBytes.lower[static_cast<unsigned char>(src[i])];
}

// TextTokens' view of a text: the text lower-cased, and three bit masks over it (bit i of mask
// word i / 64 is byte i): word bytes (IsWordByte), ASCII digits, ASCII hex letters. Built 64
// bytes at a time (AVX2 where the CPU has it: 32 per instruction; else SSE2: 16; elsewhere from
// the byte tables); the bytes past the text count as non-word, and each mask has one more word
// than the text needs (zero), so a run of word bytes always ends inside them. Texts up to
// kTextMaskStackBytes use the stack.
inline constexpr size_t kTextMaskStackBytes = 2048;

// The masks of one 64-byte piece (bytes past n are taken as 0, a non-word byte), and the piece
// lower-cased into dst (all 64 bytes written; those past n are 0).
inline void MaskPiece(const char* src, size_t n, char* dst, uint64_t* word, uint64_t* digit,
                      uint64_t* hex) {
  alignas(16) char in[64];
  const char* p = src;
  if (n < 64) {
    std::memset(in, 0, sizeof in);
    std::memcpy(in, src, n);
    p = in;
  }
#if defined(__SSE2__)
  uint64_t w = 0, d = 0, h = 0;
  for (int q = 0; q < 4; ++q) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * q));
    // Unsigned ranges with signed compares: (c - lo) ^ 0x80 < (count ^ 0x80).
    const __m128i dg = _mm_cmplt_epi8(_mm_sub_epi8(c, _mm_set1_epi8(static_cast<char>('0' + 128))),
                                      _mm_set1_epi8(static_cast<char>(-128 + 10)));
    const __m128i l = _mm_or_si128(c, _mm_set1_epi8(0x20));
    const __m128i la = _mm_sub_epi8(l, _mm_set1_epi8(static_cast<char>('a' + 128)));
    const __m128i alpha = _mm_cmplt_epi8(la, _mm_set1_epi8(static_cast<char>(-128 + 26)));
    const __m128i hx = _mm_cmplt_epi8(la, _mm_set1_epi8(static_cast<char>(-128 + 6)));
    const __m128i us = _mm_cmpeq_epi8(c, _mm_set1_epi8('_'));
    const __m128i wd = _mm_or_si128(_mm_or_si128(dg, alpha), _mm_or_si128(us, c));  // c: bit 7
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * q),
                     _mm_or_si128(c, _mm_and_si128(alpha, _mm_set1_epi8(0x20))));
    // (pmovmskb sets 16 bits and clears the rest of the register.)
    w |= uint64_t{static_cast<uint32_t>(_mm_movemask_epi8(wd))} << (16 * q);
    d |= uint64_t{static_cast<uint32_t>(_mm_movemask_epi8(dg))} << (16 * q);
    h |= uint64_t{static_cast<uint32_t>(_mm_movemask_epi8(hx))} << (16 * q);
  }
  *word = w;
  *digit = d;
  *hex = h;
#else
  uint64_t w = 0, d = 0, h = 0;
  for (int i = 0; i < 64; ++i) {
    const uint8_t c = kBytes.cls[static_cast<unsigned char>(p[i])];
    w |= uint64_t{(c & kWord) != 0} << i;
    d |= uint64_t{(c & kDigit) != 0} << i;
    h |= uint64_t{(c & kHexLetter) != 0 && (c & kDigit) == 0} << i;
    dst[i] = kBytes.lower[static_cast<unsigned char>(p[i])];
  }
  *word = w;
  *digit = d;
  *hex = h;
#endif
}

// MaskPiece for each of the text's pieces (words = its length in 64-byte pieces, rounded up).
inline void MaskPieces(const char* text, size_t n, size_t words, char* lowered, uint64_t* wm,
                       uint64_t* dm, uint64_t* hm) {
  for (size_t k = 0; k < words; ++k) {
    MaskPiece(text + 64 * k, std::min<size_t>(64, n - 64 * k), lowered + 64 * k, &wm[k], &dm[k],
              &hm[k]);
  }
}

#if defined(SECCLOUD_INDEX_TOKENS_AVX2)
// MaskPieces with AVX2: 32 bytes per instruction instead of SSE2's 16, and three-operand forms
// (no register copies); the same classes, bit for bit (index_tokens_test.cc compares them on
// every byte value at every offset). TextTokens uses it when the CPU has AVX2 (UseAvx2).
__attribute__((target("avx2"))) inline void MaskPiecesAvx2(const char* text, size_t n, size_t words,
                                                           char* lowered, uint64_t* wm,
                                                           uint64_t* dm, uint64_t* hm) {
  alignas(32) char in[64];
  for (size_t k = 0; k < words; ++k) {
    const char* p = text + 64 * k;
    const size_t left = n - 64 * k;
    if (left < 64) {
      std::memset(in, 0, sizeof in);
      std::memcpy(in, p, left);
      p = in;
    }
    uint64_t w = 0, d = 0, h = 0;
    for (int q = 0; q < 2; ++q) {
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * q));
      // Unsigned ranges with signed compares, as MaskPiece's.
      const __m256i dg =
          _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(-128 + 10)),
                            _mm256_sub_epi8(c, _mm256_set1_epi8(static_cast<char>('0' + 128))));
      const __m256i l = _mm256_or_si256(c, _mm256_set1_epi8(0x20));
      const __m256i la = _mm256_sub_epi8(l, _mm256_set1_epi8(static_cast<char>('a' + 128)));
      const __m256i alpha = _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(-128 + 26)), la);
      const __m256i hx = _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(-128 + 6)), la);
      const __m256i us = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('_'));
      const __m256i wd =
          _mm256_or_si256(_mm256_or_si256(dg, alpha), _mm256_or_si256(us, c));  // c: bit 7
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lowered + 64 * k + 32 * q),
                          _mm256_or_si256(c, _mm256_and_si256(alpha, _mm256_set1_epi8(0x20))));
      w |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(wd))} << (32 * q);
      d |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(dg))} << (32 * q);
      h |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(hx))} << (32 * q);
    }
    wm[k] = w;
    dm[k] = d;
    hm[k] = h;
  }
}
#endif

// Whether TextTokens' AVX2 build (MaskPiecesAvx2, and the word loop compiled for AVX2, BMI1 and
// BMI2) may run: the CPU has the three and the OS saves the AVX registers (libgcc's and
// compiler-rt's checks include XGETBV). Decided once; __builtin_cpu_init first, as the check may
// run before the library's own constructor has (a static initialiser's call).
inline bool UseAvx2() {
#if defined(SECCLOUD_INDEX_TOKENS_AVX2)
  static const bool avx2 =
      (__builtin_cpu_init(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
                                 __builtin_cpu_supports("bmi2"));
  return avx2;
#else
  return false;
#endif
}

// Calls emit.Padded(p, n) when the emitter has it, else emit(std::string_view(p, n)). The
// bytes from p to p + n rounded up to whole 8-byte words are readable (and initialised), so the
// emitter may load them whole (TokenHashPadded); it must not depend on those past p + n.
template <typename Emit>
inline void EmitPadded(Emit& emit, const char* p, size_t n) {
  if constexpr (requires { emit.Padded(p, n); }) {
    emit.Padded(p, n);
  } else {
    emit(std::string_view(p, n));
  }
}

// TokenHash of the lower-cased s (LowerAsciiInto and TokenHash in one pass over s, without
// writing the lowered bytes): reads only s's own bytes. (A value of 16 to 256 bytes lowered 16
// bytes at a time into a buffer with SSE2 and hashed from it took 6.3 M fewer instructions on
// the bench set but was slower a call at most lengths: the hash's 8-byte loads that span two of
// the buffer's overlapping stores wait for both — prep21's review; src/soc/README.md.)
inline uint64_t LoweredTokenHash(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  if constexpr (std::endian::native != std::endian::little) {
    std::string lowered(n, '\0');
    LowerAsciiInto(p, n, lowered.data());
    return store_internal::TokenHash(lowered);
  }
  auto load = [p](size_t i) {
    uint64_t k;
    std::memcpy(&k, p + i, 8);
    return k;
  };
  auto word = [&](size_t i) { return Lower8(load(i)); };
  // The n - i (1..7) bytes at i: the last eight bytes of s shifted down when s has eight, else
  // LoadLe64's loads (0 bytes stay 0 when lowered).
  auto tail = [&](size_t i) {
    const uint64_t w = n >= 8 ? load(n - 8) >> (8 * (8 - (n - i)))
                              : store_internal::token_hash_detail::LoadLe64(p, n);
    return Lower8(w);
  };
  return store_internal::TokenHashOfWords(n, word, tail);
}

// emit.Lowered(s) when the emitter has it (it gets the value as it is and lowers it itself),
// else emit(the lower-cased s). s is at most kMaxIndexedValueBytes long.
template <typename Emit>
inline void EmitLowered(Emit& emit, std::string_view s) {
  if constexpr (requires { emit.Lowered(s); }) {
    emit.Lowered(s);
  } else {
    char buf[kMaxIndexedValueBytes];
    LowerAsciiInto(s.data(), s.size(), buf);
    emit(std::string_view(buf, s.size()));
  }
}

// True when an occurrence of text in raw has a non-word byte (or raw's edge) on either side: then
// every token TextTokens finds in text it also finds in raw (the same words; a dotted quad of
// text is four consecutive joined words of raw too, and raw emits every window of four joined
// words, so it emits that one as well). Two occurrences are looked at: raw's end (a syslog or
// text line's message is its suffix: one memcmp), then the first one; false only costs
// tokenizing text again.
// The search is glibc's memmem, linear in |raw| + |text| (Two-Way), not string_view::find, whose
// first-byte scan and memcmp at each candidate take |raw| × |text| on crafted input (a 64 KiB
// record of one repeated letter: 10 ms a record instead of 0.02 ms).
inline bool TextTokensWithin(std::string_view raw, std::string_view text) {
  if (text.empty() || text.size() > raw.size()) return text.empty();
  auto word = [&](size_t i) {
    return (kBytes.cls[static_cast<unsigned char>(raw[i])] & kWord) != 0;
  };
  // callgrind, soc_store_bench: memmem took ~1,140 instructions a call (syslog and text lines).
  if (const size_t at = raw.size() - text.size();
      (at == 0 || !word(at - 1)) && std::memcmp(raw.data() + at, text.data(), text.size()) == 0) {
    return true;
  }
  const void* found = ::memmem(raw.data(), raw.size(), text.data(), text.size());
  if (found == nullptr) return false;
  const size_t at = static_cast<const char*>(found) - raw.data();
  const size_t end = at + text.size();
  return (at == 0 || !word(at - 1)) && (end == raw.size() || !word(end));
}

// bits [start, start + size) of a mask (size 1..64), as the low bits of the result.
inline uint64_t MaskBits(const uint64_t* m, size_t start, size_t size) {
  const size_t i = start / 64, o = start % 64;
  uint64_t v = m[i] >> o;
  if (o != 0) v |= m[i + 1] << (64 - o);
  return size == 64 ? v : v & ((uint64_t{1} << size) - 1);
}

// TextTokens' body: ForEachTextToken's rules; emit(std::string_view lowered) per token. The
// view is valid only during the call. Words are found in bit masks of the text (MaskPiece), not
// byte by byte: a word's class tests (all digits? all hex?) are a few operations on its mask
// bits, and its lowered bytes are a piece of the text lowered whole. index_tokens_test.cc checks
// it against the byte-at-a-time definition. kAvx2: the masks from MaskPiecesAvx2 (the caller is
// compiled for AVX2), else from MaskPieces. Always inlined into its callers below.
template <bool kAvx2, typename Emit>
[[gnu::always_inline]] inline void TextTokensWith(std::string_view text, Emit& emit) {
  const size_t n = text.size();
  if (n == 0) return;
  const size_t words = (n + 63) / 64;
  // Lowered text (whole pieces of 64, then 8 zero bytes: EmitPadded's) and the three masks
  // (each with a zero sentinel word).
  alignas(16) char stack_lowered[kTextMaskStackBytes + 8];
  uint64_t stack_masks[3 * (kTextMaskStackBytes / 64 + 1)];
  std::unique_ptr<char[]> heap_lowered;
  std::unique_ptr<uint64_t[]> heap_masks;
  char* lowered = stack_lowered;
  uint64_t* masks = stack_masks;
  if (words * 64 > kTextMaskStackBytes) {
    heap_lowered = std::make_unique_for_overwrite<char[]>(words * 64 + 8);
    heap_masks = std::make_unique_for_overwrite<uint64_t[]>(3 * (words + 1));
    lowered = heap_lowered.get();
    masks = heap_masks.get();
  }
  uint64_t* const wm = masks;
  uint64_t* const dm = masks + (words + 1);
  uint64_t* const hm = masks + 2 * (words + 1);
#if defined(SECCLOUD_INDEX_TOKENS_AVX2)
  if constexpr (kAvx2) {
    MaskPiecesAvx2(text.data(), n, words, lowered, wm, dm, hm);
  } else {
    MaskPieces(text.data(), n, words, lowered, wm, dm, hm);
  }
#else
  static_assert(!kAvx2);
  MaskPieces(text.data(), n, words, lowered, wm, dm, hm);
#endif
  wm[words] = dm[words] = hm[words] = 0;
  std::memset(lowered + words * 64, 0, 8);

  // The last four words, for dotted quads: start offset and length.
  struct Word {
    size_t start = 0, size = 0;
  };
  Word last[4];
  unsigned have = 0;         // consecutive dotted small numbers ending at the current word
  size_t k = 0;              // mask word of the scan position
  uint64_t pending = wm[0];  // word bits of wm[k] at or after the scan position
  while (true) {
    while (pending == 0) {
      if (++k >= words) return;
      pending = wm[k];
    }
    const unsigned o = static_cast<unsigned>(std::countr_zero(pending));
    const size_t start = 64 * k + o;
    // Non-word bits from start on in this mask word (bit 0, start's, is a word bit): none when
    // the run reaches the word's last bit and goes on in the next mask word.
    const uint64_t after = ~wm[k] >> o;
    size_t size;
    bool all_digits = false, hex_mix = false;
    if (after != 0) [[likely]] {
      // The run ends inside mask word k (size <= 63): its class bits are one shift away.
      static_assert(kMaxIndexedWordBytes >= 63,
                    "TextTokens' in-word path emits words of up to 63 bytes unchecked");
      size = static_cast<size_t>(std::countr_zero(after));
      pending &= ~uint64_t{0} << (o + size);  // o + size <= 63: bit o + size is not a word bit
      const uint64_t dk = dm[k] >> o;
      if ((dk & 1) == 0) {
        // The most common word: its first byte is not a digit, so it is not all digits (no
        // dotted quad) and is a hex id only when it begins with a hex letter.
        have = 0;
        if (size < 2) continue;
        if (size >= 8) {
          const uint64_t hk = hm[k] >> o;
          if ((hk & 1) != 0) {
            const uint64_t full = (uint64_t{1} << size) - 1;
            const uint64_t d = dk & full;
            if (((d | hk) & full) == full && d != 0) continue;
          }
        }
        EmitPadded(emit, lowered + start, size);
        continue;
      }
      const uint64_t full = (uint64_t{1} << size) - 1;
      const uint64_t d = dk & full;
      all_digits = d == full;
      if (size >= 8 && !all_digits) {
        const uint64_t h = (hm[k] >> o) & full;
        hex_mix = (d | h) == full && h != 0;
      }
    } else {
      // The run goes on past mask word k: its end is the first non-word bit after it (the
      // sentinel word has one).
      uint64_t rest;
      do {
        rest = ~wm[++k];
      } while (rest == 0);
      const size_t end = 64 * k + static_cast<size_t>(std::countr_zero(rest));
      // Word bits after the run in its last mask word (bit end is not a word bit).
      pending = wm[k] & (~uint64_t{0} << (end % 64));
      size = end - start;
      if (size > kMaxIndexedWordBytes) {
        have = 0;
        continue;
      }
      const uint64_t full = size == 64 ? ~uint64_t{0} : (uint64_t{1} << size) - 1;
      const uint64_t d = MaskBits(dm, start, size);
      all_digits = d == full;
      if (size >= 8 && !all_digits) {
        const uint64_t h = MaskBits(hm, start, size);
        hex_mix = (d | h) == full && d != 0 && h != 0;
      }
    }
    if (size >= 2 && !(all_digits && size >= 5) && !hex_mix) {
      EmitPadded(emit, lowered + start, size);
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
        emit(text.substr(first.start, start + size - first.start));
      }
    } else {
      have = 0;
    }
  }
}

// TextTokens on the SSE2 (or portable) masks, whatever the CPU has: TextTokens' path on a CPU
// without AVX2, BMI1 and BMI2 (index_tokens_test.cc compares the two).
template <typename Emit>
void TextTokensBaseline(std::string_view text, Emit& emit) {
  TextTokensWith<false>(text, emit);
}

#if defined(SECCLOUD_INDEX_TOKENS_AVX2)
// TextTokens compiled for AVX2, BMI1 and BMI2 (UseAvx2): the masks' AVX2 code inlined, and the
// word loop and the emitter's hash with BMI's forms — shifts by a register in any register
// (SHRX/SHLX: the baseline's shifts take their count in CL, a copy per shift), AND-NOT, TZCNT,
// and rotations without flags (RORX). The same source, so the same tokens (index_tokens_test.cc
// compares them with TextTokensBaseline's and the byte-at-a-time reference).
// An emitter that is trivially copyable and assignable (the store's: a write pointer) is worked on
// as a local copy and copied back: the caller's object is memory the word loop cannot keep in a
// register (the hashes' stores are 64-bit integers, like the masks), so each token loaded and
// stored the write pointer again.
template <typename Emit>
__attribute__((target("avx2,bmi,bmi2"))) void TextTokensAvx2(std::string_view text, Emit& emit) {
  if constexpr (std::is_trivially_copyable_v<Emit> && std::is_copy_assignable_v<Emit>) {
    Emit local = emit;
    TextTokensWith<true>(text, local);
    emit = local;
  } else {
    TextTokensWith<true>(text, emit);
  }
}
#endif

// ForEachTextToken's rules; emit(std::string_view lowered) per token (see TextTokensWith).
template <typename Emit>
void TextTokens(std::string_view text, Emit& emit) {
#if defined(SECCLOUD_INDEX_TOKENS_AVX2)
  if (UseAvx2()) {
    TextTokensAvx2(text, emit);
    return;
  }
#endif
  TextTokensWith<false>(text, emit);
}

template <typename Emit>
void ObjectTokens(const boost::json::object& obj, std::string_view parent, int depth, Emit& emit);

// ValueTokens' and ObjectTokens' rules for the field tape's walk (index_tape_tokens.h), as
// separate steps. The tree walk below keeps its own copy of them: with ValueTokens and
// ObjectTokens calling these, soc_store_bench's Prepare on built trees took 66.7 M more
// instructions (~600 a record). index_tape_tokens_test.cc and soc_tape_tokens_fuzz check that
// both walks give the same tokens.
// The tokens of a text field's string after its value's own: TextTokens', unless the emitter
// says it has them. Out of line, so that StringValueTokens, inlined at every value, does not
// carry TextTokens (its 2 KiB of stack buffers and its word loop) for the one value in ~50 that
// is a text field (alone, before StringValueTokens was inlined, Prepare −2.5 M instructions on
// the bench set: the call's prologue and epilogue were the hash's registers, not this).
template <typename Emit>
[[gnu::noinline]] void TextFieldTokens(std::string_view sv, Emit& emit) {
  // An emitter that keeps a set (the store's token index) may say that the text's tokens are
  // already among those it has (the record's raw text holds the message).
  if constexpr (requires { emit.HasTextTokensOf(sv); }) {
    if (emit.HasTextTokensOf(sv)) return;
  }
  TextTokens(sv, emit);
}

// The tokens of one string value. Always inlined: a call per value (1.6 M over the bench set)
// cost its prologue and epilogue, ~20 of its ~125 instructions.
template <typename Emit>
[[gnu::always_inline]] inline void StringValueTokens(std::string_view sv, bool text_field,
                                                     Emit& emit) {
  if (sv.size() <= kMaxIndexedValueBytes) EmitLowered(emit, sv);
  if (text_field) [[unlikely]] {
    TextFieldTokens(sv, emit);
  }
}

// IsIndexedInteger of a number as a double; integers are decided without the conversion
// (to_number's error_code path cost more than the rest of the token): one below 10,000 in
// magnitude converts exactly, and one at or above it is not indexed whatever its rounding.
template <typename Emit>
inline void IndexedIntegerToken(bool indexed, int64_t n, Emit& emit) {
  if (indexed) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    emit(std::string_view(buf, r.ptr - buf));
  }
}
template <typename Emit>
inline void Int64Tokens(int64_t n, Emit& emit) {
  IndexedIntegerToken(n > -10000 && n < 10000, n, emit);
}
template <typename Emit>
inline void Uint64Tokens(uint64_t u, Emit& emit) {
  IndexedIntegerToken(u < 10000, static_cast<int64_t>(u % 10000), emit);
}
template <typename Emit>
inline void DoubleTokens(double d, Emit& emit) {
  const bool indexed = IsIndexedInteger(d);
  IndexedIntegerToken(indexed, indexed ? static_cast<int64_t>(d) : 0, emit);
}
template <typename Emit>
inline void BoolTokens(bool b, Emit& emit) {
  emit(std::string_view(b ? "true" : "false"));
}

template <typename Emit>
void ValueTokens(const boost::json::value& v, bool text_field, int depth, Emit& emit) {
  switch (v.kind()) {
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      const std::string_view sv(s.data(), s.size());
      if (sv.size() <= kMaxIndexedValueBytes) EmitLowered(emit, sv);
      if (text_field) {
        // An emitter that keeps a set (the store's token index) may say that the text's tokens
        // are already among those it has (the record's raw text holds the message).
        if constexpr (requires { emit.HasTextTokensOf(sv); }) {
          if (emit.HasTextTokensOf(sv)) break;
        }
        TextTokens(sv, emit);
      }
      break;
    }
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: {
      // IsIndexedInteger of the value as a double; integers are decided without the
      // conversion (to_number's error_code path cost more than the rest of the token): one
      // below 10,000 in magnitude converts exactly, and one at or above it is not indexed
      // whatever its rounding.
      int64_t n = 0;
      bool indexed;
      if (v.is_int64()) {
        n = v.get_int64();
        indexed = n > -10000 && n < 10000;
      } else if (v.is_uint64()) {
        indexed = v.get_uint64() < 10000;
        n = static_cast<int64_t>(v.get_uint64() % 10000);
      } else {
        const double d = v.get_double();
        indexed = IsIndexedInteger(d);
        if (indexed) n = static_cast<int64_t>(d);
      }
      if (indexed) {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, n);
        emit(std::string_view(buf, r.ptr - buf));
      }
      break;
    }
    case boost::json::kind::bool_:
      emit(std::string_view(v.get_bool() ? "true" : "false"));
      break;
    case boost::json::kind::array:
      for (const auto& e : v.get_array()) {
        if (e.is_object()) {
          if (depth < 16) ObjectTokens(e.get_object(), "", depth + 1, emit);
        } else if (!e.is_array()) {
          ValueTokens(e, text_field, depth, emit);
        }
      }
      break;
    default:
      break;
  }
}

// The per-key rules of a field walk: true when the member `key` of an object at `depth` whose
// own key is `parent` is not indexed; else *text_field says whether its strings are text.
// Depth-0 keys decide by IsUnindexedField / IsTextField (a dotted key is one key), depth-1 keys
// under "event" and "error" too.
inline bool IsUnindexedKey(std::string_view key, std::string_view parent, int depth,
                           bool* text_field) {
  if (depth == 0) {
    *text_field = IsTextField(key);
    return IsUnindexedField(key);
  }
  if (depth == 1 && parent == "event") return key == "ingested";
  if (depth == 1 && parent == "error") *text_field = key == "message";
  return false;
}

// The field part of ForEachRecordToken (call with parent "" and depth 0).
template <typename Emit>
void ObjectTokens(const boost::json::object& obj, std::string_view parent, int depth, Emit& emit) {
  for (const auto& kv : obj) {
    const std::string_view key = kv.key();
    bool unindexed = false, text_field = false;
    if (depth == 0) {
      unindexed = IsUnindexedField(key);
      text_field = IsTextField(key);
    } else if (depth == 1 && parent == "event") {
      unindexed = key == "ingested";
    } else if (depth == 1 && parent == "error") {
      text_field = key == "message";
    }
    if (unindexed) continue;
    if (const auto* child = kv.value().if_object()) {
      // Bounded: JSON parsed by Boost.JSON is at most 32 levels deep by default; the fields
      // of a Record are built by the parsers. Deeper objects are not indexed (nor searchable
      // by token: their values fall back to a scan because no token is required for them).
      if (depth < 16) ObjectTokens(*child, key, depth + 1, emit);
      continue;
    }
    ValueTokens(kv.value(), text_field, depth, emit);
  }
}

// ForEachRecordToken.
template <typename Emit>
void RecordTokens(std::string_view raw, const boost::json::object& fields, Emit& emit) {
  TextTokens(raw, emit);
  ObjectTokens(fields, "", 0, emit);
}

}  // namespace seccloud::soc::index_tokens
