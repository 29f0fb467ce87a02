// Stream framing (R18): RFC 6587 syslog over TCP and JSON lines.
#include "soc/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seccloud::soc {
namespace {

// "F:<data>" for a frame ("T:<data>" when truncated), "E:<error>" for an error.
template <class Framer>
std::vector<std::string> Drain(Framer& framer) {
  std::vector<std::string> out;
  Frame f;
  std::string error;
  while (true) {
    const FrameStatus s = framer.Next(&f, &error);
    if (s == FrameStatus::kNeedMore) return out;
    if (s == FrameStatus::kError) {
      out.push_back("E:" + error);
    } else {
      out.push_back((f.truncated ? "T:" : "F:") + f.data);
    }
  }
}

template <class Framer>
std::vector<std::string> FeedAll(Framer& framer, std::string_view bytes, size_t step) {
  std::vector<std::string> out;
  for (size_t i = 0; i < bytes.size(); i += step) {
    framer.Feed(bytes.substr(i, step));
    for (auto& s : Drain(framer)) out.push_back(std::move(s));
  }
  framer.Finish();
  for (auto& s : Drain(framer)) out.push_back(std::move(s));
  return out;
}

TEST(FrameTest, SyslogNewlineFramingWithLfCrlfAndNul) {
  using std::string_literals::operator""s;
  const std::string stream = "<34>Oct 11 22:14:15 a b: one\n<34>two\r\n<34>three\0<34>four\n\n\n"s;
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, stream.size()}) {
    SyslogFramer framer;
    EXPECT_EQ(FeedAll(framer, stream, step),
              (std::vector<std::string>{"F:<34>Oct 11 22:14:15 a b: one", "F:<34>two",
                                        "F:<34>three", "F:<34>four"}))
        << "step " << step;
  }
}

TEST(FrameTest, SyslogOctetCountingByteByByte) {
  const std::string m1 = "<34>1 - h a - - - hello\nworld";  // a LF inside a counted frame
  const std::string m2 = "<13>x";
  const std::string stream =
      std::to_string(m1.size()) + " " + m1 + std::to_string(m2.size()) + " " + m2;
  for (size_t step : {size_t{1}, size_t{3}, stream.size()}) {
    SyslogFramer framer;
    EXPECT_EQ(FeedAll(framer, stream, step), (std::vector<std::string>{"F:" + m1, "F:" + m2}))
        << "step " << step;
  }
}

TEST(FrameTest, SyslogMixedFramingPerFrame) {
  const std::string stream =
      "5 <13>a<14>line framed\n6 <15>bc\n2015-07-29 17:41:44 text\n42 is the answer\n";
  SyslogFramer framer;
  EXPECT_EQ(FeedAll(framer, stream, 1),
            (std::vector<std::string>{"F:<13>a", "F:<14>line framed", "F:<15>bc",
                                      "F:2015-07-29 17:41:44 text", "F:42 is the answer"}));
}

TEST(FrameTest, SyslogMalformedOctetCountResynchronises) {
  const std::string stream = "007 <13>abc garbage\n<14>next\n0 <15>x\n1234567890 <16>y\n6 <17>ab";
  SyslogFramer framer;
  EXPECT_EQ(
      FeedAll(framer, stream, 1),
      (std::vector<std::string>{
          "E:octet count \"007\" at byte 0 has a leading zero; skipped to the next line feed",
          "F:<14>next", "E:octet count \"0\" at byte 29 is zero; skipped to the next line feed",
          "E:octet count \"1234567890\" at byte 37 is longer than 9 digits; skipped to the "
          "next line feed",
          "F:<17>ab"}));
}

TEST(FrameTest, SyslogStreamEndingInsideACountedFrame) {
  SyslogFramer framer;
  framer.Feed("100 <13>only part");
  EXPECT_TRUE(Drain(framer).empty());
  framer.Finish();
  EXPECT_EQ(Drain(framer), (std::vector<std::string>{
                               "E:the stream ended 13 bytes into a 100-byte octet-counted frame",
                               "T:<13>only part"}));
}

TEST(FrameTest, SyslogOversizedFramesAreCutAndTheRestSkipped) {
  SyslogFramer framer(16);
  std::string big_line = "<13>" + std::string(100, 'a') + "\n<13>small\n";
  std::string counted = "50 <13>" + std::string(46, 'b') + "<13>after\n";
  std::vector<std::string> got = FeedAll(framer, big_line + counted, 5);
  EXPECT_EQ(got, (std::vector<std::string>{"T:<13>aaaaaaaaaaaa", "F:<13>small",
                                           "T:<13>bbbbbbbbbbbb", "F:<13>after"}));
  // Never holds more than the limit, however long the line.
  SyslogFramer bounded(1024);
  for (int i = 0; i < 1000; ++i) {
    bounded.Feed(std::string(4096, 'x'));
    EXPECT_LE(bounded.partial_bytes(), size_t{1024});
    Drain(bounded);
  }
}

// Digits that are not an octet count become a line, and the limit applies to them as well
// (soc_frame_fuzz found "0172 \0" passing 5 bytes through a 4-byte framer).
TEST(FrameTest, SyslogDigitsThatAreNotACountStayWithinTheLimit) {
  SyslogFramer framer(4);
  EXPECT_EQ(FeedAll(framer,
                    std::string_view("0172 \0"
                                     "12345x\n"
                                     "98765 x\n",
                                     21),
                    3),
            (std::vector<std::string>{"T:0172", "T:1234", "T:9876"}));
  SyslogFramer at_end(4);
  at_end.Feed("123456");
  at_end.Finish();
  EXPECT_EQ(Drain(at_end), (std::vector<std::string>{"T:1234"}));
}

TEST(FrameTest, SyslogGarbageNeverStalls) {
  // Binary junk still comes out as lines; every byte is accounted for.
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 131) & 0xff));
  SyslogFramer framer(256);
  const auto frames = FeedAll(framer, junk, 13);
  EXPECT_FALSE(frames.empty());
  for (const auto& f : frames) EXPECT_LE(f.size(), 2 + size_t{256});
}

TEST(FrameTest, LineFramerSplitsOnLfAndCrlf) {
  const std::string stream = "{\"a\":1}\r\n\n{\"b\":2}\n{\"c\":3}";
  for (size_t step : {size_t{1}, size_t{4}, stream.size()}) {
    LineFramer framer;
    EXPECT_EQ(FeedAll(framer, stream, step),
              (std::vector<std::string>{"F:{\"a\":1}", "F:{\"b\":2}", "F:{\"c\":3}"}));
  }
}

TEST(FrameTest, LineFramerOversizedLine) {
  LineFramer framer(8);
  EXPECT_EQ(FeedAll(framer, "0123456789abcdef\nshort\n12345678\n", 3),
            (std::vector<std::string>{"T:01234567", "F:short", "F:12345678"}));
  LineFramer bounded(1024);
  for (int i = 0; i < 1000; ++i) {
    bounded.Feed(std::string(4096, 'x'));
    EXPECT_LE(bounded.partial_bytes(), size_t{1024});
    Drain(bounded);
  }
}

}  // namespace
}  // namespace seccloud::soc
