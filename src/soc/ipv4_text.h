#pragma once
// The IPv4 dotted-quad grammar the parsers, the Sigma matcher and threat intel share (defined in
// parse_util.cc). Its own header so that readers of one address text need not include
// parse_internal.h and its boost/json.

#include <cstdint>
#include <string_view>

namespace seccloud::soc::internal {

// Whether `text` is a dotted quad IpAddress::Parse takes as IPv4 (four octets of 1-3 digits, at
// most 255, no leading zero): IpText's answer for it is the text itself, without the parse.
bool IsCanonicalIpv4(std::string_view text);
// The same, and when it is, its four octets in out[0..3] (out is written only in part otherwise).
bool ParseCanonicalIpv4(std::string_view text, uint8_t* out);

}  // namespace seccloud::soc::internal
