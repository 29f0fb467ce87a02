// Syslog: RFC 5424, RFC 3164 and bare file lines, then per-program sub-parsers (sshd, sudo, su,
// login, PAM) and the kernel's nftables/iptables log lines. Hand-written scanning over
// string_view: this runs for every line of every municipality's syslog.
#include <array>
#include <string>

#include "soc/parse.h"
#include "soc/parse_internal.h"
#include "soc/record.h"

namespace seccloud::soc::internal {
namespace {

constexpr std::array<std::string_view, 24> kFacilityNames = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};
constexpr std::array<std::string_view, 8> kSeverityNames = {
    "emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"};

// Total RFC 5424 SD-PARAMs kept per record (the element count is bounded separately).
constexpr size_t kMaxStructuredDataParams = 256;

struct Header {
  int pri = -1;
  std::string_view host, tag, procid, msgid, msg;
  int version = 0;  // 1 for RFC 5424
};

}  // namespace

size_t ParseBsdTimestamp(std::string_view s, int64_t received_ms, int64_t* ms) {
  if (s.size() < 14) return 0;
  const int mo = MonthFromAbbrev(s.substr(0, 3));
  if (mo == 0 || s[3] != ' ') return 0;
  size_t p = 4;
  if (s[p] == ' ') ++p;
  int d = 0;
  if (p < s.size() && IsDigit(s[p])) d = s[p++] - '0';
  if (p < s.size() && IsDigit(s[p])) d = d * 10 + (s[p++] - '0');
  if (d == 0 || p >= s.size() || s[p] != ' ') return 0;
  ++p;
  int64_t year = -1;
  if (p + 5 <= s.size() && IsDigit(s[p]) && IsDigit(s[p + 1]) && IsDigit(s[p + 2]) &&
      IsDigit(s[p + 3]) && s[p + 4] == ' ') {
    ParseUint(s.substr(p, 4), &year);
    p += 5;
  }
  if (p + 8 > s.size() || s[p + 2] != ':' || s[p + 5] != ':') return 0;
  int64_t h, mi, sec;
  if (!ParseUint(s.substr(p, 2), &h) || !ParseUint(s.substr(p + 3, 2), &mi) ||
      !ParseUint(s.substr(p + 6, 2), &sec)) {
    return 0;
  }
  p += 8;
  int millis = 0;
  if (p + 1 < s.size() && s[p] == '.' && IsDigit(s[p + 1])) {
    ++p;
    int digits = 0;
    while (p < s.size() && IsDigit(s[p])) {
      if (digits < 3) millis = millis * 10 + (s[p] - '0');
      ++digits;
      ++p;
    }
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  if (year < 0 && p + 5 <= s.size() && s[p] == ' ' && IsDigit(s[p + 1]) && IsDigit(s[p + 2]) &&
      IsDigit(s[p + 3]) && IsDigit(s[p + 4]) &&
      (p + 5 == s.size() || s[p + 5] == ' ' || s[p + 5] == ']')) {
    ParseUint(s.substr(p + 1, 4), &year);
    p += 5;
  }
  bool ok = year >= 0 ? CivilToMs(year, mo, d, static_cast<int>(h), static_cast<int>(mi),
                                  static_cast<int>(sec), millis, ms)
                      : InferYear(mo, d, static_cast<int>(h), static_cast<int>(mi),
                                  static_cast<int>(sec), millis, received_ms, ms);
  return ok ? p : 0;
}

namespace {

// ---- tag ----

// "sshd[123]:", "sshd:", "sshd(pam_unix)[19939]:", "/usr/sbin/cron[5]:", "kernel:". The tag
// ends at the first ':' or '[' of the token; returns false when `token` is no tag.
bool SplitTag(std::string_view token, std::string_view* tag, std::string_view* pid) {
  if (token.empty() || token.size() > 256) return false;
  const bool colon = token.back() == ':';
  if (colon) token.remove_suffix(1);
  if (!token.empty() && token.back() == ']') {
    const size_t open = token.rfind('[');
    if (open == std::string_view::npos || open == 0) return false;
    *pid = token.substr(open + 1, token.size() - open - 2);
    *tag = token.substr(0, open);
    return true;
  }
  if (!colon || token.empty()) return false;
  *pid = {};
  *tag = token;
  return true;
}

// After the timestamp of an RFC 3164 or bare line: "host tag[pid]: msg", "tag: msg" or just text.
void ParseBsdTail(std::string_view s, Header* h) {
  size_t pos = 0;
  std::string_view first = NextToken(s, &pos);
  std::string_view tag, pid;
  if (SplitTag(first, &tag, &pid)) {
    h->tag = tag;
    h->procid = pid;
  } else {
    h->host = first;
    size_t after_host = pos;
    std::string_view second = NextToken(s, &pos);
    if (SplitTag(second, &tag, &pid)) {
      h->tag = tag;
      h->procid = pid;
    } else {
      pos = after_host;
    }
  }
  while (pos < s.size() && IsSpace(s[pos])) ++pos;
  h->msg = s.substr(pos);
}

// ---- RFC 5424 ----

bool ParseStructuredData(std::string_view s, size_t* pos, FieldSink& fields, std::string* error) {
  boost::json::object sd(fields.storage());
  size_t elements = 0, params = 0;
  while (*pos < s.size() && s[*pos] == '[') {
    size_t p = *pos + 1;
    const size_t id_start = p;
    while (p < s.size() && s[p] != ' ' && s[p] != ']' && s[p] != '=' && s[p] != '"') ++p;
    const std::string_view id = s.substr(id_start, p - id_start);
    if (id.empty() || id.size() > 32 || p >= s.size()) {
      *error = "expected an SD-ID of 1 to 32 characters at byte " + std::to_string(id_start);
      return false;
    }
    const bool keep = elements < kMaxStructuredDataElements;
    boost::json::object* element = nullptr;
    if (keep) element = &sd[id].emplace_object();
    while (p < s.size() && s[p] == ' ') {
      ++p;
      const size_t name_start = p;
      while (p < s.size() && s[p] != '=' && s[p] != ' ' && s[p] != ']' && s[p] != '"') ++p;
      const std::string_view name = s.substr(name_start, p - name_start);
      if (name.empty() || name.size() > 32 || p + 1 >= s.size() || s[p] != '=' || s[p + 1] != '"') {
        *error = "expected PARAM-NAME=\"value\" in structured data element \"" +
                 std::string(id.substr(0, 32)) + "\" at byte " + std::to_string(name_start);
        return false;
      }
      p += 2;
      std::string value;
      bool closed = false;
      while (p < s.size()) {
        const char c = s[p];
        if (c == '\\' && p + 1 < s.size() &&
            (s[p + 1] == '"' || s[p + 1] == '\\' || s[p + 1] == ']')) {
          value.push_back(s[p + 1]);
          p += 2;
        } else if (c == '"') {
          closed = true;
          ++p;
          break;
        } else {
          value.push_back(c);
          ++p;
        }
      }
      if (!closed) {
        *error = "unterminated PARAM-VALUE of \"" + std::string(name) +
                 "\" in structured data (expected a closing '\"')";
        return false;
      }
      if (keep && params < kMaxStructuredDataParams) {
        ++params;
        boost::json::value v = Sanitized(value, sd.storage());
        // A repeated PARAM-NAME is legal (RFC 5424 §6.3.3): keep every value, in order.
        if (auto* existing = element->if_contains(name)) {
          if (!existing->is_array()) {
            boost::json::array a(sd.storage());
            a.push_back(std::move(*existing));
            *existing = std::move(a);
          }
          existing->get_array().push_back(std::move(v));
        } else {
          (*element)[name] = std::move(v);
        }
      }
    }
    if (p >= s.size() || s[p] != ']') {
      *error = "expected ']' closing structured data element \"" + std::string(id) + "\" at byte " +
               std::to_string(p);
      return false;
    }
    *pos = p + 1;
    ++elements;
  }
  // An object of the line's own keys: the overlay holds leaves only, so the tree takes it.
  if (!sd.empty()) SetPath(fields.Tree(), "log.syslog.structured_data", std::move(sd));
  return true;
}

bool ParseRfc5424(std::string_view s, size_t pos, Header* h, Parsed& out) {
  // VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
  h->version = 1;
  pos += 2;
  const size_t ts_start = pos;
  std::string_view ts = NextToken(s, &pos);
  if (ts != "-") {
    size_t used = 0;
    int64_t t;
    if (!ParseIsoPrefix(ts, &used, &t) || used != ts.size()) {
      out.error = "expected an RFC 3339 timestamp or \"-\" at byte " + std::to_string(ts_start) +
                  ", found " + Excerpt(ts);
      return false;
    }
    out.time_ms = t;
  }
  static constexpr std::string_view kNames[] = {"HOSTNAME", "APP-NAME", "PROCID", "MSGID"};
  std::string_view* parts[] = {&h->host, &h->tag, &h->procid, &h->msgid};
  for (size_t i = 0; i < 4; ++i) {
    const size_t start = pos;
    std::string_view v = NextToken(s, &pos);
    if (v.empty()) {
      out.error = "expected " + std::string(kNames[i]) + " at byte " + std::to_string(start) +
                  " of the RFC 5424 header";
      return false;
    }
    *parts[i] = v == "-" ? std::string_view() : v;
  }
  if (pos < s.size()) ++pos;  // the SP before STRUCTURED-DATA
  if (pos >= s.size()) {
    out.error = "expected STRUCTURED-DATA (\"-\" or \"[...]\") at byte " + std::to_string(pos);
    return false;
  }
  if (s[pos] == '-') {
    ++pos;
  } else if (s[pos] == '[') {
    if (!ParseStructuredData(s, &pos, out.sink, &out.error)) return false;
  } else {
    out.error = "expected STRUCTURED-DATA (\"-\" or \"[...]\") at byte " + std::to_string(pos) +
                ", found " + Excerpt(s.substr(pos));
    return false;
  }
  if (pos < s.size() && s[pos] == ' ') ++pos;
  std::string_view msg = s.substr(pos);
  if (msg.substr(0, 3) == "\xEF\xBB\xBF") msg.remove_prefix(3);
  h->msg = msg;
  return true;
}

// ---- sub-parsers ----

std::string_view Basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// "sshd(pam_unix)" → "sshd"; the part in parentheses names the PAM module that logged.
std::string_view ProgramOf(std::string_view tag) {
  tag = Basename(tag);
  const size_t paren = tag.find('(');
  return paren == std::string_view::npos || paren == 0 ? tag : tag.substr(0, paren);
}

bool IsAuthProgram(std::string_view tag, std::string_view program) {
  return program == "sshd" || program == "sshd-session" || program == "sshd-auth" ||
         program == "sudo" || program == "su" || program == "login" ||
         program.substr(0, 4) == "pam_" || tag.find("(pam_") != std::string_view::npos;
}

// The programs that send auditd's records to syslog: audispd's syslog plugin, audisp-syslog
// (audit 3), and the tag an rsyslog/syslog-ng file input gives audit.log's lines.
bool IsAuditProgram(std::string_view program) {
  return !program.empty() && program[0] == 'a' &&
         (program == "audispd" || program == "audisp-syslog" || program == "audit" ||
          program == "auditd");
}

// "alice(uid=1000)" → "alice".
std::string_view UserOf(std::string_view token) {
  const size_t paren = token.find('(');
  if (paren != std::string_view::npos && paren > 0) token = token.substr(0, paren);
  return token;
}

// The value of "key=" in a "k=v k2=v2" list (as PAM writes them), up to the next blank.
std::string_view KeyValue(std::string_view s, std::string_view key) {
  size_t from = 0;
  while (true) {
    const size_t at = s.find(key, from);
    if (at == std::string_view::npos) return {};
    if (at == 0 || IsSpace(s[at - 1]) || s[at - 1] == ';') {
      size_t end = at + key.size();
      while (end < s.size() && !IsSpace(s[end]) && s[end] != ';') ++end;
      return s.substr(at + key.size(), end - at - key.size());
    }
    from = at + 1;
  }
}

void PutAddress(FieldSink& f, std::string_view ip_or_host) {
  if (ip_or_host.empty()) return;
  if (!PutIp(f, "source.ip", ip_or_host)) PutString(f, "source.domain", ip_or_host);
}

bool Consume(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

void SetAuth(FieldSink& f, std::string_view category, std::string_view action,
             std::string_view outcome) {
  PutCategory(f, category);
  PutString(f, "event.action", action);
  if (!outcome.empty()) PutString(f, "event.outcome", outcome);
}

// "[authenticating user U |invalid user U |user U ]IP port N" (sshd's closing messages) and
// "[invalid user ]U from IP port N".
void PutUserIpPort(FieldSink& f, std::string_view s) {
  for (std::string_view p : {"authenticating user ", "invalid user ", "user "}) {
    if (Consume(&s, p)) {
      size_t pos = 0;
      PutString(f, "user.name", NextToken(s, &pos));
      s.remove_prefix(std::min(pos + 1, s.size()));
      break;
    }
  }
  size_t pos = 0;
  PutAddress(f, NextToken(s, &pos));
  std::string_view word = NextToken(s, &pos);
  if (word == "port") PutPort(f, "source.port", NextToken(s, &pos));
}

// "U from IP port N ..." where U may be empty ("invalid user  from").
void PutUserFromIpPort(FieldSink& f, std::string_view s) {
  // The last " from " (a user name may hold one), found by forward searches: string_view::rfind
  // compares the needle at every position from the end (~3.4 k instructions on an sshd line).
  size_t from = s.find(" from ");
  for (size_t next = from; next != std::string_view::npos; next = s.find(" from ", next + 1)) {
    from = next;
  }
  if (from == std::string_view::npos) return;
  std::string_view user = s.substr(0, from);
  if (!user.empty()) PutString(f, "user.name", user);
  std::string_view rest = s.substr(from + 6);
  size_t pos = 0;
  PutAddress(f, NextToken(rest, &pos));
  if (NextToken(rest, &pos) == "port") PutPort(f, "source.port", NextToken(rest, &pos));
}

std::string_view LoginAction(std::string_view program) {
  if (program == "sshd" || program == "sshd-session" || program == "sshd-auth") return "ssh_login";
  if (program == "sudo" || program == "su" || program == "login") return program;
  return "authentication_failure";
}

// PAM's messages, whoever logs them: "authentication failure; ... rhost=H  user=U",
// "session opened for user U[(uid=N)] by X", "session closed for user U".
bool ParsePam(std::string_view program, std::string_view msg, FieldSink& f) {
  if (Consume(&msg, "pam_unix(") || Consume(&msg, "pam_sss(") || Consume(&msg, "pam_ldap(")) {
    const size_t close = msg.find("): ");
    if (close == std::string_view::npos) return false;
    msg.remove_prefix(close + 3);
  }
  if (msg.find("authentication failure;") != std::string_view::npos) {
    SetAuth(f, "authentication", LoginAction(program), "failure");
    if (auto user = KeyValue(msg, "user="); !user.empty()) PutString(f, "user.name", user);
    PutAddress(f, KeyValue(msg, "rhost="));
    return true;
  }
  if (Consume(&msg, "session opened for user ")) {
    SetAuth(f, "session", "session_opened", "success");
    size_t pos = 0;
    PutString(f, "user.name", UserOf(NextToken(msg, &pos)));
    return true;
  }
  if (Consume(&msg, "session closed for user ")) {
    SetAuth(f, "session", "session_closed", "success");
    size_t pos = 0;
    PutString(f, "user.name", UserOf(NextToken(msg, &pos)));
    return true;
  }
  return false;
}

void ParseSshd(std::string_view program, std::string_view msg, FieldSink& f) {
  // rsyslog folds repeats: "message repeated 2 times: [ Failed password for root from …]".
  if (Consume(&msg, "message repeated ")) {
    const size_t open = msg.find(": [ ");
    if (open == std::string_view::npos) return;
    msg.remove_prefix(open + 4);
    if (!msg.empty() && msg.back() == ']') msg.remove_suffix(1);
    msg = TrimSpaces(msg);
  }
  const bool accepted = Consume(&msg, "Accepted ");
  if (accepted || Consume(&msg, "Failed ")) {
    size_t pos = 0;
    std::string_view method = NextToken(msg, &pos);
    std::string_view rest = msg.substr(std::min(pos + 1, msg.size()));
    if (!Consume(&rest, "for ")) return;
    SetAuth(f, "authentication", "ssh_login", accepted ? "success" : "failure");
    PutString(f, "seccloud.auth.method", method);
    Consume(&rest, "invalid user ");
    PutUserFromIpPort(f, rest);
    return;
  }
  if (Consume(&msg, "Invalid user ") || Consume(&msg, "Illegal user ")) {
    SetAuth(f, "authentication", "ssh_invalid_user", "failure");
    PutUserFromIpPort(f, msg);
    return;
  }
  if (Consume(&msg, "Connection closed by ") || Consume(&msg, "Disconnected from ")) {
    SetAuth(f, "session", "ssh_disconnected", "");
    PutUserIpPort(f, msg);
    return;
  }
  if (Consume(&msg, "Received disconnect from ")) {
    SetAuth(f, "session", "ssh_disconnected", "");
    size_t pos = 0;
    PutAddress(f, NextToken(msg, &pos));
    if (NextToken(msg, &pos) == "port") {
      std::string_view port = NextToken(msg, &pos);
      PutPort(f, "source.port", port.substr(0, port.find(':')));
    }
    return;
  }
  if (msg.find("POSSIBLE BREAK-IN ATTEMPT") != std::string_view::npos) {
    SetAuth(f, "authentication", "ssh_possible_break_in", "failure");
    // "reverse mapping checking getaddrinfo for HOST [IP] failed …" or
    // "Address IP maps to HOST, but this does not map back to the address …"
    if (Consume(&msg, "reverse mapping checking getaddrinfo for ")) {
      size_t pos = 0;
      PutString(f, "source.domain", NextToken(msg, &pos));
      std::string_view ip = NextToken(msg, &pos);
      PutIp(f, "source.ip", ip);
    } else if (Consume(&msg, "Address ")) {
      size_t pos = 0;
      PutIp(f, "source.ip", NextToken(msg, &pos));
      if (NextToken(msg, &pos) == "maps" && NextToken(msg, &pos) == "to") {
        std::string_view host = NextToken(msg, &pos);
        if (!host.empty() && host.back() == ',') host.remove_suffix(1);
        PutString(f, "source.domain", host);
      }
    }
    return;
  }
  if (Consume(&msg, "error: maximum authentication attempts exceeded for ")) {
    SetAuth(f, "authentication", "ssh_max_auth_attempts", "failure");
    Consume(&msg, "invalid user ");
    PutUserFromIpPort(f, msg);
    return;
  }
  if (Consume(&msg, "PAM ") && msg.find("more authentication failure") != std::string_view::npos) {
    SetAuth(f, "authentication", "ssh_login", "failure");
    if (auto user = KeyValue(msg, "user="); !user.empty()) PutString(f, "user.name", user);
    PutAddress(f, KeyValue(msg, "rhost="));
    return;
  }
  ParsePam(program, msg, f);
}

// "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", with an optional
// reason before TTY ("3 incorrect password attempts ; ", "user NOT in sudoers ; ").
void ParseSudo(std::string_view msg, FieldSink& f) {
  msg = TrimSpaces(msg);
  const size_t colon = msg.find(" : ");
  if (colon == std::string_view::npos || colon == 0 ||
      msg.find("COMMAND=") == std::string_view::npos) {
    ParsePam("sudo", msg, f);
    return;
  }
  std::string_view rest = msg.substr(colon + 3);
  bool failed = false;
  std::string_view reason;
  if (rest.substr(0, 4) != "TTY=" && rest.substr(0, 4) != "PWD=") {
    const size_t semi = rest.find(" ; ");
    reason = rest.substr(0, semi);
    failed = true;
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 3);
  }
  SetAuth(f, "authentication", "sudo", failed ? "failure" : "success");
  PutString(f, "user.name", TrimSpaces(msg.substr(0, colon)));
  if (!reason.empty()) PutString(f, "event.reason", reason);
  // The command is last and may itself contain " ; ".
  const size_t cmd = rest.find("COMMAND=");
  std::string_view head = rest.substr(0, cmd);
  if (cmd != std::string_view::npos) PutString(f, "process.command_line", rest.substr(cmd + 8));
  while (!head.empty()) {
    const size_t semi = head.find(" ; ");
    std::string_view item = TrimSpaces(head.substr(0, semi));
    head = semi == std::string_view::npos ? std::string_view() : head.substr(semi + 3);
    if (Consume(&item, "USER=")) {
      PutString(f, "user.effective.name", item);
    } else if (Consume(&item, "PWD=")) {
      PutString(f, "process.working_directory", item);
    } else if (Consume(&item, "TTY=")) {
      PutString(f, "process.tty.name", item);
    }
  }
}

void ParseSu(std::string_view msg, FieldSink& f) {
  // Debian: "(to root) alice on pts/0", "FAILED SU (to root) alice on pts/0";
  // util-linux: "Successful su for root by alice", "FAILED su for root by alice";
  // old: "+ pts/0 alice:root", "- pts/0 alice:root".
  bool failed = Consume(&msg, "FAILED SU ");
  if (Consume(&msg, "(to ")) {
    const size_t close = msg.find(") ");
    if (close == std::string_view::npos) return;
    SetAuth(f, "authentication", "su", failed ? "failure" : "success");
    PutString(f, "user.effective.name", msg.substr(0, close));
    size_t pos = close + 2;
    PutString(f, "user.name", NextToken(msg, &pos));
    return;
  }
  const bool ok = Consume(&msg, "Successful su for ");
  if (ok || Consume(&msg, "FAILED su for ")) {
    const size_t by = msg.find(" by ");
    if (by == std::string_view::npos) return;
    SetAuth(f, "authentication", "su", ok ? "success" : "failure");
    PutString(f, "user.effective.name", msg.substr(0, by));
    size_t pos = by + 4;
    PutString(f, "user.name", NextToken(msg, &pos));
    return;
  }
  if ((msg.substr(0, 2) == "+ " || msg.substr(0, 2) == "- ")) {
    failed = msg[0] == '-';
    size_t pos = 2;
    NextToken(msg, &pos);  // tty
    std::string_view users = NextToken(msg, &pos);
    const size_t colon = users.find(':');
    if (colon == std::string_view::npos) return;
    SetAuth(f, "authentication", "su", failed ? "failure" : "success");
    PutString(f, "user.name", users.substr(0, colon));
    PutString(f, "user.effective.name", users.substr(colon + 1));
    return;
  }
  ParsePam("su", msg, f);
}

std::string_view Unquote(std::string_view s) {
  if (!s.empty() && (s.back() == ',' || s.back() == '.')) s.remove_suffix(1);
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) {
    s = s.substr(1, s.size() - 2);
  }
  return s;
}

void ParseLogin(std::string_view msg, FieldSink& f) {
  // "FAILED LOGIN (1) on '/dev/tty1' FROM 'host' FOR 'root', Authentication failure",
  // "FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure", "ROOT LOGIN  on '/dev/tty1'",
  // "LOGIN ON tty1 BY alice".
  if (msg.substr(0, 13) == "FAILED LOGIN ") {
    SetAuth(f, "authentication", "login", "failure");
    const size_t for_at = msg.find(" FOR ");
    if (for_at != std::string_view::npos) {
      size_t pos = for_at + 5;
      PutString(f, "user.name", Unquote(NextToken(msg, &pos)));
    }
    return;
  }
  if (msg.substr(0, 11) == "ROOT LOGIN ") {
    SetAuth(f, "authentication", "login", "success");
    PutString(f, "user.name", "root");
    return;
  }
  if (msg.substr(0, 9) == "LOGIN ON ") {
    const size_t by = msg.find(" BY ");
    SetAuth(f, "authentication", "login", "success");
    if (by != std::string_view::npos) {
      size_t pos = by + 4;
      PutString(f, "user.name", Unquote(NextToken(msg, &pos)));
    }
    return;
  }
  ParsePam("login", msg, f);
}

// A "KEY=value" token of a kernel netfilter line; the value may be empty ("OUT=").
bool FirewallToken(std::string_view msg, std::string_view key) {
  size_t from = 0;
  while (true) {
    const size_t at = msg.find(key, from);
    if (at == std::string_view::npos) return false;
    if (at == 0 || msg[at - 1] == ' ') return true;
    from = at + 1;
  }
}

bool IsFirewallLine(std::string_view msg) {
  return FirewallToken(msg, "IN=") && FirewallToken(msg, "OUT=") && FirewallToken(msg, "SRC=") &&
         FirewallToken(msg, "DST=");
}

void ParseFirewall(std::string_view msg, FieldSink& f) {
  // "[12345.678] DROP-IN: IN=eth0 OUT= MAC=… SRC=… DST=… LEN=60 … PROTO=TCP SPT=1234 DPT=22 …"
  if (!msg.empty() && msg.front() == '[') {
    const size_t close = msg.find(']');
    if (close != std::string_view::npos &&
        msg.substr(1, close - 1).find_first_not_of(" .0123456789") == std::string_view::npos) {
      msg.remove_prefix(close + 1);
    }
  }
  size_t in = msg.find("IN=");
  while (in != std::string_view::npos && in > 0 && msg[in - 1] != ' ') in = msg.find("IN=", in + 1);
  std::string_view prefix = TrimSpaces(msg.substr(0, in));
  if (!prefix.empty() && prefix.back() == ':')
    prefix = TrimSpaces(prefix.substr(0, prefix.size() - 1));
  if (!prefix.empty()) PutString(f, "rule.name", prefix);
  std::string_view action = "logged";
  for (std::string_view w : {"drop", "reject", "deny", "block"}) {
    if (ContainsIgnoreCase(prefix, w)) action = "denied";
  }
  if (action == "logged") {
    for (std::string_view w : {"accept", "allow", "pass"}) {
      if (ContainsIgnoreCase(prefix, w)) action = "allowed";
    }
  }
  PutString(f, "event.action", action);
  PutCategory(f, "network");
  std::string_view rest = msg.substr(in == std::string_view::npos ? msg.size() : in);
  size_t pos = 0;
  std::string_view proto;
  while (pos < rest.size()) {
    std::string_view tok = NextToken(rest, &pos);
    if (tok.empty()) break;
    const size_t eq = tok.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = tok.substr(0, eq), value = tok.substr(eq + 1);
    if (value.empty()) continue;
    if (key == "IN") {
      PutString(f, "observer.ingress.interface.name", value);
    } else if (key == "OUT") {
      PutString(f, "observer.egress.interface.name", value);
    } else if (key == "SRC") {
      if (PutIp(f, "source.ip", value)) {
        PutString(f, "network.type", value.find(':') == std::string_view::npos ? "ipv4" : "ipv6");
      }
    } else if (key == "DST") {
      PutIp(f, "destination.ip", value);
    } else if (key == "SPT") {
      PutPort(f, "source.port", value);
    } else if (key == "DPT") {
      PutPort(f, "destination.port", value);
    } else if (key == "LEN") {
      // The first LEN is the IP packet's; a UDP header's own LEN follows it.
      int64_t n;
      if (ParseUint(value, &n) && !f.Has("network.bytes")) {
        PutInt(f, "network.bytes", n);
      }
    } else if (key == "PROTO" && proto.empty()) {
      proto = value;
    } else if (key == "TYPE" || key == "CODE") {
      int64_t n;
      if (ParseUint(value, &n)) {
        PutInt(f, key == "TYPE" ? SinkPath("iptables.icmp.type") : SinkPath("iptables.icmp.code"),
               n);
      }
    }
  }
  if (!proto.empty()) {
    std::string p(proto);
    for (char& c : p) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (p == "icmpv6") p = "ipv6-icmp";
    PutString(f, "network.transport", p);
  }
}

void PutPriority(FieldSink& f, int pri) {
  PutInt(f, "log.syslog.priority", pri);
  const int facility = pri / 8, severity = pri % 8;
  PutInt(f, "log.syslog.facility.code", facility);
  PutString(f, "log.syslog.facility.name", kFacilityNames[facility]);
  PutInt(f, "log.syslog.severity.code", severity);
  PutString(f, "log.syslog.severity.name", kSeverityNames[severity]);
  PutString(f, "log.level", kSeverityNames[severity]);
}

// "<PRI>" at the start: 1 to 3 digits, 0..191, no leading zero. Returns bytes used, 0 for none,
// npos for a malformed one.
size_t ParsePri(std::string_view s, int* pri) {
  if (s.empty() || s[0] != '<') return 0;
  size_t p = 1;
  int v = 0;
  while (p < s.size() && p <= 3 && IsDigit(s[p])) v = v * 10 + (s[p++] - '0');
  if (p == 1 || p >= s.size() || s[p] != '>' || v > 191 || (s[1] == '0' && p > 2)) {
    return std::string_view::npos;
  }
  *pri = v;
  return p + 1;
}

}  // namespace

bool LooksLikeSyslog(std::string_view line) {
  int pri;
  const size_t p = ParsePri(line, &pri);
  if (p != 0 && p != std::string_view::npos) return true;
  if (p == std::string_view::npos) return false;
  int64_t t;
  size_t used = ParseBsdTimestamp(line, 0, &t);
  if (used == 0) {
    // rsyslog's file format: an RFC 3339 time with 'T' and an offset, then "host tag:".
    if (!ParseIsoPrefix(line, &used, &t) || line.size() < 11 || line[10] != 'T') return false;
  }
  Header h;
  ParseBsdTail(line.substr(used), &h);
  return !h.tag.empty();
}

// Moves `from`'s members into `into`, merging objects present in both (the web server's "http",
// "url", "source" … beside the syslog header's "log", "host", "process").
static void MergeFields(boost::json::object& into, boost::json::object&& from) {
  for (auto& kv : from) {
    auto* existing = into.if_contains(kv.key());
    if (existing && existing->is_object() && kv.value().is_object()) {
      MergeFields(existing->as_object(), std::move(kv.value().as_object()));
    } else if (kv.key() != "message") {
      into[kv.key()] = std::move(kv.value());
    }
  }
}

void ParseSyslog(std::string_view line, int64_t received_ms, Parsed& out) {
  Header h;
  size_t pos = ParsePri(line, &h.pri);
  if (pos == std::string_view::npos) {
    out.error =
        "expected a priority \"<0>\" to \"<191>\" at byte 0, found " + Excerpt(line.substr(0, 6));
    return;
  }
  // Relays sometimes put blanks or a BOM before the header.
  if (pos + 2 <= line.size() && line[pos] == '1' && line[pos + 1] == ' ' && h.pri >= 0) {
    if (!ParseRfc5424(line, pos, &h, out)) return;
  } else {
    std::string_view rest = line.substr(pos);
    if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
    int64_t t = kNoTime;
    size_t used = ParseBsdTimestamp(rest, received_ms, &t);
    if (used == 0 && !ParseIsoPrefix(rest, &used, &t)) used = 0;
    if (used > 0) {
      out.time_ms = t;
      ParseBsdTail(rest.substr(used), &h);
    } else if (h.pri >= 0) {
      h.msg = rest;  // RFC 3164 §4.3.3: no timestamp, the rest is the content
    } else {
      out.error =
          "expected \"<PRI>\", an RFC 3164 timestamp (\"Mmm dd hh:mm:ss\") or an RFC 3339 "
          "timestamp at byte 0, found " +
          Excerpt(line);
      return;
    }
  }

  FieldSink& f = out.sink;
  if (h.pri >= 0) PutPriority(f, h.pri);
  if (h.version == 1) PutString(f, "log.syslog.version", "1");
  if (!h.host.empty()) PutString(f, "host.hostname", h.host);
  std::string_view program;
  if (!h.tag.empty()) {
    PutString(f, "log.syslog.appname", h.tag);
    program = ProgramOf(h.tag);
    PutString(f, "process.name", program);
    if (h.tag.find('/') != std::string_view::npos) PutString(f, "process.executable", h.tag);
  }
  if (!h.procid.empty()) {
    int64_t pid;
    if (h.procid.size() <= 10 && ParseUint(h.procid, &pid)) {
      PutInt(f, "process.pid", pid);
    } else if (h.procid != "-") {
      PutString(f, "log.syslog.procid", h.procid);
    }
  }
  if (!h.msgid.empty()) PutString(f, "log.syslog.msgid", h.msgid);
  PutString(f, "message", h.msg);

  std::string_view dataset = "system.syslog";
  std::string web_dataset;
  if (LooksLikeWebLog(h.msg)) {
    // nginx and Apache log to syslog too (`access_log syslog:…`, `CustomLog "|logger"`): the
    // message is then an access or error log line, and its fields are the web server's.
    Parsed web(f.storage());
    ParseWebLog(h.msg, received_ms, web);
    if (web.error.empty()) {
      if (const auto* ds = web.fields.if_contains("event");
          ds && ds->is_object() && ds->as_object().contains("dataset")) {
        const auto& v = ds->as_object().at("dataset");
        if (v.is_string()) web_dataset.assign(v.get_string());
      }
      MergeFields(f.Tree(), std::move(web.fields));
      if (web.time_ms != kNoTime) out.time_ms = web.time_ms;
    }
  }
  AuditHeader audit;
  if (!web_dataset.empty()) {
    dataset = web_dataset;
  } else if (IsAuditProgram(program) &&
             (ParseAuditHeader(h.msg, &audit) ||
              (program == "audit" && ParseJournaldAuditHeader(h.msg, &audit)))) {
    // The record's own time and fields over the header's. process.* name the audited process
    // (the record's pid, comm, exe), as in audit.log's own lines, never the relay that sent it:
    // the header's process.* go (log.syslog.appname keeps the relay's tag, log.syslog.procid its
    // process id).
    boost::json::object& tree = f.Tree();
    tree.erase("process");
    if (!h.procid.empty() && h.procid != "-") PutString(tree, "log.syslog.procid", h.procid);
    ParseAuditRecord(audit, out);
    return;
  } else if (program == "sysmon" && LooksLikeSysmonEvent(h.msg)) {
    std::string note;
    if (ParseSysmonEvent(h.msg, out, &note)) return;
    // Kept as the syslog record it is, with the reason its event was not read.
    PutString(f, "seccloud.soc.parse_note", note);
  } else if (IsFirewallLine(h.msg)) {
    dataset = "firewall.flow";
    ParseFirewall(h.msg, f);
  } else if (IsAuthProgram(h.tag, program)) {
    dataset = "system.auth";
    if (program == "sshd" || program == "sshd-session" || program == "sshd-auth") {
      ParseSshd(program, h.msg, f);
    } else if (program == "sudo") {
      ParseSudo(h.msg, f);
    } else if (program == "su") {
      ParseSu(h.msg, f);
    } else if (program == "login") {
      ParseLogin(h.msg, f);
    } else {
      ParsePam(program, h.msg, f);
    }
  }
  PutString(f, "event.dataset", dataset);
}

}  // namespace seccloud::soc::internal
