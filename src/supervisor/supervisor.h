#pragma once
// `seccloud run`: starts every enabled service and program as its own process, restarts a crashed
// one with exponential back-off, probes health, forwards reloads and drains everything on SIGTERM
// (R24). Its admin address serves /healthz, /metrics, GET /status and POST /reload.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/ip.h"
#include "core/result.h"

namespace seccloud::supervisor {

// While a supervisor runs, it registers its pid and admin address in a small file found from the
// path of its configuration file alone, so `seccloud reload` and `seccloud status` reach it even
// when that file has since been edited into something invalid.
struct SupervisorState {
  int pid = 0;
  Endpoint admin;
};
// <runtime dir>/supervisor-<hash of the canonical config path>.json, where the runtime dir is
// $SECCLOUD_RUNTIME_DIR, else /run/seccloud for root, else $TMPDIR/seccloud-<uid>.
std::filesystem::path StateFilePath(const std::filesystem::path& config_path);
Result<SupervisorState> ReadStateFile(const std::filesystem::path& config_path);

class Supervisor {
 public:
  virtual ~Supervisor() = default;

  // Takes the single-instance lock in state_dir, opens the supervisor's event spool and binds the
  // admin address; nothing is started yet.
  static Result<std::unique_ptr<Supervisor>> Create(std::filesystem::path config_path,
                                                    std::shared_ptr<const Config> config);

  // Starts the children and runs until SIGTERM or SIGINT has drained them. Returns the process
  // exit code.
  virtual int Run() = 0;
};

}  // namespace seccloud::supervisor
