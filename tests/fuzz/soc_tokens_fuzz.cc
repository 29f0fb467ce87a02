// Fuzzes the store's index tokenizer (R18): index_tokens::TextTokens — 64-byte bit masks, word
// runs across pieces, hashes of padded words — against the byte-at-a-time reference
// (index_tokens_reference.h) on arbitrary bytes. The hashes are persisted in every block's token
// index and recomputed by searches, so any difference in the sequence aborts.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "soc/index_tokens.h"
#include "soc/index_tokens_reference.h"
#include "soc/token_hash.h"

namespace {

using namespace seccloud::soc;

struct HashWriter {
  std::vector<uint64_t>* out;
  void operator()(std::string_view t) const { out->push_back(store_internal::TokenHash(t)); }
  void Padded(const char* p, size_t n) const {
    out->push_back(store_internal::TokenHashPadded(p, n));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly size bytes: a read past the text is reported by the sanitizer.
  const auto copy = std::make_unique<char[]>(size + 1);
  if (size != 0) std::memcpy(copy.get(), data, size);
  const std::string_view text(copy.get(), size);
  std::vector<uint64_t> got;
  HashWriter writer{&got};
  index_tokens::TextTokens(text, writer);
  if (got != index_tokens::ReferenceTextTokenHashes(text)) std::abort();
  return 0;
}
