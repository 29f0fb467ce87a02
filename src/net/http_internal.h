#pragma once
// The request side of net::AdminServer without sockets or coroutines, so that a fuzz target
// (tests/fuzz/http_request_fuzz) and tests reach exactly the code the server runs on what a
// client sends.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string_view>

#include "core/result.h"
#include "net/http.h"

namespace seccloud::net::http_internal {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Applies the limits to a fresh parser (header and body sizes).
void ConfigureParser(RequestParser& parser, const RequestLimits& limits);

// The status a request that failed to parse is answered with (431 headers too large, 413 body
// too large, 400 otherwise), or 0 when the connection just ended (end of stream, timeout, reset):
// nothing is answered then.
int StatusForReadError(const boost::system::error_code& ec);

// Why a request is refused, and the status it is answered with.
struct RequestError {
  int status = 400;
  std::string message;
};
// The checks beyond the parser's (header count, origin-form target, a single Content-Length, no
// control bytes in the target or values) and the conversion.
bool ToAdminRequest(boost::beast::http::request<boost::beast::http::string_body>&& message,
                    const RequestLimits& limits, AdminRequest* out, RequestError* error);

// Parses one whole request from `bytes` as the server would (for the fuzzer and tests). Returns
// false with the status and reason when the server would refuse it, or when it is incomplete
// (status 0).
bool ParseRequestBytes(std::string_view bytes, const RequestLimits& limits, AdminRequest* out,
                       RequestError* error);

}  // namespace seccloud::net::http_internal
