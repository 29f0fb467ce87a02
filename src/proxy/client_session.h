// Internal to the proxy module: one client connection (ClientSession) — its request loop, CONNECT
// and TLS interception, the malware step, the pages and the access event. Its members are defined
// in client_session.cc, tunnel.cc, session_scan.cc and access_event.cc; the templates among them
// are instantiated there for the two client streams (beast::tcp_stream, net::TlsStream). Not a
// public header.

#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/tenant_registry.h"
#include "net/tls.h"
#include "policy/url_filter.h"
#include "proxy/proxy_internal.h"
#include "proxy/read_watch.h"
#include "proxy/relay.h"
#include "proxy/request_target.h"
#include "proxy/scan_hold.h"

namespace seccloud::proxy::proxy_internal {

class ProxyService;
class UpstreamPool;

class ClientSession {
 public:
  ClientSession(ProxyService& service, asio::io_context& io, UpstreamPool& pool, tcp::socket socket)
      : service_(service),
        io_(io),
        pool_(pool),
        client_(std::move(socket)),
        client_reads_(io),
        upstream_header_(io) {
    boost::system::error_code ec;
    auto remote = client_.socket().remote_endpoint(ec);
    peer_ = ec ? IpAddress() : FromAsio(remote.address());
  }

  asio::awaitable<void> Run();

 private:
  // The state of one intercepted CONNECT tunnel: requests read from the client's TLS stream go
  // to `origin` over a verified TLS connection.
  struct Intercept {
    RequestTarget origin;  // scheme "https", host and port from CONNECT
    std::string sni;
    std::optional<net::UpstreamConnection> upstream;
    // `upstream` has carried a whole exchange and waits for the next one (ForwardTls checks it
    // is quiet then; a fresh one may hold the origin's TLS 1.3 session tickets unread).
    bool upstream_used = false;
    beast::flat_buffer ubuf;
    std::string issuer;
  };

  template <class Stream>
  asio::awaitable<void> HttpLoop(Stream& client, beast::flat_buffer& buf, Intercept* ic);

  static void FillTls(RequestLog& log, const Intercept& ic);

  // Returns whether the client connection may carry another request.
  template <class Stream>
  asio::awaitable<bool> HandleRequest(Stream& client, beast::flat_buffer& buf,
                                      RequestParser<http::buffer_body>& parser, RequestLog& log,
                                      Intercept* ic);

  // Asks the URL filter and records its answer in the log.
  policy::Verdict Judge(const RequestTarget& target, http::verb method, bool full_url,
                        RequestLog& log);

  // The page for a block or warn verdict; nullopt when a warning was already accepted by this
  // terminal for this host (the request goes ahead, logged as a warning).
  std::optional<PendingPage> PageFor(const policy::Verdict& v, const RequestTarget& target,
                                     RequestLog& log);

  template <class Stream>
  asio::awaitable<void> ShowPage(Stream& client, RequestLog& log, const PendingPage& page);

  // http://seccloud.invalid/… : the proxy's own pages (the continue link of a warning).
  template <class Stream>
  asio::awaitable<bool> ServeOwn(Stream& client, const RequestTarget& target, RequestLog& log);
  // OPTIONS or TRACE with Max-Forwards: 0, answered here (RFC 9110 §7.6.2); false (the
  // connection closes).
  template <class Stream>
  asio::awaitable<bool> AnswerMaxForwardsZero(Stream& client, const http::request_header<>& req,
                                              RequestLog& log);

  // A request inside an intercepted tunnel names a path ("/x", or "https://host/x" from some
  // clients); the origin is always the one CONNECT named.
  static std::optional<RequestTarget> InnerTarget(std::string_view t, const RequestTarget& origin,
                                                  std::string* why);

  // ---- plain HTTP ------------------------------------------------------------------------

  asio::awaitable<bool> ForwardPlain(RequestParser<http::buffer_body>& parser,
                                     const RequestTarget& target, RequestLog& log);

  // Resolves and connects, trying each address in turn within the connect deadline each. On
  // failure returns null with log.status (502/504) and log.error set.
  asio::awaitable<std::unique_ptr<beast::tcp_stream>> Connect(const RequestTarget& target,
                                                              RequestLog& log);

  // ---- CONNECT ---------------------------------------------------------------------------

  bool NoDecrypt(std::string_view host) const;

  // CONNECT. `pending` (a block or warn verdict on the host) is shown inside the tunnel when it
  // can be intercepted, else refused with 403.
  asio::awaitable<void> Tunnel(const RequestTarget& target, RequestLog& log,
                               const PendingPage* pending);

  asio::awaitable<bool> SendEstablished(RequestLog& log);

  asio::awaitable<void> SpliceClient(beast::tcp_stream& upstream, RequestLog& log);

  // MSG_PEEK until the ClientHello is complete (at most 64 KiB, within `limit`).
  asio::awaitable<Result<net::ClientHelloInfo>> PeekClientHello(milliseconds limit);

  asio::awaitable<void> InterceptTunnel(const RequestTarget& target, const std::string& sni,
                                        RequestLog& log, const PendingPage* pending);

  // Whether the client may still be sending after a page that closes the connection, nginx's
  // condition for its lingering close: the request was not read whole (a body not read, a header
  // refused part way), or more bytes are buffered or already wait in the socket (a pipelined
  // request). A client that sent its whole request and nothing more is waiting for the answer:
  // the close can be at once, as nothing unread makes the kernel send a reset.
  static bool MayStillSend(bool request_unread, size_t buffered, int fd);

  // A page went out and nothing more is expected from the client: the sending side is shut (the
  // client sees the page's end) and the socket closed.
  static void CloseAfterPage(beast::tcp_stream& s);

  // After a page inside an intercepted tunnel: the close_notify alone (not waiting for the
  // terminal's, which would come after all it sends), then a lingering close when the terminal
  // may still be sending (MayStillSend, with what the TLS stream holds decrypted or not), else
  // the close at once.
  asio::awaitable<void> CloseTlsAfterPage(net::TlsStream& tls, size_t buffered, bool read_whole);

  // nginx's lingering_close: after an error page that closes the connection the client may
  // still be sending (a request body not read, a pipelined request). Closing a socket with
  // unread bytes in its receive buffer sends a RST instead of a FIN, and a RST can make the
  // client's kernel drop the page before the client read it. So the sending side is shut (the
  // client sees the page's end), and what the client sends is read and thrown away until it
  // closes too, for at most kLingerTime and kLingerBytes; then the socket is closed. Both bound
  // a client that never stops (nginx bounds the time only: lingering_time 30 s, lingering_timeout
  // 5 s): a client waiting for the answer stops sending once it read it, and what it sent
  // meanwhile is what was in flight — its send buffer and our receive buffer, some hundreds of
  // KiB with Linux's default buffer sizes —; one that sends on past kLingerBytes is not reading
  // the page, and gets the reset. kLingerTime lets a terminal behind a slow link read the page
  // and close, and holds the connection no longer than the page's own write deadline (5 s,
  // Refuse).
  static constexpr milliseconds kLingerTime{5000};
  static constexpr size_t kLingerBytes = 512 * 1024;

  asio::awaitable<void> LingerClose(beast::tcp_stream& s);

  // Connects and verifies the origin of an intercepted tunnel; keeps the connection in `ic`.
  // kPermissionDenied: the certificate is not acceptable (the error names the problem).
  asio::awaitable<Status> EstablishTls(Intercept& ic, RequestLog& log);

  template <class Stream>
  asio::awaitable<bool> ForwardTls(Stream& client, beast::flat_buffer& buf,
                                   RequestParser<http::buffer_body>& parser,
                                   const RequestTarget& target, RequestLog& log, Intercept& ic);

  // The malware step for a response from `target`, or null when scanning is off.
  const ScanStep* ScanFor(const RequestTarget& target);

  // The malware step of a request body (R8), before anything of the request goes upstream: the
  // body is held (up to proxy.scan.max_size) and scanned. Returns nullopt when the request goes
  // on (`held` has what was read), or the answer for HandleRequest when it ended here: the
  // client went away, or the upload was withheld and the block page shown.
  template <class Stream>
  asio::awaitable<std::optional<bool>> ScreenUpload(Stream& client, beast::flat_buffer& buf,
                                                    RequestParser<http::buffer_body>& parser,
                                                    const RequestTarget& target, Outbound& out,
                                                    UploadHold& held, RequestLog& log);

  // A body the scan must hold while proxy.scan.hold_budget has not got its bytes: 503 with
  // Retry-After (holds end within their deadlines and the scan's timeout), never passed on
  // unscanned. `others`: the bytes the other holds had; `wanted`: the bytes this one would have
  // had with the read that did not fit (a refused hold still counts what it took before that read
  // until it ends: the page names the others' bytes). An upload (`upload`): nothing of it went
  // upstream; a response: nothing of it went to the client.
  template <class Stream>
  asio::awaitable<bool> RefuseHoldOverBudget(Stream& client, RequestLog& log, uint64_t others,
                                             uint64_t wanted, bool upload);
  // A response body that did not fit in proxy.scan.hold_budget (ForwardOnce's x.hold_refused).
  template <class Stream>
  asio::awaitable<bool> RefuseResponseHold(Stream& client, RequestLog& log, const Exchange& x);
  static constexpr int kHoldRetryAfterSeconds = 10;

  // A body withheld by the malware step: the response's (`upload` false) or the request's.
  template <class Stream>
  asio::awaitable<bool> MalwareFound(Stream& client, RequestLog& log, const scan::Verdict& v,
                                     bool upload = false);

  // ---- answers made here -----------------------------------------------------------------

  void Account(const RequestLog& log);

  // A page for the terminal (block, error) with the event id as reference; closes afterwards.
  template <class Stream>
  asio::awaitable<void> Refuse(Stream& client, RequestLog& log, int status, std::string_view title,
                               const std::string& reason, const std::string& rule = "",
                               const std::string& continue_url = "");

  template <class Stream>
  asio::awaitable<bool> UpstreamFailed(Stream& client, RequestLog& log, int status,
                                       const std::string& reason);

  // The request's Via fields and the proxy's entry joined would be longer than a field may be.
  template <class Stream>
  asio::awaitable<bool> RefuseLongVia(Stream& client, RequestLog& log);

  static std::string EventId(const RequestLog& log);

  // Writes the request's event, once: a tunnel's CONNECT is finished before its close
  // (InterceptTunnel), and HttpLoop's Finish after it is then a no-op.
  void Finish(RequestLog& log);

  ProxyService& service_;
  asio::io_context& io_;
  UpstreamPool& pool_;
  beast::tcp_stream client_;
  // The client's waits between requests (plain and intercepted), and a request body's reads.
  ReadWatch client_reads_;
  ReadWatch upstream_header_;  // upstreams' response headers (plain and TLS)
  bool linger_ = false;  // a page went out and the connection closes: MayStillSend, LingerClose
  bool request_unread_ = false;  // HttpLoop ended with its request not read whole
  bool client_moved_ = false;    // client_ went into an intercepted tunnel's TlsStream
  beast::flat_buffer buffer_;
  IpAddress peer_;
  std::shared_ptr<const Config> cfg_;
  Attribution attribution_;
  ScanStep scan_step_;

  // The text of an address, kept for the connection: its requests come from one client and
  // mostly name one terminal, and IpAddress::ToString (inet_ntop, sprintf) costs ~2,000
  // instructions, twice per request's event.
  class AddressText {
   public:
    const std::string& Of(const IpAddress& a) {
      if (!valid_ || a != address_) {
        address_ = a;
        text_ = a.ToString();
        valid_ = true;
      }
      return text_;
    }

   private:
    IpAddress address_;
    std::string text_;
    bool valid_ = false;
  };
  AddressText client_ip_text_, source_ip_text_;
};

}  // namespace seccloud::proxy::proxy_internal
