#pragma once
// What the proxy's integration tests share (R3, R8–R10): loopback addresses and a directory of the
// test process's own, a real nginx origin, `seccloud proxy` (and scand, `seccloud run`) started
// from a rendered configuration and stopped by pid, curl and raw sockets as the terminal, the
// proxy's admin endpoint, and its events read back from the spool.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/ip.h"
#include "nginx_origin.h"
#include "test_util.h"

namespace seccloud::integration {

// The proxy's client port in every proxy test (each test process has addresses of its own).
inline constexpr uint16_t kProxyPort = 3128;

// A TCP connection to ip:port from the local address `source` (a terminal's); the socket, or -1
// with *error ("connect: …") set.
int ConnectFrom(const std::string& source, const std::string& ip, uint16_t port,
                std::string* error);

// One HTTP/1.1 GET of `url` (absolute, http://) through the proxy at proxy_ip:kProxyPort on a
// fresh connection from `source`, read to the close (10 s socket timeouts). The status code, or -1
// with *error when the exchange failed or the response is not complete by its Content-Length.
// Thread-safe, no child process.
int RawGet(const std::string& source, const std::string& proxy_ip, const std::string& url,
           std::string* error);

// Terminals browsing through the proxy, each on a thread of its own with RawGet, until Stop():
// each alternates `allowed` (which must answer 200) and blocked(i) (403, a fresh URL each time
// so that no cache answers it). Any other answer is a failure: a request a policy swap broke.
class BrowsingLoad {
 public:
  // `terminals` threads; the t-th (from 0) browses from source_prefix + (t + 1).
  BrowsingLoad(std::string proxy_ip, const std::string& source_prefix, int terminals,
               std::string allowed, std::function<std::string(int)> blocked);
  ~BrowsingLoad() { Stop(); }
  BrowsingLoad(const BrowsingLoad&) = delete;
  BrowsingLoad& operator=(const BrowsingLoad&) = delete;

  void Stop();
  int done() const { return done_; }
  // What failed, each as "<url>: <what happened>"; complete after Stop().
  std::vector<std::string> failures() const;

 private:
  const std::string proxy_ip_;
  const std::string allowed_;
  const std::function<std::string(int)> blocked_;
  std::atomic<bool> stop_ = false;
  std::atomic<int> done_ = 0;
  mutable std::mutex mu_;
  std::vector<std::string> failures_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// The parts of seccloud.yaml a test varies; RenderConfig puts them around the common ones.
struct ProxyConfigParts {
  std::string supervisor{};  // more lines under `supervisor:` ("  key: value\n")
  std::string tenants{};     // the lines under `tenants:`
  // Names the proxy resolves (proxy.hosts), each to an address; an empty address is the origin's.
  std::vector<std::pair<std::string, std::string>> hosts{};
  std::string proxy{};  // more lines under `proxy:` ("  key: value\n")
  std::string rest{};   // top-level sections after `proxy:`
};

// curl's options besides the proxy and the request's own arguments.
struct CurlOptions {
  std::string source = "127.10.0.5";  // --interface: the terminal
  int max_time_s = 60;
  bool trust_interception_ca = false;                // --cacert <dir>/ca/ca.pem (after InitCa)
  std::string write_out = "status=%{http_code}\\n";  // -w, printed after the body
};

class ProxyFixture : public ::testing::Test {
 protected:
  // `prefix` names the test directory; the proxy listens on 127.<proxy_net>.x.y, the origin on
  // 127.<origin_net>.x.y (x.y from the pid, so test processes run in parallel); the supervisor's
  // admin endpoint is on admin_port, the proxy's own on admin_port + 1.
  ProxyFixture(std::string prefix, int proxy_net, int origin_net, uint16_t admin_port);

  void SetUp() override;
  // Stops the proxy (expecting it alive), then StopServices(), then nginx; keeps the directory of
  // a failed test for its logs.
  void TearDown() override;
  // The test's other processes, stopped between the proxy and the origin.
  virtual void StopServices() {}

  // tests/tls/make-test-pki.sh into <dir>/pki (asserts).
  void MakeTestPki();
  // nginx on origin_ip_:port (and its TLS servers) under <dir>/origin (asserts).
  void StartOrigin(uint16_t port, std::vector<NginxTlsServer> tls = {});
  // `seccloud ca init` for the configuration at ConfigPath() (asserts).
  void InitCa();

  std::string RenderConfig(const ProxyConfigParts& parts) const;
  std::string ConfigPath() const { return (dir_ / "seccloud.yaml").string(); }
  std::string CaPem() const { return (dir_ / "ca" / "ca.pem").string(); }

  // `seccloud <subcommand> --config ConfigPath()`, its output in <dir>/<name>.out (asserts).
  void Launch(const std::string& subcommand, const std::string& name, pid_t* pid);
  // Writes `config` to ConfigPath(), starts the proxy and waits until it accepts connections and
  // its /healthz answers 200 (asserts).
  void StartProxy(const std::string& config);
  // SIGTERM, and SIGKILL to its process group after 5 s; with `expect_running`, a process that
  // died before is a failure showing <dir>/<name>.out. Sets *pid to 0.
  void StopProcess(pid_t& pid, const std::string& name, bool expect_running = true);
  std::string ProxyOutput() const { return ReadFile(dir_ / "proxy.out"); }

  // The proxy's own admin endpoint.
  Endpoint Admin() const;
  // /healthz's body when it answers 200.
  std::optional<std::string> Health();
  bool Healthy() { return Health().has_value(); }
  // A counter or gauge from the proxy's /metrics; -1 when absent.
  double Metric(const std::string& name);

  // curl through the proxy; the body (or curl's error) is followed by the write-out line.
  CommandResult Curl(const std::vector<std::string>& args, const CurlOptions& options) const;

  // Every event of `dataset` in the proxy's spool so far, checking that the spool reads without
  // error (no sequence gap).
  std::vector<boost::json::object> Events(std::string_view dataset = "proxy.access");
  // The proxy.access events of the request for `url` (its url.full).
  std::vector<boost::json::object> EventsFor(const std::string& url);
  std::string DescribeEvents();
  // The one proxy.access event for `url`, waited for (and a moment more, to catch a duplicate).
  boost::json::object EventFor(const std::string& url);

  std::string binary_;
  std::filesystem::path dir_;
  std::string ip_;         // the proxy's listening address
  std::string origin_ip_;  // nginx's
  std::unique_ptr<NginxOrigin> origin_;
  pid_t proxy_pid_ = 0;
  const uint16_t admin_port_;

 private:
  const std::string prefix_;
  const int proxy_net_;
  const int origin_net_;
};

}  // namespace seccloud::integration
