#pragma once
// The SOC's file-based receivers (R18): seccloud's own event spools and plain log files (Suricata's
// eve.json, nginx's access.log …), each followed from the position the store last committed, so a
// restart neither loses nor repeats a record.

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "socd/ingest_queue.h"

namespace seccloud::socd {

// Called for problems a person should hear about (a seq gap, an unreadable line); the service
// turns them into system events.
using ProblemSink = std::function<void(const std::string& source, const std::string& message)>;

struct SpoolTailOptions {
  std::filesystem::path spool_dir;
  bool all_services = true;           // every subdirectory, rediscovered as services appear
  std::vector<std::string> services;  // else these
  std::chrono::milliseconds poll{200};
};

// "spool:<service>" → "<file_first_seq>:<offset>:<next_seq>".
std::string SpoolCheckpointKey(const std::string& service);

// One thread following every spool. Checkpoints come from the store (LogStore::LoadCheckpoints).
class SpoolTailer {
 public:
  SpoolTailer(SpoolTailOptions options, std::map<std::string, std::string> checkpoints,
              IngestQueue& queue, MetricsRegistry& metrics, ProblemSink problems);
  ~SpoolTailer();
  void Start();
  void Stop();

 private:
  void Loop();
  struct Tail;
  void Discover();
  // Reads what is there; false when nothing was.
  bool Drain(Tail& t);

  const SpoolTailOptions options_;
  std::map<std::string, std::string> checkpoints_;
  IngestQueue& queue_;
  MetricsRegistry& metrics_;
  ProblemSink problems_;
  std::map<std::string, std::unique_ptr<Tail>> tails_;
  // Drain's records before they are queued; a member so that its capacity (up to a round of
  // 4,096 items, ~1.1 MiB) is not grown again, item by item, every round.
  std::vector<IngestItem> items_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct FileTailOptions {
  std::string name;  // the input's name: record source and checkpoint key "file:<name>"
  std::filesystem::path path;
  soc::Format format = soc::Format::kText;
  bool sniff = true;   // format "auto": sniff each line
  std::string tenant;  // fixed tenant, or ""
  std::chrono::milliseconds poll{200};
};

// Follows one file like `tail -F`: a rotated file (new inode at the path) is read to its end
// before the new one is opened; a truncated file is read again from the start. Checkpoint value:
// "<device>:<inode>:<offset>".
class FileTailer {
 public:
  FileTailer(FileTailOptions options, std::map<std::string, std::string> checkpoints,
             IngestQueue& queue, MetricsRegistry& metrics, ProblemSink problems);
  ~FileTailer();
  void Start();
  void Stop();

 private:
  void Loop();
  bool ReadSome();
  bool OpenCurrent(bool from_checkpoint);
  bool Emit(std::string_view line, uint64_t end_offset);

  const FileTailOptions options_;
  std::string checkpoint_;
  IngestQueue& queue_;
  Counter& received_;
  Counter& truncated_;
  ProblemSink problems_;
  int fd_ = -1;
  uint64_t dev_ = 0, ino_ = 0, offset_ = 0;
  std::string buf_;        // bytes after offset_ not yet consumed
  bool skipping_ = false;  // inside an over-long line, after its first kMaxRawBytes
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace seccloud::socd
