#pragma once
// The formats of a ClamAV signature mirror in the freshclam layout (R7, R8): the 512-byte header
// of a .cvd/.cld/.cud container and the version record (the TXT record of current.cvd.clamav.net
// that freshclam reads, which cvdupdate saves as dns.txt). Pure functions over untrusted bytes,
// shared by the updater and the fuzz target.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace seccloud::scan {

// A decimal number field of ClamAV's formats (container headers, version records, .cdiff
// scripts): 1 to 19 digits and nothing else, within T.
template <class T>
std::optional<T> ParseClamavNumber(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

inline constexpr size_t kCvdHeaderBytes = 512;

// "ClamAV-VDB:<build time>:<version>:<signatures>:<flevel>:<md5>:<dsig>:<builder>:<stime>",
// padded with blanks to 512 bytes.
struct CvdHeader {
  std::string build_time;  // as written, "26 Nov 2026 09-03 +0000"
  uint32_t version = 0;
  uint32_t signatures = 0;
  uint32_t functionality_level = 0;
  std::string md5;      // of the archive after the header, 32 lower-case hex digits; "X" in a .cld
  std::string dsig;     // ClamAV's signature over the MD5; "X" in unsigned containers
  std::string builder;  // who built it
  int64_t build_unix_time = 0;  // the stime field: what "older than loaded" compares
  bool unsigned_container() const { return dsig == "X"; }
  bool has_md5() const { return md5 != "X"; }
};

// Parses a container's first kCvdHeaderBytes bytes (fewer is an error: a truncated file).
Result<CvdHeader> ParseCvdHeader(std::string_view header);

// "<engine>:<main>:<daily>:<record time>:<warn>:<flevel>:<safebrowsing>:<bytecode>" — the
// version of each official database a mirror advertises. Extra trailing fields are ignored
// (the record has grown before); surrounding quotes and blanks (dig output) are accepted.
struct MirrorVersionRecord {
  std::string engine;  // the newest ClamAV release, "1.4.3"
  uint32_t main = 0;
  uint32_t daily = 0;
  uint32_t bytecode = 0;
  int64_t record_time = 0;  // when the record was published (Unix time)
  uint32_t functionality_level = 0;
  // The advertised version of a database ("daily"), nullopt for databases the record does not
  // carry (custom ones: their version comes from the container header).
  std::optional<uint32_t> VersionOf(std::string_view database) const;
};

Result<MirrorVersionRecord> ParseVersionRecord(std::string_view text);

}  // namespace seccloud::scan
