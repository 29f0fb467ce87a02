#pragma once
// The small HTTP pieces every service needs: an HTTP/1.1 server for /healthz, /metrics and
// service-specific endpoints (the admin endpoints, and the SOC's API on the same code: request
// headers, streamed answers, TLS), and a client for health probes and the CLI.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ip.h"
#include "core/metrics.h"
#include "core/result.h"

namespace seccloud::net {

// A response body produced piece by piece, e.g. by a search running on its own thread. The server
// asks for one chunk at a time, and for the next only once the previous one was written to the
// socket: a slow client slows the producer down instead of filling memory.
class BodyStream {
 public:
  using Deliver = std::function<void(std::string chunk, bool more)>;
  virtual ~BodyStream() = default;
  // Asks for the next chunk. The stream calls `deliver` exactly once, at once or later, from any
  // thread, with the chunk ("" is allowed) and whether more follow. The server does not call
  // Pull again before `deliver` ran, nor after a chunk came with more = false.
  virtual void Pull(Deliver deliver) = 0;
  // The client went away, stalled, or the server stops: stop producing soon. A Pull pending or
  // made later must still be delivered (with more = false). Any thread, any number of times.
  virtual void Cancel() = 0;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;  // the whole body; with `stream`, what is sent before the stream's chunks
  // Further response headers (name, value), e.g. WWW-Authenticate.
  std::vector<std::pair<std::string, std::string>> headers{};
  // Non-null: the body continues with the stream's chunks (Transfer-Encoding: chunked; HTTP/1.0
  // clients get the body until the connection closes). The connection closes after a streamed
  // reply, and anything the client sends while it streams (a close, a TLS close_notify, a
  // pipelined request) cancels the stream.
  std::shared_ptr<BodyStream> stream{};
};

// Bounds on what one request may be; beyond them the answer is 4xx and the connection closes.
struct RequestLimits {
  size_t header_bytes = 8 * 1024;  // request line and header fields together (431 beyond)
  size_t headers = 64;             // header fields (431 beyond)
  size_t body_bytes = 64 * 1024;   // after removing any chunked encoding (413 beyond)
};

struct AdminRequest {
  std::string method;  // "GET", "POST"
  std::string target;  // "/status?x=1": origin form only
  std::string body;    // at most RequestLimits::body_bytes
  // The request's header fields in order, names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers{};
  Endpoint peer{};  // the client's address

  // The value of the first field of this (lower-case) name; "" when absent.
  std::string_view Header(std::string_view lower_case_name) const;
};

// Serves HTTP/1.1 on one address: by default a service's admin endpoints on loopback — GET
// /healthz (200 when healthy, 503 otherwise, JSON), GET /metrics (Prometheus text) — plus whatever
// the service routes. Runs on the io_context it is given; handlers run on that io_context's
// thread(s) and must not block for long (a streamed reply's producer runs elsewhere).
// Hostile clients are bounded: request size and header count (RequestLimits), a deadline for
// each whole request (slow senders are cut off), one for each write (a stalled reader is dropped),
// a cap on open connections, and malformed requests or chunking are answered 400 and closed.
class AdminServer {
 public:
  using Handler = std::function<HttpReply(const AdminRequest&)>;

  struct Options {
    Endpoint listen;
    std::string service;  // reported by /healthz
    const Health* health = nullptr;
    const MetricsRegistry* metrics = nullptr;
    // false: no built-in /healthz and /metrics; every request goes to the routes and fallback.
    bool builtin_endpoints = true;
    RequestLimits limits{};
    // A request (and, on a kept-alive connection, the wait for the next one) must arrive whole
    // within this; a TLS handshake too.
    std::chrono::milliseconds request_timeout{5000};
    // Each write (one chunk of a streamed reply) must be taken by the client within this.
    std::chrono::milliseconds write_timeout{30000};
    size_t max_connections = 256;  // beyond, new connections are closed at once
    // TLS (1.2 or later) when both are set: a PEM certificate chain and its PEM key. Read at
    // Start; a file that does not load, or a key that does not match, fails the start.
    std::filesystem::path tls_certificate{};
    std::filesystem::path tls_key{};
    // Names used in error messages ("admin", "soc.api").
    std::string what = "admin";
  };

  virtual ~AdminServer() = default;
  // Binds now (so a port conflict is an error at start-up) and serves once the io_context runs.
  static Result<std::unique_ptr<AdminServer>> Start(boost::asio::io_context& io, Options options);

  // Adds or replaces the handler for method + exact path (the target without its query). Call
  // before io.run().
  virtual void Route(std::string method, std::string path, Handler handler) = 0;
  // Answers every request no route (and no built-in endpoint) takes; without it such requests
  // get 404, or 405 when the path is routed for another method. Call before io.run().
  virtual void Fallback(Handler handler) = 0;
  virtual Endpoint local_endpoint() const = 0;
  // Stops accepting, and cancels the streamed replies in progress. Any thread: the listener is
  // closed on the io_context's thread (at once when called there), the streams before returning.
  virtual void Stop() = 0;
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;  // chunked bodies arrive decoded
};

// One HTTP/1.1 request with a deadline over the whole exchange; the response body is limited to
// 4 MiB. Transport failures are errors; any HTTP status is a response.
boost::asio::awaitable<Result<HttpResponse>> HttpRequest(Endpoint endpoint, std::string method,
                                                         std::string target, std::string body,
                                                         std::chrono::milliseconds timeout);
// The same, blocking the calling thread (CLI use).
Result<HttpResponse> HttpRequestSync(Endpoint endpoint, std::string method, std::string target,
                                     std::string body, std::chrono::milliseconds timeout);

// A blocking request with more choices (the SOC CLI): request headers, a response limit, and TLS.
struct HttpCallOptions {
  std::vector<std::pair<std::string, std::string>> headers{};
  std::chrono::milliseconds timeout{30000};
  size_t max_body = size_t{64} << 20;
  bool tls = false;
  // With tls: the PEM certificates trusted for this server (a CA, or the server's own
  // certificate, pinned); empty: the system's trust store. The name checked is tls_server_name,
  // or the endpoint's address when empty.
  std::filesystem::path tls_trust{};
  std::string tls_server_name{};
};
Result<HttpResponse> HttpCallSync(Endpoint endpoint, const std::string& method,
                                  const std::string& target, const std::string& body,
                                  const HttpCallOptions& options);

}  // namespace seccloud::net
