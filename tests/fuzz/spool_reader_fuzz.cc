// R18: SpoolReader on any bytes in a spool file: no crash, no hang, and a reader that only checks
// the lines (parse_events = false, the SOC's) reports exactly what one that parses them reports,
// call for call (the same seqs, lines, positions and errors).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/event_writer.h"
#include "core/spool_reader.h"

namespace {

namespace fs = std::filesystem;

std::vector<std::string> ReadAll(const fs::path& dir, bool parse_events) {
  std::vector<std::string> out;
  auto reader = seccloud::SpoolReader::Open(dir, "f", {}, parse_events);
  if (!reader) {
    out.push_back("open " + reader.error().ToString());
    return out;
  }
  // Every call consumes at least one line or reports one error, and the file is finite; the
  // bound only keeps a regression from hanging the fuzzer.
  for (int i = 0; i < 1'000'000; ++i) {
    auto r = (*reader)->Next();
    const seccloud::SpoolPosition& p = (*reader)->position();
    const std::string at = " @" + std::to_string(p.offset) + ":" + std::to_string(p.next_seq);
    if (!r) {
      out.push_back("error " + r.error().ToString() + at);
      continue;
    }
    if (!r->has_value()) return out;
    out.push_back("seq " + std::to_string((*r)->seq) + " " + (*r)->line + at);
  }
  std::abort();  // a hang
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("spool_reader_fuzz." + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  {
    std::ofstream f(dir / seccloud::SpoolFileName("f", 1), std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  if (ReadAll(dir, false) != ReadAll(dir, true)) std::abort();
  return 0;
}
