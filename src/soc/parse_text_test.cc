// Other text (R18): the timestamp and level sniffer, on one line of each Loghub sample
// (logpai/loghub, used with attribution).
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>

#include "soc/parse.h"
#include "soc/parse_testing.h"

namespace seccloud::soc {
namespace {

using parse_testing::kReceived;
using parse_testing::ParseAs;
using parse_testing::Str;

Record Parse(std::string raw) {
  return ParseAs(Format::kText, std::move(raw), "file:/var/log/app.log");
}

struct Sample {
  const char* name;
  const char* line;
  const char* time;     // expected @timestamp
  const char* level;    // expected log.level or "<absent>"
  const char* message;  // expected message
};

TEST(ParseTextTest, LoghubShapes) {
  const Sample samples[] = {
      {"HDFS",
       "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
       "blk_38865049064139660 terminating",
       "2008-11-09T20:36:15.000Z", "info",
       "dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 "
       "terminating"},
      {"Hadoop",
       "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: "
       "Created MRAppMaster for application appattempt_1445144423722_0020_000001",
       "2015-10-18T18:01:47.978Z", "info",
       "[main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for "
       "application appattempt_1445144423722_0020_000001"},
      {"Spark",
       "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal "
       "handlers for [TERM, HUP, INT]",
       "2017-06-09T20:10:40.000Z", "info",
       "executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]"},
      {"Zookeeper",
       "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:"
       "FastLeaderElection@774] - Notification time out: 3200",
       "2015-07-29T17:41:44.747Z", "info",
       "[QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time "
       "out: 3200"},
      {"BGL",
       "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
       "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
       "2005-06-03T22:42:50.000Z", "info", "instruction cache parity error corrected"},
      {"HPC",
       "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: "
       "Component \\042alt0\\042 is in the unavailable state (HWID=1973)",
       "2004-02-26T14:12:22.000Z", "<absent>",
       "1 Component State Change: Component \\042alt0\\042 is in the unavailable state "
       "(HWID=1973)"},
      {"Thunderbird",
       "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session "
       "closed for user root",
       "2005-11-09T20:01:01.000Z", "<absent>",
       "2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for "
       "user root"},
      {"Windows",
       "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505 "
       "with Core: C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack\\cbscore.dll",
       "2016-09-28T04:30:30.000Z", "info",
       "CBS    Loaded Servicing Stack v6.1.7601.23505 with Core: "
       "C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack\\cbscore.dll"},
      {"Android",
       "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogsopening app "
       "wtoken = AppWindowToken{9f4ef63 token=Token{a64f992 ActivityRecord{de9231d u0 "
       "com.tencent.qt.qtl/.activity.info.NewsDetailXmlActivity t761}}}, allDrawn= false",
       "2025-03-17T16:13:38.811Z", "debug",
       "WindowManager: printFreezingDisplayLogsopening app wtoken = AppWindowToken{9f4ef63 "
       "token=Token{a64f992 ActivityRecord{de9231d u0 "
       "com.tencent.qt.qtl/.activity.info.NewsDetailXmlActivity t761}}}, allDrawn= false"},
      {"HealthApp", "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
       "2017-12-23T22:15:29.606Z", "<absent>", "Step_LSC|30002312|onStandStepChanged 3579"},
      {"Mac",
       "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::"
       "listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0",
       "2025-07-01T09:00:55.000Z", "<absent>",
       "calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - "
       "Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0"},
      {"OpenStack",
       "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO "
       "nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae] 10.11.10.1 "
       "\"GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1\" status: 200",
       "2017-05-16T00:00:00.008Z", "info",
       "nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae] 10.11.10.1 "
       "\"GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1\" status: 200"},
      {"Proxifier",
       "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy "
       "proxy.cse.cuhk.edu.hk:5070 HTTPS",
       "2025-10-30T16:49:06.000Z", "<absent>",
       "chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 "
       "HTTPS"},
      {"Apache (as text)",
       "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok "
       "/etc/httpd/conf/workers2.properties",
       "2005-12-04T04:47:44.000Z", "notice",
       "workerEnv.init() ok /etc/httpd/conf/workers2.properties"},
  };
  for (const Sample& s : samples) {
    SCOPED_TRACE(s.name);
    const Record r = Parse(s.line);
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(Str(r, "@timestamp"), s.time);
    EXPECT_EQ(Str(r, "log.level"), s.level);
    EXPECT_EQ(Str(r, "message"), s.message);
    EXPECT_EQ(Str(r, "event.dataset"), "text");
  }
}

TEST(ParseTextTest, PidAndThreadBeforeLevel) {
  const Record r = Parse("03-17 16:13:38.811  1702  2395 E ActivityManager: boom");
  EXPECT_EQ(Str(r, "process.pid"), "1702");
  EXPECT_EQ(Str(r, "process.thread.id"), "2395");
  EXPECT_EQ(Str(r, "log.level"), "error");
}

TEST(ParseTextTest, LevelWordsInAnyCaseAndBrackets) {
  EXPECT_EQ(Str(Parse("2024-01-02T03:04:05Z [WARNING] disk almost full"), "log.level"), "warning");
  EXPECT_EQ(Str(Parse("2024-01-02T03:04:05Z <Error>: x"), "log.level"), "error");
  EXPECT_EQ(Str(Parse("2024-01-02 03:04:05.123 fatal: y"), "log.level"), "fatal");
  EXPECT_EQ(Str(Parse("2024/01/02 03:04:05 CRITICAL z"), "log.level"), "critical");
  // Not a level: a user called "info" far into the line.
  EXPECT_EQ(Str(Parse("2024/01/02 03:04:05 session 7 of the quick brown fox jumps over user info"),
                "log.level"),
            "<absent>");
}

TEST(ParseTextTest, TimeZoneOnlyWhenGiven) {
  EXPECT_EQ(Str(Parse("2024-01-02T03:04:05+09:00 x"), "@timestamp"), "2024-01-01T18:04:05.000Z");
  EXPECT_EQ(Str(Parse("2024-01-02 03:04:05 x"), "@timestamp"), "2024-01-02T03:04:05.000Z");
}

TEST(ParseTextTest, LineWithoutTimeIsStillParsed) {
  const Record r = Parse("java.lang.NullPointerException: at Foo.bar(Foo.java:42)");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, kReceived);
  EXPECT_EQ(Str(r, "message"), "java.lang.NullPointerException: at Foo.bar(Foo.java:42)");
  EXPECT_EQ(Str(r, "log.level"), "<absent>");
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"), "<absent>");
}

}  // namespace
}  // namespace seccloud::soc
