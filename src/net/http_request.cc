#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <cctype>
#include <limits>

#include "net/http_internal.h"

namespace seccloud::net {

std::string_view AdminRequest::Header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_case_name) return value;
  return {};
}

namespace http_internal {
namespace http = boost::beast::http;

void ConfigureParser(RequestParser& parser, const RequestLimits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(limits.header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(limits.body_bytes);
  parser.eager(true);
}

int StatusForReadError(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == boost::beast::error::timeout ||
      ec == boost::asio::error::connection_reset || ec == boost::asio::error::eof ||
      ec == boost::asio::error::operation_aborted || ec == boost::asio::error::broken_pipe)
    return 0;
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  return 400;
}

namespace {

bool ControlFree(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

}  // namespace

bool ToAdminRequest(http::request<http::string_body>&& message, const RequestLimits& limits,
                    AdminRequest* out, RequestError* error) {
  auto fail = [&](int status, std::string why) {
    error->status = status;
    error->message = std::move(why);
    return false;
  };
  if (message.version() != 10 && message.version() != 11)
    return fail(505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
  const std::string_view target = message.target();
  // Origin form only: the servers are no proxies, and a path-only target is what routes match.
  if (target.empty() || target.front() != '/' || !ControlFree(target) ||
      target.find(' ') != target.npos)
    return fail(400, "the request target must be a path (origin form)");
  size_t count = 0, content_lengths = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& field : message) {
    if (++count > limits.headers)
      return fail(431, "more than " + std::to_string(limits.headers) + " header fields");
    const std::string_view value = field.value();
    if (!ControlFree(value)) return fail(400, "a header value holds control characters");
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "content-length") ++content_lengths;
    headers.emplace_back(std::move(name), std::string(value));
  }
  // The parser already refuses differing lengths and a length beside chunked; a repeated equal
  // length is ambiguous too (request smuggling relies on such disagreements between hops).
  if (content_lengths > 1) return fail(400, "more than one Content-Length");
  out->method = std::string(message.method_string());
  out->target = std::string(target);
  out->body = std::move(message.body());
  out->headers = std::move(headers);
  return true;
}

bool ParseRequestBytes(std::string_view bytes, const RequestLimits& limits, AdminRequest* out,
                       RequestError* error) {
  RequestParser parser;
  ConfigureParser(parser, limits);
  boost::system::error_code ec;
  size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) {
      ec = {};
      break;
    }
    if (ec) break;
    if (n == 0) break;
    used += n;
  }
  if (ec) {
    error->status = StatusForReadError(ec);
    if (error->status == 0) error->status = 400;
    error->message = ec.message();
    return false;
  }
  if (!parser.is_done()) {
    error->status = 0;
    error->message = "incomplete request";
    return false;
  }
  return ToAdminRequest(parser.release(), limits, out, error);
}

}  // namespace http_internal
}  // namespace seccloud::net
