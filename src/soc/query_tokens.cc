// The token rules shared by the query language and the store's Bloom filters (query_internal.h).

#include <algorithm>
#include <boost/json/object.hpp>
#include <charconv>
#include <cmath>

#include "soc/query_internal.h"

namespace seccloud::soc {
namespace {

constexpr bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool IsHex(unsigned char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }

void EmitValue(const boost::json::value& v, bool text_field,
               const std::function<void(std::string_view)>& emit, int depth);

void EmitObject(const boost::json::object& obj, std::string_view parent, int depth,
                const std::function<void(std::string_view)>& emit) {
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
      if (depth < 16) EmitObject(*child, key, depth + 1, emit);
      continue;
    }
    EmitValue(kv.value(), text_field, emit, depth);
  }
}

void EmitValue(const boost::json::value& v, bool text_field,
               const std::function<void(std::string_view)>& emit, int depth) {
  switch (v.kind()) {
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      const std::string_view sv(s.data(), s.size());
      if (sv.size() <= kMaxIndexedValueBytes) {
        char buf[kMaxIndexedValueBytes];
        for (size_t i = 0; i < sv.size(); ++i) buf[i] = LowerAscii(sv[i]);
        emit(std::string_view(buf, sv.size()));
      }
      if (text_field) ForEachTextToken(sv, emit);
      break;
    }
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: {
      const double d = v.to_number<double>();
      if (IsIndexedInteger(d)) {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(d));
        emit(std::string_view(buf, r.ptr - buf));
      }
      break;
    }
    case boost::json::kind::bool_:
      emit(v.get_bool() ? "true" : "false");
      break;
    case boost::json::kind::array:
      for (const auto& e : v.get_array()) {
        if (e.is_object()) {
          if (depth < 16) EmitObject(e.get_object(), "", depth + 1, emit);
        } else if (!e.is_array()) {
          EmitValue(e, text_field, emit, depth);
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace

std::string LowerAsciiCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

bool IsIndexedWord(std::string_view w) {
  if (w.size() < 2 || w.size() > kMaxIndexedWordBytes) return false;
  bool all_digits = true, all_hex = true, has_digit = false, has_alpha = false;
  for (unsigned char c : w) {
    const bool digit = IsDigit(c);
    all_digits &= digit;
    all_hex &= IsHex(c);
    has_digit |= digit;
    has_alpha |= !digit;
  }
  if (all_digits && w.size() >= 5) return false;
  if (all_hex && has_digit && has_alpha && w.size() >= 8) return false;
  return true;
}

bool IsIndexedInteger(double value) {
  return std::isfinite(value) && std::trunc(value) == value && std::fabs(value) < 10000;
}

bool IsUnindexedField(std::string_view path) {
  return path == "@timestamp" || path == "event.ingested";
}

bool IsTextField(std::string_view path) { return path == "message" || path == "error.message"; }

namespace {

// Byte classes for the tokenizer's inner loop: one table lookup per byte.
enum : uint8_t { kWord = 1, kDigit = 2, kHexLetter = 4 };
struct ByteClasses {
  uint8_t cls[256];
  char lower[256];
  constexpr ByteClasses() : cls(), lower() {
    for (int c = 0; c < 256; ++c) {
      const auto u = static_cast<unsigned char>(c);
      cls[c] = static_cast<uint8_t>(
          (IsWordByte(u) ? kWord : 0) | (IsDigit(u) ? kDigit : 0) |
          (IsHex(static_cast<unsigned char>(LowerAscii(static_cast<char>(c)))) && !IsDigit(u)
               ? kHexLetter
               : 0));
      lower[c] = LowerAscii(static_cast<char>(c));
    }
  }
};
constexpr ByteClasses kBytes;

}  // namespace

void ForEachTextToken(std::string_view text, const std::function<void(std::string_view)>& emit) {
  // The last four words, for dotted quads: start offset and length.
  struct Word {
    size_t start = 0, size = 0;
  };
  Word last[4];
  int have = 0;  // consecutive dotted small numbers ending at the current word
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
    uint8_t all = kWord | kDigit | kHexLetter;  // AND of the classes: all digits? all hex?
    uint8_t any = 0;                            // OR of the classes
    while (i < n) {
      const uint8_t c = kBytes.cls[bytes[i]];
      if ((c & kWord) == 0) break;
      // Digits count as hex for the "all hex" test.
      all &= static_cast<uint8_t>(c | ((c & kDigit) ? kHexLetter : 0));
      any |= c;
      if (i - start < kMaxIndexedWordBytes) buf[i - start] = kBytes.lower[bytes[i]];
      ++i;
    }
    const size_t size = i - start;
    const bool all_digits = (all & kDigit) != 0;
    if (size >= 2 && size <= kMaxIndexedWordBytes && !(all_digits && size >= 5) &&
        !(size >= 8 && (all & kHexLetter) && (any & kDigit) && (any & kHexLetter))) {
      emit(std::string_view(buf, size));
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

void ForEachRecordToken(std::string_view raw, const boost::json::object& fields,
                        const std::function<void(std::string_view)>& emit) {
  ForEachTextToken(raw, emit);
  EmitObject(fields, "", 0, emit);
}

bool FieldTokensOccurIn(std::string_view lowered_raw, const boost::json::object& fields,
                        std::span<const std::string> allowed) {
  bool all = true;
  EmitObject(fields, "", 0, [&](std::string_view t) {
    if (!all) return;
    if (lowered_raw.find(t) != std::string_view::npos) return;
    for (const auto& a : allowed) {
      if (a == t) return;
    }
    all = false;
  });
  return all;
}

bool ForEachFieldTokenNotIn(std::string_view lowered_raw, const boost::json::object& fields,
                            std::span<const std::string> allowed,
                            const std::function<void(std::string_view)>& missing) {
  bool none = true;
  EmitObject(fields, "", 0, [&](std::string_view t) {
    if (lowered_raw.find(t) != std::string_view::npos ||
        std::find(allowed.begin(), allowed.end(), t) != allowed.end()) {
      return;
    }
    none = false;
    missing(t);
  });
  return none;
}

bool ContainsWords(std::string_view hay, std::string_view needle, bool prefix) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  const bool word_start = IsWordByte(static_cast<unsigned char>(needle.front()));
  const bool word_end = !prefix && IsWordByte(static_cast<unsigned char>(needle.back()));
  const char first = needle.front();
  const size_t last_start = hay.size() - needle.size();
  for (size_t pos = 0; pos <= last_start; ++pos) {
    if (LowerAscii(hay[pos]) != first) continue;
    if (word_start && pos > 0 && IsWordByte(static_cast<unsigned char>(hay[pos - 1]))) continue;
    size_t k = 1;
    while (k < needle.size() && LowerAscii(hay[pos + k]) == needle[k]) ++k;
    if (k != needle.size()) continue;
    const size_t end = pos + needle.size();
    if (word_end && end < hay.size() && IsWordByte(static_cast<unsigned char>(hay[end]))) continue;
    return true;
  }
  return false;
}

}  // namespace seccloud::soc
