#pragma once
// Private to scan: pieces shared by the engines.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "scan/scanner.h"

namespace seccloud::scan::internal {

// A read-only memory mapping of a whole file; empty files map to an empty span.
class MappedFile {
 public:
  static seccloud::Result<MappedFile> Open(const std::filesystem::path& path);
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr; }
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile();
  std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(data_), size_}; }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void* data_ = nullptr;
  size_t size_ = 0;
};

// libclamav's one-time initialisation (cl_init, the message callback); safe from any thread.
Status InitClamav();

// Names from outside (attachment names, URL paths) cut to a bound before they reach an engine.
inline constexpr size_t kMaxContextName = 1024;
std::string ClipName(std::string_view name);

// A file's modification time on the system clock.
inline std::chrono::system_clock::time_point ToSystemTime(std::filesystem::file_time_type t) {
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(
      std::chrono::file_clock::to_sys(t));
}

// The extension of a file name, lower case, without the dot ("" when there is none).
std::string LowerExtension(std::string_view name);

// The verdict for content that could not be read at all: an error, blocked.
inline Verdict UnreadableVerdict(std::string engine, std::string db_version, std::string error) {
  Verdict v;
  v.engine = std::move(engine);
  v.db_version = std::move(db_version);
  v.result = Verdict::kError;
  v.action = "block";
  v.error = std::move(error);
  return v;
}

}  // namespace seccloud::scan::internal
