#include "core/event.h"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
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

std::string FormatEventTimestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{ms - day};
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

std::string NewEventId() {
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
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[b[i] >> 4]);
    id.push_back(kHex[b[i] & 0xf]);
  }
  return id;
}

std::string SanitizeUtf8(std::string_view in) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(in.size());
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char lead = s[i];
    if (lead < 0x80) {
      out.push_back(static_cast<char>(lead));
      ++i;
      continue;
    }
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
      out.append(in.substr(i, j - i));
    } else {
      out.append(kReplacement);  // the maximal subpart s[i, j) becomes one U+FFFD
    }
    i = j;
  }
  return out;
}

Event Event::Make(std::string_view dataset, std::string_view kind, std::string_view action,
                  Outcome outcome, const EventClock& clock) {
  Event e;
  e.Set("@timestamp", FormatEventTimestamp(clock()));
  e.Set("event.dataset", dataset);
  e.Set("event.kind", kind);
  e.Set("event.action", action);
  e.Set("event.outcome", OutcomeName(outcome));
  e.Set("event.id", NewEventId());
  return e;
}

Event& Event::Set(std::string_view path, std::string_view value) {
  return SetValue(path, boost::json::value(boost::json::string_view(value.data(), value.size())));
}

Event& Event::Set(std::string_view path, double value) {
  return SetValue(path, boost::json::value(value));
}

Event& Event::Set(std::string_view path, bool value) {
  return SetValue(path, boost::json::value(value));
}

void Event::RecordError(std::string message) {
  if (!error_) error_ = MakeError(Errc::kInvalidArgument, std::move(message));
}

Event& Event::SetValue(std::string_view path, boost::json::value value) {
  std::string_view segments[kMaxFieldPathDepth];
  size_t count = 0;
  std::string why;
  if (!SplitPath(path, segments, &count, &why)) {
    RecordError(why);
    return *this;
  }
  if (!SanitizeValue(value, 0)) {
    RecordError("value for field \"" + SanitizeUtf8(path) + "\" is nested deeper than " +
                std::to_string(kMaxValueDepth) + " levels");
    return *this;
  }
  boost::json::object* object = &fields_;
  for (size_t i = 0; i + 1 < count; ++i) {
    const std::string key = SanitizeUtf8(segments[i]);
    auto it = object->find(key);
    if (it == object->end()) {
      object = &(*object)[key].emplace_object();
    } else if (it->value().is_object()) {
      object = &it->value().get_object();
    } else {
      RecordError(
          "field path \"" + SanitizeUtf8(path) + "\" runs through \"" +
          SanitizeUtf8(path.substr(0, segments[i].data() + segments[i].size() - path.data())) +
          "\", which is not an object");
      return *this;
    }
  }
  (*object)[SanitizeUtf8(segments[count - 1])] = std::move(value);
  return *this;
}

const boost::json::value* Event::Find(std::string_view path) const {
  std::string_view segments[kMaxFieldPathDepth];
  size_t count = 0;
  std::string why;
  if (!SplitPath(path, segments, &count, &why)) return nullptr;
  const boost::json::object* object = &fields_;
  for (size_t i = 0; i < count; ++i) {
    auto it = object->find(boost::json::string_view(segments[i].data(), segments[i].size()));
    if (it == object->end()) return nullptr;
    if (i + 1 == count) return &it->value();
    if (!it->value().is_object()) return nullptr;
    object = &it->value().get_object();
  }
  return nullptr;
}

std::string Event::ToJsonLine() const {
  std::string line = boost::json::serialize(fields_);
  line.push_back('\n');
  return line;
}

}  // namespace seccloud
