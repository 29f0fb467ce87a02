#include "proxy_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "core/process.h"
#include "net/http.h"

namespace seccloud::integration {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

int ConnectFrom(const std::string& source, const std::string& ip, uint16_t port,
                std::string* error) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &dst.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    *error = std::string("connect: ") + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

int RawGet(const std::string& source, const std::string& proxy_ip, const std::string& url,
           std::string* error) {
  const int fd = ConnectFrom(source, proxy_ip, kProxyPort, error);
  if (fd < 0) {
    *error = url + ": " + *error;
    return -1;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const std::string host = url.substr(7, url.find('/', 7) - 7);
  const std::string req =
      "GET " + url + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    *error = url + ": send: " + strerror(errno);
    close(fd);
    return -1;
  }
  std::string got;
  char buf[16384];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      *error = url + ": recv: " + strerror(errno);
      close(fd);
      return -1;
    }
    if (n == 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  // "HTTP/1.1 200 OK\r\n…", and a body complete by its Content-Length.
  const size_t head_end = got.find("\r\n\r\n");
  if (got.rfind("HTTP/1.1 ", 0) != 0 || got.size() < 12 || head_end == std::string::npos) {
    *error = url + ": not an HTTP response: " + got.substr(0, 200);
    return -1;
  }
  static const std::regex kLength("\r\n[Cc]ontent-[Ll]ength: *([0-9]+)\r\n");
  std::smatch m;
  const std::string head = got.substr(0, head_end + 2);
  if (!std::regex_search(head, m, kLength) || got.size() - head_end - 4 != std::stoul(m[1].str())) {
    *error = url + ": truncated or unframed response: " + head;
    return -1;
  }
  return std::stoi(got.substr(9, 3));
}

BrowsingLoad::BrowsingLoad(std::string proxy_ip, const std::string& source_prefix, int terminals,
                           std::string allowed, std::function<std::string(int)> blocked)
    : proxy_ip_(std::move(proxy_ip)), allowed_(std::move(allowed)), blocked_(std::move(blocked)) {
  for (int t = 0; t < terminals; ++t) {
    threads_.emplace_back([this, source = source_prefix + std::to_string(t + 1)] {
      for (int i = 0; !stop_; ++i) {
        const bool blocked = i % 2 == 1;
        const std::string url = blocked ? blocked_(i) : allowed_;
        std::string error;
        const int status = RawGet(source, proxy_ip_, url, &error);
        if (status != (blocked ? 403 : 200)) {
          std::lock_guard lock(mu_);
          failures_.push_back(error.empty() ? url + ": status " + std::to_string(status) : error);
        }
        ++done_;
      }
    });
  }
}

void BrowsingLoad::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::vector<std::string> BrowsingLoad::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

ProxyFixture::ProxyFixture(std::string prefix, int proxy_net, int origin_net, uint16_t admin_port)
    : admin_port_(admin_port),
      prefix_(std::move(prefix)),
      proxy_net_(proxy_net),
      origin_net_(origin_net) {}

void ProxyFixture::SetUp() {
  binary_ = SECCLOUD_BINARY;
  // Another build's seccloud under the same tests: a new test is run against the base's binary
  // to show it fails there.
  if (const char* other = std::getenv("SECCLOUD_TEST_BINARY"); other != nullptr && *other != 0)
    binary_ = other;
  dir_ = FreshTestDir(prefix_);
  const std::string tail = PidAddressTail();
  ip_ = "127." + std::to_string(proxy_net_) + "." + tail;
  origin_ip_ = "127." + std::to_string(origin_net_) + "." + tail;
}

void ProxyFixture::TearDown() {
  StopProcess(proxy_pid_, "proxy");
  StopServices();
  origin_.reset();
  if (!HasFailure()) fs::remove_all(dir_);
}

void ProxyFixture::MakeTestPki() {
  auto pki = RunCommand(
      {std::string(SECCLOUD_SOURCE_DIR) + "/tests/tls/make-test-pki.sh", (dir_ / "pki").string()},
      dir_);
  ASSERT_EQ(pki.exit_code, 0) << pki.output;
}

void ProxyFixture::StartOrigin(uint16_t port, std::vector<NginxTlsServer> tls) {
  auto origin = NginxOrigin::Start(dir_ / "origin", origin_ip_, port, std::move(tls));
  ASSERT_TRUE(origin) << origin.error().ToString();
  origin_ = std::move(*origin);
}

void ProxyFixture::InitCa() {
  auto ca = RunCommand({binary_, "ca", "init", "--config", ConfigPath()}, dir_);
  ASSERT_EQ(ca.exit_code, 0) << ca.output;
  ASSERT_TRUE(fs::exists(CaPem())) << ca.output;
}

std::string ProxyFixture::RenderConfig(const ProxyConfigParts& parts) const {
  std::string hosts;
  for (const auto& [name, address] : parts.hosts)
    hosts += "    " + name + ": ['" + (address.empty() ? origin_ip_ : address) + "']\n";
  return "node: {name: test-gw, state_dir: state}\n"
         "events: {spool_dir: spool}\n"
         "supervisor:\n"
         "  admin: '" +
         ip_ + ":" + std::to_string(admin_port_) +
         "'\n"
         "  drain_timeout: 1s\n" +
         parts.supervisor + "tenants:\n" + parts.tenants +
         "proxy:\n"
         "  listen: ['" +
         ip_ + ":" + std::to_string(kProxyPort) +
         "']\n"
         "  workers: 2\n"
         "  system_resolver: false\n"
         "  hosts:\n" +
         hosts + parts.proxy + parts.rest;
}

void ProxyFixture::Launch(const std::string& subcommand, const std::string& name, pid_t* pid) {
  auto spawned = Spawn(SpawnOptions{
      {binary_, subcommand, "--config", ConfigPath()}, {}, {}, dir_ / (name + ".out")});
  ASSERT_TRUE(spawned) << spawned.error().ToString();
  *pid = *spawned;
}

void ProxyFixture::StartProxy(const std::string& config) {
  std::ofstream(ConfigPath()) << config;
  ASSERT_NO_FATAL_FAILURE(Launch("proxy", "proxy", &proxy_pid_));
  ASSERT_TRUE(WaitFor([&] { return CanConnect(ip_, kProxyPort) && Healthy(); }, 10s))
      << ProxyOutput();
}

void ProxyFixture::StopProcess(pid_t& pid, const std::string& name, bool expect_running) {
  if (pid <= 0) return;
  int status = 0;
  if (expect_running) {
    EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0) << "the " << name << " died during the test:\n"
                                                 << ReadFile(dir_ / (name + ".out"));
  }
  kill(pid, SIGTERM);
  if (!WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 5s)) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  pid = 0;
}

Endpoint ProxyFixture::Admin() const {
  return Endpoint{*IpAddress::Parse(ip_), static_cast<uint16_t>(admin_port_ + 1)};
}

std::optional<std::string> ProxyFixture::Health() {
  auto r = net::HttpRequestSync(Admin(), "GET", "/healthz", "", 1s);
  if (!r || r->status != 200) return std::nullopt;
  return r->body;
}

double ProxyFixture::Metric(const std::string& name) {
  auto r = net::HttpRequestSync(Admin(), "GET", "/metrics", "", 2s);
  if (!r) return -1;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

CommandResult ProxyFixture::Curl(const std::vector<std::string>& args,
                                 const CurlOptions& options) const {
  std::vector<std::string> argv = {
      "curl",        "-sS",
      "--max-time",  std::to_string(options.max_time_s),
      "--proxy",     "http://" + ip_ + ":" + std::to_string(kProxyPort),
      "--interface", options.source,
      "-w",          options.write_out};
  if (options.trust_interception_ca) {
    argv.push_back("--cacert");
    argv.push_back(CaPem());
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, dir_);
}

std::vector<json::object> ProxyFixture::Events(std::string_view dataset) {
  std::vector<json::object> out;
  for (auto& e : SpoolEvents(dir_ / "spool", "proxy"))
    if (Str(e, "event.dataset") == dataset) out.push_back(std::move(e));
  return out;
}

std::vector<json::object> ProxyFixture::EventsFor(const std::string& url) {
  std::vector<json::object> out;
  for (auto& e : Events())
    if (Str(e, "url.full") == url) out.push_back(std::move(e));
  return out;
}

std::string ProxyFixture::DescribeEvents() {
  std::string s;
  for (const auto& e : Events()) s += json::serialize(e) + "\n";
  return s;
}

json::object ProxyFixture::EventFor(const std::string& url) {
  EXPECT_TRUE(WaitFor([&] { return !EventsFor(url).empty(); }, 10s))
      << "no event for " << url << "; events:\n"
      << DescribeEvents();
  std::this_thread::sleep_for(300ms);
  auto events = EventsFor(url);
  EXPECT_EQ(events.size(), 1u) << url << "\n" << DescribeEvents();
  return events.empty() ? json::object{} : events[0];
}

}  // namespace seccloud::integration
