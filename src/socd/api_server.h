#pragma once
// The HTTP/1.1 server under the SOC's API (api.h): what net::AdminServer does, plus what the API
// needs and the admin endpoints do not — the request's Authorization header, and replies streamed
// as chunks (Transfer-Encoding: chunked) produced one at a time, so that a large search answer
// never sits in memory whole. A client (the CLI) with an Authorization header, too.
//
// Handlers run on the io_context's thread and must not block for long; a streamed reply's
// producer runs there between chunk writes.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/ip.h"
#include "core/result.h"

namespace seccloud::socd {

struct ApiRequest {
  std::string method;
  std::string target;
  std::string body;           // at most 64 KiB
  std::string authorization;  // the Authorization header, "" when absent
};

struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;  // the whole body, or the first chunk of a streamed one
  // Streamed replies: called for each further chunk until it returns false (an empty chunk is
  // skipped); the connection closes after a streamed reply.
  std::function<bool(std::string* chunk)> next;
};

class ApiServer {
 public:
  using Handler = std::function<ApiReply(const ApiRequest&)>;
  virtual ~ApiServer() = default;
  // Binds now (a port conflict is an error at start-up) and serves once the io_context runs.
  static Result<std::unique_ptr<ApiServer>> Start(boost::asio::io_context& io, Endpoint listen,
                                                  Handler handler);
  virtual Endpoint local_endpoint() const = 0;
  virtual void Stop() = 0;
};

struct ApiResponse {
  int status = 0;
  std::string content_type;
  std::string body;  // chunked bodies arrive decoded
};

// One blocking request (CLI use); `authorization` is sent when not empty. The answer is limited
// to `max_body` bytes.
Result<ApiResponse> ApiCall(Endpoint endpoint, const std::string& method, const std::string& target,
                            const std::string& body, const std::string& authorization,
                            std::chrono::milliseconds timeout, size_t max_body = size_t{64} << 20);

}  // namespace seccloud::socd
