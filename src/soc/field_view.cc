// FieldView (field_view.h): FindField's answers on a pending tape plus the metadata Normalize's
// finishing step (parse.cc, internal::FinishFields) would set.
#include "soc/field_view.h"

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <chrono>
#include <cstring>

#include "core/event.h"
#include "core/ip.h"
#include "core/text.h"
#include "soc/parse_internal.h"

namespace seccloud::soc {
namespace {

constexpr std::string_view kNone;

// The text before the first '.' (all of `s` without one).
std::string_view FirstSegment(std::string_view s) { return s.substr(0, s.find('.')); }

// The root segments the finishing step erases or sets paths under (TapeViewExact), then the
// address roots, whose ".ip" it may rewrite (checked when asked: FieldView::AddressState), in the
// order of FieldView's address slots.
constexpr std::string_view kRoots[] = {"@timestamp",  "event",  "seccloud", "tenant", "source",
                                       "destination", "client", "server",   "host",   "related"};
constexpr int kMetadataRoots = 4;
constexpr int kRootCount = static_cast<int>(std::size(kRoots));
constexpr int kFirstAddressRoot = 4;
constexpr std::string_view kAddressPaths[] = {"source.ip", "destination.ip", "client.ip",
                                              "server.ip", "host.ip",        "related.ip"};

// kRoots' index of `segment`, or -1. Asked at every lookup of a pending tape that is not indexed:
// the length and at most two bytes pick the one root it can be, then one compare decides.
int RootIndex(std::string_view segment) {
  int r;
  switch (segment.size()) {
    case 4:
      r = 8;  // host
      break;
    case 5:
      r = 1;  // event
      break;
    case 6:
      switch (segment[0]) {
        case 't':
          r = 3;  // tenant
          break;
        case 's':
          r = segment[1] == 'o' ? 4 : 7;  // source, server
          break;
        case 'c':
          r = 6;  // client
          break;
        default:
          return -1;
      }
      break;
    case 7:
      r = 9;  // related
      break;
    case 8:
      r = 2;  // seccloud
      break;
    case 10:
      r = 0;  // @timestamp
      break;
    case 11:
      r = 5;  // destination
      break;
    default:
      return -1;
  }
  return kRoots[r] == segment ? r : -1;
}

// ---- Root index (FieldView::BuildIndex) ----

// The index hashes with a per-process seed: a line's keys cannot be chosen to fall into one run
// of slots (the table's slot is the hash's top bits).
uint64_t NewSeed() {
  uint64_t x = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
               static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&NewSeed));
  x += 0x9e3779b97f4a7c15u;  // splitmix64's finaliser
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}
const uint64_t kSeed = NewSeed();

// FNV-1a from the seed over `s`'s first segment (the bytes before its first '.'), whose length
// goes to *len. Never 0 (an empty slot's mark).
inline uint64_t SegmentHash(std::string_view s, size_t* len) {
  uint64_t h = kSeed;
  size_t i = 0;
  for (; i < s.size() && s[i] != '.'; ++i) {
    h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3u;
  }
  *len = i;
  return h | 1;
}

// kRoots' hashes, for every index this process builds.
const std::array<uint64_t, kRootCount> kRootHashes = [] {
  std::array<uint64_t, kRootCount> h{};
  for (int r = 0; r < kRootCount; ++r) {
    size_t len = 0;
    h[static_cast<size_t>(r)] = SegmentHash(kRoots[r], &len);
  }
  return h;
}();

// Slots of FieldView::slot_.
constexpr int kTimestamp = 0, kIngested = 1, kSource = 2, kPeer = 3, kTenant = 4, kAddress = 5;

// Whether `key` is `segment` followed by '.' (a dotted key starting with that segment).
bool DottedUnder(std::string_view key, std::string_view segment) {
  return key.size() > segment.size() && key[segment.size()] == '.' &&
         std::memcmp(key.data(), segment.data(), segment.size()) == 0;
}

// Whether any member of object node `obj` has a dotted key whose first segment is one of `names`.
template <size_t N>
bool HasDottedKeyIn(TapeSpan tape, size_t obj, const std::string_view (&names)[N]) {
  for (size_t i = obj + 1; i < tape[obj].end; i = tape[i].end) {
    const std::string_view k = tape[i].key();
    for (std::string_view n : names) {
      if (DottedUnder(k, n)) return true;
    }
  }
  return false;
}

// The text PutIp sets for `text` (parse_util.cc) in *out, or false when it sets nothing.
bool PutIpText(std::string_view text, std::string* out) {
  std::string buf;
  std::string_view ip;
  if (!internal::IpText(text, &buf, &ip)) return false;
  out->assign(ip);
  return true;
}

// PutString's text: `s` as it is when valid UTF-8, else sanitised.
void PutStringText(std::string_view s, std::string* out) {
  if (internal::IsAscii(s) || IsValidUtf8(s)) {
    out->assign(s);
  } else {
    *out = SanitizeUtf8(s);
  }
}

// boost::json::serialize's text of a tape node, written straight from the tape: what Sigma's Fill
// asks of an array or object (a DNS event's dns.answers: 7,794 records of the bench set), without
// building the value first (TapeToValue, then serialize: ~2,900 instructions an answer list).
// False when the text could differ from boost's: a double (boost's own shortest form), an object
// with a duplicate key (the value keeps the first one's place and the last one's value) or more
// than kMaxSerializeMembers members (the duplicate check is quadratic), a nesting deeper than
// kMaxParsedJsonDepth; the caller then serialises the value.
constexpr uint32_t kMaxSerializeMembers = 16;

// A string as boost::json::serialize writes it (serializer.ipp): '"' and '\\' escaped, control
// bytes as \b \t \n \f \r or \u00xx (lower-case hex), every other byte as it is.
void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t plain = 0;  // start of the bytes not yet appended
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + plain, i - plain);
    plain = i + 1;
    out->push_back('\\');
    switch (c) {
      case '"':
      case '\\':
        out->push_back(static_cast<char>(c));
        break;
      case '\b':
        out->push_back('b');
        break;
      case '\t':
        out->push_back('t');
        break;
      case '\n':
        out->push_back('n');
        break;
      case '\f':
        out->push_back('f');
        break;
      case '\r':
        out->push_back('r');
        break;
      default:
        out->append("u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
        break;
    }
  }
  out->append(s.data() + plain, s.size() - plain);
  out->push_back('"');
}

bool AppendTapeJson(TapeSpan tape, size_t index, int depth, std::string* out) {
  const TapeNode& n = tape[index];
  switch (n.kind) {
    case TapeKind::kObject: {
      if (depth >= kMaxParsedJsonDepth || n.count > kMaxSerializeMembers) return false;
      out->push_back('{');
      for (size_t i = index + 1; i < n.end; i = tape[i].end) {
        const std::string_view key = tape[i].key();
        for (size_t j = index + 1; j < i; j = tape[j].end) {
          if (tape[j].key() == key) return false;
        }
        if (i != index + 1) out->push_back(',');
        AppendJsonString(key, out);
        out->push_back(':');
        if (!AppendTapeJson(tape, i, depth + 1, out)) return false;
      }
      out->push_back('}');
      return true;
    }
    case TapeKind::kArray:
      if (depth >= kMaxParsedJsonDepth) return false;
      out->push_back('[');
      for (size_t i = index + 1; i < n.end; i = tape[i].end) {
        if (i != index + 1) out->push_back(',');
        if (!AppendTapeJson(tape, i, depth + 1, out)) return false;
      }
      out->push_back(']');
      return true;
    case TapeKind::kString:
      AppendJsonString(n.str(), out);
      return true;
    case TapeKind::kInt64:
    case TapeKind::kUint64: {
      char buf[24];
      const auto r = n.kind == TapeKind::kInt64 ? std::to_chars(buf, buf + sizeof buf, n.i64)
                                                : std::to_chars(buf, buf + sizeof buf, n.u64);
      out->append(buf, r.ptr);
      return true;
    }
    case TapeKind::kBool:
      out->append(n.boolean ? "true" : "false");
      return true;
    case TapeKind::kNull:
      out->append("null");
      return true;
    case TapeKind::kDouble:
      return false;
  }
  return false;
}

}  // namespace

bool TapeViewExact(TapeSpan tape) {
  if (tape.empty() || tape[0].kind != TapeKind::kObject) return false;
  uint32_t seen = 0;
  for (size_t i = 1; i < tape[0].end; i = tape[i].end) {
    const TapeNode& m = tape[i];
    const std::string_view k = m.key();
    // Once per root key of every kept line: the first byte turns most keys away, and picks the
    // one metadata root the key can spell (their first bytes differ), then one compare decides.
    if (k.empty()) continue;
    int root;
    switch (k[0]) {
      case '@':
        root = 0;
        break;
      case 'e':
        root = 1;
        break;
      case 's':
        root = 2;
        break;
      case 't':
        root = 3;
        break;
      default:
        continue;
    }
    static_assert(kMetadataRoots == 4 && kRoots[0][0] == '@' && kRoots[1][0] == 'e' &&
                  kRoots[2][0] == 's' && kRoots[3][0] == 't');
    const std::string_view name = kRoots[root];
    if (k.size() < name.size() || (k.size() > name.size() && k[name.size()] != '.') ||
        std::memcmp(k.data(), name.data(), name.size()) != 0) {
      continue;  // neither the root nor a dotted key under it
    }
    // "event.dataset": …, "tenant.id": …: the step erases and sets such spellings.
    if (k.size() != kRoots[root].size()) return false;
    if ((seen >> root & 1) != 0) return false;
    seen |= uint32_t{1} << root;
    if (root == 0) continue;  // @timestamp: erased whatever it holds
    // event, seccloud, tenant: PathParent would replace a non-object by an empty one.
    if (m.kind != TapeKind::kObject) return false;
    if (root == 1) {
      static constexpr std::string_view kEvent[] = {"dataset", "ingested"};
      if (HasDottedKeyIn(tape, i, kEvent)) return false;
    } else if (root == 3) {
      static constexpr std::string_view kTenant[] = {"id"};
      if (HasDottedKeyIn(tape, i, kTenant)) return false;
    } else {
      static constexpr std::string_view kSeccloud[] = {"soc"};
      if (HasDottedKeyIn(tape, i, kSeccloud)) return false;
      bool soc_seen = false;
      for (size_t j = i + 1; j < m.end; j = tape[j].end) {
        if (tape[j].key() != "soc") continue;
        if (soc_seen || tape[j].kind != TapeKind::kObject) return false;
        soc_seen = true;
        static constexpr std::string_view kSoc[] = {"source", "format", "peer", "parse_error"};
        if (HasDottedKeyIn(tape, j, kSoc)) return false;
      }
    }
  }
  return true;
}

// ---- FieldRef ----

FieldRef FieldRef::Tree(const boost::json::value* v) {
  FieldRef r;
  if (v == nullptr) return r;
  r.tree_ = v;
  switch (v->kind()) {
    case boost::json::kind::object:
      r.kind_ = FieldKind::kObject;
      break;
    case boost::json::kind::array:
      r.kind_ = FieldKind::kArray;
      break;
    case boost::json::kind::string:
      r.kind_ = FieldKind::kString;
      r.str_ = std::string_view(v->get_string().data(), v->get_string().size());
      break;
    case boost::json::kind::int64:
      r.kind_ = FieldKind::kInt64;
      r.i64_ = v->get_int64();
      break;
    case boost::json::kind::uint64:
      r.kind_ = FieldKind::kUint64;
      r.u64_ = v->get_uint64();
      break;
    case boost::json::kind::double_:
      r.kind_ = FieldKind::kDouble;
      r.dbl_ = v->get_double();
      break;
    case boost::json::kind::bool_:
      r.kind_ = FieldKind::kBool;
      r.bool_ = v->get_bool();
      break;
    case boost::json::kind::null:
      r.kind_ = FieldKind::kNull;
      break;
  }
  return r;
}

FieldRef FieldRef::Tape(TapeSpan tape, const TapeNode* n) {
  FieldRef r;
  if (n == nullptr) return r;
  r.tape_ = tape;
  r.index_ = static_cast<uint32_t>(tape.IndexOf(n));
  switch (n->kind) {
    case TapeKind::kObject:
      r.kind_ = FieldKind::kObject;
      break;
    case TapeKind::kArray:
      r.kind_ = FieldKind::kArray;
      break;
    case TapeKind::kString:
      r.kind_ = FieldKind::kString;
      r.str_ = n->str();
      break;
    case TapeKind::kInt64:
      r.kind_ = FieldKind::kInt64;
      r.i64_ = n->i64;
      break;
    case TapeKind::kUint64:
      r.kind_ = FieldKind::kUint64;
      r.u64_ = n->u64;
      break;
    case TapeKind::kDouble:
      r.kind_ = FieldKind::kDouble;
      r.dbl_ = n->dbl;
      break;
    case TapeKind::kBool:
      r.kind_ = FieldKind::kBool;
      r.bool_ = n->boolean;
      break;
    case TapeKind::kNull:
      r.kind_ = FieldKind::kNull;
      break;
  }
  return r;
}

FieldRef FieldRef::Text(std::string_view s) {
  FieldRef r;
  r.kind_ = FieldKind::kString;
  r.str_ = s;
  return r;
}

double FieldRef::to_double() const {
  switch (kind_) {
    case FieldKind::kInt64:
      return static_cast<double>(i64_);
    case FieldKind::kUint64:
      return static_cast<double>(u64_);
    case FieldKind::kDouble:
      return dbl_;
    default:
      return 0;
  }
}

FieldRef FieldRef::Int(int64_t n) {
  FieldRef r;
  r.kind_ = FieldKind::kInt64;
  r.i64_ = n;
  return r;
}

FieldRef FieldRef::Bool(bool b) {
  FieldRef r;
  r.kind_ = FieldKind::kBool;
  r.bool_ = b;
  return r;
}

FieldRef FieldRef::OneTextArray(std::string_view s) {
  FieldRef r;
  r.kind_ = FieldKind::kArray;
  r.str_ = s;
  return r;
}

std::string FieldRef::Serialize() const {
  if (tree_ != nullptr) return boost::json::serialize(*tree_);
  if (kind_ == FieldKind::kNone) return {};
  if (tape_.nodes != nullptr) {
    std::string out;
    if (AppendTapeJson(tape_, index_, 0, &out)) return out;
    return boost::json::serialize(TapeToValue(tape_, index_, {}));
  }
  if (kind_ == FieldKind::kInt64) return boost::json::serialize(boost::json::value(i64_));
  if (kind_ == FieldKind::kBool) return bool_ ? "true" : "false";
  if (kind_ == FieldKind::kArray) {
    boost::json::array a;
    a.emplace_back(boost::json::string_view(str_.data(), str_.size()));
    return boost::json::serialize(a);
  }
  return boost::json::serialize(
      boost::json::value(boost::json::string_view(str_.data(), str_.size())));
}

// ---- FieldView ----

void FieldView::Reset(const Record& r) {
  record_ = &r;
  const PendingFields* p = r.pending_fields();
  pending_ = p != nullptr && p->view_exact ? p : nullptr;
  overlay_ = p != nullptr && p->overlay != nullptr ? p : nullptr;
  built_ = 0;
  absent_ = 0;
  indexed_ = false;
  byte_grouped_ = false;
  dataset_done_ = false;
  lookups_ = 0;
}

namespace {

// Prefetches the cache lines of [p, p + bytes), at most kMaxLines of them (a hint: nothing read).
void PrefetchBytes(const void* p, size_t bytes) {
  constexpr size_t kLine = 64, kMaxLines = 24;
  const auto* c = static_cast<const char*>(p);
  const size_t lines = std::min((bytes + kLine - 1) / kLine, kMaxLines);
  for (size_t k = 0; k < lines; ++k) {
    __builtin_prefetch(c + k * kLine);
    // GCC 12 at -O2 deletes a loop whose trip count is loaded and whose body is only prefetches
    // (review of view20: 7 prefetches were left of Prefetch, none of the loops'); the empty asm
    // taking the address keeps each iteration.
    asm volatile("" : : "r"(c + k * kLine));
  }
}

}  // namespace

void FieldView::Prefetch(std::span<const Record> batch, size_t i) {
  if (i + 2 < batch.size()) {
    // The PendingFields and what the arena put right after them (the tape's or the overlay's
    // first entries: record.cc's KeepTape and KeepOverlay allocate them next).
    if (const PendingFields* p = batch[i + 2].pending_fields(); p != nullptr) {
      PrefetchBytes(p, sizeof(PendingFields) + 128);
    }
  }
  if (i + 1 >= batch.size()) return;
  const PendingFields* p = batch[i + 1].pending_fields();
  if (p == nullptr) return;
  if (p->overlay != nullptr) {
    PrefetchBytes(p->overlay, p->overlay_size * sizeof(OverlayEntry));
    __builtin_prefetch(p->overlay_heads);
    if (p->winlog_items != nullptr) {
      PrefetchBytes(p->winlog_items, (size_t{p->winlog_items_mask} + 1) * sizeof(uint16_t));
    }
    return;
  }
  // A tape: the root's members (Find's GroupByFirstByte walks them and their keys' first bytes,
  // in the line's copy) and the dataset the first lookup answers.
  PrefetchBytes(p->tape.nodes, p->tape.n * sizeof(TapeNode));
  PrefetchBytes(p->line, p->line_size);
  __builtin_prefetch(p->dataset.data());
}

void FieldView::Index() {
  if (pending_ != nullptr && !indexed_) BuildIndex();
}

void FieldView::BuildIndex() {
  static_assert(std::size(decltype(root_slot_){}) == std::size(kRoots));
  indexed_ = true;
  const TapeSpan tape = pending_->tape;  // view_exact: tape[0] is the root object
  const TapeNode& root = tape[0];
  // Twice the segments at most (members and kRoots), a power of two: at most half full.
  const size_t want = (size_t{root.count} + kRootCount) * 2;
  size_t cap = 32;
  int bits = 5;
  while (cap < want) {
    cap <<= 1;
    ++bits;
  }
  if (slots_.size() < cap) slots_.resize(cap);
  slot_mask_ = static_cast<uint32_t>(cap - 1);
  slot_shift_ = 64 - bits;
  if (members_.size() < root.count) members_.resize(root.count);
  // The slot of a segment in `table`, added when new.
  auto slot_of = [&](std::vector<Slot>& table, const char* seg, size_t len, uint64_t h) -> Slot& {
    for (size_t i = h >> slot_shift_;; i = (i + 1) & slot_mask_) {
      Slot& s = table[i];
      if (s.hash == 0) {
        s = Slot{h, seg, static_cast<uint32_t>(len), kNoMember, kNoMember, 0, -1};
        return s;
      }
      if (s.hash == h && s.seg_len == len && std::memcmp(s.seg, seg, len) == 0) return s;
    }
  };
  // An empty table holding kRoots' slots depends only on its size: made once per size in a row
  // (records of one source mostly need one), then copied — not cleared and filled per record.
  if (blank_cap_ != cap) {
    blank_.assign(cap, Slot{});
    for (int r = 0; r < kRootCount; ++r) {
      Slot& s = slot_of(blank_, kRoots[r].data(), kRoots[r].size(), kRootHashes[r]);
      s.root = r;
      blank_root_slot_[r] = static_cast<uint32_t>(&s - blank_.data());
    }
    blank_cap_ = cap;
  }
  std::copy_n(blank_.begin(), cap, slots_.begin());
  std::copy_n(blank_root_slot_, kRootCount, root_slot_);
  uint32_t m = 0;
  for (size_t i = 1; i < root.end && m < members_.size(); i = tape[i].end, ++m) {
    const TapeNode& n = tape[i];
    const std::string_view key = n.key();
    size_t len = 0;
    const uint64_t h = SegmentHash(key, &len);
    Slot& s = slot_of(slots_, key.data(), len, h);
    members_[m] = {static_cast<uint32_t>(i), kNoMember};
    if (s.head == kNoMember) {
      s.head = m;
    } else {
      members_[s.tail].next = m;
    }
    s.tail = m;
    s.weight += len == key.size() && n.kind == TapeKind::kObject ? 1 : 2;
  }
}

const FieldView::Slot* FieldView::Probe(std::string_view segment, uint64_t h) const {
  for (size_t i = h >> slot_shift_;; i = (i + 1) & slot_mask_) {
    const Slot& s = slots_[i];
    if (s.hash == 0) return nullptr;
    if (s.hash == h && s.seg_len == segment.size() &&
        std::memcmp(s.seg, segment.data(), segment.size()) == 0) {
      return &s;
    }
  }
}

void FieldView::GroupByFirstByte() {
  byte_grouped_ = true;
  const TapeSpan tape = pending_->tape;  // view_exact: tape[0] is the root object
  const TapeNode& root = tape[0];
  if (byte_members_.size() < root.count) byte_members_.resize(root.count);
  std::fill_n(byte_head_, kByteGroups, kNoMember);
  uint32_t m = 0;
  for (size_t i = 1; i < root.end && m < byte_members_.size(); i = tape[i].end) {
    const TapeNode& n = tape[i];
    if (n.key_size == 0) continue;  // a key FindInObject never takes
    const uint32_t g = static_cast<unsigned char>(n.key_data[0]) & (kByteGroups - 1);
    byte_members_[m] = {static_cast<uint32_t>(i), kNoMember};
    if (byte_head_[g] == kNoMember) {
      byte_head_[g] = m;
    } else {
      byte_members_[byte_tail_[g]].next = m;
    }
    byte_tail_[g] = m++;
  }
}

const TapeNode* FieldView::FindInGroup(const Slot* slot, std::string_view path) const {
  return FindAmong(slot->head, members_, path);
}

// FindInObject's choice (field_tape.cc) among a group's members, which hold (at least) all of the
// root's members a key of the path can be, in tape order — each is checked against the path as
// FindInObject checks it, so a group may hold others too; then FindInTape below the member chosen.
const TapeNode* FieldView::FindAmong(uint32_t head, const std::vector<Member>& members,
                                     std::string_view path) const {
  const TapeSpan tape = pending_->tape;
  const TapeNode* best = nullptr;
  size_t best_len = 0;
  bool shadowed = false;  // the best key's latest duplicate is not usable
  for (uint32_t m = head; m != kNoMember; m = members[m].next) {
    const TapeNode& n = tape[members[m].node];
    const size_t len = n.key_size;
    if (len == 0 || len < best_len || len > path.size() ||
        (len != path.size() && path[len] != '.') ||
        std::memcmp(n.key_data, path.data(), len) != 0) {
      continue;
    }
    const bool usable = len == path.size() || n.kind == TapeKind::kObject;
    if (len == best_len) {  // a duplicate of the best key: the later one counts
      shadowed = !usable;
      if (usable) best = &n;
    } else if (usable) {
      best = &n;
      best_len = len;
      shadowed = false;
    }
  }
  if (shadowed) {
    // Longest key first, one pass per length, each taking the key's last duplicate.
    best = nullptr;
    for (size_t len = path.size();;) {
      const std::string_view want = path.substr(0, len);
      const TapeNode* last = nullptr;
      for (uint32_t m = head; m != kNoMember; m = members[m].next) {
        if (tape[members[m].node].key() == want) last = &tape[members[m].node];
      }
      if (last != nullptr && (len == path.size() || last->kind == TapeKind::kObject)) {
        best = last;
        best_len = len;
        break;
      }
      const size_t dot = path.rfind('.', len - 1);
      if (dot == std::string_view::npos || dot == 0) break;
      len = dot;
    }
  }
  if (best == nullptr || best_len == path.size()) return best;
  return FindInTapeObject(tape, tape.IndexOf(best), path.substr(best_len + 1));
}

TapeSpan FieldView::tape() const { return pending_ != nullptr ? pending_->tape : TapeSpan(); }

FieldRef FieldView::FromTree(std::string_view path) {
  // Builds a pending record's tree; the view then answers from it, as it is the record's now.
  pending_ = nullptr;
  overlay_ = nullptr;
  return FieldRef::Tree(FindField(record_->fields(), path));
}

FieldRef FieldView::Metadata(int slot) {
  const uint32_t bit = uint32_t{1} << slot;
  if ((built_ & bit) == 0) {
    built_ |= bit;
    const PendingFields& p = *pending_;
    std::string& s = slot_[slot];
    switch (slot) {
      case kTimestamp:
      case kIngested: {
        // PutTime's text.
        const int64_t ms = slot == kTimestamp ? p.time_ms : p.received_ms;
        char buf[24];
        const size_t n = internal::FormatTimeChars(ms, buf);
        if (n != 0) {
          s.assign(buf, n);
        } else {
          s = FormatTimeMs(ms);
        }
        break;
      }
      case kSource:
        PutStringText(p.source, &s);  // PutSourceAndFormat with sanitize
        break;
      case kPeer:
        if (p.peer.empty()) {
          absent_ |= bit;
        } else if (!PutIpText(p.peer, &s)) {
          PutStringText(p.peer, &s);
        }
        break;
      case kTenant:
        if (p.tenant.empty()) {
          absent_ |= bit;
        } else {
          PutStringText(p.tenant, &s);
        }
        break;
      default:
        break;
    }
  }
  if ((absent_ & bit) != 0) return {};
  return FieldRef::Text(slot_[slot]);
}

int FieldView::AddressState(int root) {
  // FinishFields: a string with ':' that parses as an IPv6 address whose canonical text differs
  // is erased in every form and set again by PutIp (which may refuse it: then it is gone).
  const int a = root - kFirstAddressRoot;
  const int slot = kAddress + a;
  const uint32_t bit = uint32_t{1} << slot;
  if ((built_ & bit) != 0) return address_state_[a];
  built_ |= bit;
  int& state = address_state_[a];
  state = kAddressKept;
  address_node_[a] = nullptr;
  const TapeSpan tape = pending_->tape;
  const Slot* group = indexed_ ? &slots_[root_slot_[root]] : nullptr;
  const std::string_view path = kAddressPaths[a];
  const TapeNode* n;
  if (group != nullptr) {
    n = FindInGroup(group, path);
  } else {
    // FindInTape(tape, path) through the first byte's group, as Find's own walk (a walk over the
    // whole root here was ~340 instructions an address root, a third of intel's tape lookups).
    if (!byte_grouped_) GroupByFirstByte();
    n = FindAmong(byte_head_[static_cast<unsigned char>(path[0]) & (kByteGroups - 1)],
                  byte_members_, path);
  }
  address_node_[a] = n;
  if (n == nullptr || n->kind != TapeKind::kString) return state;
  const std::string_view text = n->str();
  if (text.find(':') == std::string_view::npos) return state;
  auto ip = IpAddress::Parse(text);
  if (!ip || ip->is_v4() || ip->Unmapped().ToString() == text) return state;
  // Rewritten. Certain only when the root has one member of the segment, the plain key, an
  // object: then the value was its member "ip" (no other spelling), and it alone is erased.
  const std::string_view segment = kRoots[root];
  uint32_t members = group != nullptr ? group->weight : 0;
  for (size_t i = 1; group == nullptr && i < tape[0].end; i = tape[i].end) {
    const std::string_view k = tape[i].key();
    if (k.size() < segment.size() || k.substr(0, segment.size()) != segment) continue;
    if (k.size() == segment.size() && tape[i].kind == TapeKind::kObject) {
      ++members;
    } else if (k.size() == segment.size() || k[segment.size()] == '.') {
      members += 2;
    }
  }
  if (members != 1) {
    state = kAddressTree;
  } else {
    state = PutIpText(text, &slot_[slot]) ? kAddressRewritten : kAddressErased;
  }
  return state;
}

// ---- The overlay (syslog, access logs, text) ----

uint64_t FieldView::overlay_roots() const { return overlay_->overlay_roots; }

// The tree is the entries' SetPath calls on an empty object, then SetField("tenant.id") when
// attribution gave a tenant after Normalize: the last related one decides (OverlayFind, here
// through the record's index: OverlayLookup). An object (a prefix of a set path) is the tree's:
// no ingest reader asks one.
FieldRef FieldView::FindOverlay(std::string_view path) {
  const PendingFields& p = *overlay_;
  // No entry (nor the tenant: its bit is always set, so that a SetTenantField after this view's
  // first lookup is seen) under the path's first segment: FindField finds nothing.
  const uint64_t bit = OverlayRootBit(path);
  if ((p.overlay_roots & bit) == 0) return {};
  if (!p.tenant.empty()) {
    constexpr std::string_view kTenant = "tenant.id";
    if (path == kTenant) return FieldRef::Text(p.tenant);
    if (path == "tenant") return FromTree(path);
    if (path.size() > kTenant.size() && path.starts_with(kTenant) && path[kTenant.size()] == '.') {
      return {};
    }
  }
  bool object = false;
  const int i = internal::OverlayLookup(p, path, bit, &object);
  if (object) return FromTree(path);
  if (i < 0) return {};
  return OverlayValue(p.overlay[i]);
}

FieldRef FieldView::OverlayValue(const OverlayEntry& e) {
  switch (e.kind) {
    case OverlayKind::kString:
      return FieldRef::Text(e.str);
    case OverlayKind::kInt:
      return FieldRef::Int(e.num);
    case OverlayKind::kCategory:
      return FieldRef::OneTextArray(e.str);
    case OverlayKind::kBool:
      return FieldRef::Bool(e.num != 0);
  }
  return {};
}

bool FieldView::has_winlog_items() const {
  return overlay_ != nullptr && overlay_->winlog_items != nullptr;
}

// FindOverlay's answer for "winlog.event_data.<name>": the items' bit is set whenever the table
// has an item (kept or superseded, as FindOverlay's first test sees it); the path is no tenant
// path; and OverlayLookup answers it from the table alone.
FieldRef FieldView::FindWinlogItem(std::string_view name, uint32_t hash) const {
  const PendingFields& p = *overlay_;
  static constexpr uint64_t kItemsBit = OverlayRootBit(kWinlogItemPrefix);
  if ((p.overlay_roots & kItemsBit) == 0) return {};
  const int i = internal::WinlogItemLookup(p, name, hash);
  if (i < 0) return {};
  return OverlayValue(p.overlay[i]);
}

FieldRef FieldView::Find(std::string_view path) {
  if (overlay_ != nullptr) return FindOverlay(path);
  if (pending_ == nullptr) return FieldRef::Tree(FindField(record_->fields(), path));
  if (path.empty()) return {};
  if (!indexed_ && ++lookups_ >= kLookupsBeforeIndex) BuildIndex();
  const PendingFields& p = *pending_;
  size_t seg_len = 0;
  const Slot* slot = nullptr;
  int root;
  if (indexed_) {
    const uint64_t h = SegmentHash(path, &seg_len);
    slot = Probe(path.substr(0, seg_len), h);
    // No root key has the segment, and the finishing step sets nothing under it.
    if (slot == nullptr) return {};
    root = slot->root;
  } else {
    seg_len = std::min(path.find('.'), path.size());
    root = RootIndex(path.substr(0, seg_len));
  }
  auto on_tape = [&] {
    if (slot != nullptr) return FieldRef::Tape(p.tape, FindInGroup(slot, path));
    // Not indexed (most records: Sigma asks ~3–12 paths): the members whose key starts with the
    // path's first byte, grouped at the record's first walk, instead of a walk over the root.
    if (!byte_grouped_) GroupByFirstByte();
    const uint32_t g = static_cast<unsigned char>(path[0]) & (kByteGroups - 1);
    return FieldRef::Tape(p.tape, FindAmong(byte_head_[g], byte_members_, path));
  };
  // Untouched by the finishing step (TapeViewExact: no root key spells a touched path).
  if (root < 0) return on_tape();
  const bool whole = seg_len == path.size();
  const std::string_view rest = whole ? kNone : path.substr(seg_len + 1);
  const std::string_view s1 = FirstSegment(rest);
  const bool last = s1.size() == rest.size();  // rest is one segment
  switch (root) {
    case 0:  // @timestamp: erased, then set to the record's time
      return whole ? Metadata(kTimestamp) : FieldRef();
    case 1:  // event: .dataset and .ingested erased and set
      if (whole) return FromTree(path);
      if (s1 == "dataset") {
        if (!last) return {};
        if (!p.dataset.empty()) return FieldRef::Text(p.dataset);
        return FieldRef::Text(p.format == Format::kSeccloudEvent ? "seccloud.event" : "json");
      }
      if (s1 == "ingested") return last ? Metadata(kIngested) : FieldRef();
      break;
    case 2:  // seccloud: .soc.{source,format,peer,parse_error} erased, the first three set
      if (whole) return FromTree(path);
      if (s1 == "soc") {
        if (last) return FromTree(path);
        const std::string_view rest2 = rest.substr(4);
        const std::string_view s2 = FirstSegment(rest2);
        const bool last2 = s2.size() == rest2.size();
        if (s2 == "source") return last2 ? Metadata(kSource) : FieldRef();
        if (s2 == "format") return last2 ? FieldRef::Text(FormatName(p.format)) : FieldRef();
        if (s2 == "peer") return last2 ? Metadata(kPeer) : FieldRef();
        if (s2 == "parse_error") return {};
      }
      break;
    case 3:  // tenant: .id erased (but a spool line's own when ingest found none) and set
      if (p.format == Format::kSeccloudEvent && p.tenant.empty()) break;
      if (whole) return FromTree(path);
      if (s1 == "id") return last ? Metadata(kTenant) : FieldRef();
      break;
    default:  // the address roots: .ip may be rewritten
      switch (AddressState(root)) {
        case kAddressKept:
          // The address path itself: AddressState's own FindInTape answer, not a second walk.
          if (rest == "ip") return FieldRef::Tape(p.tape, address_node_[root - kFirstAddressRoot]);
          break;
        case kAddressTree:
          return FromTree(path);
        default:
          if (whole) return FromTree(path);
          if (rest == "ip") {
            if (address_state_[root - kFirstAddressRoot] == kAddressErased) return {};
            return FieldRef::Text(slot_[kAddress + root - kFirstAddressRoot]);
          }
          break;
      }
      break;
  }
  return on_tape();
}

}  // namespace seccloud::soc
