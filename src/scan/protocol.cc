#include "scan/protocol.h"

#include <boost/json.hpp>

#include "core/event.h"

namespace seccloud::scan {
namespace json = boost::json;

seccloud::Result<ScanRequest> ParseRequestLine(std::string_view line) {
  if (line.size() > kMaxRequestLine)
    return MakeError(Errc::kInvalidArgument, "request line longer than 4096 bytes");
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  ScanRequest r;
  if (line == "PING") {
    r.command = ScanRequest::kPing;
    return r;
  }
  if (line == "VERSION") {
    r.command = ScanRequest::kVersion;
    return r;
  }
  if (line.substr(0, 4) != "SCAN" || (line.size() > 4 && line[4] != ' '))
    return MakeError(Errc::kInvalidArgument, "unknown command (expected SCAN, PING or VERSION)");
  std::string_view rest = line.size() > 4 ? line.substr(5) : std::string_view();
  if (rest.empty()) return r;
  boost::system::error_code ec;
  json::value v = json::parse(rest, ec);
  if (ec || !v.is_object())
    return MakeError(Errc::kInvalidArgument, "SCAN takes an optional JSON object");
  const json::object& o = v.as_object();
  for (const auto& [key, value] : o) {
    if (!value.is_string())
      return MakeError(Errc::kInvalidArgument,
                       "SCAN: \"" + std::string(key) + "\" must be a string");
    std::string s = SanitizeUtf8(std::string_view(value.as_string()).substr(0, 1024));
    if (key == "name")
      r.context.file_name = std::move(s);
    else if (key == "tenant")
      r.context.tenant_id = std::move(s);
    else
      return MakeError(Errc::kInvalidArgument, "SCAN: unknown key \"" + std::string(key) + "\"");
  }
  return r;
}

std::string FormatRequestLine(const ScanRequest& request) {
  switch (request.command) {
    case ScanRequest::kPing:
      return "PING\n";
    case ScanRequest::kVersion:
      return "VERSION\n";
    case ScanRequest::kScan:
      break;
  }
  json::object o;
  if (!request.context.file_name.empty())
    o["name"] = SanitizeUtf8(std::string_view(request.context.file_name).substr(0, 1024));
  if (!request.context.tenant_id.empty())
    o["tenant"] = SanitizeUtf8(std::string_view(request.context.tenant_id).substr(0, 1024));
  if (o.empty()) return "SCAN\n";
  return "SCAN " + json::serialize(o) + "\n";
}

std::string VerdictToJsonLine(const Verdict& v) {
  json::object o;
  o["result"] = VerdictResultName(v.result);
  json::array sigs;
  for (const auto& s : v.signatures) sigs.emplace_back(SanitizeUtf8(s));
  o["signatures"] = std::move(sigs);
  o["engine"] = v.engine;
  o["db_version"] = v.db_version;
  o["action"] = v.action;
  o["error"] = SanitizeUtf8(v.error);
  return json::serialize(o) + "\n";
}

seccloud::Result<Verdict> VerdictFromJson(std::string_view line) {
  if (line.size() > kMaxAnswerLine) return MakeError(Errc::kInvalidArgument, "answer too long");
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return MakeError(Errc::kInvalidArgument, "answer is not a JSON object");
  const json::object& o = v.as_object();
  auto str = [&](const char* k) -> std::string {
    const json::value* x = o.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  Verdict out;
  const std::string result = str("result");
  if (result == "clean")
    out.result = Verdict::kClean;
  else if (result == "infected")
    out.result = Verdict::kInfected;
  else if (result == "suspicious")
    out.result = Verdict::kSuspicious;
  else if (result == "error")
    out.result = Verdict::kError;
  else
    return MakeError(Errc::kInvalidArgument, "answer has no valid \"result\"");
  if (const json::value* s = o.if_contains("signatures"); s && s->is_array())
    for (const auto& x : s->as_array())
      if (x.is_string() && out.signatures.size() < 256) out.signatures.emplace_back(x.as_string());
  out.engine = str("engine");
  out.db_version = str("db_version");
  out.action = str("action");
  out.error = str("error");
  return out;
}

}  // namespace seccloud::scan
