#include "socd/tailers.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <set>

#include "core/spool_reader.h"
#include "core/text.h"

namespace seccloud::socd {
namespace {

namespace fs = std::filesystem;

// Parses "a:b:c" of unsigned numbers.
bool ParseTriple(const std::string& s, uint64_t* a, uint64_t* b, uint64_t* c) {
  const char* p = s.data();
  const char* end = s.data() + s.size();
  uint64_t* out[] = {a, b, c};
  for (int i = 0; i < 3; ++i) {
    auto r = std::from_chars(p, end, *out[i]);
    if (r.ec != std::errc()) return false;
    p = r.ptr;
    if (i < 2) {
      if (p == end || *p != ':') return false;
      ++p;
    }
  }
  return p == end;
}

// Written with to_chars into one buffer: three to_string and two concatenations were ~720
// instructions a spool record.
std::string Triple(uint64_t a, uint64_t b, uint64_t c) {
  char buf[3 * 20 + 2];
  char* p = buf;
  char* const end = buf + sizeof buf;
  p = std::to_chars(p, end, a).ptr;
  *p++ = ':';
  p = std::to_chars(p, end, b).ptr;
  *p++ = ':';
  p = std::to_chars(p, end, c).ptr;
  return std::string(buf, p);
}

// Pushes with back-pressure: waits while the queue is full, gives up only when stopping.
bool PushWaiting(IngestQueue& queue, IngestItem& item, const std::atomic<bool>& stop) {
  while (!stop.load()) {
    if (queue.Push(item, std::chrono::milliseconds(200))) return true;
  }
  return false;
}

// Hands all of `items` to the queue, a lock per attempt rather than per record, waiting while it
// is full; clears `items`. False only when stopping (or the queue closed).
bool PushAllWaiting(IngestQueue& queue, std::vector<IngestItem>& items,
                    const std::atomic<bool>& stop) {
  size_t next = 0;
  while (next < items.size()) {
    if (stop.load() || !queue.PushSome(items, &next, std::chrono::milliseconds(200))) return false;
  }
  items.clear();
  return true;
}

}  // namespace

std::string SpoolCheckpointKey(const std::string& service) { return "spool:" + service; }

struct SpoolTailer::Tail {
  std::string service;
  std::string source;          // "spool:<service>", each record's source
  std::string checkpoint_key;  // SpoolCheckpointKey(service)
  std::unique_ptr<SpoolReader> reader;
  Counter* received = nullptr;
  Counter* gaps = nullptr;
  Counter* errors = nullptr;
  bool open_failed_reported = false;
  std::set<std::string> ignored_reported;  // spool files named with first seq 0
};

SpoolTailer::SpoolTailer(SpoolTailOptions options, std::map<std::string, std::string> checkpoints,
                         IngestQueue& queue, MetricsRegistry& metrics, ProblemSink problems)
    : options_(std::move(options)),
      checkpoints_(std::move(checkpoints)),
      queue_(queue),
      metrics_(metrics),
      problems_(std::move(problems)) {}

SpoolTailer::~SpoolTailer() { Stop(); }

void SpoolTailer::Start() {
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "soc-spool");
    Loop();
  });
}

void SpoolTailer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void SpoolTailer::Discover() {
  std::vector<std::string> names = options_.services;
  if (options_.all_services) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(options_.spool_dir, ec)) {
      std::error_code ec2;
      if (e.is_directory(ec2) && IsIdentifier(e.path().filename().string()))
        names.push_back(e.path().filename().string());
    }
  }
  for (const std::string& name : names) {
    auto& t = tails_[name];
    if (!t) {
      t = std::make_unique<Tail>();
      t->service = name;
      t->source = "spool:" + name;
      t->checkpoint_key = SpoolCheckpointKey(name);
      const std::string labels = "source=\"" + PrometheusLabelValue("spool:" + name) + "\"";
      t->received = &metrics_.GetCounter("seccloud_soc_received_total",
                                         "Records received, by source", labels);
      t->gaps = &metrics_.GetCounter("seccloud_soc_spool_gaps_total",
                                     "Sequence gaps found in event spools", labels);
      t->errors = &metrics_.GetCounter("seccloud_soc_spool_errors_total",
                                       "Unreadable spool lines and files", labels);
    }
    // A file named with first seq 0 is not the writer's, and a position in it would read as
    // "from the start" (a restart would read the oldest file again): the reader skips it, and it
    // is reported here, once.
    std::vector<fs::path> ignored;
    if (ListSpoolFiles(options_.spool_dir / name, name, &ignored)) {
      for (const fs::path& path : ignored)
        if (t->ignored_reported.insert(path.string()).second)
          problems_("spool:" + name, path.string() +
                                         ": ignored: a spool file's first seq is never 0 (the "
                                         "writer counts from 1)");
    }
    if (t->reader) continue;
    SpoolPosition from;
    if (auto it = checkpoints_.find(SpoolCheckpointKey(name)); it != checkpoints_.end()) {
      if (!ParseTriple(it->second, &from.file_first_seq, &from.offset, &from.next_seq)) {
        problems_("spool:" + name, "the saved position " + Quote(it->second) +
                                       " is unreadable; reading the spool from its start");
        from = {};
      }
    }
    // The pipeline parses each line itself: the reader only checks it (no parsed copy).
    auto r = SpoolReader::Open(options_.spool_dir / name, name, from, /*parse_events=*/false);
    if (!r) {
      if (!t->open_failed_reported) problems_("spool:" + name, r.error().message);
      t->open_failed_reported = true;
      continue;
    }
    t->reader = std::move(*r);
  }
}

bool SpoolTailer::Drain(Tail& t) {
  bool any = false;
  std::vector<IngestItem>& items = items_;  // empty; keeps its capacity from round to round
  // A bounded run per spool per round, so one busy service does not starve the others.
  for (int i = 0; i < 4096 && !stop_.load(); ++i) {
    auto next = t.reader->Next();
    if (!next) {
      const bool gap = t.reader->last_gap().has_value() &&
                       next.error().message.find("seq gap") != std::string::npos;
      (gap ? t.gaps : t.errors)->Increment();
      problems_("spool:" + t.service, next.error().message);
      any = true;
      continue;
    }
    if (!next->has_value()) break;
    SpoolRecord& rec = **next;
    IngestItem& item = items.emplace_back();  // filled in place: no move of a whole item
    item.record.format = soc::Format::kSeccloudEvent;
    item.record.source = t.source;
    item.record.received_ms = WallClockMs();
    if (rec.line.size() > soc::kMaxRawBytes) {
      rec.line.resize(soc::kMaxRawBytes);
      item.record.truncated = true;
    }
    item.record.raw = std::move(rec.line);
    const SpoolPosition& p = t.reader->position();
    item.checkpoint_key = t.checkpoint_key;
    item.checkpoint_value = Triple(p.file_first_seq, p.offset, p.next_seq);
    any = true;
  }
  // Queued together (in order, each with its position): one lock for the run, not per record.
  const size_t count = items.size();
  if (count > 0 && PushAllWaiting(queue_, items, stop_)) t.received->Increment(count);
  items.clear();  // when stopping, what was not queued
  return any;
}

void SpoolTailer::Loop() {
  auto next_discovery = std::chrono::steady_clock::time_point{};
  while (!stop_.load()) {
    if (std::chrono::steady_clock::now() >= next_discovery) {
      Discover();
      next_discovery = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
    bool any = false;
    for (auto& [name, t] : tails_)
      if (t->reader && Drain(*t)) any = true;
    if (!any) std::this_thread::sleep_for(options_.poll);
  }
}

FileTailer::FileTailer(FileTailOptions options, std::map<std::string, std::string> checkpoints,
                       IngestQueue& queue, MetricsRegistry& metrics, ProblemSink problems)
    : options_(std::move(options)),
      queue_(queue),
      received_(metrics.GetCounter("seccloud_soc_received_total", "Records received, by source",
                                   "source=\"" + PrometheusLabelValue(options_.name) + "\"")),
      truncated_(metrics.GetCounter("seccloud_soc_truncated_total",
                                    "Records cut at the maximum record size, by source",
                                    "source=\"" + PrometheusLabelValue(options_.name) + "\"")),
      problems_(std::move(problems)) {
  if (auto it = checkpoints.find("file:" + options_.name); it != checkpoints.end())
    checkpoint_ = it->second;
}

FileTailer::~FileTailer() { Stop(); }

void FileTailer::Start() {
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "soc-file");
    Loop();
  });
}

void FileTailer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool FileTailer::OpenCurrent(bool from_checkpoint) {
  const int fd = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  offset_ = 0;
  buf_.clear();
  skipping_ = false;
  uint64_t dev = 0, ino = 0, off = 0;
  if (from_checkpoint && ParseTriple(checkpoint_, &dev, &ino, &off) && dev == dev_ && ino == ino_ &&
      off <= static_cast<uint64_t>(st.st_size)) {
    offset_ = off;
  }
  return true;
}

bool FileTailer::Emit(std::string_view line, uint64_t end_offset) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  IngestItem item;
  item.record.format = options_.format;
  item.sniff_format = options_.sniff;
  item.record.source = options_.name;
  item.record.tenant = options_.tenant;
  item.record.received_ms = WallClockMs();
  if (line.size() > soc::kMaxRawBytes) {
    line = line.substr(0, soc::kMaxRawBytes);
    item.record.truncated = true;
    truncated_.Increment();
  }
  item.record.raw.assign(line);
  item.checkpoint_key = "file:" + options_.name;
  item.checkpoint_value = Triple(dev_, ino_, end_offset);
  if (!PushWaiting(queue_, item, stop_)) return false;
  received_.Increment();
  return true;
}

// Reads and emits complete lines; false when nothing new was there.
bool FileTailer::ReadSome() {
  char chunk[64 * 1024];
  const ssize_t n = ::pread(fd_, chunk, sizeof chunk, static_cast<off_t>(offset_ + buf_.size()));
  if (n <= 0) return false;
  buf_.append(chunk, static_cast<size_t>(n));
  size_t start = 0;
  while (!stop_.load()) {
    const size_t nl = buf_.find('\n', start);
    if (nl == std::string::npos) break;
    const uint64_t end = offset_ + nl + 1;
    if (skipping_) {
      skipping_ = false;  // the tail of an over-long line: its head was emitted already
    } else if (nl > start && !Emit(std::string_view(buf_).substr(start, nl - start), end)) {
      break;  // stopping
    }
    start = nl + 1;
  }
  offset_ += start;
  buf_.erase(0, start);
  if (buf_.size() > soc::kMaxRawBytes && !skipping_) {
    // An over-long line: emit its head now (marked truncated), drop the rest up to its newline.
    if (!Emit(buf_, offset_ + buf_.size())) return true;
    skipping_ = true;
  }
  if (skipping_) {
    offset_ += buf_.size();
    buf_.clear();
  }
  return true;
}

void FileTailer::Loop() {
  bool reported_missing = false;
  while (!stop_.load()) {
    if (fd_ < 0) {
      if (!OpenCurrent(true)) {
        if (!reported_missing)
          problems_(options_.name, "cannot open " + options_.path.string() + ": " +
                                       std::strerror(errno) + " (waiting for it to appear)");
        reported_missing = true;
        std::this_thread::sleep_for(options_.poll);
        continue;
      }
      reported_missing = false;
    }
    if (ReadSome()) continue;
    // At the end: rotated (another file at the path now) or truncated?
    struct stat by_path {
    }, by_fd{};
    const bool path_ok = ::stat(options_.path.c_str(), &by_path) == 0;
    if (::fstat(fd_, &by_fd) == 0 && static_cast<uint64_t>(by_fd.st_size) < offset_) {
      problems_(options_.name,
                options_.path.string() + " was truncated; reading it from the start");
      offset_ = 0;
      buf_.clear();
      skipping_ = false;
      continue;
    }
    if (path_ok && (by_path.st_ino != ino_ || by_path.st_dev != dev_)) {
      // The old file is drained (ReadSome found nothing more): its last line may lack a newline;
      // it is complete now that the writer moved on.
      if (!buf_.empty() && !skipping_ && !Emit(buf_, offset_ + buf_.size())) continue;
      OpenCurrent(false);
      continue;
    }
    std::this_thread::sleep_for(options_.poll);
  }
}

}  // namespace seccloud::socd
