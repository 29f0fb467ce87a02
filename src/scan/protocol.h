#pragma once
// The scand wire protocol (see README.md): a request line, then for SCAN a stream of chunks,
// each a 4-byte big-endian length and that many bytes (1..65536), ended by a zero length; the
// answer is one line of JSON. Pure functions, no I/O: shared by the server, the client and the
// fuzz target.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "scan/scanner.h"

namespace seccloud::scan {

inline constexpr size_t kMaxChunkBytes = 64 << 10;
inline constexpr size_t kMaxRequestLine = 4096;
inline constexpr size_t kMaxAnswerLine = 64 << 10;

struct ScanRequest {
  enum Command { kScan, kPing, kVersion };
  Command command = kScan;
  ScanContext context;  // SCAN's optional {"name": "...", "tenant": "..."}
};

// "SCAN", "SCAN {\"name\":\"a.zip\",\"tenant\":\"tsu\"}", "PING", "VERSION" (no '\n').
seccloud::Result<ScanRequest> ParseRequestLine(std::string_view line);
std::string FormatRequestLine(const ScanRequest& request);  // with '\n'

// {"result":"infected","signatures":[...],"engine":"clamav","db_version":"...","action":"block",
//  "error":""} and '\n'.
std::string VerdictToJsonLine(const Verdict& v);
seccloud::Result<Verdict> VerdictFromJson(std::string_view line);

// The 4-byte big-endian chunk prefix.
inline void PutChunkLength(uint32_t n, uint8_t out[4]) {
  out[0] = static_cast<uint8_t>(n >> 24);
  out[1] = static_cast<uint8_t>(n >> 16);
  out[2] = static_cast<uint8_t>(n >> 8);
  out[3] = static_cast<uint8_t>(n);
}
inline uint32_t GetChunkLength(const uint8_t in[4]) {
  return static_cast<uint32_t>(in[0]) << 24 | static_cast<uint32_t>(in[1]) << 16 |
         static_cast<uint32_t>(in[2]) << 8 | static_cast<uint32_t>(in[3]);
}

}  // namespace seccloud::scan
