// R18: issue 5's search figure — a single-IP search over 30 days of up to 100 million events.
// loggen.py makes ~16 k records/s here (100 M would take ~2 h), so this program generates the
// records itself, in C++, with loggen's shapes and shares (seccloud proxy.access 24 %, dns.query
// 14 %, syslog sshd/sudo/kernel/cron 12 %, nginx combined 12 %, Suricata EVE flow/dns/alert 10 %,
// Windows Security/Sysmon evtx JSON 10 %, Loghub-style HDFS 6 %, Hadoop 3 %, Apache error 2 %,
// OpenSSH 5 %, Linux 1.9 %, scan.detection 0.1 %; the same populations: 30 Zipf-sized tenants
// owning 10.<t>.0.0/16, internet peers half from a Zipf-popular set of 5,000 and half fresh
// random addresses, 4,000 Zipf-popular domains), in time order spread evenly over the span, with
// the needle 203.0.113.77 (never drawn otherwise) planted in exactly --needles records.
// Records go through soc::Normalize on a producer thread and straight into LogStore::Append in
// batches of --batch (no Sigma, no intel: this measures search), then Flush() and Compact() as
// socd's maintenance does (zstd --archive-level, blocks of 65,536 records). Then the store is
// reopened and the needle searched over the whole span, as a bare word and as source.ip, three
// runs each: wall and CPU seconds, blocks read / ruled out by the token index / total, records
// normalised, peak RSS. Timings are printed, never asserted.
//
//   soc_search_bench --records N [--days 30] [--work DIR] [--needles 5] [--batch 16384]
//                    [--archive-level 19] [--seed 18] [--keep] [--search-only [--compact]]
//                    [--search-threads N]
//
// --search-only searches WORK/store left by an earlier --keep run (drop the page cache between,
// `sync; echo 3 > /proc/sys/vm/drop_caches`, for the cold-ish figure) and leaves it there (it
// opens it, so a new journal file is written into it); with --compact it first Compact()s what
// that store still holds uncompacted (e.g. after a change to Compact).

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "soc/parse.h"
#include "soc/query.h"
#include "soc/store.h"
#include "soc_bench_util.h"

namespace seccloud {
namespace {

using namespace bench;  // Now, ProcessCpu, ProcStatusKb, ResetPeakRss, Group, DirBytes

namespace fs = std::filesystem;

constexpr const char* kNeedle = "203.0.113.77";
constexpr int64_t kDayMs = 86'400'000;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "soc_search_bench: %s\n", what.c_str());
  std::exit(1);
}

// SplitMix64: fast, fixed-seed, good enough for shapes and shares.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * 0x1.0p-53; }
  uint64_t Bits(int n) { return Next() >> (64 - n); }
  int64_t Range(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  // loggen.py's zipf_pick: first elements far more likely.
  template <typename T>
  const T& Skewed(const std::vector<T>& v) {
    return v[static_cast<size_t>(v.size() * std::pow(Uniform(), 2.5))];
  }

 private:
  uint64_t s_;
};

// Cumulative Zipf weights 1/(i+1)^s, picked by bisection (loggen.py's Population.bisect).
class Zipf {
 public:
  Zipf(size_t n, double s) {
    double acc = 0;
    for (size_t i = 0; i < n; ++i) cum_.push_back(acc += 1.0 / std::pow(i + 1.0, s));
  }
  size_t Pick(Rng& r) const {
    return std::lower_bound(cum_.begin(), cum_.end(), r.Uniform() * cum_.back()) - cum_.begin();
  }

 private:
  std::vector<double> cum_;
};

void Append(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Append(std::string& out, const char* fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  out.append(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
}

const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
const char* const kWdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

// One instant in every timestamp style the sources use (loggen.py's Clock).
struct Clock {
  int64_t ms = 0;
  tm t{};
  int64_t second = INT64_MIN;
  void Set(int64_t time_ms) {
    ms = time_ms;
    const int64_t s = time_ms / 1000;
    if (s != second) {
      second = s;
      const time_t tt = static_cast<time_t>(s);
      gmtime_r(&tt, &t);
    }
  }
  int Milli() const { return static_cast<int>(ms % 1000); }
  std::string Iso() const {  // 2026-11-26T03:20:22.123Z
    char b[64];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, Milli());
    return b;
  }
  std::string Eve(Rng& r) const {  // 2026-11-26T03:20:22.123456+0000
    char b[64];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%03d+0000", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, Milli(),
                  static_cast<int>(r.Range(0, 999)));
    return b;
  }
  std::string Win(Rng& r) const {  // 2026-11-26T03:20:22.1234567Z
    char b[64];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%04dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, Milli(),
                  static_cast<int>(r.Range(0, 9999)));
    return b;
  }
  std::string WinUtc() const {  // 2026-11-26 03:20:22.123
    char b[64];
    std::snprintf(b, sizeof b, "%04d-%02d-%02d %02d:%02d:%02d.%03d", t.tm_year + 1900, t.tm_mon + 1,
                  t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, Milli());
    return b;
  }
  std::string Bsd() const {  // Nov 26 03:20:22
    char b[64];
    std::snprintf(b, sizeof b, "%s %2d %02d:%02d:%02d", kMonths[t.tm_mon], t.tm_mday, t.tm_hour,
                  t.tm_min, t.tm_sec);
    return b;
  }
  std::string Clf() const {  // 26/Nov/2026:03:20:22 +0000
    char b[64];
    std::snprintf(b, sizeof b, "%02d/%s/%04d:%02d:%02d:%02d +0000", t.tm_mday, kMonths[t.tm_mon],
                  t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
    return b;
  }
  std::string Hdfs() const {  // 261126 032022
    char b[64];
    std::snprintf(b, sizeof b, "%02d%02d%02d %02d%02d%02d", t.tm_year % 100, t.tm_mon + 1,
                  t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
    return b;
  }
  std::string Hadoop() const {  // 2026-11-26 03:20:22,123
    char b[64];
    std::snprintf(b, sizeof b, "%04d-%02d-%02d %02d:%02d:%02d,%03d", t.tm_year + 1900, t.tm_mon + 1,
                  t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, Milli());
    return b;
  }
  std::string Ctime() const {  // Thu Nov 26 03:20:22 2026
    char b[64];
    std::snprintf(b, sizeof b, "%s %s %02d %02d:%02d:%02d %04d", kWdays[t.tm_wday],
                  kMonths[t.tm_mon], t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_year + 1900);
    return b;
  }
};

// loggen.py's Population: tenants, addresses, domains, users, hosts.
struct Population {
  explicit Population(Rng& r) : tenants(30, 0.9), popular_zipf(5000, 1.1), domain_zipf(4000, 1.0) {
    while (popular.size() < 5000) popular.push_back(RandomPublic(r));
    const std::vector<std::string> words = {
        "shiyakusho", "kenko",    "fukushi", "kosodate", "kankyo",  "gomi",    "bosai",   "kanko",
        "shisetsu",   "toshokan", "gakko",   "kyoiku",   "suido",   "zeimu",   "koseki",  "hoken",
        "nenkin",     "jutaku",   "doboku",  "kotsu",    "shinsei", "news",    "weather", "mail",
        "drive",      "cdn",      "api",     "static",   "img",     "video",   "shop",    "bank",
        "map",        "search",   "login",   "portal",   "update",  "support", "docs",    "blog",
        "forum",      "cloud",    "office",  "sync",     "auth"};
    const std::vector<std::string> tlds = {"jp",    "co.jp", "go.jp", "lg.jp", "ne.jp",
                                           "or.jp", "com",   "net",   "org",   "io"};
    for (int i = 0; i < 4000; ++i) {
      domains.push_back(words[r.Next() % words.size()] + (i < 300 ? "" : std::to_string(i)) + "." +
                        tlds[r.Next() % tlds.size()]);
    }
    users = {"tanaka",    "suzuki",    "sato",   "takahashi", "watanabe", "ito",    "yamamoto",
             "nakamura",  "kobayashi", "kato",   "yoshida",   "yamada",   "sasaki", "yamaguchi",
             "matsumoto", "inoue",     "kimura", "hayashi",   "shimizu",  "saito"};
    for (int i = 0; i < 200; ++i)
      users.push_back("user" + std::string(i < 10 ? "00" : i < 100 ? "0" : "") + std::to_string(i));
    bad_users = {"root",    "admin", "test", "oracle", "postgres", "ubuntu",    "guest",
                 "ftpuser", "pi",    "git",  "user",   "support",  "webmaster", "mysql"};
    for (int t = 1; t <= 30; ++t)
      for (int i = 1; i <= 8; ++i) hosts.push_back(Fmt("srv%02d-t%02d", i, t));
    for (int t = 1; t <= 30; ++t)
      for (int i = 0; i < 60; ++i) pcs.push_back(Fmt("PC-t%02d-%04d", t, i));
  }
  static std::string Fmt(const char* fmt, int a, int b) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, a, b);
    return buf;
  }
  static std::string RandomPublic(Rng& r) {
    while (true) {
      const int a = static_cast<int>(r.Range(1, 223));
      if (a == 10 || a == 127 || a == 100 || a == 169 || a == 172 || a == 192 || a == 198 ||
          a == 203)
        continue;
      char b[64];
      std::snprintf(b, sizeof b, "%d.%d.%d.%d", a, static_cast<int>(r.Bits(8)),
                    static_cast<int>(r.Bits(8)), static_cast<int>(r.Range(1, 254)));
      return b;
    }
  }
  int Tenant(Rng& r) const { return static_cast<int>(tenants.Pick(r)); }
  std::string Terminal(Rng& r, int t) const {
    const uint64_t x = r.Bits(13);
    char b[64];
    std::snprintf(b, sizeof b, "10.%d.%d.%d", t + 1, static_cast<int>(x >> 8),
                  static_cast<int>((x & 255) % 254 + 1));
    return b;
  }
  std::string Server(Rng& r) const {
    char b[64];
    std::snprintf(b, sizeof b, "10.%d.200.%d", Tenant(r) + 1, static_cast<int>(r.Bits(3) + 10));
    return b;
  }
  std::string Internet(Rng& r) const {
    if (r.Uniform() < 0.5) return popular[popular_zipf.Pick(r)];
    return RandomPublic(r);
  }
  const std::string& Domain(Rng& r) const { return domains[domain_zipf.Pick(r)]; }

  Zipf tenants, popular_zipf, domain_zipf;
  std::vector<std::string> popular, domains, users, bad_users, hosts, pcs;
};

const std::vector<std::string> kUas = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Microsoft-CryptoAPI/10.0",
    "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
    "curl/7.88.1",
    "python-requests/2.31.0",
    "Go-http-client/1.1"};
const std::vector<std::string> kPaths = {"/",
                                         "/index.html",
                                         "/favicon.ico",
                                         "/css/site.css",
                                         "/js/app.js",
                                         "/img/logo.png",
                                         "/api/v1/items",
                                         "/api/v1/login",
                                         "/search",
                                         "/news/2026/11/",
                                         "/kurashi/gomi/index.html",
                                         "/bosai/hinan.html",
                                         "/download/form.pdf",
                                         "/wp-login.php",
                                         "/.env",
                                         "/admin/",
                                         "/cgi-bin/luci",
                                         "/shinsei/online",
                                         "/robots.txt",
                                         "/sitemap.xml"};
const std::vector<std::string> kCategories = {
    "news",    "search",         "government", "education", "shopping",        "cdn",
    "webmail", "social-network", "video",      "finance",   "software-update", "unknown"};
const std::vector<int> kProxyStatus = {200, 200, 304, 302, 404, 206, 500};
const std::vector<int> kNginxStatus = {200, 200, 304, 404, 301, 403, 500};

enum Source {
  kProxy,
  kDns,
  kScan,
  kSyslog,
  kNginx,
  kEve,
  kWindows,
  kHdfs,
  kHadoop,
  kApache,
  kOpenssh,
  kLinux,
  kSources
};
struct SourceInfo {
  const char* name;
  soc::Format format;
  int weight;  // per 1,000 (loggen.py's SOURCES)
};
constexpr SourceInfo kSourceInfo[kSources] = {
    {"seccloud-proxy", soc::Format::kSeccloudEvent, 240},
    {"seccloud-dns", soc::Format::kSeccloudEvent, 140},
    {"seccloud-scan", soc::Format::kSeccloudEvent, 1},
    {"syslog", soc::Format::kSyslog, 120},
    {"nginx", soc::Format::kAccessLog, 120},
    {"eve", soc::Format::kSuricataEve, 100},
    {"windows", soc::Format::kWindowsEvent, 100},
    {"loghub-hdfs", soc::Format::kText, 60},
    {"loghub-hadoop", soc::Format::kText, 30},
    {"loghub-apache", soc::Format::kAccessLog, 20},
    {"loghub-openssh", soc::Format::kSyslog, 50},
    {"loghub-linux", soc::Format::kSyslog, 19},
};

// The needle goes into these sources in turn (loggen.py's needle_sources).
constexpr Source kNeedleSources[] = {kSyslog, kNginx, kProxy, kEve, kOpenssh, kWindows, kDns};

class Generator {
 public:
  explicit Generator(uint64_t seed) : r_(seed), p_(r_) {
    for (int s = 0; s < kSources; ++s) cum_[s] = (s ? cum_[s - 1] : 0) + kSourceInfo[s].weight;
  }

  Source Pick() {
    const int v = static_cast<int>(r_.Next() % static_cast<uint64_t>(cum_[kSources - 1]));
    return static_cast<Source>(std::upper_bound(cum_.begin(), cum_.end(), v) - cum_.begin());
  }

  // One record's raw line; ip: the needle, or empty for drawn addresses.
  void Make(Source s, int64_t time_ms, const std::string& ip, soc::Record* rec) {
    c_.Set(time_ms);
    std::string& o = rec->raw;
    o.clear();
    rec->tenant.clear();
    switch (s) {
      case kProxy:
        Proxy(o, ip, rec);
        break;
      case kDns:
        Dns(o, ip, rec);
        break;
      case kScan:
        Scan(o, ip, rec);
        break;
      case kSyslog:
        Syslog(o, ip);
        break;
      case kNginx:
        Nginx(o, ip);
        break;
      case kEve:
        Eve(o, ip);
        break;
      case kWindows:
        Windows(o, ip);
        break;
      case kHdfs:
        Hdfs(o, ip);
        break;
      case kHadoop:
        Hadoop(o);
        break;
      case kApache:
        Apache(o, ip);
        break;
      case kOpenssh:
        Openssh(o, ip);
        break;
      default:
        Linux(o, ip);
        break;
    }
  }

 private:
  static const char* Tid(int t) {
    static const auto names = [] {
      std::array<std::string, 30> n;
      for (int i = 0; i < 30; ++i) {
        char b[16];
        std::snprintf(b, sizeof b, "t%02d", i + 1);
        n[i] = b;
      }
      return n;
    }();
    return names[t].c_str();
  }

  void Proxy(std::string& o, const std::string& ip, soc::Record* rec) {
    const int t = p_.Tenant(r_);
    const std::string src = ip.empty() ? p_.Terminal(r_, t) : ip;
    const std::string& dom = p_.Domain(r_);
    const bool blocked = r_.Uniform() < 0.03;
    const char* method = r_.Uniform() < 0.85 ? "GET" : (r_.Uniform() < 0.8 ? "POST" : "CONNECT");
    const int status = blocked ? 403 : r_.Skewed(kProxyStatus);
    const bool https = r_.Uniform() < 0.9;
    const std::string& cat =
        blocked && r_.Uniform() < 0.2 ? std::string("malware") : r_.Skewed(kCategories);
    const char* tls = !https ? "none" : (r_.Uniform() < 0.7 ? "intercepted" : "spliced");
    Append(o,
           R"({"@timestamp":"%s","event":{"dataset":"proxy.access","kind":"event",)"
           R"("category":["web","network"],"type":["access"],"action":"%s","outcome":"%s",)"
           R"("id":"%016)" PRIx64
           R"(","duration":%d},"observer":{"name":"sc-node1","type":"proxy"},)"
           R"("tenant":{"id":"t%02d"},"client.ip":"10.%d.250.1","source":{"ip":"%s"},)"
           R"("seccloud":{"seq":%)" PRIu64 R"(,"attribution":"xff","url":{"category":"%s"},)"
           R"("tls":{"mode":"%s"},"verdict":{"action":"%s","layer":"common"}},)",
           c_.Iso().c_str(), blocked ? "blocked" : "allowed", blocked ? "failure" : "success",
           r_.Next(), static_cast<int>(r_.Range(200'000, 900'000'000)), t + 1, t + 1, src.c_str(),
           ++proxy_seq_, cat.c_str(), tls, blocked ? "block" : "allow");
    Append(o,
           R"("destination":{"ip":"%s","port":%d,"domain":"%s"},)"
           R"("http":{"request":{"method":"%s","bytes":%d},"response":{"status_code":%d,)"
           R"("bytes":%d}},"url":{"full":"%s://%s%s","domain":"%s"},)"
           R"("user_agent":{"original":"%s"}})",
           p_.Internet(r_).c_str(), https ? 443 : 80, dom.c_str(), method,
           static_cast<int>(r_.Range(200, 2000)), status,
           static_cast<int>(-std::log(1 - r_.Uniform()) * 30000), https ? "https" : "http",
           dom.c_str(), r_.Skewed(kPaths).c_str(), dom.c_str(), r_.Skewed(kUas).c_str());
    rec->tenant = Tid(t);
  }

  void Dns(std::string& o, const std::string& ip, soc::Record* rec) {
    static const std::vector<std::string> qtypes = {"A", "AAAA", "HTTPS", "A", "PTR", "MX", "TXT"};
    static const std::vector<std::string> hosts = {"www", "api", "cdn", "mail", "static", "img"};
    const int t = p_.Tenant(r_);
    const std::string& qtype = r_.Skewed(qtypes);
    const std::string& dom = p_.Domain(r_);
    const std::string name = r_.Uniform() < 0.6 ? dom : r_.Skewed(hosts) + "." + dom;
    const bool noerror = r_.Uniform() < 0.93;
    const bool rpz = r_.Uniform() < 0.002;
    const std::string client = ip.empty() ? p_.Terminal(r_, t) : ip;
    const std::string source = ip.empty() ? p_.Terminal(r_, t) : ip;
    std::string answers;
    if (noerror && qtype == "A")
      answers = R"(,"answers":[{"type":"A","data":")" + p_.Internet(r_) + "\"}]";
    Append(o,
           R"({"@timestamp":"%s","event":{"dataset":"dns.query","kind":"event",)"
           R"("category":["network"],"type":["protocol"],"action":"%s","outcome":"success",)"
           R"("id":"%016)" PRIx64
           R"("},"observer":{"name":"sc-node1","type":"dns"},"tenant":{"id":"t%02d"},)"
           R"("client":{"ip":"%s"},"source":{"ip":"%s"},"dns":{"question":{"name":"%s",)"
           R"("type":"%s"},"response_code":"%s"%s},"seccloud":{"seq":%)" PRIu64
           R"(,"dns":{"role":"resolver"%s}}})",
           c_.Iso().c_str(), rpz ? "blocked" : "answered", r_.Next(), t + 1, client.c_str(),
           source.c_str(), name.c_str(), qtype.c_str(), noerror ? "NOERROR" : "NXDOMAIN",
           answers.c_str(), ++dns_seq_, rpz ? R"(,"policy":"rpz-malware")" : "");
    rec->tenant = Tid(t);
  }

  void Scan(std::string& o, const std::string& ip, soc::Record* rec) {
    static const std::vector<std::string> sigs = {
        "Win.Trojan.Agent-1234", "Eicar-Signature", "Doc.Dropper.Emotet-77",
        "Js.Downloader.Nemucod-9", "YARA.SUSP_PowerShell_B64"};
    static const std::vector<std::string> files = {"invoice.doc", "setup.exe", "report.zip",
                                                   "photo.js", "update.ps1"};
    const int t = p_.Tenant(r_);
    const std::string src = ip.empty() ? p_.Terminal(r_, t) : ip;
    Append(o,
           R"({"@timestamp":"%s","event":{"dataset":"scan.detection","kind":"alert",)"
           R"("category":["malware"],"type":["info"],"action":"blocked","outcome":"success",)"
           R"("id":"%016)" PRIx64
           R"("},"observer":{"name":"sc-node1","type":"scan"},"tenant":{"id":"t%02d"},)"
           R"("source":{"ip":"%s"},"file":{"name":"%s","size":%d,"hash":{"sha256":"%016)" PRIx64
           "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 R"("}},)"
           R"("seccloud":{"seq":%)" PRIu64 R"(,"scan":{"engine":"clamav","signature":"%s",)"
           R"("db_version":"27470"}}})",
           c_.Iso().c_str(), r_.Next(), t + 1, src.c_str(), r_.Skewed(files).c_str(),
           static_cast<int>(r_.Range(1000, 5'000'000)), r_.Next(), r_.Next(), r_.Next(), r_.Next(),
           ++scan_seq_, r_.Skewed(sigs).c_str());
    rec->tenant = Tid(t);
  }

  std::string Or(const std::string& ip, std::string drawn) { return ip.empty() ? drawn : ip; }

  void Syslog(std::string& o, const std::string& ip) {
    static const std::vector<std::string> cmds = {
        "/usr/bin/systemctl restart nginx", "/usr/bin/apt-get upgrade -y",
        "/usr/bin/journalctl -u sshd", "/bin/cat /var/log/auth.log", "/usr/sbin/nft list ruleset"};
    static const std::vector<int> dports = {22, 23, 445, 3389, 80, 443, 8080, 53};
    const std::string& host = r_.Skewed(p_.hosts);
    const int pid = static_cast<int>(r_.Range(300, 65000));
    Append(o, "%s %s ", c_.Bsd().c_str(), host.c_str());
    // A needle record is always one that names an address (sshd's failed password).
    const double x = ip.empty() ? r_.Uniform() : 0;
    if (x < 0.45) {
      const double y = ip.empty() ? r_.Uniform() : 0;
      if (y < 0.55) {
        const bool invalid = r_.Uniform() < 0.6;
        const std::string& u = r_.Skewed(p_.bad_users);
        Append(o, "sshd[%d]: Failed password for %s%s from %s port %d ssh2", pid,
               invalid ? "invalid user " : "", u.c_str(), Or(ip, p_.Internet(r_)).c_str(),
               static_cast<int>(r_.Range(1024, 65535)));
      } else if (y < 0.75) {
        const std::string& u = r_.Skewed(p_.users);
        Append(o,
               "sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 "
               "SHA256:%016" PRIx64 "%016" PRIx64 "%011" PRIx64,
               pid, u.c_str(), Or(ip, p_.Terminal(r_, p_.Tenant(r_))).c_str(),
               static_cast<int>(r_.Range(1024, 65535)), r_.Next(), r_.Next(), r_.Bits(44));
      } else if (y < 0.9) {
        Append(o, "sshd[%d]: Connection closed by %s port %d [preauth]", pid,
               Or(ip, p_.Internet(r_)).c_str(), static_cast<int>(r_.Range(1024, 65535)));
      } else {
        Append(o, "sshd[%d]: pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)",
               pid, r_.Skewed(p_.users).c_str(), static_cast<int>(r_.Range(1000, 1200)));
      }
    } else if (x < 0.6) {
      const std::string& u = r_.Skewed(p_.users);
      Append(o, "sudo: %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=%s", u.c_str(),
             static_cast<int>(r_.Range(0, 5)), u.c_str(), r_.Skewed(cmds).c_str());
    } else if (x < 0.9) {
      const bool tcp = r_.Uniform() < 0.8;
      const int kt = static_cast<int>(r_.Range(1000, 9'999'999));
      const int ku = static_cast<int>(r_.Bits(19));
      const int m1 = static_cast<int>(r_.Bits(8)), m2 = static_cast<int>(r_.Bits(8)),
                m3 = static_cast<int>(r_.Bits(8));
      const std::string src = Or(ip, p_.Internet(r_));
      const std::string dst = p_.Server(r_);
      const int len = static_cast<int>(r_.Range(40, 1500)),
                ttl = static_cast<int>(r_.Range(30, 128));
      const int id = static_cast<int>(r_.Bits(16));
      const bool df = r_.Uniform() < 0.5;
      const int spt = static_cast<int>(r_.Range(1024, 65535));
      const int dpt = r_.Skewed(dports);
      Append(o,
             "kernel: [%d.%06d] nft-drop IN=eth0 OUT= "
             "MAC=52:54:00:%02x:%02x:%02x:52:54:00:12:34:56:08:00 SRC=%s DST=%s LEN=%d TOS=0x00 "
             "PREC=0x00 TTL=%d ID=%d %sPROTO=%s SPT=%d DPT=%d ",
             kt, ku, m1, m2, m3, src.c_str(), dst.c_str(), len, ttl, id, df ? "DF " : "",
             tcp ? "TCP" : "UDP", spt, dpt);
      if (tcp)
        o += "WINDOW=64240 RES=0x00 SYN URGP=0";
      else
        Append(o, "LEN=%d", static_cast<int>(r_.Range(8, 512)));
    } else {
      switch (r_.Skewed(std::vector<int>{0, 1, 2, 3})) {
        case 0:
          Append(o, "CRON[%d]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
                 pid);
          break;
        case 1:
          Append(o, "systemd[1]: Started session-%d.scope - Session %d of User %s.", pid, pid,
                 r_.Skewed(p_.users).c_str());
          break;
        case 2:
          o += "systemd[1]: logrotate.service: Deactivated successfully.";
          break;
        default:
          Append(o, "postfix/smtpd[%d]: connect from unknown[%s]", pid, p_.Internet(r_).c_str());
      }
    }
  }

  void Nginx(std::string& o, const std::string& ip) {
    const std::string client =
        Or(ip, r_.Uniform() < 0.7 ? p_.Internet(r_) : p_.Terminal(r_, p_.Tenant(r_)));
    const char* method = r_.Uniform() < 0.9 ? "GET" : "POST";
    std::string path = r_.Skewed(kPaths);
    if (r_.Uniform() < 0.3) path += "?id=" + std::to_string(r_.Range(1, 99999));
    const int status = r_.Skewed(kNginxStatus);
    const int bytes = static_cast<int>(-std::log(1 - r_.Uniform()) * 8000);
    char ref[48] = "-";
    if (r_.Uniform() >= 0.5)
      std::snprintf(ref, sizeof ref, "https://www.city%02d.lg.jp/",
                    static_cast<int>(r_.Range(1, 30)));
    Append(o, R"(%s - - [%s] "%s %s HTTP/1.1" %d %d "%s" "%s")", client.c_str(), c_.Clf().c_str(),
           method, path.c_str(), status, bytes, ref, r_.Skewed(kUas).c_str());
  }

  void Eve(std::string& o, const std::string& ip) {
    static const std::vector<int> ports = {443, 80, 53, 123, 993, 8443};
    static const std::vector<std::string> apps = {"tls", "http", "dns", "failed"};
    static const std::vector<std::string> rrtypes = {"A", "AAAA", "HTTPS"};
    const double x = r_.Uniform();
    const std::string src = Or(ip, p_.Terminal(r_, p_.Tenant(r_)));
    const std::string dst = p_.Internet(r_);
    const uint64_t flow_id = r_.Bits(50);
    const int sport = static_cast<int>(r_.Range(1024, 65535));
    if (x < 0.6) {
      const bool tcp = r_.Uniform() < 0.8;
      Append(o,
             R"({"timestamp":"%s","flow_id":%)" PRIu64 R"(,"in_iface":"eth1","event_type":"flow",)"
             R"("src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":%d,"proto":"%s",)"
             R"("app_proto":"%s","flow":{"pkts_toserver":%d,"pkts_toclient":%d,)"
             R"("bytes_toserver":%d,"bytes_toclient":%d,"start":"%s","end":"%s",)"
             R"("age":%d,"state":"closed","reason":"timeout","alerted":false}})",
             c_.Eve(r_).c_str(), flow_id, src.c_str(), sport, dst.c_str(), r_.Skewed(ports),
             tcp ? "TCP" : "UDP", r_.Skewed(apps).c_str(), static_cast<int>(r_.Range(1, 400)),
             static_cast<int>(r_.Range(1, 800)), static_cast<int>(r_.Range(60, 90000)),
             static_cast<int>(r_.Range(60, 2'000'000)), c_.Eve(r_).c_str(), c_.Eve(r_).c_str(),
             static_cast<int>(r_.Range(0, 120)));
    } else if (x < 0.95) {
      Append(o,
             R"({"timestamp":"%s","flow_id":%)" PRIu64 R"(,"in_iface":"eth1","event_type":"dns",)"
             R"("src_ip":"%s","src_port":%d,"dest_ip":"10.%d.0.53","dest_port":53,)"
             R"("proto":"UDP","dns":{"type":"query","id":%d,"rrname":"%s","rrtype":"%s",)"
             R"("tx_id":0,"opcode":0}})",
             c_.Eve(r_).c_str(), flow_id, src.c_str(), sport, static_cast<int>(r_.Range(1, 30)),
             static_cast<int>(r_.Bits(16)), p_.Domain(r_).c_str(), r_.Skewed(rrtypes).c_str());
    } else {
      struct Sig {
        int id;
        const char *text, *category;
        int severity;
      };
      static const std::vector<Sig> sigs = {
          {2013028, "ET POLICY curl User-Agent Outbound", "Attempted Information Leak", 2},
          {2027865, "ET INFO Observed DNS Query to .cloud TLD", "Potentially Bad Traffic", 2},
          {2001219, "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2},
          {2024792, "ET MALWARE Win32/Emotet CnC Activity", "A Network Trojan was detected", 1},
          {2019401, "ET POLICY Vulnerable Java Version 1.8.x Detected",
           "Potential Corporate Privacy Violation", 1}};
      static const std::vector<int> aports = {80, 443, 22, 8080};
      const Sig& sig = r_.Skewed(sigs);
      Append(o,
             R"({"timestamp":"%s","flow_id":%)" PRIu64 R"(,"in_iface":"eth1","event_type":"alert",)"
             R"("src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":%d,"proto":"TCP",)"
             R"("alert":{"action":"allowed","gid":1,"signature_id":%d,"rev":%d,)"
             R"("signature":"%s","category":"%s","severity":%d},"app_proto":"http"})",
             c_.Eve(r_).c_str(), flow_id, src.c_str(), sport, dst.c_str(), r_.Skewed(aports),
             sig.id, static_cast<int>(r_.Range(1, 9)), sig.text, sig.category, sig.severity);
    }
  }

  void Windows(std::string& o, const std::string& ip) {
    static const std::vector<int> logon_types = {3, 2, 10, 5, 7};
    static const std::vector<std::string> procs = {"NtLmSsp", "Kerberos", "User32"};
    static const std::vector<std::string> packages = {"NTLM", "Kerberos", "Negotiate"};
    static const std::vector<std::string> images = {
        R"(C:\\Windows\\System32\\svchost.exe)",
        R"(C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe)",
        R"(C:\\Windows\\explorer.exe)",
        R"(C:\\Windows\\System32\\conhost.exe)",
        R"(C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE)",
        R"(C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe)",
        R"(C:\\Windows\\System32\\cmd.exe)"};
    static const std::vector<std::string> args = {"", "--type=renderer", "-k netsvcs -p", "/c dir",
                                                  "-NoProfile"};
    static const std::vector<std::string> net_images = {
        R"(C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe)",
        R"(C:\\Windows\\System32\\svchost.exe)",
        R"(C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE)"};
    static const std::vector<int> net_ports = {443, 80, 53, 445};
    static const std::vector<std::string> new_procs = {"notepad.exe", "taskmgr.exe", "mmc.exe",
                                                       "whoami.exe"};
    const std::string& comp = r_.Skewed(p_.pcs);
    const int rec = static_cast<int>(r_.Range(1, 9'999'999));
    const double x = ip.empty() ? r_.Uniform() : 0;  // a needle: a logon naming it
    std::string data;
    int eid;
    const char *chan = "Security", *prov = "Microsoft-Windows-Security-Auditing";
    if (x < 0.35) {
      eid = 4624;
      Append(data,
             R"("SubjectUserSid":"S-1-5-18","SubjectUserName":"%s$","SubjectDomainName":"LGWAN",)"
             R"("TargetUserName":"%s","TargetDomainName":"LGWAN","LogonType":%d,)"
             R"("LogonProcessName":"%s","AuthenticationPackageName":"%s",)"
             R"("WorkstationName":"%s","IpAddress":"%s","IpPort":"%d")",
             comp.c_str(), r_.Skewed(p_.users).c_str(), r_.Skewed(logon_types),
             r_.Skewed(procs).c_str(), r_.Skewed(packages).c_str(), comp.c_str(),
             Or(ip, p_.Terminal(r_, p_.Tenant(r_))).c_str(),
             static_cast<int>(r_.Range(1024, 65535)));
    } else if (x < 0.45) {
      eid = 4625;
      const std::string& u = r_.Uniform() < 0.9 ? r_.Skewed(p_.users) : r_.Skewed(p_.bad_users);
      Append(data,
             R"("TargetUserName":"%s","TargetDomainName":"LGWAN","Status":"0xc000006d",)"
             R"("SubStatus":"0xc000006a","LogonType":3,"WorkstationName":"%s",)"
             R"("IpAddress":"%s","IpPort":"%d")",
             u.c_str(), comp.c_str(), Or(ip, p_.Terminal(r_, p_.Tenant(r_))).c_str(),
             static_cast<int>(r_.Range(1024, 65535)));
    } else if (x < 0.7) {
      eid = 1;
      chan = "Microsoft-Windows-Sysmon/Operational";
      prov = "Microsoft-Windows-Sysmon";
      const std::string& img = r_.Skewed(images);
      const std::string base = img.substr(img.rfind('\\') + 1);
      const std::string& user = r_.Skewed(p_.users);
      Append(
          data,
          R"("RuleName":"-","UtcTime":"%s","ProcessGuid":"{%08X-%04X-%04X-0000-0010%08X}",)"
          R"("ProcessId":%d,"Image":"%s","FileVersion":"10.0.19041.1","Description":"%s",)"
          R"("Product":"Microsoft Windows Operating System","Company":"Microsoft Corporation",)"
          R"("OriginalFileName":"%s","CommandLine":"\"%s\" %s","CurrentDirectory":"C:\\Users\\%s\\",)"
          R"("User":"LGWAN\\%s","LogonId":"0x%x","IntegrityLevel":"Medium",)"
          R"("Hashes":"SHA256=%016)" PRIX64 "%016" PRIX64 "%016" PRIX64 "%016" PRIX64
          R"(","ParentImage":"C:\\Windows\\explorer.exe",)"
          R"("ParentCommandLine":"C:\\Windows\\Explorer.EXE")",
          c_.WinUtc().c_str(), static_cast<unsigned>(r_.Bits(32)),
          static_cast<unsigned>(r_.Bits(16)), static_cast<unsigned>(r_.Bits(16)),
          static_cast<unsigned>(r_.Bits(32)), static_cast<int>(r_.Range(100, 60000)), img.c_str(),
          base.c_str(), base.c_str(), img.c_str(), r_.Skewed(args).c_str(), user.c_str(),
          r_.Skewed(p_.users).c_str(), static_cast<unsigned>(r_.Bits(24)), r_.Next(), r_.Next(),
          r_.Next(), r_.Next());
    } else if (x < 0.9) {
      eid = 3;
      chan = "Microsoft-Windows-Sysmon/Operational";
      prov = "Microsoft-Windows-Sysmon";
      Append(data,
             R"("RuleName":"-","UtcTime":"%s","ProcessId":%d,"Image":"%s","User":"LGWAN\\%s",)"
             R"("Protocol":"tcp","Initiated":"true","SourceIsIpv6":"false","SourceIp":"%s",)"
             R"("SourcePort":%d,"DestinationIsIpv6":"false","DestinationIp":"%s",)"
             R"("DestinationPort":%d)",
             c_.WinUtc().c_str(), static_cast<int>(r_.Range(100, 60000)),
             r_.Skewed(net_images).c_str(), r_.Skewed(p_.users).c_str(),
             Or(ip, p_.Terminal(r_, p_.Tenant(r_))).c_str(),
             static_cast<int>(r_.Range(1024, 65535)), p_.Internet(r_).c_str(),
             r_.Skewed(net_ports));
    } else {
      eid = 4688;
      Append(
          data,
          R"("SubjectUserName":"%s","SubjectDomainName":"LGWAN","NewProcessId":"0x%x",)"
          R"("NewProcessName":"C:\\Windows\\System32\\%s","TokenElevationType":"%%%%1938",)"
          R"("ProcessId":"0x%x","CommandLine":"","ParentProcessName":"C:\\Windows\\explorer.exe")",
          r_.Skewed(p_.users).c_str(), static_cast<unsigned>(r_.Bits(16)),
          r_.Skewed(new_procs).c_str(), static_cast<unsigned>(r_.Bits(16)));
    }
    Append(o,
           R"({"Event":{"System":{"Provider":{"#attributes":{"Name":"%s"}},"EventID":%d,)"
           R"("Version":2,"Level":0,"Task":12544,"Keywords":"0x8020000000000000",)"
           R"("TimeCreated":{"#attributes":{"SystemTime":"%s"}},"EventRecordID":%d,)"
           R"("Channel":"%s","Computer":"%s.lgwan.local"},"EventData":{)",
           prov, eid, c_.Win(r_).c_str(), rec, chan, comp.c_str());
    o += data;
    o += "}}}";
  }

  void Hdfs(std::string& o, const std::string& ip) {
    const int64_t blk = static_cast<int64_t>(r_.Bits(62)) - (int64_t{1} << 61);
    char dn[64];
    if (ip.empty())
      std::snprintf(dn, sizeof dn, "10.250.%d.%d", static_cast<int>(r_.Range(0, 20)),
                    static_cast<int>(r_.Range(1, 254)));
    else
      std::snprintf(dn, sizeof dn, "%s", ip.c_str());
    Append(o, "%s %d ", c_.Hdfs().c_str(), static_cast<int>(r_.Range(1, 40000)));
    const double x = r_.Uniform();
    if (x < 0.3) {
      Append(o,
             "INFO dfs.DataNode$PacketResponder: PacketResponder %d for block blk_%" PRId64
             " terminating",
             static_cast<int>(r_.Range(0, 2)), blk);
    } else if (x < 0.55) {
      Append(o,
             "INFO dfs.DataNode$PacketResponder: Received block blk_%" PRId64
             " of size %d from /%s",
             blk, r_.Uniform() < 0.5 ? 67108864 : static_cast<int>(r_.Range(1000, 67108864)), dn);
    } else if (x < 0.8) {
      Append(o,
             "INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: "
             "%s:50010 is added to blk_%" PRId64 " size %d",
             dn, blk, static_cast<int>(r_.Range(1000, 67108864)));
    } else if (x < 0.95) {
      Append(o,
             "INFO dfs.DataNode$DataXceiver: Receiving block blk_%" PRId64
             " src: /%s:%d dest: /%s:50010",
             blk, dn, static_cast<int>(r_.Range(30000, 60000)), dn);
    } else {
      Append(o,
             "WARN dfs.DataNode$DataXceiver: %s:50010:Got exception while serving blk_%" PRId64
             " to /%s:",
             dn, blk, dn);
    }
  }

  void Hadoop(std::string& o) {
    const int app = static_cast<int>(r_.Range(1, 9999));
    Append(o, "%s ", c_.Hadoop().c_str());
    switch (r_.Skewed(std::vector<int>{0, 1, 2, 3, 4, 5})) {
      case 0:
        Append(o,
               "INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster "
               "for application appattempt_1445144423722_%04d_000001",
               app);
        break;
      case 1:
        Append(o,
               "INFO [RMCommunicator Allocator] "
               "org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Recalculating "
               "schedule, headroom=<memory:%d, vCores:-%d>",
               static_cast<int>(r_.Range(0, 9000)), static_cast<int>(r_.Range(0, 30)));
        break;
      case 2:
        Append(o,
               "INFO [AsyncDispatcher event handler] "
               "org.apache.hadoop.mapreduce.v2.app.job.impl.TaskAttemptImpl: "
               "attempt_1445144423722_0020_m_%06d_0 TaskAttempt Transitioned from NEW to "
               "UNASSIGNED",
               static_cast<int>(r_.Range(0, 99)));
        break;
      case 3:
        Append(o,
               "WARN [LeaseRenewer:msrabi@msra-sa-41:9000] org.apache.hadoop.hdfs.LeaseRenewer: "
               "Failed to renew lease for [DFSClient_NONMAPREDUCE_1537864556_1] for %d seconds.  "
               "Will retry shortly ...",
               static_cast<int>(r_.Range(1, 600)));
        break;
      case 4:
        o += "ERROR [RMCommunicator Allocator] "
             "org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: ERROR IN CONTACTING RM. ";
        break;
      default:
        Append(o,
               "INFO [IPC Server handler %d on 62270] "
               "org.apache.hadoop.mapred.TaskAttemptListenerImpl: Progress of TaskAttempt "
               "attempt_1445144423722_0020_m_%06d_0 is : %.7f",
               static_cast<int>(r_.Range(0, 29)), static_cast<int>(r_.Range(0, 99)), r_.Uniform());
    }
  }

  void Apache(std::string& o, const std::string& ip) {
    Append(o, "[%s] ", c_.Ctime().c_str());
    const double x = ip.empty() ? r_.Uniform() : 0.8;  // a needle: the line naming it
    if (x < 0.4) {
      Append(o, "[notice] jk2_init() Found child %d in scoreboard slot %d",
             static_cast<int>(r_.Range(1000, 32000)), static_cast<int>(r_.Range(5, 12)));
    } else if (x < 0.7) {
      o += "[notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties";
    } else if (x < 0.9) {
      Append(o, "[error] [client %s] Directory index forbidden by rule: /var/www/html/",
             Or(ip, p_.Internet(r_)).c_str());
    } else {
      Append(o, "[error] mod_jk child workerEnv in error state %d",
             static_cast<int>(r_.Range(6, 9)));
    }
  }

  void Openssh(std::string& o, const std::string& ip) {
    const int pid = static_cast<int>(r_.Range(1000, 32000));
    const std::string a = Or(ip, p_.Internet(r_));
    Append(o, "%s LabSZ sshd[%d]: ", c_.Bsd().c_str(), pid);
    // A needle record always names its address (the last template names none).
    switch (ip.empty() ? r_.Skewed(std::vector<int>{0, 1, 2, 3, 4, 5}) : 2) {
      case 0:
        Append(o, "Invalid user %s from %s", r_.Skewed(p_.bad_users).c_str(), a.c_str());
        break;
      case 1:
        Append(o,
               "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
               "rhost=%s",
               a.c_str());
        break;
      case 2:
        Append(o, "Failed password for invalid user %s from %s port %d ssh2",
               r_.Skewed(p_.bad_users).c_str(), a.c_str(), static_cast<int>(r_.Range(1024, 65535)));
        break;
      case 3:
        Append(o, "Received disconnect from %s: 11: Bye Bye [preauth]", a.c_str());
        break;
      case 4:
        Append(o,
               "reverse mapping checking getaddrinfo for %d-%d-%d-%d.static.example.net [%s] "
               "failed - POSSIBLE BREAK-IN ATTEMPT!",
               static_cast<int>(r_.Bits(8)), static_cast<int>(r_.Bits(8)),
               static_cast<int>(r_.Bits(8)), static_cast<int>(r_.Bits(8)), a.c_str());
        break;
      default:
        o += "pam_unix(sshd:auth): check pass; user unknown";
    }
  }

  void Linux(std::string& o, const std::string& ip) {
    const int pid = static_cast<int>(r_.Range(1000, 32000));
    Append(o, "%s combo ", c_.Bsd().c_str());
    switch (r_.Skewed(std::vector<int>{0, 1, 2, 3, 4, 5, 6})) {
      case 0:
        Append(o,
               "sshd(pam_unix)[%d]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh "
               "ruser= rhost=%s  user=root",
               pid, Or(ip, p_.Internet(r_)).c_str());
        break;
      case 1:
        Append(o, "su(pam_unix)[%d]: session opened for user news by (uid=0)", pid);
        break;
      case 2:
        Append(o, "su(pam_unix)[%d]: session closed for user news", pid);
        break;
      case 3:
        o += "logrotate: ALERT exited abnormally with [1]";
        break;
      case 4:
        Append(o, "ftpd[%d]: connection from %s () at %s", pid, Or(ip, p_.Internet(r_)).c_str(),
               c_.Ctime().c_str());
        break;
      case 5:
        o += "kernel: Memory: 125312k/129720k available (1540k kernel code, 2860k reserved, 599k "
             "data, 144k init, 0k highmem)";
        break;
      default:
        o += "cups: cupsd shutdown succeeded";
    }
  }

  Rng r_;
  Population p_;
  Clock c_;
  std::array<int, kSources> cum_{};
  uint64_t proxy_seq_ = 0, dns_seq_ = 0, scan_seq_ = 0;
};

struct Options {
  uint64_t records = 1'000'000;
  double days = 30;
  fs::path work = "/tmp/soc_search_bench";
  int needles = 5;
  size_t batch = 16384;
  int archive_level = 19;
  uint64_t seed = 18;
  bool keep = false;
  bool search_only = false;
  bool compact = false;       // with --search-only: Compact() the kept store first
  size_t search_threads = 0;  // EmbeddedStoreOptions::search_threads (0: the cores, at most 4)
};

// The span: --days ending 2026-11-01T00:00:00Z, as loggen.py's default.
constexpr int64_t kEndMs = 1'793'491'200'000;

struct Span {
  int64_t start_ms, end_ms;
};

// Generates and stores the records: a producer thread builds and normalises batches, the
// calling thread appends them (the store's one writer).
void Generate(const Options& o, soc::LogStore& store, const Span& span) {
  const int64_t span_ms = span.end_ms - span.start_ms;
  const double step = static_cast<double>(span_ms) / o.records;
  std::vector<uint64_t> needle_at;
  for (int k = 0; k < o.needles; ++k)
    needle_at.push_back(
        static_cast<uint64_t>((k + 1) * static_cast<double>(o.records) / (o.needles + 1)));

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<soc::Record>> ready;  // at most 2 batches
  std::vector<std::vector<soc::Record>> spare;
  bool done = false;
  uint64_t raw_bytes = 0;
  std::array<uint64_t, kSources> per_source{};
  std::vector<std::string> needle_lines;
  double producer_cpu = 0;

  std::thread producer([&] {
    Generator g(o.seed);
    Rng jitter(o.seed + 1);
    size_t next_needle = 0;
    for (uint64_t i = 0; i < o.records;) {
      std::vector<soc::Record> batch;
      {
        std::unique_lock lock(mu);
        if (!spare.empty()) {
          batch = std::move(spare.back());
          spare.pop_back();
        }
      }
      const size_t n = static_cast<size_t>(std::min<uint64_t>(o.batch, o.records - i));
      batch.resize(n);
      for (size_t k = 0; k < n; ++k, ++i) {
        soc::Record& r = batch[k];
        int64_t t = span.start_ms + static_cast<int64_t>(i * step) +
                    static_cast<int64_t>(jitter.Bits(10) %
                                         std::max<int64_t>(1, static_cast<int64_t>(step)));
        t = std::min(t, span.end_ms - 1);
        Source s;
        std::string ip;
        if (next_needle < needle_at.size() && needle_at[next_needle] == i) {
          s = kNeedleSources[next_needle % std::size(kNeedleSources)];
          ip = kNeedle;
          ++next_needle;
        } else {
          s = g.Pick();
        }
        g.Make(s, t, ip, &r);
        if (!ip.empty()) {
          if (r.raw.find(kNeedle) == std::string::npos) Die("a needle record without the needle");
          needle_lines.push_back(r.raw);
        }
        r.format = kSourceInfo[s].format;
        r.source = std::string("bench:") + kSourceInfo[s].name;
        r.peer = "127.0.0.1";
        r.received_ms = t + 300;
        r.time_ms = 0;
        r.seq = 0;
        r.truncated = false;
        r.fields() = {};
        soc::Normalize(r);
        raw_bytes += r.raw.size() + 1;
        ++per_source[s];
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return ready.size() < 2; });
      ready.push_back(std::move(batch));
      cv.notify_all();
    }
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    std::lock_guard lock(mu);
    producer_cpu = ts.tv_sec + ts.tv_nsec / 1e9;
    done = true;
    cv.notify_all();
  });

  const double t0 = Now(), c0 = ProcessCpu();
  uint64_t stored = 0;
  double append_cpu = 0, last_report = t0;
  while (true) {
    std::vector<soc::Record> batch;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !ready.empty() || done; });
      if (ready.empty()) break;
      batch = std::move(ready.front());
      ready.pop_front();
      cv.notify_all();
    }
    timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    if (auto s = store.Append(batch, {}); !s) Die("append: " + s.error().ToString());
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    append_cpu += (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    stored += batch.size();
    {
      std::lock_guard lock(mu);
      spare.push_back(std::move(batch));
    }
    if (Now() - last_report > 60) {
      last_report = Now();
      std::printf("  %s records stored, %.0f s\n", Group(stored).c_str(), last_report - t0);
      std::fflush(stdout);
    }
  }
  producer.join();
  if (auto s = store.Flush(); !s) Die("flush: " + s.error().ToString());
  const double wall = Now() - t0;
  std::printf(
      "generated and stored %s records, %.1f GiB raw, in %.0f s wall, %.0f s CPU (producer: "
      "generate + Normalize %.0f s; Append %.0f s)\n",
      Group(stored).c_str(), raw_bytes / 1073741824.0, wall, ProcessCpu() - c0, producer_cpu,
      append_cpu);
  std::printf("share by source:");
  for (int s = 0; s < kSources; ++s)
    std::printf(" %s %.1f %%", kSourceInfo[s].name,
                100.0 * per_source[s] / std::max<uint64_t>(1, stored));
  std::printf("\nneedle %s planted in %zu records:\n", kNeedle, needle_lines.size());
  for (const auto& l : needle_lines) std::printf("  %.160s\n", l.c_str());
  std::fflush(stdout);
}

// The heap as glibc sees it: bytes in use by live allocations, and bytes held from the kernel
// (main arena, thread arenas and mmapped chunks), in MiB: RSS minus "held" is code, stacks and
// the page-cache pages of mapped files; "held" minus "in use" is freed memory not returned.
std::string HeapFigures() {
  const struct mallinfo2 mi = mallinfo2();
  char b[128];
  std::snprintf(b, sizeof b, "heap in use %.0f MiB, held %.0f MiB",
                (mi.uordblks + mi.hblkhd) / 1048576.0, (mi.arena + mi.hblkhd) / 1048576.0);
  return b;
}

void Searches(const soc::EmbeddedStoreOptions& so, const Span& span) {
  ResetPeakRss();
  const double t0 = Now(), c0 = ProcessCpu();
  auto opened = soc::OpenEmbeddedStore(so);
  if (!opened) Die("open: " + opened.error().ToString());
  const double open_wall = Now() - t0, open_cpu = ProcessCpu() - c0;
  std::unique_ptr<soc::LogStore> store = std::move(*opened);
  const soc::StoreStats st = store->Stats();
  std::printf(
      "\n== search over %.0f days: %s records, %s partitions, %s blocks, %.2f GiB stored "
      "(store opened in %.2f s wall, %.2f s CPU; RSS %.0f MiB, %s, block index %.1f MiB) ==\n",
      (span.end_ms - span.start_ms) / double(kDayMs), Group(st.records).c_str(),
      Group(st.partitions).c_str(), Group(st.blocks).c_str(), st.stored_bytes / 1073741824.0,
      open_wall, open_cpu, ProcStatusKb("VmRSS") / 1024.0, HeapFigures().c_str(),
      st.index_memory_bytes / 1048576.0);
  std::printf(
      "| query | run | wall s | CPU s | matched | blocks read / ruled out by token index / total "
      "| records normalised / rejected on raw text |\n|---|---|---|---|---|---|---|\n");
  for (const std::string& text :
       std::vector<std::string>{kNeedle, "source.ip:" + std::string(kNeedle)}) {
    auto q = soc::ParseQuery(text);
    if (!q) Die("query: " + q.error().ToString());
    for (int k = 0; k < 3; ++k) {
      soc::SearchOptions opt;
      opt.since_ms = span.start_ms;
      opt.until_ms = span.end_ms;
      opt.limit = 1000;
      size_t matched = 0;
      const double w0 = Now(), c0 = ProcessCpu();
      auto r = store->Search(*q, opt, [&](const soc::Record&) {
        ++matched;
        return true;
      });
      const double wall = Now() - w0, cpu = ProcessCpu() - c0;
      if (!r) Die("search: " + r.error().ToString());
      std::printf("| `%s` | %d | %.3f | %.3f | %zu | %s / %s / %s | %s / %s |\n", text.c_str(),
                  k + 1, wall, cpu, matched, Group(r->blocks_read).c_str(),
                  Group(r->blocks_ruled_out).c_str(), Group(r->blocks_total).c_str(),
                  Group(r->records_scanned).c_str(), Group(r->records_rejected_raw).c_str());
      std::fflush(stdout);
    }
  }
  std::printf("RSS: peak %.0f MiB over open and searches, now %.0f MiB (%s)\n",
              ProcStatusKb("VmHWM") / 1024.0, ProcStatusKb("VmRSS") / 1024.0,
              HeapFigures().c_str());
}

// Compact()s every day of the span, as socd's maintenance does once a day is over.
void CompactStore(const soc::EmbeddedStoreOptions& so, const Span& span, soc::LogStore& store) {
  const double t0 = Now(), c0 = ProcessCpu();
  ResetPeakRss();
  if (auto s = store.Compact(span.end_ms / kDayMs * kDayMs + kDayMs); !s)
    Die("compact: " + s.error().ToString());
  std::printf(
      "compact (zstd level %d, blocks of %zu records): %.0f s wall, %.0f s CPU, peak RSS "
      "%.0f MiB; store directory %.2f GiB\n",
      so.archive_level, so.archive_block_records, Now() - t0, ProcessCpu() - c0,
      ProcStatusKb("VmHWM") / 1024.0, DirBytes(so.directory) / 1073741824.0);
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--records") {
      o.records = std::stoull(next());
    } else if (a == "--days") {
      o.days = std::stod(next());
    } else if (a == "--work") {
      o.work = next();
    } else if (a == "--needles") {
      o.needles = std::stoi(next());
    } else if (a == "--batch") {
      o.batch = std::stoul(next());
    } else if (a == "--archive-level") {
      o.archive_level = std::stoi(next());
    } else if (a == "--seed") {
      o.seed = std::stoull(next());
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--compact") {
      o.compact = true;
    } else if (a == "--search-only") {
      o.search_only = true;
    } else if (a == "--search-threads") {
      o.search_threads = std::stoul(next());
    } else {
      Die("unknown option " + a +
          " (--records N, --days D, --work DIR, --needles N, --batch N, --archive-level L, "
          "--seed S, --keep, --search-only, --compact, --search-threads N)");
    }
  }
  if (o.records == 0 || o.batch == 0 || o.batch > 1'000'000 || o.days <= 0 || o.needles < 0 ||
      static_cast<uint64_t>(o.needles) > o.records)
    Die("bad sizes");
  const Span span{kEndMs - static_cast<int64_t>(o.days * kDayMs), kEndMs};
  soc::EmbeddedStoreOptions so;
  so.directory = o.work / "store";
  so.normalize = [](soc::Record& r) { soc::Normalize(r); };
  so.sync = false;  // this measures search; ingest with fdatasync is soc_store_bench's figure
  so.archive_level = o.archive_level;
  so.search_threads = o.search_threads;
  if (!o.search_only) {
    fs::remove_all(so.directory);
    auto opened = soc::OpenEmbeddedStore(so);
    if (!opened) Die("store: " + opened.error().ToString());
    std::unique_ptr<soc::LogStore> store = std::move(*opened);
    std::printf("generating %s records over %.0f days into %s (batches of %zu, no fdatasync)\n",
                Group(o.records).c_str(), o.days, so.directory.c_str(), o.batch);
    std::fflush(stdout);
    Generate(o, *store, span);
    CompactStore(so, span, *store);
  } else if (o.compact) {
    auto opened = soc::OpenEmbeddedStore(so);
    if (!opened) Die("store: " + opened.error().ToString());
    CompactStore(so, span, **opened);
  }
  Searches(so, span);
  // A store this run did not make (--search-only) is never removed, --keep or not.
  if (!o.keep && !o.search_only) fs::remove_all(o.work);
  return 0;
}

}  // namespace
}  // namespace seccloud

int main(int argc, char** argv) { return seccloud::Main(argc, argv); }
