#include "scan/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "scan/protocol.h"

namespace seccloud::scan {
namespace {

seccloud::Result<int> Connect(const std::filesystem::path& socket, ClientOptions options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& p = socket.native();
  if (p.size() >= sizeof addr.sun_path)
    return MakeError(Errc::kInvalidArgument, "socket path too long: " + p);
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  timeval tv{};
  tv.tv_sec = options.io_timeout.count() / 1000;
  tv.tv_usec = static_cast<suseconds_t>(options.io_timeout.count() % 1000 * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    Error e = ErrnoError("connect to scand at " + p, err);
    if (err == ECONNREFUSED || err == ENOENT) e.code = Errc::kUnavailable;
    return e;
  }
  return fd;
}

Status SendAll(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MakeError(Errc::kDeadlineExceeded, "scand did not take data in time");
      return ErrnoError("send to scand", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

seccloud::Result<std::string> ReadLine(int fd) {
  std::string line;
  char buf[4096];
  while (line.size() <= kMaxAnswerLine) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MakeError(Errc::kDeadlineExceeded, "scand did not answer in time");
      return ErrnoError("read from scand", errno);
    }
    if (r == 0) break;
    line.append(buf, static_cast<size_t>(r));
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      return line;
    }
  }
  return MakeError(Errc::kUnavailable, "scand closed the connection without an answer");
}

}  // namespace

seccloud::Result<StreamScan> StreamScan::Open(const std::filesystem::path& socket,
                                              const ScanContext& context, ClientOptions options) {
  ASSIGN_OR_RETURN(int fd, Connect(socket, options));
  StreamScan s(fd);
  ScanRequest req;
  req.context = context;
  const std::string line = FormatRequestLine(req);
  RETURN_IF_ERROR(SendAll(fd, line.data(), line.size()));
  return s;
}

StreamScan::~StreamScan() {
  if (fd_ >= 0) ::close(fd_);
}

Status StreamScan::Write(std::span<const uint8_t> data) {
  if (fd_ < 0) return MakeError(Errc::kInvalidArgument, "stream already finished");
  while (!data.empty()) {
    const size_t n = std::min(data.size(), kMaxChunkBytes);
    uint8_t prefix[4];
    PutChunkLength(static_cast<uint32_t>(n), prefix);
    RETURN_IF_ERROR(SendAll(fd_, prefix, 4));
    RETURN_IF_ERROR(SendAll(fd_, data.data(), n));
    data = data.subspan(n);
  }
  return {};
}

seccloud::Result<Verdict> StreamScan::Finish() {
  if (fd_ < 0) return MakeError(Errc::kInvalidArgument, "stream already finished");
  const uint8_t end[4] = {0, 0, 0, 0};
  // scand may have answered and closed already (size cap): the answer is still readable.
  (void)SendAll(fd_, end, 4);
  auto line = ReadLine(fd_);
  ::close(fd_);
  fd_ = -1;
  if (!line) return line.error();
  return VerdictFromJson(*line);
}

seccloud::Result<Verdict> ScanStream(const std::filesystem::path& socket,
                                     std::span<const uint8_t> data, const ScanContext& context,
                                     ClientOptions options) {
  ASSIGN_OR_RETURN(StreamScan s, StreamScan::Open(socket, context, options));
  if (auto st = s.Write(data); !st) {
    // A capped stream: scand answered with an error verdict and closed; report that answer.
    auto v = s.Finish();
    if (v) return v;
    return st.error();
  }
  return s.Finish();
}

seccloud::Result<Verdict> ScanFileStream(const std::filesystem::path& socket,
                                         const std::filesystem::path& file,
                                         const ScanContext& context, ClientOptions options) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + file.string(), errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  ScanContext c = context;
  if (c.file_name.empty()) c.file_name = file.string();
  ASSIGN_OR_RETURN(StreamScan s, StreamScan::Open(socket, c, options));
  std::vector<uint8_t> buf(kMaxChunkBytes);
  for (;;) {
    const ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read " + file.string(), errno);
    }
    if (r == 0) break;
    if (auto st = s.Write({buf.data(), static_cast<size_t>(r)}); !st) {
      auto v = s.Finish();
      if (v) return v;
      return st.error();
    }
  }
  return s.Finish();
}

seccloud::Result<std::string> Ping(const std::filesystem::path& socket, ClientOptions options) {
  ASSIGN_OR_RETURN(int fd, Connect(socket, options));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  RETURN_IF_ERROR(SendAll(fd, "PING\n", 5));
  return ReadLine(fd);
}

}  // namespace seccloud::scan
