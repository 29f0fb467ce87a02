#pragma once
// Bearer tokens of the SOC's HTTP API (R20, R27: analysts and tenant CSIRTs, later the web
// console). The server keeps only SHA-256 hashes, in a token file an operator edits or
// `seccloud soc token create` appends to:
//
//   # id         sha256 of the token (64 hex digits)                          scope
//   analyst1     9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 *
//   tsu-csirt    2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae tsu
//   mie-csirt    fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9 tsu,ise
//
// Scope `*` is every tenant (the SOC's analysts and administrators); otherwise a comma-separated
// list of tenant ids, and such a token never sees anything of another tenant.
// Tokens are "sct_" and 64 hex digits of kernel randomness (256 bits).
//
// Thread safety: the functions are pure; an ApiTokenSet is immutable once parsed.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace seccloud::soc {

inline constexpr size_t kMaxTokenFileBytes = 1 << 20;
inline constexpr size_t kMaxTokens = 10'000;
inline constexpr size_t kMaxTokenIdBytes = 64;
inline constexpr size_t kMaxTokenTenants = 256;
inline constexpr size_t kMaxBearerBytes = 256;  // a presented token longer than this is refused

struct ApiToken {
  std::string id;  // names the token in the audit log ([A-Za-z0-9._-], at most 64 bytes)
  std::array<uint8_t, 32> sha256{};
  bool all_tenants = false;
  std::vector<std::string> tenants;  // when !all_tenants; sorted, unique, non-empty

  bool Covers(std::string_view tenant) const;
};

struct ApiTokenSet {
  std::vector<ApiToken> tokens;
};

// Parses a token file; `name` stands for the file in errors ("api-tokens:3: …"). Every line is
// checked: the first bad line is the error (a server must not start with half its tokens).
Result<ApiTokenSet> ParseApiTokens(std::string_view text, std::string_view name);

// The token a request presents (the value of its Authorization header, "Bearer <token>"),
// compared with every token's hash in constant time; nullptr when none matches.
const ApiToken* Authenticate(const ApiTokenSet& set, std::string_view authorization);

std::array<uint8_t, 32> Sha256(std::string_view data);
std::string Hex(const uint8_t* data, size_t size);

// A fresh token ("sct_" + 64 hex digits from getrandom).
Result<std::string> MintApiToken();
// The token file line for a token (`id hex-sha256 scope`).
std::string ApiTokenLine(std::string_view id, std::string_view token, bool all_tenants,
                         const std::vector<std::string>& tenants);
bool IsTokenId(std::string_view id);

}  // namespace seccloud::soc
