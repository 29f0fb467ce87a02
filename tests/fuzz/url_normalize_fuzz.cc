// R10: fuzzes NormalizeUrl (both forms) and UrlFilter::Evaluate with hostile request fields.
// Checks, besides memory safety: the result is bounded, normalising is idempotent, a verdict
// always names its reason, and NormalizeUrl answers as its reference form
// (url_normalize_reference.h) does.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "policy/url_filter.h"
#include "policy/url_normalize_reference.h"

namespace {

using seccloud::policy::NormalizeUrl;

const seccloud::policy::UrlFilter& Filter() {
  static auto filter = [] {
    seccloud::PolicyConfig p;
    auto rule = [](seccloud::UrlRuleConfig::Kind k, std::string v) {
      seccloud::UrlRuleConfig r;
      r.kind = k;
      r.text = v;
      r.value = std::move(v);
      return r;
    };
    using K = seccloud::UrlRuleConfig::Kind;
    p.force_block.push_back({"fb", {rule(K::kDomain, "evil.example")}});
    seccloud::UrlRuleConfig cidr = rule(K::kCidr, "192.0.2.0/24");
    cidr.prefix = *seccloud::IpPrefix::Parse("192.0.2.0/24");
    p.common.blacklists.push_back({"bl",
                                   {rule(K::kUrlPrefix, "https://docs.example/private/"),
                                    rule(K::kRegex, "^http://[^/]+/wp-(login|admin)"),
                                    rule(K::kExactHost, "www.exact.example"), cidr}});
    p.common.posting.entries.push_back(rule(K::kDomain, "paste.example"));
    p.tenants["t"].whitelists.push_back({"wl", {rule(K::kDomain, "ok.example")}});
    auto f = seccloud::policy::UrlFilter::Build(p);
    if (!f) std::abort();
    return *f;
  }();
  return *filter;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 3, size - 3);
  const uint16_t port = static_cast<uint16_t>(data[1] << 8 | data[2]);
  if (auto u = NormalizeUrl(in)) {
    Check(u->full.size() <= seccloud::policy::kMaxUrlBytes, "bounded");
    Check(!u->path.empty() && u->path.front() == '/', "path starts with /");
    auto again = NormalizeUrl(u->full);
    Check(again.has_value(), "a normalised URL normalises");
    Check(again->full == u->full, "idempotent");
  }
  // Fields as the proxy passes them: "scheme \n host \n path".
  const size_t a = in.find('\n');
  const size_t b = a == std::string_view::npos ? a : in.find('\n', a + 1);
  if (b == std::string_view::npos) return 0;
  seccloud::policy::UrlRequest r;
  r.scheme = in.substr(0, a);
  r.host = in.substr(a + 1, b - a - 1);
  r.path = in.substr(b + 1);
  r.port = port;
  r.full_url_visible = data[0] & 1;
  r.is_upload = data[0] & 2;
  std::string why, ref_why;
  const auto u = NormalizeUrl(r.scheme, r.host, r.port, r.path, &why);
  if (u) {
    auto again = NormalizeUrl(u->full);
    Check(again.has_value() && again->full == u->full, "field form idempotent");
  }
  // The single-buffer form against the byte-at-a-time form it replaced.
  const auto ref =
      seccloud::policy::reference::NormalizeUrl(r.scheme, r.host, r.port, r.path, &ref_why);
  Check(u.has_value() == ref.has_value(), "accepted as the reference accepts");
  if (u) {
    Check(u->full == ref->full && u->scheme == ref->scheme && u->host == ref->host &&
              u->path == ref->path && u->port == ref->port && u->host_is_ip == ref->host_is_ip,
          "the reference's URL, views, port and IP flag");
  } else {
    Check(why == ref_why, "the reference's error");
  }
  const auto v = Filter().Evaluate(r, (data[0] & 4) ? "t" : "");
  Check(!v.reason.empty(), "a verdict has a reason");
  return 0;
}
