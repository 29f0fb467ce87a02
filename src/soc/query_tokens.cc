// The token rules shared by the query language and the store's Bloom filters (query_internal.h).

#include <boost/json/object.hpp>
#include <charconv>
#include <cmath>

#include "soc/query_internal.h"

namespace seccloud::soc {
namespace {

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsHex(unsigned char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }

// A bounded buffer for one lower-cased word: words longer than kMaxIndexedWordBytes are never
// indexed, so they are never copied either.
struct WordBuffer {
  char bytes[kMaxIndexedWordBytes];
  size_t size = 0;
};

void EmitValue(const boost::json::value& v, bool unindexed,
               const std::function<void(std::string_view)>& emit, int depth);

void EmitObject(const boost::json::object& obj, std::string_view parent, int depth,
                const std::function<void(std::string_view)>& emit) {
  for (const auto& kv : obj) {
    const std::string_view key = kv.key();
    bool unindexed = false;
    if (depth == 0) {
      unindexed = IsUnindexedField(key);
    } else if (depth == 1 && parent == "event") {
      unindexed = key == "ingested";
    }
    if (unindexed) continue;
    if (const auto* child = kv.value().if_object()) {
      // Bounded: JSON parsed by Boost.JSON is at most 32 levels deep by default; the fields
      // of a Record are built by the parsers. Deeper objects are not indexed (nor searchable
      // by token: their values fall back to a scan because no token is required for them).
      if (depth < 16) EmitObject(*child, key, depth + 1, emit);
      continue;
    }
    EmitValue(kv.value(), false, emit, depth);
  }
}

void EmitValue(const boost::json::value& v, bool unindexed,
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
      ForEachTextToken(sv, emit);
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
          EmitValue(e, unindexed, emit, depth);
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
  if (all_digits && w.size() >= 6) return false;
  if (all_hex && has_digit && has_alpha && w.size() >= 8) return false;
  return true;
}

bool IsIndexedInteger(double value) {
  return std::isfinite(value) && std::trunc(value) == value && std::fabs(value) < 100000;
}

bool IsUnindexedField(std::string_view path) {
  return path == "@timestamp" || path == "event.ingested";
}

bool IsTextField(std::string_view path) { return path == "message" || path == "error.message"; }

void ForEachTextToken(std::string_view text, const std::function<void(std::string_view)>& emit) {
  // The last four words, for dotted quads: start offset, length, and whether it is 1-3 digits.
  struct Word {
    size_t start = 0, size = 0;
    bool small_number = false;
  };
  Word last[4];
  int have = 0;  // consecutive dotted small numbers ending at the current word
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (!IsWordByte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    const size_t start = i;
    WordBuffer buf;
    bool digits = true;
    while (i < n && IsWordByte(static_cast<unsigned char>(text[i]))) {
      const char c = text[i];
      digits &= IsDigit(static_cast<unsigned char>(c));
      if (buf.size < kMaxIndexedWordBytes) buf.bytes[buf.size] = LowerAscii(c);
      ++buf.size;
      ++i;
    }
    const size_t size = i - start;
    if (size <= kMaxIndexedWordBytes) {
      const std::string_view w(buf.bytes, size);
      if (IsIndexedWord(w)) emit(w);
    }
    const bool small_number = digits && size <= 3;
    if (small_number) {
      const bool joined = have > 0 &&
                          last[(have - 1) % 4].start + last[(have - 1) % 4].size + 1 == start &&
                          text[start - 1] == '.';
      if (!joined) have = 0;
      last[have % 4] = Word{start, size, true};
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
