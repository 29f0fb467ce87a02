// The DetectionEngine's predicate programs (see sigma_eval.h).

#include "soc/sigma_eval.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

namespace seccloud::soc::sigma_internal {
namespace {

bool IsScanOp(Op op) {
  return op == Op::kEquals || op == Op::kContains || op == Op::kStartsWith || op == Op::kEndsWith;
}

// Literals this short occur in most values: a clause that needs one holds almost always.
constexpr size_t kMinSelectiveLiteral = 3;

using Clause = std::vector<uint32_t>;  // predicates, sorted; one must hold
using Cnf = std::vector<Clause>;       // every clause must hold; none: no constraint known

// Rules whose logsources share a bucket key, transitively. A record's buckets usually lie in
// one such group; a record can meet two (a Windows event visits both its channel's bucket and
// its channel-and-event-id bucket, which share a group only when some rule names both), and
// then each group's keywords are scanned — correct, as every bucket lists the scans its rules
// need, only not a single pass.
std::vector<uint32_t> LogsourceGroups(const RuleSet& set, const std::vector<bool>& wanted) {
  const size_t n = set.rules.size();
  std::vector<uint32_t> parent(n);
  for (uint32_t i = 0; i < n; ++i) parent[i] = i;
  auto find = [&](uint32_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  std::unordered_map<std::string, uint32_t> first_rule;  // bucket key → a rule naming it
  for (uint32_t i = 0; i < n; ++i) {
    if (i >= wanted.size() || !wanted[i] || set.rules[i].compiled == nullptr) continue;
    for (const auto& alt : set.rules[i].compiled->logsource.alts) {
      for (const auto& key : LogsourceKeys(alt)) {
        auto [it, inserted] = first_rule.emplace(key, i);
        if (!inserted) parent[find(i)] = find(it->second);
      }
    }
  }
  std::vector<uint32_t> group(n);
  for (uint32_t i = 0; i < n; ++i) group[i] = find(i);
  return group;
}

class Builder {
 public:
  Builder(const RuleSet& set, const std::vector<bool>& wanted, ProgramSet* out)
      : set_(set), out_(*out), groups_(LogsourceGroups(set, wanted)) {}

  void AddRule(uint32_t index) {
    const CompiledRule& rule = *set_.rules[index].compiled;
    RuleProgram& prog = out_.programs[index];
    group_ = groups_[index];
    prog.wanted = true;
    Cnf cnf;
    prog.root = OfNode(rule, rule.root, &cnf);
    // The cheapest clauses first; more clauses only make the prefilter sharper, but each costs a
    // bit per rule and its fields must be scanned.
    for (auto& c : cnf) {
      std::sort(c.begin(), c.end());
      c.erase(std::unique(c.begin(), c.end()), c.end());
    }
    std::sort(cnf.begin(), cnf.end());
    cnf.erase(std::unique(cnf.begin(), cnf.end()), cnf.end());
    std::stable_sort(cnf.begin(), cnf.end(),
                     [&](const Clause& a, const Clause& b) { return Cost(a) < Cost(b); });
    // Keyword clauses need the whole raw record scanned (a Windows event is ~1.5 KB of JSON):
    // keep them only for rules with no other clause. The rule's condition still decides them.
    auto on_raw = [&](const Clause& c) {
      return std::any_of(c.begin(), c.end(),
                         [&](uint32_t p) { return out_.preds[p].field == kKeywordField; });
    };
    if (!std::all_of(cnf.begin(), cnf.end(), on_raw)) {
      cnf.erase(std::remove_if(cnf.begin(), cnf.end(), on_raw), cnf.end());
    }
    if (cnf.size() > kMaxClausesPerRule) cnf.resize(kMaxClausesPerRule);
    prog.clause_begin = static_cast<uint32_t>(out_.clause_preds_begin.size() - 1);
    prog.clause_count = static_cast<uint32_t>(cnf.size());
    for (size_t b = 0; b < cnf.size(); ++b) {
      for (uint32_t p : cnf[b]) {
        out_.clause_preds.push_back(p);
        auto& list = triggers_[p];
        const uint32_t bit = uint32_t{1} << b;
        if (!list.empty() && list.back().rule == index) {
          list.back().bits |= bit;
        } else {
          list.push_back({index, bit});
        }
      }
      out_.clause_preds_begin.push_back(static_cast<uint32_t>(out_.clause_preds.size()));
    }
  }

  void Finish() {
    for (auto& scan : out_.scans) {
      const auto& sides = side_hits_[static_cast<size_t>(&scan - out_.scans.data())];
      FieldScan::Side* s[2] = {&scan.lower, &scan.cased};
      for (int k = 0; k < 2; ++k) {
        FieldScan::Side& side = *s[k];
        side.matcher.Build(/*fold_ascii_case=*/k == 0);
        side.hit_begin.assign(1, 0);
        for (const auto& hits : sides[k]) {
          side.hits.insert(side.hits.end(), hits.begin(), hits.end());
          side.hit_begin.push_back(static_cast<uint32_t>(side.hits.size()));
        }
      }
    }
    out_.trigger_begin.assign(1, 0);
    triggers_.resize(out_.preds.size());
    for (const auto& list : triggers_) {
      out_.triggers.insert(out_.triggers.end(), list.begin(), list.end());
      out_.trigger_begin.push_back(static_cast<uint32_t>(out_.triggers.size()));
    }
  }

 private:
  uint32_t Cost(const Clause& c) const {
    uint32_t cost = 0;
    for (uint32_t p : c) {
      const uint32_t n = out_.preds[p].literal_bytes;
      cost += n < kMinSelectiveLiteral ? 16 : n < 5 ? 2 : 1;
    }
    return cost;
  }

  // Keyword tests scan the whole raw text: each logsource group gets a scan of its own, so a
  // record's automaton holds only the keywords of rules that can apply to it (a Windows event's
  // raw JSON is not run through the Linux and web rules' keywords, nor their larger table).
  // Other fields' scans are shared by all rules.
  uint64_t ScanKey(int field) const {
    const uint64_t f = static_cast<uint32_t>(field);
    return field == kKeywordField ? f | uint64_t{group_} << 32 : f;
  }

  uint32_t ScanOf(int field) {
    auto [it, inserted] =
        scan_index_.emplace(ScanKey(field), static_cast<uint32_t>(out_.scans.size()));
    if (inserted) {
      out_.scans.emplace_back();
      out_.scans.back().field = field;
      side_hits_.emplace_back();
    }
    return it->second;
  }

  uint32_t NewPred(Predicate p) {
    out_.preds.push_back(p);
    if (triggers_.size() < out_.preds.size()) triggers_.resize(out_.preds.size());
    return static_cast<uint32_t>(out_.preds.size() - 1);
  }

  // A string test decided by the field's automaton; the same test in many rules is one predicate.
  uint32_t ScanPred(int field, Op op, bool cased, std::string_view lit, const ValueTest* vt) {
    key_.assign("s");
    key_.append(std::to_string(ScanKey(field))).push_back('\x1f');
    key_.push_back(static_cast<char>(op));
    key_.push_back(cased ? 'c' : 'l');
    key_.append(lit);
    auto it = pred_index_.find(key_);
    if (it != pred_index_.end()) return it->second;
    const uint32_t scan = ScanOf(field);
    const uint32_t id = NewPred({.field = field,
                                 .scan = static_cast<int>(scan),
                                 .test = vt,
                                 .literal_bytes = static_cast<uint32_t>(lit.size())});
    pred_index_.emplace(key_, id);
    FieldScan::Side& side = cased ? out_.scans[scan].cased : out_.scans[scan].lower;
    auto& hits = side_hits_[scan][cased ? 1 : 0];
    const uint32_t pattern = side.matcher.Add(lit);
    if (side.length.size() <= pattern) side.length.resize(pattern + 1);
    side.length[pattern] = static_cast<uint32_t>(lit.size());
    if (hits.size() <= pattern) hits.resize(pattern + 1);
    hits[pattern].push_back({id, op});
    return id;
  }

  uint32_t DirectPred(int field, const ValueTest& vt) {
    // Tests whose meaning is their text are shared; the others (regex, CIDR, numbers, fieldref)
    // are few and kept per rule.
    key_.assign("d");
    key_.append(std::to_string(field)).push_back('\x1f');
    key_.push_back(static_cast<char>(vt.op));
    key_.push_back(vt.cased ? 'c' : 'l');
    switch (vt.op) {
      case Op::kEquals:
      case Op::kContains:
      case Op::kStartsWith:
      case Op::kEndsWith:
      case Op::kExists:
      case Op::kNotExists:
      case Op::kNull:
        key_.append(vt.lit);
        break;
      case Op::kGlob:
        key_.append(std::to_string(vt.lit.size())).push_back(':');
        key_.append(vt.lit).append(vt.mask);
        break;
      default: {
        char buf[2 * sizeof(void*) + 4];
        std::snprintf(buf, sizeof buf, "%p", static_cast<const void*>(&vt));
        key_.append(buf);
        break;
      }
    }
    auto it = pred_index_.find(key_);
    if (it != pred_index_.end()) return it->second;
    const uint32_t id = NewPred({.field = field, .scan = -1, .test = &vt});
    pred_index_.emplace(key_, id);
    return id;
  }

  // The predicate for a rule's test, and what it implies for the prefilter.
  uint32_t PredOf(int field, const ValueTest& vt, Cnf* cnf) {
    if (IsScanOp(vt.op) && !vt.lit.empty()) {
      const uint32_t p = ScanPred(field, vt.op, vt.cased, vt.lit, &vt);
      cnf->push_back({p});
      return p;
    }
    if (vt.op == Op::kGlob) {  // the longest literal run between wildcards is contained
      size_t best_pos = 0, best_len = 0;
      for (size_t i = 0; i < vt.mask.size();) {
        if (vt.mask[i] != ' ') {
          ++i;
          continue;
        }
        size_t j = i;
        while (j < vt.mask.size() && vt.mask[j] == ' ') ++j;
        if (j - i > best_len) best_pos = i, best_len = j - i;
        i = j;
      }
      if (best_len >= kMinSelectiveLiteral) {
        cnf->push_back({ScanPred(field, Op::kContains, vt.cased,
                                 std::string_view(vt.lit).substr(best_pos, best_len), nullptr)});
      }
    }
    return DirectPred(field, vt);
  }

  // OR of alternatives: one clause, the union of each alternative's cheapest clause; nothing
  // when an alternative has no clause. A single alternative keeps all of its clauses.
  void OrInto(const std::vector<Cnf>& alts, Cnf* cnf) {
    if (alts.empty()) return;
    if (alts.size() == 1) {
      cnf->insert(cnf->end(), alts.front().begin(), alts.front().end());
      return;
    }
    Clause u;
    for (const Cnf& a : alts) {
      if (a.empty()) return;
      const Clause* best = &a.front();
      for (const Clause& c : a) {
        if (Cost(c) < Cost(*best)) best = &c;
      }
      u.insert(u.end(), best->begin(), best->end());
    }
    cnf->push_back(std::move(u));
  }

  uint32_t Combine(Expr::Kind kind, const std::vector<uint32_t>& kids) {
    if (kids.size() == 1 && kind != Expr::kNot) return kids.front();
    Expr e;
    e.kind = kind;
    e.arg = static_cast<uint32_t>(out_.kids.size());
    e.count = static_cast<uint32_t>(kids.size());
    out_.kids.insert(out_.kids.end(), kids.begin(), kids.end());
    out_.exprs.push_back(e);
    return static_cast<uint32_t>(out_.exprs.size() - 1);
  }

  uint32_t PredExpr(uint32_t pred) {
    out_.exprs.push_back({.kind = Expr::kPred, .arg = pred});
    return static_cast<uint32_t>(out_.exprs.size() - 1);
  }

  // Mirrors MatchContext::EvalFieldTest. A |neq item is NOT of the item: what the item needs says
  // nothing about its negation, so it adds no clause (a rule of only |neq items is evaluated for
  // every record of its logsource), and its predicates are decided when the condition asks.
  uint32_t OfFieldTest(const FieldTest& ft, Cnf* cnf) {
    if (ft.negated) {
      Cnf ignored;
      return Combine(Expr::kNot, {OfFieldValues(ft, &ignored)});
    }
    return OfFieldValues(ft, cnf);
  }

  uint32_t OfFieldValues(const FieldTest& ft, Cnf* cnf) {
    std::vector<uint32_t> kids;
    if (ft.all) {
      for (const auto& vt : ft.values) kids.push_back(PredExpr(PredOf(ft.field, vt, cnf)));
      // |all over no values: false for a field, true for keywords (std::all_of of nothing).
      if (kids.empty()) return Combine(ft.field == kKeywordField ? Expr::kAnd : Expr::kOr, kids);
      return Combine(Expr::kAnd, kids);
    }
    std::vector<Cnf> alts;
    for (const auto& vt : ft.values) {
      alts.emplace_back();
      kids.push_back(PredExpr(PredOf(ft.field, vt, &alts.back())));
    }
    OrInto(alts, cnf);
    return Combine(Expr::kOr, kids);
  }

  uint32_t OfNode(const CompiledRule& rule, const Node& n, Cnf* cnf) {
    std::vector<uint32_t> kids;
    switch (n.kind) {
      case Node::kSelection: {
        std::vector<Cnf> alts;
        for (const auto& group : rule.selections[static_cast<size_t>(n.selection)].any_of) {
          alts.emplace_back();
          std::vector<uint32_t> tests;
          for (const auto& ft : group) tests.push_back(OfFieldTest(ft, &alts.back()));
          kids.push_back(Combine(Expr::kAnd, tests));
        }
        OrInto(alts, cnf);
        return Combine(Expr::kOr, kids);
      }
      case Node::kAnd:
        for (const auto& k : n.kids) kids.push_back(OfNode(rule, k, cnf));
        return Combine(Expr::kAnd, kids);
      case Node::kOr: {
        std::vector<Cnf> alts;
        for (const auto& k : n.kids) {
          alts.emplace_back();
          kids.push_back(OfNode(rule, k, &alts.back()));
        }
        OrInto(alts, cnf);
        return Combine(Expr::kOr, kids);
      }
      case Node::kNot: {
        Cnf ignored;  // a necessary condition of X says nothing about NOT X
        kids.push_back(OfNode(rule, n.kids.front(), &ignored));
        return Combine(Expr::kNot, kids);
      }
    }
    return Combine(Expr::kOr, kids);  // unreachable: false
  }

  const RuleSet& set_;
  ProgramSet& out_;
  std::string key_;
  std::unordered_map<std::string, uint32_t> pred_index_;
  std::unordered_map<uint64_t, uint32_t> scan_index_;  // by ScanKey
  std::vector<uint32_t> groups_;                       // by rule: its logsource group
  uint32_t group_ = 0;                                 // the rule being added's group
  std::vector<std::array<std::vector<std::vector<ScanHit>>, 2>> side_hits_;  // by scan, side
  std::vector<std::vector<ProgramSet::Trigger>> triggers_;                   // by predicate
};

}  // namespace

size_t MessageInRaw(std::string_view raw, std::string_view message) {
  // Any occurrence will do: the window's bytes are the message's, so the hits inside it are the
  // message's own. A syslog line's message is its tail: one compare instead of a search. An
  // empty message is at 0, as memmem has it (and neither gets a pointer that may be null).
  if (message.empty()) return 0;
  if (message.size() <= raw.size() && std::memcmp(raw.data() + (raw.size() - message.size()),
                                                  message.data(), message.size()) == 0) {
    return raw.size() - message.size();
  }
  // memmem, not string_view::find: glibc's is linear, find is O(|raw| × |message|) on a
  // hostile record (a 21,000-byte message of one letter inside 42,000 of it: 10 ms).
  const void* hit = ::memmem(raw.data(), raw.size(), message.data(), message.size());
  if (hit == nullptr) return std::string_view::npos;
  return static_cast<size_t>(static_cast<const char*>(hit) - raw.data());
}

std::vector<std::string> LogsourceKeys(const LogsourceAlt& alt) {
  std::vector<std::string> keys;
  if (alt.channel.empty()) {
    keys.push_back("d:" + alt.dataset);
  } else if (alt.event_ids.empty()) {
    keys.push_back("c:" + alt.channel);
  } else {
    for (int64_t id : alt.event_ids) keys.push_back("e:" + alt.channel + "#" + std::to_string(id));
  }
  return keys;
}

ProgramSet ProgramSet::Build(const RuleSet& set, const std::vector<bool>& wanted) {
  ProgramSet out;
  out.programs.resize(set.rules.size());
  Builder b(set, wanted, &out);
  for (uint32_t i = 0; i < set.rules.size(); ++i) {
    if (i < wanted.size() && wanted[i] && set.rules[i].compiled != nullptr) b.AddRule(i);
  }
  b.Finish();
  return out;
}

ProgramEvaluator::ProgramEvaluator(const ProgramSet* set, MatchContext* ctx)
    : set_(set),
      ctx_(ctx),
      scanned_(set->scans.size(), 0),
      decided_(set->preds.size(), 0),
      holds_(set->preds.size(), 0) {}

void ProgramEvaluator::Reset() {
  if (++generation_ == 0) {  // wrapped: stamps of 0 must not look current
    std::fill(scanned_.begin(), scanned_.end(), 0);
    std::fill(decided_.begin(), decided_.end(), 0);
    std::fill(holds_.begin(), holds_.end(), 0);
    generation_ = 1;
  }
  true_preds_.clear();
}

void ProgramEvaluator::ScanText(const FieldScan::Side& side, std::string_view text,
                                size_t win_begin, size_t win_end) {
  const size_t n = text.size();
  const bool window = win_end != SIZE_MAX;
  // Whether the occurrence [start, end) of a test's literal satisfies the test on the text
  // [begin, stop).
  auto satisfies = [](Op op, size_t start, size_t end, size_t begin, size_t stop) {
    switch (op) {
      case Op::kContains:
        return true;
      case Op::kStartsWith:
        return start == begin;
      case Op::kEndsWith:
        return end == stop;
      default:  // kEquals
        return start == begin && end == stop;
    }
  };
  side.matcher.Scan(text, [&](uint32_t pattern, size_t end) {
    const size_t start = end - side.length[pattern];
    const bool in_window = window && start >= win_begin && end <= win_end;
    for (uint32_t k = side.hit_begin[pattern]; k < side.hit_begin[pattern + 1]; ++k) {
      const ScanHit& h = side.hits[k];
      if (holds_[h.pred] == generation_) continue;
      if (satisfies(h.op, start, end, 0, n) ||
          (in_window && satisfies(h.op, start, end, win_begin, win_end))) {
        holds_[h.pred] = generation_;
        true_preds_.push_back(h.pred);
      }
    }
  });
}

void ProgramEvaluator::Scan(uint32_t scan) {
  if (scanned_[scan] == generation_) return;
  scanned_[scan] = generation_;
  const FieldScan& fs = set_->scans[scan];
  // String tests never hold on an absent or null value (MatchContext::EvalValue).
  auto usable = [](const MatchContext::Value& v) { return v.present && !v.is_null; };
  auto run = [&](const MatchContext::Value& v) {
    if (!usable(v)) return;
    ScanSide(fs.lower, v.text);  // folds ASCII case itself: no lower-cased copy needed
    ScanSide(fs.cased, v.text);
  };
  if (fs.field != kKeywordField) {
    run(ctx_->Get(fs.field));
    return;
  }
  // Keywords look in the message and in the raw text. A message is most often a piece of the
  // raw text (a syslog line's text after its header): then one pass over the raw text decides
  // both, the message's occurrences being those inside its copy.
  const MatchContext::Value& message = ctx_->Get(kMessageField);
  const MatchContext::Value& raw = ctx_->Get(kRawField);
  if (usable(message) && usable(raw)) {
    if (const size_t at = MessageInRaw(raw.text, message.text); at != std::string_view::npos) {
      const size_t end = at + message.text.size();
      ScanSide(fs.lower, raw.text, at, end);
      ScanSide(fs.cased, raw.text, at, end);
      return;
    }
  }
  run(message);
  run(raw);
}

bool ProgramEvaluator::Holds(uint32_t pred) {
  const Predicate& p = set_->preds[pred];
  if (p.scan >= 0) {
    Scan(static_cast<uint32_t>(p.scan));
  } else if (decided_[pred] != generation_) {
    decided_[pred] = generation_;
    if (ctx_->TestValue(p.field, *p.test)) holds_[pred] = generation_;
  }
  return holds_[pred] == generation_;
}

bool ProgramEvaluator::Eval(uint32_t expr) {
  const Expr& e = set_->exprs[expr];
  switch (e.kind) {
    case Expr::kPred:
      return Holds(e.arg);
    case Expr::kAnd:
      for (uint32_t i = 0; i < e.count; ++i) {
        if (!Eval(set_->kids[e.arg + i])) return false;
      }
      return true;
    case Expr::kOr:
      for (uint32_t i = 0; i < e.count; ++i) {
        if (Eval(set_->kids[e.arg + i])) return true;
      }
      return false;
    case Expr::kNot:
      return !Eval(set_->kids[e.arg]);
  }
  return false;
}

}  // namespace seccloud::soc::sigma_internal
