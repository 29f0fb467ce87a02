#include "apps/seccloud/commands.h"

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "core/config.h"
#include "core/metrics.h"
#include "core/tenant_registry.h"
#include "net/http.h"
#include "proxy/proxy.h"
#include "scan/service.h"
#include "socd/socd.h"
#include "supervisor/supervisor.h"

namespace seccloud::cli {
namespace {

namespace json = boost::json;
constexpr const char* kDefaultConfig = "/etc/seccloud/seccloud.yaml";

struct Parsed {
  std::string config = kDefaultConfig;
  std::vector<std::string> positional;
  bool help = false;
  bool json = false;
  bool no_dir_check = false;
  std::string error;
};

// Options shared by the subcommands: --config FILE (or -c), --json, --help.
Parsed ParseArgs(const std::vector<std::string>& args) {
  Parsed p;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      p.help = true;
    } else if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) {
        p.error = a + " needs a file name";
        return p;
      }
      p.config = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      p.config = a.substr(9);
    } else if (a == "--json") {
      p.json = true;
    } else if (a == "--no-directory-check") {
      p.no_dir_check = true;
    } else if (!a.empty() && a[0] == '-') {
      p.error = "unknown option " + a;
      return p;
    } else {
      p.positional.push_back(a);
    }
  }
  return p;
}

int UsageError(const char* command, const std::string& error, const char* usage) {
  std::fprintf(stderr, "seccloud %s: %s\n%s", command, error.c_str(), usage);
  return 2;
}

std::optional<std::shared_ptr<const Config>> Load(const std::string& path, bool check_dirs) {
  LoadOptions options;
  options.check_directories = check_dirs;
  auto cfg = LoadConfig(path, options);
  if (!cfg) {
    std::fprintf(stderr, "%s", cfg.error().ToString().c_str());
    std::fprintf(stderr, "%s: %zu error(s); nothing was started\n", path.c_str(),
                 cfg.error().errors.size());
    return std::nullopt;
  }
  return *cfg;
}

// Finds the supervisor running `config_path` and sends it one request.
Result<net::HttpResponse> AskSupervisor(const std::string& config_path, const char* method,
                                        const char* target) {
  ASSIGN_OR_RETURN(auto state, supervisor::ReadStateFile(config_path));
  return net::HttpRequestSync(state.admin, method, target, "", std::chrono::seconds(30));
}

const char* const kRunUsage =
    "usage: seccloud run --config FILE\n"
    "  Validates FILE, then starts every enabled service as its own process, restarts crashed\n"
    "  ones with back-off, serves /healthz, /metrics and /status on supervisor.admin, reloads\n"
    "  on SIGHUP (or `seccloud reload`) and drains every service on SIGTERM.\n";
const char* const kCheckUsage =
    "usage: seccloud check-config [--no-directory-check] [--config] FILE\n"
    "  Parses and validates FILE and everything it includes. Prints every error as\n"
    "  file:line:column: path: message. Exit status 0 when valid, 1 otherwise.\n"
    "  --no-directory-check  do not check that state and spool directories are writable\n";
const char* const kReloadUsage =
    "usage: seccloud reload --config FILE\n"
    "  Asks the supervisor running FILE to load it again. A configuration with errors is\n"
    "  refused: the errors are printed, the running configuration stays, exit status 1.\n";
const char* const kStatusUsage =
    "usage: seccloud status --config FILE [--json]\n"
    "  Lists the supervisor and its services: state, pid, uptime, restarts, health, version.\n"
    "  Exit status 0 when everything is running and healthy, 1 otherwise.\n";

std::string FormatUptime(int64_t s) {
  char buf[32];
  if (s >= 86400)
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  else if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return buf;
}

std::string Str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

int64_t Int(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

}  // namespace

int Run(const std::vector<std::string>& args) {
  Parsed p = ParseArgs(args);
  if (p.help) return std::printf("%s", kRunUsage), 0;
  if (!p.error.empty()) return UsageError("run", p.error, kRunUsage);
  if (!p.positional.empty()) return UsageError("run", "unexpected " + p.positional[0], kRunUsage);
  auto cfg = Load(p.config, true);
  if (!cfg) return 1;
  auto sup = supervisor::Supervisor::Create(std::filesystem::absolute(p.config), *cfg);
  if (!sup) {
    std::fprintf(stderr, "seccloud run: %s\n", sup.error().ToString().c_str());
    return 1;
  }
  return (*sup)->Run();
}

int CheckConfig(const std::vector<std::string>& args) {
  Parsed p = ParseArgs(args);
  if (p.help) return std::printf("%s", kCheckUsage), 0;
  if (!p.error.empty()) return UsageError("check-config", p.error, kCheckUsage);
  if (p.positional.size() > 1) return UsageError("check-config", "one file at a time", kCheckUsage);
  if (p.positional.size() == 1) p.config = p.positional[0];
  auto cfg = Load(p.config, !p.no_dir_check);
  if (!cfg) return 1;
  std::printf("%s: OK (%zu tenants, %zu programs)\n", p.config.c_str(), (**cfg).tenants.size(),
              (**cfg).programs.size());
  return 0;
}

int Reload(const std::vector<std::string>& args) {
  Parsed p = ParseArgs(args);
  if (p.help) return std::printf("%s", kReloadUsage), 0;
  if (!p.error.empty()) return UsageError("reload", p.error, kReloadUsage);
  if (!p.positional.empty())
    return UsageError("reload", "unexpected " + p.positional[0], kReloadUsage);
  // The supervisor validates the file itself, so that a refusal is recorded as an event.
  auto r = AskSupervisor(p.config, "POST", "/reload");
  if (!r) {
    std::fprintf(stderr, "seccloud reload: %s\n", r.error().ToString().c_str());
    return 1;
  }
  std::FILE* out = r->status == 200 ? stdout : stderr;
  std::fprintf(out, "%s", r->body.c_str());
  return r->status == 200 ? 0 : 1;
}

int Status(const std::vector<std::string>& args) {
  Parsed p = ParseArgs(args);
  if (p.help) return std::printf("%s", kStatusUsage), 0;
  if (!p.error.empty()) return UsageError("status", p.error, kStatusUsage);
  if (!p.positional.empty())
    return UsageError("status", "unexpected " + p.positional[0], kStatusUsage);
  auto r = AskSupervisor(p.config, "GET", "/status");
  if (!r) {
    std::fprintf(stderr, "seccloud status: %s\n", r.error().ToString().c_str());
    return 1;
  }
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object() || r->status != 200) {
    std::fprintf(stderr, "seccloud status: unexpected answer (HTTP %d)\n", r->status);
    return 1;
  }
  if (p.json) std::printf("%s", r->body.c_str());
  const json::object& top = v.as_object();
  bool all_ok = true;
  const json::object* sup = top.contains("supervisor") && top.at("supervisor").is_object()
                                ? &top.at("supervisor").as_object()
                                : nullptr;
  if (sup && Str(*sup, "health") != "healthy") all_ok = false;
  const json::array* services = top.contains("services") && top.at("services").is_array()
                                    ? &top.at("services").as_array()
                                    : nullptr;
  if (services)
    for (const auto& s : *services)
      if (s.is_object() &&
          (Str(s.as_object(), "state") != "running" || Str(s.as_object(), "health") != "healthy"))
        all_ok = false;
  if (p.json) return all_ok ? 0 : 1;
  std::printf("%-16s %-9s %-8s %-9s %-8s %-10s %s\n", "SERVICE", "STATE", "PID", "UPTIME",
              "RESTARTS", "HEALTH", "VERSION");
  if (sup)
    std::printf("%-16s %-9s %-8lld %-9s %-8s %-10s %s   admin %s\n", "supervisor", "running",
                static_cast<long long>(Int(*sup, "pid")),
                FormatUptime(Int(*sup, "uptime_seconds")).c_str(), "-", Str(*sup, "health").c_str(),
                Str(*sup, "version").c_str(), Str(*sup, "admin").c_str());
  if (services) {
    for (const auto& sv : *services) {
      if (!sv.is_object()) continue;
      const json::object& s = sv.as_object();
      std::string pid = Int(s, "pid") > 0 ? std::to_string(Int(s, "pid")) : "-";
      std::printf("%-16s %-9s %-8s %-9s %-8lld %-10s %s\n", Str(s, "name").c_str(),
                  Str(s, "state").c_str(), pid.c_str(),
                  Int(s, "pid") > 0 ? FormatUptime(Int(s, "uptime_seconds")).c_str() : "-",
                  static_cast<long long>(Int(s, "restarts")), Str(s, "health").c_str(),
                  Str(s, "version").empty() ? "-" : Str(s, "version").c_str());
      if (!Str(s, "health_detail").empty())
        std::printf("  %s: %s\n", Str(s, "name").c_str(), Str(s, "health_detail").c_str());
      if (!Str(s, "components").empty())
        std::printf("  %s: %s\n", Str(s, "name").c_str(), Str(s, "components").c_str());
      if (Str(s, "state") != "running" && !Str(s, "last_exit").empty())
        std::printf("  %s: last exit: %s\n", Str(s, "name").c_str(), Str(s, "last_exit").c_str());
    }
    if (services->empty()) std::printf("(no services configured)\n");
  }
  return all_ok ? 0 : 1;
}

const char* const kProxyUsage =
    "usage: seccloud proxy --config FILE\n"
    "  Runs the web proxy service of FILE's `proxy:` section in the foreground: forward proxy\n"
    "  with tenant and terminal attribution and an access-log event per request. `seccloud run`\n"
    "  starts it; run it by hand only to debug. SIGHUP reloads, SIGTERM drains.\n";

int Proxy(const std::vector<std::string>& args) {
  Parsed p = ParseArgs(args);
  if (p.help) return std::printf("%s", kProxyUsage), 0;
  if (!p.error.empty()) return UsageError("proxy", p.error, kProxyUsage);
  return proxy::RunProxyService(p.config);
}

const char* const kScandUsage =
    "usage: seccloud scand --config FILE\n"
    "  Runs the content-scanning service of FILE's `scan:` section in the foreground: scans\n"
    "  streamed over scan.socket with libclamav and libyara, reloads signatures when their\n"
    "  directory changes. `seccloud run` starts it. SIGHUP reloads signatures, SIGTERM drains.\n";

int Scand(const std::vector<std::string>& args) {
  Parsed p = ParseArgs(args);
  if (p.help) return std::printf("%s", kScandUsage), 0;
  if (!p.error.empty()) return UsageError("scand", p.error, kScandUsage);
  return scan::RunScanService(p.config);
}

const char* const kScanUsage =
    "usage: seccloud scan [--config FILE] [--in-process] FILE|DIR...\n"
    "  Scans files (directories recursively) and prints \"FILE: OK\" or \"FILE: SIGNATURE "
    "FOUND\".\n"
    "  Goes through scand when it answers on scan.socket, else loads the engine itself.\n"
    "  Exit status 1 when something was found, 2 on an error, 0 when all is clean.\n"
    "  --in-process  never use scand\n";

int Scan(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  bool in_process = false;
  for (const std::string& a : args) {
    if (a == "--in-process")
      in_process = true;
    else
      rest.push_back(a);
  }
  Parsed p = ParseArgs(rest);
  if (p.help) return std::printf("%s", kScanUsage), 0;
  if (!p.error.empty()) return UsageError("scan", p.error, kScanUsage);
  if (p.positional.empty()) return UsageError("scan", "no files to scan", kScanUsage);
  return scan::RunScanCommand(p.config, p.positional, in_process);
}

const char* const kSocdUsage =
    "usage: seccloud socd --config FILE\n"
    "  Runs the SOC service of FILE's `soc:` section in the foreground: tails every service's\n"
    "  event spool, receives syslog (UDP, TCP, TLS), JSON lines and log files, stores every\n"
    "  record, runs Sigma rules, correlations and threat intelligence, keeps alerts, serves the\n"
    "  API on soc.api. `seccloud run` starts it. SIGHUP reloads rules and intel, SIGTERM drains.\n";

int Socd(const std::vector<std::string>& args) {
  Parsed p = ParseArgs(args);
  if (p.help) return std::printf("%s", kSocdUsage), 0;
  if (!p.error.empty()) return UsageError("socd", p.error, kSocdUsage);
  return socd::RunSocService(p.config);
}

int Soc(const std::vector<std::string>& args) { return socd::RunSocCommand(args); }

int Version(const std::vector<std::string>&) {
  std::printf("seccloud %s\n", seccloud::Version());
  return 0;
}

}  // namespace seccloud::cli
