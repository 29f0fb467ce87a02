// ScanEngine: the libclamav and libyara engines of one signature generation behind one Scanner,
// replaced as a whole when the signature sources change.
#include <algorithm>
#include <mutex>
#include <thread>

#include "scan/internal.h"
#include "scan/scanner.h"

namespace seccloud::scan {

const char* VerdictResultName(Verdict::Result r) {
  switch (r) {
    case Verdict::kClean:
      return "clean";
    case Verdict::kInfected:
      return "infected";
    case Verdict::kSuspicious:
      return "suspicious";
    case Verdict::kError:
      return "error";
  }
  return "error";
}

seccloud::Result<std::string> SourceFingerprint(
    const std::vector<fs::path>& sources, std::initializer_list<std::string_view> extensions) {
  constexpr size_t kMaxFiles = 100'000;
  struct Entry {
    std::string name;
    uintmax_t size;
    int64_t mtime;
  };
  std::vector<Entry> entries;
  std::error_code ec;
  auto add = [&](const fs::path& p) {
    if (extensions.size() != 0) {
      const std::string ext = internal::LowerExtension(p.filename().string());
      if (std::find(extensions.begin(), extensions.end(), ext) == extensions.end()) return;
    }
    std::error_code e;
    const uintmax_t size = fs::file_size(p, e);
    if (e) return;
    const auto t = fs::last_write_time(p, e);
    if (e) return;
    entries.push_back({p.string(), size, static_cast<int64_t>(t.time_since_epoch().count())});
  };
  for (const fs::path& s : sources) {
    if (fs::is_regular_file(s, ec)) {
      add(s);
      continue;
    }
    if (!fs::is_directory(s, ec))
      return MakeError(Errc::kNotFound, "signature source " + s.string() + " does not exist");
    for (auto it = fs::recursive_directory_iterator(s, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it.depth() > 8) it.disable_recursion_pending();
      if (it->path().filename().string().starts_with(".")) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec)) add(it->path());
      if (entries.size() > kMaxFiles)
        return MakeError(Errc::kResourceExhausted,
                         "signature source " + s.string() + " holds more than 100,000 files");
    }
    if (ec) return ErrnoError("listing " + s.string(), ec.value());
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  // FNV-1a, 64 bits: a change detector, not a security boundary.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  for (const Entry& e : entries) {
    mix(e.name.data(), e.name.size() + 1);
    mix(&e.size, sizeof e.size);
    mix(&e.mtime, sizeof e.mtime);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 12);
}

namespace {

// One signature generation: immutable once built.
struct Generation {
  std::shared_ptr<const Scanner> clamav;
  std::shared_ptr<const Scanner> yara;
  std::string version;
  std::string fingerprint;
  unsigned clamav_signatures = 0;
  unsigned yara_rules = 0;
  unsigned yara_files_failed = 0;
  std::chrono::system_clock::time_point signatures_time;
};

int Severity(Verdict::Result r) {
  switch (r) {
    case Verdict::kInfected:
      return 3;
    case Verdict::kSuspicious:
      return 2;
    case Verdict::kError:
      return 1;
    case Verdict::kClean:
      return 0;
  }
  return 1;
}

// The more severe verdict decides; signatures of both are kept.
Verdict Merge(std::vector<Verdict> parts, const std::string& db_version) {
  Verdict out;
  out.db_version = db_version;
  std::string engines;
  // "clamav+yara" from the ClamAV part (YARA on archive members) and "yara" from the top level
  // name yara once.
  auto add_engines = [&](std::string_view names) {
    while (!names.empty()) {
      const std::string_view one = names.substr(0, names.find('+'));
      names.remove_prefix(std::min(names.size(), one.size() + 1));
      const std::string padded = "+" + engines + "+";
      if (padded.find("+" + std::string(one) + "+") == std::string::npos)
        engines += (engines.empty() ? "" : "+") + std::string(one);
    }
  };
  for (Verdict& p : parts) {
    if (Severity(p.result) > Severity(out.result)) {
      out.result = p.result;
      out.action = p.action;
      out.error = p.error;
    } else if (p.result == Verdict::kClean && out.result == Verdict::kClean && !p.error.empty()) {
      out.error = p.error;  // a heuristic allowed by policy: keep the note
    }
    if (p.result != Verdict::kClean || parts.size() == 1) add_engines(p.engine);
    for (auto& s : p.signatures) out.signatures.push_back(std::move(s));
  }
  if (engines.empty())
    for (const Verdict& p : parts) add_engines(p.engine);
  out.engine = engines;
  return out;
}

// Frees a replaced generation on the reloading thread rather than on whichever scan happens to
// drop the last reference: destroying a libclamav engine of 100k+ signatures takes hundreds of
// milliseconds, which would otherwise land on one unlucky scan's latency. Waits (bounded) for
// the scans still running on it; if they outlast the bound, the last of them frees it as before.
void RetireOffScanPath(std::shared_ptr<const Generation> old, std::chrono::milliseconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (old.use_count() > 1 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  old.reset();
}

}  // namespace

struct ScanEngine::State {
  ScanConfig config;
  WallClock clock;
  mutable std::mutex mu;  // guards `current` and `status`
  std::shared_ptr<const Generation> current;
  EngineStatus status;
  std::mutex reload_mu;  // one reload at a time

  std::shared_ptr<const Generation> Current() const {
    std::lock_guard lock(mu);
    return current;
  }

  // A reload or update that failed: the current generation stays; the status says why.
  void RecordFailure(const std::string& why) {
    std::lock_guard lock(mu);
    status.last_attempt = clock();
    status.last_error = why;
    ++status.reload_failures;
  }

  // Makes `next` the generation new scans use and retires `previous` off the scan path.
  void Publish(std::shared_ptr<const Generation> next, std::shared_ptr<const Generation> previous) {
    {
      std::lock_guard lock(mu);
      current = std::move(next);
      const auto now = clock();
      status.last_attempt = now;
      status.last_success = now;
      status.last_error.clear();
      ++status.reloads;
    }
    RetireOffScanPath(std::move(previous), config.limits.max_scan_time);
  }

  seccloud::Result<std::string> Fingerprint() const {
    std::string fp;
    if (config.clamav_enabled) {
      ASSIGN_OR_RETURN(std::string c, SourceFingerprint({config.clamav_database}, {}));
      fp += c;
    }
    if (config.yara_enabled) {
      ASSIGN_OR_RETURN(std::string y, SourceFingerprint(config.yara_rules, {"yar", "yara"}));
      fp += y;
    }
    return fp;
  }

  seccloud::Result<std::shared_ptr<const Generation>> Build(std::string fingerprint) const {
    auto g = std::make_shared<Generation>();
    g->fingerprint = std::move(fingerprint);
    EngineOptions options = EngineOptions::FromConfig(config);
    std::vector<std::string> versions;
    if (config.yara_enabled) {
      YaraLoadInfo info;
      ASSIGN_OR_RETURN(auto s, CreateYaraScanner(config.yara_rules, &info));
      g->yara = std::move(s);
      g->yara_rules = info.rules;
      g->yara_files_failed = info.files_failed;
      // Staleness follows the ClamAV feed when there is one: local YARA rules are edited by
      // hand, not published daily, and would otherwise mask (or fake) an update outage.
      if (!config.clamav_enabled) g->signatures_time = info.newest;
      // libclamav unpacks archives; YARA sees each member through it.
      options.member_scanner = g->yara;
    }
    if (config.clamav_enabled) {
      ClamavLoadInfo info;
      ASSIGN_OR_RETURN(auto s, CreateClamavScanner(config.clamav_database, options, &info));
      g->clamav = std::move(s);
      g->clamav_signatures = info.signatures;
      g->signatures_time = info.db_time;
      versions.insert(versions.begin(), g->clamav->db_version());
    }
    if (g->yara) versions.push_back(g->yara->db_version());
    for (const std::string& v : versions) g->version += (g->version.empty() ? "" : " ") + v;
    return std::shared_ptr<const Generation>(std::move(g));
  }
};

ScanEngine::ScanEngine(std::unique_ptr<State> state) : state_(std::move(state)) {}
ScanEngine::~ScanEngine() = default;

seccloud::Result<std::unique_ptr<ScanEngine>> ScanEngine::Create(const ScanConfig& config,
                                                                 WallClock clock) {
  if (!config.clamav_enabled && !config.yara_enabled)
    return MakeError(Errc::kInvalidArgument, "scan: neither clamav nor yara is enabled");
  auto state = std::make_unique<State>();
  state->config = config;
  state->clock =
      clock ? std::move(clock) : WallClock([] { return std::chrono::system_clock::now(); });
  ASSIGN_OR_RETURN(std::string fp, state->Fingerprint());
  ASSIGN_OR_RETURN(auto generation, state->Build(fp));
  const auto now = state->clock();
  state->current = generation;
  state->status.last_success = now;
  state->status.last_attempt = now;
  return std::unique_ptr<ScanEngine>(new ScanEngine(std::move(state)));
}

seccloud::Result<Verdict> ScanEngine::ScanBuffer(std::span<const uint8_t> data,
                                                 const ScanContext& context) const {
  // Holding the generation keeps its engines alive for this scan even if a reload swaps it out.
  const std::shared_ptr<const Generation> g = state_->Current();
  std::vector<Verdict> parts;
  for (const auto& s : {g->clamav, g->yara}) {
    if (!s) continue;
    ASSIGN_OR_RETURN(Verdict v, s->ScanBuffer(data, context));
    parts.push_back(std::move(v));
  }
  return Merge(std::move(parts), g->version);
}

seccloud::Result<Verdict> ScanEngine::ScanFile(const fs::path& path,
                                               const ScanContext& context) const {
  auto mapped = internal::MappedFile::Open(path);
  if (!mapped) return internal::UnreadableVerdict("seccloud", db_version(), mapped.error().message);
  ScanContext c = context;
  if (c.file_name.empty()) c.file_name = path.string();
  return ScanBuffer(mapped->bytes(), c);
}

std::string ScanEngine::db_version() const { return state_->Current()->version; }

ReloadReport ScanEngine::Reload(bool force) {
  std::lock_guard reload_lock(state_->reload_mu);
  ReloadReport r;
  auto previous = state_->Current();
  r.previous_version = previous->version;
  r.db_version = previous->version;
  auto fail = [&](std::string why) {
    state_->RecordFailure(why);
    r.ok = false;
    r.changed = true;
    r.error = std::move(why);
    return r;
  };
  auto fp = state_->Fingerprint();
  if (!fp) return fail(fp.error().message);
  if (!force && *fp == previous->fingerprint) {
    std::lock_guard lock(state_->mu);
    state_->status.last_attempt = state_->clock();
    return r;
  }
  auto next = state_->Build(*fp);
  if (!next) return fail(next.error().message);
  r.changed = true;
  r.db_version = (*next)->version;
  state_->Publish(std::move(*next), std::move(previous));
  return r;
}

ReloadReport ScanEngine::ApplyUpdate(const std::function<Status()>& install,
                                     const std::function<void()>& undo) {
  std::lock_guard reload_lock(state_->reload_mu);
  ReloadReport r;
  auto previous = state_->Current();
  r.previous_version = previous->version;
  r.db_version = previous->version;
  r.changed = true;
  auto fail = [&](std::string why) {
    if (undo) undo();
    state_->RecordFailure(why);
    r.ok = false;
    r.error = std::move(why);
    return r;
  };
  if (Status st = install(); !st) return fail(st.error().message);
  auto fp = state_->Fingerprint();
  if (!fp) return fail(fp.error().message);
  auto next = state_->Build(*fp);
  if (!next) return fail(next.error().message);
  r.db_version = (*next)->version;
  state_->Publish(std::move(*next), std::move(previous));
  return r;
}

EngineStatus ScanEngine::status() const {
  std::lock_guard lock(state_->mu);
  EngineStatus s = state_->status;
  const Generation& g = *state_->current;
  s.db_version = g.version;
  s.clamav_signatures = g.clamav_signatures;
  s.yara_rules = g.yara_rules;
  s.yara_files_failed = g.yara_files_failed;
  s.signatures_time = g.signatures_time;
  s.stale = state_->clock() - g.signatures_time > state_->config.max_signature_age;
  return s;
}

}  // namespace seccloud::scan
