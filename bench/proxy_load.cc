// R3: load generator for the proxy benchmarks (bench/proxy_vs_squid.sh, proxy_tls_vs_squid.sh),
// the same program for seccloud and Squid. C++ and one event loop per thread, so that it costs
// the shared machine far less CPU per request than wrk's Lua or tls_client.py.
//
//   proxy_load --proxy IP:PORT --mode http|tls-keepalive|tls-newconn
//              (--url http://HOST:PORT/PATH | --target NAME:PORT --path /P --cafile PEM
//               [--connect-ip IP])
//              --size BYTES [--upload BYTES] [--connections N] [--seconds S] [--warmup S]
//              [--rate R] [--threads T]
//
// Modes: http sends absolute-form GETs on kept-alive proxy connections; tls-keepalive opens a
// CONNECT tunnel per connection, a TLS handshake inside it (SNI NAME, certificate verified against
// --cafile, ALPN http/1.1) and sends GETs one after another; tls-newconn does CONNECT + handshake
// + one GET with "Connection: close" per request. Every response is read whole and its status
// (200) and body size (--size) checked; anything else counts as an error. --upload BYTES sends a
// POST with a body of that many bytes (Content-Length, written with the header) instead of a GET
// (bench/proxy_ab.sh's upload row: the proxy's request-body relay).
//
// --rate R > 0 is open loop (the wrk2 model): connection i of N sends its k-th request at the
// intended instant start + (i + k*N)/R, whether or not the previous answer was slow, and latency
// is measured from that intended instant, so a stall shows as latency of every request that
// should have been sent during it (no coordinated omission). A connection that is still busy at
// its next instant sends as soon as it is free; "late" counts those requests. --rate 0 is closed
// loop: each connection sends as soon as its previous response is complete, latency from the send.
//
// Only requests whose intended (or, closed loop, actual) send time falls in the measured window
// [warmup, warmup + seconds) are counted; in-flight requests get 5 s after the window to finish,
// "incomplete" counts those that did not. Prints one line of JSON.

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

enum class Mode { kHttp, kTlsKeepAlive, kTlsNewConn };

struct Options {
  std::string proxy_host;
  uint16_t proxy_port = 0;
  Mode mode = Mode::kHttp;
  std::string url;          // http mode: the absolute-form target
  std::string url_host;     // http mode: Host header
  std::string target;       // tls modes: NAME:PORT for CONNECT and Host
  std::string target_name;  // tls modes: SNI and the name verified
  std::string path = "/";
  std::string cafile;
  size_t size = 0;
  size_t upload = 0;  // > 0: a POST with a body of this many bytes
  int connections = 32;
  double seconds = 10;
  double warmup = 2;
  double rate = 0;  // requests/s over all connections; 0: closed loop
  int threads = 1;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "proxy_load: %s\nusage: proxy_load --proxy IP:PORT --mode "
               "http|tls-keepalive|tls-newconn (--url URL | --target NAME:PORT --path P "
               "--cafile PEM) --size BYTES [--upload BYTES] [--connections N] [--seconds S] "
               "[--warmup S] [--rate R] [--threads T]\n",
               why);
  std::exit(2);
}

double ParseNumber(const char* flag, const char* v, double lo, double hi) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !std::isfinite(d) || d < lo || d > hi) {
    std::string why = std::string(flag) + ": not a number in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]: " + v;
    Usage(why.c_str());
  }
  return d;
}

void SplitHostPort(const std::string& s, std::string* host, uint16_t* port, const char* flag) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) Usage((std::string(flag) + ": HOST:PORT").c_str());
  *host = s.substr(0, colon);
  *port = static_cast<uint16_t>(ParseNumber(flag, s.c_str() + colon + 1, 1, 65535));
}

Options Parse(int argc, char** argv) {
  Options o;
  std::string mode;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--proxy") {
      SplitHostPort(v, &o.proxy_host, &o.proxy_port, "--proxy");
    } else if (a == "--mode") {
      mode = v;
    } else if (a == "--url") {
      o.url = v;
    } else if (a == "--target") {
      o.target = v;
    } else if (a == "--path") {
      o.path = v;
    } else if (a == "--cafile") {
      o.cafile = v;
    } else if (a == "--size") {
      o.size = static_cast<size_t>(ParseNumber("--size", v, 0, 1 << 30));
    } else if (a == "--upload") {
      o.upload = static_cast<size_t>(ParseNumber("--upload", v, 0, 64 << 20));
    } else if (a == "--connections") {
      o.connections = static_cast<int>(ParseNumber("--connections", v, 1, 10000));
    } else if (a == "--seconds") {
      o.seconds = ParseNumber("--seconds", v, 0.1, 3600);
    } else if (a == "--warmup") {
      o.warmup = ParseNumber("--warmup", v, 0, 600);
    } else if (a == "--rate") {
      o.rate = ParseNumber("--rate", v, 0, 1e7);
    } else if (a == "--threads") {
      o.threads = static_cast<int>(ParseNumber("--threads", v, 1, 64));
    } else {
      Usage(("unknown flag " + a).c_str());
    }
  }
  if (o.proxy_port == 0) Usage("--proxy is required");
  if (mode == "http") {
    o.mode = Mode::kHttp;
    if (!o.url.starts_with("http://")) Usage("--url http://HOST:PORT/PATH is required");
    const size_t slash = o.url.find('/', 7);
    o.url_host = o.url.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
  } else if (mode == "tls-keepalive" || mode == "tls-newconn") {
    o.mode = mode == "tls-newconn" ? Mode::kTlsNewConn : Mode::kTlsKeepAlive;
    if (o.target.empty() || o.cafile.empty()) Usage("--target and --cafile are required");
    uint16_t port;
    SplitHostPort(o.target, &o.target_name, &port, "--target");
  } else {
    Usage("--mode must be http, tls-keepalive or tls-newconn");
  }
  if (o.threads > o.connections) o.threads = o.connections;
  return o;
}

// What one thread measured; merged at the end.
struct Tally {
  std::vector<double> latency_s;  // completed requests in the window
  uint64_t errors = 0;
  uint64_t late = 0;        // open loop: sent after their intended instant
  uint64_t incomplete = 0;  // in the window but not answered by the hard deadline
  int in_flight = 0;        // requests of the window being sent or awaited now
  int live = 0;             // connection loops still running
  std::string first_error;
  void Error(std::string what) {
    ++errors;
    if (first_error.empty()) first_error = std::move(what);
  }
};

struct Run {
  const Options* o;
  Clock::time_point start;         // schedule origin (the warm-up begins here)
  Clock::time_point window_begin;  // measured window
  Clock::time_point window_end;
  Clock::time_point hard_end;  // in-flight requests are abandoned here
  std::string request;         // the GET, the same bytes every time
  std::string connect;         // the CONNECT request (tls modes)
  ssl::context* tls = nullptr;
};

// Open loop: when connection `index` sends its k-th request.
Clock::time_point IntendedAt(const Run& r, int index, uint64_t k) {
  const double s = (index + static_cast<double>(k) * r.o->connections) / r.o->rate;
  return r.start + std::chrono::duration_cast<Clock::duration>(Seconds(s));
}

bool InWindow(const Run& r, Clock::time_point t) { return t >= r.window_begin && t < r.window_end; }

// Reads one response and checks it; empty on success, else what was wrong.
template <class Stream>
asio::awaitable<std::string> ReadResponse(Stream& s, beast::flat_buffer& buf, size_t size) {
  http::response_parser<http::string_body> p;
  p.body_limit(size + 1);
  auto [ec, n] = co_await http::async_read(s, buf, p, kTuple);
  if (ec) co_return "reading the response: " + ec.message();
  if (p.get().result_int() != 200)
    co_return "status " + std::to_string(p.get().result_int()) + " instead of 200";
  if (p.get().body().size() != size)
    co_return "a body of " + std::to_string(p.get().body().size()) + " bytes instead of " +
        std::to_string(size);
  co_return std::string();
}

// TCP to the proxy; for tls modes also CONNECT and the TLS handshake. Empty on success.
asio::awaitable<std::string> Open(const Run& r, tcp::socket& sock,
                                  std::optional<ssl::stream<tcp::socket&>>& tls,
                                  beast::flat_buffer& buf) {
  const Options& o = *r.o;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(o.proxy_host, ec);
  if (ec) co_return "--proxy needs an IP address: " + o.proxy_host;
  auto [cec] = co_await sock.async_connect(tcp::endpoint(addr, o.proxy_port), kTuple);
  if (cec) co_return "connecting to the proxy: " + cec.message();
  sock.set_option(tcp::no_delay(true));
  if (o.mode == Mode::kHttp) co_return std::string();
  auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(r.connect), kTuple);
  if (wec) co_return "sending CONNECT: " + wec.message();
  http::response_parser<http::empty_body> p;
  p.skip(true);  // a 200 to CONNECT has no body
  auto [rec, rn] = co_await http::async_read_header(sock, buf, p, kTuple);
  if (rec) co_return "reading the CONNECT answer: " + rec.message();
  if (p.get().result_int() != 200)
    co_return "CONNECT answered " + std::to_string(p.get().result_int());
  if (buf.size() != 0) co_return "bytes after the CONNECT answer";
  tls.emplace(sock, *r.tls);
  SSL_set_tlsext_host_name(tls->native_handle(), o.target_name.c_str());
  tls->set_verify_callback(ssl::host_name_verification(o.target_name));
  auto [hec] = co_await tls->async_handshake(ssl::stream_base::client, kTuple);
  if (hec) co_return "TLS handshake: " + hec.message();
  co_return std::string();
}

// One connection's loop (keep-alive modes) or one slot's sequence of connections (newconn).
asio::awaitable<void> Connection(const Run* r, int index, Tally* tally) {
  const Options& o = *r->o;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  uint64_t k = 0;  // open loop: this connection's k-th request
  Clock::time_point intended = r->start;
  std::optional<tcp::socket> sock;
  std::optional<ssl::stream<tcp::socket&>> tls;
  beast::flat_buffer buf;
  while (true) {
    if (o.rate > 0) {
      intended = IntendedAt(*r, index, k++);
      if (intended >= r->window_end) break;
      const auto now = Clock::now();
      if (intended > now) {
        timer.expires_at(intended);
        co_await timer.async_wait(kTuple);
      } else if (InWindow(*r, intended) && now - intended > std::chrono::milliseconds(1)) {
        ++tally->late;
      }
    } else {
      intended = Clock::now();
      if (intended >= r->window_end) break;
    }
    if (Clock::now() >= r->hard_end) {
      if (InWindow(*r, intended)) ++tally->incomplete;
      break;
    }
    const Clock::time_point t0 = intended;
    const bool counted = InWindow(*r, t0);
    tally->in_flight += counted;
    std::string err;
    if (!sock || o.mode == Mode::kTlsNewConn) {
      tls.reset();
      sock.emplace(co_await asio::this_coro::executor);
      buf.clear();
      err = co_await Open(*r, *sock, tls, buf);
    }
    if (err.empty()) {
      if (tls) {
        auto [wec, wn] = co_await asio::async_write(*tls, asio::buffer(r->request), kTuple);
        if (wec) err = "sending the request: " + wec.message();
        if (err.empty()) err = co_await ReadResponse(*tls, buf, o.size);
      } else {
        auto [wec, wn] = co_await asio::async_write(*sock, asio::buffer(r->request), kTuple);
        if (wec) err = "sending the request: " + wec.message();
        if (err.empty()) err = co_await ReadResponse(*sock, buf, o.size);
      }
    }
    const auto t1 = Clock::now();
    tally->in_flight -= counted;
    if (counted) {
      if (!err.empty()) {
        tally->Error(err);
      } else if (t1 >= r->hard_end) {
        ++tally->incomplete;
      } else {
        tally->latency_s.push_back(Seconds(t1 - t0).count());
      }
    }
    if (!err.empty() || o.mode == Mode::kTlsNewConn) {
      // newconn: the client closes without close_notify, as browsers often do; no TIME_WAIT
      // pile-up on the proxy's side because the client closes first.
      tls.reset();
      boost::system::error_code ignored;
      if (sock) sock->close(ignored);
      sock.reset();
      if (!err.empty()) {
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(kTuple);
      }
    }
  }
  if (sock) {
    boost::system::error_code ignored;
    sock->close(ignored);
  }
  --tally->live;
}

// Ends the thread's io_context when its connection loops are done, or at hard_end, abandoning
// what is still in flight then (counted as incomplete).
asio::awaitable<void> HardStop(const Run* r, Tally* tally, asio::io_context* io) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  while (tally->live > 0 && Clock::now() < r->hard_end) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(kTuple);
  }
  tally->incomplete += tally->in_flight;
  tally->in_flight = 0;
  io->stop();
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()));
  return sorted[i] * 1000.0;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  ssl::context tls(ssl::context::tls_client);
  if (o.mode != Mode::kHttp) {
    boost::system::error_code ec;
    tls.load_verify_file(o.cafile, ec);
    if (ec) {
      std::fprintf(stderr, "proxy_load: --cafile %s: %s\n", o.cafile.c_str(), ec.message().c_str());
      return 1;
    }
    tls.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    // No session cache: every new connection is a full handshake, as in tls_client.py.
    SSL_CTX_set_session_cache_mode(tls.native_handle(), SSL_SESS_CACHE_OFF);
    // AES-128-GCM first, as browsers offer it: a proxy that follows the client's order (Squid)
    // and one that prefers its own (seccloud) then both encrypt the client leg with it.
    SSL_CTX_set_ciphersuites(tls.native_handle(),
                             "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                             "TLS_CHACHA20_POLY1305_SHA256");
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(tls.native_handle(), kAlpn, sizeof kAlpn);
  }
  Run run;
  run.o = &o;
  run.tls = &tls;
  const std::string method = o.upload > 0 ? "POST " : "GET ";
  const std::string length =
      o.upload > 0 ? "Content-Length: " + std::to_string(o.upload) + "\r\n" : "";
  if (o.mode == Mode::kHttp) {
    run.request = method + o.url + " HTTP/1.1\r\nHost: " + o.url_host +
                  "\r\nUser-Agent: proxy_load\r\n" + length + "\r\n";
  } else {
    run.connect = "CONNECT " + o.target + " HTTP/1.1\r\nHost: " + o.target + "\r\n\r\n";
    run.request = method + o.path + " HTTP/1.1\r\nHost: " + o.target +
                  "\r\nUser-Agent: proxy_load\r\n" + length +
                  (o.mode == Mode::kTlsNewConn ? "Connection: close\r\n" : "") + "\r\n";
  }
  run.request.append(o.upload, 'u');
  // Start a little in the future so that every thread's schedule begins at the same instant.
  run.start = Clock::now() + std::chrono::milliseconds(50);
  const auto d = [](double s) { return std::chrono::duration_cast<Clock::duration>(Seconds(s)); };
  run.window_begin = run.start + d(o.warmup);
  run.window_end = run.window_begin + d(o.seconds);
  run.hard_end = run.window_end + d(5);

  std::vector<Tally> tallies(o.threads);
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::atomic<double> cpu_at_window{0};
  for (int t = 0; t < o.threads; ++t) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    for (int c = t; c < o.connections; c += o.threads) {
      ++tallies[t].live;
      asio::co_spawn(*ios[t], Connection(&run, c, &tallies[t]), asio::detached);
    }
    asio::co_spawn(*ios[t], HardStop(&run, &tallies[t], ios[t].get()), asio::detached);
  }
  // CPU of the whole process over the measured window (all threads).
  std::thread cpu_probe([&] {
    std::this_thread::sleep_until(run.window_begin);
    cpu_at_window = CpuSeconds();
  });
  for (int t = 0; t < o.threads; ++t) threads.emplace_back([&, t] { ios[t]->run(); });
  for (auto& th : threads) th.join();
  cpu_probe.join();
  const double cpu = CpuSeconds() - cpu_at_window.load();

  Tally all;
  for (Tally& t : tallies) {
    all.latency_s.insert(all.latency_s.end(), t.latency_s.begin(), t.latency_s.end());
    all.errors += t.errors;
    all.late += t.late;
    all.incomplete += t.incomplete;
    if (all.first_error.empty()) all.first_error = t.first_error;
  }
  if (o.rate > 0) {
    // Open loop: every intended instant of the window is a request that should have been
    // answered. Those never sent because their connection was still stuck in an earlier one
    // count as incomplete too (in-flight ones were counted by HardStop).
    uint64_t intended = 0;
    for (int i = 0; i < o.connections; ++i)
      for (uint64_t k = 0;; ++k) {
        const auto at = IntendedAt(run, i, k);
        if (at >= run.window_end) break;
        intended += InWindow(run, at);
      }
    const uint64_t accounted = all.latency_s.size() + all.errors + all.incomplete;
    if (intended > accounted) all.incomplete += intended - accounted;
  }
  std::sort(all.latency_s.begin(), all.latency_s.end());
  const char* mode = o.mode == Mode::kHttp           ? "http"
                     : o.mode == Mode::kTlsKeepAlive ? "tls-keepalive"
                                                     : "tls-newconn";
  std::printf(
      "{\"mode\": \"%s\", \"rate\": %.1f, \"connections\": %d, \"seconds\": %.1f, "
      "\"requests\": %zu, \"errors\": %llu, \"late\": %llu, \"incomplete\": %llu, \"rps\": %.1f, "
      "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, "
      "\"client_cpu_s\": %.3f",
      mode, o.rate, o.connections, o.seconds, all.latency_s.size(),
      static_cast<unsigned long long>(all.errors), static_cast<unsigned long long>(all.late),
      static_cast<unsigned long long>(all.incomplete), all.latency_s.size() / o.seconds,
      Percentile(all.latency_s, 0.50), Percentile(all.latency_s, 0.90),
      Percentile(all.latency_s, 0.99), Percentile(all.latency_s, 0.999),
      all.latency_s.empty() ? 0.0 : all.latency_s.back() * 1000.0, cpu);
  if (!all.first_error.empty())
    std::printf(", \"first_error\": \"%s\"", JsonEscape(all.first_error).c_str());
  std::printf("}\n");
  return 0;
}
