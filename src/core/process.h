#pragma once
// Process-level helpers shared by the supervisor and the services.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace seccloud {

// Switches the calling process to `user` (its primary group and supplementary groups) for good.
// Services call it after binding privileged ports. A no-op success when not running as root and
// already `user`; an error when not root and a different user is asked for.
Status DropPrivileges(const std::string& user);

struct SpawnOptions {
  std::vector<std::string> argv;                   // argv[0] is searched on PATH when it has no '/'
  std::map<std::string, std::string> environment;  // added to (or replacing in) ours
  std::filesystem::path working_dir;               // empty: inherit
  std::filesystem::path output;  // stdout and stderr appended here; empty: inherit
};

// Starts a child in its own process group (so a signal to -pid reaches everything it started).
// Returns once the child has exec'ed; an exec failure (no such program, not executable) is
// reported as an error and the child is already reaped.
Result<pid_t> Spawn(const SpawnOptions& options);

// Raises the soft limit on open files to the hard limit and returns it. The embedded SOC store
// keeps one descriptor per day partition (about ten a day: a five-year store holds ~16,000),
// where a login's soft limit is often 1,024; nothing in seccloud uses select(2), so the
// FD_SETSIZE reason for that default does not apply. Children inherit the raised limit.
Result<uint64_t> RaiseOpenFileLimit();

// The absolute path of the running executable (/proc/self/exe).
std::filesystem::path SelfExecutable();

}  // namespace seccloud
