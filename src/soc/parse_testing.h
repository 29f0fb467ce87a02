#pragma once
// Helpers shared by the parser tests (parse_*_test.cc, winlog_test.cc); not part of the library.

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "soc/parse.h"
#include "soc/record.h"

namespace seccloud::soc::parse_testing {

inline constexpr int64_t kReceived = 1764130000000;  // 2025-11-26T04:06:40Z

// A record of `format` as ingest hands it to Normalize(), normalised.
inline Record ParseAs(Format format, std::string raw, std::string source,
                      int64_t received_ms = kReceived, std::string tenant = "") {
  Record r;
  r.format = format;
  r.raw = std::move(raw);
  r.received_ms = received_ms;
  r.source = std::move(source);
  r.tenant = std::move(tenant);
  Normalize(r);
  return r;
}

// The field at `path` as text: a string as it is, anything else as JSON, "<absent>" if missing.
inline std::string Str(const Record& r, std::string_view path) {
  const auto* v = FindField(r.fields, path);
  if (v == nullptr) return "<absent>";
  if (v->is_string()) return std::string(v->get_string());
  return boost::json::serialize(*v);
}

inline int64_t Ms(std::string_view rfc3339) {
  int64_t ms = 0;
  EXPECT_TRUE(ParseRfc3339Ms(rfc3339, &ms)) << rfc3339;
  return ms;
}

}  // namespace seccloud::soc::parse_testing
