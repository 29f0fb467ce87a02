// The store's field tokens of a pending record (index_tape_tokens.h) against the tree walk on the
// tree Record::fields() then builds (R18, issue 5): the same multiset of token hashes — and of
// token texts — for every line of the bench set's seccloud and JSON files when present, for
// generated lines, and for hostile JSON (duplicate keys and objects, dotted keys, the reserved
// paths in every form, non-objects where the metadata goes, IPv6 in every spelling, arrays of
// objects past the depth bound, numbers at the 10,000 edges, long messages, escapes). The tape is
// walked first, then the tree built.

#include "soc/index_tape_tokens.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "soc/index_tokens.h"
#include "soc/parse.h"
#include "soc/record.h"
#include "soc/store.h"
#include "soc/store_internal.h"

namespace seccloud::soc {
namespace {

using store_internal::TokenHash;
using store_internal::TokenHashPadded;

// The store's emitter (store_embedded.cc AppendTokenHashes): hashes, with its Padded, Lowered
// and HasTextTokensOf.
struct Hashes {
  std::vector<uint64_t> out;
  std::string_view raw;
  void operator()(std::string_view t) { out.push_back(TokenHash(t)); }
  void Padded(const char* p, size_t n) { out.push_back(TokenHashPadded(p, n)); }
  void Lowered(std::string_view s) { out.push_back(index_tokens::LoweredTokenHash(s)); }
  bool HasTextTokensOf(std::string_view text) const {
    return index_tokens::TextTokensWithin(raw, text);
  }
};

// The plain emitter (query_tokens.cc's): token texts, lowered by EmitLowered.
struct Texts {
  std::vector<std::string> out;
  void operator()(std::string_view t) { out.emplace_back(t); }
};

struct Outcome {
  bool pending = false;  // Normalize kept a tape
  bool walked = false;   // the tape walk decided
};

Record MakeRecord(Format format, std::string raw, std::string tenant, std::string peer,
                  std::string source = "spool:test") {
  Record r;
  r.format = format;
  r.raw = std::move(raw);
  r.received_ms = 1'764'115'200'000;
  r.source = std::move(source);
  r.peer = std::move(peer);
  r.tenant = std::move(tenant);
  return r;
}

// Normalizes r, walks its tape (when kept) with both emitters, then builds the tree and walks it;
// fails the test on any difference.
Outcome Check(Record r, const std::string& what) {
  Normalize(r);
  Outcome o;
  o.pending = r.fields_pending();
  if (!o.pending) return o;
  Hashes tape_h{{}, r.raw};
  Texts tape_t;
  const bool walked_h = index_tokens::PendingFieldTokens(*r.pending_fields(), tape_h);
  const bool walked_t = index_tokens::PendingFieldTokens(*r.pending_fields(), tape_t);
  EXPECT_EQ(walked_h, walked_t) << what;
  o.walked = walked_h;
  std::string_view tape_dataset;
  const bool dataset_known = index_tokens::PendingDatasetOf(*r.pending_fields(), &tape_dataset);
  const std::string dataset_copy(tape_dataset);
  Hashes tree_h{{}, r.raw};
  Texts tree_t;
  index_tokens::ObjectTokens(r.fields(), "", 0, tree_h);  // builds the tree
  index_tokens::ObjectTokens(r.fields(), "", 0, tree_t);
  EXPECT_FALSE(r.fields_pending());
  if (dataset_known) {
    const auto* d = FindField(r.fields(), "event.dataset");
    EXPECT_TRUE(d != nullptr && d->is_string() && d->get_string() == dataset_copy) << what;
  }
  if (!o.walked) return o;
  std::sort(tape_h.out.begin(), tape_h.out.end());
  std::sort(tree_h.out.begin(), tree_h.out.end());
  std::sort(tape_t.out.begin(), tape_t.out.end());
  std::sort(tree_t.out.begin(), tree_t.out.end());
  EXPECT_EQ(tape_t.out, tree_t.out) << what << "\nfields: " << boost::json::serialize(r.fields());
  EXPECT_EQ(tape_h.out, tree_h.out) << what;
  return o;
}

// Every metadata variant a record can come with: spool lines without a tenant, attributed
// records, IPv4 / IPv6 / bracketed / non-address peers.
struct Meta {
  const char* tenant;
  const char* peer;
};
constexpr Meta kMetas[] = {
    {"", ""},
    {"t01", "192.0.2.7"},
    {"tsu", "2001:DB8::0001"},
    {"", "[fe80::1%eth0]"},
    {"ise", "not-an-address"},
};

// The line with what a seccloud event must hold (a string event.dataset, an RFC 3339
// @timestamp) put first, dotted or nested, so the event parses and its tape is kept.
std::string AsSeccloudEvent(const std::string& line, bool nested) {
  const std::string head =
      nested ? R"("@timestamp":"2026-10-02T00:00:23.663Z","event":{"dataset":"sec.nested"})"
             : R"("@timestamp":"2026-10-02T00:00:23.663Z","event.dataset":"sec.dotted")";
  if (line.size() < 2 || line[0] != '{') return line;
  const bool empty = line.find_first_not_of(" \t", 1) == line.size() - 1;
  return "{" + head + (empty ? "" : ",") + line.substr(1);
}

struct Counts {
  size_t records = 0, pending = 0, walked = 0;
};

void CheckAll(Format format, const std::string& line, Counts* c, size_t meta_from = 0,
              size_t meta_to = std::size(kMetas)) {
  for (size_t m = meta_from; m < meta_to; ++m) {
    const Outcome o = Check(MakeRecord(format, line, kMetas[m].tenant, kMetas[m].peer),
                            std::string(FormatName(format)) + " meta " + std::to_string(m) + ": " +
                                line.substr(0, 2000));
    ++c->records;
    c->pending += o.pending;
    c->walked += o.walked;
  }
}

// Keys of a reserved path's (or its dotted prefix's) size, first and last byte that differ from
// it in one middle byte: neither erased nor descended into with the reserved paths' rests. Every
// position of every reserved path, as a dotted key and as nested objects (the review of prep18:
// the hostile lines' near misses all differed in size or last byte, and two mutants of
// MatchErase's compares — none on a dotted prefix, the last byte only on an exact key — passed).
TEST(IndexTapeTokensTest, EraseNearMissesInTheMiddle) {
  const char* reserved[] = {"@timestamp",
                            "event.ingested",
                            "event.dataset",
                            "seccloud.soc.source",
                            "seccloud.soc.format",
                            "seccloud.soc.peer",
                            "seccloud.soc.parse_error",
                            "tenant.id"};
  auto nested = [](const std::string& path, const std::string& value) {
    std::string open, close;
    size_t from = 0;
    for (size_t dot; (dot = path.find('.', from)) != std::string::npos; from = dot + 1) {
      open += "{\"" + path.substr(from, dot - from) + "\":";
      close += "}";
    }
    return open + "{\"" + path.substr(from) + "\":\"" + value + "\"}" + close;
  };
  std::vector<std::string> lines = {
      R"({"eXent":{"dataset":"d1","ingested":"i1"},"tXnant":{"id":"t1"}})",
      R"({"sXccloud":{"soc":{"source":"s1","peer":"p1"}},"seccloud":{"sXc":{"format":"f1"}}})",
      R"({"seccloud":{"soc":{"sXurce":"s2","pXer":"p2","fXrmat":"f2","parse_errXr":"e2"}}})",
      R"({"event":{"dXtaset":"d3","iXgested":"i3"},"tenant":{"iX":"t3"}})",
  };
  for (const char* r : reserved) {
    const std::string path = r;
    for (size_t i = 1; i + 1 < path.size(); ++i) {
      if (path[i] == '.') continue;
      std::string near = path;
      near[i] = path[i] == 'X' ? 'Y' : 'X';
      const std::string value = "v" + std::to_string(lines.size());
      lines.push_back("{\"" + near + "\":\"" + value + "\",\"" + path + "\":\"kept\"}");
      const std::string inner = nested(near, value);
      lines.push_back("{\"a\":1," + inner.substr(1, inner.size() - 2) + "}");
    }
  }
  Counts c;
  for (const std::string& line : lines) {
    CheckAll(Format::kJson, line, &c);
    CheckAll(Format::kSeccloudEvent, AsSeccloudEvent(line, false), &c);
    CheckAll(Format::kSeccloudEvent, AsSeccloudEvent(line, true), &c);
    ASSERT_FALSE(HasFatalFailure()) << line;
  }
  EXPECT_GT(lines.size(), 100u);
  EXPECT_GT(c.pending, c.records / 2);
  EXPECT_EQ(c.walked, c.pending);
}

TEST(IndexTapeTokensTest, HostileShapesGiveTheTreeWalksTokens) {
  const std::string long_message(5000, 'w');
  std::string kept_message;  // long, but short enough for the line to be kept as a tape
  for (int i = 0; i < 80; ++i) kept_message += "Word" + std::to_string(i * 37) + " ";
  std::string deep_array = R"({"a":)";
  for (int i = 0; i < 17; ++i) deep_array += R"([{"k":"v)" + std::to_string(i) + R"(","n":)";
  deep_array += "1";
  for (int i = 0; i < 17; ++i) deep_array += "}]";
  deep_array += "}";
  std::string deep_object = "{";
  for (int i = 0; i < 20; ++i)
    deep_object += R"("o)" + std::to_string(i) + R"(":{"x":"y)" + std::to_string(i) + R"(",)";
  deep_object += R"("z":1)";
  for (int i = 0; i < 20; ++i) deep_object += "}";
  deep_object += "}";
  std::string wide = "{";
  for (int i = 0; i < 70; ++i)
    wide += (i ? "," : "") + std::string(R"("k)") + std::to_string(i) + R"(":)" + std::to_string(i);
  wide += "}";
  {
    // An object wider than the walk takes is left to the tree.
    Record r = MakeRecord(Format::kJson, wide, "t01", "");
    Normalize(r);
    ASSERT_TRUE(r.fields_pending());
    Texts t;
    EXPECT_FALSE(index_tokens::PendingFieldTokens(*r.pending_fields(), t));
  }
  const std::vector<std::string> lines = {
      R"({})",
      R"({"a":1})",
      R"({"a":1,"a":2,"a":"x"})",
      R"({"a":{"b":"first"},"a":{"c":"second"}})",
      R"({"a":{"b":1},"a":{"b":1}})",
      R"({"a":{"b":1,"b":{"c":"in"},"b":[1,2,{"d":"e"}]}})",
      R"({"client.ip":"10.0.0.1","client":{"ip":"10.0.0.2"}})",
      R"({"event":{"dataset":"proxy.access","kind":"event","ingested":"x","created":"y"}})",
      R"({"event.dataset":"dotted","event":{"dataset":"nested"}})",
      R"({"event.dataset":"dotted"})",
      R"({"event":"x"})",
      R"({"event":"x","event.dataset":"d"})",
      R"({"event":["x",{"dataset":"in-array"}]})",
      R"({"event":null,"seccloud":null,"tenant":null})",
      R"({"event":{"a":1},"event":"later"})",
      R"({"event":"earlier","event":{"a":1,"dataset":"late"}})",
      R"({"event":7,"seccloud":true,"tenant":"t"})",
      R"({"seccloud":"x"})",
      R"({"seccloud":{"soc":"x","other":"kept"}})",
      R"({"seccloud":{"soc":{"source":"s","format":"f","peer":"p","parse_error":"e","x":"kept"}}})",
      R"({"seccloud.soc":{"source":"s","format":"f","y":"kept"},"seccloud":{"soc.peer":"p","soc.x":"kept"}})",
      R"({"seccloud.soc.source":"s","seccloud.soc.format":"f","seccloud.soc.peer":"p","seccloud.soc.parse_error":"e"})",
      R"({"@timestamp":"2025-11-26T00:00:00Z","event.ingested":"z","message":"hello world from 10.1.2.3"})",
      R"({"tenant":{"id":"own"},"tenant.id":"dotted"})",
      R"({"tenant":"flat"})",
      R"({"tenant":{"id":"own","name":"n"}})",
      R"({"source":{"ip":"2001:0db8:0000:0000:0000:0000:0000:0001"}})",
      R"({"source":{"ip":"2001:db8::1"}})",
      R"({"source":{"ip":"2001:DB8::1"},"destination":{"ip":"::ffff:192.0.2.1"}})",
      R"({"source.ip":"::FFFF:c000:0201","source":{"ip":"10.0.0.1","port":53}})",
      R"({"source":"flat","source.ip":"fe80::0001"})",
      R"({"source":["a","b"],"source.ip":"FE80::1"})",
      R"({"client.ip":"::1","client":{"ip":"0:0:0:0:0:0:0:1"}})",
      R"({"server":{"ip":"[::1]"},"host":{"ip":"fe80::1%eth0"}})",
      R"({"host":{"ip":["fe80::1","::2"]},"related":{"ip":["2001:db8::1","2001:DB8::2"]}})",
      R"({"related.ip":"2001:0DB8::3","related":{"ip":"x"}})",
      R"({"destination":{"ip":"1.2.3.4:80"},"server.ip":"1:2:3:4:5:6:7:8"})",
      R"({"source":{"ip":"::ffff:1.2.3.4"},"source":{"ip":"::FFFF:1.2.3.5","port":1}})",
      R"({"n":[9999,10000,-9999,-10000,9999.0,10000.0,-9999.5,1e4,9.999e3,18446744073709551615,9223372036854775807,-9223372036854775808,0.0,-0.0,1e400]})",
      R"({"u":18446744073709541616,"v":9999,"w":-10000,"x":10000})",
      R"({"b":[true,false,null],"s":"","e":[],"o":{}})",
      R"({"message":"the message repeats the raw text","error":{"message":"boom at 192.0.2.5 now"},"error.message":"dotted text"})",
      R"({"message":")" + long_message + R"("})",
      R"({"message":")" + kept_message + R"("})",
      R"({"message":")" + kept_message + R"(","error":{"message":"not in raw? )" + kept_message +
          R"("}})",
      R"({"message":"escaped \"quote\" \u00e9\n\ttab 1.2.3.4","k\u0065y":"v\u0061l"})",
      R"({"a.b":{"c.d":"e"},"a":{"b":{"c":{"d":"f"}}}})",
      R"({"":"empty key",".":"dot","..":{"":"x"}})",
      R"({"x":[[1,2],[{"a":"nested-array-object"}]]})",
      R"({"UPPER":"MiXeD CaSe","url":"HTTP://EXAMPLE.COM/A"})",
      // Keys the walk's erase filter (ErasePaths: first byte and size) lets through without
      // being a reserved path or its dotted prefix, and near misses of every kind.
      R"({"source":"s6","seccloud":{"seq":1,"soc":{"sourcE":"x","formats":"y","peer.x":"z"}}})",
      R"({"event":{"duration":1,"id":"i","dataset":"a","dataset":"b","ingested":"c","":"e"}})",
      R"({"event":{"datasets":"x","ingestes":"y","d":"z","i":"w"},"@timestamq":"t","@":"a"})",
      R"({"event.datasex":"x","event.ingesteD":"y","event.":"z","event..dataset":"w"})",
      R"({"tenant":{"id":"a","id":"b","idx":"c","i":"d"},"tenant.idx":"e","tenant.":"f"})",
      R"({"seccloud.soc.sourcex":"a","seccloud.so":{"c":"b"},"seccloud.":{"soc":"c"}})",
      R"({"seccloud":{"soc":{"source":{"deep":"x"},"format":[1,2],"peer":null}}})",
      R"({"event":{"dataset":{"x":"obj"},"ingested":[1,"two"]},"@timestamp":{"a":"b"}})",
      R"({"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee":"long",)"
      R"("ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss":{"soc":"x"}})",
      R"({"seccloud":{"soc":{"source":"a"},"soc":{"format":"b","parse_error":"c"}}})",
      R"({"seccloud":{"soc.source":"a","soc":{"peer":"b"},"soc.parse_error":"c"}})",
      deep_array,
      deep_object,
  };
  Counts c;
  for (size_t i = 0; i < lines.size(); ++i) {
    CheckAll(Format::kJson, lines[i], &c);
    CheckAll(Format::kSeccloudEvent, AsSeccloudEvent(lines[i], i % 2 == 0), &c);
  }
  // Not kept: the 5,000-byte message (too long to be kept) and the seccloud events whose own
  // keys override the event.dataset put first (not a seccloud event then).
  // (50: ten of them from the erase-filter lines, whose own event.dataset is an object or given
  // twice.)
  EXPECT_GE(c.pending, c.records - 50);
  EXPECT_EQ(c.walked, c.pending);
}

TEST(IndexTapeTokensTest, GeneratedLines) {
  // Seccloud-event-shaped lines with their parts varied: each part present or not, in the usual
  // or a hostile form.
  std::mt19937 rng(13);
  const std::vector<std::string> parts = {
      R"("@timestamp":"2026-10-02T00:00:23.663Z")",
      R"("event":{"dataset":"proxy.access","kind":"event","category":["web","network"],"action":"allowed","duration":654506866})",
      R"("event":{"dataset":"dns.query","ingested":"x"})",
      R"("event.dataset":"x.y")",
      R"("event":"flat")",
      R"("observer":{"name":"sc-node1","type":"proxy"})",
      R"("tenant":{"id":"t09"})",
      R"("tenant.id":"t10")",
      R"("client.ip":"10.9.250.1")",
      R"("client.ip":"2001:DB8:0::1")",
      R"("source":{"ip":"10.9.0.245"})",
      R"("source":{"ip":"::ffff:10.9.0.245","port":5353})",
      R"("seccloud":{"seq":1,"attribution":"xff","url":{"category":"news"},"verdict":{"action":"allow"}})",
      R"("seccloud":{"soc":{"source":"forged"}})",
      R"("destination":{"ip":"61.43.60.52","port":443,"domain":"img.lg.jp"})",
      R"("http":{"request":{"method":"GET","bytes":1923},"response":{"status_code":304,"bytes":10048}})",
      R"("url":{"full":"https://img.lg.jp/api/v1/items","domain":"img.lg.jp"})",
      R"("dns":{"question":{"name":"Example.COM","type":"AAAA"},"answers":[{"data":"2001:db8::5","ttl":300},{"data":"192.0.2.9","ttl":9999}]})",
      R"("message":"GET /index.html 200 from 10.0.0.1")",
      R"("error":{"message":"timeout after 10000 ms"})",
  };
  Counts c;
  for (int n = 0; n < 400; ++n) {
    std::string line = "{";
    bool first = true;
    for (const std::string& p : parts) {
      if (rng() % 3 == 0) continue;
      if (!first) line += ",";
      line += p;
      first = false;
    }
    // Sometimes a part twice (a duplicate key).
    if (rng() % 4 == 0) line += std::string(first ? "" : ",") + parts[rng() % parts.size()];
    line += "}";
    const bool seccloud = n % 2 != 0;
    CheckAll(seccloud ? Format::kSeccloudEvent : Format::kJson,
             seccloud ? AsSeccloudEvent(line, n % 4 == 1) : line, &c, n % std::size(kMetas),
             n % std::size(kMetas) + 1);
  }
  // Lines longer than kMaxParsedFields - 12 bytes are not kept as tapes (Normalize).
  EXPECT_GT(c.pending, c.records / 3);
  EXPECT_EQ(c.walked, c.pending);
}

// Every line of the bench set's seccloud files, and its EVE and Windows lines read as JSON lines
// (read only when the set is there: /tmp/socbench-small, bench/loggen's).
TEST(IndexTapeTokensTest, BenchSetLines) {
  const std::filesystem::path dir = "/tmp/socbench-small";
  if (!std::filesystem::exists(dir / "seccloud-dns.ndjson")) {
    GTEST_SKIP() << "no " << dir;
  }
  struct File {
    const char* name;
    Format format;
  };
  Counts c;
  for (const File f : {File{"seccloud-dns.ndjson", Format::kSeccloudEvent},
                       File{"seccloud-proxy.ndjson", Format::kSeccloudEvent},
                       File{"seccloud-scan.ndjson", Format::kSeccloudEvent},
                       File{"eve.json", Format::kJson}, File{"windows.json", Format::kJson}}) {
    std::ifstream in(dir / f.name);
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      // One metadata variant per line, in turn (all of them on every line in the other tests).
      const size_t m = n++ % std::size(kMetas);
      CheckAll(f.format, line, &c, m, m + 1);
    }
  }
  std::printf("bench set: %zu records, %zu kept as tapes, %zu walked on the tape\n", c.records,
              c.pending, c.walked);
  EXPECT_GT(c.records, 60000u);
  EXPECT_EQ(c.walked, c.pending);
  EXPECT_GT(c.pending, c.records * 9 / 10);
}

// LeafIndexed (the overlay walk's key rules along a path, by first byte, compared inline) against
// its definition with string_view's compares, on paths at and around every rule's edge.
bool ReferenceLeafIndexed(std::string_view path, bool* text_field) {
  constexpr std::string_view kTimestamp = "@timestamp", kIngested = "event.ingested";
  if (path.starts_with(kTimestamp) &&
      (path.size() == kTimestamp.size() || path[kTimestamp.size()] == '.')) {
    return false;
  }
  if (path.starts_with(kIngested) &&
      (path.size() == kIngested.size() || path[kIngested.size()] == '.')) {
    return false;
  }
  if (path.size() > 33 && std::count(path.begin(), path.end(), '.') > 16) return false;
  *text_field = path == "message" || path == "error.message";
  return true;
}

TEST(IndexTapeTokensTest, LeafIndexedFollowsTheKeyRules) {
  std::vector<std::string> paths = {"",
                                    "@",
                                    "@timestamp",
                                    "@timestamp.x",
                                    "@timestampx",
                                    "@timestam",
                                    "@Timestamp",
                                    "event.ingested",
                                    "event.ingested.a",
                                    "event.ingestedx",
                                    "event.ingeste",
                                    "event.dataset",
                                    "event",
                                    "e",
                                    "error.message",
                                    "error.messagex",
                                    "error.messag",
                                    "error.Message",
                                    "message",
                                    "messages",
                                    "messag",
                                    "m",
                                    "Message",
                                    "source.ip",
                                    "tenant.id",
                                    "winlog.event_data.TargetUserName",
                                    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q",
                                    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r",
                                    "e.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r",
                                    "m.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r",
                                    "message.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p",
                                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  // Every path with one byte changed at each position (the rules' bytes and their neighbours).
  const std::vector<std::string> seeds(paths.begin(), paths.end());
  for (const std::string& seed : seeds) {
    for (size_t i = 0; i < seed.size(); ++i) {
      for (const char c : {'.', 'x', '\0', '\xff', static_cast<char>(seed[i] ^ 0x20)}) {
        std::string p = seed;
        p[i] = c;
        paths.push_back(p);
      }
    }
  }
  for (const std::string& p : paths) {
    bool text = true, ref_text = true;
    const bool indexed = index_tokens::overlay_walk::LeafIndexed(p, &text);
    const bool ref_indexed = ReferenceLeafIndexed(p, &ref_text);
    EXPECT_EQ(indexed, ref_indexed) << p;
    if (ref_indexed) {
      EXPECT_EQ(text, ref_text) << p;
    }
  }
}

// Prepare end to end: a pending record's prepared hashes, dataset and "without fields" mark are
// those of the same record with its tree built.
TEST(IndexTapeTokensTest, PrepareTakesTheTapeWithoutBuildingTheTree) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tape_tokens_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  EmbeddedStoreOptions options;
  options.directory = dir;
  options.normalize = [](Record& r) { Normalize(r); };
  auto store = OpenEmbeddedStore(options);
  ASSERT_TRUE(store) << store.error().message;
  const std::vector<std::string> lines = {
      R"({"event":{"dataset":"proxy.access"},"source":{"ip":"2001:DB8::1"},"message":"m 1.2.3.4"})",
      R"({"event":"x","seccloud":{"soc":7}})",
      R"({"a":1})",
  };
  for (const std::string& json : lines) {
    for (const Format format : {Format::kJson, Format::kSeccloudEvent}) {
      const std::string line =
          format == Format::kSeccloudEvent ? AsSeccloudEvent(json, false) : json;
      Record r = MakeRecord(format, line, "t01", "2001:db8::0001");
      Normalize(r);
      ASSERT_TRUE(r.fields_pending());
      PreparedBatch tape;
      (*store)->Prepare(r, &tape);
      EXPECT_TRUE(r.fields_pending()) << "Prepare built the tree";
      r.fields();  // the tree
      PreparedBatch tree;
      (*store)->Prepare(r, &tree);
      std::sort(tape.hashes.begin(), tape.hashes.end());
      std::sort(tree.hashes.begin(), tree.hashes.end());
      EXPECT_EQ(tape.hashes, tree.hashes) << line;
      EXPECT_EQ(tape.datasets, tree.datasets) << line;
      EXPECT_EQ(tape.without_fields, tree.without_fields) << line;
      EXPECT_EQ(tape.records, tree.records) << line;
    }
  }
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace seccloud::soc
