#include "proxy/request_target.h"

#include <cctype>
#include <charconv>

#include "core/ip.h"
#include "core/text.h"

namespace seccloud::proxy {
namespace {

constexpr size_t kMaxTargetBytes = 8192;

bool Fail(std::string* why, const char* reason) {
  if (why) *why = reason;
  return false;
}

// Parses "host[:port]" into out.host/out.host_is_ip/out.port.
bool ParseHostPort(std::string_view authority, bool port_required, uint16_t default_port,
                   RequestTarget& out, std::string* why) {
  if (authority.empty()) return Fail(why, "the target has no host");
  if (authority.find('@') != std::string_view::npos)
    return Fail(why, "user information in the target is not allowed");
  std::string_view host, port;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Fail(why, "an IPv6 literal lacks its ']'");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Fail(why, "unexpected text after the IPv6 literal");
      port = rest.substr(1);
    }
    auto ip = IpAddress::Parse(host);
    if (!ip || ip->is_v4()) return Fail(why, "the IPv6 literal is not valid");
    out.host = ip->ToString();
    out.host_is_ip = true;
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    } else {
      host = authority;
    }
    if (host.find(':') != std::string_view::npos)
      return Fail(why, "an IPv6 literal must be written in brackets");
    if (auto ip = IpAddress::Parse(host)) {
      // Parse takes only the canonical dotted quad (no leading zeros, no other forms), so an
      // IPv4 literal is its own text; ToString would cost an inet_ntop per request.
      out.host = std::string(host);
      out.host_is_ip = true;
    } else {
      std::string reason;
      auto name = NormalizeDomainName(host, &reason);
      // Single-label names ("intranet") are legitimate on some networks but never on the
      // internet this proxy leads to.
      if (!name) {
        if (why) *why = "the host name " + Quote(host) + " " + reason;
        return false;
      }
      out.host = *name;
    }
  }
  if (port.empty()) {
    if (port_required) return Fail(why, "the port is missing");
    out.port = default_port;
    return true;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.size() > 5 || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535)
    return Fail(why, "the port is not a number from 1 to 65535");
  out.port = static_cast<uint16_t>(value);
  return true;
}

// Bytes beyond ASCII are let through (forwarded as they came): a request-target is a URI (RFC
// 9112 §3.2) and such a request line is invalid, but §3 makes the 400 a SHOULD, and Japanese
// municipal software sends raw UTF-8 and Shift_JIS paths and queries that Squid's default and
// nginx serve. The URL filter judges their percent-encoded form (NormalizeUrl), so forwarding
// the client's own bytes adds no mismatch between what is judged and what the origin decodes;
// re-encoding them would change the bytes an origin signs or caches, and cannot mend a
// Shift_JIS 0x5C trail byte (tests/integration/proxy_framing_test.cc "raw UTF-8 path" rows).
bool HasControlOrSpace(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

std::string RequestTarget::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (default_port) return h;
  return h + ":" + std::to_string(port);
}

std::string RequestTarget::url() const {
  if (scheme.empty()) return authority();
  return scheme + "://" + authority() + path;
}

std::optional<RequestTarget> ParseAbsoluteForm(std::string_view target, std::string* why) {
  if (target.size() > kMaxTargetBytes) {
    Fail(why, "the request target is longer than 8 KiB");
    return std::nullopt;
  }
  if (HasControlOrSpace(target)) {
    Fail(why, "the request target contains a blank or a control character");
    return std::nullopt;
  }
  const size_t sep = target.find("://");
  if (sep == std::string_view::npos) {
    Fail(why, "a proxy request needs an absolute URL (http://host/path)");
    return std::nullopt;
  }
  std::string scheme(target.substr(0, sep));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "https") {
    Fail(why, "https:// URLs go through CONNECT, not as a plain proxy request");
    return std::nullopt;
  }
  if (scheme != "http") {
    Fail(why, "only http:// URLs can be proxied (CONNECT for https)");
    return std::nullopt;
  }
  std::string_view rest = target.substr(sep + 3);
  const size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (path.find('#') != std::string_view::npos) {
    Fail(why, "a fragment (#) does not belong in a request");
    return std::nullopt;
  }
  RequestTarget out;
  out.scheme = "http";
  if (!ParseHostPort(authority, false, 80, out, why)) return std::nullopt;
  if (path.empty())
    out.path = "/";
  else if (path.front() == '?')
    out.path = "/" + std::string(path);
  else
    out.path = std::string(path);
  return out;
}

std::optional<RequestTarget> ParseAuthorityForm(std::string_view target, std::string* why) {
  if (target.size() > 300) {
    Fail(why, "the CONNECT target is too long");
    return std::nullopt;
  }
  if (HasControlOrSpace(target) || target.find('/') != std::string_view::npos) {
    Fail(why, "CONNECT takes host:port and nothing else");
    return std::nullopt;
  }
  RequestTarget out;
  if (!ParseHostPort(target, true, 0, out, why)) return std::nullopt;
  return out;
}

}  // namespace seccloud::proxy
