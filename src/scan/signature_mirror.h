#pragma once
// Signature updates from an HTTP mirror in the freshclam layout (R7, R8): the version record
// (dns.txt) says which container versions the mirror has; a container newer than the local one
// is downloaded, verified and written into the ClamAV database directory, and the engine is
// rebuilt and swapped through ScanEngine::ApplyUpdate.
//
// Verification: the header parses; its version is the one advertised and newer than the local
// container's, its build time not older; the MD5 in the header matches the archive; for a .cvd,
// libclamav's cl_cvdverify checks ClamAV's digital signature over that MD5 and loads it; an
// unsigned .cud/.cld (allowed only by configuration) is loaded by cl_cvdverify without one.
// .cdiff incrementals are not applied: their signatures are made with ClamAV's private key and
// libclamav exports no function that verifies them, so the updater fetches the whole container.
//
// Thread safety: one Update at a time per instance (scand runs it on its own thread).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/scan_config.h"
#include "scan/scanner.h"

namespace seccloud::scan {

struct MirrorUpdateReport {
  bool ok = true;  // false: something failed (error says what); what verified is still installed
  std::string error;
  bool used_version_record = false;  // dns.txt answered; else container headers were read
  std::string note;                  // why dns.txt was not used, when it was not
  std::vector<std::string> updated;  // "daily.cud 5 -> 6"
  uint64_t downloaded_bytes = 0;     // whole containers, not counting 512-byte header reads
  bool reloaded = false;             // the engine was rebuilt (reload says how it went)
  ReloadReport reload;
};

class SignatureMirror {
 public:
  // `database_dir` is the ClamAV database directory the engine loads; downloads are staged in
  // its hidden ".seccloud-update" subdirectory (same file system: renames are atomic).
  SignatureMirror(ScanMirrorConfig config, std::filesystem::path database_dir, ScanEngine& engine);

  // One poll of the mirror. Never throws; every failure is in the report.
  MirrorUpdateReport Update();

 private:
  ScanMirrorConfig config_;
  std::filesystem::path database_dir_;
  ScanEngine& engine_;
};

}  // namespace seccloud::scan
