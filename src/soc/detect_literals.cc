#include <algorithm>
#include <array>
#include <deque>
#include <unordered_map>

#include "soc/detect_internal.h"

namespace seccloud::soc::detect_internal {

uint32_t LiteralMatcher::Add(std::string_view pattern) {
  auto [it, inserted] =
      pattern_ids_.emplace(std::string(pattern), static_cast<uint32_t>(pattern_ids_.size()));
  if (!inserted) return it->second;
  if (min_length_ == 0 || pattern.size() < min_length_) min_length_ = pattern.size();
  uint32_t s = 0;
  for (unsigned char c : pattern) {
    auto e = trie_[s].find(c);
    if (e == trie_[s].end()) {
      const uint32_t t = static_cast<uint32_t>(trie_.size());
      trie_[s][c] = t;
      trie_.emplace_back();
      trie_out_.emplace_back();
      s = t;
    } else {
      s = e->second;
    }
  }
  trie_out_[s].push_back(it->second);
  return it->second;
}

namespace {

// How often a byte is met in log text, roughly (letters: English per cent; JSON's and paths'
// punctuation; the rest rare). Only the prefilter's speed depends on it, never an answer.
double ByteWeight(unsigned char b) {
  static constexpr double kLetters[26] = {8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0,
                                          0.2, 0.8, 4.0, 2.4, 6.7,  7.5, 1.9, 0.1, 6.0,
                                          6.3, 9.1, 2.8, 1.0, 2.4,  0.2, 2.0, 0.1};
  if (b >= 'a' && b <= 'z') return kLetters[b - 'a'];
  if (b >= 'A' && b <= 'Z') return 0.3 * kLetters[b - 'A'];
  if (b >= '0' && b <= '9') return 3;
  switch (b) {
    case ' ':
      return 15;
    case '"':
      return 10;
    case ',':
    case '.':
    case '\\':
      return 5;
    case ':':
    case '/':
    case '-':
      return 4;
    case '_':
    case '=':
      return 3;
    case '{':
    case '}':
    case '[':
    case ']':
      return 2;
    default:
      return b >= 0x20 && b < 0x7f ? 0.5 : 0.2;
  }
}

}  // namespace

void LiteralMatcher::ChoosePairs() {
  pairs_ = 0;
  // Every pattern must hold a chosen pair. A greedy cover: the pair whose rarity (the product of
  // its bytes' weights: about how often it would let a text through) is smallest for the
  // patterns it newly covers, until each is covered; more than kMaxPrefilterPairs: none.
  // Patterns in id order, pairs by a 16-bit key: the choice is the same on every build.
  std::vector<std::string_view> patterns(pattern_ids_.size());
  for (const auto& [pattern, id] : pattern_ids_) {
    if (pattern.size() < 2) return;  // a one-byte pattern has no pair: no prefilter
    patterns[id] = pattern;
  }
  std::unordered_map<uint32_t, std::vector<uint32_t>> holders;  // pair → patterns holding it
  for (uint32_t id = 0; id < patterns.size(); ++id) {
    const std::string_view p = patterns[id];
    for (size_t j = 0; j + 1 < p.size(); ++j) {
      const uint32_t key =
          static_cast<unsigned char>(p[j]) << 8 | static_cast<unsigned char>(p[j + 1]);
      auto& list = holders[key];
      if (list.empty() || list.back() != id) list.push_back(id);
    }
  }
  // No pair covers more than the most-held one: when kMaxPrefilterPairs of those cannot cover
  // every pattern, the greedy would fail too (a large side: thousands of patterns).
  size_t most = 0;
  for (const auto& [key, list] : holders) most = std::max(most, list.size());
  if (most * kMaxPrefilterPairs < patterns.size()) return;
  std::vector<uint8_t> covered(patterns.size(), 0);
  size_t left = patterns.size();
  std::vector<uint32_t> chosen;
  while (left > 0) {
    if (chosen.size() == kMaxPrefilterPairs) return;
    uint32_t best = 0;
    double best_cost = -1;
    for (const auto& [key, list] : holders) {
      size_t uncovered = 0;
      for (uint32_t id : list) uncovered += covered[id] == 0 ? 1 : 0;
      if (uncovered == 0) continue;
      const double cost = ByteWeight(static_cast<unsigned char>(key >> 8)) *
                          ByteWeight(static_cast<unsigned char>(key & 0xff)) /
                          static_cast<double>(uncovered);
      if (best_cost < 0 || cost < best_cost || (cost == best_cost && key < best)) {
        best = key;
        best_cost = cost;
      }
    }
    chosen.push_back(best);
    for (uint32_t id : holders[best]) {
      if (covered[id] == 0) {
        covered[id] = 1;
        --left;
      }
    }
  }
  std::sort(chosen.begin(), chosen.end());
  for (size_t k = 0; k < chosen.size(); ++k) {
    for (int i = 0; i < 2; ++i) {
      const auto b = static_cast<uint8_t>(i == 0 ? chosen[k] >> 8 : chosen[k] & 0xff);
      pair_[i][k] = b;
    }
  }
  pairs_ = chosen.size();
}

void LiteralMatcher::Build(bool fold_ascii_case, size_t max_dense_cells, bool prefilter) {
  pairs_ = 0;
  if (prefilter) ChoosePairs();
  const size_t n = trie_.size();
  for (int b = 0; b < 256; ++b) {
    fold_[b] = static_cast<unsigned char>(fold_ascii_case && b >= 'A' && b <= 'Z' ? b + 32 : b);
  }
  fail_.assign(n, 0);
  dict_.assign(n, 0);
  has_output_.assign(n, 0);
  auto goto_fn = [&](uint32_t s, unsigned char c) -> uint32_t {
    while (true) {
      auto e = trie_[s].find(c);
      if (e != trie_[s].end()) return e->second;
      if (s == 0) return 0;
      s = fail_[s];
    }
  };
  std::deque<uint32_t> queue;
  for (const auto& [c, t] : trie_[0]) queue.push_back(t);
  while (!queue.empty()) {
    const uint32_t s = queue.front();
    queue.pop_front();
    for (const auto& [c, t] : trie_[s]) {
      fail_[t] = goto_fn(fail_[s], c);
      if (fail_[t] == t) fail_[t] = 0;
      queue.push_back(t);
    }
  }
  for (uint32_t s = 0; s < n; ++s) has_output_[s] = !trie_out_[s].empty();
  // Byte classes: bytes no pattern uses share class 0; with folding, 'A' is 'a'. rep: the
  // pattern byte of each class.
  std::array<unsigned char, 256> rep{};
  {
    std::array<int, 256> cls;
    cls.fill(-1);
    classes_ = 1;
    for (const auto& t : trie_) {
      for (const auto& [c, to] : t) {
        if (cls[c] < 0) {
          if (classes_ < 256) rep[classes_] = c;
          cls[c] = static_cast<int>(classes_++);
        }
      }
    }
    for (int b = 0; b < 256; ++b) class_[b] = static_cast<uint8_t>(std::max(0, cls[fold_[b]]));
    if (classes_ > 256) classes_ = 0;  // cannot happen: at most 255 used bytes + class 0
  }
  // dict_[s]: the nearest proper suffix state (via fail links) that has outputs; BFS order
  // guarantees fail_[s] is done before s.
  queue.clear();
  for (const auto& [c, t] : trie_[0]) queue.push_back(t);
  while (!queue.empty()) {
    const uint32_t s = queue.front();
    queue.pop_front();
    const uint32_t f = fail_[s];
    dict_[s] = f != 0 && has_output_[f] ? f : dict_[f];
    for (const auto& [c, t] : trie_[s]) queue.push_back(t);
  }
  root_.fill(0);
  for (const auto& [c, t] : trie_[0]) root_[c] = t;
  edge_begin_.assign(n + 1, 0);
  out_begin_.assign(n + 1, 0);
  edge_byte_.clear();
  edge_to_.clear();
  outputs_.clear();
  for (uint32_t s = 0; s < n; ++s) {
    edge_begin_[s] = static_cast<uint32_t>(edge_byte_.size());
    if (s != 0) {
      for (const auto& [c, t] : trie_[s]) {
        edge_byte_.push_back(c);
        edge_to_.push_back(t);
      }
    }
    out_begin_[s] = static_cast<uint32_t>(outputs_.size());
    outputs_.insert(outputs_.end(), trie_out_[s].begin(), trie_out_[s].end());
  }
  edge_begin_[n] = static_cast<uint32_t>(edge_byte_.size());
  out_begin_[n] = static_cast<uint32_t>(outputs_.size());
  first_out_.assign(n, 0);
  for (uint32_t s = 0; s < n; ++s) first_out_[s] = has_output_[s] ? s : dict_[s];
  delta_.clear();
  // The bound is on the cells Scan reads: rows of the even stride below.
  if (classes_ > 0 && n * ((classes_ + 2) & ~uint32_t{1}) <= max_dense_cells) {
    // delta(s, c) = the trie edge when there is one, else delta(fail(s), c); BFS order makes
    // fail(s)'s row complete before s's.
    delta_.assign(n * classes_, 0);
    std::deque<uint32_t> order{0};
    while (!order.empty()) {
      const uint32_t s = order.front();
      order.pop_front();
      for (uint32_t c = 1; c < classes_; ++c) {
        const auto e = trie_[s].find(rep[c]);
        if (e != trie_[s].end()) {
          delta_[s * classes_ + c] = e->second;
          order.push_back(e->second);
        } else {
          delta_[s * classes_ + c] = s == 0 ? 0 : delta_[fail_[s] * classes_ + c];
        }
      }
    }
    // State numbers to the cells Scan reads: a state's cell is where its row starts, s * stride_
    // (even) for a state without outputs and s * stride_ + 1 (odd) for one with outputs, its row
    // stored one cell on. The stride is even and more than classes_, so both fit in s's stride_
    // cells; the low bit of a cell tells outputs and the cell itself is the row (no mask a byte).
    stride_ = (classes_ + 2) & ~uint32_t{1};
    std::vector<uint32_t> cells(n * stride_, 0);
    auto cell_of = [&](uint32_t s) { return s * stride_ + (first_out_[s] != 0 ? 1 : 0); };
    for (uint32_t s = 0; s < n; ++s) {
      const uint32_t row = cell_of(s);
      for (uint32_t c = 0; c < classes_; ++c) cells[row + c] = cell_of(delta_[s * classes_ + c]);
    }
    delta_ = std::move(cells);
  }
  patterns_ = pattern_ids_.size();
  pattern_ids_ = {};
  trie_.clear();
  trie_.shrink_to_fit();
  trie_out_.clear();
  trie_out_.shrink_to_fit();
}

}  // namespace seccloud::soc::detect_internal
