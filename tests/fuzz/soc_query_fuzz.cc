// Fuzzes the SOC search language (R18): ParseQuery on arbitrary text, then Matches on a fixed
// record, ToString, and the contract the store's Bloom pruning relies on — every token a query
// requires is indexed for any record the query matches (a violation would make searches miss
// records, so it aborts).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "soc/query.h"
#include "soc/query_internal.h"
#include "soc/store_testing_internal.h"

namespace {

using namespace seccloud::soc;

const std::vector<Record>& Records() {
  static const auto* records = [] {
    auto* rs = new std::vector<Record>();
    for (
        const char* raw :
        {R"({"event":{"dataset":"proxy.access","action":"blocked","category":["web","net"]},)"
         R"("source":{"ip":"10.1.2.3","port":51234},"destination":{"ip":"2001:db8::1"},)"
         R"("url":{"domain":"evil.example.com"},"http":{"response":{"status_code":404}},)"
         R"("user":{"name":"Alice"},"ok":true,"n":1.5,"message":"Blocked EICAR from evil.example.com",)"
         R"("error":{"message":"Time-out after 30s"},"size":"300","nested":[{"a":"B"},[1,2]]})",
         "Nov 26 03:20:22 gw1 sshd[4242]: Failed password for root from 192.0.2.77 port 22 ssh2",
         "x=10.1.2.3.4 host-192.0.2.1:80 user@Example.ORG 0a1b2c3d4e5f6a7b \xe6\x97\xa5 \xff"}) {
      Record r;
      r.time_ms = 1'764'000'000'000;
      r.received_ms = r.time_ms + 5;
      r.format = Format::kJson;
      r.source = "spool:proxy";
      r.tenant = "t1";
      r.raw = raw;
      TestNormalize(r);
      rs->push_back(std::move(r));
    }
    return rs;
  }();
  return *records;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto query = ParseQuery(text);
  if (!query) {
    if (query.error().message.rfind("at ", 0) != 0) std::abort();  // errors name the position
    return 0;
  }
  (void)query->ToString();
  (void)query->MatchesAll();
  for (const Record& r : Records()) {
    if (!query->Matches(r)) continue;
    std::set<std::string, std::less<>> indexed;
    ForEachRecordToken(r.raw, r.fields(), [&](std::string_view t) { indexed.emplace(t); });
    for (const auto& t : query->required_tokens()) {
      if (!indexed.contains(t)) std::abort();
    }
    // The store's raw-text prefilter (kFlagFieldsInRaw) must not reject a matching record.
    const std::string lowered = LowerAsciiCopy(r.raw);
    const auto* dataset = FindField(r.fields(), "event.dataset");
    const std::string allowed[] = {
        LowerAsciiCopy(r.source), FormatName(r.format), LowerAsciiCopy(r.tenant),
        dataset && dataset->is_string() ? LowerAsciiCopy(std::string_view(dataset->get_string()))
                                        : std::string()};
    if (FieldTokensOccurIn(lowered, r.fields(), allowed)) {
      for (const auto& t : query->required_tokens()) {
        if (lowered.find(t) == std::string::npos &&
            std::find(std::begin(allowed), std::end(allowed), t) == std::end(allowed)) {
          std::abort();
        }
      }
    }
    // Nor the version 6 one: a required token outside the raw text and metadata is among the
    // field-only tokens Compact() puts into the block's token set.
    std::set<std::string, std::less<>> field_only;
    const bool none = ForEachFieldTokenNotIn(lowered, r.fields(), allowed,
                                             [&](std::string_view t) { field_only.emplace(t); });
    if (none != FieldTokensOccurIn(lowered, r.fields(), allowed)) std::abort();
    for (const auto& t : query->required_tokens()) {
      if (lowered.find(t) == std::string::npos &&
          std::find(std::begin(allowed), std::end(allowed), t) == std::end(allowed) &&
          !field_only.contains(t)) {
        std::abort();
      }
    }
  }
  return 0;
}
