#pragma once
// The detection engine (R18–R20): runs every loaded Sigma rule and correlation over each record
// after the store appended it (Record::seq set), and hands Detections to alerting.
//
// Prefilter: rules are indexed by what their logsource admits (event.dataset, or Windows channel
// and EventID), so a record is checked only against the rules that can see it. Within that, every
// string test of every rule is a shared predicate decided by one multi-pattern pass per field
// (sigma_eval.h), and a rule is evaluated only when each clause of its necessary condition has a
// predicate that holds; evaluation then reads predicates instead of comparing strings.
//
// Reload: build a new engine from the new RuleSet and carry correlation windows over with
// TakeState()/RestoreState() (windows of correlations whose definition changed are dropped).
//
// Not thread-safe: one engine per pipeline thread; the RuleSet is shared read-only.

#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "soc/correlation.h"
#include "soc/detection.h"
#include "soc/field_view.h"
#include "soc/record.h"
#include "soc/sigma.h"

namespace seccloud::soc {

struct DetectionEngineOptions {
  CorrelationLimits correlation;
};

struct DetectionEngineStats {
  uint64_t records = 0;
  uint64_t rules_checked = 0;  // rule evaluations after the prefilter
  uint64_t matches = 0;        // base-rule matches (emitted or feeding correlations)
  uint64_t detections = 0;
};

class DetectionEngine {
 public:
  static Result<std::unique_ptr<DetectionEngine>> Create(std::shared_ptr<const RuleSet> rules,
                                                         DetectionEngineOptions options = {});
  static Result<std::unique_ptr<DetectionEngine>> Create(RuleSet rules,
                                                         DetectionEngineOptions options = {});
  ~DetectionEngine();

  // Appends to *out a Detection per emitting rule that matches `record` and per correlation the
  // record completes. Plain rules: evidence {record.seq}, entity the first of source.ip,
  // host.name, host.hostname, user.name, seccloud.service.name as "name=value", terminal the
  // first of source.ip, host.name, host.hostname.
  void Process(const Record& record, std::vector<Detection>* out);
  // The same, reading the record through `view` (Reset on it by the caller): a caller that has
  // other readers of the record (intel's MatchRecord, its own lookups) gives them one view, so
  // the root index a pending record's lookups build is built once (field_view.h).
  void Process(FieldView& view, std::vector<Detection>* out);

  // Judges correlation windows (lt/lte/eq) that ended at or before now_ms; call periodically.
  void Flush(int64_t now_ms, std::vector<Detection>* out);

  // seccloud-absence entities to persist / restored after a restart (see Correlator).
  std::vector<AbsenceEntity> TakeAbsenceChanges(bool all = false);
  void RestoreAbsence(const std::vector<AbsenceEntity>& entities);

  std::unique_ptr<CorrelationState> TakeState();
  void RestoreState(std::unique_ptr<CorrelationState> state);

  const RuleSet& rules() const;
  const DetectionEngineStats& stats() const { return stats_; }
  const CorrelationStats& correlation_stats() const;
  // The bytes of the correlation windows, as CorrelationLimits::max_total_state_bytes counts them.
  size_t correlation_state_bytes() const;

 private:
  struct Impl;
  explicit DetectionEngine(std::unique_ptr<Impl> impl);
  void Run(std::vector<Detection>* out);  // Process on the context Reset on the record
  std::unique_ptr<Impl> impl_;
  DetectionEngineStats stats_;
};

}  // namespace seccloud::soc
