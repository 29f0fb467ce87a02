// The fuzzer's bytes as what a client sends to net::AdminServer (the admin endpoints and the SOC
// API): Beast's parser with the server's limits, then the server's own checks and conversion.
// Also with tiny limits, so that the limit paths are reached.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/http_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace seccloud::net;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  AdminRequest request;
  http_internal::RequestError error;
  if (http_internal::ParseRequestBytes(bytes, RequestLimits{}, &request, &error)) {
    (void)request.Header("authorization");
    if (request.target.empty() || request.target.front() != '/') __builtin_trap();
  } else if (error.status != 0 && (error.status < 400 || error.status > 505)) {
    __builtin_trap();
  }
  RequestLimits tiny;
  tiny.header_bytes = 64;
  tiny.headers = 2;
  tiny.body_bytes = 8;
  AdminRequest small;
  if (http_internal::ParseRequestBytes(bytes, tiny, &small, &error) && small.body.size() > 8)
    __builtin_trap();
  return 0;
}
