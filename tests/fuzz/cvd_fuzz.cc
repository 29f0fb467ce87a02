// Fuzzes the signature-mirror parsers (R7, R8): the 512-byte CVD/CUD header and the version
// record (dns.txt), both read from an untrusted HTTP mirror. Any input must parse or give an
// error, and whatever parses must hold the bounds the updater relies on.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scan/cvd_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto h = seccloud::scan::ParseCvdHeader(in)) {
    // The MD5 is 32 hex digits, or "X" (none: a .cld's header).
    if (h->version == 0 || (h->md5.size() != 32 && h->md5 != "X") ||
        h->has_md5() != (h->md5 != "X") || h->build_unix_time <= 0 || h->dsig.empty() ||
        h->builder.size() > 64 || h->build_time.size() > 64)
      std::abort();
  }
  if (auto r = seccloud::scan::ParseVersionRecord(in)) {
    if (r->engine.empty() || r->engine.size() > 32 || !r->VersionOf("daily") ||
        r->VersionOf("custom"))
      std::abort();
  }
  return 0;
}
