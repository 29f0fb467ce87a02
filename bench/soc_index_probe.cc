// R18: what a Compact()ed store's token indexes cost a search. Runs N searches for words and N
// for addresses that no record holds (`absentword<i>`, `source.ip:198.51.100.<i>`: TEST-NET-2,
// which bench/loggen.py never draws) over a store kept by `soc_store_bench --keep`, so every
// block read is a false positive of the index; prints CPU and wall seconds and blocks read, then
// the CPU seconds of Verify(), which decodes every block.
// Run it on stores of two builds back to back (see bench/README.md, "Stored bytes").
//
//   soc_index_probe STORE_DIR [N]

#include <time.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "soc/parse.h"
#include "soc/query.h"
#include "soc/store.h"

namespace {

double Clock(clockid_t c) {
  timespec t;
  clock_gettime(c, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace seccloud::soc;
  if (argc < 2) {
    std::fprintf(stderr, "usage: soc_index_probe STORE_DIR [N]\n");
    return 2;
  }
  EmbeddedStoreOptions o;
  o.directory = argv[1];
  o.normalize = [](Record& r) { Normalize(r); };
  auto store = OpenEmbeddedStore(o);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    return 1;
  }
  const int n = argc > 2 ? std::stoi(argv[2]) : 300;
  for (const bool words : {true, false}) {
    uint64_t read = 0, total = 0, found = 0;
    const double c0 = Clock(CLOCK_PROCESS_CPUTIME_ID), w0 = Clock(CLOCK_MONOTONIC);
    for (int i = 0; i < n; ++i) {
      const std::string q = words ? "absentword" + std::to_string(i)
                                  : "source.ip:198.51.100." + std::to_string(i % 250 + 1);
      auto query = ParseQuery(q);
      if (!query) return 1;
      SearchOptions so;
      auto st = (*store)->Search(*query, so, [&](const Record&) {
        ++found;
        return true;
      });
      if (!st) {
        std::fprintf(stderr, "%s\n", st.error().ToString().c_str());
        return 1;
      }
      read += st->blocks_read;
      total += st->blocks_total;
    }
    std::printf("%s: %d searches, CPU %.3f s, wall %.3f s, blocks read %" PRIu64 " of %" PRIu64
                " (%.2f %%), found %" PRIu64 "\n",
                words ? "absent words" : "absent addresses", n,
                Clock(CLOCK_PROCESS_CPUTIME_ID) - c0, Clock(CLOCK_MONOTONIC) - w0, read, total,
                total ? 100.0 * static_cast<double>(read) / static_cast<double>(total) : 0.0,
                found);
  }
  // Decoding every block (Verify decodes each body whole and checks it): what the block format
  // costs a scan that reads everything, comparable across block versions on one build.
  const double c0 = Clock(CLOCK_PROCESS_CPUTIME_ID);
  auto report = (*store)->Verify();
  if (!report) {
    std::fprintf(stderr, "%s\n", report.error().ToString().c_str());
    return 1;
  }
  std::printf("verify (every block decoded): CPU %.3f s, %zu problems\n",
              Clock(CLOCK_PROCESS_CPUTIME_ID) - c0, report->problems.size());
  return 0;
}
