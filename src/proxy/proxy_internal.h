// Internal to the proxy module: the types and helpers its files share (the request's log, an
// exchange's outcome, the parser with bounded fields, the counters). Not a public header.

#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/event.h"
#include "core/metrics.h"
#include "proxy/hop_by_hop.h"
#include "proxy/non_waiting_io.h"
#include "proxy/tcp_relay.h"
#include "scan/client.h"

namespace seccloud::proxy::proxy_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kRelayChunk = 64 * 1024;
static_assert(kRelayChunk == RelayChunk::kSize);
// Room for the first read of a response: Beast reads max(512, free capacity) bytes, so an empty
// buffer would take even a small response's header and body in several recv (or SSL_read) calls.
constexpr size_t kResponseFirstRead = 16 * 1024;
// Interim (1xx) responses one exchange passes on before the final one (see ForwardOnce).
constexpr unsigned kMaxInterimResponses = 16;

// Beast's parser, refusing a header field whose name or value Beast's fields cannot hold.
// basic_fields keeps their lengths in 16 bits and throws std::length_error for a longer one —
// from inside an asynchronous read's handler, out of the worker's io_context::run(): with
// max_header_size above 64 KiB one field of a client's request (or of an origin's response)
// stopped a worker. Such a field is refused as an oversized header is (431 to a client, 502
// for an origin's response).
// Trailer fields of a chunked body come through on_field_impl too, and Beast 1.81 applies no
// header_limit to them: their total is bounded here by the header limit (with the body buffer
// bound of BodyBufferBound, which stops the bytes of an endless trailer from piling up).
template <bool isRequest, class Body>
class FieldBoundedParser : public http::parser<isRequest, Body> {
 public:
  using http::parser<isRequest, Body>::parser;

  // Hides basic_parser::header_limit (not virtual, called on this type): the limit bounds the
  // trailer too, and basic_parser keeps its own copy private.
  void header_limit(std::uint32_t v) {
    http::parser<isRequest, Body>::header_limit(v);
    header_limit_ = v;
  }
  size_t header_limit_bytes() const { return header_limit_; }
  // Why the last header_limit error came: one field longer than Beast's fields can hold, or
  // trailer fields larger than the header limit (else the header itself was too large).
  bool field_too_long() const { return field_too_long_; }
  bool trailer_too_large() const { return trailer_too_large_; }

 private:
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     boost::system::error_code& ec) override {
    if (name_string.size() > kMaxFieldBytes || value.size() > kMaxFieldBytes) {
      field_too_long_ = true;
      ec = http::error::header_limit;
      return;
    }
    if (this->is_header_done()) {
      trailer_bytes_ += name_string.size() + value.size() + 4;  // ": " and CRLF
      if (trailer_bytes_ > header_limit_) {
        trailer_too_large_ = true;
        ec = http::error::header_limit;
      }
      // Trailer fields are discarded (RFC 9112 §7.1.2 allows it when the chunked coding is
      // removed): the relay re-frames the body and its last chunk carries none. Until the
      // framing table (issue 3) they were inserted into the header's fields, and when the whole
      // chunked body had come with the header they went out in the header to the origin — a
      // trailer "Host: evil.example" became a second Host (RFC 9110 §6.5.1 forbids the merge).
      return;
    }
    this->get().insert(name, name_string, value);
  }

  size_t header_limit_ = 8192;  // basic_parser's default
  size_t trailer_bytes_ = 0;
  bool field_too_long_ = false;
  bool trailer_too_large_ = false;
};
template <class Body>
using RequestParser = FieldBoundedParser<true, Body>;
template <class Body>
using ResponseParser = FieldBoundedParser<false, Body>;

// While a body is read through the parser, what its buffer holds unparsed is at most one read
// and a chunk header — except a chunked body's trailer section, which Beast parses only once it
// is whole: an endless one grew the buffer without bound. For the scope of a body read the
// buffer may hold what it has, a relay chunk more and the header limit (the trailer's bound);
// beyond that Beast's read fails with buffer_overflow. The previous bound comes back after.
class BodyBufferBound {
 public:
  BodyBufferBound(beast::flat_buffer& buf, size_t header_limit)
      : buf_(buf), old_max_(buf.max_size()) {
    buf_.max_size(std::max(buf.capacity(), buf.size() + kRelayChunk) + header_limit);
  }
  ~BodyBufferBound() { buf_.max_size(old_max_); }
  BodyBufferBound(const BodyBufferBound&) = delete;
  BodyBufferBound& operator=(const BodyBufferBound&) = delete;

 private:
  beast::flat_buffer& buf_;
  size_t old_max_;
};

// A body read failed on a chunked body's trailer: too large as a whole (header_limit, or the
// buffer bound of BodyBufferBound) or one field too long. Only the parser reports these.
inline bool TrailerRefused(const boost::system::error_code& ec) {
  return ec == http::error::header_limit || ec == http::error::buffer_overflow;
}

// The error text of a failed body read from `who` ("the client", "the origin"), after
// `body_bytes` of the body were read: a trailer too large gets its own; a close before the end
// is told the same on plain TCP (the parser's partial_message, a sized body's EOF) and on TLS
// (stream_truncated: the transport closed without a close_notify).
template <bool isRequest, class Body>
std::string BodyReadError(const FieldBoundedParser<isRequest, Body>& p,
                          const boost::system::error_code& ec, uint64_t body_bytes) {
  // buffer_overflow: BodyBufferBound's bound, reached only by a trailer section (or a chunk
  // header line) still growing.
  if (ec == http::error::buffer_overflow ||
      (ec == http::error::header_limit && p.trailer_too_large()))
    return "the chunked body's trailer fields are larger than max_header_size";
  if (ec == http::error::header_limit && p.field_too_long())
    return "a trailer field is longer than 65,533 bytes";
  const std::string who = isRequest ? "the client" : "the origin";
  const bool framed = p.chunked() || p.content_length().has_value();
  if (ec == http::error::partial_message ||
      (framed && (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated))) {
    // A client may have closed only its sending side (a half-close): it is the request body it
    // ended, and the page answering it can still reach it.
    if (isRequest && !p.chunked() && p.content_length())
      return "the client closed the request body after " + std::to_string(body_bytes) + " of " +
             std::to_string(*p.content_length()) + " bytes";
    if (isRequest)
      return "the client closed the request body after " + std::to_string(body_bytes) +
             " bytes, before the chunked body's end";
    if (!p.chunked() && p.content_length())
      return who + " closed the connection after " + std::to_string(body_bytes) + " of " +
             std::to_string(*p.content_length()) + " body bytes";
    return who + " closed the connection after " + std::to_string(body_bytes) +
           " body bytes, before the chunked body's end";
  }
  if (ec == asio::ssl::error::stream_truncated)  // an until-close body: it may be whole or not
    return who + " closed the connection without a TLS close_notify after " +
           std::to_string(body_bytes) + " body bytes (the body may be cut)";
  if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension)
    return who + "'s chunked body is not valid (" + ec.message() + ")";
  if (ec == beast::error::timeout) return who + " sent nothing of the body for timeouts.body_idle";
  if (ec == nonwaiting::Error::kPeerNotReading)
    return who +
           " read nothing of the TLS records a read had to send it first (a key update's "
           "answer) within timeouts.body_idle";
  return ec.message();
}

// The answer to a request body the client failed to deliver (read error `ec`), the same on both
// upload paths (streamed to the origin, held for the scan): 431 for a refused trailer, 400 for
// a body that is not valid (bad chunk framing, a bad trailer field) or that the client closed
// before its end (a half-close: it still reads), 408 for a stall; 0 when no page can reach the
// client (a reset).
inline int RequestBodyFailureStatus(const boost::system::error_code& ec) {
  if (TrailerRefused(ec)) return 431;
  if (ec == beast::error::timeout) return 408;
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return 400;
  if (ec.category() == http::make_error_code(http::error::bad_chunk).category()) return 400;
  return 0;
}

// An idle upstream connection is fit for the next request only while the origin has sent
// nothing since the last response: no EOF, no error, no byte. Bytes after a response's end
// (beyond its Content-Length, a body on a 204) are no answer to the next request (RFC 9112
// §6.3, §9.3.2) — read as one, they would answer another client's request with the origin's
// leftovers, or with a response forged in them.
inline bool SocketQuiet(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// RFC 9110 9.2.2: methods whose intended effect is the same when sent twice.
inline bool IsIdempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

inline std::string_view StatusTitle(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Bad Gateway";
  }
}

// The error text of a failed write of a relayed message to `to` ("the client", "the origin").
inline std::string RelayWriteError(std::string_view to, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) return std::string(to) + " took nothing for timeouts.body_idle";
  return ec.message();
}

// How a body relay ended: no error, or the error and the side it came from — the write to the
// receiver (`writing`) or the read from the sender.
struct RelayEnd {
  boost::system::error_code ec;
  bool writing = false;
  static RelayEnd Read(boost::system::error_code ec) { return {ec, false}; }
  static RelayEnd Write(boost::system::error_code ec) { return {ec, true}; }
};

inline tcp::endpoint ToAsio(const IpAddress& a, uint16_t port) {
  if (a.is_v4()) return {asio::ip::address_v4(a.v4()), port};
  asio::ip::address_v6::bytes_type b;
  std::copy(a.bytes().begin(), a.bytes().end(), b.begin());
  return {asio::ip::address_v6(b), port};
}

inline IpAddress FromAsio(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::V4(a.to_v4().to_uint());
  auto b = a.to_v6().to_bytes();
  std::array<uint8_t, 16> bytes;
  std::copy(b.begin(), b.end(), bytes.begin());
  return IpAddress::V6(bytes).Unmapped();
}

// Counters shared by all workers.
struct ProxyMetrics {
  explicit ProxyMetrics(MetricsRegistry& m)
      : allowed(m.GetCounter("seccloud_proxy_requests_total", "Requests by outcome",
                             "outcome=\"allowed\"")),
        blocked(m.GetCounter("seccloud_proxy_requests_total", "Requests by outcome",
                             "outcome=\"blocked\"")),
        denied(m.GetCounter("seccloud_proxy_requests_total", "Requests by outcome",
                            "outcome=\"denied\"")),
        failed(m.GetCounter("seccloud_proxy_requests_total", "Requests by outcome",
                            "outcome=\"error\"")),
        bad_requests(m.GetCounter("seccloud_proxy_bad_requests_total",
                                  "Malformed or oversized requests answered with 4xx")),
        forged_xff(m.GetCounter("seccloud_proxy_untrusted_xff_total",
                                "X-Forwarded-For headers ignored: not from a declared proxy")),
        upstream_reused(m.GetCounter("seccloud_proxy_upstream_reused_total",
                                     "Requests sent on a pooled upstream connection")),
        upstream_connects(
            m.GetCounter("seccloud_proxy_upstream_connects_total", "New upstream connections")),
        bytes_in(m.GetCounter("seccloud_proxy_client_bytes_total", "Body bytes from clients")),
        bytes_out(m.GetCounter("seccloud_proxy_upstream_bytes_total", "Body bytes from upstreams")),
        malware(m.GetCounter("seccloud_proxy_malware_blocked_total",
                             "Responses withheld by the malware scan")),
        malware_uploads(m.GetCounter("seccloud_proxy_malware_uploads_blocked_total",
                                     "Uploads (request bodies) withheld by the malware scan")),
        holds_refused(m.GetCounter("seccloud_proxy_upload_holds_refused_total",
                                   "Uploads refused with 503: proxy.scan.hold_budget was taken")),
        response_holds_refused(
            m.GetCounter("seccloud_proxy_response_holds_refused_total",
                         "Responses refused with 503: proxy.scan.hold_budget was taken")),
        tls_resumed(m.GetCounter("seccloud_proxy_tls_origin_handshakes_total",
                                 "TLS handshakes with origins (intercepted tunnels)",
                                 "session=\"resumed\"")),
        tls_full(m.GetCounter("seccloud_proxy_tls_origin_handshakes_total",
                              "TLS handshakes with origins (intercepted tunnels)",
                              "session=\"full\"")) {}
  Counter& allowed;
  Counter& blocked;
  Counter& denied;
  Counter& failed;
  Counter& bad_requests;
  Counter& forged_xff;
  Counter& upstream_reused;
  Counter& upstream_connects;
  Counter& bytes_in;
  Counter& bytes_out;
  Counter& malware;
  Counter& malware_uploads;
  Counter& holds_refused;
  Counter& response_holds_refused;
  // Session resumption with origins: hits (resumed) and misses (a full handshake).
  Counter& tls_resumed;
  Counter& tls_full;
  std::atomic<int64_t> connections{0};
};

// Everything known about one request, for its access-log event.
struct RequestLog {
  Event event = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess);
  Clock::time_point start = Clock::now();
  std::string method;
  std::string url;
  std::string host;
  int status = 0;
  uint64_t request_bytes = 0;
  uint64_t response_bytes = 0;
  std::string user_agent;
  std::string action = "allowed";
  std::string verdict = "allow";
  std::string reason;
  std::string tls_mode = "none";
  std::string sni;
  std::string server_issuer;
  std::string tls_problem;
  std::string error;
  // What the URL filter said, when it decided something other than the default allow.
  std::string layer, list, entry, category;
  bool alert = false;
  // The malware step (R8).
  bool scanned = false;
  std::string scan_result, scan_signature, scan_engine, scan_db_version, scan_error;
  // The malware step of the request body (seccloud.scan.upload.*), when it had one.
  std::string upload_scan_result, upload_scan_signature, upload_scan_engine, upload_scan_note;
  std::string upload_file_name;  // the form file whose scan withheld the upload
  int retry_after = 0;           // seconds; a page's Retry-After when it is not 0
  bool finished = false;         // its event was written (Finish)
};

// A page to show inside an intercepted tunnel instead of the site (a block or warn verdict on
// the CONNECT host or SNI, or an origin certificate that failed verification).
struct PendingPage {
  int status = 403;
  bool warn = false;
  std::string reason;
  std::string rule;
  std::string continue_url;
};

// What can be done without waiting, and the streams' deadlines (non_waiting_io.h).
using nonwaiting::BeginWatchedRead;
using nonwaiting::BufferedBytesOnly;
using nonwaiting::Deadline;
using nonwaiting::EndWatchedRead;
using nonwaiting::kPlainTcp;
using nonwaiting::NoDeadline;
using nonwaiting::ReadNow;
using nonwaiting::ReadRequestHeader;
using nonwaiting::ReadSomeNow;
using nonwaiting::WriteMessage;

// What one forwarded exchange ended with.
struct Exchange {
  bool responded = false;          // a response (or part of it) went to the client
  bool retry = false;              // nothing reached the client and a fresh upstream may work
  bool client_keep = false;        // the client connection may carry another request
  bool upstream_reusable = false;  // the upstream connection may go back to the pool
  bool switched = false;           // 101: both sides now speak another protocol
  int failure_status = 502;
  std::string error;
  std::optional<scan::Verdict> malware;  // the body was withheld: it is infected
  // The response body could not be held for the scan: proxy.scan.hold_budget had not got its
  // bytes. Nothing of it went to the client; the caller answers 503 (RefuseHoldOverBudget).
  bool hold_refused = false;
  uint64_t hold_wanted = 0;  // the bytes the hold would have had
  uint64_t hold_others = 0;  // the bytes the other holds had then
  // The client reset or closed its connection while the response was held for the scan.
  bool client_gone_during_hold = false;
  std::string error_detail;  // said after the error's text (a hold's deadline)
};

}  // namespace seccloud::proxy::proxy_internal
