#include "socd/api_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/metrics.h"

namespace seccloud::socd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr auto kReadTimeout = std::chrono::seconds(10);
// A chunk the client does not take within this is a stalled client: the stream is abandoned.
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr size_t kHeaderLimit = 8 * 1024;
constexpr size_t kBodyLimit = 64 * 1024;
constexpr int kMaxRequestsPerConnection = 100;

tcp::endpoint ToAsio(const Endpoint& e) {
  if (e.address.is_v4()) return {asio::ip::address_v4(e.address.v4()), e.port};
  asio::ip::address_v6::bytes_type b;
  std::copy(e.address.bytes().begin(), e.address.bytes().end(), b.begin());
  return {asio::ip::address_v6(b), e.port};
}

class ApiServerImpl final : public std::enable_shared_from_this<ApiServerImpl> {
 public:
  ApiServerImpl(asio::io_context& io, ApiServer::Handler handler)
      : acceptor_(io), handler_(std::move(handler)) {}

  Status Bind(const Endpoint& listen) {
    boost::system::error_code ec;
    tcp::endpoint ep = ToAsio(listen);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(64, ec);
    if (ec)
      return MakeError(Errc::kUnavailable,
                       "API address " + listen.ToString() + ": " + ec.message());
    return {};
  }

  Endpoint local_endpoint() const {
    boost::system::error_code ec;
    const tcp::endpoint e = acceptor_.local_endpoint(ec);
    auto a = IpAddress::Parse(e.address().to_string());
    return Endpoint{a.value_or(IpAddress{}), e.port()};
  }

  void Stop() {
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
        continue;
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
    beast::flat_buffer buffer(kHeaderLimit + kBodyLimit);
    for (int n = 0; n < kMaxRequestsPerConnection; ++n) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      stream.expires_after(kReadTimeout);
      auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec) {
        if (ec == http::error::header_limit || ec == http::error::body_limit) {
          co_await Write(
              stream, 11, false,
              ApiReply{413, "application/json", "{\"error\":\"request too large\"}\n", {}});
        } else if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
                   ec != asio::error::connection_reset && ec != asio::error::eof) {
          co_await Write(stream, 11, false,
                         ApiReply{400, "application/json", "{\"error\":\"bad request\"}\n", {}});
        }
        break;
      }
      auto& req = parser.get();
      ApiRequest request{std::string(req.method_string()), std::string(req.target()),
                         std::move(req.body()), std::string(req[http::field::authorization])};
      ApiReply reply;
      try {
        reply = handler_(request);
      } catch (const std::exception& e) {
        reply = ApiReply{500, "application/json", "{\"error\":\"internal error\"}\n", {}};
      }
      const bool keep_alive = req.keep_alive() && !reply.next;
      if (!co_await Write(stream, req.version(), keep_alive, std::move(reply)) || !keep_alive)
        break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<bool> Write(beast::tcp_stream& stream, unsigned version, bool keep_alive,
                              ApiReply reply) {
    if (!reply.next) {
      http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
      res.set(http::field::server, std::string("seccloud/") + Version());
      res.set(http::field::content_type, reply.content_type);
      res.set(http::field::cache_control, "no-store");
      if (reply.status == 401)
        res.set(http::field::www_authenticate, "Bearer realm=\"seccloud-soc\"");
      res.keep_alive(keep_alive);
      res.body() = std::move(reply.body);
      res.prepare_payload();
      stream.expires_after(kWriteTimeout);
      auto [ec, n] = co_await http::async_write(stream, res, kTuple);
      co_return !ec;
    }
    http::response<http::empty_body> res{static_cast<http::status>(reply.status), version};
    res.set(http::field::server, std::string("seccloud/") + Version());
    res.set(http::field::content_type, reply.content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(false);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    stream.expires_after(kWriteTimeout);
    auto [hec, hn] = co_await http::async_write_header(stream, sr, kTuple);
    if (hec) co_return false;
    std::string chunk = std::move(reply.body);
    while (true) {
      if (!chunk.empty()) {
        stream.expires_after(kWriteTimeout);
        auto [cec, cn] =
            co_await asio::async_write(stream, http::make_chunk(asio::buffer(chunk)), kTuple);
        if (cec) co_return false;
      }
      chunk.clear();
      bool more = false;
      try {
        more = reply.next(&chunk);
      } catch (const std::exception&) {
        co_return false;  // the client sees a stream without its last chunk: incomplete
      }
      if (!more && chunk.empty()) break;
      if (!more) {
        stream.expires_after(kWriteTimeout);
        auto [cec, cn] =
            co_await asio::async_write(stream, http::make_chunk(asio::buffer(chunk)), kTuple);
        if (cec) co_return false;
        break;
      }
    }
    stream.expires_after(kWriteTimeout);
    auto [lec, ln] = co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
    co_return !lec;
  }

  tcp::acceptor acceptor_;
  ApiServer::Handler handler_;
};

class ApiServerHandle final : public ApiServer {
 public:
  explicit ApiServerHandle(std::shared_ptr<ApiServerImpl> impl) : impl_(std::move(impl)) {}
  ~ApiServerHandle() override { impl_->Stop(); }
  Endpoint local_endpoint() const override { return impl_->local_endpoint(); }
  void Stop() override { impl_->Stop(); }

 private:
  std::shared_ptr<ApiServerImpl> impl_;
};

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(asio::io_context& io, Endpoint listen,
                                                    Handler handler) {
  auto impl = std::make_shared<ApiServerImpl>(io, std::move(handler));
  RETURN_IF_ERROR(impl->Bind(listen));
  impl->Run();
  return std::unique_ptr<ApiServer>(std::make_unique<ApiServerHandle>(std::move(impl)));
}

Result<ApiResponse> ApiCall(Endpoint endpoint, const std::string& method, const std::string& target,
                            const std::string& body, const std::string& authorization,
                            std::chrono::milliseconds timeout, size_t max_body) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  const std::string where = endpoint.ToString();
  stream.expires_after(timeout);
  beast::error_code ec;
  stream.connect(ToAsio(endpoint), ec);
  if (ec) return MakeError(Errc::kUnavailable, where + ": " + ec.message());
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, std::string("seccloud/") + Version());
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return MakeError(Errc::kUnavailable, where + ": " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  http::read(stream, buffer, parser, ec);
  if (ec) {
    if (ec == beast::error::timeout)
      return MakeError(Errc::kDeadlineExceeded,
                       where + ": no answer within " + std::to_string(timeout.count()) + " ms");
    return MakeError(Errc::kUnavailable, where + ": " + ec.message());
  }
  auto& res = parser.get();
  return ApiResponse{static_cast<int>(res.result_int()),
                     std::string(res[http::field::content_type]), std::move(res.body())};
}

}  // namespace seccloud::socd
