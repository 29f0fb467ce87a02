// Internal to the proxy module: the relay of one request/response exchange (ForwardOnce: the
// request to the origin, the response back, streamed or held for the scan), the body relays
// (RelayBody, RelaySizedBody) and the byte relay of tunnels and 101 (Splice). Not a public header.

#pragma once

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <tuple>
#include <utility>

#include "proxy/hop_by_hop.h"
#include "proxy/proxy_internal.h"
#include "proxy/read_watch.h"
#include "proxy/request_target.h"
#include "proxy/scan_hold.h"
#include "proxy/tcp_relay.h"

namespace seccloud::proxy::proxy_internal {

// Both directions of a tunnel (CONNECT, 101) until both ends finished or nothing moved for
// `idle`.
template <class A, class B>
class Splicer : public std::enable_shared_from_this<Splicer<A, B>> {
 public:
  Splicer(A& a, B& b, asio::io_context& io) : a_(a), b_(b), timer_(io) {}

  asio::awaitable<std::pair<uint64_t, uint64_t>> Run(milliseconds idle) {
    NoDeadline(a_);
    NoDeadline(b_);
    last_ = Clock::now();
    asio::co_spawn(timer_.get_executor(), Watchdog(this->shared_from_this(), idle), asio::detached);
    using namespace asio::experimental::awaitable_operators;
    auto [up, down] = co_await (Copy(a_, b_) && Copy(b_, a_));
    done_ = true;
    timer_.cancel();
    co_return std::make_pair(up, down);
  }

 private:
  template <class From, class To>
  asio::awaitable<uint64_t> Copy(From& from, To& to) {
    RelayChunk buf;
    uint64_t total = 0;
    while (true) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf.data(), buf.size()), kTuple);
      if (n > 0) {
        last_ = Clock::now();
        auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kTuple);
        total += wn;
        if (wec) break;
      }
      if (ec) break;
    }
    // Half-close: the other direction may still be sending.
    boost::system::error_code ignored;
    beast::get_lowest_layer(to).socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return total;
  }

  static asio::awaitable<void> Watchdog(std::shared_ptr<Splicer> self, milliseconds idle) {
    while (!self->done_) {
      self->timer_.expires_after(idle / 4 + milliseconds(1));
      co_await self->timer_.async_wait(kTuple);
      if (self->done_) co_return;
      if (Clock::now() - self->last_ > idle) {
        beast::get_lowest_layer(self->a_).close();
        beast::get_lowest_layer(self->b_).close();
        co_return;
      }
    }
  }

  A& a_;
  B& b_;
  asio::steady_timer timer_;
  Clock::time_point last_;
  bool done_ = false;
};

template <class A, class B>
asio::awaitable<std::pair<uint64_t, uint64_t>> Splice(A& a, B& b, asio::io_context& io,
                                                      milliseconds idle) {
  auto splicer = std::make_shared<Splicer<A, B>>(a, b, io);
  co_return co_await splicer->Run(idle);
}

// Plain TCP on both sides (CONNECT spliced, 101 on plain HTTP): the raw sockets, without Beast's
// per-operation timer, under one coarse idle watchdog.
asio::awaitable<std::pair<uint64_t, uint64_t>> Splice(beast::tcp_stream& a, beast::tcp_stream& b,
                                                      asio::io_context& io, milliseconds idle);

// Streams a message body from `in` to `out`: what each read (or the bytes already buffered)
// gives of the body is written before the next read is awaited, so a streamed body (server-sent
// events, long polling) is not held, and a body cut short reaches the client as far as it came.
// The header goes out with the first body bytes when they are there already (buffered, or in
// the socket: one write for both), and alone before any wait for them — a header that comes
// alone (server-sent events, long polling, a slow generator) is not held for the body either.
template <bool isRequest, class InStream, class OutStream>
asio::awaitable<RelayEnd> RelayBody(InStream& in, beast::flat_buffer& in_buf,
                                    FieldBoundedParser<isRequest, http::buffer_body>& p,
                                    OutStream& out,
                                    http::serializer<isRequest, http::buffer_body>& sr,
                                    milliseconds idle, uint64_t& bytes,
                                    ReadWatch* in_watch = nullptr) {
  // Beast reads max(512, free capacity) bytes at a time: a fresh (or fully consumed) buffer of
  // capacity 0 would cost one recv per 512 bytes of body. Give it room for a whole chunk while
  // the body lasts — unless the whole body is already buffered (a small response arrives with
  // its header) — and give that memory back afterwards (the buffers live as long as kept-alive
  // connections; a response buffer keeps the kResponseFirstRead it had before).
  const auto remaining = p.content_length_remaining();
  const bool grow = !remaining || *remaining > in_buf.size();
  if (grow) in_buf.reserve(kRelayChunk);
  const BodyBufferBound bound(in_buf, p.header_limit_bytes());
  RelayChunk chunk;
  do {
    if (!p.is_done()) {
      p.get().body().data = chunk.data();
      p.get().body().size = kRelayChunk;
      // What the buffer holds is parsed here: Beast would post even that (see WriteMessage).
      boost::system::error_code ec;
      BufferedBytesOnly buffered;
      http::read(buffered, in_buf, p, ec);
      if (ec == asio::error::would_block) {
        ec = {};
        // Body bytes parsed from the buffer go out now, before anything more is awaited (a
        // streamed response's first chunk that came with the header would otherwise wait for
        // the origin's next one). Otherwise one read's worth is awaited (async_read_some, not
        // async_read, which kept reading until the chunk filled or the message ended).
        if (p.get().body().size == kRelayChunk && !sr.is_header_done()) {
          // Nothing of the body yet, and the header not out: what the socket has now goes with
          // it; with nothing there the header goes alone before the wait.
          // Not eager (the buffered parse above turned it on): a read that gave a whole chunk
          // and its CRLF returns with it instead of reading on for the next chunk's size line —
          // a streamed chunk was held until the origin's next one, and lost if none came.
          p.eager(false);
          ec = co_await ReadSomeNow(in, in_buf, p, idle);
          if (ec == asio::error::would_block) {
            ec = {};
            if (p.get().body().size == kRelayChunk) {
              auto [hec, hn] = co_await WriteMessage<true>(out, sr, idle);
              if (hec) co_return RelayEnd::Write(hec);
            }
          } else if (!ec && p.get().body().size == kRelayChunk && !p.is_done()) {
            continue;  // chunk framing only: parse and read on, still without waiting
          }
        }
        if (!ec && p.get().body().size == kRelayChunk && !p.is_done()) {
          // `in_watch` (a request body's client): the read's deadline leaves the socket open
          // for the 408 page (BeginWatchedRead).
          if (in_watch != nullptr)
            BeginWatchedRead(in, *in_watch, idle);
          else
            Deadline(in, idle);
          p.eager(false);  // as above: return with a chunk's bytes, do not wait for the next
          std::tie(ec, std::ignore) = co_await http::async_read_some(in, in_buf, p, kTuple);
          if (in_watch != nullptr) EndWatchedRead(*in_watch, ec);
        }
      }
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return RelayEnd::Read(ec);
      const size_t got = kRelayChunk - p.get().body().size;
      // A read that gave only chunk framing (a chunk's size line, or part of it): nothing to
      // write, read on (what is left in the buffer is parsed first).
      if (got == 0 && !p.is_done()) continue;
      bytes += got;
      p.get().body().size = got;
      // No bytes (the message ended: a last chunk, or an until-close body's close) is no data,
      // not an empty buffer, which the serializer would send as a chunk of its own.
      p.get().body().data = got > 0 ? chunk.data() : nullptr;
      p.get().body().more = !p.is_done();
    } else {
      // Done before any body (Content-Length: 0): without more = false the serializer asks for a
      // buffer before it writes even the header, and the client would get nothing at all.
      p.get().body().data = nullptr;
      p.get().body().size = 0;
      p.get().body().more = false;
    }
    auto [wec, wn] = co_await WriteMessage(out, sr, idle);
    if (wec) co_return RelayEnd::Write(wec);
  } while (!p.is_done() && !sr.is_done());
  if (grow) in_buf.shrink_to_fit();
  co_return RelayEnd{};
}

// A response body of known length (Content-Length, not chunked) that did not all come with its
// header: what came with it goes out straight from `in_buf` together with the header, and the
// rest is read straight into the chunk the client's side writes from — the parser's buffer and
// the copy out of it (the parser puts a buffer_body's bytes into it) are left out: on an
// intercepted 100 KiB response that is one copy of every byte fewer, and `in_buf` no longer
// grows to a chunk and shrinks back per response. The parser sees none of the body (it is not
// done afterwards): the body is whole when this returns no error. A read that ends short
// (the origin closed mid-body) is an error, as the parser's partial_message is.
template <class InStream, class OutStream>
asio::awaitable<RelayEnd> RelaySizedBody(InStream& in, beast::flat_buffer& in_buf,
                                         ResponseParser<http::buffer_body>& p, OutStream& out,
                                         http::serializer<false, http::buffer_body>& sr,
                                         milliseconds idle, uint64_t& bytes) {
  uint64_t left = *p.content_length_remaining();
  auto& body = p.get().body();
  const size_t first = static_cast<size_t>(std::min<uint64_t>(in_buf.size(), left));
  RelayChunk chunk;
  // Read now, without waiting: the first body bytes when none came with the header.
  boost::system::error_code now_ec = asio::error::would_block;
  size_t now_n = 0;
  if (first > 0) {
    // The serializer only reads from body.data (buffer_body's pointer is not const).
    body.data = const_cast<void*>(in_buf.data().data());
    body.size = first;
    body.more = left > first;
    auto [wec, wn] = co_await WriteMessage(out, sr, idle);
    if (wec) co_return RelayEnd::Write(wec);
    in_buf.consume(first);
    left -= first;
    bytes += first;
  } else {
    // None came with the header: what the socket has now goes with it (one write for both),
    // and with nothing there the header goes alone before the wait (a slow generator's client
    // is not left without the header until its first bytes).
    std::tie(now_ec, now_n) = co_await ReadNow(
        in, asio::buffer(chunk.data(), static_cast<size_t>(std::min<uint64_t>(kRelayChunk, left))),
        idle);
    if (now_ec == asio::error::would_block) {
      body.data = nullptr;
      body.size = 0;
      body.more = true;
      auto [wec, wn] = co_await WriteMessage<true>(out, sr, idle);
      if (wec) co_return RelayEnd::Write(wec);
    }
  }
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kRelayChunk, left));
    boost::system::error_code ec;
    size_t n = 0;
    if (now_ec != asio::error::would_block) {
      std::tie(ec, n) = std::make_pair(now_ec, now_n);  // ReadNow's result, taken once
      now_ec = asio::error::would_block;
    } else {
      Deadline(in, idle);
      std::tie(ec, n) = co_await in.async_read_some(asio::buffer(chunk.data(), want), kTuple);
    }
    // The origin's close (EOF on plain TCP, stream_truncated on TLS) is a short body.
    if (n == 0) co_return RelayEnd::Read(ec ? ec : http::error::partial_message);
    left -= n;
    bytes += n;
    body.data = chunk.data();
    body.size = n;
    body.more = left > 0;
    auto [wec, wn] = co_await WriteMessage(out, sr, idle);
    if (wec) co_return RelayEnd::Write(wec);
    // An error that came with the last bytes: those went out, the body is still short.
    if (ec && left > 0) co_return RelayEnd::Read(ec);
  }
  co_return RelayEnd{};
}

// A client request made ready for the upstream, and what the response relay needs to know of
// the client's side.
struct Outbound {
  bool client_keep_alive = false;
  unsigned client_version = 11;
  bool has_body = false;
  bool expect_continue = false;  // cleared once the proxy has sent "100 Continue"
  bool via_fits = true;          // false: the request is refused (431), see RefuseLongVia
  HopByHopResult hop;
};

// Sends the (already rewritten) request on `upstream`, then relays the response to `client`.
// `held`: the body, or its first part, was read already for the malware step (UploadHold).
// `header_watch`: keeps the response header's deadline (else Beast's timer), plain or TLS.
// `client_watch`: keeps the deadline of the request body's reads from the client.
template <class ClientStream, class UpstreamStream>
asio::awaitable<Exchange> ForwardOnce(ClientStream& client, beast::flat_buffer& cbuf,
                                      RequestParser<http::buffer_body>& parser,
                                      UpstreamStream& upstream, beast::flat_buffer& ubuf,
                                      const ProxyConfig& pc, bool reused, Outbound& out,
                                      const ScanStep* scanner, RequestLog& log, UploadHold& held,
                                      ReadWatch* header_watch, ReadWatch& client_watch) {
  Exchange x;
  auto& req = parser.get();
  const bool has_body = out.has_body;
  // Nothing was consumed from the client that could not be sent again on a fresh connection.
  const bool resendable = !has_body || held.complete;
  const unsigned client_version = out.client_version;
  const HopByHopResult& hop = out.hop;
  const bool head = req.method() == http::verb::head;
  {
    http::serializer<true, http::buffer_body> sr{req};
    RelayEnd end;
    if (!has_body) {
      auto [wec, wn] = co_await WriteMessage<true>(upstream, sr, pc.timeouts.body_idle);
      end = RelayEnd::Write(wec);
    } else if (held.active) {
      // The header and what was held in one go; an incomplete hold then streams the rest.
      req.body().data = held.body.data();
      req.body().size = held.body.size();
      req.body().more = !held.complete;
      auto [wec, wn] = co_await WriteMessage(upstream, sr, pc.timeouts.body_idle);
      end = RelayEnd::Write(wec);
      // What was held went out: an incomplete hold is not resendable, and the rest streams
      // unscanned, so its bytes and budget go back now rather than when the request ends.
      if (!held.complete) held.Release();
      if (!end.ec && !held.complete)
        end = co_await RelayBody<true>(client, cbuf, parser, upstream, sr, pc.timeouts.body_idle,
                                       log.request_bytes, &client_watch);
    } else {
      if (out.expect_continue) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        Deadline(client, pc.timeouts.body_idle);
        auto [cec, cn] = co_await asio::async_write(client, asio::buffer(kContinue), kTuple);
        if (cec) {
          x.error = "the client went away: " + cec.message();
          co_return x;
        }
        out.expect_continue = false;
      }
      end = co_await RelayBody<true>(client, cbuf, parser, upstream, sr, pc.timeouts.body_idle,
                                     log.request_bytes, &client_watch);
    }
    if (end.ec && !end.writing) {
      // The client's side failed: its trailer (431), its framing or its close before the
      // body's end (400), its stall (408); a client gone (reset) is sent the 502 it cannot get.
      if (const int status = RequestBodyFailureStatus(end.ec)) x.failure_status = status;
      x.error = "reading the request body from the client failed: " +
                BodyReadError(parser, end.ec, log.request_bytes);
      co_return x;
    }
    if (end.ec) {
      // A pooled connection the origin closed meanwhile: a request without a body can go again
      // on a fresh connection (nothing was consumed from the client).
      x.retry = reused && resendable;
      x.error =
          "sending the request to the origin failed: " + RelayWriteError("the origin", end.ec);
      co_return x;
    }
  }
  // One deadline for the final response's header, interim responses included: were each 1xx to
  // start the wait again, an origin sending one a little more often than upstream_header would
  // hold the exchange open without end.
  const auto header_deadline = Clock::now() + pc.timeouts.upstream_header;
  // Interim responses passed to the client, and the status of the last one it took whole. An
  // exchange that saw one is not retried on a fresh connection: the origin had the request (a
  // retry would send it twice), and the cap of kMaxInterimResponses is one bound per exchange,
  // not one per upstream connection.
  unsigned interim_count = 0;
  int interim_status_sent = 0;
  while (true) {
    const auto header_left = std::chrono::ceil<milliseconds>(header_deadline - Clock::now());
    if (header_left <= milliseconds::zero()) {
      x.failure_status = 504;
      x.error = "the upstream sent no response in time";
      co_return x;
    }
    ResponseParser<http::buffer_body> rp;
    rp.header_limit(static_cast<uint32_t>(pc.max_header_bytes));
    rp.body_limit(boost::none);
    if (head) rp.skip(true);
    if (ubuf.capacity() - ubuf.size() < kResponseFirstRead)
      ubuf.reserve(ubuf.size() + kResponseFirstRead);
    boost::system::error_code rec;
    size_t rn = 0;
    bool timed_out = false;
    bool watched = false;
    if (header_watch != nullptr) {
      // No timer of Beast's armed and cancelled for the read (see ReadWatch); the watch cancels
      // the read at the deadline instead. Plain: the socket beneath the tcp_stream is read.
      watched = true;
      if constexpr (kPlainTcp<UpstreamStream>) {
        header_watch->Begin(upstream.socket(), header_left);
        std::tie(rec, rn) = co_await http::async_read_header(upstream.socket(), ubuf, rp, kTuple);
        header_watch->End();
        timed_out = header_watch->TimedOut(rec);
      } else {
        // TLS: the stream reads its transport through the tcp_stream, whose own deadline (the
        // request write's) would arm Beast's timer, so it goes; the body's reads set theirs.
        NoDeadline(upstream);
        header_watch->Begin(beast::get_lowest_layer(upstream).socket(), header_left);
        std::tie(rec, rn) = co_await http::async_read_header(upstream, ubuf, rp, kTuple);
        header_watch->End();
        timed_out = header_watch->TimedOut(rec);
        // As Beast's timeout: the connection is closed (the TLS stream is mid-read, unusable).
        // Defensive: ForwardTls, today's only TLS caller, resets the upstream right after anyway.
        if (timed_out) beast::get_lowest_layer(upstream).close();
      }
    }
    if (!watched) {
      Deadline(upstream, header_left);
      std::tie(rec, rn) = co_await http::async_read_header(upstream, ubuf, rp, kTuple);
      timed_out = rec == beast::error::timeout;
    }
    if (rec) {
      // The origin closed the connection before any byte of a response: EOF or a reset on
      // plain TCP; on TLS the transport's end with a close_notify (eof) or without one
      // (stream_truncated: an origin closing an idle connection often sends none). A pooled
      // connection that does so had been closed while idle, and the request can go again.
      const bool closed = rec == http::error::end_of_stream ||
                          rec == asio::error::connection_reset || rec == asio::error::eof ||
                          rec == asio::ssl::error::stream_truncated;
      // Again only when the origin cannot have acted on it and nothing of a response came: a
      // request that went out whole is replayed only for an idempotent method (RFC 9110 9.2.2:
      // a proxy must not retry a POST it sent — the origin may have applied it, then crashed),
      // and a piece of a status line leaves rn at 0 (Beast's parser takes whole lines), so the
      // buffer must be empty too.
      x.retry = reused && resendable && IsIdempotent(req.method()) && rn == 0 && ubuf.size() == 0 &&
                !rp.got_some() && interim_count == 0 && closed;
      if (timed_out) {
        x.failure_status = 504;
        x.error = "the upstream sent no response in time";
      } else if (rec == http::error::header_limit && rp.field_too_long()) {
        x.error = "the upstream response has a header field longer than 65,533 bytes";
      } else if (interim_count > 0 && rn == 0 && closed) {
        x.error = "the upstream closed the connection after " + std::to_string(interim_count) +
                  " interim (1xx) responses, before a final one";
      } else {
        x.error = "the upstream response is not valid: " + rec.message();
      }
      co_return x;
    }
    auto& res = rp.get();
    const int status = static_cast<int>(res.result_int());
    if (status >= 100 && status < 200 && status != 101) {
      // Interim responses (100 Continue, 103 Early Hints) pass through; the final one follows.
      // At most kMaxInterimResponses: an origin streaming 1xx within the header's deadline
      // would have the proxy write each to the client, and none is ever needed by the dozen.
      // Past it the exchange ends with a 502 (no final response went out yet).
      if (++interim_count > kMaxInterimResponses) {
        x.error = "the upstream sent more than " + std::to_string(kMaxInterimResponses) +
                  " interim (1xx) responses";
        co_return x;
      }
      // RFC 9110 §15.2: a server MUST NOT send a 1xx response to an HTTP/1.0 client. Counted
      // (the cap holds) and dropped; the final response follows.
      if (client_version < 11) continue;
      // By its number: Beast 1.81 knows no 103 (status::unknown), which wrote "HTTP/1.1 0".
      http::response<http::empty_body> interim;
      interim.version(client_version);
      interim.result(res.result_int());
      interim.reason(res.reason());
      for (const auto& f : res.base()) interim.insert(f.name_string(), f.value());
      StripHopByHop(interim.base());
      Deadline(client, pc.timeouts.body_idle);
      auto [iec, in] = co_await http::async_write(client, interim, kTuple);
      if (iec) {
        // The client is gone (or stalled past body_idle): nothing more can reach it. Part of
        // a response may have gone out, so no 502 follows; the upstream connection is dropped
        // (its final response is not read). The event's status is what the client last took
        // whole (an earlier interim response's, or none), not the one that failed.
        x.responded = true;
        log.status = interim_status_sent;
        x.error = "the exchange ended without a final response: writing an interim (" +
                  std::to_string(status) +
                  ") response to the client failed: " + RelayWriteError("the client", iec);
        co_return x;
      }
      interim_status_sent = status;
      continue;
    }
    // The final response's header came: the request cannot go again (x.retry needs nothing of a
    // response read), so a held upload has served its purpose. Its memory and its bytes of the
    // hold budget go back now, before the response's own hold takes from the budget: else a
    // response were refused for the bytes of its own request (a budget of max_size refused any
    // scanned answer to a held upload), and every retry by the client would send the POST again.
    held.Release();
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing; and a coding
    // besides chunked would be lost here (the body is de-chunked and re-framed, the field is
    // hop-by-hop): the client would take the coded bytes for the content. Refused (502), the
    // upstream connection dropped. A response without a body is not read by its framing.
    if (!(head || status == 204 || status == 304) &&
        res.find(http::field::transfer_encoding) != res.end() &&
        (res.version() < 11 || !OnlyChunked(res.base()))) {
      x.error = res.version() < 11
                    ? "the upstream's HTTP/1.0 response has a Transfer-Encoding (faulty framing)"
                    : "the upstream response's Transfer-Encoding has a coding other than chunked";
      co_return x;
    }
    const bool upstream_keep = res.keep_alive();
    const bool res_chunked = rp.chunked();
    const bool length_known =
        rp.content_length().has_value() || res_chunked || head || status == 204 || status == 304;
    StripHopByHop(res.base());
    // One Content-Length with the length the body is read by (RFC 9110 §8.6), and back when
    // Connection named it: else the client got a body it could not frame.
    if (!res_chunked && rp.content_length())
      res.set(http::field::content_length, std::to_string(*rp.content_length()));
    if (!AddVia(res.base(), res.version(), pc.via_name)) {
      x.error =
          "the upstream response's Via fields, with this proxy's entry, would be longer "
          "than a field may be (65,533 bytes)";
      co_return x;
    }
    // Transfer-Encoding went with the hop-by-hop fields: chunked(true) below sets a fresh one.
    x.responded = true;
    log.status = status;
    res.version(client_version == 10 ? 10 : 11);
    bool keep = out.client_keep_alive && !hop.upgrade_requested;
    if (status == 101) {
      res.set(http::field::connection, "upgrade");
      res.set(http::field::upgrade, hop.upgrade);
    } else if (client_version >= 11 && (res_chunked || !length_known)) {
      res.chunked(true);  // an until-close body becomes chunked for an HTTP/1.1 client
    } else if (res_chunked || !length_known) {
      keep = false;  // an HTTP/1.0 client reads the body until the connection closes
    }
    if (status != 101) res.keep_alive(keep);
    http::serializer<false, http::buffer_body> rsr{res};
    RelayEnd end;
    uint64_t body_read = 0;   // the body bytes read from the origin, for a read's error text
    bool body_whole = false;  // relayed by RelaySizedBody, which the parser does not see
    if (head || status == 204 || status == 304 || status == 101) {
      auto [hwec, hwn] = co_await WriteMessage<true>(client, rsr, pc.timeouts.body_idle);
      end = RelayEnd::Write(hwec);
    } else if (scanner != nullptr &&
               !ScanBypassed(*scanner->config, res[http::field::content_type], log.host)) {
      const bool chunked_out = res.chunked();
      end = co_await ScanAndRelay(client, upstream, ubuf, rp, pc, *scanner, chunked_out, x, log,
                                  body_read);
      if (!end.ec && x.hold_refused) {
        // Nothing of the body was read whole or sent: the connection cannot be used again.
        x.responded = false;
        x.upstream_reusable = false;
        co_return x;
      }
      if (!end.ec && x.malware) {
        // Nothing of the body reached the client; the caller answers with a block page.
        x.responded = false;
        x.upstream_reusable = upstream_keep && rp.is_done() && length_known && ubuf.size() == 0;
        co_return x;
      }
    } else {
      if (scanner != nullptr) log.scan_result = "bypassed";
      const auto remaining = rp.content_length_remaining();
      if (!res_chunked && remaining && *remaining > ubuf.size() && !rp.is_done()) {
        end = co_await RelaySizedBody(upstream, ubuf, rp, client, rsr, pc.timeouts.body_idle,
                                      log.response_bytes);
        body_whole = !end.ec;
      } else {
        end = co_await RelayBody<false>(upstream, ubuf, rp, client, rsr, pc.timeouts.body_idle,
                                        log.response_bytes);
      }
      body_read = log.response_bytes;
      // A read that failed before the header went out (a trailer refused that came with a short
      // body, a bad first chunk, an origin closing before any body byte): nothing reached the
      // client, which gets a 502, not a connection closed on nothing.
      if (end.ec && !end.writing && !rsr.is_header_done()) x.responded = false;
    }
    if (end.ec) {
      if (x.client_gone_during_hold) {
        x.error =
            "the client closed the connection while the response was held for the malware "
            "scan (after " +
            std::to_string(body_read) + " body bytes from the origin" +
            (x.error_detail.empty() ? "" : "; " + x.error_detail) + ")";
      } else if (end.writing) {
        x.error =
            "writing the response to the client failed: " + RelayWriteError("the client", end.ec);
      } else {
        x.error = "reading the response body from the origin failed: " +
                  BodyReadError(rp, end.ec, body_read);
        if (!x.error_detail.empty()) x.error += " (" + x.error_detail + ")";
        if (!x.responded && end.ec == beast::error::timeout) x.failure_status = 504;
      }
      co_return x;
    }
    if (status == 101) {
      x.switched = true;
      co_return x;
    }
    x.client_keep = keep;
    x.upstream_reusable =
        upstream_keep && (rp.is_done() || body_whole) && length_known && ubuf.size() == 0;
    co_return x;
  }
}

// Removes hop-by-hop fields, points the request at the origin and adds Via (RewriteForUpstream),
// and keeps what the response relay needs to know of the client's side.
Outbound PrepareOutbound(RequestParser<http::buffer_body>& parser, const RequestTarget& target,
                         const ProxyConfig& pc);

}  // namespace seccloud::proxy::proxy_internal
