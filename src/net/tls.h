#pragma once
// TLS for the forward proxy (row R9 "TLS decryption"): the interception CA, the leaf certificates
// it mints per destination, verification of the real upstream certificate, and a bounds-checked
// ClientHello peek used to decide between interception and splicing before any TLS is spoken.

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/tls_stream.h"

namespace seccloud::net {

namespace fs = std::filesystem;

// RAII owners for the OpenSSL objects this module hands out.
struct OpenSslFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslFree>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, OpenSslFree>;

// Wall clock, injectable so tests can mint and verify at chosen instants.
using TlsClock = std::function<std::chrono::system_clock::time_point()>;

// ---------------------------------------------------------------------------------------------
// Interception CA

enum class CaKeyType { kEcdsaP256, kRsa3072 };

struct CaOptions {
  std::string node{};  // subject CN becomes "seccloud interception CA <node>"; at most 32 bytes
  CaKeyType key_type = CaKeyType::kEcdsaP256;
  std::chrono::days validity{3650};
  bool force = false;  // replace an existing CA in `dir`
  TlsClock clock{};    // empty: system clock
};

// File names inside a CA directory. The key is written with mode 0600.
inline constexpr char kCaCertFile[] = "ca.pem";
inline constexpr char kCaKeyFile[] = "ca.key";

// Creates a new CA key and self-signed certificate in `dir` (created if missing). Each file is
// written to a temporary name, synced and renamed, so a crash leaves either the old file or the
// new one. Refuses (kAlreadyExists) when either file exists, unless options.force.
Status InitCa(const fs::path& dir, const CaOptions& options);

// Installs an organisation's own CA (PEM certificate and unencrypted PEM private key) in `dir`
// after checking that it is a CA (basicConstraints CA:TRUE; keyCertSign if keyUsage is present),
// that the key belongs to the certificate, and that it is valid now. `force` as in CaOptions.
Status ImportCa(std::string_view cert_pem, std::string_view key_pem, const fs::path& dir,
                bool force = false, const TlsClock& clock = {});

// A loaded CA: immutable, shared by every LeafCertCache built from it.
class InterceptionCa {
 public:
  static Result<std::shared_ptr<const InterceptionCa>> Load(const fs::path& dir);

  X509* certificate() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }
  std::chrono::system_clock::time_point not_after() const { return not_after_; }
  // The certificate in PEM, for tenants to install as a trusted root.
  std::string CertificatePem() const;
  std::string SubjectName() const;  // RFC 2253

 private:
  InterceptionCa(X509Ptr cert, EvpPkeyPtr key);
  X509Ptr cert_;
  EvpPkeyPtr key_;
  std::chrono::system_clock::time_point not_after_;
};

// ---------------------------------------------------------------------------------------------
// Leaf certificates minted on the fly

// Checks a name a client asked for (SNI, CONNECT host): an IPv4/IPv6 literal, or a host name of
// at most 253 bytes made of 1..63-byte LDH labels (letters, digits, hyphen, not at either end of
// a label) whose last label is not all digits. Returns the canonical form (lower case) or
// kInvalidArgument. No trailing dot, no wildcard, no underscore.
Result<std::string> CanonicalServerName(std::string_view name);

struct LeafCacheOptions {
  size_t max_entries = 10'000;
  std::chrono::days max_validity{397};  // CA/Browser Forum limit for server certificates
  TlsClock clock{};                     // empty: system clock
};

// Server SSL_CTXs for intercepted connections, one per destination name, each presenting a leaf
// certificate minted by the CA for that name. All leaves share one ECDSA P-256 key generated in
// memory when the cache is created (never written to disk), as other interception proxies do:
// a per-leaf key costs a key generation per miss and protects nothing, since the CA key that
// signs every leaf sits beside it in the same process.
//
// Thread safe. Holds at most max_entries contexts, evicting the least recently used; a handed
// out context stays valid while its shared_ptr lives. Minting happens outside the lock, so two
// threads missing on the same name at once may both mint; one result is kept.
class LeafCertCache {
 public:
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;  // each miss mints a certificate
    uint64_t evictions = 0;
    size_t entries = 0;
  };

  virtual ~LeafCertCache() = default;
  static Result<std::unique_ptr<LeafCertCache>> Create(std::shared_ptr<const InterceptionCa> ca,
                                                       LeafCacheOptions options = {});

  // A TLS 1.2+ server context presenting a leaf for `sni_or_ip` (see CanonicalServerName; an
  // invalid name is kInvalidArgument and mints nothing). ALPN selects "http/1.1" only.
  virtual Result<std::shared_ptr<SSL_CTX>> ServerContextFor(std::string_view sni_or_ip) = 0;
  virtual Stats stats() const = 0;
};

// Mints one leaf without a cache (used by LeafCertCache, exposed for tests and benchmarks).
Result<X509Ptr> MintLeafCertificate(const InterceptionCa& ca, EVP_PKEY* leaf_key,
                                    std::string_view canonical_name,
                                    std::chrono::system_clock::time_point now,
                                    std::chrono::days max_validity);

// ---------------------------------------------------------------------------------------------
// Upstream (origin) certificate verification

enum class UpstreamCertProblem {
  kNone,
  kExpired,
  kNotYetValid,
  kSelfSigned,       // the server's own certificate is self-signed
  kUntrustedRoot,    // the chain ends in a root that is not in the trust store
  kIncompleteChain,  // the server did not send the intermediate its certificate needs
  kWrongHost,        // the certificate does not name the host (or IP) we connected to
  kRevoked,          // only reported when a CRL covering the issuer is loaded
  kOther,            // any other verification failure (bad signature, bad purpose, ...)
};

const char* UpstreamCertProblemName(UpstreamCertProblem problem);  // "expired", "wrong_host", ...
// Maps an X509_V_ERR_* code seen at `depth` (0 = the server's certificate) to a problem class.
UpstreamCertProblem ClassifyVerifyError(long x509_error, int depth);

struct UpstreamCertReport {
  UpstreamCertProblem problem = UpstreamCertProblem::kOther;  // the first problem found
  long x509_error = 0;                                        // X509_V_ERR_* of that problem
  int depth = -1;                                             // where in the chain it was found
  std::vector<UpstreamCertProblem> all;  // every distinct problem, in the order found
  std::string subject;                   // RFC 2253, of the server's certificate
  std::string issuer;                    // RFC 2253, for the access log field tls.server.issuer
  std::string host;                      // the name or IP literal that was verified
  // The handshake resumed a session of an earlier connection to this host and port whose
  // certificate verified then (no certificate was sent this time; subject and issuer are the
  // ones verified then). Only verified sessions are ever resumed.
  bool resumed = false;

  // One sentence for a block page or a log line, naming the host and the problem.
  std::string Sentence() const;
};

struct UpstreamTlsOptions {
  bool use_system_trust_store = true;    // /etc/ssl/certs via SSL_CTX_set_default_verify_paths
  std::vector<fs::path> extra_ca_files;  // PEM bundles added to the trust store (tests)
  std::vector<fs::path> crl_files;       // PEM CRLs; when set, revocation is checked
  std::chrono::milliseconds handshake_timeout{10'000};
  // TLS session resumption with origins (tickets or session ids): at most this many host:port
  // keys (least recently used evicted), each with at most 8 sessions; 0 turns resumption off.
  // A session is stored only from a connection whose certificate verified for that exact name
  // (or IP literal), is offered only to the same name and port (unused sessions first, the
  // newest again when all were offered), and never after session_lifetime, the server's
  // lifetime hint or the verified certificate's notAfter.
  size_t session_cache_size = 1'000;
  std::chrono::seconds session_lifetime{600};
  TlsClock clock{};  // empty: system clock (session expiry only; verification uses the real time)
};

// A TLS connection to an origin whose handshake has completed. The certificate verdict comes
// with it, and the stream is only reachable by acting on that verdict: Trusted() refuses unless
// the certificate verified, AcceptDespite() needs the exact problem the caller decided to accept
// (a tenant's exception), so no code path passes a bad certificate by accident.
class UpstreamConnection {
 public:
  // Over Beast's tcp_stream so that users can put deadlines on every read and write
  // (beast::get_lowest_layer(stream).expires_after(...)); see tls_stream.h.
  using Stream = TlsStream;

  UpstreamConnection() = default;  // no stream: every accessor refuses
  UpstreamConnection(std::shared_ptr<Stream> stream, UpstreamCertReport report)
      : stream_(std::move(stream)), report_(std::move(report)) {}

  const UpstreamCertReport& report() const { return report_; }
  bool verified() const { return stream_ && report_.problem == UpstreamCertProblem::kNone; }
  // The stream when the certificate verified; otherwise kPermissionDenied with report().Sentence().
  Result<Stream*> Trusted();
  // The stream when the only problems found are in `accepted`; otherwise as Trusted().
  Result<Stream*> AcceptDespite(std::span<const UpstreamCertProblem> accepted);
  std::string negotiated_alpn() const;

 private:
  std::shared_ptr<Stream> stream_;
  UpstreamCertReport report_;
};

class UpstreamSessionCache;  // tls_verify.cc

// Thread safe: one instance serves every worker thread.
class UpstreamTls {
 public:
  struct SessionStats {
    uint64_t full = 0;     // handshakes that verified a certificate chain
    uint64_t resumed = 0;  // handshakes that resumed a verified session
    uint64_t stored = 0;   // sessions stored for resumption
    size_t entries = 0;    // host:port keys held
  };

  static Result<std::unique_ptr<UpstreamTls>> Create(UpstreamTlsOptions options = {});
  ~UpstreamTls();

  // Runs a TLS client handshake over `socket` for `host` (a DNS name or IP literal; validated
  // as CanonicalServerName): SNI for names, hostname or IP verification, TLS 1.2 minimum,
  // ALPN "http/1.1". A handshake that completes with a bad certificate is a value with a report,
  // not an error; errors are transport failures, timeouts and handshake failures.
  boost::asio::awaitable<Result<UpstreamConnection>> Handshake(boost::beast::tcp_stream stream,
                                                               std::string_view host);
  boost::asio::awaitable<Result<UpstreamConnection>> Handshake(boost::asio::ip::tcp::socket socket,
                                                               std::string_view host) {
    return Handshake(boost::beast::tcp_stream(std::move(socket)), host);
  }

  SSL_CTX* native_context() const { return ctx_.get(); }
  SessionStats session_stats() const;

 private:
  UpstreamTls(SslCtxPtr ctx, UpstreamTlsOptions options,
              std::shared_ptr<UpstreamSessionCache> sessions);
  SslCtxPtr ctx_;
  UpstreamTlsOptions options_;
  // Shared with the SSL objects of live connections, which store TLS 1.3 tickets arriving after
  // the handshake; null when resumption is off.
  std::shared_ptr<UpstreamSessionCache> sessions_;
};

// The issuer of `cert` as one RFC 2253 line (UTF-8 kept, control characters escaped), at most
// 1024 bytes.
std::string IssuerLine(X509* cert);
std::string SubjectLine(X509* cert);

// ---------------------------------------------------------------------------------------------
// ClientHello peek (for splicing without interception)

struct ClientHelloInfo {
  std::optional<std::string> server_name;  // canonical (lower case); absent without SNI
  std::vector<std::string> alpn;           // protocols in the client's order; at most 32
  uint16_t legacy_version = 0;             // 0x0303 for TLS 1.2 and 1.3 clients
};

struct ClientHelloPeek {
  bool need_more = false;  // the bytes so far are a valid prefix; read more and call again
  ClientHelloInfo info;    // set when !need_more
};

// Parses the first TLS records a client sent, which must carry a ClientHello (possibly split
// over several records; the handshake message is limited to 64 KiB). Every length is checked
// against its enclosing length; malformed input is kInvalidArgument, never a crash or a read
// past `bytes`. An SNI that is not a valid host name is refused (kInvalidArgument).
Result<ClientHelloPeek> PeekClientHello(std::span<const uint8_t> bytes);

// The server_name alone: nullopt when the ClientHello has none; kUnavailable ("need more") when
// `record` is an incomplete prefix, kInvalidArgument when it is malformed.
Result<std::optional<std::string>> ParseClientHelloSni(std::span<const uint8_t> record);

}  // namespace seccloud::net
