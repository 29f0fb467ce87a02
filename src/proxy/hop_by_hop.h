#pragma once
// RFC 9110 §7.6.1: a proxy removes the connection-specific ("hop-by-hop") fields before
// forwarding a message, including every field the Connection header names, and adds Via.

#include <boost/beast/http/fields.hpp>
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

// Appends "<version> <pseudonym>" to any Via the message already has ("1.1 seccloud").
void AddVia(boost::beast::http::fields& fields, unsigned version, std::string_view pseudonym);

// The field names of `fields` count (each occurrence); used to bound header counts.
size_t CountFields(const boost::beast::http::fields& fields);

}  // namespace seccloud::proxy
