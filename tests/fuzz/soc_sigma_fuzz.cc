// The fuzzer's bytes as a Sigma rule file: load (YAML, compile, correlations) and match the
// result against a few fixed records through the engine: records with a built tree, and records
// as ingest hands them over, normalised and still pending (a Windows event and a syslog line on
// their overlays, a JSON line on its tape), made afresh for each input, so that the engine's
// lookups reach FieldView's overlay, its Windows item probe and the tape (review of sigma18).
//
// Runs with libFuzzer's -entropic=0 unless told otherwise (entropic_off.cc): an input
// here covers ~40,000 edges and ~120,000 features, and libFuzzer 14's entropic schedule walks its
// list of rare features (all of them, until each has been seen 255 times) for every feature of
// every run — 90% of the time (perf), 3–16 inputs a second. Without it: ~150 (fuzz29,
// tests/fuzz/README.md).

#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "soc/detect.h"
#include "soc/parse.h"
#include "soc/sigma.h"
#include "soc/sigma_internal.h"

namespace {

std::vector<seccloud::soc::Record> MakeRecords() {
  using seccloud::soc::Record;
  std::vector<Record> out;
  const char* fields[] = {
      R"({"event":{"dataset":"windows.sysmon"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami -all","ProcessId":42,"UtcTime":"2026-11-29 02:10:03.123"}}})",
      R"({"event":{"dataset":"proxy.access","action":"blocked"},"source":{"ip":"10.1.2.3"},"url":{"full":"http://x.example/a?b=c"},"http":{"response":{"status_code":403}}})",
      R"({"event":{"dataset":"system.auth"},"process":{"name":"sshd"},"message":"Failed password for root from 1.2.3.4","source":{"ip":"1.2.3.4"},"user":{"name":"root"}})",
      R"({"event":{"dataset":"t"},"a":"x","n":5,"l":[1,"two",{"three":3}],"o":{"p":null},"d":"2024-12-30T23:59:60.5+09:00","e":"2021-01-03"})",
  };
  uint64_t seq = 0;
  for (const char* f : fields) {
    Record r;
    r.seq = ++seq;
    r.time_ms = 1'780'000'000'000 + static_cast<int64_t>(seq) * 1000;
    r.raw = f;
    r.fields() = boost::json::parse(f).as_object();
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<seccloud::soc::Record> MakePendingRecords() {
  using seccloud::soc::Format;
  using seccloud::soc::Record;
  const std::pair<Format, const char*> lines[] = {
      {Format::kWindowsEvent,
       R"({"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws1.example"},"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami -all","ParentImage":"C:\\Windows\\explorer.exe","UtcTime":"2026-11-29 22:00:00.000"}}})"},
      {Format::kSyslog,
       "<38>Oct  2 00:06:58 srv02 sshd[1323]: Failed password for invalid user root from "
       "197.83.7.1 port 50022 ssh2"},
      {Format::kJson,
       R"({"event":{"dataset":"proxy.access","action":"blocked"},"source":{"ip":"10.1.2.3"},"url":{"full":"http://x.example/a?b=c"}})"},
  };
  std::vector<Record> out;
  uint64_t seq = 100;
  for (const auto& [format, line] : lines) {
    Record r;
    r.seq = ++seq;
    r.format = format;
    r.raw = line;
    r.received_ms = 1'780'000'000'000 + static_cast<int64_t>(seq) * 1000;
    r.source = "fuzz";
    seccloud::soc::Normalize(r);
    if (!r.fields_pending()) {  // the point of these records: keep them pending
      std::fprintf(stderr, "soc_sigma_fuzz: the %s record built its tree\n",
                   std::string(seccloud::soc::FormatName(format)).c_str());
      std::abort();
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<seccloud::soc::Record> records = MakeRecords();
  // The time modifiers' date reader on the input's first line, as a field's value.
  {
    namespace si = seccloud::soc::sigma_internal;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string_view line = text.substr(0, text.find('\n'));
    for (auto part : {si::TimePart::kMinute, si::TimePart::kHour, si::TimePart::kDay,
                      si::TimePart::kWeek, si::TimePart::kMonth, si::TimePart::kYear}) {
      const int v = si::DatePart(line, part);
      if (v < -1 || v > 9999) std::abort();
    }
  }
  seccloud::soc::LoadReport report;
  seccloud::soc::RuleSet set = seccloud::soc::LoadRulesFromString(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yml", &report);
  // A small cap: the 14 events below go past it, into the metric types' aggregated buckets.
  seccloud::soc::DetectionEngineOptions options;
  options.correlation.max_events_per_group = 3;
  auto engine = seccloud::soc::DetectionEngine::Create(std::move(set), options);
  if (!engine) return 0;
  std::vector<seccloud::soc::Detection> out;
  const std::vector<seccloud::soc::Record> pending = MakePendingRecords();
  for (int round = 0; round < 2; ++round) {
    for (const auto& r : records) (*engine)->Process(r, &out);
    for (const auto& r : pending) (*engine)->Process(r, &out);
  }
  (*engine)->Flush(INT64_MAX / 2, &out);
  // seccloud-absence entities round-trip through their persisted form.
  auto entities = (*engine)->TakeAbsenceChanges(true);
  (*engine)->RestoreAbsence(entities);
  (*engine)->Flush(INT64_MAX / 2 + 1, &out);
  return 0;
}
