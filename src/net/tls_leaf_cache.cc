// Leaf certificates minted per destination and the LRU cache of server contexts (R9).

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <list>
#include <mutex>
#include <unordered_map>

#include "core/ip.h"
#include "net/tls.h"
#include "net/tls_internal.h"

namespace seccloud::net {
namespace {

using namespace tls_internal;

Status AddExt(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError(Errc::kInternal, "leaf extension " + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return OpenSslError(Errc::kInternal, "X509_add_ext");
  return {};
}

// Offers only HTTP/1.1: the proxy's inspection path speaks HTTP/1.1 to the client. A client that
// offers ALPN without http/1.1 gets no ALPN (not a fatal alert) and may still speak HTTP/1.1.
int SelectHttp11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                 unsigned int inlen, void*) {
  static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

Result<std::shared_ptr<SSL_CTX>> BuildServerContext(const InterceptionCa& ca, X509* leaf,
                                                    EVP_PKEY* key) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return OpenSslError(Errc::kInternal, "SSL_CTX_new");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate(c, leaf) != 1 || SSL_CTX_use_PrivateKey(c, key) != 1 ||
      SSL_CTX_check_private_key(c) != 1)
    return OpenSslError(Errc::kInternal, "configuring the interception server context");
  // An imported organisation CA may itself be an intermediate; clients then need it in the chain.
  if (X509_check_issued(ca.certificate(), ca.certificate()) != X509_V_OK &&
      SSL_CTX_add1_chain_cert(c, ca.certificate()) != 1)
    return OpenSslError(Errc::kInternal, "adding the CA to the chain");
  SSL_CTX_set_options(
      c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // With the server's preference, AES-128-GCM (the cheapest AEAD with AES-NI, browsers' own
  // first choice) wins over OpenSSL's default AES-256-GCM; every default suite stays available.
  if (SSL_CTX_set_ciphersuites(
          c, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1 ||
      SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256:DEFAULT") != 1)
    return OpenSslError(Errc::kInternal, "cipher preferences");
  SSL_CTX_set_alpn_select_cb(c, SelectHttp11, nullptr);
  return ctx;
}

class LeafCertCacheImpl final : public LeafCertCache {
 public:
  LeafCertCacheImpl(std::shared_ptr<const InterceptionCa> ca, LeafCacheOptions options,
                    EvpPkeyPtr key)
      : ca_(std::move(ca)), options_(std::move(options)), key_(std::move(key)) {}

  Result<std::shared_ptr<SSL_CTX>> ServerContextFor(std::string_view sni_or_ip) override {
    ASSIGN_OR_RETURN(std::string name, CanonicalServerName(sni_or_ip));
    const auto now = Now(options_.clock);
    {
      std::lock_guard lock(mu_);
      auto it = index_.find(name);
      // A leaf within an hour of its end is replaced, so no handshake presents an expiring one.
      if (it != index_.end() && it->second->not_after > now + std::chrono::hours(1)) {
        lru_.splice(lru_.begin(), lru_, it->second);
        ++stats_.hits;
        return it->second->ctx;
      }
      ++stats_.misses;
    }
    ASSIGN_OR_RETURN(X509Ptr leaf,
                     MintLeafCertificate(*ca_, key_.get(), name, now, options_.max_validity));
    std::chrono::system_clock::time_point not_after;
    ToTimePoint(X509_get0_notAfter(leaf.get()), &not_after);
    ASSIGN_OR_RETURN(std::shared_ptr<SSL_CTX> ctx,
                     BuildServerContext(*ca_, leaf.get(), key_.get()));

    std::lock_guard lock(mu_);
    auto it = index_.find(name);
    if (it != index_.end()) {
      it->second->ctx = ctx;
      it->second->not_after = not_after;
      lru_.splice(lru_.begin(), lru_, it->second);
      return ctx;
    }
    lru_.push_front(Entry{name, ctx, not_after});
    index_.emplace(std::move(name), lru_.begin());
    while (lru_.size() > options_.max_entries) {
      index_.erase(lru_.back().name);
      lru_.pop_back();
      ++stats_.evictions;
    }
    return ctx;
  }

  Stats stats() const override {
    std::lock_guard lock(mu_);
    Stats s = stats_;
    s.entries = lru_.size();
    return s;
  }

 private:
  struct Entry {
    std::string name;
    std::shared_ptr<SSL_CTX> ctx;
    std::chrono::system_clock::time_point not_after;
  };

  const std::shared_ptr<const InterceptionCa> ca_;
  const LeafCacheOptions options_;
  const EvpPkeyPtr key_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first; guarded by mu_
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  Stats stats_;                                                        // guarded by mu_
};

}  // namespace

Result<X509Ptr> MintLeafCertificate(const InterceptionCa& ca, EVP_PKEY* leaf_key,
                                    std::string_view canonical_name,
                                    std::chrono::system_clock::time_point now,
                                    std::chrono::days max_validity) {
  const bool is_ip = IpAddress::Parse(canonical_name).has_value();
  if (now + std::chrono::hours(1) >= ca.not_after())
    return MakeError(
        Errc::kUnavailable,
        "the interception CA expires within the hour; install a new one before minting more");
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError(Errc::kInternal, "X509_new");
  X509* c = cert.get();

  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return OpenSslError(Errc::kInternal, "RAND_bytes");
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7f) | 0x40);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr),
                                                 BN_free);
  time_t start = std::chrono::system_clock::to_time_t(now - std::chrono::hours(1));
  time_t end = std::chrono::system_clock::to_time_t(std::min(ca.not_after(), now + max_validity));
  const std::string name(canonical_name);
  X509_NAME* subject = X509_get_subject_name(c);
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(c)) == nullptr ||
      X509_set_version(c, X509_VERSION_3) != 1 ||
      X509_time_adj_ex(X509_getm_notBefore(c), 0, 0, &start) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(c), 0, 0, &end) == nullptr ||
      X509_set_issuer_name(c, X509_get_subject_name(ca.certificate())) != 1 ||
      X509_set_pubkey(c, leaf_key) != 1)
    return OpenSslError(Errc::kInternal, "building a leaf certificate");
  // The CN is informational (clients match the subjectAltName) and limited to 64 bytes.
  if (name.size() <= 64 &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1,
                                 0) != 1)
    return OpenSslError(Errc::kInternal, "leaf subject");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.certificate(), c, nullptr, nullptr, 0);
  // `name` passed CanonicalServerName: LDH or an IP literal, so it cannot inject ',' or ':'
  // into the extension's configuration syntax.
  RETURN_IF_ERROR(AddExt(c, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(AddExt(c, &ctx, NID_key_usage, "critical,digitalSignature"));
  RETURN_IF_ERROR(AddExt(c, &ctx, NID_ext_key_usage, "serverAuth"));
  RETURN_IF_ERROR(AddExt(c, &ctx, NID_subject_alt_name, (is_ip ? "IP:" : "DNS:") + name));
  RETURN_IF_ERROR(AddExt(c, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(c, ca.key(), EVP_sha256()) == 0)
    return OpenSslError(Errc::kInternal, "signing a leaf certificate");
  return cert;
}

Result<std::unique_ptr<LeafCertCache>> LeafCertCache::Create(
    std::shared_ptr<const InterceptionCa> ca, LeafCacheOptions options) {
  if (!ca) return MakeError(Errc::kInvalidArgument, "no interception CA");
  if (options.max_entries == 0)
    return MakeError(Errc::kInvalidArgument, "leaf cache needs room for at least one entry");
  if (options.max_validity < std::chrono::days(1))
    return MakeError(Errc::kInvalidArgument, "leaf validity must be at least one day");
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError(Errc::kInternal, "generating the leaf key");
  return std::unique_ptr<LeafCertCache>(
      std::make_unique<LeafCertCacheImpl>(std::move(ca), std::move(options), std::move(key)));
}

}  // namespace seccloud::net
