// ReadPlainJsonObject: a one-pass reader for the JSON lines producers actually send, building the
// same values as Boost.JSON's parser without its resumable state machine (R18).
//
// It accepts only what it can build exactly as boost::json::parse would (same values, same kinds,
// same member order) and declines everything else — numbers other than plain integers of at
// most 18 digits, duplicate keys, escaped keys, lone surrogates, control characters, comments,
// nesting as deep as the caller's limit, a top level that is not an object, text after the
// object — so that the caller's Boost.JSON parse decides those documents, with its own errors.
// The caller has checked that the text is valid UTF-8, so bytes >= 0x80 are copied as they are.
#include <bit>
#include <cstring>
#include <vector>

#include "soc/parse_internal.h"

namespace seccloud::soc::internal {
namespace {

namespace json = boost::json;

static_assert(std::endian::native == std::endian::little, "the string scan reads words LSB first");

// A member (or array element) read but not yet placed in its container. Keys point into the text
// (escaped keys are declined), so nothing is copied until the container is built.
struct Slot {
  std::string_view key;
  json::value value;
};

// Per-thread scratch, reused from record to record: the members of the containers being read
// and the decoded text of an escaped string. Every json::value here is built with the document's
// storage from the start: Boost.JSON's move assignment keeps the target's storage, so assigning
// into a value of another storage would copy.
struct Scratch {
  std::vector<Slot> slots;
  std::string unescaped;
};

constexpr uint64_t kOnes = 0x0101010101010101u;
constexpr uint64_t kHighs = 0x8080808080808080u;

// Bytes of `w` equal to zero, as high bits; the lowest one set is exact (higher ones may be
// borrows), which is all the scan uses.
inline uint64_t ZeroBytes(uint64_t w) { return (w - kOnes) & ~w & kHighs; }

class Reader {
 public:
  Reader(std::string_view text, const json::storage_ptr& sp, int max_depth, Scratch& scratch)
      : p_(text.data()),
        end_(text.data() + text.size()),
        sp_(sp),
        max_depth_(max_depth),
        scratch_(scratch) {}

  bool ReadDocument(json::object* out) {
    SkipSpace();
    if (p_ == end_ || *p_ != '{') return false;
    json::value v(sp_);
    if (!ReadObject(0, &v)) return false;
    SkipSpace();
    if (p_ != end_) return false;
    *out = std::move(v.get_object());
    return true;
  }

 private:
  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool ReadValue(int depth, json::value* out) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '"': {
        std::string_view s;
        if (!ReadString(&s)) return false;
        *out = json::value(json::string(s, sp_));
        return true;
      }
      case '{':
        return ReadObject(depth + 1, out);
      case '[':
        return ReadArray(depth + 1, out);
      case 't':
        return ReadLiteral("true", json::value(true, sp_), out);
      case 'f':
        return ReadLiteral("false", json::value(false, sp_), out);
      case 'n':
        return ReadLiteral("null", json::value(nullptr, sp_), out);
      default:
        return ReadInteger(out);
    }
  }

  bool ReadLiteral(std::string_view word, json::value v, json::value* out) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()))
      return false;
    p_ += word.size();
    *out = std::move(v);
    return true;
  }

  // -?(0|[1-9][0-9]{0,17}) not followed by a fraction, an exponent or more digits: an int64 for
  // certain. Everything else (doubles, "-0", 19+ digits that may be uint64 or double) declined.
  bool ReadInteger(json::value* out) {
    const char* q = p_;
    const bool negative = *q == '-';
    if (negative) ++q;
    if (q == end_ || *q < '0' || *q > '9') return false;
    if (*q == '0') {
      ++q;
      if (negative) return false;
      if (q != end_ && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
        return false;
      p_ = q;
      *out = json::value(int64_t{0}, sp_);
      return true;
    }
    int64_t n = 0;
    const char* digits = q;
    while (q != end_ && *q >= '0' && *q <= '9') {
      if (q - digits == 18) return false;
      n = n * 10 + (*q - '0');
      ++q;
    }
    if (q != end_ && (*q == '.' || *q == 'e' || *q == 'E')) return false;
    p_ = q;
    *out = json::value(negative ? -n : n, sp_);
    return true;
  }

  // At '"'. The string's text: a view of the input when it has no escapes, else of the decoded
  // copy in scratch (valid until the next escaped string).
  bool ReadString(std::string_view* out) {
    const char* start = ++p_;
    const char* q = start;
    while (true) {
      // Eight bytes at a time to the first '"', '\\' or control character.
      while (end_ - q >= 8) {
        uint64_t w;
        std::memcpy(&w, q, 8);
        const uint64_t hits = ZeroBytes(w ^ (kOnes * '"')) | ZeroBytes(w ^ (kOnes * '\\')) |
                              ((w - kOnes * 0x20) & ~w & kHighs);
        if (hits != 0) {
          q += std::countr_zero(hits) / 8;
          break;
        }
        q += 8;
      }
      while (q != end_ && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20) ++q;
      if (q == end_) return false;
      if (*q == '"') {
        *out = std::string_view(start, static_cast<size_t>(q - start));
        p_ = q + 1;
        return true;
      }
      if (*q == '\\') break;
      return false;  // a control character: Boost.JSON refuses it
    }
    std::string& buf = scratch_.unescaped;
    buf.assign(start, q);
    while (true) {
      if (q == end_) return false;
      const char c = *q;
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        buf.push_back(c);
        ++q;
        continue;
      }
      if (end_ - q < 2) return false;
      const char e = q[1];
      q += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          buf.push_back(e);
          break;
        case 'b':
          buf.push_back('\b');
          break;
        case 'f':
          buf.push_back('\f');
          break;
        case 'n':
          buf.push_back('\n');
          break;
        case 'r':
          buf.push_back('\r');
          break;
        case 't':
          buf.push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(q, &cp)) return false;
          q += 4;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a trailing surrogate alone
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (end_ - q < 6 || q[0] != '\\' || q[1] != 'u' || !Hex4(q + 2, &low) || low < 0xDC00 ||
                low > 0xDFFF) {
              return false;  // a leading surrogate without its pair
            }
            q += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, buf);
          break;
        }
        default:
          return false;
      }
    }
    p_ = q + 1;
    *out = buf;
    return true;
  }

  bool Hex4(const char* q, uint32_t* out) const {
    if (end_ - q < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = q[i];
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
      v = v << 4 | d;
    }
    *out = v;
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // At '{'. Members are read onto the scratch stack, then the object is built with room for all
  // of them at once, as Boost.JSON's parser builds it.
  // `depth` counts from 0 at the top level. Documents nested as deep as the limit are left to
  // Boost.JSON, whose error (or not) decides them.
  bool ReadObject(int depth, json::value* out) {
    if (depth >= max_depth_ - 1) return false;
    ++p_;
    std::vector<Slot>& slots = scratch_.slots;
    const size_t base = slots.size();
    SkipSpace();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
    } else {
      while (true) {
        if (p_ == end_ || *p_ != '"') return false;
        std::string_view key;
        const char* key_start = p_ + 1;
        if (!ReadString(&key) || key.data() != key_start) return false;  // escaped: declined
        SkipSpace();
        if (p_ == end_ || *p_ != ':') return false;
        ++p_;
        SkipSpace();
        // Read into a local: a nested container's members grow (and may move) the stack.
        json::value v(sp_);
        if (!ReadValue(depth, &v)) return false;
        slots.push_back(Slot{key, std::move(v)});
        SkipSpace();
        if (p_ == end_) return false;
        if (*p_ == ',') {
          ++p_;
          SkipSpace();
          continue;
        }
        if (*p_ != '}') return false;
        ++p_;
        break;
      }
    }
    json::object obj(sp_);
    obj.reserve(slots.size() - base);
    for (size_t i = base; i < slots.size(); ++i) {
      // A duplicate key: which value Boost.JSON keeps, and where, is its parser's to decide.
      if (!obj.emplace(slots[i].key, std::move(slots[i].value)).second) return false;
    }
    slots.resize(base);
    *out = json::value(std::move(obj));
    return true;
  }

  bool ReadArray(int depth, json::value* out) {
    if (depth >= max_depth_ - 1) return false;
    ++p_;
    std::vector<Slot>& slots = scratch_.slots;
    const size_t base = slots.size();
    SkipSpace();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
    } else {
      while (true) {
        json::value v(sp_);
        if (!ReadValue(depth, &v)) return false;
        slots.push_back(Slot{{}, std::move(v)});
        SkipSpace();
        if (p_ == end_) return false;
        if (*p_ == ',') {
          ++p_;
          SkipSpace();
          continue;
        }
        if (*p_ != ']') return false;
        ++p_;
        break;
      }
    }
    json::array arr(sp_);
    arr.reserve(slots.size() - base);
    for (size_t i = base; i < slots.size(); ++i) arr.push_back(std::move(slots[i].value));
    slots.resize(base);
    *out = json::value(std::move(arr));
    return true;
  }

  const char* p_;
  const char* const end_;
  const json::storage_ptr& sp_;
  const int max_depth_;
  Scratch& scratch_;
};

}  // namespace

bool ReadPlainJsonObject(std::string_view text, const boost::json::storage_ptr& sp, int max_depth,
                         boost::json::object* out) {
  thread_local Scratch scratch;
  // Declined documents (and exceptions) leave values on the stack: dropped here, whatever
  // happened, so the next record starts from an empty stack.
  struct Clear {
    Scratch& s;
    ~Clear() {
      s.slots.clear();
      // One huge record must not pin its stack for the thread's life.
      if (s.slots.capacity() > 4096) std::vector<Slot>().swap(s.slots);
      if (s.unescaped.capacity() > (64 << 10)) std::string().swap(s.unescaped);
    }
  } clear{scratch};
  Reader reader(text, sp, max_depth, scratch);
  return reader.ReadDocument(out);
}

}  // namespace seccloud::soc::internal
