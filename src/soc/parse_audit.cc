// Linux Audit records (issue 5, R18/R19): one line of auditd's /var/log/audit/audit.log, or the
// same text as audispd / audisp-syslog send it to syslog. Every record type is read the same
// generic way (key=value pairs); values are interpreted as `ausearch -i` does for the fields the
// kernel hex-encodes (auparse's "escaped" fields), nothing else is translated (numbers stay the
// numbers the kernel wrote: a SYSCALL record's a0..a3 are its raw hexadecimal arguments).
#include <string>

#include "core/hex.h"
#include "soc/parse_internal.h"

namespace seccloud::soc::internal {
namespace {

// Bounds on what one record may make us keep, whatever the line holds.
constexpr size_t kMaxAuditPairs = 256;  // key=value pairs kept (auditd's largest are ~60)
constexpr size_t kMaxAuditKey = 64;     // bytes of a key
constexpr size_t kMaxAuditType = 64;    // bytes of the record type
// Userspace records nest their own pairs in msg='…': one level is read, never deeper.

// auditd's enriched log format (log_format = ENRICHED) appends the interpreted fields (ARCH,
// SYSCALL, AUID, UID, …) after this byte.
constexpr char kEnrichedSeparator = '\x1d';

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '[' || c == ']';
}

// auditd's hex encoding of an untrusted string (the kernel's audit_log_n_untrustedstring: upper
// case hex of every byte, no quotes). False when `s` is not such a string (odd length, a non-hex
// digit, or empty).
bool HexDecode(std::string_view s, std::string* out) {
  if (s.empty() || s.size() % 2 != 0) return false;
  out->clear();
  out->reserve(s.size() / 2);
  for (size_t i = 0; i < s.size(); i += 2) {
    const int hi = HexValue(s[i]), lo = HexValue(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

// The fields auparse reads as escaped strings (typetab.h's T_ESCAPED, T_ESCAPED_KEY and
// T_PROCTITLE); an EXECVE record's arguments a0, a1, … (escaped there too) are read apart.
// "a0", "a1", …: an EXECVE record's argument.
bool IsArgumentKey(std::string_view key) {
  return key.size() >= 2 && key[0] == 'a' &&
         key.find_first_not_of("0123456789", 1) == std::string_view::npos;
}

bool IsEscapedField(std::string_view key) {
  for (std::string_view k : {"name", "comm", "exe", "cwd", "proctitle", "path", "key", "acct",
                             "cmd", "file", "watch", "dir", "ocomm", "root_dir"}) {
    if (key == k) return true;
  }
  return false;
}

struct AuditPair {
  std::string_view key, value;
  bool quoted = false;
};

// The pairs of `s` (a record's body after "msg=audit(…): ", or a userspace msg='…' value), at
// most kMaxAuditPairs in `pairs` in all. A word without '=' continues the unquoted value before
// it (userspace writes "op=adding user id=1001"); other bytes that make no key are skipped.
void SplitPairs(std::string_view s, std::vector<AuditPair>* pairs, size_t* dropped) {
  size_t p = 0;
  bool extendable = false;  // the last pair kept has an unquoted value ending at value_end
  size_t value_end = 0;
  while (p < s.size()) {
    while (p < s.size() && (s[p] == ' ' || s[p] == kEnrichedSeparator)) {
      if (s[p] == kEnrichedSeparator) extendable = false;
      ++p;
    }
    if (p >= s.size()) break;
    const size_t key_start = p;
    while (p < s.size() && IsKeyChar(s[p])) ++p;
    const std::string_view key = s.substr(key_start, p - key_start);
    if (p >= s.size() || s[p] != '=' || key.empty() || key.size() > kMaxAuditKey) {
      // Not a pair: the rest of this word. A word without '=' right after an unquoted value
      // (one blank between) continues it; anything else is skipped and ends the value.
      bool has_equals = false;
      while (p < s.size() && s[p] != ' ' && s[p] != kEnrichedSeparator) has_equals |= s[p++] == '=';
      if (extendable && !has_equals && key_start == value_end + 1) {
        AuditPair& last = pairs->back();
        last.value = std::string_view(last.value.data(),
                                      static_cast<size_t>(s.data() + p - last.value.data()));
        value_end = p;
      } else {
        extendable = false;
      }
      continue;
    }
    ++p;  // '='
    AuditPair pair;
    pair.key = key;
    if (p < s.size() && (s[p] == '"' || s[p] == '\'')) {
      const char quote = s[p];
      const size_t close = s.find(quote, p + 1);
      const size_t end = close == std::string_view::npos ? s.size() : close;
      pair.value = s.substr(p + 1, end - p - 1);
      pair.quoted = true;
      p = close == std::string_view::npos ? s.size() : close + 1;
      extendable = false;
    } else {
      const size_t start = p;
      while (p < s.size() && s[p] != ' ' && s[p] != kEnrichedSeparator) ++p;
      pair.value = s.substr(start, p - start);
      value_end = p;
      extendable = true;
    }
    if (pairs->size() < kMaxAuditPairs) {
      pairs->push_back(pair);
    } else {
      ++*dropped;
      extendable = false;  // the value continued would be a pair not kept
    }
  }
}

// Digits only, at most 18 of them.
bool Digits(std::string_view s, int64_t* out) { return !s.empty() && ParseUint(s, out); }

}  // namespace

bool ParseAuditHeader(std::string_view line, AuditHeader* h) {
  std::string_view s = line;
  if (s.substr(0, 5) == "node=") {
    const size_t sp = s.find(' ');
    if (sp == std::string_view::npos || sp == 5) return false;
    h->node = s.substr(5, sp - 5);
    s.remove_prefix(sp + 1);
  } else {
    h->node = {};
  }
  if (s.substr(0, 5) != "type=") return false;
  size_t p = 5;
  while (p < s.size() && IsKeyChar(s[p])) ++p;
  h->type = s.substr(5, p - 5);
  if (h->type.empty() || h->type.size() > kMaxAuditType) return false;
  s.remove_prefix(p);
  if (s.substr(0, 11) != " msg=audit(") return false;
  s.remove_prefix(11);
  // "1700000000.123:4567): "
  const size_t dot = s.find('.');
  const size_t colon = s.find(':');
  const size_t close = s.find("):");
  if (dot == std::string_view::npos || colon == std::string_view::npos ||
      close == std::string_view::npos || !(dot < colon && colon < close)) {
    return false;
  }
  int64_t sec, millis;
  if (!Digits(s.substr(0, dot), &sec) || colon - dot - 1 != 3 ||
      !Digits(s.substr(dot + 1, 3), &millis) ||
      !Digits(s.substr(colon + 1, close - colon - 1), &h->serial)) {
    return false;
  }
  if (sec > int64_t{253402300799}) return false;  // past 9999-12-31: no time auditd writes
  h->time_ms = sec * 1000 + millis;
  s.remove_prefix(close + 2);
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  h->body = s;
  return true;
}

bool ParseJournaldAuditHeader(std::string_view msg, AuditHeader* h) {
  // "SERVICE_STOP pid=1 uid=0 …": the type in upper case (letters, digits, '_'), one blank, then
  // a first key and its '='.
  size_t p = 0;
  while (p < msg.size() &&
         ((msg[p] >= 'A' && msg[p] <= 'Z') || (msg[p] >= '0' && msg[p] <= '9') || msg[p] == '_')) {
    ++p;
  }
  if (p == 0 || p > kMaxAuditType || msg[0] < 'A' || msg[0] > 'Z' || p >= msg.size() ||
      msg[p] != ' ') {
    return false;
  }
  const std::string_view body = msg.substr(p + 1);
  size_t k = 0;
  while (k < body.size() && k <= kMaxAuditKey && IsKeyChar(body[k])) ++k;
  if (k == 0 || k > kMaxAuditKey || k >= body.size() || body[k] != '=') return false;
  h->node = {};
  h->type = msg.substr(0, p);
  h->body = body;
  h->time_ms = kNoTime;
  h->serial = -1;
  return true;
}

void ParseAuditRecord(const AuditHeader& h, Parsed& out) {
  boost::json::object& f = out.sink.Tree();
  if (h.time_ms != kNoTime) out.time_ms = h.time_ms;
  std::vector<AuditPair> pairs;
  size_t dropped = 0;
  SplitPairs(h.body, &pairs, &dropped);
  // A userspace record's msg='…' holds its own pairs: read in place of the msg pair, after the
  // record's own (an outer key wins over an inner one of the same name, as the first one set).
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].key == "msg" && pairs[i].quoted) {
      const std::string_view inner = pairs[i].value;
      pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(i));
      SplitPairs(inner, &pairs, &dropped);
      break;
    }
  }

  PutString(f, "auditd.log.record_type", h.type);
  if (h.serial >= 0) PutInt(f, "auditd.log.sequence", h.serial);
  if (!h.node.empty()) {
    PutString(f, "auditd.log.node", h.node);
    PutString(f, "host.hostname", h.node);
  }
  std::string action(h.type);
  for (char& c : action) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  PutString(f, "event.action", action);

  const bool execve = h.type == "EXECVE";
  std::string path = "auditd.log.", decoded, command_line;
  int64_t argc = -1;
  // An argument longer than the kernel puts in one pair comes in pieces, "a1_len=20000 a1[0]=…
  // a1[1]=…" (each hex-encoded): joined into "a1" in order (the pieces are not kept apart).
  std::string piece_arg, joined;
  auto put_argument = [&](std::string_view key, std::string_view value) {
    path.resize(11);
    path += key;
    if (FindField(f, path) != nullptr) return;
    PutString(f, path, value);
    if (!command_line.empty()) command_line += ' ';
    command_line += value;
  };
  auto flush_pieces = [&] {
    if (!piece_arg.empty()) put_argument(piece_arg, joined);
    piece_arg.clear();
    joined.clear();
  };
  for (const AuditPair& pair : pairs) {
    if (execve) {
      const size_t open = pair.key.find('[');
      if (open != std::string_view::npos && pair.key.back() == ']' &&
          IsArgumentKey(pair.key.substr(0, open))) {
        if (piece_arg != pair.key.substr(0, open)) {
          flush_pieces();
          piece_arg = pair.key.substr(0, open);
        }
        joined += !pair.quoted && HexDecode(pair.value, &decoded) ? std::string_view(decoded)
                                                                  : pair.value;
        continue;
      }
      flush_pieces();
      if (IsArgumentKey(pair.key)) {
        std::string_view value = pair.value;
        if (!pair.quoted && value != "(null)" && HexDecode(value, &decoded)) value = decoded;
        put_argument(pair.key, value);
        continue;
      }
    }
    path.resize(11);
    path += pair.key;
    if (FindField(f, path) != nullptr) continue;  // the first of a repeated key
    std::string_view value = pair.value;
    if (!pair.quoted && value != "(null)" && IsEscapedField(pair.key) &&
        HexDecode(value, &decoded)) {
      if (pair.key == "proctitle") {
        // The command line's arguments, NUL-separated (ausearch -i shows them space-separated).
        while (!decoded.empty() && decoded.back() == '\0') decoded.pop_back();
        for (char& c : decoded) {
          if (c == '\0') c = ' ';
        }
      } else if (pair.key == "key") {
        // Several rule keys are joined by \x01 (auparse's T_ESCAPED_KEY); shown comma-separated.
        for (char& c : decoded) {
          if (c == '\x01') c = ',';
        }
      }
      value = decoded;
    }
    PutString(f, path, value);
    // ECS, as Elastic's auditd module names them.
    const std::string_view k = pair.key;
    int64_t n;
    if (k == "pid" && Digits(value, &n)) {
      PutInt(f, "process.pid", n);
    } else if (k == "ppid" && Digits(value, &n)) {
      PutInt(f, "process.parent.pid", n);
    } else if (k == "exe") {
      PutString(f, "process.executable", value);
    } else if (k == "comm") {
      PutString(f, "process.name", value);
    } else if (k == "cwd") {
      PutString(f, "process.working_directory", value);
    } else if (k == "proctitle") {
      PutString(f, "process.title", value);
    } else if (k == "uid") {
      PutString(f, "user.id", value);
    } else if (k == "auid") {
      PutString(f, "user.audit.id", value);
    } else if (k == "euid") {
      PutString(f, "user.effective.id", value);
    } else if (k == "acct") {
      PutString(f, "user.name", value);
    } else if (k == "name" && h.type == "PATH") {
      PutString(f, "file.path", value);
    } else if (k == "addr") {
      PutIp(f, "source.ip", value);
    } else if ((k == "res" || k == "success") && !value.empty()) {
      if (value == "success" || value == "yes" || value == "1") {
        PutString(f, "event.outcome", "success");
      } else if (value == "failed" || value == "no" || value == "0") {
        PutString(f, "event.outcome", "failure");
      }
    } else if (execve && k == "argc" && Digits(value, &n)) {
      argc = n;
    }
  }
  flush_pieces();
  if (execve && (argc >= 0 || !command_line.empty())) {
    PutString(f, "process.command_line", command_line);
  }
  // Sigma's keywords on auditd search the event's text: an EXECVE record's text is its command
  // line, which the raw line never holds as one (each argument is a separate, maybe hex-encoded,
  // pair), so "--to-ports 42" could never match a0=… a13="--to-ports" a14="42392". Keyword search
  // reads `message` and then the raw line: `message` holds the joined command line, the raw line
  // is kept as received.
  if (execve && !command_line.empty()) PutString(f, "message", command_line);
  if (dropped > 0) PutInt(f, "auditd.log.pairs_dropped", static_cast<int64_t>(dropped));
  PutString(f, "event.dataset", "auditd.log");
}

}  // namespace seccloud::soc::internal
