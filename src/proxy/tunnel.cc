// CONNECT (ClientSession): the tunnel spliced to the origin, or TLS interception — the
// ClientHello peeked for its SNI, the origin's certificate verified, the terminal's TLS ended here
// with a minted leaf and its requests forwarded over the verified origin connection (R9).

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "proxy/block_page.h"
#include "proxy/client_session.h"
#include "proxy/hop_by_hop.h"
#include "proxy/proxy_service.h"
#include "proxy/relay.h"
#include "proxy/scan_hold.h"
#include "proxy/upload_scan.h"

namespace seccloud::proxy::proxy_internal {

bool ClientSession::NoDecrypt(std::string_view host) const {
  for (const std::string& d : cfg_->proxy.tls.no_decrypt_domains) {
    if (host == d) return true;
    if (host.size() > d.size() && host.ends_with(d) && host[host.size() - d.size() - 1] == '.')
      return true;
  }
  return false;
}

asio::awaitable<void> ClientSession::Tunnel(const RequestTarget& target, RequestLog& log,
                                            const PendingPage* pending) {
  const ProxyConfig& pc = cfg_->proxy;
  const bool inspect = pc.tls.intercept && service_.tls_ready() && !NoDecrypt(target.host);
  if (!inspect) {
    if (pending) {
      co_await ShowPage(client_, log, *pending);
      co_return;
    }
    // Without interception only the SNI can still be judged: peek at it after the tunnel is
    // up when interception is configured (no-decrypt domains), else splice blindly.
    auto upstream = co_await Connect(target, log);
    if (!upstream) {
      co_await UpstreamFailed(client_, log, log.status, log.error);
      co_return;
    }
    if (!co_await SendEstablished(log)) co_return;
    if (pc.tls.intercept && service_.tls_ready()) {
      log.tls_mode = "spliced";
      auto hello = co_await PeekClientHello(pc.timeouts.client_header);
      if (hello && hello->server_name) {
        log.sni = *hello->server_name;
        if (*hello->server_name != target.host) {
          RequestTarget by_sni = target;
          by_sni.host = *hello->server_name;
          policy::Verdict v = Judge(by_sni, http::verb::connect, false, log);
          if (v.action != policy::Action::kAllow && PageFor(v, by_sni, log)) co_return;
        }
      }
    }
    co_await SpliceClient(*upstream, log);
    co_return;
  }
  if (!co_await SendEstablished(log)) co_return;
  // The client speaks first: read its ClientHello without consuming it, so that either
  // OpenSSL (interception) or the origin (splice) gets it whole.
  auto hello = co_await PeekClientHello(pc.timeouts.client_header);
  if (!hello) {
    log.action = "blocked";
    log.verdict = "block";
    log.reason = "the tunnel did not start with a TLS ClientHello: " + hello.error().ToString();
    service_.metrics().blocked.Increment();
    co_return;
  }
  const std::string sni = hello->server_name.value_or(target.host);
  log.sni = sni;
  std::optional<PendingPage> page;
  if (pending) page = *pending;
  if (!page && sni != target.host) {
    // The name the client really asks for is judged too (domain fronting).
    RequestTarget by_sni = target;
    by_sni.host = sni;
    policy::Verdict v = Judge(by_sni, http::verb::connect, false, log);
    if (v.action != policy::Action::kAllow) page = PageFor(v, by_sni, log);
  }
  if (!page && (NoDecrypt(sni) || buffer_.size() > 0)) {
    log.tls_mode = "spliced";
    auto upstream = co_await Connect(target, log);
    if (!upstream) {
      log.action = "failed";
      service_.metrics().failed.Increment();
      co_return;
    }
    co_await SpliceClient(*upstream, log);
    co_return;
  }
  co_await InterceptTunnel(target, sni, log, page ? &*page : nullptr);
}

asio::awaitable<bool> ClientSession::SendEstablished(RequestLog& log) {
  http::response<http::empty_body> ok{http::status::ok, 11};
  ok.reason("Connection established");
  Deadline(client_, cfg_->proxy.timeouts.body_idle);
  auto [ec, n] = co_await http::async_write(client_, ok, kTuple);
  log.status = 200;
  co_return !ec;
}

asio::awaitable<void> ClientSession::SpliceClient(beast::tcp_stream& upstream, RequestLog& log) {
  log.tls_mode = "spliced";
  if (buffer_.size() > 0) {  // pipelined after CONNECT
    auto [ec, n] = co_await asio::async_write(upstream, buffer_.data(), kTuple);
    log.request_bytes += n;
    buffer_.consume(buffer_.size());
    if (ec) co_return;
  }
  auto [up, down] = co_await Splice(client_, upstream, io_, cfg_->proxy.timeouts.tunnel_idle);
  log.request_bytes += up;
  log.response_bytes += down;
  Account(log);
}

asio::awaitable<Result<net::ClientHelloInfo>> ClientSession::PeekClientHello(milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  std::vector<uint8_t> bytes(16 * 1024);
  ssize_t last = -1;
  asio::steady_timer pause(io_);
  asio::steady_timer limit_timer(io_);
  limit_timer.expires_at(deadline);
  using namespace asio::experimental::awaitable_operators;
  while (Clock::now() < deadline) {
    auto ready = co_await (client_.socket().async_wait(tcp::socket::wait_read, kTuple) ||
                           limit_timer.async_wait(kTuple));
    if (ready.index() == 1) break;  // the deadline passed
    if (auto [wec] = std::get<0>(ready); wec)
      co_return MakeError(Errc::kUnavailable, wec.message());
    const ssize_t n = ::recv(client_.socket().native_handle(), bytes.data(), bytes.size(),
                             MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) co_return MakeError(Errc::kUnavailable, "the client closed the tunnel");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      co_return ErrnoError("reading the ClientHello", errno);
    }
    auto peek =
        net::PeekClientHello(std::span<const uint8_t>(bytes.data(), static_cast<size_t>(n)));
    if (!peek) co_return peek.error();
    if (!peek->need_more) co_return peek->info;
    if (static_cast<size_t>(n) == bytes.size()) {
      if (bytes.size() >= 70 * 1024)
        co_return MakeError(Errc::kInvalidArgument, "the ClientHello is larger than 64 KiB");
      bytes.resize(bytes.size() * 2);
    } else if (n == last) {
      // The socket is readable because of the bytes already peeked: wait a little for more.
      pause.expires_after(milliseconds(2));
      co_await pause.async_wait(kTuple);
    }
    last = n;
  }
  co_return MakeError(Errc::kDeadlineExceeded, "no complete ClientHello in time");
}

asio::awaitable<void> ClientSession::InterceptTunnel(const RequestTarget& target,
                                                     const std::string& sni, RequestLog& log,
                                                     const PendingPage* pending) {
  const ProxyConfig& pc = cfg_->proxy;
  log.tls_mode = "intercepted";
  Intercept ic;
  ic.origin = target;
  ic.origin.scheme = "https";
  ic.sni = sni;
  // The origin first: its certificate decides whether the client gets the site or a page
  // explaining what is wrong with it.
  std::optional<PendingPage> page;
  if (pending) {
    page = *pending;
  } else if (auto up = co_await EstablishTls(ic, log); !up) {
    page = PendingPage{log.status ? log.status : 502, false, up.error().ToString(),
                       up.error().code == Errc::kPermissionDenied
                           ? std::string("tls: ") + log.tls_problem
                           : std::string(),
                       ""};
  }
  auto ctx = service_.leaf_cache().ServerContextFor(sni);
  if (!ctx) {
    log.action = "blocked";
    log.verdict = "block";
    log.reason = "no certificate can be made for " + sni + ": " + ctx.error().ToString();
    service_.metrics().blocked.Increment();
    co_return;
  }
  // net::TlsStream rather than asio::ssl::stream: fewer copies, recvs and sends per record
  // (tls_stream.h).
  net::TlsStream tls(std::move(client_), ctx->get());
  client_moved_ = true;
  Deadline(tls, pc.timeouts.client_header);
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::server, kTuple);
  if (hec) {
    log.action = "failed";
    log.error = "TLS handshake with the client failed: " + hec.message() +
                " (does the terminal trust the interception CA?)";
    service_.metrics().failed.Increment();
    co_return;
  }
  beast::flat_buffer tls_buf;
  if (page) {
    // Read the request the browser sends and answer it with the page.
    RequestParser<http::empty_body> parser;
    parser.header_limit(static_cast<uint32_t>(pc.max_header_bytes));
    Deadline(tls, pc.timeouts.client_header);
    auto [rec, rn] = co_await http::async_read_header(tls, tls_buf, parser, kTuple);
    RequestLog inner;
    FillTls(inner, ic);
    inner.layer = log.layer;
    inner.list = log.list;
    inner.entry = log.entry;
    inner.category = log.category;
    inner.alert = log.alert;
    inner.tls_problem = log.tls_problem;
    inner.verdict = page->warn ? "warn" : "block";
    inner.action = page->warn ? "warned" : "blocked";
    inner.reason = page->reason;
    inner.host = ic.origin.host;
    inner.url = ic.origin.url();
    if (!rec) {
      inner.method = std::string(parser.get().method_string());
      std::string why;
      if (auto t = InnerTarget(parser.get().target(), ic.origin, &why)) {
        inner.url = t->url();
        if (page->warn)
          page->continue_url = service_.warn_overrides().ContinueUrl(
              attribution_.tenant->id, attribution_.source.ToString(), sni, inner.url);
      }
    }
    co_await ShowPage(tls, inner, *page);
    Finish(inner);
    // The CONNECT's outcome is known: its event goes out before the close, which may linger
    // for seconds (until proxy16 it was written after, and lost when the proxy stopped then).
    Finish(log);
    if (linger_) co_await CloseTlsAfterPage(tls, tls_buf.size(), !rec && parser.is_done());
    co_return;
  }
  co_await HttpLoop(tls, tls_buf, &ic);
  Finish(log);
  if (linger_) co_return co_await CloseTlsAfterPage(tls, tls_buf.size(), !request_unread_);
  Deadline(tls, milliseconds(2000));
  co_await tls.async_shutdown(kTuple);
}

asio::awaitable<void> ClientSession::CloseTlsAfterPage(net::TlsStream& tls, size_t buffered,
                                                       bool read_whole) {
  // Decrypted bytes not taken yet, and ciphertext the stream received but OpenSSL has not read.
  const size_t pending = buffered + tls.input_pending() +
                         static_cast<size_t>(std::max(SSL_pending(tls.native_handle()), 0));
  const bool linger = MayStillSend(!read_whole, pending, tls.next_layer().socket().native_handle());
  Deadline(tls, milliseconds(2000));
  ERR_clear_error();
  SSL_shutdown(tls.native_handle());
  ERR_clear_error();
  if (tls.output_pending() > 0) {
    auto [fec, fn] = co_await tls.async_flush(kTuple);
    if (fec) co_return;
  }
  if (linger)
    co_await LingerClose(tls.next_layer());
  else
    CloseAfterPage(tls.next_layer());
}

asio::awaitable<Status> ClientSession::EstablishTls(Intercept& ic, RequestLog& log) {
  ic.upstream.reset();
  ic.ubuf.consume(ic.ubuf.size());
  auto tcp = co_await Connect(ic.origin, log);
  if (!tcp) co_return MakeError(Errc::kUnavailable, log.error);
  const std::string name = ic.origin.host_is_ip ? ic.origin.host : ic.sni;
  auto conn = co_await service_.upstream_tls().Handshake(std::move(*tcp), name);
  if (!conn) {
    log.status = conn.error().code == Errc::kDeadlineExceeded ? 504 : 502;
    co_return conn.error();
  }
  const auto& report = conn->report();
  (report.resumed ? service_.metrics().tls_resumed : service_.metrics().tls_full).Increment();
  ic.issuer = report.issuer;
  log.server_issuer = report.issuer;
  if (!conn->verified()) {
    log.status = 502;
    log.tls_problem = net::UpstreamCertProblemName(report.problem);
    co_return MakeError(Errc::kPermissionDenied, report.Sentence());
  }
  ic.upstream = std::move(*conn);
  co_return Status{};
}

template <class Stream>
asio::awaitable<bool> ClientSession::ForwardTls(Stream& client, beast::flat_buffer& buf,
                                                RequestParser<http::buffer_body>& parser,
                                                const RequestTarget& target, RequestLog& log,
                                                Intercept& ic) {
  const ProxyConfig& pc = cfg_->proxy;
  Outbound out = PrepareOutbound(parser, target, pc);
  if (!out.via_fits) co_return co_await RefuseLongVia(client, log);
  UploadHold held;
  if (auto done = co_await ScreenUpload(client, buf, parser, target, out, held, log))
    co_return *done;
  // The tunnel's upstream connection is kept for its next request as a pooled one is, and
  // checked as the pool checks (SocketQuiet): until the framing table (issue 3) an origin's
  // bytes sent after a response's Content-Length, once the response was relayed, were read as
  // the answer to the terminal's next request in the tunnel.
  if (ic.upstream && ic.upstream_used) {
    auto idle = ic.upstream->Trusted();
    if (!idle || ic.ubuf.size() > 0 || (*idle)->input_pending() > 0 ||
        SSL_pending((*idle)->native_handle()) > 0 ||
        !SocketQuiet(beast::get_lowest_layer(**idle).socket().native_handle())) {
      ic.upstream.reset();
      ic.ubuf.clear();
    }
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = ic.upstream.has_value();
    if (!reused) {
      ic.upstream_used = false;
      if (auto st = co_await EstablishTls(ic, log); !st) {
        const std::string reason = st.error().ToString();
        co_return co_await UpstreamFailed(client, log, log.status ? log.status : 502, reason);
      }
    }
    auto stream = ic.upstream->Trusted();
    if (!stream) co_return co_await UpstreamFailed(client, log, 502, stream.error().ToString());
    Exchange x = co_await ForwardOnce(client, buf, parser, **stream, ic.ubuf, pc, reused, out,
                                      ScanFor(target), log, held, &upstream_header_, client_reads_);
    if (x.retry && attempt == 0) {
      ic.upstream.reset();
      ic.ubuf.clear();
      continue;
    }
    if (x.hold_refused) {
      ic.upstream.reset();
      ic.ubuf.clear();
      co_return co_await RefuseResponseHold(client, log, x);
    }
    if (x.malware) {
      // A kept connection is marked used here too: one made fresh for this request would
      // otherwise be reused with no quiet check, were the client connection kept after a block.
      if (!x.upstream_reusable) ic.upstream.reset();
      ic.upstream_used = ic.upstream.has_value();
      co_return co_await MalwareFound(client, log, *x.malware);
    }
    if (!x.responded) {
      ic.upstream.reset();
      co_return co_await UpstreamFailed(client, log, x.failure_status, x.error);
    }
    Account(log);
    if (!x.error.empty()) {
      log.error = x.error;
      co_return false;
    }
    if (x.switched) {
      auto [up, down] = co_await Splice(client, **stream, io_, pc.timeouts.tunnel_idle);
      log.request_bytes += up;
      log.response_bytes += down;
      co_return false;
    }
    if (!x.upstream_reusable) ic.upstream.reset();
    ic.upstream_used = ic.upstream.has_value();
    co_return x.client_keep;
  }
  co_return co_await UpstreamFailed(client, log, 502, "the upstream closed the connection");
}

// The streams these are used with, from the other files of the session (client_session.h).
template asio::awaitable<bool> ClientSession::ForwardTls(beast::tcp_stream& client,
                                                         beast::flat_buffer& buf,
                                                         RequestParser<http::buffer_body>& parser,
                                                         const RequestTarget& target,
                                                         RequestLog& log, Intercept& ic);
template asio::awaitable<bool> ClientSession::ForwardTls(net::TlsStream& client,
                                                         beast::flat_buffer& buf,
                                                         RequestParser<http::buffer_body>& parser,
                                                         const RequestTarget& target,
                                                         RequestLog& log, Intercept& ic);

}  // namespace seccloud::proxy::proxy_internal
