#pragma once
// The SOC's log parsers (R18): one raw record → normalised ECS fields (soc::Record::fields).
//
// Formats: seccloud event spool lines, syslog (RFC 5424, RFC 3164, bare file lines, with
// sub-parsers for sshd, sudo, su, login/PAM and nftables/iptables kernel lines, Linux Audit
// records from audispd/audisp-syslog/audit(d) and Sysmon for Linux's XML events from sysmon),
// JSON lines, Suricata EVE, Apache/nginx access and error logs, Linux Audit records as lines of
// audit.log, and any other text line (timestamp and level sniffed). Field names are ECS as in
// /work/shared/events.md, plus "auditd.log.<key>" (Linux Audit) and "winlog.*" (Sysmon for Linux,
// named as Windows Sysmon's); event.dataset is "system.auth", "system.syslog", "firewall.flow",
// "auditd.log", "linux.sysmon", "ids.<event_type>", "web.access", "web.error", "json", "text" or
// the spool event's own. Other SOC components rely on these names.
//
// Thread safety: every function here is pure (no shared state) and safe to call concurrently.

#include <cstddef>
#include <string_view>

#include "soc/record.h"

namespace seccloud::soc {

// Bounds every parser applies, whatever the input.
inline constexpr size_t kMaxParsedFields = 1000;          // values (leaves) per record
inline constexpr int kMaxParsedJsonDepth = 64;            // nesting of a JSON record
inline constexpr size_t kMaxStructuredDataElements = 64;  // RFC 5424 SD-ELEMENTs kept

// Fills r.fields, r.time_ms and r.parsed from r.format, r.raw (its first kMaxRawBytes),
// r.received_ms, r.source, r.peer and r.tenant; r.truncated is left as ingest set it.
//
// Deterministic: the same inputs always give the same fields (the store rebuilds fields with it).
// Never throws. Every record gets "@timestamp", "event.ingested", "event.dataset",
// "seccloud.soc.source", "seccloud.soc.format", "tenant.id" (when r.tenant is non-empty) and
// "seccloud.soc.peer" (when r.peer is non-empty). A record its declared format does not
// describe gets parsed = false, event.dataset "soc.unparsed", "message" (the raw text,
// UTF-8-sanitised) and "seccloud.soc.parse_error" (what was expected where).
//
// Format::kWindowsEvent records go to NormalizeWindowsEvent (soc/winlog.h).
void Normalize(Record& r);

// Guesses the format of one line for sources configured as "auto". Never fails: a line nothing
// else claims is Format::kText.
Format SniffFormat(std::string_view line);

}  // namespace seccloud::soc
