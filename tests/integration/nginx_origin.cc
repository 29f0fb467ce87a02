#include "nginx_origin.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "core/process.h"

namespace seccloud::integration {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool CanConnect(const std::string& address, uint16_t port, int timeout_ms) {
  const bool v6 = address.find(':') != std::string::npos;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) != 1) return false;
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, address.c_str(), &a->sin_addr) != 1) return false;
    len = sizeof *a;
  }
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) == 1) {
      int err = 0;
      socklen_t el = sizeof err;
      ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0;
    }
  }
  close(fd);
  return ok;
}

Result<std::unique_ptr<NginxOrigin>> NginxOrigin::Start(fs::path dir, std::string address,
                                                        uint16_t port,
                                                        std::vector<NginxTlsServer> tls) {
  std::unique_ptr<NginxOrigin> origin(
      new NginxOrigin(std::move(dir), std::move(address), port, std::move(tls)));
  RETURN_IF_ERROR(origin->WriteFiles());
  RETURN_IF_ERROR(origin->Launch());
  return origin;
}

NginxOrigin::~NginxOrigin() {
  if (pid_ > 0) {
    // SIGTERM is nginx's fast shutdown; the master waits for its workers.
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(-pid_, SIGKILL);  // its own process group: master and workers
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(-pid_, SIGKILL);  // a worker left behind by a crashed master
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string NginxOrigin::authority() const {
  const bool v6 = address_.find(':') != std::string::npos;
  return (v6 ? "[" + address_ + "]" : address_) + ":" + std::to_string(port_);
}

const std::string& NginxOrigin::File(const std::string& name) const {
  for (const auto& [n, bytes] : files_)
    if (n == name) return bytes;
  static const std::string kNone;
  return kNone;
}

fs::path NginxOrigin::FilePath(const std::string& name) const { return dir_ / "www" / name; }

Status NginxOrigin::WriteFiles() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  fs::create_directories(dir_ / "www", ec);
  if (ec)
    return MakeError(Errc::kIo, "cannot create " + (dir_ / "www").string() + ": " + ec.message());
  // nginx's workers run as nobody when the master is root: the docroot must be world-readable.
  for (const fs::path& p : {dir_, dir_ / "www"})
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  std::mt19937_64 rng(20261101);
  for (const auto& f : kFiles) {
    std::string bytes(f.size, '\0');
    for (size_t i = 0; i < bytes.size(); i += 8) {
      const uint64_t r = rng();
      std::memcpy(bytes.data() + i, &r, std::min<size_t>(8, bytes.size() - i));
    }
    std::ofstream out(dir_ / "www" / f.name, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return MakeError(Errc::kIo, "cannot write " + (dir_ / "www" / f.name).string());
    out.close();
    fs::permissions(dir_ / "www" / f.name, fs::perms::owner_read | fs::perms::owner_write |
                                               fs::perms::group_read | fs::perms::others_read);
    files_.emplace_back(f.name, std::move(bytes));
  }
  std::ofstream(dir_ / "www" / "healthz") << "ok\n";

  const std::string d = dir_.string();
  const std::string listen = authority();
  std::ostringstream c;
  c << "pid " << d << "/nginx.pid;\n"
    << "worker_processes 1;\n"
    << "error_log stderr notice;\n"
    << "events { worker_connections 4096; }\n"
    << "http {\n"
    << "  log_format origin '$connection $connection_requests $request_method $uri $status "
       "$request_length';\n"
    << "  access_log " << d << "/access.log origin;\n"
    << "  client_body_temp_path " << d << "/tmp-body;\n"
    << "  proxy_temp_path " << d << "/tmp-proxy;\n"
    << "  fastcgi_temp_path " << d << "/tmp-fastcgi;\n"
    << "  uwsgi_temp_path " << d << "/tmp-uwsgi;\n"
    << "  scgi_temp_path " << d << "/tmp-scgi;\n"
    << "  types { text/plain txt; }\n"
    << "  default_type application/octet-stream;\n"
    << "  keepalive_requests 100000;\n"
    << "  keepalive_timeout 60s;\n"
    << "  client_max_body_size 0;\n";
  // The plain server and every TLS server serve the same locations.
  std::ostringstream l;
  l << "    server_name _;\n"
    << "    root " << d << "/www;\n"
    << "    location = /healthz { return 200 \"ok\\n\"; }\n"
    << "    location = /echo {\n"
    << "      default_type text/plain;\n"
    << "      return 200 \"via=$http_via|xff=$http_x_forwarded_for|host=$http_host|"
       "connection=$http_connection|x-secret=$http_x_secret|"
       "proxy-authorization=$http_proxy_authorization|proxy-connection=$http_proxy_connection|"
       "te=$http_te|keep-alive=$http_keep_alive|\\n\";\n"
    << "    }\n"
    << "    location = /204 { return 204; }\n"
    << "    location = /empty { default_type text/plain; return 200 \"\"; }\n"
    // nginx reads the whole body (to a temp file, so any size) before passing the request to
    // /sink with a Content-Length; /sink answers with that length and discards the body.
    << "    location = /upload {\n"
    << "      client_body_buffer_size 1m;\n"
    << "      proxy_pass http://" << listen << "/sink;\n"
    << "    }\n"
    << "    location = /sink { default_type text/plain; return 200 \"$content_length\"; }\n"
    // As /upload, and the body stays on disk (kept-bodies/, one file per request), so a test can
    // compare what arrived byte for byte — or prove that nothing did.
    << "    location = /keep {\n"
    << "      client_body_in_file_only on;\n"
    << "      client_body_temp_path " << d << "/kept-bodies;\n"
    << "      proxy_pass http://" << listen << "/sink;\n"
    << "    }\n"
    // sub_filter drops Content-Length, so an HTTP/1.1 client gets the file chunked.
    << "    location /chunked/ {\n"
    << "      alias " << d << "/www/;\n"
    << "      sub_filter '@@seccloud-never-matches@@' 'x';\n"
    << "      sub_filter_types *;\n"
    << "      sub_filter_once off;\n"
    << "    }\n"
    // The first 60,000 bytes of the response at once, then 64 bytes a second: a body that a
    // proxy holding it for the scan keeps holding for minutes.
    << "    location /slow/ {\n"
    << "      alias " << d << "/www/;\n"
    << "      limit_rate_after 60000;\n"
    << "      limit_rate 64;\n"
    << "    }\n"
    // Without chunking and without a length, nginx ends the body by closing the connection.
    << "    location /until-close/ {\n"
    << "      alias " << d << "/www/;\n"
    << "      chunked_transfer_encoding off;\n"
    << "      sub_filter '@@seccloud-never-matches@@' 'x';\n"
    << "      sub_filter_types *;\n"
    << "      sub_filter_once off;\n"
    << "    }\n";
  c << "  server {\n    listen " << listen << ";\n" << l.str() << "  }\n";
  for (const NginxTlsServer& t : tls_) {
    c << "  server {\n"
      << "    listen "
      << (address_.find(':') != std::string::npos ? "[" + address_ + "]" : address_) << ":"
      << t.port << " ssl;\n"
      << "    ssl_certificate " << t.chain.string() << ";\n"
      << "    ssl_certificate_key " << t.key.string() << ";\n"
      << "    ssl_protocols TLSv1.2 TLSv1.3;\n"
      << l.str() << "  }\n";
  }
  c << "}\n";
  std::ofstream conf(dir_ / "nginx.conf");
  conf << c.str();
  if (!conf) return MakeError(Errc::kIo, "cannot write " + (dir_ / "nginx.conf").string());
  return {};
}

Status NginxOrigin::Launch() {
  const std::string d = dir_.string();
  auto pid = Spawn(
      SpawnOptions{{"nginx", "-p", d, "-c", d + "/nginx.conf", "-e", "stderr", "-g", "daemon off;"},
                   {},
                   {},
                   dir_ / "nginx.out"});
  if (!pid) return MakeError(Errc::kUnavailable, "cannot start nginx: " + pid.error().ToString());
  pid_ = *pid;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return MakeError(Errc::kUnavailable, "nginx exited at start-up:\n" + Output());
    }
    bool all = CanConnect(address_, port_);
    for (const NginxTlsServer& t : tls_) all = all && CanConnect(address_, t.port);
    if (all) return {};
    std::this_thread::sleep_for(20ms);
  }
  return MakeError(Errc::kUnavailable,
                   "nginx did not listen on " + authority() + " in 10 s:\n" + Output());
}

std::vector<NginxAccessLine> NginxOrigin::AccessLog() const {
  std::vector<NginxAccessLine> out;
  std::ifstream in(dir_ / "access.log");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    NginxAccessLine l;
    if (s >> l.connection >> l.request_on_connection >> l.method >> l.uri >> l.status >>
        l.request_length)
      out.push_back(std::move(l));
  }
  return out;
}

std::vector<std::string> NginxOrigin::KeptBodies() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir_ / "kept-bodies", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    out.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return out;
}

std::string NginxOrigin::Output() const {
  std::ifstream in(dir_ / "nginx.out");
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace seccloud::integration
