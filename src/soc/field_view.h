#pragma once
// Lookups in a Record's fields that answer as FindField on record.fields() would, without
// building the tree of a record whose fields are still pending (a seccloud event's or JSON line's
// kept tape: record.h, parse_internal.h). Step 2 of "Flat field table — migration plan"
// (README.md): the ingest readers (Sigma, the DetectionEngine, intel) read through a FieldView, so
// one code path serves a pending tape and a built tree.
//
// On a pending tape the view answers from the tape and from the metadata Normalize's finishing
// step (internal::FinishFields) would set: the reserved paths' erasure, the six address paths'
// canonical text, event.dataset, @timestamp, event.ingested, seccloud.soc.*, tenant.id. It does so
// only for tapes whose shape makes the finished tree certain (PendingFields::view_exact, decided
// when Normalize keeps the tape: TapeViewExact below); for any other record, and for an object
// the metadata adds members to ("event", "seccloud", …), it builds the tree and asks FindField.

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "soc/field_tape.h"
#include "soc/record.h"

namespace seccloud::soc {

struct OverlayEntry;  // parse_internal.h

// One of 64 bits for a path's first segment: its first three bytes, cut at its end (the bytes
// after a '.' are not the segment's), so equal segments get the same bit. No search for the '.'.
// A pending overlay's index (parse_internal.h, PendingFields::overlay_roots) holds the bits of its
// entries' paths: a path whose bit it lacks is absent, whatever reader asks (FieldView, intel's
// MatchRecord with its paths' bits worked out when compiled, Prepare's event.dataset).
constexpr uint64_t OverlayRootBit(std::string_view path) {
  const size_t n = path.size();
  const unsigned c0 = n > 0 ? static_cast<unsigned char>(path[0]) : 0;
  const unsigned c1 =
      n > 1 && c0 != '.' && path[1] != '.' ? static_cast<unsigned char>(path[1]) : 0;
  const unsigned c2 = c1 != 0 && n > 2 && path[2] != '.' ? static_cast<unsigned char>(path[2]) : 0;
  const unsigned h = (c0 * 31u + c1) * 31u + c2;
  return uint64_t{1} << ((h ^ (h >> 6)) & 63);
}

enum class FieldKind : uint8_t {
  kNone,  // no value at the path
  kObject,
  kArray,
  kString,
  kInt64,
  kUint64,
  kDouble,
  kBool,
  kNull
};

// One value found in a record's fields: a member of a built tree, a node of a pending tape, or a
// string the metadata sets. Views: valid while the record (and, for metadata strings, the
// FieldView that found it, until its next Reset) lives.
class FieldRef {
 public:
  FieldRef() = default;
  static FieldRef Tree(const boost::json::value* v);
  static FieldRef Tape(TapeSpan tape, const TapeNode* n);
  static FieldRef Text(std::string_view s);
  // An overlay's integer, its boolean (an EVE document's own), and its event.category: an array
  // of the one string `s`.
  static FieldRef Int(int64_t n);
  static FieldRef Bool(bool b);
  static FieldRef OneTextArray(std::string_view s);

  FieldKind kind() const { return kind_; }
  bool found() const { return kind_ != FieldKind::kNone; }
  bool is_string() const { return kind_ == FieldKind::kString; }
  bool is_null() const { return kind_ == FieldKind::kNull; }
  bool is_array() const { return kind_ == FieldKind::kArray; }
  bool is_number() const {
    return kind_ == FieldKind::kInt64 || kind_ == FieldKind::kUint64 || kind_ == FieldKind::kDouble;
  }
  std::string_view str() const { return str_; }  // kString
  int64_t i64() const { return i64_; }           // kInt64
  uint64_t u64() const { return u64_; }          // kUint64
  double dbl() const { return dbl_; }            // kDouble
  bool boolean() const { return bool_; }         // kBool
  // A number as boost::json::value::to_number<double>() gives it (a cast of an integer).
  double to_double() const;
  // An array's items in order, each as a FieldRef.
  template <typename F>
  void ForEachItem(F&& f) const;
  // boost::json::serialize of the value (arrays and objects: their JSON text).
  std::string Serialize() const;
  // The tree's value when the ref is one (null for a tape node or a metadata string).
  const boost::json::value* tree() const { return tree_; }

 private:
  FieldKind kind_ = FieldKind::kNone;
  bool bool_ = false;
  uint32_t index_ = 0;  // tape node
  int64_t i64_ = 0;
  uint64_t u64_ = 0;
  double dbl_ = 0;
  std::string_view str_;
  const boost::json::value* tree_ = nullptr;
  TapeSpan tape_;
};

class FieldView {
 public:
  FieldView() = default;
  explicit FieldView(const Record& r) { Reset(r); }
  FieldView(const FieldView&) = delete;
  FieldView& operator=(const FieldView&) = delete;

  // A new record (the view keeps a pointer: `r` must outlive its use). Cheap: nothing is looked
  // at until asked.
  void Reset(const Record& r);
  const Record& record() const { return *record_; }

  // For a loop that Resets a view on each record of `batch` in turn (socd's Pipeline::Detect,
  // soc_store_bench): prefetches what a view of batch[i + 1] reads first — its tape's first
  // nodes and the line they view, or its overlay's entries, index and Windows items' table —
  // and the PendingFields of batch[i + 2], so that the pointers the first prefetch follows are
  // in cache by then. Reads batch[i + 1]'s PendingFields and both records' pending pointer;
  // changes nothing (a hint: the answers are the same without it).
  static void Prefetch(std::span<const Record> batch, size_t i);

  // FindField(record.fields(), path), answered from the pending tape when the record has one
  // whose shape is view_exact (then its tree is not built), else from the tree.
  FieldRef Find(std::string_view path);
  // The string at `path`, "" when absent or not a string.
  std::string_view String(std::string_view path) {
    const FieldRef v = Find(path);
    return v.is_string() ? v.str() : std::string_view();
  }

  // Find("event.dataset"), looked up once a record: socd's Detect loop (the SOC's own events
  // skipped) and Sigma's bucket key (MatchContext::dataset) both ask it of each record.
  const FieldRef& Dataset() {
    if (!dataset_done_) {
      dataset_done_ = true;
      dataset_ = Find("event.dataset");
    }
    return dataset_;
  }

  // On a pending tape: groups the root's members by their key's first segment now (Find does
  // so itself from its kLookupsBeforeIndex-th lookup of a record on). For a reader that will ask
  // many paths of the record (intel's MatchRecord). Nothing on a tree.
  void Index();

  // True when answers come from a pending tape (the tree is not built for them).
  bool on_tape() const { return pending_ != nullptr; }
  // True when answers come from a pending overlay (a syslog, access-log or text record's values:
  // parse_internal.h, PendingFields::overlay), the tree not built for them.
  bool on_overlay() const { return overlay_ != nullptr; }
  // The OverlayRootBit of every path a pending overlay sets, and of "tenant" (on_overlay() only):
  // a path whose bit is clear is absent.
  uint64_t overlay_roots() const;
  // True when answers come from a pending overlay with a Windows event's items' table
  // (PendingFields::winlog_items): then FindWinlogItem answers "winlog.event_data.<name>".
  bool has_winlog_items() const;
  // Find(kWinlogItemPrefix + name) on such an overlay (has_winlog_items()), for a `name` that is
  // not empty and has no '.', with `hash` = WinlogItemHash(name) worked out by the caller once
  // (Sigma's field plan, sigma_match.cc): the items' table probed, no path built or hashed.
  FieldRef FindWinlogItem(std::string_view name, uint32_t hash) const;
  // The pending tape (on_tape() only).
  TapeSpan tape() const;
  // The dotted paths a pending record's finishing step sets (and their parents), whether or not
  // this record gets each: a superset, for presence filters (sigma_match.cc).
  static constexpr std::string_view kMetadataPaths[] = {"@timestamp",
                                                        "event",
                                                        "event.ingested",
                                                        "event.dataset",
                                                        "seccloud",
                                                        "seccloud.soc",
                                                        "seccloud.soc.source",
                                                        "seccloud.soc.format",
                                                        "seccloud.soc.peer",
                                                        "tenant",
                                                        "tenant.id"};

 private:
  FieldRef FromTree(std::string_view path);
  FieldRef FindOverlay(std::string_view path);
  static FieldRef OverlayValue(const OverlayEntry& e);
  FieldRef Metadata(int slot);
  // What the finishing step does to a pending record's "<address root>.ip" (root: an index of
  // field_view.cc's kRoots).
  enum AddressStates { kAddressKept, kAddressRewritten, kAddressErased, kAddressTree };
  int AddressState(int root);

  // The root index (field_view.cc, "Root index"): the pending tape's root members grouped by
  // their key's first segment (the bytes before its first '.'), in an open-addressing table of
  // the segments. Every key FindField can step through for a path has the path's first segment,
  // so a lookup probes the table once and walks only that group's members, then below them. The
  // segments the finishing step touches (kRoots) have a slot each whether or not the record has
  // them, tagged with their root, so one probe also says which metadata rule applies. Built on
  // the kLookupsBeforeIndex-th lookup of a record (or by Index()), in one pass over the root's
  // members; the arrays keep their capacity from record to record (no allocation once they fit
  // the largest root seen) and are sized from the root's member count, so a root of thousands of
  // keys costs a pass and a table of twice its size, each lookup a probe: no walk over it.
  struct Slot {
    uint64_t hash;    // the segment's (0: an empty slot; hashes are never 0)
    const char* seg;  // the segment's text (a member key's prefix, or kRoots')
    uint32_t seg_len;
    uint32_t head;    // the group's first member (index into members_), kNoMember: none
    uint32_t tail;    // its last one
    uint32_t weight;  // members of the group: the plain key and an object 1, any other 2
    int root;         // index of kRoots, or -1
  };
  struct Member {
    uint32_t node;  // the member's tape node
    uint32_t next;  // the next member of its group, in tape order (kNoMember: the last)
  };
  static constexpr uint32_t kNoMember = 0xffffffffu;
  static constexpr int kLookupsBeforeIndex = 32;
  void BuildIndex();
  const Slot* Probe(std::string_view segment, uint64_t hash) const;
  // FindInTape(tape, path) among a group's members (`path`'s first segment is the group's).
  const TapeNode* FindInGroup(const Slot* slot, std::string_view path) const;
  // The same among the members linked from `head` in `members`: any superset of the root's
  // members whose key can be a key of `path`, in tape order.
  const TapeNode* FindAmong(uint32_t head, const std::vector<Member>& members,
                            std::string_view path) const;
  // Before the root index (or without it), a lookup walks only the root's members whose key
  // starts with the byte the path starts with (a group per byte's low 6 bits: a superset of the
  // path's segment's members), grouped at a record's first lookup on the tape in one pass over
  // the root's members with no hashing — about what one walk over the root costs, each later
  // lookup then a few members instead of all. Empty keys are in no group (FindInObject never
  // takes one).
  static constexpr uint32_t kByteGroups = 64;
  void GroupByFirstByte();
  bool byte_grouped_ = false;
  bool dataset_done_ = false;  // dataset_ holds this record's Find("event.dataset")
  FieldRef dataset_;
  // Not zeroed at construction (a view made per record paid 512 bytes of stores for nothing):
  // GroupByFirstByte sets every head, and a tail is read only once its head was set.
  uint32_t byte_head_[kByteGroups];
  uint32_t byte_tail_[kByteGroups];
  std::vector<Member> byte_members_;

  const Record* record_ = nullptr;
  const PendingFields* pending_ = nullptr;
  const PendingFields* overlay_ = nullptr;  // a pending overlay (on_overlay())
  bool indexed_ = false;
  int lookups_ = 0;  // lookups of this record before the index
  uint32_t slot_mask_ = 0;
  int slot_shift_ = 64;  // a hash's slot: hash >> slot_shift_
  std::vector<Slot> slots_;
  std::vector<Member> members_;
  uint32_t root_slot_[10] = {};  // kRoots' slots (field_view.cc)
  // An empty table of blank_cap_ slots but for kRoots' (at blank_root_slot_), copied into slots_.
  std::vector<Slot> blank_;
  size_t blank_cap_ = 0;
  uint32_t blank_root_slot_[10] = {};
  // Metadata strings built on demand, by slot: @timestamp, event.ingested, seccloud.soc.source,
  // seccloud.soc.peer, tenant.id and the canonical text of source / destination / client / server /
  // host / related.ip.
  static constexpr int kSlots = 11;
  uint32_t built_ = 0;         // bit per slot: looked at
  uint32_t absent_ = 0;        // bit per slot: the finishing step leaves nothing there
  int address_state_[6] = {};  // by address root, once its slot is built
  // FindInTape(tape, "<address root>.ip") (kept: the finished tree's value), set with the state.
  const TapeNode* address_node_[6] = {};
  std::string slot_[kSlots];
};

// Whether a kept tape's finished tree is certain enough for FieldView to answer on the tape: the
// paths the finishing step erases and sets meet only plain nested objects. Refused (the view then
// builds the tree, as before) when, at the root, a dotted key starts with a segment the step
// erases or sets paths under ("event.x", "tenant.id", "@timestamp.y", …), one of those segments
// is a key more than once, or "event" / "seccloud" / "tenant" is not an object; in "event" a dotted
// key starting with "dataset" or "ingested"; in "tenant" one starting with "id"; in "seccloud" a
// dotted key starting with "soc", or "soc" twice or not an object; in "seccloud.soc" a dotted key
// starting with "source", "format", "peer" or "parse_error". The six address paths ("source.ip", …;
// the step rewrites an IPv6 address in a non-canonical spelling) are checked by the view when
// asked: a rewritten one under any other shape than {"source":{"ip":…}} builds the tree.
bool TapeViewExact(TapeSpan tape);

template <typename F>
void FieldRef::ForEachItem(F&& f) const {
  if (kind_ != FieldKind::kArray) return;
  if (tree_ != nullptr) {
    for (const auto& item : tree_->get_array()) f(Tree(&item));
    return;
  }
  if (tape_.nodes == nullptr) {  // OneTextArray
    f(Text(str_));
    return;
  }
  const TapeNode& a = tape_[index_];
  for (size_t i = index_ + 1; i < a.end; i = tape_[i].end) f(Tape(tape_, &tape_[i]));
}

}  // namespace seccloud::soc
