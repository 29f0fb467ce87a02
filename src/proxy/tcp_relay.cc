#include "proxy/tcp_relay.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <vector>

namespace seccloud::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::vector<std::unique_ptr<char[]>>& FreeChunks() {
  thread_local std::vector<std::unique_ptr<char[]>> free_chunks;
  return free_chunks;
}

// What both directions and the watchdog share. Lives in RelayTcp's frame, which outlives them:
// the parallel group completes only when all three have returned.
struct RelayState {
  uint64_t moves =
      0;  // reads that returned data, spliced writes; the watchdog only looks for a change
  RelayTotals totals;
};

// Copies through a RelayChunk until the end of the stream (then half-closes `to`) or an error.
// With `stop_at_bulk`, also stops — without closing anything — after relaying a read that filled
// the whole chunk, and sets `bulk`: the sender has more queued than a message, and the rest is
// worth moving with splice(2).
//
// Writes with send(2) itself (MSG_DONTWAIT | MSG_NOSIGNAL) and waits for writability only on
// EAGAIN: Asio's async_write would complete through the scheduler even when the bytes went at
// once. Reads with recv(2) once readiness is known, and waits (async_wait) only after a read came
// back short or EAGAIN with nothing suspended since: the reactor's readiness is edge-triggered,
// and an edge that comes while no wait is queued is dropped (Boost 1.81 epoll_reactor), but
// async_wait is never speculative and re-arms the descriptor with EPOLL_CTL_MOD, which reports
// data already there. That re-arm is a system call, as is the EAGAIN read async_read_some tries
// before it queues (Boost 1.81 stops speculating on a socket only at its end of stream): the
// calls per message are the same either way, what this saves is the work in user space.
asio::awaitable<void> Pump(tcp::socket& from, tcp::socket& to, RelayState& state, uint64_t& total,
                           bool stop_at_bulk, bool& bulk) {
  RelayChunk chunk;
  const int in = from.native_handle();
  const int out = to.native_handle();
  // What the last read says about the socket. kDrained: it came back short (or EAGAIN) and
  // nothing suspended since, so a wait is due before the next recv. kReady: it filled the chunk,
  // more is likely there, or a wait just ended. kUnknown (the start, after a write that waited):
  // async_read_some, which tries a read and on EAGAIN queues without another call — a recv and then
  // a wait would be two.
  enum class Next { kUnknown, kReady, kDrained };
  Next next = Next::kUnknown;
  while (true) {
    ssize_t n = 0;
    if (next == Next::kUnknown) {
      auto [ec, got] =
          co_await from.async_read_some(asio::buffer(chunk.data(), chunk.size()), kTuple);
      if (ec) break;  // end of stream, a reset, or cancelled: the tunnel went idle
      n = static_cast<ssize_t>(got);
    } else {
      if (next == Next::kDrained) {
        auto [ec] = co_await from.async_wait(tcp::socket::wait_read, kTuple);
        if (ec) break;        // cancelled: the tunnel went idle
        next = Next::kReady;  // (an EINTR below then retries the recv, not the wait)
      }
      n = ::recv(in, chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          next = Next::kDrained;
          continue;
        }
        break;  // a reset or another error ends this direction
      }
      if (n == 0) break;  // end of stream
    }
    ++state.moves;
    bool waited = false;
    bool write_failed = false;
    for (size_t sent = 0; sent < static_cast<size_t>(n);) {
      const ssize_t m = ::send(out, chunk.data() + sent, static_cast<size_t>(n) - sent,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (m > 0) {
        sent += static_cast<size_t>(m);
        total += static_cast<uint64_t>(m);
      } else if (m < 0 && errno == EINTR) {
        continue;
      } else if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        waited = true;
        auto [wec] = co_await to.async_wait(tcp::socket::wait_write, kTuple);
        if (wec) {
          write_failed = true;
          break;
        }
      } else {
        write_failed = true;  // the far side is gone
        break;
      }
    }
    if (write_failed) break;
    if (static_cast<size_t>(n) == chunk.size()) {
      if (stop_at_bulk) {
        bulk = true;
        co_return;
      }
      next = waited ? Next::kUnknown : Next::kReady;
    } else {
      // A short read emptied the socket at that instant; bytes after it bring a new edge, which
      // a wait queued now sees — unless the write above suspended, and the edge came meanwhile.
      next = waited ? Next::kUnknown : Next::kDrained;
    }
  }
  // Half-close: the other direction may still be sending.
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

// What a spliced direction asks the pipe to hold: a 100 KiB response that is all there moves in
// one splice in and one out (the default 64 KiB pipe took two of each). Only slots are allocated
// for it; the pages are the socket buffers' own, held only between a splice in and the splice
// out that follows — which a reader that stops reading makes last: a stalled tunnel pins up to
// 256 KiB per direction outside the sockets' memory accounting (until the idle time ends it).
constexpr int kPipeBytes = 256 * 1024;
// A pipe that holds less than this (an unprivileged user past fs.pipe-user-pages-soft gets two
// pages) would move a few KiB per pair of system calls: the direction copies instead.
constexpr size_t kMinPipeBytes = 64 * 1024;

// Closes both ends on destruction.
struct PipePair {
  int read_end = -1;
  int write_end = -1;
  size_t capacity = 0;  // bytes the pipe holds
  PipePair() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return;
    read_end = fds[0];
    write_end = fds[1];
    // Best effort: past fs.pipe-max-size or the user's pipe limits the pipe keeps its size.
    int got = ::fcntl(write_end, F_SETPIPE_SZ, kPipeBytes);
    if (got < 0) got = ::fcntl(write_end, F_GETPIPE_SZ);
    capacity = got > 0 ? static_cast<size_t>(got) : 0;
  }
  ~PipePair() {
    if (read_end >= 0) ::close(read_end);
    if (write_end >= 0) ::close(write_end);
  }
  PipePair(const PipePair&) = delete;
  PipePair& operator=(const PipePair&) = delete;
  bool ok() const { return read_end >= 0 && capacity >= kMinPipeBytes; }
};

// The empty pipes of this thread, kept for the next spliced burst of any of its tunnels: a tunnel
// holds a pipe only while bytes move (an idle kept-alive tunnel holds none, and costs no
// descriptors for it), and a pipe is made (pipe2, fcntl) once per thread, not per tunnel.
// Few: a 256 KiB pipe is 64 pages of the user's pipe quota (fs.pipe-user-pages-soft, shared by
// every process of the proxy's user), past which new pipes get two pages and are not used.
constexpr size_t kPipePoolLimit = 4;
std::vector<std::unique_ptr<PipePair>>& FreePipes() {
  thread_local std::vector<std::unique_ptr<PipePair>> free_pipes;
  return free_pipes;
}

// A pipe borrowed from FreePipes. Given back only when known empty; otherwise (the far side went
// away with bytes in it, or the coroutine was destroyed mid-transfer) closed.
class PipeLease {
 public:
  PipeLease() = default;
  PipeLease(const PipeLease&) = delete;
  PipeLease& operator=(const PipeLease&) = delete;

  // A usable pipe, taken from the pool or made; nullptr when the kernel gives none fit for
  // splicing (no descriptors left, or a pipe too small).
  PipePair* Get() {
    if (pipe_) return pipe_.get();
    auto& pool = FreePipes();
    if (!pool.empty()) {
      pipe_ = std::move(pool.back());
      pool.pop_back();
    } else {
      pipe_ = std::make_unique<PipePair>();
      if (!pipe_->ok()) pipe_.reset();
    }
    return pipe_.get();
  }
  // The pipe is empty: back to the pool (or closed when the pool is full).
  void GiveBack() {
    if (!pipe_) return;
    auto& pool = FreePipes();
    if (pool.size() < kPipePoolLimit) pool.push_back(std::move(pipe_));
    pipe_.reset();
  }

 private:
  std::unique_ptr<PipePair> pipe_;
};

// splice(2) into a socket whose peer has gone (a reset) fails with EPIPE and raises SIGPIPE, and
// unlike send(2) it takes no MSG_NOSIGNAL: with the default disposition that signal would end
// the whole process, at any client's will. Ignored process-wide before the first splice, unless
// the program installed its own handler.
void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL &&
        !(current.sa_flags & SA_SIGINFO)) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      ::sigemptyset(&ignore.sa_mask);
      ::sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

// One direction in the kernel: socket → pipe → socket with splice(2), so the bytes are never
// copied into the proxy. Semantics as Pump's, which takes over when the kernel gives no pipe fit
// for it or refuses to splice these descriptors before anything moved.
//
// Each read asks for the pipe's capacity (the pipe is emptied before the next read). It tries
// first and waits only when there is nothing (EAGAIN): the reactor reports readiness by edges,
// and bytes already there would bring no new edge. Waiting after every short read instead (as
// Pump does) cost more at a fixed rate — proxy_ab.sh, 100 KiB at 200/s: 1.11x the parent's CPU
// per request, against 0.89x trying first — as a response arrives as a stream of TLS records,
// and the try after a splice out often finds the next ones where a wait costs a wake-up. The
// pipe, empty then, goes back to the thread's pool for the wait.
asio::awaitable<void> SplicePump(tcp::socket& from, tcp::socket& to, RelayState& state,
                                 uint64_t& total) {
  IgnoreSigpipe();
  PipeLease lease;
  boost::system::error_code ec;
  from.non_blocking(true, ec);
  if (!ec) to.non_blocking(true, ec);
  bool fallback = static_cast<bool>(ec);
  const int in = from.native_handle();
  const int out = to.native_handle();
  size_t in_pipe = 0;  // read from `from`, not yet written to `to`
  bool first = true;
  bool woken = false;  // the last wait reported `from` readable, and nothing was read since
  // splice(2) from a TCP socket stops at an urgent byte's mark (MSG_OOB): it answers EAGAIN
  // while poll says readable, and 0 once the FIN is in though data waits past the mark. There
  // the direction is copied from on (recv reads past the mark), nothing being in the pipe.
  auto at_urgent_mark = [in] {
    int at_mark = 0;
    return ::ioctl(in, SIOCATMARK, &at_mark) == 0 && at_mark != 0;
  };
  bool reading = !fallback;
  while (reading) {
    PipePair* pipe = lease.Get();
    if (!pipe) {
      fallback = true;  // nothing is in flight: copying goes on from here
      break;
    }
    const ssize_t n = ::splice(in, nullptr, pipe->write_end, nullptr, pipe->capacity,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      in_pipe = static_cast<size_t>(n);
      ++state.moves;
      woken = false;
    } else if (n == 0) {
      if (at_urgent_mark()) {
        fallback = true;
        break;
      }
      reading = false;  // end of stream
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      if (woken && at_urgent_mark()) {
        fallback = true;
        break;
      }
      lease.GiveBack();  // empty: in_pipe is 0 between bursts
      auto [wec] = co_await from.async_wait(tcp::socket::wait_read, kTuple);
      if (wec) break;  // cancelled: the tunnel went idle
      woken = true;
      continue;
    } else if (first) {
      // Refused before anything was spliced (EINVAL, ENOSYS, a sandbox's EPERM…): copy instead;
      // a reset is then seen by recv.
      fallback = true;
      break;
    } else {
      reading = false;  // a reset or another error ends this direction
    }
    first = false;
    while (in_pipe > 0) {
      const ssize_t m = ::splice(pipe->read_end, nullptr, out, nullptr, in_pipe,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m > 0) {
        in_pipe -= static_cast<size_t>(m);
        total += static_cast<uint64_t>(m);
        ++state.moves;  // a slow reader draining a full pipe is not an idle tunnel
      } else if (m < 0 && errno == EINTR) {
        continue;
      } else if (m < 0 && errno == EAGAIN) {
        auto [wec] = co_await to.async_wait(tcp::socket::wait_write, kTuple);
        if (wec) {
          reading = false;
          break;
        }
      } else {
        reading = false;  // the far side is gone; what is left in the pipe goes with it
        break;
      }
    }
  }
  if (in_pipe == 0) lease.GiveBack();  // else the lease closes the pipe with the bytes in it
  if (fallback) {
    bool unused = false;
    co_await Pump(from, to, state, total, false, unused);
    co_return;
  }
  // Half-close: the other direction may still be sending.
  to.shutdown(tcp::socket::shutdown_send, ec);
}

// One direction: copied while it carries messages (a splice costs the kernel more than a copy
// of a few KiB: 1.16x the CPU per request on the 1 KiB spliced row of bench/proxy_ab.sh), then
// spliced once a read fills a whole chunk.
asio::awaitable<void> Direction(tcp::socket& from, tcp::socket& to, RelayState& state,
                                uint64_t& total) {
  bool bulk = false;
  co_await Pump(from, to, state, total, true, bulk);
  if (bulk) co_await SplicePump(from, to, state, total);
}

// Returns when nothing moved for `idle` (idle_timeout set), or when cancelled because both
// directions ended.
asio::awaitable<void> Watchdog(RelayState& state, std::chrono::milliseconds idle) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  uint64_t seen = state.moves;
  auto quiet_since = Clock::now();
  while (true) {
    timer.expires_after(idle / 4 + std::chrono::milliseconds(1));
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
    const auto now = Clock::now();
    if (state.moves != seen) {
      seen = state.moves;
      quiet_since = now;
    } else if (now - quiet_since >= idle) {
      state.totals.idle_timeout = true;
      co_return;
    }
  }
}

}  // namespace

RelayChunk::RelayChunk() {
  auto& pool = FreeChunks();
  if (pool.empty()) {
    bytes_ = std::make_unique_for_overwrite<char[]>(kSize);
  } else {
    bytes_ = std::move(pool.back());
    pool.pop_back();
  }
}

RelayChunk::~RelayChunk() {
  auto& pool = FreeChunks();
  if (bytes_ && pool.size() < kPoolLimit) pool.push_back(std::move(bytes_));
}

asio::awaitable<RelayTotals> RelayTcp(tcp::socket& a, tcp::socket& b,
                                      std::chrono::milliseconds idle) {
  RelayState state;
  using namespace asio::experimental::awaitable_operators;
  // Either both directions end (the watchdog is then cancelled) or the watchdog sees an idle
  // tunnel (both directions are then cancelled).
  co_await ((Direction(a, b, state, state.totals.a_to_b) &&
             Direction(b, a, state, state.totals.b_to_a)) ||
            Watchdog(state, idle));
  co_return state.totals;
}

}  // namespace seccloud::proxy
