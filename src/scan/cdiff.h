#pragma once
// ClamAV's incremental updates (R7, R8): the .cdiff files a freshclam-layout mirror publishes
// next to daily.cvd, and the containers they apply to. Pure functions over untrusted bytes (no
// file system), shared by the updater and the fuzz target.
//
// A .cdiff is "ClamAV-Diff:<version>:<script bytes>:" + a gzip stream of the script + ":" + the
// signature (ClamAV's PSS signature over every byte before that last ':'). The script edits the
// unpacked database line by line:
//   OPEN <file>                      start editing a file of the database
//   ADD <line>                       append a line at CLOSE
//   DEL <n> <prefix>                 delete line n (of the file as opened), which must start so
//   XCHG <n> <prefix> <new line>     replace line n, which must start with prefix
//   CLOSE                            write the file (DEL/XCHG in one pass, then the ADDs)
//   MOVE <src> <dst> <n> <prefix> <m> <prefix>   move lines n..m of src to the end of dst
//   UNLINK <file>                    delete a file of the database
// Empty lines and lines starting with '#' (the obsolete #LSIZE) are skipped. The script also
// rewrites <database>.info: its first line becomes the new container header and its per-file
// SHA-256 lines follow the edits, so a repacked container verifies as a whole.

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "scan/clamav_signature.h"

namespace seccloud::scan {

// Bounds on everything a mirror sends or makes us build. ClamAV's own: signature ≤ 350 bytes,
// lines ≤ 10 MiB (#LSIZE's ceiling).
struct CdiffLimits {
  size_t max_cdiff_bytes = 64u << 20;        // one .cdiff as downloaded
  size_t max_script_bytes = 256u << 20;      // its script, decompressed
  size_t max_line_bytes = 10u << 20;         // one script line
  size_t max_commands = 2'000'000;           // commands in one script
  size_t max_files = 1024;                   // files in the database
  uint64_t max_database_bytes = 2ull << 30;  // the unpacked database, all files
};

// A database unpacked from its container: file name → content. Names are plain file names
// (letters, digits, '.', '-', '_'; no directory, not starting with '.').
using DatabaseFiles = std::map<std::string, std::string, std::less<>>;

struct VerifiedCdiff {
  uint32_t version = 0;  // the version the script produces
  std::string script;
};

// Checks the .cdiff's framing and signature (with `key`: ClamAV's in production) and returns the
// decompressed script. Nothing of the script is trusted before the signature verifies.
Result<VerifiedCdiff> OpenCdiff(std::string_view bytes, const ClamavPublicKey& key,
                                const CdiffLimits& limits = {});

// Runs `script` against `files`. On error `files` may be half edited: callers work on a copy they
// throw away. Errors name the script line and what did not match.
Status ApplyCdiffScript(std::string_view script, DatabaseFiles& files,
                        const CdiffLimits& limits = {});

// The files of a .cvd/.cld/.cud container (512-byte header, then a tar archive, gzip-compressed
// or not). Only regular files at the top level; anything else is an error.
Result<DatabaseFiles> UnpackContainer(std::string_view container, const CdiffLimits& limits = {});

// A container of `files` as freshclam writes daily.cld after applying .cdiff files: the header is
// the first line of <database>.info padded to 512 bytes, then an uncompressed tar of COPYING,
// <database>.info, <database>.cfg (when present) and the other files in name order.
// With `unsigned_container`, a .cud instead (sigtool --unsigned's layout): the tar is
// gzip-compressed and the header carries its MD5 and no signature.
Result<std::string> PackContainer(const DatabaseFiles& files, std::string_view database,
                                  bool unsigned_container);

// The byte layout of a .cdiff around a script, for tests and tools that sign: everything the
// signature covers ("ClamAV-Diff:<version>:<script bytes>:" + gzip(script)).
std::string CdiffSignedPart(uint32_t version, std::string_view script);

}  // namespace seccloud::scan
