#pragma once
// The SOC's search language (R18): what an analyst types into the console, Lucene/KQL-like.
//
//   source.ip:10.1.2.3 AND event.action:blocked      field equality, explicit AND
//   sshd "failed password" -user.name:root            bare word, phrase, NOT (also "NOT", "!")
//   (dns.question.name:*.example.com OR url.domain:example.com) NOT tenant.id:t1
//   field:"quoted value"   field:prefix*   field:a?c*   glob on the whole value (case-sensitive)
//   field:10.0.0.0/8       CIDR, when the value is a prefix and the field holds an IP address
//   field:[100 TO 500]     inclusive range ({} exclusive, mixed allowed, * open), numeric when both
//                          bounds are numbers (also on strings that hold numbers), else by bytes
//   field:>=400  field:<5  one-sided range
//   field:*                the field exists (not null)
//   *  or empty text       every record
//
// Semantics:
// - AND binds tighter than OR; juxtaposition is AND. AND/OR/NOT are recognised in any case
//   (KQL); quote them to search the words themselves.
// - Equality on a string field is exact and case-sensitive (ECS keyword fields); on a number field
//   it is numeric ("404" matches 404 and 404.0); on a boolean, "true"/"false". An IPv6 value
//   matches any spelling of the same address. Arrays match if any element does; objects only
//   match `field:*`.
// - Full-text fields ("message", "error.message") and bare words/phrases match by token: the text
//   (lower-cased) must occur in the field (for bare words: in the raw record or in "message") with
//   a word boundary on both sides (word characters: ASCII letters, digits, '_', bytes >= 0x80), so
//   `fail*` matches "Failed" and `10.1.2.3` matches "from 10.1.2.3 port" but not "10.1.2.34".
// - Bounds: text <= 8 KiB, nesting (parentheses and NOT) <= 32, <= 256 terms.
//
// A Query is immutable and cheap to copy; Matches() is safe to call from many threads at once.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "soc/record.h"

namespace seccloud::soc {

inline constexpr size_t kMaxQueryBytes = 8 << 10;
inline constexpr int kMaxQueryDepth = 32;
inline constexpr int kMaxQueryTerms = 256;

struct QueryNode;  // query_internal.h

class Query {
 public:
  Query();  // matches every record

  // Reads record.fields (already normalised) and record.raw.
  bool Matches(const Record& record) const;

  bool MatchesAll() const;

  // Tokens (lower-cased) that every matching record necessarily carries in the store's per-block
  // token index (IndexTokens in query_internal.h): a conjunction the store may check against a
  // block's Bloom filter before decompressing it. Empty when the query implies none.
  const std::vector<std::string>& required_tokens() const { return required_tokens_; }

  // The query in canonical, fully parenthesised form (for logs and tests).
  std::string ToString() const;

 private:
  friend Result<Query> ParseQuery(std::string_view text);
  std::shared_ptr<const QueryNode> root_;
  std::vector<std::string> required_tokens_;
};

// An error (Errc::kInvalidArgument) names the byte offset and what was expected there:
// `at 10: expected a value after "source.ip:"`.
Result<Query> ParseQuery(std::string_view text);

}  // namespace seccloud::soc
