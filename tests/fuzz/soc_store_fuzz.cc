// Fuzzes the SOC log store's readers (R18): a tiny store is written once; each input then
// replaces or patches one of its stored files (a partition's block file or the journal), and the
// store is opened, searched, asked for records by seq, verified and appended to. Whatever the
// bytes, nothing may crash, hang or leak; damage is reported, never returned as records.
// Input: byte 0 picks the file (odd: journal; even: block file, or with bit 1 set the Compact()ed
// partition, whose blocks carry Golomb-coded token sets; even with bit 2 set: that partition's
// index, store_partition_index.h), byte 1 the mode (bit 0 clear:
// replace the file with the rest of the input; set: write the rest at offset byte 2 × 16 +
// byte 3; bit 1 set: then recompute every checksum, so the fuzzer reaches the decoders behind
// them).
//
// Runs with libFuzzer's -entropic=0 (soc_store_fuzz.options, which run-all reads): an input here
// covers ~28,000 edges and ~57,000 features, and the entropic schedule took 81% of the time (perf,
// tests/fuzz/README.md): ~7 inputs a second from the seeds, ~50 without it.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "soc/store.h"
#include "soc/store_internal.h"
#include "soc/store_testing_internal.h"

namespace {

using namespace seccloud::soc;
namespace fs = std::filesystem;

EmbeddedStoreOptions Options(const fs::path& dir) {
  EmbeddedStoreOptions o;
  o.directory = dir;
  o.normalize = TestNormalize;
  o.block_records = 4;
  o.sync = false;
  return o;
}

Record Rec(int i, int64_t shift_ms = 0) {
  Record r;
  r.time_ms = 1'764'115'200'000 + i * 1000 + shift_ms;
  r.received_ms = r.time_ms + 7;
  r.format = Format::kJson;
  r.source = "spool:fuzz";
  r.tenant = i % 2 ? "t1" : "t2";
  r.raw = R"({"event":{"dataset":"proxy.access"},"source":{"ip":"10.0.0.)" + std::to_string(i) +
          R"("},"message":"record )" + std::to_string(i) + R"("})";
  TestNormalize(r);
  return r;
}

struct Template {
  fs::path dir;
  fs::path block_rel, journal_rel, compacted_rel, index_rel;
};

const Template& MakeTemplate() {
  static const Template* t = [] {
    auto* tpl = new Template();
    tpl->dir = fs::temp_directory_path() / ("soc_store_fuzz_tpl_" + std::to_string(::getpid()));
    fs::remove_all(tpl->dir);
    {
      auto store = OpenEmbeddedStore(Options(tpl->dir));
      if (!store) std::abort();
      // The day before: a partition that Compact() rewrites into one archive block.
      std::vector<Record> old;
      for (int i = 0; i < 10; ++i) old.push_back(Rec(i, -86'400'000));
      if (!(*store)->Append(old, {}) || !(*store)->Compact(1'764'115'200'000)) std::abort();
      std::vector<Record> batch;
      for (int i = 0; i < 10; ++i) batch.push_back(Rec(i));
      const std::vector<Checkpoint> first = {{"k", "v"}}, second = {{"k", "w"}};
      if (!(*store)->Append(batch, first)) std::abort();
      std::vector<Record> more = {Rec(10), Rec(11)};
      if (!(*store)->Append(more, second)) std::abort();
    }
    for (const auto& e : fs::recursive_directory_iterator(tpl->dir)) {
      const auto rel = fs::relative(e.path(), tpl->dir);
      if (e.path().extension() == ".blk") {
        (e.path().stem() == "2025-11-25" ? tpl->compacted_rel : tpl->block_rel) = rel;
      }
      if (e.path().extension() == ".wal") tpl->journal_rel = rel;
      if (e.path().extension() == ".idx" && e.path().stem() == "2025-11-25") tpl->index_rel = rel;
    }
    if (tpl->block_rel.empty() || tpl->journal_rel.empty() || tpl->compacted_rel.empty() ||
        tpl->index_rel.empty()) {
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(
          fs::temp_directory_path() / ("soc_store_fuzz_tpl_" + std::to_string(::getpid())), ec);
    });
    return tpl;
  }();
  return *t;
}

// Rewrites the checksums of the file header and of every whole block (or journal entry, or the
// partition index's payload) in bytes.
enum class Kind { kBlocks, kJournal, kIndex };
void FixChecksums(std::string& bytes, Kind kind) {
  namespace si = store_internal;
  const bool journal = kind == Kind::kJournal;
  auto put = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(v >> (8 * i));
  };
  size_t pos = 0;
  if (bytes.size() >= si::kFileHeaderBytes && si::GetU32(bytes.data()) == si::kFileMagic) {
    put(12, si::Crc32c(std::string_view(bytes).substr(0, 12)));
    pos = si::kFileHeaderBytes;
  }
  if (kind == Kind::kIndex) {
    if (bytes.size() < pos + 8) return;
    put(pos, static_cast<uint32_t>(bytes.size() - pos - 8));
    put(pos + 4, si::Crc32c(std::string_view(bytes).substr(pos + 8)));
    return;
  }
  if (journal) {
    while (pos + si::kJournalHeaderBytes <= bytes.size()) {
      const uint64_t len = si::GetU32(bytes.data() + pos + 4);
      if (len > bytes.size() - pos - si::kJournalHeaderBytes) return;
      put(pos, si::kJournalMagic);
      put(pos + 8, si::Crc32c(std::string_view(bytes).substr(pos + si::kJournalHeaderBytes, len)));
      put(pos + 12, si::Crc32c(std::string_view(bytes).substr(pos, 12)));
      pos += si::kJournalHeaderBytes + len;
    }
    return;
  }
  while (pos + si::kBlockHeaderBytes <= bytes.size()) {
    const uint64_t meta = si::GetU32(bytes.data() + pos + 4);
    const uint64_t bloom = si::GetU32(bytes.data() + pos + 8);
    const uint64_t body = si::GetU32(bytes.data() + pos + 12);
    const uint64_t start = pos + si::kBlockHeaderBytes;
    if (meta + bloom + body > bytes.size() - start) return;
    const std::string_view b(bytes);
    put(pos, si::kBlockMagic);
    put(pos + 16, si::Crc32c(b.substr(start, meta)));
    put(pos + 20, si::Crc32c(b.substr(start + meta, bloom)));
    put(pos + 24, si::Crc32c(b.substr(start + meta + bloom, body)));
    put(pos + 28, si::Crc32c(b.substr(pos, 28)));
    pos = start + meta + bloom + body;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const Template& tpl = MakeTemplate();
  const fs::path dir = fs::temp_directory_path() / ("soc_store_fuzz_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(tpl.dir, dir, fs::copy_options::recursive);
  const Kind kind = data[0] % 2 ? Kind::kJournal : data[0] & 4 ? Kind::kIndex : Kind::kBlocks;
  const fs::path target = dir / (kind == Kind::kJournal ? tpl.journal_rel
                                 : kind == Kind::kIndex ? tpl.index_rel
                                 : data[0] & 2          ? tpl.compacted_rel
                                                        : tpl.block_rel);
  const std::string bytes(reinterpret_cast<const char*>(data) + 4, size - 4);
  if (data[1] % 2 == 0) {
    std::ofstream(target, std::ios::binary | std::ios::trunc) << bytes;
  } else {
    std::fstream f(target, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(data[2] * 16 + data[3]);
    f << bytes;
  }
  if (data[1] & 2) {
    std::string file;
    {
      std::ifstream in(target, std::ios::binary);
      file.assign(std::istreambuf_iterator<char>(in), {});
    }
    FixChecksums(file, kind);
    std::ofstream(target, std::ios::binary | std::ios::trunc) << file;
  }
  {
    auto store = OpenEmbeddedStore(Options(dir));
    if (store) {
      auto& s = **store;
      for (const char* q :
           {"*", "source.ip:10.0.0.3", "record", "tenant.id:t1 OR 7", "message:absent"}) {
        SearchOptions opts;
        opts.limit = 100;
        uint64_t n = 0;
        (void)s.Search(*ParseQuery(q), opts, [&](const Record& r) {
          if (r.raw.size() > kMaxRawBytes) std::abort();
          return ++n < 50;
        });
      }
      const std::vector<uint64_t> seqs = {1, 5, 11, 12, 1u << 30};
      (void)s.GetBySeq(seqs);
      (void)s.Verify();
      (void)s.LoadCheckpoints();
      std::vector<Record> batch = {Rec(20)};
      (void)s.Append(batch, {});
      (void)s.Stats();
    }
  }
  fs::remove_all(dir);
  return 0;
}
