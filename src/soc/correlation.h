#pragma once
// Sigma correlation rules at run time (R18: correlate across devices; R19: threshold rules).
//
// Semantics, per correlation and group (the group-by values, always within one tenant: records of
// different tenants never share a group, as private addresses repeat across tenants):
//  - event_count / value_count with gt/gte, temporal, temporal_ordered: a sliding window of
//    `timespan` ending at the newest event's time; the correlation fires as soon as its condition
//    holds, then the group's window is emptied, so it fires once per window, not per extra event.
//  - event_count / value_count with lt/lte/eq: tumbling windows opened by a group's first event;
//    a window is judged when it closes (a later event of the group, or Flush()). A group with no
//    event at all never exists, so "lt" reads "some, but fewer than N".
// Time is the records' time (Record::time_ms), not arrival: events may arrive out of order and are
// placed by their time; an event older than the group's newest minus timespan (it could only
// belong to a window already judged or expired) is dropped and counted in stats().late_events.
// State is bounded: at most max_groups groups per correlation (the least recently updated is
// evicted, counted) and max_events_per_group events per group (the oldest dropped, counted).
//
// Not thread-safe; one per DetectionEngine.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "soc/detection.h"
#include "soc/record.h"
#include "soc/sigma.h"

namespace seccloud::soc {

namespace sigma_internal {
class MatchContext;
}

struct CorrelationLimits {
  size_t max_groups = 100'000;  // per correlation
  size_t max_events_per_group = 1'000;
  size_t max_evidence = 100;  // Record seqs cited by one detection (the earliest ones)
};

struct CorrelationStats {
  uint64_t groups_evicted = 0;
  uint64_t late_events = 0;
  uint64_t events_dropped = 0;    // beyond max_events_per_group
  uint64_t ungrouped_events = 0;  // a group-by field was absent from the record
  uint64_t fired = 0;
};

// Correlation windows in flight, handed from an engine to its replacement on reload. Opaque.
class CorrelationState {
 public:
  CorrelationState();
  ~CorrelationState();
  struct Tables;
  std::unique_ptr<Tables> tables;
};

class Correlator {
 public:
  Correlator(std::shared_ptr<const RuleSet> rules, CorrelationLimits limits);
  ~Correlator();
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  // Whether any correlation uses base rule `rule_index`.
  bool Uses(size_t rule_index) const;
  // The record (current in ctx) matched base rule `rule_index`.
  void OnMatch(size_t rule_index, sigma_internal::MatchContext& ctx, std::vector<Detection>* out);
  // Judges lt/lte/eq windows that ended at or before now_ms.
  void Flush(int64_t now_ms, std::vector<Detection>* out);

  // Moves the windows out; RestoreState adopts those whose correlation (same id and definition)
  // exists in this correlator's rules and drops the rest.
  std::unique_ptr<CorrelationState> TakeState();
  void RestoreState(std::unique_ptr<CorrelationState> state);

  const CorrelationStats& stats() const { return stats_; }
  size_t groups() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  CorrelationStats stats_;
};

}  // namespace seccloud::soc
