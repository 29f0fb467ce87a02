#pragma once
// What the proxy's streams can do without waiting (R3): reads and writes on plain TCP and on
// intercepted (TLS) legs that are done at once when the kernel or the TLS stream allows, and
// awaited only for the rest; the deadlines of the streams' operations. In a header of its own
// (used by proxy_server.cc only) so its unit test can drive it over loopback pairs.

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "net/tls_stream.h"
#include "proxy/read_watch.h"

namespace seccloud::proxy::nonwaiting {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using std::chrono::milliseconds;
inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// The non-waiting reads' own failure: a TLS read that had to send records to the peer first (a
// TLS 1.3 key update's answer) could not, the peer reading nothing within the write deadline.
// Not beast::error::timeout, which the callers take for the peer not sending (a 408 for a
// client's request body): here the peer is not reading, and the stream was closed.
enum class Error { kPeerNotReading = 1 };

class ErrorCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "seccloud.proxy.nonwaiting"; }
  std::string message(int ev) const override {
    return ev == static_cast<int>(Error::kPeerNotReading)
               ? "the peer read nothing of the TLS records the read had to send it first"
               : "unknown error";
  }
};

inline const boost::system::error_category& Category() {
  static const ErrorCategory category;
  return category;
}

inline boost::system::error_code make_error_code(Error e) {
  return {static_cast<int>(e), Category()};
}

}  // namespace seccloud::proxy::nonwaiting

template <>
struct boost::system::is_error_code_enum<seccloud::proxy::nonwaiting::Error> : std::true_type {};

namespace seccloud::proxy::nonwaiting {

// Deadlines go on Beast's tcp_stream at the bottom of every stream we use (plain or TLS).
template <class Stream>
void Deadline(Stream& s, milliseconds d) {
  beast::get_lowest_layer(s).expires_after(d);
}
template <class Stream>
void NoDeadline(Stream& s) {
  beast::get_lowest_layer(s).expires_never();
}

// A read of a request body from the client within `idle`, kept by the client connection's
// ReadWatch instead of Beast's timer: at the deadline Beast's timer closes the socket, and the
// 408 page could then never reach the client; the watch only cancels the read, the connection
// stays whole for the page. Begin before the read, End (which maps the cancel to
// beast::error::timeout) right after it.
template <class Stream>
void BeginWatchedRead(Stream& s, ReadWatch& watch, milliseconds idle) {
  NoDeadline(s);  // a deadline left by an earlier operation would still close the socket
  watch.Begin(beast::get_lowest_layer(s).socket(), idle);
}
inline void EndWatchedRead(ReadWatch& watch, boost::system::error_code& ec) {
  watch.End();
  if (watch.TimedOut(ec)) ec = beast::error::timeout;
}

// ---- what can be done now is done now (plain TCP) -------------------------------------------
//
// Beast's composed operations complete through the scheduler even when they needed no waiting (a
// header or body already in the buffer, a write the kernel took at once: Beast posts, or Asio
// posts the speculative call's completion), and Boost 1.81's scheduler then polls its reactor
// (epoll_wait with a zero timeout) before running that completion: an strace of the plain
// keep-alive path showed 6.7 epoll_wait per request, 2 of them the blocking waits. On a plain TCP
// stream the proxy therefore first does synchronously what needs no waiting and awaits only the
// rest (the spliced relay does the same, tcp_relay.cc). Every call below returns at once: a
// call that would wait fails with would_block and the caller goes on asynchronously from where
// the synchronous part stopped (Beast's parser and serializer keep their state).

// A SyncReadStream and SyncWriteStream over a socket descriptor whose calls never wait:
// recvmsg/sendmsg with MSG_DONTWAIT (and MSG_NOSIGNAL), EAGAIN as would_block. The socket's own
// blocking mode is left as it is.
// The throwing form of a stream call that reports through an error_code (what completes the
// SyncReadStream/SyncWriteStream concepts for the non-waiting streams below).
template <class Call>
size_t OrThrow(Call&& call) {
  boost::system::error_code ec;
  const size_t n = call(ec);
  if (ec) throw boost::system::system_error(ec);
  return n;
}

class NonWaitingSocket {
 public:
  explicit NonWaitingSocket(int fd) : fd_(fd) {}

  template <class Buffers>
  size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    return Transfer(buffers, ec, /*send=*/false);
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    return Transfer(buffers, ec, /*send=*/true);
  }
  // The throwing forms complete the SyncReadStream/SyncWriteStream concepts; the proxy uses only
  // the error_code forms.
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    return OrThrow([&](boost::system::error_code& ec) { return read_some(buffers, ec); });
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    return OrThrow([&](boost::system::error_code& ec) { return write_some(buffers, ec); });
  }

 private:
  // As many buffers as Asio's own sends take: Beast's serializer gives one per header field, and
  // a message split over two sendmsg calls is two segments (TCP_NODELAY).
  static constexpr size_t kMaxIov = 64;

  template <class Buffers>
  size_t Transfer(const Buffers& buffers, boost::system::error_code& ec, bool send) {
    std::array<iovec, kMaxIov> iov;
    size_t count = 0;
    size_t total = 0;
    for (auto it = asio::buffer_sequence_begin(buffers);
         it != asio::buffer_sequence_end(buffers) && count < kMaxIov; ++it) {
      const auto b = asio::buffer(*it);
      if (b.size() == 0) continue;
      iov[count].iov_base = const_cast<void*>(static_cast<const void*>(b.data()));
      iov[count].iov_len = b.size();
      total += b.size();
      ++count;
    }
    ec = {};
    if (total == 0) return 0;  // as Asio's sockets: nothing asked, nothing done, no call
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    while (true) {
      const ssize_t n = send ? ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)
                             : ::recvmsg(fd_, &msg, MSG_DONTWAIT);
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0 && !send) {
        ec = asio::error::eof;
        return 0;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        ec = asio::error::would_block;
      else
        ec = boost::system::error_code(n < 0 ? errno : EIO, boost::system::system_category());
      return 0;
    }
  }

  int fd_;
};

// A SyncReadStream with nothing to give: Beast's synchronous read over it parses what the buffer
// already holds and stops with would_block where it would have to read — no system call.
struct BufferedBytesOnly {
  template <class Buffers>
  size_t read_some(const Buffers&, boost::system::error_code& ec) {
    ec = asio::error::would_block;
    return 0;
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    boost::system::error_code ec;
    read_some(buffers, ec);
    throw boost::system::system_error(ec);
  }
};

template <class Stream>
constexpr bool kPlainTcp = std::is_same_v<Stream, beast::tcp_stream>;
template <class Stream>
constexpr bool kTls = std::is_same_v<Stream, net::TlsStream>;

// A SyncWriteStream over an intercepted leg whose writes never wait (TlsStream::write_some_now):
// records the kernel does not take stay pending in the stream, for TlsStream::async_flush or the
// next asynchronous write. Also a SyncReadStream whose reads give what the stream holds already
// (decrypted, or ciphertext in its input buffer: TlsStream::DoRead, no I/O) and would_block
// otherwise; a read after which OpenSSL has output for the peer (a TLS 1.3 key update's answer)
// sets flush_needed(), and the caller sends it with async_flush.
class NonWaitingTls {
 public:
  explicit NonWaitingTls(net::TlsStream& s) : s_(s) {}
  template <class Buffers>
  size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    return s_.write_some_now(buffers, ec);
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    return OrThrow([&](boost::system::error_code& ec) { return write_some(buffers, ec); });
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    asio::mutable_buffer first;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it)
      if (asio::buffer_size(*it) > 0) {
        first = *it;
        break;
      }
    size_t n = 0;
    switch (s_.DoRead(first, ec, n)) {
      case net::TlsStream::Want::kNothing:
        return n;
      case net::TlsStream::Want::kOutput:
        flush_needed_ = true;
        return n;
      case net::TlsStream::Want::kInput:
      case net::TlsStream::Want::kOutputAndRetry:  // the asynchronous read sends it, then reads
        break;
    }
    ec = asio::error::would_block;
    return 0;
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    return OrThrow([&](boost::system::error_code& ec) { return read_some(buffers, ec); });
  }
  bool flush_needed() const { return flush_needed_; }

 private:
  net::TlsStream& s_;
  bool flush_needed_ = false;
};

// Beast's synchronous write of the serializer's message (kHeaderOnly: its header) to a stream
// whose calls never wait. Not http::write_header: when the kernel takes part of the header and
// then would block, it returns without telling the serializer what went out, and the header
// would be sent again from its first byte; write_some consumes what each call sent.
template <bool kHeaderOnly, class SyncStream, bool isRequest, class Body>
size_t WriteWithoutWaiting(SyncStream& stream, http::serializer<isRequest, Body>& sr,
                           boost::system::error_code& ec) {
  size_t n = 0;
  if constexpr (kHeaderOnly) {
    sr.split(true);
    while (!ec && !sr.is_header_done()) n += http::write_some(stream, sr, ec);
  } else {
    n = http::write(stream, sr, ec);
  }
  if (ec == http::error::need_buffer) ec = {};
  return n;
}

// Writes the serializer's message (kHeaderOnly: its header) to `s` within `idle`. What the
// kernel takes now goes synchronously (on an intercepted leg encrypted first); only the rest (a
// full send buffer) is awaited. A buffer_body's need_buffer (the part given is written, more is
// to come) is success here.
template <bool kHeaderOnly = false, class Stream, bool isRequest, class Body>
asio::awaitable<std::pair<boost::system::error_code, size_t>> WriteMessage(
    Stream& s, http::serializer<isRequest, Body>& sr, milliseconds idle) {
  Deadline(s, idle);
  size_t now = 0;
  if constexpr (kPlainTcp<Stream>) {
    NonWaitingSocket socket(s.socket().native_handle());
    boost::system::error_code ec;
    now = WriteWithoutWaiting<kHeaderOnly>(socket, sr, ec);
    if (ec != asio::error::would_block) co_return std::make_pair(ec, now);
  } else if constexpr (kTls<Stream>) {
    NonWaitingTls tls(s);
    boost::system::error_code ec;
    now = WriteWithoutWaiting<kHeaderOnly>(tls, sr, ec);
    if (ec != asio::error::would_block) {
      // All taken and encrypted; the tail of the records a full send buffer refused goes now.
      if (!ec && s.output_pending() > 0) std::tie(ec, std::ignore) = co_await s.async_flush(kTuple);
      co_return std::make_pair(ec, now);
    }
  }
  boost::system::error_code ec;
  size_t n = 0;
  if constexpr (kHeaderOnly)
    std::tie(ec, n) = co_await http::async_write_header(s, sr, kTuple);
  else
    std::tie(ec, n) = co_await http::async_write(s, sr, kTuple);
  if (ec == http::error::need_buffer) ec = {};
  co_return std::make_pair(ec, now + n);
}

// Reads a request header into `parser` within `limit`. When the buffer holds bytes already (the
// idle wait before a kept-alive request read some), the header is parsed from them first,
// synchronously — on plain TCP also from what the socket has now (on TLS a read needs the
// stream's own operation); only an incomplete header is awaited.
template <class Stream, class Parser>
asio::awaitable<boost::system::error_code> ReadRequestHeader(Stream& s, beast::flat_buffer& buf,
                                                             Parser& parser, milliseconds limit) {
  Deadline(s, limit);
  if (buf.size() > 0) {
    boost::system::error_code ec;
    if constexpr (kPlainTcp<Stream>) {
      NonWaitingSocket socket(s.socket().native_handle());
      http::read_header(socket, buf, parser, ec);
    } else {
      BufferedBytesOnly buffered;
      http::read_header(buffered, buf, parser, ec);
    }
    if (ec != asio::error::would_block) co_return ec;
  }
  auto [ec, n] = co_await http::async_read_header(s, buf, parser, kTuple);
  co_return ec;
}

// A failed flush inside a non-waiting read: its deadline passing is the peer not reading
// (Error::kPeerNotReading), not the peer not sending.
inline boost::system::error_code FlushError(const boost::system::error_code& fec) {
  return fec == beast::error::timeout ? make_error_code(Error::kPeerNotReading) : fec;
}

// Reads into `buf` through `p` what `s` has now, without waiting: on plain TCP one
// recv(MSG_DONTWAIT), on an intercepted leg what the TLS stream holds already (no I/O).
// would_block when nothing is there; otherwise as http::read_some (an until-close body's end
// included). A TLS read after which records must go to the peer first (a TLS 1.3 key update's
// answer, or a tail a full send buffer refused) sends them within `write_idle` (beast's timeout;
// the stream is closed then): the peer that does not read cannot hold the read longer.
template <class Stream, class Parser>
asio::awaitable<boost::system::error_code> ReadSomeNow(Stream& s, beast::flat_buffer& buf,
                                                       Parser& p, milliseconds write_idle) {
  boost::system::error_code ec;
  if constexpr (kPlainTcp<Stream>) {
    NonWaitingSocket socket(s.socket().native_handle());
    http::read_some(socket, buf, p, ec);
  } else if constexpr (kTls<Stream>) {
    NonWaitingTls tls(s);
    http::read_some(tls, buf, p, ec);
    if (tls.flush_needed()) {
      // A peer that does not read must not hold the read: the stage's write deadline.
      Deadline(s, write_idle);
      auto [fec, fn] = co_await s.async_flush(kTuple);
      if (!ec || ec == asio::error::would_block) ec = fec ? FlushError(fec) : ec;
    }
  } else {
    ec = asio::error::would_block;
  }
  co_return ec;
}

// The raw-buffer form of ReadSomeNow: bytes read into `b` (0 with an error, would_block when
// nothing is there; asio::error::eof at the peer's end).
template <class Stream>
asio::awaitable<std::pair<boost::system::error_code, size_t>> ReadNow(Stream& s,
                                                                      asio::mutable_buffer b,
                                                                      milliseconds write_idle) {
  boost::system::error_code ec;
  size_t n = 0;
  if constexpr (kPlainTcp<Stream>) {
    NonWaitingSocket socket(s.socket().native_handle());
    n = socket.read_some(b, ec);
  } else if constexpr (kTls<Stream>) {
    NonWaitingTls tls(s);
    n = tls.read_some(b, ec);
    if (tls.flush_needed()) {
      Deadline(s, write_idle);  // as in ReadSomeNow
      auto [fec, fn] = co_await s.async_flush(kTuple);
      if (!ec) ec = FlushError(fec);
    }
  } else {
    ec = asio::error::would_block;
  }
  co_return std::make_pair(ec, n);
}

}  // namespace seccloud::proxy::nonwaiting
