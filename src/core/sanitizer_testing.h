#pragma once
// The share of a heavy test's cases that a sanitizer build runs (included by *_test.cc only).
//
// The ASan+UBSan debug build (and the TSan build) runs code 10–25× slower than the release build:
// a differential test over thousands of generated lines took 353 s there against 16 s in release,
// and CI runs both builds' unit tests. A heavy test that walks many independent cases runs every
// case in the release build and every kSanitizerStride-th case (the same cases on every run) in
// a sanitizer build, where the point is the memory and UB checks on each shape of input rather
// than the count. Use it only for independent, generated or corpus cases — never for a case a
// test names on its own.

#include <cstddef>

namespace seccloud::test {

#if defined(SECCLOUD_SANITIZED)
inline constexpr std::size_t kSanitizerStride = 8;
#else
inline constexpr std::size_t kSanitizerStride = 1;
#endif

// Whether case `i` of a heavy test runs in this build.
constexpr bool RunsInThisBuild(std::size_t i) { return i % kSanitizerStride == 0; }

}  // namespace seccloud::test
