// Fuzzes the store's index tokenizer (R18): index_tokens::TextTokens — 64-byte bit masks, word
// runs across pieces, hashes of padded words — against the byte-at-a-time reference
// (index_tokens_reference.h) on arbitrary bytes, and TextTokensBaseline (the build for a CPU
// without AVX2/BMI) and the store's kind of emitter (a write pointer, worked on as a copy by
// TextTokens' AVX2 build) against it; the field values' LoweredTokenHash against TokenHash of
// the lowered bytes. The hashes are persisted in every block's token
// index and recomputed by searches, so any difference in the sequence aborts.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "soc/index_tokens.h"
#include "soc/index_tokens_reference.h"
#include "soc/token_hash.h"

namespace {

using namespace seccloud::soc;

// store_embedded.cc's WriteTokenHashes.
struct PointerWriter {
  uint64_t* next;
  void operator()(std::string_view t) { *next++ = store_internal::TokenHash(t); }
  void Padded(const char* p, size_t n) { *next++ = store_internal::TokenHashPadded(p, n); }
};

struct HashWriter {
  std::vector<uint64_t>* out;
  void operator()(std::string_view t) const { out->push_back(store_internal::TokenHash(t)); }
  void Padded(const char* p, size_t n) const {
    out->push_back(store_internal::TokenHashPadded(p, n));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly size bytes (not one more: a zeroed extra byte is readable and a
  // separator, so a read past the text would go unseen): the sanitizer reports such a read.
  const auto copy = std::make_unique_for_overwrite<char[]>(size);
  if (size != 0) std::memcpy(copy.get(), data, size);
  const std::string_view text(copy.get(), size);
  std::vector<uint64_t> got;
  HashWriter writer{&got};
  index_tokens::TextTokens(text, writer);
  if (got != index_tokens::ReferenceTextTokenHashes(text)) std::abort();
  std::vector<uint64_t> baseline;
  HashWriter baseline_writer{&baseline};
  index_tokens::TextTokensBaseline(text, baseline_writer);
  if (baseline != got) std::abort();
  std::vector<uint64_t> written(size + 1);
  PointerWriter pointer{written.data()};
  index_tokens::TextTokens(text, pointer);
  written.resize(static_cast<size_t>(pointer.next - written.data()));
  if (written != got) std::abort();
  // The text's first up to kMaxIndexedValueBytes + 8 bytes as a field value.
  const std::string_view value = text.substr(0, kMaxIndexedValueBytes + 8);
  std::string lowered(value);
  for (char& c : lowered) c = LowerAscii(c);
  if (index_tokens::LoweredTokenHash(value) != store_internal::TokenHash(lowered)) std::abort();
#if defined(SECCLOUD_INDEX_TOKENS_AVX2)
  // TextTokens takes the AVX2 masks on a CPU that has it: SSE2's must give the same bytes.
  if (index_tokens::UseAvx2()) {
    const size_t words = (size + 63) / 64;
    std::vector<char> low_a(words * 64), low_b(words * 64);
    std::vector<uint64_t> a(3 * words), b(3 * words);
    index_tokens::MaskPieces(text.data(), size, words, low_a.data(), a.data(), a.data() + words,
                             a.data() + 2 * words);
    index_tokens::MaskPiecesAvx2(text.data(), size, words, low_b.data(), b.data(), b.data() + words,
                                 b.data() + 2 * words);
    if (a != b || low_a != low_b) std::abort();
  }
#endif
  return 0;
}
