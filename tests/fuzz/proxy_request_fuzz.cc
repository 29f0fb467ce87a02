// Fuzzes what a terminal sends the proxy before anything is forwarded (R3): Beast's request
// parser with the proxy's limits, then the proxy's own target parsing and hop-by-hop handling.
// Any input must end in a parsed request or a refusal with a reason — never a crash.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/hop_by_hop.h"
#include "proxy/request_target.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(64 * 1024);
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  auto& req = parser.get();
  std::string why;
  auto target = req.method() == http::verb::connect
                    ? seccloud::proxy::ParseAuthorityForm(req.target(), &why)
                    : seccloud::proxy::ParseAbsoluteForm(req.target(), &why);
  if (!target && why.empty()) std::abort();  // a refusal always has a reason
  if (target) {
    // What we forward must itself be a valid target again.
    std::string again_why;
    if (target->scheme == "http" && !seccloud::proxy::ParseAbsoluteForm(target->url(), &again_why))
      std::abort();
    if (target->path.empty() && target->scheme == "http") std::abort();
  }
  // The framing checks: chunked alone is what the parser took as chunked (never a coding the
  // proxy would drop), and a Max-Forwards it reads is bounded.
  if (seccloud::proxy::OnlyChunked(req.base()) && !parser.chunked()) std::abort();
  if (auto mf = seccloud::proxy::MaxForwards(req.base()); mf && *mf > (uint64_t{1} << 32))
    std::abort();
  seccloud::proxy::StripHopByHop(req.base());
  if (req.count(http::field::connection) || req.count(http::field::transfer_encoding)) std::abort();
  // AddVia never throws (a joined Via too long for Beast's fields is refused) and, when it
  // says it added the entry, the one Via ends with it.
  if (seccloud::proxy::AddVia(req.base(), req.version(), "seccloud")) {
    if (req.count(http::field::via) != 1 || !req[http::field::via].ends_with(" seccloud"))
      std::abort();
  }
  return 0;
}
