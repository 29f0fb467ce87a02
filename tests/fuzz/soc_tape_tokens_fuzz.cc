// Fuzzes the store's field tokens of a pending record (index_tape_tokens.h, R18) against the tree
// walk they replace: any bytes normalised as a JSON line or a seccloud event, with one of five
// metadata variants (tenant, peer), then the tape walked (hash and text emitters) and the tree
// built and walked; the sorted hashes and token texts must be equal whenever the tape walk
// decides. Input: one byte (bit 0: seccloud event, bit 1: put a string event.dataset and an
// RFC 3339 @timestamp first so that a seccloud event parses, bits 2-4: metadata variant), then
// the line.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "soc/index_tape_tokens.h"
#include "soc/index_tokens.h"
#include "soc/parse.h"
#include "soc/record.h"
#include "soc/store_internal.h"

namespace {

using namespace seccloud::soc;

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Hashes {
  std::vector<uint64_t> out;
  std::string_view raw;
  void operator()(std::string_view t) { out.push_back(store_internal::TokenHash(t)); }
  void Padded(const char* p, size_t n) { out.push_back(store_internal::TokenHashPadded(p, n)); }
  void Lowered(std::string_view s) { out.push_back(index_tokens::LoweredTokenHash(s)); }
  bool HasTextTokensOf(std::string_view text) const {
    return index_tokens::TextTokensWithin(raw, text);
  }
};

struct Texts {
  std::vector<std::string> out;
  void operator()(std::string_view t) { out.emplace_back(t); }
};

struct Meta {
  const char* tenant;
  const char* peer;
};
constexpr Meta kMetas[] = {
    {"", ""}, {"t01", "192.0.2.7"}, {"tsu", "2001:DB8::0001"}, {"", "[fe80::1%eth0]"},
    {"ise", "not-an-address"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string line(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((flags & 2) != 0 && !line.empty() && line[0] == '{') {
    line.insert(1, R"("@timestamp":"2026-10-02T00:00:23.663Z","event.dataset":"fz",)");
  }
  const Meta& meta = kMetas[(flags >> 2) % std::size(kMetas)];
  Record r;
  r.format = (flags & 1) != 0 ? Format::kSeccloudEvent : Format::kJson;
  r.raw = std::move(line);
  r.received_ms = 1'764'115'200'000;
  r.source = "spool:fuzz";
  r.tenant = meta.tenant;
  r.peer = meta.peer;
  Normalize(r);
  if (!r.fields_pending()) return 0;
  Hashes tape_h{{}, r.raw};
  Texts tape_t;
  const bool walked = index_tokens::PendingFieldTokens(*r.pending_fields(), tape_h);
  Check(walked == index_tokens::PendingFieldTokens(*r.pending_fields(), tape_t));
  std::string_view dataset_view;
  const bool dataset_known = index_tokens::PendingDatasetOf(*r.pending_fields(), &dataset_view);
  const std::string dataset(dataset_view);
  Hashes tree_h{{}, r.raw};
  Texts tree_t;
  index_tokens::ObjectTokens(r.fields(), "", 0, tree_h);
  index_tokens::ObjectTokens(r.fields(), "", 0, tree_t);
  if (dataset_known) {
    const auto* d = FindField(r.fields(), "event.dataset");
    Check(d != nullptr && d->is_string() && std::string_view(d->get_string()) == dataset);
  }
  if (!walked) return 0;
  std::sort(tape_h.out.begin(), tape_h.out.end());
  std::sort(tree_h.out.begin(), tree_h.out.end());
  std::sort(tape_t.out.begin(), tape_t.out.end());
  std::sort(tree_t.out.begin(), tree_t.out.end());
  Check(tape_h.out == tree_h.out);
  Check(tape_t.out == tree_t.out);
  return 0;
}
