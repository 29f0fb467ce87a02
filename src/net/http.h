#pragma once
// The small HTTP pieces every service needs: an admin server for /healthz, /metrics and
// service-specific control endpoints, and a client for health probes and the CLI.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/ip.h"
#include "core/metrics.h"
#include "core/result.h"

namespace seccloud::net {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct AdminRequest {
  std::string method;  // "GET", "POST"
  std::string target;  // "/status"
  std::string body;    // at most 64 KiB
};

// Serves one service's admin endpoints on a loopback address: GET /healthz (200 when healthy,
// 503 otherwise, JSON), GET /metrics (Prometheus text), and whatever the service adds. Runs on the
// io_context it is given; handlers run on that io_context's thread(s).
class AdminServer {
 public:
  using Handler = std::function<HttpReply(const AdminRequest&)>;

  struct Options {
    Endpoint listen;
    std::string service;  // reported by /healthz
    const Health* health = nullptr;
    const MetricsRegistry* metrics = nullptr;
  };

  virtual ~AdminServer() = default;
  // Binds now (so a port conflict is an error at start-up) and serves once the io_context runs.
  static Result<std::unique_ptr<AdminServer>> Start(boost::asio::io_context& io, Options options);

  // Adds or replaces the handler for method + exact path. Call before io.run().
  virtual void Route(std::string method, std::string path, Handler handler) = 0;
  virtual Endpoint local_endpoint() const = 0;
  virtual void Stop() = 0;
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// One HTTP/1.1 request with a deadline over the whole exchange; the response body is limited to
// 4 MiB. Transport failures are errors; any HTTP status is a response.
boost::asio::awaitable<Result<HttpResponse>> HttpRequest(Endpoint endpoint, std::string method,
                                                         std::string target, std::string body,
                                                         std::chrono::milliseconds timeout);
// The same, blocking the calling thread (CLI use).
Result<HttpResponse> HttpRequestSync(Endpoint endpoint, std::string method, std::string target,
                                     std::string body, std::chrono::milliseconds timeout);

}  // namespace seccloud::net
