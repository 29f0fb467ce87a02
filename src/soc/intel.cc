#include "soc/intel.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

#include "core/prefix_table.h"
#include "core/text.h"
#include "soc/detect_fields.h"
#include "soc/field_view.h"
#include "soc/ipv4_text.h"

namespace seccloud::soc {
namespace {

constexpr std::array<std::pair<IntelFormat, const char*>, 5> kFormatNames = {{
    {IntelFormat::kSeccloud, "seccloud"},
    {IntelFormat::kLokiC2, "loki-c2"},
    {IntelFormat::kDomainList, "domains"},
    {IntelFormat::kHosts, "hosts"},
    {IntelFormat::kAdblock, "adblock"},
}};

constexpr size_t kMaxDomainBytes = 253;

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

bool ValidFeedName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// Domain names as feeds write them: like core's NormalizeDomainName but '_' is allowed, since
// malware infrastructure uses names no registrar would check (DNS itself allows any octet).
std::optional<std::string> NormalizeIndicatorDomain(std::string_view s, std::string* why) {
  if (s.size() >= 2 && s[0] == '*' && s[1] == '.') s.remove_prefix(2);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return *why = "is empty", std::nullopt;
  if (s.size() > kMaxDomainBytes) return *why = "is longer than 253 bytes", std::nullopt;
  std::string out;
  out.reserve(s.size());
  size_t label = 0, labels = 1;
  for (char c : s) {
    c = Lower(c);
    if (c == '.') {
      if (label == 0) return *why = "has an empty label", std::nullopt;
      label = 0;
      ++labels;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      if (++label > 63) return *why = "has a label longer than 63 bytes", std::nullopt;
    } else {
      *why = "is not an IP, CIDR, URL, hash or domain name (character " + Quote(std::string(1, c)) +
             ")";
      return std::nullopt;
    }
    out += c;
  }
  if (label == 0) return *why = "has an empty label", std::nullopt;
  // A single label ("com") would match a whole top-level domain: almost certainly a mistake.
  if (labels < 2) return *why = "is a single-label domain (would match a whole TLD)", std::nullopt;
  return out;
}

// s.find_first_of(set) as one loop over s (libstdc++'s searches the set with a memchr call for
// each byte of s; MatchRecord runs this over every URL).
template <size_t N>
size_t FindAnyOf(std::string_view s, const char (&set)[N]) {
  for (size_t i = 0; i < s.size(); ++i) {
    for (size_t k = 0; k + 1 < N; ++k) {
      if (s[i] == set[k]) return i;
    }
  }
  return std::string_view::npos;
}

int DefaultPort(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  if (scheme == "ftp") return 21;
  return -1;
}

}  // namespace

const char* IntelFormatName(IntelFormat format) {
  for (const auto& [f, name] : kFormatNames) {
    if (f == format) return name;
  }
  return "unknown";
}

bool ParseIntelFormatName(std::string_view name, IntelFormat* out) {
  for (const auto& [f, n] : kFormatNames) {
    if (name == n) {
      *out = f;
      return true;
    }
  }
  return false;
}

const char* IndicatorTypeName(IndicatorType type) {
  switch (type) {
    case IndicatorType::kIpv4:
      return "ipv4";
    case IndicatorType::kIpv6:
      return "ipv6";
    case IndicatorType::kCidr:
      return "cidr";
    case IndicatorType::kDomain:
      return "domain";
    case IndicatorType::kUrl:
      return "url";
    case IndicatorType::kMd5:
      return "md5";
    case IndicatorType::kSha1:
      return "sha1";
    case IndicatorType::kSha256:
      return "sha256";
  }
  return "unknown";
}

const char* IndicatorEcsType(IndicatorType type) {
  switch (type) {
    case IndicatorType::kIpv4:
      return "ipv4-addr";
    case IndicatorType::kIpv6:
      return "ipv6-addr";
    case IndicatorType::kCidr:
      return "ipv4-addr";  // overwritten by family in MatchRecord
    case IndicatorType::kDomain:
      return "domain-name";
    case IndicatorType::kUrl:
      return "url";
    case IndicatorType::kMd5:
    case IndicatorType::kSha1:
    case IndicatorType::kSha256:
      return "file";
  }
  return "unknown";
}

bool NormalizeUrlKey(std::string_view url, std::string* key, std::string_view* host_out) {
  key->clear();
  std::string_view rest = url;
  std::string_view scheme;
  // A scheme is letters, digits, '+', '-', '.' before the first ':', followed by "//"; anything
  // else (a "://" later in the path) leaves the URL schemeless, as feeds write them.
  const size_t colon = FindAnyOf(url, ":/?#");
  if (colon != std::string_view::npos && colon > 0 && colon <= 16 && url[colon] == ':' &&
      url.substr(colon + 1, 2) == "//") {
    bool ok = (url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z');
    for (size_t i = 1; ok && i < colon; ++i) {
      const char c = url[i];
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '-' || c == '.';
    }
    if (ok) {
      scheme = url.substr(0, colon);
      rest = url.substr(colon + 3);
    }
  }
  if (scheme.empty() && rest.starts_with("//")) rest.remove_prefix(2);
  const size_t auth_end = std::min(FindAnyOf(rest, "/?#"), rest.size());
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = rest.substr(auth_end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority, port;
  bool bracketed = false;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      port = after.substr(1);
    }
    bracketed = true;
  } else if (const size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (!host.empty() && host.back() == '.' && !bracketed) host.remove_suffix(1);
  if (host.empty() || host.size() > kMaxDomainBytes) return false;
  if (!bracketed &&
      (host.front() == '.' || host.back() == '.' || host.find("..") != std::string_view::npos)) {
    return false;  // an empty label
  }
  for (char c : host) {
    const char l = Lower(c);
    const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_' ||
                    l == '.' || (bracketed && l == ':');
    if (!ok) return false;
  }
  // Port: digits only, at most 65535, leading zeros and the scheme's default dropped.
  uint32_t port_number = 0;
  bool has_port = false;
  if (!port.empty()) {
    if (port.size() > 5) return false;
    for (char c : port) {
      if (c < '0' || c > '9') return false;
      port_number = port_number * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port_number > 65535) return false;
    char lower_scheme[17] = {};
    for (size_t i = 0; i < scheme.size(); ++i) lower_scheme[i] = Lower(scheme[i]);
    has_port =
        static_cast<int>(port_number) != DefaultPort(std::string_view(lower_scheme, scheme.size()));
  }
  if (const size_t hash = tail.find('#'); hash != std::string_view::npos) {
    tail = tail.substr(0, hash);
  }
  key->reserve(host.size() + tail.size() + 10);
  if (bracketed) key->push_back('[');
  const size_t host_pos = key->size();
  for (char c : host) key->push_back(Lower(c));
  if (bracketed) key->push_back(']');
  if (has_port) {
    key->push_back(':');
    key->append(std::to_string(port_number));
  }
  if (tail.empty() || tail[0] != '/') key->push_back('/');
  key->append(tail);
  if (host_out != nullptr) *host_out = std::string_view(*key).substr(host_pos, host.size());
  return true;
}

// ---------------------------------------------------------------------------------------------
// IntelSet lookups.

size_t IntelSet::IpKeyHash::operator()(const IpKey& k) const {
  uint64_t a, b;
  std::memcpy(&a, k.bytes.data(), 8);
  std::memcpy(&b, k.bytes.data() + 8, 8);
  uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (k.v4 ? 1 : 0));
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return static_cast<size_t>(h);
}

IntelSet::IpKey IntelSet::KeyOf(const IpAddress& a, unsigned length) {
  IpKey key;
  key.v4 = a.is_v4();
  const auto& bytes = a.bytes();
  const unsigned width = key.v4 ? 4 : 16;
  for (unsigned i = 0; i < width; ++i) {
    const unsigned bit = i * 8;
    if (bit + 8 <= length) {
      key.bytes[i] = bytes[i];
    } else if (bit < length) {
      key.bytes[i] = static_cast<uint8_t>(bytes[i] & (0xFF << (8 - (length - bit))));
    }
  }
  return key;
}

size_t IntelSet::Collect(uint32_t first, std::vector<const IntelEntry*>* out) const {
  size_t n = 0;
  for (uint32_t i = first; i != kNoEntry; i = entries_[i].next) {
    out->push_back(&entries_[i]);
    ++n;
  }
  return n;
}

void IntelSet::KeyFilter::Build(size_t keys) {
  bits.clear();
  mask = 0;
  if (keys == 0) return;
  size_t n = 4096;
  while (n < 16 * keys && n < (size_t{1} << 30)) n <<= 1;
  bits.assign(n / 64, 0);
  mask = n - 1;
}

uint64_t IntelSet::DomainFilterHash(std::string_view name) {
  uint64_t h = kSuffixSeed;
  for (size_t i = name.size(); i-- > 0;) h = SuffixStep(h, name[i]);
  return SuffixMix(h);
}

size_t IntelSet::LookupFiltered(const StringIndex& index, std::string_view key,
                                std::vector<const IntelEntry*>* out) const {
  const auto it = index.find(key);
  return it == index.end() ? 0 : Collect(it->second, out);
}

size_t IntelSet::LookupString(const StringIndex& index, const KeyFilter& filter,
                              std::string_view key, std::vector<const IntelEntry*>* out) const {
  // URLs and hashes (domains: LookupDomain, with the domain filter's own hash).
  return filter.MayContain(KeyHash{}(key)) ? LookupFiltered(index, key, out) : 0;
}

size_t IntelSet::LookupIp(const IpAddress& address, std::vector<const IntelEntry*>* out) const {
  const IpAddress a = address.Unmapped();
  size_t n = 0;
  if (!ips_.empty()) {
    const IpKey key = KeyOf(a, a.bit_width());
    if (ip_filter_.MayContain(IpKeyHash{}(key))) {
      const auto it = ips_.find(key);
      if (it != ips_.end()) n += Collect(it->second, out);
    }
  }
  for (const auto& prefix : prefixes_) {
    if (prefix.v4 != a.is_v4()) continue;
    const IpKey key = KeyOf(a, prefix.length);
    if (!ip_filter_.MayContain(IpKeyHash{}(key))) continue;
    const auto it = prefix.networks.find(key);
    if (it != prefix.networks.end()) n += Collect(it->second, out);
  }
  return n;
}

namespace {

// IpAddress::Parse's answer for text without a ':' — exactly four decimal octets of at most 255,
// none with a leading zero, nothing before or after (internal::ParseCanonicalIpv4, the grammar
// the parsers' IpText uses for the same question) — without its copy and inet_pton call: most
// looked-up values are IPv4 addresses, and parsing them was a fifth of MatchRecord. The address in
// host byte order.
std::optional<uint32_t> ParseIpv4(std::string_view text) {
  uint8_t octets[4];
  if (!internal::ParseCanonicalIpv4(text, octets)) return std::nullopt;
  return uint32_t{octets[0]} << 24 | uint32_t{octets[1]} << 16 | uint32_t{octets[2]} << 8 |
         uint32_t{octets[3]};
}

}  // namespace

size_t IntelSet::LookupIpv4(uint32_t address, std::vector<const IntelEntry*>* out) const {
  // KeyOf(IpAddress::V4(address), length), without the IpAddress and its byte loop.
  auto key_of = [](uint32_t a) {
    IpKey key;
    key.v4 = true;
    key.bytes[0] = static_cast<uint8_t>(a >> 24);
    key.bytes[1] = static_cast<uint8_t>(a >> 16);
    key.bytes[2] = static_cast<uint8_t>(a >> 8);
    key.bytes[3] = static_cast<uint8_t>(a);
    return key;
  };
  size_t n = 0;
  if (!ips_.empty()) {
    const IpKey key = key_of(address);
    if (ip_filter_.MayContain(IpKeyHash{}(key))) {
      const auto it = ips_.find(key);
      if (it != ips_.end()) n += Collect(it->second, out);
    }
  }
  for (const auto& prefix : prefixes_) {
    if (!prefix.v4) continue;
    const uint32_t mask = prefix.length == 0 ? 0 : ~uint32_t{0} << (32 - prefix.length);
    const IpKey key = key_of(address & mask);
    if (!ip_filter_.MayContain(IpKeyHash{}(key))) continue;
    const auto it = prefix.networks.find(key);
    if (it != prefix.networks.end()) n += Collect(it->second, out);
  }
  return n;
}

// LookupIp(IpAddress::Parse(text)): an address without a ':' is IPv4 or none.
size_t IntelSet::LookupIp(std::string_view ip, std::vector<const IntelEntry*>* out) const {
  if (const auto v4 = ParseIpv4(ip)) return LookupIpv4(*v4, out);
  if (ip.find(':') == std::string_view::npos) return 0;
  const auto a = IpAddress::Parse(ip);
  return a ? LookupIp(*a, out) : 0;
}

size_t IntelSet::LookupDomain(std::string_view domain, std::vector<const IntelEntry*>* out) const {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > kMaxDomainBytes) return 0;
  // A host field may hold an address ("url.domain": "203.0.113.7", "[2001:db8::1]").
  if (domain.size() > 2 && domain.front() == '[' && domain.back() == ']') {
    return LookupIp(domain.substr(1, domain.size() - 2), out);
  }
  // One pass lowers the name and notes its dots and whether it has a ':'.
  char buf[kMaxDomainBytes];
  uint8_t dots[kMaxDomainBytes];  // offsets (< 253)
  size_t dot_count = 0;
  bool colon = false;
  for (size_t i = 0; i < domain.size(); ++i) {
    const char c = domain[i];
    buf[i] = Lower(c);
    if (c == '.') dots[dot_count++] = static_cast<uint8_t>(i);
    colon = colon || c == ':';
  }
  if ((domain[0] >= '0' && domain[0] <= '9') || colon) {
    if (const auto v4 = ParseIpv4(domain)) return LookupIpv4(*v4, out);
    if (colon) {
      if (const auto a = IpAddress::Parse(domain)) return LookupIp(*a, out);
    }
  }
  const std::string_view name(buf, domain.size());
  // The name itself, then each parent domain of at least two labels (a suffix with a dot left).
  if (dot_count == 0) return 0;  // a single label is never indexed
  if (domain_filter_.bits.empty()) return 0;
  // The filter's hash of every suffix that starts after a dot, in one pass from the end; only
  // the names the filter lets through are hashed for the table.
  uint64_t suffix_hash[kMaxDomainBytes];  // by dot index: the suffix after dots[k]
  uint64_t h = kSuffixSeed;
  size_t k = dot_count;
  for (size_t i = domain.size(); i-- > 0;) {
    if (k > 0 && i == dots[k - 1]) suffix_hash[--k] = SuffixMix(h);
    h = SuffixStep(h, buf[i]);
  }
  size_t n = 0;
  if (domain_filter_.MayContain(SuffixMix(h))) n += LookupFiltered(domains_, name, out);
  for (k = 0; k + 1 < dot_count; ++k) {
    if (domain_filter_.MayContain(suffix_hash[k])) {
      n += LookupFiltered(domains_, name.substr(dots[k] + 1u), out);
    }
  }
  return n;
}

size_t IntelSet::LookupUrl(std::string_view url, std::vector<const IntelEntry*>* out) const {
  if (urls_.empty()) return 0;
  thread_local std::string key;
  if (!NormalizeUrlKey(url, &key)) return 0;
  return LookupUrlKey(key, out);
}

size_t IntelSet::LookupUrlKey(std::string_view key, std::vector<const IntelEntry*>* out) const {
  if (urls_.empty()) return 0;
  return LookupString(urls_, url_filter_, key, out);
}

size_t IntelSet::LookupHash(std::string_view hex, std::vector<const IntelEntry*>* out) const {
  if (hex.size() != 32 && hex.size() != 40 && hex.size() != 64) return 0;
  char buf[64];
  for (size_t i = 0; i < hex.size(); ++i) buf[i] = Lower(hex[i]);
  return LookupString(hashes_, hash_filter_, std::string_view(buf, hex.size()), out);
}

size_t IntelSet::MemoryBytes() const {
  // Estimate for libstdc++: a hash node holds the pair, its cached hash and a next pointer; a
  // string longer than 15 bytes owns a heap block.
  auto string_heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; };
  size_t total = sizeof(*this);
  auto add_strings = [&](const StringIndex& index) {
    total += index.bucket_count() * sizeof(void*);
    for (const auto& [k, v] : index) {
      total += sizeof(std::pair<const std::string, uint32_t>) + 2 * sizeof(void*) + string_heap(k);
    }
  };
  add_strings(domains_);
  add_strings(urls_);
  add_strings(hashes_);
  auto add_ips = [&](const IpIndex& index) {
    total += index.bucket_count() * sizeof(void*) +
             index.size() * (sizeof(std::pair<const IpKey, uint32_t>) + 2 * sizeof(void*));
  };
  add_ips(ips_);
  for (const auto& p : prefixes_) add_ips(p.networks);
  for (const KeyFilter* f : {&ip_filter_, &domain_filter_, &url_filter_, &hash_filter_}) {
    total += f->bits.capacity() * sizeof(uint64_t);
  }
  total += entries_.capacity() * sizeof(IntelEntry);
  for (const auto& e : entries_) total += string_heap(e.value);
  for (const auto& d : descriptions_) total += sizeof(std::string) + string_heap(d);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Building.

class IntelSetBuilder {
 public:
  explicit IntelSetBuilder(IntelLoadReport* report) : report_(report) {
    set_ = std::make_shared<IntelSet>();
    set_->descriptions_.push_back("");
  }

  Status AddFeed(const IntelFeed& feed, std::string_view text) {
    if (!ValidFeedName(feed.name)) {
      return MakeError(Errc::kInvalidArgument,
                       "threat-intel feed name " + Quote(feed.name) +
                           " must be 1-64 of [A-Za-z0-9._-] (it becomes the rule id intel:<name>)");
    }
    for (const auto& f : set_->feeds_) {
      if (f.name == feed.name) {
        return MakeError(Errc::kAlreadyExists,
                         "threat-intel feed " + Quote(feed.name) + " is listed twice");
      }
    }
    feed_ = static_cast<uint32_t>(set_->feeds_.size());
    set_->feeds_.push_back(feed);
    report_->feeds.push_back({});
    stats_ = &report_->feeds.back();
    stats_->name = feed.name;
    stats_->path = feed.path.empty() ? feed.name : feed.path;
    default_description_ = feed.description.empty() ? 0 : Intern(feed.description);
    section_description_ = 0;
    const IntelFormat format = feed.format;

    size_t line_no = 0;
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      ++line_no;
      ++stats_->lines;
      if (line.size() > kMaxIntelLineBytes) {
        Bad(line_no, "line longer than " + std::to_string(kMaxIntelLineBytes) + " bytes");
        continue;
      }
      line = Trim(line);
      if (line.empty()) {
        section_description_ = 0;
        continue;
      }
      switch (format) {
        case IntelFormat::kSeccloud:
        case IntelFormat::kLokiC2:
          SeccloudLine(line_no, line, format == IntelFormat::kLokiC2);
          break;
        case IntelFormat::kDomainList:
          DomainListLine(line_no, line);
          break;
        case IntelFormat::kHosts:
          HostsLine(line_no, line);
          break;
        case IntelFormat::kAdblock:
          AdblockLine(line_no, line);
          break;
      }
    }
    report_->indicators += stats_->indicators;
    return {};
  }

  std::shared_ptr<const IntelSet> Finish() {
    auto& p = set_->prefixes_;
    std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.length > b.length; });
    size_t ip_keys = set_->ips_.size();
    for (const auto& prefix : p) ip_keys += prefix.networks.size();
    set_->ip_filter_.Build(ip_keys);
    for (const auto& [k, v] : set_->ips_) set_->ip_filter_.Insert(IntelSet::IpKeyHash{}(k));
    for (const auto& prefix : p) {
      for (const auto& [k, v] : prefix.networks) set_->ip_filter_.Insert(IntelSet::IpKeyHash{}(k));
    }
    auto strings = [](const IntelSet::StringIndex& index, IntelSet::KeyFilter* filter) {
      filter->Build(index.size());
      for (const auto& [k, v] : index) filter->Insert(IntelSet::KeyHash{}(k));
    };
    set_->domain_filter_.Build(set_->domains_.size());
    for (const auto& [k, v] : set_->domains_) {
      set_->domain_filter_.Insert(IntelSet::DomainFilterHash(k));
    }
    strings(set_->urls_, &set_->url_filter_);
    strings(set_->hashes_, &set_->hash_filter_);
    return set_;
  }

 private:
  void Bad(size_t line_no, std::string_view why) {
    ++stats_->bad_lines;
    ++report_->bad_lines;
    if (report_->problems.size() < kMaxReportedIntelProblems) {
      report_->problems.push_back(stats_->path + ":" + std::to_string(line_no) + ": " +
                                  std::string(why));
    }
  }

  uint32_t Intern(std::string_view text) {
    if (text.size() > 512) text = text.substr(0, 512);
    auto& d = set_->descriptions_;
    if (d.back() == text) return static_cast<uint32_t>(d.size() - 1);
    const auto it = interned_.find(text);
    if (it != interned_.end()) return it->second;
    d.emplace_back(text);
    const auto index = static_cast<uint32_t>(d.size() - 1);
    interned_.emplace(std::string(text), index);
    return index;
  }

  // Adds one entry under `first` (the head of the key's chain) unless this feed already has it.
  bool Link(uint32_t* first, bool fresh, IndicatorType type, std::string value,
            uint32_t description) {
    if (!fresh) {
      for (uint32_t i = *first; i != IntelSet::kNoEntry; i = set_->entries_[i].next) {
        if (set_->entries_[i].feed == feed_) {
          ++stats_->duplicates;
          return false;
        }
      }
    }
    IntelEntry e;
    e.type = type;
    e.feed = feed_;
    e.description = description;
    e.next = fresh ? IntelSet::kNoEntry : *first;
    e.value = std::move(value);
    *first = static_cast<uint32_t>(set_->entries_.size());
    set_->entries_.push_back(std::move(e));
    ++stats_->indicators;
    ++stats_->by_type[static_cast<size_t>(type)];
    return true;
  }

  void AddString(IntelSet::StringIndex& index, IndicatorType type, std::string key,
                 uint32_t description) {
    auto [it, fresh] = index.try_emplace(key, IntelSet::kNoEntry);
    Link(&it->second, fresh, type, std::move(key), description);
  }

  void AddIp(const IpAddress& address, uint32_t description) {
    const IpAddress a = address.Unmapped();
    auto [it, fresh] =
        set_->ips_.try_emplace(IntelSet::KeyOf(a, a.bit_width()), IntelSet::kNoEntry);
    Link(&it->second, fresh, a.is_v4() ? IndicatorType::kIpv4 : IndicatorType::kIpv6, a.ToString(),
         description);
  }

  void AddPrefix(const IpPrefix& prefix, uint32_t description) {
    const IpPrefix p = UnmappedPrefix(prefix);
    const bool v4 = p.address().is_v4();
    if (p.length() == p.address().bit_width()) return AddIp(p.address(), description);
    auto& list = set_->prefixes_;
    auto pi = std::find_if(list.begin(), list.end(),
                           [&](const auto& x) { return x.v4 == v4 && x.length == p.length(); });
    if (pi == list.end()) {
      list.push_back({p.length(), v4, {}});
      pi = list.end() - 1;
    }
    auto [it, fresh] =
        pi->networks.try_emplace(IntelSet::KeyOf(p.address(), p.length()), IntelSet::kNoEntry);
    Link(&it->second, fresh, IndicatorType::kCidr, p.ToString(), description);
  }

  bool Full(size_t line_no) {
    if (set_->entries_.size() < kMaxIntelIndicators) return false;
    Bad(line_no, "more than " + std::to_string(kMaxIntelIndicators) + " indicators in all");
    return true;
  }

  // Any indicator kind; `allowed` limits what a format may hold.
  enum Allow : unsigned { kAllowIp = 1, kAllowCidr = 2, kAllowUrl = 4, kAllowHash = 8 };
  void AddIndicator(size_t line_no, std::string_view token, uint32_t description,
                    unsigned allowed) {
    if (Full(line_no)) return;
    if (const auto a = IpAddress::Parse(token)) {
      if (!(allowed & kAllowIp)) return Bad(line_no, "an IP address is not allowed here");
      return AddIp(*a, description);
    }
    const bool has_scheme = token.find("://") != std::string_view::npos;
    if (!has_scheme && token.find('/') != std::string_view::npos &&
        (token[0] == ':' || (token[0] >= '0' && token[0] <= '9'))) {
      std::string why;
      if (const auto p = IpPrefix::Parse(token, &why)) {
        if (!(allowed & kAllowCidr)) return Bad(line_no, "a CIDR is not allowed here");
        return AddPrefix(*p, description);
      }
      // "1.2.3.4/path" is a URL on an IP host; "10.0.0.0/33" is a broken CIDR.
      const size_t slash = token.find('/');
      const std::string_view bits = token.substr(slash + 1);
      if (IpAddress::Parse(token.substr(0, slash)) && !bits.empty() && bits.size() <= 3 &&
          std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Bad(line_no, Quote(token) + " is not a CIDR: " + why);
      }
    }
    if (has_scheme || token.find('/') != std::string_view::npos) {
      if (!(allowed & kAllowUrl)) return Bad(line_no, "a URL is not allowed here");
      std::string key;
      if (!NormalizeUrlKey(token, &key)) return Bad(line_no, Quote(token) + " is not a valid URL");
      return AddString(set_->urls_, IndicatorType::kUrl, std::move(key), description);
    }
    if ((token.size() == 32 || token.size() == 40 || token.size() == 64) && IsHex(token)) {
      if (!(allowed & kAllowHash)) return Bad(line_no, "a file hash is not allowed here");
      std::string key(token);
      for (char& c : key) c = Lower(c);
      const IndicatorType type = token.size() == 32   ? IndicatorType::kMd5
                                 : token.size() == 40 ? IndicatorType::kSha1
                                                      : IndicatorType::kSha256;
      return AddString(set_->hashes_, type, std::move(key), description);
    }
    std::string why;
    auto domain = NormalizeIndicatorDomain(token, &why);
    if (!domain) return Bad(line_no, Quote(token) + " " + why);
    AddString(set_->domains_, IndicatorType::kDomain, std::move(*domain), description);
  }

  uint32_t Describe(std::string_view inline_comment) {
    if (!inline_comment.empty()) return Intern(inline_comment);
    return section_description_ != 0 ? section_description_ : default_description_;
  }

  // "<value>[;score] [# comment]"; "# text" lines describe the indicators after them.
  void SeccloudLine(size_t line_no, std::string_view line, bool loki) {
    if (line[0] == '#') {
      const std::string_view comment = Trim(line.substr(1));
      // Separator lines ("# -----", "#") carry no description.
      if (!comment.empty() && comment.find_first_not_of("-=*# ") != std::string_view::npos) {
        section_description_ = Intern(comment);
      }
      return;
    }
    std::string_view token = line, comment;
    const size_t ws = line.find_first_of(" \t");
    if (ws != std::string_view::npos) {
      token = line.substr(0, ws);
      const std::string_view after = Trim(line.substr(ws));
      if (after[0] != '#') {
        return Bad(line_no, "expected one indicator a line, optionally followed by # comment");
      }
      comment = Trim(after.substr(1));
    }
    if (loki) {
      // LOKI's "value;score": the score (0-100) is a confidence LOKI sums; seccloud uses the
      // feed's level instead.
      if (const size_t semi = token.find(';'); semi != std::string_view::npos) {
        const std::string_view score = token.substr(semi + 1);
        if (score.empty() || score.size() > 3 ||
            !std::all_of(score.begin(), score.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return Bad(line_no, Quote(token) + ": expected value;score with a numeric score");
        }
        token = token.substr(0, semi);
      }
    }
    AddIndicator(line_no, token, Describe(comment), kAllowIp | kAllowCidr | kAllowUrl | kAllowHash);
  }

  void DomainListLine(size_t line_no, std::string_view line) {
    if (line[0] == '#' || line[0] == '!') return;
    if (line.find_first_of(" \t") != std::string_view::npos) {
      return Bad(line_no, "expected one domain or IP a line");
    }
    AddIndicator(line_no, line, default_description_, kAllowIp | kAllowCidr);
  }

  void HostsLine(size_t line_no, std::string_view line) {
    if (line[0] == '#') return;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = Trim(line.substr(0, hash));
    }
    const size_t ws = line.find_first_of(" \t");
    if (ws == std::string_view::npos || !IpAddress::Parse(line.substr(0, ws))) {
      return Bad(line_no, "expected \"<address> <host> [host…]\"");
    }
    std::string_view hosts = Trim(line.substr(ws));
    while (!hosts.empty()) {
      const size_t end = std::min(hosts.find_first_of(" \t"), hosts.size());
      const std::string_view host = hosts.substr(0, end);
      hosts = Trim(hosts.substr(end));
      // The standard header of a hosts file, not indicators.
      if (host == "localhost" || host == "localhost.localdomain" || host == "local" ||
          host == "broadcasthost" || host == "ip6-localhost" || host == "ip6-loopback" ||
          host == "0.0.0.0") {
        ++stats_->skipped;
        continue;
      }
      AddIndicator(line_no, host, default_description_, kAllowIp);
    }
  }

  void AdblockLine(size_t line_no, std::string_view line) {
    if (line[0] == '!' || line[0] == '#') return;
    if (line[0] == '[') {  // "[Adblock Plus 2.0]"
      ++stats_->skipped;
      return;
    }
    if (line.starts_with("@@")) return Bad(line_no, "exception rules (@@) are not supported");
    if (line.find("##") != std::string_view::npos || line.find("#@#") != std::string_view::npos) {
      return Bad(line_no, "element hiding rules are not indicators");
    }
    // Options: "$all", "$third-party,script"; a '$' followed by anything else is part of a URL.
    if (const size_t dollar = line.rfind('$'); dollar != std::string_view::npos) {
      const std::string_view opts = line.substr(dollar + 1);
      if (std::all_of(opts.begin(), opts.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || c == '-' || c == ',' || c == '~' || c == '=' ||
                   c == '_' || c == '|' || c == '.';
          })) {
        line = line.substr(0, dollar);
      }
    }
    // "||host" and a bare "host" both mean the host and its subdomains.
    if (line.starts_with("||")) {
      line.remove_prefix(2);
    } else if (line.starts_with("|")) {
      line.remove_prefix(1);
    }
    if (line.ends_with("|")) line.remove_suffix(1);
    if (line.ends_with("^")) line.remove_suffix(1);
    if (line.empty()) return Bad(line_no, "empty filter");
    if (line.starts_with("*.")) line.remove_prefix(2);
    if (line.find('*') != std::string_view::npos) {
      return Bad(line_no, "wildcard patterns other than a leading *. are not supported");
    }
    if (line.find('^') != std::string_view::npos) {
      return Bad(line_no, "separator (^) inside a filter is not supported");
    }
    AddIndicator(line_no, line, default_description_, kAllowIp | kAllowCidr | kAllowUrl);
  }

  IntelLoadReport* report_;
  std::shared_ptr<IntelSet> set_;
  IntelFeedStats* stats_ = nullptr;
  uint32_t feed_ = 0;
  uint32_t default_description_ = 0;
  uint32_t section_description_ = 0;
  std::unordered_map<std::string, uint32_t, IntelSet::KeyHash, std::equal_to<>> interned_;
};

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<std::string> ReadFeedFile(const IntelFeed& feed) {
  struct stat st {};
  if (::stat(feed.path.c_str(), &st) != 0) {
    return ErrnoError("threat-intel feed " + feed.name + ": " + feed.path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(Errc::kInvalidArgument, "threat-intel feed " + feed.name + ": " + feed.path +
                                                 " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxIntelFileBytes) {
    return MakeError(Errc::kResourceExhausted,
                     "threat-intel feed " + feed.name + ": " + feed.path + " is larger than " +
                         std::to_string(kMaxIntelFileBytes >> 20) + " MiB");
  }
  std::FILE* f = std::fopen(feed.path.c_str(), "rb");
  if (f == nullptr) return ErrnoError("threat-intel feed " + feed.name + ": " + feed.path, errno);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  const size_t n = std::fread(data.data(), 1, data.size(), f);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return ErrnoError("threat-intel feed " + feed.name + ": read " + feed.path, EIO);
  data.resize(n);  // the file may have shrunk since stat; a grown file is read up to its old size
  return data;
}

}  // namespace

Result<std::shared_ptr<const IntelSet>> BuildIntel(std::span<const IntelFeedText> feeds,
                                                   IntelLoadReport* report) {
  IntelLoadReport local;
  if (report == nullptr) report = &local;
  *report = {};
  const int64_t start = SteadyMs();
  IntelSetBuilder builder(report);
  for (const auto& f : feeds) RETURN_IF_ERROR(builder.AddFeed(f.feed, f.text));
  auto set = builder.Finish();
  report->load_ms = SteadyMs() - start;
  report->memory_bytes = set->MemoryBytes();
  return set;
}

Result<std::shared_ptr<const IntelSet>> LoadIntel(const std::vector<IntelFeed>& feeds,
                                                  IntelLoadReport* report) {
  IntelLoadReport local;
  if (report == nullptr) report = &local;
  *report = {};
  const int64_t start = SteadyMs();
  IntelSetBuilder builder(report);
  for (const auto& f : feeds) {
    ASSIGN_OR_RETURN(std::string text, ReadFeedFile(f));
    RETURN_IF_ERROR(builder.AddFeed(f, text));
  }
  auto set = builder.Finish();
  report->load_ms = SteadyMs() - start;
  report->memory_bytes = set->MemoryBytes();
  return set;
}

// ---------------------------------------------------------------------------------------------
// Matching records.

namespace {

boost::json::value Json(std::string_view s) {
  return boost::json::value(boost::json::string_view(s.data(), s.size()));
}

struct Hit {
  const IntelEntry* entry;
  std::string_view field;
  std::string_view atomic;
};

// The first path segments MatchRecord reads. FindField finds "a.b.c" only through a top-level key
// that is "a" or starts with "a.", so a segment no top-level key has rules out every path under it
// without a lookup (a syslog or text record has none of most of them).
constexpr std::array<std::string_view, 10> kSegments = {
    "source", "destination", "client", "related", "url", "dns", "tls", "file", "process", "host"};

// SegmentOf runs for every top-level key of every record: the first byte picks the (at most
// two) segments worth comparing. Built from kSegments; a third segment with the same first byte
// fails the build.
constexpr uint8_t kNoSegment = 0xff;
constexpr auto kSegmentsByFirstByte = [] {
  std::array<std::array<uint8_t, 2>, 256> t{};
  for (auto& e : t) e = {kNoSegment, kNoSegment};
  for (size_t i = 0; i < kSegments.size(); ++i) {
    auto& e = t[static_cast<unsigned char>(kSegments[i][0])];
    if (e[1] != kNoSegment) throw "more than two segments share a first byte";
    e[e[0] == kNoSegment ? 0 : 1] = static_cast<uint8_t>(i);
  }
  return t;
}();

// The path's first segment (the bytes before its first '.') is kSegments[i] when the path starts
// with kSegments[i] followed by '.' or nothing (no segment has a '.'). Tested that way, a key
// whose first byte starts no segment — most keys — costs one table load, not a search for its
// first '.' (a memchr call per top-level key of every record was ~30 % of MatchRecord).
constexpr uint8_t SegmentOf(std::string_view path) {
  if (!path.empty()) {
    for (const uint8_t i : kSegmentsByFirstByte[static_cast<unsigned char>(path[0])]) {
      if (i == kNoSegment) break;
      if (detect_internal::InSegment(path, kSegments[i])) return i;
    }
  }
  return kNoSegment;
}

static_assert(kSegments.size() <= 32, "RecordLook keeps a bit per segment");

// A path MatchRecord reads, with its segment worked out when compiled.
struct FieldPath {
  consteval FieldPath(const char* p)  // NOLINT: implicit
      : path(p), root_bit(OverlayRootBit(path)), segment(SegmentOf(path)) {
    if (segment == kNoSegment) throw "the path's first segment is not in kSegments";
  }
  std::string_view path;
  uint64_t root_bit;  // on a pending overlay (its index's filter: field_view.h)
  uint8_t segment;
};

constexpr FieldPath kIpFields[] = {"source.ip", "destination.ip", "client.ip"};
constexpr FieldPath kDomainFields[] = {"url.domain", "destination.domain", "dns.question.name",
                                       "tls.client.server_name"};
constexpr FieldPath kHashFields[] = {"file.hash.sha256",  "file.hash.sha1",
                                     "file.hash.md5",     "process.hash.sha256",
                                     "process.hash.sha1", "process.hash.md5"};
constexpr FieldPath kUrlFields[] = {"url.full", "url.original"};
constexpr FieldPath kRelatedIp = "related.ip", kRelatedHosts = "related.hosts",
                    kUrlDomain = "url.domain", kSourceIp = "source.ip", kClientIp = "client.ip",
                    kHostName = "host.name";

// The record's top-level keys sorted by segment, in one pass over them (detect_fields.h): each
// lookup then looks at the one or two keys of its path's segment instead of FindField's pass over
// all of them (a proxy event has ~14).
class TopLevelKeys {
 public:
  explicit TopLevelKeys(const boost::json::object& fields) : fields_(fields) {
    for (const auto& kv : fields) {
      const uint8_t i = SegmentOf(std::string_view(kv.key().data(), kv.key().size()));
      if (i == kNoSegment) continue;
      if (count_[i] < kKeysPerSegment) {
        keys_[i][count_[i]++] = &kv;
      } else {
        crowded_ |= uint32_t{1} << i;
      }
    }
  }

  // FindField(fields, path).
  const boost::json::value* Find(const FieldPath& path) const {
    const uint8_t i = path.segment;
    if (count_[i] == 0) return nullptr;
    if ((crowded_ >> i & 1) != 0) return FindField(fields_, path.path);
    return detect_internal::FindAmong(std::span(keys_[i].data(), count_[i]), path.path);
  }

  std::string_view String(const FieldPath& path) const {
    const auto* v = Find(path);
    if (v == nullptr) return {};
    if (const auto* s = v->if_string()) return std::string_view(*s);
    return {};
  }

 private:
  static constexpr uint8_t kKeysPerSegment = 2;  // more (a hand-made record): FindField decides
  const boost::json::object& fields_;
  std::array<std::array<const boost::json::key_value_pair*, kKeysPerSegment>, kSegments.size()>
      keys_{};
  std::array<uint8_t, kSegments.size()> count_{};
  uint32_t crowded_ = 0;
};

// A record's fields for MatchRecord: a built tree through TopLevelKeys, a pending tape or overlay
// through a FieldView (field_view.h: its tree is not built).
//
// On a pending tape, one pass over the root's members first notes which of kSegments have a key
// (SegmentOf: a table load for most keys); a path whose segment has none is absent without asking
// the view, which would find nothing either: FindInTape steps only through a root key of the
// path's first segment, and the finishing step sets nothing under kSegments (it sets paths under
// "@timestamp", "event", "seccloud" and "tenant", and rewrites an address root's ".ip" only where
// the tape has one). A proxy event has 7 of MatchRecord's 17 paths in a segment it has, a DNS event
// 3: the others cost no lookup, and the few left are cheaper than building the view's root index
// for them (~2.3 k instructions a record, more than the lookups it saved).
class RecordLook {
 public:
  explicit RecordLook(FieldView& view) : view_(view) {
    if (view_.on_tape()) {
      const TapeSpan tape = view_.tape();  // on_tape: tape[0] is the root object
      for (size_t i = 1; i < tape[0].end; i = tape[i].end) {
        const uint8_t s = SegmentOf(tape[i].key());
        if (s != kNoSegment) segments_ |= uint32_t{1} << s;
      }
    } else if (view_.on_overlay()) {
      // A pending overlay's index has the root bits of every path it sets (a superset of the
      // tree's first segments): a path whose bit is clear is absent.
      overlay_roots_ = view_.overlay_roots();
    } else {
      tree_.emplace(view_.record().fields());
    }
  }

  FieldRef Find(const FieldPath& path) const {
    if (tree_) return FieldRef::Tree(tree_->Find(path));
    if ((segments_ >> path.segment & 1) == 0 && (overlay_roots_ & path.root_bit) == 0) return {};
    return view_.Find(path.path);
  }
  std::string_view String(const FieldPath& path) const {
    const FieldRef v = Find(path);
    return v.is_string() ? v.str() : std::string_view();
  }

 private:
  FieldView& view_;
  std::optional<TopLevelKeys> tree_;
  uint32_t segments_ = 0;       // a pending tape: bit i when a root key is in kSegments[i]
  uint64_t overlay_roots_ = 0;  // a pending overlay: its index's root bits
};

}  // namespace

void MatchRecord(const IntelSet& intel, const Record& record, std::vector<Detection>* out) {
  // One view per thread: the record is looked at only during the call.
  thread_local FieldView view;
  view.Reset(record);
  MatchRecord(intel, view, out);
}

void MatchRecord(const IntelSet& intel, FieldView& view, std::vector<Detection>* out) {
  const Record& record = view.record();
  std::vector<const IntelEntry*> found;
  std::vector<Hit> hits;
  auto take = [&](std::string_view field, std::string_view atomic) {
    for (const IntelEntry* e : found) {
      const bool seen =
          std::any_of(hits.begin(), hits.end(), [&](const Hit& h) { return h.entry == e; });
      if (!seen) hits.push_back({e, field, atomic});
    }
    found.clear();
  };
  const RecordLook look(view);
  // A kind of field is read only when the set has an indicator it could match: a domain field
  // may hold an address, and a URL's host is looked up as a domain.
  const bool ips = intel.has_ips();
  const bool hosts = ips || intel.has_domains();
  const bool urls = hosts || intel.has_urls();
  for (const FieldPath& f : ips ? std::span(kIpFields) : std::span<const FieldPath>()) {
    const std::string_view v = look.String(f);
    if (!v.empty() && intel.LookupIp(v, &found) > 0) take(f.path, v);
  }
  if (ips) {
    look.Find(kRelatedIp).ForEachItem([&](const FieldRef& item) {
      if (item.is_string() && intel.LookupIp(item.str(), &found) > 0) {
        take("related.ip", item.str());
      }
    });
  }
  for (const FieldPath& f : hosts ? std::span(kDomainFields) : std::span<const FieldPath>()) {
    const std::string_view v = look.String(f);
    if (!v.empty() && intel.LookupDomain(v, &found) > 0) take(f.path, v);
  }
  if (hosts) {
    look.Find(kRelatedHosts).ForEachItem([&](const FieldRef& item) {
      if (item.is_string() && intel.LookupDomain(item.str(), &found) > 0) {
        take("related.hosts", item.str());
      }
    });
  }
  // URLs: exactly, and by their host. url.original of an access log is only the request target;
  // its host is in url.domain.
  // One key and one joined URL per field: a hit keeps views into them until the Detections are
  // built. Per thread, so that a record's URLs cost no allocation once they have grown.
  thread_local std::string keys[2], joined_urls[2];
  for (size_t i = 0; i < (urls ? 2 : 0); ++i) {
    const std::string_view f = kUrlFields[i].path;
    std::string& key = keys[i];
    std::string_view v = look.String(kUrlFields[i]);
    if (v.empty()) continue;
    if (v[0] == '/' && !v.starts_with("//")) {
      const std::string_view host = look.String(kUrlDomain);
      if (host.empty()) continue;
      joined_urls[i].assign("//").append(host).append(v);
      v = joined_urls[i];
    }
    std::string_view host;
    if (!NormalizeUrlKey(v, &key, &host)) continue;
    if (intel.LookupUrlKey(key, &found) > 0) take(f, v);
    if (intel.LookupDomain(host, &found) > 0) take(f, host);
  }
  for (const FieldPath& f :
       intel.has_hashes() ? std::span(kHashFields) : std::span<const FieldPath>()) {
    const std::string_view v = look.String(f);
    if (!v.empty() && intel.LookupHash(v, &found) > 0) take(f.path, v);
  }
  if (hits.empty()) return;

  std::string_view entity_field = kSourceIp.path;
  std::string_view terminal = look.String(kSourceIp);
  if (terminal.empty()) {
    entity_field = kClientIp.path;
    terminal = look.String(kClientIp);
  }
  if (terminal.empty()) {
    entity_field = kHostName.path;
    terminal = look.String(kHostName);
  }
  for (const Hit& h : hits) {
    const IntelEntry& e = *h.entry;
    const IntelFeed& feed = intel.feeds()[e.feed];
    Detection d;
    d.rule_id = "intel:" + feed.name;
    d.rule_title = "Threat intelligence match (" + feed.name + ")";
    d.ruleset = "intel";
    d.level = feed.level;
    d.tags = {"threat-intel"};
    d.time_ms = record.time_ms;
    d.tenant = record.tenant;
    d.terminal = std::string(terminal);
    if (!terminal.empty()) d.entity = std::string(entity_field) + "=" + std::string(terminal);
    if (record.seq != 0) d.evidence.push_back(record.seq);
    const char* ecs_type = IndicatorEcsType(e.type);
    if (e.type == IndicatorType::kCidr) {
      ecs_type = e.value.find(':') != std::string::npos ? "ipv6-addr" : "ipv4-addr";
    }
    SetField(d.context, "threat.indicator.type", ecs_type);
    SetField(d.context, "threat.indicator.value", Json(e.value));
    SetField(d.context, "threat.indicator.provider", Json(feed.name));
    const std::string& description = intel.descriptions()[e.description];
    if (!description.empty())
      SetField(d.context, "threat.indicator.description", Json(description));
    if (!feed.confidence.empty()) {
      SetField(d.context, "threat.indicator.confidence", Json(feed.confidence));
    }
    if (e.type == IndicatorType::kMd5 || e.type == IndicatorType::kSha1 ||
        e.type == IndicatorType::kSha256) {
      SetField(d.context, std::string("threat.indicator.file.hash.") + IndicatorTypeName(e.type),
               Json(e.value));
    }
    SetField(d.context, "threat.feed.name", Json(feed.name));
    SetField(d.context, "seccloud.intel.field", Json(h.field));
    SetField(d.context, "seccloud.intel.atomic", Json(h.atomic));
    out->push_back(std::move(d));
  }
}

}  // namespace seccloud::soc
