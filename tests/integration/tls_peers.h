#pragma once
// The raw peers of the proxy's TLS tests (R9, R10), shared by proxy_test.cc and
// proxy_framing_test.cc: blocking socket writes, a CONNECT answer's read, a TLS origin's side of
// an accepted socket, and a terminal inside an intercepted tunnel.

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy_fixture.h"

namespace seccloud::integration {

// Sends all of `bytes` on the blocking socket `fd`, or as much as goes before an error.
inline void SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads from the blocking socket `fd` until a blank line; what was read (the CONNECT answer).
inline std::string ReadConnectAnswer(int fd) {
  std::string got;
  char c;
  while (got.find("\r\n\r\n") == std::string::npos && got.size() < 4096 && recv(fd, &c, 1, 0) == 1)
    got += c;
  return got;
}

// A TLS origin's side of an accepted socket `fd`: `cert` (a chain) and `key`, and reads that wait
// at most `read_timeout`. `ssl` is null when anything of the handshake failed.
struct OriginTls {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{nullptr, SSL_CTX_free};
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl{nullptr, SSL_free};
};
inline OriginTls AcceptOriginTls(int fd, const std::string& cert, const std::string& key,
                                 std::chrono::seconds read_timeout) {
  OriginTls t;
  t.ctx.reset(SSL_CTX_new(TLS_server_method()));
  if (!t.ctx || SSL_CTX_use_certificate_chain_file(t.ctx.get(), cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(t.ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
    return t;
  const timeval timeout{static_cast<time_t>(read_timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  t.ssl.reset(SSL_new(t.ctx.get()));
  SSL_set_fd(t.ssl.get(), fd);
  if (SSL_accept(t.ssl.get()) != 1) t.ssl.reset();
  return t;
}

// Reads from `ssl` until what was read holds a header's end: what was read, or nullopt on a
// close or an error first.
inline std::optional<std::string> ReadTlsHeader(SSL* ssl) {
  std::string read;
  char buf[16384];
  while (read.find("\r\n\r\n") == std::string::npos) {
    const int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    read.append(buf, static_cast<size_t>(n));
  }
  return read;
}

// A terminal inside an intercepted tunnel: CONNECT to the proxy, then TLS to its interception
// (trusting only its CA), with blocking calls of at most 20 s each.
class InterceptedTerminal {
 public:
  // Empty on success, else what failed.
  std::string Open(const std::string& proxy_ip, const std::string& authority,
                   const std::string& ca_pem) {
    fd_ = integration::ConnectFrom("127.10.0.5", proxy_ip, integration::kProxyPort, &error_);
    if (fd_ < 0) return "connect: " + error_;
    const timeval timeout{20, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    SendAll(fd_, "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    const std::string answer = ReadConnectAnswer(fd_);
    if (!answer.starts_with("HTTP/1.1 200")) return "CONNECT answered: " + answer;
    const std::string host = authority.substr(0, authority.rfind(':'));
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_ || SSL_CTX_load_verify_locations(ctx_.get(), ca_pem.c_str(), nullptr) != 1)
      return "no TLS context";
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_);
    SSL_set_tlsext_host_name(ssl_.get(), host.c_str());
    SSL_set1_host(ssl_.get(), host.c_str());
    if (SSL_connect(ssl_.get()) != 1) return "TLS handshake with the proxy failed";
    return "";
  }
  ~InterceptedTerminal() {
    ssl_.reset();
    if (fd_ >= 0) close(fd_);
  }
  // Closes the TCP connection with an RST (SO_LINGER 0), no close_notify: a terminal gone.
  void Reset() {
    ssl_.reset();
    if (fd_ < 0) return;
    const linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd_);
    fd_ = -1;
  }
  // Closes the TCP connection with a FIN, no close_notify: what the socket holds unread (the
  // TLS 1.3 session tickets a terminal whose response is held never read) is dropped first,
  // since close() on a socket with unread bytes sends an RST instead. Whether the receive queue
  // was empty when closed.
  bool CloseWithFin() {
    ssl_.reset();
    if (fd_ < 0) return false;
    char buf[4096];
    while (recv(fd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
    int unread = -1;
    ioctl(fd_, FIONREAD, &unread);
    close(fd_);
    fd_ = -1;
    return unread == 0;
  }
  bool Send(std::string_view bytes) {
    return SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  // Half-closes the TCP connection (shutdown(SHUT_WR): a FIN after the TLS records sent, no
  // close_notify); the terminal still reads.
  bool ShutdownWrite() { return fd_ >= 0 && shutdown(fd_, SHUT_WR) == 0; }
  // Reads until what was read holds `needle` (empty: until the close); what was read.
  std::string ReadUntil(std::string_view needle) {
    std::string got;
    char buf[16384];
    while (needle.empty() || got.find(needle) == std::string::npos) {
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) {
        last_error_ = SSL_get_error(ssl_.get(), n);
        break;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  // How the last ReadUntil ended: SSL_ERROR_ZERO_RETURN when on the peer's close_notify.
  int last_error() const { return last_error_; }
  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_.get(); }

 private:
  int fd_ = -1;
  int last_error_ = 0;
  std::string error_;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_{nullptr, SSL_CTX_free};
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_{nullptr, SSL_free};
};

}  // namespace seccloud::integration
