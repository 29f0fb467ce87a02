// The fuzzer's bytes as a Sigma rule file: load (YAML, compile, correlations) and match the
// result against a few fixed records through the engine.

#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "soc/detect.h"
#include "soc/sigma.h"

namespace {

std::vector<seccloud::soc::Record> MakeRecords() {
  using seccloud::soc::Record;
  std::vector<Record> out;
  const char* fields[] = {
      R"({"event":{"dataset":"windows.sysmon"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami -all","ProcessId":42}}})",
      R"({"event":{"dataset":"proxy.access","action":"blocked"},"source":{"ip":"10.1.2.3"},"url":{"full":"http://x.example/a?b=c"},"http":{"response":{"status_code":403}}})",
      R"({"event":{"dataset":"system.auth"},"process":{"name":"sshd"},"message":"Failed password for root from 1.2.3.4","source":{"ip":"1.2.3.4"},"user":{"name":"root"}})",
      R"({"event":{"dataset":"t"},"a":"x","n":5,"l":[1,"two",{"three":3}],"o":{"p":null}})",
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<seccloud::soc::Record> records = MakeRecords();
  seccloud::soc::LoadReport report;
  seccloud::soc::RuleSet set = seccloud::soc::LoadRulesFromString(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yml", &report);
  auto engine = seccloud::soc::DetectionEngine::Create(std::move(set));
  if (!engine) return 0;
  std::vector<seccloud::soc::Detection> out;
  for (int round = 0; round < 2; ++round) {
    for (const auto& r : records) (*engine)->Process(r, &out);
  }
  (*engine)->Flush(INT64_MAX / 2, &out);
  // seccloud-absence entities round-trip through their persisted form.
  auto entities = (*engine)->TakeAbsenceChanges(true);
  (*engine)->RestoreAbsence(entities);
  (*engine)->Flush(INT64_MAX / 2 + 1, &out);
  return 0;
}
