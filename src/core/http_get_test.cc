#include "core/http_get.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace seccloud {
namespace {

// Answers one connection with a canned response and records the request it got.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response) : response_(std::move(response)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      while (request_.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request_.append(buf, static_cast<size_t>(n));
      }
      size_t sent = 0;
      while (sent < response_.size()) {
        ssize_t n = ::send(c, response_.data() + sent, response_.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      ::close(c);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string url(const std::string& path = "/f") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Valid after the request was answered (the server thread has finished reading it).
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  std::string response_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(HttpGet, ReturnsBodyStatusAndLastModified) {
  OneShotServer s(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nLast-Modified: Thu, 26 Nov 2026 09:00:00 "
      "GMT\r\n\r\nhello");
  auto r = HttpGet(s.url("/x/dns.txt"));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->last_modified, "Thu, 26 Nov 2026 09:00:00 GMT");
  EXPECT_EQ(s.request().substr(0, 25), "GET /x/dns.txt HTTP/1.0\r\n");
}

TEST(HttpGet, ErrorStatusIsAResponseNotAnError) {
  OneShotServer s("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
  auto r = HttpGet(s.url());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST(HttpGet, SendsRangeAndAcceptsPartialContent) {
  OneShotServer s("HTTP/1.1 206 Partial Content\r\nContent-Length: 4\r\n\r\nClam");
  HttpGetOptions o;
  o.range = HttpGetOptions::ByteRange{0, 511};
  auto r = HttpGet(s.url(), o);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, "Clam");
  EXPECT_NE(s.request().find("\r\nRange: bytes=0-511\r\n"), std::string::npos) << s.request();
}

TEST(HttpGet, ServerIgnoringRangeIsReadOnlyUpToTheRange) {
  OneShotServer s("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
  HttpGetOptions o;
  o.range = HttpGetOptions::ByteRange{0, 3};
  o.max_body_bytes = 4;
  auto r = HttpGet(s.url(), o);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->body, "0123");
}

TEST(HttpGet, BodyAboveTheLimitIsRefused) {
  OneShotServer s("HTTP/1.1 200 OK\r\n\r\n" + std::string(5000, 'a'));
  HttpGetOptions o;
  o.max_body_bytes = 4096;
  auto r = HttpGet(s.url(), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kResourceExhausted);
}

TEST(HttpGet, AnnouncedLengthAboveTheLimitIsRefusedBeforeTheBody) {
  OneShotServer s("HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\nabc");
  HttpGetOptions o;
  o.max_body_bytes = 4096;
  auto r = HttpGet(s.url(), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kResourceExhausted);
  EXPECT_NE(r.error().message.find("announced 999999999"), std::string::npos);
}

TEST(HttpGet, BodyCutShortOfContentLengthIsAnError) {
  OneShotServer s("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
  auto r = HttpGet(s.url());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cut short"), std::string::npos) << r.error().message;
}

TEST(HttpGet, BodyGoesToTheSinkInsteadOfMemory) {
  OneShotServer s("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef");
  std::string sunk;
  HttpGetOptions o;
  o.body_sink = [&](std::string_view p) -> Status {
    sunk.append(p);
    return {};
  };
  auto r = HttpGet(s.url(), o);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(sunk, "abcdef");
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(r->body_bytes, 6u);
}

TEST(HttpGet, NotHttpAndTransferEncodingAreErrors) {
  {
    OneShotServer s("SSH-2.0-OpenSSH\r\n\r\n");
    EXPECT_FALSE(HttpGet(s.url()));
  }
  {
    OneShotServer s("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    auto r = HttpGet(s.url());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("transfer encoding"), std::string::npos);
  }
}

TEST(HttpGet, UnreachableAndBadUrl) {
  EXPECT_FALSE(HttpGet("http://example.org/x"));  // names are not resolved
  OneShotServer s("");                            // closes without answering
  EXPECT_FALSE(HttpGet(s.url()));
}

}  // namespace
}  // namespace seccloud
