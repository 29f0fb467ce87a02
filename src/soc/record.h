#pragma once
// One log record inside the SOC (R18, R19): what ingest produces, the store keeps, detection reads
// and alerts cite. The raw text is kept byte for byte; the normalised fields are ECS names in
// nested objects, the shape of /work/shared/events.md, so a Sigma rule, a search and the console
// all see the same names whatever the record's origin.
//
// Fields are a pure function of (format, raw, received_ms, peer, source, tenant): the store may
// keep only those and rebuild the fields with Normalize() when it reads a record back.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace seccloud::soc {

// The largest raw record ingest accepts; a longer line is cut here and the record marked
// truncated (never dropped).
inline constexpr size_t kMaxRawBytes = size_t{64} << 10;

// How `raw` is to be read. Stored with every record; values are persisted, never renumber.
enum class Format : uint8_t {
  kSeccloudEvent = 1,  // one line of a seccloud event spool (events.md)
  kSyslog = 2,         // RFC 5424, RFC 3164, or a bare "Mmm dd hh:mm:ss host tag: msg" line
  kJson = 3,           // one JSON object; ECS names used as they are
  kSuricataEve = 4,    // one Suricata EVE JSON record
  kAccessLog = 5,      // nginx/Apache combined (or common) access log line
  kWindowsEvent = 6,  // a Windows event rendered as JSON ({"Event":{"System":…,"EventData":…}})
  kText = 7,          // any other text line (Loghub samples, application logs): timestamp sniffed
};
const char* FormatName(Format format);  // "seccloud-event", "syslog", "json", "eve", …
bool ParseFormatName(std::string_view name, Format* out);

// A Record's field arena (record.cc): a monotonic resource, the counter of what it took from the
// heap, and its first block, in one allocation.
struct FieldArena;
// A record's kept tape and the metadata Normalize sets on it (parse_internal.h).
struct PendingFields;
namespace internal {
struct RecordAccess;
}
struct FieldArenaDeleter {
  void operator()(FieldArena* arena) const;
};

struct Record {
  Record() = default;
  // Normalize() builds `fields` in an arena of the record's own (UseFieldArena): one block
  // instead of a heap allocation per key and value. The Record owns the arena and the fields
  // refer to it without a reference count, so building a value costs no atomic increment and
  // dropping the fields is freeing the arena (no walk over every value). Hence a value or
  // object copied out of `fields` with Boost.JSON's copy constructor (which keeps the source's
  // storage) must not outlive the Record: copy it into a storage of its own
  // (`boost::json::value(v, boost::json::storage_ptr())`), as Record's own copies do. An arena
  // is not safe for two threads to allocate from, so a copy of a Record gets its fields on the
  // default heap, never sharing the original's arena; a move takes the arena along (unless the
  // fields are empty: the arena is freed then) and leaves the moved-from Record with empty
  // fields on the default heap.
  Record(const Record& other);
  Record& operator=(const Record& other);
  Record(Record&& other) noexcept;
  Record& operator=(Record&& other) noexcept;
  ~Record() = default;

  // The heap bytes this record holds, for bounds on memory (socd's pipeline): sizeof(Record),
  // raw's capacity and every byte its field arena took from the heap (its first block and each
  // block it added past it, counted as they are added: no walk over the fields). Normalize's
  // fields can be many times the raw size (a JSON array of 8 KiB of zeros is 4,000 values of
  // 16+ bytes each), so a bound on raw bytes does not bound them. Fields on the default heap (a
  // copy's, or fields set without Normalize) and the short strings source, peer and tenant are
  // not counted.
  size_t MemoryBytes() const;

  // The store's sequence number: unique within one store, increasing in the order records were
  // appended; 0 until LogStore::Append assigns it. Alerts cite their evidence by it.
  uint64_t seq = 0;
  // @timestamp: when it happened, ms since the Unix epoch, UTC. The parser takes it from the
  // record when the record has one (and it is plausible), else received_ms.
  int64_t time_ms = 0;
  int64_t received_ms = 0;  // when seccloud received the record
  Format format = Format::kText;
  std::string source;  // the ingest source's configured name ("spool:proxy", "syslog-udp", …)
  std::string peer;    // the sender's IP address for network sources, else ""
  std::string tenant;  // the tenant id attribution found, else ""
  std::string raw;     // the original bytes (not necessarily UTF-8), at most kMaxRawBytes

 private:
  friend void UseFieldArena(Record& r);
  friend void SetTenantField(Record& r);
  friend struct internal::RecordAccess;
  // Builds fields_ from pending_ (the kept tape and the normaliser's metadata) and drops
  // pending_. Const: the tree is a cache of what pending_ says.
  void BuildPendingFields() const;

  // The kept tape's arena once its tree was built (BuildPendingFields), else null: what a reader
  // took from the tape before the tree was built — a FieldView over the record, the FieldRefs and
  // string views it handed out (intel's hit, Sigma's filled values) — stays valid until the
  // record is moved, assigned, re-normalised or destroyed, which free it. Without it, one
  // reader building the tree (a correlation's terminal, an address FieldView must take from the
  // tree) freed the tape under the views the other readers of the same record still held.
  mutable std::unique_ptr<FieldArena, FieldArenaDeleter> retired_;
  // The storage of the fields (and of the kept tape) when Normalize() built them, else null.
  // Declared before them so that it outlives them.
  // Mutable: building a kept tape's tree (const fields()) moves the fields to a new arena.
  mutable std::unique_ptr<FieldArena, FieldArenaDeleter> arena_;
  // Seccloud events and JSON lines: Normalize keeps the line's tape (an exact-size copy in the
  // arena, viewing a copy of the line and of its decoded escapes in the arena) and what it would
  // have set, and the tree
  // is built from them on the first fields() call — the same tree, by the same code
  // (parse_internal.h, PendingFields). Null otherwise, and once the tree is built.
  mutable PendingFields* pending_ = nullptr;
  mutable boost::json::object fields_;

 public:
  // Normalised fields (ECS, nested objects). Always holds "@timestamp", "event.dataset",
  // "event.ingested", "seccloud.soc.source", "seccloud.soc.format" and, when known,
  // "tenant.id". Strings are valid UTF-8.
  //
  // Built on the first call when Normalize kept a tape instead (fields_pending()): the const
  // accessor then writes the record's cache, so two threads must not make the first call on one
  // Record at the same time (a Record is handed from thread to thread, never shared, in socd).
  const boost::json::object& fields() const {
    if (pending_ != nullptr) BuildPendingFields();
    return fields_;
  }
  boost::json::object& fields() {
    if (pending_ != nullptr) BuildPendingFields();
    return fields_;
  }
  // True while the fields are the kept tape and the normaliser's metadata, not yet a tree.
  bool fields_pending() const { return pending_ != nullptr; }
  // The kept tape while fields_pending(), else null (parse_internal.h).
  const PendingFields* pending_fields() const { return pending_; }

  bool parsed = false;     // false: no parser understood raw; fields hold only the metadata and
                           // "seccloud.soc.parse_error"
  bool truncated = false;  // raw was cut at kMaxRawBytes
};

// Replaces r.fields by an empty object in a new arena sized for r.raw (the previous fields and
// their storage are released). Values built in r.fields.storage() then cost no heap allocation
// each, and dropping the fields frees a few blocks instead of every key and value.
void UseFieldArena(Record& r);

// The value at a dotted path in nested objects ("source.ip" → fields["source"]["ip"]), or nullptr.
// A key that itself contains dots (as some JSON producers write, "source.ip": …) is found too:
// at each level the longest matching key wins.
const boost::json::value* FindField(const boost::json::object& fields, std::string_view path);

// Sets a dotted path, creating objects on the way; replaces a non-object in the way.
void SetField(boost::json::object& fields, std::string_view path, boost::json::value value);

// Attribution's last step (socd's pipeline), once it has set r.tenant (non-empty) after
// Normalize: SetField(r.fields(), "tenant.id", r.tenant). A pending record whose line has no
// root key "tenant" or "tenant.…" and whose Normalize ran without a tenant stays pending: its
// tenant goes into the metadata the tree is finished with (the tree Normalize builds with the
// tenant given: the same tree, "tenant" last at the root, as SetField makes it), so lookups,
// Prepare's tape walk and the tree built later all see it. Any other record: SetField.
void SetTenantField(Record& r);

// "2026-11-26T03:20:22.123Z" (RFC 3339, UTC, milliseconds) ⇄ ms since the epoch.
std::string FormatTimeMs(int64_t ms);
bool ParseRfc3339Ms(std::string_view text, int64_t* ms);

}  // namespace seccloud::soc
