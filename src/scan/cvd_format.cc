#include "scan/cvd_format.h"

#include <charconv>
#include <vector>

#include "core/text.h"

namespace seccloud::scan {
namespace {

constexpr size_t kMaxVersionRecordBytes = 1024;
constexpr size_t kMaxFields = 16;

// Splits on ':' into at most kMaxFields fields; nullopt when there are more.
std::optional<std::vector<std::string_view>> SplitFields(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    if (out.size() == kMaxFields) return std::nullopt;
    const size_t colon = s.find(':');
    out.push_back(s.substr(0, colon));
    if (colon == std::string_view::npos) return out;
    s.remove_prefix(colon + 1);
  }
}

bool Printable(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  return true;
}

bool LowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool SignatureText(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
          c == '/' || c == '='))
      return false;
  return true;
}

Error Bad(std::string what) {
  return MakeError(Errc::kInvalidArgument, "CVD header: " + std::move(what));
}

}  // namespace

Result<CvdHeader> ParseCvdHeader(std::string_view header) {
  if (header.size() < kCvdHeaderBytes)
    return Bad("only " + std::to_string(header.size()) + " of 512 bytes (truncated file)");
  std::string_view h = header.substr(0, kCvdHeaderBytes);
  if (h.substr(0, 11) != "ClamAV-VDB:") return Bad("does not start with ClamAV-VDB:");
  while (!h.empty() && (h.back() == ' ' || h.back() == '\n' || h.back() == '\r' || h.back() == 0))
    h.remove_suffix(1);
  if (!Printable(h)) return Bad("holds bytes that are not printable ASCII");
  auto fields = SplitFields(h);
  if (!fields || fields->size() != 9)
    return Bad("has " + std::string(fields ? std::to_string(fields->size()) : "too many") +
               " fields, not 9 (ClamAV-VDB:time:version:sigs:flevel:md5:dsig:builder:stime)");
  const auto& f = *fields;
  CvdHeader out;
  out.build_time = std::string(f[1]);
  if (out.build_time.empty() || out.build_time.size() > 64) return Bad("bad build time");
  auto version = ParseClamavNumber<uint32_t>(f[2]);
  auto sigs = ParseClamavNumber<uint32_t>(f[3]);
  auto flevel = ParseClamavNumber<uint32_t>(f[4]);
  auto stime = ParseClamavNumber<int64_t>(f[8]);
  if (!version || *version == 0) return Bad("version " + Quote(f[2]) + " is not a number above 0");
  if (!sigs) return Bad("signature count " + Quote(f[3]) + " is not a number");
  if (!flevel) return Bad("functionality level " + Quote(f[4]) + " is not a number");
  if (!stime || *stime <= 0) return Bad("build time " + Quote(f[8]) + " is not a Unix time");
  // "X": no MD5, as in the header freshclam gives a .cld it built from .cdiff files.
  if (f[5] != "X" && (f[5].size() != 32 || !LowerHex(f[5])))
    return Bad("MD5 " + Quote(f[5]) + " is not 32 hex digits");
  if (f[6].empty() || f[6].size() > 512 || !SignatureText(f[6]))
    return Bad("digital signature field is not base-64 text");
  if (f[7].empty() || f[7].size() > 64) return Bad("builder name is empty or longer than 64 bytes");
  out.version = *version;
  out.signatures = *sigs;
  out.functionality_level = *flevel;
  out.md5 = std::string(f[5]);
  out.dsig = std::string(f[6]);
  out.builder = std::string(f[7]);
  out.build_unix_time = *stime;
  return out;
}

std::optional<uint32_t> MirrorVersionRecord::VersionOf(std::string_view database) const {
  if (database == "main") return main;
  if (database == "daily") return daily;
  if (database == "bytecode") return bytecode;
  return std::nullopt;
}

Result<MirrorVersionRecord> ParseVersionRecord(std::string_view text) {
  auto bad = [](std::string what) {
    return MakeError(Errc::kInvalidArgument, "version record: " + std::move(what));
  };
  if (text.size() > kMaxVersionRecordBytes) return bad("longer than 1024 bytes");
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    text = text.substr(1, text.size() - 2);
  if (text.empty()) return bad("empty");
  if (!Printable(text)) return bad("holds bytes that are not printable ASCII");
  auto fields = SplitFields(text);
  if (!fields || fields->size() < 8)
    return bad("has " + std::string(fields ? std::to_string(fields->size()) : "too many") +
               " fields, want at least 8 (engine:main:daily:time:warn:flevel:safebrowsing:"
               "bytecode)");
  const auto& f = *fields;
  MirrorVersionRecord r;
  if (f[0].empty() || f[0].size() > 32) return bad("bad engine version " + Quote(f[0]));
  r.engine = std::string(f[0]);
  auto main = ParseClamavNumber<uint32_t>(f[1]);
  auto daily = ParseClamavNumber<uint32_t>(f[2]);
  auto time = ParseClamavNumber<int64_t>(f[3]);
  auto flevel = ParseClamavNumber<uint32_t>(f[5]);
  auto bytecode = ParseClamavNumber<uint32_t>(f[7]);
  if (!main) return bad("main version " + Quote(f[1]) + " is not a number");
  if (!daily) return bad("daily version " + Quote(f[2]) + " is not a number");
  if (!time) return bad("record time " + Quote(f[3]) + " is not a number");
  if (!flevel) return bad("functionality level " + Quote(f[5]) + " is not a number");
  if (!bytecode) return bad("bytecode version " + Quote(f[7]) + " is not a number");
  r.main = *main;
  r.daily = *daily;
  r.record_time = *time;
  r.functionality_level = *flevel;
  r.bytecode = *bytecode;
  return r;
}

}  // namespace seccloud::scan
