#pragma once
// Private to the detection engine: a multi-pattern substring matcher (Aho–Corasick), so one pass
// over a field decides every rule literal of that field at once.

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace seccloud::soc::detect_internal {

class LiteralMatcher {
 public:
  // 256 Ki cells (1 MiB) at most: larger tables measured no faster on Windows events (the scan
  // is bound by cache misses either way) and cost ~15 MiB more RSS with the SigmaHQ corpus (1 Mi
  // cells).
  static constexpr size_t kMaxDenseCells = size_t{1} << 18;

  // Adds a non-empty pattern (bytes, matched exactly); returns its id (the same pattern twice: one
  // id). Ids are dense, from 0.
  uint32_t Add(std::string_view pattern);
  // Call once after the last Add and before Scan. fold_ascii_case: the patterns are lower-case
  // and Scan matches them as if the text had been ASCII-lower-cased (no copy of the text needed).
  // A full transition table is built when states × stride <= max_dense_cells (4 bytes a cell;
  // the stride is byte classes + 1 rounded up to even: a row with outputs sits one cell on), else
  // Scan follows sparse edges and failure links.
  // With prefilter, Build also picks for every pattern one pair of adjacent bytes it holds (one
  // pair serving many patterns where it can, rare bytes preferred) when no pattern is a single
  // byte and the pairs are at most kMaxPrefilterPairs: a text of kPrefilterMinText bytes or more
  // in which none of the pairs occurs (folded as the patterns are) holds no pattern, and Scan
  // returns on it after a vector pass of a few instructions a byte instead of the automaton's
  // seven (a Windows event's raw JSON against Mimikatz's keywords, 15 of 20 of them with "::").
  void Build(bool fold_ascii_case = false, size_t max_dense_cells = kMaxDenseCells,
             bool prefilter = true);
  // Build's pair prefilter (below) at most this many byte pairs: each costs four vector
  // operations a 16-byte block.
  static constexpr size_t kMaxPrefilterPairs = 8;
  // Texts shorter than this are scanned without the prefilter (it would not pay for itself).
  static constexpr size_t kPrefilterMinText = 64;

  size_t patterns() const { return patterns_; }
  // The shortest pattern's length (0 before the first Add): a text shorter than this holds no
  // occurrence, so a caller may skip its Scan.
  size_t min_pattern_length() const { return min_length_; }
  size_t states() const { return fail_.size(); }
  // The prefilter's pairs (0: none, every text is scanned).
  size_t prefilter_pairs() const { return pairs_; }
  // False only when no pattern can occur in `text` by the prefilter (no pair occurs in it); true
  // without a prefilter or for a text shorter than kPrefilterMinText.
  bool MayOccur(std::string_view text) const {
    if (pairs_ == 0 || text.size() < kPrefilterMinText) return true;
    return AnyPair(reinterpret_cast<const unsigned char*>(text.data()), text.size());
  }
  bool dense() const { return !delta_.empty(); }

  // Calls on_match(pattern id, end) for every occurrence of every pattern in text; `end` is the
  // offset one past the occurrence's last byte.
  template <class F>
  void Scan(std::string_view text, F&& on_match) const {
    if (!MayOccur(text)) return;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    uint32_t s = 0;
    if (!delta_.empty()) {
      // A full transition table over byte classes: one lookup per byte. A cell is the offset of
      // the next state's row, odd when that state has outputs (Build stores such a row one cell
      // on), so the loop's chain of dependent operations per byte is an add and a load (no mask,
      // no multiply, no second table). Four bytes a turn, their output bits tested at once
      // (outputs are rare), with the tables in locals: with the members read through `this` each
      // byte (on_match might change them, as far as the compiler knows) and the state kept on the
      // stack, the loop was 15 instructions a byte, most of Sigma's cost per record.
      const uint32_t* const delta = delta_.data();
      const uint8_t* const cls = class_.data();
      // Cells widened before the add (a 32-bit add would cost a zero extension per byte).
      size_t cell = 0;
      size_t i = 0;
      for (; i + 4 <= n; i += 4) {
        const size_t c0 = delta[cell + cls[p[i]]];
        const size_t c1 = delta[c0 + cls[p[i + 1]]];
        const size_t c2 = delta[c1 + cls[p[i + 2]]];
        const size_t c3 = delta[c2 + cls[p[i + 3]]];
        if (((c0 | c1 | c2 | c3) & 1) != 0) {
          // A turn with outputs walks its four bytes again, one at a time: testing c0..c3 here
          // instead kept each in a register of its own, a copy a byte on every turn.
          for (size_t k = i; k < i + 4; ++k) {
            cell = delta[cell + cls[p[k]]];
            if (cell & 1) Emit(StateOfCell(cell), k + 1, on_match);
          }
        }
        cell = c3;
      }
      for (; i < n; ++i) {
        cell = delta[cell + cls[p[i]]];
        if (cell & 1) Emit(StateOfCell(cell), i + 1, on_match);
      }
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      const unsigned char c = fold_[p[i]];
      if (s == 0) {
        s = root_[c];
        if (s == 0) continue;  // the common case: no pattern starts with c
      } else {
        while (true) {
          const uint32_t t = Next(s, c);
          if (t != kNone) {
            s = t;
            break;
          }
          if (s == 0) break;
          s = fail_[s];
        }
      }
      if (first_out_[s] != 0) Emit(s, i + 1, on_match);
    }
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Whether one of the prefilter's pairs occurs at some j < n - 1: fold_[p[j]] == pair_[0][k]
  // and fold_[p[j + 1]] == pair_[1][k] (folded as the automaton reads the text); n >= 2.
  bool AnyPair(const unsigned char* p, size_t n) const {
    size_t j = 0;
#if defined(__SSE2__)
    // 16 pair starts a block: bytes [j, j + 17) read, each block folded once (A-Z to a-z: the
    // signed compares leave bytes >= 0x80 alone) and then one compare a byte of each pair.
    __m128i want0[kMaxPrefilterPairs], want1[kMaxPrefilterPairs];
    for (size_t k = 0; k < pairs_; ++k) {
      want0[k] = _mm_set1_epi8(static_cast<char>(pair_[0][k]));
      want1[k] = _mm_set1_epi8(static_cast<char>(pair_[1][k]));
    }
    const __m128i below_a = _mm_set1_epi8('A' - 1), above_z = _mm_set1_epi8('Z' + 1);
    const __m128i to_lower = _mm_set1_epi8(fold_['A'] == 'a' ? 0x20 : 0);
    auto fold = [&](__m128i v) {
      const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, below_a), _mm_cmplt_epi8(v, above_z));
      return _mm_add_epi8(v, _mm_and_si128(upper, to_lower));
    };
    for (; j + 17 <= n; j += 16) {
      const __m128i a = fold(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j)));
      const __m128i b = fold(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j + 1)));
      __m128i any = _mm_and_si128(_mm_cmpeq_epi8(a, want0[0]), _mm_cmpeq_epi8(b, want1[0]));
      for (size_t k = 1; k < pairs_; ++k) {
        any = _mm_or_si128(any,
                           _mm_and_si128(_mm_cmpeq_epi8(a, want0[k]), _mm_cmpeq_epi8(b, want1[k])));
      }
      if (_mm_movemask_epi8(any) != 0) return true;
    }
#endif
    for (; j + 1 < n; ++j) {
      for (size_t k = 0; k < pairs_; ++k) {
        if (fold_[p[j]] == pair_[0][k] && fold_[p[j + 1]] == pair_[1][k]) return true;
      }
    }
    return false;
  }
  // Build's choice of pairs (see Build).
  void ChoosePairs();

  template <class F>
  void Emit(uint32_t s, size_t end, F& on_match) const {
    for (uint32_t o = first_out_[s]; o != 0; o = dict_[o]) {
      for (uint32_t k = out_begin_[o]; k < out_begin_[o + 1]; ++k) on_match(outputs_[k], end);
    }
  }

  // A dense cell's state: its row starts at state * stride_ or one cell on, and stride_ >= 2.
  uint32_t StateOfCell(size_t cell) const { return static_cast<uint32_t>(cell / stride_); }

  uint32_t Next(uint32_t s, unsigned char c) const {
    if (s == 0) return root_[c] == 0 ? kNone : root_[c];
    const uint32_t b = edge_begin_[s], e = edge_begin_[s + 1];
    for (uint32_t i = b; i < e; ++i) {  // few edges per state below the root
      if (edge_byte_[i] == c) return edge_to_[i];
    }
    return kNone;
  }

  // Build-time trie.
  std::vector<std::map<unsigned char, uint32_t>> trie_{1};
  std::vector<std::vector<uint32_t>> trie_out_{1};
  std::unordered_map<std::string, uint32_t> pattern_ids_;  // emptied by Build
  size_t patterns_ = 0;
  size_t min_length_ = 0;

  // Flattened automaton.
  std::array<unsigned char, 256> fold_{};  // identity, or ASCII lower-casing
  std::array<uint32_t, 256> root_{};
  std::vector<uint32_t> edge_begin_;
  std::vector<unsigned char> edge_byte_;
  std::vector<uint32_t> edge_to_;
  std::vector<uint32_t> fail_, dict_;
  std::vector<uint8_t> has_output_;
  std::vector<uint32_t> first_out_;  // the state itself when it has outputs, else dict_
  std::vector<uint32_t> out_begin_, outputs_;
  // Dense form (when small enough): byte → class, and delta_[cell(state) + class] = cell(the next
  // state), where cell(s) = s * stride_, plus 1 when s has outputs (stride_: classes_ + 1 rounded
  // up to even).
  std::array<uint8_t, 256> class_{};
  uint32_t classes_ = 0;
  uint32_t stride_ = 0;
  std::vector<uint32_t> delta_;
  // The prefilter: pair k is the bytes pair_[0][k], pair_[1][k] (pattern bytes), met by text
  // bytes t, u with fold_[t], fold_[u] equal to them.
  size_t pairs_ = 0;
  std::array<std::array<uint8_t, kMaxPrefilterPairs>, 2> pair_{};
};

}  // namespace seccloud::soc::detect_internal
