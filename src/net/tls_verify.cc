// Verification of origin certificates for intercepted connections (R9).

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <list>
#include <mutex>
#include <unordered_map>

#include "core/ip.h"
#include "net/tls.h"
#include "net/tls_internal.h"

namespace seccloud::net {
namespace {

namespace asio = boost::asio;
using namespace tls_internal;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxProblems = 8;

// What the verify callback saw during one handshake. Lives in the Handshake coroutine's frame
// and is reachable from the SSL through ex_data only while the handshake runs.
struct VerifyLog {
  long first_error = X509_V_OK;
  int first_depth = -1;
  std::vector<UpstreamCertProblem> problems;
};

int VerifyLogIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Records every failure and lets the handshake finish, so the caller gets a report to act on
// (block page naming the problem, or a tenant's explicit exception) instead of a bare alert.
int RecordingVerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok) return 1;
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* log = ssl ? static_cast<VerifyLog*>(SSL_get_ex_data(ssl, VerifyLogIndex())) : nullptr;
  if (log == nullptr) return 0;  // no handshake of ours is watching: fail closed
  const long err = X509_STORE_CTX_get_error(store);
  const int depth = X509_STORE_CTX_get_error_depth(store);
  // Soft-fail when no CRL covers an issuer: revocation is only checked where CRLs were loaded.
  if (err == X509_V_ERR_UNABLE_TO_GET_CRL) return 1;
  if (log->first_error == X509_V_OK) {
    log->first_error = err;
    log->first_depth = depth;
  }
  const UpstreamCertProblem p = ClassifyVerifyError(err, depth);
  if (log->problems.size() < kMaxProblems &&
      std::find(log->problems.begin(), log->problems.end(), p) == log->problems.end())
    log->problems.push_back(p);
  return 1;
}

}  // namespace

// Sessions of origins whose certificate verified, for resumption (UpstreamTlsOptions). A full
// handshake to an origin costs a key exchange, the server's signature check and the chain's
// verification; a resumed one only the key exchange (TLS 1.3 psk_dhe_ke keeps forward secrecy).
// Thread safe.
class UpstreamSessionCache {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  // TLS 1.3 servers send two tickets after a full handshake and one after a resumed one.
  static constexpr size_t kSessionsPerKey = 8;

  UpstreamSessionCache(size_t max_keys, std::chrono::seconds lifetime, TlsClock clock)
      : max_keys_(max_keys), lifetime_(lifetime), clock_(std::move(clock)) {}

  TimePoint Now() const { return tls_internal::Now(clock_); }

  // A session to offer for `key` (a new reference), or null when none is usable. Unused sessions
  // go first, newest first (RFC 8446 C.4: a client should not reuse a ticket); when every held
  // one has been offered, the newest is offered again rather than falling back to a full
  // handshake: with many connections to one origin at once, each returning one ticket, the
  // unused ones run out. A server that refuses a reused ticket gets a full handshake, which
  // verifies the certificate as any other.
  SslSessionPtr Take(const std::string& key) {
    const TimePoint now = Now();
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    std::vector<Held>& held = it->second->sessions;
    std::erase_if(held, [&](const Held& h) {
      return h.usable_until <= now || SSL_SESSION_is_resumable(h.session.get()) != 1;
    });
    if (held.empty()) {
      lru_.erase(it->second);
      index_.erase(it);
      return nullptr;
    }
    auto pick = std::find_if(held.rbegin(), held.rend(), [](const Held& h) { return !h.offered; });
    if (pick == held.rend()) pick = held.rbegin();
    pick->offered = true;
    SSL_SESSION_up_ref(pick->session.get());
    return SslSessionPtr(pick->session.get());
  }

  // Takes ownership of `session`, a session of a connection whose certificate verified for the
  // name in `key`.
  void Put(const std::string& key, SslSessionPtr session) {
    const TimePoint now = Now();
    if (!session || SSL_SESSION_is_resumable(session.get()) != 1) return;
    X509* peer = SSL_SESSION_get0_peer(session.get());
    TimePoint not_after;
    if (peer == nullptr || !tls_internal::ToTimePoint(X509_get0_notAfter(peer), &not_after)) return;
    // Until the earliest of our own bound, the server's lifetime hint and the certificate's end:
    // a resumed handshake sends no certificate, so an expired one must not ride on a session.
    const auto server_end = std::chrono::system_clock::from_time_t(static_cast<time_t>(
        SSL_SESSION_get_time(session.get()) + SSL_SESSION_get_timeout(session.get())));
    const TimePoint until = std::min({now + lifetime_, server_end, not_after});
    if (until <= now) return;
    stored_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      lru_.push_front(Entry{key, {}});
      it = index_.emplace(key, lru_.begin()).first;
      while (lru_.size() > max_keys_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
      }
    } else {
      lru_.splice(lru_.begin(), lru_, it->second);
    }
    std::vector<Held>& held = it->second->sessions;
    if (held.size() >= kSessionsPerKey) {  // the oldest offered one goes, else the oldest
      auto victim = std::find_if(held.begin(), held.end(), [](const Held& h) { return h.offered; });
      held.erase(victim != held.end() ? victim : held.begin());
    }
    held.push_back(Held{std::move(session), until, false});
  }

  size_t entries() const {
    std::lock_guard lock(mu_);
    return lru_.size();
  }
  uint64_t stored() const { return stored_.load(std::memory_order_relaxed); }

  std::atomic<uint64_t> full{0};
  std::atomic<uint64_t> resumed{0};

 private:
  struct Held {
    SslSessionPtr session;
    TimePoint usable_until;
    bool offered = false;
  };
  struct Entry {
    std::string key;
    std::vector<Held> sessions;  // oldest first
  };

  const size_t max_keys_;
  const std::chrono::seconds lifetime_;
  const TlsClock clock_;
  std::atomic<uint64_t> stored_{0};
  mutable std::mutex mu_;
  std::list<Entry> lru_;                                               // guarded by mu_
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
};

namespace {

// Where a connection's later sessions go (TLS 1.3 tickets arrive after the handshake, while the
// proxy reads the response). Attached to the SSL only once its certificate verified; owned by
// the SSL through ex_data and freed with it.
struct SessionSlot {
  std::shared_ptr<UpstreamSessionCache> cache;
  std::string key;
};

void FreeSessionSlot(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<SessionSlot*>(ptr);
}

int SessionSlotIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeSessionSlot);
  return index;
}

// OpenSSL's new-session callback: returning 1 keeps the reference it passes.
int StoreNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SessionSlot*>(SSL_get_ex_data(ssl, SessionSlotIndex()));
  if (slot == nullptr) return 0;  // not (yet) a verified connection: nothing is kept
  slot->cache->Put(slot->key, SslSessionPtr(session));
  return 1;
}

}  // namespace

const char* UpstreamCertProblemName(UpstreamCertProblem problem) {
  switch (problem) {
    case UpstreamCertProblem::kNone:
      return "none";
    case UpstreamCertProblem::kExpired:
      return "expired";
    case UpstreamCertProblem::kNotYetValid:
      return "not_yet_valid";
    case UpstreamCertProblem::kSelfSigned:
      return "self_signed";
    case UpstreamCertProblem::kUntrustedRoot:
      return "untrusted_root";
    case UpstreamCertProblem::kIncompleteChain:
      return "incomplete_chain";
    case UpstreamCertProblem::kWrongHost:
      return "wrong_host";
    case UpstreamCertProblem::kRevoked:
      return "revoked";
    case UpstreamCertProblem::kOther:
      return "other";
  }
  return "other";
}

UpstreamCertProblem ClassifyVerifyError(long x509_error, int depth) {
  switch (x509_error) {
    case X509_V_OK:
      return UpstreamCertProblem::kNone;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return UpstreamCertProblem::kExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return UpstreamCertProblem::kNotYetValid;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return UpstreamCertProblem::kSelfSigned;
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return UpstreamCertProblem::kUntrustedRoot;
    // The issuer of the certificate at `depth` was neither sent nor trusted. For the server's own
    // certificate that is, in practice, a missing intermediate (browsers repair it from AIA, we
    // do not); higher up the chain it is an intermediate issued by a root we do not trust.
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return depth <= 0 ? UpstreamCertProblem::kIncompleteChain
                        : UpstreamCertProblem::kUntrustedRoot;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return UpstreamCertProblem::kWrongHost;
    case X509_V_ERR_CERT_REVOKED:
      return UpstreamCertProblem::kRevoked;
    default:
      return UpstreamCertProblem::kOther;
  }
}

std::string UpstreamCertReport::Sentence() const {
  const std::string who = host.empty() ? std::string("the server") : host;
  std::string detail;
  if (x509_error != X509_V_OK)
    detail = std::string(" (") + X509_verify_cert_error_string(x509_error) + ")";
  switch (problem) {
    case UpstreamCertProblem::kNone:
      return "The certificate of " + who + " is valid.";
    case UpstreamCertProblem::kExpired:
      return "The certificate of " + who + " has expired" + detail + ".";
    case UpstreamCertProblem::kNotYetValid:
      return "The certificate of " + who + " is not valid yet; check the server's clock" + detail +
             ".";
    case UpstreamCertProblem::kSelfSigned:
      return "The certificate of " + who + " is self-signed, so nobody vouches for it" + detail +
             ".";
    case UpstreamCertProblem::kUntrustedRoot:
      return "The certificate of " + who +
             " chains to a root that is not trusted (issuer: " + issuer + ")" + detail + ".";
    case UpstreamCertProblem::kIncompleteChain:
      return "The server " + who +
             " did not send the intermediate certificate its certificate needs (issuer: " + issuer +
             ")" + detail + ".";
    case UpstreamCertProblem::kWrongHost:
      return "The certificate presented by " + who + " is for another name (" + subject + ")" +
             detail + ".";
    case UpstreamCertProblem::kRevoked:
      return "The certificate of " + who + " has been revoked by its issuer" + detail + ".";
    case UpstreamCertProblem::kOther:
      return "The certificate of " + who + " failed verification" + detail + ".";
  }
  return "The certificate of " + who + " failed verification.";
}

Result<UpstreamConnection::Stream*> UpstreamConnection::Trusted() { return AcceptDespite({}); }

Result<UpstreamConnection::Stream*> UpstreamConnection::AcceptDespite(
    std::span<const UpstreamCertProblem> accepted) {
  if (!stream_) return MakeError(Errc::kPermissionDenied, "no upstream connection");
  if (!verified()) {
    for (UpstreamCertProblem p : report_.all)
      if (std::find(accepted.begin(), accepted.end(), p) == accepted.end())
        return MakeError(Errc::kPermissionDenied, report_.Sentence());
    // kOther is never accepted through an exception: it covers bad signatures and the like.
    if (report_.all.empty() || std::find(report_.all.begin(), report_.all.end(),
                                         UpstreamCertProblem::kOther) != report_.all.end())
      return MakeError(Errc::kPermissionDenied, report_.Sentence());
  }
  return stream_.get();
}

std::string UpstreamConnection::negotiated_alpn() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  if (!stream_) return {};
  SSL_get0_alpn_selected(const_cast<Stream&>(*stream_).native_handle(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), data ? len : 0);
}

Result<std::unique_ptr<UpstreamTls>> UpstreamTls::Create(UpstreamTlsOptions options) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return OpenSslError(Errc::kInternal, "SSL_CTX_new");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1)
    return OpenSslError(Errc::kInternal, "TLS 1.2 minimum");
  if (options.use_system_trust_store && SSL_CTX_set_default_verify_paths(c) != 1)
    return OpenSslError(Errc::kUnavailable, "system trust store");
  for (const fs::path& file : options.extra_ca_files)
    if (SSL_CTX_load_verify_locations(c, file.c_str(), nullptr) != 1)
      return OpenSslError(Errc::kInvalidArgument, "CA bundle " + file.string());
  if (!options.crl_files.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(c);
    for (const fs::path& file : options.crl_files) {
      X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
      if (lookup == nullptr || X509_load_crl_file(lookup, file.c_str(), X509_FILETYPE_PEM) <= 0)
        return OpenSslError(Errc::kInvalidArgument, "CRL file " + file.string());
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, RecordingVerifyCallback);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(c, kAlpn, sizeof kAlpn) != 0)
    return OpenSslError(Errc::kInternal, "ALPN");
  // AES-128-GCM first (origins mostly honour the client's order): the cheapest AEAD with AES-NI,
  // as browsers order it. Every suite of OpenSSL's default stays offered.
  if (SSL_CTX_set_ciphersuites(
          c, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1 ||
      SSL_CTX_set_cipher_list(
          c, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DEFAULT") != 1)
    return OpenSslError(Errc::kInternal, "cipher preferences");
  std::shared_ptr<UpstreamSessionCache> sessions;
  if (options.session_cache_size > 0) {
    sessions = std::make_shared<UpstreamSessionCache>(options.session_cache_size,
                                                      options.session_lifetime, options.clock);
    // Sessions go only where StoreNewSession puts them; OpenSSL's own client cache is not used.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, StoreNewSession);
  } else {
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
  }
  VerifyLogIndex();  // allocate the ex_data indexes before any handshake runs concurrently
  SessionSlotIndex();
  return std::unique_ptr<UpstreamTls>(
      new UpstreamTls(std::move(ctx), std::move(options), std::move(sessions)));
}

UpstreamTls::UpstreamTls(SslCtxPtr ctx, UpstreamTlsOptions options,
                         std::shared_ptr<UpstreamSessionCache> sessions)
    : ctx_(std::move(ctx)), options_(std::move(options)), sessions_(std::move(sessions)) {}

UpstreamTls::~UpstreamTls() = default;

UpstreamTls::SessionStats UpstreamTls::session_stats() const {
  SessionStats s;
  if (!sessions_) return s;
  s.full = sessions_->full.load(std::memory_order_relaxed);
  s.resumed = sessions_->resumed.load(std::memory_order_relaxed);
  s.stored = sessions_->stored();
  s.entries = sessions_->entries();
  return s;
}

asio::awaitable<Result<UpstreamConnection>> UpstreamTls::Handshake(boost::beast::tcp_stream socket,
                                                                   std::string_view host_in) {
  CO_ASSIGN_OR_RETURN(std::string host, CanonicalServerName(host_in));
  const bool is_ip = IpAddress::Parse(host).has_value();
  // Sessions are bound to the exact name verified (or IP literal) and the origin's port.
  std::string session_key;
  if (sessions_) {
    boost::system::error_code ec;
    const auto remote = socket.socket().remote_endpoint(ec);
    if (!ec) session_key = host + ":" + std::to_string(remote.port());
  }
  // The proxy ends origin connections without a close_notify; OpenSSL would then mark the
  // connection's session not resumable as the SSL is freed (ssl_clear_bad_session) — the very
  // SSL_SESSION object the cache holds, so no later handshake could resume it. TLS 1.1 and later
  // allow resuming after a close without close_notify (RFC 5246 7.2.1, RFC 8446 6.1); a session
  // whose connection sent or received a fatal alert was already invalidated by OpenSSL then,
  // stays so, and Take() drops it (RFC 5246 7.2.2).
  std::shared_ptr<UpstreamConnection::Stream> stream(
      new UpstreamConnection::Stream(std::move(socket), ctx_.get()),
      [](UpstreamConnection::Stream* s) {
        SSL* native = s->native_handle();
        SSL_set_shutdown(native, SSL_get_shutdown(native) | SSL_SENT_SHUTDOWN);
        delete s;
      });
  SSL* ssl = stream->native_handle();
  if (!session_key.empty())
    if (SslSessionPtr offer = sessions_->Take(session_key))
      SSL_set_session(ssl, offer.get());  // takes its own reference
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const bool named = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
                           : (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1 &&
                              SSL_set_tlsext_host_name(ssl, host.c_str()) == 1);
  if (!named) co_return OpenSslError(Errc::kInternal, "setting the upstream name " + host);

  VerifyLog log;
  SSL_set_ex_data(ssl, VerifyLogIndex(), &log);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(options_.handshake_timeout);
  struct Deadline {
    bool handshake_done = false;  // a timer handler already queued must not touch the stream
    bool timed_out = false;
  };
  auto deadline = std::make_shared<Deadline>();
  timer.async_wait([weak = std::weak_ptr(stream), deadline](boost::system::error_code ec) {
    if (ec || deadline->handshake_done) return;
    if (auto s = weak.lock()) {
      deadline->timed_out = true;
      boost::system::error_code ignored;
      s->next_layer().socket().cancel(ignored);
    }
  });
  ERR_clear_error();
  auto [ec] = co_await stream->async_handshake(asio::ssl::stream_base::client, kTuple);
  deadline->handshake_done = true;
  timer.cancel();
  SSL_set_ex_data(ssl, VerifyLogIndex(), nullptr);
  if (deadline->timed_out)
    co_return MakeError(Errc::kDeadlineExceeded,
                        host + ": TLS handshake did not finish within " +
                            std::to_string(options_.handshake_timeout.count()) + " ms");
  if (ec) co_return MakeError(Errc::kUnavailable, host + ": TLS handshake failed: " + ec.message());

  UpstreamCertReport report;
  report.host = host;
  X509* peer = SSL_get0_peer_certificate(ssl);
  report.subject = SubjectLine(peer);
  report.issuer = IssuerLine(peer);
  report.all = log.problems;
  const long result = SSL_get_verify_result(ssl);
  if (peer == nullptr) {
    report.problem = UpstreamCertProblem::kOther;
    report.x509_error = X509_V_ERR_UNSPECIFIED;
  } else if (log.first_error != X509_V_OK) {
    report.problem = ClassifyVerifyError(log.first_error, log.first_depth);
    report.x509_error = log.first_error;
    report.depth = log.first_depth;
  } else if (result != X509_V_OK && result != X509_V_ERR_UNABLE_TO_GET_CRL) {
    report.problem = ClassifyVerifyError(result, -1);  // not seen by the callback; still fatal
    report.x509_error = result;
  } else {
    report.problem = UpstreamCertProblem::kNone;
  }
  if (report.problem != UpstreamCertProblem::kNone && report.all.empty())
    report.all.push_back(report.problem);
  report.resumed = SSL_session_reused(ssl) == 1;
  if (sessions_) {
    (report.resumed ? sessions_->resumed : sessions_->full).fetch_add(1, std::memory_order_relaxed);
    // Only a verified connection's sessions are kept. TLS 1.3 tickets arrive later, while the
    // response is read (StoreNewSession); a TLS 1.2 session is complete now.
    if (report.problem == UpstreamCertProblem::kNone && !session_key.empty()) {
      if (SSL_version(ssl) >= TLS1_3_VERSION) {
        auto* slot = new SessionSlot{sessions_, session_key};
        if (SSL_set_ex_data(ssl, SessionSlotIndex(), slot) != 1) delete slot;
      } else {
        sessions_->Put(session_key, SslSessionPtr(SSL_get1_session(ssl)));
      }
    }
  }
  co_return UpstreamConnection(std::move(stream), std::move(report));
}

}  // namespace seccloud::net
