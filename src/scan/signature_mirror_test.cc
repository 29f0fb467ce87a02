// The mirror formats (CVD header, version record) and the engine's install/undo step. The
// downloads themselves are tested against a real nginx in tests/integration/scan_mirror_test.sh.
#include "scan/signature_mirror.h"

#include <gtest/gtest.h>

#include <fstream>

#include "scan/cvd_format.h"
#include "scan/scanner.h"

namespace seccloud::scan {
namespace {

namespace fs = std::filesystem;

// What sigtool --unsigned --build writes, padded to 512 bytes.
std::string Header(std::string fields) {
  fields.resize(kCvdHeaderBytes, ' ');
  return fields;
}
const std::string kUnsigned =
    "ClamAV-VDB:26 Nov 2026 09-03 +0000:5:3:216:9bcbfcc847578e6e666a53a1d7ad4856:X:"
    "seccloud-test:1795683805";

TEST(CvdHeader, ParsesSigtoolOutput) {
  auto h = ParseCvdHeader(Header(kUnsigned));
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_EQ(h->build_time, "26 Nov 2026 09-03 +0000");
  EXPECT_EQ(h->version, 5u);
  EXPECT_EQ(h->signatures, 3u);
  EXPECT_EQ(h->functionality_level, 216u);
  EXPECT_EQ(h->md5, "9bcbfcc847578e6e666a53a1d7ad4856");
  EXPECT_TRUE(h->unsigned_container());
  EXPECT_EQ(h->builder, "seccloud-test");
  EXPECT_EQ(h->build_unix_time, 1795683805);
}

TEST(CvdHeader, ParsesASignedHeader) {
  // The shape of ClamAV's daily.cvd header (a base-64 signature in field 6).
  auto h = ParseCvdHeader(Header(
      "ClamAV-VDB:07 Oct 2024 04-33 -0400:27420:2068547:90:0ec4bd5a0a9a8a2bd2b6b1f5e1f7f0ee:"
      "kX2P/ZZ/Z6dLqEWPPQ3vZ2yC2a4qI7lRKv0Xw+1xQ9lT3cqvG0S4m7p9b6mU9Xgp3jC5Q4jKxk1s9o2a8gR0b:"
      "raynman:1728290008"));
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_EQ(h->version, 27420u);
  EXPECT_FALSE(h->unsigned_container());
}

TEST(CvdHeader, RefusesMalformedHeaders) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {kUnsigned.substr(0, 100), "truncated"},
      {Header("ClamAV-XDB:" + kUnsigned.substr(11)), "does not start"},
      {Header("ClamAV-VDB:26 Nov 2026 09-03 +0000:0:3:216:9bcbfcc847578e6e666a53a1d7ad4856:X:b:1"),
       "version"},
      {Header("ClamAV-VDB:t:5:3:216:9bcbfcc847578e6e666a53a1d7ad485:X:b:1"), "MD5"},
      {Header("ClamAV-VDB:t:5:3:216:9BCBFCC847578E6E666A53A1D7AD4856:X:b:1"), "MD5"},
      {Header("ClamAV-VDB:t:5:3:216:9bcbfcc847578e6e666a53a1d7ad4856:X:b"), "fields"},
      {Header("ClamAV-VDB:t:5:3:216:9bcbfcc847578e6e666a53a1d7ad4856:X:b:1:extra"), "fields"},
      {Header("ClamAV-VDB:t:5:3:216:9bcbfcc847578e6e666a53a1d7ad4856:X:b:-4"), "Unix time"},
      {Header("ClamAV-VDB:t:99999999999:3:216:9bcbfcc847578e6e666a53a1d7ad4856:X:b:1"), "version"},
      {Header("ClamAV-VDB:t:5:3:216:9bcbfcc847578e6e666a53a1d7ad4856:<script>:b:1"), "signature"},
      {Header(std::string("ClamAV-VDB:t:5:3:216:9bcbfcc847578e6e666a53a1d7ad4856:X:b") + '\0' +
              ":1"),
       "printable"},
      {Header("ClamAV-VDB:" + std::string(600, ':')), "fields"},
  };
  for (const auto& [text, why] : bad) {
    auto h = ParseCvdHeader(text);
    ASSERT_FALSE(h) << text;
    EXPECT_NE(h.error().message.find(why), std::string::npos) << h.error().message;
  }
}

TEST(VersionRecord, ParsesCvdupdateDnsTxt) {
  auto r = ParseVersionRecord("1.4.3:62:27834:1764145740:1:90:49192:339\n");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->engine, "1.4.3");
  EXPECT_EQ(r->main, 62u);
  EXPECT_EQ(r->daily, 27834u);
  EXPECT_EQ(r->record_time, 1764145740);
  EXPECT_EQ(r->functionality_level, 90u);
  EXPECT_EQ(r->bytecode, 339u);
  EXPECT_EQ(r->VersionOf("daily"), 27834u);
  EXPECT_EQ(r->VersionOf("bytecode"), 339u);
  EXPECT_FALSE(r->VersionOf("custom").has_value());
  // dig prints it quoted; later records may grow fields.
  auto q = ParseVersionRecord("\"1.4.3:62:27834:1764145740:1:90:49192:339:7\"");
  ASSERT_TRUE(q) << q.error().ToString();
  EXPECT_EQ(q->bytecode, 339u);
}

TEST(VersionRecord, RefusesMalformedRecords) {
  for (std::string_view bad :
       {"", "   \n", "1.4.3:62:27834", "1.4.3:x:27834:1:1:90:1:339",
        "1.4.3:62:27834:1:1:90:1:", "1.4.3:62:-1:1:1:90:1:339", "<html>not found</html>",
        "1.4.3:62:27834:1:1:90:1:339:\x01", ":::::::::::::::::::::::::::::::"}) {
    EXPECT_FALSE(ParseVersionRecord(bad)) << bad;
  }
  EXPECT_FALSE(ParseVersionRecord(std::string(2000, '1')));
}

// ApplyUpdate: a load that fails runs undo and keeps the engine in use.
TEST(ApplyUpdate, FailedLoadUndoesAndKeepsTheEngine) {
  const fs::path dir = fs::temp_directory_path() / ("scan-apply-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "a.hdb") << "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n";
  ScanConfig c;
  c.enabled = true;
  c.clamav_database = dir;
  c.yara_enabled = false;
  auto e = ScanEngine::Create(c);
  ASSERT_TRUE(e) << e.error().ToString();
  const std::string before = (*e)->db_version();

  bool undone = false;
  ReloadReport r = (*e)->ApplyUpdate(
      [&]() -> Status {
        std::ofstream(dir / "b.ndb") << "broken line without the fields\n";
        return {};
      },
      [&] {
        fs::remove(dir / "b.ndb");
        undone = true;
      });
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(undone);
  EXPECT_EQ((*e)->db_version(), before);
  EXPECT_EQ((*e)->status().reload_failures, 1u);

  // A good install swaps; undo is not called.
  undone = false;
  r = (*e)->ApplyUpdate(
      [&]() -> Status {
        std::ofstream(dir / "c.ndb") << "Probe:0:*:5345434c4f5544\n";
        return {};
      },
      [&] { undone = true; });
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(undone);
  EXPECT_NE((*e)->db_version(), before);
  auto v = (*e)->ScanBuffer(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("xx SECLOUD yy"), 13), {});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->result, Verdict::kInfected);

  // Hidden entries (the updater's staging directory) are not part of the source.
  const std::string fp = *SourceFingerprint({dir}, {});
  fs::create_directories(dir / ".seccloud-update");
  std::ofstream(dir / ".seccloud-update" / "daily.cud") << "partial download";
  EXPECT_EQ(*SourceFingerprint({dir}, {}), fp);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace seccloud::scan
