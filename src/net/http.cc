#include "net/http.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <mutex>

#include "net/http_internal.h"

namespace seccloud::net {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr int kMaxRequestsPerConnection = 100;
// Room in the read buffer beyond the request limits: chunk-size lines and trailers.
constexpr size_t kReadSlack = 16 * 1024;
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(1);

tcp::endpoint ToAsio(const Endpoint& e) {
  if (e.address.is_v4()) return {asio::ip::address_v4(e.address.v4()), e.port};
  asio::ip::address_v6::bytes_type b;
  std::copy(e.address.bytes().begin(), e.address.bytes().end(), b.begin());
  return {asio::ip::address_v6(b), e.port};
}

Endpoint FromAsio(const tcp::endpoint& e) {
  auto a = IpAddress::Parse(e.address().to_string());
  return Endpoint{a.value_or(IpAddress{}), e.port()};
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// A TLS 1.2+ server context from PEM files; the key must not be readable by others.
Result<std::shared_ptr<ssl::context>> ServerTlsContext(const std::filesystem::path& cert,
                                                       const std::filesystem::path& key,
                                                       const std::string& what) {
  struct stat st {};
  if (::stat(key.c_str(), &st) != 0) return ErrnoError(what + " TLS key " + key.string(), errno);
  if (st.st_mode & S_IROTH)
    return MakeError(Errc::kPermissionDenied,
                     what + " TLS key " + key.string() +
                         " is readable by every user; chmod o-r it (0600 or 0640)");
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, cert.c_str()) != 1)
    return MakeError(Errc::kInvalidArgument,
                     what + " TLS certificate " + cert.string() + ": " + OpenSslErrors());
  if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return MakeError(Errc::kInvalidArgument,
                     what + " TLS key " + key.string() + ": " + OpenSslErrors());
  if (SSL_CTX_check_private_key(native) != 1)
    return MakeError(
        Errc::kInvalidArgument,
        what + " TLS key " + key.string() + " does not belong to the certificate " + cert.string());
  static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_select_cb(
      native,
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
         unsigned int inlen, void*) -> int {
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, kAlpn, sizeof(kAlpn), in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
          return SSL_TLSEXT_ERR_NOACK;  // no ALPN or no http/1.1: speak HTTP/1.1 anyway
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);
  return ctx;
}

tcp::socket& LowestSocket(beast::tcp_stream& s) { return s.socket(); }
tcp::socket& LowestSocket(beast::ssl_stream<beast::tcp_stream>& s) {
  return beast::get_lowest_layer(s).socket();
}

// Waits for a BodyStream's next chunk without blocking the io_context: the stream's delivery is
// posted back to `ex`, and a work guard keeps the io_context running meanwhile.
template <class Token>
auto AsyncPull(const std::shared_ptr<BodyStream>& body, asio::any_io_executor ex, Token&& token) {
  return asio::async_initiate<Token, void(std::string, bool)>(
      [body, ex](auto handler) {
        using H = decltype(handler);
        auto h = std::make_shared<H>(std::move(handler));
        auto work = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(ex);
        body->Pull([h, work, ex](std::string chunk, bool more) {
          asio::post(ex, [h, work, chunk = std::move(chunk), more]() mutable {
            std::move (*h)(std::move(chunk), more);
            work->reset();
          });
        });
      },
      token);
}

std::string ErrorJson(std::string_view message) {
  return boost::json::serialize(boost::json::object{{"error", message}}) + "\n";
}

class AdminServerImpl final : public AdminServer,
                              public std::enable_shared_from_this<AdminServerImpl> {
 public:
  AdminServerImpl(asio::io_context& io, Options options)
      : acceptor_(io), options_(std::move(options)), started_(std::chrono::steady_clock::now()) {}

  Status Bind() {
    if (options_.tls_certificate.empty() != options_.tls_key.empty())
      return MakeError(Errc::kInvalidArgument,
                       options_.what + ": TLS needs both a certificate and a key");
    if (!options_.tls_certificate.empty()) {
      ASSIGN_OR_RETURN(tls_,
                       ServerTlsContext(options_.tls_certificate, options_.tls_key, options_.what));
    }
    boost::system::error_code ec;
    tcp::endpoint ep = ToAsio(options_.listen);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(64, ec);
    if (ec)
      return MakeError(Errc::kUnavailable, options_.what + " address " +
                                               options_.listen.ToString() + ": " + ec.message());
    return {};
  }

  void Route(std::string method, std::string path, Handler handler) override {
    routes_[method + " " + path] = std::move(handler);
  }

  void Fallback(Handler handler) override { fallback_ = std::move(handler); }

  Endpoint local_endpoint() const override {
    boost::system::error_code ec;
    return FromAsio(acceptor_.local_endpoint(ec));
  }

  // Any thread. The acceptor is not thread-safe and Accept() reads it on the io_context's
  // thread, so it is closed there: at once when called on that thread, else by a posted handler
  // (which keeps this object alive; if the context never runs again, the acceptor closes when the
  // context is destroyed). The streams' cancellation is thread-safe and happens before returning.
  void Stop() override {
    asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ec;
      self->acceptor_.close(ec);
    });
    std::vector<std::weak_ptr<BodyStream>> streams;
    {
      std::lock_guard lock(streams_mu_);
      streams.swap(streams_);
    }
    for (auto& w : streams)
      if (auto s = w.lock()) s->Cancel();
  }

  void Run() {
    asio::co_spawn(
        acceptor_.get_executor(), [self = shared_from_this()] { return self->Accept(); },
        asio::detached);
  }

 private:
  // Counts a connection for Options::max_connections while it lives.
  struct ConnectionSlot {
    explicit ConnectionSlot(std::atomic<size_t>& n) : n_(n) { ++n_; }
    ~ConnectionSlot() { --n_; }
    std::atomic<size_t>& n_;
  };

  asio::awaitable<void> Accept() {
    while (acceptor_.is_open()) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        continue;  // EMFILE and the like: keep serving the connections we have
      }
      if (connections_.load() >= options_.max_connections) {
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      asio::co_spawn(
          acceptor_.get_executor(),
          [self = shared_from_this(), s = std::move(socket)]() mutable {
            return self->Serve(std::move(s));
          },
          asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    ConnectionSlot slot(connections_);
    boost::system::error_code pec;
    const Endpoint peer = FromAsio(socket.remote_endpoint(pec));
    beast::tcp_stream stream(std::move(socket));
    if (!tls_) {
      co_await Exchange(stream, peer);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), *tls_);
    beast::get_lowest_layer(tls).expires_after(options_.request_timeout);
    auto [hec] = co_await tls.async_handshake(ssl::stream_base::server, kTuple);
    if (hec) co_return;  // not TLS, or a handshake failure: nothing to say in HTTP
    if (co_await Exchange(tls, peer)) {
      beast::get_lowest_layer(tls).expires_after(kTlsShutdownTimeout);
      auto [sec] = co_await tls.async_shutdown(kTuple);
      (void)sec;
    }
  }

  // Serves the requests of one connection. Returns whether the connection is still sound (a
  // TLS close_notify is worth sending).
  template <class Stream>
  asio::awaitable<bool> Exchange(Stream& stream, const Endpoint& peer) {
    const RequestLimits& limits = options_.limits;
    beast::flat_buffer buffer(limits.header_bytes + limits.body_bytes + kReadSlack);
    for (int n = 0; n < kMaxRequestsPerConnection; ++n) {
      http_internal::RequestParser parser;
      http_internal::ConfigureParser(parser, limits);
      beast::get_lowest_layer(stream).expires_after(options_.request_timeout);
      auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec) {
        const int status = http_internal::StatusForReadError(ec);
        if (status == 0) co_return false;
        const char* why = status == 431   ? "request header too large"
                          : status == 413 ? "request body too large"
                                          : "malformed request";
        // Built outside the co_await: g++ 12 destroys temporaries of a co_await expression
        // twice (see src/proxy/proxy_server.cc).
        HttpReply problem{status, "application/json", ErrorJson(why + (": " + ec.message()))};
        co_await Write(stream, 11, false, std::move(problem));
        co_return true;
      }
      const unsigned version = parser.get().version();
      const bool keep_alive = parser.get().keep_alive();
      AdminRequest request;
      http_internal::RequestError refused;
      if (!http_internal::ToAdminRequest(parser.release(), limits, &request, &refused)) {
        HttpReply problem{refused.status, "application/json", ErrorJson(refused.message)};
        co_await Write(stream, version, false, std::move(problem));
        co_return true;
      }
      request.peer = peer;
      HttpReply reply;
      try {
        reply = Dispatch(request);
      } catch (const std::exception&) {
        reply = HttpReply{500, "application/json", ErrorJson("internal error")};
      }
      if (reply.stream) co_return co_await WriteStreamed(stream, version, std::move(reply));
      if (!co_await Write(stream, version, keep_alive, std::move(reply))) co_return false;
      if (!keep_alive) co_return true;
    }
    co_return true;
  }

  template <class Message>
  void SetCommonHeaders(Message& res, const HttpReply& reply) {
    res.set(http::field::server, std::string("seccloud/") + Version());
    res.set(http::field::content_type, reply.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : reply.headers) res.set(name, value);
  }

  template <class Stream>
  asio::awaitable<bool> Write(Stream& stream, unsigned version, bool keep_alive, HttpReply reply) {
    http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
    SetCommonHeaders(res, reply);
    res.keep_alive(keep_alive);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(options_.write_timeout);
    auto [ec, n] = co_await http::async_write(stream, res, kTuple);
    co_return !ec;
  }

  // A streamed reply: the header, reply.body, then the stream's chunks as the client takes them.
  template <class Stream>
  asio::awaitable<bool> WriteStreamed(Stream& stream, unsigned version, HttpReply reply) {
    std::shared_ptr<BodyStream> body = std::move(reply.stream);
    {
      std::lock_guard lock(streams_mu_);
      std::erase_if(streams_, [](const std::weak_ptr<BodyStream>& w) { return w.expired(); });
      streams_.push_back(body);
    }
    http::response<http::empty_body> res{static_cast<http::status>(reply.status), version};
    SetCommonHeaders(res, reply);
    res.keep_alive(false);
    const bool chunked = version >= 11;
    if (chunked) res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_after(options_.write_timeout);
    auto [hec, hn] = co_await http::async_write_header(stream, sr, kTuple);
    if (hec) {
      body->Cancel();
      co_return false;
    }
    // Nothing is read while the reply streams: the socket turning readable means the client
    // closed (or sent what it should not), and the producer is told to stop.
    LowestSocket(stream).async_wait(tcp::socket::wait_read, [body](boost::system::error_code ec) {
      if (!ec) body->Cancel();
    });
    const asio::any_io_executor ex = co_await asio::this_coro::executor;
    std::string chunk = std::move(reply.body);
    bool more = true, ok = true;
    while (ok) {
      if (!chunk.empty()) {
        lowest.expires_after(options_.write_timeout);
        // Named locals, not temporaries inside co_await (g++ 12, see above).
        boost::system::error_code wec;
        if (chunked) {
          const auto framed = http::make_chunk(asio::buffer(chunk));
          auto [e, n] = co_await asio::async_write(stream, framed, kTuple);
          wec = e;
        } else {
          const auto raw = asio::buffer(chunk);
          auto [e, n] = co_await asio::async_write(stream, raw, kTuple);
          wec = e;
        }
        ok = !wec;
      }
      if (!ok || !more) break;
      auto [next, next_more] = co_await AsyncPull(body, ex, asio::use_awaitable);
      chunk = std::move(next);
      more = next_more;
    }
    if (ok && chunked) {
      lowest.expires_after(options_.write_timeout);
      const auto last = http::make_chunk_last();
      auto [lec, ln] = co_await asio::async_write(stream, last, kTuple);
      ok = !lec;
    }
    body->Cancel();  // a no-op when the stream ended by itself
    boost::system::error_code ignored;
    LowestSocket(stream).cancel(ignored);
    co_return ok;
  }

  HttpReply Dispatch(const AdminRequest& req) {
    std::string path = req.target.substr(0, req.target.find('?'));
    if (options_.builtin_endpoints) {
      if (req.method == "GET" && path == "/healthz") return Healthz();
      if (req.method == "GET" && path == "/metrics") {
        std::string body = options_.metrics ? options_.metrics->RenderPrometheus() : std::string();
        body +=
            "# HELP seccloud_up 1 while the service runs\n# TYPE seccloud_up gauge\nseccloud_up "
            "1\n";
        return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", std::move(body)};
      }
    }
    auto it = routes_.find(req.method + " " + path);
    if (it != routes_.end()) return it->second(req);
    if (fallback_) return fallback_(req);
    for (const auto& [key, handler] : routes_)
      if (key.substr(key.find(' ') + 1) == path)
        return HttpReply{405, "text/plain", "method not allowed\n"};
    return HttpReply{404, "text/plain", "not found\n"};
  }

  HttpReply Healthz() {
    const bool ok = options_.health == nullptr || options_.health->healthy();
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started_);
    boost::json::object o{
        {"status", ok ? "ok" : "failing"},
        {"service", options_.service},
        {"version", Version()},
        {"pid", static_cast<int64_t>(getpid())},
        {"uptime_seconds", uptime.count()},
    };
    if (options_.health) {
      o["components"] = boost::json::parse(options_.health->ComponentsJson());
      if (!ok) o["problem"] = options_.health->FirstProblem();
    }
    return HttpReply{ok ? 200 : 503, "application/json", boost::json::serialize(o) + "\n"};
  }

  tcp::acceptor acceptor_;
  Options options_;
  std::shared_ptr<ssl::context> tls_;
  std::chrono::steady_clock::time_point started_;
  std::map<std::string, Handler> routes_;
  Handler fallback_;
  std::atomic<size_t> connections_{0};
  std::mutex streams_mu_;
  std::vector<std::weak_ptr<BodyStream>> streams_;  // guarded by streams_mu_: for Stop()
};

// AdminServer handed out to the caller; keeps the shared implementation alive for coroutines
// that may still run after the caller drops it.
class AdminServerHandle final : public AdminServer {
 public:
  explicit AdminServerHandle(std::shared_ptr<AdminServerImpl> impl) : impl_(std::move(impl)) {}
  ~AdminServerHandle() override { impl_->Stop(); }
  void Route(std::string method, std::string path, Handler handler) override {
    impl_->Route(std::move(method), std::move(path), std::move(handler));
  }
  void Fallback(Handler handler) override { impl_->Fallback(std::move(handler)); }
  Endpoint local_endpoint() const override { return impl_->local_endpoint(); }
  void Stop() override { impl_->Stop(); }

 private:
  std::shared_ptr<AdminServerImpl> impl_;
};

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::Start(asio::io_context& io, Options options) {
  auto impl = std::make_shared<AdminServerImpl>(io, std::move(options));
  RETURN_IF_ERROR(impl->Bind());
  impl->Run();
  return std::unique_ptr<AdminServer>(std::make_unique<AdminServerHandle>(std::move(impl)));
}

namespace {

// One exchange of HttpCallSync over a connected plain or TLS stream.
template <class Stream>
asio::awaitable<Result<HttpResponse>> CallOn(Stream& stream, const std::string& where,
                                             http::request<http::string_body>& req,
                                             const HttpCallOptions& options) {
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  if (wec) co_return MakeError(Errc::kUnavailable, where + ": " + wec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_body);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kTuple);
  if (rec) {
    if (rec == beast::error::timeout)
      co_return MakeError(
          Errc::kDeadlineExceeded,
          where + ": no answer within " + std::to_string(options.timeout.count()) + " ms");
    if (rec == http::error::body_limit)
      co_return MakeError(
          Errc::kResourceExhausted,
          where + ": the answer is larger than " + std::to_string(options.max_body) + " bytes");
    co_return MakeError(Errc::kUnavailable, where + ": " + rec.message());
  }
  auto& res = parser.get();
  co_return HttpResponse{static_cast<int>(res.result_int()),
                         std::string(res[http::field::content_type]), std::move(res.body())};
}

asio::awaitable<Result<HttpResponse>> Call(Endpoint endpoint, std::string method,
                                           std::string target, std::string body,
                                           HttpCallOptions options) {
  const std::string where = endpoint.ToString();
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(options.timeout);
  auto [cec] = co_await stream.async_connect(ToAsio(endpoint), kTuple);
  if (cec) co_return MakeError(Errc::kUnavailable, where + ": " + cec.message());
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, std::string("seccloud/") + Version());
  for (const auto& [name, value] : options.headers) req.set(name, value);
  if (!body.empty() && req[http::field::content_type].empty())
    req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.keep_alive(false);
  req.prepare_payload();
  if (!options.tls) co_return co_await CallOn(stream, where, req, options);

  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  ERR_clear_error();
  if (options.tls_trust.empty()) {
    if (SSL_CTX_set_default_verify_paths(native) != 1)
      co_return MakeError(Errc::kUnavailable,
                          "the system's trusted certificates: " + OpenSslErrors());
  } else {
    if (SSL_CTX_load_verify_locations(native, options.tls_trust.c_str(), nullptr) != 1)
      co_return MakeError(Errc::kInvalidArgument,
                          options.tls_trust.string() + ": " + OpenSslErrors());
    // A pinned server certificate is a trust anchor of its own, without its issuer.
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(native), X509_V_FLAG_PARTIAL_CHAIN);
  }
  beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), ctx);
  SSL* ssl_handle = tls.native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
  if (!options.tls_server_name.empty()) {
    SSL_set_tlsext_host_name(ssl_handle, options.tls_server_name.c_str());
    X509_VERIFY_PARAM_set1_host(param, options.tls_server_name.c_str(), 0);
  } else if (options.tls_trust.empty()) {
    const std::string ip = endpoint.address.ToString();
    X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
  }
  auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kTuple);
  if (hec) {
    const long verify = SSL_get_verify_result(ssl_handle);
    std::string why = hec.message();
    if (verify != X509_V_OK) why = X509_verify_cert_error_string(verify);
    co_return MakeError(Errc::kUnavailable, where + ": TLS handshake: " + why);
  }
  co_return co_await CallOn(tls, where, req, options);
}

}  // namespace

Result<HttpResponse> HttpCallSync(Endpoint endpoint, const std::string& method,
                                  const std::string& target, const std::string& body,
                                  const HttpCallOptions& options) {
  asio::io_context io;
  Result<HttpResponse> out = MakeError(Errc::kInternal, "request did not run");
  asio::co_spawn(io, Call(endpoint, method, target, body, options),
                 [&](std::exception_ptr e, Result<HttpResponse> r) {
                   if (e)
                     out = MakeError(Errc::kInternal, "HTTP client failed");
                   else
                     out = std::move(r);
                 });
  io.run();
  return out;
}

asio::awaitable<Result<HttpResponse>> HttpRequest(Endpoint endpoint, std::string method,
                                                  std::string target, std::string body,
                                                  std::chrono::milliseconds timeout) {
  HttpCallOptions options;
  options.timeout = timeout;
  options.max_body = size_t{4} << 20;
  co_return co_await Call(endpoint, std::move(method), std::move(target), std::move(body),
                          std::move(options));
}

Result<HttpResponse> HttpRequestSync(Endpoint endpoint, std::string method, std::string target,
                                     std::string body, std::chrono::milliseconds timeout) {
  HttpCallOptions options;
  options.timeout = timeout;
  options.max_body = size_t{4} << 20;
  return HttpCallSync(endpoint, method, target, body, options);
}

}  // namespace seccloud::net
