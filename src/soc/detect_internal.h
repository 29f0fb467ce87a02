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
  // Adds a non-empty pattern (bytes, matched exactly); returns its id (the same pattern twice: one
  // id). Ids are dense, from 0.
  uint32_t Add(std::string_view pattern);
  // Call once after the last Add and before Scan.
  void Build();
  size_t patterns() const { return pattern_ids_.size(); }
  size_t states() const { return fail_.size(); }

  // Calls on_match(pattern id, end) for every occurrence of every pattern in text; `end` is the
  // offset one past the occurrence's last byte.
  template <class F>
  void Scan(std::string_view text, F&& on_match) const {
    uint32_t s = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    for (size_t i = 0; i < n; ++i) {
      const unsigned char c = p[i];
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
      for (uint32_t o = has_output_[s] ? s : dict_[s]; o != 0; o = dict_[o]) {
        for (uint32_t k = out_begin_[o]; k < out_begin_[o + 1]; ++k) on_match(outputs_[k], i + 1);
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
