#include "soc/correlation.h"

#include <algorithm>
#include <boost/json.hpp>
#include <climits>
#include <deque>
#include <list>
#include <map>
#include <string_view>
#include <unordered_map>

#include "soc/sigma_internal.h"

namespace seccloud::soc {
namespace {

struct Event {
  int64_t time = 0;
  uint64_t seq = 0;
  uint16_t pos = 0;   // which of the correlation's rules matched
  std::string value;  // value_count: the counted field's value
};

struct Group {
  std::deque<Event> events;
  int64_t newest = INT64_MIN;
  int64_t window_start = 0;         // tumbling windows
  std::vector<std::string> values;  // group-by values
  std::string tenant;
  std::list<std::string>::iterator lru;
};

struct GroupTable {
  std::string fingerprint;
  std::unordered_map<std::string, Group> groups;
  std::list<std::string> lru;  // front: least recently updated
};

bool Tumbling(const CorrelationRule& c) {
  return (c.type == CorrelationType::kEventCount || c.type == CorrelationType::kValueCount) &&
         (c.op == CompareOp::kLt || c.op == CompareOp::kLte || c.op == CompareOp::kEq);
}

bool Compare(CompareOp op, int64_t n, int64_t threshold) {
  switch (op) {
    case CompareOp::kGt:
      return n > threshold;
    case CompareOp::kGte:
      return n >= threshold;
    case CompareOp::kLt:
      return n < threshold;
    case CompareOp::kLte:
      return n <= threshold;
    case CompareOp::kEq:
      return n == threshold;
  }
  return false;
}

const char* TypeName(CorrelationType t) {
  switch (t) {
    case CorrelationType::kEventCount:
      return "event_count";
    case CorrelationType::kValueCount:
      return "value_count";
    case CorrelationType::kTemporal:
      return "temporal";
    case CorrelationType::kTemporalOrdered:
      return "temporal_ordered";
  }
  return "?";
}

std::string Fingerprint(const RuleSet& set, const CorrelationRule& c) {
  std::string f = c.id + '\x1f' + TypeName(c.type) + '\x1f' + std::to_string(c.timespan_ms) +
                  '\x1f' + std::to_string(static_cast<int>(c.op)) + '\x1f' +
                  std::to_string(c.threshold) + '\x1f' + c.value_field;
  for (size_t r : c.rules) f += '\x1e' + set.rules[r].id;
  for (const auto& g : c.group_by) f += '\x1d' + g;
  return f;
}

}  // namespace

struct CorrelationState::Tables {
  std::map<std::string, GroupTable> by_fingerprint;
};
CorrelationState::CorrelationState() : tables(std::make_unique<Tables>()) {}
CorrelationState::~CorrelationState() = default;

struct Correlator::Impl {
  std::shared_ptr<const RuleSet> rules;
  CorrelationLimits limits;
  std::vector<std::vector<std::pair<size_t, uint16_t>>> by_rule;  // rule → (correlation, pos)
  std::vector<GroupTable> tables;                                 // per correlation
  std::string key;
  std::vector<std::string_view> scratch;
};

Correlator::Correlator(std::shared_ptr<const RuleSet> rules, CorrelationLimits limits)
    : impl_(std::make_unique<Impl>()) {
  impl_->rules = std::move(rules);
  impl_->limits = limits;
  const RuleSet& set = *impl_->rules;
  impl_->by_rule.resize(set.rules.size());
  impl_->tables.resize(set.correlations.size());
  for (size_t c = 0; c < set.correlations.size(); ++c) {
    impl_->tables[c].fingerprint = Fingerprint(set, set.correlations[c]);
    for (size_t pos = 0; pos < set.correlations[c].rules.size(); ++pos) {
      impl_->by_rule[set.correlations[c].rules[pos]].emplace_back(c, static_cast<uint16_t>(pos));
    }
  }
}

Correlator::~Correlator() = default;

bool Correlator::Uses(size_t rule_index) const {
  return rule_index < impl_->by_rule.size() && !impl_->by_rule[rule_index].empty();
}

size_t Correlator::groups() const {
  size_t n = 0;
  for (const auto& t : impl_->tables) n += t.groups.size();
  return n;
}

namespace {

int64_t Measure(const CorrelationRule& c, const std::deque<Event>& events,
                std::vector<std::string_view>* scratch) {
  switch (c.type) {
    case CorrelationType::kEventCount:
      return static_cast<int64_t>(events.size());
    case CorrelationType::kValueCount: {
      scratch->clear();
      for (const auto& e : events) scratch->push_back(e.value);
      std::sort(scratch->begin(), scratch->end());
      return std::unique(scratch->begin(), scratch->end()) - scratch->begin();
    }
    case CorrelationType::kTemporal: {
      uint64_t seen = 0;
      for (const auto& e : events) seen |= uint64_t{1} << (e.pos & 63);
      return __builtin_popcountll(seen);
    }
    case CorrelationType::kTemporalOrdered: {
      // Greedy: the earliest occurrence of rule 0, then the earliest later rule 1, …
      size_t next = 0;
      for (const auto& e : events) {
        if (next < c.rules.size() && e.pos == next) ++next;
      }
      return static_cast<int64_t>(next);
    }
  }
  return 0;
}

Detection MakeDetection(const RuleSet& set, const CorrelationRule& c, const Group& g,
                        int64_t measured, const CorrelationLimits& limits,
                        const Record& completing) {
  Detection d;
  d.rule_id = c.id;
  d.rule_title = c.title;
  d.ruleset = "sigma-correlation";
  d.level = c.level;
  d.tags = c.tags;
  d.tenant = g.tenant;
  d.time_ms = INT64_MIN;
  for (const auto& e : g.events) {
    d.time_ms = std::max(d.time_ms, e.time);
    if (d.evidence.size() < limits.max_evidence) d.evidence.push_back(e.seq);
  }
  boost::json::object group;
  for (size_t i = 0; i < c.group_by.size(); ++i) {
    if (!d.entity.empty()) d.entity += ", ";
    d.entity += c.group_by[i] + "=" + g.values[i];
    group[c.group_by[i]] = g.values[i];
    const auto& paths = set.fields->paths[static_cast<size_t>(c.group_fields[0][i])];
    const bool ip = c.group_by[i] == "source.ip" || (!paths.empty() && paths[0] == "source.ip");
    const bool host = c.group_by[i] == "host.name" || (!paths.empty() && paths[0] == "host.name");
    if (ip || (host && d.terminal.empty())) d.terminal = g.values[i];
  }
  if (d.terminal.empty()) {
    for (const char* path : {"source.ip", "host.name"}) {
      const auto* v = FindField(completing.fields, path);
      if (v != nullptr && v->is_string()) {
        d.terminal = v->get_string();
        break;
      }
    }
  }
  d.context["correlation.type"] = TypeName(c.type);
  d.context["correlation.group"] = std::move(group);
  d.context["correlation.value"] = measured;
  d.context["correlation.events"] = g.events.size();
  d.context["correlation.timespan_ms"] = c.timespan_ms;
  boost::json::array rules;
  for (size_t r : c.rules) rules.push_back(boost::json::string(set.rules[r].id));
  d.context["correlation.rules"] = std::move(rules);
  return d;
}

}  // namespace

void Correlator::OnMatch(size_t rule_index, sigma_internal::MatchContext& ctx,
                         std::vector<Detection>* out) {
  if (rule_index >= impl_->by_rule.size()) return;
  const RuleSet& set = *impl_->rules;
  const Record& rec = ctx.record();
  for (const auto& [ci, pos] : impl_->by_rule[rule_index]) {
    const CorrelationRule& c = set.correlations[ci];
    GroupTable& table = impl_->tables[ci];
    std::string& key = impl_->key;
    std::string_view tenant = rec.tenant;
    key.assign(tenant);
    bool grouped = true;
    for (int f : c.group_fields[pos]) {
      const auto& v = ctx.Get(f);
      if (!v.present || v.is_null) {
        grouped = false;
        break;
      }
      key += '\x1f';
      key += v.text;
    }
    if (!grouped) {
      ++stats_.ungrouped_events;
      continue;
    }
    std::string value;
    if (c.type == CorrelationType::kValueCount) {
      const auto& v = ctx.Get(c.value_field_ids[pos]);
      if (!v.present || v.is_null) {
        ++stats_.ungrouped_events;
        continue;
      }
      value.assign(v.text);
    }
    auto it = table.groups.find(key);
    if (it == table.groups.end()) {
      if (table.groups.size() >= impl_->limits.max_groups && !table.lru.empty()) {
        table.groups.erase(table.lru.front());
        table.lru.pop_front();
        ++stats_.groups_evicted;
      }
      it = table.groups.emplace(key, Group{}).first;
      Group& g = it->second;
      g.tenant.assign(tenant);
      for (int f : c.group_fields[pos]) g.values.emplace_back(ctx.Get(f).text);
      g.lru = table.lru.insert(table.lru.end(), key);
    } else {
      table.lru.splice(table.lru.end(), table.lru, it->second.lru);
    }
    Group& g = it->second;
    Event ev{rec.time_ms, rec.seq, pos, std::move(value)};

    if (Tumbling(c)) {
      if (!g.events.empty() && ev.time >= g.window_start + c.timespan_ms) {
        const int64_t n = Measure(c, g.events, &impl_->scratch);
        if (Compare(c.op, n, c.threshold)) {
          out->push_back(MakeDetection(set, c, g, n, impl_->limits, rec));
          ++stats_.fired;
        }
        g.events.clear();
      }
      if (g.events.empty()) g.window_start = ev.time;
      if (ev.time < g.window_start) {
        ++stats_.late_events;
        continue;
      }
      if (g.events.size() >= impl_->limits.max_events_per_group) {
        ++stats_.events_dropped;
        continue;  // the count is capped; a tumbling window keeps its first events
      }
      g.events.push_back(std::move(ev));
      continue;
    }

    if (g.newest != INT64_MIN && ev.time < g.newest - c.timespan_ms) {
      ++stats_.late_events;
      continue;
    }
    auto where = g.events.end();
    while (where != g.events.begin() && std::prev(where)->time > ev.time) --where;
    g.events.insert(where, std::move(ev));
    g.newest = std::max(g.newest, rec.time_ms);
    while (!g.events.empty() && g.events.front().time < g.newest - c.timespan_ms) {
      g.events.pop_front();
    }
    while (g.events.size() > impl_->limits.max_events_per_group) {
      g.events.pop_front();
      ++stats_.events_dropped;
    }
    const int64_t n = Measure(c, g.events, &impl_->scratch);
    if (Compare(c.op, n, c.threshold)) {
      out->push_back(MakeDetection(set, c, g, n, impl_->limits, rec));
      ++stats_.fired;
      g.events.clear();  // once per window: the next firing needs a fresh set of events
    }
  }
}

void Correlator::Flush(int64_t now_ms, std::vector<Detection>* out) {
  const RuleSet& set = *impl_->rules;
  Record none;
  for (size_t ci = 0; ci < impl_->tables.size(); ++ci) {
    const CorrelationRule& c = set.correlations[ci];
    if (!Tumbling(c)) continue;
    GroupTable& table = impl_->tables[ci];
    for (auto it = table.groups.begin(); it != table.groups.end();) {
      Group& g = it->second;
      if (!g.events.empty() && g.window_start + c.timespan_ms <= now_ms) {
        const int64_t n = Measure(c, g.events, &impl_->scratch);
        if (Compare(c.op, n, c.threshold)) {
          out->push_back(MakeDetection(set, c, g, n, impl_->limits, none));
          ++stats_.fired;
        }
        table.lru.erase(g.lru);
        it = table.groups.erase(it);
      } else {
        ++it;
      }
    }
  }
}

std::unique_ptr<CorrelationState> Correlator::TakeState() {
  auto state = std::make_unique<CorrelationState>();
  for (auto& t : impl_->tables) {
    std::string fp = t.fingerprint;
    state->tables->by_fingerprint[fp] = std::move(t);
    t = GroupTable{};
    t.fingerprint = std::move(fp);
  }
  return state;
}

void Correlator::RestoreState(std::unique_ptr<CorrelationState> state) {
  if (state == nullptr) return;
  for (auto& t : impl_->tables) {
    auto it = state->tables->by_fingerprint.find(t.fingerprint);
    if (it == state->tables->by_fingerprint.end()) continue;
    t = std::move(it->second);
    // Enforce this correlator's bound on what was carried over.
    while (t.groups.size() > impl_->limits.max_groups && !t.lru.empty()) {
      t.groups.erase(t.lru.front());
      t.lru.pop_front();
      ++stats_.groups_evicted;
    }
  }
}

}  // namespace seccloud::soc
