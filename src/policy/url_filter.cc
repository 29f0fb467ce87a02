#include "policy/url_filter.h"

#include <re2/re2.h>
#include <sys/stat.h>

#include <array>
#include <bitset>
#include <deque>
#include <limits>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/category_db_format.h"
#include "core/event.h"
#include "core/event_writer.h"
#include "core/text.h"

namespace seccloud::policy {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kAllow:
      return "allow";
    case Action::kBlock:
      return "block";
    case Action::kWarn:
      return "warn";
  }
  return "allow";
}

namespace {

constexpr uint32_t kNoList = std::numeric_limits<uint32_t>::max();
constexpr int8_t kNoAction = -1;

// Which decision a list feeds. Force-block lists and feeds share a slot; feeds come first so that
// a URL on both raises the alert.
enum Slot : uint8_t {
  kForce,
  kCommonWhite,
  kCommonBlack,
  kCommonPosting,
  kTenantWhite,
  kTenantBlack,
  kTenantPosting,
  kSlotCount
};

struct ListInfo {
  std::string name;
  Slot slot;
  int32_t tenant;  // -1: common or force-block
  bool alert;      // a threat-intelligence feed
  const std::vector<UrlRuleConfig>* entries;
  std::vector<std::pair<std::unique_ptr<RE2>, uint32_t>> regexes;
  std::vector<std::pair<IpPrefix, uint32_t>> cidrs;
};

struct HostRule {
  uint32_t list;
  uint32_t entry;
  bool exact;
};

struct PrefixRule {
  uint32_t list;
  uint32_t entry;
  uint8_t scheme;  // 0 any, 1 http, 2 https
  uint16_t port;   // 0: the scheme's default
  std::string_view path;
};

// Host → rules, frozen after Build: open addressing keyed by the category key hash, so one pass
// over a request's host (HostSuffixes) serves this index and the category database alike.
class HostIndex {
 public:
  void Build(const std::unordered_map<std::string_view, std::vector<HostRule>>& m) {
    size_t cap = 16;
    while (cap < m.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    filter_.Init(m.size());
    for (const auto& [key, rules] : m) {
      const uint64_t h = CategoryKeyHash(key);
      filter_.Add(h);
      uint64_t i = h & mask_;
      while (slots_[i].hash != 0) i = (i + 1) & mask_;
      slots_[i] = Slot{h, key, static_cast<uint32_t>(rules_.size()),
                       static_cast<uint32_t>(rules_.size() + rules.size())};
      rules_.insert(rules_.end(), rules.begin(), rules.end());
    }
  }
  std::span<const HostRule> Find(std::string_view key, uint64_t h) const {
    if (slots_.empty() || !filter_.MayContain(h)) return {};
    for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.hash == 0) return {};
      if (s.hash == h && s.key == key)
        return std::span<const HostRule>(rules_.data() + s.begin, s.end - s.begin);
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    std::string_view key;
    uint32_t begin = 0, end = 0;
  };
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::vector<HostRule> rules_;
  HashFilter filter_;
};

struct Match {
  uint32_t list = kNoList;
  uint32_t entry = 0;
};

struct LayerCategories {
  std::array<int8_t, 256> actions;  // CategoryAction or kNoAction, by category id
  std::bitset<256> posting;
  LayerCategories() { actions.fill(kNoAction); }
};

struct TenantInfo {
  int32_t index;
  LayerCategories categories;
  std::vector<uint32_t> scan_lists;  // this tenant's lists with regexes or CIDRs
};

int Severity(int8_t a) {
  switch (static_cast<CategoryAction>(a)) {
    case CategoryAction::kAllow:
      return 0;
    case CategoryAction::kWarn:
      return 1;
    case CategoryAction::kBlock:
      return 2;
    case CategoryAction::kForceBlock:
      return 3;
  }
  return 0;
}

}  // namespace

class UrlFilter::Impl {
 public:
  PolicyConfig config;
  std::shared_ptr<const CategoryDb> db;
  std::map<std::string, std::shared_ptr<const FeedData>> feeds;
  std::vector<ListInfo> lists;
  std::unordered_map<std::string_view, std::vector<HostRule>> hosts;  // while building
  HostIndex host_index;
  std::unordered_map<std::string_view, std::vector<PrefixRule>> prefixes;
  std::deque<NormalizedUrl> prefix_urls;  // owns what `prefixes` views
  HashFilter prefix_hosts;                // CategoryKeyHash of every host in `prefixes`
  std::vector<uint32_t> common_scan_lists;
  LayerCategories common_categories;
  // Found by a tenant id's view without making a string of it.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  std::unordered_map<std::string, TenantInfo, IdHash, std::equal_to<>> tenants;
  size_t rules = 0;

  Status AddList(std::string name, Slot slot, int32_t tenant, bool alert,
                 const std::vector<UrlRuleConfig>& entries, const std::string& where);
  Status ResolveCategories(const PolicyLayerConfig& layer, const std::string& where,
                           LayerCategories& out);
  Verdict Evaluate(const UrlRequest& request, std::string_view tenant_id) const;
};

Status UrlFilter::Impl::AddList(std::string name, Slot slot, int32_t tenant, bool alert,
                                const std::vector<UrlRuleConfig>& entries,
                                const std::string& where) {
  const uint32_t id = static_cast<uint32_t>(lists.size());
  lists.push_back(ListInfo{std::move(name), slot, tenant, alert, &entries, {}, {}});
  ListInfo& list = lists.back();
  for (uint32_t i = 0; i < entries.size(); ++i) {
    const UrlRuleConfig& e = entries[i];
    switch (e.kind) {
      case UrlRuleConfig::Kind::kDomain:
      case UrlRuleConfig::Kind::kExactHost:
        hosts[e.value].push_back(HostRule{id, i, e.kind == UrlRuleConfig::Kind::kExactHost});
        break;
      case UrlRuleConfig::Kind::kUrlPrefix: {
        // "//host/path" (feeds) matches any scheme.
        const bool any = e.value.rfind("//", 0) == 0;
        std::string why;
        auto u = NormalizeUrl(any ? "http:" + e.value : e.value, &why);
        if (!u)
          return MakeError(Errc::kInvalidArgument,
                           where + ": " + Quote(e.text) + " is not a usable URL prefix: it " + why);
        prefix_urls.push_back(std::move(*u));
        const NormalizedUrl& n = prefix_urls.back();
        const uint8_t scheme = any ? 0 : n.scheme == "http" ? 1 : 2;
        const uint16_t port =
            (n.port == 80 && scheme != 2) || (n.port == 443 && scheme == 2) ? 0 : n.port;
        prefixes[n.host].push_back(PrefixRule{id, i, scheme, port, n.path});
        break;
      }
      case UrlRuleConfig::Kind::kRegex: {
        RE2::Options options;
        options.set_log_errors(false);
        options.set_max_mem(1 << 20);
        auto re = std::make_unique<RE2>(e.value, options);
        if (!re->ok())
          return MakeError(Errc::kInvalidArgument,
                           where + ": " + Quote(e.text) + " is not a valid RE2 expression");
        list.regexes.emplace_back(std::move(re), i);
        break;
      }
      case UrlRuleConfig::Kind::kCidr:
        if (e.prefix.length() == e.prefix.address().bit_width()) {
          // A single address is an exact host: one hash lookup instead of a scan.
          prefix_urls.push_back(NormalizedUrl{e.prefix.address().ToString()});
          hosts[prefix_urls.back().full].push_back(HostRule{id, i, true});
        } else {
          list.cidrs.emplace_back(e.prefix, i);
        }
        break;
    }
    ++rules;
  }
  if (!list.regexes.empty() || !list.cidrs.empty()) {
    if (tenant < 0) common_scan_lists.push_back(id);
  }
  return {};
}

Status UrlFilter::Impl::ResolveCategories(const PolicyLayerConfig& layer, const std::string& where,
                                          LayerCategories& out) {
  auto find = [&](const std::string& name, const std::string& path) -> Result<uint8_t> {
    if (!db)
      return MakeError(Errc::kInvalidArgument, path + ": categories need policy.category_db");
    auto id = db->FindCategory(name);
    if (!id)
      return MakeError(Errc::kInvalidArgument,
                       path + ": " + Quote(name) + " is not a category of the category database");
    return *id;
  };
  for (const auto& [name, action] : layer.categories) {
    ASSIGN_OR_RETURN(uint8_t id, find(name, where + ".categories." + name));
    out.actions[id] = static_cast<int8_t>(action);
  }
  for (const std::string& name : layer.posting.categories) {
    ASSIGN_OR_RETURN(uint8_t id, find(name, where + ".posting.categories"));
    out.posting.set(id);
  }
  return {};
}

Result<std::shared_ptr<const UrlFilter>> UrlFilter::Build(const PolicyConfig& config,
                                                          UrlFilterInputs inputs) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  const PolicyConfig& cfg = impl->config;
  impl->db = std::move(inputs.categories);
  if (!impl->db && !cfg.category_db.empty()) {
    ASSIGN_OR_RETURN(impl->db, CategoryDb::Open(cfg.category_db));
  }
  std::unique_ptr<FeedFetcher> default_fetcher;
  FeedFetcher* fetcher = inputs.fetcher;
  for (const FeedConfig& f : cfg.feeds) {
    auto it = inputs.feeds.find(f.name);
    if (it != inputs.feeds.end() && it->second) {
      impl->feeds[f.name] = it->second;
      continue;
    }
    if (!fetcher) {
      default_fetcher = MakeDefaultFeedFetcher();
      fetcher = default_fetcher.get();
    }
    ASSIGN_OR_RETURN(impl->feeds[f.name], LoadFeed(f, *fetcher));
  }
  for (const FeedConfig& f : cfg.feeds) {
    const FeedData& data = *impl->feeds[f.name];
    RETURN_IF_ERROR(
        impl->AddList(f.name, kForce, -1, true, data.entries, "policy.feeds." + f.name));
  }
  for (const UrlListConfig& l : cfg.force_block)
    RETURN_IF_ERROR(impl->AddList(l.name, kForce, -1, false, l.entries, "policy.force_block"));
  const PolicyLayerConfig& common = cfg.common;
  for (const UrlListConfig& l : common.whitelists)
    RETURN_IF_ERROR(impl->AddList(l.name, kCommonWhite, -1, false, l.entries, "policy.common"));
  for (const UrlListConfig& l : common.blacklists)
    RETURN_IF_ERROR(impl->AddList(l.name, kCommonBlack, -1, false, l.entries, "policy.common"));
  RETURN_IF_ERROR(impl->AddList(common.posting.name, kCommonPosting, -1, false,
                                common.posting.entries, "policy.common.posting"));
  RETURN_IF_ERROR(impl->ResolveCategories(common, "policy.common", impl->common_categories));
  int32_t index = 0;
  for (const auto& [id, layer] : cfg.tenants) {
    TenantInfo info{index, {}, {}};
    const std::string where = "policy.tenants." + id;
    RETURN_IF_ERROR(impl->ResolveCategories(layer, where, info.categories));
    for (size_t a = 0; a < info.categories.actions.size(); ++a)
      if (info.categories.actions[a] == static_cast<int8_t>(CategoryAction::kForceBlock))
        return MakeError(Errc::kInvalidArgument, where + ": a tenant cannot force-block");
    const size_t first = impl->lists.size();
    for (const UrlListConfig& l : layer.whitelists)
      RETURN_IF_ERROR(impl->AddList(l.name, kTenantWhite, index, false, l.entries, where));
    for (const UrlListConfig& l : layer.blacklists)
      RETURN_IF_ERROR(impl->AddList(l.name, kTenantBlack, index, false, l.entries, where));
    RETURN_IF_ERROR(impl->AddList(layer.posting.name, kTenantPosting, index, false,
                                  layer.posting.entries, where + ".posting"));
    for (size_t l = first; l < impl->lists.size(); ++l)
      if (!impl->lists[l].regexes.empty() || !impl->lists[l].cidrs.empty())
        info.scan_lists.push_back(static_cast<uint32_t>(l));
    impl->tenants.emplace(id, std::move(info));
    ++index;
  }
  impl->host_index.Build(impl->hosts);
  impl->hosts.clear();
  impl->prefix_hosts.Init(impl->prefixes.size());
  for (const auto& [host, rules] : impl->prefixes) impl->prefix_hosts.Add(CategoryKeyHash(host));
  return std::shared_ptr<const UrlFilter>(new UrlFilter(std::move(impl)));
}

UrlFilter::UrlFilter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UrlFilter::~UrlFilter() = default;
const PolicyConfig& UrlFilter::config() const { return impl_->config; }
const std::shared_ptr<const CategoryDb>& UrlFilter::categories() const { return impl_->db; }
const std::map<std::string, std::shared_ptr<const FeedData>>& UrlFilter::feeds() const {
  return impl_->feeds;
}
size_t UrlFilter::rule_count() const { return impl_->rules; }

Verdict UrlFilter::Evaluate(const UrlRequest& request, std::string_view tenant_id) const {
  return impl_->Evaluate(request, tenant_id);
}

Verdict UrlFilter::Impl::Evaluate(const UrlRequest& request, std::string_view tenant_id) const {
  Verdict v;
  std::string why;
  const std::string_view path = request.full_url_visible ? request.path : std::string_view("/");
  auto url = NormalizeUrl(request.scheme, request.host, request.port, path, &why);
  if (!url) {
    // Fail closed: what cannot be parsed cannot be judged.
    v.action = Action::kBlock;
    v.layer = "common";
    v.list = "malformed";
    v.reason = "Blocked because the URL " + why + ".";
    return v;
  }
  const TenantInfo* tenant = nullptr;
  if (!tenant_id.empty()) {
    auto it = tenants.find(tenant_id);
    if (it != tenants.end()) tenant = &it->second;
  }
  const int32_t tenant_index = tenant ? tenant->index : -2;
  std::array<Match, kSlotCount> m;
  auto offer = [&](uint32_t list_id, uint32_t entry) {
    const ListInfo& l = lists[list_id];
    if (l.tenant >= 0 && l.tenant != tenant_index) return;
    Match& slot = m[l.slot];
    if (list_id < slot.list) slot = Match{list_id, entry};
  };

  // Host rules: the host itself (exact and domain rules), then each parent domain.
  const std::string_view host = url->host;
  HostSuffixes suffixes;
  HostSuffixes::Compute(host, url->host_is_ip, suffixes);
  for (size_t i = 0; i < suffixes.count; ++i)
    for (const HostRule& r : host_index.Find(suffixes.names[i], suffixes.hashes[i]))
      if (i == 0 || !r.exact) offer(r.list, r.entry);
  // URL prefixes of this host; without the full URL only those covering the whole site ("/").
  // Most hosts have none: the host's hash, already made for the suffixes, asks a filter first.
  const bool may_have_prefixes =
      !prefixes.empty() && (suffixes.count == 0 || suffixes.names[0] != host ||
                            prefix_hosts.MayContain(suffixes.hashes[0]));
  if (auto it = may_have_prefixes ? prefixes.find(host) : prefixes.end(); it != prefixes.end()) {
    const uint8_t scheme = url->scheme == "http" ? 1 : 2;
    const uint16_t default_port = scheme == 1 ? 80 : 443;
    for (const PrefixRule& r : it->second) {
      if (r.scheme != 0 && r.scheme != scheme) continue;
      if ((r.port == 0 ? default_port : r.port) != url->port) continue;
      if (!request.full_url_visible && r.path != "/") continue;
      if (url->path.substr(0, r.path.size()) == r.path) offer(r.list, r.entry);
    }
  }
  // Regexes and CIDRs of the lists that apply.
  std::optional<IpAddress> ip;
  if (url->host_is_ip) ip = IpAddress::Parse(host);
  auto scan = [&](uint32_t id) {
    const ListInfo& l = lists[id];
    if (request.full_url_visible) {
      for (const auto& [re, entry] : l.regexes)
        if (RE2::PartialMatch(url->full, *re)) {
          offer(id, entry);
          break;
        }
    }
    if (ip) {
      for (const auto& [prefix, entry] : l.cidrs)
        if (prefix.Contains(*ip)) {
          offer(id, entry);
          break;
        }
    }
  };
  for (uint32_t id : common_scan_lists) scan(id);
  if (tenant)
    for (uint32_t id : tenant->scan_lists) scan(id);

  // Categories: of the host and its parents, then of the URL.
  CategoryHits hits;
  std::array<uint8_t, 64> cats;      // [0, ncats): each category once, in order of the hits
  std::array<uint8_t, 64> cat_hits;  // [0, ncats): the hit that named it (< CategoryHits::kMax)
  size_t ncats = 0;
  if (db) {
    db->LookupHost(suffixes, hits);
    if (request.full_url_visible) db->LookupUrl(suffixes, url->path, hits);
    std::bitset<256> seen;
    for (size_t i = 0; i < hits.count; ++i)
      for (uint8_t c : hits.hits[i].category_ids)
        if (!seen.test(c) && ncats < cats.size()) {
          seen.set(c);
          cat_hits[ncats] = static_cast<uint8_t>(i);
          cats[ncats++] = c;
        }
  }
  if (ncats > 0) v.category = std::string(db->category_name(cats[0]));

  auto from_list = [&](Action action, const char* layer, const Match& match) {
    const ListInfo& l = lists[match.list];
    v.action = action;
    v.layer = layer;
    v.list = l.name;
    v.entry = (*l.entries)[match.entry].text;
    v.alert = l.alert;
  };
  // The most severe category action of a layer among the URL's categories; -1 when none.
  auto category_decision = [&](const LayerCategories& layer, size_t* which) -> int8_t {
    int8_t best = kNoAction;
    for (size_t i = 0; i < ncats; ++i) {
      const int8_t a = layer.actions[cats[i]];
      if (a == kNoAction) continue;
      if (best == kNoAction || Severity(a) > Severity(best)) {
        best = a;
        *which = i;
      }
    }
    return best;
  };
  auto from_category = [&](int8_t a, const char* layer, size_t i) {
    v.action = a == static_cast<int8_t>(CategoryAction::kAllow)  ? Action::kAllow
               : a == static_cast<int8_t>(CategoryAction::kWarn) ? Action::kWarn
                                                                 : Action::kBlock;
    v.layer = layer;
    v.list = "categories";
    v.entry = std::string(hits.hits[cat_hits[i]].key);
    v.category = std::string(db->category_name(cats[i]));
  };

  bool decided = false;
  size_t which = 0;
  if (m[kForce].list != kNoList) {
    from_list(Action::kBlock, "force-block", m[kForce]);
    v.reason =
        v.alert ? "Blocked by the threat-intelligence feed \"" + v.list +
                      "\": the site is known to be malicious."
                : "Blocked by the force-block list \"" + v.list + "\", which no tenant can lift.";
    return v;
  }
  if (int8_t a = category_decision(common_categories, &which);
      a == static_cast<int8_t>(CategoryAction::kForceBlock)) {
    from_category(a, "force-block", which);
    v.reason = "Blocked because the site is in the category \"" + v.category +
               "\", which the common policy force-blocks.";
    return v;
  }
  if (m[kTenantWhite].list != kNoList) {
    from_list(Action::kAllow, "tenant", m[kTenantWhite]);
    v.reason = "Allowed by the tenant's whitelist \"" + v.list + "\".";
    decided = true;
  } else if (m[kTenantBlack].list != kNoList) {
    from_list(Action::kBlock, "tenant", m[kTenantBlack]);
    v.reason = "Blocked by the tenant's blacklist \"" + v.list + "\".";
    return v;
  } else if (int8_t a = tenant ? category_decision(tenant->categories, &which) : kNoAction;
             a != kNoAction) {
    from_category(a, "tenant", which);
    decided = true;
  } else if (m[kCommonWhite].list != kNoList) {
    from_list(Action::kAllow, "common", m[kCommonWhite]);
    v.reason = "Allowed by the common whitelist \"" + v.list + "\".";
    decided = true;
  } else if (m[kCommonBlack].list != kNoList) {
    from_list(Action::kBlock, "common", m[kCommonBlack]);
    v.reason = "Blocked by the common blacklist \"" + v.list + "\".";
    return v;
  } else if (int8_t c = category_decision(common_categories, &which); c != kNoAction) {
    from_category(c, "common", which);
    decided = true;
  }
  if (decided && v.list == "categories") {
    v.reason = std::string(v.action == Action::kBlock  ? "Blocked"
                           : v.action == Action::kWarn ? "Warned"
                                                       : "Allowed") +
               " because the site is in the category \"" + v.category + "\" (" + v.layer +
               " policy).";
    if (v.action == Action::kBlock) return v;
  }
  if (!decided) v.reason = "Allowed: no rule matched.";

  // Posting restrictions hold whatever allowed the request; no whitelist lifts them.
  if (request.is_upload) {
    auto posting = [&](Slot slot, const LayerCategories* cats_layer, const char* layer) -> bool {
      if (m[slot].list != kNoList) {
        from_list(Action::kBlock, layer, m[slot]);
      } else {
        size_t i = 0;
        if (!cats_layer) return false;
        for (; i < ncats && !cats_layer->posting.test(cats[i]); ++i) {
        }
        if (i == ncats) return false;
        v.action = Action::kBlock;
        v.layer = layer;
        v.list = slot == kCommonPosting
                     ? config.common.posting.name
                     : config.tenants.find(std::string(tenant_id))->second.posting.name;
        v.entry = std::string(hits.hits[cat_hits[i]].key);
        v.category = std::string(db->category_name(cats[i]));
      }
      v.alert = false;
      v.posting_restricted = true;
      v.reason = std::string("Uploads to this site are not allowed (") + layer +
                 " posting restriction); reading it is.";
      return true;
    };
    if (posting(kCommonPosting, &common_categories, "common")) return v;
    if (tenant && posting(kTenantPosting, &tenant->categories, "tenant")) return v;
  }
  return v;
}

// ---- FeedUpdater ---------------------------------------------------------------------------

FeedUpdater::FeedUpdater(UrlFilterHandle& handle, Options options)
    : handle_(handle), options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return std::chrono::steady_clock::now(); };
}

void FeedUpdater::Reject(const FeedConfig& feed, const std::string& why) {
  ++stats_.rejected;
  last_errors_[feed.name] = why;
  if (!options_.events) return;
  Event e = Event::Make("policy.feed", "event", "feed-rejected", Outcome::kFailure);
  e.Set("rule.ruleset", "force-block");
  e.Set("rule.name", feed.name);
  e.Set("seccloud.feed.source", feed.source);
  e.Set("message", why);
  (void)options_.events->Append(e);
}

size_t FeedUpdater::Poll() {
  std::shared_ptr<const UrlFilter> current = handle_.Get();
  const PolicyConfig& cfg = current->config();
  const auto now = options_.clock();
  UrlFilterInputs next;
  next.categories = current->categories();
  next.feeds = current->feeds();
  next.fetcher = options_.fetcher;
  bool changed = false;

  if (!cfg.category_db.empty()) {
    struct stat st;
    if (::stat(cfg.category_db.c_str(), &st) == 0) {
      FileId id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
      if (!category_file_known_) {
        category_file_ = id;
        category_file_known_ = true;
      } else if (!(id == category_file_)) {
        category_file_ = id;
        auto db = CategoryDb::Open(cfg.category_db);
        if (db) {
          next.categories = *db;
          changed = true;
          ++stats_.category_reloads;
        } else {
          FeedConfig pseudo;
          pseudo.name = "category-db";
          pseudo.source = cfg.category_db.string();
          Reject(pseudo, db.error().ToString());
        }
      }
    }
  }

  for (const FeedConfig& feed : cfg.feeds) {
    auto due = next_due_.find(feed.name);
    if (due == next_due_.end()) {
      // The snapshot was built with a fresh version: the first fetch is one interval away.
      next_due_[feed.name] = now + feed.interval;
      continue;
    }
    if (now < due->second) continue;
    due->second = now + feed.interval;
    ++stats_.fetches;
    const FeedData* previous = next.feeds.count(feed.name) ? next.feeds[feed.name].get() : nullptr;
    auto data = LoadFeed(feed, *options_.fetcher, previous);
    if (!data) {
      Reject(feed, data.error().message);
      continue;
    }
    if (previous && previous->sha256 == (*data)->sha256) {
      ++stats_.unchanged;
      continue;
    }
    next.feeds[feed.name] = *data;
    last_errors_.erase(feed.name);
    ++stats_.accepted;
    changed = true;
  }
  if (!changed) return 0;
  auto filter = UrlFilter::Build(cfg, std::move(next));
  if (!filter) {
    FeedConfig pseudo;
    pseudo.name = "snapshot";
    Reject(pseudo, filter.error().ToString());
    return 0;
  }
  handle_.Set(*filter);
  return 1;
}

}  // namespace seccloud::policy
