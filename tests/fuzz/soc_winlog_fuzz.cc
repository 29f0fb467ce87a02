// The fuzzer's bytes as one raw Windows event (JSON) through the normaliser.

#include <boost/json/serialize.hpp>
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
  // The tape path gives what the tree path gives, member order included.
  seccloud::soc::Record tree = again;
  seccloud::soc::internal::NormalizeWindowsEventFromTree(tree);
  if (tree.parsed != r.parsed || tree.time_ms != r.time_ms ||
      boost::json::serialize(tree.fields()) != boost::json::serialize(r.fields())) {
    __builtin_trap();
  }
  return 0;
}
