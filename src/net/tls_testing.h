#pragma once
// Helpers for the net module's TLS tests only (included by *_test.cc, never by the library).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/temp_dir_testing.h"
#include "net/tls.h"

namespace seccloud::net::testing {

namespace fs = std::filesystem;

using seccloud::test::TempDir;

// Runs a shell command, returns its exit status and (with `output`) its stdout+stderr.
inline int RunShell(const std::string& command, std::string* output = nullptr) {
  FILE* f = ::popen((command + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  int status = ::pclose(f);
  if (output) *output = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline fs::path SourceDir() { return fs::path(SECCLOUD_SOURCE_DIR); }

// A listening TCP socket on `ip`, port chosen by the kernel. Returns -1 on failure.
inline int ListenOn(const std::string& ip, uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

// Accepts one connection within `timeout_ms`; -1 on timeout.
inline int AcceptWithin(int listen_fd, int timeout_ms) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return -1;
  return ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
}

// A new interception CA in `dir`, made and then loaded from disk as `seccloud ca init` and the
// proxy's start do: the first failure of the two.
inline Result<std::shared_ptr<const InterceptionCa>> MakeCa(const fs::path& dir,
                                                            const std::string& node) {
  RETURN_IF_ERROR(InitCa(dir, CaOptions{.node = node}));
  return InterceptionCa::Load(dir);
}

// A per-process loopback address 127.100.x.y, so parallel test processes never share ports.
inline std::string PerProcessLoopback() {
  const unsigned pid = static_cast<unsigned>(::getpid());
  return "127.100." + std::to_string((pid / 254) % 256) + "." + std::to_string(pid % 254 + 1);
}

}  // namespace seccloud::net::testing
