#pragma once
// Private helpers shared by the tls_*.cc files; not part of the net module's interface.

#include <openssl/asn1.h>
#include <openssl/bio.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "net/tls.h"

namespace seccloud::net::tls_internal {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

// Drains OpenSSL's thread-local error queue into "what: reason; reason".
std::string OpenSslErrors(std::string_view what);
Error OpenSslError(Errc code, std::string_view what);

std::chrono::system_clock::time_point Now(const TlsClock& clock);
// Returns false when `t` cannot be read.
bool ToTimePoint(const ASN1_TIME* t, std::chrono::system_clock::time_point* out);

std::string CertificatePem(X509* cert);

// Reads at most `limit` bytes; a longer file is kInvalidArgument.
Result<std::string> ReadSmallFile(const fs::path& path, size_t limit);
// Writes `data` to `path` through a synced temporary file in the same directory and a rename.
Status WriteFileAtomic(const fs::path& path, std::string_view data, unsigned mode);

// Checks what a CA used for interception must satisfy at `now`.
Status ValidateCaPair(X509* cert, EVP_PKEY* key, std::chrono::system_clock::time_point now);

inline constexpr size_t kMaxPemBytes = 64 * 1024;

}  // namespace seccloud::net::tls_internal
