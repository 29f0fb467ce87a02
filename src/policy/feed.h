#pragma once
// Threat-intelligence feeds (R10): blocklists of hosts, IPs and URLs loaded from files, directories
// or http:// URLs, validated, and kept current by a FeedUpdater without a restart. Every feed entry
// is force-blocked and raises an alert.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy_config.h"
#include "core/result.h"

namespace seccloud {
class EventWriter;
}

namespace seccloud::policy {

inline constexpr size_t kMaxFeedBytes = 64u << 20;  // per feed version, all files together
inline constexpr size_t kMaxFeedFiles = 64;

// One parsed version of a feed. Immutable once built; shared by the filter snapshots using it.
struct FeedData {
  std::string name;
  std::vector<UrlRuleConfig> entries;  // kDomain, kExactHost, kUrlPrefix (any scheme), kCidr
  size_t lines = 0;                    // lines that were neither comments nor blank
  size_t bad_lines = 0;                // of those, lines no format recognised
  std::string sha256;                  // hex digest of the fetched bytes (all files, in order)
};

// Parses blocklist text: one indicator per line in any of the formats the shared feeds use —
// plain hosts and IPs (URLhaus domains, c2-iocs.txt, "ip;score"), hosts files ("0.0.0.0 host"),
// Adblock rules ("||host^", "||host/path^$all"), host/path URLs, and RPZ ("host CNAME ."). Lines
// starting with '#', '!' or ';' are comments. Appends to `out`.
void ParseFeedText(std::string_view text, FeedData& out);

// One fetched file of a feed.
struct FeedFile {
  std::string name;  // file name ("urlhaus-filter.txt"), as a checksum manifest lists it
  std::string bytes;
};

// What touches the outside world when a feed is fetched; injectable for tests.
class FeedFetcher {
 public:
  virtual ~FeedFetcher() = default;
  // The current content at `source`: a file, every regular file of a directory (sorted by name,
  // hidden files skipped), or an http://IP:port/path URL. At most kMaxFeedFiles files and
  // kMaxFeedBytes bytes.
  virtual Result<std::vector<FeedFile>> Fetch(const std::string& source) = 0;
};
// Files and directories from the local file system, http:// through net-free blocking sockets
// with a 30 s deadline.
std::unique_ptr<FeedFetcher> MakeDefaultFeedFetcher();

// Fetches, parses and checks a feed version against `config` (non-empty, parses, at least
// min_entries, matches the checksum manifest when one is configured) and, when `previous` is
// given, that it did not shrink by more than max_shrink.
Result<std::shared_ptr<const FeedData>> LoadFeed(const FeedConfig& config, FeedFetcher& fetcher,
                                                 const FeedData* previous = nullptr);

}  // namespace seccloud::policy
