#pragma once
// The SOC's log store (R18: keep every log >= 5 years, compressed; R19: events stored as logs).
// LogStore is the interface ingest, detection, alerts and the console use; the embedded
// implementation (store_embedded.cc, format in store_internal.h) keeps time-partitioned,
// compressed, checksummed block files in one directory. A ClickHouse backend can implement the
// same interface later.
//
// Records are stored as the inputs of Normalize (raw, format, received_ms, source, peer, tenant,
// truncated, seq, time_ms); fields are rebuilt with the injected Normalizer when read.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "soc/query.h"
#include "soc/record.h"

namespace seccloud::soc {

// Rebuilds record.fields (and parsed) from format, raw, received_ms, source, peer, tenant and
// time_ms; soc/parse.h's Normalize in production. Must be deterministic and thread-safe.
using Normalizer = std::function<void(Record&)>;

// An ingest position (a file offset, a journal cursor), opaque to the store, committed
// atomically with the batch it belongs to.
struct Checkpoint {
  std::string key;
  std::string value;
};

// A record's place in the store's search order: (time_ms, seq) is unique, since seq is.
struct SearchCursor {
  int64_t time_ms = 0;
  uint64_t seq = 0;
  friend bool operator==(const SearchCursor&, const SearchCursor&) = default;
};

struct SearchOptions {
  int64_t since_ms = INT64_MIN, until_ms = INT64_MAX;  // [since, until) on Record::time_ms
  size_t limit = 1000;                                 // at most this many records delivered
  bool newest_first = false;         // default oldest first; results are in time order either way
  std::vector<std::string> tenants;  // non-empty: only records of these tenant ids
  // Set: only records strictly after this place in the answer's order (later (time, seq) when
  // oldest first, earlier when newest first): the cursor of the last record a previous page
  // delivered resumes exactly after it, however many records share its millisecond.
  std::optional<SearchCursor> after;
  // Non-null: consulted before every block (and Bloom probe) the scan reads; once true the search
  // stops, delivers nothing more and returns its stats with cancelled set. Must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

struct SearchStats {
  uint64_t blocks_total = 0;      // blocks (and in-memory open blocks) in the store
  uint64_t blocks_read = 0;       // blocks decompressed (after time, tenant and Bloom pruning)
  uint64_t blocks_ruled_out = 0;  // blocks in the time and tenant range the Bloom filters exclude
  uint64_t blocks_corrupt = 0;    // blocks skipped because a checksum or the decoding failed
  uint64_t records_scanned = 0;   // records normalised and matched
  uint64_t records_rejected_raw = 0;  // records rejected on their raw text, not normalised
  uint64_t records_matched = 0;
  bool truncated = false;             // the limit (or the sink) stopped the search early
  bool cancelled = false;             // options.cancel stopped it (truncated is set too)
  std::vector<std::string> problems;  // "file at offset N: what", at most 16
};

struct VerifyReport {
  uint64_t files = 0, blocks = 0, records = 0;
  std::vector<std::string> problems;  // "path at offset N: what"
};

struct RetentionReport {
  struct Partition {
    std::string data_class;  // "proxy", "system", …
    std::string day;         // "2021-11-25"
    uint64_t records = 0, stored_bytes = 0;
  };
  std::vector<Partition> deleted;
};

struct StoreStats {
  uint64_t records = 0;       // records stored (sealed and in the journal)
  uint64_t raw_bytes = 0;     // sum of their raw sizes
  uint64_t stored_bytes = 0;  // bytes of every block file and journal segment
  uint64_t partitions = 0;
  uint64_t blocks = 0;
  uint64_t open_records = 0;  // records held in memory, durable in the journal, not yet in a block
  uint64_t next_seq = 0;
  // Memory the store keeps to find blocks without reading them (the embedded store: every
  // block's meta — time and seq ranges, tenant, dataset and source sets), in bytes.
  uint64_t index_memory_bytes = 0;
};

// What a backend computes per record right after Normalize, while the record's text and fields
// are still in the CPU's caches (LogStore::Prepare), for AppendPrepared to use instead of walking
// the records again a batch later, cold. For the embedded store: the token index's hashes, and
// each record's journal bytes (its metadata and raw text, which AppendPrepared writes to the
// journal and files into the open blocks). One per batch; the records in the batch's order.
// Opaque to callers.
struct PreparedBatch {
  std::vector<uint64_t> hashes;       // every prepared record's values, concatenated
  std::vector<uint32_t> ends;         // record i's are hashes[ends[i - 1], ends[i]) (ends[-1] = 0)
  std::vector<std::string> datasets;  // event.dataset values (a batch has few distinct ones)
  std::vector<uint32_t> dataset_of;   // record i's is datasets[dataset_of[i]]
  std::string records;                // every prepared record's bytes, concatenated
  std::vector<uint32_t> record_ends;  // record i's are records[record_ends[i - 1], record_ends[i])
  // Records Prepare saw without fields (indices, increasing): AppendPrepared normalises them and
  // indexes them afresh, however they look when it runs (a retried Append finds them normalised
  // by the attempt that failed).
  std::vector<uint32_t> without_fields;
  void clear() {
    hashes.clear();
    ends.clear();
    datasets.clear();
    dataset_of.clear();
    records.clear();
    record_ends.clear();
    without_fields.clear();
  }
  // Appends a later batch's (its records after this one's).
  void Append(PreparedBatch&& later) {
    const auto base = static_cast<uint32_t>(hashes.size());
    const auto dataset_base = static_cast<uint32_t>(datasets.size());
    const auto record_base = static_cast<uint32_t>(records.size());
    hashes.insert(hashes.end(), later.hashes.begin(), later.hashes.end());
    for (const uint32_t end : later.ends) ends.push_back(base + end);
    for (std::string& d : later.datasets) datasets.push_back(std::move(d));
    for (const uint32_t d : later.dataset_of) dataset_of.push_back(dataset_base + d);
    const auto record_count = static_cast<uint32_t>(ends.size() - later.ends.size());
    for (const uint32_t i : later.without_fields) without_fields.push_back(record_count + i);
    if (records.empty()) {
      records = std::move(later.records);
    } else {
      records.append(later.records);
      std::string().swap(later.records);  // not two copies of a group's bytes at once
    }
    for (const uint32_t end : later.record_ends) record_ends.push_back(record_base + end);
  }
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  // Optional per-record step between Normalize and Append: appends record's part to *out. Call
  // it right after normalising each record (then Append's indexing finds nothing cold), once
  // per record, in the batch's order, and hand the batch to AppendPrepared. Stateless, and
  // thread-safe for distinct records (a parse thread may call it): it may build the fields tree of
  // a record whose fields are still pending (`Record::fields()`), which changes that record, so
  // two threads must not prepare, or read, the same record at once. The default prepares nothing.
  virtual void Prepare(const Record& record, PreparedBatch* out) const {
    (void)record;
    out->ends.push_back(static_cast<uint32_t>(out->hashes.size()));
  }

  // Append (same contract) with prepared: what Prepare made of records, in order
  // (prepared.ends.size() == records.size(), else kInvalidArgument and nothing is stored). A
  // record that reached Prepare without fields is normalised and indexed here. The records must
  // not change between Prepare and AppendPrepared: a backend may store what Prepare took of them
  // (the embedded store does, and refuses a batch whose records' metadata or lengths differ from
  // it — a change that keeps every length is not noticed).
  virtual Status AppendPrepared(std::span<Record> records, std::span<const Checkpoint> checkpoints,
                                const PreparedBatch& prepared) {
    if (prepared.ends.size() != records.size()) {
      return MakeError(Errc::kInvalidArgument, "the prepared batch does not match the records");
    }
    return Append(records, checkpoints);
  }

  // Assigns each record's seq, and returns only once the records and the checkpoints are durable
  // (fdatasync'd) and atomic together: after a crash at any moment either the whole batch and its
  // checkpoints are there, or none of it. Records without fields are normalised first; the fields
  // given are used for the token index. One appender thread at a time (Append, Flush, Compact and
  // EnforceRetention are the writer's calls and serialise with each other).
  virtual Status Append(std::span<Record> records, std::span<const Checkpoint> checkpoints) = 0;

  // The checkpoints of every committed batch, the latest value per key.
  virtual Result<std::map<std::string, std::string>> LoadCheckpoints() = 0;

  // Streams matching records (fields rebuilt) to sink in time order (ties by seq); sink returns
  // false to stop; options.after resumes after a cursor, options.cancel stops the scan between
  // blocks. Pruning: partitions and blocks by time range and tenant set, blocks by their
  // Bloom filters over the query's required tokens, and (in Compact()ed blocks) records by
  // their raw text before they are normalised. Safe to call from other threads while Append runs;
  // sees every batch whose Append returned before it started. Memory: at most min(limit, matches in
  // blocks whose time ranges overlap) records are buffered for the sort. A corrupt block is skipped
  // and reported in the stats; an error is returned only when the store cannot be read at all.
  virtual Result<SearchStats> Search(const Query& query, const SearchOptions& options,
                                     const std::function<bool(const Record&)>& sink) = 0;

  // The records with these seqs (fields rebuilt), in the order asked; unknown seqs are left out.
  // At most 100,000 seqs per call.
  virtual Result<std::vector<Record>> GetBySeq(std::span<const uint64_t> seqs) = 0;

  // Recomputes every checksum of every stored file; problems name the file and the offset.
  virtual Result<VerifyReport> Verify() = 0;

  // Deletes whole partitions older than their class's retention; the only deletion.
  virtual Result<RetentionReport> EnforceRetention(int64_t now_ms) = 0;

  virtual StoreStats Stats() = 0;

  // Writes every record held in memory into blocks, syncs them and starts a new journal.
  virtual Status Flush() = 0;

  // Rewrites the partitions of days before `before_ms` (UTC) that hold more than one block or
  // blocks written at the ingest compression level, as large blocks at the archive level
  // (options.archive_level). Search stays available throughout. The recompression runs outside
  // the writer lock, so Append never waits for it: only for sealing the partition's open block
  // and for the swap (blocks sealed meanwhile are carried over, then fdatasync, rename, directory
  // fsync). A crash at any moment leaves the old file or the new one, each whole. Compact and
  // EnforceRetention serialise with each other; either may run beside Append.
  virtual Status Compact(int64_t before_ms) = 0;
};

struct EmbeddedStoreOptions {
  std::filesystem::path directory;
  Normalizer normalize;  // required
  // Retention by data class = the first dot-component of event.dataset ("proxy", "mail", "dns",
  // "ids", "firewall", "system", "windows", "web", "soc", …); days; default for any class 1826
  // (five years). Deletion removes whole partitions older than their class's retention.
  std::map<std::string, int> retention_days;
  int default_retention_days = 1826;

  size_t block_records = 16384;              // an open block is sealed at this many records …
  size_t block_raw_bytes = size_t{4} << 20;  // … or this many raw bytes
  int ingest_level = 1;  // zstd level of ingest blocks (Compact redoes them); 0: stored frames
  int archive_level = 19;                    // zstd level of Compact()ed blocks
  size_t archive_block_records = 65536;      // Compact()ed block size
  size_t archive_block_raw_bytes = size_t{16} << 20;
  uint64_t journal_rotate_bytes = uint64_t{64} << 20;  // seal everything and start a new journal
  double bloom_bits_per_token = 10;                    // ingest blocks: ~1% false positives
  double archive_bloom_bits_per_token = 8;  // Compact()ed blocks: ~2.5%, for a smaller archive
  bool sync = true;  // fdatasync on commit; false only for tests and benchmarks of CPU cost
  // Threads a search decodes its blocks on (results are the same whatever the number): 0, the
  // machine's cores up to 4; 1, the searching thread alone; at most 8. A search holds up to
  // threads + 2 decoded blocks.
  size_t search_threads = 0;
};

Result<std::unique_ptr<LogStore>> OpenEmbeddedStore(EmbeddedStoreOptions options);

}  // namespace seccloud::soc
