#pragma once
// What every service process has in common (R24): the validated config snapshot and its reload
// on SIGHUP, the event spool, metrics and health, the admin server (/healthz, /metrics), dropping
// root after binding, and a drain on SIGTERM. A service creates a ServiceHost, binds its own
// listeners, calls DropPrivileges(), then Run().

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "core/event_queue.h"
#include "core/event_writer.h"
#include "core/metrics.h"
#include "core/result.h"

namespace seccloud::net {

// Fixed admin port offsets from supervisor.admin (demo: 19000 + offset), so a service's port does
// not move when another service is enabled.
struct BuiltinService {
  const char* name;
  uint16_t admin_offset;
};
inline constexpr BuiltinService kBuiltinServices[] = {
    {"proxy", 1},
    {"scand", 2},
    {"socd", 3},
};
// The admin endpoint of a built-in service under `config` (port 0 when the supervisor's is 0).
Endpoint AdminEndpointOf(const Config& config, std::string_view service);

class ServiceHost {
 public:
  // Called with each new valid snapshot; an error refuses the reload (the old snapshot stays).
  using ReloadHandler = std::function<Status(const std::shared_ptr<const Config>&)>;
  // Called once on SIGTERM/SIGINT: stop accepting and finish in-flight work by `deadline`.
  using DrainHandler = std::function<void(std::chrono::steady_clock::time_point deadline)>;

  virtual ~ServiceHost() = default;

  // Loads and validates `config_path`, opens the service's spool (<spool_dir>/<service>) and
  // binds its admin address.
  static Result<std::unique_ptr<ServiceHost>> Create(std::string service,
                                                     std::filesystem::path config_path);

  virtual std::shared_ptr<const Config> config() const = 0;
  virtual EventQueue& events() = 0;
  // The spool writer itself, for components that append synchronously (thread-safe).
  virtual EventWriter& event_writer() = 0;
  virtual MetricsRegistry& metrics() = 0;
  virtual Health& health() = 0;
  virtual Endpoint admin_endpoint() const = 0;
  virtual const std::string& service() const = 0;

  // Switches to node.user when one is configured (call after binding privileged ports). The
  // service's spool, and every directory in `writable` with everything under it, are handed to
  // that user first, so the service can still create files there.
  virtual Status DropPrivileges(const std::vector<std::filesystem::path>& writable = {}) = 0;
  virtual void OnReload(ReloadHandler handler) = 0;
  // Records a system.service/system.config event for this service.
  virtual void RecordSystemEvent(std::string_view dataset, std::string_view action, Outcome outcome,
                                 std::string_view message) = 0;
  // Serves admin requests and handles signals until a drain finishes; returns the exit code.
  virtual int Run(DrainHandler drain) = 0;
};

}  // namespace seccloud::net
