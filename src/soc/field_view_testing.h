#pragma once
// Helpers shared by the differential tests of FieldView (field_view_test.cc) and its fuzz target
// (tests/fuzz/soc_field_view_fuzz.cc); not part of the library, and free of GoogleTest so that
// the fuzz build, which links only seccloud_soc, can include it.

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "soc/field_view.h"

namespace seccloud::soc::field_view_testing {

// A FieldRef's kind and value as one comparable string (a double by its bits, so that -0.0 and
// NaNs compare as what they are).
inline std::string Describe(const FieldRef& v) {
  switch (v.kind()) {
    case FieldKind::kNone:
      return "none";
    case FieldKind::kObject:
      return "object " + v.Serialize();
    case FieldKind::kArray:
      return "array " + v.Serialize();
    case FieldKind::kString:
      return "string \"" + std::string(v.str()) + "\"";
    case FieldKind::kInt64:
      return "int64 " + std::to_string(v.i64());
    case FieldKind::kUint64:
      return "uint64 " + std::to_string(v.u64());
    case FieldKind::kDouble: {
      uint64_t bits;
      const double d = v.dbl();
      std::memcpy(&bits, &d, sizeof bits);
      return "double " + std::to_string(bits);
    }
    case FieldKind::kBool:
      return v.boolean() ? "bool true" : "bool false";
    case FieldKind::kNull:
      return "null";
  }
  return "?";
}

// Every dotted path of the tree under `prefix` (empty: the root): each key joined to its
// parents' by '.', a parent before its children (FindField does not enter arrays). Objects
// deeper than `max_depth` are not entered; at most `max_paths` paths are collected.
inline void TreePaths(const boost::json::object& o, const std::string& prefix,
                      std::vector<std::string>* out, int max_depth = 70,
                      size_t max_paths = SIZE_MAX, int depth = 0) {
  for (const auto& kv : o) {
    if (out->size() >= max_paths) return;
    std::string p =
        prefix.empty() && depth == 0 ? std::string(kv.key()) : prefix + "." + std::string(kv.key());
    out->push_back(p);
    if (depth < max_depth && kv.value().is_object())
      TreePaths(kv.value().get_object(), p, out, max_depth, max_paths, depth + 1);
  }
}

}  // namespace seccloud::soc::field_view_testing
