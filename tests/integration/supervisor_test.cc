// R24: `seccloud run` starts what the configuration names, restarts a killed service and records
// it, refuses a broken reload while the old configuration keeps running, and drains on SIGTERM.
// These tests run the real seccloud binary against real child processes (python3's HTTP server,
// sh) on a loopback address of their own.

#include "supervisor/supervisor.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "core/process.h"
#include "core/spool_reader.h"
#include "net/http.h"
#include "test_util.h"

namespace seccloud {
namespace {

using integration::CommandResult;
using integration::RunCommand;
using integration::WaitFor;

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = SECCLOUD_BINARY;
    dir_ = integration::FreshTestDir("sup");
    fs::create_directories(dir_ / "www");
    std::ofstream(dir_ / "www" / "healthz") << "ok\n";
    // A loopback address of this process's own, so parallel tests never share a port.
    ip_ = "127.77." + integration::PidAddressTail();
    admin_port_ = 19500;
    web_port_ = 18080;
  }

  void TearDown() override {
    if (supervisor_pid_ > 0) {
      kill(supervisor_pid_, SIGKILL);
      waitpid(supervisor_pid_, nullptr, 0);
    }
    // Children live in their own process groups; make sure none outlives the test.
    for (pid_t p : child_pids_) kill(-p, SIGKILL);
    fs::remove_all(dir_);
  }

  std::string Config(const std::string& programs) {
    return "node: {name: test-gw, state_dir: state}\n"
           "events: {spool_dir: spool}\n"
           "supervisor:\n"
           "  admin: " +
           ip_ + ":" + std::to_string(admin_port_) +
           "\n"
           "  restart_backoff: {initial: 100ms, max: 400ms}\n"
           "  stable_after: 30s\n"
           "  drain_timeout: 1s\n"
           "  health_interval: 200ms\n"
           "tenants:\n"
           "  - {id: tsu, name: 津市, networks: [127.10.0.0/16]}\n" +
           programs;
  }

  std::string WebProgram() {
    return "  - name: web\n"
           "    command: [python3, -m, http.server, --bind, " +
           ip_ + ", " + std::to_string(web_port_) +
           "]\n"
           "    working_dir: www\n"
           "    health_url: http://" +
           ip_ + ":" + std::to_string(web_port_) + "/healthz\n";
  }

  void WriteConfig(const std::string& text) { std::ofstream(dir_ / "seccloud.yaml") << text; }
  std::string ConfigPath() const { return (dir_ / "seccloud.yaml").string(); }

  void StartSupervisor() {
    auto pid = Spawn(
        SpawnOptions{{binary_, "run", "--config", ConfigPath()}, {}, {}, dir_ / "supervisor.out"});
    ASSERT_TRUE(pid) << pid.error().ToString();
    supervisor_pid_ = *pid;
  }

  // GET /status from the supervisor's admin address; null when it does not answer.
  json::object Status() {
    Endpoint admin{*IpAddress::Parse(ip_), static_cast<uint16_t>(admin_port_)};
    auto r = net::HttpRequestSync(admin, "GET", "/status", "", 2s);
    if (!r || r->status != 200) return {};
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    return ec || !v.is_object() ? json::object{} : v.as_object();
  }

  json::object Service(const std::string& name) {
    json::object st = Status();
    if (auto* services = st.if_contains("services"); services && services->is_array())
      for (auto& s : services->as_array())
        if (s.as_object().at("name").as_string() == name) return s.as_object();
    return {};
  }

  bool ServiceIs(const std::string& name, const std::string& state, const std::string& health) {
    json::object s = Service(name);
    return !s.empty() && s.at("state").as_string() == state && s.at("health").as_string() == health;
  }

  pid_t PidOf(const std::string& name) {
    json::object s = Service(name);
    return s.empty() ? 0 : static_cast<pid_t>(s.at("pid").as_int64());
  }

  // Every event the supervisor wrote, in order; verifies there is no sequence gap.
  std::vector<json::object> Events() {
    return integration::SpoolEvents(dir_ / "spool", "supervisor");
  }

  std::vector<json::object> EventsWithAction(const std::string& action) {
    std::vector<json::object> out;
    for (auto& e : Events())
      if (e.at("event").as_object().at("action").as_string() == action) out.push_back(e);
    return out;
  }

  std::string SupervisorOutput() {
    std::ifstream in(dir_ / "supervisor.out");
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  std::string binary_;
  fs::path dir_;
  std::string ip_;
  int admin_port_ = 0;
  int web_port_ = 0;
  pid_t supervisor_pid_ = 0;
  std::vector<pid_t> child_pids_;
};

TEST_F(SupervisorTest, StartsProgramsAndStatusShowsThemHealthy) {
  WriteConfig(
      Config("programs:\n" + WebProgram() + "  - name: idle\n    command: [sleep, '3600']\n"));
  StartSupervisor();
  ASSERT_TRUE(WaitFor([&] { return ServiceIs("web", "running", "healthy"); }))
      << SupervisorOutput();
  ASSERT_TRUE(ServiceIs("idle", "running", "healthy"));
  child_pids_ = {PidOf("web"), PidOf("idle")};

  auto status = RunCommand({binary_, "status", "--config", ConfigPath()}, dir_);
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("supervisor"));
  EXPECT_THAT(status.output, HasSubstr("web"));
  EXPECT_THAT(status.output, HasSubstr("idle"));
  EXPECT_THAT(status.output, HasSubstr("healthy"));

  // The supervisor's own admin endpoints.
  Endpoint admin{*IpAddress::Parse(ip_), static_cast<uint16_t>(admin_port_)};
  auto health = net::HttpRequestSync(admin, "GET", "/healthz", "", 2s);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_THAT(health->body, HasSubstr("\"status\":\"ok\""));
  auto metrics = net::HttpRequestSync(admin, "GET", "/metrics", "", 2s);
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("seccloud_supervisor_service_up{service=\"web\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("# TYPE seccloud_supervisor_uptime_seconds gauge"));
}

TEST_F(SupervisorTest, AKilledServiceComesBackAndSaysSo) {
  WriteConfig(Config("programs:\n" + WebProgram()));
  StartSupervisor();
  ASSERT_TRUE(WaitFor([&] { return ServiceIs("web", "running", "healthy"); }))
      << SupervisorOutput();
  const pid_t first = PidOf("web");
  ASSERT_GT(first, 0);
  ASSERT_EQ(kill(first, SIGKILL), 0);

  ASSERT_TRUE(WaitFor([&] {
    json::object s = Service("web");
    return !s.empty() && s.at("restarts").to_number<int64_t>() >= 1 &&
           s.at("state").as_string() == "running" && s.at("pid").as_int64() != first &&
           s.at("health").as_string() == "healthy";
  })) << SupervisorOutput();
  child_pids_ = {PidOf("web")};
  EXPECT_THAT(Service("web").at("last_exit").as_string(), HasSubstr("SIGKILL"));

  auto crashed = EventsWithAction("crashed");
  ASSERT_EQ(crashed.size(), 1u);
  EXPECT_EQ(crashed[0].at("event").as_object().at("outcome").as_string(), "failure");
  EXPECT_EQ(crashed[0].at("process").as_object().at("pid").as_int64(), first);
  EXPECT_THAT(json::serialize(crashed[0]), HasSubstr("killed by SIGKILL"));
  EXPECT_EQ(EventsWithAction("restarted").size(), 1u);

  auto status = RunCommand({binary_, "status", "--config", ConfigPath()}, dir_);
  EXPECT_EQ(status.exit_code, 0) << status.output;
}

TEST_F(SupervisorTest, RestartsBackOffExponentially) {
  WriteConfig(Config("programs:\n  - name: flaky\n    command: [sh, -c, 'exit 3']\n"));
  StartSupervisor();
  ASSERT_TRUE(WaitFor([&] { return EventsWithAction("crashed").size() >= 5; }))
      << SupervisorOutput();
  std::vector<int64_t> delays;
  for (auto& e : EventsWithAction("crashed")) {
    delays.push_back(
        e.at("seccloud").as_object().at("service").as_object().at("restart_in_ms").as_int64());
    EXPECT_THAT(json::serialize(e), HasSubstr("exited with status 3"));
  }
  ASSERT_GE(delays.size(), 5u);
  EXPECT_EQ(delays[0], 100);
  EXPECT_EQ(delays[1], 200);
  EXPECT_EQ(delays[2], 400);
  EXPECT_EQ(delays[3], 400);  // capped at max
  auto status = RunCommand({binary_, "status", "--config", ConfigPath()}, dir_);
  EXPECT_EQ(status.exit_code, 1) << "a crash-looping service is not healthy\n" << status.output;
}

TEST_F(SupervisorTest, ABrokenReloadIsRefusedAndTheOldConfigurationKeepsRunning) {
  const std::string good = Config("programs:\n" + WebProgram());
  WriteConfig(good);
  StartSupervisor();
  ASSERT_TRUE(WaitFor([&] { return ServiceIs("web", "running", "healthy"); }))
      << SupervisorOutput();
  const pid_t web = PidOf("web");

  WriteConfig(good + "  - name: other\n    command: [sleep, '3600']\n    colour: red\n" +
              "bogus: 1\n");
  auto reload = RunCommand({binary_, "reload", "--config", ConfigPath()}, dir_);
  EXPECT_EQ(reload.exit_code, 1) << reload.output;
  EXPECT_THAT(reload.output, HasSubstr("reload refused"));
  EXPECT_THAT(reload.output, HasSubstr("programs[1].colour: unknown key"));
  EXPECT_THAT(reload.output, HasSubstr("bogus: unknown key"));
  EXPECT_EQ(PidOf("web"), web);
  EXPECT_TRUE(ServiceIs("web", "running", "healthy"));
  EXPECT_TRUE(Service("other").empty());
  auto refused = EventsWithAction("reload-refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(json::serialize(refused[0]), HasSubstr("colour: unknown key"));

  // SIGHUP takes the same path.
  kill(supervisor_pid_, SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return EventsWithAction("reload-refused").size() == 2; }));

  // A valid reload adds the new program and leaves the unchanged one alone.
  WriteConfig(good + "  - name: other\n    command: [sleep, '3600']\n");
  reload = RunCommand({binary_, "reload", "--config", ConfigPath()}, dir_);
  EXPECT_EQ(reload.exit_code, 0) << reload.output;
  ASSERT_TRUE(WaitFor([&] { return ServiceIs("other", "running", "healthy"); }));
  EXPECT_EQ(PidOf("web"), web);
  EXPECT_EQ(EventsWithAction("reloaded").size(), 1u);
  child_pids_ = {web, PidOf("other")};
}

TEST_F(SupervisorTest, SigtermDrainsEveryChildWithinTheDeadline) {
  WriteConfig(Config("programs:\n" + WebProgram() +
                     "  - name: stubborn\n"
                     "    command: [sh, -c, 'trap \"\" TERM; while :; do sleep 0.1; done']\n"));
  StartSupervisor();
  ASSERT_TRUE(WaitFor([&] {
    return ServiceIs("web", "running", "healthy") && ServiceIs("stubborn", "running", "healthy");
  })) << SupervisorOutput();
  const pid_t web = PidOf("web"), stubborn = PidOf("stubborn");
  child_pids_ = {web, stubborn};

  ASSERT_EQ(kill(supervisor_pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_TRUE(
      WaitFor([&] { return waitpid(supervisor_pid_, &status, WNOHANG) == supervisor_pid_; }, 10s))
      << SupervisorOutput();
  supervisor_pid_ = 0;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << SupervisorOutput();
  EXPECT_NE(kill(web, 0), 0);
  EXPECT_NE(kill(stubborn, 0), 0);
  EXPECT_EQ(EventsWithAction("killed").size(), 1u) << "stubborn ignored SIGTERM";
  EXPECT_FALSE(fs::exists(supervisor::StateFilePath(ConfigPath())));
}

TEST_F(SupervisorTest, OnlyOneSupervisorPerStateDirectory) {
  WriteConfig(Config(""));
  StartSupervisor();
  ASSERT_TRUE(WaitFor([&] { return !Status().empty(); })) << SupervisorOutput();
  auto second = RunCommand({binary_, "run", "--config", ConfigPath()}, dir_);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.output, HasSubstr("another supervisor already runs"));
}

TEST_F(SupervisorTest, AProgramThatCannotStartIsReportedAndRetried) {
  WriteConfig(Config("programs:\n  - name: ghost\n    command: [/nonexistent/program]\n"));
  StartSupervisor();
  ASSERT_TRUE(WaitFor([&] { return EventsWithAction("start-failed").size() >= 2; }))
      << SupervisorOutput();
  EXPECT_THAT(json::serialize(EventsWithAction("start-failed")[0]),
              HasSubstr("cannot execute /nonexistent/program: No such file or directory"));
}

// Sends one proxy request from `source` and reads the answer until the proxy closes.
std::string ProxyRequest(const std::string& source, const std::string& proxy_ip, int port,
                         const std::string& url) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, proxy_ip.c_str(), &to.sin_addr);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
    std::string req = "GET " + url + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    (void)!write(fd, req.data(), req.size());
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

TEST_F(SupervisorTest, ServicesDropRootAfterBindingAndKeepWritingEvents) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
  std::string cfg = Config("");
  cfg.replace(cfg.find("node: {name: test-gw, state_dir: state}"),
              std::string("node: {name: test-gw, state_dir: state}").size(),
              "node: {name: test-gw, state_dir: state, user: nobody}");
  cfg.replace(cfg.find("events: {spool_dir: spool}"),
              std::string("events: {spool_dir: spool}").size(),
              "events: {spool_dir: spool, rotate_size: 64KiB}");
  // Port 81: binding it needs root, so the proxy must bind first and drop afterwards.
  cfg += "proxy:\n  listen: [" + ip_ + ":81]\n  system_resolver: false\n";
  WriteConfig(cfg);
  fs::permissions(dir_, fs::perms::others_exec | fs::perms::others_read, fs::perm_options::add);
  StartSupervisor();
  ASSERT_TRUE(WaitFor([&] { return ServiceIs("proxy", "running", "healthy"); }))
      << SupervisorOutput();
  const pid_t pid = PidOf("proxy");
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line, uid_line;
  while (std::getline(status, line))
    if (line.rfind("Uid:", 0) == 0) uid_line = line;
  const std::string nobody = std::to_string(getpwnam("nobody")->pw_uid);
  EXPECT_EQ(uid_line, "Uid:\t" + nobody + "\t" + nobody + "\t" + nobody + "\t" + nobody);

  // Enough denied requests (the source is in no tenant) to rotate the 64 KiB spool file twice:
  // the new files are created as nobody. The writer rotates between batches only, and a batch
  // of events written together may pass 64 KiB: with 300 requests (~190 KiB of spool) a run
  // now and then ended with 2 files (3 of 15 runs on a loaded machine); 600 (~380 KiB) give 7-8.
  constexpr int kDenied = 600;
  for (int i = 0; i < kDenied; ++i) {
    std::string answer =
        ProxyRequest("127.200.0.9", ip_, 81, "http://www.example.com/" + std::to_string(i));
    ASSERT_NE(answer.find("403"), std::string::npos) << answer;
  }
  ASSERT_EQ(kill(supervisor_pid_, SIGTERM), 0);
  int wstatus = 0;
  ASSERT_TRUE(
      WaitFor([&] { return waitpid(supervisor_pid_, &wstatus, WNOHANG) == supervisor_pid_; }));
  supervisor_pid_ = 0;
  auto reader = SpoolReader::Open(dir_ / "spool" / "proxy", "proxy");
  ASSERT_TRUE(reader);
  int denied = 0;
  while (true) {
    auto r = (*reader)->Next();
    ASSERT_TRUE(r) << r.error().ToString();
    if (!*r) break;
    if ((*r)->event.at("event").as_object().at("action").as_string() == "denied") ++denied;
  }
  EXPECT_EQ(denied, kDenied);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "spool" / "proxy"))
    if (e.path().extension() == ".ndjson") ++files;
  EXPECT_GE(files, 3u);
}

TEST(CheckConfigCommand, ListsEveryErrorAndExitsOne) {
  const fs::path dir = fs::temp_directory_path() / ("seccloud-check-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bad.yaml")
      << "node: {name: gw1, state_dir: s}\nevents: {spool_dir: sp}\n"
         "supervisor: {admin: 127.0.0.1:1}\n"
         "tenants:\n  - {id: a, name: A, networks: [10.0.0.0/33]}\n"
         "  - {id: b, name: B, networks: [10.0.0.0/8], domains: [-bad.example]}\n";
  auto r = RunCommand({SECCLOUD_BINARY, "check-config", (dir / "bad.yaml").string()}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("bad.yaml:5:33: tenants[0].networks[0]: \"10.0.0.0/33\""));
  EXPECT_THAT(r.output, HasSubstr("bad.yaml:6:56: tenants[1].domains[0]"));
  EXPECT_THAT(r.output, HasSubstr("2 error(s); nothing was started"));
  fs::remove_all(dir);
}

TEST(CheckConfigCommand, AcceptsTheDemoConfiguration) {
  const fs::path dir = fs::temp_directory_path() / ("seccloud-check2-" + std::to_string(getpid()));
  fs::create_directories(dir);
  // The demo refers to files the repository does not hold (categories, PKI): make them first,
  // as scripts/demo does.
  auto prepared = RunCommand(
      {std::string(SECCLOUD_SOURCE_DIR) + "/scripts/demo-prepare", SECCLOUD_BINARY}, dir);
  ASSERT_EQ(prepared.exit_code, 0) << prepared.output;
  auto r = RunCommand({SECCLOUD_BINARY, "check-config", "--no-directory-check",
                       std::string(SECCLOUD_SOURCE_DIR) + "/etc/demo.yaml"},
                      dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("OK (3 tenants"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace seccloud
