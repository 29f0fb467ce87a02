#include "soc/record.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

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

}  // namespace
}  // namespace seccloud::soc
