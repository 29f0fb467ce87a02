#pragma once
// Helpers shared by the policy tests (not part of the module's interface).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/temp_dir_testing.h"

namespace seccloud::policy::testing {

using seccloud::test::TempDir;

// ../shared/data sits beside the checkout. A machine without it cannot run the tests that read
// it: they are skipped with the reason, which ctest prints, rather than silently passing.
#define SECCLOUD_SHARED_DATA_OR_SKIP(var)                 \
  const std::filesystem::path var = SECCLOUD_SHARED_DATA; \
  if (!std::filesystem::is_directory(var))                \
  GTEST_SKIP() << var << " is missing: this test needs the shared data sets (data/README.md)"

}  // namespace seccloud::policy::testing
