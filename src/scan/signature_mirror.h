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
// Incremental updates: when the mirror is k ≤ kMaxCdiffChain versions ahead of a local
// container, <name>-(N+1).cdiff … <name>-(N+k).cdiff are fetched, each verified with ClamAV's
// .cdiff key (scan/clamav_signature.h; allow_unsigned does not apply to them), applied to the
// unpacked local container and repacked as <name>.cld (from an unsigned .cud: a .cud), which must
// hold version N+k and load in libclamav (cl_cvdverify: the per-file SHA-256 sums of the .info
// the scripts rewrote, and for a .cld ClamAV's signature of that .info). Any failure falls back to
// the whole container, and the report says why.
//
// Thread safety: one Update at a time per instance (scand runs it on its own thread).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/scan_config.h"
#include "scan/clamav_signature.h"
#include "scan/scanner.h"

namespace seccloud::scan {

struct MirrorUpdateReport {
  bool ok = true;  // false: something failed (error says what); what verified is still installed
  std::string error;
  bool used_version_record = false;  // dns.txt answered; else container headers were read
  std::string note;                  // why dns.txt was not used, when it was not
  std::vector<std::string> updated;  // "daily.cud 5 -> 6", "daily.cld 5 -> 7 (2 .cdiff)"
  uint64_t downloaded_bytes = 0;  // containers and .cdiff files, not counting 512-byte header reads
  // Incremental updates that failed and fell back to the whole container, with the reason.
  std::vector<std::string> incremental_failures;
  bool reloaded = false;  // the engine was rebuilt (reload says how it went)
  ReloadReport reload;
};

// At most this many .cdiff files per update; further behind, the whole container is cheaper.
inline constexpr uint32_t kMaxCdiffChain = 64;

class SignatureMirror {
 public:
  // `database_dir` is the ClamAV database directory the engine loads; downloads are staged in
  // its hidden ".seccloud-update" subdirectory (same file system: renames are atomic).
  // `cdiff_key` verifies .cdiff files: ClamAV's key; only tests pass another (no configuration
  // reaches it).
  SignatureMirror(ScanMirrorConfig config, std::filesystem::path database_dir, ScanEngine& engine,
                  const ClamavPublicKey& cdiff_key = kClamavCdiffKey);

  // One poll of the mirror. Never throws; every failure is in the report.
  MirrorUpdateReport Update();

 private:
  ScanMirrorConfig config_;
  std::filesystem::path database_dir_;
  ScanEngine& engine_;
  ClamavPublicKey cdiff_key_;
};

}  // namespace seccloud::scan
