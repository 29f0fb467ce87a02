#pragma once
// Content scanning (R8, R11, R12): one interface in front of libclamav and libyara. The proxy,
// the mail relay and the endpoint agent scan through scand (scan/client.h); `seccloud scan` and
// scand itself hold a ScanEngine in-process.
//
// Thread safety: every Scanner is safe for concurrent ScanBuffer/ScanFile calls from any number
// of threads. The compiled engines behind it are immutable; a ScanEngine replaces them as a whole
// (shared_ptr swap), and a scan that started on the old engine finishes on it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/scan_config.h"

namespace seccloud::scan {

namespace fs = std::filesystem;

struct Verdict {
  enum Result { kClean, kInfected, kSuspicious, kError };
  Result result = kClean;
  std::vector<std::string> signatures;  // what matched, e.g. "Eicar-Test-Signature"
  std::string engine;                   // "clamav", "yara" or "clamav+yara"
  std::string db_version;               // "clamav:local-1a2b3c4d5e6f yara:9f8e7d6c5b4a"
  std::string error;                    // kError: why; kSuspicious: which limit or policy
  // seccloud.verdict.action: "allow" for clean, "block" for infected; for suspicious content
  // what the configured policy says ("block" or "quarantine").
  std::string action = "allow";

  bool blocked() const { return result == kInfected || result == kSuspicious; }
};
const char* VerdictResultName(Verdict::Result r);  // "clean", "infected", "suspicious", "error"

// What the caller knows about the content. Bounded: names are cut at 1024 bytes.
struct ScanContext {
  std::string file_name;  // as the user saw it (attachment name, URL path); may be empty
  std::string tenant_id;
};

class Scanner {
 public:
  virtual ~Scanner() = default;
  // A Result error means the scan could not run at all (no engine); a scan that ran into
  // malformed content answers a Verdict (kError or per policy), never an error here.
  virtual seccloud::Result<Verdict> ScanBuffer(std::span<const uint8_t> data,
                                               const ScanContext& context) const = 0;
  virtual seccloud::Result<Verdict> ScanFile(const fs::path& path,
                                             const ScanContext& context) const = 0;
  // "clamav:<version>" / "yara:<version>": identifies the signatures compiled into this engine.
  virtual std::string db_version() const = 0;
};

// Settings the engines are compiled with (a ScanConfig's engine part).
struct EngineOptions {
  ScanLimits limits;
  ScanPolicy limits_exceeded = ScanPolicy::kBlock;
  ScanPolicy encrypted_archives = ScanPolicy::kBlockExecutables;
  fs::path temp_dir;
  // Run on every member libclamav extracts from an archive or container (not on the top-level
  // content, which the caller scans itself), within the limits: a member above max_file_bytes
  // is not passed, nor more than max_files members or max_scan_bytes bytes in all. ScanEngine sets
  // it to the YARA engine, so YARA rules fire inside ZIP, tar/gz, nested archives and documents.
  // Its matches make the verdict infected, named "<rule> [<outer>/<member>]".
  std::shared_ptr<const Scanner> member_scanner;
  // CL_SCAN_GENERAL_ALLMATCHES: libclamav goes on after its first detection (every signature
  // reported, every member extracted and handed to member_scanner). Costs nothing on clean
  // content, which is scanned to the end either way; see src/scan/README.md for the figures.
  bool all_matches = true;
  static EngineOptions FromConfig(const ScanConfig& c);
};

struct ClamavLoadInfo {
  unsigned signatures = 0;
  uint32_t db_version = 0;  // of a .cvd/.cld daily database, 0 for plain files
  std::chrono::system_clock::time_point db_time;  // build time of the .cvd, else newest file mtime
  std::string version;                            // "daily-27000" or "local-<fingerprint>"
};

// libclamav: loads every database file in `database_dir` and compiles an engine.
seccloud::Result<std::unique_ptr<Scanner>> CreateClamavScanner(const fs::path& database_dir,
                                                               const EngineOptions& options,
                                                               ClamavLoadInfo* info = nullptr);

struct YaraLoadInfo {
  unsigned files_loaded = 0;
  unsigned files_failed = 0;  // each failing file is skipped, the rest load
  unsigned rules = 0;
  std::vector<std::string> failures;             // "file:line: message", at most 50
  std::chrono::system_clock::time_point newest;  // newest rule file mtime
  std::string version;                           // "local-<fingerprint>"
};

// libyara: compiles every *.yar / *.yara file under the given directories (and the given files),
// with the external variables filename, filepath, extension, filetype and owner defined. A file
// that does not compile is skipped and reported in `info`; none compiling is an error.
seccloud::Result<std::unique_ptr<Scanner>> CreateYaraScanner(const std::vector<fs::path>& sources,
                                                             YaraLoadInfo* info = nullptr);

// The fingerprint of a signature source: names, sizes and modification times of its files.
// Changes when a file is added, removed or replaced; cheap enough to poll every few seconds.
// Hidden entries (".name", e.g. the updater's staging directory) are not part of a source.
seccloud::Result<std::string> SourceFingerprint(const std::vector<fs::path>& sources,
                                                std::initializer_list<std::string_view> extensions);

// ---- the engine deployments use -------------------------------------------------------------

using WallClock = std::function<std::chrono::system_clock::time_point()>;

struct EngineStatus {
  std::string db_version;
  unsigned clamav_signatures = 0;
  unsigned yara_rules = 0;
  unsigned yara_files_failed = 0;
  // Build time of the ClamAV database (of the YARA rules when ClamAV is off): what "stale" means.
  std::chrono::system_clock::time_point signatures_time;
  std::chrono::system_clock::time_point last_success;  // last successful (re)load
  std::chrono::system_clock::time_point last_attempt;
  std::string last_error;  // of the last failed load; empty after a success
  uint64_t reloads = 0;
  uint64_t reload_failures = 0;
  bool stale = false;  // signatures older than max_signature_age
};

struct ReloadReport {
  bool changed = false;  // the sources differed and a new engine was built
  bool ok = true;        // false: the load failed and the old engine stays
  std::string error;
  std::string db_version;  // of the engine in use afterwards
  std::string previous_version;
};

// libclamav and libyara behind one Scanner, swapped as a whole when the signature sources change.
// Scans read the current engine through a shared_ptr; Reload builds the next one on the calling
// thread (call it off the scan path) and swaps it in under a short lock.
class ScanEngine final : public Scanner {
 public:
  static seccloud::Result<std::unique_ptr<ScanEngine>> Create(const ScanConfig& config,
                                                              WallClock clock = {});

  seccloud::Result<Verdict> ScanBuffer(std::span<const uint8_t> data,
                                       const ScanContext& context) const override;
  seccloud::Result<Verdict> ScanFile(const fs::path& path,
                                     const ScanContext& context) const override;
  std::string db_version() const override;

  // Rebuilds when the sources' fingerprint changed (or always with force); a failure keeps the
  // engine in use. Serialised: one reload at a time.
  ReloadReport Reload(bool force = false);
  // Changes the signature sources and loads them, as one step no other reload interleaves with:
  // runs `install` (which writes the new files into place), builds a new engine and swaps it in.
  // When `install` or the load fails, `undo` runs (it puts the previous files back) and the
  // engine in use stays. The signature updater (scan/signature_mirror.h) calls this.
  ReloadReport ApplyUpdate(const std::function<Status()>& install,
                           const std::function<void()>& undo);
  EngineStatus status() const;

  ~ScanEngine() override;

 private:
  struct State;
  explicit ScanEngine(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace seccloud::scan
