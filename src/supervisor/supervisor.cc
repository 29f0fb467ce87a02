#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "core/event.h"
#include "core/event_writer.h"
#include "core/metrics.h"
#include "core/process.h"
#include "core/text.h"
#include "net/http.h"
#include "net/service_host.h"

namespace seccloud::supervisor {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

void Log(const std::string& message) {
  std::fprintf(stderr, "seccloud supervisor[%d]: %s\n", getpid(), message.c_str());
  std::fflush(stderr);
}

// What to run for one child. Built-in services are `seccloud <service> --config FILE`; programs
// come from the config's `programs:` list.
struct ChildSpec {
  std::string name;
  std::string kind;  // "service" or "program"
  std::vector<std::string> argv;
  std::map<std::string, std::string> environment;
  fs::path working_dir;
  std::optional<HttpUrl> health;

  bool operator==(const ChildSpec& o) const {
    return name == o.name && kind == o.kind && argv == o.argv && environment == o.environment &&
           working_dir == o.working_dir &&
           (health ? o.health && health->endpoint == o.health->endpoint &&
                         health->target == o.health->target
                   : !o.health);
  }
};

bool ServiceEnabled(const Config& config, std::string_view name) {
  if (name == "proxy") return config.proxy.enabled;
  if (name == "scand") return config.scan.enabled;
  if (name == "socd") return config.soc.enabled;
  return false;
}

std::vector<ChildSpec> ChildrenOf(const Config& config, const fs::path& config_path) {
  std::vector<ChildSpec> out;
  // Built-in services: `seccloud <service> --config FILE`, health on their admin address
  // (supervisor.admin + the service's fixed offset).
  for (const net::BuiltinService& b : net::kBuiltinServices) {
    if (!ServiceEnabled(config, b.name)) continue;
    ChildSpec c{
        b.name, "service", {SelfExecutable().string(), b.name, "--config", config_path.string()},
        {},     {},        std::nullopt};
    Endpoint admin = net::AdminEndpointOf(config, b.name);
    if (admin.port != 0) c.health = HttpUrl{admin, "/healthz"};
    out.push_back(std::move(c));
  }
  for (const ProgramConfig& p : config.programs) {
    if (!p.enabled) continue;
    ChildSpec c{p.name, "program", p.command, p.environment, p.working_dir, std::nullopt};
    if (!p.health_url.empty()) c.health = ParseHttpUrl(p.health_url);
    out.push_back(std::move(c));
  }
  return out;
}

enum class ChildState { kRunning, kBackoff, kStopping, kStopped };

const char* StateName(ChildState s) {
  switch (s) {
    case ChildState::kRunning:
      return "running";
    case ChildState::kBackoff:
      return "backoff";
    case ChildState::kStopping:
      return "stopping";
    case ChildState::kStopped:
      return "stopped";
  }
  return "unknown";
}

struct Child {
  explicit Child(asio::io_context& io) : restart_timer(io) {}
  ChildSpec spec;
  std::optional<ChildSpec> replacement;  // a reload changed the spec: start this after the exit
  bool removed = false;                  // a reload dropped it: do not restart
  ChildState state = ChildState::kStopped;
  pid_t pid = 0;
  Clock::time_point started{};
  uint64_t restarts = 0;
  int consecutive_failures = 0;
  std::string last_exit;
  std::string health = "unknown";  // "healthy", "unhealthy", "unknown"
  std::string health_detail;
  std::string version;
  std::string components;  // "name: detail; …" of the health components that say something
  asio::steady_timer restart_timer;
};

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string("killed by SIG") + (name ? name : std::to_string(WTERMSIG(status)));
  }
  return "stopped (status " + std::to_string(status) + ")";
}

class SupervisorImpl final : public Supervisor {
 public:
  SupervisorImpl(fs::path config_path, std::shared_ptr<const Config> config)
      : config_path_(std::move(config_path)),
        config_(std::move(config)),
        signals_(io_, SIGCHLD, SIGHUP, SIGTERM),
        health_timer_(io_),
        drain_timer_(io_),
        started_(Clock::now()) {
    signals_.add(SIGINT);
  }

  ~SupervisorImpl() override {
    if (lock_fd_ >= 0) {
      std::error_code ec;
      fs::remove(StateFilePath(config_path_), ec);
      close(lock_fd_);
    }
  }

  Status Init() {
    const fs::path state_dir = config_->node.state_dir;
    std::error_code ec;
    fs::create_directories(state_dir / "logs", ec);
    if (ec)
      return MakeError(Errc::kIo,
                       "cannot create " + (state_dir / "logs").string() + ": " + ec.message());
    const fs::path lock = state_dir / "supervisor.lock";
    lock_fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock_fd_ < 0) return ErrnoError("cannot open " + lock.string(), errno);
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      std::string who;
      if (auto st = ReadStateFile(config_path_)) who = " (pid " + std::to_string(st->pid) + ")";
      close(lock_fd_);
      lock_fd_ = -1;
      return MakeError(Errc::kAlreadyExists,
                       "another supervisor already runs on " + state_dir.string() + who);
    }
    EventWriterOptions events;
    events.directory = config_->events.spool_dir / "supervisor";
    events.name = config_->node.name + "/supervisor";
    events.rotate_bytes = config_->events.rotate_bytes;
    ASSIGN_OR_RETURN(events_, EventWriter::Open(events));

    net::AdminServer::Options admin;
    admin.listen = config_->supervisor.admin;
    admin.service = "supervisor";
    admin.health = &health_;
    admin.metrics = &metrics_;
    ASSIGN_OR_RETURN(admin_, net::AdminServer::Start(io_, admin));
    admin_->Route("GET", "/status", [this](const net::AdminRequest&) {
      return net::HttpReply{200, "application/json", StatusJson() + "\n"};
    });
    admin_->Route("POST", "/reload", [this](const net::AdminRequest&) { return Reload(); });
    health_.Set("events", true);
    metrics_.AddGaugeFunction(
        "seccloud_supervisor_uptime_seconds", "Seconds since start", "",
        [this] { return std::chrono::duration<double>(Clock::now() - started_).count(); });
    return WriteStateFile();
  }

  int Run() override {
    Record("system.service", "started", "success",
           {{"seccloud.service.name", "supervisor"},
            {"message", "supervisor started with " + config_path_.string()}});
    Log("admin on " + admin_->local_endpoint().ToString() + ", config " + config_path_.string());
    WaitSignals();
    for (ChildSpec& spec : ChildrenOf(*config_, config_path_)) {
      auto child = std::make_unique<Child>(io_);
      child->spec = std::move(spec);
      Child& c = *child;
      children_[c.spec.name] = std::move(child);
      StartChild(c);
    }
    ScheduleHealth(milliseconds(200));
    io_.run();
    Record("system.service", "stopped", "success", {{"seccloud.service.name", "supervisor"}});
    Log("stopped");
    return 0;
  }

 private:
  // ---- children ------------------------------------------------------------------------------

  void StartChild(Child& c) {
    SpawnOptions opts;
    opts.argv = c.spec.argv;
    opts.environment = c.spec.environment;
    opts.working_dir = c.spec.working_dir;
    opts.output = config_->node.state_dir / "logs" / (c.spec.name + ".log");
    auto pid = Spawn(opts);
    if (!pid) {
      c.last_exit = pid.error().ToString();
      const int64_t delay = NextDelayMs(c);
      Record("system.service", "start-failed", "failure",
             {{"seccloud.service.name", c.spec.name},
              {"error.message", c.last_exit},
              {"seccloud.service.restart_in_ms", delay}});
      Log(c.spec.name + ": " + c.last_exit);
      ScheduleRestart(c, delay);
      return;
    }
    c.pid = *pid;
    c.state = ChildState::kRunning;
    c.started = Clock::now();
    c.health = c.spec.health ? "unknown" : "healthy";
    c.health_detail.clear();
    Gauge(c).Set(1);
    Record("system.service", c.restarts == 0 ? "started" : "restarted", "success",
           {{"seccloud.service.name", c.spec.name},
            {"process.pid", static_cast<int64_t>(c.pid)},
            {"seccloud.service.restarts", static_cast<int64_t>(c.restarts)}});
    Log(c.spec.name + ": started, pid " + std::to_string(c.pid));
  }

  // Exponential back-off: initial, 2×, 4×, … up to max; a child that stayed up for
  // stable_after starts again from initial.
  int64_t NextDelayMs(const Child& c) const {
    const auto& s = config_->supervisor;
    int64_t delay = s.restart_backoff_initial.count();
    for (int i = 0; i < c.consecutive_failures && delay < s.restart_backoff_max.count(); ++i)
      delay *= 2;
    return std::min<int64_t>(delay, s.restart_backoff_max.count());
  }

  void ScheduleRestart(Child& c, int64_t delay) {
    if (draining_ || c.removed) {
      c.state = ChildState::kStopped;
      return;
    }
    c.state = ChildState::kBackoff;
    ++c.consecutive_failures;
    c.restart_timer.expires_after(milliseconds(delay));
    const std::string name = c.spec.name;
    c.restart_timer.async_wait([this, name](boost::system::error_code ec) {
      if (ec) return;
      auto it = children_.find(name);
      if (it == children_.end() || it->second->state != ChildState::kBackoff) return;
      Child& ch = *it->second;
      ++ch.restarts;
      metrics_
          .GetCounter("seccloud_supervisor_restarts_total", "Restarts of a crashed service",
                      "service=\"" + PrometheusLabelValue(name) + "\"")
          .Increment();
      StartChild(ch);
    });
    Log(c.spec.name + ": restarting in " + std::to_string(delay) + " ms");
  }

  void OnExit(pid_t pid, int status) {
    for (auto it = children_.begin(); it != children_.end(); ++it) {
      Child& c = *it->second;
      if (c.pid != pid) continue;
      // Whatever the child started (nginx workers, say) dies with it, so that a restart finds
      // its ports free. The group id cannot be reused while any member is alive.
      kill(-pid, SIGKILL);
      c.pid = 0;
      c.last_exit = DescribeExit(status);
      Gauge(c).Set(0);
      const bool expected = c.state == ChildState::kStopping;
      const bool stable = Clock::now() - c.started >= config_->supervisor.stable_after;
      if (stable) c.consecutive_failures = 0;
      if (expected) {
        Record("system.service", "stopped", "success",
               {{"seccloud.service.name", c.spec.name}, {"message", c.last_exit}});
        Log(c.spec.name + ": stopped (" + c.last_exit + ")");
        c.state = ChildState::kStopped;
        if (c.removed) {
          children_.erase(it);
        } else if (c.replacement && !draining_) {
          c.spec = std::move(*c.replacement);
          c.replacement.reset();
          c.consecutive_failures = 0;
          StartChild(c);
        }
      } else {
        const int64_t delay = NextDelayMs(c);
        Record("system.service", "crashed", "failure",
               {{"seccloud.service.name", c.spec.name},
                {"process.pid", static_cast<int64_t>(pid)},
                {"error.message", c.last_exit},
                {"seccloud.service.restart_in_ms", delay}});
        Log(c.spec.name + ": " + c.last_exit);
        ScheduleRestart(c, delay);
      }
      break;
    }
    if (draining_ && AllStopped()) FinishDrain();
  }

  void StopChild(Child& c, int sig) {
    if (c.pid <= 0) {
      c.restart_timer.cancel();
      c.state = ChildState::kStopped;
      return;
    }
    c.state = ChildState::kStopping;
    kill(-c.pid, sig);  // the whole process group the child leads
  }

  bool AllStopped() const {
    for (const auto& [name, c] : children_)
      if (c->pid > 0) return false;
    return true;
  }

  ::seccloud::Gauge& Gauge(const Child& c) {
    return metrics_.GetGauge("seccloud_supervisor_service_up", "1 while the service's process runs",
                             "service=\"" + PrometheusLabelValue(c.spec.name) + "\"");
  }

  // ---- signals, drain, reload -------------------------------------------------------------

  void WaitSignals() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGCHLD) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) OnExit(pid, status);
      } else if (sig == SIGHUP) {
        Log("SIGHUP: reloading " + config_path_.string());
        Reload();
      } else {
        Drain(sig == SIGINT ? "SIGINT" : "SIGTERM");
      }
      if (!finished_) WaitSignals();
    });
  }

  void Drain(const std::string& why) {
    if (draining_) return;
    draining_ = true;
    Log(why + ": draining " + std::to_string(children_.size()) + " children");
    health_timer_.cancel();
    for (auto& [name, c] : children_) StopChild(*c, SIGTERM);
    if (AllStopped()) return FinishDrain();
    drain_timer_.expires_after(config_->supervisor.drain_timeout);
    drain_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      for (auto& [name, c] : children_) {
        if (c->pid <= 0) continue;
        Record("system.service", "killed", "failure",
               {{"seccloud.service.name", name},
                {"error.message", "did not stop within the drain timeout; sent SIGKILL"}});
        Log(name + ": did not drain in time, SIGKILL");
        kill(-c->pid, SIGKILL);
      }
    });
  }

  void FinishDrain() {
    if (finished_) return;
    finished_ = true;
    drain_timer_.cancel();
    signals_.cancel();
    admin_->Stop();
    io_.stop();
  }

  net::HttpReply Reload() {
    auto loaded = LoadConfig(config_path_);
    if (!loaded) {
      const std::string errors = loaded.error().ToString();
      metrics_.GetCounter("seccloud_config_reload_failures_total", "Refused reloads").Increment();
      Record("system.config", "reload-refused", "failure",
             {{"error.message", errors.substr(0, 16384)},
              {"seccloud.config.file", config_path_.string()},
              {"seccloud.config.errors", static_cast<int64_t>(loaded.error().errors.size())}});
      Log("reload refused; the running configuration stays:\n" + errors);
      return net::HttpReply{422, "text/plain; charset=utf-8",
                            "reload refused; the running configuration stays\n" + errors};
    }
    std::shared_ptr<const Config> next = *loaded;
    if (next->supervisor.admin != config_->supervisor.admin ||
        next->node.state_dir != config_->node.state_dir ||
        next->events.spool_dir != config_->events.spool_dir) {
      const std::string why =
          "supervisor.admin, node.state_dir and events.spool_dir change only with a restart";
      Record("system.config", "reload-refused", "failure", {{"error.message", why}});
      return net::HttpReply{422, "text/plain; charset=utf-8", "reload refused: " + why + "\n"};
    }
    config_ = next;
    metrics_.GetCounter("seccloud_config_reloads_total", "Accepted reloads").Increment();
    // Reconcile children with the new snapshot.
    std::map<std::string, ChildSpec> wanted;
    for (ChildSpec& s : ChildrenOf(*config_, config_path_)) wanted.emplace(s.name, std::move(s));
    std::vector<std::string> to_erase;
    for (auto& [name, c] : children_) {
      auto w = wanted.find(name);
      if (w == wanted.end()) {
        c->removed = true;
        if (c->pid > 0)
          StopChild(*c, SIGTERM);
        else
          to_erase.push_back(name);
      } else if (!(w->second == c->spec)) {
        if (c->pid > 0) {
          c->replacement = w->second;
          StopChild(*c, SIGTERM);
        } else {
          c->spec = w->second;
        }
        wanted.erase(w);
      } else {
        if (c->pid > 0 && c->spec.kind == "service") kill(c->pid, SIGHUP);
        wanted.erase(w);
      }
    }
    for (const auto& name : to_erase) children_.erase(name);
    for (auto& [name, spec] : wanted) {
      auto child = std::make_unique<Child>(io_);
      child->spec = std::move(spec);
      Child& c = *child;
      children_[name] = std::move(child);
      StartChild(c);
    }
    Record(
        "system.config", "reloaded", "success",
        {{"seccloud.config.file", config_path_.string()},
         {"message", "configuration reloaded; " + std::to_string(children_.size()) + " children"}});
    Log("configuration reloaded");
    return net::HttpReply{200, "text/plain; charset=utf-8", "reloaded\n"};
  }

  // ---- health ----------------------------------------------------------------------------

  void ScheduleHealth(milliseconds after) {
    health_timer_.expires_after(after);
    health_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || draining_) return;
      for (auto& [name, c] : children_)
        if (c->state == ChildState::kRunning && c->spec.health) Probe(name, *c->spec.health);
      ScheduleHealth(config_->supervisor.health_interval);
    });
  }

  void Probe(const std::string& name, const HttpUrl& url) {
    const auto timeout = std::min(config_->supervisor.health_interval, milliseconds(2000));
    asio::co_spawn(
        io_, net::HttpRequest(url.endpoint, "GET", url.target, "", timeout),
        [this, name](std::exception_ptr e, Result<net::HttpResponse> r) {
          auto it = children_.find(name);
          if (it == children_.end() || it->second->state != ChildState::kRunning) return;
          Child& c = *it->second;
          if (e) {
            c.health = "unhealthy";
            c.health_detail = "probe failed";
          } else if (!r) {
            c.health = "unhealthy";
            c.health_detail = r.error().ToString();
          } else if (r->status < 200 || r->status > 299) {
            c.health = "unhealthy";
            c.health_detail = "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200);
          } else {
            c.health = "healthy";
            c.health_detail.clear();
            boost::system::error_code jec;
            json::value v = json::parse(r->body, jec);
            if (!jec && v.is_object()) {
              if (auto* ver = v.as_object().if_contains("version"); ver && ver->is_string())
                c.version = std::string(ver->as_string());
              c.components = ComponentDetails(v.as_object());
            }
          }
        });
  }

  // The components of a /healthz answer that carry a detail, as one line (bounded).
  static std::string ComponentDetails(const json::object& healthz) {
    std::string out;
    const json::value* comps = healthz.if_contains("components");
    if (!comps || !comps->is_object()) return out;
    for (const auto& [name, state] : comps->as_object()) {
      if (!state.is_object()) continue;
      const json::value* detail = state.as_object().if_contains("detail");
      if (!detail || !detail->is_string() || detail->as_string().empty()) continue;
      if (!out.empty()) out += "; ";
      out += std::string(name) + ": " + std::string(detail->as_string());
      if (out.size() > 1024) break;
    }
    return out.substr(0, 1024);
  }

  std::string StatusJson() {
    json::array services;
    const auto now = Clock::now();
    for (const auto& [name, c] : children_) {
      json::object o{{"name", name},
                     {"kind", c->spec.kind},
                     {"state", StateName(c->state)},
                     {"pid", static_cast<int64_t>(c->pid)},
                     {"restarts", c->restarts},
                     {"health", c->health},
                     {"version", c->version},
                     {"last_exit", c->last_exit}};
      o["uptime_seconds"] =
          c->pid > 0 ? std::chrono::duration_cast<std::chrono::seconds>(now - c->started).count()
                     : int64_t{0};
      if (!c->health_detail.empty()) o["health_detail"] = c->health_detail;
      if (!c->components.empty()) o["components"] = c->components;
      if (c->spec.health)
        o["health_url"] = "http://" + c->spec.health->endpoint.ToString() + c->spec.health->target;
      services.push_back(std::move(o));
    }
    json::object sup{
        {"pid", static_cast<int64_t>(getpid())},
        {"version", Version()},
        {"config", config_path_.string()},
        {"admin", admin_->local_endpoint().ToString()},
        {"health", health_.healthy() ? "healthy" : "unhealthy"},
        {"uptime_seconds",
         std::chrono::duration_cast<std::chrono::seconds>(now - started_).count()},
        {"tenants", static_cast<int64_t>(config_->tenants.size())},
    };
    if (!health_.healthy()) sup["health_detail"] = health_.FirstProblem();
    return json::serialize(json::object{{"supervisor", sup}, {"services", services}});
  }

  // ---- events and state ------------------------------------------------------------------

  // One field of an event: a dotted ECS path and a string or integer value.
  struct Field {
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, int64_t v) : key(k), value(v) {}
    Field(std::string_view k, uint64_t v) : key(k), value(v) {}
    std::string_view key;
    json::value value;
  };

  void Record(std::string_view dataset, std::string_view action, std::string_view outcome,
              std::initializer_list<Field> fields) {
    Event e = Event::Make(dataset, "event", action,
                          outcome == "success" ? Outcome::kSuccess : Outcome::kFailure);
    e.Set("event.category", dataset == "system.config" ? "configuration" : "process");
    for (const auto& [k, v] : fields) e.Set(k, v);
    auto seq = events_->Append(e);
    const bool ok = static_cast<bool>(seq);
    health_.Set("events", ok, ok ? "" : seq.error().ToString());
    if (!ok) Log("cannot record event " + std::string(action) + ": " + seq.error().ToString());
  }

  Status WriteStateFile() {
    const fs::path path = StateFilePath(config_path_);
    std::error_code dir_ec;
    fs::create_directories(path.parent_path(), dir_ec);
    if (dir_ec)
      return MakeError(Errc::kIo,
                       "cannot create " + path.parent_path().string() + ": " + dir_ec.message());
    const fs::path tmp = path.string() + ".tmp";
    json::object o{{"pid", static_cast<int64_t>(getpid())},
                   {"admin", admin_->local_endpoint().ToString()}};
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << json::serialize(o) << "\n";
      if (!out.flush()) return MakeError(Errc::kIo, "cannot write " + tmp.string());
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) return MakeError(Errc::kIo, "cannot write " + path.string() + ": " + ec.message());
    return {};
  }

  fs::path config_path_;
  std::shared_ptr<const Config> config_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::steady_timer health_timer_;
  asio::steady_timer drain_timer_;
  Clock::time_point started_;
  Health health_;
  MetricsRegistry metrics_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<net::AdminServer> admin_;
  std::map<std::string, std::unique_ptr<Child>> children_;
  int lock_fd_ = -1;
  bool draining_ = false;
  bool finished_ = false;
};

}  // namespace

fs::path StateFilePath(const fs::path& config_path) {
  fs::path dir;
  if (const char* env = std::getenv("SECCLOUD_RUNTIME_DIR"); env && *env) {
    dir = env;
  } else if (geteuid() == 0) {
    dir = "/run/seccloud";
  } else {
    const char* tmp = std::getenv("TMPDIR");
    dir = fs::path(tmp && *tmp ? tmp : "/tmp") / ("seccloud-" + std::to_string(geteuid()));
  }
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(fs::absolute(config_path, ec), ec);
  // FNV-1a: stable across runs and builds, unlike std::hash.
  uint64_t h = 1469598103934665603ull;
  for (char c : canonical.string()) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char name[64];
  std::snprintf(name, sizeof name, "supervisor-%016llx.json", static_cast<unsigned long long>(h));
  return dir / name;
}

Result<SupervisorState> ReadStateFile(const fs::path& config_path) {
  const fs::path path = StateFilePath(config_path);
  std::ifstream in(path);
  if (!in)
    return MakeError(Errc::kNotFound, "no supervisor runs with " + config_path.string() + " (" +
                                          path.string() + " is missing)");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  boost::system::error_code ec;
  json::value v = json::parse(text.substr(0, 4096), ec);
  SupervisorState st;
  if (!ec && v.is_object()) {
    auto& o = v.as_object();
    if (auto* pid = o.if_contains("pid"); pid && pid->is_int64())
      st.pid = static_cast<int>(pid->as_int64());
    if (auto* a = o.if_contains("admin"); a && a->is_string())
      if (auto e = Endpoint::Parse(std::string(a->as_string()))) st.admin = *e;
  }
  if (st.pid <= 0 || st.admin.port == 0)
    return MakeError(Errc::kInvalidArgument, path.string() + " is not a supervisor state file");
  return st;
}

Result<std::unique_ptr<Supervisor>> Supervisor::Create(fs::path config_path,
                                                       std::shared_ptr<const Config> config) {
  auto s = std::make_unique<SupervisorImpl>(std::move(config_path), std::move(config));
  RETURN_IF_ERROR(s->Init());
  return std::unique_ptr<Supervisor>(std::move(s));
}

}  // namespace seccloud::supervisor
