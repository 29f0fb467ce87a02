#include "proxy/hop_by_hop.h"

#include <boost/algorithm/string/predicate.hpp>
#include <vector>

namespace seccloud::proxy {

namespace http = boost::beast::http;

namespace {
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

HopByHopResult StripHopByHop(http::fields& fields) {
  HopByHopResult out;
  std::vector<std::string> named;
  for (auto it = fields.find(http::field::connection);
       it != fields.end() && it->name() == http::field::connection; ++it) {
    std::string_view v = it->value();
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view token = Trim(v.substr(0, comma));
      if (!token.empty() && named.size() < 64) named.emplace_back(token);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  for (const std::string& n : named)
    if (boost::iequals(n, "upgrade")) out.upgrade_requested = true;
  if (out.upgrade_requested) {
    auto up = fields.find(http::field::upgrade);
    if (up != fields.end())
      out.upgrade = std::string(up->value());
    else
      out.upgrade_requested = false;
  }
  for (const std::string& n : named) fields.erase(n);
  static constexpr http::field kHopByHop[] = {
      http::field::connection,
      http::field::keep_alive,
      http::field::proxy_connection,
      http::field::proxy_authenticate,
      http::field::proxy_authorization,
      http::field::te,
      http::field::trailer,
      http::field::transfer_encoding,
      http::field::upgrade,
  };
  for (http::field f : kHopByHop) fields.erase(f);
  return out;
}

void AddVia(http::fields& fields, unsigned version, std::string_view pseudonym) {
  std::string entry = std::to_string(version / 10) + "." + std::to_string(version % 10) + " " +
                      std::string(pseudonym);
  // Several Via fields are one comma-separated list (RFC 9110 §5.3); keep them all, in order.
  std::string all;
  for (auto [it, end] = fields.equal_range(http::field::via); it != end; ++it) {
    if (!all.empty()) all += ", ";
    all += std::string(it->value());
  }
  fields.set(http::field::via, all.empty() ? entry : all + ", " + entry);
}

size_t CountFields(const http::fields& fields) {
  size_t n = 0;
  for (auto it = fields.begin(); it != fields.end(); ++it) ++n;
  return n;
}

}  // namespace seccloud::proxy
