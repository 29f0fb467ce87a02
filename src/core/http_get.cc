#include "core/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "core/ip.h"
#include "core/text.h"

namespace seccloud {
namespace {

constexpr size_t kMaxHeaderBytes = 64 << 10;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The value of header `name` (lower case, without the colon) in a lower-cased header block, or
// nullopt. Values are trimmed of blanks.
std::optional<std::string_view> HeaderValue(std::string_view head, std::string_view name) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    std::string_view line = head.substr(pos, head.find("\r\n", pos) - pos);
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ':') {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<HttpGetResponse> HttpGet(const std::string& url, const HttpGetOptions& options) {
  std::string why;
  auto u = ParseHttpUrl(url, &why);
  if (!u) return MakeError(Errc::kInvalidArgument, Quote(url) + " " + why);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
  };
  const IpAddress& a = u->endpoint.address;
  sockaddr_storage ss{};
  socklen_t sl = 0;
  if (a.is_v4()) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(u->endpoint.port);
    s4->sin_addr.s_addr = htonl(a.v4());
    sl = sizeof *s4;
  } else {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(u->endpoint.port);
    std::memcpy(&s6->sin6_addr, a.bytes().data(), 16);
    sl = sizeof *s6;
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  auto wait = [&](short events) -> Status {
    pollfd p{fd, events, 0};
    for (;;) {
      int ms = remaining_ms();
      if (ms == 0) return MakeError(Errc::kDeadlineExceeded, "timed out fetching " + url);
      int r = ::poll(&p, 1, ms);
      if (r > 0) return {};
      if (r == 0) return MakeError(Errc::kDeadlineExceeded, "timed out fetching " + url);
      if (errno != EINTR) return ErrnoError("poll", errno);
    }
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) {
    if (errno != EINPROGRESS) return ErrnoError("cannot connect to " + url, errno);
    RETURN_IF_ERROR(wait(POLLOUT));
    int err = 0;
    socklen_t el = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) return ErrnoError("cannot connect to " + url, err);
  }
  std::string req = "GET " + u->target + " HTTP/1.0\r\nHost: " + u->endpoint.ToString() +
                    "\r\nUser-Agent: " + options.user_agent + "\r\n";
  if (options.range)
    req += "Range: bytes=" + std::to_string(options.range->first) + "-" +
           std::to_string(options.range->last) + "\r\n";
  req += "\r\n";
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        RETURN_IF_ERROR(wait(POLLOUT));
        continue;
      }
      return ErrnoError("cannot send to " + url, errno);
    }
    sent += static_cast<size_t>(n);
  }

  HttpGetResponse out;
  std::string head;  // until the blank line
  bool in_body = false;
  std::optional<uint64_t> content_length;
  uint64_t body_cap = options.max_body_bytes;  // what we accept of this answer's body
  bool to_sink = false;
  // A body beyond body_cap is an error, unless only a prefix is wanted: the asked-for range of a
  // server that ignored it, or an error page.
  bool prefix_only = false;
  bool done = false;
  auto take_body = [&](std::string_view piece) -> Status {
    if (piece.empty()) return {};
    if (out.body_bytes + piece.size() > body_cap) {
      if (!prefix_only)
        return MakeError(
            Errc::kResourceExhausted,
            url + " sent a body larger than " + std::to_string(options.max_body_bytes) + " bytes");
      piece = piece.substr(0, body_cap - out.body_bytes);
      done = true;
    }
    out.body_bytes += piece.size();
    if (to_sink) return options.body_sink(piece);
    out.body.append(piece);
    return {};
  };
  char buf[1 << 16];
  for (;;) {
    if (done) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        RETURN_IF_ERROR(wait(POLLIN));
        continue;
      }
      return ErrnoError("cannot read from " + url, errno);
    }
    if (n == 0) break;
    std::string_view got(buf, static_cast<size_t>(n));
    if (in_body) {
      RETURN_IF_ERROR(take_body(got));
      continue;
    }
    head.append(got);
    const size_t end = head.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (head.size() > kMaxHeaderBytes)
        return MakeError(Errc::kUnavailable, url + " sent more than 64 KiB of headers");
      continue;
    }
    if (head.substr(0, 5) != "HTTP/")
      return MakeError(Errc::kUnavailable, url + " did not answer with HTTP");
    const size_t sp = head.find(' ');
    if (sp == std::string::npos || sp > end)
      return MakeError(Errc::kUnavailable, url + " sent a malformed status line");
    int status = 0;
    auto [p, ec] =
        std::from_chars(head.data() + sp + 1, head.data() + std::min(end, sp + 4), status);
    if (ec != std::errc() || status < 100 || status > 599)
      return MakeError(Errc::kUnavailable, url + " sent a malformed status line");
    out.status = status;
    const std::string lower = Lower(std::string_view(head).substr(0, end + 2));
    if (HeaderValue(lower, "transfer-encoding"))
      return MakeError(Errc::kUnavailable, url + " used a transfer encoding");
    if (auto v = HeaderValue(lower, "content-length")) {
      uint64_t len = 0;
      auto [q, e2] = std::from_chars(v->data(), v->data() + v->size(), len);
      if (e2 != std::errc() || q != v->data() + v->size())
        return MakeError(Errc::kUnavailable, url + " sent a malformed Content-Length");
      content_length = len;
    }
    if (auto v = HeaderValue(lower, "last-modified")) {
      // Same offsets in the original-case header block.
      const size_t at = static_cast<size_t>(v->data() - lower.data());
      out.last_modified = head.substr(at, std::min<size_t>(v->size(), 64));
    }
    const bool success = status == 200 || status == 206;
    if (options.range && status == 200) {
      if (options.range->first != 0)
        return MakeError(Errc::kUnavailable, url + " ignored the Range header");
      body_cap = std::min(body_cap, options.range->last - options.range->first + 1);
      prefix_only = true;
    } else if (!success) {
      body_cap = std::min<uint64_t>(body_cap, 64 << 10);
      prefix_only = true;
    } else if (content_length && *content_length > options.max_body_bytes) {
      return MakeError(Errc::kResourceExhausted, url + " announced " +
                                                     std::to_string(*content_length) +
                                                     " bytes, more than the limit of " +
                                                     std::to_string(options.max_body_bytes));
    }
    // Error pages are kept (bounded) in memory, never handed to the sink.
    to_sink = success && static_cast<bool>(options.body_sink);
    in_body = true;
    std::string rest = head.substr(end + 4);
    head.resize(end + 4);
    RETURN_IF_ERROR(take_body(rest));
  }
  if (!in_body) return MakeError(Errc::kUnavailable, url + " did not answer with HTTP");
  if (content_length && !prefix_only && out.body_bytes != *content_length)
    return MakeError(Errc::kUnavailable, url + " sent " + std::to_string(out.body_bytes) + " of " +
                                             std::to_string(*content_length) +
                                             " announced bytes (cut short)");
  return out;
}

}  // namespace seccloud
