// soc_prepare_bench: the store's Prepare on records whose fields are pending (a kept field tape)
// against the same records with their tree built first, for callgrind and for a byte comparison
// of the stores they write (R18, issue 5; index_tape_tokens.h).
//
//   soc_prepare_bench --data DIR --mode tape|tree --store DIR
//
// Reads DIR's seccloud-*.ndjson lines as seccloud events and its eve.json and windows.json lines
// as JSON lines (Normalize keeps a tape for those under kMaxParsedFields - 12 bytes), in batches
// of 4,096: Normalize, then (mode tree) r.fields() — the tree every pending record built in
// Prepare before the tape walk, or wherever a reader asked first — then LogStore::Prepare, then
// AppendPrepared; Flush at the end. The two modes write the same records: `cmp` every file
// under the two stores' data/ directories. Under callgrind, `callgrind_annotate --inclusive=yes`
// gives EmbeddedStore::Prepare, the walks (PendingFieldTokens / ObjectTokens) and
// Record::BuildPendingFields apart. Prints records, records still pending at Prepare, bytes.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "soc/parse.h"
#include "soc/record.h"
#include "soc/store.h"

namespace {

using namespace seccloud;
namespace fs = std::filesystem;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "soc_prepare_bench: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data, store_dir;
  std::string mode;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Die("usage: --data DIR --mode tape|tree --store DIR");
    if (a == "--data") {
      data = argv[++i];
    } else if (a == "--mode") {
      mode = argv[++i];
    } else if (a == "--store") {
      store_dir = argv[++i];
    } else {
      Die("unknown option " + a);
    }
  }
  if (data.empty() || store_dir.empty() || (mode != "tape" && mode != "tree")) {
    Die("usage: --data DIR --mode tape|tree --store DIR");
  }
  if (fs::exists(store_dir)) Die(store_dir.string() + " exists");
  soc::EmbeddedStoreOptions options;
  options.directory = store_dir;
  options.normalize = [](soc::Record& r) { soc::Normalize(r); };
  auto store = soc::OpenEmbeddedStore(options);
  if (!store) Die("store: " + store.error().message);

  struct File {
    const char* name;
    soc::Format format;
  };
  const File files[] = {{"seccloud-dns.ndjson", soc::Format::kSeccloudEvent},
                        {"seccloud-proxy.ndjson", soc::Format::kSeccloudEvent},
                        {"seccloud-scan.ndjson", soc::Format::kSeccloudEvent},
                        {"eve.json", soc::Format::kJson},
                        {"windows.json", soc::Format::kJson}};
  const bool tree = mode == "tree";
  size_t records = 0, pending = 0, bytes = 0;
  constexpr int64_t kReceived0 = 1'790'000'000'000;  // 2026-09-21
  std::vector<soc::Record> batch;
  soc::PreparedBatch prepared;
  auto flush = [&] {
    if (batch.empty()) return;
    if (auto s = (*store)->AppendPrepared(batch, {}, prepared); !s) {
      Die("append: " + s.error().message);
    }
    batch.clear();
    prepared.clear();
  };
  for (const File& f : files) {
    std::ifstream in(data / f.name);
    if (!in) Die("cannot read " + (data / f.name).string());
    std::string line;
    while (std::getline(in, line)) {
      soc::Record& r = batch.emplace_back();
      r.format = f.format;
      r.raw = line;
      r.received_ms = kReceived0 + static_cast<int64_t>(records);
      r.source = std::string("file:") + f.name;
      soc::Normalize(r);
      if (tree) r.fields();
      pending += r.fields_pending();
      (*store)->Prepare(r, &prepared);
      bytes += line.size();
      ++records;
      if (batch.size() == 4096) flush();
    }
  }
  flush();
  if (auto s = (*store)->Flush(); !s) Die("flush: " + s.error().message);
  std::printf("mode %s: %zu records, %zu pending at Prepare, %zu bytes\n", mode.c_str(), records,
              pending, bytes);
  return 0;
}
