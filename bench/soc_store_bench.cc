// R18: the SOC's per-record pipeline on one thread, over logs made by bench/loggen.py —
// parse (soc::Normalize), tenant attribution, LogStore::Append in batches with real fdatasync,
// DetectionEngine::Process with every loadable Sigma rule of ../shared/data/sigma/rules, and
// intel MatchRecord — then Compact() to the archive level, stored bytes against `gzip -6` and
// `zstd -19 -T1` of the same raw files, peak RSS, and a single-IP search over the whole span.
// Prints absolute figures and ratios; timings are never assertions (see bench/README.md).
//
//   soc_store_bench [--mb N | --gb G | --records N] [--work DIR] [--data DIR] [--keep]
//                   [--rules DIR]... [--no-sync] [--batch N] [--skip-peers] [--ingest-only]
//                   [--search-only] [--bloom-bits B] [--max-rules N] [--dump-detections FILE]
//                   [--intel-feed FILE] [--ingest-level L] [--detect-by-stage] [--no-prefetch]
//
// --ingest-level L: the zstd level of ingest blocks (EmbeddedStoreOptions::ingest_level; 0:
// stored, uncompressed frames; -1 to -8: zstd's fast levels). Compact() recompresses them at the
// archive level either way.
//
// --max-rules N keeps N of the loadable Sigma rules, every (loaded / N)-th in load order, so the
// logsources keep their shares (issue 5's condition is 1,000 rules loaded).
//
// --dump-detections FILE writes every detection of the ingest, one JSON line each in the order
// produced, so two builds' detections can be compared byte for byte; the bench's clock then
// stands still at the data's end (Record::received_ms, the time of records that carry none, and
// correlation Flush), so two runs of one build write the same file.
// --intel-feed FILE adds a seccloud-format feed "extra" (e.g. indicators taken from the data, so
// that intel matching is exercised far more than the real feeds' few hits).
// Detection runs as socd's Pipeline::Detect does: per record one FieldView, the SOC's own events
// skipped, Sigma then intel, the next record's view prefetched. --detect-by-stage runs Sigma over
// the whole batch then intel over it (the bench's method before view20); --no-prefetch drops the
// prefetch. Either way the dump lists a batch's Sigma detections before its intel ones.
//
// Without --data it runs bench/loggen.py into WORK/data (reused when the manifest matches).

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/tenant_registry.h"
#include "soc/attribution.h"
#include "soc/detect.h"
#include "soc/field_view.h"
#include "soc/intel.h"
#include "soc/parse.h"
#include "soc/query.h"
#include "soc/sigma.h"
#include "soc/store.h"
#include "soc/store_internal.h"
#include "soc_bench_util.h"

#ifndef SECCLOUD_SHARED_DATA
#define SECCLOUD_SHARED_DATA "../shared/data"
#endif
#ifndef SECCLOUD_SOURCE_DIR
#define SECCLOUD_SOURCE_DIR "."
#endif

namespace seccloud {
namespace {

using namespace bench;  // Now, ThreadCpu, ProcessCpu, ProcStatusKb, ResetPeakRss, Group, DirBytes

namespace fs = std::filesystem;
namespace json = boost::json;

struct Options {
  std::string size_flag = "--bytes";
  std::string size_value = std::to_string(uint64_t{256} << 20);  // default: 256 MiB
  fs::path work = "/tmp/soc_store_bench";
  fs::path data;
  std::vector<fs::path> rules;
  bool keep = false;
  bool sync = true;
  bool skip_peers = false;
  bool ingest_only = false;
  bool search_only = false;         // search WORK/store kept by an earlier --keep run
  double bloom_bits = -1;           // < 0: the store's default
  std::optional<int> ingest_level;  // unset: the store's default
  size_t batch = 4096;              // socd's pipeline batch
  size_t max_rules = 0;             // > 0: keep this many of the loaded Sigma rules, evenly spread
  bool prepare = true;  // LogStore::Prepare each record after Normalize (socd's path too)
  // --no-store: neither Prepare nor Append (the detectors then read records as Normalize left
  // them: a seccloud event's or JSON line's fields still pending, for measuring their lookups).
  bool store = true;
  fs::path dump_detections;  // non-empty: every detection as a JSON line
  fs::path intel_feed;       // non-empty: an extra seccloud-format intel feed
  // --detect-by-stage: Sigma over the whole batch, then intel over it (the method before view20)
  // instead of socd's per record order; --no-prefetch: the per-record loop without
  // FieldView::Prefetch of the next record. Both for alternated comparisons in one binary.
  bool detect_by_stage = false;
  bool prefetch = true;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "soc_store_bench: %s\n", what.c_str());
  std::exit(1);
}

double ChildrenCpu() {
  rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Mib(uint64_t bytes) {
  char b[64];
  std::snprintf(b, sizeof b, "%.1f MiB", bytes / 1048576.0);
  return b;
}

// Drops the page cache of every file under dir (for the cold-ish search): affects only these
// files, not the machine's other users.
void DropCache(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

// Where the store's bytes go, from its files: file headers, block headers and metas, token
// indexes, bodies (and inside the bodies, the per-record columns and the raw texts compressed
// apart), the journal.
void PrintStoreBreakdown(const fs::path& store_dir) {
  namespace si = soc::store_internal;
  si::BlockBytes b;
  uint64_t file_headers = 0, journal = 0, files = 0, blocks = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(store_dir, ec)) {
    if (!e.is_regular_file()) continue;
    if (e.path().extension() == ".wal") journal += e.file_size();
    if (e.path().extension() != ".blk") continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const si::FileHeaderInfo h = si::ReadFileHeader(
        std::string_view(bytes).substr(0, std::min(bytes.size(), si::kFileHeaderBytes)),
        si::FileKind::kPartition);
    ++files;
    file_headers += h.data_start;
    for (uint64_t pos = h.data_start; pos < bytes.size();) {
      std::string why;
      const uint64_t body_before = b.header_and_meta + b.bloom + b.body;
      if (!si::MeasureBlock(std::string_view(bytes).substr(pos), &b, &why)) {
        std::printf("breakdown: %s at %" PRIu64 ": %s\n", e.path().c_str(), pos, why.c_str());
        break;
      }
      ++blocks;
      pos += b.header_and_meta + b.bloom + b.body - body_before;
    }
  }
  const double total = double(file_headers + b.header_and_meta + b.bloom + b.body + journal);
  auto row = [&](const char* what, uint64_t v) {
    std::printf("| %s | %s | %.1f %% | %.2f |\n", what, Group(v).c_str(), 100.0 * v / total,
                b.records ? double(v) / b.records : 0.0);
  };
  std::printf(
      "\n== where the stored bytes go: %" PRIu64 " partition files, %" PRIu64
      " blocks, %s records ==\n| part | bytes | share | bytes/record |\n|---|---|---|---|\n",
      files, blocks, Group(b.records).c_str());
  row("file headers", file_headers);
  row("block headers + metas", b.header_and_meta);
  row("token indexes (Bloom filters; Golomb-coded sets in compacted blocks)", b.bloom);
  if (b.token_sets > 0) {
    std::printf(
        "(of them Golomb-coded sets: %s bytes for %s distinct tokens, %.2f bits per token)\n",
        Group(b.token_sets).c_str(), Group(b.token_set_tokens).c_str(),
        b.token_set_tokens ? 8.0 * b.token_sets / b.token_set_tokens : 0.0);
  }
  row("block bodies (zstd)", b.body);
  row("  per-record columns alone, compressed apart", b.columns_alone);
  row("  raw texts alone, compressed apart", b.raw_alone);
  row("journal", journal);
  std::printf("(uncompressed: columns %s bytes, raw texts as stored %s bytes)\n",
              Group(b.columns_plain).c_str(), Group(b.raw_plain).c_str());
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `command`, returns how many bytes it wrote to stdout.
uint64_t CountOutputBytes(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) Die("cannot run " + command);
  static char buf[1 << 16];
  uint64_t n = 0;
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) n += got;
  if (::pclose(p) != 0) Die("failed: " + command);
  return n;
}

struct SourceFile {
  std::string source, path;
  soc::Format format = soc::Format::kText;
  uint64_t lines = 0, bytes = 0;
  uint64_t read = 0;
  FILE* f = nullptr;
};

struct Manifest {
  json::object raw;
  std::vector<SourceFile> files;
  int64_t start_ms = 0, end_ms = 0;
  uint64_t records = 0, bytes = 0;
  std::string needle;
};

Manifest ReadManifest(const fs::path& dir) {
  std::ifstream in(dir / "manifest.json");
  if (!in) Die("no manifest.json in " + dir.string());
  std::stringstream ss;
  ss << in.rdbuf();
  Manifest m;
  m.raw = json::parse(ss.str()).as_object();
  m.start_ms = m.raw.at("span").at("start_ms").to_number<int64_t>();
  m.end_ms = m.raw.at("span").at("end_ms").to_number<int64_t>();
  m.records = m.raw.at("records").to_number<uint64_t>();
  m.bytes = m.raw.at("bytes").to_number<uint64_t>();
  m.needle = json::value_to<std::string>(m.raw.at("needle").at("ip"));
  for (const auto& v : m.raw.at("files").as_array()) {
    SourceFile f;
    f.source = json::value_to<std::string>(v.at("source"));
    f.path = (dir / json::value_to<std::string>(v.at("path"))).string();
    const auto fmt = json::value_to<std::string>(v.at("format"));
    if (!soc::ParseFormatName(fmt, &f.format)) Die("unknown format " + fmt);
    f.lines = v.at("lines").to_number<uint64_t>();
    f.bytes = v.at("bytes").to_number<uint64_t>();
    m.files.push_back(std::move(f));
  }
  return m;
}

fs::path EnsureData(const Options& o) {
  if (!o.data.empty()) return o.data;
  const fs::path dir = o.work / "data";
  const std::string stamp = o.size_flag + " " + o.size_value;
  {
    std::ifstream in(o.work / "data.stamp");
    std::string have;
    std::getline(in, have);
    if (have == stamp && fs::exists(dir / "manifest.json")) {
      std::printf("data: reusing %s (generated with %s)\n", dir.c_str(), stamp.c_str());
      return dir;
    }
  }
  fs::remove_all(dir);
  fs::create_directories(o.work);
  const std::string cmd =
      "python3 " + ShellQuote(std::string(SECCLOUD_SOURCE_DIR) + "/bench/loggen.py") + " --out " +
      ShellQuote(dir.string()) + " " + o.size_flag + " " + o.size_value;
  std::printf("data: %s\n", cmd.c_str());
  std::fflush(stdout);
  if (std::system(cmd.c_str()) != 0) Die("loggen failed");
  std::ofstream(o.work / "data.stamp") << stamp << "\n";
  return dir;
}

// The tenants of loggen.py: t01..t30 own 10.<n>.0.0/16.
std::shared_ptr<const TenantRegistry> BenchTenants() {
  std::vector<Tenant> tenants;
  for (int i = 1; i <= 30; ++i) {
    Tenant t;
    char id[8];
    std::snprintf(id, sizeof id, "t%02d", i);
    t.id = id;
    t.display_name = id;
    t.networks.push_back(*IpPrefix::Parse("10." + std::to_string(i) + ".0.0/16"));
    tenants.push_back(std::move(t));
  }
  auto r = TenantRegistry::Build(std::move(tenants), nullptr);
  if (!r) Die("tenants: " + r.error().ToString());
  return *r;
}

struct StageTimes {
  double read = 0, parse = 0, append = 0, sigma = 0, intel = 0;
  // LogStore::Prepare, inside the parse pass: timed on 1 record in 16 (clock reads subtracted),
  // scaled to all records, and taken out of parse.
  double prepare = 0;
  uint64_t prepare_timed = 0;
  double flush = 0, flush_wall = 0;  // the final LogStore::Flush
  double append_wall = 0;
};

struct SearchRun {
  double wall = 0;
  soc::SearchStats stats;
  size_t delivered = 0;
};

SearchRun RunSearch(soc::LogStore& store, const std::string& text, const Manifest& m) {
  auto q = soc::ParseQuery(text);
  if (!q) Die("query: " + q.error().ToString());
  soc::SearchOptions so;
  so.since_ms = m.start_ms;
  so.until_ms = m.end_ms + 1;
  so.limit = 1000;
  SearchRun run;
  const double t0 = Now();
  auto st = store.Search(*q, so, [&](const soc::Record&) {
    ++run.delivered;
    return true;
  });
  run.wall = Now() - t0;
  if (!st) Die("search: " + st.error().ToString());
  run.stats = *st;
  return run;
}

// Reopens the store with a cold page cache for its files, then searches the needle over the
// whole span: as a bare word and as source.ip, three runs each.
void RunSearches(const soc::EmbeddedStoreOptions& so, const Manifest& m, uint64_t records) {
  ResetPeakRss();
  DropCache(so.directory);
  const double t0 = Now();
  auto opened = soc::OpenEmbeddedStore(so);
  if (!opened) Die("reopen: " + opened.error().ToString());
  std::unique_ptr<soc::LogStore> store = std::move(*opened);
  const double open_s = Now() - t0;
  const uint64_t open_hwm = ProcStatusKb("VmHWM");
  if (records == 0) records = store->Stats().records;
  std::printf(
      "\n== search over %.0f days, %s records (store reopened in %.2f s, page cache of its files "
      "dropped) ==\n",
      (m.end_ms - m.start_ms) / 86400000.0, Group(records).c_str(), open_s);
  std::printf(
      "| query | run | seconds | matched | blocks read / total | records scanned |\n"
      "|---|---|---|---|---|---|\n");
  for (const std::string& q : {m.needle, "source.ip:" + m.needle}) {
    for (int k = 0; k < 3; ++k) {
      const SearchRun r = RunSearch(*store, q, m);
      std::printf("| `%s` | %s | %.3f | %zu | %" PRIu64 " / %" PRIu64 " | %s |\n", q.c_str(),
                  k == 0 ? (q == m.needle ? "cold-ish" : "first") : "warm", r.wall, r.delivered,
                  r.stats.blocks_read, r.stats.blocks_total,
                  Group(r.stats.records_scanned).c_str());
    }
  }
  std::printf("RSS: store open %s (peak), search peak %s\n", Mib(open_hwm * 1024).c_str(),
              Mib(ProcStatusKb("VmHWM") * 1024).c_str());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mb") {
      o.size_flag = "--bytes";
      o.size_value = std::to_string(static_cast<uint64_t>(std::stod(next()) * 1048576));
    } else if (a == "--gb") {
      o.size_flag = "--gb";
      o.size_value = next();
    } else if (a == "--records") {
      o.size_flag = "--records";
      o.size_value = next();
    } else if (a == "--work") {
      o.work = next();
    } else if (a == "--data") {
      o.data = next();
    } else if (a == "--rules") {
      o.rules.push_back(next());
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--no-sync") {
      o.sync = false;
    } else if (a == "--skip-peers") {
      o.skip_peers = true;
    } else if (a == "--ingest-only") {
      o.ingest_only = true;
    } else if (a == "--search-only") {
      o.search_only = true;
    } else if (a == "--bloom-bits") {
      o.bloom_bits = std::stod(next());
    } else if (a == "--ingest-level") {
      o.ingest_level = std::stoi(next());
      if (*o.ingest_level < soc::store_internal::kMinFastLevel ||
          *o.ingest_level > soc::store_internal::kMaxLevel) {
        std::fprintf(stderr, "--ingest-level: %d is not -8 (zstd --fast=8) to 22 (0: stored)\n",
                     *o.ingest_level);
        return 2;
      }
    } else if (a == "--batch") {
      o.batch = std::stoul(next());
    } else if (a == "--max-rules") {
      o.max_rules = std::stoul(next());
    } else if (a == "--no-prepare") {
      o.prepare = false;
    } else if (a == "--no-store") {
      o.store = false;
    } else if (a == "--dump-detections") {
      o.dump_detections = next();
    } else if (a == "--intel-feed") {
      o.intel_feed = next();
    } else if (a == "--detect-by-stage") {
      o.detect_by_stage = true;
    } else if (a == "--no-prefetch") {
      o.prefetch = false;
    } else {
      Die("unknown option " + a +
          " (--mb N | --gb G | --records N, --work DIR, --data DIR, --rules DIR, --keep, "
          "--no-sync, --skip-peers, --ingest-only, --search-only, --bloom-bits B, --batch N, "
          "--max-rules N, --no-prepare, --no-store, --dump-detections FILE, --intel-feed FILE, "
          "--ingest-level L, --detect-by-stage, --no-prefetch)");
    }
  }
  if (o.rules.empty()) o.rules.push_back(fs::path(SECCLOUD_SHARED_DATA) / "sigma" / "rules");

  const fs::path data = EnsureData(o);
  Manifest m = ReadManifest(data);
  std::printf("data: %s records, %s raw, %zu files, span %.0f days, needle %s in %zu records\n",
              Group(m.records).c_str(), Mib(m.bytes).c_str(), m.files.size(),
              (m.end_ms - m.start_ms) / 86400000.0, m.needle.c_str(),
              m.raw.at("needle").at("records").as_array().size());

  const fs::path store_dir = o.work / "store";
  soc::EmbeddedStoreOptions so;
  so.directory = store_dir;
  so.normalize = [](soc::Record& r) { soc::Normalize(r); };
  so.sync = o.sync;
  if (o.bloom_bits >= 0) so.bloom_bits_per_token = o.bloom_bits;
  if (o.ingest_level) so.ingest_level = *o.ingest_level;
  std::printf("store: %s, Bloom filters %.2f bits per token\n", store_dir.c_str(),
              so.bloom_bits_per_token);
  if (o.search_only) {
    RunSearches(so, m, 0);
    return 0;
  }

  // Detectors, as socd loads them.
  double t0 = Now();
  soc::LoadReport report;
  auto rules = soc::LoadRules(o.rules, &report);
  if (!rules) Die("rules: " + rules.error().ToString());
  const double rules_s = Now() - t0;
  std::printf(
      "sigma: %zu files, %zu documents: %zu rules + %zu correlations loaded, %zu unsupported, "
      "%zu errors (%.1f s)\n",
      report.files, report.documents, report.rules_loaded, report.correlations_loaded,
      report.unsupported.size(), report.errors.size(), rules_s);
  {
    std::vector<std::pair<size_t, std::string>> reasons;
    for (const auto& [k, v] : report.CountByReason()) reasons.emplace_back(v, k);
    std::sort(reasons.rbegin(), reasons.rend());
    for (size_t i = 0; i < reasons.size() && i < 6; ++i)
      std::printf("  %6zu  %s\n", reasons[i].first, reasons[i].second.c_str());
  }
  if (o.max_rules > 0 && o.max_rules < rules->rules.size()) {
    const size_t total = rules->rules.size();
    std::vector<size_t> new_index(total, SIZE_MAX);
    std::vector<soc::SigmaRule> kept;
    for (size_t k = 0; k < o.max_rules; ++k) {
      const size_t i = k * total / o.max_rules;
      new_index[i] = kept.size();
      kept.push_back(std::move(rules->rules[i]));
    }
    rules->rules = std::move(kept);
    // A correlation stays only with all of its rules.
    std::vector<soc::CorrelationRule> correlations;
    for (auto& c : rules->correlations) {
      bool all = true;
      for (size_t& r : c.rules) {
        all = all && new_index[r] != SIZE_MAX;
        if (all) r = new_index[r];
      }
      if (all) correlations.push_back(std::move(c));
    }
    std::printf("sigma: kept %zu of %zu rules (every %.2f-th) and %zu of %zu correlations\n",
                rules->rules.size(), total, double(total) / o.max_rules, correlations.size(),
                rules->correlations.size());
    rules->correlations = std::move(correlations);
  }
  const double engine_t0 = Now();
  auto engine = soc::DetectionEngine::Create(std::move(*rules));
  if (!engine) Die("engine: " + engine.error().ToString());
  // What a rule reload costs socd on top of parsing the YAML.
  std::printf("sigma: DetectionEngine built in %.2f s\n", Now() - engine_t0);
  const fs::path intel_dir = fs::path(SECCLOUD_SHARED_DATA) / "threat-intel";
  std::vector<soc::IntelFeed> feeds;
  auto feed = [&](const char* name, const char* file, soc::IntelFormat format) {
    soc::IntelFeed f;
    f.name = name;
    f.path = (intel_dir / file).string();
    f.format = format;
    feeds.push_back(std::move(f));
  };
  feed("signature-base-c2", "signature-base/c2-iocs.txt", soc::IntelFormat::kLokiC2);
  feed("urlhaus", "urlhaus/urlhaus-filter.txt", soc::IntelFormat::kAdblock);
  feed("urlhaus-domains", "urlhaus/urlhaus-filter-domains.txt", soc::IntelFormat::kDomainList);
  if (!o.intel_feed.empty()) {
    soc::IntelFeed f;
    f.name = "extra";
    f.path = o.intel_feed.string();
    feeds.push_back(std::move(f));
  }
  soc::IntelLoadReport intel_report;
  auto intel = soc::LoadIntel(feeds, &intel_report);
  if (!intel) Die("intel: " + intel.error().ToString());
  std::printf("intel: %s indicators from %zu feeds\n", Group(intel_report.indicators).c_str(),
              feeds.size());
  auto tenants = BenchTenants();
  soc::Attributor attributor;  // socd's rule and its sender cache (soc/attribution.h)

  fs::remove_all(store_dir);
  auto opened = soc::OpenEmbeddedStore(so);
  if (!opened) Die("store: " + opened.error().ToString());
  std::unique_ptr<soc::LogStore> store = std::move(*opened);

  for (auto& f : m.files) {
    f.f = std::fopen(f.path.c_str(), "r");
    if (!f.f) Die("cannot open " + f.path);
  }

  // ---- ingest ----
  std::printf("ingest: one thread, batches of %zu, fdatasync %s\n", o.batch, o.sync ? "on" : "OFF");
  std::fflush(stdout);
  ResetPeakRss();
  // What a pair of thread-CPU clock reads itself adds to a timed interval (a system call here),
  // subtracted from the per-format Sigma figures below.
  double clock_overhead = 0;
  {
    constexpr int kPairs = 2000;
    double sum = 0;
    for (int i = 0; i < kPairs; ++i) {
      const double t = ThreadCpu();
      sum += ThreadCpu() - t;
    }
    clock_overhead = sum / kPairs;
  }
  StageTimes st;
  struct FormatSplit {
    uint64_t records = 0, checked = 0, timed = 0;
    double cpu = 0;
  };
  std::array<FormatSplit, 8> per_format{};
  std::vector<soc::Record> batch;
  soc::PreparedBatch prepared;
  std::vector<soc::Detection> found, intel_found;
  soc::FieldView view;  // socd's one view per record (reused, as its Detect reuses one per batch)
  std::map<std::string, uint64_t> detections_by_rule;
  uint64_t detections = 0, intel_hits = 0, unparsed = 0, records = 0, raw_bytes = 0;
  std::FILE* dump = nullptr;
  if (!o.dump_detections.empty()) {
    dump = std::fopen(o.dump_detections.c_str(), "w");
    if (dump == nullptr) Die("cannot write " + o.dump_detections.string());
  }
  char* line = nullptr;
  size_t cap = 0;
  const double wall0 = Now(), cpu0 = ProcessCpu();
  double next_report = wall0 + 30;
  bool done = false;
  while (!done) {
    double c = ThreadCpu();
    const int64_t now_ms = dump != nullptr ? m.end_ms : NowMs();
    // A fresh Record per line, and the previous batch freed here, as socd does (its receivers
    // build a Record per line; its commit thread frees each batch). Reusing the Records measured
    // slower overall (33 k vs 41-43 k records/s per core on 256 MiB): each record's old JSON tree
    // is then freed in Normalize between new allocations, and the store's, Sigma's and intel's
    // walks over the scattered new trees got slower by far more than the reuse saved.
    batch.clear();
    size_t n = 0;
    // Replays the files in proportion to their line counts: each file is in time order and
    // spans the whole period, so this is the mixed stream in (nearly) time order.
    while (n < o.batch) {
      SourceFile* best = nullptr;
      double best_pos = 2;
      for (auto& f : m.files) {
        if (f.read >= f.lines) continue;
        const double pos = (f.read + 1.0) / f.lines;
        if (pos < best_pos) best_pos = pos, best = &f;
      }
      if (!best) {
        done = true;
        break;
      }
      const ssize_t got = ::getline(&line, &cap, best->f);
      if (got <= 0) {
        best->read = best->lines;
        continue;
      }
      ++best->read;
      size_t len = static_cast<size_t>(got);
      if (line[len - 1] == '\n') --len;
      soc::Record& r = batch.emplace_back();
      ++n;
      r.format = best->format;
      r.source.reserve(5 + best->source.size());
      r.source.assign("file:").append(best->source);
      r.received_ms = now_ms;
      if (len > soc::kMaxRawBytes) {
        len = soc::kMaxRawBytes;
        r.truncated = true;
      }
      r.raw.assign(line, len);
      raw_bytes += len + 1;
    }
    if (batch.empty()) break;
    double c2 = ThreadCpu();
    st.read += c2 - c;
    c = c2;
    // The store's per-record step right after Normalize, while the record is in cache.
    prepared.clear();
    double prepare_sampled = 0;
    size_t prepare_samples = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      soc::Record& r = batch[i];
      soc::Normalize(r);
      if (!r.parsed) ++unparsed;
      attributor.Attribute(r, tenants);
      if (!o.prepare || !o.store) continue;
      if (i % 16 == 0) {
        const double t = ThreadCpu();
        store->Prepare(r, &prepared);
        prepare_sampled += ThreadCpu() - t - clock_overhead;
        ++prepare_samples;
      } else {
        store->Prepare(r, &prepared);
      }
    }
    c2 = ThreadCpu();
    if (prepare_samples > 0) {
      // The sampled clock reads themselves, taken out of the parse stage too.
      const double prepare_est =
          std::max(0.0, prepare_sampled / prepare_samples) * static_cast<double>(batch.size());
      st.prepare += prepare_est;
      st.parse -= prepare_est + clock_overhead * static_cast<double>(prepare_samples);
      st.prepare_timed += prepare_samples;
    }
    st.parse += c2 - c;
    c = c2;
    std::vector<soc::Checkpoint> cps;
    for (const auto& f : m.files) cps.push_back({"file:" + f.source, std::to_string(f.read)});
    const double w = Now();
    if (!o.store) {
    } else if (auto s = o.prepare ? store->AppendPrepared(batch, cps, prepared)
                                  : store->Append(batch, cps);
               !s) {
      Die("append: " + s.error().ToString());
    }
    st.append_wall += Now() - w;
    c2 = ThreadCpu();
    st.append += c2 - c;
    c = c2;
    found.clear();
    intel_found.clear();
    (*engine)->Flush(now_ms, &found);
    // Per format: rule evaluations after the prefilter (every record) and the Sigma CPU time,
    // measured on every 16th record (a thread-CPU clock read is a system call, ~0.5 µs here;
    // reading it around every record would add ~1 µs to the Sigma stage).
    auto sigma = [&](auto& r, soc::Format format) {
      FormatSplit& split = per_format[static_cast<size_t>(format)];
      const uint64_t checked = (*engine)->stats().rules_checked;
      const bool timed = split.records++ % 16 == 0;
      const double t = timed ? ThreadCpu() : 0;
      (*engine)->Process(r, &found);
      if (timed) split.cpu += ThreadCpu() - t, ++split.timed;
      split.checked += (*engine)->stats().rules_checked - checked;
      return timed;
    };
    if (o.detect_by_stage) {
      // The method before view20: Sigma over the whole batch, then intel over it again, each
      // with its own view of each (by then cold) record.
      for (const auto& r : batch) sigma(r, r.format);
      c2 = ThreadCpu();
      st.sigma += c2 - c;
      c = c2;
      for (const auto& r : batch) soc::MatchRecord(**intel, r, &intel_found);
      c2 = ThreadCpu();
      st.intel += c2 - c;
    } else {
      // socd's Pipeline::Detect: per record one view, the SOC's own events skipped, Sigma then
      // intel on that view. Intel's share is timed on the records Sigma's is (1 in 16 of each
      // format) and taken out of the loop's time; the rest is Sigma's, the view's Reset and the
      // dataset check included (as Process(Record) includes its Reset in the other method).
      double intel_sampled = 0;
      size_t intel_samples = 0, intel_records = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (o.prefetch) soc::FieldView::Prefetch(batch, i);
        view.Reset(batch[i]);
        if (const soc::FieldRef& ds = view.Dataset();
            ds.is_string() && ds.str().starts_with("soc.")) {
          continue;
        }
        ++intel_records;
        if (!sigma(view, batch[i].format)) {
          soc::MatchRecord(**intel, view, &intel_found);
          continue;
        }
        const double t = ThreadCpu();
        soc::MatchRecord(**intel, view, &intel_found);
        intel_sampled += ThreadCpu() - t - clock_overhead;
        ++intel_samples;
      }
      c2 = ThreadCpu();
      // Scaled by the records that reached intel (not the SOC's own, skipped), and the sampled
      // intel clock reads (one pair a sample, inside the loop's time) taken out of Sigma's share
      // as Prepare's are out of the parse stage's (review of view20).
      const double intel_est = intel_samples == 0 ? 0
                                                  : std::max(0.0, intel_sampled / intel_samples) *
                                                        static_cast<double>(intel_records);
      st.intel += intel_est;
      st.sigma += c2 - c - intel_est - clock_overhead * static_cast<double>(intel_samples);
    }
    // Sigma's detections then intel's, as the stage order wrote them (socd interleaves them per
    // record; the dump stays comparable across both methods).
    intel_hits += intel_found.size();
    found.insert(found.end(), std::make_move_iterator(intel_found.begin()),
                 std::make_move_iterator(intel_found.end()));
    detections += found.size();
    for (const auto& d : found) ++detections_by_rule[d.ruleset + " " + d.rule_title];
    if (dump != nullptr) {
      for (const auto& d : found) {
        json::object j;
        j["rule_id"] = d.rule_id;
        j["rule_title"] = d.rule_title;
        j["ruleset"] = d.ruleset;
        j["level"] = soc::LevelName(d.level);
        json::array tags;
        for (const auto& t : d.tags) tags.emplace_back(t);
        j["tags"] = std::move(tags);
        j["time_ms"] = d.time_ms;
        j["tenant"] = d.tenant;
        j["entity"] = d.entity;
        j["terminal"] = d.terminal;
        json::array evidence;
        for (uint64_t e : d.evidence) evidence.emplace_back(e);
        j["evidence"] = std::move(evidence);
        j["context"] = d.context;
        j["resolves"] = d.resolves;
        const std::string text = json::serialize(j);
        std::fprintf(dump, "%s\n", text.c_str());
      }
    }
    records += batch.size();
    if (Now() > next_report) {
      next_report += 30;
      std::printf("  … %s records, %.0f records/s wall\n", Group(records).c_str(),
                  records / (Now() - wall0));
      std::fflush(stdout);
    }
  }
  std::free(line);
  if (dump != nullptr && std::fclose(dump) != 0) Die("write " + o.dump_detections.string());
  {
    const double c = ThreadCpu(), w = Now();
    if (auto s = store->Flush(); !s) Die("flush: " + s.error().ToString());
    st.flush = ThreadCpu() - c;
    st.flush_wall = Now() - w;
  }
  const double ingest_wall = Now() - wall0, ingest_cpu = ProcessCpu() - cpu0;
  const uint64_t ingest_hwm = ProcStatusKb("VmHWM"), ingest_rss = ProcStatusKb("VmRSS");
  for (auto& f : m.files) std::fclose(f.f);
  const soc::StoreStats after_ingest = store->Stats();
  const double other_cpu =
      ingest_cpu - (st.read + st.parse + st.prepare + st.append + st.sigma + st.intel + st.flush);

  std::printf("\n== ingest: %s records, %s raw ==\n", Group(records).c_str(),
              Mib(raw_bytes).c_str());
  std::printf("| | seconds | records/s |\n|---|---|---|\n");
  std::printf("| wall (incl. fdatasync waits) | %.1f | %s |\n", ingest_wall,
              Group(records / ingest_wall).c_str());
  std::printf("| CPU, whole process (per core) | %.1f | **%s** |\n", ingest_cpu,
              Group(records / ingest_cpu).c_str());
  std::printf(
      "\nCPU split (thread CPU time):\n| stage | CPU s | share | µs/record |\n|---|---|---|---|\n");
  auto row = [&](const char* name, double s) {
    std::printf("| %s | %.1f | %.0f %% | %.2f |\n", name, s, 100 * s / ingest_cpu,
                1e6 * s / std::max<uint64_t>(records, 1));
  };
  row("read lines + build Record", st.read);
  row("Normalize + attribution", st.parse);
  if (o.prepare) row("LogStore::Prepare (token hashes; 1 record in 16 timed)", st.prepare);
  row("LogStore::Append (journal, index, seal)", st.append);
  row("DetectionEngine::Process (Sigma)", st.sigma);
  row("intel MatchRecord", st.intel);
  row("final LogStore::Flush (seals every open block)", st.flush);
  row("other (bench loop, other threads)", other_cpu);
  std::printf(
      "Append wall %.1f s (fdatasync waits included) vs its CPU %.1f s; final Flush wall "
      "%.2f s vs its CPU %.2f s\n",
      st.append_wall, st.append, st.flush_wall, st.flush);
  const auto& es = (*engine)->stats();
  std::printf(
      "detection: %s detections (%s intel), %s unparsed records; engine checked %.2f rules/record "
      "after the prefilter\n",
      Group(detections).c_str(), Group(intel_hits).c_str(), Group(unparsed).c_str(),
      es.records ? double(es.rules_checked) / es.records : 0.0);
  std::printf("per-format Sigma µs: 1 record in 16 timed, %.2f µs of clock reads subtracted\n",
              1e6 * clock_overhead);
  std::printf(
      "| format | records | Sigma rules checked / record | Sigma µs / record |\n"
      "|---|---|---|---|\n");
  for (size_t f = 1; f < per_format.size(); ++f) {
    const FormatSplit& split = per_format[f];
    if (!split.records) continue;
    std::printf(
        "| %s | %s | %.1f | %.2f |\n", soc::FormatName(static_cast<soc::Format>(f)),
        Group(split.records).c_str(), double(split.checked) / split.records,
        1e6 * std::max(0.0, split.cpu / std::max<uint64_t>(split.timed, 1) - clock_overhead));
  }
  {
    std::vector<std::pair<uint64_t, std::string>> top;
    for (const auto& [k, v] : detections_by_rule) top.emplace_back(v, k);
    std::sort(top.rbegin(), top.rend());
    for (size_t i = 0; i < top.size() && i < 8; ++i)
      std::printf("  %8s  %s\n", Group(top[i].first).c_str(), top[i].second.c_str());
  }
  std::printf("store after ingest: %s in %" PRIu64 " partitions, %" PRIu64 " blocks (level %d)\n",
              Mib(after_ingest.stored_bytes).c_str(), after_ingest.partitions, after_ingest.blocks,
              so.ingest_level);
  std::printf("RSS during ingest: peak (VmHWM) %s, at end %s\n", Mib(ingest_hwm * 1024).c_str(),
              Mib(ingest_rss * 1024).c_str());
  std::fflush(stdout);
  if (o.ingest_only) {
    store.reset();
    if (!o.keep) fs::remove_all(store_dir);
    return 0;
  }

  // ---- compaction to the archive level ----
  ResetPeakRss();
  t0 = Now();
  double c0 = ProcessCpu();
  const int64_t day = 86'400'000;
  if (auto s = store->Compact((m.end_ms / day + 1) * day); !s)
    Die("compact: " + s.error().ToString());
  const double compact_wall = Now() - t0, compact_cpu = ProcessCpu() - c0;
  const uint64_t compact_hwm = ProcStatusKb("VmHWM");
  const soc::StoreStats after = store->Stats();
  const uint64_t store_dir_bytes = DirBytes(store_dir);
  std::printf(
      "\n== compact (zstd level %d, blocks of %zu records): %.1f s wall, %.1f s CPU, "
      "%.1f MiB/s raw, peak RSS %s ==\n",
      so.archive_level, so.archive_block_records, compact_wall, compact_cpu,
      raw_bytes / 1048576.0 / compact_cpu, Mib(compact_hwm * 1024).c_str());

  std::fflush(stdout);

  // ---- peers: gzip -6 and zstd -19 of the same raw files ----
  uint64_t gz = 0, zs = 0;
  double gz_cpu = 0, zs_cpu = 0;
  if (!o.skip_peers) {
    for (const auto& f : m.files) {
      double c = ChildrenCpu();
      gz += CountOutputBytes("gzip -6 -c " + ShellQuote(f.path));
      gz_cpu += ChildrenCpu() - c;
      c = ChildrenCpu();
      zs += CountOutputBytes("zstd -19 -T1 -q -c " + ShellQuote(f.path));
      zs_cpu += ChildrenCpu() - c;
    }
  }
  std::printf("\n== stored bytes, %s raw in %zu files ==\n", Mib(raw_bytes).c_str(),
              m.files.size());
  std::printf("| | bytes | ratio to raw | vs zstd -19 | CPU s |\n|---|---|---|---|---|\n");
  auto srow = [&](const char* name, uint64_t b, double cpu) {
    std::printf("| %s | %s (%s) | %.2f %% | %s | %s |\n", name, Group(b).c_str(), Mib(b).c_str(),
                100.0 * b / raw_bytes,
                zs ? (std::to_string(double(b) / zs).substr(0, 5) + "×").c_str() : "-",
                cpu > 0 ? std::to_string(cpu).substr(0, 6).c_str() : "-");
  };
  srow(("store after ingest (level " + std::to_string(so.ingest_level) + " blocks + journal)")
           .c_str(),
       after_ingest.stored_bytes, 0);
  srow("store after Compact (Stats().stored_bytes)", after.stored_bytes, compact_cpu);
  srow("store directory on disk (every file)", store_dir_bytes, 0);
  if (!o.skip_peers) {
    srow("gzip -6, per file", gz, gz_cpu);
    srow("zstd -19 -T1, per file", zs, zs_cpu);
  }
  std::fflush(stdout);
  PrintStoreBreakdown(store_dir);
  std::fflush(stdout);

  // ---- single-IP search over the whole span ----
  store.reset();
  RunSearches(so, m, after.records);
  std::printf(
      "\nnote: records/s per core = records / CPU seconds of this process over ingest "
      "(single-threaded); wall includes fdatasync waits of a shared disk.\n");
  if (!o.keep) fs::remove_all(store_dir);
  return 0;
}

}  // namespace
}  // namespace seccloud

int main(int argc, char** argv) { return seccloud::Main(argc, argv); }
