#include "core/text.h"

#include <charconv>
#include <cstdio>

namespace seccloud {

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values above U+10FFFF.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  const size_t limit = 120;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == limit) {
      out += "…";
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 32 || s.front() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::optional<std::string> NormalizeDomainName(std::string_view s, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<std::string> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return fail("is empty");
  if (s.size() > 253) return fail("is longer than 253 bytes");
  std::string out;
  out.reserve(s.size());
  size_t label = 0, labels = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80)
      return fail("is not an ASCII domain name (write IDNs as punycode, xn--…)");
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '.') {
      if (label == 0) return fail("has an empty label");
      if (out.back() == '-') return fail("has a label ending with '-'");
      label = 0;
      ++labels;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      if (c == '-' && label == 0) return fail("has a label starting with '-'");
      if (++label > 63) return fail("has a label longer than 63 bytes");
    } else {
      return fail("has a character not allowed in host names (letters, digits, '-', '.')");
    }
    out += c;
  }
  if (label == 0) return fail("has an empty label");
  if (out.back() == '-') return fail("has a label ending with '-'");
  if (labels < 2) return fail("needs at least two labels (e.g. city.example)");
  return out;
}

bool IsPlausibleEmail(std::string_view s) {
  if (s.size() > 254) return false;
  size_t at = s.find('@');
  if (at == 0 || at == std::string_view::npos || s.find('@', at + 1) != std::string_view::npos)
    return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  std::string why;
  return NormalizeDomainName(s.substr(at + 1), &why).has_value();
}

namespace {
std::optional<uint64_t> ParseNumberWithUnit(std::string_view s, std::string_view* unit) {
  if (s.empty() || s.size() > 24) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  *unit = s.substr(static_cast<size_t>(end - s.data()));
  return value;
}

std::optional<uint64_t> Multiply(uint64_t v, uint64_t m) {
  if (m != 0 && v > UINT64_MAX / m) return std::nullopt;
  return v * m;
}
}  // namespace

std::optional<uint64_t> ParseByteSize(std::string_view s) {
  std::string_view unit;
  auto v = ParseNumberWithUnit(s, &unit);
  if (!v) return std::nullopt;
  if (unit.empty() || unit == "B") return v;
  if (unit == "KiB") return Multiply(*v, 1ull << 10);
  if (unit == "MiB") return Multiply(*v, 1ull << 20);
  if (unit == "GiB") return Multiply(*v, 1ull << 30);
  if (unit == "KB") return Multiply(*v, 1000);
  if (unit == "MB") return Multiply(*v, 1000'000);
  if (unit == "GB") return Multiply(*v, 1000'000'000);
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  std::string_view unit;
  auto v = ParseNumberWithUnit(s, &unit);
  if (!v) return std::nullopt;
  std::optional<uint64_t> ms;
  if (unit == "ms")
    ms = v;
  else if (unit == "s")
    ms = Multiply(*v, 1000);
  else if (unit == "m")
    ms = Multiply(*v, 60'000);
  else if (unit == "h")
    ms = Multiply(*v, 3'600'000);
  else if (unit == "d")
    ms = Multiply(*v, 86'400'000);
  if (!ms || *ms > uint64_t{INT64_MAX}) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(*ms));
}

std::optional<HttpUrl> ParseHttpUrl(std::string_view s, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<HttpUrl> {
    if (why) *why = reason;
    return std::nullopt;
  };
  constexpr std::string_view kScheme = "http://";
  if (s.substr(0, kScheme.size()) != kScheme) return fail("is not an http:// URL");
  s.remove_prefix(kScheme.size());
  size_t slash = s.find('/');
  std::string_view authority = s.substr(0, slash);
  auto endpoint = Endpoint::Parse(authority, /*allow_zero=*/false);
  if (!endpoint) return fail("needs an IP address and a port (http://127.0.0.1:8080/path)");
  std::string target = slash == std::string_view::npos ? "/" : std::string(s.substr(slash));
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail("has a blank in its path");
  return HttpUrl{*endpoint, std::move(target)};
}

}  // namespace seccloud
