#include "core/event_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <system_error>
#include <utility>

namespace seccloud {
namespace {

constexpr std::string_view kSpoolSuffix = ".ndjson";
constexpr FieldPath kObserverName{"observer.name"}, kObserverType{"observer.type"},
    kSeq{"seccloud.seq"};
constexpr size_t kSeqDigits = 20;
// The tail read when recovering: the last line plus the '\n' before it always fit.
constexpr uint64_t kMaxTailRead = 2 * kMaxEventBytes + 2;

bool ValidNamePart(std::string_view part) {
  if (part.empty() || part.size() > 64 || part[0] == '.') return false;
  return std::all_of(part.begin(), part.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// pread until `n` bytes or end of file; returns bytes read or -errno.
ssize_t PreadFull(int fd, char* buf, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

int FsyncRetry(int fd, bool data_only) {
  int r;
  do r = data_only ? ::fdatasync(fd) : ::fsync(fd);
  while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

// Parses seccloud.seq out of one line (without '\n').
std::optional<uint64_t> LineSeq(std::string_view line) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(line.data(), line.size()), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* seccloud = v.get_object().if_contains("seccloud");
  if (!seccloud || !seccloud->is_object()) return std::nullopt;
  const auto* seq = seccloud->get_object().if_contains("seq");
  if (!seq) return std::nullopt;
  uint64_t n = seq->to_number<uint64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

}  // namespace

// ---- files ----

std::string SpoolFileName(std::string_view service, uint64_t first_seq) {
  char digits[kSeqDigits + 1];
  std::snprintf(digits, sizeof(digits), "%020llu", static_cast<unsigned long long>(first_seq));
  return std::string(service) + "-" + digits + std::string(kSpoolSuffix);
}

Result<std::vector<SpoolFile>> ListSpoolFiles(const std::filesystem::path& directory,
                                              std::string_view service,
                                              std::vector<std::filesystem::path>* ignored) {
  std::vector<SpoolFile> files;
  std::error_code ec;
  std::filesystem::directory_iterator it(directory, ec), end;
  if (ec) return ErrnoError("list spool directory " + directory.string(), ec.value());
  const std::string prefix = std::string(service) + "-";
  for (; it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != prefix.size() + kSeqDigits + kSpoolSuffix.size() ||
        name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - kSpoolSuffix.size(), kSpoolSuffix.size(), kSpoolSuffix) != 0) {
      continue;
    }
    uint64_t seq = 0;
    const char* first = name.data() + prefix.size();
    auto [ptr, parse_ec] = std::from_chars(first, first + kSeqDigits, seq);
    if (parse_ec != std::errc() || ptr != first + kSeqDigits) continue;
    if (seq == 0) {
      if (ignored) ignored->push_back(it->path());
      continue;
    }
    files.push_back(SpoolFile{seq, it->path()});
  }
  if (ec) return ErrnoError("list spool directory " + directory.string(), ec.value());
  std::sort(files.begin(), files.end(),
            [](const SpoolFile& a, const SpoolFile& b) { return a.first_seq < b.first_seq; });
  return files;
}

Status CheckWritable(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return ErrnoError("spool directory " + dir.string() + " cannot be created", ec.value());
  }
  const std::filesystem::path probe =
      dir / (".seccloud-writable-" + std::to_string(::getpid()) + "-" + NewEventId());
  const std::string what = "spool directory " + dir.string() + " is not writable: ";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(what + "create " + probe.filename().string(), errno);
  static constexpr char kProbe[] = "seccloud spool write check\n";
  ssize_t n;
  do n = ::write(fd, kProbe, sizeof(kProbe) - 1);
  while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : (n != sizeof(kProbe) - 1 ? ENOSPC : 0);
  std::string step = "write";
  if (err == 0) {
    err = FsyncRetry(fd, false);
    step = "fsync";
  }
  ::close(fd);
  const int unlink_err = ::unlink(probe.c_str()) < 0 ? errno : 0;
  if (err) return ErrnoError(what + step + " " + probe.filename().string(), err);
  if (unlink_err) return ErrnoError(what + "remove " + probe.filename().string(), unlink_err);
  return {};
}

// ---- writer ----

struct EventWriter::Request {
  Event* event;
  bool done = false;  // guarded by mu_
  Result<uint64_t> result = MakeError(Errc::kInternal, "event not processed");
};

struct EventWriter::BatchResult {
  uint64_t appended = 0;
  uint64_t bytes = 0;
  uint64_t failures = 0;
  uint64_t rotations = 0;
  uint64_t fsyncs = 0;
  bool io_failed = false;  // the write itself failed: health turns red
  bool io_succeeded = false;
  std::string error;
};

EventWriter::EventWriter(EventWriterOptions options) : options_(std::move(options)) {}

EventWriter::~EventWriter() {
  CloseFd(fd_);
  CloseFd(dir_fd_);
  CloseFd(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<EventWriter>> EventWriter::Open(EventWriterOptions options) {
  const size_t slash = options.name.find('/');
  if (slash == std::string::npos || !ValidNamePart(options.name.substr(0, slash)) ||
      !ValidNamePart(options.name.substr(slash + 1))) {
    return MakeError(Errc::kInvalidArgument,
                     "event writer name \"" + SanitizeUtf8(options.name) +
                         "\" is not <node>/<service> (each 1-64 of [A-Za-z0-9._-], not "
                         "starting with '.')");
  }
  if (options.rotate_bytes == 0) {
    return MakeError(Errc::kInvalidArgument, "event writer rotate_bytes must be positive");
  }
  if (options.directory.empty()) {
    return MakeError(Errc::kInvalidArgument, "event writer spool directory is empty");
  }
  std::unique_ptr<EventWriter> writer(new EventWriter(std::move(options)));
  writer->node_ = writer->options_.name.substr(0, slash);
  writer->service_ = writer->options_.name.substr(slash + 1);
  RETURN_IF_ERROR(writer->OpenFiles());
  writer->published_next_seq_ = writer->next_seq_;
  return writer;
}

Status EventWriter::OpenFiles() {
  const std::filesystem::path& dir = options_.directory;
  std::error_code ec;
  const bool created = std::filesystem::create_directories(dir, ec);
  if (ec) return ErrnoError("create spool directory " + dir.string(), ec.value());
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) return ErrnoError("open spool directory " + dir.string(), errno);
  if (created) {
    // Make the new directory's own entry durable, or a crash could lose the whole spool.
    int parent = ::open(dir.parent_path().empty() ? "." : dir.parent_path().c_str(),
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent >= 0) {
      FsyncRetry(parent, false);
      ::close(parent);
    }
  }

  const std::filesystem::path lock_path = dir / (service_ + ".lock");
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd_ < 0) return ErrnoError("create lock file " + lock_path.string(), errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) {
      return MakeError(Errc::kUnavailable, "spool " + dir.string() + " for " + service_ +
                                               " is already open by another writer (" +
                                               lock_path.string() + " is locked)");
    }
    return ErrnoError("lock " + lock_path.string(), errno);
  }

  std::vector<std::filesystem::path> ignored;
  ASSIGN_OR_RETURN(std::vector<SpoolFile> files, ListSpoolFiles(dir, service_, &ignored));
  for (const auto& path : ignored)
    std::fprintf(stderr,
                 "seccloud: %s: ignored: a spool file's first seq is never 0 (the writer counts "
                 "from 1)\n",
                 path.c_str());
  if (files.empty()) {
    next_seq_ = 1;
    return StartFile(1);
  }
  return RecoverActiveFile(files.back());
}

Status EventWriter::RecoverActiveFile(const SpoolFile& file) {
  const std::string name = file.path.string();
  fd_ = ::open(file.path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) return ErrnoError("open spool file " + name, errno);
  active_path_ = file.path;
  struct stat st;
  if (::fstat(fd_, &st) < 0) return ErrnoError("stat spool file " + name, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  // Read backwards until the tail holds the last '\n' and the one before it (or the file start).
  std::string tail;
  uint64_t tail_start = size;
  size_t last_nl = std::string::npos;  // offsets within `tail`
  size_t prev_nl = std::string::npos;
  while (tail_start > 0) {
    const uint64_t chunk = std::min<uint64_t>(64 * 1024, tail_start);
    tail_start -= chunk;
    std::string buf(chunk, '\0');
    ssize_t n = PreadFull(fd_, buf.data(), chunk, tail_start);
    if (n < 0) return ErrnoError("read spool file " + name, static_cast<int>(-n));
    if (static_cast<uint64_t>(n) != chunk) {
      return MakeError(Errc::kIo, "spool file " + name + " shrank while being recovered");
    }
    tail.insert(0, buf);
    last_nl = tail.rfind('\n');
    if (last_nl != std::string::npos && last_nl > 0) {
      prev_nl = tail.rfind('\n', last_nl - 1);
      if (prev_nl != std::string::npos) break;
    }
    if (size - tail_start > kMaxTailRead) break;
  }

  uint64_t keep;  // file length after dropping a torn tail
  if (last_nl == std::string::npos) {
    if (tail_start > 0) {
      return MakeError(Errc::kInternal, "spool file " + name + " has no line end in its last " +
                                            std::to_string(kMaxTailRead) +
                                            " bytes; it is not an event spool, refusing to "
                                            "append to it");
    }
    keep = 0;  // a single torn line: the file never held an acknowledged event
  } else {
    keep = tail_start + last_nl + 1;
  }
  if (keep < size) {
    if (::ftruncate(fd_, static_cast<off_t>(keep)) < 0) {
      return ErrnoError("truncate torn tail of spool file " + name, errno);
    }
    if (int err = FsyncRetry(fd_, true)) return ErrnoError("fdatasync spool file " + name, err);
    truncated_on_open_ = size - keep;
  }
  durable_size_ = keep;
  if (keep == 0) {
    next_seq_ = file.first_seq;
    return {};
  }
  const size_t line_start = prev_nl == std::string::npos ? 0 : prev_nl + 1;
  if (prev_nl == std::string::npos && tail_start > 0) {
    return MakeError(Errc::kInternal, "spool file " + name + ": last line is longer than " +
                                          std::to_string(kMaxEventBytes) + " bytes");
  }
  const std::string_view line(tail.data() + line_start, last_nl - line_start);
  const std::optional<uint64_t> seq = LineSeq(line);
  if (!seq) {
    return MakeError(Errc::kInternal,
                     "spool file " + name + ": last line (offset " +
                         std::to_string(tail_start + line_start) +
                         ") is not an event with seccloud.seq; refusing to append after it");
  }
  if (*seq < file.first_seq || *seq == UINT64_MAX) {
    return MakeError(Errc::kInternal, "spool file " + name + ": last line has seccloud.seq " +
                                          std::to_string(*seq) + ", outside the file's range");
  }
  next_seq_ = *seq + 1;
  return {};
}

Status EventWriter::StartFile(uint64_t first_seq) {
  const std::filesystem::path path = options_.directory / SpoolFileName(service_, first_seq);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoError("create spool file " + path.string(), errno);
  // The new name must survive a crash before any line in it is acknowledged.
  if (int err = FsyncRetry(dir_fd_, false)) {
    ::close(fd);
    ::unlink(path.c_str());
    return ErrnoError("fsync spool directory " + options_.directory.string(), err);
  }
  CloseFd(fd_);
  fd_ = fd;
  active_path_ = path;
  durable_size_ = 0;
  needs_truncate_ = false;
  return {};
}

Result<uint64_t> EventWriter::Append(Event& event) {
  Event* one = &event;
  return std::move(AppendAll(std::span<Event* const>(&one, 1))[0]);
}

std::vector<Result<uint64_t>> EventWriter::AppendAll(std::span<Event* const> events) {
  std::vector<Request> requests;
  requests.reserve(events.size());
  for (Event* e : events) {
    if (!e->Has(kObserverName.view())) e->Set(kObserverName, node_);
    if (!e->Has(kObserverType.view())) e->Set(kObserverType, service_);
    requests.push_back(Request{e});
  }
  std::unique_lock lock(mu_);
  for (Request& r : requests) queue_.push_back(&r);
  auto all_done = [&] {
    for (const Request& r : requests)
      if (!r.done) return false;
    return true;
  };
  while (!all_done()) {
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    // Group commit: whoever finds no leader writes everything queued so far with one write and
    // one fdatasync, while new arrivals queue up for the next round.
    leader_active_ = true;
    std::vector<Request*> batch;
    batch.swap(queue_);
    lock.unlock();
    BatchResult r = WriteBatch(batch);
    lock.lock();
    stats_.appended += r.appended;
    stats_.bytes += r.bytes;
    stats_.failures += r.failures;
    stats_.rotations += r.rotations;
    stats_.fsyncs += r.fsyncs;
    if (r.io_failed) {
      healthy_ = false;
    } else if (r.io_succeeded) {
      healthy_ = true;
    }
    if (!r.error.empty()) last_error_ = std::move(r.error);
    published_next_seq_ = next_seq_;
    for (Request* q : batch) q->done = true;
    leader_active_ = false;
    cv_.notify_all();
  }
  std::vector<Result<uint64_t>> results;
  results.reserve(requests.size());
  for (Request& r : requests) results.push_back(std::move(r.result));
  return results;
}

EventWriter::BatchResult EventWriter::WriteBatch(const std::vector<Request*>& batch) {
  BatchResult out;
  std::string lines;
  std::vector<Request*> included;
  included.reserve(batch.size());
  const uint64_t first_seq = next_seq_;
  uint64_t seq = first_seq;
  for (Request* q : batch) {
    Event& e = *q->event;
    e.Set(kSeq, seq);
    if (e.error()) {
      q->result = MakeError(Errc::kInvalidArgument, "event refused: " + e.error()->message);
      ++out.failures;
      out.error = q->result.error().message;
      continue;
    }
    const size_t line_start = lines.size();
    e.AppendJsonLine(lines);
    const size_t line_size = lines.size() - line_start;
    if (line_size > kMaxEventBytes) {
      lines.resize(line_start);
      const std::string_view dataset = e.FindString("event.dataset").value_or("-");
      const std::string_view id = e.FindString("event.id").value_or("-");
      q->result = MakeError(Errc::kInvalidArgument,
                            "event refused: " + std::to_string(line_size) +
                                " bytes serialised exceeds the " + std::to_string(kMaxEventBytes) +
                                "-byte limit (event.dataset " + std::string(dataset) +
                                ", event.id " + std::string(id) + ")");
      ++out.failures;
      out.error = q->result.error().message;
      continue;
    }
    included.push_back(q);
    ++seq;
  }
  if (included.empty()) return out;

  Status s = WriteDurably(lines, first_seq, out);
  if (!s) {
    for (Request* q : included) q->result = s.error();
    out.failures += included.size();
    out.io_failed = true;
    out.error = s.error().message;
    return out;
  }
  for (size_t i = 0; i < included.size(); ++i) included[i]->result = first_seq + i;
  next_seq_ = seq;
  out.appended = included.size();
  out.bytes = lines.size();
  out.io_succeeded = true;
  return out;
}

Status EventWriter::WriteDurably(const std::string& lines, uint64_t first_seq, BatchResult& out) {
  if (needs_truncate_) {
    if (::ftruncate(fd_, static_cast<off_t>(durable_size_)) < 0) {
      return ErrnoError(
          "truncate spool file " + active_path_.string() + " back to its last acknowledged line",
          errno);
    }
    needs_truncate_ = false;
  }
  if (durable_size_ > 0 && durable_size_ + lines.size() > options_.rotate_bytes) {
    RETURN_IF_ERROR(StartFile(first_seq));
    ++out.rotations;
  }
  // Any failure below leaves a partial batch in the file; cut it off so the file keeps only
  // complete, acknowledged lines and the seqs can be reused without duplicates.
  auto rollback = [&](const std::string& what, int err) {
    if (::ftruncate(fd_, static_cast<off_t>(durable_size_)) < 0) needs_truncate_ = true;
    return ErrnoError(what + " " + active_path_.string(), err);
  };
  size_t written = 0;
  while (written < lines.size()) {
    ssize_t n = ::write(fd_, lines.data() + written, lines.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return rollback("write", errno);
    }
    if (n == 0) return rollback("write", EIO);
    written += static_cast<size_t>(n);
  }
  ++out.fsyncs;
  if (int err = FsyncRetry(fd_, true)) return rollback("fdatasync", err);
  durable_size_ += lines.size();
  return {};
}

bool EventWriter::healthy() const {
  std::lock_guard lock(mu_);
  return healthy_;
}

std::string EventWriter::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

EventWriterStats EventWriter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

uint64_t EventWriter::next_seq() const {
  std::lock_guard lock(mu_);
  return published_next_seq_;
}

}  // namespace seccloud
