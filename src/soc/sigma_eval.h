#pragma once
// The DetectionEngine's form of a RuleSet (R18): every test of every rule becomes a predicate,
// shared by all rules that make the same test, and decided at most once per record. String tests
// (equals, contains, startswith, endswith of a literal) are decided for all rules at once by one
// Aho–Corasick pass over the field; the other tests (regex, CIDR, glob, numbers, exists,
// fieldref) are evaluated directly through MatchContext when a rule's condition reaches them.
//
// For the prefilter, each rule also gets a necessary condition in conjunctive form: a few
// clauses, each a set of predicates of which one must hold for the rule to match. A rule is
// evaluated only when every clause has a predicate that holds, so the work per record follows the
// predicates that hold in it, not the number of rules loaded.
//
// Private to src/soc. The program set is immutable after Build and points into the RuleSet it was
// built from (which must outlive it); a ProgramEvaluator is per thread.

#include <cstdint>
#include <string>
#include <vector>

#include "soc/detect_internal.h"
#include "soc/sigma.h"
#include "soc/sigma_internal.h"

namespace seccloud::soc::sigma_internal {

// One test of one field.
struct Predicate {
  int field = 0;  // FieldTable id or a pseudo-field (kKeywordField: message, else raw)
  // The FieldScan that decides it; -1: evaluated directly through MatchContext::TestValue.
  int scan = -1;
  const ValueTest* test = nullptr;  // direct predicates: the rule's test
  uint32_t literal_bytes = 0;       // scan predicates: the literal's length (for the prefilter)
};

struct ScanHit {
  uint32_t pred;
  Op op;  // kEquals, kContains, kStartsWith or kEndsWith
};

// Every scan predicate of one field: one automaton over the lower-cased text, one over the
// original text (|cased and base64 values).
struct FieldScan {
  struct Side {
    detect_internal::LiteralMatcher matcher;
    std::vector<uint32_t> length;     // by pattern id
    std::vector<uint32_t> hit_begin;  // by pattern id; hit_begin[id + 1] ends its hits
    std::vector<ScanHit> hits;
  };
  int field = 0;
  Side lower, cased;
};

// A rule's condition over predicates: kAnd of no kids is true, kOr of no kids false.
struct Expr {
  enum Kind : uint8_t { kPred, kAnd, kOr, kNot };
  Kind kind = kPred;
  uint32_t arg = 0;    // kPred: the predicate; otherwise the first kid's index in kids
  uint32_t count = 0;  // kids
};

inline constexpr size_t kMaxClausesPerRule = 32;

struct RuleProgram {
  bool wanted = false;  // false: not built (the engine never evaluates the rule)
  uint32_t root = 0;    // in exprs
  // The prefilter's necessary condition: clauses[clause_begin .. clause_begin + clause_count),
  // at most kMaxClausesPerRule. No clause: the rule is evaluated for every record of its
  // logsource.
  uint32_t clause_count = 0;
  uint32_t clause_begin = 0;
};

struct ProgramSet {
  // Builds programs for the rules i with wanted[i]. `set` must outlive the result.
  static ProgramSet Build(const RuleSet& set, const std::vector<bool>& wanted);

  std::vector<Predicate> preds;
  std::vector<FieldScan> scans;
  std::vector<Expr> exprs;
  std::vector<uint32_t> kids;
  std::vector<RuleProgram> programs;  // by rule index
  // clauses[c]: predicates [clause_preds_begin[c], clause_preds_begin[c + 1]) of clause_preds.
  std::vector<uint32_t> clause_preds_begin{0};
  std::vector<uint32_t> clause_preds;
  // The prefilter's index: for predicate p, triggers[trigger_begin[p] .. trigger_begin[p + 1])
  // are the (rule, clause bit) pairs it satisfies.
  struct Trigger {
    uint32_t rule;
    uint32_t bits;
  };
  std::vector<uint32_t> trigger_begin;
  std::vector<Trigger> triggers;
};

// The DetectionEngine's bucket keys of one logsource alternative: "d:<dataset>", "c:<channel>"
// or, with event ids, "e:<channel>#<id>" for each id. A record visits the buckets of its own
// dataset, channel and channel#event id.
std::vector<std::string> LogsourceKeys(const LogsourceAlt& alt);

// Where `message` occurs in `raw` (an offset), npos when it does not: its tail when it is one,
// else memmem's first occurrence (0 for an empty message). For the keyword scans' window
// (ProgramEvaluator::Scan).
size_t MessageInRaw(std::string_view raw, std::string_view message);

// Decides predicates for one record at a time; buffers are reused (no allocation once warm).
class ProgramEvaluator {
 public:
  ProgramEvaluator(const ProgramSet* set, MatchContext* ctx);

  // A new record (call after MatchContext::Reset).
  void Reset();
  // Decides every scan predicate of scans[scan] (once per record). Those that hold are appended
  // to true_preds().
  void Scan(uint32_t scan);
  const std::vector<uint32_t>& true_preds() const { return true_preds_; }
  // Whether rule `rule`'s condition holds (its logsource is the caller's business).
  bool Matches(uint32_t rule) { return Eval(set_->programs[rule].root); }

 private:
  bool Eval(uint32_t expr);
  bool Holds(uint32_t pred);
  // Scans `text`; with a window [win_begin, win_end), also decides the predicates as if the
  // window's bytes had been scanned as a text of their own (an occurrence inside the window is
  // one of that text's occurrences, and the window's text has no others).
  // Inline: most sides have no patterns (a field's |cased side, mostly), and the call to learn it
  // cost more than the test. A text shorter than the side's shortest literal holds none of them
  // (nor does a window inside it): not scanned.
  void ScanSide(const FieldScan::Side& side, std::string_view text, size_t win_begin = 0,
                size_t win_end = SIZE_MAX) {
    if (side.matcher.patterns() != 0 && text.size() >= side.matcher.min_pattern_length()) {
      ScanText(side, text, win_begin, win_end);
    }
  }
  // ScanSide on a side with patterns.
  void ScanText(const FieldScan::Side& side, std::string_view text, size_t win_begin,
                size_t win_end);

  const ProgramSet* set_;
  MatchContext* ctx_;
  uint32_t generation_ = 0;
  std::vector<uint32_t> scanned_;  // by scan: generation when scanned
  std::vector<uint32_t> decided_;  // by predicate: generation when decided (direct ones)
  std::vector<uint32_t> holds_;    // by predicate: generation when found to hold
  std::vector<uint32_t> true_preds_;
};

}  // namespace seccloud::soc::sigma_internal
