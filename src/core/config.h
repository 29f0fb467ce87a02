#pragma once
// The configuration: one YAML document (with `!include` for long lists) parsed into typed,
// immutable structs. Validation reports every error at once, each with file:line:column and the
// path inside the document; unknown keys are errors. Nothing outside core reads YAML.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/policy_config.h"
#include "core/proxy_config.h"
#include "core/result.h"
#include "core/scan_config.h"
#include "core/soc_config.h"
#include "core/tenant.h"

namespace seccloud {

class TenantRegistry;

struct NodeConfig {
  std::string name;                 // observer.name in every event, e.g. "gw1"
  std::filesystem::path state_dir;  // pid file, control data
  std::optional<std::string> user;  // services drop root to this user after binding
};

struct EventsConfig {
  std::filesystem::path spool_dir;  // one subdirectory per service
  uint64_t rotate_bytes = 64ull << 20;
};

struct SupervisorConfig {
  Endpoint admin;  // the supervisor's /healthz, /metrics, /status; services take the next ports
  std::chrono::milliseconds restart_backoff_initial{500};
  std::chrono::milliseconds restart_backoff_max{30'000};
  // A service that stayed up this long has its back-off reset.
  std::chrono::milliseconds stable_after{60'000};
  // SIGTERM → SIGKILL deadline for each service on shutdown.
  std::chrono::milliseconds drain_timeout{10'000};
  std::chrono::milliseconds health_interval{2'000};
};

// An external program run and watched by the supervisor (the demo's origin servers, a peer MTA):
// restarted like a built-in service; healthy while `health_url` answers 2xx (or while it runs,
// when there is no URL).
struct ProgramConfig {
  std::string name;
  std::vector<std::string> command;  // argv; command[0] is an absolute path or found on PATH
  std::filesystem::path working_dir;
  std::map<std::string, std::string> environment;
  std::string health_url;  // http://host:port/path, optional
  bool enabled = true;
};

struct Config {
  std::filesystem::path source;  // the top-level file, absolute
  NodeConfig node;
  EventsConfig events;
  SupervisorConfig supervisor;
  std::vector<Tenant> tenants;
  std::vector<ProgramConfig> programs;
  ProxyConfig proxy;
  PolicyConfig policy;  // R10 URL filter; empty when the section is absent
  ScanConfig scan;
  SocConfig soc;  // R18–R20
  // Built from `tenants` during loading; never null in a loaded Config.
  std::shared_ptr<const TenantRegistry> registry;
};

struct ConfigError {
  std::string file;
  int line = 0;      // 1-based; 0 when the error has no place in a file
  int column = 0;    // 1-based
  std::string path;  // "tenants[2].networks[0]"
  std::string message;
  std::string ToString() const;  // "etc/x.yaml:12:7: tenants[2].networks[0]: ..."
};

struct ConfigErrors {
  std::vector<ConfigError> errors;
  std::string ToString() const;  // one error per line
};

struct LoadOptions {
  // Check that spool and state directories can be created and written (off in pure syntax checks
  // of a file meant for another machine).
  bool check_directories = true;
};

using ConfigResult = boost::system::result<std::shared_ptr<const Config>, ConfigErrors>;

// Reads, parses and validates `path` and everything it includes. Either the whole Config or
// every error found; never a half-built Config.
ConfigResult LoadConfig(const std::filesystem::path& path, const LoadOptions& options = {});
// The same from text in memory (tests, fuzzing); includes resolve relative to `base_dir`.
ConfigResult LoadConfigFromString(const std::string& yaml, const std::string& display_name,
                                  const std::filesystem::path& base_dir,
                                  const LoadOptions& options = {});

[[noreturn]] void throw_exception_from_error(const ConfigErrors& e,
                                             const boost::source_location& loc);

}  // namespace seccloud
