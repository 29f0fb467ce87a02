#pragma once
// The byte relay of a spliced tunnel (CONNECT without interception, a 101 upgrade on plain HTTP)
// between two plain TCP sockets, and the relay buffers every body copy of the proxy borrows.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace seccloud::proxy {

// A 64 KiB relay buffer, recycled per thread: a relay or a body copy holds one only while it runs
// and gives it back, so a kept-alive connection between requests holds none, and the allocator
// does not see a 64 KiB block come and go per request (glibc consolidates its fast bins on every
// free of a block that size, which cost more than the copy of a 1 KiB body). The contents are
// not initialised. Keeps at most kPoolLimit free buffers per thread.
class RelayChunk {
 public:
  static constexpr size_t kSize = 64 * 1024;
  static constexpr size_t kPoolLimit = 64;

  RelayChunk();
  ~RelayChunk();
  RelayChunk(const RelayChunk&) = delete;
  RelayChunk& operator=(const RelayChunk&) = delete;

  char* data() const { return bytes_.get(); }
  static constexpr size_t size() { return kSize; }

 private:
  std::unique_ptr<char[]> bytes_;
};

struct RelayTotals {
  uint64_t a_to_b = 0;  // bytes written to b
  uint64_t b_to_a = 0;  // bytes written to a
  bool idle_timeout = false;
};

// Copies bytes both ways between `a` and `b` until both directions have ended — an end of
// stream is passed on as a half-close (shutdown(SHUT_WR) of the other socket), an error ends
// that direction — or until nothing moved either way for about `idle` (between idle and
// 1.25 × idle; the pending reads and writes are then cancelled and idle_timeout is set).
//
// Works on the raw sockets: no per-operation deadline timer (a coarse watchdog counts moves
// instead), one relay buffer per direction from RelayChunk while it carries messages; a
// direction that goes bulk (a read fills the chunk) moves on with splice(2) through a pipe
// borrowed from a per-thread pool while bytes move. The first splice sets SIGPIPE to ignored
// process-wide if its disposition is still the default (splice(2) has no MSG_NOSIGNAL). Both
// sockets must belong to the calling coroutine's executor, and nothing else may read or write
// them while this runs. The caller closes them afterwards.
boost::asio::awaitable<RelayTotals> RelayTcp(boost::asio::ip::tcp::socket& a,
                                             boost::asio::ip::tcp::socket& b,
                                             std::chrono::milliseconds idle);

}  // namespace seccloud::proxy
