#include "scan/internal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace seccloud::scan::internal {

seccloud::Result<MappedFile> MappedFile::Open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path.string(), errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError("stat " + path.string(), err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return MakeError(Errc::kInvalidArgument, path.string() + " is not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0);
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return ErrnoError("mmap " + path.string(), err);
  return MappedFile(p, static_cast<size_t>(st.st_size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

std::string ClipName(std::string_view name) { return std::string(name.substr(0, kMaxContextName)); }

std::string LowerExtension(std::string_view name) {
  const size_t slash = name.find_last_of('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size() || name.size() - dot > 17) return "";
  std::string ext;
  for (char c : name.substr(dot + 1))
    ext.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return ext;
}

}  // namespace seccloud::scan::internal
