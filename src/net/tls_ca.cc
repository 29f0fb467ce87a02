// The interception CA: creation, import of an organisation's CA, loading (R9).

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "net/tls.h"
#include "net/tls_internal.h"

namespace seccloud::net {
namespace tls_internal {

std::string OpenSslErrors(std::string_view what) {
  std::string out(what);
  char buf[256];
  bool first = true;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

Error OpenSslError(Errc code, std::string_view what) {
  return MakeError(code, OpenSslErrors(what));
}

std::chrono::system_clock::time_point Now(const TlsClock& clock) {
  return clock ? clock() : std::chrono::system_clock::now();
}

bool ToTimePoint(const ASN1_TIME* t, std::chrono::system_clock::time_point* out) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return false;
  const time_t secs = timegm(&tm);
  *out = std::chrono::system_clock::from_time_t(secs);
  return true;
}

std::string CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

Result<std::string> ReadSmallFile(const fs::path& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return ErrnoError(path.string(), errno);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError(path.string(), err);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > limit) {
      ::close(fd);
      return MakeError(Errc::kInvalidArgument,
                       path.string() + ": larger than " + std::to_string(limit) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status WriteFileAtomic(const fs::path& path, std::string_view data, unsigned mode) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return ErrnoError(tmp.string(), errno);
  auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return ErrnoError(tmp.string(), err);
  };
  // The umask may have narrowed `mode`; a key must end up exactly as asked, never wider.
  if (::fchmod(fd, mode) != 0) return fail(errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail(errno);
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(tmp.string(), err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(path.string(), err);
  }
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Status ValidateCaPair(X509* cert, EVP_PKEY* key, std::chrono::system_clock::time_point now) {
  // X509_check_ca also accepts v1 self-signed certificates; an interception CA must say CA:TRUE.
  if ((X509_get_extension_flags(cert) & EXFLAG_CA) == 0)
    return MakeError(Errc::kInvalidArgument,
                     "certificate is not a CA: it lacks basicConstraints CA:TRUE");
  if ((X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) == 0)
    return MakeError(Errc::kInvalidArgument,
                     "certificate is not a CA: its keyUsage does not allow keyCertSign");
  if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    return MakeError(Errc::kInvalidArgument, "the private key does not belong to the certificate");
  }
  std::chrono::system_clock::time_point not_before, not_after;
  if (!ToTimePoint(X509_get0_notBefore(cert), &not_before) ||
      !ToTimePoint(X509_get0_notAfter(cert), &not_after))
    return MakeError(Errc::kInvalidArgument, "certificate validity dates are unreadable");
  if (now >= not_after) return MakeError(Errc::kInvalidArgument, "CA certificate has expired");
  if (now < not_before) return MakeError(Errc::kInvalidArgument, "CA certificate is not yet valid");
  return {};
}

}  // namespace tls_internal

namespace {

using namespace tls_internal;

constexpr size_t kMaxNameLine = 1024;

std::string NameLine(const X509_NAME* name) {
  if (name == nullptr) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  // RFC 2253 order and escaping, but UTF-8 kept as is (Japanese issuer names stay readable).
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, std::min<size_t>(n > 0 ? static_cast<size_t>(n) : 0, kMaxNameLine));
}

int NoPassword(char*, int, int, void*) { return -1; }  // never prompt on a terminal

bool ValidNode(std::string_view node) {
  if (node.size() > 32) return false;
  for (char c : node)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
      return false;
  return true;
}

Result<EvpPkeyPtr> GenerateKey(CaKeyType type) {
  EvpPkeyPtr key(type == CaKeyType::kRsa3072 ? EVP_RSA_gen(3072) : EVP_EC_gen("P-256"));
  if (!key) return OpenSslError(Errc::kInternal, "key generation failed");
  return key;
}

Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return OpenSslError(Errc::kInternal, "RAND_bytes");
  bytes[0] &= 0x7f;  // positive
  bytes[0] |= 0x40;  // and 16 bytes long: no leading zero octet
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(bytes, sizeof bytes, nullptr), BN_free);
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr)
    return OpenSslError(Errc::kInternal, "serial number");
  return {};
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr) return OpenSslError(Errc::kInternal, std::string("extension ") + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return OpenSslError(Errc::kInternal, "X509_add_ext");
  return {};
}

Status CheckTarget(const fs::path& dir, bool force) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return MakeError(Errc::kIo, dir.string() + ": " + ec.message());
  if (!force) {
    for (const char* name : {kCaCertFile, kCaKeyFile}) {
      if (fs::exists(fs::symlink_status(dir / name, ec)))
        return MakeError(
            Errc::kAlreadyExists,
            (dir / name).string() + " exists; refusing to replace the interception CA (use force)");
    }
  }
  return {};
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return OpenSslError(Errc::kInternal, "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, n > 0 ? static_cast<size_t>(n) : 0);
  OPENSSL_cleanse(data, n > 0 ? static_cast<size_t>(n) : 0);
  return pem;
}

// The key goes first: a crash between the two renames leaves a key without a certificate, which
// Load refuses and InitCa(force) repairs, rather than a certificate paired with a stale key.
Status WriteCa(const fs::path& dir, X509* cert, EVP_PKEY* key) {
  ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key));
  Status s = WriteFileAtomic(dir / kCaKeyFile, key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!s) return s;
  return WriteFileAtomic(dir / kCaCertFile, CertificatePem(cert), 0644);
}

Result<X509Ptr> ParseCertPem(std::string_view pem, const std::string& what) {
  if (pem.size() > kMaxPemBytes) return MakeError(Errc::kInvalidArgument, what + ": too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr) : nullptr);
  if (!cert) return OpenSslError(Errc::kInvalidArgument, what + ": not a PEM certificate");
  return cert;
}

Result<EvpPkeyPtr> ParseKeyPem(std::string_view pem, const std::string& what) {
  if (pem.size() > kMaxPemBytes) return MakeError(Errc::kInvalidArgument, what + ": too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr) : nullptr);
  if (!key)
    return OpenSslError(Errc::kInvalidArgument, what + ": not an unencrypted PEM private key");
  return key;
}

}  // namespace

Status InitCa(const fs::path& dir, const CaOptions& options) {
  if (!ValidNode(options.node))
    return MakeError(Errc::kInvalidArgument,
                     "CA node name must be at most 32 letters, digits, '-', '.', '_'");
  if (options.validity < std::chrono::days(1) || options.validity > std::chrono::days(36500))
    return MakeError(Errc::kInvalidArgument, "CA validity must be between 1 and 36500 days");
  RETURN_IF_ERROR(CheckTarget(dir, options.force));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey(options.key_type));

  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError(Errc::kInternal, "X509_new");
  const auto now = Now(options.clock);
  time_t start = std::chrono::system_clock::to_time_t(now - std::chrono::hours(1));
  time_t end = std::chrono::system_clock::to_time_t(now + options.validity);
  std::string cn = "seccloud interception CA";
  if (!options.node.empty()) cn += " " + options.node;
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 || !SetRandomSerial(cert.get()) ||
      X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &start) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, 0, &end) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("seccloud"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1)
    return OpenSslError(Errc::kInternal, "building the CA certificate");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return OpenSslError(Errc::kInternal, "signing the CA certificate");
  return WriteCa(dir, cert.get(), key.get());
}

Status ImportCa(std::string_view cert_pem, std::string_view key_pem, const fs::path& dir,
                bool force, const TlsClock& clock) {
  ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(cert_pem, "imported CA certificate"));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, ParseKeyPem(key_pem, "imported CA key"));
  Status valid = ValidateCaPair(cert.get(), key.get(), Now(clock));
  if (!valid) return MakeError(valid.error().code, "imported CA refused: " + valid.error().message);
  RETURN_IF_ERROR(CheckTarget(dir, force));
  return WriteCa(dir, cert.get(), key.get());
}

InterceptionCa::InterceptionCa(X509Ptr cert, EvpPkeyPtr key)
    : cert_(std::move(cert)), key_(std::move(key)) {
  ToTimePoint(X509_get0_notAfter(cert_.get()), &not_after_);
}

Result<std::shared_ptr<const InterceptionCa>> InterceptionCa::Load(const fs::path& dir) {
  const fs::path key_path = dir / kCaKeyFile;
  struct stat st {};
  if (::stat(key_path.c_str(), &st) != 0) return ErrnoError(key_path.string(), errno);
  if ((st.st_mode & 077) != 0)
    return MakeError(Errc::kPermissionDenied,
                     key_path.string() + " is readable by group or others; chmod 600 it");
  ASSIGN_OR_RETURN(std::string cert_pem, ReadSmallFile(dir / kCaCertFile, kMaxPemBytes));
  ASSIGN_OR_RETURN(std::string key_pem, ReadSmallFile(key_path, kMaxPemBytes));
  auto key = ParseKeyPem(key_pem, key_path.string());
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!key) return key.error();
  ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(cert_pem, (dir / kCaCertFile).string()));
  Status valid = ValidateCaPair(cert.get(), key->get(), std::chrono::system_clock::now());
  if (!valid) return MakeError(valid.error().code, dir.string() + ": " + valid.error().message);
  return std::shared_ptr<const InterceptionCa>(
      new InterceptionCa(std::move(cert), std::move(*key)));
}

std::string IssuerLine(X509* cert) { return cert ? NameLine(X509_get_issuer_name(cert)) : ""; }
std::string SubjectLine(X509* cert) { return cert ? NameLine(X509_get_subject_name(cert)) : ""; }

std::string InterceptionCa::CertificatePem() const {
  return tls_internal::CertificatePem(cert_.get());
}

std::string InterceptionCa::SubjectName() const { return SubjectLine(cert_.get()); }

}  // namespace seccloud::net
