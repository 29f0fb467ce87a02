#pragma once
// The lossless event spool (R18, R24): every service appends its events to NDJSON files in its own
// spool directory, and an Append that returned a sequence number is on disk (fdatasync'd). The
// SOC reads the files with SpoolReader; retention is the SOC's job, so nothing here deletes files.
//
// Files: <directory>/<service>-<first seq, 20 digits>.ndjson, e.g.
// proxy-00000000000000000001.ndjson. The highest-numbered file is the active one. Each file holds
// only complete lines, one event per line, with seccloud.seq increasing by exactly 1 from the
// number in the file name.

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/result.h"

namespace seccloud {

struct EventWriterOptions {
  // Created (with parents) if missing, e.g. <spool_root>/<service>.
  std::filesystem::path directory;
  // "<node>/<service>", e.g. "gw1/proxy": the node becomes observer.name, the service
  // observer.type and the file name prefix. Each part: 1-64 of [A-Za-z0-9._-], not starting '.'.
  std::string name;
  // A new file is started before a write that would take the active file past this size
  // (a single batch larger than this still goes into one file).
  uint64_t rotate_bytes = uint64_t{64} << 20;
};

struct EventWriterStats {
  uint64_t appended = 0;   // acknowledged events
  uint64_t bytes = 0;      // acknowledged bytes, '\n' included
  uint64_t failures = 0;   // Appends that returned an error (refused events included)
  uint64_t rotations = 0;  // files started after Open
  uint64_t fsyncs = 0;     // fdatasync calls on spool files (appended / fsyncs = group size)
};

// One spool file of a writer.
struct SpoolFile {
  uint64_t first_seq = 0;
  std::filesystem::path path;
};

// "<service>-<first_seq zero-padded to 20 digits>.ndjson"
std::string SpoolFileName(std::string_view service, uint64_t first_seq);
// The writer's files in `directory`, ascending by first_seq; other files are ignored. So is a
// file named with first seq 0, which the writer never uses (it counts from 1), and which would
// make a reader's position in it read as "from the start": it is added to `ignored` (when given)
// for the caller to report.
Result<std::vector<SpoolFile>> ListSpoolFiles(
    const std::filesystem::path& directory, std::string_view service,
    std::vector<std::filesystem::path>* ignored = nullptr);

// Creates `dir` if needed and proves that a file can be created, written, fsync'd and removed
// there. The error names the directory and the failing step (config validation reports it).
Status CheckWritable(const std::filesystem::path& dir);

// Thread-safe: any number of threads may call Append concurrently; they share fdatasync calls
// (group commit). At most one EventWriter per directory and service, across processes: Open
// takes an exclusive flock on <directory>/<service>.lock.
class EventWriter {
 public:
  // Continues the sequence of the files already in the directory. A torn last line (no '\n',
  // left by a crash mid-write) was never acknowledged and is truncated away. A last complete line
  // that is not an event with seccloud.seq is an error: the writer would not know how to continue.
  static Result<std::unique_ptr<EventWriter>> Open(EventWriterOptions options);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // Sets seccloud.seq (always) and observer.name/observer.type (when absent), appends the event
  // as one line and returns its seq once the line is durable. On error nothing of the event is
  // left in the file and the seq is not used up: the next acknowledged event takes it, so an
  // acknowledged sequence never has gaps. Errors: the event's own error() or a line over
  // kMaxEventBytes (kInvalidArgument, health unaffected); a full disk (kResourceExhausted) or
  // another I/O error, after which healthy() is false until a later write succeeds.
  // `event` must stay untouched by other threads until Append returns.
  Result<uint64_t> Append(Event& event);
  // Appends several events in order, sharing one write and one fdatasync when no other thread
  // is writing; results[i] belongs to events[i], with the same guarantees as Append.
  std::vector<Result<uint64_t>> AppendAll(std::span<Event* const> events);

  bool healthy() const;
  std::string last_error() const;  // empty until the first failure
  EventWriterStats stats() const;
  // The seq the next acknowledged event will get.
  uint64_t next_seq() const;
  // Bytes of a torn last line removed by Open (0 when the spool was clean).
  uint64_t truncated_on_open() const { return truncated_on_open_; }

 private:
  struct Request;
  struct BatchResult;

  explicit EventWriter(EventWriterOptions options);
  Status OpenFiles();
  Status RecoverActiveFile(const SpoolFile& file);
  Status StartFile(uint64_t first_seq);
  // Leader only, without mu_: serialises, writes, syncs; fills each request's result.
  BatchResult WriteBatch(const std::vector<Request*>& batch);
  Status WriteDurably(const std::string& lines, uint64_t first_seq, BatchResult& out);

  const EventWriterOptions options_;
  std::string node_;
  std::string service_;

  // Owned by the current leader (or Open); never touched by two threads at once.
  int dir_fd_ = -1;
  int lock_fd_ = -1;
  int fd_ = -1;
  std::filesystem::path active_path_;
  uint64_t durable_size_ = 0;    // the active file's length up to its last acknowledged line
  bool needs_truncate_ = false;  // a rollback to durable_size_ failed; retry before writing
  uint64_t next_seq_ = 1;
  uint64_t truncated_on_open_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request*> queue_;      // guarded by mu_
  bool leader_active_ = false;       // guarded by mu_
  EventWriterStats stats_;           // guarded by mu_
  bool healthy_ = true;              // guarded by mu_
  std::string last_error_;           // guarded by mu_
  uint64_t published_next_seq_ = 1;  // guarded by mu_
};

}  // namespace seccloud
