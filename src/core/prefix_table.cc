#include "core/prefix_table.h"

#include <algorithm>

namespace seccloud {
namespace {

using U128 = unsigned __int128;

struct Span {
  U128 start;
  U128 end;  // inclusive
  size_t order;
  int32_t value;
};

// Cuts [0, max] into segments owned by the most specific span covering them. Prefixes never
// partially overlap (two prefixes are either nested or disjoint), so a stack of enclosing spans
// is enough: the innermost open span owns every address until it closes.
template <class K>
void Flatten(std::vector<Span> spans, U128 max, std::vector<K>* starts,
             std::vector<int32_t>* values) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    if (a.start != b.start) return a.start < b.start;
    if (a.end != b.end) return a.end > b.end;  // enclosing first
    return a.order > b.order;                  // identical: the first listed ends on top
  });
  starts->clear();
  values->clear();
  auto emit = [&](U128 start, int32_t value) {
    if (!starts->empty() && starts->back() == static_cast<K>(start)) {
      values->back() = value;
      if (values->size() >= 2 && (*values)[values->size() - 2] == value) {
        starts->pop_back();
        values->pop_back();
      }
      return;
    }
    if (!values->empty() && values->back() == value) return;
    starts->push_back(static_cast<K>(start));
    values->push_back(value);
  };
  emit(0, PrefixTable::kNone);
  std::vector<const Span*> open;
  // Closes the innermost open span; false once a span reaching the end of the space is closed.
  auto close = [&]() {
    const Span* s = open.back();
    open.pop_back();
    if (s->end == max) return false;
    emit(s->end + 1, open.empty() ? PrefixTable::kNone : open.back()->value);
    return true;
  };
  for (const Span& s : spans) {
    while (!open.empty() && open.back()->end < s.start) close();
    emit(s.start, s.value);
    open.push_back(&s);
  }
  while (!open.empty() && close()) {
  }
}

U128 ToU128(const IpAddress& a) {
  U128 x = 0;
  for (uint8_t byte : a.bytes()) x = x << 8 | byte;
  return x;
}

}  // namespace

IpPrefix UnmappedPrefix(const IpPrefix& p) {
  if (p.address().is_v4() || p.length() < 96) return p;
  IpAddress v4 = p.address().Unmapped();
  if (!v4.is_v4()) return p;
  return IpPrefix(v4, p.length() - 96);
}

PrefixTable::PrefixTable()
    : v4_starts_{0}, v4_values_{kNone}, v4_index_(65537, 0), v6_starts_{0}, v6_values_{kNone} {}

PrefixTable PrefixTable::Build(const std::vector<Entry>& entries) {
  std::vector<Span> v4, v6;
  for (size_t i = 0; i < entries.size(); ++i) {
    const IpPrefix p = UnmappedPrefix(entries[i].prefix);
    if (p.address().is_v4()) {
      v4.push_back(Span{p.address().v4(), p.Last().v4(), i, entries[i].value});
    } else {
      v6.push_back(Span{ToU128(p.address()), ToU128(p.Last()), i, entries[i].value});
    }
  }
  PrefixTable t;
  Flatten(std::move(v4), 0xffffffffu, &t.v4_starts_, &t.v4_values_);
  Flatten(std::move(v6), ~U128{0}, &t.v6_starts_, &t.v6_values_);
  size_t segment = 0;
  for (uint64_t top = 0; top <= 0xffff; ++top) {
    const uint64_t first = top << 16;
    while (segment + 1 < t.v4_starts_.size() && t.v4_starts_[segment + 1] <= first) ++segment;
    t.v4_index_[top] = static_cast<uint32_t>(segment);
  }
  t.v4_index_[65536] = static_cast<uint32_t>(t.v4_starts_.size() - 1);
  return t;
}

int32_t PrefixTable::LookupV6(U128 a) const {
  // The last segment starting at or before `a`; branch-free as in LookupV4.
  const U128* base = v6_starts_.data();
  size_t n = v6_starts_.size();
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half] <= a ? base + half : base;
    n -= half;
  }
  return v6_values_[base - v6_starts_.data()];
}

}  // namespace seccloud
