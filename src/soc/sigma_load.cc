// Loading SigmaHQ YAML into a RuleSet: documents (global / repeat / correlation), detection
// compilation (selections, modifiers, wildcards, the condition expression) and correlation
// reference resolution. yaml-cpp throws; every exception is caught per document here.

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
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
  enum Wide { kNone, kLe, kBe, kBom } wide = kNone;
  std::optional<Op> cmp;
};

Modifiers ParseModifiers(const std::vector<std::string>& mods, const YAML::Node& at) {
  Modifiers m;
  for (const auto& raw : mods) {
    const std::string mod = Lower(raw);
    if (mod == "contains") {
      m.contains = true;
    } else if (mod == "startswith") {
      m.startswith = true;
    } else if (mod == "endswith") {
      m.endswith = true;
    } else if (mod == "all") {
      m.all = true;
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
    } else {
      Unsupported("unknown modifier", "|" + raw, at);
    }
  }
  if ((m.re_i || m.re_m || m.re_s) && !m.re) {
    Invalid("regex flag without |re", "i/m/s apply only to |re", at);
  }
  if (m.base64 && m.base64offset) Invalid("conflicting modifiers", "base64 and base64offset", at);
  if ((m.wide != Modifiers::kNone) && !m.base64 && !m.base64offset) {
    Unsupported("utf16/wide without base64", "seccloud's fields are UTF-8 text", at);
  }
  return m;
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

class DocumentCompiler {
 public:
  DocumentCompiler(FieldTable* fields, size_t* budget, const RuleLoadOptions* options)
      : fields_(fields), budget_(budget), options_(options) {}

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
    for (const auto& kv : n) {
      if (!kv.first.IsScalar() || kv.first.Scalar().find("|") == std::string::npos) continue;
      const std::string key = Lower(kv.first.Scalar());
      if (key.find("|expand") == std::string::npos) continue;
      expands = true;
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
    if (auto global = CompileMapFor(n, ""); !global.empty()) out.push_back(std::move(global));
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
        if (expanded.empty()) return {};
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
        out.kind = lt == "all" ? Node::kAnd : Node::kOr;
        for (size_t i = 0; i < rule->selections.size(); ++i) {
          const std::string& name = rule->selections[i].name;
          const bool hit = Lower(target) == "them" ? !name.starts_with("_")
                                                   : GlobMatch(name, target, WildMask(target));
          if (hit) out.kids.push_back(Node{Node::kSelection, static_cast<int>(i)});
        }
        if (out.kids.empty()) {
          Invalid("condition names unknown selection", target, *at);
        }
      } else {
        bool found = false;
        for (size_t i = 0; i < rule->selections.size(); ++i) {
          if (rule->selections[i].name == t) {
            out = Node{Node::kSelection, static_cast<int>(i)};
            found = true;
            break;
          }
        }
        if (!found) Invalid("condition names unknown selection", t, *at);
      }
      --depth;
      return out;
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
          doc.emplace(global ? Merge(*global, raw_doc) : raw_doc);
        }
        previous.emplace(*doc);
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
    ResolveCorrelations();
    RuleSet set;
    set.rules = std::move(rules_);
    set.correlations = std::move(correlations_);
    set.fields = std::move(fields_);
    report_->rules_loaded = set.rules.size();
    report_->correlations_loaded = set.correlations.size();
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
    size_t budget = 0;
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
      DocumentCompiler compiler(fields_.get(), &budget, options_);
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
      failed_refs_[id] = p.reason;
      if (!name.empty()) failed_refs_[name] = p.reason;
      AddIssue(p.unsupported, file, p.mark.is_null() ? mark : p.mark, id, title, p.reason,
               p.detail);
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
    } else {
      Unsupported("correlation type", type.empty() ? "(missing)" : type, c);
    }
    const auto rules = c["rules"];
    if (rules && rules.IsScalar()) {
      pc.refs.push_back(rules.Scalar());
    } else if (rules && rules.IsSequence()) {
      for (const auto& x : rules) pc.refs.push_back(ScalarOr(x));
    }
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
    if (cond && cond.IsMap()) {
      int ops = 0;
      for (const auto& kv : cond) {
        const std::string k = ScalarOr(kv.first);
        if (k == "field") {
          pc.value_field = ScalarOr(kv.second);
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
        } else {
          Invalid("bad correlation condition", "unknown operator " + k, kv.first);
        }
        const std::string v = ScalarOr(kv.second);
        int64_t n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size() || n < 0 || n > 1'000'000) {
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
    if (r.type == CorrelationType::kValueCount && pc.value_field.empty()) {
      Invalid("bad correlation", "value_count needs condition.field", c);
    }
    if ((r.type == CorrelationType::kTemporal || r.type == CorrelationType::kTemporalOrdered) &&
        (!cond || !cond.IsMap())) {
      r.op = CompareOp::kGte;
      r.threshold = static_cast<int64_t>(pc.refs.size());
    }
    r.value_field = pc.value_field;
    pending_.push_back(std::move(pc));
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

  LoadReport* report_;
  const RuleLoadOptions* options_;
  std::shared_ptr<FieldTable> fields_ = std::make_shared<FieldTable>();
  std::vector<SigmaRule> rules_;
  std::vector<CorrelationRule> correlations_;
  std::vector<PendingCorrelation> pending_;
  std::unordered_map<std::string, std::string> failed_refs_;  // id/name → reason
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
