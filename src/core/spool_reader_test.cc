#include "core/spool_reader.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/event_writer.h"
#include "core/temp_dir_testing.h"

namespace seccloud {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

std::string Line(uint64_t seq) {
  return R"({"event":{"dataset":"proxy.access"},"seccloud":{"seq":)" + std::to_string(seq) + "}}\n";
}

void AppendText(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::app | std::ios::binary) << text;
}

fs::path FileFor(const fs::path& dir, uint64_t first_seq) {
  return dir / SpoolFileName("proxy", first_seq);
}

// Next() must yield a record with `seq`.
void ExpectSeq(SpoolReader& reader, uint64_t seq) {
  auto r = reader.Next();
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_TRUE(*r) << "end of spool, expected seq " << seq;
  EXPECT_EQ((*r)->seq, seq);
}

void ExpectEnd(SpoolReader& reader) {
  auto r = reader.Next();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(*r) << "unexpected seq " << (*r)->seq;
}

TEST(SpoolReaderTest, EmptyOrMissingFilesIsCaughtUp) {
  TempDir tmp;
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  ExpectEnd(**reader);
  AppendText(FileFor(tmp.path(), 1), Line(1));  // the first file appears later
  ExpectSeq(**reader, 1);
  ExpectEnd(**reader);
  EXPECT_FALSE(SpoolReader::Open(tmp.path() / "missing", "proxy"));
}

TEST(SpoolReaderTest, ReadsFilesInSeqOrderAndIgnoresOthers) {
  TempDir tmp;
  // Written out of order on purpose; names sort numerically, not by creation.
  AppendText(FileFor(tmp.path(), 10), Line(10) + Line(11));
  AppendText(FileFor(tmp.path(), 1), Line(1) + Line(2) + Line(3));
  AppendText(FileFor(tmp.path(), 4), Line(4) + Line(5) + Line(6) + Line(7) + Line(8) + Line(9));
  AppendText(tmp.path() / "dns-00000000000000000001.ndjson", Line(99));
  AppendText(tmp.path() / "proxy-1.ndjson", Line(98));
  AppendText(tmp.path() / "proxy.lock", "");
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  for (uint64_t s = 1; s <= 11; ++s) ExpectSeq(**reader, s);
  ExpectEnd(**reader);
}

TEST(SpoolReaderTest, ReportsGapThenContinues) {
  TempDir tmp;
  AppendText(FileFor(tmp.path(), 1), Line(1) + Line(2) + Line(5) + Line(6) + Line(6));
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  ExpectSeq(**reader, 1);
  ExpectSeq(**reader, 2);
  auto gap = (*reader)->Next();
  ASSERT_FALSE(gap);
  EXPECT_NE(gap.error().message.find(":" + std::to_string(Line(1).size() * 2) +
                                     ": seq gap: expected 3, got 5"),
            std::string::npos)
      << gap.error().message;
  ASSERT_TRUE((*reader)->last_gap());
  EXPECT_EQ((*reader)->last_gap()->expected, 3u);
  EXPECT_EQ((*reader)->last_gap()->got, 5u);
  ExpectSeq(**reader, 5);  // the line after the gap is not lost
  ExpectSeq(**reader, 6);
  auto dup = (*reader)->Next();
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("seq went backwards: expected 7, got 6"), std::string::npos)
      << dup.error().message;
  ExpectSeq(**reader, 6);
  ExpectEnd(**reader);
}

// Review of socd10: seq 2^64−1 made the expected seq wrap to 0, which reads as "accept any", so
// the next line's gap went unnoticed (and a position saved there resumed without a check).
TEST(SpoolReaderTest, TheLargestSeqIsRefusedAndTheExpectationKept) {
  TempDir tmp;
  const std::string max_line = Line(UINT64_MAX);
  const uint64_t after_max = Line(1).size() + Line(2).size() + max_line.size();
  // Line 3 damaged into the largest seq: the gap to 4 is reported, also after a restart there.
  AppendText(FileFor(tmp.path(), 1), Line(1) + Line(2) + max_line + Line(4));
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  ExpectSeq(**reader, 1);
  ExpectSeq(**reader, 2);
  auto refused = (*reader)->Next();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find(
                ":" + std::to_string(Line(1).size() + Line(2).size()) +
                ": seccloud.seq 18446744073709551615 is the largest seq, which no line can "
                "follow; skipped"),
            std::string::npos)
      << refused.error().message;
  const SpoolPosition saved = (*reader)->position();
  EXPECT_EQ(saved, (SpoolPosition{1, after_max, 3}));
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "reading on" : "resumed right after the line");
    auto resumed = SpoolReader::Open(tmp.path(), "proxy", saved);
    ASSERT_TRUE(resumed);
    SpoolReader& r = pass == 0 ? **reader : **resumed;
    auto gap = r.Next();
    ASSERT_FALSE(gap);
    EXPECT_NE(
        gap.error().message.find(":" + std::to_string(after_max) + ": seq gap: expected 3, got 4"),
        std::string::npos)
        << gap.error().message;
    ExpectSeq(r, 4);
    EXPECT_EQ(r.position(), (SpoolPosition{1, after_max + Line(4).size(), 5}));
    ExpectEnd(r);
  }

  // A stray line of that seq between two in sequence: refused, and nothing else is reported.
  TempDir stray;
  AppendText(FileFor(stray.path(), 1), Line(1) + max_line + Line(2) + Line(3));
  auto s = SpoolReader::Open(stray.path(), "proxy");
  ASSERT_TRUE(s);
  ExpectSeq(**s, 1);
  EXPECT_FALSE((*s)->Next());
  EXPECT_EQ((*s)->position(), (SpoolPosition{1, Line(1).size() + max_line.size(), 2}));
  ExpectSeq(**s, 2);
  ExpectSeq(**s, 3);
  ExpectEnd(**s);

  // The first line read, with no expectation yet: refused, the next one starts the sequence.
  TempDir first;
  AppendText(FileFor(first.path(), 1), max_line + Line(7) + Line(8));
  auto f = SpoolReader::Open(first.path(), "proxy");
  ASSERT_TRUE(f);
  EXPECT_FALSE((*f)->Next());
  EXPECT_EQ((*f)->position(), (SpoolPosition{1, max_line.size(), 0}));
  ExpectSeq(**f, 7);
  ExpectSeq(**f, 8);
  ExpectEnd(**f);
}

TEST(SpoolReaderTest, MissingFileIsAGap) {
  TempDir tmp;
  AppendText(FileFor(tmp.path(), 1), Line(1) + Line(2));
  AppendText(FileFor(tmp.path(), 5), Line(5));  // file 3 was deleted
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  ExpectSeq(**reader, 1);
  ExpectSeq(**reader, 2);
  EXPECT_FALSE((*reader)->Next());
  ExpectSeq(**reader, 5);
}

TEST(SpoolReaderTest, NeverYieldsATornLine) {
  TempDir tmp;
  const fs::path file = FileFor(tmp.path(), 1);
  const std::string second = Line(2);
  AppendText(file, Line(1) + second.substr(0, 20));
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  ExpectSeq(**reader, 1);
  ExpectEnd(**reader);  // the writer is mid-line
  ExpectEnd(**reader);
  AppendText(file, second.substr(20, 5));
  ExpectEnd(**reader);
  AppendText(file, second.substr(25));
  ExpectSeq(**reader, 2);
  ExpectEnd(**reader);
}

TEST(SpoolReaderTest, InvalidLinesAreReportedAndSkipped) {
  TempDir tmp;
  AppendText(FileFor(tmp.path(), 1),
             Line(1) + "{not json\n" + R"({"seccloud":{"seq":"2"}})" + "\n" + Line(2));
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  ExpectSeq(**reader, 1);
  auto bad = (*reader)->Next();
  ASSERT_FALSE(bad);
  EXPECT_NE(
      bad.error().message.find(":" + std::to_string(Line(1).size()) + ": line is not valid JSON"),
      std::string::npos)
      << bad.error().message;
  auto no_seq = (*reader)->Next();
  ASSERT_FALSE(no_seq);
  EXPECT_NE(no_seq.error().message.find("no numeric seccloud.seq"), std::string::npos)
      << no_seq.error().message;
  ExpectSeq(**reader, 2);
  ExpectEnd(**reader);
}

TEST(SpoolReaderTest, TornTailOfAnOlderFileIsReportedOnce) {
  TempDir tmp;
  AppendText(FileFor(tmp.path(), 1), Line(1) + "{\"seccl");
  AppendText(FileFor(tmp.path(), 2), Line(2));
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  ExpectSeq(**reader, 1);
  auto torn = (*reader)->Next();
  ASSERT_FALSE(torn);
  EXPECT_NE(torn.error().message.find("partial line of 7 bytes"), std::string::npos)
      << torn.error().message;
  ExpectSeq(**reader, 2);
  ExpectEnd(**reader);
}

TEST(SpoolReaderTest, ResumesFromSavedPosition) {
  TempDir tmp;
  AppendText(FileFor(tmp.path(), 1), Line(1) + Line(2) + Line(3));
  AppendText(FileFor(tmp.path(), 4), Line(4) + Line(5));
  SpoolPosition saved;
  {
    auto reader = SpoolReader::Open(tmp.path(), "proxy");
    ASSERT_TRUE(reader);
    ExpectSeq(**reader, 1);
    ExpectSeq(**reader, 2);
    saved = (*reader)->position();
  }
  EXPECT_EQ(saved.file_first_seq, 1u);
  EXPECT_EQ(saved.offset, Line(1).size() + Line(2).size());
  EXPECT_EQ(saved.next_seq, 3u);
  auto reader = SpoolReader::Open(tmp.path(), "proxy", saved);
  ASSERT_TRUE(reader);
  ExpectSeq(**reader, 3);
  EXPECT_EQ((*reader)->file(), FileFor(tmp.path(), 1));  // the file of the record just read
  ExpectSeq(**reader, 4);
  EXPECT_EQ((*reader)->file(), FileFor(tmp.path(), 4));
  EXPECT_EQ((*reader)->position(), (SpoolPosition{4, Line(4).size(), 5}));
  ExpectSeq(**reader, 5);
  ExpectEnd(**reader);

  auto gone = SpoolReader::Open(tmp.path(), "proxy", SpoolPosition{7, 0, 7});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, Errc::kNotFound);
}

TEST(SpoolReaderTest, FollowsALiveWriterAcrossRotations) {
  TempDir tmp;
  auto writer =
      EventWriter::Open({.directory = tmp.path(), .name = "gw1/proxy", .rotate_bytes = 8 * 1024});
  ASSERT_TRUE(writer) << writer.error().ToString();
  constexpr uint64_t kEvents = 3000;
  std::atomic<bool> writer_failed{false};
  std::thread producer([&] {
    for (uint64_t i = 0; i < kEvents; ++i) {
      Event e = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess);
      e.Set("message", std::string(i % 300, 'm'));
      if (!(*writer)->Append(e)) writer_failed = true;
    }
  });
  auto reader = SpoolReader::Open(tmp.path(), "proxy");
  ASSERT_TRUE(reader);
  uint64_t expected = 1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (expected <= kEvents && std::chrono::steady_clock::now() < deadline) {
    auto r = (*reader)->Next();
    ASSERT_TRUE(r) << r.error().ToString();
    if (!*r) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ((*r)->seq, expected);
    ++expected;
  }
  producer.join();
  EXPECT_FALSE(writer_failed);
  EXPECT_EQ(expected, kEvents + 1);
  EXPECT_GT((*writer)->stats().rotations, 10u);
  ExpectEnd(**reader);
}

// R18: a reader opened without parsed events (the SOC's) checks every line exactly as one that
// parses them: the same seqs, positions and errors, line for line, on valid lines and on hostile
// ones (bad JSON, no or duplicate seccloud.seq, seq of every JSON kind, deep nesting).
// Everything Next() reports, one string per call, until the reader is caught up.
std::vector<std::string> ReadAll(const fs::path& dir, bool parse_events) {
  std::vector<std::string> out;
  auto reader = SpoolReader::Open(dir, "svc", {}, parse_events);
  EXPECT_TRUE(reader) << reader.error().ToString();
  if (!reader) return out;
  for (int i = 0; i < 100000; ++i) {
    auto r = (*reader)->Next();
    const SpoolPosition& p = (*reader)->position();
    const std::string at = " @" + std::to_string(p.file_first_seq) + ":" +
                           std::to_string(p.offset) + ":" + std::to_string(p.next_seq);
    if (!r) {
      out.push_back("error " + r.error().ToString() + at);
      continue;
    }
    if (!r->has_value()) break;
    const SpoolRecord& rec = **r;
    out.push_back("seq " + std::to_string(rec.seq) + " line " + rec.line + " offset " +
                  std::to_string(rec.offset) + at);
    // The parsing reader's event is the line parsed; the other's is empty.
    if (parse_events)
      EXPECT_FALSE(rec.event.empty()) << rec.line;
    else
      EXPECT_TRUE(rec.event.empty()) << rec.line;
  }
  return out;
}

void WriteSpool(const fs::path& dir, const std::string& text) {
  fs::create_directories(dir);
  std::ofstream(dir / SpoolFileName("svc", 1), std::ios::binary) << text;
}

TEST(SpoolReaderTest, CheckingWithoutParsingReportsWhatParsingReports) {
  const std::vector<std::string> lines = {
      R"({"seccloud":{"seq":1},"message":"a"})",
      R"({"message":"b","seccloud":{"x":[1,{"seq":7}],"seq":2}})",
      R"({"seccloud":{"seq":3.0}})",              // an exact double is a number
      R"({"seccloud":{"seq":4.5}})",              // not exact
      R"({"seccloud":{"seq":-4}})",               // negative
      R"({"seccloud":{"seq":"4"}})",              // a string
      R"({"seccloud":{"seq":null}})",             // null
      R"({"seccloud":{"seq":true}})",             // a boolean
      R"({"seccloud":{"seq":[4]}})",              // an array
      R"({"seccloud":{"seq":{"n":4}}})",          // an object
      R"({"seccloud":{"seq":4},"seccloud":{}})",  // the last "seccloud" wins: no seq
      R"({"seccloud":{},"seccloud":{"seq":4}})",  // the last wins: seq 4
      R"({"seccloud":{"seq":4},"seccloud":5})",   // the last is no object
      R"({"seccloud":{"seq":"x","seq":5}})",      // the last "seq" wins
      R"({"seccloud":{"seq":6,"seq":"x"}})",      // the last "seq" wins
      R"({"a":{"seccloud":{"seq":6}},"seccloud":{"seq":6}})",
      R"({"seccloud":{"s\u0065q":7}})",  // an escaped key is the same key
      R"({"se\u0063cloud":{"seq":8}})",
      R"({"seccloud":{"seq":9}} )",    // trailing white space
      R"({"seccloud":{"seq":10}} x)",  // extra data
      R"({"seccloud":{"seq":10})",     // incomplete
      R"([{"seccloud":{"seq":10}}])",  // not an object
      R"("seccloud")",
      R"(10)",
      R"()",
      "{\"seccloud\":{\"seq\":10},\"bad\":\"\xff\xfe\"}",  // invalid UTF-8
      R"({"seccloud":{"seq":10},"n":1e999})",              // number out of range
      R"({"seccloud":{"seq":18446744073709551615}})",      // the largest uint64
      R"({"seccloud":{"seq":18446744073709551616}})",      // one more: a double
      R"({"seccloud":{"seq":11}})",
      R"({"seccloud":{"seq":13}})",  // a gap
      R"({"seccloud":{"seq":12}})",  // backwards
      R"({"seccloud":{"seq":13}, "x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
      R"({"seccloud":{"seq":13}})",
  };
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  text += R"({"seccloud":{"seq":14}})";  // no newline yet: not a line
  TempDir tmp;
  WriteSpool(tmp.path() / "svc", text);
  const auto parsed = ReadAll(tmp.path() / "svc", true);
  const auto checked = ReadAll(tmp.path() / "svc", false);
  EXPECT_EQ(checked, parsed);
  EXPECT_GE(parsed.size(), lines.size() - 1);
  // The cases reach both outcomes (else the comparison proves little).
  size_t errors = 0;
  for (const std::string& s : parsed) errors += s.starts_with("error ");
  EXPECT_GT(errors, 10u);
  EXPECT_GT(parsed.size() - errors, 8u);
}

// Random mutations of valid lines: whatever the bytes, both readers say the same.
TEST(SpoolReaderTest, CheckingWithoutParsingAgreesOnMutatedLines) {
  std::mt19937 rng(20261127);
  const std::string base =
      R"({"@timestamp":"2026-11-27T10:00:00.000Z","seccloud":{"seq":SEQ,"service":"p"},)"
      R"("url":{"full":"http://a/b?c=d"},"n":[1,2.5,-3,true,false,null,{"seq":1}]})";
  const std::string alphabet = "{}[]\":,\\ 0123456789.eE+-tfnulsqcd\xff";
  std::string text;
  for (int i = 1; i <= 3000; ++i) {
    std::string line = base;
    line.replace(line.find("SEQ"), 3, std::to_string(i));
    const int edits = static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % line.size();
      switch (rng() % 3) {
        case 0:
          line[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          line.erase(at, 1);
          break;
        default:
          line.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
    }
    for (char& c : line)
      if (c == '\n') c = ' ';
    text += line + "\n";
  }
  TempDir tmp;
  WriteSpool(tmp.path() / "svc", text);
  const auto parsed = ReadAll(tmp.path() / "svc", true);
  const auto checked = ReadAll(tmp.path() / "svc", false);
  ASSERT_EQ(checked.size(), parsed.size());
  for (size_t i = 0; i < parsed.size(); ++i) ASSERT_EQ(checked[i], parsed[i]) << i;
}

}  // namespace
}  // namespace seccloud
