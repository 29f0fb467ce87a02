// JSON-shaped formats (R18): seccloud spool lines, generic JSON lines, Suricata EVE.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/event.h"
#include "soc/field_tape.h"
#include "soc/field_view.h"
#include "soc/parse.h"
#include "soc/parse_internal.h"
#include "soc/parse_testing.h"

namespace seccloud::soc {
namespace {

using parse_testing::kReceived;
using parse_testing::Ms;
using parse_testing::ParseAs;
using parse_testing::Str;

Record Parse(Format format, std::string raw, std::string tenant = "") {
  return ParseAs(format, std::move(raw), "test", kReceived, std::move(tenant));
}

TEST(ParseJsonTest, SeccloudEventsRoundTrip) {
  const auto at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(kReceived - 5000));
  const EventClock clock = [at] { return at; };
  const Event events[] = {
      Event::Make("proxy.access", "event", "blocked", Outcome::kFailure, clock)
          .Set("tenant.id", "city-a")
          .Set("source.ip", "10.1.2.3")
          .Set("url.full", "http://bad.example/x")
          .Set("http.response.status_code", 403),
      Event::Make("scan.detection", "alert", "quarantined", Outcome::kSuccess, clock)
          .Set("file.hash.sha256", std::string(64, 'a'))
          .Set("seccloud.scan.signature", "Eicar-Test-Signature"),
      Event::Make("system.service", "event", "reloaded", Outcome::kSuccess, clock)
          .Set("seccloud.verdict.reason", "設定を再読み込みしました"),
  };
  for (const Event& e : events) {
    const Record r = Parse(Format::kSeccloudEvent, e.ToJsonLine());
    ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
    EXPECT_EQ(r.time_ms, kReceived - 5000);
    Record source;  // Record has constructors (record.h), so no designated initialiser
    source.fields() = e.json();
    EXPECT_EQ(Str(r, "event.dataset"), Str(source, "event.dataset"));
    EXPECT_EQ(Str(r, "event.id"), std::string(e.Find("event.id")->as_string()));
    EXPECT_EQ(Str(r, "@timestamp"), FormatTimeMs(kReceived - 5000));
    EXPECT_EQ(Str(r, "seccloud.soc.format"), "seccloud-event");
  }
  const Record r = Parse(Format::kSeccloudEvent, events[0].ToJsonLine());
  EXPECT_EQ(Str(r, "tenant.id"), "city-a");  // our own services' events keep their tenant
  EXPECT_EQ(Str(r, "source.ip"), "10.1.2.3");
  EXPECT_EQ(Str(r, "http.response.status_code"), "403");
  const Record r3 = Parse(Format::kSeccloudEvent, events[2].ToJsonLine());
  EXPECT_EQ(Str(r3, "seccloud.verdict.reason"), "設定を再読み込みしました");
}

TEST(ParseJsonTest, SeccloudEventWithoutDatasetOrTimeIsAnError) {
  Record r = Parse(Format::kSeccloudEvent, R"({"@timestamp":"2025-11-26T04:00:00.000Z"})");
  EXPECT_FALSE(r.parsed);
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"),
            "seccloud-event: expected a string \"event.dataset\" in the event (every seccloud "
            "event has one)");
  r = Parse(Format::kSeccloudEvent, R"({"event":{"dataset":"x.y"},"@timestamp":"yesterday"})");
  EXPECT_FALSE(r.parsed);
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"),
            "seccloud-event: expected \"@timestamp\" holding an RFC 3339 time in the event");
}

// Every object of up to three root members out of `shapes` ("key":value texts), in every order,
// repeats included, and the empty object.
std::vector<std::string> RootMemberSequences(const std::vector<std::string>& shapes) {
  std::vector<std::string> lines = {"{}"};
  for (size_t a = 0; a < shapes.size(); ++a) {
    lines.push_back("{" + shapes[a] + "}");
    for (size_t b = 0; b < shapes.size(); ++b) {
      lines.push_back("{" + shapes[a] + "," + shapes[b] + "}");
      for (size_t c = 0; c < shapes.size(); ++c) {
        lines.push_back("{" + shapes[a] + "," + shapes[b] + "," + shapes[c] + "}");
      }
    }
  }
  return lines;
}

// Appends the lines of the bench set's seccloud files (bench/loggen.py's set where the bench
// scripts put it; SOCBENCH_DATA overrides; files not there are skipped); returns how many.
size_t AppendBenchSeccloudLines(std::vector<std::string>* lines) {
  const char* env = std::getenv("SOCBENCH_DATA");
  const std::filesystem::path bench = env != nullptr ? env : "/tmp/socbench-small";
  size_t n = 0;
  for (const char* name :
       {"seccloud-dns.ndjson", "seccloud-proxy.ndjson", "seccloud-scan.ndjson"}) {
    std::ifstream in(bench / name);
    for (std::string l; std::getline(in, l); ++n) lines->push_back(l);
  }
  return n;
}

// FindDatasetAndTimestamp (one pass over the root) answers as FindInTape does for its two paths,
// node for node: every sequence of up to three root members out of 20 shapes spelling them (the
// key itself, dotted, as a prefix, duplicated, an object under a non-object and back, a dataset
// repeated or dotted inside "event", other kinds), and every line of the bench set's seccloud
// files when they are there.
TEST(ParseJsonTest, DatasetAndTimestampFoundAsFindInTape) {
  const std::vector<std::string> shapes = {
      R"("@timestamp":"2026-10-02T00:00:23.663Z")",
      R"("@timestamp":5)",
      R"("@timestamp":{"x":1})",
      R"("event":{"dataset":"a"})",
      R"("event":{"dataset":1})",
      R"("event":{"dataset.x":"b","dataset":"c"})",
      R"("event":{"dataset":"d","dataset":{"y":2}})",
      R"("event":{"kind":"e"})",
      R"("event":"s")",
      R"("event":null)",
      R"("event":{})",
      R"("event.dataset":"f")",
      R"("event.dataset":{"x":1})",
      R"("event.dataset.x":"g")",
      R"("eventx":{"dataset":"h"})",
      R"("@timestampx":1)",
      R"("event.":1)",
      R"("":1)",
      R"("Event":{"dataset":"i"})",
      R"("@timestamP":"2026-10-02T00:00:23.663Z")",
  };
  std::vector<std::string> lines = RootMemberSequences(shapes);
  const size_t bench_lines = AppendBenchSeccloudLines(&lines);
  FieldTape tape;
  size_t found_dataset = 0, found_ts = 0;
  for (const std::string& line : lines) {
    std::string error;
    ASSERT_TRUE(ReadJsonTape(line, &tape, &error)) << error << " " << line;
    const TapeNode* dataset = nullptr;
    const TapeNode* ts = nullptr;
    internal::FindDatasetAndTimestamp(tape.span(), &dataset, &ts);
    ASSERT_EQ(dataset, FindInTape(tape, "event.dataset")) << line;
    ASSERT_EQ(ts, FindInTape(tape, "@timestamp")) << line;
    found_dataset += dataset != nullptr;
    found_ts += ts != nullptr;
  }
  std::printf("%zu lines (%zu from the bench set): event.dataset in %zu, @timestamp in %zu\n",
              lines.size(), bench_lines, found_dataset, found_ts);
  EXPECT_GT(found_dataset, 1000u);
  EXPECT_GT(lines.size() - found_dataset, 1000u);
  EXPECT_GT(found_ts, 1000u);
  EXPECT_GT(lines.size() - found_ts, 1000u);
}

// TapeViewExact (field_view.cc; its root keys now told apart by their first byte) against its rule
// as README.md states it, written out here on its own: no root key "event.…", "tenant.…",
// "seccloud.…" or "@timestamp.…"; each of those roots at most once, "event", "seccloud" and
// "tenant" objects; no dotted "dataset.…"/"ingested.…" key in event, "id.…" in tenant, "soc.…" in
// seccloud (and "soc" once, an object), "source.…"/"format.…"/"peer.…"/"parse_error.…" in
// seccloud.soc. Every sequence of up to three root members out of 30 shapes, and the bench set's
// seccloud lines when they are there.
TEST(ParseJsonTest, TapeViewExactFollowsItsRule) {
  auto dotted_in = [](const FieldTape& t, size_t obj,
                      std::initializer_list<std::string_view> names) {
    for (size_t i = obj + 1; i < t[obj].end; i = t[i].end) {
      for (std::string_view n : names) {
        if (t[i].key().starts_with(std::string(n) + ".")) return true;
      }
    }
    return false;
  };
  auto rule = [&](const FieldTape& t) {
    const std::string_view roots[] = {"@timestamp", "event", "seccloud", "tenant"};
    int seen[4] = {};
    for (size_t i = 1; i < t[0].end; i = t[i].end) {
      const std::string_view k = t[i].key();
      for (int r = 0; r < 4; ++r) {
        if (k.starts_with(std::string(roots[r]) + ".")) return false;
        if (k != roots[r]) continue;
        if (++seen[r] > 1) return false;
        if (r == 0) continue;
        if (t[i].kind != TapeKind::kObject) return false;
        if (r == 1 && dotted_in(t, i, {"dataset", "ingested"})) return false;
        if (r == 3 && dotted_in(t, i, {"id"})) return false;
        if (r == 2) {
          if (dotted_in(t, i, {"soc"})) return false;
          int socs = 0;
          for (size_t j = i + 1; j < t[i].end; j = t[j].end) {
            if (t[j].key() != "soc") continue;
            if (++socs > 1 || t[j].kind != TapeKind::kObject) return false;
            if (dotted_in(t, j, {"source", "format", "peer", "parse_error"})) return false;
          }
        }
      }
    }
    return true;
  };
  const std::vector<std::string> shapes = {
      R"("@timestamp":"x")",
      R"("@timestamp":{"a":1})",
      R"("@timestamp.x":1)",
      R"("@timestampx":1)",
      R"("@":1)",
      R"("event":{"dataset":"d"})",
      R"("event":{"dataset.x":"d"})",
      R"("event":{"kind":"k","ingested.y":1})",
      R"("event":"s")",
      R"("event.dataset":"d")",
      R"("eventx":{})",
      R"("e":1)",
      R"("seccloud":{"soc":{"source":"s"}})",
      R"("seccloud":{"soc":{"peer.x":1}})",
      R"("seccloud":{"soc":{"parse_error.y":1,"format":"f"}})",
      R"("seccloud":{"soc":1})",
      R"("seccloud":{"soc":{},"soc":{}})",
      R"("seccloud":{"soc.format":1})",
      R"("seccloud":[])",
      R"("seccloud.soc":{})",
      R"("seccloudx":1)",
      R"("s":1)",
      R"("source":{"ip":"10.0.0.1"})",
      R"("tenant":{"id":"t"})",
      R"("tenant":{"id.x":"t"})",
      R"("tenant":null)",
      R"("tenant.id":"t")",
      R"("tenantx":1)",
      R"("t":1)",
      R"("":1)",
  };
  std::vector<std::string> lines = RootMemberSequences(shapes);
  AppendBenchSeccloudLines(&lines);
  FieldTape tape;
  size_t exact = 0;
  for (const std::string& line : lines) {
    std::string error;
    ASSERT_TRUE(ReadJsonTape(line, &tape, &error)) << error << " " << line;
    const bool want = rule(tape);
    ASSERT_EQ(TapeViewExact(tape.span()), want) << line;
    exact += want;
  }
  EXPECT_GT(exact, 5000u);
  EXPECT_GT(lines.size() - exact, 5000u);
}

TEST(ParseJsonTest, JsonLineKeepsKeysAndFindsTime) {
  Record r =
      Parse(Format::kJson,
            R"({"@timestamp":"2025-11-26T01:02:03.456Z","source.ip":"10.0.0.1","a":{"b":1}})");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, Ms("2025-11-26T01:02:03.456Z"));
  EXPECT_EQ(Str(r, "source.ip"), "10.0.0.1");
  EXPECT_EQ(Str(r, "a.b"), "1");
  EXPECT_EQ(Str(r, "event.dataset"), "json");

  r = Parse(Format::kJson, R"({"timestamp":1764120000,"event":{"dataset":"fw.custom"}})");
  EXPECT_EQ(r.time_ms, int64_t{1764120000} * 1000);
  EXPECT_EQ(Str(r, "event.dataset"), "fw.custom");

  r = Parse(Format::kJson, R"({"time":1764120000123})");
  EXPECT_EQ(r.time_ms, 1764120000123);

  r = Parse(Format::kJson, R"({"time":"2025-11-26 01:02:03+0900"})");
  EXPECT_EQ(r.time_ms, Ms("2025-11-25T16:02:03Z"));

  // A time from the far future is not believed.
  r = Parse(Format::kJson, R"({"@timestamp":"2099-01-01T00:00:00Z"})");
  EXPECT_EQ(r.time_ms, kReceived);
}

TEST(ParseJsonTest, JsonLineCannotSpoofMetadata) {
  const Record r = Parse(
      Format::kJson,
      R"({"tenant.id":"evil","tenant":{"id":"evil2"},"seccloud.soc.source":"x","seccloud":{"soc":{"format":"y"}},"event.ingested":"z","source.ip":"2001:DB8::0:1"})",
      "city-b");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "tenant.id"), "city-b");
  EXPECT_EQ(Str(r, "seccloud.soc.source"), "test");
  EXPECT_EQ(Str(r, "seccloud.soc.format"), "json");
  EXPECT_EQ(Str(r, "event.ingested"), FormatTimeMs(kReceived));
  EXPECT_EQ(Str(r, "source.ip"), "2001:db8::1");  // normalised
  EXPECT_EQ(r.fields().if_contains("tenant.id"), nullptr);

  const Record no_tenant = Parse(Format::kJson, R"({"tenant":{"id":"evil"}})");
  EXPECT_EQ(Str(no_tenant, "tenant.id"), "<absent>");
}

TEST(ParseJsonTest, MalformedJsonGivesPreciseErrors) {
  struct Case {
    std::string raw, error;
  };
  const Case cases[] = {
      {R"({"a":1,})", "json: invalid JSON (syntax error) at byte 7"},
      {R"([1,2])", "json: expected a JSON object, found a JSON array"},
      {R"({"a":1} {"b":2})",
       "json: expected the end of the line after the JSON value at byte 8, found "
       "\"{\\\"b\\\":2}\""},
      {R"({"a":"unterminated)", "json: invalid JSON (incomplete JSON) at byte 18"},
  };
  for (const auto& c : cases) {
    const Record r = Parse(Format::kJson, c.raw);
    EXPECT_FALSE(r.parsed) << c.raw;
    EXPECT_EQ(Str(r, "seccloud.soc.parse_error"), c.error) << c.raw;
    EXPECT_EQ(Str(r, "message"), c.raw);
  }
}

TEST(ParseJsonTest, DeepJsonIsRefused) {
  std::string deep(100, '[');
  deep = R"({"a":)" + deep + std::string(100, ']') + "}";
  const Record r = Parse(Format::kJson, deep);
  EXPECT_FALSE(r.parsed);
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"),
            "json: JSON nested deeper than 64 levels at byte 68");
  std::string ok(60, '[');
  ok = R"({"a":)" + ok + std::string(60, ']') + "}";
  EXPECT_TRUE(Parse(Format::kJson, ok).parsed);
}

TEST(ParseJsonTest, ManyFieldsAreBounded) {
  std::string raw = "{";
  for (int i = 0; i < 3000; ++i)
    raw += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":" + std::to_string(i));
  raw += "}";
  const Record r = Parse(Format::kJson, raw);
  ASSERT_TRUE(r.parsed);
  EXPECT_LE(r.fields().size(), kMaxParsedFields);
  EXPECT_EQ(Str(r, "k0"), "0");
  EXPECT_EQ(Str(r, "k2999"), "<absent>");
  EXPECT_EQ(Str(r, "seccloud.soc.fields_dropped"), std::to_string(3000 - (kMaxParsedFields - 12)));
  EXPECT_EQ(Str(r, "event.dataset"), "json");
}

// Normalize skips counting leaves when the line is too short to hold more than the bound (each
// leaf takes a byte of the text; EVE adds at most kEveMappedLeaves ECS values): records past it
// are still cut, the ECS values EVE adds counted with the record's own.
TEST(ParseJsonTest, FieldBoundHoldsForJsonAndEve) {
  auto zeros = [](size_t n) {
    std::string a = "[";
    for (size_t i = 0; i < n; ++i) a += i ? ",0" : "0";
    return a + "]";
  };
  const Record json = Parse(Format::kJson, "{\"a\":" + zeros(kMaxParsedFields) + "}");
  ASSERT_TRUE(json.parsed);
  EXPECT_EQ(Str(json, "seccloud.soc.fields_dropped"), "12");
  // 6 + 975 leaves of its own (within the bound of 988) and 8 ECS values: 1 dropped.
  const Record eve = Parse(Format::kSuricataEve,
                           R"({"event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2",)"
                           R"("src_port":1,"dest_port":2,"proto":"TCP","a":)" +
                               zeros(975) + "}");
  ASSERT_TRUE(eve.parsed);
  EXPECT_EQ(Str(eve, "seccloud.soc.fields_dropped"), "1");
  EXPECT_EQ(Str(eve, "source.ip"), "10.0.0.1");
}

TEST(ParseJsonTest, InvalidUtf8IsSanitisedNotRefused) {
  const Record r = Parse(Format::kJson, "{\"m\":\"caf\xC3\" , \"k\xFF\":\"v\"}");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(Str(r, "m"), "caf\xEF\xBF\xBD");
  EXPECT_EQ(Str(r, "k\xEF\xBF\xBD"), "v");
}

TEST(ParseJsonTest, WindowsEventGoesToTheWindowsNormaliser) {
  const Record r =
      Parse(Format::kWindowsEvent, R"({"Event":{"System":{"EventID":4625,"Channel":"Security"}}})");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "winlog.event_id"), "4625");
  EXPECT_EQ(Str(r, "seccloud.soc.format"), "windows-event");
  EXPECT_EQ(Str(r, "event.dataset"), "windows.security");
}

// The tree an EVE record replays (kept as an overlay) is the tree path's, member order included:
// the ECS values in the mapping's order, their objects where the first of them made them, the
// document at "suricata.eve" in its own order, then the metadata. Pinned as base19's text, so a
// change of the mapping's order (which the overlay and the tree path would share) fails here.
TEST(ParseEveTest, TheTreeKeepsItsMemberOrder) {
  const Record r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.123456+0000","flow_id":12,"event_type":"alert",)"
      R"("src_ip":"10.0.0.1","src_port":5555,"dest_ip":"192.0.2.53","dest_port":80,"proto":"TCP",)"
      R"("app_proto":"http","alert":{"action":"allowed","signature_id":7,"rev":2,"signature":"S",)"
      R"("category":"C","severity":1},"http":{"hostname":"h.jp","url":"/a?b=1","status":200,)"
      R"("protocol":"HTTP/1.1","length":10},"flow":{"pkts_toserver":1,"pkts_toclient":2,)"
      R"("bytes_toserver":3,"bytes_toclient":4,"start":"s","alerted":true}})");
  ASSERT_TRUE(r.parsed);
  EXPECT_TRUE(r.fields_pending());
  EXPECT_EQ(
      boost::json::serialize(r.fields()),
      R"j({"event":{"dataset":"ids.alert","kind":"alert","category":["intrusion_detection"],"sever)j"
      R"j(ity":1,"action":"allowed","start":"s","ingested":"2025-11-26T04:06:40.000Z"},"source":{")j"
      R"j(ip":"10.0.0.1","port":5555,"bytes":3,"packets":1},"destination":{"ip":"192.0.2.53","port)j"
      R"j(":80,"bytes":4,"packets":2},"network":{"transport":"tcp","protocol":"http","bytes":7,"pa)j"
      R"j(ckets":3},"rule":{"name":"S","id":"7","category":"C","version":2},"url":{"domain":"h.jp")j"
      R"j(,"original":"/a?b=1","path":"/a","query":"b=1"},"http":{"response":{"status_code":200,"b)j"
      R"j(ody":{"bytes":10}},"version":"1.1"},"suricata":{"eve":{"timestamp":"2024-02-08T12:30:45.)j"
      R"j(123456+0000","flow_id":12,"event_type":"alert","src_ip":"10.0.0.1","src_port":5555,"dest)j"
      R"j(_ip":"192.0.2.53","dest_port":80,"proto":"TCP","app_proto":"http","alert":{"action":"all)j"
      R"j(owed","signature_id":7,"rev":2,"signature":"S","category":"C","severity":1},"http":{"hos)j"
      R"j(tname":"h.jp","url":"/a?b=1","status":200,"protocol":"HTTP/1.1","length":10},"flow":{"pk)j"
      R"j(ts_toserver":1,"pkts_toclient":2,"bytes_toserver":3,"bytes_toclient":4,"start":"s","aler)j"
      R"j(ted":true}}},"@timestamp":"2024-02-08T12:30:45.123Z","seccloud":{"soc":{"source":"test",)j"
      R"j("format":"eve"}}})j");
}

// The trees of the other event types the mapping knows (dns, tls with ja3/ja3s, fileinfo with
// the http fields, flow with its end and counters), pinned as base19's text (its
// soc_normalize_bench --dump of these lines, with this file's source and received time): the
// overlay and the tree path share the mapping, so only a pinned text catches a mapped leaf
// dropped, renamed or changed on both (the review of eve19: such mutants survived every test).
TEST(ParseEveTest, EveryMappedLeafAsBase19MappedIt) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {R"j({"timestamp":"2024-02-08T12:30:46.000001+0900","flow_id":13,"in_iface":"eth1","event_type":")j"
       R"j(dns","src_ip":"10.0.0.2","src_port":53000,"dest_ip":"192.0.2.1","dest_port":53,"proto":"UDP")j"
       R"j(,"community_id":"1:abc=","host":"sensor1","dns":{"type":"answer","id":4242,"rrname":"Example)j"
       R"j(.JP","rrtype":"A","rcode":"NOERROR"}})j",
       R"j({"event":{"dataset":"ids.dns","kind":"event","category":["network"],"ingested":"2025-11-26T0)j"
       R"j(4:06:40.000Z"},"source":{"ip":"10.0.0.2","port":53000},"destination":{"ip":"192.0.2.1","port)j"
       R"j(":53},"network":{"transport":"udp","community_id":"1:abc="},"observer":{"ingress":{"interfac)j"
       R"j(e":{"name":"eth1"}},"hostname":"sensor1"},"dns":{"question":{"name":"Example.JP","type":"A"})j"
       R"j(,"type":"answer","response_code":"NOERROR","id":"4242"},"suricata":{"eve":{"timestamp":"2024)j"
       R"j(-02-08T12:30:46.000001+0900","flow_id":13,"in_iface":"eth1","event_type":"dns","src_ip":"10.)j"
       R"j(0.0.2","src_port":53000,"dest_ip":"192.0.2.1","dest_port":53,"proto":"UDP","community_id":"1)j"
       R"j(:abc=","host":"sensor1","dns":{"type":"answer","id":4242,"rrname":"Example.JP","rrtype":"A",)j"
       R"j("rcode":"NOERROR"}}},"@timestamp":"2024-02-08T03:30:46.000Z","seccloud":{"soc":{"source":"te)j"
       R"j(st","format":"eve"}}})j"},
      {R"j({"timestamp":"2024-02-08T12:30:47.5Z","event_type":"tls","src_ip":"10.0.0.3","src_port":"443)j"
       R"j(","dest_ip":"192.0.2.2","dest_port":443,"proto":"TCP","app_proto":"tls","tls":{"sni":"s.exam)j"
       R"j(ple.jp","subject":"CN=s.example.jp","issuerdn":"CN=CA","ja3":{"hash":"aa11"},"ja3s":{"hash":)j"
       R"j("bb22"},"version":"TLS 1.3"}})j",
       R"j({"event":{"dataset":"ids.tls","kind":"event","category":["network"],"ingested":"2025-11-26T0)j"
       R"j(4:06:40.000Z"},"source":{"ip":"10.0.0.3","port":443},"destination":{"ip":"192.0.2.2","port":)j"
       R"j(443},"network":{"transport":"tcp","protocol":"tls"},"tls":{"client":{"server_name":"s.exampl)j"
       R"j(e.jp","ja3":"aa11"},"server":{"subject":"CN=s.example.jp","issuer":"CN=CA","ja3s":"bb22"}},")j"
       R"j(suricata":{"eve":{"timestamp":"2024-02-08T12:30:47.5Z","event_type":"tls","src_ip":"10.0.0.3)j"
       R"j(","src_port":"443","dest_ip":"192.0.2.2","dest_port":443,"proto":"TCP","app_proto":"tls","tl)j"
       R"j(s":{"sni":"s.example.jp","subject":"CN=s.example.jp","issuerdn":"CN=CA","ja3":{"hash":"aa11")j"
       R"j(},"ja3s":{"hash":"bb22"},"version":"TLS 1.3"}}},"@timestamp":"2024-02-08T12:30:47.500Z","sec)j"
       R"j(cloud":{"soc":{"source":"test","format":"eve"}}})j"},
      {R"j({"timestamp":"2024-02-08T12:30:48Z","event_type":"fileinfo","src_ip":"192.0.2.3","dest_ip":")j"
       R"j(10.0.0.4","proto":"TCP","http":{"hostname":"f.example.jp","url":"/d/x.exe","http_user_agent")j"
       R"j(:"UA/1","http_method":"GET","http_refer":"http://r.jp/","http_content_type":"application/oct)j"
       R"j(et-stream","status":"200","length":99},"fileinfo":{"filename":"/d/x.exe","sha256":"e3b0","sh)j"
       R"j(a1":"da39","md5":"d41d","size":99,"stored":false}})j",
       R"j({"event":{"dataset":"ids.fileinfo","kind":"event","category":["network"],"ingested":"2025-11)j"
       R"j(-26T04:06:40.000Z"},"source":{"ip":"192.0.2.3"},"destination":{"ip":"10.0.0.4"},"network":{")j"
       R"j(transport":"tcp"},"url":{"domain":"f.example.jp","original":"/d/x.exe","path":"/d/x.exe"},"u)j"
       R"j(ser_agent":{"original":"UA/1"},"http":{"response":{"status_code":200,"body":{"bytes":99},"mi)j"
       R"j(me_type":"application/octet-stream"},"request":{"method":"GET","referrer":"http://r.jp/"}},")j"
       R"j(file":{"name":"/d/x.exe","hash":{"sha256":"e3b0","sha1":"da39","md5":"d41d"},"size":99},"sur)j"
       R"j(icata":{"eve":{"timestamp":"2024-02-08T12:30:48Z","event_type":"fileinfo","src_ip":"192.0.2.)j"
       R"j(3","dest_ip":"10.0.0.4","proto":"TCP","http":{"hostname":"f.example.jp","url":"/d/x.exe","ht)j"
       R"j(tp_user_agent":"UA/1","http_method":"GET","http_refer":"http://r.jp/","http_content_type":"a)j"
       R"j(pplication/octet-stream","status":"200","length":99},"fileinfo":{"filename":"/d/x.exe","sha2)j"
       R"j(56":"e3b0","sha1":"da39","md5":"d41d","size":99,"stored":false}}},"@timestamp":"2024-02-08T1)j"
       R"j(2:30:48.000Z","seccloud":{"soc":{"source":"test","format":"eve"}}})j"},
      {R"j({"timestamp":"2024-02-08T12:30:49Z","event_type":"flow","src_ip":"10.0.0.5","src_port":1,"de)j"
       R"j(st_ip":"10.0.0.6","dest_port":2,"proto":"ICMP","flow":{"pkts_toserver":5,"pkts_toclient":6,")j"
       R"j(bytes_toserver":70,"bytes_toclient":80,"start":"2024-02-08T12:30:40Z","end":"2024-02-08T12:3)j"
       R"j(0:49Z","state":"closed","reason":"timeout","alerted":false}})j",
       R"j({"event":{"dataset":"ids.flow","kind":"event","category":["network"],"start":"2024-02-08T12:)j"
       R"j(30:40Z","end":"2024-02-08T12:30:49Z","ingested":"2025-11-26T04:06:40.000Z"},"source":{"ip":")j"
       R"j(10.0.0.5","port":1,"bytes":70,"packets":5},"destination":{"ip":"10.0.0.6","port":2,"bytes":8)j"
       R"j(0,"packets":6},"network":{"transport":"icmp","bytes":150,"packets":11},"suricata":{"eve":{"t)j"
       R"j(imestamp":"2024-02-08T12:30:49Z","event_type":"flow","src_ip":"10.0.0.5","src_port":1,"dest_)j"
       R"j(ip":"10.0.0.6","dest_port":2,"proto":"ICMP","flow":{"pkts_toserver":5,"pkts_toclient":6,"byt)j"
       R"j(es_toserver":70,"bytes_toclient":80,"start":"2024-02-08T12:30:40Z","end":"2024-02-08T12:30:4)j"
       R"j(9Z","state":"closed","reason":"timeout","alerted":false}}},"@timestamp":"2024-02-08T12:30:49)j"
       R"j(.000Z","seccloud":{"soc":{"source":"test","format":"eve"}}})j"},
  };
  for (const auto& [line, tree] : cases) {
    const Record r = Parse(Format::kSuricataEve, std::string(line));
    ASSERT_TRUE(r.parsed) << line;
    EXPECT_TRUE(r.fields_pending()) << line;
    EXPECT_EQ(boost::json::serialize(r.fields()), tree) << line;
  }
}

TEST(ParseEveTest, Alert) {
  const Record r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.123456+0000","flow_id":1234567890123456,"in_iface":"eth0","event_type":"alert","src_ip":"10.0.0.1","src_port":5555,"dest_ip":"2001:0DB8::53","dest_port":53,"proto":"UDP","app_proto":"dns","alert":{"action":"blocked","gid":1,"signature_id":2013028,"rev":7,"signature":"ET POLICY curl User-Agent Outbound","category":"Attempted Information Leak","severity":2}})");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(r.time_ms, Ms("2024-02-08T12:30:45.123Z"));
  EXPECT_EQ(Str(r, "event.dataset"), "ids.alert");
  EXPECT_EQ(Str(r, "event.kind"), "alert");
  EXPECT_EQ(Str(r, "source.ip"), "10.0.0.1");
  EXPECT_EQ(Str(r, "source.port"), "5555");
  EXPECT_EQ(Str(r, "destination.ip"), "2001:db8::53");
  EXPECT_EQ(Str(r, "destination.port"), "53");
  EXPECT_EQ(Str(r, "network.transport"), "udp");
  EXPECT_EQ(Str(r, "network.protocol"), "dns");
  EXPECT_EQ(Str(r, "rule.name"), "ET POLICY curl User-Agent Outbound");
  EXPECT_EQ(Str(r, "rule.id"), "2013028");
  EXPECT_EQ(Str(r, "rule.category"), "Attempted Information Leak");
  EXPECT_EQ(Str(r, "event.severity"), "2");
  EXPECT_EQ(Str(r, "event.action"), "blocked");
  EXPECT_EQ(Str(r, "suricata.eve.flow_id"), "1234567890123456");
  EXPECT_EQ(Str(r, "suricata.eve.alert.gid"), "1");
  EXPECT_EQ(Str(r, "network.community_id"), "<absent>");
}

TEST(ParseEveTest, DnsV1AndV2AndQueryArray) {
  // EVE v1: one record per query/answer with the question at the top of "dns".
  Record r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0100","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"8.8.8.8","proto":"UDP","dns":{"type":"query","id":16000,"rrname":"example.com","rrtype":"A","tx_id":0}})");
  ASSERT_TRUE(r.parsed);
  EXPECT_EQ(r.time_ms, Ms("2024-02-08T11:30:45Z"));
  EXPECT_EQ(Str(r, "event.dataset"), "ids.dns");
  EXPECT_EQ(Str(r, "dns.question.name"), "example.com");
  EXPECT_EQ(Str(r, "dns.question.type"), "A");
  EXPECT_EQ(Str(r, "dns.type"), "query");
  // EVE v2 answer.
  r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"flags":"8180","rrname":"example.org","rrtype":"AAAA","rcode":"NOERROR","answers":[{"rrname":"example.org","rrtype":"AAAA","ttl":60,"rdata":"2001:db8::1"}]}})");
  EXPECT_EQ(Str(r, "dns.question.name"), "example.org");
  EXPECT_EQ(Str(r, "dns.question.type"), "AAAA");
  EXPECT_EQ(Str(r, "dns.response_code"), "NOERROR");
  // Alerts on DNS carry the question in "query" (v2) or "queries" (v3).
  r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0000","event_type":"alert","dns":{"query":[{"type":"query","id":2,"rrname":"bad.example","rrtype":"TXT"}]}})");
  EXPECT_EQ(Str(r, "dns.question.name"), "bad.example");
  EXPECT_EQ(Str(r, "dns.question.type"), "TXT");
  r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0000","event_type":"dns","dns":{"version":3,"type":"request","queries":[{"rrname":"v3.example","rrtype":"MX"}]}})");
  EXPECT_EQ(Str(r, "dns.question.name"), "v3.example");
}

TEST(ParseEveTest, HttpTlsFileinfoFlow) {
  Record r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0000","event_type":"http","http":{"hostname":"www.example.com","url":"/index.php?id=1","http_user_agent":"Mozilla/5.0","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":512,"http_refer":"http://r/"}})");
  EXPECT_EQ(Str(r, "event.dataset"), "ids.http");
  EXPECT_EQ(Str(r, "url.domain"), "www.example.com");
  EXPECT_EQ(Str(r, "url.original"), "/index.php?id=1");
  EXPECT_EQ(Str(r, "url.path"), "/index.php");
  EXPECT_EQ(Str(r, "user_agent.original"), "Mozilla/5.0");
  EXPECT_EQ(Str(r, "http.request.method"), "GET");
  EXPECT_EQ(Str(r, "http.response.status_code"), "200");
  EXPECT_EQ(Str(r, "http.response.body.bytes"), "512");
  EXPECT_EQ(Str(r, "http.version"), "1.1");
  EXPECT_EQ(Str(r, "http.request.referrer"), "http://r/");

  r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0000","event_type":"tls","tls":{"sni":"login.example.net","subject":"CN=x","issuerdn":"CN=ca","ja3":{"hash":"abc"}}})");
  EXPECT_EQ(Str(r, "event.dataset"), "ids.tls");
  EXPECT_EQ(Str(r, "tls.client.server_name"), "login.example.net");
  EXPECT_EQ(Str(r, "tls.server.issuer"), "CN=ca");
  EXPECT_EQ(Str(r, "tls.client.ja3"), "abc");

  r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0000","event_type":"fileinfo","fileinfo":{"filename":"/eicar.com","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","size":68}})");
  EXPECT_EQ(Str(r, "event.dataset"), "ids.fileinfo");
  EXPECT_EQ(Str(r, "file.name"), "/eicar.com");
  EXPECT_EQ(Str(r, "file.hash.sha256"),
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f");
  EXPECT_EQ(Str(r, "file.size"), "68");

  r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0000","event_type":"flow","proto":"TCP","flow":{"pkts_toserver":3,"pkts_toclient":2,"bytes_toserver":200,"bytes_toclient":100,"start":"2024-02-08T12:30:40.000000+0000","state":"closed"}})");
  EXPECT_EQ(Str(r, "event.dataset"), "ids.flow");
  EXPECT_EQ(Str(r, "network.bytes"), "300");
  EXPECT_EQ(Str(r, "network.packets"), "5");
  EXPECT_EQ(Str(r, "source.bytes"), "200");

  r = Parse(
      Format::kSuricataEve,
      R"({"timestamp":"2024-02-08T12:30:45.000000+0000","event_type":"anomaly","anomaly":{"type":"decode","event":"ipv4.trunc_pkt"}})");
  EXPECT_EQ(Str(r, "event.dataset"), "ids.anomaly");
  EXPECT_EQ(Str(r, "suricata.eve.anomaly.event"), "ipv4.trunc_pkt");
}

TEST(ParseEveTest, RootMembersInAnyOrderDuplicatesAndDecoys) {
  // The root's members are found in one pass: any order, the last of a duplicate key (the one
  // the parsed object keeps), keys of the same length that are not the mapped ones, and members
  // of the wrong kind ignored as before.
  const Record r = Parse(
      Format::kSuricataEve,
      R"({"flow":{"bytes_toserver":1,"bytes_toclient":2},"src_port":"80","dns":"not an object","hosts":"h2","tls":{"sni":"a.example"},"http":[1],"proto":"TCP","src_ip":"10.0.0.1","alert":5,"src_ip":"10.0.0.2","dest_ipx":"10.9.9.9","host":"sensor-1","dest_port":-1,"app_proto":"HTTP","in_iface":7,"community_id":"1:abc","fileinfo":{"size":12},"event_type":"flow","event_type2":"x","timestamp":"2024-02-08T12:30:45.000000+0000","dest_ip":"10.0.0.3"})");
  ASSERT_TRUE(r.parsed) << Str(r, "seccloud.soc.parse_error");
  EXPECT_EQ(r.time_ms, Ms("2024-02-08T12:30:45Z"));
  EXPECT_EQ(Str(r, "event.dataset"), "ids.flow");
  EXPECT_EQ(Str(r, "source.ip"), "10.0.0.2");
  EXPECT_EQ(Str(r, "source.port"), "80");
  EXPECT_EQ(Str(r, "destination.ip"), "10.0.0.3");
  EXPECT_EQ(Str(r, "destination.port"), "<absent>");
  EXPECT_EQ(Str(r, "network.transport"), "tcp");
  EXPECT_EQ(Str(r, "network.protocol"), "http");
  EXPECT_EQ(Str(r, "network.community_id"), "1:abc");
  EXPECT_EQ(Str(r, "observer.hostname"), "sensor-1");
  EXPECT_EQ(Str(r, "observer.ingress.interface.name"), "<absent>");
  EXPECT_EQ(Str(r, "tls.client.server_name"), "a.example");
  EXPECT_EQ(Str(r, "file.size"), "12");
  EXPECT_EQ(Str(r, "network.bytes"), "3");
  EXPECT_EQ(Str(r, "rule.name"), "<absent>");
  EXPECT_EQ(Str(r, "dns.question.name"), "<absent>");
  EXPECT_EQ(Str(r, "suricata.eve.hosts"), "h2");
  EXPECT_EQ(Str(r, "suricata.eve.src_ip"), "10.0.0.2");
}

TEST(ParseEveTest, WithoutEventTypeIsAnError) {
  Record r = Parse(Format::kSuricataEve, R"({"timestamp":"2024-02-08T12:30:45.000000+0000"})");
  EXPECT_FALSE(r.parsed);
  EXPECT_EQ(Str(r, "seccloud.soc.parse_error"),
            "eve: expected a string \"event_type\" member (every EVE record names its type)");
  r = Parse(Format::kSuricataEve, R"({"event_type":"Weird Type.x"})");
  EXPECT_TRUE(r.parsed);
  EXPECT_EQ(Str(r, "event.dataset"), "ids.weird_type_x");
}

// AWS CloudTrail and Office 365 Management Activity API records are known by their schemas'
// required members and get their datasets (Sigma's aws/cloudtrail and m365/audit rules select
// them so) and their times; the tape and the tree (a line with invalid UTF-8) agree. Near misses
// and lines naming their own dataset keep "json" and their own.
TEST(ParseJsonTest, CloudAuditRecordsAreKnownByTheirSchema) {
  constexpr char kTrail[] =
      R"({"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"Mary"},"eventTime":"2025-11-26T03:51:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"ap-northeast-1","sourceIPAddress":"192.0.2.0","userAgent":"aws-cli/2.13.5%s","requestParameters":{"name":"management-events"},"responseElements":null,"eventType":"AwsApiCall"})";
  constexpr char kM365[] =
      R"({"CreationTime":"2025-11-26T03:52:10","Id":"4b8e3f0e-8c1b-4b7e-9b36-2f0b7d2b6a11","Operation":"Disable Strong Authentication.","OrganizationId":"d8b5b8e1-2d5c-4f0e-9a8b-0c7a3b6e2f41","RecordType":8,"ResultStatus":"Success","UserType":0,"Version":1,"Workload":"AzureActiveDirectory%s","UserId":"admin@contoso.onmicrosoft.com"})";
  auto line = [](const char* shape, const char* extra) {
    char buf[1024];
    std::snprintf(buf, sizeof buf, shape, extra);
    return std::string(buf);
  };
  for (const char* extra : {"", "\xff"}) {  // the tape, then the tree
    SCOPED_TRACE(extra[0] == 0 ? "tape" : "tree");
    Record r = Parse(Format::kJson, line(kTrail, extra));
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(FieldView(r).Find("event.dataset").str(), "aws.cloudtrail");  // before the tree
    EXPECT_EQ(Str(r, "event.dataset"), "aws.cloudtrail");
    EXPECT_EQ(r.time_ms, Ms("2025-11-26T03:51:00Z"));
    EXPECT_EQ(Str(r, "eventName"), "StopLogging");

    r = Parse(Format::kJson, line(kM365, extra));
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(FieldView(r).Find("event.dataset").str(), "m365.audit");
    EXPECT_EQ(Str(r, "event.dataset"), "m365.audit");
    EXPECT_EQ(r.time_ms, Ms("2025-11-26T03:52:10Z"));  // the schema's times are UTC
  }
  Record r = Parse(
      Format::kJson,
      R"({"time":"2025-11-26T03:53:26.9792776Z","resourceId":"/subscriptions/s1/resourceGroups/g/providers/microsoft.support/supporttickets/1","operationName":"microsoft.support/supporttickets/write","category":"Administrative","resultType":"Success"})");
  EXPECT_EQ(Str(r, "event.dataset"), "azure.activitylogs");
  EXPECT_EQ(r.time_ms, Ms("2025-11-26T03:53:26.979Z"));
  // A resource log (not one of the Activity log's categories), and a tenant's log.
  for (
      const char* other : {
          R"({"time":"2025-11-26T03:53:26Z","resourceId":"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N","operationName":"NetworkSecurityGroupEvents","category":"NetworkSecurityGroupEvent"})",
          R"({"time":"2025-11-26T03:53:26Z","resourceId":"/tenants/t1/providers/Microsoft.aadiam","operationName":"Sign-in activity","category":"Administrative"})",
      }) {
    EXPECT_EQ(Str(Parse(Format::kJson, other), "event.dataset"), "json") << other;
  }
  // A line's own dataset wins; a time member of the usual names too.
  r = Parse(
      Format::kJson,
      R"({"event.dataset":"fw.custom","eventVersion":"1.08","eventTime":"2025-11-26T03:51:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","time":"2025-11-26T03:00:00Z"})");
  EXPECT_EQ(Str(r, "event.dataset"), "fw.custom");
  EXPECT_EQ(r.time_ms, Ms("2025-11-26T03:00:00Z"));
  // Near misses stay generic JSON lines.
  for (
      const char* near : {
          R"({"eventVersion":"1.08","eventTime":"2025-11-26T03:51:00Z","eventSource":"s3.example.com","eventName":"GetObject"})",
          R"({"eventVersion":"1.08","eventTime":"2025-11-26T03:51:00Z","eventSource":"s3.amazonaws.com"})",
          R"({"eventVersion":1.08,"eventTime":"2025-11-26T03:51:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject"})",
          R"({"CreationTime":"2025-11-26T03:52:10","Operation":"UserLoggedIn","OrganizationId":"x","RecordType":"15","Workload":"AzureActiveDirectory"})",
          R"({"CreationTime":"2025-11-26T03:52:10","Operation":"UserLoggedIn","RecordType":15,"Workload":"AzureActiveDirectory"})",
      }) {
    SCOPED_TRACE(near);
    r = Parse(Format::kJson, near);
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(Str(r, "event.dataset"), "json");
    EXPECT_EQ(r.time_ms, kReceived);
  }
}

// Entra ID Protection's risk detections as Microsoft Graph returns them are known by the
// riskDetection resource's members (Sigma's azure/riskdetection rules select them so), their
// time is the risky activity's; the tape and the tree agree. Near misses stay generic.
TEST(ParseJsonTest, EntraRiskDetectionsAreKnownByTheirSchema) {
  constexpr char kRisk[] =
      R"({"id":"1c1f9a4b7d0e4a1f","riskEventType":"unlikelyTravel","riskState":"atRisk","riskLevel":"medium","riskDetail":"none","source":"IdentityProtection","detectionTimingType":"offline%s","activity":"signin","ipAddress":"203.0.113.24","activityDateTime":"2025-11-26T03:40:12.123Z","detectedDateTime":"2025-11-26T03:55:20.456Z","userPrincipalName":"taro.yamada@city.example.lg.jp"})";
  for (const char* extra : {"", "\xff"}) {  // the tape, then the tree
    SCOPED_TRACE(extra[0] == 0 ? "tape" : "tree");
    char buf[1024];
    std::snprintf(buf, sizeof buf, kRisk, extra);
    Record r = Parse(Format::kJson, buf);
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(FieldView(r).Find("event.dataset").str(), "azure.riskdetection");
    EXPECT_EQ(Str(r, "event.dataset"), "azure.riskdetection");
    EXPECT_EQ(r.time_ms, Ms("2025-11-26T03:40:12.123Z"));
    EXPECT_EQ(Str(r, "riskEventType"), "unlikelyTravel");
  }
  // Graph's activityDateTime is nullable: the detection's time then.
  Record r = Parse(
      Format::kJson,
      R"({"riskEventType":"leakedCredentials","riskState":"atRisk","riskLevel":"high","activity":"user","activityDateTime":null,"detectedDateTime":"2025-11-26T03:55:20Z"})");
  EXPECT_EQ(Str(r, "event.dataset"), "azure.riskdetection");
  EXPECT_EQ(r.time_ms, Ms("2025-11-26T03:55:20Z"));
  for (
      const char* near : {
          // No detectedDateTime; a riskLevel not a string; a Log Analytics row (AADUserRiskEvents).
          R"({"riskEventType":"unlikelyTravel","riskState":"atRisk","riskLevel":"medium","activityDateTime":"2025-11-26T03:40:12Z"})",
          R"({"riskEventType":"unlikelyTravel","riskState":"atRisk","riskLevel":2,"activityDateTime":"2025-11-26T03:40:12Z","detectedDateTime":"2025-11-26T03:55:20Z"})",
          R"({"RiskEventType":"unlikelyTravel","RiskState":"atRisk","RiskLevel":"medium","ActivityDateTime":"2025-11-26T03:40:12Z","DetectedDateTime":"2025-11-26T03:55:20Z"})",
      }) {
    SCOPED_TRACE(near);
    r = Parse(Format::kJson, near);
    ASSERT_TRUE(r.parsed);
    EXPECT_EQ(Str(r, "event.dataset"), "json");
    EXPECT_EQ(r.time_ms, kReceived);
  }
}

}  // namespace
}  // namespace seccloud::soc
