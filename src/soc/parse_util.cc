// Shared helpers of the parsers: fields, scanning, time arithmetic and bounded JSON.
#include <emmintrin.h>

#include <algorithm>
#include <array>
#include <bit>
#include <boost/json/parser.hpp>
#include <boost/json/stream_parser.hpp>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>

#include "core/civil_date.h"
#include "core/event.h"
#include "core/ip.h"
#include "core/text.h"
#include "soc/field_view.h"
#include "soc/parse_internal.h"
#include "soc/record.h"

namespace seccloud::soc::internal {
// Most log text is ASCII; checking that a word at a time is cheaper than UTF-8 validation.
bool IsAscii(std::string_view s) {
  size_t i = 0;
  uint64_t any = 0;
  // Long text (a JSON line: every seccloud event's is checked whole) 64 bytes a step, the four
  // blocks OR-ed and their high bits tested once; SSE2 is baseline on x86-64.
  if (s.size() >= 64) {
    __m128i acc = _mm_setzero_si128();
    for (; i + 64 <= s.size(); i += 64) {
      const auto* q = reinterpret_cast<const __m128i*>(s.data() + i);
      acc = _mm_or_si128(
          acc, _mm_or_si128(_mm_or_si128(_mm_loadu_si128(q), _mm_loadu_si128(q + 1)),
                            _mm_or_si128(_mm_loadu_si128(q + 2), _mm_loadu_si128(q + 3))));
    }
    if (_mm_movemask_epi8(acc) != 0) return false;
  }
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    any |= word;
  }
  for (; i < s.size(); ++i) any |= static_cast<unsigned char>(s[i]);
  return (any & 0x8080808080808080u) == 0;
}

namespace {

// Sanitises every string and key; depth is bounded by the parser's max_depth.
void SanitizeJson(boost::json::value& v) {
  if (auto* s = v.if_string()) {
    if (!IsValidUtf8(*s)) *s = SanitizeUtf8(*s);
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) SanitizeJson(e);
  } else if (auto* o = v.if_object()) {
    bool keys_clean = true;
    for (auto& kv : *o) {
      if (!IsValidUtf8(kv.key())) keys_clean = false;
      SanitizeJson(kv.value());
    }
    if (!keys_clean) {
      boost::json::object rebuilt(o->storage());
      rebuilt.reserve(o->size());
      for (auto& kv : *o) rebuilt[SanitizeUtf8(kv.key())] = std::move(kv.value());
      *o = std::move(rebuilt);
    }
  }
}

// Keeps the first *budget leaves; returns how many it removed.
size_t Prune(boost::json::value& v, size_t* budget) {
  if (auto* a = v.if_array()) {
    size_t removed = 0;
    size_t keep = 0;
    for (; keep < a->size(); ++keep) {
      if (*budget == 0) break;
      removed += Prune((*a)[keep], budget);
    }
    for (size_t i = keep; i < a->size(); ++i) {
      size_t none = 0;
      removed += 1 + Prune((*a)[i], &none);
    }
    a->resize(keep);
    return removed;
  }
  if (auto* o = v.if_object()) {
    size_t removed = 0;
    std::vector<std::string> drop;
    for (auto& kv : *o) {
      if (*budget == 0) {
        size_t none = 0;
        removed += 1 + Prune(kv.value(), &none);
        drop.emplace_back(kv.key());
      } else {
        removed += Prune(kv.value(), budget);
      }
    }
    for (const auto& k : drop) o->erase(k);
    return removed;
  }
  if (*budget == 0) return 0;  // counted by the caller that drops it
  --*budget;
  return 0;
}

}  // namespace

// ---- fields ----

boost::json::string Sanitized(std::string_view value, boost::json::storage_ptr sp) {
  if (IsAscii(value) || IsValidUtf8(value)) return boost::json::string(value, std::move(sp));
  return boost::json::string(SanitizeUtf8(value), std::move(sp));
}

boost::json::object& PathParent(boost::json::object& fields, std::string_view* path) {
  boost::json::object* obj = &fields;
  while (true) {
    const size_t dot = path->find('.');
    if (dot == std::string_view::npos) return *obj;
    const boost::json::string_view segment(path->data(), dot);
    // One lookup whether the segment exists or not (if_contains and then emplace for a new one
    // looked it up twice); a new member is appended, so the order is the same. emplace reserves
    // room for one more member even when the segment exists, so an object full to its capacity
    // may get a larger table than the old walk gave it (capacity only, never content).
    boost::json::value& next = obj->emplace(segment, nullptr).first->value();
    if (next.is_null()) {
      // New (or null, which the old walk also replaced by an empty object): room for a few
      // members, as most of the parsers' objects get two to four.
      boost::json::object& child = next.emplace_object();
      child.reserve(4);
      obj = &child;
    } else if (!next.is_object()) {
      obj = &next.emplace_object();
    } else {
      obj = &next.get_object();
    }
    path->remove_prefix(dot + 1);
  }
}

void SetPath(boost::json::object& fields, std::string_view path, boost::json::value value) {
  boost::json::object& parent = PathParent(fields, &path);
  parent.insert_or_assign(boost::json::string_view(path.data(), path.size()), std::move(value));
}

void PutString(boost::json::object& fields, std::string_view path, std::string_view value) {
  // The string is built in place, in the fields' storage (no temporary value to move in).
  boost::json::object& parent = PathParent(fields, &path);
  const boost::json::string_view key(path.data(), path.size());
  if (IsAscii(value) || IsValidUtf8(value)) {
    parent.insert_or_assign(key, boost::json::string_view(value.data(), value.size()));
  } else {
    const std::string clean = SanitizeUtf8(value);
    parent.insert_or_assign(key, boost::json::string_view(clean.data(), clean.size()));
  }
}

void PutInt(boost::json::object& fields, std::string_view path, int64_t value) {
  // Built in place, as PutString's strings: SetPath would build a value, move it in and destroy
  // the moved-from one.
  boost::json::object& parent = PathParent(fields, &path);
  parent.insert_or_assign(boost::json::string_view(path.data(), path.size()), value);
}

void PutTime(boost::json::object& fields, std::string_view path, int64_t ms) {
  char buf[24];
  const size_t n = FormatTimeChars(ms, buf);
  boost::json::object& parent = PathParent(fields, &path);
  const boost::json::string_view key(path.data(), path.size());
  if (n != 0) {
    parent.insert_or_assign(key, boost::json::string_view(buf, n));
  } else {
    const std::string text = FormatTimeMs(ms);
    parent.insert_or_assign(key, boost::json::string_view(text.data(), text.size()));
  }
}

void PutSourceAndFormat(boost::json::object& fields, std::string_view source, bool sanitize,
                        Format format) {
  // Both leaves go into the one object the walk returns: setting the first changes only that
  // object's own table, so the reference still names "seccloud.soc" for the second (and the
  // second walk would have found the same object).
  std::string_view path = "seccloud.soc.source";
  boost::json::object& soc = PathParent(fields, &path);
  if (!sanitize || IsAscii(source) || IsValidUtf8(source)) {
    soc.insert_or_assign("source", boost::json::string_view(source.data(), source.size()));
  } else {
    const std::string clean = SanitizeUtf8(source);
    soc.insert_or_assign("source", boost::json::string_view(clean.data(), clean.size()));
  }
  soc.insert_or_assign("format", boost::json::string_view(FormatName(format)));
}

bool ParseCanonicalIpv4(std::string_view text, uint8_t* out) {
  // Four octets of 1-3 digits, each at most 255 and without a leading zero, three dots: each such
  // text inet_pton(AF_INET) takes (glibc's inet_pton4 grammar) and IpAddress::Parse's leading-zero
  // rule lets through.
  if (text.size() < 7 || text.size() > 15) return false;
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet != 0) {
      if (i == text.size() || text[i] != '.') return false;
      ++i;
    }
    unsigned value = 0;
    const size_t start = i;
    while (i < text.size() && i - start < 3 && static_cast<unsigned>(text[i] - '0') < 10) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    const size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return false;
    out[octet] = static_cast<uint8_t>(value);
  }
  return i == text.size();
}

bool IsCanonicalIpv4(std::string_view text) {
  uint8_t octets[4];
  return ParseCanonicalIpv4(text, octets);
}

bool IpText(std::string_view text, std::string* buf, std::string_view* out) {
  // Brackets ("[::1]") and an IPv6 zone ("fe80::1%eth0") are common in logs; the address is
  // what the field holds.
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (size_t pct = text.find('%'); pct != std::string_view::npos) text = text.substr(0, pct);
  if (IsCanonicalIpv4(text)) {  // what IpAddress::Parse accepts as IPv4 and leaves as it is
    *out = text;
    return true;
  }
  auto ip = IpAddress::Parse(text);
  if (!ip) return false;
  // Dotted-quad text that parsed is already canonical (Parse refuses leading zeros).
  if (ip->is_v4()) {
    *out = text;
  } else {
    *buf = ip->Unmapped().ToString();
    *out = *buf;
  }
  return true;
}

bool PutIp(boost::json::object& fields, std::string_view path, std::string_view text) {
  std::string buf;
  std::string_view ip;
  if (!IpText(text, &buf, &ip)) return false;
  SetPath(fields, path, boost::json::string(ip, fields.storage()));
  return true;
}

bool PutPort(boost::json::object& fields, std::string_view path, std::string_view text) {
  int64_t port = 0;
  if (text.empty() || text.size() > 5 || !ParseUint(text, &port) || port > 65535) return false;
  PutInt(fields, path, port);
  return true;
}

void PutCategory(boost::json::object& fields, std::string_view category) {
  // The array built in place (a member set again keeps its place, as SetPath's would).
  std::string_view path = "event.category";
  boost::json::object& event = PathParent(fields, &path);
  boost::json::value& v = event.insert_or_assign("category", nullptr).first->value();
  v.emplace_array().emplace_back(boost::json::string_view(category.data(), category.size()));
}

// ---- the overlay (SetPath-only formats) ----

namespace {

void AppendEntry(FieldOverlay& o, SinkPath path, OverlayKind kind, std::string_view text) {
  OverlayEntry e = path.Entry(kind);
  e.at = static_cast<uint32_t>(o.bytes.size());
  e.len = static_cast<uint32_t>(text.size());
  o.bytes.append(text);
  o.entries.push_back(e);
}

}  // namespace

int OverlayFind(const OverlayEntry* entries, size_t n, std::string_view path, bool* object) {
  *object = false;
  // A path with an empty segment needs no test of its own: no entry's path (non-empty segments)
  // equals it or has it as a dotted prefix, and one that is its prefix answers nothing too.
  for (size_t i = n; i-- > 0;) {
    switch (OverlayRelate(entries[i].path, path)) {
      case kOverlayUnrelated:
        continue;
      case kOverlayEqual:
        return static_cast<int>(i);
      case kOverlayPrefix:
        return -1;
      case kOverlayExtension:
        *object = true;
        return -1;
    }
  }
  return -1;
}

int WinlogItemLookup(const PendingFields& p, std::string_view name, uint32_t hash) {
  for (uint32_t k = hash & p.winlog_items_mask;; k = (k + 1) & p.winlog_items_mask) {
    const uint16_t i = p.winlog_items[k];
    if (i == kNoOverlayEntry) return -1;
    if (p.overlay[i].path.substr(kWinlogItemPrefix.size()) == name) return i;
  }
}

namespace {

// The set bits of x. std::popcount is a call into libgcc (__popcountdi2, a loop over a byte
// table) unless the build targets a CPU with POPCNT (-mpopcnt), which the release build does not
// assume; this bit-slicing count is a dozen inline instructions on any x86-64.
constexpr int PopCount64(uint64_t x) {
  x -= (x >> 1) & 0x5555555555555555u;
  x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
  return static_cast<int>((x * 0x0101010101010101u) >> 56);
}
static_assert(PopCount64(0) == 0 && PopCount64(1) == 1 && PopCount64(~uint64_t{0}) == 64 &&
              PopCount64(uint64_t{1} << 63) == 1 && PopCount64(0x8000000000000001u) == 2 &&
              PopCount64(0x5555555555555555u) == 32 && PopCount64(0xff00ff00ff00ff00u) == 32 &&
              PopCount64(0x7fffffffffffffffu) == 63 && PopCount64(0x0123456789abcdefu) == 32);

}  // namespace

int OverlayLookup(const PendingFields& p, std::string_view path, uint64_t bit, bool* object) {
  *object = false;
  if ((p.overlay_roots & bit) == 0) return -1;
  if (p.winlog_items != nullptr && path.size() > kWinlogItemPrefix.size() &&
      path.starts_with(kWinlogItemPrefix)) {
    // Only the items are related to the path: the one named by its rest, or (a '.' in the rest)
    // the one the path runs through, a leaf in the way — nothing either way.
    const std::string_view name = path.substr(kWinlogItemPrefix.size());
    if (name.find('.') != std::string_view::npos) return -1;
    return WinlogItemLookup(p, name, WinlogItemHash(name));
  }
  const uint16_t head = p.overlay_heads[PopCount64(p.overlay_roots & (bit - 1))];
  for (uint16_t k = head; k != kNoOverlayEntry; k = p.overlay[k].next_live) {
    switch (OverlayRelate(p.overlay[k].path, path)) {
      case kOverlayUnrelated:
        continue;
      case kOverlayEqual:
        return k;
      case kOverlayPrefix:
        return -1;
      case kOverlayExtension:
        *object = true;
        return -1;
    }
  }
  return -1;
}

void ReplayOverlay(boost::json::object& f, const OverlayEntry* entries, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const OverlayEntry& e = entries[i];
    std::string_view path = e.path;
    boost::json::object& parent = PathParent(f, &path);
    const boost::json::string_view key(path.data(), path.size());
    switch (e.kind) {
      case OverlayKind::kString:  // PutString's (the text is valid UTF-8), PutTime's, PutIp's
        parent.insert_or_assign(key, boost::json::string_view(e.str.data(), e.str.size()));
        break;
      case OverlayKind::kInt:  // PutInt's
        parent.insert_or_assign(key, e.num);
        break;
      case OverlayKind::kBool:  // an EVE document's own boolean (parse_json.cc)
        parent.insert_or_assign(key, e.num != 0);
        break;
      case OverlayKind::kCategory: {  // PutCategory's
        boost::json::value& v = parent.insert_or_assign(key, nullptr).first->value();
        v.emplace_array().emplace_back(boost::json::string_view(e.str.data(), e.str.size()));
        break;
      }
    }
  }
}

boost::json::object& FieldSink::Tree() {
  if (overlay_ != nullptr) {
    FieldOverlay* o = overlay_;
    overlay_ = nullptr;
    o->Resolve();
    tree_->reserve(16);  // as Normalize reserves a tree for these formats
    ReplayOverlay(*tree_, o->entries.data(), o->entries.size());
    o->clear();
  }
  return *tree_;
}

bool FieldSink::Has(std::string_view path) const {
  if (overlay_ == nullptr) return FindField(*tree_, path) != nullptr;
  bool object = false;
  return OverlayFind(overlay_->entries.data(), overlay_->entries.size(), path, &object) >= 0 ||
         object;
}

void FieldSink::String(SinkPath path, std::string_view value) {
  if (overlay_ == nullptr) return PutString(*tree_, path, value);
  if (IsAscii(value) || IsValidUtf8(value)) {
    AppendEntry(*overlay_, path, OverlayKind::kString, value);
  } else {
    AppendEntry(*overlay_, path, OverlayKind::kString, SanitizeUtf8(value));
  }
  Bound();
}

void FieldSink::Int(SinkPath path, int64_t value) {
  if (overlay_ == nullptr) return PutInt(*tree_, path, value);
  OverlayEntry e = path.Entry(OverlayKind::kInt);
  e.num = value;
  overlay_->entries.push_back(e);
  Bound();
}

void FieldSink::Category(std::string_view category) {
  if (overlay_ == nullptr) return PutCategory(*tree_, category);
  // PutCategory's text is not sanitised either (its callers pass literals).
  AppendEntry(*overlay_, "event.category", OverlayKind::kCategory, category);
  Bound();
}

bool PutIp(FieldSink& f, SinkPath path, std::string_view text) {
  if (f.overlay() == nullptr) return PutIp(f.Tree(), path, text);
  std::string buf;
  std::string_view ip;
  if (!IpText(text, &buf, &ip)) return false;
  AppendEntry(*f.overlay(), path, OverlayKind::kString, ip);
  f.Bound();
  return true;
}

bool PutPort(FieldSink& f, SinkPath path, std::string_view text) {
  int64_t port = 0;
  if (text.empty() || text.size() > 5 || !ParseUint(text, &port) || port > 65535) return false;
  f.Int(path, port);
  return true;
}

void PutTime(FieldOverlay& o, SinkPath path, int64_t ms) {
  char buf[24];
  const size_t n = FormatTimeChars(ms, buf);
  if (n != 0) {
    AppendEntry(o, path, OverlayKind::kString, std::string_view(buf, n));
  } else {
    AppendEntry(o, path, OverlayKind::kString, FormatTimeMs(ms));
  }
}

// ---- scanning ----

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (IsSpace(s.front()) || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (IsSpace(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

namespace {
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

bool ContainsIgnoreCase(std::string_view s, std::string_view needle) {
  if (needle.empty()) return true;
  if (s.size() < needle.size()) return false;
  for (size_t i = 0; i + needle.size() <= s.size(); ++i) {
    if (Lower(s[i]) == Lower(needle[0]) && EqualsIgnoreCase(s.substr(i, needle.size()), needle)) {
      return true;
    }
  }
  return false;
}

bool ParseUint(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

std::string_view NextToken(std::string_view s, size_t* pos) {
  size_t i = *pos;
  while (i < s.size() && IsSpace(s[i])) ++i;
  const size_t start = i;
  while (i < s.size() && !IsSpace(s[i])) ++i;
  *pos = i;
  return s.substr(start, i - start);
}

std::string Excerpt(std::string_view s) {
  return Quote(s.substr(0, std::min<size_t>(40, s.size())));
}

// ---- time ----

namespace {
// "00".."99": two digits per lookup instead of a division and a remainder per digit.
constexpr auto kTwoDigits = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[2 * i] = static_cast<char>('0' + i / 10);
    t[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return t;
}();
void PutTwoDigits(char* at, int64_t v) { std::memcpy(at, &kTwoDigits[2 * v], 2); }
}  // namespace

size_t FormatTimeChars(int64_t ms, char* buf) {
  int64_t secs = ms / 1000, frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  int64_t days = secs / 86400, sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  // A record's two times (its own and its reception) and consecutive records mostly fall on the
  // same day: the date part of the last day formatted on this thread is reused.
  thread_local int64_t cached_days = std::numeric_limits<int64_t>::min();
  thread_local char cached_date[10];
  if (days != cached_days) {
    const CivilDate date = CivilFromDays(days);
    const int64_t y = date.year;
    if (y < 0 || y > 9999) return 0;
    PutTwoDigits(cached_date, y / 100);
    PutTwoDigits(cached_date + 2, y % 100);
    cached_date[4] = '-';
    PutTwoDigits(cached_date + 5, date.month);
    cached_date[7] = '-';
    PutTwoDigits(cached_date + 8, date.day);
    cached_days = days;
  }
  std::memcpy(buf, cached_date, 10);
  buf[10] = 'T';
  PutTwoDigits(buf + 11, sod / 3600);
  buf[13] = ':';
  PutTwoDigits(buf + 14, sod / 60 % 60);
  buf[16] = ':';
  PutTwoDigits(buf + 17, sod % 60);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + frac / 100);
  PutTwoDigits(buf + 21, frac % 100);
  buf[23] = 'Z';
  return 24;
}

boost::json::string FormatTime(int64_t ms, boost::json::storage_ptr sp) {
  char buf[24];
  const size_t n = FormatTimeChars(ms, buf);
  if (n == 0) return boost::json::string(FormatTimeMs(ms), std::move(sp));
  return boost::json::string(std::string_view(buf, n), std::move(sp));
}

bool IsValidDate(int64_t y, int m, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

bool CivilToMs(int64_t y, int mo, int d, int h, int mi, int s, int ms, int64_t* out) {
  if (!IsValidDate(y, mo, d) || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60 || ms < 0 ||
      ms > 999) {
    return false;
  }
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  *out = (days * 86400 + h * 3600 + mi * 60 + std::min(s, 59)) * 1000 + ms;
  return true;
}

int MonthFromAbbrev(std::string_view s) {
  if (s.size() < 3) return 0;
  // The three letters lowered and packed into one word, compared with the months' words (one
  // pass of 12 compares instead of 12 case-insensitive string compares). Lowering sets bit 5 of
  // letters only, as Lower() does, so a non-letter cannot alias a month.
  const auto lower = [](char c) -> uint32_t {
    const auto u = static_cast<unsigned char>(c);
    return u >= 'A' && u <= 'Z' ? u + ('a' - 'A') : u;
  };
  const uint32_t word = lower(s[0]) | lower(s[1]) << 8 | lower(s[2]) << 16;
  static constexpr auto kMonths = [] {
    constexpr const char* kNames = "janfebmaraprmayjunjulaugsepoctnovdec";
    std::array<uint32_t, 12> w{};
    for (int i = 0; i < 12; ++i) {
      w[i] = static_cast<uint32_t>(kNames[3 * i]) | static_cast<uint32_t>(kNames[3 * i + 1]) << 8 |
             static_cast<uint32_t>(kNames[3 * i + 2]) << 16;
    }
    return w;
  }();
  for (int i = 0; i < 12; ++i) {
    if (kMonths[i] == word) return i + 1;
  }
  return 0;
}

namespace {
// The UTC year of ms since the epoch, without gmtime_r's time-zone lock: this runs for every
// syslog and text line.
int64_t YearOfMs(int64_t ms) {
  int64_t days = ms / 86'400'000;
  if (ms % 86'400'000 < 0) --days;
  return CivilFromDays(days).year;
}
}  // namespace

bool InferYear(int mo, int d, int h, int mi, int s, int ms, int64_t received_ms, int64_t* out) {
  // Whole seconds, as gmtime_r of received_ms / 1000 gave before (truncated toward zero).
  const int64_t year = YearOfMs(received_ms / 1000 * 1000);
  bool found = false;
  int64_t best = 0;
  for (int64_t y : {year - 1, year, year + 1}) {
    int64_t t;
    if (!CivilToMs(y, mo, d, h, mi, s, ms, &t)) continue;  // Feb 29 of a common year
    // Records do not come from the future: a "Mar 17" line received in November is this March,
    // not next March, although next March is nearer. A day of clock skew is tolerated.
    if (t > received_ms + kMaxFutureSkewMs) continue;
    const auto distance = [&](int64_t v) {
      return v > received_ms ? v - received_ms : received_ms - v;
    };
    if (!found || distance(t) < distance(best)) {
      best = t;
      found = true;
    }
  }
  if (found) *out = best;
  return found;
}

namespace {
bool TwoDigits(std::string_view s, size_t pos, int* out) {
  if (pos + 2 > s.size() || !IsDigit(s[pos]) || !IsDigit(s[pos + 1])) return false;
  *out = (s[pos] - '0') * 10 + (s[pos + 1] - '0');
  return true;
}
}  // namespace

bool ParseIsoPrefix(std::string_view s, size_t* consumed, int64_t* ms) {
  int c1, c2, mo, d, h, mi, sec;
  if (!TwoDigits(s, 0, &c1) || !TwoDigits(s, 2, &c2) || s.size() < 19 || s[4] != '-' ||
      !TwoDigits(s, 5, &mo) || s[7] != '-' || !TwoDigits(s, 8, &d) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !TwoDigits(s, 11, &h) || s[13] != ':' ||
      !TwoDigits(s, 14, &mi) || s[16] != ':' || !TwoDigits(s, 17, &sec)) {
    return false;
  }
  size_t pos = 19;
  int millis = 0;
  if (pos + 1 < s.size() && (s[pos] == '.' || s[pos] == ',') && IsDigit(s[pos + 1])) {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && IsDigit(s[pos])) {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  int64_t offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om = 0;
    size_t p = pos + 1;
    if (TwoDigits(s, p, &oh)) {
      p += 2;
      bool ok = true;
      if (p < s.size() && s[p] == ':') {
        ok = TwoDigits(s, p + 1, &om);
        p += 3;
      } else if (TwoDigits(s, p, &om)) {
        p += 2;
      }
      // A bare "+hh" counts only when nothing digit-like follows.
      if (ok && oh <= 23 && om <= 59 && (p >= s.size() || !IsDigit(s[p]))) {
        offset_min = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
        pos = p;
      }
    }
  }
  int64_t t;
  if (!CivilToMs(c1 * 100 + c2, mo, d, h, mi, sec, millis, &t)) return false;
  *ms = t - offset_min * 60000;
  *consumed = pos;
  return true;
}

bool EpochToMs(double v, int64_t* ms) {
  if (!std::isfinite(v) || v < 0) return false;
  double m;
  if (v < 1e11) {
    m = v * 1000;  // seconds (until year 5138)
  } else if (v < 1e14) {
    m = v;
  } else if (v < 1e17) {
    m = v / 1000;
  } else {
    m = v / 1e6;
  }
  if (m > 253402300799999.0) return false;  // beyond 9999-12-31
  *ms = static_cast<int64_t>(m);
  return true;
}

namespace {

// The shape as three 8-byte words: which bytes are digits (0xFF), and the separators' bytes.
struct UtcMillisWord {
  uint64_t digits = 0;
  uint64_t separators = 0;
};
constexpr std::array<UtcMillisWord, 3> kUtcMillisShape = [] {
  constexpr std::string_view kShape = "0000-00-00T00:00:00.000Z";  // '0': a digit
  std::array<UtcMillisWord, 3> w{};
  for (size_t i = 0; i < kShape.size(); ++i) {
    const int shift = static_cast<int>(8 * (i % 8));
    if (kShape[i] == '0') {
      w[i / 8].digits |= uint64_t{0xFF} << shift;
    } else {
      w[i / 8].separators |= uint64_t{static_cast<unsigned char>(kShape[i])} << shift;
    }
  }
  return w;
}();

// The shape of every seccloud event's @timestamp (Go's and our services' RFC 3339 UTC with
// milliseconds, 24 bytes: 2026-10-02T00:00:23.663Z): the fields ParseIsoPrefix reads from it,
// without its bounds test and branch per field. Anything else returns false for the general path.
bool UtcMillisToMs(std::string_view s, int64_t* ms) {
  static_assert(std::endian::native == std::endian::little, "the shape's words are little-endian");
  if (s.size() != 24) return false;
  // Per word: the separator bytes equal the shape's, and every digit byte b has (b & 0xF0) ==
  // 0x30 and ((b + 6) & 0xF0) == 0x30, i.e. is '0'..'9'. The + 6 carries out of a byte only from
  // 0xFA-0xFF, which the first test already refuses (and a separator that passes carries nothing).
  constexpr uint64_t kHigh = 0xF0F0F0F0F0F0F0F0u, kThrees = 0x3030303030303030u,
                     kSixes = 0x0606060606060606u;
  uint64_t bad = 0;
  for (size_t i = 0; i < 3; ++i) {
    uint64_t w;
    std::memcpy(&w, s.data() + 8 * i, 8);
    const UtcMillisWord& shape = kUtcMillisShape[i];
    bad |= (w & ~shape.digits) ^ shape.separators;
    bad |= (((w & kHigh) ^ kThrees) | (((w + kSixes) & kHigh) ^ kThrees)) & shape.digits;
  }
  if (bad != 0) return false;
  auto two = [&](size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); };
  return CivilToMs(two(0) * 100 + two(2), two(5), two(8), two(11), two(14), two(17),
                   two(20) * 10 + (s[22] - '0'), ms);
}

bool TextTimeToMs(std::string_view text, int64_t* ms) {
  if (UtcMillisToMs(text, ms)) return true;
  text = TrimSpaces(text);
  size_t used = 0;
  if (ParseIsoPrefix(text, &used, ms) && used == text.size()) return true;
  int64_t n;
  if (ParseUint(text, &n)) return EpochToMs(static_cast<double>(n), ms);
  return false;
}

}  // namespace

bool JsonTimeToMs(const TapeNode& n, int64_t* ms) {
  switch (n.kind) {
    case TapeKind::kString:
      return TextTimeToMs(n.str(), ms);
    case TapeKind::kInt64:
      return EpochToMs(static_cast<double>(n.i64), ms);
    case TapeKind::kUint64:
      return EpochToMs(static_cast<double>(n.u64), ms);
    case TapeKind::kDouble:
      return EpochToMs(n.dbl, ms);
    default:
      return false;
  }
}

bool JsonTimeToMs(const boost::json::value& v, int64_t* ms) {
  if (const auto* s = v.if_string()) return TextTimeToMs(*s, ms);
  if (v.is_int64()) return EpochToMs(static_cast<double>(v.get_int64()), ms);
  if (v.is_uint64()) return EpochToMs(static_cast<double>(v.get_uint64()), ms);
  if (v.is_double()) return EpochToMs(v.get_double(), ms);
  return false;
}

// ---- JSON ----

bool ParseJsonObject(std::string_view text, boost::json::storage_ptr sp, boost::json::object* out,
                     std::string* error) {
  boost::json::parse_options opt;
  opt.max_depth = kMaxParsedJsonDepth;
  opt.allow_invalid_utf8 = true;  // sanitised below: be liberal in what we accept
  // One parser per thread, reused: its internal stack stays allocated between records.
  thread_local boost::json::stream_parser p({}, opt);
  p.reset(std::move(sp));
  boost::system::error_code ec;
  const size_t used = p.write_some(text.data(), text.size(), ec);
  if (!ec && used < text.size()) {
    // Whitespace after the value is fine; anything else is a second value.
    std::string_view rest = TrimSpaces(text.substr(used));
    if (!rest.empty()) {
      *error = "expected the end of the line after the JSON value at byte " + std::to_string(used) +
               ", found " + Excerpt(rest);
      p.reset();  // drops the partial value now, not at the next record
      return false;
    }
  }
  if (!ec) p.finish(ec);
  if (ec) {
    std::string what =
        ec == boost::json::error::too_deep
            ? "JSON nested deeper than " + std::to_string(kMaxParsedJsonDepth) + " levels"
            : "invalid JSON (" + ec.message() + ")";
    *error = what + " at byte " + std::to_string(used);
    p.reset();
    return false;
  }
  boost::json::value v = p.release();
  if (!v.is_object()) {
    *error = std::string("expected a JSON object, found a JSON ") + (v.is_array()    ? "array"
                                                                     : v.is_string() ? "string"
                                                                                     : "scalar");
    return false;
  }
  // Escapes decode to valid UTF-8 only (the parser refuses lone surrogates), so strings and keys
  // can be ill-formed only when the line itself is: a valid line needs no walk over the tree.
  if (!IsAscii(text) && !IsValidUtf8(text)) SanitizeJson(v);
  *out = std::move(v.get_object());
  return true;
}

size_t PruneFields(boost::json::object& fields, size_t max) {
  boost::json::value wrapper(std::move(fields));
  size_t budget = max;
  const size_t removed = Prune(wrapper, &budget);
  fields = std::move(wrapper.get_object());
  return removed;
}

}  // namespace seccloud::soc::internal
