#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "net/tls.h"
#include "net/tls_testing.h"

namespace seccloud::net {
namespace {

using testing::TempDir;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

X509Ptr ReadCert(const fs::path& p) {
  FILE* f = std::fopen(p.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return cert;
}

unsigned Mode(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

// The import tests need the test PKI of tests/tls/make-test-pki.sh. It is built on first use
// (ctest runs every test in a process of its own, and most tests here need none) in a directory
// the suite owns and removes when it ends.
class InterceptionCaTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { pki_dir_.reset(); }

  // The PKI's directory, built by the first call; empty (with the script's output reported as a
  // failure) when the script failed.
  static fs::path TestPki() {
    if (!pki_dir_) {
      pki_dir_ = std::make_unique<TempDir>();
      std::string out;
      const int rc = testing::RunShell(
          testing::ShellQuote((testing::SourceDir() / "tests/tls/make-test-pki.sh").string()) +
              " " + testing::ShellQuote(pki_dir_->path().string()),
          &out);
      pki_built_ = rc == 0;
      EXPECT_EQ(rc, 0) << out;
    }
    return pki_built_ ? pki_dir_->path() : fs::path();
  }

 private:
  static inline std::unique_ptr<TempDir> pki_dir_;
  static inline bool pki_built_ = false;
};

TEST_F(InterceptionCaTest, InitWritesKeyAndSelfSignedCaCertificate) {
  TempDir dir;
  ASSERT_TRUE(InitCa(dir.path() / "ca", CaOptions{.node = "gw1"}));
  EXPECT_EQ(Mode(dir.path() / "ca" / kCaKeyFile), 0600u);
  EXPECT_EQ(Mode(dir.path() / "ca" / kCaCertFile), 0644u);
  for (const auto& e : fs::directory_iterator(dir.path() / "ca"))  // no temporary left behind
    EXPECT_TRUE(e.path().filename() == kCaKeyFile || e.path().filename() == kCaCertFile)
        << e.path();

  X509Ptr cert = ReadCert(dir.path() / "ca" / kCaCertFile);
  ASSERT_TRUE(cert);
  EXPECT_EQ(SubjectLine(cert.get()), "CN=seccloud interception CA gw1,O=seccloud");
  EXPECT_EQ(IssuerLine(cert.get()), SubjectLine(cert.get()));
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  const uint32_t flags = X509_get_extension_flags(cert.get());
  EXPECT_TRUE(flags & EXFLAG_CA);
  EXPECT_TRUE(flags & EXFLAG_SS);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(crit, 1);
  EXPECT_TRUE(bc->ca);
  BASIC_CONSTRAINTS_free(bc);
  auto* ku =
      static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(cert.get(), NID_key_usage, &crit, nullptr));
  ASSERT_NE(ku, nullptr);
  EXPECT_EQ(crit, 1);
  ASN1_BIT_STRING_free(ku);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(cert.get())), EVP_PKEY_EC);
  // Default validity: ten years (3650 days) from an hour ago.
  int days = 0, secs = 0;
  ASSERT_EQ(
      ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())),
      1);
  EXPECT_EQ(days, 3650);
  EXPECT_EQ(secs, 3600);
  // Self-signature verifies.
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);
  EXPECT_NE(ReadFile(dir.path() / "ca" / kCaKeyFile).find("BEGIN PRIVATE KEY"), std::string::npos);

  auto ca = InterceptionCa::Load(dir.path() / "ca");
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_EQ((*ca)->SubjectName(), "CN=seccloud interception CA gw1,O=seccloud");
  EXPECT_EQ((*ca)->CertificatePem(), ReadFile(dir.path() / "ca" / kCaCertFile));
}

TEST_F(InterceptionCaTest, RsaKeyAndValidityAreConfigurable) {
  TempDir dir;
  ASSERT_TRUE(InitCa(dir.path(), CaOptions{.node = "gw2",
                                           .key_type = CaKeyType::kRsa3072,
                                           .validity = std::chrono::days(30)}));
  X509Ptr cert = ReadCert(dir.path() / kCaCertFile);
  ASSERT_TRUE(cert);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(cert.get())), EVP_PKEY_RSA);
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(cert.get())), 3072);
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get()));
  EXPECT_EQ(days, 30);
  EXPECT_TRUE(InterceptionCa::Load(dir.path()));
}

TEST_F(InterceptionCaTest, RefusesToOverwriteUnlessForced) {
  TempDir dir;
  ASSERT_TRUE(InitCa(dir.path(), CaOptions{.node = "a"}));
  const std::string first = ReadFile(dir.path() / kCaCertFile);
  const std::string first_key = ReadFile(dir.path() / kCaKeyFile);
  auto again = InitCa(dir.path(), CaOptions{.node = "b"});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(ReadFile(dir.path() / kCaCertFile), first);
  EXPECT_EQ(ReadFile(dir.path() / kCaKeyFile), first_key);
  // A lone key (e.g. a crash between the two renames) also blocks an unforced init.
  fs::remove(dir.path() / kCaCertFile);
  EXPECT_EQ(InitCa(dir.path(), CaOptions{.node = "b"}).error().code, Errc::kAlreadyExists);
  ASSERT_TRUE(InitCa(dir.path(), CaOptions{.node = "b", .force = true}));
  EXPECT_NE(ReadFile(dir.path() / kCaCertFile), first);
  EXPECT_NE(ReadFile(dir.path() / kCaKeyFile), first_key);
  EXPECT_EQ(Mode(dir.path() / kCaKeyFile), 0600u);
}

TEST_F(InterceptionCaTest, RejectsBadOptions) {
  TempDir dir;
  EXPECT_FALSE(InitCa(dir.path(), CaOptions{.node = "bad node/with slash"}));
  EXPECT_FALSE(InitCa(dir.path(), CaOptions{.node = std::string(33, 'a')}));
  EXPECT_FALSE(InitCa(dir.path(), CaOptions{.validity = std::chrono::days(0)}));
  EXPECT_FALSE(fs::exists(dir.path() / kCaKeyFile));
}

TEST_F(InterceptionCaTest, LoadRefusesAKeyOthersCanRead) {
  TempDir dir;
  ASSERT_TRUE(InitCa(dir.path(), CaOptions{}));
  fs::permissions(dir.path() / kCaKeyFile, fs::perms::group_read, fs::perm_options::add);
  auto ca = InterceptionCa::Load(dir.path());
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Errc::kPermissionDenied);
  EXPECT_FALSE(InterceptionCa::Load(dir.path() / "missing"));
}

TEST_F(InterceptionCaTest, ImportsAnOrganisationCa) {
  const fs::path pki = TestPki();
  ASSERT_FALSE(pki.empty());
  TempDir dir;
  auto s =
      ImportCa(ReadFile(pki / "intermediate.pem"), ReadFile(pki / "intermediate.key"), dir.path());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(Mode(dir.path() / kCaKeyFile), 0600u);
  auto ca = InterceptionCa::Load(dir.path());
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_EQ((*ca)->SubjectName(), "CN=seccloud test intermediate");
  // Importing over it needs force.
  EXPECT_EQ(
      ImportCa(ReadFile(pki / "root.pem"), ReadFile(pki / "root.key"), dir.path()).error().code,
      Errc::kAlreadyExists);
  EXPECT_TRUE(ImportCa(ReadFile(pki / "root.pem"), ReadFile(pki / "root.key"), dir.path(), true));
}

TEST_F(InterceptionCaTest, ImportRejectsWhatIsNotAUsableCa) {
  const fs::path pki = TestPki();
  ASSERT_FALSE(pki.empty());
  TempDir dir;
  auto not_ca = ImportCa(ReadFile(pki / "good.cert"), ReadFile(pki / "good.key"), dir.path());
  ASSERT_FALSE(not_ca);
  EXPECT_EQ(not_ca.error().code, Errc::kInvalidArgument);
  EXPECT_NE(not_ca.error().message.find("not a CA"), std::string::npos) << not_ca.error().message;

  auto mismatch =
      ImportCa(ReadFile(pki / "root.pem"), ReadFile(pki / "intermediate.key"), dir.path());
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("does not belong"), std::string::npos)
      << mismatch.error().message;

  // Valid today, but not in 2040.
  auto expired = ImportCa(ReadFile(pki / "root.pem"), ReadFile(pki / "root.key"), dir.path(), false,
                          [] { return std::chrono::system_clock::from_time_t(2208988800); });
  ASSERT_FALSE(expired);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos) << expired.error().message;

  EXPECT_FALSE(ImportCa("not pem", ReadFile(pki / "root.key"), dir.path()));
  EXPECT_FALSE(ImportCa(ReadFile(pki / "root.pem"), "not pem", dir.path()));
  EXPECT_FALSE(ImportCa(std::string(100 * 1024, 'A'), ReadFile(pki / "root.key"), dir.path()));
  EXPECT_FALSE(fs::exists(dir.path() / kCaKeyFile));
  EXPECT_FALSE(fs::exists(dir.path() / kCaCertFile));
}

}  // namespace
}  // namespace seccloud::net
