#pragma once
// ReadWatch: the deadline of a read on a socket, kept by one timer per watch (see below).
// In a header of its own so its unit test can drive it with a hand-run io_context.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>

namespace seccloud::proxy {

// The deadline of a read on a socket (plain, or the TCP socket under a TLS stream) — a client's
// wait between kept-alive requests (timeouts.client_idle, plain and intercepted), an upstream's
// response header (timeouts.upstream_header) — without a timer armed and cancelled per read as
// Beast's tcp_stream does per operation: the cancel completes through the scheduler, which polls
// epoll once more for it (one epoll_wait with timeout 0 per request and per watched read). One
// timer per watch (per connection of a client) wakes no later than the deadline — at the deadline
// of the read in progress, or one span after it last looked when no read is in progress (a read
// begun later cannot end sooner, unless a reload shortened the span: Begin then moves the timer) —
// and cancels the socket's reads if the read is still in progress and due, as Beast's timeout would
// end it: the read ends with operation_aborted and TimedOut() says why. The socket given to Begin
// must outlive the read (End is called before it goes). Single-threaded: the session's io_context
// only.
class ReadWatch {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ReadWatch(boost::asio::io_context& io) : state_(std::make_shared<State>(io)) {}
  ~ReadWatch() {
    state_->closed = true;
    state_->socket = nullptr;
    if (state_->running) state_->timer.cancel();
  }
  ReadWatch(const ReadWatch&) = delete;
  ReadWatch& operator=(const ReadWatch&) = delete;

  // A read on `socket` begins; it may last `span`.
  void Begin(boost::asio::ip::tcp::socket& socket, std::chrono::milliseconds span) {
    State& s = *state_;
    s.socket = &socket;
    s.span = span;
    s.deadline = Clock::now() + span;
    s.waiting = true;
    s.timed_out = false;
    if (!s.running) {
      s.running = true;
      s.timer.expires_at(s.deadline);
      boost::asio::co_spawn(s.timer.get_executor(), Watch(state_), boost::asio::detached);
    } else if (s.deadline < s.timer.expiry()) {
      s.timer.expires_at(s.deadline);  // wakes Watch, which re-arms for the new deadline
    }
  }
  void End() {
    state_->waiting = false;
    state_->socket = nullptr;
  }
  // The read that ended with operation_aborted was cancelled at its deadline.
  bool TimedOut(const boost::system::error_code& ec) const {
    return ec == boost::asio::error::operation_aborted && state_->timed_out;
  }

 private:
  static constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

  struct State {
    explicit State(boost::asio::io_context& io) : timer(io) {}
    boost::asio::steady_timer timer;
    boost::asio::ip::tcp::socket* socket = nullptr;  // the read's, while one is in progress
    Clock::duration span{};
    Clock::time_point deadline;
    bool waiting = false;
    bool timed_out = false;
    bool running = false;
    bool closed = false;  // the watch's owner has gone
  };

  static boost::asio::awaitable<void> Watch(std::shared_ptr<State> s) {
    while (!s->closed) {
      co_await s->timer.async_wait(kTuple);  // also ends when Begin moved the timer
      if (s->closed) break;
      const auto now = Clock::now();
      if (s->waiting && now >= s->deadline && s->socket != nullptr) {
        boost::system::error_code ignored;
        s->socket->cancel(ignored);  // the read ends with operation_aborted
        // `waiting` stays set until End(): a composed read (async_read_header) whose next
        // read_some had completed already — its result queued behind this timer — is not
        // reached by the cancel and goes on reading; the timer, re-armed at the past deadline,
        // fires on the next turn and cancels again, until the read ends and End() is called.
        s->timed_out = true;
      }
      s->timer.expires_at(s->waiting ? s->deadline : now + s->span);
    }
    s->running = false;
  }

  std::shared_ptr<State> state_;
};

}  // namespace seccloud::proxy
