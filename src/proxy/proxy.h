#pragma once
// The web proxy service (R3, R9, R10): `seccloud proxy --config FILE`. Every web request of every
// municipal terminal passes through it: tenant and terminal attribution, the URL filter, TLS
// inspection, block pages, and an access-log event per request.

#include <filesystem>

namespace seccloud::proxy {

// Runs the proxy until SIGTERM has drained it; returns the process exit code.
int RunProxyService(const std::filesystem::path& config_path);

}  // namespace seccloud::proxy
