// soc_normalize_bench: soc::Normalize alone, per format, on a loggen data set (R18, R19).
//
//   soc_normalize_bench --data DIR [--reps N] [--dump FILE]
//
// Reads every file of DIR/manifest.json (bench/loggen.py's output) into memory, then normalises
// each format's records N times (default 3) and prints the best thread-CPU µs per record of each
// format and of the whole set. A fresh Record is normalised each time (the raw text copied in,
// as socd's receivers build one per line), so allocation and freeing are in the figure.
//
// --dump FILE writes, for every record in file order, "format parsed time_ms fields-JSON" on one
// line (each record twice: as is, then with a tenant and a peer): two builds' dumps are compared
// with `cmp` as a differential check of a parser change (the fields must be equal, member order
// included).
#include <malloc.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "soc/parse.h"
#include "soc/record.h"
#include "soc_bench_util.h"

namespace {

namespace fs = std::filesystem;
using namespace seccloud;
using bench::ThreadCpu;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "soc_normalize_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Line {
  soc::Format format;
  std::string source;
  std::string raw;
};

std::vector<Line> LoadSet(const fs::path& dir) {
  std::ifstream in(dir / "manifest.json");
  if (!in) Die("no manifest.json in " + dir.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::system::error_code ec;
  const boost::json::value m = boost::json::parse(text, ec);
  if (ec || !m.is_object() || !m.as_object().contains("files")) Die("bad manifest.json");
  std::vector<Line> lines;
  for (const auto& f : m.at("files").as_array()) {
    soc::Format format;
    const std::string fmt(f.at("format").as_string());
    if (!soc::ParseFormatName(fmt, &format)) Die("unknown format " + fmt);
    std::ifstream file(dir / std::string(f.at("path").as_string()));
    if (!file) Die("cannot read " + std::string(f.at("path").as_string()));
    const std::string source = "file:" + std::string(f.at("source").as_string());
    for (std::string l; std::getline(file, l);) {
      if (l.size() > soc::kMaxRawBytes) l.resize(soc::kMaxRawBytes);
      lines.push_back({format, source, std::move(l)});
    }
  }
  return lines;
}

soc::Record Fresh(const Line& l) {
  soc::Record r;
  r.format = l.format;
  r.source = l.source;
  r.received_ms = 1793491200000;  // the end of loggen's default span: every record is plausible
  r.raw = l.raw;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data;
  std::string dump;
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) {
      data = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--dump" && i + 1 < argc) {
      dump = argv[++i];
    } else {
      Die("usage: soc_normalize_bench --data DIR [--reps N] [--dump FILE]");
    }
  }
  if (data.empty()) Die("--data DIR is required (bench/loggen.py's output)");
  // Freeing a batch would otherwise give the heap's top back to the kernel and the next batch's
  // first touches would fault it in again (a third of this program's samples): that measures
  // this loop's allocation pattern, not the parsers. socd and soc_store_bench keep enough else
  // on the heap that perf shows no such faults there.
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const std::vector<Line> lines = LoadSet(data);

  if (!dump.empty()) {
    std::ofstream out(dump, std::ios::binary);
    // Each record twice: as the bench normalises it, and with a tenant and a peer (an IPv4, a
    // mapped IPv6 and a non-address in turn), which take Normalize's other metadata paths.
    static constexpr const char* kPeers[] = {"192.0.2.1", "::ffff:192.0.2.1", "not-an-ip"};
    size_t n = 0;
    for (const Line& l : lines) {
      for (int variant = 0; variant < 2; ++variant) {
        soc::Record r = Fresh(l);
        if (variant == 1) {
          r.tenant = "city-a";
          r.peer = kPeers[n++ % 3];
        }
        soc::Normalize(r);
        out << soc::FormatName(r.format) << ' ' << r.parsed << ' ' << r.time_ms << ' '
            << boost::json::serialize(r.fields()) << '\n';
      }
    }
    if (!out) Die("cannot write " + dump);
  }

  std::map<soc::Format, std::vector<const Line*>> by_format;
  for (const Line& l : lines) by_format[l.format].push_back(&l);
  std::printf("| format | records | Normalize µs/record (best of %d) |\n|---|---|---|\n", reps);
  double total = 0;
  for (const auto& [format, group] : by_format) {
    double best = 1e9;
    for (int rep = 0; rep < reps; ++rep) {
      std::vector<soc::Record> batch;
      batch.reserve(4096);
      double cpu = 0;
      for (size_t i = 0; i < group.size(); i += 4096) {
        batch.clear();
        const size_t end = std::min(group.size(), i + 4096);
        for (size_t j = i; j < end; ++j) batch.push_back(Fresh(*group[j]));
        const double t = ThreadCpu();
        for (auto& r : batch) soc::Normalize(r);
        cpu += ThreadCpu() - t;
      }
      best = std::min(best, cpu);
    }
    total += best;
    std::printf("| %s | %s | %.2f |\n", soc::FormatName(format), bench::Group(group.size()).c_str(),
                best * 1e6 / group.size());
  }
  std::printf("| **all** | %s | **%.2f** |\n", bench::Group(lines.size()).c_str(),
              total * 1e6 / lines.size());
  return 0;
}
