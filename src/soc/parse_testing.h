#pragma once
// Helpers shared by the parser tests (parse_*_test.cc, winlog_test.cc) and the tests of dotted
// path lookups (record_test.cc, sigma_eval_test.cc); not part of the library.

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <cctype>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

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
  const auto* v = FindField(r.fields(), path);
  if (v == nullptr) return "<absent>";
  if (v->is_string()) return std::string(v->get_string());
  return boost::json::serialize(*v);
}

// Names that spell one another dotted, an empty one and ones with a leading or trailing dot.
inline const std::vector<std::string> kDottedNames = {"a", "b",  "a.b", "b.c", "a.b.c",
                                                      "c", "a.", ".a",  ""};

// A random object of up to 5 members named from `names` (which spell one another dotted:
// "a", "a.b", …), nested up to depth 3, numbers at the leaves; with `filler_every` > 0, one in
// that many objects also gets 25 more members, past Boost.JSON's small-object size (such objects
// are hashed and searched differently).
inline boost::json::object RandomDottedObject(std::mt19937& rng,
                                              const std::vector<std::string>& names,
                                              uint32_t filler_every = 0, int depth = 0) {
  boost::json::object o;
  const size_t n = rng() % 6;
  for (size_t i = 0; i < n; ++i) {
    const std::string& k = names[rng() % names.size()];
    if (depth < 3 && rng() % 2) {
      o[k] = RandomDottedObject(rng, names, filler_every, depth + 1);
    } else {
      o[k] = static_cast<int64_t>(rng() % 100);
    }
  }
  if (filler_every > 0 && rng() % filler_every == 0) {
    for (int i = 0; i < 25; ++i) o["filler" + std::to_string(i)] = i;
  }
  return o;
}

// A path of 1 to 4 of `names` joined with '.'.
inline std::string RandomDottedPath(std::mt19937& rng, const std::vector<std::string>& names) {
  std::string path;
  const size_t segments = 1 + rng() % 4;
  for (size_t i = 0; i < segments; ++i) {
    if (i > 0) path += '.';
    path += names[rng() % names.size()];
  }
  return path;
}

inline int64_t Ms(std::string_view rfc3339) {
  int64_t ms = 0;
  EXPECT_TRUE(ParseRfc3339Ms(rfc3339, &ms)) << rfc3339;
  return ms;
}

// The JSON documents of `text`, one after the other (a Sigma regression .json may hold several),
// each as boost::json::serialize writes it.
inline std::vector<std::string> SplitJsonDocuments(const std::string& text) {
  std::vector<std::string> out;
  boost::json::stream_parser p;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos >= text.size()) break;
    boost::system::error_code ec;
    const size_t n = p.write_some(text.data() + pos, text.size() - pos, ec);
    if (ec) break;
    pos += n;
    if (p.done()) {
      out.push_back(boost::json::serialize(p.release()));
      p.reset();
    }
  }
  return out;
}

}  // namespace seccloud::soc::parse_testing
