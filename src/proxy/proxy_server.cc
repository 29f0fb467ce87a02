// The forward proxy's accept loop and workers (proxy_service.h); one client connection is a
// ClientSession (client_session.h). Split along its seams in proxy19: the relay (relay.h), the
// scan holds (scan_hold.h), CONNECT and TLS interception (tunnel.cc), the access event
// (access_event.cc).

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <exception>

#include "net/service_host.h"
#include "proxy/client_session.h"
#include "proxy/proxy.h"
#include "proxy/proxy_service.h"

namespace seccloud::proxy {
namespace proxy_internal {

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

asio::awaitable<void> Worker::Serve(tcp::socket socket) {
  active_.fetch_add(1);
  struct Done {
    std::atomic<int64_t>& n;
    ~Done() { n.fetch_sub(1); }
  } done{active_};
  socket.set_option(tcp::no_delay(true));
  ClientSession session(service_, io_, pool_, std::move(socket));
  co_await session.Run();
}

}  // namespace proxy_internal

using namespace proxy_internal;  // NOLINT(google-build-using-namespace)

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
    if (next->proxy.listen != now.listen || next->proxy.workers != now.workers ||
        next->proxy.tls.intercept != now.tls.intercept || next->proxy.tls.ca_dir != now.tls.ca_dir)
      return MakeError(Errc::kInvalidArgument,
                       "proxy.listen, proxy.workers and proxy.tls.intercept/ca_dir change only "
                       "with a restart");
    return service.Reload(*next);
  });
  service.Run();
  std::fprintf(stderr, "seccloud proxy: listening on");
  for (const Endpoint& e : (*host)->config()->proxy.listen)
    std::fprintf(stderr, " %s", e.ToString().c_str());
  std::fprintf(stderr, ", admin on %s\n", (*host)->admin_endpoint().ToString().c_str());
  return (*host)->Run([&](Clock::time_point deadline) { service.Drain(deadline); });
}

}  // namespace seccloud::proxy
