#pragma once
// Private to the parsers (parse_*.cc): the per-format entry points Normalize() dispatches to and
// the scanning, time and JSON helpers they share. Nothing outside src/soc/parse_*.cc, winlog.cc and
// record.cc includes it.

#include <bit>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "soc/field_tape.h"
#include "soc/field_view.h"  // OverlayRootBit
#include "soc/ipv4_text.h"
#include "soc/parse.h"

namespace seccloud::soc {

// One value a SetPath-only format's parser set (syslog, access logs, text: README.md "Step 5 as
// landed"; Windows events since win17): the dotted path (a string literal for every parser's
// SinkPath; a Windows event's `winlog.event_data.<Name>` items are paths copied into the record's
// arena with the entries, FieldOverlay::own_paths), and the value: a
// string (valid UTF-8, PutString's text), an integer, event.category's one-string array, or
// (a leaf of an EVE record's own document, `suricata.eve.…`: parse_json.cc) a boolean.
enum class OverlayKind : uint8_t { kString, kInt, kCategory, kBool };
// Whether an entry of this kind has its value in `str` (else in `num`).
constexpr bool OverlayKindHasText(OverlayKind k) {
  return k == OverlayKind::kString || k == OverlayKind::kCategory;
}
struct OverlayEntry {
  std::string_view path;
  std::string_view str;  // kString, kCategory (while parsing: the text is at `at` in the bytes)
  int64_t num = 0;       // kInt; kBool: 0 or 1
  uint32_t at = 0;       // while parsing: the string's offset in FieldOverlay::bytes, and size
  uint32_t len = 0;
  OverlayKind kind = OverlayKind::kString;
  // The record's index of its entries, in the padding after `kind` (RecordAccess::KeepOverlay;
  // in a scratch overlay only SinkPath::Entry's tenant flag and root): kOverlayReplaced,
  // kOverlayTenantRelated, and the next live entry whose path has the same OverlayRootBit
  // (field_view.h).
  uint8_t flags = 0;
  // Its path's OverlayRootBit as a bit number, worked out when compiled (SinkPath); kNoRoot: not
  // known (an entry made by hand), KeepOverlay works it out.
  uint8_t root = 0xff;
  uint16_t next_live = 0xffff;
};
inline constexpr uint8_t kNoRoot = 0xff;
// flags: a later entry's path is related to this one's (OverlayRelated: its leaf is gone from
// the tree); its path is related to "tenant.id" (gone once SetTenantField gives a tenant).
inline constexpr uint8_t kOverlayReplaced = 1, kOverlayTenantRelated = 2;
inline constexpr uint16_t kNoOverlayEntry = 0xffff;

// How an overlay entry's path `q` stands to a path: kOverlayEqual; kOverlayPrefix (q is a
// dotted prefix of the path: a leaf in its way); kOverlayExtension (the path is a dotted prefix
// of q: an object of the tree); else kOverlayUnrelated (also when either is empty).
enum OverlayRelation { kOverlayUnrelated, kOverlayEqual, kOverlayPrefix, kOverlayExtension };
constexpr OverlayRelation OverlayRelate(std::string_view q, std::string_view path) {
  if (path.empty() || q.empty() || q[0] != path[0]) return kOverlayUnrelated;
  if (q.size() == path.size()) return q == path ? kOverlayEqual : kOverlayUnrelated;
  if (q.size() < path.size()) {
    return path[q.size()] == '.' && path.starts_with(q) ? kOverlayPrefix : kOverlayUnrelated;
  }
  return q[path.size()] == '.' && q.starts_with(path) ? kOverlayExtension : kOverlayUnrelated;
}
// True when a SetPath of one after the other drops the first one's leaf (the same path, or one a
// dotted prefix of the other: PathParent replaces a leaf in the way by an object, and a leaf set
// over an object drops it).
constexpr bool OverlayRelated(std::string_view a, std::string_view b) {
  return OverlayRelate(a, b) != kOverlayUnrelated;
}

// What Normalize keeps of a seccloud event or JSON line instead of its tree (record.h): the line's
// tape, an exact-size copy in the record's arena (nodes, and a copy of the line and the decoded
// bytes they view: nothing outside the arena, so moves need no fix-up and a later change of raw
// cannot leave a view dangling), and the arguments of
// the metadata step (internal::FinishFields) it would have run, strings in the arena too. Only
// lines the tape reads exactly as the tree is built are kept so: valid UTF-8 (no SanitizeJson)
// and short enough that PruneFields cannot drop anything.
//
// Syslog, access-log and text records (`overlay` non-null, `tape` empty) keep instead the values
// their parser set, metadata included, in the order set: the tree is these SetPath calls replayed
// on an empty object (internal::ReplayOverlay), then SetField(tenant.id, tenant) when
// SetTenantField gave a tenant after Normalize (`tenant`; the other members are unused).
struct PendingFields {
  TapeSpan tape;
  const char* line = nullptr;  // the arena's copy of the line the views point into
  size_t line_size = 0;
  Format format = Format::kJson;
  int64_t time_ms = 0;
  int64_t received_ms = 0;
  std::string_view dataset;  // event.dataset as found in the line ("" when none)
  std::string_view source;
  std::string_view peer;
  std::string_view tenant;  // Record::tenant when Normalize ran
  // The tape's shape makes the finished tree certain (TapeViewExact, field_view.h): FieldView
  // answers lookups on the tape. False: it builds the tree.
  bool view_exact = false;
  const OverlayEntry* overlay = nullptr;  // in the arena
  uint32_t overlay_size = 0;
  // The overlay's index (KeepOverlay): the OverlayRootBit of every entry's path and of "tenant"
  // (a filter: a path whose bit is clear is absent), and for each set bit, in ascending order,
  // the first of the live entries with that bit (chained by OverlayEntry::next_live;
  // kNoOverlayEntry: none). Live: no later entry replaced it (kOverlayReplaced clear).
  uint64_t overlay_roots = 0;
  const uint16_t* overlay_heads = nullptr;  // in the arena
  // A Windows event's items (winlog.cc): an open-addressing table of the entries at
  // "winlog.event_data.<Name>" by WinlogItemHash(Name), winlog_items_mask + 1 slots (at most half
  // full; kNoOverlayEntry: empty), in the arena; null for every other overlay. OverlayLookup
  // answers a path under "winlog.event_data." from it alone: those entries are the only ones
  // related to such a path, pairwise unrelated, and without '.' in their names.
  const uint16_t* winlog_items = nullptr;
  uint32_t winlog_items_mask = 0;
};

inline constexpr std::string_view kWinlogItemPrefix = "winlog.event_data.";
// The hash of an item's name (the path after kWinlogItemPrefix) for the items' table: its length
// and its first and last eight bytes (overlapping when shorter than 16; the bytes of one shorter
// than 8), mixed by a multiply. The table compares the names, so any hash is exact; this one reads
// a name in two loads instead of FNV-1a's byte at a time (0.9 k instructions an event's items).
inline uint32_t WinlogItemHash(std::string_view name) {
  const size_t n = name.size();
  uint64_t head = 0, tail = 0;
  if (n >= 8) {
    std::memcpy(&head, name.data(), 8);
    std::memcpy(&tail, name.data() + n - 8, 8);
  } else {
    for (const char c : name) head = (head << 8) | static_cast<unsigned char>(c);
  }
  uint64_t h = (head ^ std::rotl(tail, 29) ^ n) * 0x9E3779B97F4A7C15u;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9u;
  return static_cast<uint32_t>(h ^ (h >> 32));
}

}  // namespace seccloud::soc

namespace seccloud::soc::internal {

// The arguments of FinishFields: what Normalize sets on a parsed record's fields.
struct FinishArgs {
  Format format = Format::kText;
  int64_t time_ms = 0;
  int64_t received_ms = 0;
  std::string_view dataset;  // the parsed event.dataset ("" when none)
  std::string_view source;
  std::string_view peer;
  std::string_view tenant;
  bool may_exceed = false;  // the line may hold more than kMaxParsedFields - 12 leaves
};

// Normalize's step after a successful parse: pruning, erasing the reserved paths of JSON-sourced
// formats, canonical addresses, event.dataset, then the metadata every record carries. Also run
// by Record::fields() on a kept tape's tree, so both give the same fields.
void FinishFields(boost::json::object& f, const FinishArgs& a);
// The metadata every record carries (@timestamp … seccloud.soc.peer), the end of FinishFields
// and of an unparsed record's fields.
void PutMetadata(boost::json::object& f, const FinishArgs& a);

// A SetPath-only parser's values while it parses (one scratch per thread, Normalize's): entries
// whose strings are copied into `bytes` (OverlayEntry::at, len), so that a value may view a
// temporary (a canonical address, a sanitised copy, a time's text).
//
// A path that is not a literal (a Windows event's "winlog.event_data.<Name>": winlog.cc) is kept
// in `bytes` too, listed in `own_paths` (the entry's index, the path's offset and size), and
// KeepOverlay points the kept entry's path at the record's copy of the bytes. Such a path must
// have non-empty segments, as a SinkPath's (OverlayFind and the index assume it).
struct FieldOverlay {
  struct OwnPath {
    uint32_t entry, at, len;
  };
  std::vector<OverlayEntry> entries;
  std::string bytes;
  std::vector<OwnPath> own_paths;
  void clear() {
    entries.clear();
    bytes.clear();
    own_paths.clear();
  }
  // Sets every entry's `str` (and own path) to its bytes (valid until the next change of `bytes`).
  void Resolve() {
    for (OverlayEntry& e : entries) {
      if (OverlayKindHasText(e.kind)) e.str = std::string_view(bytes.data() + e.at, e.len);
    }
    for (const OwnPath& o : own_paths) {
      entries[o.entry].path = std::string_view(bytes.data() + o.at, o.len);
    }
  }
};

// The lookup on a list of overlay entries (kept or scratch: only the paths are read): what
// FindField gives on the tree the entries' SetPath calls build on an empty object. The last entry
// whose path is `path`, a dotted prefix of it or has it as a dotted prefix decides: the path
// itself → that entry (its index, *object false); a prefix of the path → nothing (a leaf is in
// the way); the path a prefix of its path → an object (*object true, -1). No such entry, or a path
// with an empty segment (no key of the tree is empty: every entry's path has non-empty segments —
// a SinkPath is checked when compiled, a Windows item's name is refused when empty or dotted)
// → -1, *object false.
int OverlayFind(const OverlayEntry* entries, size_t n, std::string_view path, bool* object);

// OverlayFind(p.overlay, p.overlay_size, path, object) on a kept overlay, through its index: only
// the live entries of the path's root bit are looked at. Exact because live entries are pairwise
// unrelated: the last entry related to the path is live unless it is a prefix of the path
// replaced by a later extension of its own (then no live entry is related: nothing either way),
// and a live entry equal to the path or a prefix of it is the only live one related to it.
// (The tenant given after Normalize is the caller's: FieldView answers its paths first.)
// `bit` is OverlayRootBit(path).
int OverlayLookup(const PendingFields& p, std::string_view path, uint64_t bit, bool* object);
// The entry of p's items' table (p.winlog_items, not null) named `name` (a name without '.'),
// -1 when none; `hash` = WinlogItemHash(name). OverlayLookup's answer for such an item's path.
int WinlogItemLookup(const PendingFields& p, std::string_view name, uint32_t hash);

// A path a parser sets through a FieldSink. Only a constant builds one (consteval: a string
// literal, in practice), so an overlay entry's path outlives every record that keeps the entry
// (KeepOverlay copies the entries, not these paths — only a Windows item's own path is copied);
// and its segments are checked non-empty when
// compiled, as OverlayFind and the overlay's index assume. What the index needs of the path
// alone (its root bit, whether it is related to "tenant.id") is worked out then too.
class SinkPath {
 public:
  consteval SinkPath(const char* path)  // NOLINT: implicit, from a literal
      : path_(path),
        root_(static_cast<uint8_t>(std::countr_zero(OverlayRootBit(path_)))),
        tenant_related_(OverlayRelated(path_, "tenant.id")) {
    if (path_.empty() || path_.front() == '.' || path_.back() == '.' ||
        path_.find("..") != std::string_view::npos) {
      throw "an overlay path has an empty segment";
    }
  }
  constexpr operator std::string_view() const { return path_; }  // NOLINT: implicit
  // An entry at this path, its root and tenant flag set (OverlayEntry::root, flags).
  OverlayEntry Entry(OverlayKind kind) const {
    OverlayEntry e;
    e.path = path_;
    e.kind = kind;
    e.root = root_;
    e.flags = tenant_related_ ? kOverlayTenantRelated : 0;
    return e;
  }

 private:
  std::string_view path_;
  uint8_t root_;
  bool tenant_related_;
};

// Where a parser's values go: the tree (`fields`), or, when Normalize gave the parser a scratch
// overlay, the overlay's entries. A value the overlay cannot hold (a whole object: RFC 5424
// structured data, a merged web log line) asks Tree(), which replays the entries so far into the
// tree and sends everything after to it.
class FieldSink {
 public:
  // More values than this (a line repeating a key the parser sets each time: "IN=a IN=a …") go to
  // the tree: the overlay's entries and the walks over them (Prepare's tokens compare each entry
  // with the later ones) stay bounded, where the tree replaces a value in place.
  static constexpr size_t kMaxOverlayEntries = 48;
  explicit FieldSink(boost::json::object* tree) : tree_(tree) {}
  FieldSink(const FieldSink&) = delete;
  FieldSink& operator=(const FieldSink&) = delete;
  boost::json::storage_ptr storage() const { return tree_->storage(); }
  FieldOverlay* overlay() const { return overlay_; }
  void UseOverlay(FieldOverlay* o) {
    overlay_ = o;
    if (o != nullptr) o->clear();
  }
  // The tree, with every value set so far: the overlay (if any) is replayed into it and given up.
  boost::json::object& Tree();
  // FindField(tree, path) != nullptr.
  bool Has(std::string_view path) const;
  void Clear() {
    tree_->clear();
    if (overlay_ != nullptr) overlay_->clear();
  }

  void String(SinkPath path, std::string_view value);  // PutString
  void Int(SinkPath path, int64_t value);              // PutInt
  void Category(std::string_view category);            // PutCategory
  // After a value went into the overlay: the tree takes over past kMaxOverlayEntries.
  void Bound() {
    if (overlay_->entries.size() > limit_) Tree();
  }
  // The metadata's few entries after the parser's (PutMetadata) stay in the overlay whatever
  // their number.
  void Unbound() { limit_ = static_cast<size_t>(-1); }

 private:
  size_t limit_ = kMaxOverlayEntries;
  boost::json::object* tree_;
  FieldOverlay* overlay_ = nullptr;
};

// The SetPath calls of `n` entries (strings resolved: kept entries, or ResolveOverlay's) on `f`,
// as the parser's Put* calls made them.
void ReplayOverlay(boost::json::object& f, const OverlayEntry* entries, size_t n);

// Record internals for the normaliser (record.cc).
struct RecordAccess {
  // Keeps the overlay's entries (with the metadata's, appended by Normalize) in r's arena as r's
  // pending fields; r.fields() then replays them. r must have a field arena and empty fields.
  // `unrelated`: the caller knows its entries' paths pairwise unrelated (OverlayRelated false for
  // every pair, as a Windows event's are: winlog.cc), so none is replaced and the pairs are not
  // compared (a quadratic walk within a root bit: a Windows event has ~40 entries under "winlog").
  static void KeepOverlay(Record& r, const FieldOverlay& overlay, Format format,
                          bool unrelated = false);
  // Gives r empty fields in a new arena (the old fields and arenas released), whose first block
  // holds exactly what KeepOverlay of `overlay` and then IndexWinlogItems of `winlog_items`
  // items take: a Windows event's overlay is kept in no more memory than it needs.
  static void UseOverlayArena(Record& r, const FieldOverlay& overlay, size_t winlog_items);
  // The first block UseOverlayArena gives.
  static size_t OverlayArenaBytes(const FieldOverlay& overlay, size_t winlog_items);
  // Gives r empty fields in `arena` (UseFieldArena with an arena of the caller's).
  static void UseArena(Record& r, std::unique_ptr<FieldArena, FieldArenaDeleter> arena);
  // After KeepOverlay of a Windows event's overlay: the table of its `n` item entries, which
  // start at entry `first` (PendingFields::winlog_items).
  static void IndexWinlogItems(Record& r, size_t first, size_t n);
  // Keeps `tape` (read from `line`) in r's arena as r's pending fields, with the metadata
  // arguments; r.fields() then builds the tree from them. r must have a field arena
  // (UseFieldArena) and empty fields. `line_in_arena`: `line` is CopyToArena's copy (the tape was
  // read from it), kept as it is; otherwise (a view into r.raw, say) it is copied.
  static void KeepTape(Record& r, const FieldTape& tape, std::string_view line, const FinishArgs& a,
                       bool line_in_arena = false);
  // A copy of `line` in r's field arena (which r must have), for a tape KeepTape keeps.
  static std::string_view CopyToArena(Record& r, std::string_view line);
};

// The first block of the field arena UseFieldArena gives a record of this format and raw size,
// in bytes: sized for the tree Normalize builds.
size_t FieldArenaFirstBlock(Format format, size_t raw_size);

// A Windows event of up to this many raw bytes is parsed in the record's field arena, which
// UseFieldArena sizes for it (winlog.cc, record.cc); a larger one is parsed in scratch memory.
inline constexpr size_t kWinlogArenaDocBytes = size_t{8} << 10;

// "The record carries no usable time": Normalize() then takes received_ms.
inline constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

// What one format's parser found in one line. New values are built in fields.storage() so that
// moving them into `fields` never copies, whichever memory resource the fields use.
struct Parsed {
  Parsed() = default;
  explicit Parsed(boost::json::storage_ptr sp) : fields(std::move(sp)) {}

  boost::json::object fields;
  // Where the SetPath-only parsers (syslog, access logs, text) put their values: `fields`, or an
  // overlay Normalize gave them.
  FieldSink sink{&fields};
  // Seccloud events and JSON lines: when set, the parser reads the line into this tape instead of
  // building `fields` (which it leaves empty), and sets tape_read on success.
  FieldTape* tape = nullptr;
  bool tape_read = false;
  // With tape_read: FindInTape(*tape, "event.dataset") when the parser looked it up (seccloud
  // events), so that Normalize does not look it up again; else null.
  const TapeNode* tape_dataset = nullptr;
  // JSON lines: the dataset of a known cloud audit record (parse_json.cc, KnownJsonDataset), a
  // static string; empty for any other line. Normalize uses it when the line names no string
  // event.dataset of its own.
  std::string_view json_dataset;
  int64_t time_ms = kNoTime;
  // Non-empty when the line is not in the declared format: one sentence saying what was expected
  // where. The parser leaves `fields` empty then.
  std::string error;

  // Starts over (a parser trying another layout), keeping the fields' storage.
  Parsed(const Parsed&) = delete;
  Parsed& operator=(const Parsed&) = delete;

  void Reset() {
    sink.Clear();
    tape_read = false;
    tape_dataset = nullptr;
    json_dataset = {};
    time_ms = kNoTime;
    error.clear();
  }
};

// The per-format parsers. `line` is the raw record bounded to kMaxRawBytes with its trailing
// CR/LF removed; `received_ms` anchors formats whose timestamps lack a year. Each sets
// "event.dataset" in out.fields (Normalize() adds the shared metadata).
void ParseSeccloudEvent(std::string_view line, Parsed& out);
// FindInTape(t, "event.dataset") and FindInTape(t, "@timestamp") in one pass over the root's
// members (t holds a document whose root is an object).
void FindDatasetAndTimestamp(TapeSpan t, const TapeNode** dataset, const TapeNode** timestamp);
void ParseJsonLine(std::string_view line, Parsed& out);
void ParseEve(std::string_view line, Parsed& out);
// An upper bound on the values ParseEve sets beside "suricata.eve" (52 today: every Put* of
// parse_json.cc's EVE mapping once); Normalize relies on it to skip counting leaves.
inline constexpr size_t kEveMappedLeaves = 64;
// An EVE record is kept as an overlay (README.md "Suricata EVE records as an overlay") only when
// its own document has at most this many leaves and no object of more than kMaxEveObjectMembers
// members (its repeated-key check is quadratic per object); any other takes the tree path.
inline constexpr size_t kMaxEveDocumentLeaves = 64;
inline constexpr uint32_t kMaxEveObjectMembers = 32;
// Normalize(r) with the overlay paths allowed or not (false: the tree path for EVE records, the
// reference the differential tests compare the overlay with).
void NormalizeRecord(Record& r, bool overlay_allowed);
void ParseSyslog(std::string_view line, int64_t received_ms, Parsed& out);
void ParseWebLog(std::string_view line, int64_t received_ms, Parsed& out);
void ParseText(std::string_view line, int64_t received_ms, Parsed& out);
// A Linux Audit record's header, "[node=N ]type=T msg=audit(SECONDS.MMM:SERIAL): "
// (parse_audit.cc).
struct AuditHeader {
  std::string_view node, type;
  std::string_view body;  // the pairs after the header
  int64_t time_ms = 0;    // kNoTime: the record has no stamp (journald's form)
  int64_t serial = 0;     // -1: the record has no stamp
};
// True with *h filled when `line` starts with an audit record's header.
bool ParseAuditHeader(std::string_view line, AuditHeader* h);
// journald's form of a userspace audit record, "TYPE key=value …" (systemd-journald forwards
// them as program "audit" without "type=" and without the msg=audit(SECONDS.MMM:SERIAL) stamp):
// true with *h filled (no node, time kNoTime, serial -1) when `msg` starts with an upper-case
// type word, one blank and a key followed by '='.
bool ParseJournaldAuditHeader(std::string_view msg, AuditHeader* h);
// The record's fields (into the sink's tree): "auditd.log.<key>" for every pair (escaped fields
// decoded as ausearch -i does), record_type, sequence, node, the ECS fields, time, and
// event.dataset "auditd.log"; an EXECVE record's `message` is its command line (what Sigma's
// keywords search). Never fails: a pair that does not parse is skipped.
void ParseAuditRecord(const AuditHeader& h, Parsed& out);
// True when a "sysmon" program's syslog message starts like Sysmon for Linux's XML "<Event>".
bool LooksLikeSysmonEvent(std::string_view msg);
// The event's System values and EventData items (winlog.event_id, winlog.channel,
// winlog.event_data.<Name>, ECS) into the sink's tree, event.dataset "linux.sysmon" and its time.
// False with *note (why) and nothing set when the XML is not the bounded shape it reads
// (parse_sysmon.cc).
bool ParseSysmonEvent(std::string_view msg, Parsed& out, std::string* note);

// True when `line` looks like an Apache/nginx access or error log line (used by SniffFormat).
bool LooksLikeWebLog(std::string_view line);
// True when `line` starts like a syslog line (PRI, or a timestamp followed by "host tag:").
bool LooksLikeSyslog(std::string_view line);

// ---- fields ----

// SetField() for the parsers' own paths: the same result, fewer allocations (new objects are
// created with room for a few members, values are moved in place).
void SetPath(boost::json::object& fields, std::string_view path, boost::json::value value);
// `value` as a JSON string in `sp`, ill-formed UTF-8 replaced by U+FFFD.
boost::json::string Sanitized(std::string_view value, boost::json::storage_ptr sp);
// The object that holds `*path`'s last segment, creating the objects before it (and replacing a
// non-object in the way by an empty one) as SetPath does; *path is left as the last segment.
// insert_or_assign on the result is SetPath with the value built in place. The walk may replace
// members and regrow objects' tables: the reference returned is valid only until the next change
// to `fields`, and a value to be set must not refer into `fields` (it is read after the walk).
boost::json::object& PathParent(boost::json::object& fields, std::string_view* path);
// Sets a string field (dotted path → nested objects), UTF-8-sanitised. `value` must not refer into
// `fields` (see PathParent).
void PutString(boost::json::object& fields, std::string_view path, std::string_view value);
void PutInt(boost::json::object& fields, std::string_view path, int64_t value);
// SetPath(path, FormatTime(ms)) with the string built in place.
void PutTime(boost::json::object& fields, std::string_view path, int64_t ms);
// Normalize's "seccloud.soc.source" (UTF-8-sanitised when `sanitize`, else as it is) and
// "seccloud.soc.format": the two SetPath calls in one walk to "seccloud.soc".
void PutSourceAndFormat(boost::json::object& fields, std::string_view source, bool sanitize,
                        Format format);
// Sets the normalised text of an IP address (IPv6 compressed, lower case, IPv4-mapped unmapped)
// and returns true; returns false and sets nothing when `text` is not an address.
bool PutIp(boost::json::object& fields, std::string_view path, std::string_view text);
// The text PutIp sets for `text`: false when it is not an address, else true and *out views it
// (`text`'s own bytes for IPv4, *buf for IPv6's canonical text).
bool IpText(std::string_view text, std::string* buf, std::string_view* out);
// IsCanonicalIpv4, ParseCanonicalIpv4: soc/ipv4_text.h.
// Sets a port (1..65535 after an optional ':' or '.' has been removed by the caller); false and
// nothing set when `text` is not a decimal port.
bool PutPort(boost::json::object& fields, std::string_view path, std::string_view text);
// A one-element array ["category"] as ECS wants event.category.
void PutCategory(boost::json::object& fields, std::string_view category);
// The same into a sink (the tree's or the overlay's): identical fields once built.
inline void PutString(FieldSink& f, SinkPath path, std::string_view value) {
  f.String(path, value);
}
inline void PutInt(FieldSink& f, SinkPath path, int64_t value) { f.Int(path, value); }
inline void PutCategory(FieldSink& f, std::string_view category) { f.Category(category); }
bool PutIp(FieldSink& f, SinkPath path, std::string_view text);
bool PutPort(FieldSink& f, SinkPath path, std::string_view text);
// PutTime and PutMetadata into an overlay (Normalize's metadata of a record kept so; the sink
// must be on its overlay).
void PutTime(FieldOverlay& o, SinkPath path, int64_t ms);
void PutMetadata(FieldSink& f, const FinishArgs& a);

// ---- scanning ----

std::string_view TrimSpaces(std::string_view s);
bool IsDigit(char c);
bool IsSpace(char c);  // space or tab
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);
bool ContainsIgnoreCase(std::string_view s, std::string_view needle);
// Parses all of `s` as a non-negative decimal of at most 18 digits.
bool ParseUint(std::string_view s, int64_t* out);
// The next whitespace-delimited token from *pos on (skipping leading blanks); *pos moves past it.
std::string_view NextToken(std::string_view s, size_t* pos);
// `s` quoted and cut for an error message.
std::string Excerpt(std::string_view s);

// ---- time ----

// FormatTimeMs() without stdio: "2026-11-26T03:20:22.123Z". Identical output (a test checks).
boost::json::string FormatTime(int64_t ms, boost::json::storage_ptr sp);
// The same 24 characters written to buf (room for 24); returns 24, or 0 (nothing written) for a
// year outside 0000..9999, which FormatTimeMs() spells with stdio.
size_t FormatTimeChars(int64_t ms, char* buf);

// How far ahead of reception a record's own time may be and still be believed.
inline constexpr int64_t kMaxFutureSkewMs = int64_t{24} * 3600 * 1000;

bool IsValidDate(int64_t y, int m, int d);
// ms since the epoch of a UTC civil time; false when out of range.
bool CivilToMs(int64_t y, int mo, int d, int h, int mi, int s, int ms, int64_t* out);
// 1..12 for "Jan".."Dec" (case-insensitive, first three letters), else 0.
int MonthFromAbbrev(std::string_view s);
// A timestamp without a year (RFC 3164, Android, Proxifier): the year that puts it nearest to
// received_ms without being more than kMaxFutureSkewMs after it, so a "Dec 31" line received on
// Jan 1 falls in the previous year and a "Jan 1 00:00:01" line received a second before midnight
// on Dec 31 in the next.
bool InferYear(int mo, int d, int h, int mi, int s, int ms, int64_t received_ms, int64_t* out);
// "Mmm dd hh:mm:ss[.frac]" or "Mmm dd yyyy hh:mm:ss" (day padded with a space or not), optionally
// followed by " yyyy"; the year inferred from received_ms when absent. Returns bytes consumed, 0
// when `s` does not start with one.
size_t ParseBsdTimestamp(std::string_view s, int64_t received_ms, int64_t* ms);
// "YYYY-MM-DD[T ]hh:mm:ss[.,frac][Z|±hh:mm|±hhmm|±hh]" at the start of `s`; UTC unless an offset
// is given. *consumed is how many bytes it took.
bool ParseIsoPrefix(std::string_view s, size_t* consumed, int64_t* ms);
// Epoch seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude) → ms.
bool EpochToMs(double v, int64_t* ms);
// A JSON time: an ISO string (all of it), a digit string or a number (epoch).
bool JsonTimeToMs(const boost::json::value& v, int64_t* ms);
// True when every byte is below 0x80 (a word at a time: cheaper than UTF-8 validation).
bool IsAscii(std::string_view s);
// The same for a tape's value (a scalar node; containers are no time).
bool JsonTimeToMs(const TapeNode& n, int64_t* ms);

// ---- JSON ----

// Parses `text` as one JSON object in `sp`, liberal about invalid UTF-8 (sanitised, keys too) and
// strict about depth (kMaxParsedJsonDepth). On failure returns false with "<what> at byte N".
bool ParseJsonObject(std::string_view text, boost::json::storage_ptr sp, boost::json::object* out,
                     std::string* error);
// Removes the values (leaves) beyond the first `max` in document order; returns how many it
// removed. Keeps every record bounded whatever the producer sent.
size_t PruneFields(boost::json::object& fields, size_t max);
// Removes every spelling of a dotted path (nested, dotted keys, or a mix) from `fields`.
void EraseAllForms(boost::json::object& fields, std::string_view path);

}  // namespace seccloud::soc::internal
