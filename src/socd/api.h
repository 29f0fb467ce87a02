#pragma once
// The SOC's HTTP JSON API (R18, R20, R27), served on soc.api (demo 127.0.0.1:9000): search the
// store, fetch evidence records, list and act on alerts and suppressions, read the audit log and
// the ingest statistics. The `seccloud soc` CLI speaks it; the web console will.
//
//   GET  /api/v1/search?q=QUERY&since=30d&until=…&limit=N&order=asc|desc&after=CURSOR&tenant=ID
//        an NDJSON stream (chunked): one record per line in time order, then one summary line
//        {"done":true,"count":N,"truncated":…,"next":CURSOR,…} (or {"error":…} if the search
//        failed midway). limit defaults to 10,000, at most 10,000,000; memory stays bounded
//        whatever the limit: the search runs on its own thread as store searches of at most
//        4,096 records each, resumed at the store cursor (time, seq) of the last record handed
//        out (exact, however many records share a millisecond), and hands chunks of ~64 KiB
//        through a queue of at most 4 that the server drains only as fast as the client reads.
//        At most 8 streams at once (503 beyond); a client that goes away cancels its search,
//        and the store's scan stops within a block.
//        &mode=page answers one JSON object {"records":[…],"next":…} of at most 10,000 instead.
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
//   GET  /api/v1/stats                                        (every-tenant tokens only)
//   POST /api/v1/verify                                       (every-tenant tokens only)
//   GET  /metrics                                             (every-tenant tokens only)
//   GET  /healthz                                             (no token: liveness only)
//
// Authentication: every request but /healthz carries `Authorization: Bearer <token>`; without a
// valid one the answer is 401 with a JSON error. A token's scope (soc/api_token.h) is every tenant
// or a list of tenants. The server forces the scope: a tenant token's request is confined to its
// tenant whatever it asks (`tenant` naming another is 403; a token of several tenants names one),
// and an every-tenant token may narrow itself with `tenant`. Actions are audited as
// "<by> (token <id>)", or the token id when `by` is absent.

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/soc_config.h"
#include "net/http.h"
#include "soc/alert.h"
#include "soc/api_token.h"
#include "soc/store.h"

namespace seccloud::socd {

// The API runs on net::AdminServer (request headers, streamed replies, TLS).
using ApiRequest = net::AdminRequest;
using ApiReply = net::HttpReply;
using ApiHandler = net::AdminServer::Handler;

// The tokens socd accepts: those of the token file (re-read when it changes, checked at most once
// a second) and the local CLI's. Thread-safe.
class ApiAuth {
 public:
  // `tokens_file` may be empty (no file); `cli_token_file` is created with a fresh token (mode
  // 0600) when absent, empty: no CLI token.
  static Result<std::unique_ptr<ApiAuth>> Open(const std::filesystem::path& tokens_file,
                                               const std::filesystem::path& cli_token_file);
  std::optional<soc::ApiToken> Authenticate(std::string_view authorization);

  static constexpr const char* kCliTokenId = "local-cli";

 private:
  ApiAuth() = default;
  Status LoadLocked();
  void RefreshLocked();

  std::mutex mu_;
  std::filesystem::path tokens_file_;
  std::optional<soc::ApiToken> cli_;
  soc::ApiTokenSet set_;
  std::string file_identity_;  // inode, size, mtime of what set_ was read from
  std::chrono::steady_clock::time_point next_check_{};
};

// Reads the local CLI's token file (first line), or creates it with a fresh token.
Result<std::string> EnsureCliToken(const std::filesystem::path& path);
Result<std::string> ReadTokenFile(const std::filesystem::path& path);

struct ApiContext {
  soc::LogStore* store = nullptr;
  soc::AlertStore* alerts = nullptr;
  ApiAuth* auth = nullptr;
  std::function<int64_t()> now_ms;
  // Ingest and detection figures for /api/v1/stats, rendered by the service.
  std::function<boost::json::object()> stats;
  std::function<std::string()> metrics;  // Prometheus text
  std::function<bool()> healthy;
};

ApiHandler MakeApiHandler(std::shared_ptr<ApiContext> context);

// Serves `handler` on soc.api: no built-in endpoints (the API has its own /healthz and guards
// /metrics), TLS when soc.api.tls is set, 10 s for a whole request, 30 s for each write.
// Binds now, serves once `io` runs.
Result<std::unique_ptr<net::AdminServer>> StartApiServer(boost::asio::io_context& io,
                                                         const SocConfig& config,
                                                         ApiHandler handler);

// Streamed searches whose thread still runs (a cancelled one runs until its current store
// search returns). For tests and shutdown.
int ActiveSearchStreams();
// Waits until no streamed search runs (socd's shutdown, before the store closes).
void WaitForSearchStreams();

// One blocking request to the API of `config` (the CLI): TLS when soc.api.tls is set, trusting
// exactly soc.api.tls.certificate (pinned); an unspecified listen address (0.0.0.0, ::) is
// reached on loopback. `authorization` is sent when not empty; the answer is limited to
// `max_body` bytes.
Result<net::HttpResponse> ApiCall(const SocConfig& config, const std::string& method,
                                  const std::string& target, const std::string& body,
                                  const std::string& authorization,
                                  std::chrono::milliseconds timeout,
                                  size_t max_body = size_t{64} << 20);

// "30d", "12h", "15m" (that long before now) or an RFC 3339 time → ms since the epoch.
bool ParseTimeBound(std::string_view text, int64_t now_ms, int64_t* out);

}  // namespace seccloud::socd
