#include "soc/winlog.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "soc/parse_internal.h"
#include "soc/parse_testing.h"

namespace seccloud::soc {
namespace {

using parse_testing::Str;

Record Normalize(const std::string& raw) {
  Record r;
  r.format = Format::kWindowsEvent;
  r.raw = raw;
  r.received_ms = 1'700'000'000'000;
  r.source = "wef";
  r.tenant = "acme";
  NormalizeWindowsEvent(r);
  return r;
}

// The same without the overlay (an evtx event read from the tape, its fields built as a tree),
// for the tests of how that tree is built.
Record NormalizeToTree(const std::string& raw) {
  Record r;
  r.format = Format::kWindowsEvent;
  r.raw = raw;
  r.received_ms = 1'700'000'000'000;
  r.source = "wef";
  r.tenant = "acme";
  internal::NormalizeWindowsEventWithPeer(r, /*overlay_allowed=*/false);
  return r;
}

constexpr const char* kSysmon = R"({"Event":{"#attributes":{"xmlns":"x"},"System":{
  "Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"{5770385F}"}},
  "EventID":1,"Level":4,"TimeCreated":{"#attributes":{"SystemTime":"2025-12-03T07:42:38.210937Z"}},
  "EventRecordID":26765,"Execution":{"#attributes":{"ProcessID":3116,"ThreadID":1656}},
  "Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws1.corp",
  "Security":{"#attributes":{"UserID":"S-1-5-18"}}},
  "EventData":{"Image":"C:\\Windows\\cmd.exe","CommandLine":"cmd /c whoami","ProcessId":9720,
  "ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\bob","RuleName":"-"}}})";

TEST(WinlogTest, EvtxJsonShape) {
  Record r = Normalize(kSysmon);
  ASSERT_TRUE(r.parsed) << boost::json::serialize(r.fields());
  EXPECT_EQ(r.time_ms, 1764747758210);  // .210937 truncated to .210
  EXPECT_EQ(Str(r, "@timestamp"), "2025-12-03T07:42:38.210Z");
  EXPECT_EQ(Str(r, "event.dataset"), "windows.sysmon");
  EXPECT_EQ(Str(r, "event.ingested"), FormatTimeMs(1'700'000'000'000));
  EXPECT_EQ(Str(r, "seccloud.soc.source"), "wef");
  EXPECT_EQ(Str(r, "seccloud.soc.format"), "windows-event");
  EXPECT_EQ(Str(r, "tenant.id"), "acme");
  EXPECT_EQ(Str(r, "winlog.event_id"), "1");
  EXPECT_TRUE(FindField(r.fields(), "winlog.event_id")->is_int64());
  EXPECT_EQ(Str(r, "event.code"), "1");
  EXPECT_EQ(Str(r, "winlog.channel"), "Microsoft-Windows-Sysmon/Operational");
  EXPECT_EQ(Str(r, "winlog.provider_name"), "Microsoft-Windows-Sysmon");
  EXPECT_EQ(Str(r, "winlog.provider_guid"), "{5770385F}");
  EXPECT_EQ(Str(r, "winlog.record_id"), "26765");
  EXPECT_EQ(Str(r, "winlog.computer_name"), "ws1.corp");
  EXPECT_EQ(Str(r, "host.name"), "ws1.corp");
  EXPECT_EQ(Str(r, "winlog.process.pid"), "3116");
  EXPECT_EQ(Str(r, "winlog.user.identifier"), "S-1-5-18");
  EXPECT_EQ(Str(r, "winlog.event_data.Image"), "C:\\Windows\\cmd.exe");
  EXPECT_EQ(Str(r, "winlog.event_data.ProcessId"), "9720");  // a number stays a number
  EXPECT_TRUE(FindField(r.fields(), "winlog.event_data.ProcessId")->is_int64());
  EXPECT_EQ(Str(r, "process.executable"), "C:\\Windows\\cmd.exe");
  EXPECT_EQ(Str(r, "process.command_line"), "cmd /c whoami");
  EXPECT_EQ(Str(r, "process.parent.executable"), "C:\\Windows\\explorer.exe");
  EXPECT_EQ(Str(r, "user.name"), "CORP\\bob");
}

TEST(WinlogTest, DataArrayAndSingleDataAndUnnamed) {
  Record r =
      Normalize(R"({"Event":{"System":{"EventID":{"#text":"4625","#attributes":{"Qualifiers":""}},
    "Channel":"Security","Computer":"dc1"},
    "EventData":{"Data":[{"#attributes":{"Name":"TargetUserName"},"#text":"admin"},
                         {"#attributes":{"Name":"IpAddress"},"#text":"10.1.2.3"},
                         {"#attributes":{"Name":"Empty"}}]}}})");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "windows.security");
  EXPECT_EQ(Str(r, "winlog.event_id"), "4625");
  EXPECT_EQ(Str(r, "winlog.event_data.TargetUserName"), "admin");
  EXPECT_EQ(Str(r, "winlog.event_data.Empty"), "");
  EXPECT_EQ(Str(r, "user.name"), "admin");
  EXPECT_EQ(Str(r, "source.ip"), "10.1.2.3");
  EXPECT_EQ(r.time_ms, r.received_ms);  // no TimeCreated

  Record one = Normalize(R"({"Event":{"System":{"EventID":7036,"Channel":"System"},
    "EventData":{"Data":{"#attributes":{"Name":"param1"},"#text":"Spooler"}}}})");
  ASSERT_TRUE(one.parsed);
  EXPECT_EQ(Str(one, "winlog.event_data.param1"), "Spooler");
  EXPECT_EQ(Str(one, "event.dataset"), "windows.system");

  Record unnamed = Normalize(R"({"Event":{"System":{"EventID":1,"Channel":"Application"},
    "EventData":{"Data":["a","b"]}}})");
  ASSERT_TRUE(unnamed.parsed);
  EXPECT_EQ(Str(unnamed, "winlog.event_data.param2"), "b");
  EXPECT_EQ(Str(unnamed, "event.dataset"), "windows.application");
}

TEST(WinlogTest, UserData) {
  Record r = Normalize(R"({"Event":{"System":{"EventID":5858,
    "Channel":"Microsoft-Windows-WMI-Activity/Operational"},
    "UserData":{"Operation_ClientFailure":{"#attributes":{"xmlns":"x"},"Operation":"Start","ResultCode":"0x80041003"}}}})");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "winlog.event_data.Operation"), "Start");
  EXPECT_EQ(Str(r, "event.dataset"), "windows.event");
}

TEST(WinlogTest, WinlogbeatShape) {
  Record r =
      Normalize(R"({"@timestamp":"2024-05-01T10:00:00.123Z","message":"An account failed to log on",
    "event":{"code":"4625"},"host":{"name":"dc1"},
    "winlog":{"channel":"Security","event_id":4625,"provider_name":"Microsoft-Windows-Security-Auditing",
              "record_id":99,"computer_name":"dc1.corp","process":{"pid":4},
              "event_data":{"TargetUserName":"bob","IpAddress":"192.0.2.7"}}})");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(r.time_ms, 1714557600123);
  EXPECT_EQ(Str(r, "winlog.event_id"), "4625");
  EXPECT_EQ(Str(r, "host.name"), "dc1.corp");
  EXPECT_EQ(Str(r, "winlog.process.pid"), "4");
  EXPECT_EQ(Str(r, "source.ip"), "192.0.2.7");
  EXPECT_EQ(Str(r, "message"), "An account failed to log on");
  EXPECT_EQ(Str(r, "event.dataset"), "windows.security");
}

TEST(WinlogTest, PowerShellChannels) {
  for (const char* ch : {"Microsoft-Windows-PowerShell/Operational", "Windows PowerShell"}) {
    Record r = Normalize(std::string(R"({"Event":{"System":{"EventID":4104,"Channel":")") + ch +
                         R"("},"EventData":null}})");
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(Str(r, "event.dataset"), "windows.powershell");
  }
}

TEST(WinlogTest, BadInputGetsPreciseErrors) {
  struct Case {
    std::string raw;
    std::string error_part;
  } cases[] = {
      {"not json", "not a JSON document"},
      {"[1,2]", "top level is not an object"},
      {R"({"foo":1})", "neither Event.System"},
      {R"({"Event":3})", "\"Event\" is not an object"},
      {R"({"Event":{"System":{"Channel":"Security"}}})", "EventID is missing"},
      {R"({"Event":{"System":{"EventID":"x"}}})", "not an integer"},
      {R"({"Event":{"System":{"EventID":1},"EventData":[1]}})", "EventData is neither"},
      {std::string(100, '[') + std::string(100, ']'), "not a JSON document"},
  };
  for (const auto& c : cases) {
    Record r = Normalize(c.raw);
    EXPECT_FALSE(r.parsed) << c.raw;
    EXPECT_NE(Str(r, "seccloud.soc.parse_error").find(c.error_part), std::string::npos)
        << c.raw << " → " << Str(r, "seccloud.soc.parse_error");
    EXPECT_EQ(Str(r, "event.dataset"), "windows.event");
    EXPECT_EQ(r.time_ms, r.received_ms);
    EXPECT_EQ(Str(r, "seccloud.soc.format"), "windows-event");
  }
}

TEST(WinlogTest, TooManyFieldsIsAnError) {
  std::string raw = R"({"Event":{"System":{"EventID":1},"EventData":{)";
  for (size_t i = 0; i <= kMaxWinlogFields; ++i) {
    if (i) raw += ',';
    raw += "\"f" + std::to_string(i) + "\":1";
  }
  raw += "}}}";
  Record r = Normalize(raw);
  EXPECT_FALSE(r.parsed);
  EXPECT_NE(Str(r, "seccloud.soc.parse_error").find("more than 1000"), std::string::npos);
}

// An EventData object of scalars is moved into the fields whole; one with an "#attributes"
// member (skipped) goes item by item: both must give the same record, member order included.
TEST(WinlogTest, EventDataTakenWholeEqualsItemByItem) {
  std::string thousand;
  for (size_t i = 0; i < kMaxWinlogFields; ++i) {
    if (i) thousand += ',';
    thousand += "\"f" + std::to_string(i) + "\":" + std::to_string(i);
  }
  const std::string bodies[] = {
      R"("Image":"C:\\x.exe","CommandLine":"a b","ProcessId":9720,"User":"-","IpAddress":"::1")",
      R"("s":"","n":null,"t":true,"f":false,"d":1.5,"neg":-3,"big":18446744073709551615)",
      R"("A":"1","B":"2","A":"3")",  // a duplicate: the parser's choice
      R"("\u65e5\u672c":"\u8a9e","esc":"a\"b\\c\n","long":"a longer value than fourteen")",
      R"("SourceIp":"10.0.0.1","DestinationIp":"fe80::1","DestinationPort":443)",
      "",  // an empty EventData
      thousand,
  };
  for (const std::string& body : bodies) {
    const std::string sep = body.empty() ? "" : ",";
    // A scalar: only the member's name keeps the object from being taken whole.
    const std::string attrs = R"("#attributes":"x")";
    const std::pair<std::string, std::string> shapes[] = {
        {R"({"Event":{"System":{"EventID":4688,"Channel":"Security"},"EventData":{)" + body + "}}}",
         R"({"Event":{"System":{"EventID":4688,"Channel":"Security"},"EventData":{)" + body + sep +
             attrs + "}}}"},
        {R"({"winlog":{"event_id":1,"channel":"System","event_data":{)" + body + "}}}",
         R"({"winlog":{"event_id":1,"channel":"System","event_data":{)" + body + sep + attrs +
             "}}}"},
    };
    for (const auto& [whole, items] : shapes) {
      const Record a = Normalize(whole);
      const Record b = Normalize(items);
      ASSERT_TRUE(a.parsed) << whole.substr(0, 200) << " " << Str(a, "seccloud.soc.parse_error");
      EXPECT_EQ(boost::json::serialize(a.fields()), boost::json::serialize(b.fields()))
          << whole.substr(0, 200);
      EXPECT_EQ(a.time_ms, b.time_ms);
      EXPECT_EQ(a.parsed, b.parsed);
    }
  }
  // An event past 8 KiB is parsed in scratch and copied item by item: the same fields as the
  // same event kept small (System's unknown members are not read).
  for (const std::string& body : bodies) {
    const std::string head = R"({"Event":{"System":{"EventID":4688,"Channel":"Security")";
    const std::string tail = R"(},"EventData":{)" + body + "}}}";
    const std::string pad = R"(,"Padding":")" + std::string(9000, 'p') + "\"";
    const Record small = Normalize(head + tail);
    const Record large = Normalize(head + pad + tail);
    ASSERT_GT(large.raw.size(), size_t{8} << 10);
    EXPECT_EQ(boost::json::serialize(small.fields()), boost::json::serialize(large.fields()));
  }
  // The ECS copies read the taken object.
  const Record r = Normalize(R"({"Event":{"System":{"EventID":1},"EventData":{"Image":"i.exe"}}})");
  EXPECT_EQ(Str(r, "process.executable"), "i.exe");
  EXPECT_EQ(Str(r, "winlog.event_data.Image"), "i.exe");
}

// The whole-take fast path really ran: Boost.JSON's parser sizes an object for every member it
// read, duplicates included, so the parsed {"A":"1","B":"2","A":"3"} has capacity 3 and size 2;
// taken whole, winlog.event_data keeps that table, where the item-by-item copy (an event past
// kWinlogArenaDocBytes, parsed in scratch) reserves the 2 members it copies.
TEST(WinlogTest, EventDataFastPathKeepsTheParsedTable) {
  const std::string head = R"({"Event":{"System":{"EventID":4688,"Channel":"Security")";
  const std::string tail = R"(},"EventData":{"A":"1","B":"2","A":"3"}}})";
  const std::string pad = R"(,"Padding":")" + std::string(9000, 'p') + "\"";
  const Record taken = NormalizeToTree(head + tail);
  const Record copied = NormalizeToTree(head + pad + tail);
  // Normalize keeps the first as an overlay (its tree replayed on demand), the same fields.
  Record kept = Normalize(head + tail);
  ASSERT_TRUE(kept.fields_pending());
  EXPECT_EQ(boost::json::serialize(kept.fields()), boost::json::serialize(taken.fields()));
  ASSERT_GT(copied.raw.size(), internal::kWinlogArenaDocBytes);
  const auto* a = FindField(taken.fields(), "winlog.event_data");
  const auto* b = FindField(copied.fields(), "winlog.event_data");
  ASSERT_TRUE(a != nullptr && a->is_object()) << boost::json::serialize(taken.fields());
  ASSERT_TRUE(b != nullptr && b->is_object()) << boost::json::serialize(copied.fields());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->as_object().size(), 2u);
  EXPECT_EQ(a->as_object().capacity(), 3u) << "EventData was not taken whole";
  EXPECT_EQ(b->as_object().capacity(), 2u);
}

// Record::MemoryBytes counts what Normalize built, not only raw: a hostile event of ~8 KiB (its
// document parsed in the record's arena, an array of zeros in a key nobody reads) holds >= 10x
// its raw size; a usual event a few KiB.
TEST(WinlogTest, MemoryBytesCountsTheFieldArena) {
  // EventData is built as a tree in the arena (16+ bytes per value of this array of zeros) and
  // kept there unused when it is not taken whole (an array item is kept as its JSON text).
  std::string hostile = R"({"Event":{"System":{"EventID":4624,"Channel":"Security"},)"
                        R"("EventData":{"A":"1","Unused":[0)";
  while (hostile.size() + 6 <= internal::kWinlogArenaDocBytes) hostile += ",0";
  hostile += "]}}}";
  ASSERT_LE(hostile.size(), internal::kWinlogArenaDocBytes);
  ASSERT_GT(hostile.size(), internal::kWinlogArenaDocBytes - 8);
  const Record big = Normalize(hostile);
  ASSERT_TRUE(big.parsed) << Str(big, "seccloud.soc.parse_error");
  EXPECT_GE(big.MemoryBytes(), 10 * big.raw.size()) << big.MemoryBytes();
  // More than the first block (2,560 + 5 x raw): the blocks the arena added are counted.
  EXPECT_GT(big.MemoryBytes(), sizeof(Record) + big.raw.capacity() + 2560 + 5 * big.raw.size());

  // The same array in a key the normaliser does not read: the document is read from a tape and
  // never built: the record keeps less than the 10 x raw the tree of it took (the arena's first
  // block, 2,560 + 5 x raw, and the record's own bytes).
  std::string unused = R"({"Event":{"System":{"EventID":4624,"Channel":"Security"},)"
                       R"("EventData":{"A":"1"}},"Unused":[0)";
  while (unused.size() + 4 <= internal::kWinlogArenaDocBytes) unused += ",0";
  unused += "]}";
  const Record lean = Normalize(unused);
  ASSERT_TRUE(lean.parsed) << Str(lean, "seccloud.soc.parse_error");
  EXPECT_LT(lean.MemoryBytes(), 10 * lean.raw.size()) << lean.MemoryBytes();

  // The tree path's arena: a first block of 2,560 + 5 x raw. The overlay's is its exact size
  // (record.cc, UseOverlayArena): counted, and no larger.
  const Record small_tree = NormalizeToTree(kSysmon);
  ASSERT_TRUE(small_tree.parsed);
  EXPECT_GE(small_tree.MemoryBytes(),
            sizeof(Record) + small_tree.raw.capacity() + 2560 + 5 * small_tree.raw.size());
  EXPECT_LE(small_tree.MemoryBytes(), size_t{16} << 10) << small_tree.MemoryBytes();
  const Record small = Normalize(kSysmon);
  ASSERT_TRUE(small.parsed);
  ASSERT_TRUE(small.fields_pending());
  EXPECT_GT(small.MemoryBytes(), sizeof(Record) + small.raw.capacity() +
                                     small.pending_fields()->overlay_size * sizeof(OverlayEntry));
  EXPECT_LE(small.MemoryBytes(), small_tree.MemoryBytes());

  // A move takes the arena and its count along; a copy's fields are on the default heap (not
  // counted), and a record never normalised holds its raw text only.
  Record moved = Normalize(hostile);
  const size_t before = moved.MemoryBytes();
  const Record now(std::move(moved));
  EXPECT_EQ(now.MemoryBytes(), before);
  const Record copy(now);  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.MemoryBytes(), sizeof(Record) + copy.raw.capacity());
  Record bare;
  bare.raw = hostile;
  EXPECT_EQ(bare.MemoryBytes(), sizeof(Record) + bare.raw.capacity());
}

// The tape path (the usual evtx shape read without building the document) against the tree path
// every document took before: the same fields, member order included, on shapes that exercise each
// lookup — duplicate keys (the last one's value), elements with and without #text, values of
// every kind where the mapping copies "any value", escapes, EventData and UserData in each shape,
// and the errors.
TEST(WinlogTest, TapePathMatchesTreePath) {
  const std::string docs[] = {
      kSysmon,
      R"({"System":{"EventID":4625,"Channel":"Security"},"EventData":{"TargetUserName":"x"}})",
      R"({"Event":{"System":{"EventID":1,"EventID":{"#text":"7"},"Channel":"A","Channel":"System"},)"
      R"("EventData":{"A":1,"A":2,"B":null}}})",
      R"({"Event":{"System":{"EventID":{"#attributes":{"Q":"0"},"#text":42},)"
      R"("EventRecordID":{"#text":{"deep":[1,2.5,true,null]}},"Version":2.5,"Level":"4",)"
      R"("Task":true,"Opcode":{"#text":null},"Keywords":18446744073709551615,)"
      R"("Execution":{"#attributes":{"ProcessID":"12","ThreadID":18446744073709551615}},)"
      R"("Security":{"#attributes":{"UserID":5}},"Provider":{"#attributes":{"Name":"P\u00e9\n"}},)"
      R"("TimeCreated":{"#attributes":{"SystemTime":"2025-11-27 07:40:10.165"}},)"
      R"("Computer":"h\"1"},"EventData":{"Data":[{"#attributes":{"Name":"Image"},"#text":"c:\\a"},)"
      R"({"#text":"u1"},"plain",{"#attributes":{"Name":"Obj"},"#text":{"x":1}}],"Binary":"00"}}})",
      R"({"Event":{"System":{"EventID":"4688","EventRecordID":9},"EventData":{"Data":)"
      R"({"#attributes":{"Name":"CommandLine"},"#text":"whoami"}}}})",
      R"({"Event":{"System":{"EventID":1},"EventData":"just text"}})",
      R"({"Event":{"System":{"EventID":1},"EventData":{"#attributes":{"a":1},"K":[1,{"b":2}]}}})",
      R"({"Event":{"System":{"EventID":1},"UserData":{"LogFileCleared":{"#attributes":{"x":1},)"
      R"("SubjectUserName":"bob","SubjectDomainName":{"#text":"D"}},"Other":"v"}}})",
      R"({"Event":{"System":{"EventID":1},"EventData":{"SourceIp":"-","IpAddress":"::1",)"
      R"("User":"","TargetUserName":"t","DestinationPort":443,"DestinationIp":null}}})",
      R"({"Event":{"System":{"EventID":1},"EventData":[1]}})",
      R"({"Event":{"System":{"EventID":1},"UserData":3}})",
      R"({"Event":{"System":{"EventID":"x"}}})",
      R"({"Event":{"System":[1]}})",
      R"({"Event":{"EventData":{}}})",
      R"({"Event":{"System":{"EventID":1}},"Event":{"System":{"EventID":2}}})",
      R"({"Event":{"System":{"EventID":1}},"Event":3})",
      R"({"Event":3,"Event":{"System":{"EventID":2}}})",
      R"({"System":{"EventID":1},"System":5})",
      R"({"winlog":{"event_id":4624,"channel":"Security"},"@timestamp":"2025-01-01T00:00:00Z"})",
      "{\"Event\":{\"System\":{\"EventID\":1,\"Channel\":\"\xff\"}}}",
      R"({"Event":{"System":{"EventID":1}}} trailing)",
      R"([1,2])",
      R"({"Event":{"System":{"EventID":1},"EventData":{"K":"\ud800"}}})",
      R"(  {"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"}}}  )",
  };
  for (const std::string& doc : docs) {
    for (const std::string& raw : {doc, doc + std::string(9000, ' ')}) {  // arena, then scratch
      const Record tape = Normalize(raw);
      Record tree;
      tree.format = Format::kWindowsEvent;
      tree.raw = raw;
      tree.received_ms = 1'700'000'000'000;
      tree.source = "wef";
      tree.tenant = "acme";
      internal::NormalizeWindowsEventFromTree(tree);
      EXPECT_EQ(tape.parsed, tree.parsed) << doc;
      EXPECT_EQ(tape.time_ms, tree.time_ms) << doc;
      EXPECT_EQ(boost::json::serialize(tape.fields()), boost::json::serialize(tree.fields()))
          << doc;
    }
  }
  // Two that take the tape path, told apart from a first-of-duplicates or a scalars-only reading:
  // the duplicate's last value, and an EventRecordID element's structured #text.
  EXPECT_EQ(Str(Normalize(docs[2]), "winlog.channel"), "System");
  const Record r = Normalize(docs[3]);
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(boost::json::serialize(*FindField(r.fields(), "winlog.record_id")),
            R"({"deep":[1,2.5E0,true,null]})");
}

}  // namespace
}  // namespace seccloud::soc
