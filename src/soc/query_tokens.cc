// The token rules shared by the query language and the store's Bloom filters (query_internal.h).

#include <algorithm>
#include <boost/json/object.hpp>
#include <cmath>

#include "soc/index_tokens.h"
#include "soc/query_internal.h"

namespace seccloud::soc {
namespace {

constexpr bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool IsHex(unsigned char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string LowerAsciiCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

bool IsIndexedWord(std::string_view w) {
  if (w.size() < 2 || w.size() > kMaxIndexedWordBytes) return false;
  bool all_digits = true, all_hex = true, has_digit = false, has_alpha = false;
  for (unsigned char c : w) {
    const bool digit = IsDigit(c);
    all_digits &= digit;
    all_hex &= IsHex(c);
    has_digit |= digit;
    has_alpha |= !digit;
  }
  if (all_digits && w.size() >= 5) return false;
  if (all_hex && has_digit && has_alpha && w.size() >= 8) return false;
  return true;
}

bool IsIndexedInteger(double value) {
  return std::isfinite(value) && std::trunc(value) == value && std::fabs(value) < 10000;
}

bool IsUnindexedField(std::string_view path) {
  return path == "@timestamp" || path == "event.ingested";
}

bool IsTextField(std::string_view path) { return path == "message" || path == "error.message"; }

void ForEachTextToken(std::string_view text, const std::function<void(std::string_view)>& emit) {
  index_tokens::TextTokens(text, emit);
}

void ForEachRecordToken(std::string_view raw, const boost::json::object& fields,
                        const std::function<void(std::string_view)>& emit) {
  index_tokens::RecordTokens(raw, fields, emit);
}

bool FieldTokensOccurIn(std::string_view lowered_raw, const boost::json::object& fields,
                        std::span<const std::string> allowed) {
  bool all = true;
  auto check = [&](std::string_view t) {
    if (!all) return;
    if (lowered_raw.find(t) != std::string_view::npos) return;
    for (const auto& a : allowed) {
      if (a == t) return;
    }
    all = false;
  };
  index_tokens::ObjectTokens(fields, "", 0, check);
  return all;
}

bool ForEachFieldTokenNotIn(std::string_view lowered_raw, const boost::json::object& fields,
                            std::span<const std::string> allowed,
                            const std::function<void(std::string_view)>& missing) {
  bool none = true;
  auto check = [&](std::string_view t) {
    if (lowered_raw.find(t) != std::string_view::npos ||
        std::find(allowed.begin(), allowed.end(), t) != allowed.end()) {
      return;
    }
    none = false;
    missing(t);
  };
  index_tokens::ObjectTokens(fields, "", 0, check);
  return none;
}

bool ContainsWords(std::string_view hay, std::string_view needle, bool prefix) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  const bool word_start = IsWordByte(static_cast<unsigned char>(needle.front()));
  const bool word_end = !prefix && IsWordByte(static_cast<unsigned char>(needle.back()));
  const char first = needle.front();
  const size_t last_start = hay.size() - needle.size();
  for (size_t pos = 0; pos <= last_start; ++pos) {
    if (LowerAscii(hay[pos]) != first) continue;
    if (word_start && pos > 0 && IsWordByte(static_cast<unsigned char>(hay[pos - 1]))) continue;
    size_t k = 1;
    while (k < needle.size() && LowerAscii(hay[pos + k]) == needle[k]) ++k;
    if (k != needle.size()) continue;
    const size_t end = pos + needle.size();
    if (word_end && end < hay.size() && IsWordByte(static_cast<unsigned char>(hay[end]))) continue;
    return true;
  }
  return false;
}

}  // namespace seccloud::soc
