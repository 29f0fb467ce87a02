// Loading SigmaHQ YAML into a RuleSet: documents (global / repeat / correlation), detection
// compilation (selections, modifiers, wildcards, the condition expression) and correlation
// reference resolution. yaml-cpp throws; every exception is caught per document here.

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "soc/sigma.h"
#include "soc/sigma_internal.h"

namespace seccloud::soc {

std::string LoadIssue::ToString() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": " + reason;
  if (!detail.empty()) s += ": " + detail;
  if (!rule_id.empty()) s += " (rule " + rule_id + ")";
  return s;
}

std::map<std::string, size_t> LoadReport::CountByReason() const {
  std::map<std::string, size_t> out;
  for (const auto& i : unsupported) ++out["unsupported: " + i.reason];
  for (const auto& i : errors) ++out["error: " + i.reason];
  return out;
}

namespace {

using namespace sigma_internal;

// Why a document did not load; thrown inside the compiler, caught per document.
struct RuleProblem {
  bool unsupported = false;
  std::string reason;
  std::string detail;
  YAML::Mark mark = YAML::Mark::null_mark();
};

[[noreturn]] void Unsupported(std::string reason, std::string detail, const YAML::Node& at) {
  throw RuleProblem{true, std::move(reason), std::move(detail), at.Mark()};
}
[[noreturn]] void Invalid(std::string reason, std::string detail, const YAML::Node& at) {
  throw RuleProblem{false, std::move(reason), std::move(detail), at.Mark()};
}

// Rejects what would make yaml-cpp recurse deeply: flow nesting and block indentation.
bool PreScan(std::string_view text, std::string* why) {
  if (text.size() > kMaxRuleFileBytes) {
    *why = "larger than " + std::to_string(kMaxRuleFileBytes) + " bytes";
    return false;
  }
  size_t flow = 0, max_flow = 0;
  char quote = 0;
  bool line_start = true;
  size_t indent = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      line_start = true;
      indent = 0;
      if (quote == '\'') quote = 0;  // single-quoted scalars may span lines; be conservative
      continue;
    }
    if (line_start) {
      if (c == ' ' || c == '-' || c == '?' || c == '\t') {
        if (++indent > 4 * kMaxRuleYamlDepth) {
          *why = "indentation deeper than " + std::to_string(4 * kMaxRuleYamlDepth) + " columns";
          return false;
        }
        continue;
      }
      line_start = false;
    }
    if (quote != 0) {
      if (quote == '"' && c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || text[i - 1] == ' ')) {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if (c == '[' || c == '{') {
      max_flow = std::max(max_flow, ++flow);
      if (max_flow > kMaxRuleYamlDepth) {
        *why = "flow collections nested deeper than " + std::to_string(kMaxRuleYamlDepth);
        return false;
      }
    } else if ((c == ']' || c == '}') && flow > 0) {
      --flow;
    }
  }
  return true;
}

// yaml-cpp 0.7's LoadAll loops forever, allocating a null document per turn, when a document
// starts at a token no node begins with (a block-level ',' as in ",", "!!str ,", "- a\n,"):
// HandleNextDocument reports a document without consuming that token (yaml-cpp issue #1040,
// fixed upstream after 0.7). This pass runs the same parser with an event sink that only watches
// progress and throws when a document starts where the previous one did, or when the events
// outnumber what the text could hold (a backstop: every event needs at least a quarter byte).
class ProgressGuard final : public YAML::EventHandler {
 public:
  explicit ProgressGuard(size_t text_bytes) : max_events_(4 * text_bytes + 64) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_++ > 0 && mark.pos == last_start_) {
      throw YAML::ParserException(mark, "unexpected token where a document should start");
    }
    last_start_ = mark.pos;
    Count(mark);
  }
  void OnDocumentEnd() override { Count(YAML::Mark::null_mark()); }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Count(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Count(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Count(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Count(mark);
  }
  void OnSequenceEnd() override { Count(YAML::Mark::null_mark()); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Count(mark);
  }
  void OnMapEnd() override { Count(YAML::Mark::null_mark()); }

 private:
  void Count(const YAML::Mark& mark) {
    if (++events_ > max_events_) {
      throw YAML::ParserException(mark, "more YAML events than the text can hold");
    }
  }

  size_t max_events_;
  size_t events_ = 0;
  size_t documents_ = 0;
  int last_start_ = -1;
};

}  // namespace

void sigma_internal::GuardYamlProgress(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  ProgressGuard guard(text.size());
  while (parser.HandleNextDocument(guard)) {
  }
}

// yaml-cpp stalls on a token its document parser does not consume where a document starts: a
// ',' (a flow entry outside any flow collection) or a '?' (a key no map holds: "!|\n? "). Each
// is such a token only where a token starts: first in the text, after a line break or a blank,
// after another indicator or the end of a quoted scalar or flow collection (none an ASCII letter
// or digit), or right after an anchor, alias or tag name ("&a,", "*a,", "!t,"). Inside a plain
// scalar ("a: b, c?"), a quoted one or a comment it is text. So a text is flagged if it holds a
// ',' or '?' first, after a byte that is not an ASCII letter or digit, or ending a run of name
// bytes that holds '&', '*' or '!'. yaml-cpp's line break is '\n' or "\r\n": a lone '\r' is a
// name byte ("&a\rb," is the anchor "a\rb" and a ','). A text holding a NUL byte is flagged
// whole: yaml-cpp reads UTF-16 and UTF-32 (with or without a BOM), where these bytes are not the
// characters, and every ASCII character there has a NUL byte. This over-approximates (", " in a
// description is flagged), which costs only the guard pass; sigma_test checks it against
// GuardYamlProgress on every short text over YAML's indicators and on random longer ones.
bool sigma_internal::YamlMayStall(std::string_view text) {
  const auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  // One pass (a backward walk per ',' or '?' would be quadratic on "a?a?a?…"): whether the run
  // of bytes since the last blank, line break, ',' or bracket holds '&', '*' or '!'.
  if (text.find('\0') != std::string_view::npos) return true;
  bool name_in_run = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == ',' || c == '?') && (i == 0 || !alnum(text[i - 1]) || name_in_run)) return true;
    if (c == ' ' || c == '\t' || c == '\n' || c == ',' || c == '[' || c == ']' || c == '{' ||
        c == '}') {
      name_in_run = false;
    } else if (c == '&' || c == '*' || c == '!') {
      name_in_run = true;
    }
  }
  return false;
}

namespace {

// YAML::LoadAll, refusing (with yaml-cpp's exception) the inputs it would never return from.
// The guard is a second full parse, so it runs only on texts that could stall (a fifth of
// SigmaHQ's files; yaml-cpp's scanner is most of the rule load).
std::vector<YAML::Node> LoadAllDocuments(const std::string& text) {
  if (YamlMayStall(text)) GuardYamlProgress(text);
  return YAML::LoadAll(text);
}

std::string ScalarOr(const YAML::Node& n, std::string_view fallback = "") {
  if (n && n.IsScalar()) return n.Scalar();
  return std::string(fallback);
}

// A Sigma string value: characters plus which of them are wildcards.
struct Pattern {
  std::string chars;
  std::string mask;  // ' ' literal, '*' or '?'

  void Lit(std::string_view s) {
    chars += s;
    mask.append(s.size(), ' ');
  }
  void Wild(char w) {
    chars += w;
    mask += w;
  }
  bool HasWildcards() const { return mask.find_first_not_of(' ') != std::string::npos; }
};

// Sigma's escapes: \* \? \\ stand for the character; any other backslash is literal.
Pattern ParseSigmaString(std::string_view s) {
  Pattern p;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
      p.Lit(s.substr(++i, 1));
    } else if (c == '*' || c == '?') {
      p.Wild(c);
    } else {
      p.Lit(s.substr(i, 1));
    }
  }
  return p;
}

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         (static_cast<unsigned char>(c) >= 0x80);
}

// windash: every - or / that starts a word (regex \B[-/]\b) in each of its five spellings.
std::vector<Pattern> WindashVariants(const Pattern& p, const YAML::Node& at) {
  static constexpr std::string_view kDashes[] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94",
                                                 "\xE2\x80\x95"};
  std::vector<size_t> positions;
  for (size_t i = 0; i < p.chars.size(); ++i) {
    const char c = p.chars[i];
    if (p.mask[i] != ' ' || (c != '-' && c != '/')) continue;
    const bool prev_word = i > 0 && p.mask[i - 1] == ' ' && IsWordChar(p.chars[i - 1]);
    const bool next_word =
        i + 1 < p.chars.size() && p.mask[i + 1] == ' ' && IsWordChar(p.chars[i + 1]);
    if (!prev_word && next_word) positions.push_back(i);
  }
  if (positions.size() > 3) {
    Unsupported("windash with more than 3 dashes", std::to_string(positions.size()) + " dashes",
                at);
  }
  std::vector<Pattern> out;
  size_t combos = 1;
  for (size_t i = 0; i < positions.size(); ++i) combos *= 5;
  for (size_t k = 0; k < combos; ++k) {
    Pattern v;
    size_t code = k, next = 0;
    for (size_t i = 0; i < p.chars.size(); ++i) {
      if (next < positions.size() && positions[next] == i) {
        v.Lit(kDashes[code % 5]);
        code /= 5;
        ++next;
      } else {
        v.chars += p.chars[i];
        v.mask += p.mask[i];
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// UTF-8 → UTF-16 (le, be); bytes that are not UTF-8 pass as Latin-1.
std::string Utf16(std::string_view s, bool big_endian) {
  std::string out;
  auto put = [&](uint16_t u) {
    if (big_endian) {
      out += static_cast<char>(u >> 8);
      out += static_cast<char>(u & 0xff);
    } else {
      out += static_cast<char>(u & 0xff);
      out += static_cast<char>(u >> 8);
    }
  };
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    uint32_t cp = c;
    size_t len = 1;
    if (c >= 0xC0 && c < 0xE0 && i + 1 < s.size()) {
      cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
      len = 2;
    } else if (c >= 0xE0 && c < 0xF0 && i + 2 < s.size()) {
      cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      len = 3;
    } else if (c >= 0xF0 && i + 3 < s.size()) {
      cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) |
           (s[i + 3] & 0x3F);
      len = 4;
    }
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put(static_cast<uint16_t>(0xD800 + (cp >> 10)));
      put(static_cast<uint16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      put(static_cast<uint16_t>(cp));
    }
  }
  return out;
}

struct Modifiers {
  bool contains = false, startswith = false, endswith = false, all = false;
  bool re = false, re_i = false, re_m = false, re_s = false;
  bool cidr = false, base64 = false, base64offset = false, windash = false, exists = false;
  bool cased = false, fieldref = false, expand = false;
  bool neq = false;  // the item negated (pySigma's SigmaNegateModifier)
  enum Wide { kNone, kLe, kBe, kBom } wide = kNone;
  std::optional<Op> cmp;
  std::optional<TimePart> time;
  // The modifiers that change values, lower-cased, in the rule's order: all but |all and |neq,
  // which act on the item as a whole.
  std::vector<std::string> value_mods;
};

// The time modifiers of the v2.1 appendix.
std::optional<TimePart> TimePartOf(std::string_view mod) {
  static constexpr std::pair<std::string_view, TimePart> kParts[] = {
      {"minute", TimePart::kMinute}, {"hour", TimePart::kHour},   {"day", TimePart::kDay},
      {"week", TimePart::kWeek},     {"month", TimePart::kMonth}, {"year", TimePart::kYear}};
  for (const auto& [name, part] : kParts) {
    if (mod == name) return part;
  }
  return std::nullopt;
}

// The first of m's value modifiers not in `allowed`; empty when there is none.
std::string FirstOtherThan(const Modifiers& m, std::initializer_list<std::string_view> allowed) {
  for (const auto& mod : m.value_mods) {
    if (std::find(allowed.begin(), allowed.end(), mod) == allowed.end()) return mod;
  }
  return "";
}

size_t CountOf(const Modifiers& m, std::initializer_list<std::string_view> names) {
  return static_cast<size_t>(std::count_if(m.value_mods.begin(), m.value_mods.end(), [&](auto& x) {
    return std::find(names.begin(), names.end(), x) != names.end();
  }));
}

// The combinations of the v2.1 appendix's modifiers that pySigma refuses (a modifier given a
// value of a type it does not take: a SigmaTypeError or SigmaValueError there) are errors here,
// never a silently ignored modifier. |all and |neq act on the item and go with every modifier.
void CheckModifierCombination(const Modifiers& m, const YAML::Node& at) {
  auto conflict = [&](std::string_view what, const std::string& other) {
    Invalid("conflicting modifiers", "|" + other + " with " + std::string(what), at);
  };
  if (m.exists) {
    if (auto o = FirstOtherThan(m, {"exists"}); !o.empty()) {
      conflict("|exists (it takes an unmodified true or false)", o);
    }
  }
  const std::initializer_list<std::string_view> kCompare = {"gt", "gte", "lt", "lte"};
  const std::initializer_list<std::string_view> kTime = {"minute", "hour",  "day",
                                                         "week",   "month", "year"};
  if (CountOf(m, kCompare) > 1) conflict("another of gt/gte/lt/lte", m.value_mods.back());
  if (CountOf(m, kTime) > 1) conflict("another time modifier", m.value_mods.back());
  if (m.time) {
    // pySigma: a date part is a number (SigmaTimestampPart is a SigmaNumber), so gt/gte/lt/lte
    // may compare it — after it (`hour|gte`); before it (`gte|hour`) the compare modifier would
    // be given a date, a SigmaTypeError there.
    const auto first_of = [&](std::initializer_list<std::string_view> names) {
      return std::find_if(m.value_mods.begin(), m.value_mods.end(), [&](const std::string& x) {
        return std::find(names.begin(), names.end(), x) != names.end();
      });
    };
    if (m.cmp && first_of(kCompare) < first_of(kTime)) {
      conflict("a time modifier after it (write the time modifier first: |hour|gte)",
               *first_of(kCompare));
    }
    for (const auto& o : m.value_mods) {
      if (std::find(kTime.begin(), kTime.end(), o) == kTime.end() &&
          std::find(kCompare.begin(), kCompare.end(), o) == kCompare.end()) {
        conflict("a time modifier (it takes an integer)", o);
      }
    }
  } else if (m.cmp) {
    if (auto o = FirstOtherThan(m, kCompare); !o.empty()) conflict("|gt/gte/lt/lte (numbers)", o);
  }
  if (m.re) {
    if (m.value_mods.front() != "re") {
      conflict("|re after it (|re applies only to an unmodified value)", m.value_mods.front());
    }
    if (auto o = FirstOtherThan(m, {"re", "i", "ignorecase", "m", "multiline", "s", "dotall",
                                    "contains", "startswith", "endswith", "expand"});
        !o.empty()) {
      conflict("|re", o);
    }
  }
  if (m.cidr) {
    if (auto o = FirstOtherThan(m, {"cidr"}); !o.empty()) conflict("|cidr", o);
  }
  if (m.fieldref) {
    if (auto o = FirstOtherThan(m, {"fieldref", "contains", "startswith", "endswith", "cased"});
        !o.empty()) {
      conflict("|fieldref", o);
    }
  }
  if (CountOf(m, {"utf16le", "wide", "utf16be", "utf16"}) > 1) {
    conflict("another of utf16le/utf16be/utf16/wide", m.value_mods.back());
  }
}

Modifiers ParseModifiers(const std::vector<std::string>& mods, const YAML::Node& at) {
  Modifiers m;
  for (const auto& raw : mods) {
    const std::string mod = Lower(raw);
    if (mod != "all" && mod != "neq") m.value_mods.push_back(mod);
    if (mod == "contains") {
      m.contains = true;
    } else if (mod == "startswith") {
      m.startswith = true;
    } else if (mod == "endswith") {
      m.endswith = true;
    } else if (mod == "all") {
      m.all = true;
    } else if (mod == "neq") {
      m.neq = true;
    } else if (mod == "re") {
      m.re = true;
    } else if (mod == "i" || mod == "ignorecase") {
      m.re_i = true;
    } else if (mod == "m" || mod == "multiline") {
      m.re_m = true;
    } else if (mod == "s" || mod == "dotall") {
      m.re_s = true;
    } else if (mod == "cidr") {
      m.cidr = true;
    } else if (mod == "base64") {
      m.base64 = true;
    } else if (mod == "base64offset") {
      m.base64offset = true;
    } else if (mod == "utf16le" || mod == "wide") {
      m.wide = Modifiers::kLe;
    } else if (mod == "utf16be") {
      m.wide = Modifiers::kBe;
    } else if (mod == "utf16") {
      m.wide = Modifiers::kBom;
    } else if (mod == "windash") {
      m.windash = true;
    } else if (mod == "exists") {
      m.exists = true;
    } else if (mod == "cased") {
      m.cased = true;
    } else if (mod == "fieldref") {
      m.fieldref = true;
    } else if (mod == "gt") {
      m.cmp = Op::kGt;
    } else if (mod == "gte") {
      m.cmp = Op::kGte;
    } else if (mod == "lt") {
      m.cmp = Op::kLt;
    } else if (mod == "lte") {
      m.cmp = Op::kLte;
    } else if (mod == "expand") {
      m.expand = true;
    } else if (auto part = TimePartOf(mod)) {
      m.time = part;
    } else {
      Unsupported("unknown modifier", "|" + raw, at);
    }
  }
  if ((m.re_i || m.re_m || m.re_s) && !m.re) {
    Invalid("regex flag without |re", "i/m/s apply only to |re", at);
  }
  if (m.base64 && m.base64offset) Invalid("conflicting modifiers", "base64 and base64offset", at);
  CheckModifierCombination(m, at);
  if ((m.wide != Modifiers::kNone) && !m.base64 && !m.base64offset) {
    Unsupported("utf16/wide without base64", "seccloud's fields are UTF-8 text", at);
  }
  return m;
}

// A time modifier's value: an integer in the part's range (the v2.1 appendix's, but week 1–53:
// ISO 8601 years have 52 or 53 weeks).
ValueTest TimePartTest(TimePart part, std::optional<Op> cmp, const YAML::Node& v) {
  static constexpr struct {
    const char* name;
    int low, high;
  } kRange[] = {{"minute", 0, 59}, {"hour", 0, 23},  {"day", 1, 31},
                {"week", 1, 53},   {"month", 1, 12}, {"year", 1, 9999}};
  const auto& r = kRange[static_cast<size_t>(part)];
  const std::string s = v.IsScalar() ? v.Scalar() : "";
  int n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (!v.IsScalar() || s.empty() || ec != std::errc() || p != s.data() + s.size() || n < r.low ||
      n > r.high) {
    Invalid("bad value",
            std::string("|") + r.name + " takes an integer " + std::to_string(r.low) + "–" +
                std::to_string(r.high) + ", not \"" + s + "\"",
            v);
  }
  return ValueTest{.op = Op::kTimePart,
                   .cased = true,
                   .number = double(n),
                   .time_part = part,
                   .time_cmp = cmp.value_or(Op::kEquals)};
}

// Turns a pattern into the cheapest equivalent test.
ValueTest Classify(Pattern p, bool cased) {
  ValueTest vt;
  vt.cased = cased;
  // Collapse runs of '*'.
  Pattern q;
  for (size_t i = 0; i < p.chars.size(); ++i) {
    if (p.mask[i] == '*' && !q.mask.empty() && q.mask.back() == '*') continue;
    q.chars += p.chars[i];
    q.mask += p.mask[i];
  }
  const size_t n = q.chars.size();
  const bool lead = n > 0 && q.mask[0] == '*';
  const bool trail = n > (lead ? 1u : 0u) && q.mask[n - 1] == '*';
  const size_t inner_begin = lead ? 1 : 0, inner_end = trail ? n - 1 : n;
  const bool inner_wild =
      q.mask.substr(inner_begin, inner_end - inner_begin).find_first_not_of(' ') !=
      std::string::npos;
  if (!inner_wild) {
    vt.lit = q.chars.substr(inner_begin, inner_end - inner_begin);
    vt.op = lead && trail ? Op::kContains
            : lead        ? Op::kEndsWith
            : trail       ? Op::kStartsWith
                          : Op::kEquals;
  } else {
    vt.op = Op::kGlob;
    vt.lit = std::move(q.chars);
    vt.mask = std::move(q.mask);
  }
  if (!cased) vt.lit = Lower(vt.lit);
  return vt;
}

// A selection name's equality for the name → selection map, counted
// (sigma_internal::condition_name_comparisons): the map's hash codes are cached, so a lookup
// compares one name, or none for a name no selection has.
struct CountedNameEqual {
  bool operator()(const std::string& a, const std::string& b) const {
    ++sigma_internal::condition_name_comparisons;
    return a == b;
  }
};

// What conditions expanded to: the selection references, and the value tests those references
// copy. Summed over one file's documents (kMaxConditionRefs, kMaxConditionValueRefs) and over the
// whole load (kMaxLoadConditionRefs, kMaxLoadConditionValueRefs).
struct ConditionRefs {
  size_t refs = 0;
  size_t values = 0;
};

class DocumentCompiler {
 public:
  // `file_refs` counts what the conditions expanded to, summed over the documents of one file
  // (kMaxConditionRefs, kMaxConditionValueRefs); `load_refs`, when not null, the same summed over
  // the load (kMaxLoadConditionRefs, kMaxLoadConditionValueRefs). A charge past either bound is
  // refused whole ("document too large" / "load too large"); the caller refunds what a refused
  // document was charged.
  DocumentCompiler(FieldTable* fields, size_t* budget, ConditionRefs* file_refs,
                   ConditionRefs* load_refs, const RuleLoadOptions* options)
      : fields_(fields),
        budget_(budget),
        file_refs_(file_refs),
        load_refs_(load_refs),
        options_(options) {}

  void Visit(const YAML::Node& at) {
    if (++*budget_ > kMaxRuleNodes) {
      Invalid("document too large", "more than " + std::to_string(kMaxRuleNodes) + " YAML nodes",
              at);
    }
  }

  // Compiles `detection` under a field style; throws RuleProblem.
  CompiledRule Compile(const YAML::Node& detection, FieldStyle style) {
    style_ = style;
    CompiledRule out;
    if (!detection || !detection.IsMap())
      Invalid("no detection", "detection must be a map", detection);
    const YAML::Node condition = detection["condition"];
    for (const auto& kv : detection) {
      Visit(kv.first);
      const std::string name = ScalarOr(kv.first);
      if (name == "condition") continue;
      if (name == "timeframe") continue;  // only meaningful with v1 aggregations (refused below)
      out.selections.push_back(CompileSelection(name, kv.second));
    }
    if (!condition) Invalid("no condition", "detection has no condition", detection);
    // The first of two selections of one name is the one a condition names.
    selection_index_.clear();
    selection_index_.reserve(out.selections.size());
    selection_values_.assign(out.selections.size(), 0);
    for (size_t i = 0; i < out.selections.size(); ++i) {
      selection_index_.emplace(out.selections[i].name, static_cast<int>(i));
      for (const auto& group : out.selections[i].any_of) {
        for (const auto& ft : group) selection_values_[i] += 1 + ft.values.size();
      }
    }
    if (condition.IsSequence()) {
      out.root.kind = Node::kOr;
      for (const auto& c : condition) out.root.kids.push_back(ParseCondition(ScalarOr(c), out, c));
      if (out.root.kids.empty()) Invalid("empty condition", "", condition);
    } else if (condition.IsScalar()) {
      out.root = ParseCondition(condition.Scalar(), out, condition);
    } else {
      Invalid("bad condition", "condition must be a string or a list of strings", condition);
    }
    return out;
  }

  int FieldId(std::string_view name) { return fields_->Intern(MapFieldName(style_, name)); }

 private:
  Selection CompileSelection(const std::string& name, const YAML::Node& n) {
    Visit(n);
    Selection sel;
    sel.name = name;
    if (n.IsMap()) {
      for (auto& alt : CompileMap(n)) sel.any_of.push_back(std::move(alt));
    } else if (n.IsSequence()) {
      std::vector<ValueTest> keywords;
      for (const auto& item : n) {
        Visit(item);
        if (item.IsMap()) {
          for (auto& alt : CompileMap(item)) sel.any_of.push_back(std::move(alt));
        } else if (item.IsScalar()) {
          auto kw = KeywordTest(item);
          keywords.insert(keywords.end(), kw.begin(), kw.end());
        } else {
          Invalid("bad selection", "selection " + name + " holds a nested list or null", item);
        }
      }
      if (!keywords.empty()) {
        sel.any_of.push_back({FieldTest{kKeywordField, false, std::move(keywords)}});
      }
    } else if (n.IsScalar()) {
      sel.any_of.push_back({FieldTest{kKeywordField, false, KeywordTest(n)}});
    } else {
      Invalid("bad selection", "selection " + name + " is empty", n);
    }
    if (sel.any_of.empty()) Invalid("bad selection", "selection " + name + " is empty", n);
    return sel;
  }

  std::vector<ValueTest> KeywordTest(const YAML::Node& item) {
    Pattern p = ParseSigmaString(item.Scalar());
    Pattern wrapped;
    wrapped.Wild('*');
    wrapped.chars += p.chars;
    wrapped.mask += p.mask;
    wrapped.Wild('*');
    return {Classify(std::move(wrapped), false)};
  }

  // A |expand value cut into literal text and %name% placeholders, in order; a lone '%' is text.
  struct ValuePart {
    std::string text;  // the literal, or the placeholder's name
    bool placeholder = false;
  };
  static std::vector<ValuePart> SplitPlaceholders(const std::string& value) {
    std::vector<ValuePart> out;
    size_t pos = 0;
    while (pos < value.size()) {
      const size_t open = value.find('%', pos);
      const size_t close = open == std::string::npos ? open : value.find('%', open + 1);
      if (close == std::string::npos) {
        out.push_back({value.substr(pos), false});
        break;
      }
      if (open > pos) out.push_back({value.substr(pos, open - pos), false});
      out.push_back({value.substr(open + 1, close - open - 1), true});
      pos = close + 1;
    }
    return out;
  }

  // The values a |expand value stands for, under the global placeholder map (tenant "") or a
  // tenant's (whose values add to the global ones). Empty: nothing mapped there.
  std::vector<std::string> ExpandValue(const std::string& value, const std::string& tenant,
                                       const YAML::Node& at) {
    std::vector<std::string> out{""};
    for (const ValuePart& part : SplitPlaceholders(value)) {
      if (!part.placeholder) {
        for (auto& o : out) o += part.text;
        continue;
      }
      std::vector<std::string> values;
      auto add = [&](const std::map<std::string, std::vector<std::string>>& map) {
        if (auto it = map.find(part.text); it != map.end())
          values.insert(values.end(), it->second.begin(), it->second.end());
      };
      if (options_ != nullptr) {
        add(options_->placeholders);
        if (!tenant.empty()) {
          if (auto t = options_->tenant_placeholders.find(tenant);
              t != options_->tenant_placeholders.end())
            add(t->second);
        }
      }
      if (values.empty()) return {};
      std::vector<std::string> next;
      for (const auto& o : out) {
        for (const auto& v : values) {
          if (next.size() >= kMaxExpandedValues) {
            Unsupported("placeholder expands to too many values",
                        "more than " + std::to_string(kMaxExpandedValues), at);
          }
          next.push_back(o + v);
        }
      }
      out = std::move(next);
    }
    return out;
  }

  // Placeholder names in a value ("%Admins%" → Admins).
  static std::vector<std::string> PlaceholderNames(const std::string& value) {
    std::vector<std::string> out;
    for (const ValuePart& part : SplitPlaceholders(value))
      if (part.placeholder) out.push_back(part.text);
    return out;
  }

  // A map is an AND of field tests. With |expand values it becomes alternatives: one under the
  // global placeholder values, and one per tenant with its own values (guarded by tenant.id).
  std::vector<std::vector<FieldTest>> CompileMap(const YAML::Node& n) {
    std::set<std::string> tenants;
    bool expands = false;
    bool negated_expand = false;  // an |expand|neq item
    for (const auto& kv : n) {
      if (!kv.first.IsScalar() || kv.first.Scalar().find("|") == std::string::npos) continue;
      const std::string key = Lower(kv.first.Scalar());
      if (key.find("|expand") == std::string::npos) continue;
      expands = true;
      if ((key + "|").find("|neq|") != std::string::npos) negated_expand = true;
      std::vector<YAML::Node> values;
      if (kv.second.IsSequence()) {
        for (const auto& v : kv.second) values.push_back(v);
      } else {
        values.push_back(kv.second);
      }
      for (const auto& v : values) {
        if (!v.IsScalar()) continue;
        const auto names = PlaceholderNames(v.Scalar());
        if (names.empty()) Invalid("bad value", "|expand needs a %placeholder%", v);
        for (const auto& name : names) {
          bool mapped = options_ != nullptr && options_->placeholders.contains(name);
          if (options_ != nullptr) {
            for (const auto& [t, map] : options_->tenant_placeholders) {
              if (map.contains(name)) {
                tenants.insert(t);
                mapped = true;
              }
            }
          }
          if (!mapped) {
            Unsupported("placeholder not mapped",
                        "%" + name + "% (add it to soc.placeholders or soc.tenant_placeholders)",
                        v);
          }
        }
      }
    }
    std::vector<std::vector<FieldTest>> out;
    if (!expands) {
      out.push_back(CompileMapFor(n, ""));
      return out;
    }
    if (auto global = CompileMapFor(n, ""); !global.empty()) {
      if (negated_expand && !tenants.empty()) {
        // A tenant with values of its own is its alternative's alone (global values and its
        // own): NOT(x among the global values) must not answer for a value only it maps.
        FieldTest other_tenant{fields_->Intern({"tenant.id"}), false, {}};
        other_tenant.negated = true;
        for (const auto& t : tenants) {
          other_tenant.values.push_back(ValueTest{.op = Op::kEquals, .cased = true, .lit = t});
        }
        global.push_back(std::move(other_tenant));
      }
      out.push_back(std::move(global));
    }
    for (const auto& t : tenants) {
      auto alt = CompileMapFor(n, t);
      if (alt.empty()) continue;
      ValueTest is_tenant{.op = Op::kEquals, .cased = true, .lit = t};
      alt.push_back(FieldTest{fields_->Intern({"tenant.id"}), false, {std::move(is_tenant)}});
      out.push_back(std::move(alt));
    }
    if (out.empty()) Unsupported("placeholder not mapped", "no values for this selection", n);
    return out;
  }

  // One alternative of a map under `tenant`'s placeholder values ("": global); empty when an
  // |expand field has no values there.
  std::vector<FieldTest> CompileMapFor(const YAML::Node& n, const std::string& tenant) {
    std::vector<FieldTest> group;
    for (const auto& kv : n) {
      Visit(kv.first);
      Visit(kv.second);
      if (!kv.first.IsScalar()) Invalid("bad field", "a field name must be a string", kv.first);
      const std::string key = kv.first.Scalar();
      std::vector<std::string> parts;
      size_t start = 0;
      while (true) {
        const size_t bar = key.find('|', start);
        parts.push_back(key.substr(start, bar - start));
        if (bar == std::string::npos) break;
        start = bar + 1;
      }
      const std::string field = parts.front();
      parts.erase(parts.begin());
      Modifiers mods = ParseModifiers(parts, kv.first);
      FieldTest test;
      test.field = field.empty() ? kKeywordField : FieldId(field);
      // Keywords in a map ('|all': [a, b], '|windash': …) search the text anywhere, as a keyword
      // list does (KeywordTest): a plain value is a contains-test, never whole-text equality.
      // Values anchored by their own modifiers (startswith, endswith, re, cidr, …) keep them.
      if (test.field == kKeywordField && !mods.contains && !mods.startswith && !mods.endswith &&
          !mods.re && !mods.cidr && !mods.exists && !mods.cmp && !mods.fieldref) {
        mods.contains = true;
      }
      test.all = mods.all;
      test.negated = mods.neq;
      if (field.empty() && (mods.exists || mods.fieldref || mods.time)) {
        Invalid("conflicting modifiers", "|exists, |fieldref and the time modifiers need a field",
                kv.first);
      }
      std::vector<YAML::Node> values;
      if (kv.second.IsSequence()) {
        for (const auto& v : kv.second) {
          Visit(v);
          values.push_back(v);
        }
        if (values.empty()) Invalid("empty value list", "field " + field, kv.second);
      } else if (kv.second.IsMap()) {
        Invalid("bad value", "the value of " + field + " is a map", kv.second);
      } else {
        values.push_back(kv.second);
      }
      if (mods.expand) {
        std::vector<YAML::Node> expanded;
        for (const auto& v : values) {
          if (!v.IsScalar()) Invalid("bad value", "|expand values must be strings", v);
          for (auto& x : ExpandValue(v.Scalar(), tenant, v)) {
            YAML::Node node(x);
            expanded.push_back(node);
          }
        }
        // No values here: the item cannot hold, the alternative neither — but for |neq, where
        // NOT(x among no values) holds.
        if (expanded.empty() && !mods.neq) return {};
        values = std::move(expanded);
      }
      for (const auto& v : values) {
        const size_t before = test.values.size();
        AddValueTests(field, mods, v, &test.values);
        compiled_values_ += test.values.size() - before;
        if (compiled_values_ > kMaxRuleValues) {
          Invalid("document too large",
                  "more than " + std::to_string(kMaxRuleValues) + " values after modifiers", v);
        }
      }
      group.push_back(std::move(test));
    }
    if (group.empty()) Invalid("bad selection", "empty map", n);
    return group;
  }

  void AddValueTests(const std::string& field, const Modifiers& m, const YAML::Node& v,
                     std::vector<ValueTest>* out) {
    if (m.time) {
      out->push_back(TimePartTest(*m.time, m.cmp, v));
      return;
    }
    if (v.IsNull()) {
      out->push_back(ValueTest{.op = Op::kNull});
      return;
    }
    if (!v.IsScalar()) Invalid("bad value", "the values of " + field + " must be scalars", v);
    const std::string& s = v.Scalar();
    if (m.exists) {
      const std::string b = Lower(s);
      if (b != "true" && b != "false") Invalid("bad value", "|exists takes true or false", v);
      out->push_back(ValueTest{.op = b == "true" ? Op::kExists : Op::kNotExists});
      return;
    }
    if (m.cmp) {
      double d;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec != std::errc() || p != s.data() + s.size()) {
        Invalid("bad value", "|gt/gte/lt/lte need a number, not \"" + s + "\"", v);
      }
      out->push_back(ValueTest{.op = *m.cmp, .number = d});
      return;
    }
    if (m.re) {
      RE2::Options o;
      o.set_log_errors(false);
      o.set_case_sensitive(!m.re_i);
      o.set_dot_nl(m.re_s);
      o.set_max_mem(kMaxRegexMemory);
      if (++regexes_ > kMaxRuleRegexes) {
        Unsupported("too many regexes", "more than " + std::to_string(kMaxRuleRegexes), v);
      }
      auto re = std::make_shared<RE2>(m.re_m ? "(?m)" + s : s, o);
      if (!re->ok()) Unsupported("regex not supported by RE2", re->error(), v);
      out->push_back(ValueTest{.op = Op::kRegex, .cased = true, .re = std::move(re)});
      return;
    }
    if (m.cidr) {
      ValueTest vt{.op = Op::kCidr};
      if (!ParseCidr(s, &vt)) Invalid("bad value", "\"" + s + "\" is not a CIDR", v);
      out->push_back(std::move(vt));
      return;
    }
    if (m.fieldref) {
      if (m.contains + m.startswith + m.endswith > 1) {
        Invalid("conflicting modifiers", "fieldref takes one of contains/startswith/endswith", v);
      }
      const Op how = m.contains     ? Op::kContains
                     : m.startswith ? Op::kStartsWith
                     : m.endswith   ? Op::kEndsWith
                                    : Op::kEquals;
      out->push_back(
          ValueTest{.op = Op::kFieldRef, .cased = m.cased, .ref_field = FieldId(s), .ref_op = how});
      return;
    }
    std::vector<Pattern> variants{ParseSigmaString(s)};
    if (m.windash) variants = WindashVariants(variants.front(), v);
    bool cased = m.cased;
    if (m.base64 || m.base64offset) {
      cased = true;  // base64 text is case-sensitive
      std::vector<Pattern> encoded;
      for (const auto& p : variants) {
        if (p.HasWildcards()) Unsupported("wildcards inside base64 values", field, v);
        std::string bytes = p.chars;
        if (m.wide == Modifiers::kLe) bytes = Utf16(bytes, false);
        if (m.wide == Modifiers::kBe) bytes = Utf16(bytes, true);
        if (m.wide == Modifiers::kBom) bytes = "\xFF\xFE" + Utf16(bytes, false);
        if (m.base64) {
          Pattern e;
          e.Lit(Base64(bytes));
          encoded.push_back(std::move(e));
        } else {
          static constexpr size_t kStart[] = {0, 2, 3};
          static constexpr size_t kEndCut[] = {0, 3, 2};
          for (size_t i = 0; i < 3; ++i) {
            std::string enc = Base64(std::string(i, ' ') + bytes);
            const size_t cut = kEndCut[(bytes.size() + i) % 3];
            if (enc.size() < kStart[i] + cut) continue;
            Pattern e;
            e.Lit(std::string_view(enc).substr(kStart[i], enc.size() - kStart[i] - cut));
            encoded.push_back(std::move(e));
          }
        }
      }
      variants = std::move(encoded);
    }
    for (auto& p : variants) {
      Pattern w;
      if (m.contains || m.endswith) w.Wild('*');
      w.chars += p.chars;
      w.mask += p.mask;
      if (m.contains || m.startswith) w.Wild('*');
      out->push_back(Classify(std::move(w), cased));
    }
  }

  // condition grammar: or := and ('or' and)*; and := unary ('and' unary)*;
  // unary := 'not' unary | '(' or ')' | ('1'|'all') 'of' (pattern|'them') | name
  struct Parser {
    DocumentCompiler* self;
    const CompiledRule* rule;
    const YAML::Node* at;
    std::string_view text;
    size_t pos = 0;
    int depth = 0;
    std::string tok;

    [[noreturn]] void Fail(const std::string& what) {
      Invalid("condition syntax", what + " in \"" + std::string(text) + "\"", *at);
    }

    std::string Peek() {
      size_t save = pos;
      std::string t = Next();
      pos = save;
      return t;
    }
    std::string Next() {
      while (pos < text.size() &&
             (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) {
        ++pos;
      }
      if (pos >= text.size()) return "";
      const char c = text[pos];
      if (c == '(' || c == ')') {
        ++pos;
        return std::string(1, c);
      }
      if (c == '|') {
        Unsupported("condition aggregation (Sigma v1 | count() …)",
                    "use a correlation rule instead", *at);
      }
      size_t start = pos;
      while (pos < text.size() && text[pos] != ' ' && text[pos] != '\t' && text[pos] != '(' &&
             text[pos] != ')' && text[pos] != '|' && text[pos] != '\n' && text[pos] != '\r') {
        ++pos;
      }
      return std::string(text.substr(start, pos - start));
    }

    Node Or() {
      Node first = And();
      if (Lower(Peek()) != "or") return first;
      Node n{Node::kOr};
      n.kids.push_back(std::move(first));
      while (Lower(Peek()) == "or") {
        Next();
        n.kids.push_back(And());
      }
      return n;
    }
    Node And() {
      Node first = Unary();
      if (Lower(Peek()) != "and") return first;
      Node n{Node::kAnd};
      n.kids.push_back(std::move(first));
      while (Lower(Peek()) == "and") {
        Next();
        n.kids.push_back(Unary());
      }
      return n;
    }
    Node Unary() {
      if (++depth > 64) Fail("nested deeper than 64");
      std::string t = Next();
      const std::string lt = Lower(t);
      Node out;
      if (t.empty()) {
        Fail("unexpected end");
      } else if (lt == "not") {
        out.kind = Node::kNot;
        out.kids.push_back(Unary());
      } else if (t == "(") {
        out = Or();
        if (Next() != ")") Fail("missing )");
      } else if (t == ")") {
        Fail("unexpected )");
      } else if (lt == "and" || lt == "or") {
        Fail("unexpected " + t);
      } else if ((lt == "1" || lt == "all" || lt == "any") && Lower(Peek()) == "of") {
        Next();
        const std::string target = Next();
        if (target.empty() || target == "(" || target == ")") Fail("of without a target");
        // Charged before the scan: the scan and the copies are what the budget bounds.
        Charge(rule->selections.size());
        out.kind = lt == "all" ? Node::kAnd : Node::kOr;
        const bool them = Lower(target) == "them";
        const std::string mask = WildMask(target);
        size_t values = 0;
        for (size_t i = 0; i < rule->selections.size(); ++i) {
          const std::string& name = rule->selections[i].name;
          const bool hit = them ? !name.starts_with("_") : GlobMatch(name, target, mask);
          if (hit) {
            out.kids.push_back(Node{Node::kSelection, static_cast<int>(i)});
            values += self->selection_values_[i];
          }
        }
        ChargeValues(values);
        if (out.kids.empty()) {
          Invalid("condition names unknown selection", target, *at);
        }
      } else {
        Charge(1);
        const auto it = self->selection_index_.find(t);
        if (it == self->selection_index_.end()) {
          Invalid("condition names unknown selection", t, *at);
        }
        out = Node{Node::kSelection, it->second};
        ChargeValues(self->selection_values_[static_cast<size_t>(it->second)]);
      }
      --depth;
      return out;
    }

    // Each reference is a copy of its selection in the condition tree and in the engine's
    // expressions: `1 of s*` repeated over many selections would be quadratic in the input.
    void Charge(size_t refs) {
      Charge(self->file_refs_->refs, kMaxConditionRefs, refs, "document too large", [] {
        return "condition expands to more than " + std::to_string(kMaxConditionRefs) +
               " selection references (summed over the file's documents)";
      });
      if (self->load_refs_ == nullptr) return;
      const size_t load = self->load_refs_->refs;
      Charge(self->load_refs_->refs, kMaxLoadConditionRefs, refs, "load too large", [load] {
        return "condition expands past the " + std::to_string(kMaxLoadConditionRefs) +
               " selection references the rules of one load may expand to together (" +
               std::to_string(load) + " already taken)";
      });
    }

    // ...and each copy costs the engine its selection's field and value tests: a selection of
    // 50,000 values named 10,000 times stays under kMaxConditionRefs but is 5·10⁸ tests to build.
    void ChargeValues(size_t values) {
      Charge(self->file_refs_->values, kMaxConditionValueRefs, values, "document too large", [] {
        return "condition copies more than " + std::to_string(kMaxConditionValueRefs) +
               " field and value tests (each reference copies its selection's; summed over "
               "the file's documents)";
      });
      if (self->load_refs_ == nullptr) return;
      const size_t load = self->load_refs_->values;
      Charge(self->load_refs_->values, kMaxLoadConditionValueRefs, values, "load too large",
             [load] {
               return "condition copies past the " + std::to_string(kMaxLoadConditionValueRefs) +
                      " field and value tests the rules of one load may copy together (" +
                      std::to_string(load) + " already taken)";
             });
    }

    // Adds n to `used`, or refuses the document (`reason`, detail()) when that would pass `bound`.
    // What a refused document charged is refunded by its caller (the budgets are restored), so
    // a failed charge may leave an earlier one of the same reference in place. detail() is built
    // only on refusal: a charge is made per condition name.
    template <typename Detail>
    void Charge(size_t& used, size_t bound, size_t n, const char* reason, Detail detail) {
      if (n > bound - std::min(used, bound)) Invalid(reason, detail(), *at);
      used += n;
    }

    static std::string WildMask(std::string_view p) {
      std::string m(p.size(), ' ');
      for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '*' || p[i] == '?') m[i] = p[i];
      }
      return m;
    }
  };

  Node ParseCondition(const std::string& text, const CompiledRule& rule, const YAML::Node& at) {
    Parser p{this, &rule, &at, text};
    Node n = p.Or();
    if (!p.Next().empty()) p.Fail("trailing tokens");
    return n;
  }

  FieldTable* fields_;
  size_t* budget_;
  ConditionRefs* file_refs_;
  ConditionRefs* load_refs_;  // null for a filter (bounded per compile and by its applied size)
  // The rule being compiled: selection name → its index in CompiledRule::selections, and each
  // selection's field and value tests (what a reference to it copies).
  std::unordered_map<std::string, int, std::hash<std::string>, CountedNameEqual> selection_index_;
  std::vector<size_t> selection_values_;
  const RuleLoadOptions* options_;
  size_t compiled_values_ = 0;
  size_t regexes_ = 0;
  FieldStyle style_ = FieldStyle::kPlain;
};

// Nodes reachable from n, aliases counted each time they are reached (what a Clone copies);
// stops counting past `limit`.
size_t CountNodes(const YAML::Node& n, size_t limit, size_t depth = 0) {
  if (depth > kMaxRuleYamlDepth) return limit + 1;
  size_t count = 1;
  if (n.IsMap()) {
    for (const auto& kv : n) {
      if (count > limit) break;
      count += CountNodes(kv.first, limit, depth + 1) + CountNodes(kv.second, limit, depth + 1);
    }
  } else if (n.IsSequence()) {
    for (const auto& item : n) {
      if (count > limit) break;
      count += CountNodes(item, limit, depth + 1);
    }
  }
  return count;
}

YAML::Node Merge(const YAML::Node& base, const YAML::Node& over, int depth = 0) {
  if (depth > static_cast<int>(kMaxRuleYamlDepth) || !base.IsMap() || !over.IsMap()) {
    return YAML::Clone(over);
  }
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    const std::string key = ScalarOr(kv.first);
    if (key == "action") continue;
    const YAML::Node existing = static_cast<const YAML::Node&>(out)[key];
    if (existing && existing.IsMap() && kv.second.IsMap()) {
      out[key] = Merge(existing, kv.second, depth + 1);
    } else {
      out[key] = YAML::Clone(kv.second);
    }
  }
  return out;
}

int64_t ParseTimespanMs(const std::string& s, const YAML::Node& at) {
  int64_t n = 0;
  if (s.size() < 2) Invalid("bad timespan", "\"" + s + "\"", at);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, n);
  if (ec != std::errc() || p != s.data() + s.size() - 1 || n <= 0) {
    Invalid("bad timespan", "\"" + s + "\" (want a number and s, m, h or d)", at);
  }
  int64_t unit = 0;
  switch (s.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60'000;
      break;
    case 'h':
      unit = 3'600'000;
      break;
    case 'd':
      unit = 86'400'000;
      break;
    default:
      Invalid("bad timespan", "\"" + s + "\" (unit must be s, m, h or d)", at);
  }
  if (n > int64_t{31} * 86'400'000 / unit) Unsupported("timespan longer than 31 days", s, at);
  return n * unit;
}

// A correlation as written, resolved once every file is loaded.
struct PendingCorrelation {
  CorrelationRule rule;
  std::vector<std::string> refs;
  std::map<std::string, std::map<std::string, std::string>> aliases;  // alias → rule → field
  std::string value_field;
  YAML::Mark mark;
};

class Loader {
 public:
  Loader(LoadReport* report, const RuleLoadOptions* options) : report_(report), options_(options) {}

  void AddText(std::string_view text, const std::string& name) {
    ++report_->files;
    std::string why;
    if (!PreScan(text, &why)) {
      AddIssue(false, name, YAML::Mark::null_mark(), "", "", "file refused", why);
      ++report_->file_issues;
      return;
    }
    std::vector<YAML::Node> docs;
    try {
      docs = LoadAllDocuments(std::string(text));
    } catch (const YAML::Exception& e) {
      AddIssue(false, name, e.mark, "", "", "YAML syntax", e.msg);
      ++report_->file_issues;
      return;
    } catch (const std::exception& e) {
      AddIssue(false, name, YAML::Mark::null_mark(), "", "", "YAML syntax", e.what());
      ++report_->file_issues;
      return;
    }
    // yaml-cpp's Node::operator= writes through to the node referred to; optional rebinds.
    std::optional<YAML::Node> global, previous;
    for (const auto& raw_doc : docs) {
      bool counted = false;  // whether the document is in report_->documents
      try {
        if (raw_doc.IsNull()) continue;
        if (!raw_doc.IsMap()) {
          AddIssue(false, name, raw_doc.Mark(), "", "", "not a rule", "the document is not a map");
          ++report_->file_issues;
          continue;
        }
        const std::string action = ScalarOr(raw_doc["action"]);
        // pySigma's from_dicts: a filter document is read as written — the global header is not
        // merged into it — and is not the rule a later `repeat` repeats (only rules are).
        const bool filter_doc = action.empty() && raw_doc["filter"] && !raw_doc["correlation"];
        std::optional<YAML::Node> doc;
        if (action == "global" || action == "repeat" || global || previous) {
          // Merging clones: refuse documents whose aliases would expand beyond the bound.
          if (CountNodes(raw_doc, kMaxRuleNodes) > kMaxRuleNodes) {
            AddIssue(false, name, raw_doc.Mark(), "", "", "document too large",
                     "more than " + std::to_string(kMaxRuleNodes) + " YAML nodes with aliases");
            ++report_->file_issues;
            continue;
          }
        }
        if (action == "global") {
          global.emplace(raw_doc);
          continue;
        } else if (action == "reset") {
          global.reset();
          continue;
        } else if (action == "repeat") {
          if (!previous) {
            AddIssue(false, name, raw_doc.Mark(), "", "", "repeat without a previous rule", "");
            ++report_->file_issues;
            continue;
          }
          doc.emplace(Merge(*previous, raw_doc));
        } else if (!action.empty()) {
          AddIssue(false, name, raw_doc.Mark(), "", "", "unknown action", action);
          ++report_->file_issues;
          continue;
        } else {
          doc.emplace(global && !filter_doc ? Merge(*global, raw_doc) : raw_doc);
        }
        if (!filter_doc) previous.emplace(*doc);
        ++report_->documents;
        counted = true;
        AddDocument(*doc, name, raw_doc.Mark());
      } catch (const YAML::Exception& e) {
        AddIssue(false, name, e.mark, "", "", "bad rule structure", e.msg);
        if (!counted) ++report_->file_issues;
      } catch (const std::exception& e) {
        AddIssue(false, name, raw_doc.Mark(), "", "", "bad rule structure", e.what());
        if (!counted) ++report_->file_issues;
      }
    }
  }

  RuleSet Finish() {
    ApplyFilters();
    ResolveCorrelations();
    RuleSet set;
    set.rules = std::move(rules_);
    set.correlations = std::move(correlations_);
    for (auto& pf : filters_) {
      if (pf.loaded) set.filters.push_back(std::move(pf.filter));
    }
    report_->filters_loaded = set.filters.size();
    set.fields = std::move(fields_);
    report_->rules_loaded = set.rules.size();
    report_->correlations_loaded = set.correlations.size();
    report_->condition_refs = load_condition_refs_.refs;
    report_->condition_value_refs = load_condition_refs_.values;
    return set;
  }

 private:
  void AddIssue(bool unsupported, const std::string& file, const YAML::Mark& mark,
                const std::string& id, const std::string& title, std::string reason,
                std::string detail) {
    LoadIssue issue;
    issue.file = file;
    if (!mark.is_null()) {
      issue.line = mark.line + 1;
      issue.column = mark.column + 1;
    }
    issue.rule_id = id;
    issue.title = title;
    issue.reason = std::move(reason);
    issue.detail = std::move(detail);
    (unsupported ? report_->unsupported : report_->errors).push_back(std::move(issue));
  }

  void AddDocument(const YAML::Node& doc, const std::string& file, const YAML::Mark& mark) {
    const std::string title = ScalarOr(doc["title"]);
    const std::string name = ScalarOr(doc["name"]);
    std::string id = ScalarOr(doc["id"]);
    if (id.empty()) id = !name.empty() ? name : title;
    if (doc["filter"] && !doc["correlation"]) return AddFilter(doc, file, mark, id, name, title);
    size_t budget = 0;
    // A refused document leaves the condition budgets as it found them: the documents after it,
    // in its file and in the load, have what it would have taken.
    ConditionRefs& file_refs = condition_refs_[file];
    const ConditionRefs file_before = file_refs;
    const ConditionRefs load_before = load_condition_refs_;
    auto refund = [&] {
      file_refs = file_before;
      load_condition_refs_ = load_before;
    };
    try {
      if (title.empty()) Invalid("no title", "every rule needs a title", doc);
      Level level = Level::kMedium;
      if (const auto l = doc["level"]; l) {
        if (!l.IsScalar() || !ParseLevelName(Lower(l.Scalar()), &level)) {
          Invalid("bad level", ScalarOr(l, "(not a string)"), l);
        }
      }
      std::vector<std::string> tags;
      if (const auto t = doc["tags"]; t && t.IsSequence()) {
        for (const auto& tag : t) tags.push_back(ScalarOr(tag));
      }
      if (const auto c = doc["correlation"]; c) {
        AddCorrelation(doc, c, file, id, name, title, level, std::move(tags));
        return;
      }
      const auto ls = doc["logsource"];
      if (!ls || !ls.IsMap()) Invalid("no logsource", "logsource must be a map", doc);
      SigmaRule rule;
      rule.id = id;
      rule.name = name;
      rule.title = title;
      rule.description = ScalarOr(doc["description"]);
      rule.status = ScalarOr(doc["status"]);
      rule.level = level;
      rule.tags = std::move(tags);
      rule.product = ScalarOr(ls["product"]);
      rule.category = ScalarOr(ls["category"]);
      rule.service = ScalarOr(ls["service"]);
      rule.file = file;
      rule.line = mark.is_null() ? 0 : mark.line + 1;
      LogsourceMapping mapping;
      std::string reason;
      const bool mapped =
          MapLogsource(rule.product, rule.category, rule.service, &mapping, &reason);
      DocumentCompiler compiler(fields_.get(), &budget, &file_refs, &load_condition_refs_,
                                options_);
      CompiledRule compiled = compiler.Compile(doc["detection"], mapping.style);
      if (!mapped) {
        Unsupported("logsource not collected: " +
                        (rule.product.empty() ? "category " + rule.category : rule.product),
                    reason, ls);
      }
      compiled.logsource = std::move(mapping);
      rule.compiled = std::make_shared<const CompiledRule>(std::move(compiled));
      rules_.push_back(std::move(rule));
    } catch (const RuleProblem& p) {
      refund();
      failed_refs_[id] = p.reason;
      if (!name.empty()) failed_refs_[name] = p.reason;
      AddIssue(p.unsupported, file, p.mark.is_null() ? mark : p.mark, id, title, p.reason,
               p.detail);
    } catch (...) {
      refund();
      throw;
    }
  }

  void AddCorrelation(const YAML::Node& doc, const YAML::Node& c, const std::string& file,
                      const std::string& id, const std::string& name, const std::string& title,
                      Level level, std::vector<std::string> tags) {
    if (!c.IsMap()) Invalid("bad correlation", "correlation must be a map", c);
    PendingCorrelation pc;
    pc.mark = doc.Mark();
    CorrelationRule& r = pc.rule;
    r.id = id;
    r.name = name;
    r.title = title;
    r.description = ScalarOr(doc["description"]);
    r.level = level;
    r.tags = std::move(tags);
    r.file = file;
    r.line = pc.mark.is_null() ? 0 : pc.mark.line + 1;
    const std::string type = ScalarOr(c["type"]);
    if (type == "event_count") {
      r.type = CorrelationType::kEventCount;
    } else if (type == "value_count") {
      r.type = CorrelationType::kValueCount;
    } else if (type == "temporal") {
      r.type = CorrelationType::kTemporal;
    } else if (type == "temporal_ordered") {
      r.type = CorrelationType::kTemporalOrdered;
    } else if (type == "seccloud-absence") {
      r.type = CorrelationType::kAbsence;
    } else if (!ParseMetricType(type, &r.type)) {
      Unsupported("correlation type", type.empty() ? "(missing)" : type, c);
    }
    const auto rules = c["rules"];
    if (rules && rules.IsScalar()) {
      pc.refs.push_back(rules.Scalar());
    } else if (rules && rules.IsSequence()) {
      for (const auto& x : rules) pc.refs.push_back(ScalarOr(x));
    }
    const bool temporal =
        r.type == CorrelationType::kTemporal || r.type == CorrelationType::kTemporalOrdered;
    const bool expression = temporal && c["condition"] && c["condition"].IsScalar();
    // pySigma: without `rules` (or with `rules: ~` or an empty list), the rules are those the
    // expression names, in order.
    const bool names_from_expression =
        expression && (!rules || rules.IsNull() || (rules.IsSequence() && rules.size() == 0));
    if (names_from_expression) ParseRuleCondition(c["condition"], &pc, true);
    if (pc.refs.empty() || pc.refs.size() > 64) {
      Invalid("bad correlation", "rules must name 1 to 64 rules", c);
    }
    const auto gb = c["group-by"];
    if (gb && gb.IsSequence()) {
      for (const auto& g : gb) r.group_by.push_back(ScalarOr(g));
    } else if (gb && gb.IsScalar()) {
      r.group_by.push_back(gb.Scalar());
    }
    if (r.group_by.size() > 16) Invalid("bad correlation", "more than 16 group-by fields", gb);
    const auto ts = c["timespan"] ? c["timespan"] : c["timeframe"];
    if (!ts || !ts.IsScalar()) Invalid("bad correlation", "timespan is missing", c);
    r.timespan_ms = ParseTimespanMs(ts.Scalar(), ts);
    if (const auto g = c["generate"] ? c["generate"] : doc["generate"]; g && g.IsScalar()) {
      r.generate = Lower(g.Scalar()) == "true";
    }
    if (const auto al = c["aliases"]; al && al.IsMap()) {
      for (const auto& kv : al) {
        if (!kv.second.IsMap()) Invalid("bad correlation", "an alias maps rule → field", kv.second);
        for (const auto& rf : kv.second) {
          pc.aliases[ScalarOr(kv.first)][ScalarOr(rf.first)] = ScalarOr(rf.second);
        }
      }
    }
    const auto cond = c["condition"];
    if (r.type == CorrelationType::kAbsence) {
      ParseAbsence(c, &r);
      pending_.push_back(std::move(pc));
      return;
    }
    for (const char* key : {"expected", "learn", "forget"}) {
      if (c[key]) Invalid("bad correlation", std::string(key) + " applies to seccloud-absence", c);
    }
    const bool metric = IsMetricType(r.type);
    bool has_percentile = false;
    if (cond && cond.IsScalar() && !temporal) {
      Invalid("bad correlation condition",
              "a condition expression applies to temporal and temporal_ordered only", cond);
    }
    if (expression && !names_from_expression) ParseRuleCondition(cond, &pc, false);
    if (cond && cond.IsMap()) {
      int ops = 0;
      for (const auto& kv : cond) {
        const std::string k = ScalarOr(kv.first);
        if (k == "field") {
          pc.value_field = ScalarOr(kv.second);
          continue;
        }
        if (k == "percentile") {
          r.percentile = ParsePercentile(r.type, kv.second);
          has_percentile = true;
          continue;
        }
        CompareOp op;
        if (k == "gt") {
          op = CompareOp::kGt;
        } else if (k == "gte") {
          op = CompareOp::kGte;
        } else if (k == "lt") {
          op = CompareOp::kLt;
        } else if (k == "lte") {
          op = CompareOp::kLte;
        } else if (k == "eq") {
          op = CompareOp::kEq;
        } else if (k == "neq") {
          op = CompareOp::kNeq;
        } else {
          Invalid("bad correlation condition", "unknown operator " + k, kv.first);
        }
        const std::string v = ScalarOr(kv.second);
        int64_t n = 0;
        if (metric) {
          n = ParseMetricThreshold(k, kv.second);
        } else if (auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
                   ec != std::errc() || p != v.data() + v.size() || n < 0 || n > 1'000'000) {
          Invalid("bad correlation condition", k + " needs an integer 0…1000000", kv.second);
        }
        r.op = op;
        r.threshold = n;
        ++ops;
      }
      if (ops > 1) Unsupported("correlation condition with a range", "use one operator", cond);
      if (ops == 0 && r.type != CorrelationType::kTemporal &&
          r.type != CorrelationType::kTemporalOrdered) {
        Invalid("bad correlation condition", "no operator", cond);
      }
    } else if (r.type == CorrelationType::kEventCount || r.type == CorrelationType::kValueCount) {
      Invalid("bad correlation", "condition is missing", c);
    }
    if (r.type == CorrelationType::kValueCount && r.threshold > kMaxValueCountThreshold) {
      // A value_count keeps up to threshold + 1 values per group, whatever its operator (sigma.h).
      Unsupported("value_count threshold above the limit",
                  "value_count threshold " + std::to_string(r.threshold) + " above the limit " +
                      std::to_string(kMaxValueCountThreshold),
                  cond);
    }
    if ((r.type == CorrelationType::kValueCount || metric) && pc.value_field.empty()) {
      Invalid("bad correlation", type + " needs condition.field", c);
    }
    if (r.type == CorrelationType::kValuePercentile && !has_percentile) {
      Unsupported("value_percentile without condition.percentile",
                  "which percentile (0…100) is judged is not said; the specification's example "
                  "names none, pySigma's backends need it",
                  cond);
    }
    if ((r.type == CorrelationType::kTemporal || r.type == CorrelationType::kTemporalOrdered) &&
        (!cond || !cond.IsMap())) {
      r.op = CompareOp::kGte;
      r.threshold = static_cast<int64_t>(pc.refs.size());
    }
    r.value_field = pc.value_field;
    pending_.push_back(std::move(pc));
  }

  // Sigma v2.1's metric correlation types.
  static bool ParseMetricType(const std::string& type, CorrelationType* t) {
    static constexpr std::pair<std::string_view, CorrelationType> kTypes[] = {
        {"value_sum", CorrelationType::kValueSum},
        {"value_avg", CorrelationType::kValueAvg},
        {"value_percentile", CorrelationType::kValuePercentile},
        {"value_median", CorrelationType::kValueMedian}};
    for (const auto& [name, value] : kTypes) {
      if (type == name) {
        *t = value;
        return true;
      }
    }
    return false;
  }

  // A metric threshold: a decimal number, kept exactly in millionths (soc/correlation.h).
  static int64_t ParseMetricThreshold(const std::string& op, const YAML::Node& v) {
    int64_t n = 0;
    if (!v.IsScalar() || !ParseMetricMillionths(v.Scalar(), &n)) {
      Invalid("bad correlation condition",
              op + " needs a number (at most 6 decimals, within ±9.2e12): " +
                  ScalarOr(v, "(not a scalar)"),
              v);
    }
    return n;
  }

  static int ParsePercentile(CorrelationType t, const YAML::Node& v) {
    if (t != CorrelationType::kValuePercentile) {
      Invalid("bad correlation condition", "percentile applies to value_percentile only", v);
    }
    const std::string s = ScalarOr(v);
    int n = -1;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size() || n < 0 || n > 100) {
      Invalid("bad correlation condition", "percentile needs an integer 0…100: " + s, v);
    }
    return n;
  }

  // A temporal / temporal_ordered condition expression over the rules' names (Sigma v2.1,
  // pySigma's extended condition): names ([A-Za-z_][A-Za-z0-9_]*), and, or, parentheses; not >
  // and > or. The operators are read in any case (the specification's example writes AND). With
  // add_names (no `rules` list) the names become the rules in order of first appearance;
  // otherwise every name must be one of `rules` and every rule must be named, as pySigma checks.
  // The result is the expression's disjunctive normal form (CorrelationRule::rule_condition).
  static void ParseRuleCondition(const YAML::Node& cond, PendingCorrelation* pc, bool add_names) {
    const std::string& text = cond.Scalar();
    if (text.size() > kMaxRuleConditionBytes) {
      Invalid("bad correlation condition",
              "longer than " + std::to_string(kMaxRuleConditionBytes) + " bytes", cond);
    }
    using Terms = std::vector<uint64_t>;
    size_t at = 0, names = 0;
    uint64_t named = 0;
    auto fail = [&](const std::string& what) {
      Invalid("bad correlation condition",
              what + " at character " + std::to_string(at + 1) + " of \"" + text + "\"", cond);
    };
    // Keeps the terms minimal (no duplicate, no superset of another) and bounded.
    auto minimal = [&](Terms t) {
      std::sort(t.begin(), t.end(), [](uint64_t a, uint64_t b) {
        const int pa = __builtin_popcountll(a), pb = __builtin_popcountll(b);
        return pa != pb ? pa < pb : a < b;
      });
      Terms out;
      for (uint64_t x : t) {
        bool covered = false;
        for (uint64_t y : out) covered = covered || (x & y) == y;
        if (!covered) out.push_back(x);
      }
      if (out.size() > kMaxRuleConditionTerms) {
        Unsupported("temporal condition too complex",
                    "more than " + std::to_string(kMaxRuleConditionTerms) +
                        " alternatives once its and/or are expanded: \"" + text + "\"",
                    cond);
      }
      return out;
    };
    auto skip_space = [&] {
      while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at])) != 0) ++at;
    };
    auto word_at = [&](size_t from) {
      size_t end = from;
      while (end < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[end])) != 0 || text[end] == '_'))
        ++end;
      return std::string_view(text).substr(from, end - from);
    };
    auto keyword = [&](std::string_view k) {
      skip_space();
      const std::string_view w = word_at(at);
      if (w.size() != k.size() || Lower(std::string(w)) != k) return false;
      at += w.size();
      return true;
    };
    std::function<Terms(size_t)> parse_or;
    auto parse_unary = [&](size_t depth) -> Terms {
      skip_space();
      if (depth > kMaxRuleYamlDepth) fail("nested too deeply");
      if (at < text.size() && text[at] == '(') {
        ++at;
        Terms t = parse_or(depth + 1);
        skip_space();
        if (at >= text.size() || text[at] != ')') fail("expected )");
        ++at;
        return t;
      }
      const size_t start = at;
      if (keyword("not")) {
        at = start;
        // pySigma's grammar parses `not` (not > and > or) but gives it no streaming meaning;
        // "b not in the window" is only known when the window closes, and temporal windows
        // slide and fire as the expression first holds: an early firing would be false.
        Unsupported("temporal condition with not",
                    "seccloud judges temporal windows as events arrive and cannot know that a "
                    "rule stays absent until the window closes: \"" +
                        text + "\"",
                    cond);
      }
      at = start;
      const std::string_view w = word_at(at);
      const std::string lower = Lower(std::string(w));
      if (w.empty() || std::isdigit(static_cast<unsigned char>(w[0])) != 0 || lower == "and" ||
          lower == "or") {
        fail("expected a rule name");
      }
      if (++names > kMaxRuleConditionNames) fail("too many rule names");
      auto it = std::find(pc->refs.begin(), pc->refs.end(), w);
      if (it == pc->refs.end()) {
        if (!add_names) fail("\"" + std::string(w) + "\" is not in rules");
        if (pc->refs.size() == 64) fail("more than 64 rules");
        it = pc->refs.insert(pc->refs.end(), std::string(w));
      }
      at += w.size();
      const uint64_t bit = uint64_t{1} << (it - pc->refs.begin());
      named |= bit;
      return Terms{bit};
    };
    // Each side is minimal, so at most kMaxRuleConditionTerms² terms are ever formed.
    auto parse_and = [&](size_t depth) {
      Terms t = parse_unary(depth);
      while (keyword("and")) {
        const Terms right = parse_unary(depth);
        Terms product;
        for (uint64_t x : t)
          for (uint64_t y : right) product.push_back(x | y);
        t = minimal(std::move(product));
      }
      return t;
    };
    parse_or = [&](size_t depth) {
      Terms t = parse_and(depth);
      while (keyword("or")) {
        const Terms right = parse_and(depth);
        t.insert(t.end(), right.begin(), right.end());
        t = minimal(std::move(t));
      }
      return t;
    };
    Terms terms = parse_or(0);
    skip_space();
    if (at != text.size()) fail("unexpected text");
    for (size_t i = 0; i < pc->refs.size(); ++i) {
      if ((named >> i & 1) == 0) {
        Invalid("bad correlation condition",
                "rule " + pc->refs[i] + " is in rules but not in the condition", cond);
      }
    }
    pc->rule.rule_condition = std::move(terms);
    pc->rule.rule_condition_text = text;
  }

  // seccloud-absence: "no event of `rules` from an entity (the group-by values) for `timespan`".
  static void ParseAbsence(const YAML::Node& c, CorrelationRule* r) {
    if (r->group_by.empty() || r->group_by.size() > 4) {
      Invalid("bad correlation", "seccloud-absence needs 1 to 4 group-by fields (the entity)", c);
    }
    if (c["condition"]) {
      Invalid("bad correlation", "seccloud-absence has no condition (silence for timespan is it)",
              c["condition"]);
    }
    if (const auto l = c["learn"]; l) {
      const std::string v = l.IsScalar() ? Lower(l.Scalar()) : "";
      if (v != "true" && v != "false") Invalid("bad correlation", "learn is true or false", l);
      r->learn = v == "true";
    }
    r->forget_ms = r->learn ? std::max(int64_t{7} * 86'400'000, r->timespan_ms) : 0;
    if (const auto f = c["forget"]; f) {
      if (!f.IsScalar()) Invalid("bad correlation", "forget is a timespan (7d)", f);
      r->forget_ms = ParseTimespanMs(f.Scalar(), f);
      if (r->forget_ms < r->timespan_ms) {
        Invalid("bad correlation", "forget must not be shorter than timespan", f);
      }
    }
    if (const auto e = c["expected"]; e) {
      if (!e.IsSequence()) Invalid("bad correlation", "expected is a list of entities", e);
      for (const auto& item : e) {
        if (r->expected.size() >= kMaxAbsenceExpected) {
          Invalid("bad correlation",
                  "more than " + std::to_string(kMaxAbsenceExpected) + " expected entities", item);
        }
        CorrelationRule::Expected x;
        if (item.IsScalar() && r->group_by.size() == 1) {
          x.values.push_back(item.Scalar());
        } else if (item.IsMap()) {
          for (const auto& kv : item) {
            const std::string k = ScalarOr(kv.first);
            if (k == "tenant" || k == "tenant.id") continue;
            if (std::find(r->group_by.begin(), r->group_by.end(), k) == r->group_by.end()) {
              Invalid("bad correlation", "expected names " + k + ", which is not a group-by field",
                      kv.first);
            }
          }
          x.tenant = ScalarOr(item["tenant"] ? item["tenant"] : item["tenant.id"]);
          for (const auto& g : r->group_by) {
            const auto v = item[g];
            if (!v || !v.IsScalar() || v.Scalar().empty()) {
              Invalid("bad correlation", "an expected entity needs a value for " + g, item);
            }
            x.values.push_back(v.Scalar());
          }
        } else {
          Invalid("bad correlation",
                  "an expected entity is a map of the group-by fields (and tenant), or one value "
                  "when there is one group-by field",
                  item);
        }
        r->expected.push_back(std::move(x));
      }
    }
    if (!r->learn && r->expected.empty()) {
      Invalid("bad correlation", "learn: false and nothing expected: the rule could never fire", c);
    }
  }

  // Resolves references to base rules and to other correlations (inner ones first; a cycle or a
  // chain deeper than kMaxCorrelationDepth leaves the correlations in it unresolved, reported).
  void ResolveCorrelations() {
    std::unordered_map<std::string, size_t> by_ref;
    for (size_t i = 0; i < rules_.size(); ++i) {
      by_ref.emplace(rules_[i].id, i);
      if (!rules_[i].name.empty()) by_ref.emplace(rules_[i].name, i);
    }
    std::unordered_map<std::string, size_t> pending_by_ref;
    for (size_t p = 0; p < pending_.size(); ++p) {
      pending_by_ref.emplace(pending_[p].rule.id, p);
      if (!pending_[p].rule.name.empty()) pending_by_ref.emplace(pending_[p].rule.name, p);
    }
    // Which pending correlations can resolve: their refs name base rules or resolvable
    // correlations. Unresolvable ones are reported once, with the first reason.
    enum State : uint8_t { kUnknown, kVisiting, kOk, kFailed };
    std::vector<State> state(pending_.size(), kUnknown);
    std::vector<size_t> order;  // pending indexes, inner before outer
    std::function<bool(size_t, int)> resolve = [&](size_t p, int depth) -> bool {
      if (state[p] == kOk) return true;
      if (state[p] == kFailed) return false;
      PendingCorrelation& pc = pending_[p];
      CorrelationRule& r = pc.rule;
      if (state[p] == kVisiting || depth > static_cast<int>(kMaxCorrelationDepth)) {
        state[p] = kFailed;
        AddIssue(false, r.file, pc.mark, r.id, r.title, "correlation cycle",
                 "correlations refer to each other in a loop or deeper than " +
                     std::to_string(kMaxCorrelationDepth));
        return false;
      }
      state[p] = kVisiting;
      for (const auto& ref : pc.refs) {
        if (by_ref.contains(ref)) continue;
        auto inner = pending_by_ref.find(ref);
        if (inner != pending_by_ref.end() && inner->second != p) {
          // Absence rules fire on the clock, not on a record: they neither feed nor take
          // correlations.
          if (r.type == CorrelationType::kAbsence ||
              pending_[inner->second].rule.type == CorrelationType::kAbsence) {
            state[p] = kFailed;
            AddIssue(true, r.file, pc.mark, r.id, r.title, "correlation of a seccloud-absence rule",
                     ref);
            return false;
          }
          if (resolve(inner->second, depth + 1)) continue;
          if (state[p] != kFailed) {
            AddIssue(true, r.file, pc.mark, r.id, r.title, "inner correlation did not load", ref);
          }
          state[p] = kFailed;
          return false;
        }
        state[p] = kFailed;
        if (auto f = failed_refs_.find(ref); f != failed_refs_.end()) {
          AddIssue(true, r.file, pc.mark, r.id, r.title, "base rule did not load",
                   ref + ": " + f->second);
        } else {
          AddIssue(false, r.file, pc.mark, r.id, r.title, "correlation refers to unknown rule",
                   ref);
        }
        return false;
      }
      state[p] = kOk;
      order.push_back(p);
      return true;
    };
    for (size_t p = 0; p < pending_.size(); ++p) resolve(p, 0);

    std::vector<size_t> final_index(pending_.size(), SIZE_MAX);
    for (size_t k = 0; k < order.size(); ++k) final_index[order[k]] = k;
    std::vector<bool> generate(rules_.size(), false), referenced(rules_.size(), false);
    std::vector<bool> corr_generate(order.size(), false), corr_referenced(order.size(), false);
    for (size_t p : order) {
      PendingCorrelation& pc = pending_[p];
      CorrelationRule& r = pc.rule;
      for (const auto& ref : pc.refs) {
        if (auto it = by_ref.find(ref); it != by_ref.end()) {
          r.rules.push_back(it->second);
          r.from_correlation.push_back(false);
        } else {
          const size_t inner = final_index[pending_by_ref.at(ref)];
          r.rules.push_back(inner);
          r.from_correlation.push_back(true);
          corr_referenced[inner] = true;
          if (r.generate) corr_generate[inner] = true;
        }
      }
      for (size_t i = 0; i < r.rules.size(); ++i) {
        // An inner correlation's input fields are those of its first base rule's logsource.
        size_t base = r.rules[i];
        bool corr = r.from_correlation[i];
        while (corr) {
          const CorrelationRule& inner = correlations_[base];
          corr = inner.from_correlation[0];
          base = inner.rules[0];
        }
        const SigmaRule& rule = rules_[base];
        const std::string& input_name =
            r.from_correlation[i] ? correlations_[r.rules[i]].name : rule.name;
        const std::string& input_id =
            r.from_correlation[i] ? correlations_[r.rules[i]].id : rule.id;
        const FieldStyle style = rule.compiled->logsource.style;
        auto field_for = [&](const std::string& name) {
          std::string mapped = name;
          if (auto a = pc.aliases.find(name); a != pc.aliases.end()) {
            auto byname = a->second.find(input_name);
            auto byid = a->second.find(input_id);
            if (byname != a->second.end()) {
              mapped = byname->second;
            } else if (byid != a->second.end()) {
              mapped = byid->second;
            }
          }
          return fields_->Intern(MapFieldName(style, mapped));
        };
        std::vector<int> g;
        for (const auto& name : r.group_by) g.push_back(field_for(name));
        r.group_fields.push_back(std::move(g));
        r.value_field_ids.push_back(r.value_field.empty() ? -1 : field_for(r.value_field));
        if (!r.from_correlation[i]) {
          referenced[r.rules[i]] = true;
          if (r.generate) generate[r.rules[i]] = true;
        }
      }
      correlations_.push_back(std::move(r));
    }
    for (size_t i = 0; i < rules_.size(); ++i) rules_[i].emit = !referenced[i] || generate[i];
    for (size_t k = 0; k < correlations_.size(); ++k)
      correlations_[k].emit = !corr_referenced[k] || corr_generate[k];
  }

  // A Sigma filter document: read and compiled (under its own logsource's field style) here, so
  // its mistakes are reported with their place; applied to the rules once all are loaded.
  void AddFilter(const YAML::Node& doc, const std::string& file, const YAML::Mark& mark,
                 const std::string& id, const std::string& name, const std::string& title) {
    PendingFilter pf;
    SigmaFilter& f = pf.filter;
    f.id = id;
    f.name = name;
    f.title = title;
    f.file = file;
    f.line = mark.is_null() ? 0 : mark.line + 1;
    try {
      if (title.empty()) Invalid("no title", "every filter needs a title", doc);
      if (doc["detection"]) {
        Invalid("bad filter",
                "a document with both filter and detection is neither a filter nor a rule",
                doc["detection"]);
      }
      f.description = ScalarOr(doc["description"]);
      const auto ls = doc["logsource"];
      if (!ls || !ls.IsMap()) Invalid("bad filter", "logsource must be a map", ls ? ls : doc);
      for (auto [key, out] : {std::pair{"product", &f.product}, std::pair{"category", &f.category},
                              std::pair{"service", &f.service}}) {
        const auto v = ls[key];
        if (!v) continue;
        if (!v.IsScalar() || v.Scalar().empty())
          Invalid("bad filter", std::string("logsource ") + key + " must be a non-empty string", v);
        *out = v.Scalar();
      }
      if (f.product.empty() && f.category.empty() && f.service.empty())
        Invalid("bad filter", "logsource must set product, category or service", ls);
      const auto body = doc["filter"];
      if (!body.IsMap()) Invalid("bad filter", "filter must be a map", body);
      const auto rules = body["rules"];
      if (!rules) {
        Invalid("bad filter", "filter.rules is missing (a rule id or name, a list of them, or any)",
                body);
      } else if (rules.IsScalar()) {
        const std::string r = Lower(rules.Scalar());
        if (r == "any" || r == "all") {
          f.any = true;
        } else if (rules.Scalar().empty()) {
          Invalid("bad filter", "filter.rules names an empty rule", rules);
        } else {
          f.refs.push_back(rules.Scalar());
        }
      } else if (rules.IsSequence()) {
        for (const auto& r : rules) {
          if (!r.IsScalar() || r.Scalar().empty())
            Invalid("bad filter", "filter.rules lists rule ids or names (strings)", r);
          if (f.refs.size() >= kMaxFilterRefs)
            Invalid("bad filter", "filter.rules lists more than " + std::to_string(kMaxFilterRefs),
                    r);
          f.refs.push_back(r.Scalar());
        }
        f.any = f.refs.empty();  // pySigma: an empty list is `any`
      } else {
        Invalid("bad filter", "filter.rules is a rule id or name, a list of them, or any", rules);
      }
      const auto cond = body["condition"];
      if (cond && !cond.IsScalar())
        Invalid("bad filter", "a filter's condition is one string", cond);
      // The detection is the filter map without `rules`; the nodes (and their places) are shared.
      YAML::Node detection(YAML::NodeType::Map);
      for (const auto& kv : body) {
        if (!kv.first.IsScalar())
          Invalid("bad filter", "a selection name must be a string", kv.first);
        if (kv.first.Scalar() != "rules") detection[kv.first.Scalar()] = kv.second;
      }
      pf.detection = detection;
      pf.mark = mark;
      LogsourceMapping mapping;
      std::string reason;
      const FieldStyle style = MapLogsource(f.product, f.category, f.service, &mapping, &reason)
                                   ? mapping.style
                                   : FieldStyle::kPlain;
      const CompiledRule& compiled = CompileFilterFor(pf, style, body);
      pf.loaded = true;
      if (!HasNot(compiled.root)) {
        AddWarning(f, mark, "filter condition has no not",
                   "the rules it applies to fire only on events it matches (pySigma ANDs it to "
                   "their condition); write \"not <selection>\" to suppress events");
      }
    } catch (const RuleProblem& p) {
      AddIssue(p.unsupported, file, p.mark.is_null() ? mark : p.mark, id, title, p.reason,
               p.detail);
    }
    filters_.push_back(std::move(pf));
  }

  struct PendingFilter {
    SigmaFilter filter;
    YAML::Node detection;
    YAML::Mark mark = YAML::Mark::null_mark();
    bool loaded = false;
    // Compiled per field style (the rules it applies to may name fields by other styles).
    std::map<FieldStyle, std::shared_ptr<const CompiledRule>> compiled;
    // What one rule's copy of it holds: value tests, field tests, alternatives, selections and
    // condition nodes (a condition of 100,000 "not s and" is small as text, not 2,000 times).
    size_t size = 0;
  };

  static size_t NodeCount(const Node& n) {
    size_t count = 1;
    for (const auto& k : n.kids) count += NodeCount(k);
    return count;
  }

  // Throws RuleProblem.
  const CompiledRule& CompileFilterFor(PendingFilter& pf, FieldStyle style, const YAML::Node& at) {
    if (auto it = pf.compiled.find(style); it != pf.compiled.end()) return *it->second;
    size_t budget = 0;
    // A filter's own references are bounded per compile (kMaxConditionRefs,
    // kMaxConditionValueRefs), not charged to its file: it is compiled again for each field style
    // of the rules it applies to, after the file's other documents were charged, and what its
    // copies add to those rules is bounded load-wide by kMaxFilterAppliedSize. Charged to the
    // file, a one-reference filter beside an oversized document, or one compiled for two styles,
    // was refused and its rules ran unfiltered (the final read of stop 29).
    ConditionRefs refs;
    DocumentCompiler compiler(fields_.get(), &budget, &refs, nullptr, options_);
    // Compile would name the detection in its mistakes; the filter map is the place.
    if (!pf.detection["condition"]) Invalid("no condition", "filter has no condition", at);
    auto c = std::make_shared<CompiledRule>(compiler.Compile(pf.detection, style));
    size_t size = NodeCount(c->root);
    for (const auto& sel : c->selections) {
      ++size;
      for (const auto& alt : sel.any_of) {
        ++size;
        for (const auto& ft : alt) size += 1 + ft.values.size();
      }
    }
    pf.size = std::max(pf.size, size);
    return *pf.compiled.emplace(style, std::move(c)).first->second;
  }

  // pySigma's reference lookup: a rule answers to its id and to its name (our rule.id falls back
  // to the name or title when the rule has none; a title is not a reference).
  static bool Answers(const SigmaRule& r, const std::string& ref) {
    if (!r.name.empty() && r.name == ref) return true;
    return r.id == ref && !(r.name.empty() && r.id == r.title && !r.title.empty());
  }
  // SigmaLogSource.__contains__: each of the filter's attributes that is set equals the rule's.
  static bool Covers(const SigmaFilter& f, const SigmaRule& r) {
    return (f.product.empty() || f.product == r.product) &&
           (f.category.empty() || f.category == r.category) &&
           (f.service.empty() || f.service == r.service);
  }

  // pySigma's SigmaCollection lookup tries a reference as a UUID first (`UUID(ref)`: any case,
  // hyphens optional, braces and a urn:uuid: prefix allowed), so a reference and a rule id that
  // are one UUID meet whatever their spelling; anything else is compared as written.
  static std::string RefKey(const std::string& s) {
    std::string_view v = s;
    for (std::string_view prefix : {"urn:", "uuid:"}) {
      if (v.size() >= prefix.size() && Lower(v.substr(0, prefix.size())) == prefix)
        v.remove_prefix(prefix.size());
    }
    while (!v.empty() && (v.front() == '{' || v.front() == '}')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '{' || v.back() == '}')) v.remove_suffix(1);
    std::string hex;
    for (char c : v) {
      if (c == '-') continue;
      if (!std::isxdigit(static_cast<unsigned char>(c)) || hex.size() == 32) return s;
      hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (hex.size() != 32) return s;
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
  }

  // Applies the loaded filters to the base rules they name (or all, for `any`) whose logsource
  // they cover, in two passes: first each filter, in load order, finds its rules and is checked
  // against the load-wide budget (refused whole, with its file:line, when what it adds to its
  // rules would take the sum over filters of size × rules past kMaxFilterAppliedSize); then each
  // filtered rule is rebuilt once: one copy whose root is AND(rule root, filter 1 root, …,
  // filter n root) — the rule's condition one level deeper however many filters — with the
  // filters' selections appended after the rule's (so names never collide: each condition was
  // resolved to indexes within its filter). Names that reach no rule are warnings.
  void ApplyFilters() {
    std::unordered_map<std::string, std::vector<size_t>> refs_index;  // RefKey(id/name) → rules
    std::set<std::string> correlation_refs;                           // RefKey(id/name)
    // Per rule, the filters (their compiled form for the rule's field style), in load order.
    std::vector<std::vector<std::pair<const SigmaFilter*, const CompiledRule*>>> on_rule(
        rules_.size());
    size_t applied_size = 0;  // the load-wide budget's use
    for (PendingFilter& pf : filters_) {
      if (!pf.loaded) continue;
      SigmaFilter& f = pf.filter;
      const YAML::Mark at = pf.mark;
      auto warn = [&](const std::string& ref, const std::string& why) {
        f.unresolved.emplace_back(ref, why);
        AddWarning(f, at, "filter names no rule it can apply to", ref + ": " + why);
      };
      std::vector<size_t> targets;
      if (f.any) {
        for (size_t i = 0; i < rules_.size(); ++i)
          if (Covers(f, rules_[i])) targets.push_back(i);
      } else {
        if (refs_index.empty() && !rules_.empty()) {
          // Built once for all filters: a hostile file's thousands of names are not each a scan
          // of every rule.
          for (size_t i = 0; i < rules_.size(); ++i) {
            const SigmaRule& r = rules_[i];
            std::string id_key = RefKey(r.id);
            if (Answers(r, r.id)) refs_index[id_key].push_back(i);
            if (!r.name.empty() && RefKey(r.name) != id_key)
              refs_index[RefKey(r.name)].push_back(i);
          }
          for (const auto& pc : pending_) {
            correlation_refs.insert(RefKey(pc.rule.id));
            if (!pc.rule.name.empty()) correlation_refs.insert(RefKey(pc.rule.name));
          }
        }
        std::set<size_t> seen;
        for (const auto& ref : f.refs) {
          const std::string key = RefKey(ref);
          bool covered = false;
          const auto named = refs_index.find(key);
          if (named != refs_index.end()) {
            for (size_t i : named->second) {
              if (!Covers(f, rules_[i])) continue;
              covered = true;
              if (seen.insert(i).second) targets.push_back(i);
            }
          }
          if (covered) continue;
          auto failed = failed_refs_.find(ref);
          if (failed == failed_refs_.end()) failed = failed_refs_.find(key);
          if (named != refs_index.end()) {
            warn(ref, "its logsource is not covered by the filter's");
          } else if (correlation_refs.contains(key)) {
            warn(ref, "a correlation rule (filters apply to base rules only)");
          } else if (failed != failed_refs_.end()) {
            warn(ref, "the rule did not load (" + failed->second + ")");
          } else {
            warn(ref, "no such rule");
          }
        }
        std::sort(targets.begin(), targets.end());
      }
      try {
        // Compile for every style first: the filter applies to all of its rules or to none.
        std::vector<const CompiledRule*> per_rule;
        for (size_t i : targets)
          per_rule.push_back(
              &CompileFilterFor(pf, rules_[i].compiled->logsource.style, YAML::Node()));
        const size_t adds = pf.size * targets.size();
        if (adds > kMaxFilterAppliedSize - applied_size) {
          throw RuleProblem{false, "filter too large",
                            std::to_string(pf.size) + " tests and condition nodes on " +
                                std::to_string(targets.size()) + " rules, with the " +
                                std::to_string(applied_size) +
                                " the filters loaded before it add, is more than " +
                                std::to_string(kMaxFilterAppliedSize),
                            at};
        }
        applied_size += adds;
        for (size_t k = 0; k < targets.size(); ++k) {
          SigmaRule& rule = rules_[targets[k]];
          on_rule[targets[k]].emplace_back(&f, per_rule[k]);
          rule.filters.push_back(f.id);
          f.applied_to.push_back(rule.id);
        }
      } catch (const RuleProblem& p) {
        pf.loaded = false;
        AddIssue(p.unsupported, f.file, p.mark.is_null() ? at : p.mark, f.id, f.title, p.reason,
                 p.detail);
        continue;
      }
      if (f.any && f.applied_to.empty())
        warn("any", "no loaded rule has a logsource the filter covers");
    }
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (!on_rule[i].empty()) rules_[i].compiled = Filtered(*rules_[i].compiled, on_rule[i]);
    }
  }

  // The rule's one filtered copy: AND(its root, each filter's root), the filters' selections
  // appended after its own.
  static std::shared_ptr<const CompiledRule> Filtered(
      const CompiledRule& rule,
      const std::vector<std::pair<const SigmaFilter*, const CompiledRule*>>& filters) {
    auto merged = std::make_shared<CompiledRule>(rule);
    size_t selections = rule.selections.size();
    for (const auto& [f, add] : filters) selections += add->selections.size();
    merged->selections.reserve(selections);
    Node root{Node::kAnd};
    root.kids.reserve(1 + filters.size());
    root.kids.push_back(std::move(merged->root));
    for (const auto& [f, add] : filters) {
      const int offset = static_cast<int>(merged->selections.size());
      for (const auto& sel : add->selections) {
        merged->selections.push_back(sel);
        merged->selections.back().name = "filter " + f->id + ": " + sel.name;
      }
      Node filter_root = add->root;
      ShiftSelections(&filter_root, offset);
      root.kids.push_back(std::move(filter_root));
    }
    merged->root = std::move(root);
    return merged;
  }

  void AddWarning(const SigmaFilter& f, const YAML::Mark& at, std::string reason,
                  std::string detail) {
    LoadIssue w{.file = f.file, .rule_id = f.id, .title = f.title};
    if (!at.is_null()) {
      w.line = at.line + 1;
      w.column = at.column + 1;
    }
    w.reason = std::move(reason);
    w.detail = std::move(detail);
    report_->warnings.push_back(std::move(w));
  }

  static bool HasNot(const Node& n) {
    return n.kind == Node::kNot ||
           std::any_of(n.kids.begin(), n.kids.end(), [](const Node& k) { return HasNot(k); });
  }

  static void ShiftSelections(Node* n, int offset) {
    if (n->kind == Node::kSelection) n->selection += offset;
    for (auto& k : n->kids) ShiftSelections(&k, offset);
  }

  LoadReport* report_;
  const RuleLoadOptions* options_;
  std::shared_ptr<FieldTable> fields_ = std::make_shared<FieldTable>();
  std::vector<PendingFilter> filters_;
  std::vector<SigmaRule> rules_;
  std::vector<CorrelationRule> correlations_;
  std::vector<PendingCorrelation> pending_;
  std::unordered_map<std::string, std::string> failed_refs_;  // id/name → reason
  // File → what its loaded documents' conditions expanded to (kMaxConditionRefs,
  // kMaxConditionValueRefs); the same summed over the load (kMaxLoadConditionRefs,
  // kMaxLoadConditionValueRefs).
  std::unordered_map<std::string, ConditionRefs> condition_refs_;
  ConditionRefs load_condition_refs_;
};

}  // namespace

RuleSet LoadRulesFromStrings(const std::vector<std::pair<std::string, std::string>>& name_and_yaml,
                             LoadReport* report) {
  return LoadRulesFromStrings(name_and_yaml, report, RuleLoadOptions{});
}

RuleSet LoadRulesFromStrings(const std::vector<std::pair<std::string, std::string>>& name_and_yaml,
                             LoadReport* report, const RuleLoadOptions& options) {
  LoadReport scratch;
  Loader loader(report != nullptr ? report : &scratch, &options);
  for (const auto& [name, yaml] : name_and_yaml) loader.AddText(yaml, name);
  return loader.Finish();
}

RuleSet LoadRulesFromString(std::string_view yaml, std::string_view name, LoadReport* report) {
  return LoadRulesFromStrings({{std::string(name), std::string(yaml)}}, report);
}

Result<RuleSet> LoadRules(const std::vector<std::filesystem::path>& dirs_or_files,
                          LoadReport* report) {
  return LoadRules(dirs_or_files, report, RuleLoadOptions{});
}

Result<RuleSet> LoadRules(const std::vector<std::filesystem::path>& dirs_or_files,
                          LoadReport* report, const RuleLoadOptions& options) {
  LoadReport scratch;
  if (report == nullptr) report = &scratch;
  std::vector<std::filesystem::path> files;
  for (const auto& p : dirs_or_files) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::filesystem::recursive_directory_iterator it(p, ec), end;
      if (ec) return ErrnoError("listing " + p.string(), ec.value());
      for (; it != end; it.increment(ec)) {
        if (ec) return ErrnoError("listing " + p.string(), ec.value());
        const auto ext = it->path().extension();
        if (it->is_regular_file(ec) && (ext == ".yml" || ext == ".yaml")) {
          files.push_back(it->path());
        }
      }
    } else if (std::filesystem::exists(p, ec)) {
      files.push_back(p);
    } else {
      return MakeError(Errc::kNotFound, "rules path " + p.string() + " does not exist");
    }
  }
  std::sort(files.begin(), files.end());
  Loader loader(report, &options);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string text;
    // Up to one byte past the bound (PreScan refuses the file), in blocks: sizing the string to
    // the bound first zeroed 1 MiB per file, a fifth of the whole load's instructions.
    while (in && text.size() <= kMaxRuleFileBytes) {
      char block[16384];
      const size_t want = std::min(sizeof block, kMaxRuleFileBytes + 1 - text.size());
      in.read(block, static_cast<std::streamsize>(want));
      text.append(block, static_cast<size_t>(in.gcount()));
    }
    if (!in && !in.eof()) {
      ++report->files;
      report->errors.push_back(LoadIssue{.file = f.string(), .reason = "unreadable file"});
      ++report->file_issues;
      continue;
    }
    loader.AddText(text, f.string());
  }
  return loader.Finish();
}

}  // namespace seccloud::soc
