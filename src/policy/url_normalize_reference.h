#pragma once
// Test-only: NormalizeUrl as it was before the single-buffer rewrite (stop 24), kept verbatim as
// the reference the differential test (url_normalize_test.cc) and url_normalize_fuzz compare the
// production code with. Not linked into seccloud.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip.h"
#include "policy/url_filter.h"

namespace seccloud::policy::reference {
namespace detail {

inline bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline constexpr char kHex[] = "0123456789ABCDEF";

inline void AppendEscaped(std::string& out, unsigned char c) {
  out += '%';
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

// Percent-encoding normalised: unreserved characters decoded, other escapes upper-cased, a stray
// '%' escaped, blanks, controls and non-ASCII bytes escaped.
inline void AppendPercentNormalized(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '%') {
      const bool room = i + 2 < s.size();
      const int hi = room ? HexValue(s[i + 1]) : -1;
      const int lo = room ? HexValue(s[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        const unsigned char d = static_cast<unsigned char>(hi * 16 + lo);
        if (IsUnreserved(d))
          out += static_cast<char>(d);
        else
          AppendEscaped(out, d);
        i += 2;
      } else {
        AppendEscaped(out, '%');
      }
      continue;
    }
    if (c <= 0x20 || c >= 0x7f) {
      AppendEscaped(out, c);
      continue;
    }
    out += static_cast<char>(c);
  }
}

// RFC 3986 5.2.4 on a path that starts with '/'.
inline std::string RemoveDotSegments(std::string_view path) {
  std::vector<std::string_view> stack;
  bool trailing = false;
  std::string_view rest = path.substr(1);
  for (;;) {
    const size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (seg == ".") {
      trailing = true;
    } else if (seg == "..") {
      if (!stack.empty()) stack.pop_back();
      trailing = true;
    } else {
      stack.push_back(seg);
      trailing = false;
    }
    if (last) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out = "/";
  for (size_t i = 0; i < stack.size(); ++i) {
    if (i) out += '/';
    out += stack[i];
  }
  if (trailing && !stack.empty()) out += '/';
  return out;
}

inline bool Fail(std::string* why, const char* what) {
  if (why) *why = what;
  return false;
}

}  // namespace detail

inline std::optional<NormalizedUrl> NormalizeUrl(std::string_view scheme, std::string_view host,
                                                 uint16_t port, std::string_view path,
                                                 std::string* why) {
  using namespace detail;
  if (scheme.size() + host.size() + path.size() + 16 > kMaxUrlBytes) {
    Fail(why, "is longer than 8 KiB");
    return std::nullopt;
  }
  std::string s;
  for (char c : scheme) s += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  uint16_t default_port = 0;
  if (s == "http")
    default_port = 80;
  else if (s == "https")
    default_port = 443;
  else {
    Fail(why, "has a scheme other than http or https");
    return std::nullopt;
  }
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') {
      Fail(why, "has an unterminated IPv6 literal");
      return std::nullopt;
    }
    host = host.substr(1, host.size() - 2);
  }
  std::string h;
  bool is_ip = false, is_v6 = false;
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) {
    Fail(why, "has an empty or over-long host");
    return std::nullopt;
  }
  if (auto ip = IpAddress::Parse(host)) {
    IpAddress a = ip->Unmapped();
    h = a.ToString();
    is_ip = true;
    is_v6 = !a.is_v4();
  } else {
    h.reserve(host.size());
    size_t label = 0;
    for (char c : host) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u >= 0x80) {
        Fail(why, "has a non-ASCII host (IDN hosts must be punycode)");
        return std::nullopt;
      }
      char l = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      if (l == '.') {
        if (label == 0) {
          Fail(why, "has an empty label in its host");
          return std::nullopt;
        }
        label = 0;
      } else if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_') {
        if (++label > 63) {
          Fail(why, "has a host label longer than 63 bytes");
          return std::nullopt;
        }
      } else {
        Fail(why, "has a character not allowed in a host name");
        return std::nullopt;
      }
      h += l;
    }
    if (label == 0) {  // "a.." : one trailing dot is dropped, a second is an empty label
      Fail(why, "has an empty label in its host");
      return std::nullopt;
    }
  }
  if (port == 0) port = default_port;

  if (const size_t hash = path.find('#'); hash != std::string_view::npos)
    path = path.substr(0, hash);
  std::string_view query;
  bool has_query = false;
  if (const size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    has_query = true;
    path = path.substr(0, q);
  }
  // Most paths are already canonical: no escapes, no dot segments, nothing to escape.
  bool canonical = !path.empty() && path.front() == '/';
  for (size_t i = 0; canonical && i < path.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(path[i]);
    if (c <= 0x20 || c >= 0x7f || c == '%' ||
        (c == '.' && path[i - 1] == '/' &&
         (i + 1 == path.size() || path[i + 1] == '/' || path[i + 1] == '.')))
      canonical = false;
  }
  std::string p;
  if (!canonical) {
    p.reserve(path.size() + 1);
    if (path.empty() || path.front() != '/') p += '/';
    AppendPercentNormalized(p, path);
  }

  NormalizedUrl u;
  u.full.reserve(s.size() + h.size() + p.size() + query.size() + 16);
  u.full = s;
  u.full += "://";
  const size_t host_at = u.full.size() + (is_v6 ? 1 : 0);
  if (is_v6) u.full += '[';
  u.full += h;
  if (is_v6) u.full += ']';
  if (port != default_port) {
    u.full += ':';
    u.full += std::to_string(port);
  }
  const size_t path_at = u.full.size();
  if (canonical)
    u.full += path;
  else
    u.full += RemoveDotSegments(p);
  if (has_query) {
    u.full += '?';
    AppendPercentNormalized(u.full, query);
  }
  if (u.full.size() > kMaxUrlBytes) {
    Fail(why, "is longer than 8 KiB");
    return std::nullopt;
  }
  u.scheme = std::string_view(u.full).substr(0, s.size());
  u.host = std::string_view(u.full).substr(host_at, h.size());
  u.path = std::string_view(u.full).substr(path_at);
  u.port = port;
  u.host_is_ip = is_ip;
  return u;
}

}  // namespace seccloud::policy::reference
