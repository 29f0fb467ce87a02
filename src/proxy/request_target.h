#pragma once
// Parsing of what a client asks a forward proxy for (RFC 9112 §3.2): the absolute-form
// "http://host:port/path?query" and, for CONNECT, the authority-form "host:port". Both arrive
// from terminals and are hostile: every length is bounded and anything unusual is refused with a
// reason the client sees in its 400 response.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seccloud::proxy {

struct RequestTarget {
  std::string scheme;  // "http" (absolute-form) or "" (authority-form)
  std::string host;    // lower-case name, or an IP literal without brackets
  bool host_is_ip = false;
  uint16_t port = 0;
  std::string path;               // origin-form for the upstream: "/path?query", "/" when empty
  std::string authority() const;  // "host:port", IPv6 in brackets; port omitted when default
  std::string url() const;        // scheme://authority/path, for logs and the URL filter
};

// Absolute-form. `why` explains a refusal. "https://…" is refused (a client must use CONNECT),
// as are userinfo, fragments, control characters and targets over 8 KiB.
std::optional<RequestTarget> ParseAbsoluteForm(std::string_view target, std::string* why);
// Authority-form of CONNECT: "host:port", "[v6]:port"; the port is required and not 0.
std::optional<RequestTarget> ParseAuthorityForm(std::string_view target, std::string* why);

}  // namespace seccloud::proxy
