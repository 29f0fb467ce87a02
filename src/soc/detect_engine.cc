#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <unordered_map>

#include "soc/detect.h"
#include "soc/sigma_eval.h"
#include "soc/sigma_internal.h"

namespace seccloud::soc {
namespace {

// The rules a record of one logsource key can see: those evaluated for every such record, and
// the fields whose scans decide the other rules' prefilter clauses.
struct Bucket {
  std::vector<uint32_t> always;
  std::vector<uint32_t> scans;  // FieldScan indexes
};

// Looked up by the record's string_view itself: no key string is built per record.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// The buckets of one Windows channel: for every event of the channel, and by event id.
struct ChannelBuckets {
  std::unique_ptr<Bucket> any;  // null: no rule names the channel without event ids
  std::unordered_map<int64_t, Bucket> by_event_id;
};

}  // namespace

struct DetectionEngine::Impl {
  std::shared_ptr<const RuleSet> rules;
  std::unique_ptr<sigma_internal::MatchContext> ctx;
  std::unique_ptr<Correlator> correlator;
  sigma_internal::ProgramSet programs;
  std::unique_ptr<sigma_internal::ProgramEvaluator> eval;
  // The bucket of LogsourceKeys' "d:<dataset>", "c:<channel>" and "e:<channel>#<id>".
  StringMap<Bucket> by_dataset;
  StringMap<ChannelBuckets> by_channel;
  std::vector<uint32_t> full_mask;              // by rule: every prefilter clause's bit
  std::vector<uint32_t> stamp;                  // by rule: generation when made a candidate
  std::vector<uint32_t> mask_generation, mask;  // by rule: clauses seen to hold this record
  uint32_t generation = 0;
  std::vector<uint32_t> candidates;
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
  const size_t n = rules->rules.size();
  std::vector<bool> wanted(n, false);
  for (uint32_t i = 0; i < n; ++i) {
    const SigmaRule& r = rules->rules[i];
    if (r.compiled == nullptr) {
      return MakeError(Errc::kInvalidArgument, "rule " + r.id + " is not compiled");
    }
    wanted[i] = r.emit || impl->correlator->Uses(i);
  }
  impl->programs = sigma_internal::ProgramSet::Build(*rules, wanted);
  const auto& ps = impl->programs;
  impl->eval = std::make_unique<sigma_internal::ProgramEvaluator>(&impl->programs, impl->ctx.get());
  impl->stamp.assign(n, 0);
  impl->mask_generation.assign(n, 0);
  impl->mask.assign(n, 0);
  impl->full_mask.assign(n, 0);
  for (uint32_t i = 0; i < n; ++i) {
    if (!wanted[i]) continue;
    const sigma_internal::RuleProgram& prog = ps.programs[i];
    impl->full_mask[i] =
        prog.clause_count >= 32 ? UINT32_MAX : (uint32_t{1} << prog.clause_count) - 1;
    for (const auto& alt : rules->rules[i].compiled->logsource.alts) {
      // The buckets of LogsourceKeys(alt), in its order.
      std::vector<Bucket*> alt_buckets;
      if (alt.channel.empty()) {
        alt_buckets.push_back(&impl->by_dataset[alt.dataset]);
      } else if (alt.event_ids.empty()) {
        auto& any = impl->by_channel[alt.channel].any;
        if (any == nullptr) any = std::make_unique<Bucket>();
        alt_buckets.push_back(any.get());
      } else {
        ChannelBuckets& c = impl->by_channel[alt.channel];
        for (int64_t id : alt.event_ids) alt_buckets.push_back(&c.by_event_id[id]);
      }
      for (Bucket* bucket : alt_buckets) {
        Bucket& b = *bucket;
        if (prog.clause_count == 0) {
          if (b.always.empty() || b.always.back() != i) b.always.push_back(i);
          continue;
        }
        for (uint32_t c = prog.clause_begin; c < prog.clause_begin + prog.clause_count; ++c) {
          for (uint32_t j = ps.clause_preds_begin[c]; j < ps.clause_preds_begin[c + 1]; ++j) {
            const int scan = ps.preds[ps.clause_preds[j]].scan;
            if (std::find(b.scans.begin(), b.scans.end(), static_cast<uint32_t>(scan)) ==
                b.scans.end()) {
              b.scans.push_back(static_cast<uint32_t>(scan));
            }
          }
        }
      }
    }
  }
  return std::unique_ptr<DetectionEngine>(new DetectionEngine(std::move(impl)));
}

const RuleSet& DetectionEngine::rules() const { return *impl_->rules; }
const CorrelationStats& DetectionEngine::correlation_stats() const {
  return impl_->correlator->stats();
}
size_t DetectionEngine::correlation_state_bytes() const { return impl_->correlator->state_bytes(); }

namespace {

// What an alert is about, most specific first: the terminal, the host (endpoint agents write
// host.name, syslog senders host.hostname), the user, and for seccloud's own service events the
// service, so that two services' crashes are two alerts. Only addresses and hosts are terminals.
void EntityOf(FieldView& fields, Detection* d) {
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
    const std::string_view v = fields.String(c.path);
    if (v.empty()) continue;
    if (d->entity.empty()) d->entity = std::string(c.path) + "=" + std::string(v);
    if (d->terminal.empty() && c.terminal) d->terminal = v;
  }
}

}  // namespace

void DetectionEngine::Process(const Record& record, std::vector<Detection>* out) {
  impl_->ctx->Reset(record);
  Run(out);
}

void DetectionEngine::Process(FieldView& view, std::vector<Detection>* out) {
  impl_->ctx->Reset(view);
  Run(out);
}

void DetectionEngine::Run(std::vector<Detection>* out) {
  Impl& m = *impl_;
  ++stats_.records;
  auto& ctx = *m.ctx;
  const Record& record = ctx.record();
  m.eval->Reset();
  if (++m.generation == 0) {
    std::fill(m.stamp.begin(), m.stamp.end(), 0);
    std::fill(m.mask_generation.begin(), m.mask_generation.end(), 0);
    m.generation = 1;
  }
  m.candidates.clear();
  auto visit = [&](const Bucket& b) {
    for (uint32_t i : b.always) {
      if (m.stamp[i] != m.generation) {
        m.stamp[i] = m.generation;
        m.candidates.push_back(i);
      }
    }
    for (uint32_t s : b.scans) m.eval->Scan(s);
  };
  // A rule set without dataset (or channel) buckets has nothing to look up by the record's
  // dataset (or channel): the lookups, ~430 instructions a record, are left to Admits, which
  // makes them lazily for the candidates that need them. channel_lower() fills the dataset too,
  // so only a rule set with neither kind of bucket (no rules) saves both lookups.
  const std::string_view ds = m.by_dataset.empty() ? std::string_view() : ctx.dataset();
  if (!ds.empty()) {
    if (auto it = m.by_dataset.find(ds); it != m.by_dataset.end()) visit(it->second);
  }
  const std::string_view ch = m.by_channel.empty() ? std::string_view() : ctx.channel_lower();
  if (!ch.empty()) {
    const int64_t event_id = ctx.event_id();
    if (auto it = m.by_channel.find(ch); it != m.by_channel.end()) {
      const ChannelBuckets& c = it->second;
      if (c.any != nullptr) visit(*c.any);
      if (event_id >= 0) {
        if (auto e = c.by_event_id.find(event_id); e != c.by_event_id.end()) visit(e->second);
      }
    }
  }
  // A rule is a candidate once each of its clauses has a predicate that holds. Rules of other
  // logsources whose fields were scanned may become candidates too; Admits turns them away.
  const auto& ps = m.programs;
  for (uint32_t p : m.eval->true_preds()) {
    for (uint32_t t = ps.trigger_begin[p]; t < ps.trigger_begin[p + 1]; ++t) {
      const auto& trig = ps.triggers[t];
      const uint32_t r = trig.rule;
      if (m.mask_generation[r] != m.generation) {
        m.mask_generation[r] = m.generation;
        m.mask[r] = 0;
      }
      m.mask[r] |= trig.bits;
      if (m.mask[r] == m.full_mask[r] && m.stamp[r] != m.generation) {
        m.stamp[r] = m.generation;
        m.candidates.push_back(r);
      }
    }
  }
  if (m.candidates.empty()) return;
  std::sort(m.candidates.begin(), m.candidates.end());
  for (uint32_t i : m.candidates) {
    const SigmaRule& rule = m.rules->rules[i];
    ++stats_.rules_checked;
    if (!ctx.Admits(rule.compiled->logsource) || !m.eval->Matches(i)) continue;
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
        if (const FieldRef t = ctx.view().Find("tenant.id"); t.is_string()) d.tenant = t.str();
      }
      EntityOf(ctx.view(), &d);
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
