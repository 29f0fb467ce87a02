// Any other text line (application logs, the Loghub samples): a leading timestamp in one of the
// common shapes, a level word, the rest as the message. Never fails: a line without a time is
// still a record (time = received).
#include <string>

#include "soc/parse_internal.h"
#include "soc/record.h"

namespace seccloud::soc::internal {
namespace {

bool Num(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Reads ".123" / ",123" / ":123" (milliseconds, any number of digits) at s[*pos] when
// `separators` holds s[*pos].
int Fraction(std::string_view s, size_t* pos, std::string_view separators) {
  if (*pos + 1 >= s.size() || separators.find(s[*pos]) == std::string_view::npos ||
      !IsDigit(s[*pos + 1])) {
    return 0;
  }
  ++*pos;
  int millis = 0, digits = 0;
  while (*pos < s.size() && IsDigit(s[*pos])) {
    if (digits < 3) millis = millis * 10 + (s[*pos] - '0');
    ++digits;
    ++*pos;
  }
  for (int i = digits; i < 3; ++i) millis *= 10;
  return millis;
}

bool EndsToken(std::string_view s, size_t pos) {
  return pos >= s.size() ||
         !(IsDigit(s[pos]) || (s[pos] >= 'A' && s[pos] <= 'Z') || (s[pos] >= 'a' && s[pos] <= 'z'));
}

// "hh:mm:ss" at pos.
bool Clock(std::string_view s, size_t pos, int* h, int* mi, int* sec) {
  return Num(s, pos, 2, h) && pos + 2 < s.size() && s[pos + 2] == ':' && Num(s, pos + 3, 2, mi) &&
         pos + 5 < s.size() && s[pos + 5] == ':' && Num(s, pos + 6, 2, sec);
}

int Year2(int yy) { return yy < 70 ? 2000 + yy : 1900 + yy; }

// The timestamp shapes recognised at the very start of `s`; returns bytes consumed or 0.
size_t LeadingTime(std::string_view s, int64_t received_ms, int64_t* ms) {
  size_t used = 0;
  int y, mo, d, h, mi, sec;
  // 2015-10-18 18:01:47,978 / 2024-01-02T03:04:05.123+09:00 (Hadoop, Zookeeper, OpenStack, CBS)
  if (ParseIsoPrefix(s, &used, ms)) return used;
  // 2024/01/02 03:04:05[.123]
  if (Num(s, 0, 4, &y) && s.size() >= 19 && s[4] == '/' && Num(s, 5, 2, &mo) && s[7] == '/' &&
      Num(s, 8, 2, &d) && s[10] == ' ' && Clock(s, 11, &h, &mi, &sec)) {
    size_t p = 19;
    const int millis = Fraction(s, &p, ".,");
    if (CivilToMs(y, mo, d, h, mi, sec, millis, ms)) return p;
  }
  // 17/06/09 20:10:40 (Spark: yy/mm/dd)
  if (Num(s, 0, 2, &y) && s.size() >= 17 && s[2] == '/' && Num(s, 3, 2, &mo) && s[5] == '/' &&
      Num(s, 6, 2, &d) && s[8] == ' ' && Clock(s, 9, &h, &mi, &sec)) {
    size_t p = 17;
    const int millis = Fraction(s, &p, ".,");
    if (CivilToMs(Year2(y), mo, d, h, mi, sec, millis, ms)) return p;
  }
  // 081109 203615 (HDFS: yymmdd hhmmss)
  if (s.size() >= 13 && Num(s, 0, 2, &y) && Num(s, 2, 2, &mo) && Num(s, 4, 2, &d) && s[6] == ' ' &&
      Num(s, 7, 2, &h) && Num(s, 9, 2, &mi) && Num(s, 11, 2, &sec) && EndsToken(s, 13)) {
    if (CivilToMs(Year2(y), mo, d, h, mi, sec, 0, ms)) return 13;
  }
  // 20171223-22:15:29:606 (HealthApp)
  if (s.size() >= 17 && Num(s, 0, 4, &y) && Num(s, 4, 2, &mo) && Num(s, 6, 2, &d) && s[8] == '-' &&
      Clock(s, 9, &h, &mi, &sec)) {
    size_t p = 17;
    const int millis = Fraction(s, &p, ".,:");
    if (CivilToMs(y, mo, d, h, mi, sec, millis, ms)) return p;
  }
  // 03-17 16:13:38.811 (Android logcat: no year)
  if (s.size() >= 14 && Num(s, 0, 2, &mo) && s[2] == '-' && Num(s, 3, 2, &d) && s[5] == ' ' &&
      Clock(s, 6, &h, &mi, &sec)) {
    size_t p = 14;
    const int millis = Fraction(s, &p, ".,");
    if (InferYear(mo, d, h, mi, sec, millis, received_ms, ms)) return p;
  }
  // [10.30 16:49:06] (Proxifier: mm.dd, no year)
  if (s.size() >= 16 && s[0] == '[' && Num(s, 1, 2, &mo) && s[3] == '.' && Num(s, 4, 2, &d) &&
      s[6] == ' ' && Clock(s, 7, &h, &mi, &sec)) {
    size_t p = 15;
    const int millis = Fraction(s, &p, ".,");
    if (p < s.size() && s[p] == ']') ++p;
    if (InferYear(mo, d, h, mi, sec, millis, received_ms, ms)) return p;
  }
  // Jul  1 09:00:55 (syslog-style, Mac)
  if (size_t p = ParseBsdTimestamp(s, received_ms, ms); p > 0) return p;
  // [Sun Dec 04 04:47:44 2005] / Sun Dec 04 04:47:44 2005 (ctime)
  {
    const size_t b = (!s.empty() && s[0] == '[') ? 1 : 0;
    if (s.size() >= b + 24 && s[b + 3] == ' ' && MonthFromAbbrev(s.substr(b + 4, 3)) != 0 &&
        s[b + 7] == ' ') {
      std::string_view rest = s.substr(b + 4);
      int64_t t;
      size_t p = ParseBsdTimestamp(rest, received_ms, &t);
      // Only with an explicit year: ctime always has one.
      if (p > 0 && p >= 20 && IsDigit(rest[p - 1])) {
        p += b + 4;
        if (b == 1 && p < s.size() && s[p] == ']') ++p;
        *ms = t;
        return p;
      }
    }
  }
  return 0;
}

// Epoch seconds (10 digits) or milliseconds (13 digits) as a whole token, 1990..2100.
bool EpochToken(std::string_view tok, int64_t* ms) {
  int64_t v;
  if ((tok.size() != 10 && tok.size() != 13) || !ParseUint(tok, &v)) return false;
  const int64_t t = tok.size() == 13 ? v : v * 1000;
  if (t < 631152000000 || t >= 4102444800000) return false;
  *ms = t;
  return true;
}

std::string_view LevelOf(std::string_view tok, bool allow_letter) {
  // "[INFO]", "<warn>", "ERROR:", "(debug)"
  while (!tok.empty() && std::string_view("[<(").find(tok.front()) != std::string_view::npos) {
    tok.remove_prefix(1);
  }
  while (!tok.empty() && std::string_view("]>):,;").find(tok.back()) != std::string_view::npos) {
    tok.remove_suffix(1);
  }
  static constexpr std::string_view kWords[] = {"trace",   "debug", "info",  "notice",  "warn",
                                                "warning", "error", "fatal", "critical"};
  for (std::string_view w : kWords) {
    if (EqualsIgnoreCase(tok, w)) return w;
  }
  if (allow_letter && tok.size() == 1) {
    switch (tok[0]) {
      case 'V':
        return "verbose";
      case 'D':
        return "debug";
      case 'I':
        return "info";
      case 'W':
        return "warn";
      case 'E':
        return "error";
      case 'F':
        return "fatal";
      case 'A':
        return "assert";
    }
  }
  return {};
}

std::string_view TrimSeparators(std::string_view s) {
  while (!s.empty() && (IsSpace(s.front()) || s.front() == '|' || s.front() == ',' ||
                        (s.front() == '-' && (s.size() == 1 || IsSpace(s[1]))) ||
                        (s.front() == ':' && (s.size() == 1 || IsSpace(s[1]))))) {
    s.remove_prefix(1);
  }
  return s;
}

}  // namespace

void ParseText(std::string_view line, int64_t received_ms, Parsed& out) {
  FieldSink& f = out.sink;
  // auditd's own log file (audit.log lines, tailed as text): "type=…" or "node=… type=…".
  if (!line.empty() && (line[0] == 't' || line[0] == 'n')) {
    AuditHeader audit;
    if (ParseAuditHeader(line, &audit)) {
      PutString(f.Tree(), "message", line);
      ParseAuditRecord(audit, out);
      return;
    }
  }
  PutString(f, "event.dataset", "text");
  int64_t t = kNoTime;
  size_t used = LeadingTime(line, received_ms, &t);
  if (used == 0) {
    // A time in one of the first few tokens: "- 1117838570 2005.06.03 …" (BGL, Thunderbird),
    // "134681 node-246 unix.hw state_change.unavailable 1077804742 1 …" (HPC),
    // "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 …" (OpenStack).
    size_t pos = 0;
    for (int i = 0; i < 6 && pos < line.size(); ++i) {
      size_t start = pos;
      while (start < line.size() && IsSpace(line[start])) ++start;
      std::string_view tok = NextToken(line, &pos);
      if (tok.empty()) break;
      size_t n = 0;
      if (EpochToken(tok, &t)) {
        used = pos;
        break;
      }
      if (i > 0 && ParseIsoPrefix(line.substr(start), &n, &t)) {
        used = start + n;
        break;
      }
    }
  }
  if (used > 0) out.time_ms = t;
  std::string_view rest = line.substr(used);

  // A level word among the next few tokens; integers before it are the pid (and thread id).
  size_t pos = 0;
  int64_t ids[2];
  int id_count = 0;
  bool only_ids = true;
  for (int i = 0; i < 8 && used > 0; ++i) {
    std::string_view tok = NextToken(rest, &pos);
    if (tok.empty()) break;
    std::string_view level = LevelOf(tok, i < 3);
    if (!level.empty()) {
      PutString(f, "log.level", level);
      if (only_ids && id_count >= 1) PutInt(f, "process.pid", ids[0]);
      if (only_ids && id_count == 2) PutInt(f, "process.thread.id", ids[1]);
      rest = rest.substr(pos);
      break;
    }
    int64_t v;
    if (id_count < 2 && tok.size() <= 10 && ParseUint(tok, &v)) {
      ids[id_count++] = v;
    } else if (tok != "-" && tok != "," && tok != "|") {
      only_ids = false;
    }
  }
  PutString(f, "message", TrimSeparators(rest));
}

}  // namespace seccloud::soc::internal
