#pragma once
// The Windows event normaliser (R18): one Windows event rendered as JSON becomes a Record with
// winlogbeat's field names, so Sigma's Windows rules (which name EventData items) and searches see
// the same fields whatever tool exported the event.
//
// Accepted shapes of Record::raw (anything else: parsed=false and a precise
// "seccloud.soc.parse_error"):
//  - {"Event":{"System":{…},"EventData":{…}}} as evtx_dump / python-evtx write it, attributes under
//    "#attributes", element text under "#text"; EventData as an object of Name → value, or
//    {"Data":[{"#attributes":{"Name":"X"},"#text":"v"},…]} (or "Data" a single such object, or
//    unnamed Data items → param1, param2, …); UserData instead of EventData (the single child
//    element's children become event_data items). The "Event" wrapper may be omitted.
//  - winlogbeat's flat shape {"winlog":{…},"event":{…},"@timestamp":…}.
//
// Limits: JSON nesting ≤ kMaxWinlogDepth, at most kMaxWinlogFields EventData items.

#include <cstddef>

#include "soc/record.h"

namespace seccloud::soc {

inline constexpr size_t kMaxWinlogDepth = 64;
inline constexpr size_t kMaxWinlogFields = 1000;

// Rebuilds r.fields (and r.time_ms, r.parsed) from r.raw, r.received_ms, r.source, r.tenant and
// r.format. Fields: the common metadata of record.h, event.dataset (windows.security,
// windows.sysmon, windows.system, windows.application, windows.powershell, else windows.event),
// winlog.channel, winlog.provider_name, winlog.provider_guid, winlog.event_id (integer),
// winlog.record_id, winlog.computer_name, winlog.process.pid, winlog.user.identifier,
// winlog.event_data.<Name> (string or number as in the source), event.code, host.name and the
// ECS copies process.executable, process.command_line, process.parent.executable,
// process.parent.command_line, user.name, source.ip, destination.ip, destination.port.
// time_ms: System.TimeCreated's SystemTime (digits beyond milliseconds truncated), else
// "@timestamp" (winlogbeat), else received_ms.
void NormalizeWindowsEvent(Record& r);

namespace internal {
// NormalizeWindowsEvent without its tape path: every document built as a Boost.JSON tree, as
// before the tape (tests and the fuzz target compare the two; nothing else calls it).
void NormalizeWindowsEventFromTree(Record& r);
// What Normalize runs: NormalizeWindowsEvent, then the sender's address (seccloud.soc.peer). The
// evtx shape is kept as a pending overlay when its values allow (README.md, step 4) unless
// `overlay_allowed` is false (tests and soc_normalize_bench compare both: the fields read from
// the tape and built as a tree, as before the overlay).
void NormalizeWindowsEventWithPeer(Record& r, bool overlay_allowed = true);
}  // namespace internal

// The event.dataset of a Windows channel name ("Security" → "windows.security").
const char* WindowsDataset(std::string_view channel);

}  // namespace seccloud::soc
