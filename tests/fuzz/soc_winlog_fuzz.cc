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
  // Kept as an overlay, the record holds no more memory than the tape path's tree (socd bounds its
  // queues by MemoryBytes); both raw texts assigned alike, so their capacities are equal.
  if (r.fields_pending()) {
    seccloud::soc::Record tape;
    tape.format = r.format;
    tape.received_ms = r.received_ms;
    tape.source = r.source;
    tape.tenant = r.tenant;
    tape.raw.assign(reinterpret_cast<const char*>(data), size);
    seccloud::soc::internal::NormalizeWindowsEventWithPeer(tape, /*overlay_allowed=*/false);
    if (r.MemoryBytes() > tape.MemoryBytes()) __builtin_trap();
  }
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
