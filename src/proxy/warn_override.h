#pragma once
// Warn-and-continue (R10: "a warning page for blocked users"): a category set to `warn` shows a
// page with a "continue" link; following it lets that terminal reach that host for a while. The
// link carries an HMAC so that nobody can mint continuations for other terminals or hosts, and
// it expires. Grants live in memory per proxy process (a restart asks again); thread-safe.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace seccloud::proxy {

// Requests to this host are answered by the proxy itself (RFC 6761 reserves .invalid).
inline constexpr std::string_view kProxyOwnHost = "seccloud.invalid";

class WarnOverrides {
 public:
  using Clock = std::chrono::system_clock;
  explicit WarnOverrides(std::chrono::seconds grant_for = std::chrono::hours(1),
                         std::chrono::seconds link_valid_for = std::chrono::minutes(30));

  // "http://seccloud.invalid/continue?…" for this terminal, host and original URL.
  std::string ContinueUrl(std::string_view tenant, std::string_view source, std::string_view host,
                          std::string_view original_url, Clock::time_point now = Clock::now());

  struct Continue {
    std::string tenant, source, host, url;
  };
  // Checks a /continue request's query: the MAC, the expiry, and that it comes from the terminal
  // it was made for. On success records the grant and returns where to redirect.
  std::optional<Continue> Accept(std::string_view query, std::string_view tenant,
                                 std::string_view source, std::string* why,
                                 Clock::time_point now = Clock::now());

  bool Granted(std::string_view tenant, std::string_view source, std::string_view host,
               Clock::time_point now = Clock::now());

 private:
  std::string Mac(std::string_view message) const;

  unsigned char key_[32];
  std::chrono::seconds grant_for_, link_valid_for_;
  std::mutex mu_;
  std::map<std::string, Clock::time_point, std::less<>> grants_;  // tenant|source|host → until
};

// Percent-encoding for query values (RFC 3986 unreserved kept).
std::string PercentEncode(std::string_view s);
std::optional<std::string> PercentDecode(std::string_view s);

}  // namespace seccloud::proxy
