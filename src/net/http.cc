#include "net/http.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>

namespace seccloud::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr auto kAdminIoTimeout = std::chrono::seconds(5);
constexpr size_t kAdminHeaderLimit = 8 * 1024;
constexpr size_t kAdminBodyLimit = 64 * 1024;
constexpr int kMaxRequestsPerConnection = 100;

tcp::endpoint ToAsio(const Endpoint& e) {
  if (e.address.is_v4()) return {asio::ip::address_v4(e.address.v4()), e.port};
  asio::ip::address_v6::bytes_type b;
  std::copy(e.address.bytes().begin(), e.address.bytes().end(), b.begin());
  return {asio::ip::address_v6(b), e.port};
}

Endpoint FromAsio(const tcp::endpoint& e) {
  auto a = IpAddress::Parse(e.address().to_string());
  return Endpoint{a.value_or(IpAddress{}), e.port()};
}

class AdminServerImpl final : public AdminServer,
                              public std::enable_shared_from_this<AdminServerImpl> {
 public:
  AdminServerImpl(asio::io_context& io, Options options)
      : acceptor_(io), options_(std::move(options)), started_(std::chrono::steady_clock::now()) {}

  Status Bind() {
    boost::system::error_code ec;
    tcp::endpoint ep = ToAsio(options_.listen);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(64, ec);
    if (ec)
      return MakeError(Errc::kUnavailable,
                       "admin address " + options_.listen.ToString() + ": " + ec.message());
    return {};
  }

  void Route(std::string method, std::string path, Handler handler) override {
    routes_[method + " " + path] = std::move(handler);
  }

  Endpoint local_endpoint() const override {
    boost::system::error_code ec;
    return FromAsio(acceptor_.local_endpoint(ec));
  }

  void Stop() override {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

  void Run() {
    asio::co_spawn(
        acceptor_.get_executor(), [self = shared_from_this()] { return self->Accept(); },
        asio::detached);
  }

 private:
  asio::awaitable<void> Accept() {
    while (acceptor_.is_open()) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        continue;  // EMFILE and the like: keep serving the connections we have
      }
      asio::co_spawn(
          acceptor_.get_executor(),
          [self = shared_from_this(), s = std::move(socket)]() mutable {
            return self->Serve(std::move(s));
          },
          asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer(kAdminHeaderLimit + kAdminBodyLimit);
    for (int n = 0; n < kMaxRequestsPerConnection; ++n) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kAdminHeaderLimit);
      parser.body_limit(kAdminBodyLimit);
      stream.expires_after(kAdminIoTimeout);
      auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec) {
        if (ec == http::error::header_limit || ec == http::error::body_limit) {
          co_await Write(stream, 11, false, HttpReply{413, "text/plain", "request too large\n"});
        } else if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
                   ec != asio::error::connection_reset && ec != asio::error::eof) {
          co_await Write(stream, 11, false, HttpReply{400, "text/plain", "bad request\n"});
        }
        break;
      }
      auto& req = parser.get();
      AdminRequest request{std::string(req.method_string()), std::string(req.target()),
                           std::move(req.body())};
      HttpReply reply = Dispatch(request);
      const bool keep_alive = req.keep_alive();
      if (!co_await Write(stream, req.version(), keep_alive, std::move(reply)) || !keep_alive)
        break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<bool> Write(beast::tcp_stream& stream, unsigned version, bool keep_alive,
                              HttpReply reply) {
    http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
    res.set(http::field::server, std::string("seccloud/") + Version());
    res.set(http::field::content_type, reply.content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    stream.expires_after(kAdminIoTimeout);
    auto [ec, n] = co_await http::async_write(stream, res, kTuple);
    co_return !ec;
  }

  HttpReply Dispatch(const AdminRequest& req) {
    std::string path = req.target.substr(0, req.target.find('?'));
    if (req.method == "GET" && path == "/healthz") return Healthz();
    if (req.method == "GET" && path == "/metrics") {
      std::string body = options_.metrics ? options_.metrics->RenderPrometheus() : std::string();
      body +=
          "# HELP seccloud_up 1 while the service runs\n# TYPE seccloud_up gauge\nseccloud_up 1\n";
      return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", std::move(body)};
    }
    auto it = routes_.find(req.method + " " + path);
    if (it != routes_.end()) return it->second(req);
    for (const auto& [key, handler] : routes_)
      if (key.substr(key.find(' ') + 1) == path)
        return HttpReply{405, "text/plain", "method not allowed\n"};
    return HttpReply{404, "text/plain", "not found\n"};
  }

  HttpReply Healthz() {
    const bool ok = options_.health == nullptr || options_.health->healthy();
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started_);
    boost::json::object o{
        {"status", ok ? "ok" : "failing"},
        {"service", options_.service},
        {"version", Version()},
        {"pid", static_cast<int64_t>(getpid())},
        {"uptime_seconds", uptime.count()},
    };
    if (options_.health) {
      o["components"] = boost::json::parse(options_.health->ComponentsJson());
      if (!ok) o["problem"] = options_.health->FirstProblem();
    }
    return HttpReply{ok ? 200 : 503, "application/json", boost::json::serialize(o) + "\n"};
  }

  tcp::acceptor acceptor_;
  Options options_;
  std::chrono::steady_clock::time_point started_;
  std::map<std::string, Handler> routes_;
};

// AdminServer handed out to the caller; keeps the shared implementation alive for coroutines
// that may still run after the caller drops it.
class AdminServerHandle final : public AdminServer {
 public:
  explicit AdminServerHandle(std::shared_ptr<AdminServerImpl> impl) : impl_(std::move(impl)) {}
  ~AdminServerHandle() override { impl_->Stop(); }
  void Route(std::string method, std::string path, Handler handler) override {
    impl_->Route(std::move(method), std::move(path), std::move(handler));
  }
  Endpoint local_endpoint() const override { return impl_->local_endpoint(); }
  void Stop() override { impl_->Stop(); }

 private:
  std::shared_ptr<AdminServerImpl> impl_;
};

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::Start(asio::io_context& io, Options options) {
  auto impl = std::make_shared<AdminServerImpl>(io, std::move(options));
  RETURN_IF_ERROR(impl->Bind());
  impl->Run();
  return std::unique_ptr<AdminServer>(std::make_unique<AdminServerHandle>(std::move(impl)));
}

asio::awaitable<Result<HttpResponse>> HttpRequest(Endpoint endpoint, std::string method,
                                                  std::string target, std::string body,
                                                  std::chrono::milliseconds timeout) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  const std::string where = endpoint.ToString();
  auto [cec] = co_await stream.async_connect(ToAsio(endpoint), kTuple);
  if (cec) co_return MakeError(Errc::kUnavailable, where + ": " + cec.message());
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, std::string("seccloud/") + Version());
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.keep_alive(false);
  req.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  if (wec) co_return MakeError(Errc::kUnavailable, where + ": " + wec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(4u << 20);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kTuple);
  if (rec) {
    if (rec == beast::error::timeout)
      co_return MakeError(Errc::kDeadlineExceeded,
                          where + ": no answer within " + std::to_string(timeout.count()) + " ms");
    co_return MakeError(Errc::kUnavailable, where + ": " + rec.message());
  }
  auto& res = parser.get();
  co_return HttpResponse{static_cast<int>(res.result_int()),
                         std::string(res[http::field::content_type]), std::move(res.body())};
}

Result<HttpResponse> HttpRequestSync(Endpoint endpoint, std::string method, std::string target,
                                     std::string body, std::chrono::milliseconds timeout) {
  asio::io_context io;
  Result<HttpResponse> out = MakeError(Errc::kInternal, "request did not run");
  asio::co_spawn(
      io, HttpRequest(endpoint, std::move(method), std::move(target), std::move(body), timeout),
      [&](std::exception_ptr e, Result<HttpResponse> r) {
        if (e)
          out = MakeError(Errc::kInternal, "HTTP client failed");
        else
          out = std::move(r);
      });
  io.run();
  return out;
}

}  // namespace seccloud::net
