#pragma once
// FindField's first step taken from a few top-level keys sorted out in advance (private to the
// detection code; intel.cc's MatchRecord uses it). A detector reads a handful of paths of every
// record; FindField looks at each of the record's top-level keys for each path, while one pass over
// the keys can set aside, per first path segment, the one or two keys a path can go through.

#include <boost/json/object.hpp>
#include <span>
#include <string_view>

#include "soc/record.h"

namespace seccloud::soc::detect_internal {

// text.starts_with(prefix) as a byte loop: the prefixes here are short and most differ in their
// first bytes, where starts_with's memcmp call costs more than the comparison.
constexpr bool HasPrefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (text[i] != prefix[i]) return false;
  }
  return true;
}

// Whether FindField can step through top-level `key` for a path whose first segment (the bytes
// before its first '.') is `segment`: the key is the segment, or the segment followed by '.'.
constexpr bool InSegment(std::string_view key, std::string_view segment) {
  return HasPrefix(key, segment) && (key.size() == segment.size() || key[segment.size()] == '.');
}

// FindField(fields, path) when `keys` are all of the top-level keys of `fields` in the path's
// first segment: FindField steps through the longest key that is the path, or a prefix of it
// ending before a '.' whose value is an object, and every such key is in that segment.
inline const boost::json::value* FindAmong(std::span<const boost::json::key_value_pair* const> keys,
                                           std::string_view path) {
  const boost::json::key_value_pair* best = nullptr;
  size_t best_len = 0;
  for (const boost::json::key_value_pair* kv : keys) {
    const std::string_view key(kv->key().data(), kv->key().size());
    if (key.empty() || key.size() <= best_len || !HasPrefix(path, key)) continue;
    if (key.size() != path.size() && (path[key.size()] != '.' || !kv->value().is_object())) {
      continue;
    }
    best = kv;
    best_len = key.size();
  }
  if (best == nullptr) return nullptr;
  if (best_len == path.size()) return &best->value();
  return FindField(best->value().get_object(), path.substr(best_len + 1));
}

}  // namespace seccloud::soc::detect_internal
