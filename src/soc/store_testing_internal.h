#pragma once
// For tests and fuzz targets only: a stand-in for soc/parse.h's Normalize that understands JSON
// lines (their keys become fields as they are) and treats anything else as text. It follows the
// shared contract for the metadata fields, so the store and the query language can be tested
// without the parsers.

#include <boost/json/parse.hpp>

#include "soc/record.h"

namespace seccloud::soc {

inline void TestNormalize(Record& r) {
  r.fields() = {};
  r.parsed = false;
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 16;
  boost::json::value v = boost::json::parse(r.raw, ec, {}, opts);
  if (!ec && v.is_object()) {
    r.fields() = std::move(v.get_object());
    r.parsed = true;
  }
  const bool has_dataset = [&] {
    const auto* d = FindField(r.fields(), "event.dataset");
    return d != nullptr && d->is_string();
  }();
  // Metadata fields are set afresh (a JSON line's own "@timestamp" is replaced by time_ms).
  r.fields().erase("@timestamp");
  SetField(r.fields(), "@timestamp", boost::json::string(FormatTimeMs(r.time_ms)));
  SetField(r.fields(), "event.ingested", boost::json::string(FormatTimeMs(r.received_ms)));
  if (!has_dataset) SetField(r.fields(), "event.dataset", r.parsed ? "json" : "text");
  SetField(r.fields(), "seccloud.soc.source", boost::json::string(r.source));
  SetField(r.fields(), "seccloud.soc.format", FormatName(r.format));
  if (!r.tenant.empty()) SetField(r.fields(), "tenant.id", boost::json::string(r.tenant));
  if (!r.parsed) {
    SetField(r.fields(), "message", boost::json::string(r.raw));
  }
}

}  // namespace seccloud::soc
