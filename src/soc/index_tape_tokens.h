#pragma once
// The store's field index tokens of a record whose fields are still pending (record.h: Normalize
// kept the line's field tape instead of building the tree): the tokens index_tokens::ObjectTokens
// would give on the tree Record::fields() builds — TapeToValue, then internal::FinishFields —
// taken from the tape and FinishFields' arguments without building that tree (R18, issue 5;
// README.md "Flat field table — migration plan", step 2, the store's Prepare).
//
// What FinishFields does to a kept tape's tree (a seccloud event or a JSON line; never pruned,
// never sanitised: parse_internal.h, PendingFields), and what the walk makes of it:
// - Duplicate keys: the tree keeps the last one's value (in the first one's place). The walk
//   skips every member whose key occurs again later in its object.
// - EraseAllForms of the reserved paths (@timestamp, event.ingested, event.dataset,
//   seccloud.soc.{source,format,peer,parse_error}, and tenant.id unless a spool line came without
//   a tenant): the walk applies them itself (ErasePaths in MemberTokens, since prep18): a member
//   whose key is a reserved path is skipped, one whose key is a dotted prefix of one and whose
//   value is an object is descended into with the paths' rests — the same rule, in one pass.
// - Canonical addresses (source.ip … related.ip): the node FindField (and FindInTape) chooses,
//   found from the root's live members (the key "head.ip", else the object "head"'s last "ip";
//   the erasures above touch none of these paths); when FinishFields would rewrite it, its forms
//   are marked erased and the canonical text (PutIp's) is emitted as the tree's new leaf.
// - PathParent replaces a non-object in the way of a path it sets by an empty object: the root's
//   "event" and "seccloud" (always set), "seccloud"."soc", "tenant" (when the record has a
//   tenant) and an address path's first segment (when rewritten) are marked dropped when they
//   hold a non-object (a null holds no token either way).
// - The values set (event.dataset, seccloud.soc.source/format/peer, tenant.id; @timestamp and
//   event.ingested are unindexed) are emitted as ValueTokens emits them at their depth.
// The Bloom filter that takes these hashes is a set, checked for fullness between records
// (store_embedded.cc), so only the record's set of hashes matters; the walk gives the same
// multiset as the tree walk, in another order (index_tape_tokens_test.cc compares them).
//
// The walk answers false (nothing decided; the caller truncates what it emitted and walks the
// tree) for a format FinishFields treats otherwise, metadata strings that PutString would
// sanitise, an object of more than kMaxTapeWalkMembers members or more erased members than it
// tracks: each is decided by the record alone, and the tree walk is always right.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/ip.h"
#include "core/text.h"
#include "soc/field_tape.h"
#include "soc/field_view.h"  // OverlayRootBit
#include "soc/index_tokens.h"
#include "soc/parse_internal.h"  // PendingFields (read only)
#include "soc/record.h"

namespace seccloud::soc::index_tokens {

// PendingFields is read here member by member: a member added to it (an overlay of values set
// after Normalize, say) must be taken into account by this walk — the size check makes the
// build say so. (view_exact, added by the lookups' FieldView, is a flag about the tape's shape for
// lookups, not a value: the walk is right whatever it says; overlay_roots and overlay_heads are
// the overlay's index, read through OverlayLookup; so are winlog_items and winlog_items_mask,
// a Windows overlay's table of its items.)
static_assert(sizeof(void*) != 8 || sizeof(PendingFields) == 176,
              "PendingFields changed: PendingFieldTokens (index_tape_tokens.h) must follow it");

// Objects with more members than this are walked as a tree (the duplicate check is quadratic).
inline constexpr size_t kMaxTapeWalkMembers = 64;

namespace tape_walk {

// The live members of one tape object: its members' node indices and whether a later member
// has the same key (then the tree holds that one's value, not this one's).
struct Members {
  uint32_t at[kMaxTapeWalkMembers];
  bool shadowed[kMaxTapeWalkMembers];
  size_t n = 0;
};

// A key's size, first and last bytes in one word: equal keys have equal signatures.
inline uint64_t KeySignature(std::string_view k) {
  if (k.empty()) return 0;
  return (static_cast<uint64_t>(k.size()) << 16) |
         (uint64_t{static_cast<unsigned char>(k.front())} << 8) |
         static_cast<unsigned char>(k.back());
}

// False when the object has more than kMaxTapeWalkMembers members. A key seen before is found
// by a 256-bit filter of the keys' signatures, so the exact comparison runs only on a filter hit
// (most objects have none).
inline bool CollectMembers(TapeSpan t, size_t obj, Members* m) {
  const TapeNode& o = t[obj];
  if (o.count <= 1) {
    // No key to repeat (a third of a seccloud event's objects have one member).
    m->n = o.count;
    m->at[0] = static_cast<uint32_t>(obj + 1);
    m->shadowed[0] = false;
    return true;
  }
  if (o.count > kMaxTapeWalkMembers) return false;
  uint64_t sig[kMaxTapeWalkMembers];
  uint64_t seen[4] = {0, 0, 0, 0};
  size_t n = 0;
  for (size_t i = obj + 1; i < o.end; i = t[i].end) {
    const std::string_view key = t[i].key();
    const uint64_t g = KeySignature(key);
    const unsigned h = static_cast<unsigned>((g * 0x9E3779B97F4A7C15ULL) >> 56);
    if ((seen[h / 64] >> (h % 64) & 1) != 0) {
      // Every earlier member with this key is shadowed by this one.
      for (size_t a = 0; a < n; ++a) {
        if (sig[a] == g && t[m->at[a]].key() == key) m->shadowed[a] = true;
      }
    }
    seen[h / 64] |= uint64_t{1} << (h % 64);
    m->at[n] = static_cast<uint32_t>(i);
    m->shadowed[n] = false;
    sig[n] = g;
    ++n;
  }
  m->n = n;
  return true;
}

// Tape nodes the finished tree does not hold, few per record: the canonical address paths'
// replaced forms and what PathParent replaces (the reserved paths are skipped by ErasePaths as
// the walk meets them, not dropped here).
struct Drops {
  static constexpr size_t kMax = 48;
  uint32_t at[kMax];
  size_t n = 0;
  bool overflow = false;
  // Bit i % 64 set for every node i in at[]: most members are not dropped, and one test tells.
  uint64_t filter = 0;
  void Add(size_t i) {
    if (n < kMax) {
      at[n++] = static_cast<uint32_t>(i);
      filter |= uint64_t{1} << (i % 64);
    } else {
      overflow = true;
    }
  }
  bool Has(size_t i) const {
    if ((filter >> (i % 64) & 1) == 0) return false;
    for (size_t k = 0; k < n; ++k) {
      if (at[k] == i) return true;
    }
    return false;
  }
};

// internal::EraseAllForms(object, path) on the tree for each of paths[0, np) (at most
// kMaxErasePaths), as drops; m: the object's members. None of the paths FinishFields erases is a
// dotted prefix of another, so erasing them one after the other (as FinishFields does) or
// together erases the same members; together, each object on the way is collected once. False:
// too wide an object.
inline constexpr size_t kMaxErasePaths = 8;
inline bool EraseAllForms(TapeSpan t, const Members& m, const std::string_view* paths, size_t np,
                          Drops* d) {
  // Most keys begin with a byte no path begins with, or are longer than every path: the paths'
  // first bytes as a 256-bit set, and their longest size, decide those with one test each.
  // Byte q of `firsts` is path q's first byte: the paths a key's first byte may begin are found
  // as its zero bytes after an XOR (each candidate is checked in full below).
  uint64_t first[4] = {0, 0, 0, 0};
  uint64_t firsts = 0;
  size_t longest = 0;
  for (size_t q = 0; q < np; ++q) {
    if (paths[q].empty()) continue;
    const auto c = static_cast<unsigned char>(paths[q][0]);
    first[c / 64] |= uint64_t{1} << (c % 64);
    firsts |= uint64_t{c} << (8 * q);
    longest = std::max(longest, paths[q].size());
  }
  static_assert(kMaxErasePaths <= 8, "one byte of `firsts` per path");
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const uint64_t all_paths = np >= 8 ? kHighs : kHighs & ((uint64_t{1} << (8 * np)) - 1);
  std::string_view below[kMaxErasePaths];  // the paths below a member: below[0, nb)
  for (size_t j = 0; j < m.n; ++j) {
    if (m.shadowed[j]) continue;
    const size_t i = m.at[j];
    const std::string_view k = t[i].key();
    uint64_t maybe = all_paths;  // bit 8q + 7: path q may match
    if (!k.empty()) {
      const auto c = static_cast<unsigned char>(k[0]);
      if ((first[c / 64] >> (c % 64) & 1) == 0 || k.size() > longest) continue;
      const uint64_t x = firsts ^ (kOnes * c);
      // Every zero byte of x gets its high bit (a byte above a zero byte may too: checked).
      maybe &= (x - kOnes) & ~x & kHighs;
    }
    size_t nb = 0;
    for (; maybe != 0; maybe &= maybe - 1) {
      const size_t q = static_cast<size_t>(std::countr_zero(maybe)) / 8;
      const std::string_view path = paths[q];
      if (path.empty()) continue;
      if (k.size() > path.size() || (!k.empty() && k[0] != path[0])) continue;
      if (k.size() == path.size()) {
        if (k == path) d->Add(i);
      } else if (path[k.size()] == '.' && path.substr(0, k.size()) == k &&
                 t[i].kind == TapeKind::kObject) {
        below[nb++] = path.substr(k.size() + 1);
      }
    }
    if (nb != 0) {
      Members c;
      if (!CollectMembers(t, i, &c) || !EraseAllForms(t, c, below, nb, d)) return false;
    }
  }
  return true;
}

// EraseAllForms' paths as the walk itself applies them (PendingFieldTokens' reserved paths):
// instead of a pass that collects the members of the objects on the way and marks the erased
// ones, after which the walk collected the same objects again, MemberTokens asks each member of
// an object with paths (the root; below it, only objects a path goes through) what the paths make
// of it — erased (a path is its key), an object some paths go through (they continue below it),
// or neither — and skips, descends with the rest of the paths, or walks it as it would. The same
// members are left out: EraseAllForms' drops are live members of objects the walk reaches (it
// erases no shadowed member, and descends only into live objects, which the walk collects too),
// and one the walk skips as erased needs nothing below it. None of the paths is a dotted prefix
// of another, so a member is never both.
struct ErasePaths {
  // Up to kMaxErasePaths paths; no default initialisers: MemberTokens keeps one on its stack
  // per member it descends into with paths, set only then (Clear).
  const char* data[kMaxErasePaths];
  uint8_t size[kMaxErasePaths];
  // Bit s of shape[q]: path q is s bytes long or has a '.' at s.
  uint64_t shape[kMaxErasePaths];
  size_t n;
  // EraseAllForms' filter: the paths' first bytes as a 256-bit set and their longest size;
  // byte q of `firsts` is path q's first byte, and bit 8q + 7 of `all` is set for each path.
  uint64_t first[4];
  uint64_t firsts;
  uint64_t all;
  // Bit s: some path is s bytes long or has a '.' at s (a key of s bytes may be it or a dotted
  // prefix of it); the paths are shorter than 64 bytes.
  uint64_t sizes;
  constexpr void Clear() {
    n = 0;
    first[0] = first[1] = first[2] = first[3] = 0;
    firsts = all = sizes = 0;
  }
  // p: non-empty, shorter than 64 bytes, with its shape (above); n < kMaxErasePaths.
  constexpr void Add(std::string_view p, uint64_t p_shape) {
    const auto c = static_cast<unsigned char>(p[0]);
    first[c / 64] |= uint64_t{1} << (c % 64);
    firsts |= uint64_t{c} << (8 * n);
    all |= uint64_t{0x80} << (8 * n);
    sizes |= p_shape;
    data[n] = p.data();
    size[n] = static_cast<uint8_t>(p.size());
    shape[n] = p_shape;
    ++n;
  }
  static constexpr uint64_t ShapeOf(std::string_view p) {
    uint64_t bits = uint64_t{1} << p.size();
    for (size_t s = 1; s < p.size(); ++s) {
      if (p[s] == '.') bits |= uint64_t{1} << s;
    }
    return bits;
  }
  constexpr std::string_view path(size_t q) const { return {data[q], size[q]}; }
  // Whether a member with this key may be erased or hold paths: false for most keys, decided by
  // its first byte and its size (an empty key is no path's prefix either: none begins with '.').
  bool MayMatch(std::string_view k) const {
    if (k.empty() || k.size() >= 64) return false;
    const auto c = static_cast<unsigned char>(k[0]);
    return ((first[c / 64] >> (c % 64)) & (sizes >> k.size()) & 1) != 0;
  }
};

// Whether the n bytes at a and b are equal (n < 64: a key against a path), inline: without a
// call to memcmp per key.
inline bool SameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      uint64_t x, y;
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    uint64_t x, y;  // the last eight bytes (overlapping the words above when n % 8 != 0)
    std::memcpy(&x, a + n - 8, 8);
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}
static_assert(std::is_trivially_default_constructible_v<ErasePaths>);

enum class EraseMatch { kNone, kErased, kBelow };

// What the paths make of the live member with key k (EraseAllForms' tests, the same order):
// kErased when a path is k; kBelow when k is a dotted prefix of some paths and the member an
// object, with those paths' rest in *below; else kNone.
// k: a key MayMatch lets through (not empty).
inline EraseMatch MatchErase(const ErasePaths& e, std::string_view k, bool object,
                             ErasePaths* below) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const auto c = static_cast<unsigned char>(k[0]);
  const uint64_t x = e.firsts ^ (kOnes * c);
  // Bit 8q + 7: path q may begin with c. Every zero byte of x gets its high bit (a byte above a
  // zero byte may too: checked).
  uint64_t maybe = e.all & (x - kOnes) & ~x & kHighs;
  below->Clear();
  for (; maybe != 0; maybe &= maybe - 1) {
    const size_t q = static_cast<size_t>(std::countr_zero(maybe)) / 8;
    const std::string_view path = e.path(q);
    if (k.size() > path.size() || k[0] != path[0]) continue;
    if (k.size() == path.size()) {
      if (SameBytes(k.data(), path.data(), k.size())) return EraseMatch::kErased;
    } else if (path[k.size()] == '.' && object && SameBytes(k.data(), path.data(), k.size())) {
      // The rest after the '.': its sizes and dots are the path's, k.size() + 1 bytes on.
      below->Add(std::string_view(path.data() + k.size() + 1, path.size() - k.size() - 1),
                 e.shape[q] >> (k.size() + 1));
    }
  }
  return below->n != 0 ? EraseMatch::kBelow : EraseMatch::kNone;
}

// FinishFields' reserved paths (parse.cc), erased in every form: without and with tenant.id.
inline constexpr ErasePaths MakeReservedPaths(bool tenant) {
  ErasePaths e{};
  e.Clear();
  for (const std::string_view p :
       {std::string_view("@timestamp"), std::string_view("event.ingested"),
        std::string_view("event.dataset"), std::string_view("seccloud.soc.source"),
        std::string_view("seccloud.soc.format"), std::string_view("seccloud.soc.peer"),
        std::string_view("seccloud.soc.parse_error")}) {
    e.Add(p, ErasePaths::ShapeOf(p));
  }
  if (tenant) e.Add("tenant.id", ErasePaths::ShapeOf("tenant.id"));
  return e;
}
inline constexpr ErasePaths kReservedPaths = MakeReservedPaths(false);
inline constexpr ErasePaths kReservedPathsAndTenant = MakeReservedPaths(true);

// The live member of the object at obj with exactly this key (the last of its duplicates), or
// 0 (no member is node 0).
inline size_t LiveMember(TapeSpan t, size_t obj, std::string_view key) {
  size_t found = 0;
  for (size_t i = obj + 1; i < t[obj].end; i = t[i].end) {
    if (t[i].key() == key) found = i;
  }
  return found;
}

// PathParent's replacement of a non-object member `key` of the object at obj: the member's value
// is dropped (a null holds no token). Returns the member when it stays an object, else 0.
inline size_t ReplaceNonObject(TapeSpan t, size_t obj, std::string_view key, Drops* d) {
  const size_t i = LiveMember(t, obj, key);
  if (i == 0) return 0;
  if (t[i].kind == TapeKind::kObject) return i;
  if (t[i].kind != TapeKind::kNull) d->Add(i);
  return 0;
}

// The text PutIp sets for `text`, or nullopt when it sets nothing.
inline std::optional<std::string> PutIpText(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (size_t pct = text.find('%'); pct != std::string_view::npos) text = text.substr(0, pct);
  auto ip = IpAddress::Parse(text);
  if (!ip) return std::nullopt;
  if (ip->is_v4()) return std::string(text);
  return ip->Unmapped().ToString();
}

inline bool Utf8(std::string_view s) { return internal::IsAscii(s) || IsValidUtf8(s); }

template <typename Emit>
bool ObjectTokens(TapeSpan t, size_t obj, std::string_view parent, int depth, const Drops& d,
                  Emit& emit, const ErasePaths* erase = nullptr);

// ValueTokens on the tape's node i.
template <typename Emit>
bool ValueTokens(TapeSpan t, size_t i, bool text_field, int depth, const Drops& d, Emit& emit) {
  const TapeNode& v = t[i];
  switch (v.kind) {
    case TapeKind::kString:
      StringValueTokens(v.str(), text_field, emit);
      return true;
    case TapeKind::kInt64:
      Int64Tokens(v.i64, emit);
      return true;
    case TapeKind::kUint64:
      Uint64Tokens(v.u64, emit);
      return true;
    case TapeKind::kDouble:
      DoubleTokens(v.dbl, emit);
      return true;
    case TapeKind::kBool:
      BoolTokens(v.boolean, emit);
      return true;
    case TapeKind::kArray:
      for (size_t e = i + 1; e < v.end; e = t[e].end) {
        if (t[e].kind == TapeKind::kObject) {
          if (depth < 16 && !ObjectTokens(t, e, "", depth + 1, d, emit)) return false;
        } else if (t[e].kind != TapeKind::kArray) {
          ValueTokens(t, e, text_field, depth, d, emit);
        }
      }
      return true;
    case TapeKind::kObject:
    case TapeKind::kNull:
      return true;
  }
  return true;
}

// index_tokens::ObjectTokens on the tree's object whose members are m: the live ones, less the
// drops and the members `erase` (null: none) erases in every form (ErasePaths).
template <typename Emit>
bool MemberTokens(TapeSpan t, const Members& m, std::string_view parent, int depth, const Drops& d,
                  Emit& emit, const ErasePaths* erase = nullptr) {
  for (size_t j = 0; j < m.n; ++j) {
    if (m.shadowed[j]) continue;
    const size_t i = m.at[j];
    // Drops are members of objects at depth 0 to 2 (never inside arrays: array members have no
    // key there), so only those are looked up.
    if (depth <= 2 && d.n != 0 && d.Has(i)) continue;
    const std::string_view key = t[i].key();
    const ErasePaths* child_erase = nullptr;
    ErasePaths below;  // set by MatchErase
    if (erase != nullptr && erase->MayMatch(key)) [[unlikely]] {
      switch (MatchErase(*erase, key, t[i].kind == TapeKind::kObject, &below)) {
        case EraseMatch::kErased:
          continue;
        case EraseMatch::kBelow:
          child_erase = &below;
          break;
        case EraseMatch::kNone:
          break;
      }
    }
    bool text_field = false;
    if (IsUnindexedKey(key, parent, depth, &text_field)) continue;
    if (t[i].kind == TapeKind::kObject) {
      if (depth < 16 && !ObjectTokens(t, i, key, depth + 1, d, emit, child_erase)) return false;
      continue;
    }
    if (!ValueTokens(t, i, text_field, depth, d, emit)) return false;
  }
  return true;
}

// index_tokens::ObjectTokens on the tree's object at obj, less what `erase` erases.
template <typename Emit>
bool ObjectTokens(TapeSpan t, size_t obj, std::string_view parent, int depth, const Drops& d,
                  Emit& emit, const ErasePaths* erase) {
  Members m;
  if (!CollectMembers(t, obj, &m)) return false;
  return MemberTokens(t, m, parent, depth, d, emit, erase);
}

}  // namespace tape_walk

// ---- The overlay (syslog, access logs, text: PendingFields::overlay) ----

namespace overlay_walk {

// The tokens ObjectTokens gives a leaf of the tree at `path` (IsUnindexedKey's rules along the
// path): false when the leaf is not indexed, else *text_field as ObjectTokens decides it. The
// tree's keys are the path's segments (an overlay's paths are literals of non-empty segments),
// so the depth-0 rules (IsUnindexedField: "@timestamp", "event.ingested"; IsTextField:
// "message", "error.message") meet only one-segment keys, and the depth-1 ones "event.ingested"
// (not indexed) and "error.message" (text); a root key not indexed drops its whole subtree.
inline bool LeafIndexed(std::string_view path, bool* text_field) {
  using tape_walk::SameBytes;
  // ObjectTokens walks objects down to depth 16: a leaf below 16 dots is not reached.
  if (path.size() > 33 && std::count(path.begin(), path.end(), '.') > 16) return false;
  // The rules by the path's first byte, compared inline (string_view's compares called memcmp:
  // ~24 instructions a leaf over the bench set's ~1 M overlay entries).
  *text_field = false;
  if (path.empty()) return true;
  switch (path[0]) {
    case '@':
      // "@timestamp" and every path below it.
      return !(path.size() >= 10 && SameBytes(path.data(), "@timestamp", 10) &&
               (path.size() == 10 || path[10] == '.'));
    case 'e':
      // "event.ingested" and every path below it; "error.message" is text.
      if (path.size() >= 14 && SameBytes(path.data(), "event.ingested", 14) &&
          (path.size() == 14 || path[14] == '.')) {
        return false;
      }
      *text_field = path.size() == 13 && SameBytes(path.data(), "error.message", 13);
      return true;
    case 'm':
      *text_field = path.size() == 7 && SameBytes(path.data(), "message", 7);
      return true;
    default:
      return true;
  }
}

}  // namespace overlay_walk

// ObjectTokens(the tree Record::fields() replays from an overlay)'s tokens: the leaves no later
// SetPath replaced (the tree holds exactly those: every object on the way is a prefix of a leaf's
// path, and objects give no token of their own), each with the key rules along its path.
template <typename Emit>
void OverlayFieldTokens(const PendingFields& p, Emit& emit) {
  using namespace overlay_walk;
  constexpr std::string_view kTenant = "tenant.id";
  const size_t n = p.overlay_size;
  bool text_field = false;
  // The record's index says which entries are replaced (KeepOverlay): a later entry related to
  // the entry, or the tenant given after Normalize.
  const uint8_t gone =
      p.tenant.empty() ? kOverlayReplaced : kOverlayReplaced | kOverlayTenantRelated;
  for (size_t i = 0; i < n; ++i) {
    const OverlayEntry& e = p.overlay[i];
    if ((e.flags & gone) != 0 || !LeafIndexed(e.path, &text_field)) continue;
    switch (e.kind) {
      case OverlayKind::kString:
      case OverlayKind::kCategory:  // an array of one string: the string's tokens
        StringValueTokens(e.str, text_field, emit);
        break;
      case OverlayKind::kInt:
        Int64Tokens(e.num, emit);
        break;
      case OverlayKind::kBool:  // an EVE document's own boolean (parse_json.cc)
        BoolTokens(e.num != 0, emit);
        break;
    }
  }
  if (!p.tenant.empty() && LeafIndexed(kTenant, &text_field)) {
    StringValueTokens(p.tenant, text_field, emit);
  }
}

// Whether PendingFieldTokens decides this record's shape at all (else it answers false at once).
inline bool PendingFieldsWalkable(const PendingFields& p) {
  return (p.format == Format::kSeccloudEvent || p.format == Format::kJson) && !p.tape.empty() &&
         p.tape[0].kind == TapeKind::kObject;
}

// event.dataset as FinishFields sets it on a pending record: true with *out set (viewing p or a
// constant), or false when the record is not one the walk knows (PendingFieldsWalkable) or its
// dataset is not valid UTF-8 (PutString would sanitise it).
inline bool PendingDatasetOf(const PendingFields& p, std::string_view* out) {
  if (p.overlay != nullptr) {
    // FindField's answer on the replayed tree (its strings are valid UTF-8 already); "tenant.id"
    // set after the entries cannot touch it.
    bool object = false;
    constexpr std::string_view kDataset = "event.dataset";
    const int i = internal::OverlayLookup(p, kDataset, OverlayRootBit(kDataset), &object);
    *out =
        i >= 0 && p.overlay[i].kind == OverlayKind::kString ? p.overlay[i].str : std::string_view();
    return true;
  }
  if (!PendingFieldsWalkable(p)) return false;
  if (!p.dataset.empty()) {
    if (!tape_walk::Utf8(p.dataset)) return false;
    *out = p.dataset;
  } else {
    *out = p.format == Format::kSeccloudEvent ? "seccloud.event" : "json";
  }
  return true;
}

// Emits ObjectTokens(the tree Record::fields() would build from p, "", 0)'s tokens (the same
// multiset, another order) and returns true; or returns false when it cannot decide (see the
// top of the file), having emitted some tokens or none — the caller drops them and walks the
// tree.
template <typename Emit>
bool PendingFieldTokens(const PendingFields& p, Emit& emit) {
  using namespace tape_walk;
  if (p.overlay != nullptr) {
    OverlayFieldTokens(p, emit);
    return true;
  }
  std::string_view dataset;
  if (!PendingDatasetOf(p, &dataset) || !Utf8(p.source) || !Utf8(p.tenant)) return false;
  const TapeSpan t = p.tape;
  Members root;
  if (!CollectMembers(t, 0, &root)) return false;
  Drops d;
  // FinishFields: the reserved paths in every form, and tenant.id (parse.cc); applied by the
  // walk (MemberTokens, ErasePaths).
  const ErasePaths& reserved = p.format != Format::kSeccloudEvent || !p.tenant.empty()
                                   ? kReservedPathsAndTenant
                                   : kReservedPaths;
  // One pass over the root's live members (a key's last occurrence: the one LiveMember and
  // FindInTape choose) finds the members the steps below look at: "event", "seccloud",
  // "tenant", and for each address path "head.ip" the root key "head.ip" and the root key
  // "head".
  static constexpr std::string_view kAddressPaths[6] = {
      "source.ip", "destination.ip", "client.ip", "server.ip", "host.ip", "related.ip"};
  static constexpr std::string_view kAddressHeads[6] = {"source", "destination", "client",
                                                        "server", "host",        "related"};
  size_t event = 0, seccloud = 0, tenant = 0;
  size_t address_exact[6] = {0, 0, 0, 0, 0, 0};  // the root key "head.ip"
  size_t address_head[6] = {0, 0, 0, 0, 0, 0};   // the root key "head"
  for (size_t j = 0; j < root.n; ++j) {
    if (root.shadowed[j]) continue;
    const size_t i = root.at[j];
    const std::string_view k = t[i].key();
    if (k.size() < 4) continue;
    switch (k[0]) {
      case 'e':
        if (k == "event") event = i;
        continue;
      case 't':
        if (k == "tenant") tenant = i;
        continue;
      case 's':
        if (k == "seccloud") seccloud = i;
        break;
      case 'd':
      case 'c':
      case 'h':
      case 'r':
        break;
      default:
        continue;
    }
    for (unsigned q = 0; q < 6; ++q) {
      const std::string_view head = kAddressHeads[q];
      if (k[0] != head[0] || k.size() < head.size() || k.substr(0, head.size()) != head) continue;
      if (k.size() == head.size()) {
        address_head[q] = i;
      } else if (k.substr(head.size()) == ".ip") {
        address_exact[q] = i;
      }
    }
  }
  // Canonical addresses: what FindField finds, rewritten when FinishFields would. FindInTape's
  // choice for "head.ip" from the root: the longest live key that is the path or a prefix of it
  // whose value is the path's (any kind) or an object to descend into — the root key
  // "head.ip", else the object "head"'s last member "ip".
  std::string canonical[6];
  size_t canonical_n = 0;
  for (unsigned q = 0; q < 6; ++q) {
    size_t at = address_exact[q];
    if (at == 0 && address_head[q] != 0 && t[address_head[q]].kind == TapeKind::kObject) {
      at = LiveMember(t, address_head[q], "ip");
    }
    if (at == 0) continue;
    const TapeNode* v = &t[at];
    if (v->kind != TapeKind::kString) continue;
    const std::string_view path = kAddressPaths[q];
    const std::string_view text = v->str();
    if (text.find(':') == std::string_view::npos) continue;
    auto ip = IpAddress::Parse(text);
    if (!ip || ip->is_v4()) continue;
    if (ip->Unmapped().ToString() == text) continue;
    if (!EraseAllForms(t, root, &path, 1, &d)) return false;
    // PutIp (which parses the same text again, brackets and zone cut) sets the path: its first
    // segment becomes an object (PathParent: a non-object there is replaced; a null holds no
    // token).
    if (auto set = PutIpText(text)) {
      if (const size_t h = address_head[q];
          h != 0 && t[h].kind != TapeKind::kObject && t[h].kind != TapeKind::kNull) {
        d.Add(h);
      }
      canonical[canonical_n++] = std::move(*set);
    }
  }
  // PathParent's walks: event.dataset and event.ingested, seccloud.soc.*, tenant.id.
  auto replace_non_object = [&](size_t i) {
    if (i != 0 && t[i].kind != TapeKind::kObject && t[i].kind != TapeKind::kNull) d.Add(i);
  };
  replace_non_object(event);
  if (seccloud != 0 && t[seccloud].kind == TapeKind::kObject) {
    ReplaceNonObject(t, seccloud, "soc", &d);
  } else {
    replace_non_object(seccloud);
  }
  if (!p.tenant.empty()) replace_non_object(tenant);
  if (d.overflow) return false;
  // The peer as PutMetadata sets it: PutIp's text, else the text as it is (PutString sanitises
  // it: not walked here unless valid UTF-8).
  std::optional<std::string> peer;
  if (!p.peer.empty()) {
    peer = PutIpText(p.peer);
    if (!peer) {
      if (!Utf8(p.peer)) return false;
      peer.emplace(p.peer);
    }
  }

  if (!MemberTokens(t, root, "", 0, d, emit, &reserved)) return false;
  // The values the tree gets (each at a depth and under a key without a rule of its own, but
  // event.ingested's and @timestamp's, which are unindexed): strings, not text fields.
  for (size_t k = 0; k < canonical_n; ++k) StringValueTokens(canonical[k], false, emit);
  StringValueTokens(dataset, false, emit);
  StringValueTokens(p.source, false, emit);
  StringValueTokens(FormatName(p.format), false, emit);
  if (!p.tenant.empty()) StringValueTokens(p.tenant, false, emit);
  if (peer) StringValueTokens(*peer, false, emit);
  return true;
}

}  // namespace seccloud::soc::index_tokens
