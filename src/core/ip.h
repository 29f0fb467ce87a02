#pragma once
// IPv4/IPv6 addresses and prefixes, parsed strictly from untrusted text.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seccloud {

class IpAddress {
 public:
  enum class Family : uint8_t { kV4, kV6 };

  IpAddress() = default;
  static IpAddress V4(uint32_t host_order);
  static IpAddress V6(const std::array<uint8_t, 16>& bytes);

  // Accepts dotted-quad IPv4 ("192.0.2.1") and RFC 4291 IPv6 text ("2001:db8::1"); nothing else
  // (no leading zeros in IPv4 octets, no zone ids, no surrounding blanks). Inputs longer than
  // 64 bytes are rejected without inspection.
  static std::optional<IpAddress> Parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  // Only meaningful for IPv4: the address in host byte order.
  uint32_t v4() const;
  // Network byte order; IPv4 occupies the first 4 bytes.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Bit i counted from the most significant bit of the first byte.
  bool bit(unsigned i) const { return (bytes_[i / 8] >> (7 - i % 8)) & 1; }
  unsigned bit_width() const { return is_v4() ? 32 : 128; }
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4; any other address unchanged.
  IpAddress Unmapped() const;

  std::string ToString() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

class IpPrefix {
 public:
  IpPrefix() = default;
  // Host bits beyond `length` are cleared.
  IpPrefix(const IpAddress& address, unsigned length);

  // "10.0.0.0/8", "2001:db8::/32", or a bare address meaning a host prefix (/32 or /128).
  // Host bits set beyond the length ("10.0.0.1/8") are an error: they usually mean a typo.
  static std::optional<IpPrefix> Parse(std::string_view text, std::string* why = nullptr);

  const IpAddress& address() const { return address_; }
  unsigned length() const { return length_; }
  bool Contains(const IpAddress& a) const;
  bool Contains(const IpPrefix& p) const { return p.length_ >= length_ && Contains(p.address_); }
  bool Overlaps(const IpPrefix& p) const { return Contains(p) || p.Contains(*this); }
  // The last address inside the prefix.
  IpAddress Last() const;

  std::string ToString() const;

  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;

 private:
  IpAddress address_;
  unsigned length_ = 0;
};

}  // namespace seccloud

namespace seccloud {

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;

  // "127.0.0.1:19000" or "[::1]:19000"; the port may be 0 (any free port) only when allow_zero.
  static std::optional<Endpoint> Parse(std::string_view text, bool allow_zero = true);
  std::string ToString() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

}  // namespace seccloud
