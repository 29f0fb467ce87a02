#pragma once
// RFC 9110 §7.6.1: a proxy removes the connection-specific ("hop-by-hop") fields before
// forwarding a message, including every field the Connection header names, and adds Via.

#include <boost/beast/http/fields.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seccloud::proxy {

struct HopByHopResult {
  bool upgrade_requested = false;  // Connection: upgrade with an Upgrade field (WebSocket)
  std::string upgrade;             // the Upgrade field's value, kept for the next hop
};

// Removes Connection and the fields it lists, Keep-Alive, Proxy-Connection, Proxy-Authenticate,
// Proxy-Authorization, TE, Trailer, Transfer-Encoding and Upgrade. Framing (Content-Length,
// chunked) is the caller's business: Beast's serializer re-frames the body.
HopByHopResult StripHopByHop(boost::beast::http::fields& fields);

// The longest field name or value Beast 1.81's fields can hold: it keeps "name: " and
// "value\r\n" lengths in 16 bits and throws std::length_error for a longer one.
inline constexpr size_t kMaxFieldBytes = 65535 - 2;

// Appends "<version> <pseudonym>" to any Via the message already has ("1.1 seccloud"). False,
// with `fields` unchanged, when the joined Via would be longer than kMaxFieldBytes (setting it
// would throw): the caller refuses the message.
[[nodiscard]] bool AddVia(boost::beast::http::fields& fields, unsigned version,
                          std::string_view pseudonym);

// True when every Transfer-Encoding field of `fields` together names the chunked coding and no
// other (RFC 9112 §6.1): the only coding the proxy removes and applies again. Another coding
// ("gzip, chunked") would be lost when the body is re-framed, so such a message is refused (501
// for a request, 502 for a response). Beast has already refused chunked twice or not last.
bool OnlyChunked(const boost::beast::http::fields& fields);

// The value of a Max-Forwards field (RFC 9110 §7.6.2: 1*DIGIT); nullopt when there is none, it
// is not a number, or there are several. A value above 2^32 is taken as 2^32.
std::optional<uint64_t> MaxForwards(const boost::beast::http::fields& fields);

// The field names of `fields` count (each occurrence); used to bound header counts.
size_t CountFields(const boost::beast::http::fields& fields);

}  // namespace seccloud::proxy
