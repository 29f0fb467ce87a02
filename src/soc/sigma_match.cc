// Matching compiled Sigma rules against one record (see sigma_internal.h).

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstring>

#include "soc/index_tokens.h"
#include "soc/ipv4_text.h"
#include "soc/parse_internal.h"
#include "soc/sigma.h"
#include "soc/sigma_internal.h"

namespace seccloud::soc::sigma_internal {

int FieldTable::Intern(const std::vector<std::string>& candidates) {
  std::string key;
  for (const auto& c : candidates) {
    key += c;
    key += '\n';
  }
  auto [it, inserted] = index.emplace(std::move(key), static_cast<int>(paths.size()));
  if (inserted) paths.push_back(candidates);
  return it->second;
}

void LowerInto(std::string_view in, std::string* out) {
  out->resize(in.size());
  // Eight bytes at a time (the store's lowering of field values): the values Sigma's
  // case-insensitive tests lower are ~150 bytes on average (command lines, URLs), and the byte
  // loop took ~7 instructions a byte.
  index_tokens::LowerAsciiInto(in.data(), in.size(), out->data());
}

std::string Lower(std::string_view in) {
  std::string out;
  LowerInto(in, &out);
  return out;
}

bool GlobMatch(std::string_view text, std::string_view lit, std::string_view mask) {
  size_t t = 0, p = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  // Right after a star (p == star_p + 1, t == star_t), the walk below tries each text position in
  // turn against lit[p]; where lit[p] is a literal byte, every position that does not hold it
  // fails at once and moves on to the next, so the first one that does is found with memchr
  // instead (the same position, the same state: it was ~12 instructions a skipped byte, a third
  // of Sigma's full checks' cost on loggen's set with 1,000 rules). None left: no match, as the
  // walk would end with p on that literal. A star that ends the pattern matches the rest.
  auto after_star = [&]() -> int {  // 1: matched, 0: no match, -1: go on
    if (p == lit.size()) return 1;
    if (mask[p] == '*' || mask[p] == '?') return -1;
    const void* at =
        t < text.size() ? std::memchr(text.data() + t, lit[p], text.size() - t) : nullptr;
    if (at == nullptr) return 0;
    t = star_t = static_cast<size_t>(static_cast<const char*>(at) - text.data());
    return -1;
  };
  while (t < text.size()) {
    if (p < lit.size() && mask[p] == '*') {
      star_p = p++;
      star_t = t;
      if (const int r = after_star(); r >= 0) return r == 1;
    } else if (p < lit.size() && (mask[p] == '?' || lit[p] == text[t])) {
      ++p;
      ++t;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      t = ++star_t;
      if (const int r = after_star(); r >= 0) return r == 1;
    } else {
      return false;
    }
  }
  while (p < lit.size() && mask[p] == '*') ++p;
  return p == lit.size();
}

bool ParseCidr(std::string_view text, ValueTest* out) {
  const size_t slash = text.find('/');
  std::string addr(text.substr(0, slash));
  int bits = -1;
  const bool v6 = addr.find(':') != std::string::npos;
  if (slash != std::string_view::npos) {
    std::string_view b = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || ptr != b.data() + b.size()) return false;
  } else {
    bits = v6 ? 128 : 32;
  }
  if (bits < 0 || bits > (v6 ? 128 : 32)) return false;
  out->net.fill(0);
  if (inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), out->net.data()) != 1) return false;
  out->v6 = v6;
  out->prefix_bits = bits;
  return true;
}

namespace {

// inet_pton(AF_INET, text)'s answer, the text ending at its first NUL as the C string would:
// internal::ParseCanonicalIpv4 is glibc's inet_pton4 grammar (four decimal octets of at most 255,
// no leading zeros, nothing else). Not the call itself: the C string's copy, strlen and the
// dispatch were ~400 instructions of each IPv4 |cidr test.
bool ParseIpv4AsInetPton(std::string_view text, uint8_t* out) {
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  return internal::ParseCanonicalIpv4(text, out);
}

}  // namespace

bool IpInCidr(std::string_view ip, const ValueTest& cidr) {
  char buf[64];
  if (ip.empty() || ip.size() >= sizeof buf) return false;
  std::array<uint8_t, 16> a{};
  if (!cidr.v6) {
    if (!ParseIpv4AsInetPton(ip, a.data())) return false;
  } else {
    // Sixteen bytes take eight groups or a "::" (inet_pton6): a text without ':' is no IPv6
    // address — the IPv4 values SigmaHQ's lists of v4 and v6 nets are tested against.
    if (std::memchr(ip.data(), ':', ip.size()) == nullptr) return false;
    std::memcpy(buf, ip.data(), ip.size());
    buf[ip.size()] = '\0';
    if (inet_pton(AF_INET6, buf, a.data()) != 1) return false;
  }
  const int full = cidr.prefix_bits / 8, rest = cidr.prefix_bits % 8;
  if (std::memcmp(a.data(), cidr.net.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const uint8_t m = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & m) == (cidr.net[full] & m);
}

namespace {

// FNV-1a, continued byte by byte: the hash of "a.b.c" is the same whichever keys spell it
// ({"a":{"b":{"c":…}}}, {"a.b":{"c":…}}, …), as FindField finds it under any of them.
constexpr uint64_t kFnvBasis = 14695981039346656037ull;
uint64_t FnvAppend(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Folds 64 bits into the 12-bit index of MatchContext's presence set.
uint64_t PresenceIndex(uint64_t h) { return (h ^ (h >> 12) ^ (h >> 24) ^ (h >> 36)) & 4095; }

void NoteObject(const boost::json::object& o, uint64_t prefix, bool root, int depth,
                std::array<uint64_t, 64>& bits) {
  for (const auto& kv : o) {
    uint64_t h = root ? kFnvBasis : FnvAppend(prefix, ".");
    h = FnvAppend(h, std::string_view(kv.key().data(), kv.key().size()));
    const uint64_t i = PresenceIndex(h);
    bits[i >> 6] |= uint64_t{1} << (i & 63);
    // Records are depth-bounded by their parsers; the bound here only keeps a hand-made record
    // from recursing without end (a deeper path is then simply reported as possibly present).
    if (const auto* child = kv.value().if_object(); child != nullptr) {
      if (depth < 32) {
        NoteObject(*child, h, false, depth + 1, bits);
      } else {
        bits.fill(~uint64_t{0});
        return;
      }
    }
  }
}

// NoteObject on a pending tape: the same hashes for the same keys (a key of the tree is a key of
// the tape; the tape may have more — duplicates, members the finishing step erases — which only
// set bits that prove nothing). Object `obj`'s members; `root`: the document itself.
void NoteTapeObject(TapeSpan tape, size_t obj, uint64_t prefix, bool root, int depth,
                    std::array<uint64_t, 64>& bits) {
  for (size_t i = obj + 1; i < tape[obj].end; i = tape[i].end) {
    const TapeNode& m = tape[i];
    uint64_t h = root ? kFnvBasis : FnvAppend(prefix, ".");
    h = FnvAppend(h, m.key());
    const uint64_t x = PresenceIndex(h);
    bits[x >> 6] |= uint64_t{1} << (x & 63);
    if (m.kind == TapeKind::kObject) {
      if (depth < 32) {
        NoteTapeObject(tape, i, h, false, depth + 1, bits);
      } else {
        bits.fill(~uint64_t{0});
        return;
      }
    }
  }
}

}  // namespace

MatchContext::MatchContext(const FieldTable* table)
    : table_(table), values_(table != nullptr ? table->paths.size() : 0) {
  if (table == nullptr) return;
  plan_.resize(table->paths.size());
  for (size_t f = 0; f < table->paths.size(); ++f) {
    for (const auto& path : table->paths[f]) {
      PlannedPath p;
      p.path = path;
      p.presence = PresenceIndex(FnvAppend(kFnvBasis, path));
      for (int i = 0; i < kSharedCount; ++i) {
        if (path == kSharedPaths[i]) p.shared = i;
      }
      if (path.size() > kWinlogItemPrefix.size() && path.starts_with(kWinlogItemPrefix) &&
          path.find('.', kWinlogItemPrefix.size()) == std::string::npos) {
        p.item = true;
        p.item_hash = WinlogItemHash(std::string_view(path).substr(kWinlogItemPrefix.size()));
      }
      plan_[f].push_back(std::move(p));
    }
  }
}

const FieldRef& MatchContext::Shared(int i) {
  const uint32_t bit = uint32_t{1} << i;
  if ((shared_done_ & bit) == 0) {
    shared_done_ |= bit;
    // The dataset through the view's memo: socd's Detect loop asked it of the view already.
    shared_[i] = i == kSharedDataset ? view_->Dataset() : view_->Find(kSharedPaths[i]);
  }
  return shared_[i];
}

FieldRef MatchContext::Lookup(const PlannedPath& p) {
  if (p.shared >= 0) return Shared(p.shared);
  if (p.item && view_->has_winlog_items()) {
    return view_->FindWinlogItem(std::string_view(p.path).substr(kWinlogItemPrefix.size()),
                                 p.item_hash);
  }
  return view_->Find(p.path);
}

void MatchContext::NotePresentPaths() {
  present_.fill(0);
  if (view_->on_tape()) {
    // The tape's keys, and the paths the finishing step sets (all of them: a superset).
    const TapeSpan tape = view_->tape();
    NoteTapeObject(tape, 0, kFnvBasis, true, 0, present_);
    for (std::string_view path : FieldView::kMetadataPaths) {
      const uint64_t i = PresenceIndex(FnvAppend(kFnvBasis, path));
      present_[i >> 6] |= uint64_t{1} << (i & 63);
    }
  } else {
    NoteObject(record_->fields(), kFnvBasis, true, 0, present_);
  }
  present_done_ = true;
}

void MatchContext::Reset(const Record& record) {
  own_view_.Reset(record);
  Reset(own_view_);
}

void MatchContext::Reset(FieldView& view) {
  view_ = &view;
  record_ = &view.record();
  if (++generation_ == 0) {  // wrapped: stamps of 0 must not look current
    for (auto& v : values_) v.generation = 0;
    message_.generation = raw_.generation = 0;
    generation_ = 1;
  }
  meta_done_ = false;
  event_id_done_ = false;
  process_name_done_ = false;
  present_done_ = false;
  shared_done_ = 0;
  lookups_ = 0;
}

void MatchContext::Fill(Value& v, const FieldRef& found) {
  v.ref = found;
  v.present = found.found();
  v.is_null = found.is_null();
  v.text = {};
  v.lower_ready = false;
  if (!v.present || v.is_null) return;
  switch (found.kind()) {
    case FieldKind::kString:
      v.text = found.str();
      break;
    case FieldKind::kInt64: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, found.i64());
      v.text_buf.assign(buf, r.ptr);
      v.text = v.text_buf;
      break;
    }
    case FieldKind::kUint64: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, found.u64());
      v.text_buf.assign(buf, r.ptr);
      v.text = v.text_buf;
      break;
    }
    case FieldKind::kDouble: {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, found.dbl());
      v.text_buf.assign(buf, r.ptr);
      v.text = v.text_buf;
      break;
    }
    case FieldKind::kBool:
      v.text = found.boolean() ? "true" : "false";
      break;
    default:  // arrays and objects: their JSON text (contains/regex still work)
      v.text_buf = found.Serialize();
      v.text = v.text_buf;
      break;
  }
}

const MatchContext::Value& MatchContext::Get(int field) {
  Value* v;
  if (field >= 0) {
    v = &values_[static_cast<size_t>(field)];
  } else if (field == kRawField) {
    v = &raw_;
  } else {
    v = &message_;
  }
  if (v->generation == generation_) return *v;
  v->generation = generation_;
  if (field >= 0) {
    FieldRef found;
    const auto& plan = plan_[static_cast<size_t>(field)];
    // The presence set costs a walk over the record; it pays once a record is asked for many
    // fields (a Windows event of the tree path: dozens, most absent). Not on a pending overlay:
    // its own root bits turn most absent paths away, its items' table answers
    // winlog.event_data.X in a probe, and hashing every path it sets cost more (sigma18: 7.8 k
    // instructions a Windows event) than the lookups it spared.
    if (!present_done_ && !view_->on_overlay() && ++lookups_ > kLookupsBeforePresence) {
      NotePresentPaths();
    }
    for (const PlannedPath& p : plan) {
      if (present_done_ && !MayHave(p.presence)) continue;
      found = Lookup(p);
      if (found.found()) break;
    }
    Fill(*v, found);
  } else if (field == kRawField) {
    v->present = true;
    v->is_null = false;
    v->ref = FieldRef();
    v->text = record_->raw;
    v->lower_ready = false;
  } else {
    Fill(*v, Shared(kSharedMessage));
  }
  return *v;
}

// The logsource metadata is looked up when first asked for: every record needs its dataset and
// channel (the engine's bucket keys), but only a record with a channel its event id, and only a
// rule naming process names the record's process name. Each lookup is a walk into a record that
// has usually gone cold since Normalize.
std::string_view MatchContext::dataset() {
  if (!meta_done_) {
    meta_done_ = true;
    dataset_ = {};
    channel_lower_.clear();
    if (const FieldRef& d = Shared(kSharedDataset); d.is_string()) dataset_ = d.str();
    if (const FieldRef& c = Shared(kSharedChannel); c.is_string()) {
      LowerInto(c.str(), &channel_lower_);
    }
  }
  return dataset_;
}

std::string_view MatchContext::channel_lower() {
  dataset();
  return channel_lower_;
}

int64_t MatchContext::event_id() {
  if (!event_id_done_) {
    event_id_done_ = true;
    event_id_ = -1;
    const FieldRef& e = Shared(kSharedEventId);
    if (e.kind() == FieldKind::kInt64) event_id_ = e.i64();
    if (e.kind() == FieldKind::kUint64) event_id_ = static_cast<int64_t>(e.u64());
  }
  return event_id_;
}

std::string_view MatchContext::process_name_lower() {
  if (!process_name_done_) {
    process_name_done_ = true;
    process_name_lower_.clear();
    if (const FieldRef& p = Shared(kSharedProcessName); p.is_string()) {
      LowerInto(p.str(), &process_name_lower_);
    }
  }
  return process_name_lower_;
}

bool MatchContext::Admits(const LogsourceMapping& logsource) {
  const std::string_view ds = dataset();
  for (const auto& alt : logsource.alts) {
    if (!alt.channel.empty()) {
      if (alt.channel != channel_lower_) continue;
      if (!alt.event_ids.empty() && std::find(alt.event_ids.begin(), alt.event_ids.end(),
                                              event_id()) == alt.event_ids.end()) {
        continue;
      }
    } else if (alt.dataset != ds) {
      continue;
    }
    if (!alt.process_names.empty() && std::find(alt.process_names.begin(), alt.process_names.end(),
                                                process_name_lower()) == alt.process_names.end()) {
      continue;
    }
    return true;
  }
  return false;
}

bool MatchContext::Matches(const CompiledRule& rule) { return Eval(rule, rule.root); }

bool MatchContext::Eval(const CompiledRule& rule, const Node& node) {
  switch (node.kind) {
    case Node::kSelection:
      return EvalSelection(rule.selections[static_cast<size_t>(node.selection)]);
    case Node::kAnd:
      for (const auto& k : node.kids) {
        if (!Eval(rule, k)) return false;
      }
      return true;
    case Node::kOr:
      for (const auto& k : node.kids) {
        if (Eval(rule, k)) return true;
      }
      return false;
    case Node::kNot:
      return !Eval(rule, node.kids.front());
  }
  return false;
}

bool MatchContext::EvalSelection(const Selection& sel) {
  for (const auto& group : sel.any_of) {
    bool all = true;
    for (const auto& test : group) {
      if (!EvalFieldTest(test)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

bool MatchContext::TestValue(int field, const ValueTest& vt) {
  if (field == kKeywordField) {
    const Value& msg = Get(kMessageField);
    if (msg.present && EvalValue(vt, msg)) return true;
    return EvalValue(vt, Get(kRawField));
  }
  return EvalValue(vt, Get(field));
}

bool MatchContext::EvalFieldTest(const FieldTest& test) {
  return EvalFieldValues(test) != test.negated;
}

bool MatchContext::EvalFieldValues(const FieldTest& test) {
  if (test.field == kKeywordField) {
    const Value& msg = Get(kMessageField);
    const Value* raw = nullptr;
    auto one = [&](const ValueTest& vt) {
      if (msg.present && EvalValue(vt, msg)) return true;
      if (raw == nullptr) raw = &Get(kRawField);
      return EvalValue(vt, *raw);
    };
    if (test.all) return std::all_of(test.values.begin(), test.values.end(), one);
    return std::any_of(test.values.begin(), test.values.end(), one);
  }
  const Value& v = Get(test.field);
  if (test.all) {
    for (const auto& vt : test.values) {
      if (!EvalValue(vt, v)) return false;
    }
    return !test.values.empty();
  }
  for (const auto& vt : test.values) {
    if (EvalValue(vt, v)) return true;
  }
  return false;
}

namespace {

// n ASCII digits at t[pos…] as a number; false when t is shorter or one is not a digit.
bool Digits(std::string_view t, size_t pos, size_t n, int* out) {
  if (pos > t.size() || t.size() - pos < n) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (t[i] < '0' || t[i] > '9') return false;
    v = v * 10 + (t[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// 1 (Monday) … 7 (Sunday), proleptic Gregorian; y ≥ 1.
int IsoWeekday(int y, int m, int d) {
  static constexpr int kMonthShift[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  const int yy = m < 3 ? y - 1 : y;
  const int sunday_based = (yy + yy / 4 - yy / 100 + yy / 400 + kMonthShift[m - 1] + d) % 7;
  return sunday_based == 0 ? 7 : sunday_based;
}

// 53 when the year's 1 January is a Thursday, or a Wednesday in a leap year; y ≥ 0.
int IsoWeeksInYear(int y) {
  auto p = [](int x) { return (x + x / 4 - x / 100 + x / 400) % 7; };
  return p(y) == 4 || (y > 0 && p(y - 1) == 3) ? 53 : 52;
}

// The ISO 8601 week (1–53) the date falls in; its week-based year may be the next or the last.
int IsoWeek(int y, int m, int d) {
  int ordinal = d;
  for (int i = 1; i < m; ++i) ordinal += DaysInMonth(y, i);
  const int week = (ordinal - IsoWeekday(y, m, d) + 10) / 7;
  if (week < 1) return IsoWeeksInYear(y - 1);
  if (week > IsoWeeksInYear(y)) return 1;
  return week;
}

bool ToDouble(const MatchContext::Value& v, double* out) {
  if (v.ref.is_number()) {
    *out = v.ref.to_double();
    return true;
  }
  std::string_view t = v.text;
  if (t.empty()) return false;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  return ec == std::errc() && p == t.data() + t.size();
}

}  // namespace

int DatePart(std::string_view t, TimePart part) {
  int y = 0, mo = 0, d = 0;
  if (!Digits(t, 0, 4, &y) || t.size() < 10 || t[4] != '-' || !Digits(t, 5, 2, &mo) ||
      t[7] != '-' || !Digits(t, 8, 2, &d)) {
    return -1;
  }
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return -1;
  int h = -1, mi = -1;
  size_t pos = 10;
  if (pos < t.size()) {
    if (t[pos] != 'T' && t[pos] != 't' && t[pos] != ' ') return -1;
    if (!Digits(t, pos + 1, 2, &h) || !Digits(t, pos + 4, 2, &mi) || t[pos + 3] != ':' || h > 23 ||
        mi > 59) {
      return -1;
    }
    pos += 6;
    if (pos < t.size() && t[pos] == ':') {
      int sec = 0;
      if (!Digits(t, pos + 1, 2, &sec) || sec > 60) return -1;  // 60: a leap second
      pos += 3;
      if (pos < t.size() && (t[pos] == '.' || t[pos] == ',')) {
        size_t n = 0;
        while (pos + 1 + n < t.size() && t[pos + 1 + n] >= '0' && t[pos + 1 + n] <= '9') ++n;
        if (n == 0 || n > 9) return -1;
        pos += 1 + n;
      }
    }
    if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
      ++pos;
    } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
      int oh = 0, om = 0;
      if (!Digits(t, pos + 1, 2, &oh) || oh > 23) return -1;
      pos += 3;
      if (pos < t.size()) {
        if (t[pos] == ':') ++pos;
        if (!Digits(t, pos, 2, &om) || om > 59) return -1;
        pos += 2;
      }
    }
    if (pos != t.size()) return -1;
  }
  switch (part) {
    case TimePart::kMinute:
      return mi;
    case TimePart::kHour:
      return h;
    case TimePart::kDay:
      return d;
    case TimePart::kWeek:
      return IsoWeek(y, mo, d);
    case TimePart::kMonth:
      return mo;
    case TimePart::kYear:
      return y;
  }
  return -1;
}

bool MatchContext::EvalValue(const ValueTest& vt, const Value& v) {
  switch (vt.op) {
    case Op::kExists:
      return v.present && !v.is_null;
    case Op::kNotExists:
      return !v.present || v.is_null;
    case Op::kNull:
      return !v.present || v.is_null || v.text.empty();
    default:
      break;
  }
  if (!v.present || v.is_null) return false;
  const std::string_view s = vt.cased ? v.text : v.lower();
  switch (vt.op) {
    case Op::kEquals:
      return s == vt.lit;
    case Op::kContains:
      return s.find(vt.lit) != std::string_view::npos;
    case Op::kStartsWith:
      return s.starts_with(vt.lit);
    case Op::kEndsWith:
      return s.ends_with(vt.lit);
    case Op::kGlob:
      return GlobMatch(s, vt.lit, vt.mask);
    case Op::kRegex:
      return RE2::PartialMatch(v.text, *vt.re);
    case Op::kCidr:
      return IpInCidr(v.text, vt);
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte: {
      double d;
      if (!ToDouble(v, &d)) return false;
      if (vt.op == Op::kGt) return d > vt.number;
      if (vt.op == Op::kGte) return d >= vt.number;
      if (vt.op == Op::kLt) return d < vt.number;
      return d <= vt.number;
    }
    case Op::kFieldRef: {
      // Copy the view first: Get() for another field never moves this one (values_ is sized
      // once), but be explicit that both views stay valid.
      const std::string_view mine = s;
      const Value& other = Get(vt.ref_field);
      if (!other.present || other.is_null) return false;
      const std::string_view ref = vt.cased ? other.text : other.lower();
      switch (vt.ref_op) {
        case Op::kContains:
          return mine.find(ref) != std::string_view::npos;
        case Op::kStartsWith:
          return mine.starts_with(ref);
        case Op::kEndsWith:
          return mine.ends_with(ref);
        default:
          return mine == ref;
      }
    }
    case Op::kTimePart: {
      const int got = DatePart(v.text, vt.time_part);
      if (got < 0) return false;  // not a date
      const int want = static_cast<int>(vt.number);
      switch (vt.time_cmp) {
        case Op::kGt:
          return got > want;
        case Op::kGte:
          return got >= want;
        case Op::kLt:
          return got < want;
        case Op::kLte:
          return got <= want;
        default:
          return got == want;
      }
    }
    default:
      return false;
  }
}

}  // namespace seccloud::soc::sigma_internal

namespace seccloud::soc {

bool RuleMatches(const RuleSet& set, const SigmaRule& rule, const Record& record) {
  if (rule.compiled == nullptr) return false;
  sigma_internal::MatchContext ctx(set.fields.get());
  ctx.Reset(record);
  return ctx.Admits(rule.compiled->logsource) && ctx.Matches(*rule.compiled);
}

}  // namespace seccloud::soc
