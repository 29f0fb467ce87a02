// Fuzzes the SOC's stream framers (R18): SyslogFramer (RFC 6587) and LineFramer. Input: one byte
// selecting the framer, its limit and the feed chunk size, then the stream. Checks that frames and
// buffering stay within the limit and that how the stream is cut into reads changes nothing.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "soc/frame.h"

namespace {

using seccloud::soc::Frame;
using seccloud::soc::FrameStatus;

void Check(bool ok) {
  if (!ok) std::abort();
}

template <class Framer>
std::vector<std::string> Run(std::string_view stream, size_t max, size_t chunk) {
  Framer framer(max);
  std::vector<std::string> out;
  const auto drain = [&] {
    Frame f;
    std::string error;
    while (true) {
      const FrameStatus s = framer.Next(&f, &error);
      if (s == FrameStatus::kNeedMore) return;
      if (s == FrameStatus::kError) {
        Check(!error.empty());
        out.push_back("E" + error);
      } else {
        Check(f.data.size() <= max);
        Check(!f.data.empty() || f.truncated);
        out.push_back((f.truncated ? "T" : "F") + f.data);
      }
    }
  };
  for (size_t i = 0; i < stream.size(); i += chunk) {
    framer.Feed(stream.substr(i, chunk));
    Check(framer.partial_bytes() <= max + 21);  // the frame, or a count being read
    drain();
  }
  framer.Finish();
  drain();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t max = (selector & 0x40) ? seccloud::soc::kMaxRawBytes : 1 + (selector & 0x3f);
  const size_t chunk = 1 + (selector >> 1) % 7;
  if (selector & 0x80) {
    Check(Run<seccloud::soc::SyslogFramer>(stream, max, chunk) ==
          Run<seccloud::soc::SyslogFramer>(stream, max, stream.size() + 1));
  } else {
    Check(Run<seccloud::soc::LineFramer>(stream, max, chunk) ==
          Run<seccloud::soc::LineFramer>(stream, max, stream.size() + 1));
  }
  return 0;
}
