#pragma once
// The subcommands of the seccloud binary. Each returns the process exit code: 0 success,
// 1 failure (a refused config, an unhealthy service), 2 a usage error.

#include <string>
#include <vector>

namespace seccloud::cli {

int Run(const std::vector<std::string>& args);
int CheckConfig(const std::vector<std::string>& args);
int Reload(const std::vector<std::string>& args);
int Status(const std::vector<std::string>& args);
int Version(const std::vector<std::string>& args);
int Proxy(const std::vector<std::string>& args);
int Ca(const std::vector<std::string>& args);  // ca_command.cc (R9)
// apps/seccloud/policy_command.cc (R10)
int Policy(const std::vector<std::string>& args);
int Scand(const std::vector<std::string>& args);
int Scan(const std::vector<std::string>& args);
int Socd(const std::vector<std::string>& args);
int Soc(const std::vector<std::string>& args);

}  // namespace seccloud::cli
