#pragma once
// The SOC service (`seccloud socd`, R18–R20) and the `seccloud soc` command that talks to it.

#include <filesystem>
#include <string>
#include <vector>

namespace seccloud::socd {

int RunSocService(const std::filesystem::path& config_path);
// `seccloud soc <search|record|alerts|alert|ack|close|suppress|suppressions|unsuppress|audit|stats|
// verify|rules> …`; args are what follows "soc".
int RunSocCommand(const std::vector<std::string>& args);

}  // namespace seccloud::socd
