#pragma once
// Private to the detection engine: a multi-pattern substring matcher (Aho–Corasick), so one pass
// over a field decides every rule literal of that field at once.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  void Build(bool fold_ascii_case = false, size_t max_dense_cells = kMaxDenseCells);
  size_t patterns() const { return patterns_; }
  size_t states() const { return fail_.size(); }
  bool dense() const { return !delta_.empty(); }

  // Calls on_match(pattern id, end) for every occurrence of every pattern in text; `end` is the
  // offset one past the occurrence's last byte.
  template <class F>
  void Scan(std::string_view text, F&& on_match) const {
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
};

}  // namespace seccloud::soc::detect_internal
