// Syslog parsing (R18): RFC 5424, RFC 3164, bare file lines and the auth/firewall sub-parsers.
// Sample lines marked "Loghub" are from logpai/loghub (Linux, OpenSSH, Mac), used with attribution.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <string>

#include "soc/parse.h"
#include "soc/parse_testing.h"

namespace seccloud::soc {
namespace {

using parse_testing::kReceived;
using parse_testing::Ms;
using parse_testing::ParseAs;
using parse_testing::Str;

Record Parse(std::string raw, int64_t received_ms = kReceived) {
  return ParseAs(Format::kSyslog, std::move(raw), "syslog-udp", received_ms);
}

TEST(ParseSyslogTest, Rfc5424WithStructuredDataAndBom) {
  const Record r = Parse(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
      "[examplePriority@32473 class=\"high\"] \xEF\xBB\xBF"
      "An application event log entry...");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(r.time_ms, Ms("2003-10-11T22:14:15.003Z"));
  EXPECT_EQ(Str(r, "log.syslog.priority"), "165");
  EXPECT_EQ(Str(r, "log.syslog.facility.code"), "20");
  EXPECT_EQ(Str(r, "log.syslog.facility.name"), "local4");
  EXPECT_EQ(Str(r, "log.syslog.severity.code"), "5");
  EXPECT_EQ(Str(r, "log.syslog.severity.name"), "notice");
  EXPECT_EQ(Str(r, "log.level"), "notice");
  EXPECT_EQ(Str(r, "host.hostname"), "mymachine.example.com");
  EXPECT_EQ(Str(r, "process.name"), "evntslog");
  EXPECT_EQ(Str(r, "process.pid"), "<absent>");  // NILVALUE
  EXPECT_EQ(Str(r, "log.syslog.msgid"), "ID47");
  EXPECT_EQ(Str(r, "log.syslog.structured_data.exampleSDID@32473.iut"), "3");
  EXPECT_EQ(Str(r, "log.syslog.structured_data.exampleSDID@32473.eventSource"), "Application");
  EXPECT_EQ(Str(r, "log.syslog.structured_data.examplePriority@32473.class"), "high");
  EXPECT_EQ(Str(r, "message"), "An application event log entry...");  // BOM removed
  EXPECT_EQ(Str(r, "event.dataset"), "system.syslog");
}

TEST(ParseSyslogTest, Rfc5424EscapesInStructuredDataValues) {
  const Record r = Parse(
      R"(<14>1 2024-02-08T12:30:45.123456+09:00 h app 42 - [a@1 q="say \"hi\"" b="x\]y" c="back\\slash" d="keep\n"] m)");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(r.time_ms, Ms("2024-02-08T03:30:45.123Z"));
  EXPECT_EQ(Str(r, "log.syslog.structured_data.a@1.q"), "say \"hi\"");
  EXPECT_EQ(Str(r, "log.syslog.structured_data.a@1.b"), "x]y");
  EXPECT_EQ(Str(r, "log.syslog.structured_data.a@1.c"), "back\\slash");
  EXPECT_EQ(Str(r, "log.syslog.structured_data.a@1.d"), "keep\\n");  // only \" \\ \] are escapes
  EXPECT_EQ(Str(r, "process.pid"), "42");
  EXPECT_EQ(Str(r, "message"), "m");
}

TEST(ParseSyslogTest, Rfc5424WithoutStructuredDataOrMessage) {
  Record r = Parse(
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
      "'su root' failed for lonvick on /dev/pts/8");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "log.syslog.structured_data"), "<absent>");
  EXPECT_EQ(Str(r, "message"), "'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(Str(r, "event.dataset"), "system.auth");
  EXPECT_EQ(Str(r, "log.level"), "critical");

  r = Parse("<34>1 - - - - - -");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, kReceived);  // NILVALUE time
  EXPECT_EQ(Str(r, "host.hostname"), "<absent>");
  EXPECT_EQ(Str(r, "message"), "");
}

TEST(ParseSyslogTest, Rfc5424RepeatedParamKeepsEveryValue) {
  const Record r = Parse(R"(<14>1 - h a - - [x@1 ip="1.1.1.1" ip="2.2.2.2"] m)");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "log.syslog.structured_data.x@1.ip"), R"(["1.1.1.1","2.2.2.2"])");
}

TEST(ParseSyslogTest, Rfc5424MalformedGivesPreciseErrors) {
  struct Case {
    std::string raw, error;
  };
  const Case cases[] = {
      {"<14>1 2024-13-01T00:00:00Z h a - - - m",
       "syslog: expected an RFC 3339 timestamp or \"-\" at byte 6, found \"2024-13-01T00:00:00Z\""},
      {"<14>1 - h a - - [x@1 k=\"v] m",
       "syslog: unterminated PARAM-VALUE of \"k\" in structured "
       "data (expected a closing '\"')"},
      {"<14>1 - h a - - [x@1 k=v] m",
       "syslog: expected PARAM-NAME=\"value\" in structured data element \"x@1\" at byte 21"},
      {"<14>1 - h a - - x m",
       "syslog: expected STRUCTURED-DATA (\"-\" or \"[...]\") at byte 16, "
       "found \"x m\""},
      {"<14>1 - h", "syslog: expected APP-NAME at byte 9 of the RFC 5424 header"},
      {"<999>hello",
       "syslog: expected a priority \"<0>\" to \"<191>\" at byte 0, found \"<999>h\""},
      {"hello world",
       "syslog: expected \"<PRI>\", an RFC 3164 timestamp (\"Mmm dd hh:mm:ss\") or an RFC 3339 "
       "timestamp at byte 0, found \"hello world\""},
  };
  for (const auto& c : cases) {
    const Record r = Parse(c.raw);
    EXPECT_FALSE(r.parsed) << c.raw;
    EXPECT_EQ(Str(r, "seccloud.soc.parse_error"), c.error) << c.raw;
    EXPECT_EQ(Str(r, "message"), c.raw);
    EXPECT_EQ(Str(r, "event.dataset"), "soc.unparsed");
    EXPECT_EQ(r.time_ms, kReceived);
  }
}

TEST(ParseSyslogTest, Rfc3164WithPri) {
  const Record r = Parse("<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, Ms("2025-10-11T22:14:15Z"));
  EXPECT_EQ(Str(r, "log.syslog.facility.name"), "auth");
  EXPECT_EQ(Str(r, "log.syslog.severity.name"), "critical");
  EXPECT_EQ(Str(r, "host.hostname"), "mymachine");
  EXPECT_EQ(Str(r, "process.name"), "su");
  EXPECT_EQ(Str(r, "process.pid"), "123");
  EXPECT_EQ(Str(r, "message"), "'su root' failed for lonvick");
}

TEST(ParseSyslogTest, Rfc3164SingleDigitDayPaddedWithTwoSpaces) {
  // Loghub Mac.
  const Record r = Parse(
      "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::"
      "listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, Ms("2025-07-01T09:00:55Z"));
  EXPECT_EQ(Str(r, "host.hostname"), "calvisitor-10-105-160-95");
  EXPECT_EQ(Str(r, "process.name"), "kernel");
  EXPECT_EQ(Str(r, "process.pid"), "0");
  EXPECT_EQ(Str(r, "log.syslog.priority"), "<absent>");
  EXPECT_EQ(Str(r, "event.dataset"), "system.syslog");
}

TEST(ParseSyslogTest, YearInferenceAcrossNewYear) {
  // A Dec 31 line received on Jan 1 is last year's.
  Record r = Parse("<13>Dec 31 23:59:58 h app: x", Ms("2026-01-01T00:00:05Z"));
  EXPECT_EQ(r.time_ms, Ms("2025-12-31T23:59:58Z"));
  // A sender whose clock is slightly ahead: Jan 1 received on Dec 31 is next year's.
  r = Parse("<13>Jan  1 00:00:03 h app: x", Ms("2025-12-31T23:59:59Z"));
  EXPECT_EQ(r.time_ms, Ms("2026-01-01T00:00:03Z"));
  // Months earlier in the year: this year, never months in the future.
  r = Parse("<13>Mar 17 10:00:00 h app: x", Ms("2025-11-26T00:00:00Z"));
  EXPECT_EQ(r.time_ms, Ms("2025-03-17T10:00:00Z"));
  // Feb 29 only exists in leap years.
  r = Parse("<13>Feb 29 12:00:00 h app: x", Ms("2025-03-01T00:00:00Z"));
  EXPECT_EQ(r.time_ms, Ms("2024-02-29T12:00:00Z"));
}

TEST(ParseSyslogTest, TimestampWithOffsetAndMilliseconds) {
  // rsyslog's RSYSLOG_FileFormat and high-precision 3164.
  Record r = Parse("2024-02-08T12:30:45.123456+01:00 web01 sshd[1]: Connection closed by 10.0.0.1");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, Ms("2024-02-08T11:30:45.123Z"));
  EXPECT_EQ(Str(r, "host.hostname"), "web01");
  r = Parse("<13>Mar 17 10:00:00.250 h app: x", Ms("2025-11-26T00:00:00Z"));
  EXPECT_EQ(r.time_ms, Ms("2025-03-17T10:00:00.250Z"));
  // Cisco-style explicit year.
  r = Parse("<13>Mar 17 2019 10:00:00 h app: x");
  EXPECT_EQ(r.time_ms, Ms("2019-03-17T10:00:00Z"));
}

TEST(ParseSyslogTest, PriWithoutTimestampKeepsTheRestAsMessage) {
  const Record r = Parse("<13>some device said this");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, kReceived);
  EXPECT_EQ(Str(r, "message"), "some device said this");
}

TEST(ParseSyslogTest, SshdFailedPasswordForInvalidUser) {
  // Loghub OpenSSH.
  const Record r = Parse(
      "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user webmaster from "
      "173.234.31.186 port 38926 ssh2");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "system.auth");
  EXPECT_EQ(Str(r, "event.category"), R"(["authentication"])");
  EXPECT_EQ(Str(r, "event.action"), "ssh_login");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "user.name"), "webmaster");
  EXPECT_EQ(Str(r, "source.ip"), "173.234.31.186");
  EXPECT_EQ(Str(r, "source.port"), "38926");
  EXPECT_EQ(Str(r, "process.name"), "sshd");
  EXPECT_EQ(Str(r, "process.pid"), "24200");
}

TEST(ParseSyslogTest, SshdAcceptedAndOtherMessages) {
  Record r = Parse(
      "<38>Feb  8 12:30:45 web01 sshd[77]: Accepted publickey for bob from "
      "2001:DB8:0::5 port 50000 ssh2: ED25519 SHA256:abc");
  EXPECT_EQ(Str(r, "event.action"), "ssh_login");
  EXPECT_EQ(Str(r, "event.outcome"), "success");
  EXPECT_EQ(Str(r, "user.name"), "bob");
  EXPECT_EQ(Str(r, "source.ip"), "2001:db8::5");  // normalised
  EXPECT_EQ(Str(r, "source.port"), "50000");

  r = Parse(
      "Feb  8 12:30:45 h sshd[77]: Failed keyboard-interactive/pam for root from 10.1.1.1 "
      "port 22 ssh2");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "user.name"), "root");

  r = Parse("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186");
  EXPECT_EQ(Str(r, "event.action"), "ssh_invalid_user");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "user.name"), "webmaster");
  EXPECT_EQ(Str(r, "source.ip"), "173.234.31.186");

  r = Parse("Feb  8 12:30:45 h sshd[77]: Disconnected from user alice 10.0.0.9 port 4242");
  EXPECT_EQ(Str(r, "event.category"), R"(["session"])");
  EXPECT_EQ(Str(r, "event.action"), "ssh_disconnected");
  EXPECT_EQ(Str(r, "user.name"), "alice");
  EXPECT_EQ(Str(r, "source.ip"), "10.0.0.9");
  EXPECT_EQ(Str(r, "source.port"), "4242");

  r = Parse(
      "Feb  8 12:30:45 h sshd[77]: Connection closed by authenticating user root "
      "10.0.0.9 port 4242 [preauth]");
  EXPECT_EQ(Str(r, "event.action"), "ssh_disconnected");
  EXPECT_EQ(Str(r, "user.name"), "root");
  EXPECT_EQ(Str(r, "source.port"), "4242");

  // Loghub OpenSSH.
  r = Parse(
      "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for "
      "ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!");
  EXPECT_EQ(Str(r, "event.action"), "ssh_possible_break_in");
  EXPECT_EQ(Str(r, "source.ip"), "173.234.31.186");
  EXPECT_EQ(Str(r, "source.domain"), "ns.marryaldkfaczcz.com");

  r = Parse(
      "Dec 10 11:03:40 LabSZ sshd[25448]: error: maximum authentication attempts exceeded "
      "for invalid user admin from 183.62.140.253 port 41262 ssh2 [preauth]");
  EXPECT_EQ(Str(r, "event.action"), "ssh_max_auth_attempts");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "user.name"), "admin");
  EXPECT_EQ(Str(r, "source.ip"), "183.62.140.253");

  r = Parse(
      "Feb  8 12:30:45 h sshd[77]: message repeated 2 times: [ Failed password for root "
      "from 10.9.9.9 port 2222 ssh2]");
  EXPECT_EQ(Str(r, "event.action"), "ssh_login");
  EXPECT_EQ(Str(r, "source.ip"), "10.9.9.9");

  // OpenSSH ≥ 9.8 logs from sshd-session.
  r = Parse(
      "Feb  8 12:30:45 h sshd-session[77]: Accepted password for eve from 10.0.0.3 port 1 ssh2");
  EXPECT_EQ(Str(r, "event.dataset"), "system.auth");
  EXPECT_EQ(Str(r, "event.outcome"), "success");
}

TEST(ParseSyslogTest, SshdUserNameHoldingFromTakesTheLastFrom) {
  // The address is after the last " from ", overlapping ones included (" from from ").
  Record r = Parse("Dec 10 06:55:46 LabSZ sshd[1]: Invalid user a from b from 10.0.0.7 port 22");
  EXPECT_EQ(Str(r, "user.name"), "a from b");
  EXPECT_EQ(Str(r, "source.ip"), "10.0.0.7");
  EXPECT_EQ(Str(r, "source.port"), "22");
  r = Parse("Dec 10 06:55:46 LabSZ sshd[1]: Invalid user x from from 10.0.0.8 port 23");
  EXPECT_EQ(Str(r, "user.name"), "x from");
  EXPECT_EQ(Str(r, "source.ip"), "10.0.0.8");
  r = Parse("Dec 10 06:55:46 LabSZ sshd[1]: Invalid user  from 10.0.0.9");
  EXPECT_EQ(Str(r, "user.name"), "<absent>");
  EXPECT_EQ(Str(r, "source.ip"), "10.0.0.9");
  r = Parse("Dec 10 06:55:46 LabSZ sshd[1]: Invalid user nobody");
  EXPECT_EQ(Str(r, "user.name"), "<absent>");
  EXPECT_EQ(Str(r, "event.action"), "ssh_invalid_user");
}

TEST(ParseSyslogTest, MonthNamesInAnyCase) {
  static constexpr const char* kMonths[] = {"Jan", "feb", "MAR", "aPr", "May", "JUN",
                                            "jul", "Aug", "sEP", "Oct", "nov", "DEC"};
  for (int m = 0; m < 12; ++m) {
    const Record r = Parse(std::string(kMonths[m]) + " 10 06:55:46 2024 host app: x");
    ASSERT_TRUE(r.parsed) << kMonths[m];
    char want[32];
    std::snprintf(want, sizeof(want), "2024-%02d-10T06:55:46Z", m + 1);
    EXPECT_EQ(r.time_ms, Ms(want)) << kMonths[m];
  }
  // Not months: a non-letter where a letter should be, short or non-ASCII text.
  for (const char* bad :
       {"J@n 10 06:55:46 2024 host app: x", "Jn 10 06:55:46 2024 host app: x",
        "J\xC3\xA1n 10 06:55:46 2024 host app: x", "\x4a\x81\x4e 10 06:55:46 2024 host app: x"}) {
    const Record r = Parse(bad);
    EXPECT_FALSE(r.parsed) << bad;
  }
}

TEST(ParseSyslogTest, PamUnixAuthenticationFailureAndSessions) {
  // Loghub Linux.
  Record r = Parse(
      "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; "
      "logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ");
  EXPECT_EQ(Str(r, "event.dataset"), "system.auth");
  EXPECT_EQ(Str(r, "process.name"), "sshd");
  EXPECT_EQ(Str(r, "log.syslog.appname"), "sshd(pam_unix)");
  EXPECT_EQ(Str(r, "event.action"), "ssh_login");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "source.ip"), "218.188.2.4");
  EXPECT_EQ(Str(r, "user.name"), "<absent>");

  r = Parse(
      "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= "
      "uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root");
  EXPECT_EQ(Str(r, "user.name"), "root");
  EXPECT_EQ(Str(r, "source.domain"), "220-135-151-1.hinet-ip.hinet.net");
  EXPECT_EQ(Str(r, "source.ip"), "<absent>");

  r = Parse("Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)");
  EXPECT_EQ(Str(r, "event.category"), R"(["session"])");
  EXPECT_EQ(Str(r, "event.action"), "session_opened");
  EXPECT_EQ(Str(r, "user.name"), "cyrus");

  r = Parse("Feb  8 12:30:45 h sshd[9]: pam_unix(sshd:session): session closed for user alice");
  EXPECT_EQ(Str(r, "event.action"), "session_closed");
  EXPECT_EQ(Str(r, "user.name"), "alice");

  r = Parse(
      "Feb  8 12:30:45 h login[9]: pam_unix(login:session): session opened for user "
      "bob(uid=1000) by LOGIN(uid=0)");
  EXPECT_EQ(Str(r, "event.action"), "session_opened");
  EXPECT_EQ(Str(r, "user.name"), "bob");
}

TEST(ParseSyslogTest, Sudo) {
  Record r = Parse(
      "Mar  3 10:00:00 host sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; "
      "USER=root ; COMMAND=/usr/bin/id");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "system.auth");
  EXPECT_EQ(Str(r, "event.action"), "sudo");
  EXPECT_EQ(Str(r, "event.outcome"), "success");
  EXPECT_EQ(Str(r, "user.name"), "alice");
  EXPECT_EQ(Str(r, "user.effective.name"), "root");
  EXPECT_EQ(Str(r, "process.command_line"), "/usr/bin/id");
  EXPECT_EQ(Str(r, "process.working_directory"), "/home/alice");

  r = Parse(
      "Mar  3 10:00:00 host sudo: alice : 3 incorrect password attempts ; TTY=pts/0 ; "
      "PWD=/home/alice ; USER=root ; COMMAND=/bin/sh -c 'a ; b'");
  EXPECT_EQ(Str(r, "event.action"), "sudo");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "event.reason"), "3 incorrect password attempts");
  EXPECT_EQ(Str(r, "process.command_line"), "/bin/sh -c 'a ; b'");

  r = Parse(
      "Mar  3 10:00:00 host sudo: pam_unix(sudo:auth): authentication failure; logname=alice "
      "uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice");
  EXPECT_EQ(Str(r, "event.action"), "sudo");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "user.name"), "alice");
}

TEST(ParseSyslogTest, SuAndLogin) {
  Record r = Parse("Mar  3 10:00:00 host su[5]: (to root) alice on pts/0");
  EXPECT_EQ(Str(r, "event.action"), "su");
  EXPECT_EQ(Str(r, "event.outcome"), "success");
  EXPECT_EQ(Str(r, "user.name"), "alice");
  EXPECT_EQ(Str(r, "user.effective.name"), "root");

  r = Parse("Mar  3 10:00:00 host su[5]: FAILED SU (to root) mallory on pts/1");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "user.name"), "mallory");

  r = Parse("Mar  3 10:00:00 host su[5]: FAILED su for root by mallory");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "user.effective.name"), "root");

  r = Parse(
      "Mar  3 10:00:00 host login[5]: FAILED LOGIN (1) on '/dev/tty1' FROM 'x' FOR 'root', "
      "Authentication failure");
  EXPECT_EQ(Str(r, "event.action"), "login");
  EXPECT_EQ(Str(r, "event.outcome"), "failure");
  EXPECT_EQ(Str(r, "user.name"), "root");
}

TEST(ParseSyslogTest, OtherProgramsAreSystemSyslog) {
  const Record r = Parse("Jun 15 04:06:20 combo logrotate: ALERT exited abnormally with [1]");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "system.syslog");
  EXPECT_EQ(Str(r, "process.name"), "logrotate");
  EXPECT_EQ(Str(r, "event.action"), "<absent>");
  EXPECT_EQ(Str(r, "message"), "ALERT exited abnormally with [1]");
}

TEST(ParseSyslogTest, KernelNetfilterDrop) {
  const Record r = Parse(
      "<4>Mar  3 10:00:00 fw1 kernel: [12345.678] DROP-IN: IN=eth0 OUT= "
      "MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 "
      "PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=1234 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "firewall.flow");
  EXPECT_EQ(Str(r, "rule.name"), "DROP-IN");
  EXPECT_EQ(Str(r, "event.action"), "denied");
  EXPECT_EQ(Str(r, "source.ip"), "1.2.3.4");
  EXPECT_EQ(Str(r, "destination.ip"), "5.6.7.8");
  EXPECT_EQ(Str(r, "source.port"), "1234");
  EXPECT_EQ(Str(r, "destination.port"), "22");
  EXPECT_EQ(Str(r, "network.transport"), "tcp");
  EXPECT_EQ(Str(r, "network.bytes"), "60");
  EXPECT_EQ(Str(r, "observer.ingress.interface.name"), "eth0");
  EXPECT_EQ(Str(r, "observer.egress.interface.name"), "<absent>");
}

TEST(ParseSyslogTest, KernelNetfilterIpv6IcmpAndActions) {
  Record r = Parse(
      "Mar  3 10:00:00 fw1 kernel: [UFW ALLOW] IN=eth0 OUT=eth1 SRC=2001:DB8:0:0::1 "
      "DST=2001:db8::2 LEN=104 PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=1");
  EXPECT_EQ(Str(r, "event.dataset"), "firewall.flow");
  EXPECT_EQ(Str(r, "event.action"), "allowed");
  EXPECT_EQ(Str(r, "rule.name"), "[UFW ALLOW]");
  EXPECT_EQ(Str(r, "source.ip"), "2001:db8::1");
  EXPECT_EQ(Str(r, "network.transport"), "ipv6-icmp");
  EXPECT_EQ(Str(r, "network.type"), "ipv6");
  EXPECT_EQ(Str(r, "iptables.icmp.type"), "128");
  EXPECT_EQ(Str(r, "iptables.icmp.code"), "0");
  EXPECT_EQ(Str(r, "observer.egress.interface.name"), "eth1");

  r = Parse(
      "Mar  3 10:00:00 fw1 kernel: nft-reject IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=28 "
      "PROTO=UDP SPT=53 DPT=5353 LEN=8");
  EXPECT_EQ(Str(r, "event.action"), "denied");
  EXPECT_EQ(Str(r, "network.bytes"), "28");  // the IP length, not the UDP one
  EXPECT_EQ(Str(r, "network.transport"), "udp");

  r = Parse(
      "Mar  3 10:00:00 fw1 kernel: Pass-Out IN= OUT=eth0 SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP");
  EXPECT_EQ(Str(r, "event.action"), "allowed");

  r = Parse("Mar  3 10:00:00 fw1 kernel: audit IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP");
  EXPECT_EQ(Str(r, "event.action"), "logged");

  r = Parse("Mar  3 10:00:00 fw1 kernel: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP");
  EXPECT_EQ(Str(r, "rule.name"), "<absent>");
  EXPECT_EQ(Str(r, "event.action"), "logged");
}

TEST(ParseSyslogTest, StructuredDataIsBounded) {
  std::string raw = "<14>1 - h a - - ";
  for (int i = 0; i < 200; ++i) raw += "[e" + std::to_string(i) + " k=\"v\"]";
  raw += " msg";
  const Record r = Parse(raw);
  ASSERT_TRUE(r.parsed);
  const auto* sd = FindField(r.fields(), "log.syslog.structured_data");
  ASSERT_NE(sd, nullptr);
  EXPECT_EQ(sd->as_object().size(), kMaxStructuredDataElements);
  EXPECT_EQ(Str(r, "message"), "msg");
}

}  // namespace
}  // namespace seccloud::soc

namespace seccloud::soc {
namespace {

TEST(ParseSyslogTest, NginxAccessLogOverSyslogKeepsTheWebFields) {
  const Record r = Parse(
      "<190>Nov 26 04:00:00 web1 nginx: 10.1.2.3 - - [26/Nov/2025:04:00:00 +0900] \"GET "
      "/login.php?x=1 HTTP/1.1\" 404 153 \"-\" \"sqlmap/1.7\"");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(Str(r, "event.dataset"), "web.access");
  EXPECT_EQ(Str(r, "host.hostname"), "web1");
  EXPECT_EQ(Str(r, "process.name"), "nginx");
  EXPECT_EQ(Str(r, "source.ip"), "10.1.2.3");
  EXPECT_EQ(Str(r, "http.response.status_code"), "404");
  EXPECT_EQ(Str(r, "user_agent.original"), "sqlmap/1.7");
  EXPECT_EQ(Str(r, "log.syslog.facility.code"), "23");
  EXPECT_EQ(FormatTimeMs(r.time_ms), "2025-11-25T19:00:00.000Z");  // the line's own zone
  // An ordinary message from the same program stays a syslog record.
  const Record plain = Parse("<190>Nov 26 04:00:00 web1 nginx: worker process 42 exited");
  EXPECT_EQ(Str(plain, "event.dataset"), "system.syslog");
}

}  // namespace
}  // namespace seccloud::soc
