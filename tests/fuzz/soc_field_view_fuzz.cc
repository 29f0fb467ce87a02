// Differential fuzzing of soc::FieldView (R18): every ingest reader (Sigma, intel, the detection
// engine, socd's attribution) asks a record's fields through FieldView, which answers a pending
// record — a kept JSON tape or a parser's overlay — without building its tree. Its answers must be
// FindField's on the tree built from the same record, for any line of any format.
// Input: one selector byte, then the raw record. The selector picks the format (the byte mod 7),
// a tenant given to Normalize (0x08), a sender address in one of two spellings (0x10, 0x20), a
// tenant given after Normalize through SetTenantField as attribution does (0x40), and whether the
// view indexes the record's root before its first lookup (0x80).
// Paths asked: every path of the built tree, each cut to its first segment and lengthened, and a
// fixed list of metadata paths in odd forms, addresses and reader paths.
// Suricata EVE records (kept as an overlay since eve19) are also compared with the tree path
// (internal::NormalizeRecord without the overlay): the same verdict, time and tree, byte for
// byte, and a kept overlay in no more memory than the tree.

#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "soc/field_view.h"
#include "soc/field_view_testing.h"
#include "soc/parse.h"
#include "soc/parse_internal.h"
#include "soc/record.h"

namespace {

using seccloud::soc::FieldRef;
using seccloud::soc::FieldView;
using seccloud::soc::Format;
using seccloud::soc::Record;

void Check(bool ok) {
  if (!ok) std::abort();
}

using seccloud::soc::field_view_testing::Describe;
using seccloud::soc::field_view_testing::TreePaths;

constexpr const char* kFixed[] = {"@timestamp",
                                  "@timestamp.x",
                                  "event",
                                  "event.",
                                  ".event",
                                  "event.dataset",
                                  "event.dataset.x",
                                  "event.ingested",
                                  "event.kind",
                                  "event.category",
                                  "event.action",
                                  "seccloud",
                                  "seccloud.soc",
                                  "seccloud.soc.source",
                                  "seccloud.soc.format",
                                  "seccloud.soc.peer",
                                  "seccloud.soc.peer.x",
                                  "seccloud.soc.parse_error",
                                  "seccloud.soc.x",
                                  "seccloud.socx",
                                  "tenant",
                                  "tenant.id",
                                  "tenant.id.x",
                                  "tenantx",
                                  "source",
                                  "source.ip",
                                  "source.ip.x",
                                  "source.port",
                                  "destination.ip",
                                  "destination.port",
                                  "client.ip",
                                  "server.ip",
                                  "host.ip",
                                  "host.name",
                                  "host.hostname",
                                  "related.ip",
                                  "related.hosts",
                                  "url.full",
                                  "url.original",
                                  "url.domain",
                                  "dns.question.name",
                                  "tls.client.server_name",
                                  "file.hash.sha256",
                                  "process.name",
                                  "process.command_line",
                                  "user.name",
                                  "message",
                                  "winlog.channel",
                                  "winlog.event_id",
                                  "winlog.event_data.Image",
                                  "winlog.event_data.CommandLine",
                                  "suricata.eve.event_type",
                                  "suricata.eve.alert.signature",
                                  "http.request.method",
                                  "http.response.status_code",
                                  "",
                                  ".",
                                  "a..b",
                                  "x"};

Record Normalized(uint8_t selector, const uint8_t* data, size_t size, bool overlay_allowed = true) {
  Record r;
  r.format = static_cast<Format>(selector % 7 + 1);
  r.raw.assign(reinterpret_cast<const char*>(data), size);
  r.received_ms = 1790899200123;
  r.source = "fuzz";
  if (selector & 0x08) r.tenant = "city-a";
  if (selector & 0x10) r.peer = (selector & 0x20) ? "::FFFF:192.0.2.1" : "192.0.2.1";
  seccloud::soc::internal::NormalizeRecord(r, overlay_allowed);
  if (selector & 0x40) {
    r.tenant = "city-b";
    seccloud::soc::SetTenantField(r);
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  ++data, --size;
  const Record built = [&] {
    Record r = Normalized(selector, data, size);
    (void)r.fields();  // the tree, built as any reader outside ingest builds it
    return r;
  }();
  const boost::json::object& tree = built.fields();
  if (built.format == Format::kSuricataEve) {
    const Record pending = Normalized(selector, data, size);
    const Record reference = Normalized(selector, data, size, /*overlay_allowed=*/false);
    Check(!reference.fields_pending());
    Check(pending.parsed == reference.parsed && pending.time_ms == reference.time_ms);
    if (pending.fields_pending()) Check(pending.MemoryBytes() <= reference.MemoryBytes());
    Check(boost::json::serialize(tree) == boost::json::serialize(reference.fields()));
  }
  std::vector<std::string> paths(std::begin(kFixed), std::end(kFixed));
  std::vector<std::string> present;
  TreePaths(tree, "", &present, /*max_depth=*/64, /*max_paths=*/4096);
  for (const std::string& p : present) {
    paths.push_back(p);
    paths.push_back(p + ".x");
    paths.push_back(p + "x");
    paths.push_back(p.substr(0, p.find('.')));
  }
  const bool index_first = (selector & 0x80) != 0;
  Record r = Normalized(selector, data, size);
  FieldView view(r);
  if (index_first) view.Index();
  for (const std::string& path : paths) {
    const FieldRef got = view.Find(path);
    Check(Describe(got) == Describe(FieldRef::Tree(seccloud::soc::FindField(tree, path))));
    if (!r.fields_pending()) {
      // A lookup built the tree (an object the metadata adds to): a fresh pending record again.
      r = Normalized(selector, data, size);
      view.Reset(r);
      if (index_first) view.Index();
    }
  }
  return 0;
}
