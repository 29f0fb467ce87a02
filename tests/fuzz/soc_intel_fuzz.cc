// R18, R20: fuzzes threat-intelligence feed parsing. The input is one feed file, read in each
// feed format; the set is then matched against a fixed record and against a record whose fields
// hold the input's first line. Checks, besides memory safety: every line is accounted for (an
// indicator, a duplicate, a bad line, skipped, or a comment/blank), URL keys are idempotent, and
// matching never reports an entry of a feed that does not exist.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "soc/intel.h"
#include "soc/record.h"

namespace {

using namespace seccloud::soc;

Record FixedRecord() {
  Record r;
  r.seq = 7;
  r.tenant = "t";
  SetField(r.fields(), "source.ip", "10.0.0.1");
  SetField(r.fields(), "destination.ip", "198.51.100.7");
  SetField(r.fields(), "client.ip", "2001:db8::1");
  SetField(r.fields(), "url.full", "http://a.b.evil.example:80/x/y.exe?q=1#f");
  SetField(r.fields(), "url.original", "/x/y.exe");
  SetField(r.fields(), "url.domain", "a.b.evil.example");
  SetField(r.fields(), "dns.question.name", "www.evil.example.");
  SetField(r.fields(), "tls.client.server_name", "EVIL.example");
  SetField(r.fields(), "file.hash.md5", "44d88612fea8a8f36de82e1278abb02f");
  boost::json::array related{"192.0.2.1", "::ffff:192.0.2.2"};
  SetField(r.fields(), "related.ip", related);
  return r;
}

void Check(const std::shared_ptr<const IntelSet>& set, const Record& record) {
  std::vector<Detection> out;
  MatchRecord(*set, record, &out);
  for (const auto& d : out) {
    if (d.ruleset != "intel" || d.rule_id.rfind("intel:", 0) != 0) std::abort();
    if (FindField(d.context, "threat.indicator.value") == nullptr) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const Record fixed = FixedRecord();

  // URL keys are a fixed point of normalisation.
  std::string key, again;
  if (NormalizeUrlKey(text.substr(0, 4096), &key)) {
    if (!NormalizeUrlKey(key, &again) || again != key) std::abort();
  }

  for (IntelFormat format : {IntelFormat::kSeccloud, IntelFormat::kLokiC2, IntelFormat::kDomainList,
                             IntelFormat::kHosts, IntelFormat::kAdblock}) {
    IntelFeedText feed;
    feed.feed.name = "fuzz";
    feed.feed.format = format;
    feed.text = text;
    IntelLoadReport report;
    auto set = BuildIntel(std::span<const IntelFeedText>(&feed, 1), &report);
    if (!set) std::abort();  // a valid feed name: never a fatal error
    const auto& s = report.feeds.at(0);
    // Every counted item consumed at least one byte of its own.
    if (s.indicators + s.duplicates + s.bad_lines + s.skipped > size + s.lines) std::abort();
    if ((*set)->size() != s.indicators) std::abort();
    if (report.problems.size() > kMaxReportedIntelProblems) std::abort();
    Check(*set, fixed);

    // The input's first line in every field a record may hold it in.
    const std::string_view line = text.substr(0, std::min(text.find('\n'), size_t{512}));
    Record r;
    const boost::json::string_view v(line.data(), line.size());
    for (const char* field : {"source.ip", "destination.domain", "url.full", "url.original",
                              "url.domain", "file.hash.sha256", "dns.question.name"}) {
      SetField(r.fields(), field, boost::json::value(v));
    }
    Check(*set, r);
  }
  return 0;
}
