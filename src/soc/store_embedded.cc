// The embedded LogStore (store.h): time-partitioned block files and a write-ahead journal in one
// directory. The on-disk format is described in store_internal.h.
//
// Write path (one writer): Append encodes the batch and its checkpoints as one journal entry and
// fdatasyncs it (the commit point), then files each record into its partition's open block in
// memory (searchable at once) and adds its tokens to the block's token set. A full open block is
// sealed: encoded, compressed, appended to the partition file and fdatasync'd. When the journal
// exceeds journal_rotate_bytes, every open block is sealed and a new journal segment starts with a
// snapshot of the checkpoints; the old segments are then deleted.
//
// Recovery: open walks every partition file (torn tails are cut: an incomplete block is simply
// unacknowledged work; a complete block that fails its checksums is moved aside and reported),
// then replays the journal: a record goes back into its partition's open block unless the
// partition's sealed blocks already hold its seq (a partition's blocks always hold a prefix, in
// seq order, of the records filed into it). Then it seals everything and starts a new segment.
//
// Concurrency: writer_mu_ serialises the writer calls; state_mu_ guards what Search reads
// (the partition map, each partition's block list and open records, the checkpoints). Searches
// take a snapshot under a shared lock and read files without it; files are reached through
// shared_ptr so a Compact() rename or a retention unlink never pulls an fd from under a reader.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <tuple>
#include <unordered_set>

#include "soc/index_tape_tokens.h"
#include "soc/index_tokens.h"
#include "soc/ordered_pipeline.h"
#include "soc/query_internal.h"
#include "soc/store.h"
#include "soc/store_internal.h"
#include "soc/store_partition_index.h"

namespace seccloud::soc {
namespace {

using namespace store_internal;
namespace fs = std::filesystem;

constexpr int64_t kDayMs = 86'400'000;
constexpr size_t kMaxBatchRecords = 1'000'000;
constexpr size_t kMaxBatchBytes = size_t{512} << 20;
constexpr size_t kMaxMetaStringBytes = 4096;
constexpr size_t kMaxCheckpoints = 10'000;
constexpr size_t kMaxCheckpointValueBytes = 64 << 10;
constexpr size_t kMaxGetBySeq = 100'000;
constexpr size_t kMaxReportedProblems = 16;
// A search decodes its candidate blocks on up to this many threads (the machine's cores if
// fewer; EmbeddedStoreOptions::search_threads), one block more than threads ahead of the merge:
// memory stays a few blocks.
constexpr size_t kSearchThreads = 4;
// EmbeddedStoreOptions::search_threads is cut to it: a search holds up to threads + 2 decoded
// blocks (the window, the one being merged), ~45 MB each for an archive block of a `*` search.
constexpr size_t kMaxSearchThreads = 8;
// What a search asks the kernel to read ahead of the blocks its token index kept.
constexpr uint64_t kSearchReadAheadBytes = uint64_t{64} << 20;
constexpr size_t kMaxDatasetBytes = 128;
// Ingest Bloom filters are built at this many 64-byte lines and folded to size when sealed:
// 64 KiB, room for ~52,000 distinct tokens at 10 bits each. Small enough to stay in L2 while
// records arrive (a 256 KiB start cost a cache miss per insert); Append seals a block the
// moment its filter is full, record by record, so a block never holds more tokens than its
// filter was sized for (+ one record's).
constexpr size_t kIngestBloomLines = 1024;
constexpr size_t kArchiveBloomLines = 32768;
constexpr uint64_t kBloomCheckEvery = 1024;  // Compact: records between fill checks
// Partition days are clamped to years 0000-9999 so every day has a file name.
constexpr int64_t kMinTimeMs = -62'167'219'200'000;  // 0000-01-01
constexpr int64_t kMaxTimeMs = 253'402'300'799'999;  // 9999-12-31T23:59:59.999

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t DayOf(int64_t time_ms) {
  return FloorDiv(std::clamp(time_ms, kMinTimeMs, kMaxTimeMs), kDayMs);
}
std::string DayName(int64_t day) { return FormatTimeMs(day * kDayMs).substr(0, 10); }
bool ParseDayName(std::string_view name, int64_t* day) {
  if (name.size() != 10) return false;
  int64_t ms;
  if (!ParseRfc3339Ms(std::string(name) + "T00:00:00.000Z", &ms)) return false;
  *day = FloorDiv(ms, kDayMs);
  return DayName(*day) == name;
}

bool IsClassName(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string_view DatasetOf(const Record& r) {
  const auto* v = FindField(r.fields(), "event.dataset");
  if (v == nullptr || !v->is_string()) return {};
  const std::string_view s(v->get_string());
  return s.size() <= kMaxDatasetBytes ? s : std::string_view();
}

// The index's token visitor for index_tokens::RecordTokens(raw, ...): appends each token's
// TokenHash to *out (inlined; the tokenizer's words hash with whole-word loads, field values
// lowered and hashed in one pass). The hashes go into a Bloom filter, a set: a text field found
// in raw with word boundaries (a syslog message) is not tokenized again — its tokens are raw's.
struct AppendTokenHashes {
  std::vector<uint64_t>* out;
  std::string_view raw;  // the record's, whose text tokens RecordTokens emits first
  void operator()(std::string_view t) const { out->push_back(TokenHash(t)); }
  void Padded(const char* p, size_t n) const { out->push_back(TokenHashPadded(p, n)); }
  void Lowered(std::string_view s) const { out->push_back(index_tokens::LoweredTokenHash(s)); }
  bool HasTextTokensOf(std::string_view text) const {
    return index_tokens::TextTokensWithin(raw, text);
  }
};

// The raw text's token visitor: TextTokens' hashes written into a buffer with room for all of
// them (AppendRecordTokenHashes), one store each instead of a vector's capacity check through a
// pointer.
struct WriteTokenHashes {
  uint64_t* next;
  void operator()(std::string_view t) { *next++ = TokenHash(t); }
  void Padded(const char* p, size_t n) { *next++ = TokenHashPadded(p, n); }
};

// TextTokens(text)'s hashes written from buf on (room for text.size() + 1); returns their end.
// Out of line: inlined into AppendRecordTokenHashes, beside the field walks, the word loop kept
// its scan state, the write pointer and the masks' bases in stack slots (a load and a store a
// word); alone it keeps the pending state and the write pointer in registers (`have` and the
// masks' bases still spill: src/soc/README.md "prep19"). The gain (−3.8 M instructions over the
// bench set, no time effect measurable) depends on GCC emitting TextTokens on its own.
[[gnu::noinline]] uint64_t* WriteTextTokenHashes(std::string_view text, uint64_t* buf) {
  WriteTokenHashes write{buf};
  index_tokens::TextTokens(text, write);
  return write.next;
}

// Appends RecordTokens(r.raw, r.fields)'s token hashes to *out: the raw text's first (into a
// buffer, then appended whole), then the fields'. A record whose fields are pending (a kept field
// tape) has its field tokens taken from the tape and the metadata Normalize set
// (index_tape_tokens.h) without building the tree: the same multiset of hashes in another order,
// which the Bloom filter (a set, checked for fullness between records) cannot tell apart.
void AppendRecordTokenHashes(const Record& r, std::vector<uint64_t>* out) {
  // TextTokens emits at most two tokens per word (the word, and a dotted quad ending at it),
  // and a word with the byte that ends it takes two bytes or more (the last word: one or more).
  const size_t max_tokens = r.raw.size() + 1;
  constexpr size_t kStackTokens = 1024;
  uint64_t stack[kStackTokens];
  std::unique_ptr<uint64_t[]> heap;
  uint64_t* buf = stack;
  if (max_tokens > kStackTokens) {
    heap = std::make_unique_for_overwrite<uint64_t[]>(max_tokens);
    buf = heap.get();
  }
  out->insert(out->end(), buf, WriteTextTokenHashes(r.raw, buf));
  AppendTokenHashes add{out, r.raw};
  if (const PendingFields* p = r.pending_fields(); p != nullptr) {
    const size_t at = out->size();
    if (index_tokens::PendingFieldTokens(*p, add)) return;
    out->resize(at);  // a shape the tape walk leaves to the tree
  }
  index_tokens::ObjectTokens(r.fields(), "", 0, add);
}

std::string ClassOf(std::string_view dataset) {
  std::string cls = LowerAsciiCopy(dataset.substr(0, dataset.find('.')));
  return IsClassName(cls) ? cls : "other";
}

// ClassOf(dataset) without a string: lowered into *buf (a class name is at most 32 bytes).
std::string_view ClassOf(std::string_view dataset, char (*buf)[32]) {
  const std::string_view head = dataset.substr(0, dataset.find('.'));
  if (head.empty() || head.size() > sizeof *buf) return "other";
  for (size_t i = 0; i < head.size(); ++i) (*buf)[i] = LowerAscii(head[i]);
  const std::string_view cls(*buf, head.size());
  return IsClassName(cls) ? cls : "other";
}

// Writes the pieces one after another from offset, with as few pwritev calls as the kernel
// allows (one, unless it writes short): a block's header, meta, Bloom filter and frames, or a
// journal entry's head, prepared records and tail, each from where it already is.
Status WriteFullV(int fd, uint64_t offset, std::span<const std::string_view> pieces,
                  const fs::path& path) {
  constexpr size_t kMaxPieces = 8;
  if (pieces.size() > kMaxPieces) return MakeError(Errc::kInternal, "too many pieces to write");
  std::array<iovec, kMaxPieces> iov;
  size_t n = 0;
  for (const std::string_view piece : pieces) {
    if (!piece.empty()) iov[n++] = {const_cast<char*>(piece.data()), piece.size()};
  }
  size_t first = 0;
  while (first < n) {
    const ssize_t got =
        ::pwritev(fd, iov.data() + first, static_cast<int>(n - first), static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("writing " + path.string(), errno);
    }
    if (got == 0) return MakeError(Errc::kIo, "writing " + path.string() + ": nothing written");
    offset += static_cast<uint64_t>(got);
    for (size_t left = static_cast<size_t>(got); left > 0;) {
      const size_t take = std::min(left, iov[first].iov_len);
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
      iov[first].iov_len -= take;
      left -= take;
      if (iov[first].iov_len == 0) ++first;
    }
  }
  return {};
}

// One piece: WriteFullV's loop (a write of nothing is an error, not a loop without end).
Status WriteFull(int fd, uint64_t offset, std::string_view data, const fs::path& path) {
  return WriteFullV(fd, offset, std::span<const std::string_view>(&data, 1), path);
}

// Asks the kernel to start reading [offset, offset + len) into the page cache and returns at
// once: a search hints all the small index reads of a pass first, so a cold disk serves them at
// depth rather than one after another. Only a hint: errors show on the read that follows.
void ReadAhead(int fd, uint64_t offset, uint64_t len) {
  if (len > 0) {
    (void)::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(len),
                          POSIX_FADV_WILLNEED);
  }
}

// Reads exactly len bytes; a short file is an error (kInvalidArgument: the data is not there).
Status ReadFull(int fd, uint64_t offset, size_t len, std::string* out, const fs::path& path) {
  out->resize(len);
  size_t done = 0;
  while (done < len) {
    const ssize_t n =
        ::pread(fd, out->data() + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("reading " + path.string(), errno);
    }
    if (n == 0) {
      return MakeError(Errc::kInvalidArgument,
                       path.string() + " at offset " + std::to_string(offset) + ": cut short");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Status SyncFd(int fd, const fs::path& path, bool sync) {
  if (sync && ::fdatasync(fd) != 0) return ErrnoError("fdatasync " + path.string(), errno);
  return {};
}

Status SyncDir(const fs::path& dir, bool sync) {
  if (!sync) return {};
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("opening " + dir.string(), errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync " + dir.string(), err);
  return {};
}

struct File {
  File(int fd, fs::path path) : fd(fd), path(std::move(path)) {}
  ~File() {
    if (fd >= 0) ::close(fd);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  int fd;
  fs::path path;
};

Result<std::shared_ptr<File>> OpenFile(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("opening " + path.string(), errno);
  return std::make_shared<File>(fd, path);
}

Result<uint64_t> FileSize(int fd, const fs::path& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError("stat " + path.string(), errno);
  return static_cast<uint64_t>(st.st_size);
}

// data/<class>/<day>.idx, the partition index of data/<class>/<day>.blk.
fs::path IndexPathOf(const fs::path& partition) {
  return fs::path(partition).replace_extension(".idx");
}

std::string At(const fs::path& path, uint64_t offset, std::string_view what) {
  return path.string() + " at offset " + std::to_string(offset) + ": " + std::string(what);
}

// Reads and checks the block at pos. full: also the Bloom filter's and the body's checksums and
// the body's decoding. Returns false with *why; *incomplete when the block runs past end.
// *newer (when given): the block's meta is intact but written by a newer format version.
bool ReadBlockAt(const File& f, uint64_t pos, uint64_t end, bool full, BlockMeta* meta,
                 std::string* why, bool* incomplete, std::vector<Record>* records = nullptr,
                 bool* newer = nullptr) {
  *incomplete = false;
  if (newer != nullptr) *newer = false;
  if (end - pos < kBlockHeaderBytes) {
    *incomplete = true;
    *why = "a block header cut short";
    return false;
  }
  std::string buf;
  if (auto s = ReadFull(f.fd, pos, kBlockHeaderBytes, &buf, f.path); !s) {
    *why = s.error().message;
    return false;
  }
  BlockMeta m;
  if (!ParseBlockHeader(buf, &m, why)) return false;
  m.offset = pos;
  if (m.end() > end) {
    *incomplete = true;
    *why = "a block running past the end of the file";
    return false;
  }
  if (auto s = ReadFull(f.fd, pos + kBlockHeaderBytes, m.meta_len, &buf, f.path); !s) {
    *why = s.error().message;
    return false;
  }
  if (!ParseBlockMeta(buf, &m, why)) {
    if (newer != nullptr) *newer = m.version > kBlockVersion;
    return false;
  }
  if (full) {
    if (auto s = ReadFull(f.fd, m.bloom_offset(), m.bloom_len, &buf, f.path); !s) {
      *why = s.error().message;
      return false;
    }
    if (Crc32c(buf) != m.bloom_crc) {
      *why = "Bloom filter checksum mismatch";
      return false;
    }
    if (m.bloom_k == 0 && !CheckTokenSet(buf, m, why)) return false;
    if (auto s = ReadFull(f.fd, m.body_offset(), m.body_len, &buf, f.path); !s) {
      *why = s.error().message;
      return false;
    }
    std::vector<Record> decoded;
    if (!DecodeBlockBody(buf, m, records != nullptr ? records : &decoded, why)) return false;
  }
  *meta = std::move(m);
  return true;
}

// Whether the block's Bloom filter (token set) and body match the checksums in its header: what
// a torn write breaks. Reads in 1 MiB pieces and decodes nothing, so Open() checks a partition's
// last block for the price of reading it (Verify() decodes every block whole).
bool BlockChecksumsHold(const File& f, const BlockMeta& m, std::string* why) {
  std::string buf;
  for (const auto& [at, len, crc, what] :
       {std::tuple{m.bloom_offset(), uint64_t{m.bloom_len}, m.bloom_crc, "Bloom filter"},
        std::tuple{m.body_offset(), uint64_t{m.body_len}, m.body_crc, "body"}}) {
    uint32_t c = 0;
    for (uint64_t done = 0; done < len;) {
      const size_t piece = static_cast<size_t>(std::min<uint64_t>(len - done, 1 << 20));
      if (auto s = ReadFull(f.fd, at + done, piece, &buf, f.path); !s) {
        *why = s.error().message;
        return false;
      }
      c = Crc32c(buf, c);
      done += piece;
    }
    if (c != crc) {
      *why = std::string(what) + " checksum mismatch";
      return false;
    }
  }
  return true;
}

// Reads and decodes a partition index file. False with *why empty when there is none or a newer
// build wrote it, with *why saying what when it is damaged or cannot be read.
bool ReadPartitionIndexFile(const fs::path& path, PartitionIndex* out, std::string* why) {
  why->clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) *why = std::strerror(errno);
    return false;
  }
  const File f(fd, path);
  auto size = FileSize(fd, path);
  if (!size) {
    *why = size.error().message;
    return false;
  }
  if (*size > kMaxPartitionIndexBytes) {
    *why = "partition index too large";
    return false;
  }
  std::string bytes;
  if (auto s = ReadFull(fd, 0, static_cast<size_t>(*size), &bytes, path); !s) {
    *why = s.error().message;
    return false;
  }
  bool newer;
  if (DecodePartitionIndex(bytes, out, why, &newer)) return true;
  if (newer) why->clear();  // this build scans the partition file instead
  return false;
}

// Verify()'s check of a partition's index: "" when it is absent, written by a newer build, or
// whole and (compare: the scan found the file whole) listing a prefix of the scanned blocks.
std::string CheckPartitionIndex(const File& data, uint64_t data_start, bool compare,
                                const std::vector<BlockMeta>& scanned) {
  const fs::path path = IndexPathOf(data.path);
  PartitionIndex idx;
  std::string why;
  if (!ReadPartitionIndexFile(path, &idx, &why)) return why.empty() ? "" : At(path, 0, why);
  if (!compare) return "";
  bool same = idx.data_start == data_start && idx.metas.size() <= scanned.size();
  for (size_t i = 0; same && i < idx.metas.size(); ++i) {
    const BlockMeta &a = idx.metas[i], &b = scanned[i];
    same = a.offset == b.offset && a.meta_crc == b.meta_crc && a.bloom_crc == b.bloom_crc &&
           a.body_crc == b.body_crc && a.end() == b.end();
  }
  return same ? ""
              : At(path, 0,
                   "partition index does not list the blocks of " + data.path.filename().string() +
                       " (open reads the file)");
}

// Walks the blocks of a file from start up to end. A bad stretch followed by a good block is
// skipped and reported; a bad stretch running to the end is the tail: *tail is its offset (else
// end), and *tail_incomplete says whether it is only an unfinished write. A block written by a
// newer format version stops the walk: *newer says where and what (and nothing is a tail).
void ScanBlocks(const File& f, uint64_t start, uint64_t end, bool full,
                std::vector<BlockMeta>* metas, std::vector<std::string>* problems, uint64_t* tail,
                bool* tail_incomplete, std::string* newer = nullptr) {
  uint64_t pos = start;
  *tail = end;
  *tail_incomplete = false;
  while (pos < end) {
    BlockMeta m;
    std::string why;
    bool incomplete, is_newer;
    if (ReadBlockAt(f, pos, end, full, &m, &why, &incomplete, nullptr, &is_newer)) {
      pos = m.end();
      metas->push_back(std::move(m));
      continue;
    }
    if (is_newer) {
      if (newer != nullptr) *newer = At(f.path, pos, why);
      problems->push_back(At(f.path, pos, why));
      return;
    }
    // Resynchronise on the next position that holds a whole, valid block.
    uint64_t next = end;
    std::string chunk;
    for (uint64_t base = pos + 1; base + 4 <= end && next == end;) {
      const size_t len = static_cast<size_t>(std::min<uint64_t>(end - base, 1 << 20));
      if (!ReadFull(f.fd, base, len, &chunk, f.path)) break;
      for (size_t i = 0; i + 4 <= len; ++i) {
        if (GetU32(chunk.data() + i) != kBlockMagic) continue;
        BlockMeta probe;
        std::string probe_why;
        bool probe_incomplete;
        if (ReadBlockAt(f, base + i, end, true, &probe, &probe_why, &probe_incomplete)) {
          next = base + i;
          break;
        }
      }
      if (len < 4) break;
      base += len - 3;
    }
    if (next == end) {
      *tail = pos;
      *tail_incomplete = incomplete;
      if (!incomplete) problems->push_back(At(f.path, pos, why + " (to the end of the file)"));
      return;
    }
    problems->push_back(
        At(f.path, pos,
           why + "; " + std::to_string(next - pos) + " bytes up to the next good block skipped"));
    pos = next;
  }
}

// Moves the bytes [tail, size) of a file aside into <path>.torn-<tail> and cuts the file there.
Status CutTail(const File& f, uint64_t tail, uint64_t size, bool keep_copy, bool sync) {
  if (keep_copy && size > tail) {
    std::string bytes;
    RETURN_IF_ERROR(ReadFull(f.fd, tail, static_cast<size_t>(size - tail), &bytes, f.path));
    const fs::path aside = f.path.string() + ".torn-" + std::to_string(tail);
    ASSIGN_OR_RETURN(auto out, OpenFile(aside, O_WRONLY | O_CREAT | O_TRUNC));
    RETURN_IF_ERROR(WriteFull(out->fd, 0, bytes, aside));
    RETURN_IF_ERROR(SyncFd(out->fd, aside, sync));
  }
  if (::ftruncate(f.fd, static_cast<off_t>(tail)) != 0) {
    return ErrnoError("truncating " + f.path.string(), errno);
  }
  return SyncFd(f.fd, f.path, sync);
}

// The format of a file, from its first bytes.
Result<FileHeaderInfo> InspectFile(const File& f, uint64_t size, FileKind kind) {
  std::string head;
  RETURN_IF_ERROR(ReadFull(f.fd, 0, static_cast<size_t>(std::min<uint64_t>(size, kFileHeaderBytes)),
                           &head, f.path));
  return ReadFileHeader(head, kind);
}

Error NewerFormatError(const fs::path& path, std::string_view what) {
  return MakeError(Errc::kInvalidArgument,
                   path.string() + ": " + std::string(what) +
                       "; this build of seccloud reads log store format versions 1 to " +
                       std::to_string(kFormatVersion) +
                       " (open the store with the newer seccloud that wrote it)");
}

struct JournalEntryView {
  uint64_t offset = 0;
  std::string payload;
};

// Reads the entry at pos; false with *why (and *incomplete when it runs past end).
bool ReadJournalEntry(const File& f, uint64_t pos, uint64_t end, JournalEntryView* out,
                      std::string* why, bool* incomplete) {
  *incomplete = false;
  if (end - pos < kJournalHeaderBytes) {
    *incomplete = true;
    *why = "a journal entry header cut short";
    return false;
  }
  std::string h;
  if (auto s = ReadFull(f.fd, pos, kJournalHeaderBytes, &h, f.path); !s) {
    *why = s.error().message;
    return false;
  }
  if (GetU32(h.data()) != kJournalMagic) {
    *why = "no journal entry magic";
    return false;
  }
  if (Crc32c(std::string_view(h).substr(0, 12)) != GetU32(h.data() + 12)) {
    *why = "journal entry header checksum mismatch";
    return false;
  }
  const uint32_t len = GetU32(h.data() + 4);
  if (len > kMaxJournalPayload) {
    *why = "journal entry length out of range";
    return false;
  }
  if (end - pos - kJournalHeaderBytes < len) {
    *incomplete = true;
    *why = "a journal entry running past the end of the file";
    return false;
  }
  if (auto s = ReadFull(f.fd, pos + kJournalHeaderBytes, len, &out->payload, f.path); !s) {
    *why = s.error().message;
    return false;
  }
  if (Crc32c(out->payload) != GetU32(h.data() + 8)) {
    *why = "journal entry checksum mismatch";
    return false;
  }
  out->offset = pos;
  return true;
}

// An open block's texts: raw texts in chunks that never move (a published SlimRecord views
// them while the writer adds more), and its records' source, peer and tenant values, each once
// (an unordered_set's nodes do not move either, even when it rehashes). Writer only; what
// published records view is read under state_mu_ (shared), and is released only after they are
// cleared under it (Seal).
class OpenTexts {
 public:
  std::string_view Raw(std::string_view raw) {
    if (raw.empty()) return kEmpty;  // never a null data(): EncodeBlock memcpy's from it
    if (raw.size() > left_) {
      // Chunks grow from kFirstChunkBytes to kChunkBytes, each as large as all before it: an
      // open block of a few records (a partition per record: hostile timestamps) holds a few
      // KiB, not 64, and at most about half of what a block holds is unused. A text larger than
      // the next chunk gets one of its own size.
      const size_t size =
          std::max(raw.size(), std::clamp(allocated_, kFirstChunkBytes, kChunkBytes));
      chunks_.push_back(std::make_unique_for_overwrite<char[]>(size));
      allocated_ += size;
      at_ = chunks_.back().get();
      left_ = size;
    }
    char* const copy = at_;
    std::memcpy(copy, raw.data(), raw.size());
    at_ += raw.size();
    left_ -= raw.size();
    return {copy, raw.size()};
  }
  // v as a view of the set's copy; *last: the value this field had in the record before (most
  // records repeat it), updated.
  std::string_view Value(std::string_view v, std::string_view* last) {
    if (v.empty()) return kEmpty;  // *last may be a null view
    if (v == *last) return *last;
    auto it = values_.find(v);
    if (it == values_.end()) it = values_.emplace(v).first;
    *last = *it;
    return *last;
  }
  // Forgets everything (the records viewing it are gone). `release`: gives the memory back too
  // (a sealed block that is not refilled at once: a partition of a past day keeps no bucket
  // array or chunk table of its largest block).
  void Clear(bool release) {
    chunks_.clear();
    allocated_ = 0;
    at_ = nullptr;
    left_ = 0;
    values_.clear();
    if (release) {
      decltype(chunks_)().swap(chunks_);
      decltype(values_)().swap(values_);
    }
  }

 private:
  static constexpr size_t kFirstChunkBytes = size_t{2} << 10, kChunkBytes = size_t{64} << 10;
  static constexpr std::string_view kEmpty{""};
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t allocated_ = 0;  // the chunks' bytes
  char* at_ = nullptr;
  size_t left_ = 0;
  // Hashed (sources interleave, and so do tenants: a tree's string comparisons cost more).
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
  };
  std::unordered_set<std::string, Hash, std::equal_to<>> values_;
};

struct OpenBlock {
  std::vector<SlimRecord> records;  // guarded by state_mu_; views into texts
  // Filed by the Append in progress, not yet in records (published under state_mu_ once per
  // batch, or before a seal).
  std::vector<SlimRecord> pending;
  OpenTexts texts;                                       // writer only, from here down
  std::string_view last_source, last_peer, last_tenant;  // into texts: the record filed last
  uint64_t raw_bytes = 0;
  std::unique_ptr<BloomBuilder> bloom;
  std::set<std::string, std::less<>> datasets;
  std::string last_dataset;  // of the record filed last: most records repeat it
};

struct Partition {
  std::string data_class;
  int64_t day = 0;
  fs::path path;
  // Guarded by state_mu_ (replaced, never modified in place, so a snapshot can keep them).
  std::shared_ptr<File> file;
  std::shared_ptr<const std::vector<BlockMeta>> blocks =
      std::make_shared<const std::vector<BlockMeta>>();
  uint64_t end = 0;             // where the next block goes
  uint64_t sealed_max_seq = 0;  // the largest seq in a block
  OpenBlock open;
};

struct Candidate {
  std::shared_ptr<File> file;
  std::shared_ptr<const std::vector<BlockMeta>> keep;
  const BlockMeta* meta = nullptr;  // null: the in-memory records
  int64_t min_time = 0, max_time = 0;
  // Search: bit i set when required token i is held by no record of the block outside its raw
  // text and metadata (a version 7 token set without its FieldOnlyTokenHash).
  uint64_t raw_only = 0;
};

struct Key {
  int64_t time;
  uint64_t seq;
};
// A candidate block as a search's pipeline hands it over: each record inside the time range,
// the tenants and past the cursor, in block order, by key, and the records that passed the raw
// text check (the others are only counted, and only when the limit has not cut them off).
struct PrefilteredBlock {
  static constexpr uint32_t kRejected = UINT32_MAX;  // rejected on its raw text
  struct Entry {
    Key key;
    uint32_t kept;  // index into kept, or kRejected
  };
  bool ok = true;          // false: the block could not be read or decoded (why)
  bool cancelled = false;  // the search's cancel flag was seen set: the rest is not there
  std::string why;
  std::vector<Entry> entries;
  std::vector<Record> kept;
};

struct KeyOrder {
  bool newest_first;
  bool operator()(const Key& a, const Key& b) const {
    if (a.time != b.time) return newest_first ? a.time > b.time : a.time < b.time;
    return newest_first ? a.seq > b.seq : a.seq < b.seq;
  }
};

class EmbeddedStore final : public LogStore {
 public:
  explicit EmbeddedStore(EmbeddedStoreOptions options) : options_(std::move(options)) {}
  ~EmbeddedStore() override {
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  Status Open();

  Status Append(std::span<Record> records, std::span<const Checkpoint> checkpoints) override {
    return AppendBatch(records, checkpoints, nullptr);
  }
  // What Append would look up in the record's fields a batch later (its token hashes and its
  // event.dataset), taken while they are hot.
  void Prepare(const Record& record, PreparedBatch* out) const override;
  Status AppendPrepared(std::span<Record> records, std::span<const Checkpoint> checkpoints,
                        const PreparedBatch& prepared) override {
    return AppendBatch(records, checkpoints, &prepared);
  }
  Result<std::map<std::string, std::string>> LoadCheckpoints() override {
    std::shared_lock lock(state_mu_);
    return checkpoints_;
  }
  Result<SearchStats> Search(const Query& query, const SearchOptions& options,
                             const std::function<bool(const Record&)>& sink) override;
  Result<std::vector<Record>> GetBySeq(std::span<const uint64_t> seqs) override;
  Result<VerifyReport> Verify() override;
  Result<RetentionReport> EnforceRetention(int64_t now_ms) override;
  StoreStats Stats() override;
  Status Flush() override {
    std::lock_guard writer(writer_mu_);
    if (!failed_) return failed_;
    // A failed seal has finished (emptied) its open block's Bloom filter: a later seal of that
    // block would miss the earlier records' tokens. Sticky, as in AppendBatch: the store refuses
    // until it is reopened, and the journal's replay rebuilds the open blocks whole.
    if (auto s = Rotate(); !s) failed_ = s.error();
    return failed_;
  }
  Status Compact(int64_t before_ms) override;

 private:
  fs::path DataDir() const { return options_.directory / "data"; }
  fs::path JournalDir() const { return options_.directory / "journal"; }
  fs::path SegmentPath(uint64_t n) const {
    char name[32];
    std::snprintf(name, sizeof name, "%016llx.wal", static_cast<unsigned long long>(n));
    return JournalDir() / name;
  }

  Partition* GetPartition(const std::string& cls, int64_t day);  // writer, takes state_mu_
  // Refuses a store holding any file a newer format version wrote, before anything is changed.
  Status CheckFormatVersions();
  Status LoadPartitionFile(const std::string& cls, int64_t day, const fs::path& path);
  // Reads data's partition index into *metas when it exists and matches the file (size bytes,
  // blocks from data_start); returns where the blocks it does not list begin. A damaged index
  // is reported in open_problems_ (and then rewritten by the caller).
  uint64_t LoadPartitionIndex(const File& data, uint64_t size, uint64_t data_start,
                              std::vector<BlockMeta>* metas);
  // Writes the index of data's blocks (metas, contiguous from data_start, durable) beside it:
  // <day>.idx.tmp, fdatasync, rename. The directory is not synced: a lost index costs a scan.
  Status WritePartitionIndex(const File& data, uint64_t data_start,
                             const std::vector<BlockMeta>& metas);
  Status ReplayJournal();
  // prepared: null, or what Prepare made of records (checked here).
  Status AppendBatch(std::span<Record> records, std::span<const Checkpoint> checkpoints,
                     const PreparedBatch* prepared);
  // Files a record (with fields) into its partition's open block: tokens now, the record itself
  // into *staged, to be published under state_mu_.
  // dataset: DatasetOf(r). hashes: the record's token hashes (Prepare), or null to compute them.
  void Index(Partition* p, const Record& r, std::string_view dataset,
             const std::span<const uint64_t>* hashes = nullptr);
  // Whether p's open block (its published and pending records) must be sealed now.
  bool BlockFull(const Partition& p) const {
    const OpenBlock& b = p.open;
    return b.records.size() + b.pending.size() >= options_.block_records ||
           b.raw_bytes >= options_.block_raw_bytes || (b.bloom && b.bloom->Full());
  }
  // Moves p's pending records into its open block; the caller holds state_mu_ exclusively.
  static void MovePending(Partition* p) {
    auto& b = p->open;
    if (b.records.empty()) {
      b.records.swap(b.pending);
    } else {
      b.records.insert(b.records.end(), std::make_move_iterator(b.pending.begin()),
                       std::make_move_iterator(b.pending.end()));
    }
    b.pending.clear();
  }
  void Publish(Partition* p) {
    std::unique_lock lock(state_mu_);
    MovePending(p);
  }
  // Syncs that Seal leaves to its caller: Rotate seals every open block and then syncs each
  // file once and each directory once (a new partition file's class directory and data/),
  // where one Seal per block synced two directories per new file. Each file still gets at most
  // one unsynced block (ScanBlocks relies on it: only a file's last block can be torn), and
  // everything is synced before Rotate deletes the journal that holds those records.
  struct DeferredSyncs {
    std::vector<std::shared_ptr<File>> files;
    std::set<fs::path> dirs;
  };
  // deferred: null, or where to leave the block's syncs (then the caller must Sync() them
  // before anything else is appended to the same files).
  Status Seal(Partition* p, int level, bool busy = false, DeferredSyncs* deferred = nullptr);
  Status Sync(const DeferredSyncs& deferred);
  Status Rotate();
  Status Fail(Error e) {
    failed_ = e;
    return e;
  }
  bool Decode(const Candidate& c, std::vector<Record>* out, std::string* why,
              std::vector<uint8_t>* flags = nullptr) const;
  // A partition's blocks recompressed at the archive level into <path>.tmp (not yet synced).
  struct Rewrite {
    std::shared_ptr<File> file;  // the .tmp file
    std::vector<BlockMeta> metas;
    uint64_t end = 0;
  };
  // Reads only the given snapshot of p's blocks and files; runs without any lock.
  Result<Rewrite> RecompressPartition(const Partition& p, std::shared_ptr<File> file,
                                      std::shared_ptr<const std::vector<BlockMeta>> blocks);

  const EmbeddedStoreOptions options_;
  int lock_fd_ = -1;

  // Held by Compact and EnforceRetention for their whole run: a partition being recompressed
  // outside writer_mu_ is neither deleted nor rewritten by another call meanwhile.
  std::mutex maintenance_mu_;
  std::mutex writer_mu_;
  Status failed_;  // sticky: a journal write that may have half happened
  std::shared_ptr<File> journal_;
  uint64_t journal_segment_ = 0;
  std::atomic<uint64_t> journal_size_{0};
  std::vector<uint64_t> old_segments_;
  std::string journal_buffer_;          // the entry being written, reused
  std::vector<uint64_t> token_hashes_;  // Index(): one record's token hashes, reused
  std::vector<Partition*> touched_;     // Append(): partitions with pending records, reused
  std::vector<JournalRecordView> prepared_views_;  // Append(): the prepared records, reused
  // Append(): partitions by (class, day), direct-mapped. Writer only; emptied whenever
  // partitions are deleted (EnforceRetention), so a slot never points at a freed one.
  static constexpr size_t kPartitionCacheSlots = 256;
  static size_t PartitionCacheSlot(std::string_view cls, int64_t day) {
    const uint64_t h =
        std::hash<std::string_view>{}(cls) ^ (static_cast<uint64_t>(day) * 0x9e3779b97f4a7c15ULL);
    return static_cast<size_t>((h ^ (h >> 29)) % kPartitionCacheSlots);
  }
  std::array<Partition*, kPartitionCacheSlots> partition_cache_{};
  std::atomic<uint64_t> next_seq_{1};

  mutable std::shared_mutex state_mu_;
  std::map<std::pair<std::string, int64_t>, std::unique_ptr<Partition>> partitions_;
  std::map<std::string, std::string> checkpoints_;
  std::vector<std::string> open_problems_;  // found while opening; reported by Verify
  // Open(): partitions read whole without a problem and not (fully) listed by their index, with
  // where their blocks begin.
  std::vector<std::pair<Partition*, uint64_t>> unindexed_;
};

Partition* EmbeddedStore::GetPartition(const std::string& cls, int64_t day) {
  {
    std::shared_lock lock(state_mu_);
    auto it = partitions_.find({cls, day});
    if (it != partitions_.end()) return it->second.get();
  }
  auto p = std::make_unique<Partition>();
  p->data_class = cls;
  p->day = day;
  p->path = DataDir() / cls / (DayName(day) + ".blk");
  Partition* raw = p.get();
  std::unique_lock lock(state_mu_);
  partitions_.emplace(std::make_pair(cls, day), std::move(p));
  return raw;
}

Status EmbeddedStore::Open() {
  if (!options_.normalize) {
    return MakeError(Errc::kInvalidArgument, "the log store needs a Normalizer");
  }
  if (options_.ingest_level < kMinFastLevel || options_.ingest_level > kMaxLevel) {
    return MakeError(Errc::kInvalidArgument,
                     "log store option ingest_level " + std::to_string(options_.ingest_level) +
                         " is outside -8 (zstd --fast=8) to 22; 0 is stored");
  }
  if (options_.block_records == 0 || options_.archive_block_records == 0 ||
      options_.block_raw_bytes > (size_t{128} << 20) ||
      options_.archive_block_raw_bytes > (size_t{128} << 20) || options_.archive_level < 1 ||
      options_.archive_level > 22 ||
      !(options_.bloom_bits_per_token >= 1 && options_.bloom_bits_per_token <= 64) ||
      !(options_.archive_bloom_bits_per_token >= 1 &&
        options_.archive_bloom_bits_per_token <= 64)) {
    return MakeError(Errc::kInvalidArgument, "log store options out of range");
  }
  std::error_code ec;
  fs::create_directories(DataDir(), ec);
  if (!ec) fs::create_directories(JournalDir(), ec);
  if (ec) {
    return MakeError(Errc::kIo, "creating " + options_.directory.string() + ": " + ec.message());
  }
  const fs::path lock_path = options_.directory / "LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return ErrnoError("opening " + lock_path.string(), errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return MakeError(Errc::kUnavailable,
                     options_.directory.string() + " is in use by another log store");
  }

  RETURN_IF_ERROR(CheckFormatVersions());
  // Partition files.
  for (const auto& class_dir : fs::directory_iterator(DataDir(), ec)) {
    const std::string cls = class_dir.path().filename().string();
    if (!class_dir.is_directory() || !IsClassName(cls)) continue;
    for (const auto& entry : fs::directory_iterator(class_dir.path(), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".blk.tmp") || name.ends_with(".idx.tmp")) {
        fs::remove(entry.path(), ec);  // an unfinished Compact() or partition index
        continue;
      }
      if (name.find(".torn-") != std::string::npos) {
        open_problems_.push_back(entry.path().string() +
                                 ": bytes cut from a damaged file tail, kept for inspection");
        continue;
      }
      int64_t day;
      if (!name.ends_with(".blk") || !ParseDayName(name.substr(0, name.size() - 4), &day)) {
        continue;
      }
      RETURN_IF_ERROR(LoadPartitionFile(cls, day, entry.path()));
    }
  }
  if (ec) return MakeError(Errc::kIo, "listing " + DataDir().string() + ": " + ec.message());
  // Every file has been read (and none refused): now the indexes the scans have earned, each
  // once its file is durable. Not writing one only costs the next open the same scan: reported,
  // not fatal.
  for (const auto& [p, data_start] : unindexed_) {
    Status s = SyncFd(p->file->fd, p->path, options_.sync);
    if (s) s = WritePartitionIndex(*p->file, data_start, *p->blocks);
    if (!s) open_problems_.push_back(s.error().message);
  }
  unindexed_.clear();
  RETURN_IF_ERROR(ReplayJournal());
  return Rotate();
}

Status EmbeddedStore::CheckFormatVersions() {
  std::error_code ec;
  auto check = [&](const fs::path& path, FileKind kind) -> Status {
    ASSIGN_OR_RETURN(auto file, OpenFile(path, O_RDONLY));
    ASSIGN_OR_RETURN(const uint64_t size, FileSize(file->fd, path));
    ASSIGN_OR_RETURN(const FileHeaderInfo info, InspectFile(*file, size, kind));
    if (info.newer) {
      return NewerFormatError(
          path, "written by log store format version " + std::to_string(info.version));
    }
    return {};
  };
  for (const auto& class_dir : fs::directory_iterator(DataDir(), ec)) {
    if (!class_dir.is_directory() || !IsClassName(class_dir.path().filename().string())) continue;
    for (const auto& entry : fs::directory_iterator(class_dir.path(), ec)) {
      if (entry.path().extension() == ".blk")
        RETURN_IF_ERROR(check(entry.path(), FileKind::kPartition));
    }
  }
  for (const auto& entry : fs::directory_iterator(JournalDir(), ec)) {
    if (entry.path().extension() == ".wal")
      RETURN_IF_ERROR(check(entry.path(), FileKind::kJournal));
  }
  if (ec)
    return MakeError(Errc::kIo, "listing " + options_.directory.string() + ": " + ec.message());
  return {};
}

Status EmbeddedStore::LoadPartitionFile(const std::string& cls, int64_t day, const fs::path& path) {
  ASSIGN_OR_RETURN(auto file, OpenFile(path, O_RDWR));
  ASSIGN_OR_RETURN(const uint64_t size, FileSize(file->fd, path));
  ASSIGN_OR_RETURN(const FileHeaderInfo header, InspectFile(*file, size, FileKind::kPartition));
  if (!header.problem.empty()) open_problems_.push_back(At(path, 0, header.problem));
  if (header.version > 1 && size < kFileHeaderBytes) {
    // Created but its header never completed: nothing else can be in it. Start it again.
    RETURN_IF_ERROR(CutTail(*file, 0, size, !header.problem.empty(), options_.sync));
    RETURN_IF_ERROR(WriteFull(file->fd, 0, EncodeFileHeader(FileKind::kPartition), path));
    RETURN_IF_ERROR(SyncFd(file->fd, path, options_.sync));
    Partition* p = GetPartition(cls, day);
    std::unique_lock lock(state_mu_);
    p->file = std::move(file);
    p->end = kFileHeaderBytes;
    return {};
  }
  // The partition index (store_partition_index.h) lists a durable prefix of the file's blocks;
  // only the blocks after it are read here.
  std::vector<BlockMeta> metas;
  const uint64_t scan_from = LoadPartitionIndex(*file, size, header.data_start, &metas);
  const size_t problems_before = open_problems_.size();
  const size_t indexed = metas.size();
  uint64_t tail;
  bool incomplete;
  std::string newer;
  ScanBlocks(*file, scan_from, size, false, &metas, &open_problems_, &tail, &incomplete, &newer);
  if (!newer.empty()) return NewerFormatError(path, newer);
  // Only the last block can be an unfinished write (each is synced before the next): check its
  // checksums, unless the index vouches for it.
  if (metas.size() > indexed && tail == size) {
    std::string why;
    if (!BlockChecksumsHold(*file, metas.back(), &why)) {
      tail = metas.back().offset;
      incomplete = false;
      open_problems_.push_back(At(path, tail, why + " (the last block)"));
      metas.pop_back();
    }
  }
  if (tail < size) RETURN_IF_ERROR(CutTail(*file, tail, size, !incomplete, options_.sync));
  // A file read whole without a problem gets an index of what it holds now, once it is durable.
  const bool index_it = metas.size() > indexed && open_problems_.size() == problems_before;
  Partition* p = GetPartition(cls, day);
  if (index_it) unindexed_.emplace_back(p, header.data_start);
  uint64_t max_seq = 0;
  for (const auto& m : metas) max_seq = std::max(max_seq, m.max_seq);
  std::unique_lock lock(state_mu_);
  p->file = std::move(file);
  p->end = tail;
  p->sealed_max_seq = max_seq;
  p->blocks = std::make_shared<const std::vector<BlockMeta>>(std::move(metas));
  next_seq_ = std::max<uint64_t>(next_seq_, max_seq + 1);
  return {};
}

uint64_t EmbeddedStore::LoadPartitionIndex(const File& data, uint64_t size, uint64_t data_start,
                                           std::vector<BlockMeta>* metas) {
  const fs::path path = IndexPathOf(data.path);
  PartitionIndex idx;
  std::string why;
  if (!ReadPartitionIndexFile(path, &idx, &why)) {
    if (!why.empty()) {
      open_problems_.push_back(At(path, 0, why + "; its partition file was read"));
    }
    return data_start;
  }
  // An index of another file (Compact() replaced it and crashed before writing the new index):
  // not damage, only stale.
  if (idx.data_start != data_start || idx.covered_end > size) return data_start;
  if (!idx.metas.empty()) {
    std::string head;
    if (!ReadFull(data.fd, idx.metas.back().offset, kBlockHeaderBytes, &head, data.path) ||
        head != idx.last_head32) {
      return data_start;
    }
  }
  *metas = std::move(idx.metas);
  return idx.covered_end;
}

Status EmbeddedStore::WritePartitionIndex(const File& data, uint64_t data_start,
                                          const std::vector<BlockMeta>& metas) {
  std::vector<std::string> heads;
  heads.reserve(metas.size());
  uint64_t at = data_start;
  for (const BlockMeta& m : metas) {
    if (m.offset != at) return {};  // a damaged stretch skipped: no index, the scan reports it
    std::string head, why;
    RETURN_IF_ERROR(ReadFull(data.fd, m.offset, kBlockHeaderBytes + m.meta_len, &head, data.path));
    // The file's copy of a head may have been damaged since it was read (or indexed before):
    // an index never copies damage.
    BlockMeta check;
    if (!ParseBlockHeader(head, &check, &why) ||
        !ParseBlockMeta(std::string_view(head).substr(kBlockHeaderBytes), &check, &why)) {
      return {};
    }
    heads.push_back(std::move(head));
    at = m.end();
  }
  const fs::path path = IndexPathOf(data.path);
  const fs::path tmp = path.string() + ".tmp";
  ASSIGN_OR_RETURN(auto f, OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC));
  RETURN_IF_ERROR(WriteFull(f->fd, 0, EncodePartitionIndex(data_start, heads), tmp));
  RETURN_IF_ERROR(SyncFd(f->fd, tmp, options_.sync));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError("renaming " + tmp.string(), errno);
  }
  return {};
}

void EmbeddedStore::Index(Partition* p, const Record& r, std::string_view dataset,
                          const std::span<const uint64_t>* hashes) {
  if (!p->open.bloom) {
    p->open.bloom =
        std::make_unique<BloomBuilder>(kIngestBloomLines, options_.bloom_bits_per_token);
  }
  if (hashes != nullptr) {
    p->open.bloom->InsertAll(*hashes);
  } else {
    token_hashes_.clear();
    // A template visitor, not ForEachRecordToken's std::function: each token is hashed inline
    // while its lowered bytes are still in registers / L1.
    AppendRecordTokenHashes(r, &token_hashes_);
    p->open.bloom->InsertAll(token_hashes_);
  }
  if (dataset != p->open.last_dataset) {
    if (p->open.datasets.size() < 256 && !p->open.datasets.contains(dataset)) {
      p->open.datasets.emplace(dataset);
    }
    p->open.last_dataset.assign(dataset);
  }
  p->open.raw_bytes += r.raw.size();
}

void EmbeddedStore::Prepare(const Record& record, PreparedBatch* out) const {
  // Pending fields (a kept tape) always get the metadata: never empty, and not built here.
  const PendingFields* pending = record.pending_fields();
  if (pending == nullptr && record.fields().empty()) {
    out->without_fields.push_back(static_cast<uint32_t>(out->ends.size()));
  }
  AppendRecordTokenHashes(record, &out->hashes);
  out->ends.push_back(static_cast<uint32_t>(out->hashes.size()));
  // Looked for among the last few only, so a batch of all different datasets stays linear.
  std::string_view dataset;
  if (pending != nullptr && index_tokens::PendingDatasetOf(*pending, &dataset)) {
    // event.dataset as FinishFields sets it, with DatasetOf's bound.
    if (dataset.size() > kMaxDatasetBytes) dataset = {};
  } else {
    dataset = DatasetOf(record);
  }
  const size_t n = out->datasets.size();
  size_t at = n;
  for (size_t k = n; k > 0 && k + 8 > n; --k) {
    if (out->datasets[k - 1] == dataset) {
      at = k - 1;
      break;
    }
  }
  if (at == n) out->datasets.emplace_back(dataset);
  out->dataset_of.push_back(static_cast<uint32_t>(at));
  // The record's journal bytes, taken while its text is warm: AppendPrepared writes them to the
  // journal as they are and files the open block's copy from them (a batch later the texts are
  // cold, and were read twice there: for the journal and for the copy).
  char cls[32];
  PutJournalRecord(out->records, record, ClassOf(dataset, &cls));
  out->record_ends.push_back(static_cast<uint32_t>(out->records.size()));
}

// A batch's records were normalised before Append sees them (4,096 per batch, a few KB of
// text and fields each), so they are cold when indexed: Append fetches the next record's raw
// text and field table while it indexes the current one.
// fields: whether Index will walk the fields (false when the record was prepared).
void PrefetchRecord(const Record& r, bool fields) {
  constexpr size_t kMaxBytes = 1024;
  const char* raw = r.raw.data();
  for (size_t off = 0; off < std::min(r.raw.size(), kMaxBytes); off += 64) {
    __builtin_prefetch(raw + off);
  }
  if (!fields || r.fields().empty()) return;
  const auto* kv = reinterpret_cast<const char*>(&*r.fields().begin());
  const size_t table = r.fields().size() * sizeof(boost::json::key_value_pair);
  for (size_t off = 0; off < std::min(table, kMaxBytes); off += 64) __builtin_prefetch(kv + off);
}

// A record without its fields — from a Record, or from a prepared record's bytes (a
// JournalRecordView) — as b's open block keeps it: its strings copied into b's texts.
template <typename From>
SlimRecord SlimOf(OpenBlock& b, const From& r, uint64_t seq) {
  SlimRecord s;
  s.seq = seq;
  s.time_ms = r.time_ms;
  s.received_ms = r.received_ms;
  s.format = r.format;
  s.truncated = r.truncated;
  s.source = b.texts.Value(r.source, &b.last_source);
  s.peer = b.texts.Value(r.peer, &b.last_peer);
  s.tenant = b.texts.Value(r.tenant, &b.last_tenant);
  s.raw = b.texts.Raw(r.raw);
  return s;
}

// An open block's record as a Record of its own (for a search or GetBySeq).
Record RecordOf(const SlimRecord& s) {
  Record r;
  r.seq = s.seq;
  r.time_ms = s.time_ms;
  r.received_ms = s.received_ms;
  r.format = s.format;
  r.source.assign(s.source);
  r.peer.assign(s.peer);
  r.tenant.assign(s.tenant);
  r.raw.assign(s.raw);
  r.truncated = s.truncated;
  return r;
}

Status EmbeddedStore::ReplayJournal() {
  std::vector<std::pair<uint64_t, fs::path>> segments;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(JournalDir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".torn-") != std::string::npos) {
      open_problems_.push_back(entry.path().string() +
                               ": bytes cut from a damaged journal tail, kept for inspection");
      continue;
    }
    if (name.size() != 20 || !name.ends_with(".wal")) continue;
    uint64_t n = 0;
    bool ok = true;
    for (char c : name.substr(0, 16)) {
      const int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (v < 0) ok = false;
      n = n * 16 + static_cast<uint64_t>(v < 0 ? 0 : v);
    }
    if (ok) segments.emplace_back(n, entry.path());
  }
  if (ec) return MakeError(Errc::kIo, "listing " + JournalDir().string() + ": " + ec.message());
  std::sort(segments.begin(), segments.end());
  for (size_t si = 0; si < segments.size(); ++si) {
    const auto& [number, path] = segments[si];
    const bool last = si + 1 == segments.size();
    ASSIGN_OR_RETURN(auto file, OpenFile(path, O_RDWR));
    ASSIGN_OR_RETURN(const uint64_t size, FileSize(file->fd, path));
    ASSIGN_OR_RETURN(const FileHeaderInfo header, InspectFile(*file, size, FileKind::kJournal));
    if (!header.problem.empty()) open_problems_.push_back(At(path, 0, header.problem));
    uint64_t pos = header.data_start;
    while (pos < size) {
      JournalEntryView e;
      std::string why;
      bool incomplete;
      std::optional<JournalBatch> batch;
      std::optional<JournalSnapshot> snapshot;
      const bool ok = ReadJournalEntry(*file, pos, size, &e, &why, &incomplete) &&
                      DecodeJournalPayload(e.payload, &batch, &snapshot, &why);
      if (!ok) {
        if (last) {
          if (!incomplete) open_problems_.push_back(At(path, pos, why + " (the journal's tail)"));
          RETURN_IF_ERROR(CutTail(*file, pos, size, !incomplete, options_.sync));
        } else {
          open_problems_.push_back(
              At(path, pos, why + "; the rest of this journal segment is unreadable"));
        }
        break;
      }
      pos += kJournalHeaderBytes + e.payload.size();
      if (snapshot) {
        checkpoints_.clear();
        for (auto& [k, v] : snapshot->checkpoints) checkpoints_[k] = v;
        next_seq_ = std::max<uint64_t>(next_seq_, snapshot->next_seq);
        continue;
      }
      for (size_t i = 0; i < batch->records.size(); ++i) {
        Record& r = batch->records[i];
        const std::string& cls = IsClassName(batch->classes[i]) ? batch->classes[i] : "other";
        Partition* p = GetPartition(cls, DayOf(r.time_ms));
        if (r.seq <= p->sealed_max_seq) continue;
        options_.normalize(r);
        Index(p, r, DatasetOf(r));
        p->open.records.push_back(SlimOf(p->open, r, r.seq));
        if (BlockFull(*p)) RETURN_IF_ERROR(Seal(p, options_.ingest_level, /*busy=*/true));
      }
      for (auto& [k, v] : batch->checkpoints) checkpoints_[k] = v;
      next_seq_ = std::max<uint64_t>(next_seq_, batch->first_seq + batch->records.size());
    }
    old_segments_.push_back(number);
    journal_segment_ = std::max(journal_segment_, number);
  }
  return {};
}

Status EmbeddedStore::Sync(const DeferredSyncs& deferred) {
  for (const auto& f : deferred.files) RETURN_IF_ERROR(SyncFd(f->fd, f->path, options_.sync));
  for (const auto& d : deferred.dirs) RETURN_IF_ERROR(SyncDir(d, options_.sync));
  return {};
}

Status EmbeddedStore::Seal(Partition* p, int level, bool busy, DeferredSyncs* deferred) {
  if (p->open.records.empty()) return {};
  BlockInput in;
  in.slim = p->open.records;
  in.bloom = p->open.bloom ? p->open.bloom->Finish(/*keep_memory=*/busy)
                           : BloomBuilder(1, options_.bloom_bits_per_token).Finish(false);
  if (!busy) p->open.bloom.reset();
  in.datasets.assign(p->open.datasets.begin(), p->open.datasets.end());
  in.level = level;
  in.version = kIngestBlockVersion;
  BlockMeta meta;
  // Written from its pieces (no copy of the Bloom filter and the frames into one string).
  EncodedBlock block;
  RETURN_IF_ERROR(EncodeBlockParts(in, &meta, &block));
  std::shared_ptr<File> file = p->file;
  uint64_t at = p->end;
  std::string file_header;  // a new file's: written with its first block
  if (!file) {
    std::error_code ec;
    fs::create_directories(p->path.parent_path(), ec);
    if (ec)
      return MakeError(Errc::kIo,
                       "creating " + p->path.parent_path().string() + ": " + ec.message());
    ASSIGN_OR_RETURN(file, OpenFile(p->path, O_RDWR | O_CREAT | O_TRUNC));
    // The header and the first block are written and synced together below; a crash before
    // that leaves a file open cuts (or restarts, when even the header is incomplete).
    file_header = EncodeFileHeader(FileKind::kPartition);
    at = 0;
    if (deferred != nullptr) {
      deferred->dirs.insert(p->path.parent_path());
      deferred->dirs.insert(DataDir());
    } else {
      RETURN_IF_ERROR(SyncDir(p->path.parent_path(), options_.sync));
      RETURN_IF_ERROR(SyncDir(DataDir(), options_.sync));
    }
  }
  const std::string_view pieces[] = {file_header, block.head, block.bloom, block.body, block.texts};
  const Status written = WriteFullV(file->fd, at, pieces, p->path);
  ReleaseLargeBlockScratch();
  if (!written) {
    (void)::ftruncate(file->fd, static_cast<off_t>(at));
    return written;
  }
  at += file_header.size();
  const uint64_t block_bytes = block.size();
  if (deferred != nullptr) {
    deferred->files.push_back(file);
  } else {
    RETURN_IF_ERROR(SyncFd(file->fd, p->path, options_.sync));
  }
  meta.offset = at;
  auto blocks = std::make_shared<std::vector<BlockMeta>>(*p->blocks);
  blocks->push_back(std::move(meta));
  {
    std::unique_lock lock(state_mu_);
    p->file = std::move(file);
    p->blocks = std::move(blocks);
    p->end = at + block_bytes;
    p->sealed_max_seq = std::max(p->sealed_max_seq, p->open.records.back().seq);
    p->open.records.clear();
    if (!busy) p->open.records.shrink_to_fit();
  }
  // No published record views them now (and the pending ones were published before the seal).
  p->open.texts.Clear(/*release=*/!busy);
  p->open.last_source = p->open.last_peer = p->open.last_tenant = {};
  p->open.raw_bytes = 0;
  p->open.datasets.clear();
  p->open.last_dataset.clear();
  return {};
}

Status EmbeddedStore::Rotate() {
  std::vector<Partition*> parts;
  {
    std::shared_lock lock(state_mu_);
    for (auto& [key, p] : partitions_) parts.push_back(p.get());
  }
  DeferredSyncs syncs;
  for (Partition* p : parts) RETURN_IF_ERROR(Seal(p, options_.ingest_level, false, &syncs));
  RETURN_IF_ERROR(Sync(syncs));
  JournalSnapshot snap;
  snap.next_seq = next_seq_;
  {
    std::shared_lock lock(state_mu_);
    snap.checkpoints.assign(checkpoints_.begin(), checkpoints_.end());
  }
  const uint64_t number = journal_segment_ + 1;
  const fs::path path = SegmentPath(number);
  ASSIGN_OR_RETURN(auto file, OpenFile(path, O_RDWR | O_CREAT | O_TRUNC));
  const std::string entry =
      EncodeFileHeader(FileKind::kJournal) + FrameJournalEntry(EncodeJournalSnapshot(snap));
  RETURN_IF_ERROR(WriteFull(file->fd, 0, entry, path));
  RETURN_IF_ERROR(SyncFd(file->fd, path, options_.sync));
  RETURN_IF_ERROR(SyncDir(JournalDir(), options_.sync));
  if (journal_) old_segments_.push_back(journal_segment_);
  journal_ = std::move(file);
  journal_segment_ = number;
  journal_size_ = entry.size();
  for (uint64_t old : old_segments_) {
    std::error_code ec;
    fs::remove(SegmentPath(old), ec);
  }
  old_segments_.clear();
  return SyncDir(JournalDir(), options_.sync);
}

Status EmbeddedStore::AppendBatch(std::span<Record> records,
                                  std::span<const Checkpoint> checkpoints,
                                  const PreparedBatch* prepared) {
  std::lock_guard writer(writer_mu_);
  if (!failed_) return failed_;
  if (records.size() > kMaxBatchRecords) {
    return MakeError(Errc::kInvalidArgument, "a batch of more than 1,000,000 records");
  }
  if (prepared != nullptr) {
    bool consistent =
        prepared->ends.size() == records.size() && prepared->dataset_of.size() == records.size();
    for (size_t i = 0; consistent && i < records.size(); ++i) {
      consistent = prepared->ends[i] >= (i == 0 ? 0 : prepared->ends[i - 1]) &&
                   prepared->ends[i] <= prepared->hashes.size() &&
                   prepared->dataset_of[i] < prepared->datasets.size();
    }
    // Also catches ends that wrapped (more than 2^32 hashes prepared).
    consistent = consistent && (records.empty() ? prepared->hashes.empty()
                                                : prepared->ends.back() == prepared->hashes.size());
    for (const std::string& d : prepared->datasets) {
      consistent = consistent && d.size() <= kMaxDatasetBytes;
    }
    for (size_t k = 0; consistent && k < prepared->without_fields.size(); ++k) {
      consistent = prepared->without_fields[k] < records.size() &&
                   (k == 0 || prepared->without_fields[k] > prepared->without_fields[k - 1]);
    }
    // The records' bytes: none (a batch prepared without them), or one piece per record.
    if (!prepared->record_ends.empty() || !prepared->records.empty()) {
      consistent = consistent && prepared->record_ends.size() == records.size();
      for (size_t i = 0; consistent && i < records.size(); ++i) {
        consistent = prepared->record_ends[i] >= (i == 0 ? 0 : prepared->record_ends[i - 1]);
      }
      consistent = consistent && !records.empty() &&
                   prepared->record_ends.back() == prepared->records.size();
    }
    if (!consistent) {
      return MakeError(Errc::kInvalidArgument, "the prepared batch does not match the records (" +
                                                   std::to_string(prepared->ends.size()) +
                                                   " prepared, " + std::to_string(records.size()) +
                                                   " records)");
    }
  }
  if (checkpoints.size() > kMaxCheckpoints) {
    return MakeError(Errc::kInvalidArgument, "a batch with more than 10,000 checkpoints");
  }
  size_t bytes = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    if (r.raw.size() > kMaxRawBytes || r.source.size() > kMaxMetaStringBytes ||
        r.peer.size() > kMaxMetaStringBytes || r.tenant.size() > kMaxMetaStringBytes) {
      return MakeError(Errc::kInvalidArgument,
                       "record " + std::to_string(i) + " of the batch exceeds a size limit");
    }
    if (static_cast<uint8_t>(r.format) < 1 || static_cast<uint8_t>(r.format) > 7) {
      return MakeError(Errc::kInvalidArgument,
                       "record " + std::to_string(i) + " of the batch has an unknown format");
    }
    bytes += r.raw.size() + r.source.size() + r.peer.size() + r.tenant.size();
  }
  for (const auto& c : checkpoints) {
    if (c.key.size() > kMaxMetaStringBytes || c.value.size() > kMaxCheckpointValueBytes) {
      return MakeError(Errc::kInvalidArgument,
                       "checkpoint \"" + c.key.substr(0, 64) + "\" too long");
    }
    bytes += c.key.size() + c.value.size();
  }
  if (bytes > kMaxBatchBytes) return MakeError(Errc::kInvalidArgument, "a batch over 512 MiB");
  if (records.empty() && checkpoints.empty()) return {};

  std::vector<std::string> classes(records.size());
  std::vector<std::string_view> datasets(records.size());  // into records[i].fields() or *prepared
  // Records normalised here: Prepare saw them without fields, so their hashes are recomputed.
  std::vector<bool> normalized_here(prepared != nullptr ? records.size() : 0);
  // The class of each of prepared->datasets, computed once.
  std::vector<std::string> prepared_classes(prepared != nullptr ? prepared->datasets.size() : 0);
  std::vector<bool> prepared_class_known(prepared_classes.size());
  if (prepared != nullptr) {
    for (const uint32_t i : prepared->without_fields) normalized_here[i] = true;
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].fields_pending() && records[i].fields().empty()) {
      options_.normalize(records[i]);
      if (prepared != nullptr) normalized_here[i] = true;
    }
    if (prepared != nullptr && !normalized_here[i]) {
      const uint32_t d = prepared->dataset_of[i];
      datasets[i] = prepared->datasets[d];
      if (!prepared_class_known[d]) {
        prepared_classes[d] = ClassOf(datasets[i]);
        prepared_class_known[d] = true;
      }
      classes[i] = prepared_classes[d];
    } else {
      datasets[i] = DatasetOf(records[i]);
      classes[i] = ClassOf(datasets[i]);
    }
  }
  // The records' journal bytes as Prepare took them, when every record was prepared with them:
  // read here in place (bounded), and checked against the records: what Append stores is what
  // Prepare saw (store.h: records must not change in between), and a batch whose records differ
  // from it is refused — their times, format, flags, class and tenant compared, their source,
  // peer and raw text by length only (their bytes are cold here, and comparing them cost as much
  // as the copy this saves): a change that keeps every length is not noticed.
  std::vector<JournalRecordView>& views = prepared_views_;
  views.clear();
  // Not the largest batch's worth kept for good (104 bytes a record).
  if (views.capacity() > std::max<size_t>(records.size(), 16384)) {
    std::vector<JournalRecordView>().swap(views);
  }
  const bool use_bytes =
      prepared != nullptr && !prepared->record_ends.empty() &&
      std::none_of(normalized_here.begin(), normalized_here.end(), [](bool b) { return b; });
  if (use_bytes) {
    views.resize(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      const uint32_t from = i == 0 ? 0 : prepared->record_ends[i - 1];
      Reader in(std::string_view(prepared->records).substr(from, prepared->record_ends[i] - from));
      JournalRecordView& v = views[i];
      const Record& r = records[i];
      if (!ReadJournalRecord(in, &v) || in.remaining() != 0 || v.time_ms != r.time_ms ||
          v.received_ms != r.received_ms || v.format != r.format || v.truncated != r.truncated ||
          v.cls != classes[i] || v.tenant != r.tenant || v.source.size() != r.source.size() ||
          v.peer.size() != r.peer.size() || v.raw.size() != r.raw.size()) {
        return MakeError(Errc::kInvalidArgument, "record " + std::to_string(i) +
                                                     " of the batch does not match what was "
                                                     "prepared of it");
      }
    }
  }
  const uint64_t first = next_seq_;
  for (size_t i = 0; i < records.size(); ++i) records[i].seq = first + i;
  std::vector<std::pair<std::string, std::string>> cps;
  cps.reserve(checkpoints.size());
  for (const auto& c : checkpoints) cps.emplace_back(c.key, c.value);
  // The entry: one buffer, or (prepared bytes) its head, the prepared records and its tail —
  // the same bytes.
  std::string_view pieces[3];
  if (use_bytes) {
    journal_buffer_.clear();
    PutJournalBatchHead(journal_buffer_, first, records.size());
    const size_t head = journal_buffer_.size();
    PutJournalBatchTail(journal_buffer_, cps);
    const std::string_view buf = journal_buffer_;
    uint32_t crc = Crc32c(buf.substr(kJournalHeaderBytes, head - kJournalHeaderBytes));
    crc = Crc32c(prepared->records, crc);
    crc = Crc32c(buf.substr(head), crc);
    FinishJournalEntryHeader(
        journal_buffer_.data(),
        static_cast<uint32_t>(buf.size() - kJournalHeaderBytes + prepared->records.size()), crc);
    pieces[0] = buf.substr(0, head);
    pieces[1] = prepared->records;
    pieces[2] = buf.substr(head);
  } else {
    EncodeJournalBatchEntry(journal_buffer_, records, classes, cps, first);
    pieces[0] = journal_buffer_;
  }
  const uint64_t at = journal_size_;
  uint64_t entry_size = 0;
  for (const std::string_view piece : pieces) entry_size += piece.size();
  Status written = WriteFullV(journal_->fd, at, pieces, journal_->path);
  if (written) written = SyncFd(journal_->fd, journal_->path, options_.sync);
  if (!written) {
    for (auto& r : records) r.seq = 0;
    // The entry may be half there; cut it, and refuse further work if even that fails (after a
    // failed fdatasync the page cache's state is unknown: PostgreSQL's lesson).
    if (::ftruncate(journal_->fd, static_cast<off_t>(at)) != 0 || ::fdatasync(journal_->fd) != 0) {
      return Fail(written.error());
    }
    return written.error();
  }
  journal_size_ = at + entry_size;
  next_seq_ = first + records.size();
  if (journal_buffer_.capacity() > (size_t{16} << 20)) journal_buffer_ = std::string();

  // Committed. File the records into their open blocks; a block is sealed the moment it is full
  // (its Bloom filter at capacity, or its record / byte limit), in the middle of the batch, so
  // no filter is ever overfilled by more than one record's tokens. Sealing failures do not undo
  // the commit: the remaining records are still filed (they are in the journal and stay in
  // memory), no further block is sealed, and further appends are refused until the store is
  // reopened.
  std::vector<Partition*>& touched = touched_;
  touched.clear();
  Partition* p = nullptr;
  for (size_t i = 0; i < records.size(); ++i) {
    const int64_t day = DayOf(records[i].time_ms);
    if (p == nullptr || classes[i] != classes[i - 1] || day != p->day) {
      // A batch interleaves a few partitions (its sources' classes and days): the ones it filed
      // into last are found here without the map's lock. Only the last few are looked at, so a
      // batch whose every record names another day (hostile timestamps) costs no more than
      // GetPartition per record, not a scan of all it touched.
      Partition* seen = nullptr;
      const size_t look = std::min<size_t>(touched.size(), 8);
      for (size_t k = touched.size() - look; k < touched.size(); ++k) {
        Partition* t = touched[k];
        if (t->day == day && t->data_class == classes[i]) {
          seen = t;
          break;
        }
      }
      if (seen == nullptr) {
        // Then a direct-mapped cache of the partitions filed into before (a probe, where
        // GetPartition looks the map up under state_mu_: ~680 instructions).
        Partition*& slot = partition_cache_[PartitionCacheSlot(classes[i], day)];
        if (slot == nullptr || slot->day != day || slot->data_class != classes[i]) {
          slot = GetPartition(classes[i], day);
        }
        seen = slot;
      }
      p = seen;
    }
    const bool use_prepared = prepared != nullptr && !normalized_here[i];
    // (Filed from the prepared bytes, a record's own text and fields are not read here.)
    if (!use_bytes && i + 1 < records.size()) {
      PrefetchRecord(records[i + 1], prepared == nullptr || normalized_here[i + 1]);
    }
    if (use_prepared) {
      const uint32_t from = i == 0 ? 0 : prepared->ends[i - 1];
      const std::span<const uint64_t> hashes(prepared->hashes.data() + from,
                                             prepared->ends[i] - from);
      Index(p, records[i], datasets[i], &hashes);
    } else {
      Index(p, records[i], datasets[i]);
    }
    if (p->open.pending.empty()) touched.push_back(p);
    if (use_bytes) {
      p->open.pending.push_back(SlimOf(p->open, views[i], records[i].seq));
    } else {
      p->open.pending.push_back(SlimOf(p->open, records[i], records[i].seq));
    }
    if (failed_ && BlockFull(*p)) {
      Publish(p);
      if (auto s = Seal(p, options_.ingest_level, /*busy=*/true); !s) failed_ = s.error();
    }
  }
  {
    std::unique_lock lock(state_mu_);
    for (Partition* t : touched) MovePending(t);
    for (const auto& c : checkpoints) checkpoints_[c.key] = c.value;
  }
  if (!failed_) return {};
  if (journal_size_ >= options_.journal_rotate_bytes) {
    if (auto s = Rotate(); !s) failed_ = s.error();
  }
  return {};
}

bool EmbeddedStore::Decode(const Candidate& c, std::vector<Record>* out, std::string* why,
                           std::vector<uint8_t>* flags) const {
  std::string body;
  if (auto s = ReadFull(c.file->fd, c.meta->body_offset(), c.meta->body_len, &body, c.file->path);
      !s) {
    *why = s.error().message;
    return false;
  }
  return DecodeBlockBody(body, *c.meta, out, why, flags);
}

Result<SearchStats> EmbeddedStore::Search(const Query& query, const SearchOptions& options,
                                          const std::function<bool(const Record&)>& sink) {
  SearchStats stats;
  // A cursor narrows the time range to its millisecond onwards (or back); the records of that
  // millisecond at or before it are skipped one by one, before they are normalised.
  int64_t since_ms = options.since_ms, until_ms = options.until_ms;
  if (options.after) {
    if (options.newest_first) {
      if (options.after->time_ms < until_ms) until_ms = options.after->time_ms + 1;
    } else {
      since_ms = std::max(since_ms, options.after->time_ms);
    }
  }
  if (options.limit == 0 || since_ms >= until_ms) return stats;
  auto cancelled = [&] {
    if (options.cancel == nullptr || !options.cancel->load(std::memory_order_relaxed)) return false;
    stats.cancelled = stats.truncated = true;
    return true;
  };
  const std::set<std::string, std::less<>> tenants(options.tenants.begin(), options.tenants.end());
  auto tenant_ok = [&](std::string_view t) { return tenants.empty() || tenants.contains(t); };
  auto time_ok = [&](int64_t t) { return t >= since_ms && t < until_ms; };
  const KeyOrder order{options.newest_first};
  const std::optional<Key> after =
      options.after ? std::optional<Key>(Key{options.after->time_ms, options.after->seq})
                    : std::nullopt;
  auto after_ok = [&](const Key& k) { return !after || order(*after, k); };
  std::vector<uint64_t> hashes;
  for (const auto& t : query.required_tokens()) hashes.push_back(TokenHash(t));

  std::vector<Candidate> candidates;
  std::vector<Record> memory;
  {
    std::shared_lock lock(state_mu_);
    for (const auto& [key, p] : partitions_) {
      stats.blocks_total += p->blocks->size() + (p->open.records.empty() ? 0 : 1);
      const int64_t day_start = p->day * kDayMs;
      if (day_start >= until_ms || (since_ms > day_start && since_ms - day_start >= kDayMs)) {
        continue;
      }
      for (const BlockMeta& m : *p->blocks) {
        if (m.max_time < since_ms || m.min_time >= until_ms) continue;
        if (!tenants.empty() &&
            std::none_of(m.tenants.begin(), m.tenants.end(),
                         [&](const std::string& t) { return tenants.contains(t); })) {
          continue;
        }
        candidates.push_back(Candidate{p->file, p->blocks, &m, m.min_time, m.max_time});
      }
      for (const SlimRecord& r : p->open.records) {
        if (time_ok(r.time_ms) && tenant_ok(r.tenant) && after_ok(Key{r.time_ms, r.seq})) {
          memory.push_back(RecordOf(r));
        }
      }
    }
  }
  auto add_problem = [&](std::string what) {
    if (stats.problems.size() < kMaxReportedProblems) stats.problems.push_back(std::move(what));
  };
  // Bloom pruning: one 64-byte line per required token per block. Whether the token index may
  // hold h: false when it proves not, or with *error set when the section could not be read.
  std::string line;
  auto index_may_hold = [&](const Candidate& c, uint64_t h, std::string* error) {
    // A Compact()ed block's Golomb-coded set: 8 directory bytes, then the token's bucket (a
    // bucket inconsistent with the section is taken to hold the token).
    const bool gcs = c.meta->bloom_k == 0;
    const GcsProbe probe = gcs ? GcsLocate(h, *c.meta) : GcsProbe{};
    const uint64_t at =
        c.meta->bloom_offset() + (gcs ? 4 * probe.bucket : BloomLineOffset(h, c.meta->bloom_len));
    uint64_t from = 0, to = 0;
    auto s = ReadFull(c.file->fd, at, gcs ? 8 : kBloomLineBytes, &line, c.file->path);
    if (s && gcs && GcsBucketRange(line, *c.meta, &from, &to)) {
      s = ReadFull(c.file->fd, c.meta->bloom_offset() + from, to - from, &line, c.file->path);
    } else if (s && gcs) {
      return true;
    }
    if (!s) {
      *error = s.error().message;
      return false;
    }
    return gcs ? GcsBucketHas(line, c.meta->gcs_rice, probe.value)
               : BloomLineHas(line, h, c.meta->bloom_k);
  };
  // Before a pass of index_may_hold over candidates, the kernel is asked for all the directory
  // bytes (or Bloom lines), then, from those, for all the buckets: a cold disk sees the
  // thousands of small reads at depth. The probes themselves read as before.
  std::string directory;
  // Both passes look at the cancel flag every 256 probes (the probe loop after them does too).
  auto read_ahead_probes = [&](std::span<const std::pair<size_t, uint64_t>> probes) {
    size_t k = 0;
    for (const auto& [ci, h] : probes) {
      if ((++k & 255) == 0 && cancelled()) return;
      const Candidate& c = candidates[ci];
      const bool gcs = c.meta->bloom_k == 0;
      ReadAhead(c.file->fd,
                c.meta->bloom_offset() + (gcs ? 4 * GcsLocate(h, *c.meta).bucket
                                              : BloomLineOffset(h, c.meta->bloom_len)),
                gcs ? 8 : kBloomLineBytes);
    }
    for (const auto& [ci, h] : probes) {
      if ((++k & 255) == 0 && cancelled()) return;
      const Candidate& c = candidates[ci];
      if (c.meta->bloom_k != 0) continue;
      uint64_t from = 0, to = 0;
      if (ReadFull(c.file->fd, c.meta->bloom_offset() + 4 * GcsLocate(h, *c.meta).bucket, 8,
                   &directory, c.file->path) &&
          GcsBucketRange(directory, *c.meta, &from, &to)) {
        ReadAhead(c.file->fd, c.meta->bloom_offset() + from, to - from);
      }
    }
  };
  std::vector<std::pair<size_t, uint64_t>> probes;
  if (!hashes.empty()) {
    // Token by token over the candidates not yet ruled out; each candidate's outcome is the
    // same as probing its tokens in order and stopping at the first the index rules out, and
    // outcomes are counted and reported in candidate order.
    std::vector<size_t> alive(candidates.size());
    for (size_t ci = 0; ci < alive.size(); ++ci) alive[ci] = ci;
    std::vector<std::string> errors(candidates.size());
    std::vector<uint8_t> ruled_out(candidates.size(), 0);
    for (uint64_t h : hashes) {
      if (alive.empty()) break;
      probes.clear();
      for (size_t ci : alive) probes.emplace_back(ci, h);
      read_ahead_probes(probes);
      std::vector<size_t> still;
      for (size_t ci : alive) {
        if (cancelled()) return stats;
        if (index_may_hold(candidates[ci], h, &errors[ci])) {
          still.push_back(ci);
        } else {
          ruled_out[ci] = 1;
        }
      }
      alive = std::move(still);
    }
    std::vector<Candidate> kept;
    for (size_t ci = 0; ci < candidates.size(); ++ci) {
      Candidate& c = candidates[ci];
      if (!ruled_out[ci]) {
        kept.push_back(std::move(c));
        continue;
      }
      if (!errors[ci].empty()) {
        ++stats.blocks_corrupt;
        add_problem(At(c.file->path, c.meta->offset, errors[ci]));
      }
      ++stats.blocks_ruled_out;
    }
    candidates = std::move(kept);
    // Version 7 token sets say which required tokens no record of the block holds outside its
    // raw text and metadata (FieldOnlyTokenHash): for those, every record is checked on its raw
    // text before it is normalised (a section that cannot be read proves nothing).
    probes.clear();
    for (size_t ci = 0; ci < candidates.size(); ++ci) {
      if (candidates[ci].meta->version < 7 || candidates[ci].meta->bloom_k != 0) continue;
      for (size_t i = 0; i < hashes.size() && i < 64; ++i) {
        probes.emplace_back(ci, FieldOnlyTokenHash(query.required_tokens()[i]));
      }
    }
    read_ahead_probes(probes);
    for (auto& c : candidates) {
      if (c.meta->version < 7 || c.meta->bloom_k != 0) continue;
      if (cancelled()) return stats;
      for (size_t i = 0; i < hashes.size() && i < 64; ++i) {
        std::string error;
        const bool field_only =
            index_may_hold(c, FieldOnlyTokenHash(query.required_tokens()[i]), &error);
        if (!error.empty()) break;
        if (!field_only) c.raw_only |= uint64_t{1} << i;
      }
    }
  }
  auto key_of = [](const Record& r) { return Key{r.time_ms, r.seq}; };
  if (!memory.empty()) {
    std::sort(memory.begin(), memory.end(),
              [&](const Record& a, const Record& b) { return order(key_of(a), key_of(b)); });
    Candidate c;
    c.min_time = options.newest_first ? memory.back().time_ms : memory.front().time_ms;
    c.max_time = options.newest_first ? memory.front().time_ms : memory.back().time_ms;
    candidates.push_back(std::move(c));
  }
  std::sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
    return options.newest_first ? a.max_time > b.max_time : a.min_time < b.min_time;
  });

  // Merge: a buffered record is emitted once no unread candidate can hold an earlier one. The
  // buffer never holds more than the records still to deliver (limit - delivered).
  std::map<Key, Record, KeyOrder> buffer(order);
  size_t delivered = 0;
  bool stopped = false;
  auto emit_until = [&](const Candidate* next) {
    while (!buffer.empty() && !stopped) {
      const Key& k = buffer.begin()->first;
      if (next != nullptr &&
          (options.newest_first ? k.time <= next->max_time : k.time >= next->min_time)) {
        return;
      }
      const bool more = sink(buffer.begin()->second);
      buffer.erase(buffer.begin());
      ++delivered;
      if (!more || delivered >= options.limit) stopped = true;
    }
  };
  // A record can be rejected without normalising it when a required token it could hold only in
  // its raw text or its metadata values (source, format, tenant, the block's datasets) occurs in
  // none of them: every required token when the record's field tokens all occur in its raw text
  // (kFlagFieldsInRaw), and those its block's token set proves no field of the block holds
  // outside the raw text (Candidate::raw_only, version 7), whatever the record's flag.
  // Tokens without ASCII letters (addresses, numbers) are looked for in the raw text as it is,
  // sparing the lower-cased copy.
  const auto& required = query.required_tokens();
  uint64_t lettered = 0;  // the required tokens with ASCII letters
  for (size_t i = 0; i < required.size() && i < 64; ++i) {
    if (std::any_of(required[i].begin(), required[i].end(),
                    [](char ch) { return ch >= 'a' && ch <= 'z'; })) {
      lettered |= uint64_t{1} << i;
    }
  }
  if (required.size() > 64) lettered = ~uint64_t{0};
  // check: bit i for required token i (< 64); every: all of them. block_values: the lower-cased
  // dataset names of the record's block; lowered: scratch. Safe on any thread.
  auto may_match = [&](const Record& r, uint64_t check, bool every,
                       const std::vector<std::string>& block_values, std::string& lowered) {
    std::string_view text = r.raw;
    if (every ? lettered != 0 : (check & lettered) != 0) {
      lowered.assign(r.raw);
      for (char& ch : lowered) ch = LowerAscii(ch);
      text = lowered;
    }
    for (size_t i = 0; i < required.size(); ++i) {
      if (!every && (i >= 64 || !(check & (uint64_t{1} << i)))) continue;
      const std::string& t = required[i];
      if (::memmem(text.data(), text.size(), t.data(), t.size()) != nullptr) continue;
      auto lowers_to_t = [&](std::string_view v) {
        return v.size() == t.size() &&
               std::equal(v.begin(), v.end(), t.begin(),
                          [](char a, char b) { return LowerAscii(a) == b; });
      };
      if (lowers_to_t(r.source) || FormatName(r.format) == t || lowers_to_t(r.tenant) ||
          std::find(block_values.begin(), block_values.end(), t) != block_values.end()) {
        continue;
      }
      return false;
    }
    return true;
  };
  // Each candidate is read, decoded and checked without normalising (time range, tenants,
  // cursor, raw text) on the pipeline's threads, a few candidates ahead; this thread takes the
  // results in candidate order and does the rest as one loop would: the limit's cut-off,
  // normalising, matching, the merge. The memory candidate's records are moved by its worker.
  const bool any_cancel = options.cancel != nullptr;
  auto cancel_seen = [&] { return any_cancel && options.cancel->load(std::memory_order_relaxed); };
  auto prefilter = [&](const Candidate& c, std::vector<Record>& records,
                       const std::vector<uint8_t>& flags, PrefilteredBlock* out) {
    std::vector<std::string> block_values;  // lower-cased dataset names of the block
    std::string lowered;
    if (c.meta != nullptr) {
      for (const auto& d : c.meta->datasets) block_values.push_back(LowerAsciiCopy(d));
    }
    const bool flagged = !hashes.empty() && flags.size() == records.size();
    for (size_t ri = 0; ri < records.size(); ++ri) {
      // A block of an archive holds up to 65,536 records: look for cancellation in between too.
      if (ri % 4096 == 4095 && cancel_seen()) {
        out->cancelled = true;
        return;
      }
      Record& r = records[ri];
      if (!time_ok(r.time_ms) || !tenant_ok(r.tenant)) continue;
      const Key k = key_of(r);
      if (!after_ok(k)) continue;
      const bool every = flagged && (flags[ri] & kFlagFieldsInRaw);
      if ((every || c.raw_only != 0) && !may_match(r, c.raw_only, every, block_values, lowered)) {
        out->entries.push_back({k, PrefilteredBlock::kRejected});
        continue;
      }
      out->entries.push_back({k, static_cast<uint32_t>(out->kept.size())});
      out->kept.push_back(std::move(r));
    }
  };
  auto work = [&](size_t ci, PrefilteredBlock* out) {
    const Candidate& c = candidates[ci];
    if (cancel_seen()) {
      out->cancelled = true;
      return;
    }
    std::vector<Record> records;
    std::vector<uint8_t> flags;
    if (c.meta == nullptr) {
      records = std::move(memory);
    } else if (!Decode(c, &records, &out->why, &flags)) {
      out->ok = false;
      return;
    }
    prefilter(c, records, flags, out);
  };
  // Fewer than two threads: every candidate is done on this thread, in turn.
  size_t threads = options_.search_threads != 0
                       ? std::min(options_.search_threads, kMaxSearchThreads)
                       : std::min<size_t>(kSearchThreads, std::thread::hardware_concurrency());
  if (threads < 2 || candidates.size() < 2) threads = 0;
  // After the token index, the first few blocks left are asked of the kernel at once: as many
  // as the pipeline will decode before the merge takes one more (bounded in bytes too), so a
  // search that stops early has not pulled blocks it never reads.
  if (!hashes.empty()) {
    uint64_t asked = 0;
    size_t blocks = 0;
    for (const Candidate& c : candidates) {
      if (c.meta == nullptr) continue;
      if (asked + c.meta->body_len > kSearchReadAheadBytes || blocks == 2 * (threads + 1)) break;
      ReadAhead(c.file->fd, c.meta->body_offset(), c.meta->body_len);
      asked += c.meta->body_len;
      ++blocks;
    }
  }
  // A search without required tokens whose first block holds as many records as it asks for
  // (a page of `*`, an export resumed at its cursor) will most likely stop inside that block:
  // it starts only that one, and the window opens when it is taken.
  const bool first_fills =
      hashes.empty() && !candidates.empty() &&
      (candidates[0].meta == nullptr ? memory.size() : candidates[0].meta->records) >=
          options.limit;
  OrderedPipeline<PrefilteredBlock> pipeline(candidates.size(), threads, threads + 1, work,
                                             first_fills ? 1 : SIZE_MAX);
  for (size_t ci = 0; ci < candidates.size() && !stopped; ++ci) {
    if (cancelled()) return stats;
    const Candidate& c = candidates[ci];
    emit_until(&c);
    if (stopped) break;
    PrefilteredBlock block = pipeline.Take(ci);
    if (block.cancelled) {
      stats.cancelled = stats.truncated = true;
      return stats;
    }
    if (c.meta != nullptr) ++stats.blocks_read;
    if (!block.ok) {
      ++stats.blocks_corrupt;
      add_problem(At(c.file->path, c.meta->offset, block.why));
      continue;
    }
    const size_t room = options.limit - delivered;
    for (size_t ei = 0; ei < block.entries.size(); ++ei) {
      if (ei % 4096 == 4095 && cancelled()) return stats;
      const auto [k, at] = block.entries[ei];
      if (buffer.size() >= room && !order(k, std::prev(buffer.end())->first)) continue;
      if (at == PrefilteredBlock::kRejected) {
        ++stats.records_rejected_raw;
        continue;
      }
      Record& r = block.kept[at];
      options_.normalize(r);
      ++stats.records_scanned;
      if (!query.Matches(r)) continue;
      ++stats.records_matched;
      buffer.emplace(k, std::move(r));
      if (buffer.size() > room) buffer.erase(std::prev(buffer.end()));
    }
  }
  if (cancelled()) return stats;
  emit_until(nullptr);
  stats.truncated = stopped;
  return stats;
}

Result<std::vector<Record>> EmbeddedStore::GetBySeq(std::span<const uint64_t> seqs) {
  if (seqs.size() > kMaxGetBySeq) {
    return MakeError(Errc::kInvalidArgument, "more than 100,000 seqs asked at once");
  }
  const std::set<uint64_t> wanted(seqs.begin(), seqs.end());
  std::map<uint64_t, Record> found;
  std::vector<Candidate> candidates;
  {
    std::shared_lock lock(state_mu_);
    for (const auto& [key, p] : partitions_) {
      for (const BlockMeta& m : *p->blocks) {
        auto it = wanted.lower_bound(m.min_seq);
        if (it != wanted.end() && *it <= m.max_seq) {
          candidates.push_back(Candidate{p->file, p->blocks, &m, m.min_time, m.max_time});
        }
      }
      for (const SlimRecord& r : p->open.records) {
        if (wanted.contains(r.seq)) found.emplace(r.seq, RecordOf(r));
      }
    }
  }
  std::vector<Record> records;
  std::vector<uint64_t> block_seqs;
  std::string body;
  for (const auto& c : candidates) {
    records.clear();
    std::string why;
    // A block's seq range spans every record filed while it was open, in any partition: look at
    // its seq column (a short prefix of the body) before decompressing all of it.
    block_seqs.clear();
    if (auto s = ReadFull(c.file->fd, c.meta->body_offset(), c.meta->body_len, &body, c.file->path);
        !s) {
      return MakeError(Errc::kIo, At(c.file->path, c.meta->offset, s.error().message));
    }
    if (!DecodeBlockSeqs(body, *c.meta, &block_seqs, &why)) {
      return MakeError(Errc::kIo, At(c.file->path, c.meta->offset, why));
    }
    if (std::none_of(block_seqs.begin(), block_seqs.end(),
                     [&](uint64_t s) { return wanted.contains(s); })) {
      continue;
    }
    if (!DecodeBlockBody(body, *c.meta, &records, &why)) {
      return MakeError(Errc::kIo, At(c.file->path, c.meta->offset, why));
    }
    for (Record& r : records) {
      if (wanted.contains(r.seq)) found.emplace(r.seq, std::move(r));
    }
  }
  std::vector<Record> out;
  for (uint64_t s : seqs) {
    auto it = found.find(s);
    if (it == found.end()) continue;
    out.push_back(it->second);
    if (out.back().fields().empty()) options_.normalize(out.back());
  }
  return out;
}

Result<VerifyReport> EmbeddedStore::Verify() {
  VerifyReport report;
  std::vector<std::pair<std::shared_ptr<File>, uint64_t>> files;
  {
    std::shared_lock lock(state_mu_);
    report.problems = open_problems_;
    for (const auto& [key, p] : partitions_) {
      if (p->file) files.emplace_back(p->file, p->end);
    }
  }
  for (const auto& [file, end] : files) {
    ++report.files;
    ASSIGN_OR_RETURN(const uint64_t size, FileSize(file->fd, file->path));
    ASSIGN_OR_RETURN(const FileHeaderInfo header, InspectFile(*file, size, FileKind::kPartition));
    if (!header.problem.empty()) report.problems.push_back(At(file->path, 0, header.problem));
    std::vector<BlockMeta> metas;
    uint64_t tail;
    bool incomplete;
    const size_t problems_before = report.problems.size();
    ScanBlocks(*file, header.data_start, std::min(size, end), true, &metas, &report.problems, &tail,
               &incomplete);
    if (incomplete) report.problems.push_back(At(file->path, tail, "a block cut short"));
    if (size < end)
      report.problems.push_back(At(file->path, size, "the file is shorter than its blocks"));
    report.blocks += metas.size();
    for (const auto& m : metas) report.records += m.records;
    // A damaged block is reported above; the index is then only checked for itself.
    const bool whole = report.problems.size() == problems_before && !incomplete;
    if (std::string problem = CheckPartitionIndex(*file, header.data_start, whole, metas);
        !problem.empty()) {
      report.problems.push_back(std::move(problem));
    }
  }
  // The journal: the current segment up to its committed size.
  std::shared_ptr<File> journal;
  uint64_t journal_end;
  {
    std::lock_guard writer(writer_mu_);
    journal = journal_;
    journal_end = journal_size_;
  }
  if (journal) {
    ++report.files;
    ASSIGN_OR_RETURN(const FileHeaderInfo header,
                     InspectFile(*journal, journal_end, FileKind::kJournal));
    if (!header.problem.empty()) report.problems.push_back(At(journal->path, 0, header.problem));
    uint64_t pos = header.data_start;
    while (pos < journal_end) {
      JournalEntryView e;
      std::string why;
      bool incomplete;
      std::optional<JournalBatch> batch;
      std::optional<JournalSnapshot> snapshot;
      if (!ReadJournalEntry(*journal, pos, journal_end, &e, &why, &incomplete) ||
          !DecodeJournalPayload(e.payload, &batch, &snapshot, &why)) {
        report.problems.push_back(At(journal->path, pos, why));
        break;
      }
      pos += kJournalHeaderBytes + e.payload.size();
    }
  }
  return report;
}

Result<RetentionReport> EmbeddedStore::EnforceRetention(int64_t now_ms) {
  std::lock_guard maintenance(maintenance_mu_);
  std::lock_guard writer(writer_mu_);
  if (!failed_) return failed_.error();
  // Seal everything and restart the journal first, so no journal entry can bring a deleted
  // partition's records back. A failure is sticky (Flush says why).
  if (auto s = Rotate(); !s) {
    failed_ = s.error();
    return s.error();
  }
  RetentionReport report;
  std::vector<std::unique_ptr<Partition>> doomed;
  {
    std::unique_lock lock(state_mu_);
    for (auto it = partitions_.begin(); it != partitions_.end();) {
      const Partition& p = *it->second;
      auto days = options_.retention_days.find(p.data_class);
      const int64_t keep_days =
          days != options_.retention_days.end() ? days->second : options_.default_retention_days;
      const int64_t day_end = (p.day + 1) * kDayMs;
      if (keep_days >= 0 && now_ms - day_end >= keep_days * kDayMs) {
        doomed.push_back(std::move(it->second));
        it = partitions_.erase(it);
        partition_cache_.fill(nullptr);
      } else {
        ++it;
      }
    }
  }
  for (const auto& p : doomed) {
    RetentionReport::Partition r;
    r.data_class = p->data_class;
    r.day = DayName(p->day);
    for (const auto& m : *p->blocks) r.records += m.records;
    r.stored_bytes = p->end;
    std::error_code ec;
    fs::remove(p->path, ec);
    if (ec) return MakeError(Errc::kIo, "deleting " + p->path.string() + ": " + ec.message());
    fs::remove(IndexPathOf(p->path), ec);
    if (ec) {
      return MakeError(Errc::kIo,
                       "deleting " + IndexPathOf(p->path).string() + ": " + ec.message());
    }
    RETURN_IF_ERROR(SyncDir(p->path.parent_path(), options_.sync));
    report.deleted.push_back(std::move(r));
  }
  return report;
}

Result<EmbeddedStore::Rewrite> EmbeddedStore::RecompressPartition(
    const Partition& p, std::shared_ptr<File> file,
    std::shared_ptr<const std::vector<BlockMeta>> blocks) {
  const fs::path tmp = p.path.string() + ".tmp";
  Rewrite rw;
  ASSIGN_OR_RETURN(rw.file, OpenFile(tmp, O_RDWR | O_CREAT | O_TRUNC));
  auto fail = [&](Error e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    return e;
  };
  if (auto s = WriteFull(rw.file->fd, 0, EncodeFileHeader(FileKind::kPartition), tmp); !s) {
    return fail(s.error());
  }
  rw.end = kFileHeaderBytes;
  std::vector<Record> pending;
  std::vector<uint8_t> pending_flags;
  // The token set is capped where the Bloom filter was: at the tokens kArchiveBloomLines lines
  // hold at the archive bits per token.
  TokenSetBuilder tokens;
  const uint32_t rice = GcsRiceFor(options_.archive_bloom_bits_per_token);
  const size_t max_tokens = static_cast<size_t>(kArchiveBloomLines * kBloomLineBytes * 8 /
                                                options_.archive_bloom_bits_per_token);
  std::set<std::string, std::less<>> datasets;
  uint64_t pending_raw = 0;
  auto flush = [&]() -> Status {
    if (pending.empty()) return {};
    BlockInput in;
    in.records = pending;
    in.bloom = tokens.Finish(rice);
    in.extra_flags = pending_flags;
    in.datasets.assign(datasets.begin(), datasets.end());
    in.level = options_.archive_level;
    in.version = kBlockVersion;
    BlockMeta meta;
    ASSIGN_OR_RETURN(std::string bytes, EncodeBlock(in, &meta));
    RETURN_IF_ERROR(WriteFull(rw.file->fd, rw.end, bytes, tmp));
    meta.offset = rw.end;
    rw.end += bytes.size();
    rw.metas.push_back(std::move(meta));
    pending.clear();
    pending_flags.clear();
    datasets.clear();
    pending_raw = 0;
    return {};
  };
  std::vector<Record> records;
  for (const BlockMeta& m : *blocks) {
    records.clear();
    std::string why;
    Candidate c{file, blocks, &m, m.min_time, m.max_time};
    if (!Decode(c, &records, &why)) {
      return fail(MakeError(Errc::kIo, At(p.path, m.offset, why) + "; not compacted"));
    }
    for (Record& r : records) {
      options_.normalize(r);
      ForEachRecordToken(r.raw, r.fields(),
                         [&](std::string_view t) { tokens.Insert(TokenHash(t)); });
      if (datasets.size() < 256) datasets.emplace(DatasetOf(r));
      // Background work, so the costly check is done here rather than during ingest. The
      // dataset counts as metadata only when the block's meta lists it (Search looks there).
      const std::string allowed[] = {
          LowerAsciiCopy(r.source), FormatName(r.format), LowerAsciiCopy(r.tenant),
          datasets.contains(DatasetOf(r)) ? LowerAsciiCopy(DatasetOf(r)) : std::string()};
      const bool in_raw =
          ForEachFieldTokenNotIn(LowerAsciiCopy(r.raw), r.fields(), allowed,
                                 [&](std::string_view t) { tokens.Insert(FieldOnlyTokenHash(t)); });
      pending_flags.push_back(in_raw ? kFlagFieldsInRaw : 0);
      pending_raw += r.raw.size();
      r.fields() = {};
      pending.push_back(std::move(r));
      if (pending.size() >= options_.archive_block_records ||
          pending_raw >= options_.archive_block_raw_bytes ||
          (pending.size() % (4 * kBloomCheckEvery) == 0 && tokens.Distinct() >= max_tokens)) {
        if (auto s = flush(); !s) return fail(s.error());
      }
    }
  }
  if (auto s = flush(); !s) return fail(s.error());
  return rw;
}

Status EmbeddedStore::Compact(int64_t before_ms) {
  // The recompression runs without the writer lock: Append waits only for the two short steps
  // under it (sealing the partition's open block at the ingest level, and the swap: copying the
  // blocks sealed meanwhile, fdatasync, rename, directory fsync). A crash at any moment leaves
  // the old file (plus a .tmp that open removes) or the new one, each whole.
  std::lock_guard maintenance(maintenance_mu_);
  auto worth = [&](const Partition& p) {
    const auto& blocks = *p.blocks;
    return blocks.size() + (p.open.records.empty() ? 0 : 1) > 1 ||
           std::any_of(blocks.begin(), blocks.end(), [&](const BlockMeta& m) {
             // An ingest block (Bloom filter, no raw-text flags) also when the archive level is
             // the ingest level.
             return m.level != static_cast<uint32_t>(options_.archive_level) || m.bloom_k != 0;
           });
  };
  std::vector<std::pair<std::string, int64_t>> keys;
  {
    std::lock_guard writer(writer_mu_);
    if (!failed_) return failed_;
    std::shared_lock lock(state_mu_);
    for (auto& [key, p] : partitions_)
      if ((p->day + 1) * kDayMs <= before_ms && worth(*p)) keys.push_back(key);
  }
  for (const auto& key : keys) {
    // Partitions are only erased by EnforceRetention, which maintenance_mu_ keeps out: p stays.
    Partition* p = nullptr;
    std::shared_ptr<File> file;
    std::shared_ptr<const std::vector<BlockMeta>> snapshot;
    {
      std::lock_guard writer(writer_mu_);
      if (!failed_) return failed_;
      {
        std::shared_lock lock(state_mu_);
        auto it = partitions_.find(key);
        if (it != partitions_.end() && worth(*it->second)) p = it->second.get();
      }
      if (p == nullptr) continue;  // compacted already
      if (auto s = Seal(p, options_.ingest_level); !s) {
        failed_ = s.error();  // sticky (Flush says why)
        return s;
      }
      file = p->file;
      snapshot = p->blocks;
    }
    if (!file || snapshot->empty()) continue;
    ASSIGN_OR_RETURN(Rewrite rw, RecompressPartition(*p, file, snapshot));
    const fs::path tmp = rw.file->path;
    auto fail = [&](Error e) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return e;
    };
    std::lock_guard writer(writer_mu_);
    // Blocks sealed into the old file since the snapshot (late records of that day) follow the
    // snapshot's blocks there; they move over as they are.
    const std::shared_ptr<const std::vector<BlockMeta>> current = p->blocks;
    std::string bytes;
    for (size_t i = snapshot->size(); i < current->size(); ++i) {
      BlockMeta m = (*current)[i];
      const uint64_t len = m.end() - m.offset;
      if (auto s = ReadFull(file->fd, m.offset, static_cast<size_t>(len), &bytes, file->path); !s) {
        return fail(s.error());
      }
      if (auto s = WriteFull(rw.file->fd, rw.end, bytes, tmp); !s) return fail(s.error());
      m.offset = rw.end;
      rw.end += len;
      rw.metas.push_back(std::move(m));
    }
    if (auto s = SyncFd(rw.file->fd, tmp, options_.sync); !s) return fail(s.error());
    if (::rename(tmp.c_str(), p->path.c_str()) != 0) {
      return fail(ErrnoError("renaming " + tmp.string(), errno));
    }
    // Renamed: from here the new file is the partition, whatever happens to the directory sync.
    rw.file->path = p->path;
    {
      std::unique_lock lock(state_mu_);
      p->file = std::move(rw.file);
      p->blocks = std::make_shared<const std::vector<BlockMeta>>(std::move(rw.metas));
      p->end = rw.end;
    }
    RETURN_IF_ERROR(SyncDir(p->path.parent_path(), options_.sync));
    // The new file is durable: index it, so opening the store reads one small file for this
    // partition. Compaction itself has succeeded whatever happens here; without the index the
    // next open scans the file and writes it.
    (void)WritePartitionIndex(*p->file, kFileHeaderBytes, *p->blocks);
  }
  return {};
}

StoreStats EmbeddedStore::Stats() {
  StoreStats s;
  std::shared_lock lock(state_mu_);
  for (const auto& [key, p] : partitions_) {
    ++s.partitions;
    s.blocks += p->blocks->size();
    s.stored_bytes += p->end;
    s.index_memory_bytes += sizeof(Partition) + p->blocks->capacity() * sizeof(BlockMeta);
    for (const auto& m : *p->blocks) {
      s.records += m.records;
      s.raw_bytes += m.raw_bytes;
      for (const auto* set : {&m.tenants, &m.datasets, &m.sources}) {
        s.index_memory_bytes += set->capacity() * sizeof(std::string);
        // libstdc++ keeps up to 15 bytes inside the string itself.
        for (const auto& v : *set) s.index_memory_bytes += v.capacity() > 15 ? v.capacity() + 1 : 0;
      }
    }
    s.open_records += p->open.records.size();
    for (const auto& r : p->open.records) s.raw_bytes += r.raw.size();
  }
  s.records += s.open_records;
  s.stored_bytes += journal_size_;
  s.next_seq = next_seq_;
  return s;
}

}  // namespace

Result<std::unique_ptr<LogStore>> OpenEmbeddedStore(EmbeddedStoreOptions options) {
  auto store = std::make_unique<EmbeddedStore>(std::move(options));
  RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<LogStore>(std::move(store));
}

}  // namespace seccloud::soc
