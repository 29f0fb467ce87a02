// The libclamav backend: one compiled cl_engine, immutable after cl_engine_compile, shared by
// every scan (libclamav allows concurrent scans on a compiled engine).
#include <clamav.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string_view>

#include "scan/internal.h"
#include "scan/scanner.h"
#include "scan/zip_directory.h"

namespace seccloud::scan {
namespace {

constexpr size_t kMaxSignaturesPerVerdict = 64;

// libclamav logs through a process-wide callback; scans of hostile content produce warnings by
// the thousand, so only errors reach stderr.
void ClamavMessage(enum cl_msg severity, const char* fullmsg, const char* msg, void* context) {
  if (severity == CL_MSG_ERROR) std::fprintf(stderr, "libclamav: %s", msg ? msg : "");
}

}  // namespace

Status internal::InitClamav() {
  static std::once_flag once;
  static cl_error_t init = CL_SUCCESS;
  std::call_once(once, [] {
    cl_set_clcb_msg(ClamavMessage);
    init = cl_init(CL_INIT_DEFAULT);
  });
  if (init != CL_SUCCESS)
    return MakeError(Errc::kInternal, std::string("cl_init: ") + cl_strerror(init));
  return {};
}

namespace {

struct ScanState {
  const ScanLimits* limits = nullptr;
  // Archive members go through this scanner too (YARA), with what it found collected here.
  const Scanner* member_scanner = nullptr;
  uint32_t members_scanned = 0;
  uint64_t member_bytes = 0;  // handed to the member scanner, at most limits->max_scan_bytes
  std::vector<std::string> member_hits;  // "<rule> [<outer>/<member>]"
  std::vector<std::string> names;
  // From archive metadata (clcb_meta), at every nesting depth.
  std::string limit;  // the first limit a member's declared size exceeds
  uint64_t declared_bytes = 0;
  bool encrypted = false;
  bool encrypted_executable = false;
};

// Called for each archive member before it is extracted, with the size the archive declares.
// libclamav trims a member larger than max_file_bytes silently (no alert, no error), so content
// that was not fully inspected is recognised here. Returning CL_CLEAN lets the scan go on, so a
// real signature in another member still wins.
cl_error_t ArchiveMember(const char*, unsigned long, const char* filename, unsigned long fsize_real,
                         int is_encrypted, unsigned int, void* context) {
  auto* s = static_cast<ScanState*>(context);
  if (s == nullptr || s->limits == nullptr) return CL_CLEAN;
  s->declared_bytes += fsize_real;
  if (s->limit.empty()) {
    if (fsize_real > s->limits->max_file_bytes)
      s->limit = "Heuristics.Limits.Exceeded.MaxFileSize";
    else if (s->declared_bytes > s->limits->max_scan_bytes)
      s->limit = "Heuristics.Limits.Exceeded.MaxScanSize";
  }
  if (is_encrypted) {
    s->encrypted = true;
    if (filename != nullptr && internal::HasExecutableExtension(filename))
      s->encrypted_executable = true;
  }
  return CL_CLEAN;
}

// Called by libclamav for every file it scans, the top level (recursion level 0) and each
// member it extracts, with the member's bytes. Members are handed to the member scanner within
// the limits; the result is collected, and CL_CLEAN lets libclamav go on unpacking.
cl_error_t InspectFile(int, const char*, const char** ancestors, size_t, const char* file_name,
                       size_t file_size, const char* file_buffer, uint32_t recursion_level,
                       uint32_t, void* context) {
  auto* s = static_cast<ScanState*>(context);
  if (s == nullptr || s->member_scanner == nullptr || recursion_level == 0 ||
      file_buffer == nullptr || s->limits == nullptr)
    return CL_CLEAN;
  if (file_size > s->limits->max_file_bytes || s->members_scanned >= s->limits->max_files ||
      s->member_bytes + file_size > s->limits->max_scan_bytes ||
      s->member_hits.size() >= kMaxSignaturesPerVerdict)
    return CL_CLEAN;
  ++s->members_scanned;
  s->member_bytes += file_size;
  std::string path;
  for (uint32_t i = 0; ancestors != nullptr && i < recursion_level && i < 64; ++i) {
    if (ancestors[i] == nullptr) continue;
    path += internal::ClipName(ancestors[i]) + "/";
  }
  const std::string name = file_name != nullptr ? internal::ClipName(file_name) : "(unnamed)";
  path += name;
  ScanContext c;
  c.file_name = name;
  auto v = s->member_scanner->ScanBuffer(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(file_buffer), file_size), c);
  if (v && v->result == Verdict::kInfected)
    for (const std::string& rule : v->signatures)
      if (s->member_hits.size() < kMaxSignaturesPerVerdict)
        s->member_hits.push_back(rule + " [" + internal::ClipName(path) + "]");
  return CL_CLEAN;
}

void VirusFound(int, const char* virname, void* context) {
  auto* s = static_cast<ScanState*>(context);
  // All-matches scanning reports a signature once per place it matched (and the test set has
  // EICAR as both .hdb and .ndb): each name once.
  if (s != nullptr && virname != nullptr && s->names.size() < kMaxSignaturesPerVerdict &&
      std::find(s->names.begin(), s->names.end(), virname) == s->names.end())
    s->names.emplace_back(virname);
}

struct EngineDeleter {
  void operator()(cl_engine* e) const {
    if (e != nullptr) cl_engine_free(e);
  }
};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

class ClamavScanner final : public Scanner {
 public:
  ClamavScanner(std::unique_ptr<cl_engine, EngineDeleter> engine, EngineOptions options,
                std::string version)
      : engine_(std::move(engine)), options_(std::move(options)), version_(std::move(version)) {}

  seccloud::Result<Verdict> ScanBuffer(std::span<const uint8_t> data,
                                       const ScanContext& context) const override {
    ScanState state;
    state.limits = &options_.limits;
    state.member_scanner = options_.member_scanner.get();
    ASSIGN_OR_RETURN(Verdict v, ScanWithState(data, context, state));
    if (state.member_hits.empty()) return v;
    // A rule that fired on a member is a real detection: it wins over heuristics and errors.
    if (v.result == Verdict::kInfected) {
      v.engine = "clamav+yara";
      for (auto& h : state.member_hits) v.signatures.push_back(std::move(h));
    } else {
      v.result = Verdict::kInfected;
      v.engine = "yara";
      v.action = "block";
      v.error.clear();
      v.signatures = std::move(state.member_hits);
    }
    return v;
  }

  seccloud::Result<Verdict> ScanWithState(std::span<const uint8_t> data, const ScanContext& context,
                                          ScanState& state) const {
    Verdict v;
    v.engine = "clamav";
    v.db_version = db_version();
    if (data.empty()) return v;
    cl_fmap_t* map = cl_fmap_open_memory(data.data(), data.size());
    if (map == nullptr) return MakeError(Errc::kResourceExhausted, "cl_fmap_open_memory failed");
    cl_scan_options opts{};
    opts.general = CL_SCAN_GENERAL_HEURISTICS;
    if (options_.all_matches) opts.general |= CL_SCAN_GENERAL_ALLMATCHES;
    opts.parse = ~0u;
    opts.heuristic = CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_EXCEEDS_MAX;
    const char* virname = nullptr;
    unsigned long scanned = 0;
    const std::string name = internal::ClipName(context.file_name);
    const cl_error_t rc = cl_scanmap_callback(map, name.empty() ? nullptr : name.c_str(), &virname,
                                              &scanned, engine_.get(), &opts, &state);
    cl_fmap_close(map);
    switch (rc) {
      case CL_VIRUS:
        if (state.names.empty() && virname != nullptr) state.names.emplace_back(virname);
        Classify(data, state, v);
        return v;
      // Limits hit without the heuristic alert (libclamav returns these from nested scans).
      case CL_ETIMEOUT:
      case CL_EMAXREC:
      case CL_EMAXSIZE:
      case CL_EMAXFILES:
        ApplyLimitPolicy(std::string("Heuristics.Limits.Exceeded.") + cl_strerror(rc), v);
        return v;
      default:
        if (rc == CL_CLEAN) break;
        v.result = Verdict::kError;
        v.action = "block";
        v.error = std::string("libclamav: ") + cl_strerror(rc);
        return v;
    }
    if (!state.limit.empty()) {
      ApplyLimitPolicy(state.limit, v);
      if (v.result != Verdict::kClean) return v;
    }
    // libclamav passes over archives it cannot open; a ZIP whose directory is broken is content
    // nobody could inspect, so it is an error verdict rather than clean.
    internal::ZipDirectory zip = internal::ReadZipDirectory(data);
    if (zip.is_zip && !zip.intact && zip.problem != "ZIP64 directory not read") {
      v.result = Verdict::kError;
      v.action = "block";
      v.error = "corrupt or truncated ZIP archive: " + zip.problem;
    }
    return v;
  }

  seccloud::Result<Verdict> ScanFile(const fs::path& path,
                                     const ScanContext& context) const override {
    auto mapped = internal::MappedFile::Open(path);
    if (!mapped) return internal::UnreadableVerdict("clamav", db_version(), mapped.error().message);
    ScanContext c = context;
    if (c.file_name.empty()) c.file_name = path.filename().string();
    return ScanBuffer(mapped->bytes(), c);
  }

  std::string db_version() const override { return "clamav:" + version_; }

 private:
  void ApplyPolicy(ScanPolicy policy, const std::string& signature, Verdict& v) const {
    if (policy == ScanPolicy::kAllow) {
      v.result = Verdict::kClean;
      v.action = "allow";
      v.error = signature + " (allowed by policy)";
      return;
    }
    v.result = Verdict::kSuspicious;
    v.action = policy == ScanPolicy::kQuarantine ? "quarantine" : "block";
    v.signatures = {signature};
    v.error = signature;
  }

  void ApplyLimitPolicy(const std::string& signature, Verdict& v) const {
    ApplyPolicy(options_.limits_exceeded, signature, v);
  }

  void Classify(std::span<const uint8_t> data, ScanState& state, Verdict& v) const {
    std::vector<std::string> real;
    std::string limit = state.limit, encrypted;
    for (auto& n : state.names) {
      if (StartsWith(n, "Heuristics.Limits.Exceeded")) {
        if (limit.empty()) limit = n;
      } else if (StartsWith(n, "Heuristics.Encrypted")) {
        if (encrypted.empty()) encrypted = n;
      } else {
        real.push_back(std::move(n));
      }
    }
    if (!real.empty()) {
      v.result = Verdict::kInfected;
      v.action = "block";
      v.signatures = std::move(real);
      return;
    }
    if (!encrypted.empty()) {
      ScanPolicy p = options_.encrypted_archives;
      if (p == ScanPolicy::kBlockExecutables) {
        // Member names come from libclamav's archive metadata at any depth; when it saw no
        // encrypted member (a format without metadata), a top-level ZIP's directory is read;
        // when no names can be read at all, the archive is blocked.
        bool executable = state.encrypted_executable;
        if (!state.encrypted) {
          internal::ZipDirectory zip = internal::ReadZipDirectory(data);
          executable = !zip.intact;
          for (const auto& m : zip.members)
            if (m.encrypted && internal::HasExecutableExtension(m.name)) executable = true;
        }
        p = executable ? ScanPolicy::kBlock : ScanPolicy::kAllow;
        if (executable) encrypted += ".Executable";
      }
      ApplyPolicy(p, encrypted, v);
      if (v.result != Verdict::kClean || limit.empty()) return;
    }
    if (!limit.empty()) ApplyLimitPolicy(limit, v);
  }

  std::unique_ptr<cl_engine, EngineDeleter> engine_;
  EngineOptions options_;
  std::string version_;
};

}  // namespace

EngineOptions EngineOptions::FromConfig(const ScanConfig& c) {
  EngineOptions o;
  o.limits = c.limits;
  o.limits_exceeded = c.limits_exceeded;
  o.all_matches = c.clamav_all_matches;
  o.encrypted_archives = c.encrypted_archives;
  o.temp_dir = c.temp_dir;
  return o;
}

seccloud::Result<std::unique_ptr<Scanner>> CreateClamavScanner(const fs::path& database_dir,
                                                               const EngineOptions& options,
                                                               ClamavLoadInfo* info) {
  RETURN_IF_ERROR(internal::InitClamav());
  std::error_code ec;
  if (!fs::is_directory(database_dir, ec))
    return MakeError(Errc::kNotFound,
                     "ClamAV database " + database_dir.string() + " is not a directory");
  ASSIGN_OR_RETURN(std::string fingerprint, SourceFingerprint({database_dir}, {}));
  std::unique_ptr<cl_engine, EngineDeleter> engine(cl_engine_new());
  if (!engine) return MakeError(Errc::kResourceExhausted, "cl_engine_new failed");
  const ScanLimits& l = options.limits;
  struct NumSetting {
    cl_engine_field field;
    long long value;
  } settings[] = {
      {CL_ENGINE_MAX_SCANSIZE, static_cast<long long>(l.max_scan_bytes)},
      {CL_ENGINE_MAX_FILESIZE, static_cast<long long>(l.max_file_bytes)},
      {CL_ENGINE_MAX_RECURSION, static_cast<long long>(l.max_recursion)},
      {CL_ENGINE_MAX_FILES, static_cast<long long>(l.max_files)},
      {CL_ENGINE_MAX_SCANTIME, static_cast<long long>(l.max_scan_time.count())},
      // The clean cache remembers a member as clean after it was scanned trimmed to the limits;
      // the next scan of the same bomb would then skip ArchiveMember and pass it as clean.
      {CL_ENGINE_DISABLE_CACHE, 1},
  };
  for (const NumSetting& s : settings) {
    if (cl_error_t rc = cl_engine_set_num(engine.get(), s.field, s.value); rc != CL_SUCCESS)
      return MakeError(Errc::kInternal, std::string("cl_engine_set_num: ") + cl_strerror(rc));
  }
  if (!options.temp_dir.empty()) {
    if (cl_error_t rc = cl_engine_set_str(engine.get(), CL_ENGINE_TMPDIR, options.temp_dir.c_str());
        rc != CL_SUCCESS)
      return MakeError(Errc::kInternal, std::string("CL_ENGINE_TMPDIR: ") + cl_strerror(rc));
  }
  cl_engine_set_clcb_virus_found(engine.get(), VirusFound);
  cl_engine_set_clcb_meta(engine.get(), ArchiveMember);
  if (options.member_scanner) cl_engine_set_clcb_file_inspection(engine.get(), InspectFile);
  unsigned signatures = 0;
  if (cl_error_t rc = cl_load(database_dir.c_str(), engine.get(), &signatures, CL_DB_STDOPT);
      rc != CL_SUCCESS)
    return MakeError(Errc::kInvalidArgument,
                     "loading ClamAV database " + database_dir.string() + ": " + cl_strerror(rc));
  if (signatures == 0)
    return MakeError(Errc::kInvalidArgument,
                     "ClamAV database " + database_dir.string() + " holds no signatures");
  if (cl_error_t rc = cl_engine_compile(engine.get()); rc != CL_SUCCESS)
    return MakeError(Errc::kInternal, std::string("cl_engine_compile: ") + cl_strerror(rc));

  int err = 0;
  const auto db_version =
      static_cast<uint32_t>(cl_engine_get_num(engine.get(), CL_ENGINE_DB_VERSION, &err));
  const auto db_time =
      static_cast<time_t>(cl_engine_get_num(engine.get(), CL_ENGINE_DB_TIME, &err));
  std::string version =
      db_version != 0 ? "daily-" + std::to_string(db_version) : "local-" + fingerprint;
  if (info != nullptr) {
    info->signatures = signatures;
    info->db_version = db_version;
    info->version = version;
    if (db_version != 0 && db_time > 0) {
      info->db_time = std::chrono::system_clock::from_time_t(db_time);
    } else {
      // Plain signature files carry no build time; their newest modification time stands in.
      std::chrono::system_clock::time_point newest{};
      for (const auto& e : fs::directory_iterator(database_dir, ec)) {
        auto t = e.last_write_time(ec);
        if (ec) continue;
        newest = std::max(newest, internal::ToSystemTime(t));
      }
      info->db_time = newest;
    }
  }
  return std::unique_ptr<Scanner>(
      std::make_unique<ClamavScanner>(std::move(engine), options, std::move(version)));
}

}  // namespace seccloud::scan
