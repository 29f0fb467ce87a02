#pragma once
// Private to the detection engine: a multi-pattern substring matcher (Aho–Corasick) used as the
// engine's prefilter, so one pass over a field finds every rule literal it contains.

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
  // Adds a pattern (bytes, matched exactly); returns its id (the same pattern twice: one id).
  uint32_t Add(std::string_view pattern);
  // Call once after the last Add and before Scan.
  void Build();
  size_t patterns() const { return pattern_ids_.size(); }

  // Calls on_match(pattern id) for every occurrence of every pattern in text.
  template <class F>
  void Scan(std::string_view text, F&& on_match) const {
    uint32_t s = 0;
    for (unsigned char c : text) {
      while (true) {
        const uint32_t t = Next(s, c);
        if (t != kNone) {
          s = t;
          break;
        }
        if (s == 0) break;
        s = fail_[s];
      }
      for (uint32_t o = has_output_[s] ? s : dict_[s]; o != 0; o = dict_[o]) {
        for (uint32_t i = out_begin_[o]; i < out_begin_[o + 1]; ++i) on_match(outputs_[i]);
      }
    }
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
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
  std::unordered_map<std::string, uint32_t> pattern_ids_;

  // Flattened automaton.
  std::array<uint32_t, 256> root_{};
  std::vector<uint32_t> edge_begin_;
  std::vector<unsigned char> edge_byte_;
  std::vector<uint32_t> edge_to_;
  std::vector<uint32_t> fail_, dict_;
  std::vector<uint8_t> has_output_;
  std::vector<uint32_t> out_begin_, outputs_;
};

}  // namespace seccloud::soc::detect_internal
