#pragma once
// The SOC's HTTP JSON API (R18, R20), served on soc.api (demo 127.0.0.1:9000): search the store,
// fetch evidence records, list and act on alerts and suppressions, read the audit log and the
// ingest statistics. The `seccloud soc` CLI speaks it; the web console will.
//
//   GET  /api/v1/search?q=QUERY&since=30d&until=…&limit=N&order=asc|desc&tenant=ID
//   GET  /api/v1/records?seq=1,2,3[&tenant=ID]
//   GET  /api/v1/alerts?status=open&severity=high&rule=ID&since=7d&limit=N&offset=N&tenant=ID
//   GET  /api/v1/alert?id=N[&tenant=ID]                       (with its evidence seqs)
//   POST /api/v1/alerts/ack    {"id":N,"by":"analyst","note":"…"[,"tenant":ID]}
//   POST /api/v1/alerts/close  {"id":N,"by":"analyst","reason":"…"[,"tenant":ID]}
//   GET  /api/v1/suppressions?all=1[&tenant=ID]
//   POST /api/v1/suppressions  {"rule":"…","entity":"…","field":"…","value":"…","reason":"…",
//                               "by":"…","expires":"7d"|RFC 3339[,"tenant":ID]}
//   POST /api/v1/suppressions/delete {"id":N,"by":"…"[,"tenant":ID]}
//   GET  /api/v1/audit?alert=N&suppression=N&limit=N[&tenant=ID]
//   GET  /api/v1/stats
//   POST /api/v1/verify
//
// `tenant` scopes a request to one tenant's data. The API has no authentication yet, so the
// configuration only lets it listen on loopback.

#include <functional>
#include <memory>
#include <string>

#include "net/http.h"
#include "soc/alert.h"
#include "soc/store.h"

namespace seccloud::socd {

struct ApiContext {
  soc::LogStore* store = nullptr;
  soc::AlertStore* alerts = nullptr;
  std::function<int64_t()> now_ms;
  // Ingest and detection figures for /api/v1/stats, rendered by the service.
  std::function<boost::json::object()> stats;
};

void RegisterApi(net::AdminServer& server, std::shared_ptr<ApiContext> context);

// "30d", "12h", "15m" (that long before now) or an RFC 3339 time → ms since the epoch.
bool ParseTimeBound(std::string_view text, int64_t now_ms, int64_t* out);

}  // namespace seccloud::socd
