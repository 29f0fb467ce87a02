#include "soc/record.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <random>
#include <string>
#include <vector>

#include "soc/field_tape.h"
#include "soc/field_view.h"
#include "soc/parse.h"
#include "soc/parse_internal.h"
#include "soc/parse_testing.h"

namespace seccloud::soc {
namespace {

TEST(RecordTest, FormatNamesRoundTrip) {
  for (Format f : {Format::kSeccloudEvent, Format::kSyslog, Format::kJson, Format::kSuricataEve,
                   Format::kAccessLog, Format::kWindowsEvent, Format::kText}) {
    Format back{};
    ASSERT_TRUE(ParseFormatName(FormatName(f), &back)) << FormatName(f);
    EXPECT_EQ(back, f);
  }
  Format f{};
  EXPECT_FALSE(ParseFormatName("nope", &f));
}

TEST(RecordTest, FindFieldWalksNestedAndDottedKeys) {
  const auto fields =
      boost::json::parse(R"({"source":{"ip":"10.1.2.3"},"a.b":{"c":1},"x":{"y.z":true},"n":2})")
          .as_object();
  ASSERT_NE(FindField(fields, "source.ip"), nullptr);
  EXPECT_EQ(FindField(fields, "source.ip")->as_string(), "10.1.2.3");
  ASSERT_NE(FindField(fields, "a.b.c"), nullptr);
  EXPECT_EQ(FindField(fields, "a.b.c")->as_int64(), 1);
  ASSERT_NE(FindField(fields, "x.y.z"), nullptr);
  EXPECT_TRUE(FindField(fields, "x.y.z")->as_bool());
  EXPECT_EQ(FindField(fields, "source.port"), nullptr);
  EXPECT_EQ(FindField(fields, "n.m"), nullptr);
  EXPECT_EQ(FindField(fields, ""), nullptr);
  EXPECT_EQ(FindField(fields, "."), nullptr);
}

// FindField's contract, spelled as the plain longest-key-first search it must agree with.
const boost::json::value* ReferenceFindField(const boost::json::object& fields,
                                             std::string_view path) {
  const boost::json::object* obj = &fields;
  while (true) {
    for (size_t end = path.size();; end = path.rfind('.', end - 1)) {
      if (end == std::string_view::npos || end == 0) return nullptr;
      const auto* v = obj->if_contains(path.substr(0, end));
      if (v != nullptr) {
        if (end == path.size()) return v;
        if (const auto* next = v->if_object()) {
          obj = next;
          path.remove_prefix(end + 1);
          break;
        }
      }
    }
  }
}

// Random objects with dotted keys, small and large (FindField searches them differently), and
// random paths over the same names: FindField finds exactly what the reference finds.
TEST(RecordTest, FindFieldAgreesWithLongestKeyFirstSearch) {
  std::mt19937 rng(18);
  const std::vector<std::string>& names = parse_testing::kDottedNames;
  size_t found = 0;
  for (int round = 0; round < 2000; ++round) {
    const boost::json::object o = parse_testing::RandomDottedObject(rng, names, 3);
    for (int q = 0; q < 20; ++q) {
      const std::string path = parse_testing::RandomDottedPath(rng, names);
      const auto* want = ReferenceFindField(o, path);
      EXPECT_EQ(FindField(o, path), want) << path << " in " << boost::json::serialize(o);
      found += want != nullptr;
    }
  }
  EXPECT_GT(found, 1000u);
}

TEST(RecordTest, SetFieldCreatesObjects) {
  boost::json::object fields;
  SetField(fields, "source.ip", "10.0.0.1");
  SetField(fields, "source.port", 53);
  SetField(fields, "n", 1);
  SetField(fields, "n.m", 2);  // replaces the number with an object
  EXPECT_EQ(boost::json::serialize(fields),
            R"({"source":{"ip":"10.0.0.1","port":53},"n":{"m":2}})");
}

TEST(RecordTest, Rfc3339RoundTrip) {
  int64_t ms = 0;
  ASSERT_TRUE(ParseRfc3339Ms("2026-11-26T03:20:22.123Z", &ms));
  EXPECT_EQ(FormatTimeMs(ms), "2026-11-26T03:20:22.123Z");
  ASSERT_TRUE(ParseRfc3339Ms("2026-11-26T12:20:22+09:00", &ms));
  EXPECT_EQ(FormatTimeMs(ms), "2026-11-26T03:20:22.000Z");
  ASSERT_TRUE(ParseRfc3339Ms("1970-01-01T00:00:00.5Z", &ms));
  EXPECT_EQ(ms, 500);
  ASSERT_TRUE(ParseRfc3339Ms("2025-11-27T07:40:10.165324Z", &ms));
  EXPECT_EQ(FormatTimeMs(ms), "2025-11-27T07:40:10.165Z");
  EXPECT_EQ(FormatTimeMs(-1), "1969-12-31T23:59:59.999Z");
  for (const char* bad :
       {"", "2026-11-26", "2026-11-26T03:20:22", "2026-13-26T03:20:22Z", "2026-11-26T03:20:22.Z",
        "2026-11-26T03:20:22Zjunk", "2026-11-26T03:20:22+0900", "20x6-11-26T03:20:22Z"}) {
    EXPECT_FALSE(ParseRfc3339Ms(bad, &ms)) << bad;
  }
}

// Fields built in a record's arena (UseFieldArena, as Normalize does) never end up shared by two
// Records: copies go to the default heap, moves take the arena along and leave the source empty
// on the default heap.
TEST(RecordTest, CopiesNeverShareTheFieldArena) {
  const boost::json::storage_ptr heap;
  Record r;
  r.raw = "x";
  r.source = "a-source-name-longer-than-sso";
  UseFieldArena(r);
  EXPECT_NE(r.fields().storage().get(), heap.get());
  SetField(r.fields(), "source.ip", boost::json::string("10.1.2.3", r.fields().storage()));
  SetField(r.fields(), "message", boost::json::string(std::string(100, 'm'), r.fields().storage()));
  const boost::json::object want = boost::json::object(r.fields(), heap);

  Record copy(r);
  EXPECT_EQ(copy.fields(), want);
  EXPECT_EQ(copy.fields().storage().get(), heap.get());
  EXPECT_EQ(copy.fields().at("source").as_object().storage().get(), heap.get());
  EXPECT_EQ(copy.source, r.source);
  EXPECT_EQ(copy.raw, r.raw);

  Record assigned;
  UseFieldArena(assigned);
  assigned = r;
  EXPECT_EQ(assigned.fields(), want);
  EXPECT_EQ(assigned.fields().storage().get(), heap.get());

  const auto* arena = r.fields().storage().get();
  Record moved(std::move(r));
  EXPECT_EQ(moved.fields(), want);
  EXPECT_EQ(moved.fields().storage().get(), arena);
  EXPECT_TRUE(r.fields().empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(r.fields().storage().get(), heap.get());

  Record move_assigned;
  move_assigned = std::move(moved);
  EXPECT_EQ(move_assigned.fields(), want);
  EXPECT_EQ(move_assigned.fields().storage().get(), arena);
  EXPECT_EQ(moved.fields().storage().get(), heap.get());  // NOLINT(bugprone-use-after-move)

  // Emptied fields (a store keeping only the raw record) do not carry the arena along.
  move_assigned.fields() = {};
  Record kept(std::move(move_assigned));
  EXPECT_TRUE(kept.fields().empty());
  EXPECT_EQ(kept.fields().storage().get(), heap.get());
  EXPECT_EQ(move_assigned.fields().storage().get(), heap.get());  // NOLINT(bugprone-use-after-move)
  Record kept2;
  kept2 = std::move(kept);
  EXPECT_EQ(kept2.fields().storage().get(), heap.get());

  // A new arena replaces the old fields.
  Record again = copy;
  UseFieldArena(again);
  EXPECT_TRUE(again.fields().empty());
  EXPECT_NE(again.fields().storage().get(), heap.get());
}

// A plain JSON record of ~8 KiB of an array of zeros holds ~20x its raw size once normalised;
// MemoryBytes says so (socd bounds its queues by it), where raw's size would say 8 KiB.
TEST(RecordTest, MemoryBytesCountsNormalizedJson) {
  Record r;
  r.format = Format::kJson;
  r.received_ms = 1'700'000'000'000;
  r.raw = R"({"message":"m","zeros":[0)";
  while (r.raw.size() + 4 <= (size_t{8} << 10)) r.raw += ",0";
  r.raw += "]}";
  EXPECT_EQ(r.MemoryBytes(), sizeof(Record) + r.raw.capacity());
  Normalize(r);
  ASSERT_TRUE(r.parsed);
  EXPECT_GE(r.MemoryBytes(), 10 * r.raw.size()) << r.MemoryBytes();

  Record line;
  line.format = Format::kJson;
  line.received_ms = 1'700'000'000'000;
  line.raw = R"({"message":"a short event","source":{"ip":"10.0.0.1"}})";
  Normalize(line);
  ASSERT_TRUE(line.parsed);
  EXPECT_LE(line.MemoryBytes(), size_t{8} << 10) << line.MemoryBytes();
}

// Seccloud events and JSON lines keep their tape (record.h) and build the tree on the first
// fields() call; the tape's views must survive the record's moves (a short raw lives in the
// record itself, SSO, and moves to a new address) and a later change of raw: the kept tape views
// copies of the line and its decoded escapes in the arena.
// Each record is moved and copied while still pending, other lines with other escapes are
// normalised on the same thread (the reading tape's scratch then holds other bytes), and its
// fields are compared with the tree Normalize builds without a tape: the same line padded with
// blanks past the length a kept tape is made for, which JSON reads as the same object.
// An escaped event.dataset is decoded into the reading tape's scratch buffer (sec20 reads the tape
// from the arena's copy of the line): the kept record must hold its own copy, not a view of the
// scratch that the next Normalize on the thread overwrites (KeepTape's range check on the
// dataset; a mutant without it kept the other record's dataset and passed every other test).
TEST(RecordTest, AnEscapedDatasetSurvivesTheNextNormalize) {
  auto make = [](std::string line) {
    Record r;
    r.format = Format::kSeccloudEvent;
    r.received_ms = 1'791'000'000'000;
    r.raw = std::move(line);
    Normalize(r);
    return r;
  };
  Record r =
      make(R"({"@timestamp":"2026-10-02T00:00:23.663Z","event":{"dataset":"proxy\u002eaccess"}})");
  ASSERT_TRUE(r.fields_pending());
  // Another line whose escapes are decoded into the same scratch buffer.
  Record o =
      make(R"({"@timestamp":"2026-10-02T00:00:23.663Z","event":{"dataset":"XXXXXXXXXXX\u0041"}})");
  FieldView view(r);
  const FieldRef d = view.Find("event.dataset");
  ASSERT_TRUE(d.is_string());
  EXPECT_EQ(d.str(), "proxy.access");
  EXPECT_EQ(FindField(r.fields(), "event.dataset")->as_string(), "proxy.access");
}

TEST(RecordTest, KeptTapeSurvivesMovesAndCopies) {
  const std::vector<std::string> lines = {
      R"({"a":"b"})",              // 9 bytes: in the SSO buffer
      R"({"k\u0041":"\u00e9t"})",  // escapes: decoded in the arena
      R"({"x":{"y":[1,-2,3.5]}})",
      R"({"source.ip":"::ffff:10.0.0.1","event":{"dataset":"d"}})",
      R"({"@timestamp":"2026-11-27T01:02:03Z","tenant":{"id":"t1"},"a":"a","a":"b"})",
      R"({"message":"a line long enough to be on the heap, not in the string's own buffer"})",
  };
  for (const Format format : {Format::kJson, Format::kSeccloudEvent}) {
    for (const std::string& line : lines) {
      auto normalized = [&] {
        Record r;
        r.format = format;
        r.received_ms = 1'764'000'000'000;
        r.source = "spool:test";
        r.peer = "192.0.2.7";
        r.raw = line;
        Normalize(r);
        return r;
      };
      Record tree;
      tree.format = format;
      tree.received_ms = 1'764'000'000'000;
      tree.source = "spool:test";
      tree.peer = "192.0.2.7";
      tree.raw = line + std::string(kMaxParsedFields, ' ');
      Normalize(tree);
      ASSERT_FALSE(tree.fields_pending()) << "the padded line must build its tree at once";
      const std::string want = boost::json::serialize(tree.fields());
      if (!tree.parsed) continue;  // a seccloud event needs event.dataset and @timestamp
      // Lines whose escapes differ from every line above, read between a kept Normalize and the
      // first fields() call: a view left in the scratch tape would read their bytes.
      auto other_lines = [&] {
        for (const char* other : {R"({"k\u0042":"\u00fcber","z\u0043":"\u3042\u3044"})",
                                  R"({"\u0071\u0072":"\n\t\"\\x","y":"\u00e9\u00e9\u00e9"})"}) {
          Record o;
          o.format = format;
          o.raw = other;
          Normalize(o);
        }
      };

      Record r = normalized();
      ASSERT_TRUE(r.fields_pending()) << line;
      other_lines();
      EXPECT_GE(r.MemoryBytes(),
                sizeof(Record) + r.pending_fields()->tape.size() * sizeof(TapeNode));
      Record moved(std::move(r));
      // Overwrite what the moved-from record's buffer held.
      r.raw.assign(line.size(), '#');  // NOLINT(bugprone-use-after-move)
      Record assigned;
      assigned = std::move(moved);
      moved.raw.assign(line.size(), '%');  // NOLINT(bugprone-use-after-move)
      std::vector<Record> grown;
      for (int i = 0; i < 9; ++i) grown.push_back(normalized());  // reallocations move them
      other_lines();
      ASSERT_TRUE(assigned.fields_pending());
      const Record copy = assigned;  // builds assigned's tree, then copies it
      EXPECT_EQ(boost::json::serialize(copy.fields()), want) << line;
      EXPECT_EQ(boost::json::serialize(assigned.fields()), want) << line;
      for (const Record& g : grown) EXPECT_EQ(boost::json::serialize(g.fields()), want) << line;
      // raw reassigned before the tree is built (its old buffer freed): the kept tape does not
      // view it.
      Record changed = normalized();
      other_lines();
      changed.raw = std::string(300, 'z');
      changed.raw.shrink_to_fit();
      EXPECT_EQ(boost::json::serialize(changed.fields()), want) << line;
    }
  }
}

// A kept tape's tree is built in an arena of its own, sized as Normalize sizes one for a tree:
// building it into the arena the tape had partly taken made the tree outgrow the first block and
// about doubled a seccloud event's memory (a proxy line: 14.8 KB against 6.5 KB).
TEST(RecordTest, ABuiltTapeTreeTakesNoMoreThanATreeBuiltAtOnce) {
  const std::string line =
      R"({"@timestamp":"2026-10-02T00:00:23.663Z","event":{"dataset":"proxy.access","kind":"event",)"
      R"("category":["web","network"],"type":["access"],"action":"allowed","outcome":"success",)"
      R"("id":"c0103c6b4d8ab358","duration":654506866},"observer":{"name":"sc-node1","type":"proxy"},)"
      R"("tenant":{"id":"t09"},"client.ip":"10.9.250.1","source":{"ip":"10.9.0.245"},"seccloud":)"
      R"({"seq":1,"attribution":"xff","url":{"category":"news"},"tls":{"mode":"intercepted"},)"
      R"("verdict":{"action":"allow","layer":"common"}},"destination":{"ip":"61.43.60.52","port":443,)"
      R"("domain":"img.lg.jp"},"http":{"request":{"method":"GET","bytes":1923},"response":)"
      R"({"status_code":304,"bytes":10048}},"url":{"full":"https://img.lg.jp/api/v1/items",)"
      R"("domain":"img.lg.jp"},"user_agent":{"original":"Go-http-client/1.1"}})";
  auto normalized = [&](const std::string& raw) {
    Record r;
    r.format = Format::kSeccloudEvent;
    r.received_ms = 1'764'000'000'000;
    r.source = "spool:proxy";
    r.raw = raw;
    Normalize(r);
    return r;
  };
  Record kept = normalized(line);
  ASSERT_TRUE(kept.parsed);
  ASSERT_TRUE(kept.fields_pending());
  const size_t pending_bytes = kept.MemoryBytes();
  // The same object built without a tape (padded past the length a tape is kept for).
  Record tree = normalized(line + std::string(kMaxParsedFields, ' '));
  ASSERT_FALSE(tree.fields_pending());
  ASSERT_EQ(boost::json::serialize(kept.fields()), boost::json::serialize(tree.fields()));
  EXPECT_FALSE(kept.fields_pending());
  // The tape's arena stays with the record, retired, until the record is moved (readers may still
  // hold views into the tape: record.h), and is counted meanwhile; a record kept (moved into a
  // block, a queue) holds the tree's arena alone.
  EXPECT_GT(kept.MemoryBytes(), pending_bytes);
  const Record moved = std::move(kept);
  const size_t tree_arena = tree.MemoryBytes() - tree.raw.capacity();
  const size_t kept_arena = moved.MemoryBytes() - moved.raw.capacity();
  EXPECT_LE(kept_arena, tree_arena) << "pending: " << pending_bytes;
  // And the tree fits the first block (no block added past it): NewFieldArena's 2 KiB + 4 × raw
  // for a seccloud event, with room for the arena's own head.
  EXPECT_LE(kept_arena, sizeof(Record) + 512 + 2048 + 4 * line.size()) << kept_arena;
}

}  // namespace
}  // namespace seccloud::soc
