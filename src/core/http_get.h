#pragma once
// A small blocking HTTP/1.0 GET for fetching feeds and signature mirrors on the management
// network (R8, R10). Coroutine-free on purpose: the policy feed updater and scand's signature
// updater call it from their own threads, and the fuzz build links core.
//
// http://<IP literal>:<port>/path only: no name lookups, no TLS, no redirects, identity encoding.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace seccloud {

struct HttpGetOptions {
  // Over the whole exchange: connect, request, headers and body.
  std::chrono::milliseconds timeout{30'000};
  // A body larger than this is refused (kResourceExhausted) as soon as it is seen, whether the
  // server announced it in Content-Length or not.
  uint64_t max_body_bytes = 64ull << 20;
  // Asks for bytes [first, last] (inclusive) with a Range header. A server that ignores the
  // range (200 with the whole body) is read only up to last + 1 bytes when first is 0, and is
  // an error otherwise.
  struct ByteRange {
    uint64_t first = 0;
    uint64_t last = 0;
  };
  std::optional<ByteRange> range;
  std::string user_agent = "seccloud";
  // When set, the body of a 200/206 answer is passed here in pieces instead of being kept in
  // HttpGetResponse::body (large downloads go straight to a file). An error stops the transfer.
  std::function<Status(std::string_view)> body_sink;
};

struct HttpGetResponse {
  int status = 0;             // any status the server sent; the caller decides what is fine
  std::string body;           // empty when a body_sink took it
  uint64_t body_bytes = 0;    // bytes of body received (into body or the sink)
  std::string last_modified;  // the Last-Modified header, when present
};

// Transport failures (cannot connect, timeout, not HTTP, a body cut short of its Content-Length,
// a body above max_body_bytes, a transfer encoding) are errors; every HTTP status is a response.
Result<HttpGetResponse> HttpGet(const std::string& url, const HttpGetOptions& options = {});

}  // namespace seccloud
