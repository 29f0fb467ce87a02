#include "scan/zip_directory.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace seccloud::scan::internal {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndRecord = 0x06054b50;
constexpr size_t kEndRecordSize = 22;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kMaxComment = 65'535;
constexpr size_t kMaxName = 512;

uint16_t U16(std::span<const uint8_t> d, size_t at) {
  return static_cast<uint16_t>(d[at] | d[at + 1] << 8);
}
uint32_t U32(std::span<const uint8_t> d, size_t at) {
  return static_cast<uint32_t>(d[at]) | static_cast<uint32_t>(d[at + 1]) << 8 |
         static_cast<uint32_t>(d[at + 2]) << 16 | static_cast<uint32_t>(d[at + 3]) << 24;
}

}  // namespace

ZipDirectory ReadZipDirectory(std::span<const uint8_t> data) {
  ZipDirectory z;
  if (data.size() < 4 || U32(data, 0) != kLocalHeader) return z;
  z.is_zip = true;
  if (data.size() < kEndRecordSize) {
    z.problem = "shorter than an end-of-central-directory record";
    return z;
  }
  // The end record sits in the last 22 + comment bytes; search backwards.
  const size_t lowest =
      data.size() > kEndRecordSize + kMaxComment ? data.size() - kEndRecordSize - kMaxComment : 0;
  size_t end = SIZE_MAX;
  for (size_t i = data.size() - kEndRecordSize + 1; i-- > lowest;) {
    if (U32(data, i) == kEndRecord) {
      end = i;
      break;
    }
  }
  if (end == SIZE_MAX) {
    z.problem = "no end-of-central-directory record (truncated?)";
    return z;
  }
  const uint16_t entries = U16(data, end + 10);
  const uint32_t cd_size = U32(data, end + 12);
  const uint32_t cd_offset = U32(data, end + 16);
  if (cd_offset == 0xffffffffu || entries == 0xffff) {
    // ZIP64: libclamav handles the content; we only cannot list the names.
    z.problem = "ZIP64 directory not read";
    return z;
  }
  if (static_cast<uint64_t>(cd_offset) + cd_size > end) {
    z.problem = "central directory points past the end of the data (truncated?)";
    return z;
  }
  size_t at = cd_offset;
  for (unsigned i = 0; i < entries; ++i) {
    if (z.members.size() >= kMaxZipMembers) break;
    if (at + kCentralHeaderSize > end || U32(data, at) != kCentralHeader) {
      z.problem = "central directory entry " + std::to_string(i) + " is damaged";
      return z;
    }
    const uint16_t flags = U16(data, at + 8);
    const size_t name_len = U16(data, at + 28);
    const size_t extra_len = U16(data, at + 30);
    const size_t comment_len = U16(data, at + 32);
    const uint32_t local_offset = U32(data, at + 42);
    const size_t next = at + kCentralHeaderSize + name_len + extra_len + comment_len;
    if (next > end) {
      z.problem = "central directory entry " + std::to_string(i) + " runs past its end";
      return z;
    }
    if (static_cast<uint64_t>(local_offset) + 30 > cd_offset ||
        U32(data, local_offset) != kLocalHeader) {
      z.problem = "member " + std::to_string(i) + " has no local header where the directory says";
      return z;
    }
    ZipMember m;
    m.name.assign(reinterpret_cast<const char*>(data.data() + at + kCentralHeaderSize),
                  std::min(name_len, kMaxName));
    m.encrypted = (flags & 1) != 0;
    z.members.push_back(std::move(m));
    at = next;
  }
  z.intact = true;
  return z;
}

bool HasExecutableExtension(std::string_view name) {
  static constexpr std::array<std::string_view, 24> kExtensions = {
      "exe", "dll", "scr", "com", "pif", "bat", "cmd", "js",  "jse", "vbs", "vbe", "wsf",
      "wsh", "hta", "msi", "ps1", "lnk", "jar", "cpl", "sys", "reg", "elf", "so",  "iso"};
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || name.size() - dot - 1 > 8) return false;
  std::string ext;
  for (char c : name.substr(dot + 1))
    ext.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

}  // namespace seccloud::scan::internal
