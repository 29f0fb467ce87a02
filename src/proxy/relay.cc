// The relay's functions that are not templates (relay.h).

#include "proxy/relay.h"

namespace seccloud::proxy::proxy_internal {

// Plain TCP on both sides (CONNECT spliced, 101 on plain HTTP): the raw sockets, without Beast's
// per-operation timer, under one coarse idle watchdog.
asio::awaitable<std::pair<uint64_t, uint64_t>> Splice(beast::tcp_stream& a, beast::tcp_stream& b,
                                                      asio::io_context& /*io*/, milliseconds idle) {
  NoDeadline(a);
  NoDeadline(b);
  const RelayTotals t = co_await RelayTcp(a.socket(), b.socket(), idle);
  co_return std::make_pair(t.a_to_b, t.b_to_a);
}

namespace {

// Removes hop-by-hop fields, points the request at the origin and adds Via.
// Sets *expect_continue when the client waits for "100 Continue" before sending its body.
// Sets *via_fits to false when the joined Via would not fit in a field: the caller refuses.
HopByHopResult RewriteForUpstream(http::request<http::buffer_body>& req, bool chunked,
                                  std::optional<uint64_t> content_length, bool has_body,
                                  const RequestTarget& target, const ProxyConfig& pc,
                                  bool* expect_continue, bool* via_fits) {
  const unsigned client_version = req.version();
  HopByHopResult hop = StripHopByHop(req.base());
  if (!pc.forward_xff) req.erase("X-Forwarded-For");
  // A client that sent "Expect: 100-continue" holds its body back until it sees a 100 (curl for
  // 1 s), but the body is what the proxy relays next and an origin's 100 would only be read
  // after it: the proxy answers the expectation itself, once it has an upstream connection, and
  // does not pass it on (RFC 9110 §10.1.1 lets an intermediary do either).
  *expect_continue = false;
  if (auto it = req.find(http::field::expect); it != req.end() && has_body) {
    *expect_continue = client_version >= 11 && beast::iequals(it->value(), "100-continue");
    if (*expect_continue) req.erase(http::field::expect);
  }
  // In an HTTP/1.0 request the expectation MUST be ignored (RFC 9110 §10.1.1), so it does not go
  // on in the HTTP/1.1 request made of it (the origin would answer a 100 nobody asked for).
  if (auto it = req.find(http::field::expect);
      it != req.end() && client_version < 11 && beast::iequals(it->value(), "100-continue"))
    req.erase(http::field::expect);
  // RFC 9110 §7.6.2: OPTIONS and TRACE go on with Max-Forwards one less (0 is answered by the
  // proxy itself before this, see ClientSession::AnswerMaxForwardsZero).
  if (req.method() == http::verb::options || req.method() == http::verb::trace)
    if (auto mf = MaxForwards(req.base()); mf && *mf > 0)
      req.set(http::field::max_forwards, std::to_string(*mf - 1));
  req.set(http::field::host, target.authority());
  req.target(target.path);
  req.version(11);
  *via_fits = AddVia(req.base(), client_version, pc.via_name);
  if (chunked) {
    req.chunked(true);  // Transfer-Encoding went with the hop-by-hop fields
  } else if (content_length) {
    // One field with the length the body is read by (RFC 9110 §8.6: a list or repeat of one
    // value may be replaced so), and back if Connection named it and the strip took it: the
    // body would go on unframed, and the origin read it as the next request.
    req.set(http::field::content_length, std::to_string(*content_length));
  }
  if (hop.upgrade_requested) {
    req.set(http::field::connection, "upgrade");
    req.set(http::field::upgrade, hop.upgrade);
  } else {
    req.keep_alive(true);
  }
  return hop;
}

}  // namespace

Outbound PrepareOutbound(RequestParser<http::buffer_body>& parser, const RequestTarget& target,
                         const ProxyConfig& pc) {
  auto& req = parser.get();
  Outbound out;
  out.client_keep_alive = req.keep_alive();
  out.client_version = req.version();
  out.has_body = parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
  out.hop = RewriteForUpstream(
      req, parser.chunked(),
      parser.content_length() ? std::optional<uint64_t>(*parser.content_length()) : std::nullopt,
      out.has_body, target, pc, &out.expect_continue, &out.via_fits);
  return out;
}

}  // namespace seccloud::proxy::proxy_internal
