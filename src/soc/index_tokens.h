#pragma once
// The index token rules of query_internal.h (ForEachTextToken, ForEachRecordToken) as templates
// over the callback, so the store's ingest path inlines its per-token work (hash, Bloom insert)
// instead of paying a std::function call per token. query_tokens.cc's std::function entry points
// are these templates; there is one definition of the rules. Private to the query language and
// the store.

#include <boost/json/object.hpp>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "soc/query_internal.h"

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

// dst[i] = LowerAscii(src[i]) for i < n, eight bytes at a time (a field value is lowered whole
// for its token, and a byte at a time with a branch per byte cost more than hashing it).
inline void LowerAsciiInto(const char* src, size_t n, char* dst) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  // Per byte, without carries between bytes: its low seven bits plus 0x3f reach 0x80 when they
  // are >= 'A', plus 0x25 when they are > 'Z'; bytes >= 0x80 are not ASCII letters. 0x80 >> 2
  // is 0x20, the case bit.
  auto lower8 = [](uint64_t w) {
    const uint64_t low7 = w & ~kHigh;
    const uint64_t upper =
        (low7 + 0x3f3f3f3f3f3f3f3fULL) & ~(low7 + 0x2525252525252525ULL) & ~w & kHigh;
    return w | (upper >> 2);
  };
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

// ForEachTextToken's rules; emit(std::string_view lowered) per token. The view is valid only
// during the call.
template <typename Emit>
void TextTokens(std::string_view text, Emit& emit) {
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

template <typename Emit>
void ObjectTokens(const boost::json::object& obj, std::string_view parent, int depth, Emit& emit);

template <typename Emit>
void ValueTokens(const boost::json::value& v, bool text_field, int depth, Emit& emit) {
  switch (v.kind()) {
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      const std::string_view sv(s.data(), s.size());
      if (sv.size() <= kMaxIndexedValueBytes) {
        char buf[kMaxIndexedValueBytes];
        LowerAsciiInto(sv.data(), sv.size(), buf);
        emit(std::string_view(buf, sv.size()));
      }
      if (text_field) TextTokens(sv, emit);
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
