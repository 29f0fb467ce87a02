// seccloud: one binary, one subcommand per service, and `run`, the supervisor that starts them.
// This file holds main() and subcommand dispatch only.

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "apps/seccloud/commands.h"
#include "core/process.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

// The explicit list of subcommands; each service adds its own line when it lands.
constexpr Command kCommands[] = {
    {"run", "start every enabled service under the supervisor", seccloud::cli::Run},
    {"check-config", "validate a configuration file and list every error",
     seccloud::cli::CheckConfig},
    {"reload", "ask the running supervisor to load the configuration again", seccloud::cli::Reload},
    {"status", "show the running services, pids, uptime, restarts, health, versions",
     seccloud::cli::Status},
    {"version", "print the version", seccloud::cli::Version},
    {"proxy", "run the web proxy service (normally started by `run`)", seccloud::cli::Proxy},
    {"ca", "the proxy's TLS interception CA: init, import, show", seccloud::cli::Ca},
    {"policy", "URL filter: import-categories, check-url", seccloud::cli::Policy},
    {"scand", "run the content-scanning service (normally started by `run`)", seccloud::cli::Scand},
    {"scan", "scan files for malware, clamscan-style (exit 1 when something is found)",
     seccloud::cli::Scan},
    {"socd", "run the SOC service: ingest, store, detection, alerts (normally started by `run`)",
     seccloud::cli::Socd},
    {"soc", "the SOC: search logs, alerts, suppressions, verify the store, check rules",
     seccloud::cli::Soc},
};

void Usage(FILE* out) {
  std::fprintf(
      out,
      "usage: seccloud <command> [options]\n\n"
      "seccloud is the shared security gateway and SOC of a prefecture's municipalities.\n\n"
      "commands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-14s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`seccloud <command> --help` describes each command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Writing past a file-size limit must be an error the event writer reports (EFBIG), not a
  // signal that kills the process.
  std::signal(SIGXFSZ, SIG_IGN);
  // The SOC store keeps a descriptor per day partition; take what the hard limit allows (a
  // failure here is not fatal: a store that then runs out says so with EMFILE).
  if (auto raised = seccloud::RaiseOpenFileLimit(); !raised)
    std::fprintf(stderr, "seccloud: %s\n", raised.error().ToString().c_str());
  if (argc < 2) {
    Usage(stderr);
    return 2;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    Usage(stdout);
    return 0;
  }
  if (name == "--version") return seccloud::cli::Version({});
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Command& c : kCommands)
    if (name == c.name) return c.run(args);
  std::fprintf(stderr, "seccloud: unknown command \"%.*s\"\n\n", static_cast<int>(name.size()),
               name.data());
  Usage(stderr);
  return 2;
}
