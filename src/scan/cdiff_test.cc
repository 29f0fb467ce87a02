// ClamAV's digital signatures (our verifier against ClamAV's production keys and genuine
// signatures) and the .cdiff pipeline: open + verify, interpret, unpack and repack (R7, R8).
#include "scan/cdiff.h"

#include <clamav.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "core/socket_testing.h"
#include "scan/clamav_signature.h"
#include "scan/cvd_format.h"
#include "scan/internal.h"
#include "scan/scanner.h"
#include "scan/signature_mirror.h"

// libclamav 1.4 leaks one OpenSSL hash context (cl_hash_init → CRYPTO_zalloc, 72 bytes plus its
// parts) each time it loads or verifies a .cud/.cvd/.cld container (cl_load, cl_cvdverify),
// successful or not, and the tests here load containers. Debian builds libcrypto without frame
// pointers, so LeakSanitizer's fast unwinder stops at OpenSSL's allocator and never sees the
// libclamav caller: the suppression has to name OpenSSL's allocation functions. Our own OpenSSL
// objects are held by unique_ptr deleters (the ClamavSignature/Cdiff tests, which load no
// container, run leak-free without it). One definition per binary: scan_test has no other.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libclamav.so\nleak:CRYPTO_zalloc\nleak:CRYPTO_strndup\n";
}

namespace seccloud::scan {
namespace {

namespace fs = std::filesystem;

// --- Genuine ClamAV signatures --------------------------------------------------------------
// Both from github.com/thka2315/cav, tests/test_clamavfile.py (a Python CVD/cdiff reader whose
// tests pin the header of ClamAV's daily.cvd version 25784 and the signature of
// daily-25784.cdiff, as freshclam downloaded them in April 2020).
constexpr char kGenuineDailyHeader[] =
    "ClamAV-VDB:16 Apr 2020 07-58 -0400:25784:2267600:63:92baacd59fd26e6bcf03077add78d209:"
    "4Jp9JtGJY6nUk8JHDQQpQeBwlfXqskvhXL+vesDNqAeWCmjbudU+Hy/Nj4/BH2vl70c/R5B/VYY+eqqCQo6o7VGL"
    "qLJr/E+19gejqMp/iRcuHrtnLw6V/x3UjO3/qYVSlcJvAjtMI7FK32wjB+Sp8kaS/ZbfaFQp6trRQhisjqf:"
    "raynman:1587038339";
constexpr char kGenuineCdiffSignature[] =
    "XI79OQXq6AxB1+r4qIbST5g/4u1TpxFox8BrDyKMf9awFGAUcS9Ct76fOpgaUm+vxAUaCT/1pNZbVwspxi77ypjn"
    "Gts2Olyq66L/qx0d3UIdc6SP55bRvldh2ru3ibdRHtVD68Aj+4ukF8EvYXwaUtCWvw3oJq26p0JhB+OE8mW5DQ5m"
    "MSNu8WvAWY7UYLwrwTsOvtFE2jqVYssRkIm0KXxWIgIOr9KySdjqR8U6GC3yjIPu982lX8IysjyrrQZRKuAt0cvd"
    "TPt7IIfPC9Vfl1ODV7E9Kdq+jskt0qep8KVbGH4RVJZNlDFuaa2xf42k2ihlK/9LNX2W8tkUxSc6ob";

std::string Padded(std::string s) {
  s.resize(kCvdHeaderBytes, ' ');
  return s;
}

char Flip(char c) { return c == 'a' ? 'b' : (c == '0' ? '1' : 'a'); }

TEST(ClamavSignature, GenuineDailyCvdHeaderVerifiesWithTheProductionKey) {
  auto h = ParseCvdHeader(Padded(kGenuineDailyHeader));
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_EQ(h->version, 25784u);
  EXPECT_TRUE(VerifyCvdSignature(h->md5, h->dsig))
      << VerifyCvdSignature(h->md5, h->dsig).error().message;

  // One character of the MD5 changed: refused.
  for (size_t i : {size_t{0}, size_t{17}, size_t{31}}) {
    std::string md5 = h->md5;
    md5[i] = md5[i] == '0' ? '1' : '0';
    auto s = VerifyCvdSignature(md5, h->dsig);
    ASSERT_FALSE(s) << i;
    EXPECT_NE(s.error().message.find("does not match"), std::string::npos) << s.error().message;
  }
  // One character of the signature changed: refused.
  for (size_t i : {size_t{0}, size_t{80}, h->dsig.size() - 1}) {
    std::string dsig = h->dsig;
    dsig[i] = Flip(dsig[i]);
    EXPECT_FALSE(VerifyCvdSignature(h->md5, dsig)) << i;
  }
  // The .cdiff key does not verify the CVD signature.
  EXPECT_FALSE(VerifyCvdSignature(h->md5, h->dsig, kClamavCdiffKey));
}

TEST(ClamavSignature, GenuineCdiffSignatureHasExactPssPaddingUnderTheProductionKey) {
  // The file it signs is not at hand, so the message hash cannot be checked; the padding can:
  // under a wrong key or exponent the chance of the 0xbc trailer, 190 zero bytes and the 0x01
  // separator all appearing is 2^-1528.
  auto r = RecoverCdiffPss(kGenuineCdiffSignature);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->h.size(), 32u);
  EXPECT_EQ(r->salt.size(), 32u);
  std::string changed = kGenuineCdiffSignature;
  changed[100] = Flip(changed[100]);
  EXPECT_FALSE(RecoverCdiffPss(changed));
  EXPECT_FALSE(RecoverCdiffPss(kGenuineCdiffSignature, kClamavCvdKey));
  // And it does not verify a file it was not made for.
  const uint8_t zeros[32] = {};
  auto v = VerifyCdiffSignature(zeros, kGenuineCdiffSignature);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("SHA-256"), std::string::npos) << v.error().message;
}

TEST(ClamavSignature, DecoderBoundsAndAlphabet) {
  EXPECT_FALSE(DecodeClamavSignature(""));
  EXPECT_FALSE(DecodeClamavSignature(std::string(351, 'A')));
  EXPECT_FALSE(DecodeClamavSignature("abc=def"));
  EXPECT_FALSE(DecodeClamavSignature("abc\ndef"));
  // Least significant digit first: "b" is 1, "ab" is 64, "/" is 63.
  EXPECT_EQ(*DecodeClamavSignature("b"), std::vector<uint8_t>({1}));
  EXPECT_EQ(*DecodeClamavSignature("ab"), std::vector<uint8_t>({64}));
  EXPECT_EQ(*DecodeClamavSignature("ac"), std::vector<uint8_t>({128}));
  EXPECT_EQ(*DecodeClamavSignature("aab"), std::vector<uint8_t>({0x10, 0x00}));
  EXPECT_EQ(*DecodeClamavSignature("/"), std::vector<uint8_t>({63}));
  auto g = DecodeClamavSignature(kGenuineCdiffSignature);
  ASSERT_TRUE(g);
  EXPECT_EQ(EncodeClamavSignature(*g), kGenuineCdiffSignature);
  for (std::vector<uint8_t> v : std::vector<std::vector<uint8_t>>{
           {1}, {0xff}, {1, 0}, {0xde, 0xad, 0xbe, 0xef, 0x01}, std::vector<uint8_t>(256, 0xa5)})
    EXPECT_EQ(*DecodeClamavSignature(EncodeClamavSignature(v)), v);
}

// --- A signing key of the test's own ----------------------------------------------------------

class TestKey {
 public:
  explicit TestKey(int bits) {
    key_.reset(EVP_RSA_gen(static_cast<unsigned>(bits)));
    BIGNUM *n = nullptr, *e = nullptr, *d = nullptr;
    EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_D, &d);
    n_.reset(n);
    d_.reset(d);
    char* nd = BN_bn2dec(n);
    char* ed = BN_bn2dec(e);
    n_dec_ = nd;
    e_dec_ = ed;
    OPENSSL_free(nd);
    OPENSSL_free(ed);
    BN_free(e);
  }
  ClamavPublicKey key() const { return {n_dec_, e_dec_}; }

  // What ClamAV's signing service puts in a CVD header: md5^d mod n.
  std::string SignMd5(const std::string& md5_hex) const {
    std::vector<uint8_t> md5(16);
    for (size_t i = 0; i < 16; ++i)
      md5[i] = static_cast<uint8_t>(std::stoi(md5_hex.substr(2 * i, 2), nullptr, 16));
    BIGNUM* m = BN_bin2bn(md5.data(), 16, nullptr);
    BIGNUM* s = BN_new();
    BN_CTX* ctx = BN_CTX_new();
    BN_mod_exp(s, m, d_.get(), n_.get(), ctx);
    std::vector<uint8_t> out(BN_num_bytes(s));
    BN_bn2bin(s, out.data());
    BN_free(m);
    BN_free(s);
    BN_CTX_free(ctx);
    return EncodeClamavSignature(out);
  }

  // A .cdiff signature made by OpenSSL's own RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt): an
  // implementation independent of the verifier under test.
  std::string SignSha256(std::span<const uint8_t> digest) const {
    std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(
        EVP_PKEY_CTX_new(key_.get(), nullptr), EVP_PKEY_CTX_free);
    EVP_PKEY_sign_init(ctx.get());
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256());
    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256());
    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), 32);
    size_t len = 0;
    EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size());
    std::vector<uint8_t> sig(len);
    if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) != 1) return "";
    sig.resize(len);
    return EncodeClamavSignature(sig);
  }

  // A complete .cdiff of `script` producing `version`.
  std::string Cdiff(uint32_t version, std::string_view script) const {
    const std::string part = CdiffSignedPart(version, script);
    uint8_t digest[32];
    unsigned len = 0;
    EVP_Digest(part.data(), part.size(), digest, &len, EVP_sha256(), nullptr);
    return part + ":" + SignSha256(digest);
  }

 private:
  struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
  };
  std::unique_ptr<EVP_PKEY, PkeyFree> key_;
  std::unique_ptr<BIGNUM, BnFree> n_, d_;
  std::string n_dec_, e_dec_;
};

const TestKey& Key2048() {
  static const TestKey* k = new TestKey(2048);
  return *k;
}

TEST(ClamavSignature, VerifiesSignaturesMadeWithATestKey) {
  TestKey k1024(1024);
  const std::string md5 = "0123456789abcdef0123456789abcdef";
  const std::string sig = k1024.SignMd5(md5);
  EXPECT_TRUE(VerifyCvdSignature(md5, sig, k1024.key()));
  EXPECT_FALSE(VerifyCvdSignature("0123456789abcdef0123456789abcdee", sig, k1024.key()));
  EXPECT_FALSE(VerifyCvdSignature(md5, sig));  // not ClamAV's key

  uint8_t digest[32];
  for (int i = 0; i < 32; ++i) digest[i] = static_cast<uint8_t>(i * 7);
  const std::string pss = Key2048().SignSha256(digest);
  ASSERT_FALSE(pss.empty());
  EXPECT_TRUE(VerifyCdiffSignature(digest, pss, Key2048().key()))
      << VerifyCdiffSignature(digest, pss, Key2048().key()).error().message;
  digest[5] ^= 1;
  EXPECT_FALSE(VerifyCdiffSignature(digest, pss, Key2048().key()));
  digest[5] ^= 1;
  EXPECT_FALSE(VerifyCdiffSignature(digest, pss));  // ClamAV's key refuses a test signature
}

// --- .cdiff framing --------------------------------------------------------------------------

TEST(Cdiff, OpensASignedCdiffAndRefusesTampering) {
  const std::string script = "OPEN daily.ndb\nADD Sig:0:*:41424344\nCLOSE\n";
  const std::string cdiff = Key2048().Cdiff(6, script);
  auto ok = OpenCdiff(cdiff, Key2048().key());
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->version, 6u);
  EXPECT_EQ(ok->script, script);

  // ClamAV's production key: refused (it was signed with the test key).
  auto prod = OpenCdiff(cdiff, kClamavCdiffKey);
  ASSERT_FALSE(prod);
  EXPECT_NE(prod.error().message.find("digital signature"), std::string::npos);

  // Any byte before the signature flipped: refused before anything is decompressed.
  for (size_t i : {size_t{3}, size_t{14}, size_t{30}, cdiff.rfind(':') - 1}) {
    std::string bad = cdiff;
    bad[i] ^= 0x20;
    auto r = OpenCdiff(bad, Key2048().key());
    EXPECT_FALSE(r) << i;
  }
  // No signature, a truncated one, one that is too long.
  EXPECT_FALSE(OpenCdiff(cdiff.substr(0, cdiff.rfind(':') + 1), Key2048().key()));
  EXPECT_FALSE(OpenCdiff(cdiff.substr(0, cdiff.size() - 3), Key2048().key()));
  EXPECT_FALSE(OpenCdiff(cdiff + std::string(400, 'a'), Key2048().key()));
  EXPECT_FALSE(OpenCdiff("not a cdiff", Key2048().key()));
  EXPECT_FALSE(OpenCdiff("", Key2048().key()));
  // Over the size bound.
  CdiffLimits small;
  small.max_cdiff_bytes = 100;
  auto big = OpenCdiff(cdiff, Key2048().key(), small);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("more than 100"), std::string::npos);
}

TEST(Cdiff, RefusesSignedButMalformedFraming) {
  // Signed by the key but lying about the script length: the signature does not make it valid.
  const std::string script = "OPEN a.ndb\nCLOSE\n";
  auto sign = [](const std::string& part) {
    uint8_t digest[32];
    unsigned len = 0;
    EVP_Digest(part.data(), part.size(), digest, &len, EVP_sha256(), nullptr);
    return part + ":" + Key2048().SignSha256(digest);
  };
  std::string part = CdiffSignedPart(7, script);
  std::string wrong_len = part;
  wrong_len.replace(wrong_len.find(":17:"), 4, ":18:");
  auto r = OpenCdiff(sign(wrong_len), Key2048().key());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("header says 18"), std::string::npos) << r.error().message;
  auto t = OpenCdiff(sign(part + "garbage"), Key2048().key());
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("after the end of the gzip"), std::string::npos);
  auto v =
      OpenCdiff(sign("ClamAV-Diff:x:17:" + part.substr(part.find(":17:") + 4)), Key2048().key());
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("header"), std::string::npos);
  CdiffLimits small;
  small.max_script_bytes = 10;
  auto big = OpenCdiff(sign(part), Key2048().key(), small);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("more than 10"), std::string::npos);
}

// --- The script interpreter ------------------------------------------------------------------

DatabaseFiles Db() {
  return {{"daily.ndb", "A:0:*:41\nB:0:*:42\nC:0:*:43\nD:0:*:44\n"},
          {"daily.hdb", "h1\nh2\n"},
          {"COPYING", "c\n"}};
}

TEST(CdiffScript, AddDelXchgMoveUnlink) {
  DatabaseFiles f = Db();
  auto s = ApplyCdiffScript(
      "# comment\n\nOPEN daily.ndb\nDEL 2 B:0\nXCHG 3 C:0:*:43 C2:0:*:4343 with spaces\nADD "
      "E:0:*:45\n"
      "ADD F:0:*:46\nCLOSE\n"
      "MOVE daily.ndb daily.ldb 1 A: 2 C2\n"
      "OPEN new.ndb\nADD N:0:*:4e\nCLOSE\n"
      "UNLINK daily.hdb\n"
      "OPEN daily.ldb\nUNLINK daily.ldb\n"
      "OPEN new2.ndb\nADD x\r\nCLOSE",
      f);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(f["daily.ndb"], "D:0:*:44\nE:0:*:45\nF:0:*:46\n");
  EXPECT_EQ(f.count("daily.ldb"), 0u);
  EXPECT_EQ(f.count("daily.hdb"), 0u);
  EXPECT_EQ(f["new.ndb"], "N:0:*:4e\n");
  EXPECT_EQ(f["new2.ndb"], "x\n");
  EXPECT_EQ(f["COPYING"], "c\n");
}

TEST(CdiffScript, MoveAppendsTheRangeToTheDestination) {
  DatabaseFiles f = Db();
  ASSERT_TRUE(ApplyCdiffScript("MOVE daily.ndb daily.hdb 2 B 3 C\n", f));
  EXPECT_EQ(f["daily.ndb"], "A:0:*:41\nD:0:*:44\n");
  EXPECT_EQ(f["daily.hdb"], "h1\nh2\nB:0:*:42\nC:0:*:43\n");
}

TEST(CdiffScript, RefusesWithThePreciseReason) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"OPEN daily.ndb\nDEL 2 X\nCLOSE\n",
       "line 3: CLOSE daily.ndb: line 2 does not start with \"X\""},
      {"OPEN daily.ndb\nXCHG 9 A new\nCLOSE\n", "line 9 to edit is past the end (4 lines)"},
      {"OPEN daily.ndb\nDEL 2 B\nDEL 2 B\n", "line 3: DEL: line 2 is edited twice"},
      {"OPEN daily.ndb\nDEL 2 B\nXCHG 2 B x\n", "edited twice"},
      {"OPEN daily.ndb\nADD x\n", "still open"},
      {"OPEN ../etc/passwd\n", "not a database file name"},
      {"OPEN .hidden\n", "not a database file name"},
      {"OPEN a/b\n", "not a database file name"},
      {"OPEN a.ndb\nOPEN b.ndb\n", "while a.ndb is open"},
      {"ADD x\n", "line 1: ADD without an open file"},
      {"CLOSE\n", "CLOSE without an open file"},
      {"FROB x\n", "unknown command \"FROB\""},
      {"OPEN missing.ndb\nDEL 1 x\nCLOSE\n", "does not exist"},
      {"OPEN daily.ndb\nDEL x y\n", "not a number"},
      {"OPEN daily.ndb\nDEL 0 y\n", "not a number above 0"},
      {"OPEN daily.ndb\nDEL 18446744073709551616 y\n", "not a number"},
      {"UNLINK nothere.ndb\n", "no file nothere.ndb"},
      {"OPEN daily.ndb\nUNLINK daily.hdb\n", "while daily.ndb is open"},
      {"MOVE daily.ndb daily.hdb 3 C 2 B\n", "last line is before the first"},
      {"MOVE daily.ndb daily.hdb 2 X 3 C\n", "do not start as the script says"},
      {"MOVE daily.ndb daily.hdb 2 B 9 C\n", "has 4 lines"},
      {"MOVE daily.ndb daily.hdb 2 B\n", "MOVE needs"},
      {"OPEN daily.ndb\nMOVE daily.ndb daily.hdb 1 A 1 A\n", "while daily.ndb is open"},
  };
  for (const auto& [script, why] : bad) {
    DatabaseFiles f = Db();
    auto s = ApplyCdiffScript(script, f);
    ASSERT_FALSE(s) << script;
    EXPECT_NE(s.error().message.find(why), std::string::npos)
        << script << " → " << s.error().message;
  }
}

TEST(CdiffScript, Bounds) {
  // Each limit, set low, refuses a script that passes it by a little; the error names it.
  struct Case {
    CdiffLimits limits;
    std::string script;
    const char* why;
  };
  const Case cases[] = {
      {{.max_commands = 3}, "OPEN a.ndb\nADD 1\nADD 2\nADD 3\nCLOSE\n", "more than 3 commands"},
      {{.max_line_bytes = 10},
       "OPEN a.ndb\nADD 0123456789abcdef\nCLOSE\n",
       "line 2: longer than 10 bytes"},
      {{.max_files = 3}, "OPEN a.ndb\nADD 1\nCLOSE\n", "more than 3 files"},
      {{.max_database_bytes = 64},
       "OPEN daily.ndb\nADD " + std::string(40, 'x') + "\nCLOSE\n",
       "would exceed 64 bytes"},
      {{.max_script_bytes = 8}, "OPEN a.ndb\nCLOSE\n", "more than 8 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.script);
    DatabaseFiles f = Db();
    auto s = ApplyCdiffScript(c.script, f, c.limits);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find(c.why), std::string::npos) << s.error().message;
  }
}

// --- Containers --------------------------------------------------------------------------

TEST(Container, RefusesMalformedArchives) {
  EXPECT_FALSE(UnpackContainer("short"));
  std::string c = Padded("ClamAV-VDB:x");
  EXPECT_TRUE(UnpackContainer(c));  // empty, without end blocks (sigtool writes none)
  EXPECT_FALSE(UnpackContainer(c + "x"));
  std::string tar(512, '\0');
  std::memcpy(tar.data(), "../x", 4);
  EXPECT_FALSE(UnpackContainer(c + tar + std::string(1024, '\0')));
  EXPECT_FALSE(UnpackContainer(c + std::string("\x1f\x8b garbage", 10)));
}

TEST(Container, PackUnpackRoundTrip) {
  DatabaseFiles f = Db();
  f["daily.info"] =
      "ClamAV-VDB:26 Nov 2026 12-04 +0000:6:4:216:X:X:tester:1795694686\n"
      "daily.ndb:36:abc\n";
  for (bool cud : {false, true}) {
    auto packed = PackContainer(f, "daily", cud);
    ASSERT_TRUE(packed) << packed.error().ToString();
    auto h = ParseCvdHeader(*packed);
    ASSERT_TRUE(h) << h.error().ToString();
    EXPECT_EQ(h->version, 6u);
    EXPECT_EQ(h->has_md5(), cud);
    auto back = UnpackContainer(*packed);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, f);
  }
  f.erase("COPYING");
  EXPECT_FALSE(PackContainer(f, "daily", false));
  EXPECT_FALSE(PackContainer(Db(), "daily", false));  // no daily.info
}

// --- The whole pipeline against ClamAV's own tools ---------------------------------------------
// sigtool builds two versions of a database and writes the script between them (sigtool --diff,
// the generator of ClamAV's published .cdiff files); the test signs it with its key; the
// pipeline unpacks version 5, applies the .cdiff and repacks: the files equal version 6's, and
// libclamav loads the result.

class SigtoolFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v sigtool >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "sigtool (Debian package clamav) is not installed";
    dir_ = fs::temp_directory_path() / ("scan-cdiff-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  static std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // A .cud of `ndb` lines at `version`, as sigtool --unsigned builds it.
  std::string BuildCud(int version, const std::vector<std::string>& ndb) {
    const fs::path b = dir_ / ("build" + std::to_string(version));
    fs::create_directories(b);
    {
      std::ofstream out(b / "daily.ndb");
      for (const auto& l : ndb) out << l << "\n";
      std::ofstream(b / "daily.hdb")
          << "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n";
      std::ofstream(b / "COPYING") << "seccloud test signatures\n";
    }
    const std::string cmd = "cd " + b.string() +
                            " && echo tester | sigtool --quiet --unsigned --no-cdiff "
                            "--build=daily.cud --cvd-version=" +
                            std::to_string(version) + " --datadir=" + (b / "none").string() +
                            " >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    const fs::path out = dir_ / ("daily-" + std::to_string(version) + ".cud");
    fs::rename(b / "daily.cud", out);
    fs::remove_all(b);
    return out.string();
  }
  // sigtool --diff's script from one container to the next.
  std::string SigtoolScript(const std::string& from, const std::string& to) {
    // Names relative to the directory: sigtool derives the script's name from its arguments.
    const std::string cmd = "cd " + dir_.string() + " && sigtool --diff " +
                            fs::path(from).filename().string() + " " +
                            fs::path(to).filename().string() + " >/dev/null 2>&1";
    (void)std::system(cmd.c_str());  // it also tries to verify against a live daily.info: fails
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string().find(".script") != std::string::npos) {
        std::string s = Read(e.path());
        fs::remove(e.path());
        return s;
      }
    return "";
  }
  // A ClamAV-only engine whose database directory `db` holds just `cud` as daily.cud.
  static Result<std::unique_ptr<ScanEngine>> EngineOnCud(const std::string& cud,
                                                         const fs::path& db) {
    fs::create_directories(db);
    fs::copy_file(cud, db / "daily.cud");
    ScanConfig c;
    c.enabled = true;
    c.clamav_database = db;
    c.yara_enabled = false;
    return ScanEngine::Create(c);
  }
  fs::path dir_;
};

TEST_F(SigtoolFixture, AppliesSigtoolsScriptAndLibclamavLoadsTheResult) {
  const std::string v5 =
      BuildCud(5, {"A:0:*:41414141", "B:0:*:42424242", "C:0:*:43434343", "G:0:*:47474747"});
  const std::string v6 = BuildCud(
      6, {"A:0:*:41414141", "C2:0:*:4343434343", "G:0:*:47474747", "H:0:*:53454343444946463638"});
  const std::string v7 = BuildCud(7, {"C2:0:*:4343434343", "H:0:*:53454343444946463638"});
  const std::string s56 = SigtoolScript(v5, v6);
  const std::string s67 = SigtoolScript(v6, v7);
  ASSERT_NE(s56.find("OPEN daily.info"), std::string::npos) << s56;
  ASSERT_NE(s67.find("DEL"), std::string::npos) << s67;

  auto files = UnpackContainer(Read(v5));
  ASSERT_TRUE(files) << files.error().ToString();
  for (const auto& [version, script] : {std::pair{6u, s56}, std::pair{7u, s67}}) {
    auto cdiff = OpenCdiff(Key2048().Cdiff(version, script), Key2048().key());
    ASSERT_TRUE(cdiff) << cdiff.error().ToString();
    auto applied = ApplyCdiffScript(cdiff->script, *files);
    ASSERT_TRUE(applied) << applied.error().message << "\n" << script;
  }
  auto expected = UnpackContainer(Read(v7));
  ASSERT_TRUE(expected);
  EXPECT_EQ(*files, *expected);

  // Repacked as a .cud (the base was unsigned): libclamav verifies the per-file SHA-256 sums of
  // the .info the scripts rewrote, and loads it.
  ASSERT_TRUE(internal::InitClamav());
  auto cud = PackContainer(*files, "daily", true);
  ASSERT_TRUE(cud) << cud.error().ToString();
  EXPECT_EQ(ParseCvdHeader(*cud)->version, 7u);
  const fs::path out = dir_ / "daily.cud";
  std::ofstream(out, std::ios::binary) << *cud;
  EXPECT_EQ(cl_cvdverify(out.c_str()), CL_SUCCESS);

  // A line the scripts got wrong would show in those sums: change one and libclamav refuses.
  DatabaseFiles broken = *files;
  broken["daily.ndb"] += "X:0:*:58585858\n";
  std::ofstream(out, std::ios::binary) << *PackContainer(broken, "daily", true);
  EXPECT_NE(cl_cvdverify(out.c_str()), CL_SUCCESS);

  // As a .cld, libclamav wants ClamAV's signature line in the .info (official .cdiff files keep
  // it current); an unsigned base has none, so the .cld is refused: the updater writes .cud.
  const fs::path cld = dir_ / "daily.cld";
  std::ofstream(cld, std::ios::binary) << *PackContainer(*files, "daily", false);
  EXPECT_NE(cl_cvdverify(cld.c_str()), CL_SUCCESS);

  // A script made for another version does not apply.
  auto again = UnpackContainer(Read(v5));
  ASSERT_TRUE(again);
  auto wrong = ApplyCdiffScript(s67, *again);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("does not start with"), std::string::npos)
      << wrong.error().message;
}

// --- The updater against a real nginx mirror ---------------------------------------------------

// nginx serving `root` on 127.0.0.1 (a free port), logging "<uri> <status>" per request; stopped
// by pid.
class Mirror {
 public:
  explicit Mirror(const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir / "www" / "clamav");
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::close(s);
    std::ofstream(dir / "nginx.conf")
        << "pid " << (dir / "nginx.pid").string() << ";\nworker_processes 1;\n"
        << "error_log " << (dir / "error.log").string() << " warn;\n"
        << "events { worker_connections 64; }\nhttp {\n"
        << "  log_format m '$request_uri $status';\n"
        << "  access_log " << (dir / "access.log").string() << " m;\n"
        << "  client_body_temp_path " << (dir / "body").string() << ";\n"
        << "  proxy_temp_path " << (dir / "proxy").string() << ";\n"
        << "  fastcgi_temp_path " << (dir / "fastcgi").string() << ";\n"
        << "  uwsgi_temp_path " << (dir / "uwsgi").string() << ";\n"
        << "  scgi_temp_path " << (dir / "scgi").string() << ";\n"
        << "  default_type application/octet-stream;\n"
        << "  server { listen 127.0.0.1:" << port_ << "; root " << (dir / "www").string()
        << "; }\n}\n";
    const std::string prefix = dir.string(), conf = (dir / "nginx.conf").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      const char* nginx = ::access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "nginx";
      ::execlp(nginx, nginx, "-p", prefix.c_str(), "-c", conf.c_str(), "-e", "stderr", "-g",
               "daemon off;", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !Up(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~Mirror() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool Up() const {
    const int s = test::ConnectLoopback(port_);
    if (s >= 0) ::close(s);
    return s >= 0;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/clamav"; }
  fs::path www() const { return dir_ / "www" / "clamav"; }
  void Publish(const std::string& name, const std::string& bytes) const {
    std::ofstream(www() / (name + ".tmp"), std::ios::binary) << bytes;
    fs::rename(www() / (name + ".tmp"), www() / name);
  }
  void Versions(uint32_t daily) const {
    Publish("dns.txt", "1.4.6:0:" + std::to_string(daily) + ":1795690000:1:90:0:0\n");
  }
  // Requests of `uri` answered `status` so far.
  int Count(const std::string& uri, int status) const {
    std::ifstream in(dir_ / "access.log");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += line == "/clamav/" + uri + " " + std::to_string(status);
    return n;
  }

 private:
  fs::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST_F(SigtoolFixture, MirrorAppliesSignedCdiffsAndFallsBackToTheWholeContainer) {
  if (std::system("command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx") != 0)
    GTEST_SKIP() << "nginx is not installed";
  const std::vector<std::string> base = {"A:0:*:41414141", "B:0:*:42424242"};
  const std::string probe_h = "x SECCDIFFH y", probe_j = "x SECCDIFFJ y", probe_k = "x SECCDIFFK y";
  const std::string v5 = BuildCud(5, base);
  const std::string v6 = BuildCud(6, {"A:0:*:41414141", "H:0:*:534543434449464648"});
  const std::string v7 = BuildCud(7, {"H:0:*:534543434449464648", "J:0:*:53454343444946464a"});
  const std::string v8 = BuildCud(
      8, {"H:0:*:534543434449464648", "J:0:*:53454343444946464a", "K:0:*:53454343444946464b"});
  const std::string s56 = SigtoolScript(v5, v6), s67 = SigtoolScript(v6, v7),
                    s78 = SigtoolScript(v7, v8);
  ASSERT_FALSE(s56.empty() || s67.empty() || s78.empty());

  Mirror mirror(dir_ / "mirror");
  ASSERT_TRUE(mirror.Up()) << "nginx did not start";
  const fs::path db = dir_ / "db";
  auto engine = EngineOnCud(v5, db);
  ASSERT_TRUE(engine) << engine.error().ToString();
  auto detects = [&](const std::string& probe) {
    auto v = (*engine)->ScanBuffer(AsBytes(probe), {});
    return v && v->result == Verdict::kInfected;
  };
  EXPECT_FALSE(detects(probe_h));

  ScanMirrorConfig mc;
  mc.url = mirror.url();
  mc.databases = {"daily.cud"};
  mc.allow_unsigned = true;
  mc.timeout = std::chrono::seconds(10);

  // 5 -> 7 by two signed .cdiff files; the whole container is never fetched.
  mirror.Publish("daily-6.cdiff", Key2048().Cdiff(6, s56));
  mirror.Publish("daily-7.cdiff", Key2048().Cdiff(7, s67));
  mirror.Publish("daily.cud", Read(v7));
  mirror.Versions(7);
  SignatureMirror updater(mc, db, **engine, Key2048().key());
  MirrorUpdateReport r = updater.Update();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.incremental_failures.empty()) << r.incremental_failures.front();
  ASSERT_EQ(r.updated.size(), 1u);
  EXPECT_EQ(r.updated[0], "daily.cud 5 -> 7 (2 .cdiff)");
  EXPECT_TRUE(r.reload.ok) << r.reload.error;
  EXPECT_EQ(mirror.Count("daily-6.cdiff", 200), 1);
  EXPECT_EQ(mirror.Count("daily-7.cdiff", 200), 1);
  EXPECT_EQ(mirror.Count("daily.cud", 200), 0);
  EXPECT_TRUE(detects(probe_h));
  EXPECT_TRUE(detects(probe_j));
  EXPECT_FALSE(detects(probe_k));
  EXPECT_EQ(ParseCvdHeader(Read(db / "daily.cud"))->version, 7u);
  EXPECT_EQ(*UnpackContainer(Read(db / "daily.cud")), *UnpackContainer(Read(v7)));

  // 7 -> 8 with a tampered .cdiff: refused, the whole container is fetched instead.
  std::string tampered = Key2048().Cdiff(8, s78);
  tampered[40] ^= 0x01;
  mirror.Publish("daily-8.cdiff", tampered);
  mirror.Publish("daily.cud", Read(v8));
  mirror.Versions(8);
  r = updater.Update();
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.incremental_failures.size(), 1u);
  EXPECT_NE(r.incremental_failures[0].find("daily-8.cdiff: .cdiff digital signature"),
            std::string::npos)
      << r.incremental_failures[0];
  ASSERT_EQ(r.updated.size(), 1u);
  EXPECT_EQ(r.updated[0], "daily.cud 7 -> 8");
  EXPECT_EQ(mirror.Count("daily.cud", 200), 1);
  EXPECT_TRUE(detects(probe_k));

  // ClamAV's key (what scand uses) refuses a .cdiff signed by anyone else: whole container.
  const std::string v9 = BuildCud(9, {"H:0:*:534543434449464648", "J:0:*:53454343444946464a",
                                      "K:0:*:53454343444946464b", "L:0:*:53454343444946464c"});
  mirror.Publish("daily-9.cdiff", Key2048().Cdiff(9, SigtoolScript(v8, v9)));
  mirror.Publish("daily.cud", Read(v9));
  mirror.Versions(9);
  SignatureMirror production(mc, db, **engine);
  r = production.Update();
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.incremental_failures.size(), 1u);
  EXPECT_NE(r.incremental_failures[0].find("digital signature"), std::string::npos);
  EXPECT_EQ(r.updated[0], "daily.cud 8 -> 9");

  // A .cdiff the mirror does not have (404): whole container, and the reason says so.
  const std::string v10 = BuildCud(10, {"H:0:*:534543434449464648"});
  mirror.Publish("daily.cud", Read(v10));
  mirror.Versions(10);
  r = updater.Update();
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.incremental_failures.size(), 1u);
  EXPECT_NE(r.incremental_failures[0].find("daily-10.cdiff answered HTTP 404"), std::string::npos)
      << r.incremental_failures[0];
  EXPECT_EQ(r.updated[0], "daily.cud 9 -> 10");
  EXPECT_FALSE(detects(probe_j));

  // A signed .cdiff that does not fit the local database (made for another version): refused by
  // the interpreter, the old engine stays until the whole container verifies.
  const std::string v11 = BuildCud(11, {"H:0:*:534543434449464648", "J:0:*:53454343444946464a"});
  mirror.Publish("daily-11.cdiff", Key2048().Cdiff(11, s78));
  fs::remove(mirror.www() / "daily.cud");
  mirror.Versions(11);
  r = updater.Update();
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.incremental_failures.size(), 1u);
  EXPECT_NE(r.incremental_failures[0].find("daily-11.cdiff: cdiff script line"), std::string::npos)
      << r.incremental_failures[0];
  EXPECT_TRUE(r.updated.empty());
  EXPECT_EQ(ParseCvdHeader(Read(db / "daily.cud"))->version, 10u);
  EXPECT_TRUE(detects(probe_h));
}

// A mirror publishing daily.cld (a private mirror's freshclam output; allowed only with
// allow_unsigned): its header carries no signature, so libclamav checks ClamAV's signature of
// the .info inside it. A .cld whose .info is not signed by ClamAV is refused with libclamav's
// reason and the engine keeps its signatures. (A .cld that loads needs a ClamAV-signed .info,
// i.e. one built by freshclam from official data: not available to an offline test.)
TEST_F(SigtoolFixture, MirrorCldWithoutClamavsInfoSignatureIsRefused) {
  if (std::system("command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx") != 0)
    GTEST_SKIP() << "nginx is not installed";
  const std::string v5 = BuildCud(5, {"A:0:*:41414141"});
  const std::string v6 = BuildCud(6, {"A:0:*:41414141", "H:0:*:534543434449464648"});
  Mirror mirror(dir_ / "mirror");
  ASSERT_TRUE(mirror.Up()) << "nginx did not start";
  const fs::path db = dir_ / "db";
  auto engine = EngineOnCud(v5, db);
  ASSERT_TRUE(engine) << engine.error().ToString();
  const std::string before = (*engine)->db_version();

  auto files = UnpackContainer(Read(v6));
  ASSERT_TRUE(files);
  auto cld = PackContainer(*files, "daily", false);
  ASSERT_TRUE(cld);
  mirror.Publish("daily.cld", *cld);
  mirror.Versions(6);
  ScanMirrorConfig mc;
  mc.url = mirror.url();
  mc.databases = {"daily.cld"};
  mc.allow_unsigned = true;
  mc.timeout = std::chrono::seconds(10);
  SignatureMirror updater(mc, db, **engine);
  MirrorUpdateReport r = updater.Update();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("daily.cld: libclamav refuses it"), std::string::npos) << r.error;
  EXPECT_TRUE(r.updated.empty());
  EXPECT_EQ(mirror.Count("daily.cld", 200), 1);
  EXPECT_EQ((*engine)->db_version(), before);
  EXPECT_TRUE(fs::exists(db / "daily.cud"));
  EXPECT_FALSE(fs::exists(db / "daily.cld"));
}

}  // namespace
}  // namespace seccloud::scan
