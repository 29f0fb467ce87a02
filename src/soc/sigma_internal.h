#pragma once
// The compiled form of Sigma rules, shared by the loader (sigma_load.cc), the matcher
// (sigma_match.cc), correlation and the engine. Private to src/soc.

#include <re2/re2.h>

#include <array>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "soc/field_view.h"
#include "soc/record.h"

namespace seccloud::soc::sigma_internal {

// Every field path the rules of one RuleSet refer to. A Sigma field may map to several record
// paths (c-uri → url.original, else url.full); the first present wins.
struct FieldTable {
  std::vector<std::vector<std::string>> paths;
  std::unordered_map<std::string, int> index;  // paths joined by '\n' → id

  int Intern(const std::vector<std::string>& candidates);
};

// Pseudo-fields of keyword (full-text) searches.
inline constexpr int kMessageField = -1;
inline constexpr int kRawField = -2;
inline constexpr int kKeywordField = -3;  // message or raw

enum class Op : uint8_t {
  kEquals,
  kContains,
  kStartsWith,
  kEndsWith,
  kGlob,  // pattern with * and ? (mask marks which characters are wildcards)
  kRegex,
  kCidr,
  kExists,
  kNotExists,
  kNull,  // absent, null or empty
  kGt,
  kGte,
  kLt,
  kLte,
  kFieldRef,  // equal to another field of the record
  kTimePart,  // a part of the date the field holds, compared with `number` (|minute … |year)
};

// The date parts of Sigma's time modifiers (v2.1 appendix): taken from the date as written, no
// time zone conversion; week is the ISO 8601 week number (1–53).
enum class TimePart : uint8_t { kMinute, kHour, kDay, kWeek, kMonth, kYear };

struct ValueTest {
  Op op = Op::kEquals;
  bool cased = false;  // compare against the original text, not the lower-cased one
  std::string lit;     // lower-cased unless cased
  std::string mask;    // kGlob: per character of lit, '*', '?' or ' ' (literal)
  std::shared_ptr<const RE2> re;
  double number = 0;
  int ref_field = 0;
  Op ref_op = Op::kEquals;  // kFieldRef: equal to, or contains/starts/ends with the other field
  bool v6 = false;
  std::array<uint8_t, 16> net{};
  int prefix_bits = 0;
  TimePart time_part = TimePart::kMinute;  // kTimePart
  Op time_cmp = Op::kEquals;  // kTimePart: the part compared with `number` by kEquals or kGt…kLte
};

struct FieldTest {
  int field = 0;     // FieldTable id, or a pseudo-field
  bool all = false;  // every value must match (|all), else any
  std::vector<ValueTest> values;
  // |neq: the test is the negation of the whole item, as pySigma's ConditionNOT around it: true
  // when the field is absent, and with a list "differs from every value" (from one, with |all).
  bool negated = false;
};

// A named selection: OR over alternatives, each an AND of field tests.
struct Selection {
  std::string name;
  std::vector<std::vector<FieldTest>> any_of;
};

struct Node {
  enum Kind : uint8_t { kSelection, kAnd, kOr, kNot };
  Kind kind = kSelection;
  int selection = 0;
  std::vector<Node> kids;
};

// One alternative of a logsource predicate: the record's event.dataset, or its Windows channel
// (lower-cased) and EventID, and optionally its process.name.
struct LogsourceAlt {
  std::string dataset;
  std::string channel;                     // lower-cased; empty: not a channel predicate
  std::vector<int64_t> event_ids;          // empty: any
  std::vector<std::string> process_names;  // lower-cased; empty: any
};

// kAuditd: Linux Audit records (parse_audit.cc), a rule's "type" is the record type and every
// other undotted name a pair of the record, "auditd.log.<name>".
// kAntivirus: Sigma's antivirus category (Signature, Filename) over seccloud's own scanner's
// detections and Microsoft Defender's.
enum class FieldStyle : uint8_t {
  kWindows,
  kProxy,
  kWebserver,
  kDns,
  kFirewall,
  kPlain,
  kAuditd,
  kAntivirus
};

struct LogsourceMapping {
  std::vector<LogsourceAlt> alts;
  FieldStyle style = FieldStyle::kPlain;
};

// The logsource table: false with *reason when seccloud has no such source.
bool MapLogsource(std::string_view product, std::string_view category, std::string_view service,
                  LogsourceMapping* out, std::string* reason);
// The record paths a rule's field name stands for under a logsource's field style.
std::vector<std::string> MapFieldName(FieldStyle style, std::string_view name);

struct CompiledRule {
  std::vector<Selection> selections;
  Node root;
  LogsourceMapping logsource;
};

// ASCII lower-casing (Sigma matches case-insensitively; rule literals are lowered once).
void LowerInto(std::string_view in, std::string* out);
std::string Lower(std::string_view in);

// Per-thread scratch for matching one record at a time: field values are looked up and
// lower-cased once per record, into buffers reused across records (no allocation once warm).
class MatchContext {
 public:
  explicit MatchContext(const FieldTable* table);

  void Reset(const Record& record);
  // A new record read through `view` (the caller's, Reset on the record: shared with the
  // record's other readers), until the next Reset.
  void Reset(FieldView& view);
  const Record& record() const { return *record_; }
  // The record's fields, answered on its pending tape when it has one (field_view.h): the
  // lookups here never build a pending record's tree but for an object the metadata adds to.
  FieldView& view() { return *view_; }

  struct Value {
    uint32_t generation = 0;
    bool present = false;
    bool is_null = false;
    FieldRef ref;           // the value found (kNone when absent)
    std::string_view text;  // original
    std::string text_buf;
    // The ASCII-lower-cased text, made on first use (the engine's scans fold case themselves).
    std::string_view lower() const {
      if (!lower_ready) {
        LowerInto(text, &lower_buf);
        lower_ready = true;
      }
      return lower_buf;
    }
    mutable bool lower_ready = false;
    mutable std::string lower_buf;
  };
  const Value& Get(int field);

  bool Admits(const LogsourceMapping& logsource);
  bool Matches(const CompiledRule& rule);
  // One value test of a field test on `field` (keywords: the message, else the raw text), as
  // Matches decides it; the DetectionEngine's predicates (sigma_eval.h) use it.
  bool TestValue(int field, const ValueTest& vt);
  // The record's event.dataset, winlog.channel (lower-cased), winlog.event_id (or -1).
  std::string_view dataset();
  std::string_view channel_lower();
  int64_t event_id();

 private:
  bool Eval(const CompiledRule& rule, const Node& node);
  bool EvalSelection(const Selection& sel);
  bool EvalFieldTest(const FieldTest& test);
  bool EvalFieldValues(const FieldTest& test);  // EvalFieldTest before |neq
  bool EvalValue(const ValueTest& vt, const Value& v);
  void Fill(Value& v, const FieldRef& found);

  const FieldTable* table_;
  const Record* record_ = nullptr;
  FieldView own_view_;
  FieldView* view_ = &own_view_;  // own_view_, or the view given to Reset
  uint32_t generation_ = 0;
  std::vector<Value> values_;
  // Which dotted paths the record has, as a 4096-bit set of their hashes: a rule field the
  // record lacks (most of the dozens a logsource's rules name) is known absent without a
  // FindField walk. A set bit proves nothing; FindField decides.
  void NotePresentPaths();
  bool MayHave(uint64_t index) const { return (present_[index >> 6] >> (index & 63)) & 1; }
  // The field plan: how each candidate path of each field is looked up, worked out once from the
  // table (sigma18). A path the metadata accessors also ask (kSharedPaths) is looked up once a
  // record for both; "winlog.event_data.<name>" (name without '.') on a Windows overlay with its
  // items' table is a probe of that table with the name's hash made here; any other path is
  // FieldView::Find. Each answers as Find(path) on the record.
  struct PlannedPath {
    std::string path;
    uint64_t presence = 0;   // its index in the presence set
    int shared = -1;         // index of kSharedPaths, or -1
    bool item = false;       // a "winlog.event_data.<name>" path, name without '.' and not empty
    uint32_t item_hash = 0;  // WinlogItemHash(name)
  };
  FieldRef Lookup(const PlannedPath& p);
  static constexpr std::string_view kSharedPaths[] = {"event.dataset", "winlog.channel",
                                                      "winlog.event_id", "process.name", "message"};
  static constexpr int kSharedCount = static_cast<int>(std::size(kSharedPaths));
  enum SharedPath {
    kSharedDataset,
    kSharedChannel,
    kSharedEventId,
    kSharedProcessName,
    kSharedMessage
  };
  // Find(kSharedPaths[i]) of this record, looked up when first asked.
  const FieldRef& Shared(int i);
  FieldRef shared_[kSharedCount];
  uint32_t shared_done_ = 0;  // bit per kSharedPaths entry: shared_ holds this record's answer
  std::vector<std::vector<PlannedPath>> plan_;  // by field, by candidate path
  std::array<uint64_t, 64> present_{};
  bool present_done_ = false;
  static constexpr int kLookupsBeforePresence = 12;
  int lookups_ = 0;  // field lookups of this record so far
  Value message_, raw_;
  std::string_view process_name_lower();
  bool meta_done_ = false;  // dataset_ and channel_lower_
  std::string_view dataset_;
  std::string channel_lower_;
  bool event_id_done_ = false;
  int64_t event_id_ = -1;
  bool process_name_done_ = false;
  std::string process_name_lower_;
};

// Glob match of text against lit/mask ('*' any run, '?' one byte), iterative, O(n·m) worst case.
bool GlobMatch(std::string_view text, std::string_view lit, std::string_view mask);

// yaml-cpp 0.7's LoadAll never returns on some texts (sigma_load.cc). GuardYamlProgress parses
// the text with an event sink that throws YAML::ParserException where LoadAll would loop;
// YamlMayStall is a cheap over-approximation of the texts it could throw on.
void GuardYamlProgress(const std::string& text);
bool YamlMayStall(std::string_view text);

// A date as Sigma's time modifiers read it: "YYYY-MM-DD", optionally followed by 'T', 't' or one
// space and "hh:mm", optional ":ss" and a fraction ('.' or ',' and 1–9 digits), then an optional
// zone ("Z", "z", "±hh", "±hhmm", "±hh:mm"), ignored: the parts are the text's own. Anything else,
// a field value that is a JSON number included, is not a date. Date-only texts have no hour or
// minute. Returns the part, or -1 when the text is not such a date (or lacks the part).
int DatePart(std::string_view text, TimePart part);

bool ParseCidr(std::string_view text, ValueTest* out);
bool IpInCidr(std::string_view ip, const ValueTest& cidr);

// The selection names the loader compared while it resolved the names in conditions (its name →
// selection map's key comparisons), on this thread since it started: about one a name. A test
// reads it (SigmaTest.ConditionNamesFindTheirSelectionsWithOneComparisonEach); a scan per name
// would compare selections × names, and a resolution that bypassed the map would leave it unmoved.
inline thread_local uint64_t condition_name_comparisons = 0;

}  // namespace seccloud::soc::sigma_internal
