#include "soc/record.h"

#include <algorithm>
#include <array>
#include <bit>
#include <boost/json/monotonic_resource.hpp>
#include <charconv>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <stdexcept>

#include "core/civil_date.h"
#include "core/text.h"
#include "soc/detection.h"
#include "soc/field_view.h"
#include "soc/parse_internal.h"

namespace seccloud::soc {
namespace {

constexpr std::array<std::pair<Format, const char*>, 7> kFormatNames = {{
    {Format::kSeccloudEvent, "seccloud-event"},
    {Format::kSyslog, "syslog"},
    {Format::kJson, "json"},
    {Format::kSuricataEve, "eve"},
    {Format::kAccessLog, "access-log"},
    {Format::kWindowsEvent, "windows-event"},
    {Format::kText, "text"},
}};

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

const char* LevelName(Level level) {
  switch (level) {
    case Level::kInformational:
      return "informational";
    case Level::kLow:
      return "low";
    case Level::kMedium:
      return "medium";
    case Level::kHigh:
      return "high";
    case Level::kCritical:
      return "critical";
  }
  return "unknown";
}

bool ParseLevelName(std::string_view name, Level* out) {
  for (Level l :
       {Level::kInformational, Level::kLow, Level::kMedium, Level::kHigh, Level::kCritical}) {
    if (name == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

const char* FormatName(Format format) {
  for (const auto& [f, name] : kFormatNames) {
    if (f == format) return name;
  }
  return "unknown";
}

bool ParseFormatName(std::string_view name, Format* out) {
  for (const auto& [f, n] : kFormatNames) {
    if (name == n) {
      *out = f;
      return true;
    }
  }
  return false;
}

namespace {

// Gives `fields` a new storage: boost::json keeps an object's storage for life (assignment copies
// into it), so changing it means ending the object and starting another in its place.
void Rebind(boost::json::object& fields, boost::json::object&& from) {
  std::destroy_at(&fields);
  std::construct_at(&fields, std::move(from));
}

}  // namespace

// A copy gets its fields as a tree on the default heap (record.h), built first when `o` still
// holds them as a tape.
Record::Record(const Record& o)
    : seq(o.seq),
      time_ms(o.time_ms),
      received_ms(o.received_ms),
      format(o.format),
      source(o.source),
      peer(o.peer),
      tenant(o.tenant),
      raw(o.raw),
      fields_(o.fields(), boost::json::storage_ptr()),
      parsed(o.parsed),
      truncated(o.truncated) {}

Record& Record::operator=(const Record& o) {
  if (this == &o) return *this;
  seq = o.seq;
  time_ms = o.time_ms;
  received_ms = o.received_ms;
  format = o.format;
  source = o.source;
  peer = o.peer;
  tenant = o.tenant;
  raw = o.raw;
  Rebind(fields_, boost::json::object(o.fields(), boost::json::storage_ptr()));
  pending_ = nullptr;
  arena_.reset();  // after the fields that used it
  retired_.reset();
  parsed = o.parsed;
  truncated = o.truncated;
  return *this;
}

Record::Record(Record&& o) noexcept
    : seq(o.seq),
      time_ms(o.time_ms),
      received_ms(o.received_ms),
      format(o.format),
      source(std::move(o.source)),
      peer(std::move(o.peer)),
      tenant(std::move(o.tenant)),
      raw(std::move(o.raw)),
      parsed(o.parsed),
      truncated(o.truncated) {
  // Non-empty fields (or a kept tape) come with their storage and its arena; emptied fields
  // (`r.fields() = {}` before keeping a record) leave theirs behind, freed here, so that kept
  // records hold no arena.
  if (!o.fields_.empty() || o.pending_ != nullptr) {
    Rebind(fields_, std::move(o.fields_));
    arena_ = std::move(o.arena_);
    pending_ = o.pending_;  // in the arena, with everything it views
  }
  Rebind(o.fields_, boost::json::object());
  o.pending_ = nullptr;
  o.arena_.reset();
  o.retired_.reset();  // views of a moved-from record are void (record.h)
}

Record& Record::operator=(Record&& o) noexcept {
  if (this == &o) return *this;
  seq = o.seq;
  time_ms = o.time_ms;
  received_ms = o.received_ms;
  format = o.format;
  source = std::move(o.source);
  peer = std::move(o.peer);
  tenant = std::move(o.tenant);
  raw = std::move(o.raw);
  // The old fields end before their arena; non-empty new ones keep o's storage and its arena,
  // emptied ones leave it behind (as the move constructor does).
  if (o.fields_.empty() && o.pending_ == nullptr) {
    Rebind(fields_, boost::json::object());
    pending_ = nullptr;
    arena_.reset();
  } else {
    Rebind(fields_, std::move(o.fields_));
    arena_ = std::move(o.arena_);
    pending_ = o.pending_;
  }
  Rebind(o.fields_, boost::json::object());
  o.pending_ = nullptr;
  o.arena_.reset();
  retired_.reset();
  o.retired_.reset();
  parsed = o.parsed;
  truncated = o.truncated;
  return *this;
}

// What a field arena took from the heap: the monotonic resource's upstream, forwarding to
// ::operator new as Boost.JSON's default resource does. Only the arena's own thread allocates
// from it (record.h), so the count is a plain size_t.
class CountingUpstream final : public boost::json::memory_resource {
 public:
  explicit CountingUpstream(size_t taken) : taken_(taken) {}
  size_t taken() const { return taken_; }

 private:
  void* do_allocate(size_t n, size_t /*align*/) override {
    void* p = ::operator new(n);
    taken_ += n;
    return p;
  }
  // Unsized: Boost 1.81's monotonic_resource::release passes a block's usable size, not the size
  // it allocated.
  void do_deallocate(void* p, size_t /*n*/, size_t /*align*/) override { ::operator delete(p); }
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override {
    return this == &other;
  }

  size_t taken_;
};

struct FieldArena {
  FieldArena(unsigned char* first, size_t first_bytes, size_t allocated)
      : upstream(allocated), resource(first, first_bytes, boost::json::storage_ptr(&upstream)) {}

  CountingUpstream upstream;  // declared first: the resource frees its blocks into it
  boost::json::monotonic_resource resource;
};

void FieldArenaDeleter::operator()(FieldArena* arena) const {
  arena->~FieldArena();  // frees the blocks the resource added past the first
  ::operator delete(static_cast<void*>(arena));
}

namespace {

// A field arena whose first block holds `first` bytes.
std::unique_ptr<FieldArena, FieldArenaDeleter> NewFieldArenaOf(size_t first) {
  constexpr size_t kHead = (sizeof(FieldArena) + 15) / 16 * 16;
  void* mem = ::operator new(kHead + first);
  return std::unique_ptr<FieldArena, FieldArenaDeleter>(
      new (mem) FieldArena(static_cast<unsigned char*>(mem) + kHead, first, kHead + first));
}

// A field arena whose first block is sized for the tree Normalize builds for a record of this
// format and raw size.
std::unique_ptr<FieldArena, FieldArenaDeleter> NewFieldArena(Format format, size_t raw_size) {
  return NewFieldArenaOf(internal::FieldArenaFirstBlock(format, raw_size));
}

}  // namespace

namespace internal {

size_t FieldArenaFirstBlock(Format format, size_t raw_size) {
  // The arena grows geometrically past its first block, which is allocated with the resource; a
  // first block too small costs a second allocation (and its freeing) of at least twice its size,
  // so it is sized for what Normalize builds: measured on bench/loggen's data set (every record's
  // arena use against its raw size), a JSON record's parsed tree and metadata take up to
  // 1.5 KiB + 4 × its text (keys and long strings allocated apart, 32 bytes per member), an EVE
  // record up to 3 KiB + 4 × (its tree and the ECS values mapped from it), a Windows event (its
  // document parsed in the arena too, when small) up to 1.9 KiB + 5 ×, a syslog, access-log or text
  // line up to 3.3 KiB + 2 × (a table of 16 members and the objects of ~10 dotted paths). The old
  // sizes (1 KiB + 4 × or 2 ×) were outgrown by nearly every record.
  size_t base = 3584, factor = 2;
  switch (format) {
    case Format::kSeccloudEvent:
    case Format::kJson:
      base = 2048, factor = 4;
      break;
    case Format::kSuricataEve:
      base = 3584, factor = 4;
      break;
    case Format::kWindowsEvent:  // the document is in the arena up to kWinlogArenaDocBytes
      base = 2560, factor = raw_size <= internal::kWinlogArenaDocBytes ? 5 : 2;
      break;
    default:
      break;
  }
  return std::min<size_t>(base + factor * raw_size, size_t{64} << 10);
}

}  // namespace internal

// The tree, built from the kept tape by the steps Normalize would have run on the tree it parsed:
// TapeToValue builds the tree Boost's parser builds (field_tape.h), then FinishFields. It is built
// in a new arena, sized as UseFieldArena sizes one for the tree alone: building into the old one
// made the tree outgrow the first block, which the tape had partly taken. The old arena (the kept
// tape and its copies of the line) is retired, not freed: readers of the record may still hold
// views into the tape (record.h, retired_); it goes when the record is moved, assigned,
// re-normalised or destroyed. The record is changed only once the tree is whole, so a failed
// build (an exception: memory) leaves it pending as it was.
void Record::BuildPendingFields() const {
  const PendingFields& p = *pending_;
  if (p.overlay != nullptr) {
    // The parser's and the metadata's SetPath calls replayed in order, in the record's own arena
    // (the entries stay there: answers taken from them remain valid), then attribution's SetField
    // as SetTenantField would have made it: the tree Normalize and SetField built.
    boost::json::object built(fields_.storage());
    built.reserve(16);  // as Normalize reserves the tree of these formats
    internal::ReplayOverlay(built, p.overlay, p.overlay_size);
    if (!p.tenant.empty()) {
      SetField(built, "tenant.id", boost::json::string(std::string(p.tenant)));
    }
    Rebind(fields_, std::move(built));
    pending_ = nullptr;
    return;
  }
  std::unique_ptr<FieldArena, FieldArenaDeleter> arena = NewFieldArena(p.format, p.line_size);
  boost::json::storage_ptr sp(&arena->resource);
  boost::json::value v = TapeToValue(p.tape, 0, sp);
  boost::json::object built = std::move(v.get_object());
  internal::FinishArgs a;
  a.format = p.format;
  a.time_ms = p.time_ms;
  a.received_ms = p.received_ms;
  a.dataset = p.dataset;
  a.source = p.source;
  a.peer = p.peer;
  a.tenant = p.tenant;
  a.may_exceed = false;  // only lines that cannot be pruned are kept as tapes
  internal::FinishFields(built, a);
  // Nothing below throws: the fields take the new arena's tree, then the old arena is retired.
  Rebind(fields_, std::move(built));
  pending_ = nullptr;
  retired_ = std::move(arena_);
  arena_ = std::move(arena);
}

namespace internal {

std::string_view RecordAccess::CopyToArena(Record& r, std::string_view line) {
  char* copy = static_cast<char*>(r.arena_->resource.allocate(line.size() + 1, 1));
  if (!line.empty()) std::memcpy(copy, line.data(), line.size());
  return {copy, line.size()};
}

void RecordAccess::KeepTape(Record& r, const FieldTape& tape, std::string_view line,
                            const FinishArgs& a, bool line_in_arena) {
  boost::json::monotonic_resource& res = r.arena_->resource;
  // The line is copied into the arena (unless the caller read the tape from such a copy) and the
  // used decode bytes too, the views moved to the copies: the kept tape then depends on nothing
  // but the arena, which moves with the record (a short raw lives in the Record itself and moves
  // to a new address; raw may be reassigned later), so no view has to follow a move.
  const char* copy = line_in_arena ? line.data() : CopyToArena(r, line).data();
  auto* p = new (res.allocate(sizeof(PendingFields), alignof(PendingFields))) PendingFields();
  const size_t n = tape.size();
  auto* nodes = static_cast<TapeNode*>(res.allocate(n * sizeof(TapeNode), alignof(TapeNode)));
  if (n != 0) std::memcpy(static_cast<void*>(nodes), tape.data(), n * sizeof(TapeNode));
  const size_t decoded = tape.decoded_bytes();
  char* decoded_copy = nullptr;
  if (decoded != 0) {
    decoded_copy = static_cast<char*>(res.allocate(decoded, 1));
    std::memcpy(decoded_copy, tape.decoded_data(), decoded);
  }
  // A tape read from the arena's copy views it already: only decoded text has to move, and a
  // line without escapes (every bench line) needs no pass over the nodes at all.
  if (!line_in_arena || decoded != 0) {
    const uintptr_t line_at = reinterpret_cast<uintptr_t>(line.data());
    const uintptr_t decoded_at = reinterpret_cast<uintptr_t>(tape.decoded_data());
    auto moved = [&](const char* q) -> const char* {
      const uintptr_t at = reinterpret_cast<uintptr_t>(q);
      if (at - line_at <= line.size()) return copy + (at - line_at);
      if (decoded != 0 && at - decoded_at <= decoded) return decoded_copy + (at - decoded_at);
      return q;
    };
    // Empty keys and strings too: they point at the copy, never at what may be freed.
    for (size_t i = 0; i < n; ++i) {
      nodes[i].key_data = nodes[i].key_size != 0 ? moved(nodes[i].key_data) : copy;
      if (nodes[i].kind == TapeKind::kString)
        nodes[i].s.data = nodes[i].s.size != 0 ? moved(nodes[i].s.data) : copy;
    }
  }
  auto keep = [&](std::string_view s) -> std::string_view {
    if (s.empty()) return {};
    char* c = static_cast<char*>(res.allocate(s.size(), 1));
    std::memcpy(c, s.data(), s.size());
    return {c, s.size()};
  };
  p->tape = {nodes, n};
  p->line = copy;
  p->line_size = line.size();
  p->format = a.format;
  p->time_ms = a.time_ms;
  p->received_ms = a.received_ms;
  // The dataset is the line's own text when the tape found it there: already in the arena.
  const uintptr_t dataset_off =
      reinterpret_cast<uintptr_t>(a.dataset.data()) - reinterpret_cast<uintptr_t>(copy);
  const bool dataset_in_copy = line_in_arena && !a.dataset.empty() && dataset_off < line.size() &&
                               a.dataset.size() <= line.size() - dataset_off;
  p->dataset = dataset_in_copy ? a.dataset : keep(a.dataset);
  p->source = keep(a.source);
  p->peer = keep(a.peer);
  p->tenant = keep(a.tenant);
  p->view_exact = TapeViewExact(p->tape);
  r.pending_ = p;
}

void RecordAccess::KeepOverlay(Record& r, const FieldOverlay& overlay, Format format,
                               bool unrelated) {
  boost::json::monotonic_resource& res = r.arena_->resource;
  auto* p = new (res.allocate(sizeof(PendingFields), alignof(PendingFields))) PendingFields();
  const size_t n = overlay.entries.size();
  auto* entries = static_cast<OverlayEntry*>(
      res.allocate(std::max<size_t>(n, 1) * sizeof(OverlayEntry), alignof(OverlayEntry)));
  const size_t bytes = overlay.bytes.size();
  char* copy = static_cast<char*>(res.allocate(bytes + 1, 1));
  if (bytes != 0) std::memcpy(copy, overlay.bytes.data(), bytes);
  for (size_t i = 0; i < n; ++i) {
    OverlayEntry* e = new (&entries[i]) OverlayEntry(overlay.entries[i]);
    if (OverlayKindHasText(e->kind)) e->str = std::string_view(copy + e->at, e->len);
  }
  for (const FieldOverlay::OwnPath& o : overlay.own_paths) {
    entries[o.entry].path = std::string_view(copy + o.at, o.len);
  }
  // The index (PendingFields::overlay_roots, overlay_heads; OverlayEntry::flags, next_live), from
  // the last entry to the first: an entry is replaced when a later one of its root bit (related
  // paths share their first segment) is related to it, whether or not that one was replaced in
  // turn ("a.b", then "a", then "a.c": "a.b" is gone). Each group's later entries are chained
  // while it runs (`later`, `next`); the live ones, the readers' chains, in next_live.
  if (n >= kNoOverlayEntry) throw std::length_error("an overlay of 65,535 entries or more");
  std::array<uint16_t, 64> later, live;
  later.fill(kNoOverlayEntry);
  live.fill(kNoOverlayEntry);
  std::array<uint16_t, 128> small_next;
  std::unique_ptr<uint16_t[]> large_next;
  uint16_t* next = small_next.data();
  if (n > small_next.size()) {
    large_next = std::make_unique<uint16_t[]>(n);
    next = large_next.get();
  }
  constexpr std::string_view kTenant = "tenant.id";
  uint64_t roots = OverlayRootBit("tenant");  // the tenant SetTenantField may give later
  for (size_t i = n; i-- > 0;) {
    OverlayEntry& e = entries[i];
    if (e.root == kNoRoot) {  // an entry not made from a SinkPath
      e.root = static_cast<uint8_t>(std::countr_zero(OverlayRootBit(e.path)));
      e.flags = OverlayRelated(e.path, kTenant) ? kOverlayTenantRelated : 0;
    }
    const int b = e.root;
    roots |= uint64_t{1} << b;
    bool replaced = false;
    for (uint16_t j = unrelated ? kNoOverlayEntry : later[b]; j != kNoOverlayEntry && !replaced;
         j = next[j]) {
      replaced = OverlayRelated(e.path, entries[j].path);
    }
    e.flags =
        static_cast<uint8_t>((e.flags & kOverlayTenantRelated) | (replaced ? kOverlayReplaced : 0));
    next[i] = later[b];
    later[b] = static_cast<uint16_t>(i);
    e.next_live = kNoOverlayEntry;
    if (!replaced) {
      e.next_live = live[b];
      live[b] = static_cast<uint16_t>(i);
    }
  }
  auto* heads = static_cast<uint16_t*>(res.allocate(
      static_cast<size_t>(std::popcount(roots)) * sizeof(uint16_t), alignof(uint16_t)));
  size_t k = 0;
  for (uint64_t m = roots; m != 0; m &= m - 1) heads[k++] = live[std::countr_zero(m)];
  p->format = format;
  p->line = copy;
  p->overlay = entries;
  p->overlay_size = static_cast<uint32_t>(n);
  p->overlay_roots = roots;
  p->overlay_heads = heads;
  r.pending_ = p;
}

void RecordAccess::IndexWinlogItems(Record& r, size_t first, size_t n) {
  PendingFields& p = *r.pending_;
  if (n == 0) return;
  const size_t slots = std::bit_ceil(2 * n);
  auto* table = static_cast<uint16_t*>(
      r.arena_->resource.allocate(slots * sizeof(uint16_t), alignof(uint16_t)));
  std::fill(table, table + slots, kNoOverlayEntry);
  const uint32_t mask = static_cast<uint32_t>(slots - 1);
  for (size_t i = first; i < first + n; ++i) {
    uint32_t k = WinlogItemHash(p.overlay[i].path.substr(kWinlogItemPrefix.size())) & mask;
    while (table[k] != kNoOverlayEntry) k = (k + 1) & mask;
    table[k] = static_cast<uint16_t>(i);
  }
  p.winlog_items = table;
  p.winlog_items_mask = mask;
}

void RecordAccess::UseArena(Record& r, std::unique_ptr<FieldArena, FieldArenaDeleter> arena) {
  // A plain pointer: storage_ptr then counts nothing and, the resource's deallocation being
  // trivial, ~object does not visit the values (the Record owns the arena: record.h).
  Rebind(r.fields_, boost::json::object(boost::json::storage_ptr(&arena->resource)));
  r.pending_ = nullptr;
  r.arena_ = std::move(arena);  // after the old fields, which may have used the old arena
  r.retired_.reset();
}

size_t RecordAccess::OverlayArenaBytes(const FieldOverlay& overlay, size_t winlog_items) {
  // What KeepOverlay and IndexWinlogItems allocate, each allocation with its alignment's padding
  // at most: the pending fields, the entries, their bytes, one head per root bit (the tenant's
  // and at most one per entry, of 64) and the items' table; and room for the copy of a tenant
  // SetTenantField may give later (socd's attribution, after Normalize), which past the block
  // would add one of the block's size: a configured tenant id is at most 32 bytes
  // (IsIdentifier), a longer one adds that block.
  constexpr size_t kTenantRoom = 32;
  const size_t n = overlay.entries.size();
  size_t need = kTenantRoom + sizeof(PendingFields) + alignof(PendingFields) +
                std::max<size_t>(n, 1) * sizeof(OverlayEntry) + alignof(OverlayEntry) +
                overlay.bytes.size() + 1 + (std::min<size_t>(n, 63) + 1) * sizeof(uint16_t) +
                alignof(uint16_t);
  if (winlog_items != 0) {
    need += std::bit_ceil(2 * winlog_items) * sizeof(uint16_t) + alignof(uint16_t);
  }
  return need;
}

void RecordAccess::UseOverlayArena(Record& r, const FieldOverlay& overlay, size_t winlog_items) {
  UseArena(r, NewFieldArenaOf(OverlayArenaBytes(overlay, winlog_items)));
}

}  // namespace internal

size_t Record::MemoryBytes() const {
  return sizeof(Record) + raw.capacity() + (arena_ ? arena_->upstream.taken() : 0) +
         (retired_ ? retired_->upstream.taken() : 0);
}

void UseFieldArena(Record& r) {
  internal::RecordAccess::UseArena(r, NewFieldArena(r.format, r.raw.size()));
}

const boost::json::value* FindField(const boost::json::object& fields, std::string_view path) {
  // Objects up to this size are searched with one pass over their keys (Boost.JSON keeps no hash
  // index for them either, so each if_contains below would be a pass of its own).
  constexpr size_t kLinearKeys = 18;
  const boost::json::object* obj = &fields;
  while (true) {
    if (path.empty()) return nullptr;
    if (obj->size() <= kLinearKeys) {
      // The longest key that is the path or a prefix of it ending before a '.', among those whose
      // value can be used: the whole path's value, or an object to descend into. The same choice
      // as the longest-first loop below, in one pass.
      const boost::json::value* best = nullptr;
      size_t best_len = 0;
      for (const auto& kv : *obj) {
        const std::string_view k(kv.key().data(), kv.key().size());
        if (k.empty() || k.size() <= best_len || k.size() > path.size() || k[0] != path[0] ||
            (k.size() != path.size() && path[k.size()] != '.') ||
            std::memcmp(k.data(), path.data(), k.size()) != 0) {
          continue;
        }
        if (k.size() != path.size() && !kv.value().is_object()) continue;
        best = &kv.value();
        best_len = k.size();
      }
      if (best == nullptr) return nullptr;
      if (best_len == path.size()) return best;
      obj = &best->get_object();
      path.remove_prefix(best_len + 1);
      continue;
    }
    // Longest key first: "a.b.c" may be stored as {"a.b":{"c":…}} or {"a":{"b.c":…}}.
    for (size_t end = path.size();; end = path.rfind('.', end - 1)) {
      if (end == std::string_view::npos || end == 0) return nullptr;
      const auto* v = obj->if_contains(path.substr(0, end));
      if (v != nullptr) {
        if (end == path.size()) return v;
        if (const auto* next = v->if_object()) {
          obj = next;
          path.remove_prefix(end + 1);
          break;
        }
      }
      if (end == 0) return nullptr;
    }
  }
}

void SetField(boost::json::object& fields, std::string_view path, boost::json::value value) {
  boost::json::object* obj = &fields;
  while (true) {
    const size_t dot = path.find('.');
    if (dot == std::string_view::npos) {
      (*obj)[path] = std::move(value);
      return;
    }
    boost::json::value& next = (*obj)[path.substr(0, dot)];
    if (!next.is_object()) next = boost::json::object();
    obj = &next.as_object();
    path.remove_prefix(dot + 1);
  }
}

void SetTenantField(Record& r) {
  if (r.tenant.empty()) return;
  if (PendingFields* p = r.pending_; p != nullptr && p->overlay != nullptr && p->tenant.empty()) {
    // Replayed as SetField after the overlay's entries (BuildPendingFields), read as the last
    // entry by FieldView and Prepare's tokens.
    char* c = static_cast<char*>(r.arena_->resource.allocate(r.tenant.size(), 1));
    std::memcpy(c, r.tenant.data(), r.tenant.size());
    p->tenant = std::string_view(c, r.tenant.size());
    return;
  }
  if (PendingFields* p = r.pending_;
      p != nullptr && p->tenant.empty() && (internal::IsAscii(r.tenant) || IsValidUtf8(r.tenant))) {
    // The line's own root keys: none may be "tenant" or start with "tenant." (FinishFields would
    // erase a tenant.id there and set the new one in another place than SetField does).
    const TapeSpan t = p->tape;
    bool tenant_key = t.empty() || t[0].kind != TapeKind::kObject;
    for (size_t i = 1; !tenant_key && i < t[0].end; i = t[i].end) {
      const std::string_view k = t[i].key();
      tenant_key = k.starts_with("tenant") && (k.size() == 6 || k[6] == '.');
    }
    if (!tenant_key) {
      char* c = static_cast<char*>(r.arena_->resource.allocate(r.tenant.size(), 1));
      std::memcpy(c, r.tenant.data(), r.tenant.size());
      p->tenant = std::string_view(c, r.tenant.size());
      return;
    }
  }
  SetField(r.fields(), "tenant.id", boost::json::string(r.tenant));
}

std::string FormatTimeMs(int64_t ms) {
  if (char fast[24]; internal::FormatTimeChars(ms, fast) != 0) return std::string(fast, 24);
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

bool ParseRfc3339Ms(std::string_view s, int64_t* ms) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  int millis = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return false;
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  int64_t offset_minutes = 0;
  if (pos == s.size()) return false;  // RFC 3339 requires the offset
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return false;
    }
    offset_minutes = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t secs =
      days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - offset_minutes * 60;
  *ms = secs * 1000 + millis;
  return true;
}

}  // namespace seccloud::soc
