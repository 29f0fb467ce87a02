// R8: which uploads the proxy holds for scand, and how a form body is split into its files.
#include "proxy/upload_scan.h"

#include <gtest/gtest.h>

namespace seccloud::proxy {
namespace {

ProxyScanConfig Scan() {
  ProxyScanConfig sc;
  sc.enabled = true;
  sc.max_size = 1000;
  sc.bypass_content_types = {"video/", "audio/"};
  sc.bypass_domains = {"cdn.example"};
  return sc;
}

TEST(UploadScanPlanTest, BodiesUpToMaxSizeAreHeldAndLargerOnesStreamUnscanned) {
  const ProxyScanConfig sc = Scan();
  EXPECT_EQ(PlanUploadScan(sc, "application/octet-stream", "a.example", 1000).action,
            UploadScanAction::kHold);
  EXPECT_EQ(PlanUploadScan(sc, "", "a.example", std::nullopt).action, UploadScanAction::kHold)
      << "a chunked body is held until it proves too large";
  const UploadScanPlan big = PlanUploadScan(sc, "text/plain", "a.example", 1001);
  EXPECT_EQ(big.action, UploadScanAction::kTooLarge);
  EXPECT_EQ(big.note, "larger than proxy.scan.max_size (1000 bytes)");
}

TEST(UploadScanPlanTest, TheBypassListsApplyToTheDeclaredTypeAndTheDestination) {
  const ProxyScanConfig sc = Scan();
  UploadScanPlan p = PlanUploadScan(sc, "Video/MP4", "a.example", 10);
  EXPECT_EQ(p.action, UploadScanAction::kBypassed);
  EXPECT_EQ(p.note, "bypassed: media type video/");
  p = PlanUploadScan(sc, "text/plain", "up.cdn.example", 10);
  EXPECT_EQ(p.action, UploadScanAction::kBypassed);
  EXPECT_EQ(p.note, "bypassed: domain cdn.example");
  EXPECT_EQ(PlanUploadScan(sc, "text/plain", "cdn.example", 10).action,
            UploadScanAction::kBypassed);
  EXPECT_EQ(PlanUploadScan(sc, "text/plain", "xcdn.example", 10).action, UploadScanAction::kHold);
  // A video inside a form is a form: multipart bodies are never bypassed by their parts' types.
  EXPECT_EQ(PlanUploadScan(sc, "multipart/form-data; boundary=x", "a.example", 10).action,
            UploadScanAction::kHold);
}

TEST(FormBoundaryTest, OnlyMultipartFormDataWithAValidBoundary) {
  EXPECT_EQ(FormBoundary("multipart/form-data; boundary=----WebKitFormBoundaryAbC123"),
            "----WebKitFormBoundaryAbC123");
  EXPECT_EQ(FormBoundary("Multipart/Form-Data;boundary=\"a'b(c)\"; charset=utf-8"), "a'b(c)");
  EXPECT_EQ(FormBoundary("multipart/form-data; charset=utf-8; BOUNDARY=xyz"), "xyz");
  EXPECT_FALSE(FormBoundary("multipart/mixed; boundary=xyz"));
  EXPECT_FALSE(FormBoundary("application/x-www-form-urlencoded"));
  EXPECT_FALSE(FormBoundary("multipart/form-data"));
  EXPECT_FALSE(FormBoundary("multipart/form-data; boundary="));
  EXPECT_FALSE(FormBoundary("multipart/form-data; boundary=" + std::string(71, 'a')));
  EXPECT_FALSE(FormBoundary("multipart/form-data; boundary=\"a\r\nb\""));
  EXPECT_FALSE(FormBoundary("multipart/form-data; boundary"));
}

TEST(SplitFormTest, FieldsAndFilesAsBrowsersSendThem) {
  const std::string body =
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"comment\"\r\n"
      "\r\n"
      "hello\r\n"
      "--XyZ\r\n"
      "content-disposition: form-data; name=\"file\"; filename=\"a;b.exe\"\r\n"
      "Content-Type: application/octet-stream\r\n"
      "\r\n"
      "MZ\r\n--X not a delimiter\r\nbinary\r\n"
      "--XyZ--\r\n"
      "epilogue";
  auto parts = SplitForm(body, "XyZ");
  ASSERT_TRUE(parts) << parts.error().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "comment");
  EXPECT_EQ((*parts)[0].file_name, "");
  EXPECT_EQ((*parts)[0].content, "hello");
  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_EQ((*parts)[1].file_name, "a;b.exe");
  EXPECT_EQ((*parts)[1].content, "MZ\r\n--X not a delimiter\r\nbinary");
}

TEST(SplitFormTest, APreambleTransportPaddingAndAnEmptyPart) {
  const std::string body =
      "preamble\r\n--b \t\r\n\r\n\r\n--b\r\nContent-Disposition: form-data; name=x\r\n\r\n"
      "\r\n--b--";
  auto parts = SplitForm(body, "b");
  ASSERT_TRUE(parts) << parts.error().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "");
  EXPECT_EQ((*parts)[0].content, "");
  EXPECT_EQ((*parts)[1].name, "x");
  EXPECT_EQ((*parts)[1].content, "");
}

TEST(SplitFormTest, MalformedBodiesAreRefusedWithTheReason) {
  auto r = SplitForm("no delimiter here", "b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the form body has no boundary delimiter");
  r = SplitForm("--b\r\nContent-Disposition: form-data; name=x\r\n\r\nbody without end", "b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the form body ends inside part 1 (no closing boundary)");
  r = SplitForm("--bX\r\n\r\n\r\n--b--", "b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "a boundary delimiter at byte 0 is not followed by CRLF");
  r = SplitForm("--b\r\nX: " + std::string(100, 'h') + "\r\n\r\n\r\n--b--", "b",
                FormLimits{10, 64});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the header of part 1 has no end within 64 bytes");
  std::string many;
  for (int i = 0; i < 4; ++i) many += "--b\r\n\r\nx\r\n";
  many += "--b--";
  r = SplitForm(many, "b", FormLimits{3, 64});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the form has more than 3 parts");
  EXPECT_TRUE(SplitForm(many, "b", FormLimits{4, 64}));
  // Cut anywhere, a valid body is an error or fewer complete parts, never a read past its end.
  const std::string whole = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc\r\n--b--";
  for (size_t n = 0; n < whole.size(); ++n) {
    auto cut = SplitForm(std::string_view(whole).substr(0, n), "b");
    if (cut) {
      EXPECT_LE(cut->size(), 1u) << n;
    }
  }
}

}  // namespace
}  // namespace seccloud::proxy
