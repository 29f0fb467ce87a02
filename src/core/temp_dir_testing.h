#pragma once
// A scratch directory for tests (included by *_test.cc only, never by a library): one class
// instead of a copy per module's tests.

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace seccloud::test {

// A fresh directory under $TEST_TMPDIR (else /tmp) named `<prefix>-XXXXXX`, removed with
// everything in it at destruction. Throws when the directory cannot be made: a test that
// cannot have its directory must fail loudly, not write into an empty path.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "seccloud-test") {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
    }
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to `rel` below the directory, making its parent directories.
  void Write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary | std::ios::trunc) << text;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace seccloud::test
