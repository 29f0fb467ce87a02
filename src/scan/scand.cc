// scand: the scanning service process, and the `seccloud scan` command.
#include <openssl/evp.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "core/config.h"
#include "core/event.h"
#include "core/metrics.h"
#include "net/service_host.h"
#include "scan/client.h"
#include "scan/scan_server.h"
#include "scan/scanner.h"
#include "scan/service.h"
#include "scan/signature_mirror.h"

namespace seccloud::scan {
namespace {

using SysClock = std::chrono::system_clock;

std::string Sha256Hex(std::span<const uint8_t> data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

double Seconds(SysClock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A thread running Loop() until Stop(); Loop() waits on cv_ under mu_ and returns once stop_ is
// set. A derived class's destructor must call Stop() (its Loop() uses its members).
class BackgroundThread {
 public:
  virtual ~BackgroundThread() = default;
  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 protected:
  virtual void Loop() = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;

 private:
  std::thread thread_;
};

// The scan.update event for an engine reload (a directory change, SIGHUP or a mirror download).
Event ReloadEvent(const ReloadReport& r) {
  Event e = Event::Make("scan.update", "event", r.ok ? "reloaded" : "reload-failed",
                        r.ok ? Outcome::kSuccess : Outcome::kFailure);
  e.Set("event.category", "configuration");
  e.Set("event.type", "change");
  e.Set("seccloud.scan.db_version", r.db_version);
  e.Set("seccloud.scan.previous_db_version", r.previous_version);
  if (!r.ok) e.Set("error.message", r.error);
  return e;
}

// Polls the signature sources, swaps engines, watches their age; owns the scand events other
// than detections.
class SignatureWatcher : public BackgroundThread {
 public:
  SignatureWatcher(net::ServiceHost& host, ScanEngine& engine, std::chrono::milliseconds interval)
      : host_(host), engine_(engine), interval_(interval) {}
  ~SignatureWatcher() override { Stop(); }

  // SIGHUP: reload now, even if nothing seems to have changed.
  void ReloadNow() {
    {
      std::lock_guard lock(mu_);
      force_ = true;
    }
    cv_.notify_all();
  }
  void CheckAge() {
    const EngineStatus s = engine_.status();
    const auto age =
        std::chrono::duration_cast<std::chrono::seconds>(SysClock::now() - s.signatures_time);
    if (s.stale) {
      host_.health().Set("signatures", false,
                         "signatures are " + std::to_string(age.count() / 3600) +
                             " h old (max_age exceeded); last successful update " +
                             FormatEventTimestamp(s.last_success));
      if (!stale_alerted_) {
        stale_alerted_ = true;
        Event e = Event::Make("scan.update", "alert", "signatures-stale", Outcome::kFailure);
        e.Set("event.category", "malware");
        e.Set("event.type", "info");
        e.Set("seccloud.scan.db_version", s.db_version);
        e.Set("seccloud.scan.signature_age_seconds", static_cast<int64_t>(age.count()));
        e.Set("message", "scan signatures are older than scan.updates.max_age");
        host_.events().Push(std::move(e));
      }
    } else {
      stale_alerted_ = false;
      // The detail reaches `seccloud status` through /healthz: which signatures, how fresh.
      host_.health().Set("signatures", true,
                         s.db_version + ", last update " + FormatEventTimestamp(s.last_success));
    }
  }

 private:
  void Loop() override {
    auto next_poll = std::chrono::steady_clock::now() + interval_;
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_ || force_; });
      if (stop_) break;
      const bool force = force_;
      force_ = false;
      const bool due = std::chrono::steady_clock::now() >= next_poll;
      lock.unlock();
      if (force || due) {
        next_poll = std::chrono::steady_clock::now() + interval_;
        ReloadReport r = engine_.Reload(force);
        if (r.changed) Record(r);
      }
      CheckAge();
      lock.lock();
    }
  }

  void Record(const ReloadReport& r) {
    host_.events().Push(ReloadEvent(r));
    host_.health().Set("updates", r.ok, r.ok ? "" : "last signature load failed: " + r.error);
    std::fprintf(stderr, "seccloud scand: signatures %s: %s\n", r.ok ? "reloaded" : "NOT reloaded",
                 r.ok ? r.db_version.c_str() : r.error.c_str());
  }

  net::ServiceHost& host_;
  ScanEngine& engine_;
  const std::chrono::milliseconds interval_;
  bool force_ = false;  // guarded by mu_
  bool stale_alerted_ = false;
};

// Polls the signature mirror (scan.updates.mirror) on its own thread: a download can take
// minutes and must not hold up the staleness check or the directory poll.
class MirrorPoller : public BackgroundThread {
 public:
  MirrorPoller(net::ServiceHost& host, ScanEngine& engine, const ScanConfig& config)
      : host_(host),
        mirror_(config.mirror, config.clamav_database, engine),
        interval_(config.mirror.interval),
        mirror_url_(config.mirror.url) {}
  ~MirrorPoller() override { Stop(); }

  // For /metrics: polls answered without error, polls that failed, the last good poll.
  std::atomic<uint64_t> polls_ok{0};
  std::atomic<uint64_t> polls_failed{0};
  std::atomic<double> last_ok_seconds{0};

  void UpdateNow() {
    {
      std::lock_guard lock(mu_);
      now_ = true;
    }
    cv_.notify_all();
  }

 private:
  void Loop() override {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      Record(mirror_.Update());
      lock.lock();
      now_ = false;
      cv_.wait_for(lock, interval_, [&] { return stop_ || now_; });
    }
  }

  void Record(const MirrorUpdateReport& r) {
    if (r.ok) {
      polls_ok.fetch_add(1);
      last_ok_seconds.store(Seconds(SysClock::now()));
    } else {
      polls_failed.fetch_add(1);
    }
    if (r.reloaded && !r.reload.ok) host_.events().Push(ReloadEvent(r.reload));
    for (const std::string& why : r.incremental_failures) {
      // The whole container was fetched instead (its own event follows): a warning, not a gap.
      Event e = Event::Make("scan.update", "event", "mirror-incremental-failed", Outcome::kFailure);
      e.Set("event.category", "configuration");
      e.Set("event.type", "change");
      e.Set("url.original", mirror_url_);
      e.Set("error.message", why);
      host_.events().Push(std::move(e));
      std::fprintf(stderr, "seccloud scand: mirror: %s\n", why.c_str());
    }
    if (r.ok && r.updated.empty()) {
      host_.health().Set("mirror", true);
      return;  // nothing new: no event every poll
    }
    std::string updated;
    for (const std::string& u : r.updated) updated += (updated.empty() ? "" : ", ") + u;
    // One poll can do both: install what verified and report what did not.
    if (!updated.empty()) {
      Event e = Event::Make("scan.update", "event", "mirror-updated", Outcome::kSuccess);
      e.Set("event.category", "configuration");
      e.Set("event.type", "change");
      e.Set("url.original", mirror_url_);
      e.Set("seccloud.scan.updated", updated);
      e.Set("seccloud.scan.downloaded_bytes", r.downloaded_bytes);
      e.Set("seccloud.scan.db_version", r.reload.db_version);
      e.Set("seccloud.scan.previous_db_version", r.reload.previous_version);
      host_.events().Push(std::move(e));
      std::fprintf(stderr, "seccloud scand: mirror: updated %s\n", updated.c_str());
    }
    if (!r.ok) {
      Event e = Event::Make("scan.update", "event", "mirror-update-failed", Outcome::kFailure);
      e.Set("event.category", "configuration");
      e.Set("event.type", "change");
      e.Set("url.original", mirror_url_);
      e.Set("seccloud.scan.downloaded_bytes", r.downloaded_bytes);
      e.Set("error.message", r.error);
      host_.events().Push(std::move(e));
      std::fprintf(stderr, "seccloud scand: mirror: %s\n", r.error.c_str());
    }
    host_.health().Set("mirror", r.ok, r.ok ? "" : "last mirror update failed: " + r.error);
  }

  net::ServiceHost& host_;
  SignatureMirror mirror_;
  const std::chrono::milliseconds interval_;
  const std::string mirror_url_;
  bool now_ = false;  // guarded by mu_
};

void RecordDetection(net::ServiceHost& host, const Verdict& v, const ScanContext& c,
                     std::span<const uint8_t> data) {
  Event e = Event::Make("scan.detection", "alert",
                        v.result == Verdict::kInfected ? "malware-detected" : "content-refused",
                        Outcome::kSuccess);
  e.Set("event.category", "malware");
  e.Set("event.type", "info");
  if (!c.tenant_id.empty()) e.Set("tenant.id", c.tenant_id);
  if (!c.file_name.empty()) e.Set("file.name", c.file_name);
  e.Set("file.size", static_cast<uint64_t>(data.size()));
  if (!data.empty()) e.Set("file.hash.sha256", Sha256Hex(data));
  e.Set("seccloud.scan.engine", v.engine);
  e.Set("seccloud.scan.signature", v.signatures.empty() ? v.error : v.signatures.front());
  e.Set("seccloud.scan.db_version", v.db_version);
  e.Set("seccloud.scan.result", VerdictResultName(v.result));
  e.Set("seccloud.verdict.action", v.action);
  e.Set("rule.name", v.signatures.empty() ? v.error : v.signatures.front());
  e.Set("rule.ruleset", v.engine);
  host.events().Push(std::move(e));
}

}  // namespace

int RunScanService(const std::filesystem::path& config_path) {
  auto host_or = net::ServiceHost::Create("scand", config_path);
  if (!host_or) {
    std::fprintf(stderr, "seccloud scand: %s\n", host_or.error().ToString().c_str());
    return 1;
  }
  net::ServiceHost& host = **host_or;
  const ScanConfig sc = host.config()->scan;
  if (!sc.enabled) {
    std::fprintf(stderr, "seccloud scand: the configuration has no enabled scan section\n");
    return 1;
  }
  auto engine_or = ScanEngine::Create(sc);
  if (!engine_or) {
    std::fprintf(stderr, "seccloud scand: %s\n", engine_or.error().ToString().c_str());
    host.RecordSystemEvent("system.service", "start-failed", Outcome::kFailure,
                           engine_or.error().message);
    return 1;
  }
  std::shared_ptr<ScanEngine> engine = std::move(*engine_or);
  ServerOptions so;
  so.socket = sc.socket;
  so.workers = sc.workers ? sc.workers : std::max(1u, std::thread::hardware_concurrency());
  so.max_stream_bytes = sc.limits.max_stream_bytes;
  so.spill_bytes = sc.limits.spill_bytes;
  so.temp_dir = sc.temp_dir;
  auto server_or = ScanServer::Start(
      so, engine, [&host](const Verdict& v, const ScanContext& c, std::span<const uint8_t> data) {
        if (v.result == Verdict::kInfected || v.result == Verdict::kSuspicious)
          RecordDetection(host, v, c, data);
      });
  if (!server_or) {
    std::fprintf(stderr, "seccloud scand: %s\n", server_or.error().ToString().c_str());
    return 1;
  }
  std::unique_ptr<ScanServer> server = std::move(*server_or);
  if (auto st = host.DropPrivileges(); !st) {
    std::fprintf(stderr, "seccloud scand: %s\n", st.error().ToString().c_str());
    return 1;
  }

  MetricsRegistry& m = host.metrics();
  const ServerCounters& k = server->counters();
  struct CounterMetric {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>* value;
  } counters[] = {
      {"seccloud_scan_scans_total", "Completed scans", &k.scans},
      {"seccloud_scan_clean_total", "Scans with a clean verdict", &k.clean},
      {"seccloud_scan_infected_total", "Scans that found malware", &k.infected},
      {"seccloud_scan_suspicious_total", "Scans refused by a limit or encrypted-archive policy",
       &k.suspicious},
      {"seccloud_scan_errors_total", "Scans that ended in an error verdict", &k.errors},
      {"seccloud_scan_bytes_total", "Bytes received for scanning", &k.bytes},
      {"seccloud_scan_streams_capped_total", "Streams refused for exceeding max_stream_size",
       &k.capped},
      {"seccloud_scan_protocol_errors_total", "Malformed requests and chunk lengths",
       &k.protocol_errors},
      {"seccloud_scan_streams_aborted_total", "Clients that vanished or timed out mid-stream",
       &k.aborted},
  };
  for (const CounterMetric& c : counters)
    m.AddGaugeFunction(c.name, c.help, "",
                       [v = c.value] { return static_cast<double>(v->load()); });
  m.AddGaugeFunction("seccloud_scan_active", "Connections being served", "",
                     [&k] { return static_cast<double>(k.active.load()); });
  m.AddGaugeFunction("seccloud_scan_signature_time_seconds",
                     "Build time of the newest signatures (Unix time)", "",
                     [engine] { return Seconds(engine->status().signatures_time); });
  m.AddGaugeFunction("seccloud_scan_last_update_success_seconds",
                     "Last successful signature load (Unix time)", "",
                     [engine] { return Seconds(engine->status().last_success); });
  m.AddGaugeFunction("seccloud_scan_clamav_signatures", "ClamAV signatures loaded", "",
                     [engine] { return static_cast<double>(engine->status().clamav_signatures); });
  m.AddGaugeFunction("seccloud_scan_yara_rules", "YARA rules loaded", "",
                     [engine] { return static_cast<double>(engine->status().yara_rules); });
  m.AddGaugeFunction("seccloud_scan_reload_failures_total", "Signature loads that failed", "",
                     [engine] { return static_cast<double>(engine->status().reload_failures); });
  // The version as a label of an info metric; re-registered with each new version.
  std::mutex version_mu;
  std::string version_label;
  auto publish_version = [&] {
    std::lock_guard lock(version_mu);
    const std::string labels = "version=\"" + PrometheusLabelValue(engine->db_version()) + "\"";
    if (labels == version_label) return;
    if (!version_label.empty())
      m.RemoveGaugeFunction("seccloud_scan_signature_info", version_label);
    m.AddGaugeFunction("seccloud_scan_signature_info", "Signature versions in use", labels,
                       [] { return 1.0; });
    version_label = labels;
  };
  publish_version();
  // scans/s over the last second, for dashboards without a Prometheus rate().
  std::atomic<double> rate{0};
  m.AddGaugeFunction("seccloud_scan_scans_per_second", "Scans completed in the last second", "",
                     [&rate] { return rate.load(); });

  host.health().Set("updates", true);
  SignatureWatcher watcher(host, *engine, sc.poll_interval);
  watcher.CheckAge();
  watcher.Start();
  std::unique_ptr<MirrorPoller> mirror;
  if (!sc.mirror.url.empty()) {
    mirror = std::make_unique<MirrorPoller>(host, *engine, sc);
    MirrorPoller* mp = mirror.get();
    m.AddGaugeFunction("seccloud_scan_mirror_polls_total", "Signature mirror polls without error",
                       "", [mp] { return static_cast<double>(mp->polls_ok.load()); });
    m.AddGaugeFunction("seccloud_scan_mirror_failures_total",
                       "Signature mirror polls that failed (unreachable, refused download)", "",
                       [mp] { return static_cast<double>(mp->polls_failed.load()); });
    m.AddGaugeFunction("seccloud_scan_mirror_last_success_seconds",
                       "Last signature mirror poll without error (Unix time)", "",
                       [mp] { return mp->last_ok_seconds.load(); });
    mirror->Start();
  }
  std::atomic<bool> stop_rate{false};
  std::thread rate_thread([&] {
    uint64_t last = k.scans.load();
    while (!stop_rate.load()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const uint64_t now = k.scans.load();
      rate.store(static_cast<double>(now - last));
      last = now;
      publish_version();
    }
  });

  host.OnReload([&](const std::shared_ptr<const Config>& next) -> Status {
    if (!(next->scan == sc))
      return MakeError(Errc::kInvalidArgument,
                       "changes to the scan section take effect only with a restart of scand");
    watcher.ReloadNow();
    if (mirror) mirror->UpdateNow();
    return {};
  });
  const EngineStatus st = engine->status();
  std::fprintf(stderr,
               "seccloud scand: listening on %s (%u workers), %s, %u ClamAV signatures, %u YARA "
               "rules (%u rule files failed), admin on %s\n",
               sc.socket.c_str(), so.workers, st.db_version.c_str(), st.clamav_signatures,
               st.yara_rules, st.yara_files_failed, host.admin_endpoint().ToString().c_str());
  const int rc = host.Run([&](std::chrono::steady_clock::time_point) {
    server->Stop();
    if (mirror) mirror->Stop();
    watcher.Stop();
  });
  stop_rate = true;
  rate_thread.join();
  for (const CounterMetric& c : counters) m.RemoveGaugeFunction(c.name);
  for (const char* name : {"seccloud_scan_active", "seccloud_scan_signature_time_seconds",
                           "seccloud_scan_last_update_success_seconds",
                           "seccloud_scan_clamav_signatures", "seccloud_scan_yara_rules",
                           "seccloud_scan_reload_failures_total", "seccloud_scan_scans_per_second"})
    m.RemoveGaugeFunction(name);
  m.RemoveGaugeFunction("seccloud_scan_signature_info", version_label);
  if (mirror)
    for (const char* name :
         {"seccloud_scan_mirror_polls_total", "seccloud_scan_mirror_failures_total",
          "seccloud_scan_mirror_last_success_seconds"})
      m.RemoveGaugeFunction(name);
  return rc;
}

int RunScanCommand(const std::filesystem::path& config_path, const std::vector<std::string>& files,
                   bool in_process) {
  LoadOptions lo;
  lo.check_directories = false;
  auto cfg = LoadConfig(config_path, lo);
  if (!cfg) {
    std::fprintf(stderr, "%s", cfg.error().ToString().c_str());
    return 2;
  }
  const ScanConfig& sc = (*cfg)->scan;
  if (!sc.enabled) {
    std::fprintf(stderr, "seccloud scan: %s has no enabled scan section\n", config_path.c_str());
    return 2;
  }
  // Through scand when it runs (one engine in memory), else with an engine of our own.
  std::unique_ptr<ScanEngine> engine;
  const bool via_scand =
      !in_process && Ping(sc.socket, ClientOptions{std::chrono::seconds(2)}).has_value();
  if (!via_scand) {
    auto e = ScanEngine::Create(sc);
    if (!e) {
      std::fprintf(stderr, "seccloud scan: %s\n", e.error().ToString().c_str());
      return 2;
    }
    engine = std::move(*e);
  }
  std::vector<std::filesystem::path> targets;
  for (const std::string& f : files) {
    std::error_code ec;
    if (std::filesystem::is_directory(f, ec)) {
      for (auto it = std::filesystem::recursive_directory_iterator(f, ec);
           !ec && it != std::filesystem::end(it); it.increment(ec))
        if (it->is_regular_file(ec)) targets.push_back(it->path());
    } else {
      targets.emplace_back(f);
    }
  }
  int found = 0, errors = 0;
  for (const auto& t : targets) {
    ScanContext c;
    c.file_name = t.string();
    seccloud::Result<Verdict> v =
        via_scand ? ScanFileStream(sc.socket, t, c) : engine->ScanFile(t, c);
    if (!v) {
      std::printf("%s: ERROR %s\n", t.c_str(), v.error().message.c_str());
      ++errors;
      continue;
    }
    switch (v->result) {
      case Verdict::kClean:
        std::printf("%s: OK\n", t.c_str());
        break;
      case Verdict::kInfected:
      case Verdict::kSuspicious: {
        std::string names;
        for (const auto& s : v->signatures) names += (names.empty() ? "" : ", ") + s;
        std::printf("%s: %s FOUND\n", t.c_str(), names.empty() ? v->error.c_str() : names.c_str());
        ++found;
        break;
      }
      case Verdict::kError:
        std::printf("%s: ERROR %s\n", t.c_str(), v->error.c_str());
        ++errors;
        break;
    }
  }
  std::fflush(stdout);
  std::fprintf(stderr, "seccloud scan: %zu file(s), %d found, %d error(s), %s, %s\n",
               targets.size(), found, errors, via_scand ? "via scand" : "in-process",
               via_scand ? "" : engine->db_version().c_str());
  if (found > 0) return 1;
  return errors > 0 ? 2 : 0;
}

}  // namespace seccloud::scan
