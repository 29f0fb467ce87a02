// Fuzzes the configuration loader (R0): any bytes must give either a Config or a list of errors
// with places — never a crash, a hang, or unbounded memory. Includes are resolved against an
// empty directory, so the loader's include path is exercised without touching real files.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  seccloud::LoadOptions options;
  options.check_directories = false;
  auto r = seccloud::LoadConfigFromString(text, "fuzz.yaml", "/nonexistent-seccloud-fuzz", options);
  if (!r) {
    if (r.error().errors.empty()) std::abort();  // a refusal always says why
    for (const auto& e : r.error().errors)
      if (e.message.empty()) std::abort();
  } else if ((*r)->registry == nullptr) {
    std::abort();  // a loaded Config always carries its tenant registry
  }
  return 0;
}
