#pragma once
// Configuration of the content-scanning service (R8, R11, R12): `scan:` in the config file.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace seccloud {

// What a scan does with content it could not fully inspect.
enum class ScanPolicy {
  kBlock,       // verdict "suspicious", action block
  kQuarantine,  // verdict "suspicious", action quarantine (mail keeps it for review)
  kAllow,       // verdict clean (the heuristic is recorded but does not block)
  // Encrypted archives only: block when an encrypted member's name is an executable (or when the
  // member names cannot be read), allow otherwise.
  kBlockExecutables,
};
const char* ScanPolicyName(ScanPolicy p);  // "block", "quarantine", "allow", "block-executables"

// Bounds against decompression bombs and deep nesting, applied by libclamav to every scan.
struct ScanLimits {
  uint64_t max_scan_bytes = 200ull << 20;  // data extracted and scanned per scan, all members
  uint64_t max_file_bytes = 50ull << 20;   // one file, or one member of an archive
  uint32_t max_recursion = 17;             // archive nesting depth
  uint32_t max_files = 10'000;             // members per scan
  std::chrono::milliseconds max_scan_time{120'000};
  uint64_t max_stream_bytes = 100ull << 20;  // scand: one INSTREAM-style stream
  uint64_t spill_bytes = 8ull << 20;         // scand: streams larger than this go to a temp file
  bool operator==(const ScanLimits&) const = default;
};

// Signature updates from an HTTP mirror in the freshclam layout (cvdupdate's directory: the
// .cvd/.cud containers and dns.txt, the version record).
struct ScanMirrorConfig {
  std::string url;  // "http://127.0.0.1:8080/clamav"; empty: no mirror, the directory only
  // Container files to keep current, as named on the mirror: <name>.cvd (signed by ClamAV,
  // verified with libclamav), or <name>.cud / <name>.cld (unsigned: only with allow_unsigned).
  std::vector<std::string> databases = {"main.cvd", "daily.cvd", "bytecode.cvd"};
  bool allow_unsigned = false;  // private mirrors publishing their own .cud containers
  std::chrono::milliseconds interval{3'600'000};  // how often the mirror is asked
  std::chrono::milliseconds timeout{300'000};     // one download
  uint64_t max_download_bytes = 512ull << 20;     // one container
  bool operator==(const ScanMirrorConfig&) const = default;
};

struct ScanConfig {
  bool enabled = false;
  std::filesystem::path socket;    // scand's Unix socket
  unsigned workers = 0;            // concurrent scans; 0: one per core
  std::filesystem::path temp_dir;  // libclamav's and scand's temporary files; empty: /tmp
  bool clamav_enabled = true;
  std::filesystem::path clamav_database;  // a directory of .cvd/.cld/.hdb/.ndb/... files
  // libclamav's CL_SCAN_GENERAL_ALLMATCHES: scanning goes on after the first detection, so every
  // signature is reported and YARA sees every archive member (false: stop at the first hit).
  bool clamav_all_matches = true;
  bool yara_enabled = true;
  std::vector<std::filesystem::path> yara_rules;  // directories (*.yar, *.yara) or files
  ScanLimits limits;
  ScanPolicy limits_exceeded = ScanPolicy::kBlock;
  ScanPolicy encrypted_archives = ScanPolicy::kBlockExecutables;
  std::chrono::milliseconds poll_interval{60'000};  // how often the signature directory is checked
  std::chrono::milliseconds max_signature_age{86'400'000};  // older: alert event, health red
  ScanMirrorConfig mirror;
  bool operator==(const ScanConfig&) const = default;
};

}  // namespace seccloud
