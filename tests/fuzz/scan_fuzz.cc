// Fuzzes the content scanner (R8): arbitrary bytes — malformed archives, documents, mail — go
// through libclamav and libyara with the repository's test signatures, as scand would scan a
// stream; the same bytes go to the ZIP directory reader and scand's request and verdict parsers.
// Any input must end in a verdict, never a crash, a hang or a leak.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "scan/protocol.h"
#include "scan/scanner.h"
#include "scan/zip_directory.h"

namespace {

seccloud::scan::ScanEngine* Engine() {
  static seccloud::scan::ScanEngine* engine = [] {
    seccloud::ScanConfig c;
    c.enabled = true;
    c.clamav_database = SECCLOUD_SOURCE_DIR "/etc/signatures/clamav";
    c.yara_rules = {SECCLOUD_SOURCE_DIR "/etc/signatures/yara"};
    // Small limits keep each input fast; the point is the parsers, not the bounds.
    c.limits.max_scan_bytes = 8 << 20;
    c.limits.max_file_bytes = 4 << 20;
    c.limits.max_scan_time = std::chrono::seconds(5);
    auto e = seccloud::scan::ScanEngine::Create(c);
    if (!e) {
      std::fprintf(stderr, "scan_fuzz: %s\n", e.error().ToString().c_str());
      std::abort();
    }
    return e->release();
  }();
  return engine;
}

}  // namespace

// libclamav keeps some allocations of its own past a scan (caches of its parsers); they are not
// ours to fix, and our code's leaks are still reported.
extern "C" const char* __lsan_default_suppressions() { return "leak:libclamav.so\n"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto v = Engine()->ScanBuffer(bytes, seccloud::scan::ScanContext{"fuzz.bin", ""});
  if (!v) std::abort();  // the engine is loaded: a scan always answers with a verdict
  if (v->result == seccloud::scan::Verdict::kError && v->error.empty()) std::abort();
  (void)seccloud::scan::internal::ReadZipDirectory(bytes);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)seccloud::scan::ParseRequestLine(text.substr(0, seccloud::scan::kMaxRequestLine + 8));
  (void)seccloud::scan::VerdictFromJson(text);
  return 0;
}
