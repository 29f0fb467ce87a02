// NormalizeUrl (R10): one canonical form of a URL, so that rules match however a client spelled
// it. Every step is bounded by kMaxUrlBytes.
#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "core/hex.h"
#include "core/ip.h"
#include "policy/url_filter.h"

namespace seccloud::policy {
namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

constexpr char kHex[] = "0123456789ABCDEF";

void AppendEscaped(std::string& out, unsigned char c) {
  out += '%';
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

bool NeedsPercentWork(unsigned char c) { return c == '%' || c <= 0x20 || c >= 0x7f; }

// Percent-encoding normalised: unreserved characters decoded, other escapes upper-cased, a stray
// '%' escaped, blanks, controls and non-ASCII bytes escaped. Runs that need none of it (most
// queries are whole such runs) are appended at once.
void AppendPercentNormalized(std::string& out, std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;
    while (run < s.size() && !NeedsPercentWork(static_cast<unsigned char>(s[run]))) ++run;
    out.append(s.data() + i, run - i);
    if (run == s.size()) break;
    i = run;
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
        i += 3;
      } else {
        AppendEscaped(out, '%');
        ++i;
      }
      continue;
    }
    AppendEscaped(out, c);
    ++i;
  }
}

// RFC 3986 5.2.4 on a path that starts with '/'.
std::string RemoveDotSegments(std::string_view path) {
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

bool Fail(std::string* why, const char* what) {
  if (why) *why = what;
  return false;
}

bool EqualsLowerAscii(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != lower[i]) return false;
  }
  return true;
}

// A host byte as a name keeps it: lower-cased, '.' as is, 0 for a byte no name may have.
constexpr std::array<char, 256> kHostNameByte = [] {
  std::array<char, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = static_cast<char>(c);
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<char>(c - 'A' + 'a');
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<char>(c);
  t['-'] = '-';
  t['_'] = '_';
  t['.'] = '.';
  return t;
}();

enum class HostName { kName, kDigitsAndDots, kRefused };

// The host's bytes checked as a name and lower-cased into `out` (already sized), in one pass; the
// checks come in the order a byte-by-byte walk makes them, so the first offending byte names the
// error (in *why when refused). A name of digits and dots only is said to be so: it may be an
// IPv4 address, which the caller asks IpAddress::Parse about (a refused host may be an IPv6
// address: it has a ':', which no name has).
HostName LowerHostName(std::string_view host, char* out, std::string* why) {
  size_t label = 0;
  bool digits_and_dots = true;
  for (size_t i = 0; i < host.size(); ++i) {
    const unsigned char u = static_cast<unsigned char>(host[i]);
    const char l = kHostNameByte[u];
    if (l == 0) {
      Fail(why, u >= 0x80 ? "has a non-ASCII host (IDN hosts must be punycode)"
                          : "has a character not allowed in a host name");
      return HostName::kRefused;
    }
    if (l == '.') {
      if (label == 0) {
        Fail(why, "has an empty label in its host");
        return HostName::kRefused;
      }
      label = 0;
    } else {
      if (++label > 63) {
        Fail(why, "has a host label longer than 63 bytes");
        return HostName::kRefused;
      }
      digits_and_dots = digits_and_dots && l >= '0' && l <= '9';
    }
    out[i] = l;
  }
  // "a.." : one trailing dot is dropped, a second is an empty label
  if (label == 0) {
    Fail(why, "has an empty label in its host");
    return HostName::kRefused;
  }
  return digits_and_dots ? HostName::kDigitsAndDots : HostName::kName;
}

}  // namespace

// The URL is written once, into the result's own buffer: scheme, host, port, path and query each
// appended (or checked in place) in a single pass; only a path that is not canonical takes the
// slow road through a copy. url_normalize_reference.h keeps the earlier form, which built each
// part in its own string a byte at a time; tests and the fuzzer hold the two to the same output.
std::optional<NormalizedUrl> NormalizeUrl(std::string_view scheme, std::string_view host,
                                          uint16_t port, std::string_view path, std::string* why) {
  if (scheme.size() + host.size() + path.size() + 16 > kMaxUrlBytes) {
    Fail(why, "is longer than 8 KiB");
    return std::nullopt;
  }
  uint16_t default_port = 0;
  std::string_view lower_scheme;
  if (EqualsLowerAscii(scheme, "http")) {
    default_port = 80;
    lower_scheme = "http";
  } else if (EqualsLowerAscii(scheme, "https")) {
    default_port = 443;
    lower_scheme = "https";
  } else {
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
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) {
    Fail(why, "has an empty or over-long host");
    return std::nullopt;
  }

  if (const size_t hash = path.find('#'); hash != std::string_view::npos)
    path = path.substr(0, hash);
  std::string_view query;
  bool has_query = false;
  if (const size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    has_query = true;
    path = path.substr(0, q);
  }

  NormalizedUrl u;
  std::string& full = u.full;
  // An IP literal's text can be longer than the host as given ("::1" and "1::" stay, but
  // brackets are added); 48 covers any IPv6 text with its brackets.
  full.reserve(lower_scheme.size() + 3 + std::max<size_t>(host.size(), 48) + 6 + path.size() +
               query.size() + 2);
  full = lower_scheme;
  full += "://";
  size_t host_at = full.size();
  size_t host_size = host.size();
  bool is_ip = false;
  // The host as a name first (most are); only what could be an IP literal is parsed as one:
  // inet_pton reads an IPv4 address from digits and dots only, and an IPv6 address always has
  // a ':', which refuses it as a name. A name's error is kept until the parse has failed too.
  std::string name_why;
  full.resize(host_at + host.size());
  const HostName name = LowerHostName(host, full.data() + host_at, why ? &name_why : nullptr);
  std::optional<IpAddress> ip;
  if (name == HostName::kDigitsAndDots ||
      (name == HostName::kRefused && host.find(':') != std::string_view::npos))
    ip = IpAddress::Parse(host);
  if (ip && ip->is_v4()) {
    // IpAddress::Parse takes an IPv4 address only as four decimal octets without leading
    // zeros: the text, already written as the name, is the canonical form ToString would print.
    is_ip = true;
  } else if (ip) {
    const IpAddress a = ip->Unmapped();
    const std::string text = a.ToString();
    is_ip = true;
    full.resize(host_at);
    if (!a.is_v4()) {
      full += '[';
      ++host_at;
    }
    full += text;
    host_size = text.size();
    if (!a.is_v4()) full += ']';
  } else if (name == HostName::kRefused) {
    if (why) *why = std::move(name_why);
    return std::nullopt;
  }
  if (port == 0) port = default_port;
  if (port != default_port) {
    char digits[8];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, port);
    full += ':';
    full.append(digits, end);
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
  const size_t path_at = full.size();
  if (canonical) {
    full += path;
  } else {
    std::string p;
    p.reserve(path.size() + 1);
    if (path.empty() || path.front() != '/') p += '/';
    AppendPercentNormalized(p, path);
    full += RemoveDotSegments(p);
  }
  if (has_query) {
    full += '?';
    AppendPercentNormalized(full, query);
  }
  if (full.size() > kMaxUrlBytes) {
    Fail(why, "is longer than 8 KiB");
    return std::nullopt;
  }
  u.scheme = std::string_view(full).substr(0, lower_scheme.size());
  u.host = std::string_view(full).substr(host_at, host_size);
  u.path = std::string_view(full).substr(path_at);
  u.port = port;
  u.host_is_ip = is_ip;
  return u;
}

std::optional<NormalizedUrl> NormalizeUrl(std::string_view url, std::string* why) {
  if (url.size() > kMaxUrlBytes) {
    Fail(why, "is longer than 8 KiB");
    return std::nullopt;
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    Fail(why, "has no scheme");
    return std::nullopt;
  }
  std::string_view scheme = url.substr(0, sep);
  std::string_view rest = url.substr(sep + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view host = authority;
  uint16_t port = 0;
  size_t colon = std::string_view::npos;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      Fail(why, "has an unterminated IPv6 literal");
      return std::nullopt;
    }
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        Fail(why, "has text after its IPv6 literal");
        return std::nullopt;
      }
      colon = close + 1;
    }
  } else {
    colon = authority.find(':');
    host = authority.substr(0, colon);
  }
  if (colon != std::string_view::npos) {
    std::string_view ps = authority.substr(colon + 1);
    if (!ps.empty()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), v);
      if (ec != std::errc() || p != ps.data() + ps.size() || v == 0 || v > 65535) {
        Fail(why, "has a bad port");
        return std::nullopt;
      }
      port = static_cast<uint16_t>(v);
    }
  }
  return NormalizeUrl(scheme, host, port, path, why);
}

}  // namespace seccloud::policy
