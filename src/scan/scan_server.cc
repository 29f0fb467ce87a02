#include "scan/scan_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "scan/internal.h"

namespace seccloud::scan {
namespace {

constexpr int kAcceptPollMs = 200;

enum class ReadStatus { kOk, kClosed, kTimeout, kError };

ReadStatus ReadExactly(int fd, uint8_t* out, size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, out, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? ReadStatus::kTimeout : ReadStatus::kError;
    }
    if (r == 0) return ReadStatus::kClosed;
    out += r;
    n -= static_cast<size_t>(r);
  }
  return ReadStatus::kOk;
}

void SendAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t w = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s.remove_prefix(static_cast<size_t>(w));
  }
}

Verdict ErrorVerdict(std::string why, const Scanner& scanner) {
  Verdict v;
  v.result = Verdict::kError;
  v.action = "block";
  v.engine = "scand";
  v.db_version = scanner.db_version();
  v.error = std::move(why);
  return v;
}

// Where a stream goes while it arrives: memory up to the spill size, an unnamed temporary file
// beyond it.
class StreamSink {
 public:
  StreamSink(uint64_t spill, std::filesystem::path temp_dir)
      : spill_(spill), temp_dir_(temp_dir.empty() ? "/tmp" : std::move(temp_dir)) {}
  ~StreamSink() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(const uint8_t* p, size_t n) {
    if (fd_ < 0 && memory_.size() + n <= spill_) {
      memory_.insert(memory_.end(), p, p + n);
      return {};
    }
    if (fd_ < 0) {
      fd_ = ::open(temp_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (fd_ < 0) return ErrnoError("temporary file in " + temp_dir_.string(), errno);
      RETURN_IF_ERROR(WriteFd(memory_.data(), memory_.size()));
      memory_.clear();
      memory_.shrink_to_fit();
    }
    return WriteFd(p, n);
  }
  bool spilled() const { return fd_ >= 0; }
  std::span<const uint8_t> memory() const { return memory_; }
  std::filesystem::path file() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  Status WriteFd(const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoError("writing temporary file", errno);
      p += w;
      n -= static_cast<size_t>(w);
    }
    return {};
  }
  uint64_t spill_;
  std::filesystem::path temp_dir_;
  std::vector<uint8_t> memory_;
  int fd_ = -1;
};

}  // namespace

seccloud::Result<std::unique_ptr<ScanServer>> ScanServer::Start(
    ServerOptions options, std::shared_ptr<const Scanner> scanner, ScanObserver observer) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& p = options.socket.native();
  if (p.empty() || p.size() >= sizeof addr.sun_path)
    return MakeError(Errc::kInvalidArgument, "scan.socket: bad Unix socket path \"" + p + "\"");
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  // A socket file left by a crashed scand would make bind fail; nobody answers on it.
  struct stat st {};
  if (::lstat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(p.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 256) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError("scan.socket " + p, err);
  }
  // The proxy and mail run as other users of the same node.
  ::chmod(p.c_str(), 0660);
  std::unique_ptr<ScanServer> s(
      new ScanServer(std::move(options), std::move(scanner), std::move(observer), fd));
  const unsigned n = std::max(1u, s->options_.workers);
  for (unsigned i = 0; i < n; ++i) s->threads_.emplace_back([raw = s.get()] { raw->Work(); });
  return s;
}

ScanServer::ScanServer(ServerOptions options, std::shared_ptr<const Scanner> scanner,
                       ScanObserver observer, int listen_fd)
    : options_(std::move(options)),
      scanner_(std::move(scanner)),
      observer_(std::move(observer)),
      listen_fd_(listen_fd) {}

ScanServer::~ScanServer() { Stop(); }

void ScanServer::Stop() {
  if (stopping_.exchange(true)) return;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  ::close(listen_fd_);
  ::unlink(options_.socket.c_str());
}

void ScanServer::Work() {
  while (!stopping_.load()) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    const int r = ::poll(&pfd, 1, kAcceptPollMs);
    if (r <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // Another worker took it (EAGAIN), or out of descriptors: pause rather than spin.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ::usleep(50'000);
      continue;
    }
    timeval tv{};
    tv.tv_sec = options_.io_timeout.count() / 1000;
    tv.tv_usec = static_cast<suseconds_t>(options_.io_timeout.count() % 1000 * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    counters_.active.fetch_add(1);
    Serve(fd);
    counters_.active.fetch_sub(1);
    ::close(fd);
  }
}

void ScanServer::Serve(int fd) {
  // The request line, read a byte at a time so no stream byte is consumed with it.
  std::string line;
  for (;;) {
    uint8_t c;
    ReadStatus st = ReadExactly(fd, &c, 1);
    if (st != ReadStatus::kOk) {
      counters_.aborted.fetch_add(1);
      return;
    }
    if (c == '\n') break;
    if (line.size() >= kMaxRequestLine) {
      counters_.protocol_errors.fetch_add(1);
      SendAll(fd,
              VerdictToJsonLine(ErrorVerdict("request line longer than 4096 bytes", *scanner_)));
      return;
    }
    line.push_back(static_cast<char>(c));
  }
  auto request = ParseRequestLine(line);
  if (!request) {
    counters_.protocol_errors.fetch_add(1);
    SendAll(fd, VerdictToJsonLine(ErrorVerdict(request.error().message, *scanner_)));
    return;
  }
  if (request->command == ScanRequest::kPing) return SendAll(fd, "PONG\n");
  if (request->command == ScanRequest::kVersion)
    return SendAll(fd, "{\"db_version\":\"" + scanner_->db_version() + "\"}\n");

  StreamSink sink(options_.spill_bytes, options_.temp_dir);
  std::vector<uint8_t> chunk(kMaxChunkBytes);
  uint64_t total = 0;
  for (;;) {
    uint8_t prefix[4];
    ReadStatus st = ReadExactly(fd, prefix, 4);
    if (st != ReadStatus::kOk) {
      counters_.aborted.fetch_add(1);
      return;
    }
    const uint32_t n = GetChunkLength(prefix);
    if (n == 0) break;
    if (n > kMaxChunkBytes) {
      counters_.protocol_errors.fetch_add(1);
      SendAll(fd, VerdictToJsonLine(ErrorVerdict(
                      "chunk length " + std::to_string(n) + " exceeds 65536 bytes", *scanner_)));
      return;
    }
    if (total + n > options_.max_stream_bytes) {
      counters_.capped.fetch_add(1);
      counters_.errors.fetch_add(1);
      Verdict v = ErrorVerdict(
          "stream exceeds the limit of " + std::to_string(options_.max_stream_bytes) + " bytes",
          *scanner_);
      SendAll(fd, VerdictToJsonLine(v));
      if (observer_) observer_(v, request->context, {});
      return;
    }
    st = ReadExactly(fd, chunk.data(), n);
    if (st != ReadStatus::kOk) {
      counters_.aborted.fetch_add(1);
      return;
    }
    total += n;
    if (auto s = sink.Append(chunk.data(), n); !s) {
      counters_.errors.fetch_add(1);
      SendAll(fd, VerdictToJsonLine(ErrorVerdict(s.error().message, *scanner_)));
      return;
    }
  }
  counters_.bytes.fetch_add(total);
  seccloud::Result<Verdict> verdict = Verdict{};
  std::optional<internal::MappedFile> mapped;
  std::span<const uint8_t> data;
  if (sink.spilled()) {
    auto m = internal::MappedFile::Open(sink.file());
    if (m) {
      mapped.emplace(std::move(*m));
      data = mapped->bytes();
    } else {
      verdict = ErrorVerdict(m.error().message, *scanner_);
    }
  } else {
    data = sink.memory();
  }
  if (verdict && verdict->result != Verdict::kError)
    verdict = scanner_->ScanBuffer(data, request->context);
  Verdict v = verdict ? std::move(*verdict) : ErrorVerdict(verdict.error().message, *scanner_);
  counters_.scans.fetch_add(1);
  switch (v.result) {
    case Verdict::kClean:
      counters_.clean.fetch_add(1);
      break;
    case Verdict::kInfected:
      counters_.infected.fetch_add(1);
      break;
    case Verdict::kSuspicious:
      counters_.suspicious.fetch_add(1);
      break;
    case Verdict::kError:
      counters_.errors.fetch_add(1);
      break;
  }
  SendAll(fd, VerdictToJsonLine(v));
  if (observer_) observer_(v, request->context, data);
}

}  // namespace seccloud::scan
