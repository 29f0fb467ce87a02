// Normalize(): dispatch to the declared format's parser, then the metadata every record carries.
#include "soc/parse.h"

#include <exception>
#include <memory>

#include "core/event.h"
#include "core/ip.h"
#include "core/text.h"
#include "soc/parse_internal.h"
#include "soc/winlog.h"

namespace seccloud::soc {
namespace {

using internal::Parsed;

// The explicit list of parsers, one per stored Format.
void RunParser(Format format, std::string_view line, int64_t received_ms, Parsed& out) {
  switch (format) {
    case Format::kSeccloudEvent:
      return internal::ParseSeccloudEvent(line, out);
    case Format::kSyslog:
      return internal::ParseSyslog(line, received_ms, out);
    case Format::kJson:
    case Format::kWindowsEvent:  // Normalize() hands these to NormalizeWindowsEvent first
      return internal::ParseJsonLine(line, out);
    case Format::kSuricataEve:
      return internal::ParseEve(line, out);
    case Format::kAccessLog:
      return internal::ParseWebLog(line, received_ms, out);
    case Format::kText:
      return internal::ParseText(line, received_ms, out);
  }
  out.error = "unknown format number " + std::to_string(static_cast<int>(format));
}

// Formats whose fields come from the producer's own JSON: their keys may spell the metadata paths
// in any dotted shape, which must not shadow the values Normalize() sets.
bool FieldsComeFromJson(Format format) {
  return format == Format::kSeccloudEvent || format == Format::kJson ||
         format == Format::kWindowsEvent;
}

// The formats whose parsers only set dotted paths (parse_internal.h, FieldSink).
bool UsesOverlay(Format format) {
  return format == Format::kSyslog || format == Format::kAccessLog || format == Format::kText;
}

// Plausible record times: not before 1990 and not more than a day ahead of reception (a device
// with a wrong clock must not file its records years away from when they arrived).
bool IsPlausible(int64_t t, int64_t received_ms) {
  constexpr int64_t k1990 = 631152000000;
  if (t == internal::kNoTime || t < k1990) return false;
  return received_ms <= 0 || t <= received_ms + internal::kMaxFutureSkewMs;
}

std::string_view BoundedLine(const std::string& raw) {
  std::string_view line(raw.data(), std::min(raw.size(), kMaxRawBytes));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

}  // namespace

void Normalize(Record& r) { internal::NormalizeRecord(r, /*overlay_allowed=*/true); }

void internal::NormalizeRecord(Record& r, bool overlay_allowed) {
  if (r.format == Format::kWindowsEvent) {
    // The Windows normaliser with the sender's address (which NormalizeWindowsEvent leaves out).
    internal::NormalizeWindowsEventWithPeer(r, overlay_allowed);
    return;
  }
  r.parsed = false;
  const std::string_view line = BoundedLine(r.raw);
  // The fields are built in the record's own arena; Record's copies never share it (record.h).
  UseFieldArena(r);
  Parsed p(r.fields().storage());
  // Every leaf of a JSON document takes at least one byte of its text, so a line no longer
  // than the bound cannot hold more leaves than that and the walk is skipped. An EVE record's
  // fields are its own copy plus at most kEveMappedLeaves ECS values.
  const size_t most_leaves =
      line.size() + (r.format == Format::kSuricataEve ? internal::kEveMappedLeaves : 0);
  const bool may_exceed = most_leaves > kMaxParsedFields - 12;
  // Seccloud events and JSON lines are read into a tape and kept so (record.h: the tree is built
  // on demand) when the tape reads them exactly as the tree would be: valid UTF-8 (the tree's
  // strings are sanitised otherwise) and too short to be pruned. One scratch tape per thread.
  // An EVE record so is read into the tape and mapped into an overlay (parse_json.cc).
  thread_local FieldTape scratch;
  const bool eve_overlay = r.format == Format::kSuricataEve && overlay_allowed;
  if ((r.format == Format::kSeccloudEvent || r.format == Format::kJson || eve_overlay) &&
      !may_exceed && (internal::IsAscii(line) || IsValidUtf8(line))) {
    p.tape = &scratch;
  }
  // Syslog, access-log and text lines set only dotted paths: they go into an overlay, kept as the
  // record's pending fields (record.h: the tree is built on demand by replaying them).
  thread_local internal::FieldOverlay overlay;
  const bool use_overlay = UsesOverlay(r.format) || (eve_overlay && p.tape != nullptr);
  if (use_overlay) p.sink.UseOverlay(&overlay);
  // Seccloud events and JSON lines replace p.fields by the parsed object: a table reserved here
  // would only take room in the arena. (An overlay reserves it when it is replayed.)
  if (r.format != Format::kSeccloudEvent && r.format != Format::kJson && !use_overlay) {
    p.fields.reserve(16);
  }
  // A seccloud event's or JSON line's tape is read from the arena's copy of the line, which the
  // kept tape then views as it is (KeepTape: no pass to move its views). A line that turns out an
  // error leaves the copy unused in the arena's first block (FieldArenaFirstBlock: 2 KiB + 4 × the
  // raw size), beside the error's message (the line again).
  const bool tape_in_arena = p.tape != nullptr && !eve_overlay;
  std::string_view read_line = line;
  try {
    // Inside the try as every other allocation of this step: a copy that cannot be made leaves
    // the record unparsed with the reason, whatever the arena's sizing.
    if (tape_in_arena) read_line = internal::RecordAccess::CopyToArena(r, line);
    RunParser(r.format, read_line, r.received_ms, p);
  } catch (const std::exception& e) {
    // Only allocation failure can get here; the record is kept, unparsed, with the reason.
    p.Reset();
    p.error = std::string("the parser failed: ") + e.what();
  }
  if (p.error.empty() && line.empty()) p.error = "the record is empty";

  internal::FinishArgs a;
  a.format = r.format;
  a.received_ms = r.received_ms;
  a.source = r.source;
  a.peer = r.peer;
  a.tenant = r.tenant;
  a.may_exceed = may_exceed;
  if (!p.error.empty()) {
    if (r.truncated)
      p.error += " (the record was cut at " + std::to_string(kMaxRawBytes) + " bytes)";
    p.sink.Clear();
    p.sink.UseOverlay(nullptr);
    internal::PutString(p.fields, "message", line);
    internal::PutString(p.fields, "seccloud.soc.parse_error",
                        std::string(FormatName(r.format)) + ": " + p.error);
    internal::PutString(p.fields, "event.dataset", "soc.unparsed");
    r.time_ms = r.received_ms;
    a.time_ms = r.time_ms;
    internal::PutMetadata(p.fields, a);
    r.fields() = std::move(p.fields);
  } else {
    r.parsed = true;
    r.time_ms = IsPlausible(p.time_ms, r.received_ms) ? p.time_ms : r.received_ms;
    a.time_ms = r.time_ms;
    if (p.sink.overlay() != nullptr) {
      // The metadata as PutMetadata sets it, as entries after the parser's.
      internal::PutMetadata(p.sink, a);
      if (r.format != Format::kSuricataEve) {
        internal::RecordAccess::KeepOverlay(r, overlay, r.format);
      } else if (internal::RecordAccess::OverlayArenaBytes(overlay, 0) >
                 internal::FieldArenaFirstBlock(r.format, r.raw.size())) {
        // Larger than the tree's first block: the tree, as the overlay replays it.
        r.fields() = std::move(p.sink.Tree());
      } else {
        // In an arena of the overlay's own size; no two paths are related: the ECS leaves are
        // distinct and none a prefix of another, the document's are under "suricata" with
        // distinct keys without '.' in each object (AppendEveDocument), the metadata's apart.
        internal::RecordAccess::UseOverlayArena(r, overlay, 0);
        internal::RecordAccess::KeepOverlay(r, overlay, r.format, /*unrelated=*/true);
      }
    } else if (p.tape_read) {
      if (const TapeNode* d =
              p.tape_dataset != nullptr ? p.tape_dataset : FindInTape(scratch, "event.dataset");
          d != nullptr && d->kind == TapeKind::kString) {
        a.dataset = d->str();
      } else {
        a.dataset = p.json_dataset;
      }
      internal::RecordAccess::KeepTape(r, scratch, read_line, a, tape_in_arena);
    } else {
      // FinishFields reads the dataset only where it erases or prunes it (JSON-sourced formats,
      // and EVE when long enough to prune): the lookup is skipped for the others.
      if (FieldsComeFromJson(r.format) || (r.format == Format::kSuricataEve && may_exceed)) {
        if (const auto* d = FindField(p.fields, "event.dataset"); d != nullptr && d->is_string()) {
          a.dataset = d->get_string();
        } else {
          a.dataset = p.json_dataset;
        }
      }
      internal::FinishFields(p.fields, a);
      r.fields() = std::move(p.fields);
    }
  }
  // A long line leaves the scratch tape about 41 bytes per byte of it: given back past 1 MiB.
  // (Today only lines of at most kMaxParsedFields - 12 bytes are read into the tape, ~41 KB;
  // the guard stays for when longer ones are.)
  if (p.tape != nullptr) scratch.ShrinkTo(size_t{1} << 20);
}

namespace internal {

void FinishFields(boost::json::object& f, const FinishArgs& a) {
  // The dataset may view f's own string, which the steps below erase and set again.
  const std::string dataset_copy(a.dataset);
  std::string_view dataset = dataset_copy;
  if ((FieldsComeFromJson(a.format) || a.format == Format::kSuricataEve) && a.may_exceed) {
    // The producer chose how many values it sent; keep room for the metadata set below.
    const size_t dropped = internal::PruneFields(f, kMaxParsedFields - 12);
    if (dropped > 0) {
      internal::PutInt(f, "seccloud.soc.fields_dropped", static_cast<int64_t>(dropped));
      if (!dataset.empty()) internal::PutString(f, "event.dataset", dataset);
    }
  }
  if (FieldsComeFromJson(a.format)) {
    for (std::string_view path :
         {"@timestamp", "event.ingested", "event.dataset", "seccloud.soc.source",
          "seccloud.soc.format", "seccloud.soc.peer", "seccloud.soc.parse_error"}) {
      internal::EraseAllForms(f, path);
    }
    // A spool line is our own services' event and keeps its tenant when ingest found none;
    // anything from the network gets its tenant only from attribution.
    if (a.format != Format::kSeccloudEvent || !a.tenant.empty()) {
      internal::EraseAllForms(f, "tenant.id");
    }
    // Producers write addresses in every spelling; the SOC compares normalised text.
    for (std::string_view path :
         {"source.ip", "destination.ip", "client.ip", "server.ip", "host.ip", "related.ip"}) {
      const auto* v = FindField(f, path);
      if (v == nullptr || !v->is_string()) continue;
      const std::string_view text = v->get_string();
      // Text without ':' is dotted-quad or no address at all (IpAddress::Parse): kept as it is.
      if (text.find(':') == std::string_view::npos) continue;
      auto ip = IpAddress::Parse(text);
      // Dotted-quad text that parsed is already canonical (Parse refuses leading zeros).
      if (!ip || ip->is_v4()) continue;
      if (ip->Unmapped().ToString() != text) {
        const std::string copy(text);  // the value is erased before it is set again
        internal::EraseAllForms(f, path);
        internal::PutIp(f, path, copy);
      }
    }
    if (dataset.empty()) dataset = a.format == Format::kSeccloudEvent ? "seccloud.event" : "json";
    internal::PutString(f, "event.dataset", dataset);
  }
  PutMetadata(f, a);
}

void PutMetadata(boost::json::object& f, const FinishArgs& a) {
  internal::PutTime(f, "@timestamp", a.time_ms);
  internal::PutTime(f, "event.ingested", a.received_ms);
  internal::PutSourceAndFormat(f, a.source, /*sanitize=*/true, a.format);
  if (!a.tenant.empty()) internal::PutString(f, "tenant.id", a.tenant);
  if (!a.peer.empty() && !internal::PutIp(f, "seccloud.soc.peer", a.peer)) {
    internal::PutString(f, "seccloud.soc.peer", a.peer);
  }
}

void PutMetadata(FieldSink& f, const FinishArgs& a) {
  FieldOverlay& o = *f.overlay();
  f.Unbound();  // the overlay must stay whole: Normalize keeps it next
  PutTime(o, "@timestamp", a.time_ms);
  PutTime(o, "event.ingested", a.received_ms);
  f.String("seccloud.soc.source", a.source);  // PutSourceAndFormat's two leaves
  f.String("seccloud.soc.format", FormatName(a.format));
  if (!a.tenant.empty()) f.String("tenant.id", a.tenant);
  if (!a.peer.empty() && !PutIp(f, "seccloud.soc.peer", a.peer)) {
    f.String("seccloud.soc.peer", a.peer);
  }
}

}  // namespace internal

Format SniffFormat(std::string_view line) {
  // A UTF-8 BOM or blanks before the record say nothing about its format.
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  line = internal::TrimSpaces(line);
  if (line.empty()) return Format::kText;
  if (line.front() == '{') {
    // Cheap look at the key names; the parser does the real work.
    const std::string_view head = line.substr(0, 4096);
    if (head.find("\"event_type\"") != std::string_view::npos) return Format::kSuricataEve;
    if (head.find("\"EventID\"") != std::string_view::npos ||
        (head.find("\"Event\"") != std::string_view::npos &&
         head.find("\"System\"") != std::string_view::npos)) {
      return Format::kWindowsEvent;
    }
    if (head.find("\"seccloud\"") != std::string_view::npos &&
        head.find("\"dataset\"") != std::string_view::npos) {
      return Format::kSeccloudEvent;
    }
    return Format::kJson;
  }
  if (internal::LooksLikeSyslog(line)) return Format::kSyslog;
  if (internal::LooksLikeWebLog(line)) return Format::kAccessLog;
  return Format::kText;
}

}  // namespace seccloud::soc
