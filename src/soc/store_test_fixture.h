#pragma once
// For the store's tests only (store_test.cc, store_search_test.cc): the fixture part they share.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "soc/store.h"

namespace seccloud::soc {

// A fresh directory per test — <gtest temp dir>/<prefix>_<pid>_<test name>, removed after a test
// that passed and kept after one that failed, to look into — and the store a test opens on it.
class StoreDirTest : public ::testing::Test {
 protected:
  explicit StoreDirTest(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (prefix_ + "_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    store_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  // Opens a store with `options` in place of the one open (closed first).
  void OpenStore(EmbeddedStoreOptions options) {
    store_.reset();
    auto s = OpenEmbeddedStore(std::move(options));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  std::filesystem::path dir_;
  std::unique_ptr<LogStore> store_;

 private:
  std::string prefix_;
};

}  // namespace seccloud::soc
