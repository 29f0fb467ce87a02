#pragma once
// The URL filter (R10): the proxy asks it, per request, whether a tenant's user may fetch a URL.
// Layers: force-block (lists and feeds no one can lift), common (all tenants), tenant (one
// tenant's own rules). See README.md in this folder for the precedence and what a tenant can and
// cannot override.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/policy_config.h"
#include "core/result.h"
#include "policy/category_db.h"
#include "policy/feed.h"

namespace seccloud {
class EventWriter;
}

namespace seccloud::policy {

inline constexpr size_t kMaxUrlBytes = 8192;

struct UrlRequest {
  std::string_view method;
  std::string_view scheme;  // "http", "https"
  std::string_view host;    // lower-case name or IP literal
  uint16_t port = 0;        // 0: the scheme's default
  std::string_view path;    // path + query, "/" when only the host is known
  // False for an HTTPS CONNECT that is not intercepted: only the host (SNI) is known, so URL
  // prefixes (other than "/"), regexes and category URL entries cannot be judged.
  bool full_url_visible = true;
  bool is_upload = false;  // POST/PUT/PATCH or multipart
};

enum class Action { kAllow, kBlock, kWarn };
const char* ActionName(Action a);  // "allow", "block", "warn"

struct Verdict {
  Action action = Action::kAllow;
  std::string layer;     // "force-block", "common", "tenant"
  std::string list;      // list name, feed name, "categories", "posting" …; empty for the default
  std::string entry;     // the matching entry as written (or the category database key)
  std::string category;  // UT1 category if any matched
  std::string reason;    // one English sentence
  bool alert = false;    // a threat-intelligence hit: the SOC must raise an alert
  bool posting_restricted = false;
};

// A URL in the form the rules are matched against.
struct NormalizedUrl {
  std::string full;  // "https://example.com:8443/a/b?q" (default port omitted)
  std::string_view scheme;
  std::string_view host;  // lower-case, no trailing dot; IPv6 without brackets
  std::string_view path;  // starts with '/', query included, fragment dropped
  uint16_t port = 0;      // the effective port (80/443 when defaulted)
  bool host_is_ip = false;
};

// Lower-cases scheme and host, strips the host's trailing dot, canonicalises IP literals, decodes
// percent-encoded unreserved characters (and upper-cases the hex of the others), percent-encodes
// blanks, controls and non-ASCII bytes, removes dot segments, drops the fragment and the default
// port. IDN hosts must already be punycode (xn--…); non-ASCII hosts are refused. Refuses (nullopt
// with *why) inputs over kMaxUrlBytes, bad schemes and bad hosts.
std::optional<NormalizedUrl> NormalizeUrl(std::string_view scheme, std::string_view host,
                                          uint16_t port, std::string_view path,
                                          std::string* why = nullptr);
// The same from "scheme://host[:port]/path?query".
std::optional<NormalizedUrl> NormalizeUrl(std::string_view url, std::string* why = nullptr);

struct UrlFilterInputs {
  // Preloaded category database; when null, the filter opens PolicyConfig::category_db.
  std::shared_ptr<const CategoryDb> categories;
  // Preloaded feed versions by feed name; feeds missing here are loaded with `fetcher`.
  std::map<std::string, std::shared_ptr<const FeedData>> feeds;
  FeedFetcher* fetcher = nullptr;  // null: MakeDefaultFeedFetcher()
};

// One immutable snapshot of the compiled policy. Evaluate is safe to call from any number of
// threads and does not lock.
class UrlFilter {
 public:
  static Result<std::shared_ptr<const UrlFilter>> Build(const PolicyConfig& config,
                                                        UrlFilterInputs inputs = {});
  ~UrlFilter();
  UrlFilter(const UrlFilter&) = delete;
  UrlFilter& operator=(const UrlFilter&) = delete;

  // The verdict for one request of `tenant_id` (a tenant without rules of its own, or an unknown
  // id, gets the common layer only).
  Verdict Evaluate(const UrlRequest& request, std::string_view tenant_id) const;

  const PolicyConfig& config() const;
  const std::shared_ptr<const CategoryDb>& categories() const;
  const std::map<std::string, std::shared_ptr<const FeedData>>& feeds() const;
  size_t rule_count() const;  // list entries + feed entries compiled into this snapshot

  class Impl;

 private:
  explicit UrlFilter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The current snapshot, swapped atomically: readers take a reference and keep using the snapshot
// (and its category mapping) until they drop it, while a writer installs a new one.
class UrlFilterHandle {
 public:
  explicit UrlFilterHandle(std::shared_ptr<const UrlFilter> initial) : current_(initial) {}
  std::shared_ptr<const UrlFilter> Get() const { return current_.load(std::memory_order_acquire); }
  void Set(std::shared_ptr<const UrlFilter> next) {
    current_.store(std::move(next), std::memory_order_release);
  }
  Verdict Evaluate(const UrlRequest& request, std::string_view tenant_id) const {
    return Get()->Evaluate(request, tenant_id);
  }

 private:
  std::atomic<std::shared_ptr<const UrlFilter>> current_;
};

// Keeps the feeds and the category database of a UrlFilterHandle current (R10 auto-maintenance).
// Poll() is called on a schedule (e.g. every few seconds from a timer); each feed is fetched when
// its interval has passed. A new version is validated (LoadFeed) and, when good, a new snapshot is
// built and installed; a refused version keeps the old data and writes a "feed-rejected" event.
// The category database is reopened when its file was replaced (new inode or mtime).
// Not thread-safe: one thread polls.
class FeedUpdater {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  struct Options {
    FeedFetcher* fetcher = nullptr;  // required
    Clock clock;                     // default steady_clock::now
    EventWriter* events = nullptr;   // optional
  };
  struct Stats {
    uint64_t fetches = 0;
    uint64_t accepted = 0;
    uint64_t rejected = 0;
    uint64_t unchanged = 0;  // same bytes as the current version
    uint64_t category_reloads = 0;
  };

  FeedUpdater(UrlFilterHandle& handle, Options options);
  // Runs the due feeds; returns how many snapshots were installed.
  size_t Poll();
  const Stats& stats() const { return stats_; }
  // The last rejection's reason per feed (empty once a version is accepted).
  const std::map<std::string, std::string>& last_errors() const { return last_errors_; }

 private:
  void Reject(const FeedConfig& feed, const std::string& why);

  UrlFilterHandle& handle_;
  Options options_;
  std::map<std::string, std::chrono::steady_clock::time_point> next_due_;
  std::map<std::string, std::string> last_errors_;
  Stats stats_;
  struct FileId {
    uint64_t dev = 0, ino = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  FileId category_file_{};
  bool category_file_known_ = false;
};

}  // namespace seccloud::policy
