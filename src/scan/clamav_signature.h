#pragma once
// ClamAV's digital signatures (R7, R8), verified with OpenSSL's BIGNUM instead of libclamav,
// which keeps its verifiers private (dsig.c, CLAMAV_PRIVATE):
//   - the CVD header's signature (libclamav's cli_versig): the 16-byte MD5 of the archive raised
//     to ClamAV's private exponent; verification is c^e mod n == MD5.
//   - the .cdiff signature (cli_versig2): RSA-PSS over SHA-256 with a 2048-bit key, MGF1-SHA-256,
//     a 32-byte salt and the 0xbc trailer, over every byte of the .cdiff before its last ':'.
// Both encode the signature integer in ClamAV's own base 64: the alphabet a-z A-Z 0-9 + /, least
// significant digit first (not RFC 4648 base64).
//
// The keys are ClamAV's public keys as its sources hold them (modulus and exponent in decimal).
// They are parameters so that tests can sign with a key of their own; nothing in the
// configuration can replace them (a mirror that signs its own databases publishes unsigned
// containers and needs allow_unsigned instead).
//
// Pure functions over untrusted input, safe from any thread.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace seccloud::scan {

struct ClamavPublicKey {
  std::string_view modulus_decimal;
  std::string_view exponent_decimal;
};

// libclamav dsig.c CLI_NSTR / CLI_ESTR: the key of the CVD header signature (1024 bits).
extern const ClamavPublicKey kClamavCvdKey;
// ClamAV's cdiff.c / cdiff.rs PSS_NSTR / PSS_ESTR: the key of .cdiff signatures (2048 bits).
extern const ClamavPublicKey kClamavCdiffKey;

// A signature string longer than this is refused before any arithmetic (a 2048-bit integer
// needs 342 digits; ClamAV reads at most 350 bytes of a .cdiff's signature).
inline constexpr size_t kMaxClamavSignatureChars = 350;

// The integer a signature string encodes, big-endian, without leading zero bytes.
Result<std::vector<uint8_t>> DecodeClamavSignature(std::string_view text);
// The inverse, for tests and tools that sign: `big_endian` may carry leading zeros.
std::string EncodeClamavSignature(std::span<const uint8_t> big_endian);

// cli_versig: `md5_hex` (32 hex digits, as in the CVD header) against the header's `dsig`.
// Stricter than libclamav in two ways that no genuine signature trips: the signature integer
// must be below the modulus, and c^e mod n must equal the MD5 exactly (libclamav compares only
// its low 16 bytes).
Status VerifyCvdSignature(std::string_view md5_hex, std::string_view dsig,
                          const ClamavPublicKey& key = kClamavCvdKey);

// The parts of a PSS-encoded message a .cdiff signature carries, recovered with the public key:
// H = SHA-256(0^8 || message hash || salt), and the salt. Exposed so a test can check a genuine
// ClamAV .cdiff signature whose file is not at hand (the padding must decode exactly).
struct PssRecovered {
  std::vector<uint8_t> h;     // 32 bytes
  std::vector<uint8_t> salt;  // 32 bytes
};
Result<PssRecovered> RecoverCdiffPss(std::string_view dsig,
                                     const ClamavPublicKey& key = kClamavCdiffKey);

// cli_versig2: `sha256` (32 bytes) against a .cdiff's signature. Stricter than libclamav: the
// bytes before the PSS 0x01 separator must be zero, as RFC 8017 requires.
Status VerifyCdiffSignature(std::span<const uint8_t> sha256, std::string_view dsig,
                            const ClamavPublicKey& key = kClamavCdiffKey);

}  // namespace seccloud::scan
