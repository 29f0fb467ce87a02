#include "scan/clamav_signature.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <memory>

#include "core/hex.h"

namespace seccloud::scan {
namespace {

// ClamAV's public keys, copied from its sources (libclamav/dsig.c and common/cdiff.c, the same
// numbers in libclamav_rust/src/cdiff.rs). The unit test checks the CVD key against a genuine
// daily.cvd header and the .cdiff key against a genuine daily-25784.cdiff signature.
constexpr char kCvdModulus[] =
    "118640995551645342603070001658453189751527774412027743746599405743243142607464144767361060"
    "640655844749760788890022283424922762488917565551002467771109669598189410434699034532232228"
    "621591089508178591428456220796841621637175567590476666928698770143328137383952820383197532"
    "047771780196576957695822641224262693037";
constexpr char kCdiffModulus[] =
    "147839058740774670902622285165579175702545996383762035320319892141055528472696874897719757"
    "921234421858172876949519498009087915275420171156005013033947786185358648452357000415900563"
    "182301024496122174585490160893133065913885907907965158196541023207257123008223563487240112"
    "326548375032417361779077841987008344406811247270605400357546996581058950500965762267530085"
    "968816988281856524249019216687583265784620032479064709820922981067896572119054889862810783"
    "463614695244848295595608862271980919954984406766396398304635932113860550653602884223940539"
    "98134458623712540683294034953818412458362198117811990006021989844180721010947";

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

int DigitOf(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Error Bad(std::string what) {
  return MakeError(Errc::kInvalidArgument, "digital signature: " + std::move(what));
}

Result<Bn> Decimal(std::string_view digits, const char* what) {
  // Keys are compile-time constants or test keys; still, nothing unbounded reaches BN_dec2bn.
  if (digits.empty() || digits.size() > 1300)
    return MakeError(Errc::kInvalidArgument, std::string(what) + " is not a decimal number");
  for (char c : digits)
    if (c < '0' || c > '9')
      return MakeError(Errc::kInvalidArgument, std::string(what) + " is not a decimal number");
  const std::string s(digits);
  BIGNUM* b = nullptr;
  if (BN_dec2bn(&b, s.c_str()) != static_cast<int>(s.size()) || b == nullptr) {
    BN_free(b);
    return MakeError(Errc::kInternal, std::string("cannot read ") + what);
  }
  return Bn(b);
}

// c^e mod n for the signature `dsig` under `key`, as `out_bytes` big-endian bytes. Refuses a
// signature integer not below n, and a result that does not fit in out_bytes.
Result<std::vector<uint8_t>> PublicOperation(std::string_view dsig, const ClamavPublicKey& key,
                                             size_t out_bytes) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> sig, DecodeClamavSignature(dsig));
  ASSIGN_OR_RETURN(Bn n, Decimal(key.modulus_decimal, "the key's modulus"));
  ASSIGN_OR_RETURN(Bn e, Decimal(key.exponent_decimal, "the key's exponent"));
  if (BN_is_zero(n.get()) || !BN_is_odd(n.get()))
    return MakeError(Errc::kInvalidArgument, "the key's modulus is not an RSA modulus");
  Bn c(BN_bin2bn(sig.data(), static_cast<int>(sig.size()), nullptr));
  Bn p(BN_new());
  std::unique_ptr<BN_CTX, BnCtxFree> ctx(BN_CTX_new());
  if (!c || !p || !ctx) return MakeError(Errc::kResourceExhausted, "out of memory");
  if (BN_cmp(c.get(), n.get()) >= 0)
    return Bad("the signature integer is not below the key's modulus (not made with this key)");
  if (BN_mod_exp(p.get(), c.get(), e.get(), n.get(), ctx.get()) != 1)
    return MakeError(Errc::kInternal, "RSA public operation failed");
  std::vector<uint8_t> out(out_bytes);
  if (BN_bn2binpad(p.get(), out.data(), static_cast<int>(out.size())) < 0)
    return Bad("does not match (the recovered value is longer than " + std::to_string(out_bytes) +
               " bytes)");
  return out;
}

std::array<uint8_t, 32> Sha256(std::initializer_list<std::span<const uint8_t>> parts) {
  std::array<uint8_t, 32> out{};
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned len = 0;
  if (md && EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) == 1) {
    for (auto p : parts) EVP_DigestUpdate(md.get(), p.data(), p.size());
    EVP_DigestFinal_ex(md.get(), out.data(), &len);
  }
  return out;
}

// PSS parameters of cli_versig2.
constexpr size_t kPssBytes = 256;  // a 2048-bit modulus
constexpr size_t kHashBytes = 32;
constexpr size_t kSaltBytes = 32;
constexpr size_t kDbBytes = kPssBytes - kHashBytes - 1;

}  // namespace

const ClamavPublicKey kClamavCvdKey{kCvdModulus, "100001027"};
const ClamavPublicKey kClamavCdiffKey{kCdiffModulus, "100002053"};

Result<std::vector<uint8_t>> DecodeClamavSignature(std::string_view text) {
  if (text.empty()) return Bad("empty");
  if (text.size() > kMaxClamavSignatureChars)
    return Bad(std::to_string(text.size()) + " characters, more than " +
               std::to_string(kMaxClamavSignatureChars));
  // Digit i carries bits 6i..6i+5 of the integer.
  std::vector<uint8_t> little((text.size() * 6 + 7) / 8, 0);
  for (size_t i = 0; i < text.size(); ++i) {
    const int d = DigitOf(text[i]);
    if (d < 0)
      return Bad("character " + std::to_string(i + 1) + " is not in ClamAV's base-64 alphabet");
    const size_t bit = i * 6;
    little[bit / 8] |= static_cast<uint8_t>(d << (bit % 8));
    if (bit % 8 > 2 && bit / 8 + 1 < little.size())
      little[bit / 8 + 1] |= static_cast<uint8_t>(d >> (8 - bit % 8));
  }
  while (!little.empty() && little.back() == 0) little.pop_back();
  return std::vector<uint8_t>(little.rbegin(), little.rend());
}

std::string EncodeClamavSignature(std::span<const uint8_t> big_endian) {
  size_t skip = 0;
  while (skip < big_endian.size() && big_endian[skip] == 0) ++skip;
  std::vector<uint8_t> little(big_endian.rbegin(), big_endian.rend() - skip);
  std::string out;
  const size_t bits = little.size() * 8;
  for (size_t bit = 0; bit < bits; bit += 6) {
    unsigned v = little[bit / 8] >> (bit % 8);
    if (bit % 8 > 2 && bit / 8 + 1 < little.size()) v |= little[bit / 8 + 1] << (8 - bit % 8);
    out.push_back(kAlphabet[v & 63]);
  }
  while (out.size() > 1 && out.back() == 'a') out.pop_back();  // leading zero digits
  if (out.empty()) out = "a";
  return out;
}

Status VerifyCvdSignature(std::string_view md5_hex, std::string_view dsig,
                          const ClamavPublicKey& key) {
  if (md5_hex.size() != 32) return Bad("the MD5 is not 32 hex digits");
  std::array<uint8_t, 16> md5{};
  for (size_t i = 0; i < 16; ++i) {
    const int hi = HexValue(md5_hex[2 * i]), lo = HexValue(md5_hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Bad("the MD5 is not 32 hex digits");
    md5[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> plain, PublicOperation(dsig, key, md5.size()));
  if (CRYPTO_memcmp(plain.data(), md5.data(), md5.size()) != 0)
    return Bad("does not match the MD5 " + std::string(md5_hex) + " (not signed by this key)");
  return {};
}

Result<PssRecovered> RecoverCdiffPss(std::string_view dsig, const ClamavPublicKey& key) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> em, PublicOperation(dsig, key, kPssBytes));
  if (em[kPssBytes - 1] != 0xbc) return Bad("does not match (no PSS trailer 0xbc)");
  PssRecovered out;
  out.h.assign(em.begin() + kDbBytes, em.begin() + kDbBytes + kHashBytes);
  // MGF1-SHA-256(H) unmasks the data block.
  std::vector<uint8_t> db(em.begin(), em.begin() + kDbBytes);
  for (uint32_t counter = 0; counter * kHashBytes < kDbBytes; ++counter) {
    const uint8_t c[4] = {static_cast<uint8_t>(counter >> 24), static_cast<uint8_t>(counter >> 16),
                          static_cast<uint8_t>(counter >> 8), static_cast<uint8_t>(counter)};
    const auto mask = Sha256({out.h, c});
    for (size_t i = 0; i < kHashBytes && counter * kHashBytes + i < kDbBytes; ++i)
      db[counter * kHashBytes + i] ^= mask[i];
  }
  db[0] &= 0x7f;  // the bit above the modulus's 2047 bits
  const size_t separator = kDbBytes - kSaltBytes - 1;
  for (size_t i = 0; i < separator; ++i)
    if (db[i] != 0) return Bad("does not match (PSS padding is not zero)");
  if (db[separator] != 0x01) return Bad("does not match (no PSS separator 0x01)");
  out.salt.assign(db.begin() + separator + 1, db.end());
  return out;
}

Status VerifyCdiffSignature(std::span<const uint8_t> sha256, std::string_view dsig,
                            const ClamavPublicKey& key) {
  if (sha256.size() != kHashBytes) return Bad("the digest is not 32 bytes of SHA-256");
  ASSIGN_OR_RETURN(PssRecovered r, RecoverCdiffPss(dsig, key));
  static constexpr uint8_t kZeros[8] = {};
  const auto h = Sha256({kZeros, sha256, r.salt});
  if (CRYPTO_memcmp(h.data(), r.h.data(), kHashBytes) != 0)
    return Bad("does not match the SHA-256 of the file (tampered, or not signed by this key)");
  return {};
}

}  // namespace seccloud::scan
