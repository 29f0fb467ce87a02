#pragma once
// Small parsers and checks for text that comes from configuration or from the network.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip.h"

namespace seccloud {

bool IsValidUtf8(std::string_view s);
// `s` in double quotes, with control characters and quotes escaped, cut after 120 bytes: safe to
// put in an error message whatever `s` holds.
std::string Quote(std::string_view s);
// 1 to 32 of [a-z0-9-], not starting with '-'.
bool IsIdentifier(std::string_view s);
// Lower-cases and drops one trailing dot; nullopt (with *why) unless the result is an ASCII
// host name of at least two LDH labels of 1–63 bytes, 253 bytes at most.
std::optional<std::string> NormalizeDomainName(std::string_view s, std::string* why);
bool IsPlausibleEmail(std::string_view s);
// "65536", "512KiB", "64MiB", "1GiB" (also KB/MB/GB meaning powers of 1000).
std::optional<uint64_t> ParseByteSize(std::string_view s);
// "250ms", "30s", "5m", "1h", "1826d".
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view s);

struct HttpUrl {
  Endpoint endpoint;
  std::string target;  // "/healthz"
};
// Only "http://<IP literal>:<port><path>" — what a health probe needs, with no name lookups.
std::optional<HttpUrl> ParseHttpUrl(std::string_view s, std::string* why = nullptr);

}  // namespace seccloud
