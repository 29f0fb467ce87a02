#include <algorithm>
#include <boost/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "soc/detect.h"
#include "soc/detect_internal.h"
#include "soc/sigma_internal.h"

namespace seccloud::soc {
namespace {

using sigma_internal::FieldTest;
using sigma_internal::Node;
using sigma_internal::Op;
using sigma_internal::ValueTest;

// A necessary condition of a rule: the record's field `field`, lower-cased, contains `literal`.
// A rule whose detection implies that one of its atoms holds is found by scanning the field once
// for every rule literal (Aho-Corasick) instead of being checked against every record of its
// logsource.
struct Atom {
  int field;
  std::string literal;
  bool operator<(const Atom& o) const {
    return field != o.field ? field < o.field : literal < o.literal;
  }
};
using Atoms = std::optional<std::set<Atom>>;

// Literals this short occur in most values; a rule indexed by one is checked almost always.
constexpr size_t kMinLiteral = 3;

Atoms OfValue(int field, const ValueTest& vt) {
  std::string_view lit;
  switch (vt.op) {
    case Op::kEquals:
    case Op::kContains:
    case Op::kStartsWith:
    case Op::kEndsWith:
      lit = vt.lit;
      break;
    case Op::kGlob: {  // the longest literal run between wildcards
      size_t best_pos = 0, best_len = 0;
      for (size_t i = 0; i < vt.mask.size();) {
        if (vt.mask[i] != ' ') {
          ++i;
          continue;
        }
        size_t j = i;
        while (j < vt.mask.size() && vt.mask[j] == ' ') ++j;
        if (j - i > best_len) {
          best_pos = i;
          best_len = j - i;
        }
        i = j;
      }
      lit = std::string_view(vt.lit).substr(best_pos, best_len);
      break;
    }
    default:
      return std::nullopt;
  }
  if (lit.size() < kMinLiteral) return std::nullopt;
  return std::set<Atom>{{field, sigma_internal::Lower(lit)}};
}

Atoms Union(const Atoms& a, const Atoms& b) {
  if (!a || !b) return std::nullopt;
  std::set<Atom> u = *a;
  u.insert(b->begin(), b->end());
  return u;
}

Atoms Best(const Atoms& a, const Atoms& b) {
  if (!a) return b;
  if (!b) return a;
  return a->size() <= b->size() ? a : b;  // fewer literals: fewer records select the rule
}

Atoms OfFieldTest(const FieldTest& ft) {
  // Keyword tests search message and raw: one pseudo-field scanned over both.
  if ((ft.field < 0 && ft.field != sigma_internal::kKeywordField) || ft.values.empty()) {
    return std::nullopt;
  }
  if (ft.all) {  // every value must hold: any one of them is necessary
    Atoms best;
    for (const auto& v : ft.values) best = Best(best, OfValue(ft.field, v));
    return best;
  }
  Atoms u = std::set<Atom>{};
  for (const auto& v : ft.values) {
    u = Union(u, OfValue(ft.field, v));
    if (!u) return u;
  }
  return u;
}

Atoms OfNode(const sigma_internal::CompiledRule& rule, const Node& n) {
  switch (n.kind) {
    case Node::kSelection: {
      Atoms u = std::set<Atom>{};
      for (const auto& group : rule.selections[static_cast<size_t>(n.selection)].any_of) {
        Atoms best;
        for (const auto& ft : group) best = Best(best, OfFieldTest(ft));
        u = Union(u, best);
        if (!u) return u;
      }
      return u;
    }
    case Node::kAnd: {
      Atoms best;
      for (const auto& k : n.kids) best = Best(best, OfNode(rule, k));
      return best;
    }
    case Node::kOr: {
      Atoms u = std::set<Atom>{};
      for (const auto& k : n.kids) {
        u = Union(u, OfNode(rule, k));
        if (!u) return u;
      }
      return u;
    }
    case Node::kNot:
      return std::nullopt;
  }
  return std::nullopt;
}

struct Bucket {
  std::vector<uint32_t> always;  // rules checked for every record of the bucket
  std::vector<int> atom_fields;  // fields whose literals select more rules
};

struct FieldLiterals {
  detect_internal::LiteralMatcher matcher;
  std::vector<std::vector<uint32_t>> rules;  // by pattern id
  uint32_t scanned = 0;                      // generation of the record last scanned
};

}  // namespace

struct DetectionEngine::Impl {
  std::shared_ptr<const RuleSet> rules;
  std::unique_ptr<sigma_internal::MatchContext> ctx;
  std::unique_ptr<Correlator> correlator;
  std::unordered_map<std::string, Bucket> buckets;  // "d:<dataset>", "c:<channel>", "e:<ch>#<id>"
  std::unordered_map<int, FieldLiterals> literals;  // by field id
  std::vector<uint32_t> stamp;
  uint32_t generation = 0;
  std::vector<uint32_t> candidates;
  std::string key;
};

DetectionEngine::DetectionEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DetectionEngine::~DetectionEngine() = default;

Result<std::unique_ptr<DetectionEngine>> DetectionEngine::Create(RuleSet rules,
                                                                 DetectionEngineOptions options) {
  return Create(std::make_shared<const RuleSet>(std::move(rules)), options);
}

Result<std::unique_ptr<DetectionEngine>> DetectionEngine::Create(
    std::shared_ptr<const RuleSet> rules, DetectionEngineOptions options) {
  if (rules == nullptr) return MakeError(Errc::kInvalidArgument, "no rule set");
  if (rules->fields == nullptr && !rules->rules.empty()) {
    return MakeError(Errc::kInvalidArgument, "rule set without its field table");
  }
  static const sigma_internal::FieldTable kEmpty;
  auto impl = std::make_unique<Impl>();
  impl->rules = rules;
  impl->ctx = std::make_unique<sigma_internal::MatchContext>(
      rules->fields != nullptr ? rules->fields.get() : &kEmpty);
  impl->correlator = std::make_unique<Correlator>(rules, options.correlation);
  impl->stamp.assign(rules->rules.size(), 0);
  for (uint32_t i = 0; i < rules->rules.size(); ++i) {
    const SigmaRule& r = rules->rules[i];
    if (r.compiled == nullptr) {
      return MakeError(Errc::kInvalidArgument, "rule " + r.id + " is not compiled");
    }
    if (!r.emit && !impl->correlator->Uses(i)) continue;
    Atoms atoms = OfNode(*r.compiled, r.compiled->root);
    if (atoms && atoms->empty()) atoms.reset();
    if (atoms) {
      for (const auto& a : *atoms) {
        FieldLiterals& fl = impl->literals[a.field];
        const uint32_t id = fl.matcher.Add(a.literal);
        if (fl.rules.size() <= id) fl.rules.resize(id + 1);
        if (fl.rules[id].empty() || fl.rules[id].back() != i) fl.rules[id].push_back(i);
      }
    }
    for (const auto& alt : r.compiled->logsource.alts) {
      std::vector<std::string> keys;
      if (!alt.channel.empty()) {
        if (alt.event_ids.empty()) {
          keys.push_back("c:" + alt.channel);
        } else {
          for (int64_t id : alt.event_ids)
            keys.push_back("e:" + alt.channel + "#" + std::to_string(id));
        }
      } else {
        keys.push_back("d:" + alt.dataset);
      }
      for (const auto& k : keys) {
        Bucket& b = impl->buckets[k];
        if (!atoms) {
          if (b.always.empty() || b.always.back() != i) b.always.push_back(i);
        } else {
          for (const auto& a : *atoms) {
            if (std::find(b.atom_fields.begin(), b.atom_fields.end(), a.field) ==
                b.atom_fields.end()) {
              b.atom_fields.push_back(a.field);
            }
          }
        }
      }
    }
  }
  for (auto& [field, fl] : impl->literals) fl.matcher.Build();
  return std::unique_ptr<DetectionEngine>(new DetectionEngine(std::move(impl)));
}

const RuleSet& DetectionEngine::rules() const { return *impl_->rules; }
const CorrelationStats& DetectionEngine::correlation_stats() const {
  return impl_->correlator->stats();
}

namespace {

// What an alert is about, most specific first: the terminal, the host (endpoint agents write
// host.name, syslog senders host.hostname), the user, and for seccloud's own service events the
// service, so that two services' crashes are two alerts. Only addresses and hosts are terminals.
void EntityOf(const Record& r, Detection* d) {
  struct Candidate {
    const char* path;
    bool terminal;
  };
  static constexpr Candidate kCandidates[] = {{"source.ip", true},
                                              {"host.name", true},
                                              {"host.hostname", true},
                                              {"user.name", false},
                                              {"seccloud.service.name", false}};
  for (const Candidate& c : kCandidates) {
    const auto* v = FindField(r.fields, c.path);
    if (v == nullptr || !v->is_string() || v->get_string().empty()) continue;
    if (d->entity.empty()) d->entity = std::string(c.path) + "=" + std::string(v->get_string());
    if (d->terminal.empty() && c.terminal) d->terminal = v->get_string();
  }
}

}  // namespace

void DetectionEngine::Process(const Record& record, std::vector<Detection>* out) {
  Impl& m = *impl_;
  ++stats_.records;
  auto& ctx = *m.ctx;
  ctx.Reset(record);
  if (++m.generation == 0) {
    std::fill(m.stamp.begin(), m.stamp.end(), 0);
    for (auto& [f, fl] : m.literals) fl.scanned = 0;
    m.generation = 1;
  }
  m.candidates.clear();
  auto add = [&](const std::vector<uint32_t>& list) {
    for (uint32_t i : list) {
      if (m.stamp[i] != m.generation) {
        m.stamp[i] = m.generation;
        m.candidates.push_back(i);
      }
    }
  };
  auto visit = [&](const std::string& key) {
    auto it = m.buckets.find(key);
    if (it == m.buckets.end()) return;
    add(it->second.always);
    for (int f : it->second.atom_fields) {
      FieldLiterals& fl = m.literals.at(f);
      if (fl.scanned == m.generation) continue;
      fl.scanned = m.generation;
      auto on_match = [&](uint32_t pattern) { add(fl.rules[pattern]); };
      if (f == sigma_internal::kKeywordField) {
        const auto& msg = ctx.Get(sigma_internal::kMessageField);
        if (msg.present && !msg.is_null) fl.matcher.Scan(msg.lower, on_match);
        fl.matcher.Scan(ctx.Get(sigma_internal::kRawField).lower, on_match);
        continue;
      }
      const auto& v = ctx.Get(f);
      if (!v.present || v.is_null) continue;
      fl.matcher.Scan(v.lower, on_match);
    }
  };
  std::string& k = m.key;
  const std::string_view ds = ctx.dataset();
  if (!ds.empty()) {
    k.assign("d:").append(ds);
    visit(k);
  }
  const std::string_view ch = ctx.channel_lower();
  if (!ch.empty()) {
    k.assign("c:").append(ch);
    visit(k);
    if (ctx.event_id() >= 0) {
      k.assign("e:").append(ch).append("#").append(std::to_string(ctx.event_id()));
      visit(k);
    }
  }
  if (m.candidates.empty()) return;
  std::sort(m.candidates.begin(), m.candidates.end());
  for (uint32_t i : m.candidates) {
    const SigmaRule& rule = m.rules->rules[i];
    ++stats_.rules_checked;
    if (!ctx.Admits(rule.compiled->logsource) || !ctx.Matches(*rule.compiled)) continue;
    ++stats_.matches;
    if (rule.emit) {
      Detection d;
      d.rule_id = rule.id;
      d.rule_title = rule.title;
      d.ruleset = "sigma";
      d.level = rule.level;
      d.tags = rule.tags;
      d.time_ms = record.time_ms;
      d.tenant = record.tenant;
      if (d.tenant.empty()) {
        if (const auto* t = FindField(record.fields, "tenant.id"); t != nullptr && t->is_string()) {
          d.tenant = t->get_string();
        }
      }
      EntityOf(record, &d);
      d.evidence.push_back(record.seq);
      d.context["rule.file"] = rule.file;
      if (!rule.status.empty()) d.context["sigma.status"] = rule.status;
      out->push_back(std::move(d));
      ++stats_.detections;
    }
    const size_t before = out->size();
    m.correlator->OnMatch(i, ctx, out);
    stats_.detections += out->size() - before;
  }
}

void DetectionEngine::Flush(int64_t now_ms, std::vector<Detection>* out) {
  const size_t before = out->size();
  impl_->correlator->Flush(now_ms, out);
  stats_.detections += out->size() - before;
}

std::vector<AbsenceEntity> DetectionEngine::TakeAbsenceChanges(bool all) {
  return impl_->correlator->TakeAbsenceChanges(all);
}

void DetectionEngine::RestoreAbsence(const std::vector<AbsenceEntity>& entities) {
  impl_->correlator->RestoreAbsence(entities);
}

std::unique_ptr<CorrelationState> DetectionEngine::TakeState() {
  return impl_->correlator->TakeState();
}

void DetectionEngine::RestoreState(std::unique_ptr<CorrelationState> state) {
  impl_->correlator->RestoreState(std::move(state));
}

}  // namespace seccloud::soc
