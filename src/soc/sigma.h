#pragma once
// Sigma rules (R18, R19): SigmaHQ's YAML rules (specification v2) loaded and compiled into
// matchers over Records, and Sigma correlation rules (event_count, value_count, temporal,
// temporal_ordered, and v2.1's value_sum, value_avg, value_percentile, value_median) over the
// rules' matches. The DetectionEngine (soc/detect.h) runs them.
//
// Loading never stops at a bad file: each rule document either loads, or is listed as
// unsupported (a feature or log source seccloud cannot honour, with the reason), or as an error
// (file:line:column and what is wrong). Nothing is dropped silently.
//
// Which records a rule sees follows its logsource, through one table (sigma_logsource.cc):
// Windows categories and services become channel + EventID predicates, proxy / webserver / dns /
// firewall become event.dataset predicates, product "seccloud" means event.dataset == service.
// Field names follow the same table: Windows rules name EventData items
// (winlog.event_data.<Name>), proxy rules name W3C fields (c-uri → url.original, …), a dotted
// name is an ECS path used as it is.
//
// A RuleSet is immutable after loading and may be shared between threads; matching is const.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "soc/detection.h"
#include "soc/record.h"

namespace seccloud::soc {

namespace sigma_internal {
struct CompiledRule;
struct FieldTable;
class MatchContext;
}  // namespace sigma_internal

// Bounds on what a rule file may hold (it is input from outside: a rule pack, a tenant's rules).
inline constexpr size_t kMaxRuleFileBytes = size_t{1} << 20;
inline constexpr size_t kMaxRuleYamlDepth = 64;
inline constexpr size_t kMaxRuleNodes = 200000;               // YAML nodes visited per document
inline constexpr size_t kMaxRuleValues = 100000;              // compiled value tests per document
inline constexpr size_t kMaxRuleRegexes = 256;                // |re values per document
inline constexpr int64_t kMaxRegexMemory = int64_t{1} << 20;  // RE2 max_mem per regex
inline constexpr size_t kMaxAbsenceExpected = 10000;          // expected entities per absence rule
inline constexpr size_t kMaxCorrelationDepth = 8;             // correlations of correlations
// Selection references the conditions of one file's documents expand to (`1 of s*` counts every
// selection it scans, a name 1): each is a copy of its selection in the condition tree and the
// engine, so 1,600 selections × 1,600 `1 of s*` (42 KB) would be 2,560,000 copies. Per file, not
// per document: 40 documents of 316 × 316 in one file would each stay under a per-document bound.
// SigmaHQ's largest rule file expands to 81
// (registry_set_asep_reg_keys_modification_currentversion), all 3,141 of its files together to
// 9,089: 10,000 is over 100 times the largest real one. 300 × 300 (90,000) took 9.6 s of CPU in
// soc_sigma_fuzz (-O0, ASan), past the fuzzers' 10 s timeout on a loaded machine.
inline constexpr size_t kMaxConditionRefs = 10000;
// The field and value tests those references copy (a reference copies its selection's: one per
// field test and one per value), per file: a selection of 50,000 values named 10,000 times is
// under kMaxConditionRefs but 5·10⁸ tests for the engine to build. A document holds at most
// kMaxRuleValues (100,000) values, so 1,000,000 lets every value of ten full documents be named
// once — or one full document's ten times; SigmaHQ's rules name each selection once or twice.
inline constexpr size_t kMaxConditionValueRefs = 1000000;
// The same two summed over every file of one load (LoadRules, LoadRulesFromStrings): per file
// alone, a thousand files of 10,000 references each would be 10⁷ copies. A document past either
// is refused ("load too large", at its condition's file:line) and the others keep loading; a
// refused document, past any bound, charges nothing. SigmaHQ's rules expand to under a tenth of
// each (README.md, corr30, has the figures and their date; checked by
// SigmaCorpusTest.TheCorpusLeavesTheLoadWideConditionBoundsRoom): room for a municipality's own
// rules (a 10,000-value list of its own costs 10,001 a reference: 190 such references fit).
// Building the engine costs ~0.65 s of CPU a million copies (corr30's review: 980,049 copies,
// 0.68 s user), so a load at kMaxLoadConditionValueRefs spends ~1.3 s of CPU on them. That is CPU
// time, not a wall-clock promise: at load 15 the same 0.68 s took 6.0 s of wall time.
inline constexpr size_t kMaxLoadConditionRefs = 100'000;
inline constexpr size_t kMaxLoadConditionValueRefs = 2'000'000;
// What the filters add to rules — value tests, field tests, alternatives, selections, condition
// nodes — summed over every filter and every rule it applies to (each filtered rule holds its own
// copy), for the whole load: a filter of 100,000 values with `rules: any`, or thousands of small
// filters on every rule, would otherwise be copied without end. A filter that would take the sum
// past it is refused whole (an error at its file:line).
inline constexpr size_t kMaxFilterAppliedSize = 2'000'000;
inline constexpr size_t kMaxFilterRefs = 10'000;  // rule ids / names one filter lists

struct SigmaRule {
  std::string id;    // the rule's UUID (or its name / title when it has no id)
  std::string name;  // Sigma v2 "name" (correlations may refer to it), else ""
  std::string title;
  std::string description;
  std::string status;
  Level level = Level::kMedium;
  std::vector<std::string> tags;
  std::string product, category, service;  // logsource
  std::string file;
  int line = 0;
  // False when the rule only feeds correlations that do not "generate" their base rules' matches.
  bool emit = true;
  // The ids of the Sigma filters applied to it (RuleSet::filters), in the order applied: its
  // condition is "(its own) and (each filter's)" (see SigmaFilter).
  std::vector<std::string> filters;
  std::shared_ptr<const sigma_internal::CompiledRule> compiled;
};

// A Sigma filter (meta filter document, sigma-filters-specification; `rules: any` of v2.2),
// applied as pySigma's SigmaFilter.apply_on_rule: every base rule it names by id or name (every
// base rule for `any`) whose logsource it covers (each of product, category, service the filter
// sets equals the rule's) gets the condition "(rule condition) and (filter condition)". The
// filter's condition sees only the filter's own selections. Never applied to correlation rules;
// a correlation over a filtered rule sees the filtered matches.
struct SigmaFilter {
  std::string id;  // its id, else its name, else its title
  std::string name;
  std::string title;
  std::string description;
  std::string product, category, service;  // logsource as written ("" : not set)
  std::string file;
  int line = 0;
  bool any = false;                     // `rules: any` (or `all`, or an empty list, as pySigma)
  std::vector<std::string> refs;        // the rule ids / names as written (empty when any)
  std::vector<std::string> applied_to;  // ids of the rules it was applied to
  // Names in refs that applied to nothing, each with why ("no such rule", "a correlation rule",
  // "logsource not covered", "the rule did not load: …").
  std::vector<std::pair<std::string, std::string>> unresolved;
};

// kAbsence is seccloud's own type ("seccloud-absence", R19/R20: a monitored system is down): it
// fires when an expected entity (group-by values) has had no matching event for `timespan`, on
// the wall-clock tick, and reports the recovery when its events resume. See src/soc/README.md.
// kValueSum … kValueMedian (Sigma v2.1) judge a number computed from condition.field's values
// in the window; see soc/correlation.h for the exact arithmetic.
enum class CorrelationType : uint8_t {
  kEventCount,
  kValueCount,
  kTemporal,
  kTemporalOrdered,
  kAbsence,
  kValueSum,
  kValueAvg,
  kValuePercentile,
  kValueMedian
};
enum class CompareOp : uint8_t { kGt, kGte, kLt, kLte, kEq, kNeq };

// Sigma v2.1's metric correlation types (value_sum, value_avg, value_percentile, value_median).
inline bool IsMetricType(CorrelationType t) {
  return t == CorrelationType::kValueSum || t == CorrelationType::kValueAvg ||
         t == CorrelationType::kValuePercentile || t == CorrelationType::kValueMedian;
}

// The metric types' values and thresholds are fixed-point: millionths of the field's unit.
inline constexpr int64_t kMetricScale = 1'000'000;
// A decimal number ("1500", "-2.5", "1e3") as millionths; false for anything else (not a
// number, beyond ±9.2e12). Finer than a millionth: false, unless `round` (the events' values,
// not thresholds), which rounds to the nearest millionth, halves away from zero
// ("0.30000000000000004" → 0.3).
bool ParseMetricMillionths(std::string_view text, int64_t* millionths, bool round = false);
inline constexpr size_t kMaxRuleConditionBytes = 4096;  // a temporal condition expression
inline constexpr size_t kMaxRuleConditionNames = 256;   // rule names in it (with repeats)
inline constexpr size_t kMaxRuleConditionTerms = 64;    // conjunctions in its normal form

struct CorrelationRule {
  std::string id;  // the rule's UUID, else its name, else its title
  std::string name;
  std::string title;
  std::string description;
  Level level = Level::kMedium;
  std::vector<std::string> tags;
  std::string file;
  int line = 0;
  CorrelationType type = CorrelationType::kEventCount;
  // The inputs, in the rule's order: indexes into RuleSet::rules, or, where from_correlation[i]
  // is set, into RuleSet::correlations (a correlation of correlations: the inner one firing on a
  // record counts as that record matching here; inner ones come first in RuleSet::correlations).
  std::vector<size_t> rules;
  std::vector<bool> from_correlation;  // per rules[i]; empty: all are base rules
  bool emit = true;  // false when only feeding outer correlations that do not `generate` it
  std::vector<std::string> group_by;  // the names as written (or alias names)
  // group_fields[i][g]: the field id of group_by[g] for rules[i] (aliases resolved); -1: absent.
  std::vector<std::vector<int>> group_fields;
  int64_t timespan_ms = 0;
  CompareOp op = CompareOp::kGte;
  // The count; for the metric types (kValueSum … kValueMedian) in millionths (kMetricScale).
  int64_t threshold = 1;
  std::string value_field;           // value_count and the metric types: condition.field
  std::vector<int> value_field_ids;  // per rules[i]
  int percentile = 50;               // kValuePercentile: condition.percentile, 0…100
  // temporal / temporal_ordered with a condition expression (Sigma v2.1's `condition: a and
  // (b or c)`, pySigma's extended condition), replacing op/threshold: the expression in
  // disjunctive normal form, each term a set of input positions (bit i: rules[i]) that together
  // satisfy it, no term a superset of another. Empty: no expression.
  std::vector<uint64_t> rule_condition;
  std::string rule_condition_text;  // as written
  bool generate = false;            // base rules' own matches are emitted too
  // kAbsence only.
  struct Expected {
    std::string tenant;               // "" : records without a tenant
    std::vector<std::string> values;  // one per group_by
  };
  std::vector<Expected> expected;  // listed in the rule: expected from the start
  bool learn = true;               // entities seen become expected
  int64_t forget_ms = 0;           // a learned entity silent this long is forgotten (0: never)
};

struct RuleSet {
  std::vector<SigmaRule> rules;
  std::vector<CorrelationRule> correlations;
  std::vector<SigmaFilter> filters;  // the filters that loaded (already applied to `rules`)
  // The id of a correlation's input `pos` (a base rule's or an inner correlation's).
  const std::string& InputId(const CorrelationRule& c, size_t pos) const {
    return pos < c.from_correlation.size() && c.from_correlation[pos]
               ? correlations[c.rules[pos]].id
               : rules[c.rules[pos]].id;
  }
  // Every field path a rule refers to, interned; shared by the compiled rules.
  std::shared_ptr<const sigma_internal::FieldTable> fields;
};

struct LoadIssue {
  std::string file;
  int line = 0;    // 1-based; 0 when the issue is not about one place
  int column = 0;  // 1-based
  std::string rule_id;
  std::string title;
  std::string reason;  // a stable category ("logsource not collected", "regex not RE2", …)
  std::string detail;  // the specifics ("aws/cloudtrail", RE2's message, …)

  std::string ToString() const;  // "file:line:col: reason: detail (rule id)"
};

struct LoadReport {
  size_t files = 0;
  size_t documents =
      0;  // rule, correlation and filter documents seen (global/repeat headers excluded)
  size_t rules_loaded = 0;
  size_t correlations_loaded = 0;
  size_t filters_loaded = 0;  // Sigma filter documents (RuleSet::filters)
  size_t file_issues = 0;     // issues about a whole file (unreadable, YAML syntax, too large)
  // What the loaded rules' conditions expanded to, summed over the load: selection references
  // and the field and value tests they copy (kMaxLoadConditionRefs, kMaxLoadConditionValueRefs).
  size_t condition_refs = 0;
  size_t condition_value_refs = 0;
  std::vector<LoadIssue> unsupported;
  std::vector<LoadIssue> errors;
  // What loads but may not do what its author meant: a filter naming a rule that is not there
  // (or that it cannot apply to). Nothing is refused for these.
  std::vector<LoadIssue> warnings;

  // "unsupported: <reason>" / "error: <reason>" → count.
  std::map<std::string, size_t> CountByReason() const;
};

// What loading takes from the configuration besides the rules.
struct RuleLoadOptions {
  // Sigma placeholders (`field|expand: '%name%'`): name → values for every tenant's records …
  std::map<std::string, std::vector<std::string>> placeholders;
  // … and per tenant id, adding to the global values for that tenant's records (tenant.id).
  // A placeholder mapped nowhere makes its rule unsupported ("placeholder not mapped").
  std::map<std::string, std::map<std::string, std::vector<std::string>>> tenant_placeholders;
};
inline constexpr size_t kMaxExpandedValues = 10'000;  // values one |expand value becomes
// The largest value_count threshold the loader accepts (larger is unsupported, "value_count
// threshold N above the limit M"): a group of a value_count keeps up to threshold + 1 distinct
// values, ~150 bytes each with short values (a hash node and an ordered-set node), so one group
// at the limit holds ~15 MB. 30,000 users behind one proxy is a real threshold; a rule asking for
// more than 100,000 distinct values in one window is more likely a mistake than a detection.
inline constexpr int64_t kMaxValueCountThreshold = 100'000;

// Loads every .yml/.yaml file under each directory (recursively) and each file named. Fails only
// when a path does not exist or cannot be listed; everything about the rules themselves goes into
// *report (which may be null).
Result<RuleSet> LoadRules(const std::vector<std::filesystem::path>& dirs_or_files,
                          LoadReport* report);
Result<RuleSet> LoadRules(const std::vector<std::filesystem::path>& dirs_or_files,
                          LoadReport* report, const RuleLoadOptions& options);

// The same for one YAML text (which may hold several documents); `name` stands for the file in
// the report. Used by tests, the fuzzer and rules supplied over an API.
RuleSet LoadRulesFromString(std::string_view yaml, std::string_view name, LoadReport* report);

// Several texts as one set (correlations may refer to rules of another text).
RuleSet LoadRulesFromStrings(const std::vector<std::pair<std::string, std::string>>& name_and_yaml,
                             LoadReport* report);
RuleSet LoadRulesFromStrings(const std::vector<std::pair<std::string, std::string>>& name_and_yaml,
                             LoadReport* report, const RuleLoadOptions& options);

// Whether the rule's logsource admits the record and its detection matches. Convenient and
// slow (a fresh field cache per call); the DetectionEngine is the fast path.
bool RuleMatches(const RuleSet& set, const SigmaRule& rule, const Record& record);

}  // namespace seccloud::soc
