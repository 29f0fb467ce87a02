// The access-log event of one request (ClientSession::Finish): one proxy.access event per
// request, through the EventQueue (R3, R10).

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "proxy/block_page.h"
#include "proxy/client_session.h"
#include "proxy/hop_by_hop.h"
#include "proxy/proxy_service.h"
#include "proxy/relay.h"
#include "proxy/scan_hold.h"
#include "proxy/upload_scan.h"

namespace seccloud::proxy::proxy_internal {

std::string ClientSession::EventId(const RequestLog& log) {
  return std::string(log.event.FindString("event.id").value_or(std::string_view()));
}

void ClientSession::Finish(RequestLog& log) {
  if (log.finished) return;
  log.finished = true;
  Event& e = log.event;
  const bool success = log.action == "allowed";
  // RequestLog's Event::Make set them to "allowed" and "success": set again only when they
  // changed (the same value set again is the same line, at ~800 instructions a Set).
  if (!success) {
    e.Set("event.action", log.action);
    e.Set("event.outcome", "failure");
  }
  e.Set("event.category", "web");
  e.Set("event.type", success ? "access" : "denied");
  e.Set(
      "event.duration",
      static_cast<int64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - log.start).count()));
  if (attribution_.tenant) e.Set("tenant.id", attribution_.tenant->id);
  e.Set("client.ip", client_ip_text_.Of(attribution_.client));
  e.Set("source.ip", source_ip_text_.Of(attribution_.source));
  e.Set("seccloud.attribution", AttributionMethodName(attribution_.method));
  if (attribution_.suspicious) e.Set("seccloud.attribution_note", attribution_.note);
  if (!log.method.empty()) e.Set("http.request.method", log.method);
  if (!log.url.empty()) e.Set("url.full", log.url);
  if (!log.host.empty()) e.Set("url.domain", log.host);
  if (log.status) e.Set("http.response.status_code", static_cast<int64_t>(log.status));
  e.Set("http.request.bytes", log.request_bytes);
  e.Set("http.response.bytes", log.response_bytes);
  if (!log.user_agent.empty()) e.Set("user_agent.original", log.user_agent);
  e.Set("seccloud.tls.mode", log.tls_mode);
  if (!log.sni.empty()) e.Set("tls.client.server_name", log.sni);
  if (!log.server_issuer.empty()) e.Set("tls.server.issuer", log.server_issuer);
  if (!log.tls_problem.empty()) e.Set("seccloud.tls.upstream_problem", log.tls_problem);
  e.Set("seccloud.verdict.action", log.verdict);
  if (!log.layer.empty()) {
    e.Set("seccloud.verdict.layer", log.layer == "force-block" ? "common" : log.layer);
    // The scanning engine (clamav, yara) names the ruleset of a malware verdict.
    e.Set("rule.ruleset", log.scanned && log.scan_result != "clean" ? log.list : log.layer);
    e.Set("rule.name", log.entry);
    e.Set("rule.id", log.list + ":" + log.entry);
  }
  if (!log.category.empty()) e.Set("seccloud.url.category", log.category);
  if (!log.scan_result.empty()) {
    e.Set("seccloud.scan.result", log.scan_result);
    if (!log.scan_signature.empty()) e.Set("seccloud.scan.signature", log.scan_signature);
    if (!log.scan_engine.empty()) e.Set("seccloud.scan.engine", log.scan_engine);
    if (!log.scan_db_version.empty()) e.Set("seccloud.scan.db_version", log.scan_db_version);
    if (!log.scan_error.empty()) e.Set("seccloud.scan.note", log.scan_error);
    if (!log.upload_file_name.empty()) e.Set("file.name", log.upload_file_name);
    if (log.scan_result == "infected") {
      e.Set("event.kind", "alert");
      e.Set("event.category", boost::json::value(boost::json::array{"web", "malware"}));
    }
  }
  if (!log.upload_scan_result.empty()) {
    e.Set("seccloud.scan.upload.result", log.upload_scan_result);
    if (!log.upload_scan_signature.empty())
      e.Set("seccloud.scan.upload.signature", log.upload_scan_signature);
    if (!log.upload_scan_engine.empty())
      e.Set("seccloud.scan.upload.engine", log.upload_scan_engine);
    if (!log.upload_scan_note.empty()) e.Set("seccloud.scan.upload.note", log.upload_scan_note);
  }
  if (log.alert) {
    // A threat-intelligence hit: the SOC raises an alert from it.
    e.Set("event.kind", "alert");
    e.Set("event.category", boost::json::value(boost::json::array{"web", "threat"}));
    e.Set("threat.indicator.provider", log.list);
    e.Set("threat.indicator.name", log.entry);
    e.Set("threat.indicator.type", log.host == log.entry ? "domain-name" : "url");
  }
  if (!log.reason.empty()) e.Set("seccloud.verdict.reason", log.reason);
  if (!log.error.empty()) e.Set("error.message", log.error);
  service_.host().events().Push(std::move(e));
}

}  // namespace seccloud::proxy::proxy_internal
