#include "soc/correlation.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <climits>
#include <deque>
#include <list>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "soc/sigma_internal.h"

namespace seccloud::soc {
namespace {

struct Event {
  int64_t time = 0;
  uint64_t seq = 0;
  uint16_t pos = 0;  // which of the correlation's rules matched
  int64_t num = 0;   // the metric types: the field's value in millionths
};

// Events beyond max_events_per_group, aggregated per time bucket of a sliding window's
// timespan / 64 (a tumbling window has one bucket): their count, their values' exact sum (the
// metric types), and the newest time among them (the bucket leaves a sliding window with its
// newest event). One mechanism for every type: event_count counts with it, value_sum/value_avg
// sum with it, and every type reports correlation.events from it.
struct Bucket {
  int64_t index = 0;
  int64_t newest = INT64_MIN;
  __int128 sum = 0;
  uint64_t count = 0;
};

constexpr int64_t kNever = INT64_MIN;

// temporal_ordered beyond the cap: for one conjunction of the condition (all the rules without
// one), its rules in position order, and for each prefix of k + 1 of them the latest start of a
// chain of strictly increasing times covering that prefix — among chains ending before `at`
// (done) and ending at `at` (pending: a later event at the same time cannot extend them, as equal
// times do not establish an order). The latest start dominates: a chain is in the window iff its
// start is, and any chain can be extended by the same events.
struct ChainState {
  int64_t at = kNever;
  std::vector<std::vector<int64_t>> done, pending;  // [term][prefix length - 1]
  std::vector<std::pair<size_t, size_t>> touched;   // the pending entries set
};

// Reused by every judgement of a correlator (no allocation per event once warm).
struct JudgeScratch {
  std::vector<int64_t> nums;
  ChainState chains;
};

struct Sighting {
  int64_t time = kNever;
  uint64_t seq = 0;
};

struct Group {
  std::deque<Event> events;   // the window's newest events (at most max_events_per_group)
  std::deque<Bucket> beyond;  // events beyond the cap, oldest bucket first
  // value_count: the values of the window's events (kept or beyond the cap), value → its latest
  // time, at most max_values_per_group; counted_by_time orders them for expiry (its views point
  // into the keys of `counted`, whose nodes never move, also when the group moves).
  std::unordered_map<std::string, int64_t> counted;
  std::set<std::pair<int64_t, std::string_view>> counted_by_time;
  uint64_t counted_refused = 0;  // events whose value was not kept (max_values_per_group)
  // temporal / temporal_ordered: per rule position, the latest event beyond the cap, and for
  // temporal_ordered the chains of those events (in the order they left the kept events).
  std::vector<Sighting> last_beyond;
  ChainState chains;
  int64_t newest = INT64_MIN;
  int64_t window_start = 0;         // tumbling windows
  std::vector<std::string> values;  // group-by values
  std::string tenant;
  std::list<std::string>::iterator lru;
  // The cost model (GroupBytes): the heap bytes of the key and group-by values, of the counted
  // values' texts, and the group's cost as last charged to its table.
  size_t fixed_bytes = 0;
  size_t counted_heap = 0;
  size_t bytes = 0;
};

struct GroupTable {
  std::string fingerprint;
  std::unordered_map<std::string, Group> groups;
  std::list<std::string> lru;  // front: least recently updated
  size_t bytes = 0;            // the sum of its groups' `bytes`
};

// What the state costs, in malloc's in-use bytes (glibc, x86-64), measured by
// CorrelationMemory.CostModelMatchesMalloc (mallinfo2().uordblks before and after filling
// groups): an empty group (its map node, its LRU node, its two deques' first block and map), a
// kept event (32 bytes in a deque of 512-byte blocks), a bucket (48 in 512), a counted value (an
// unordered_map node, a set node and its bucket slot; a text past 15 bytes adds its own block).
constexpr size_t kGroupBytes = 2'300;
constexpr size_t kEventBytes = 32;
constexpr size_t kBucketBytes = 52;
constexpr size_t kValueBytes = 128;

// malloc's in-use bytes of a std::string's own block (none within the small-string buffer).
size_t HeapBytes(const std::string& s) {
  return s.size() <= 15 ? 0 : std::max<size_t>(32, (s.size() + 1 + 8 + 15) & ~size_t{15});
}

size_t GroupBytes(const Group& g) {
  size_t n = kGroupBytes + g.fixed_bytes + g.events.size() * kEventBytes +
             g.beyond.size() * kBucketBytes + g.counted.size() * kValueBytes + g.counted_heap +
             g.counted.bucket_count() * sizeof(void*) + g.last_beyond.capacity() * sizeof(Sighting);
  for (size_t i = 0; i < g.chains.done.size(); ++i)
    n += (g.chains.done[i].capacity() + g.chains.pending[i].capacity()) * sizeof(int64_t) + 48;
  return n + g.chains.touched.capacity() * sizeof(std::pair<size_t, size_t>);
}

constexpr int64_t kMaxTimeMs = int64_t{1} << 52;  // year ~144,000: beyond any real clock

// One entity of a seccloud-absence rule.
struct AbsenceEntry {
  std::string tenant;
  std::vector<std::string> values;
  int64_t last_seen = 0;
  uint64_t last_seq = 0;
  bool down = false;
  bool listed = false;  // named in the rule's expected list (never forgotten)
  bool dirty = true;    // changed since it was last handed out for persisting
  int64_t persisted_seen = INT64_MIN;
};

struct AbsenceTable {
  std::unordered_map<std::string, AbsenceEntry> entities;  // tenant \x1f value \x1f …
  bool seeded = false;              // the expected list applied (at the first Flush)
  std::vector<AbsenceEntity> gone;  // forgotten since the last TakeAbsenceChanges
};

bool Tumbling(const CorrelationRule& c) {
  return (c.type == CorrelationType::kEventCount || c.type == CorrelationType::kValueCount ||
          IsMetricType(c.type)) &&
         (c.op == CompareOp::kLt || c.op == CompareOp::kLte || c.op == CompareOp::kEq ||
          c.op == CompareOp::kNeq);
}

bool Empty(const Group& g) { return g.events.empty() && g.beyond.empty(); }

// Empties a group's window: it fired (sliding), or it was judged (tumbling).
void ClearWindow(Group* g) {
  g->events.clear();
  g->beyond.clear();
  // Swapped, not cleared: clear() keeps the bucket array of the window's peak.
  if (!g->counted.empty()) std::unordered_map<std::string, int64_t>().swap(g->counted);
  g->counted_heap = 0;
  g->counted_by_time.clear();
  g->counted_refused = 0;
  g->last_beyond.clear();
  g->chains = ChainState{};
}

// A sliding window's buckets for the events beyond the cap: timespan / 64, rounded up so that
// 64 buckets always cover the timespan.
int64_t BucketWidth(const CorrelationRule& c) {
  return std::max<int64_t>(1, c.timespan_ms / 64 + (c.timespan_ms % 64 != 0));
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

// temporal_ordered's conjunctions: the condition's normal form, or all the rules without one.
size_t TermCount(const CorrelationRule& c) {
  return c.rule_condition.empty() ? 1 : c.rule_condition.size();
}
uint64_t TermAt(const CorrelationRule& c, size_t i) {
  if (!c.rule_condition.empty()) return c.rule_condition[i];
  return c.rules.size() >= 64 ? ~uint64_t{0} : (uint64_t{1} << c.rules.size()) - 1;
}

// No chain yet, sized for c's conjunctions; in place, so warm vectors keep their capacity.
void ResetChains(ChainState* s, const CorrelationRule& c) {
  const size_t n = TermCount(c);
  s->at = kNever;
  s->touched.clear();
  s->done.resize(n);
  s->pending.resize(n);
  for (size_t i = 0; i < n; ++i) {
    s->done[i].assign(static_cast<size_t>(__builtin_popcountll(TermAt(c, i))), kNever);
    s->pending[i].assign(s->done[i].size(), kNever);
  }
}

// Folds an event of rule position `pos` at time t (t ≥ s->at: the events come in time order)
// into the chains. Its cost is the number of conjunctions, not the number of events.
void ChainStep(ChainState* s, const CorrelationRule& c, uint16_t pos, int64_t t) {
  const size_t n = TermCount(c);
  if (s->done.size() != n) {
    const int64_t at = s->at;
    ResetChains(s, c);
    s->at = at;
  }
  if (t > s->at) {
    for (const auto& [i, k] : s->touched) {
      s->done[i][k] = std::max(s->done[i][k], s->pending[i][k]);
      s->pending[i][k] = kNever;
    }
    s->touched.clear();
    s->at = t;
  }
  if (pos >= 64) return;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t term = TermAt(c, i);
    if ((term >> pos & 1) == 0) continue;
    const auto k = static_cast<size_t>(__builtin_popcountll(term & ((uint64_t{1} << pos) - 1)));
    const int64_t start = k == 0 ? t : s->done[i][k - 1];
    if (start == kNever) continue;
    if (s->pending[i][k] == kNever) s->touched.emplace_back(i, k);
    s->pending[i][k] = std::max(s->pending[i][k], start);
  }
}

// The latest start of a chain over the first `len` (≥ 1) rules of conjunction i, or kNever.
int64_t ChainStart(const ChainState& s, size_t i, size_t len) {
  if (i >= s.done.size() || len == 0 || len > s.done[i].size()) return kNever;
  return std::max(s.done[i][len - 1], s.pending[i][len - 1]);
}

// value_count: the distinct values one group's window keeps: max_values_per_group, raised to the
// threshold + 1 (memory bounded by the rule's own threshold), and that at most
// max_value_count_threshold + 1 (the loader refuses a higher threshold at the default limit).
// With threshold + 1 values kept, whether the window holds more than the threshold is known
// exactly, and that decides every operator: a refusal means "more" (gt/gte/neq true, lt/lte/eq
// false), no refusal means the count is exact.
size_t ValueCap(const CorrelationRule& c, const CorrelationLimits& limits) {
  const int64_t need = std::min(c.threshold, limits.max_value_count_threshold) + 1;
  return std::max(limits.max_values_per_group, static_cast<size_t>(std::max<int64_t>(need, 0)));
}

// value_count: every event's value with its latest time in the window, or, for a new value past
// ValueCap, nothing but a count (events_dropped, and the alert's
// correlation.values_dropped).
void AddCounted(Group* g, const std::string& value, int64_t time, size_t value_cap,
                CorrelationStats* stats) {
  auto it = g->counted.find(value);
  if (it != g->counted.end()) {
    if (time > it->second) {
      g->counted_by_time.erase({it->second, std::string_view(it->first)});
      it->second = time;
      g->counted_by_time.emplace(time, std::string_view(it->first));
    }
    return;
  }
  if (g->counted.size() >= value_cap) {
    ++g->counted_refused;
    ++stats->events_dropped;
    return;
  }
  it = g->counted.emplace(value, time).first;
  g->counted_by_time.emplace(time, std::string_view(it->first));
  g->counted_heap += HeapBytes(it->first);
}

// Moves an event past max_events_per_group out of the kept events: into bucket `index` (kept in
// index order; a late event may belong to an older bucket) and into its type's state beyond the
// cap. value_median/value_percentile lose its value, temporal_ordered an event older than its
// chains (counted in events_dropped); every other type keeps what it judges exactly.
void AddBeyond(Group* g, int64_t index, const Event& e, const CorrelationRule& c,
               const CorrelationLimits& limits, CorrelationStats* stats) {
  auto it = g->beyond.end();
  while (it != g->beyond.begin() && std::prev(it)->index >= index) --it;
  if (it == g->beyond.end() || it->index != index) it = g->beyond.insert(it, Bucket{index});
  it->newest = std::max(it->newest, e.time);
  it->sum += e.num;
  ++it->count;
  switch (c.type) {
    case CorrelationType::kValueMedian:
    case CorrelationType::kValuePercentile:
      ++stats->events_dropped;
      break;
    case CorrelationType::kTemporal:
    case CorrelationType::kTemporalOrdered: {
      if (g->last_beyond.size() < c.rules.size()) g->last_beyond.resize(c.rules.size());
      if (e.pos < g->last_beyond.size() && e.time >= g->last_beyond[e.pos].time)
        g->last_beyond[e.pos] = Sighting{e.time, e.seq};
      if (c.type == CorrelationType::kTemporalOrdered) ChainStep(&g->chains, c, e.pos, e.time);
      break;
    }
    default:
      break;
  }
}

// A sliding value_count's values whose latest sighting left the window.
void ExpireCounted(Group* g, int64_t horizon) {
  while (!g->counted_by_time.empty() && g->counted_by_time.begin()->first < horizon) {
    const std::string value(g->counted_by_time.begin()->second);
    g->counted_by_time.erase(g->counted_by_time.begin());
    g->counted_heap -= HeapBytes(value);
    g->counted.erase(value);
  }
}

template <typename T>
bool Compare(CompareOp op, T n, T threshold) {
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
    case CompareOp::kNeq:
      return n != threshold;
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
    case CorrelationType::kAbsence:
      return "seccloud-absence";
    case CorrelationType::kValueSum:
      return "value_sum";
    case CorrelationType::kValueAvg:
      return "value_avg";
    case CorrelationType::kValuePercentile:
      return "value_percentile";
    case CorrelationType::kValueMedian:
      return "value_median";
  }
  return "?";
}

std::string Fingerprint(const RuleSet& set, const CorrelationRule& c) {
  std::string f = c.id + '\x1f' + TypeName(c.type) + '\x1f' + std::to_string(c.timespan_ms) +
                  '\x1f' + std::to_string(static_cast<int>(c.op)) + '\x1f' +
                  std::to_string(c.threshold) + '\x1f' + c.value_field + '\x1f' +
                  std::to_string(c.percentile) + '\x1f' + c.rule_condition_text;
  for (size_t pos = 0; pos < c.rules.size(); ++pos) f += '\x1e' + set.InputId(c, pos);
  for (const auto& g : c.group_by) f += '\x1d' + g;
  return f;
}

}  // namespace

bool ParseMetricMillionths(std::string_view s, int64_t* out, bool round) {
  if (s.empty() || s.size() > 64) return false;
  size_t i = 0;
  bool negative = false;
  if (s[i] == '+' || s[i] == '-') negative = s[i++] == '-';
  std::string digits;
  int64_t shift = 0;  // the value is digits × 10^shift units
  auto is_digit = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  while (is_digit(i)) digits += s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (is_digit(i)) {
      digits += s[i++];
      --shift;
    }
  }
  if (digits.empty()) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool negative_exponent = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative_exponent = s[i++] == '-';
    if (!is_digit(i)) return false;
    int64_t e = 0;
    while (is_digit(i)) {
      e = e * 10 + (s[i++] - '0');
      if (e > 1000) return false;
    }
    shift += negative_exponent ? -e : e;
  }
  if (i != s.size()) return false;
  shift += 6;  // millionths
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) {
    *out = 0;
    return true;
  }
  digits.erase(0, first);
  // Finer than a millionth: a threshold is refused (it is the rule's own exact number); a value
  // is rounded to the nearest millionth, halves away from zero (JSON doubles such as
  // 0.30000000000000004 are ordinary), and then summed exactly.
  bool round_up = false;
  for (; shift < 0; ++shift) {
    if (digits.empty()) break;
    if (digits.back() != '0' && !round) return false;
    round_up = digits.back() >= '5';
    digits.pop_back();
  }
  if (shift < 0) round_up = false;  // below half a millionth: 0
  if (static_cast<int64_t>(digits.size()) + shift > 19) return false;
  __int128 v = 0;
  for (char d : digits) v = v * 10 + (d - '0');
  for (; shift > 0; --shift) v *= 10;
  if (round_up) ++v;
  if (v > INT64_MAX) return false;
  *out = static_cast<int64_t>(negative ? -v : v);
  return true;
}

struct CorrelationState::Tables {
  std::map<std::string, GroupTable> by_fingerprint;
  std::map<std::string, AbsenceTable> absence_by_key;
};
CorrelationState::CorrelationState() : tables(std::make_unique<Tables>()) {}
CorrelationState::~CorrelationState() = default;

struct Correlator::Impl {
  std::shared_ptr<const RuleSet> rules;
  CorrelationLimits limits;
  std::vector<std::vector<std::pair<size_t, uint16_t>>> by_rule;  // rule → (correlation, pos)
  std::vector<GroupTable> tables;                                 // per correlation
  std::vector<AbsenceTable> absence;                              // per correlation
  // correlation → (outer correlation, pos) for correlations of correlations
  std::vector<std::vector<std::pair<size_t, uint16_t>>> by_correlation;
  std::array<std::string, kMaxCorrelationDepth + 1> keys;  // group key scratch per depth
  JudgeScratch scratch;
  size_t bytes = 0;  // the sum of the tables' `bytes`

  // Removes table's least recently updated group (not `keep`); false if there is none other.
  bool EvictOldest(GroupTable* table, const Group* keep) {
    if (table->lru.empty()) return false;
    auto it = table->groups.find(table->lru.front());
    if (it == table->groups.end() || &it->second == keep) return false;
    table->bytes -= it->second.bytes;
    bytes -= it->second.bytes;
    table->groups.erase(it);
    table->lru.pop_front();
    return true;
  }
};

Correlator::Correlator(std::shared_ptr<const RuleSet> rules, CorrelationLimits limits)
    : impl_(std::make_unique<Impl>()) {
  impl_->rules = std::move(rules);
  impl_->limits = limits;
  const RuleSet& set = *impl_->rules;
  impl_->by_rule.resize(set.rules.size());
  impl_->tables.resize(set.correlations.size());
  impl_->absence.resize(set.correlations.size());
  for (size_t c = 0; c < set.correlations.size(); ++c) {
    impl_->tables[c].fingerprint = Fingerprint(set, set.correlations[c]);
    const CorrelationRule& cr = set.correlations[c];
    for (size_t pos = 0; pos < cr.rules.size(); ++pos) {
      if (pos < cr.from_correlation.size() && cr.from_correlation[pos]) {
        if (impl_->by_correlation.size() <= cr.rules[pos])
          impl_->by_correlation.resize(cr.rules[pos] + 1);
        impl_->by_correlation[cr.rules[pos]].emplace_back(c, static_cast<uint16_t>(pos));
      } else {
        impl_->by_rule[cr.rules[pos]].emplace_back(c, static_cast<uint16_t>(pos));
      }
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

size_t Correlator::state_bytes(size_t correlation) const {
  return correlation < impl_->tables.size() ? impl_->tables[correlation].bytes : 0;
}
size_t Correlator::state_bytes() const { return impl_->bytes; }

void Correlator::Charge(size_t ci, void* updated) {
  GroupTable& table = impl_->tables[ci];
  Group& g = *static_cast<Group*>(updated);
  const size_t now = GroupBytes(g);
  table.bytes += now - g.bytes;  // modular: a shrinking group subtracts
  impl_->bytes += now - g.bytes;
  g.bytes = now;
  while ((table.bytes > impl_->limits.max_state_bytes ||
          impl_->bytes > impl_->limits.max_total_state_bytes) &&
         impl_->EvictOldest(&table, &g)) {
    ++stats_.groups_evicted_for_memory;
  }
}

namespace {

// The start of a sliding window: its events are at or after it (the edge is inclusive).
int64_t Horizon(const CorrelationRule& c, const Group& g) { return g.newest - c.timespan_ms; }

// temporal: the rules seen in the window, a bit per input position — in the kept events, or
// beyond the cap with a latest sighting in the window.
uint64_t SeenRules(const CorrelationRule& c, const Group& g) {
  uint64_t seen = 0;
  for (const auto& e : g.events) seen |= uint64_t{1} << (e.pos & 63);
  const int64_t horizon = Horizon(c, g);
  for (size_t pos = 0; pos < g.last_beyond.size() && pos < 64; ++pos)
    if (g.last_beyond[pos].time != kNever && g.last_beyond[pos].time >= horizon)
      seen |= uint64_t{1} << pos;
  return seen;
}

// temporal_ordered: the chains of the whole window, those beyond the cap continued with the kept
// events (all at or after the chains' time: see Feed).
const ChainState& WindowChains(const CorrelationRule& c, const Group& g, JudgeScratch* scratch) {
  // A group below the cap has no chains: start them in place (copying the empty state would
  // free the scratch's vectors, two allocations per conjunction on every judgement).
  if (g.chains.done.empty())
    ResetChains(&scratch->chains, c);
  else
    scratch->chains = g.chains;
  for (const auto& e : g.events) ChainStep(&scratch->chains, c, e.pos, e.time);
  return scratch->chains;
}

int64_t Measure(const CorrelationRule& c, const Group& g, JudgeScratch* scratch) {
  switch (c.type) {
    case CorrelationType::kEventCount: {
      uint64_t n = g.events.size();
      for (const auto& b : g.beyond) n += b.count;
      return static_cast<int64_t>(n);
    }
    case CorrelationType::kValueCount:
      return static_cast<int64_t>(g.counted.size());
    case CorrelationType::kTemporal:
      return __builtin_popcountll(SeenRules(c, g));
    case CorrelationType::kTemporalOrdered: {
      // The longest ordered prefix of the rules with a chain in the window.
      const ChainState& chains = WindowChains(c, g, scratch);
      const int64_t horizon = Horizon(c, g);
      int64_t n = 0;
      while (static_cast<size_t>(n) < c.rules.size() &&
             ChainStart(chains, 0, static_cast<size_t>(n) + 1) >= horizon)
        ++n;
      return n;
    }
    case CorrelationType::kAbsence:
      return 0;  // judged by Flush, not by counting
    case CorrelationType::kValueSum:
    case CorrelationType::kValueAvg:
    case CorrelationType::kValuePercentile:
    case CorrelationType::kValueMedian:
      return 0;  // judged by Metric
  }
  return 0;
}

// A temporal condition expression: the number of rules of the first conjunction the window
// satisfies (all its rules seen; for temporal_ordered, a chain of them in the window in the
// rules' order, with strictly increasing times), or 0.
int64_t SatisfiedTerm(const CorrelationRule& c, const Group& g, JudgeScratch* scratch) {
  if (c.type == CorrelationType::kTemporalOrdered) {
    const ChainState& chains = WindowChains(c, g, scratch);
    const int64_t horizon = Horizon(c, g);
    for (size_t i = 0; i < c.rule_condition.size(); ++i) {
      const auto len = static_cast<size_t>(__builtin_popcountll(c.rule_condition[i]));
      if (ChainStart(chains, i, len) >= horizon) return static_cast<int64_t>(len);
    }
    return 0;
  }
  const uint64_t seen = SeenRules(c, g);
  for (uint64_t term : c.rule_condition)
    if ((term & seen) == term) return __builtin_popcountll(term);
  return 0;
}

// A metric of the window's values, exactly: num / den millionths (den > 0). The values are
// int64 millionths and a window counts fewer than 2^63 of them, so the 128-bit sums and the
// products with the threshold below cannot overflow.
struct Fraction {
  __int128 num = 0;
  __int128 den = 1;
};

Fraction Metric(const CorrelationRule& c, const Group& g, std::vector<int64_t>* nums) {
  Fraction f;
  const std::deque<Event>& events = g.events;
  if (c.type == CorrelationType::kValueSum || c.type == CorrelationType::kValueAvg) {
    uint64_t count = events.size();
    for (const auto& e : events) f.num += e.num;
    for (const auto& b : g.beyond) {
      f.num += b.sum;
      count += b.count;
    }
    if (c.type == CorrelationType::kValueAvg && count > 0) f.den = count;
    return f;
  }
  nums->clear();
  for (const auto& e : events) nums->push_back(e.num);
  if (nums->empty()) return f;
  std::sort(nums->begin(), nums->end());
  const size_t n = nums->size();
  if (c.type == CorrelationType::kValuePercentile) {
    // Nearest rank: the smallest value with at least `percentile` % of the values at or below it.
    size_t rank = (n * static_cast<size_t>(c.percentile) + 99) / 100;
    rank = std::clamp<size_t>(rank, 1, n);
    f.num = (*nums)[rank - 1];
    return f;
  }
  // Median: the middle value, or the mean of the two middle ones.
  f.den = 2;
  f.num = n % 2 == 1 ? __int128{(*nums)[n / 2]} * 2 : __int128{(*nums)[n / 2 - 1]} + (*nums)[n / 2];
  return f;
}

// The metric in the field's unit for the alert: an integer when it is one, else a double.
boost::json::value MetricJson(const Fraction& f) {
  const __int128 unit = f.den * kMetricScale;
  const __int128 whole = f.num / unit;
  if (f.num % unit == 0 && whole >= INT64_MIN && whole <= INT64_MAX)
    return static_cast<int64_t>(whole);
  return static_cast<double>(f.num) / static_cast<double>(unit);
}

struct Judgement {
  bool holds = false;
  boost::json::value measured;  // correlation.value in the alert
};

// The events of the window beyond max_events_per_group (aggregated in g.beyond).
uint64_t BeyondCount(const Group& g) {
  uint64_t n = 0;
  for (const auto& b : g.beyond) n += b.count;
  return n;
}

// value_median / value_percentile need every value; those beyond the cap were not kept.
bool ValuesDropped(const CorrelationRule& c, const Group& g) {
  return (c.type == CorrelationType::kValueMedian || c.type == CorrelationType::kValuePercentile) &&
         !g.beyond.empty();
}

Judgement Judge(const CorrelationRule& c, const Group& g, JudgeScratch* scratch,
                CorrelationStats* stats) {
  if (IsMetricType(c.type)) {
    // A tumbling median/percentile that lost values is not judged: its lt/lte/eq/neq verdict
    // would be about other values than the window's.
    if (Tumbling(c) && ValuesDropped(c, g)) {
      ++stats->windows_unjudged;
      return {};
    }
    const Fraction f = Metric(c, g, &scratch->nums);
    return {Compare<__int128>(c.op, f.num, __int128{c.threshold} * f.den), MetricJson(f)};
  }
  if (!c.rule_condition.empty()) {
    const int64_t n = SatisfiedTerm(c, g, scratch);
    return {n > 0, n};
  }
  const int64_t n = Measure(c, g, scratch);
  // value_count that refused values (ValueCap) measured a lower bound of the true count. lt is
  // false from the threshold on, lte/eq false and neq true above it: a bound there decides them
  // exactly. The cap is above the threshold, so a refusal always decides — unless the engine's
  // max_value_count_threshold is below the rule's; then a bound at or below the threshold leaves
  // the window not judged. (A sliding gt/gte that holds on the bound holds on the true count.)
  if (c.type == CorrelationType::kValueCount && g.counted_refused > 0 && Tumbling(c) &&
      (c.op == CompareOp::kLt ? n < c.threshold : n <= c.threshold)) {
    ++stats->windows_unjudged;
    return {};
  }
  return {Compare(c.op, n, c.threshold), n};
}

std::string EntityKey(std::string_view tenant, const std::vector<std::string>& values) {
  std::string key(tenant);
  for (const auto& v : values) {
    key += '\x1f';
    key += v;
  }
  return key;
}

bool IsTerminalField(const RuleSet& set, const CorrelationRule& c, size_t i) {
  static constexpr std::string_view kTerminals[] = {"source.ip", "host.name", "host.hostname",
                                                    "host.ip", "observer.name"};
  const int id = c.group_fields.empty() ? -1 : c.group_fields[0][i];
  const std::string_view path =
      id >= 0 && !set.fields->paths[static_cast<size_t>(id)].empty()
          ? std::string_view(set.fields->paths[static_cast<size_t>(id)][0])
          : std::string_view(c.group_by[i]);
  for (auto t : kTerminals)
    if (path == t || c.group_by[i] == t) return true;
  return false;
}

// The alert of an absence rule: the entity, when it was last heard of, how long it has been silent.
Detection MakeAbsenceDetection(const RuleSet& set, const CorrelationRule& c, const AbsenceEntry& e,
                               int64_t now_ms) {
  Detection d;
  d.rule_id = c.id;
  d.rule_title = c.title;
  d.ruleset = "absence";
  d.level = c.level;
  d.tags = c.tags;
  d.tenant = e.tenant;
  d.time_ms = now_ms;
  boost::json::object group;
  for (size_t i = 0; i < c.group_by.size() && i < e.values.size(); ++i) {
    if (!d.entity.empty()) d.entity += ", ";
    d.entity += c.group_by[i] + "=" + e.values[i];
    group[c.group_by[i]] = e.values[i];
    if (d.terminal.empty() && IsTerminalField(set, c, i)) d.terminal = e.values[i];
  }
  if (e.last_seq != 0) d.evidence.push_back(e.last_seq);
  d.context["correlation.type"] = "seccloud-absence";
  d.context["correlation.group"] = std::move(group);
  d.context["correlation.timespan_ms"] = c.timespan_ms;
  d.context["absence.expected"] = e.listed ? "listed" : "learned";
  if (e.last_seq != 0) {
    d.context["absence.last_seen"] = FormatTimeMs(e.last_seen);
  } else {
    d.context["absence.last_seen"] = nullptr;  // listed, never heard of since socd watched
  }
  d.context["absence.silent_ms"] = now_ms - e.last_seen;
  boost::json::array rules;
  for (size_t pos = 0; pos < c.rules.size(); ++pos)
    rules.push_back(boost::json::string(set.InputId(c, pos)));
  d.context["correlation.rules"] = std::move(rules);
  return d;
}

Detection MakeDetection(const RuleSet& set, const CorrelationRule& c, const Group& g,
                        boost::json::value measured, const CorrelationLimits& limits,
                        const Record& completing) {
  Detection d;
  d.rule_id = c.id;
  d.rule_title = c.title;
  d.ruleset = "sigma-correlation";
  d.level = c.level;
  d.tags = c.tags;
  d.tenant = g.tenant;
  d.time_ms = INT64_MIN;
  // temporal beyond the cap: each rule's latest event beyond it, when in the window, comes
  // before the kept events (it is older than all of them).
  std::vector<Sighting> sightings;
  for (const auto& s : g.last_beyond)
    if (s.time != kNever && s.time >= Horizon(c, g)) sightings.push_back(s);
  std::sort(sightings.begin(), sightings.end(), [](const Sighting& a, const Sighting& b) {
    return a.time != b.time ? a.time < b.time : a.seq < b.seq;
  });
  for (const auto& s : sightings)
    if (d.evidence.size() < limits.max_evidence) d.evidence.push_back(s.seq);
  for (const auto& e : g.events) {
    d.time_ms = std::max(d.time_ms, e.time);
    if (d.evidence.size() < limits.max_evidence) d.evidence.push_back(e.seq);
  }
  for (const auto& b : g.beyond) d.time_ms = std::max(d.time_ms, b.newest);
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
      const auto* v = FindField(completing.fields(), path);
      if (v != nullptr && v->is_string()) {
        d.terminal = v->get_string();
        break;
      }
    }
  }
  d.context["correlation.type"] = TypeName(c.type);
  d.context["correlation.group"] = std::move(group);
  d.context["correlation.value"] = std::move(measured);
  d.context["correlation.events"] = g.events.size() + BeyondCount(g);
  if (ValuesDropped(c, g)) d.context["correlation.values_dropped"] = BeyondCount(g);
  if (g.counted_refused > 0) d.context["correlation.values_dropped"] = g.counted_refused;
  d.context["correlation.timespan_ms"] = c.timespan_ms;
  boost::json::array rules;
  for (size_t pos = 0; pos < c.rules.size(); ++pos)
    rules.push_back(boost::json::string(set.InputId(c, pos)));
  d.context["correlation.rules"] = std::move(rules);
  return d;
}

}  // namespace

void Correlator::OnMatch(size_t rule_index, sigma_internal::MatchContext& ctx,
                         std::vector<Detection>* out) {
  if (rule_index >= impl_->by_rule.size()) return;
  for (const auto& [ci, pos] : impl_->by_rule[rule_index]) Feed(ci, pos, ctx, out, 0);
}

// One input of correlation `ci` (position `pos`) matched the current record: a base rule, or at
// depth > 0 an inner correlation that fired on it.
void Correlator::Feed(size_t ci, uint16_t pos, sigma_internal::MatchContext& ctx,
                      std::vector<Detection>* out, size_t depth) {
  const RuleSet& set = *impl_->rules;
  const Record& rec = ctx.record();
  {
    const CorrelationRule& c = set.correlations[ci];
    GroupTable& table = impl_->tables[ci];
    std::string& key = impl_->keys[depth];
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
      return;
    }
    if (c.type == CorrelationType::kAbsence) {
      AbsenceSeen(ci, pos, key, ctx, out);
      return;
    }
    std::string value;
    if (c.type == CorrelationType::kValueCount) {
      const auto& v = ctx.Get(c.value_field_ids[pos]);
      if (!v.present || v.is_null) {
        ++stats_.ungrouped_events;
        return;
      }
      value.assign(v.text);
    }
    int64_t num = 0;
    if (IsMetricType(c.type)) {
      const auto& v = ctx.Get(c.value_field_ids[pos]);
      if (!v.present || v.is_null) {
        ++stats_.ungrouped_events;
        return;
      }
      if (!ParseMetricMillionths(v.text, &num, /*round=*/true)) {
        ++stats_.non_numeric_values;
        return;
      }
    }
    auto it = table.groups.find(key);
    if (it == table.groups.end()) {
      if (table.groups.size() >= impl_->limits.max_groups && impl_->EvictOldest(&table, nullptr))
        ++stats_.groups_evicted;
      it = table.groups.emplace(key, Group{}).first;
      Group& g = it->second;
      g.tenant.assign(tenant);
      for (int f : c.group_fields[pos]) g.values.emplace_back(ctx.Get(f).text);
      g.lru = table.lru.insert(table.lru.end(), key);
      g.fixed_bytes =
          2 * HeapBytes(key) + HeapBytes(g.tenant) + g.values.capacity() * sizeof(std::string);
      for (const auto& v : g.values) g.fixed_bytes += HeapBytes(v);
    } else {
      table.lru.splice(table.lru.end(), table.lru, it->second.lru);
    }
    Group& g = it->second;
    // The update below returns early on several paths; its cost is charged after any of them.
    struct ChargeOnExit {
      Correlator* self;
      size_t ci;
      Group* g;
      ~ChargeOnExit() { self->Charge(ci, g); }
    } charge{this, ci, &g};
    Event ev{rec.time_ms, rec.seq, pos, num};

    if (Tumbling(c)) {
      if (!Empty(g) && ev.time >= g.window_start + c.timespan_ms) {
        Judgement j = Judge(c, g, &impl_->scratch, &stats_);
        if (j.holds) {
          if (c.emit)
            out->push_back(MakeDetection(set, c, g, std::move(j.measured), impl_->limits, rec));
          ++stats_.fired;
        }
        ClearWindow(&g);
      }
      if (Empty(g)) g.window_start = ev.time;
      if (ev.time < g.window_start) {
        ++stats_.late_events;
        return;
      }
      if (c.type == CorrelationType::kValueCount)
        AddCounted(&g, value, ev.time, ValueCap(c, impl_->limits), &stats_);
      if (g.events.size() >= impl_->limits.max_events_per_group) {
        // A tumbling window keeps its first events; the rest go to one bucket (their count and
        // sum) and, for value_count, to the values beyond the cap.
        AddBeyond(&g, 0, ev, c, impl_->limits, &stats_);
        return;
      }
      g.events.push_back(std::move(ev));
      return;
    }

    if (g.newest != INT64_MIN && ev.time < g.newest - c.timespan_ms) {
      ++stats_.late_events;
      return;
    }
    if (ev.time < g.chains.at) {
      // temporal_ordered: older than an event already folded into the chains beyond the cap
      // (only an event that arrives out of order, in a window over the cap): its place in the
      // order is lost.
      ++stats_.events_dropped;
      return;
    }
    if (c.type == CorrelationType::kValueCount) {
      // Expired values first, so the value cap bounds the values in the window. The horizon is
      // the window's after this event, and the event is in it (a late one returned above), so
      // no value expires once this one is added.
      ExpireCounted(&g, std::max(g.newest, ev.time) - c.timespan_ms);
      AddCounted(&g, value, ev.time, ValueCap(c, impl_->limits), &stats_);
    }
    auto where = g.events.end();
    while (where != g.events.begin() && std::prev(where)->time > ev.time) --where;
    g.events.insert(where, std::move(ev));
    g.newest = std::max(g.newest, rec.time_ms);
    while (!g.events.empty() && g.events.front().time < g.newest - c.timespan_ms) {
      g.events.pop_front();
    }
    while (!g.beyond.empty() && g.beyond.front().newest < g.newest - c.timespan_ms) {
      g.beyond.pop_front();  // a bucket leaves the window with its newest event
    }
    while (g.events.size() > impl_->limits.max_events_per_group) {
      AddBeyond(&g, FloorDiv(g.events.front().time, BucketWidth(c)), g.events.front(), c,
                impl_->limits, &stats_);
      g.events.pop_front();
    }
    Judgement j = Judge(c, g, &impl_->scratch, &stats_);
    if (j.holds) {
      if (c.emit)
        out->push_back(MakeDetection(set, c, g, std::move(j.measured), impl_->limits, rec));
      ++stats_.fired;
      ClearWindow(&g);  // once per window: the next firing needs a fresh set of events
      // Outer correlations see this firing as their input matching the completing record.
      if (depth + 1 < kMaxCorrelationDepth + 1 && ci < impl_->by_correlation.size()) {
        for (const auto& [outer, opos] : impl_->by_correlation[ci])
          Feed(outer, opos, ctx, out, depth + 1);
      }
    }
  }
}

void Correlator::AbsenceSeen(size_t ci, size_t pos, const std::string& key,
                             sigma_internal::MatchContext& ctx, std::vector<Detection>* out) {
  const RuleSet& set = *impl_->rules;
  const CorrelationRule& c = set.correlations[ci];
  AbsenceTable& t = impl_->absence[ci];
  const Record& rec = ctx.record();
  // Clamped so that "now - last seen" cannot overflow whatever a record claims.
  const int64_t seen =
      std::clamp<int64_t>(rec.received_ms != 0 ? rec.received_ms : rec.time_ms, 0, kMaxTimeMs);
  auto it = t.entities.find(key);
  if (it == t.entities.end()) {
    // Before the first Flush the listed entities are not in the table yet; a record of one of
    // them is tracked here and marked listed when the list is applied.
    if (!c.learn && t.seeded) return;
    if (t.entities.size() >= impl_->limits.max_absence_entities) {
      ++stats_.absence_refused;
      return;
    }
    AbsenceEntry e;
    e.tenant = rec.tenant;
    for (int f : c.group_fields[pos]) e.values.emplace_back(ctx.Get(f).text);
    e.last_seen = seen;
    it = t.entities.emplace(key, std::move(e)).first;
  }
  AbsenceEntry& e = it->second;
  const int64_t previous = e.last_seen;
  if (seen >= e.last_seen) {
    e.last_seen = seen;
    e.last_seq = rec.seq;
  }
  if (e.down) {
    Detection d = MakeAbsenceDetection(set, c, e, seen);
    d.resolves = true;
    d.evidence.assign(1, rec.seq);
    d.context["absence.state"] = "recovered";
    d.context["absence.silent_ms"] = seen - previous;
    out->push_back(std::move(d));
    ++stats_.absence_recovered;
    e.down = false;
    e.dirty = true;
  }
  // Persisting every record's time would write constantly; a quarter of the timespan (at most a
  // minute) behind is close enough: after a restart an entity is judged at most that much early.
  if (e.persisted_seen == INT64_MIN ||
      e.last_seen - e.persisted_seen >= std::min<int64_t>(c.timespan_ms / 4, 60'000)) {
    e.dirty = true;
  }
}

void Correlator::FlushAbsence(size_t ci, int64_t now_ms, std::vector<Detection>* out) {
  const RuleSet& set = *impl_->rules;
  const CorrelationRule& c = set.correlations[ci];
  AbsenceTable& t = impl_->absence[ci];
  const std::string rule_key = AbsenceKey(c);
  now_ms = std::clamp<int64_t>(now_ms, 0, kMaxTimeMs);
  if (!t.seeded) {
    t.seeded = true;
    for (auto& [k, e] : t.entities) e.listed = false;
    for (const auto& x : c.expected) {
      auto [it, added] = t.entities.try_emplace(EntityKey(x.tenant, x.values));
      AbsenceEntry& e = it->second;
      e.listed = true;
      if (added) {
        // Listed but never heard of: the silence counts from when socd started watching.
        e.tenant = x.tenant;
        e.values = x.values;
        e.last_seen = now_ms;
      }
    }
    if (!c.learn) {
      for (auto it = t.entities.begin(); it != t.entities.end();) {
        if (it->second.listed) {
          ++it;
          continue;
        }
        t.gone.push_back(
            AbsenceEntity{rule_key, it->second.tenant, it->second.values, 0, 0, false, true});
        it = t.entities.erase(it);
      }
    }
  }
  for (auto it = t.entities.begin(); it != t.entities.end();) {
    AbsenceEntry& e = it->second;
    const int64_t silent = now_ms - e.last_seen;
    if (!e.listed && c.forget_ms > 0 && silent >= c.forget_ms) {
      t.gone.push_back(AbsenceEntity{rule_key, e.tenant, e.values, 0, 0, false, true});
      it = t.entities.erase(it);
      ++stats_.absence_forgotten;
      continue;
    }
    if (!e.down && silent >= c.timespan_ms) {
      out->push_back(MakeAbsenceDetection(set, c, e, now_ms));
      ++stats_.fired;
      e.down = true;
      e.dirty = true;
    }
    ++it;
  }
}

std::string Correlator::AbsenceKey(const CorrelationRule& rule) {
  std::string key = rule.id;
  for (const auto& g : rule.group_by) {
    key += '\x1f';
    key += g;
  }
  return key;
}

std::vector<AbsenceEntity> Correlator::TakeAbsenceChanges(bool all) {
  std::vector<AbsenceEntity> out;
  const RuleSet& set = *impl_->rules;
  for (size_t ci = 0; ci < impl_->absence.size(); ++ci) {
    const CorrelationRule& c = set.correlations[ci];
    if (c.type != CorrelationType::kAbsence) continue;
    AbsenceTable& t = impl_->absence[ci];
    const std::string rule_key = AbsenceKey(c);
    for (auto& g : t.gone) out.push_back(std::move(g));
    t.gone.clear();
    for (auto& [k, e] : t.entities) {
      if (!e.dirty && !all) continue;
      out.push_back(
          AbsenceEntity{rule_key, e.tenant, e.values, e.last_seen, e.last_seq, e.down, false});
      e.dirty = false;
      e.persisted_seen = e.last_seen;
    }
  }
  return out;
}

void Correlator::RestoreAbsence(const std::vector<AbsenceEntity>& entities) {
  const RuleSet& set = *impl_->rules;
  std::unordered_map<std::string, size_t> by_key;
  for (size_t ci = 0; ci < set.correlations.size(); ++ci)
    if (set.correlations[ci].type == CorrelationType::kAbsence)
      by_key.emplace(AbsenceKey(set.correlations[ci]), ci);
  for (const AbsenceEntity& a : entities) {
    auto it = by_key.find(a.rule);
    if (it == by_key.end() || a.forget) continue;
    const CorrelationRule& c = set.correlations[it->second];
    if (a.values.size() != c.group_by.size()) continue;
    AbsenceTable& t = impl_->absence[it->second];
    const std::string key = EntityKey(a.tenant, a.values);
    auto existing = t.entities.find(key);
    if (existing == t.entities.end() && t.entities.size() >= impl_->limits.max_absence_entities) {
      ++stats_.absence_refused;
      continue;
    }
    if (a.last_seen_ms < 0 || a.last_seen_ms > kMaxTimeMs) continue;  // damaged
    AbsenceEntry& e = t.entities[key];
    if (existing != t.entities.end() && e.last_seen >= a.last_seen_ms) continue;  // newer here
    e.tenant = a.tenant;
    e.values = a.values;
    e.last_seen = a.last_seen_ms;
    e.last_seq = a.last_seq;
    e.down = a.down;
    e.dirty = false;
    e.persisted_seen = a.last_seen_ms;
    // Restored entities are re-checked against the rule's current list at the next Flush.
    t.seeded = false;
  }
}

void Correlator::Flush(int64_t now_ms, std::vector<Detection>* out) {
  const RuleSet& set = *impl_->rules;
  Record none;
  for (size_t ci = 0; ci < impl_->tables.size(); ++ci) {
    const CorrelationRule& c = set.correlations[ci];
    if (c.type == CorrelationType::kAbsence) {
      FlushAbsence(ci, now_ms, out);
      continue;
    }
    if (!Tumbling(c)) continue;
    GroupTable& table = impl_->tables[ci];
    for (auto it = table.groups.begin(); it != table.groups.end();) {
      Group& g = it->second;
      if (!Empty(g) && g.window_start + c.timespan_ms <= now_ms) {
        Judgement j = Judge(c, g, &impl_->scratch, &stats_);
        if (j.holds) {
          if (c.emit)
            out->push_back(MakeDetection(set, c, g, std::move(j.measured), impl_->limits, none));
          ++stats_.fired;
        }
        table.lru.erase(g.lru);
        table.bytes -= g.bytes;
        impl_->bytes -= g.bytes;
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
    impl_->bytes -= t.bytes;
    state->tables->by_fingerprint[fp] = std::move(t);
    t = GroupTable{};
    t.fingerprint = std::move(fp);
  }
  const RuleSet& set = *impl_->rules;
  for (size_t ci = 0; ci < impl_->absence.size(); ++ci) {
    if (set.correlations[ci].type != CorrelationType::kAbsence) continue;
    state->tables->absence_by_key[AbsenceKey(set.correlations[ci])] = std::move(impl_->absence[ci]);
    impl_->absence[ci] = AbsenceTable{};
  }
  return state;
}

void Correlator::RestoreState(std::unique_ptr<CorrelationState> state) {
  if (state == nullptr) return;
  for (auto& t : impl_->tables) {
    auto it = state->tables->by_fingerprint.find(t.fingerprint);
    if (it == state->tables->by_fingerprint.end()) continue;
    impl_->bytes -= t.bytes;
    t = std::move(it->second);
    impl_->bytes += t.bytes;
    // Enforce this correlator's bounds on what was carried over.
    while (t.groups.size() > impl_->limits.max_groups && impl_->EvictOldest(&t, nullptr))
      ++stats_.groups_evicted;
    while (t.bytes > impl_->limits.max_state_bytes && impl_->EvictOldest(&t, nullptr))
      ++stats_.groups_evicted_for_memory;
  }
  // And the load-wide bound: the oldest groups of each correlation in turn.
  for (bool evicted = true; evicted && impl_->bytes > impl_->limits.max_total_state_bytes;) {
    evicted = false;
    for (auto& t : impl_->tables) {
      if (impl_->bytes <= impl_->limits.max_total_state_bytes) break;
      if (impl_->EvictOldest(&t, nullptr)) {
        ++stats_.groups_evicted_for_memory;
        evicted = true;
      }
    }
  }
  const RuleSet& set = *impl_->rules;
  for (size_t ci = 0; ci < impl_->absence.size(); ++ci) {
    if (set.correlations[ci].type != CorrelationType::kAbsence) continue;
    auto it = state->tables->absence_by_key.find(AbsenceKey(set.correlations[ci]));
    if (it == state->tables->absence_by_key.end()) continue;
    AbsenceTable& t = impl_->absence[ci];
    t = std::move(it->second);
    t.seeded = false;  // the reloaded rule's expected list and learn setting apply
    while (t.entities.size() > impl_->limits.max_absence_entities) {
      auto victim = t.entities.begin();
      t.gone.push_back(AbsenceEntity{it->first, victim->second.tenant, victim->second.values, 0, 0,
                                     false, true});
      t.entities.erase(victim);
      ++stats_.absence_refused;
    }
  }
}

}  // namespace seccloud::soc
