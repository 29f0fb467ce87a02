// The fuzzer's bytes as one raw Windows event (JSON) through the normaliser.

#include <cstddef>
#include <cstdint>

#include "soc/winlog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  seccloud::soc::Record r;
  r.format = seccloud::soc::Format::kWindowsEvent;
  r.received_ms = 1'780'000'000'000;
  r.source = "fuzz";
  r.tenant = "t";
  r.raw.assign(reinterpret_cast<const char*>(data), size);
  seccloud::soc::NormalizeWindowsEvent(r);
  // Normalising is a pure function of the record: a second pass gives the same fields.
  seccloud::soc::Record again = r;
  seccloud::soc::NormalizeWindowsEvent(again);
  if (again.fields() != r.fields() || again.parsed != r.parsed) __builtin_trap();
  return 0;
}
