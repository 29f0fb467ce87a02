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
// evicted, counted), max_state_bytes over one correlation's groups and max_total_state_bytes over
// all of them (the least recently updated groups evicted, counted; see CorrelationLimits), and
// max_events_per_group events kept per group — a sliding window keeps its
// newest, a tumbling window its first. Every type still judges every event of its window: the
// events beyond the cap are aggregated per group, in a form bounded by the rules, not by events:
//  - all types: their count (and the metric types their sum) in time buckets of timespan / 64
//    (rounded up) for a sliding window, one bucket for a tumbling one. A bucket leaves a sliding
//    window with its newest event, so an event beyond the cap may be counted up to timespan / 64
//    past its exact expiry; below the cap expiry is exact. event_count is this count.
//  - value_count: each value of the window (kept or beyond the cap) with its latest time (a
//    value stays in a sliding window while its latest sighting does: exact); the count is their
//    number. At most max_values_per_group distinct values in the window, raised to the
//    threshold + 1 for every operator (so the cap never changes a verdict: a refusal means more
//    than the threshold), and that at most max_value_count_threshold + 1 (the loader refuses a
//    threshold above kMaxValueCountThreshold: unsupported). A new value past the cap is not kept
//    (stats().events_dropped, and the alert's correlation.values_dropped). The count is then a
//    lower bound; only with a max_value_count_threshold below the rule's threshold can it leave
//    a tumbling lt/lte/eq/neq undecided (lt is decided from the threshold on, lte/eq/neq above
//    it): that window is counted in stats().windows_unjudged.
//  - temporal: each rule's latest event beyond the cap (exact expiry). temporal_ordered also
//    keeps, per conjunction of its condition (all the rules without one) and per prefix of its
//    rules, the latest start of a chain of strictly increasing times: exact. An event that
//    arrives older than one already folded into those chains (out of order, in a window over
//    the cap) has lost its place in the order: dropped, counted in stats().events_dropped.
// A detection cites the seqs of the kept events (the earliest max_evidence of them) — for
// temporal / temporal_ordered preceded by each rule's latest event beyond the cap in the window;
// events in buckets are counted in correlation.events, not cited.
//
// seccloud-absence (CorrelationType::kAbsence) is judged on the wall clock, not on records' times:
// an entity's last-seen time is the arrival time (Record::received_ms) of its newest matching
// record, and Flush(now) reports every expected entity silent for at least `timespan` once
// (Detection ruleset "absence"); its next matching record reports the recovery
// (Detection::resolves). Expected entities are those listed in the rule (from the first Flush on)
// and, with `learn`, every entity seen; a learned one silent for `forget` is dropped. At most
// max_absence_entities per rule: entities beyond are not tracked (counted in
// stats().absence_refused). TakeAbsenceChanges/RestoreAbsence carry the entities across restarts.
//
// The metric types (Sigma v2.1; the specification gives only their names and `condition.field`,
// the arithmetic follows pySigma's SQL backends, which compute SUM/AVG/MEDIAN/percentile of the
// field over the group's events in the window):
//  - value_sum, value_avg, value_percentile, value_median judge condition.field of the window's
//    events. A value is a decimal number (JSON number or string: "1500", "-2.5", "1e3"), held in
//    millionths of its unit (int64: |value| ≤ 9.2e12), rounded to the nearest millionth (halves
//    away from zero: "0.30000000000000004" is 0.3); an absent field counts as ungrouped_events,
//    anything else (text, a bool, a larger magnitude) is skipped and counted in
//    stats().non_numeric_values. Thresholds are not rounded: a finer one is a load error.
//  - value_sum: the sum; value_avg: sum / count (compared as sum vs threshold × count, so no
//    division rounds); value_median: the middle value, or the mean of the two middle ones;
//    value_percentile: condition.percentile (0…100, required) by the nearest-rank method, the
//    smallest value with at least that percent of the values at or below it (pySigma's
//    "ranked" SQL backend: rank × 100 ≥ total × percentile; pySigma-backend-sqlite's README of
//    2026-11-29 interpolates linearly instead). Sums are 128-bit: exact for any window.
//  - The threshold may be fractional (pySigma: "fractions are for metric thresholds"), in the
//    same millionths; gt/gte slide, lt/lte/eq/neq tumble, as for counts. The events beyond
//    max_events_per_group are in the buckets above with their exact sum: value_sum / value_avg
//    thus judge every event of the window. value_median / value_percentile need the values, which
//    are not kept beyond the cap (counted in events_dropped): a sliding one judges the newest
//    values kept and its alert says so (correlation.values_dropped: how many were not kept); a
//    tumbling one that dropped values is not judged at all (counted in stats().windows_unjudged),
//    since its lt/lte/eq/neq verdict would be about other values than the window's.
// neq (pySigma's sixth operator) is "count ≠ N": on tumbling windows like eq for event_count,
// value_count and the metric types; temporal / temporal_ordered slide for every operator (their
// lt/lte/eq slide too, as on base28), so their neq fires as soon as the count differs.
// temporal / temporal_ordered with a condition expression (`a and (b or c)`, Sigma v2.1;
// pySigma's extended condition) fire, on the sliding window, as soon as the expression holds
// over the rules with an event in the window; for temporal_ordered the rules that make it true
// must also have occurred in the order of `rules`: some conjunction of the expression's normal
// form (at most kMaxRuleConditionTerms of them) was seen in that order, each conjunction on its
// own (SigmaHQ/pySigma-backend-sqlite README, 2026-11-29: "Extended OR branches are evaluated
// independently"). temporal_ordered, with or without an expression, needs strictly increasing
// times from one rule to the next: equal times do not establish an order (the same README:
// "Ties cannot establish order"). `not` is refused by the loader: a
// streaming judge cannot know that a rule will stay absent.
//
// Not thread-safe; one per DetectionEngine.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "soc/absence.h"
#include "soc/detection.h"
#include "soc/record.h"
#include "soc/sigma.h"

namespace seccloud::soc {

namespace sigma_internal {
class MatchContext;
}

struct CorrelationLimits {
  size_t max_groups = 100'000;          // per correlation
  size_t max_events_per_group = 1'000;  // kept per group; the ones beyond are aggregated
  // value_count: distinct values in one group's window — at least threshold + 1 (whether the
  // count passes the threshold is then known), up to max_value_count_threshold + 1.
  size_t max_values_per_group = 10'000;
  // A value_count threshold above this is unsupported (the loader refuses it at
  // kMaxValueCountThreshold, the default); a lower limit set here caps the values kept instead.
  int64_t max_value_count_threshold = kMaxValueCountThreshold;
  // Bytes of one correlation's windows over all its groups (the cost model of correlation.cc,
  // measured with malloc: a group, a kept event, a bucket, a kept value and its bytes). Past it
  // the least recently updated groups are evicted (stats().groups_evicted_for_memory), never the
  // one being updated. The per-group caps above bound its count of values, not their bytes: a
  // value_count group holds up to its value cap × (~136 bytes + the value's length, up to a
  // record's 64 KiB), e.g. 10,000 values of ~60 KB ≈ 600 MB, which this budget does not stop
  // (not done: keeping a long value as a digest, since only distinctness is used). 2 GiB holds
  // 30,000 users' groups each at the event cap (~40 KB: 1,000 events and 64 buckets), 1.2 GB, or
  // 30,000 users × ~400 distinct values.
  size_t max_state_bytes = size_t{2} << 30;
  // The same over all the correlations of one correlator: past it the correlation being updated
  // evicts its own least recently updated groups (the growing one pays, not a quiet one). 8 GiB,
  // a third of the 24 GiB host: ~100 correlations with 30,000 groups of a few events (~75 MB each).
  size_t max_total_state_bytes = size_t{8} << 30;
  size_t max_evidence = 100;             // Record seqs cited by one detection (the earliest ones)
  size_t max_absence_entities = 10'000;  // per seccloud-absence rule
};

struct CorrelationStats {
  uint64_t groups_evicted = 0;             // max_groups reached
  uint64_t groups_evicted_for_memory = 0;  // max_state_bytes or max_total_state_bytes reached
  uint64_t late_events = 0;
  // Events whose value or place was lost (every other event beyond max_events_per_group is
  // aggregated, see above): value_median/value_percentile beyond max_events_per_group, value_count
  // with a new value past max_values_per_group, temporal_ordered older than its chains.
  uint64_t events_dropped = 0;
  uint64_t ungrouped_events = 0;  // a group-by field (or condition.field) was absent
  // The metric types: condition.field's value not a number seccloud sums exactly (see above).
  uint64_t non_numeric_values = 0;
  // Tumbling windows not judged: value_median/value_percentile whose values beyond
  // max_events_per_group were not kept, value_count whose count past max_values_per_group does
  // not decide lt/lte/eq/neq.
  uint64_t windows_unjudged = 0;
  uint64_t fired = 0;
  uint64_t absence_refused = 0;    // entities not tracked: max_absence_entities reached
  uint64_t absence_forgotten = 0;  // learned entities dropped after `forget`
  uint64_t absence_recovered = 0;
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

  // seccloud-absence entities changed since the last call (all of them when `all`), to persist;
  // entries with `forget` set are to be deleted.
  std::vector<AbsenceEntity> TakeAbsenceChanges(bool all = false);
  // Adopts persisted entities of this correlator's absence rules (others are ignored, as are
  // entities a rule with learn: false does not list). Call before the first Flush.
  void RestoreAbsence(const std::vector<AbsenceEntity>& entities);
  // The persistence key of an absence rule (AbsenceEntity::rule).
  static std::string AbsenceKey(const CorrelationRule& rule);

  // Moves the windows out; RestoreState adopts those whose correlation (same id and definition)
  // exists in this correlator's rules and drops the rest. Absence entities move by AbsenceKey.
  std::unique_ptr<CorrelationState> TakeState();
  void RestoreState(std::unique_ptr<CorrelationState> state);

  const CorrelationStats& stats() const { return stats_; }
  size_t groups() const;
  // The bytes of the windows of correlation `correlation` as max_state_bytes counts them, and of
  // all of them as max_total_state_bytes does.
  size_t state_bytes(size_t correlation) const;
  size_t state_bytes() const;

 private:
  void Feed(size_t correlation, uint16_t pos, sigma_internal::MatchContext& ctx,
            std::vector<Detection>* out, size_t depth);
  void AbsenceSeen(size_t correlation, size_t pos, const std::string& key,
                   sigma_internal::MatchContext& ctx, std::vector<Detection>* out);
  void FlushAbsence(size_t correlation, int64_t now_ms, std::vector<Detection>* out);
  // Accounts correlation's group `updated` (a Group*) and evicts past the byte budgets.
  void Charge(size_t correlation, void* updated);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  CorrelationStats stats_;
};

}  // namespace seccloud::soc
