#pragma once
// Threat-intelligence matching (R18, R20): indicator feeds (IPs, CIDRs, domains, URLs, file
// hashes) loaded once into an immutable IntelSet, and MatchRecord, which looks up every record's
// IPs, domains, URLs and hashes and reports each hit as a Detection (ruleset "intel"), so the
// alert store can raise severity "from threat intelligence".
//
// An IntelSet is immutable once built and safe for concurrent readers; reload by building a new
// one and swapping the shared_ptr.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "soc/detection.h"
#include "soc/field_view.h"
#include "soc/record.h"

namespace seccloud::soc {

// How a feed file is written. Every format skips blank lines and reports any other line it cannot
// read as a bad line (with file:line), never as a fatal error.
enum class IntelFormat : uint8_t {
  // seccloud's own: one indicator a line — IP, CIDR, domain ("*.x.example" is the same as
  // "x.example"), URL, or an md5/sha1/sha256 hex hash — with an optional "# comment" after it,
  // which becomes the indicator's description. A comment line describes the indicators after it,
  // up to the next blank line.
  kSeccloud = 1,
  // Neo23x0 signature-base / LOKI c2-iocs.txt: domains and IPs, "value;score" allowed, "#"
  // comment lines naming the report the following indicators come from.
  kLokiC2 = 2,
  // One domain or IP a line, "#" or "!" comments (urlhaus-filter-domains.txt).
  kDomainList = 3,
  // hosts file: "0.0.0.0 host [host…]" (urlhaus-filter-hosts.txt); localhost entries are skipped.
  kHosts = 4,
  // Adblock filter list (urlhaus-filter.txt): "||host^" is a domain, "||host/path^$opts" a URL
  // (any scheme), a bare line a domain or IP, "!" comments. Exception rules ("@@") and wildcards
  // other than a leading "*." are reported as bad lines.
  kAdblock = 5,
};
const char* IntelFormatName(IntelFormat format);  // "seccloud", "loki-c2", "domains", "hosts", …
bool ParseIntelFormatName(std::string_view name, IntelFormat* out);

// ECS threat.indicator.type of each kind of indicator ("ipv4-addr", "domain-name", "url",
// "file" for hashes).
enum class IndicatorType : uint8_t { kIpv4, kIpv6, kCidr, kDomain, kUrl, kMd5, kSha1, kSha256 };
inline constexpr size_t kIndicatorTypeCount = 8;
const char* IndicatorTypeName(IndicatorType type);  // "ipv4", "ipv6", "cidr", "domain", "url", …
const char* IndicatorEcsType(IndicatorType type);   // "ipv4-addr", "domain-name", "url", "file"

struct IntelFeed {
  std::string name;  // the provider; detections carry rule_id "intel:<name>". [A-Za-z0-9._-]+
  std::string path;  // the file (LoadIntel only)
  IntelFormat format = IntelFormat::kSeccloud;
  Level level = Level::kHigh;       // the level of every detection from this feed
  std::string confidence = "High";  // threat.indicator.confidence: "Low", "Medium", "High"
  std::string description;          // for indicators the file gives no description
};

// The largest feed file LoadIntel reads, the longest line, and the most indicators one IntelSet
// holds; past them lines are counted as bad, nothing is silently dropped.
inline constexpr size_t kMaxIntelFileBytes = size_t{512} << 20;
inline constexpr size_t kMaxIntelLineBytes = 8192;
inline constexpr size_t kMaxIntelIndicators = 50'000'000;
inline constexpr size_t kMaxReportedIntelProblems = 200;

struct IntelFeedStats {
  std::string name;
  std::string path;
  uint64_t lines = 0;
  uint64_t indicators = 0;  // added (distinct within the feed)
  uint64_t duplicates = 0;  // repeated within the feed, counted once
  uint64_t bad_lines = 0;
  uint64_t skipped = 0;  // understood but deliberately not indexed (hosts' localhost entries)
  std::array<uint64_t, kIndicatorTypeCount> by_type{};
};

struct IntelLoadReport {
  std::vector<IntelFeedStats> feeds;
  // "path:line: reason", the first kMaxReportedIntelProblems of them; bad_lines counts them all.
  std::vector<std::string> problems;
  uint64_t bad_lines = 0;
  uint64_t indicators = 0;
  int64_t load_ms = 0;
  size_t memory_bytes = 0;  // estimate of the IntelSet's heap use
};

class IntelSet;

// One feed's contents held in memory (for feeds that do not come from a file, and for fuzzing).
struct IntelFeedText {
  IntelFeed feed;
  std::string_view text;
};

// Reads each feed's file and builds the set. An unreadable or oversized file, or a feed without a
// valid name, is an error (the configuration is wrong); bad lines are only counted and reported.
Result<std::shared_ptr<const IntelSet>> LoadIntel(const std::vector<IntelFeed>& feeds,
                                                  IntelLoadReport* report);
Result<std::shared_ptr<const IntelSet>> BuildIntel(std::span<const IntelFeedText> feeds,
                                                   IntelLoadReport* report);

// One indicator of one feed. The same value listed by two feeds is two entries.
struct IntelEntry {
  IndicatorType type = IndicatorType::kDomain;
  uint32_t feed = 0;         // index into IntelSet::feeds()
  uint32_t description = 0;  // index into IntelSet::descriptions(); 0 is ""
  uint32_t next = 0;         // the next entry with the same key, or kNoEntry
  std::string value;         // normalised: "evil.example", "10.0.0.0/8", "evil.example/x.exe"
};

class IntelSet {
 public:
  static constexpr uint32_t kNoEntry = UINT32_MAX;

  // What a looked-up value is. Each Lookup appends the matching entries to *out (which the caller
  // reuses, so a lookup allocates nothing once *out has grown) and returns how many it appended.
  // Values are normalised here: case, a trailing dot, an IPv4-mapped IPv6 address, a URL's scheme
  // and default port. A domain matches an indicator for itself or any parent domain; an IP
  // matches an exact IP indicator and every CIDR containing it; a URL matches exactly (scheme not
  // compared: feeds list URLs without one) — its host is looked up separately by MatchRecord.
  size_t LookupIp(std::string_view ip, std::vector<const IntelEntry*>* out) const;
  size_t LookupIp(const IpAddress& ip, std::vector<const IntelEntry*>* out) const;
  size_t LookupDomain(std::string_view domain, std::vector<const IntelEntry*>* out) const;
  size_t LookupUrl(std::string_view url, std::vector<const IntelEntry*>* out) const;
  // LookupUrl of a URL the caller has already put through NormalizeUrlKey (below): `key` is
  // that key, so the URL is not normalised twice.
  size_t LookupUrlKey(std::string_view key, std::vector<const IntelEntry*>* out) const;
  size_t LookupHash(std::string_view hex, std::vector<const IntelEntry*>* out) const;

  // Whether any indicator of a kind is loaded: MatchRecord skips the fields (and their lookups
  // in the record) that could only match a kind the set has none of.
  bool has_ips() const { return !ips_.empty() || !prefixes_.empty(); }
  bool has_domains() const { return !domains_.empty(); }
  bool has_urls() const { return !urls_.empty(); }
  bool has_hashes() const { return !hashes_.empty(); }

  const std::vector<IntelFeed>& feeds() const { return feeds_; }
  const std::vector<std::string>& descriptions() const { return descriptions_; }
  size_t size() const { return entries_.size(); }
  size_t MemoryBytes() const;

 private:
  friend class IntelSetBuilder;

  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using StringIndex = std::unordered_map<std::string, uint32_t, KeyHash, std::equal_to<>>;
  struct IpKey {
    std::array<uint8_t, 16> bytes{};
    bool v4 = false;
    bool operator==(const IpKey&) const = default;
  };
  struct IpKeyHash {
    size_t operator()(const IpKey& k) const;
  };
  using IpIndex = std::unordered_map<IpKey, uint32_t, IpKeyHash>;
  struct PrefixIndex {
    unsigned length = 0;
    bool v4 = false;
    IpIndex networks;
  };

  // A one-hash Bloom filter in front of each index (about 16 bits a key, so ~6 % false
  // positives): most looked-up values are in no feed, and the filter (tens of KiB, cache
  // resident) turns them away without touching the hash table's buckets and nodes.
  struct KeyFilter {
    std::vector<uint64_t> bits;  // empty: no key (every lookup misses)
    uint64_t mask = 0;
    void Build(size_t keys);
    void Insert(size_t hash) { bits[(hash & mask) >> 6] |= uint64_t{1} << (hash & 63); }
    bool MayContain(size_t hash) const {
      return !bits.empty() && ((bits[(hash & mask) >> 6] >> (hash & 63)) & 1) != 0;
    }
  };

  size_t Collect(uint32_t first, std::vector<const IntelEntry*>* out) const;
  // LookupIp of an IPv4 address (host byte order).
  size_t LookupIpv4(uint32_t address, std::vector<const IntelEntry*>* out) const;
  // The entries of `key` in `index` (URLs or hashes), `filter` being that index's own.
  size_t LookupString(const StringIndex& index, const KeyFilter& filter, std::string_view key,
                      std::vector<const IntelEntry*>* out) const;
  // The entries of `key` in `index`, its filter already passed.
  size_t LookupFiltered(const StringIndex& index, std::string_view key,
                        std::vector<const IntelEntry*>* out) const;
  // The domain filter's hash of a name: FNV-1a over its bytes from the last to the first, so
  // that one pass over a looked-up name from its end gives the hash of every parent domain (no
  // hash call per suffix). Mixed, since the filter takes the low bits.
  static constexpr uint64_t kSuffixSeed = 0xcbf29ce484222325ull;
  static constexpr uint64_t SuffixStep(uint64_t h, char c) {
    return (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  }
  static constexpr uint64_t SuffixMix(uint64_t h) {
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
  }
  static uint64_t DomainFilterHash(std::string_view name);
  static IpKey KeyOf(const IpAddress& a, unsigned length);

  std::vector<IntelFeed> feeds_;
  std::vector<std::string> descriptions_;
  std::vector<IntelEntry> entries_;
  IpIndex ips_;
  std::vector<PrefixIndex> prefixes_;  // one per (family, length) present, longest first
  StringIndex domains_;
  StringIndex urls_;
  StringIndex hashes_;
  KeyFilter ip_filter_;  // the keys of ips_ and of every prefixes_[i].networks
  KeyFilter domain_filter_, url_filter_, hash_filter_;
};

// The key a URL is indexed and looked up by: "host[:port]/path?query" with scheme and host lower
// case, userinfo, fragment and the scheme's default port dropped, "/" for an empty path. The host
// is written back through *host (a view into *key) when host is not null. False when `url` has no
// host or an invalid one.
bool NormalizeUrlKey(std::string_view url, std::string* key, std::string_view* host = nullptr);

// Looks up the record's source.ip, destination.ip, client.ip, related.ip[], url.domain,
// destination.domain, dns.question.name, tls.client.server_name, related.hosts[], url.full,
// url.original (with url.domain when it is only a path) and the host of each URL, and
// file.hash.* / process.hash.*; appends one Detection per matching (feed, indicator) — ruleset
// "intel", rule_id "intel:<feed>", level from the feed, context threat.indicator.{type, value,
// provider, description, confidence} and seccloud.intel.{field, atomic} (which field held what),
// entity "source.ip=<ip>" and terminal the record's source.ip (client.ip, else host.name, when
// it has none).
void MatchRecord(const IntelSet& intel, const Record& record, std::vector<Detection>* out);
// The same, reading view.record() through `view` (shared with the record's other readers:
// DetectionEngine::Process).
void MatchRecord(const IntelSet& intel, FieldView& view, std::vector<Detection>* out);

}  // namespace seccloud::soc
