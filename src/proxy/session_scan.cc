// The malware step of one client connection (ClientSession, R8): an upload held and scanned
// before anything of it goes upstream, and the answers when a body is withheld or cannot be held
// for the hold budget. The holds themselves are in scan_hold.h.

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

const ScanStep* ClientSession::ScanFor(const RequestTarget& target) {
  if (!cfg_->proxy.scan.enabled || !cfg_->scan.enabled) return nullptr;
  scan_step_.pool = &service_.scan_pool();
  scan_step_.socket = cfg_->scan.socket;
  scan_step_.config = &cfg_->proxy.scan;
  scan_step_.budget = &service_.hold_budget();
  scan_step_.context.file_name = target.url();
  scan_step_.context.tenant_id = attribution_.tenant ? attribution_.tenant->id : "";
  return &scan_step_;
}

template <class Stream>
asio::awaitable<std::optional<bool>> ClientSession::ScreenUpload(
    Stream& client, beast::flat_buffer& buf, RequestParser<http::buffer_body>& parser,
    const RequestTarget& target, Outbound& out, UploadHold& held, RequestLog& log) {
  const ScanStep* step = out.has_body ? ScanFor(target) : nullptr;
  if (step == nullptr) co_return std::nullopt;
  auto& req = parser.get();
  const std::string content_type(req[http::field::content_type].substr(0, 1024));
  std::optional<uint64_t> declared;
  if (!parser.chunked() && parser.content_length()) declared = *parser.content_length();
  const UploadScanPlan plan = PlanUploadScan(*step->config, content_type, target.host, declared);
  if (plan.action != UploadScanAction::kHold) {
    log.upload_scan_result = plan.action == UploadScanAction::kBypassed ? "bypassed" : "skipped";
    log.upload_scan_note = plan.note;
    co_return std::nullopt;
  }
  // A declared length is within max_size here: one allocation instead of doubling up to 2×
  // (pages the body does not reach stay untouched). The budget is charged as the bytes come,
  // not with the declared length: a client that declares max_size and sends a byte a minute
  // would otherwise hold max_size of the budget (and refuse every tenant's uploads) for the
  // whole HoldDeadline while holding no memory (review of proxy16).
  if (declared) held.body.reserve(*declared);
  const auto ec = co_await HoldUpload(client, buf, parser, cfg_->proxy, step->config->max_size,
                                      out.expect_continue, held, log.request_bytes, client_reads_,
                                      service_.hold_budget());
  if (ec && held.over_budget)
    co_return co_await RefuseHoldOverBudget(client, log, held.OthersIn(service_.hold_budget()),
                                            held.wanted, /*upload=*/true);
  if (ec) {
    service_.metrics().failed.Increment();
    log.action = "failed";
    log.error = "reading the upload from the client failed: " +
                BodyReadError(parser, ec, log.request_bytes);
    // The answers of the streaming path (ForwardOnce) for the same failures.
    if (const int status = RequestBodyFailureStatus(ec)) {
      const std::string reason =
          status != 408 ? BodyReadError(parser, ec, log.request_bytes)
          : held.too_slow
              ? "the upload to be scanned took longer than " +
                    std::to_string(
                        HoldDeadline(cfg_->proxy.timeouts.body_idle, step->config->max_size)
                            .count()) +
                    " ms (timeouts.body_idle for each 64 KiB of scan.max_size, and one more)"
              : "the upload stalled: no body bytes for " +
                    std::to_string(cfg_->proxy.timeouts.body_idle.count()) + " ms";
      if (held.too_slow) log.error += " (" + reason + ")";
      co_await Refuse(client, log, status, StatusTitle(status), reason);
    }
    co_return false;
  }
  if (!held.complete) {
    log.upload_scan_result = "skipped";
    log.upload_scan_note = UploadTooLargeNote(*step->config);
    co_return std::nullopt;
  }
  // Held whole: it goes upstream with its length, whatever framing the client used.
  req.chunked(false);
  req.content_length(held.body.size());
  const UploadScanOutcome outcome = co_await ScanUploadOnPool(*step, held.body, content_type);
  log.upload_scan_note = outcome.note;
  log.upload_file_name = outcome.file_name;
  scan::Verdict v;
  if (outcome.error) {
    log.upload_scan_result = "error";
    log.upload_scan_note = outcome.error->ToString();
    if (!step->config->block_on_error) co_return std::nullopt;
    v.result = scan::Verdict::kError;
    v.error = "the malware scan could not run: " + outcome.error->ToString();
  } else {
    v = *outcome.verdict;
    log.upload_scan_result = scan::VerdictResultName(v.result);
    log.upload_scan_engine = v.engine;
    if (!v.signatures.empty()) log.upload_scan_signature = v.signatures.front();
    if (v.result == scan::Verdict::kError && !v.error.empty()) log.upload_scan_note = v.error;
    if (!v.blocked() && !(v.result == scan::Verdict::kError && step->config->block_on_error))
      co_return std::nullopt;
  }
  // Withheld: no response will be scanned, so the request's scan fields are the upload's.
  log.scanned = true;
  log.scan_result = log.upload_scan_result;
  log.scan_signature = log.upload_scan_signature;
  log.scan_engine = log.upload_scan_engine;
  log.scan_db_version = v.db_version;
  log.scan_error = log.upload_scan_note;
  co_return co_await MalwareFound(client, log, v, /*upload=*/true);
}

template <class Stream>
asio::awaitable<bool> ClientSession::RefuseHoldOverBudget(Stream& client, RequestLog& log,
                                                          uint64_t others, uint64_t wanted,
                                                          bool upload) {
  service_.metrics().failed.Increment();
  (upload ? service_.metrics().holds_refused : service_.metrics().response_holds_refused)
      .Increment();
  log.action = "failed";
  const std::string reason =
      std::string(upload ? "the upload" : "the response") +
      " cannot be held for the malware scan now: other uploads and responses being scanned "
      "hold " +
      std::to_string(others) + " of the " + std::to_string(cfg_->proxy.scan.hold_budget) +
      " bytes of proxy.scan.hold_budget, and this one needs " + std::to_string(wanted) +
      "; nothing of it was sent to " + (upload ? log.host : std::string("the client"));
  if (upload) {
    log.upload_scan_result = "refused";
    log.upload_scan_note = reason;
  } else {
    log.scan_result = "refused";
    log.scan_error = reason;
  }
  log.error = reason;
  log.retry_after = kHoldRetryAfterSeconds;
  co_await Refuse(client, log, 503, StatusTitle(503), reason);
  co_return false;
}

template <class Stream>
asio::awaitable<bool> ClientSession::RefuseResponseHold(Stream& client, RequestLog& log,
                                                        const Exchange& x) {
  co_return co_await RefuseHoldOverBudget(client, log, x.hold_others, x.hold_wanted,
                                          /*upload=*/false);
}

template <class Stream>
asio::awaitable<bool> ClientSession::MalwareFound(Stream& client, RequestLog& log,
                                                  const scan::Verdict& v, bool upload) {
  service_.metrics().blocked.Increment();
  (upload ? service_.metrics().malware_uploads : service_.metrics().malware).Increment();
  log.action = "blocked";
  log.verdict = "block";
  log.layer = "common";
  log.list = v.engine.empty() ? "scan" : v.engine;
  log.entry = v.signatures.empty() ? VerdictResultName(v.result) : v.signatures.front();
  std::string reason;
  const std::string what = upload ? "the upload" : "the response";
  std::string where = what;
  if (upload && !log.upload_file_name.empty()) where += " (file " + log.upload_file_name + ")";
  if (v.result == scan::Verdict::kInfected)
    reason = "malware was found in " + where + ": " + log.entry;
  else if (v.result == scan::Verdict::kSuspicious)
    reason = what + " was withheld by the scanning policy: " + v.error;
  else
    reason = what + " could not be scanned, so it was withheld: " + v.error;
  if (upload) reason += "; nothing of it was sent to " + log.host;
  log.reason = reason;
  const std::string rule = log.list + ": " + log.entry;
  co_await Refuse(client, log, 403, "Forbidden", reason, rule);
  co_return false;
}

// The streams these are used with, from the other files of the session (client_session.h).
template asio::awaitable<std::optional<bool>> ClientSession::ScreenUpload(
    beast::tcp_stream& client, beast::flat_buffer& buf, RequestParser<http::buffer_body>& parser,
    const RequestTarget& target, Outbound& out, UploadHold& held, RequestLog& log);
template asio::awaitable<std::optional<bool>> ClientSession::ScreenUpload(
    net::TlsStream& client, beast::flat_buffer& buf, RequestParser<http::buffer_body>& parser,
    const RequestTarget& target, Outbound& out, UploadHold& held, RequestLog& log);
template asio::awaitable<bool> ClientSession::RefuseHoldOverBudget(beast::tcp_stream& client,
                                                                   RequestLog& log, uint64_t others,
                                                                   uint64_t wanted, bool upload);
template asio::awaitable<bool> ClientSession::RefuseHoldOverBudget(net::TlsStream& client,
                                                                   RequestLog& log, uint64_t others,
                                                                   uint64_t wanted, bool upload);
template asio::awaitable<bool> ClientSession::RefuseResponseHold(beast::tcp_stream& client,
                                                                 RequestLog& log,
                                                                 const Exchange& x);
template asio::awaitable<bool> ClientSession::RefuseResponseHold(net::TlsStream& client,
                                                                 RequestLog& log,
                                                                 const Exchange& x);
template asio::awaitable<bool> ClientSession::MalwareFound(beast::tcp_stream& client,
                                                           RequestLog& log, const scan::Verdict& v,
                                                           bool upload);
template asio::awaitable<bool> ClientSession::MalwareFound(net::TlsStream& client, RequestLog& log,
                                                           const scan::Verdict& v, bool upload);

}  // namespace seccloud::proxy::proxy_internal
