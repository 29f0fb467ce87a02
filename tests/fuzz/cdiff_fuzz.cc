// Fuzzes the .cdiff pipeline (R7, R8): everything in it comes from an HTTP mirror. The first byte
// picks the stage: the script interpreter (against a small database and tight bounds), the
// container unpacker, the .cdiff framing with ClamAV's key, or the signature decoders. Any input
// must succeed or give an error, and what succeeds must hold the bounds the updater relies on.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scan/cdiff.h"
#include "scan/clamav_signature.h"

using seccloud::scan::CdiffLimits;
using seccloud::scan::DatabaseFiles;

namespace {

void CheckBounds(const DatabaseFiles& files, const CdiffLimits& l) {
  uint64_t total = 0;
  if (files.size() > l.max_files) std::abort();
  for (const auto& [name, content] : files) {
    if (name.empty() || name.size() > 99 || name.front() == '.' ||
        name.find('/') != std::string::npos)
      std::abort();
    total += content.size();
  }
  if (total > l.max_database_bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  CdiffLimits l;
  l.max_cdiff_bytes = 1 << 20;
  l.max_script_bytes = 1 << 20;
  l.max_line_bytes = 4096;
  l.max_commands = 2000;
  l.max_files = 8;
  l.max_database_bytes = 1 << 16;
  switch (data[0] % 4) {
    case 0: {
      DatabaseFiles f = {{"daily.ndb", "A:0:*:41\nB:0:*:42\nC:0:*:43\n"},
                         {"daily.info", "ClamAV-VDB:t:5:3:216:X:X:b:1\ndaily.ndb:27:ab\n"},
                         {"COPYING", "c\n"}};
      if (seccloud::scan::ApplyCdiffScript(in, f, l)) {
        CheckBounds(f, l);
        (void)seccloud::scan::PackContainer(f, "daily", (data[0] & 4) != 0);
      }
      break;
    }
    case 1:
      if (auto f = seccloud::scan::UnpackContainer(in, l)) CheckBounds(*f, l);
      break;
    case 2:
      if (auto c = seccloud::scan::OpenCdiff(in, seccloud::scan::kClamavCdiffKey, l))
        std::abort();  // nothing a fuzzer writes carries ClamAV's signature
      break;
    case 3:
      if (auto d = seccloud::scan::DecodeClamavSignature(in)) {
        if (d->size() > 263 || (!d->empty() && (*d)[0] == 0)) std::abort();
        if (seccloud::scan::EncodeClamavSignature(*d).empty()) std::abort();
      }
      (void)seccloud::scan::RecoverCdiffPss(in);
      (void)seccloud::scan::VerifyCvdSignature("0123456789abcdef0123456789abcdef", in);
      break;
  }
  return 0;
}
