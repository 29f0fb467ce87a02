#pragma once
// Private to scan: reads a ZIP file's central directory without extracting anything, for two
// policy questions libclamav does not answer: which members of an encrypted archive are
// executables (their names are not encrypted), and whether the archive is truncated or corrupt.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace seccloud::scan::internal {

struct ZipMember {
  std::string name;  // cut at 512 bytes
  bool encrypted = false;
};

struct ZipDirectory {
  bool is_zip = false;  // starts with a local file header signature
  bool intact = false;  // end record found, central directory inside the data and consistent
  std::string problem;  // why not intact
  std::vector<ZipMember> members;  // at most kMaxZipMembers
};

inline constexpr size_t kMaxZipMembers = 65'535;

// Never reads outside `data`; bounded by kMaxZipMembers.
ZipDirectory ReadZipDirectory(std::span<const uint8_t> data);

// Windows and script executables by extension (".exe", ".js", ".scr", …), case-insensitive.
bool HasExecutableExtension(std::string_view name);

}  // namespace seccloud::scan::internal
