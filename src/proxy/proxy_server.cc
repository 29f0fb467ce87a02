// The forward proxy's data plane: one io_context per worker thread, SO_REUSEPORT listeners, a
// coroutine per client connection, an upstream connection pool per worker, bodies streamed in
// both directions (never buffered whole), a deadline on every stage.

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/config.h"
#include "core/event.h"
#include "core/tenant_registry.h"
#include "net/service_host.h"
#include "proxy/block_page.h"
#include "proxy/hop_by_hop.h"
#include "proxy/proxy.h"
#include "proxy/request_target.h"

namespace seccloud::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kRelayChunk = 64 * 1024;

tcp::endpoint ToAsio(const IpAddress& a, uint16_t port) {
  if (a.is_v4()) return {asio::ip::address_v4(a.v4()), port};
  asio::ip::address_v6::bytes_type b;
  std::copy(a.bytes().begin(), a.bytes().end(), b.begin());
  return {asio::ip::address_v6(b), port};
}

IpAddress FromAsio(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::V4(a.to_v4().to_uint());
  auto b = a.to_v6().to_bytes();
  std::array<uint8_t, 16> bytes;
  std::copy(b.begin(), b.end(), bytes.begin());
  return IpAddress::V6(bytes).Unmapped();
}

// Counters shared by all workers.
struct ProxyMetrics {
  explicit ProxyMetrics(MetricsRegistry& m)
      : allowed(m.GetCounter("seccloud_proxy_requests_total", "Requests by outcome",
                             "outcome=\"allowed\"")),
        blocked(m.GetCounter("seccloud_proxy_requests_total", "Requests by outcome",
                             "outcome=\"blocked\"")),
        denied(m.GetCounter("seccloud_proxy_requests_total", "Requests by outcome",
                            "outcome=\"denied\"")),
        failed(m.GetCounter("seccloud_proxy_requests_total", "Requests by outcome",
                            "outcome=\"error\"")),
        bad_requests(m.GetCounter("seccloud_proxy_bad_requests_total",
                                  "Malformed or oversized requests answered with 4xx")),
        forged_xff(m.GetCounter("seccloud_proxy_untrusted_xff_total",
                                "X-Forwarded-For headers ignored: not from a declared proxy")),
        upstream_reused(m.GetCounter("seccloud_proxy_upstream_reused_total",
                                     "Requests sent on a pooled upstream connection")),
        upstream_connects(m.GetCounter("seccloud_proxy_upstream_connects_total",
                                       "New upstream connections")),
        bytes_in(m.GetCounter("seccloud_proxy_client_bytes_total", "Body bytes from clients")),
        bytes_out(m.GetCounter("seccloud_proxy_upstream_bytes_total",
                               "Body bytes from upstreams")) {}
  Counter& allowed;
  Counter& blocked;
  Counter& denied;
  Counter& failed;
  Counter& bad_requests;
  Counter& forged_xff;
  Counter& upstream_reused;
  Counter& upstream_connects;
  Counter& bytes_in;
  Counter& bytes_out;
  std::atomic<int64_t> connections{0};
};

// Idle upstream connections of one worker, by "host:port". Single-threaded: only its worker's
// io_context touches it.
class UpstreamPool {
 public:
  UpstreamPool(size_t max_idle_per_host, milliseconds idle_timeout)
      : max_idle_(max_idle_per_host), idle_timeout_(idle_timeout) {}

  std::unique_ptr<beast::tcp_stream> Acquire(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    const auto now = Clock::now();
    while (!list.empty()) {
      Idle entry = std::move(list.back());
      list.pop_back();
      if (now - entry.since > idle_timeout_) continue;
      if (!StillOpen(*entry.stream)) continue;
      return std::move(entry.stream);
    }
    idle_.erase(it);
    return nullptr;
  }

  void Release(const std::string& key, std::unique_ptr<beast::tcp_stream> stream) {
    if (max_idle_ == 0) return;
    auto& list = idle_[key];
    if (list.size() >= max_idle_) list.pop_front();
    list.push_back(Idle{std::move(stream), Clock::now()});
  }

 private:
  struct Idle {
    std::unique_ptr<beast::tcp_stream> stream;
    Clock::time_point since;
  };

  // A kept-alive connection the origin has closed meanwhile reads EOF (or has stray bytes,
  // which make it unusable too).
  static bool StillOpen(beast::tcp_stream& s) {
    char byte;
    const ssize_t n =
        ::recv(s.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  size_t max_idle_;
  milliseconds idle_timeout_;
  std::map<std::string, std::deque<Idle>> idle_;
};

class ProxyService;

class Worker {
 public:
  Worker(ProxyService& service, const ProxyConfig& cfg)
      : service_(service),
        io_(1),
        pool_(cfg.pool_max_idle_per_host, cfg.pool_idle_timeout) {}

  Status Listen(const Endpoint& at) {
    tcp::acceptor acceptor(io_);
    boost::system::error_code ec;
    tcp::endpoint ep = ToAsio(at.address, at.port);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec = boost::system::error_code(errno, boost::system::system_category());
    }
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(1024, ec);
    if (ec) return MakeError(Errc::kUnavailable, "proxy.listen " + at.ToString() + ": " + ec.message());
    acceptors_.push_back(std::move(acceptor));
    return {};
  }

  void Start();
  void StopAccepting() {
    asio::post(io_, [this] {
      for (auto& a : acceptors_) {
        boost::system::error_code ec;
        a.close(ec);
      }
    });
  }
  void Stop() { io_.stop(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  int64_t active() const { return active_.load(); }

 private:
  asio::awaitable<void> Accept(tcp::acceptor& acceptor);
  asio::awaitable<void> Serve(tcp::socket socket);
  ProxyService& service_;
  asio::io_context io_;
  std::vector<tcp::acceptor> acceptors_;
  UpstreamPool pool_;
  std::thread thread_;
  std::atomic<int64_t> active_{0};
};

class ProxyService {
 public:
  explicit ProxyService(net::ServiceHost& host) : host_(host), metrics_(host.metrics()) {
    host.metrics().AddGaugeFunction("seccloud_proxy_connections_active",
                                    "Client connections being served", "",
                                    [this] { return static_cast<double>(ActiveConnections()); });
  }
  ~ProxyService() { host_.metrics().RemoveGaugeFunction("seccloud_proxy_connections_active"); }

  Status Start() {
    auto cfg = host_.config();
    const ProxyConfig& pc = cfg->proxy;
    unsigned n = pc.workers ? pc.workers : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) {
      auto w = std::make_unique<Worker>(*this, pc);
      for (const Endpoint& e : pc.listen) RETURN_IF_ERROR(w->Listen(e));
      workers_.push_back(std::move(w));
    }
    host_.health().Set("listeners", true);
    return {};
  }

  void Run() {
    for (auto& w : workers_) w->Start();
  }

  // Stops accepting, waits for in-flight connections until the deadline, then stops workers.
  void Drain(Clock::time_point deadline) {
    for (auto& w : workers_) w->StopAccepting();
    while (Clock::now() < deadline && ActiveConnections() > 0)
      std::this_thread::sleep_for(milliseconds(50));
    for (auto& w : workers_) w->Stop();
    for (auto& w : workers_) w->Join();
  }

  int64_t ActiveConnections() const {
    int64_t n = 0;
    for (const auto& w : workers_) n += w->active();
    return n;
  }

  std::shared_ptr<const Config> config() const { return host_.config(); }
  net::ServiceHost& host() { return host_; }
  ProxyMetrics& metrics() { return metrics_; }

 private:
  net::ServiceHost& host_;
  ProxyMetrics metrics_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

void Worker::Start() {
  for (auto& a : acceptors_) asio::co_spawn(io_, Accept(a), asio::detached);
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "seccloud proxy: worker stopped: %s\n", e.what());
    }
  });
}

asio::awaitable<void> Worker::Accept(tcp::acceptor& acceptor) {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      // Out of descriptors and the like: pause briefly rather than spin.
      asio::steady_timer t(io_, milliseconds(50));
      co_await t.async_wait(kTuple);
      continue;
    }
    asio::co_spawn(io_, Serve(std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "seccloud proxy: session failed: %s\n", ex.what());
      }
    });
  }
}

// ---- one client connection ------------------------------------------------------------------

// Everything known about one request, for its access-log event.
struct RequestLog {
  Event event = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess);
  Clock::time_point start = Clock::now();
  std::string method;
  std::string url;
  std::string host;
  int status = 0;
  uint64_t request_bytes = 0;
  uint64_t response_bytes = 0;
  std::string user_agent;
  std::string action = "allowed";
  std::string verdict = "allow";
  std::string reason;
  std::string tls_mode = "none";
  std::string error;
};

class ClientSession {
 public:
  ClientSession(Worker& worker, ProxyService& service, asio::io_context& io, UpstreamPool& pool,
          tcp::socket socket)
      : worker_(worker), service_(service), io_(io), pool_(pool), client_(std::move(socket)) {
    boost::system::error_code ec;
    auto remote = client_.socket().remote_endpoint(ec);
    peer_ = ec ? IpAddress() : FromAsio(remote.address());
  }

  asio::awaitable<void> Run() {
    bool first = true;
    while (true) {
      cfg_ = service_.config();
      const ProxyConfig& pc = cfg_->proxy;
      http::request_parser<http::buffer_body> parser;
      parser.header_limit(static_cast<uint32_t>(pc.max_header_bytes));
      parser.body_limit(boost::none);  // bodies are streamed, any size
      if (!first && buffer_.size() == 0) {
        // Between requests a client may idle for client_idle; once the next request has begun,
        // its whole header must come within client_header like the first one's, or a slowloris
        // would get client_idle per header simply by sending one good request first.
        client_.expires_after(pc.timeouts.client_idle);
        auto [wec, wn] = co_await client_.async_read_some(buffer_.prepare(512), kTuple);
        buffer_.commit(wn);
        if (wec || wn == 0) co_return;
      }
      client_.expires_after(pc.timeouts.client_header);
      auto [ec, n] = co_await http::async_read_header(client_, buffer_, parser, kTuple);
      first = false;
      if (ec) {
        if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::connection_reset || ec == asio::error::eof)
          co_return;
        service_.metrics().bad_requests.Increment();
        const bool too_big = ec == http::error::header_limit;
        // Built before the co_await: g++ 12 destroys a std::string temporary made in a ?: inside
        // a co_await expression twice (a double free on every malformed request).
        std::string text = too_big ? std::string("the request header is larger than allowed")
                                   : "the request is not valid HTTP/1.1: " + ec.message();
        co_await SendSimple(too_big ? 431 : 400,
                            too_big ? "Request Header Fields Too Large" : "Bad Request", text);
        // A request it is, if a broken one: it gets its access event like any other.
        RequestLog log;
        attribution_ = cfg_->registry->Attribute(peer_, "");
        log.status = too_big ? 431 : 400;
        log.action = "failed";
        log.reason = text;
        Finish(log);
        co_return;
      }
      RequestLog log;
      const bool keep = co_await HandleRequest(parser, log);
      Finish(log);
      if (!keep) co_return;
    }
  }

 private:
  // Returns whether the client connection may carry another request.
  asio::awaitable<bool> HandleRequest(http::request_parser<http::buffer_body>& parser,
                                      RequestLog& log) {
    auto& req = parser.get();
    const ProxyConfig& pc = cfg_->proxy;
    log.method = std::string(req.method_string());
    if (auto ua = req.find(http::field::user_agent); ua != req.end())
      log.user_agent = std::string(ua->value().substr(0, 512));

    // Attribution first: who is asking decides everything else.
    std::string xff;
    for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it) {
      if (!xff.empty()) xff += ",";
      xff += std::string(it->value());
      if (xff.size() > TenantRegistry::kMaxXffBytes + 1) break;
    }
    attribution_ = cfg_->registry->Attribute(peer_, xff);
    if (attribution_.method == AttributionMethod::kUntrustedXffIgnored && !xff.empty())
      service_.metrics().forged_xff.Increment();

    const bool connect = req.method() == http::verb::connect;
    std::string why;
    auto target = connect ? ParseAuthorityForm(req.target(), &why)
                          : ParseAbsoluteForm(req.target(), &why);
    if (target) {
      log.url = target->url();
      log.host = target->host;
    } else {
      log.url = std::string(req.target().substr(0, 2048));
    }
    // Checked once attribution and URL are known, so that the refusal's event names them.
    if (CountFields(req.base()) > pc.max_headers) {
      service_.metrics().bad_requests.Increment();
      co_await Refuse(log, 431, "Request Header Fields Too Large",
                      "the request has more than " + std::to_string(pc.max_headers) + " header fields");
      co_return false;
    }
    // A Transfer-Encoding that does not end in chunked leaves the body length unknown (RFC 9112
    // §6.3): read as "no body", the body's bytes would be taken for the next request — a request
    // smuggled past whatever sits in front (a tenant proxy) and attributed to its connection.
    if (req.find(http::field::transfer_encoding) != req.end() && !parser.chunked()) {
      service_.metrics().bad_requests.Increment();
      co_await Refuse(log, 400, "Bad Request",
                      "the request's Transfer-Encoding does not end in chunked, so the length of "
                      "its body cannot be known");
      co_return false;
    }
    if (attribution_.tenant == nullptr) {
      service_.metrics().denied.Increment();
      log.action = "denied";
      log.verdict = "block";
      log.reason = "the source address " + peer_.ToString() + " belongs to no tenant";
      co_await Refuse(log, 403, "Forbidden", log.reason);
      co_return false;
    }
    if (!target) {
      service_.metrics().bad_requests.Increment();
      co_await Refuse(log, 400, "Bad Request", why);
      co_return false;
    }
    if (connect) {
      co_await Tunnel(*target, log);
      co_return false;
    }
    co_return co_await Forward(parser, *target, log);
  }

  // ---- plain HTTP ------------------------------------------------------------------------

  asio::awaitable<bool> Forward(http::request_parser<http::buffer_body>& parser,
                                const RequestTarget& target, RequestLog& log) {
    const ProxyConfig& pc = cfg_->proxy;
    auto& req = parser.get();
    const bool client_keep_alive = req.keep_alive();
    const unsigned client_version = req.version();
    const bool has_body = parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
    const bool head = req.method() == http::verb::head;

    // The message as the upstream sees it.
    const bool chunked = parser.chunked();
    HopByHopResult hop = StripHopByHop(req.base());
    if (!pc.forward_xff) req.erase("X-Forwarded-For");
    // A client that sent "Expect: 100-continue" holds its body back until it sees a 100 (curl
    // for 1 s), but the body is what the proxy relays next and an origin's 100 would only be read
    // after it: the proxy answers the expectation itself, once it has an upstream connection, and
    // does not pass it on (RFC 9110 §10.1.1 lets an intermediary do either).
    bool expect_continue = false;
    if (auto it = req.find(http::field::expect); it != req.end() && has_body) {
      expect_continue = client_version >= 11 && beast::iequals(it->value(), "100-continue");
      if (expect_continue) req.erase(http::field::expect);
    }
    req.set(http::field::host, target.authority());
    req.target(target.path);
    req.version(11);
    AddVia(req.base(), client_version, pc.via_name);
    if (chunked) req.chunked(true);
    if (hop.upgrade_requested) {
      req.set(http::field::connection, "upgrade");
      req.set(http::field::upgrade, hop.upgrade);
    } else {
      req.keep_alive(true);
    }

    const std::string key = target.authority();
    std::unique_ptr<beast::tcp_stream> upstream;
    bool reused = false;
    for (int attempt = 0; attempt < 2; ++attempt) {
      upstream = attempt == 0 ? pool_.Acquire(key) : nullptr;
      reused = upstream != nullptr;
      if (!upstream) {
        auto connected = co_await Connect(target, log);
        if (!connected) co_return false;
        upstream = std::move(connected);
      } else {
        service_.metrics().upstream_reused.Increment();
      }
      // Send the request header (and the body, streamed).
      http::serializer<true, http::buffer_body> sr{req};
      boost::system::error_code ec;
      if (!has_body) {
        upstream->expires_after(pc.timeouts.body_idle);
        auto [wec, wn] = co_await http::async_write_header(*upstream, sr, kTuple);
        ec = wec;
      } else {
        if (expect_continue) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          client_.expires_after(pc.timeouts.body_idle);
          auto [cec, cn] =
              co_await asio::async_write(client_, asio::buffer(kContinue), kTuple);
          if (cec) co_return false;
          expect_continue = false;
        }
        ec = co_await RelayBody<true>(client_, buffer_, parser, *upstream, sr,
                                      pc.timeouts.body_idle, log.request_bytes);
      }
      if (ec) {
        // A pooled connection the origin closed meanwhile: retry once on a fresh one when the
        // request had no body (nothing was consumed from the client).
        if (reused && !has_body) continue;
        co_return co_await UpstreamFailed(log, 502, "sending the request upstream failed: " + ec.message());
      }
      // The response.
      beast::flat_buffer ubuf;
      while (true) {
        http::response_parser<http::buffer_body> rp;
        rp.header_limit(static_cast<uint32_t>(pc.max_header_bytes));
        rp.body_limit(boost::none);
        if (head) rp.skip(true);
        upstream->expires_after(pc.timeouts.upstream_header);
        auto [rec, rn] = co_await http::async_read_header(*upstream, ubuf, rp, kTuple);
        if (rec) {
          if (reused && !has_body && rn == 0 && attempt == 0 &&
              (rec == http::error::end_of_stream || rec == asio::error::connection_reset ||
               rec == asio::error::eof))
            break;  // retry
          if (rec == beast::error::timeout)
            co_return co_await UpstreamFailed(log, 504, "the upstream sent no response in time");
          co_return co_await UpstreamFailed(log, 502, "the upstream response is not valid: " + rec.message());
        }
        auto& res = rp.get();
        const int status = static_cast<int>(res.result_int());
        if (status >= 100 && status < 200 && status != 101) {
          // Interim responses (100 Continue, 103 Early Hints) pass through; the final one follows.
          http::response<http::empty_body> interim{res.result(), client_version};
          for (const auto& f : res.base()) interim.insert(f.name_string(), f.value());
          StripHopByHop(interim.base());
          client_.expires_after(pc.timeouts.body_idle);
          co_await http::async_write(client_, interim, kTuple);
          continue;
        }
        log.status = status;
        const bool upstream_keep = res.keep_alive();
        const bool res_chunked = rp.chunked();
        const bool length_known = rp.content_length().has_value() || res_chunked || head ||
                                  status == 204 || status == 304;
        StripHopByHop(res.base());
        AddVia(res.base(), res.version(), pc.via_name);
        res.version(client_version == 10 ? 10 : 11);
        bool keep = client_keep_alive && !hop.upgrade_requested;
        if (status == 101) {
          res.set(http::field::connection, "upgrade");
          res.set(http::field::upgrade, hop.upgrade);
        } else if (client_version >= 11 && (res_chunked || !length_known)) {
          res.chunked(true);  // an until-close body becomes chunked for an HTTP/1.1 client
        } else if (res_chunked || !length_known) {
          keep = false;  // an HTTP/1.0 client reads the body until the connection closes
        }
        if (status != 101) res.keep_alive(keep);
        http::serializer<false, http::buffer_body> rsr{res};
        boost::system::error_code bec;
        if (head || status == 204 || status == 304 || status == 101) {
          client_.expires_after(pc.timeouts.body_idle);
          auto [hwec, hwn] = co_await http::async_write_header(client_, rsr, kTuple);
          bec = hwec;
        } else {
          bec = co_await RelayBody<false>(*upstream, ubuf, rp, client_, rsr, pc.timeouts.body_idle,
                                          log.response_bytes);
        }
        service_.metrics().bytes_in.Increment(log.request_bytes);
        service_.metrics().bytes_out.Increment(log.response_bytes);
        service_.metrics().allowed.Increment();
        if (bec) {
          log.error = "relaying the response failed: " + bec.message();
          co_return false;
        }
        if (status == 101) {
          co_await Splice(client_.release_socket(), buffer_, upstream->release_socket(), ubuf,
                          pc.timeouts.tunnel_idle, log);
          co_return false;
        }
        if (upstream_keep && rp.is_done() && length_known && ubuf.size() == 0)
          pool_.Release(key, std::move(upstream));
        co_return keep;
      }
    }
    co_return co_await UpstreamFailed(log, 502, "the upstream closed the connection");
  }

  // Streams a message body from `in` to `out`, chunk by chunk (Beast's relay pattern).
  template <bool isRequest, class InStream>
  asio::awaitable<boost::system::error_code> RelayBody(
      InStream& in, beast::flat_buffer& in_buf, http::parser<isRequest, http::buffer_body>& p,
      beast::tcp_stream& out, http::serializer<isRequest, http::buffer_body>& sr,
      milliseconds idle, uint64_t& bytes) {
    // Beast reads max(512, free capacity) bytes at a time: a fresh (or fully consumed) buffer of
    // capacity 0 would cost one recv per 512 bytes of body. Give it room for a whole chunk while
    // the body lasts, and give the memory back afterwards (the client buffer lives as long as a
    // kept-alive connection).
    in_buf.reserve(kRelayChunk);
    auto chunk = std::make_unique_for_overwrite<char[]>(kRelayChunk);  // not zeroed: no need
    do {
      if (!p.is_done()) {
        p.get().body().data = chunk.get();
        p.get().body().size = kRelayChunk;
        in.expires_after(idle);
        auto [ec, n] = co_await http::async_read(in, in_buf, p, kTuple);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return ec;
        const size_t got = kRelayChunk - p.get().body().size;
        bytes += got;
        p.get().body().size = got;
        p.get().body().data = chunk.get();
        p.get().body().more = !p.is_done();
      } else {
        p.get().body().data = nullptr;
        p.get().body().size = 0;
      }
      out.expires_after(idle);
      auto [wec, wn] = co_await http::async_write(out, sr, kTuple);
      if (wec == http::error::need_buffer) wec = {};
      if (wec) co_return wec;
    } while (!p.is_done() && !sr.is_done());
    in_buf.shrink_to_fit();
    co_return boost::system::error_code{};
  }

  // Resolves and connects, trying each address in turn within the connect deadline each.
  asio::awaitable<std::unique_ptr<beast::tcp_stream>> Connect(const RequestTarget& target,
                                                              RequestLog& log) {
    const ProxyConfig& pc = cfg_->proxy;
    std::vector<IpAddress> addresses;
    if (target.host_is_ip) {
      addresses.push_back(*IpAddress::Parse(target.host));
    } else if (auto it = pc.hosts.find(target.host); it != pc.hosts.end()) {
      addresses = it->second;
    } else if (pc.system_resolver) {
      tcp::resolver resolver(io_);
      auto [ec, results] = co_await resolver.async_resolve(target.host, "", kTuple);
      if (!ec)
        for (const auto& r : results) addresses.push_back(FromAsio(r.endpoint().address()));
    }
    if (addresses.empty()) {
      co_await UpstreamFailed(log, 502, "the name " + target.host + " could not be resolved");
      co_return nullptr;
    }
    std::string last_error;
    for (const IpAddress& a : addresses) {
      auto stream = std::make_unique<beast::tcp_stream>(io_);
      stream->expires_after(pc.timeouts.connect);
      auto [ec] = co_await stream->async_connect(ToAsio(a, target.port), kTuple);
      if (!ec) {
        stream->socket().set_option(tcp::no_delay(true));
        service_.metrics().upstream_connects.Increment();
        log.event.Set("destination.ip", a.ToString());
        co_return stream;
      }
      last_error = a.ToString() + ": " + (ec == beast::error::timeout ? "timed out" : ec.message());
    }
    co_await UpstreamFailed(log, last_error.find("timed out") != std::string::npos ? 504 : 502,
                            "cannot connect to " + target.authority() + " (" + last_error + ")");
    co_return nullptr;
  }

  // ---- CONNECT ---------------------------------------------------------------------------

  asio::awaitable<void> Tunnel(const RequestTarget& target, RequestLog& log) {
    const ProxyConfig& pc = cfg_->proxy;
    auto upstream = co_await Connect(target, log);
    if (!upstream) co_return;
    http::response<http::empty_body> ok{http::status::ok, 11};
    ok.reason("Connection established");
    client_.expires_after(pc.timeouts.body_idle);
    auto [ec, n] = co_await http::async_write(client_, ok, kTuple);
    log.status = 200;
    service_.metrics().allowed.Increment();
    if (ec) co_return;
    beast::flat_buffer empty;
    co_await Splice(client_.release_socket(), buffer_, upstream->release_socket(), empty,
                    pc.timeouts.tunnel_idle, log);
  }

  // Copies both ways until both sides have finished or nothing moved for `idle`. Bytes already
  // buffered on either side (pipelined after the request, or after a 101) go first.
  asio::awaitable<void> Splice(tcp::socket a, beast::flat_buffer& a_pending, tcp::socket b,
                               beast::flat_buffer& b_pending, milliseconds idle, RequestLog& log) {
    auto state = std::make_shared<SpliceState>(std::move(a), std::move(b), io_);
    state->last = Clock::now();
    if (a_pending.size() > 0) {
      auto [ec, n] = co_await asio::async_write(state->b, a_pending.data(), kTuple);
      log.request_bytes += n;
      a_pending.consume(a_pending.size());
      if (ec) co_return;
    }
    if (b_pending.size() > 0) {
      auto [ec, n] = co_await asio::async_write(state->a, b_pending.data(), kTuple);
      log.response_bytes += n;
      b_pending.consume(b_pending.size());
      if (ec) co_return;
    }
    asio::co_spawn(io_, Watchdog(state, idle), asio::detached);
    using namespace asio::experimental::awaitable_operators;
    auto [up, down] = co_await (Copy(state, true) && Copy(state, false));
    log.request_bytes += up;
    log.response_bytes += down;
    state->done = true;
    state->timer.cancel();
    service_.metrics().bytes_in.Increment(log.request_bytes);
    service_.metrics().bytes_out.Increment(log.response_bytes);
  }

  struct SpliceState {
    SpliceState(tcp::socket x, tcp::socket y, asio::io_context& io)
        : a(std::move(x)), b(std::move(y)), timer(io) {}
    tcp::socket a, b;
    asio::steady_timer timer;
    Clock::time_point last;
    bool done = false;
  };

  static asio::awaitable<uint64_t> Copy(std::shared_ptr<SpliceState> s, bool a_to_b) {
    tcp::socket& from = a_to_b ? s->a : s->b;
    tcp::socket& to = a_to_b ? s->b : s->a;
    std::vector<char> buf(kRelayChunk);
    uint64_t total = 0;
    while (true) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kTuple);
      if (n > 0) {
        s->last = Clock::now();
        auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kTuple);
        total += wn;
        if (wec) break;
      }
      if (ec) break;
    }
    // Half-close: the other direction may still be sending.
    boost::system::error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
    co_return total;
  }

  static asio::awaitable<void> Watchdog(std::shared_ptr<SpliceState> s, milliseconds idle) {
    while (!s->done) {
      s->timer.expires_after(idle / 4 + milliseconds(1));
      co_await s->timer.async_wait(kTuple);
      if (s->done) co_return;
      if (Clock::now() - s->last > idle) {
        boost::system::error_code ignored;
        s->a.close(ignored);
        s->b.close(ignored);
        co_return;
      }
    }
  }

  // ---- answers made here -----------------------------------------------------------------

  asio::awaitable<void> SendSimple(int status, std::string_view title, const std::string& text) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(false);
    res.body() = std::to_string(status) + " " + std::string(title) + ": " + text + "\n";
    res.prepare_payload();
    client_.expires_after(milliseconds(5000));
    co_await http::async_write(client_, res, kTuple);
  }

  // A page for the terminal (block, error) with the event id as reference; closes afterwards.
  asio::awaitable<void> Refuse(RequestLog& log, int status, std::string_view title,
                               const std::string& reason) {
    log.status = status;
    if (log.reason.empty()) log.reason = reason;
    if (log.action == "allowed") log.action = status == 403 ? "blocked" : "failed";
    PageInfo page;
    page.kind = status == 403 ? PageInfo::Kind::kBlocked : PageInfo::Kind::kError;
    page.status = status;
    page.title_ja = status == 403 ? "アクセスが拒否されました" : "要求を処理できませんでした";
    page.title_en = std::to_string(status) + " " + std::string(title);
    page.reason = reason;
    page.url = log.url;
    page.reference_id = EventId(log);
    page.tenant = attribution_.tenant;
    page.first_language = cfg_->proxy.block_page_language;
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.set("X-Seccloud-Reference", page.reference_id);
    res.keep_alive(false);
    res.body() = RenderPage(page);
    res.prepare_payload();
    log.response_bytes = res.body().size();
    client_.expires_after(milliseconds(5000));
    co_await http::async_write(client_, res, kTuple);
  }

  asio::awaitable<bool> UpstreamFailed(RequestLog& log, int status, const std::string& reason) {
    service_.metrics().failed.Increment();
    log.action = "failed";
    log.error = reason;
    co_await Refuse(log, status, status == 504 ? "Gateway Timeout" : "Bad Gateway", reason);
    co_return false;
  }

  static std::string EventId(const RequestLog& log) {
    const boost::json::value* id = log.event.Find("event.id");
    return id && id->is_string() ? std::string(id->as_string()) : std::string();
  }

  void Finish(RequestLog& log) {
    Event& e = log.event;
    const bool success = log.action == "allowed";
    e.Set("event.action", log.action);
    e.Set("event.outcome", success ? "success" : "failure");
    e.Set("event.category", "web");
    e.Set("event.type", success ? "access" : "denied");
    e.Set("event.duration",
          static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   Clock::now() - log.start)
                                   .count()));
    if (attribution_.tenant) e.Set("tenant.id", attribution_.tenant->id);
    e.Set("client.ip", attribution_.client.ToString());
    e.Set("source.ip", attribution_.source.ToString());
    e.Set("seccloud.attribution", AttributionMethodName(attribution_.method));
    if (attribution_.suspicious) e.Set("seccloud.attribution_note", attribution_.note);
    if (!log.method.empty()) e.Set("http.request.method", log.method);
    if (!log.url.empty()) e.Set("url.full", log.url);
    if (!log.host.empty()) e.Set("url.domain", log.host);
    if (log.status) e.Set("http.response.status_code", static_cast<int64_t>(log.status));
    e.Set("http.request.bytes", log.request_bytes);
    e.Set("http.response.bytes", log.response_bytes);
    if (!log.user_agent.empty()) e.Set("user_agent.original", log.user_agent);
    e.Set("seccloud.tls.mode", log.tls_mode);
    e.Set("seccloud.verdict.action", log.verdict);
    if (!log.reason.empty()) e.Set("seccloud.verdict.reason", log.reason);
    if (!log.error.empty()) e.Set("error.message", log.error);
    service_.host().events().Push(std::move(e));
  }

  Worker& worker_;
  ProxyService& service_;
  asio::io_context& io_;
  UpstreamPool& pool_;
  beast::tcp_stream client_;
  beast::flat_buffer buffer_;
  IpAddress peer_;
  std::shared_ptr<const Config> cfg_;
  Attribution attribution_;
};

asio::awaitable<void> Worker::Serve(tcp::socket socket) {
  active_.fetch_add(1);
  struct Done {
    std::atomic<int64_t>& n;
    ~Done() { n.fetch_sub(1); }
  } done{active_};
  socket.set_option(tcp::no_delay(true));
  ClientSession session(*this, service_, io_, pool_, std::move(socket));
  co_await session.Run();
}

}  // namespace

int RunProxyService(const std::filesystem::path& config_path) {
  auto host = net::ServiceHost::Create("proxy", config_path);
  if (!host) {
    std::fprintf(stderr, "seccloud proxy: %s\n", host.error().ToString().c_str());
    return 1;
  }
  if (!(*host)->config()->proxy.enabled) {
    std::fprintf(stderr, "seccloud proxy: the configuration has no enabled proxy section\n");
    return 1;
  }
  ProxyService service(**host);
  if (auto st = service.Start(); !st) {
    std::fprintf(stderr, "seccloud proxy: %s\n", st.error().ToString().c_str());
    return 1;
  }
  if (auto st = (*host)->DropPrivileges(); !st) {
    std::fprintf(stderr, "seccloud proxy: %s\n", st.error().ToString().c_str());
    return 1;
  }
  (*host)->OnReload([&](const std::shared_ptr<const Config>& next) -> Status {
    const ProxyConfig& now = (*host)->config()->proxy;
    if (next->proxy.listen != now.listen || next->proxy.workers != now.workers)
      return MakeError(Errc::kInvalidArgument,
                       "proxy.listen and proxy.workers change only with a restart");
    return {};
  });
  service.Run();
  std::fprintf(stderr, "seccloud proxy: listening on");
  for (const Endpoint& e : (*host)->config()->proxy.listen)
    std::fprintf(stderr, " %s", e.ToString().c_str());
  std::fprintf(stderr, ", admin on %s\n", (*host)->admin_endpoint().ToString().c_str());
  return (*host)->Run([&](Clock::time_point deadline) { service.Drain(deadline); });
}

}  // namespace seccloud::proxy
