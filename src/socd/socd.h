#pragma once
// The SOC service (`seccloud socd`, R18–R20) and the `seccloud soc` command that talks to it.

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "core/soc_config.h"

namespace seccloud::socd {

// The record slots of soc.queue_records kept for UDP datagrams (IngestQueue's datagram_reserve):
// a quarter when an input is udp, none otherwise.
size_t DatagramReserve(const SocConfig& sc);

int RunSocService(const std::filesystem::path& config_path);
// `seccloud soc <search|record|alerts|alert|ack|close|suppress|suppressions|unsuppress|audit|stats|
// verify|rules> …`; args are what follows "soc".
int RunSocCommand(const std::vector<std::string>& args);

}  // namespace seccloud::socd
