// Normalize() across formats (R18): the metadata every record carries, bounds, UTF-8, errors,
// format sniffing, and the Loghub corpus when /work/shared/data has it.
#include "soc/parse.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/text.h"
#include "soc/parse_internal.h"
#include "soc/parse_testing.h"

namespace seccloud::soc {
namespace {

using parse_testing::kReceived;
using parse_testing::Str;

Record Make(Format format, std::string raw) {
  Record r;
  r.format = format;
  r.raw = std::move(raw);
  r.received_ms = kReceived;
  r.source = "syslog-tcp";
  r.peer = "::FFFF:192.0.2.10";
  r.tenant = "city-a";
  return r;
}

struct Sample {
  Format format;
  const char* raw;
  const char* dataset;
};

const Sample kSamples[] = {
    {Format::kSeccloudEvent,
     R"({"@timestamp":"2025-11-26T04:00:00.000Z","event":{"dataset":"proxy.access","id":"e-1"}})",
     "proxy.access"},
    {Format::kSyslog,
     "<38>Nov 26 04:00:00 h sshd[1]: Accepted password for a from 10.0.0.1 port 2 ssh2",
     "system.auth"},
    {Format::kSyslog, "<14>Nov 26 04:00:00 h cron[1]: job done", "system.syslog"},
    {Format::kJson, R"({"msg":"x"})", "json"},
    {Format::kSuricataEve, R"({"event_type":"flow","timestamp":"2025-11-26T04:00:00.000000+0000"})",
     "ids.flow"},
    {Format::kAccessLog, R"(1.2.3.4 - - [26/Nov/2025:04:00:00 +0000] "GET / HTTP/1.1" 200 1)",
     "web.access"},
    {Format::kWindowsEvent, R"({"Event":{"System":{"EventID":1}}})", "windows.event"},
    {Format::kText, "2025-11-26 04:00:00 INFO started", "text"},
};

// JsonTimeToMs's shortcut for 24-byte UTC times with milliseconds (UtcMillisToMs) answers as the
// general path (ParseIsoPrefix reading the whole text, else an epoch number): 300 times (valid and
// out-of-range dates, hours, minutes, seconds), each with every byte replaced by each of 16 bytes
// around the shape's classes, and cut or lengthened by one byte.
TEST(ParseTest, UtcMillisShortcutAnswersAsTheGeneralPath) {
  auto reference = [](std::string_view text, int64_t* ms) {
    text = internal::TrimSpaces(text);
    size_t used = 0;
    if (internal::ParseIsoPrefix(text, &used, ms) && used == text.size()) return true;
    int64_t n;
    if (internal::ParseUint(text, &n)) return internal::EpochToMs(static_cast<double>(n), ms);
    return false;
  };
  size_t checked = 0, valid = 0;
  auto check = [&](const std::string& t) {
    int64_t got = -7, want = -7;
    const bool got_ok = internal::JsonTimeToMs(boost::json::value(t), &got);
    const bool want_ok = reference(t, &want);
    ASSERT_EQ(got_ok, want_ok) << "\"" << t << "\"";
    ASSERT_EQ(got, want) << "\"" << t << "\"";
    ++checked;
    valid += got_ok;
  };
  std::mt19937 rng(20);
  for (int i = 0; i < 300; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
                  static_cast<unsigned>(1960 + rng() % 150), static_cast<unsigned>(rng() % 14),
                  static_cast<unsigned>(rng() % 33), static_cast<unsigned>(rng() % 26),
                  static_cast<unsigned>(rng() % 62), static_cast<unsigned>(rng() % 63),
                  static_cast<unsigned>(rng() % 1000));
    const std::string base = buf;
    ASSERT_EQ(base.size(), 24u);
    check(base);
    if (::testing::Test::HasFatalFailure()) return;
    for (size_t at = 0; at < base.size(); ++at) {
      for (const char b : std::string("09/:;Tt Zz.,-+a\0", 16)) {
        std::string t = base;
        t[at] = b;
        check(t);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    check(base.substr(0, 23));
    check(base + "0");
    check(" " + base.substr(1));
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(checked, 100000u);
  EXPECT_GT(valid, 5000u);
  EXPECT_GT(checked - valid, 50000u);
}

// IsAscii (64 bytes a step past 64, then 8, then 1) against a byte-by-byte reference: every
// length up to 300, ASCII throughout and with one byte >= 0x80 (0x80, 0xC3, 0xFF) at each offset,
// read at each of the 16 alignments of a buffer.
TEST(ParseTest, IsAsciiFindsEveryHighByte) {
  auto reference = [](std::string_view s) {
    for (const char ch : s) {
      if (static_cast<unsigned char>(ch) >= 0x80) return false;
    }
    return true;
  };
  std::string buffer(16 + 301, 'a');
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<char>(i * 37 % 128);
  size_t checked = 0;
  for (size_t align = 0; align < 16; ++align) {
    for (size_t len = 0; len <= 300; ++len) {
      std::string b = buffer;
      const std::string_view plain(b.data() + align, len);
      ASSERT_TRUE(internal::IsAscii(plain)) << align << " " << len;
      // Bytes around the text are not its own.
      if (align > 0) b[align - 1] = '\xFF';
      if (align + len < b.size()) b[align + len] = '\xFF';
      ASSERT_TRUE(internal::IsAscii(plain)) << align << " " << len;
      b = buffer;
      for (size_t at = 0; at < len; ++at) {
        for (const unsigned char high : {0x80, 0xC3, 0xFF}) {
          b[align + at] = static_cast<char>(high);
          const std::string_view s(b.data() + align, len);
          ASSERT_EQ(internal::IsAscii(s), reference(s)) << align << " " << len << " " << at;
          ASSERT_FALSE(internal::IsAscii(s));
          b[align + at] = buffer[align + at];
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 700000u);
}

// IpText's shortcut for dotted quads answers exactly when IpAddress::Parse takes the text as
// IPv4: every text of up to 6 bytes over "019.:" and 300,000 random texts of up to 17 bytes over
// digits, '.', ':', 'a' and ' ', plus the edges of the octets.
TEST(ParseTest, CanonicalIpv4IsWhatParseTakesAsIpv4) {
  auto check = [](const std::string& t) {
    const auto ip = IpAddress::Parse(t);
    ASSERT_EQ(internal::IsCanonicalIpv4(t), ip.has_value() && ip->is_v4()) << "\"" << t << "\"";
  };
  const std::string small = "019.:";
  std::vector<std::string> level = {""};
  for (int len = 0; len <= 6; ++len) {
    std::vector<std::string> next;
    for (const std::string& t : level) {
      check(t);
      if (::testing::Test::HasFatalFailure()) return;
      for (char ch : small) next.push_back(t + ch);
    }
    level = std::move(next);
  }
  for (const char* t :
       {"0.0.0.0",         "255.255.255.255", "256.1.1.1",  "1.1.1.256",     "01.1.1.1",
        "1.1.1.01",        "1.1.1",           "1.1.1.1.",   ".1.1.1.1",      "1..1.1",
        "1.1.1.1.1",       "1000.1.1.1",      "1.1.1.1000", "192.168.001.1", "10.0.0.10",
        "9.99.199.249",    "1.1.1.1 ",        " 1.1.1.1",   "1.1.1.1x",      "123.123.123.123",
        "123.123.123.1234"}) {
    check(t);
  }
  std::mt19937 rng(19);
  const std::string alphabet = "0123456789012345.....:a ";
  for (int i = 0; i < 300000; ++i) {
    std::string t(rng() % 18, ' ');
    for (char& ch : t) ch = alphabet[rng() % alphabet.size()];
    check(t);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(ParseTest, EveryRecordCarriesTheMetadata) {
  for (const Sample& s : kSamples) {
    SCOPED_TRACE(s.raw);
    Record r = Make(s.format, s.raw);
    Normalize(r);
    ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
    EXPECT_EQ(Str(r, "@timestamp"), FormatTimeMs(r.time_ms));
    EXPECT_EQ(Str(r, "event.ingested"), FormatTimeMs(kReceived));
    EXPECT_EQ(Str(r, "event.dataset"), s.dataset);
    EXPECT_EQ(Str(r, "seccloud.soc.source"), "syslog-tcp");
    EXPECT_EQ(Str(r, "seccloud.soc.format"), FormatName(s.format));
    EXPECT_EQ(Str(r, "tenant.id"), "city-a");
    EXPECT_EQ(Str(r, "seccloud.soc.peer"), "192.0.2.10");
    EXPECT_EQ(Str(r, "seccloud.soc.parse_error"), "<absent>");
  }
  Record r = Make(Format::kSeccloudEvent, kSamples[0].raw);
  Normalize(r);
  EXPECT_EQ(Str(r, "event.id"), "e-1");
  r = Make(Format::kText, "x");
  r.tenant.clear();
  r.peer.clear();
  Normalize(r);
  EXPECT_EQ(Str(r, "tenant.id"), "<absent>");
  EXPECT_EQ(Str(r, "seccloud.soc.peer"), "<absent>");
}

TEST(ParseTest, DeterministicAndRepeatable) {
  for (const Sample& s : kSamples) {
    Record a = Make(s.format, s.raw);
    Normalize(a);
    Record b = Make(s.format, s.raw);
    b.fields()["stale"] = 1;  // whatever was there before is replaced
    b.parsed = true;
    Normalize(b);
    Normalize(b);
    EXPECT_EQ(boost::json::serialize(a.fields()), boost::json::serialize(b.fields())) << s.raw;
    EXPECT_EQ(a.time_ms, b.time_ms);
  }
}

TEST(ParseTest, UnparsedRecordKeepsRawAsMessage) {
  Record r = Make(Format::kSuricataEve, "not json \xFF at all");
  r.time_ms = 123;
  Normalize(r);
  EXPECT_FALSE(r.parsed);
  EXPECT_EQ(r.time_ms, kReceived);
  EXPECT_EQ(Str(r, "message"), "not json \xEF\xBF\xBD at all");
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"), "eve: invalid JSON (syntax error) at byte 0");
  EXPECT_EQ(Str(r, "event.dataset"), "soc.unparsed");
  EXPECT_EQ(Str(r, "tenant.id"), "city-a");
  EXPECT_EQ(Str(r, "seccloud.soc.format"), "eve");

  r = Make(Format::kText, "\r\n");
  Normalize(r);
  EXPECT_FALSE(r.parsed);
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"), "text: the record is empty");

  r = Make(static_cast<Format>(99), "x");
  Normalize(r);
  EXPECT_FALSE(r.parsed);
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"), "unknown: unknown format number 99");
}

TEST(ParseTest, InvalidUtf8IsSanitisedEverywhere) {
  const std::string bad = "\xC0\xAF\xED\xA0\x80\xF5\xFF caf\xC3";
  const Sample inputs[] = {
      {Format::kSyslog, "<13>Nov 26 04:00:00 h\xFF app\xFE[1]: m\xC3", ""},
      {Format::kText, "2025-11-26 04:00:00 \xFF\xFE", ""},
      {Format::kAccessLog,
       "1.2.3.4 - \xFF [26/Nov/2025:04:00:00 +0000] \"GET /\xFF HTTP/1.1\" 200 1", ""},
      {Format::kJson, "{\"\xFF\":\"\xFE\"}", ""},
      {Format::kSuricataEve, "{\"event_type\":\"http\",\"http\":{\"url\":\"/\xFF\"}}", ""},
  };
  for (const Sample& s : inputs) {
    Record r = Make(s.format, s.raw);
    r.source = bad;
    r.tenant = bad;
    r.peer = bad;
    Normalize(r);
    EXPECT_TRUE(r.parsed) << s.raw;
    EXPECT_TRUE(IsValidUtf8(boost::json::serialize(r.fields()))) << s.raw;
  }
}

TEST(ParseTest, OversizedRawIsReadOnlyToTheLimit) {
  Record r =
      Make(Format::kSyslog, "<13>Nov 26 04:00:00 h app: " + std::string(kMaxRawBytes * 2, 'a'));
  Normalize(r);
  ASSERT_TRUE(r.parsed);
  EXPECT_LE(Str(r, "message").size(), kMaxRawBytes);

  // A JSON record cut by ingest fails to parse, and the error says why.
  r = Make(Format::kJson, R"({"a":")" + std::string(kMaxRawBytes, 'x'));
  r.raw.resize(kMaxRawBytes);
  r.truncated = true;
  Normalize(r);
  EXPECT_FALSE(r.parsed);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"),
            "json: invalid JSON (incomplete JSON) at byte 65536 (the record was cut at 65536 "
            "bytes)");
}

TEST(ParseTest, TrailingNewlinesAreNotPartOfTheRecord) {
  Record r = Make(Format::kJson, "{\"a\":1}\r\n");
  Normalize(r);
  EXPECT_TRUE(r.parsed);
  r = Make(Format::kSyslog, "<13>Nov 26 04:00:00 h app: hello\r\n");
  Normalize(r);
  EXPECT_EQ(Str(r, "message"), "hello");
}

TEST(ParseTest, SniffFormat) {
  EXPECT_EQ(SniffFormat(R"({"timestamp":"x","event_type":"alert"})"), Format::kSuricataEve);
  EXPECT_EQ(SniffFormat(R"({"Event":{"System":{"EventID":4624}}})"), Format::kWindowsEvent);
  EXPECT_EQ(
      SniffFormat(R"({"@timestamp":"x","event":{"dataset":"proxy.access"},"seccloud":{"seq":1}})"),
      Format::kSeccloudEvent);
  EXPECT_EQ(SniffFormat(R"(  {"msg":"x"})"), Format::kJson);
  EXPECT_EQ(SniffFormat("<34>Oct 11 22:14:15 mymachine su: x"), Format::kSyslog);
  EXPECT_EQ(SniffFormat("<165>1 2003-10-11T22:14:15.003Z h a - - - m"), Format::kSyslog);
  EXPECT_EQ(SniffFormat("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user x from 1.2.3.4"),
            Format::kSyslog);
  EXPECT_EQ(SniffFormat("2024-02-08T12:30:45+01:00 web01 sshd[1]: x"), Format::kSyslog);
  EXPECT_EQ(SniffFormat(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2)"),
            Format::kAccessLog);
  EXPECT_EQ(SniffFormat(R"(vh:80 1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2)"),
            Format::kAccessLog);
  EXPECT_EQ(SniffFormat("[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] x"),
            Format::kAccessLog);
  EXPECT_EQ(SniffFormat("2024/01/02 03:04:05 [error] 1#0: *1 x"), Format::kAccessLog);
  EXPECT_EQ(SniffFormat("2015-10-18 18:01:47,978 INFO [main] org.x: y"), Format::kText);
  EXPECT_EQ(SniffFormat("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO x"),
            Format::kText);
  EXPECT_EQ(SniffFormat(""), Format::kText);
  EXPECT_EQ(SniffFormat("<abc>"), Format::kText);
}

// The stdio spelling both fast formatters must reproduce (FormatTimeMs itself now uses the fast
// path for years 0000..9999, so the reference is computed here).
std::string StdioTime(int64_t ms) {
  int64_t secs = ms / 1000, frac = ms % 1000;
  if (frac < 0) frac += 1000, --secs;
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

TEST(ParseTest, FastTimeFormatMatchesFormatTimeMs) {
  const int64_t fixed[] = {0,
                           1,
                           999,
                           1000,
                           -1,
                           -999,
                           -1000,
                           -86400001,
                           951782400000 /* 2000-02-29 */,
                           4102444799999,
                           253402300799999,
                           kReceived};
  for (int64_t ms : fixed) {
    EXPECT_EQ(internal::FormatTime(ms, {}), StdioTime(ms)) << ms;
    EXPECT_EQ(FormatTimeMs(ms), StdioTime(ms)) << ms;
  }
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < 100000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const int64_t ms = static_cast<int64_t>(x % 253402300800000u);
    ASSERT_EQ(internal::FormatTime(ms, {}), StdioTime(ms)) << ms;
    ASSERT_EQ(FormatTimeMs(ms), StdioTime(ms)) << ms;
  }
  // Same-day times reuse the last date formatted (FormatTimeChars' cache): times around midnight,
  // alternating with another day and with a year the cache must not serve.
  const int64_t midnight = 1793491200000;  // 2026-11-01T00:00:00Z
  for (int64_t d = -3'000'000; d <= 3'000'000; d += 997) {
    for (int64_t ms :
         {midnight + d, midnight - 86'400'000 + d, midnight + d + 1, int64_t{-1}, midnight + d}) {
      ASSERT_EQ(internal::FormatTime(ms, {}), StdioTime(ms)) << ms;
    }
  }
  // Outside 0000..9999 FormatTimeMs keeps the stdio spelling.
  const int64_t far = 253402300800000;  // 10000-01-01
  EXPECT_EQ(FormatTimeMs(far), StdioTime(far));
}

// InferYear takes the reception year from arithmetic, not gmtime_r: the same choice as the year
// gmtime_r gives, around new year and across the range of plausible reception times.
TEST(ParseTest, InferYearMatchesGmtimeYear) {
  const auto reference = [](int mo, int d, int64_t received_ms, int64_t* out) {
    const std::time_t secs = static_cast<std::time_t>(received_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const int64_t year = tm.tm_year + 1900;
    bool found = false;
    int64_t best = 0;
    for (int64_t y : {year - 1, year, year + 1}) {
      int64_t t;
      if (!internal::CivilToMs(y, mo, d, 12, 0, 0, 0, &t)) continue;
      if (t > received_ms + internal::kMaxFutureSkewMs) continue;
      const auto dist = [&](int64_t v) {
        return v > received_ms ? v - received_ms : received_ms - v;
      };
      if (!found || dist(t) < dist(best)) best = t, found = true;
    }
    if (found) *out = best;
    return found;
  };
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (int i = 0; i < 200000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    // 1970..2200, plus exact year boundaries now and then.
    int64_t received = static_cast<int64_t>(x % 7258118400000u);
    if (i % 7 == 0) received -= received % 86400000;
    const int mo = static_cast<int>(x >> 40) % 12 + 1, d = static_cast<int>(x >> 48) % 31 + 1;
    int64_t got = -1, want = -1;
    const bool ok = internal::InferYear(mo, d, 12, 0, 0, 0, received, &got);
    ASSERT_EQ(ok, reference(mo, d, received, &want)) << received << " " << mo << "/" << d;
    if (ok) {
      ASSERT_EQ(got, want) << received << " " << mo << "/" << d;
    }
  }
}

// Every line of every Loghub sample must parse with its time taken from the line itself.
TEST(ParseTest, LoghubCorpus) {
  const std::filesystem::path dir =
      std::filesystem::path(SECCLOUD_SOURCE_DIR) / ".." / "shared" / "data" / "logs" / "loghub";
  const char* const kNames[] = {"Android", "Apache",      "BGL",       "HDFS",
                                "HPC",     "Hadoop",      "HealthApp", "Linux",
                                "Mac",     "OpenSSH",     "OpenStack", "Proxifier",
                                "Spark",   "Thunderbird", "Windows",   "Zookeeper"};
  // Later than every sample, so a time equal to it means "not found in the line".
  const int64_t received = 1907539200000;  // 2030-06-15
  size_t files = 0, total = 0, timed = 0;
  for (const char* name : kNames) {
    const auto path = dir / name / (std::string(name) + "_2k.log");
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    ++files;
    size_t lines = 0, with_time = 0, shown = 0;
    std::string line;
    while (std::getline(in, line)) {
      Record r;
      r.raw = line;
      r.format = SniffFormat(line);
      r.received_ms = received;
      Normalize(r);
      ++lines;
      if (r.parsed && r.time_ms != received) {
        ++with_time;
      } else if (shown++ < 3) {
        ADD_FAILURE() << name << ": no time from " << Quote(line) << " (" << FormatName(r.format)
                      << ")";
      }
    }
    std::cout << "[ loghub  ] " << name << ": " << with_time << "/" << lines
              << " lines parsed with their own time\n";
    total += lines;
    timed += with_time;
    EXPECT_EQ(with_time, lines) << name;
  }
  if (files == 0) {
    GTEST_SKIP() << "no Loghub samples under " << dir
                 << " (the shared data set is absent on this machine)";
  }
  std::cout << "[ loghub  ] total: " << timed << "/" << total << " in " << files << " files\n";
}

// The previous EraseAllForms: the path itself erased first, then each prefix ending before a '.'
// looked up and descended into. The one-pass version must leave every object exactly as this
// did, member order included (erasing moves an object's last member into the hole).
void ReferenceEraseAllForms(boost::json::object& fields, std::string_view path) {
  if (path.empty()) return;
  fields.erase(path);
  for (size_t dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.', dot + 1)) {
    auto* next = fields.if_contains(path.substr(0, dot));
    if (next != nullptr && next->is_object()) {
      ReferenceEraseAllForms(next->get_object(), path.substr(dot + 1));
    }
  }
}

TEST(ParseTest, EraseAllFormsAgreesWithALookupPerSpelling) {
  std::mt19937 rng(26);
  const std::vector<std::string>& names = parse_testing::kDottedNames;
  size_t changed = 0;
  for (int round = 0; round < 3000; ++round) {
    const boost::json::object o = parse_testing::RandomDottedObject(rng, names, 3);
    for (int q = 0; q < 5; ++q) {
      const std::string path = parse_testing::RandomDottedPath(rng, names);
      boost::json::object want = o, got = o;
      ReferenceEraseAllForms(want, path);
      internal::EraseAllForms(got, path);
      const std::string w = boost::json::serialize(want);
      EXPECT_EQ(boost::json::serialize(got), w) << path << " in " << boost::json::serialize(o);
      changed += w != boost::json::serialize(o);
    }
  }
  EXPECT_GT(changed, 600u);  // the random objects do hold the paths often enough
}

// SetPath as main had it (aa1613e): if_contains for each segment, then emplace for a new one.
void ReferenceSetPath(boost::json::object& fields, std::string_view path,
                      boost::json::value value) {
  boost::json::object* obj = &fields;
  while (true) {
    const size_t dot = path.find('.');
    if (dot == std::string_view::npos) {
      obj->insert_or_assign(path, std::move(value));
      return;
    }
    const std::string_view segment = path.substr(0, dot);
    boost::json::value* next = obj->if_contains(segment);
    if (next == nullptr) {
      boost::json::object child(obj->storage());
      child.reserve(4);
      next = &obj->emplace(segment, std::move(child)).first->value();
    } else if (!next->is_object()) {
      *next = boost::json::object(obj->storage());
    }
    obj = &next->get_object();
    path.remove_prefix(dot + 1);
  }
}

// SetPath, PutString, PutInt and PathParent + insert_or_assign (the Windows builder's Set) against
// the walk above, on objects holding the paths' prefixes as objects, numbers, strings and nulls
// (in the way of a longer path) and on objects past Boost.JSON's small-object size: the same
// members in the same order.
TEST(ParseTest, SetPathAgreesWithTheTwoLookupWalk) {
  std::mt19937 rng(27);
  const std::vector<std::string>& names = parse_testing::kDottedNames;
  const std::string values[] = {"", "x", "a longer value than fourteen bytes", "bad \xff utf-8",
                                "\xc3\xa9t\xc3\xa9"};
  for (int round = 0; round < 3000; ++round) {
    boost::json::object want = parse_testing::RandomDottedObject(rng, names, 3);
    boost::json::object got = want;
    for (int q = 0; q < 8; ++q) {
      const std::string path = parse_testing::RandomDottedPath(rng, names);
      const std::string& text = values[rng() % 5];
      switch (rng() % 5) {
        case 0:
          ReferenceSetPath(want, path, static_cast<int64_t>(q));
          internal::PutInt(got, path, q);
          break;
        case 1:
          ReferenceSetPath(want, path, nullptr);
          internal::SetPath(got, path, nullptr);
          break;
        case 2:
          ReferenceSetPath(want, path, internal::Sanitized(text, want.storage()));
          internal::PutString(got, path, text);
          break;
        case 3: {
          const boost::json::value v = boost::json::string(text.substr(0, 3) == "bad" ? "" : text);
          ReferenceSetPath(want, path, boost::json::value(v, want.storage()));
          std::string_view leaf = path;
          internal::PathParent(got, &leaf).insert_or_assign(leaf, v);
          break;
        }
        default: {
          boost::json::array a;
          a.emplace_back(text.substr(0, 1));
          ReferenceSetPath(want, path, a);
          internal::SetPath(got, path, a);
        }
      }
      ASSERT_EQ(boost::json::serialize(got), boost::json::serialize(want)) << path;
    }
  }
}

// PutTime and PutSourceAndFormat against SetPath of the same values (FormatTime's string, the
// source sanitised or not, the format's name), on objects where the paths' prefixes are objects,
// numbers, strings and nulls or spelled with dots: the same members in the same order.
TEST(ParseTest, PutTimeAndPutSourceAndFormatAgreeWithSetPath) {
  std::mt19937 rng(28);
  const std::vector<std::string> names = {"seccloud",   "soc",   "seccloud.soc", "source", "format",
                                          "@timestamp", "event", "ingested",     "a",      ""};
  const std::string sources[] = {"", "spool:proxy", "a longer source than fourteen", "bad \xff"};
  const int64_t times[] = {0, kReceived, -1, 253402300800000 /* 10000-01-01: stdio spelling */};
  for (int round = 0; round < 3000; ++round) {
    boost::json::object want = parse_testing::RandomDottedObject(rng, names, 3);
    boost::json::object got = want;
    for (int q = 0; q < 4; ++q) {
      if (rng() % 2) {
        const int64_t ms = times[rng() % 4];
        const std::string path = rng() % 2 ? "@timestamp" : "event.ingested";
        ReferenceSetPath(want, path, internal::FormatTime(ms, want.storage()));
        internal::PutTime(got, path, ms);
      } else {
        const std::string& source = sources[rng() % 4];
        const bool sanitize = rng() % 2;
        const Format format = static_cast<Format>(rng() % 7 + 1);
        ReferenceSetPath(want, "seccloud.soc.source",
                         sanitize
                             ? boost::json::value(internal::Sanitized(source, want.storage()))
                             : boost::json::value(boost::json::string(source, want.storage())));
        ReferenceSetPath(want, "seccloud.soc.format",
                         boost::json::string(FormatName(format), want.storage()));
        internal::PutSourceAndFormat(got, source, sanitize, format);
      }
      ASSERT_EQ(boost::json::serialize(got), boost::json::serialize(want)) << round;
    }
  }
}

}  // namespace
}  // namespace seccloud::soc
