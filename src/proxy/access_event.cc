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

namespace {

// The fields of a proxy.access event (events.md), checked when compiled.
constexpr FieldPath kClientIp{"client.ip"};
constexpr FieldPath kErrorMessage{"error.message"};
constexpr FieldPath kEventAction{"event.action"};
constexpr FieldPath kEventCategory{"event.category"};
constexpr FieldPath kEventDuration{"event.duration"};
constexpr FieldPath kEventKind{"event.kind"};
constexpr FieldPath kEventOutcome{"event.outcome"};
constexpr FieldPath kEventType{"event.type"};
constexpr FieldPath kFileName{"file.name"};
constexpr FieldPath kHttpRequestBytes{"http.request.bytes"};
constexpr FieldPath kHttpRequestMethod{"http.request.method"};
constexpr FieldPath kHttpResponseBytes{"http.response.bytes"};
constexpr FieldPath kHttpResponseStatusCode{"http.response.status_code"};
constexpr FieldPath kRuleId{"rule.id"};
constexpr FieldPath kRuleName{"rule.name"};
constexpr FieldPath kRuleRuleset{"rule.ruleset"};
constexpr FieldPath kSeccloudAttribution{"seccloud.attribution"};
constexpr FieldPath kSeccloudAttributionNote{"seccloud.attribution_note"};
constexpr FieldPath kSeccloudScanDbVersion{"seccloud.scan.db_version"};
constexpr FieldPath kSeccloudScanEngine{"seccloud.scan.engine"};
constexpr FieldPath kSeccloudScanNote{"seccloud.scan.note"};
constexpr FieldPath kSeccloudScanResult{"seccloud.scan.result"};
constexpr FieldPath kSeccloudScanSignature{"seccloud.scan.signature"};
constexpr FieldPath kSeccloudScanUploadEngine{"seccloud.scan.upload.engine"};
constexpr FieldPath kSeccloudScanUploadNote{"seccloud.scan.upload.note"};
constexpr FieldPath kSeccloudScanUploadResult{"seccloud.scan.upload.result"};
constexpr FieldPath kSeccloudScanUploadSignature{"seccloud.scan.upload.signature"};
constexpr FieldPath kSeccloudTlsMode{"seccloud.tls.mode"};
constexpr FieldPath kSeccloudTlsUpstreamProblem{"seccloud.tls.upstream_problem"};
constexpr FieldPath kSeccloudUrlCategory{"seccloud.url.category"};
constexpr FieldPath kSeccloudVerdictAction{"seccloud.verdict.action"};
constexpr FieldPath kSeccloudVerdictLayer{"seccloud.verdict.layer"};
constexpr FieldPath kSeccloudVerdictReason{"seccloud.verdict.reason"};
constexpr FieldPath kSourceIp{"source.ip"};
constexpr FieldPath kTenantId{"tenant.id"};
constexpr FieldPath kThreatIndicatorName{"threat.indicator.name"};
constexpr FieldPath kThreatIndicatorProvider{"threat.indicator.provider"};
constexpr FieldPath kThreatIndicatorType{"threat.indicator.type"};
constexpr FieldPath kTlsClientServerName{"tls.client.server_name"};
constexpr FieldPath kTlsServerIssuer{"tls.server.issuer"};
constexpr FieldPath kUrlDomain{"url.domain"};
constexpr FieldPath kUrlFull{"url.full"};
constexpr FieldPath kUserAgentOriginal{"user_agent.original"};

}  // namespace

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
    e.Set(kEventAction, log.action);
    e.Set(kEventOutcome, "failure");
  }
  e.Set(kEventCategory, "web");
  e.Set(kEventType, success ? "access" : "denied");
  e.Set(
      kEventDuration,
      static_cast<int64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - log.start).count()));
  if (attribution_.tenant) e.Set(kTenantId, attribution_.tenant->id);
  e.Set(kClientIp, client_ip_text_.Of(attribution_.client));
  e.Set(kSourceIp, source_ip_text_.Of(attribution_.source));
  e.Set(kSeccloudAttribution, AttributionMethodName(attribution_.method));
  if (attribution_.suspicious) e.Set(kSeccloudAttributionNote, attribution_.note);
  if (!log.method.empty()) e.Set(kHttpRequestMethod, log.method);
  if (!log.url.empty()) e.Set(kUrlFull, log.url);
  if (!log.host.empty()) e.Set(kUrlDomain, log.host);
  if (log.status) e.Set(kHttpResponseStatusCode, static_cast<int64_t>(log.status));
  e.Set(kHttpRequestBytes, log.request_bytes);
  e.Set(kHttpResponseBytes, log.response_bytes);
  if (!log.user_agent.empty()) e.Set(kUserAgentOriginal, log.user_agent);
  e.Set(kSeccloudTlsMode, log.tls_mode);
  if (!log.sni.empty()) e.Set(kTlsClientServerName, log.sni);
  if (!log.server_issuer.empty()) e.Set(kTlsServerIssuer, log.server_issuer);
  if (!log.tls_problem.empty()) e.Set(kSeccloudTlsUpstreamProblem, log.tls_problem);
  e.Set(kSeccloudVerdictAction, log.verdict);
  if (!log.layer.empty()) {
    e.Set(kSeccloudVerdictLayer, log.layer == "force-block" ? "common" : log.layer);
    // The scanning engine (clamav, yara) names the ruleset of a malware verdict.
    e.Set(kRuleRuleset, log.scanned && log.scan_result != "clean" ? log.list : log.layer);
    e.Set(kRuleName, log.entry);
    e.Set(kRuleId, log.list + ":" + log.entry);
  }
  if (!log.category.empty()) e.Set(kSeccloudUrlCategory, log.category);
  if (!log.scan_result.empty()) {
    e.Set(kSeccloudScanResult, log.scan_result);
    if (!log.scan_signature.empty()) e.Set(kSeccloudScanSignature, log.scan_signature);
    if (!log.scan_engine.empty()) e.Set(kSeccloudScanEngine, log.scan_engine);
    if (!log.scan_db_version.empty()) e.Set(kSeccloudScanDbVersion, log.scan_db_version);
    if (!log.scan_error.empty()) e.Set(kSeccloudScanNote, log.scan_error);
    if (!log.upload_file_name.empty()) e.Set(kFileName, log.upload_file_name);
    if (log.scan_result == "infected") {
      e.Set(kEventKind, "alert");
      e.Set(kEventCategory, boost::json::value(boost::json::array{"web", "malware"}));
    }
  }
  if (!log.upload_scan_result.empty()) {
    e.Set(kSeccloudScanUploadResult, log.upload_scan_result);
    if (!log.upload_scan_signature.empty())
      e.Set(kSeccloudScanUploadSignature, log.upload_scan_signature);
    if (!log.upload_scan_engine.empty()) e.Set(kSeccloudScanUploadEngine, log.upload_scan_engine);
    if (!log.upload_scan_note.empty()) e.Set(kSeccloudScanUploadNote, log.upload_scan_note);
  }
  if (log.alert) {
    // A threat-intelligence hit: the SOC raises an alert from it.
    e.Set(kEventKind, "alert");
    e.Set(kEventCategory, boost::json::value(boost::json::array{"web", "threat"}));
    e.Set(kThreatIndicatorProvider, log.list);
    e.Set(kThreatIndicatorName, log.entry);
    e.Set(kThreatIndicatorType, log.host == log.entry ? "domain-name" : "url");
  }
  if (!log.reason.empty()) e.Set(kSeccloudVerdictReason, log.reason);
  if (!log.error.empty()) e.Set(kErrorMessage, log.error);
  service_.host().events().Push(std::move(e));
}

}  // namespace seccloud::proxy::proxy_internal
