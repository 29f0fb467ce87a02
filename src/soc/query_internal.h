#pragma once
// Private to the query language and the store: the parsed query tree, and the token rules both
// sides must agree on. The store indexes, per block, the tokens IndexRecordTokens() yields; a query
// may only require (for Bloom pruning) tokens that a matching record is certain to have yielded.
// Changing any rule here changes what old blocks' Bloom filters mean: bump the block format.

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip.h"
#include "soc/record.h"

namespace seccloud::soc {

// Word characters of the token rules: ASCII letters and digits, '_', and every byte >= 0x80 (so
// UTF-8 words stay whole).
constexpr bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c >= 0x80;
}
constexpr char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
std::string LowerAsciiCopy(std::string_view s);

// Whole field values longer than this are not indexed (their words still are).
inline constexpr size_t kMaxIndexedValueBytes = 256;
inline constexpr size_t kMaxIndexedWordBytes = 64;

// Words (maximal runs of word bytes, lower-cased) worth a Bloom bit: 2..64 bytes, not a long
// number (>= 5 digits: ports, byte counts, timestamps) and not a long hex id (>= 8 hex with a digit
// and a letter: UUID parts, hashes), which are nearly unique per record and would bloat the filter.
// A whole field value holding such an id is still indexed.
bool IsIndexedWord(std::string_view lowered_word);
// Integral numbers with |n| < 10000 (status codes, well-known ports, event ids) are indexed as
// their decimal text; larger ones are mostly sizes and durations, nearly unique per record.
bool IsIndexedInteger(double value);
// Fields whose values are not indexed at all: they are unique per record and searched by time.
bool IsUnindexedField(std::string_view path);
// Fields matched by token (full text) rather than exact value.
bool IsTextField(std::string_view path);

// Calls emit(lowered) for each index token of free text: every indexed word, and every dotted
// quad (four consecutive words of 1-3 digits joined by single '.'), so a full-text IPv4 search
// is selective although its parts are not indexed.
void ForEachTextToken(std::string_view text, const std::function<void(std::string_view)>& emit);

// Every token the store indexes for one record: the text tokens of raw, and for every field
// value (except IsUnindexedField ones): the lower-cased whole value of a string (when at most
// kMaxIndexedValueBytes), and the text tokens of IsTextField ones, the decimal text of an indexed
// integer, and "true"/"false". (A query requires a field's words only for text fields, so the
// words of keyword values would cost ingest time and Bloom bits for nothing.)
void ForEachRecordToken(std::string_view raw, const boost::json::object& fields,
                        const std::function<void(std::string_view)>& emit);

// True when every token ForEachRecordToken yields from fields occurs in lowered_raw (a
// substring) or equals one of `allowed` (lower-cased values a caller can check without the
// fields: the record's source, format name, tenant, dataset).
bool FieldTokensOccurIn(std::string_view lowered_raw, const boost::json::object& fields,
                        std::span<const std::string> allowed);

// Calls missing(token) for each token ForEachRecordToken yields from fields that occurs neither
// in lowered_raw (a substring) nor among `allowed` (a token may be reported more than once);
// returns true when there was none, i.e. exactly when FieldTokensOccurIn is true. Compact() puts
// these tokens into a block's token set under FieldOnlyTokenHash (store_internal.h).
bool ForEachFieldTokenNotIn(std::string_view lowered_raw, const boost::json::object& fields,
                            std::span<const std::string> allowed,
                            const std::function<void(std::string_view)>& missing);

// True when lowered_needle occurs in haystack (compared lower-cased, ASCII) with a word boundary
// at each end of the needle that is a word byte (for a prefix search, at the start only).
bool ContainsWords(std::string_view haystack, std::string_view lowered_needle, bool prefix);

struct QueryNode {
  enum class Kind : uint8_t { kAll, kAnd, kOr, kNot, kField, kText };
  enum class Op : uint8_t { kEq, kGlob, kCidr, kRange, kExists };
  Kind kind = Kind::kAll;
  std::vector<std::unique_ptr<QueryNode>> children;  // kAnd, kOr (>= 2), kNot (1)

  // kField
  std::string field;
  Op op = Op::kEq;
  std::string value;               // kEq: the value; kGlob: the pattern (see glob_special)
  std::vector<bool> glob_special;  // kGlob: value[i] is an unescaped '*' or '?'
  std::optional<double> number;    // kEq: the value read as a number, if it is one
  std::optional<IpAddress> ipv6;   // kEq: the value when it is an IPv6 address
  IpPrefix prefix;                 // kCidr
  bool has_lo = false, has_hi = false, lo_inclusive = true, hi_inclusive = true;  // kRange
  bool numeric_range = false;
  double lo_num = 0, hi_num = 0;
  std::string lo_text, hi_text;

  // kText (and a kEq/kGlob on a text field): the lower-cased words; prefix: a trailing '*'.
  std::string words;
  bool words_prefix = false;
};

bool NodeMatches(const QueryNode& node, const Record& record);

}  // namespace seccloud::soc
