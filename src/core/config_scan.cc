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
    out.workers = static_cast<unsigned>(Whole(*v, path + ".workers", 0, 256, "workers"));
  if (auto v = Field(n, path, "temp_dir")) out.temp_dir = Path(*v, path + ".temp_dir");

  if (auto v = Field(n, path, "clamav")) {
    const std::string p = path + ".clamav";
    if (ExpectMap(*v, p, {"enabled", "database", "all_matches"})) {
      if (auto x = Field(*v, p, "enabled")) out.clamav_enabled = Bool(*x, p + ".enabled");
      if (auto x = Field(*v, p, "all_matches"))
        out.clamav_all_matches = Bool(*x, p + ".all_matches");
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
        l.max_recursion = static_cast<uint32_t>(Whole(*x, p + ".max_recursion", 1, 64, "levels"));
      if (auto x = Field(*v, p, "max_files"))
        l.max_files = static_cast<uint32_t>(Whole(*x, p + ".max_files", 1, 1'000'000, "files"));
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
    if (ExpectMap(*v, p, {"poll_interval", "max_age", "mirror"})) {
      if (auto x = Field(*v, p, "poll_interval"))
        out.poll_interval = Duration(*x, p + ".poll_interval", 100, 86'400'000);
      if (auto x = Field(*v, p, "max_age"))
        out.max_signature_age = Duration(*x, p + ".max_age", 60'000, 30ll * 86'400'000);
      // Read after clamav: a mirror feeds the ClamAV database.
      auto parse_mirror = [&](const Located& n, const std::string& p) {
        ScanMirrorConfig& m = out.mirror;
        if (!ExpectMap(
                n, p,
                {"url", "databases", "allow_unsigned", "interval", "timeout", "max_download_size"}))
          return;
        if (auto x = Required(n, p, "url")) {
          m.url = String(*x, p + ".url");
          std::string why;
          if (x->node.IsScalar() && !ParseHttpUrl(m.url, &why))
            AddError(MarkOf(*x), p + ".url", Quote(m.url) + " " + why);
          while (!m.url.empty() && m.url.back() == '/') m.url.pop_back();
        }
        if (auto x = Field(n, p, "allow_unsigned"))
          m.allow_unsigned = Bool(*x, p + ".allow_unsigned");
        if (auto x = Field(n, p, "databases")) {
          m.databases.clear();
          ForEachItem(*x, p + ".databases", [&](const Located& item, const std::string& ip) {
            std::string d = String(item, ip);
            if (!item.node.IsScalar()) return;
            const size_t dot = d.rfind('.');
            const std::string stem = dot == std::string::npos ? d : d.substr(0, dot);
            const std::string ext = dot == std::string::npos ? "" : d.substr(dot + 1);
            bool stem_ok = !stem.empty() && stem.size() <= 64;
            for (char c : stem)
              if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
                stem_ok = false;
            if (!stem_ok || (ext != "cvd" && ext != "cud" && ext != "cld")) {
              AddError(MarkOf(item), ip,
                       Quote(d) +
                           " is not a container name: <name>.cvd, <name>.cud or <name>.cld with "
                           "a name of 1 to 64 of [a-z0-9_-]");
              return;
            }
            for (const std::string& e : m.databases)
              if (e.substr(0, e.rfind('.')) == stem) {
                AddError(MarkOf(item), ip, "database " + Quote(stem) + " is listed twice");
                return;
              }
            m.databases.push_back(std::move(d));
          });
          if (m.databases.empty()) AddError(MarkOf(*x), p + ".databases", "lists no database");
        }
        for (const std::string& d : m.databases)
          if (!m.allow_unsigned && d.size() > 4 && d.substr(d.size() - 4) != ".cvd")
            AddError(MarkOf(n), p + ".databases",
                     Quote(d) +
                         " is an unsigned container: set allow_unsigned: true (private mirrors "
                         "only) or use the signed .cvd");
        if (auto x = Field(n, p, "interval"))
          m.interval = Duration(*x, p + ".interval", 1'000, 7ll * 86'400'000);
        if (auto x = Field(n, p, "timeout"))
          m.timeout = Duration(*x, p + ".timeout", 1'000, 3'600'000);
        if (auto x = Field(n, p, "max_download_size"))
          m.max_download_bytes = Size(*x, p + ".max_download_size", 4096, 4ull << 30);
        if (!out.clamav_enabled) AddError(MarkOf(n), p, "a signature mirror needs scan.clamav");
      };
      if (auto x = Field(*v, p, "mirror")) parse_mirror(*x, p + ".mirror");
    }
  }
}

}  // namespace seccloud::config_internal
