#include "proxy/tcp_relay.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
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
  uint64_t moves = 0;  // reads that returned data; the watchdog only looks for a change
  RelayTotals totals;
};

asio::awaitable<void> Pump(tcp::socket& from, tcp::socket& to, RelayState& state, uint64_t& total) {
  RelayChunk chunk;
  while (true) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(chunk.data(), chunk.size()), kTuple);
    if (n > 0) {
      ++state.moves;
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(chunk.data(), n), kTuple);
      total += wn;
      if (wec) break;
    }
    if (ec) break;
  }
  // Half-close: the other direction may still be sending.
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
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
  co_await ((Pump(a, b, state, state.totals.a_to_b) && Pump(b, a, state, state.totals.b_to_a)) ||
            Watchdog(state, idle));
  co_return state.totals;
}

}  // namespace seccloud::proxy
