#include "soc/api_token.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>

#include "core/hex.h"

namespace seccloud::soc {
namespace {

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size() && out.size() < 4) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

bool IsTokenId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxTokenIdBytes &&
         std::all_of(id.begin(), id.end(), IsIdChar);
}

bool ApiToken::Covers(std::string_view tenant) const {
  return all_tenants || std::binary_search(tenants.begin(), tenants.end(), tenant);
}

Result<ApiTokenSet> ParseApiTokens(std::string_view text, std::string_view name) {
  if (text.size() > kMaxTokenFileBytes) {
    return MakeError(Errc::kInvalidArgument, std::string(name) + ": larger than " +
                                                 std::to_string(kMaxTokenFileBytes) + " bytes");
  }
  ApiTokenSet set;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto bad = [&](const std::string& what) {
      return MakeError(Errc::kInvalidArgument,
                       std::string(name) + ":" + std::to_string(line_no) + ": " + what);
    };
    const auto words = Words(line);
    if (words.empty() || words[0].front() == '#') continue;
    if (words.size() != 3) return bad("want: id sha256-hex scope (* or tenant,tenant)");
    ApiToken t;
    if (!IsTokenId(words[0])) {
      return bad("token id must be 1 to 64 of A-Z a-z 0-9 . _ -");
    }
    t.id = words[0];
    if (words[1].size() != 64) return bad("the hash must be 64 hex digits (SHA-256)");
    for (size_t i = 0; i < 32; ++i) {
      const int hi = HexValue(words[1][2 * i]), lo = HexValue(words[1][2 * i + 1]);
      if (hi < 0 || lo < 0) return bad("the hash must be 64 hex digits (SHA-256)");
      t.sha256[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    std::string_view scope = words[2];
    if (scope == "*") {
      t.all_tenants = true;
    } else {
      while (true) {
        const size_t comma = scope.find(',');
        std::string_view tenant = scope.substr(0, comma);
        if (!IsTokenId(tenant)) return bad("scope: * or tenant ids separated by commas");
        if (t.tenants.size() >= kMaxTokenTenants) return bad("scope: too many tenants");
        t.tenants.emplace_back(tenant);
        if (comma == std::string_view::npos) break;
        scope.remove_prefix(comma + 1);
      }
      std::sort(t.tenants.begin(), t.tenants.end());
      t.tenants.erase(std::unique(t.tenants.begin(), t.tenants.end()), t.tenants.end());
    }
    for (const ApiToken& other : set.tokens) {
      if (other.id == t.id) return bad("token id " + t.id + " is used twice");
      if (other.sha256 == t.sha256) return bad("the same token is listed twice");
    }
    if (set.tokens.size() >= kMaxTokens) return bad("more than 10000 tokens");
    set.tokens.push_back(std::move(t));
  }
  return set;
}

std::array<uint8_t, 32> Sha256(std::string_view data) {
  std::array<uint8_t, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

std::string Hex(const uint8_t* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

const ApiToken* Authenticate(const ApiTokenSet& set, std::string_view authorization) {
  // RFC 6750: the scheme is case-insensitive.
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return nullptr;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != kScheme[i]) return nullptr;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > kMaxBearerBytes) return nullptr;
  const auto hash = Sha256(token);
  // Every entry is compared, each in constant time: the answer's timing tells nothing about
  // which bytes of which hash matched.
  const ApiToken* found = nullptr;
  for (const ApiToken& t : set.tokens) {
    if (CRYPTO_memcmp(t.sha256.data(), hash.data(), hash.size()) == 0) found = &t;
  }
  return found;
}

Result<std::string> MintApiToken() {
  uint8_t bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("getrandom", errno);
    }
    got += static_cast<size_t>(n);
  }
  return "sct_" + Hex(bytes, sizeof(bytes));
}

std::string ApiTokenLine(std::string_view id, std::string_view token, bool all_tenants,
                         const std::vector<std::string>& tenants) {
  const auto hash = Sha256(token);
  std::string scope;
  if (all_tenants) {
    scope = "*";
  } else {
    for (const auto& t : tenants) scope += (scope.empty() ? "" : ",") + t;
  }
  return std::string(id) + " " + Hex(hash.data(), hash.size()) + " " + scope + "\n";
}

}  // namespace seccloud::soc
