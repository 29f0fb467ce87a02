#include "core/ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace seccloud {

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::kV4;
  a.bytes_[0] = host_order >> 24;
  a.bytes_[1] = host_order >> 16;
  a.bytes_[2] = host_order >> 8;
  a.bytes_[3] = host_order;
  return a;
}

IpAddress IpAddress::V6(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.family_ = Family::kV6;
  a.bytes_ = bytes;
  return a;
}

uint32_t IpAddress::v4() const {
  return uint32_t{bytes_[0]} << 24 | uint32_t{bytes_[1]} << 16 | uint32_t{bytes_[2]} << 8 |
         bytes_[3];
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  char buf[65];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (std::memchr(buf, '\0', text.size()) != nullptr) return std::nullopt;
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    // inet_pton accepts exactly a.b.c.d with decimal octets; reject leading zeros, which some
    // other parsers read as octal.
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '0' && (i == 0 || text[i - 1] == '.') && i + 1 < text.size() &&
          text[i + 1] != '.')
        return std::nullopt;
    }
    if (inet_pton(AF_INET, buf, a.bytes_.data()) != 1) return std::nullopt;
    a.family_ = Family::kV4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes_.data()) != 1) return std::nullopt;
  a.family_ = Family::kV6;
  return a;
}

IpAddress IpAddress::Unmapped() const {
  if (is_v4()) return *this;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes_.data(), kMapped, 12) != 0) return *this;
  return V4(uint32_t{bytes_[12]} << 24 | uint32_t{bytes_[13]} << 16 | uint32_t{bytes_[14]} << 8 |
            bytes_[15]);
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

IpPrefix::IpPrefix(const IpAddress& address, unsigned length)
    : address_(address), length_(std::min(length, address.bit_width())) {
  std::array<uint8_t, 16> b = address.bytes();
  const unsigned width = address.bit_width();
  for (unsigned i = length_; i < width; ++i) b[i / 8] &= ~(1u << (7 - i % 8));
  address_ =
      address.is_v4()
          ? IpAddress::V4(uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3])
          : IpAddress::V6(b);
}

std::optional<IpPrefix> IpPrefix::Parse(std::string_view text, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<IpPrefix> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const size_t slash = text.find('/');
  auto address = IpAddress::Parse(text.substr(0, slash));
  if (!address) return fail("is not an IPv4 or IPv6 address");
  unsigned length = address->bit_width();
  if (slash != std::string_view::npos) {
    std::string_view len_text = text.substr(slash + 1);
    if (len_text.empty() || len_text.size() > 3) return fail("has no valid prefix length");
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
    if (ec != std::errc() || end != len_text.data() + len_text.size() ||
        (len_text.size() > 1 && len_text[0] == '0'))
      return fail("has no valid prefix length");
    if (length > address->bit_width())
      return fail(address->is_v4() ? "has a prefix length above 32"
                                   : "has a prefix length above 128");
  }
  IpPrefix p(*address, length);
  if (p.address_ != *address) return fail("has host bits set beyond the prefix length");
  return p;
}

bool IpPrefix::Contains(const IpAddress& a) const {
  if (a.family() != address_.family()) return false;
  const auto& x = a.bytes();
  const auto& y = address_.bytes();
  unsigned full = length_ / 8;
  if (std::memcmp(x.data(), y.data(), full) != 0) return false;
  unsigned rest = length_ % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (x[full] & mask) == (y[full] & mask);
}

IpAddress IpPrefix::Last() const {
  std::array<uint8_t, 16> b = address_.bytes();
  const unsigned width = address_.bit_width();
  for (unsigned i = length_; i < width; ++i) b[i / 8] |= (1u << (7 - i % 8));
  if (address_.is_v4())
    return IpAddress::V4(uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3]);
  return IpAddress::V6(b);
}

std::string IpPrefix::ToString() const {
  return address_.ToString() + "/" + std::to_string(length_);
}

}  // namespace seccloud

namespace seccloud {

std::optional<Endpoint> Endpoint::Parse(std::string_view text, bool allow_zero) {
  if (text.size() > 80) return std::nullopt;
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6
  }
  auto address = IpAddress::Parse(host);
  if (!address || (text.front() == '[') == address->is_v4()) return std::nullopt;
  unsigned value = 0;
  if (port.empty() || port.size() > 5) return std::nullopt;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) return std::nullopt;
  if (value == 0 && !allow_zero) return std::nullopt;
  return Endpoint{*address, static_cast<uint16_t>(value)};
}

std::string Endpoint::ToString() const {
  if (address.is_v4()) return address.ToString() + ":" + std::to_string(port);
  return "[" + address.ToString() + "]:" + std::to_string(port);
}

}  // namespace seccloud
