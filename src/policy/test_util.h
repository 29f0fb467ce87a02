#pragma once
// Helpers shared by the policy tests (not part of the module's interface).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace seccloud::policy::testing {

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("seccloud-policy-" + std::to_string(getpid()) + "-" + info->test_suite_name() + "-" +
             info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

  void Write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary | std::ios::trunc) << text;
  }

 private:
  std::filesystem::path path_;
};

// ../shared/data sits beside the checkout. A machine without it cannot run the tests that read
// it: they are skipped with the reason, which ctest prints, rather than silently passing.
#define SECCLOUD_SHARED_DATA_OR_SKIP(var)                 \
  const std::filesystem::path var = SECCLOUD_SHARED_DATA; \
  if (!std::filesystem::is_directory(var))                \
  GTEST_SKIP() << var << " is missing: this test needs the shared data sets (data/README.md)"

}  // namespace seccloud::policy::testing
