// Fuzzes soc::Normalize (R18), the parsers every byte of every ingested log goes through, and
// SniffFormat. Input: one byte selecting the format and record options, then the raw record.
// Checks the contract other SOC components rely on: the metadata fields exist, every string is
// valid UTF-8, values are bounded, unparsed records say why, and the result is deterministic.

#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/text.h"
#include "soc/parse.h"

namespace {

using seccloud::soc::FindField;
using seccloud::soc::Format;
using seccloud::soc::Record;

void Check(bool ok) {
  if (!ok) std::abort();
}

size_t Leaves(const boost::json::value& v) {
  if (const auto* o = v.if_object()) {
    size_t n = 0;
    for (const auto& kv : *o) n += Leaves(kv.value());
    return n;
  }
  if (const auto* a = v.if_array()) {
    size_t n = 0;
    for (const auto& e : *a) n += Leaves(e);
    return n;
  }
  return 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  Record r;
  r.format = static_cast<Format>(selector % 7 + 1);
  r.raw.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  r.received_ms = (selector & 0x80) ? 1764130000000 : 0;
  r.truncated = (selector & 0x40) != 0;
  if (selector & 0x20) r.tenant = "city-a";
  if (selector & 0x10) r.peer = "::ffff:192.0.2.1";
  r.source = "fuzz";

  seccloud::soc::SniffFormat(r.raw);
  seccloud::soc::Normalize(r);

  const auto* ts = FindField(r.fields(), "@timestamp");
  Check(ts != nullptr && ts->is_string() &&
        ts->get_string() == seccloud::soc::FormatTimeMs(r.time_ms));
  const auto* dataset = FindField(r.fields(), "event.dataset");
  Check(dataset != nullptr && dataset->is_string() && !dataset->get_string().empty());
  Check(FindField(r.fields(), "event.ingested") != nullptr);
  Check(FindField(r.fields(), "seccloud.soc.format") != nullptr);
  Check(r.parsed || FindField(r.fields(), "seccloud.soc.parse_error") != nullptr);
  const auto* tenant = FindField(r.fields(), "tenant.id");
  if (r.format != Format::kSeccloudEvent) {
    Check(r.tenant.empty()
              ? tenant == nullptr
              : (tenant != nullptr && tenant->is_string() && tenant->get_string() == "city-a"));
  }
  const std::string json = boost::json::serialize(r.fields());
  Check(seccloud::IsValidUtf8(json));
  Check(Leaves(boost::json::value(r.fields())) <= seccloud::soc::kMaxParsedFields);

  // Deterministic: the store rebuilds fields from the same inputs.
  Record again = r;
  again.fields() = {};
  seccloud::soc::Normalize(again);
  Check(boost::json::serialize(again.fields()) == json && again.time_ms == r.time_ms &&
        again.parsed == r.parsed);
  return 0;
}
