#include "soc/field_tape.h"

#include <emmintrin.h>

#include <algorithm>
#include <array>
#include <bit>
#include <boost/json/basic_parser_impl.hpp>  // detail::dec_to_float: Boost's own double rounding
#include <boost/json/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value_stack.hpp>
#include <boost/version.hpp>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "core/hex.h"
#include "soc/parse_internal.h"

// ReadJsonTape mirrors Boost.JSON 1.81's basic_parser step for step where the result can be seen
// (numbers' mantissa and exponent, which error at which byte). A new Boost may differ: check the
// differential test (field_tape_test.cc) against it before moving this line.
static_assert(BOOST_VERSION == 108100, "ReadJsonTape mirrors Boost.JSON 1.81's parser");
static_assert(std::endian::native == std::endian::little, "LeadingDigits reads digits as bytes");
static_assert(std::is_trivially_default_constructible_v<seccloud::soc::TapeNode> &&
              sizeof(seccloud::soc::TapeNode) == 40);

namespace seccloud::soc {
namespace {

namespace json = boost::json;

// Bytes a JSON string body stops at: '"', '\\' and the controls below 0x20 (Boost refuses them
// unescaped). Invalid UTF-8 passes, as ParseJsonObject sets allow_invalid_utf8.
constexpr std::array<bool, 256> kStringStop = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = true;
  return t;
}();

constexpr std::array<bool, 256> kWhitespace = [] {
  std::array<bool, 256> t{};
  t[' '] = t['\t'] = t['\n'] = t['\r'] = true;
  return t;
}();

// HexValue (core/hex.h) as a table: one load per digit of a \u escape.
constexpr std::array<int8_t, 256> kHexDigit = [] {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = static_cast<int8_t>(HexValue(static_cast<char>(c)));
  return t;
}();

inline unsigned Byte(char c) { return static_cast<unsigned char>(c); }
inline int Hex(char c) { return kHexDigit[static_cast<unsigned char>(c)]; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The first byte of [p, end) that ends a run of plain string bytes, or end. SSE2 is baseline on
// x86-64; 16 bytes per step.
inline const char* ScanString(const char* p, const char* end) {
  // x ^ 0x02 maps the controls 0x00-0x1F onto themselves and '"' (0x22) onto 0x20, and nothing
  // else to 0x20 or below: one unsigned "<= 0x20" test finds both.
  const __m128i flip = _mm_set1_epi8(0x02);
  const __m128i quote_or_control_max = _mm_set1_epi8(0x20);
  const __m128i backslash = _mm_set1_epi8('\\');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i f = _mm_xor_si128(v, flip);
    const __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, backslash),
                                     _mm_cmpeq_epi8(_mm_min_epu8(f, quote_or_control_max), f));
    const int mask = _mm_movemask_epi8(hit);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
  while (p < end && !kStringStop[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

// Boost's count_digits: the leading decimal digits of the 16 bytes at p (all readable), ≤ 16.
inline int CountDigits16(const char* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  v = _mm_add_epi8(v, _mm_set1_epi8(70));
  v = _mm_cmplt_epi8(v, _mm_set1_epi8(118));
  const int m = _mm_movemask_epi8(v);
  return m == 0 ? 16 : __builtin_ctz(static_cast<unsigned>(m));
}

// The value of the 8 decimal digits at p (SWAR: pairs, then fours, then the eight, each step
// one multiply; the first byte is the most significant digit).
inline uint64_t EightDigits(uint64_t v) {
  v = v * 10 + (v >> 8);
  return ((v & 0x000000FF000000FFu) * (100 + (uint64_t{1000000} << 32)) +
          ((v >> 16) & 0x000000FF000000FFu) * (1 + (uint64_t{10000} << 32))) >>
         32;
}

// The value of the n (0..16) leading digits at p, as AppendDigits(0, p, n): 16 bytes at p must be
// readable. A load of 8 bytes less '0' each, shifted so that the bytes past the digits fall off
// and zeros (leading zero digits) come in: a borrow of a byte past the digits (less than '0')
// goes up into the bytes that fall off, never down into the digits.
inline uint64_t LeadingDigits(const char* p, int n) {
  auto part = [](const char* q, int k) -> uint64_t {  // k in 1..8
    uint64_t v;
    std::memcpy(&v, q, 8);
    v -= 0x3030303030303030u;
    return EightDigits(v << (8 * (8 - k)));
  };
  if (n == 0) return 0;
  if (n <= 8) return part(p, n);
  return part(p, n - 8) * 100000000 + part(p + n - 8, 8);
}

inline uint64_t AppendDigits(uint64_t r, const char* p, int n) {
  for (int i = 0; i < n; ++i) r = r * 10 + static_cast<uint64_t>(p[i] - '0');
  return r;
}

inline char* AppendUtf8(char* dst, unsigned cp) {
  if (cp < 0x80) {
    *dst++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *dst++ = static_cast<char>(0xC0 | (cp >> 6));
    *dst++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *dst++ = static_cast<char>(0xE0 | (cp >> 12));
    *dst++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *dst++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *dst++ = static_cast<char>(0xF0 | (cp >> 18));
    *dst++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *dst++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *dst++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return dst;
}

// Boost's parse_escaped decodes through a 4,096-byte buffer and clips its view of the input to
// that size; whether a \u escape takes its fast path (more than 10 bytes left in the clipped view)
// decides which error a bad surrogate gets. Mirrored so the errors match.
constexpr ptrdiff_t kBoostEscapeClip = 4096;

}  // namespace

class TapeReader {
 public:
  TapeReader(std::string_view line, FieldTape* tape)
      : begin_(line.data()), end_(line.data() + line.size()), tape_(tape) {}

  bool Run(std::string* error);

 private:
  enum class Failure { kJson, kTooDeep, kNodes, kDecoded };

  const char* Fail(json::error ev, const char* at) {
    failure_ = Failure::kJson;
    ev_ = ev;
    at_ = at;
    return nullptr;
  }
  const char* FailOther(Failure f, const char* at) {
    failure_ = f;
    at_ = at;
    return nullptr;
  }
  // Compact lines have no whitespace between tokens: one test for the usual case.
  const char* SkipWhitespace(const char* p) const {
    if (p < end_ && Byte(*p) > ' ') return p;
    while (p < end_ && kWhitespace[static_cast<unsigned char>(*p)]) ++p;
    return p;
  }
  // Appends a node (count 0, end one past itself); null when the tape is full.
  TapeNode* Push(TapeKind kind, std::string_view key, const char* at) {
    if (size_ == limit_) {
      FailOther(Failure::kNodes, at);
      return nullptr;
    }
    TapeNode* n = nodes_ + size_++;
    n->kind = kind;
    n->key_data = key.data();
    n->key_size = static_cast<uint32_t>(key.size());
    n->count = 0;
    n->end = static_cast<uint32_t>(size_);
    return n;
  }

  inline const char* ReadValue(const char* p, std::string_view key);
  inline const char* ReadString(const char* p, std::string_view* out);
  inline const char* ReadStringValue(const char* p, std::string_view key);
  const char* ReadEscaped(const char* start, const char* backslash, std::string_view* out);
  const char* ReadNumber(const char* p, std::string_view key);
  const char* ReadLiteral(const char* p, std::string_view word, std::string_view key);
  const char* ReadObject(const char* p, std::string_view key);
  const char* ReadArray(const char* p, std::string_view key);

  const char* const begin_;
  const char* const end_;
  FieldTape* const tape_;
  // The tape's node array, filled to size_ of at most limit_ nodes.
  TapeNode* nodes_ = nullptr;
  size_t size_ = 0;
  size_t limit_ = 0;
  int depth_left_ = 0;
  Failure failure_ = Failure::kJson;
  json::error ev_ = json::error::syntax;
  const char* at_ = nullptr;
};

// Inlined into its callers (ReadObject, ReadArray, Run): one call fewer a value; containers are
// the out-of-line step the recursion goes through.
__attribute__((always_inline)) inline const char* TapeReader::ReadValue(const char* p,
                                                                        std::string_view key) {
  switch (*p) {
    case '{':
      return ReadObject(p, key);
    case '[':
      return ReadArray(p, key);
    case '"':
      return ReadStringValue(p, key);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      return ReadNumber(p, key);
    case 't':
      return ReadLiteral(p, "true", key);
    case 'f':
      return ReadLiteral(p, "false", key);
    case 'n':
      return ReadLiteral(p, "null", key);
    default:
      return Fail(json::error::syntax, p);
  }
}

const char* TapeReader::ReadLiteral(const char* p, std::string_view word, std::string_view key) {
  const size_t n = word.size();
  if (static_cast<size_t>(end_ - p) >= n) {
    // Boost compares the whole word at once and reports the error at its first byte.
    if (std::memcmp(p + 1, word.data() + 1, n - 1) != 0) return Fail(json::error::syntax, p);
  } else {
    // Near the end Boost goes byte by byte: the first wrong byte, or the end (incomplete).
    for (size_t i = 1; i < n; ++i) {
      if (p + i == end_) return Fail(json::error::incomplete, end_);
      if (p[i] != word[i]) return Fail(json::error::syntax, p + i);
    }
  }
  TapeNode* node = Push(word[0] == 'n' ? TapeKind::kNull : TapeKind::kBool, key, p);
  if (node == nullptr) return nullptr;
  node->boolean = word[0] == 't';
  return p + n;
}

__attribute__((always_inline)) inline const char* TapeReader::ReadString(const char* p,
                                                                         std::string_view* out) {
  const char* start = p + 1;
  const char* q = ScanString(start, end_);
  if (q == end_) return Fail(json::error::incomplete, end_);
  if (*q == '"') {
    *out = std::string_view(start, static_cast<size_t>(q - start));
    return q + 1;
  }
  if (*q == '\\') return ReadEscaped(start, q, out);
  return Fail(json::error::syntax, q);  // an unescaped control byte
}

__attribute__((always_inline)) inline const char* TapeReader::ReadStringValue(
    const char* p, std::string_view key) {
  TapeNode* n = Push(TapeKind::kString, key, p);
  if (n == nullptr) return nullptr;
  std::string_view s;
  p = ReadString(p, &s);
  n->s.data = s.data();
  n->s.size = s.size();
  return p;
}

__attribute__((noinline)) const char* TapeReader::ReadEscaped(const char* start, const char* p,
                                                              std::string_view* out) {
  // The decode buffer holds line.size() bytes (Run): decoded text never outgrows its source.
  char* const first = tape_->decoded_.get() + tape_->decoded_used_;
  char* dst = first;
  std::memcpy(dst, start, static_cast<size_t>(p - start));
  dst += p - start;
  // Boost's clipped view and whether its buffer holds bytes not yet handed on (see
  // kBoostEscapeClip).
  const char* clip_end = nullptr;
  auto reclip = [&](const char* at) { clip_end = at + std::min(end_ - at, kBoostEscapeClip); };
  reclip(p);
  bool pending = false;
  for (;;) {
    // p is at a backslash.
    ++p;
    if (p == clip_end) {
      pending = false;
      reclip(p);
      if (p == end_) return Fail(json::error::incomplete, end_);
    }
    switch (*p) {
      case '"':
      case '\\':
      case '/':
        *dst++ = *p++;
        break;
      case 'b':
        *dst++ = '\b';
        ++p;
        break;
      case 'f':
        *dst++ = '\f';
        ++p;
        break;
      case 'n':
        *dst++ = '\n';
        ++p;
        break;
      case 'r':
        *dst++ = '\r';
        ++p;
        break;
      case 't':
        *dst++ = '\t';
        ++p;
        break;
      case 'u': {
        if (clip_end - p > 10) {
          // Boost's fast path: both escapes of a pair read at once; errors at its positions.
          int d1 = Hex(p[1]), d2 = Hex(p[2]), d3 = Hex(p[3]), d4 = Hex(p[4]);
          if ((d1 | d2 | d3 | d4) == -1) {
            return Fail(json::error::expected_hex_digit, p + (d1 != -1) + (d2 != -1) + (d3 != -1));
          }
          const unsigned u1 = static_cast<unsigned>((d1 << 12) + (d2 << 8) + (d3 << 4) + d4);
          if (u1 < 0xD800 || u1 > 0xDFFF) {
            p += 5;
            dst = AppendUtf8(dst, u1);
            break;
          }
          if (u1 > 0xDBFF) return Fail(json::error::illegal_leading_surrogate, p);
          p += 5;
          if (*p != '\\') return Fail(json::error::syntax, p);
          ++p;
          if (*p != 'u') return Fail(json::error::syntax, p);
          ++p;
          d1 = Hex(p[0]), d2 = Hex(p[1]), d3 = Hex(p[2]), d4 = Hex(p[3]);
          if ((d1 | d2 | d3 | d4) == -1) {
            return Fail(json::error::expected_hex_digit, p + (d1 != -1) + (d2 != -1) + (d3 != -1));
          }
          const unsigned u2 = static_cast<unsigned>((d1 << 12) + (d2 << 8) + (d3 << 4) + d4);
          if (u2 < 0xDC00 || u2 > 0xDFFF) return Fail(json::error::illegal_trailing_surrogate, p);
          p += 4;
          dst = AppendUtf8(dst, ((u1 - 0xD800) << 10) + (u2 - 0xDC00) + 0x10000);
          break;
        }
        // Boost's byte-at-a-time path (near the end of the line).
        if (pending) {
          pending = false;
          reclip(p);
        }
        ++p;
        auto hex4 = [&](unsigned* u) -> bool {
          *u = 0;
          for (int i = 0; i < 4; ++i) {
            if (p == clip_end) return Fail(json::error::incomplete, end_), false;
            const int d = Hex(*p);
            if (d == -1) return Fail(json::error::expected_hex_digit, p), false;
            *u = (*u << 4) + static_cast<unsigned>(d);
            ++p;
          }
          return true;
        };
        unsigned u1 = 0;
        if (!hex4(&u1)) return nullptr;
        if (u1 < 0xD800 || u1 > 0xDFFF) {
          dst = AppendUtf8(dst, u1);
          break;
        }
        if (u1 > 0xDBFF) return Fail(json::error::illegal_trailing_surrogate, p);
        if (p == clip_end) return Fail(json::error::incomplete, end_);
        if (*p != '\\') return Fail(json::error::syntax, p);
        ++p;
        if (p == clip_end) return Fail(json::error::incomplete, end_);
        if (*p != 'u') return Fail(json::error::syntax, p);
        ++p;
        unsigned u2 = 0;
        if (!hex4(&u2)) return nullptr;
        if (u2 < 0xDC00 || u2 > 0xDFFF) return Fail(json::error::expected_hex_digit, p);
        dst = AppendUtf8(dst, ((u1 - 0xD800) << 10) + (u2 - 0xDC00) + 0x10000);
        break;
      }
      default:
        return Fail(json::error::syntax, p);
    }
    pending = true;
    // Plain bytes up to the next backslash or the closing quote.
    for (;;) {
      if (p == clip_end) {
        pending = false;
        reclip(p);
        if (p == end_) return Fail(json::error::incomplete, end_);
      }
      const char c = *p;
      if (c == '"') {
        const size_t n = static_cast<size_t>(dst - first);
        if (tape_->decoded_used_ + n > tape_->limits_.max_decoded_bytes) {
          return FailOther(Failure::kDecoded, start - 1);
        }
        tape_->decoded_used_ += n;
        *out = std::string_view(first, n);
        return p + 1;
      }
      if (c == '\\') break;
      if (static_cast<unsigned char>(c) < 0x20) return Fail(json::error::syntax, p);
      const char* r = ScanString(p, end_);
      std::memcpy(dst, p, static_cast<size_t>(r - p));
      dst += r - p;
      p = r;
      pending = true;
      while (clip_end < r) reclip(clip_end);  // Boost re-clips at each boundary it crosses
    }
  }
}

const char* TapeReader::ReadNumber(const char* p, std::string_view key) {
  // Boost 1.81's parse_number for a complete line, state for state (see the file's note): the
  // mantissa keeps up to 19 (integer part) or ~17 (fraction) significant digits depending on the
  // path taken, and the double is dec_to_float's product — not always the nearest double.
  TapeNode* node = Push(TapeKind::kInt64, key, p);
  if (node == nullptr) return nullptr;
  const char first = *p;
  const bool negative = first == '-';
  const bool zero_first = first == '0';
  const bool nonzero_first = !negative && !zero_first;
  const char* cs = p;
  uint64_t mant = 0;
  // Boost counts it in an int (unchecked: UB past 2^31 digits); 64 bits here give Boost's
  // result for every line shorter than that and a defined one beyond.
  int64_t bias = 0;
  int exp = 0;
  bool frac = false;
  if (negative) ++cs;

  if (end_ - cs >= 16 + 1 + 16) {
    int n1;
    if (nonzero_first || (negative && *cs != '0')) {
      n1 = CountDigits16(cs);
      if (!nonzero_first && n1 == 0) return Fail(json::error::syntax, cs);
      mant = LeadingDigits(cs, n1);
      cs += n1;
      if (n1 == 16) goto num2;
    } else {
      mant = 0;
      n1 = 0;
      ++cs;
    }
    {
      const char c = *cs;
      if (c != '.') {
        if ((c | 32) == 'e') {
          ++cs;
          goto exp1;
        }
        if (negative) mant = ~mant + 1;
        node->kind = TapeKind::kInt64;
        node->i64 = static_cast<int64_t>(mant);
        return cs;
      }
    }
    ++cs;
    {
      const int n2 = CountDigits16(cs);
      if (n2 == 0) return Fail(json::error::syntax, cs);
      if (n1 + n2 >= 19) goto num7;
      mant = AppendDigits(mant, cs, n2);
      bias -= n2;
      cs += n2;
    }
    {
      const char ch = *cs;
      if ((ch | 32) == 'e') {
        ++cs;
        goto exp1;
      }
      if (IsDigit(ch)) goto num8;
      goto finish_double;
    }
  }

  // num1: the first digit.
  if (zero_first) {
    ++cs;
    goto num6;
  }
  if (nonzero_first) {
    mant = static_cast<uint64_t>(*cs - '0');
    ++cs;
  } else {
    if (cs == end_) return Fail(json::error::incomplete, end_);
    const char c = *cs;
    if (c >= '1' && c <= '9') {
      ++cs;
      mant = static_cast<uint64_t>(c - '0');
    } else if (c == '0') {
      ++cs;
      goto num6;
    } else {
      return Fail(json::error::syntax, cs);
    }
  }

num2:  // significant digits left of the point
  for (;;) {
    if (cs == end_) goto finish_int;
    const char c = *cs;
    if (!IsDigit(c)) goto num6;
    ++cs;
    if (negative ? (mant > 922337203685477580ULL || (mant == 922337203685477580ULL && c > '8'))
                 : (mant > 1844674407370955161ULL || (mant == 1844674407370955161ULL && c > '5'))) {
      break;
    }
    mant = 10 * mant + static_cast<uint64_t>(c - '0');
  }
  ++bias;
  // num3: digits left of the point that no longer fit
  for (;;) {
    if (cs == end_) goto finish_double;
    const char c = *cs;
    if (IsDigit(c)) {
      ++cs;
      ++bias;
    } else if (c == '.') {
      ++cs;
      break;
    } else if ((c | 32) == 'e') {
      ++cs;
      goto exp1;
    } else {
      goto finish_double;
    }
  }
  // num4: the first digit right of the point, not significant
  if (cs == end_) return Fail(json::error::incomplete, end_);
  if (!IsDigit(*cs)) return Fail(json::error::syntax, cs);
  ++cs;
num5:  // further digits that are not significant
  for (;;) {
    if (cs == end_) goto finish_double;
    const char c = *cs;
    if (IsDigit(c)) {
      ++cs;
    } else if ((c | 32) == 'e') {
      ++cs;
      goto exp1;
    } else {
      goto finish_double;
    }
  }
num6:  // after the integer part: '.', an exponent, or the end of the number
  if (cs == end_) goto finish_int;
  if (*cs == '.') {
    ++cs;
  } else if ((*cs | 32) == 'e') {
    ++cs;
    goto exp1;
  } else {
    goto finish_int;
  }
num7:  // the first digit right of the point, significant
  if (cs == end_ || !IsDigit(*cs)) return Fail(json::error::syntax, cs);
num8:
  for (;;) {
    if (cs == end_) goto finish_double;
    const char c = *cs;
    if (IsDigit(c)) {
      ++cs;
      if (mant <= 9007199254740991ULL) {  // 2^53 - 1
        --bias;
        mant = 10 * mant + static_cast<uint64_t>(c - '0');
      } else {
        goto num5;
      }
    } else if ((c | 32) == 'e') {
      ++cs;
      goto exp1;
    } else {
      goto finish_double;
    }
  }
exp1:
  if (cs == end_) return Fail(json::error::incomplete, end_);
  if (*cs == '+') {
    ++cs;
  } else if (*cs == '-') {
    ++cs;
    frac = true;
  }
  // exp2
  if (cs == end_ || !IsDigit(*cs)) return Fail(json::error::syntax, cs);
  exp = *cs - '0';
  ++cs;
  // exp3
  for (;;) {
    if (cs != end_ && IsDigit(*cs)) {
      const char c = *cs;
      if (exp > 214748364 || (exp == 214748364 && c > '7')) {
        return Fail(json::error::exponent_overflow, cs);
      }
      ++cs;
      exp = 10 * exp + (c - '0');
      continue;
    }
    if (frac ? bias < int64_t{INT_MIN} + exp : bias > int64_t{INT_MAX} - exp) {
      return Fail(json::error::exponent_overflow, cs);
    }
    goto finish_double;
  }

finish_int:
  if (negative) {
    node->kind = TapeKind::kInt64;
    node->i64 = static_cast<int64_t>(~mant + 1);
  } else if (mant <= static_cast<uint64_t>(INT64_MAX)) {
    node->kind = TapeKind::kInt64;
    node->i64 = static_cast<int64_t>(mant);
  } else {
    node->kind = TapeKind::kUint64;
    node->u64 = mant;
  }
  return cs;
finish_double:
  node->kind = TapeKind::kDouble;
  node->dbl = json::detail::dec_to_float(
      mant, static_cast<int32_t>(std::clamp<int64_t>(bias + (frac ? -exp : exp), INT_MIN, INT_MAX)),
      negative);
  return cs;
}

const char* TapeReader::ReadObject(const char* p, std::string_view key) {
  if (depth_left_ == 0) return FailOther(Failure::kTooDeep, p);
  --depth_left_;
  if (Push(TapeKind::kObject, key, p) == nullptr) return nullptr;
  const size_t index = size_ - 1;
  uint32_t count = 0;
  p = SkipWhitespace(p + 1);
  if (p == end_) return Fail(json::error::incomplete, end_);
  if (*p != '}') {
    if (*p != '"') return Fail(json::error::syntax, p);
    for (;;) {
      std::string_view k;
      p = ReadString(p, &k);
      if (p == nullptr) return nullptr;
      // Compact lines (every producer's but a pretty-printer's) have ':' right after the key and
      // the value right after it: one bounds test for both. Anything else takes the general steps
      // from the same byte, so errors are theirs.
      if (end_ - p >= 2 && *p == ':' && Byte(p[1]) > ' ') {
        ++p;
      } else {
        p = SkipWhitespace(p);
        if (p == end_) return Fail(json::error::incomplete, end_);
        if (*p != ':') return Fail(json::error::syntax, p);
        p = SkipWhitespace(p + 1);
        if (p == end_) return Fail(json::error::incomplete, end_);
      }
      // Strings, most members' values, without ReadValue's call and dispatch.
      p = *p == '"' ? ReadStringValue(p, k) : ReadValue(p, k);
      if (p == nullptr) return nullptr;
      ++count;
      // The next key right after ',': as above.
      if (end_ - p >= 2 && *p == ',' && p[1] == '"') {
        ++p;
        continue;
      }
      p = SkipWhitespace(p);
      if (p == end_) return Fail(json::error::incomplete, end_);
      if (*p == ',') {
        p = SkipWhitespace(p + 1);
        if (p == end_) return Fail(json::error::incomplete, end_);
        if (*p != '"') return Fail(json::error::syntax, p);
        continue;
      }
      if (*p != '}') return Fail(json::error::syntax, p);
      break;
    }
  }
  TapeNode& n = nodes_[index];
  n.count = count;
  n.end = static_cast<uint32_t>(size_);
  ++depth_left_;
  return p + 1;
}

const char* TapeReader::ReadArray(const char* p, std::string_view key) {
  if (depth_left_ == 0) return FailOther(Failure::kTooDeep, p);
  --depth_left_;
  if (Push(TapeKind::kArray, key, p) == nullptr) return nullptr;
  const size_t index = size_ - 1;
  uint32_t count = 0;
  p = SkipWhitespace(p + 1);
  if (p == end_) return Fail(json::error::incomplete, end_);
  if (*p != ']') {
    for (;;) {
      p = *p == '"' ? ReadStringValue(p, {}) : ReadValue(p, {});
      if (p == nullptr) return nullptr;
      ++count;
      // The next item right after ',' (ReadObject's compact step).
      if (end_ - p >= 2 && *p == ',' && Byte(p[1]) > ' ') {
        ++p;
        continue;
      }
      p = SkipWhitespace(p);
      if (p == end_) return Fail(json::error::incomplete, end_);
      if (*p == ',') {
        p = SkipWhitespace(p + 1);
        if (p == end_) return Fail(json::error::incomplete, end_);
        continue;
      }
      if (*p != ']') return Fail(json::error::syntax, p);
      break;
    }
  }
  TapeNode& n = nodes_[index];
  n.count = count;
  n.end = static_cast<uint32_t>(size_);
  ++depth_left_;
  return p + 1;
}

bool TapeReader::Run(std::string* error) {
  FieldTape& t = *tape_;
  t.Clear();
  const size_t size = static_cast<size_t>(end_ - begin_);
  if (size > UINT32_MAX) {  // node ends and key sizes are 32-bit
    *error = "JSON line longer than " + std::to_string(UINT32_MAX) + " bytes";
    return false;
  }
  if (t.decoded_capacity_ < size) {
    const size_t cap = std::max(size, t.decoded_capacity_ * 2);
    t.decoded_ = std::make_unique_for_overwrite<char[]>(cap);
    t.decoded_capacity_ = cap;
  }
  // Every value starts at a byte of its own, so a line of n bytes holds at most n values, even
  // one cut short (a valid document holds at most n / 2 + 1): the array is sized once per line
  // and Push only checks the limit.
  const size_t most = std::min(size + 1, t.limits_.max_nodes);
  if (t.node_capacity_ < most) {
    const size_t cap = std::max(most, t.node_capacity_ * 2);
    t.nodes_ = std::make_unique_for_overwrite<TapeNode[]>(cap);
    t.node_capacity_ = cap;
  }
  nodes_ = t.nodes_.get();
  size_ = 0;
  limit_ = std::min(t.node_capacity_, t.limits_.max_nodes);
  depth_left_ = t.limits_.max_depth;
  const char* p = SkipWhitespace(begin_);
  if (p == end_) {
    p = Fail(json::error::incomplete, end_);
  } else {
    p = ReadValue(p, {});
  }
  t.size_ = size_;
  if (p != nullptr) {
    p = SkipWhitespace(p);
    if (p != end_) {
      *error = "expected the end of the line after the JSON value at byte " +
               std::to_string(p - begin_) + ", found " +
               internal::Excerpt(
                   internal::TrimSpaces(std::string_view(p, static_cast<size_t>(end_ - p))));
      t.Clear();
      return false;
    }
    const TapeKind k = nodes_[0].kind;
    if (k == TapeKind::kObject) return true;
    *error = std::string("expected a JSON object, found a JSON ") + (k == TapeKind::kArray ? "array"
                                                                     : k == TapeKind::kString
                                                                         ? "string"
                                                                         : "scalar");
    t.Clear();
    return false;
  }
  const std::string at = " at byte " + std::to_string(at_ - begin_);
  switch (failure_) {
    case Failure::kJson:
      *error = "invalid JSON (" + json::make_error_code(ev_).message() + ")" + at;
      break;
    case Failure::kTooDeep:
      *error = "JSON nested deeper than " + std::to_string(t.limits_.max_depth) + " levels" + at;
      break;
    case Failure::kNodes:
      *error = "JSON has more than " + std::to_string(t.limits_.max_nodes) + " values" + at;
      break;
    case Failure::kDecoded:
      *error = "JSON strings decode to more than " + std::to_string(t.limits_.max_decoded_bytes) +
               " bytes" + at;
      break;
  }
  t.Clear();
  return false;
}

FieldTape::FieldTape(Limits limits) : limits_(limits) {
  if (limits.max_depth < 1 || limits.max_depth > kMaxParsedJsonDepth) {
    throw std::invalid_argument("FieldTape: max_depth " + std::to_string(limits.max_depth) +
                                " outside 1.." + std::to_string(kMaxParsedJsonDepth));
  }
  if (limits.max_nodes < 1 || limits.max_nodes > UINT32_MAX) {
    throw std::invalid_argument("FieldTape: max_nodes " + std::to_string(limits.max_nodes) +
                                " outside 1.." + std::to_string(UINT32_MAX));
  }
}

void FieldTape::ShrinkTo(size_t max_bytes) {
  Clear();
  if (capacity_bytes() <= max_bytes) return;
  nodes_.reset();
  node_capacity_ = 0;
  decoded_.reset();
  decoded_capacity_ = 0;
}

bool ReadJsonTape(std::string_view line, FieldTape* tape, std::string* error) {
  return TapeReader(line, tape).Run(error);
}

namespace {

// The member of the object at `obj` that FindField would step to: of the keys that are the path
// or a prefix of it ending before a '.', the longest whose value is usable (the path's value, or
// an object to descend into) — counting, of duplicate keys, only the last (Boost keeps that one).
// One pass as FindField's, which tracks only the best key: when that key's last duplicate so far
// is not usable, a shorter key may be the answer, found by the exact pass per length below (a
// record with duplicate keys only).
const TapeNode* FindInObject(TapeSpan tape, size_t obj, std::string_view path,
                             size_t* descend_len) {
  const TapeNode& o = tape[obj];
  const TapeNode* best = nullptr;
  size_t best_len = 0;
  bool shadowed = false;  // the best key's latest duplicate is not usable
  for (size_t i = obj + 1; i < o.end; i = tape[i].end) {
    const TapeNode& m = tape[i];
    const size_t len = m.key_size;
    if (len == 0 || len < best_len || len > path.size() || m.key_data[0] != path[0] ||
        (len != path.size() && path[len] != '.') ||
        std::memcmp(m.key_data, path.data(), len) != 0) {
      continue;
    }
    const bool usable = len == path.size() || m.kind == TapeKind::kObject;
    if (len == best_len) {  // a duplicate of the best key: the later one counts
      shadowed = !usable;
      if (usable) best = &m;
    } else if (usable) {
      best = &m;
      best_len = len;
      shadowed = false;
    }
  }
  if (!shadowed) {
    *descend_len = best_len;
    return best;
  }
  // Longest key first, one pass per length, each taking the key's last duplicate.
  for (size_t len = path.size();;) {
    const std::string_view want = path.substr(0, len);
    const TapeNode* last = nullptr;
    for (size_t i = obj + 1; i < o.end; i = tape[i].end) {
      if (tape[i].key() == want) last = &tape[i];
    }
    if (last != nullptr && (len == path.size() || last->kind == TapeKind::kObject)) {
      *descend_len = len;
      return last;
    }
    const size_t dot = path.rfind('.', len - 1);
    if (dot == std::string_view::npos || dot == 0) break;
    len = dot;
  }
  return nullptr;
}

}  // namespace

const TapeNode* FindInTape(const FieldTape& tape, std::string_view path) {
  return FindInTape(tape.span(), path);
}

const TapeNode* FindInTape(TapeSpan tape, std::string_view path) {
  if (tape.empty()) return nullptr;
  return FindInTapeObject(tape, 0, path);
}

const TapeNode* FindInTapeObject(TapeSpan tape, size_t obj, std::string_view path) {
  if (obj >= tape.size() || tape[obj].kind != TapeKind::kObject) return nullptr;
  while (true) {
    if (path.empty()) return nullptr;
    size_t len = 0;
    const TapeNode* n = FindInObject(tape, obj, path, &len);
    if (n == nullptr) return nullptr;
    if (len == path.size()) return n;
    obj = tape.IndexOf(n);
    path.remove_prefix(len + 1);
  }
}

namespace {

// Pushes the subtree at `index` as Boost's parser does (members, then the container with their
// count): Boost's value_stack then builds the very tree its parser builds, duplicate keys
// included (the first one's place, the last one's value).
void PushValue(TapeSpan tape, size_t index, json::value_stack& st) {
  const TapeNode& n = tape[index];
  switch (n.kind) {
    case TapeKind::kObject:
      for (size_t i = index + 1; i < n.end; i = tape[i].end) {
        st.push_key(tape[i].key());
        PushValue(tape, i, st);
      }
      st.push_object(n.count);
      return;
    case TapeKind::kArray:
      for (size_t i = index + 1; i < n.end; i = tape[i].end) PushValue(tape, i, st);
      st.push_array(n.count);
      return;
    case TapeKind::kString:
      st.push_string(n.str());
      return;
    case TapeKind::kInt64:
      st.push_int64(n.i64);
      return;
    case TapeKind::kUint64:
      st.push_uint64(n.u64);
      return;
    case TapeKind::kDouble:
      st.push_double(n.dbl);
      return;
    case TapeKind::kBool:
      st.push_bool(n.boolean);
      return;
    case TapeKind::kNull:
      st.push_null();
      return;
  }
}

}  // namespace

boost::json::value TapeToValue(const FieldTape& tape, size_t index, boost::json::storage_ptr sp) {
  return TapeToValue(tape.span(), index, std::move(sp));
}

boost::json::value TapeToValue(TapeSpan tape, size_t index, boost::json::storage_ptr sp) {
  // One stack per thread, reused: its own storage stays allocated between documents.
  thread_local json::value_stack st;
  st.reset(std::move(sp));
  PushValue(tape, index, st);
  return st.release();
}

}  // namespace seccloud::soc
