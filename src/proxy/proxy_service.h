// Internal to the proxy module: the proxy service — its workers (one io_context and thread each,
// SO_REUSEPORT listeners, an upstream pool each), the URL filter and its feeds, the TLS
// interception's caches, the scan pool and the hold budget. Not a public header.

#pragma once

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "net/service_host.h"
#include "net/tls.h"
#include "policy/url_filter.h"
#include "proxy/hold_budget.h"
#include "proxy/proxy_internal.h"
#include "proxy/warn_override.h"

namespace seccloud::proxy::proxy_internal {

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
  static bool StillOpen(beast::tcp_stream& s) { return SocketQuiet(s.socket().native_handle()); }

  size_t max_idle_;
  milliseconds idle_timeout_;
  std::map<std::string, std::deque<Idle>> idle_;
};

class ProxyService;

class Worker {
 public:
  Worker(ProxyService& service, const ProxyConfig& cfg)
      : service_(service), io_(1), pool_(cfg.pool_max_idle_per_host, cfg.pool_idle_timeout) {}

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
    if (ec)
      return MakeError(Errc::kUnavailable, "proxy.listen " + at.ToString() + ": " + ec.message());
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
    host.metrics().AddGaugeFunction("seccloud_proxy_scan_held_bytes",
                                    "Bytes of uploads and responses held for the malware scan", "",
                                    [this] { return static_cast<double>(hold_budget_.held()); });
  }
  ~ProxyService() {
    host_.metrics().RemoveGaugeFunction("seccloud_proxy_connections_active");
    host_.metrics().RemoveGaugeFunction("seccloud_proxy_scan_held_bytes");
    if (upstream_tls_) {
      host_.metrics().RemoveGaugeFunction("seccloud_proxy_tls_sessions_stored");
      host_.metrics().RemoveGaugeFunction("seccloud_proxy_tls_session_cache_hosts");
    }
  }

  Status Start() {
    auto cfg = host_.config();
    const ProxyConfig& pc = cfg->proxy;
    if (pc.tls.intercept) {
      auto ca = net::InterceptionCa::Load(pc.tls.ca_dir);
      if (!ca)
        return MakeError(ca.error().code,
                         "proxy.tls: " + ca.error().ToString() +
                             " (create the interception CA with `seccloud ca init --config FILE`)");
      net::LeafCacheOptions leaf;
      leaf.max_entries = pc.tls.leaf_cache_size;
      ASSIGN_OR_RETURN(leaves_, net::LeafCertCache::Create(*ca, leaf));
      net::UpstreamTlsOptions up;
      up.extra_ca_files = pc.tls.extra_trust;
      up.handshake_timeout = pc.timeouts.connect;
      ASSIGN_OR_RETURN(upstream_tls_, net::UpstreamTls::Create(up));
      host_.metrics().AddGaugeFunction(
          "seccloud_proxy_tls_sessions_stored",
          "TLS sessions from origins stored for resumption since start", "",
          [this] { return static_cast<double>(upstream_tls_->session_stats().stored); });
      host_.metrics().AddGaugeFunction(
          "seccloud_proxy_tls_session_cache_hosts",
          "Origins (host:port) with sessions held for resumption", "",
          [this] { return static_cast<double>(upstream_tls_->session_stats().entries); });
    }
    unsigned n = pc.workers ? pc.workers : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) {
      auto w = std::make_unique<Worker>(*this, pc);
      for (const Endpoint& e : pc.listen) RETURN_IF_ERROR(w->Listen(e));
      workers_.push_back(std::move(w));
    }
    ASSIGN_OR_RETURN(auto filter, policy::UrlFilter::Build(cfg->policy));
    filter_ = std::make_unique<policy::UrlFilterHandle>(std::move(filter));
    fetcher_ = policy::MakeDefaultFeedFetcher();
    feeds_ = std::make_unique<policy::FeedUpdater>(
        *filter_, policy::FeedUpdater::Options{fetcher_.get(), {}, &host_.event_writer()});
    host_.health().Set("listeners", true);
    return {};
  }

  // A reload compiles the new policy first; a policy that does not build refuses the reload.
  Status Reload(const Config& next) {
    ASSIGN_OR_RETURN(auto filter, policy::UrlFilter::Build(next.policy));
    std::lock_guard lock(policy_mu_);
    filter_->Set(std::move(filter));
    return {};
  }

  void Run() {
    for (auto& w : workers_) w->Start();
    feed_thread_ = std::thread([this] {
      std::unique_lock lock(policy_mu_);
      while (!stopping_) {
        feeds_->Poll();
        const auto& errors = feeds_->last_errors();
        std::string problem;
        for (const auto& [name, why] : errors)
          if (!why.empty()) problem = name + ": " + why;
        host_.health().Set("feeds", true, problem);  // a rejected feed keeps the old data
        stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      }
    });
  }

  // Stops accepting, waits for in-flight connections until the deadline, then stops workers.
  void Drain(Clock::time_point deadline) {
    {
      std::lock_guard lock(policy_mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    if (feed_thread_.joinable()) feed_thread_.join();
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
  // TLS inspection is set up at start (the CA does not change with a reload).
  bool tls_ready() const { return leaves_ != nullptr && upstream_tls_ != nullptr; }
  net::LeafCertCache& leaf_cache() { return *leaves_; }
  net::UpstreamTls& upstream_tls() { return *upstream_tls_; }
  policy::Verdict Judge(const policy::UrlRequest& r, std::string_view tenant) const {
    return filter_->Evaluate(r, tenant);
  }
  WarnOverrides& warn_overrides() { return warn_; }
  // Scans run here: the scand client blocks, the workers' io_contexts must not.
  asio::thread_pool& scan_pool() { return scan_pool_; }
  HoldBudget& hold_budget() { return hold_budget_; }

 private:
  HoldBudget hold_budget_;
  std::unique_ptr<policy::UrlFilterHandle> filter_;
  std::unique_ptr<policy::FeedFetcher> fetcher_;
  std::unique_ptr<policy::FeedUpdater> feeds_;
  std::mutex policy_mu_;  // one snapshot writer at a time: feed polls and reloads
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread feed_thread_;
  WarnOverrides warn_;
  asio::thread_pool scan_pool_{4};
  net::ServiceHost& host_;
  ProxyMetrics metrics_;
  std::unique_ptr<net::LeafCertCache> leaves_;
  std::unique_ptr<net::UpstreamTls> upstream_tls_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace seccloud::proxy::proxy_internal
