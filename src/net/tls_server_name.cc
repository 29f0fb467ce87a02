// Validation of the server names hostile clients send (SNI, CONNECT host) before anything is
// minted or logged for them (R9). Kept free of OpenSSL so the ClientHello fuzz target links it.

#include "core/ip.h"
#include "net/tls.h"

namespace seccloud::net {
namespace {

bool IsLdhChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

Result<std::string> CanonicalServerName(std::string_view name) {
  if (name.empty()) return MakeError(Errc::kInvalidArgument, "empty server name");
  if (name.size() > 253)
    return MakeError(Errc::kInvalidArgument, "server name longer than 253 bytes");
  std::string_view literal = name;
  if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']')
    literal = literal.substr(1, literal.size() - 2);
  if (auto ip = IpAddress::Parse(literal)) return ip->ToString();

  std::string out(name);
  size_t label_start = 0;
  bool last_label_all_digits = true;
  for (size_t i = 0; i <= out.size(); ++i) {
    if (i == out.size() || out[i] == '.') {
      const size_t len = i - label_start;
      if (len == 0 || len > 63)
        return MakeError(Errc::kInvalidArgument, "server name has an empty or over-long label");
      if (out[label_start] == '-' || out[i - 1] == '-')
        return MakeError(Errc::kInvalidArgument, "server name label starts or ends with '-'");
      last_label_all_digits = true;
      for (size_t j = label_start; j < i; ++j)
        if (out[j] < '0' || out[j] > '9') last_label_all_digits = false;
      label_start = i + 1;
      continue;
    }
    char c = out[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!IsLdhChar(c))
      return MakeError(Errc::kInvalidArgument,
                       "server name contains a character other than letters, digits, '-', '.'");
    out[i] = c;
  }
  if (last_label_all_digits)
    return MakeError(Errc::kInvalidArgument, "server name looks numeric but is not an IP address");
  return out;
}

}  // namespace seccloud::net
