#pragma once
// scand (R8, R11): `seccloud scand --config FILE` serves scans on scan.socket for the proxy,
// mail and the endpoint agent, polls the signature sources and swaps engines in the background,
// and raises an alert when the signatures grow older than scan.updates.max_age.

#include <filesystem>
#include <string>
#include <vector>

namespace seccloud::scan {

// Runs scand until SIGTERM has drained it; returns the process exit code.
int RunScanService(const std::filesystem::path& config_path);

// `seccloud scan [--config FILE] [--in-process] FILE…`: clamscan-style output; exit 1 when
// something was found, 2 on an error, 0 when everything is clean.
int RunScanCommand(const std::filesystem::path& config_path, const std::vector<std::string>& files,
                   bool in_process);

}  // namespace seccloud::scan
