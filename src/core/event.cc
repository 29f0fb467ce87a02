#include "core/event.h"

#include <pthread.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <utility>

namespace seccloud {
namespace {

// Deeper values than this are refused: a recursion bound for sanitising caller-built values.
constexpr int kMaxValueDepth = 64;

// ---- event ids ----

// Bumped in every forked child so each thread there reseeds: otherwise parent and child would
// continue the same random stream and hand out identical event ids.
std::atomic<uint64_t> fork_generation{1};

void RegisterForkHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr,
                   [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
  });
}

// xoshiro256**: fast, 256 bits of state, fine statistical quality; the 122 random bits of an id
// come from a state seeded by the kernel, which is what uniqueness rests on.
struct IdGenerator {
  uint64_t s[4] = {};
  uint64_t generation = 0;

  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  void Seed() {
    uint8_t* p = reinterpret_cast<uint8_t*>(s);
    size_t got = 0;
    while (got < sizeof(s)) {
      ssize_t n = getrandom(p + got, sizeof(s) - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got < sizeof(s)) {
      // getrandom(2) unavailable (seccomp, old kernel): /dev/urandom through random_device.
      std::random_device rd;
      for (auto& word : s) word = (uint64_t{rd()} << 32) ^ rd();
    }
    if ((s[0] | s[1] | s[2] | s[3]) == 0) s[0] = 1;  // the all-zero state is a fixed point
  }

  uint64_t Next() {
    uint64_t current = fork_generation.load(std::memory_order_relaxed);
    if (generation != current) {
      Seed();
      generation = current;
    }
    const uint64_t result = Rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = Rotl(s[3], 45);
    return result;
  }
};

// ---- paths ----

// Splits a dotted path into at most kMaxFieldPathDepth segments; false when malformed.
bool SplitPath(std::string_view path, std::string_view* segments, size_t* count, std::string* why) {
  if (path.empty()) {
    *why = "empty field path";
    return false;
  }
  if (path.size() > kMaxFieldPathBytes) {
    *why = "field path longer than " + std::to_string(kMaxFieldPathBytes) + " bytes";
    return false;
  }
  *count = 0;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view segment =
        path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (segment.empty()) {
      *why = "field path \"" + SanitizeUtf8(path) + "\" has an empty segment";
      return false;
    }
    if (*count == kMaxFieldPathDepth) {
      *why = "field path \"" + SanitizeUtf8(path) + "\" is deeper than " +
             std::to_string(kMaxFieldPathDepth) + " levels";
      return false;
    }
    segments[(*count)++] = segment;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Returns false when the value is nested deeper than kMaxValueDepth.
bool SanitizeValue(boost::json::value& v, int depth) {
  if (depth > kMaxValueDepth) return false;
  switch (v.kind()) {
    case boost::json::kind::string: {
      boost::json::string& s = v.get_string();
      std::string clean = SanitizeUtf8(s);
      if (clean.size() != s.size() || clean != std::string_view(s)) s = clean;
      return true;
    }
    case boost::json::kind::array:
      for (auto& element : v.get_array()) {
        if (!SanitizeValue(element, depth + 1)) return false;
      }
      return true;
    case boost::json::kind::object: {
      boost::json::object& o = v.get_object();
      // Keys cannot be edited in place; rebuild the object only when a key needs it.
      bool keys_clean = true;
      for (auto& kv : o) {
        if (SanitizeUtf8(kv.key()) != kv.key()) keys_clean = false;
        if (!SanitizeValue(kv.value(), depth + 1)) return false;
      }
      if (!keys_clean) {
        boost::json::object rebuilt;
        for (auto& kv : o) rebuilt[SanitizeUtf8(kv.key())] = std::move(kv.value());
        o = std::move(rebuilt);
      }
      return true;
    }
    case boost::json::kind::double_:
      if (!std::isfinite(v.get_double())) v = nullptr;
      return true;
    default:
      return true;
  }
}

// ---- text ----

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Appends `in` to `out` with every ill-formed UTF-8 sequence replaced by U+FFFD (see
// SanitizeUtf8). ASCII runs, the common case, are copied in bulk.
void AppendSanitizedUtf8(std::string& out, std::string_view in) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    size_t ascii_end = i;
    while (ascii_end < n && s[ascii_end] < 0x80) ++ascii_end;
    if (ascii_end > i) {
      out.append(in.data() + i, ascii_end - i);
      i = ascii_end;
      if (i == n) break;
    }
    const unsigned char lead = s[i];
    // Table 3-7 of the Unicode standard: the well-formed byte sequences. Only the second byte's
    // range depends on the lead byte; the rest are always 80..BF.
    size_t trailing;
    unsigned char lo = 0x80, hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      trailing = 1;
    } else if (lead == 0xE0) {
      trailing = 2, lo = 0xA0;
    } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
      trailing = 2;
    } else if (lead == 0xED) {
      trailing = 2, hi = 0x9F;  // excludes the UTF-16 surrogates
    } else if (lead == 0xF0) {
      trailing = 3, lo = 0x90;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
      trailing = 3;
    } else if (lead == 0xF4) {
      trailing = 3, hi = 0x8F;  // nothing above U+10FFFF
    } else {
      out.append(kReplacement);
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool well_formed = true;
    for (size_t k = 0; k < trailing; ++k, ++j) {
      const unsigned char min = k == 0 ? lo : 0x80;
      const unsigned char max = k == 0 ? hi : 0xBF;
      if (j >= n || s[j] < min || s[j] > max) {
        well_formed = false;
        break;
      }
    }
    if (well_formed) {
      out.append(in.data() + i, j - i);
    } else {
      out.append(kReplacement);  // the maximal subpart s[i, j) becomes one U+FFFD
    }
    i = j;
  }
}

constexpr uint64_t kOnes = 0x0101010101010101, kHighs = 0x8080808080808080;

// The lanes of `x` (eight bytes) that JSON must escape inside a string — a byte below 0x20, '"'
// or '\\' — have their high bit set in the result (exact as to whether any lane does; a borrow
// may also mark a lane above a marked one).
inline uint64_t SpecialLanes(uint64_t x) {
  const uint64_t quote = x ^ (kOnes * '"');
  const uint64_t backslash = x ^ (kOnes * '\\');
  return (((x - kOnes * 0x20) & ~x) | ((quote - kOnes) & ~quote) |
          ((backslash - kOnes) & ~backslash)) &
         kHighs;
}

// Whether a byte must be escaped inside a JSON string.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = true;
  t['\\'] = true;
  return t;
}();

// Whether `s` has a byte at or above 0x80 (*high: it must go through AppendSanitizedUtf8) and
// whether it has one that JSON must escape (*escape), eight bytes at a time. Sanitising keeps
// every ASCII byte, so *escape holds for the sanitised text too.
void ScanText(std::string_view s, bool* high, bool* escape) {
  const char* p = s.data();
  const char* const end = p + s.size();
  uint64_t any = 0, special = 0;
  auto word = [&](uint64_t x) {
    any |= x;
    special |= SpecialLanes(x);
  };
  const size_t n = s.size();
  if (n >= 8) {
    for (; end - p >= 8; p += 8) {
      uint64_t x;
      std::memcpy(&x, p, 8);
      word(x);
    }
    // The last bytes as the last eight, overlapping words already looked at (a byte seen twice
    // changes neither answer).
    if (p != end) {
      uint64_t x;
      std::memcpy(&x, end - 8, 8);
      word(x);
      p = end;
    }
  } else if (n >= 4) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, end - 4, 4);
    word(uint64_t{lo} | uint64_t{hi} << 32);
    p = end;
  }
  unsigned char tail = 0;
  bool tail_special = false;
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    tail |= c;
    tail_special |= kNeedsEscape[c];
  }
  *high = (any & kHighs) != 0 || tail >= 0x80;
  *escape = special != 0 || tail_special;
}

// Writes `s` (valid UTF-8) at `w` as the body of a JSON string (RFC 8259 §7): '"', '\\' and the
// control characters U+0000..U+001F are escaped, everything else is copied as is. Writes at
// most 6 × s.size() bytes; returns the end.
// The size WriteJsonEscaped gives s: two bytes for a quote, a backslash or a control character
// with a short escape, six (\u00XX) for the other control characters.
size_t JsonEscapedSize(std::string_view s) {
  size_t size = s.size();
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (!kNeedsEscape[c]) continue;
    const bool short_escape =
        c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t';
    size += short_escape ? 1 : 5;
  }
  return size;
}

char* WriteJsonEscaped(char* w, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* run = s.data();
  const char* const end = s.data() + s.size();
  const char* p = s.data();
  auto flush = [&](const char* upto) {
    std::memcpy(w, run, static_cast<size_t>(upto - run));
    w += upto - run;
  };
  while (true) {
    // Eight bytes at a time while none of them needs escaping.
    while (end - p >= 8) {
      uint64_t x;
      std::memcpy(&x, p, 8);
      if (SpecialLanes(x) != 0) break;
      p += 8;
    }
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p++);
    if (!kNeedsEscape[c]) continue;
    flush(p - 1);
    run = p;
    *w++ = '\\';
    switch (c) {
      case '"':
        *w++ = '"';
        break;
      case '\\':
        *w++ = '\\';
        break;
      case '\b':
        *w++ = 'b';
        break;
      case '\f':
        *w++ = 'f';
        break;
      case '\n':
        *w++ = 'n';
        break;
      case '\r':
        *w++ = 'r';
        break;
      case '\t':
        *w++ = 't';
        break;
      default:
        *w++ = 'u';
        *w++ = '0';
        *w++ = '0';
        *w++ = kHex[c >> 4];
        *w++ = kHex[c & 0xf];
    }
  }
  flush(end);
  return w;
}

// Copies `s` to `w` and returns the end. Most keys and values of an event are under 17 bytes:
// two overlapping loads and stores copy them without a call to memcpy.
inline char* CopyText(char* w, std::string_view s) {
  const char* const p = s.data();
  const size_t n = s.size();
  if (n >= 8 && n <= 16) {
    uint64_t head, tail;
    std::memcpy(&head, p, 8);
    std::memcpy(&tail, p + n - 8, 8);
    std::memcpy(w, &head, 8);
    std::memcpy(w + n - 8, &tail, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t head, tail;
    std::memcpy(&head, p, 4);
    std::memcpy(&tail, p + n - 4, 4);
    std::memcpy(w, &head, 4);
    std::memcpy(w + n - 4, &tail, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) w[i] = p[i];
  } else {
    std::memcpy(w, p, n);
  }
  return w + n;
}

// Writes the body of a JSON string: escaped when `escape` says a byte needs it, else copied.
inline char* WriteJsonText(char* w, std::string_view s, bool escape) {
  return escape ? WriteJsonEscaped(w, s) : CopyText(w, s);
}

template <class T>
size_t AppendNumber(std::string& out, T value) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, r.ptr);
  return static_cast<size_t>(r.ptr - buf);
}

void Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// `path` (already validated) split at its dots.
size_t Segments(std::string_view path, std::string_view* out) {
  size_t count = 0, start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) {
      out[count++] = path.substr(start);
      return count;
    }
    out[count++] = path.substr(start, dot - start);
    start = dot + 1;
  }
}

// Whether `path` begins with the segments of `prefix` followed by a dot.
bool RunsThrough(std::string_view path, std::string_view prefix) {
  return path.size() > prefix.size() && path[prefix.size()] == '.' && path.starts_with(prefix);
}

}  // namespace

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kFailure:
      return "failure";
    case Outcome::kUnknown:
      return "unknown";
  }
  return "unknown";
}

const EventClock& SystemEventClock() {
  static const EventClock clock = [] { return std::chrono::system_clock::now(); };
  return clock;
}

namespace {

// Writes the 24 characters of "2026-11-26T03:20:22.123Z" to `p`; years outside 0..9999 are
// clamped (no clock of this program reaches them).
void FormatTimestampTo(char* p, std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{ms - day};
  const int year = std::clamp(static_cast<int>(ymd.year()), 0, 9999);
  Put2(p, static_cast<unsigned>(year / 100));
  Put2(p + 2, static_cast<unsigned>(year % 100));
  p[4] = '-';
  Put2(p + 5, static_cast<unsigned>(ymd.month()));
  p[7] = '-';
  Put2(p + 8, static_cast<unsigned>(ymd.day()));
  p[10] = 'T';
  Put2(p + 11, static_cast<unsigned>(hms.hours().count()));
  p[13] = ':';
  Put2(p + 14, static_cast<unsigned>(hms.minutes().count()));
  p[16] = ':';
  Put2(p + 17, static_cast<unsigned>(hms.seconds().count()));
  p[19] = '.';
  const auto sub = static_cast<unsigned>(hms.subseconds().count());
  p[20] = static_cast<char>('0' + sub / 100);
  Put2(p + 21, sub % 100);
  p[23] = 'Z';
}
constexpr size_t kTimestampSize = 24;
constexpr size_t kEventIdSize = 36;

}  // namespace

std::string FormatEventTimestamp(std::chrono::system_clock::time_point t) {
  std::string s(kTimestampSize, '\0');
  FormatTimestampTo(s.data(), t);
  return s;
}

void AppendEventId(std::string& out) {
  RegisterForkHandler();
  thread_local IdGenerator generator;
  uint8_t b[16];
  for (int half = 0; half < 2; ++half) {
    uint64_t r = generator.Next();
    for (int i = 0; i < 8; ++i) b[half * 8 + i] = static_cast<uint8_t>(r >> (8 * i));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  char id[kEventIdSize];
  char* p = id;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
    *p++ = kHex[b[i] >> 4];
    *p++ = kHex[b[i] & 0xf];
  }
  out.append(id, sizeof(id));
}

std::string NewEventId() {
  std::string id;
  AppendEventId(id);
  return id;
}

std::string SanitizeUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  AppendSanitizedUtf8(out, in);
  return out;
}

Event Event::Make(std::string_view dataset, std::string_view kind, std::string_view action,
                  Outcome outcome, const EventClock& clock) {
  Event e;
  // Room for a typical proxy.access event (about 30 fields), so that it is built without
  // growing either buffer.
  e.text_.reserve(1024);
  e.fields_.reserve(40);
  e.groups_.reserve(16);
  char ts[kTimestampSize];
  FormatTimestampTo(ts, clock());
  static constexpr FieldPath kTimestamp{"@timestamp"}, kDataset{"event.dataset"},
      kKind{"event.kind"}, kAction{"event.action"}, kOutcome{"event.outcome"}, kId{"event.id"};
  e.Set(kTimestamp, std::string_view(ts, sizeof(ts)));
  e.Set(kDataset, dataset);
  e.Set(kKind, kind);
  e.Set(kAction, action);
  e.Set(kOutcome, OutcomeName(outcome));
  e.SetField(PathArg{kId.view(), &kId.shape()}, Kind::kString, [](std::string& out, bool&) {
    AppendEventId(out);
    return kEventIdSize;
  });
  return e;
}

void Event::RecordError(std::string message) {
  if (!error_) error_ = MakeError(Errc::kInvalidArgument, std::move(message));
}

namespace {

// The high bit of each byte of `x` equal to '.', exactly (no borrow between lanes).
inline uint64_t DotLanes(uint64_t x) {
  const uint64_t d = x ^ (kOnes * '.');
  return ~(((d & ~kHighs) + ~kHighs) | d | ~kHighs);
}

// Whether `path` is well formed (see Event::Set), without allocating, and its shape; the message
// for a malformed one comes from SplitPath. Paths of 8 bytes or more are read a word at a time,
// the last word overlapping the one before (a padded tail or a byte loop costs more on the
// short constant paths the services set: callgrind, proxy.access events).
bool WellFormedPath(std::string_view path, FieldPathShape* shape) {
  static_assert(std::endian::native == std::endian::little, "lane i is byte i");
  const size_t n = path.size();
  if (n == 0 || n > kMaxFieldPathBytes) return false;
  size_t depth = 1;
  bool ascii, escape;
  if (n < 8) {
    unsigned char high = 0;
    escape = false;
    for (size_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(path[i]);
      high |= c;
      escape |= kNeedsEscape[c];
      if (c != '.') continue;
      shape->dots[depth - 1] = static_cast<uint16_t>(i);
      ++depth;
    }
    ascii = high < 0x80;
  } else {
    uint64_t any = 0, special = 0;
    // `lanes` masks out the bytes of an overlapping last word that were already looked at.
    auto word = [&](size_t at, uint64_t lanes) {
      uint64_t x;
      std::memcpy(&x, path.data() + at, 8);
      any |= x;
      special |= SpecialLanes(x);
      uint64_t dots = DotLanes(x) & lanes;
      while (dots != 0) {
        if (depth == kMaxFieldPathDepth) return false;
        shape->dots[depth - 1] = static_cast<uint16_t>(at + (std::countr_zero(dots) >> 3));
        ++depth;
        dots &= dots - 1;
      }
      return true;
    };
    size_t off = 0;
    for (; off + 8 <= n; off += 8) {
      if (!word(off, ~uint64_t{0})) return false;
    }
    if (off < n && !word(n - 8, ~uint64_t{0} << (8 * (off + 8 - n)))) return false;
    ascii = (any & kHighs) == 0;
    escape = special != 0;
  }
  if (depth > kMaxFieldPathDepth) return false;
  // No empty segment: no dot first or last, no two dots in a row.
  for (size_t k = 0; k + 1 < depth; ++k) {
    const size_t at = shape->dots[k];
    if (at == 0 || at + 1 == n || (k > 0 && size_t{shape->dots[k - 1]} + 1 == at)) return false;
  }
  shape->ascii = ascii;
  shape->escape = escape;
  shape->depth = static_cast<uint8_t>(depth);
  return true;
}

// The length of the common prefix of a[0, limit) and b[0, limit), eight bytes at a time.
size_t CommonPrefix(const char* a, const char* b, size_t limit) {
  size_t i = 0;
  for (; i + 8 <= limit; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return i + (std::countr_zero(x ^ y) >> 3);
  }
  while (i < limit && a[i] == b[i]) ++i;
  return i;
}

// A word that two equal keys share and most different ones do not: the first min(size, 8)
// bytes of key[0, size), and for a key of under 8 bytes its size in the top byte (which its
// bytes leave zero), so that one comparison rejects most other keys. `readable` bytes from
// `key` may be read (at least `size`).
uint64_t KeyHead(const char* key, size_t size, size_t readable) {
  uint64_t head = 0;
  if (readable >= 8) {
    std::memcpy(&head, key, 8);
    if (size < 8) head &= (uint64_t{1} << (8 * size)) - 1;
  } else {
    for (size_t i = 0; i < size; ++i)
      head |= uint64_t{static_cast<unsigned char>(key[i])} << (8 * i);
  }
  return size < 8 ? head | (uint64_t{size} << 56) : head;
}

// The bit of Event::group_bloom_ for a key's head.
inline uint64_t BloomBit(uint64_t head) {
  return uint64_t{1} << ((head * 0x9E3779B97F4A7C15ULL) >> 58);
}

// The bits below bit n (n <= 64).
inline uint64_t LowBits(size_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }

// The length of the top-level key of `path`: up to its first dot.
size_t TopKeySize(std::string_view path) {
  const size_t dot = path.find('.');
  return dot == std::string_view::npos ? path.size() : dot;
}

}  // namespace

const Event::Group* Event::FindGroup(const char* key, size_t key_size, size_t readable) const {
  const uint64_t head = KeyHead(key, key_size, readable);
  if ((group_bloom_ & BloomBit(head)) == 0) return nullptr;  // a key not seen: most Sets
  for (const Group& g : groups_) {
    if (g.head != head) continue;
    if (g.key_size != key_size) continue;
    if (key_size <= 8 ||
        std::memcmp(text_.data() + fields_[g.begin].path_offset + 8, key + 8, key_size - 8) == 0)
      return &g;
  }
  return nullptr;
}

template <class AppendValue>
Event& Event::SetField(PathArg arg, Kind kind, AppendValue&& append_value) {
  const std::string_view path = arg.path;
  FieldPathShape checked;  // filled by WellFormedPath
  if (arg.shape == nullptr) {
    if (!WellFormedPath(path, &checked)) {
      std::string_view segments[kMaxFieldPathDepth];
      size_t count = 0;
      std::string why;
      if (!SplitPath(path, segments, &count, &why)) RecordError(why);
      return *this;
    }
    arg.shape = &checked;
  }
  const FieldPathShape& shape = *arg.shape;
  const size_t mark = text_.size();
  if (shape.ascii) {
    text_.append(path);
  } else {
    AppendSanitizedUtf8(text_, path);
  }
  const size_t path_size = text_.size() - mark;
  // Fields never have paths where one runs through another, so at most one of these applies:
  // the same path (replaced in place), an existing value on the way (refused), or existing
  // fields below the new path (the new value replaces that object, where it first appeared).
  // Otherwise the field joins the object it shares most segments with, at its end: fields_ stays
  // in output order (each object's fields adjacent, keys in the order they first appeared), so
  // writing the line is one pass.
  size_t same = fields_.size();
  size_t below = fields_.size();
  size_t below_count = 0;
  size_t best_common = 0;          // object segments shared with the closest existing field
  size_t insert = fields_.size();  // where the new field goes
  // Only the fields of the new path's top-level key can share segments with it; without one,
  // the path starts a new object (or value) at the end.
  const char* const np = text_.data() + mark;
  const size_t key_size =
      shape.ascii ? (shape.depth > 1 ? shape.dots[0] : path_size) : TopKeySize({np, path_size});
  const Group* const group = FindGroup(np, key_size, path_size);
  if (group != nullptr) {
    const size_t end = group->begin + group->count;
    for (size_t i = group->begin; i < end; ++i) {
      const Field& f = fields_[i];
      const char* const p = text_.data() + f.path_offset;
      const size_t limit = std::min<size_t>(f.path_size, path_size);
      const size_t common_bytes = CommonPrefix(p, np, limit);
      // The dots both paths have before they differ (the bytes are equal up to there). A
      // sanitised path has its dots where the raw one has them: U+FFFD replaces bytes >= 0x80
      // only, but the offsets may shift, so they are counted on the stored bytes when it was not
      // ASCII.
      size_t common_segments = 0;
      if (shape.ascii) {
        while (common_segments + 1 < size_t{shape.depth} &&
               shape.dots[common_segments] < common_bytes)
          ++common_segments;
      } else {
        for (size_t b = 0; b < common_bytes; ++b) common_segments += np[b] == '.';
      }
      if (common_bytes == limit) {
        if (f.path_size == path_size) {
          same = i;
          break;
        }
        if (f.path_size < path_size && np[common_bytes] == '.') {
          const std::string_view existing = PathOf(f);
          const std::string_view fresh(np, path_size);
          std::string message =
              "field path \"" + std::string(fresh) + "\" runs through \"" + std::string(existing) +
              "\", which " +
              (f.kind == Kind::kObject ? "was set as a whole value" : "is not an object");
          text_.resize(mark);
          RecordError(std::move(message));
          return *this;
        }
        if (f.path_size > path_size && p[common_bytes] == '.') {
          if (below_count++ == 0) below = i;
          continue;
        }
      }
      if (common_segments > 0 && common_segments >= best_common) {
        best_common = common_segments;
        insert = i + 1;
      }
    }
  }
  // The group's index in groups_, or groups_.size() for a new one.
  const size_t group_index =
      group != nullptr ? static_cast<size_t>(group - groups_.data()) : groups_.size();
  const uint64_t key_head = group != nullptr ? 0 : KeyHead(np, key_size, path_size);
  if (same != fields_.size()) text_.resize(mark);  // the field keeps its path bytes
  const size_t value_offset = text_.size();
  bool value_escape = false;
  const size_t value_size = append_value(text_, value_escape);
  if (text_.size() > UINT32_MAX) {
    text_.resize(mark);
    RecordError("field \"" + SanitizeUtf8(path) + "\" takes the event past 4 GiB");
    return *this;
  }
  // What this field can add to the line: a ',', '"', "\":{" or "\":" and one closing '}' per
  // segment, the key bytes (6 each when escaped as \u00XX; a path is short), the value (in
  // quotes for a string; an escaped one's exact size, counted only for values that need it,
  // so one quote in a 64 KiB value does not reserve 384 KiB).
  const bool value_escaped = kind == Kind::kString && value_escape;
  line_bound_ +=
      3 + 5 * shape.depth + (shape.escape ? 6 : 1) * path_size +
      (value_escaped ? JsonEscapedSize(std::string_view(text_).substr(value_offset, value_size))
                     : value_size);
  const uint8_t escape =
      static_cast<uint8_t>((shape.escape ? kPathEscape : 0) | (value_escaped ? kValueEscape : 0));
  if (same != fields_.size()) {
    Field& f = fields_[same];
    f.kind = kind;
    f.escape = escape;
    f.value_offset = static_cast<uint32_t>(value_offset);
    f.value_size = static_cast<uint32_t>(value_size);
    return *this;
  }
  uint64_t dots = 0;
  if (path_size <= kDotMaskBytes) {
    if (shape.ascii) {
      for (size_t k = 0; k + 1 < size_t{shape.depth}; ++k) dots |= uint64_t{1} << shape.dots[k];
    } else {
      const char* const stored = text_.data() + mark;
      for (size_t b = 0; b < path_size; ++b) dots |= uint64_t{stored[b] == '.'} << b;
    }
  }
  const Field field{
      static_cast<uint32_t>(mark),         static_cast<uint16_t>(path_size),  kind, escape,
      static_cast<uint32_t>(value_offset), static_cast<uint32_t>(value_size), dots};
  if (group_index == groups_.size()) {
    groups_.push_back(
        Group{key_head, static_cast<uint32_t>(key_size), static_cast<uint32_t>(fields_.size()), 1});
    group_bloom_ |= BloomBit(key_head);
    fields_.push_back(field);
    return *this;
  }
  if (below_count == 0) {
    fields_.insert(fields_.begin() + static_cast<ptrdiff_t>(insert), field);
    ++groups_[group_index].count;
    for (size_t g = group_index + 1; g < groups_.size(); ++g) ++groups_[g].begin;
    return *this;
  }
  // Drop the fields below the new path (adjacent: they form one object); the new value takes
  // the place of the first of them.
  fields_[below] = field;
  fields_.erase(fields_.begin() + static_cast<ptrdiff_t>(below) + 1,
                fields_.begin() + static_cast<ptrdiff_t>(below + below_count));
  const auto dropped = static_cast<uint32_t>(below_count - 1);
  groups_[group_index].count -= dropped;
  for (size_t g = group_index + 1; g < groups_.size(); ++g) groups_[g].begin -= dropped;
  return *this;
}

Event& Event::Set(std::string_view path, std::string_view value) {
  return SetString(PathArg{path, nullptr}, value);
}

Event& Event::Set(std::string_view path, double value) {
  return SetDouble(PathArg{path, nullptr}, value);
}

Event& Event::Set(std::string_view path, bool value) {
  return SetBool(PathArg{path, nullptr}, value);
}

Event& Event::Set(std::string_view path, const boost::json::value& value) {
  return SetValue(PathArg{path, nullptr}, value);
}

Event& Event::SetString(PathArg path, std::string_view value) {
  return SetField(path, Kind::kString, [value](std::string& out, bool& escape) {
    const size_t before = out.size();
    bool high = false;
    ScanText(value, &high, &escape);
    if (high) {
      AppendSanitizedUtf8(out, value);
    } else {
      out.append(value);
    }
    return out.size() - before;
  });
}

Event& Event::SetInt(PathArg path, int64_t value) {
  return SetField(path, Kind::kJson,
                  [value](std::string& out, bool&) { return AppendNumber(out, value); });
}

Event& Event::SetUint(PathArg path, uint64_t value) {
  return SetField(path, Kind::kJson,
                  [value](std::string& out, bool&) { return AppendNumber(out, value); });
}

Event& Event::SetDouble(PathArg path, double value) {
  return SetField(path, Kind::kJson, [value](std::string& out, bool&) -> size_t {
    if (!std::isfinite(value)) {
      out.append("null");
      return 4;
    }
    const size_t before = out.size();
    AppendNumber(out, value);
    // The shortest form of an integral double has no '.' or exponent, and a reader would take
    // it for an integer: the value stays a double only with a fraction part.
    if (out.find_first_of(".e", before) == std::string::npos) out.append(".0");
    return out.size() - before;
  });
}

Event& Event::SetBool(PathArg path, bool value) {
  return SetField(path, Kind::kJson, [value](std::string& out, bool&) -> size_t {
    out.append(value ? "true" : "false");
    return value ? 4 : 5;
  });
}

Event& Event::SetValue(PathArg path, const boost::json::value& value) {
  boost::json::value clean = value;
  if (!SanitizeValue(clean, 0)) {
    RecordError("value for field \"" + SanitizeUtf8(path.path) + "\" is nested deeper than " +
                std::to_string(kMaxValueDepth) + " levels");
    return *this;
  }
  if (clean.is_string()) {
    const boost::json::string& s = clean.get_string();
    return SetField(path, Kind::kString, [&s](std::string& out, bool& escape) {
      bool high = false;
      ScanText(std::string_view(s.data(), s.size()), &high, &escape);
      out.append(s.data(), s.size());
      return s.size();
    });
  }
  const std::string text = boost::json::serialize(clean);
  return SetField(path, clean.is_object() ? Kind::kObject : Kind::kJson,
                  [&text](std::string& out, bool&) {
                    out.append(text);
                    return text.size();
                  });
}

const Event::Field* Event::FindField(std::string_view path) const {
  const Group* g = FindGroup(path.data(), TopKeySize(path), path.size());
  if (g == nullptr) return nullptr;
  for (size_t i = g->begin; i < g->begin + g->count; ++i) {
    if (PathOf(fields_[i]) == path) return &fields_[i];
  }
  return nullptr;
}

std::optional<std::string_view> Event::FindString(std::string_view path) const {
  const Field* f = FindField(path);
  if (f == nullptr || f->kind != Kind::kString) return std::nullopt;
  return ValueOf(*f);
}

bool Event::Has(std::string_view path) const {
  // A field at `path` or below it has the top-level key of `path`.
  const Group* g = FindGroup(path.data(), TopKeySize(path), path.size());
  if (g == nullptr) return false;
  for (size_t i = g->begin; i < g->begin + g->count; ++i) {
    const std::string_view p = PathOf(fields_[i]);
    if (p == path || RunsThrough(p, path)) return true;
  }
  return false;
}

std::optional<boost::json::value> Event::Find(std::string_view path) const {
  if (!Has(path)) return std::nullopt;
  const boost::json::object all = json();
  std::string_view segments[kMaxFieldPathDepth];
  const size_t count = Segments(path, segments);
  const boost::json::object* object = &all;
  for (size_t i = 0; i < count; ++i) {
    auto it = object->find(boost::json::string_view(segments[i].data(), segments[i].size()));
    if (it == object->end()) return std::nullopt;
    if (i + 1 == count) return it->value();
    if (!it->value().is_object()) return std::nullopt;
    object = &it->value().get_object();
  }
  return std::nullopt;
}

boost::json::object Event::json() const {
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = kMaxFieldPathDepth + kMaxValueDepth + 1;  // boost::json's default is 32
  boost::json::value v = boost::json::parse(ToJsonLine(), ec, {}, options);
  if (ec || !v.is_object()) return {};  // cannot happen: AppendJsonLine writes valid JSON
  return std::move(v.get_object());
}

std::string Event::ToJsonLine() const {
  std::string line;
  AppendJsonLine(line);
  return line;
}

void Event::AppendJsonLine(std::string& out) const {
  // fields_ is in output order (see SetField): each field closes the objects of the previous
  // one it is not in and opens its own that are not open yet. The output is sized once from
  // line_bound_ and written through a pointer; escaping happens only in fields flagged for it.
  const size_t base = out.size();
  out.resize(base + line_bound_);
  char* const begin = out.data() + base;
  char* w = begin;
  *w++ = '{';
  std::string_view prev;    // the previous field's path
  size_t prev_objects = 0;  // its segments before the last: objects open below the top level
  for (size_t k = 0; k < fields_.size(); ++k) {
    const Field& f = fields_[k];
    const std::string_view path = PathOf(f);
    // Segments shared with the previous path that are objects in both: the dots both paths
    // have before they differ, at most as many as the previous one's objects.
    size_t common = 0, start = 0;
    const bool masked = path.size() <= kDotMaskBytes;
    if (masked) {
      const size_t equal =
          CommonPrefix(path.data(), prev.data(), std::min(path.size(), prev.size()));
      for (uint64_t shared = f.dots & LowBits(equal); shared != 0 && common < prev_objects;
           shared &= shared - 1) {
        start = static_cast<size_t>(std::countr_zero(shared)) + 1;
        ++common;
      }
    } else {
      const size_t limit = std::min(path.size(), prev.size());
      size_t i = 0;
      while (i < limit && path[i] == prev[i]) {
        if (path[i] == '.') {
          if (common == prev_objects) break;
          ++common;
          start = i + 1;
        }
        ++i;
      }
    }
    for (size_t c = common; c < prev_objects; ++c) *w++ = '}';
    if (k > 0) *w++ = ',';
    const bool path_escape = (f.escape & kPathEscape) != 0;
    size_t objects = common;
    auto open_object = [&](size_t dot) {
      *w++ = '"';
      w = WriteJsonText(w, path.substr(start, dot - start), path_escape);
      std::memcpy(w, "\":{", 3);
      w += 3;
      ++objects;
      start = dot + 1;
    };
    if (masked) {
      for (uint64_t rest = f.dots & ~LowBits(start); rest != 0; rest &= rest - 1)
        open_object(static_cast<size_t>(std::countr_zero(rest)));
    } else {
      for (size_t i = start; i < path.size(); ++i) {
        if (path[i] == '.') open_object(i);
      }
    }
    *w++ = '"';
    w = WriteJsonText(w, path.substr(start), path_escape);
    *w++ = '"';
    *w++ = ':';
    const std::string_view value = ValueOf(f);
    if (f.kind == Kind::kString) {
      *w++ = '"';
      w = WriteJsonText(w, value, (f.escape & kValueEscape) != 0);
      *w++ = '"';
    } else {
      w = CopyText(w, value);
    }
    prev = path;
    prev_objects = objects;
  }
  for (size_t c = 0; c < prev_objects; ++c) *w++ = '}';
  *w++ = '}';
  *w++ = '\n';
  out.resize(base + static_cast<size_t>(w - begin));
}

}  // namespace seccloud
