#pragma once
// The `policy:` section of the configuration (R10, URL filter): URL lists per layer, category
// actions, posting restrictions and threat-intelligence feeds. Plain data validated by the config
// loader; the policy module compiles it into its runtime snapshot (policy::UrlFilter::Build).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/ip.h"

namespace seccloud {

// Bounds on what a configuration may ask the URL filter to hold.
inline constexpr size_t kMaxPolicyListsPerLayer = 64;
inline constexpr size_t kMaxPolicyEntriesPerList = 1'000'000;
inline constexpr size_t kMaxPolicyRegexesPerList = 256;
inline constexpr size_t kMaxPolicyRegexBytes = 512;
inline constexpr size_t kMaxPolicyFeeds = 32;

// One entry of a URL list. Written in the config as:
//   example.com                  domain with its subdomains (not badexample.com)
//   =www.example.com             exactly this host
//   https://example.com/path/    URL prefix (scheme, host, port and path prefix must match)
//   ~^https://[^/]+/wp-admin/    RE2 regular expression over the normalised URL
//   192.0.2.0/24, 2001:db8::1    IP address or CIDR, matched when the host is an IP literal
struct UrlRuleConfig {
  enum class Kind : uint8_t { kDomain, kExactHost, kUrlPrefix, kRegex, kCidr };
  Kind kind = Kind::kDomain;
  std::string text;   // as written; verdicts name it
  std::string value;  // lower-case host for kDomain/kExactHost, the URL for kUrlPrefix,
                      // the pattern for kRegex
  IpPrefix prefix;    // kCidr
};

struct UrlListConfig {
  std::string name;  // identifier; verdicts name it as `list`
  std::vector<UrlRuleConfig> entries;
};

// What a category (UT1 name, e.g. "gambling") does. kForceBlock is for the common layer only:
// such a category cannot be lifted by any tenant.
enum class CategoryAction : uint8_t { kAllow, kWarn, kBlock, kForceBlock };
const char* CategoryActionName(CategoryAction a);  // "allow", "warn", "block", "force-block"

// Sites and categories where uploads (POST/PUT/PATCH, multipart) are blocked while other
// requests pass.
struct PostingConfig {
  std::string name = "posting";  // the list name verdicts report
  std::vector<UrlRuleConfig> entries;
  std::vector<std::string> categories;
};

// The common layer or one tenant's layer.
struct PolicyLayerConfig {
  std::vector<UrlListConfig> whitelists;
  std::vector<UrlListConfig> blacklists;
  std::map<std::string, CategoryAction> categories;  // UT1 category name → action
  PostingConfig posting;
};

// A threat-intelligence feed: every entry is force-blocked and raises an alert (R10, R12).
struct FeedConfig {
  std::string name;  // identifier; verdicts name it as `list`
  // A file, a directory (each regular file in it), or "http://<IP>:<port>/<path>".
  std::string source;
  // Optional: a sha256sum-format manifest (path or http URL) every fetched file must match.
  std::string checksum;
  std::chrono::milliseconds interval{3'600'000};
  // A new version with fewer than (1 - max_shrink) × the current entries is refused.
  double max_shrink = 0.5;
  size_t min_entries = 1;
};

struct PolicyConfig {
  // The compiled category database (seccloud policy import-categories); empty: no categories.
  std::filesystem::path category_db;
  // Lists no one can lift (legal orders, incident response).
  std::vector<UrlListConfig> force_block;
  PolicyLayerConfig common;
  std::map<std::string, PolicyLayerConfig> tenants;  // by tenant id
  std::vector<FeedConfig> feeds;
};

}  // namespace seccloud
