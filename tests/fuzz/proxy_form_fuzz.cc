// Fuzzes the upload scan's form splitter (R8): the first line is a Content-Type, the rest a body
// as a terminal may send it. Any input must end in parts that lie inside the body (and within
// the limits) or an error with a reason — never a crash or a read outside the body.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/upload_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  if (nl == std::string_view::npos) return 0;
  const std::string_view content_type = input.substr(0, nl);
  const std::string_view body = input.substr(nl + 1);
  const auto boundary = seccloud::proxy::FormBoundary(content_type);
  if (!boundary) return 0;
  if (boundary->empty() || boundary->size() > 70) std::abort();
  const seccloud::proxy::FormLimits limits{16, 256};
  auto parts = seccloud::proxy::SplitForm(body, *boundary, limits);
  if (!parts) {
    if (parts.error().message.empty()) std::abort();
    return 0;
  }
  if (parts->size() > limits.max_parts) std::abort();
  for (const auto& p : *parts) {
    if (p.content.data() < body.data() ||
        p.content.data() + p.content.size() > body.data() + body.size())
      std::abort();
    if (p.name.size() > 1024 || p.file_name.size() > 1024) std::abort();
  }
  return 0;
}
