// The Sigma engine's literal matcher (detect_internal.h), differential: the fuzzer's bytes as a
// flags byte, patterns separated by '\n' and, after a "\n\n", the text. The same patterns are
// built with the pair prefilter and without it (dense and sparse by a flag bit, folded or not by
// another), and both scans must report the same occurrences; when the prefilter says no pattern
// may occur, the full scan must find none (sigma19).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "soc/detect_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using seccloud::soc::detect_internal::LiteralMatcher;
  if (size < 1 || size > 65536) return 0;
  const uint8_t flags = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t split = in.find("\n\n");
  if (split == std::string_view::npos) return 0;
  std::string_view patterns = in.substr(0, split);
  std::string text(in.substr(split + 2));
  // Short texts skip the prefilter: repeat a short one past its threshold.
  while ((flags & 4) != 0 && !text.empty() && text.size() < LiteralMatcher::kPrefilterMinText) {
    text += text;
  }
  const bool fold = (flags & 1) != 0;
  const size_t cells = (flags & 2) != 0 ? 0 : LiteralMatcher::kMaxDenseCells;
  LiteralMatcher with, without;
  size_t added = 0;
  while (!patterns.empty() && added < 200) {
    const size_t nl = patterns.find('\n');
    std::string p(patterns.substr(0, nl));
    patterns.remove_prefix(nl == std::string_view::npos ? patterns.size() : nl + 1);
    if (p.empty()) continue;
    if (fold) {
      for (char& c : p) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      }
    }
    if (with.Add(p) != without.Add(p)) abort();
    ++added;
  }
  with.Build(fold, cells);
  without.Build(fold, cells, /*prefilter=*/false);
  std::set<std::pair<uint32_t, size_t>> a, b;
  with.Scan(text, [&](uint32_t id, size_t end) { a.insert({id, end}); });
  without.Scan(text, [&](uint32_t id, size_t end) { b.insert({id, end}); });
  if (a != b) {
    std::fprintf(stderr, "prefiltered scan differs: %zu against %zu occurrences\n", a.size(),
                 b.size());
    abort();
  }
  if (!with.MayOccur(text) && !b.empty()) abort();
  return 0;
}
