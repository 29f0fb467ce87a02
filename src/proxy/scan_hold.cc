// The scans of held bodies, run on the scan pool (scan_hold.h).

#include "proxy/scan_hold.h"

#include <boost/asio/co_spawn.hpp>
#include <span>
#include <vector>

namespace seccloud::proxy::proxy_internal {
namespace {

// The blocking scand client, run as a coroutine on the scan pool. A plain function rather than
// a capturing lambda: g++ 12 destroys a coroutine lambda's captures twice when co_spawn moves it.
asio::awaitable<Result<scan::Verdict>> ScanTask(std::filesystem::path socket,
                                                const std::string* data, scan::ScanContext context,
                                                scan::ClientOptions options) {
  co_return scan::ScanStream(
      socket,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data->data()), data->size()),
      context, options);
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Runs on the scan pool (the client blocks). Each file of a multipart form is scanned on its own
// first — a hash signature matches a file, not the form that carries it, and a verdict can name
// the file — and then the body as a whole (fields, and whatever a form that cannot be split
// holds). A plain function, not a capturing lambda (see ScanTask).
asio::awaitable<UploadScanOutcome> ScanUploadTask(std::filesystem::path socket,
                                                  const std::string* body, std::string content_type,
                                                  scan::ScanContext context,
                                                  scan::ClientOptions options) {
  UploadScanOutcome out;
  size_t files = 0;
  if (const auto boundary = FormBoundary(content_type)) {
    std::vector<FormPart> parts;
    if (auto split = SplitForm(*body, *boundary))
      parts = std::move(*split);
    else
      out.note = "the form was scanned whole only: " + split.error().message;
    for (const FormPart& part : parts) {
      if (part.file_name.empty() || part.content.empty()) continue;
      ++files;
      scan::ScanContext file_context = context;
      file_context.file_name = part.file_name;
      auto v = scan::ScanStream(socket, Bytes(part.content), file_context, options);
      if (!v || v->result != scan::Verdict::kClean) {
        if (v)
          out.verdict = std::move(*v);
        else
          out.error = v.error();
        out.file_name = part.file_name;
        co_return out;
      }
    }
  }
  auto whole = scan::ScanStream(socket, Bytes(*body), context, options);
  if (!whole) {
    out.error = whole.error();
    co_return out;
  }
  out.verdict = std::move(*whole);
  if (files > 0 && out.verdict->result == scan::Verdict::kClean)
    out.note = "form: " + std::to_string(files) + " file(s) scanned on their own, then the whole";
  co_return out;
}

}  // namespace

// Runs a scan on the pool; the coroutine resumes on its own executor afterwards.
asio::awaitable<Result<scan::Verdict>> ScanOnPool(const ScanStep& step, const std::string& body) {
  scan::ClientOptions options;
  options.io_timeout = step.config->timeout;
  co_return co_await asio::co_spawn(step.pool->get_executor(),
                                    ScanTask(step.socket, &body, step.context, options),
                                    asio::use_awaitable);
}

asio::awaitable<UploadScanOutcome> ScanUploadOnPool(const ScanStep& step, const std::string& body,
                                                    const std::string& content_type) {
  scan::ClientOptions options;
  options.io_timeout = step.config->timeout;
  co_return co_await asio::co_spawn(
      step.pool->get_executor(),
      ScanUploadTask(step.socket, &body, content_type, step.context, options), asio::use_awaitable);
}

}  // namespace seccloud::proxy::proxy_internal
