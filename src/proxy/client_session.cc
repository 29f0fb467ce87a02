// One client connection (ClientSession): its request loop, the URL filter's verdict and the
// pages, the plain HTTP forward, the upstream connect, the answers made here and the lingering
// close after them.

#include "proxy/client_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "proxy/block_page.h"
#include "proxy/hop_by_hop.h"
#include "proxy/proxy_service.h"
#include "proxy/relay.h"
#include "proxy/scan_hold.h"
#include "proxy/upload_scan.h"

namespace seccloud::proxy::proxy_internal {

asio::awaitable<void> ClientSession::Run() {
  co_await HttpLoop(client_, buffer_, nullptr);
  // An intercepted tunnel took client_ (moved into its TlsStream) and closed it there.
  if (!linger_ || client_moved_) co_return;
  if (MayStillSend(request_unread_, buffer_.size(), client_.socket().native_handle()))
    co_await LingerClose(client_);
  else
    CloseAfterPage(client_);
}

template <class Stream>
asio::awaitable<void> ClientSession::HttpLoop(Stream& client, beast::flat_buffer& buf,
                                              Intercept* ic) {
  bool first = true;
  while (true) {
    cfg_ = service_.config();
    const ProxyConfig& pc = cfg_->proxy;
    RequestParser<http::buffer_body> parser;
    parser.header_limit(static_cast<uint32_t>(pc.max_header_bytes));
    parser.body_limit(boost::none);  // bodies are streamed, any size
    if (!first && buf.size() == 0) {
      // Between requests a client may idle for client_idle; once the next request has begun,
      // its whole header must come within client_header like the first one's, or a slowloris
      // would get client_idle per header simply by sending one good request first.
      boost::system::error_code wec;
      size_t wn = 0;
      if constexpr (kPlainTcp<Stream>) {
        client_reads_.Begin(client.socket(), pc.timeouts.client_idle);
        std::tie(wec, wn) = co_await client.socket().async_read_some(buf.prepare(512), kTuple);
        client_reads_.End();
      } else {
        // The watch, not Beast's timer armed and cancelled per request (one more polling
        // epoll_wait each). At the deadline the socket is closed, as Beast's timeout does.
        NoDeadline(client);
        client_reads_.Begin(beast::get_lowest_layer(client).socket(), pc.timeouts.client_idle);
        std::tie(wec, wn) = co_await client.async_read_some(buf.prepare(512), kTuple);
        client_reads_.End();
        if (client_reads_.TimedOut(wec)) beast::get_lowest_layer(client).close();
      }
      buf.commit(wn);
      if (wec || wn == 0) co_return;
    }
    const auto ec = co_await ReadRequestHeader(client, buf, parser, pc.timeouts.client_header);
    first = false;
    if (ec) {
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::connection_reset || ec == asio::error::eof ||
          ec == asio::ssl::error::stream_truncated)
        co_return;
      service_.metrics().bad_requests.Increment();
      const bool too_big = ec == http::error::header_limit;
      // A request it is, if a broken one: it gets its access event like any other.
      RequestLog log;
      log.action = "failed";
      log.verdict = "block";
      log.reason = !too_big ? "the request is not valid HTTP/1.1: " + ec.message()
                   : parser.field_too_long()
                       ? std::string("a header field longer than 65,533 bytes")
                       : std::string("the request header is larger than allowed");
      if (ic)
        FillTls(log, *ic);
      else
        attribution_ = cfg_->registry->Attribute(peer_, "");
      co_await Refuse(client, log, too_big ? 431 : 400,
                      too_big ? "Request Header Fields Too Large" : "Bad Request", log.reason);
      Finish(log);
      request_unread_ = true;  // the rest of a refused header (and a body) may still come
      co_return;
    }
    RequestLog log;
    if (ic) FillTls(log, *ic);
    const bool keep = co_await HandleRequest(client, buf, parser, log, ic);
    Finish(log);
    if (!keep) {
      request_unread_ = !parser.is_done();
      co_return;
    }
  }
}

void ClientSession::FillTls(RequestLog& log, const Intercept& ic) {
  log.tls_mode = "intercepted";
  log.sni = ic.sni;
  log.server_issuer = ic.issuer;
}

template <class Stream>
asio::awaitable<bool> ClientSession::HandleRequest(Stream& client, beast::flat_buffer& buf,
                                                   RequestParser<http::buffer_body>& parser,
                                                   RequestLog& log, Intercept* ic) {
  auto& req = parser.get();
  const ProxyConfig& pc = cfg_->proxy;
  log.method = std::string(req.method_string());
  if (auto ua = req.find(http::field::user_agent); ua != req.end())
    log.user_agent = std::string(ua->value().substr(0, 512));
  if (!ic) {
    // Attribution first: who is asking decides everything else. Inside an intercepted tunnel
    // the attribution of its CONNECT stands (the tenant proxy added X-Forwarded-For there).
    std::string xff;
    for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it) {
      if (!xff.empty()) xff += ",";
      xff += std::string(it->value());
      if (xff.size() > TenantRegistry::kMaxXffBytes + 1) break;
    }
    attribution_ = cfg_->registry->Attribute(peer_, xff);
    if (attribution_.method == AttributionMethod::kUntrustedXffIgnored && !xff.empty())
      service_.metrics().forged_xff.Increment();
  }
  const bool connect = req.method() == http::verb::connect;
  std::string why;
  std::optional<RequestTarget> target;
  if (ic) {
    target = InnerTarget(req.target(), ic->origin, &why);
  } else {
    target =
        connect ? ParseAuthorityForm(req.target(), &why) : ParseAbsoluteForm(req.target(), &why);
  }
  if (target) {
    log.url = target->url();
    log.host = target->host;
  } else {
    log.url = std::string(req.target().substr(0, 2048));
  }
  // Checked once attribution and URL are known, so that the refusal's event names them.
  if (CountFields(req.base()) > pc.max_headers) {
    service_.metrics().bad_requests.Increment();
    const std::string why_count =
        "the request has more than " + std::to_string(pc.max_headers) + " header fields";
    co_await Refuse(client, log, 431, "Request Header Fields Too Large", why_count);
    co_return false;
  }
  // A Transfer-Encoding that does not end in chunked leaves the body length unknown (RFC 9112
  // §6.3): read as "no body", the body's bytes would be taken for the next request — a request
  // smuggled past whatever sits in front (a tenant proxy) and attributed to its connection.
  if (req.find(http::field::transfer_encoding) != req.end() && !parser.chunked()) {
    service_.metrics().bad_requests.Increment();
    co_await Refuse(client, log, 400, "Bad Request",
                    "the request's Transfer-Encoding does not end in chunked, so the length of "
                    "its body cannot be known");
    co_return false;
  }
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing (400); a coding
  // besides chunked would be lost when the body is re-framed for the origin (501, "a transfer
  // coding it does not understand").
  if (req.find(http::field::transfer_encoding) != req.end() &&
      (req.version() < 11 || !OnlyChunked(req.base()))) {
    service_.metrics().bad_requests.Increment();
    const bool old_version = req.version() < 11;
    co_await Refuse(
        client, log, old_version ? 400 : 501, old_version ? "Bad Request" : "Not Implemented",
        old_version ? "an HTTP/1.0 request with a Transfer-Encoding has faulty framing"
                    : "the request's Transfer-Encoding has a coding other than chunked, "
                      "which this proxy does not pass on");
    co_return false;
  }
  if (attribution_.tenant == nullptr) {
    service_.metrics().denied.Increment();
    log.action = "denied";
    log.verdict = "block";
    log.reason = "the source address " + peer_.ToString() + " belongs to no tenant";
    co_await Refuse(client, log, 403, "Forbidden", log.reason);
    co_return false;
  }
  if (!target || (ic && connect)) {
    service_.metrics().bad_requests.Increment();
    // Built before the co_await: g++ 12 destroys a std::string temporary made in a ?: inside
    // a co_await expression twice.
    const std::string reason =
        target ? std::string("CONNECT inside an intercepted tunnel is not allowed") : why;
    co_await Refuse(client, log, 400, "Bad Request", reason);
    co_return false;
  }
  if (!ic && !connect && target->host == kProxyOwnHost)
    co_return co_await ServeOwn(client, *target, log);
  const policy::Verdict verdict = Judge(*target, req.method(), /*full_url=*/!connect, log);
  if (verdict.action != policy::Action::kAllow) {
    auto page = PageFor(verdict, *target, log);
    if (page) {
      if (connect) {
        co_await Tunnel(*target, log, &*page);
      } else {
        co_await ShowPage(client, log, *page);
      }
      co_return false;
    }
  }
  if (connect) {
    co_await Tunnel(*target, log, nullptr);
    co_return false;
  }
  if (req.method() == http::verb::options || req.method() == http::verb::trace)
    if (auto mf = MaxForwards(req.base()); mf && *mf == 0)
      co_return co_await AnswerMaxForwardsZero(client, req, log);
  if (ic) co_return co_await ForwardTls(client, buf, parser, *target, log, *ic);
  co_return co_await ForwardPlain(parser, *target, log);
}

policy::Verdict ClientSession::Judge(const RequestTarget& target, http::verb method, bool full_url,
                                     RequestLog& log) {
  policy::UrlRequest r;
  r.method = http::to_string(method);
  // Both arms string_views: with a `const char*` arm the ?: makes a std::string temporary,
  // and r.scheme would point into it after this statement (ASan: stack-use-after-scope).
  r.scheme = target.scheme.empty() ? std::string_view("https") : std::string_view(target.scheme);
  r.host = target.host;
  r.port = target.port;
  r.path = full_url ? std::string_view(target.path) : std::string_view("/");
  r.full_url_visible = full_url;
  r.is_upload =
      method == http::verb::post || method == http::verb::put || method == http::verb::patch;
  policy::Verdict v = service_.Judge(r, attribution_.tenant->id);
  log.layer = v.layer;
  log.list = v.list;
  log.entry = v.entry;
  log.category = v.category;
  log.alert = v.alert;
  if (v.action != policy::Action::kAllow) log.reason = v.reason;
  return v;
}

std::optional<PendingPage> ClientSession::PageFor(const policy::Verdict& v,
                                                  const RequestTarget& target, RequestLog& log) {
  PendingPage page;
  page.reason = v.reason;
  page.rule = v.list.empty() ? v.entry : v.list + ": " + v.entry;
  const std::string source = attribution_.source.ToString();
  if (v.action == policy::Action::kWarn) {
    log.verdict = "warn";
    if (service_.warn_overrides().Granted(attribution_.tenant->id, source, target.host)) {
      log.reason = "warning accepted earlier: " + v.reason;
      return std::nullopt;
    }
    page.warn = true;
    const std::string url =
        target.scheme.empty() ? "https://" + target.authority() + "/" : target.url();
    page.continue_url =
        service_.warn_overrides().ContinueUrl(attribution_.tenant->id, source, target.host, url);
    log.action = "warned";
  } else {
    log.verdict = "block";
    log.action = "blocked";
  }
  service_.metrics().blocked.Increment();
  return page;
}

template <class Stream>
asio::awaitable<void> ClientSession::ShowPage(Stream& client, RequestLog& log,
                                              const PendingPage& page) {
  // Not a ?: inside the co_await: g++ 12 would destroy the std::string temporary twice.
  std::string continue_url;
  if (page.warn) continue_url = page.continue_url;
  // A page in place of an origin whose certificate failed is a 502 (504), not a "Forbidden".
  const char* title = page.warn            ? "Warning"
                      : page.status == 502 ? "Bad Gateway"
                      : page.status == 504 ? "Gateway Timeout"
                                           : "Forbidden";
  co_await Refuse(client, log, page.status, title, page.reason, page.rule, continue_url);
}

template <class Stream>
asio::awaitable<bool> ClientSession::ServeOwn(Stream& client, const RequestTarget& target,
                                              RequestLog& log) {
  const std::string path = target.path.substr(0, target.path.find('?'));
  const size_t q = target.path.find('?');
  const std::string query = q == std::string::npos ? "" : target.path.substr(q + 1);
  std::string why = "no such page";
  if (path == "/continue") {
    auto c = service_.warn_overrides().Accept(query, attribution_.tenant->id,
                                              attribution_.source.ToString(), &why);
    if (c) {
      log.action = "warn-accepted";
      log.verdict = "warn";
      log.reason = "the terminal chose to continue to " + c->host;
      log.status = 302;
      http::response<http::empty_body> res{http::status::found, 11};
      res.set(http::field::location, c->url);
      res.set(http::field::cache_control, "no-store");
      res.keep_alive(false);
      Deadline(client, milliseconds(5000));
      co_await http::async_write(client, res, kTuple);
      co_return false;
    }
  }
  co_await Refuse(client, log, path == "/continue" ? 400 : 404, "Bad Request", why);
  co_return false;
}

template <class Stream>
asio::awaitable<bool> ClientSession::AnswerMaxForwardsZero(Stream& client,
                                                           const http::request_header<>& req,
                                                           RequestLog& log) {
  // RFC 9110 §7.6.2: at Max-Forwards 0 the proxy MUST NOT forward the request and answers as
  // its final recipient. OPTIONS: 200 with what the proxy allows. TRACE (§9.3.8): 200 with the
  // request as received in a message/http body, without the fields that carry credentials.
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::cache_control, "no-store");
  if (req.method() == http::verb::options) {
    res.set(http::field::allow, "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH, CONNECT");
  } else {
    std::string echo = std::string(req.method_string()) + " " + std::string(req.target()) +
                       " HTTP/" + std::to_string(req.version() / 10) + "." +
                       std::to_string(req.version() % 10) + "\r\n";
    for (const auto& f : req) {
      switch (f.name()) {
        case http::field::authorization:
        case http::field::proxy_authorization:
        case http::field::cookie:
          continue;
        default:
          echo += std::string(f.name_string()) + ": " + std::string(f.value()) + "\r\n";
      }
    }
    res.set(http::field::content_type, "message/http");
    res.body() = echo + "\r\n";
  }
  res.keep_alive(false);
  res.prepare_payload();
  log.status = 200;
  log.reason = "Max-Forwards: 0, answered by the proxy (RFC 9110 7.6.2)";
  log.response_bytes = res.body().size();
  Deadline(client, milliseconds(5000));
  auto [wec, wn] = co_await http::async_write(client, res, kTuple);
  if (wec) {
    log.status = 0;
    log.error = "the answer to Max-Forwards: 0 could not be written: " + wec.message();
  }
  co_return false;
}

std::optional<RequestTarget> ClientSession::InnerTarget(std::string_view t,
                                                        const RequestTarget& origin,
                                                        std::string* why) {
  RequestTarget out = origin;
  if (t.size() > 8192) {
    *why = "the request target is longer than 8 KiB";
    return std::nullopt;
  }
  for (char c : t)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      *why = "the request target contains a blank or a control character";
      return std::nullopt;
    }
  if (t.substr(0, 8) == "https://") {
    const size_t slash = t.find('/', 8);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  if (t.empty() || t.front() != '/') {
    *why = "a request inside a TLS tunnel needs a path starting with '/'";
    return std::nullopt;
  }
  out.path = std::string(t);
  return out;
}

asio::awaitable<bool> ClientSession::ForwardPlain(RequestParser<http::buffer_body>& parser,
                                                  const RequestTarget& target, RequestLog& log) {
  const ProxyConfig& pc = cfg_->proxy;
  Outbound out = PrepareOutbound(parser, target, pc);
  if (!out.via_fits) co_return co_await RefuseLongVia(client_, log);
  UploadHold held;
  if (auto done = co_await ScreenUpload(client_, buffer_, parser, target, out, held, log))
    co_return *done;
  const std::string key = target.authority();
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<beast::tcp_stream> upstream = attempt == 0 ? pool_.Acquire(key) : nullptr;
    const bool reused = upstream != nullptr;
    if (reused) {
      service_.metrics().upstream_reused.Increment();
    } else {
      upstream = co_await Connect(target, log);
      if (!upstream) co_return co_await UpstreamFailed(client_, log, log.status, log.error);
    }
    beast::flat_buffer ubuf;
    Exchange x = co_await ForwardOnce(client_, buffer_, parser, *upstream, ubuf, pc, reused, out,
                                      ScanFor(target), log, held, &upstream_header_, client_reads_);
    if (x.retry && attempt == 0) continue;
    if (x.hold_refused) co_return co_await RefuseResponseHold(client_, log, x);
    if (x.malware) {
      if (x.upstream_reusable) pool_.Release(key, std::move(upstream));
      co_return co_await MalwareFound(client_, log, *x.malware);
    }
    if (!x.responded) co_return co_await UpstreamFailed(client_, log, x.failure_status, x.error);
    Account(log);
    if (!x.error.empty()) {
      log.error = x.error;
      co_return false;
    }
    if (x.switched) {
      auto [up, down] = co_await Splice(client_, *upstream, io_, pc.timeouts.tunnel_idle);
      log.request_bytes += up;
      log.response_bytes += down;
      co_return false;
    }
    if (x.upstream_reusable) pool_.Release(key, std::move(upstream));
    co_return x.client_keep;
  }
  co_return co_await UpstreamFailed(client_, log, 502, "the upstream closed the connection");
}

asio::awaitable<std::unique_ptr<beast::tcp_stream>> ClientSession::Connect(
    const RequestTarget& target, RequestLog& log) {
  const ProxyConfig& pc = cfg_->proxy;
  std::vector<IpAddress> addresses;
  if (target.host_is_ip) {
    addresses.push_back(*IpAddress::Parse(target.host));
  } else if (auto it = pc.hosts.find(target.host); it != pc.hosts.end()) {
    addresses = it->second;
  } else if (pc.system_resolver) {
    tcp::resolver resolver(io_);
    auto [ec, results] = co_await resolver.async_resolve(target.host, "", kTuple);
    if (!ec)
      for (const auto& r : results) addresses.push_back(FromAsio(r.endpoint().address()));
  }
  if (addresses.empty()) {
    log.status = 502;
    log.error = "the name " + target.host + " could not be resolved";
    co_return nullptr;
  }
  std::string last_error;
  bool timed_out = false;
  for (const IpAddress& a : addresses) {
    auto stream = std::make_unique<beast::tcp_stream>(io_);
    stream->expires_after(pc.timeouts.connect);
    auto [ec] = co_await stream->async_connect(ToAsio(a, target.port), kTuple);
    if (!ec) {
      stream->socket().set_option(tcp::no_delay(true));
      service_.metrics().upstream_connects.Increment();
      log.event.Set("destination.ip", a.ToString());
      log.event.Set("destination.port", static_cast<int64_t>(target.port));
      co_return stream;
    }
    timed_out = ec == beast::error::timeout;
    last_error = a.ToString() + ": " + (timed_out ? "timed out" : ec.message());
  }
  log.status = timed_out ? 504 : 502;
  log.error = "cannot connect to " + target.authority() + " (" + last_error + ")";
  co_return nullptr;
}

bool ClientSession::MayStillSend(bool request_unread, size_t buffered, int fd) {
  if (request_unread || buffered > 0) return true;
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

void ClientSession::CloseAfterPage(beast::tcp_stream& s) {
  boost::system::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_send, ec);
  s.close();
}

asio::awaitable<void> ClientSession::LingerClose(beast::tcp_stream& s) {
  boost::system::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  // One deadline for the whole drain (Beast's timer, on the tcp_stream's reads: it closes the
  // socket then).
  Deadline(s, kLingerTime);
  RelayChunk chunk;
  size_t drained = 0;
  while (drained < kLingerBytes) {
    auto [rec, n] = co_await s.async_read_some(asio::buffer(chunk.data(), chunk.size()), kTuple);
    drained += n;
    if (rec) break;
  }
  s.close();
}

void ClientSession::Account(const RequestLog& log) {
  service_.metrics().bytes_in.Increment(log.request_bytes);
  service_.metrics().bytes_out.Increment(log.response_bytes);
  if (log.action == "allowed") service_.metrics().allowed.Increment();
}

template <class Stream>
asio::awaitable<void> ClientSession::Refuse(Stream& client, RequestLog& log, int status,
                                            std::string_view title, const std::string& reason,
                                            const std::string& rule,
                                            const std::string& continue_url) {
  log.status = status;
  if (log.reason.empty()) log.reason = reason;
  if (log.action == "allowed") log.action = status == 403 ? "blocked" : "failed";
  if (log.verdict == "allow" && status == 403) log.verdict = "block";
  PageInfo page;
  page.kind = !continue_url.empty() ? PageInfo::Kind::kWarning
              : status == 403       ? PageInfo::Kind::kBlocked
                                    : PageInfo::Kind::kError;
  page.continue_url = continue_url;
  page.category = log.category;
  page.layer = log.layer;
  page.status = status;
  page.title_ja = page.kind == PageInfo::Kind::kBlocked   ? "アクセスが拒否されました"
                  : page.kind == PageInfo::Kind::kWarning ? "注意が必要なサイトです"
                                                          : "要求を処理できませんでした";
  page.title_en = std::to_string(status) + " " + std::string(title);
  page.reason = reason;
  page.url = log.url;
  page.rule = rule;
  page.reference_id = EventId(log);
  page.tenant = attribution_.tenant;
  page.first_language = cfg_->proxy.block_page_language;
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Seccloud-Reference", page.reference_id);
  if (log.retry_after > 0) res.set(http::field::retry_after, std::to_string(log.retry_after));
  res.keep_alive(false);
  res.body() = RenderPage(page);
  res.prepare_payload();
  log.response_bytes = res.body().size();
  Deadline(client, milliseconds(5000));
  auto [wec, wn] = co_await http::async_write(client, res, kTuple);
  if (!wec) linger_ = true;  // the connection closes after the page: LingerClose
  if (wec) {
    // The client got nothing (a stalled upload's stream is closed by its timer before the
    // page can go out): the event says so rather than a status nobody received.
    log.status = 0;
    log.response_bytes = 0;
    const std::string why = "the " + std::to_string(status) +
                            " page could not be written to the client: " + wec.message();
    log.error = log.error.empty() ? why : log.error + "; " + why;
  }
}

template <class Stream>
asio::awaitable<bool> ClientSession::UpstreamFailed(Stream& client, RequestLog& log, int status,
                                                    const std::string& reason) {
  service_.metrics().failed.Increment();
  log.action = "failed";
  log.error = reason;
  co_await Refuse(client, log, status, StatusTitle(status), reason);
  co_return false;
}

template <class Stream>
asio::awaitable<bool> ClientSession::RefuseLongVia(Stream& client, RequestLog& log) {
  service_.metrics().bad_requests.Increment();
  log.action = "failed";
  log.verdict = "block";
  co_await Refuse(client, log, 431, "Request Header Fields Too Large",
                  "the request's Via fields, with this proxy's entry, would be longer than a "
                  "field may be (65,533 bytes)");
  co_return false;
}

// The streams these are used with, from the other files of the session (client_session.h).
template asio::awaitable<void> ClientSession::HttpLoop(beast::tcp_stream& client,
                                                       beast::flat_buffer& buf, Intercept* ic);
template asio::awaitable<void> ClientSession::HttpLoop(net::TlsStream& client,
                                                       beast::flat_buffer& buf, Intercept* ic);
template asio::awaitable<bool> ClientSession::HandleRequest(
    beast::tcp_stream& client, beast::flat_buffer& buf, RequestParser<http::buffer_body>& parser,
    RequestLog& log, Intercept* ic);
template asio::awaitable<bool> ClientSession::HandleRequest(
    net::TlsStream& client, beast::flat_buffer& buf, RequestParser<http::buffer_body>& parser,
    RequestLog& log, Intercept* ic);
template asio::awaitable<void> ClientSession::ShowPage(beast::tcp_stream& client, RequestLog& log,
                                                       const PendingPage& page);
template asio::awaitable<void> ClientSession::ShowPage(net::TlsStream& client, RequestLog& log,
                                                       const PendingPage& page);
template asio::awaitable<bool> ClientSession::AnswerMaxForwardsZero(
    beast::tcp_stream& client, const http::request_header<>& req, RequestLog& log);
template asio::awaitable<bool> ClientSession::AnswerMaxForwardsZero(
    net::TlsStream& client, const http::request_header<>& req, RequestLog& log);
template asio::awaitable<bool> ClientSession::ServeOwn(beast::tcp_stream& client,
                                                       const RequestTarget& target,
                                                       RequestLog& log);
template asio::awaitable<bool> ClientSession::ServeOwn(net::TlsStream& client,
                                                       const RequestTarget& target,
                                                       RequestLog& log);
template asio::awaitable<void> ClientSession::Refuse(beast::tcp_stream& client, RequestLog& log,
                                                     int status, std::string_view title,
                                                     const std::string& reason,
                                                     const std::string& rule,
                                                     const std::string& continue_url);
template asio::awaitable<void> ClientSession::Refuse(net::TlsStream& client, RequestLog& log,
                                                     int status, std::string_view title,
                                                     const std::string& reason,
                                                     const std::string& rule,
                                                     const std::string& continue_url);
template asio::awaitable<bool> ClientSession::UpstreamFailed(beast::tcp_stream& client,
                                                             RequestLog& log, int status,
                                                             const std::string& reason);
template asio::awaitable<bool> ClientSession::UpstreamFailed(net::TlsStream& client,
                                                             RequestLog& log, int status,
                                                             const std::string& reason);
template asio::awaitable<bool> ClientSession::RefuseLongVia(beast::tcp_stream& client,
                                                            RequestLog& log);
template asio::awaitable<bool> ClientSession::RefuseLongVia(net::TlsStream& client,
                                                            RequestLog& log);

}  // namespace seccloud::proxy::proxy_internal
