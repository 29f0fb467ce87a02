// Internal to the proxy module: bodies held back for the malware scan (R8) — a response held
// until scand says it is clean (ScanAndRelay, with the watch on its client, HeldClientWatch), an
// upload held before anything of its request goes upstream (HoldUpload), and their deadline
// (HoldDeadline). Their bytes count against the hold budget (hold_budget.h). Not a public header.

#pragma once

#include <sys/socket.h>

#include <boost/asio/thread_pool.hpp>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/hold_budget.h"
#include "proxy/proxy_internal.h"
#include "proxy/read_watch.h"
#include "proxy/upload_scan.h"

namespace seccloud::proxy::proxy_internal {

// Whether a client that has been sent nothing yet (its response is held for the scan) is gone:
// its socket holds a reset, or the end of what it sends with no byte before it (as nginx, whose
// upstream module takes a client's EOF for an abort too). A TLS client's close_notify is a byte
// here: that close is seen when the hold ends. Looks, does not wait.
inline bool SocketSaysGone(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return n == 0;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}
template <class Stream>
bool ClientGone(Stream& client) {
  return SocketSaysGone(beast::get_lowest_layer(client).socket().native_handle());
}

// Watches the client of a held response while the hold waits on the origin (proxy18): a wait for
// readability on the client's socket beside the origin's read. When the socket turns readable
// and ClientGone says the client reset or closed, the origin's read is cancelled (the upstream
// connection is then dropped, not pooled: its response was not read whole) and the hold ends
// within a moment of the client's going, not at the origin's next byte — until proxy18 a gone
// client kept its hold, its bytes of the hold budget and the upstream connection until
// body_idle or HoldDeadline when the origin sent nothing. A client that sent bytes (a pipelined
// request; an intercepted terminal's close_notify, a TLS record) is not gone: the watch stops
// there (the socket stays readable, so waiting again would spin), and the look after each read
// from the origin (ClientGone) is all that is left, as before proxy18. Nothing else may wait on
// the client's socket while the watch runs: its end cancels the socket's operations, so it ends
// (End) before anything is written to the client.
class HeldClientWatch {
 public:
  template <class ClientStream, class UpstreamStream>
  HeldClientWatch(ClientStream& client, UpstreamStream& upstream)
      : client_(beast::get_lowest_layer(client).socket()),
        state_(std::make_shared<State>(&client_, &beast::get_lowest_layer(upstream).socket())) {
    client_.async_wait(tcp::socket::wait_read, [state = state_](boost::system::error_code ec) {
      if (ec || state->client == nullptr) return;
      // Bytes: not gone, and the watch stops.
      if (!SocketSaysGone(state->client->native_handle())) return;
      state->gone = true;
      boost::system::error_code ignored;
      state->upstream->cancel(ignored);
      // A read made of several socket reads (Beast's parser within a chunk-size line, TlsStream
      // within a record) may start a fresh one after this cancel if its last completion was
      // already queued; the connection is dropped anyway, so its receive side is shut too: any
      // later read ends at once (review of proxy18).
      state->upstream->shutdown(tcp::socket::shutdown_receive, ignored);
    });
  }
  HeldClientWatch(const HeldClientWatch&) = delete;
  HeldClientWatch& operator=(const HeldClientWatch&) = delete;
  ~HeldClientWatch() { End(); }

  // The client was seen gone by the watch (the origin's read was cancelled for it).
  bool Gone() const { return state_->gone; }
  // Stops the watch; the wait's handler, if still to run, touches neither socket.
  void End() {
    if (state_->client == nullptr) return;
    state_->client = nullptr;
    state_->upstream = nullptr;
    boost::system::error_code ignored;
    client_.cancel(ignored);
  }

 private:
  struct State {
    State(tcp::socket* c, tcp::socket* u) : client(c), upstream(u) {}
    tcp::socket* client;    // null once the watch ended
    tcp::socket* upstream;  // null once the watch ended
    bool gone = false;
  };
  tcp::socket& client_;
  std::shared_ptr<State> state_;
};

// What the malware step needs for one response (R8): where scand listens, the limits, and a
// pool to run the blocking client on so the worker's io_context never waits for a scan.
struct ScanStep {
  asio::thread_pool* pool = nullptr;
  std::filesystem::path socket;
  const ProxyScanConfig* config = nullptr;
  scan::ScanContext context;
  HoldBudget* budget = nullptr;  // the process's, for the bytes held
};

// Runs a scan on the pool; the coroutine resumes on its own executor afterwards.
asio::awaitable<Result<scan::Verdict>> ScanOnPool(const ScanStep& step, const std::string& body);

// Writes one piece of a body the proxy frames itself: a chunk, or raw bytes.
template <class Stream>
asio::awaitable<boost::system::error_code> WriteBodyPart(Stream& client, bool chunked,
                                                         const char* data, size_t n,
                                                         milliseconds idle) {
  Deadline(client, idle);
  if (chunked) {
    auto [ec, wn] =
        co_await asio::async_write(client, http::make_chunk(asio::buffer(data, n)), kTuple);
    co_return ec;
  }
  auto [ec, wn] = co_await asio::async_write(client, asio::buffer(data, n), kTuple);
  co_return ec;
}

// How long an upload may take to be held whole for the scan: body_idle per read resets with each
// byte, so alone it would let a client keep up to max_size in memory for ever by sending a byte
// per body_idle. This allows one body_idle, plus one for each 64 KiB read the hold may take (it
// reads until the body ends or passes `limit`) — the longest a hold could last when one deadline
// covered each 64 KiB read (before proxy15), so every upload held then is still held, while a
// slow but steady one (1 KiB a second for a few minutes) is taken too. A response held for the
// scan has the same deadline (since proxy17: its reads, one read's worth each, are charged to the
// hold budget as they come; before, one body_idle covered each 64 KiB read, which bounded a hold
// the same way).
inline milliseconds HoldDeadline(milliseconds body_idle, uint64_t limit) {
  const uint64_t chunks = std::min<uint64_t>(limit / kRelayChunk + 1, uint64_t{1} << 20);
  const auto idle = std::max<milliseconds::rep>(body_idle.count(), 1);
  const auto cap = std::numeric_limits<milliseconds::rep>::max() / 2;
  return milliseconds(static_cast<uint64_t>(idle) > static_cast<uint64_t>(cap) / (chunks + 1)
                          ? cap
                          : idle * static_cast<milliseconds::rep>(chunks + 1));
}

// Holds the body back (up to max_size), scans it and releases it only when clean. A body larger
// than max_size streams through unscanned after what was held. Returns the scan verdict (or
// nullopt when the body was too large) in `verdict`, and sets x.malware when it was withheld.
// `body_read`: the body bytes read from the origin when a read failed. The held bytes are
// charged to step.budget as they come (HoldShare::Grow, as an upload's); a read whose bytes up to
// max_size do not fit ends the relay with x.hold_refused, nothing sent to the client. They go
// back when the relay ends, for any reason, or once the held part of a body too large to scan
// went out. A client gone meanwhile ends the hold too (x.client_gone_during_hold): seen by the
// HeldClientWatch while the hold waits on the origin, or by the look after each read (ClientGone).
template <class ClientStream, class UpstreamStream>
asio::awaitable<RelayEnd> ScanAndRelay(ClientStream& client, UpstreamStream& upstream,
                                       beast::flat_buffer& ubuf,
                                       ResponseParser<http::buffer_body>& rp, const ProxyConfig& pc,
                                       const ScanStep& step, bool chunked_out, Exchange& x,
                                       RequestLog& log, uint64_t& body_read) {
  HoldBudget& budget = *step.budget;
  auto& res = rp.get();
  HoldShare share;  // declared before `body`: the bytes go back after the memory
  std::string body;
  bool oversize = false;
  ubuf.reserve(kRelayChunk);
  const BodyBufferBound bound(ubuf, rp.header_limit_bytes());
  auto chunk = std::make_unique_for_overwrite<char[]>(kRelayChunk);
  const auto hold_end = Clock::now() + HoldDeadline(pc.timeouts.body_idle, step.config->max_size);
  HeldClientWatch watch(client, upstream);
  const auto client_gone = [&] {
    x.client_gone_during_hold = true;
    log.status = 0;  // nothing reached it
    body_read = body.size();
    return RelayEnd::Write(asio::error::connection_reset);
  };
  while (!rp.is_done() && !oversize) {
    res.body().data = chunk.get();
    res.body().size = kRelayChunk;
    // One read's worth at a time (async_read_some), so that the bytes are charged as they come
    // and a client gone is seen; body_idle is about progress, HoldDeadline bounds the whole hold.
    const auto left = std::chrono::duration_cast<milliseconds>(hold_end - Clock::now());
    const bool last_read = left < pc.timeouts.body_idle;
    boost::system::error_code ec = beast::error::timeout;
    if (left.count() > 0) {
      Deadline(upstream, last_read ? left : pc.timeouts.body_idle);
      auto [rec, n] = co_await http::async_read_some(upstream, ubuf, rp, kTuple);
      ec = rec;
    }
    if (ec == http::error::need_buffer) ec = {};
    if (watch.Gone()) {  // the read was cancelled for it (or gave bytes just as it went)
      x.error_detail = "seen while the origin sent nothing";
      co_return client_gone();
    }
    if (ec) {
      // Nothing went to the client yet (the body is held for the scan): any failure of the
      // body's read — a trailer refused, a bad chunk, the origin closing mid-body, a stall — is
      // answered with a 502 (504 for the stall), not with the connection closed on nothing.
      x.responded = false;
      if (ec == beast::error::timeout) x.failure_status = 504;
      if (ec == beast::error::timeout && last_read)
        x.error_detail =
            "the origin took longer than the hold's deadline of " +
            std::to_string(HoldDeadline(pc.timeouts.body_idle, step.config->max_size).count()) +
            " ms (timeouts.body_idle for each 64 KiB of scan.max_size, and one more)";
      body_read = body.size() + (kRelayChunk - res.body().size);
      co_return RelayEnd::Read(ec);
    }
    const size_t got = kRelayChunk - res.body().size;
    if (!share.Grow(budget, body.size() + got, step.config->max_size, pc.scan.hold_budget)) {
      x.responded = false;
      x.hold_refused = true;
      x.hold_wanted = share.wanted;
      x.hold_others = share.OthersIn(budget);
      co_return RelayEnd{};
    }
    body.append(chunk.get(), got);
    oversize = body.size() > step.config->max_size;
    if (ClientGone(client)) co_return client_gone();
  }
  // Before anything is written to the client: the watch's end cancels the socket's operations.
  watch.End();
  http::response<http::empty_body> head{res.base()};
  if (!oversize) {
    log.scanned = true;
    auto verdict = co_await ScanOnPool(step, body);
    if (!verdict) {
      log.scan_result = "error";
      log.scan_error = verdict.error().ToString();
      if (step.config->block_on_error) {
        scan::Verdict v;
        v.result = scan::Verdict::kError;
        v.error = "the malware scan could not run: " + verdict.error().ToString();
        x.malware = v;
        co_return RelayEnd{};
      }
    } else {
      log.scan_result = scan::VerdictResultName(verdict->result);
      log.scan_engine = verdict->engine;
      log.scan_db_version = verdict->db_version;
      if (!verdict->signatures.empty()) log.scan_signature = verdict->signatures.front();
      if (verdict->blocked() ||
          (verdict->result == scan::Verdict::kError && step.config->block_on_error)) {
        x.malware = *verdict;
        co_return RelayEnd{};
      }
    }
    head.content_length(body.size());
    Deadline(client, pc.timeouts.body_idle);
    http::serializer<false, http::empty_body> hs{head};
    auto [hec, hn] = co_await http::async_write_header(client, hs, kTuple);
    if (hec) co_return RelayEnd::Write(hec);
    auto [bec, bn] = co_await asio::async_write(client, asio::buffer(body), kTuple);
    log.response_bytes += bn;
    co_return RelayEnd::Write(bec);
  }
  // Too large to hold: what was read goes first, the rest streams; nothing of it is scanned.
  log.scan_result = "skipped";
  log.scan_error = "larger than proxy.scan.max_size";
  if (chunked_out) head.chunked(true);
  Deadline(client, pc.timeouts.body_idle);
  http::serializer<false, http::empty_body> hs{head};
  auto [hec, hn] = co_await http::async_write_header(client, hs, kTuple);
  if (hec) co_return RelayEnd::Write(hec);
  if (auto ec = co_await WriteBodyPart(client, chunked_out, body.data(), body.size(),
                                       pc.timeouts.body_idle))
    co_return RelayEnd::Write(ec);
  log.response_bytes += body.size();
  // The hold is over: the rest streams through the chunk, so its memory and bytes go back now.
  std::string().swap(body);
  share.Give();
  while (!rp.is_done()) {
    res.body().data = chunk.get();
    res.body().size = kRelayChunk;
    Deadline(upstream, pc.timeouts.body_idle);
    auto [ec, n] = co_await http::async_read(upstream, ubuf, rp, kTuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      body_read = log.response_bytes + (kRelayChunk - res.body().size);
      co_return RelayEnd::Read(ec);
    }
    const size_t got = kRelayChunk - res.body().size;
    if (got == 0) continue;
    if (auto wec =
            co_await WriteBodyPart(client, chunked_out, chunk.get(), got, pc.timeouts.body_idle))
      co_return RelayEnd::Write(wec);
    log.response_bytes += got;
  }
  if (chunked_out) {
    Deadline(client, pc.timeouts.body_idle);
    auto [lec, ln] = co_await asio::async_write(client, http::make_chunk_last(), kTuple);
    co_return RelayEnd::Write(lec);
  }
  co_return RelayEnd{};
}

// ---- uploads (R8) ----------------------------------------------------------------------------

// A request body held back for the malware step: all of it (`complete`: sent upstream with a
// Content-Length, and resendable on a fresh connection), or the first max_size bytes of a
// chunked body that turned out larger (sent first, the rest streams unscanned). The bytes it
// took from the HoldBudget (its HoldShare) go back when it is destroyed: the request ended,
// whatever the reason (the client gone, a deadline, a refusal, the proxy stopping).
struct UploadHold : HoldShare {
  // The hold is over before the request is (its bytes went out and are not needed again): its
  // memory and its bytes of the budget go back.
  void Release() {
    std::string().swap(body);
    Give();
  }

  bool active = false;
  bool complete = false;
  bool too_slow = false;  // refused for HoldDeadline, not for one read's body_idle
  std::string body;
};

// What the scan of a held upload found. `error` when scand could not scan; otherwise `verdict`
// is the first blocking verdict, or the whole body's.
struct UploadScanOutcome {
  std::optional<scan::Verdict> verdict;
  std::optional<Error> error;
  std::string file_name;  // the form file the verdict is about; empty for the whole body
  std::string note;
};

// Scans a held upload on the pool (each form file on its own first, then the whole body).
asio::awaitable<UploadScanOutcome> ScanUploadOnPool(const ScanStep& step, const std::string& body,
                                                    const std::string& content_type);

// Reads the request body into `hold` until it is complete or larger than `limit`. Answers
// "Expect: 100-continue" first: the body is wanted now, before any upstream is involved.
template <class ClientStream>
asio::awaitable<boost::system::error_code> HoldUpload(
    ClientStream& client, beast::flat_buffer& cbuf, RequestParser<http::buffer_body>& parser,
    const ProxyConfig& pc, uint64_t limit, bool& expect_continue, UploadHold& hold, uint64_t& bytes,
    ReadWatch& watch, HoldBudget& budget) {
  if (expect_continue) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    Deadline(client, pc.timeouts.body_idle);
    auto [cec, cn] = co_await asio::async_write(client, asio::buffer(kContinue), kTuple);
    if (cec) co_return cec;
    expect_continue = false;
  }
  hold.active = true;
  auto& req = parser.get();
  cbuf.reserve(kRelayChunk);
  const BodyBufferBound bound(cbuf, parser.header_limit_bytes());
  auto chunk = std::make_unique_for_overwrite<char[]>(kRelayChunk);
  const auto hold_end = Clock::now() + HoldDeadline(pc.timeouts.body_idle, limit);
  while (!parser.is_done() && hold.body.size() <= limit) {
    req.body().data = chunk.get();
    req.body().size = kRelayChunk;
    const auto left = std::chrono::duration_cast<milliseconds>(hold_end - Clock::now());
    if (left.count() <= 0) {
      hold.too_slow = true;
      co_return beast::error::timeout;
    }
    // body_idle is about progress: each read that gives bytes starts it again (one read's worth,
    // async_read_some, as the streamed path's RelayBody). Until proxy15 one deadline covered a
    // whole async_read, which reads on until the 64 KiB chunk is full, so an upload steadier
    // than 64 KiB per body_idle got 408 here while the streamed path took it.
    const bool last_read = left < pc.timeouts.body_idle;
    BeginWatchedRead(client, watch, last_read ? left : pc.timeouts.body_idle);
    auto [ec, n] = co_await http::async_read_some(client, cbuf, parser, kTuple);
    EndWatchedRead(watch, ec);
    if (ec == beast::error::timeout && last_read) hold.too_slow = true;
    if (ec == http::error::need_buffer) ec = {};
    // What the read gave counts even when it then failed: the event says how much came.
    const size_t got = kRelayChunk - req.body().size;
    // The body takes its bytes from the budget as they come (a declared length too: taking it
    // all at once let a client that sends nothing hold the budget); see HoldShare::Grow.
    if (!hold.Grow(budget, hold.body.size() + got, limit, pc.scan.hold_budget)) {
      bytes += got;
      co_return asio::error::no_buffer_space;
    }
    hold.body.append(chunk.get(), got);
    bytes += got;
    if (ec) co_return ec;
  }
  hold.complete = parser.is_done();
  if (hold.complete) cbuf.shrink_to_fit();
  co_return boost::system::error_code{};
}

inline bool ScanBypassed(const ProxyScanConfig& sc, std::string_view content_type,
                         std::string_view host) {
  return !ScanBypassNote(sc, content_type, host).empty();
}

}  // namespace seccloud::proxy::proxy_internal
