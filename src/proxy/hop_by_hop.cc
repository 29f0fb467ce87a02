#include "proxy/hop_by_hop.h"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <iterator>

namespace seccloud::proxy {

namespace http = boost::beast::http;

namespace {
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ASCII case-insensitive, as field names and connection options are compared.
bool IEquals(std::string_view a, std::string_view b) {
  return boost::beast::iequals(boost::beast::string_view(a.data(), a.size()),
                               boost::beast::string_view(b.data(), b.size()));
}
}  // namespace

HopByHopResult StripHopByHop(http::fields& fields) {
  HopByHopResult out;
  // The names Connection lists, as views into its values (so the Connection fields go last).
  // Bounded: each remaining field is compared with every name.
  constexpr size_t kMaxNamed = 64;
  std::array<std::string_view, kMaxNamed> named;
  size_t count = 0;
  for (auto it = fields.find(http::field::connection);
       it != fields.end() && it->name() == http::field::connection; ++it) {
    std::string_view v = it->value();
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view token = Trim(v.substr(0, comma));
      if (!token.empty() && count < kMaxNamed) named[count++] = token;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  for (size_t i = 0; i < count; ++i)
    if (IEquals(named[i], "upgrade")) out.upgrade_requested = true;
  if (out.upgrade_requested) {
    auto up = fields.find(http::field::upgrade);
    if (up != fields.end())
      out.upgrade = std::string(up->value());
    else
      out.upgrade_requested = false;
  }
  // One pass over the fields instead of a lookup (and a rebalancing erase) per name.
  for (auto it = fields.begin(); it != fields.end();) {
    bool drop = false;
    switch (it->name()) {
      case http::field::connection:
        break;  // below, once the names are no longer needed
      case http::field::keep_alive:
      case http::field::proxy_connection:
      case http::field::proxy_authenticate:
      case http::field::proxy_authorization:
      case http::field::te:
      case http::field::trailer:
      case http::field::transfer_encoding:
      case http::field::upgrade:
        drop = true;
        break;
      default: {
        const std::string_view name(it->name_string().data(), it->name_string().size());
        for (size_t i = 0; i < count && !drop; ++i) drop = IEquals(name, named[i]);
      }
    }
    if (drop) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
  fields.erase(http::field::connection);
  return out;
}

bool AddVia(http::fields& fields, unsigned version, std::string_view pseudonym) {
  std::string entry = std::to_string(version / 10) + "." + std::to_string(version % 10) + " " +
                      std::string(pseudonym);
  // Several Via fields are one comma-separated list (RFC 9110 §5.3); keep them all, in order.
  std::string all;
  for (auto [it, end] = fields.equal_range(http::field::via); it != end; ++it) {
    if (!all.empty()) all += ", ";
    all += std::string(it->value());
    if (all.size() > kMaxFieldBytes) return false;  // many Via fields: stop joining early
  }
  if (!all.empty()) all += ", ";
  all += entry;
  if (all.size() > kMaxFieldBytes) return false;
  fields.set(http::field::via, all);
  return true;
}

bool OnlyChunked(const http::fields& fields) {
  size_t codings = 0;
  for (auto [it, end] = fields.equal_range(http::field::transfer_encoding); it != end; ++it) {
    std::string_view v = it->value();
    while (true) {
      const size_t comma = v.find(',');
      const std::string_view token = Trim(v.substr(0, comma));
      // Empty list elements are allowed (RFC 9110 §5.6.1) and name no coding.
      if (!token.empty() && (++codings > 1 || !IEquals(token, "chunked"))) return false;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return codings == 1;
}

std::optional<uint64_t> MaxForwards(const http::fields& fields) {
  auto [it, end] = fields.equal_range(http::field::max_forwards);
  if (it == end || std::next(it) != end) return std::nullopt;
  const std::string_view v = Trim(it->value());
  if (v.empty()) return std::nullopt;
  constexpr uint64_t kCap = uint64_t{1} << 32;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = std::min(kCap, n * 10 + static_cast<uint64_t>(c - '0'));
  }
  return n;
}

size_t CountFields(const http::fields& fields) {
  size_t n = 0;
  for (auto it = fields.begin(); it != fields.end(); ++it) ++n;
  return n;
}

}  // namespace seccloud::proxy
