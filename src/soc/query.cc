// The search language (query.h): a recursive-descent parser into QueryNode trees, the matcher,
// and the required-token analysis the store uses for Bloom pruning.

#include "soc/query.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <charconv>
#include <cmath>
#include <set>

#include "soc/query_internal.h"

namespace seccloud::soc {
namespace {

using Kind = QueryNode::Kind;
using Op = QueryNode::Op;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// A number in the query or a field: the whole text must be one (from_chars grammar, which has no
// leading '+', no hex, no inf/nan words).
std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  double d = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

// "404", "-7": how IsIndexedInteger values are written, so the token is the one indexed.
bool IsCanonicalInteger(std::string_view s) {
  size_t i = s.starts_with('-') ? 1 : 0;
  if (i >= s.size() || s.size() - i > 19) return false;
  if (s[i] == '0' && s.size() - i > 1) return false;
  if (s == "-0") return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<std::unique_ptr<QueryNode>> Parse() {
    SkipSpace();
    if (pos_ == text_.size()) return std::make_unique<QueryNode>();
    ASSIGN_OR_RETURN(auto node, ParseOr(0, ""));
    SkipSpace();
    if (pos_ != text_.size()) {
      if (text_[pos_] == ')') return Fail("unbalanced \")\"");
      return Fail("expected AND, OR or the end of the query");
    }
    return node;
  }

 private:
  Error Fail(std::string what) const { return FailAt(pos_, std::move(what)); }
  Error FailAt(size_t pos, std::string what) const {
    return MakeError(Errc::kInvalidArgument, "at " + std::to_string(pos) + ": " + what);
  }

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  bool AtEnd() const { return pos_ >= text_.size(); }

  // The operator keyword at pos_ (AND, OR, NOT in any case, &&, ||), without consuming it.
  std::string_view PeekKeyword() const {
    const std::string_view rest = text_.substr(pos_);
    if (rest.starts_with("&&")) return "AND";
    if (rest.starts_with("||")) return "OR";
    for (std::string_view kw : {"AND", "OR", "NOT"}) {
      if (rest.size() < kw.size()) continue;
      bool same = true;
      for (size_t i = 0; i < kw.size(); ++i) same &= (rest[i] & ~0x20) == kw[i];
      if (!same) continue;
      if (rest.size() == kw.size() || IsSpace(rest[kw.size()]) || rest[kw.size()] == '(' ||
          rest[kw.size()] == '"') {
        return kw;
      }
    }
    return {};
  }
  void ConsumeKeyword(std::string_view kw) {
    const std::string_view rest = text_.substr(pos_);
    pos_ += (rest.starts_with("&&") || rest.starts_with("||")) ? 2 : kw.size();
  }

  Result<std::unique_ptr<QueryNode>> ParseOr(int depth, std::string_view field) {
    ASSIGN_OR_RETURN(auto first, ParseAnd(depth, field));
    std::unique_ptr<QueryNode> node;
    while (true) {
      SkipSpace();
      if (PeekKeyword() != "OR") break;
      const size_t at = pos_;
      ConsumeKeyword("OR");
      SkipSpace();
      if (AtEnd() || text_[pos_] == ')') return FailAt(pos_, "expected a term after OR");
      (void)at;
      ASSIGN_OR_RETURN(auto next, ParseAnd(depth, field));
      if (!node) {
        node = std::make_unique<QueryNode>();
        node->kind = Kind::kOr;
        node->children.push_back(std::move(first));
      }
      node->children.push_back(std::move(next));
    }
    return node ? std::move(node) : std::move(first);
  }

  Result<std::unique_ptr<QueryNode>> ParseAnd(int depth, std::string_view field) {
    ASSIGN_OR_RETURN(auto first, ParseNot(depth, field));
    std::unique_ptr<QueryNode> node;
    while (true) {
      SkipSpace();
      if (AtEnd() || text_[pos_] == ')') break;
      const std::string_view kw = PeekKeyword();
      if (kw == "OR") break;
      if (kw == "AND") {
        ConsumeKeyword(kw);
        SkipSpace();
        if (AtEnd() || text_[pos_] == ')') return Fail("expected a term after AND");
      }
      ASSIGN_OR_RETURN(auto next, ParseNot(depth, field));
      if (!node) {
        node = std::make_unique<QueryNode>();
        node->kind = Kind::kAnd;
        node->children.push_back(std::move(first));
      }
      node->children.push_back(std::move(next));
    }
    return node ? std::move(node) : std::move(first);
  }

  Result<std::unique_ptr<QueryNode>> ParseNot(int depth, std::string_view field) {
    SkipSpace();
    if (AtEnd()) return Fail("expected a term");
    bool negate = false;
    if (PeekKeyword() == "NOT") {
      ConsumeKeyword("NOT");
      negate = true;
    } else if (text_[pos_] == '-' || text_[pos_] == '!') {
      ++pos_;
      negate = true;
    }
    if (negate) {
      if (depth + 1 > kMaxQueryDepth) return Fail("the query nests deeper than 32 levels");
      SkipSpace();
      if (AtEnd() || text_[pos_] == ')') return Fail("expected a term after NOT");
      ASSIGN_OR_RETURN(auto inner, ParseNot(depth + 1, field));
      auto node = std::make_unique<QueryNode>();
      node->kind = Kind::kNot;
      node->children.push_back(std::move(inner));
      return node;
    }
    return ParsePrimary(depth, field);
  }

  Status CountTerm() {
    if (++terms_ > kMaxQueryTerms) return Fail("the query has more than 256 terms");
    return {};
  }

  Result<std::unique_ptr<QueryNode>> ParsePrimary(int depth, std::string_view field) {
    SkipSpace();
    if (AtEnd()) return Fail("expected a term");
    const char c = text_[pos_];
    if (c == '(') {
      if (depth + 1 > kMaxQueryDepth) return Fail("the query nests deeper than 32 levels");
      const size_t open = pos_;
      ++pos_;
      SkipSpace();
      if (!AtEnd() && text_[pos_] == ')') return Fail("expected a term inside \"()\"");
      ASSIGN_OR_RETURN(auto inner, ParseOr(depth + 1, field));
      SkipSpace();
      if (AtEnd() || text_[pos_] != ')') {
        return Fail("expected \")\" to close the \"(\" at " + std::to_string(open));
      }
      ++pos_;
      return inner;
    }
    if (c == ')') return Fail("expected a term before \")\"");
    if (const std::string_view kw = PeekKeyword(); kw == "AND" || kw == "OR") {
      return Fail("expected a term before " + std::string(kw));
    }
    RETURN_IF_ERROR(CountTerm());
    if (!field.empty()) return ParseValue(std::string(field), depth);
    if (c == '"') {
      std::string phrase;
      RETURN_IF_ERROR(ReadQuoted(&phrase));
      return TextNode(std::move(phrase), false);
    }
    // A field name or a bare word: up to a blank, a parenthesis, a quote, or an unescaped ':'.
    const size_t start = pos_;
    std::string word;
    std::vector<bool> special;
    while (!AtEnd()) {
      const char d = text_[pos_];
      if (IsSpace(d) || d == '(' || d == ')' || d == '"' || d == ':') break;
      if (d == '\\') {
        if (pos_ + 1 >= text_.size()) return Fail("expected a character after \"\\\"");
        word.push_back(text_[pos_ + 1]);
        special.push_back(false);
        pos_ += 2;
        continue;
      }
      word.push_back(d);
      special.push_back(d == '*' || d == '?');
      ++pos_;
    }
    if (!AtEnd() && text_[pos_] == ':') {
      if (word.empty()) return Fail("expected a field name before \":\"");
      const std::string name(text_.substr(start, pos_ - start));
      for (char ch : name) {
        if (ch == '\\' || ch == '*' || ch == '?') {
          return FailAt(start, "a field name cannot contain \"" + std::string(1, ch) + "\"");
        }
      }
      ++pos_;
      SkipSpace();
      if (AtEnd() || text_[pos_] == ')') {
        return Fail("expected a value after \"" + name + ":\"");
      }
      if (text_[pos_] == '(') {
        if (depth + 1 > kMaxQueryDepth) return Fail("the query nests deeper than 32 levels");
        const size_t open = pos_;
        ++pos_;
        --terms_;  // the terms inside are counted instead
        SkipSpace();
        if (!AtEnd() && text_[pos_] == ')') return Fail("expected a value inside \"()\"");
        ASSIGN_OR_RETURN(auto inner, ParseOr(depth + 1, name));
        SkipSpace();
        if (AtEnd() || text_[pos_] != ')') {
          return Fail("expected \")\" to close the \"(\" at " + std::to_string(open));
        }
        ++pos_;
        return inner;
      }
      return ParseValue(name, depth);
    }
    if (word.empty()) return Fail("expected a term");
    if (word.size() == 1 && special[0] && word[0] == '*') return std::make_unique<QueryNode>();
    // A bare word: a trailing unescaped '*' makes it a prefix; other wildcards are literal.
    bool prefix = false;
    if (special.back() && word.back() == '*') {
      word.pop_back();
      prefix = true;
    }
    if (word.empty()) return FailAt(start, "expected a word before \"*\"");
    return TextNode(std::move(word), prefix);
  }

  std::unique_ptr<QueryNode> TextNode(std::string words, bool prefix) {
    auto node = std::make_unique<QueryNode>();
    node->kind = Kind::kText;
    node->words = LowerAsciiCopy(words);
    node->words_prefix = prefix;
    return node;
  }

  // '"' … '"' with \" and \\ escapes; pos_ is on the opening quote.
  Status ReadQuoted(std::string* out) {
    const size_t open = pos_;
    ++pos_;
    while (!AtEnd()) {
      const char d = text_[pos_];
      if (d == '"') {
        ++pos_;
        return {};
      }
      if (d == '\\' && pos_ + 1 < text_.size()) {
        out->push_back(text_[pos_ + 1]);
        pos_ += 2;
        continue;
      }
      out->push_back(d);
      ++pos_;
    }
    return FailAt(text_.size(), "expected a closing '\"' for the quote at " + std::to_string(open));
  }

  // A bare value: up to a blank or parenthesis; '\' escapes. special marks unescaped * and ?.
  Status ReadBare(std::string* out, std::vector<bool>* special, bool stop_at_bracket) {
    while (!AtEnd()) {
      const char d = text_[pos_];
      if (IsSpace(d) || d == '(' || d == ')' || d == '"') break;
      if (stop_at_bracket && (d == ']' || d == '}')) break;
      if (d == '\\') {
        if (pos_ + 1 >= text_.size()) return Fail("expected a character after \"\\\"");
        out->push_back(text_[pos_ + 1]);
        special->push_back(false);
        pos_ += 2;
        continue;
      }
      out->push_back(d);
      special->push_back(d == '*' || d == '?');
      ++pos_;
    }
    return {};
  }

  Result<std::unique_ptr<QueryNode>> ParseValue(std::string field, int depth) {
    auto node = std::make_unique<QueryNode>();
    node->kind = Kind::kField;
    node->field = std::move(field);
    const size_t start = pos_;
    const char c = text_[pos_];
    if (c == '"') {
      RETURN_IF_ERROR(ReadQuoted(&node->value));
      SetEquality(*node);
      return node;
    }
    if (c == '[' || c == '{') return ParseRange(std::move(node));
    if (c == '>' || c == '<') {
      const bool greater = c == '>';
      ++pos_;
      bool inclusive = false;
      if (!AtEnd() && text_[pos_] == '=') {
        inclusive = true;
        ++pos_;
      }
      std::string bound;
      std::vector<bool> special;
      if (!AtEnd() && text_[pos_] == '"') {
        RETURN_IF_ERROR(ReadQuoted(&bound));
      } else {
        RETURN_IF_ERROR(ReadBare(&bound, &special, false));
      }
      if (bound.empty()) return Fail("expected a value after \"" + std::string(1, c) + "\"");
      node->op = Op::kRange;
      if (greater) {
        node->has_lo = true;
        node->lo_inclusive = inclusive;
        node->lo_text = bound;
      } else {
        node->has_hi = true;
        node->hi_inclusive = inclusive;
        node->hi_text = bound;
      }
      FinishRange(*node);
      return node;
    }
    std::vector<bool> special;
    RETURN_IF_ERROR(ReadBare(&node->value, &special, false));
    if (node->value.empty())
      return FailAt(start, "expected a value after \"" + node->field + ":\"");
    if (node->value == "*" && special[0]) {
      node->op = Op::kExists;
      node->value.clear();
      return node;
    }
    if (std::find(special.begin(), special.end(), true) != special.end()) {
      node->op = Op::kGlob;
      node->glob_special = std::move(special);
      if (IsTextField(node->field)) {
        // message:fail* — a word prefix when the only wildcard is the trailing '*'.
        const size_t stars = std::count(node->glob_special.begin(), node->glob_special.end(), true);
        if (stars == 1 && node->glob_special.back() && node->value.back() == '*') {
          node->words =
              LowerAsciiCopy(std::string_view(node->value).substr(0, node->value.size() - 1));
          node->words_prefix = true;
        }
      }
      return node;
    }
    const size_t slash = node->value.find('/');
    if (slash != std::string::npos) {
      if (auto addr = IpAddress::Parse(std::string_view(node->value).substr(0, slash))) {
        std::string why;
        auto prefix = IpPrefix::Parse(node->value, &why);
        if (!prefix) return FailAt(start, "\"" + node->value + "\" is not a CIDR prefix: " + why);
        node->op = Op::kCidr;
        node->prefix = *prefix;
        return node;
      }
    }
    SetEquality(*node);
    (void)depth;
    return node;
  }

  void SetEquality(QueryNode& node) {
    node.op = Op::kEq;
    node.number = ParseNumber(node.value);
    if (auto ip = IpAddress::Parse(node.value); ip && !ip->is_v4()) node.ipv6 = ip->Unmapped();
    if (IsTextField(node.field)) node.words = LowerAsciiCopy(node.value);
  }

  Result<std::unique_ptr<QueryNode>> ParseRange(std::unique_ptr<QueryNode> node) {
    const size_t open = pos_;
    node->op = Op::kRange;
    node->lo_inclusive = text_[pos_] == '[';
    ++pos_;
    SkipSpace();
    std::string lo, hi;
    bool lo_star = false, hi_star = false;
    RETURN_IF_ERROR(ReadBound(&lo, &lo_star));
    SkipSpace();
    if (text_.substr(pos_, 2) != "TO" || (pos_ + 2 < text_.size() && !IsSpace(text_[pos_ + 2]))) {
      return Fail("expected \"TO\" in the range opened at " + std::to_string(open));
    }
    pos_ += 2;
    SkipSpace();
    RETURN_IF_ERROR(ReadBound(&hi, &hi_star));
    SkipSpace();
    if (AtEnd() || (text_[pos_] != ']' && text_[pos_] != '}')) {
      return Fail("expected \"]\" or \"}\" to close the range opened at " + std::to_string(open));
    }
    node->hi_inclusive = text_[pos_] == ']';
    ++pos_;
    node->has_lo = !lo_star;
    node->has_hi = !hi_star;
    node->lo_text = std::move(lo);
    node->hi_text = std::move(hi);
    if (!node->has_lo && !node->has_hi) {
      node->op = Op::kExists;
      return node;
    }
    FinishRange(*node);
    return node;
  }

  Status ReadBound(std::string* out, bool* star) {
    if (!AtEnd() && text_[pos_] == '"') return ReadQuoted(out);
    std::vector<bool> special;
    const size_t start = pos_;
    RETURN_IF_ERROR(ReadBare(out, &special, true));
    if (out->empty()) return FailAt(start, "expected a range bound");
    *star = *out == "*" && special[0];
    return {};
  }

  static void FinishRange(QueryNode& node) {
    const auto lo = node.has_lo ? ParseNumber(node.lo_text) : std::optional<double>(0);
    const auto hi = node.has_hi ? ParseNumber(node.hi_text) : std::optional<double>(0);
    node.numeric_range = lo.has_value() && hi.has_value();
    if (node.numeric_range) {
      node.lo_num = *lo;
      node.hi_num = *hi;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int terms_ = 0;
};

// Glob over the whole value: '*' any run, '?' one byte. Iterative with one backtrack point, so
// O(|value| * |pattern|) at worst, never exponential.
bool GlobMatches(std::string_view value, const std::string& pattern,
                 const std::vector<bool>& special) {
  size_t v = 0, p = 0;
  size_t star_p = std::string::npos, star_v = 0;
  while (v < value.size()) {
    if (p < pattern.size() && special[p] && pattern[p] == '*') {
      star_p = p++;
      star_v = v;
    } else if (p < pattern.size() &&
               ((special[p] && pattern[p] == '?') || (!special[p] && pattern[p] == value[v]))) {
      ++p;
      ++v;
    } else if (star_p != std::string::npos) {
      p = star_p + 1;
      v = ++star_v;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && special[p] && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::optional<double> NumberOf(const boost::json::value& v) {
  if (v.is_int64() || v.is_uint64() || v.is_double()) return v.to_number<double>();
  if (v.is_string()) return ParseNumber(std::string_view(v.get_string()));
  return std::nullopt;
}

bool InRange(const QueryNode& n, const boost::json::value& v) {
  if (n.numeric_range) {
    const auto d = NumberOf(v);
    if (!d) return false;
    if (n.has_lo && (n.lo_inclusive ? *d < n.lo_num : *d <= n.lo_num)) return false;
    if (n.has_hi && (n.hi_inclusive ? *d > n.hi_num : *d >= n.hi_num)) return false;
    return true;
  }
  if (!v.is_string()) return false;
  const std::string_view s(v.get_string());
  if (n.has_lo) {
    const int c = s.compare(n.lo_text);
    if (n.lo_inclusive ? c < 0 : c <= 0) return false;
  }
  if (n.has_hi) {
    const int c = s.compare(n.hi_text);
    if (n.hi_inclusive ? c > 0 : c >= 0) return false;
  }
  return true;
}

bool ScalarMatches(const QueryNode& n, const boost::json::value& v) {
  switch (n.op) {
    case Op::kExists:
      return !v.is_null();
    case Op::kRange:
      return InRange(n, v);
    case Op::kCidr: {
      if (!v.is_string()) return false;
      const std::string_view s(v.get_string());
      if (auto ip = IpAddress::Parse(s)) return n.prefix.Contains(ip->Unmapped());
      return s == n.value;
    }
    case Op::kGlob:
      if (!v.is_string()) return false;
      if (n.words_prefix) return ContainsWords(std::string_view(v.get_string()), n.words, true);
      return GlobMatches(std::string_view(v.get_string()), n.value, n.glob_special);
    case Op::kEq:
      switch (v.kind()) {
        case boost::json::kind::string: {
          const std::string_view s(v.get_string());
          if (IsTextField(n.field)) return ContainsWords(s, n.words, false);
          if (s == n.value) return true;
          if (n.ipv6) {
            auto ip = IpAddress::Parse(s);
            return ip && ip->Unmapped() == *n.ipv6;
          }
          return false;
        }
        case boost::json::kind::int64:
        case boost::json::kind::uint64:
        case boost::json::kind::double_:
          return n.number && v.to_number<double>() == *n.number;
        case boost::json::kind::bool_:
          return n.value == (v.get_bool() ? "true" : "false");
        default:
          return false;
      }
  }
  return false;
}

bool FieldMatches(const QueryNode& n, const Record& record) {
  const boost::json::value* v = FindField(record.fields(), n.field);
  if (v == nullptr) return false;
  if (const auto* arr = v->if_array()) {
    if (n.op == Op::kExists) return true;
    for (const auto& e : *arr) {
      if (ScalarMatches(n, e)) return true;
    }
    return false;
  }
  if (v->is_object()) return n.op == Op::kExists;
  return ScalarMatches(n, *v);
}

bool TextMatches(const QueryNode& n, const Record& record) {
  if (ContainsWords(record.raw, n.words, n.words_prefix)) return true;
  const boost::json::value* m = record.fields().if_contains("message");
  if (m == nullptr) return false;
  if (m->is_string())
    return ContainsWords(std::string_view(m->get_string()), n.words, n.words_prefix);
  if (const auto* arr = m->if_array()) {
    for (const auto& e : *arr) {
      if (e.is_string() &&
          ContainsWords(std::string_view(e.get_string()), n.words, n.words_prefix)) {
        return true;
      }
    }
  }
  return false;
}

// The words' tokens a record containing them is certain to have in its index: all text tokens,
// except (for a prefix) those touching the unfinished last word.
void WordTokens(const std::string& words, bool prefix, std::set<std::string>* out) {
  std::string_view w = words;
  if (prefix) {
    while (!w.empty() && IsWordByte(static_cast<unsigned char>(w.back()))) w.remove_suffix(1);
  }
  ForEachTextToken(w, [&](std::string_view t) { out->emplace(t); });
}

std::set<std::string> Required(const QueryNode& n) {
  std::set<std::string> out;
  switch (n.kind) {
    case Kind::kAll:
    case Kind::kNot:
      break;
    case Kind::kText:
      WordTokens(n.words, n.words_prefix, &out);
      break;
    case Kind::kField:
      if (IsUnindexedField(n.field)) break;
      if (!n.words.empty() || (IsTextField(n.field) && n.op == Op::kEq)) {
        WordTokens(n.words, n.words_prefix, &out);
        break;
      }
      if (n.op != Op::kEq || n.ipv6 || n.value.size() > kMaxIndexedValueBytes) break;
      if (n.number && !(IsCanonicalInteger(n.value) && IsIndexedInteger(*n.number))) break;
      out.insert(LowerAsciiCopy(n.value));
      break;
    case Kind::kAnd:
      for (const auto& c : n.children) out.merge(Required(*c));
      break;
    case Kind::kOr: {
      out = Required(*n.children[0]);
      for (size_t i = 1; i < n.children.size() && !out.empty(); ++i) {
        const auto other = Required(*n.children[i]);
        std::set<std::string> both;
        std::set_intersection(out.begin(), out.end(), other.begin(), other.end(),
                              std::inserter(both, both.end()));
        out = std::move(both);
      }
      break;
    }
  }
  return out;
}

void Quote(const std::string& s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
  out->push_back('"');
}

void Print(const QueryNode& n, std::string* out) {
  switch (n.kind) {
    case Kind::kAll:
      *out += "*";
      return;
    case Kind::kAnd:
    case Kind::kOr:
      *out += n.kind == Kind::kAnd ? "(AND" : "(OR";
      for (const auto& c : n.children) {
        out->push_back(' ');
        Print(*c, out);
      }
      out->push_back(')');
      return;
    case Kind::kNot:
      *out += "(NOT ";
      Print(*n.children[0], out);
      out->push_back(')');
      return;
    case Kind::kText:
      Quote(n.words, out);
      if (n.words_prefix) out->push_back('*');
      return;
    case Kind::kField:
      *out += n.field;
      switch (n.op) {
        case Op::kEq:
          *out += "=";
          Quote(n.value, out);
          return;
        case Op::kGlob:
          *out += "~";
          for (size_t i = 0; i < n.value.size(); ++i) {
            if (!n.glob_special[i] &&
                (n.value[i] == '*' || n.value[i] == '?' || n.value[i] == '\\')) {
              out->push_back('\\');
            }
            out->push_back(n.value[i]);
          }
          return;
        case Op::kCidr:
          *out += " in " + n.prefix.ToString();
          return;
        case Op::kExists:
          *out += ":*";
          return;
        case Op::kRange:
          *out += n.numeric_range ? ":num" : ":str";
          out->push_back(n.has_lo && n.lo_inclusive ? '[' : '{');
          *out += n.has_lo ? n.lo_text : "*";
          *out += " TO ";
          *out += n.has_hi ? n.hi_text : "*";
          out->push_back(n.has_hi && n.hi_inclusive ? ']' : '}');
          return;
      }
  }
}

}  // namespace

bool NodeMatches(const QueryNode& n, const Record& record) {
  switch (n.kind) {
    case Kind::kAll:
      return true;
    case Kind::kAnd:
      for (const auto& c : n.children) {
        if (!NodeMatches(*c, record)) return false;
      }
      return true;
    case Kind::kOr:
      for (const auto& c : n.children) {
        if (NodeMatches(*c, record)) return true;
      }
      return false;
    case Kind::kNot:
      return !NodeMatches(*n.children[0], record);
    case Kind::kField:
      return FieldMatches(n, record);
    case Kind::kText:
      return TextMatches(n, record);
  }
  return false;
}

Query::Query() : root_(std::make_shared<QueryNode>()) {}

bool Query::Matches(const Record& record) const { return NodeMatches(*root_, record); }

bool Query::MatchesAll() const { return root_->kind == QueryNode::Kind::kAll; }

std::string Query::ToString() const {
  std::string out;
  Print(*root_, &out);
  return out;
}

Result<Query> ParseQuery(std::string_view text) {
  if (text.size() > kMaxQueryBytes) {
    return MakeError(Errc::kInvalidArgument,
                     "at " + std::to_string(kMaxQueryBytes) + ": the query is longer than 8 KiB");
  }
  Parser parser(text);
  ASSIGN_OR_RETURN(auto root, parser.Parse());
  Query q;
  const auto required = Required(*root);
  q.required_tokens_.assign(required.begin(), required.end());
  q.root_ = std::shared_ptr<const QueryNode>(std::move(root));
  return q;
}

}  // namespace seccloud::soc
