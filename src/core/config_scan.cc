// The `scan:` section (R8, R11, R12): the scanning service, its engines, limits and policies.
#include "core/config_parser.h"

namespace seccloud {

const char* ScanPolicyName(ScanPolicy p) {
  switch (p) {
    case ScanPolicy::kBlock:
      return "block";
    case ScanPolicy::kQuarantine:
      return "quarantine";
    case ScanPolicy::kAllow:
      return "allow";
    case ScanPolicy::kBlockExecutables:
      return "block-executables";
  }
  return "block";
}

}  // namespace seccloud

namespace seccloud::config_internal {

namespace {

// Unix socket paths live in sockaddr_un.sun_path (108 bytes with its terminating NUL).
constexpr size_t kMaxSocketPath = 107;

}  // namespace

void ConfigParser::ParseScan(const Located& n, const std::string& path, ScanConfig& out) {
  if (!ExpectMap(n, path,
                 {"enabled", "socket", "workers", "temp_dir", "clamav", "yara", "limits", "policy",
                  "updates"}))
    return;
  out.enabled = true;
  if (auto v = Field(n, path, "enabled")) out.enabled = Bool(*v, path + ".enabled");
  if (auto v = Required(n, path, "socket")) {
    out.socket = Path(*v, path + ".socket");
    if (out.socket.string().size() > kMaxSocketPath)
      AddError(MarkOf(*v), path + ".socket",
               "a Unix socket path is at most 107 bytes; this one has " +
                   std::to_string(out.socket.string().size()));
  }
  if (auto v = Field(n, path, "workers"))
    out.workers = static_cast<unsigned>(Size(*v, path + ".workers", 0, 256));
  if (auto v = Field(n, path, "temp_dir")) out.temp_dir = Path(*v, path + ".temp_dir");

  if (auto v = Field(n, path, "clamav")) {
    const std::string p = path + ".clamav";
    if (ExpectMap(*v, p, {"enabled", "database"})) {
      if (auto x = Field(*v, p, "enabled")) out.clamav_enabled = Bool(*x, p + ".enabled");
      if (auto x = Required(*v, p, "database")) out.clamav_database = Path(*x, p + ".database");
    }
  } else {
    out.clamav_enabled = false;
  }
  if (auto v = Field(n, path, "yara")) {
    const std::string p = path + ".yara";
    if (ExpectMap(*v, p, {"enabled", "rules"})) {
      if (auto x = Field(*v, p, "enabled")) out.yara_enabled = Bool(*x, p + ".enabled");
      if (auto x = Required(*v, p, "rules")) {
        ForEachItem(*x, p + ".rules", [&](const Located& item, const std::string& ip) {
          fs::path r = Path(item, ip);
          if (!r.empty()) out.yara_rules.push_back(std::move(r));
        });
      }
    }
  } else {
    out.yara_enabled = false;
  }
  if (out.enabled && !out.clamav_enabled && !out.yara_enabled)
    AddError(MarkOf(n), path, "scanning needs clamav or yara (or both) enabled");

  if (auto v = Field(n, path, "limits")) {
    const std::string p = path + ".limits";
    ScanLimits& l = out.limits;
    if (ExpectMap(*v, p,
                  {"max_scan_size", "max_file_size", "max_recursion", "max_files", "max_scan_time",
                   "max_stream_size", "spill_size"})) {
      if (auto x = Field(*v, p, "max_scan_size"))
        l.max_scan_bytes = Size(*x, p + ".max_scan_size", 1 << 20, 4ull << 30);
      if (auto x = Field(*v, p, "max_file_size"))
        l.max_file_bytes = Size(*x, p + ".max_file_size", 1 << 20, 4ull << 30);
      if (auto x = Field(*v, p, "max_recursion"))
        l.max_recursion = static_cast<uint32_t>(Size(*x, p + ".max_recursion", 1, 64));
      if (auto x = Field(*v, p, "max_files"))
        l.max_files = static_cast<uint32_t>(Size(*x, p + ".max_files", 1, 1'000'000));
      if (auto x = Field(*v, p, "max_scan_time"))
        l.max_scan_time = Duration(*x, p + ".max_scan_time", 100, 3'600'000);
      if (auto x = Field(*v, p, "max_stream_size"))
        l.max_stream_bytes = Size(*x, p + ".max_stream_size", 64 << 10, 4ull << 30);
      if (auto x = Field(*v, p, "spill_size"))
        l.spill_bytes = Size(*x, p + ".spill_size", 64 << 10, 1ull << 30);
    }
  }
  if (auto v = Field(n, path, "policy")) {
    const std::string p = path + ".policy";
    if (ExpectMap(*v, p, {"limits_exceeded", "encrypted_archives"})) {
      auto policy = [&](const Located& x, const std::string& xp, bool allow_exec) {
        std::string s = String(x, xp);
        if (s == "block") return ScanPolicy::kBlock;
        if (s == "quarantine") return ScanPolicy::kQuarantine;
        if (s == "allow") return ScanPolicy::kAllow;
        if (allow_exec && s == "block-executables") return ScanPolicy::kBlockExecutables;
        if (x.node.IsScalar())
          AddError(MarkOf(x), xp,
                   Quote(s) + (allow_exec ? " is not block, quarantine, allow or block-executables"
                                          : " is not block, quarantine or allow"));
        return ScanPolicy::kBlock;
      };
      if (auto x = Field(*v, p, "limits_exceeded"))
        out.limits_exceeded = policy(*x, p + ".limits_exceeded", false);
      if (auto x = Field(*v, p, "encrypted_archives"))
        out.encrypted_archives = policy(*x, p + ".encrypted_archives", true);
    }
  }
  if (auto v = Field(n, path, "updates")) {
    const std::string p = path + ".updates";
    if (ExpectMap(*v, p, {"poll_interval", "max_age"})) {
      if (auto x = Field(*v, p, "poll_interval"))
        out.poll_interval = Duration(*x, p + ".poll_interval", 100, 86'400'000);
      if (auto x = Field(*v, p, "max_age"))
        out.max_signature_age = Duration(*x, p + ".max_age", 60'000, 30ll * 86'400'000);
    }
  }
}

}  // namespace seccloud::config_internal
