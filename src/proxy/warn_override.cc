#include "proxy/warn_override.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace seccloud::proxy {
namespace {

constexpr size_t kMaxGrants = 100'000;

std::string Hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// The value of `name` in an application/x-www-form-urlencoded query, decoded.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return PercentDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string GrantKey(std::string_view tenant, std::string_view source, std::string_view host) {
  return std::string(tenant) + "|" + std::string(source) + "|" + std::string(host);
}

}  // namespace

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      unsigned v = 0;
      auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec != std::errc() || end != s.data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

WarnOverrides::WarnOverrides(std::chrono::seconds grant_for, std::chrono::seconds link_valid_for)
    : grant_for_(grant_for), link_valid_for_(link_valid_for) {
  if (RAND_bytes(key_, sizeof key_) != 1) throw std::runtime_error("RAND_bytes failed");
}

std::string WarnOverrides::Mac(std::string_view message) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_, sizeof key_, reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), out, &len);
  return Hex(out, len);
}

std::string WarnOverrides::ContinueUrl(std::string_view tenant, std::string_view source,
                                       std::string_view host, std::string_view original_url,
                                       Clock::time_point now) {
  const long long expires =
      std::chrono::duration_cast<std::chrono::seconds>((now + link_valid_for_).time_since_epoch())
          .count();
  const std::string e = std::to_string(expires);
  const std::string mac =
      Mac(GrantKey(tenant, source, host) + "|" + std::string(original_url) + "|" + e);
  return "http://" + std::string(kProxyOwnHost) + "/continue?h=" + PercentEncode(host) +
         "&u=" + PercentEncode(original_url) + "&e=" + e + "&m=" + mac;
}

std::optional<WarnOverrides::Continue> WarnOverrides::Accept(std::string_view query,
                                                             std::string_view tenant,
                                                             std::string_view source,
                                                             std::string* why,
                                                             Clock::time_point now) {
  auto fail = [&](const char* reason) -> std::optional<Continue> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (query.size() > 12 * 1024) return fail("the continue link is too long");
  auto host = QueryValue(query, "h");
  auto url = QueryValue(query, "u");
  auto e = QueryValue(query, "e");
  auto m = QueryValue(query, "m");
  if (!host || !url || !e || !m) return fail("the continue link is incomplete");
  const std::string expected = Mac(GrantKey(tenant, source, *host) + "|" + *url + "|" + *e);
  if (expected.size() != m->size() || CRYPTO_memcmp(expected.data(), m->data(), m->size()) != 0)
    return fail("the continue link was not made for this terminal (or was altered)");
  long long expires = 0;
  auto [end, ec] = std::from_chars(e->data(), e->data() + e->size(), expires);
  if (ec != std::errc() || end != e->data() + e->size())
    return fail("the continue link is malformed");
  const long long now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_s > expires) return fail("the continue link has expired; open the page again");
  {
    std::lock_guard lock(mu_);
    if (grants_.size() >= kMaxGrants) {
      for (auto it = grants_.begin(); it != grants_.end();)
        it = it->second < now ? grants_.erase(it) : std::next(it);
      if (grants_.size() >= kMaxGrants) grants_.erase(grants_.begin());
    }
    grants_[GrantKey(tenant, source, *host)] = now + grant_for_;
  }
  return Continue{std::string(tenant), std::string(source), *host, *url};
}

bool WarnOverrides::Granted(std::string_view tenant, std::string_view source, std::string_view host,
                            Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = grants_.find(GrantKey(tenant, source, host));
  return it != grants_.end() && it->second > now;
}

}  // namespace seccloud::proxy
