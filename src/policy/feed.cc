#include "policy/feed.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/http_get.h"
#include "core/ip.h"
#include "core/text.h"

namespace seccloud::policy {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxFeedLineBytes = 4096;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A host of a feed: LDH plus '_' (real feeds hold such names), or an IP literal.
bool FeedHost(std::string_view s, UrlRuleConfig& r) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  if (auto ip = IpAddress::Parse(s)) {
    r.kind = UrlRuleConfig::Kind::kExactHost;
    r.value = ip->ToString();
    return true;
  }
  std::string host = Lower(s);
  size_t label = 0;
  bool dot = false;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      dot = true;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  if (!dot || label == 0) return false;
  r.value = std::move(host);
  return true;
}

// One line (already trimmed, not a comment) into an entry; false when no format matches.
bool ParseFeedLine(std::string_view line, UrlRuleConfig& r) {
  r.text = std::string(line);
  // RPZ: "host CNAME ." (and "*.host CNAME ."); other RPZ records are not indicators.
  if (size_t sp = line.find_first_of(" \t"); sp != std::string_view::npos) {
    std::string_view first = line.substr(0, sp), rest = Trim(line.substr(sp));
    if (rest.substr(0, 5) == "CNAME") {
      if (first.substr(0, 2) == "*.") first.remove_prefix(2);
      r.kind = UrlRuleConfig::Kind::kDomain;
      return FeedHost(first, r);
    }
    // hosts file: "0.0.0.0 host" / "127.0.0.1 host"
    if (first == "0.0.0.0" || first == "127.0.0.1" || first == "::" || first == "::1") {
      rest = rest.substr(0, rest.find_first_of(" \t#"));
      r.kind = UrlRuleConfig::Kind::kExactHost;
      return FeedHost(rest, r);
    }
    return false;
  }
  // c2-iocs.txt "ip;score"
  if (size_t semi = line.find(';'); semi != std::string_view::npos) line = line.substr(0, semi);
  bool adblock = false;
  if (line.substr(0, 2) == "||") {
    line.remove_prefix(2);
    adblock = true;
    if (size_t opt = line.find('$'); opt != std::string_view::npos) line = line.substr(0, opt);
    if (!line.empty() && line.back() == '^') line.remove_suffix(1);
  }
  if (line.substr(0, 7) == "http://")
    line.remove_prefix(7);
  else if (line.substr(0, 8) == "https://")
    line.remove_prefix(8);
  const size_t slash = line.find('/');
  if (slash != std::string_view::npos) {
    UrlRuleConfig host;
    if (!FeedHost(line.substr(0, slash), host)) return false;
    std::string_view path = line.substr(slash);
    for (char c : path)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
    r.kind = UrlRuleConfig::Kind::kUrlPrefix;
    r.value = "//" + host.value + std::string(path);  // scheme-less: any scheme, default ports
    return true;
  }
  if (line.find('/') == std::string_view::npos && line.find(':') != std::string_view::npos) {
    auto ip = IpAddress::Parse(line);
    if (!ip) return false;
    r.kind = UrlRuleConfig::Kind::kExactHost;
    r.value = ip->ToString();
    return true;
  }
  r.kind = UrlRuleConfig::Kind::kDomain;
  (void)adblock;  // "||host^" and a plain host both cover the host's subdomains
  if (!FeedHost(line, r)) return false;
  return true;
}

std::string Sha256Hex(const std::vector<FeedFile>& files) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const FeedFile& f : files) EVP_DigestUpdate(ctx, f.bytes.data(), f.bytes.size());
  unsigned char md[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string Sha256Of(const std::string& bytes) { return Sha256Hex({FeedFile{"", bytes}}); }

Result<std::string> ReadFileBounded(const fs::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read " + path.string(), errno);
  std::string out;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > limit)
      return MakeError(Errc::kResourceExhausted, path.string() + " is larger than 64 MiB");
  }
  return out;
}

class DefaultFeedFetcher final : public FeedFetcher {
 public:
  Result<std::vector<FeedFile>> Fetch(const std::string& source) override {
    std::vector<FeedFile> files;
    if (source.rfind("http://", 0) == 0) {
      HttpGetOptions options;
      options.max_body_bytes = kMaxFeedBytes;
      options.user_agent = "seccloud-feed";
      ASSIGN_OR_RETURN(HttpGetResponse r, HttpGet(source, options));
      if (r.status != 200)
        return MakeError(Errc::kUnavailable, source + " answered HTTP " + std::to_string(r.status));
      std::string body = std::move(r.body);
      std::string name = source.substr(source.rfind('/') + 1);
      files.push_back(FeedFile{name.empty() ? "index" : name, std::move(body)});
      return files;
    }
    std::error_code ec;
    fs::path p(source);
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> paths;
      for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        const std::string name = it->path().filename().string();
        if (name.empty() || name.front() == '.' || !it->is_regular_file(ec2)) continue;
        paths.push_back(it->path());
      }
      if (ec) return MakeError(Errc::kIo, "cannot list " + source + ": " + ec.message());
      std::sort(paths.begin(), paths.end());
      if (paths.size() > kMaxFeedFiles)
        return MakeError(Errc::kResourceExhausted, source + " holds more than 64 files");
      size_t total = 0;
      for (const fs::path& f : paths) {
        ASSIGN_OR_RETURN(std::string bytes, ReadFileBounded(f, kMaxFeedBytes));
        total += bytes.size();
        if (total > kMaxFeedBytes)
          return MakeError(Errc::kResourceExhausted, source + " holds more than 64 MiB");
        files.push_back(FeedFile{f.filename().string(), std::move(bytes)});
      }
      return files;
    }
    ASSIGN_OR_RETURN(std::string bytes, ReadFileBounded(p, kMaxFeedBytes));
    files.push_back(FeedFile{p.filename().string(), std::move(bytes)});
    return files;
  }
};

}  // namespace

void ParseFeedText(std::string_view text, FeedData& out) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#' || line.front() == '!' || line.front() == ';') continue;
    // RPZ zone boilerplate is not an indicator and not an error.
    if (line.front() == '$' || line.front() == '@' || line.substr(0, 3) == "NS " ||
        line.find(" NS ") != std::string_view::npos)
      continue;
    ++out.lines;
    UrlRuleConfig r;
    if (line.size() > kMaxFeedLineBytes || !ParseFeedLine(line, r)) {
      ++out.bad_lines;
      continue;
    }
    out.entries.push_back(std::move(r));
  }
}

std::unique_ptr<FeedFetcher> MakeDefaultFeedFetcher() {
  return std::make_unique<DefaultFeedFetcher>();
}

Result<std::shared_ptr<const FeedData>> LoadFeed(const FeedConfig& config, FeedFetcher& fetcher,
                                                 const FeedData* previous) {
  auto fail = [&](const std::string& why) {
    return MakeError(Errc::kInvalidArgument, "feed \"" + config.name + "\": " + why);
  };
  auto fetched = fetcher.Fetch(config.source);
  if (!fetched)
    return MakeError(fetched.error().code,
                     "feed \"" + config.name + "\": " + fetched.error().message);
  std::vector<FeedFile> files = std::move(*fetched);
  size_t total = 0;
  for (const FeedFile& f : files) total += f.bytes.size();
  if (files.empty() || total == 0) return fail("the source is empty");
  if (total > kMaxFeedBytes) return fail("the source is larger than 64 MiB");
  if (!config.checksum.empty()) {
    auto manifest = fetcher.Fetch(config.checksum);
    if (!manifest || manifest->size() != 1)
      return fail("cannot fetch the checksum manifest " + Quote(config.checksum));
    std::map<std::string, std::string> sums;
    std::string_view text = (*manifest)[0].bytes;
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      std::string_view line = Trim(text.substr(0, nl));
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      const size_t sp = line.find(' ');
      if (line.empty() || line.front() == '#' || sp != 64) continue;
      std::string_view name = Trim(line.substr(sp));
      if (!name.empty() && name.front() == '*') name.remove_prefix(1);
      sums[std::string(fs::path(std::string(name)).filename())] = Lower(line.substr(0, 64));
    }
    for (const FeedFile& f : files) {
      if (f.name == fs::path(config.checksum).filename().string()) continue;
      auto it = sums.find(f.name);
      if (it == sums.end()) return fail(Quote(f.name) + " is not listed in the checksum manifest");
      if (it->second != Sha256Of(f.bytes))
        return fail(Quote(f.name) + " does not match its SHA-256 in the checksum manifest");
    }
  }
  auto data = std::make_shared<FeedData>();
  data->name = config.name;
  const std::string manifest_name =
      config.checksum.empty() ? std::string() : fs::path(config.checksum).filename().string();
  std::vector<FeedFile> parsed;
  for (FeedFile& f : files) {
    if (!manifest_name.empty() && f.name == manifest_name) continue;  // a manifest beside the data
    ParseFeedText(f.bytes, *data);
    parsed.push_back(std::move(f));
  }
  data->sha256 = Sha256Hex(parsed);
  if (data->lines > 0 && data->bad_lines * 100 > data->lines)
    return fail(std::to_string(data->bad_lines) + " of " + std::to_string(data->lines) +
                " lines are not indicators (more than 1%): not a blocklist?");
  if (data->entries.size() < config.min_entries)
    return fail("holds " + std::to_string(data->entries.size()) + " entries, fewer than " +
                std::to_string(config.min_entries));
  if (previous && !previous->entries.empty()) {
    const double floor = static_cast<double>(previous->entries.size()) * (1.0 - config.max_shrink);
    if (static_cast<double>(data->entries.size()) < floor)
      return fail("shrank from " + std::to_string(previous->entries.size()) + " to " +
                  std::to_string(data->entries.size()) + " entries, more than max_shrink " +
                  std::to_string(config.max_shrink));
  }
  return std::shared_ptr<const FeedData>(std::move(data));
}

}  // namespace seccloud::policy
