// Web server logs: nginx/Apache combined and common access logs (optionally with a leading
// virtual host), Apache 2.2/2.4 error logs and nginx error logs.
#include <cstring>
#include <string>

#include "soc/parse_internal.h"
#include "soc/record.h"

namespace seccloud::soc::internal {
namespace {

// "10/Oct/2000:13:55:36 -0700" → ms.
bool ParseClfTime(std::string_view s, int64_t* ms) {
  if (s.size() < 20 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':') {
    return false;
  }
  int64_t d, y, h, mi, sec;
  const int mo = MonthFromAbbrev(s.substr(3, 3));
  if (mo == 0 || !ParseUint(s.substr(0, 2), &d) || !ParseUint(s.substr(7, 4), &y) ||
      !ParseUint(s.substr(12, 2), &h) || !ParseUint(s.substr(15, 2), &mi) ||
      !ParseUint(s.substr(18, 2), &sec)) {
    return false;
  }
  int64_t t;
  if (!CivilToMs(y, mo, static_cast<int>(d), static_cast<int>(h), static_cast<int>(mi),
                 static_cast<int>(sec), 0, &t)) {
    return false;
  }
  std::string_view zone = TrimSpaces(s.substr(20));
  if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-')) {
    int64_t zh, zm;
    if (!ParseUint(zone.substr(1, 2), &zh) || !ParseUint(zone.substr(3, 2), &zm) || zh > 23 ||
        zm > 59) {
      return false;
    }
    t -= (zh * 60 + zm) * 60000 * (zone[0] == '+' ? 1 : -1);
  } else if (!zone.empty()) {
    return false;
  }
  *ms = t;
  return true;
}

// A double-quoted field starting at s[*pos] == '"'. Apache escapes '"' and '\' with a backslash
// (and other bytes as \xhh, kept as written); nginx writes \x22. Returns false when unterminated.
// *out views s when the field holds no backslash (the usual case: two memchr calls instead of a
// copy byte by byte), else `unescaped`, which then holds the field.
bool ReadQuoted(std::string_view s, size_t* pos, std::string_view* out, std::string* unescaped) {
  const size_t start = *pos + 1;
  if (start <= s.size()) {
    const char* from = s.data() + start;
    const size_t left = s.size() - start;
    const void* quote = std::memchr(from, '"', left);
    const size_t len =
        quote == nullptr ? left : static_cast<size_t>(static_cast<const char*>(quote) - from);
    if (std::memchr(from, '\\', len) == nullptr) {
      if (quote == nullptr) return false;
      *out = std::string_view(from, len);
      *pos = start + len + 1;
      return true;
    }
  }
  size_t p = start;
  unescaped->clear();
  while (p < s.size()) {
    const char c = s[p];
    if (c == '\\' && p + 1 < s.size() && (s[p + 1] == '"' || s[p + 1] == '\\')) {
      unescaped->push_back(s[p + 1]);
      p += 2;
    } else if (c == '"') {
      *pos = p + 1;
      *out = *unescaped;
      return true;
    } else {
      unescaped->push_back(c);
      ++p;
    }
  }
  return false;
}

void SkipSpaces(std::string_view s, size_t* pos) {
  while (*pos < s.size() && IsSpace(s[*pos])) ++*pos;
}

void PutRequest(std::string_view request, FieldSink& f) {
  if (request == "-" || request.empty()) return;
  size_t pos = 0;
  const std::string_view method = NextToken(request, &pos);
  const std::string_view url = NextToken(request, &pos);
  const std::string_view version = NextToken(request, &pos);
  SkipSpaces(request, &pos);
  const bool token_method =
      !method.empty() &&
      method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_-") == std::string_view::npos;
  if (!token_method || url.empty() || pos != request.size() ||
      (!version.empty() && version.substr(0, 5) != "HTTP/")) {
    // Scanners send TLS handshakes and junk to port 80; keep what they sent, as sent.
    PutString(f, "seccloud.http.request_line", request);
    return;
  }
  PutString(f, "http.request.method", method);
  // One walk per leaf, as before the overlay one walk for the three found the same object.
  PutString(f, "url.original", url);
  if (url.front() == '/') {
    const size_t q = url.find('?');
    PutString(f, "url.path", url.substr(0, q));
    if (q != std::string_view::npos) PutString(f, "url.query", url.substr(q + 1));
  }
  if (!version.empty()) PutString(f, "http.version", version.substr(5));
}

void PutClient(FieldSink& f, std::string_view client) {
  if (!PutIp(f, "source.ip", client)) PutString(f, "source.domain", client);
}

bool ParseAccess(std::string_view s, Parsed& out) {
  // [vhost[:port]] client ident user [time] "request" status size ["referer" "agent" ...]
  std::string_view tokens[4];
  size_t pos = 0, n = 0;
  while (n < 4) {
    SkipSpaces(s, &pos);
    if (pos >= s.size() || s[pos] == '[') break;
    tokens[n++] = NextToken(s, &pos);
  }
  SkipSpaces(s, &pos);
  if (n < 3 || pos >= s.size() || s[pos] != '[') {
    out.error =
        "expected \"client ident user [time]\" (optionally after a virtual host) at the "
        "start of an access log line, found " +
        Excerpt(s);
    return false;
  }
  const size_t time_start = pos + 1;
  const size_t close = s.find(']', time_start);
  int64_t t;
  if (close == std::string_view::npos ||
      !ParseClfTime(s.substr(time_start, close - time_start), &t)) {
    out.error = "expected a time like \"10/Oct/2000:13:55:36 -0700\" at byte " +
                std::to_string(time_start) + ", found " + Excerpt(s.substr(time_start));
    return false;
  }
  pos = close + 1;
  SkipSpaces(s, &pos);
  std::string_view request;
  std::string request_unescaped;
  if (pos >= s.size() || s[pos] != '"') {
    out.error = "expected the quoted request line at byte " + std::to_string(pos);
    return false;
  }
  if (!ReadQuoted(s, &pos, &request, &request_unescaped)) {
    out.error = "unterminated quoted request line starting at byte " + std::to_string(pos);
    return false;
  }
  SkipSpaces(s, &pos);
  const size_t status_at = pos;
  const std::string_view status = NextToken(s, &pos);
  int64_t code = 0;
  if (status != "-" && (!ParseUint(status, &code) || status.size() != 3)) {
    out.error = "expected a three-digit status at byte " + std::to_string(status_at) + ", found " +
                Excerpt(status);
    return false;
  }
  SkipSpaces(s, &pos);
  const size_t size_at = pos;
  const std::string_view size = NextToken(s, &pos);
  int64_t bytes = -1;
  if (!size.empty() && size != "-" && !ParseUint(size, &bytes)) {
    out.error = "expected the response size or \"-\" at byte " + std::to_string(size_at) +
                ", found " + Excerpt(size);
    return false;
  }

  FieldSink& f = out.sink;
  out.time_ms = t;
  PutString(f, "event.dataset", "web.access");
  PutCategory(f, "web");
  const size_t client_index = n == 4 ? 1 : 0;
  if (n == 4) {
    std::string_view vhost = tokens[0];
    const size_t colon = vhost.rfind(':');
    if (colon != std::string_view::npos && vhost.find(':') == colon) {
      PutPort(f, "destination.port", vhost.substr(colon + 1));
      vhost = vhost.substr(0, colon);
    }
    PutString(f, "url.domain", vhost);
  }
  PutClient(f, tokens[client_index]);
  if (tokens[client_index + 2] != "-") PutString(f, "user.name", tokens[client_index + 2]);
  PutRequest(request, f);
  if (status != "-") {
    PutInt(f, "http.response.status_code", code);
    PutString(f, "event.outcome", code < 400 ? "success" : "failure");
  }
  if (bytes >= 0) PutInt(f, "http.response.body.bytes", bytes);
  std::string_view quoted;
  std::string unescaped;
  SkipSpaces(s, &pos);
  if (pos < s.size() && s[pos] == '"' && ReadQuoted(s, &pos, &quoted, &unescaped)) {
    if (quoted != "-") PutString(f, "http.request.referrer", quoted);
    SkipSpaces(s, &pos);
    if (pos < s.size() && s[pos] == '"' && ReadQuoted(s, &pos, &quoted, &unescaped) &&
        quoted != "-") {
      PutString(f, "user_agent.original", quoted);
    }
  }
  return true;
}

// Apache: "[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] msg" (2.2) or
// "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client
// 1.2.3.4:50000] AH00124: msg" (2.4).
bool ParseApacheError(std::string_view s, Parsed& out) {
  if (s.size() < 26 || s[0] != '[' || s[4] != ' ' || s[8] != ' ') return false;
  const size_t close = s.find(']');
  if (close == std::string_view::npos) return false;
  std::string_view ts = s.substr(5, close - 5);  // "Dec 04 04:47:44[.us] 2005"
  const int mo = MonthFromAbbrev(ts.substr(0, 3));
  int64_t d, h, mi, sec, y;
  if (mo == 0 || ts.size() < 20 || ts[3] != ' ' || ts[6] != ' ' || ts[9] != ':' || ts[12] != ':' ||
      !ParseUint(TrimSpaces(ts.substr(4, 2)), &d) || !ParseUint(ts.substr(7, 2), &h) ||
      !ParseUint(ts.substr(10, 2), &mi) || !ParseUint(ts.substr(13, 2), &sec)) {
    return false;
  }
  size_t p = 15;
  int millis = 0;
  if (p < ts.size() && ts[p] == '.') {
    int digits = 0;
    for (++p; p < ts.size() && IsDigit(ts[p]); ++p, ++digits) {
      if (digits < 3) millis = millis * 10 + (ts[p] - '0');
    }
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  if (p + 5 != ts.size() || ts[p] != ' ' || !ParseUint(ts.substr(p + 1), &y)) return false;
  if (!CivilToMs(y, mo, static_cast<int>(d), static_cast<int>(h), static_cast<int>(mi),
                 static_cast<int>(sec), millis, &out.time_ms)) {
    return false;
  }
  FieldSink& f = out.sink;
  std::string_view rest = s.substr(close + 1);
  // Up to three bracketed fields: level, pid, client.
  for (int i = 0; i < 4; ++i) {
    size_t q = 0;
    SkipSpaces(rest, &q);
    if (q >= rest.size() || rest[q] != '[') break;
    const size_t end = rest.find(']', q);
    if (end == std::string_view::npos) break;
    std::string_view item = rest.substr(q + 1, end - q - 1);
    if (item.substr(0, 7) == "client ") {
      std::string_view client = item.substr(7);
      if (!PutIp(f, "source.ip", client)) {
        const size_t colon = client.rfind(':');
        if (colon != std::string_view::npos && PutIp(f, "source.ip", client.substr(0, colon))) {
          PutPort(f, "source.port", client.substr(colon + 1));
        }
      }
    } else if (item.substr(0, 4) == "pid ") {
      std::string_view pid = item.substr(4);
      int64_t n;
      if (ParseUint(pid.substr(0, pid.find(':')), &n)) PutInt(f, "process.pid", n);
    } else if (i == 0) {
      const size_t colon = item.find(':');
      if (colon != std::string_view::npos) {
        PutString(f, "log.logger", item.substr(0, colon));
        item = item.substr(colon + 1);
      }
      std::string level(item);
      for (char& c : level) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      PutString(f, "log.level", level);
    } else {
      break;
    }
    rest = rest.substr(end + 1);
  }
  PutString(f, "message", TrimSpaces(rest));
  PutString(f, "event.dataset", "web.error");
  return true;
}

// nginx: "2024/01/02 03:04:05 [error] 123#0: *1 msg, client: 1.2.3.4, server: x, request: …"
bool ParseNginxError(std::string_view s, Parsed& out) {
  if (s.size() < 22 || s[4] != '/' || s[7] != '/' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
      s[19] != ' ' || s[20] != '[') {
    return false;
  }
  int64_t y, mo, d, h, mi, sec;
  if (!ParseUint(s.substr(0, 4), &y) || !ParseUint(s.substr(5, 2), &mo) ||
      !ParseUint(s.substr(8, 2), &d) || !ParseUint(s.substr(11, 2), &h) ||
      !ParseUint(s.substr(14, 2), &mi) || !ParseUint(s.substr(17, 2), &sec) ||
      !CivilToMs(y, static_cast<int>(mo), static_cast<int>(d), static_cast<int>(h),
                 static_cast<int>(mi), static_cast<int>(sec), 0, &out.time_ms)) {
    return false;
  }
  const size_t close = s.find(']', 21);
  if (close == std::string_view::npos) return false;
  FieldSink& f = out.sink;
  PutString(f, "log.level", s.substr(21, close - 21));
  std::string_view rest = TrimSpaces(s.substr(close + 1));
  // "pid#tid: "
  const size_t hash = rest.find('#');
  const size_t colon = rest.find(": ");
  int64_t pid;
  if (hash != std::string_view::npos && colon != std::string_view::npos && hash < colon &&
      ParseUint(rest.substr(0, hash), &pid)) {
    PutInt(f, "process.pid", pid);
    int64_t tid;
    if (ParseUint(rest.substr(hash + 1, colon - hash - 1), &tid))
      PutInt(f, "process.thread.id", tid);
    rest = rest.substr(colon + 2);
  }
  PutString(f, "message", rest);
  const size_t client = rest.find(", client: ");
  if (client != std::string_view::npos) {
    std::string_view ip = rest.substr(client + 10);
    PutIp(f, "source.ip", ip.substr(0, ip.find(',')));
  }
  const size_t server = rest.find(", server: ");
  if (server != std::string_view::npos) {
    std::string_view name = rest.substr(server + 10);
    name = name.substr(0, name.find(','));
    if (!name.empty()) PutString(f, "url.domain", name);
  }
  PutString(f, "event.dataset", "web.error");
  return true;
}

}  // namespace

bool LooksLikeWebLog(std::string_view line) {
  if (line.empty()) return false;
  if (line[0] == '[') {
    Parsed probe;
    return ParseApacheError(line, probe);
  }
  if (line.size() > 21 && IsDigit(line[0]) && line[4] == '/' && line[20] == '[') {
    Parsed probe;
    return ParseNginxError(line, probe);
  }
  // An access log line has "[dd/Mmm/yyyy:" after three or four short tokens.
  const size_t open = line.find(" [");
  if (open == std::string_view::npos || open > 400) return false;
  const std::string_view head = line.substr(0, open);
  size_t pos = 0, n = 0;
  while (!NextToken(head, &pos).empty()) ++n;
  int64_t t;
  const size_t close = line.find(']', open);
  return (n == 3 || n == 4) && close != std::string_view::npos &&
         ParseClfTime(line.substr(open + 2, close - open - 2), &t);
}

void ParseWebLog(std::string_view line, int64_t /*received_ms*/, Parsed& out) {
  if (!line.empty() && line[0] == '[') {
    if (ParseApacheError(line, out)) return;
    out.Reset();
    out.error =
        "expected an Apache error log line (\"[Www Mmm dd hh:mm:ss yyyy] [level] …\"), "
        "found " +
        Excerpt(line);
    return;
  }
  if (ParseNginxError(line, out)) return;
  out.Reset();
  if (!ParseAccess(line, out)) out.sink.Clear();
}

}  // namespace seccloud::soc::internal
