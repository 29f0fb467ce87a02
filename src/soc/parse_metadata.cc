// EraseAllForms (parse_internal.h): removing every spelling of a metadata path a producer wrote.
// A file of its own: with this loop in parse_util.cc, the syslog, access-log and text parsers
// (which never call it) measured ~10 % slower in soc_normalize_bench, alternated with main's
// binary — a code-generation or layout effect on that file's helpers, not pinned down; here
// they measure as main.
#include "soc/parse_internal.h"

namespace seccloud::soc::internal {

void EraseAllForms(boost::json::object& fields, std::string_view path) {
  if (path.empty()) return;
  // One pass over the keys instead of a lookup per spelling (the path itself, then each prefix
  // ending before a '.'). The children are visited first and the exact key erased last: erasing
  // moves the object's last member into the hole, which changes this object's order the same
  // way whenever it happens, and moves a child's value without changing what it holds.
  auto exact = fields.end();
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const std::string_view k(it->key().data(), it->key().size());
    // (An empty key is a prefix too: of a path that starts with '.'.)
    if (k.size() > path.size() || (!k.empty() && k[0] != path[0])) continue;
    if (k.size() == path.size()) {
      if (k == path) exact = it;
    } else if (path[k.size()] == '.' && path.substr(0, k.size()) == k && it->value().is_object()) {
      EraseAllForms(it->value().get_object(), path.substr(k.size() + 1));
    }
  }
  if (exact != fields.end()) fields.erase(exact);
}

}  // namespace seccloud::soc::internal
